/* pool.c - max and average pooling (no padding, any size/stride), a fast
 * path (plane-at-a-time, a special case for 2x2 stride 2) and a plain-loop
 * reference. See netrun/kernels.h for the contract.
 *
 * Later work: fusing the pool into the preceding conv/activation output pass.
 */
#include "netrun/kernels.h"

#include <assert.h>

static void check_dims(const nr_pool2d_dims *d)
{
    (void)d;
    assert(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0);
    assert(d->size > 0 && d->stride > 0 && d->size <= d->h && d->size <= d->w);
}

/* ---- fast path ---------------------------------------------------------- */

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
                const float *r1 = r0 + W;
                for (int ox = 0; ox < ow; ox++) {
                    int ix = 2 * ox;
                    int best = 2 * oy * W + ix;
                    float m = r0[ix];
                    if (r0[ix + 1] > m) { m = r0[ix + 1]; best = 2 * oy * W + ix + 1; }
                    if (r1[ix] > m) { m = r1[ix]; best = (2 * oy + 1) * W + ix; }
                    if (r1[ix + 1] > m) { m = r1[ix + 1]; best = (2 * oy + 1) * W + ix + 1; }
                    o[oy * ow + ox] = m;
                    if (am)
                        am[oy * ow + ox] = best;
                }
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
