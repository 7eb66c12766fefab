/* layers/leaky_relu.c - y = x for x > 0, slope * x otherwise; shape unchanged. */
#include "layers/layer.h"

#include <stdio.h>

static int leaky_relu_setup(nr_layer *layer, const ns_node *params,
                            const nr_layer_site *site, nr_error *err)
{
    layer->config.leaky_relu.slope = (float)ns_get_float(params, "slope");
    return nr_layer_setup_same_shape(layer, params, site, err);
}

static void leaky_relu_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "slope %g", layer->config.leaky_relu.slope);
}

const nr_layer_ops nr_leaky_relu_ops = {
    .name = "leaky_relu",
    .setup = leaky_relu_setup,
    .describe = leaky_relu_describe,
};
