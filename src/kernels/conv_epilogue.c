/* conv_epilogue.c - the direct convolution's fused epilogues (see
 * conv_epilogue.h): bias, activation and 2x2/2 max pooling of one output
 * plane read from the GEMM's grid, and the gradient at the convolution's
 * output. Pooling runs 8 outputs at a time with AVX2 when the CPU has it
 * (16 grid columns per row pair), 4 at a time with the portable vectors
 * otherwise and on narrow planes; both make the comparisons of
 * nr_maxpool_forward in its order (first maximum wins, NaN only when
 * first), so every path gives the same bits.
 */
#include "conv_epilogue.h"

#include <string.h>

#include "avx2.h"
#include "pool_plane.h"
#include "simd.h"
#include "vec.h"

/* The activation in place, as the fast backend's kernels compute it. */
static void act_inplace(const nr_conv_epilogue *e, size_t count, float *x)
{
    switch (e->act) {
    case NR_ACT_RELU:
        nr_relu_forward(count, x, x);
        break;
    case NR_ACT_LEAKY_RELU:
        nr_leaky_relu_forward(count, e->slope, x, x);
        break;
    case NR_ACT_TANH:
        nr_tanh_forward_fast(count, x, x);
        break;
    case NR_ACT_SIGMOID:
        nr_sigmoid_forward_fast(count, x, x);
        break;
    case NR_ACT_NONE:
        break;
    }
}

void nr_epi_grad_set(const nr_conv_epilogue *e, size_t count, const float *out,
                     const float *dout, float *g)
{
    const nr_v4f one = nr_v4f_splat(1.0f), zero = nr_v4f_splat(0.0f);
    const nr_v4f slope = nr_v4f_splat(e->slope);
    size_t i = 0;
    switch (e->act) {
    case NR_ACT_NONE:
        memcpy(g, dout, count * sizeof *g);
        return;
    case NR_ACT_RELU:
        nr_relu_backward_set(count, out, dout, g);
        return;
    case NR_ACT_LEAKY_RELU:
        for (; i + 4 <= count; i += 4) {
            nr_v4f d = nr_v4f_load(dout + i);
            nr_v4f_store(g + i, nr_v4f_select(nr_v4f_load(out + i) > zero, d, slope * d));
        }
        break;
    case NR_ACT_TANH:
        for (; i + 4 <= count; i += 4) {
            nr_v4f y = nr_v4f_load(out + i);
            nr_v4f_store(g + i, nr_v4f_load(dout + i) * (one - y * y));
        }
        break;
    case NR_ACT_SIGMOID:
        for (; i + 4 <= count; i += 4) {
            nr_v4f y = nr_v4f_load(out + i);
            nr_v4f_store(g + i, nr_v4f_load(dout + i) * y * (one - y));
        }
        break;
    }
    for (; i < count; i++)
        g[i] = nr_epi_grad1(e, out[i], dout[i]);
}

/* dst[x] = relu(src[x] + b): the separate layers' operations exactly. */
static void bias_relu_row(float *dst, const float *src, float b, int n)
{
    const nr_v4f vb = nr_v4f_splat(b), zero = nr_v4f_splat(0.0f);
    if (n < 4) {
        for (int x = 0; x < n; x++) {
            float v = src[x] + b;
            dst[x] = v < 0.0f ? 0.0f : v;
        }
        return;
    }
    /* the last group of 4 may overlap the one before (n not a multiple of
     * 4): it recomputes and rewrites the same values, without a scalar tail */
    for (int x = 0, done = 0; !done; x += 4) {
        if (x + 4 >= n) {
            x = n - 4;
            done = 1;
        }
        nr_v4f v = nr_v4f_load(src + x) + vb;
        nr_v4f_store(dst + x, nr_v4f_and(v, ~(v < zero)));
    }
}

/* What the pooling does to each value before comparing: + b (add_bias),
 * then relu (relu). */
typedef struct pool_pre {
    float b;
    int add_bias, relu;
} pool_pre;

static float pre1(const pool_pre *pp, float v)
{
    if (pp->add_bias)
        v = v + pp->b;
    if (pp->relu)
        v = v < 0.0f ? 0.0f : v;
    return v;
}

static nr_v4f pre4(const pool_pre *pp, nr_v4f v)
{
    if (pp->add_bias)
        v = v + nr_v4f_splat(pp->b);
    if (pp->relu)
        v = nr_v4f_and(v, ~(v < nr_v4f_splat(0.0f)));
    return v;
}

