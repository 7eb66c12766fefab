/* conv.c - 2-D convolution: the im2col + OpenBLAS sgemm paths (per image,
 * and batched: several images' column matrices side by side), the BLAS
 * backend's choice of kernel for a shape (nr_conv2d_*_fast: the direct
 * kernels of conv_direct.c where they apply, the batched path otherwise),
 * and the direct-loop reference. The kernel files depend one way:
 * conv.c -> conv_direct.c -> conv_sparse.c. See netrun/kernels.h for the
 * contract.
 *
 * Layout per image: K = c*size*size rows of the column matrix, P = out_h*out_w
 * columns; row r = (ch*size + ky)*size + kx, column p = oy*out_w + ox.
 *   forward:   out_i[F, P]  = W[F, K] x col_i[K, P]        (+ bias, beta = 1)
 *   backward:  dW[F, K]    += dout_i[F, P] x col_i[K, P]^T
 *              dcol[K, P]   = W[F, K]^T x dout_i[F, P];  din_i += col2im(dcol)
 * The per-image path also serves the batched one for pointwise convolutions
 * (1x1, stride 1, no padding: the image is its own column matrix), which
 * reach it on CPUs without AVX2 (elsewhere the direct kernels take them),
 * and is the BLAS path the tests compare with the reference.
 */
#include "netrun/kernels.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>

#include "vec.h"

static int is_pointwise(const nr_conv2d_dims *d)
{
    return d->size == 1 && d->stride == 1 && d->pad == 0;
}

static void check_dims(const nr_conv2d_dims *d)
{
    (void)d;
    assert(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0);
    assert(d->filters > 0 && d->size > 0 && d->stride > 0 && d->pad >= 0);
    assert(nr_conv2d_out_h(d) >= 1 && nr_conv2d_out_w(d) >= 1);
    assert(d->h + 2 * d->pad >= d->size && d->w + 2 * d->pad >= d->size);
}

size_t nr_conv2d_workspace_floats(const nr_conv2d_dims *d)
{
    if (is_pointwise(d))
        return 0;
    return (size_t)d->c * d->size * d->size * (size_t)nr_conv2d_out_h(d) *
           (size_t)nr_conv2d_out_w(d);
}

/* The output columns ox whose input column ix = ox*stride - pad + kx lies in
 * [0, w): [*x0, *x1). */
static void valid_range(int w, int ow, int stride, int pad, int kx, int *x0, int *x1)
{
    int lo = pad - kx;                      /* need ox*stride >= lo */
    int a = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    int hi = w - 1 + pad - kx;              /* need ox*stride <= hi */
    int b = hi < 0 ? 0 : hi / stride + 1;
    if (b > ow)
        b = ow;
    if (a > b)
        a = b;
    *x0 = a;
    *x1 = b;
}

/* img: [c, h, w] -> col: [c*size*size, oh*ow] with rows ldc floats apart
 * (ldc >= oh*ow; the other images of a batched column matrix sit beside),
 * every element of the oh*ow columns written. */
static void im2col(const float *img, const nr_conv2d_dims *d, int oh, int ow,
                   float *col, size_t ldc)
{
    const int h = d->h, w = d->w, size = d->size, stride = d->stride, pad = d->pad;
    for (int ch = 0; ch < d->c; ch++) {
        const float *plane = img + (size_t)ch * h * w;
        for (int ky = 0; ky < size; ky++) {
            for (int kx = 0; kx < size; kx++) {
                float *dst = col + (size_t)((ch * size + ky) * size + kx) * ldc;
                int x0, x1;
                valid_range(w, ow, stride, pad, kx, &x0, &x1);
                for (int oy = 0; oy < oh; oy++, dst += ow) {
                    int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= h || x0 == x1) {
                        memset(dst, 0, (size_t)ow * sizeof *dst);
                        continue;
                    }
                    const float *src = plane + (size_t)iy * w + (x0 * stride - pad + kx);
                    for (int ox = 0; ox < x0; ox++)
                        dst[ox] = 0.0f;
                    if (stride == 1) {
                        memcpy(dst + x0, src, (size_t)(x1 - x0) * sizeof *dst);
                    } else {
                        for (int ox = x0; ox < x1; ox++, src += stride)
                            dst[ox] = *src;
                    }
                    for (int ox = x1; ox < ow; ox++)
                        dst[ox] = 0.0f;
                }
            }
        }
    }
}

/* col: [c*size*size, oh*ow] (rows ldc floats apart) -> img: [c, h, w],
 * ACCUMULATED. */
