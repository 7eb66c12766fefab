/* conv_sparse.h - private to src/kernels: the backward pass of a stride-1
 * "same" convolution driven by the nonzeros of the output gradient. In the
 * engine the direct backward (conv_direct.c) calls it; it takes its types
 * and the condition it runs under from conv_direct.h and never calls into
 * conv_direct.c.
 *
 * After ReLU, and even more after ReLU + 2x2 max pooling, most of the
 * gradient at a convolution's output is exactly zero (max pooling passes
 * one position of each 2x2 window, ReLU only where the output was > 0). The
 * dense backward (conv_direct.c) multiplies through those zeros; this one
 * lists the nonzeros of each filter's gradient plane, in raster order, and
 * for each nonzero g at output position (y, x) does
 *   dW[f, :, :, :]       += g * the input patch under (y, x)
 *   din[:, patch (y, x)] += g * W[f, :, :, :]
 * on channel-last (HWC) copies of the input and of din, so a patch is
 * S rows of S*C contiguous floats and both updates are runs of 8-float
 * vector operations. Channels are padded to a multiple of 8 with zeros.
 *
 * The nonzero lists are the same, in the same order, whether the gradient
 * comes through the fused relu / relu + maxpool epilogues or as a plain
 * dconv plane that the separate layers produced: the fused and unfused
 * paths give the same bits. Every sum runs in a fixed order (deterministic).
 */
#ifndef NETRUN_KERNELS_CONV_SPARSE_H
#define NETRUN_KERNELS_CONV_SPARSE_H

#include "conv_direct.h"   /* nr_conv_grad_source, nr_conv2d_direct_fits */
#include "netrun/kernels.h"

/* Floats of workspace the sparse backward needs for dims d (any n). */
size_t nr_conv2d_sparse_workspace_floats(const nr_conv2d_dims *d);

/* The parts of the backward pass that the sparse kernels should do for
 * this call (0, or NR_SPARSE_DW and/or NR_SPARSE_DIN): the shape is a
 * direct one (nr_conv2d_direct_applies), and the gradient has few enough
 * nonzeros for the sparse updates to cost less than the dense ones. The
 * nonzeros are counted on the first images of the call, the same way for
 * every gradient source, so a fused and an unfused layer decide alike.
 * dW pays at a higher density than din (whose sparse updates read and
 * write memory). */
enum { NR_SPARSE_DW = 1, NR_SPARSE_DIN = 2 };
int nr_conv2d_sparse_parts(const nr_conv2d_dims *d, const nr_conv_grad_source *src);

/* The backward pass: din (may be NULL), dweight (may be NULL) and dbias
 * (may be NULL) ACCUMULATED, as nr_conv2d_backward; workspace of
 * nr_conv2d_sparse_workspace_floats(d) floats. Only after
 * nr_conv2d_direct_applies(d). */
void nr_conv2d_sparse_backward(const nr_conv2d_dims *d, const float *in, const float *weight,
                               const nr_conv_grad_source *src, float *din, float *dweight,
                               float *dbias, float *workspace);

#endif
