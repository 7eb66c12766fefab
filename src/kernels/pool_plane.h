/* kernels/pool_plane.h - the 2x2/2 max pooling of one plane, shared by the
 * pooling kernels and the fused conv -> relu -> maxpool kernel (internal). */
#ifndef NETRUN_KERNELS_POOL_PLANE_H
#define NETRUN_KERNELS_POOL_PLANE_H

#include <stdint.h>

#include "simd.h"

/* The maxima of four 2x2 windows, given their top-left, top-right,
 * bottom-left and bottom-right values, compared in that order (the first
 * maximum wins; NaN only when first); *pick = the winner's offset from the
 * top-left in a plane W wide (0, 1, W or W + 1). */
static inline nr_v4f nr_v4_max2x2(nr_v4f tl, nr_v4f tr, nr_v4f bl, nr_v4f br, int32_t W,
                                  nr_v4i *pick)
{
    nr_v4f m = tl;
    nr_v4i c = tr > m;
    m = nr_v4f_select(c, tr, m);
    nr_v4i p = c & 1;
    c = bl > m;
    m = nr_v4f_select(c, bl, m);
    p = nr_v4i_select(c, (nr_v4i){W, W, W, W}, p);
    c = br > m;
    m = nr_v4f_select(c, br, m);
    *pick = nr_v4i_select(c, (nr_v4i){W + 1, W + 1, W + 1, W + 1}, p);
    return m;
}

/* One output row oy of the 2x2/2 max pooling of a plane W wide (W even):
 * r0, r1 its two input rows (2 * oy and 2 * oy + 1), o: [W/2] the maxima,
 * am: [W/2] their positions (2 * oy + dy) * W + 2 * ox + dx in the plane
 * (NULL: not wanted), the first maximum winning ties as nr_maxpool_forward. */
void nr_maxpool2x2_row(const float *r0, const float *r1, int W, int oy, int ow, float *o,
                       int32_t *am);

/* g, am: [H/2, W/2] gradient of the pooled plane and its argmax (iy * W + ix);
 * dx: the H x W input-gradient plane with rows dx_stride floats apart
 * (dx_stride >= W), every element OVERWRITTEN: g at the argmax, 0 elsewhere.
 * H and W even. */
void nr_maxpool2x2_backward_set_plane(int H, int W, const float *g, const int32_t *am,
                                      float *dx, int dx_stride);

#endif
