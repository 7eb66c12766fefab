/* train.c - the training loop and evaluation (see netrun/train.h). */
#include "netrun/train.h"

#include "netrun/clock.h"
#include "netrun/fileio.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float nr_train_config_lr(const nr_train_config *cfg)
{
    return cfg->optimizer == NR_OPT_SGD ? cfg->sgd.lr : cfg->adam.lr;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__GNUC__) || defined(__clang__)
typedef uint8_t bytes16 __attribute__((vector_size(16)));
typedef float pixels16 __attribute__((vector_size(64)));
#endif

/* dst[j] = src[j] * scale for j < count: the exact conversion of each byte to
 * float and one multiply, 16 pixels at a time where the compiler allows it
 * (on x86-64 SSE2, which every such CPU has; GCC's vector extensions would
 * convert the bytes one by one). */
static void scale_pixels(const uint8_t *restrict src, float *restrict dst, size_t count,
                         float scale)
{
    size_t j = 0;
#if defined(__SSE2__)
    const __m128 vscale = _mm_set1_ps(scale);
    const __m128i zero = _mm_setzero_si128();
    for (; j + 16 <= count; j += 16) {
        const __m128i b = _mm_loadu_si128((const __m128i *)(src + j));
        const __m128i lo = _mm_unpacklo_epi8(b, zero), hi = _mm_unpackhi_epi8(b, zero);
        _mm_storeu_ps(dst + j, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)), vscale));
        _mm_storeu_ps(dst + j + 4,
                      _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)), vscale));
        _mm_storeu_ps(dst + j + 8,
                      _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)), vscale));
        _mm_storeu_ps(dst + j + 12,
                      _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)), vscale));
    }
#elif defined(__GNUC__) || defined(__clang__)
    const pixels16 vscale = {scale, scale, scale, scale, scale, scale, scale, scale,
                             scale, scale, scale, scale, scale, scale, scale, scale};
    for (; j + 16 <= count; j += 16) {
        bytes16 b;
        memcpy(&b, src + j, sizeof b);
        pixels16 f = __builtin_convertvector(b, pixels16) * vscale;
        memcpy(dst + j, &f, sizeof f);
    }
#endif
    for (; j < count; j++)
        dst[j] = src[j] * scale;
}

/* Asks the cache for the `bytes` at p (the next images of a batch are
 * scattered over the dataset). */
static void prefetch_bytes(const uint8_t *p, size_t bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    for (size_t k = 0; k < bytes; k += 64)
        __builtin_prefetch(p + k);
#else
    (void)p;
    (void)bytes;
#endif
}

/* Batch assembly: images idx[0..n) of `data` as float [n, C, H, W]:
 * pixel * data->pixel_scale[c] + data->pixel_shift[c] (a shift of 0 is not
 * added: netrun's default pixel / 255 stays one multiply per pixel). */
static void gather_batch(const nr_dataset *data, const uint32_t *idx, int n, float *x,
                         int32_t *labels)
{
    size_t plane = (size_t)data->height * data->width;
    size_t size = (size_t)data->channels * plane;
    enum { AHEAD = 2 };   /* images ahead whose pixels are prefetched */
    for (int i = 0; i < n && i < AHEAD; i++)
        prefetch_bytes(data->pixels + (size_t)idx[i] * size, size);
    for (int i = 0; i < n; i++) {
        if (i + AHEAD < n)
            prefetch_bytes(data->pixels + (size_t)idx[i + AHEAD] * size, size);
        for (int c = 0; c < data->channels; c++) {
            const uint8_t *restrict src =
                data->pixels + (size_t)idx[i] * size + (size_t)c * plane;
            float *restrict dst = x + (size_t)i * size + (size_t)c * plane;
            const float scale = data->pixel_scale[c], shift = data->pixel_shift[c];
            scale_pixels(src, dst, plane, scale);
            if (shift != 0.0f)
                for (size_t j = 0; j < plane; j++)
                    dst[j] += shift;
        }
        labels[i] = data->labels[idx[i]];
    }
}

/* The augmented images come as pixel / 255: rescaled to the data's
 * pixel scaling when that is not netrun's default. */
static void rescale_augmented(const nr_dataset *data, float *x)
{
    size_t plane = (size_t)data->height * data->width;
    for (int c = 0; c < data->channels; c++) {
        if (data->pixel_scale[c] == NR_PIXEL_SCALE && data->pixel_shift[c] == 0.0f)
            continue;
        const float scale = data->pixel_scale[c] * 255.0f, shift = data->pixel_shift[c];
        for (size_t j = 0; j < plane; j++)
            x[(size_t)c * plane + j] = x[(size_t)c * plane + j] * scale + shift;
    }
}

/* gather_batch on the net's threads, each its share of the images (they
 * are scattered over the dataset: the reads miss the cache, and two threads
 * wait for memory in parallel). */
typedef struct gather_ctx {
    const nr_dataset *data;
    const uint32_t *idx;
    float *x;
    int32_t *labels;
} gather_ctx;

static void gather_share(void *p, int first, int end)
{
    const gather_ctx *g = p;
    size_t size = (size_t)g->data->channels * g->data->height * g->data->width;
    gather_batch(g->data, g->idx + first, end - first, g->x + (size_t)first * size,
                 g->labels + first);
}

static void gather_batch_parallel(nr_net *net, const nr_dataset *data, const uint32_t *idx,
                                  int n, float *x, int32_t *labels)
{
    gather_ctx g = {.data = data, .idx = idx, .x = x, .labels = labels};
    nr_net_parallel_for(net, n, gather_share, &g);
}

