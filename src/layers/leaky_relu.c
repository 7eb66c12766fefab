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

static void leaky_relu_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    ex->kernels->leaky_relu_forward(count, run->layer->config.leaky_relu.slope, in, run->out);
}

static void leaky_relu_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    if (din)
        nr_leaky_relu_backward(count, run->layer->config.leaky_relu.slope, run->out, run->dout, din);
}

static float leaky_relu_alpha(const nr_layer *layer)
{
    return layer->config.leaky_relu.slope;
}

static bool leaky_relu_epilogue(const nr_layer *layer, nr_conv_epilogue *epi)
{
    return nr_epilogue_add_act(epi, NR_ACT_LEAKY_RELU, layer->config.leaky_relu.slope);
}

const nr_layer_ops nr_leaky_relu_ops = {
    .name = "leaky_relu",
    .onnx_op = "LeakyRelu",
    .onnx_attr = "alpha",
    .onnx_attr_value = leaky_relu_alpha,
    .setup = leaky_relu_setup,
    .describe = leaky_relu_describe,
    .forward = leaky_relu_forward,
    .backward = leaky_relu_backward,
    .conv_epilogue = leaky_relu_epilogue,
    .auto_init = NR_AUTO_INIT_HE,
};
