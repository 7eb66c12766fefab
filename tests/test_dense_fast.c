/* test_dense_fast.c - Check tests for the dense layer's fast path
 * (kernels/dense_sparse.c, the whole-batch weight gradient in
 * layers/dense.c and net.c, nr_net_backward_update):
 *
 * - the kernels against nr_ref_dense_* on random shapes (n = 1, odd sizes,
 *   sizes around the 8/16/64 tiles) and input densities (0%, 10%, 20%, 50%,
 *   100% nonzeros), outputs pre-filled with NaN, gradients accumulated onto
 *   a random prior;
 * - the sparse forward and weight gradient on each instruction set (AVX2,
 *   AVX-512) the CPU has, the AVX-512 ones bit for bit the AVX2 ones;
 * - the transposed weights exactly, split into 1..3 parts;
 * - the weight gradient split into 1..3 parts (each part in any order)
 *   matches too, and the same split gives the same bits again;
 * - whole nets through the thread pool: 1, 2, 3 threads against 1 thread
 *   and against the reference backend, the same bits for the same thread
 *   count, and the update hook of nr_net_backward_update (each parameter
 *   once, after its gradient is complete; SGD through it equals one
 *   nr_sgd_step).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_buf.h"
#include "net_fixture.h"
#include "netrun/graph.h"
#include "netrun/kernels.h"
#include "netrun/net.h"
#include "netrun/netspec.h"

static const double TOL = 2e-5;

/* x[i] nonzero (uniform in [0.01, 1), mostly positive like pixels and
 * post-relu values, some negative) with probability `density`, else 0. */
static void fill_sparse(nr_rng *r, float *x, size_t n, double density)
{
    for (size_t i = 0; i < n; i++) {
        float keep = nr_rng_uniform(r);
        float v = 0.01f + 0.99f * nr_rng_uniform(r);
        if (nr_rng_uniform(r) < 0.2f)
            v = -v;
        x[i] = keep < density ? v : 0.0f;
    }
}

/* ---- kernels ---------------------------------------------------------- */

static const int shapes[][3] = {
    /* n, in, out */
    {1, 1, 1},     {1, 784, 128}, {3, 7, 5},     {5, 8, 8},     {4, 9, 17},
    {7, 16, 64},   {6, 33, 65},   {2, 17, 10},   {13, 130, 70}, {9, 100, 3},
    {16, 64, 129}, {11, 31, 16},  {64, 200, 10}, {9, 260, 70},  {3, 300, 33},
    /* the AVX-512 forward's tiles: 128 outputs, 128 + 64 + 8, 128 + 64 + 63 */
    {5, 50, 128},  {3, 41, 200},  {2, 23, 255},
    /* the AVX-512 weight gradient's 16-column blocks and 16-image transposes:
     * in % 16 = 2, 0, 13, 4, 0; n % 16 = 5, 0, 3, 1, 0; 128 + 64 + 8 outputs */
    {37, 50, 128}, {64, 784, 128}, {19, 45, 200}, {33, 100, 255}, {16, 16, 70},
};
enum { SHAPE_COUNT = sizeof shapes / sizeof shapes[0] };
static const double densities[] = {0.0, 0.1, 0.2, 0.5, 1.0};
enum { DENSITY_COUNT = sizeof densities / sizeof densities[0] };

typedef struct dense_case {
    nr_dense_dims d;
    double density;
    float *x, *w, *b, *dy, *wt, *ws;
} dense_case;

