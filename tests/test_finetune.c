/* test_finetune.c - starting from weights: the layout of the layers with
 * values (nr_graph_weighted_layers) against the net's vectors, train.init_from
 * copying a source model's values exactly (fresh layers excepted) and its
 * mismatch errors, `freeze: true` keeping parameters bit-identical while the
 * others (before and after the frozen layer) train, a frozen batchnorm
 * being a fixed map, and a checkpoint continued to another total of epochs
 * (netrun resume --epochs) equal to a run planned for it from the start. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netrun/fileio.h"
#include "netrun/graph.h"
#include "netrun/init_from.h"
#include "netrun/kernels.h"
#include "netrun/net.h"
#include "netrun/netspec.h"
#include "netrun/spec_load.h"
#include "netrun/train.h"
#include "netrun/weights.h"

#include "toy_data.h"

/* conv, a residual block with a batch-normalized projection shortcut and a
 * batchnorm: 6 layers with values; the spec files below add their own last
 * layers after them, from line DENSE_LINE. */
#define SOURCE_LAYERS                                                                   \
    "    - conv: {filters: 4, pad: 1}\n"                                                \
    "    - relu\n"                                                                      \
    "    - residual:\n"                                                                 \
    "        layers: [{conv: {filters: 6, pad: 1}}, batchnorm, relu]\n"                 \
    "        projection_batchnorm: true\n"                                              \
    "    - maxpool\n"                                                                   \
    "    - batchnorm\n"
enum { DENSE_LINE = 12 };   /* 4 header lines + 7 layer lines + 1 */

typedef struct tmpdir {
    char path[64];
} tmpdir;

static void tmpdir_make(tmpdir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/netrun-finetune-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d->path));
}

static void tmpdir_remove(tmpdir *d)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d->path);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes a spec with SOURCE_LAYERS then `tail` (layer lines) and the train
 * section `train` to dir/name; its path into path. */
static void write_spec(const char *dir, const char *name, const char *tail, const char *train,
                       char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "data: {train: /x/Train, test: /x/Test}\n"
               "network:\n"
               "  input: [1, 8, 8]\n"
               "  layers:\n"
               SOURCE_LAYERS
               "%s"
               "train:\n%s",
            tail, train);
    fclose(f);
}

static void load_spec(const char *path, nr_spec *spec)
{
    nr_error err = {0};
    ck_assert_msg(nr_spec_load(path, NULL, 0, spec, &err) == 0, "%s", err.message);
}

static nr_net *make_net(const nr_spec *spec, uint64_t seed)
{
    nr_net *net;
    nr_error err = {0};
    ck_assert_msg(nr_net_create(spec->graph, 16, NR_BACKEND_BLAS, spec->train.loss, &net,
                                &err) == 0, "%s", err.message);
    nr_net_init(net, seed);
    return net;
}

/* A trained model on disk: dir/src/resolved.yaml and weights.bin of the
 * source network (seed 3, running statistics set to distinct values). */
static void write_source_model(const char *dir, char *model_dir, size_t size)
{
    snprintf(model_dir, size, "%s/src", dir);
    ck_assert_int_eq(mkdir(model_dir, 0755), 0);
    char spec_path[256];
    write_spec(dir, "source.yaml", "    - dense: {units: 4}\n", "  epochs: 1\n", spec_path,
               sizeof spec_path);
    nr_spec spec;
    load_spec(spec_path, &spec);
    nr_net *net = make_net(&spec, 3);
    float *buffers = nr_net_buffers(net);
    for (size_t i = 0; i < nr_net_buffer_count(net); i++)
        buffers[i] = 0.5f + 0.25f * (float)i;
    nr_error err = {0};
    char *text;
    size_t len;
    ck_assert(ns_doc_emit(spec.doc, &text, &len, &err) == 0);
    char path[300];
    snprintf(path, sizeof path, "%s/resolved.yaml", model_dir);
    ck_assert_msg(nr_write_file_atomic(path, text, len, &err) == 0, "%s", err.message);
    free(text);
    char *names[] = {"a", "b", "c", "d"};
    nr_model_info info = nr_model_info_for(1, 8, 8, 4, names);
    snprintf(path, sizeof path, "%s/weights.bin", model_dir);
    ck_assert_msg(nr_weights_save(path, net, nr_graph_hash(spec.graph), &info, &err) == 0, "%s",
                  err.message);
    nr_net_free(net);
    nr_spec_free(&spec);
}

