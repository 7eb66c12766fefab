/* tests/test_image.c - netrun/image.h: formats by name, each preparation
 * step (alpha, channels, area averaging, bilinear growing, crop and pad
 * geometry) against references computed here (by hand or in doubles from
 * the header's definitions), JPEG decoding of files written here with
 * libjpeg, and the refusals of corrupt, truncated and forged JPEGs. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "netrun/image.h"

static char g_dir[256];

static void setup_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/netrun-test-image-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown_dir(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* the prepared CHW image of HWC `in`; fails the test on an error */
static uint8_t *prepare(const uint8_t *in, int c, int h, int w, const nr_image_prep *prep,
                        int want_c, int want_h, int want_w)
{
    uint8_t *out = NULL;
    int oc = 0, oh = 0, ow = 0;
    nr_error err = {0};
    ck_assert_msg(nr_image_prepare(in, c, h, w, prep, "test", &out, &oc, &oh, &ow, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(oc, want_c);
    ck_assert_int_eq(oh, want_h);
    ck_assert_int_eq(ow, want_w);
    return out;
}

/* nearest integer, halves up, of a value known to within 1e-9 */
static int round_half_up(double v)
{
    return (int)floor(v + 0.5 + 1e-9);
}

static uint64_t g_rng = 88172645463325252ull;
static unsigned next_byte(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (unsigned)(g_rng >> 24) & 255u;
}

START_TEST(format_by_suffix)
{
    ck_assert_int_eq(nr_image_format_of("a/b.png"), NR_IMAGE_PNG);
    ck_assert_int_eq(nr_image_format_of("b.PnG"), NR_IMAGE_PNG);
    ck_assert_int_eq(nr_image_format_of("x.jpg"), NR_IMAGE_JPEG);
    ck_assert_int_eq(nr_image_format_of("dir.png/x.JPEG"), NR_IMAGE_JPEG);
    ck_assert_int_eq(nr_image_format_of("x.Jpeg"), NR_IMAGE_JPEG);
    ck_assert_int_eq(nr_image_format_of(".jpg"), NR_IMAGE_NONE);
    ck_assert_int_eq(nr_image_format_of("d/.jpeg"), NR_IMAGE_NONE);
    ck_assert_int_eq(nr_image_format_of("x.jpgx"), NR_IMAGE_NONE);
    ck_assert_int_eq(nr_image_format_of("x.jpe"), NR_IMAGE_NONE);
    ck_assert_int_eq(nr_image_format_of("x.gif"), NR_IMAGE_NONE);
    nr_error err = {0};
    uint8_t *px = NULL;
    int c, h, w;
    ck_assert_int_eq(nr_image_read("some/file.gif", NULL, &px, &c, &h, &w, &err), -1);
    ck_assert_str_eq(err.message, "some/file.gif: error: not an image netrun reads; images "
                                  "are .png, .jpg or .jpeg files");
}
END_TEST

START_TEST(luma_and_gray_to_rgb)
{
    enum { N = 1000 };
    uint8_t *rgb = malloc(3 * N);
    for (int i = 0; i < 3 * N; i++)
        rgb[i] = (uint8_t)next_byte();
    rgb[0] = 255, rgb[1] = 255, rgb[2] = 255;   /* white stays 255 */
    nr_image_prep to_gray = {.channels = 1};
    uint8_t *gray = prepare(rgb, 3, 1, N, &to_gray, 1, 1, N);
    for (int i = 0; i < N; i++) {
        double y = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
        ck_assert_msg(gray[i] == round_half_up(y), "pixel %d: %u, want round(%f)", i, gray[i],
                      y);
    }
    ck_assert_uint_eq(gray[0], 255);
    /* gray to RGB: three copies */
    nr_image_prep to_rgb = {.channels = 3};
    uint8_t *back = prepare(gray, 1, 1, N, &to_rgb, 3, 1, N);
    for (int c = 0; c < 3; c++)
        ck_assert_mem_eq(back + c * N, gray, N);
    /* as stored: RGB HWC becomes CHW */
    uint8_t *chw = prepare(rgb, 3, 1, N, NULL, 3, 1, N);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            ck_assert_uint_eq(chw[c * N + i], rgb[3 * i + c]);
    free(rgb);
    free(gray);
    free(back);
    free(chw);
}
END_TEST

START_TEST(alpha_on_black_and_white)
{
    /* RGBA: opaque, transparent, half, a quarter */
    const uint8_t rgba[16] = {10, 20, 30, 255, 10, 20, 30, 0, 200, 100, 50, 128, 255, 0, 9, 64};
    for (int white = 0; white <= 1; white++) {
        nr_image_prep prep = {.alpha = white ? NR_ALPHA_WHITE : NR_ALPHA_BLACK};
        uint8_t *out = prepare(rgba, 4, 2, 2, &prep, 3, 2, 2);
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 3; c++) {
                double a = rgba[4 * i + 3] / 255.0;
                double want = rgba[4 * i + c] * a + (white ? 255.0 : 0.0) * (1 - a);
                ck_assert_msg(out[c * 4 + i] == round_half_up(want), "%s pixel %d.%d: %u, "
                              "want %f", white ? "white" : "black", i, c, out[c * 4 + i], want);
            }
        ck_assert_uint_eq(out[1], white ? 255 : 0);    /* transparent: the background */
        ck_assert_uint_eq(out[0], 10);                 /* opaque: as it is */
        free(out);
    }
    /* gray+alpha, then to RGB: compositing comes first */
    const uint8_t ga[4] = {100, 51, 7, 128};
    nr_image_prep rgb_white = {.channels = 3, .alpha = NR_ALPHA_WHITE};
    uint8_t *out = prepare(ga, 2, 1, 2, &rgb_white, 3, 1, 2);
    int want0 = round_half_up(100 * 51 / 255.0 + 255 * (204 / 255.0));
    int want1 = round_half_up(7 * 128 / 255.0 + 255 * (127 / 255.0));
    for (int c = 0; c < 3; c++) {
        ck_assert_int_eq(out[c * 2], want0);
        ck_assert_int_eq(out[c * 2 + 1], want1);
    }
    free(out);
}
END_TEST

START_TEST(area_average_by_hand)
{
    /* 4x4 gray to 2x2: each output is the mean of a 2x2 block */
    uint8_t in[16];
    for (int i = 0; i < 16; i++)
        in[i] = (uint8_t)next_byte();
    in[0] = 1, in[1] = 2, in[4] = 2, in[5] = 1;   /* mean 1.5: rounds up to 2 */
    nr_image_prep prep = {.height = 2, .width = 2};
    uint8_t *out = prepare(in, 1, 4, 4, &prep, 1, 2, 2);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) {
            int s = in[8 * y + 2 * x] + in[8 * y + 2 * x + 1] + in[8 * y + 4 + 2 * x] +
                    in[8 * y + 4 + 2 * x + 1];
            ck_assert_int_eq(out[2 * y + x], (s + 2) / 4);
        }
    ck_assert_uint_eq(out[0], 2);
    free(out);
    /* 1x3 to 1x2: output 0 covers pixel 0 and half of pixel 1 */
    const uint8_t row[3] = {90, 30, 240};
    nr_image_prep to12 = {.height = 1, .width = 2};
    uint8_t *o2 = prepare(row, 1, 1, 3, &to12, 1, 1, 2);
    ck_assert_int_eq(o2[0], round_half_up((90 + 0.5 * 30) / 1.5));    /* 70 */
    ck_assert_int_eq(o2[1], round_half_up((0.5 * 30 + 240) / 1.5));   /* 170 */
    free(o2);
}
END_TEST

