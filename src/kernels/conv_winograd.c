/* conv_winograd.c - 3x3 stride-1 pad-1 convolution by Winograd F(2x2, 3x3)
 * onto the direct kernel's output grid; see conv_winograd.h for the
 * contract and conv_direct.c for the grid.
 *
 * Transforms (Lavin & Gray), for a 4x4 patch d and a 3x3 filter g:
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A.
 *
 * Tiles: tile (ty, tx) covers outputs (2ty + a, 2tx + b), a, b < 2, and the
 * patch P[2ty + r][2tx + j], r, j < 4, of the zero-bordered image
 * P[yy][xx] = in[yy-1][xx-1]. A tile row is handled 8 tiles at a time
 * (tw rounded up to twv = 8k): tile (ty, tx) is column t = ty*tw + tx of V
 * and M, and the lanes of the last chunk of a row that fall past tw spill
 * into the next tile row's columns, which are written after them (tile rows
 * in ascending order; ldv leaves room for the last row's spill).
 *
 * Images side by side (g->nimg > 1, see conv_winograd.h): every stage but
 * the row copies (copy_rows, row_xt_portable) sees one image g->w wide.
 *
 * Workspace (floats, offsets in nr_wino_geom):
 *   U  [16][coutp/4][cin][4]  U[e] for 4 output channels side by side
 *   V  [16][cin][ldv]         the input transform, column t = tile
 *   M  [16][coutp][ldv]       M[e] = U[e] V[e]
 *   xt [m*th+2+m][a][twv]     one channel's rows after the x-transform
 *                             (rows 0 and > h stay zero)
 *   row: a zero-bordered image row [2L] | its even [L] | odd [L] elements
 *        (L = twv + 8), for the portable code
 *   plane [h][2*twv + 8]: one channel's rows, zero-bordered: P[yy][xx] at
 *        (yy-1)*(2*twv+8) + xx, for the AVX2 code
 * Per image: per channel, rows -> xt -> V; 16 GEMMs; per output channel
 * M -> out. The stages exist as portable C loops and as AVX2 + FMA code.
 */
#include "conv_winograd.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "avx2.h"
#include "fma_tile.h"

enum { OB = 4 };   /* output channels per GEMM micro-tile */
_Static_assert(OB == 4, "fma_tile.h panels are 4 rows");

static size_t round8(size_t x)
{
    return (x + 7) / 8 * 8;
}

/* The transforms: F(2x2, 3x3) (Lavin & Gray) and F(4x4, 3x3) (points 0,
 * +-1, +-2 and infinity), BT [a][a], G [a][3], AT [m][a], a = m + 2. */
