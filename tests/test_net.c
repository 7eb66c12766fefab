/* test_net.c - the executor end to end: numeric gradient checks of whole
 * networks containing every layer kind (through the net's own memory plan,
 * loss head and backward order), BLAS vs reference agreement, determinism of
 * training, weights save/load. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_fixture.h"
#include "netrun/graph.h"
#include "netrun/net.h"
#include "netrun/netspec.h"
#include "netrun/spec_load.h"
#include "netrun/train.h"
#include "netrun/fileio.h"
#include "netrun/weights.h"

#include "toy_data.h"


/* The CPU runs the direct convolution (and its fused epilogues). */
static bool cpu_runs_direct_conv(void)
{
    nr_conv2d_dims d = {1, 1, 8, 8, 1, 3, 1, 1};
    return nr_conv2d_direct_applies(&d);
}

static void random_fill(float *x, size_t n, nr_rng *rng, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (2.0f * nr_rng_uniform(rng) - 1.0f);
}

/* Loss of one training-mode forward with the dropout stream reset. */
static double loss_at(nr_net *net, const float *x, const int32_t *labels, int n, nr_rng rng)
{
    nr_net_set_dropout_rng(net, rng);
    nr_net_forward(net, x, n, true);
    return nr_net_loss(net, labels, n, false, NULL, NULL);
}

/* Compares analytic parameter gradients with central differences at up to
 * `samples` parameters spread over the whole vector (always including the
 * first and last), on the given backend; `fused` (may be NULL) lists the
 * layer indices the net must have fused into a convolution, -1 ended
 * (checked where the CPU runs the fused kernels). */
static void gradcheck_on(nr_backend backend, const char *input, const char *layers,
                         const char *loss, int samples, const int *fused)
{
    fixture f;
    fixture_make(&f, input, layers, loss, backend, 4);
    for (int j = 0; fused && fused[j] >= 0; j++)
        ck_assert_msg(nr_net_layer_fused(f.net, (size_t)fused[j]) == cpu_runs_direct_conv(),
                      "layer %d fused: %d (%s)", fused[j],
                      nr_net_layer_fused(f.net, (size_t)fused[j]), layers);
    const int n = 3;
    size_t in_size = nr_shape_size(f.graph->input);
    float *x = malloc(n * in_size * sizeof *x);
    int32_t labels[3];
    nr_rng rng;
    nr_rng_seed(&rng, 11, 99);
    random_fill(x, n * in_size, &rng, 1.0f);
    int classes = nr_net_classes(f.net);
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)nr_rng_below(&rng, (uint32_t)classes);
    nr_rng dropout;
    nr_rng_seed(&dropout, 5, NR_RNG_STREAM_DROPOUT);

    nr_net_zero_grads(f.net);
    nr_net_set_dropout_rng(f.net, dropout);
    nr_net_forward(f.net, x, n, true);
    nr_net_loss(f.net, labels, n, true, NULL, NULL);
    nr_net_backward(f.net, x, n);

    size_t count = nr_net_param_count(f.net);
    ck_assert_uint_eq(count, f.graph->param_count);
    float *params = nr_net_params(f.net);
    const float *grads = nr_net_grads(f.net);
    size_t step = count > (size_t)samples ? count / (size_t)samples : 1;
    int checked = 0, nonzero = 0;
    for (size_t i = 0; i < count; i += step) {
        size_t at = (i + step >= count) ? count - 1 : i;
        float saved = params[at];
        const float eps = 1e-3f; /* small: fewer ReLU/maxpool kinks crossed */
        params[at] = saved + eps;
        double plus = loss_at(f.net, x, labels, n, dropout);
        params[at] = saved - eps;
        double minus = loss_at(f.net, x, labels, n, dropout);
        params[at] = saved;
        double numeric = (plus - minus) / (2.0 * eps);
        double analytic = grads[at];
        double tolerance = 2e-3 + 3e-2 * (fabs(numeric) + fabs(analytic));
        ck_assert_msg(fabs(numeric - analytic) <= tolerance,
                      "param %zu of %zu: analytic %.6g numeric %.6g (%s)", at, count, analytic,
                      numeric, layers);
        checked++;
        nonzero += fabs(analytic) > 1e-6;
        if (at == count - 1)
            break;
    }
    ck_assert_int_ge(checked, samples < (int)count ? samples / 2 : (int)count);
    ck_assert_msg(nonzero > checked / 4, "gradients are mostly zero (%d of %d)", nonzero,
                  checked);
    free(x);
    fixture_free(&f);
}

static void gradcheck(const char *input, const char *layers, const char *loss, int samples)
{
    gradcheck_on(NR_BACKEND_REFERENCE, input, layers, loss, samples, NULL);
}

/* The BLAS backend's convolutions run their forward and din by Winograd
 * where nr_wino_tile says (src/kernels/conv_winograd.c): here conv 9 by
 * F(4x4) both ways (26 wide), conv 10 forward by F(2x2) (13 wide); smooth
 * activations and pooling: no kinks for the differences to cross. */
START_TEST(test_gradcheck_winograd_convs)
{
    gradcheck_on(NR_BACKEND_BLAS, "[2, 5, 26]",
                 "    - conv: {filters: 8, size: 3, pad: 1}\n"
                 "    - tanh\n"
                 "    - conv: {filters: 9, size: 3, pad: 1}\n"
                 "    - tanh\n"
                 "    - avgpool: {size: 2, stride: 2}\n"
                 "    - conv: {filters: 10, size: 3, pad: 1}\n"
                 "    - dense: {units: 5}\n"
                 "    - softmax\n",
                 "cross_entropy", 150, NULL);
}
END_TEST

