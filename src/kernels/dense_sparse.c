/* dense_sparse.c - the dense layer's fast kernels: zero-skipping forward and
 * weight gradient with AVX2 + FMA, chosen at run time when the CPU has them
 * (avx2.h: compiled for AVX2 + FMA + POPCNT with a target attribute, only
 * run after the CPU check), and a whole-batch weight gradient split by columns, so
 * threads write one shared gradient instead of one copy each. Other CPUs
 * and dense inputs take OpenBLAS. See netrun/kernels.h for the contract.
 *
 *   forward:  y[i, :] = b + sum over p with x[i, p] != 0 of x[i, p] * Wt[p, :]
 *             (Wt = W^T [in, out8], out8 = out rounded up to 8, refreshed
 *             from W by nr_dense_transpose_weight), p ascending, fused
 *             multiply-adds in registers (64 outputs at a time); per image,
 *             so a result does not depend on how the batch is split;
 *   dW:       per block of 8 input columns, each column's nonzero images are
 *             listed (i ascending), s[p, :] = sum over them of x[i, p] *
 *             dy[i, :] is accumulated in registers along the outputs, and
 *             dW[:, p..p+8) += s^T (8x8 transposes).
 * Skipping exact zeros gives what the dense sums give up to rounding for
 * finite weights (0 * w == 0); NaN inputs count as nonzero. Each kernel
 * falls back to BLAS when its input is too dense to gain (the density is
 * counted first). On CPUs with AVX-512 the forward runs
 * forward_sparse_avx512 and the weight gradient dweight_sparse_avx512
 * (16-column blocks, 128 outputs per pass): the same sums lane by lane, the
 * same bits. */
#include "netrun/kernels.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>

#include "avx2.h"
#include "vec.h"

#if NR_HAVE_AVX2_KERNELS
/* The register tiles below are arrays of vectors indexed by loop counters
 * with constant bounds: unrolled completely, they live in registers (at -O2
 * GCC would otherwise keep them in memory). */
#define UNROLL_8 _Pragma("GCC unroll 8")
#define UNROLL_16 _Pragma("GCC unroll 16")
#endif

enum {
    LANES = 8,          /* floats per AVX vector */
    LANES16 = 16,       /* floats per AVX-512 vector */
    OUT_TILE = 64,      /* outputs per forward register tile (8 vectors) */
    COL_UNIT = 16,      /* dW column parts start at multiples of 16 floats (cache lines) */
    PREFETCH = 8,       /* nonzeros ahead whose weight rows the forward prefetches */
    SAMPLE_FLOATS = 8192  /* inputs counted to choose between sparse and BLAS */
};

/* The sparse kernels run for layers of at least SPARSE_MIN_OUT outputs when
 * at most this share of the inputs is nonzero (measured on the 2-core test
 * machine, an AMD EPYC (Zen 3), against single-threaded OpenBLAS on
 * uniformly scattered nonzeros: the forward of 784->128 wins by 1.6x at 0.2
 * and loses at 0.4; the weight gradient wins by ~1.3x on MNIST pixels (0.18,
 * clustered) and breaks even at 0.2 scattered; for 10 outputs, as in
 * 1568->10, the forward gains less than the transpose costs and the weight
 * gradient loses 2x even at 0.1). */
enum { SPARSE_MIN_OUT = 32 };
static const double FORWARD_MAX_DENSITY = 0.3;
static const double DWEIGHT_MAX_DENSITY = 0.25;

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

/* [lo, hi) of part `part` of `parts` of [0, count), cut at multiples of unit. */
static void part_range(int count, int unit, int part, int parts, int *lo, int *hi)
{
    long units = ((long)count + unit - 1) / unit;
    long a = units * part / parts * unit, b = units * (part + 1) / parts * unit;
    *lo = (int)(a < count ? a : count);
    *hi = (int)(b < count ? b : count);
}

int nr_dense_sparse_available(void)
{
    return nr_cpu_has_avx2_fma_popcnt();
}

size_t nr_dense_weight_t_floats(const nr_dense_dims *d)
{
    return (size_t)d->in * round_up((size_t)d->out, LANES);
}

size_t nr_dense_fast_workspace_floats(const nr_dense_dims *d)
{
    /* forward: nonzero indices [in + 16] (int32) + values [in + 16] + padded
     * bias [out rounded up to 16]; dW: 8 column lists of images [8 (n+8)] (int32) and
     * values [8 (n+8)], 8 columns transposed [8 n], a tile [8][64] */
    size_t forward = 2 * ((size_t)d->in + LANES16) + round_up((size_t)d->out, LANES16);
    size_t dweight = 2 * (size_t)LANES * ((size_t)d->n + LANES) + (size_t)LANES * d->n +
                     (size_t)LANES * OUT_TILE;
    /* the AVX-512 dW: 16 lists [16 (n+16)] twice, xt [16 n], a tile [16][128] */
    size_t dweight16 = 2 * (size_t)LANES16 * ((size_t)d->n + LANES16) +
                       (size_t)LANES16 * d->n + (size_t)LANES16 * 2 * OUT_TILE;
    if (dweight16 > dweight)
        dweight = dweight16;
    return forward > dweight ? forward : dweight;
}

/* ---- the transposed weights ---- */

