/* conv_direct.c - direct convolution for stride 1 and "same" padding
 * (2 * pad == size - 1: 3x3 pad 1, 5x5 pad 2, 1x1 pad 0) with AVX2 + FMA
 * micro-kernels (avx2.h), only run when the CPU has them: the
 * nr_conv2d_*_direct kernels, plain and with fused relu (+ 2x2 max pooling)
 * epilogues, forward and backward. A backward whose gradient is sparse
 * enough hands its parts to conv_sparse.c; the dense dW runs in conv_dw.c
 * (the kernel files this one calls besides pooling and activation helpers;
 * nothing calls back). Which convolution runs for a shape is decided in
 * conv.c (nr_conv2d_*_fast).
 * See netrun/kernels.h for the contract.
 *
 * The idea: copy an image into a zero-bordered plane of width Wp = w + pad
 * and compute the output on the same grid, q = y*Wp + x. Then the input
 * under tap k = (ch, ky, kx) of output q is src[q + off_k] with the constant
 * off_k = ch*PS + ky*Wp + kx (PS: the padded plane's stride), so the
 * convolution is a GEMM out[f, q] = sum_k W[f, k] * src[q + off_k] whose
 * B operand is read straight from the padded image: no im2col. A row of the
 * plane is `pad` zeros then the image row: those zeros are the left border
 * of the row and the right border of the row above (the rows are
 * contiguous), so the grid has only `pad` extra columns per row (7x7 planes:
 * 56 grid outputs for 49, not 63); their results are computed and dropped.
 * pad zero rows above and below, and the slack after the plane, finish the
 * border.
 *
 *   forward:  out_grid[f, q] = sum_k W[f, k] src[q + off_k];  out = valid part + bias
 *   dW:       dW[f, k] += sum_i sum_q G_i[f, q] src_i[q + off_k]  (G on the grid,
 *             zero in the extra columns: taken from a zero-bordered copy of dout)
 *   din:      the forward of the zero-bordered G with the flipped, transposed
 *             weights W'[ch, (f, ky', kx')] = W[f, ch, size-1-ky', size-1-kx']
 *             (valid because 2*pad == size - 1).
 *
 * Every reduction runs in a fixed order (k ascending per accumulator lane;
 * dW per lane over q, then a fixed horizontal sum per chunk of images), so
 * results are deterministic. They differ from the BLAS path by rounding
 * (fused multiply-adds).
 */
#include "netrun/kernels.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "avx2.h"
#include "conv_direct.h"
#include "conv_dw.h"
#include "conv_epilogue.h"
#include "conv_sparse.h"
#include "conv_winograd.h"
#include "fma_tile.h"
#include "simd.h"
#include "vec.h"

enum {
    MR = 4,                          /* rows (filters) per micro-tile */
    SLACK = 32,                      /* zero floats after each padded plane */
    DW_CHUNK_FLOATS = 48 * 1024      /* padded images + gradients kept per dW chunk */
};
_Static_assert(MR == 4, "grid_gemm's panels are fma_tile.h's: 4 rows");

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

/* Geometry of the padded planes of one convolution. */
typedef struct geom {
    int C, F, H, W, S, pad;
    int Hp, Wp;          /* padded plane */
    size_t PS;           /* padded plane stride (floats) */
    int Q;               /* grid outputs that matter: h * Wp */
    int Qp;              /* Q rounded up to 8 */
    int K;               /* taps per filter: C * S * S */
    int Kg;              /* taps of the din convolution: F * S * S */
    int Fp, Cp;          /* F, C rounded up to MR */
} geom;