START_TEST(bilinear_by_hand)
{
    /* 2x2 to 3x3, centres aligned: source positions -1/6 (clamped to 0),
     * 1/2 and 7/6 (clamped to 1) on each axis: the corners stay, the edge
     * middles average two, the centre four */
    const uint8_t in[4] = {10, 200, 61, 90};
    nr_image_prep prep = {.height = 3, .width = 3};
    uint8_t *out = prepare(in, 1, 2, 2, &prep, 1, 3, 3);
    const int want[9] = {10, round_half_up((10 + 200) / 2.0), 200,
                         round_half_up((10 + 61) / 2.0), round_half_up((10 + 200 + 61 + 90) / 4.0),
                         round_half_up((200 + 90) / 2.0),
                         61, round_half_up((61 + 90) / 2.0), 90};
    for (int i = 0; i < 9; i++)
        ck_assert_msg(out[i] == want[i], "pixel %d: %u, want %d", i, out[i], want[i]);
    free(out);
    /* 1x2 to 1x4: positions -1/4, 1/4, 3/4, 5/4 */
    const uint8_t two[2] = {0, 200};
    nr_image_prep to14 = {.height = 1, .width = 4};
    out = prepare(two, 1, 1, 2, &to14, 1, 1, 4);
    ck_assert_int_eq(out[0], 0);
    ck_assert_int_eq(out[1], 50);
    ck_assert_int_eq(out[2], 150);
    ck_assert_int_eq(out[3], 200);
    free(out);
}
END_TEST