/* The source model's values, loaded into a net of its own spec. */
static nr_net *load_source(const char *model_dir, nr_spec *spec)
{
    char path[300];
    snprintf(path, sizeof path, "%s/resolved.yaml", model_dir);
    load_spec(path, spec);
    nr_net *net = make_net(spec, 99);
    snprintf(path, sizeof path, "%s/weights.bin", model_dir);
    nr_error err = {0};
    ck_assert_msg(nr_weights_load(path, net, nr_graph_hash(spec->graph), NULL, &err) == 0, "%s",
                  err.message);
    return net;
}

/* ---- the layout of the layers with values */

START_TEST(test_weighted_layers_layout)
{
    tmpdir d;
    tmpdir_make(&d);
    char path[256];
    write_spec(d.path, "s.yaml", "    - dense: {units: 4}\n", "  epochs: 1\n", path, sizeof path);
    nr_spec spec;
    load_spec(path, &spec);
    nr_net *net = make_net(&spec, 1);
    size_t n = nr_graph_weighted_layers(spec.graph, NULL, 0);
    ck_assert_uint_eq(n, 7);
    nr_weighted_layer layers[7];
    ck_assert_uint_eq(nr_graph_weighted_layers(spec.graph, layers, 7), 7);
    const char *labels[] = {"1", "3.1", "3.2", "3.s", "3.s", "5", "6"};
    const nr_layer_kind kinds[] = {NR_LAYER_CONV, NR_LAYER_CONV, NR_LAYER_BATCHNORM,
                                   NR_LAYER_CONV, NR_LAYER_BATCHNORM, NR_LAYER_BATCHNORM,
                                   NR_LAYER_DENSE};
    size_t params = 0, buffers = 0;
    const float *p = nr_net_params(net), *b = nr_net_buffers(net);
    for (size_t i = 0; i < n; i++) {
        const nr_layer *layer = layers[i].layer;
        ck_assert_str_eq(layer->label, labels[i]);
        ck_assert_int_eq(layer->kind, kinds[i]);
        /* contiguous, in order */
        ck_assert_uint_eq(layers[i].param_offset, params);
        ck_assert_uint_eq(layers[i].buffer_offset, buffers);
        params += layer->param_count;
        buffers += layer->buffer_count;
        if (layer->kind == NR_LAYER_BATCHNORM) {
            /* the init the net gave this slice: gamma 1, beta 0, mean 0, var 1 */
            size_t c = (size_t)layer->in.c;
            ck_assert_uint_eq(layer->buffer_count, 2 * c);
            for (size_t j = 0; j < c; j++) {
                ck_assert(p[layers[i].param_offset + j] == 1.0f);
                ck_assert(p[layers[i].param_offset + c + j] == 0.0f);
                ck_assert(b[layers[i].buffer_offset + j] == 0.0f);
                ck_assert(b[layers[i].buffer_offset + c + j] == 1.0f);
            }
        } else {
            ck_assert_uint_eq(layer->buffer_count, 0);
            /* weights drawn (not 0), bias 0 at the end of the slice */
            ck_assert(p[layers[i].param_offset] != 0.0f);
            if (layer->kind == NR_LAYER_DENSE)
                ck_assert(p[layers[i].param_offset + layer->param_count - 1] == 0.0f);
        }
    }
    ck_assert_uint_eq(params, nr_net_param_count(net));
    ck_assert_uint_eq(buffers, nr_net_buffer_count(net));
    char shapes[128];
    ck_assert_str_eq(nr_layer_describe_params(layers[0].layer, shapes, sizeof shapes),
                     "weight 4x1x3x3, bias 4");
    ck_assert_str_eq(nr_layer_describe_params(layers[3].layer, shapes, sizeof shapes),
                     "weight 6x4x1x1");
    ck_assert_str_eq(nr_layer_describe_params(layers[5].layer, shapes, sizeof shapes),
                     "gamma 6, beta 6");
    ck_assert_str_eq(nr_layer_describe_params(layers[6].layer, shapes, sizeof shapes),
                     "weight 4x96, bias 4");
    nr_net_free(net);
    nr_spec_free(&spec);
    tmpdir_remove(&d);
}
END_TEST

