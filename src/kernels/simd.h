/* simd.h - private to src/kernels: 4-float vectors through GCC/Clang vector
 * extensions (SSE2 on x86-64 at the project's -O2, NEON on arm64; no
 * target flags needed). Every operation is the exact IEEE operation of its
 * scalar counterpart, lane by lane, so vector and scalar code give the same
 * bits. Loads and stores go through memcpy: no alignment is assumed. */
#ifndef NETRUN_KERNELS_SIMD_H
#define NETRUN_KERNELS_SIMD_H

#include <stdint.h>
#include <string.h>

typedef float nr_v4f __attribute__((vector_size(16)));
typedef int32_t nr_v4i __attribute__((vector_size(16)));

static inline nr_v4f nr_v4f_load(const float *p)
{
    nr_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void nr_v4f_store(float *p, nr_v4f v)
{
    memcpy(p, &v, sizeof v);
}

static inline nr_v4i nr_v4i_load(const int32_t *p)
{
    nr_v4i v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void nr_v4i_store(int32_t *p, nr_v4i v)
{
    memcpy(p, &v, sizeof v);
}

static inline nr_v4f nr_v4f_splat(float x)
{
    return (nr_v4f){x, x, x, x};
}

/* lanes of v where mask is all ones, 0.0f elsewhere */
static inline nr_v4f nr_v4f_and(nr_v4f v, nr_v4i mask)
{
    return (nr_v4f)((nr_v4i)v & mask);
}

/* mask ? a : b, lane by lane (mask lanes all ones or all zeros) */
static inline nr_v4f nr_v4f_select(nr_v4i mask, nr_v4f a, nr_v4f b)
{
    return (nr_v4f)(((nr_v4i)a & mask) | ((nr_v4i)b & ~mask));
}

static inline nr_v4i nr_v4i_select(nr_v4i mask, nr_v4i a, nr_v4i b)
{
    return (a & mask) | (b & ~mask);
}

#if defined(__clang__)
#define NR_V4_EVEN(lo, hi) __builtin_shufflevector((lo), (hi), 0, 2, 4, 6)
#define NR_V4_ODD(lo, hi) __builtin_shufflevector((lo), (hi), 1, 3, 5, 7)
#define NR_V4_INTERLEAVE_LO(a, b) __builtin_shufflevector((a), (b), 0, 4, 1, 5)
#define NR_V4_INTERLEAVE_HI(a, b) __builtin_shufflevector((a), (b), 2, 6, 3, 7)
#else
#define NR_V4_EVEN(lo, hi) __builtin_shuffle((lo), (hi), (nr_v4i){0, 2, 4, 6})
#define NR_V4_ODD(lo, hi) __builtin_shuffle((lo), (hi), (nr_v4i){1, 3, 5, 7})
#define NR_V4_INTERLEAVE_LO(a, b) __builtin_shuffle((a), (b), (nr_v4i){0, 4, 1, 5})
#define NR_V4_INTERLEAVE_HI(a, b) __builtin_shuffle((a), (b), (nr_v4i){2, 6, 3, 7})
#endif

#endif
