/* batchnorm.c - per-channel batch normalisation over n*hw values.
 * See netrun/kernels.h for the contract. Statistics and the backward sums
 * are accumulated in double, in a fixed order (image, then position). */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

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

/* ---- the pieces for shares of a batch (see kernels.h) ---- */

void nr_batchnorm_share_sums(const nr_batchnorm_dims *d, const float *in, double *rows,
                             size_t stride)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            double sum = 0.0;
            for (int p = 0; p < HW; p++)
                sum += x[p];
            rows[(size_t)i * stride + ch] = sum;
        }
}

void nr_batchnorm_share_centered(const nr_batchnorm_dims *d, const float *in, const double *mean,
                                 double *rows, size_t stride)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            const double mu = mean[ch];
            double sq = 0.0;
            for (int p = 0; p < HW; p++) {
                double t = x[p] - mu;
                sq += t * t;
            }
            rows[(size_t)i * stride + ch] = sq;
        }
}

void nr_batchnorm_share_grad_sums(const nr_batchnorm_dims *d, const float *in, const float *dout,
                                  const float *mean, const float *invstd, double *rows,
                                  size_t stride)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            const float *g = dout + ((size_t)i * C + ch) * HW;
            const float mu = mean[ch], istd = invstd[ch];
            double sum_g = 0.0, sum_gx = 0.0;
            for (int p = 0; p < HW; p++) {
                sum_g += g[p];
                sum_gx += (double)g[p] * ((x[p] - mu) * istd);
            }
            rows[(size_t)i * stride + ch] = sum_g;
            rows[(size_t)i * stride + C + ch] = sum_gx;
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

void nr_batchnorm_normalize(const nr_batchnorm_dims *d, const float *in, const float *scale,
                            const float *shift, float *out)
{
    const int C = d->c, HW = d->hw;
    for (int i = 0; i < d->n; i++)
        for (int ch = 0; ch < C; ch++) {
            const float *x = in + ((size_t)i * C + ch) * HW;
            float *y = out + ((size_t)i * C + ch) * HW;
            const float a = scale[ch], b = shift[ch];
            for (int p = 0; p < HW; p++)
                y[p] = x[p] * a + b;
        }
}

void nr_batchnorm_share_input_grad(const nr_batchnorm_dims *d, const float *in, const float *dout,
                                   const float *gamma, const float *mean, const float *invstd,
                                   const double *sum_g, const double *sum_gx, double M,
                                   float *din)
{
    for (int ch = 0; ch < d->c; ch++)
        input_grad_channel(d, ch, in, dout, gamma[ch], mean[ch], invstd[ch], sum_g[ch],
                           sum_gx[ch], M, din);
}