/* F(4x4) with images side by side (7x7 planes, 16 channels in and out:
 * conv 1 forward, conv 2 both ways; a batch of 3: one group, the last image
 * repeated once). */
START_TEST(test_gradcheck_winograd_side_by_side)
{
    gradcheck_on(NR_BACKEND_BLAS, "[16, 7, 7]",
                 "    - conv: {filters: 16, size: 3, pad: 1}\n"
                 "    - tanh\n"
                 "    - conv: {filters: 17, size: 3, pad: 1}\n"
                 "    - tanh\n"
                 "    - dense: {units: 5}\n"
                 "    - softmax\n",
                 "cross_entropy", 150, NULL);
}
END_TEST

START_TEST(test_gradcheck_cnn)
{
    gradcheck("[2, 7, 6]",
              "    - conv: {filters: 3, size: 3, stride: 1, pad: 1}\n"
              "    - relu\n"
              "    - maxpool: {size: 2, stride: 2}\n"
              "    - conv: {filters: 4, size: 2, stride: 1}\n"
              "    - tanh\n"
              "    - dense: {units: 5}\n"
              "    - softmax\n",
              "cross_entropy", 80);
}
END_TEST

/* The fused convolution epilogues (BLAS backend, direct kernels): every
 * activation, pooling before and after it, pooling alone, an activation
 * alone; odd channel counts, a batch of 3. */
START_TEST(test_gradcheck_fused_epilogues)
{
    static const int fused_a[] = { 1, 2, 4, 5, 7, 8, 10, -1 };
    gradcheck_on(NR_BACKEND_BLAS, "[1, 8, 8]",
                 "    - conv: {filters: 3, size: 3, stride: 1, pad: 1}\n"
                 "    - maxpool: {size: 2, stride: 2}\n"
                 "    - tanh\n"
                 "    - conv: {filters: 5, size: 3, stride: 1, pad: 1}\n"
                 "    - sigmoid\n"
                 "    - maxpool: {size: 2, stride: 2}\n"
                 "    - conv: {filters: 3, size: 3, stride: 1, pad: 1}\n"
                 "    - maxpool: {size: 2, stride: 2}\n"
                 "    - leaky_relu: {slope: 0.1}\n"
                 "    - conv: {filters: 3, size: 1, stride: 1, pad: 0}\n"
                 "    - tanh\n"
                 "    - dense: {units: 5}\n"
                 "    - softmax\n",
                 "cross_entropy", 120, fused_a);
    static const int fused_b[] = { 1, 2, 4, 6, 7, -1 };
    gradcheck_on(NR_BACKEND_BLAS, "[2, 8, 8]",
                 "    - conv: {filters: 3, size: 3, stride: 1, pad: 1}\n"
                 "    - tanh\n"
                 "    - maxpool: {size: 2, stride: 2}\n"
                 "    - conv: {filters: 3, size: 3, stride: 1, pad: 1}\n"
                 "    - maxpool: {size: 2, stride: 2}\n"
                 "    - conv: {filters: 4, size: 3, stride: 1, pad: 1}\n"
                 "    - leaky_relu: {slope: 0.2}\n"
                 "    - maxpool: {size: 2, stride: 2}\n"
                 "    - sigmoid\n"
                 "    - dense: {units: 5}\n"
                 "    - softmax\n",
                 "cross_entropy", 120, fused_b);
}
END_TEST

START_TEST(test_gradcheck_activations_pools)
{
    gradcheck("[1, 8, 8]",
              "    - conv: {filters: 2, size: 3, stride: 2, pad: 1}\n"
              "    - leaky_relu: {slope: 0.1}\n"
              "    - avgpool: {size: 2, stride: 1}\n"
              "    - sigmoid\n"
              "    - flatten\n"
              "    - dense: {units: 6}\n"
              "    - tanh\n"
              "    - dense: {units: 4}\n"
              "    - softmax\n",
              "cross_entropy", 60);
}
END_TEST

START_TEST(test_gradcheck_batchnorm_dropout)
{
    gradcheck("[2, 5, 5]",
              "    - conv: {filters: 3, size: 3, pad: 1}\n"
              "    - batchnorm\n"
              "    - relu\n"
              "    - dropout: {rate: 0.3}\n"
              "    - dense: {units: 8}\n"
              "    - batchnorm\n"
              "    - tanh\n"
              "    - dense: {units: 3}\n"
              "    - softmax\n",
              "cross_entropy", 80);
}
END_TEST

/* batchnorm -> relu -> maxpool 2x2/2 and batchnorm -> relu run fused (one
 * pass after the statistics, net.c fuse_batchnorm_runs): images with odd
 * channel counts, and vectors after a dense layer. */
START_TEST(test_gradcheck_batchnorm_fused)
{
    gradcheck("[3, 6, 10]",
              "    - conv: {filters: 3, size: 3, pad: 1}\n"
              "    - batchnorm\n"
              "    - relu\n"
              "    - maxpool: {size: 2, stride: 2}\n"
              "    - conv: {filters: 5, size: 3, pad: 1}\n"
              "    - batchnorm\n"
              "    - relu\n"
              "    - dense: {units: 7}\n"
              "    - batchnorm\n"
              "    - relu\n"
              "    - dense: {units: 3}\n"
              "    - softmax\n",
              "cross_entropy", 80);
}
END_TEST

