/* netrun/kernels.h - the compute kernels the layers call.
 *
 * Conventions (they hold for every function below unless its comment says
 * otherwise):
 *   - float32, NCHW, plain pointers plus dimensions. Each pointer's shape is
 *     given in brackets, e.g. in: [n, c, h, w]; an index i of an [a, b] array
 *     is row-major (i = row * b + col).
 *   - Outputs of a forward pass are OVERWRITTEN; they need not be initialised
 *     (forward kernels never read them and never zero them first).
 *   - Gradient buffers whose names start with `d` are ACCUMULATED (llm.c
 *     style): the kernel does `dx[i] += ...` and never zeroes them, so a
 *     shared input or a residual branch simply adds its contribution. The
 *     caller zeroes every gradient buffer once per step. A d-buffer never
 *     aliases the gradient it is computed from (din != dout).
 *   - An input gradient pointer (din, dx, dlogits ...) may be NULL where its
 *     comment says so; then that gradient is not computed (e.g. the first
 *     layer needs no gradient with respect to the images).
 *   - No kernel allocates, keeps state between calls, or touches global
 *     state: all scratch memory is a `workspace` the caller provides, sized by
 *     the kernel's `*_workspace_floats()` helper, and the only mutable state
 *     (PRNG, optimizer moments, batchnorm running statistics) lives in
 *     caller-owned buffers/structs. Kernels are reentrant: different threads
 *     may call them on disjoint outputs with their own workspaces.
 *   - Deterministic: the same inputs (and the same BLAS thread count) give
 *     bit-identical outputs. Every reduction runs in a fixed order.
 *   - Dimensions are ints > 0 unless stated otherwise; element counts of
 *     whole buffers are size_t. Preconditions are checked with assert().
 *   - Backends: conv, pool, dense and gemm exist twice. `nr_*` is the fast
 *     path (OpenBLAS cblas for conv/dense/gemm); `nr_ref_*` has the SAME
 *     signature (so a backend table can hold either) and is plain loops with
 *     no BLAS: the tests' oracle and the "straightforward implementation"
 *     that speed is compared against. Reference kernels ignore `workspace`.
 *
 * Splitting a batch across threads (see DESIGN.md "Performance notes"):
 * forward kernels can be called on a sub-range of images by offsetting the
 * pointers and setting dims.n to the sub-batch size (each thread its own
 * workspace, single-threaded BLAS inside). Backward kernels can too, but
 * parameter gradients (dweight/dbias/dgamma ...) must then go to one buffer
 * per thread, summed afterwards in a fixed order to stay deterministic.
 */
#ifndef NETRUN_KERNELS_H
#define NETRUN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * PRNG: PCG32 (O'Neill, XSH-RR 64/32). The state is a plain struct owned by
 * the caller: copy it to checkpoint, copy it back to resume.
 * ------------------------------------------------------------------------ */

typedef struct nr_rng {
    uint64_t state;
    uint64_t inc;   /* odd; selects the PCG stream */
} nr_rng;

/* Stream ids: one independent stream per purpose, so e.g. adding dropout
 * does not change the weight initialisation of the same seed. Any uint64
 * works; these are the conventional ones. */
enum {
    NR_RNG_STREAM_INIT = 1,     /* parameter initialisation */
    NR_RNG_STREAM_SHUFFLE = 2,  /* epoch shuffling of the training set */
    NR_RNG_STREAM_DROPOUT = 3,  /* dropout masks */
    NR_RNG_STREAM_AUGMENT = 4,  /* data augmentation */
    NR_RNG_STREAM_SPLIT = 5,    /* train/validation split */
    NR_RNG_STREAM_TEST_SPLIT = 6  /* train/test split (data.test_fraction) */
};

/* Seeds from (seed, stream) through splitmix64: both the PCG state and its
 * stream increment depend on both numbers, so different (seed, stream) pairs
 * give unrelated sequences. */
void nr_rng_seed(nr_rng *rng, uint64_t seed, uint64_t stream);
/* Next 32 random bits. */
uint32_t nr_rng_u32(nr_rng *rng);
/* Skips `delta` outputs in O(log delta): afterwards the state is what
 * `delta` calls of nr_rng_u32 would have left (jump-ahead, so that threads
 * can each start at their own offset of one stream). */
void nr_rng_advance(nr_rng *rng, uint64_t delta);
/* Uniform float in [0, 1): 24 random bits, multiples of 2^-24; never 1.0. */
float nr_rng_uniform(nr_rng *rng);
/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's
 * multiply-and-reject); consumes one or more u32. */
uint32_t nr_rng_below(nr_rng *rng, uint32_t n);
/* Standard normal N(0, 1) (Box-Muller in double, one value per call: the
 * second value is discarded so the state stays two integers). */
float nr_rng_normal(nr_rng *rng);
/* Fisher-Yates shuffle of idx[0..n) in place, n < 2^32. */
void nr_rng_shuffle(nr_rng *rng, uint32_t *idx, size_t n);

/* ------------------------------------------------------------------------
 * Parameter initialisation (init.c). PyTorch conventions, untruncated:
 *   he_normal       N(0, 2 / fan_in)                        (kaiming_normal_, relu gain)
 *   he_uniform      U(-b, b), b = sqrt(6 / fan_in)          (kaiming_uniform_, relu gain)
 *   glorot_normal   N(0, 2 / (fan_in + fan_out))            (xavier_normal_)
 *   glorot_uniform  U(-b, b), b = sqrt(6 / (fan_in + fan_out)) (xavier_uniform_)
 * Fans: dense W [out, in]: fan_in = in, fan_out = out. conv W [f, c, k, k]:
 * fan_in = c*k*k, fan_out = f*k*k. Values come from `rng` in order
 * w[0], w[1], ... (use the NR_RNG_STREAM_INIT stream).
 * ------------------------------------------------------------------------ */

