/* test_augment.c - Check tests for netrun/augment.h.
 *
 * - shape / full write: outputs pre-filled with NaN, every transform and
 *   sizes from 1x1 to RGB, all finite and in [0, 1]; workspace canaries;
 * - identity at zero strength and p = 0 (exact), and the number of random
 *   numbers consumed then (exactly the five decision draws);
 * - determinism per rng state and per-sample streams (nr_augment_rng);
 * - exact geometry through nr_augment_affine: integer shifts, 90-degree
 *   rotations (direction: counter-clockwise as displayed), 2x and 0.5x zoom;
 * - the random parameters stay in their ranges (shift offsets, angles,
 *   zoom factors) and every shift offset occurs;
 * - elastic: changes a blob, keeps its mass and centre of mass;
 * - noise: mean ~ 0, std ~ noise_std, clamping; decision probabilities;
 * - RGB: one geometric transform for all channels.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/augment.h"

/* ------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------ */

#define CANARY 8

static float *falloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static uint8_t *balloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

static void fill_random_u8(uint8_t *x, size_t n, uint64_t seed)
{
    nr_rng r;
    nr_rng_seed(&r, seed, 99);
    for (size_t i = 0; i < n; i++)
        x[i] = (uint8_t)nr_rng_below(&r, 256);
}

/* 0 unless every element is finite and within [0, 1] */
static int all_in_unit(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || x[i] < 0.0f || x[i] > 1.0f)
            return 0;
    return 1;
}

static int is_identity(const uint8_t *in, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] != (float)in[i] / 255.0f)
            return 0;
    return 1;
}

/* workspace of exactly the advertised size plus a canary tail */
static float *ws_alloc(int c, int h, int w)
{
    size_t n = nr_augment_workspace_floats(c, h, w);
    float *ws = falloc(n + CANARY);
    for (size_t i = 0; i < n + CANARY; i++)
        ws[i] = -12345.0f;
    return ws;
}

static void ws_check_free(float *ws, int c, int h, int w)
{
    size_t n = nr_augment_workspace_floats(c, h, w);
    for (size_t i = n; i < n + CANARY; i++)
        ck_assert_msg(ws[i] == -12345.0f, "workspace overrun at %zu", i);
    free(ws);
}

static void run(const nr_augment_config *cfg, const uint8_t *in, int c, int h,
                int w, float *out, uint64_t seed)
{
    float *ws = ws_alloc(c, h, w);
    nr_rng r;
    nr_rng_seed(&r, seed, NR_RNG_STREAM_AUGMENT);
    nr_augment_image(cfg, in, c, h, w, out, ws, &r);
    ws_check_free(ws, c, h, w);
}

static nr_augment_config cfg_none(void)
{
    nr_augment_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.scale_min = 1.0f;
    cfg.scale_max = 1.0f;
    cfg.elastic_sigma = 4.0f;
    return cfg;
}

/* every transform on, p = 1 */
static nr_augment_config cfg_all(void)
{
    nr_augment_config cfg = cfg_none();
    cfg.shift_p = 1.0f;   cfg.shift_pixels = 2;
    cfg.rotate_p = 1.0f;  cfg.rotate_degrees = 15.0f;
    cfg.scale_p = 1.0f;   cfg.scale_min = 0.9f; cfg.scale_max = 1.1f;
    cfg.elastic_p = 1.0f; cfg.elastic_alpha = 34.0f; cfg.elastic_sigma = 4.0f;
    cfg.noise_p = 1.0f;   cfg.noise_std = 0.05f;
    return cfg;
}

/* the single-transform configs used by several tests */
enum { T_SHIFT, T_ROTATE, T_SCALE, T_ELASTIC, T_NOISE, T_ALL, T_COUNT };

static nr_augment_config cfg_one(int which)
{
    nr_augment_config all = cfg_all(), cfg = cfg_none();
    switch (which) {
    case T_SHIFT:   cfg.shift_p = 1; cfg.shift_pixels = all.shift_pixels; break;
    case T_ROTATE:  cfg.rotate_p = 1; cfg.rotate_degrees = all.rotate_degrees; break;
    case T_SCALE:   cfg.scale_p = 1; cfg.scale_min = all.scale_min;
                    cfg.scale_max = all.scale_max; break;
    case T_ELASTIC: cfg.elastic_p = 1; cfg.elastic_alpha = all.elastic_alpha;
                    cfg.elastic_sigma = all.elastic_sigma; break;
    case T_NOISE:   cfg.noise_p = 1; cfg.noise_std = all.noise_std; break;
    default:        cfg = all; break;
    }
    return cfg;
}

/* sum and centre of mass of one [h, w] plane */
static void mass_com(const float *x, int h, int w, double *mass, double *cx,
                     double *cy)
{
    double m = 0, sx = 0, sy = 0;
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            double v = x[y * w + xx];
            m += v;
            sx += v * xx;
            sy += v * y;
        }
    *mass = m;
    *cx = m > 0 ? sx / m : 0;
    *cy = m > 0 ? sy / m : 0;
}

/* a Gaussian blob of std s at (bx, by), peak 255 */
static void blob(uint8_t *img, int h, int w, double bx, double by, double s)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double d2 = (x - bx) * (x - bx) + (y - by) * (y - by);
            img[y * w + x] = (uint8_t)lround(255.0 * exp(-0.5 * d2 / (s * s)));
        }
}

/* ------------------------------------------------------------------------
 * config
 * ------------------------------------------------------------------------ */