/* ---- train.init_from */

START_TEST(test_init_from_copies_exactly)
{
    tmpdir d;
    tmpdir_make(&d);
    char model[256], path[256], train[512];
    write_source_model(d.path, model, sizeof model);
    nr_spec source_spec;
    nr_net *source = load_source(model, &source_spec);
    size_t params = nr_net_param_count(source), buffers = nr_net_buffer_count(source);

    /* everything loaded: the values are the source's, bit for bit */
    snprintf(train, sizeof train, "  init_from: src\n");
    write_spec(d.path, "t.yaml", "    - dense: {units: 4}\n", train, path, sizeof path);
    nr_spec spec;
    load_spec(path, &spec);
    nr_net *net = make_net(&spec, 1);
    ck_assert(memcmp(nr_net_params(net), nr_net_params(source), params * sizeof(float)) != 0);
    nr_init_from_report report;
    nr_error err = {0};
    ck_assert_msg(nr_init_from(&spec, net, &report, &err) == 0, "%s", err.message);
    ck_assert_mem_eq(nr_net_params(net), nr_net_params(source), params * sizeof(float));
    ck_assert_mem_eq(nr_net_buffers(net), nr_net_buffers(source), buffers * sizeof(float));
    ck_assert_uint_eq(report.layers, 7);
    ck_assert_uint_eq(report.loaded, 7);
    ck_assert_uint_eq(report.fresh, 0);
    ck_assert_uint_eq(report.loaded_params, params);
    char expect[300];
    snprintf(expect, sizeof expect, "%s/weights.bin", model);
    ck_assert_str_eq(report.source, expect);
    nr_net_free(net);
    nr_spec_free(&spec);

    /* a fresh head of other units keeps its own init; the rest is loaded */
    write_spec(d.path, "t.yaml", "    - dense: {units: 5, fresh: true}\n", train, path,
               sizeof path);
    load_spec(path, &spec);
    net = make_net(&spec, 1);
    size_t own_count = nr_net_param_count(net);
    float *own = malloc(own_count * sizeof *own);
    memcpy(own, nr_net_params(net), own_count * sizeof *own);
    ck_assert_msg(nr_init_from(&spec, net, &report, &err) == 0, "%s", err.message);
    nr_weighted_layer layers[7];
    nr_graph_weighted_layers(spec.graph, layers, 7);
    size_t head = layers[6].param_offset;
    ck_assert_mem_eq(nr_net_params(net), nr_net_params(source), head * sizeof(float));
    ck_assert_mem_eq(nr_net_params(net) + head, own + head, (own_count - head) * sizeof(float));
    ck_assert_mem_eq(nr_net_buffers(net), nr_net_buffers(source), buffers * sizeof(float));
    ck_assert_uint_eq(report.loaded, 6);
    ck_assert_uint_eq(report.fresh, 1);
    ck_assert_str_eq(report.fresh_labels, "6");
    char line[4400];
    nr_init_from_describe(&report, line, sizeof line);
    ck_assert_msg(strstr(line, "6 of 7 layers with parameters loaded") &&
                  strstr(line, "fresh: layer 6"), "%s", line);
    free(own);
    nr_net_free(net);
    nr_spec_free(&spec);

    /* check only (net NULL): nothing to copy into, the same report */
    load_spec(path, &spec);
    ck_assert(nr_init_from(&spec, NULL, &report, &err) == 0);
    ck_assert_uint_eq(report.loaded, 6);
    nr_spec_free(&spec);

    /* the source named by its weights file works the same */
    snprintf(train, sizeof train, "  init_from: src/weights.bin\n");
    write_spec(d.path, "t.yaml", "    - dense: {units: 4}\n", train, path, sizeof path);
    load_spec(path, &spec);
    net = make_net(&spec, 1);
    ck_assert_msg(nr_init_from(&spec, net, &report, &err) == 0, "%s", err.message);
    ck_assert_mem_eq(nr_net_params(net), nr_net_params(source), params * sizeof(float));
    nr_net_free(net);
    nr_spec_free(&spec);

    nr_net_free(source);
    nr_spec_free(&source_spec);
    tmpdir_remove(&d);
}
END_TEST