static const double BT2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double AT2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double BT4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                 {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                 {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double G4[6][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
static const double AT4[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

static double bt(int m, int i, int j)
{
    return m == 2 ? BT2[i][j] : BT4[i][j];
}

static double at(int m, int i, int j)
{
    return m == 2 ? AT2[i][j] : AT4[i][j];
}

int nr_wino_images_per_call(int tile, int w)
{
    if (tile != 4 || (w + 3) / 4 > 2)
        return 1;
    const int sw = (w + 1 + 3) / 4 * 4, n = (32 - w) / sw + 1;
    return n < NR_WINO_MAX_IMAGES ? n : NR_WINO_MAX_IMAGES;
}

nr_wino_geom nr_wino_make_geom(int tile, int nimg, int cin, int cout, int h, int w)
{
    assert(tile == 2 || tile == 4);
    assert(nimg >= 1 && nimg <= NR_WINO_MAX_IMAGES);
    nr_wino_geom g;
    g.m = tile;
    g.a = tile + 2;
    g.ne = g.a * g.a;
    g.cin = cin;
    g.cout = cout;
    g.h = h;
    g.nimg = nimg;
    g.wimg = w;
    g.sw = (w + 1 + tile - 1) / tile * tile;
    w = (nimg - 1) * g.sw + w;
    g.w = w;
    g.coutp = (cout + OB - 1) / OB * OB;
    g.th = (h + tile - 1) / tile;
    g.tw = (w + tile - 1) / tile;
    g.twv = (int)round8((size_t)g.tw);
    g.t = g.th * g.tw;
    g.tp = (int)round8((size_t)g.t);
    g.ldv = (int)round8((size_t)(g.t - g.tw + g.twv));
    const size_t rowlen = (size_t)tile * g.twv + 8;   /* a zero-bordered row */
    const size_t ne = (size_t)g.ne;
    g.off_u = 0;
    g.off_krow = g.off_u + round8(ne * g.coutp * cin);
    g.off_v = g.off_krow + round8((size_t)cin);   /* int32 in float slots */
    g.off_m = g.off_v + ne * cin * g.ldv;
    g.off_xt = g.off_m + ne * g.coutp * g.ldv;
    /* m more zero rows: a pair of tile rows (tw == 4) reads them past an odd th */
    g.off_row = g.off_xt + (size_t)(tile * g.th + 2 + tile) * g.a * g.twv;
    g.off_plane = g.off_row + round8(rowlen);
    g.total = g.off_plane + (size_t)h * rowlen;
    return g;
}

size_t nr_wino_workspace_floats(const nr_wino_geom *g)
{
    return g->total;
}

/* Measured against the direct kernel (tools/bench/README.md, "Winograd"
 * and "Winograd, second step"; single thread, 64 images, the forward and
 * the backward with din):
 * - F(4x4) where a tile row fills most of its 8 lanes (28x28: 7 tiles);
 * - F(4x4) on 13-16 wide planes (4 tiles, two tile rows a vector) for
 *   16 <= cin <= cout (16 -> 16: faster than F(2x2); 8 -> 16: even);
 * - F(4x4) with images side by side on planes of 1-2 tiles a row (7x7)
 *   for cin, cout >= 16 (32 -> 32: faster than F(2x2); 16 -> 32 and
 *   32 -> 16: faster than direct);
 * - F(2x2) on other planes, but not where cin > cout (the input
 *   transform, per input channel, costs more than the output one: slower
 *   for 16 -> 8 channels on 14x14) nor on planes under 10 wide (4 tiles a
 *   row) unless cin >= 32. */
int nr_wino_tile(int cin, int cout, int h, int w)
{
    (void)h;
    if (cin < 8 || cout < 8 || !nr_cpu_has_avx2_fma())
        return 0;
    if ((w + 3) / 4 >= 7)
        return 4;
    if ((w + 3) / 4 == 4 && cin >= 16 && cin <= cout)
        return 4;
    if ((w + 3) / 4 <= 2 && cin >= 16 && cout >= 16)
        return 4;
    if (cin > cout || (w < 10 && cin < 32))
        return 0;
    return 2;
}

/* U for output channel o and input channels i0 <= i < i1, in double,
 * rounded once to float: t = G k, r = t G^T (sums left to right). */
static void filters_u_portable(const nr_wino_geom *g, const float *w, ptrdiff_t so,
                               ptrdiff_t si, ptrdiff_t sy, ptrdiff_t sx, int o, int i0, int i1,
                               float *u)
{
    const int nob = g->coutp / OB, a = g->a;
    const double(*G)[3] = g->m == 2 ? G2 : G4;
    for (int i = i0; i < i1; i++) {
        double k[3][3] = {{0}}, t[6][3], r[6][6];
        if (o < g->cout)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    k[ky][kx] = w[o * so + i * si + ky * sy + kx * sx];
        for (int p = 0; p < a; p++)
            for (int c = 0; c < 3; c++)
                t[p][c] = G[p][0] * k[0][c] + G[p][1] * k[1][c] + G[p][2] * k[2][c];
        for (int p = 0; p < a; p++)
            for (int q = 0; q < a; q++)
                r[p][q] = t[p][0] * G[q][0] + t[p][1] * G[q][1] + t[p][2] * G[q][2];
        for (int e = 0; e < g->ne; e++)
            u[(((size_t)e * nob + o / OB) * g->cin + i) * OB + o % OB] = (float)r[e / a][e % a];
    }
}

#if NR_HAVE_AVX2_KERNELS
/* As filters_u_portable for 4 input channels i..i+3 at once, one per
 * double lane: the same multiplies and adds in the same order (separate
 * mul and add: no contraction under -std=c11), the same bits. */
NR_AVX2 static void filters_u4_avx2(const nr_wino_geom *g, const float *w, ptrdiff_t so,
                                    ptrdiff_t si, ptrdiff_t sy, ptrdiff_t sx, int o, int i,
                                    float *u)
{
    const int nob = g->coutp / OB, a = g->a;
    const double(*G)[3] = g->m == 2 ? G2 : G4;
    __m256d k[3][3], t[6][3];
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) {
            const float *p = w + o * so + i * si + ky * sy + kx * sx;
            k[ky][kx] = _mm256_setr_pd(p[0], p[si], p[2 * si], p[3 * si]);
        }
    for (int p = 0; p < a; p++)
        for (int c = 0; c < 3; c++)
            t[p][c] = _mm256_add_pd(
                _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(G[p][0]), k[0][c]),
                              _mm256_mul_pd(_mm256_set1_pd(G[p][1]), k[1][c])),
                _mm256_mul_pd(_mm256_set1_pd(G[p][2]), k[2][c]));
    float *dst = u + ((size_t)(o / OB) * g->cin + i) * OB + o % OB;
    const size_t es = (size_t)nob * g->cin * OB;   /* between elements e */
    for (int p = 0; p < a; p++)
        for (int q = 0; q < a; q++) {
            const __m256d r = _mm256_add_pd(
                _mm256_add_pd(_mm256_mul_pd(t[p][0], _mm256_set1_pd(G[q][0])),
                              _mm256_mul_pd(t[p][1], _mm256_set1_pd(G[q][1]))),
                _mm256_mul_pd(t[p][2], _mm256_set1_pd(G[q][2])));
            float f[4];
            _mm_storeu_ps(f, _mm256_cvtpd_ps(r));
            float *d = dst + (size_t)(p * a + q) * es;
            d[0] = f[0];
            d[OB] = f[1];
            d[2 * OB] = f[2];
            d[3 * OB] = f[3];
        }
}
#endif

void nr_wino_begin(const nr_wino_geom *g, nr_wino_isa isa, const float *w, ptrdiff_t so,
                   ptrdiff_t si, ptrdiff_t sy, ptrdiff_t sx, float *ws)
{
    float *u = ws + g->off_u;
    for (int o = 0; o < g->coutp; o++) {
        int i = 0;
#if NR_HAVE_AVX2_KERNELS
        if (isa == NR_WINO_AVX2 && o < g->cout)
            for (; i + 4 <= g->cin; i += 4)
                filters_u4_avx2(g, w, so, si, sy, sx, o, i, u);
#endif
        filters_u_portable(g, w, so, si, sy, sx, o, i, g->cin, u);
    }
    (void)isa;
    int32_t *krow = (int32_t *)(ws + g->off_krow);
    for (int k = 0; k < g->cin; k++)
        krow[k] = k * g->ldv;
    /* V and M columns no tile writes are read (whole 8-wide chunks): keep
     * them defined; xt's border rows and the rows' borders stay zero */
    memset(ws + g->off_v, 0, (g->total - g->off_v) * sizeof *ws);
}

/* ---- portable stages ---------------------------------------------------- */

/* Row y of one channel of the images (src[b] + off) -> xt row y+1 (the
 * x-transform of its patch columns: a rows of twv, one per row of B^T),
 * through a zero-bordered copy rb (the columns between images stay zero). */
static void row_xt_portable(const nr_wino_geom *g, const float *const *src, size_t off,
                            float *xt_row, float *rb)
{
    for (int b = 0; b < g->nimg; b++)
        memcpy(rb + 1 + (size_t)b * g->sw, src[b] + off, (size_t)g->wimg * sizeof *rb);
    const int n = g->twv, m = g->m, a = g->a;
    for (int i = 0; i < a; i++)
        for (int k = 0; k < n; k++) {
            float s = 0.0f;
            for (int j = 0; j < a; j++)
                s += (float)bt(m, i, j) * rb[m * k + j];
            xt_row[(size_t)i * n + k] = s;
        }
}

/* xt (one channel) -> V[e][ch][t], tile rows ascending. */
static void xt_v_portable(const nr_wino_geom *g, const float *xt, float *v, int ch)
{
    const int n = g->twv, m = g->m, a = g->a;
    const size_t es = (size_t)g->cin * g->ldv;   /* V's stride between elements e */
    for (int ty = 0; ty < g->th; ty++)
        for (int k0 = 0; k0 < n; k0 += 8) {
            float *dst = v + (size_t)ch * g->ldv + (size_t)ty * g->tw + k0;
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++)
                    for (int l = 0; l < 8; l++) {
                        float s = 0.0f;
                        for (int r = 0; r < a; r++)
                            s += (float)bt(m, i, r) *
                                 xt[((size_t)(m * ty + r) * a + j) * n + k0 + l];
                        dst[(size_t)(i * a + j) * es + l] = s;
                    }
        }
}

