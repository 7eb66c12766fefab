/* layers/dropout.c - inverted dropout (training only); shape unchanged. */
#include "layers/layer.h"

#include <stdio.h>
#include <string.h>

static int dropout_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                         nr_error *err)
{
    layer->config.dropout.rate = (float)ns_get_float(params, "rate");
    return nr_layer_setup_same_shape(layer, params, site, err);
}

static void dropout_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "rate %g", layer->config.dropout.rate);
}

static void dropout_bind(nr_layer_run *run, nr_net_plan *plan)
{
    run->saved = nr_arena_take(&plan->scratch,
                               (size_t)plan->max_batch * nr_shape_size(run->layer->in),
                               sizeof(uint8_t));
    run->saved_stride = nr_shape_size(run->layer->in) * sizeof(uint8_t);
}

/* Evaluation: the identity. Training: inverted dropout with the net's dropout
 * PRNG stream, one number per feature of the whole batch in order: this
 * thread's share starts `first` examples in, and the stream moves on by the
 * whole batch (as if one thread had drawn it all). */
static void dropout_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    size_t features = nr_shape_size(run->layer->in);
    size_t count = (size_t)ex->n * features;
    float rate = run->layer->config.dropout.rate;
    if (ex->training) {
        bool draws = rate > 0.0f;  /* rate 0 consumes no numbers */
        nr_rng share = *ex->dropout_rng;
        if (draws)
            nr_rng_advance(&share, (uint64_t)ex->first * features);
        if (count)
            nr_dropout_forward(count, rate, &share, in, run->out, run->saved);
        if (draws)
            nr_rng_advance(ex->dropout_rng, (uint64_t)ex->batch_n * features);
    } else if (count) {
        memcpy(run->out, in, count * sizeof(float));
    }
}

static void dropout_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    if (din && ex->n)
        nr_dropout_backward((size_t)ex->n * nr_shape_size(run->layer->in),
                            run->layer->config.dropout.rate, run->saved, run->dout, din);
}

const nr_layer_ops nr_dropout_ops = {
    .name = "dropout",
    .setup = dropout_setup,
    .describe = dropout_describe,
    .bind = dropout_bind,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .exec_flags = NR_EXEC_EMPTY_OK,
    .auto_init = NR_AUTO_INIT_PASS,
};