typedef enum nr_init_kind {
    NR_INIT_HE_NORMAL,
    NR_INIT_HE_UNIFORM,
    NR_INIT_GLOROT_NORMAL,
    NR_INIT_GLOROT_UNIFORM
} nr_init_kind;

/* w: [n], overwritten. fan_in, fan_out > 0. */
void nr_init_he_normal(float *w, size_t n, int fan_in, nr_rng *rng);
void nr_init_he_uniform(float *w, size_t n, int fan_in, nr_rng *rng);
void nr_init_glorot_normal(float *w, size_t n, int fan_in, int fan_out, nr_rng *rng);
void nr_init_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, nr_rng *rng);
/* Dispatches on kind (he_* ignore fan_out). */
void nr_init_fill(nr_init_kind kind, float *w, size_t n, int fan_in, int fan_out,
                  nr_rng *rng);
/* w: [n] = value (biases 0, batchnorm gamma 1 ...). */
void nr_fill(float *w, size_t n, float value);

/* ------------------------------------------------------------------------
 * GEMM, row-major: C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C.
 * op(X) = X if trans_x == 0, X^T otherwise; lda/ldb/ldc are row strides of
 * A, B, C as stored. When beta == 0, C is not read (it may hold NaN).
 * nr_gemm is cblas_sgemm; nr_ref_gemm is three loops (float accumulation,
 * k ascending).
 * ------------------------------------------------------------------------ */
void nr_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc);
void nr_ref_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc);

/* ------------------------------------------------------------------------
 * 2-D convolution (conv.c), square kernel, zero padding, cross-correlation
 * as in PyTorch:
 *   out[i, f, y, x] = bias[f] + sum_{c, ky, kx} weight[f, c, ky, kx] *
 *                     in[i, c, y*stride - pad + ky, x*stride - pad + kx]
 * (terms outside the image are 0).
 * out_h = (h + 2*pad - size) / stride + 1 (floor), likewise out_w;
 * precondition: both >= 1, size >= 1, stride >= 1, pad >= 0.
 * ------------------------------------------------------------------------ */

typedef struct nr_conv2d_dims {
    int n, c, h, w;              /* input [n, c, h, w] */
    int filters, size, stride, pad;
} nr_conv2d_dims;

static inline int nr_conv2d_out_h(const nr_conv2d_dims *d)
{
    return (d->h + 2 * d->pad - d->size) / d->stride + 1;
}
static inline int nr_conv2d_out_w(const nr_conv2d_dims *d)
{
    return (d->w + 2 * d->pad - d->size) / d->stride + 1;
}

/* Floats of scratch for nr_conv2d_forward/backward: one image's im2col
 * matrix, (c*size*size) * (out_h*out_w). 0 for a 1x1 / stride 1 / pad 0
 * convolution (the image is used as its own column matrix); the workspace
 * pointer may then be NULL. The reference kernels need none. */
size_t nr_conv2d_workspace_floats(const nr_conv2d_dims *d);

/* in:     [n, c, h, w]
 * weight: [filters, c, size, size]
 * bias:   [filters], or NULL for no bias
 * out:    [n, filters, out_h, out_w], overwritten
 * workspace: nr_conv2d_workspace_floats(d) floats
 * BLAS path: per image, im2col into workspace, then out = W[f, K] x col[K, P]
 * with K = c*size*size, P = out_h*out_w (bias pre-filled, beta = 1). The
 * batched functions below run it for pointwise convolutions. */
void nr_conv2d_forward(const nr_conv2d_dims *d, const float *in,
                       const float *weight, const float *bias, float *out,
                       float *workspace);
void nr_ref_conv2d_forward(const nr_conv2d_dims *d, const float *in,
                           const float *weight, const float *bias, float *out,
                           float *workspace);

/* in:      [n, c, h, w]                  (the forward input)
 * weight:  [filters, c, size, size]
 * dout:    [n, filters, out_h, out_w]    (gradient of the loss w.r.t. out)
 * din:     [n, c, h, w]                  ACCUMULATED; may be NULL
 * dweight: [filters, c, size, size]      ACCUMULATED
 * dbias:   [filters]                     ACCUMULATED; NULL when no bias
 * workspace: nr_conv2d_workspace_floats(d) floats (reused for im2col of the
 * input, then for the column gradient). */
void nr_conv2d_backward(const nr_conv2d_dims *d, const float *in,
                        const float *weight, const float *dout, float *din,
                        float *dweight, float *dbias, float *workspace);
void nr_ref_conv2d_backward(const nr_conv2d_dims *d, const float *in,
                            const float *weight, const float *dout, float *din,
                            float *dweight, float *dbias, float *workspace);

/* The same convolution, the BLAS path batched: the column matrices of a
 * chunk of images side by side, so each GEMM multiplies over chunk*P columns
 * instead of P (the chunk is sized to keep the column matrix in L2). Same
 * contract as nr_conv2d_forward/backward (out overwritten; din, dweight,
 * dbias ACCUMULATED), except the workspace:
 * nr_conv2d_batched_workspace_floats(d) floats, which depends on d->n (call
 * it with the largest n the kernels will see; fewer images are fine). 0 for
 * a pointwise convolution (then the per-image path runs). */
size_t nr_conv2d_batched_workspace_floats(const nr_conv2d_dims *d);
void nr_conv2d_forward_batched(const nr_conv2d_dims *d, const float *in,
                               const float *weight, const float *bias, float *out,
                               float *workspace);
void nr_conv2d_backward_batched(const nr_conv2d_dims *d, const float *in,
                                const float *weight, const float *dout, float *din,
                                float *dweight, float *dbias, float *workspace);