/* In doubles, from the header's definitions: output pixel i of an axis
 * scaled from `in` to `out` over the source window [off, off + len): its
 * interval when shrinking, its centre when growing. The weights of source
 * pixels 0..in-1 go to wt. */
static void ref_weights(int in, int out, double off, double len, int i, double *wt)
{
    for (int k = 0; k < in; k++)
        wt[k] = 0;
    double step = len / out;
    if (step >= 1.0) {
        double lo = off + i * step, hi = lo + step;
        for (int k = 0; k < in; k++) {
            double a = fmax(lo, k), b = fmin(hi, k + 1.0);
            if (b > a)
                wt[k] = (b - a) / step;
        }
    } else {
        double x = off + (i + 0.5) * step - 0.5;
        if (x <= 0) {
            wt[0] = 1;
        } else if (x >= in - 1) {
            wt[in - 1] = 1;
        } else {
            int x0 = (int)floor(x);
            wt[x0] = 1 - (x - x0);
            wt[x0 + 1] = x - x0;
        }
    }
}

/* the reference of one channel, as doubles: (ih x iw) -> (oh x ow) over the
 * source window rows [y_off, y_off + y_len), columns [x_off, ...) */
static void ref_resize(const uint8_t *in, int c, int ch, int ih, int iw, int oh, int ow,
                       double y_off, double y_len, double x_off, double x_len, double *out)
{
    double *wy = malloc((size_t)ih * sizeof *wy), *wx = malloc((size_t)iw * sizeof *wx);
    for (int i = 0; i < oh; i++) {
        ref_weights(ih, oh, y_off, y_len, i, wy);
        for (int j = 0; j < ow; j++) {
            ref_weights(iw, ow, x_off, x_len, j, wx);
            double s = 0;
            for (int y = 0; y < ih; y++)
                for (int x = 0; x < iw; x++)
                    s += wy[y] * wx[x] * in[((size_t)y * iw + x) * c + ch];
            out[i * ow + j] = s;
        }
    }
    free(wy);
    free(wx);
}

/* prepared[i] must be the reference rounded (halves up); near a half
 * (within 1e-6) either neighbour is accepted */
static void assert_rounded(const uint8_t *got, const double *ref, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double f = ref[i] - floor(ref[i]);
        int ok = got[i] == round_half_up(ref[i]) ||
                 (fabs(f - 0.5) < 1e-6 && (got[i] == (int)floor(ref[i]) ||
                                           got[i] == (int)floor(ref[i]) + 1));
        ck_assert_msg(ok, "%s: pixel %zu is %u, reference %.9f", what, i, got[i], ref[i]);
    }
}

START_TEST(stretch_matches_the_definition)
{
    /* shrinking, growing, and one of each, on RGB images with odd ratios */
    static const int cases[][4] = {{37, 53, 11, 7}, {5, 7, 13, 17}, {20, 5, 7, 11},
                                   {6, 9, 6, 4}, {1, 1, 3, 2}, {31, 1, 2, 5}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int ih = cases[t][0], iw = cases[t][1], oh = cases[t][2], ow = cases[t][3];
        size_t n = (size_t)ih * iw * 3;
        uint8_t *in = malloc(n);
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)next_byte();
        nr_image_prep prep = {.height = oh, .width = ow};
        uint8_t *out = prepare(in, 3, ih, iw, &prep, 3, oh, ow);
        double *ref = malloc((size_t)oh * ow * sizeof *ref);
        char what[64];
        for (int c = 0; c < 3; c++) {
            ref_resize(in, 3, c, ih, iw, oh, ow, 0, ih, 0, iw, ref);
            snprintf(what, sizeof what, "%dx%d -> %dx%d channel %d", ih, iw, oh, ow, c);
            assert_rounded(out + (size_t)c * oh * ow, ref, (size_t)oh * ow, what);
        }
        free(in);
        free(out);
        free(ref);
    }
}
END_TEST

