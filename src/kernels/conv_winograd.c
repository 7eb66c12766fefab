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
 * Workspace (floats, offsets in nr_wino_geom):
 *   U  [16][coutp/4][cin][4]  U[e] for 4 output channels side by side
 *   V  [16][cin][ldv]         the input transform, column t = tile
 *   M  [16][coutp][ldv]       M[e] = U[e] V[e]
 *   xt [2th+2][4][twv]        one channel's rows after the x-transform
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

enum { OB = 4 };   /* output channels per GEMM micro-tile */

static size_t round8(size_t x)
{
    return (x + 7) / 8 * 8;
}

nr_wino_geom nr_wino_make_geom(int cin, int cout, int h, int w)
{
    nr_wino_geom g;
    g.cin = cin;
    g.cout = cout;
    g.h = h;
    g.w = w;
    g.coutp = (cout + OB - 1) / OB * OB;
    g.th = (h + 1) / 2;
    g.tw = (w + 1) / 2;
    g.twv = (int)round8((size_t)g.tw);
    g.t = g.th * g.tw;
    g.tp = (int)round8((size_t)g.t);
    g.ldv = (int)round8((size_t)(g.t - g.tw + g.twv));
    const size_t L = (size_t)g.twv + 8;
    g.u = 0;
    g.v = g.u + round8((size_t)16 * g.coutp * cin);
    g.m = g.v + (size_t)16 * cin * g.ldv;
    g.xt = g.m + (size_t)16 * g.coutp * g.ldv;
    g.row = g.xt + (size_t)(2 * g.th + 2) * 4 * g.twv;
    g.plane = g.row + 4 * L + 8;
    g.total = g.plane + (size_t)h * (2 * (size_t)g.twv + 8);
    return g;
}

size_t nr_wino_workspace_floats(const nr_wino_geom *g)
{
    return g->total;
}

int nr_wino_pays(int cin, int cout, int h, int w)
{
    (void)h, (void)w;
    return cin >= 8 && cout >= 8 && nr_cpu_has_avx2_fma();
}

void nr_wino_begin(const nr_wino_geom *g, const float *w, ptrdiff_t so, ptrdiff_t si,
                   ptrdiff_t sy, ptrdiff_t sx, float *ws)
{
    float *u = ws + g->u;
    const int nob = g->coutp / OB;
    for (int o = 0; o < g->coutp; o++)
        for (int i = 0; i < g->cin; i++) {
            float k[3][3] = {{0}}, t[4][3], r[4][4];
            if (o < g->cout)
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                        k[ky][kx] = w[o * so + i * si + ky * sy + kx * sx];
            for (int c = 0; c < 3; c++) {   /* t = G k */
                t[0][c] = k[0][c];
                t[1][c] = 0.5f * (k[0][c] + k[1][c] + k[2][c]);
                t[2][c] = 0.5f * (k[0][c] - k[1][c] + k[2][c]);
                t[3][c] = k[2][c];
            }
            for (int a = 0; a < 4; a++) {   /* r = t G^T */
                r[a][0] = t[a][0];
                r[a][1] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
                r[a][2] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
                r[a][3] = t[a][2];
            }
            for (int e = 0; e < 16; e++)
                u[(((size_t)e * nob + o / OB) * g->cin + i) * OB + o % OB] = r[e / 4][e % 4];
        }
    /* V and M columns no tile writes are read (whole 8-wide chunks): keep
     * them defined; xt's border rows and the row's borders stay zero */
    memset(ws + g->v, 0, (g->total - g->v) * sizeof *ws);
}

/* ---- portable stages ---------------------------------------------------- */

/* Image row y of one channel -> xt row y+1 (the x-transform of its patch
 * columns, 4 rows of twv). */
static void row_xt_portable(const nr_wino_geom *g, const float *src, float *xt_row, float *rb)
{
    const size_t L = (size_t)g->twv + 8;
    float *ev = rb + 2 * L, *od = ev + L;
    memcpy(rb + 1, src, (size_t)g->w * sizeof *rb);
    for (size_t k = 0; k < L; k++) {
        ev[k] = rb[2 * k];
        od[k] = rb[2 * k + 1];
    }
    const int n = g->twv;
    float *a0 = xt_row, *a1 = a0 + n, *a2 = a1 + n, *a3 = a2 + n;
    for (int k = 0; k < n; k++) {
        a0[k] = ev[k] - ev[k + 1];
        a1[k] = od[k] + ev[k + 1];
        a2[k] = ev[k + 1] - od[k];
        a3[k] = od[k] - od[k + 1];
    }
}

