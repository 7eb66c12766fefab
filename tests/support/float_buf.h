/* tests/support/float_buf.h - float buffers for kernel tests: allocation
 * (failing the current Check test when out of memory), random fills,
 * comparison, and accumulation buffers that start from a random prior (the
 * kernels' gradients are ACCUMULATED, so a test starts them nonzero). */
#ifndef NETRUN_TEST_FLOAT_BUF_H
#define NETRUN_TEST_FLOAT_BUF_H

#include <stddef.h>

#include "netrun/kernels.h"

/* n floats (at least 1), owned by the caller (free). */
float *falloc(size_t n);
/* x[i] uniform in [lo, hi) from r. */
void fill_uniform(nr_rng *r, float *x, size_t n, float lo, float hi);
/* x[i] = NaN: shows reads of what a kernel should have written first. */
void fill_nan(float *x, size_t n);
/* A copy of x[0..n), owned by the caller. */
float *fdup(const float *x, size_t n);
/* max |a - b| / max(max |b|, 1e-6); NaN or Inf anywhere gives +inf. */
double rel_err(const float *a, const float *b, size_t n);

/* An accumulation buffer: g starts as a random prior (kept in prior).
 * After a backward pass acc_delta turns g into what the kernel added. */
typedef struct acc_buf {
    float *g, *prior;
    size_t n;
} acc_buf;

acc_buf acc_new(nr_rng *r, size_t n);
void acc_delta(acc_buf *a);
void acc_free(acc_buf *a);

#endif