/* Direct convolution (conv_direct.c) for stride 1 and "same" padding
 * (2 * pad == size - 1, e.g. 3x3 pad 1), with AVX2 + FMA micro-kernels picked
 * at run time: each image is copied into a zero-bordered plane and the
 * convolution read from it at constant tap offsets (no im2col); the input
 * gradient is the same kernel on the zero-bordered output gradient with the
 * flipped weights. Same contract as nr_conv2d_forward/backward (out
 * overwritten; din, dweight, dbias ACCUMULATED), workspace
 * nr_conv2d_direct_workspace_floats(d) floats (depends on d->n: size it for
 * the largest n; fewer images are fine). Only call the _direct functions
 * when nr_conv2d_direct_applies(d) (the shape fits and the CPU has AVX2 and
 * FMA). Results differ from the BLAS path by rounding (fused multiply-adds);
 * deterministic. */
int nr_conv2d_direct_applies(const nr_conv2d_dims *d);
size_t nr_conv2d_direct_workspace_floats(const nr_conv2d_dims *d);
void nr_conv2d_forward_direct(const nr_conv2d_dims *d, const float *in,
                              const float *weight, const float *bias, float *out,
                              float *workspace);
void nr_conv2d_backward_direct(const nr_conv2d_dims *d, const float *in,
                               const float *weight, const float *dout, float *din,
                               float *dweight, float *dbias, float *workspace);

/* Fused forms for a convolution followed by relu (and 2x2 stride-2 max
 * pooling), direct path only (nr_conv2d_direct_applies; for the pooling
 * form also even h and w). They compute exactly what the separate kernels
 * compute in sequence (the same operations, bit for bit; except dbias of the
 * pooling form, summed over the pooled gradients: the same terms in another
 * order), without writing the intermediate full-size tensors:
 *   relu:     out = relu(conv(in))                              [n, f, h, w]
 *             backward from the relu output `out` and its gradient `dout`
 *             (d conv out = out > 0 ? dout : 0);
 *   relu_maxpool: pooled = maxpool_2x2(relu(conv(in)))           [n, f, h/2, w/2]
 *             argmax as nr_maxpool_forward writes it (may be NULL when no
 *             backward follows); backward from pooled, argmax and dpooled.
 * din, dweight, dbias ACCUMULATED as for nr_conv2d_backward; the workspace
 * is nr_conv2d_direct_workspace_floats(d). */
void nr_conv2d_relu_forward_direct(const nr_conv2d_dims *d, const float *in,
                                   const float *weight, const float *bias, float *out,
                                   float *workspace);
void nr_conv2d_relu_backward_direct(const nr_conv2d_dims *d, const float *in,
                                    const float *weight, const float *out, const float *dout,
                                    float *din, float *dweight, float *dbias, float *workspace);
void nr_conv2d_relu_maxpool_forward_direct(const nr_conv2d_dims *d, const float *in,
                                           const float *weight, const float *bias,
                                           float *pooled, int32_t *argmax, float *workspace);
void nr_conv2d_relu_maxpool_backward_direct(const nr_conv2d_dims *d, const float *in,
                                            const float *weight, const float *pooled,
                                            const int32_t *argmax, const float *dpooled,
                                            float *din, float *dweight, float *dbias,
                                            float *workspace);

/* The general fused forms: a convolution followed by an element-wise
 * activation and/or 2x2 stride-2 max pooling, in either order, as an
 * epilogue of the direct kernel (nr_conv2d_direct_applies; with pooling also
 * even h and w). The activation is the fast backend's: relu and leaky_relu
 * as nr_relu_forward / nr_leaky_relu_forward, tanh and sigmoid as
 * nr_tanh_forward_fast / nr_sigmoid_forward_fast; the pooling as
 * nr_maxpool_forward (argmax the same; may be NULL when no backward
 * follows). The results are those of the separate fast kernels run in the
 * spec's order, bit for bit (dbias of a pooling form summed over the pooled
 * gradients: the same terms in another order; relu and max commute, so
 * relu's two orders share one path, exactly).
 *   out: [n, f, h, w] without pooling, [n, f, h/2, w/2] with it (the LAST
 *        layer's output: the pooled values, or the activation of them)
 * Backward from that output `out`, its gradient `dout` and argmax: the
 * gradient at the convolution's output is act'(y) * dout (act' through
 * out, as the activation kernels' backward) at the argmax of each window
 * (everywhere without pooling), for both orders. din, dweight, dbias
 * ACCUMULATED; workspace nr_conv2d_direct_workspace_floats(d). */
typedef enum nr_act_kind {
    NR_ACT_NONE,
    NR_ACT_RELU,
    NR_ACT_LEAKY_RELU,
    NR_ACT_TANH,
    NR_ACT_SIGMOID
} nr_act_kind;

typedef struct nr_conv_epilogue {
    nr_act_kind act;
    float slope;       /* NR_ACT_LEAKY_RELU: its slope (>= 0) */
    int pool;          /* maxpool 2x2 stride 2 */
    int pool_first;    /* with pool and an activation: conv -> maxpool -> act
                          (0: conv -> act -> maxpool) */
} nr_conv_epilogue;

void nr_conv2d_fused_forward_direct(const nr_conv2d_dims *d, const nr_conv_epilogue *epi,
                                    const float *in, const float *weight, const float *bias,
                                    float *out, int32_t *argmax, float *workspace);
void nr_conv2d_fused_backward_direct(const nr_conv2d_dims *d, const nr_conv_epilogue *epi,
                                     const float *in, const float *weight, const float *out,
                                     const int32_t *argmax, const float *dout, float *din,
                                     float *dweight, float *dbias, float *workspace);

/* The BLAS backend's convolution (conv.c): the direct kernels where they
 * apply, the batched im2col + BLAS path otherwise; workspace
 * nr_conv2d_fast_workspace_floats(d) (enough for either). */
size_t nr_conv2d_fast_workspace_floats(const nr_conv2d_dims *d);
void nr_conv2d_forward_fast(const nr_conv2d_dims *d, const float *in,
                            const float *weight, const float *bias, float *out,
                            float *workspace);
void nr_conv2d_backward_fast(const nr_conv2d_dims *d, const float *in,
                             const float *weight, const float *dout, float *din,
                             float *dweight, float *dbias, float *workspace);

