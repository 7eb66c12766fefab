/* vmath.h - private to src/kernels: tanh and sigmoid without libm, for the
 * fast backend (activation.c's *_fast kernels and the fused convolution
 * epilogues of conv_epilogue.c). The reference backend keeps libm.
 *
 * Each function exists twice, with the SAME operations in the same order:
 * a scalar form (portable, also the vector forms' tails) and an 8-lane AVX2
 * form (avx2.h). Only IEEE add, sub, mul, div, floor and bit operations are
 * used, no fused multiply-add (the build does not contract a*b+c: C11 with
 * GNU extensions off), so the two forms give the same bits for every input
 * and the results do not depend on the CPU or on how a buffer is cut into
 * vectors. Deterministic.
 *
 * The algorithms are Cephes' (expf, tanhf):
 *   exp(x):  n = floor(x log2 e + 1/2), r = x - n ln2 (ln2 split in two),
 *            e^r by a degree-7 polynomial, times 2^n applied as two factors
 *            2^(n>>1) 2^(n-(n>>1)) so that results down to the subnormals
 *            are right (x clamped to [-104, 88.7]: e^x rounds to 0 below).
 *   tanh(x): |x| < 0.625: x + x z P(z), z = x^2 (odd minimax, Cephes);
 *            else 1 - 2 / (exp(2|x|) + 1) with |x| clamped to 10 (tanh
 *            rounds to 1 from 9.02 on); the sign restored by a bit.
 *   sigmoid: e = exp(-|x|), (x >= 0 ? 1 : e) / (1 + e): no overflow.
 * NaN in gives NaN out (the input itself); tanh(-0) = -0.
 *
 * Accuracy against double precision (tests/test_kernels.c,
 * test_fast_activation_accuracy: every 4093rd float from -inf to +inf and
 * every float in windows around the branch points, asserted): tanh within
 * 2 ulp (largest seen 1.31 ulp; 1.28 over every 97th float), sigmoid within
 * 3 ulp for results >= FLT_MIN (largest seen 2.25 ulp over every 97th
 * float) and 2e-45 absolute below; both within 1e-6 absolute everywhere and
 * monotone (non-decreasing) over the sweeps.
 */
#ifndef NETRUN_KERNELS_VMATH_H
#define NETRUN_KERNELS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "avx2.h"

#define NR_VM_EXP_HI 88.7f
#define NR_VM_EXP_LO (-104.0f)
#define NR_VM_LOG2E 1.44269504088896341f
#define NR_VM_LN2_HI 0.693359375f
#define NR_VM_LN2_LO (-2.12194440e-4f)
#define NR_VM_EXP_P0 1.9875691500e-4f
#define NR_VM_EXP_P1 1.3981999507e-3f
#define NR_VM_EXP_P2 8.3334519073e-3f
#define NR_VM_EXP_P3 4.1665795894e-2f
#define NR_VM_EXP_P4 1.6666665459e-1f
#define NR_VM_EXP_P5 5.0000001201e-1f
#define NR_VM_TANH_SMALL 0.625f
#define NR_VM_TANH_CLAMP 10.0f
#define NR_VM_TANH_P0 (-5.70498872745e-3f)
#define NR_VM_TANH_P1 2.06390887954e-2f
#define NR_VM_TANH_P2 (-5.37397155531e-2f)
#define NR_VM_TANH_P3 1.33314422036e-1f
#define NR_VM_TANH_P4 (-3.33332819422e-1f)

