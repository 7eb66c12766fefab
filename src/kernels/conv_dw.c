/* conv_dw.c - the direct convolution's weight gradient on its grid (see
 * conv_dw.h): 4-row tiles of 3 taps (AVX2: 12 accumulators of the 16
 * registers) or 6 taps (AVX-512VL: 24 of 32 registers, 10 loads per 24
 * fused multiply-adds instead of 7 per 12), then single taps for the rest.
 * Each dw[m, k] has its own accumulator, summed in the same order by every
 * tile, so tile shape and ISA do not change the bits. */
#include "conv_dw.h"

#include "avx2.h"

#if NR_HAVE_AVX2_KERNELS

/* AVX-512F + VL: 32 vector registers for AVX2-style 8-float code. */
#define NR_AVX512VL __attribute__((target("avx2,fma,avx512f,avx512vl")))

/* The sum of the 8 lanes in a fixed order: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). */
NR_AVX2 static float hsum(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);                      /* l0+l4, l1+l5, l2+l6, l3+l7 */
    __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));      /* (l0+l4)+(l2+l6), (l1+l5)+(l3+l7) */
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

/* Row r of a 3-tap tile: a_r,t += gv * v_t. */
#define DW3_ROW(r, gv)                                                                           \
    a##r##0 = _mm256_fmadd_ps(gv, v0, a##r##0), a##r##1 = _mm256_fmadd_ps(gv, v1, a##r##1),   \
    a##r##2 = _mm256_fmadd_ps(gv, v2, a##r##2)

/* dW tiles: rows m0..m0+3 (gradient planes g + m*PS), taps k0.. (3 or 1),
 * summed over `count` images (image i: x + i*xs, g + i*gs):
 * dw[m, k] += sum_i sum_{q < Qp} G_i[m, q] * X_i[q + off[k]]. Rows >= M
 * are computed on zero planes and not written. */
NR_AVX2 static void dw_tile_3(int count, const float *x, const float *g, size_t stride,
                              size_t PS, int Qp, const int32_t *off, int m0, int M, int k0,
                              float *dw, int K)
{
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
           a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    const int32_t o0 = off[k0], o1 = off[k0 + 1], o2 = off[k0 + 2];
    for (int img = 0; img < count; img++) {
        const float *g0 = g + (size_t)img * stride + (size_t)m0 * PS;
        const float *g1 = g0 + PS, *g2 = g1 + PS, *g3 = g2 + PS;
        const float *xi = x + (size_t)img * stride;
        const float *x0 = xi + o0, *x1 = xi + o1, *x2 = xi + o2;
        for (int q = 0; q < Qp; q += 8) {
            __m256 v0 = _mm256_loadu_ps(x0 + q), v1 = _mm256_loadu_ps(x1 + q),
                   v2 = _mm256_loadu_ps(x2 + q);
            DW3_ROW(0, _mm256_loadu_ps(g0 + q));
            DW3_ROW(1, _mm256_loadu_ps(g1 + q));
            DW3_ROW(2, _mm256_loadu_ps(g2 + q));
            DW3_ROW(3, _mm256_loadu_ps(g3 + q));
        }
    }
    float *d0 = dw + (size_t)m0 * K + k0;
    d0[0] += hsum(a00), d0[1] += hsum(a01), d0[2] += hsum(a02);
    if (m0 + 1 >= M)
        return;
    float *d1 = d0 + K;
    d1[0] += hsum(a10), d1[1] += hsum(a11), d1[2] += hsum(a12);
    if (m0 + 2 >= M)
        return;
    float *d2 = d1 + K;
    d2[0] += hsum(a20), d2[1] += hsum(a21), d2[2] += hsum(a22);
    if (m0 + 3 >= M)
        return;
    float *d3 = d2 + K;
    d3[0] += hsum(a30), d3[1] += hsum(a31), d3[2] += hsum(a32);
}

NR_AVX2 static void dw_tile_1(int count, const float *x, const float *g, size_t stride,
                              size_t PS, int Qp, const int32_t *off, int m0, int M, int k0,
                              float *dw, int K)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int img = 0; img < count; img++) {
        const float *g0 = g + (size_t)img * stride + (size_t)m0 * PS;
        const float *x0 = x + (size_t)img * stride + off[k0];
        for (int q = 0; q < Qp; q += 8) {
            __m256 v = _mm256_loadu_ps(x0 + q);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(g0 + q), v, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(g0 + PS + q), v, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(g0 + 2 * PS + q), v, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(g0 + 3 * PS + q), v, a3);
        }
    }
    float *d = dw + (size_t)m0 * K + k0;
    d[0] += hsum(a0);
    if (m0 + 1 < M)
        d[K] += hsum(a1);
    if (m0 + 2 < M)
        d[2 * (size_t)K] += hsum(a2);
    if (m0 + 3 < M)
        d[3 * (size_t)K] += hsum(a3);
}