/* M[e] = U[e] V[e] for the tp columns, sums over the input channels in
 * ascending order. */
static void gemm_portable(const nr_wino_geom *g, const float *u, const float *v, float *mm)
{
    const int nob = g->coutp / OB;
    for (int e = 0; e < g->ne; e++)
        for (int o = 0; o < g->coutp; o++) {
            const float *a = u + ((size_t)e * nob + o / OB) * g->cin * OB + o % OB;
            float *dst = mm + ((size_t)e * g->coutp + o) * g->ldv;
            for (int q = 0; q < g->tp; q++) {
                float s = 0.0f;
                for (int i = 0; i < g->cin; i++)
                    s += a[(size_t)i * OB] * v[((size_t)e * g->cin + i) * g->ldv + q];
                dst[q] = s;
            }
        }
}

/* M (output channel o) -> the grid plane out (rows ldy apart): the valid
 * cells only. */
static void m_out_portable(const nr_wino_geom *g, const float *mm, int o, float *out, size_t ldy)
{
    const int m = g->m, a = g->a;
    const size_t es = (size_t)g->coutp * g->ldv;
    for (int ty = 0; ty < g->th; ty++)
        for (int tx = 0; tx < g->tw; tx++) {
            const float *src = mm + (size_t)o * g->ldv + (size_t)ty * g->tw + tx;
            float s[4][6];
            for (int p = 0; p < m; p++)
                for (int j = 0; j < a; j++) {
                    float acc = 0.0f;
                    for (int i = 0; i < a; i++)
                        acc += (float)at(m, p, i) * src[(size_t)(i * a + j) * es];
                    s[p][j] = acc;
                }
            for (int p = 0; p < m && m * ty + p < g->h; p++)
                for (int q = 0; q < m && m * tx + q < g->w; q++) {
                    float acc = 0.0f;
                    for (int j = 0; j < a; j++)
                        acc += (float)at(m, q, j) * s[p][j];
                    out[(size_t)(m * ty + p) * ldy + m * tx + q] = acc;
                }
        }
}

