/* pool.c - max and average pooling (no padding, any size/stride), a fast
 * path (plane-at-a-time, a special case for 2x2 stride 2) and a plain-loop
 * reference. See netrun/kernels.h for the contract.
 *
 * Later work: fusing the pool into the preceding conv/activation output pass.
 */
#include "netrun/kernels.h"

#include <assert.h>
#include <string.h>

#include "pool_plane.h"
#include "simd.h"

static void check_dims(const nr_pool2d_dims *d)
{
    (void)d;
    assert(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0);
    assert(d->size > 0 && d->stride > 0 && d->size <= d->h && d->size <= d->w);
}

/* ---- fast path ---------------------------------------------------------- */

/* 2x2 stride 2, one output row: 4 outputs at a time from the even/odd
 * lanes of two input rows, the same comparisons in the same order as the
 * scalar loop (first maximum wins, NaN only when first). See pool_plane.h. */
void nr_maxpool2x2_row(const float *r0, const float *r1, int W, int oy, int ow, float *o,
                       int32_t *am)
{
    int ox = 0;
    const int32_t row0 = 2 * oy * W;
    /* groups of 4; when ow is not a multiple of 4 the last group overlaps the
     * one before and rewrites the same values */
    for (int done = ow < 4; !done; ox += 4) {
        if (ox + 4 >= ow) {
            ox = ow - 4;
            done = 1;
        }
        const int ix = 2 * ox;
        nr_v4f a0 = nr_v4f_load(r0 + ix), a1 = nr_v4f_load(r0 + ix + 4);
        nr_v4f b0 = nr_v4f_load(r1 + ix), b1 = nr_v4f_load(r1 + ix + 4);
        nr_v4f tl = NR_V4_EVEN(a0, a1), tr = NR_V4_ODD(a0, a1);
        nr_v4f bl = NR_V4_EVEN(b0, b1), br = NR_V4_ODD(b0, b1);
        nr_v4i best = (nr_v4i){row0 + ix, row0 + ix + 2, row0 + ix + 4, row0 + ix + 6};
        nr_v4i pick;
        nr_v4f_store(o + ox, nr_v4_max2x2(tl, tr, bl, br, W, &pick));
        if (am)
            nr_v4i_store(am + ox, best + pick);
    }
    if (ow >= 4)
        return;
    for (ox = 0; ox < ow; ox++) {
        int ix = 2 * ox;
        int best = row0 + ix;
        float m = r0[ix];
        if (r0[ix + 1] > m) { m = r0[ix + 1]; best = row0 + ix + 1; }
        if (r1[ix] > m) { m = r1[ix]; best = row0 + W + ix; }
        if (r1[ix + 1] > m) { m = r1[ix + 1]; best = row0 + W + ix + 1; }
        o[ox] = m;
        if (am)
            am[ox] = best;
    }
}

void nr_maxpool_forward(const nr_pool2d_dims *d, const float *in, float *out,
                        int32_t *argmax)
{
    check_dims(d);
    const int H = d->h, W = d->w, S = d->size, st = d->stride;
    const int oh = nr_pool2d_out_h(d), ow = nr_pool2d_out_w(d);
    const size_t planes = (size_t)d->n * d->c;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *x = in + pl * (size_t)H * W;
        float *o = out + pl * (size_t)oh * ow;
        int32_t *am = argmax ? argmax + pl * (size_t)oh * ow : NULL;
        if (S == 2 && st == 2) {
            for (int oy = 0; oy < oh; oy++) {
                const float *r0 = x + (size_t)(2 * oy) * W;
                nr_maxpool2x2_row(r0, r0 + W, W, oy, ow, o + (size_t)oy * ow,
                                  am ? am + (size_t)oy * ow : NULL);
            }
            continue;
        }
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int base = oy * st * W + ox * st;
                int best = base;
                float m = x[base];
                for (int ky = 0; ky < S; ky++) {
                    const float *row = x + base + ky * W;
                    for (int kx = 0; kx < S; kx++) {
                        if (row[kx] > m) {
                            m = row[kx];
                            best = base + ky * W + kx;
                        }
                    }
                }
                o[oy * ow + ox] = m;
                if (am)
                    am[oy * ow + ox] = best;
            }
        }
    }
}

