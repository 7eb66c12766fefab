/* augment.c - training-time data augmentation. See netrun/augment.h for the
 * contract (pipeline order, randomness order, geometry conventions). */
#include "netrun/augment.h"

#include <assert.h>
#include <float.h>
#include <math.h>

/* ------------------------------------------------------------------------
 * config
 * ------------------------------------------------------------------------ */

static bool prob_ok(float p)
{
    return p >= 0.0f && p <= 1.0f;             /* false for NaN */
}

static bool nonneg_finite(float v)
{
    return v >= 0.0f && v <= FLT_MAX;          /* false for NaN and +inf */
}

const char *nr_augment_config_check(const nr_augment_config *cfg)
{
    assert(cfg != NULL);
    if (!prob_ok(cfg->shift_p))
        return "shift_p must be in [0, 1]";
    if (cfg->shift_pixels < 0)
        return "shift_pixels must be >= 0";
    if (!prob_ok(cfg->rotate_p))
        return "rotate_p must be in [0, 1]";
    if (!nonneg_finite(cfg->rotate_degrees))
        return "rotate_degrees must be finite and >= 0";
    if (!prob_ok(cfg->scale_p))
        return "scale_p must be in [0, 1]";
    if (cfg->scale_p > 0.0f) {
        if (!(cfg->scale_min > 0.0f && cfg->scale_min <= FLT_MAX))
            return "scale_min must be finite and > 0";
        if (!(cfg->scale_max >= cfg->scale_min && cfg->scale_max <= FLT_MAX))
            return "scale_max must be finite and >= scale_min";
    }
    if (!prob_ok(cfg->elastic_p))
        return "elastic_p must be in [0, 1]";
    if (!nonneg_finite(cfg->elastic_alpha))
        return "elastic_alpha must be finite and >= 0";
    if (!nonneg_finite(cfg->elastic_sigma))
        return "elastic_sigma must be finite and >= 0";
    if (!prob_ok(cfg->noise_p))
        return "noise_p must be in [0, 1]";
    if (!nonneg_finite(cfg->noise_std))
        return "noise_std must be finite and >= 0";
    return NULL;
}

/* Strength > 0 of each transform (p not considered). */
static bool shift_on(const nr_augment_config *cfg) { return cfg->shift_pixels > 0; }
static bool rotate_on(const nr_augment_config *cfg) { return cfg->rotate_degrees > 0.0f; }
static bool scale_on(const nr_augment_config *cfg)
{
    return !(cfg->scale_min == 1.0f && cfg->scale_max == 1.0f);
}
static bool elastic_on(const nr_augment_config *cfg) { return cfg->elastic_alpha > 0.0f; }
static bool noise_on(const nr_augment_config *cfg) { return cfg->noise_std > 0.0f; }

bool nr_augment_active(const nr_augment_config *cfg)
{
    assert(cfg != NULL);
    return (cfg->shift_p > 0.0f && shift_on(cfg)) ||
           (cfg->rotate_p > 0.0f && rotate_on(cfg)) ||
           (cfg->scale_p > 0.0f && scale_on(cfg)) ||
           (cfg->elastic_p > 0.0f && elastic_on(cfg)) ||
           (cfg->noise_p > 0.0f && noise_on(cfg));
}

static size_t field_scratch_floats(int h, int w);

size_t nr_augment_workspace_floats(int c, int h, int w)
{
    assert(c > 0 && h > 0 && w > 0);
    (void)c;
    return 2 * (size_t)h * (size_t)w + field_scratch_floats(h, w);
}

/* ------------------------------------------------------------------------
 * affine map + bilinear resampling
 * ------------------------------------------------------------------------ */

/* The inverse map: for an output position q,
 *   u = q.x - ox, v = q.y - oy            (ox = cx + dx, oy = cy + dy)
 *   src.x = m00 * u + m01 * v + cx
 *   src.y = m10 * u + m11 * v + cy
 * with m = R(theta)^T / s. */
typedef struct affine_inv {
    float m00, m01, m10, m11;
    float ox, oy, cx, cy;
} affine_inv;