#if NR_HAVE_AVX2_KERNELS
/* dst[c, r] = src[r, c] for an 8x8 tile (row strides ss, ds). */
NR_AVX2_POPCNT static void transpose_8x8(const float *src, size_t ss, float *dst, size_t ds)
{
    __m256 r[8], t[8], s[8];
    UNROLL_8
    for (int k = 0; k < 8; k++)
        r[k] = _mm256_loadu_ps(src + (size_t)k * ss);
    UNROLL_8
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    UNROLL_8
    for (int k = 0; k < 8; k += 4) {
        s[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    UNROLL_8
    for (int k = 0; k < 4; k++) {
        _mm256_storeu_ps(dst + (size_t)k * ds, _mm256_permute2f128_ps(s[k], s[k + 4], 0x20));
        _mm256_storeu_ps(dst + (size_t)(k + 4) * ds,
                         _mm256_permute2f128_ps(s[k], s[k + 4], 0x31));
    }
}

/* The AVX-512 kernels (16-float vectors), run when the CPU has avx512f/bw/dq/vl. */
#define NR_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma,popcnt")))

static int cpu_has_avx512(void)
{
    return nr_cpu_has_avx2_fma_popcnt() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
}

/* r[c] = column c of the 16x16 tile in the rows r[0..16), in registers. */
NR_AVX512 __attribute__((always_inline)) static inline void transpose_16x16(__m512 *r)
{
    __m512 t[16];
    UNROLL_16
    for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    }
    /* r[4g + m], 128-bit lane L: rows 4g..4g+3 of column 4L + m */
    UNROLL_16
    for (int k = 0; k < 16; k += 4) {
        r[k] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    UNROLL_16
    for (int m = 0; m < 4; m++) {
        /* lanes (0, 2) and (1, 3) of rows 0-3 and 4-7, of rows 8-11 and 12-15 */
        const __m512 u0 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88);
        const __m512 u1 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xdd);
        const __m512 u2 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88);
        const __m512 u3 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xdd);
        t[m] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        t[8 + m] = _mm512_shuffle_f32x4(u0, u2, 0xdd);
        t[4 + m] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(u1, u3, 0xdd);
    }
    UNROLL_16
    for (int k = 0; k < 16; k++)
        r[k] = t[k];
}

#endif

void nr_dense_transpose_weight(const nr_dense_dims *d, const float *weight, float *weight_t,
                               int part, int parts)
{
    assert(parts >= 1 && part >= 0 && part < parts);
    const int in = d->in, out = d->out;
    const size_t out8 = round_up((size_t)out, LANES);
    int lo, hi;
    part_range(in, LANES, part, parts, &lo, &hi);
    int p = lo;
#if NR_HAVE_AVX2_KERNELS
    if (nr_dense_sparse_available()) {
        int full_out = out / LANES * LANES;
        for (; p + LANES <= hi; p += LANES)
            for (int j = 0; j < full_out; j += LANES)
                transpose_8x8(weight + (size_t)j * in + p, (size_t)in,
                              weight_t + (size_t)p * out8 + j, out8);
        /* the last out % 8 columns of these rows, below */
        for (int q = lo; q < p; q++)
            for (size_t j = (size_t)full_out; j < out8; j++)
                weight_t[(size_t)q * out8 + j] =
                    j < (size_t)out ? weight[j * in + (size_t)q] : 0.0f;
    }
#endif
    for (; p < hi; p++)
        for (size_t j = 0; j < out8; j++)
            weight_t[(size_t)p * out8 + j] = j < (size_t)out ? weight[j * in + (size_t)p] : 0.0f;
}

/* ---- forward ---- */

#if NR_HAVE_AVX2_KERNELS
/* LEFT_PACK[m]: byte k = the position of the k-th set bit of m (8 bits),
 * unused bytes 0: the permutation that packs the lanes selected by m to the
 * front of a vector. */