static inline float nr_vm_bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t nr_vm_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* e^x for x in [-104, 88.7] (the callers clamp). */
static inline float nr_vm_exp(float x)
{
    float n = floorf(x * NR_VM_LOG2E + 0.5f);
    float r = x - n * NR_VM_LN2_HI;
    r = r - n * NR_VM_LN2_LO;
    float z = r * r;
    float p = NR_VM_EXP_P0 * r + NR_VM_EXP_P1;
    p = p * r + NR_VM_EXP_P2;
    p = p * r + NR_VM_EXP_P3;
    p = p * r + NR_VM_EXP_P4;
    p = p * r + NR_VM_EXP_P5;
    p = p * z + r;
    p = p + 1.0f;
    int32_t ni = (int32_t)n, n1 = ni >> 1, n2 = ni - n1;
    float s1 = nr_vm_bits_float((uint32_t)(n1 + 127) << 23);
    float s2 = nr_vm_bits_float((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

static inline float nr_vm_tanh(float x)
{
    if (x != x)
        return x;
    const uint32_t sign = nr_vm_float_bits(x) & 0x80000000u;
    const float ax = fabsf(x);
    float r;
    if (ax < NR_VM_TANH_SMALL) {
        float z = ax * ax;
        float p = NR_VM_TANH_P0 * z + NR_VM_TANH_P1;
        p = p * z + NR_VM_TANH_P2;
        p = p * z + NR_VM_TANH_P3;
        p = p * z + NR_VM_TANH_P4;
        r = ax + ax * z * p;
    } else {
        float c = ax < NR_VM_TANH_CLAMP ? ax : NR_VM_TANH_CLAMP;
        float e = nr_vm_exp(c + c);
        r = 1.0f - 2.0f / (e + 1.0f);
    }
    return nr_vm_bits_float(nr_vm_float_bits(r) | sign);
}

static inline float nr_vm_sigmoid(float x)
{
    if (x != x)
        return x;
    float ax = fabsf(x);
    ax = ax < -NR_VM_EXP_LO ? ax : -NR_VM_EXP_LO;
    float e = nr_vm_exp(-ax);
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

#if NR_HAVE_AVX2_KERNELS

/* a * b + c, rounded twice (no fused multiply-add: the scalar forms' bits). */
NR_AVX2_INLINE __m256 nr_vm_mul_add8(__m256 a, __m256 b, float c)
{
    return _mm256_add_ps(_mm256_mul_ps(a, b), _mm256_set1_ps(c));
}

/* 8 lanes of nr_vm_exp (the same operations). */
NR_AVX2_INLINE __m256 nr_vm_exp8(__m256 x)
{
    __m256 n = _mm256_floor_ps(nr_vm_mul_add8(x, _mm256_set1_ps(NR_VM_LOG2E), 0.5f));
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(NR_VM_LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(NR_VM_LN2_LO)));
    __m256 z = _mm256_mul_ps(r, r);
    __m256 p = nr_vm_mul_add8(_mm256_set1_ps(NR_VM_EXP_P0), r, NR_VM_EXP_P1);
    p = nr_vm_mul_add8(p, r, NR_VM_EXP_P2);
    p = nr_vm_mul_add8(p, r, NR_VM_EXP_P3);
    p = nr_vm_mul_add8(p, r, NR_VM_EXP_P4);
    p = nr_vm_mul_add8(p, r, NR_VM_EXP_P5);
    p = _mm256_add_ps(_mm256_mul_ps(p, z), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);   /* n is integral: exact */
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* 8 lanes of nr_vm_tanh. */
NR_AVX2_INLINE __m256 nr_vm_tanh8(__m256 x)
{
    const __m256 signbit = _mm256_set1_ps(-0.0f);
    const __m256 sign = _mm256_and_ps(x, signbit);
    const __m256 ax = _mm256_andnot_ps(signbit, x);
    __m256 z = _mm256_mul_ps(ax, ax);
    __m256 p = nr_vm_mul_add8(_mm256_set1_ps(NR_VM_TANH_P0), z, NR_VM_TANH_P1);
    p = nr_vm_mul_add8(p, z, NR_VM_TANH_P2);
    p = nr_vm_mul_add8(p, z, NR_VM_TANH_P3);
    p = nr_vm_mul_add8(p, z, NR_VM_TANH_P4);
    __m256 small = _mm256_add_ps(ax, _mm256_mul_ps(_mm256_mul_ps(ax, z), p));
    /* min(ax, 10) with ax first: a NaN lane gives 10 here, replaced below */
    __m256 c = _mm256_min_ps(ax, _mm256_set1_ps(NR_VM_TANH_CLAMP));
    __m256 e = nr_vm_exp8(_mm256_add_ps(c, c));
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                               _mm256_div_ps(_mm256_set1_ps(2.0f),
                                             _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(NR_VM_TANH_SMALL), _CMP_LT_OQ);
    __m256 r = _mm256_or_ps(_mm256_blendv_ps(big, small, is_small), sign);
    return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* 8 lanes of nr_vm_sigmoid. */
NR_AVX2_INLINE __m256 nr_vm_sigmoid8(__m256 x)
{
    const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 c = _mm256_min_ps(ax, _mm256_set1_ps(-NR_VM_EXP_LO));
    __m256 e = nr_vm_exp8(_mm256_xor_ps(c, _mm256_set1_ps(-0.0f)));   /* -c */
    __m256 num = _mm256_blendv_ps(e, _mm256_set1_ps(1.0f),
                                  _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
    __m256 r = _mm256_div_ps(num, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

#endif /* NR_HAVE_AVX2_KERNELS */

#endif
