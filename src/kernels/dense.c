/* dense.c - fully connected layer y = x W^T + b, OpenBLAS and plain loops.
 * See netrun/kernels.h for the contract. */
#include "netrun/kernels.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>

#include "vec.h"

static void check_dims(const nr_dense_dims *d)
{
    (void)d;
    assert(d->n > 0 && d->in > 0 && d->out > 0);
}

void nr_dense_forward(const nr_dense_dims *d, const float *x,
                      const float *weight, const float *bias, float *y)
{
    check_dims(d);
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < d->n; i++)
            memcpy(y + (size_t)i * d->out, bias, (size_t)d->out * sizeof *y);
        beta = 1.0f;
    }
    /* y[n, out] = x[n, in] x W[out, in]^T (+ y) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->n, d->out, d->in,
                1.0f, x, d->in, weight, d->in, beta, y, d->out);
}

void nr_dense_backward(const nr_dense_dims *d, const float *x,
                       const float *weight, const float *dy, float *dx,
                       float *dweight, float *dbias)
{
    check_dims(d);
    /* dW[out, in] += dy[n, out]^T x x[n, in] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d->out, d->in, d->n,
                1.0f, dy, d->out, x, d->in, 1.0f, dweight, d->in);
    if (dx)
        nr_dense_backward_input(d, weight, dy, dx, 0);
    if (dbias) {
        for (int i = 0; i < d->n; i++)
            nr_vadd(dbias, dy + (size_t)i * d->out, (size_t)d->out);
    }
}

void nr_dense_backward_input(const nr_dense_dims *d, const float *weight, const float *dy,
                             float *dx, int overwrite)
{
    check_dims(d);
    /* dx[n, in] (+)= dy[n, out] x W[out, in] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->n, d->in, d->out,
                1.0f, dy, d->out, weight, d->in, overwrite ? 0.0f : 1.0f, dx, d->in);
}

void nr_ref_dense_forward(const nr_dense_dims *d, const float *x,
                          const float *weight, const float *bias, float *y)
{
    check_dims(d);
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < d->out; j++) {
            float s = bias ? bias[j] : 0.0f;
            for (int p = 0; p < d->in; p++)
                s += x[(size_t)i * d->in + p] * weight[(size_t)j * d->in + p];
            y[(size_t)i * d->out + j] = s;
        }
}

void nr_ref_dense_backward(const nr_dense_dims *d, const float *x,
                           const float *weight, const float *dy, float *dx,
                           float *dweight, float *dbias)
{
    check_dims(d);
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < d->out; j++) {
            float g = dy[(size_t)i * d->out + j];
            if (dbias)
                dbias[j] += g;
            for (int p = 0; p < d->in; p++) {
                dweight[(size_t)j * d->in + p] += g * x[(size_t)i * d->in + p];
                if (dx)
                    dx[(size_t)i * d->in + p] += g * weight[(size_t)j * d->in + p];
            }
        }
}