/* ------------------------------------------------------------------------
 * Pooling (pool.c), no padding, any size/stride:
 * out_h = (h - size) / stride + 1 (floor), likewise out_w; precondition
 * size <= h, size <= w. Channels are pooled independently.
 * ------------------------------------------------------------------------ */

typedef struct nr_pool2d_dims {
    int n, c, h, w;              /* input [n, c, h, w] */
    int size, stride;
} nr_pool2d_dims;

static inline int nr_pool2d_out_h(const nr_pool2d_dims *d)
{
    return (d->h - d->size) / d->stride + 1;
}
static inline int nr_pool2d_out_w(const nr_pool2d_dims *d)
{
    return (d->w - d->size) / d->stride + 1;
}

/* Max pooling.
 * in:     [n, c, h, w]
 * out:    [n, c, out_h, out_w], overwritten
 * argmax: [n, c, out_h, out_w] int32, overwritten; may be NULL (inference).
 *         argmax[i, ch, y, x] = iy * w + ix, the position of the maximum
 *         inside the input plane (i, ch); the first maximum in row-major
 *         window order wins ties. (Comparisons are `>`: a NaN is not
 *         propagated unless it is the window's first element.) */
void nr_maxpool_forward(const nr_pool2d_dims *d, const float *in, float *out,
                        int32_t *argmax);
void nr_ref_maxpool_forward(const nr_pool2d_dims *d, const float *in,
                            float *out, int32_t *argmax);
/* dout:   [n, c, out_h, out_w]
 * argmax: [n, c, out_h, out_w], as written by the forward pass
 * din:    [n, c, h, w] ACCUMULATED: din[plane + argmax] += dout (overlapping
 *         windows add). */
void nr_maxpool_backward(const nr_pool2d_dims *d, const float *dout,
                         const int32_t *argmax, float *din);
/* The same with din OVERWRITTEN (every element of din written: the
 * gradient at argmax positions, 0 elsewhere), for the first writer of a
 * gradient buffer. Any size/stride (overlapping windows add). */
void nr_maxpool_backward_set(const nr_pool2d_dims *d, const float *dout,
                             const int32_t *argmax, float *din);
void nr_ref_maxpool_backward(const nr_pool2d_dims *d, const float *dout,
                             const int32_t *argmax, float *din);

/* Average pooling: out = mean of the size*size window.
 * in: [n, c, h, w]; out: [n, c, out_h, out_w], overwritten. */
void nr_avgpool_forward(const nr_pool2d_dims *d, const float *in, float *out);
void nr_ref_avgpool_forward(const nr_pool2d_dims *d, const float *in, float *out);
/* dout: [n, c, out_h, out_w]; din: [n, c, h, w] ACCUMULATED, each window
 * element += dout / (size*size). */
void nr_avgpool_backward(const nr_pool2d_dims *d, const float *dout, float *din);
void nr_ref_avgpool_backward(const nr_pool2d_dims *d, const float *dout, float *din);

/* ------------------------------------------------------------------------
 * Dense / fully connected (dense.c): y = x W^T + b.
 * ------------------------------------------------------------------------ */

typedef struct nr_dense_dims {
    int n;       /* batch */
    int in;      /* input features (a [n, c, h, w] input is [n, c*h*w]) */
    int out;     /* output features */
} nr_dense_dims;

/* x: [n, in]; weight: [out, in]; bias: [out] or NULL;
 * y: [n, out], overwritten. */
void nr_dense_forward(const nr_dense_dims *d, const float *x,
                      const float *weight, const float *bias, float *y);
void nr_ref_dense_forward(const nr_dense_dims *d, const float *x,
                          const float *weight, const float *bias, float *y);
/* x: [n, in] (forward input); weight: [out, in]; dy: [n, out];
 * dx: [n, in] ACCUMULATED (+= dy W), may be NULL;
 * dweight: [out, in] ACCUMULATED (+= dy^T x);
 * dbias: [out] ACCUMULATED (+= column sums of dy), NULL when no bias. */
void nr_dense_backward(const nr_dense_dims *d, const float *x,
                       const float *weight, const float *dy, float *dx,
                       float *dweight, float *dbias);
void nr_ref_dense_backward(const nr_dense_dims *d, const float *x,
                           const float *weight, const float *dy, float *dx,
                           float *dweight, float *dbias);
/* Only the input gradient of nr_dense_backward: dx [n, in] += dy W, or
 * dx = dy W when overwrite (then dx need not be initialised). BLAS. */
void nr_dense_backward_input(const nr_dense_dims *d, const float *weight, const float *dy,
                             float *dx, int overwrite);

/* The fast path (dense_sparse.c): inputs with many exact zeros (pixels,
 * post-relu activations) skip them, with AVX2 + FMA kernels picked at run
 * time; dense inputs and other CPUs use OpenBLAS. Results differ from
 * nr_dense_forward/backward by rounding (fused multiply-adds, other
 * summation orders) and are deterministic. Skipping a zero input drops its
 * 0 * w terms: the same for finite weights (NaN inputs are never skipped).
 *
 * nr_dense_sparse_available(): the CPU has AVX2 and FMA. When false, the
 * transposed weights are never read and need not be computed. */
int nr_dense_sparse_available(void);
/* Floats of the transposed weights weight_t: [in, out8], out8 = out rounded
 * up to a multiple of 8 (the extra columns are zero). */
size_t nr_dense_weight_t_floats(const nr_dense_dims *d);
/* Writes rows of weight_t = weight^T (weight [out, in]) for part `part` of
 * `parts` (0 <= part < parts): parts 0..parts-1 together write all of it,
 * so threads can share the work (then wait for each other before reading). */
void nr_dense_transpose_weight(const nr_dense_dims *d, const float *weight, float *weight_t,
                               int part, int parts);
