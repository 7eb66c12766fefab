/* test_kernels.c - Check tests for netrun/kernels.h.
 *
 * - numeric gradient checks (central differences of L = sum(out * R), or of
 *   the returned loss) for every kernel's input and parameter gradients, in
 *   both backends where there are two; every analytic gradient is computed
 *   into a buffer pre-filled with random values, so "accumulate, never
 *   overwrite" is checked at the same time;
 * - BLAS vs reference agreement on random shapes, outputs pre-filled with
 *   NaN (a forward pass must overwrite every element);
 * - golden values, optimizer steps against hand-computed numbers, batchnorm
 *   statistics, dropout, RNG and init statistics;
 * - a check that the gradient checker itself rejects a wrong gradient.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_buf.h"
#include "netrun/kernels.h"
#include "kernels/batchnorm_isa.h"

/* ------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------ */

/* ---- gradient checker -------------------------------------------------- */

typedef struct gc_problem {
    void (*forward)(void *ctx);    /* recomputes the outputs from the inputs */
    double (*loss)(void *ctx);     /* scalar loss, or NULL: L = sum(out * proj) */
    const float *out;
    const float *proj;
    size_t n_out;
    void *ctx;
} gc_problem;

static double gc_eval(const gc_problem *pb)
{
    pb->forward(pb->ctx);
    if (pb->loss)
        return pb->loss(pb->ctx);
    double s = 0.0;
    for (size_t i = 0; i < pb->n_out; i++)
        s += (double)pb->out[i] * (double)pb->proj[i];
    return s;
}

typedef struct gc_result {
    size_t bad, worst;
    double worst_ratio, analytic, numeric;
} gc_result;

/* Perturbs every x[i] by +-eps and compares the central difference of the
 * loss with analytic[i]: |a - num| <= atol + rtol * max(|a|, |num|). */
static gc_result gc_run(const gc_problem *pb, float *x, const float *analytic,
                        size_t n, float eps, double rtol, double atol)
{
    gc_result res = { 0, 0, 0.0, 0.0, 0.0 };
    for (size_t i = 0; i < n; i++) {
        const float save = x[i];
        const float xp = save + eps, xm = save - eps;
        x[i] = xp;
        const double lp = gc_eval(pb);
        x[i] = xm;
        const double lm = gc_eval(pb);
        x[i] = save;
        const double num = (lp - lm) / ((double)xp - (double)xm);
        const double a = analytic[i];
        const double tol = atol + rtol * fmax(fabs(a), fabs(num));
        const double ratio = fabs(a - num) / tol;
        if (!(ratio <= 1.0))
            res.bad++;
        if (!(ratio <= res.worst_ratio)) {
            res.worst_ratio = ratio;
            res.worst = i;
            res.analytic = a;
            res.numeric = num;
        }
    }
    gc_eval(pb);   /* leave the outputs consistent with the inputs */
    return res;
}

#define GC_RTOL 1e-2
#define GC_ATOL 1e-3

static void gc_check(const gc_problem *pb, float *x, const float *analytic,
                     size_t n, float eps, const char *what)
{
    gc_result r = gc_run(pb, x, analytic, n, eps, GC_RTOL, GC_ATOL);
    ck_assert_msg(r.bad == 0,
                  "%s: %zu of %zu gradient entries disagree; worst [%zu] "
                  "analytic %.6g numeric %.6g",
                  what, r.bad, n, r.worst, r.analytic, r.numeric);
}

/* ------------------------------------------------------------------------
 * RNG
 * ------------------------------------------------------------------------ */

START_TEST(test_rng_deterministic_and_streams)
{
    nr_rng a, b, c, d;
    nr_rng_seed(&a, 42, NR_RNG_STREAM_INIT);
    nr_rng_seed(&b, 42, NR_RNG_STREAM_INIT);
    nr_rng_seed(&c, 42, NR_RNG_STREAM_SHUFFLE);
    nr_rng_seed(&d, 43, NR_RNG_STREAM_INIT);
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t va = nr_rng_u32(&a), vb = nr_rng_u32(&b);
        ck_assert_uint_eq(va, vb);
        same_c += va == nr_rng_u32(&c);
        same_d += va == nr_rng_u32(&d);
    }
    ck_assert_int_le(same_c, 2);
    ck_assert_int_le(same_d, 2);

    /* the state is a plain struct: a copy resumes the same sequence */
    nr_rng snap = a;
    uint32_t first[16];
    for (int i = 0; i < 16; i++)
        first[i] = nr_rng_u32(&a);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(first[i], nr_rng_u32(&snap));

    /* seed 0 / stream 0 is not degenerate */
    nr_rng z;
    nr_rng_seed(&z, 0, 0);
    uint32_t z0 = nr_rng_u32(&z), z1 = nr_rng_u32(&z);
    ck_assert(z0 != z1);
}
END_TEST

/* Jump-ahead lands where that many draws would. */
START_TEST(test_rng_advance)
{
    static const uint64_t jumps[] = { 0, 1, 2, 3, 7, 64, 1000, 12345 };
    for (size_t j = 0; j < sizeof jumps / sizeof jumps[0]; j++) {
        nr_rng a, b;
        nr_rng_seed(&a, 17, NR_RNG_STREAM_DROPOUT + j);
        b = a;
        for (uint64_t i = 0; i < jumps[j]; i++)
            (void)nr_rng_u32(&a);
        nr_rng_advance(&b, jumps[j]);
        ck_assert(a.state == b.state && a.inc == b.inc);
        ck_assert_uint_eq(nr_rng_u32(&a), nr_rng_u32(&b));
    }
    /* a 2^40 jump in two halves equals one jump */
    nr_rng c, d;
    nr_rng_seed(&c, 3, 3);
    d = c;
    nr_rng_advance(&c, UINT64_C(1) << 40);
    nr_rng_advance(&d, UINT64_C(1) << 39);
    nr_rng_advance(&d, UINT64_C(1) << 39);
    ck_assert(c.state == d.state);
}
END_TEST

START_TEST(test_rng_uniform)
{
    nr_rng r;
    nr_rng_seed(&r, 7, 1);
    const int N = 100000;
    double sum = 0.0;
    float lo = 1.0f, hi = 0.0f;
    for (int i = 0; i < N; i++) {
        float u = nr_rng_uniform(&r);
        ck_assert(u >= 0.0f && u < 1.0f);
        sum += u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    ck_assert_double_eq_tol(sum / N, 0.5, 0.01);
    ck_assert_float_lt(lo, 0.001f);
    ck_assert_float_gt(hi, 0.999f);
}
END_TEST

START_TEST(test_rng_below)
{
    nr_rng r;
    nr_rng_seed(&r, 11, 2);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(nr_rng_below(&r, 1), 0);
    const int N = 140000;
    int counts[7] = { 0 };
    for (int i = 0; i < N; i++) {
        uint32_t v = nr_rng_below(&r, 7);
        ck_assert_uint_lt(v, 7);
        counts[v]++;
    }
    for (int j = 0; j < 7; j++)
        ck_assert_int_lt(abs(counts[j] - N / 7), N / 7 / 20);   /* within 5% */

    /* n = 3 * 2^30: u32 % n would make [0, 2^30) twice as likely (1/2 instead
     * of 1/3); an unbiased draw gives ~1/3. */
    const uint32_t big = 3u << 30;
    int below = 0, mod3 = 0;
    const int M = 100000;
    for (int i = 0; i < M; i++) {
        uint32_t v = nr_rng_below(&r, big);
        ck_assert_uint_lt(v, big);
        below += v < (1u << 30);
        mod3 += v % 3 == 0;
    }
    ck_assert_double_eq_tol((double)below / M, 1.0 / 3.0, 0.01);
    /* multiply-shift without the rejection step maps two u32 onto every
     * v = 0 (mod 3) here: P(v % 3 == 0) would be 1/2 instead of 1/3 */
    ck_assert_double_eq_tol((double)mod3 / M, 1.0 / 3.0, 0.01);
}
END_TEST

START_TEST(test_rng_normal)
{
    nr_rng r;
    nr_rng_seed(&r, 3, 9);
    const int N = 100000;
    double s = 0.0, s2 = 0.0;
    int tails = 0;
    for (int i = 0; i < N; i++) {
        float z = nr_rng_normal(&r);
        ck_assert(isfinite(z));
        s += z;
        s2 += (double)z * z;
        tails += fabsf(z) > 1.959964f;
    }
    double mean = s / N, var = s2 / N - mean * mean;
    ck_assert_double_eq_tol(mean, 0.0, 0.02);
    ck_assert_double_eq_tol(var, 1.0, 0.03);
    ck_assert_double_eq_tol((double)tails / N, 0.05, 0.005);
}
END_TEST

START_TEST(test_rng_shuffle)
{
    nr_rng r1, r2;
    nr_rng_seed(&r1, 5, NR_RNG_STREAM_SHUFFLE);
    nr_rng_seed(&r2, 5, NR_RNG_STREAM_SHUFFLE);
    uint32_t a[100], b[100];
    for (uint32_t i = 0; i < 100; i++)
        a[i] = b[i] = i;
    nr_rng_shuffle(&r1, a, 100);
    nr_rng_shuffle(&r2, b, 100);
    ck_assert_mem_eq(a, b, sizeof a);
    int seen[100] = { 0 }, moved = 0;
    for (uint32_t i = 0; i < 100; i++) {
        ck_assert_uint_lt(a[i], 100);
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 80);
}
END_TEST

/* ------------------------------------------------------------------------
 * init
 * ------------------------------------------------------------------------ */

static void moments(const float *w, size_t n, double *mean, double *var, float *maxabs)
{
    double s = 0.0, s2 = 0.0;
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
        if (fabsf(w[i]) > m)
            m = fabsf(w[i]);
    }
    *mean = s / n;
    *var = s2 / n - *mean * *mean;
    *maxabs = m;
}

START_TEST(test_init_variance)
{
    const size_t N = 100000;
    float *w = falloc(N);
    nr_rng r;
    nr_rng_seed(&r, 1, NR_RNG_STREAM_INIT);
    double mean, var;
    float maxabs;
    const int fin = 50, fout = 30;

    nr_init_he_normal(w, N, fin, &r);
    moments(w, N, &mean, &var, &maxabs);
    ck_assert_double_eq_tol(mean, 0.0, 0.005);
    ck_assert_double_eq_tol(var / (2.0 / fin), 1.0, 0.03);

    nr_init_he_uniform(w, N, fin, &r);
    moments(w, N, &mean, &var, &maxabs);
    ck_assert_double_eq_tol(var / (2.0 / fin), 1.0, 0.03);
    ck_assert_float_le(maxabs, (float)sqrt(6.0 / fin));
    ck_assert_float_gt(maxabs, 0.99f * (float)sqrt(6.0 / fin));

    nr_init_glorot_normal(w, N, fin, fout, &r);
    moments(w, N, &mean, &var, &maxabs);
    ck_assert_double_eq_tol(var / (2.0 / (fin + fout)), 1.0, 0.03);

    nr_init_glorot_uniform(w, N, fin, fout, &r);
    moments(w, N, &mean, &var, &maxabs);
    ck_assert_double_eq_tol(var / (2.0 / (fin + fout)), 1.0, 0.03);
    ck_assert_float_le(maxabs, (float)sqrt(6.0 / (fin + fout)));

    /* dispatch = the named function, same stream position */
    float *w2 = falloc(N);
    nr_rng r1, r2;
    nr_rng_seed(&r1, 9, NR_RNG_STREAM_INIT);
    nr_rng_seed(&r2, 9, NR_RNG_STREAM_INIT);
    nr_init_fill(NR_INIT_GLOROT_UNIFORM, w, 1000, fin, fout, &r1);
    nr_init_glorot_uniform(w2, 1000, fin, fout, &r2);
    ck_assert_mem_eq(w, w2, 1000 * sizeof *w);

    nr_fill(w, 10, 1.5f);
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(w[i], 1.5f);
    free(w);
    free(w2);
}
END_TEST

/* ------------------------------------------------------------------------
 * the gradient checker must be able to fail
 * ------------------------------------------------------------------------ */

typedef struct ew_ctx {
    size_t n;
    float slope;
    float *in, *out;
    void (*fwd)(struct ew_ctx *c);
} ew_ctx;

static void ew_forward(void *p)
{
    ew_ctx *c = p;
    c->fwd(c);
}
static void ew_tanh(ew_ctx *c) { nr_tanh_forward(c->n, c->in, c->out); }

START_TEST(test_gradcheck_detects_errors)
{
    nr_rng r;
    nr_rng_seed(&r, 100, 0);
    const size_t n = 20;
    ew_ctx c = { n, 0.0f, falloc(n), falloc(n), ew_tanh };
    float *proj = falloc(n);
    fill_uniform(&r, c.in, n, -2.0f, 2.0f);
    fill_uniform(&r, proj, n, -1.0f, 1.0f);
    nr_tanh_forward(n, c.in, c.out);
    float *din = falloc(n);
    memset(din, 0, n * sizeof *din);
    nr_tanh_backward(n, c.out, proj, din);
    gc_problem pb = { ew_forward, NULL, c.out, proj, n, &c };

    gc_result ok = gc_run(&pb, c.in, din, n, 1e-2f, GC_RTOL, GC_ATOL);
    ck_assert_uint_eq(ok.bad, 0);

    /* a 5% error in one entry, a sign error, and a missing factor */
    din[3] *= 1.05f;
    ck_assert_uint_ge(gc_run(&pb, c.in, din, n, 1e-2f, GC_RTOL, GC_ATOL).bad, 1);
    din[3] /= 1.05f;
    din[7] = -din[7];
    ck_assert_uint_ge(gc_run(&pb, c.in, din, n, 1e-2f, GC_RTOL, GC_ATOL).bad, 1);
    din[7] = -din[7];
    for (size_t i = 0; i < n; i++)
        din[i] *= 0.5f;
    ck_assert_uint_ge(gc_run(&pb, c.in, din, n, 1e-2f, GC_RTOL, GC_ATOL).bad, n / 2);
    free(c.in);
    free(c.out);
    free(proj);
    free(din);
}
END_TEST

/* ------------------------------------------------------------------------
 * convolution
 * ------------------------------------------------------------------------ */

typedef void (*conv_fwd_fn)(const nr_conv2d_dims *, const float *, const float *,
                            const float *, float *, float *);
typedef void (*conv_bwd_fn)(const nr_conv2d_dims *, const float *, const float *,
                            const float *, float *, float *, float *, float *);
typedef struct conv_backend {
    const char *name;
    conv_fwd_fn fwd;
    conv_bwd_fn bwd;
} conv_backend;
static const conv_backend conv_backends[2] = {
    { "blas", nr_conv2d_forward, nr_conv2d_backward },
    { "ref", nr_ref_conv2d_forward, nr_ref_conv2d_backward },
};

/* n, c, h, w, filters, size, stride, pad */
static const nr_conv2d_dims conv_cases[] = {
    { 2, 1, 7, 5, 3, 3, 1, 1 },    /* C=1, 3x3 same padding, non-square */
    { 2, 3, 8, 6, 4, 3, 2, 1 },    /* C=3, stride 2 */
    { 1, 3, 9, 7, 2, 5, 1, 2 },    /* 5x5, pad 2 */
    { 2, 3, 6, 9, 5, 1, 1, 0 },    /* 1x1 pointwise path */
    { 1, 1, 10, 7, 2, 5, 2, 0 },   /* 5x5 stride 2 pad 0 */
    { 2, 2, 5, 5, 3, 1, 2, 1 },    /* 1x1 with stride and padding */
    { 1, 3, 4, 4, 2, 3, 3, 2 },    /* stride 3 leaves input unused */
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof conv_cases[0]))

typedef struct conv_ctx {
    nr_conv2d_dims d;
    const conv_backend *be;
    float *in, *w, *b, *out, *ws;
} conv_ctx;

static void conv_forward_cb(void *p)
{
    conv_ctx *c = p;
    c->be->fwd(&c->d, c->in, c->w, c->b, c->out, c->ws);
}

static size_t conv_in_n(const nr_conv2d_dims *d) { return (size_t)d->n * d->c * d->h * d->w; }
static size_t conv_w_n(const nr_conv2d_dims *d) { return (size_t)d->filters * d->c * d->size * d->size; }
static size_t conv_out_n(const nr_conv2d_dims *d)
{
    return (size_t)d->n * d->filters * nr_conv2d_out_h(d) * nr_conv2d_out_w(d);
}