/* The same with augmentation, each image from its own (seed, epoch, index) stream. */
static void gather_augmented_batch(const nr_dataset *data, const uint32_t *idx, int n,
                                   const nr_augment_config *augment, uint64_t seed, int epoch,
                                   float *workspace, float *x, int32_t *labels)
{
    size_t size = (size_t)data->channels * data->height * data->width;
    for (int i = 0; i < n; i++) {
        nr_rng rng;
        nr_augment_rng(&rng, seed, epoch, idx[i]);
        nr_augment_image(augment, data->pixels + (size_t)idx[i] * size, data->channels,
                         data->height, data->width, x + (size_t)i * size, workspace, &rng);
        rescale_augmented(data, x + (size_t)i * size);
        labels[i] = data->labels[idx[i]];
    }
}

void nr_prepare_batch(const nr_dataset *data, const uint32_t *idx, int n,
                      const nr_augment_config *augment, uint64_t seed, int epoch, nr_net *net,
                      float *workspace, float *x, int32_t *labels)
{
    if (nr_augment_active(augment))
        gather_augmented_batch(data, idx, n, augment, seed, epoch, workspace, x, labels);
    else if (net)
        gather_batch_parallel(net, data, idx, n, x, labels);
    else
        gather_batch(data, idx, n, x, labels);
}

size_t nr_validation_held_out(size_t class_size, double fraction)
{
    size_t hold = (size_t)(fraction * (double)class_size + 0.5);
    return hold < class_size ? hold : class_size;
}

const char *nr_describe_output(const nr_graph *graph, nr_loss_kind loss, char *buf,
                               size_t size)
{
    const nr_layer *last = &graph->layers[graph->count - 1];
    bool softmax = last->kind == NR_LAYER_SOFTMAX;
    const nr_layer *scores = softmax ? last - 1 : last;
    char shape[48], what[64];
    nr_shape_text(scores->out, shape, sizeof shape);
    snprintf(what, sizeof what, "layer %s (%s)", scores->label, nr_layer_kind_name(scores->kind));
    if (loss == NR_LOSS_CROSS_ENTROPY && softmax)
        snprintf(buf, size, "output: softmax over the %s class scores of %s, fused with the "
                 "cross_entropy loss", shape, what);
    else if (loss == NR_LOSS_CROSS_ENTROPY)
        snprintf(buf, size, "output: the %s class scores (logits) of %s, no final softmax; "
                 "cross_entropy applies softmax to them, so this trains exactly like a final "
                 "softmax layer", shape, what);
    else if (softmax)
        snprintf(buf, size, "output: softmax over the %s class scores of %s; mse compares "
                 "the probabilities with one-hot targets", shape, what);
    else
        snprintf(buf, size, "output: the %s raw values of %s, no final softmax; mse "
                 "compares them with one-hot targets", shape, what);
    return buf;
}

void nr_validation_split(const nr_dataset *data, double fraction, uint64_t seed,
                         uint32_t *train_idx, size_t *train_count, uint32_t *val_idx,
                         size_t *val_count)
{
    nr_stratified_split(data, fraction, seed, NR_RNG_STREAM_SPLIT, train_idx, train_count,
                        val_idx, val_count);
}

void nr_stratified_split(const nr_dataset *data, double fraction, uint64_t seed,
                         uint64_t stream, uint32_t *train_idx, size_t *train_count,
                         uint32_t *val_idx, size_t *val_count)
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
    nr_rng_seed(&rng, seed, stream);
    for (size_t c = 0; c < data->class_count; c++) {
        size_t m = 0;
        for (size_t i = 0; i < data->count; i++)
            if (data->labels[i] == c)
                members[m++] = (uint32_t)i;
        nr_rng_shuffle(&rng, members, m);
        size_t hold = nr_validation_held_out(m, fraction);
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
    if (data->class_count < 2)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: %zu class folder%s; a classifier needs at least 2 classes",
                       data->root, data->class_count, data->class_count == 1 ? "" : "s");
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
        gather_batch_parallel(net, data, idx, n, x, labels);
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

/* The resumable part of a training run: plain data, written into checkpoints
 * as it is (the arrays that go with it are written beside it). */
typedef struct trainer_state {
    int epoch;                 /* the epoch in progress or next (1-based) */
    int batch;                 /* batches of `epoch` done */
    double cost_sum, acc_sum;  /* over the batches of `epoch` done */
    int images;
    double epoch_seconds;      /* training time of `epoch` so far */
    double epoch_lr;           /* lr of the first batch of `epoch` */
    long opt_step;             /* optimizer steps taken (Adam's t) */
    nr_rng shuffle_rng, dropout_rng;
    nr_schedule schedule;      /* includes reduce_on_plateau's state */
    double stop_best;          /* early stopping */
    int stop_best_epoch, stop_bad_epochs;
    int epochs_done;
    int finished;              /* 1 once training has ended (all epochs or early stop) */
} trainer_state;

/* A range [lo, hi) of the parameter vector. */
typedef struct param_span {
    size_t lo, hi;
} param_span;