/* Scratch floats of nr_dense_forward_fast and nr_dense_backward_weight_part
 * for d->n images (size it for the largest n). */
size_t nr_dense_fast_workspace_floats(const nr_dense_dims *d);
/* Whether the sparse forward pays for inputs like x [n, in] (a whole
 * batch): nr_dense_sparse_available(), at least 32 outputs, and at most ~30%
 * nonzeros in a fixed sample of its images. The same x gives the same
 * answer, so threads sharing a batch agree. */
int nr_dense_forward_sparse_pays(const nr_dense_dims *d, const float *x);
/* Whether nr_dense_forward_sparse_pays can say yes for some x of dims d:
 * nr_dense_sparse_available() and at least 32 outputs. When 0, the forward
 * never needs the transposed weights nor the rest of the batch. */
int nr_dense_forward_sparse_possible(const nr_dense_dims *d);
/* Same contract as nr_dense_forward (y overwritten). weight_t: the current
 * transposed weights, or NULL. With weight_t (and nr_dense_sparse_available())
 * y[i] = bias + sum over the nonzero x[i, p] of x[i, p] * weight_t[p, :]
 * (p ascending, per image: the split of a batch does not change the
 * result); without, nr_dense_forward. */
void nr_dense_forward_fast(const nr_dense_dims *d, const float *x, const float *weight,
                           const float *weight_t, const float *bias, float *y,
                           float *workspace);
/* The sparse forward of nr_dense_forward_fast (weight_t required) on one
 * instruction set, for the tests: NR_DENSE_AVX2 or NR_DENSE_AVX512 (the
 * one nr_dense_forward_fast prefers when the CPU has it; the same results
 * bit for bit). Returns 0, y untouched, when this CPU lacks it. */
typedef enum nr_dense_isa { NR_DENSE_AVX2, NR_DENSE_AVX512 } nr_dense_isa;
int nr_dense_forward_sparse_isa(nr_dense_isa isa, const nr_dense_dims *d, const float *x,
                                const float *weight_t, const float *bias, float *y,
                                float *workspace);
/* The parameter gradients of nr_dense_backward for the WHOLE batch of d->n
 * images, part `part` of `parts`: dweight[:, lo:hi] += dy^T x[:, lo:hi] for
 * this part's input columns (cut at multiples of 16) and dbias[jlo:jhi] +=
 * column sums of dy for its slice of outputs. Parts write disjoint elements,
 * so threads can each compute one part into ONE shared gradient (no copy per
 * thread, no summing afterwards). Sparse inputs of layers with at least 32
 * outputs (decided on a sample of the whole batch, so every part takes the
 * same path) skip their zeros, summing
 * the images in ascending order per column: then the result does not depend
 * on `parts`; dense inputs use BLAS on the part's columns (deterministic for
 * a given `parts`).
 * dweight, dbias ACCUMULATED (dbias may be NULL). */
void nr_dense_backward_weight_part(const nr_dense_dims *d, const float *x, const float *dy,
                                   float *dweight, float *dbias, int part, int parts,
                                   float *workspace);
/* The sparse weight gradient of nr_dense_backward_weight_part (whatever the
 * density; no dbias) on one instruction set, for the tests: NR_DENSE_AVX2 or
 * NR_DENSE_AVX512 (16-column blocks, 128 outputs per pass; the one
 * nr_dense_backward_weight_part prefers when the CPU has it; the same
 * results bit for bit). Returns 0, dweight untouched, when this CPU lacks it. */
int nr_dense_backward_weight_sparse_isa(nr_dense_isa isa, const nr_dense_dims *d, const float *x,
                                        const float *dy, float *dweight, int part, int parts,
                                        float *workspace);

/* ------------------------------------------------------------------------
 * Element-wise activations (activation.c) over `count` floats (any shape).
 * Forward: out overwritten; out == in (in place) is allowed.
 * Backward is computed from the saved forward OUTPUT `out` (not the input),
 * so an in-place forward loses nothing:
 *   din[i] += dout[i] * f'(x_i) expressed through out[i]; din ACCUMULATED.
 * ------------------------------------------------------------------------ */

/* NaN inputs give NaN outputs for all four (as in PyTorch), so a divergence
 * check downstream sees them. */
/* relu: out = max(x, 0). f' = 1 where out > 0, else 0 (0 at x == 0, as PyTorch). */
void nr_relu_forward(size_t count, const float *in, float *out);
void nr_relu_backward(size_t count, const float *out, const float *dout, float *din);
/* The same with din OVERWRITTEN (din = out > 0 ? dout : 0), for the first
 * writer of a gradient buffer: no zeroing pass before it. */
void nr_relu_backward_set(size_t count, const float *out, const float *dout, float *din);
/* leaky_relu: out = x > 0 ? x : slope * x, slope >= 0 (so that the sign of
 * out equals the sign of x). f' = 1 where out > 0, else slope. */
void nr_leaky_relu_forward(size_t count, float slope, const float *in, float *out);
void nr_leaky_relu_backward(size_t count, float slope, const float *out,
                            const float *dout, float *din);
/* sigmoid: out = 1 / (1 + exp(-x)) (computed without overflow). f' = out*(1-out). */
void nr_sigmoid_forward(size_t count, const float *in, float *out);
void nr_sigmoid_backward(size_t count, const float *out, const float *dout, float *din);
/* tanh: out = tanh(x). f' = 1 - out^2. */
void nr_tanh_forward(size_t count, const float *in, float *out);
void nr_tanh_backward(size_t count, const float *out, const float *dout, float *din);
/* The fast backend's tanh and sigmoid: the same contract, computed without
 * libm (src/kernels/vmath.h: Cephes' algorithms, 8 lanes at a time with
 * AVX2 when the CPU has it): tanh within 2 ulp of the exact values,
 * sigmoid within 3 ulp (for results >= FLT_MIN; 2e-45 absolute below),
 * both within 1e-6 absolute, monotone, NaN
 * propagated, tanh(-0) = -0; deterministic, and the same bits on every CPU:
 * the _portable forms (the scalar code, what a CPU without AVX2 runs) give
 * exactly the results of the _fast ones. The reference backend uses the
 * libm forms above. */