START_TEST(test_conv_gradcheck)
{
    const nr_conv2d_dims d = conv_cases[_i / 2];
    const conv_backend *be = &conv_backends[_i % 2];
    char what[128];
    nr_rng r;
    nr_rng_seed(&r, 1000 + (uint64_t)_i, 0);
    const size_t nin = conv_in_n(&d), nw = conv_w_n(&d), nout = conv_out_n(&d);
    const size_t nws = nr_conv2d_workspace_floats(&d);
    conv_ctx c = { d, be, falloc(nin), falloc(nw), falloc((size_t)d.filters),
                   falloc(nout), nws ? falloc(nws) : NULL };
    float *proj = falloc(nout);
    fill_uniform(&r, c.in, nin, -1.0f, 1.0f);
    fill_uniform(&r, c.w, nw, -1.0f, 1.0f);
    fill_uniform(&r, c.b, (size_t)d.filters, -1.0f, 1.0f);
    fill_uniform(&r, proj, nout, -1.0f, 1.0f);

    fill_nan(c.out, nout);
    conv_forward_cb(&c);
    acc_buf din = acc_new(&r, nin), dw = acc_new(&r, nw), db = acc_new(&r, (size_t)d.filters);
    be->bwd(&d, c.in, c.w, proj, din.g, dw.g, db.g, c.ws);
    acc_delta(&din);
    acc_delta(&dw);
    acc_delta(&db);

    gc_problem pb = { conv_forward_cb, NULL, c.out, proj, nout, &c };
    snprintf(what, sizeof what, "conv case %d %s dinput", _i / 2, be->name);
    gc_check(&pb, c.in, din.g, nin, 1e-2f, what);
    snprintf(what, sizeof what, "conv case %d %s dweight", _i / 2, be->name);
    gc_check(&pb, c.w, dw.g, nw, 1e-2f, what);
    snprintf(what, sizeof what, "conv case %d %s dbias", _i / 2, be->name);
    gc_check(&pb, c.b, db.g, (size_t)d.filters, 1e-2f, what);

    acc_free(&din);
    acc_free(&dw);
    acc_free(&db);
    free(c.in); free(c.w); free(c.b); free(c.out); free(c.ws); free(proj);
}
END_TEST

START_TEST(test_conv_golden)
{
    /* in = 1..9 as a 3x3 image, w = [[1,2],[3,4]], bias 0.5 */
    const float in[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    const float w[4] = { 1, 2, 3, 4 };
    const float b[1] = { 0.5f };
    for (int be = 0; be < 2; be++) {
        const conv_backend *B = &conv_backends[be];
        nr_conv2d_dims d = { 1, 1, 3, 3, 1, 2, 1, 0 };
        float out[4], ws[16];
        ck_assert_uint_eq(nr_conv2d_workspace_floats(&d), 16);
        B->fwd(&d, in, w, b, out, ws);
        /* 1*1+2*2+3*4+4*5 = 37, 1*2+2*3+3*5+4*6 = 47, 67, 77 */
        const float want[4] = { 37.5f, 47.5f, 67.5f, 77.5f };
        for (int i = 0; i < 4; i++)
            ck_assert_float_eq_tol(out[i], want[i], 1e-5f);

        /* backward with dout = 1 */
        const float ones[4] = { 1, 1, 1, 1 };
        float din[9] = { 0 }, dw[4] = { 0 }, db[1] = { 0 };
        B->bwd(&d, in, w, ones, din, dw, db, ws);
        const float want_dw[4] = { 12, 16, 24, 28 };   /* window sums */
        const float want_din[9] = { 1, 3, 2, 4, 10, 6, 3, 7, 4 };
        for (int i = 0; i < 4; i++)
            ck_assert_float_eq_tol(dw[i], want_dw[i], 1e-5f);
        for (int i = 0; i < 9; i++)
            ck_assert_float_eq_tol(din[i], want_din[i], 1e-5f);
        ck_assert_float_eq_tol(db[0], 4.0f, 1e-6f);

        /* pad 1, stride 2: out 2x2 */
        nr_conv2d_dims d2 = { 1, 1, 3, 3, 1, 2, 2, 1 };
        ck_assert_int_eq(nr_conv2d_out_h(&d2), 2);
        B->fwd(&d2, in, w, b, out, ws);
        /* (0,0): 4*1; (0,1): 3*2+4*3; (1,0): 2*4+4*7; (1,1): 1*5+2*6+3*8+4*9 */
        const float want2[4] = { 4.5f, 18.5f, 36.5f, 77.5f };
        for (int i = 0; i < 4; i++)
            ck_assert_float_eq_tol(out[i], want2[i], 1e-5f);

        /* no bias: NaN in out must not leak (beta = 0 path) */
        fill_nan(out, 4);
        B->fwd(&d, in, w, NULL, out, ws);
        ck_assert_float_eq_tol(out[0], 37.0f, 1e-5f);
        ck_assert_float_eq_tol(out[3], 77.0f, 1e-5f);
    }
}
END_TEST

/* A convolution backward pass against the reference on random prior
 * gradients (din, dweight, dbias are ACCUMULATED): relative error below
 * tol, din and dbias untouched when not asked for; with `repeat`, a second
 * call from the same priors gives the same dweight and din bits. */
typedef void (*conv_backward_fn)(const nr_conv2d_dims *, const float *, const float *,
                                 const float *, float *, float *, float *, float *);

static void check_conv_backward(const char *what, conv_backward_fn backward,
                                const nr_conv2d_dims *d, nr_rng *r, const float *in,
                                const float *w, const float *dout, int with_din, int with_bias,
                                float *ws, size_t nws, double tol, int repeat)
{
    const size_t nin = conv_in_n(d), nw = conv_w_n(d), nf = (size_t)d->filters;
    acc_buf di1 = acc_new(r, nin), dw1 = acc_new(r, nw), db1 = acc_new(r, nf);
    float *di2 = fdup(di1.g, nin), *dw2 = fdup(dw1.g, nw), *db2 = fdup(db1.g, nf);
    float *di3 = fdup(di1.g, nin), *dw3 = fdup(dw1.g, nw);
    if (ws)
        fill_nan(ws, nws);
    backward(d, in, w, dout, with_din ? di1.g : NULL, dw1.g, with_bias ? db1.g : NULL, ws);
    nr_ref_conv2d_backward(d, in, w, dout, with_din ? di2 : NULL, dw2, with_bias ? db2 : NULL,
                           NULL);
    ck_assert_msg(rel_err(dw1.g, dw2, nw) < tol, "%s dweight rel err %g", what,
                  rel_err(dw1.g, dw2, nw));
    ck_assert_msg(rel_err(di1.g, di2, nin) < tol, "%s dinput rel err %g", what,
                  rel_err(di1.g, di2, nin));
    ck_assert_msg(rel_err(db1.g, db2, nf) < tol, "%s dbias rel err %g", what,
                  rel_err(db1.g, db2, nf));
    if (!with_din)
        ck_assert_mem_eq(di1.g, di1.prior, nin * sizeof(float));
    if (!with_bias)
        ck_assert_mem_eq(db1.g, db1.prior, nf * sizeof(float));
    if (repeat) {
        backward(d, in, w, dout, with_din ? di3 : NULL, dw3, NULL, ws);
        ck_assert_mem_eq(dw1.g, dw3, nw * sizeof(float));
        ck_assert_mem_eq(di1.g, di3, nin * sizeof(float));
    }
    acc_free(&di1); acc_free(&dw1); acc_free(&db1);
    free(di2); free(dw2); free(db2); free(di3); free(dw3);
}

START_TEST(test_conv_blas_vs_ref)
{
    nr_rng r;
    nr_rng_seed(&r, 5000 + (uint64_t)_i, 0);
    nr_conv2d_dims d;
    d.n = 1 + (int)nr_rng_below(&r, 3);
    d.c = 1 + (int)nr_rng_below(&r, 5);
    d.filters = 1 + (int)nr_rng_below(&r, 6);
    d.size = 1 + (int)nr_rng_below(&r, 5);
    d.stride = 1 + (int)nr_rng_below(&r, 3);
    d.pad = (int)nr_rng_below(&r, 3);
    if (d.pad >= d.size)
        d.pad = d.size - 1;   /* PyTorch allows more, but keep windows non-empty */
    int minhw = d.size - 2 * d.pad;
    if (minhw < 1)
        minhw = 1;
    d.h = minhw + (int)nr_rng_below(&r, 13);
    d.w = minhw + (int)nr_rng_below(&r, 13);
    if (_i == 0) { d.size = 1; d.stride = 1; d.pad = 0; }   /* pointwise */
    if (_i == 1) { d.n = 4; d.c = 8; d.filters = 16; d.h = d.w = 14; d.size = 3; d.stride = 1; d.pad = 1; }
    const int with_bias = nr_rng_below(&r, 3) != 0;
    const int with_din = nr_rng_below(&r, 3) != 0;

    const size_t nin = conv_in_n(&d), nw = conv_w_n(&d), nout = conv_out_n(&d);
    const size_t nws = nr_conv2d_workspace_floats(&d);
    float *in = falloc(nin), *w = falloc(nw), *b = falloc((size_t)d.filters);
    float *o1 = falloc(nout), *o2 = falloc(nout), *dout = falloc(nout);
    float *ws = nws ? falloc(nws) : NULL;
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, b, (size_t)d.filters, -1.0f, 1.0f);
    fill_uniform(&r, dout, nout, -1.0f, 1.0f);
    fill_nan(o1, nout);
    fill_nan(o2, nout);
    if (ws)
        fill_nan(ws, nws);
    nr_conv2d_forward(&d, in, w, with_bias ? b : NULL, o1, ws);
    nr_ref_conv2d_forward(&d, in, w, with_bias ? b : NULL, o2, NULL);
    ck_assert_msg(rel_err(o1, o2, nout) < 1e-4,
                  "conv forward n%d c%d %dx%d f%d k%d s%d p%d: rel err %g", d.n,
                  d.c, d.h, d.w, d.filters, d.size, d.stride, d.pad,
                  rel_err(o1, o2, nout));

    check_conv_backward("conv", nr_conv2d_backward, &d, &r, in, w, dout, with_din, with_bias,
                        ws, nws, 1e-4, 0);
    free(in); free(w); free(b); free(o1); free(o2); free(dout); free(ws);
}
END_TEST

/* The batched BLAS path against the reference: random shapes, and shapes
 * whose column matrices split a batch into several chunks (a last partial
 * one included). Outputs overwritten (NaN before), gradients accumulated onto
 * random priors, NaN-filled workspace. */
START_TEST(test_conv_batched_vs_ref)
{
    nr_rng r;
    nr_rng_seed(&r, 7000 + (uint64_t)_i, 0);
    nr_conv2d_dims d;
    d.n = 1 + (int)nr_rng_below(&r, 6);
    d.c = 1 + (int)nr_rng_below(&r, 5);
    d.filters = 1 + (int)nr_rng_below(&r, 6);
    d.size = 1 + (int)nr_rng_below(&r, 5);
    d.stride = 1 + (int)nr_rng_below(&r, 3);
    d.pad = (int)nr_rng_below(&r, 3);
    if (d.pad >= d.size)
        d.pad = d.size - 1;
    int minhw = d.size - 2 * d.pad;
    if (minhw < 1)
        minhw = 1;
    d.h = minhw + (int)nr_rng_below(&r, 13);
    d.w = minhw + (int)nr_rng_below(&r, 13);
    if (_i == 0) { d.size = 1; d.stride = 1; d.pad = 0; }   /* pointwise */
    /* chunks of 4, 4, 2 images (K*P = 36*400 floats per image) */
    if (_i == 1) { d.n = 10; d.c = 4; d.filters = 5; d.h = d.w = 20; d.size = 3; d.stride = 1; d.pad = 1; }
    /* one image per chunk (K*P = 72*1024) */
    if (_i == 2) { d.n = 3; d.c = 8; d.filters = 4; d.h = d.w = 32; d.size = 3; d.stride = 1; d.pad = 1; }
    /* the MNIST shapes of ex2 */
    if (_i == 3) { d.n = 32; d.c = 1; d.filters = 8; d.h = d.w = 28; d.size = 3; d.stride = 1; d.pad = 1; }
    if (_i == 4) { d.n = 32; d.c = 8; d.filters = 16; d.h = d.w = 14; d.size = 3; d.stride = 1; d.pad = 1; }
    if (_i == 5) { d.n = 32; d.c = 16; d.filters = 32; d.h = d.w = 7; d.size = 3; d.stride = 1; d.pad = 1; }
    /* strided with padding, several chunks */
    if (_i == 6) { d.n = 9; d.c = 3; d.filters = 6; d.h = 41; d.w = 37; d.size = 5; d.stride = 2; d.pad = 2; }
    const int with_bias = _i < 7 || nr_rng_below(&r, 3) != 0;
    const int with_din = _i < 7 || nr_rng_below(&r, 3) != 0;

    const size_t nin = conv_in_n(&d), nw = conv_w_n(&d), nout = conv_out_n(&d);
    const size_t nws = nr_conv2d_batched_workspace_floats(&d);
    if (d.size == 1 && d.stride == 1 && d.pad == 0)
        ck_assert_uint_eq(nws, 0);
    float *in = falloc(nin), *w = falloc(nw), *b = falloc((size_t)d.filters);
    float *o1 = falloc(nout), *o2 = falloc(nout), *dout = falloc(nout);
    float *ws = nws ? falloc(nws) : NULL;
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, b, (size_t)d.filters, -1.0f, 1.0f);
    fill_uniform(&r, dout, nout, -1.0f, 1.0f);
    fill_nan(o1, nout);
    if (ws)
        fill_nan(ws, nws);
    nr_conv2d_forward_batched(&d, in, w, with_bias ? b : NULL, o1, ws);
    nr_ref_conv2d_forward(&d, in, w, with_bias ? b : NULL, o2, NULL);
    ck_assert_msg(rel_err(o1, o2, nout) < 1e-4,
                  "batched conv forward n%d c%d %dx%d f%d k%d s%d p%d: rel err %g", d.n,
                  d.c, d.h, d.w, d.filters, d.size, d.stride, d.pad, rel_err(o1, o2, nout));

    check_conv_backward("batched conv", nr_conv2d_backward_batched, &d, &r, in, w, dout,
                        with_din, with_bias, ws, nws, 1e-4, 0);

    /* deterministic: the same call again gives the same bits */
    float *o3 = falloc(nout);
    nr_conv2d_forward_batched(&d, in, w, with_bias ? b : NULL, o3, ws);
    ck_assert_mem_eq(o1, o3, nout * sizeof(float));
    free(o3);
    free(in); free(w); free(b); free(o1); free(o2); free(dout); free(ws);
}
END_TEST

/* The direct stride-1 "same" kernels against the reference: 3x3 pad 1, 5x5
 * pad 2 and 1x1, channel and filter counts that are not multiples of 4,
 * planes from 1x1 up, batches that span several dW chunks. Skipped (with a
 * note) on CPUs without AVX2/FMA, where the BLAS backend does not use them. */
START_TEST(test_conv_direct_vs_ref)
{
    nr_rng r;
    nr_rng_seed(&r, 9000 + (uint64_t)_i, 0);
    nr_conv2d_dims d;
    static const int kernel_sizes[] = { 3, 3, 5, 1 };
    d.size = kernel_sizes[_i % 4];
    d.pad = (d.size - 1) / 2;
    d.stride = 1;
    d.n = 1 + (int)nr_rng_below(&r, 5);
    d.c = 1 + (int)nr_rng_below(&r, 9);
    d.filters = 1 + (int)nr_rng_below(&r, 11);
    d.h = 1 + (int)nr_rng_below(&r, 17);
    d.w = 1 + (int)nr_rng_below(&r, 17);
    /* the MNIST shapes of ex2, one batch share each */
    if (_i == 0) { d.n = 32; d.c = 1; d.filters = 8; d.h = d.w = 28; }
    if (_i == 4) { d.n = 32; d.c = 8; d.filters = 16; d.h = d.w = 14; }
    if (_i == 8) { d.n = 32; d.c = 16; d.filters = 32; d.h = d.w = 7; }
    /* many images per dW chunk and a partial last chunk */
    if (_i == 12) { d.n = 37; d.c = 2; d.filters = 5; d.h = 6; d.w = 9; }
    if (!nr_conv2d_direct_applies(&d)) {
        fprintf(stderr, "test_conv_direct_vs_ref: no AVX2/FMA on this CPU, skipped\n");
        return;
    }
    const size_t nin = conv_in_n(&d), nw = conv_w_n(&d), nout = conv_out_n(&d);
    const size_t nws = nr_conv2d_direct_workspace_floats(&d);
    ck_assert_uint_le(nws, nr_conv2d_fast_workspace_floats(&d));
    float *in = falloc(nin), *w = falloc(nw), *b = falloc((size_t)d.filters);
    float *o1 = falloc(nout), *o2 = falloc(nout), *dout = falloc(nout), *ws = falloc(nws);
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, b, (size_t)d.filters, -1.0f, 1.0f);
    fill_uniform(&r, dout, nout, -1.0f, 1.0f);
    const int with_bias = _i % 5 != 3, with_din = _i % 7 != 2;
    fill_nan(o1, nout);
    fill_nan(ws, nws);
    nr_conv2d_forward_direct(&d, in, w, with_bias ? b : NULL, o1, ws);
    nr_ref_conv2d_forward(&d, in, w, with_bias ? b : NULL, o2, NULL);
    ck_assert_msg(rel_err(o1, o2, nout) < 1e-5,
                  "direct conv forward n%d c%d %dx%d f%d k%d: rel err %g", d.n, d.c, d.h, d.w,
                  d.filters, d.size, rel_err(o1, o2, nout));
    /* the dispatcher takes the same path */
    float *o3 = falloc(nout);
    nr_conv2d_forward_fast(&d, in, w, with_bias ? b : NULL, o3, ws);
    ck_assert_mem_eq(o1, o3, nout * sizeof(float));

    /* and deterministic */
    check_conv_backward("direct conv", nr_conv2d_backward_direct, &d, &r, in, w, dout,
                        with_din, with_bias, ws, nws, 1e-5, 1);
    free(o3);
    free(in); free(w); free(b); free(o1); free(o2); free(dout); free(ws);
}
END_TEST

