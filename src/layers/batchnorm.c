/* layers/batchnorm.c - batch normalization per channel (over N, H, W), with
 * a learned scale and shift per channel; shape unchanged. */
#include "layers/layer.h"

#include <stdio.h>

static int batchnorm_setup(nr_layer *layer, const ns_node *params,
                           const nr_layer_site *site, nr_error *err)
{
    layer->config.batchnorm.momentum = (float)ns_get_float(params, "momentum");
    layer->config.batchnorm.eps = (float)ns_get_float(params, "eps");
    nr_layer_setup_same_shape(layer, params, site, err);
    layer->param_count = 2 * (size_t)layer->in.c; /* gamma, beta */
    layer->macs = nr_shape_size(layer->in);       /* one multiply-add per value */
    return 0;
}

static void batchnorm_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "%d ch", layer->in.c);
}

static void batchnorm_bind(nr_layer_run *run, nr_net_plan *plan)
{
    size_t c = (size_t)run->layer->in.c;
    run->weight = nr_plan_params(plan, c, &run->dweight); /* gamma */
    run->bias = nr_plan_params(plan, c, &run->dbias);     /* beta */
    run->running = nr_arena_take(&plan->buffers, 2 * c, sizeof(float));
    run->saved = nr_arena_take(&plan->scratch, 2 * c, sizeof(float));
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

static nr_batchnorm_dims batchnorm_dims(const nr_exec *ex, const nr_layer *layer)
{
    return (nr_batchnorm_dims){.n = ex->n, .c = layer->in.c, .hw = layer->in.h * layer->in.w};
}

static void batchnorm_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    const nr_layer *layer = run->layer;
    nr_batchnorm_dims d = batchnorm_dims(ex, layer);
    size_t c = (size_t)layer->in.c;
    float *stats = run->saved;
    if (ex->training)
        nr_batchnorm_forward_train(&d, in, run->weight, run->bias, run->out, stats, stats + c,
                                   run->running, run->running + c,
                                   layer->config.batchnorm.momentum,
                                   layer->config.batchnorm.eps);
    else
        nr_batchnorm_forward_eval(&d, in, run->weight, run->bias, run->running,
                                  run->running + c, layer->config.batchnorm.eps, run->out);
}

static void batchnorm_backward(const nr_exec *ex, nr_layer_run *run, const float *in,
                               float *din)
{
    nr_batchnorm_dims d = batchnorm_dims(ex, run->layer);
    const float *stats = run->saved;
    nr_batchnorm_backward(&d, in, run->dout, run->weight, stats, stats + run->layer->in.c, din,
                          run->dweight, run->dbias);
}

const nr_layer_ops nr_batchnorm_ops = {
    .name = "batchnorm",
    .setup = batchnorm_setup,
    .describe = batchnorm_describe,
    .bind = batchnorm_bind,
    .init = batchnorm_init,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .exec_flags = NR_EXEC_SERIAL,   /* batch statistics */
};