static const uint64_t LEFT_PACK[256] = {
    0x0000000000000000u, 0x0000000000000000u, 0x0000000000000001u, 0x0000000000000100u,
    0x0000000000000002u, 0x0000000000000200u, 0x0000000000000201u, 0x0000000000020100u,
    0x0000000000000003u, 0x0000000000000300u, 0x0000000000000301u, 0x0000000000030100u,
    0x0000000000000302u, 0x0000000000030200u, 0x0000000000030201u, 0x0000000003020100u,
    0x0000000000000004u, 0x0000000000000400u, 0x0000000000000401u, 0x0000000000040100u,
    0x0000000000000402u, 0x0000000000040200u, 0x0000000000040201u, 0x0000000004020100u,
    0x0000000000000403u, 0x0000000000040300u, 0x0000000000040301u, 0x0000000004030100u,
    0x0000000000040302u, 0x0000000004030200u, 0x0000000004030201u, 0x0000000403020100u,
    0x0000000000000005u, 0x0000000000000500u, 0x0000000000000501u, 0x0000000000050100u,
    0x0000000000000502u, 0x0000000000050200u, 0x0000000000050201u, 0x0000000005020100u,
    0x0000000000000503u, 0x0000000000050300u, 0x0000000000050301u, 0x0000000005030100u,
    0x0000000000050302u, 0x0000000005030200u, 0x0000000005030201u, 0x0000000503020100u,
    0x0000000000000504u, 0x0000000000050400u, 0x0000000000050401u, 0x0000000005040100u,
    0x0000000000050402u, 0x0000000005040200u, 0x0000000005040201u, 0x0000000504020100u,
    0x0000000000050403u, 0x0000000005040300u, 0x0000000005040301u, 0x0000000504030100u,
    0x0000000005040302u, 0x0000000504030200u, 0x0000000504030201u, 0x0000050403020100u,
    0x0000000000000006u, 0x0000000000000600u, 0x0000000000000601u, 0x0000000000060100u,
    0x0000000000000602u, 0x0000000000060200u, 0x0000000000060201u, 0x0000000006020100u,
    0x0000000000000603u, 0x0000000000060300u, 0x0000000000060301u, 0x0000000006030100u,
    0x0000000000060302u, 0x0000000006030200u, 0x0000000006030201u, 0x0000000603020100u,
    0x0000000000000604u, 0x0000000000060400u, 0x0000000000060401u, 0x0000000006040100u,
    0x0000000000060402u, 0x0000000006040200u, 0x0000000006040201u, 0x0000000604020100u,
    0x0000000000060403u, 0x0000000006040300u, 0x0000000006040301u, 0x0000000604030100u,
    0x0000000006040302u, 0x0000000604030200u, 0x0000000604030201u, 0x0000060403020100u,
    0x0000000000000605u, 0x0000000000060500u, 0x0000000000060501u, 0x0000000006050100u,
    0x0000000000060502u, 0x0000000006050200u, 0x0000000006050201u, 0x0000000605020100u,
    0x0000000000060503u, 0x0000000006050300u, 0x0000000006050301u, 0x0000000605030100u,
    0x0000000006050302u, 0x0000000605030200u, 0x0000000605030201u, 0x0000060503020100u,
    0x0000000000060504u, 0x0000000006050400u, 0x0000000006050401u, 0x0000000605040100u,
    0x0000000006050402u, 0x0000000605040200u, 0x0000000605040201u, 0x0000060504020100u,
    0x0000000006050403u, 0x0000000605040300u, 0x0000000605040301u, 0x0000060504030100u,
    0x0000000605040302u, 0x0000060504030200u, 0x0000060504030201u, 0x0006050403020100u,
    0x0000000000000007u, 0x0000000000000700u, 0x0000000000000701u, 0x0000000000070100u,
    0x0000000000000702u, 0x0000000000070200u, 0x0000000000070201u, 0x0000000007020100u,
    0x0000000000000703u, 0x0000000000070300u, 0x0000000000070301u, 0x0000000007030100u,
    0x0000000000070302u, 0x0000000007030200u, 0x0000000007030201u, 0x0000000703020100u,
    0x0000000000000704u, 0x0000000000070400u, 0x0000000000070401u, 0x0000000007040100u,
    0x0000000000070402u, 0x0000000007040200u, 0x0000000007040201u, 0x0000000704020100u,
    0x0000000000070403u, 0x0000000007040300u, 0x0000000007040301u, 0x0000000704030100u,
    0x0000000007040302u, 0x0000000704030200u, 0x0000000704030201u, 0x0000070403020100u,
    0x0000000000000705u, 0x0000000000070500u, 0x0000000000070501u, 0x0000000007050100u,
    0x0000000000070502u, 0x0000000007050200u, 0x0000000007050201u, 0x0000000705020100u,
    0x0000000000070503u, 0x0000000007050300u, 0x0000000007050301u, 0x0000000705030100u,
    0x0000000007050302u, 0x0000000705030200u, 0x0000000705030201u, 0x0000070503020100u,
    0x0000000000070504u, 0x0000000007050400u, 0x0000000007050401u, 0x0000000705040100u,
    0x0000000007050402u, 0x0000000705040200u, 0x0000000705040201u, 0x0000070504020100u,
    0x0000000007050403u, 0x0000000705040300u, 0x0000000705040301u, 0x0000070504030100u,
    0x0000000705040302u, 0x0000070504030200u, 0x0000070504030201u, 0x0007050403020100u,
    0x0000000000000706u, 0x0000000000070600u, 0x0000000000070601u, 0x0000000007060100u,
    0x0000000000070602u, 0x0000000007060200u, 0x0000000007060201u, 0x0000000706020100u,
    0x0000000000070603u, 0x0000000007060300u, 0x0000000007060301u, 0x0000000706030100u,
    0x0000000007060302u, 0x0000000706030200u, 0x0000000706030201u, 0x0000070603020100u,
    0x0000000000070604u, 0x0000000007060400u, 0x0000000007060401u, 0x0000000706040100u,
    0x0000000007060402u, 0x0000000706040200u, 0x0000000706040201u, 0x0000070604020100u,
    0x0000000007060403u, 0x0000000706040300u, 0x0000000706040301u, 0x0000070604030100u,
    0x0000000706040302u, 0x0000070604030200u, 0x0000070604030201u, 0x0007060403020100u,
    0x0000000000070605u, 0x0000000007060500u, 0x0000000007060501u, 0x0000000706050100u,
    0x0000000007060502u, 0x0000000706050200u, 0x0000000706050201u, 0x0000070605020100u,
    0x0000000007060503u, 0x0000000706050300u, 0x0000000706050301u, 0x0000070605030100u,
    0x0000000706050302u, 0x0000070605030200u, 0x0000070605030201u, 0x0007060503020100u,
    0x0000000007060504u, 0x0000000706050400u, 0x0000000706050401u, 0x0000070605040100u,
    0x0000000706050402u, 0x0000070605040200u, 0x0000070605040201u, 0x0007060504020100u,
    0x0000000706050403u, 0x0000070605040300u, 0x0000070605040301u, 0x0007060504030100u,
    0x0000070605040302u, 0x0007060504030200u, 0x0007060504030201u, 0x0706050403020100u
};

/* Nonzero entries of x[0..in): their indices and values, in order; returns
 * how many. idx and val have room for in + 8 (whole vectors are stored). */
NR_AVX2_POPCNT static int gather_nonzeros(const float *x, int in, int32_t *idx, float *val)
{
    const __m256 zero = _mm256_setzero_ps();
    int k = 0, p = 0;
    for (; p + LANES <= in; p += LANES) {
        const __m256 v = _mm256_loadu_ps(x + p);
        const unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
        const __m256i perm =
            _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)LEFT_PACK[m]));
        _mm256_storeu_si256((__m256i *)(idx + k), _mm256_add_epi32(perm, _mm256_set1_epi32(p)));
        _mm256_storeu_ps(val + k, _mm256_permutevar8x32_ps(v, perm));
        k += __builtin_popcount(m);
    }
    for (; p < in; p++)
        if (x[p] != 0.0f) {
            idx[k] = p;
            val[k] = x[p];
            k++;
        }
    return k;
}

NR_AVX2_POPCNT static size_t count_nonzeros(const float *x, size_t count)
{
    const __m256 zero = _mm256_setzero_ps();
    size_t k = 0, p = 0;
    for (; p + LANES <= count; p += LANES)
        k += (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_loadu_ps(x + p), zero, _CMP_NEQ_UQ)));
    for (; p < count; p++)
        k += x[p] != 0.0f;
    return k;
}