/* The fused conv -> relu (-> maxpool 2x2/2) kernels give exactly what the
 * separate kernels give in sequence, forward and backward. */
START_TEST(test_conv_fused_matches_separate)
{
    static const int shapes[][5] = {   /* n, c, filters, h, w */
        { 3, 1, 8, 28, 28 }, { 4, 8, 16, 14, 14 }, { 2, 16, 32, 8, 8 }, { 3, 3, 5, 6, 10 },
        { 5, 2, 3, 2, 2 }, { 2, 5, 7, 12, 4 },
    };
    nr_rng r;
    nr_rng_seed(&r, 5151 + (uint64_t)_i, 0);
    const int *sh = shapes[_i % 6];
    nr_conv2d_dims d = { sh[0], sh[1], sh[3], sh[4], sh[2], _i < 6 ? 3 : 5, 1, _i < 6 ? 1 : 2 };
    if (!nr_conv2d_direct_applies(&d)) {
        fprintf(stderr, "test_conv_fused_matches_separate: no AVX2/FMA, skipped\n");
        return;
    }
    const size_t nin = conv_in_n(&d), nw = conv_w_n(&d), nout = conv_out_n(&d);
    const size_t npool = nout / 4;
    const size_t nws = nr_conv2d_direct_workspace_floats(&d);
    float *in = falloc(nin), *w = falloc(nw), *b = falloc((size_t)d.filters), *ws = falloc(nws);
    fill_uniform(&r, in, nin, -1.0f, 1.0f);
    fill_uniform(&r, w, nw, -1.0f, 1.0f);
    fill_uniform(&r, b, (size_t)d.filters, -1.0f, 1.0f);
    /* separate: conv, relu, maxpool */
    float *conv = falloc(nout), *act = falloc(nout), *pool = falloc(npool);
    int32_t *am = malloc(npool * sizeof *am);
    ck_assert_ptr_nonnull(am);
    nr_pool2d_dims pd = { d.n, d.filters, d.h, d.w, 2, 2 };
    nr_conv2d_forward_direct(&d, in, w, b, conv, ws);
    nr_relu_forward(nout, conv, act);
    nr_maxpool_forward(&pd, act, pool, am);
    /* fused */
    float *act2 = falloc(nout), *pool2 = falloc(npool);
    int32_t *am2 = malloc(npool * sizeof *am2);
    ck_assert_ptr_nonnull(am2);
    fill_nan(act2, nout);
    fill_nan(pool2, npool);
    fill_nan(ws, nws);
    nr_conv2d_relu_forward_direct(&d, in, w, b, act2, ws);
    ck_assert_mem_eq(act, act2, nout * sizeof(float));
    nr_conv2d_relu_maxpool_forward_direct(&d, in, w, b, pool2, am2, ws);
    ck_assert_mem_eq(pool, pool2, npool * sizeof(float));
    ck_assert_mem_eq(am, am2, npool * sizeof(int32_t));

    /* backward from d relu out, and from d pooled */
    float *dact = falloc(nout), *dpool = falloc(npool);
    fill_uniform(&r, dact, nout, -1.0f, 1.0f);
    fill_uniform(&r, dpool, npool, -1.0f, 1.0f);
    float *dconv = falloc(nout), *dact_from_pool = falloc(nout);
    for (int mode = 0; mode < 2; mode++) {
        if (mode == 0) {
            nr_relu_backward_set(nout, act, dact, dconv);
        } else {
            nr_maxpool_backward_set(&pd, dpool, am, dact_from_pool);
            nr_relu_backward_set(nout, act, dact_from_pool, dconv);
        }
        acc_buf di1 = acc_new(&r, nin), dw1 = acc_new(&r, nw), db1 = acc_new(&r, (size_t)d.filters);
        float *di2 = fdup(di1.g, nin), *dw2 = fdup(dw1.g, nw), *db2 = fdup(db1.g, (size_t)d.filters);
        nr_conv2d_backward_direct(&d, in, w, dconv, di1.g, dw1.g, db1.g, ws);
        fill_nan(ws, nws);
        if (mode == 0)
            nr_conv2d_relu_backward_direct(&d, in, w, act, dact, di2, dw2, db2, ws);
        else
            nr_conv2d_relu_maxpool_backward_direct(&d, in, w, pool, am, dpool, di2, dw2, db2, ws);
        ck_assert_mem_eq(di1.g, di2, nin * sizeof(float));
        ck_assert_mem_eq(dw1.g, dw2, nw * sizeof(float));
        if (mode == 0)
            ck_assert_mem_eq(db1.g, db2, (size_t)d.filters * sizeof(float));
        else   /* summed over the pooled gradients: the same terms, another order */
            ck_assert_msg(rel_err(db2, db1.g, (size_t)d.filters) < 1e-6, "dbias rel err %g",
                          rel_err(db2, db1.g, (size_t)d.filters));
        acc_free(&di1); acc_free(&dw1); acc_free(&db1);
        free(di2); free(dw2); free(db2);
    }
    free(in); free(w); free(b); free(ws); free(conv); free(act); free(pool); free(am);
    free(act2); free(pool2); free(am2); free(dact); free(dpool); free(dconv); free(dact_from_pool);
}
END_TEST

START_TEST(test_conv_deterministic)
{
    nr_conv2d_dims d = { 3, 4, 12, 10, 6, 3, 1, 1 };
    nr_rng r;
    nr_rng_seed(&r, 77, 0);
    const size_t nin = conv_in_n(&d), nw = conv_w_n(&d), nout = conv_out_n(&d);
    const size_t nws = nr_conv2d_workspace_floats(&d);
    ck_assert_uint_eq(nws, (size_t)4 * 9 * 12 * 10);
    float *in = falloc(nin), *w = falloc(nw), *b = falloc(6), *ws = falloc(nws);
    float *o1 = falloc(nout), *o2 = falloc(nout), *dout = falloc(nout);
    fill_uniform(&r, in, nin, -1, 1);
    fill_uniform(&r, w, nw, -1, 1);
    fill_uniform(&r, b, 6, -1, 1);
    fill_uniform(&r, dout, nout, -1, 1);
    nr_conv2d_forward(&d, in, w, b, o1, ws);
    nr_conv2d_forward(&d, in, w, b, o2, ws);
    ck_assert_mem_eq(o1, o2, nout * sizeof *o1);
    float *g1 = calloc(nin + nw + 6, sizeof *g1), *g2 = calloc(nin + nw + 6, sizeof *g2);
    ck_assert_ptr_nonnull(g1);
    ck_assert_ptr_nonnull(g2);
    nr_conv2d_backward(&d, in, w, dout, g1, g1 + nin, g1 + nin + nw, ws);
    nr_conv2d_backward(&d, in, w, dout, g2, g2 + nin, g2 + nin + nw, ws);
    ck_assert_mem_eq(g1, g2, (nin + nw + 6) * sizeof *g1);

    /* pointwise convolutions need no workspace */
    nr_conv2d_dims p = { 1, 3, 5, 5, 2, 1, 1, 0 };
    ck_assert_uint_eq(nr_conv2d_workspace_floats(&p), 0);
    free(in); free(w); free(b); free(ws); free(o1); free(o2); free(dout); free(g1); free(g2);
}
END_TEST

/* ------------------------------------------------------------------------
 * pooling
 * ------------------------------------------------------------------------ */

typedef void (*maxf_fn)(const nr_pool2d_dims *, const float *, float *, int32_t *);
typedef void (*maxb_fn)(const nr_pool2d_dims *, const float *, const int32_t *, float *);
typedef void (*avgf_fn)(const nr_pool2d_dims *, const float *, float *);
typedef void (*avgb_fn)(const nr_pool2d_dims *, const float *, float *);
typedef struct pool_backend {
    const char *name;
    maxf_fn maxf;
    maxb_fn maxb;
    avgf_fn avgf;
    avgb_fn avgb;
} pool_backend;
static const pool_backend pool_backends[2] = {
    { "fast", nr_maxpool_forward, nr_maxpool_backward, nr_avgpool_forward, nr_avgpool_backward },
    { "ref", nr_ref_maxpool_forward, nr_ref_maxpool_backward, nr_ref_avgpool_forward,
      nr_ref_avgpool_backward },
};

/* n, c, h, w, size, stride */
static const nr_pool2d_dims pool_cases[] = {
    { 2, 2, 6, 4, 2, 2 },   /* the 2x2/2 fast path */
    { 1, 2, 5, 7, 2, 2 },   /* 2x2/2 with a leftover row/column */
    { 1, 3, 7, 6, 3, 2 },   /* overlapping windows */
    { 2, 1, 5, 7, 3, 1 },   /* stride 1 */
    { 1, 2, 4, 5, 4, 1 },   /* window as tall as the input */
    { 1, 1, 9, 8, 2, 3 },   /* stride larger than the window */
};
#define N_POOL_CASES ((int)(sizeof pool_cases / sizeof pool_cases[0]))

static size_t pool_in_n(const nr_pool2d_dims *d) { return (size_t)d->n * d->c * d->h * d->w; }
static size_t pool_out_n(const nr_pool2d_dims *d)
{
    return (size_t)d->n * d->c * nr_pool2d_out_h(d) * nr_pool2d_out_w(d);
}

typedef struct pool_ctx {
    nr_pool2d_dims d;
    const pool_backend *be;
    int is_max;
    float *in, *out;
    int32_t *argmax;
} pool_ctx;

static void pool_forward_cb(void *p)
{
    pool_ctx *c = p;
    if (c->is_max)
        c->be->maxf(&c->d, c->in, c->out, c->argmax);
    else
        c->be->avgf(&c->d, c->in, c->out);
}

