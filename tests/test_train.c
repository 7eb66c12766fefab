/* test_train.c - the training loop's regularization and schedule features:
 * learning-rate schedules against hand-computed values (directly and from a
 * spec), the stratified validation split, early stopping restoring the best
 * epoch's weights, config errors for val_* monitors without a split,
 * dropout/batchnorm behaving differently in training and evaluation, and
 * the batch preparation and prefetch thread training shares with `netrun
 * bench` (nr_prepare_batch, nr_prefetcher). */
#define _DEFAULT_SOURCE /* M_PI */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrun/graph.h"
#include "netrun/net.h"
#include "netrun/netspec.h"
#include "netrun/schedule.h"
#include "netrun/spec_load.h"
#include "netrun/train.h"

#include "toy_data.h"

#define LR_EQ(got, want) ck_assert_msg(fabs((got) - (want)) <= 1e-9 + 1e-7 * fabs(want), \
                                       "lr %.10g, expected %.10g", (double)(got), (double)(want))

static nr_schedule schedule(nr_schedule_kind kind, double base, int epochs)
{
    nr_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.base_lr = base;
    s.epochs = epochs;
    s.plateau_lr = base;
    return s;
}

START_TEST(test_step_multistep_exponential)
{
    nr_schedule s = schedule(NR_SCHEDULE_STEP, 0.1, 10);
    s.step_size = 2;
    s.gamma = 0.5;
    const double step[] = {0.1, 0.1, 0.05, 0.05, 0.025};
    for (int e = 1; e <= 5; e++) {
        LR_EQ(nr_schedule_lr(&s, e, 0.0), step[e - 1]);
        LR_EQ(nr_schedule_lr(&s, e, 0.99), step[e - 1]); /* constant within an epoch */
    }
    s = schedule(NR_SCHEDULE_MULTISTEP, 0.1, 10);
    s.milestones[0] = 2;
    s.milestones[1] = 4;
    s.milestone_count = 2;
    s.gamma = 0.1;
    const double multi[] = {0.1, 0.1, 0.01, 0.01, 0.001};
    for (int e = 1; e <= 5; e++)
        LR_EQ(nr_schedule_lr(&s, e, 0.5), multi[e - 1]);
    s = schedule(NR_SCHEDULE_EXPONENTIAL, 0.1, 10);
    s.gamma = 0.5;
    LR_EQ(nr_schedule_lr(&s, 1, 0.0), 0.1);
    LR_EQ(nr_schedule_lr(&s, 2, 0.3), 0.05);
    LR_EQ(nr_schedule_lr(&s, 3, 0.0), 0.025);
    s = schedule(NR_SCHEDULE_CONSTANT, 0.3, 10);
    LR_EQ(nr_schedule_lr(&s, 7, 0.5), 0.3);
}
END_TEST

START_TEST(test_cosine_and_warmup)
{
    nr_schedule s = schedule(NR_SCHEDULE_COSINE, 0.1, 4);
    LR_EQ(nr_schedule_lr(&s, 1, 0.0), 0.1);
    LR_EQ(nr_schedule_lr(&s, 2, 0.0), 0.1 * (1 + cos(M_PI / 4)) / 2); /* t = 1 of 4 */
    LR_EQ(nr_schedule_lr(&s, 3, 0.0), 0.05);
    LR_EQ(nr_schedule_lr(&s, 4, 0.5), 0.1 * (1 + cos(M_PI * 3.5 / 4)) / 2);
    s.min_lr = 0.01;
    LR_EQ(nr_schedule_lr(&s, 3, 0.0), 0.01 + 0.09 / 2);
    s = schedule(NR_SCHEDULE_COSINE, 0.1, 6);
    s.warmup_epochs = 2;
    LR_EQ(nr_schedule_lr(&s, 1, 0.0), 0.01);
    LR_EQ(nr_schedule_lr(&s, 2, 0.0), 0.1 * (0.1 + 0.9 * 0.5));
    LR_EQ(nr_schedule_lr(&s, 3, 0.0), 0.1);
    LR_EQ(nr_schedule_lr(&s, 5, 0.0), 0.05);
}
END_TEST

