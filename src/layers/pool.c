/* layers/pool.c - window arithmetic shared by maxpool and avgpool. */
#include "layers/pool.h"

#include <stdio.h>

int nr_pool_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                  nr_error *err)
{
    nr_shape in = layer->in;
    int size = (int)ns_get_int(params, "size");
    int stride = (int)ns_get_int(params, "stride");
    layer->config.pool.size = size;
    layer->config.pool.stride = stride;
    int out_h = nr_window_out(in.h, size, stride, 0);
    int out_w = nr_window_out(in.w, size, stride, 0);
    if (out_h < 1 || out_w < 1)
        return nr_layer_fail(layer, site, err,
                             "window %dx%d does not fit input %dx%dx%d; "
                             "use size <= %d or remove a pooling layer",
                             size, size, in.c, in.h, in.w, in.h < in.w ? in.h : in.w);
    layer->out = (nr_shape){.c = in.c, .h = out_h, .w = out_w};
    layer->param_count = 0;
    layer->macs = 0;
    return 0;
}

void nr_pool_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "%dx%d s%d", layer->config.pool.size, layer->config.pool.size,
             layer->config.pool.stride);
}

nr_pool2d_dims nr_pool_dims(const nr_layer *layer, int n)
{
    return (nr_pool2d_dims){.n = n, .c = layer->in.c, .h = layer->in.h, .w = layer->in.w,
                            .size = layer->config.pool.size, .stride = layer->config.pool.stride};
}
