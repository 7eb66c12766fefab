/* layers/net.c - the executor: memory plan, init, forward, loss, backward
 * (see netrun/net.h). */
#include "netrun/net.h"

#include <stdlib.h>
#include <string.h>

#include "layers/layer.h"

enum { SCRATCH_ALIGN = 64 };

struct nr_net {
    const nr_graph *graph;
    nr_layer_run *runs;          /* one per top-level layer */
    size_t exec_count;           /* runs executed by forward (a final softmax is the loss head's) */
    bool head_softmax;
    nr_loss_kind loss;
    int classes;
    int max_batch;
    const nr_kernel_table *kernels;
    float *params, *grads, *buffers;
    size_t param_count, buffer_count;
    float *outs;                 /* every run's out */
    float *douts;                /* every run's dout, contiguous: zeroed in one memset */
    size_t douts_bytes;
    char *scratch;
    float *workspace;
    nr_rng dropout_rng;
    float label_smoothing;
    const float *logits;         /* of the last forward */
    float *dlogits;
};

void *nr_arena_take(nr_arena *arena, size_t count, size_t elem_size)
{
    size_t align = elem_size < SCRATCH_ALIGN ? elem_size : SCRATCH_ALIGN;
    arena->used = (arena->used + align - 1) / align * align;
    void *slice = arena->base ? arena->base + arena->used : NULL;
    arena->used += count * elem_size;
    return slice;
}

float *nr_plan_params(nr_net_plan *plan, size_t count, float **grad)
{
    float *slice = nr_arena_take(&plan->params, count, sizeof(float));
    *grad = slice ? plan->grads_base + (slice - plan->params_base) : NULL;
    return slice;
}

const float *nr_runs_forward(const nr_exec *ex, nr_layer_run *runs, size_t count,
                             const float *in)
{
    const float *x = in;
    for (size_t i = 0; i < count; i++) {
        nr_layer_registry[runs[i].layer->kind]->forward(ex, &runs[i], x);
        x = runs[i].out;
    }
    return x;
}

void nr_runs_backward(const nr_exec *ex, nr_layer_run *runs, size_t count, const float *in,
                      float *din)
{
    for (size_t i = count; i-- > 0;) {
        const float *x = i ? runs[i - 1].out : in;
        float *dx = i ? runs[i - 1].dout : din;
        nr_layer_registry[runs[i].layer->kind]->backward(ex, &runs[i], x, dx);
    }
}

/* ---- building the runs ---- */

static void free_runs(nr_layer_run *runs, const nr_layer *layers, size_t count)
{
    if (!runs)
        return;
    for (size_t i = 0; i < count; i++) {
        free_runs(runs[i].block, layers[i].block, layers[i].block_count);
        free_runs(runs[i].shortcut, layers[i].shortcut, layers[i].shortcut_count);
    }
    free(runs);
}

static nr_layer_run *create_runs(const nr_layer *layers, size_t count)
{
    nr_layer_run *runs = calloc(count ? count : 1, sizeof *runs);
    if (!runs)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        runs[i].layer = &layers[i];
        if (layers[i].block_count &&
            !(runs[i].block = create_runs(layers[i].block, layers[i].block_count)))
            goto fail;
        if (layers[i].shortcut_count &&
            !(runs[i].shortcut = create_runs(layers[i].shortcut, layers[i].shortcut_count)))
            goto fail;
    }
    return runs;
fail:
    free_runs(runs, layers, count);
    return NULL;
}

typedef struct net_arenas {
    nr_net_plan plan;
    nr_arena outs, douts;
    size_t workspace_floats;
} net_arenas;

/* One pass over the runs: sizing (bases NULL) or binding. */
static void plan_runs(net_arenas *a, nr_layer_run *runs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        nr_layer_run *run = &runs[i];
        const nr_layer *layer = run->layer;
        const nr_layer_ops *ops = nr_layer_registry[layer->kind];
        size_t floats = (size_t)a->plan.max_batch * nr_shape_size(layer->out);
        run->out = nr_arena_take(&a->outs, floats, sizeof(float));
        run->dout = nr_arena_take(&a->douts, floats, sizeof(float));
        if (ops->bind)
            ops->bind(run, &a->plan);
        if (ops->workspace_floats) {
            size_t ws = ops->workspace_floats(layer);
            if (ws > a->workspace_floats)
                a->workspace_floats = ws;
        }
        plan_runs(a, run->block, layer->block_count);
        plan_runs(a, run->shortcut, layer->shortcut_count);
    }
}

static void init_runs(nr_layer_run *runs, size_t count, nr_rng *rng)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer_ops *ops = nr_layer_registry[runs[i].layer->kind];
        if (ops->init)
            ops->init(&runs[i], rng);
        init_runs(runs[i].block, runs[i].layer->block_count, rng);
        init_runs(runs[i].shortcut, runs[i].layer->shortcut_count, rng);
    }
}

static void *alloc_bytes(size_t bytes)
{
    return calloc(1, bytes ? bytes : 1);
}