/* nr_init_from's error for a spec whose dense line is `dense` and train
 * section `train` (the spec loads). */
static void expect_init_error(const char *dir, const char *dense, const char *train,
                              const char *prefix_fmt, int line, const char *words)
{
    char path[256];
    write_spec(dir, "t.yaml", dense, train, path, sizeof path);
    nr_spec spec;
    load_spec(path, &spec);
    nr_error err = {0};
    ck_assert_int_eq(nr_init_from(&spec, NULL, NULL, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    char prefix[300];
    snprintf(prefix, sizeof prefix, prefix_fmt, path, line);
    ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0, "'%s' lacks prefix '%s'",
                  err.message, prefix);
    ck_assert_msg(strstr(err.message, words), "'%s' lacks '%s'", err.message, words);
    nr_spec_free(&spec);
}

START_TEST(test_init_from_mismatch_errors)
{
    tmpdir d;
    tmpdir_make(&d);
    char model[256];
    write_source_model(d.path, model, sizeof model);
    const char *train = "  init_from: src\n";
    const int init_from_line = DENSE_LINE + 2;
    char words[512];
    /* a pair of other shapes: at the layer here, naming both */
    snprintf(words, sizeof words, "train.init_from: layer 6 (dense 96 -> 5) has 485 parameters "
             "(weight 5x96, bias 5) here but layer 6 (dense 96 -> 4) of %s/weights.bin has "
             "388 (weight 4x96, bias 4)", model);
    expect_init_error(d.path, "    - dense: {units: 5}\n", train, "%s:%d:7: error: ",
                      DENSE_LINE, words);
    expect_init_error(d.path, "    - dense: {units: 5}\n", train, "%s:%d:7: error: ",
                      DENSE_LINE, "fresh: true");
    /* another kind in the pair */
    expect_init_error(d.path, "    - conv: {filters: 4, pad: 1}\n",
                      "  init_from: src\n", "%s:%d:7: error: ", DENSE_LINE,
                      "layer 6 (conv 4x3x3 s1 p1) has 220 parameters (weight 4x6x3x3, bias 4) "
                      "here but layer 6 (dense 96 -> 4)");
    /* another count: at train.init_from, naming the first layer without a partner */
    expect_init_error(d.path, "    - conv: {filters: 4, pad: 1}\n    - dense: {units: 4}\n"
                      "    - batchnorm\n", "  init_from: src\n", "%s:%d:14: error: ",
                      init_from_line + 2, "this network has 9 layers with parameters but");
    expect_init_error(d.path, "    - conv: {filters: 4, pad: 1}\n    - dense: {units: 4}\n"
                      "    - batchnorm\n", "  init_from: src\n", "%s:%d:14: error: ",
                      init_from_line + 2, "has 7 (the first without a partner: layer 7 (dense 64 -> 4) here)");
    /* no such model */
    expect_init_error(d.path, "    - dense: {units: 4}\n", "  init_from: nowhere\n",
                      "%s:%d:14: error: ", init_from_line,
                      "train.init_from: /"); /* the resolved path */
    expect_init_error(d.path, "    - dense: {units: 4}\n", "  init_from: nowhere\n",
                      "%s:%d:14: error: ", init_from_line, "nowhere: no such file or folder");

    /* fresh: true without train.init_from is refused when the spec loads */
    char path[256];
    write_spec(d.path, "t.yaml", "    - dense: {units: 4, fresh: true}\n", "  epochs: 1\n",
               path, sizeof path);
    nr_spec spec;
    nr_error err = {0};
    ck_assert_int_eq(nr_spec_load(path, NULL, 0, &spec, &err), -1);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:%d:", path, DENSE_LINE);
    ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0 &&
                  strstr(err.message, "no train.init_from"), "%s", err.message);
    tmpdir_remove(&d);
}
END_TEST

