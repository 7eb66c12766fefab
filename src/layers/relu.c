/* layers/relu.c - rectified linear unit, y = max(0, x); shape unchanged. */
#include "layers/layer.h"

static void relu_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    nr_relu_forward(count, in, run->out);
}

static void relu_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    if (din && ex->din_fresh)
        nr_relu_backward_set(count, run->out, run->dout, din);
    else if (din)
        nr_relu_backward(count, run->out, run->dout, din);
}

static bool relu_epilogue(const nr_layer *layer, nr_conv_epilogue *epi)
{
    (void)layer;
    return nr_epilogue_add_act(epi, NR_ACT_RELU, 0.0f);
}

const nr_layer_ops nr_relu_ops = {
    .name = "relu",
    .onnx_op = "Relu",
    .setup = nr_layer_setup_same_shape,
    .forward = relu_forward,
    .backward = relu_backward,
    .conv_epilogue = relu_epilogue,
    .exec_flags = NR_EXEC_SETS_DIN,
    .auto_init = NR_AUTO_INIT_HE,
};