struct nr_trainer {
    nr_net *net;
    const nr_graph *graph;     /* the net's: for messages and the frozen layers */
    const nr_dataset *train, *test;
    nr_train_config cfg;       /* as given (the scheduled lr reaches the optimizer
                                  with each step) */
    size_t params, buffers, image_size;
    bool augment, stopping;
    int batches;
    float *x[2];               /* [batch, C, H, W]: the batch computed and the next
                                  one (gathered by the prefetch thread meanwhile) */
    int32_t *labels[2];        /* [batch] each */
    float *workspace;          /* augmentation (one gather at a time uses it) */
    float *class_weight;       /* [classes] train.class_weights; NULL for none */
    uint32_t *order;           /* [train_count] training images, shuffled per epoch */
    size_t train_count;
    uint32_t *val_idx;         /* [val_count] the validation split */
    size_t val_count;
    float *m, *v;              /* optimizer moments (sgd: m = momentum buffer) */
    param_span *trainable;     /* [trainable_count] what the optimizer updates: the
                                  parameter vector less the frozen layers' ranges
                                  (ascending, disjoint, none empty) */
    size_t trainable_count;
    float *best_params, *best_buffers;  /* early stopping with restore_best */
    nr_epoch_record *history;  /* [cfg.epochs] (more after a load that shrank the total) */
    int checkpoint_epochs;     /* the total of the checkpoint loaded (cfg.epochs before) */
    trainer_state state;
};

/* One optimizer step on parameters [first, first + count): called by the
 * net's threads on disjoint slices (nr_net_backward_update); the optimizers
 * are element-wise, so the slices give the bits of one call. */
typedef struct optimizer_slice_ctx {
    nr_trainer *trainer;
    long step;
    float lr;                  /* this step's lr (the schedule's) */
} optimizer_slice_ctx;

/* The optimizer on parameters [first, first + count), all trainable. */
static void optimizer_range(const optimizer_slice_ctx *ctx, size_t first, size_t count)
{
    nr_trainer *t = ctx->trainer;
    const nr_train_config *cfg = &t->cfg;
    float *param = nr_net_params(t->net) + first;
    const float *grad = nr_net_grads(t->net) + first;
    float *m = t->m + first, *v = t->v + first;
    nr_sgd_params sgd = cfg->sgd;
    nr_adam_params adam = cfg->adam;
    sgd.lr = adam.lr = ctx->lr;
    switch (cfg->optimizer) {
    case NR_OPT_SGD:
        nr_sgd_step(count, param, grad, m, &sgd, ctx->step);
        break;
    case NR_OPT_ADAM:
        nr_adam_step(count, param, grad, m, v, &adam, ctx->step);
        break;
    case NR_OPT_ADAMW:
        nr_adamw_step(count, param, grad, m, v, &adam, ctx->step);
        break;
    }
}

/* The slice less the frozen layers' parameters: those (and their moments)
 * stay as they are, weight decay included; the optimizers are element-wise,
 * so the pieces give the bits of one call. */
static void optimizer_slice(void *p, size_t first, size_t count)
{
    const optimizer_slice_ctx *ctx = p;
    const nr_trainer *t = ctx->trainer;
    const size_t end = first + count;
    for (size_t i = 0; i < t->trainable_count; i++) {
        size_t lo = t->trainable[i].lo > first ? t->trainable[i].lo : first;
        size_t hi = t->trainable[i].hi < end ? t->trainable[i].hi : end;
        if (lo < hi)
            optimizer_range(ctx, lo, hi - lo);
    }
}

/* Early stopping after an epoch; true when training should stop. */
static bool stopping_update(nr_trainer *t, const nr_epoch_record *rec)
{
    trainer_state *st = &t->state;
    const nr_train_config *cfg = &t->cfg;
    double value = cfg->stop_on_accuracy ? rec->val_acc : rec->val_cost;
    bool better = st->stop_best_epoch == 0 ||
                  (cfg->stop_on_accuracy ? value > st->stop_best + cfg->stop_min_delta
                                         : value < st->stop_best - cfg->stop_min_delta);
    if (better) {
        st->stop_best = value;
        st->stop_best_epoch = rec->epoch;
        st->stop_bad_epochs = 0;
        if (t->best_params) {
            memcpy(t->best_params, nr_net_params(t->net), t->params * sizeof(float));
            memcpy(t->best_buffers, nr_net_buffers(t->net), t->buffers * sizeof(float));
        }
        return false;
    }
    return ++st->stop_bad_epochs >= cfg->stop_patience;
}

static double plateau_value(const char *monitor, const nr_epoch_record *rec)
{
    if (strcmp(monitor, "val_acc") == 0)
        return rec->val_acc;
    if (strcmp(monitor, "train_cost") == 0)
        return rec->train_cost;
    if (strcmp(monitor, "train_acc") == 0)
        return rec->train_acc;
    return rec->val_cost;
}

void nr_trainer_free(nr_trainer *t)
{
    if (!t)
        return;
    free(t->x[0]);
    free(t->x[1]);
    free(t->labels[0]);
    free(t->labels[1]);
    free(t->workspace);
    free(t->class_weight);
    free(t->order);
    free(t->val_idx);
    free(t->m);
    free(t->v);
    free(t->trainable);
    free(t->best_params);
    free(t->best_buffers);
    free(t->history);
    free(t);
}

static void *alloc_floats(size_t count)
{
    return calloc(count ? count : 1, sizeof(float));
}

/* t->trainable: [0, params) less the frozen layers' parameters. */
static int plan_trainable(nr_trainer *t)
{
    size_t n = nr_graph_weighted_layers(t->graph, NULL, 0);
    nr_weighted_layer *layers = calloc(n ? n : 1, sizeof *layers);
    t->trainable = calloc(n + 1, sizeof *t->trainable);
    if (!layers || !t->trainable) {
        free(layers);
        return -1;
    }
    nr_graph_weighted_layers(t->graph, layers, n);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const nr_layer *layer = layers[i].layer;
        if (!layer->frozen || !layer->param_count)
            continue;
        if (layers[i].param_offset > at)
            t->trainable[t->trainable_count++] = (param_span){at, layers[i].param_offset};
        at = layers[i].param_offset + layer->param_count;
    }
    if (t->params > at)
        t->trainable[t->trainable_count++] = (param_span){at, t->params};
    free(layers);
    return 0;
}

