/* init.c - parameter initialisation fills. See netrun/kernels.h. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

static void fill_normal(float *w, size_t n, double std, nr_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(std * (double)nr_rng_normal(rng));
}

static void fill_uniform(float *w, size_t n, double bound, nr_rng *rng)
{
    /* u in [0,1) -> (2u - 1) * bound in [-bound, bound) */
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2.0 * (double)nr_rng_uniform(rng) - 1.0) * bound);
}

void nr_init_he_normal(float *w, size_t n, int fan_in, nr_rng *rng)
{
    assert(fan_in > 0);
    fill_normal(w, n, sqrt(2.0 / fan_in), rng);
}

void nr_init_he_uniform(float *w, size_t n, int fan_in, nr_rng *rng)
{
    assert(fan_in > 0);
    fill_uniform(w, n, sqrt(6.0 / fan_in), rng);
}

void nr_init_glorot_normal(float *w, size_t n, int fan_in, int fan_out, nr_rng *rng)
{
    assert(fan_in > 0 && fan_out > 0);
    fill_normal(w, n, sqrt(2.0 / ((double)fan_in + fan_out)), rng);
}

void nr_init_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, nr_rng *rng)
{
    assert(fan_in > 0 && fan_out > 0);
    fill_uniform(w, n, sqrt(6.0 / ((double)fan_in + fan_out)), rng);
}

void nr_init_fill(nr_init_kind kind, float *w, size_t n, int fan_in, int fan_out,
                  nr_rng *rng)
{
    switch (kind) {
    case NR_INIT_HE_NORMAL: nr_init_he_normal(w, n, fan_in, rng); break;
    case NR_INIT_HE_UNIFORM: nr_init_he_uniform(w, n, fan_in, rng); break;
    case NR_INIT_GLOROT_NORMAL: nr_init_glorot_normal(w, n, fan_in, fan_out, rng); break;
    case NR_INIT_GLOROT_UNIFORM: nr_init_glorot_uniform(w, n, fan_in, fan_out, rng); break;
    default: assert(0 && "unknown nr_init_kind"); break;
    }
}

void nr_fill(float *w, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        w[i] = value;
}
