/* image.c - which files are images netrun reads, reading one and preparing
 * its pixels (see netrun/image.h): the one place a file's format is decided
 * and its pixels are converted and resized, shared by the dataset loader,
 * `netrun predict` and the C API.
 *
 * Resizing is separable: each axis maps output pixel i to a source interval
 * [(A i + B) / D, (A (i + 1) + B) / D) in source pixels (integers A, B, D;
 * stretch: A = in, B = 0, D = out; crop adds an offset B), and gives each
 * output pixel integer weights over source pixels that sum to the axis'
 * denominator: the overlap lengths (in 1/D pixels, summing to A) when
 * shrinking, the two bilinear weights (in 1/(2D) pixels) when growing. A
 * horizontal pass sums rows into uint32 (at most 255 x 2^16), a vertical
 * pass into uint64, and the result is divided by the product of the two
 * denominators once, rounding halves up: exact, whatever the sizes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image_decode.h"
#include "netrun/image.h"

/* name ends in suffix (lower case, with its dot), in any case, and has
 * something before it */
static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    if (n <= m)
        return 0;
    const char *s = name + n - m;
    for (size_t i = 0; i < m; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return 0;
    }
    return 1;
}

nr_image_format nr_image_format_of(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (has_suffix(base, ".png"))
        return NR_IMAGE_PNG;
    if (has_suffix(base, ".jpg") || has_suffix(base, ".jpeg"))
        return NR_IMAGE_JPEG;
    return NR_IMAGE_NONE;
}

/* ------------------------------------------------------------ preparation */

static int check_prep(const nr_image_prep *prep, const char *what, nr_error *err)
{
    if (!prep)
        return 0;
    if (prep->channels != 0 && prep->channels != 1 && prep->channels != 3)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot convert to %d channels; "
                       "channels must be 0 (as stored), 1 or 3", what, prep->channels);
    int none = prep->height == 0 && prep->width == 0;
    if (!none && (prep->height < 1 || prep->width < 1 || prep->height > NR_IMAGE_MAX_SIDE ||
                  prep->width > NR_IMAGE_MAX_SIDE))
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot resize to %dx%d (height x "
                       "width); sides must be 1..%d (or both 0: as stored)", what,
                       prep->height, prep->width, NR_IMAGE_MAX_SIDE);
    if ((unsigned)prep->fit > NR_FIT_PAD || (unsigned)prep->alpha > NR_ALPHA_WHITE)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: unknown fit %d or alpha %d", what,
                       (int)prep->fit, (int)prep->alpha);
    return 0;
}

/* the prepared shape of a stored image of `stored_channels` (alpha counted) */
static void prepared_shape(int stored_channels, int height, int width,
                           const nr_image_prep *prep, int *c, int *h, int *w)
{
    int base = stored_channels == 2 || stored_channels == 4 ? stored_channels - 1
                                                            : stored_channels;
    *c = prep && prep->channels ? prep->channels : base;
    int resize = prep && prep->height > 0;
    *h = resize ? prep->height : height;
    *w = resize ? prep->width : width;
}

/* One axis of a resize: output pixel i takes taps [offset[i], offset[i+1])
 * (source index src[t], weight weight[t]); every pixel's weights sum to den. */
typedef struct axis_map {
    int out;
    uint32_t den;
    int *offset;         /* out + 1 */
    int *src;
    uint32_t *weight;
} axis_map;

static void axis_free(axis_map *m)
{
    free(m->offset);
    free(m->src);
    free(m->weight);
    memset(m, 0, sizeof *m);
}

/* output pixel i covers source [(A i + B) / D, (A (i + 1) + B) / D) of `in`
 * pixels; requires 0 <= B and A out + B <= in D. 0 or -1 (out of memory). */
