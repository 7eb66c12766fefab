/* layers/flatten.c - C x H x W -> (C*H*W) x 1 x 1; no data movement (NCHW
 * is already row-major per example). */
#include "layers/layer.h"

#include <string.h>

static int flatten_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                         nr_error *err)
{
    (void)params;
    size_t size = nr_shape_size(layer->in);
    if (size > (size_t)1 << 30)
        return nr_layer_fail(layer, site, err, "input %dx%dx%d is too large to flatten",
                             layer->in.c, layer->in.h, layer->in.w);
    layer->out = (nr_shape){.c = (int)size, .h = 1, .w = 1, .flat = true};
    layer->param_count = 0;
    layer->macs = 0;
    return 0;
}

static void flatten_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    memcpy(run->out, in, (size_t)ex->n * nr_shape_size(run->layer->in) * sizeof(float));
}

static void flatten_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    if (!din)
        return;
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    for (size_t i = 0; i < count; i++)
        din[i] += run->dout[i];
}

const nr_layer_ops nr_flatten_ops = {
    .name = "flatten",
    .setup = flatten_setup,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .auto_init = NR_AUTO_INIT_PASS,
};
