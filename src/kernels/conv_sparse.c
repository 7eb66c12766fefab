/* conv_sparse.c - the backward pass of a stride-1 "same" convolution from
 * the nonzeros of its output gradient; see conv_sparse.h for the idea.
 * Called by conv_direct.c (and the tests); calls nothing there (the
 * condition it runs under and the gradient source types come from
 * conv_direct.h).
 *
 * Layouts (per image, in the workspace):
 *   xh   [Hp][Wp][Cv]   the input, zero-bordered, channel-last, channels
 *                       padded to Cv = C rounded up to 8 (zeros)
 *   dinh [Hp][Wp][Cv]   d input, same layout, zeroed per image
 * and for the whole call:
 *   wh   [F][S][S][Cv]  the weights, channel-last (for din)
 *   dwh  [F][S][S][Cv]  dW accumulated over the call, added to dweight
 *                       ([F][C][S][S]) at the end
 * The patch under output (y, x) starts at (y*Wp + x)*Cv in xh and dinh;
 * its row ky is S*Cv contiguous floats at + ky*Wp*Cv. A filter's dW and W
 * are S*S*Cv contiguous floats: NV = S*S*Cv/8 vectors, vector v = (ky, r)
 * with r < R = S*Cv/8 at offset ky*Wp*Cv + 8r in a patch and 8v in dwh/wh.
 */
#include "conv_sparse.h"

#include <assert.h>
#include <string.h>

#include "avx2.h"
#include "conv_direct.h"
#include "conv_epilogue.h"
#include "vec.h"

enum {
    CHUNK_MAX = 12,      /* 8-float vectors of dW / W held in registers at once */
    SAMPLE_IMAGES = 4    /* images whose gradient density decides the path */
};

/* Sparse pays below these shares of nonzeros (scaled by Cv/C: the work of
 * a nonzero grows with the padded channel count, the dense work with C).
 * Measured on ex2's shapes (AMD EPYC, AVX2, single thread): with the
 * gradient of ReLU + max pooling (25% or fewer nonzeros) the sparse
 * backward of 8 -> 16 channels is ~12% faster than the dense one; with
 * ReLU alone (~50%) the sparse backward of 16 -> 32 channels is ~30%
 * slower, and its dW part alone about as fast as the dense one. */
#define SPARSE_DIN_MAX_DENSITY 0.3
#define SPARSE_DW_MAX_DENSITY 0.45

typedef struct sgeom {
    int C, Cv, F, H, W, S, pad, Hp, Wp;
    int NV;              /* vectors per filter: S*S*Cv/8 */
    int R;               /* vectors per patch row: S*Cv/8 */
    size_t plane;        /* H*W */
    size_t hwc;          /* Hp*Wp*Cv */
} sgeom;

static sgeom make_sgeom(const nr_conv2d_dims *d)
{
    sgeom g;
    g.C = d->c;
    g.Cv = (d->c + 7) / 8 * 8;
    g.F = d->filters;
    g.H = d->h;
    g.W = d->w;
    g.S = d->size;
    g.pad = d->pad;
    g.Hp = d->h + 2 * d->pad;
    g.Wp = d->w + 2 * d->pad;
    g.R = g.S * g.Cv / 8;
    g.NV = g.S * g.R;
    g.plane = (size_t)g.H * g.W;
    g.hwc = (size_t)g.Hp * g.Wp * g.Cv;
    return g;
}

/* Workspace: wh | dwh | xh | dinh | tmp plane | small plane | voff (NV int32)
 * | counts (F int32) | list positions (F*plane int32) | list values (F*plane)
 * | one pooled row's bottom-row maxima (positions, values: W/2 each). */
size_t nr_conv2d_sparse_workspace_floats(const nr_conv2d_dims *d)
{
    sgeom g = make_sgeom(d);
    size_t filt = (size_t)g.F * g.NV * 8;
    return 2 * filt + 2 * g.hwc + g.plane + g.plane / 4 + 8 + (size_t)g.NV + (size_t)g.F +
           2 * (size_t)g.F * g.plane + 2 * (size_t)(g.W / 2 + 1);
}