/* distinct values 0.05 apart in random order: +-1e-2 never changes an argmax */
static void fill_distinct(nr_rng *r, float *x, size_t n)
{
    uint32_t *perm = malloc(n * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    nr_rng_shuffle(r, perm, n);
    for (size_t i = 0; i < n; i++)
        x[i] = 0.05f * (float)perm[i] - 0.025f * (float)n;
    free(perm);
}

START_TEST(test_pool_gradcheck)
{
    /* _i: case * 4 + backend * 2 + is_max */
    const nr_pool2d_dims d = pool_cases[_i / 4];
    const pool_backend *be = &pool_backends[(_i / 2) % 2];
    const int is_max = _i % 2;
    nr_rng r;
    nr_rng_seed(&r, 2000 + (uint64_t)_i, 0);
    const size_t nin = pool_in_n(&d), nout = pool_out_n(&d);
    pool_ctx c = { d, be, is_max, falloc(nin), falloc(nout), malloc(nout * sizeof(int32_t)) };
    ck_assert_ptr_nonnull(c.argmax);
    float *proj = falloc(nout);
    fill_distinct(&r, c.in, nin);
    fill_uniform(&r, proj, nout, -1.0f, 1.0f);
    fill_nan(c.out, nout);
    pool_forward_cb(&c);
    for (size_t i = 0; i < nout; i++)
        ck_assert(isfinite(c.out[i]));
    acc_buf din = acc_new(&r, nin);
    if (is_max)
        be->maxb(&d, proj, c.argmax, din.g);
    else
        be->avgb(&d, proj, din.g);
    acc_delta(&din);
    char what[96];
    snprintf(what, sizeof what, "%s %s case %d dinput", is_max ? "maxpool" : "avgpool",
             be->name, _i / 4);
    gc_problem pb = { pool_forward_cb, NULL, c.out, proj, nout, &c };
    gc_check(&pb, c.in, din.g, nin, 1e-2f, what);
    acc_free(&din);
    free(c.in); free(c.out); free(c.argmax); free(proj);
}
END_TEST

START_TEST(test_pool_golden)
{
    const float in[16] = { 1, 5, 2, 0,
                           3, 4, 8, 8,
                           -1, -2, 0, 0,
                           -3, -4, 0, 7 };
    nr_pool2d_dims d = { 1, 1, 4, 4, 2, 2 };
    for (int b = 0; b < 2; b++) {
        const pool_backend *be = &pool_backends[b];
        float out[4];
        int32_t am[4];
        be->maxf(&d, in, out, am);
        const float want[4] = { 5, 8, -1, 7 };
        const int32_t want_am[4] = { 1, 6, 8, 15 };   /* ties: first (6, not 7) */
        for (int i = 0; i < 4; i++) {
            ck_assert_float_eq(out[i], want[i]);
            ck_assert_int_eq(am[i], want_am[i]);
        }
        /* all-equal window: the first element */
        const float flat[4] = { 2, 2, 2, 2 };
        nr_pool2d_dims d1 = { 1, 1, 2, 2, 2, 2 };
        be->maxf(&d1, flat, out, am);
        ck_assert_int_eq(am[0], 0);
        /* argmax may be NULL */
        be->maxf(&d, in, out, NULL);
        ck_assert_float_eq(out[3], 7.0f);

        be->avgf(&d, in, out);
        const float want_avg[4] = { 13.0f / 4, 18.0f / 4, -10.0f / 4, 7.0f / 4 };
        for (int i = 0; i < 4; i++)
            ck_assert_float_eq_tol(out[i], want_avg[i], 1e-6f);

        /* overlapping windows accumulate in backward */
        nr_pool2d_dims d3 = { 1, 1, 3, 3, 2, 1 };
        const float g[4] = { 1, 1, 1, 1 };
        float din[9] = { 0 };
        be->avgb(&d3, g, din);
        const float want_din[9] = { .25f, .5f, .25f, .5f, 1, .5f, .25f, .5f, .25f };
        for (int i = 0; i < 9; i++)
            ck_assert_float_eq_tol(din[i], want_din[i], 1e-6f);
        const float center[9] = { 0, 0, 0, 0, 9, 0, 0, 0, 0 };
        be->maxf(&d3, center, out, am);
        memset(din, 0, sizeof din);
        be->maxb(&d3, g, am, din);
        ck_assert_float_eq(din[4], 4.0f);
    }
}
END_TEST

START_TEST(test_pool_fast_vs_ref)
{
    nr_rng r;
    nr_rng_seed(&r, 6000 + (uint64_t)_i, 0);
    nr_pool2d_dims d;
    d.n = 1 + (int)nr_rng_below(&r, 3);
    d.c = 1 + (int)nr_rng_below(&r, 4);
    d.size = 1 + (int)nr_rng_below(&r, 4);
    d.stride = 1 + (int)nr_rng_below(&r, 3);
    if (_i % 3 == 0) { d.size = 2; d.stride = 2; }
    d.h = d.size + (int)nr_rng_below(&r, 12);
    d.w = d.size + (int)nr_rng_below(&r, 12);
    const size_t nin = pool_in_n(&d), nout = pool_out_n(&d);
    float *in = falloc(nin), *o1 = falloc(nout), *o2 = falloc(nout), *g = falloc(nout);
    int32_t *a1 = malloc(nout * sizeof *a1), *a2 = malloc(nout * sizeof *a2);
    ck_assert_ptr_nonnull(a1);
    ck_assert_ptr_nonnull(a2);
    fill_uniform(&r, in, nin, -1, 1);
    if (_i % 4 == 1)   /* plenty of ties */
        for (size_t i = 0; i < nin; i++)
            in[i] = roundf(in[i]);
    fill_uniform(&r, g, nout, -1, 1);
    fill_nan(o1, nout);
    fill_nan(o2, nout);
    nr_maxpool_forward(&d, in, o1, a1);
    nr_ref_maxpool_forward(&d, in, o2, a2);
    ck_assert_mem_eq(o1, o2, nout * sizeof *o1);
    ck_assert_mem_eq(a1, a2, nout * sizeof *a1);
    acc_buf di1 = acc_new(&r, nin);
    float *di2 = fdup(di1.g, nin);
    nr_maxpool_backward(&d, g, a1, di1.g);
    nr_ref_maxpool_backward(&d, g, a2, di2);
    ck_assert(rel_err(di1.g, di2, nin) < 1e-6);

    fill_nan(o1, nout);
    fill_nan(o2, nout);
    nr_avgpool_forward(&d, in, o1);
    nr_ref_avgpool_forward(&d, in, o2);
    ck_assert_msg(rel_err(o1, o2, nout) < 1e-5, "avgpool rel err %g", rel_err(o1, o2, nout));
    memcpy(di1.g, di1.prior, nin * sizeof(float));
    memcpy(di2, di1.prior, nin * sizeof(float));
    nr_avgpool_backward(&d, g, di1.g);
    nr_ref_avgpool_backward(&d, g, di2);
    ck_assert(rel_err(di1.g, di2, nin) < 1e-5);
    acc_free(&di1);
    free(di2); free(in); free(o1); free(o2); free(g); free(a1); free(a2);
}
END_TEST

/* ------------------------------------------------------------------------
 * dense and gemm
 * ------------------------------------------------------------------------ */

typedef void (*dense_fwd_fn)(const nr_dense_dims *, const float *, const float *,
                             const float *, float *);
typedef void (*dense_bwd_fn)(const nr_dense_dims *, const float *, const float *,
                             const float *, float *, float *, float *);
static const struct {
    const char *name;
    dense_fwd_fn fwd;
    dense_bwd_fn bwd;
} dense_backends[2] = {
    { "blas", nr_dense_forward, nr_dense_backward },
    { "ref", nr_ref_dense_forward, nr_ref_dense_backward },
};

typedef struct dense_ctx {
    nr_dense_dims d;
    int be;
    float *x, *w, *b, *y;
} dense_ctx;

static void dense_forward_cb(void *p)
{
    dense_ctx *c = p;
    dense_backends[c->be].fwd(&c->d, c->x, c->w, c->b, c->y);
}

START_TEST(test_dense_gradcheck)
{
    static const nr_dense_dims cases[] = { { 3, 7, 4 }, { 1, 5, 1 }, { 5, 1, 3 } };
    const nr_dense_dims d = cases[_i / 2];
    const int be = _i % 2;
    nr_rng r;
    nr_rng_seed(&r, 3000 + (uint64_t)_i, 0);
    const size_t nx = (size_t)d.n * d.in, nw = (size_t)d.out * d.in, ny = (size_t)d.n * d.out;
    dense_ctx c = { d, be, falloc(nx), falloc(nw), falloc((size_t)d.out), falloc(ny) };
    float *proj = falloc(ny);
    fill_uniform(&r, c.x, nx, -1, 1);
    fill_uniform(&r, c.w, nw, -1, 1);
    fill_uniform(&r, c.b, (size_t)d.out, -1, 1);
    fill_uniform(&r, proj, ny, -1, 1);
    fill_nan(c.y, ny);
    dense_forward_cb(&c);
    acc_buf dx = acc_new(&r, nx), dw = acc_new(&r, nw), db = acc_new(&r, (size_t)d.out);
    dense_backends[be].bwd(&d, c.x, c.w, proj, dx.g, dw.g, db.g);
    acc_delta(&dx);
    acc_delta(&dw);
    acc_delta(&db);
    gc_problem pb = { dense_forward_cb, NULL, c.y, proj, ny, &c };
    char what[64];
    snprintf(what, sizeof what, "dense %s case %d dx", dense_backends[be].name, _i / 2);
    gc_check(&pb, c.x, dx.g, nx, 1e-2f, what);
    snprintf(what, sizeof what, "dense %s case %d dweight", dense_backends[be].name, _i / 2);
    gc_check(&pb, c.w, dw.g, nw, 1e-2f, what);
    snprintf(what, sizeof what, "dense %s case %d dbias", dense_backends[be].name, _i / 2);
    gc_check(&pb, c.b, db.g, (size_t)d.out, 1e-2f, what);
    acc_free(&dx); acc_free(&dw); acc_free(&db);
    free(c.x); free(c.w); free(c.b); free(c.y); free(proj);
}
END_TEST

START_TEST(test_dense_golden)
{
    /* x = [[1,2,3],[-1,0,2]], W = [[1,0,-1],[2,1,0.5]], b = [0.5,-1]
     * y0 = [1-3+0.5, 2+2+1.5-1] = [-1.5, 4.5]; y1 = [-1-2+0.5, -2+0+1-1] = [-2.5, -2] */
    const float x[6] = { 1, 2, 3, -1, 0, 2 };
    const float w[6] = { 1, 0, -1, 2, 1, 0.5f };
    const float b[2] = { 0.5f, -1 };
    const nr_dense_dims d = { 2, 3, 2 };
    for (int be = 0; be < 2; be++) {
        float y[4];
        fill_nan(y, 4);
        dense_backends[be].fwd(&d, x, w, b, y);
        const float want[4] = { -1.5f, 4.5f, -2.5f, -2.0f };
        for (int i = 0; i < 4; i++)
            ck_assert_float_eq_tol(y[i], want[i], 1e-6f);
        /* dy = [[1,0],[0,1]]: dW = [x0; x1], dx = [W0; W1], db = [1,1] */
        const float dy[4] = { 1, 0, 0, 1 };
        float dx[6] = { 0 }, dw[6] = { 0 }, db[2] = { 0 };
        dense_backends[be].bwd(&d, x, w, dy, dx, dw, db);
        for (int i = 0; i < 6; i++) {
            ck_assert_float_eq_tol(dw[i], x[i], 1e-6f);
            ck_assert_float_eq_tol(dx[i], w[i], 1e-6f);
        }
        ck_assert_float_eq_tol(db[0], 1.0f, 1e-6f);
        ck_assert_float_eq_tol(db[1], 1.0f, 1e-6f);
        /* dx may be NULL; no bias */
        dense_backends[be].fwd(&d, x, w, NULL, y);
        ck_assert_float_eq_tol(y[0], -2.0f, 1e-6f);
        dense_backends[be].bwd(&d, x, w, dy, NULL, dw, NULL);
        ck_assert_float_eq_tol(dw[0], 2.0f, 1e-6f);
    }
}
END_TEST

START_TEST(test_dense_blas_vs_ref)
{
    nr_rng r;
    nr_rng_seed(&r, 7000 + (uint64_t)_i, 0);
    nr_dense_dims d = { 1 + (int)nr_rng_below(&r, 9), 1 + (int)nr_rng_below(&r, 60),
                        1 + (int)nr_rng_below(&r, 20) };
    if (_i == 0) { d.n = 64; d.in = 784; d.out = 128; }
    const size_t nx = (size_t)d.n * d.in, nw = (size_t)d.out * d.in, ny = (size_t)d.n * d.out;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc((size_t)d.out);
    float *y1 = falloc(ny), *y2 = falloc(ny), *dy = falloc(ny);
    fill_uniform(&r, x, nx, -1, 1);
    fill_uniform(&r, w, nw, -1, 1);
    fill_uniform(&r, b, (size_t)d.out, -1, 1);
    fill_uniform(&r, dy, ny, -1, 1);
    const int with_bias = _i % 3 != 2;
    fill_nan(y1, ny);
    fill_nan(y2, ny);
    nr_dense_forward(&d, x, w, with_bias ? b : NULL, y1);
    nr_ref_dense_forward(&d, x, w, with_bias ? b : NULL, y2);
    ck_assert_msg(rel_err(y1, y2, ny) < 1e-4, "dense forward rel err %g", rel_err(y1, y2, ny));
    acc_buf dx1 = acc_new(&r, nx), dw1 = acc_new(&r, nw), db1 = acc_new(&r, (size_t)d.out);
    float *dx2 = fdup(dx1.g, nx), *dw2 = fdup(dw1.g, nw), *db2 = fdup(db1.g, (size_t)d.out);
    nr_dense_backward(&d, x, w, dy, dx1.g, dw1.g, db1.g);
    nr_ref_dense_backward(&d, x, w, dy, dx2, dw2, db2);
    ck_assert(rel_err(dx1.g, dx2, nx) < 1e-4);
    ck_assert(rel_err(dw1.g, dw2, nw) < 1e-4);
    ck_assert(rel_err(db1.g, db2, (size_t)d.out) < 1e-4);
    acc_free(&dx1); acc_free(&dw1); acc_free(&db1);
    free(dx2); free(dw2); free(db2); free(x); free(w); free(b); free(y1); free(y2); free(dy);
}
END_TEST

START_TEST(test_gemm_blas_vs_ref)
{
    nr_rng r;
    nr_rng_seed(&r, 8000 + (uint64_t)_i, 0);
    const int ta = _i & 1, tb = (_i >> 1) & 1;
    const int m = 1 + (int)nr_rng_below(&r, 30), n = 1 + (int)nr_rng_below(&r, 30);
    const int k = 1 + (int)nr_rng_below(&r, 30);
    const int pad = (int)nr_rng_below(&r, 3);
    /* stored shapes: A is [m, k] or [k, m]; B is [k, n] or [n, k]; row strides padded */
    const int arows = ta ? k : m, acols = ta ? m : k;
    const int brows = tb ? n : k, bcols = tb ? k : n;
    const int lda = acols + pad, ldb = bcols + pad, ldc = n + pad;
    float *a = falloc((size_t)arows * lda), *b = falloc((size_t)brows * ldb);
    float *c1 = falloc((size_t)m * ldc), *c2 = falloc((size_t)m * ldc);
    fill_uniform(&r, a, (size_t)arows * lda, -1, 1);
    fill_uniform(&r, b, (size_t)brows * ldb, -1, 1);
    const float alpha = 0.5f + nr_rng_uniform(&r);
    const float beta = (_i >> 2) & 1 ? 0.75f : 0.0f;
    if (beta == 0.0f)
        fill_nan(c1, (size_t)m * ldc);   /* beta = 0: C is not read */
    else
        fill_uniform(&r, c1, (size_t)m * ldc, -1, 1);
    memcpy(c2, c1, (size_t)m * ldc * sizeof *c1);
    nr_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc);
    nr_ref_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc);
    for (int i = 0; i < m; i++)
        ck_assert_msg(rel_err(c1 + (size_t)i * ldc, c2 + (size_t)i * ldc, (size_t)n) < 1e-4,
                      "gemm ta%d tb%d m%d n%d k%d row %d", ta, tb, m, n, k, i);
    /* hand-checked 2x2: [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]] */
    const float A[4] = { 1, 2, 3, 4 }, B[4] = { 5, 6, 7, 8 };
    float C[4];
    nr_ref_gemm(0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    ck_assert_float_eq(C[0], 19.0f);
    ck_assert_float_eq(C[3], 50.0f);
    nr_gemm(1, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);   /* A^T B = [[26,30],[38,44]] */
    ck_assert_float_eq(C[0], 26.0f);
    ck_assert_float_eq(C[3], 44.0f);
    free(a); free(b); free(c1); free(c2);
}
END_TEST

/* ------------------------------------------------------------------------
 * activations
 * ------------------------------------------------------------------------ */

static void ew_relu(ew_ctx *c) { nr_relu_forward(c->n, c->in, c->out); }
static void ew_leaky(ew_ctx *c) { nr_leaky_relu_forward(c->n, c->slope, c->in, c->out); }
static void ew_sigmoid(ew_ctx *c) { nr_sigmoid_forward(c->n, c->in, c->out); }

START_TEST(test_activation_gradcheck)
{
    /* _i: 0 relu, 1 leaky_relu, 2 sigmoid, 3 tanh */
    static const char *names[] = { "relu", "leaky_relu", "sigmoid", "tanh" };
    nr_rng r;
    nr_rng_seed(&r, 4000 + (uint64_t)_i, 0);
    const size_t n = 64;
    ew_ctx c = { n, 0.1f, falloc(n), falloc(n), NULL };
    float *proj = falloc(n);
    for (size_t i = 0; i < n; i++) {
        if (_i < 2) {   /* keep |x| >= 0.1 so +-eps never crosses the kink */
            float mag = 0.1f + 0.9f * nr_rng_uniform(&r);
            c.in[i] = nr_rng_below(&r, 2) ? mag : -mag;
        } else {
            c.in[i] = -3.0f + 6.0f * nr_rng_uniform(&r);
        }
    }
    fill_uniform(&r, proj, n, -1, 1);
    acc_buf din = acc_new(&r, n);
    switch (_i) {
    case 0: c.fwd = ew_relu; ew_relu(&c); nr_relu_backward(n, c.out, proj, din.g); break;
    case 1: c.fwd = ew_leaky; ew_leaky(&c); nr_leaky_relu_backward(n, c.slope, c.out, proj, din.g); break;
    case 2: c.fwd = ew_sigmoid; ew_sigmoid(&c); nr_sigmoid_backward(n, c.out, proj, din.g); break;
    default: c.fwd = ew_tanh; ew_tanh(&c); nr_tanh_backward(n, c.out, proj, din.g); break;
    }
    acc_delta(&din);
    gc_problem pb = { ew_forward, NULL, c.out, proj, n, &c };
    gc_check(&pb, c.in, din.g, n, 1e-2f, names[_i]);
    acc_free(&din);
    free(c.in); free(c.out); free(proj);
}
END_TEST

/* The vectorised relu against its scalar definition, bit for bit: every
 * count remainder, NaN, +-0, and the overwriting backward. */
START_TEST(test_relu_vector_paths)
{
    nr_rng r;
    nr_rng_seed(&r, 4242, 0);
    for (size_t count = 0; count < 40; count++) {
        float *x = falloc(count), *y = falloc(count), *g = falloc(count);
        float *d1 = falloc(count), *d2 = falloc(count), *d3 = falloc(count);
        fill_uniform(&r, x, count, -1, 1);
        fill_uniform(&r, g, count, -1, 1);
        fill_uniform(&r, d1, count, -1, 1);
        for (size_t i = 0; i < count; i++) {
            if (i % 7 == 3) x[i] = NAN;
            if (i % 11 == 5) x[i] = -0.0f;
            if (i % 13 == 6) x[i] = 0.0f;
        }
        memcpy(d2, d1, count * sizeof *d1);
        nr_relu_forward(count, x, y);
        for (size_t i = 0; i < count; i++) {
            float want = x[i] < 0.0f ? 0.0f : x[i];
            ck_assert_mem_eq(&y[i], &want, sizeof want);
        }
        nr_relu_backward(count, y, g, d1);
        fill_nan(d3, count);
        nr_relu_backward_set(count, y, g, d3);
        for (size_t i = 0; i < count; i++) {
            float add = y[i] > 0.0f ? g[i] : 0.0f;
            float want = d2[i] + add;
            ck_assert_mem_eq(&d1[i], &want, sizeof want);
            ck_assert_float_eq(d3[i], add);
        }
        free(x); free(y); free(g); free(d1); free(d2); free(d3);
    }
}
END_TEST

/* The vectorised 2x2/2 maxpool on wide planes (the MNIST shapes, odd sizes,
 * ties, NaN) against the reference, and the overwriting backward against
 * zero + accumulate for every pooling shape. */
START_TEST(test_maxpool_wide_and_set)
{
    static const int shapes[][4] = {   /* h, w, size, stride */
        { 28, 28, 2, 2 }, { 14, 14, 2, 2 }, { 7, 7, 2, 2 }, { 9, 17, 2, 2 },
        { 8, 16, 2, 2 }, { 6, 4, 2, 2 }, { 10, 10, 2, 2 }, { 12, 12, 2, 2 }, { 4, 11, 2, 2 },
        { 9, 9, 3, 2 }, { 7, 10, 2, 1 }, { 9, 8, 2, 3 },
    };
    nr_rng r;
    nr_rng_seed(&r, 8080, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int variant = 0; variant < 3; variant++) {
            nr_pool2d_dims d = { 3, 2, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3] };
            const size_t nin = pool_in_n(&d), nout = pool_out_n(&d);
            float *in = falloc(nin), *o1 = falloc(nout), *o2 = falloc(nout), *g = falloc(nout);
            int32_t *a1 = malloc(nout * sizeof *a1), *a2 = malloc(nout * sizeof *a2);
            ck_assert_ptr_nonnull(a1);
            ck_assert_ptr_nonnull(a2);
            fill_uniform(&r, in, nin, -1, 1);
            if (variant == 1)   /* ties everywhere */
                for (size_t i = 0; i < nin; i++)
                    in[i] = roundf(in[i]);
            if (variant == 2)   /* NaN in some windows, first or not */
                for (size_t i = 0; i < nin; i += 5)
                    in[i] = NAN;
            fill_uniform(&r, g, nout, -1, 1);
            nr_maxpool_forward(&d, in, o1, a1);
            nr_ref_maxpool_forward(&d, in, o2, a2);
            ck_assert_mem_eq(o1, o2, nout * sizeof *o1);
            ck_assert_mem_eq(a1, a2, nout * sizeof *a1);
            float *acc = calloc(nin, sizeof *acc), *set = falloc(nin);
            ck_assert_ptr_nonnull(acc);
            fill_nan(set, nin);
            nr_maxpool_backward(&d, g, a1, acc);
            nr_maxpool_backward_set(&d, g, a1, set);
            ck_assert_mem_eq(acc, set, nin * sizeof *acc);
            free(in); free(o1); free(o2); free(g); free(a1); free(a2); free(acc); free(set);
        }
    }
}
END_TEST

