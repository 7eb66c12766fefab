/* dropout.c - inverted dropout with a caller-owned PRNG and a uint8 mask.
 * See netrun/kernels.h for the contract. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

void nr_dropout_forward(size_t count, float rate, nr_rng *rng, const float *in,
                        float *out, uint8_t *mask)
{
    assert(rate >= 0.0f && rate < 1.0f);
    if (rate == 0.0f) {
        for (size_t i = 0; i < count; i++) {
            out[i] = in[i];
            mask[i] = 1;
        }
        return;
    }
    /* drop when u32 < rate * 2^32 (exact threshold; rate < 1 keeps it < 2^32) */
    const uint64_t threshold = (uint64_t)ldexp((double)rate, 32);
    const float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < count; i++) {
        const uint8_t keep = (uint64_t)nr_rng_u32(rng) >= threshold;
        mask[i] = keep;
        out[i] = in[i] * (keep ? scale : 0.0f);   /* NaN/Inf still propagate */
    }
}

void nr_dropout_backward(size_t count, float rate, const uint8_t *mask,
                         const float *dout, float *din)
{
    assert(rate >= 0.0f && rate < 1.0f);
    const float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < count; i++)
        din[i] += dout[i] * (mask[i] ? scale : 0.0f);
}
