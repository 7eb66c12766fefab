/* layers/threads.c - the executor's persistent thread pool (see threads.h).
 *
 * One barrier serves everything: a job is "barrier (start), fn, barrier
 * (end)" on every thread, workers loop waiting at the start barrier. The
 * barrier is a counter plus a generation number: the last thread to arrive
 * resets the counter and bumps the generation; the others spin on the
 * generation for a while, then sleep on a condition variable. The generation
 * only changes under the mutex, so a sleeper cannot miss its wake-up. */
#include "layers/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "netrun/clock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Spin this long before sleeping. The serial gaps of a training step (loss,
 * optimizer step, assembling the next batch) are tens of microseconds, but a
 * thread that sleeps gives its CPU away, and with any other process on the
 * machine (even at nice 19) getting it back costs up to a scheduler slice:
 * measured on the 2-core VM with one nice-19 busy loop, ex2 epochs took
 * 3.7-4.6 s with 0.3 ms or 2 ms of spinning and 2.5-3.1 s with 20 ms. An idle
 * pool spins 20 ms once, then sleeps.
 *
 * Only the first PAUSE_NS spin on `pause` alone; after that every check
 * also calls sched_yield(). On a machine with more runnable threads than
 * CPUs, the thread being waited for is often queued behind the spinner on
 * the same CPU: a pure spin holds the CPU until its slice ends, so every
 * barrier cost a slice (ex2 with 2 threads on the 2-core VM at load ~6:
 * 31 s per epoch against 6.8 s with 1 thread). The yield hands the CPU to
 * it; with nothing else runnable it returns at once. */
enum { SPIN_NS = 20 * 1000 * 1000, PAUSE_NS = 50 * 1000, SPIN_CHECK = 64 };
struct nr_pool {
    int threads;
    atomic_int arrived;
    atomic_uint generation;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    nr_pool_fn fn;
    void *ctx;
    bool quit;
    pthread_t *workers;
    int started;                 /* workers successfully created */
    struct worker_arg {
        nr_pool *pool;
        int thread;
    } *args;
};

void nr_pool_barrier(nr_pool *pool)
{
    if (pool->threads <= 1)
        return;
    unsigned gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&pool->arrived, 1, memory_order_acq_rel) ==
        pool->threads - 1) {
        atomic_store_explicit(&pool->arrived, 0, memory_order_relaxed);
        pthread_mutex_lock(&pool->mutex);
        atomic_store_explicit(&pool->generation, gen + 1, memory_order_release);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
        return;
    }
    double start = 0.0;
    bool yielding = false;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&pool->generation, memory_order_acquire) != gen)
            return;
        if (yielding)
            sched_yield();
        else
            CPU_RELAX();
        if (i % SPIN_CHECK == 0 || yielding) {
            double now = nr_monotonic_seconds();
            if (start == 0.0)
                start = now;
            else if (now - start >= SPIN_NS * 1e-9)
                break;
            else
                yielding = now - start >= PAUSE_NS * 1e-9;
        }
    }
    pthread_mutex_lock(&pool->mutex);
    while (atomic_load_explicit(&pool->generation, memory_order_acquire) == gen)
        pthread_cond_wait(&pool->wake, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
}

static void *worker_main(void *p)
{
    struct worker_arg *arg = p;
    nr_pool *pool = arg->pool;
    for (;;) {
        nr_pool_barrier(pool);           /* job start */
        if (pool->quit)
            break;
        pool->fn(pool->ctx, arg->thread);
        nr_pool_barrier(pool);           /* job end */
    }
    return NULL;
}

int nr_pool_create(int threads, nr_pool **out)
{
    *out = NULL;
    if (threads < 1)
        threads = 1;
    nr_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return -1;
    pool->threads = threads;
    atomic_init(&pool->arrived, 0);
    atomic_init(&pool->generation, 0u);
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        free(pool);
        return -1;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->mutex);
        free(pool);
        return -1;
    }
    if (threads > 1) {
        pool->workers = calloc((size_t)threads, sizeof *pool->workers);
        pool->args = calloc((size_t)threads, sizeof *pool->args);
        if (!pool->workers || !pool->args)
            goto fail;
        for (int t = 1; t < threads; t++) {
            pool->args[t] = (struct worker_arg){.pool = pool, .thread = t};
            if (pthread_create(&pool->workers[t], NULL, worker_main, &pool->args[t]) != 0)
                goto fail;
            pool->started++;
        }
    }
    *out = pool;
    return 0;
fail:
    nr_pool_free(pool);
    return -1;
}

void nr_pool_free(nr_pool *pool)
{
    if (!pool)
        return;
    if (pool->started > 0) {
        if (pool->started < pool->threads - 1) {
            /* a partial pool: the started workers wait at the start barrier
             * for threads that never came; let them through one by one */
            pool->threads = pool->started + 1;
        }
        pool->quit = true;
        nr_pool_barrier(pool);
        for (int t = 1; t <= pool->started; t++)
            pthread_join(pool->workers[t], NULL);
    }
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool->args);
    free(pool);
}

int nr_pool_threads(const nr_pool *pool)
{
    return pool->threads;
}

void nr_pool_run(nr_pool *pool, nr_pool_fn fn, void *ctx)
{
    if (pool->threads <= 1) {
        fn(ctx, 0);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    nr_pool_barrier(pool);               /* job start: workers see fn/ctx */
    fn(ctx, 0);
    nr_pool_barrier(pool);               /* job end */
}
