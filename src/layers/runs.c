/* layers/runs.c - sequential execution of a list of layer runs: the net's
 * top level and the lists inside residual blocks (see nr_runs_forward in
 * layers/layer.h). Each run carries its kind's ops, so this file depends on
 * no kind and residual blocks can use it. */
#include "layers/layer.h"

#include <string.h>

/* One layer on this thread's share (layers whose result couples the
 * examples, batchnorm, synchronise their threads themselves). */
void nr_run_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    if (run->absorbed)
        return;
    const nr_layer_ops *ops = run->ops;
    if (ex->n > 0 || (ops->exec_flags & NR_EXEC_EMPTY_OK))
        ops->forward(ex, run, in);
}

/* din_fresh: din holds garbage (this run is its only writer): zero it, or let
 * a layer that can overwrite do so. */
void nr_run_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din,
                     bool din_fresh)
{
    if (run->absorbed)
        return;
    const nr_layer_ops *ops = run->ops;
    nr_exec lex = *ex;
    lex.din_fresh = false;
    if (din && din_fresh) {
        if (ops->exec_flags & NR_EXEC_SETS_DIN)
            lex.din_fresh = true;
        else
            memset(din, 0, (size_t)lex.n * nr_shape_size(run->layer->in) * sizeof *din);
    }
    if (lex.n > 0 || (ops->exec_flags & NR_EXEC_EMPTY_OK))
        ops->backward(&lex, run, in, din);
}

const float *nr_runs_forward(const nr_exec *ex, nr_layer_run *runs, size_t count,
                             const float *in)
{
    const float *x = in;
    for (size_t i = 0; i < count; i++) {
        nr_run_forward(ex, &runs[i], x);
        x = runs[i].out;
    }
    return x;
}

void nr_runs_backward(const nr_exec *ex, nr_layer_run *runs, size_t count, const float *in,
                      float *din)
{
    for (size_t i = count; i-- > 0;) {
        const float *x = i ? runs[i - 1].out : in;
        float *dx = i ? runs[i - 1].dout : din;
        nr_run_backward(ex, &runs[i], x, dx, i > 0);
    }
}