/* y[0..OUT_TILE) = bias8[0..OUT_TILE) + sum_k val[k] * wt[idx[k] * out8 + 0..OUT_TILE). */
NR_AVX2_POPCNT static void sparse_tile_64(int nnz, const int32_t *idx, const float *val,
                                   const float *wt, size_t out8, const float *bias8, float *y)
{
    __m256 acc[OUT_TILE / LANES];
    UNROLL_8
    for (int v = 0; v < OUT_TILE / LANES; v++)
        acc[v] = _mm256_loadu_ps(bias8 + v * LANES);
    for (int k = 0; k < nnz; k++) {
        const __m256 s = _mm256_set1_ps(val[k]);
        const float *w = wt + (size_t)idx[k] * out8;
        /* the rows are scattered over a weight matrix that lives in L2 */
        const char *ahead =
            (const char *)(wt + (size_t)idx[k + PREFETCH < nnz ? k + PREFETCH : k] * out8);
        for (int line = 0; line < OUT_TILE * (int)sizeof(float); line += 64)
            _mm_prefetch(ahead + line, _MM_HINT_T0);
        UNROLL_8
        for (int v = 0; v < OUT_TILE / LANES; v++)
            acc[v] = _mm256_fmadd_ps(s, _mm256_loadu_ps(w + v * LANES), acc[v]);
    }
    UNROLL_8
    for (int v = 0; v < OUT_TILE / LANES; v++)
        _mm256_storeu_ps(y + v * LANES, acc[v]);
}

/* The same for 16 outputs, of which y keeps the first `keep` (<= 16): two
 * chains per vector (even and odd k, added at the end) to hide the FMA
 * latency. */
NR_AVX2_POPCNT static void sparse_tile_16(int nnz, const int32_t *idx, const float *val,
                                   const float *wt, size_t out8, const float *bias8, float *y,
                                   int keep)
{
    __m256 a0 = _mm256_loadu_ps(bias8), a1 = _mm256_loadu_ps(bias8 + LANES);
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    int k = 0;
    for (; k + 2 <= nnz; k += 2) {
        const float *w = wt + (size_t)idx[k] * out8, *u = wt + (size_t)idx[k + 1] * out8;
        const __m256 s = _mm256_set1_ps(val[k]), t = _mm256_set1_ps(val[k + 1]);
        a0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(w), a0);
        a1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(w + LANES), a1);
        b0 = _mm256_fmadd_ps(t, _mm256_loadu_ps(u), b0);
        b1 = _mm256_fmadd_ps(t, _mm256_loadu_ps(u + LANES), b1);
    }
    if (k < nnz) {
        const float *w = wt + (size_t)idx[k] * out8;
        const __m256 s = _mm256_set1_ps(val[k]);
        a0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(w), a0);
        a1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(w + LANES), a1);
    }
    float tmp[2 * LANES];
    _mm256_storeu_ps(tmp, _mm256_add_ps(a0, b0));
    _mm256_storeu_ps(tmp + LANES, _mm256_add_ps(a1, b1));
    memcpy(y, tmp, (size_t)keep * sizeof *y);
}

/* The same for 8 outputs, of which y keeps the first `keep` (<= 8). */
NR_AVX2_POPCNT static void sparse_tile_8(int nnz, const int32_t *idx, const float *val,
                                  const float *wt, size_t out8, const float *bias8, float *y,
                                  int keep)
{
    __m256 acc0 = _mm256_loadu_ps(bias8), acc1 = _mm256_setzero_ps();
    int k = 0;
    /* two chains (even and odd k), added at the end */
    for (; k + 2 <= nnz; k += 2) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(val[k]),
                               _mm256_loadu_ps(wt + (size_t)idx[k] * out8), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(val[k + 1]),
                               _mm256_loadu_ps(wt + (size_t)idx[k + 1] * out8), acc1);
    }
    if (k < nnz)
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(val[k]),
                               _mm256_loadu_ps(wt + (size_t)idx[k] * out8), acc0);
    float tmp[LANES];
    _mm256_storeu_ps(tmp, _mm256_add_ps(acc0, acc1));
    memcpy(y, tmp, (size_t)keep * sizeof *y);
}

NR_AVX2_POPCNT static void forward_sparse_avx2(const nr_dense_dims *d, const float *x, const float *weight_t,
                                   const float *bias, float *y, float *workspace)
{
    const int in = d->in, out = d->out;
    const size_t out8 = round_up((size_t)out, LANES);
    int32_t *idx = (int32_t *)workspace;
    float *val = workspace + in + LANES16;
    float *bias8 = val + in + LANES16;
    for (size_t j = 0; j < out8; j++)
        bias8[j] = bias && j < (size_t)out ? bias[j] : 0.0f;
    for (int i = 0; i < d->n; i++) {
        int nnz = gather_nonzeros(x + (size_t)i * in, in, idx, val);
        float *yi = y + (size_t)i * out;
        int j = 0;
        for (; j + OUT_TILE <= out; j += OUT_TILE)
            sparse_tile_64(nnz, idx, val, weight_t + j, out8, bias8 + j, yi + j);
        for (; j + LANES < out; j += 2 * LANES)
            sparse_tile_16(nnz, idx, val, weight_t + j, out8, bias8 + j, yi + j,
                           out - j < 2 * LANES ? out - j : 2 * LANES);
        for (; j < out; j += LANES)
            sparse_tile_8(nnz, idx, val, weight_t + j, out8, bias8 + j, yi + j,
                          out - j < LANES ? out - j : LANES);
    }
}
#endif

