/* layers/net.c - the executor: memory plan, init, forward, loss, backward
 * (see netrun/net.h). */
#include "netrun/net.h"

#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrun/clock.h"
#include "netrun/comm.h"
#include "layers/layer.h"
#include "layers/threads.h"

enum {
    SLICE_UNIT = 16      /* threads' slices of the parameter vector: whole cache lines */
};

/* A range [lo, hi) of the parameter vector. */
typedef struct param_range {
    size_t lo, hi;
} param_range;

/* One thread's share of the current batch and what it runs it with. Thread 0
 * uses the net's own runs, gradients and workspace; threads t > 0 have views
 * of the runs (out/dout/saved offset to their first example, dweight/dbias in
 * their own gradient block) that are re-pointed when the split changes. */
typedef struct thread_state {
    nr_layer_run *runs;          /* t > 0: views; t == 0: the net's runs */
    float *grads;                /* t > 0: own block [param_count]; only the summed
                                    ranges are used (zeroed per backward) */
    float *workspace;
    nr_rng dropout;              /* the dropout stream at the start of the pass */
    int first, n;                /* share of the current batch */
    int view_first;              /* the first example the views point at (-1: none yet) */
} thread_state;

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
    float *douts;                /* every run's dout, contiguous (never zeroed as a whole:
                                    see nr_runs_backward) */
    size_t douts_bytes;
    char *scratch;
    float *workspace;
    nr_rng dropout_rng;
    float label_smoothing;
    const float *class_weight;   /* [classes] or NULL; borrowed (nr_net_set_class_weights) */
    const float *logits;         /* of the last forward */
    float *dlogits;
    size_t workspace_floats;
    /* threads (nr_net_set_threads); threads == 1: no pool, no views */
    int threads;
    nr_pool *pool;
    thread_state *ts;            /* [threads] */
    /* several processes: net->comm (borrowed), ranks NULL when it has one
     * process; this process's threads are global threads [thread_base,
     * thread_base + threads) of global_threads (0 and threads alone) */
    const nr_comm *comm;
    nr_net_ranks *ranks;
    int thread_base, global_threads;
    /* the parameter ranges whose gradients each thread accumulates in its own
     * block and the backward sums; the rest belong to whole-batch layers
     * (whole_batch_grads), which write the shared gradient directly */
    param_range *summed;
    size_t summed_count;
    /* the update of nr_net_backward_update, for the current pass */
    nr_net_update_fn pass_update;
    void *pass_update_ctx;
    /* nr_net_zero_grads is deferred to the next pass, whose threads zero
     * their slices (pass_zero_grads); nr_net_grads() zeroes at once */
    bool grads_zero_pending;
    bool pass_zero_grads;
    /* nr_net_parallel_for, for the current job */
    nr_net_range_fn range_fn;
    void *range_ctx;
    int range_count;
    /* the current pass, read by every thread */
    const float *pass_input;
    int pass_n;
    bool pass_training;
    /* per-layer timing (nr_net_set_timing) */
    bool timing;
    nr_layer_times *times;       /* [exec_count] */
    nr_layer_times reduce_times;
    nr_layer_times logits_times; /* several processes: the logits' gather */
    nr_timed_part *parts;        /* [part_count]: the rows inside residual blocks */
    size_t part_count;
};

/* The layer's ops->whole_batch_grads (see layer.h): every thread's view
 * points its dweight/dbias at net->grads, and their ranges are neither kept
 * per thread nor summed. */
static bool whole_batch_grads(const nr_kernel_table *kernels, const nr_layer *layer)
{
    const nr_layer_ops *ops = nr_layer_registry[layer->kind];
    return ops->whole_batch_grads && ops->whole_batch_grads(kernels);
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
        runs[i].ops = nr_layer_registry[layers[i].kind];
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
    const nr_kernel_table *kernels;
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
        const nr_layer_ops *ops = run->ops;
        size_t floats = (size_t)a->plan.max_batch * nr_shape_size(layer->out);
        run->out = nr_arena_take(&a->outs, floats, sizeof(float));
        run->dout = nr_arena_take(&a->douts, floats, sizeof(float));
        if (ops->bind)
            ops->bind(run, &a->plan);
        if (ops->workspace_floats) {
            size_t ws = ops->workspace_floats(layer, a->kernels, a->plan.max_batch);
            if (ws > a->workspace_floats)
                a->workspace_floats = ws;
        }
        plan_runs(a, run->block, layer->block_count);
        plan_runs(a, run->shortcut, layer->shortcut_count);
    }
}

/* Fusion: a run whose kind takes epilogues (conv) followed in one list by
 * up to two runs whose kinds can be its epilogue (an activation and/or a
 * maxpool 2x2/2, in either order: their ops say so and what they do), when
 * the backend has fused kernels for the convolution's shape, runs as one
 * (see layer.h). The absorbed runs keep their buffers; the conv run's own
 * out/dout go unused. */