static int axis_build(axis_map *m, int in, int out, int64_t A, int64_t B, int64_t D)
{
    memset(m, 0, sizeof *m);
    m->out = out;
    int area = A >= D;
    size_t per = area ? (size_t)(A / D) + 2 : 2;
    m->offset = malloc(((size_t)out + 1) * sizeof *m->offset);
    m->src = malloc((size_t)out * per * sizeof *m->src);
    m->weight = malloc((size_t)out * per * sizeof *m->weight);
    if (!m->offset || !m->src || !m->weight) {
        axis_free(m);
        return -1;
    }
    int t = 0;
    if (area) {
        m->den = (uint32_t)A;
        for (int i = 0; i < out; i++) {
            m->offset[i] = t;
            int64_t lo = A * i + B, hi = lo + A;
            int64_t k1 = (hi - 1) / D;
            if (k1 > in - 1)
                k1 = in - 1;
            for (int64_t k = lo / D; k <= k1; k++) {
                int64_t a = lo > D * k ? lo : D * k;
                int64_t b = hi < D * (k + 1) ? hi : D * (k + 1);
                if (b > a) {
                    m->src[t] = (int)k;
                    m->weight[t++] = (uint32_t)(b - a);
                }
            }
        }
    } else {
        /* the centre of output i, in 1/(2D) source pixels from source
         * pixel 0's centre: 2 A i + 2 B + A - D */
        int64_t den = 2 * D;
        m->den = (uint32_t)den;
        for (int i = 0; i < out; i++) {
            m->offset[i] = t;
            int64_t n = 2 * A * i + 2 * B + A - D;
            int64_t x0 = n <= 0 ? 0 : n / den, f = n <= 0 ? 0 : n % den;
            if (x0 >= in - 1) {
                x0 = in - 1;
                f = 0;
            }
            m->src[t] = (int)x0;
            m->weight[t++] = (uint32_t)(den - f);
            if (f > 0) {
                m->src[t] = (int)x0 + 1;
                m->weight[t++] = (uint32_t)f;
            }
        }
    }
    m->offset[out] = t;
    return 0;
}

/* Resamples HWC `in` (c channels, ih x iw) through the two maps into the
 * CHW planes of `out` (c x oh x ow), at rows oy.., columns ox.. */
static int resample(const uint8_t *in, int c, int ih, int iw, const axis_map *ym,
                    const axis_map *xm, uint8_t *out, int oh, int ow, int oy, int ox)
{
    size_t nw = (size_t)xm->out, cs = (size_t)c;
    uint32_t *rows = malloc((size_t)ih * cs * nw * sizeof *rows);
    uint64_t *acc = malloc(cs * nw * sizeof *acc);
    if (!rows || !acc) {
        free(rows);
        free(acc);
        return -1;
    }
    /* which source rows the vertical pass reads */
    int ylo = ym->src[0], yhi = ym->src[ym->offset[ym->out] - 1];
    for (int y = ylo; y <= yhi; y++) {
        const uint8_t *src = in + (size_t)y * (size_t)iw * cs;
        uint32_t *dst = rows + (size_t)y * cs * nw;      /* [c][j] */
        for (size_t j = 0; j < nw; j++) {
            uint32_t s[4] = {0, 0, 0, 0};
            for (int t = xm->offset[j]; t < xm->offset[j + 1]; t++) {
                const uint8_t *p = src + (size_t)xm->src[t] * cs;
                uint32_t wt = xm->weight[t];
                for (size_t k = 0; k < cs; k++)
                    s[k] += wt * p[k];
            }
            for (size_t k = 0; k < cs; k++)
                dst[k * nw + j] = s[k];
        }
    }
    uint64_t den = (uint64_t)ym->den * xm->den, half = den / 2;
    size_t plane = (size_t)oh * (size_t)ow;
    for (int i = 0; i < ym->out; i++) {
        memset(acc, 0, cs * nw * sizeof *acc);
        for (int t = ym->offset[i]; t < ym->offset[i + 1]; t++) {
            const uint32_t *r = rows + (size_t)ym->src[t] * cs * nw;
            uint64_t wt = ym->weight[t];
            for (size_t q = 0; q < cs * nw; q++)
                acc[q] += wt * r[q];
        }
        for (size_t k = 0; k < cs; k++) {
            uint8_t *o = out + k * plane + (size_t)(oy + i) * (size_t)ow + (size_t)ox;
            for (size_t j = 0; j < nw; j++)
                o[j] = (uint8_t)((acc[k * nw + j] + half) / den);
        }
    }
    free(rows);
    free(acc);
    return 0;
}