/* sin and cos of an angle in degrees; exact 0 / +-1 at multiples of 90. */
static void sincos_deg(double deg, double *sn, double *cs)
{
    double q = floor(deg / 90.0 + 0.5);         /* nearest quadrant */
    double rad = (deg - 90.0 * q) * (3.14159265358979323846 / 180.0);
    double s = sin(rad), c = cos(rad);
    double quad = fmod(q, 4.0);
    if (quad < 0.0)
        quad += 4.0;
    switch ((int)quad) {
    case 0: *sn = s;  *cs = c;  break;
    case 1: *sn = c;  *cs = -s; break;       /* +90: sin(r+90)=cos r, cos(r+90)=-sin r */
    case 2: *sn = -s; *cs = -c; break;
    default: *sn = -c; *cs = s; break;
    }
}

static void affine_setup(affine_inv *a, int h, int w, double dx, double dy,
                         double degrees, double scale)
{
    double sn, cs;
    sincos_deg(degrees, &sn, &cs);
    /* forward (y down, counter-clockwise as displayed):
     *   x' = cos x + sin y,  y' = -sin x + cos y;  inverse = transpose. */
    a->m00 = (float)(cs / scale);
    a->m01 = (float)(-sn / scale);
    a->m10 = (float)(sn / scale);
    a->m11 = (float)(cs / scale);
    a->cx = (float)((w - 1) * 0.5);
    a->cy = (float)((h - 1) * 0.5);
    a->ox = (float)((w - 1) * 0.5 + dx);
    a->oy = (float)((h - 1) * 0.5 + dy);
}

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

/* out[ch, y, x] = bilinear sample of in[ch] / 255 at A^-1((x, y) + d(x, y)),
 * zero outside. ddx/ddy: [h, w] displacement fields, both NULL for none.
 * The 4 weights and offsets are computed once per pixel for all channels. */
static void resample(const uint8_t *restrict in, int c, int h, int w,
                     float *restrict out, const affine_inv *a,
                     const float *restrict ddx, const float *restrict ddy)
{
    const size_t plane = (size_t)h * (size_t)w;
    const float fw = (float)w, fh = (float)h;
    /* locals: out may alias nothing here, but the compiler cannot know */
    const float m00 = a->m00, m01 = a->m01, m10 = a->m10, m11 = a->m11;
    const float ox = a->ox, oy = a->oy, cx = a->cx, cy = a->cy;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            const size_t i = (size_t)y * (size_t)w + (size_t)x;
            float qx = (float)x, qy = (float)y;
            if (ddx != NULL) {
                qx += ddx[i];
                qy += ddy[i];
            }
            const float u = qx - ox, v = qy - oy;
            const float sx = m00 * u + m01 * v + cx;
            const float sy = m10 * u + m11 * v + cy;
            if (!(sx > -1.0f && sx < fw && sy > -1.0f && sy < fh)) {
                for (int ch = 0; ch < c; ch++)
                    out[(size_t)ch * plane + i] = 0.0f;
                continue;
            }
            /* exact floor without libm; sx, sy are in (-1, w) / (-1, h) */
            int x0 = (int)sx, y0 = (int)sy;
            if ((float)x0 > sx)
                x0--;
            if ((float)y0 > sy)
                y0--;
            const float ax = sx - (float)x0, ay = sy - (float)y0; /* exact */
            float wx0 = 1.0f - ax, wx1 = ax, wy0 = 1.0f - ay, wy1 = ay;
            int xa = x0, xb = x0 + 1, ya = y0, yb = y0 + 1;
            /* a corner outside the image gets weight 0 and a safe index */
            if (xa < 0) { wx0 = 0.0f; xa = xb; }
            if (xb >= w) { wx1 = 0.0f; xb = xa; }
            if (ya < 0) { wy0 = 0.0f; ya = yb; }
            if (yb >= h) { wy1 = 0.0f; yb = ya; }
            const float w00 = wy0 * wx0, w01 = wy0 * wx1;
            const float w10 = wy1 * wx0, w11 = wy1 * wx1;
            const size_t o00 = (size_t)ya * (size_t)w + (size_t)xa;
            const size_t o01 = (size_t)ya * (size_t)w + (size_t)xb;
            const size_t o10 = (size_t)yb * (size_t)w + (size_t)xa;
            const size_t o11 = (size_t)yb * (size_t)w + (size_t)xb;
            if (c == 1) {      /* the common case, without the loop */
                float s = w00 * (float)in[o00] + w01 * (float)in[o01] +
                          w10 * (float)in[o10] + w11 * (float)in[o11];
                out[i] = clamp01(s / 255.0f);
                continue;
            }
            for (int ch = 0; ch < c; ch++) {
                const uint8_t *p = in + (size_t)ch * plane;
                /* weights (1, 0, 0, 0) reproduce p[o00] / 255 exactly */
                float s = w00 * (float)p[o00] + w01 * (float)p[o01] +
                          w10 * (float)p[o10] + w11 * (float)p[o11];
                out[(size_t)ch * plane + i] = clamp01(s / 255.0f);
            }
        }
    }
}