void nr_tanh_forward_fast(size_t count, const float *in, float *out);
void nr_sigmoid_forward_fast(size_t count, const float *in, float *out);
void nr_tanh_forward_portable(size_t count, const float *in, float *out);
void nr_sigmoid_forward_portable(size_t count, const float *in, float *out);

/* ------------------------------------------------------------------------
 * Softmax and losses (softmax_loss.c). Rows are samples: [n, k] with k
 * classes. labels: [n] int32 in [0, k).
 * ------------------------------------------------------------------------ */

/* probs[i, :] = softmax(logits[i, :]) (max subtracted first); rows sum to 1.
 * probs overwritten; probs == logits allowed. */
void nr_softmax_forward(int n, int k, const float *logits, float *probs);
/* Backward of a standalone softmax, from its output:
 * dlogits[i, j] += probs[i, j] * (dprobs[i, j] - sum_l dprobs[i, l] * probs[i, l]).
 * dlogits ACCUMULATED. */
void nr_softmax_backward(int n, int k, const float *probs, const float *dprobs,
                         float *dlogits);

/* Fused softmax + cross-entropy from LOGITS (log-sum-exp; finite and exact
 * for logits like +-1e4):
 *   loss = (1/n) sum_i [ logsumexp(logits[i, :]) - logits[i, labels[i]] ]
 * returned (the batch mean, summed in double).
 * probs:   [n, k] softmax of the logits, overwritten; may be NULL.
 * dlogits: [n, k] ACCUMULATED += (softmax - onehot(label)) / n; may be NULL.
 * This is the gradient of the returned mean loss w.r.t. the logits. */
float nr_softmax_cross_entropy(int n, int k, const float *logits,
                               const int32_t *labels, float *probs,
                               float *dlogits);
/* The same with label smoothing s in [0, 1): the target of row i is
 * q = (1 - s) onehot(labels[i]) + s / k, loss = mean_i sum_j -q_j log softmax_j,
 * dlogits += (softmax - q) / n. s = 0 is exactly nr_softmax_cross_entropy. */
float nr_softmax_cross_entropy_smoothed(int n, int k, const float *logits,
                                        const int32_t *labels, float smoothing,
                                        float *probs, float *dlogits);
/* The same with class weights (train.class_weights, Keras' class_weight):
 * class_weight [k] (NULL = all 1: exactly nr_softmax_cross_entropy_smoothed)
 * scales row i's loss and gradient by w = class_weight[labels[i]]:
 *   loss = (1/n) sum_i w_i sum_j -q_j log softmax_j,  dlogits += w_i (softmax - q) / n
 * (divided by n, not by the sum of the weights). */
float nr_softmax_cross_entropy_weighted(int n, int k, const float *logits,
                                        const int32_t *labels, float smoothing,
                                        const float *class_weight, float *probs,
                                        float *dlogits);

/* Mean squared error of an output `pred` [n, k] against one-hot targets:
 *   loss = (1/(n*k)) sum_{i,j} (pred[i, j] - onehot(labels[i])[j])^2
 * (PyTorch MSELoss reduction='mean': averaged over ALL n*k elements).
 * dpred: [n, k] ACCUMULATED += 2 (pred - onehot) / (n*k), the derivative
 * w.r.t. pred itself (no softmax involved); may be NULL.
 * Use with a softmax layer: pass probs as pred, then nr_softmax_backward. */
float nr_mse_onehot(int n, int k, const float *pred, const int32_t *labels,
                    float *dpred);
/* The same with class weights [k] (NULL = nr_mse_onehot): row i's squared
 * errors and gradient scaled by class_weight[labels[i]], still divided by n*k. */
float nr_mse_onehot_weighted(int n, int k, const float *pred, const int32_t *labels,
                             const float *class_weight, float *dpred);
/* The same MSE on softmax(logits), fused: pred = softmax(logits) is written
 * to probs ([n, k], overwritten, may be NULL) and dlogits ([n, k],
 * ACCUMULATED, may be NULL) receives the derivative of that loss w.r.t. the
 * LOGITS (through the softmax Jacobian). Returns the loss. */
float nr_softmax_mse(int n, int k, const float *logits, const int32_t *labels,
                     float *probs, float *dlogits);
/* The same with class weights [k] (NULL = nr_softmax_mse), as nr_mse_onehot_weighted. */
float nr_softmax_mse_weighted(int n, int k, const float *logits, const int32_t *labels,
                              const float *class_weight, float *probs, float *dlogits);

/* out[i] = argmax_j x[i, j] (first maximum on ties). x: [n, k]; out: [n]. */
void nr_argmax_rows(int n, int k, const float *x, int32_t *out);
/* Number of rows whose argmax equals labels[i] (accuracy = result / n). */
int nr_count_correct(int n, int k, const float *x, const int32_t *labels);

/* ------------------------------------------------------------------------
 * Batch normalisation (batchnorm.c), per channel over n*hw values.
 * For a dense layer's [n, features] output use c = features, hw = 1.
 * ------------------------------------------------------------------------ */

typedef struct nr_batchnorm_dims {
    int n, c;
    int hw;      /* h * w (1 after a dense layer) */
} nr_batchnorm_dims;

/* Training mode: batch statistics (biased variance, computed in double, two
 * passes), M = n*hw values per channel:
 *   mean[ch]   = average of in over (i, y, x)            overwritten, saved for backward
 *   invstd[ch] = 1 / sqrt(var_biased + eps)              overwritten, saved for backward
 *   out        = gamma[ch] * (in - mean) * invstd + beta[ch]   overwritten
 * and, when running_mean/running_var are non-NULL (PyTorch convention):
 *   running_mean = (1 - momentum) * running_mean + momentum * mean
 *   running_var  = (1 - momentum) * running_var  + momentum * var_unbiased
 * with var_unbiased = var_biased * M / (M - 1) (var_biased if M == 1).
 * in, out: [n, c, hw]; gamma, beta, mean, invstd, running_*: [c].
 * out must not alias in (the backward pass needs in). Typical: momentum 0.1,
 * eps 1e-5. */