/* ---- freeze */

typedef struct frozen_run {
    nr_spec spec;
    nr_net *net;
    float *before, *before_buffers;
    nr_weighted_layer layers[8];
    size_t layer_count;
} frozen_run;

/* conv (trainable), conv + batchnorm (frozen when `freeze`), dense: trained
 * 2 epochs with `optimizer` on the toy data with 2 threads. */
static void train_frozen(frozen_run *r, const char *dir, bool freeze, const char *optimizer)
{
    char path[256], text[1024];
    snprintf(path, sizeof path, "%s/freeze.yaml", dir);
    snprintf(text, sizeof text,
             "data: {train: /x/Train, test: /x/Test}\n"
             "threads: 2\n"
             "network:\n"
             "  input: [1, 8, 8]\n"
             "  layers:\n"
             "    - conv: {filters: 4, pad: 1}\n"
             "    - relu\n"
             "    - conv: {filters: 4, pad: 1, freeze: %s}\n"
             "    - batchnorm: {freeze: %s}\n"
             "    - relu\n"
             "    - maxpool\n"
             "    - dense: {units: 4}\n"
             "train: {epochs: 2, batch_size: 16, optimizer: %s}\n",
             freeze ? "true" : "false", freeze ? "true" : "false", optimizer);
    nr_error err = {0};
    ck_assert(nr_write_file_atomic(path, text, strlen(text), &err) == 0);
    load_spec(path, &r->spec);
    r->net = make_net(&r->spec, 5);
    /* running statistics away from 0 / 1, so that a frozen layer uses them */
    float *b = nr_net_buffers(r->net);
    for (size_t i = 0; i < nr_net_buffer_count(r->net); i++)
        b[i] = 0.1f + 0.05f * (float)i;
    size_t params = nr_net_param_count(r->net), buffers = nr_net_buffer_count(r->net);
    r->before = malloc(params * sizeof(float));
    r->before_buffers = malloc(buffers * sizeof(float));
    memcpy(r->before, nr_net_params(r->net), params * sizeof(float));
    memcpy(r->before_buffers, b, buffers * sizeof(float));
    r->layer_count = nr_graph_weighted_layers(r->spec.graph, r->layers, 8);
    ck_assert_uint_eq(r->layer_count, 4);
    nr_dataset *train = toy_dataset(160, 1), *test = toy_dataset(32, 2);
    nr_epoch_record history[2];
    nr_train_outcome outcome;
    ck_assert_msg(nr_train(r->net, train, test, &r->spec.train, NULL, history, &outcome, &err) ==
                  0, "%s", err.message);
    toy_free(train);
    toy_free(test);
}

static void frozen_free(frozen_run *r)
{
    free(r->before);
    free(r->before_buffers);
    nr_net_free(r->net);
    nr_spec_free(&r->spec);
}

/* Layer i's parameters after training equal those before. */
static bool unchanged(frozen_run *r, size_t i)
{
    const nr_weighted_layer *w = &r->layers[i];
    return memcmp(nr_net_params(r->net) + w->param_offset, r->before + w->param_offset,
                  w->layer->param_count * sizeof(float)) == 0;
}

