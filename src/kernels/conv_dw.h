/* conv_dw.h - private to src/kernels: the weight gradient of the direct
 * convolution (conv_direct.c) on its padded grid, with an AVX2 kernel and a
 * 32-register one (AVX-512VL: the same 8-float vectors, twice the
 * registers), chosen by an argument so that the tests run each one on any
 * CPU that has it (no global state).
 *
 *   dw[m, k] += sum_i sum_{q < Qp} G_i[m, q] * X_i[q + off[k]]
 *
 * for m < M, k < K, images i < count: image i's padded input planes at
 * x + i*stride, its gradient plane m at g + i*stride + m*PS (planes M..Mp-1
 * must be readable: zero planes, computed and not written). Every dw[m, k]
 * is summed the same way by every kernel and ISA (per lane over the images
 * then q ascending, then a fixed horizontal sum), so the ISAs give the same
 * bits. Only for NR_HAVE_AVX2_KERNELS builds, on a CPU where
 * nr_conv_dw_isa_runs(isa). */
#ifndef NETRUN_KERNELS_CONV_DW_H
#define NETRUN_KERNELS_CONV_DW_H

#include <stddef.h>
#include <stdint.h>

typedef enum nr_conv_dw_isa {
    NR_CONV_DW_AVX2,       /* AVX2 + FMA: 16 registers, 4 rows x 3 taps per tile */
    NR_CONV_DW_AVX512VL    /* + AVX-512F/VL: 32 registers, 4 rows x 6 taps */
} nr_conv_dw_isa;

/* The CPU (and this build) runs the kernels of isa. */
int nr_conv_dw_isa_runs(nr_conv_dw_isa isa);
/* The fastest isa the CPU runs (AVX2 when it has no AVX-512VL). */
nr_conv_dw_isa nr_conv_dw_best_isa(void);

/* Mp: M rounded up to 4. */
void nr_conv_dw_grid(nr_conv_dw_isa isa, int count, const float *x, const float *g,
                     size_t stride, size_t PS, int Qp, const int32_t *off, int M, int Mp, int K,
                     float *dw);

#endif
