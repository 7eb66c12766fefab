/* avx2.h - private to src/kernels: the set-up every AVX2 + FMA kernel file
 * shares (conv_direct.c, conv_sparse.c, dense_sparse.c). The build has no
 * -march flags: those kernels are compiled for AVX2 with a target attribute
 * and only called after a run-time check that the CPU has the instructions.
 * A build for another machine (not x86-64 with GCC or Clang) has
 * NR_HAVE_AVX2_KERNELS 0, none of the kernels, and checks that say no.
 *
 *   NR_AVX2          a function compiled for AVX2 + FMA
 *   NR_AVX2_INLINE   the same, always inlined into its NR_AVX2 callers
 *   NR_AVX2_POPCNT   a function compiled for AVX2 + FMA + POPCNT
 * and <immintrin.h> for the intrinsics. (simd.h is the other vector header:
 * portable 4-float vectors that need no target flags.)
 */
#ifndef NETRUN_KERNELS_AVX2_H
#define NETRUN_KERNELS_AVX2_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NR_HAVE_AVX2_KERNELS 1
#include <immintrin.h>
#define NR_AVX2 __attribute__((target("avx2,fma")))
#define NR_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline
#define NR_AVX2_POPCNT __attribute__((target("avx2,fma,popcnt")))
#else
#define NR_HAVE_AVX2_KERNELS 0
#endif

/* The CPU runs NR_AVX2 functions: it has AVX2 and FMA. */
static inline int nr_cpu_has_avx2_fma(void)
{
#if NR_HAVE_AVX2_KERNELS
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* The CPU runs NR_AVX2_POPCNT functions: AVX2, FMA and POPCNT. */
static inline int nr_cpu_has_avx2_fma_popcnt(void)
{
#if NR_HAVE_AVX2_KERNELS
    return nr_cpu_has_avx2_fma() && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

#endif
