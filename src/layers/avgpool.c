/* layers/avgpool.c - mean over size x size windows per channel. */
#include "layers/pool.h"

static void avgpool_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    nr_pool2d_dims d = nr_pool_dims(run->layer, ex->n);
    ex->kernels->avgpool_forward(&d, in, run->out);
}

static void avgpool_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    nr_pool2d_dims d = nr_pool_dims(run->layer, ex->n);
    if (din)
        ex->kernels->avgpool_backward(&d, run->dout, din);
}

const nr_layer_ops nr_avgpool_ops = {
    .name = "avgpool",
    .needs_image = true,
    .setup = nr_pool_setup,
    .describe = nr_pool_describe,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .auto_init = NR_AUTO_INIT_PASS,
};
