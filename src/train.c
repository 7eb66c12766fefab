/* train.c - the training loop and evaluation (see netrun/train.h). */
#include "netrun/train.h"

#include <cblas.h>
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

void nr_train_config_from_spec(const ns_doc *doc, nr_train_config *cfg)
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

static int check_fit(const nr_net *net, const nr_dataset *data, nr_error *err)
{
    if ((size_t)nr_net_classes(net) != data->class_count)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: the network has %d outputs but the data has %zu classes; "
                       "make the last dense layer's units %zu",
                       data->root, nr_net_classes(net), data->class_count, data->class_count);
    return 0;
}

int nr_evaluate(nr_net *net, const nr_dataset *data, int batch_size, nr_eval_result *result,
                int64_t *confusion, int32_t *predicted, float *confidence, nr_error *err)
{
    if (check_fit(net, data, err) != 0)
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
    for (size_t start = 0; start < data->count; start += (size_t)batch_size) {
        int n = (int)(data->count - start < (size_t)batch_size ? data->count - start
                                                                : (size_t)batch_size);
        for (int i = 0; i < n; i++)
            idx[i] = (uint32_t)(start + (size_t)i);
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
    result->count = data->count;
    result->correct = correct;
    result->cost = data->count ? cost_sum / (double)data->count : 0.0;
    result->accuracy = data->count ? (double)correct / (double)data->count : 0.0;
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

int nr_train(nr_net *net, const nr_dataset *train, const nr_dataset *test,
             const nr_train_config *cfg, const nr_train_callbacks *callbacks,
             nr_epoch_record *history, nr_error *err)
{
    if (check_fit(net, train, err) != 0 || check_fit(net, test, err) != 0)
        return -1;
    if (train->count == 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: no training images", train->root);
    int threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    openblas_set_num_threads(threads > 0 ? threads : 1);

    int batch = cfg->batch_size;
    size_t size = (size_t)train->channels * train->height * train->width;
    size_t params = nr_net_param_count(net);
    float *x = malloc((size_t)batch * size * sizeof *x);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    uint32_t *order = malloc(train->count * sizeof *order);
    optimizer_state opt = {
        .m = calloc(params ? params : 1, sizeof(float)),
        .v = calloc(params ? params : 1, sizeof(float)),
    };
    int status = 0;
    if (!x || !labels || !order || !opt.m || !opt.v) {
        status = nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < train->count; i++)
        order[i] = (uint32_t)i;

    nr_rng shuffle_rng;
    nr_rng_seed(&shuffle_rng, cfg->seed, NR_RNG_STREAM_SHUFFLE);
    nr_rng dropout_rng;
    nr_rng_seed(&dropout_rng, cfg->seed, NR_RNG_STREAM_DROPOUT);
    nr_net_set_dropout_rng(net, dropout_rng);

    int batches = (int)((train->count + (size_t)batch - 1) / (size_t)batch);
    for (int epoch = 1; epoch <= cfg->epochs; epoch++) {
        if (cfg->shuffle)
            nr_rng_shuffle(&shuffle_rng, order, train->count);
        double start = now_seconds();
        double cost_sum = 0.0, acc_sum = 0.0;
        int images = 0;
        for (int b = 0; b < batches; b++) {
            size_t first = (size_t)b * batch;
            int n = (int)(train->count - first < (size_t)batch ? train->count - first
                                                                 : (size_t)batch);
            gather_batch(train, order + first, n, x, labels);
            nr_net_zero_grads(net);
            nr_net_forward(net, x, n, true);
            int correct;
            float cost = nr_net_loss(net, labels, n, true, &correct, NULL);
            nr_net_backward(net, x, n);
            optimizer_step(cfg, &opt, net);

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
        nr_eval_result test_result;
        if (nr_evaluate(net, test, batch, &test_result, NULL, NULL, NULL, err) != 0) {
            status = -1;
            goto done;
        }
        nr_epoch_record *rec = &history[epoch - 1];
        *rec = (nr_epoch_record){.epoch = epoch,
                                 .train_cost = cost_sum / batches,
                                 .train_acc = acc_sum / batches,
                                 .test_cost = test_result.cost,
                                 .test_acc = test_result.accuracy,
                                 .lr = nr_train_config_lr(cfg),
                                 .seconds = seconds};
        if (callbacks && callbacks->on_epoch &&
            callbacks->on_epoch(callbacks->ctx, history, epoch, err) != 0) {
            status = -1;
            goto done;
        }
    }
done:
    free(x);
    free(labels);
    free(order);
    free(opt.m);
    free(opt.v);
    return status;
}
