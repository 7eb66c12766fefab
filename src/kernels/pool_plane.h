/* kernels/pool_plane.h - the 2x2/2 max-pooling backward of one plane, shared
 * by the pooling kernels and the fused conv -> relu -> maxpool kernel
 * (internal). */
#ifndef NETRUN_KERNELS_POOL_PLANE_H
#define NETRUN_KERNELS_POOL_PLANE_H

#include <stdint.h>

/* g, am: [H/2, W/2] gradient of the pooled plane and its argmax (iy * W + ix);
 * dx: the H x W input-gradient plane with rows dx_stride floats apart
 * (dx_stride >= W), every element OVERWRITTEN: g at the argmax, 0 elsewhere.
 * H and W even. */
void nr_maxpool2x2_backward_set_plane(int H, int W, const float *g, const int32_t *am,
                                      float *dx, int dx_stride);

#endif