/* t->class_weight from cfg: balanced over the images that train (t->order
 * before any shuffle: the images less the validation split), or the given
 * values. A class without training images gets weight 0 under balanced (it
 * has no example to weight). */
static int plan_class_weights(nr_trainer *t)
{
    size_t k = t->train->class_count;
    t->class_weight = calloc(k ? k : 1, sizeof *t->class_weight);
    if (!t->class_weight)
        return -1;
    if (t->cfg.class_weights == NR_CLASS_WEIGHTS_GIVEN) {
        for (size_t c = 0; c < k; c++)
            t->class_weight[c] = t->cfg.class_weight_values ? t->cfg.class_weight_values[c]
                                                            : 1.0f;
        return 0;
    }
    size_t *count = calloc(k ? k : 1, sizeof *count);
    if (!count)
        return -1;
    for (size_t i = 0; i < t->train_count; i++)
        count[t->train->labels[t->order[i]]]++;
    for (size_t c = 0; c < k; c++)
        t->class_weight[c] = count[c] ? (float)((double)t->train_count /
                                                 ((double)k * (double)count[c]))
                                      : 0.0f;
    free(count);
    return 0;
}

int nr_trainer_create(nr_net *net, const nr_dataset *train, const nr_dataset *test,
                      const nr_train_config *cfg, nr_trainer **out, nr_error *err)
{
    *out = NULL;
    if (nr_check_data_fits(net, train, err) != 0 || nr_check_data_fits(net, test, err) != 0)
        return -1;
    nr_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    t->net = net;
    t->graph = nr_net_graph(net);
    t->train = train;
    t->test = test;
    t->cfg = *cfg;
    t->checkpoint_epochs = cfg->epochs;
    t->params = nr_net_param_count(net);
    t->buffers = nr_net_buffer_count(net);
    t->image_size = (size_t)train->channels * train->height * train->width;
    t->augment = nr_augment_active(&cfg->augment);
    t->stopping = cfg->stop_patience > 0;
    size_t count = train->count ? train->count : 1;
    for (int i = 0; i < (cfg->prefetch ? 2 : 1); i++) {
        t->x[i] = alloc_floats((size_t)cfg->batch_size * t->image_size);
        t->labels[i] = calloc((size_t)cfg->batch_size, sizeof *t->labels[i]);
    }
    t->order = calloc(count, sizeof *t->order);
    t->val_idx = calloc(count, sizeof *t->val_idx);
    t->m = alloc_floats(t->params);
    t->v = alloc_floats(t->params);
    t->best_params = alloc_floats(t->params);
    t->best_buffers = alloc_floats(t->buffers);
    t->history = calloc((size_t)cfg->epochs, sizeof *t->history);
    if (t->augment)
        t->workspace = alloc_floats(nr_augment_workspace_floats(train->channels, train->height,
                                                                train->width));
    if (!t->x[0] || !t->labels[0] || (cfg->prefetch && (!t->x[1] || !t->labels[1])) ||
        !t->order || !t->val_idx || !t->m || !t->v ||
        !t->best_params || !t->best_buffers || !t->history || (t->augment && !t->workspace) ||
        plan_trainable(t) != 0) {
        nr_trainer_free(t);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }

    t->train_count = train->count;
    if (cfg->validation_fraction > 0)
        nr_validation_split(train, cfg->validation_fraction, cfg->seed, t->order,
                            &t->train_count, t->val_idx, &t->val_count);
    else
        for (size_t i = 0; i < train->count; i++)
            t->order[i] = (uint32_t)i;
    if (t->train_count == 0 || (cfg->validation_fraction > 0 && t->val_count == 0)) {
        nr_trainer_free(t);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: %zu images cannot be split into "
                       "training and validation at fraction %g", train->root, train->count,
                       cfg->validation_fraction);
    }
    t->batches = (int)((t->train_count + (size_t)cfg->batch_size - 1) / (size_t)cfg->batch_size);
    if (cfg->class_weights != NR_CLASS_WEIGHTS_NONE && plan_class_weights(t) != 0) {
        nr_trainer_free(t);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }

    trainer_state *st = &t->state;
    memset(st, 0, sizeof *st);  /* padding too: the state is checksummed as bytes */
    st->epoch = 1;
    st->schedule = cfg->schedule;
    nr_rng_seed(&st->shuffle_rng, cfg->seed, NR_RNG_STREAM_SHUFFLE);
    nr_rng_seed(&st->dropout_rng, cfg->seed, NR_RNG_STREAM_DROPOUT);
    *out = t;
    return 0;
}

const nr_epoch_record *nr_trainer_history(const nr_trainer *t, int *epochs_done)
{
    *epochs_done = t->state.epochs_done;
    return t->history;
}

int nr_trainer_checkpoint_epochs(const nr_trainer *t)
{
    return t->checkpoint_epochs;
}

bool nr_trainer_finished(const nr_trainer *t)
{
    return t->state.finished != 0;
}

long nr_trainer_batches_done(const nr_trainer *t)
{
    return (long)t->state.epochs_done * t->batches + (t->state.finished ? 0 : t->state.batch);
}

/* The images of batch b of the current epoch: how many, from t->order. */
static int batch_images(const nr_trainer *t, int b)
{
    size_t first = (size_t)b * t->cfg.batch_size;
    return (int)(t->train_count - first < (size_t)t->cfg.batch_size ? t->train_count - first
                                                                    : (size_t)t->cfg.batch_size);
}