START_TEST(test_gradcheck_residual)
{
    /* a conv first, so that the residuals' input gradients are exercised */
    gradcheck("[2, 6, 6]",
              "    - conv: {filters: 2, size: 1}\n"
              "    - residual:\n"
              "        layers:\n"
              "          - conv: {filters: 2, size: 3, pad: 1}\n"
              "          - tanh\n"
              "    - residual:\n"
              "        layers:\n"
              "          - conv: {filters: 3, size: 3, stride: 2, pad: 1}\n"
              "          - relu\n"
              "    - residual:\n"
              "        shortcut: projection\n"
              "        projection_batchnorm: true\n"
              "        layers:\n"
              "          - conv: {filters: 3, size: 3, pad: 1}\n"
              "          - sigmoid\n"
              "    - dense: {units: 4}\n"
              "    - softmax\n",
              "cross_entropy", 120);
}
END_TEST

START_TEST(test_gradcheck_mse)
{
    gradcheck("[1, 4, 4]",
              "    - dense: {units: 6}\n    - tanh\n    - dense: {units: 3}\n    - softmax\n",
              "mse", 60);
    gradcheck("[1, 4, 4]", "    - dense: {units: 6}\n    - sigmoid\n    - dense: {units: 3}\n",
              "mse", 60);
    gradcheck("[1, 4, 4]", "    - dense: {units: 6}\n    - relu\n    - dense: {units: 3}\n",
              "cross_entropy", 60);
}
END_TEST

/* The same network, init and batch on both backends: same logits and grads. */
START_TEST(test_backends_agree)
{
    static const char *const nets[] = {
        "    - conv: {filters: 4, size: 3, pad: 1}\n    - relu\n    - maxpool: {size: 2}\n"
        "    - conv: {filters: 5, size: 3, stride: 2}\n    - relu\n    - avgpool: {size: 1, stride: 1}\n"
        "    - dense: {units: 7}\n    - softmax\n",
        /* fusable on the BLAS backend: conv -> relu -> maxpool 2x2/2 on even planes, and
         * conv -> relu, inside a residual block too */
        "    - conv: {filters: 4, size: 3, pad: 1}\n    - relu\n    - maxpool: {size: 2, stride: 2}\n"
        "    - conv: {filters: 6, size: 3, pad: 1}\n    - relu\n"
        "    - residual:\n        layers: [{conv: {filters: 6, size: 3, pad: 1}}, relu,"
        " {conv: {filters: 6, size: 3, pad: 1}}, relu, {maxpool: {size: 2, stride: 2}}]\n"
        "    - conv: {filters: 3, size: 5, pad: 2}\n    - relu\n"
        "    - dense: {units: 7}\n    - softmax\n",
        "    - residual:\n        layers: [{conv: {filters: 3, size: 3, pad: 1}}, relu]\n"
        "    - dense: {units: 7}\n    - softmax\n",
    };
    for (size_t t = 0; t < sizeof nets / sizeof nets[0]; t++) {
        fixture a, b;
        const char *shape = t == 1 ? "[2, 8, 8]" : "[2, 9, 9]";
        fixture_make(&a, shape, nets[t], "cross_entropy", NR_BACKEND_BLAS, 5);
        fixture_make(&b, shape, nets[t], "cross_entropy", NR_BACKEND_REFERENCE, 5);
        size_t in_size = nr_shape_size(a.graph->input);
        float x[5 * 162];
        int32_t labels[5] = {0, 1, 2, 3, 6};
        nr_rng rng;
        nr_rng_seed(&rng, 3, 4);
        random_fill(x, 5 * in_size, &rng, 1.0f);
        ck_assert_mem_eq(nr_net_params(a.net), nr_net_params(b.net),
                         nr_net_param_count(a.net) * sizeof(float));
        if (t == 1) {
            /* conv 0 absorbs relu 1 and maxpool 2; conv 3 absorbs relu 4 */
            nr_conv2d_dims d = {5, 2, 8, 8, 4, 3, 1, 1};
            bool fused = nr_conv2d_direct_applies(&d);
            ck_assert(nr_net_layer_fused(a.net, 1) == fused);
            ck_assert(nr_net_layer_fused(a.net, 2) == fused);
            ck_assert(nr_net_layer_fused(a.net, 4) == fused);
            ck_assert(!nr_net_layer_fused(a.net, 0) && !nr_net_layer_fused(a.net, 3));
            ck_assert(!nr_net_layer_fused(b.net, 1));   /* the reference never fuses */
        }
        nr_net *nets_ab[2] = {a.net, b.net};
        float loss[2];
        for (int k = 0; k < 2; k++) {
            nr_net_zero_grads(nets_ab[k]);
            nr_net_forward(nets_ab[k], x, 5, true);
            loss[k] = nr_net_loss(nets_ab[k], labels, 5, true, NULL, NULL);
            nr_net_backward(nets_ab[k], x, 5);
        }
        ck_assert_float_eq_tol(loss[0], loss[1], 1e-5f);
        const float *ga = nr_net_grads(a.net), *gb = nr_net_grads(b.net);
        for (size_t i = 0; i < nr_net_param_count(a.net); i++)
            ck_assert_msg(fabsf(ga[i] - gb[i]) <= 1e-5f + 1e-4f * fabsf(gb[i]),
                          "net %zu grad %zu: blas %g reference %g", t, i, ga[i], gb[i]);
        fixture_free(&a);
        fixture_free(&b);
    }
}
END_TEST