static dense_case case_make(int shape, int density, uint64_t seed)
{
    dense_case c;
    c.d = (nr_dense_dims){.n = shapes[shape][0], .in = shapes[shape][1],
                          .out = shapes[shape][2]};
    c.density = densities[density];
    nr_rng r;
    nr_rng_seed(&r, seed, (uint64_t)(shape * 16 + density));
    size_t nx = (size_t)c.d.n * c.d.in, nw = (size_t)c.d.out * c.d.in;
    c.x = falloc(nx);
    c.w = falloc(nw);
    c.b = falloc((size_t)c.d.out);
    c.dy = falloc((size_t)c.d.n * c.d.out);
    c.wt = falloc(nr_dense_weight_t_floats(&c.d));
    c.ws = falloc(nr_dense_fast_workspace_floats(&c.d));
    fill_sparse(&r, c.x, nx, c.density);
    fill_uniform(&r, c.w, nw, -1.0f, 1.0f);
    fill_uniform(&r, c.b, (size_t)c.d.out, -1.0f, 1.0f);
    fill_uniform(&r, c.dy, (size_t)c.d.n * c.d.out, -1.0f, 1.0f);
    fill_nan(c.wt, nr_dense_weight_t_floats(&c.d));
    fill_nan(c.ws, nr_dense_fast_workspace_floats(&c.d));
    return c;
}

static void case_free(dense_case *c)
{
    free(c->x);
    free(c->w);
    free(c->b);
    free(c->dy);
    free(c->wt);
    free(c->ws);
}

/* weight_t = W^T with zero padding columns, from 1, 2 or 3 parts. */
START_TEST(test_transpose_weight)
{
    for (int s = 0; s < SHAPE_COUNT; s++)
        for (int parts = 1; parts <= 3; parts++) {
            dense_case c = case_make(s, 4, 11);
            const size_t out8 = nr_dense_weight_t_floats(&c.d) / (size_t)c.d.in;
            ck_assert_uint_eq(out8 % 8, 0);
            ck_assert_uint_ge(out8, (size_t)c.d.out);
            ck_assert_uint_lt(out8, (size_t)c.d.out + 8);
            for (int part = 0; part < parts; part++)
                nr_dense_transpose_weight(&c.d, c.w, c.wt, part, parts);
            for (int p = 0; p < c.d.in; p++)
                for (size_t j = 0; j < out8; j++) {
                    float want = j < (size_t)c.d.out ? c.w[j * c.d.in + (size_t)p] : 0.0f;
                    ck_assert_msg(c.wt[(size_t)p * out8 + j] == want,
                                  "shape %d parts %d: wt[%d, %zu] = %g, want %g", s, parts, p,
                                  j, c.wt[(size_t)p * out8 + j], want);
                }
            case_free(&c);
        }
}
END_TEST

/* nr_dense_forward_fast == nr_ref_dense_forward (with and without bias). */
START_TEST(test_forward_fast_matches_reference)
{
    int s = _i / DENSITY_COUNT, k = _i % DENSITY_COUNT;
    dense_case c = case_make(s, k, 3);
    nr_dense_transpose_weight(&c.d, c.w, c.wt, 0, 1);
    size_t ny = (size_t)c.d.n * c.d.out;
    float *want = falloc(ny), *got = falloc(ny);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *bias = with_bias ? c.b : NULL;
        nr_ref_dense_forward(&c.d, c.x, c.w, bias, want);
        fill_nan(got, ny);
        nr_dense_forward_fast(&c.d, c.x, c.w, c.wt, bias, got, c.ws);
        double e = rel_err(got, want, ny);
        ck_assert_msg(e < TOL, "n %d in %d out %d density %.1f bias %d: rel err %g", c.d.n,
                      c.d.in, c.d.out, c.density, with_bias, e);
    }
    free(want);
    free(got);
    case_free(&c);
}
END_TEST

/* The sparse forward on each instruction set this CPU has == the reference,
 * and the AVX-512 one == the AVX2 one bit for bit. */