/* ---- AVX2 + FMA stages -------------------------------------------------- */

#if NR_HAVE_AVX2_KERNELS

/* lanes < n of a mask (n in 0..8): mask_from + 8 - n */
static const int32_t lane_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

NR_AVX2_INLINE static __m256i first_lanes(int n)
{
    return _mm256_loadu_si256((const __m256i *)(lane_mask + 8 - n));
}

/* 8 floats at p, or with pair the first 4 at p and 4 at p + hi: two tile
 * rows of 4 tiles in one vector (tw == 4: the columns of V and M hold tile
 * rows ty and ty+1 side by side, t = ty*4 + tx). */
NR_AVX2_INLINE static __m256 load_pair(const float *p, size_t hi, int pair)
{
    if (!pair)
        return _mm256_loadu_ps(p);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm_loadu_ps(p + hi), 1);
}

/* dst[0..count) = the first count of the 16 floats (a, b): whole stores
 * where they end before `end` (see m_out_avx2), masked ones otherwise. */
NR_AVX2_INLINE static void store_row16(float *dst, __m256 a, __m256 b, int count,
                                       const float *end)
{
    if (end - dst >= 16) {
        _mm256_storeu_ps(dst, a);
        _mm256_storeu_ps(dst + 8, b);
    } else if (count >= 8) {
        _mm256_storeu_ps(dst, a);
        if (count > 8)
            _mm256_maskstore_ps(dst + 8, first_lanes(count - 8), b);
    } else if (count > 0) {
        _mm256_maskstore_ps(dst, first_lanes(count), a);
    }
}

/* dst[0..round8(n)) = src[0..n) then zeros: a masked load for the tail
 * (nothing read past src + n), full stores (masked stores are slow on AMD). */
NR_AVX2_INLINE static void copy_row(float *dst, const float *src, int n)
{
    int x = 0;
    for (; x + 8 <= n; x += 8)
        _mm256_storeu_ps(dst + x, _mm256_loadu_ps(src + x));
    if (x < n)
        _mm256_storeu_ps(dst + x, _mm256_maskload_ps(src + x, first_lanes(n - x)));
}

/* One channel's rows of the images (src[b] + off, rows ld apart) side by
 * side into the zero-bordered rows pp (lp apart): P[y+1][b*sw + x + 1].
 * Ascending images: a copy's zero tail past wimg may reach into the next
 * image's columns, which are written after it; the columns between
 * images are zero (the tails, or never written since nr_wino_begin). */
NR_AVX2_INLINE static void copy_rows(const nr_wino_geom *g, const float *const *src, size_t off,
                              size_t ld, float *pp, size_t lp)
{
    for (int y = 0; y < g->h; y++)
        for (int b = 0; b < g->nimg; b++)
            copy_row(pp + (size_t)y * lp + 1 + (size_t)b * g->sw, src[b] + off + (size_t)y * ld,
                     g->wimg);
}

/* Even and odd elements of p[0..16): [p0 p2 .. p14], [p1 p3 .. p15]. */
NR_AVX2_INLINE static void deinterleave(const float *p, __m256 *ev, __m256 *od)
{
    __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    /* [l0 l2 h0 h2 | l4 l6 h4 h6] -> [l0 l2 l4 l6 h0 h2 h4 h6] */
    __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    *ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
    *od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8));
}

/* One channel's rows -> xt rows 1..h: copied first into the zero-bordered
 * rows of the workspace (P[y+1][x+1], rows 2*twv + 8 long) so that the
 * loads below never wait on just-stored data, then for tiles k..k+7:
 * d0..d3 = P[2k], P[2k+1], P[2k+2], P[2k+3] and the x-transform. */