/* A small CNN for the toy dataset (tests/support/toy_data.h), trained
 * whole by the tests below. */
#define TOY_CNN                                                                 \
    "    - conv: {filters: 4, size: 3, pad: 1}\n    - relu\n"                  \
    "    - maxpool: {size: 2}\n    - dropout: {rate: 0.1}\n"                   \
    "    - dense: {units: 4}\n    - softmax\n"

static void train_toy(const char *optimizer, nr_epoch_record *history, float *params_out,
                      size_t *param_count)
{
    fixture f;
    fixture_make(&f, "[1, 8, 8]", TOY_CNN, "cross_entropy", NR_BACKEND_BLAS, 16);
    nr_error err = {0};
    char assignment[128];
    snprintf(assignment, sizeof assignment, "train.optimizer=%s", optimizer);
    ck_assert(ns_doc_apply_set(f.doc, assignment, &err) == 0);
    ck_assert(ns_doc_apply_set(f.doc, "train.batch_size=16", &err) == 0);
    ck_assert(ns_doc_apply_set(f.doc, "train.epochs=4", &err) == 0);
    ck_assert_msg(ns_doc_resolve(f.doc, &err) == 0, "%s", err.message);
    nr_train_config cfg;
    ck_assert_msg(nr_spec_train_config(f.doc, &cfg, &err) == 0, "%s", err.message);
    cfg.threads = 1;
    if (strcmp(optimizer, "sgd") == 0)
        cfg.sgd.lr = 0.1f;
    nr_dataset *train = toy_dataset(400, 1), *test = toy_dataset(100, 2);
    nr_train_outcome outcome;
    ck_assert_msg(nr_train(f.net, train, test, &cfg, NULL, history, &outcome, &err) == 0, "%s",
                  err.message);
    *param_count = nr_net_param_count(f.net);
    memcpy(params_out, nr_net_params(f.net), *param_count * sizeof(float));
    toy_free(train);
    toy_free(test);
    fixture_free(&f);
}

START_TEST(test_training_learns_and_is_deterministic)
{
    static const char *const optimizers[] = {"sgd", "adam", "adamw"};
    for (size_t o = 0; o < 3; o++) {
        nr_epoch_record h1[4], h2[4];
        static float p1[4096], p2[4096];
        size_t n1, n2;
        train_toy(optimizers[o], h1, p1, &n1);
        train_toy(optimizers[o], h2, p2, &n2);
        ck_assert_uint_eq(n1, n2);
        ck_assert_mem_eq(p1, p2, n1 * sizeof(float));
        for (int e = 0; e < 4; e++) {
            ck_assert(h1[e].train_cost == h2[e].train_cost);
            ck_assert(h1[e].test_acc == h2[e].test_acc);
        }
        ck_assert_msg(h1[3].test_acc >= 0.95, "%s: test accuracy %.3f", optimizers[o],
                      h1[3].test_acc);
        ck_assert_msg(h1[3].train_cost < h1[0].train_cost, "%s: cost did not fall",
                      optimizers[o]);
    }
}
END_TEST