static void col2im_add(const float *col, size_t ldc, const nr_conv2d_dims *d, int oh,
                       int ow, float *img)
{
    const int h = d->h, w = d->w, size = d->size, stride = d->stride, pad = d->pad;
    for (int ch = 0; ch < d->c; ch++) {
        float *plane = img + (size_t)ch * h * w;
        for (int ky = 0; ky < size; ky++) {
            for (int kx = 0; kx < size; kx++) {
                const float *src = col + (size_t)((ch * size + ky) * size + kx) * ldc;
                int x0, x1;
                valid_range(w, ow, stride, pad, kx, &x0, &x1);
                for (int oy = 0; oy < oh; oy++, src += ow) {
                    int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= h || x0 == x1)
                        continue;
                    float *dst = plane + (size_t)iy * w + (x0 * stride - pad + kx);
                    if (stride == 1) {
                        nr_vadd(dst, src + x0, (size_t)(x1 - x0));
                    } else {
                        for (int ox = x0; ox < x1; ox++, dst += stride)
                            *dst += src[ox];
                    }
                }
            }
        }
    }
}

void nr_conv2d_forward(const nr_conv2d_dims *d, const float *in,
                       const float *weight, const float *bias, float *out,
                       float *workspace)
{
    check_dims(d);
    const int oh = nr_conv2d_out_h(d), ow = nr_conv2d_out_w(d);
    const int F = d->filters;
    const int K = d->c * d->size * d->size;
    const int P = oh * ow;
    const size_t in_step = (size_t)d->c * d->h * d->w;
    const size_t out_step = (size_t)F * P;
    const int pointwise = is_pointwise(d);
    assert(pointwise || workspace != NULL);

    for (int i = 0; i < d->n; i++) {
        const float *img = in + (size_t)i * in_step;
        float *o = out + (size_t)i * out_step;
        const float *col = img;
        if (!pointwise) {
            im2col(img, d, oh, ow, workspace, (size_t)P);
            col = workspace;
        }
        float beta = 0.0f;
        if (bias) {
            for (int f = 0; f < F; f++)
                nr_vset(o + (size_t)f * P, bias[f], (size_t)P);
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, F, P, K, 1.0f,
                    weight, K, col, P, beta, o, P);
    }
}

void nr_conv2d_backward(const nr_conv2d_dims *d, const float *in,
                        const float *weight, const float *dout, float *din,
                        float *dweight, float *dbias, float *workspace)
{
    check_dims(d);
    const int oh = nr_conv2d_out_h(d), ow = nr_conv2d_out_w(d);
    const int F = d->filters;
    const int K = d->c * d->size * d->size;
    const int P = oh * ow;
    const size_t in_step = (size_t)d->c * d->h * d->w;
    const size_t out_step = (size_t)F * P;
    const int pointwise = is_pointwise(d);
    assert(pointwise || workspace != NULL);

    for (int i = 0; i < d->n; i++) {
        const float *img = in + (size_t)i * in_step;
        const float *g = dout + (size_t)i * out_step;
        const float *col = img;
        if (!pointwise) {
            im2col(img, d, oh, ow, workspace, (size_t)P);
            col = workspace;
        }
        /* dW[F, K] += g[F, P] x col[K, P]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, F, K, P, 1.0f, g, P,
                    col, P, 1.0f, dweight, K);
        if (dbias) {
            for (int f = 0; f < F; f++)
                dbias[f] += nr_vsum(g + (size_t)f * P, (size_t)P);
        }
        if (din) {
            float *di = din + (size_t)i * in_step;
            if (pointwise) {
                /* din_i[C, HW] += W[F, C]^T x g[F, HW] */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, F, 1.0f,
                            weight, K, g, P, 1.0f, di, P);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, F, 1.0f,
                            weight, K, g, P, 0.0f, workspace, P);
                col2im_add(workspace, (size_t)P, d, oh, ow, di);
            }
        }
    }
}

/* ---- batched: several images per GEMM ------------------------------------
 *
 * The column matrices of `chunk` images side by side, col[K, chunk*P] (image
 * b's columns at b*P), so one GEMM per chunk has N = chunk*P instead of P:
 *   forward:  tmp[F, chunk*P] = W x col;  out_b[f, :] = tmp[f, b*P ..] + bias[f]
 *   backward: G[F, chunk*P] = dout of the chunk side by side
 *             dW += G x col^T;  dcol = W^T x G (into col);  din_b += col2im(dcol_b)
 * The chunk keeps col about CONV_CHUNK_FLOATS so it stays in the L2 cache.
 * Pointwise convolutions (1x1, stride 1, no padding) take the per-image path:
 * there the image is its own column matrix. */

