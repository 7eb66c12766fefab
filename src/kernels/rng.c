/* rng.c - PCG32 (XSH-RR) seeded through splitmix64. See netrun/kernels.h. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void nr_rng_seed(nr_rng *rng, uint64_t seed, uint64_t stream)
{
    /* Mix the seed first (bijective), then fold in the stream and draw the
     * state and the stream increment from the combined splitmix sequence. */
    uint64_t x = seed;
    uint64_t s = splitmix64(&x) ^ (stream * UINT64_C(0xD1B54A32D192ED03));
    rng->state = 0;
    rng->inc = (splitmix64(&s) << 1) | 1u;
    uint64_t init = splitmix64(&s);
    /* standard PCG seeding sequence */
    (void)nr_rng_u32(rng);
    rng->state += init;
    (void)nr_rng_u32(rng);
}

uint32_t nr_rng_u32(nr_rng *rng)
{
    uint64_t old = rng->state;
    rng->state = old * UINT64_C(6364136223846793005) + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void nr_rng_advance(nr_rng *rng, uint64_t delta)
{
    /* Brown, "Random number generation with arbitrary strides" (1994), as in
     * the PCG reference pcg_advance_lcg_64: O(log delta) steps. */
    uint64_t cur_mult = UINT64_C(6364136223846793005), cur_plus = rng->inc;
    uint64_t acc_mult = 1u, acc_plus = 0u;
    while (delta > 0) {
        if (delta & 1u) {
            acc_mult *= cur_mult;
            acc_plus = acc_plus * cur_mult + cur_plus;
        }
        cur_plus = (cur_mult + 1u) * cur_plus;
        cur_mult *= cur_mult;
        delta >>= 1;
    }
    rng->state = acc_mult * rng->state + acc_plus;
}

float nr_rng_uniform(nr_rng *rng)
{
    return (float)(nr_rng_u32(rng) >> 8) * 0x1.0p-24f;
}

uint32_t nr_rng_below(nr_rng *rng, uint32_t n)
{
    assert(n >= 1);
    /* Lemire, "Fast random integer generation in an interval" (2019). */
    uint64_t m = (uint64_t)nr_rng_u32(rng) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;   /* 2^32 mod n */
        while (low < threshold) {
            m = (uint64_t)nr_rng_u32(rng) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Uniform double in [0, 1) from 53 random bits. */
static double uniform53(nr_rng *rng)
{
    uint64_t hi = nr_rng_u32(rng) >> 5;   /* 27 bits */
    uint64_t lo = nr_rng_u32(rng) >> 6;   /* 26 bits */
    return (double)((hi << 26) | lo) * 0x1.0p-53;
}

float nr_rng_normal(nr_rng *rng)
{
    double u1 = 1.0 - uniform53(rng);     /* (0, 1]: log() finite */
    double u2 = uniform53(rng);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void nr_rng_shuffle(nr_rng *rng, uint32_t *idx, size_t n)
{
    assert(n <= UINT32_MAX);
    for (size_t i = n; i > 1; i--) {
        uint32_t j = nr_rng_below(rng, (uint32_t)i);
        uint32_t tmp = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = tmp;
    }
}
