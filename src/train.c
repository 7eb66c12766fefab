/* train.c - the training loop and evaluation (see netrun/train.h). */
#include "netrun/train.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void augment_from_spec(const ns_node *a, nr_augment_config *aug)
{
    aug->shift_p = (float)ns_get_float(a, "shift.p");
    aug->shift_pixels = (int)ns_get_int(a, "shift.pixels");
    aug->rotate_p = (float)ns_get_float(a, "rotate.p");
    aug->rotate_degrees = (float)ns_get_float(a, "rotate.degrees");
    aug->scale_p = (float)ns_get_float(a, "scale.p");
    aug->scale_min = (float)ns_get_float(a, "scale.min");
    aug->scale_max = (float)ns_get_float(a, "scale.max");
    aug->elastic_p = (float)ns_get_float(a, "elastic.p");
    aug->elastic_alpha = (float)ns_get_float(a, "elastic.alpha");
    aug->elastic_sigma = (float)ns_get_float(a, "elastic.sigma");
    aug->noise_p = (float)ns_get_float(a, "noise.p");
    aug->noise_std = (float)ns_get_float(a, "noise.std");
}

/* A val_* monitor without a validation split is an error at the key. */
static int need_validation(const ns_doc *doc, const char *key_path, const char *monitor,
                           const nr_train_config *cfg, nr_error *err)
{
    if (cfg->validation_fraction > 0 || strncmp(monitor, "val_", 4) != 0)
        return 0;
    char where[512];
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: %s is %s, but there is no validation split; set "
                   "train.validation.fraction (e.g. 0.1) or monitor train_cost",
                   ns_node_where(doc, ns_path_get(doc->root, key_path), where, sizeof where),
                   key_path, monitor);
}

int nr_train_config_from_spec(const ns_doc *doc, nr_train_config *cfg, nr_error *err)
{
    const ns_node *root = doc->root;
    const ns_node *train = ns_map_get(root, "train");
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = (uint64_t)ns_get_int(root, "seed");
    cfg->threads = (int)ns_get_int(root, "threads");
    cfg->batch_size = (int)ns_get_int(train, "batch_size");
    cfg->epochs = (int)ns_get_int(train, "epochs");
    cfg->shuffle = ns_get_bool(train, "shuffle");
    cfg->loss = strcmp(ns_get_str(train, "loss"), "mse") == 0 ? NR_LOSS_MSE
                                                               : NR_LOSS_CROSS_ENTROPY;
    const ns_node *optimizer = ns_map_get(train, "optimizer");
    const char *name = ns_choice_name(optimizer);
    const ns_node *p = ns_choice_params(optimizer);
    if (strcmp(name, "sgd") == 0) {
        cfg->optimizer = NR_OPT_SGD;
        cfg->sgd.lr = (float)ns_get_float(p, "lr");
        cfg->sgd.momentum = (float)ns_get_float(p, "momentum");
        cfg->sgd.nesterov = ns_get_bool(p, "nesterov");
        cfg->sgd.weight_decay = (float)ns_get_float(p, "weight_decay");
        cfg->sgd.dampening = 0.0f;
    } else {
        cfg->optimizer = strcmp(name, "adamw") == 0 ? NR_OPT_ADAMW : NR_OPT_ADAM;
        cfg->adam.lr = (float)ns_get_float(p, "lr");
        cfg->adam.beta1 = (float)ns_get_float(p, "beta1");
        cfg->adam.beta2 = (float)ns_get_float(p, "beta2");
        cfg->adam.eps = (float)ns_get_float(p, "eps");
        cfg->adam.weight_decay = (float)ns_get_float(p, "weight_decay");
    }
    nr_schedule_from_spec(doc, nr_train_config_lr(cfg), cfg->epochs, &cfg->schedule);
    if (cfg->schedule.kind == NR_SCHEDULE_PLATEAU)
        snprintf(cfg->plateau_monitor, sizeof cfg->plateau_monitor, "%s",
                 ns_get_str(ns_choice_params(ns_map_get(train, "schedule")), "monitor"));
    cfg->label_smoothing = (float)ns_get_float(train, "label_smoothing");
    cfg->validation_fraction = ns_get_float(train, "validation.fraction");
    cfg->stop_patience = (int)ns_get_int(train, "early_stopping.patience");
    cfg->stop_on_accuracy = strcmp(ns_get_str(train, "early_stopping.monitor"), "val_acc") == 0;
    cfg->stop_min_delta = ns_get_float(train, "early_stopping.min_delta");
    cfg->restore_best = ns_get_bool(train, "early_stopping.restore_best");
    augment_from_spec(ns_map_get(train, "augment"), &cfg->augment);

    if (cfg->stop_patience > 0 &&
        need_validation(doc, "train.early_stopping.monitor",
                        ns_get_str(train, "early_stopping.monitor"), cfg, err) != 0)
        return -1;
    if (cfg->schedule.kind == NR_SCHEDULE_PLATEAU &&
        need_validation(doc, "train.schedule.reduce_on_plateau.monitor",
                        ns_get_str(ns_choice_params(ns_map_get(train, "schedule")), "monitor"),
                        cfg, err) != 0)
        return -1;
    const char *problem = nr_augment_config_check(&cfg->augment);
    if (problem) {
        char where[512];
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: train.augment: %s",
                       ns_node_where(doc, ns_path_get(doc->root, "train.augment"), where,
                                     sizeof where),
                       problem);
    }
    return 0;
}