static void fuse_runs(const nr_kernel_table *k, nr_layer_run *runs, size_t count,
                      int max_batch)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = runs[i].layer;
        fuse_runs(k, runs[i].block, layer->block_count, max_batch);
        fuse_runs(k, runs[i].shortcut, layer->shortcut_count, max_batch);
        if (!runs[i].ops->takes_epilogue || !runs[i].ops->takes_epilogue(layer, k, max_batch))
            continue;
        nr_conv_epilogue epi = {.act = NR_ACT_NONE};
        int fused = 0, fused_pool = 0;
        while (fused < 2 && i + (size_t)fused + 1 < count) {
            const nr_layer_run *next = &runs[i + (size_t)fused + 1];
            const int had_pool = epi.pool;
            if (!next->ops->conv_epilogue || !next->ops->conv_epilogue(next->layer, &epi))
                break;
            fused++;
            if (epi.pool && !had_pool)
                fused_pool = fused;
        }
        runs[i].epi = epi;
        runs[i].fused = fused;
        runs[i].fused_pool = fused_pool;
        for (int j = 1; j <= fused; j++)
            runs[i + (size_t)j].absorbed = true;
        i += (size_t)fused;
    }
}

/* The timed rows inside the residual blocks of runs[0..count) (top-level
 * layer `top` when depth > 0), in pre-order: counted (parts NULL) or filled,
 * with each run's times pointed at its row. */
static void plan_parts(nr_layer_run *runs, size_t count, size_t top, int depth,
                       bool shortcut, nr_timed_part *parts, size_t *n)
{
    for (size_t i = 0; i < count; i++) {
        nr_layer_run *run = &runs[i];
        const nr_layer *layer = run->layer;
        size_t owner = depth ? top : i;
        if (depth) {
            if (parts) {
                parts[*n] = (nr_timed_part){.top = owner, .depth = depth,
                                            .kind = shortcut ? NR_PART_SHORTCUT : NR_PART_LAYER,
                                            .layer = layer, .fused = run->absorbed};
                run->times = &parts[*n].times;
            }
            (*n)++;
        }
        if (!layer->block_count)
            continue;
        plan_parts(run->block, layer->block_count, owner, depth + 1, false, parts, n);
        plan_parts(run->shortcut, layer->shortcut_count, owner, depth + 1, true, parts, n);
        if (!layer->shortcut_count) {
            if (parts) {
                parts[*n] = (nr_timed_part){.top = owner, .depth = depth + 1,
                                            .kind = NR_PART_IDENTITY};
                run->identity_times = &parts[*n].times;
            }
            (*n)++;
        }
        if (parts) {
            parts[*n] = (nr_timed_part){.top = owner, .depth = depth + 1, .kind = NR_PART_ADD};
            run->add_times = &parts[*n].times;
        }
        (*n)++;
    }
}

/* A 2x2 stride-2 max pooling over an even plane (the fused kernels' form). */
static bool is_maxpool_2x2_even(const nr_layer *layer)
{
    return layer && layer->kind == NR_LAYER_MAXPOOL && layer->config.pool.size == 2 &&
           layer->config.pool.stride == 2 && layer->in.h % 2 == 0 && layer->in.w % 2 == 0;
}

/* Fusion: batchnorm -> relu (-> maxpool 2x2/2, even plane) in one list runs
 * as the batchnorm run (layers/batchnorm.c: normalise, relu and pool in one
 * pass after the statistics, and the matching backward); the absorbed runs
 * keep their buffers, the batchnorm run's own out/dout go unused. Any
 * backend: the batchnorm kernels are the same for both. */
static void fuse_batchnorm_runs(nr_layer_run *runs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = runs[i].layer;
        fuse_batchnorm_runs(runs[i].block, layer->block_count);
        fuse_batchnorm_runs(runs[i].shortcut, layer->shortcut_count);
        if (layer->kind != NR_LAYER_BATCHNORM || runs[i].absorbed || i + 1 >= count ||
            runs[i + 1].layer->kind != NR_LAYER_RELU)
            continue;
        const bool pool = i + 2 < count && is_maxpool_2x2_even(runs[i + 2].layer);
        runs[i].fuse = pool ? NR_FUSE_RELU_MAXPOOL : NR_FUSE_RELU;
        for (size_t j = 1; j <= (pool ? 2u : 1u); j++)
            runs[i + j].absorbed = true;
        i += pool ? 2 : 1;
    }
}

static void init_runs(nr_layer_run *runs, size_t count, nr_rng *rng)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer_ops *ops = runs[i].ops;
        if (ops->init)
            ops->init(&runs[i], rng);
        init_runs(runs[i].block, runs[i].layer->block_count, rng);
        init_runs(runs[i].shortcut, runs[i].layer->shortcut_count, rng);
    }
}

