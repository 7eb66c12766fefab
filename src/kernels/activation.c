/* activation.c - element-wise activations; backward from the saved output.
 * See netrun/kernels.h for the contract. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

void nr_relu_forward(size_t count, const float *in, float *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] < 0.0f ? 0.0f : in[i];   /* NaN propagates (as PyTorch) */
}

void nr_relu_backward(size_t count, const float *out, const float *dout, float *din)
{
    for (size_t i = 0; i < count; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
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
