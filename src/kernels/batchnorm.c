/* batchnorm.c - per-channel batch normalisation over n*hw values.
 * See netrun/kernels.h for the contract. The whole-batch functions are the
 * plain reference (scalar loops, statistics and backward sums in double in
 * image-then-position order); the share pieces the layer runs are the fast
 * form: plane-contiguous, vectorised, one pass over memory for the
 * statistics, and fused with a following relu (and 2x2 max pooling). */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>

#include "avx2.h"
#include "batchnorm_isa.h"
#include "pool_plane.h"
#include "simd.h"

static void check_dims(const nr_batchnorm_dims *d)
{
    (void)d;
    assert(d->n > 0 && d->c > 0 && d->hw > 0);
}

void nr_batchnorm_forward_train(const nr_batchnorm_dims *d, const float *in,
                                const float *gamma, const float *beta,
                                float *out, float *mean, float *invstd,
                                float *running_mean, float *running_var,
                                float momentum, float eps)
{
    check_dims(d);
    assert(in != out);
    const int C = d->c, HW = d->hw;
    const size_t M = (size_t)d->n * HW;
    for (int ch = 0; ch < C; ch++) {
        double sum = 0.0;
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                sum += x[p];
        }
        const double mu = sum / (double)M;
        double sq = 0.0;
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++) {
                double t = x[p] - mu;
                sq += t * t;
            }
        }
        const double var = sq / (double)M;
        const double istd = 1.0 / sqrt(var + (double)eps);
        mean[ch] = (float)mu;
        invstd[ch] = (float)istd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mu);
        if (running_var) {
            double unbiased = M > 1 ? sq / (double)(M - 1) : var;
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        }
        /* out = scale * x + shift, scale = gamma * invstd, shift = beta - mean * scale */
        const float scale = (float)(gamma[ch] * istd);
        const float shift = (float)(beta[ch] - mu * gamma[ch] * istd);
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            float *y = out + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                y[p] = x[p] * scale + shift;
        }
    }
}

void nr_batchnorm_forward_eval(const nr_batchnorm_dims *d, const float *in,
                               const float *gamma, const float *beta,
                               const float *running_mean,
                               const float *running_var, float eps, float *out)
{
    check_dims(d);
    const int C = d->c, HW = d->hw;
    for (int ch = 0; ch < C; ch++) {
        const double istd = 1.0 / sqrt((double)running_var[ch] + (double)eps);
        const float scale = (float)(gamma[ch] * istd);
        const float shift = (float)(beta[ch] - running_mean[ch] * gamma[ch] * istd);
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            float *y = out + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                y[p] = x[p] * scale + shift;
        }
    }
}

void nr_batchnorm_backward_eval(const nr_batchnorm_dims *d, const float *dout,
                                const float *gamma, const float *running_var, float eps,
                                float *din)
{
    check_dims(d);
    const int C = d->c, HW = d->hw;
    for (int ch = 0; ch < C; ch++) {
        const double istd = 1.0 / sqrt((double)running_var[ch] + (double)eps);
        const float scale = (float)(gamma[ch] * istd);
        for (int i = 0; i < d->n; i++) {
            const float *g = dout + ((size_t)i * C + ch) * HW;
            float *dx = din + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                dx[p] += g[p] * scale;
        }
    }
}

/* din += k * (dout - mean_g - xhat * mean_gx) for channel ch of every
 * image, k = gamma * invstd, from the batch's sums over M values. */
static void input_grad_channel(const nr_batchnorm_dims *d, int ch, const float *in,
                               const float *dout, float gamma, float mu, float istd,
                               double sum_g, double sum_gx, double M, float *din)
{
    const int C = d->c, HW = d->hw;
    const float k = gamma * istd;
    const float mean_g = (float)(sum_g / M);
    const float mean_gx = (float)(sum_gx / M);
    for (int i = 0; i < d->n; i++) {
        const float *x = in + ((size_t)i * C + ch) * HW;
        const float *g = dout + ((size_t)i * C + ch) * HW;
        float *dx = din + ((size_t)i * C + ch) * HW;
        for (int p = 0; p < HW; p++) {
            const float xhat = (x[p] - mu) * istd;
            dx[p] += k * (g[p] - mean_g - xhat * mean_gx);
        }
    }
}

void nr_batchnorm_backward(const nr_batchnorm_dims *d, const float *in,
                           const float *dout, const float *gamma,
                           const float *mean, const float *invstd, float *din,
                           float *dgamma, float *dbeta)
{
    check_dims(d);
    const int C = d->c, HW = d->hw;
    const double M = (double)d->n * HW;
    for (int ch = 0; ch < C; ch++) {
        const float mu = mean[ch], istd = invstd[ch];
        double sum_g = 0.0, sum_gx = 0.0;   /* sum dout, sum dout * xhat */
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            const float *g = dout + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++) {
                sum_g += g[p];
                sum_gx += (double)g[p] * ((x[p] - mu) * istd);
            }
        }
        dbeta[ch] += (float)sum_g;
        dgamma[ch] += (float)sum_gx;
        if (!din)
            continue;
        input_grad_channel(d, ch, in, dout, gamma[ch], mu, istd, sum_g, sum_gx, M, din);
    }
}