/* Appends the parameter ranges of whole-batch layers, in parameter order
 * (the order plan_runs binds them in), to out (NULL: only counts). */
static void whole_batch_ranges(const nr_net *net, const nr_layer_run *runs, size_t count,
                               param_range *out, size_t *n)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = runs[i].layer;
        if (runs[i].weight && layer->param_count && whole_batch_grads(net->kernels, layer)) {
            size_t lo = (size_t)(runs[i].weight - net->params);
            if (out)
                out[*n] = (param_range){lo, lo + layer->param_count};
            (*n)++;
        }
        whole_batch_ranges(net, runs[i].block, layer->block_count, out, n);
        whole_batch_ranges(net, runs[i].shortcut, layer->shortcut_count, out, n);
    }
}

/* net->summed = [0, param_count) less the whole-batch layers' ranges. */
static int plan_summed_ranges(nr_net *net)
{
    size_t whole = 0;
    whole_batch_ranges(net, net->runs, net->exec_count, NULL, &whole);
    param_range *skip = calloc(whole ? whole : 1, sizeof *skip);
    net->summed = calloc(whole + 1, sizeof *net->summed);
    if (!skip || !net->summed) {
        free(skip);
        return -1;
    }
    size_t n = 0;
    whole_batch_ranges(net, net->runs, net->exec_count, skip, &n);
    size_t at = 0;
    net->summed_count = 0;
    for (size_t k = 0; k <= whole; k++) {
        size_t end = k < whole ? skip[k].lo : net->param_count;
        if (end > at)
            net->summed[net->summed_count++] = (param_range){at, end};
        if (k < whole)
            at = skip[k].hi;
    }
    free(skip);
    return 0;
}

static void *alloc_bytes(size_t bytes)
{
    return calloc(1, bytes ? bytes : 1);
}

static void free_ranks(nr_net *net)
{
    nr_net_ranks *rk = net->ranks;
    if (net->ts && net->ts[0].runs != net->runs) {
        free_runs(net->ts[0].runs, net->graph->layers, net->graph->count);
        net->ts[0].runs = net->runs;
        net->ts[0].view_first = 0;
    }
    net->ranks = NULL;
    net->thread_base = 0;
    net->global_threads = net->threads;
    if (!rk)
        return;
    free(rk->thread_base);
    free(rk->row_first);
    free(rk->send);
    free(rk->recv);
    free(rk->counts);
    free(rk);
}

static void free_threads(nr_net *net)
{
    free_ranks(net);
    nr_pool_free(net->pool);
    net->pool = NULL;
    if (net->ts) {
        for (int t = 1; t < net->threads; t++) {
            free_runs(net->ts[t].runs, net->graph->layers, net->graph->count);
            free(net->ts[t].grads);
            free(net->ts[t].workspace);
        }
        free(net->ts);
    }
    net->ts = NULL;
    net->threads = 0;
}