static geom make_geom(const nr_conv2d_dims *d)
{
    geom g;
    g.C = d->c;
    g.F = d->filters;
    g.H = d->h;
    g.W = d->w;
    g.S = d->size;
    g.pad = d->pad;
    g.Hp = d->h + 2 * d->pad;
    g.Wp = d->w + d->pad;   /* one border of `pad` zeros between two rows */
    g.Q = d->h * g.Wp;
    g.Qp = (int)round_up((size_t)g.Q, 8);
    /* reads reach q + off_k < Qp + (S-1)*Wp + S-1 + ch*PS: past Hp*Wp by at
     * most S + 7, and the din/dW grids read G up to Qp + pad*(Wp+1) */
    g.PS = round_up((size_t)g.Hp * g.Wp + SLACK + (size_t)g.S, 8);
    g.K = d->c * d->size * d->size;
    g.Kg = d->filters * d->size * d->size;
    g.Fp = (int)round_up((size_t)d->filters, MR);
    g.Cp = (int)round_up((size_t)d->c, MR);
    return g;
}

int nr_conv2d_direct_applies(const nr_conv2d_dims *d)
{
    return nr_conv2d_direct_fits(d);
}

/* Images per dW chunk: their padded inputs and gradients stay in L2. */
static int dw_chunk(const geom *g, int n)
{
    size_t per = (size_t)(g->C + g->Fp) * g->PS;
    size_t chunk = per ? DW_CHUNK_FLOATS / per : 1;
    if (chunk < 1)
        chunk = 1;
    if (chunk > (size_t)n)
        chunk = (size_t)n;
    return (int)chunk;
}

/* Workspace layout, forward: packed W | offsets | padded image | grid.
 * backward: packed W' | offsets (K) | offsets (Kg) | chunk x (padded image,
 * padded G) | grid. Offsets are stored as floats' worth of int32. */
/* ... and after either, a plane of h*w floats and a pooled plane of
 * (h/2)*(w/2) for the fused epilogues. */
static size_t plane_floats(const geom *g)
{
    return (size_t)g->H * g->W + (size_t)(g->H / 2) * (size_t)(g->W / 2) + 8;
}

static size_t forward_floats(const geom *g)
{
    return (size_t)g->Fp * g->K + (size_t)g->K + (size_t)g->C * g->PS +
           (size_t)g->Fp * g->Qp + 8 + plane_floats(g);
}

static size_t backward_floats(const geom *g, int chunk)
{
    return (size_t)g->Cp * g->Kg + (size_t)g->K + (size_t)g->Kg +
           (size_t)chunk * ((size_t)g->C * g->PS + (size_t)g->Fp * g->PS) +
           (size_t)g->Cp * g->Qp + 8 + plane_floats(g);
}

/* Winograd (conv_winograd.c) computes the grid instead of grid_gemm where
 * it pays: the forward (c -> filters) and din (filters -> c) of 3x3 pad 1;
 * its workspace follows the direct kernel's. The tile, 0 for none. */
static int wino_forward(const nr_conv2d_dims *d)
{
    return d->size == 3 ? nr_wino_tile(d->c, d->filters, d->h, d->w) : 0;
}

static int wino_din(const nr_conv2d_dims *d)
{
    return d->size == 3 ? nr_wino_tile(d->filters, d->c, d->h, d->w) : 0;
}

static nr_wino_geom wino_geom(int tile, int cin, int cout, int h, int w)
{
    tile = tile ? tile : 2;
    return nr_wino_make_geom(tile, nr_wino_images_per_call(tile, w), cin, cout, h, w);
}

/* Where Winograd writes the grid: the direct kernel's grid (rows Wp,
 * planes Qp apart) for one image a call; for images side by side a wider
 * grid after the Winograd workspace (rows of the stacked width). */
typedef struct wino_out {
    float *grid;
    size_t ldy, ldo;
} wino_out;

static size_t wino_wide_floats(const nr_wino_geom *wg)
{
    return wg->nimg > 1 ? (size_t)wg->cout * wg->h * round_up((size_t)wg->w, 8) + 8 : 0;
}

static size_t wino_floats(const nr_wino_geom *wg)
{
    return nr_wino_workspace_floats(wg) + wino_wide_floats(wg);
}