START_TEST(test_config_check)
{
    nr_augment_config zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_ptr_null(nr_augment_config_check(&zero));
    ck_assert(!nr_augment_active(&zero));
    nr_augment_config ok = cfg_all();
    ck_assert_ptr_null(nr_augment_config_check(&ok));
    ck_assert(nr_augment_active(&ok));

    nr_augment_config bad;
    bad = ok; bad.shift_p = 1.5f;        ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.rotate_p = NAN;        ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.noise_p = -0.1f;       ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.shift_pixels = -1;     ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.rotate_degrees = -5;   ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.rotate_degrees = INFINITY; ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.scale_min = 0.0f;      ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.scale_max = 0.5f;      ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.elastic_alpha = NAN;   ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.elastic_sigma = -1;    ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    bad = ok; bad.noise_std = -0.01f;    ck_assert_ptr_nonnull(nr_augment_config_check(&bad));
    /* the scale range is only checked when scale can apply */
    bad = ok; bad.scale_p = 0; bad.scale_min = 0; bad.scale_max = 0;
    ck_assert_ptr_null(nr_augment_config_check(&bad));

    /* active: p > 0 and strength > 0, per transform */
    for (int t = 0; t < T_ALL; t++) {
        nr_augment_config c1 = cfg_one(t);
        ck_assert_msg(nr_augment_active(&c1), "transform %d", t);
    }
    nr_augment_config c2 = cfg_all();
    c2.shift_p = c2.rotate_p = c2.scale_p = c2.elastic_p = c2.noise_p = 0;
    ck_assert(!nr_augment_active(&c2));
    c2 = cfg_all();
    c2.shift_pixels = 0; c2.rotate_degrees = 0; c2.scale_min = c2.scale_max = 1;
    c2.elastic_alpha = 0; c2.noise_std = 0;
    ck_assert(!nr_augment_active(&c2));
    c2.scale_min = c2.scale_max = 0.9f;    /* a fixed zoom is a transform */
    ck_assert(nr_augment_active(&c2));

    ck_assert_uint_eq(nr_augment_elastic_workspace_floats(28, 28), 28 + 86 + 82 * 32);
    ck_assert_uint_eq(nr_augment_workspace_floats(1, 28, 28), 2 * 784 + 28 + 86 + 82 * 32);
    ck_assert_uint_eq(nr_augment_workspace_floats(3, 5, 9),
                      2 * 45 + nr_augment_elastic_workspace_floats(5, 9));
    ck_assert_uint_eq(nr_augment_elastic_workspace_floats(5, 9), 9 + (16 + 16) + (5 + 16) * 16);
}
END_TEST

/* ------------------------------------------------------------------------
 * shape, full write, range
 * ------------------------------------------------------------------------ */

static const int sizes[][3] = {
    {1, 28, 28}, {3, 17, 23}, {1, 1, 1}, {2, 1, 9}, {1, 8, 1}, {3, 32, 32}, {1, 2, 2}
};

START_TEST(test_full_write_in_range)
{
    const int t = _i;   /* transform */
    nr_augment_config cfg = cfg_one(t);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int c = sizes[s][0], h = sizes[s][1], w = sizes[s][2];
        const size_t n = (size_t)c * h * w;
        uint8_t *in = balloc(n);
        float *out = falloc(n);
        for (uint64_t seed = 0; seed < 20; seed++) {
            fill_random_u8(in, n, seed);
            if (seed == 0)
                memset(in, 255, n);      /* all white: clamping at 1 */
            fill_nan(out, n);
            run(&cfg, in, c, h, w, out, seed);
            ck_assert_msg(all_in_unit(out, n),
                          "transform %d size %dx%dx%d seed %llu: NaN or out of [0,1]",
                          t, c, h, w, (unsigned long long)seed);
        }
        free(in);
        free(out);
    }
}
END_TEST

/* extreme but valid settings stay finite and in range */
START_TEST(test_extreme_settings)
{
    const int c = 1, h = 28, w = 28;
    const size_t n = (size_t)c * h * w;
    uint8_t *in = balloc(n);
    float *out = falloc(n);
    fill_random_u8(in, n, 7);
    nr_augment_config cfg = cfg_all();
    cfg.shift_pixels = 64;
    cfg.rotate_degrees = 180;
    cfg.scale_min = 0.1f;
    cfg.scale_max = 10.0f;
    cfg.elastic_alpha = 1000;
    cfg.elastic_sigma = 100;         /* radius capped to the image */
    cfg.noise_std = 1.0f;
    for (uint64_t seed = 0; seed < 30; seed++) {
        fill_nan(out, n);
        run(&cfg, in, c, h, w, out, seed);
        ck_assert(all_in_unit(out, n));
    }
    cfg = cfg_one(T_ELASTIC);
    cfg.elastic_sigma = 0.0f;        /* unsmoothed field */
    fill_nan(out, n);
    run(&cfg, in, c, h, w, out, 3);
    ck_assert(all_in_unit(out, n));
    ck_assert(!is_identity(in, out, n));
    cfg.elastic_sigma = 0.01f;       /* radius 1, neighbours weigh 0 */
    fill_nan(out, n);
    run(&cfg, in, c, h, w, out, 3);
    ck_assert(all_in_unit(out, n));
    free(in);
    free(out);
}
END_TEST

/* ------------------------------------------------------------------------
 * identity and random-number consumption
 * ------------------------------------------------------------------------ */

static void check_identity_cfg(const nr_augment_config *cfg, const char *what)
{
    const int c = 3, h = 11, w = 14;
    const size_t n = (size_t)c * h * w;
    uint8_t *in = balloc(n);
    float *out = falloc(n);
    for (uint64_t seed = 0; seed < 10; seed++) {
        fill_random_u8(in, n, seed + 100);
        fill_nan(out, n);
        nr_rng r, ref;
        nr_rng_seed(&r, seed, NR_RNG_STREAM_AUGMENT);
        ref = r;
        nr_augment_image(cfg, in, c, h, w, out, NULL, &r);  /* no elastic: NULL ok */
        ck_assert_msg(is_identity(in, out, n), "%s: not in/255 exactly", what);
        for (int k = 0; k < 5; k++)
            (void)nr_rng_uniform(&ref);
        ck_assert_msg(r.state == ref.state && r.inc == ref.inc,
                      "%s: consumed more than the five decision draws", what);
    }
    free(in);
    free(out);
}

