/* batchnorm.c - per-channel batch normalisation over n*hw values.
 * See netrun/kernels.h for the contract. The whole-batch functions are the
 * plain reference (scalar loops, statistics and backward sums in double in
 * image-then-position order); the share pieces the layer runs are the fast
 * form: plane-contiguous, vectorised, one pass over memory for the
 * statistics, and fused with a following relu (and 2x2 max pooling). */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>

#include "pool_plane.h"
#include "simd.h"

static void check_dims(const nr_batchnorm_dims *d)
{
    (void)d;
    assert(d->n > 0 && d->c > 0 && d->hw > 0);
}

void nr_batchnorm_forward_train(const nr_batchnorm_dims *d, const float *in,
                                const float *gamma, const float *beta,
                                float *out, float *mean, float *invstd,
                                float *running_mean, float *running_var,
                                float momentum, float eps)
{
    check_dims(d);
    assert(in != out);
    const int C = d->c, HW = d->hw;
    const size_t M = (size_t)d->n * HW;
    for (int ch = 0; ch < C; ch++) {
        double sum = 0.0;
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                sum += x[p];
        }
        const double mu = sum / (double)M;
        double sq = 0.0;
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++) {
                double t = x[p] - mu;
                sq += t * t;
            }
        }
        const double var = sq / (double)M;
        const double istd = 1.0 / sqrt(var + (double)eps);
        mean[ch] = (float)mu;
        invstd[ch] = (float)istd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mu);
        if (running_var) {
            double unbiased = M > 1 ? sq / (double)(M - 1) : var;
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        }
        /* out = scale * x + shift, scale = gamma * invstd, shift = beta - mean * scale */
        const float scale = (float)(gamma[ch] * istd);
        const float shift = (float)(beta[ch] - mu * gamma[ch] * istd);
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            float *y = out + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                y[p] = x[p] * scale + shift;
        }
    }
}

void nr_batchnorm_forward_eval(const nr_batchnorm_dims *d, const float *in,
                               const float *gamma, const float *beta,
                               const float *running_mean,
                               const float *running_var, float eps, float *out)
{
    check_dims(d);
    const int C = d->c, HW = d->hw;
    for (int ch = 0; ch < C; ch++) {
        const double istd = 1.0 / sqrt((double)running_var[ch] + (double)eps);
        const float scale = (float)(gamma[ch] * istd);
        const float shift = (float)(beta[ch] - running_mean[ch] * gamma[ch] * istd);
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            float *y = out + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                y[p] = x[p] * scale + shift;
        }
    }
}

void nr_batchnorm_backward_eval(const nr_batchnorm_dims *d, const float *dout,
                                const float *gamma, const float *running_var, float eps,
                                float *din)
{
    check_dims(d);
    const int C = d->c, HW = d->hw;
    for (int ch = 0; ch < C; ch++) {
        const double istd = 1.0 / sqrt((double)running_var[ch] + (double)eps);
        const float scale = (float)(gamma[ch] * istd);
        for (int i = 0; i < d->n; i++) {
            const float *g = dout + ((size_t)i * C + ch) * HW;
            float *dx = din + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++)
                dx[p] += g[p] * scale;
        }
    }
}

/* din += k * (dout - mean_g - xhat * mean_gx) for channel ch of every
 * image, k = gamma * invstd, from the batch's sums over M values. */
static void input_grad_channel(const nr_batchnorm_dims *d, int ch, const float *in,
                               const float *dout, float gamma, float mu, float istd,
                               double sum_g, double sum_gx, double M, float *din)
{
    const int C = d->c, HW = d->hw;
    const float k = gamma * istd;
    const float mean_g = (float)(sum_g / M);
    const float mean_gx = (float)(sum_gx / M);
    for (int i = 0; i < d->n; i++) {
        const float *x = in + ((size_t)i * C + ch) * HW;
        const float *g = dout + ((size_t)i * C + ch) * HW;
        float *dx = din + ((size_t)i * C + ch) * HW;
        for (int p = 0; p < HW; p++) {
            const float xhat = (x[p] - mu) * istd;
            dx[p] += k * (g[p] - mean_g - xhat * mean_gx);
        }
    }
}

void nr_batchnorm_backward(const nr_batchnorm_dims *d, const float *in,
                           const float *dout, const float *gamma,
                           const float *mean, const float *invstd, float *din,
                           float *dgamma, float *dbeta)
{
    check_dims(d);
    const int C = d->c, HW = d->hw;
    const double M = (double)d->n * HW;
    for (int ch = 0; ch < C; ch++) {
        const float mu = mean[ch], istd = invstd[ch];
        double sum_g = 0.0, sum_gx = 0.0;   /* sum dout, sum dout * xhat */
        for (int i = 0; i < d->n; i++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            const float *g = dout + ((size_t)i * C + ch) * HW;
            for (int p = 0; p < HW; p++) {
                sum_g += g[p];
                sum_gx += (double)g[p] * ((x[p] - mu) * istd);
            }
        }
        dbeta[ch] += (float)sum_g;
        dgamma[ch] += (float)sum_gx;
        if (!din)
            continue;
        input_grad_channel(d, ch, in, dout, gamma[ch], mu, istd, sum_g, sum_gx, M, din);
    }
}