#if NR_HAVE_AVX2_KERNELS
/* ---- the forward with AVX-512 ----
 * The same sums as the AVX2 kernels, lane by lane (bit-identical results):
 * one chain per output for the 64-output tiles of the AVX2 path (here 128
 * or 64 outputs per pass over an image's nonzeros, half the passes), and
 * for the last out % 64 outputs two chains (even and odd nonzeros, added at
 * the end) as in sparse_tile_16/8. The weight rows stream from L2: one pass
 * over the nonzeros per 128 outputs reads each row's lines once. */
/* gather_nonzeros with 16 lanes: idx and val have room for in + 16. */
NR_AVX512 static int gather_nonzeros_16(const float *x, int in, int32_t *idx, float *val)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int k = 0, p = 0;
    for (; p < in; p += LANES16) {
        const __mmask16 live = in - p >= LANES16 ? (__mmask16)0xffff
                                                 : (__mmask16)((1u << (in - p)) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(live, x + p);
        const __mmask16 m =
            _mm512_mask_cmp_ps_mask(live, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        /* compress in registers, then one plain store (Zen 4's compressing
         * store to memory is slow) */
        _mm512_storeu_ps(val + k, _mm512_maskz_compress_ps(m, v));
        _mm512_storeu_si512(idx + k, _mm512_maskz_compress_epi32(
                                         m, _mm512_add_epi32(lane, _mm512_set1_epi32(p))));
        k += __builtin_popcount(m);
    }
    return k;
}

/* y[0 .. 16 V) = bias[..] + sum_k val[k] * wt[idx[k] * out8 + ..], one chain
 * per output (V vectors of 16). */
#define DEFINE_SPARSE_TILE_512(V)                                                            \
    NR_AVX512 static void sparse_tile_512_##V(int nnz, const int32_t *idx, const float *val,  \
                                              const float *wt, size_t out8,                   \
                                              const float *bias, float *y)                    \
    {                                                                                         \
        __m512 acc[V];                                                                        \
        UNROLL_8                                                                              \
        for (int v = 0; v < (V); v++)                                                         \
            acc[v] = _mm512_loadu_ps(bias + v * LANES16);                                     \
        for (int k = 0; k < nnz; k++) {                                                       \
            const __m512 s = _mm512_set1_ps(val[k]);                                          \
            const float *w = wt + (size_t)idx[k] * out8;                                      \
            UNROLL_8                                                                          \
            for (int v = 0; v < (V); v++)                                                     \
                acc[v] = _mm512_fmadd_ps(s, _mm512_loadu_ps(w + v * LANES16), acc[v]);       \
        }                                                                                     \
        UNROLL_8                                                                              \
        for (int v = 0; v < (V); v++)                                                         \
            _mm512_storeu_ps(y + v * LANES16, acc[v]);                                        \
    }
DEFINE_SPARSE_TILE_512(8)
DEFINE_SPARSE_TILE_512(4)

/* The outputs [0, lanes) (lanes <= 16) with two chains, as sparse_tile_16/8:
 * the lanes past `lanes` are neither loaded nor stored. */
NR_AVX512 static void sparse_tile_512_tail(int nnz, const int32_t *idx, const float *val,
                                           const float *wt, size_t out8, const float *bias,
                                           float *y, int lanes)
{
    const __mmask16 live = (__mmask16)((1u << lanes) - 1u);
    __m512 a = _mm512_maskz_loadu_ps(live, bias), b = _mm512_setzero_ps();
    int k = 0;
    for (; k + 2 <= nnz; k += 2) {
        a = _mm512_fmadd_ps(_mm512_set1_ps(val[k]),
                            _mm512_maskz_loadu_ps(live, wt + (size_t)idx[k] * out8), a);
        b = _mm512_fmadd_ps(_mm512_set1_ps(val[k + 1]),
                            _mm512_maskz_loadu_ps(live, wt + (size_t)idx[k + 1] * out8), b);
    }
    if (k < nnz)
        a = _mm512_fmadd_ps(_mm512_set1_ps(val[k]),
                            _mm512_maskz_loadu_ps(live, wt + (size_t)idx[k] * out8), a);
    _mm512_mask_storeu_ps(y, live, _mm512_add_ps(a, b));
}

NR_AVX512 static void forward_sparse_avx512(const nr_dense_dims *d, const float *x,
                                            const float *weight_t, const float *bias, float *y,
                                            float *workspace)
{
    const int in = d->in, out = d->out;
    const size_t out8 = round_up((size_t)out, LANES);
    int32_t *idx = (int32_t *)workspace;
    float *val = workspace + in + LANES16;
    float *bias16 = val + in + LANES16;
    for (size_t j = 0; j < round_up((size_t)out, LANES16); j++)
        bias16[j] = bias && j < (size_t)out ? bias[j] : 0.0f;
    for (int i = 0; i < d->n; i++) {
        const int nnz = gather_nonzeros_16(x + (size_t)i * in, in, idx, val);
        float *yi = y + (size_t)i * out;
        int j = 0;
        for (; j + 2 * OUT_TILE <= out; j += 2 * OUT_TILE)
            sparse_tile_512_8(nnz, idx, val, weight_t + j, out8, bias16 + j, yi + j);
        for (; j + OUT_TILE <= out; j += OUT_TILE)
            sparse_tile_512_4(nnz, idx, val, weight_t + j, out8, bias16 + j, yi + j);
        for (; j < out; j += LANES16)
            sparse_tile_512_tail(nnz, idx, val, weight_t + j, out8, bias16 + j, yi + j,
                                 out - j < LANES16 ? out - j : LANES16);
    }
}
#endif

/* The share of nonzeros in a sample of the images of x [n, in]: every
 * step-th image, about SAMPLE_FLOATS inputs (all of them for small batches). */
static double sampled_density(const nr_dense_dims *d, const float *x)
{
    int step = (int)((size_t)d->n * d->in / SAMPLE_FLOATS) + 1;
    size_t nonzero = 0, count = 0;
    for (int i = 0; i < d->n; i += step) {
#if NR_HAVE_AVX2_KERNELS
        nonzero += count_nonzeros(x + (size_t)i * d->in, (size_t)d->in);
#else
        for (int p = 0; p < d->in; p++)
            nonzero += x[(size_t)i * d->in + p] != 0.0f;
#endif
        count += (size_t)d->in;
    }
    return (double)nonzero / (double)count;
}

