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

const nr_layer_ops nr_dense_ops = {
    .name = "dense",
    .setup = dense_setup,
    .describe = dense_describe,
};
