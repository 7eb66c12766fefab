/* layers/backend.c - the two kernel tables a net can run on: what each
 * backend can do is said here (fast paths present or NULL), never by
 * comparing table addresses elsewhere. */
#include "layers/layer.h"

static const nr_dense_fast_kernels blas_dense_fast = {
    .workspace_floats = nr_dense_fast_workspace_floats,
    .forward_sparse_possible = nr_dense_forward_sparse_possible,
    .forward_sparse_pays = nr_dense_forward_sparse_pays,
    .transpose_weight = nr_dense_transpose_weight,
    .forward = nr_dense_forward_fast,
    .backward_weight_part = nr_dense_backward_weight_part,
    .backward_input = nr_dense_backward_input,
};

const nr_kernel_table nr_blas_kernels = {
    .conv2d_workspace_floats = nr_conv2d_fast_workspace_floats,
    .conv2d_forward = nr_conv2d_forward_fast,
    .conv2d_backward = nr_conv2d_backward_fast,
    .maxpool_forward = nr_maxpool_forward,
    .maxpool_backward = nr_maxpool_backward,
    .maxpool_backward_set = nr_maxpool_backward_set,
    .avgpool_forward = nr_avgpool_forward,
    .avgpool_backward = nr_avgpool_backward,
    .dense_forward = nr_dense_forward,
    .dense_backward = nr_dense_backward,
    .conv2d_fusable = nr_conv2d_direct_applies,
    .conv2d_fused_forward = nr_conv2d_fused_forward_direct,
    .conv2d_fused_backward = nr_conv2d_fused_backward_direct,
    .tanh_forward = nr_tanh_forward_fast,
    .sigmoid_forward = nr_sigmoid_forward_fast,
    .leaky_relu_forward = nr_leaky_relu_forward,
    .dense_fast = &blas_dense_fast,
};

const nr_kernel_table nr_reference_kernels = {
    .conv2d_workspace_floats = nr_conv2d_workspace_floats,
    .conv2d_forward = nr_ref_conv2d_forward,
    .conv2d_backward = nr_ref_conv2d_backward,
    .maxpool_forward = nr_ref_maxpool_forward,
    .maxpool_backward = nr_ref_maxpool_backward,
    .avgpool_forward = nr_ref_avgpool_forward,
    .avgpool_backward = nr_ref_avgpool_backward,
    .dense_forward = nr_ref_dense_forward,
    .dense_backward = nr_ref_dense_backward,
    .tanh_forward = nr_tanh_forward,
    .sigmoid_forward = nr_sigmoid_forward,
    .leaky_relu_forward = nr_leaky_relu_forward,
};