START_TEST(test_forward_isa_variants)
{
    int s = _i / DENSITY_COUNT, k = _i % DENSITY_COUNT;
    dense_case c = case_make(s, k, 7);
    nr_dense_transpose_weight(&c.d, c.w, c.wt, 0, 1);
    size_t ny = (size_t)c.d.n * c.d.out;
    float *want = falloc(ny), *avx2 = falloc(ny), *avx512 = falloc(ny);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *bias = with_bias ? c.b : NULL;
        nr_ref_dense_forward(&c.d, c.x, c.w, bias, want);
        fill_nan(avx2, ny);
        fill_nan(avx512, ny);
        int have2 = nr_dense_forward_sparse_isa(NR_DENSE_AVX2, &c.d, c.x, c.wt, bias, avx2, c.ws);
        int have512 =
            nr_dense_forward_sparse_isa(NR_DENSE_AVX512, &c.d, c.x, c.wt, bias, avx512, c.ws);
        if (have2) {
            double e = rel_err(avx2, want, ny);
            ck_assert_msg(e < TOL, "avx2: n %d in %d out %d density %.1f bias %d: rel err %g",
                          c.d.n, c.d.in, c.d.out, c.density, with_bias, e);
        }
        if (have512) {
            double e = rel_err(avx512, want, ny);
            ck_assert_msg(e < TOL, "avx512: n %d in %d out %d density %.1f bias %d: rel err %g",
                          c.d.n, c.d.in, c.d.out, c.density, with_bias, e);
        }
        if (have2 && have512)
            ck_assert_msg(memcmp(avx2, avx512, ny * sizeof *avx2) == 0,
                          "avx512 != avx2 bits: n %d in %d out %d density %.1f bias %d", c.d.n,
                          c.d.in, c.d.out, c.density, with_bias);
    }
    free(want);
    free(avx2);
    free(avx512);
    case_free(&c);
}
END_TEST

/* The weight gradient in 1, 2, 3 parts == the reference, deterministic; the
 * input gradient (accumulated and overwritten) too. */
START_TEST(test_backward_fast_matches_reference)
{
    int s = _i / DENSITY_COUNT, k = _i % DENSITY_COUNT;
    dense_case c = case_make(s, k, 5);
    size_t nw = (size_t)c.d.out * c.d.in, nx = (size_t)c.d.n * c.d.in;
    nr_rng r;
    nr_rng_seed(&r, 77, (uint64_t)_i);
    acc_buf dw_ref = acc_new(&r, nw), db_ref = acc_new(&r, (size_t)c.d.out);
    acc_buf dx_ref = acc_new(&r, nx);
    nr_ref_dense_backward(&c.d, c.x, c.w, c.dy, dx_ref.g, dw_ref.g, db_ref.g);
    for (int parts = 1; parts <= 3; parts++) {
        float *dw[2], *db[2];
        for (int rep = 0; rep < 2; rep++) {
            dw[rep] = fdup(dw_ref.prior, nw);
            db[rep] = fdup(db_ref.prior, (size_t)c.d.out);
            for (int q = 0; q < parts; q++) {   /* parts in either order */
                int part = rep ? q : parts - 1 - q;
                nr_dense_backward_weight_part(&c.d, c.x, c.dy, dw[rep], db[rep], part, parts,
                                              c.ws);
            }
        }
        double ew = rel_err(dw[0], dw_ref.g, nw);
        double eb = rel_err(db[0], db_ref.g, (size_t)c.d.out);
        ck_assert_msg(ew < TOL && eb < TOL,
                      "n %d in %d out %d density %.1f parts %d: dW err %g db err %g", c.d.n,
                      c.d.in, c.d.out, c.density, parts, ew, eb);
        ck_assert_msg(memcmp(dw[0], dw[1], nw * sizeof(float)) == 0 &&
                          memcmp(db[0], db[1], (size_t)c.d.out * sizeof(float)) == 0,
                      "parts %d: not deterministic", parts);
        for (int rep = 0; rep < 2; rep++) {
            free(dw[rep]);
            free(db[rep]);
        }
    }
    /* dx: accumulated onto the prior, and overwritten (NaN before) */
    float *dx = fdup(dx_ref.prior, nx);
    nr_dense_backward_input(&c.d, c.w, c.dy, dx, 0);
    ck_assert_msg(rel_err(dx, dx_ref.g, nx) < TOL, "dx accumulate");
    acc_delta(&dx_ref);
    fill_nan(dx, nx);
    nr_dense_backward_input(&c.d, c.w, c.dy, dx, 1);
    ck_assert_msg(rel_err(dx, dx_ref.g, nx) < TOL, "dx overwrite");
    free(dx);
    acc_free(&dw_ref);
    acc_free(&db_ref);
    acc_free(&dx_ref);
    case_free(&c);
}
END_TEST