/* The plane of the gradient at the conv output for plane p (image*F + f),
 * as the separate layers leave it, for NONE and RELU: returned, in tmp when
 * it had to be computed. */
static const float *dense_grad_plane(const nr_conv_grad_source *src, const sgeom *g, size_t p,
                                     float *tmp)
{
    if (nr_epi_is_none(&src->epi))
        return src->dout + p * g->plane;
    nr_epi_grad_set(&src->epi, g->plane, src->out + p * g->plane, src->dout + p * g->plane,
                    tmp);
    return tmp;
}

/* The nonzeros of a dense gradient plane in raster order: positions on the
 * Wp-wide grid (y*Wp + x) and values. Returns the count. */
static int list_dense(const float *gp, const sgeom *g, int32_t *pos, float *val)
{
    int count = 0;
    for (int y = 0; y < g->H; y++)
        for (int x = 0; x < g->W; x++) {
            const float v = gp[(size_t)y * g->W + x];
            pos[count] = y * g->Wp + x;      /* branch-free: kept when nonzero */
            val[count] = v;
            count += v != 0.0f;
        }
    return count;
}

/* The same list for an epilogue with maxpool 2x2/2: masked[j] (act'(out)
 * times d pooled, nr_epi_grad_set) sits at the window's argmax. Raster order: for each
 * pooled row, the window maxima in its top row, then those in its bottom
 * row - the order in which list_dense meets them in the unpooled plane. */
static int list_pooled(const float *masked, const int32_t *argmax, const sgeom *g, int32_t *pos,
                       float *val, int32_t *low_pos, float *low_val)
{
    const int oh = g->H / 2, ow = g->W / 2;
    int count = 0;
    for (int oy = 0; oy < oh; oy++) {
        /* one pass over the row of windows: maxima in the top row go to
         * the list, those in the bottom row to low_*, appended after */
        int low = 0;
        for (int ox = 0; ox < ow; ox++) {
            const size_t j = (size_t)oy * ow + ox;
            const float v = masked[j];
            const int rel = argmax[j] - (2 * oy * g->W + 2 * ox);   /* 0, 1, W or W+1 */
            const int wdy = rel >= g->W;
            const int32_t q = (2 * oy + wdy) * g->Wp + 2 * ox + (rel - wdy * g->W);
            const int keep = v != 0.0f;
            /* branch-free: both written, each kept when it belongs there */
            pos[count] = q;
            val[count] = v;
            low_pos[low] = q;
            low_val[low] = v;
            count += keep & !wdy;
            low += keep & wdy;
        }
        memcpy(pos + count, low_pos, (size_t)low * sizeof *pos);
        memcpy(val + count, low_val, (size_t)low * sizeof *val);
        count += low;
    }
    return count;
}

int nr_conv2d_sparse_parts(const nr_conv2d_dims *d, const nr_conv_grad_source *src)
{
    if (!nr_conv2d_direct_fits(d))
        return 0;
    const sgeom g = make_sgeom(d);
    /* the nonzeros of the first few images stand for the call's; each
     * nonzero of a pooled gradient is one of the convolution's */
    const int sample_images = d->n < SAMPLE_IMAGES ? d->n : SAMPLE_IMAGES;
    const size_t cells = src->epi.pool ? g.plane / 4 : g.plane;
    const size_t sampled = (size_t)sample_images * g.F * cells;
    size_t nnz = 0;
    if (src->epi.act == NR_ACT_NONE)
        for (size_t i = 0; i < sampled; i++)
            nnz += src->dout[i] != 0.0f;
    else   /* the gradient at the activation's input, as the separate layers leave it */
        for (size_t i = 0; i < sampled; i++)
            nnz += nr_epi_grad1(&src->epi, src->out[i], src->dout[i]) != 0.0f;
    const double density =
        (double)nnz / ((double)sample_images * g.F * g.plane) * g.Cv / g.C;
    return (density <= SPARSE_DW_MAX_DENSITY ? NR_SPARSE_DW : 0) |
           (density <= SPARSE_DIN_MAX_DENSITY ? NR_SPARSE_DIN : 0);
}