/* xt (one channel) -> V[e][ch][t], tile rows ascending. */
static void xt_v_portable(const nr_wino_geom *g, const float *xt, float *v, int ch)
{
    const int n = g->twv;
    const size_t es = (size_t)g->cin * g->ldv;   /* V's stride between elements e */
    for (int ty = 0; ty < g->th; ty++) {
        const float *r0 = xt + (size_t)(2 * ty) * 4 * n;
        const float *r1 = r0 + 4 * n, *r2 = r1 + 4 * n, *r3 = r2 + 4 * n;
        for (int k0 = 0; k0 < n; k0 += 8) {
            float *dst = v + (size_t)ch * g->ldv + (size_t)ty * g->tw + k0;
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 8; l++) {
                    const size_t x = (size_t)j * n + k0 + l;
                    dst[(0 * 4 + j) * es + l] = r0[x] - r2[x];
                    dst[(1 * 4 + j) * es + l] = r1[x] + r2[x];
                    dst[(2 * 4 + j) * es + l] = r2[x] - r1[x];
                    dst[(3 * 4 + j) * es + l] = r1[x] - r3[x];
                }
        }
    }
}

/* M[e] = U[e] V[e] for the tp columns, sums over the input channels in
 * ascending order. */
static void gemm_portable(const nr_wino_geom *g, const float *u, const float *v, float *m)
{
    const int nob = g->coutp / OB;
    for (int e = 0; e < 16; e++)
        for (int o = 0; o < g->coutp; o++) {
            const float *a = u + ((size_t)e * nob + o / OB) * g->cin * OB + o % OB;
            float *dst = m + ((size_t)e * g->coutp + o) * g->ldv;
            for (int q = 0; q < g->tp; q++) {
                float s = 0.0f;
                for (int i = 0; i < g->cin; i++)
                    s += a[(size_t)i * OB] * v[((size_t)e * g->cin + i) * g->ldv + q];
                dst[q] = s;
            }
        }
}