/* The sparse weight gradient on each instruction set this CPU has == the
 * reference, and the AVX-512 one == the AVX2 one bit for bit, in 1..3 parts
 * accumulated onto a random prior. */
START_TEST(test_backward_weight_isa_variants)
{
    int s = _i / DENSITY_COUNT, k = _i % DENSITY_COUNT;
    dense_case c = case_make(s, k, 9);
    size_t nw = (size_t)c.d.out * c.d.in;
    nr_rng r;
    nr_rng_seed(&r, 78, (uint64_t)_i);
    acc_buf dw_ref = acc_new(&r, nw);
    nr_ref_dense_backward(&c.d, c.x, c.w, c.dy, NULL, dw_ref.g, NULL);
    for (int parts = 1; parts <= 3; parts++) {
        float *dw[2];
        int have[2];
        static const nr_dense_isa isas[2] = {NR_DENSE_AVX2, NR_DENSE_AVX512};
        for (int v = 0; v < 2; v++) {
            dw[v] = fdup(dw_ref.prior, nw);
            have[v] = 1;
            for (int part = 0; part < parts; part++)
                have[v] &= nr_dense_backward_weight_sparse_isa(isas[v], &c.d, c.x, c.dy, dw[v],
                                                               part, parts, c.ws);
            if (have[v]) {
                double e = rel_err(dw[v], dw_ref.g, nw);
                ck_assert_msg(e < TOL, "isa %d: n %d in %d out %d density %.1f parts %d: err %g",
                              v, c.d.n, c.d.in, c.d.out, c.density, parts, e);
            }
        }
        if (have[0] && have[1])
            ck_assert_msg(memcmp(dw[0], dw[1], nw * sizeof(float)) == 0,
                          "avx512 != avx2 bits: n %d in %d out %d density %.1f parts %d", c.d.n,
                          c.d.in, c.d.out, c.density, parts);
        free(dw[0]);
        free(dw[1]);
    }
    acc_free(&dw_ref);
    case_free(&c);
}
END_TEST

/* The sparse/BLAS choice: sparse inputs of wide layers only, when the CPU
 * has the kernels. */
