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

const nr_layer_ops nr_batchnorm_ops = {
    .name = "batchnorm",
    .setup = batchnorm_setup,
    .describe = batchnorm_describe,
};