int nr_dense_forward_sparse_possible(const nr_dense_dims *d)
{
    return d->out >= SPARSE_MIN_OUT && nr_dense_sparse_available();
}

int nr_dense_forward_sparse_pays(const nr_dense_dims *d, const float *x)
{
    assert(d->n > 0 && d->in > 0 && d->out > 0);
    return nr_dense_forward_sparse_possible(d) && sampled_density(d, x) <= FORWARD_MAX_DENSITY;
}

void nr_dense_forward_fast(const nr_dense_dims *d, const float *x, const float *weight,
                           const float *weight_t, const float *bias, float *y,
                           float *workspace)
{
    assert(d->n > 0 && d->in > 0 && d->out > 0);
#if NR_HAVE_AVX2_KERNELS
    if (weight_t && nr_dense_sparse_available()) {
        if (cpu_has_avx512())
            forward_sparse_avx512(d, x, weight_t, bias, y, workspace);
        else
            forward_sparse_avx2(d, x, weight_t, bias, y, workspace);
        return;
    }
#endif
    (void)weight_t;
    (void)workspace;
    nr_dense_forward(d, x, weight, bias, y);
}

int nr_dense_forward_sparse_isa(nr_dense_isa isa, const nr_dense_dims *d, const float *x,
                                const float *weight_t, const float *bias, float *y,
                                float *workspace)
{
    assert(d->n > 0 && d->in > 0 && d->out > 0);
#if NR_HAVE_AVX2_KERNELS
    if (isa == NR_DENSE_AVX512 && cpu_has_avx512()) {
        forward_sparse_avx512(d, x, weight_t, bias, y, workspace);
        return 1;
    }
    if (isa == NR_DENSE_AVX2 && nr_dense_sparse_available()) {
        forward_sparse_avx2(d, x, weight_t, bias, y, workspace);
        return 1;
    }
#endif
    (void)isa;
    (void)x;
    (void)weight_t;
    (void)bias;
    (void)y;
    (void)workspace;
    return 0;
}

/* ---- weight gradient, one column part of the whole batch ---- */

#if NR_HAVE_AVX2_KERNELS
/* Lists of the nonzero entries of the 8 columns x[:, p..p+8): for column b,
 * the images i (ascending) in img[b * (n+8) ..] and the values in
 * val[b * (n+8) ..], count[b] of them, via the columns transposed into
 * xt [8][n]. Returns the total. */
NR_AVX2_POPCNT static int column_lists(const nr_dense_dims *d, const float *x, int p, float *xt,
                                int32_t *img, float *val, int *count)
{
    const int n = d->n, stride = n + LANES;
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        transpose_8x8(x + (size_t)i * d->in + p, (size_t)d->in, xt + i, (size_t)n);
    for (; i < n; i++)
        for (int b = 0; b < LANES; b++)
            xt[b * n + i] = x[(size_t)i * d->in + p + b];
    int total = 0;
    for (int b = 0; b < LANES; b++) {
        count[b] = gather_nonzeros(xt + b * n, n, img + b * stride, val + b * stride);
        total += count[b];
    }
    return total;
}

/* t[b * OUT_TILE + v*8 ..] = sum over column b's list of val * dy[i, j + v*8 ..]
 * for the 8 vectors of a 64-output tile. */
NR_AVX2_POPCNT static void column_tile_64(const nr_dense_dims *d, const float *dy, int j,
                                   const int32_t *img, const float *val, const int *count,
                                   float *t)
{
    for (int b = 0; b < LANES; b++) {
        __m256 acc[OUT_TILE / LANES];
        UNROLL_8
        for (int v = 0; v < OUT_TILE / LANES; v++)
            acc[v] = _mm256_setzero_ps();
        const int32_t *ib = img + b * (d->n + LANES);
        const float *vb = val + b * (d->n + LANES);
        for (int k = 0; k < count[b]; k++) {
            const __m256 s = _mm256_set1_ps(vb[k]);
            const float *g = dy + (size_t)ib[k] * d->out + j;
            UNROLL_8
            for (int v = 0; v < OUT_TILE / LANES; v++)
                acc[v] = _mm256_fmadd_ps(s, _mm256_loadu_ps(g + v * LANES), acc[v]);
        }
        UNROLL_8
        for (int v = 0; v < OUT_TILE / LANES; v++)
            _mm256_storeu_ps(t + b * OUT_TILE + v * LANES, acc[v]);
    }
}

/* The same for the 8 (or, at the end of a row, fewer: `lanes`) outputs at j;
 * t[b * OUT_TILE ..] gets 8 floats (zero past lanes). */
NR_AVX2_POPCNT static void column_tile_8(const nr_dense_dims *d, const float *dy, int j, int lanes,
                                  const int32_t *img, const float *val, const int *count,
                                  float *t)
{
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int b = 0; b < LANES; b++) {
        __m256 acc = _mm256_setzero_ps();
        const int32_t *ib = img + b * (d->n + LANES);
        const float *vb = val + b * (d->n + LANES);
        for (int k = 0; k < count[b]; k++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(vb[k]),
                                  _mm256_maskload_ps(dy + (size_t)ib[k] * d->out + j, mask), acc);
        _mm256_storeu_ps(t + b * OUT_TILE, acc);
    }
}

/* dW[j + r, p..p+8) += t[0..8)[r] for r < rows (<= 8): the transposed tile
 * columns r0..r0+8 of t. */
