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
        /* din = k * (dout - mean_g - xhat * mean_gx), k = gamma * invstd */
        const float k = gamma[ch] * istd;
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
}
