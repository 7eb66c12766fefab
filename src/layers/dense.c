/* layers/dense.c - fully connected: flattens its input (C*H*W features) and
 * maps it to `units` outputs. Weights [units, in features], bias [units].
 *
 * On a backend with a whole-batch path (its kernel table's dense_fast: the
 * BLAS one, kernels.h, dense_sparse.c) the layer takes part in the batch as
 * a whole:
 *   forward:  if the layer can take the sparse path at all (kernels.h
 *             nr_dense_forward_sparse_possible) or runs on several
 *             processes, a barrier (every share of the input is written);
 *             when the batch is sparse enough, every thread refreshes its
 *             part of the transposed weights (run->saved, one copy shared by
 *             the threads), a barrier, then each thread its share of the
 *             images (zero inputs skipped); else BLAS on each share;
 *   backward: a barrier (every share's dout is written), then each thread
 *             computes its column part of dW (and slice of db) over the WHOLE
 *             batch straight into the net's gradient, and dx for its share.
 * With several processes (nr_exec_gather_rows) the forward gathers the
 * other processes' shares of the input and the backward those of dout, so
 * every process computes the whole dW over the whole batch: the same bits
 * as one process (dW's bits do not depend on the split), no exchange of
 * dW, at the price of the dense weight gradient computed on every process.
 * So it is called on every thread, also with an empty share (the barriers),
 * and its parameter gradients need no per-thread copy: its ops say so
 * (whole_batch_grads) and net.c points every thread's dweight/dbias at the
 * shared gradient. */
#include "layers/layer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "layers/threads.h"

static int dense_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                       nr_error *err)
{
    int units = (int)ns_get_int(params, "units");
    layer->config.dense.units = units;
    layer->config.dense.bias = ns_get_bool(params, "bias");
    layer->config.dense.init_auto =
        !nr_init_from_name(ns_get_str(params, "init"), &layer->config.dense.init);
    size_t weights;
    size_t wf[] = {nr_shape_size(layer->in), (size_t)units};
    if (!nr_size_mul(&weights, 2, wf))
        return nr_layer_fail(layer, site, err, "sizes overflow (input %dx%dx%d, %d units)",
                             layer->in.c, layer->in.h, layer->in.w, units);
    layer->out = (nr_shape){.c = units, .h = 1, .w = 1, .flat = true};
    layer->param_count = weights + (layer->config.dense.bias ? (size_t)units : 0);
    layer->macs = weights;
    return 0;
}

static void dense_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "%zu -> %d%s", nr_shape_size(layer->in), layer->config.dense.units,
             layer->config.dense.bias ? "" : " no-bias");
}

static void dense_describe_params(const nr_layer *layer, char *buf, size_t size)
{
    const int units = layer->config.dense.units;
    int n = snprintf(buf, size, "weight %dx%zu", units, nr_shape_size(layer->in));
    if (layer->config.dense.bias && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", bias %d", units);
}

static nr_dense_dims dense_dims(const nr_layer *layer, int n)
{
    return (nr_dense_dims){.n = n, .in = (int)nr_shape_size(layer->in),
                           .out = layer->config.dense.units};
}

/* saved: the transposed weights [in, out8] for the fast forward (one for
 * the whole batch: saved_stride 0, so every thread's view shares it). */
static void dense_bind(nr_layer_run *run, nr_net_plan *plan)
{
    const nr_layer *layer = run->layer;
    size_t units = (size_t)layer->config.dense.units;
    run->weight = nr_plan_params(plan, units * nr_shape_size(layer->in), &run->dweight);
    if (layer->config.dense.bias)
        run->bias = nr_plan_params(plan, units, &run->dbias);
    nr_dense_dims d = dense_dims(layer, plan->max_batch);
    run->saved = nr_arena_take(&plan->scratch, nr_dense_weight_t_floats(&d), sizeof(float));
    run->saved_stride = 0;
}

static size_t dense_workspace_floats(const nr_layer *layer, const nr_kernel_table *kernels,
                                     int max_batch)
{
    nr_dense_dims d = dense_dims(layer, max_batch);
    return kernels->dense_fast ? kernels->dense_fast->workspace_floats(&d) : 0;
}