START_TEST(test_sparse_choice)
{
    static const struct {
        int shape, density, wide;   /* wide: at least 32 outputs */
    } cases[] = {{1, 1, 1}, {1, 4, 1}, {8, 0, 1}, {8, 4, 1}, {13, 2, 1},
                 {14, 3, 1}, {12, 0, 0}, {7, 0, 0}, {3, 1, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        dense_case c = case_make(cases[k].shape, cases[k].density, 17);
        int want = cases[k].wide && c.density <= 0.2 && nr_dense_sparse_available();
        ck_assert_int_eq(!!nr_dense_forward_sparse_pays(&c.d, c.x), want);
        /* possible: for any input, so for the wide layers on this CPU */
        ck_assert_int_eq(!!nr_dense_forward_sparse_possible(&c.d),
                         cases[k].wide && nr_dense_sparse_available());
        case_free(&c);
    }
}
END_TEST

/* ---- nets through the thread pool ----------------------------------- */


static const char *const nets[] = {
    /* the ex1 shape, small */
    "    - dense: {units: 33}\n    - relu\n    - dense: {units: 17}\n    - relu\n"
    "    - dense: {units: 5}\n    - softmax\n",
    /* wide enough for the 64-output tiles, no bias in the middle */
    "    - dense: {units: 130}\n    - relu\n    - dense: {units: 64, bias: false}\n"
    "    - relu\n    - dense: {units: 10}\n    - softmax\n",
    /* convolution gradients are still summed per thread; dense after it */
    "    - conv: {filters: 3, size: 3, pad: 1}\n    - relu\n    - maxpool: {size: 2}\n"
    "    - dense: {units: 9}\n    - relu\n    - dense: {units: 4}\n    - softmax\n",
};
enum { NET_COUNT = sizeof nets / sizeof nets[0] };

typedef struct step_result {
    float *logits, *grads, *params;
    size_t logit_count, param_count;
} step_result;

static void step_free(step_result *r)
{
    free(r->logits);
    free(r->grads);
    free(r->params);
}

typedef struct update_ctx {
    const float *grads;
    float *params;
    float *grads_seen;       /* the gradients as the update saw them */
    int *visits;             /* per parameter */
    nr_sgd_params sgd;
} update_ctx;

static void sgd_update(void *p, size_t first, size_t count)
{
    update_ctx *u = p;
    for (size_t i = first; i < first + count; i++) {
        u->visits[i]++;
        u->grads_seen[i] = u->grads[i];
    }
    nr_sgd_step(count, u->params + first, u->grads + first, NULL, &u->sgd, 1);
}

/* Two training steps (the first with a plain backward, the second through
 * nr_net_backward_update with SGD) of n examples at input density `density`
 * on `threads` threads; copies out the second step's logits, gradients and
 * updated parameters. Checks the update hook's contract on the way. */
static void train_steps(int net_index, nr_backend backend, int threads, int n, double density,
                        step_result *r)
{
    enum { MAX_BATCH = 16 };
    fixture f;
    const char *input = net_index == 2 ? "[2, 6, 6]" : "[1, 9, 11]";
    fixture_make(&f, input, nets[net_index], "cross_entropy", backend, MAX_BATCH);
    nr_error err = {0};
    ck_assert_msg(nr_net_set_threads(f.net, threads, &err) == 0, "%s", err.message);
    size_t in_size = nr_shape_size(nr_net_input(f.net));
    int classes = nr_net_classes(f.net);
    size_t p = nr_net_param_count(f.net);
    float *x = falloc((size_t)n * in_size);
    int32_t labels[MAX_BATCH];
    nr_rng rng;
    nr_rng_seed(&rng, 31, 4);
    fill_sparse(&rng, x, (size_t)n * in_size, density);
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)nr_rng_below(&rng, (uint32_t)classes);
    update_ctx u = {.grads = nr_net_grads(f.net), .params = nr_net_params(f.net),
                    .grads_seen = falloc(p), .visits = calloc(p, sizeof(int)),
                    .sgd = {.lr = 0.05f}};
    ck_assert_ptr_nonnull(u.visits);
    float *params_before = falloc(p);
    for (int step = 0; step < 2; step++) {
        nr_net_zero_grads(f.net);
        const float *logits = nr_net_forward(f.net, x, n, true);
        nr_net_loss(f.net, labels, n, true, NULL, NULL);
        if (step == 0) {
            nr_net_backward(f.net, x, n);
            nr_sgd_step(p, nr_net_params(f.net), nr_net_grads(f.net), NULL, &u.sgd, 1);
            /* a smaller evaluation batch in between: another split */
            nr_net_forward(f.net, x, n > 1 ? n - 1 : 1, false);
            continue;
        }
        memcpy(params_before, nr_net_params(f.net), p * sizeof(float));
        r->logit_count = (size_t)n * classes;
        r->logits = fdup(logits, r->logit_count);
        nr_net_backward_update(f.net, x, n, sgd_update, &u);
    }
    /* every parameter updated once, from its complete gradient */
    for (size_t i = 0; i < p; i++)
        ck_assert_msg(u.visits[i] == 1, "parameter %zu updated %d times", i, u.visits[i]);
    ck_assert(memcmp(u.grads_seen, nr_net_grads(f.net), p * sizeof(float)) == 0);
    /* the sliced SGD step == one step over the whole vector */
    nr_sgd_step(p, params_before, nr_net_grads(f.net), NULL, &u.sgd, 1);
    ck_assert(memcmp(params_before, nr_net_params(f.net), p * sizeof(float)) == 0);
    r->param_count = p;
    r->grads = fdup(nr_net_grads(f.net), p);
    r->params = fdup(nr_net_params(f.net), p);
    free(params_before);
    free(u.grads_seen);
    free(u.visits);
    free(x);
    fixture_free(&f);
}

