/* batchnorm_isa.h - private to src/kernels: the batchnorm share pieces of
 * netrun/kernels.h with the instruction set chosen by an argument, so that
 * the tests run each one on any CPU that has it (no global state). The
 * public functions call these with nr_batchnorm_best_isa().
 *
 * NR_BATCHNORM_AVX2 runs 8 floats at a time where the portable path runs 4
 * (simd.h), with the same operations in the same order and no fused
 * multiply-add: both give the same bits on every input. Only on a CPU where
 * nr_batchnorm_isa_runs(NR_BATCHNORM_AVX2); the portable path runs
 * everywhere. */
#ifndef NETRUN_KERNELS_BATCHNORM_ISA_H
#define NETRUN_KERNELS_BATCHNORM_ISA_H

#include <stdbool.h>
#include <stdint.h>

#include "netrun/kernels.h"

typedef enum nr_batchnorm_isa {
    NR_BATCHNORM_PORTABLE,   /* simd.h: 4 floats, any CPU */
    NR_BATCHNORM_AVX2        /* 8 floats; needs AVX2 (avx2.h) */
} nr_batchnorm_isa;

/* The CPU (and this build) runs isa. */
int nr_batchnorm_isa_runs(nr_batchnorm_isa isa);
/* AVX2 when the CPU runs it, else the portable path. */
nr_batchnorm_isa nr_batchnorm_best_isa(void);

/* nr_batchnorm_share_moments. */
void nr_batchnorm_share_moments_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                    const float *in, double *rows, size_t stride);
/* nr_batchnorm_normalize (relu false) / nr_batchnorm_normalize_relu (true). */
void nr_batchnorm_normalize_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                const float *in, const float *scale, const float *shift,
                                bool relu, float *out);
/* nr_batchnorm_normalize_relu_maxpool. */
void nr_batchnorm_normalize_relu_maxpool_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                             int h, int w, const float *in, const float *scale,
                                             const float *shift, float *pooled,
                                             int32_t *argmax, float *scratch);
/* nr_batchnorm_share_grad_sums. */
void nr_batchnorm_share_grad_sums_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                      const float *in, const nr_batchnorm_grad_src *src,
                                      const float *mean, const float *invstd, double *rows,
                                      size_t stride, float *scratch);
/* nr_batchnorm_share_input_grad. */
void nr_batchnorm_share_input_grad_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                       const float *in, const nr_batchnorm_grad_src *src,
                                       const float *mean, const float *invstd, const float *k,
                                       const float *mean_g, const float *mean_gx, bool set,
                                       float *din, float *scratch);

#endif
