/* vec.h - private helpers for src/kernels: small loops written so that GCC
 * vectorizes them at the project's -O2 (GCC 12's "very-cheap" vectorizer
 * cost model leaves plain loops of unknown trip count scalar; explicitly
 * unrolled bodies are vectorized by SLP). Every helper computes exactly the
 * operations it spells out, in a fixed order, so results do not depend on
 * alignment or on the compiler: determinism is kept without fast-math compiler flags. */
#ifndef NETRUN_KERNELS_VEC_H
#define NETRUN_KERNELS_VEC_H

#include <stddef.h>

/* d[i] += s[i], i < n. d and s must not overlap. */
static inline void nr_vadd(float *restrict d, const float *restrict s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        d[i + 0] += s[i + 0]; d[i + 1] += s[i + 1];
        d[i + 2] += s[i + 2]; d[i + 3] += s[i + 3];
        d[i + 4] += s[i + 4]; d[i + 5] += s[i + 5];
        d[i + 6] += s[i + 6]; d[i + 7] += s[i + 7];
    }
    if (i + 4 <= n) {   /* short rows (out_w 7 or 14) are common */
        d[i + 0] += s[i + 0]; d[i + 1] += s[i + 1];
        d[i + 2] += s[i + 2]; d[i + 3] += s[i + 3];
        i += 4;
    }
    for (; i < n; i++)
        d[i] += s[i];
}

/* d[i] = s[i] + v, i < n. d and s must not overlap. */
static inline void nr_vcopy_add_scalar(float *restrict d, const float *restrict s, float v,
                                       size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        d[i + 0] = s[i + 0] + v; d[i + 1] = s[i + 1] + v;
        d[i + 2] = s[i + 2] + v; d[i + 3] = s[i + 3] + v;
        d[i + 4] = s[i + 4] + v; d[i + 5] = s[i + 5] + v;
        d[i + 6] = s[i + 6] + v; d[i + 7] = s[i + 7] + v;
    }
    for (; i < n; i++)
        d[i] = s[i] + v;
}

/* d[i] = v, i < n. */
static inline void nr_vset(float *restrict d, float v, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        d[i + 0] = v; d[i + 1] = v; d[i + 2] = v; d[i + 3] = v;
        d[i + 4] = v; d[i + 5] = v; d[i + 6] = v; d[i + 7] = v;
    }
    for (; i < n; i++)
        d[i] = v;
}

/* Sum of s[0..n) with 8 interleaved partial sums (lane l takes i = l mod 8
 * of the full blocks), combined pairwise, then the tail in order. */
static inline float nr_vsum(const float *restrict s, size_t n)
{
    float a[8] = { 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            a[l] += s[i + (size_t)l];
    float t = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; i < n; i++)
        t += s[i];
    return t;
}

#endif