/* ---- the pieces for shares of a batch (see kernels.h) ----
 * Plane by plane (image i, channel ch: hw contiguous floats), 4 floats at a
 * time through simd.h. Sums run in 8 float lanes over blocks of BLOCK
 * values (at most BLOCK / 8 terms per lane), each block's lanes then added
 * in double, the tail last: float partial sums of few terms, double across
 * blocks and planes; a fixed order for a given hw, whatever the thread
 * split. */

enum { BLOCK = 256 };

static inline double lanes_sum(nr_v4f a, nr_v4f b)
{
    const nr_v4f s = a + b;
    return ((double)s[0] + s[1]) + ((double)s[2] + s[3]);
}

/* The plane's sum from s, the shifted sum of its values before p: the
 * rest shifted, then the shift added back hw times. */
static inline double plane_sum_from(const float *x, int p, int hw, float shift, double s)
{
    for (; p < hw; p++)
        s += x[p] - shift;
    return s + (double)shift * hw;
}

/* *sum = s; *m2 from q, the squared deviations from muf of the values
 * before p: the rest added, then corrected to the exact mean mu:
 * sum (x - mu)^2 = sum (x - muf)^2 - hw * (mu - muf)^2 */
static inline void plane_moments_finish(const float *x, int p, int hw, double s, double mu,
                                        float muf, double q, double *sum, double *m2)
{
    for (; p < hw; p++) {
        const double t = x[p] - muf;
        q += t * t;
    }
    const double dm = mu - muf;
    q -= hw * dm * dm;
    *sum = s;
    *m2 = q > 0.0 ? q : 0.0;
}

/* *sum = the plane's sum; *m2 = its sum of squared deviations from its own
 * mean sum / hw (two passes over the plane, the second in cache). Both sum
 * deviations in float: the first from the plane's first value (a shift that
 * keeps a large mean out of the float sums), the second from the mean. */
static void plane_moments(const float *x, int hw, double *sum, double *m2)
{
    const nr_v4f zero = nr_v4f_splat(0.0f);
    const float shift = x[0];
    const nr_v4f k = nr_v4f_splat(shift);
    double s = 0.0;
    int p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        nr_v4f a = zero, b = zero;
        for (; p + 8 <= end; p += 8) {
            a += nr_v4f_load(x + p) - k;
            b += nr_v4f_load(x + p + 4) - k;
        }
        s += lanes_sum(a, b);
    }
    s = plane_sum_from(x, p, hw, shift, s);
    const double mu = s / hw;
    const float muf = (float)mu;
    const nr_v4f m = nr_v4f_splat(muf);   /* deviations from the float-rounded mean */
    double q = 0.0;
    p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        nr_v4f a = zero, b = zero;
        for (; p + 8 <= end; p += 8) {
            const nr_v4f t = nr_v4f_load(x + p) - m, u = nr_v4f_load(x + p + 4) - m;
            a += t * t;
            b += u * u;
        }
        q += lanes_sum(a, b);
    }
    plane_moments_finish(x, p, hw, s, mu, muf, q, sum, m2);
}

#if NR_HAVE_AVX2_KERNELS
/* lanes_sum of the two 4-float halves */
NR_AVX2_INLINE static double lanes8_sum(__m256 v)
{
    float f[4];
    _mm_storeu_ps(f, _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
    return ((double)f[0] + f[1]) + ((double)f[2] + f[3]);
}

/* plane_moments, one 8-lane accumulator holding the portable code's two
 * 4-lane ones (the same sums in the same order). */
NR_AVX2 static void plane_moments_avx2(const float *x, int hw, double *sum, double *m2)
{
    const float shift = x[0];
    const __m256 k = _mm256_set1_ps(shift);
    double s = 0.0;
    int p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        __m256 a = _mm256_setzero_ps();
        for (; p + 8 <= end; p += 8)
            a = _mm256_add_ps(a, _mm256_sub_ps(_mm256_loadu_ps(x + p), k));
        s += lanes8_sum(a);
    }
    s = plane_sum_from(x, p, hw, shift, s);
    const double mu = s / hw;
    const float muf = (float)mu;
    const __m256 m = _mm256_set1_ps(muf);
    double q = 0.0;
    p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        __m256 a = _mm256_setzero_ps();
        for (; p + 8 <= end; p += 8) {
            const __m256 t = _mm256_sub_ps(_mm256_loadu_ps(x + p), m);
            a = _mm256_add_ps(a, _mm256_mul_ps(t, t));
        }
        q += lanes8_sum(a);
    }
    plane_moments_finish(x, p, hw, s, mu, muf, q, sum, m2);
}
#endif

