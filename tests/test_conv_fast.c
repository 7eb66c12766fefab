/* test_conv_fast.c - the sparse convolution backward (src/kernels/conv_sparse.c)
 * against the plain-loop reference, for every gradient source (plain dconv,
 * through each activation, through 2x2 max pooling before or after it),
 * densities from all zeros to all nonzeros, channel counts that are and are
 * not multiples of 8, kernel sizes 1, 3 and 5, odd planes; the choice
 * between the sparse and the dense paths; and the fused epilogues of the
 * direct convolution (conv_epilogue.c) against the separate fast kernels
 * (bit for bit) and the reference backend; and the direct path's dW kernels
 * (conv_dw.c) for each ISA the CPU runs against a double-precision loop,
 * the ISAs bit-identical. Skipped (with a note) on CPUs without AVX2/FMA. */
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

/* Every activation, without pooling and with it in both orders. */
static const nr_conv_epilogue epilogues[] = {
    { NR_ACT_NONE, 0.0f, 0, 0 },       { NR_ACT_RELU, 0.0f, 0, 0 },
    { NR_ACT_RELU, 0.0f, 1, 0 },       { NR_ACT_RELU, 0.0f, 1, 1 },
    { NR_ACT_NONE, 0.0f, 1, 0 },       { NR_ACT_TANH, 0.0f, 0, 0 },
    { NR_ACT_TANH, 0.0f, 1, 0 },       { NR_ACT_TANH, 0.0f, 1, 1 },
    { NR_ACT_SIGMOID, 0.0f, 0, 0 },    { NR_ACT_SIGMOID, 0.0f, 1, 0 },
    { NR_ACT_SIGMOID, 0.0f, 1, 1 },    { NR_ACT_LEAKY_RELU, 0.1f, 0, 0 },
    { NR_ACT_LEAKY_RELU, 0.1f, 1, 0 }, { NR_ACT_LEAKY_RELU, 0.1f, 1, 1 },
};
#define N_EPI ((int)(sizeof epilogues / sizeof epilogues[0]))

/* The activation as the separate fast layers compute it (ref: the
 * reference backend's: libm tanh and sigmoid). out == in allowed. */
static void act_forward(const nr_conv_epilogue *e, size_t n, const float *in, float *out,
                        int ref)
{
    switch (e->act) {
    case NR_ACT_NONE: memmove(out, in, n * sizeof *out); break;
    case NR_ACT_RELU: nr_relu_forward(n, in, out); break;
    case NR_ACT_LEAKY_RELU: nr_leaky_relu_forward(n, e->slope, in, out); break;
    case NR_ACT_TANH: (ref ? nr_tanh_forward : nr_tanh_forward_fast)(n, in, out); break;
    case NR_ACT_SIGMOID: (ref ? nr_sigmoid_forward : nr_sigmoid_forward_fast)(n, in, out); break;
    }
}

/* din = the activation layer's backward into a zeroed buffer. */
static void act_backward(const nr_conv_epilogue *e, size_t n, const float *out, const float *dout,
                         float *din)
{
    memset(din, 0, n * sizeof *din);
    switch (e->act) {
    case NR_ACT_NONE: memcpy(din, dout, n * sizeof *din); break;
    case NR_ACT_RELU: nr_relu_backward(n, out, dout, din); break;
    case NR_ACT_LEAKY_RELU: nr_leaky_relu_backward(n, e->slope, out, dout, din); break;
    case NR_ACT_TANH: nr_tanh_backward(n, out, dout, din); break;
    case NR_ACT_SIGMOID: nr_sigmoid_backward(n, out, dout, din); break;
    }
}

/* The separate layers after a convolution whose output is conv [d]:
 * out (the last layer's output: [n, f, h, w], or pooled [n, f, h/2, w/2])
 * and argmax; act [n, f, h, w] scratch (the activation's output when it
 * comes first). ref: the reference backend's kernels. */