enum { CONV_CHUNK_FLOATS = 64 * 1024 };

static int batched_chunk(const nr_conv2d_dims *d)
{
    size_t per_image = (size_t)d->c * d->size * d->size * (size_t)nr_conv2d_out_h(d) *
                       (size_t)nr_conv2d_out_w(d);
    size_t chunk = per_image ? CONV_CHUNK_FLOATS / per_image : 1;
    if (chunk < 1)
        chunk = 1;
    if (chunk > (size_t)d->n)
        chunk = (size_t)d->n;
    return (int)chunk;
}

size_t nr_conv2d_batched_workspace_floats(const nr_conv2d_dims *d)
{
    if (is_pointwise(d))
        return 0;
    size_t chunk = (size_t)batched_chunk(d);
    size_t P = (size_t)nr_conv2d_out_h(d) * (size_t)nr_conv2d_out_w(d);
    size_t K = (size_t)d->c * d->size * d->size;
    return chunk * P * (K + (size_t)d->filters);
}

void nr_conv2d_forward_batched(const nr_conv2d_dims *d, const float *in,
                               const float *weight, const float *bias, float *out,
                               float *workspace)
{
    check_dims(d);
    if (is_pointwise(d)) {
        nr_conv2d_forward(d, in, weight, bias, out, workspace);
        return;
    }
    assert(workspace != NULL);
    const int oh = nr_conv2d_out_h(d), ow = nr_conv2d_out_w(d);
    const int F = d->filters;
    const int K = d->c * d->size * d->size;
    const int P = oh * ow;
    const size_t in_step = (size_t)d->c * d->h * d->w;
    const size_t out_step = (size_t)F * P;
    const int chunk = batched_chunk(d);
    float *col = workspace;
    float *tmp = workspace + (size_t)chunk * P * K;
    for (int i0 = 0; i0 < d->n; i0 += chunk) {
        const int nb = d->n - i0 < chunk ? d->n - i0 : chunk;
        const int N = nb * P;
        for (int b = 0; b < nb; b++)
            im2col(in + (size_t)(i0 + b) * in_step, d, oh, ow, col + (size_t)b * P,
                   (size_t)N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, F, N, K, 1.0f, weight, K,
                    col, N, 0.0f, tmp, N);
        for (int b = 0; b < nb; b++) {
            float *o = out + (size_t)(i0 + b) * out_step;
            for (int f = 0; f < F; f++) {
                const float *t = tmp + (size_t)f * N + (size_t)b * P;
                float *dst = o + (size_t)f * P;
                if (bias)
                    nr_vcopy_add_scalar(dst, t, bias[f], (size_t)P);
                else
                    memcpy(dst, t, (size_t)P * sizeof *dst);
            }
        }
    }
}

void nr_conv2d_backward_batched(const nr_conv2d_dims *d, const float *in,
                                const float *weight, const float *dout, float *din,
                                float *dweight, float *dbias, float *workspace)
{
    check_dims(d);
    if (is_pointwise(d)) {
        nr_conv2d_backward(d, in, weight, dout, din, dweight, dbias, workspace);
        return;
    }
    assert(workspace != NULL);
    const int oh = nr_conv2d_out_h(d), ow = nr_conv2d_out_w(d);
    const int F = d->filters;
    const int K = d->c * d->size * d->size;
    const int P = oh * ow;
    const size_t in_step = (size_t)d->c * d->h * d->w;
    const size_t out_step = (size_t)F * P;
    const int chunk = batched_chunk(d);
    float *col = workspace;
    float *g = workspace + (size_t)chunk * P * K;
    for (int i0 = 0; i0 < d->n; i0 += chunk) {
        const int nb = d->n - i0 < chunk ? d->n - i0 : chunk;
        const int N = nb * P;
        for (int b = 0; b < nb; b++) {
            const float *gi = dout + (size_t)(i0 + b) * out_step;
            for (int f = 0; f < F; f++) {
                const float *src = gi + (size_t)f * P;
                memcpy(g + (size_t)f * N + (size_t)b * P, src, (size_t)P * sizeof *g);
                if (dbias)
                    dbias[f] += nr_vsum(src, (size_t)P);
            }
            im2col(in + (size_t)(i0 + b) * in_step, d, oh, ow, col + (size_t)b * P,
                   (size_t)N);
        }
        /* dW[F, K] += G[F, N] x col[K, N]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, F, K, N, 1.0f, g, N, col, N,
                    1.0f, dweight, K);
        if (din) {
            /* dcol[K, N] = W[F, K]^T x G[F, N], then scattered back per image */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, F, 1.0f, weight, K, g,
                        N, 0.0f, col, N);
            for (int b = 0; b < nb; b++)
                col2im_add(col + (size_t)b * P, (size_t)N, d, oh, ow,
                           din + (size_t)(i0 + b) * in_step);
        }
    }
}

