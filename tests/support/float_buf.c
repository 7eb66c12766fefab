/* tests/support/float_buf.c - see float_buf.h. */
#include "float_buf.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

float *falloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

void fill_uniform(nr_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * nr_rng_uniform(r);
}

void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

float *fdup(const float *x, size_t n)
{
    float *p = falloc(n);
    memcpy(p, x, n * sizeof *p);
    return p;
}

double rel_err(const float *a, const float *b, size_t n)
{
    double md = 0.0, mb = 1e-6;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            return INFINITY;
        double dd = fabs((double)a[i] - (double)b[i]);
        if (dd > md)
            md = dd;
        if (fabs((double)b[i]) > mb)
            mb = fabs((double)b[i]);
    }
    return md / mb;
}

acc_buf acc_new(nr_rng *r, size_t n)
{
    acc_buf a = { falloc(n), falloc(n), n };
    fill_uniform(r, a.prior, n, -1.0f, 1.0f);
    memcpy(a.g, a.prior, n * sizeof *a.g);
    return a;
}

void acc_delta(acc_buf *a)
{
    for (size_t i = 0; i < a->n; i++)
        a->g[i] -= a->prior[i];
}

void acc_free(acc_buf *a)
{
    free(a->g);
    free(a->prior);
    a->g = a->prior = NULL;
}