/* Error of y in units in the last place of the float nearest `exact`
 * (the spacing at exact's binade; the smallest subnormal below FLT_MIN). */
static double ulp_error(float y, double exact)
{
    int e;
    frexp(fabs(exact), &e);
    double ulp = ldexp(1.0, e - 24);
    if (ulp < ldexp(1.0, -149))
        ulp = ldexp(1.0, -149);
    return fabs((double)y - exact) / ulp;
}

/* Checks the fast tanh and sigmoid on xs [n] (ascending): the same bits as
 * the portable forms, within their stated bounds of double precision,
 * monotone (also across calls: *prev_t, *prev_s hold the last outputs).
 * Returns the largest errors seen through *max_t, *max_s (ulp). */
static void check_fast_act_sweep(const float *xs, size_t n, float *prev_t, float *prev_s,
                                 double *max_t, double *max_s)
{
    float *t = falloc(n), *s = falloc(n), *tp = falloc(n), *sp = falloc(n);
    nr_tanh_forward_fast(n, xs, t);
    nr_sigmoid_forward_fast(n, xs, s);
    nr_tanh_forward_portable(n, xs, tp);
    nr_sigmoid_forward_portable(n, xs, sp);
    ck_assert_mem_eq(t, tp, n * sizeof *t);
    ck_assert_mem_eq(s, sp, n * sizeof *s);
    /* counted, asserted once: an assertion per element is slow under check */
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = xs[i], et = tanh(x), es = 1.0 / (1.0 + exp(-x));
        const double ut = ulp_error(t[i], et), us = ulp_error(s[i], es);
        int ok = ut <= 2.0 && fabs(t[i] - et) <= 1e-6 && fabs(s[i] - es) <= 1e-6;
        ok = ok && (es >= FLT_MIN ? us <= 3.0 : fabs(s[i] - es) <= 2e-45);
        ok = ok && t[i] >= *prev_t && s[i] >= *prev_s;   /* monotone */
        if (!ok && bad++ == 0)
            first = i;
        *prev_t = t[i];
        *prev_s = s[i];
        if (ut > *max_t)
            *max_t = ut;
        if (es >= FLT_MIN && us > *max_s)
            *max_s = us;
    }
    ck_assert_msg(bad == 0, "%zu bad, first x = %a: tanh %a (exact %a), sigmoid %a (exact %a)",
                  bad, xs[first], t[first], tanh((double)xs[first]), s[first],
                  1.0 / (1.0 + exp(-(double)xs[first])));
    free(t); free(s); free(tp); free(sp);
}

/* The float with the given position in the order of all non-NaN floats
 * (0: -inf, 0x7f800000: -0, 0x7f800001: +0, 0xff000001: +inf). */
static float float_at_rank(uint32_t k)
{
    uint32_t u = k <= 0x7f800000u ? 0xff800000u - k : k - 0x7f800001u;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t rank_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u & 0x80000000u ? 0xff800000u - u : u + 0x7f800001u;
}

/* The fast backend's tanh and sigmoid (vmath.h) against double precision:
 * every 4093rd float from -inf to +inf, then every float in windows around
 * the points where the algorithms change branch (tanh's 0.625 and its clamp
 * 10, 0, sigmoid's subnormal outputs from -87.3 and its clamp -104):
 * tanh within 2 ulp, sigmoid within 3 ulp (absolute 2e-45 below FLT_MIN),
 * both within 1e-6 absolute, monotone, and the AVX2 and portable forms
 * give the same bits. Specials: NaN propagates, -0 stays -0 under tanh,
 * +-inf saturate. */
START_TEST(test_fast_activation_accuracy)
{
    enum { CHUNK = 4099 };   /* odd: the vector forms' tails are exercised */
    float *xs = falloc(CHUNK);
    double max_t = 0.0, max_s = 0.0;
    float prev_t = -1.0f, prev_s = 0.0f;
    size_t n = 0;
    for (uint64_t k = 0; k <= 0xff000001u; k += 4093) {
        xs[n++] = float_at_rank((uint32_t)k);
        if (n == CHUNK) {
            check_fast_act_sweep(xs, n, &prev_t, &prev_s, &max_t, &max_s);
            n = 0;
        }
    }
    check_fast_act_sweep(xs, n, &prev_t, &prev_s, &max_t, &max_s);
    static const float centres[] = { -104.0f, -87.33f, -10.0f, -0.625f, 0.0f, 0.625f, 10.0f };
    for (size_t c = 0; c < sizeof centres / sizeof centres[0]; c++) {
        const uint32_t mid = rank_of(centres[c]);
        prev_t = -1.0f;
        prev_s = 0.0f;
        for (uint32_t k = mid - 8 * CHUNK; k < mid + 8 * CHUNK; k += CHUNK) {
            for (uint32_t j = 0; j < CHUNK; j++)
                xs[j] = float_at_rank(k + j);
            check_fast_act_sweep(xs, CHUNK, &prev_t, &prev_s, &max_t, &max_s);
        }
    }
    fprintf(stderr, "test_fast_activation_accuracy: max error tanh %.3f ulp, sigmoid %.3f ulp\n",
            max_t, max_s);
    /* specials, through the vector path and the tail */
    const float sx[11] = { NAN, -0.0f, 0.0f, INFINITY, -INFINITY, 1e30f, -1e30f, FLT_MIN,
                           -FLT_MIN, 1e-45f, -NAN };
    float t[11], s[11];
    nr_tanh_forward_fast(11, sx, t);
    nr_sigmoid_forward_fast(11, sx, s);
    ck_assert(isnan(t[0]) && isnan(s[0]) && isnan(t[10]) && isnan(s[10]));
    ck_assert(t[1] == 0.0f && signbit(t[1]) && t[2] == 0.0f && !signbit(t[2]));
    ck_assert(s[1] == 0.5f && s[2] == 0.5f);
    ck_assert(t[3] == 1.0f && t[4] == -1.0f && t[5] == 1.0f && t[6] == -1.0f);
    ck_assert(s[3] == 1.0f && s[4] == 0.0f && s[5] == 1.0f && s[6] == 0.0f);
    ck_assert(t[7] == FLT_MIN && t[8] == -FLT_MIN && t[9] == 1e-45f);
    free(xs);
}
END_TEST