START_TEST(test_identity_zero_strength)
{
    nr_augment_config cfg;
    cfg = cfg_one(T_SHIFT);   cfg.shift_pixels = 0;      check_identity_cfg(&cfg, "shift 0");
    cfg = cfg_one(T_ROTATE);  cfg.rotate_degrees = 0;    check_identity_cfg(&cfg, "rotate 0");
    cfg = cfg_one(T_SCALE);   cfg.scale_min = cfg.scale_max = 1; check_identity_cfg(&cfg, "scale 1");
    cfg = cfg_one(T_ELASTIC); cfg.elastic_alpha = 0;     check_identity_cfg(&cfg, "elastic 0");
    cfg = cfg_one(T_NOISE);   cfg.noise_std = 0;         check_identity_cfg(&cfg, "noise 0");
    cfg = cfg_all();
    cfg.shift_p = cfg.rotate_p = cfg.scale_p = cfg.elastic_p = cfg.noise_p = 0;
    check_identity_cfg(&cfg, "all p = 0");
    cfg = cfg_all();
    cfg.shift_pixels = 0; cfg.rotate_degrees = 0; cfg.scale_min = cfg.scale_max = 1;
    cfg.elastic_alpha = 0; cfg.noise_std = 0;
    check_identity_cfg(&cfg, "all strengths 0");
    nr_augment_config zero;
    memset(&zero, 0, sizeof zero);
    check_identity_cfg(&zero, "zero config");

    /* the explicit affine map at its identity parameters */
    const int c = 2, h = 6, w = 9;
    uint8_t in[2 * 6 * 9];
    float out[2 * 6 * 9];
    fill_random_u8(in, sizeof in, 5);
    fill_nan(out, sizeof in);
    nr_augment_affine(in, c, h, w, out, 0, 0, 0, 1);
    ck_assert(is_identity(in, out, sizeof in));
    fill_nan(out, sizeof in);
    nr_augment_affine(in, c, h, w, out, 0, 0, 360, 1);   /* full turn: exact too */
    ck_assert(is_identity(in, out, sizeof in));
}
END_TEST

/* a transform that is applied consumes random numbers, one that is not
 * (p = 0) does not: its absence must not change the others' draws */
START_TEST(test_consumption_order)
{
    const int c = 1, h = 16, w = 16;
    const size_t n = (size_t)c * h * w;
    uint8_t *in = balloc(n);
    float *a = falloc(n), *b = falloc(n);
    fill_random_u8(in, n, 1);
    /* noise off vs noise p = 0: identical geometry */
    nr_augment_config g = cfg_all();
    g.noise_std = 0;
    nr_augment_config g0 = cfg_all();
    g0.noise_p = 0;
    for (uint64_t seed = 0; seed < 10; seed++) {
        run(&g, in, c, h, w, a, seed);
        run(&g0, in, c, h, w, b, seed);
        ck_assert(memcmp(a, b, n * sizeof *a) == 0);
    }
    free(in);
    free(a);
    free(b);
}
END_TEST

/* ------------------------------------------------------------------------
 * determinism and streams
 * ------------------------------------------------------------------------ */

START_TEST(test_deterministic)
{
    const int c = 3, h = 28, w = 28;
    const size_t n = (size_t)c * h * w;
    uint8_t *in = balloc(n);
    float *a = falloc(n), *b = falloc(n);
    fill_random_u8(in, n, 42);
    for (int t = 0; t < T_COUNT; t++) {
        nr_augment_config cfg = cfg_one(t);
        for (uint64_t seed = 0; seed < 5; seed++) {
            float *ws = ws_alloc(c, h, w);
            nr_rng r1, r2;
            nr_rng_seed(&r1, seed, NR_RNG_STREAM_AUGMENT);
            r2 = r1;
            fill_nan(a, n);
            fill_nan(b, n);
            nr_augment_image(&cfg, in, c, h, w, a, ws, &r1);
            /* dirty workspace from the first call must not matter */
            nr_augment_image(&cfg, in, c, h, w, b, ws, &r2);
            ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "transform %d not deterministic", t);
            ck_assert(r1.state == r2.state && r1.inc == r2.inc);
            ws_check_free(ws, c, h, w);

            run(&cfg, in, c, h, w, b, seed + 1000);
            ck_assert_msg(memcmp(a, b, n * sizeof *a) != 0,
                          "transform %d: different seeds gave the same image", t);
        }
    }
    free(in);
    free(a);
    free(b);
}
END_TEST

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

START_TEST(test_augment_rng_streams)
{
    enum { E = 8, I = 128 };
    uint64_t *first = malloc(sizeof(uint64_t) * E * I * 2);
    ck_assert_ptr_nonnull(first);
    size_t k = 0;
    for (int seed = 0; seed < 2; seed++)
        for (int e = 0; e < E; e++)
            for (size_t i = 0; i < I; i++) {
                nr_rng r, r2;
                nr_augment_rng(&r, (uint64_t)seed + 7, e, i);
                nr_augment_rng(&r2, (uint64_t)seed + 7, e, i);
                ck_assert(r.state == r2.state && r.inc == r2.inc);
                uint64_t v = (uint64_t)nr_rng_u32(&r) << 32;
                v |= nr_rng_u32(&r);
                first[k++] = v;
            }
    qsort(first, k, sizeof first[0], cmp_u64);
    for (size_t j = 1; j < k; j++)
        ck_assert_msg(first[j] != first[j - 1], "two (seed, epoch, index) share a stream");
    free(first);

    /* large indices and epochs are distinct too */
    nr_rng a, b;
    nr_augment_rng(&a, 1, 0, (size_t)1 << 30);
    nr_augment_rng(&b, 1, 1, (size_t)1 << 30);
    ck_assert(a.state != b.state || a.inc != b.inc);
    /* not the plain augment stream of the same seed */
    nr_rng_seed(&b, 1, NR_RNG_STREAM_AUGMENT);
    nr_augment_rng(&a, 1, 0, 0);
    ck_assert(a.state != b.state || a.inc != b.inc);

    /* the same sample augments identically whatever happened before */
    const int h = 28, w = 28;
    uint8_t in[28 * 28];
    float o1[28 * 28], o2[28 * 28];
    float *ws = ws_alloc(1, h, w);
    fill_random_u8(in, sizeof in, 3);
    nr_augment_config cfg = cfg_all();
    nr_augment_rng(&a, 5, 3, 1234);
    nr_augment_image(&cfg, in, 1, h, w, o1, ws, &a);
    nr_augment_rng(&a, 5, 3, 999);
    nr_augment_image(&cfg, in, 1, h, w, o2, ws, &a);
    ck_assert(memcmp(o1, o2, sizeof o1) != 0);
    nr_augment_rng(&a, 5, 3, 1234);
    nr_augment_image(&cfg, in, 1, h, w, o2, ws, &a);
    ck_assert(memcmp(o1, o2, sizeof o1) == 0);
    nr_augment_rng(&a, 5, 4, 1234);                /* next epoch: different */
    nr_augment_image(&cfg, in, 1, h, w, o2, ws, &a);
    ck_assert(memcmp(o1, o2, sizeof o1) != 0);
    ws_check_free(ws, 1, h, w);
}
END_TEST