START_TEST(test_freeze_keeps_layers_fixed)
{
    tmpdir d;
    tmpdir_make(&d);
    /* weight decay would move every weight it reaches: sgd's L2 and adamw's
     * decoupled decay */
    const char *optimizers[] = {"{sgd: {lr: 0.1, momentum: 0.9, weight_decay: 0.01}}",
                                "{adamw: {lr: 0.01, weight_decay: 0.1}}"};
    for (size_t o = 0; o < 2; o++) {
        frozen_run r;
        train_frozen(&r, d.path, true, optimizers[o]);
        ck_assert(r.layers[1].layer->frozen && r.layers[2].layer->frozen);
        ck_assert_uint_eq(r.spec.graph->frozen_param_count,
                          r.layers[1].layer->param_count + r.layers[2].layer->param_count);
        /* the frozen conv and batchnorm: bit-identical, running statistics too */
        ck_assert_msg(unchanged(&r, 1), "frozen conv changed (%s)", optimizers[o]);
        ck_assert_msg(unchanged(&r, 2), "frozen batchnorm changed (%s)", optimizers[o]);
        ck_assert_mem_eq(nr_net_buffers(r.net), r.before_buffers,
                         nr_net_buffer_count(r.net) * sizeof(float));
        /* the others trained: the first conv through the frozen layers' gradients */
        ck_assert_msg(!unchanged(&r, 0), "the conv before the frozen layers did not train");
        ck_assert_msg(!unchanged(&r, 3), "the dense layer did not train");
        frozen_free(&r);
    }
    /* the same without freeze: those layers do change */
    frozen_run r;
    train_frozen(&r, d.path, false, optimizers[0]);
    ck_assert(!unchanged(&r, 1) && !unchanged(&r, 2));
    ck_assert(memcmp(nr_net_buffers(r.net), r.before_buffers,
                     nr_net_buffer_count(r.net) * sizeof(float)) != 0);
    frozen_free(&r);
    tmpdir_remove(&d);
}
END_TEST

/* A frozen batchnorm is one fixed map: its training forward equals its
 * evaluation forward, and its backward is that map's derivative. */
START_TEST(test_frozen_batchnorm_is_fixed_map)
{
    tmpdir d;
    tmpdir_make(&d);
    char path[256];
    snprintf(path, sizeof path, "%s/bn.yaml", d.path);
    const char *text = "data: {train: /x/Train, test: /x/Test}\n"
                       "network: {input: [2, 3, 3], layers: [{batchnorm: {freeze: true}}]}\n"
                       "train: {loss: mse}\n";
    nr_error err = {0};
    ck_assert(nr_write_file_atomic(path, text, strlen(text), &err) == 0);
    nr_spec spec;
    load_spec(path, &spec);
    nr_net *net = make_net(&spec, 1);
    float *p = nr_net_params(net), *b = nr_net_buffers(net);
    const float gamma[2] = {1.5f, -0.5f}, beta[2] = {0.25f, 2.0f};
    const float mean[2] = {0.3f, -1.0f}, var[2] = {2.0f, 0.5f};
    memcpy(p, gamma, sizeof gamma);
    memcpy(p + 2, beta, sizeof beta);
    memcpy(b, mean, sizeof mean);
    memcpy(b + 2, var, sizeof var);
    float x[4 * 18];
    for (int i = 0; i < 4 * 18; i++)
        x[i] = sinf(0.7f * (float)i) * 3.0f;
    float eval[4 * 18];
    memcpy(eval, nr_net_forward(net, x, 4, false), sizeof eval);
    const float *train = nr_net_forward(net, x, 4, true);
    ck_assert_mem_eq(train, eval, sizeof eval);
    ck_assert_mem_eq(b, mean, sizeof mean);   /* running statistics not moved */
    ck_assert_mem_eq(b + 2, var, sizeof var);
    nr_net_free(net);
    nr_spec_free(&spec);

    /* the kernel: din += dout * gamma / sqrt(var + eps), accumulated */
    nr_batchnorm_dims dims = {.n = 2, .c = 2, .hw = 3};
    float dout[12], din[12];
    for (int i = 0; i < 12; i++) {
        dout[i] = 0.1f * (float)(i + 1);
        din[i] = 1.0f;
    }
    nr_batchnorm_backward_eval(&dims, dout, gamma, var, 1e-5f, din);
    for (int i = 0; i < 12; i++) {
        int ch = (i / 3) % 2;
        float want = 1.0f + dout[i] * (float)(gamma[ch] / sqrt((double)var[ch] + 1e-5));
        ck_assert_float_eq_tol(din[i], want, 1e-6f);
    }
    tmpdir_remove(&d);
}
END_TEST

