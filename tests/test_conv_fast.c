/* test_conv_fast.c - the sparse convolution backward (src/kernels/conv_sparse.c)
 * against the plain-loop reference, for every gradient source (plain dconv,
 * through ReLU, through ReLU + 2x2 max pooling), densities from all zeros
 * to all nonzeros, channel counts that are and are not multiples of 8,
 * kernel sizes 1, 3 and 5, odd planes; the choice between the sparse
 * and the dense paths; and the direct path's dW kernels (conv_dw.c) for
 * each ISA the CPU runs against a double-precision loop, the ISAs
 * bit-identical. Skipped (with a note) on CPUs without AVX2/FMA. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_buf.h"
#include "kernels/conv_direct.h"
#include "kernels/conv_dw.h"
#include "kernels/conv_sparse.h"
#include "kernels/conv_winograd.h"
#include "netrun/kernels.h"

/* n, c, filters, h, w, size */
static const int shapes[][6] = {
    { 3, 8, 16, 14, 14, 3 },   /* ex2's second convolution */
    { 2, 16, 32, 7, 7, 3 },    /* ex2's third */
    { 2, 5, 7, 6, 10, 3 },     /* channels padded to 8 */
    { 2, 8, 4, 5, 9, 5 },      /* 5x5, odd plane */
    { 2, 16, 8, 4, 4, 1 },     /* 1x1 */
    { 1, 24, 3, 3, 5, 3 },     /* 27 vectors per filter: three chunks */
    { 2, 1, 3, 8, 8, 3 },      /* one channel */
    { 1, 8, 1, 1, 1, 3 },      /* one pixel */
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))
static const double zero_shares[] = { 0.0, 0.5, 0.9, 1.0 };
#define N_ZERO ((int)(sizeof zero_shares / sizeof zero_shares[0]))

static nr_conv2d_dims dims_of(const int *sh)
{
    nr_conv2d_dims d = { .n = sh[0], .c = sh[1], .filters = sh[2], .h = sh[3], .w = sh[4],
                         .size = sh[5], .stride = 1, .pad = (sh[5] - 1) / 2 };
    return d;
}

static size_t in_count(const nr_conv2d_dims *d) { return (size_t)d->n * d->c * d->h * d->w; }
static size_t w_count(const nr_conv2d_dims *d)
{
    return (size_t)d->filters * d->c * d->size * d->size;
}
static size_t out_count(const nr_conv2d_dims *d)
{
    return (size_t)d->n * d->filters * d->h * d->w;
}

/* x[i] = 0 with probability `zeros`. */
static void sprinkle_zeros(nr_rng *r, float *x, size_t n, double zeros)
{
    for (size_t i = 0; i < n; i++)
        if (nr_rng_uniform(r) < zeros)
            x[i] = 0.0f;
}