/* ------------------------------------------------------------------------
 * exact geometry
 * ------------------------------------------------------------------------ */

/* out[ch, y, x] == in[ch, y - dy, x - dx] / 255 (0 outside), exactly */
static int is_exact_shift(const uint8_t *in, const float *out, int c, int h,
                          int w, int dx, int dy)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int sx = x - dx, sy = y - dy;
                float want = (sx >= 0 && sx < w && sy >= 0 && sy < h)
                                 ? (float)in[(ch * h + sy) * w + sx] / 255.0f
                                 : 0.0f;
                if (out[(ch * h + y) * w + x] != want)
                    return 0;
            }
    return 1;
}

START_TEST(test_affine_integer_shift)
{
    const int h = 9, w = 12;       /* even width: centre between pixels */
    uint8_t in[9 * 12];
    float out[9 * 12];
    /* a single bright pixel moves by exactly (dx, dy) */
    static const int shifts[][2] = {{0, 0}, {1, 0}, {0, 1}, {-2, 3}, {3, -1}, {-4, -4}, {11, 0}};
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
        const int dx = shifts[s][0], dy = shifts[s][1];
        memset(in, 0, sizeof in);
        const int px = 5, py = 4;
        in[py * w + px] = 200;
        fill_nan(out, sizeof in);
        nr_augment_affine(in, 1, h, w, out, (float)dx, (float)dy, 0, 1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float want = (x == px + dx && y == py + dy) ? 200.0f / 255.0f : 0.0f;
                ck_assert_msg(out[y * w + x] == want, "shift (%d,%d): pixel (%d,%d) = %g",
                              dx, dy, x, y, (double)out[y * w + x]);
            }
        /* and a whole random image, 2 channels */
        uint8_t in2[2 * 9 * 12];
        float out2[2 * 9 * 12];
        fill_random_u8(in2, sizeof in2, s);
        nr_augment_affine(in2, 2, h, w, out2, (float)dx, (float)dy, 0, 1);
        ck_assert(is_exact_shift(in2, out2, 2, h, w, dx, dy));
    }
    /* shifted out completely: black */
    fill_random_u8(in, sizeof in, 1);
    nr_augment_affine(in, 1, h, w, out, (float)w, 0, 0, 1);
    for (int i = 0; i < h * w; i++)
        ck_assert(out[i] == 0.0f);
    /* half-pixel shifts average neighbours, with black outside */
    memset(in, 0, sizeof in);
    in[4 * w + 5] = 200;
    in[6 * w + 0] = 200;               /* on the left border */
    in[2 * w + w - 1] = 200;           /* on the right border */
    nr_augment_affine(in, 1, h, w, out, 0.5f, 0, 0, 1);
    ck_assert_float_eq_tol(out[4 * w + 5], 100.0f / 255.0f, 1e-6f);
    ck_assert_float_eq_tol(out[4 * w + 6], 100.0f / 255.0f, 1e-6f);
    ck_assert(out[4 * w + 4] == 0.0f && out[4 * w + 7] == 0.0f);
    ck_assert_float_eq_tol(out[6 * w + 0], 100.0f / 255.0f, 1e-6f);
    ck_assert_float_eq_tol(out[6 * w + 1], 100.0f / 255.0f, 1e-6f);
    ck_assert_float_eq_tol(out[2 * w + w - 1], 100.0f / 255.0f, 1e-6f);
    nr_augment_affine(in, 1, h, w, out, -0.5f, 0, 0, 1);
    ck_assert_float_eq_tol(out[6 * w + 0], 100.0f / 255.0f, 1e-6f);
    ck_assert_float_eq_tol(out[2 * w + w - 1], 100.0f / 255.0f, 1e-6f);
    ck_assert_float_eq_tol(out[2 * w + w - 2], 100.0f / 255.0f, 1e-6f);
}
END_TEST

/* nr_augment_image with shift only: every output is an exact integer shift
 * within [-n, n], every offset occurs */
START_TEST(test_random_shift_offsets)
{
    const int c = 1, h = 10, w = 10, n = 2;
    uint8_t in[100];
    float out[100];
    fill_random_u8(in, sizeof in, 77);
    for (int i = 0; i < 100; i++)
        if (in[i] == 0)
            in[i] = 1;                 /* no zeros: shifts are unambiguous */
    nr_augment_config cfg = cfg_none();
    cfg.shift_p = 1;
    cfg.shift_pixels = n;
    int seen[5][5] = {{0}};
    for (uint64_t seed = 0; seed < 600; seed++) {
        run(&cfg, in, c, h, w, out, seed);
        int found = 0;
        for (int dy = -n; dy <= n && !found; dy++)
            for (int dx = -n; dx <= n && !found; dx++)
                if (is_exact_shift(in, out, c, h, w, dx, dy)) {
                    seen[dy + n][dx + n]++;
                    found = 1;
                }
        ck_assert_msg(found, "seed %llu: not an integer shift within +-%d",
                      (unsigned long long)seed, n);
    }
    for (int dy = 0; dy < 5; dy++)
        for (int dx = 0; dx < 5; dx++)
            ck_assert_msg(seen[dy][dx] >= 8, "offset (%d,%d) seen %d times of 600",
                          dx - n, dy - n, seen[dy][dx]);   /* expected 24 */
}
END_TEST