void nr_batchnorm_forward_train(const nr_batchnorm_dims *d, const float *in,
                                const float *gamma, const float *beta,
                                float *out, float *mean, float *invstd,
                                float *running_mean, float *running_var,
                                float momentum, float eps);
/* Evaluation mode: out = gamma * (in - running_mean) / sqrt(running_var + eps)
 * + beta. Statistics untouched; out == in allowed. */
void nr_batchnorm_forward_eval(const nr_batchnorm_dims *d, const float *in,
                               const float *gamma, const float *beta,
                               const float *running_mean,
                               const float *running_var, float eps, float *out);
/* Backward of the evaluation-mode forward (a fixed affine map per channel:
 * a frozen batchnorm trains this way):
 *   din += dout * gamma / sqrt(running_var + eps)
 * with the scale rounded exactly as nr_batchnorm_forward_eval rounds it.
 * dout, din: [n, c, hw]; gamma, running_var: [c]. din ACCUMULATED. No
 * parameter gradients (the parameters are not being trained). */
void nr_batchnorm_backward_eval(const nr_batchnorm_dims *d, const float *dout,
                                const float *gamma, const float *running_var, float eps,
                                float *din);
/* Backward of the TRAINING-mode forward (batch statistics), from the forward
 * input and the saved mean/invstd (xhat is recomputed, not stored):
 *   dbeta[ch]  += sum dout
 *   dgamma[ch] += sum dout * xhat
 *   din        += gamma * invstd / M * (M * dout - sum dout - xhat * sum dout*xhat)
 * in, dout, din: [n, c, hw]; gamma, mean, invstd, dgamma, dbeta: [c].
 * din, dgamma, dbeta ACCUMULATED; din may be NULL. */
void nr_batchnorm_backward(const nr_batchnorm_dims *d, const float *in,
                           const float *dout, const float *gamma,
                           const float *mean, const float *invstd, float *din,
                           float *dgamma, float *dbeta);

/* The same computations in pieces, for threads that each hold a share of
 * the batch (the fast form the layer runs: plane by plane, vectorised). Every
 * share writes per-image partial sums (double) into rows of a table shared by
 * all, and after a barrier every thread combines ALL the rows in image order:
 * the statistics are the same bits whatever the split, and equal the
 * whole-batch functions' above within double rounding. d describes the share
 * (d->n images, may be 0); a row is `stride` doubles (image i of the share:
 * rows + i * stride).
 *   share_moments:   row[ch]     = sum over (y, x) of in (plane i, ch)
 *                    row[c + ch] = sum of (in - row[ch] / hw)^2: the plane's
 *                    squared deviations from its own mean (one pass over
 *                    memory, no cancellation for large means)
 *   combine_moments: sum[ch] = sum of the n rows' row[ch]; m2[ch] = the
 *                    batch's sum of squared deviations from its mean
 *                    sum / (n * hw), from the planes' (Chan et al.:
 *                    m2_i + hw * (mean_i - mean)^2, added in image order)
 *   share_grad_sums: row[ch]     = sum of g
 *                    row[c + ch] = sum of g * xhat, xhat = (in - mean) * invstd
 *                    with g the gradient of the batchnorm's output (src)
 * combine: total[j] = sum over rows i < n of rows[i * stride + j], j < width. */
void nr_batchnorm_share_moments(const nr_batchnorm_dims *d, const float *in, double *rows,
                                size_t stride);
void nr_batchnorm_combine_moments(int n, int c, int hw, const double *rows, size_t stride,
                                  double *sum, double *m2);
void nr_batchnorm_combine(int n, int width, const double *rows, size_t stride, double *total);
/* From the combined sum and squared deviations (m2) of M = (batch images) *
 * hw values per channel: mean and invstd (as nr_batchnorm_forward_train
 * saves them; NULL: not wanted), scale = gamma * invstd and shift = beta -
 * mean * scale for nr_batchnorm_normalize, and the running statistics when
 * non-NULL. */
void nr_batchnorm_finish_stats(int c, double M, const double *sum, const double *sq,
                               const float *gamma, const float *beta, float momentum, float eps,
                               float *mean, float *invstd, float *scale, float *shift,
                               float *running_mean, float *running_var);
/* The evaluation-mode map as scale and shift (rounded as
 * nr_batchnorm_forward_eval rounds them): out = in * scale + shift. */
void nr_batchnorm_eval_coeffs(int c, const float *gamma, const float *beta,
                              const float *running_mean, const float *running_var, float eps,
                              float *scale, float *shift);
/* out = in * scale[ch] + shift[ch] over the share; out == in allowed.
 * _relu: then relu (out < 0 ? 0 : out, as nr_relu_forward): the fused
 * batchnorm -> relu, out is the relu's output.
 * _relu_maxpool: then relu and 2x2 stride-2 max pooling (h * w == d->hw, h
 * and w even): pooled [n, c, h/2, w/2] and argmax (NULL: not wanted) as
 * nr_maxpool_forward writes them; scratch: nr_batchnorm_scratch_floats(h, w)
 * floats. The same operations as the separate kernels, bit for bit. */
void nr_batchnorm_normalize(const nr_batchnorm_dims *d, const float *in, const float *scale,
                            const float *shift, float *out);
void nr_batchnorm_normalize_relu(const nr_batchnorm_dims *d, const float *in, const float *scale,
                                 const float *shift, float *out);
void nr_batchnorm_normalize_relu_maxpool(const nr_batchnorm_dims *d, int h, int w,
                                         const float *in, const float *scale,
                                         const float *shift, float *pooled, int32_t *argmax,
                                         float *scratch);
