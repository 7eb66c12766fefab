/* conv_direct.h - private to src/kernels: what the direct convolution
 * (conv_direct.c) shares with the sparse backward it hands sparse gradients
 * to (conv_sparse.c): the condition both run under, and how the gradient at
 * the convolution's output is described when a relu (+ max pooling)
 * epilogue is fused. conv_sparse.c needs only this header, never
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

/* What follows the convolution in the same pass (conv_direct.c fuses). */
typedef enum nr_conv_epilogue {
    NR_EPI_NONE,
    NR_EPI_RELU,
    NR_EPI_RELU_MAXPOOL
} nr_conv_epilogue;

/* Where the gradient w.r.t. the convolution's output comes from
 * (borrowed pointers, batch-major like the layers' buffers). */
typedef struct nr_conv_grad_source {
    nr_conv_epilogue epi;
    const float *dout;       /* NONE: d conv out; RELU: d relu out; POOL: d pooled */
    const float *out;        /* RELU: relu out; RELU_MAXPOOL: pooled out */
    const int32_t *argmax;   /* RELU_MAXPOOL: index in the h*w plane */
} nr_conv_grad_source;

#endif