/* Resizes HWC `in` into CHW `out` (c x oh x ow, zeroed by the caller for
 * pad) as `fit` says. 0 or -1 (out of memory). */
static int resize(const uint8_t *in, int c, int ih, int iw, nr_image_fit fit, uint8_t *out,
                  int oh, int ow)
{
    int64_t Ay = ih, By = 0, Dy = oh, Ax = iw, Bx = 0, Dx = ow;
    int nh = oh, nw = ow, oy = 0, ox = 0;
    int64_t hw = (int64_t)oh * iw, wh = (int64_t)ow * ih;  /* compare oh/ih with ow/iw */
    if (fit == NR_FIT_CROP && hw != wh) {
        /* scale s = P / Q covers both sides; the other side's window is
         * centred: source [(2 Q i + in P - out Q) / (2 P), ...) */
        int64_t P = hw > wh ? oh : ow, Q = hw > wh ? ih : iw;
        Ay = 2 * Q, Dy = 2 * P, By = (int64_t)ih * P - (int64_t)oh * Q;
        Ax = 2 * Q, Dx = 2 * P, Bx = (int64_t)iw * P - (int64_t)ow * Q;
    } else if (fit == NR_FIT_PAD && hw != wh) {
        if (hw < wh) /* height limits: s = oh / ih */
            nw = (int)((2 * (int64_t)iw * oh + ih) / (2 * (int64_t)ih));
        else
            nh = (int)((2 * (int64_t)ih * ow + iw) / (2 * (int64_t)iw));
        nh = nh < 1 ? 1 : nh;
        nw = nw < 1 ? 1 : nw;
        oy = (oh - nh) / 2;
        ox = (ow - nw) / 2;
        Dy = nh;
        Dx = nw;
    }
    axis_map ym, xm;
    if (axis_build(&ym, ih, nh, Ay, By, Dy) != 0)
        return -1;
    if (axis_build(&xm, iw, nw, Ax, Bx, Dx) != 0) {
        axis_free(&ym);
        return -1;
    }
    int rc = resample(in, c, ih, iw, &ym, &xm, out, oh, ow, oy, ox);
    axis_free(&ym);
    axis_free(&xm);
    return rc;
}

int nr_image_prepare(const uint8_t *stored, int stored_channels, int height, int width,
                     const nr_image_prep *prep, const char *what, uint8_t **out,
                     int *channels, int *out_height, int *out_width, nr_error *err)
{
    if (check_prep(prep, what, err) != 0)
        return -1;
    if (stored_channels < 1 || stored_channels > 4 || height < 1 || width < 1)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot prepare a %dx%dx%d image",
                       what, stored_channels, height, width);
    int oc, oh, ow;
    prepared_shape(stored_channels, height, width, prep, &oc, &oh, &ow);
    size_t n = (size_t)height * (size_t)width;
    int c = stored_channels;
    uint8_t *work = NULL;     /* HWC after steps 1 and 2, when they change anything */
    const uint8_t *px = stored;
    int has_alpha = c == 2 || c == 4;
    int to_gray = oc == 1 && (has_alpha ? c - 1 : c) == 3;
    if (has_alpha || to_gray) {
        work = malloc(n * (size_t)c);
        if (!work)
            return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", what);
    }
    /* 1. alpha: (v a + bg (255 - a)) / 255, rounded (255 is odd: no ties) */
    if (has_alpha) {
        uint32_t bg = prep && prep->alpha == NR_ALPHA_WHITE ? 255u : 0u;
        int nc = c - 1;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = stored + i * (size_t)c;
            uint32_t a = p[nc], back = bg * (255u - a) + 127u;
            for (int k = 0; k < nc; k++)
                work[i * (size_t)nc + (size_t)k] = (uint8_t)((p[k] * a + back) / 255u);
        }
        c = nc;
        px = work;
    }
    /* 2. channels: RGB to luma here; gray to RGB is a copy, done last */
    if (to_gray) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = px + 3 * i;
            work[i] = (uint8_t)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
        }
        c = 1;
        px = work;
    }
    /* 3. size (and HWC to CHW) */
    size_t oplane = (size_t)oh * (size_t)ow;
    uint8_t *res = calloc(oplane * (size_t)oc, 1);
    if (!res) {
        free(work);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory for a %dx%dx%d image",
                       what, oc, oh, ow);
    }
    if (oh == height && ow == width) {
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < c; k++)
                res[(size_t)k * n + i] = px[i * (size_t)c + (size_t)k];
    } else if (resize(px, c, height, width, prep->fit, res, oh, ow) != 0) {
        free(work);
        free(res);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory resizing to %dx%d",
                       what, oh, ow);
    }
    if (c == 1 && oc == 3) {
        memcpy(res + oplane, res, oplane);
        memcpy(res + 2 * oplane, res, oplane);
    }
    free(work);
    *out = res;
    *channels = oc;
    *out_height = oh;
    *out_width = ow;
    return 0;
}