size_t nr_batchnorm_scratch_floats(int h, int w);
/* Where the backward's gradient of the batchnorm's output comes from:
 *   dout alone (out, argmax NULL): dout [n, c, hw] is that gradient;
 *   a fused relu (out non-NULL, argmax NULL): dout and out [n, c, hw] are the
 *     relu's output gradient and output: g = out > 0 ? dout : 0;
 *   a fused relu -> maxpool 2x2/2 (both non-NULL, h * w = hw): dout, out and
 *     argmax [n, c, h/2, w/2] are the pooling's output gradient, output and
 *     argmax: g = the pooled gradient at argmax where out > 0, 0 elsewhere.
 * (What the separate relu and maxpool backward passes would write.) */
typedef struct nr_batchnorm_grad_src {
    const float *dout;
    const float *out;
    const int32_t *argmax;
    int h, w;
} nr_batchnorm_grad_src;
/* scratch (grad_sums, input_grad): nr_batchnorm_scratch_floats(h, w) floats,
 * h * w = d->hw (h, w: the plane's shape; hw, 1 for vectors). */
void nr_batchnorm_share_grad_sums(const nr_batchnorm_dims *d, const float *in,
                                  const nr_batchnorm_grad_src *src, const float *mean,
                                  const float *invstd, double *rows, size_t stride,
                                  float *scratch);
/* From the combined sums of M values per channel: k = gamma * invstd,
 * mean_g = sum_g / M, mean_gx = sum_gx / M (floats, for input_grad). */
void nr_batchnorm_grad_coeffs(int c, double M, const float *gamma, const float *invstd,
                              const double *sum_g, const double *sum_gx, float *k,
                              float *mean_g, float *mean_gx);
/* din (+)= k * (g - mean_g - xhat * mean_gx) over the share, g from src,
 * xhat = (in - mean) * invstd; with mean_g NULL (evaluation mode, a frozen
 * batchnorm) din (+)= g * k, k the eval scale (in, mean, invstd, mean_gx
 * unused). set: din OVERWRITTEN, else ACCUMULATED. */
void nr_batchnorm_share_input_grad(const nr_batchnorm_dims *d, const float *in,
                                   const nr_batchnorm_grad_src *src, const float *mean,
                                   const float *invstd, const float *k, const float *mean_g,
                                   const float *mean_gx, bool set, float *din, float *scratch);

/* ------------------------------------------------------------------------
 * Inverted dropout (dropout.c), training only; at evaluation the layer is
 * the identity and none of this is called.
 * ------------------------------------------------------------------------ */

/* For each element, keep with probability 1 - rate (one rng u32 each,
 * dropped when u32 < rate * 2^32), mask[i] = 1 kept / 0 dropped,
 * out[i] = in[i] * mask[i] / (1 - rate). 0 <= rate < 1. rate == 0 copies
 * in to out, sets mask to 1 and consumes no random numbers.
 * in, out: [count] (out == in allowed); mask: [count] uint8, overwritten. */
void nr_dropout_forward(size_t count, float rate, nr_rng *rng, const float *in,
                        float *out, uint8_t *mask);
/* din[i] += dout[i] * mask[i] / (1 - rate); din ACCUMULATED. */
void nr_dropout_backward(size_t count, float rate, const uint8_t *mask,
                         const float *dout, float *din);

/* ------------------------------------------------------------------------
 * Optimizers (optim.c) over ONE contiguous vector of `count` parameters
 * (call on sub-ranges to give parameter groups different settings). PyTorch
 * semantics (torch.optim.SGD / Adam / AdamW, amsgrad off, maximize off).
 * `t` is the 1-based step number of this update (1 on the first step). The
 * gradient is read, never zeroed. lr etc. may change between steps
 * (schedules): the caller passes the current values each time.
 * ------------------------------------------------------------------------ */

typedef struct nr_sgd_params {
    float lr;
    float momentum;       /* 0 = plain SGD (the momentum buffer is unused) */
    float dampening;      /* usually 0; must be 0 with nesterov */
    float weight_decay;   /* L2: g = grad + weight_decay * param */
    int nesterov;         /* requires momentum > 0 */
} nr_sgd_params;

/* param, grad, buf: [count]. buf is the momentum buffer (may be NULL when
 * momentum == 0); its content before step 1 is ignored.
 *   g = grad + wd * param
 *   if momentum != 0: buf = (t == 1) ? g : momentum * buf + (1 - dampening) * g
 *                     g   = nesterov ? g + momentum * buf : buf
 *   param -= lr * g */
void nr_sgd_step(size_t count, float *param, const float *grad, float *buf,
                 const nr_sgd_params *p, long t);

typedef struct nr_adam_params {
    float lr;
    float beta1, beta2;   /* usually 0.9, 0.999 */
    float eps;            /* usually 1e-8 */
    float weight_decay;   /* Adam: L2 added to the gradient; AdamW: decoupled */
} nr_adam_params;

/* param, grad, m, v: [count]; m and v are zero before step 1 (caller zeroes).
 *   (Adam)  g = grad + wd * param          (AdamW) param *= 1 - lr * wd; g = grad
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2
 *   param -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * Bias corrections in double. */
void nr_adam_step(size_t count, float *param, const float *grad, float *m,
                  float *v, const nr_adam_params *p, long t);
void nr_adamw_step(size_t count, float *param, const float *grad, float *m,
                   float *v, const nr_adam_params *p, long t);

/* ------------------------------------------------------------------------
 * Element-wise sums (add.c; residual blocks), vectorized, the same bits as
 * the plain loops. Arrays [count]; out, dst must not overlap the inputs. */
void nr_add(size_t count, const float *a, const float *b, float *out);   /* out = a + b */
void nr_add_into(size_t count, const float *src, float *dst);           /* dst += src */

#endif