/* w [F][C][S][S] -> wh [F][S][S][Cv] (padded channels zero). */
static void pack_hwc_weights(const float *w, const sgeom *g, float *wh)
{
    const int S = g->S;
    for (int f = 0; f < g->F; f++)
        for (int t = 0; t < S * S; t++)
            for (int c = 0; c < g->Cv; c++)
                wh[((size_t)f * S * S + t) * g->Cv + c] =
                    c < g->C ? w[((size_t)f * g->C + c) * S * S + t] : 0.0f;
}

/* dweight [F][C][S][S] += dwh [F][S][S][Cv]. */
static void add_hwc_weights(const float *dwh, const sgeom *g, float *dweight)
{
    const int S = g->S;
    for (int f = 0; f < g->F; f++)
        for (int c = 0; c < g->C; c++)
            for (int t = 0; t < S * S; t++)
                dweight[((size_t)f * g->C + c) * S * S + t] +=
                    dwh[((size_t)f * S * S + t) * g->Cv + c];
}

#if NR_HAVE_AVX2_KERNELS

/* r[j][k] <- r[k][j]: an 8x8 block of floats transposed in registers. */
static NR_AVX2_INLINE void transpose8(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Lanes j < nx all ones. */
static NR_AVX2_INLINE __m256i first_lanes(int nx)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(nx), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* in [C][H][W] -> the interior of xh, 8 channels x 8 columns at a time
 * (borders and padded channels stay as the caller zeroed them). */
NR_AVX2 static void to_hwc(const float *in, const sgeom *g, float *xh)
{
    for (int c0 = 0; c0 < g->C; c0 += 8)
        for (int y = 0; y < g->H; y++)
            for (int x0 = 0; x0 < g->W; x0 += 8) {
                const int nx = g->W - x0 < 8 ? g->W - x0 : 8;
                const __m256i mask = first_lanes(nx);
                __m256 r[8];
                for (int k = 0; k < 8; k++)
                    r[k] = c0 + k < g->C
                               ? _mm256_maskload_ps(in + (size_t)(c0 + k) * g->plane +
                                                        (size_t)y * g->W + x0,
                                                    mask)
                               : _mm256_setzero_ps();
                transpose8(r);
                float *t = xh + ((size_t)(y + g->pad) * g->Wp + g->pad + x0) * g->Cv + c0;
                for (int j = 0; j < nx; j++)
                    _mm256_storeu_ps(t + (size_t)j * g->Cv, r[j]);
            }
}

/* din [C][H][W] += the interior of dinh, 8 channels x 8 columns at a time. */
NR_AVX2 static void add_from_hwc(const float *dinh, const sgeom *g, float *din)
{
    for (int c0 = 0; c0 < g->C; c0 += 8)
        for (int y = 0; y < g->H; y++)
            for (int x0 = 0; x0 < g->W; x0 += 8) {
                const int nx = g->W - x0 < 8 ? g->W - x0 : 8;
                const float *s = dinh + ((size_t)(y + g->pad) * g->Wp + g->pad + x0) * g->Cv + c0;
                __m256 r[8];
                for (int j = 0; j < 8; j++)
                    r[j] = j < nx ? _mm256_loadu_ps(s + (size_t)j * g->Cv) : _mm256_setzero_ps();
                transpose8(r);
                for (int k = 0; k < 8 && c0 + k < g->C; k++) {
                    float *t = din + (size_t)(c0 + k) * g->plane + (size_t)y * g->W + x0;
                    if (nx == 8) {
                        _mm256_storeu_ps(t, _mm256_add_ps(_mm256_loadu_ps(t), r[k]));
                        continue;
                    }
                    float part[8];   /* masked stores are slow on some CPUs */
                    _mm256_storeu_ps(part, r[k]);
                    for (int j = 0; j < nx; j++)
                        t[j] += part[j];
                }
            }
}

/* dw[v] += sum_i val[i] * xh[pos[i]*Cv + voff[v]] for the nv vectors v of
 * one chunk (nv a constant after inlining, <= CHUNK_MAX): the chunk's dW
 * stays in registers over the filter's whole list. */
static NR_AVX2_INLINE void dw_chunk(const int nv, int count, const int32_t *pos,
                                    const float *val, const float *xh, int Cv,
                                    const int32_t *voff, float *dw)
{
    __m256 acc[CHUNK_MAX];
    int32_t o[CHUNK_MAX];
#pragma GCC unroll 12
    for (int j = 0; j < nv; j++) {
        acc[j] = _mm256_loadu_ps(dw + 8 * j);
        o[j] = voff[j];
    }
    for (int i = 0; i < count; i++) {
        const float *base = xh + (size_t)pos[i] * Cv;
        const __m256 gv = _mm256_broadcast_ss(val + i);
#pragma GCC unroll 12
        for (int j = 0; j < nv; j++)
            acc[j] = _mm256_fmadd_ps(gv, _mm256_loadu_ps(base + o[j]), acc[j]);
    }
#pragma GCC unroll 12
    for (int j = 0; j < nv; j++)
        _mm256_storeu_ps(dw + 8 * j, acc[j]);
}

/* dinh[pos[i]*Cv + voff[v]] += val[i] * w[v] for the chunk's vectors. */
static NR_AVX2_INLINE void din_chunk(const int nv, int count, const int32_t *pos,
                                     const float *val, float *dinh, int Cv,
                                     const int32_t *voff, const float *w)
{
    __m256 wv[CHUNK_MAX];
    int32_t o[CHUNK_MAX];
#pragma GCC unroll 12
    for (int j = 0; j < nv; j++) {
        wv[j] = _mm256_loadu_ps(w + 8 * j);
        o[j] = voff[j];
    }
    for (int i = 0; i < count; i++) {
        float *base = dinh + (size_t)pos[i] * Cv;
        const __m256 gv = _mm256_broadcast_ss(val + i);
#pragma GCC unroll 12
        for (int j = 0; j < nv; j++) {
            float *p = base + o[j];
            _mm256_storeu_ps(p, _mm256_fmadd_ps(gv, wv[j], _mm256_loadu_ps(p)));
        }
    }
}

/* The chunk a kernel takes next: NV vectors split into equal chunks of at
 * most CHUNK_MAX (18 -> 9 + 9, not 12 + 6: a short chunk is a latency-bound
 * chain of few FMAs per nonzero). */
static int chunk_size(int NV)
{
    const int chunks = (NV + CHUNK_MAX - 1) / CHUNK_MAX;
    return (NV + chunks - 1) / chunks;
}

/* Calls KERNEL(n, ...) with n a constant equal to nv (1..CHUNK_MAX). */
#define NR_DISPATCH_CHUNK(nv, KERNEL, ...)                                                     \
    switch (nv) {                                                                            \
    case 1: KERNEL(1, __VA_ARGS__); break;                                                   \
    case 2: KERNEL(2, __VA_ARGS__); break;                                                   \
    case 3: KERNEL(3, __VA_ARGS__); break;                                                   \
    case 4: KERNEL(4, __VA_ARGS__); break;                                                   \
    case 5: KERNEL(5, __VA_ARGS__); break;                                                   \
    case 6: KERNEL(6, __VA_ARGS__); break;                                                   \
    case 7: KERNEL(7, __VA_ARGS__); break;                                                   \
    case 8: KERNEL(8, __VA_ARGS__); break;                                                   \
    case 9: KERNEL(9, __VA_ARGS__); break;                                                   \
    case 10: KERNEL(10, __VA_ARGS__); break;                                                 \
    case 11: KERNEL(11, __VA_ARGS__); break;                                                 \
    default: KERNEL(12, __VA_ARGS__); break;                                                 \
    }

/* One filter's list against all NV vectors of its dW, chunk by chunk. */
NR_AVX2 static void dw_filter(int NV, int count, const int32_t *pos, const float *val,
                              const float *xh, int Cv, const int32_t *voff, float *dw)
{
    const int step = chunk_size(NV);
    for (int v = 0; v < NV; v += step) {
        const int nv = NV - v < step ? NV - v : step;
        NR_DISPATCH_CHUNK(nv, dw_chunk, count, pos, val, xh, Cv, voff + v, dw + 8 * v);
    }
}

/* One filter's list scattered into dinh, chunk by chunk of its weights. */
NR_AVX2 static void din_filter(int NV, int count, const int32_t *pos, const float *val,
                               float *dinh, int Cv, const int32_t *voff, const float *w)
{
    const int step = chunk_size(NV);
    for (int v = 0; v < NV; v += step) {
        const int nv = NV - v < step ? NV - v : step;
        NR_DISPATCH_CHUNK(nv, din_chunk, count, pos, val, dinh, Cv, voff + v, w + 8 * v);
    }
}

#endif /* NR_HAVE_AVX2_KERNELS */

void nr_conv2d_sparse_backward(const nr_conv2d_dims *d, const float *in, const float *weight,
                               const nr_conv_grad_source *src, float *din, float *dweight,
                               float *dbias, float *workspace)
{
#if NR_HAVE_AVX2_KERNELS
    assert(nr_conv2d_direct_fits(d));
    assert(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0 && d->filters > 0);
    assert(!src->epi.pool || (d->h % 2 == 0 && d->w % 2 == 0));
    const sgeom g = make_sgeom(d);
    const size_t filt = (size_t)g.F * g.NV * 8;
    float *wh = workspace, *dwh = wh + filt, *xh = dwh + filt, *dinh = xh + g.hwc;
    float *tmp = dinh + g.hwc, *small = tmp + g.plane;
    int32_t *voff = (int32_t *)(small + g.plane / 4 + 8);
    int32_t *counts = voff + g.NV;
    int32_t *pos = counts + g.F;
    float *val = (float *)(pos + (size_t)g.F * g.plane);
    int32_t *low_pos = (int32_t *)(val + (size_t)g.F * g.plane);
    float *low_val = (float *)(low_pos + g.W / 2 + 1);

    for (int v = 0; v < g.NV; v++)
        voff[v] = (v / g.R) * g.Wp * g.Cv + (v % g.R) * 8;
    if (din)
        pack_hwc_weights(weight, &g, wh);
    memset(dwh, 0, filt * sizeof *dwh);
    memset(xh, 0, g.hwc * sizeof *xh);   /* borders and padded channels stay 0 */
    const size_t in_step = (size_t)g.C * g.plane;
    const size_t pooled_plane = g.plane / 4;
    for (int i = 0; i < d->n; i++) {
        /* the nonzeros of every filter's gradient plane, and dbias */
        for (int f = 0; f < g.F; f++) {
            const size_t p = (size_t)i * g.F + (size_t)f;
            int32_t *fpos = pos + (size_t)f * g.plane;
            float *fval = val + (size_t)f * g.plane;
            if (src->epi.pool) {
                nr_epi_grad_set(&src->epi, pooled_plane, src->out + p * pooled_plane,
                                src->dout + p * pooled_plane, small);
                if (dbias)
                    dbias[f] += nr_vsum(small, pooled_plane);
                counts[f] = list_pooled(small, src->argmax + p * pooled_plane, &g, fpos, fval,
                                        low_pos, low_val);
            } else {
                const float *gp = dense_grad_plane(src, &g, p, tmp);
                if (dbias)
                    dbias[f] += nr_vsum(gp, g.plane);
                counts[f] = list_dense(gp, &g, fpos, fval);
            }
        }
        if (dweight) {
            to_hwc(in + (size_t)i * in_step, &g, xh);
            for (int f = 0; f < g.F; f++)
                dw_filter(g.NV, counts[f], pos + (size_t)f * g.plane,
                          val + (size_t)f * g.plane, xh, g.Cv, voff, dwh + (size_t)f * g.NV * 8);
        }
        if (!din)
            continue;
        memset(dinh, 0, g.hwc * sizeof *dinh);
        for (int f = 0; f < g.F; f++)
            din_filter(g.NV, counts[f], pos + (size_t)f * g.plane, val + (size_t)f * g.plane,
                       dinh, g.Cv, voff, wh + (size_t)f * g.NV * 8);
        add_from_hwc(dinh, &g, din + (size_t)i * in_step);
    }
    if (dweight)
        add_hwc_weights(dwh, &g, dweight);
#else
    (void)d, (void)in, (void)weight, (void)src, (void)din, (void)dweight, (void)dbias,
        (void)workspace;
    assert(!"conv2d sparse: no AVX2 kernels in this build");
#endif
}