void nr_batchnorm_share_moments_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                    const float *in, double *rows, size_t stride)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            double *sum = &rows[(size_t)i * stride + ch], *m2 = sum + C;
#if NR_HAVE_AVX2_KERNELS
            if (isa == NR_BATCHNORM_AVX2) {
                plane_moments_avx2(x, HW, sum, m2);
                continue;
            }
#endif
            plane_moments(x, HW, sum, m2);
        }
    (void)isa;
}

void nr_batchnorm_share_moments(const nr_batchnorm_dims *d, const float *in, double *rows,
                                size_t stride)
{
    nr_batchnorm_share_moments_isa(nr_batchnorm_best_isa(), d, in, rows, stride);
}

void nr_batchnorm_combine_moments(int n, int c, int hw, const double *rows, size_t stride,
                                  double *sum, double *m2)
{
    const double M = (double)n * hw;
    nr_batchnorm_combine(n, c, rows, stride, sum);
    for (int ch = 0; ch < c; ch++) {
        const double mu = sum[ch] / M;
        double q = 0.0;
        for (int i = 0; i < n; i++) {
            const double *row = rows + (size_t)i * stride;
            const double t = row[ch] / hw - mu;
            q += row[c + ch] + hw * (t * t);
        }
        m2[ch] = q;
    }
}

void nr_batchnorm_combine(int n, int width, const double *rows, size_t stride, double *total)
{
    for (int j = 0; j < width; j++)
        total[j] = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < width; j++)
            total[j] += rows[(size_t)i * stride + j];
}

void nr_batchnorm_finish_stats(int c, double M, const double *sum, const double *sq,
                               const float *gamma, const float *beta, float momentum, float eps,
                               float *mean, float *invstd, float *scale, float *shift,
                               float *running_mean, float *running_var)
{
    for (int ch = 0; ch < c; ch++) {
        const double mu = sum[ch] / M;
        const double var = sq[ch] / M;
        const double istd = 1.0 / sqrt(var + (double)eps);
        if (mean)
            mean[ch] = (float)mu;
        if (invstd)
            invstd[ch] = (float)istd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mu);
        if (running_var) {
            double unbiased = M > 1 ? sq[ch] / (M - 1) : var;
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        }
        scale[ch] = (float)(gamma[ch] * istd);
        shift[ch] = (float)(beta[ch] - mu * gamma[ch] * istd);
    }
}

void nr_batchnorm_eval_coeffs(int c, const float *gamma, const float *beta,
                              const float *running_mean, const float *running_var, float eps,
                              float *scale, float *shift)
{
    for (int ch = 0; ch < c; ch++) {
        const double istd = 1.0 / sqrt((double)running_var[ch] + (double)eps);
        scale[ch] = (float)(gamma[ch] * istd);
        shift[ch] = (float)(beta[ch] - running_mean[ch] * gamma[ch] * istd);
    }
}

/* y = x * a + b over hw values; with relu: y < 0 ? 0 : y, as nr_relu_forward
 * (NaN and -0.0 kept). y == x allowed. */
static void plane_normalize(const float *x, int hw, float a, float b, bool relu, float *y)
{
    const nr_v4f va = nr_v4f_splat(a), vb = nr_v4f_splat(b), zero = nr_v4f_splat(0.0f);
    int p = 0;
    for (; p + 8 <= hw; p += 8) {
        nr_v4f u = nr_v4f_load(x + p) * va + vb, v = nr_v4f_load(x + p + 4) * va + vb;
        if (relu) {
            u = nr_v4f_and(u, ~(u < zero));
            v = nr_v4f_and(v, ~(v < zero));
        }
        nr_v4f_store(y + p, u);
        nr_v4f_store(y + p + 4, v);
    }
    for (; p < hw; p++) {
        const float t = x[p] * a + b;
        y[p] = relu && t < 0.0f ? 0.0f : t;
    }
}

int nr_batchnorm_isa_runs(nr_batchnorm_isa isa)
{
    return isa == NR_BATCHNORM_PORTABLE || (isa == NR_BATCHNORM_AVX2 && nr_cpu_has_avx2_fma());
}

nr_batchnorm_isa nr_batchnorm_best_isa(void)
{
    return nr_batchnorm_isa_runs(NR_BATCHNORM_AVX2) ? NR_BATCHNORM_AVX2 : NR_BATCHNORM_PORTABLE;
}

#if NR_HAVE_AVX2_KERNELS
/* The AVX2 forms: 8 lanes where the portable code has 4 (or two vectors
 * of 4), every lane computing what the portable lane computes: multiplies
 * and adds as separate instructions (the build's ISO C mode does not
 * contract them into FMAs: no vfmadd in this file's object), comparisons
 * ordered as simd.h's (NaN compares false). */

/* relu(x * a + b) on 8 floats, as plane_normalize */
NR_AVX2_INLINE static __m256 normalize8(const float *x, __m256 va, __m256 vb, bool relu)
{
    const __m256 u = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x), va), vb);
    return relu ? _mm256_andnot_ps(_mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_LT_OQ), u) : u;
}