START_TEST(test_rotate_90)
{
    static const int sz[] = {7, 8};      /* odd: centre pixel; even: corner */
    for (int k = 0; k < 2; k++) {
        const int s = sz[k];
        uint8_t in[64];
        float out[64];
        fill_random_u8(in, (size_t)s * s, 11 + k);   /* asymmetric pattern */
        /* +90: counter-clockwise as displayed: (x, y) -> (y, s-1-x) */
        fill_nan(out, 64);
        nr_augment_affine(in, 1, s, s, out, 0, 0, 90, 1);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                ck_assert_msg(out[(s - 1 - x) * s + y] == (float)in[y * s + x] / 255.0f,
                              "90: (%d,%d) size %d", x, y, s);
        /* -90 (= 270): (x, y) -> (s-1-y, x) */
        nr_augment_affine(in, 1, s, s, out, 0, 0, -90, 1);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                ck_assert(out[x * s + (s - 1 - y)] == (float)in[y * s + x] / 255.0f);
        float out2[64];
        nr_augment_affine(in, 1, s, s, out2, 0, 0, 270, 1);
        ck_assert(memcmp(out, out2, sizeof(float) * s * s) == 0);
        /* 180: (x, y) -> (s-1-x, s-1-y) */
        nr_augment_affine(in, 1, s, s, out, 0, 0, 180, 1);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                ck_assert(out[(s - 1 - y) * s + (s - 1 - x)] == (float)in[y * s + x] / 255.0f);
    }
    /* direction, spelled out: a pixel right of the centre goes above it */
    uint8_t one[49] = {0};
    float out[49];
    one[3 * 7 + 5] = 255;                      /* (5, 3), centre (3, 3) */
    nr_augment_affine(one, 1, 7, 7, out, 0, 0, 90, 1);
    ck_assert(out[1 * 7 + 3] == 1.0f);         /* (3, 1) */
    /* rotation then shift: the shift is in output (display) axes */
    nr_augment_affine(one, 1, 7, 7, out, 1, 2, 90, 1);
    ck_assert(out[3 * 7 + 4] == 1.0f);         /* (3+1, 1+2) */
}
END_TEST

START_TEST(test_scale_about_centre)
{
    const int s = 9, cc = 4;
    uint8_t in[81];
    float out[81];
    fill_random_u8(in, sizeof in, 21);
    /* zoom 2: centre stays, (c + d) -> (c + 2d) */
    fill_nan(out, 81);
    nr_augment_affine(in, 1, s, s, out, 0, 0, 0, 2.0f);
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            ck_assert_msg(out[(cc + 2 * dy) * s + cc + 2 * dx] ==
                              (float)in[(cc + dy) * s + cc + dx] / 255.0f,
                          "zoom 2 at d = (%d,%d)", dx, dy);
    /* between them: the average of the two source pixels */
    float mid = ((float)in[cc * s + cc] + (float)in[cc * s + cc + 1]) / 2.0f / 255.0f;
    ck_assert_float_eq_tol(out[cc * s + cc + 1], mid, 1e-6f);
    ck_assert(all_in_unit(out, 81));
    /* zoom 0.5: (c + 2d) -> (c + d), the border goes black */
    nr_augment_affine(in, 1, s, s, out, 0, 0, 0, 0.5f);
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            ck_assert(out[(cc + dy) * s + cc + dx] ==
                      (float)in[(cc + 2 * dy) * s + cc + 2 * dx] / 255.0f);
    ck_assert(out[0] == 0.0f && out[80] == 0.0f && out[cc] == 0.0f);
    /* a single pixel at distance d ends up at distance 2d */
    uint8_t one[81] = {0};
    one[(cc - 1) * s + cc + 1] = 255;              /* d = (1, -1) */
    nr_augment_affine(one, 1, s, s, out, 0, 0, 0, 2.0f);
    ck_assert(out[(cc - 2) * s + cc + 2] == 1.0f);
    double m, cx, cy;
    mass_com(out, s, s, &m, &cx, &cy);
    ck_assert_double_eq_tol(cx, cc + 2, 1e-5);
    ck_assert_double_eq_tol(cy, cc - 2, 1e-5);
    ck_assert_double_eq_tol(m, 4.0, 1e-5);           /* area x4 */
}
END_TEST

/* random rotations and zooms stay in range (centre of mass of an
 * off-centre blob) and spread both ways */
START_TEST(test_random_angle_and_zoom_ranges)
{
    const int h = 41, w = 41;
    const double cc = 20, r0 = 10;
    uint8_t in[41 * 41];
    float out[41 * 41];
    blob(in, h, w, cc + r0, cc, 1.5);
    double m0, x0, y0;
    {
        float f[41 * 41];
        for (int i = 0; i < h * w; i++)
            f[i] = in[i] / 255.0f;
        mass_com(f, h, w, &m0, &x0, &y0);
    }
    nr_augment_config cfg = cfg_none();
    cfg.rotate_p = 1;
    cfg.rotate_degrees = 20;
    double amin = 1e9, amax = -1e9;
    for (uint64_t seed = 0; seed < 200; seed++) {
        run(&cfg, in, 1, h, w, out, seed);
        double m, cx, cy;
        mass_com(out, h, w, &m, &cx, &cy);
        /* counter-clockwise as displayed = towards smaller y */
        double ang = atan2(-(cy - cc), cx - cc) * 180.0 / 3.14159265358979323846;
        ck_assert_msg(fabs(ang) <= 20.5, "angle %g outside +-20", ang);
        ck_assert_double_eq_tol(hypot(cx - cc, cy - cc), hypot(x0 - cc, y0 - cc), 0.1);
        ck_assert_double_eq_tol(m, m0, 0.02 * m0);
        amin = fmin(amin, ang);
        amax = fmax(amax, ang);
    }
    ck_assert_msg(amin < -15 && amax > 15, "angles [%g, %g] do not spread", amin, amax);

    cfg = cfg_none();
    cfg.scale_p = 1;
    cfg.scale_min = 0.8f;
    cfg.scale_max = 1.25f;
    double smin = 1e9, smax = -1e9;
    const double d0 = hypot(x0 - cc, y0 - cc);
    for (uint64_t seed = 0; seed < 200; seed++) {
        run(&cfg, in, 1, h, w, out, seed);
        double m, cx, cy;
        mass_com(out, h, w, &m, &cx, &cy);
        ck_assert_double_eq_tol(cy, cc, 1e-3);
        double f = (cx - cc) / d0;
        ck_assert_msg(f >= 0.8 - 0.01 && f <= 1.25 + 0.01, "zoom %g outside [0.8, 1.25]", f);
        smin = fmin(smin, f);
        smax = fmax(smax, f);
    }
    ck_assert_msg(smin < 0.85 && smax > 1.2, "zooms [%g, %g] do not spread", smin, smax);
}
END_TEST

/* ------------------------------------------------------------------------
 * elastic, noise, probabilities, RGB
 * ------------------------------------------------------------------------ */