/* ---- a checkpoint continued to another total */

typedef struct trainer_run {
    ns_doc *doc;
    nr_graph *graph;
    nr_net *net;
    nr_trainer *trainer;
    nr_train_config cfg;
} trainer_run;

static void trainer_make(trainer_run *r, const char *train_section, int epochs,
                         const nr_dataset *train, const nr_dataset *test)
{
    char text[2048];
    snprintf(text, sizeof text,
             "data: {train: /x/Train, test: /x/Test}\n"
             "network: {input: [1, 8, 8], layers: [{dense: {units: 4}}, softmax]}\n"
             "train:\n  batch_size: 16\n  epochs: %d\n%s", epochs, train_section);
    nr_error err = {0};
    ck_assert(ns_doc_parse_string(text, strlen(text), "t.yaml", "/tmp", &r->doc, &err) == 0);
    ck_assert_msg(ns_doc_resolve(r->doc, &err) == 0, "%s", err.message);
    ck_assert(nr_graph_build(r->doc, &r->graph, &err) == 0);
    ck_assert(nr_spec_train_config(r->doc, &r->cfg, &err) == 0);
    r->cfg.threads = 1;
    ck_assert(nr_net_create(r->graph, 16, NR_BACKEND_BLAS, r->cfg.loss, &r->net, &err) == 0);
    nr_net_init(r->net, r->cfg.seed);
    ck_assert(nr_trainer_create(r->net, train, test, &r->cfg, &r->trainer, &err) == 0);
}

static void trainer_run_free(trainer_run *r)
{
    nr_trainer_free(r->trainer);
    nr_net_free(r->net);
    nr_graph_free(r->graph);
    ns_doc_free(r->doc);
}

/* Trains `section` for `first` epochs (until it ends) and saves its
 * checkpoint (spec hash 7) into a new folder made from the mkdtemp template
 * dir: dir/checkpoint.bin, into path. */
static void write_checkpoint(const char *section, int first, const nr_dataset *train,
                             const nr_dataset *test, char *dir, char *path, size_t size)
{
    nr_error err = {0};
    nr_train_outcome outcome;
    trainer_run part;
    trainer_make(&part, section, first, train, test);
    ck_assert(nr_trainer_run(part.trainer, NULL, NULL, &outcome, &err) == 0);
    ck_assert(nr_trainer_finished(part.trainer));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, size, "%s/checkpoint.bin", dir);
    ck_assert(nr_trainer_save(part.trainer, path, 7, &err) == 0);
    trainer_run_free(&part);
}

/* Trains `section` for `first` epochs, checkpoints, and continues in a new
 * trainer planned for `total`: the history and weights equal a run planned
 * for `total` from the start. */
static void check_continued_equals_planned(const char *section, int first, int total)
{
    nr_dataset *train = toy_dataset(160, 1), *test = toy_dataset(32, 2);
    nr_error err = {0};
    nr_train_outcome outcome;
    trainer_run whole, more;
    trainer_make(&whole, section, total, train, test);
    ck_assert(nr_trainer_run(whole.trainer, NULL, NULL, &outcome, &err) == 0);
    char dir[] = "/tmp/netrun-total-XXXXXX", path[64];
    write_checkpoint(section, first, train, test, dir, path, sizeof path);
    trainer_make(&more, section, total, train, test);
    ck_assert_msg(nr_trainer_load(more.trainer, path, 7, &err) == 0, "%s", err.message);
    ck_assert_int_eq(nr_trainer_checkpoint_epochs(more.trainer), first);
    ck_assert(!nr_trainer_finished(more.trainer));
    ck_assert(nr_trainer_run(more.trainer, NULL, NULL, &outcome, &err) == 0);
    int done_whole, done_more;
    const nr_epoch_record *a = nr_trainer_history(whole.trainer, &done_whole);
    const nr_epoch_record *b = nr_trainer_history(more.trainer, &done_more);
    ck_assert_int_eq(done_more, done_whole);
    for (int e = 0; e < done_whole; e++) {
        ck_assert_msg(a[e].train_cost == b[e].train_cost && a[e].test_cost == b[e].test_cost &&
                      a[e].test_acc == b[e].test_acc && a[e].lr == b[e].lr,
                      "%s: epoch %d differs", section, e + 1);
    }
    ck_assert_mem_eq(nr_net_params(more.net), nr_net_params(whole.net),
                     nr_net_param_count(whole.net) * sizeof(float));
    /* and its own checkpoint is of the new total */
    ck_assert(nr_trainer_save(more.trainer, path, 7, &err) == 0);
    trainer_run again;
    trainer_make(&again, section, total, train, test);
    ck_assert_msg(nr_trainer_load(again.trainer, path, 7, &err) == 0, "%s", err.message);
    ck_assert_int_eq(nr_trainer_checkpoint_epochs(again.trainer), total);
    ck_assert(nr_trainer_finished(again.trainer));
    trainer_run_free(&again);
    unlink(path);
    rmdir(dir);
    trainer_run_free(&whole);
    trainer_run_free(&more);
    toy_free(train);
    toy_free(test);
}

