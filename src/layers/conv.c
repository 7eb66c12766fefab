/* layers/conv.c - 2-D convolution: `filters` kernels of size x size over all
 * input channels, with stride and zero padding, plus one bias per filter.
 * Weights [filters, in.c, size, size], bias [filters]. */
#include "layers/layer.h"

#include <stdio.h>

static int conv_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                      nr_error *err)
{
    nr_shape in = layer->in;
    int filters = (int)ns_get_int(params, "filters");
    int size = (int)ns_get_int(params, "size");
    int stride = (int)ns_get_int(params, "stride");
    int pad = (int)ns_get_int(params, "pad");
    layer->config.conv.filters = filters;
    layer->config.conv.size = size;
    layer->config.conv.stride = stride;
    layer->config.conv.pad = pad;
    layer->config.conv.bias = ns_get_bool(params, "bias");
    layer->config.conv.init_auto =
        !nr_init_from_name(ns_get_str(params, "init"), &layer->config.conv.init);

    if (pad >= size)
        return nr_layer_fail(layer, site, err,
                             "pad %d must be smaller than the kernel size %d", pad, size);
    int out_h = nr_window_out(in.h, size, stride, pad);
    int out_w = nr_window_out(in.w, size, stride, pad);
    if (out_h < 1 || out_w < 1)
        return nr_layer_fail(layer, site, err,
                             "kernel %dx%d (pad %d) does not fit input %dx%dx%d; "
                             "use size <= %d or more padding",
                             size, size, pad, in.c, in.h, in.w,
                             (in.h < in.w ? in.h : in.w) + 2 * pad);
    layer->out = (nr_shape){.c = filters, .h = out_h, .w = out_w};
    size_t weights, macs;
    size_t wf[] = {(size_t)filters, (size_t)in.c, (size_t)size, (size_t)size};
    size_t mf[] = {(size_t)out_h, (size_t)out_w, (size_t)filters, (size_t)in.c,
                   (size_t)size, (size_t)size};
    if (!nr_size_mul(&weights, 4, wf) || !nr_size_mul(&macs, 6, mf))
        return nr_layer_fail(layer, site, err, "sizes overflow (input %dx%dx%d, %d filters)",
                             in.c, in.h, in.w, filters);
    layer->param_count = weights + (layer->config.conv.bias ? (size_t)filters : 0);
    layer->macs = macs;
    return 0;
}

static void conv_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "%dx%dx%d s%d p%d%s", layer->config.conv.filters,
             layer->config.conv.size, layer->config.conv.size, layer->config.conv.stride,
             layer->config.conv.pad, layer->config.conv.bias ? "" : " no-bias");
}

static void conv_describe_params(const nr_layer *layer, char *buf, size_t size)
{
    const int filters = layer->config.conv.filters, k = layer->config.conv.size;
    int n = snprintf(buf, size, "weight %dx%dx%dx%d", filters, layer->in.c, k, k);
    if (layer->config.conv.bias && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", bias %d", filters);
}

static nr_conv2d_dims conv_dims(const nr_layer *layer, int n)
{
    return (nr_conv2d_dims){.n = n, .c = layer->in.c, .h = layer->in.h, .w = layer->in.w,
                            .filters = layer->config.conv.filters,
                            .size = layer->config.conv.size,
                            .stride = layer->config.conv.stride,
                            .pad = layer->config.conv.pad};
}

static void conv_bind(nr_layer_run *run, nr_net_plan *plan)
{
    const nr_layer *layer = run->layer;
    size_t filters = (size_t)layer->config.conv.filters;
    size_t k = (size_t)layer->config.conv.size;
    run->weight = nr_plan_params(plan, filters * (size_t)layer->in.c * k * k, &run->dweight);
    if (layer->config.conv.bias)
        run->bias = nr_plan_params(plan, filters, &run->dbias);
}

static nr_init_kind *conv_auto_init_slot(nr_layer *layer)
{
    return layer->config.conv.init_auto ? &layer->config.conv.init : NULL;
}

/* Weights: fan_in = c*k*k, fan_out = filters*k*k; bias 0. */
static void conv_init(nr_layer_run *run, nr_rng *rng)
{
    const nr_layer *layer = run->layer;
    int k2 = layer->config.conv.size * layer->config.conv.size;
    int filters = layer->config.conv.filters;
    nr_init_fill(layer->config.conv.init, run->weight, (size_t)filters * layer->in.c * k2,
                 layer->in.c * k2, filters * k2, rng);
    if (run->bias)
        nr_fill(run->bias, (size_t)filters, 0.0f);
}

static size_t conv_workspace_floats(const nr_layer *layer, const nr_kernel_table *kernels,
                                    int max_batch)
{
    nr_conv2d_dims d = conv_dims(layer, max_batch);
    return kernels->conv2d_workspace_floats(&d);
}

/* With fusion (run->fused), the runs after it (run[1] .. run[fused]) are
 * executed here, on their buffers: the last one's out and dout, the
 * maxpool's argmax (see layer.h). */
static void conv_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    nr_conv2d_dims d = conv_dims(run->layer, ex->n);
    const nr_kernel_table *k = ex->kernels;
    if (run->fused) {
        int32_t *argmax = run->fused_pool && ex->training ? run[run->fused_pool].saved : NULL;
        k->conv2d_fused_forward(&d, &run->epi, in, run->weight, run->bias, run[run->fused].out,
                                argmax, ex->workspace);
        return;
    }
    k->conv2d_forward(&d, in, run->weight, run->bias, run->out, ex->workspace);
}

static void conv_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    nr_conv2d_dims d = conv_dims(run->layer, ex->n);
    const nr_kernel_table *k = ex->kernels;
    if (run->fused) {
        const nr_layer_run *last = &run[run->fused];
        const int32_t *argmax = run->fused_pool ? run[run->fused_pool].saved : NULL;
        k->conv2d_fused_backward(&d, &run->epi, in, run->weight, last->out, argmax, last->dout,
                                 din, run->dweight, run->dbias, ex->workspace);
        return;
    }
    k->conv2d_backward(&d, in, run->weight, run->dout, din, run->dweight, run->dbias,
                       ex->workspace);
}

/* The backend fuses epilogues into this convolution's kernels. */
static bool conv_takes_epilogue(const nr_layer *layer, const nr_kernel_table *kernels,
                                int max_batch)
{
    nr_conv2d_dims d = conv_dims(layer, max_batch);
    return kernels->conv2d_fusable && kernels->conv2d_fused_forward && kernels->conv2d_fusable(&d);
}

const nr_layer_ops nr_conv_ops = {
    .name = "conv",
    .needs_image = true,
    .setup = conv_setup,
    .describe = conv_describe,
    .describe_params = conv_describe_params,
    .bind = conv_bind,
    .init = conv_init,
    .workspace_floats = conv_workspace_floats,
    .forward = conv_forward,
    .backward = conv_backward,
    .auto_init_slot = conv_auto_init_slot,
    .takes_epilogue = conv_takes_epilogue,
};