NR_AVX2 static void plane_normalize_avx2(const float *x, int hw, float a, float b, bool relu,
                                         float *y)
{
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    int p = 0;
    for (; p + 8 <= hw; p += 8)
        _mm256_storeu_ps(y + p, normalize8(x + p, va, vb, relu));
    for (; p < hw; p++) {
        const float t = x[p] * a + b;
        y[p] = relu && t < 0.0f ? 0.0f : t;
    }
}

/* normalize8 (relu) of the lanes in mask, 0 in the others */
NR_AVX2_INLINE static __m256 normalize_masked8(const float *x, __m256i mask, __m256 va, __m256 vb)
{
    const __m256 u = _mm256_add_ps(_mm256_mul_ps(_mm256_maskload_ps(x, mask), va), vb);
    return _mm256_and_ps(_mm256_andnot_ps(_mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_LT_OQ), u),
                         _mm256_castsi256_ps(mask));
}

/* The even / odd floats of the 16 in lo, hi, in order. */
NR_AVX2_INLINE static __m256 even8(__m256 lo, __m256 hi)
{
    const __m256 t = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

NR_AVX2_INLINE static __m256 odd8(__m256 lo, __m256 hi)
{
    const __m256 t = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Lanes j < count all ones, the others 0 (count may be <= 0 or >= 8). */
NR_AVX2_INLINE static __m256i lanes_below(int count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The maxima of 8 2x2 windows from their rows' 16 values each (r0: a0 a1,
 * r1: b0 b1), compared as nr_v4_max2x2; *pick as there. */
NR_AVX2_INLINE static __m256 max2x2_8(__m256 a0, __m256 a1, __m256 b0, __m256 b1, int w,
                                      __m256i *pick)
{
    const __m256 tr = odd8(a0, a1), bl = even8(b0, b1), br = odd8(b0, b1);
    __m256 m = even8(a0, a1);
    __m256 c = _mm256_cmp_ps(tr, m, _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, tr, c);
    __m256i p = _mm256_and_si256(_mm256_castps_si256(c), _mm256_set1_epi32(1));
    c = _mm256_cmp_ps(bl, m, _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, bl, c);
    p = _mm256_blendv_epi8(p, _mm256_set1_epi32(w), _mm256_castps_si256(c));
    c = _mm256_cmp_ps(br, m, _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, br, c);
    *pick = _mm256_blendv_epi8(p, _mm256_set1_epi32(w + 1), _mm256_castps_si256(c));
    return m;
}

/* plane_normalize (relu) then nr_maxpool2x2_row on every output row, in
 * one pass without the scratch plane: 8 outputs at a time from 16 values of
 * the two input rows, the comparisons of nr_v4_max2x2 in its order. When
 * ow = w / 2 is not a multiple of 8 the last group overlaps the one before
 * and rewrites the same values; ow < 8: one group per row, loads and stores
 * masked to the row (masked-off lanes read as 0 and are not written). */
NR_AVX2 static void plane_normalize_relu_maxpool_avx2(const float *x, int h, int w, float a,
                                                      float b, float *o, int32_t *am)
{
    const int oh = h / 2, ow = w / 2;
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i in_lo = lanes_below(w), in_hi = lanes_below(w - 8);
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = x + (size_t)(2 * oy) * w, *r1 = r0 + w;
        const int32_t row0 = 2 * oy * w;
        float *orow = o + (size_t)oy * ow;
        int32_t *arow = am ? am + (size_t)oy * ow : NULL;
        __m256i pick;
        if (ow < 8) {
            const __m256 a0 = normalize_masked8(r0, in_lo, va, vb),
                         a1 = normalize_masked8(r0 + 8, in_hi, va, vb);
            const __m256 b0 = normalize_masked8(r1, in_lo, va, vb),
                         b1 = normalize_masked8(r1 + 8, in_hi, va, vb);
            const __m256 m = max2x2_8(a0, a1, b0, b1, w, &pick);
            const __m256i at = _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(row0), lane2),
                                                pick);
            if (oy + 1 < oh) {   /* the lanes past the row: rewritten by the next row */
                _mm256_storeu_ps(orow, m);
                if (arow)
                    _mm256_storeu_si256((__m256i *)arow, at);
            } else {             /* the plane's last row: only its ow values */
                float mv[8];
                int32_t av[8];
                _mm256_storeu_ps(mv, m);
                _mm256_storeu_si256((__m256i *)av, at);
                for (int ox = 0; ox < ow; ox++) {
                    orow[ox] = mv[ox];
                    if (arow)
                        arow[ox] = av[ox];
                }
            }
            continue;
        }
        for (int group = 0; group < ow; group += 8) {
            const int ox = group + 8 <= ow ? group : ow - 8, ix = 2 * ox;
            const __m256 a0 = normalize8(r0 + ix, va, vb, true),
                         a1 = normalize8(r0 + ix + 8, va, vb, true);
            const __m256 b0 = normalize8(r1 + ix, va, vb, true),
                         b1 = normalize8(r1 + ix + 8, va, vb, true);
            _mm256_storeu_ps(orow + ox, max2x2_8(a0, a1, b0, b1, w, &pick));
            if (arow) {
                const __m256i at = _mm256_add_epi32(_mm256_set1_epi32(row0 + ix), lane2);
                _mm256_storeu_si256((__m256i *)(arow + ox), _mm256_add_epi32(at, pick));
            }
        }
    }
}
#endif

