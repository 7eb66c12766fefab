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
}

/* Evaluation: the identity. Training: inverted dropout with the net's dropout
 * PRNG stream. */
static void dropout_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    size_t count = (size_t)ex->n * nr_shape_size(run->layer->in);
    if (ex->training)
        nr_dropout_forward(count, run->layer->config.dropout.rate, ex->dropout_rng, in,
                           run->out, run->saved);
    else
        memcpy(run->out, in, count * sizeof(float));
}

static void dropout_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    (void)in;
    if (din)
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
};
