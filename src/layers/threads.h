/* layers/threads.h - a persistent pool of worker threads for the executor
 * (internal).
 *
 * nr_pool_create(T) starts T - 1 workers once; nr_pool_run() then runs a job
 * fn(ctx, t) on all T threads (the caller is thread 0) and returns when every
 * thread has finished it. Inside a job, nr_pool_barrier() synchronises all T
 * threads (every thread must call it the same number of times). No thread is
 * created or destroyed per job.
 *
 * Waiting spins (up to 20 ms, see SPIN_NS in threads.c: giving the CPU away
 * between the jobs of a training step is what costs on a shared machine)
 * and then sleeps on a condition variable, so an idle pool costs no CPU
 * after that.
 *
 * A pool of 1 thread runs the job inline; its barriers are no-ops.
 */
#ifndef NETRUN_LAYERS_THREADS_H
#define NETRUN_LAYERS_THREADS_H

typedef struct nr_pool nr_pool;
typedef void (*nr_pool_fn)(void *ctx, int thread);

/* 0 on success, -1 when threads cannot be created (then *out is NULL). */
int nr_pool_create(int threads, nr_pool **out);
/* Stops and joins the workers; NULL is fine. */
void nr_pool_free(nr_pool *pool);
int nr_pool_threads(const nr_pool *pool);
/* Runs fn(ctx, t) for t = 0..T-1, t = 0 on the calling thread. Not reentrant:
 * one job at a time, from one thread. */
void nr_pool_run(nr_pool *pool, nr_pool_fn fn, void *ctx);
/* Inside a job: waits until all T threads have reached this barrier. */
void nr_pool_barrier(nr_pool *pool);

#endif