START_TEST(test_one_cycle)
{
    nr_schedule s = schedule(NR_SCHEDULE_ONE_CYCLE, 0.1, 10);
    s.pct_start = 0.3;
    s.div_factor = 25;
    s.final_div_factor = 1e4;
    double start = 0.1 / 25, end = start / 1e4;
    LR_EQ(nr_schedule_lr(&s, 1, 0.0), start);
    LR_EQ(nr_schedule_lr(&s, 2, 0.5), start + (0.1 - start) * (1 - cos(M_PI * 0.5)) / 2);
    LR_EQ(nr_schedule_lr(&s, 4, 0.0), 0.1);                 /* t = 3 = peak */
    LR_EQ(nr_schedule_lr(&s, 7, 0.5), end + (0.1 - end) / 2); /* half way down */
    ck_assert(nr_schedule_lr(&s, 10, 0.999) < 0.001);
}
END_TEST

START_TEST(test_reduce_on_plateau)
{
    nr_schedule s = schedule(NR_SCHEDULE_PLATEAU, 0.1, 20);
    s.factor = 0.5;
    s.patience = 1;
    s.min_lr = 0.02;
    const double costs[] = {1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85};
    const double lr_after[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02};
    for (int e = 0; e < 10; e++) {
        nr_schedule_end_epoch(&s, costs[e]);
        LR_EQ(nr_schedule_lr(&s, e + 2, 0.0), lr_after[e]);
    }
    /* accuracy: higher is better */
    s = schedule(NR_SCHEDULE_PLATEAU, 0.1, 20);
    s.factor = 0.1;
    s.patience = 0;
    s.monitor_higher_is_better = true;
    nr_schedule_end_epoch(&s, 0.9);
    nr_schedule_end_epoch(&s, 0.95);
    LR_EQ(nr_schedule_lr(&s, 3, 0.0), 0.1);
    nr_schedule_end_epoch(&s, 0.94);
    LR_EQ(nr_schedule_lr(&s, 4, 0.0), 0.01);
}
END_TEST

static ns_doc *spec(const char *train_section)
{
    char text[4096];
    snprintf(text, sizeof text,
             "data: {train: /x/Train, test: /x/Test}\n"
             "network: {input: [1, 8, 8], layers: [{dense: {units: 4}}, softmax]}\n"
             "train:\n%s", train_section);
    ns_doc *doc;
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_string(text, strlen(text), "t.yaml", "/tmp", &doc, &err) == 0,
                  "%s", err.message);
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    return doc;
}