void nr_batchnorm_normalize_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                const float *in, const float *scale, const float *shift,
                                bool relu, float *out)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t at = ((size_t)i * C + ch) * HW;
#if NR_HAVE_AVX2_KERNELS
            if (isa == NR_BATCHNORM_AVX2) {
                plane_normalize_avx2(in + at, HW, scale[ch], shift[ch], relu, out + at);
                continue;
            }
#endif
            plane_normalize(in + at, HW, scale[ch], shift[ch], relu, out + at);
        }
    (void)isa;
}

void nr_batchnorm_normalize(const nr_batchnorm_dims *d, const float *in, const float *scale,
                            const float *shift, float *out)
{
    nr_batchnorm_normalize_isa(nr_batchnorm_best_isa(), d, in, scale, shift, false, out);
}

void nr_batchnorm_normalize_relu(const nr_batchnorm_dims *d, const float *in, const float *scale,
                                 const float *shift, float *out)
{
    nr_batchnorm_normalize_isa(nr_batchnorm_best_isa(), d, in, scale, shift, true, out);
}

/* the plane, the pooled plane, and 16 floats of slack for the AVX2
 * unpooling's whole-vector stores past the last row */
size_t nr_batchnorm_scratch_floats(int h, int w)
{
    return (size_t)h * w + (size_t)(h / 2) * (w / 2) + 16;
}

void nr_batchnorm_normalize_relu_maxpool_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                             int h, int w, const float *in, const float *scale,
                                             const float *shift, float *pooled,
                                             int32_t *argmax, float *scratch)
{
    assert(d->hw == h * w && h % 2 == 0 && w % 2 == 0);
    const int C = d->c, HW = d->hw, oh = h / 2, ow = w / 2;
    const size_t out_plane = (size_t)oh * ow;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t pl = (size_t)i * C + ch;
#if NR_HAVE_AVX2_KERNELS
            if (isa == NR_BATCHNORM_AVX2) {
                plane_normalize_relu_maxpool_avx2(in + pl * HW, h, w, scale[ch], shift[ch],
                                                  pooled + pl * out_plane,
                                                  argmax ? argmax + pl * out_plane : NULL);
                continue;
            }
#endif
            plane_normalize(in + pl * HW, HW, scale[ch], shift[ch], true, scratch);
            for (int oy = 0; oy < oh; oy++) {
                const float *r0 = scratch + (size_t)(2 * oy) * w;
                nr_maxpool2x2_row(r0, r0 + w, w, oy, ow, pooled + pl * out_plane + (size_t)oy * ow,
                                  argmax ? argmax + pl * out_plane + (size_t)oy * ow : NULL);
            }
        }
    (void)isa;
}

void nr_batchnorm_normalize_relu_maxpool(const nr_batchnorm_dims *d, int h, int w,
                                         const float *in, const float *scale,
                                         const float *shift, float *pooled, int32_t *argmax,
                                         float *scratch)
{
    nr_batchnorm_normalize_relu_maxpool_isa(nr_batchnorm_best_isa(), d, h, w, in, scale, shift,
                                            pooled, argmax, scratch);
}

/* gm = o > 0 ? g : 0 over count values (as nr_relu_backward_set) */
static void relu_mask(const float *g, const float *o, size_t count, float *gm)
{
    const nr_v4f zero = nr_v4f_splat(0.0f);
    size_t p = 0;
    for (; p + 4 <= count; p += 4)
        nr_v4f_store(gm + p, nr_v4f_and(nr_v4f_load(g + p), nr_v4f_load(o + p) > zero));
    for (; p < count; p++)
        gm[p] = o[p] > 0.0f ? g[p] : 0.0f;
}

/* The gradient of the batchnorm's output for plane pl: src->dout's own
 * plane, or built in scratch from the relu's mask / the pooled gradient. */
static const float *plane_grad(const nr_batchnorm_grad_src *src, size_t pl, int hw,
                               float *scratch)
{
    if (src->argmax) {
        const int oh = src->h / 2, ow = src->w / 2;
        const size_t op = (size_t)oh * ow;
        const float *g = src->dout + pl * op, *o = src->out + pl * op;
        float *gm = scratch + hw;   /* the pooled gradient where the relu passes */
        relu_mask(g, o, op, gm);
        nr_maxpool2x2_backward_set_plane(src->h, src->w, gm, src->argmax + pl * op, scratch,
                                         src->w);
        return scratch;
    }
    const float *g = src->dout + pl * hw;
    if (!src->out)
        return g;
    relu_mask(g, src->out + pl * hw, (size_t)hw, scratch);
    return scratch;
}

