/* activation.c - element-wise activations; backward from the saved output.
 * See netrun/kernels.h for the contract. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

#include "avx2.h"
#include "simd.h"
#include "vmath.h"

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
    /* in < 0 ? slope * in : in, 4 at a time (the same operations lane by
     * lane: NaN < 0 is false, so NaN passes) */
    const nr_v4f zero = nr_v4f_splat(0.0f), vs = nr_v4f_splat(slope);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        nr_v4f a = nr_v4f_load(in + i);
        nr_v4f_store(out + i, nr_v4f_select(a < zero, vs * a, a));
    }
    for (; i < count; i++)
        out[i] = in[i] < 0.0f ? slope * in[i] : in[i];
}

void nr_leaky_relu_backward(size_t count, float slope, const float *out,
                            const float *dout, float *din)
{
    assert(slope >= 0.0f);
    const nr_v4f zero = nr_v4f_splat(0.0f), vs = nr_v4f_splat(slope);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        nr_v4f g = nr_v4f_load(dout + i);
        nr_v4f t = nr_v4f_select(nr_v4f_load(out + i) > zero, g, vs * g);
        nr_v4f_store(din + i, nr_v4f_load(din + i) + t);
    }
    for (; i < count; i++)
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
    const nr_v4f one = nr_v4f_splat(1.0f);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        nr_v4f y = nr_v4f_load(out + i);
        nr_v4f_store(din + i, nr_v4f_load(din + i) + nr_v4f_load(dout + i) * y * (one - y));
    }
    for (; i < count; i++)
        din[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void nr_tanh_forward(size_t count, const float *in, float *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = tanhf(in[i]);
}

void nr_tanh_backward(size_t count, const float *out, const float *dout, float *din)
{
    const nr_v4f one = nr_v4f_splat(1.0f);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        nr_v4f y = nr_v4f_load(out + i);
        nr_v4f_store(din + i, nr_v4f_load(din + i) + nr_v4f_load(dout + i) * (one - y * y));
    }
    for (; i < count; i++)
        din[i] += dout[i] * (1.0f - out[i] * out[i]);
}

/* ---- the fast backend's tanh and sigmoid (vmath.h) ---- */

typedef enum fast_fn { FAST_TANH, FAST_SIGMOID } fast_fn;

#if NR_HAVE_AVX2_KERNELS
/* The whole groups of 8; returns how many elements were done. */
NR_AVX2 static size_t fast_avx2(fast_fn fn, size_t count, const float *in, float *out)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 x = _mm256_loadu_ps(in + i);
        _mm256_storeu_ps(out + i, fn == FAST_TANH ? nr_vm_tanh8(x) : nr_vm_sigmoid8(x));
    }
    return i;
}
#endif

/* out[i] = fn(in[i]): 8 at a time with AVX2 (when the CPU has it and
 * avx2 is set), the scalar form for the rest: the same bits either way. */
static void fast_apply(fast_fn fn, int avx2, size_t count, const float *in, float *out)
{
    size_t i = 0;
#if NR_HAVE_AVX2_KERNELS
    if (avx2 && nr_cpu_has_avx2_fma())
        i = fast_avx2(fn, count, in, out);
#else
    (void)avx2;
#endif
    for (; i < count; i++)
        out[i] = fn == FAST_TANH ? nr_vm_tanh(in[i]) : nr_vm_sigmoid(in[i]);
}

void nr_tanh_forward_fast(size_t count, const float *in, float *out)
{
    fast_apply(FAST_TANH, 1, count, in, out);
}

void nr_sigmoid_forward_fast(size_t count, const float *in, float *out)
{
    fast_apply(FAST_SIGMOID, 1, count, in, out);
}

void nr_tanh_forward_portable(size_t count, const float *in, float *out)
{
    fast_apply(FAST_TANH, 0, count, in, out);
}

void nr_sigmoid_forward_portable(size_t count, const float *in, float *out)
{
    fast_apply(FAST_SIGMOID, 0, count, in, out);
}