static wino_out wino_out_for(const nr_wino_geom *wg, const geom *g, float *wws, float *grid)
{
    wino_out o = {grid, (size_t)g->Wp, (size_t)g->Qp};
    if (wg->nimg > 1) {
        o.grid = wws + nr_wino_workspace_floats(wg);
        o.ldy = round_up((size_t)wg->w, 8);
        o.ldo = (size_t)wg->h * o.ldy;
    }
    return o;
}

size_t nr_conv2d_direct_workspace_floats(const nr_conv2d_dims *d)
{
    geom g = make_geom(d);
    size_t f = forward_floats(&g), b = backward_floats(&g, dw_chunk(&g, d->n));
    if (wino_forward(d)) {
        nr_wino_geom wg = wino_geom(wino_forward(d), d->c, d->filters, d->h, d->w);
        f += wino_floats(&wg);
    }
    if (wino_din(d)) {
        nr_wino_geom wg = wino_geom(wino_din(d), d->filters, d->c, d->h, d->w);
        b += wino_floats(&wg);
    }
    size_t s = nr_conv2d_sparse_workspace_floats(d), m = f > b ? f : b;
    return m > s ? m : s;
}

/* Tap offsets: off[(ch*S + ky)*S + kx] = ch*PS + ky*Wp + kx. */
static void tap_offsets(int planes, int S, int Wp, size_t PS, int32_t *off)
{
    for (int ch = 0; ch < planes; ch++)
        for (int ky = 0; ky < S; ky++)
            for (int kx = 0; kx < S; kx++)
                off[(ch * S + ky) * S + kx] = (int32_t)((size_t)ch * PS + (size_t)ky * Wp + kx);
}

/* A [M, K] row-major -> ap [Mp/4][K][4], rows >= M zero. */
static void pack_rows(const float *a, int M, int K, int Mp, float *ap)
{
    for (int mb = 0; mb < Mp / MR; mb++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < MR; i++) {
                int m = mb * MR + i;
                ap[((size_t)mb * K + k) * MR + i] = m < M ? a[(size_t)m * K + k] : 0.0f;
            }
}

/* W' for the din convolution: [C, (f, ky', kx')] = W[f, ch, S-1-ky', S-1-kx'],
 * packed like pack_rows. */
static void pack_flipped(const float *w, const geom *g, float *ap)
{
    const int S = g->S, S2 = S * S;
    for (int mb = 0; mb < g->Cp / MR; mb++)
        for (int f = 0; f < g->F; f++)
            for (int t = 0; t < S2; t++)
                for (int i = 0; i < MR; i++) {
                    int ch = mb * MR + i;
                    int ky = S - 1 - t / S, kx = S - 1 - t % S;
                    ap[((size_t)mb * g->Kg + (size_t)f * S2 + t) * MR + i] =
                        ch < g->C ? w[(((size_t)f * g->C + ch) * S + ky) * S + kx] : 0.0f;
                }
}

#if NR_HAVE_AVX2_KERNELS

/* t[0..n) = s[0..n) with vector loads and stores, the last vector
 * overlapping the one before when n is not a multiple of its width: the
 * rows are short (7 or 14 floats in ex2), and a plain loop becomes a memcpy
 * call per row that costs more than the copy. */
static NR_AVX2_INLINE void copy_row(float *t, const float *s, int n)
{
    if (n >= 8) {
        int x = 0;
        for (; x + 8 <= n; x += 8)
            _mm256_storeu_ps(t + x, _mm256_loadu_ps(s + x));
        if (x < n)
            _mm256_storeu_ps(t + n - 8, _mm256_loadu_ps(s + n - 8));
    } else if (n >= 4) {
        _mm_storeu_ps(t, _mm_loadu_ps(s));
        _mm_storeu_ps(t + n - 4, _mm_loadu_ps(s + n - 4));
    } else {
        for (int x = 0; x < n; x++)
            t[x] = s[x];
    }
}

/* planes x [h, w] -> the interiors of zero-bordered planes (borders and
 * slack are zeroed once per call by the caller). */