/* Gathers batch b of epoch `epoch` into x, labels (augmented when
 * configured, each image from its own (seed, epoch, index) stream): the
 * same bits whoever calls it. net: spread the plain conversion over the
 * net's threads (NULL: this thread alone, e.g. the prefetch thread while
 * the net computes). */
static void gather_training_batch(nr_trainer *t, nr_net *net, int b, int epoch, float *x,
                                  int32_t *labels)
{
    nr_prepare_batch(t->train, t->order + (size_t)b * t->cfg.batch_size, batch_images(t, b),
                     &t->cfg.augment, t->cfg.seed, epoch, net, t->workspace, x, labels);
}

/* One training step on batch b of the current epoch, gathered in x, labels;
 * returns the batch cost. */
static float train_batch(nr_trainer *t, int b, double lr, const float *x,
                         const int32_t *labels, int *correct)
{
    int n = batch_images(t, b);
    nr_net_zero_grads(t->net);
    nr_net_forward(t->net, x, n, true);
    float cost = nr_net_loss(t->net, labels, n, true, correct, NULL);
    if (isfinite(cost)) {
        /* backward, then the optimizer step on the net's threads */
        optimizer_slice_ctx step = {.trainer = t, .step = ++t->state.opt_step, .lr = (float)lr};
        nr_net_backward_update(t->net, x, n, optimizer_slice, &step);
    }
    *correct = n ? *correct : 0;
    t->state.images += n;
    return cost;
}

/* ---- the prefetch thread (train.prefetch, see netrun/train.h) ----
 * In training, while batch b computes the thread gathers batch b + 1 of
 * the same epoch into the other buffer. The next epoch's first batch waits
 * for its shuffle (after the epoch's evaluation), so it is gathered like a
 * batch without prefetch. The thread lives for one nr_trainer_run. */
struct nr_prefetcher {
    nr_prefetch_job job;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    bool quit;
    bool posted;               /* a job waits or is being run */
    int batch, epoch, slot;    /* the job */
};

static void *prefetch_main(void *p)
{
    nr_prefetcher *pf = p;
    pthread_mutex_lock(&pf->mutex);
    for (;;) {
        while (!pf->posted && !pf->quit)
            pthread_cond_wait(&pf->changed, &pf->mutex);
        if (pf->quit && !pf->posted)
            break;
        int b = pf->batch, epoch = pf->epoch, slot = pf->slot;
        pthread_mutex_unlock(&pf->mutex);
        pf->job(pf->ctx, b, epoch, slot);
        pthread_mutex_lock(&pf->mutex);
        pf->posted = false;
        pthread_cond_broadcast(&pf->changed);
    }
    pthread_mutex_unlock(&pf->mutex);
    return NULL;
}

int nr_prefetcher_start(nr_prefetch_job job, void *ctx, nr_prefetcher **out, nr_error *err)
{
    *out = NULL;
    nr_prefetcher *pf = calloc(1, sizeof *pf);
    if (!pf)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    pf->job = job;
    pf->ctx = ctx;
    if (pthread_mutex_init(&pf->mutex, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&pf->changed, NULL) != 0) {
        pthread_mutex_destroy(&pf->mutex);
        goto fail;
    }
    if (pthread_create(&pf->thread, NULL, prefetch_main, pf) != 0) {
        pthread_cond_destroy(&pf->changed);
        pthread_mutex_destroy(&pf->mutex);
        goto fail;
    }
    *out = pf;
    return 0;
fail:
    free(pf);
    return nr_fail(err, NR_EXIT_INTERNAL, "cannot start the prefetch thread");
}

void nr_prefetcher_post(nr_prefetcher *pf, int batch, int epoch, int slot)
{
    pthread_mutex_lock(&pf->mutex);
    pf->batch = batch;
    pf->epoch = epoch;
    pf->slot = slot;
    pf->posted = true;
    pthread_cond_broadcast(&pf->changed);
    pthread_mutex_unlock(&pf->mutex);
}

void nr_prefetcher_wait(nr_prefetcher *pf)
{
    pthread_mutex_lock(&pf->mutex);
    while (pf->posted)
        pthread_cond_wait(&pf->changed, &pf->mutex);
    pthread_mutex_unlock(&pf->mutex);
}

void nr_prefetcher_stop(nr_prefetcher *pf)
{
    if (!pf)
        return;
    pthread_mutex_lock(&pf->mutex);
    pf->quit = true;
    pthread_cond_broadcast(&pf->changed);
    pthread_mutex_unlock(&pf->mutex);
    pthread_join(pf->thread, NULL);
    pthread_cond_destroy(&pf->changed);
    pthread_mutex_destroy(&pf->mutex);
    free(pf);
}

/* The trainer's job: batch b of `epoch` into buffer `slot`, on the prefetch
 * thread alone (the net's threads are computing). */
static void prefetch_training_batch(void *ctx, int b, int epoch, int slot)
{
    nr_trainer *t = ctx;
    gather_training_batch(t, NULL, b, epoch, t->x[slot], t->labels[slot]);
}

/* After a non-finite cost: which layer is affected first. Parameters are
 * laid out layer by layer (netrun/net.h), so the first top-level layer with
 * a NaN/Inf weight is named; with all weights finite, the activations
 * overflowed in this batch's forward pass. */