/* *sum_g = sum of g, *sum_gx = sum of g * xhat, xhat = (x - mu) * istd,
 * in float blocks as plane_moments. */
static void plane_grad_sums(const float *x, const float *g, int hw, float mu, float istd,
                            double *sum_g, double *sum_gx)
{
    const nr_v4f vm = nr_v4f_splat(mu), vs = nr_v4f_splat(istd), zero = nr_v4f_splat(0.0f);
    double sg = 0.0, sgx = 0.0;
    int p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        nr_v4f a = zero, b = zero, c = zero, e = zero;
        for (; p + 8 <= end; p += 8) {
            const nr_v4f g0 = nr_v4f_load(g + p), g1 = nr_v4f_load(g + p + 4);
            a += g0;
            b += g1;
            c += g0 * ((nr_v4f_load(x + p) - vm) * vs);
            e += g1 * ((nr_v4f_load(x + p + 4) - vm) * vs);
        }
        sg += lanes_sum(a, b);
        sgx += lanes_sum(c, e);
    }
    for (; p < hw; p++) {
        sg += g[p];
        sgx += (double)g[p] * ((x[p] - mu) * istd);
    }
    *sum_g = sg;
    *sum_gx = sgx;
}

void nr_batchnorm_grad_coeffs(int c, double M, const float *gamma, const float *invstd,
                              const double *sum_g, const double *sum_gx, float *k,
                              float *mean_g, float *mean_gx)
{
    for (int ch = 0; ch < c; ch++) {
        k[ch] = gamma[ch] * invstd[ch];
        mean_g[ch] = (float)(sum_g[ch] / M);
        mean_gx[ch] = (float)(sum_gx[ch] / M);
    }
}

/* dx (+)= k * (g - mg - xhat * mgx), xhat = (x - mu) * istd; set: dx
 * overwritten. */
static void plane_input_grad(const float *x, const float *g, int hw, float mu, float istd,
                             float k, float mg, float mgx, bool set, float *dx)
{
    const nr_v4f vm = nr_v4f_splat(mu), vs = nr_v4f_splat(istd), vk = nr_v4f_splat(k);
    const nr_v4f vg = nr_v4f_splat(mg), vgx = nr_v4f_splat(mgx);
    int p = 0;
    for (; p + 4 <= hw; p += 4) {
        const nr_v4f xhat = (nr_v4f_load(x + p) - vm) * vs;
        nr_v4f t = vk * (nr_v4f_load(g + p) - vg - xhat * vgx);
        nr_v4f_store(dx + p, set ? t : nr_v4f_load(dx + p) + t);
    }
    for (; p < hw; p++) {
        const float xhat = (x[p] - mu) * istd;
        const float t = k * (g[p] - mg - xhat * mgx);
        dx[p] = set ? t : dx[p] + t;
    }
}

/* dx (+)= g * k: the evaluation-mode backward. */
static void plane_scale_grad(const float *g, int hw, float k, bool set, float *dx)
{
    const nr_v4f vk = nr_v4f_splat(k);
    int p = 0;
    for (; p + 4 <= hw; p += 4) {
        nr_v4f t = nr_v4f_load(g + p) * vk;
        nr_v4f_store(dx + p, set ? t : nr_v4f_load(dx + p) + t);
    }
    for (; p < hw; p++)
        dx[p] = set ? g[p] * k : dx[p] + g[p] * k;
}

#if NR_HAVE_AVX2_KERNELS
/* The backward's AVX2 forms. o: the relu's output (g counts only where
 * o > 0, as relu_mask), NULL: g as it is. */

NR_AVX2_INLINE static __m256 masked_grad8(const float *g, const float *o)
{
    const __m256 v = _mm256_loadu_ps(g);
    return o ? _mm256_and_ps(v, _mm256_cmp_ps(_mm256_loadu_ps(o), _mm256_setzero_ps(), _CMP_GT_OQ))
             : v;
}

static inline float masked_grad(const float *g, const float *o, int p)
{
    return o && !(o[p] > 0.0f) ? 0.0f : g[p];
}

/* The 2x2 blocks of 8 windows from their gradients gm and argmax offsets
 * off (from each window's top-left): rows r0 (t0 t1), r1 (b0 b1), 16
 * floats each, gm where the offset is, 0 elsewhere. */