static void set_lr(nr_train_config *cfg, double lr)
{
    if (cfg->optimizer == NR_OPT_SGD)
        cfg->sgd.lr = (float)lr;
    else
        cfg->adam.lr = (float)lr;
}

float nr_train_config_lr(const nr_train_config *cfg)
{
    return cfg->optimizer == NR_OPT_SGD ? cfg->sgd.lr : cfg->adam.lr;
}

/* Batch assembly: images idx[0..n) of `data` as float [n, C, H, W] in [0, 1]. */
static void gather_batch(const nr_dataset *data, const uint32_t *idx, int n, float *x,
                         int32_t *labels)
{
    size_t size = (size_t)data->channels * data->height * data->width;
    const float scale = 1.0f / 255.0f;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = data->pixels + (size_t)idx[i] * size;
        float *dst = x + (size_t)i * size;
        for (size_t j = 0; j < size; j++)
            dst[j] = src[j] * scale;
        labels[i] = data->labels[idx[i]];
    }
}

/* The same with augmentation, each image from its own (seed, epoch, index) stream. */
static void gather_augmented_batch(const nr_dataset *data, const uint32_t *idx, int n,
                                   const nr_train_config *cfg, int epoch, float *workspace,
                                   float *x, int32_t *labels)
{
    size_t size = (size_t)data->channels * data->height * data->width;
    for (int i = 0; i < n; i++) {
        nr_rng rng;
        nr_augment_rng(&rng, cfg->seed, epoch, idx[i]);
        nr_augment_image(&cfg->augment, data->pixels + (size_t)idx[i] * size, data->channels,
                         data->height, data->width, x + (size_t)i * size, workspace, &rng);
        labels[i] = data->labels[idx[i]];
    }
}

void nr_validation_split(const nr_dataset *data, double fraction, uint64_t seed,
                         uint32_t *train_idx, size_t *train_count, uint32_t *val_idx,
                         size_t *val_count)
{
    /* held[i]: image i goes to validation */
    uint8_t *held = calloc(data->count ? data->count : 1, 1);
    uint32_t *members = malloc((data->count ? data->count : 1) * sizeof *members);
    *train_count = *val_count = 0;
    if (!held || !members) {
        free(held);
        free(members);
        for (size_t i = 0; i < data->count; i++)
            train_idx[(*train_count)++] = (uint32_t)i;
        return;
    }
    nr_rng rng;
    nr_rng_seed(&rng, seed, NR_RNG_STREAM_SPLIT);
    for (size_t c = 0; c < data->class_count; c++) {
        size_t m = 0;
        for (size_t i = 0; i < data->count; i++)
            if (data->labels[i] == c)
                members[m++] = (uint32_t)i;
        nr_rng_shuffle(&rng, members, m);
        size_t hold = (size_t)(fraction * (double)m + 0.5);
        for (size_t j = 0; j < hold && j < m; j++)
            held[members[j]] = 1;
    }
    for (size_t i = 0; i < data->count; i++) {
        if (held[i])
            val_idx[(*val_count)++] = (uint32_t)i;
        else
            train_idx[(*train_count)++] = (uint32_t)i;
    }
    free(held);
    free(members);
}