/* maxpool 2x2/2 over pre(src) (rows `stride` apart), 4 outputs at a time,
 * the last group overlapping the one before (ow not a multiple of 4: it
 * recomputes and rewrites the same values); rows under 4 outputs scalar. */
static void pool_rows4(const float *src, int stride, int h, int w, const pool_pre *pp,
                       float *pooled, int32_t *argmax)
{
    const int oh = h / 2, ow = w / 2;
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = src + (size_t)(2 * oy) * stride, *r1 = r0 + stride;
        float *o = pooled + (size_t)oy * ow;
        int32_t *am = argmax ? argmax + (size_t)oy * ow : NULL;
        const int32_t row0 = 2 * oy * w;
        if (ow >= 4) {
            for (int ox = 0, done = 0; !done; ox += 4) {
                if (ox + 4 >= ow) {
                    ox = ow - 4;
                    done = 1;
                }
                const int ix = 2 * ox;
                nr_v4f a0 = pre4(pp, nr_v4f_load(r0 + ix)), a1 = pre4(pp, nr_v4f_load(r0 + ix + 4));
                nr_v4f b0 = pre4(pp, nr_v4f_load(r1 + ix)), b1 = pre4(pp, nr_v4f_load(r1 + ix + 4));
                nr_v4f tl = NR_V4_EVEN(a0, a1), tr = NR_V4_ODD(a0, a1);
                nr_v4f bl = NR_V4_EVEN(b0, b1), br = NR_V4_ODD(b0, b1);
                nr_v4i pick;
                nr_v4f_store(o + ox, nr_v4_max2x2(tl, tr, bl, br, w, &pick));
                if (am)
                    nr_v4i_store(am + ox, (nr_v4i){row0 + ix, row0 + ix + 2, row0 + ix + 4,
                                                   row0 + ix + 6} + pick);
            }
            continue;
        }
        for (int ox = 0; ox < ow; ox++) {
            const int ix = 2 * ox;
            float v[4] = {pre1(pp, r0[ix]), pre1(pp, r0[ix + 1]), pre1(pp, r1[ix]),
                          pre1(pp, r1[ix + 1])};
            int best = row0 + ix;
            float m = v[0];
            if (v[1] > m) { m = v[1]; best = row0 + ix + 1; }
            if (v[2] > m) { m = v[2]; best = row0 + w + ix; }
            if (v[3] > m) { m = v[3]; best = row0 + w + ix + 1; }
            o[ox] = m;
            if (am)
                am[ox] = best;
        }
    }
}

#if NR_HAVE_AVX2_KERNELS

NR_AVX2_INLINE __m256 pre8(__m256 v, __m256 vb, int add_bias, int relu)
{
    if (add_bias)
        v = _mm256_add_ps(v, vb);
    if (relu)   /* clears the lanes < 0: NaN and -0 kept, as the scalar form */
        v = _mm256_andnot_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ), v);
    return v;
}

/* pool_rows4 for planes at least 16 columns wide, 8 outputs at a time (the
 * last group overlapping the one before): the same values, comparisons and
 * argmax. The even/odd split works inside 128-bit halves (outputs in the
 * order 0 1 4 5 2 3 6 7) and one permute puts the results back in order. */