NR_AVX2 static void pad_copy(const float *src, int planes, int h, int w, int pad, int Wp,
                             size_t PS, float *dst)
{
    for (int ch = 0; ch < planes; ch++) {
        const float *s = src + (size_t)ch * h * w;
        float *t = dst + (size_t)ch * PS + (size_t)pad * Wp + pad;
        for (int y = 0; y < h; y++)
            copy_row(t + (size_t)y * Wp, s + (size_t)y * w, w);
    }
}

/* out[m, q] = sum_k ap[m, k] * src[q + off[k]] for m < Mp, q < Qp (q step 8);
 * out rows ldo apart. */
NR_AVX2 static void grid_gemm(int Mp, int K, int Qp, const float *ap, const float *src,
                              const int32_t *off, float *out, size_t ldo)
{
    for (int mb = 0; mb < Mp / MR; mb++)
        nr_fma_panel(K, ap + (size_t)mb * K * MR, src, off, Qp, out + (size_t)mb * MR * ldo, ldo);
}

#endif /* NR_HAVE_AVX2_KERNELS */


static void forward_direct(const nr_conv2d_dims *d, const float *in, const float *weight,
                           const float *bias, const nr_conv_epilogue *epi, float *out,
                           int32_t *argmax, float *workspace)
{
#if NR_HAVE_AVX2_KERNELS
    assert(nr_conv2d_direct_applies(d));
    assert(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0 && d->filters > 0);
    const geom g = make_geom(d);
    float *ap = workspace;
    int32_t *off = (int32_t *)(ap + (size_t)g.Fp * g.K);
    float *xp = (float *)(off + g.K);
    float *grid = xp + (size_t)g.C * g.PS;
    float *scratch = grid + (size_t)g.Fp * g.Qp + 8;   /* the epilogue's */
    const int wino = wino_forward(d);
    const nr_wino_geom wg = wino_geom(wino, g.C, g.F, g.H, g.W);
    float *wws = workspace + forward_floats(&g);
    const wino_out wo = wino_out_for(&wg, &g, wws, grid);
    if (wino) {
        nr_wino_begin(&wg, NR_WINO_AVX2, weight, (ptrdiff_t)g.K, 9, 3, 1, wws);
    } else {
        pack_rows(weight, g.F, g.K, g.Fp, ap);
        tap_offsets(g.C, g.S, g.Wp, g.PS, off);
        memset(xp, 0, (size_t)g.C * g.PS * sizeof *xp);
    }
    const size_t in_step = (size_t)g.C * g.H * g.W, plane = (size_t)g.H * g.W;
    const size_t pooled_plane = (size_t)(g.H / 2) * (size_t)(g.W / 2);
    const int step = wino ? wg.nimg : 1;
    for (int i0 = 0; i0 < d->n; i0 += step) {
        const int nb = d->n - i0 < step ? d->n - i0 : step;
        if (wino) {
            const float *srcs[NR_WINO_MAX_IMAGES];   /* a short group repeats its last */
            for (int b = 0; b < wg.nimg; b++)
                srcs[b] = in + (size_t)(i0 + (b < nb ? b : nb - 1)) * in_step;
            nr_wino_images(&wg, NR_WINO_AVX2, srcs, (size_t)g.W, plane, wo.grid, wo.ldy,
                           wo.ldo, wws);
        } else {
            pad_copy(in + (size_t)i0 * in_step, g.C, g.H, g.W, g.pad, g.Wp, g.PS, xp);
            grid_gemm(g.Fp, g.K, g.Qp, ap, xp, off, grid, (size_t)g.Qp);
        }
        for (int bf = 0; bf < nb * g.F; bf++) {   /* image b of the group, filter f */
            const int b = bf / g.F, f = bf % g.F;
            const int ldr = wino ? (int)wo.ldy : g.Wp;
            const float *r = wino ? wo.grid + (size_t)f * wo.ldo + (size_t)b * wg.sw
                                  : grid + (size_t)f * g.Qp;
            const size_t p = (size_t)(i0 + b) * g.F + (size_t)f;    /* output plane */
            if (!nr_epi_is_none(epi)) {
                const size_t out_plane = epi->pool ? pooled_plane : plane;
                nr_epi_forward_plane(epi, r, ldr, g.H, g.W, bias ? bias + f : NULL,
                                     out + p * out_plane,
                                     argmax ? argmax + p * pooled_plane : NULL, scratch);
                continue;
            }
            float *dst = out + p * plane;
            for (int y = 0; y < g.H; y++) {
                float *row = dst + (size_t)y * g.W;
                const float *src = r + (size_t)y * (size_t)ldr;
                if (bias)
                    nr_vcopy_add_scalar(row, src, bias[f], (size_t)g.W);
                else
                    memcpy(row, src, (size_t)g.W * sizeof *row);
            }
        }
    }
#else
    (void)d, (void)in, (void)weight, (void)bias, (void)epi, (void)out, (void)argmax,
        (void)workspace;
    assert(!"conv2d direct: no AVX2 kernels in this build");
#endif
}