NR_AVX2 static void channel_xt_avx2(const nr_wino_geom *g, const float *const *src,
                                    size_t off, size_t ld, float *xt, float *pp)
{
    const int n = g->twv;
    const size_t lp = (size_t)2 * n + 8;
    copy_rows(g, src, off, ld, pp, lp);
    for (int y = 0; y < g->h; y++) {
        const float *p = pp + (size_t)y * lp;
        float *a0 = xt + (size_t)(y + 1) * 4 * n, *a1 = a0 + n, *a2 = a1 + n, *a3 = a2 + n;
        for (int k = 0; k < n; k += 8) {
            __m256 d0, d1, d2, d3;
            deinterleave(p + 2 * k, &d0, &d1);
            deinterleave(p + 2 * k + 2, &d2, &d3);
            _mm256_storeu_ps(a0 + k, _mm256_sub_ps(d0, d2));
            _mm256_storeu_ps(a1 + k, _mm256_add_ps(d1, d2));
            _mm256_storeu_ps(a2 + k, _mm256_sub_ps(d2, d1));
            _mm256_storeu_ps(a3 + k, _mm256_sub_ps(d1, d3));
        }
    }
}

NR_AVX2 static void xt_v_avx2(const nr_wino_geom *g, const float *xt, float *v, int ch)
{
    const int n = g->twv, pair = g->tw == 4;
    const size_t es = (size_t)g->cin * g->ldv, hi = (size_t)2 * 4 * n;
    for (int ty = 0; ty < g->th; ty += 1 + pair) {
        const float *r0 = xt + (size_t)(2 * ty) * 4 * n;
        const float *r1 = r0 + 4 * n, *r2 = r1 + 4 * n, *r3 = r2 + 4 * n;
        for (int k0 = 0; k0 < n; k0 += 8) {
            float *dst = v + (size_t)ch * g->ldv + (size_t)ty * g->tw + k0;
            for (int j = 0; j < 4; j++) {
                const size_t x = (size_t)j * n + k0;
                __m256 a = load_pair(r0 + x, hi, pair), b = load_pair(r1 + x, hi, pair);
                __m256 c = load_pair(r2 + x, hi, pair), d = load_pair(r3 + x, hi, pair);
                _mm256_storeu_ps(dst + (0 * 4 + j) * es, _mm256_sub_ps(a, c));
                _mm256_storeu_ps(dst + (1 * 4 + j) * es, _mm256_add_ps(b, c));
                _mm256_storeu_ps(dst + (2 * 4 + j) * es, _mm256_sub_ps(c, b));
                _mm256_storeu_ps(dst + (3 * 4 + j) * es, _mm256_sub_ps(b, d));
            }
        }
    }
}

NR_AVX2 static void gemm_avx2(const nr_wino_geom *g, const float *u, const float *v,
                              const int32_t *krow, float *m)
{
    const int nob = g->coutp / OB, K = g->cin;
    const size_t ld = (size_t)g->ldv;
    for (int e = 0; e < g->ne; e++) {
        const float *b = v + (size_t)e * K * ld;
        for (int ob = 0; ob < nob; ob++)
            nr_fma_panel(K, u + ((size_t)e * nob + ob) * K * OB, b, krow, g->tp,
                         m + ((size_t)e * g->coutp + (size_t)ob * OB) * ld, ld);
    }
}

/* Whole 16-float stores that may run past a row's w valid outputs into
 * the dropped columns and the first 15 columns of the next row, which are
 * written later: tile rows and planes in ascending order, the chunks of a
 * tile row in descending order (the next row's first chunk comes last);
 * masked stores only where a store would pass `end`, the end of the call's
 * last valid output. */
NR_AVX2 static void m_out_avx2(const nr_wino_geom *g, const float *m, int o, float *out,
                               size_t ldy, const float *end)
{
    const size_t es = (size_t)g->coutp * g->ldv;
    const int pair = g->tw == 4;   /* lanes 4-7: tile row ty + 1 (see load_pair) */
    for (int ty = 0; ty < g->th; ty += 1 + pair)
        for (int k0 = g->twv - 8; k0 >= 0; k0 -= 8) {   /* descending: see above */
            const float *src = m + (size_t)o * g->ldv + (size_t)ty * g->tw + k0;
            /* s[a][j] = (A^T M)[a][j]: named, so they stay in registers */
#define WINO_COL(j, s0, s1)                                                                   \
    __m256 s0, s1;                                                                            \
    {                                                                                         \
        __m256 m0 = _mm256_loadu_ps(src + (0 * 4 + j) * es);                                  \
        __m256 m1 = _mm256_loadu_ps(src + (1 * 4 + j) * es);                                  \
        __m256 m2 = _mm256_loadu_ps(src + (2 * 4 + j) * es);                                  \
        __m256 m3 = _mm256_loadu_ps(src + (3 * 4 + j) * es);                                  \
        s0 = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);                                        \
        s1 = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);                                        \
    }
            WINO_COL(0, s00, s10)
            WINO_COL(1, s01, s11)
            WINO_COL(2, s02, s12)
            WINO_COL(3, s03, s13)