/* Single-threaded state: thread 0 only, on the net's own memory. */
static int setup_single_thread(nr_net *net)
{
    net->ts = calloc(1, sizeof *net->ts);
    if (!net->ts)
        return -1;
    net->threads = 1;
    net->ts[0] = (thread_state){.runs = net->runs, .grads = net->grads,
                                .workspace = net->workspace, .view_first = 0};
    net->global_threads = 1;
    return 0;
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

    net_arenas sizing = {.kernels = net->kernels, .plan = {.max_batch = max_batch}};
    plan_runs(&sizing, net->runs, net->exec_count);
    net->param_count = sizing.plan.params.used / sizeof(float);
    net->buffer_count = sizing.plan.buffers.used / sizeof(float);
    net->douts_bytes = sizing.douts.used;
    net->workspace_floats = sizing.workspace_floats;
    net->params = alloc_bytes(sizing.plan.params.used);
    net->grads = alloc_bytes(sizing.plan.params.used);
    net->buffers = alloc_bytes(sizing.plan.buffers.used);
    net->outs = alloc_bytes(sizing.outs.used);
    net->douts = alloc_bytes(sizing.douts.used);
    net->scratch = alloc_bytes(sizing.plan.scratch.used);
    net->workspace = alloc_bytes(sizing.workspace_floats * sizeof(float));
    net->times = calloc(net->exec_count, sizeof *net->times);
    if (!net->params || !net->grads || !net->buffers || !net->outs || !net->douts ||
        !net->scratch || !net->workspace || !net->times)
        goto oom;

    net_arenas binding = {
        .kernels = net->kernels,
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
    fuse_runs(net->kernels, net->runs, net->exec_count, max_batch);
    fuse_batchnorm_runs(net->runs, net->exec_count);
    if (plan_summed_ranges(net) != 0)
        goto oom;
    plan_parts(net->runs, net->exec_count, 0, 0, false, NULL, &net->part_count);
    if (!(net->parts = calloc(net->part_count ? net->part_count : 1, sizeof *net->parts)))
        goto oom;
    size_t parts = 0;
    plan_parts(net->runs, net->exec_count, 0, 0, false, net->parts, &parts);
    net->dlogits = net->runs[net->exec_count - 1].dout;
    nr_rng_seed(&net->dropout_rng, 0, NR_RNG_STREAM_DROPOUT);
    if (setup_single_thread(net) != 0)
        goto oom;
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
    free_threads(net);
    free_runs(net->runs, net->graph->layers, net->graph->count);
    free(net->params);
    free(net->grads);
    free(net->buffers);
    free(net->outs);
    free(net->douts);
    free(net->scratch);
    free(net->workspace);
    free(net->times);
    free(net->parts);
    free(net->summed);
    free(net);
}

/* This process's threads (see nr_net_set_threads). */
static int set_local_threads(nr_net *net, int threads, nr_error *err)
{
    if (threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (int)online : 1;
    }
    if (threads > net->max_batch)
        threads = net->max_batch;   /* more would only ever get empty shares */
    if (threads > NR_NET_MAX_THREADS)
        threads = NR_NET_MAX_THREADS;
    if (threads == net->threads)
        return 0;
    free_threads(net);
    if (threads == 1) {
        if (setup_single_thread(net) != 0)
            return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        return 0;
    }
    net->ts = calloc((size_t)threads, sizeof *net->ts);
    if (!net->ts)
        goto oom;
    net->threads = threads;
    net->ts[0] = (thread_state){.runs = net->runs, .grads = net->grads,
                                .workspace = net->workspace, .view_first = 0};
    for (int t = 1; t < threads; t++) {
        thread_state *ts = &net->ts[t];
        ts->view_first = -1;
        ts->runs = create_runs(net->graph->layers, net->graph->count);
        ts->grads = alloc_bytes(net->param_count * sizeof(float));
        ts->workspace = alloc_bytes(net->workspace_floats * sizeof(float));
        if (!ts->runs || !ts->grads || !ts->workspace)
            goto oom;
    }
    if (nr_pool_create(threads, &net->pool) != 0) {
        free_threads(net);
        setup_single_thread(net);
        return nr_fail(err, NR_EXIT_INTERNAL, "cannot start %d threads", threads);
    }
    net->global_threads = threads;
    /* each worker calls BLAS on its own share: single-threaded BLAS */
    openblas_set_num_threads(1);
    return 0;
oom:
    free_threads(net);
    setup_single_thread(net);
    return nr_fail(err, NR_EXIT_INTERNAL, "out of memory for %d threads", threads);
}

/* The summed ranges' floats. */
static size_t summed_floats(const nr_net *net)
{
    size_t floats = 0;
    for (size_t r = 0; r < net->summed_count; r++)
        floats += net->summed[r].hi - net->summed[r].lo;
    return floats;
}

/* Collective over net->comm: plans the processes' shares and the gradient
 * exchange for the current threads (nothing with one process). `failed`:
 * this process has already failed (err set); every process then fails. */
static int plan_ranks(nr_net *net, bool failed, nr_error *err)
{
    free_ranks(net);
    const int size = net->comm ? nr_comm_size(net->comm) : 1;
    if (size == 1)
        return failed ? -1 : 0;
    const int rank = nr_comm_rank(net->comm);
    nr_net_ranks *rk = calloc(1, sizeof *rk);
    int *threads = calloc((size_t)size, sizeof *threads);
    if (rk) {
        rk->comm = net->comm;
        rk->size = size;
        rk->thread_base = calloc((size_t)size + 1, sizeof *rk->thread_base);
        rk->row_first = calloc((size_t)size + 1, sizeof *rk->row_first);
        rk->counts = calloc(2 * (size_t)size, sizeof *rk->counts);
        rk->displs = rk->counts ? rk->counts + size : NULL;
    }
    bool oom = !rk || !threads || !rk->thread_base || !rk->row_first || !rk->counts;
    /* every process's thread count (a failed one says 0) */
    nr_comm_allgather_int(net->comm, failed || oom ? 0 : net->threads, threads);
    bool too_big = false;
    if (!oom) {
        for (int r = 0; r < size; r++)
            rk->thread_base[r + 1] = rk->thread_base[r] + threads[r];
        const int global = rk->thread_base[size];
        rk->summed_floats = summed_floats(net);
        too_big = rk->summed_floats && (size_t)global > (size_t)INT_MAX / rk->summed_floats;
        for (int r = 0; r < size && !too_big; r++) {
            rk->counts[r] = threads[r] * (int)rk->summed_floats;
            rk->displs[r] = rk->thread_base[r] * (int)rk->summed_floats;
        }
        if (!too_big) {
            rk->send = alloc_bytes((size_t)net->threads * rk->summed_floats * sizeof(float));
            rk->recv = alloc_bytes((size_t)global * rk->summed_floats * sizeof(float));
            /* thread 0's share starts where its process's does: a view too */
            nr_layer_run *views = create_runs(net->graph->layers, net->graph->count);
            if (views) {
                net->ts[0].runs = views;
                net->ts[0].view_first = -1;
            }
            oom = !rk->send || !rk->recv || !views;
        }
    }
    free(threads);
    net->ranks = rk;
    const bool mine = failed || oom || too_big;
    if (nr_comm_any(net->comm, mine)) {
        free_ranks(net);
        if (failed)
            return -1;
        if (too_big)
            return nr_fail(err, NR_EXIT_INPUT, "network: error: %zu gradient floats per "
                           "thread are too many to exchange between processes",
                           summed_floats(net));
        if (oom)
            return nr_fail(err, NR_EXIT_INTERNAL, "out of memory planning %d processes", size);
        return nr_fail(err, NR_EXIT_INTERNAL, "another process failed to set up its threads");
    }
    net->thread_base = rk->thread_base[rank];
    net->global_threads = rk->thread_base[size];
    return 0;
}

int nr_net_set_threads(nr_net *net, int threads, nr_error *err)
{
    const int status = set_local_threads(net, threads, err);
    if (net->comm)
        return plan_ranks(net, status != 0, err);
    return status;
}

int nr_net_set_comm(nr_net *net, const nr_comm *comm, nr_error *err)
{
    net->comm = comm;
    if (plan_ranks(net, false, err) == 0)
        return 0;
    net->comm = NULL;   /* this process alone */
    return -1;
}

int nr_net_threads(const nr_net *net)
{
    return net->threads;
}

int nr_net_global_threads(const nr_net *net)
{
    return net->global_threads;
}

/* Points a thread's view of `count` runs at its share starting at example
 * `first` and at its own gradient block. */
static void view_runs(const nr_net *net, nr_layer_run *dst, const nr_layer_run *src,
                      size_t count, size_t first, float *grads)
{
    for (size_t i = 0; i < count; i++) {
        nr_layer_run *block = dst[i].block, *shortcut = dst[i].shortcut;
        const nr_layer *layer = src[i].layer;
        size_t out_floats = first * nr_shape_size(layer->out);
        dst[i] = src[i];
        dst[i].block = block;
        dst[i].shortcut = shortcut;
        dst[i].out = src[i].out ? src[i].out + out_floats : NULL;
        dst[i].dout = src[i].dout ? src[i].dout + out_floats : NULL;
        if (src[i].saved && src[i].saved_stride)
            dst[i].saved = (char *)src[i].saved + first * src[i].saved_stride;
        if (!whole_batch_grads(net->kernels, layer)) {
            dst[i].dweight = src[i].dweight ? grads + (src[i].dweight - net->grads) : NULL;
            dst[i].dbias = src[i].dbias ? grads + (src[i].dbias - net->grads) : NULL;
        }
        if (layer->block_count)
            view_runs(net, block, src[i].block, layer->block_count, first, grads);
        if (layer->shortcut_count)
            view_runs(net, shortcut, src[i].shortcut, layer->shortcut_count, first, grads);
    }
}

/* Splits a batch of n into contiguous shares and re-points views as needed. */
static void split_batch(nr_net *net, int n)
{
    /* global threads: this process's are [thread_base, thread_base + T) */
    const long G = net->global_threads, base = net->thread_base;
    for (int t = 0; t < net->threads; t++) {
        thread_state *ts = &net->ts[t];
        int first = (int)(n * (base + t) / G), last = (int)(n * (base + t + 1) / G);
        ts->first = first;
        ts->n = last - first;
        ts->dropout = net->dropout_rng;
        if ((t > 0 || net->ranks) && ts->view_first != first) {
            view_runs(net, ts->runs, net->runs, net->exec_count, (size_t)first, ts->grads);
            ts->view_first = first;
        }
    }
    if (net->ranks)
        for (int r = 0; r <= net->ranks->size; r++)
            net->ranks->row_first[r] = (int)(n * (long)net->ranks->thread_base[r] / G);
}

/* The pool needs single-threaded BLAS inside its workers; a caller may have
 * raised the BLAS thread count since nr_net_set_threads. */
static void ensure_single_blas(const nr_net *net)
{
    if (net->threads > 1 && openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

void nr_net_init(nr_net *net, uint64_t seed)
{
    nr_rng rng;
    nr_rng_seed(&rng, seed, NR_RNG_STREAM_INIT);
    init_runs(net->runs, net->exec_count, &rng);
}

/* Does a deferred nr_net_zero_grads now (on the calling thread). */
static void zero_pending_grads(nr_net *net)
{
    if (net->grads_zero_pending) {
        memset(net->grads, 0, net->param_count * sizeof(float));
        net->grads_zero_pending = false;
    }
}

/* Hands a deferred zeroing to the pass about to run. */
static void take_pending_zero(nr_net *net)
{
    net->pass_zero_grads = net->grads_zero_pending;
    net->grads_zero_pending = false;
}

size_t nr_net_param_count(const nr_net *net) { return net->param_count; }
float *nr_net_params(nr_net *net) { return net->params; }
float *nr_net_grads(nr_net *net)
{
    zero_pending_grads(net);
    return net->grads;
}
size_t nr_net_buffer_count(const nr_net *net) { return net->buffer_count; }
float *nr_net_buffers(nr_net *net) { return net->buffers; }
int nr_net_classes(const nr_net *net) { return net->classes; }
nr_shape nr_net_input(const nr_net *net) { return net->graph->input; }
const nr_graph *nr_net_graph(const nr_net *net) { return net->graph; }
void nr_net_set_dropout_rng(nr_net *net, nr_rng rng) { net->dropout_rng = rng; }
void nr_net_set_label_smoothing(nr_net *net, float smoothing) { net->label_smoothing = smoothing; }
void nr_net_set_class_weights(nr_net *net, const float *class_weight)
{
    net->class_weight = class_weight;
}
nr_rng nr_net_dropout_rng(const nr_net *net) { return net->dropout_rng; }

static nr_exec make_exec(nr_net *net, int t)
{
    thread_state *ts = &net->ts[t];
    return (nr_exec){.kernels = net->kernels,
                     .workspace = ts->workspace,
                     .dropout_rng = &ts->dropout,
                     .training = net->pass_training,
                     .n = ts->n,
                     .first = ts->first,
                     .batch_n = net->pass_n,
                     .thread = t,
                     .threads = net->threads,
                     .pool = net->threads > 1 ? net->pool : NULL,
                     .global_thread = net->thread_base + t,
                     .ranks = net->ranks};
}

/* Starts this thread's clock when timing is on (ex->clock): each layer is
 * then timed by nr_exec_mark, with several threads after a barrier, which
 * makes its time the wall time of the whole batch through it. */
static void start_clock(const nr_net *net, nr_exec *ex, nr_exec_clock *clock)
{
    if (net->timing) {
        *clock = nr_exec_clock_now();
        ex->clock = clock;
    }
}

static void run_job(nr_net *net, nr_pool_fn job)
{
    if (net->threads > 1)
        nr_pool_run(net->pool, job, net);
    else
        job(net, 0);
}

/* Thread t's slice [lo, hi) of the parameter vector (whole cache lines). */
static param_range thread_slice(const nr_net *net, int t)
{
    size_t units = (net->param_count + SLICE_UNIT - 1) / SLICE_UNIT;
    size_t T = (size_t)net->threads;
    size_t lo = units * (size_t)t / T * SLICE_UNIT, hi = units * (size_t)(t + 1) / T * SLICE_UNIT;
    return (param_range){lo < net->param_count ? lo : net->param_count,
                         hi < net->param_count ? hi : net->param_count};
}

/* A deferred nr_net_zero_grads: each thread zeroes its slice. */
static void zero_grads_slice(nr_net *net, int t)
{
    param_range slice = thread_slice(net, t);
    memset(net->grads + slice.lo, 0, (slice.hi - slice.lo) * sizeof(float));
}

/* The pass's input [n, input shape] (whole on every process). */
static void set_pass_input(nr_net *net, const float *input, int n)
{
    net->pass_input = input;
    net->pass_n = n;
    if (net->ranks) {
        net->ranks->input_lo = (uintptr_t)input;
        net->ranks->input_hi =
            (uintptr_t)(input + (size_t)n * nr_shape_size(net->graph->input));
    }
}

static void forward_job(void *p, int t)
{
    nr_net *net = p;
    nr_exec ex = make_exec(net, t);
    nr_layer_run *runs = net->ts[t].runs;
    const float *x = net->pass_input + (size_t)ex.first * nr_shape_size(net->graph->input);
    nr_exec_clock clock = {0};
    start_clock(net, &ex, &clock);
    for (size_t i = 0; i < net->exec_count; i++) {
        nr_exec_clock since = clock;   /* a residual block marks its parts */
        nr_run_forward(&ex, &runs[i], x);
        x = runs[i].out;
        if (ex.clock)
            nr_exec_mark(&ex, since, &net->times[i], false);
    }
    /* the job's end is a barrier: zeroed before any backward */
    if (net->pass_zero_grads)
        zero_grads_slice(net, t);
}

const float *nr_net_forward(nr_net *net, const float *input, int n, bool training)
{
    ensure_single_blas(net);
    split_batch(net, n);
    set_pass_input(net, input, n);
    net->pass_training = training;
    take_pending_zero(net);
    run_job(net, forward_job);
    if (net->ranks) {   /* every process's logits: the loss is the whole batch's */
        const nr_exec_clock start = net->timing ? nr_exec_clock_now() : (nr_exec_clock){0};
        nr_comm_allgather_rows(net->comm, net->runs[net->exec_count - 1].out,
                               (size_t)net->classes * sizeof(float), net->ranks->row_first);
        if (net->timing) {
            const nr_exec_clock now = nr_exec_clock_now();
            nr_layer_times *lt = &net->logits_times;
            lt->forward = lt->forward_exchange = now.wall - start.wall;
            lt->forward_cpu = lt->forward_exchange_cpu = now.cpu - start.cpu;
        }
    }
    net->pass_zero_grads = false;
    /* every thread advanced its copy of the stream alike */
    net->dropout_rng = net->ts[0].dropout;
    net->logits = net->runs[net->exec_count - 1].out;
    return net->logits;
}

float nr_net_loss(nr_net *net, const int32_t *labels, int n, bool want_grad, int *correct,
                  float *probs)
{
    int k = net->classes;
    float *dlogits = NULL;
    if (want_grad) {
        /* the loss is the only writer of dlogits; every other gradient
         * buffer is prepared by the backward pass (nr_runs_backward) */
        memset(net->dlogits, 0, (size_t)n * k * sizeof *net->dlogits);
        dlogits = net->dlogits;
    }
    float loss;
    const float *weight = want_grad ? net->class_weight : NULL;
    if (net->loss == NR_LOSS_CROSS_ENTROPY) {
        loss = nr_softmax_cross_entropy_weighted(n, k, net->logits, labels,
                                                 want_grad ? net->label_smoothing : 0.0f,
                                                 weight, probs, dlogits);
    } else if (net->head_softmax) {
        loss = nr_softmax_mse_weighted(n, k, net->logits, labels, weight, probs, dlogits);
    } else {
        loss = nr_mse_onehot_weighted(n, k, net->logits, labels, weight, dlogits);
        if (probs)
            memcpy(probs, net->logits, (size_t)n * k * sizeof(float));
    }
    if (correct)
        *correct = nr_count_correct(n, k, net->logits, labels);
    return loss;
}

void nr_net_outputs(const nr_net *net, int n, float *out, int32_t *predicted)
{
    int k = net->classes;
    if (n <= 0)
        return;
    if (net->loss == NR_LOSS_CROSS_ENTROPY || net->head_softmax)
        nr_softmax_forward(n, k, net->logits, out);
    else
        memcpy(out, net->logits, (size_t)n * k * sizeof *out);
    if (predicted)
        nr_argmax_rows(n, k, net->logits, predicted);
}

/* After the backward of every share: grads += the other threads' blocks over
 * the summed ranges, in thread order for every element (deterministic for a
 * given thread count), each thread summing within its slice. */
static void reduce_grads(nr_net *net, int t)
{
    param_range slice = thread_slice(net, t);
    float *g = net->grads;
    for (size_t r = 0; r < net->summed_count; r++) {
        size_t lo = net->summed[r].lo > slice.lo ? net->summed[r].lo : slice.lo;
        size_t hi = net->summed[r].hi < slice.hi ? net->summed[r].hi : slice.hi;
        for (int u = 1; u < net->threads && lo < hi; u++) {
            const float *gu = net->ts[u].grads;
            for (size_t i = lo; i < hi; i++)
                g[i] += gu[i];
        }
    }
}

/* Several processes, after the backward of every share: every process's
 * thread blocks of the summed ranges gathered (thread 0 packs and
 * exchanges), then each thread sets its slice of grads to their sum in
 * global thread order, global thread 0's block first: the order
 * reduce_grads sums one process's threads in, so the same bits as one
 * process of that many threads. With timing on, thread 0 counts the
 * exchange on its clock (nr_exec_count_exchange). */
static void reduce_grads_ranks(nr_net *net, const nr_exec *ex)
{
    const nr_net_ranks *rk = net->ranks;
    const int t = ex->thread;
    const size_t S = rk->summed_floats;
    if (t == 0) {
        for (int u = 0; u < net->threads; u++) {
            const float *src = u ? net->ts[u].grads : net->grads;
            float *dst = rk->send + (size_t)u * S;
            for (size_t r = 0; r < net->summed_count; r++) {
                size_t len = net->summed[r].hi - net->summed[r].lo;
                memcpy(dst, src + net->summed[r].lo, len * sizeof *dst);
                dst += len;
            }
        }
        const nr_exec_clock start = ex->clock ? nr_exec_clock_now() : (nr_exec_clock){0};
        nr_comm_allgather_floats(rk->comm, rk->send, rk->recv, rk->counts, rk->displs);
        nr_exec_count_exchange(ex, start);
    }
    if (net->threads > 1)
        nr_pool_barrier(net->pool);
    const param_range slice = thread_slice(net, t);
    const int G = net->global_threads;
    float *g = net->grads;
    size_t packed = 0;   /* where summed range r starts in a packed block */
    for (size_t r = 0; r < net->summed_count; r++) {
        const size_t lo = net->summed[r].lo, hi = net->summed[r].hi;
        const size_t a = lo > slice.lo ? lo : slice.lo, b = hi < slice.hi ? hi : slice.hi;
        for (size_t i = a; i < b; i++) {
            const float *block = rk->recv + packed + (i - lo);
            float sum = block[0];
            for (int u = 1; u < G; u++)
                sum += block[(size_t)u * S];
            g[i] = sum;
        }
        packed += hi - lo;
    }
}

static void backward_job(void *p, int t)
{
    nr_net *net = p;
    nr_exec ex = make_exec(net, t);
    thread_state *ts = &net->ts[t];
    nr_layer_run *runs = ts->runs;
    if (net->pass_zero_grads) {
        zero_grads_slice(net, t);
        if (net->threads > 1)
            nr_pool_barrier(net->pool);
    }
    if (t > 0)
        for (size_t r = 0; r < net->summed_count; r++)
            memset(ts->grads + net->summed[r].lo, 0,
                   (net->summed[r].hi - net->summed[r].lo) * sizeof(float));
    const float *input = net->pass_input + (size_t)ex.first * nr_shape_size(net->graph->input);
    nr_exec_clock clock = {0};
    start_clock(net, &ex, &clock);
    for (size_t i = net->exec_count; i-- > 0;) {
        const float *x = i ? runs[i - 1].out : input;
        float *dx = i ? runs[i - 1].dout : NULL;
        nr_exec_clock since = clock;
        nr_run_backward(&ex, &runs[i], x, dx, true);
        if (ex.clock)
            nr_exec_mark(&ex, since, &net->times[i], true);
    }
    const nr_exec_clock reduce_since = clock;   /* the last layer's mark */
    if (net->ranks) {
        if (net->threads > 1)
            nr_pool_barrier(net->pool);
        reduce_grads_ranks(net, &ex);
        if (ex.clock)
            nr_exec_mark(&ex, reduce_since, &net->reduce_times, true);
    } else if (net->threads > 1) {
        nr_pool_barrier(net->pool);
        reduce_grads(net, t);
        if (ex.clock)
            nr_exec_mark(&ex, reduce_since, &net->reduce_times, true);
    }
    /* the slice this thread summed is final: update it */
    if (net->pass_update) {
        param_range slice = thread_slice(net, t);
        if (slice.lo < slice.hi)
            net->pass_update(net->pass_update_ctx, slice.lo, slice.hi - slice.lo);
    }
}

void nr_net_backward_update(nr_net *net, const float *input, int n, nr_net_update_fn update,
                            void *ctx)
{
    ensure_single_blas(net);
    split_batch(net, n);   /* the same split as the forward of these n examples */
    set_pass_input(net, input, n);
    net->pass_training = true;
    net->pass_update = update;
    net->pass_update_ctx = ctx;
    take_pending_zero(net);
    run_job(net, backward_job);
    net->pass_update = NULL;
    net->pass_update_ctx = NULL;
    net->pass_zero_grads = false;
}

void nr_net_backward(nr_net *net, const float *input, int n)
{
    nr_net_backward_update(net, input, n, NULL, NULL);
}

static void range_job(void *p, int t)
{
    nr_net *net = p;
    int first = (int)((long)net->range_count * t / net->threads);
    int end = (int)((long)net->range_count * (t + 1) / net->threads);
    if (first < end)
        net->range_fn(net->range_ctx, first, end);
}

void nr_net_parallel_for(nr_net *net, int count, nr_net_range_fn fn, void *ctx)
{
    if (count <= 0)
        return;
    net->range_fn = fn;
    net->range_ctx = ctx;
    net->range_count = count;
    run_job(net, range_job);
}

void nr_net_zero_grads(nr_net *net)
{
    net->grads_zero_pending = true;   /* done by the next pass's threads */
}

void nr_net_set_timing(nr_net *net, bool on)
{
    net->timing = on;
    memset(&net->reduce_times, 0, sizeof net->reduce_times);
    memset(&net->logits_times, 0, sizeof net->logits_times);
    memset(net->times, 0, net->exec_count * sizeof *net->times);
    for (size_t i = 0; i < net->part_count; i++)
        memset(&net->parts[i].times, 0, sizeof net->parts[i].times);
}

size_t nr_net_timed_parts(const nr_net *net)
{
    return net->part_count;
}

const nr_timed_part *nr_net_parts(const nr_net *net)
{
    return net->parts;
}

size_t nr_net_timed_layers(const nr_net *net)
{
    return net->exec_count;
}

const nr_layer_times *nr_net_layer_times(const nr_net *net)
{
    return net->times;
}

nr_layer_times nr_net_reduce_times(const nr_net *net)
{
    return net->reduce_times;
}

nr_layer_times nr_net_logits_times(const nr_net *net)
{
    return net->logits_times;
}

bool nr_net_layer_fused(const nr_net *net, size_t i)
{
    return i < net->exec_count && net->runs[i].absorbed;
}