START_TEST(test_weights_round_trip)
{
    fixture a, b;
    const char *layers = "    - conv: {filters: 3, size: 3}\n    - batchnorm\n"
                         "    - dense: {units: 4}\n    - softmax\n";
    fixture_make(&a, "[1, 6, 6]", layers, "cross_entropy", NR_BACKEND_BLAS, 2);
    fixture_make(&b, "[1, 6, 6]", layers, "cross_entropy", NR_BACKEND_BLAS, 2);
    nr_net_init(b.net, 1234);
    float *running = nr_net_buffers(a.net);
    running[0] = 0.5f; /* non-default running mean must survive too */
    char dir[] = "/tmp/netrun-weights-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/w.bin", dir);
    nr_error err = {0};
    uint64_t hash = nr_graph_hash(a.graph);
    char *classes[] = {"ant", "bee", "cat", "dog"};
    nr_model_info saved = nr_model_info_for(1, 6, 6, 4, classes), got;
    ck_assert_msg(nr_weights_save(path, a.net, hash, &saved, &err) == 0, "%s", err.message);
    ck_assert_msg(nr_weights_load(path, b.net, hash, &got, &err) == 0, "%s", err.message);
    ck_assert_mem_eq(nr_net_params(a.net), nr_net_params(b.net),
                     nr_net_param_count(a.net) * sizeof(float));
    ck_assert_mem_eq(nr_net_buffers(a.net), nr_net_buffers(b.net),
                     nr_net_buffer_count(a.net) * sizeof(float));
    /* the model's info comes back: shape, scaling, class names in order */
    ck_assert_int_eq(got.version, 2);
    ck_assert_int_eq(got.channels, 1);
    ck_assert_int_eq(got.height, 6);
    ck_assert_int_eq(got.width, 6);
    ck_assert_float_eq(got.pixel_scale[0], 1.0f / 255.0f);
    ck_assert_float_eq(got.pixel_shift[0], 0.0f);
    ck_assert_uint_eq(got.class_count, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(got.class_names[i], classes[i]);
    nr_model_info_free(&got);
    ck_assert_msg(nr_weights_read_info(path, &got, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(got.class_count, 4);
    ck_assert_str_eq(got.class_names[3], "dog");
    nr_model_info_free(&got);
    /* wrong network */
    ck_assert_int_eq(nr_weights_load(path, b.net, hash ^ 1, NULL, &err), -1);
    ck_assert_int_eq(err.status, 2);
    ck_assert_ptr_nonnull(strstr(err.message, "another network"));
    /* corrupt one byte of the parameters */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, -20, SEEK_END);
    fputc(0x5a, fp);
    fclose(fp);
    ck_assert_int_eq(nr_weights_load(path, b.net, hash, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "corrupt"));
    /* a class name with a NUL inside is a corrupt model section */
    ck_assert_msg(nr_weights_save(path, a.net, hash, &saved, &err) == 0, "%s", err.message);
    fp = fopen(path, "r+b");
    fseek(fp, 40 + 12 + 8 + 4 + 2, SEEK_SET);  /* the first byte of "ant" */
    fputc(0, fp);
    fclose(fp);
    ck_assert_int_eq(nr_weights_read_info(path, &got, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "model section"));
    /* truncated inside the model section, then inside the header */
    ck_assert_int_eq(truncate(path, 62), 0);  /* inside the class count */
    ck_assert_int_eq(nr_weights_load(path, b.net, hash, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "truncated"));
    ck_assert_int_eq(truncate(path, 30), 0);
    ck_assert_int_eq(nr_weights_load(path, b.net, hash, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, path));

    /* a version-1 file (no model section) still loads, with no classes */
    size_t params = nr_net_param_count(a.net), buffers = nr_net_buffer_count(a.net);
    size_t len = 40 + (params + buffers) * sizeof(float);
    char *v1 = calloc(1, len + 8);
    ck_assert_ptr_nonnull(v1);
    memcpy(v1, "NRWEIGHT", 8);
    const uint32_t version = 1;
    const uint64_t counts[3] = {hash, params, buffers};
    memcpy(v1 + 8, &version, 4);
    memcpy(v1 + 16, counts, sizeof counts);
    memcpy(v1 + 40, nr_net_params(a.net), params * sizeof(float));
    memcpy(v1 + 40 + params * sizeof(float), nr_net_buffers(a.net), buffers * sizeof(float));
    const uint64_t checksum = nr_fnv1a(NR_FNV_OFFSET, v1, len);
    memcpy(v1 + len, &checksum, 8);
    fp = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(v1, 1, len + 8, fp), len + 8);
    fclose(fp);
    free(v1);
    nr_net_init(b.net, 99);
    ck_assert_msg(nr_weights_load(path, b.net, hash, &got, &err) == 0, "%s", err.message);
    ck_assert_int_eq(got.version, 1);
    ck_assert_uint_eq(got.class_count, 0);
    ck_assert_mem_eq(nr_net_params(a.net), nr_net_params(b.net), params * sizeof(float));
    nr_model_info_free(&got);
    /* a version from the future is named */
    fp = fopen(path, "r+b");
    const uint32_t future = 9;
    fseek(fp, 8, SEEK_SET);
    fwrite(&future, 4, 1, fp);
    fclose(fp);
    ck_assert_int_eq(nr_weights_read_info(path, &got, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "version 9"));
    unlink(path);
    rmdir(dir);
    fixture_free(&a);
    fixture_free(&b);
}
END_TEST

/* ---- threads: T shares of a batch give the T = 1 results within rounding,
 * and the same T gives the same bits ---- */

typedef struct pass_result {
    float loss;
    float *logits, *grads, *buffers;
    nr_rng dropout;
} pass_result;

/* One training step (zero, forward, loss, backward) of n examples on a net
 * with `threads` threads; copies out what it produced. */
static void threaded_pass(const char *input, const char *layers, int threads, int max_batch,
                          int n, pass_result *r)
{
    fixture f;
    fixture_make(&f, input, layers, "cross_entropy", NR_BACKEND_BLAS, max_batch);
    nr_error err = {0};
    ck_assert_msg(nr_net_set_threads(f.net, threads, &err) == 0, "%s", err.message);
    ck_assert_int_eq(nr_net_threads(f.net), threads < max_batch ? threads : max_batch);
    size_t in_size = nr_shape_size(f.graph->input);
    float *x = malloc((size_t)n * in_size * sizeof *x);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    nr_rng rng;
    nr_rng_seed(&rng, 21, 4);
    random_fill(x, (size_t)n * in_size, &rng, 1.0f);
    int classes = nr_net_classes(f.net);
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)nr_rng_below(&rng, (uint32_t)classes);
    nr_rng dropout;
    nr_rng_seed(&dropout, 9, NR_RNG_STREAM_DROPOUT);
    nr_net_set_dropout_rng(f.net, dropout);
    /* two steps, so the second runs on views already in place and on grads
     * that the first step left behind (zeroed by the caller) */
    for (int step = 0; step < 2; step++) {
        nr_net_zero_grads(f.net);
        const float *logits = nr_net_forward(f.net, x, n, true);
        r->loss = nr_net_loss(f.net, labels, n, true, NULL, NULL);
        nr_net_backward(f.net, x, n);
        if (step == 0) {
            /* a smaller batch in between: a different split */
            nr_net_forward(f.net, x, n > 1 ? n - 1 : 1, false);
            continue;
        }
        size_t k = (size_t)n * classes, p = nr_net_param_count(f.net);
        size_t b = nr_net_buffer_count(f.net);
        r->logits = malloc(k * sizeof(float));
        r->grads = malloc((p ? p : 1) * sizeof(float));
        r->buffers = malloc((b ? b : 1) * sizeof(float));
        memcpy(r->logits, logits, k * sizeof(float));
        memcpy(r->grads, nr_net_grads(f.net), p * sizeof(float));
        memcpy(r->buffers, nr_net_buffers(f.net), b * sizeof(float));
        r->dropout = nr_net_dropout_rng(f.net);
    }
    free(x);
    free(labels);
    fixture_free(&f);
}