void nr_conv2d_forward_direct(const nr_conv2d_dims *d, const float *in, const float *weight,
                              const float *bias, float *out, float *workspace)
{
    const nr_conv_epilogue none = {.act = NR_ACT_NONE};
    forward_direct(d, in, weight, bias, &none, out, NULL, workspace);
}

void nr_conv2d_fused_forward_direct(const nr_conv2d_dims *d, const nr_conv_epilogue *epi,
                                    const float *in, const float *weight, const float *bias,
                                    float *out, int32_t *argmax, float *workspace)
{
    assert(!epi->pool || (d->h % 2 == 0 && d->w % 2 == 0));
    forward_direct(d, in, weight, bias, epi, out, argmax, workspace);
}

void nr_conv2d_relu_forward_direct(const nr_conv2d_dims *d, const float *in,
                                   const float *weight, const float *bias, float *out,
                                   float *workspace)
{
    const nr_conv_epilogue relu = {.act = NR_ACT_RELU};
    forward_direct(d, in, weight, bias, &relu, out, NULL, workspace);
}

void nr_conv2d_relu_maxpool_forward_direct(const nr_conv2d_dims *d, const float *in,
                                           const float *weight, const float *bias,
                                           float *pooled, int32_t *argmax, float *workspace)
{
    const nr_conv_epilogue relu_pool = {.act = NR_ACT_RELU, .pool = 1};
    nr_conv2d_fused_forward_direct(d, &relu_pool, in, weight, bias, pooled, argmax, workspace);
}


/* The gradient w.r.t. the convolution's output for plane p (= image*F + f)
 * without pooling, as the separate layers would have left it: act'(out) *
 * dout. Written into tmp [h*w] unless it can be read in place; returned. */
static const float *conv_out_grad(const nr_conv_grad_source *src, const geom *g, size_t p,
                                  float *tmp)
{
    const size_t plane = (size_t)g->H * g->W;
    if (nr_epi_is_none(&src->epi))
        return src->dout + p * plane;
    nr_epi_grad_set(&src->epi, plane, src->out + p * plane, src->dout + p * plane, tmp);
    return tmp;
}