/* ---- the pieces for shares of a batch (see kernels.h) ----
 * Plane by plane (image i, channel ch: hw contiguous floats), 4 floats at a
 * time through simd.h. Sums run in 8 float lanes over blocks of BLOCK
 * values (at most BLOCK / 8 terms per lane), each block's lanes then added
 * in double, the tail last: float partial sums of few terms, double across
 * blocks and planes; a fixed order for a given hw, whatever the thread
 * split. */

enum { BLOCK = 256 };

static inline double lanes_sum(nr_v4f a, nr_v4f b)
{
    const nr_v4f s = a + b;
    return ((double)s[0] + s[1]) + ((double)s[2] + s[3]);
}

/* *sum = the plane's sum; *m2 = its sum of squared deviations from its own
 * mean sum / hw (two passes over the plane, the second in cache). Both sum
 * deviations in float: the first from the plane's first value (a shift that
 * keeps a large mean out of the float sums), the second from the mean. */
static void plane_moments(const float *x, int hw, double *sum, double *m2)
{
    const nr_v4f zero = nr_v4f_splat(0.0f);
    const float shift = x[0];
    const nr_v4f k = nr_v4f_splat(shift);
    double s = 0.0;
    int p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        nr_v4f a = zero, b = zero;
        for (; p + 8 <= end; p += 8) {
            a += nr_v4f_load(x + p) - k;
            b += nr_v4f_load(x + p + 4) - k;
        }
        s += lanes_sum(a, b);
    }
    for (; p < hw; p++)
        s += x[p] - shift;
    s += (double)shift * hw;
    const double mu = s / hw;
    const float muf = (float)mu;
    const nr_v4f m = nr_v4f_splat(muf);
    /* deviations from the float-rounded mean, corrected to the exact one:
     * sum (x - mu)^2 = sum (x - muf)^2 - hw * (mu - muf)^2 */
    double q = 0.0;
    p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        nr_v4f a = zero, b = zero;
        for (; p + 8 <= end; p += 8) {
            const nr_v4f t = nr_v4f_load(x + p) - m, u = nr_v4f_load(x + p + 4) - m;
            a += t * t;
            b += u * u;
        }
        q += lanes_sum(a, b);
    }
    for (; p < hw; p++) {
        const double t = x[p] - muf;
        q += t * t;
    }
    const double dm = mu - muf;
    q -= hw * dm * dm;
    *sum = s;
    *m2 = q > 0.0 ? q : 0.0;
}

void nr_batchnorm_share_moments(const nr_batchnorm_dims *d, const float *in, double *rows,
                                size_t stride)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++)
            plane_moments(in + ((size_t)i * C + ch) * HW, HW, &rows[(size_t)i * stride + ch],
                          &rows[(size_t)i * stride + C + ch]);
}

void nr_batchnorm_combine_moments(int n, int c, int hw, const double *rows, size_t stride,
                                  double *sum, double *m2)
{
    const double M = (double)n * hw;
    nr_batchnorm_combine(n, c, rows, stride, sum);
    for (int ch = 0; ch < c; ch++) {
        const double mu = sum[ch] / M;
        double q = 0.0;
        for (int i = 0; i < n; i++) {
            const double *row = rows + (size_t)i * stride;
            const double t = row[ch] / hw - mu;
            q += row[c + ch] + hw * (t * t);
        }
        m2[ch] = q;
    }
}

void nr_batchnorm_combine(int n, int width, const double *rows, size_t stride, double *total)
{
    for (int j = 0; j < width; j++)
        total[j] = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < width; j++)
            total[j] += rows[(size_t)i * stride + j];
}

void nr_batchnorm_finish_stats(int c, double M, const double *sum, const double *sq,
                               const float *gamma, const float *beta, float momentum, float eps,
                               float *mean, float *invstd, float *scale, float *shift,
                               float *running_mean, float *running_var)
{
    for (int ch = 0; ch < c; ch++) {
        const double mu = sum[ch] / M;
        const double var = sq[ch] / M;
        const double istd = 1.0 / sqrt(var + (double)eps);
        if (mean)
            mean[ch] = (float)mu;
        if (invstd)
            invstd[ch] = (float)istd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mu);
        if (running_var) {
            double unbiased = M > 1 ? sq[ch] / (M - 1) : var;
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        }
        scale[ch] = (float)(gamma[ch] * istd);
        shift[ch] = (float)(beta[ch] - mu * gamma[ch] * istd);
    }
}