/* Elastic deformation changes local area by the Jacobian of the field, so a
 * blob's mass changes per image (measured on this blob over 1000 seeds:
 * alpha 8 -> mass ratio 0.88..1.14, centre within 0.73 px; alpha 34 ->
 * 0.52..1.66, centre within 2.95 px, mean ratio 1.003). Checked: per image
 * for alpha 8; on average for alpha 34 (Simard's MNIST setting). */
START_TEST(test_elastic_blob)
{
    const int h = 28, w = 28;
    uint8_t in[28 * 28];
    float out[28 * 28], ref[28 * 28];
    blob(in, h, w, 13.5, 13.5, 4.0);
    for (int i = 0; i < h * w; i++)
        ref[i] = in[i] / 255.0f;
    double m0, x0, y0;
    mass_com(ref, h, w, &m0, &x0, &y0);
    nr_augment_config cfg = cfg_one(T_ELASTIC);
    cfg.elastic_alpha = 8.0f;
    cfg.elastic_sigma = 4.0f;
    double diff_weak = 0, diff_strong = 0;
    for (uint64_t seed = 0; seed < 50; seed++) {
        fill_nan(out, 28 * 28);
        run(&cfg, in, 1, h, w, out, seed);
        ck_assert(all_in_unit(out, 28 * 28));
        double maxd = 0;
        for (int i = 0; i < h * w; i++) {
            maxd = fmax(maxd, fabs(out[i] - ref[i]));
            diff_weak += fabs(out[i] - ref[i]);
        }
        ck_assert_msg(maxd > 0.01, "seed %llu: elastic left the blob unchanged",
                      (unsigned long long)seed);
        double m, cx, cy;
        mass_com(out, h, w, &m, &cx, &cy);
        ck_assert_msg(fabs(m - m0) <= 0.2 * m0, "mass %g vs %g", m, m0);
        ck_assert_msg(hypot(cx - x0, cy - y0) <= 2.0, "centre moved by %g",
                      hypot(cx - x0, cy - y0));
    }
    cfg.elastic_alpha = 34.0f;
    double msum = 0, xsum = 0, ysum = 0;
    const int trials = 200;
    for (uint64_t seed = 0; seed < (uint64_t)trials; seed++) {
        fill_nan(out, 28 * 28);
        run(&cfg, in, 1, h, w, out, seed);
        ck_assert(all_in_unit(out, 28 * 28));
        for (int i = 0; i < h * w; i++)
            diff_strong += fabs(out[i] - ref[i]);
        double m, cx, cy;
        mass_com(out, h, w, &m, &cx, &cy);
        msum += m;
        xsum += cx;
        ysum += cy;
    }
    ck_assert_msg(fabs(msum / trials - m0) <= 0.05 * m0, "mean mass %g vs %g",
                  msum / trials, m0);
    ck_assert_msg(hypot(xsum / trials - x0, ysum / trials - y0) <= 0.5,
                  "mean centre moved");
    /* stronger alpha, larger change (per image on average) */
    ck_assert_msg(diff_weak / 50 < 0.5 * diff_strong / trials,
                  "alpha 8 changed as much as alpha 34 (%g vs %g)",
                  diff_weak / 50, diff_strong / trials);
}
END_TEST

/* The displacement field's size, read back through a horizontal ramp
 * in(x, y) = K x: bilinear sampling of a linear function is exact, so
 * dx(p) = out(p) * 255 / K - x wherever p + d(p) stays inside the image. */
static double ramp_rms_dx(const nr_augment_config *cfg, int h, int w, int K,
                          int margin, int seeds, double *maxabs, double *mean)
{
    uint8_t *in = balloc((size_t)h * w);
    float *out = falloc((size_t)h * w);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            in[y * w + x] = (uint8_t)(K * x);
    double s1 = 0, s2 = 0, cnt = 0, mx = 0;
    for (int seed = 0; seed < seeds; seed++) {
        run(cfg, in, 1, h, w, out, (uint64_t)seed);
        for (int y = margin; y < h - margin; y++)
            for (int x = margin; x < w - margin; x++) {
                double d = (double)out[y * w + x] * 255.0 / K - x;
                s1 += d;
                s2 += d * d;
                cnt++;
                mx = fmax(mx, fabs(d));
            }
    }
    free(in);
    free(out);
    *maxabs = mx;
    *mean = s1 / cnt;
    return sqrt(s2 / cnt);
}

START_TEST(test_elastic_field_magnitude)
{
    /* sigma 0: unsmoothed, dx = alpha * U(-1, 1): rms alpha / sqrt(3) */
    nr_augment_config cfg = cfg_one(T_ELASTIC);
    cfg.elastic_alpha = 1.0f;
    cfg.elastic_sigma = 0.0f;
    double mx, mean;
    double rms = ramp_rms_dx(&cfg, 28, 28, 9, 1, 4, &mx, &mean);
    ck_assert_msg(fabs(rms - 1.0 / sqrt(3.0)) < 0.03, "sigma 0: rms %g", rms);
    ck_assert_msg(mx <= 1.0 + 1e-4, "sigma 0: |dx| %g > alpha", mx);
    ck_assert_msg(fabs(mean) < 0.03, "sigma 0: mean %g", mean);

    /* sigma 4, alpha 34, far from the borders: rms = alpha / sqrt(3) *
     * sum_j g_j^2 (2-D separable kernel g, truncated at 3 sigma) */
    cfg.elastic_alpha = 34.0f;
    cfg.elastic_sigma = 4.0f;
    double g[13], gs = 0, g2 = 0;
    for (int j = -12; j <= 12; j++)
        gs += exp(-0.5 * j * j / 16.0);
    for (int j = 0; j <= 12; j++)
        g[j] = exp(-0.5 * j * j / 16.0) / gs;
    for (int j = -12; j <= 12; j++)
        g2 += g[abs(j)] * g[abs(j)];
    const double want = 34.0 / sqrt(3.0) * g2;          /* ~1.38 px */
    rms = ramp_rms_dx(&cfg, 64, 64, 3, 14, 20, &mx, &mean);
    ck_assert_msg(fabs(rms - want) < 0.15 * want, "sigma 4: rms %g, want %g", rms, want);
    ck_assert_msg(fabs(mean) < 0.3, "sigma 4: mean %g", mean);
}
END_TEST

/* the separable, tap-major smoothing against a plain 2-D convolution
 * (double, zero padding) of the same raw draws */