void nr_maxpool_backward(const nr_pool2d_dims *d, const float *dout,
                         const int32_t *argmax, float *din)
{
    check_dims(d);
    const size_t in_plane = (size_t)d->h * d->w;
    const size_t out_plane = (size_t)nr_pool2d_out_h(d) * nr_pool2d_out_w(d);
    const size_t planes = (size_t)d->n * d->c;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *g = dout + pl * out_plane;
        const int32_t *am = argmax + pl * out_plane;
        float *dx = din + pl * in_plane;
        for (size_t p = 0; p < out_plane; p++) {
            assert(am[p] >= 0 && (size_t)am[p] < in_plane);
            dx[am[p]] += g[p];
        }
    }
}

/* 2x2 stride 2 over an even-sized plane: the windows tile the plane, so each
 * output writes its 2x2 input block (the gradient where the argmax is, 0
 * elsewhere), 4 windows at a time. */
void nr_maxpool2x2_backward_set_plane(int H, int W, const float *g, const int32_t *am,
                                      float *dx, int dx_stride)
{
    const int oh = H / 2, ow = W / 2;
    const nr_v4f zero = nr_v4f_splat(0.0f);
    for (int oy = 0; oy < oh; oy++) {
        float *r0 = dx + (size_t)(2 * oy) * dx_stride, *r1 = r0 + dx_stride;
        const float *go = g + (size_t)oy * ow;
        const int32_t *ao = am + (size_t)oy * ow;
        const int32_t row0 = 2 * oy * W;
        int ox = 0;
        for (int done = ow < 4; !done; ox += 4) {   /* overlapping last group, as above */
            if (ox + 4 >= ow) {
                ox = ow - 4;
                done = 1;
            }
            const int ix = 2 * ox;
            nr_v4f gv = nr_v4f_load(go + ox);
            nr_v4i off = nr_v4i_load(ao + ox) -
                         (nr_v4i){row0 + ix, row0 + ix + 2, row0 + ix + 4, row0 + ix + 6};
            nr_v4f tl = nr_v4f_select(off == 0, gv, zero);
            nr_v4f tr = nr_v4f_select(off == 1, gv, zero);
            nr_v4f bl = nr_v4f_select(off == W, gv, zero);
            nr_v4f br = nr_v4f_select(off == W + 1, gv, zero);
            nr_v4f_store(r0 + ix, NR_V4_INTERLEAVE_LO(tl, tr));
            nr_v4f_store(r0 + ix + 4, NR_V4_INTERLEAVE_HI(tl, tr));
            nr_v4f_store(r1 + ix, NR_V4_INTERLEAVE_LO(bl, br));
            nr_v4f_store(r1 + ix + 4, NR_V4_INTERLEAVE_HI(bl, br));
        }
        if (ow >= 4)
            continue;
        for (ox = 0; ox < ow; ox++) {
            const int ix = 2 * ox;
            const int32_t off = ao[ox] - (row0 + ix);
            assert(off == 0 || off == 1 || off == W || off == W + 1);
            r0[ix] = off == 0 ? go[ox] : 0.0f;
            r0[ix + 1] = off == 1 ? go[ox] : 0.0f;
            r1[ix] = off == W ? go[ox] : 0.0f;
            r1[ix + 1] = off == W + 1 ? go[ox] : 0.0f;
        }
    }
}

void nr_maxpool_backward_set(const nr_pool2d_dims *d, const float *dout,
                             const int32_t *argmax, float *din)
{
    check_dims(d);
    const size_t in_plane = (size_t)d->h * d->w;
    const size_t out_plane = (size_t)nr_pool2d_out_h(d) * nr_pool2d_out_w(d);
    if (d->size == 2 && d->stride == 2 && d->h % 2 == 0 && d->w % 2 == 0) {
        const size_t planes = (size_t)d->n * d->c;
        for (size_t pl = 0; pl < planes; pl++)
            nr_maxpool2x2_backward_set_plane(d->h, d->w, dout + pl * out_plane,
                                             argmax + pl * out_plane, din + pl * in_plane,
                                             d->w);
        return;
    }
    memset(din, 0, (size_t)d->n * d->c * in_plane * sizeof *din);
    nr_maxpool_backward(d, dout, argmax, din);
}

