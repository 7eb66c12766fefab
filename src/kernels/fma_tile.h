/* fma_tile.h - private to src/kernels: the register tiles of the AVX2 GEMMs
 * whose left operand is packed in 4-row panels (conv_direct.c's grid_gemm,
 * conv_winograd.c's element-wise GEMMs):
 *
 *   out[r][j] = sum_k a[k][r] * b[off[k] + j]   r < 4, j < n
 *
 * a: [K][4] (one panel, the 4 rows of one k side by side); row k of the
 * right operand starts at b + off[k] (off: [K], in floats: the direct
 * kernel's tap offsets into a padded image, or k * ldb for a plain matrix);
 * out: 4 rows ldo floats apart, n columns (a multiple of 8) overwritten.
 * The sum over k runs in k order in one FMA chain per output vector, so a
 * column's bits do not depend on the tile it falls in. Every accumulator is
 * a named local of an always-inlined function: they stay in registers
 * (arrays of vectors would go to the stack). Empty where avx2.h has no
 * kernels (NR_HAVE_AVX2_KERNELS 0). */
#ifndef NETRUN_KERNELS_FMA_TILE_H
#define NETRUN_KERNELS_FMA_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "avx2.h"

#if NR_HAVE_AVX2_KERNELS

/* 4 x 24: 12 accumulators, 3 loads of b and 4 broadcasts per 12 FMAs. */
NR_AVX2_INLINE void nr_fma_tile4x24(int K, const float *a, const float *b, const int32_t *off,
                                    float *out, size_t ldo)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
           c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    for (int k = 0; k < K; k++, a += 4) {
        const float *p = b + off[k];
        __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8), b2 = _mm256_loadu_ps(p + 16);
        __m256 w = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(w, b0, c00);
        c01 = _mm256_fmadd_ps(w, b1, c01);
        c02 = _mm256_fmadd_ps(w, b2, c02);
        w = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(w, b0, c10);
        c11 = _mm256_fmadd_ps(w, b1, c11);
        c12 = _mm256_fmadd_ps(w, b2, c12);
        w = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(w, b0, c20);
        c21 = _mm256_fmadd_ps(w, b1, c21);
        c22 = _mm256_fmadd_ps(w, b2, c22);
        w = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(w, b0, c30);
        c31 = _mm256_fmadd_ps(w, b1, c31);
        c32 = _mm256_fmadd_ps(w, b2, c32);
    }
    _mm256_storeu_ps(out, c00);
    _mm256_storeu_ps(out + 8, c01);
    _mm256_storeu_ps(out + 16, c02);
    out += ldo;
    _mm256_storeu_ps(out, c10);
    _mm256_storeu_ps(out + 8, c11);
    _mm256_storeu_ps(out + 16, c12);
    out += ldo;
    _mm256_storeu_ps(out, c20);
    _mm256_storeu_ps(out + 8, c21);
    _mm256_storeu_ps(out + 16, c22);
    out += ldo;
    _mm256_storeu_ps(out, c30);
    _mm256_storeu_ps(out + 8, c31);
    _mm256_storeu_ps(out + 16, c32);
}

/* 4 x 16: 8 accumulators. */
NR_AVX2_INLINE void nr_fma_tile4x16(int K, const float *a, const float *b, const int32_t *off,
                                    float *out, size_t ldo)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00;
    for (int k = 0; k < K; k++, a += 4) {
        const float *p = b + off[k];
        __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8);
        __m256 w = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(w, b0, c00);
        c01 = _mm256_fmadd_ps(w, b1, c01);
        w = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(w, b0, c10);
        c11 = _mm256_fmadd_ps(w, b1, c11);
        w = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(w, b0, c20);
        c21 = _mm256_fmadd_ps(w, b1, c21);
        w = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(w, b0, c30);
        c31 = _mm256_fmadd_ps(w, b1, c31);
    }
    _mm256_storeu_ps(out, c00);
    _mm256_storeu_ps(out + 8, c01);
    out += ldo;
    _mm256_storeu_ps(out, c10);
    _mm256_storeu_ps(out + 8, c11);
    out += ldo;
    _mm256_storeu_ps(out, c20);
    _mm256_storeu_ps(out + 8, c21);
    out += ldo;
    _mm256_storeu_ps(out, c30);
    _mm256_storeu_ps(out + 8, c31);
}

/* 4 x 8: 4 accumulators. */
NR_AVX2_INLINE void nr_fma_tile4x8(int K, const float *a, const float *b, const int32_t *off,
                                   float *out, size_t ldo)
{
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (int k = 0; k < K; k++, a += 4) {
        __m256 b0 = _mm256_loadu_ps(b + off[k]);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a), b0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
    }
    _mm256_storeu_ps(out, c0);
    _mm256_storeu_ps(out + ldo, c1);
    _mm256_storeu_ps(out + 2 * ldo, c2);
    _mm256_storeu_ps(out + 3 * ldo, c3);
}

/* One panel's n columns (a multiple of 8) in tiles: 24 at a time, but 32
 * left go as 16 + 16 (the 8-wide tile does 4 FMAs per load of b): 56 = 24 +
 * 16 + 16. */
NR_AVX2_INLINE void nr_fma_panel(int K, const float *a, const float *b, const int32_t *off, int n,
                                 float *out, size_t ldo)
{
    int q = 0;
    for (; q + 24 <= n && n - q != 32; q += 24)
        nr_fma_tile4x24(K, a, b + q, off, out + q, ldo);
    for (; q + 16 <= n; q += 16)
        nr_fma_tile4x16(K, a, b + q, off, out + q, ldo);
    for (; q < n; q += 8)
        nr_fma_tile4x8(K, a, b + q, off, out + q, ldo);
}

#endif /* NR_HAVE_AVX2_KERNELS */

#endif