static void describe_divergence(const nr_trainer *t, const nr_graph *graph, char *buf,
                                size_t size)
{
    const float *params = nr_net_params(t->net);
    size_t offset = 0;
    for (size_t i = 0; graph && i < graph->count; i++) {
        const nr_layer *layer = &graph->layers[i];
        for (size_t j = 0; j < layer->param_count; j++)
            if (!isfinite(params[offset + j])) {
                char desc[128];
                snprintf(buf, size, "first layer with NaN/Inf weights: %s (%s)", layer->label,
                         nr_layer_describe(layer, desc, sizeof desc));
                return;
            }
        offset += layer->param_count;
    }
    snprintf(buf, size, "all weights are finite: the activations overflowed in this batch");
}

/* The end of an epoch: validation and test passes, the history record, the
 * schedule and early stopping. */
static int end_epoch(nr_trainer *t, bool *stop, nr_error *err)
{
    trainer_state *st = &t->state;
    nr_epoch_record *rec = &t->history[st->epoch - 1];
    *rec = (nr_epoch_record){.epoch = st->epoch,
                             .train_cost = st->cost_sum / t->batches,
                             .train_acc = st->acc_sum / t->batches,
                             .val_cost = NAN,
                             .val_acc = NAN,
                             .lr = st->epoch_lr,
                             .seconds = st->epoch_seconds};
    nr_eval_result result;
    if (t->val_count) {
        if (nr_evaluate(t->net, t->train, t->val_idx, t->val_count, t->cfg.batch_size, &result,
                        NULL, NULL, NULL, err) != 0)
            return -1;
        rec->val_cost = result.cost;
        rec->val_acc = result.accuracy;
    }
    if (nr_evaluate(t->net, t->test, NULL, 0, t->cfg.batch_size, &result, NULL, NULL, NULL,
                    err) != 0)
        return -1;
    rec->test_cost = result.cost;
    rec->test_acc = result.accuracy;
    if (st->schedule.kind == NR_SCHEDULE_PLATEAU)
        nr_schedule_end_epoch(&st->schedule, plateau_value(t->cfg.plateau_monitor, rec));
    *stop = t->stopping && stopping_update(t, rec);
    st->epochs_done = st->epoch;
    st->epoch++;
    st->batch = 0;
    st->cost_sum = st->acc_sum = 0.0;
    st->images = 0;
    st->epoch_seconds = 0.0;
    if (*stop || st->epochs_done == t->cfg.epochs)
        st->finished = 1;
    return 0;
}

/* The stop request, agreed by the callbacks when they say how. */
static bool stop_now(const nr_train_callbacks *callbacks,
                     const volatile sig_atomic_t *stop_request)
{
    const bool requested = stop_request && *stop_request;
    if (callbacks && callbacks->stop_agreed)
        return callbacks->stop_agreed(callbacks->ctx, requested);
    return requested;
}

int nr_trainer_run(nr_trainer *t, const nr_train_callbacks *callbacks,
                   const volatile sig_atomic_t *stop_request, nr_train_outcome *outcome,
                   nr_error *err)
{
    trainer_state *st = &t->state;
    nr_net *net = t->net;
    const nr_train_config *cfg = &t->cfg;
    memset(outcome, 0, sizeof *outcome);
    /* the net splits each batch over cfg->threads workers (0 = online cores),
     * each with single-threaded BLAS, so the two never oversubscribe the cores */
    openblas_set_num_threads(1);
    if (nr_net_set_threads(net, cfg->threads, err) != 0)
        return -1;
    nr_net_set_label_smoothing(net, cfg->loss == NR_LOSS_CROSS_ENTROPY ? cfg->label_smoothing
                                                                       : 0.0f);
    nr_net_set_class_weights(net, t->class_weight);
    nr_net_set_dropout_rng(net, st->dropout_rng);
    int status = 0;
    nr_prefetcher *pf = NULL;
    if (cfg->prefetch && t->batches > 1 &&
        nr_prefetcher_start(prefetch_training_batch, t, &pf, err) != 0) {
        nr_net_set_class_weights(net, NULL);
        return -1;
    }
    while (!st->finished) {
        if (st->batch == 0 && cfg->shuffle)
            nr_rng_shuffle(&st->shuffle_rng, t->order, t->train_count);
        double start = nr_monotonic_seconds();
        int slot = 0;
        const int first = st->batch;   /* st->batch moves on with every batch */
        gather_training_batch(t, net, first, st->epoch, t->x[slot], t->labels[slot]);
        for (int b = first; b < t->batches; b++) {
            double lr = nr_schedule_lr(&st->schedule, st->epoch, (double)b / t->batches);
            if (b == 0)
                st->epoch_lr = lr;
            if (b > first && pf) {
                nr_prefetcher_wait(pf);    /* batch b is in x[slot] */
            } else if (b > first) {
                gather_training_batch(t, net, b, st->epoch, t->x[slot], t->labels[slot]);
            }
            if (pf && b + 1 < t->batches)
                nr_prefetcher_post(pf, b + 1, st->epoch, slot ^ 1);
            int correct = 0;
            int images_before = st->images;
            float cost = train_batch(t, b, lr, t->x[slot], t->labels[slot], &correct);
            if (pf)
                slot ^= 1;
            st->dropout_rng = nr_net_dropout_rng(net);
            if (!isfinite(cost)) {
                char affected[256];
                describe_divergence(t, t->graph, affected, sizeof affected);
                status = nr_fail(err, NR_EXIT_DIVERGED,
                                 "training diverged: the cost of epoch %d, batch %d/%d is %g; "
                                 "%s; history and checkpoint keep the last good epoch; lower "
                                 "the learning rate (now %g)",
                                 st->epoch, b + 1, t->batches, (double)cost, affected, lr);
                goto out;
            }
            int n = st->images - images_before;
            float acc = (float)correct / (float)n;
            st->cost_sum += cost;
            st->acc_sum += acc;
            st->batch = b + 1;
            double elapsed = nr_monotonic_seconds() - start;
            if (callbacks && callbacks->on_batch) {
                nr_batch_record rec = {.epoch = st->epoch, .batch = b + 1,
                                       .batches = t->batches, .cost = cost, .acc = acc,
                                       .running_cost = st->cost_sum / (b + 1),
                                       .running_acc = st->acc_sum / (b + 1),
                                       .epoch_seconds = st->epoch_seconds + elapsed,
                                       .images = st->images};
                callbacks->on_batch(callbacks->ctx, &rec);
            }
            if (stop_now(callbacks, stop_request) && b + 1 < t->batches) {
                st->epoch_seconds += elapsed;
                status = nr_fail(err, NR_EXIT_INTERRUPTED,
                                 "interrupted in epoch %d after batch %d/%d", st->epoch, b + 1,
                                 t->batches);
                goto out;
            }
        }
        st->epoch_seconds += nr_monotonic_seconds() - start;
        bool stop = false;
        if (end_epoch(t, &stop, err) != 0) {
            status = -1;
            goto out;
        }
        if (callbacks && callbacks->on_epoch &&
            callbacks->on_epoch(callbacks->ctx, t->history, st->epochs_done, err) != 0) {
            status = -1;
            goto out;
        }
        if (stop_now(callbacks, stop_request) && !st->finished) {
            status = nr_fail(err, NR_EXIT_INTERRUPTED, "interrupted after epoch %d",
                             st->epochs_done);
            goto out;
        }
    }
    if (t->stopping && cfg->restore_best && st->stop_best_epoch &&
        st->stop_best_epoch != st->epochs_done) {
        memcpy(nr_net_params(net), t->best_params, t->params * sizeof(float));
        memcpy(nr_net_buffers(net), t->best_buffers, t->buffers * sizeof(float));
        outcome->restored_best = true;
    }
out:
    nr_prefetcher_stop(pf);   /* after its last job: the buffers are the trainer's */
    nr_net_set_class_weights(net, NULL);   /* the trainer's array: not the net's to keep */
    outcome->epochs_done = st->epochs_done;
    outcome->best_epoch = t->stopping ? st->stop_best_epoch : 0;
    return status;
}

