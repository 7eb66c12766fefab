/* conv_winograd.h - private to src/kernels: 3x3 stride-1 pad-1 convolution
 * of one image by Winograd F(2x2, 3x3) (conv_winograd.c), written onto the
 * output grid the direct kernel's GEMM writes (conv_direct.c: out[o, q],
 * q = y*ldy + x, o's rows ldo floats apart), so that conv_direct.c's
 * epilogues and its din accumulation read it unchanged. conv_direct.c
 * calls it for the forward and for din (the forward of the output gradient
 * with the flipped, transposed weights); it calls nothing back.
 *
 * Per m x m output tile (m = 2 or 4) and channel: V = B^T d B (d: the
 * (m+2)^2 input patch, zero outside the image), U = G g G^T per (out, in)
 * channel pair (once per call), M[e] = U[e] x V[e] for the (m+2)^2
 * elements e (16 or 36 small GEMMs, the multiplies: 16 per 4 outputs, or
 * 36 per 16, per channel pair instead of 9 per output), then Y = A^T M A.
 * Every sum runs in a fixed order: deterministic. The rounding differs from
 * direct convolution's (F(2x2): transforms with 1/2 and +-1 entries;
 * F(4x4): entries up to 8 and 1/24, ~10x the error): see the tests for the
 * bounds.
 *
 * Usage, per call of n images (one workspace, owned by the caller):
 *   int t = nr_wino_tile(..);
 *   nr_wino_geom g = nr_wino_make_geom(t, nr_wino_images_per_call(t, w), cin, cout, h, w);
 *   float *ws = ...;                       nr_wino_workspace_floats(&g) floats
 *   nr_wino_begin(&g, isa, weights as strides, ws);  the weight transform
 *   for each group of g.nimg images: nr_wino_images(&g, isa, in.., out.., ws);
 *
 * Images side by side: on planes of 1-2 tiles a row (7x7 with F(4x4)) a
 * tile row would fill 2 of the 8 vector lanes; nimg images are instead
 * placed in one plane, image b's column x at b*sw + x with a zero column
 * between images (the 3x3 support of a valid output never reaches the
 * next image), and computed as one wide image: every output is the same
 * chain of operations as with nimg = 1 (the same bits).
 */
#ifndef NETRUN_KERNELS_CONV_WINOGRAD_H
#define NETRUN_KERNELS_CONV_WINOGRAD_H

#include <stddef.h>

#include "netrun/kernels.h"

/* Which code runs the per-image stages: the portable C loops or the AVX2 +
 * FMA ones (only on a CPU that has them, nr_cpu_has_avx2_fma()). Both give
 * the same grid up to rounding; the tests call each directly. */
typedef enum nr_wino_isa { NR_WINO_PORTABLE, NR_WINO_AVX2 } nr_wino_isa;

/* Sizes and workspace offsets (floats) of one convolution. */
typedef struct nr_wino_geom {
    int m;               /* output tile: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3) */
    int a, ne;           /* input tile m + 2; elements a*a: the GEMMs */
    int cin, cout, h;
    int nimg;            /* images side by side per call (nr_wino_images_per_call) */
    int wimg;            /* one image's width */
    int sw;              /* columns from one image to the next: wimg + 1 (a zero column
                            between images) rounded up to m; so tiles never straddle */
    int w;               /* the stacked width (nimg - 1) * sw + wimg: the grid's */
    int coutp;           /* cout rounded up to 4 */
    int th, tw;          /* tiles: ceil(h/m) x ceil(w/m) */
    int twv;             /* tw rounded up to 8 */
    int t;               /* th * tw */
    int tp;              /* t rounded up to 8: the GEMMs' columns */
    int ldv;             /* row stride of V and M (>= the last tile row's 8-wide reach) */
    /* workspace offsets: U, the GEMMs' row offsets (int32 k * ldv, k < cin),
     * V, M, the x-transformed rows, a padded row, a padded plane */
    size_t off_u, off_krow, off_v, off_m, off_xt, off_row, off_plane;
    size_t total;
} nr_wino_geom;

enum { NR_WINO_MAX_IMAGES = 8 };

/* Images side by side per call for this tile and plane width (1..
 * NR_WINO_MAX_IMAGES): enough to fill a tile row's 8 lanes where one image
 * has 1-2 tiles a row under F(4x4); 1 otherwise. */
int nr_wino_images_per_call(int tile, int w);

/* tile: 2 or 4 (nr_wino_tile); nimg: 1..NR_WINO_MAX_IMAGES images per call
 * (nr_wino_images_per_call); w: one image's width. */
nr_wino_geom nr_wino_make_geom(int tile, int nimg, int cin, int cout, int h, int w);

size_t nr_wino_workspace_floats(const nr_wino_geom *g);

/* The Winograd tile for this convolution (cin -> cout channels on h x w
 * planes, 3x3, stride 1, pad 1) on this CPU: 2 or 4 where it was measured
 * faster than the direct kernel, 0 where it was not (or without AVX2 +
 * FMA). The one place the choice is made: conv_direct.c asks it for the
 * forward (c -> filters) and for din (filters -> c). */
int nr_wino_tile(int cin, int cout, int h, int w);

/* The weights g(o, i, ky, kx) = w[o*so + i*si + ky*sy + kx*sx] (o < cout,
 * i < cin; strides may be negative: din's flipped, transposed weights are
 * w + 8 with so = 9, si = 9*c, sy = -3, sx = -1) -> U in the workspace;
 * also clears the parts of the workspace no image writes. Once per call,
 * before nr_wino_images. Both isa give the same bits (double precision,
 * the same operations in the same order). */
void nr_wino_begin(const nr_wino_geom *g, nr_wino_isa isa, const float *w, ptrdiff_t so,
                   ptrdiff_t si, ptrdiff_t sy, ptrdiff_t sx, float *ws);

/* g->nimg images b: in_b(i, y, x) = in[b][i*in_ps + y*in_ld + x] for
 * y < h, x < g->wimg (nothing else is read; the pointers may repeat)
 * -> out[o*ldo + y*ldy + b*g->sw + x] = sum_{i,ky,kx} g(o,i,ky,kx)
 * in_b(i, y+ky-1, x+kx-1) for o < cout, y < h, x < wimg (no bias;
 * ldy >= g->w, the stacked width; ldo >= h*ldy). The other cells before
 * the last valid one, out[(cout-1)*ldo + (h-1)*ldy + g->w - 1], may be
 * overwritten with garbage (the grid's dropped columns, the columns
 * between images); nothing after it is written. ws as left by
 * nr_wino_begin (U kept, the rest scratch). isa NR_WINO_AVX2 only where
 * nr_cpu_has_avx2_fma(). */
void nr_wino_images(const nr_wino_geom *g, nr_wino_isa isa, const float *const *in,
                    size_t in_ld, size_t in_ps, float *out, size_t ldy, size_t ldo, float *ws);

#endif
