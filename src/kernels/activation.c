/* activation.c - element-wise activations; backward from the saved output.
 * See netrun/kernels.h for the contract. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

#include "simd.h"

void nr_relu_forward(size_t count, const float *in, float *out)
{
    /* out = in < 0 ? 0 : in, 8 at a time: clearing the lanes where in < 0
     * keeps NaN (NaN < 0 is false) and -0.0 exactly as the scalar form */
    const nr_v4f zero = nr_v4f_splat(0.0f);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        nr_v4f a = nr_v4f_load(in + i), b = nr_v4f_load(in + i + 4);
        nr_v4f_store(out + i, nr_v4f_and(a, ~(a < zero)));
        nr_v4f_store(out + i + 4, nr_v4f_and(b, ~(b < zero)));
    }
    for (; i < count; i++)
        out[i] = in[i] < 0.0f ? 0.0f : in[i];   /* NaN propagates (as PyTorch) */
}

void nr_relu_backward(size_t count, const float *out, const float *dout, float *din)
{
    const nr_v4f zero = nr_v4f_splat(0.0f);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        nr_v4f a = nr_v4f_and(nr_v4f_load(dout + i), nr_v4f_load(out + i) > zero);
        nr_v4f b = nr_v4f_and(nr_v4f_load(dout + i + 4), nr_v4f_load(out + i + 4) > zero);
        nr_v4f_store(din + i, nr_v4f_load(din + i) + a);
        nr_v4f_store(din + i + 4, nr_v4f_load(din + i + 4) + b);
    }
    for (; i < count; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void nr_relu_backward_set(size_t count, const float *out, const float *dout, float *din)
{
    const nr_v4f zero = nr_v4f_splat(0.0f);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        nr_v4f_store(din + i, nr_v4f_and(nr_v4f_load(dout + i), nr_v4f_load(out + i) > zero));
        nr_v4f_store(din + i + 4,
                     nr_v4f_and(nr_v4f_load(dout + i + 4), nr_v4f_load(out + i + 4) > zero));
    }
    for (; i < count; i++)
        din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void nr_leaky_relu_forward(size_t count, float slope, const float *in, float *out)
{
    assert(slope >= 0.0f);
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] < 0.0f ? slope * in[i] : in[i];
}

void nr_leaky_relu_backward(size_t count, float slope, const float *out,
                            const float *dout, float *din)
{
    assert(slope >= 0.0f);
    for (size_t i = 0; i < count; i++)
        din[i] += out[i] > 0.0f ? dout[i] : slope * dout[i];
}

void nr_sigmoid_forward(size_t count, const float *in, float *out)
{
    for (size_t i = 0; i < count; i++) {
        float x = in[i];
        if (x >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-x));
        } else {
            float e = expf(x);          /* no overflow for very negative x */
            out[i] = e / (1.0f + e);
        }
    }
}

void nr_sigmoid_backward(size_t count, const float *out, const float *dout, float *din)
{
    for (size_t i = 0; i < count; i++)
        din[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void nr_tanh_forward(size_t count, const float *in, float *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = tanhf(in[i]);
}

void nr_tanh_backward(size_t count, const float *out, const float *dout, float *din)
{
    for (size_t i = 0; i < count; i++)
        din[i] += dout[i] * (1.0f - out[i] * out[i]);
}