START_TEST(crop_and_pad_geometry)
{
    /* 4x8 -> 4x4 crop: scale 1, the centre columns 2..5 as they are */
    uint8_t in[64];
    for (int i = 0; i < 64; i++)
        in[i] = (uint8_t)(i * 3 + 1);
    nr_image_prep crop = {.height = 4, .width = 4, .fit = NR_FIT_CROP};
    uint8_t *out = prepare(in, 1, 4, 8, &crop, 1, 4, 4);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            ck_assert_uint_eq(out[4 * y + x], in[8 * y + 2 + x]);
    free(out);
    /* 8x4 (tall) -> 4x4 crop: rows 2..5 */
    out = prepare(in, 1, 8, 4, &crop, 1, 4, 4);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            ck_assert_uint_eq(out[4 * y + x], in[4 * (y + 2) + x]);
    free(out);
    /* 4x6 -> 2x2 crop: scale 1/2 covers (2x3), the window is columns 1..4:
     * output (i, j) averages rows 2i..2i+1, columns 1+2j..2+2j */
    nr_image_prep crop22 = {.height = 2, .width = 2, .fit = NR_FIT_CROP};
    out = prepare(in, 1, 4, 6, &crop22, 1, 2, 2);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            int s = in[6 * 2 * i + 1 + 2 * j] + in[6 * 2 * i + 2 + 2 * j] +
                    in[6 * (2 * i + 1) + 1 + 2 * j] + in[6 * (2 * i + 1) + 2 + 2 * j];
            ck_assert_int_eq(out[2 * i + j], (s + 2) / 4);
        }
    free(out);
    /* 5x9 RGB -> 4x3 crop against the reference: cover scale 4/5, the
     * window is 3.75 source columns wide, centred at 4.5 */
    uint8_t rgb[5 * 9 * 3];
    for (int i = 0; i < 5 * 9 * 3; i++)
        rgb[i] = (uint8_t)next_byte();
    nr_image_prep crop43 = {.height = 4, .width = 3, .fit = NR_FIT_CROP};
    out = prepare(rgb, 3, 5, 9, &crop43, 3, 4, 3);
    double ref[12];
    for (int c = 0; c < 3; c++) {
        ref_resize(rgb, 3, c, 5, 9, 4, 3, 0, 5, (9 - 3.75) / 2, 3.75, ref);
        assert_rounded(out + c * 12, ref, 12, "5x9 -> 4x3 crop");
    }
    free(out);
    /* ... and growing: 3x2 -> 6x6 crop: scale 3, the window 2 rows of 3,
     * centred: rows [0.5, 2.5) */
    out = prepare(rgb, 3, 3, 2, &(nr_image_prep){.height = 6, .width = 6, .fit = NR_FIT_CROP},
                  3, 6, 6);
    double ref36[36];
    for (int c = 0; c < 3; c++) {
        ref_resize(rgb, 3, c, 3, 2, 6, 6, 0.5, 2, 0, 2, ref36);
        assert_rounded(out + c * 36, ref36, 36, "3x2 -> 6x6 crop");
    }
    free(out);

    /* 2x4 -> 4x4 pad: scale 1, rows 1 and 2 as they are, rows 0 and 3 black */
    nr_image_prep pad = {.height = 4, .width = 4, .fit = NR_FIT_PAD};
    out = prepare(in, 1, 2, 4, &pad, 1, 4, 4);
    for (int x = 0; x < 4; x++) {
        ck_assert_uint_eq(out[x], 0);
        ck_assert_uint_eq(out[4 + x], in[x]);
        ck_assert_uint_eq(out[8 + x], in[4 + x]);
        ck_assert_uint_eq(out[12 + x], 0);
    }
    free(out);
    /* 4x2 -> 2x2 pad: scale 1/2, content 2x1 in column 0 (the odd border
     * column on the right), each the mean of a 2x2 block */
    nr_image_prep pad22 = {.height = 2, .width = 2, .fit = NR_FIT_PAD};
    out = prepare(in, 1, 4, 2, &pad22, 1, 2, 2);
    for (int i = 0; i < 2; i++) {
        int s = in[4 * i] + in[4 * i + 1] + in[4 * i + 2] + in[4 * i + 3];
        ck_assert_int_eq(out[2 * i], (s + 2) / 4);
        ck_assert_int_eq(out[2 * i + 1], 0);
    }
    free(out);
    /* 3x7 RGB -> 6x6 pad: scale 6/7, content round(3 * 6 / 7) = 3 rows
     * (2.57), at rows 1..3; columns stretched 7 -> 6 */
    out = prepare(rgb, 3, 3, 7, &(nr_image_prep){.height = 6, .width = 6, .fit = NR_FIT_PAD},
                  3, 6, 6);
    double ref37[18];
    for (int c = 0; c < 3; c++) {
        ref_resize(rgb, 3, c, 3, 7, 3, 6, 0, 3, 0, 7, ref37);
        const uint8_t *plane = out + c * 36;
        assert_rounded(plane + 6, ref37, 18, "3x7 -> 6x6 pad content");
        for (int x = 0; x < 6; x++) {
            ck_assert_uint_eq(plane[x], 0);
            ck_assert_uint_eq(plane[24 + x], 0);
            ck_assert_uint_eq(plane[30 + x], 0);
        }
    }
    free(out);
}
END_TEST

