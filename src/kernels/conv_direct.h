/* conv_direct.h - private to src/kernels: what the direct convolution
 * (conv_direct.c) shares with the sparse backward it hands sparse gradients
 * to (conv_sparse.c): the condition both run under, and how the gradient at
 * the convolution's output is described when an epilogue (activation
 * and/or max pooling) is fused. conv_sparse.c needs only this header, never
 * conv_direct.c: the kernels depend one way, conv_direct.c -> conv_sparse.c.
 */
#ifndef NETRUN_KERNELS_CONV_DIRECT_H
#define NETRUN_KERNELS_CONV_DIRECT_H

#include <stdint.h>

#include "avx2.h"
#include "netrun/kernels.h"

/* nr_conv2d_direct_applies (kernels.h), inline: stride 1, "same" padding
 * (2 * pad == size - 1) and a CPU with AVX2 and FMA. */
static inline int nr_conv2d_direct_fits(const nr_conv2d_dims *d)
{
    return d->stride == 1 && 2 * d->pad == d->size - 1 && nr_cpu_has_avx2_fma();
}

/* Where the gradient w.r.t. the convolution's output comes from
 * (borrowed pointers, batch-major like the layers' buffers): the epilogue
 * that followed the convolution (kernels.h; what the gradient at its
 * output is: conv_epilogue.h) and the epilogue's output, its gradient and
 * the pooling's argmax. */
typedef struct nr_conv_grad_source {
    nr_conv_epilogue epi;
    const float *dout;       /* d epilogue out (none: d conv out) */
    const float *out;        /* the epilogue's output (read with an activation) */
    const int32_t *argmax;   /* with pooling: index in the h*w plane */
} nr_conv_grad_source;

#endif
