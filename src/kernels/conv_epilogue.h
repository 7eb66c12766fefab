/* conv_epilogue.h - private to src/kernels: the fused epilogues of the
 * direct convolution (conv_epilogue.c), what runs on each output plane
 * after the GEMM: bias, an element-wise activation and/or 2x2/2 max
 * pooling in either order (nr_conv_epilogue, kernels.h), and the gradient
 * at the convolution's output in the backward pass, which the dense
 * (conv_direct.c) and the sparse (conv_sparse.c) backward both read from
 * here. The activations are the fast backend's kernels' operations (relu,
 * leaky_relu, vmath.h's tanh and sigmoid), so a fused layer gives the bits
 * the separate fast layers give.
 */
#ifndef NETRUN_KERNELS_CONV_EPILOGUE_H
#define NETRUN_KERNELS_CONV_EPILOGUE_H

#include <stddef.h>
#include <stdint.h>

#include "netrun/kernels.h"

/* No activation and no pooling: the plain convolution. */
static inline int nr_epi_is_none(const nr_conv_epilogue *e)
{
    return e->act == NR_ACT_NONE && !e->pool;
}

/* The gradient at the activation's input from its output y and the
 * gradient d at y: the increment the activation kernels' backward adds
 * (relu: y > 0 ? d : 0; leaky_relu: y > 0 ? d : slope d; tanh: d (1 - y^2);
 * sigmoid: d y (1 - y); none: d). */
static inline float nr_epi_grad1(const nr_conv_epilogue *e, float y, float d)
{
    switch (e->act) {
    case NR_ACT_RELU:
        return y > 0.0f ? d : 0.0f;
    case NR_ACT_LEAKY_RELU:
        return y > 0.0f ? d : e->slope * d;
    case NR_ACT_TANH:
        return d * (1.0f - y * y);
    case NR_ACT_SIGMOID:
        return d * y * (1.0f - y);
    case NR_ACT_NONE:
        break;
    }
    return d;
}

/* g[i] = nr_epi_grad1(e, out[i], dout[i]), i < count (g overwritten; out
 * is not read without an activation). */
void nr_epi_grad_set(const nr_conv_epilogue *e, size_t count, const float *out,
                     const float *dout, float *g);

/* Floats of scratch nr_epi_forward_plane needs for an h x w plane. */
static inline size_t nr_epi_scratch_floats(int h, int w)
{
    return (size_t)h * (size_t)w + 8;
}

/* One output plane from the GEMM's grid (h rows of w values, rows Wp
 * apart) and the filter's bias (*bias; NULL: none, nothing added): dst [h, w] (no pooling) or [h/2, w/2]
 * and argmax [h/2, w/2] (pooling; argmax may be NULL), overwritten.
 * scratch: nr_epi_scratch_floats(h, w) floats. */
void nr_epi_forward_plane(const nr_conv_epilogue *e, const float *grid, int Wp, int h, int w,
                          const float *bias, float *dst, int32_t *argmax, float *scratch);

/* With pooling: the gradient at the convolution's output for one plane,
 * written into the interior of a zero-bordered plane (rows Wp apart; every
 * interior element written): act'(out) * dout at the window's argmax, 0
 * elsewhere. masked [h/2 * w/2] receives act'(out) * dout (the plane's
 * nonzeros; their sum is the plane's sum). */
void nr_epi_pool_grad_plane(const nr_conv_epilogue *e, const float *out, const float *dout,
                            const int32_t *argmax, int h, int w, int Wp, float *dst,
                            float *masked);

#endif
