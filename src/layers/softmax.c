/* layers/softmax.c - softmax over the flattened features of each example;
 * shape unchanged. As the last layer with the cross_entropy loss it is fused
 * with the loss (log-sum-exp) by the trainer. */
#include "layers/layer.h"

static void softmax_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    nr_softmax_forward(ex->n, (int)nr_shape_size(run->layer->in), in, run->out);
}

static void softmax_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    if (din)
        nr_softmax_backward(ex->n, (int)nr_shape_size(run->layer->in), run->out, run->dout,
                            din);
}

const nr_layer_ops nr_softmax_ops = {
    .name = "softmax",
    .setup = nr_layer_setup_same_shape,
    .forward = softmax_forward,
    .backward = softmax_backward,
};