int nr_net_create(const nr_graph *graph, int max_batch, nr_backend backend, nr_loss_kind loss,
                  nr_net **out, nr_error *err)
{
    *out = NULL;
    if (graph->count == 0 || max_batch < 1)
        return nr_fail(err, NR_EXIT_INPUT, "network: error: the network has no layers");
    nr_net *net = calloc(1, sizeof *net);
    if (!net)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    net->graph = graph;
    net->max_batch = max_batch;
    net->loss = loss;
    net->kernels = backend == NR_BACKEND_REFERENCE ? &nr_reference_kernels : &nr_blas_kernels;
    net->classes = (int)nr_shape_size(nr_graph_output(graph));
    net->head_softmax = graph->layers[graph->count - 1].kind == NR_LAYER_SOFTMAX;
    net->exec_count = graph->count - (net->head_softmax ? 1 : 0);
    if (net->exec_count == 0) {
        free(net);
        return nr_fail(err, NR_EXIT_INPUT,
                       "network: error: a final softmax needs a layer before it");
    }
    net->runs = create_runs(graph->layers, graph->count);
    if (!net->runs)
        goto oom;

    net_arenas sizing = {.plan = {.max_batch = max_batch}};
    plan_runs(&sizing, net->runs, net->exec_count);
    net->param_count = sizing.plan.params.used / sizeof(float);
    net->buffer_count = sizing.plan.buffers.used / sizeof(float);
    net->douts_bytes = sizing.douts.used;
    net->params = alloc_bytes(sizing.plan.params.used);
    net->grads = alloc_bytes(sizing.plan.params.used);
    net->buffers = alloc_bytes(sizing.plan.buffers.used);
    net->outs = alloc_bytes(sizing.outs.used);
    net->douts = alloc_bytes(sizing.douts.used);
    net->scratch = alloc_bytes(sizing.plan.scratch.used);
    net->workspace = alloc_bytes(sizing.workspace_floats * sizeof(float));
    if (!net->params || !net->grads || !net->buffers || !net->outs || !net->douts ||
        !net->scratch || !net->workspace)
        goto oom;

    net_arenas binding = {
        .plan = {.params = {.base = (char *)net->params},
                 .buffers = {.base = (char *)net->buffers},
                 .scratch = {.base = net->scratch},
                 .params_base = net->params,
                 .grads_base = net->grads,
                 .max_batch = max_batch},
        .outs = {.base = (char *)net->outs},
        .douts = {.base = (char *)net->douts},
    };
    plan_runs(&binding, net->runs, net->exec_count);
    net->dlogits = net->runs[net->exec_count - 1].dout;
    nr_rng_seed(&net->dropout_rng, 0, NR_RNG_STREAM_DROPOUT);
    *out = net;
    return 0;
oom:
    nr_net_free(net);
    return nr_fail(err, NR_EXIT_INTERNAL, "out of memory planning the network for batch %d",
                   max_batch);
}

void nr_net_free(nr_net *net)
{
    if (!net)
        return;
    free_runs(net->runs, net->graph->layers, net->graph->count);
    free(net->params);
    free(net->grads);
    free(net->buffers);
    free(net->outs);
    free(net->douts);
    free(net->scratch);
    free(net->workspace);
    free(net);
}

void nr_net_init(nr_net *net, uint64_t seed)
{
    nr_rng rng;
    nr_rng_seed(&rng, seed, NR_RNG_STREAM_INIT);
    init_runs(net->runs, net->exec_count, &rng);
}

size_t nr_net_param_count(const nr_net *net) { return net->param_count; }
float *nr_net_params(nr_net *net) { return net->params; }
float *nr_net_grads(nr_net *net) { return net->grads; }
size_t nr_net_buffer_count(const nr_net *net) { return net->buffer_count; }
float *nr_net_buffers(nr_net *net) { return net->buffers; }
int nr_net_classes(const nr_net *net) { return net->classes; }
nr_shape nr_net_input(const nr_net *net) { return net->graph->input; }
void nr_net_set_dropout_rng(nr_net *net, nr_rng rng) { net->dropout_rng = rng; }
void nr_net_set_label_smoothing(nr_net *net, float smoothing) { net->label_smoothing = smoothing; }
nr_rng nr_net_dropout_rng(const nr_net *net) { return net->dropout_rng; }

static nr_exec make_exec(nr_net *net, int n, bool training)
{
    return (nr_exec){.kernels = net->kernels,
                     .workspace = net->workspace,
                     .dropout_rng = &net->dropout_rng,
                     .training = training,
                     .n = n};
}

const float *nr_net_forward(nr_net *net, const float *input, int n, bool training)
{
    nr_exec ex = make_exec(net, n, training);
    net->logits = nr_runs_forward(&ex, net->runs, net->exec_count, input);
    return net->logits;
}

float nr_net_loss(nr_net *net, const int32_t *labels, int n, bool want_grad, int *correct,
                  float *probs)
{
    int k = net->classes;
    float *dlogits = NULL;
    if (want_grad) {
        memset(net->douts, 0, net->douts_bytes);
        dlogits = net->dlogits;
    }
    float loss;
    if (net->loss == NR_LOSS_CROSS_ENTROPY) {
        loss = nr_softmax_cross_entropy_smoothed(n, k, net->logits, labels,
                                                 want_grad ? net->label_smoothing : 0.0f,
                                                 probs, dlogits);
    } else if (net->head_softmax) {
        loss = nr_softmax_mse(n, k, net->logits, labels, probs, dlogits);
    } else {
        loss = nr_mse_onehot(n, k, net->logits, labels, dlogits);
        if (probs)
            memcpy(probs, net->logits, (size_t)n * k * sizeof(float));
    }
    if (correct)
        *correct = nr_count_correct(n, k, net->logits, labels);
    return loss;
}

void nr_net_backward(nr_net *net, const float *input, int n)
{
    nr_exec ex = make_exec(net, n, true);
    nr_runs_backward(&ex, net->runs, net->exec_count, input, NULL);
}

void nr_net_zero_grads(nr_net *net)
{
    memset(net->grads, 0, net->param_count * sizeof(float));
}
