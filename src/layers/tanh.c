/* layers/tanh.c - hyperbolic tangent; shape unchanged. */
#include "layers/layer.h"

static void tanh_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    ex->kernels->tanh_forward(count, in, run->out);
}

static void tanh_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    if (din)
        nr_tanh_backward(count, run->out, run->dout, din);
}

static bool tanh_epilogue(const nr_layer *layer, nr_conv_epilogue *epi)
{
    (void)layer;
    return nr_epilogue_add_act(epi, NR_ACT_TANH, 0.0f);
}

const nr_layer_ops nr_tanh_ops = {
    .name = "tanh",
    .onnx_op = "Tanh",
    .setup = nr_layer_setup_same_shape,
    .forward = tanh_forward,
    .backward = tanh_backward,
    .conv_epilogue = tanh_epilogue,
};