/* The whole-batch path writes the whole batch's parameter gradients. */
static bool dense_whole_batch_grads(const nr_kernel_table *kernels)
{
    return kernels->dense_fast != NULL;
}

static void barrier(const nr_exec *ex)
{
    if (ex->threads > 1)
        nr_pool_barrier(ex->pool);
}

static nr_init_kind *dense_auto_init_slot(nr_layer *layer)
{
    return layer->config.dense.init_auto ? &layer->config.dense.init : NULL;
}

/* Weights [units, in]: fan_in = in, fan_out = units; bias 0. */
static void dense_init(nr_layer_run *run, nr_rng *rng)
{
    const nr_layer *layer = run->layer;
    int units = layer->config.dense.units;
    int in = (int)nr_shape_size(layer->in);
    nr_init_fill(layer->config.dense.init, run->weight, (size_t)units * in, in, units, rng);
    if (run->bias)
        nr_fill(run->bias, (size_t)units, 0.0f);
}

static void dense_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    nr_dense_dims d = dense_dims(run->layer, ex->n);
    const nr_dense_fast_kernels *fast = ex->kernels->dense_fast;
    if (!fast) {
        if (ex->n > 0)
            ex->kernels->dense_forward(&d, in, run->weight, run->bias, run->out);
        return;
    }
    if (ex->batch_n <= 0)
        return;
    nr_dense_dims whole = dense_dims(run->layer, ex->batch_n);
    const float *x = in - (size_t)ex->first * d.in;   /* the whole batch */
    float *weight_t = NULL;
    /* decided on the whole batch, the same answer on every thread: once every
     * share of the input is written. Several processes: the other processes'
     * shares of the input too (the backward's weight gradient reads the whole
     * batch). A layer that can never go sparse, such as a 10-class head, in
     * one process reads only its own share: no barrier. */
    const int sparse_possible = fast->forward_sparse_possible(&whole);
    if (sparse_possible || ex->ranks) {
        barrier(ex);
        nr_exec_gather_rows(ex, (void *)(uintptr_t)x, (size_t)d.in * sizeof *x);
        if (sparse_possible && fast->forward_sparse_pays(&whole, x)) {
            weight_t = run->saved;
            fast->transpose_weight(&d, run->weight, weight_t, ex->thread, ex->threads);
            barrier(ex);
        }
    }
    if (ex->n > 0)
        fast->forward(&d, in, run->weight, weight_t, run->bias, run->out, ex->workspace);
}

static void dense_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    const nr_layer *layer = run->layer;
    nr_dense_dims d = dense_dims(layer, ex->n);
    const nr_dense_fast_kernels *fast = ex->kernels->dense_fast;
    if (!fast) {
        if (din && ex->din_fresh)
            memset(din, 0, (size_t)ex->n * d.in * sizeof *din);
        if (ex->n > 0)
            ex->kernels->dense_backward(&d, in, run->weight, run->dout, din, run->dweight,
                                        run->dbias);
        return;
    }
    if (ex->batch_n <= 0)
        return;
    barrier(ex);
    /* the whole batch starts `first` examples before this share */
    nr_dense_dims whole = dense_dims(layer, ex->batch_n);
    const float *x = in - (size_t)ex->first * d.in;   /* gathered by the forward */
    float *dy = run->dout - (size_t)ex->first * d.out;
    nr_exec_gather_rows(ex, dy, (size_t)d.out * sizeof *dy);
    fast->backward_weight_part(&whole, x, dy, run->dweight, run->dbias, ex->thread,
                               ex->threads, ex->workspace);
    if (din && ex->n > 0)
        fast->backward_input(&d, run->weight, run->dout, din, ex->din_fresh);
}

const nr_layer_ops nr_dense_ops = {
    .name = "dense",
    .setup = dense_setup,
    .describe = dense_describe,
    .describe_params = dense_describe_params,
    .bind = dense_bind,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .workspace_floats = dense_workspace_floats,
    /* the fast path synchronises the threads (barriers); din is set by dx = dy W */
    .exec_flags = NR_EXEC_EMPTY_OK | NR_EXEC_SETS_DIN,
    .whole_batch_grads = dense_whole_batch_grads,
    .auto_init_slot = dense_auto_init_slot,
};