/* ------------------------------------------------------------------ files */

static int decode(const char *path, nr_image_format format, int header_only,
                  nr_stored_image *img, nr_error *err)
{
    switch (format) {
    case NR_IMAGE_PNG:
        return nr_png_decode(path, header_only, img, err);
    case NR_IMAGE_JPEG:
        return nr_jpeg_decode(path, header_only, img, err);
    case NR_IMAGE_NONE:
        break;
    }
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: not an image netrun reads; images are "
                   NR_IMAGE_SUFFIXES " files", path);
}

static int read_as(const char *path, nr_image_format format, const nr_image_prep *prep,
                   uint8_t **pixels, int *channels, int *height, int *width, nr_error *err)
{
    if (check_prep(prep, path, err) != 0)
        return -1;
    nr_stored_image img;
    if (decode(path, format, 0, &img, err) != 0)
        return -1;
    int rc;
    int oc, oh, ow;
    prepared_shape(img.channels, img.height, img.width, prep, &oc, &oh, &ow);
    if (img.channels == 1 && oc == 1 && oh == img.height && ow == img.width) {
        *pixels = img.pixels;     /* gray as stored: HWC is CHW */
        img.pixels = NULL;
        *channels = 1;
        *height = oh;
        *width = ow;
        rc = 0;
    } else {
        rc = nr_image_prepare(img.pixels, img.channels, img.height, img.width, prep, path,
                              pixels, channels, height, width, err);
    }
    free(img.pixels);
    return rc;
}

static int info_as(const char *path, nr_image_format format, const nr_image_prep *prep,
                   int *channels, int *height, int *width, nr_error *err)
{
    if (check_prep(prep, path, err) != 0)
        return -1;
    nr_stored_image img;
    if (decode(path, format, 1, &img, err) != 0)
        return -1;
    prepared_shape(img.channels, img.height, img.width, prep, channels, height, width);
    return 0;
}

int nr_image_read(const char *path, const nr_image_prep *prep, uint8_t **pixels,
                  int *channels, int *height, int *width, nr_error *err)
{
    return read_as(path, nr_image_format_of(path), prep, pixels, channels, height, width,
                   err);
}

int nr_image_info(const char *path, const nr_image_prep *prep, int *channels, int *height,
                  int *width, nr_error *err)
{
    return info_as(path, nr_image_format_of(path), prep, channels, height, width, err);
}

int nr_png_read(const char *path, uint8_t **pixels, int *channels, int *height, int *width,
                nr_error *err)
{
    return read_as(path, NR_IMAGE_PNG, NULL, pixels, channels, height, width, err);
}

int nr_png_info(const char *path, int *channels, int *height, int *width, nr_error *err)
{
    return info_as(path, NR_IMAGE_PNG, NULL, channels, height, width, err);
}