int nr_check_data_fits(const nr_net *net, const nr_dataset *data, nr_error *err)
{
    nr_shape in = nr_net_input(net);
    if (in.c != data->channels || in.h != data->height || in.w != data->width)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: the images are %dx%dx%d but the network takes %dx%dx%d; "
                       "set network.input to [%d, %d, %d] or use matching images",
                       data->root, data->channels, data->height, data->width, in.c, in.h, in.w,
                       data->channels, data->height, data->width);
    if ((size_t)nr_net_classes(net) != data->class_count)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: the network has %d outputs but the data has %zu classes; "
                       "make the last dense layer's units %zu",
                       data->root, nr_net_classes(net), data->class_count, data->class_count);
    return 0;
}

int nr_evaluate(nr_net *net, const nr_dataset *data, const uint32_t *indices, size_t count,
                int batch_size, nr_eval_result *result, int64_t *confusion, int32_t *predicted,
                float *confidence, nr_error *err)
{
    if (!indices)
        count = data->count;
    if (nr_check_data_fits(net, data, err) != 0)
        return -1;
    int k = nr_net_classes(net);
    size_t size = (size_t)data->channels * data->height * data->width;
    float *x = malloc((size_t)batch_size * size * sizeof *x);
    float *probs = malloc((size_t)batch_size * k * sizeof *probs);
    int32_t *labels = malloc((size_t)batch_size * sizeof *labels);
    uint32_t *idx = malloc((size_t)batch_size * sizeof *idx);
    if (!x || !probs || !labels || !idx) {
        free(x), free(probs), free(labels), free(idx);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    if (confusion)
        memset(confusion, 0, (size_t)k * k * sizeof *confusion);
    double cost_sum = 0.0;
    size_t correct = 0;
    for (size_t start = 0; start < count; start += (size_t)batch_size) {
        int n = (int)(count - start < (size_t)batch_size ? count - start : (size_t)batch_size);
        for (int i = 0; i < n; i++)
            idx[i] = indices ? indices[start + (size_t)i] : (uint32_t)(start + (size_t)i);
        gather_batch(data, idx, n, x, labels);
        nr_net_forward(net, x, n, false);
        int batch_correct;
        float cost = nr_net_loss(net, labels, n, false, &batch_correct, probs);
        cost_sum += (double)cost * n;
        correct += (size_t)batch_correct;
        for (int i = 0; i < n; i++) {
            const float *row = probs + (size_t)i * k;
            int best = 0;
            for (int j = 1; j < k; j++)
                if (row[j] > row[best])
                    best = j;
            if (confusion)
                confusion[(size_t)labels[i] * k + best]++;
            if (predicted)
                predicted[start + i] = best;
            if (confidence)
                confidence[start + i] = row[best];
        }
    }
    free(x), free(probs), free(labels), free(idx);
    result->count = count;
    result->correct = correct;
    result->cost = count ? cost_sum / (double)count : 0.0;
    result->accuracy = count ? (double)correct / (double)count : 0.0;
    return 0;
}

/* Optimizer state over the net's one parameter vector. */
typedef struct optimizer_state {
    float *m, *v;   /* sgd: m = momentum buffer; adam: first and second moments */
    long step;
} optimizer_state;

static void optimizer_step(const nr_train_config *cfg, optimizer_state *opt, nr_net *net)
{
    size_t count = nr_net_param_count(net);
    opt->step++;
    switch (cfg->optimizer) {
    case NR_OPT_SGD:
        nr_sgd_step(count, nr_net_params(net), nr_net_grads(net), opt->m, &cfg->sgd, opt->step);
        break;
    case NR_OPT_ADAM:
        nr_adam_step(count, nr_net_params(net), nr_net_grads(net), opt->m, opt->v, &cfg->adam,
                     opt->step);
        break;
    case NR_OPT_ADAMW:
        nr_adamw_step(count, nr_net_params(net), nr_net_grads(net), opt->m, opt->v, &cfg->adam,
                      opt->step);
        break;
    }
}

/* Early stopping: the best epoch so far and, with restore_best, its weights. */
typedef struct stopping_state {
    double best;
    int best_epoch;
    int bad_epochs;
    float *best_params, *best_buffers;
} stopping_state;

/* Returns true when training should stop after this epoch. */
static bool stopping_update(const nr_train_config *cfg, stopping_state *st, nr_net *net,
                            const nr_epoch_record *rec)
{
    double value = cfg->stop_on_accuracy ? rec->val_acc : rec->val_cost;
    bool better = st->best_epoch == 0 ||
                  (cfg->stop_on_accuracy ? value > st->best + cfg->stop_min_delta
                                         : value < st->best - cfg->stop_min_delta);
    if (better) {
        st->best = value;
        st->best_epoch = rec->epoch;
        st->bad_epochs = 0;
        if (st->best_params) {
            memcpy(st->best_params, nr_net_params(net), nr_net_param_count(net) * sizeof(float));
            memcpy(st->best_buffers, nr_net_buffers(net),
                   nr_net_buffer_count(net) * sizeof(float));
        }
        return false;
    }
    return ++st->bad_epochs >= cfg->stop_patience;
}

static double plateau_value(const nr_train_config *cfg, const nr_epoch_record *rec,
                            const char *monitor)
{
    (void)cfg;
    if (strcmp(monitor, "val_acc") == 0)
        return rec->val_acc;
    if (strcmp(monitor, "train_cost") == 0)
        return rec->train_cost;
    if (strcmp(monitor, "train_acc") == 0)
        return rec->train_acc;
    return rec->val_cost;
}

int nr_train(nr_net *net, const nr_dataset *train, const nr_dataset *test,
             const nr_train_config *config, const nr_train_callbacks *callbacks,
             nr_epoch_record *history, nr_train_outcome *outcome, nr_error *err)
{
    memset(outcome, 0, sizeof *outcome);
    if (nr_check_data_fits(net, train, err) != 0 || nr_check_data_fits(net, test, err) != 0)
        return -1;
    nr_train_config cfg = *config;   /* its lr follows the schedule */
    nr_schedule schedule = cfg.schedule;
    int threads = cfg.threads > 0 ? cfg.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    openblas_set_num_threads(threads > 0 ? threads : 1);
    nr_net_set_label_smoothing(net, cfg.loss == NR_LOSS_CROSS_ENTROPY ? cfg.label_smoothing
                                                                      : 0.0f);

    int batch = cfg.batch_size;
    size_t size = (size_t)train->channels * train->height * train->width;
    size_t params = nr_net_param_count(net), buffers = nr_net_buffer_count(net);
    bool augment = nr_augment_active(&cfg.augment);
    bool stopping = cfg.stop_patience > 0;
    float *x = malloc((size_t)batch * size * sizeof *x);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    uint32_t *order = malloc((train->count ? train->count : 1) * sizeof *order);
    uint32_t *val_idx = malloc((train->count ? train->count : 1) * sizeof *val_idx);
    float *workspace = augment ? malloc(nr_augment_workspace_floats(train->channels,
                                                                    train->height,
                                                                    train->width) *
                                        sizeof(float))
                               : NULL;
    optimizer_state opt = {
        .m = calloc(params ? params : 1, sizeof(float)),
        .v = calloc(params ? params : 1, sizeof(float)),
    };
    stopping_state stop = {0};
    if (stopping && cfg.restore_best) {
        stop.best_params = malloc((params ? params : 1) * sizeof(float));
        stop.best_buffers = malloc((buffers ? buffers : 1) * sizeof(float));
    }
    int status = 0;
    if (!x || !labels || !order || !val_idx || !opt.m || !opt.v || (augment && !workspace) ||
        (stopping && cfg.restore_best && (!stop.best_params || !stop.best_buffers))) {
        status = nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }

    size_t train_count = train->count, val_count = 0;
    if (cfg.validation_fraction > 0)
        nr_validation_split(train, cfg.validation_fraction, cfg.seed, order, &train_count,
                            val_idx, &val_count);
    else
        for (size_t i = 0; i < train->count; i++)
            order[i] = (uint32_t)i;
    if (train_count == 0 || (cfg.validation_fraction > 0 && val_count == 0)) {
        status = nr_fail(err, NR_EXIT_INPUT, "%s: error: %zu images cannot be split into "
                         "training and validation at fraction %g", train->root, train->count,
                         cfg.validation_fraction);
        goto done;
    }

    nr_rng shuffle_rng;
    nr_rng_seed(&shuffle_rng, cfg.seed, NR_RNG_STREAM_SHUFFLE);
    nr_rng dropout_rng;
    nr_rng_seed(&dropout_rng, cfg.seed, NR_RNG_STREAM_DROPOUT);
    nr_net_set_dropout_rng(net, dropout_rng);

    int batches = (int)((train_count + (size_t)batch - 1) / (size_t)batch);
    for (int epoch = 1; epoch <= cfg.epochs; epoch++) {
        if (cfg.shuffle)
            nr_rng_shuffle(&shuffle_rng, order, train_count);
        double start = now_seconds();
        double cost_sum = 0.0, acc_sum = 0.0, epoch_lr = 0.0;
        int images = 0;
        for (int b = 0; b < batches; b++) {
            size_t first = (size_t)b * batch;
            int n = (int)(train_count - first < (size_t)batch ? train_count - first
                                                                : (size_t)batch);
            double lr = nr_schedule_lr(&schedule, epoch, (double)b / batches);
            if (b == 0)
                epoch_lr = lr;
            set_lr(&cfg, lr);
            if (augment)
                gather_augmented_batch(train, order + first, n, &cfg, epoch, workspace, x,
                                       labels);
            else
                gather_batch(train, order + first, n, x, labels);
            nr_net_zero_grads(net);
            nr_net_forward(net, x, n, true);
            int correct;
            float cost = nr_net_loss(net, labels, n, true, &correct, NULL);
            if (!isfinite(cost)) {
                status = nr_fail(err, NR_EXIT_DIVERGED,
                                 "training diverged: the cost of epoch %d, batch %d/%d is %g; "
                                 "lower the learning rate (now %g)",
                                 epoch, b + 1, batches, (double)cost, lr);
                goto done;
            }
            nr_net_backward(net, x, n);
            optimizer_step(&cfg, &opt, net);

            float acc = (float)correct / (float)n;
            cost_sum += cost;
            acc_sum += acc;
            images += n;
            if (callbacks && callbacks->on_batch) {
                nr_batch_record rec = {.epoch = epoch, .batch = b + 1, .batches = batches,
                                       .cost = cost, .acc = acc,
                                       .running_cost = cost_sum / (b + 1),
                                       .running_acc = acc_sum / (b + 1),
                                       .epoch_seconds = now_seconds() - start,
                                       .images = images};
                callbacks->on_batch(callbacks->ctx, &rec);
            }
        }
        double seconds = now_seconds() - start;
        nr_epoch_record *rec = &history[epoch - 1];
        *rec = (nr_epoch_record){.epoch = epoch,
                                 .train_cost = cost_sum / batches,
                                 .train_acc = acc_sum / batches,
                                 .val_cost = NAN,
                                 .val_acc = NAN,
                                 .lr = epoch_lr,
                                 .seconds = seconds};
        nr_eval_result result;
        if (val_count) {
            if (nr_evaluate(net, train, val_idx, val_count, batch, &result, NULL, NULL, NULL,
                            err) != 0) {
                status = -1;
                goto done;
            }
            rec->val_cost = result.cost;
            rec->val_acc = result.accuracy;
        }
        if (nr_evaluate(net, test, NULL, 0, batch, &result, NULL, NULL, NULL, err) != 0) {
            status = -1;
            goto done;
        }
        rec->test_cost = result.cost;
        rec->test_acc = result.accuracy;
        outcome->epochs_done = epoch;
        if (schedule.kind == NR_SCHEDULE_PLATEAU)
            nr_schedule_end_epoch(&schedule, plateau_value(&cfg, rec,
                                                           cfg.plateau_monitor));
        bool stop_now = stopping && stopping_update(&cfg, &stop, net, rec);
        if (callbacks && callbacks->on_epoch &&
            callbacks->on_epoch(callbacks->ctx, history, epoch, err) != 0) {
            status = -1;
            goto done;
        }
        if (stop_now)
            break;
    }
    if (stopping) {
        outcome->best_epoch = stop.best_epoch;
        if (cfg.restore_best && stop.best_epoch && stop.best_epoch != outcome->epochs_done) {
            memcpy(nr_net_params(net), stop.best_params, params * sizeof(float));
            memcpy(nr_net_buffers(net), stop.best_buffers, buffers * sizeof(float));
            outcome->restored_best = true;
        }
    }
done:
    free(x);
    free(labels);
    free(order);
    free(val_idx);
    free(workspace);
    free(opt.m);
    free(opt.v);
    free(stop.best_params);
    free(stop.best_buffers);
    return status;
}