NR_AVX2_INLINE static void unpool8(__m256 gm, __m256i off, int w, __m256 *t0, __m256 *t1,
                                   __m256 *b0, __m256 *b1)
{
    const __m256 tl = _mm256_and_ps(gm, _mm256_castsi256_ps(
                                            _mm256_cmpeq_epi32(off, _mm256_setzero_si256())));
    const __m256 tr = _mm256_and_ps(gm, _mm256_castsi256_ps(
                                            _mm256_cmpeq_epi32(off, _mm256_set1_epi32(1))));
    const __m256 bl = _mm256_and_ps(gm, _mm256_castsi256_ps(
                                            _mm256_cmpeq_epi32(off, _mm256_set1_epi32(w))));
    const __m256 br = _mm256_and_ps(gm, _mm256_castsi256_ps(
                                            _mm256_cmpeq_epi32(off, _mm256_set1_epi32(w + 1))));
    const __m256 t_lo = _mm256_unpacklo_ps(tl, tr), t_hi = _mm256_unpackhi_ps(tl, tr);
    const __m256 b_lo = _mm256_unpacklo_ps(bl, br), b_hi = _mm256_unpackhi_ps(bl, br);
    *t0 = _mm256_permute2f128_ps(t_lo, t_hi, 0x20);
    *t1 = _mm256_permute2f128_ps(t_lo, t_hi, 0x31);
    *b0 = _mm256_permute2f128_ps(b_lo, b_hi, 0x20);
    *b1 = _mm256_permute2f128_ps(b_lo, b_hi, 0x31);
}

/* The batchnorm's output-gradient plane (h x w, dx) from the pooled
 * gradient g, the pooled output o (the relu's mask) and the argmax am, as
 * relu_mask then nr_maxpool2x2_backward_set_plane: 8 windows at a time,
 * every element written; the last group of a row overlapping the one
 * before, or for ow < 8 one group per row, masked to it. */
NR_AVX2 static void plane_unpool_grad_avx2(int h, int w, const float *g, const float *o,
                                           const int32_t *am, float *dx)
{
    const int oh = h / 2, ow = w / 2;
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i in = lanes_below(ow);
    __m256 t0, t1, b0, b1;
    for (int oy = 0; oy < oh; oy++) {
        float *r0 = dx + (size_t)(2 * oy) * w, *r1 = r0 + w;
        const size_t at = (size_t)oy * ow;
        const int32_t row0 = 2 * oy * w;
        if (ow < 8) {
            const __m256 gm = _mm256_and_ps(
                _mm256_maskload_ps(g + at, in),
                _mm256_cmp_ps(_mm256_maskload_ps(o + at, in), _mm256_setzero_ps(), _CMP_GT_OQ));
            const __m256i off = _mm256_sub_epi32(_mm256_maskload_epi32(am + at, in),
                                                 _mm256_add_epi32(_mm256_set1_epi32(row0), lane2));
            unpool8(gm, off, w, &t0, &t1, &b0, &b1);
            /* 16 floats a row: the ones past it rewritten by the next row,
             * past the plane's last one into the scratch's slack */
            _mm256_storeu_ps(r0, t0);
            _mm256_storeu_ps(r0 + 8, t1);
            _mm256_storeu_ps(r1, b0);
            _mm256_storeu_ps(r1 + 8, b1);
            continue;
        }
        for (int group = 0; group < ow; group += 8) {
            const int ox = group + 8 <= ow ? group : ow - 8, ix = 2 * ox;
            const __m256 gm = masked_grad8(g + at + ox, o + at + ox);
            const __m256i off = _mm256_sub_epi32(
                _mm256_loadu_si256((const __m256i *)(am + at + ox)),
                _mm256_add_epi32(_mm256_set1_epi32(row0 + ix), lane2));
            unpool8(gm, off, w, &t0, &t1, &b0, &b1);
            _mm256_storeu_ps(r0 + ix, t0);
            _mm256_storeu_ps(r0 + ix + 8, t1);
            _mm256_storeu_ps(r1 + ix, b0);
            _mm256_storeu_ps(r1 + ix + 8, b1);
        }
    }
}

/* plane_grad_sums on the (masked) gradient: one 8-lane accumulator per sum
 * holds the portable code's two 4-lane ones. */
NR_AVX2 static void plane_grad_sums_avx2(const float *x, const float *g, const float *o, int hw,
                                         float mu, float istd, double *sum_g, double *sum_gx)
{
    const __m256 vm = _mm256_set1_ps(mu), vs = _mm256_set1_ps(istd);
    double sg = 0.0, sgx = 0.0;
    int p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        __m256 a = _mm256_setzero_ps(), c = _mm256_setzero_ps();
        for (; p + 8 <= end; p += 8) {
            const __m256 g0 = masked_grad8(g + p, o ? o + p : NULL);
            const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + p), vm), vs);
            a = _mm256_add_ps(a, g0);
            c = _mm256_add_ps(c, _mm256_mul_ps(g0, xhat));
        }
        sg += lanes8_sum(a);
        sgx += lanes8_sum(c);
    }
    for (; p < hw; p++) {
        const float gp = masked_grad(g, o, p);
        sg += gp;
        sgx += (double)gp * ((x[p] - mu) * istd);
    }
    *sum_g = sg;
    *sum_gx = sgx;
}