START_TEST(bad_prep_refused)
{
    uint8_t px[4] = {0};
    uint8_t *out = NULL;
    int c, h, w;
    nr_error err = {0};
    nr_image_prep two = {.channels = 2};
    ck_assert_int_eq(nr_image_prepare(px, 1, 2, 2, &two, "x.png", &out, &c, &h, &w, &err), -1);
    ck_assert_msg(strstr(err.message, "x.png: error: cannot convert to 2 channels"), "%s",
                  err.message);
    nr_image_prep half = {.height = 3};
    ck_assert_int_eq(nr_image_prepare(px, 1, 2, 2, &half, "x.png", &out, &c, &h, &w, &err), -1);
    ck_assert_msg(strstr(err.message, "cannot resize to 3x0"), "%s", err.message);
    nr_image_prep big = {.height = NR_IMAGE_MAX_SIDE + 1, .width = 1};
    ck_assert_int_eq(nr_image_prepare(px, 1, 2, 2, &big, "x.png", &out, &c, &h, &w, &err), -1);
    ck_assert_ptr_null(out);
}
END_TEST

/* ------------------------------------------------------------------ JPEG */

/* writes HWC pixels as a baseline JPEG with libjpeg directly (not through
 * netrun), quality q */
static void write_jpeg(const char *path, const uint8_t *hwc, int c, int h, int w, int q)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, q, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(hwc + (size_t)y * w * c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    ck_assert_int_eq(fclose(f), 0);
}

/* a smooth pattern (JPEG keeps it well) */
static uint8_t *smooth(int c, int h, int w)
{
    uint8_t *px = malloc((size_t)c * h * w);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                px[((size_t)y * w + x) * c + k] =
                    (uint8_t)(40 + 60 * k + (150 - 60 * k) * (x + y) / (w + h));
    return px;
}

static void read_ok(const char *path, const nr_image_prep *prep, uint8_t **px, int *c, int *h,
                    int *w)
{
    nr_error err = {0};
    ck_assert_msg(nr_image_read(path, prep, px, c, h, w, &err) == 0, "%s", err.message);
    int ic, ih, iw;
    ck_assert_msg(nr_image_info(path, prep, &ic, &ih, &iw, &err) == 0, "%s", err.message);
    ck_assert_int_eq(ic, *c);
    ck_assert_int_eq(ih, *h);
    ck_assert_int_eq(iw, *w);
}