START_TEST(test_elastic_field_reference)
{
    static const struct { int h, w; float sigma, alpha; } cases[] = {
        {28, 28, 4.0f, 34.0f}, {13, 29, 3.0f, 2.0f}, {13, 29, 6.0f, 5.0f},
        {10, 10, 5.0f, 1.0f} /* radius capped at 9 */, {1, 7, 1.0f, 1.0f},
        {6, 1, 0.7f, 3.0f}, {5, 5, 0.0f, 2.0f}, {1, 1, 2.0f, 1.0f}
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int h = cases[t].h, w = cases[t].w;
        const float sigma = cases[t].sigma, alpha = cases[t].alpha;
        const size_t hw = (size_t)h * w;
        const int maxd = h > w ? h : w;
        const size_t wsn = nr_augment_elastic_workspace_floats(h, w);
        float *dx = falloc(hw), *dy = falloc(hw);
        float *ws = falloc(wsn + CANARY);
        for (size_t i = 0; i < wsn + CANARY; i++)
            ws[i] = -12345.0f;
        double *raw = malloc(sizeof(double) * 2 * hw);
        ck_assert_ptr_nonnull(raw);
        nr_rng r, ref;
        nr_rng_seed(&r, t, 17);
        ref = r;
        fill_nan(dx, hw);
        fill_nan(dy, hw);
        nr_augment_elastic_field(h, w, alpha, sigma, dx, dy, ws, &r);
        for (size_t i = wsn; i < wsn + CANARY; i++)
            ck_assert(ws[i] == -12345.0f);
        for (size_t i = 0; i < 2 * hw; i++)
            raw[i] = 2.0 * nr_rng_uniform(&ref) - 1.0;
        ck_assert(r.state == ref.state);     /* exactly 2*h*w uniforms */
        /* kernel: radius min(ceil(3 sigma), max(h, w) - 1), sum 1 */
        int rad = sigma > 0 ? (int)ceil(3.0 * sigma) : 0;
        if (rad > maxd - 1)
            rad = maxd - 1;
        double g[64], gs = 0;
        for (int j = -rad; j <= rad; j++)
            gs += sigma > 0 ? exp(-0.5 * j * j / ((double)sigma * sigma)) : 1.0;
        for (int j = 0; j <= rad; j++)
            g[j] = (sigma > 0 ? exp(-0.5 * j * j / ((double)sigma * sigma)) : 1.0) / gs;
        for (int f = 0; f < 2; f++) {
            const float *got = f == 0 ? dx : dy;
            double maxerr = 0, maxabs = 1e-9;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    double acc = 0;
                    for (int j = -rad; j <= rad; j++)
                        for (int i = -rad; i <= rad; i++) {
                            int yy = y + j, xx = x + i;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                                continue;
                            acc += g[abs(j)] * g[abs(i)] * raw[f * hw + (size_t)yy * w + xx];
                        }
                    acc *= alpha;
                    ck_assert(isfinite(got[y * w + x]));
                    maxerr = fmax(maxerr, fabs(acc - got[y * w + x]));
                    maxabs = fmax(maxabs, fabs(acc));
                }
            ck_assert_msg(maxerr <= 1e-5 * alpha + 1e-5 * maxabs,
                          "case %zu field %d: error %g (max %g)", t, f, maxerr, maxabs);
        }
        free(dx);
        free(dy);
        free(ws);
        free(raw);
    }
}
END_TEST

/* nr_augment_image composes the affine map and the field as documented:
 * out(p) = in(A^-1(p + d(p))). Read back through two ramps (channel 0 =
 * K x, channel 1 = K y; bilinear is exact on linear functions) with the
 * field and shift recomputed from the same draws. */
START_TEST(test_elastic_composition)
{
    const int h = 40, w = 40, K = 5, margin = 9, n = 3;
    const size_t hw = (size_t)h * w;
    uint8_t *in = balloc(2 * hw);
    float *out = falloc(2 * hw);
    float *fx = falloc(hw), *fy = falloc(hw);
    float *ws = falloc(nr_augment_elastic_workspace_floats(h, w));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            in[y * w + x] = (uint8_t)(K * x);
            in[hw + y * w + x] = (uint8_t)(K * y);
        }
    for (int with_shift = 0; with_shift < 2; with_shift++) {
        nr_augment_config cfg = cfg_one(T_ELASTIC);
        cfg.elastic_alpha = 10.0f;
        cfg.elastic_sigma = 4.0f;
        if (with_shift) {
            cfg.shift_p = 1;
            cfg.shift_pixels = n;
        }
        for (uint64_t seed = 0; seed < 8; seed++) {
            nr_rng r, ref;
            nr_rng_seed(&r, seed, 3);
            ref = r;
            float *wsi = ws_alloc(2, h, w);
            nr_augment_image(&cfg, in, 2, h, w, out, wsi, &r);
            ws_check_free(wsi, 2, h, w);
            /* the same draws, by hand */
            for (int k = 0; k < 5; k++)
                (void)nr_rng_uniform(&ref);
            int tx = 0, ty = 0;
            if (with_shift) {
                tx = (int)nr_rng_below(&ref, 2 * n + 1) - n;
                ty = (int)nr_rng_below(&ref, 2 * n + 1) - n;
            }
            nr_augment_elastic_field(h, w, cfg.elastic_alpha, cfg.elastic_sigma,
                                     fx, fy, ws, &ref);
            ck_assert(r.state == ref.state && r.inc == ref.inc);
            double maxerr = 0, maxd = 0;
            for (int y = margin; y < h - margin; y++)
                for (int x = margin; x < w - margin; x++) {
                    size_t i = (size_t)y * w + x;
                    double gx = (double)out[i] * 255.0 / K;
                    double gy = (double)out[hw + i] * 255.0 / K;
                    maxerr = fmax(maxerr, fabs(gx - (x + fx[i] - tx)));
                    maxerr = fmax(maxerr, fabs(gy - (y + fy[i] - ty)));
                    maxd = fmax(maxd, fmax(fabs(fx[i]), fabs(fy[i])));
                }
            ck_assert_msg(maxerr < 1e-3, "shift %d seed %llu: error %g", with_shift,
                          (unsigned long long)seed, maxerr);
            ck_assert(maxd > 0.1);      /* the field did something */
        }
    }
    free(in);
    free(out);
    free(fx);
    free(fy);
    free(ws);
}
END_TEST