START_TEST(test_config_from_spec)
{
    ns_doc *doc = spec("  optimizer: {sgd: {lr: 0.2}}\n"
                       "  epochs: 6\n"
                       "  schedule: {multistep: {milestones: [2, 5], gamma: 0.5}}\n"
                       "  label_smoothing: 0.1\n"
                       "  validation: {fraction: 0.2}\n"
                       "  early_stopping: {patience: 3, monitor: val_acc}\n"
                       "  augment: {shift: {pixels: 2, p: 1}}\n");
    nr_train_config cfg;
    nr_error err = {0};
    ck_assert_msg(nr_spec_train_config(doc, &cfg, &err) == 0, "%s", err.message);
    ck_assert_int_eq(cfg.schedule.kind, NR_SCHEDULE_MULTISTEP);
    LR_EQ(nr_schedule_lr(&cfg.schedule, 3, 0.0), 0.1);
    LR_EQ(nr_schedule_lr(&cfg.schedule, 6, 0.0), 0.05);
    ck_assert_float_eq_tol(cfg.label_smoothing, 0.1f, 1e-7f);
    ck_assert(cfg.validation_fraction == 0.2);
    ck_assert_int_eq(cfg.stop_patience, 3);
    ck_assert(cfg.stop_on_accuracy);
    ck_assert(cfg.restore_best);
    ck_assert_int_eq(cfg.augment.shift_pixels, 2);
    ck_assert(nr_augment_active(&cfg.augment));
    ns_doc_free(doc);

    /* a val_* monitor without a split is refused at the key */
    doc = spec("  early_stopping: {patience: 2}\n");
    ck_assert_int_eq(nr_spec_train_config(doc, &cfg, &err), -1);
    ck_assert_int_eq(err.status, 2);
    ck_assert_msg(strstr(err.message, "t.yaml:") == err.message, "%s", err.message);
    ck_assert_ptr_nonnull(strstr(err.message, "train.validation.fraction"));
    ns_doc_free(doc);
    doc = spec("  schedule: reduce_on_plateau\n");
    ck_assert_int_eq(nr_spec_train_config(doc, &cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "reduce_on_plateau.monitor"));
    ns_doc_free(doc);
    doc = spec("  schedule: {reduce_on_plateau: {monitor: train_cost}}\n");
    ck_assert_int_eq(nr_spec_train_config(doc, &cfg, &err), 0);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_validation_split)
{
    nr_dataset *ds = toy_dataset(403, 9);
    uint32_t *train = malloc(403 * sizeof *train), *val = malloc(403 * sizeof *val);
    uint32_t *train2 = malloc(403 * sizeof *train2), *val2 = malloc(403 * sizeof *val2);
    size_t nt, nv, nt2, nv2;
    nr_validation_split(ds, 0.25, 3, train, &nt, val, &nv);
    nr_validation_split(ds, 0.25, 3, train2, &nt2, val2, &nv2);
    ck_assert_uint_eq(nt + nv, 403);
    ck_assert_uint_eq(nt, nt2);
    ck_assert_mem_eq(val, val2, nv * sizeof *val); /* same seed, same split */
    /* stratified: each class holds out round(0.25 * its size) */
    size_t per_class[4] = {0}, held[4] = {0};
    for (size_t i = 0; i < 403; i++)
        per_class[ds->labels[i]]++;
    for (size_t i = 0; i < nv; i++)
        held[ds->labels[val[i]]]++;
    for (int c = 0; c < 4; c++)
        ck_assert_uint_eq(held[c], (size_t)(0.25 * per_class[c] + 0.5));
    /* ascending, and every image in exactly one of the two lists */
    for (size_t i = 1; i < nv; i++)
        ck_assert_uint_lt(val[i - 1], val[i]);
    for (size_t i = 1; i < nt; i++)
        ck_assert_uint_lt(train[i - 1], train[i]);
    int seen[403] = {0};
    for (size_t i = 0; i < nt; i++)
        seen[train[i]]++;
    for (size_t i = 0; i < nv; i++)
        seen[val[i]]++;
    for (size_t i = 0; i < 403; i++)
        ck_assert_int_eq(seen[i], 1);
    /* another seed holds out other images */
    nr_validation_split(ds, 0.25, 4, train2, &nt2, val2, &nv2);
    ck_assert(nv2 == nv && memcmp(val, val2, nv * sizeof *val) != 0);
    free(train), free(val), free(train2), free(val2);
    toy_free(ds);
}
END_TEST

typedef struct snapshots {
    nr_net *net;
    float params[5][512];
} snapshots;

static int keep_params(void *ctx, const nr_epoch_record *history, int epochs_done,
                       nr_error *err)
{
    (void)history;
    (void)err;
    snapshots *s = ctx;
    memcpy(s->params[epochs_done - 1], nr_net_params(s->net),
           nr_net_param_count(s->net) * sizeof(float));
    return 0;
}