START_TEST(jpeg_decodes_what_libjpeg_wrote)
{
    for (int c = 1; c <= 3; c += 2) {
        int h = 20, w = 28;
        uint8_t *src = smooth(c, h, w);
        char path[320];
        snprintf(path, sizeof path, "%s/img%d.JPG", g_dir, c);
        write_jpeg(path, src, c, h, w, 95);
        uint8_t *px;
        int oc, oh, ow;
        read_ok(path, NULL, &px, &oc, &oh, &ow);
        ck_assert_int_eq(oc, c);
        ck_assert_int_eq(oh, h);
        ck_assert_int_eq(ow, w);
        int worst = 0;
        double sum = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++) {
                    int d = abs(px[(size_t)k * h * w + (size_t)y * w + x] -
                                src[((size_t)y * w + x) * c + k]);
                    worst = d > worst ? d : worst;
                    sum += d;
                }
        ck_assert_msg(worst <= 8 && sum / (c * h * w) < 2.0,
                      "%d channels: worst difference %d, mean %f", c, worst, sum / (c * h * w));
        /* prepared from the file = prepared from its stored pixels */
        nr_image_prep prep = {.channels = 1, .height = 7, .width = 9, .fit = NR_FIT_CROP};
        uint8_t *prepared;
        int pc, ph, pw;
        read_ok(path, &prep, &prepared, &pc, &ph, &pw);
        uint8_t *hwc = malloc((size_t)c * h * w);
        for (int i = 0; i < h * w; i++)
            for (int k = 0; k < c; k++)
                hwc[(size_t)i * c + k] = px[(size_t)k * h * w + i];
        uint8_t *again = prepare(hwc, c, h, w, &prep, 1, 7, 9);
        ck_assert_mem_eq(prepared, again, 63);
        free(again);
        free(hwc);
        free(prepared);
        free(px);
        free(src);
    }
}
END_TEST

static long file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

static unsigned char *slurp(const char *path, long *n)
{
    *n = file_size(path);
    unsigned char *b = malloc((size_t)*n);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fread(b, 1, (size_t)*n, f), *n);
    fclose(f);
    return b;
}