NR_AVX2_POPCNT static void add_transposed(const float *t, int rows, float *dweight, size_t in)
{
    float tt[LANES * LANES];
    transpose_8x8(t, OUT_TILE, tt, LANES);
    for (int r = 0; r < rows; r++) {
        float *w = dweight + (size_t)r * in;
        _mm256_storeu_ps(w, _mm256_add_ps(_mm256_loadu_ps(w), _mm256_loadu_ps(tt + r * LANES)));
    }
}

/* Columns [lo, hi): per 8-column block, each column's sum over its nonzero
 * images accumulated along the outputs, then added to dW transposed. */
NR_AVX2_POPCNT static void dweight_sparse(const nr_dense_dims *d, const float *x, const float *dy,
                                   float *dweight, int lo, int hi, float *workspace)
{
    const int blocks_end = lo + (hi - lo) / LANES * LANES;
    const size_t lists = (size_t)LANES * (d->n + LANES);
    int32_t *img = (int32_t *)workspace;
    float *val = workspace + lists;
    float *xt = val + lists;                   /* [8][n] */
    float *t = xt + (size_t)LANES * d->n;      /* [8][OUT_TILE] */
    int count[LANES];
    for (int p = lo; p < blocks_end; p += LANES) {
        if (!column_lists(d, x, p, xt, img, val, count))
            continue;
        int j = 0;
        for (; j + OUT_TILE <= d->out; j += OUT_TILE) {
            column_tile_64(d, dy, j, img, val, count, t);
            for (int r = 0; r < OUT_TILE; r += LANES)
                add_transposed(t + r, LANES, dweight + (size_t)(j + r) * d->in + p,
                               (size_t)d->in);
        }
        for (; j < d->out; j += LANES) {
            int lanes = d->out - j < LANES ? d->out - j : LANES;
            column_tile_8(d, dy, j, lanes, img, val, count, t);
            add_transposed(t, lanes, dweight + (size_t)j * d->in + p, (size_t)d->in);
        }
    }
    /* the last in % 8 columns: plain loops (images ascending) */
    for (int j = 0; j < d->out; j++)
        for (int p = blocks_end; p < hi; p++) {
            float sum = 0.0f;
            for (int i = 0; i < d->n; i++) {
                const float xv = x[(size_t)i * d->in + p];
                if (xv != 0.0f)
                    sum += dy[(size_t)i * d->out + j] * xv;
            }
            dweight[(size_t)j * d->in + p] += sum;
        }
}

/* ---- the weight gradient with AVX-512 ----
 * Blocks of 16 input columns: the columns' lists built from a 16x16
 * transposed copy, 128 outputs per pass over a column's list (8 zmm
 * chains), and each dW row updated 16 columns (a cache line) at a time.
 * Every dW element is still one chain s = fma(x[i, p], dy[i, j], s) over its
 * column's nonzero images ascending, from 0, added once to dW: what
 * dweight_sparse computes, bit for bit. The part's last (hi - lo) % 16
 * columns go to dweight_sparse. */
enum { DW_COLS = 16, DW_TILE = 128 };

/* column_lists for the 16 columns x[:, p..p+16): xt [16][n], lists of
 * stride n + 16. Returns the total. */
NR_AVX512 static int column_lists_16(const nr_dense_dims *d, const float *x, int p, float *xt,
                                     int32_t *img, float *val, int *count)
{
    const int n = d->n, stride = n + LANES16;
    int i = 0;
    for (; i + DW_COLS <= n; i += DW_COLS) {
        __m512 r[16];
        UNROLL_16
        for (int k = 0; k < 16; k++)
            r[k] = _mm512_loadu_ps(x + (size_t)(i + k) * d->in + p);
        transpose_16x16(r);
        UNROLL_16
        for (int k = 0; k < 16; k++)
            _mm512_storeu_ps(xt + (size_t)k * n + i, r[k]);
    }
    for (; i < n; i++)
        for (int b = 0; b < DW_COLS; b++)
            xt[b * n + i] = x[(size_t)i * d->in + p + b];
    int total = 0;
    for (int b = 0; b < DW_COLS; b++) {
        count[b] = gather_nonzeros_16(xt + b * n, n, img + b * stride, val + b * stride);
        total += count[b];
    }
    return total;
}

/* t[b * DW_TILE + 16 v ..] = sum over column b's list of val * dy[i, j + 16 v ..]
 * for V vectors of 16 outputs. */
#define DEFINE_COLUMN_TILE_512(V)                                                            \
    NR_AVX512 static void column_tile_512_##V(const nr_dense_dims *d, const float *dy, int j, \
                                              const int32_t *img, const float *val,           \
                                              const int *count, float *t)                     \
    {                                                                                         \
        for (int b = 0; b < DW_COLS; b++) {                                                   \
            __m512 acc[V];                                                                    \
            UNROLL_8                                                                          \
            for (int v = 0; v < (V); v++)                                                     \
                acc[v] = _mm512_setzero_ps();                                                 \
            const int32_t *ib = img + b * (d->n + LANES16);                                   \
            const float *vb = val + b * (d->n + LANES16);                                     \
            for (int k = 0; k < count[b]; k++) {                                              \
                const __m512 s = _mm512_set1_ps(vb[k]);                                       \
                const float *g = dy + (size_t)ib[k] * d->out + j;                             \
                UNROLL_8                                                                      \
                for (int v = 0; v < (V); v++)                                                 \
                    acc[v] = _mm512_fmadd_ps(s, _mm512_loadu_ps(g + v * LANES16), acc[v]);   \
            }                                                                                 \
            UNROLL_8                                                                          \
            for (int v = 0; v < (V); v++)                                                     \
                _mm512_storeu_ps(t + b * DW_TILE + v * LANES16, acc[v]);                      \
        }                                                                                     \
    }
DEFINE_COLUMN_TILE_512(8)
DEFINE_COLUMN_TILE_512(4)
DEFINE_COLUMN_TILE_512(1)