START_TEST(test_early_stopping_restores_best)
{
    ns_doc *doc = spec("  optimizer: {sgd: {lr: 0.1}}\n"
                       "  epochs: 5\n"
                       "  batch_size: 16\n"
                       "  validation: {fraction: 0.25}\n"
                       /* nothing can beat epoch 1 by 2.0: stop after epoch 2 */
                       "  early_stopping: {patience: 1, monitor: val_acc, min_delta: 2.0}\n");
    nr_error err = {0};
    nr_graph *graph;
    ck_assert_msg(nr_graph_build(doc, &graph, &err) == 0, "%s", err.message);
    nr_train_config cfg;
    ck_assert(nr_spec_train_config(doc, &cfg, &err) == 0);
    cfg.threads = 1;
    nr_net *net;
    ck_assert(nr_net_create(graph, cfg.batch_size, NR_BACKEND_BLAS, cfg.loss, &net, &err) == 0);
    nr_net_init(net, 1);
    ck_assert_uint_le(nr_net_param_count(net), 512);
    nr_dataset *train = toy_dataset(200, 1), *test = toy_dataset(40, 2);
    snapshots snaps = {.net = net};
    nr_train_callbacks callbacks = {.ctx = &snaps, .on_epoch = keep_params};
    nr_epoch_record history[5];
    nr_train_outcome outcome;
    ck_assert_msg(nr_train(net, train, test, &cfg, &callbacks, history, &outcome, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(outcome.epochs_done, 2);
    ck_assert_int_eq(outcome.best_epoch, 1);
    ck_assert(outcome.restored_best);
    ck_assert(!isnan(history[0].val_acc) && !isnan(history[1].val_cost));
    ck_assert_mem_eq(nr_net_params(net), snaps.params[0],
                     nr_net_param_count(net) * sizeof(float));
    ck_assert(memcmp(snaps.params[0], snaps.params[1],
                     nr_net_param_count(net) * sizeof(float)) != 0);

    /* restore_best: false keeps the last epoch's weights */
    cfg.restore_best = false;
    nr_net_init(net, 1);
    ck_assert(nr_train(net, train, test, &cfg, &callbacks, history, &outcome, &err) == 0);
    ck_assert_int_eq(outcome.epochs_done, 2);
    ck_assert(!outcome.restored_best);
    ck_assert_mem_eq(nr_net_params(net), snaps.params[1],
                     nr_net_param_count(net) * sizeof(float));
    toy_free(train);
    toy_free(test);
    nr_net_free(net);
    nr_graph_free(graph);
    ns_doc_free(doc);
}
END_TEST

/* Dropout: identity in evaluation, inverted scaling in training; batchnorm:
 * batch statistics in training, running statistics in evaluation. */
START_TEST(test_dropout_batchnorm_modes)
{
    char text[] = "data: {train: /x/Train, test: /x/Test}\n"
                  "network: {input: [2, 3, 3], layers: [batchnorm, {dropout: {rate: 0.5}}]}\n";
    ns_doc *doc;
    nr_error err = {0};
    ck_assert(ns_doc_parse_string(text, strlen(text), "t.yaml", "/tmp", &doc, &err) == 0);
    ck_assert(ns_doc_resolve(doc, &err) == 0);
    nr_graph *graph;
    ck_assert(nr_graph_build(doc, &graph, &err) == 0);
    nr_net *net;
    ck_assert(nr_net_create(graph, 4, NR_BACKEND_BLAS, NR_LOSS_MSE, &net, &err) == 0);
    nr_net_init(net, 1);
    float x[4 * 18];
    for (int i = 0; i < 4 * 18; i++)
        x[i] = 3.0f + (float)(i % 7);
    /* evaluation: running mean 0, var 1 -> (x - 0) / sqrt(1 + eps); dropout off */
    const float *y = nr_net_forward(net, x, 4, false);
    for (int i = 0; i < 4 * 18; i++)
        ck_assert_float_eq_tol(y[i], x[i] / sqrtf(1.0f + 1e-5f), 1e-4f);
    /* training: normalized per channel (mean 0 before dropout), dropout zeroes
     * or doubles */
    y = nr_net_forward(net, x, 4, true);
    int zeros = 0;
    for (int i = 0; i < 4 * 18; i++)
        zeros += y[i] == 0.0f;
    ck_assert_int_gt(zeros, 10);
    ck_assert_int_lt(zeros, 62);
    /* the running statistics moved toward the batch statistics */
    const float *running = nr_net_buffers(net);
    ck_assert_float_gt(running[0], 0.1f);  /* running mean of channel 0 */
    nr_net_free(net);
    nr_graph_free(graph);
    ns_doc_free(doc);
}
END_TEST

/* Interrupt after `stop_after` batches (from the batch callback, as a signal
 * handler would), checkpoint, continue in a fresh net + trainer from the
 * checkpoint: the history and the final weights equal an uninterrupted run's. */
typedef struct interrupter {
    volatile sig_atomic_t flag;
    long batches, stop_after;
} interrupter;

static void count_batch(void *ctx, const nr_batch_record *b)
{
    (void)b;
    interrupter *in = ctx;
    if (++in->batches == in->stop_after)
        in->flag = 1;
}

typedef struct resumable {
    ns_doc *doc;
    nr_graph *graph;
    nr_net *net;
    nr_trainer *trainer;
    nr_train_config cfg;
} resumable;

static void resumable_make(resumable *r, nr_dataset *train, nr_dataset *test)
{
    r->doc = spec("  optimizer: {adam: {lr: 0.01}}\n"
                  "  epochs: 4\n"
                  "  batch_size: 16\n"
                  "  schedule: {reduce_on_plateau: {monitor: val_cost, patience: 0, factor: 0.5}}\n"
                  "  validation: {fraction: 0.2}\n"
                  "  early_stopping: {patience: 3}\n"
                  "  augment: {shift: {pixels: 1}, noise: {std: 0.05}}\n");
    nr_error err = {0};
    ck_assert(nr_graph_build(r->doc, &r->graph, &err) == 0);
    ck_assert(nr_spec_train_config(r->doc, &r->cfg, &err) == 0);
    r->cfg.threads = 1;
    ck_assert(nr_net_create(r->graph, r->cfg.batch_size, NR_BACKEND_BLAS, r->cfg.loss, &r->net,
                            &err) == 0);
    nr_net_init(r->net, r->cfg.seed);
    ck_assert_msg(nr_trainer_create(r->net, train, test, &r->cfg, &r->trainer, &err) == 0, "%s",
                  err.message);
}

static void resumable_free(resumable *r)
{
    nr_trainer_free(r->trainer);
    nr_net_free(r->net);
    nr_graph_free(r->graph);
    ns_doc_free(r->doc);
}

static void check_resume_equals_uninterrupted(long stop_after)
{
    nr_dataset *train = toy_dataset(200, 1), *test = toy_dataset(40, 2);
    nr_error err = {0};
    nr_train_outcome outcome;

    resumable whole;
    resumable_make(&whole, train, test);
    ck_assert(nr_trainer_run(whole.trainer, NULL, NULL, &outcome, &err) == 0);
    int epochs_whole;
    const nr_epoch_record *h_whole = nr_trainer_history(whole.trainer, &epochs_whole);

    char dir[] = "/tmp/netrun-resume-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);

    resumable first;
    resumable_make(&first, train, test);
    interrupter in = {.stop_after = stop_after};
    nr_train_callbacks callbacks = {.ctx = &in, .on_batch = count_batch};
    ck_assert_int_eq(nr_trainer_run(first.trainer, &callbacks, &in.flag, &outcome, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERRUPTED);
    ck_assert_int_eq(nr_trainer_batches_done(first.trainer), stop_after);
    ck_assert_msg(nr_trainer_save(first.trainer, path, 42, &err) == 0, "%s", err.message);

    resumable second;
    resumable_make(&second, train, test);
    ck_assert_int_eq(nr_trainer_load(second.trainer, path, 43, &err), -1); /* other spec */
    ck_assert_ptr_nonnull(strstr(err.message, "another spec"));
    ck_assert_msg(nr_trainer_load(second.trainer, path, 42, &err) == 0, "%s", err.message);
    ck_assert_int_eq(nr_trainer_batches_done(second.trainer), stop_after);
    ck_assert(nr_trainer_run(second.trainer, NULL, NULL, &outcome, &err) == 0);
    int epochs_resumed;
    const nr_epoch_record *h_resumed = nr_trainer_history(second.trainer, &epochs_resumed);
    ck_assert_int_eq(epochs_resumed, epochs_whole);
    for (int e = 0; e < epochs_whole; e++) {
        ck_assert_msg(h_resumed[e].train_cost == h_whole[e].train_cost,
                      "epoch %d train cost %.9g vs %.9g", e + 1, h_resumed[e].train_cost,
                      h_whole[e].train_cost);
        ck_assert(h_resumed[e].train_acc == h_whole[e].train_acc);
        ck_assert(h_resumed[e].val_cost == h_whole[e].val_cost);
        ck_assert(h_resumed[e].test_cost == h_whole[e].test_cost);
        ck_assert(h_resumed[e].test_acc == h_whole[e].test_acc);
        ck_assert(h_resumed[e].lr == h_whole[e].lr);
    }
    ck_assert_mem_eq(nr_net_params(second.net), nr_net_params(whole.net),
                     nr_net_param_count(whole.net) * sizeof(float));

    /* a corrupt checkpoint is refused */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 100, SEEK_SET);
    fputc(0x77, fp);
    fclose(fp);
    ck_assert_int_eq(nr_trainer_load(second.trainer, path, 42, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "corrupt"));
    unlink(path);
    rmdir(dir);
    resumable_free(&whole);
    resumable_free(&first);
    resumable_free(&second);
    toy_free(train);
    toy_free(test);
}

START_TEST(test_interrupt_and_resume)
{
    check_resume_equals_uninterrupted(5);   /* mid-epoch 1 */
    check_resume_equals_uninterrupted(10);  /* the last batch of epoch 1 */
    check_resume_equals_uninterrupted(23);  /* mid-epoch 3 */
}
END_TEST

/* A NaN weight after epoch 1: epoch 2 stops at its first batch with
 * NR_EXIT_DIVERGED naming the layer, and the history keeps epoch 1. */
static int poison_weights(void *ctx, const nr_epoch_record *history, int epochs_done,
                          nr_error *err)
{
    (void)history;
    (void)err;
    if (epochs_done == 1)
        nr_net_params(ctx)[3] = NAN;
    return 0;
}

START_TEST(test_divergence_stops_and_names_the_layer)
{
    ns_doc *doc = spec("  epochs: 3\n  batch_size: 16\n");
    nr_error err = {0};
    nr_graph *graph;
    ck_assert(nr_graph_build(doc, &graph, &err) == 0);
    nr_train_config cfg;
    ck_assert(nr_spec_train_config(doc, &cfg, &err) == 0);
    nr_net *net;
    ck_assert(nr_net_create(graph, cfg.batch_size, NR_BACKEND_BLAS, cfg.loss, &net, &err) == 0);
    nr_net_init(net, 1);
    nr_dataset *train = toy_dataset(64, 1), *test = toy_dataset(16, 2);
    nr_trainer *trainer;
    ck_assert(nr_trainer_create(net, train, test, &cfg, &trainer, &err) == 0);
    nr_train_callbacks callbacks = {.ctx = net, .on_epoch = poison_weights};
    nr_train_outcome outcome;
    ck_assert_int_eq(nr_trainer_run(trainer, &callbacks, NULL, &outcome, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_DIVERGED);
    ck_assert_msg(strstr(err.message, "epoch 2, batch 1/4") != NULL, "%s", err.message);
    ck_assert_msg(strstr(err.message, "first layer with NaN/Inf weights: 1 (dense") != NULL, "%s",
                  err.message);
    int epochs_done;
    const nr_epoch_record *history = nr_trainer_history(trainer, &epochs_done);
    ck_assert_int_eq(epochs_done, 1);
    ck_assert(isfinite(history[0].train_cost));
    nr_trainer_free(trainer);
    nr_net_free(net);
    toy_free(train);
    toy_free(test);
    nr_graph_free(graph);
    ns_doc_free(doc);
}
END_TEST

/* ---- batch preparation (nr_prepare_batch) and the prefetch thread ---- */

enum { PREP_IMAGES = 5, PREP_C = 2, PREP_H = 4, PREP_W = 5,   /* planes of 20: vector + tail */
       SIZE = PREP_C * PREP_H * PREP_W };

/* A dataset of 5 2x4x5 images, pixel k of the set (k * 37 + 11) % 256,
 * image i of class i % 3. */
typedef struct prep_data {
    nr_dataset d;
    uint8_t pixels[PREP_IMAGES * SIZE];
    uint16_t labels[PREP_IMAGES];
} prep_data;

static void prep_dataset(prep_data *p)
{
    nr_dataset *d = &p->d;
    uint8_t *pixels = p->pixels;
    uint16_t *labels = p->labels;
    memset(d, 0, sizeof *d);
    d->count = PREP_IMAGES;
    d->channels = PREP_C;
    d->height = PREP_H;
    d->width = PREP_W;
    d->class_count = 3;
    d->pixels = pixels;
    d->labels = labels;
    for (size_t i = 0; i < (size_t)PREP_IMAGES * PREP_C * PREP_H * PREP_W; i++)
        pixels[i] = (uint8_t)((i * 37 + 11) % 256);
    for (int i = 0; i < PREP_IMAGES; i++)
        labels[i] = (uint16_t)(i % 3);
    d->pixel_scale[0] = d->pixel_scale[1] = NR_PIXEL_SCALE;
}

START_TEST(test_prepare_batch_plain)
{
    prep_data p;
    prep_dataset(&p);
    nr_dataset d = p.d;
    /* channel 1 standardized: pixel * scale + shift */
    d.pixel_scale[1] = 0.02f;
    d.pixel_shift[1] = -1.5f;
    const uint32_t idx[3] = {3, 1, 4};
    float x[3 * SIZE];
    int32_t got[3];
    nr_augment_config none;
    memset(&none, 0, sizeof none);
    nr_prepare_batch(&d, idx, 3, &none, 7, 1, NULL, NULL, x, got);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(got[i], (int)(idx[i] % 3));
        for (int c = 0; c < PREP_C; c++)
            for (int j = 0; j < PREP_H * PREP_W; j++) {
                size_t at = (size_t)idx[i] * SIZE + (size_t)c * PREP_H * PREP_W + (size_t)j;
                float want = (float)((at * 37 + 11) % 256) * d.pixel_scale[c];
                if (c == 1)
                    want += d.pixel_shift[c];
                ck_assert_msg(x[i * SIZE + c * PREP_H * PREP_W + j] == want,
                              "image %d channel %d pixel %d: %g, expected %g", i, c, j,
                              (double)x[i * SIZE + c * PREP_H * PREP_W + j], (double)want);
            }
    }
}
END_TEST

START_TEST(test_prepare_batch_augmented)
{
    prep_data p;
    prep_dataset(&p);
    nr_dataset d = p.d;
    nr_augment_config aug;
    memset(&aug, 0, sizeof aug);
    aug.shift_p = 1.0f;
    aug.shift_pixels = 2;
    aug.noise_p = 1.0f;
    aug.noise_std = 0.1f;
    const size_t ws_floats = nr_augment_workspace_floats(PREP_C, PREP_H, PREP_W);
    float *ws = malloc(ws_floats * sizeof *ws);
    ck_assert_ptr_nonnull(ws);
    const uint32_t idx[2] = {2, 0};
    float x[2 * SIZE], x2[2 * SIZE], want[SIZE];
    int32_t got[2];
    nr_prepare_batch(&d, idx, 2, &aug, 9, 3, NULL, ws, x, got);
    /* each image from its own (seed, epoch, index) stream */
    for (int i = 0; i < 2; i++) {
        nr_rng rng;
        nr_augment_rng(&rng, 9, 3, idx[i]);
        nr_augment_image(&aug, p.pixels + (size_t)idx[i] * SIZE, PREP_C, PREP_H, PREP_W, want, ws,
                         &rng);
        ck_assert_int_eq(got[i], (int)(idx[i] % 3));
        ck_assert_msg(memcmp(x + i * SIZE, want, sizeof want) == 0, "image %d", i);
    }
    /* the image, not its place in the batch, picks the stream; another
     * epoch augments differently */
    const uint32_t swapped[2] = {0, 2};
    nr_prepare_batch(&d, swapped, 2, &aug, 9, 3, NULL, ws, x2, got);
    ck_assert(memcmp(x2, x + SIZE, SIZE * sizeof *x) == 0);
    nr_prepare_batch(&d, idx, 2, &aug, 9, 4, NULL, ws, x2, got);
    ck_assert(memcmp(x2, x, sizeof x) != 0);
    free(ws);
}
END_TEST

typedef struct prefetch_log {
    int jobs, batch, epoch, slot;
} prefetch_log;

static void log_job(void *ctx, int batch, int epoch, int slot)
{
    prefetch_log *log = ctx;
    usleep(2000);   /* a job still running when the caller waits or stops */
    log->jobs++;
    log->batch = batch;
    log->epoch = epoch;
    log->slot = slot;
}

START_TEST(test_prefetcher_runs_posted_jobs)
{
    prefetch_log log = {0};
    nr_prefetcher *pf = NULL;
    nr_error err = {0};
    ck_assert_int_eq(nr_prefetcher_start(log_job, &log, &pf, &err), 0);
    nr_prefetcher_wait(pf);   /* nothing posted: returns */
    ck_assert_int_eq(log.jobs, 0);
    nr_prefetcher_post(pf, 7, 2, 1);
    nr_prefetcher_wait(pf);
    ck_assert_int_eq(log.jobs, 1);
    ck_assert_int_eq(log.batch, 7);
    ck_assert_int_eq(log.epoch, 2);
    ck_assert_int_eq(log.slot, 1);
    nr_prefetcher_post(pf, 8, 2, 0);
    nr_prefetcher_stop(pf);   /* finishes the posted job */
    ck_assert_int_eq(log.jobs, 2);
    ck_assert_int_eq(log.batch, 8);
    ck_assert_int_eq(log.slot, 0);
    nr_prefetcher_stop(NULL);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("train");
    TCase *tc = tcase_create("schedules");
    tcase_add_test(tc, test_step_multistep_exponential);
    tcase_add_test(tc, test_cosine_and_warmup);
    tcase_add_test(tc, test_one_cycle);
    tcase_add_test(tc, test_reduce_on_plateau);
    tcase_add_test(tc, test_config_from_spec);
    suite_add_tcase(suite, tc);
    tc = tcase_create("regularization");
    tcase_add_test(tc, test_validation_split);
    tcase_add_test(tc, test_early_stopping_restores_best);
    tcase_add_test(tc, test_dropout_batchnorm_modes);
    suite_add_tcase(suite, tc);
    tc = tcase_create("resume");
    tcase_add_test(tc, test_interrupt_and_resume);
    tcase_add_test(tc, test_divergence_stops_and_names_the_layer);
    suite_add_tcase(suite, tc);
    tc = tcase_create("batch preparation");
    tcase_add_test(tc, test_prepare_batch_plain);
    tcase_add_test(tc, test_prepare_batch_augmented);
    tcase_add_test(tc, test_prefetcher_runs_posted_jobs);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