/* A checkpoint of `section` after `first` epochs, loaded into a trainer
 * planned for `total`: refused with `words`. */
static void check_continue_refused(const char *section, int first, int total,
                                   const char *words)
{
    nr_dataset *train = toy_dataset(160, 1), *test = toy_dataset(32, 2);
    nr_error err = {0};
    trainer_run more;
    char dir[] = "/tmp/netrun-total-XXXXXX", path[64];
    write_checkpoint(section, first, train, test, dir, path, sizeof path);
    trainer_make(&more, section, total, train, test);
    ck_assert_int_eq(nr_trainer_load(more.trainer, path, 7, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strstr(err.message, words), "'%s' lacks '%s'", err.message, words);
    ck_assert_int_eq(nr_trainer_checkpoint_epochs(more.trainer), total); /* nothing loaded */
    unlink(path);
    rmdir(dir);
    trainer_run_free(&more);
    toy_free(train);
    toy_free(test);
}

START_TEST(test_checkpoint_continued_to_new_total)
{
    check_continued_equals_planned("  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}\n", 2, 4);
    check_continued_equals_planned("  optimizer: {adam: {lr: 0.01}}\n"
                                   "  schedule: {step: {step_size: 1, gamma: 0.5}}\n"
                                   "  validation: {fraction: 0.2}\n"
                                   "  early_stopping: {patience: 5}\n"
                                   "  augment: {shift: {pixels: 1}}\n",
                                   2, 4);
    check_continued_equals_planned("  schedule: {reduce_on_plateau: {monitor: train_cost, "
                                   "patience: 0, factor: 0.5}}\n", 1, 3);
    check_continue_refused("  schedule: cosine\n", 2, 4, "schedule (cosine) follows its total");
    check_continue_refused("  schedule: one_cycle\n", 2, 4, "one_cycle");
    /* nothing beats epoch 1 by 2.0: early stopping ends it after epoch 2 of 5 */
    check_continue_refused("  validation: {fraction: 0.25}\n"
                           "  early_stopping: {patience: 1, monitor: val_acc, min_delta: 2.0}\n",
                           5, 8, "early stopping ended the run after epoch 2 of 5");
    check_continue_refused("", 3, 2, "has done 3 epochs already");
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("finetune");
    TCase *tc = tcase_create("init_from");
    tcase_add_test(tc, test_weighted_layers_layout);
    tcase_add_test(tc, test_init_from_copies_exactly);
    tcase_add_test(tc, test_init_from_mismatch_errors);
    suite_add_tcase(suite, tc);
    tc = tcase_create("freeze");
    tcase_add_test(tc, test_freeze_keeps_layers_fixed);
    tcase_add_test(tc, test_frozen_batchnorm_is_fixed_map);
    suite_add_tcase(suite, tc);
    tc = tcase_create("resume");
    tcase_add_test(tc, test_checkpoint_continued_to_new_total);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