#undef WINO_COL
            const int x0 = 2 * k0, count = g->w - x0 < 16 ? g->w - x0 : 16;
            /* a pair's rows in order: tile row ty's two, then ty + 1's */
            for (int half = 0; half <= pair && ty + half < g->th; half++)
                for (int a = 0; a < 2 && 2 * (ty + half) + a < g->h; a++) {
                    const __m256 t0 = a ? s10 : s00, t1 = a ? s11 : s01, t2 = a ? s12 : s02,
                                 t3 = a ? s13 : s03;
                    __m256 y0 = _mm256_add_ps(_mm256_add_ps(t0, t1), t2);
                    __m256 y1 = _mm256_sub_ps(_mm256_sub_ps(t1, t2), t3);
                    /* interleave: y0[0] y1[0] y0[1] y1[1] ... */
                    __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
                    __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20);
                    __m256 second = _mm256_permute2f128_ps(lo, hi, 0x31);
                    float *dst = out + (size_t)(2 * (ty + half) + a) * ldy + x0;
                    if (count <= 0)
                        continue;
                    if (!pair) {
                        store_row16(dst, first, second, count, end);
                        continue;
                    }
                    /* tiles 0-3 of row ty in first, of row ty + 1 in second */
                    const __m256 row = half ? second : first;
                    if (end - dst >= 8)
                        _mm256_storeu_ps(dst, row);
                    else
                        _mm256_maskstore_ps(dst, first_lanes(count), row);
                }
        }
}

/* ---- F(4x4, 3x3), AVX2 ------------------------------------------------- */

/* Phases of p[0..32): e_j = [p_j, p_{4+j}, ..., p_{28+j}], j < 4. */
NR_AVX2_INLINE static void deinterleave4(const float *p, __m256 *e0, __m256 *e1, __m256 *e2,
                                         __m256 *e3)
{
    const __m256 v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 8);
    const __m256 v2 = _mm256_loadu_ps(p + 16), v3 = _mm256_loadu_ps(p + 24);
    const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
    const __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
    /* [p0 p8 p16 p24 | p4 p12 p20 p28] and so on: tiles 0 2 4 6 | 1 3 5 7 */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    *e0 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), order);
    *e1 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)), order);
    *e2 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), order);
    *e3 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)), order);
}

/* r = B^T d for F(4x4) (BT4), d0..d5 -> r0..r5. */
#define WINO_BT4(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5)                              \
    do {                                                                                      \
        const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f),                \
                     two = _mm256_set1_ps(2.0f);                                              \
        const __m256 a_ = _mm256_fnmadd_ps(four, d2, d4);   /* d4 - 4 d2 */                    \
        const __m256 b_ = _mm256_fnmadd_ps(four, d1, d3);   /* d3 - 4 d1 */                    \
        const __m256 c_ = _mm256_sub_ps(d4, d2);                                              \
        const __m256 e_ = _mm256_mul_ps(two, _mm256_sub_ps(d3, d1));                          \
        r0 = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));                       \
        r1 = _mm256_add_ps(a_, b_);                                                           \
        r2 = _mm256_sub_ps(a_, b_);                                                           \
        r3 = _mm256_add_ps(c_, e_);                                                           \
        r4 = _mm256_sub_ps(c_, e_);                                                           \
        r5 = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));                       \
    } while (0)

/* One channel's rows -> xt rows 1..h (6 rows of twv each), through the
 * zero-bordered rows P[y+1][x+1] (4*twv + 8 long): for tiles k..k+7,
 * d_j = P[4k + j]. */