/* M (output channel o) -> the grid plane out (rows ldy apart). */
static void m_out_portable(const nr_wino_geom *g, const float *m, int o, float *out, size_t ldy)
{
    const size_t es = (size_t)g->coutp * g->ldv;
    for (int ty = 0; ty < g->th; ty++)
        for (int k0 = 0; k0 < g->twv; k0 += 8) {
            const float *src = m + (size_t)o * g->ldv + (size_t)ty * g->tw + k0;
            float y[2][16];
            for (int l = 0; l < 8; l++) {
                float s[2][4];
                for (int j = 0; j < 4; j++) {
                    const float m0 = src[(0 * 4 + j) * es + l], m1 = src[(1 * 4 + j) * es + l];
                    const float m2 = src[(2 * 4 + j) * es + l], m3 = src[(3 * 4 + j) * es + l];
                    s[0][j] = m0 + m1 + m2;
                    s[1][j] = m1 - m2 - m3;
                }
                for (int a = 0; a < 2; a++) {
                    y[a][2 * l] = s[a][0] + s[a][1] + s[a][2];
                    y[a][2 * l + 1] = s[a][1] - s[a][2] - s[a][3];
                }
            }
            const int x0 = 2 * k0, count = g->w - x0 < 16 ? g->w - x0 : 16;
            for (int a = 0; a < 2 && 2 * ty + a < g->h; a++)
                if (count > 0)
                    memcpy(out + (size_t)(2 * ty + a) * ldy + x0, y[a],
                           (size_t)count * sizeof(float));
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
NR_AVX2 static void channel_xt_avx2(const nr_wino_geom *g, const float *src, size_t ld,
                                    float *xt, float *pp)
{
    const int n = g->twv;
    const size_t lp = (size_t)2 * n + 8;
    for (int y = 0; y < g->h; y++)
        copy_row(pp + (size_t)y * lp + 1, src + (size_t)y * ld, g->w);
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
    const int n = g->twv;
    const size_t es = (size_t)g->cin * g->ldv;
    for (int ty = 0; ty < g->th; ty++) {
        const float *r0 = xt + (size_t)(2 * ty) * 4 * n;
        const float *r1 = r0 + 4 * n, *r2 = r1 + 4 * n, *r3 = r2 + 4 * n;
        for (int k0 = 0; k0 < n; k0 += 8) {
            float *dst = v + (size_t)ch * g->ldv + (size_t)ty * g->tw + k0;
            for (int j = 0; j < 4; j++) {
                const size_t x = (size_t)j * n + k0;
                __m256 a = _mm256_loadu_ps(r0 + x), b = _mm256_loadu_ps(r1 + x);
                __m256 c = _mm256_loadu_ps(r2 + x), d = _mm256_loadu_ps(r3 + x);
                _mm256_storeu_ps(dst + (0 * 4 + j) * es, _mm256_sub_ps(a, c));
                _mm256_storeu_ps(dst + (1 * 4 + j) * es, _mm256_add_ps(b, c));
                _mm256_storeu_ps(dst + (2 * 4 + j) * es, _mm256_sub_ps(c, b));
                _mm256_storeu_ps(dst + (3 * 4 + j) * es, _mm256_sub_ps(b, d));
            }
        }
    }
}

/* out[4 rows ldo apart, 24 / 16 / 8 columns] = a[K][4] x b[K rows ldb apart]:
 * named accumulators (arrays of vectors end up on the stack). */
NR_AVX2 static void tile_3(int K, const float *a, const float *b, size_t ldb, float *out,
                           size_t ldo)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
           c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    for (int k = 0; k < K; k++, b += ldb, a += OB) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16);
        __m256 w = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(w, b0, c00);
        c01 = _mm256_fmadd_ps(w, b1, c01);
        c02 = _mm256_fmadd_ps(w, b2, c02);
        w = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(w, b0, c10);
        c11 = _mm256_fmadd_ps(w, b1, c11);
        c12 = _mm256_fmadd_ps(w, b2, c12);
        w = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(w, b0, c20);
        c21 = _mm256_fmadd_ps(w, b1, c21);
        c22 = _mm256_fmadd_ps(w, b2, c22);
        w = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(w, b0, c30);
        c31 = _mm256_fmadd_ps(w, b1, c31);
        c32 = _mm256_fmadd_ps(w, b2, c32);
    }
    _mm256_storeu_ps(out, c00);
    _mm256_storeu_ps(out + 8, c01);
    _mm256_storeu_ps(out + 16, c02);
    out += ldo;
    _mm256_storeu_ps(out, c10);
    _mm256_storeu_ps(out + 8, c11);
    _mm256_storeu_ps(out + 16, c12);
    out += ldo;
    _mm256_storeu_ps(out, c20);
    _mm256_storeu_ps(out + 8, c21);
    _mm256_storeu_ps(out + 16, c22);
    out += ldo;
    _mm256_storeu_ps(out, c30);
    _mm256_storeu_ps(out + 8, c31);
    _mm256_storeu_ps(out + 16, c32);
}

NR_AVX2 static void tile_2(int K, const float *a, const float *b, size_t ldb, float *out,
                           size_t ldo)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00;
    for (int k = 0; k < K; k++, b += ldb, a += OB) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 w = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(w, b0, c00);
        c01 = _mm256_fmadd_ps(w, b1, c01);
        w = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(w, b0, c10);
        c11 = _mm256_fmadd_ps(w, b1, c11);
        w = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(w, b0, c20);
        c21 = _mm256_fmadd_ps(w, b1, c21);
        w = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(w, b0, c30);
        c31 = _mm256_fmadd_ps(w, b1, c31);
    }
    _mm256_storeu_ps(out, c00);
    _mm256_storeu_ps(out + 8, c01);
    out += ldo;
    _mm256_storeu_ps(out, c10);
    _mm256_storeu_ps(out + 8, c11);
    out += ldo;
    _mm256_storeu_ps(out, c20);
    _mm256_storeu_ps(out + 8, c21);
    out += ldo;
    _mm256_storeu_ps(out, c30);
    _mm256_storeu_ps(out + 8, c31);
}

