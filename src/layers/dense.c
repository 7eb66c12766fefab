/* layers/dense.c - fully connected: flattens its input (C*H*W features) and
 * maps it to `units` outputs. Weights [units, in features], bias [units]. */
#include "layers/layer.h"

#include <stdio.h>

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
    layer->out = (nr_shape){units, 1, 1};
    layer->param_count = weights + (layer->config.dense.bias ? (size_t)units : 0);
    layer->macs = weights;
    return 0;
}

static void dense_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "%zu -> %d%s", nr_shape_size(layer->in), layer->config.dense.units,
             layer->config.dense.bias ? "" : " no-bias");
}

static nr_dense_dims dense_dims(const nr_layer *layer, int n)
{
    return (nr_dense_dims){.n = n, .in = (int)nr_shape_size(layer->in),
                           .out = layer->config.dense.units};
}

static void dense_bind(nr_layer_run *run, nr_net_plan *plan)
{
    const nr_layer *layer = run->layer;
    size_t units = (size_t)layer->config.dense.units;
    run->weight = nr_plan_params(plan, units * nr_shape_size(layer->in), &run->dweight);
    if (layer->config.dense.bias)
        run->bias = nr_plan_params(plan, units, &run->dbias);
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
    ex->kernels->dense_forward(&d, in, run->weight, run->bias, run->out);
}

static void dense_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    nr_dense_dims d = dense_dims(run->layer, ex->n);
    ex->kernels->dense_backward(&d, in, run->weight, run->dout, din, run->dweight, run->dbias);
}

const nr_layer_ops nr_dense_ops = {
    .name = "dense",
    .setup = dense_setup,
    .describe = dense_describe,
    .bind = dense_bind,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
};