NR_AVX2 static void pool_rows8(const float *src, int stride, int h, int w, const pool_pre *pp,
                               float *pooled, int32_t *argmax)
{
    const int oh = h / 2, ow = w / 2;
    const int add_bias = pp->add_bias, relu = pp->relu;
    const __m256 vb = _mm256_set1_ps(pp->b);
    const __m256i one = _mm256_set1_epi32(1), vw = _mm256_set1_epi32(w),
                  vw1 = _mm256_set1_epi32(w + 1);
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = src + (size_t)(2 * oy) * stride, *r1 = r0 + stride;
        float *o = pooled + (size_t)oy * ow;
        int32_t *am = argmax ? argmax + (size_t)oy * ow : NULL;
        const int32_t row0 = 2 * oy * w;
        for (int ox = 0, done = 0; !done; ox += 8) {
            if (ox + 8 >= ow) {
                ox = ow - 8;
                done = 1;
            }
            const int ix = 2 * ox;
            __m256 a0 = pre8(_mm256_loadu_ps(r0 + ix), vb, add_bias, relu);
            __m256 a1 = pre8(_mm256_loadu_ps(r0 + ix + 8), vb, add_bias, relu);
            __m256 b0 = pre8(_mm256_loadu_ps(r1 + ix), vb, add_bias, relu);
            __m256 b1 = pre8(_mm256_loadu_ps(r1 + ix + 8), vb, add_bias, relu);
            __m256 tl = _mm256_shuffle_ps(a0, a1, 0x88), tr = _mm256_shuffle_ps(a0, a1, 0xDD);
            __m256 bl = _mm256_shuffle_ps(b0, b1, 0x88), br = _mm256_shuffle_ps(b0, b1, 0xDD);
            __m256 m = tl;
            __m256 c = _mm256_cmp_ps(tr, m, _CMP_GT_OQ);
            m = _mm256_blendv_ps(m, tr, c);
            __m256i p = _mm256_and_si256(_mm256_castps_si256(c), one);
            c = _mm256_cmp_ps(bl, m, _CMP_GT_OQ);
            m = _mm256_blendv_ps(m, bl, c);
            p = _mm256_castps_si256(
                _mm256_blendv_ps(_mm256_castsi256_ps(p), _mm256_castsi256_ps(vw), c));
            c = _mm256_cmp_ps(br, m, _CMP_GT_OQ);
            m = _mm256_blendv_ps(m, br, c);
            p = _mm256_castps_si256(
                _mm256_blendv_ps(_mm256_castsi256_ps(p), _mm256_castsi256_ps(vw1), c));
            _mm256_storeu_ps(o + ox, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                         _mm256_castps_pd(m), 0xD8)));
            if (am) {
                p = _mm256_permute4x64_epi64(p, 0xD8);
                __m256i base = _mm256_add_epi32(_mm256_set1_epi32(row0 + ix), lane2);
                _mm256_storeu_si256((__m256i *)(am + ox), _mm256_add_epi32(base, p));
            }
        }
    }
}

#endif

/* maxpool 2x2/2 of pre(src) over an h x w plane (rows `stride` apart). */
static void pool_plane(const float *src, int stride, int h, int w, const pool_pre *pp,
                       float *pooled, int32_t *argmax)
{
#if NR_HAVE_AVX2_KERNELS
    if (w >= 16 && nr_cpu_has_avx2_fma()) {
        pool_rows8(src, stride, h, w, pp, pooled, argmax);
        return;
    }
#endif
    pool_rows4(src, stride, h, w, pp, pooled, argmax);
}

void nr_epi_forward_plane(const nr_conv_epilogue *e, const float *grid, int Wp, int h, int w,
                          const float *bias, float *dst, int32_t *argmax, float *scratch)
{
    const float b = bias ? *bias : 0.0f;
    if (e->pool && (e->act == NR_ACT_RELU || e->act == NR_ACT_NONE || e->pool_first)) {
        /* relu and max commute exactly (relu is monotone and keeps every
         * value > 0; windows whose maximum is <= 0 give 0 and a zero
         * gradient either way): relu's two orders share this path */
        const pool_pre pp = {b, bias != NULL, e->act == NR_ACT_RELU};
        pool_plane(grid, Wp, h, w, &pp, dst, argmax);
        if (e->act != NR_ACT_RELU)
            act_inplace(e, (size_t)(h / 2) * (size_t)(w / 2), dst);
        return;
    }
    /* the activation on the full plane (into scratch when pooled after) */
    float *plane = e->pool ? scratch : dst;
    for (int y = 0; y < h; y++) {
        float *row = plane + (size_t)y * w;
        const float *src = grid + (size_t)y * Wp;
        if (e->act == NR_ACT_RELU)
            bias_relu_row(row, src, b, w);
        else if (bias)
            nr_vcopy_add_scalar(row, src, b, (size_t)w);
        else
            memcpy(row, src, (size_t)w * sizeof *row);
    }
    if (e->act != NR_ACT_RELU)
        act_inplace(e, (size_t)h * w, plane);
    if (e->pool) {
        const pool_pre pp = {0.0f, 0, 0};
        pool_plane(plane, w, h, w, &pp, dst, argmax);
    }
}

void nr_epi_pool_grad_plane(const nr_conv_epilogue *e, const float *out, const float *dout,
                            const int32_t *argmax, int h, int w, int Wp, float *dst,
                            float *masked)
{
    nr_epi_grad_set(e, (size_t)(h / 2) * (size_t)(w / 2), out, dout, masked);
    nr_maxpool2x2_backward_set_plane(h, w, masked, argmax, dst, Wp);
}