START_TEST(test_activation_values)
{
    const float x[6] = { -2.0f, -0.5f, 0.0f, 0.5f, 2.0f, -100.0f };
    float y[6];
    nr_relu_forward(6, x, y);
    ck_assert_float_eq(y[0], 0.0f);
    ck_assert_float_eq(y[2], 0.0f);
    ck_assert_float_eq(y[4], 2.0f);
    nr_leaky_relu_forward(6, 0.1f, x, y);
    ck_assert_float_eq_tol(y[0], -0.2f, 1e-7f);
    ck_assert_float_eq(y[3], 0.5f);
    nr_sigmoid_forward(6, x, y);
    ck_assert_float_eq_tol(y[2], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(y[4], 0.880797078f, 1e-6f);
    ck_assert_float_eq_tol(y[0], 0.119202922f, 1e-6f);
    ck_assert(isfinite(y[5]) && y[5] >= 0.0f && y[5] < 1e-40f);
    nr_tanh_forward(6, x, y);
    ck_assert_float_eq_tol(y[4], 0.96402758f, 1e-6f);
    ck_assert_float_eq(y[5], -1.0f);

    /* NaN propagates through every activation */
    const float nan_in[1] = { NAN };
    nr_relu_forward(1, nan_in, y);
    ck_assert(isnan(y[0]));
    nr_leaky_relu_forward(1, 0.1f, nan_in, y);
    ck_assert(isnan(y[0]));
    nr_sigmoid_forward(1, nan_in, y);
    ck_assert(isnan(y[0]));
    nr_tanh_forward(1, nan_in, y);
    ck_assert(isnan(y[0]));

    /* in place, and relu'(0) = 0 as in PyTorch */
    float z[6];
    memcpy(z, x, sizeof z);
    nr_relu_forward(6, z, z);
    const float g[6] = { 1, 1, 1, 1, 1, 1 };
    float d[6] = { 0 };
    nr_relu_backward(6, z, g, d);
    ck_assert_float_eq(d[2], 0.0f);
    ck_assert_float_eq(d[3], 1.0f);
    memcpy(z, x, sizeof z);
    nr_leaky_relu_forward(6, 0.25f, z, z);
    memset(d, 0, sizeof d);
    nr_leaky_relu_backward(6, 0.25f, z, g, d);
    ck_assert_float_eq(d[0], 0.25f);
    ck_assert_float_eq(d[2], 0.25f);
    ck_assert_float_eq(d[4], 1.0f);
}
END_TEST

/* ------------------------------------------------------------------------
 * softmax and losses
 * ------------------------------------------------------------------------ */

typedef struct loss_ctx {
    int n, k, kind;   /* kind 0: cross-entropy from logits, 1: fused softmax+mse,
                         2: mse on pred, 3: softmax forward (projection) */
    float *x, *probs;
    const int32_t *labels;
    double loss;
} loss_ctx;

/* class weights [5] for the weighted losses' gradient checks */
static const float loss_class_weights[5] = { 0.5f, 2.0f, 1.0f, 3.0f, 0.25f };

static void loss_forward_cb(void *p)
{
    loss_ctx *c = p;
    switch (c->kind) {
    case 0: c->loss = nr_softmax_cross_entropy(c->n, c->k, c->x, c->labels, NULL, NULL); break;
    case 1: c->loss = nr_softmax_mse(c->n, c->k, c->x, c->labels, NULL, NULL); break;
    case 2: c->loss = nr_mse_onehot(c->n, c->k, c->x, c->labels, NULL); break;
    case 4:
        c->loss = nr_softmax_cross_entropy_smoothed(c->n, c->k, c->x, c->labels, 0.1f, NULL, NULL);
        break;
    case 5:
        c->loss = nr_softmax_cross_entropy_weighted(c->n, c->k, c->x, c->labels, 0.1f,
                                                    loss_class_weights, NULL, NULL);
        break;
    case 6:
        c->loss = nr_softmax_mse_weighted(c->n, c->k, c->x, c->labels, loss_class_weights,
                                          NULL, NULL);
        break;
    case 7:
        c->loss = nr_mse_onehot_weighted(c->n, c->k, c->x, c->labels, loss_class_weights, NULL);
        break;
    default: nr_softmax_forward(c->n, c->k, c->x, c->probs); break;
    }
}

static double loss_value_cb(void *p)
{
    return ((loss_ctx *)p)->loss;
}

START_TEST(test_loss_gradcheck)
{
    static const char *names[] = { "softmax_cross_entropy", "softmax_mse", "mse_onehot",
                                   "softmax_backward", "softmax_cross_entropy_smoothed",
                                   "softmax_cross_entropy_weighted", "softmax_mse_weighted",
                                   "mse_onehot_weighted" };
    const int n = 4, k = 5;
    const size_t nk = (size_t)n * k;
    nr_rng r;
    nr_rng_seed(&r, 4100 + (uint64_t)_i, 0);
    int32_t labels[4] = { 0, 3, 4, 3 };
    loss_ctx c = { n, k, _i, falloc(nk), falloc(nk), labels, 0.0 };
    float *proj = falloc(nk);
    if (_i == 2 || _i == 7)
        fill_uniform(&r, c.x, nk, 0.0f, 1.0f);
    else
        fill_uniform(&r, c.x, nk, -2.0f, 2.0f);
    fill_uniform(&r, proj, nk, -1, 1);
    acc_buf g = acc_new(&r, nk);
    float loss = 0.0f;
    switch (_i) {
    case 0: loss = nr_softmax_cross_entropy(n, k, c.x, labels, c.probs, g.g); break;
    case 1: loss = nr_softmax_mse(n, k, c.x, labels, c.probs, g.g); break;
    case 2: loss = nr_mse_onehot(n, k, c.x, labels, g.g); break;
    case 4: loss = nr_softmax_cross_entropy_smoothed(n, k, c.x, labels, 0.1f, c.probs, g.g); break;
    case 5:
        loss = nr_softmax_cross_entropy_weighted(n, k, c.x, labels, 0.1f, loss_class_weights,
                                                 c.probs, g.g);
        break;
    case 6:
        loss = nr_softmax_mse_weighted(n, k, c.x, labels, loss_class_weights, c.probs, g.g);
        break;
    case 7: loss = nr_mse_onehot_weighted(n, k, c.x, labels, loss_class_weights, g.g); break;
    default:
        nr_softmax_forward(n, k, c.x, c.probs);
        nr_softmax_backward(n, k, c.probs, proj, g.g);
        break;
    }
    acc_delta(&g);
    gc_problem pb = { loss_forward_cb, _i == 3 ? NULL : loss_value_cb, c.probs, proj, nk, &c };
    if (_i != 3) {
        loss_forward_cb(&c);
        ck_assert_float_eq(loss, (float)c.loss);   /* with and without gradients */
    }
    gc_check(&pb, c.x, g.g, nk, 1e-2f, names[_i]);
    acc_free(&g);
    free(c.x); free(c.probs); free(proj);
}
END_TEST

START_TEST(test_softmax_ce_golden)
{
    /* logits [1,2,3]: logsumexp = 3.40760596; loss(label 2) = 0.40760596,
     * loss(label 0) = 2.40760596; softmax = [0.09003057, 0.24472847, 0.66524096] */
    const float logits[6] = { 1, 2, 3, 1, 2, 3 };
    const int32_t labels[2] = { 2, 0 };
    float probs[6], dl[6] = { 0 };
    float loss = nr_softmax_cross_entropy(2, 3, logits, labels, probs, dl);
    ck_assert_float_eq_tol(loss, 1.40760596f, 1e-6f);
    ck_assert_float_eq_tol(nr_softmax_cross_entropy(1, 3, logits, labels, NULL, NULL),
                           0.40760596f, 1e-6f);
    const float p[3] = { 0.0900305732f, 0.244728471f, 0.665240956f };
    for (int j = 0; j < 3; j++) {
        ck_assert_float_eq_tol(probs[j], p[j], 1e-6f);
        ck_assert_float_eq_tol(probs[3 + j], p[j], 1e-6f);
    }
    /* dlogits = (p - onehot) / n, n = 2 */
    ck_assert_float_eq_tol(dl[0], p[0] / 2, 1e-6f);
    ck_assert_float_eq_tol(dl[2], (p[2] - 1) / 2, 1e-6f);
    ck_assert_float_eq_tol(dl[3], (p[0] - 1) / 2, 1e-6f);
    /* uniform logits: log(k) */
    const float zeros[4] = { 0, 0, 0, 0 };
    const int32_t l1[1] = { 1 };
    ck_assert_float_eq_tol(nr_softmax_cross_entropy(1, 4, zeros, l1, NULL, NULL),
                           1.38629436f, 1e-6f);
    /* softmax forward in place gives the same probabilities */
    float inplace[3] = { 1, 2, 3 };
    nr_softmax_forward(1, 3, inplace, inplace);
    for (int j = 0; j < 3; j++)
        ck_assert_float_eq_tol(inplace[j], p[j], 1e-6f);
}
END_TEST

START_TEST(test_softmax_ce_huge_logits)
{
    const float logits[9] = { 1e4f, 0.0f, -1e4f,
                              1e4f, 0.0f, -1e4f,
                              -1e4f, -1e4f, 1e4f };
    float probs[9], dl[9] = { 0 };
    int32_t lab[3] = { 0, 2, 1 };
    /* row 0: exactly right, 0; row 1: 2e4; row 2: 2e4 */
    float loss = nr_softmax_cross_entropy(3, 3, logits, lab, probs, dl);
    ck_assert(isfinite(loss));
    ck_assert_float_eq_tol(loss, 4e4f / 3.0f, 1e-2f);
    ck_assert_float_eq_tol(nr_softmax_cross_entropy(1, 3, logits, lab, NULL, NULL), 0.0f, 1e-6f);
    for (int i = 0; i < 9; i++) {
        ck_assert(isfinite(probs[i]) && isfinite(dl[i]));
    }
    ck_assert_float_eq_tol(probs[0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(probs[2], 0.0f, 1e-6f);
    ck_assert_float_eq_tol(dl[5], -1.0f / 3.0f, 1e-6f);   /* (0 - 1) / 3 */
    /* two equal huge-negative logits: log 2 */
    const float neg[2] = { -1e4f, -1e4f };
    const int32_t l0[1] = { 0 };
    ck_assert_float_eq_tol(nr_softmax_cross_entropy(1, 2, neg, l0, NULL, NULL), 0.69314718f, 1e-6f);
    /* mse and softmax stay finite too */
    ck_assert(isfinite(nr_softmax_mse(3, 3, logits, lab, probs, dl)));
    nr_softmax_forward(3, 3, logits, probs);
    for (int i = 0; i < 9; i++)
        ck_assert(isfinite(probs[i]));
}
END_TEST

START_TEST(test_softmax_rows_sum_to_one)
{
    nr_rng r;
    nr_rng_seed(&r, 12, 0);
    const int n = 16, k = 10;
    float x[160], p[160];
    fill_uniform(&r, x, 160, -30, 30);
    x[5] = 1e4f;
    x[17] = -1e4f;
    nr_softmax_forward(n, k, x, p);
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int j = 0; j < k; j++) {
            ck_assert(p[i * k + j] >= 0.0f && p[i * k + j] <= 1.0f);
            s += p[i * k + j];
        }
        ck_assert_double_eq_tol(s, 1.0, 1e-6);
    }
}
END_TEST

START_TEST(test_mse_golden)
{
    /* pred [0.5,0.25,0.25], label 0: (0.25 + 0.0625 + 0.0625) / 3 = 0.125;
     * dpred = 2 (pred - onehot) / 3 = [-1/3, 1/6, 1/6] */
    const float pred[3] = { 0.5f, 0.25f, 0.25f };
    const int32_t lab[1] = { 0 };
    float d[3] = { 0 };
    ck_assert_float_eq_tol(nr_mse_onehot(1, 3, pred, lab, d), 0.125f, 1e-7f);
    ck_assert_float_eq_tol(d[0], -1.0f / 3, 1e-7f);
    ck_assert_float_eq_tol(d[1], 1.0f / 6, 1e-7f);

    /* the fused version = mse_onehot on softmax, then softmax_backward */
    nr_rng r;
    nr_rng_seed(&r, 13, 0);
    float x[12], p[12], dp[12] = { 0 }, dl1[12] = { 0 }, dl2[12] = { 0 }, p2[12];
    const int32_t labs[3] = { 1, 0, 3 };
    fill_uniform(&r, x, 12, -2, 2);
    nr_softmax_forward(3, 4, x, p);
    float l1 = nr_mse_onehot(3, 4, p, labs, dp);
    nr_softmax_backward(3, 4, p, dp, dl1);
    float l2 = nr_softmax_mse(3, 4, x, labs, p2, dl2);
    ck_assert_float_eq_tol(l1, l2, 1e-6f);
    ck_assert(rel_err(p2, p, 12) < 1e-6);
    ck_assert(rel_err(dl2, dl1, 12) < 1e-5);
}
END_TEST

START_TEST(test_weighted_loss_golden)
{
    /* logits [1,2,3] twice, labels 2 and 0, class weights [4, 1, 0.5]:
     * row losses (no smoothing) 0.40760596 and 2.40760596 (logsumexp 3.40760596),
     * weighted mean = (0.5 * 0.40760596 + 4 * 2.40760596) / 2 = 4.91711341;
     * softmax p = [0.09003057, 0.24472847, 0.66524096],
     * dlogits row 0 = 0.5 (p - e2) / 2, row 1 = 4 (p - e0) / 2 */
    const float logits[6] = { 1, 2, 3, 1, 2, 3 };
    const int32_t labels[2] = { 2, 0 };
    const float w[3] = { 4.0f, 1.0f, 0.5f };
    const double p[3] = { 0.09003057, 0.24472847, 0.66524096 };
    float dl[6] = { 0 };
    float loss = nr_softmax_cross_entropy_weighted(2, 3, logits, labels, 0.0f, w, NULL, dl);
    ck_assert_float_eq_tol(loss, 4.91711341f, 1e-5f);
    for (int j = 0; j < 3; j++) {
        ck_assert_float_eq_tol(dl[j], (float)(0.25 * (p[j] - (j == 2))), 1e-6f);
        ck_assert_float_eq_tol(dl[3 + j], (float)(2.0 * (p[j] - (j == 0))), 1e-6f);
    }
    /* all weights 1 = unweighted, bit for bit (the same code path as NULL) */
    const float ones[3] = { 1, 1, 1 };
    float d1[6] = { 0 }, d2[6] = { 0 };
    float l1 = nr_softmax_cross_entropy_weighted(2, 3, logits, labels, 0.1f, ones, NULL, d1);
    float l2 = nr_softmax_cross_entropy_smoothed(2, 3, logits, labels, 0.1f, NULL, d2);
    ck_assert(l1 == l2);
    ck_assert(memcmp(d1, d2, sizeof d1) == 0);

    /* mse: pred [0.5,0.25,0.25] label 0 weight 4 -> 4 * 0.375 / 3 = 0.5;
     * dpred = 4 * 2 (pred - onehot) / 3 = [-4/3, 2/3, 2/3] */
    const float pred[3] = { 0.5f, 0.25f, 0.25f };
    const int32_t lab0[1] = { 0 };
    float d[3] = { 0 };
    ck_assert_float_eq_tol(nr_mse_onehot_weighted(1, 3, pred, lab0, w, d), 0.5f, 1e-7f);
    ck_assert_float_eq_tol(d[0], -4.0f / 3, 1e-6f);
    ck_assert_float_eq_tol(d[1], 2.0f / 3, 1e-6f);
    ck_assert_float_eq_tol(d[2], 2.0f / 3, 1e-6f);
}
END_TEST

START_TEST(test_argmax_accuracy)
{
    const float x[12] = { 0.1f, 0.7f, 0.2f,
                          0.5f, 0.5f, 0.0f,   /* tie: first */
                          -3, -2, -1,
                          1, 1, 1 };
    int32_t am[4];
    nr_argmax_rows(4, 3, x, am);
    ck_assert_int_eq(am[0], 1);
    ck_assert_int_eq(am[1], 0);
    ck_assert_int_eq(am[2], 2);
    ck_assert_int_eq(am[3], 0);
    const int32_t lab[4] = { 1, 1, 2, 0 };
    ck_assert_int_eq(nr_count_correct(4, 3, x, lab), 3);
    ck_assert_int_eq(nr_count_correct(0, 3, x, lab), 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * batchnorm
 * ------------------------------------------------------------------------ */

typedef struct bn_ctx {
    nr_batchnorm_dims d;
    float *in, *gamma, *beta, *out, *mean, *invstd;
} bn_ctx;

static void bn_forward_cb(void *p)
{
    bn_ctx *c = p;
    nr_batchnorm_forward_train(&c->d, c->in, c->gamma, c->beta, c->out, c->mean,
                               c->invstd, NULL, NULL, 0.1f, 1e-5f);
}

START_TEST(test_batchnorm_gradcheck)
{
    static const nr_batchnorm_dims cases[] = { { 3, 2, 5 }, { 8, 3, 1 }, { 2, 1, 6 } };
    const nr_batchnorm_dims d = cases[_i];
    nr_rng r;
    nr_rng_seed(&r, 4200 + (uint64_t)_i, 0);
    const size_t nx = (size_t)d.n * d.c * d.hw, C = (size_t)d.c;
    bn_ctx c = { d, falloc(nx), falloc(C), falloc(C), falloc(nx), falloc(C), falloc(C) };
    float *proj = falloc(nx);
    fill_uniform(&r, c.in, nx, -2, 2);
    for (size_t i = 0; i < nx; i++)
        c.in[i] += 0.5f * (float)((i / (size_t)d.hw) % C);   /* per-channel offsets */
    fill_uniform(&r, c.gamma, C, 0.5f, 1.5f);
    fill_uniform(&r, c.beta, C, -0.5f, 0.5f);
    fill_uniform(&r, proj, nx, -1, 1);
    fill_nan(c.out, nx);
    bn_forward_cb(&c);
    acc_buf dx = acc_new(&r, nx), dg = acc_new(&r, C), db = acc_new(&r, C);
    nr_batchnorm_backward(&d, c.in, proj, c.gamma, c.mean, c.invstd, dx.g, dg.g, db.g);
    acc_delta(&dx);
    acc_delta(&dg);
    acc_delta(&db);
    gc_problem pb = { bn_forward_cb, NULL, c.out, proj, nx, &c };
    gc_check(&pb, c.in, dx.g, nx, 1e-2f, "batchnorm dinput");
    gc_check(&pb, c.gamma, dg.g, C, 1e-2f, "batchnorm dgamma");
    gc_check(&pb, c.beta, db.g, C, 1e-2f, "batchnorm dbeta");
    /* din may be NULL: parameter gradients unchanged */
    acc_buf dg2 = acc_new(&r, C), db2 = acc_new(&r, C);
    nr_batchnorm_backward(&d, c.in, proj, c.gamma, c.mean, c.invstd, NULL, dg2.g, db2.g);
    acc_delta(&dg2);
    acc_delta(&db2);
    ck_assert(rel_err(dg2.g, dg.g, C) < 1e-5);
    ck_assert(rel_err(db2.g, db.g, C) < 1e-5);
    acc_free(&dx); acc_free(&dg); acc_free(&db); acc_free(&dg2); acc_free(&db2);
    free(c.in); free(c.gamma); free(c.beta); free(c.out); free(c.mean); free(c.invstd); free(proj);
}
END_TEST

/* The share pieces (threads each holding part of a batch) against the
 * whole-batch functions: the batch split into three shares, one empty;
 * forward (output, saved and running statistics) and backward (din, dgamma,
 * dbeta) equal within double rounding; and the split does not matter. */
START_TEST(test_batchnorm_shares_match_whole)
{
    static const nr_batchnorm_dims cases[] = { { 7, 3, 5 }, { 5, 4, 1 }, { 1, 2, 9 } };
    const nr_batchnorm_dims d = cases[_i];
    const int C = d.c, HW = d.hw, N = d.n;
    const size_t nx = (size_t)N * C * HW, stride = 2 * (size_t)C;
    const double M = (double)N * HW;
    nr_rng r;
    nr_rng_seed(&r, 4700 + (uint64_t)_i, 0);
    float *in = falloc(nx), *dout = falloc(nx), *gamma = falloc((size_t)C);
    float *beta = falloc((size_t)C);
    fill_uniform(&r, in, nx, -2.0f, 3.0f);
    fill_uniform(&r, dout, nx, -1.0f, 1.0f);
    fill_uniform(&r, gamma, (size_t)C, 0.5f, 1.5f);
    fill_uniform(&r, beta, (size_t)C, -0.5f, 0.5f);
    /* whole batch */
    float *out1 = falloc(nx), *mean1 = falloc((size_t)C), *istd1 = falloc((size_t)C);
    float rm1[4] = { 0.1f, 0.2f, 0.3f, 0.4f }, rv1[4] = { 1.0f, 2.0f, 0.5f, 1.5f };
    nr_batchnorm_forward_train(&d, in, gamma, beta, out1, mean1, istd1, rm1, rv1, 0.1f, 1e-5f);
    acc_buf dx1 = acc_new(&r, nx), dg1 = acc_new(&r, (size_t)C), db1 = acc_new(&r, (size_t)C);
    float *dx2 = fdup(dx1.g, nx), *dg2 = fdup(dg1.g, (size_t)C), *db2 = fdup(db1.g, (size_t)C);
    nr_batchnorm_backward(&d, in, dout, gamma, mean1, istd1, dx1.g, dg1.g, db1.g);

    /* in shares: [0, a), [a, a) (empty), [a, N) */
    const int bounds[4] = { 0, N / 2, N / 2, N };
    double *rows = calloc((size_t)N * stride, sizeof *rows), total[8];
    ck_assert_ptr_nonnull(rows);
    float *out2 = falloc(nx), mean2[4], istd2[4], scale[4], shift[4];
    float rm2[4] = { 0.1f, 0.2f, 0.3f, 0.4f }, rv2[4] = { 1.0f, 2.0f, 0.5f, 1.5f };
    float *scratch = falloc(nr_batchnorm_scratch_floats(1, HW));
    for (int s = 0; s < 3; s++) {
        nr_batchnorm_dims share = { bounds[s + 1] - bounds[s], C, HW };
        size_t at = (size_t)bounds[s] * C * HW;
        nr_batchnorm_share_moments(&share, in + at, rows + (size_t)bounds[s] * stride, stride);
    }
    nr_batchnorm_combine_moments(N, C, HW, rows, stride, total, total + C);
    nr_batchnorm_finish_stats(C, M, total, total + C, gamma, beta, 0.1f, 1e-5f, mean2, istd2,
                              scale, shift, rm2, rv2);
    for (int s = 0; s < 3; s++) {
        nr_batchnorm_dims share = { bounds[s + 1] - bounds[s], C, HW };
        size_t at = (size_t)bounds[s] * C * HW;
        nr_batchnorm_normalize(&share, in + at, scale, shift, out2 + at);
    }
    ck_assert_msg(rel_err(out2, out1, nx) < 1e-6, "out rel err %g", rel_err(out2, out1, nx));
    ck_assert_msg(rel_err(mean2, mean1, (size_t)C) < 1e-6, "mean");
    ck_assert_msg(rel_err(istd2, istd1, (size_t)C) < 1e-6, "invstd");
    ck_assert_msg(rel_err(rm2, rm1, (size_t)C) < 1e-6 && rel_err(rv2, rv1, (size_t)C) < 1e-6,
                  "running statistics");
    /* backward */
    const nr_batchnorm_grad_src src = { .dout = dout, .h = 1, .w = HW };
    for (int s = 0; s < 3; s++) {
        nr_batchnorm_dims share = { bounds[s + 1] - bounds[s], C, HW };
        size_t at = (size_t)bounds[s] * C * HW;
        nr_batchnorm_grad_src part = src;
        part.dout = dout + at;
        nr_batchnorm_share_grad_sums(&share, in + at, &part, mean1, istd1,
                                     rows + (size_t)bounds[s] * stride, stride, scratch);
    }
    nr_batchnorm_combine(N, 2 * C, rows, stride, total);
    for (int ch = 0; ch < C; ch++) {
        db2[ch] += (float)total[ch];
        dg2[ch] += (float)total[C + ch];
    }
    float k[4], mg[4], mgx[4];
    nr_batchnorm_grad_coeffs(C, M, gamma, istd1, total, total + C, k, mg, mgx);
    for (int s = 0; s < 3; s++) {
        nr_batchnorm_dims share = { bounds[s + 1] - bounds[s], C, HW };
        size_t at = (size_t)bounds[s] * C * HW;
        nr_batchnorm_grad_src part = src;
        part.dout = dout + at;
        nr_batchnorm_share_input_grad(&share, in + at, &part, mean1, istd1, k, mg, mgx, false,
                                      dx2 + at, scratch);
    }
    ck_assert_msg(rel_err(dx2, dx1.g, nx) < 1e-6, "din rel err %g", rel_err(dx2, dx1.g, nx));
    ck_assert_msg(rel_err(dg2, dg1.g, (size_t)C) < 1e-6, "dgamma");
    ck_assert_msg(rel_err(db2, db1.g, (size_t)C) < 1e-6, "dbeta");
    /* a share's rows do not depend on where the split falls */
    double *rows2 = calloc((size_t)N * stride, sizeof *rows2);
    ck_assert_ptr_nonnull(rows2);
    nr_batchnorm_share_grad_sums(&d, in, &src, mean1, istd1, rows2, stride, scratch);
    ck_assert_mem_eq(rows, rows2, (size_t)N * stride * sizeof *rows);
    free(rows2);
    acc_free(&dx1); acc_free(&dg1); acc_free(&db1);
    free(in); free(dout); free(gamma); free(beta); free(out1); free(mean1); free(istd1);
    free(rows); free(out2); free(dx2); free(dg2); free(db2); free(scratch);
}
END_TEST

/* The statistics of the share pieces (float partial sums in blocks, per-plane
 * moments combined) against a long-double two-pass reference, on channels
 * whose mean is large against their spread (1e4 +- 1: a one-pass sum of
 * squares would cancel all its digits) and on long planes (several blocks). */
START_TEST(test_batchnorm_moments_large_mean)
{
    static const nr_batchnorm_dims cases[] = { { 3, 3, 777 }, { 2, 2, 4096 }, { 5, 1, 9 } };
    const nr_batchnorm_dims d = cases[_i];
    const size_t nx = (size_t)d.n * d.c * d.hw, stride = 2 * (size_t)d.c;
    nr_rng r;
    nr_rng_seed(&r, 5100 + (uint64_t)_i, 0);
    float *in = falloc(nx);
    fill_uniform(&r, in, nx, -1.0f, 1.0f);
    for (size_t i = 0; i < nx; i++)
        in[i] += 1e4f * (float)(1 + (i / (size_t)d.hw) % (size_t)d.c);
    double *rows = calloc((size_t)d.n * stride, sizeof *rows), sum[3], m2[3];
    ck_assert_ptr_nonnull(rows);
    nr_batchnorm_share_moments(&d, in, rows, stride);
    nr_batchnorm_combine_moments(d.n, d.c, d.hw, rows, stride, sum, m2);
    for (int ch = 0; ch < d.c; ch++) {
        long double s = 0, q = 0;
        for (int i = 0; i < d.n; i++)
            for (int p = 0; p < d.hw; p++)
                s += in[((size_t)i * d.c + ch) * d.hw + p];
        const long double mu = s / ((long double)d.n * d.hw);
        for (int i = 0; i < d.n; i++)
            for (int p = 0; p < d.hw; p++) {
                long double t = in[((size_t)i * d.c + ch) * d.hw + p] - mu;
                q += t * t;
            }
        ck_assert_msg(fabs((double)(sum[ch] - s)) <= 1e-12 * fabs((double)s), "sum ch %d: %.17g vs %.17Lg", ch, sum[ch], s);
        ck_assert_msg(fabs((double)(m2[ch] - q)) <= 1e-5 * (double)q, "m2 ch %d: %g vs %g", ch,
                      m2[ch], (double)q);
    }
    free(in);
    free(rows);
}
END_TEST

/* The fused forms (batchnorm -> relu, batchnorm -> relu -> maxpool 2x2/2)
 * against the separate kernels in sequence, bit for bit: the forward output
 * and argmax, and the backward (parameter sums, din accumulated and
 * overwritten, and the evaluation-mode backward of a frozen batchnorm). */
START_TEST(test_batchnorm_fused_match_separate)
{
    static const struct { int n, c, h, w; } cases[] = {
        { 1, 3, 2, 2 }, { 3, 5, 6, 10 }, { 3, 1, 4, 14 }, { 1, 7, 1, 1 }, { 3, 2, 1, 1 },
        { 2, 3, 28, 28 } };
    const int N = cases[_i].n, C = cases[_i].c, H = cases[_i].h, W = cases[_i].w, HW = H * W;
    const bool pool = H % 2 == 0 && W % 2 == 0;
    const nr_batchnorm_dims d = { N, C, HW };
    const nr_pool2d_dims pd = { N, C, H, W, 2, 2 };
    const size_t nx = (size_t)N * C * HW, np = pool ? nx / 4 : 1, stride = 2 * (size_t)C;
    const double M = (double)N * HW;
    nr_rng r;
    nr_rng_seed(&r, 5300 + (uint64_t)_i, 0);
    float *in = falloc(nx), *gamma = falloc((size_t)C), *beta = falloc((size_t)C);
    fill_uniform(&r, in, nx, -2.0f, 3.0f);
    fill_uniform(&r, gamma, (size_t)C, 0.5f, 1.5f);
    fill_uniform(&r, beta, (size_t)C, -0.5f, 0.5f);
    float *scratch = falloc(nr_batchnorm_scratch_floats(H, W));
    float mean[8], istd[8], scale[8], shift[8];
    double *rows = calloc((size_t)N * stride, sizeof *rows), total[16];
    ck_assert_ptr_nonnull(rows);
    nr_batchnorm_share_moments(&d, in, rows, stride);
    nr_batchnorm_combine_moments(N, C, HW, rows, stride, total, total + C);
    nr_batchnorm_finish_stats(C, M, total, total + C, gamma, beta, 0.1f, 1e-5f, mean, istd,
                              scale, shift, NULL, NULL);
    /* forward: separate */
    float *y = falloc(nx), *relu = falloc(nx), *pooled = falloc(np);
    int32_t *am = calloc(np, sizeof *am);
    ck_assert_ptr_nonnull(am);
    fill_nan(y, nx);
    nr_batchnorm_normalize(&d, in, scale, shift, y);
    nr_relu_forward(nx, y, relu);
    if (pool)
        nr_maxpool_forward(&pd, relu, pooled, am);
    /* forward: fused */
    float *relu2 = falloc(nx), *pooled2 = falloc(np);
    int32_t *am2 = calloc(np, sizeof *am2);
    ck_assert_ptr_nonnull(am2);
    fill_nan(relu2, nx);
    nr_batchnorm_normalize_relu(&d, in, scale, shift, relu2);
    ck_assert_mem_eq(relu2, relu, nx * sizeof *relu);
    if (pool) {
        fill_nan(pooled2, np);
        nr_batchnorm_normalize_relu_maxpool(&d, H, W, in, scale, shift, pooled2, am2, scratch);
        ck_assert_mem_eq(pooled2, pooled, np * sizeof *pooled);
        ck_assert_mem_eq(am2, am, np * sizeof *am);
    }
    /* backward: the gradient of the last output, through the separate
     * backward passes to the batchnorm's output gradient g */
    float *gtop = falloc(pool ? np : nx), *gmid = falloc(nx), *g = falloc(nx);
    fill_uniform(&r, gtop, pool ? np : nx, -1.0f, 1.0f);
    if (pool) {
        nr_maxpool_backward_set(&pd, gtop, am, gmid);
        nr_relu_backward_set(nx, relu, gmid, g);
    } else {
        nr_relu_backward_set(nx, relu, gtop, g);
    }
    const nr_batchnorm_grad_src plain = { .dout = g, .h = H, .w = W };
    nr_batchnorm_grad_src fused = { .dout = gtop, .out = relu, .h = H, .w = W };
    if (pool) {
        fused.out = pooled;
        fused.argmax = am;
    }
    double *rows2 = calloc((size_t)N * stride, sizeof *rows2);
    ck_assert_ptr_nonnull(rows2);
    nr_batchnorm_share_grad_sums(&d, in, &plain, mean, istd, rows, stride, scratch);
    nr_batchnorm_share_grad_sums(&d, in, &fused, mean, istd, rows2, stride, scratch);
    ck_assert_mem_eq(rows2, rows, (size_t)N * stride * sizeof *rows);
    nr_batchnorm_combine(N, 2 * C, rows, stride, total);
    float k[8], mg[8], mgx[8];
    nr_batchnorm_grad_coeffs(C, M, gamma, istd, total, total + C, k, mg, mgx);
    acc_buf dx1 = acc_new(&r, nx);
    float *dx2 = fdup(dx1.g, nx), *dx3 = falloc(nx), *dx4 = falloc(nx);
    nr_batchnorm_share_input_grad(&d, in, &plain, mean, istd, k, mg, mgx, false, dx1.g, scratch);
    nr_batchnorm_share_input_grad(&d, in, &fused, mean, istd, k, mg, mgx, false, dx2, scratch);
    ck_assert_mem_eq(dx2, dx1.g, nx * sizeof *dx2);
    /* overwritten: the accumulated form's increment, exactly */
    fill_nan(dx3, nx);
    nr_batchnorm_share_input_grad(&d, in, &fused, mean, istd, k, mg, mgx, true, dx3, scratch);
    acc_delta(&dx1);
    ck_assert_msg(rel_err(dx3, dx1.g, nx) < 1e-5, "set vs accumulate %g",
                  rel_err(dx3, dx1.g, nx));
    /* against the whole-batch reference */
    memset(dx4, 0, nx * sizeof *dx4);
    float dgr[8] = { 0 }, dbr[8] = { 0 };
    nr_batchnorm_backward(&d, in, g, gamma, mean, istd, dx4, dgr, dbr);
    ck_assert_msg(rel_err(dx3, dx4, nx) < 1e-5, "din vs reference %g", rel_err(dx3, dx4, nx));
    for (int ch = 0; ch < C; ch++) {
        ck_assert_double_eq_tol(total[ch], dbr[ch], 1e-5 * (1 + fabs(dbr[ch])));
        ck_assert_double_eq_tol(total[C + ch], dgr[ch], 1e-5 * (1 + fabs(dgr[ch])));
    }
    /* evaluation mode (frozen): din = g * eval scale, as nr_batchnorm_backward_eval */
    const float rmean[8] = { 0.1f, -0.2f, 0.3f, 0.0f, 1.0f, -1.0f, 0.5f, 2.0f };
    const float rvar[8] = { 1.0f, 0.5f, 2.0f, 1.5f, 0.25f, 3.0f, 1.0f, 0.75f };
    nr_batchnorm_eval_coeffs(C, gamma, beta, rmean, rvar, 1e-5f, scale, shift);
    memset(dx4, 0, nx * sizeof *dx4);
    nr_batchnorm_backward_eval(&d, g, gamma, rvar, 1e-5f, dx4);
    fill_nan(dx3, nx);
    nr_batchnorm_share_input_grad(&d, NULL, &fused, NULL, NULL, scale, NULL, NULL, true, dx3,
                                  scratch);
    ck_assert_mem_eq(dx3, dx4, nx * sizeof *dx3);
    acc_free(&dx1);
    free(in); free(gamma); free(beta); free(scratch); free(rows); free(rows2);
    free(y); free(relu); free(pooled); free(am); free(relu2); free(pooled2); free(am2);
    free(gtop); free(gmid); free(g); free(dx2); free(dx3); free(dx4);
}
END_TEST

/* Every instruction set the CPU runs gives the portable path's bits: the
 * statistics' partial sums, the normalisations, the fused pooling (values and argmax), the backward's sums
 * and input gradients from a plain, a relu-masked and a pooled gradient, on
 * ragged shapes (rows not a multiple of 8 or shorter than 8 windows, planes
 * not a multiple of 8) with many ties (quantised inputs, relu zeros). */
START_TEST(test_batchnorm_isas_same_bits)
{
    static const struct { int n, c, h, w; } cases[] = {
        { 1, 3, 2, 2 }, { 3, 2, 6, 10 }, { 3, 1, 4, 14 }, { 1, 2, 14, 14 }, { 3, 2, 2, 18 },
        { 2, 3, 28, 28 }, { 1, 2, 10, 34 }, { 3, 2, 7, 7 }, { 1, 3, 1, 1 }, { 2, 2, 8, 16 } };
    if (!nr_batchnorm_isa_runs(NR_BATCHNORM_AVX2)) {
        fprintf(stderr, "test_batchnorm_isas_same_bits: no AVX2 on this CPU, skipped\n");
        return;
    }
    const int N = cases[_i].n, C = cases[_i].c, H = cases[_i].h, W = cases[_i].w, HW = H * W;
    const bool pool = H % 2 == 0 && W % 2 == 0;
    const nr_batchnorm_dims d = { N, C, HW };
    const size_t nx = (size_t)N * C * HW, np = pool ? nx / 4 : 1, stride = 2 * (size_t)C;
    nr_rng r;
    nr_rng_seed(&r, 5400 + (uint64_t)_i, 0);
    float *in = falloc(nx), *gtop = falloc(nx), *acc0 = falloc(nx);
    fill_uniform(&r, in, nx, -2.0f, 3.0f);
    for (size_t j = 0; j < nx; j++)
        in[j] = roundf(in[j] * 2.0f) * 0.5f;   /* ties */
    fill_uniform(&r, gtop, nx, -1.0f, 1.0f);
    fill_uniform(&r, acc0, nx, -1.0f, 1.0f);
    float scale[3], shift[3], mean[3], istd[3], k[3], mg[3], mgx[3];
    for (int ch = 0; ch < C; ch++) {
        mean[ch] = 0.25f + 0.1f * ch;
        istd[ch] = 0.8f + 0.3f * ch;
        scale[ch] = istd[ch] * (1.0f + 0.2f * ch);
        shift[ch] = -mean[ch] * scale[ch] + 0.05f;
        k[ch] = 0.9f - 0.2f * ch;
        mg[ch] = 0.01f * (ch + 1);
        mgx[ch] = -0.03f * (ch + 1);
    }
    const nr_batchnorm_isa isas[2] = { NR_BATCHNORM_PORTABLE, NR_BATCHNORM_AVX2 };
    float *y[2], *relu[2], *pooled[2], *scr[2], *dx[2][4];
    int32_t *am[2];
    double *rows[2][3], *moments[2];
    for (int v = 0; v < 2; v++) {
        const nr_batchnorm_isa isa = isas[v];
        y[v] = falloc(nx);
        relu[v] = falloc(nx);
        pooled[v] = falloc(np);
        am[v] = calloc(np, sizeof *am[v]);
        ck_assert_ptr_nonnull(am[v]);
        scr[v] = falloc(nr_batchnorm_scratch_floats(H, W));
        fill_nan(y[v], nx);
        fill_nan(relu[v], nx);
        fill_nan(pooled[v], np);
        moments[v] = calloc((size_t)N * stride, sizeof *moments[v]);
        ck_assert_ptr_nonnull(moments[v]);
        nr_batchnorm_share_moments_isa(isa, &d, acc0, moments[v], stride);   /* not quantised */
        nr_batchnorm_normalize_isa(isa, &d, in, scale, shift, false, y[v]);
        nr_batchnorm_normalize_isa(isa, &d, in, scale, shift, true, relu[v]);
        if (pool) {
            nr_batchnorm_normalize_relu_maxpool_isa(isa, &d, H, W, in, scale, shift, pooled[v],
                                                    NULL, scr[v]);
            nr_batchnorm_normalize_relu_maxpool_isa(isa, &d, H, W, in, scale, shift, pooled[v],
                                                    am[v], scr[v]);
        }
        /* the gradient sources: plain, through the relu, through the pool */
        nr_batchnorm_grad_src src[3] = { { .dout = gtop, .h = H, .w = W },
                                         { .dout = gtop, .out = relu[v], .h = H, .w = W },
                                         { .dout = gtop, .out = pooled[v], .argmax = am[v],
                                           .h = H, .w = W } };
        for (int s = 0; s < 3; s++) {
            rows[v][s] = calloc((size_t)N * stride, sizeof *rows[v][s]);
            ck_assert_ptr_nonnull(rows[v][s]);
            if (s == 2 && !pool)
                continue;
            nr_batchnorm_share_grad_sums_isa(isa, &d, in, &src[s], mean, istd, rows[v][s],
                                             stride, scr[v]);
        }
        for (int s = 0; s < 4; s++) {
            dx[v][s] = fdup(acc0, nx);
            const int from = s < 3 ? s : 1;   /* s 3: the eval form through the relu */
            if (from == 2 && !pool)
                continue;
            nr_batchnorm_share_input_grad_isa(isa, &d, in, &src[from], mean, istd, k,
                                              s < 3 ? mg : NULL, mgx, s == 1, dx[v][s], scr[v]);
        }
    }
    ck_assert_mem_eq(moments[1], moments[0], (size_t)N * stride * sizeof *moments[0]);
    ck_assert_mem_eq(y[1], y[0], nx * sizeof *y[0]);
    ck_assert_mem_eq(relu[1], relu[0], nx * sizeof *relu[0]);
    ck_assert_mem_eq(pooled[1], pooled[0], np * sizeof *pooled[0]);
    ck_assert_mem_eq(am[1], am[0], np * sizeof *am[0]);
    for (int s = 0; s < 3; s++)
        ck_assert_mem_eq(rows[1][s], rows[0][s], (size_t)N * stride * sizeof *rows[0][s]);
    for (int s = 0; s < 4; s++)
        ck_assert_mem_eq(dx[1][s], dx[0][s], nx * sizeof *dx[0][s]);
    for (int v = 0; v < 2; v++) {
        free(y[v]); free(relu[v]); free(pooled[v]); free(am[v]); free(scr[v]); free(moments[v]);
        for (int s = 0; s < 3; s++)
            free(rows[v][s]);
        for (int s = 0; s < 4; s++)
            free(dx[v][s]);
    }
    free(in); free(gtop); free(acc0);
}
END_TEST

START_TEST(test_batchnorm_statistics)
{
    /* n = 2, c = 2, hw = 2. channel 0 values {1, 2, 3, 6}: mean 3, biased var
     * (4+1+0+9)/4 = 3.5, unbiased 14/3. channel 1 values {-1, -1, 1, 1}: mean 0,
     * var 1, unbiased 4/3. Layout [n][c][hw]. */
    const nr_batchnorm_dims d = { 2, 2, 2 };
    const float in[8] = { 1, 2, -1, -1, 3, 6, 1, 1 };
    const float gamma[2] = { 2.0f, 1.0f }, beta[2] = { 0.5f, -1.0f };
    float out[8], mean[2], invstd[2];
    float rm[2] = { 0.0f, 1.0f }, rv[2] = { 1.0f, 2.0f };
    const float eps = 1e-5f, mom = 0.1f;
    nr_batchnorm_forward_train(&d, in, gamma, beta, out, mean, invstd, rm, rv, mom, eps);
    ck_assert_float_eq_tol(mean[0], 3.0f, 1e-6f);
    ck_assert_float_eq_tol(mean[1], 0.0f, 1e-6f);
    ck_assert_float_eq_tol(invstd[0], (float)(1.0 / sqrt(3.5 + 1e-5)), 1e-6f);
    ck_assert_float_eq_tol(invstd[1], (float)(1.0 / sqrt(1.0 + 1e-5)), 1e-6f);
    /* running = 0.9 * running + 0.1 * batch (unbiased var) */
    ck_assert_float_eq_tol(rm[0], 0.3f, 1e-6f);
    ck_assert_float_eq_tol(rm[1], 0.9f, 1e-6f);
    ck_assert_float_eq_tol(rv[0], 0.9f + 0.1f * 14.0f / 3.0f, 1e-6f);
    ck_assert_float_eq_tol(rv[1], 1.8f + 0.1f * 4.0f / 3.0f, 1e-6f);
    /* out[0] = 2 * (1 - 3) / sqrt(3.5) + 0.5 */
    ck_assert_float_eq_tol(out[0], (float)(2.0 * -2.0 / sqrt(3.5 + 1e-5) + 0.5), 1e-5f);
    ck_assert_float_eq_tol(out[2], (float)(-1.0 / sqrt(1.0 + 1e-5) - 1.0), 1e-5f);
    /* normalised channels have mean beta and std |gamma| */
    double s0 = 0, q0 = 0;
    const int idx0[4] = { 0, 1, 4, 5 };
    for (int i = 0; i < 4; i++) {
        s0 += out[idx0[i]];
        q0 += (out[idx0[i]] - 0.5) * (out[idx0[i]] - 0.5);
    }
    ck_assert_double_eq_tol(s0 / 4, 0.5, 1e-5);
    ck_assert_double_eq_tol(q0 / 4, 4.0, 1e-3);

    /* a second step keeps averaging */
    nr_batchnorm_forward_train(&d, in, gamma, beta, out, mean, invstd, rm, rv, mom, eps);
    ck_assert_float_eq_tol(rm[0], 0.9f * 0.3f + 0.3f, 1e-6f);

    /* eval mode uses the running statistics, not the batch */
    const float erm[2] = { 1.0f, -2.0f }, erv[2] = { 4.0f, 0.25f };
    float eout[8];
    nr_batchnorm_forward_eval(&d, in, gamma, beta, erm, erv, eps, eout);
    for (int i = 0; i < 8; i++) {
        int ch = (i / 2) % 2;
        double want = gamma[ch] * (in[i] - erm[ch]) / sqrt(erv[ch] + 1e-5) + beta[ch];
        ck_assert_float_eq_tol(eout[i], (float)want, 1e-5f);
    }
    /* eval in place */
    float tmp[8];
    memcpy(tmp, in, sizeof tmp);
    nr_batchnorm_forward_eval(&d, tmp, gamma, beta, erm, erv, eps, tmp);
    ck_assert_mem_eq(tmp, eout, sizeof tmp);
}
END_TEST

/* ------------------------------------------------------------------------
 * dropout
 * ------------------------------------------------------------------------ */

typedef struct drop_ctx {
    size_t n;
    float rate;
    nr_rng seed_state;
    float *in, *out;
    uint8_t *mask;
} drop_ctx;

static void drop_forward_cb(void *p)
{
    drop_ctx *c = p;
    nr_rng r = c->seed_state;   /* same mask every call */
    nr_dropout_forward(c->n, c->rate, &r, c->in, c->out, c->mask);
}

START_TEST(test_dropout_gradcheck)
{
    const size_t n = 200;
    nr_rng r;
    nr_rng_seed(&r, 4300, 0);
    drop_ctx c = { n, 0.4f, { 0, 0 }, falloc(n), falloc(n), malloc(n) };
    ck_assert_ptr_nonnull(c.mask);
    nr_rng_seed(&c.seed_state, 99, NR_RNG_STREAM_DROPOUT);
    float *proj = falloc(n);
    fill_uniform(&r, c.in, n, -1, 1);
    fill_uniform(&r, proj, n, -1, 1);
    drop_forward_cb(&c);
    acc_buf din = acc_new(&r, n);
    nr_dropout_backward(n, c.rate, c.mask, proj, din.g);
    acc_delta(&din);
    int kept = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(c.mask[i] == 0 || c.mask[i] == 1);
        kept += c.mask[i];
        ck_assert_float_eq_tol(din.g[i], c.mask[i] ? proj[i] / 0.6f : 0.0f, 1e-6f);
    }
    ck_assert(kept > 0 && kept < (int)n);
    gc_problem pb = { drop_forward_cb, NULL, c.out, proj, n, &c };
    gc_check(&pb, c.in, din.g, n, 1e-2f, "dropout");
    acc_free(&din);
    free(c.in); free(c.out); free(c.mask); free(proj);
}
END_TEST

START_TEST(test_dropout_behaviour)
{
    const size_t N = 100000;
    float *in = falloc(N), *out = falloc(N), *out2 = falloc(N);
    uint8_t *mask = malloc(N), *mask2 = malloc(N);
    ck_assert_ptr_nonnull(mask);
    ck_assert_ptr_nonnull(mask2);
    nr_rng r, r2;
    nr_rng_seed(&r, 1, NR_RNG_STREAM_DROPOUT);
    for (size_t i = 0; i < N; i++)
        in[i] = (float)i * 1e-3f - 7.0f;

    /* rate 0: identity, all kept, no random numbers consumed */
    nr_rng before = r;
    nr_dropout_forward(N, 0.0f, &r, in, out, mask);
    ck_assert_mem_eq(out, in, N * sizeof *in);
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(mask[i], 1);
    ck_assert(before.state == r.state && before.inc == r.inc);

    /* rate 0.3: ~70% kept, mean of dropout(ones) ~ 1 */
    for (size_t i = 0; i < N; i++)
        in[i] = 1.0f;
    nr_dropout_forward(N, 0.3f, &r, in, out, mask);
    double s = 0.0;
    size_t kept = 0;
    for (size_t i = 0; i < N; i++) {
        s += out[i];
        kept += mask[i];
        ck_assert(out[i] == 0.0f || fabsf(out[i] - 1.0f / 0.7f) < 1e-6f);
    }
    ck_assert_double_eq_tol(s / N, 1.0, 0.02);
    ck_assert_double_eq_tol((double)kept / N, 0.7, 0.01);

    /* deterministic per seed; a different seed gives a different mask */
    nr_rng_seed(&r, 5, NR_RNG_STREAM_DROPOUT);
    nr_rng_seed(&r2, 5, NR_RNG_STREAM_DROPOUT);
    nr_dropout_forward(N, 0.5f, &r, in, out, mask);
    nr_dropout_forward(N, 0.5f, &r2, in, out2, mask2);
    ck_assert_mem_eq(mask, mask2, N);
    ck_assert_mem_eq(out, out2, N * sizeof *out);
    nr_rng_seed(&r2, 6, NR_RNG_STREAM_DROPOUT);
    nr_dropout_forward(N, 0.5f, &r2, in, out2, mask2);
    ck_assert(memcmp(mask, mask2, N) != 0);

    /* in place */
    memcpy(out2, in, N * sizeof *in);
    nr_rng_seed(&r, 5, NR_RNG_STREAM_DROPOUT);
    nr_dropout_forward(N, 0.5f, &r, out2, out2, mask2);
    ck_assert_mem_eq(out2, out, N * sizeof *out);
    free(in); free(out); free(out2); free(mask); free(mask2);
}
END_TEST

/* ------------------------------------------------------------------------
 * optimizers: 3 steps on p0 = [1, -2] with gradients [0.5, -1], [0.25, 0.5],
 * [-0.5, 0]; expected values computed by hand (float64) from the PyTorch
 * update rules.
 * ------------------------------------------------------------------------ */

static const float opt_p0[2] = { 1.0f, -2.0f };
static const float opt_g[3][2] = { { 0.5f, -1.0f }, { 0.25f, 0.5f }, { -0.5f, 0.0f } };

static void check_steps(const char *what, float p[3][2], const double want[3][2])
{
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 2; i++)
            ck_assert_msg(fabs(p[t][i] - want[t][i]) <= 2e-6 * fmax(1.0, fabs(want[t][i])),
                          "%s step %d param %d: got %.9g want %.9g", what, t + 1, i,
                          p[t][i], want[t][i]);
}

static void run_sgd(const nr_sgd_params *sp, float out[3][2])
{
    float p[2] = { opt_p0[0], opt_p0[1] };
    float buf[2] = { 123.0f, -456.0f };   /* ignored before step 1 */
    for (int t = 0; t < 3; t++) {
        nr_sgd_step(2, p, opt_g[t], sp->momentum != 0.0f ? buf : NULL, sp, t + 1);
        out[t][0] = p[0];
        out[t][1] = p[1];
    }
}

/* The vectorised SGD against the scalar update rule, bit for bit, for every
 * count remainder and variant (plain, momentum, nesterov + wd, dampening). */
START_TEST(test_sgd_vector_paths)
{
    static const nr_sgd_params variants[] = {
        { 0.1f, 0.0f, 0.0f, 0.0f, 0 }, { 0.05f, 0.0f, 0.0f, 0.01f, 0 },
        { 0.1f, 0.9f, 0.0f, 0.0f, 0 }, { 0.1f, 0.9f, 0.0f, 0.01f, 1 },
        { 0.1f, 0.9f, 0.1f, 0.01f, 0 },
    };
    nr_rng r;
    nr_rng_seed(&r, 31, 0);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const nr_sgd_params *p = &variants[v];
        for (size_t count = 0; count < 14; count++) {
            float w[14], g[14], b[14], w2[14], b2[14];
            fill_uniform(&r, w, 14, -1, 1);
            fill_uniform(&r, b, 14, -1, 1);
            memcpy(w2, w, sizeof w);
            memcpy(b2, b, sizeof b);
            for (long t = 1; t <= 3; t++) {
                fill_uniform(&r, g, 14, -1, 1);
                nr_sgd_step(count, w, g, b, p, t);
                for (size_t i = 0; i < count; i++) {
                    float gi = g[i];
                    if (p->weight_decay != 0.0f)
                        gi += p->weight_decay * w2[i];
                    if (p->momentum != 0.0f) {
                        float bi = t == 1 ? gi
                                          : p->momentum * b2[i] + (1.0f - p->dampening) * gi;
                        b2[i] = bi;
                        gi = p->nesterov ? gi + p->momentum * bi : bi;
                    }
                    w2[i] -= p->lr * gi;
                }
                ck_assert_mem_eq(w, w2, count * sizeof(float));
                if (p->momentum != 0.0f)
                    ck_assert_mem_eq(b, b2, count * sizeof(float));
            }
        }
    }
}
END_TEST