/* 4 rows x 6 taps: 24 accumulators, each summed exactly as in dw_tile_3. */
#define DW6_ROW(r, gv)                                                                           \
    a##r##0 = _mm256_fmadd_ps(gv, v0, a##r##0), a##r##1 = _mm256_fmadd_ps(gv, v1, a##r##1),   \
    a##r##2 = _mm256_fmadd_ps(gv, v2, a##r##2), a##r##3 = _mm256_fmadd_ps(gv, v3, a##r##3),   \
    a##r##4 = _mm256_fmadd_ps(gv, v4, a##r##4), a##r##5 = _mm256_fmadd_ps(gv, v5, a##r##5)
#define DW6_STORE(r)                                                                             \
    if (m0 + r < M) {                                                                            \
        float *d = dw + (size_t)(m0 + r) * K + k0;                                               \
        d[0] += hsum(a##r##0), d[1] += hsum(a##r##1), d[2] += hsum(a##r##2);                     \
        d[3] += hsum(a##r##3), d[4] += hsum(a##r##4), d[5] += hsum(a##r##5);                     \
    }

NR_AVX512VL static void dw_tile_6(int count, const float *x, const float *g, size_t stride,
                                  size_t PS, int Qp, const int32_t *off, int m0, int M, int k0,
                                  float *dw, int K)
{
    const __m256 z = _mm256_setzero_ps();
    __m256 a00 = z, a01 = z, a02 = z, a03 = z, a04 = z, a05 = z;
    __m256 a10 = z, a11 = z, a12 = z, a13 = z, a14 = z, a15 = z;
    __m256 a20 = z, a21 = z, a22 = z, a23 = z, a24 = z, a25 = z;
    __m256 a30 = z, a31 = z, a32 = z, a33 = z, a34 = z, a35 = z;
    const int32_t o0 = off[k0], o1 = off[k0 + 1], o2 = off[k0 + 2], o3 = off[k0 + 3],
                  o4 = off[k0 + 4], o5 = off[k0 + 5];
    for (int img = 0; img < count; img++) {
        const float *g0 = g + (size_t)img * stride + (size_t)m0 * PS;
        const float *xi = x + (size_t)img * stride;
        for (int q = 0; q < Qp; q += 8) {
            const float *p = xi + q;
            const __m256 v0 = _mm256_loadu_ps(p + o0), v1 = _mm256_loadu_ps(p + o1),
                         v2 = _mm256_loadu_ps(p + o2), v3 = _mm256_loadu_ps(p + o3),
                         v4 = _mm256_loadu_ps(p + o4), v5 = _mm256_loadu_ps(p + o5);
            DW6_ROW(0, _mm256_loadu_ps(g0 + q));
            DW6_ROW(1, _mm256_loadu_ps(g0 + PS + q));
            DW6_ROW(2, _mm256_loadu_ps(g0 + 2 * PS + q));
            DW6_ROW(3, _mm256_loadu_ps(g0 + 3 * PS + q));
        }
    }
    DW6_STORE(0)
    DW6_STORE(1)
    DW6_STORE(2)
    DW6_STORE(3)
}

#endif /* NR_HAVE_AVX2_KERNELS */

int nr_conv_dw_isa_runs(nr_conv_dw_isa isa)
{
#if NR_HAVE_AVX2_KERNELS
    if (!nr_cpu_has_avx2_fma())
        return 0;
    return isa == NR_CONV_DW_AVX2 ||
           (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"));
#else
    (void)isa;
    return 0;
#endif
}

nr_conv_dw_isa nr_conv_dw_best_isa(void)
{
    return nr_conv_dw_isa_runs(NR_CONV_DW_AVX512VL) ? NR_CONV_DW_AVX512VL : NR_CONV_DW_AVX2;
}

void nr_conv_dw_grid(nr_conv_dw_isa isa, int count, const float *x, const float *g,
                     size_t stride, size_t PS, int Qp, const int32_t *off, int M, int Mp, int K,
                     float *dw)
{
#if NR_HAVE_AVX2_KERNELS
    for (int m0 = 0; m0 < Mp; m0 += 4) {
        int k0 = 0;
        if (isa == NR_CONV_DW_AVX512VL)
            for (; k0 + 6 <= K; k0 += 6)
                dw_tile_6(count, x, g, stride, PS, Qp, off, m0, M, k0, dw, K);
        for (; k0 + 3 <= K; k0 += 3)
            dw_tile_3(count, x, g, stride, PS, Qp, off, m0, M, k0, dw, K);
        for (; k0 < K; k0++)
            dw_tile_1(count, x, g, stride, PS, Qp, off, m0, M, k0, dw, K);
    }
#else
    (void)isa, (void)count, (void)x, (void)g, (void)stride, (void)PS, (void)Qp, (void)off,
        (void)M, (void)Mp, (void)K, (void)dw;
#endif
}