void nr_augment_affine(const uint8_t *in, int c, int h, int w, float *out,
                       float dx, float dy, float degrees, float scale)
{
    assert(in != NULL && out != NULL && c > 0 && h > 0 && w > 0);
    assert(isfinite(dx) && isfinite(dy) && isfinite(degrees));
    assert(scale > 0.0f && isfinite(scale));
    affine_inv a;
    affine_setup(&a, h, w, dx, dy, degrees, scale);
    resample(in, c, h, w, out, &a, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * elastic displacement field
 * ------------------------------------------------------------------------ */

/* Half of a symmetric Gaussian kernel, k[0..r], normalised so that
 * k[0] + 2 * sum_{j>=1} k[j] == 1; r = min(ceil(3 sigma), maxr). Returns r. */
static int gauss_kernel(float sigma, int maxr, float *k)
{
    int r = 0;
    if (sigma > 0.0f) {
        double rr = ceil(3.0 * (double)sigma);
        r = rr > (double)maxr ? maxr : (int)rr;
    }
    if (r <= 0) {
        k[0] = 1.0f;
        return 0;
    }
    const double coef = -0.5 / ((double)sigma * (double)sigma);
    double sum = 1.0;
    for (int j = 1; j <= r; j++)
        sum += 2.0 * exp(coef * (double)j * (double)j);
    k[0] = (float)(1.0 / sum);
    for (int j = 1; j <= r; j++)
        k[j] = (float)(exp(coef * (double)j * (double)j) / sum);
    return r;
}

/* The smoothing works on blocks of BLUR_LANES outputs with a fixed-size
 * inner loop (vectorised by the compiler even at -O2) over zero-padded
 * buffers, so there are no bounds checks inside:
 *   row:  [w8 + 2r]          one padded input row
 *   pad:  [(h + 2r) * w8]    the row-blurred field with r zero rows above
 *                            and below, row stride w8 = w rounded up to
 *                            BLUR_LANES
 * Each output is k0 * c + sum_{j=1..r} k_j * (left_j + right_j), j
 * ascending: a fixed order, so the result is deterministic. */
enum { BLUR_LANES = 8 };

static int round_lanes(int w)
{
    return (w + BLUR_LANES - 1) / BLUR_LANES * BLUR_LANES;
}

/* scratch of nr_augment_elastic_field: kernel, padded row, padded field,
 * sized for the largest radius max(h, w) - 1 */
static size_t field_scratch_floats(int h, int w)
{
    const size_t rmax = (size_t)(h > w ? h : w) - 1;
    const size_t w8 = (size_t)round_lanes(w);
    return (rmax + 1) + (w8 + 2 * rmax) + ((size_t)h + 2 * rmax) * w8;
}

/* field: [h, w] <- alpha * G * U(-1, 1) with the half kernel k[0..r]. */
static void elastic_field(float *field, int h, int w, const float *k, int r,
                          float alpha, float *row, float *pad, nr_rng *rng)
{
    const size_t hw = (size_t)h * (size_t)w;
    const int w8 = round_lanes(w);
    for (size_t i = 0; i < hw; i++)
        field[i] = 2.0f * nr_rng_uniform(rng) - 1.0f;

    /* rows: field -> pad rows r .. r+h-1 (columns w .. w8-1 become 0) */
    for (int i = 0; i < w8 + 2 * r; i++)
        row[i] = 0.0f;
    for (int y = 0; y < h; y++) {
        const float *src = field + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++)
            row[r + x] = src[x];
        float *dst = pad + (size_t)(r + y) * (size_t)w8;
        for (int xb = 0; xb < w8; xb += BLUR_LANES) {
            const float *c = row + r + xb;
            float acc[BLUR_LANES];
            for (int l = 0; l < BLUR_LANES; l++)
                acc[l] = k[0] * c[l];
            for (int j = 1; j <= r; j++) {
                const float kj = k[j];
                for (int l = 0; l < BLUR_LANES; l++)
                    acc[l] += kj * (c[l - j] + c[l + j]);
            }
            for (int l = 0; l < BLUR_LANES; l++)
                dst[xb + l] = acc[l];
        }
    }

    /* columns: pad -> field, zero rows outside the image */
    const size_t stride = (size_t)w8;
    for (size_t i = 0; i < (size_t)r * stride; i++) {
        pad[i] = 0.0f;
        pad[(size_t)(r + h) * stride + i] = 0.0f;
    }
    for (int y = 0; y < h; y++) {
        float *dst = field + (size_t)y * (size_t)w;
        for (int xb = 0; xb < w8; xb += BLUR_LANES) {
            const float *c = pad + (size_t)(r + y) * stride + (size_t)xb;
            float acc[BLUR_LANES];
            for (int l = 0; l < BLUR_LANES; l++)
                acc[l] = k[0] * c[l];
            for (int j = 1; j <= r; j++) {
                const float kj = k[j];
                const float *up = c - (size_t)j * stride, *down = c + (size_t)j * stride;
                for (int l = 0; l < BLUR_LANES; l++)
                    acc[l] += kj * (up[l] + down[l]);
            }
            const int valid = w - xb < BLUR_LANES ? w - xb : BLUR_LANES;
            for (int l = 0; l < valid; l++)
                dst[xb + l] = alpha * acc[l];
        }
    }
}

void nr_augment_elastic_field(int h, int w, float alpha, float sigma,
                              float *dx, float *dy, float *workspace,
                              nr_rng *rng)
{
    assert(h > 0 && w > 0 && dx != NULL && dy != NULL && workspace != NULL);
    assert(nonneg_finite(alpha) && nonneg_finite(sigma));
    const int rmax = (h > w ? h : w) - 1;
    float *kern = workspace;
    float *row = kern + (size_t)rmax + 1;
    float *pad = row + (size_t)round_lanes(w) + 2 * (size_t)rmax;
    const int r = gauss_kernel(sigma, rmax, kern);
    elastic_field(dx, h, w, kern, r, alpha, row, pad, rng);
    elastic_field(dy, h, w, kern, r, alpha, row, pad, rng);
}

size_t nr_augment_elastic_workspace_floats(int h, int w)
{
    assert(h > 0 && w > 0);
    return field_scratch_floats(h, w);
}

/* ------------------------------------------------------------------------
 * noise
 * ------------------------------------------------------------------------ */

/* x[i] = clamp01(x[i] + std * z_i), z_i ~ N(0, 1) in pairs from the
 * Marsaglia polar method (one logf + one sqrtf per two values). */
static void add_noise(float *x, size_t n, float std, nr_rng *rng)
{
    size_t i = 0;
    while (i < n) {
        float a, b, s;
        do {
            a = 2.0f * nr_rng_uniform(rng) - 1.0f;
            b = 2.0f * nr_rng_uniform(rng) - 1.0f;
            s = a * a + b * b;
        } while (s >= 1.0f || s == 0.0f);
        const float f = sqrtf(-2.0f * logf(s) / s);
        x[i] = clamp01(x[i] + std * (a * f));
        i++;
        if (i < n) {
            x[i] = clamp01(x[i] + std * (b * f));
            i++;
        }
    }
}

/* ------------------------------------------------------------------------
 * the pipeline
 * ------------------------------------------------------------------------ */

void nr_augment_image(const nr_augment_config *cfg, const uint8_t *in, int c,
                      int h, int w, float *out, float *workspace, nr_rng *rng)
{
    assert(cfg != NULL && in != NULL && out != NULL && rng != NULL);
    assert(c > 0 && h > 0 && w > 0);
    assert(nr_augment_config_check(cfg) == NULL);

    /* a. the five decisions, always, in this order */
    const float u_shift = nr_rng_uniform(rng);
    const float u_rotate = nr_rng_uniform(rng);
    const float u_scale = nr_rng_uniform(rng);
    const float u_elastic = nr_rng_uniform(rng);
    const float u_noise = nr_rng_uniform(rng);
    const bool do_shift = u_shift < cfg->shift_p && shift_on(cfg);
    const bool do_rotate = u_rotate < cfg->rotate_p && rotate_on(cfg);
    const bool do_scale = u_scale < cfg->scale_p && scale_on(cfg);
    const bool do_elastic = u_elastic < cfg->elastic_p && elastic_on(cfg);
    const bool do_noise = u_noise < cfg->noise_p && noise_on(cfg);

    /* b. parameters of the transforms applied */
    double dx = 0.0, dy = 0.0, degrees = 0.0, scale = 1.0;
    if (do_shift) {
        const int64_t n = cfg->shift_pixels;
        const uint32_t span = (uint32_t)(2 * n + 1);
        dx = (double)((int64_t)nr_rng_below(rng, span) - n);
        dy = (double)((int64_t)nr_rng_below(rng, span) - n);
    }
    if (do_rotate)
        degrees = (double)cfg->rotate_degrees *
                  (2.0 * (double)nr_rng_uniform(rng) - 1.0);
    if (do_scale)
        scale = (double)cfg->scale_min +
                ((double)cfg->scale_max - (double)cfg->scale_min) *
                    (double)nr_rng_uniform(rng);

    const float *fx = NULL, *fy = NULL;
    if (do_elastic) {
        assert(workspace != NULL);
        const size_t hw = (size_t)h * (size_t)w;
        float *field_x = workspace, *field_y = workspace + hw;
        nr_augment_elastic_field(h, w, cfg->elastic_alpha, cfg->elastic_sigma,
                                 field_x, field_y, workspace + 2 * hw, rng);
        fx = field_x;
        fy = field_y;
    }

    const size_t count = (size_t)c * (size_t)h * (size_t)w;
    if (do_shift || do_rotate || do_scale || do_elastic) {
        affine_inv a;
        affine_setup(&a, h, w, dx, dy, degrees, scale);
        resample(in, c, h, w, out, &a, fx, fy);
    } else {
        for (size_t i = 0; i < count; i++)
            out[i] = (float)in[i] / 255.0f;
    }

    if (do_noise)
        add_noise(out, count, cfg->noise_std, rng);
}

/* ------------------------------------------------------------------------
 * per-sample stream
 * ------------------------------------------------------------------------ */

/* splitmix64 finaliser: a bijection of uint64. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void nr_augment_rng(nr_rng *rng, uint64_t seed, int epoch, size_t index)
{
    assert(rng != NULL && epoch >= 0);
    /* injective for epoch < 2^24, index < 2^40; then bijections only */
    const uint64_t key = ((uint64_t)(uint32_t)epoch << 40) ^ (uint64_t)index;
    const uint64_t stream =
        mix64(key + (uint64_t)NR_RNG_STREAM_AUGMENT * UINT64_C(0x9E3779B97F4A7C15));
    nr_rng_seed(rng, seed, stream);
}