START_TEST(test_noise_statistics)
{
    const int h = 64, w = 64, c = 2;
    const size_t n = (size_t)c * h * w;
    uint8_t *in = balloc(n);
    float *out = falloc(n);
    memset(in, 128, n);
    const float base = 128.0f / 255.0f;
    nr_augment_config cfg = cfg_one(T_NOISE);
    cfg.noise_std = 0.05f;
    double s1 = 0, s2 = 0, cnt = 0;
    for (uint64_t seed = 0; seed < 4; seed++) {
        fill_nan(out, n);
        run(&cfg, in, c, h, w, out, seed);
        ck_assert(all_in_unit(out, n));
        for (size_t i = 0; i < n; i++) {
            double d = (double)out[i] - base;
            s1 += d;
            s2 += d * d;
            cnt++;
        }
    }
    double mean = s1 / cnt, sd = sqrt(s2 / cnt - mean * mean);
    /* se of the mean 0.05/sqrt(32768) = 2.8e-4 */
    ck_assert_msg(fabs(mean) < 1.5e-3, "noise mean %g", mean);
    ck_assert_msg(fabs(sd - 0.05) < 0.05 * 0.03, "noise std %g, want 0.05", sd);

    /* strong noise is clamped to [0, 1] and hits both ends */
    cfg.noise_std = 1.0f;
    fill_nan(out, n);
    run(&cfg, in, c, h, w, out, 9);
    ck_assert(all_in_unit(out, n));
    size_t zeros = 0, ones = 0;
    for (size_t i = 0; i < n; i++) {
        zeros += out[i] == 0.0f;
        ones += out[i] == 1.0f;
    }
    ck_assert(zeros > n / 10 && ones > n / 10);
    /* the two channels get different noise */
    cfg.noise_std = 0.05f;
    run(&cfg, in, c, h, w, out, 1);
    ck_assert(memcmp(out, out + (size_t)h * w, sizeof(float) * h * w) != 0);
    free(in);
    free(out);
}
END_TEST

/* decision draws: a transform with p applies to about a fraction p */
START_TEST(test_probabilities)
{
    const int h = 8, w = 8;
    uint8_t in[64];
    float out[64];
    fill_random_u8(in, sizeof in, 5);
    static const float ps[] = {0.1f, 0.3f, 0.7f};
    for (size_t k = 0; k < 3; k++) {
        nr_augment_config cfg = cfg_one(T_NOISE);
        cfg.noise_p = ps[k];
        int changed = 0;
        const int trials = 2000;
        for (int t = 0; t < trials; t++) {
            run(&cfg, in, 1, h, w, out, (uint64_t)t);
            changed += !is_identity(in, out, 64);
        }
        double f = (double)changed / trials;   /* sd <= 0.011 */
        ck_assert_msg(fabs(f - ps[k]) < 0.05, "p = %g applied to %g", (double)ps[k], f);
    }
}
END_TEST

START_TEST(test_rgb_aligned)
{
    const int c = 3, h = 28, w = 28;
    const size_t plane = (size_t)h * w, n = c * plane;
    uint8_t *in = balloc(n);
    float *out = falloc(n);
    /* the same asymmetric pattern in all three channels */
    fill_random_u8(in, plane, 8);
    memcpy(in + plane, in, plane);
    memcpy(in + 2 * plane, in, plane);
    nr_augment_config cfg = cfg_all();
    cfg.noise_p = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        fill_nan(out, n);
        run(&cfg, in, c, h, w, out, seed);
        ck_assert(!is_identity(in, out, n));
        ck_assert_msg(memcmp(out, out + plane, plane * sizeof *out) == 0 &&
                          memcmp(out, out + 2 * plane, plane * sizeof *out) == 0,
                      "seed %llu: channels transformed differently",
                      (unsigned long long)seed);
    }
    /* scaled intensities per channel: the outputs stay proportional */
    uint8_t *in2 = balloc(n);
    blob(in2, h, w, 10, 16, 3.0);
    for (size_t i = 0; i < plane; i++) {
        in2[i] = (uint8_t)(in2[i] / 4 * 4);        /* exactly 4 : 2 : 1 */
        in2[plane + i] = (uint8_t)(in2[i] / 2);
        in2[2 * plane + i] = (uint8_t)(in2[i] / 4);
    }
    for (uint64_t seed = 0; seed < 20; seed++) {
        run(&cfg, in2, c, h, w, out, seed);
        double m[3], cx[3], cy[3];
        for (int ch = 0; ch < 3; ch++)
            mass_com(out + ch * plane, h, w, &m[ch], &cx[ch], &cy[ch]);
        for (int ch = 1; ch < 3; ch++) {
            ck_assert_double_eq_tol(cx[ch], cx[0], 1e-3);
            ck_assert_double_eq_tol(cy[ch], cy[0], 1e-3);
            ck_assert_double_eq_tol(m[ch] * (1 << ch), m[0], 1e-3 * m[0]);
        }
    }
    free(in);
    free(in2);
    free(out);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *augment_suite(void)
{
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_config_check);
    suite_add_tcase(s, tc);

    tc = tcase_create("shape");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_full_write_in_range, 0, T_COUNT);
    tcase_add_test(tc, test_extreme_settings);
    suite_add_tcase(s, tc);

    tc = tcase_create("randomness");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_identity_zero_strength);
    tcase_add_test(tc, test_consumption_order);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_augment_rng_streams);
    tcase_add_test(tc, test_probabilities);
    suite_add_tcase(s, tc);

    tc = tcase_create("geometry");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_affine_integer_shift);
    tcase_add_test(tc, test_random_shift_offsets);
    tcase_add_test(tc, test_rotate_90);
    tcase_add_test(tc, test_scale_about_centre);
    tcase_add_test(tc, test_random_angle_and_zoom_ranges);
    suite_add_tcase(s, tc);

    tc = tcase_create("transforms");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_elastic_blob);
    tcase_add_test(tc, test_elastic_field_magnitude);
    tcase_add_test(tc, test_elastic_field_reference);
    tcase_add_test(tc, test_elastic_composition);
    tcase_add_test(tc, test_noise_statistics);
    tcase_add_test(tc, test_rgb_aligned);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(augment_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
