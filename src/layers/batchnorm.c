/* layers/batchnorm.c - batch normalization per channel (over N, H, W), with
 * a learned scale and shift per channel; shape unchanged. */
#include "layers/layer.h"

#include <stdbool.h>
#include <stdio.h>

#include "layers/threads.h"

static int batchnorm_setup(nr_layer *layer, const ns_node *params,
                           const nr_layer_site *site, nr_error *err)
{
    layer->config.batchnorm.momentum = (float)ns_get_float(params, "momentum");
    layer->config.batchnorm.eps = (float)ns_get_float(params, "eps");
    nr_layer_setup_same_shape(layer, params, site, err);
    layer->param_count = 2 * (size_t)layer->in.c; /* gamma, beta */
    layer->buffer_count = 2 * (size_t)layer->in.c; /* running mean, variance */
    layer->macs = nr_shape_size(layer->in);       /* one multiply-add per value */
    return 0;
}

static void batchnorm_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "%d ch", layer->in.c);
}

static void batchnorm_describe_params(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "gamma %d, beta %d", layer->in.c, layer->in.c);
}

/* Memory. Shared by the threads (scratch, one block per net):
 *   header  mean [c], invstd [c] floats: the batch statistics, written by
 *           thread 0 in the forward pass, read by every thread's backward
 *   rows    per image of the batch, 2c doubles of partial sums (rows of
 *           the kernels' share_* functions)
 * run->saved points at the rows with saved_stride = one row, so a thread's
 * view starts at its first image; rows_of() and stats_of() go back to the
 * batch's row 0 and to the header.
 * Per thread (workspace): the combined sums (2c doubles), scale and shift or
 * k, mean_g and mean_gx (c floats each), and the kernels' plane scratch. */
static size_t row_doubles(const nr_layer *layer)
{
    return 2 * (size_t)layer->in.c;
}

static size_t header_bytes(const nr_layer *layer)
{
    return (2 * (size_t)layer->in.c * sizeof(float) + sizeof(double) - 1) / sizeof(double) *
           sizeof(double);
}

static void batchnorm_bind(nr_layer_run *run, nr_net_plan *plan)
{
    size_t c = (size_t)run->layer->in.c;
    run->weight = nr_plan_params(plan, c, &run->dweight); /* gamma */
    run->bias = nr_plan_params(plan, c, &run->dbias);     /* beta */
    run->running = nr_arena_take(&plan->buffers, run->layer->buffer_count, sizeof(float));
    size_t head = header_bytes(run->layer) / sizeof(double);
    double *block = nr_arena_take(&plan->scratch, head + (size_t)plan->max_batch *
                                                            row_doubles(run->layer),
                                  sizeof(double));
    run->saved = block ? block + head : NULL;
    run->saved_stride = row_doubles(run->layer) * sizeof(double);
}

static size_t batchnorm_workspace_floats(const nr_layer *layer, const nr_kernel_table *kernels,
                                         int max_batch)
{
    (void)kernels, (void)max_batch;
    /* totals 2c doubles + 3c floats + the plane scratch */
    return 7 * (size_t)layer->in.c + 2 +
           nr_batchnorm_scratch_floats(layer->in.h, layer->in.w);
}

static void batchnorm_init(nr_layer_run *run, nr_rng *rng)
{
    (void)rng;
    size_t c = (size_t)run->layer->in.c;
    nr_fill(run->weight, c, 1.0f);
    nr_fill(run->bias, c, 0.0f);
    nr_fill(run->running, c, 0.0f);
    nr_fill(run->running + c, c, 1.0f);
}

/* Row 0 of the batch (this thread's view starts at row ex->first). */
static double *rows_of(const nr_exec *ex, const nr_layer_run *run)
{
    return (double *)((char *)run->saved - (size_t)ex->first * run->saved_stride);
}

/* The header: mean [c], invstd [c]. */
static float *stats_of(const nr_exec *ex, const nr_layer_run *run)
{
    return (float *)((char *)rows_of(ex, run) - header_bytes(run->layer));
}

static void barrier(const nr_exec *ex)
{
    if (ex->pool)
        nr_pool_barrier(ex->pool);
}

/* The per-thread workspace: totals [2c] doubles, then three [c] float
 * arrays, then the plane scratch. */
typedef struct bn_work {
    double *total;
    float *f0, *f1, *f2;
    float *scratch;
} bn_work;

static bn_work work_of(const nr_exec *ex, int c)
{
    bn_work w;
    w.total = (double *)ex->workspace;
    w.f0 = (float *)(w.total + 2 * c);
    w.f1 = w.f0 + c;
    w.f2 = w.f1 + c;
    w.scratch = w.f2 + c;
    return w;
}

/* out = in * scale + shift on the share, and what the fusion adds (see
 * fuse_batchnorm_runs in net.c): the relu run after it (run[1]) and the
 * maxpool run after that (run[2]) executed here, on their buffers. */
static void apply(const nr_exec *ex, nr_layer_run *run, const nr_batchnorm_dims *share,
                  const float *in, const float *scale, const float *shift, float *scratch)
{
    if (ex->n == 0)
        return;
    switch (run->fuse) {
    case NR_FUSE_NONE:
        nr_batchnorm_normalize(share, in, scale, shift, run->out);
        break;
    case NR_FUSE_RELU:
        nr_batchnorm_normalize_relu(share, in, scale, shift, run[1].out);
        break;
    case NR_FUSE_RELU_MAXPOOL:
        nr_batchnorm_normalize_relu_maxpool(share, run->layer->in.h, run->layer->in.w, in,
                                            scale, shift, run[2].out,
                                            ex->training ? run[2].saved : NULL, scratch);
        break;
    }
}