void nr_avgpool_forward(const nr_pool2d_dims *d, const float *in, float *out)
{
    check_dims(d);
    const int H = d->h, W = d->w, S = d->size, st = d->stride;
    const int oh = nr_pool2d_out_h(d), ow = nr_pool2d_out_w(d);
    const float scale = 1.0f / (float)(S * S);
    const size_t planes = (size_t)d->n * d->c;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *x = in + pl * (size_t)H * W;
        float *o = out + pl * (size_t)oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                const float *win = x + (size_t)oy * st * W + (size_t)ox * st;
                float s = 0.0f;
                for (int ky = 0; ky < S; ky++)
                    for (int kx = 0; kx < S; kx++)
                        s += win[ky * W + kx];
                o[oy * ow + ox] = s * scale;
            }
        }
    }
}

void nr_avgpool_backward(const nr_pool2d_dims *d, const float *dout, float *din)
{
    check_dims(d);
    const int H = d->h, W = d->w, S = d->size, st = d->stride;
    const int oh = nr_pool2d_out_h(d), ow = nr_pool2d_out_w(d);
    const float scale = 1.0f / (float)(S * S);
    const size_t planes = (size_t)d->n * d->c;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *g = dout + pl * (size_t)oh * ow;
        float *dx = din + pl * (size_t)H * W;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float *win = dx + (size_t)oy * st * W + (size_t)ox * st;
                const float v = g[oy * ow + ox] * scale;
                for (int ky = 0; ky < S; ky++)
                    for (int kx = 0; kx < S; kx++)
                        win[ky * W + kx] += v;
            }
        }
    }
}

/* ---- reference: one output element at a time, full index arithmetic ---- */

void nr_ref_maxpool_forward(const nr_pool2d_dims *d, const float *in,
                            float *out, int32_t *argmax)
{
    check_dims(d);
    const int oh = nr_pool2d_out_h(d), ow = nr_pool2d_out_w(d);
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < d->c; ch++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    float m = 0.0f;
                    int best = -1;
                    for (int ky = 0; ky < d->size; ky++)
                        for (int kx = 0; kx < d->size; kx++) {
                            int iy = oy * d->stride + ky, ix = ox * d->stride + kx;
                            float v = in[(((size_t)i * d->c + ch) * d->h + iy) * d->w + ix];
                            if (best < 0 || v > m) {
                                m = v;
                                best = iy * d->w + ix;
                            }
                        }
                    size_t o = (((size_t)i * d->c + ch) * oh + oy) * ow + ox;
                    out[o] = m;
                    if (argmax)
                        argmax[o] = best;
                }
}

void nr_ref_maxpool_backward(const nr_pool2d_dims *d, const float *dout,
                             const int32_t *argmax, float *din)
{
    check_dims(d);
    const int oh = nr_pool2d_out_h(d), ow = nr_pool2d_out_w(d);
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < d->c; ch++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    size_t o = (((size_t)i * d->c + ch) * oh + oy) * ow + ox;
                    int a = argmax[o];
                    int iy = a / d->w, ix = a % d->w;
                    din[(((size_t)i * d->c + ch) * d->h + iy) * d->w + ix] += dout[o];
                }
}

void nr_ref_avgpool_forward(const nr_pool2d_dims *d, const float *in, float *out)
{
    check_dims(d);
    const int oh = nr_pool2d_out_h(d), ow = nr_pool2d_out_w(d);
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < d->c; ch++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    float s = 0.0f;
                    for (int ky = 0; ky < d->size; ky++)
                        for (int kx = 0; kx < d->size; kx++) {
                            int iy = oy * d->stride + ky, ix = ox * d->stride + kx;
                            s += in[(((size_t)i * d->c + ch) * d->h + iy) * d->w + ix];
                        }
                    out[(((size_t)i * d->c + ch) * oh + oy) * ow + ox] =
                        s / (float)(d->size * d->size);
                }
}

void nr_ref_avgpool_backward(const nr_pool2d_dims *d, const float *dout, float *din)
{
    check_dims(d);
    const int oh = nr_pool2d_out_h(d), ow = nr_pool2d_out_w(d);
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < d->c; ch++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    float g = dout[(((size_t)i * d->c + ch) * oh + oy) * ow + ox] /
                              (float)(d->size * d->size);
                    for (int ky = 0; ky < d->size; ky++)
                        for (int kx = 0; kx < d->size; kx++) {
                            int iy = oy * d->stride + ky, ix = ox * d->stride + kx;
                            din[(((size_t)i * d->c + ch) * d->h + iy) * d->w + ix] += g;
                        }
                }
}