NR_AVX2 static void channel_xt4_avx2(const nr_wino_geom *g, const float *const *src,
                                     size_t off, size_t ld, float *xt, float *pp)
{
    const int n = g->twv;
    const size_t lp = (size_t)4 * n + 8;
    copy_rows(g, src, off, ld, pp, lp);
    for (int y = 0; y < g->h; y++) {
        const float *p = pp + (size_t)y * lp;
        float *r = xt + (size_t)(y + 1) * 6 * n;
        for (int k = 0; k < n; k += 8) {
            __m256 d0, d1, d2, d3, d4, d5, u2, u3, r0, r1, r2, r3, r4, r5;
            deinterleave4(p + 4 * k, &d0, &d1, &d2, &d3);
            deinterleave4(p + 4 * k + 4, &d4, &d5, &u2, &u3);
            (void)u2, (void)u3;
            WINO_BT4(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5);
            _mm256_storeu_ps(r + k, r0);
            _mm256_storeu_ps(r + n + k, r1);
            _mm256_storeu_ps(r + 2 * n + k, r2);
            _mm256_storeu_ps(r + 3 * n + k, r3);
            _mm256_storeu_ps(r + 4 * n + k, r4);
            _mm256_storeu_ps(r + 5 * n + k, r5);
        }
    }
}

NR_AVX2 static void xt_v4_avx2(const nr_wino_geom *g, const float *xt, float *v, int ch)
{
    const int n = g->twv, pair = g->tw == 4;
    const size_t es = (size_t)g->cin * g->ldv, rs = (size_t)6 * n, hi = 4 * rs;
    for (int ty = 0; ty < g->th; ty += 1 + pair) {
        const float *x0 = xt + (size_t)(4 * ty) * rs;
        for (int k0 = 0; k0 < n; k0 += 8) {
            float *dst = v + (size_t)ch * g->ldv + (size_t)ty * g->tw + k0;
            for (int j = 0; j < 6; j++) {
                const float *c = x0 + (size_t)j * n + k0;
                __m256 r0, r1, r2, r3, r4, r5;
                const __m256 d0 = load_pair(c, hi, pair), d1 = load_pair(c + rs, hi, pair),
                             d2 = load_pair(c + 2 * rs, hi, pair),
                             d3 = load_pair(c + 3 * rs, hi, pair),
                             d4 = load_pair(c + 4 * rs, hi, pair),
                             d5 = load_pair(c + 5 * rs, hi, pair);
                WINO_BT4(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5);
                _mm256_storeu_ps(dst + (size_t)(0 * 6 + j) * es, r0);
                _mm256_storeu_ps(dst + (size_t)(1 * 6 + j) * es, r1);
                _mm256_storeu_ps(dst + (size_t)(2 * 6 + j) * es, r2);
                _mm256_storeu_ps(dst + (size_t)(3 * 6 + j) * es, r3);
                _mm256_storeu_ps(dst + (size_t)(4 * 6 + j) * es, r4);
                _mm256_storeu_ps(dst + (size_t)(5 * 6 + j) * es, r5);
            }
        }
    }
}
#undef WINO_BT4

/* y = A^T t for F(4x4) (AT4): t0..t5 -> y0..y3. */
NR_AVX2_INLINE static void at4(__m256 t0, __m256 t1, __m256 t2, __m256 t3, __m256 t4, __m256 t5,
                               __m256 *y0, __m256 *y1, __m256 *y2, __m256 *y3)
{
    const __m256 p = _mm256_add_ps(t1, t2), q = _mm256_sub_ps(t1, t2);
    const __m256 r = _mm256_add_ps(t3, t4), s = _mm256_sub_ps(t3, t4);
    *y0 = _mm256_add_ps(_mm256_add_ps(t0, p), r);
    *y1 = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), s, q);
    *y2 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), r, p);
    *y3 = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), s, q), t5);
}

/* As m_out_avx2 for F(4x4): 32-float stores per row and chunk (runs past
 * the row as there, same order: tile rows ascending, chunks descending,
 * rows of a tile ascending). */