/* ---- the BLAS backend's convolution: direct where it applies ---------- */
/* The direct kernels (conv_direct.c) for the shapes and CPUs they take,
 * the batched path above otherwise. */

size_t nr_conv2d_fast_workspace_floats(const nr_conv2d_dims *d)
{
    size_t b = nr_conv2d_batched_workspace_floats(d);
    if (!nr_conv2d_direct_applies(d))
        return b;
    size_t w = nr_conv2d_direct_workspace_floats(d);
    return w > b ? w : b;
}

void nr_conv2d_forward_fast(const nr_conv2d_dims *d, const float *in, const float *weight,
                            const float *bias, float *out, float *workspace)
{
    if (nr_conv2d_direct_applies(d))
        nr_conv2d_forward_direct(d, in, weight, bias, out, workspace);
    else
        nr_conv2d_forward_batched(d, in, weight, bias, out, workspace);
}

void nr_conv2d_backward_fast(const nr_conv2d_dims *d, const float *in, const float *weight,
                             const float *dout, float *din, float *dweight, float *dbias,
                             float *workspace)
{
    if (nr_conv2d_direct_applies(d))
        nr_conv2d_backward_direct(d, in, weight, dout, din, dweight, dbias, workspace);
    else
        nr_conv2d_backward_batched(d, in, weight, dout, din, dweight, dbias, workspace);
}

/* ---- reference: direct loops, no BLAS ---------------------------------- */

void nr_ref_conv2d_forward(const nr_conv2d_dims *d, const float *in,
                           const float *weight, const float *bias, float *out,
                           float *workspace)
{
    (void)workspace;
    check_dims(d);
    const int oh = nr_conv2d_out_h(d), ow = nr_conv2d_out_w(d);
    const int C = d->c, H = d->h, W = d->w, S = d->size;
    for (int i = 0; i < d->n; i++) {
        for (int f = 0; f < d->filters; f++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    float sum = bias ? bias[f] : 0.0f;
                    for (int ch = 0; ch < C; ch++) {
                        for (int ky = 0; ky < S; ky++) {
                            int iy = oy * d->stride - d->pad + ky;
                            if (iy < 0 || iy >= H)
                                continue;
                            for (int kx = 0; kx < S; kx++) {
                                int ix = ox * d->stride - d->pad + kx;
                                if (ix < 0 || ix >= W)
                                    continue;
                                sum += weight[(((size_t)f * C + ch) * S + ky) * S + kx] *
                                       in[(((size_t)i * C + ch) * H + iy) * W + ix];
                            }
                        }
                    }
                    out[(((size_t)i * d->filters + f) * oh + oy) * ow + ox] = sum;
                }
            }
        }
    }
}

void nr_ref_conv2d_backward(const nr_conv2d_dims *d, const float *in,
                            const float *weight, const float *dout, float *din,
                            float *dweight, float *dbias, float *workspace)
{
    (void)workspace;
    check_dims(d);
    const int oh = nr_conv2d_out_h(d), ow = nr_conv2d_out_w(d);
    const int C = d->c, H = d->h, W = d->w, S = d->size;
    for (int i = 0; i < d->n; i++) {
        for (int f = 0; f < d->filters; f++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    float g = dout[(((size_t)i * d->filters + f) * oh + oy) * ow + ox];
                    if (dbias)
                        dbias[f] += g;
                    for (int ch = 0; ch < C; ch++) {
                        for (int ky = 0; ky < S; ky++) {
                            int iy = oy * d->stride - d->pad + ky;
                            if (iy < 0 || iy >= H)
                                continue;
                            for (int kx = 0; kx < S; kx++) {
                                int ix = ox * d->stride - d->pad + kx;
                                if (ix < 0 || ix >= W)
                                    continue;
                                size_t wi = (((size_t)f * C + ch) * S + ky) * S + kx;
                                size_t xi = (((size_t)i * C + ch) * H + iy) * W + ix;
                                dweight[wi] += g * in[xi];
                                if (din)
                                    din[xi] += g * weight[wi];
                            }
                        }
                    }
                }
            }
        }
    }
}
