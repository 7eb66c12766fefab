/* layers/dropout.c - inverted dropout (training only); shape unchanged. */
#include "layers/layer.h"

#include <stdio.h>

static int dropout_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                         nr_error *err)
{
    layer->config.dropout.rate = (float)ns_get_float(params, "rate");
    return nr_layer_setup_same_shape(layer, params, site, err);
}

static void dropout_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "rate %g", layer->config.dropout.rate);
}

const nr_layer_ops nr_dropout_ops = {
    .name = "dropout",
    .setup = dropout_setup,
    .describe = dropout_describe,
};