NR_AVX2 static void m_out4_avx2(const nr_wino_geom *g, const float *m, int o, float *out,
                                size_t ldy, const float *end)
{
    const size_t es = (size_t)g->coutp * g->ldv;
    const int pair = g->tw == 4;   /* lanes 4-7: tile row ty + 1 (see load_pair) */
    for (int ty = 0; ty < g->th; ty += 1 + pair)
        for (int k0 = g->twv - 8; k0 >= 0; k0 -= 8) {
            const float *src = m + (size_t)o * g->ldv + (size_t)ty * g->tw + k0;
            __m256 s[4][6];   /* (A^T M)[p][j]: through memory, 24 vectors */
            for (int j = 0; j < 6; j++)
                at4(_mm256_loadu_ps(src + (size_t)(0 * 6 + j) * es),
                    _mm256_loadu_ps(src + (size_t)(1 * 6 + j) * es),
                    _mm256_loadu_ps(src + (size_t)(2 * 6 + j) * es),
                    _mm256_loadu_ps(src + (size_t)(3 * 6 + j) * es),
                    _mm256_loadu_ps(src + (size_t)(4 * 6 + j) * es),
                    _mm256_loadu_ps(src + (size_t)(5 * 6 + j) * es), &s[0][j], &s[1][j],
                    &s[2][j], &s[3][j]);
            const int x0 = 4 * k0, count = g->w - x0 < 32 ? g->w - x0 : 32;
            /* a pair's rows in order: tile row ty's four, then ty + 1's */
            for (int half = 0; half <= pair && ty + half < g->th; half++)
            for (int p = 0; p < 4 && 4 * (ty + half) + p < g->h; p++) {
                __m256 y0, y1, y2, y3;
                at4(s[p][0], s[p][1], s[p][2], s[p][3], s[p][4], s[p][5], &y0, &y1, &y2, &y3);
                /* interleave: tile k's 4 outputs at 4k .. 4k+3 */
                const __m256 t0 = _mm256_unpacklo_ps(y0, y1), t1 = _mm256_unpackhi_ps(y0, y1);
                const __m256 t2 = _mm256_unpacklo_ps(y2, y3), t3 = _mm256_unpackhi_ps(y2, y3);
                const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
                const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
                const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
                const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
                __m256 q[4];
                q[0] = _mm256_permute2f128_ps(u0, u1, 0x20);   /* tiles 0, 1 */
                q[1] = _mm256_permute2f128_ps(u2, u3, 0x20);   /* tiles 2, 3 */
                q[2] = _mm256_permute2f128_ps(u0, u1, 0x31);   /* tiles 4, 5 */
                q[3] = _mm256_permute2f128_ps(u2, u3, 0x31);   /* tiles 6, 7 */
                float *dst = out + (size_t)(4 * (ty + half) + p) * ldy + x0;
                if (count <= 0)
                    continue;
                if (pair) {   /* tiles 0-3 of row ty in q[0..1], of row ty + 1 in q[2..3] */
                    store_row16(dst, q[2 * half], q[2 * half + 1], count, end);
                    continue;
                }
                if (end - dst >= 32) {
                    _mm256_storeu_ps(dst, q[0]);
                    _mm256_storeu_ps(dst + 8, q[1]);
                    _mm256_storeu_ps(dst + 16, q[2]);
                    _mm256_storeu_ps(dst + 24, q[3]);
                    continue;
                }
                for (int c = 0; c < 4 && 8 * c < count; c++) {
                    if (count - 8 * c >= 8)
                        _mm256_storeu_ps(dst + 8 * c, q[c]);
                    else
                        _mm256_maskstore_ps(dst + 8 * c, first_lanes(count - 8 * c), q[c]);
                }
            }
        }
}

#endif /* NR_HAVE_AVX2_KERNELS */

void nr_wino_images(const nr_wino_geom *g, nr_wino_isa isa, const float *const *in,
                    size_t in_ld, size_t in_ps, float *out, size_t ldy, size_t ldo, float *ws)
{
    const float *u = ws + g->off_u;
    float *v = ws + g->off_v, *mm = ws + g->off_m, *xt = ws + g->off_xt;
    const size_t xrow = (size_t)g->a * g->twv;
#if NR_HAVE_AVX2_KERNELS
    if (isa == NR_WINO_AVX2) {
        float *pp = ws + g->off_plane;
        for (int ch = 0; ch < g->cin; ch++) {
            if (g->m == 2) {
                channel_xt_avx2(g, in, (size_t)ch * in_ps, in_ld, xt, pp);
                xt_v_avx2(g, xt, v, ch);
            } else {
                channel_xt4_avx2(g, in, (size_t)ch * in_ps, in_ld, xt, pp);
                xt_v4_avx2(g, xt, v, ch);
            }
        }
        gemm_avx2(g, u, v, (const int32_t *)(ws + g->off_krow), mm);
        const float *end = out + (size_t)(g->cout - 1) * ldo + (size_t)(g->h - 1) * ldy + g->w;
        for (int o = 0; o < g->cout; o++) {
            if (g->m == 2)
                m_out_avx2(g, mm, o, out + (size_t)o * ldo, ldy, end);
            else
                m_out4_avx2(g, mm, o, out + (size_t)o * ldo, ldy, end);
        }
        return;
    }
#endif
    assert(isa == NR_WINO_PORTABLE);
    for (int ch = 0; ch < g->cin; ch++) {
        for (int y = 0; y < g->h; y++)
            row_xt_portable(g, in, (size_t)ch * in_ps + (size_t)y * in_ld,
                            xt + (size_t)(y + 1) * xrow, ws + g->off_row);
        xt_v_portable(g, xt, v, ch);
    }
    gemm_portable(g, u, v, mm);
    for (int o = 0; o < g->cout; o++)
        m_out_portable(g, mm, o, out + (size_t)o * ldo, ldy);
}