static void spill(const char *path, const unsigned char *b, long n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(b, 1, (size_t)n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* reading PATH fails (and so does its header, when in_header) with a
 * message starting "PATH: error: " and containing WHAT */
static void refused(const char *path, const char *what, int in_header)
{
    nr_error err = {0};
    uint8_t *px = (uint8_t *)(uintptr_t)0x1;
    int c, h, w;
    ck_assert_int_eq(nr_image_read(path, NULL, &px, &c, &h, &w, &err), -1);
    ck_assert_ptr_eq(px, (uint8_t *)(uintptr_t)0x1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strncmp(err.message, path, strlen(path)) == 0 &&
                      strncmp(err.message + strlen(path), ": error: ", 9) == 0,
                  "%s", err.message);
    ck_assert_msg(strstr(err.message, what), "'%s' lacks '%s'", err.message, what);
    ck_assert_ptr_null(strchr(err.message, '\n'));
    memset(&err, 0, sizeof err);
    int info_rc = nr_image_info(path, NULL, &c, &h, &w, &err);
    ck_assert_msg(info_rc == (in_header ? -1 : 0), "info of %s: %d (%s)", path, info_rc, err.message);
    if (in_header)
        ck_assert_msg(strstr(err.message, what), "info: '%s' lacks '%s'", err.message, what);
}

/* the offset of the SOF0 marker's height field */
static long sof_dims(const unsigned char *b, long n)
{
    for (long i = 2; i + 8 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0)
            return i + 5;
    ck_abort_msg("no SOF0 marker");
    return -1;
}

START_TEST(bad_jpegs_refused_with_the_file_named)
{
    int h = 48, w = 64;
    uint8_t *src = smooth(3, h, w);
    for (int i = 0; i < h * w * 3; i++)
        src[i] = (uint8_t)(src[i] ^ (next_byte() & 31));   /* some detail to code */
    char good[320], p[320];
    snprintf(good, sizeof good, "%s/good.jpg", g_dir);
    write_jpeg(good, src, 3, h, w, 90);
    free(src);
    long n;
    unsigned char *b = slurp(good, &n);

    /* truncated: the second half cut off (libjpeg would pad it with gray) */
    snprintf(p, sizeof p, "%s/truncated.jpg", g_dir);
    spill(p, b, n / 2);
    refused(p, "truncated JPEG (premature end of file)", 0);
    /* only the end-of-image marker missing */
    snprintf(p, sizeof p, "%s/no-eoi.jpeg", g_dir);
    spill(p, b, n - 2);
    refused(p, "truncated JPEG", 0);

    /* corrupt entropy-coded data: a run of 0xFF in the middle of the scan */
    unsigned char *c = malloc((size_t)n);
    memcpy(c, b, (size_t)n);
    for (long i = n * 2 / 3; i < n * 2 / 3 + 12; i++)
        c[i] = 0xFF;
    snprintf(p, sizeof p, "%s/corrupt.jpg", g_dir);
    spill(p, c, n);
    refused(p, "corrupt JPEG (libjpeg: Corrupt JPEG data", 0);

    /* the header only */
    snprintf(p, sizeof p, "%s/header.jpg", g_dir);
    spill(p, b, sof_dims(b, n) + 20);
    refused(p, "truncated JPEG (premature end of file)", 1);

    /* forged sizes: over the limit, and more pixels than the file holds */
    memcpy(c, b, (size_t)n);
    long d = sof_dims(c, n);
    c[d] = 0x4E, c[d + 1] = 0x20, c[d + 2] = 0x00, c[d + 3] = 0x10;   /* 20000 x 16 */
    snprintf(p, sizeof p, "%s/tall.jpg", g_dir);
    spill(p, c, n);
    refused(p, "image is 16x20000 (width x height), larger than the 16384x16384 limit", 1);
    c[d] = 0x3E, c[d + 1] = 0x80, c[d + 2] = 0x3E, c[d + 3] = 0x80;   /* 16000 x 16000 */
    snprintf(p, sizeof p, "%s/bomb.jpg", g_dir);
    spill(p, c, n);
    refused(p, "truncated JPEG: the header says 16000x16000 pixels, which cannot fit", 1);

    /* not JPEGs at all */
    snprintf(p, sizeof p, "%s/text.jpg", g_dir);
    spill(p, (const unsigned char *)"hello", 5);
    refused(p, "not a JPEG file", 1);
    snprintf(p, sizeof p, "%s/empty.jpeg", g_dir);
    spill(p, b, 0);
    refused(p, "empty file", 1);
    snprintf(p, sizeof p, "%s/png.jpg", g_dir);   /* a PNG's bytes under a JPEG name */
    uint8_t one = 7;
    nr_error err = {0};
    char png[320];
    snprintf(png, sizeof png, "%s/one.png", g_dir);
    ck_assert_msg(nr_png_write(png, &one, 1, 1, 1, &err) == 0, "%s", err.message);
    ck_assert_int_eq(rename(png, p), 0);
    refused(p, "not a JPEG file", 1);
    snprintf(p, sizeof p, "%s/missing.jpg", g_dir);
    refused(p, "cannot open", 1);

    /* the good file still reads */
    uint8_t *px;
    int oc, oh, ow;
    read_ok(good, NULL, &px, &oc, &oh, &ow);
    ck_assert_int_eq(oh, h);
    free(px);
    free(c);
    free(b);
}
END_TEST

START_TEST(jpeg_written_by_netrun_reads_back)
{
    int h = 16, w = 24;
    uint8_t *hwc = smooth(3, h, w);
    uint8_t *chw = malloc((size_t)3 * h * w);
    for (int i = 0; i < h * w; i++)
        for (int k = 0; k < 3; k++)
            chw[k * h * w + i] = hwc[i * 3 + k];
    char p[320];
    snprintf(p, sizeof p, "%s/w.jpg", g_dir);
    nr_error err = {0};
    ck_assert_msg(nr_jpeg_write(p, chw, 3, h, w, 95, &err) == 0, "%s", err.message);
    uint8_t *px;
    int c, oh, ow;
    read_ok(p, NULL, &px, &c, &oh, &ow);
    ck_assert_int_eq(c, 3);
    for (int i = 0; i < 3 * h * w; i++)
        ck_assert_msg(abs(px[i] - chw[i]) <= 8, "byte %d: %u vs %u", i, px[i], chw[i]);
    ck_assert_int_eq(nr_jpeg_write(p, chw, 2, h, w, 95, &err), -1);
    free(px);
    free(chw);
    free(hwc);
}
END_TEST

static Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
    tcase_add_test(tc, format_by_suffix);
    tcase_add_test(tc, luma_and_gray_to_rgb);
    tcase_add_test(tc, alpha_on_black_and_white);
    tcase_add_test(tc, area_average_by_hand);
    tcase_add_test(tc, bilinear_by_hand);
    tcase_add_test(tc, stretch_matches_the_definition);
    tcase_add_test(tc, crop_and_pad_geometry);
    tcase_add_test(tc, bad_prep_refused);
    tcase_add_test(tc, jpeg_decodes_what_libjpeg_wrote);
    tcase_add_test(tc, bad_jpegs_refused_with_the_file_named);
    tcase_add_test(tc, jpeg_written_by_netrun_reads_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(image_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