/* plane_input_grad on the (masked) gradient. */
NR_AVX2 static void plane_input_grad_avx2(const float *x, const float *g, const float *o, int hw,
                                          float mu, float istd, float k, float mg, float mgx,
                                          bool set, float *dx)
{
    const __m256 vm = _mm256_set1_ps(mu), vs = _mm256_set1_ps(istd), vk = _mm256_set1_ps(k);
    const __m256 vg = _mm256_set1_ps(mg), vgx = _mm256_set1_ps(mgx);
    int p = 0;
    for (; p + 8 <= hw; p += 8) {
        const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + p), vm), vs);
        const __m256 d = _mm256_sub_ps(_mm256_sub_ps(masked_grad8(g + p, o ? o + p : NULL), vg),
                                       _mm256_mul_ps(xhat, vgx));
        const __m256 t = _mm256_mul_ps(vk, d);
        _mm256_storeu_ps(dx + p, set ? t : _mm256_add_ps(_mm256_loadu_ps(dx + p), t));
    }
    for (; p < hw; p++) {
        const float xhat = (x[p] - mu) * istd;
        const float t = k * (masked_grad(g, o, p) - mg - xhat * mgx);
        dx[p] = set ? t : dx[p] + t;
    }
}

/* The AVX2 path's gradient of the batchnorm's output for plane pl: *g the
 * plane to read, *o the relu mask to apply to it (NULL: none); built in
 * scratch only from a pooled gradient. */
static void plane_grad_avx2(const nr_batchnorm_grad_src *src, size_t pl, int hw, float *scratch,
                            const float **g, const float **o)
{
    if (src->argmax) {
        const size_t op = (size_t)(src->h / 2) * (src->w / 2);
        plane_unpool_grad_avx2(src->h, src->w, src->dout + pl * op, src->out + pl * op,
                               src->argmax + pl * op, scratch);
        (void)hw;
        *g = scratch;
        *o = NULL;
        return;
    }
    *g = src->dout + pl * hw;
    *o = src->out ? src->out + pl * hw : NULL;
}
#endif

void nr_batchnorm_share_grad_sums_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                      const float *in, const nr_batchnorm_grad_src *src,
                                      const float *mean, const float *invstd, double *rows,
                                      size_t stride, float *scratch)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t pl = (size_t)i * C + ch;
            double *sum_g = &rows[(size_t)i * stride + ch], *sum_gx = sum_g + C;
#if NR_HAVE_AVX2_KERNELS
            if (isa == NR_BATCHNORM_AVX2) {
                const float *g, *o;
                plane_grad_avx2(src, pl, HW, scratch, &g, &o);
                plane_grad_sums_avx2(in + pl * HW, g, o, HW, mean[ch], invstd[ch], sum_g, sum_gx);
                continue;
            }
#endif
            const float *g = plane_grad(src, pl, HW, scratch);
            plane_grad_sums(in + pl * HW, g, HW, mean[ch], invstd[ch], sum_g, sum_gx);
        }
    (void)isa;
}

void nr_batchnorm_share_grad_sums(const nr_batchnorm_dims *d, const float *in,
                                  const nr_batchnorm_grad_src *src, const float *mean,
                                  const float *invstd, double *rows, size_t stride,
                                  float *scratch)
{
    nr_batchnorm_share_grad_sums_isa(nr_batchnorm_best_isa(), d, in, src, mean, invstd, rows,
                                     stride, scratch);
}

void nr_batchnorm_share_input_grad_isa(nr_batchnorm_isa isa, const nr_batchnorm_dims *d,
                                       const float *in, const nr_batchnorm_grad_src *src,
                                       const float *mean, const float *invstd, const float *k,
                                       const float *mean_g, const float *mean_gx, bool set,
                                       float *din, float *scratch)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t pl = (size_t)i * C + ch;
#if NR_HAVE_AVX2_KERNELS
            if (isa == NR_BATCHNORM_AVX2 && mean_g) {
                const float *g, *o;
                plane_grad_avx2(src, pl, HW, scratch, &g, &o);
                plane_input_grad_avx2(in + pl * HW, g, o, HW, mean[ch], invstd[ch], k[ch],
                                      mean_g[ch], mean_gx[ch], set, din + pl * HW);
                continue;
            }
#endif
            const float *g = plane_grad(src, pl, HW, scratch);
            if (!mean_g)
                plane_scale_grad(g, HW, k[ch], set, din + pl * HW);
            else
                plane_input_grad(in + pl * HW, g, HW, mean[ch], invstd[ch], k[ch], mean_g[ch],
                                 mean_gx[ch], set, din + pl * HW);
        }
    (void)isa;
}

void nr_batchnorm_share_input_grad(const nr_batchnorm_dims *d, const float *in,
                                   const nr_batchnorm_grad_src *src, const float *mean,
                                   const float *invstd, const float *k, const float *mean_g,
                                   const float *mean_gx, bool set, float *din, float *scratch)
{
    nr_batchnorm_share_input_grad_isa(nr_batchnorm_best_isa(), d, in, src, mean, invstd, k,
                                      mean_g, mean_gx, set, din, scratch);
}