static void backward_direct(const nr_conv2d_dims *d, const float *in, const float *weight,
                            const nr_conv_grad_source *src, float *din, float *dweight,
                            float *dbias, float *workspace)
{
#if NR_HAVE_AVX2_KERNELS
    assert(nr_conv2d_direct_applies(d));
    assert(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0 && d->filters > 0);
    /* the parts that pay on the gradient's nonzeros go there (dbias with
     * dW), the rest stays here */
    const int sparse = nr_conv2d_sparse_parts(d, src);
    if (sparse) {
        float *sparse_din = sparse & NR_SPARSE_DIN ? din : NULL;
        float *sparse_dw = sparse & NR_SPARSE_DW ? dweight : NULL;
        if (sparse_din || sparse_dw)
            nr_conv2d_sparse_backward(d, in, weight, src, sparse_din, sparse_dw,
                                      sparse_dw ? dbias : NULL, workspace);
        if (sparse_din)
            din = NULL;
        if (sparse_dw)
            dweight = dbias = NULL;
        if (!din && !dweight)
            return;
    }
    const geom g = make_geom(d);
    /* din by Winograd: W'[ch, f, ky', kx'] = W[f, ch, 2-ky', 2-kx'] as strides */
    const int wino = din ? wino_din(d) : 0;
    const nr_wino_geom wg = wino_geom(wino, g.F, g.C, g.H, g.W);
    int chunk = dw_chunk(&g, d->n);
    if (wino && chunk > wg.nimg)   /* whole groups of images side by side */
        chunk -= chunk % wg.nimg;
    float *apf = workspace;                                   /* W' for din */
    int32_t *off = (int32_t *)(apf + (size_t)g.Cp * g.Kg);    /* taps into the input */
    int32_t *offg = off + g.K;                                /* taps into G */
    float *bufs = (float *)(offg + g.Kg);
    const size_t xs = (size_t)g.C * g.PS + (size_t)g.Fp * g.PS;  /* per image: x then G */
    float *grid = bufs + (size_t)chunk * xs;
    float *tmp = grid + (size_t)g.Cp * g.Qp + 8;
    float *small = tmp + (size_t)g.H * g.W;
    tap_offsets(g.C, g.S, g.Wp, g.PS, off);
    tap_offsets(g.F, g.S, g.Wp, g.PS, offg);
    float *wws = workspace + backward_floats(&g, chunk);
    const wino_out wo = wino_out_for(&wg, &g, wws, grid);
    if (wino)
        nr_wino_begin(&wg, NR_WINO_AVX2, weight + 8, 9, (ptrdiff_t)g.K, -3, -1, wws);
    else if (din)
        pack_flipped(weight, &g, apf);
    /* borders, slack and the planes of rows >= F stay zero for the call */
    memset(bufs, 0, (size_t)chunk * xs * sizeof *bufs);
    const size_t in_step = (size_t)g.C * g.H * g.W;
    const size_t plane = (size_t)g.H * g.W;
    /* G on the output grid: row y, column x of plane f at gp + f*PS + pad*(Wp+1) + q;
     * the same point is the start of the plane's interior */
    const size_t gshift = (size_t)g.pad * g.Wp + (size_t)g.pad;
    for (int i0 = 0; i0 < d->n; i0 += chunk) {
        const int nb = d->n - i0 < chunk ? d->n - i0 : chunk;
        for (int b = 0; b < nb; b++) {
            float *xb = bufs + (size_t)b * xs, *gb = xb + (size_t)g.C * g.PS;
            if (dweight)
                pad_copy(in + (size_t)(i0 + b) * in_step, g.C, g.H, g.W, g.pad, g.Wp, g.PS, xb);
            for (int f = 0; f < g.F; f++) {
                const size_t p = (size_t)(i0 + b) * g.F + (size_t)f;
                float *interior = gb + (size_t)f * g.PS + gshift;
                if (src->epi.pool) {
                    /* dbias: the sum of the masked d pooled (the plane's nonzeros) */
                    const size_t pooled_plane = plane / 4;
                    nr_epi_pool_grad_plane(&src->epi, src->out + p * pooled_plane,
                                           src->dout + p * pooled_plane,
                                           src->argmax + p * pooled_plane, g.H, g.W, g.Wp,
                                           interior, small);
                    if (dbias)
                        dbias[f] += nr_vsum(small, pooled_plane);
                    continue;
                }
                const float *gf = conv_out_grad(src, &g, p, tmp);
                pad_copy(gf, 1, g.H, g.W, g.pad, g.Wp, g.PS, gb + (size_t)f * g.PS);
                if (dbias)
                    dbias[f] += nr_vsum(gf, plane);
            }
        }
        /* dW[F, K] += sum over the chunk */
        const float *gq = bufs + (size_t)g.C * g.PS + gshift;
        if (dweight)
            nr_conv_dw_grid(nr_conv_dw_best_isa(), nb, bufs, gq, xs, g.PS, g.Qp, off, g.F, g.Fp,
                            g.K, dweight);
        if (!din)
            continue;
        const int step = wino ? wg.nimg : 1;
        for (int b0 = 0; b0 < nb; b0 += step) {
            const int nbb = nb - b0 < step ? nb - b0 : step;
            if (wino) {
                const float *srcs[NR_WINO_MAX_IMAGES];   /* a short group repeats its last */
                for (int b = 0; b < wg.nimg; b++)
                    srcs[b] = bufs + (size_t)(b0 + (b < nbb ? b : nbb - 1)) * xs +
                              (size_t)g.C * g.PS + gshift;
                nr_wino_images(&wg, NR_WINO_AVX2, srcs, (size_t)g.Wp, g.PS, wo.grid, wo.ldy,
                               wo.ldo, wws);
            } else {
                const float *gb = bufs + (size_t)b0 * xs + (size_t)g.C * g.PS;
                grid_gemm(g.Cp, g.Kg, g.Qp, apf, gb, offg, grid, (size_t)g.Qp);
            }
            for (int b = 0; b < nbb; b++) {
                float *di = din + (size_t)(i0 + b0 + b) * in_step;
                for (int ch = 0; ch < g.C; ch++) {
                    const float *r = wino ? wo.grid + (size_t)ch * wo.ldo + (size_t)b * wg.sw
                                          : grid + (size_t)ch * g.Qp;
                    const size_t ldr = wino ? wo.ldy : (size_t)g.Wp;
                    float *dst = di + (size_t)ch * plane;
                    for (int y = 0; y < g.H; y++)
                        nr_vadd(dst + (size_t)y * g.W, r + (size_t)y * ldr, (size_t)g.W);
                }
            }
        }
    }
#else
    (void)d, (void)in, (void)weight, (void)src, (void)din, (void)dweight, (void)dbias,
        (void)workspace;
    assert(!"conv2d direct: no AVX2 kernels in this build");
#endif
}