START_TEST(test_sgd_steps)
{
    float got[3][2];
    /* plain: p -= 0.1 g */
    nr_sgd_params plain = { 0.1f, 0.0f, 0.0f, 0.0f, 0 };
    const double want_plain[3][2] = { { 0.95, -1.9 }, { 0.925, -1.95 }, { 0.975, -1.95 } };
    run_sgd(&plain, got);
    check_steps("sgd", got, want_plain);
    /* momentum 0.9: buf = g1; buf = 0.9 buf + g ... */
    nr_sgd_params mom = { 0.1f, 0.9f, 0.0f, 0.0f, 0 };
    const double want_mom[3][2] = { { 0.95, -1.9 }, { 0.88, -1.86 }, { 0.867, -1.824 } };
    run_sgd(&mom, got);
    check_steps("sgd momentum", got, want_mom);
    /* nesterov + weight decay 0.01 */
    nr_sgd_params nest = { 0.1f, 0.9f, 0.0f, 0.01f, 1 };
    const double want_nest[3][2] = { { 0.9031, -1.8062 },
                                     { 0.81257411, -1.81514822 },
                                     { 0.847869708, -1.77637842 } };
    run_sgd(&nest, got);
    check_steps("sgd nesterov wd", got, want_nest);
    /* dampening 0.1 + weight decay 0.01: step 1 uses buf = g, undamped */
    nr_sgd_params damp = { 0.1f, 0.9f, 0.1f, 0.01f, 0 };
    const double want_damp[3][2] = { { 0.949, -1.898 },
                                     { 0.8797459, -1.8494918 },
                                     { 0.861625439, -1.80416988 } };
    run_sgd(&damp, got);
    check_steps("sgd dampening wd", got, want_damp);
}
END_TEST