static void batchnorm_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    const nr_layer *layer = run->layer;
    const int c = layer->in.c;
    const nr_batchnorm_dims share = {.n = ex->n, .c = c, .hw = layer->in.h * layer->in.w};
    const float eps = layer->config.batchnorm.eps;
    const bn_work w = work_of(ex, c);
    float *scale = w.f0, *shift = w.f1;
    /* frozen: the fixed map of evaluation in training too (running
     * statistics used, not updated; see netspec/REFERENCE.md, freeze) */
    if (!ex->training || layer->frozen) {
        nr_batchnorm_eval_coeffs(c, run->weight, run->bias, run->running, run->running + c, eps,
                                 scale, shift);
        apply(ex, run, &share, in, scale, shift, w.scratch);
        return;
    }
    /* batch statistics: every thread sums its images, then all combine the
     * whole batch's rows in image order (the same bits for any split; with
     * several processes their rows are gathered first) */
    const size_t stride = row_doubles(layer);
    nr_batchnorm_share_moments(&share, in, run->saved, stride);
    barrier(ex);
    nr_exec_gather_rows(ex, rows_of(ex, run), stride * sizeof(double));
    nr_batchnorm_combine_moments(ex->batch_n, c, share.hw, rows_of(ex, run), stride, w.total,
                                 w.total + c);
    /* thread 0 alone keeps the statistics and moves the running ones */
    const bool keeper = ex->thread == 0;
    float *stats = stats_of(ex, run);
    nr_batchnorm_finish_stats(c, (double)ex->batch_n * share.hw, w.total, w.total + c,
                              run->weight, run->bias, layer->config.batchnorm.momentum, eps,
                              keeper ? stats : NULL, keeper ? stats + c : NULL, scale, shift,
                              keeper ? run->running : NULL, keeper ? run->running + c : NULL);
    apply(ex, run, &share, in, scale, shift, w.scratch);
}

/* The gradient of the output, through the fused runs when there are. */
static nr_batchnorm_grad_src grad_src(const nr_layer_run *run)
{
    nr_batchnorm_grad_src src = {.dout = run->dout, .h = run->layer->in.h,
                                 .w = run->layer->in.w};
    if (run->fuse == NR_FUSE_RELU) {
        src.dout = run[1].dout;
        src.out = run[1].out;
    } else if (run->fuse == NR_FUSE_RELU_MAXPOOL) {
        src.dout = run[2].dout;
        src.out = run[2].out;
        src.argmax = run[2].saved;
    }
    return src;
}

static void batchnorm_backward(const nr_exec *ex, nr_layer_run *run, const float *in,
                               float *din)
{
    const nr_layer *layer = run->layer;
    const int c = layer->in.c;
    const nr_batchnorm_dims share = {.n = ex->n, .c = c, .hw = layer->in.h * layer->in.w};
    const nr_batchnorm_grad_src src = grad_src(run);
    const bn_work w = work_of(ex, c);
    if (layer->frozen) {
        /* every thread takes this branch: no barrier is waited for */
        if (din && ex->n > 0) {
            nr_batchnorm_eval_coeffs(c, run->weight, run->bias, run->running, run->running + c,
                                     layer->config.batchnorm.eps, w.f0, w.f1);
            nr_batchnorm_share_input_grad(&share, in, &src, NULL, NULL, w.f0, NULL, NULL,
                                          ex->din_fresh, din, w.scratch);
        }
        return;
    }
    const size_t stride = row_doubles(layer);
    const float *stats = stats_of(ex, run);
    nr_batchnorm_share_grad_sums(&share, in, &src, stats, stats + c, run->saved, stride,
                                 w.scratch);
    barrier(ex);
    nr_exec_gather_rows(ex, rows_of(ex, run), stride * sizeof(double));
    nr_batchnorm_combine(ex->batch_n, 2 * c, rows_of(ex, run), stride, w.total);
    /* the whole batch's gradient, once: by the first thread of the first
     * process (the others' blocks hold 0 there and are summed after it) */
    if (ex->global_thread == 0)
        for (int ch = 0; ch < c; ch++) {
            run->dbias[ch] += (float)w.total[ch];
            run->dweight[ch] += (float)w.total[c + ch];
        }
    if (din && ex->n > 0) {
        nr_batchnorm_grad_coeffs(c, (double)ex->batch_n * share.hw, run->weight, stats + c,
                                 w.total, w.total + c, w.f0, w.f1, w.f2);
        nr_batchnorm_share_input_grad(&share, in, &src, stats, stats + c, w.f0, w.f1, w.f2,
                                      ex->din_fresh, din, w.scratch);
    }
}

const nr_layer_ops nr_batchnorm_ops = {
    .name = "batchnorm",
    .setup = batchnorm_setup,
    .describe = batchnorm_describe,
    .describe_params = batchnorm_describe_params,
    .bind = batchnorm_bind,
    .workspace_floats = batchnorm_workspace_floats,
    .init = batchnorm_init,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    /* every thread takes part in the barriers, with or without images; the
     * backward overwrites a fresh din */
    .exec_flags = NR_EXEC_EMPTY_OK | NR_EXEC_SETS_DIN,
    .auto_init = NR_AUTO_INIT_PASS,
};