static void pass_free(pass_result *r)
{
    free(r->logits);
    free(r->grads);
    free(r->buffers);
}

static const char *const threaded_nets[] = {
    "    - conv: {filters: 4, size: 3, pad: 1}\n    - relu\n    - maxpool: {size: 2}\n"
    "    - conv: {filters: 6, size: 3, pad: 1}\n    - relu\n    - maxpool: {size: 2}\n"
    "    - dense: {units: 5}\n    - softmax\n",
    "    - conv: {filters: 3, size: 3, pad: 1}\n    - batchnorm\n    - relu\n"
    "    - maxpool: {size: 2}\n"
    "    - dropout: {rate: 0.3}\n    - dense: {units: 8}\n    - batchnorm\n    - tanh\n"
    "    - dropout: {rate: 0.2}\n    - dense: {units: 5}\n    - softmax\n",
    "    - conv: {filters: 2, size: 1}\n"
    "    - residual:\n        layers:\n          - conv: {filters: 2, size: 3, pad: 1}\n"
    "          - batchnorm\n          - relu\n"
    "    - residual:\n        shortcut: projection\n        projection_batchnorm: true\n"
    "        layers:\n          - conv: {filters: 3, size: 3, stride: 2, pad: 1}\n"
    "          - sigmoid\n"
    "    - avgpool: {size: 2, stride: 1}\n    - flatten\n    - dense: {units: 5}\n    - softmax\n",
};

START_TEST(test_threads_match_single)
{
    const char *layers = threaded_nets[_i % 3];
    /* batch sizes: even split, uneven split, fewer examples than threads */
    static const int batch[][2] = {{16, 16}, {13, 16}, {2, 16}};
    int n = batch[_i / 3][0], max_batch = batch[_i / 3][1];
    pass_result one, two, three, two_again;
    threaded_pass("[2, 8, 8]", layers, 1, max_batch, n, &one);
    threaded_pass("[2, 8, 8]", layers, 2, max_batch, n, &two);
    threaded_pass("[2, 8, 8]", layers, 3, max_batch, n, &three);
    threaded_pass("[2, 8, 8]", layers, 2, max_batch, n, &two_again);
    fixture f;
    fixture_make(&f, "[2, 8, 8]", layers, "cross_entropy", NR_BACKEND_BLAS, max_batch);
    size_t p = nr_net_param_count(f.net), b = nr_net_buffer_count(f.net);
    size_t k = (size_t)n * nr_net_classes(f.net);
    fixture_free(&f);
    const pass_result *multi[2] = {&two, &three};
    for (int m = 0; m < 2; m++) {
        ck_assert_float_eq_tol(one.loss, multi[m]->loss, 1e-5f);
        for (size_t i = 0; i < k; i++)
            ck_assert_float_eq_tol(one.logits[i], multi[m]->logits[i], 1e-5f);
        for (size_t i = 0; i < p; i++)
            ck_assert_msg(fabsf(one.grads[i] - multi[m]->grads[i]) <=
                              1e-5f + 1e-4f * fabsf(one.grads[i]),
                          "net %d n %d: grad %zu: 1 thread %g, %d threads %g", _i % 3, n, i,
                          one.grads[i], m + 2, multi[m]->grads[i]);
        for (size_t i = 0; i < b; i++)
            ck_assert_float_eq_tol(one.buffers[i], multi[m]->buffers[i], 1e-6f);
        /* the dropout stream moved on by the same amount */
        ck_assert(one.dropout.state == multi[m]->dropout.state);
    }
    /* the same thread count: the same bits */
    ck_assert(two.loss == two_again.loss);
    ck_assert_mem_eq(two.logits, two_again.logits, k * sizeof(float));
    ck_assert_mem_eq(two.grads, two_again.grads, p * sizeof(float));
    ck_assert_mem_eq(two.buffers, two_again.buffers, b * sizeof(float));
    pass_free(&one);
    pass_free(&two);
    pass_free(&three);
    pass_free(&two_again);
}
END_TEST

/* Batchnorm combines per-image sums in image order: its statistics are the
 * same bits for any thread count (uneven splits and an empty share
 * included), not just within rounding. On the input, its running
 * statistics depend on nothing else. */