/* The same for the last `lanes` (< 16) outputs at j (zero past them). */
NR_AVX512 static void column_tile_512_tail(const nr_dense_dims *d, const float *dy, int j,
                                           int lanes, const int32_t *img, const float *val,
                                           const int *count, float *t)
{
    const __mmask16 live = (__mmask16)((1u << lanes) - 1u);
    for (int b = 0; b < DW_COLS; b++) {
        __m512 acc = _mm512_setzero_ps();
        const int32_t *ib = img + b * (d->n + LANES16);
        const float *vb = val + b * (d->n + LANES16);
        for (int k = 0; k < count[b]; k++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(vb[k]),
                                  _mm512_maskz_loadu_ps(live, dy + (size_t)ib[k] * d->out + j),
                                  acc);
        _mm512_storeu_ps(t + b * DW_TILE, acc);
    }
}

/* dW[r, 0..16) += t[0..16)[r] for r < rows (<= 16): tile columns 0..16 of t
 * (rows of stride DW_TILE) transposed. */
NR_AVX512 static void add_transposed_16(const float *t, int rows, float *dweight, size_t in)
{
    __m512 r[16];
    UNROLL_16
    for (int k = 0; k < 16; k++)
        r[k] = _mm512_loadu_ps(t + k * DW_TILE);
    transpose_16x16(r);
    for (int k = 0; k < rows; k++) {
        float *w = dweight + (size_t)k * in;
        _mm512_storeu_ps(w, _mm512_add_ps(_mm512_loadu_ps(w), r[k]));
    }
}

NR_AVX512 static void dweight_sparse_avx512(const nr_dense_dims *d, const float *x,
                                            const float *dy, float *dweight, int lo, int hi,
                                            float *workspace)
{
    const int blocks_end = lo + (hi - lo) / DW_COLS * DW_COLS;
    const size_t lists = (size_t)DW_COLS * (d->n + LANES16);
    int32_t *img = (int32_t *)workspace;
    float *val = workspace + lists;
    float *xt = val + lists;                  /* [16][n] */
    float *t = xt + (size_t)DW_COLS * d->n;   /* [16][DW_TILE] */
    const int out = d->out;
    int count[DW_COLS];
    for (int p = lo; p < blocks_end; p += DW_COLS) {
        if (!column_lists_16(d, x, p, xt, img, val, count))
            continue;
        float *dw = dweight + p;
        for (int j = 0; j < out;) {
            int width;
            if (j + DW_TILE <= out) {
                column_tile_512_8(d, dy, j, img, val, count, t);
                width = DW_TILE;
            } else if (j + 4 * LANES16 <= out) {
                column_tile_512_4(d, dy, j, img, val, count, t);
                width = 4 * LANES16;
            } else if (j + LANES16 <= out) {
                column_tile_512_1(d, dy, j, img, val, count, t);
                width = LANES16;
            } else {
                column_tile_512_tail(d, dy, j, out - j, img, val, count, t);
                width = out - j;
            }
            for (int r = 0; r < width; r += LANES16)
                add_transposed_16(t + r, width - r < LANES16 ? width - r : LANES16,
                                  dw + (size_t)(j + r) * d->in, (size_t)d->in);
            j += width;
        }
    }
    if (blocks_end < hi)
        dweight_sparse(d, x, dy, dweight, blocks_end, hi, workspace);
}
#endif

void nr_dense_backward_weight_part(const nr_dense_dims *d, const float *x, const float *dy,
                                   float *dweight, float *dbias, int part, int parts,
                                   float *workspace)
{
    assert(d->n > 0 && d->in > 0 && d->out > 0);
    assert(parts >= 1 && part >= 0 && part < parts);
    int lo, hi;
    part_range(d->in, COL_UNIT, part, parts, &lo, &hi);
    if (lo < hi) {
        int done = 0;
#if NR_HAVE_AVX2_KERNELS
        /* decided on the whole batch: the same path for every part */
        if (d->out >= SPARSE_MIN_OUT && nr_dense_sparse_available() &&
            sampled_density(d, x) <= DWEIGHT_MAX_DENSITY) {
            if (cpu_has_avx512())
                dweight_sparse_avx512(d, x, dy, dweight, lo, hi, workspace);
            else
                dweight_sparse(d, x, dy, dweight, lo, hi, workspace);
            done = 1;
        }
#endif
        (void)workspace;
        if (!done) /* dW[:, lo:hi] += dy[n, out]^T x[n, lo:hi] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d->out, hi - lo, d->n, 1.0f,
                        dy, d->out, x + lo, d->in, 1.0f, dweight + lo, d->in);
    }
    if (dbias) {
        int jlo, jhi;
        part_range(d->out, COL_UNIT, part, parts, &jlo, &jhi);
        for (int i = 0; i < d->n && jlo < jhi; i++)
            nr_vadd(dbias + jlo, dy + (size_t)i * d->out + jlo, (size_t)(jhi - jlo));
    }
}

int nr_dense_backward_weight_sparse_isa(nr_dense_isa isa, const nr_dense_dims *d, const float *x,
                                        const float *dy, float *dweight, int part, int parts,
                                        float *workspace)
{
    assert(d->n > 0 && d->in > 0 && d->out > 0);
    assert(parts >= 1 && part >= 0 && part < parts);
    int lo, hi;
    part_range(d->in, COL_UNIT, part, parts, &lo, &hi);
#if NR_HAVE_AVX2_KERNELS
    if (isa == NR_DENSE_AVX512 && cpu_has_avx512()) {
        if (lo < hi)
            dweight_sparse_avx512(d, x, dy, dweight, lo, hi, workspace);
        return 1;
    }
    if (isa == NR_DENSE_AVX2 && nr_dense_sparse_available()) {
        if (lo < hi)
            dweight_sparse(d, x, dy, dweight, lo, hi, workspace);
        return 1;
    }
#endif
    (void)isa;
    (void)x;
    (void)dy;
    (void)dweight;
    (void)workspace;
    (void)lo;
    (void)hi;
    return 0;
}
