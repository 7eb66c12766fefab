/* layers/sigmoid.c - logistic sigmoid, y = 1 / (1 + exp(-x)); shape unchanged. */
#include "layers/layer.h"

static void sigmoid_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    ex->kernels->sigmoid_forward(count, in, run->out);
}

static void sigmoid_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    if (din)
        nr_sigmoid_backward(count, run->out, run->dout, din);
}

static bool sigmoid_epilogue(const nr_layer *layer, nr_conv_epilogue *epi)
{
    (void)layer;
    return nr_epilogue_add_act(epi, NR_ACT_SIGMOID, 0.0f);
}

const nr_layer_ops nr_sigmoid_ops = {
    .name = "sigmoid",
    .onnx_op = "Sigmoid",
    .setup = nr_layer_setup_same_shape,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
    .conv_epilogue = sigmoid_epilogue,
};