START_TEST(test_batchnorm_threads_same_bits)
{
    const char *layers = "    - batchnorm\n    - relu\n    - dense: {units: 5}\n"
                         "    - softmax\n";
    static const int batch[] = {16, 13, 2};
    const int n = batch[_i];
    pass_result one, other;
    threaded_pass("[2, 6, 6]", layers, 1, 16, n, &one);
    fixture f;
    fixture_make(&f, "[2, 6, 6]", layers, "cross_entropy", NR_BACKEND_BLAS, 16);
    size_t b = nr_net_buffer_count(f.net);
    fixture_free(&f);
    ck_assert_uint_eq(b, 4);   /* running mean and variance of 2 channels */
    for (int threads = 2; threads <= 3; threads++) {
        threaded_pass("[2, 6, 6]", layers, threads, 16, n, &other);
        ck_assert_mem_eq(one.buffers, other.buffers, b * sizeof(float));
        pass_free(&other);
    }
    pass_free(&one);
}
END_TEST

/* Threads can be changed, 0 means the online cores, and the cap holds. */
START_TEST(test_threads_setting)
{
    fixture f;
    fixture_make(&f, "[1, 4, 4]", "    - dense: {units: 3}\n", "cross_entropy",
                 NR_BACKEND_BLAS, 4);
    nr_error err = {0};
    ck_assert_int_eq(nr_net_threads(f.net), 1);
    ck_assert_int_eq(nr_net_set_threads(f.net, 8, &err), 0);
    ck_assert_int_eq(nr_net_threads(f.net), 4); /* capped at max_batch */
    ck_assert_int_eq(nr_net_set_threads(f.net, 0, &err), 0);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_int_eq(nr_net_threads(f.net), online < 1 ? 1 : online > 4 ? 4 : (int)online);
    ck_assert_int_eq(nr_net_set_threads(f.net, 1, &err), 0);
    ck_assert_int_eq(nr_net_threads(f.net), 1);
    ck_assert_int_eq(nr_net_set_threads(f.net, 2, &err), 0);
    float x[4 * 16] = {0};
    int32_t labels[4] = {0, 1, 2, 0};
    nr_net_zero_grads(f.net);
    nr_net_forward(f.net, x, 4, true);
    nr_net_loss(f.net, labels, 4, true, NULL, NULL);
    nr_net_backward(f.net, x, 4);
    fixture_free(&f);
}
END_TEST

/* One training step of 4 examples with the timing on (labels 0 1 2 0). */
static void timed_step(nr_net *net, const float *x)
{
    int32_t labels[4] = {0, 1, 2, 0};
    nr_net_zero_grads(net);
    nr_net_forward(net, x, 4, true);
    nr_net_loss(net, labels, 4, true, NULL, NULL);
    nr_net_backward(net, x, 4);
}

/* The bench hooks: one time per executed layer, filled by a pass. */
START_TEST(test_timing_hooks)
{
    for (int threads = 1; threads <= 2; threads++) {
        fixture f;
        fixture_make(&f, "[1, 6, 6]",
                     "    - conv: {filters: 2, size: 3}\n    - relu\n    - dense: {units: 3}\n"
                     "    - softmax\n",
                     "cross_entropy", NR_BACKEND_BLAS, 4);
        nr_error err = {0};
        ck_assert_int_eq(nr_net_set_threads(f.net, threads, &err), 0);
        ck_assert_uint_eq(nr_net_timed_layers(f.net), 3);
        nr_net_set_timing(f.net, true);
        float x[4 * 36] = {0};
        timed_step(f.net, x);
        const nr_layer_times *times = nr_net_layer_times(f.net);
        for (size_t i = 0; i < 3; i++) {
            ck_assert(times[i].forward > 0.0 && times[i].backward > 0.0);
            ck_assert(times[i].forward_cpu >= 0.0 && times[i].backward_cpu >= 0.0);
        }
        nr_layer_times reduce = nr_net_reduce_times(f.net);
        ck_assert(threads == 1 ? reduce.backward == 0.0 : reduce.backward > 0.0);
        fixture_free(&f);
    }
}
END_TEST

/* Inside residual blocks: a timed part per inner layer, shortcut layer,
 * identity and add, in pre-order after their block, adding up to it. */