/* ---- checkpoints ---- */

static const char checkpoint_magic[8] = {'N', 'R', 'C', 'H', 'K', 'P', 'T', '1'};
enum { CHECKPOINT_VERSION = 1 };

typedef struct checkpoint_header {
    char magic[8];
    uint32_t version, state_bytes;
    uint64_t spec_hash;
    uint64_t params, buffers, train_count, epochs;
} checkpoint_header;

/* The byte ranges of a checkpoint after its header, in file order. */
typedef struct checkpoint_part {
    void *data;
    size_t bytes;
} checkpoint_part;

/* With the history of `epochs` records at `history` (last, so that the
 * fixed-size parts come first). */
static size_t checkpoint_parts(nr_trainer *t, nr_epoch_record *history, int epochs,
                               checkpoint_part parts[10])
{
    size_t p = t->params * sizeof(float), b = t->buffers * sizeof(float);
    size_t n = 0;
    parts[n++] = (checkpoint_part){&t->state, sizeof t->state};
    parts[n++] = (checkpoint_part){nr_net_params(t->net), p};
    parts[n++] = (checkpoint_part){nr_net_buffers(t->net), b};
    parts[n++] = (checkpoint_part){t->m, p};
    parts[n++] = (checkpoint_part){t->v, p};
    parts[n++] = (checkpoint_part){t->best_params, p};
    parts[n++] = (checkpoint_part){t->best_buffers, b};
    parts[n++] = (checkpoint_part){t->order, t->train_count * sizeof *t->order};
    parts[n++] = (checkpoint_part){history, (size_t)epochs * sizeof *history};
    return n;
}

static checkpoint_header checkpoint_header_for(const nr_trainer *t, uint64_t spec_hash)
{
    checkpoint_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, checkpoint_magic, sizeof h.magic);
    h.version = CHECKPOINT_VERSION;
    h.state_bytes = (uint32_t)sizeof t->state;
    h.spec_hash = spec_hash;
    h.params = t->params;
    h.buffers = t->buffers;
    h.train_count = t->train_count;
    h.epochs = (uint64_t)t->cfg.epochs;
    return h;
}

int nr_trainer_save(nr_trainer *t, const char *path, uint64_t spec_hash, nr_error *err)
{
    checkpoint_header h = checkpoint_header_for(t, spec_hash);
    checkpoint_part parts[10];
    size_t count = checkpoint_parts(t, t->history, t->cfg.epochs, parts);
    nr_atomic_file file;
    if (nr_atomic_open(&file, path, err) != 0)
        return -1;
    uint64_t sum = nr_fnv1a(NR_FNV_OFFSET, &h, sizeof h);
    bool ok = fwrite(&h, sizeof h, 1, file.fp) == 1;
    for (size_t i = 0; ok && i < count; i++) {
        sum = nr_fnv1a(sum, parts[i].data, parts[i].bytes);
        ok = parts[i].bytes == 0 || fwrite(parts[i].data, parts[i].bytes, 1, file.fp) == 1;
    }
    ok = ok && fwrite(&sum, sizeof sum, 1, file.fp) == 1;
    if (!ok) {
        nr_atomic_abort(&file);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write the checkpoint", path);
    }
    return nr_atomic_commit(&file, err);
}