static void assert_close(const step_result *a, const step_result *b, const char *what,
                         double tol)
{
    ck_assert_uint_eq(a->param_count, b->param_count);
    double el = rel_err(b->logits, a->logits, a->logit_count);
    double eg = rel_err(b->grads, a->grads, a->param_count);
    double ep = rel_err(b->params, a->params, a->param_count);
    ck_assert_msg(el < tol && eg < tol && ep < tol, "%s: logits %g grads %g params %g", what,
                  el, eg, ep);
}

static void assert_same(const step_result *a, const step_result *b)
{
    ck_assert(memcmp(a->logits, b->logits, a->logit_count * sizeof(float)) == 0);
    ck_assert(memcmp(a->grads, b->grads, a->param_count * sizeof(float)) == 0);
    ck_assert(memcmp(a->params, b->params, a->param_count * sizeof(float)) == 0);
}

/* 1, 2, 3 threads vs 1 thread vs the reference backend; same bits again. */
START_TEST(test_threads_match_single_and_reference)
{
    static const int batch[] = {1, 13, 16};
    static const double net_densities[] = {0.0, 0.2, 1.0};
    int net_index = _i % NET_COUNT;
    int n = batch[(_i / NET_COUNT) % 3];
    double density = net_densities[_i / (NET_COUNT * 3)];
    step_result ref, one, again;
    train_steps(net_index, NR_BACKEND_REFERENCE, 1, n, density, &ref);
    train_steps(net_index, NR_BACKEND_BLAS, 1, n, density, &one);
    char what[128];
    snprintf(what, sizeof what, "net %d n %d density %.1f: 1 thread vs reference", net_index,
             n, density);
    assert_close(&ref, &one, what, 1e-4);
    for (int threads = 1; threads <= 3; threads++) {
        step_result multi;
        train_steps(net_index, NR_BACKEND_BLAS, threads, n, density, &multi);
        snprintf(what, sizeof what, "net %d n %d density %.1f: %d threads vs 1", net_index, n,
                 density, threads);
        assert_close(&one, &multi, what, 1e-5);
        train_steps(net_index, NR_BACKEND_BLAS, threads, n, density, &again);
        assert_same(&multi, &again);
        step_free(&again);
        step_free(&multi);
    }
    step_free(&ref);
    step_free(&one);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("dense_fast");
    TCase *kernels = tcase_create("kernels");
    tcase_add_test(kernels, test_transpose_weight);
    tcase_add_test(kernels, test_sparse_choice);
    tcase_add_loop_test(kernels, test_forward_fast_matches_reference, 0,
                        SHAPE_COUNT * DENSITY_COUNT);
    tcase_add_loop_test(kernels, test_forward_isa_variants, 0, SHAPE_COUNT * DENSITY_COUNT);
    tcase_add_loop_test(kernels, test_backward_fast_matches_reference, 0,
                        SHAPE_COUNT * DENSITY_COUNT);
    tcase_add_loop_test(kernels, test_backward_weight_isa_variants, 0,
                        SHAPE_COUNT * DENSITY_COUNT);
    suite_add_tcase(suite, kernels);
    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 60);
    tcase_add_loop_test(threads, test_threads_match_single_and_reference, 0, NET_COUNT * 9);
    suite_add_tcase(suite, threads);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