/* One case: _i = (shape, zero share, gradient source). */
START_TEST(test_sparse_backward_vs_ref)
{
    const int shape = _i % N_SHAPES, zi = (_i / N_SHAPES) % N_ZERO;
    const nr_conv_epilogue epi = (nr_conv_epilogue)(_i / (N_SHAPES * N_ZERO));
    nr_conv2d_dims d = dims_of(shapes[shape]);
    if (!nr_conv2d_direct_applies(&d)) {
        fprintf(stderr, "test_sparse_backward_vs_ref: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    if (epi == NR_EPI_RELU_MAXPOOL && (d.h % 2 || d.w % 2))
        return;   /* the fused pooling takes even planes only */
    nr_rng r;
    nr_rng_seed(&r, 4400 + (uint64_t)_i, 0);
    const size_t nin = in_count(&d), nw = w_count(&d), nout = out_count(&d);
    const size_t npool = nout / 4;
    float *in = falloc(nin), *w = falloc(nw), *conv = falloc(nout), *dconv = falloc(nout);
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, conv, nout, -1.0f, 1.0f);   /* stands for the conv output */

    /* the gradient source and the dconv the separate layers would make */
    nr_conv_grad_source src = { .epi = epi };
    float *act = falloc(nout), *dsrc = falloc(epi == NR_EPI_RELU_MAXPOOL ? npool : nout);
    float *pooled = falloc(npool), *dact = falloc(nout);
    int32_t *argmax = malloc((npool ? npool : 1) * sizeof *argmax);
    ck_assert_ptr_nonnull(argmax);
    nr_relu_forward(nout, conv, act);
    if (epi == NR_EPI_RELU_MAXPOOL) {
        nr_pool2d_dims pd = { d.n, d.filters, d.h, d.w, 2, 2 };
        nr_maxpool_forward(&pd, act, pooled, argmax);
        fill_uniform(&r, dsrc, npool, -1.0f, 1.0f);
        sprinkle_zeros(&r, dsrc, npool, zero_shares[zi]);
        nr_maxpool_backward_set(&pd, dsrc, argmax, dact);
        nr_relu_backward_set(nout, act, dact, dconv);
        src.out = pooled;
        src.argmax = argmax;
    } else {
        fill_uniform(&r, dsrc, nout, -1.0f, 1.0f);
        sprinkle_zeros(&r, dsrc, nout, zero_shares[zi]);
        if (epi == NR_EPI_RELU) {
            nr_relu_backward_set(nout, act, dsrc, dconv);
            src.out = act;
        } else {
            memcpy(dconv, dsrc, nout * sizeof *dconv);
        }
    }
    src.dout = dsrc;

    const size_t nws = nr_conv2d_sparse_workspace_floats(&d);
    ck_assert_uint_le(nws, nr_conv2d_direct_workspace_floats(&d));
    float *ws = falloc(nws);
    for (int variant = 0; variant < 2; variant++) {
        /* variant 1: no din, no dbias (the first layer, no bias) */
        const int full = variant == 0;
        acc_buf di1 = acc_new(&r, nin), dw1 = acc_new(&r, nw), db1 = acc_new(&r, (size_t)d.filters);
        float *di2 = fdup(di1.g, nin), *dw2 = fdup(dw1.g, nw), *db2 = fdup(db1.g, (size_t)d.filters);
        fill_nan(ws, nws);
        nr_conv2d_sparse_backward(&d, in, w, &src, full ? di1.g : NULL, dw1.g,
                                  full ? db1.g : NULL, ws);
        nr_ref_conv2d_backward(&d, in, w, dconv, full ? di2 : NULL, dw2, full ? db2 : NULL, NULL);
        ck_assert_msg(rel_err(dw1.g, dw2, nw) < 1e-5,
                      "dweight: shape %d zeros %.1f epi %d: rel err %g", shape, zero_shares[zi],
                      (int)epi, rel_err(dw1.g, dw2, nw));
        ck_assert_msg(rel_err(di1.g, di2, nin) < 1e-5, "dinput: shape %d epi %d: rel err %g",
                      shape, (int)epi, rel_err(di1.g, di2, nin));
        ck_assert_msg(rel_err(db1.g, db2, (size_t)d.filters) < 1e-5,
                      "dbias: shape %d epi %d: rel err %g", shape, (int)epi,
                      rel_err(db1.g, db2, (size_t)d.filters));
        if (!full) {
            ck_assert_mem_eq(di1.g, di1.prior, nin * sizeof(float));
            ck_assert_mem_eq(db1.g, db1.prior, (size_t)d.filters * sizeof(float));
        }
        if (zero_shares[zi] == 1.0) {   /* nothing to add: every gradient as it was */
            ck_assert_mem_eq(dw1.g, dw1.prior, nw * sizeof(float));
            ck_assert_mem_eq(di1.g, di1.prior, nin * sizeof(float));
        }
        /* deterministic */
        float *dw3 = fdup(dw1.prior, nw), *di3 = fdup(di1.prior, nin);
        nr_conv2d_sparse_backward(&d, in, w, &src, full ? di3 : NULL, dw3, NULL, ws);
        ck_assert_mem_eq(dw1.g, dw3, nw * sizeof(float));
        ck_assert_mem_eq(di1.g, di3, nin * sizeof(float));
        acc_free(&di1); acc_free(&dw1); acc_free(&db1);
        free(di2); free(dw2); free(db2); free(dw3); free(di3);
    }
    free(ws); free(in); free(w); free(conv); free(dconv); free(act); free(dsrc);
    free(pooled); free(dact); free(argmax);
}
END_TEST

/* The dense backward kernels hand a sparse enough gradient to the sparse
 * path (same bits as calling it), and keep a dense one. */
START_TEST(test_sparse_path_choice)
{
    nr_conv2d_dims d = dims_of(shapes[0]);   /* 8 -> 16 channels, 14x14 */
    if (!nr_conv2d_direct_applies(&d)) {
        fprintf(stderr, "test_sparse_path_choice: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    nr_rng r;
    nr_rng_seed(&r, 4500, 0);
    const size_t nin = in_count(&d), nw = w_count(&d), nout = out_count(&d);
    float *in = falloc(nin), *w = falloc(nw), *dout = falloc(nout);
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    const size_t nws = nr_conv2d_direct_workspace_floats(&d);
    float *ws = falloc(nws);
    /* all nonzero: dense; 60% zero: dW sparse, din dense; 90% zero: both */
    static const double zeros[3] = { 0.0, 0.6, 0.9 };
    static const int parts[3] = { 0, NR_SPARSE_DW, NR_SPARSE_DW | NR_SPARSE_DIN };
    for (int c = 0; c < 3; c++) {
        fill_uniform(&r, dout, nout, -1.0f, 1.0f);
        sprinkle_zeros(&r, dout, nout, zeros[c]);
        nr_conv_grad_source src = { .epi = NR_EPI_NONE, .dout = dout };
        ck_assert_int_eq(nr_conv2d_sparse_parts(&d, &src), parts[c]);
        acc_buf di1 = acc_new(&r, nin), dw1 = acc_new(&r, nw), db1 = acc_new(&r, (size_t)d.filters);
        float *di2 = fdup(di1.g, nin), *dw2 = fdup(dw1.g, nw), *db2 = fdup(db1.g, (size_t)d.filters);
        float *di3 = fdup(di1.g, nin), *dw3 = fdup(dw1.g, nw);
        nr_conv2d_backward_direct(&d, in, w, dout, di1.g, dw1.g, db1.g, ws);
        nr_ref_conv2d_backward(&d, in, w, dout, di2, dw2, db2, NULL);
        ck_assert_msg(rel_err(dw1.g, dw2, nw) < 1e-5, "rel err %g", rel_err(dw1.g, dw2, nw));
        ck_assert_msg(rel_err(di1.g, di2, nin) < 1e-5, "rel err %g", rel_err(di1.g, di2, nin));
        ck_assert_msg(rel_err(db1.g, db2, (size_t)d.filters) < 1e-5, "rel err %g",
                      rel_err(db1.g, db2, (size_t)d.filters));
        /* dW went sparse exactly when chosen: its sums run in another order
         * there (din's run in the same order on both paths: the same bits,
         * unless the dense din is Winograd's: then within its bound) */
        nr_conv2d_sparse_backward(&d, in, w, &src, di3, dw3, NULL, ws);
        ck_assert_int_eq(memcmp(dw1.g, dw3, nw * sizeof(float)) == 0,
                         (parts[c] & NR_SPARSE_DW) != 0);
        if (!(parts[c] & NR_SPARSE_DIN) && nr_wino_tile(d.filters, d.c, d.h, d.w))
            ck_assert_msg(rel_err(di1.g, di3, nin) < 1e-5, "rel err %g",
                          rel_err(di1.g, di3, nin));
        else
            ck_assert_mem_eq(di1.g, di3, nin * sizeof(float));
        acc_free(&di1); acc_free(&dw1); acc_free(&db1);
        free(di2); free(dw2); free(db2); free(di3); free(dw3);
    }
    /* relu + max pooling leaves at most a quarter: sparse with 8 channels;
     * with 1 channel (padded to 8) the dense path stays */
    nr_conv2d_dims one = dims_of(shapes[6]);
    float *pooled = falloc(nout / 4), *dpooled = falloc(nout / 4);
    fill_uniform(&r, pooled, nout / 4, 0.5f, 1.0f);
    fill_uniform(&r, dpooled, nout / 4, -1.0f, 1.0f);
    nr_conv_grad_source from_pool = { .epi = NR_EPI_RELU_MAXPOOL, .dout = dpooled,
                                      .out = pooled };
    ck_assert_int_eq(nr_conv2d_sparse_parts(&d, &from_pool), NR_SPARSE_DW | NR_SPARSE_DIN);
    ck_assert_int_eq(nr_conv2d_sparse_parts(&one, &from_pool), 0);
    free(pooled); free(dpooled);
    free(in); free(w); free(dout); free(ws);
}
END_TEST

/* nr_conv_dw_grid on made-up grids: count images, M gradient rows (Mp - M
 * zero planes), K taps at scattered offsets, Qp columns; K chosen so that
 * the 6-tap, 3-tap and 1-tap tiles all run. Against a double-precision
 * loop, and every ISA the CPU runs gives the AVX2 kernel's bits. */
static const int dw_cases[][5] = {
    /* count, M, Mp, K, Qp */
    { 1, 5, 8, 9, 56 },      /* 6 + 3 taps; rows 5..7 zero planes */
    { 3, 8, 8, 13, 24 },     /* 6 + 6 + 1 */
    { 2, 3, 4, 7, 8 },       /* 6 + 1, one vector of columns */
    { 3, 16, 16, 144, 56 },  /* ex2's third conv, 7x7 grid */
    { 1, 1, 4, 1, 16 },      /* a single tap */
    { 2, 4, 4, 11, 216 },    /* 6 + 3 + 1 + 1, ex2's 14x14 grid */
};
#define N_DW_CASES ((int)(sizeof dw_cases / sizeof dw_cases[0]))

START_TEST(test_dw_grid_isas)
{
    const int *c = dw_cases[_i];
    const int count = c[0], M = c[1], Mp = c[2], K = c[3], Qp = c[4];
    if (!nr_conv_dw_isa_runs(NR_CONV_DW_AVX2)) {
        fprintf(stderr, "test_dw_grid_isas: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    nr_rng r;
    nr_rng_seed(&r, 4600, (uint64_t)_i);
    const size_t PS = (size_t)Qp + 24;                 /* a gradient plane */
    const size_t XS = (size_t)Qp + 96;                 /* the input region */
    const size_t stride = XS + (size_t)Mp * PS;
    float *buf = falloc((size_t)count * stride);
    fill_uniform(&r, buf, (size_t)count * stride, -1.0f, 1.0f);
    for (int i = 0; i < count; i++)                    /* rows >= M: zero planes */
        memset(buf + (size_t)i * stride + XS + (size_t)M * PS, 0,
               (size_t)(Mp - M) * PS * sizeof(float));
    int32_t *off = malloc((size_t)K * sizeof *off);
    for (int k = 0; k < K; k++)
        off[k] = (int32_t)nr_rng_below(&r, (uint32_t)(XS - (size_t)Qp + 1));
    const size_t nw = (size_t)M * K;
    float *dw0 = falloc(nw);
    fill_uniform(&r, dw0, nw, -1.0f, 1.0f);
    float *want = falloc(nw);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            double sum = dw0[(size_t)m * K + k];
            for (int i = 0; i < count; i++) {
                const float *x = buf + (size_t)i * stride + off[k];
                const float *g = buf + (size_t)i * stride + XS + (size_t)m * PS;
                for (int q = 0; q < Qp; q++)
                    sum += (double)g[q] * x[q];
            }
            want[(size_t)m * K + k] = (float)sum;
        }
    float *first = NULL;
    for (int isa = NR_CONV_DW_AVX2; isa <= NR_CONV_DW_AVX512VL; isa++) {
        if (!nr_conv_dw_isa_runs((nr_conv_dw_isa)isa)) {
            fprintf(stderr, "test_dw_grid_isas: ISA %d not on this CPU, skipped\n", isa);
            continue;
        }
        float *dw = fdup(dw0, nw);
        nr_conv_dw_grid((nr_conv_dw_isa)isa, count, buf, buf + XS, stride, PS, Qp, off, M, Mp, K,
                        dw);
        ck_assert_msg(rel_err(dw, want, nw) < 1e-5, "case %d isa %d: rel err %g", _i, isa,
                      rel_err(dw, want, nw));
        if (first) {
            ck_assert_mem_eq(dw, first, nw * sizeof(float));
            free(dw);
        } else {
            first = dw;
        }
    }
    free(first);
    free(buf); free(off); free(dw0); free(want);
}
END_TEST

static Suite *conv_fast_suite(void)
{
    Suite *s = suite_create("conv_fast");
    TCase *tc = tcase_create("sparse");
    tcase_add_loop_test(tc, test_sparse_backward_vs_ref, 0, N_SHAPES * N_ZERO * 3);
    tcase_add_test(tc, test_sparse_path_choice);
    suite_add_tcase(s, tc);
    TCase *dw = tcase_create("dw_grid");
    tcase_add_loop_test(dw, test_dw_grid_isas, 0, N_DW_CASES);
    suite_add_tcase(s, dw);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conv_fast_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