/* A checkpoint of a run planned for `planned` epochs, continued to
 * cfg.epochs (state: the checkpoint's): possible when the schedule does not
 * depend on the total, early stopping has not ended the run and the new
 * total is more than the epochs done. */
static int check_new_total(const nr_trainer *t, const trainer_state *state, int planned,
                           const char *path, nr_error *err)
{
    const nr_train_config *cfg = &t->cfg;
    if (nr_schedule_uses_total(cfg->schedule.kind))
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: the run's schedule (%s) follows its "
                       "total of %d epochs, so a run of %d epochs would have had other "
                       "learning rates from the start: it cannot be continued to %d epochs as "
                       "if planned so; start a new run from its weights (train.init_from)",
                       path, nr_schedule_name(cfg->schedule.kind), planned, cfg->epochs,
                       cfg->epochs);
    if (state->finished && state->epochs_done < planned)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: early stopping ended the run after "
                       "epoch %d of %d (no improvement since epoch %d); with more epochs it "
                       "would have stopped there too: nothing to continue",
                       path, state->epochs_done, planned, state->stop_best_epoch);
    if (cfg->epochs <= state->epochs_done)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: the run has done %d epochs already; "
                       "a total of %d adds none: ask for more than %d",
                       path, state->epochs_done, cfg->epochs, state->epochs_done);
    return 0;
}

int nr_trainer_load(nr_trainer *t, const char *path, uint64_t spec_hash, nr_error *err)
{
    checkpoint_header want = checkpoint_header_for(t, spec_hash);
    checkpoint_part parts[10];
    size_t count = checkpoint_parts(t, t->history, t->cfg.epochs, parts);
    /* everything but the history, whose length is the checkpoint's total */
    size_t fixed = sizeof want + sizeof(uint64_t);
    for (size_t i = 0; i + 1 < count; i++)
        fixed += parts[i].bytes;
    char *data;
    size_t len;
    if (nr_read_file(path, fixed + (size_t)NR_CHECKPOINT_MAX_EPOCHS * sizeof *t->history,
                     &data, &len, err) != 0) {
        if (err && strstr(err->message, "more than"))
            nr_fail(err, NR_EXIT_INPUT, "%s: error: checkpoint does not belong to this run "
                    "(size)", path);
        return -1;
    }
    int status = -1;
    nr_epoch_record *history = NULL;
    checkpoint_header got;
    if (len < sizeof got) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: not a netrun checkpoint (too short)", path);
        goto done;
    }
    memcpy(&got, data, sizeof got);
    const uint64_t planned = got.epochs;
    got.epochs = want.epochs;   /* the total may differ: checked below */
    if (memcmp(got.magic, checkpoint_magic, sizeof got.magic) != 0) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: not a netrun checkpoint (bad magic)", path);
        goto done;
    }
    if (got.version != CHECKPOINT_VERSION || got.state_bytes != want.state_bytes) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: checkpoint format %u is not this netrun's (%d)",
                path, got.version, CHECKPOINT_VERSION);
        goto done;
    }
    if (memcmp(&got, &want, sizeof got) != 0) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: checkpoint is of another spec or data "
                "(network, settings or image count differ)", path);
        goto done;
    }
    size_t expected = planned >= 1 && planned <= NR_CHECKPOINT_MAX_EPOCHS
                          ? fixed + (size_t)planned * sizeof *t->history : 0;
    if (len != expected) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: checkpoint is %zu bytes, expected %zu "
                "(truncated?)", path, len, expected);
        goto done;
    }
    uint64_t sum;
    memcpy(&sum, data + len - sizeof sum, sizeof sum);
    if (sum != nr_fnv1a(NR_FNV_OFFSET, data, len - sizeof sum)) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: checkpoint is corrupt (checksum)", path);
        goto done;
    }
    const int old_total = (int)planned, new_total = t->cfg.epochs;
    if (old_total != new_total) {
        trainer_state state;
        memcpy(&state, data + sizeof got, sizeof state);
        if (check_new_total(t, &state, old_total, path, err) != 0)
            goto done;
        /* room for the records written and those to come */
        history = calloc((size_t)(old_total > new_total ? old_total : new_total),
                         sizeof *history);
        if (!history) {
            nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
            goto done;
        }
    }
    count = checkpoint_parts(t, history ? history : t->history, old_total, parts);
    const char *at = data + sizeof got;
    for (size_t i = 0; i < count; i++) {
        memcpy(parts[i].data, at, parts[i].bytes);
        at += parts[i].bytes;
    }
    if (history) {
        /* the run continues to the new total: it had ended only by reaching
         * the old one (check_new_total) */
        free(t->history);
        t->history = history;
        history = NULL;
        t->state.finished = 0;
        t->state.schedule.epochs = new_total;
    }
    t->checkpoint_epochs = old_total;
    status = 0;
done:
    free(history);
    free(data);
    return status;
}

int nr_train(nr_net *net, const nr_dataset *train, const nr_dataset *test,
             const nr_train_config *cfg, const nr_train_callbacks *callbacks,
             nr_epoch_record *history, nr_train_outcome *outcome, nr_error *err)
{
    nr_trainer *t;
    memset(outcome, 0, sizeof *outcome);
    if (nr_trainer_create(net, train, test, cfg, &t, err) != 0)
        return -1;
    int status = nr_trainer_run(t, callbacks, NULL, outcome, err);
    memcpy(history, t->history, (size_t)outcome->epochs_done * sizeof *history);
    nr_trainer_free(t);
    return status;
}