static void run_adam(int decoupled, float wd, float out[3][2])
{
    nr_adam_params ap = { 0.1f, 0.9f, 0.999f, 1e-8f, wd };
    float p[2] = { opt_p0[0], opt_p0[1] }, m[2] = { 0, 0 }, v[2] = { 0, 0 };
    for (int t = 0; t < 3; t++) {
        if (decoupled)
            nr_adamw_step(2, p, opt_g[t], m, v, &ap, t + 1);
        else
            nr_adam_step(2, p, opt_g[t], m, v, &ap, t + 1);
        out[t][0] = p[0];
        out[t][1] = p[1];
    }
}

START_TEST(test_adam_steps)
{
    float got[3][2];
    /* lr 0.1, betas (0.9, 0.999), eps 1e-8 */
    const double want_adam[3][2] = { { 0.900000002, -1.9 },
                                     { 0.80678204, -1.8733663 },
                                     { 0.795703734, -1.85277837 } };
    run_adam(0, 0.0f, got);
    check_steps("adam", got, want_adam);
    /* Adam, weight_decay 0.1 as L2 on the gradient */
    const double want_l2[3][2] = { { 0.900000002, -1.9 },
                                   { 0.805009766, -1.85374726 },
                                   { 0.775511505, -1.80892934 } };
    run_adam(0, 0.1f, got);
    check_steps("adam l2", got, want_l2);
    /* AdamW, weight_decay 0.1 decoupled: p *= 1 - lr*wd first */
    const double want_w[3][2] = { { 0.890000002, -1.88 },
                                  { 0.78788204, -1.8345663 },
                                  { 0.768924913, -1.7956327 } };
    run_adam(1, 0.1f, got);
    check_steps("adamw", got, want_w);
    /* AdamW without decay = Adam */
    float a[3][2], w[3][2];
    run_adam(0, 0.0f, a);
    run_adam(1, 0.0f, w);
    ck_assert_mem_eq(a, w, sizeof a);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc;

    tc = tcase_create("rng");
    tcase_add_test(tc, test_rng_deterministic_and_streams);
    tcase_add_test(tc, test_rng_advance);
    tcase_add_test(tc, test_rng_uniform);
    tcase_add_test(tc, test_rng_below);
    tcase_add_test(tc, test_rng_normal);
    tcase_add_test(tc, test_rng_shuffle);
    tcase_add_test(tc, test_init_variance);
    suite_add_tcase(s, tc);

    tc = tcase_create("gradcheck");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gradcheck_detects_errors);
    tcase_add_loop_test(tc, test_conv_gradcheck, 0, 2 * N_CONV_CASES);
    tcase_add_loop_test(tc, test_pool_gradcheck, 0, 4 * N_POOL_CASES);
    tcase_add_loop_test(tc, test_dense_gradcheck, 0, 6);
    tcase_add_loop_test(tc, test_activation_gradcheck, 0, 4);
    tcase_add_loop_test(tc, test_loss_gradcheck, 0, 8);
    tcase_add_test(tc, test_weighted_loss_golden);
    tcase_add_loop_test(tc, test_batchnorm_gradcheck, 0, 3);
    tcase_add_test(tc, test_dropout_gradcheck);
    suite_add_tcase(s, tc);

    tc = tcase_create("backends");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_conv_blas_vs_ref, 0, 30);
    tcase_add_loop_test(tc, test_pool_fast_vs_ref, 0, 24);
    tcase_add_loop_test(tc, test_dense_blas_vs_ref, 0, 15);
    tcase_add_loop_test(tc, test_gemm_blas_vs_ref, 0, 8);
    tcase_add_loop_test(tc, test_conv_batched_vs_ref, 0, 30);
    tcase_add_loop_test(tc, test_conv_direct_vs_ref, 0, 40);
    tcase_add_loop_test(tc, test_conv_fused_matches_separate, 0, 12);
    tcase_add_test(tc, test_conv_deterministic);
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_add_test(tc, test_conv_golden);
    tcase_add_test(tc, test_pool_golden);
    tcase_add_test(tc, test_dense_golden);
    tcase_add_test(tc, test_activation_values);
    tcase_add_test(tc, test_fast_activation_accuracy);
    tcase_add_test(tc, test_relu_vector_paths);
    tcase_add_test(tc, test_maxpool_wide_and_set);
    tcase_add_test(tc, test_softmax_ce_golden);
    tcase_add_test(tc, test_softmax_ce_huge_logits);
    tcase_add_test(tc, test_softmax_rows_sum_to_one);
    tcase_add_test(tc, test_mse_golden);
    tcase_add_test(tc, test_argmax_accuracy);
    tcase_add_test(tc, test_batchnorm_statistics);
    tcase_add_loop_test(tc, test_batchnorm_shares_match_whole, 0, 3);
    tcase_add_loop_test(tc, test_batchnorm_moments_large_mean, 0, 3);
    tcase_add_loop_test(tc, test_batchnorm_fused_match_separate, 0, 6);
    tcase_add_loop_test(tc, test_batchnorm_isas_same_bits, 0, 10);
    tcase_add_test(tc, test_dropout_behaviour);
    suite_add_tcase(s, tc);

    tc = tcase_create("optim");
    tcase_add_test(tc, test_sgd_steps);
    tcase_add_test(tc, test_sgd_vector_paths);
    tcase_add_test(tc, test_adam_steps);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kernels_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