static void separate_forward(const nr_conv_epilogue *e, const nr_conv2d_dims *d, const float *conv,
                             float *act, float *out, int32_t *argmax, int ref)
{
    const size_t n = (size_t)d->n * d->filters * d->h * d->w;
    nr_pool2d_dims pd = { d->n, d->filters, d->h, d->w, 2, 2 };
    if (!e->pool) {
        act_forward(e, n, conv, out, ref);
    } else if (e->pool_first) {
        (ref ? nr_ref_maxpool_forward : nr_maxpool_forward)(&pd, conv, out, argmax);
        act_forward(e, n / 4, out, out, ref);
    } else {
        act_forward(e, n, conv, act, ref);
        (ref ? nr_ref_maxpool_forward : nr_maxpool_forward)(&pd, act, out, argmax);
    }
}

/* The gradient at the convolution's output the separate layers leave,
 * from separate_forward's out, act, argmax and dout (out's gradient);
 * tmp: scratch of the size of dconv. */
static void separate_backward(const nr_conv_epilogue *e, const nr_conv2d_dims *d, const float *act,
                              const float *out, const int32_t *argmax, const float *dout,
                              float *tmp, float *dconv)
{
    const size_t n = (size_t)d->n * d->filters * d->h * d->w;
    nr_pool2d_dims pd = { d->n, d->filters, d->h, d->w, 2, 2 };
    if (!e->pool) {
        act_backward(e, n, out, dout, dconv);
    } else if (e->pool_first) {
        act_backward(e, n / 4, out, dout, tmp);
        nr_maxpool_backward_set(&pd, tmp, argmax, dconv);
    } else {
        nr_maxpool_backward_set(&pd, dout, argmax, tmp);
        act_backward(e, n, act, tmp, dconv);
    }
}

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
    const nr_conv_epilogue *epi = &epilogues[_i / (N_SHAPES * N_ZERO)];
    nr_conv2d_dims d = dims_of(shapes[shape]);
    if (!nr_conv2d_direct_applies(&d)) {
        fprintf(stderr, "test_sparse_backward_vs_ref: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    if (epi->pool && (d.h % 2 || d.w % 2))
        return;   /* the fused pooling takes even planes only */
    nr_rng r;
    nr_rng_seed(&r, 4400 + (uint64_t)_i, 0);
    const size_t nin = in_count(&d), nw = w_count(&d), nout = out_count(&d);
    const size_t npool = nout / 4, nsrc = epi->pool ? npool : nout;
    float *in = falloc(nin), *w = falloc(nw), *conv = falloc(nout), *dconv = falloc(nout);
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, conv, nout, -1.0f, 1.0f);   /* stands for the conv output */

    /* the gradient source and the dconv the separate layers would make */
    float *act = falloc(nout), *dsrc = falloc(nsrc), *out = falloc(nsrc), *tmp = falloc(nout);
    int32_t *argmax = malloc((npool ? npool : 1) * sizeof *argmax);
    ck_assert_ptr_nonnull(argmax);
    separate_forward(epi, &d, conv, act, out, argmax, 0);
    fill_uniform(&r, dsrc, nsrc, -1.0f, 1.0f);
    sprinkle_zeros(&r, dsrc, nsrc, zero_shares[zi]);
    separate_backward(epi, &d, act, out, argmax, dsrc, tmp, dconv);
    nr_conv_grad_source src = { .epi = *epi, .out = out, .argmax = argmax };
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
                      _i / (N_SHAPES * N_ZERO), rel_err(dw1.g, dw2, nw));
        ck_assert_msg(rel_err(di1.g, di2, nin) < 1e-5, "dinput: shape %d epi %d: rel err %g",
                      shape, _i / (N_SHAPES * N_ZERO), rel_err(di1.g, di2, nin));
        ck_assert_msg(rel_err(db1.g, db2, (size_t)d.filters) < 1e-5,
                      "dbias: shape %d epi %d: rel err %g", shape, _i / (N_SHAPES * N_ZERO),
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
    free(out); free(tmp); free(argmax);
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
        nr_conv_grad_source src = { .epi = { .act = NR_ACT_NONE }, .dout = dout };
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
    nr_conv_grad_source from_pool = { .epi = { .act = NR_ACT_RELU, .pool = 1 }, .dout = dpooled,
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

/* n, c, filters, h, w, size for the fused epilogues: ex2's first layer
 * (28 wide: the 8-lane pooling), batch 1 and 3, odd channel counts, a
 * plane 18 wide (8-lane pooling with an overlapping last group), odd
 * planes (no pooling), 5x5 and 1x1. */
static const int fused_shapes[][6] = {
    { 1, 1, 8, 28, 28, 3 }, { 3, 3, 5, 14, 14, 3 }, { 3, 5, 7, 6, 10, 3 },
    { 1, 3, 3, 7, 9, 3 },   { 3, 2, 3, 8, 18, 5 },  { 1, 4, 3, 4, 4, 1 },
};
#define N_FUSED_SHAPES ((int)(sizeof fused_shapes / sizeof fused_shapes[0]))

/* One case: _i = (shape, epilogue). The fused forward and backward give
 * the bits of the separate fast kernels (the direct convolution, then the
 * layers in the spec's order; dbias of a pooling form within rounding: its
 * terms are summed in another order), and agree with the reference
 * backend (libm tanh/sigmoid, plain loops) within rounding. */
START_TEST(test_fused_epilogues)
{
    const int shape = _i % N_FUSED_SHAPES;
    const nr_conv_epilogue *epi = &epilogues[_i / N_FUSED_SHAPES];
    nr_conv2d_dims d = dims_of(fused_shapes[shape]);
    if (!nr_conv2d_direct_applies(&d)) {
        fprintf(stderr, "test_fused_epilogues: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    if (epi->pool && (d.h % 2 || d.w % 2))
        return;
    nr_rng r;
    nr_rng_seed(&r, 4700 + (uint64_t)_i, 0);
    const size_t nin = in_count(&d), nw = w_count(&d), nout = out_count(&d);
    const size_t nres = epi->pool ? nout / 4 : nout, F = (size_t)d.filters;
    float *in = falloc(nin), *w = falloc(nw), *b = falloc(F);
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, b, F, -0.5f, 0.5f);
    const float *bias = shape % 2 ? NULL : b;   /* with and without bias */
    float *conv = falloc(nout), *act = falloc(nout), *tmp = falloc(nout), *dconv = falloc(nout);
    float *out1 = falloc(nres), *out2 = falloc(nres), *out3 = falloc(nres), *dout = falloc(nres);
    int32_t *am1 = calloc(nres, sizeof *am1), *am2 = calloc(nres, sizeof *am2);
    int32_t *am3 = calloc(nres, sizeof *am3);
    ck_assert(am1 && am2 && am3);
    const size_t nws = nr_conv2d_direct_workspace_floats(&d);
    float *ws = falloc(nws);

    /* forward: fused = separate fast kernels, bit for bit */
    fill_nan(ws, nws);
    nr_conv2d_forward_direct(&d, in, w, bias, conv, ws);
    separate_forward(epi, &d, conv, act, out1, am1, 0);
    fill_nan(ws, nws);
    nr_conv2d_fused_forward_direct(&d, epi, in, w, bias, out2, epi->pool ? am2 : NULL, ws);
    ck_assert_msg(memcmp(out1, out2, nres * sizeof *out1) == 0,
                  "forward: shape %d epilogue %d: fused != separate", shape, _i / N_FUSED_SHAPES);
    /* the same argmax; relu after the pooling runs as relu before it (they
     * commute): windows whose maximum is <= 0 may then name another of
     * their zeros, where the gradient is 0 either way */
    for (size_t j = 0; epi->pool && j < nres; j++)
        ck_assert_msg(am1[j] == am2[j] || (epi->act == NR_ACT_RELU && !(out1[j] > 0.0f)),
                      "argmax %zu: shape %d epilogue %d: %d vs %d", j, shape,
                      _i / N_FUSED_SHAPES, am1[j], am2[j]);
    /* ... and the reference backend within rounding */
    nr_ref_conv2d_forward(&d, in, w, bias, conv, NULL);
    separate_forward(epi, &d, conv, act, out3, am3, 1);
    ck_assert_msg(rel_err(out2, out3, nres) < 1e-5, "forward vs ref: shape %d epilogue %d: %g",
                  shape, _i / N_FUSED_SHAPES, rel_err(out2, out3, nres));

    /* backward: fused = the direct backward of the separate layers' dconv */
    fill_uniform(&r, dout, nres, -1.0f, 1.0f);
    sprinkle_zeros(&r, dout, nres, 0.3);
    nr_conv2d_forward_direct(&d, in, w, bias, conv, ws);
    separate_forward(epi, &d, conv, act, out1, am1, 0);
    separate_backward(epi, &d, act, out1, am1, dout, tmp, dconv);
    acc_buf di1 = acc_new(&r, nin), dw1 = acc_new(&r, nw), db1 = acc_new(&r, F);
    float *di2 = fdup(di1.g, nin), *dw2 = fdup(dw1.g, nw), *db2 = fdup(db1.g, F);
    float *di3 = fdup(di1.g, nin), *dw3 = fdup(dw1.g, nw), *db3 = fdup(db1.g, F);
    nr_conv2d_backward_direct(&d, in, w, dconv, di1.g, dw1.g, db1.g, ws);
    fill_nan(ws, nws);
    nr_conv2d_fused_backward_direct(&d, epi, in, w, out2, epi->pool ? am2 : NULL, dout, di2, dw2,
                                    db2, ws);
    ck_assert_msg(memcmp(di1.g, di2, nin * sizeof *di2) == 0, "din: shape %d epilogue %d", shape,
                  _i / N_FUSED_SHAPES);
    ck_assert_msg(memcmp(dw1.g, dw2, nw * sizeof *dw2) == 0, "dweight: shape %d epilogue %d",
                  shape, _i / N_FUSED_SHAPES);
    if (epi->pool)
        ck_assert_msg(rel_err(db1.g, db2, F) < 1e-6, "dbias: %g", rel_err(db1.g, db2, F));
    else
        ck_assert_mem_eq(db1.g, db2, F * sizeof *db2);
    /* ... and the reference backend's backward of its own forward */
    separate_backward(epi, &d, act, out3, am3, dout, tmp, dconv);
    nr_ref_conv2d_backward(&d, in, w, dconv, di3, dw3, db3, NULL);
    ck_assert_msg(rel_err(di2, di3, nin) < 1e-4, "din vs ref: %g", rel_err(di2, di3, nin));
    ck_assert_msg(rel_err(dw2, dw3, nw) < 1e-4, "dweight vs ref: %g", rel_err(dw2, dw3, nw));
    ck_assert_msg(rel_err(db2, db3, F) < 1e-4, "dbias vs ref: %g", rel_err(db2, db3, F));
    acc_free(&di1); acc_free(&dw1); acc_free(&db1);
    free(di2); free(dw2); free(db2); free(di3); free(dw3); free(db3);
    free(in); free(w); free(b); free(conv); free(act); free(tmp); free(dconv);
    free(out1); free(out2); free(out3); free(dout); free(am1); free(am2); free(am3); free(ws);
}
END_TEST

static Suite *conv_fast_suite(void)
{
    Suite *s = suite_create("conv_fast");
    TCase *tc = tcase_create("sparse");
    tcase_add_loop_test(tc, test_sparse_backward_vs_ref, 0, N_SHAPES * N_ZERO * N_EPI);
    tcase_add_test(tc, test_sparse_path_choice);
    tcase_add_loop_test(tc, test_fused_epilogues, 0, N_FUSED_SHAPES * N_EPI);
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
