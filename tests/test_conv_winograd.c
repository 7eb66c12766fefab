/* test_conv_winograd.c - Winograd F(2x2, 3x3) and F(4x4, 3x3)
 * (src/kernels/conv_winograd.c), one image a call and several side by side,
 * against a double-precision direct convolution, both stages' code paths
 * (portable, and AVX2 where the CPU has it), forward weights and din's
 * flipped, transposed ones (given as strides), odd and even planes, channel
 * counts that are not multiples of 4 or 8; only the grid's valid cells are
 * written. Then the direct kernels that use it (forward, fused relu and
 * relu + maxpool, backward din) against the reference backend.
 *
 * Error bounds: max |wino - exact| <= 2e-6 * max |exact| for F(2x2, 3x3)
 * (the transforms multiply by 1/2 and +-1 only; measured ~1e-7..4e-7 on
 * these shapes), 2e-5 for F(4x4, 3x3) (entries up to 8 and 1/24). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_buf.h"
#include "kernels/avx2.h"
#include "kernels/conv_winograd.h"
#include "netrun/kernels.h"

#define WINO_TOL2 2e-6
#define WINO_TOL4 2e-5

/* cin, cout, h, w */
static const int shapes[][4] = {
    { 8, 8, 28, 28 },     /* ex5's first block */
    { 16, 16, 14, 14 },   /* ex5's second */
    { 32, 32, 7, 7 },     /* ex5's third */
    { 8, 16, 14, 14 },    /* ex2's second conv */
    { 5, 7, 9, 11 },      /* odd everything */
    { 13, 3, 6, 17 },     /* wide odd row: two chunks of 8 tiles */
    { 9, 6, 1, 1 },       /* one pixel */
    { 3, 10, 2, 40 },     /* three chunks, one tile row */
    { 1, 1, 5, 4 },
    { 6, 9, 5, 8 },       /* F(2x2): 4 tiles a row, two rows a vector, odd count */
    { 10, 4, 9, 15 },     /* F(4x4): the same */
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* out[o][y][x] = sum w(o, i, ky, kx) in[i][y+ky-1][x+kx-1] in double,
 * w(o, i, ky, kx) = w[o*so + i*si + ky*sy + kx*sx]. */
static void exact_conv(int cin, int cout, int h, int wd, const float *in, const float *w,
                       ptrdiff_t so, ptrdiff_t si, ptrdiff_t sy, ptrdiff_t sx, double *out)
{
    for (int o = 0; o < cout; o++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < wd; x++) {
                double s = 0.0;
                for (int i = 0; i < cin; i++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = y + ky - 1, ix = x + kx - 1;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                continue;
                            s += (double)w[o * so + i * si + ky * sy + kx * sx] *
                                 in[((size_t)i * h + iy) * wd + ix];
                        }
                out[((size_t)o * h + y) * wd + x] = s;
            }
}

/* _i = shape * 16 + multi * 8 + tile4 * 4 + isa * 2 + flipped; multi: 3
 * different images side by side in one call (nr_wino_images) instead of 1 */
START_TEST(test_wino_vs_exact)
{
    const int *sh = shapes[_i / 16];
    const int nimg = (_i / 8) % 2 ? 3 : 1;
    const int tile = (_i / 4) % 2 ? 4 : 2;
    const double tol = tile == 2 ? WINO_TOL2 : WINO_TOL4;
    const nr_wino_isa isa = (_i / 2) % 2 ? NR_WINO_AVX2 : NR_WINO_PORTABLE;
    const int flipped = _i % 2;
    if (isa == NR_WINO_AVX2 && !nr_cpu_has_avx2_fma()) {
        fprintf(stderr, "test_wino_vs_exact: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    const int cin = sh[0], cout = sh[1], h = sh[2], w = sh[3];
    nr_rng r;
    nr_rng_seed(&r, 7100 + (uint64_t)_i, 0);
    const size_t nin = (size_t)cin * h * w, nw = (size_t)cin * cout * 9;
    const size_t nex = (size_t)cout * h * w;
    /* the input as the din path sees it: rows ld apart, planes ps apart,
     * the gaps NaN (never read) */
    const size_t ld = (size_t)w + 3, ps = (size_t)(h + 1) * ld;
    float *in = falloc(nin * nimg), *inp = falloc((size_t)cin * ps * nimg), *wt = falloc(nw);
    fill_uniform(&r, in, nin * nimg, -1.0f, 1.0f);
    fill_uniform(&r, wt, nw, -1.0f, 1.0f);
    fill_nan(inp, (size_t)cin * ps * nimg);
    const float *srcs[NR_WINO_MAX_IMAGES];
    for (int b = 0; b < nimg; b++) {
        srcs[b] = inp + (size_t)b * cin * ps;
        for (int i = 0; i < cin; i++)
            for (int y = 0; y < h; y++)
                memcpy(inp + (size_t)b * cin * ps + i * ps + y * ld,
                       in + (size_t)b * nin + ((size_t)i * h + y) * w, (size_t)w * sizeof *in);
    }
    /* forward: w[o][i][ky][kx]; flipped: the din convolution's weights of
     * a conv with c = cout, filters = cin: w'[o][i][ky][kx] = w[i][o][2-ky][2-kx] */
    ptrdiff_t so = (ptrdiff_t)cin * 9, si = 9, sy = 3, sx = 1;
    const float *wbase = wt;
    if (flipped) {
        so = 9, si = (ptrdiff_t)cout * 9, sy = -3, sx = -1;
        wbase = wt + 8;
    }
    double *exact = malloc(nex * nimg * sizeof *exact);
    ck_assert_ptr_nonnull(exact);
    for (int b = 0; b < nimg; b++)
        exact_conv(cin, cout, h, w, in + (size_t)b * nin, wbase, so, si, sy, sx,
                   exact + (size_t)b * nex);

    nr_wino_geom g = nr_wino_make_geom(tile, nimg, cin, cout, h, w);
    const int gw = g.w;   /* the images side by side */
    const size_t ldy = (size_t)gw + 1, ldo = (size_t)h * ldy + 5;
    float *ws = falloc(nr_wino_workspace_floats(&g)), *grid = falloc((size_t)cout * ldo);
    fill_nan(ws, nr_wino_workspace_floats(&g));
    memset(grid, 0x7f, (size_t)cout * ldo * sizeof *grid);   /* a sentinel: 0x7f7f7f7f */
    nr_wino_begin(&g, isa, wbase, so, si, sy, sx, ws);
    {   /* the weight transform: the same bits from both isa */
        float *ws2 = falloc(nr_wino_workspace_floats(&g));
        nr_wino_begin(&g, NR_WINO_PORTABLE, wbase, so, si, sy, sx, ws2);
        ck_assert_mem_eq(ws + g.off_u, ws2 + g.off_u,
                         (size_t)g.ne * g.coutp * cin * sizeof *ws);
        free(ws2);
    }
    const size_t last = (size_t)(cout - 1) * ldo + (size_t)(h - 1) * ldy + (size_t)gw;
    for (int rep = 0; rep < 2; rep++) {   /* the workspace is reused per call */
        nr_wino_images(&g, isa, srcs, ld, ps, grid, ldy, ldo, ws);
        double md = 0.0, mx = 1e-30;
        for (int o = 0; o < cout; o++)
            for (size_t q = 0; q < ldo; q++) {
                const float v = grid[o * ldo + q];
                const int y = (int)(q / ldy), xs = (int)(q % ldy);
                if (o * ldo + q >= last) {
                    uint32_t bits;
                    memcpy(&bits, &v, sizeof bits);
                    ck_assert_msg(bits == 0x7f7f7f7fu, "case %d: wrote past the grid at "
                                  "o %d q %zu", _i, o, q);
                    continue;
                }
                const int b = xs / g.sw, x = xs % g.sw;
                if (y >= h || b >= nimg || x >= w)
                    continue;   /* dropped cells, between images: may hold garbage */
                const double e = exact[(size_t)b * nex + ((size_t)o * h + y) * w + x];
                ck_assert_msg(isfinite(v), "case %d: b %d o %d y %d x %d not finite", _i, b, o,
                              y, x);
                if (fabs(v - e) > md)
                    md = fabs(v - e);
                if (fabs(e) > mx)
                    mx = fabs(e);
            }
        ck_assert_msg(md <= tol * mx, "case %d: max err %g of max %g (%g)", _i, md, mx,
                      md / mx);
    }
    free(in); free(inp); free(wt); free(exact); free(ws); free(grid);
}
END_TEST

/* n, c, filters, h, w: shapes the direct kernels hand to Winograd (the
 * forward, din or both: nr_wino_tile), batch 1 and 3, odd and even planes,
 * channel counts not multiples of 4 or 8 */
static const int direct_shapes[][5] = {
    { 1, 8, 8, 28, 28 },     /* F(4x4) both ways */
    { 3, 9, 10, 5, 27 },     /* F(4x4), odd planes */
    { 2, 12, 12, 9, 26 },    /* F(4x4), even width, odd height */
    { 3, 9, 10, 11, 13 },    /* F(2x2) forward; din direct (10 -> 9) */
    { 3, 16, 12, 6, 10 },    /* din F(2x2) (12 -> 16); forward direct */
    { 9, 32, 32, 7, 7 },     /* F(4x4), 4 images side by side, both ways; din's dW
                                chunks of 4, 4 and 1 (a short group repeats its last) */
    { 2, 13, 8, 14, 14 },    /* din F(2x2) */
    { 3, 16, 16, 14, 14 },   /* F(4x4) on 14x14 (4 tiles a row, two rows a vector) */
    { 5, 16, 32, 7, 7 },     /* F(4x4) side by side: forward 16 -> 32, din 32 -> 16 */
    { 2, 17, 20, 5, 6 },     /* side by side, odd: forward and din */
};
#define N_DIRECT ((int)(sizeof direct_shapes / sizeof direct_shapes[0]))

/* The direct kernels with Winograd inside (forward, + relu, + relu +
 * maxpool, backward din) against the reference backend. */
START_TEST(test_direct_with_wino_vs_ref)
{
    const int *sh = direct_shapes[_i];
    nr_conv2d_dims d = { .n = sh[0], .c = sh[1], .filters = sh[2], .h = sh[3], .w = sh[4],
                         .size = 3, .stride = 1, .pad = 1 };
    if (!nr_conv2d_direct_applies(&d)) {
        fprintf(stderr, "test_direct_with_wino_vs_ref: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    if (!nr_wino_tile(d.c, d.filters, d.h, d.w) && !nr_wino_tile(d.filters, d.c, d.h, d.w))
        fprintf(stderr, "test_direct_with_wino_vs_ref: shape %d: Winograd chosen for neither "
                "the forward nor din\n", _i);
    nr_rng r;
    nr_rng_seed(&r, 7300 + (uint64_t)_i, 0);
    const size_t nin = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.filters * d.c * 9;
    const size_t nout = (size_t)d.n * d.filters * d.h * d.w, nf = (size_t)d.filters;
    float *in = falloc(nin), *w = falloc(nw), *b = falloc(nf);
    float *o1 = falloc(nout), *o2 = falloc(nout), *dout = falloc(nout);
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, b, nf, -1.0f, 1.0f);
    fill_uniform(&r, dout, nout, -1.0f, 1.0f);
    const size_t nws = nr_conv2d_direct_workspace_floats(&d);
    float *ws = falloc(nws);
    fill_nan(ws, nws);

    nr_ref_conv2d_forward(&d, in, w, b, o2, NULL);
    nr_conv2d_forward_direct(&d, in, w, b, o1, ws);
    ck_assert_msg(rel_err(o1, o2, nout) < 1e-5, "forward: shape %d rel err %g", _i,
                  rel_err(o1, o2, nout));
    float *ref_relu = falloc(nout);
    nr_relu_forward(nout, o2, ref_relu);
    nr_conv2d_relu_forward_direct(&d, in, w, b, o1, ws);
    ck_assert_msg(rel_err(o1, ref_relu, nout) < 1e-5, "relu forward: shape %d rel err %g", _i,
                  rel_err(o1, ref_relu, nout));
    if (d.h % 2 == 0 && d.w % 2 == 0) {
        nr_pool2d_dims pd = { d.n, d.filters, d.h, d.w, 2, 2 };
        float *p1 = falloc(nout / 4), *p2 = falloc(nout / 4);
        int32_t *a1 = malloc(nout / 4 * sizeof *a1), *a2 = malloc(nout / 4 * sizeof *a2);
        ck_assert_ptr_nonnull(a1);
        ck_assert_ptr_nonnull(a2);
        nr_maxpool_forward(&pd, ref_relu, p2, a2);
        nr_conv2d_relu_maxpool_forward_direct(&d, in, w, b, p1, a1, ws);
        ck_assert_msg(rel_err(p1, p2, nout / 4) < 1e-5, "relu maxpool: shape %d rel err %g",
                      _i, rel_err(p1, p2, nout / 4));
        free(p1); free(p2); free(a1); free(a2);
    }

    /* backward: the dense gradient keeps din on the dense (Winograd) path */
    acc_buf di1 = acc_new(&r, nin), dw1 = acc_new(&r, nw), db1 = acc_new(&r, nf);
    float *di2 = fdup(di1.g, nin), *dw2 = fdup(dw1.g, nw), *db2 = fdup(db1.g, nf);
    nr_conv2d_backward_direct(&d, in, w, dout, di1.g, dw1.g, db1.g, ws);
    nr_ref_conv2d_backward(&d, in, w, dout, di2, dw2, db2, NULL);
    ck_assert_msg(rel_err(di1.g, di2, nin) < 1e-5, "din: shape %d rel err %g", _i,
                  rel_err(di1.g, di2, nin));
    ck_assert_msg(rel_err(dw1.g, dw2, nw) < 1e-5, "dweight: shape %d rel err %g", _i,
                  rel_err(dw1.g, dw2, nw));
    /* deterministic: the same bits again */
    float *di3 = fdup(di1.prior, nin), *dw3 = fdup(dw1.prior, nw);
    nr_conv2d_backward_direct(&d, in, w, dout, di3, dw3, NULL, ws);
    ck_assert_mem_eq(di1.g, di3, nin * sizeof(float));
    acc_free(&di1); acc_free(&dw1); acc_free(&db1);
    free(di2); free(dw2); free(db2); free(di3); free(dw3);
    free(in); free(w); free(b); free(o1); free(o2); free(dout); free(ws); free(ref_relu);
}
END_TEST

static Suite *conv_winograd_suite(void)
{
    Suite *s = suite_create("conv_winograd");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_wino_vs_exact, 0, N_SHAPES * 16);
    tcase_add_loop_test(tc, test_direct_with_wino_vs_ref, 0, N_DIRECT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conv_winograd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