void nr_conv2d_backward_direct(const nr_conv2d_dims *d, const float *in, const float *weight,
                               const float *dout, float *din, float *dweight, float *dbias,
                               float *workspace)
{
    nr_conv_grad_source src = {.epi = {.act = NR_ACT_NONE}, .dout = dout};
    backward_direct(d, in, weight, &src, din, dweight, dbias, workspace);
}

void nr_conv2d_fused_backward_direct(const nr_conv2d_dims *d, const nr_conv_epilogue *epi,
                                     const float *in, const float *weight, const float *out,
                                     const int32_t *argmax, const float *dout, float *din,
                                     float *dweight, float *dbias, float *workspace)
{
    assert(!epi->pool || (d->h % 2 == 0 && d->w % 2 == 0));
    nr_conv_grad_source src = {.epi = *epi, .dout = dout, .out = out, .argmax = argmax};
    backward_direct(d, in, weight, &src, din, dweight, dbias, workspace);
}

void nr_conv2d_relu_backward_direct(const nr_conv2d_dims *d, const float *in,
                                    const float *weight, const float *out, const float *dout,
                                    float *din, float *dweight, float *dbias, float *workspace)
{
    const nr_conv_epilogue relu = {.act = NR_ACT_RELU};
    nr_conv2d_fused_backward_direct(d, &relu, in, weight, out, NULL, dout, din, dweight, dbias,
                                    workspace);
}

void nr_conv2d_relu_maxpool_backward_direct(const nr_conv2d_dims *d, const float *in,
                                            const float *weight, const float *pooled,
                                            const int32_t *argmax, const float *dpooled,
                                            float *din, float *dweight, float *dbias,
                                            float *workspace)
{
    const nr_conv_epilogue relu_pool = {.act = NR_ACT_RELU, .pool = 1};
    nr_conv2d_fused_backward_direct(d, &relu_pool, in, weight, pooled, argmax, dpooled, din,
                                    dweight, dbias, workspace);
}