void nr_batchnorm_eval_coeffs(int c, const float *gamma, const float *beta,
                              const float *running_mean, const float *running_var, float eps,
                              float *scale, float *shift)
{
    for (int ch = 0; ch < c; ch++) {
        const double istd = 1.0 / sqrt((double)running_var[ch] + (double)eps);
        scale[ch] = (float)(gamma[ch] * istd);
        shift[ch] = (float)(beta[ch] - running_mean[ch] * gamma[ch] * istd);
    }
}

/* y = x * a + b over hw values; with relu: y < 0 ? 0 : y, as nr_relu_forward
 * (NaN and -0.0 kept). y == x allowed. */
static void plane_normalize(const float *x, int hw, float a, float b, bool relu, float *y)
{
    const nr_v4f va = nr_v4f_splat(a), vb = nr_v4f_splat(b), zero = nr_v4f_splat(0.0f);
    int p = 0;
    for (; p + 8 <= hw; p += 8) {
        nr_v4f u = nr_v4f_load(x + p) * va + vb, v = nr_v4f_load(x + p + 4) * va + vb;
        if (relu) {
            u = nr_v4f_and(u, ~(u < zero));
            v = nr_v4f_and(v, ~(v < zero));
        }
        nr_v4f_store(y + p, u);
        nr_v4f_store(y + p + 4, v);
    }
    for (; p < hw; p++) {
        const float t = x[p] * a + b;
        y[p] = relu && t < 0.0f ? 0.0f : t;
    }
}

static void normalize_planes(const nr_batchnorm_dims *d, const float *in, const float *scale,
                             const float *shift, bool relu, float *out)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t at = ((size_t)i * C + ch) * HW;
            plane_normalize(in + at, HW, scale[ch], shift[ch], relu, out + at);
        }
}

void nr_batchnorm_normalize(const nr_batchnorm_dims *d, const float *in, const float *scale,
                            const float *shift, float *out)
{
    normalize_planes(d, in, scale, shift, false, out);
}

void nr_batchnorm_normalize_relu(const nr_batchnorm_dims *d, const float *in, const float *scale,
                                 const float *shift, float *out)
{
    normalize_planes(d, in, scale, shift, true, out);
}

size_t nr_batchnorm_scratch_floats(int h, int w)
{
    return (size_t)h * w + (size_t)(h / 2) * (w / 2);
}

void nr_batchnorm_normalize_relu_maxpool(const nr_batchnorm_dims *d, int h, int w,
                                         const float *in, const float *scale,
                                         const float *shift, float *pooled, int32_t *argmax,
                                         float *scratch)
{
    assert(d->hw == h * w && h % 2 == 0 && w % 2 == 0);
    const int C = d->c, HW = d->hw, oh = h / 2, ow = w / 2;
    const size_t out_plane = (size_t)oh * ow;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t pl = (size_t)i * C + ch;
            plane_normalize(in + pl * HW, HW, scale[ch], shift[ch], true, scratch);
            for (int oy = 0; oy < oh; oy++) {
                const float *r0 = scratch + (size_t)(2 * oy) * w;
                nr_maxpool2x2_row(r0, r0 + w, w, oy, ow, pooled + pl * out_plane + (size_t)oy * ow,
                                  argmax ? argmax + pl * out_plane + (size_t)oy * ow : NULL);
            }
        }
}

/* gm = o > 0 ? g : 0 over count values (as nr_relu_backward_set) */
static void relu_mask(const float *g, const float *o, size_t count, float *gm)
{
    const nr_v4f zero = nr_v4f_splat(0.0f);
    size_t p = 0;
    for (; p + 4 <= count; p += 4)
        nr_v4f_store(gm + p, nr_v4f_and(nr_v4f_load(g + p), nr_v4f_load(o + p) > zero));
    for (; p < count; p++)
        gm[p] = o[p] > 0.0f ? g[p] : 0.0f;
}

/* The gradient of the batchnorm's output for plane pl: src->dout's own
 * plane, or built in scratch from the relu's mask / the pooled gradient. */
static const float *plane_grad(const nr_batchnorm_grad_src *src, size_t pl, int hw,
                               float *scratch)
{
    if (src->argmax) {
        const int oh = src->h / 2, ow = src->w / 2;
        const size_t op = (size_t)oh * ow;
        const float *g = src->dout + pl * op, *o = src->out + pl * op;
        float *gm = scratch + hw;   /* the pooled gradient where the relu passes */
        relu_mask(g, o, op, gm);
        nr_maxpool2x2_backward_set_plane(src->h, src->w, gm, src->argmax + pl * op, scratch,
                                         src->w);
        return scratch;
    }
    const float *g = src->dout + pl * hw;
    if (!src->out)
        return g;
    relu_mask(g, src->out + pl * hw, (size_t)hw, scratch);
    return scratch;
}