NR_AVX2 static void tile_1(int K, const float *a, const float *b, size_t ldb, float *out,
                           size_t ldo)
{
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (int k = 0; k < K; k++, b += ldb, a += OB) {
        __m256 b0 = _mm256_loadu_ps(b);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a), b0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
    }
    _mm256_storeu_ps(out, c0);
    _mm256_storeu_ps(out + ldo, c1);
    _mm256_storeu_ps(out + 2 * ldo, c2);
    _mm256_storeu_ps(out + 3 * ldo, c3);
}

NR_AVX2 static void gemm_avx2(const nr_wino_geom *g, const float *u, const float *v, float *m)
{
    const int nob = g->coutp / OB, K = g->cin, tp = g->tp;
    const size_t ld = (size_t)g->ldv;
    for (int e = 0; e < 16; e++) {
        const float *b = v + (size_t)e * K * ld;
        for (int ob = 0; ob < nob; ob++) {
            const float *a = u + ((size_t)e * nob + ob) * K * OB;
            float *o = m + ((size_t)e * g->coutp + (size_t)ob * OB) * ld;
            int q = 0;
            /* 24 columns at a time; 32 left go as 16 + 16 */
            for (; q + 24 <= tp && tp - q != 32; q += 24)
                tile_3(K, a, b + q, ld, o + q, ld);
            for (; q + 16 <= tp; q += 16)
                tile_2(K, a, b + q, ld, o + q, ld);
            for (; q < tp; q += 8)
                tile_1(K, a, b + q, ld, o + q, ld);
        }
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
    for (int ty = 0; ty < g->th; ty++)
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
            for (int a = 0; a < 2 && 2 * ty + a < g->h; a++) {
                const __m256 t0 = a ? s10 : s00, t1 = a ? s11 : s01, t2 = a ? s12 : s02,
                             t3 = a ? s13 : s03;
                __m256 y0 = _mm256_add_ps(_mm256_add_ps(t0, t1), t2);
                __m256 y1 = _mm256_sub_ps(_mm256_sub_ps(t1, t2), t3);
                /* interleave: y0[0] y1[0] y0[1] y1[1] ... */
                __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
                __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20);
                __m256 second = _mm256_permute2f128_ps(lo, hi, 0x31);
                float *dst = out + (size_t)(2 * ty + a) * ldy + x0;
                if (count <= 0)
                    continue;
                if (end - dst >= 16) {
                    _mm256_storeu_ps(dst, first);
                    _mm256_storeu_ps(dst + 8, second);
                } else if (count >= 8) {
                    _mm256_storeu_ps(dst, first);
                    if (count > 8)
                        _mm256_maskstore_ps(dst + 8, first_lanes(count - 8), second);
                } else {
                    _mm256_maskstore_ps(dst, first_lanes(count), first);
                }
            }
        }
}

#endif /* NR_HAVE_AVX2_KERNELS */

void nr_wino_image(const nr_wino_geom *g, nr_wino_isa isa, const float *in, size_t in_ld,
                   size_t in_ps, float *out, size_t ldy, size_t ldo, float *ws)
{
    const float *u = ws + g->u;
    float *v = ws + g->v, *m = ws + g->m, *xt = ws + g->xt, *rb = ws + g->row;
    const size_t xrow = (size_t)4 * g->twv;
#if NR_HAVE_AVX2_KERNELS
    if (isa == NR_WINO_AVX2) {
        for (int ch = 0; ch < g->cin; ch++) {
            channel_xt_avx2(g, in + (size_t)ch * in_ps, in_ld, xt, ws + g->plane);
            xt_v_avx2(g, xt, v, ch);
        }
        gemm_avx2(g, u, v, m);
        const float *end = out + (size_t)(g->cout - 1) * ldo + (size_t)(g->h - 1) * ldy + g->w;
        for (int o = 0; o < g->cout; o++)
            m_out_avx2(g, m, o, out + (size_t)o * ldo, ldy, end);
        return;
    }
#endif
    assert(isa == NR_WINO_PORTABLE);
    for (int ch = 0; ch < g->cin; ch++) {
        for (int y = 0; y < g->h; y++)
            row_xt_portable(g, in + (size_t)ch * in_ps + (size_t)y * in_ld,
                            xt + (size_t)(y + 1) * xrow, rb);
        xt_v_portable(g, xt, v, ch);
    }
    gemm_portable(g, u, v, m);
    for (int o = 0; o < g->cout; o++)
        m_out_portable(g, m, o, out + (size_t)o * ldo, ldy);
}