START_TEST(test_timing_parts)
{
    for (int threads = 1; threads <= 2; threads++) {
        fixture f;
        fixture_make(&f, "[1, 6, 6]",
                     "    - residual:\n        layers:\n"
                     "          - conv: {filters: 2, size: 3, pad: 1}\n          - relu\n"
                     "    - residual:\n        layers:\n"
                     "          - conv: {filters: 2, size: 3, pad: 1}\n"
                     "    - dense: {units: 3}\n    - softmax\n",
                     "cross_entropy", NR_BACKEND_BLAS, 4);
        nr_error err = {0};
        ck_assert_int_eq(nr_net_set_threads(f.net, threads, &err), 0);
        ck_assert_uint_eq(nr_net_timed_layers(f.net), 3);
        ck_assert_uint_eq(nr_net_timed_parts(f.net), 7);
        const nr_timed_part *parts = nr_net_parts(f.net);
        static const struct {
            size_t top;
            nr_part_kind kind;
            const char *label;
        } want[] = {{0, NR_PART_LAYER, "1.1"},    {0, NR_PART_LAYER, "1.2"},
                    {0, NR_PART_SHORTCUT, "1.s"}, {0, NR_PART_ADD, NULL},
                    {1, NR_PART_LAYER, "2.1"},    {1, NR_PART_IDENTITY, NULL},
                    {1, NR_PART_ADD, NULL}};
        for (size_t i = 0; i < 7; i++) {
            ck_assert_uint_eq(parts[i].top, want[i].top);
            ck_assert_int_eq(parts[i].kind, want[i].kind);
            ck_assert_int_eq(parts[i].depth, 1);
            if (want[i].label)
                ck_assert_str_eq(parts[i].layer->label, want[i].label);
            else
                ck_assert_ptr_null(parts[i].layer);
        }
        nr_net_set_timing(f.net, true);
        float x[4 * 36];
        for (int i = 0; i < 4 * 36; i++)
            x[i] = (float)(i % 7) / 7.0f;
        timed_step(f.net, x);
        const nr_layer_times *times = nr_net_layer_times(f.net);
        for (size_t top = 0; top < 2; top++) {
            double fwd = 0, bwd = 0, fwd_cpu = 0, bwd_cpu = 0;
            for (size_t i = 0; i < 7; i++)
                if (parts[i].top == top) {
                    ck_assert(parts[i].times.forward >= 0.0 && parts[i].times.backward > 0.0);
                    fwd += parts[i].times.forward;
                    bwd += parts[i].times.backward;
                    fwd_cpu += parts[i].times.forward_cpu;
                    bwd_cpu += parts[i].times.backward_cpu;
                }
            /* the parts are consecutive spans within the block's (which ends
             * a little later: the return from the block, a barrier) */
            ck_assert(fwd > 0.0 && fwd <= times[top].forward + 1e-12);
            ck_assert(bwd > 0.0 && bwd <= times[top].backward + 1e-12);
            ck_assert(fwd_cpu <= times[top].forward_cpu + 1e-12);
            ck_assert(bwd_cpu <= times[top].backward_cpu + 1e-12);
        }
        ck_assert(parts[5].times.forward == 0.0);   /* the identity costs nothing forward */
        fixture_free(&f);
    }
}
END_TEST

/* Whole training runs with 2 threads: deterministic, and they learn. */
START_TEST(test_threaded_training_deterministic)
{
    nr_epoch_record h[2][4];
    static float params[2][4096];
    for (int rep = 0; rep < 2; rep++) {
        fixture f;
        fixture_make(&f, "[1, 8, 8]", TOY_CNN, "cross_entropy", NR_BACKEND_BLAS, 16);
        nr_error err = {0};
        ck_assert(ns_doc_apply_set(f.doc, "train.batch_size=16", &err) == 0);
        ck_assert(ns_doc_apply_set(f.doc, "train.epochs=4", &err) == 0);
        ck_assert_msg(ns_doc_resolve(f.doc, &err) == 0, "%s", err.message);
        nr_train_config cfg;
        ck_assert_msg(nr_spec_train_config(f.doc, &cfg, &err) == 0, "%s", err.message);
        cfg.threads = 2;
        cfg.sgd.lr = 0.1f;
        ck_assert_int_eq(nr_net_set_threads(f.net, 2, &err), 0);
        nr_dataset *train = toy_dataset(400, 1), *test = toy_dataset(100, 2);
        nr_train_outcome outcome;
        ck_assert_msg(nr_train(f.net, train, test, &cfg, NULL, h[rep], &outcome, &err) == 0,
                      "%s", err.message);
        ck_assert_uint_le(nr_net_param_count(f.net), 4096);
        memcpy(params[rep], nr_net_params(f.net), nr_net_param_count(f.net) * sizeof(float));
        if (rep == 1)
            ck_assert_mem_eq(params[0], params[1], nr_net_param_count(f.net) * sizeof(float));
        toy_free(train);
        toy_free(test);
        fixture_free(&f);
    }
    for (int e = 0; e < 4; e++) {
        ck_assert(h[0][e].train_cost == h[1][e].train_cost);
        ck_assert(h[0][e].test_acc == h[1][e].test_acc);
    }
    ck_assert_msg(h[0][3].test_acc >= 0.95, "test accuracy %.3f", h[0][3].test_acc);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("net");
    TCase *grad = tcase_create("gradcheck");
    tcase_add_test(grad, test_gradcheck_cnn);
    tcase_add_test(grad, test_gradcheck_winograd_convs);
    tcase_add_test(grad, test_gradcheck_winograd_side_by_side);
    tcase_add_test(grad, test_gradcheck_activations_pools);
    tcase_add_test(grad, test_gradcheck_fused_epilogues);
    tcase_add_test(grad, test_gradcheck_batchnorm_dropout);
    tcase_add_test(grad, test_gradcheck_batchnorm_fused);
    tcase_add_test(grad, test_gradcheck_residual);
    tcase_add_test(grad, test_gradcheck_mse);
    suite_add_tcase(suite, grad);
    TCase *exec = tcase_create("exec");
    tcase_add_test(exec, test_backends_agree);
    tcase_add_test(exec, test_training_learns_and_is_deterministic);
    tcase_add_test(exec, test_weights_round_trip);
    suite_add_tcase(suite, exec);
    TCase *threads = tcase_create("threads");
    tcase_add_loop_test(threads, test_threads_match_single, 0, 9);
    tcase_add_loop_test(threads, test_batchnorm_threads_same_bits, 0, 3);
    tcase_add_test(threads, test_threads_setting);
    tcase_add_test(threads, test_timing_hooks);
    tcase_add_test(threads, test_timing_parts);
    tcase_add_test(threads, test_threaded_training_deterministic);
    suite_add_tcase(suite, threads);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