/* *sum_g = sum of g, *sum_gx = sum of g * xhat, xhat = (x - mu) * istd,
 * in float blocks as plane_moments. */
static void plane_grad_sums(const float *x, const float *g, int hw, float mu, float istd,
                            double *sum_g, double *sum_gx)
{
    const nr_v4f vm = nr_v4f_splat(mu), vs = nr_v4f_splat(istd), zero = nr_v4f_splat(0.0f);
    double sg = 0.0, sgx = 0.0;
    int p = 0;
    while (p + 8 <= hw) {
        const int end = p + BLOCK < hw ? p + BLOCK : hw;
        nr_v4f a = zero, b = zero, c = zero, e = zero;
        for (; p + 8 <= end; p += 8) {
            const nr_v4f g0 = nr_v4f_load(g + p), g1 = nr_v4f_load(g + p + 4);
            a += g0;
            b += g1;
            c += g0 * ((nr_v4f_load(x + p) - vm) * vs);
            e += g1 * ((nr_v4f_load(x + p + 4) - vm) * vs);
        }
        sg += lanes_sum(a, b);
        sgx += lanes_sum(c, e);
    }
    for (; p < hw; p++) {
        sg += g[p];
        sgx += (double)g[p] * ((x[p] - mu) * istd);
    }
    *sum_g = sg;
    *sum_gx = sgx;
}

void nr_batchnorm_share_grad_sums(const nr_batchnorm_dims *d, const float *in,
                                  const nr_batchnorm_grad_src *src, const float *mean,
                                  const float *invstd, double *rows, size_t stride,
                                  float *scratch)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t pl = (size_t)i * C + ch;
            const float *g = plane_grad(src, pl, HW, scratch);
            plane_grad_sums(in + pl * HW, g, HW, mean[ch], invstd[ch],
                            &rows[(size_t)i * stride + ch], &rows[(size_t)i * stride + C + ch]);
        }
}

void nr_batchnorm_grad_coeffs(int c, double M, const float *gamma, const float *invstd,
                              const double *sum_g, const double *sum_gx, float *k,
                              float *mean_g, float *mean_gx)
{
    for (int ch = 0; ch < c; ch++) {
        k[ch] = gamma[ch] * invstd[ch];
        mean_g[ch] = (float)(sum_g[ch] / M);
        mean_gx[ch] = (float)(sum_gx[ch] / M);
    }
}

/* dx (+)= k * (g - mg - xhat * mgx), xhat = (x - mu) * istd; set: dx
 * overwritten. */
static void plane_input_grad(const float *x, const float *g, int hw, float mu, float istd,
                             float k, float mg, float mgx, bool set, float *dx)
{
    const nr_v4f vm = nr_v4f_splat(mu), vs = nr_v4f_splat(istd), vk = nr_v4f_splat(k);
    const nr_v4f vg = nr_v4f_splat(mg), vgx = nr_v4f_splat(mgx);
    int p = 0;
    for (; p + 4 <= hw; p += 4) {
        const nr_v4f xhat = (nr_v4f_load(x + p) - vm) * vs;
        nr_v4f t = vk * (nr_v4f_load(g + p) - vg - xhat * vgx);
        nr_v4f_store(dx + p, set ? t : nr_v4f_load(dx + p) + t);
    }
    for (; p < hw; p++) {
        const float xhat = (x[p] - mu) * istd;
        const float t = k * (g[p] - mg - xhat * mgx);
        dx[p] = set ? t : dx[p] + t;
    }
}

/* dx (+)= g * k: the evaluation-mode backward. */
static void plane_scale_grad(const float *g, int hw, float k, bool set, float *dx)
{
    const nr_v4f vk = nr_v4f_splat(k);
    int p = 0;
    for (; p + 4 <= hw; p += 4) {
        nr_v4f t = nr_v4f_load(g + p) * vk;
        nr_v4f_store(dx + p, set ? t : nr_v4f_load(dx + p) + t);
    }
    for (; p < hw; p++)
        dx[p] = set ? g[p] * k : dx[p] + g[p] * k;
}

void nr_batchnorm_share_input_grad(const nr_batchnorm_dims *d, const float *in,
                                   const nr_batchnorm_grad_src *src, const float *mean,
                                   const float *invstd, const float *k, const float *mean_g,
                                   const float *mean_gx, bool set, float *din, float *scratch)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const size_t pl = (size_t)i * C + ch;
            const float *g = plane_grad(src, pl, HW, scratch);
            if (!mean_g)
                plane_scale_grad(g, HW, k[ch], set, din + pl * HW);
            else
                plane_input_grad(in + pl * HW, g, HW, mean[ch], invstd[ch], k[ch], mean_g[ch],
                                 mean_gx[ch], set, din + pl * HW);
        }
}
