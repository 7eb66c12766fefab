/* layers/runs.c - sequential execution of a list of layer runs: the net's
 * top level and the lists inside residual blocks (see nr_runs_forward in
 * layers/layer.h). Each run carries its kind's ops, so this file depends on
 * no kind and residual blocks can use it. */
#include "layers/layer.h"

#include <string.h>

#include "netrun/clock.h"
#include "netrun/comm.h"
#include "layers/threads.h"

nr_exec_clock nr_exec_clock_now(void)
{
    return (nr_exec_clock){.wall = nr_monotonic_seconds(), .cpu = nr_thread_cpu_seconds()};
}

void nr_exec_mark(const nr_exec *ex, nr_exec_clock since, nr_layer_times *times, bool backward)
{
    if (ex->pool)
        nr_pool_barrier(ex->pool);
    if (ex->thread != 0)
        return;
    nr_exec_clock now = nr_exec_clock_now();
    now.exchange_wall = ex->clock->exchange_wall;
    now.exchange_cpu = ex->clock->exchange_cpu;
    if (times) {
        *(backward ? &times->backward : &times->forward) = now.wall - since.wall;
        *(backward ? &times->backward_cpu : &times->forward_cpu) = now.cpu - since.cpu;
        *(backward ? &times->backward_exchange : &times->forward_exchange) =
            now.exchange_wall - since.exchange_wall;
        *(backward ? &times->backward_exchange_cpu : &times->forward_exchange_cpu) =
            now.exchange_cpu - since.exchange_cpu;
    }
    *ex->clock = now;
}

void nr_exec_count_exchange(const nr_exec *ex, nr_exec_clock start)
{
    if (!ex->clock || ex->thread != 0)
        return;
    const nr_exec_clock now = nr_exec_clock_now();
    ex->clock->exchange_wall += now.wall - start.wall;
    ex->clock->exchange_cpu += now.cpu - start.cpu;
}

void nr_exec_gather_rows(const nr_exec *ex, void *rows, size_t row_bytes)
{
    const nr_net_ranks *rk = ex->ranks;
    if (!rk)
        return;
    /* the net's input is the whole batch on every process already */
    const uintptr_t at = (uintptr_t)rows;
    if (ex->thread == 0 && !(at >= rk->input_lo && at < rk->input_hi)) {
        const nr_exec_clock start = ex->clock ? nr_exec_clock_now() : (nr_exec_clock){0};
        nr_comm_allgather_rows(rk->comm, rows, row_bytes, rk->row_first);
        nr_exec_count_exchange(ex, start);
    }
    if (ex->pool)
        nr_pool_barrier(ex->pool);
}

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
        nr_exec_clock since = ex->clock ? *ex->clock : (nr_exec_clock){0};
        nr_run_forward(ex, &runs[i], x);
        x = runs[i].out;
        if (ex->clock)
            nr_exec_mark(ex, since, runs[i].times, false);
    }
    return x;
}

void nr_runs_backward(const nr_exec *ex, nr_layer_run *runs, size_t count, const float *in,
                      float *din)
{
    for (size_t i = count; i-- > 0;) {
        const float *x = i ? runs[i - 1].out : in;
        float *dx = i ? runs[i - 1].dout : din;
        nr_exec_clock since = ex->clock ? *ex->clock : (nr_exec_clock){0};
        nr_run_backward(ex, &runs[i], x, dx, i > 0);
        if (ex->clock)
            nr_exec_mark(ex, since, runs[i].times, true);
    }
}
