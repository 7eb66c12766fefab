/* layers/maxpool.c - max over size x size windows per channel (the argmax is
 * kept for the backward pass). */
#include "layers/pool.h"

#include <string.h>

static void maxpool_bind(nr_layer_run *run, nr_net_plan *plan)
{
    run->saved = nr_arena_take(&plan->scratch,
                               (size_t)plan->max_batch * nr_shape_size(run->layer->out),
                               sizeof(int32_t));
    run->saved_stride = nr_shape_size(run->layer->out) * sizeof(int32_t);
}

static void maxpool_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    nr_pool2d_dims d = nr_pool_dims(run->layer, ex->n);
    ex->kernels->maxpool_forward(&d, in, run->out, ex->training ? run->saved : NULL);
}

static void maxpool_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    nr_pool2d_dims d = nr_pool_dims(run->layer, ex->n);
    if (!din)
        return;
    if (ex->din_fresh && ex->kernels->maxpool_backward_set) {
        ex->kernels->maxpool_backward_set(&d, run->dout, run->saved, din);
        return;
    }
    if (ex->din_fresh)
        memset(din, 0, (size_t)ex->n * nr_shape_size(run->layer->in) * sizeof *din);
    ex->kernels->maxpool_backward(&d, run->dout, run->saved, din);
}

/* An epilogue of a convolution as 2x2 stride 2 on even sizes, once. */
static bool maxpool_epilogue(const nr_layer *layer, nr_conv_epilogue *epi)
{
    if (epi->pool || layer->config.pool.size != 2 || layer->config.pool.stride != 2 ||
        layer->in.h % 2 || layer->in.w % 2)
        return false;
    epi->pool = 1;
    return true;
}

const nr_layer_ops nr_maxpool_ops = {
    .name = "maxpool",
    .needs_image = true,
    .setup = nr_pool_setup,
    .describe = nr_pool_describe,
    .bind = maxpool_bind,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .conv_epilogue = maxpool_epilogue,
    .exec_flags = NR_EXEC_SETS_DIN,
    .auto_init = NR_AUTO_INIT_PASS,
};
