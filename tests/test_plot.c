/* test_plot.c - Check tests for netrun/plot.h.
 *
 * Every picture is written into one mkdtemp folder (created and removed by
 * the unchecked fixture), read back with libpng and inspected:
 * - sizes match the layout functions, the picture is not blank;
 * - curves are drawn where the data says: the layout's data->pixel mapping
 *   gives where a point must land, and the series colour must (or must not)
 *   be found there;
 * - confusion heatmap: cells get darker as counts grow, count text contrasts
 *   with its cell;
 * - gallery: one tile per item holding the nearest-neighbour upscaled pixels;
 * - CSV round trip, metrics against hand-computed precision/recall/F1;
 * - unwritable paths: status 2, the "PATH: error: cannot write: ..." form,
 *   no file (and no temporary file) left behind;
 * - 0/1 epochs, NaN, thousands of epochs, SVG output, no installed fonts;
 * - nr_format_duration (netrun/format.h) golden strings.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netrun/format.h"
#include "netrun/plot.h"

static char g_base[512]; /* the fixture's temporary folder */

/* ------------------------------------------------------------ fixture */

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                    continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_base, sizeof g_base, "%s/netrun-test-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_base)) {
        perror("mkdtemp");
        abort();
    }
}

static void teardown(void)
{
    remove_tree(g_base);
}

static const char *in_base(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", g_base, name);
    return buf;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* number of entries of dir whose name contains ".tmp-" */
static int tmp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".tmp-"))
            n++;
    closedir(d);
    return n;
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "open %s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, fp), (size_t)n);
    s[n] = '\0';
    fclose(fp);
    return s;
}

/* ------------------------------------------------------------ images */

typedef struct image {
    int w, h;
    uint8_t *rgb; /* h * w * 3 */
} image;

static image read_png(const char *path)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(&pi, path), "read %s: %s", path,
                  pi.message);
    pi.format = PNG_FORMAT_RGB;
    image im = {(int)pi.width, (int)pi.height, malloc(PNG_IMAGE_SIZE(pi))};
    ck_assert_ptr_nonnull(im.rgb);
    ck_assert_msg(png_image_finish_read(&pi, NULL, im.rgb, 0, NULL), "decode %s: %s", path,
                  pi.message);
    return im;
}

static uint32_t px(const image *im, int x, int y)
{
    /* if + ck_abort_msg, not ck_assert: every passing ck_assert marks the
     * point with a write to Check's parent process, far too slow per pixel */
    if (!(x >= 0 && y >= 0 && x < im->w && y < im->h))
        ck_abort_msg("pixel (%d, %d) outside %dx%d", x, y, im->w, im->h);
    const uint8_t *p = im->rgb + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static int close_to(uint32_t a, uint32_t b, int tol)
{
    for (int sh = 0; sh <= 16; sh += 8) {
        int d = (int)((a >> sh) & 0xff) - (int)((b >> sh) & 0xff);
        if (d > tol || d < -tol)
            return 0;
    }
    return 1;
}

/* pixels within `radius` (a square) of (cx, cy) whose colour is close to rgb */
static int color_near(const image *im, double cx, double cy, int radius, uint32_t rgb)
{
    int n = 0;
    int x0 = (int)floor(cx), y0 = (int)floor(cy);
    for (int y = y0 - radius; y <= y0 + radius; y++)
        for (int x = x0 - radius; x <= x0 + radius; x++)
            if (x >= 0 && y >= 0 && x < im->w && y < im->h && close_to(px(im, x, y), rgb, 24))
                n++;
    return n;
}

static size_t color_count(const image *im, uint32_t rgb)
{
    size_t n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            n += close_to(px(im, x, y), rgb, 24);
    return n;
}

static size_t distinct_colors(const image *im)
{
    uint8_t *seen = calloc((size_t)1 << 21, 1); /* 2^24 bits */
    ck_assert_ptr_nonnull(seen);
    size_t n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            uint32_t c = px(im, x, y);
            if (!(seen[c >> 3] & (1u << (c & 7)))) {
                seen[c >> 3] |= (uint8_t)(1u << (c & 7));
                n++;
            }
        }
    free(seen);
    return n;
}

static double lum(uint32_t c)
{
    return (0.2126 * ((c >> 16) & 0xff) + 0.7152 * ((c >> 8) & 0xff) + 0.0722 * (c & 0xff)) /
           255.0;
}

static int inside(const nr_plot_rect *r, double x, double y, double grow)
{
    return r->w > 0 && x >= r->x - grow && x <= r->x + r->w + grow && y >= r->y - grow &&
           y <= r->y + r->h + grow;
}

/* ------------------------------------------------------------ duration */

START_TEST(duration_golden_strings)
{
    char b[32];
    ck_assert_str_eq(nr_format_duration(83.4, b, sizeof b), "1min 23sec");
    ck_assert_str_eq(nr_format_duration(45.2, b, sizeof b), "45.2sec");
    ck_assert_str_eq(nr_format_duration(3723.0, b, sizeof b), "1h 02min 03sec");
    ck_assert_str_eq(nr_format_duration(0.35, b, sizeof b), "0.35sec");
    ck_assert_str_eq(nr_format_duration(0.0, b, sizeof b), "0.00sec");
    ck_assert_str_eq(nr_format_duration(1.0, b, sizeof b), "1.0sec");
    ck_assert_str_eq(nr_format_duration(59.9, b, sizeof b), "59.9sec");
    ck_assert_str_eq(nr_format_duration(59.97, b, sizeof b), "1min 00sec");
    ck_assert_str_eq(nr_format_duration(65.0, b, sizeof b), "1min 05sec");
    ck_assert_str_eq(nr_format_duration(3599.4, b, sizeof b), "59min 59sec");
    ck_assert_str_eq(nr_format_duration(3599.6, b, sizeof b), "1h 00min 00sec");
    ck_assert_str_eq(nr_format_duration(93600.0, b, sizeof b), "26h 00min 00sec");
    ck_assert_str_eq(nr_format_duration(NAN, b, sizeof b), "?");
    ck_assert_str_eq(nr_format_duration(INFINITY, b, sizeof b), "?");
    ck_assert_str_eq(nr_format_duration(-1.0, b, sizeof b), "?");
    char small[4];
    ck_assert_str_eq(nr_format_duration(83.4, small, sizeof small), "1mi");
}
END_TEST

/* ------------------------------------------------------------ learning curves */

enum { E = 10 };
static double g_train_cost[E], g_test_cost[E], g_train_acc[E], g_test_acc[E];
static double g_val_cost[E], g_val_acc[E];

/* train accuracy rises linearly 0.5 -> 1.0, test 0.4 -> 0.8 (always below);
 * train cost falls 2.0 -> 0.2, test cost falls 1.0 -> 0.5 */
static nr_curve_series series10(int with_val)
{
    for (int i = 0; i < E; i++) {
        double t = i / (double)(E - 1);
        g_train_acc[i] = 0.5 + 0.5 * t;
        g_test_acc[i] = 0.4 + 0.4 * t;
        g_train_cost[i] = 2.0 - 1.8 * t;
        g_test_cost[i] = 1.0 - 0.5 * t;
        g_val_cost[i] = 1.2 - 0.5 * t;
        g_val_acc[i] = 0.45 + 0.3 * t;
    }
    nr_curve_series s = {E, g_train_cost, g_test_cost, g_train_acc, g_test_acc,
                         with_val ? g_val_cost : NULL, with_val ? g_val_acc : NULL};
    return s;
}

#define TITLE "Batch size: 64 | Learning rate: 0.05 | Epochs: 10 | Training time: 1min 23sec\nex2_cnn"

START_TEST(learning_curves_size_and_content)
{
    char path[1024];
    nr_curve_series s = series10(0);
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("lc.png", path, sizeof path), &s, TITLE,
                                             &err), 0);
    nr_curves_layout L;
    ck_assert_int_eq(nr_plot_learning_curves_layout(&s, TITLE, &L, &err), 0);
    image im = read_png(path);
    ck_assert_int_eq(im.w, L.width);
    ck_assert_int_eq(im.h, L.height);
    ck_assert_int_ge(im.w, 1100);
    ck_assert_int_le(im.w, 1300);
    ck_assert_int_ge(im.h, 450);
    ck_assert_int_le(im.h, 560);
    /* panels side by side inside the picture */
    ck_assert(L.cost.area.x > 0 && L.cost.area.x + L.cost.area.w < L.accuracy.area.x);
    ck_assert(L.accuracy.area.x + L.accuracy.area.w < im.w);
    ck_assert(L.cost.area.y > 40 && L.cost.area.y + L.cost.area.h < im.h - 30);
    /* real content: antialiased text and lines give many colours */
    ck_assert_uint_ge(distinct_colors(&im), 100);
    ck_assert_uint_ge(color_count(&im, NR_PLOT_COLOR_TRAIN), 300);
    ck_assert_uint_ge(color_count(&im, NR_PLOT_COLOR_TEST), 300);
    ck_assert_uint_lt(color_count(&im, NR_PLOT_COLOR_VALIDATION), 5); /* no validation */
    ck_assert_uint_eq(L.legend.w, 0);
    ck_assert(L.cost.legend.w > 0 && L.accuracy.legend.w > 0);
    /* dark text above the panels (the title) */
    int dark = 0;
    for (int y = 0; y < (int)L.cost.area.y - 30; y++)
        for (int x = 0; x < im.w; x++)
            dark += lum(px(&im, x, y)) < 0.3;
    ck_assert_int_gt(dark, 500);
    ck_assert_int_eq(tmp_files_in(g_base), 0);
    free(im.rgb);
}
END_TEST

START_TEST(learning_curves_drawn_where_data_says)
{
    char path[1024];
    nr_curve_series s = series10(0);
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("lc.png", path, sizeof path), &s, TITLE,
                                             &err), 0);
    nr_curves_layout L;
    ck_assert_int_eq(nr_plot_learning_curves_layout(&s, TITLE, &L, &err), 0);
    image im = read_png(path);
    const nr_plot_panel *acc = &L.accuracy, *cost = &L.cost;
    ck_assert(acc->y_min < 0.41 && acc->y_max >= 1.0 && acc->y_max < 1.1);
    ck_assert(acc->x_min < 1 && acc->x_max > 10 && acc->x_max < 11);
    ck_assert(cost->y_min <= 0.2 && cost->y_max >= 2.0);

    double x, y;
    /* accuracy: train ends at (10, 100 %): upper right has the train colour */
    nr_plot_panel_to_pixel(acc, 10, 1.0, &x, &y);
    ck_assert(!inside(&acc->legend, x, y, 6));
    ck_assert(x > acc->area.x + acc->area.w * 0.8 && y < acc->area.y + acc->area.h * 0.2);
    ck_assert_int_ge(color_near(&im, x, y, 2, NR_PLOT_COLOR_TRAIN), 4);
    /* ... and nothing of train in the lower right (50 % at epoch 10) */
    nr_plot_panel_to_pixel(acc, 10, 0.5, &x, &y);
    ck_assert(!inside(&acc->legend, x, y, 10));
    ck_assert_int_eq(color_near(&im, x, y, 10, NR_PLOT_COLOR_TRAIN), 0);
    /* the test curve ends at 80 % */
    nr_plot_panel_to_pixel(acc, 10, 0.8, &x, &y);
    ck_assert_int_ge(color_near(&im, x, y, 2, NR_PLOT_COLOR_TEST), 4);
    ck_assert_int_eq(color_near(&im, x, y, 2, NR_PLOT_COLOR_TRAIN), 0);
    /* mid-segment: train at epoch 5.5 is 75 % (on the line between markers) */
    nr_plot_panel_to_pixel(acc, 5.5, 0.75, &x, &y);
    ck_assert_int_ge(color_near(&im, x, y, 1, NR_PLOT_COLOR_TRAIN), 1);

    /* cost: train starts at (1, 2.0) top left, not at the bottom left */
    nr_plot_panel_to_pixel(cost, 1, 2.0, &x, &y);
    ck_assert(!inside(&cost->legend, x, y, 6));
    ck_assert_int_ge(color_near(&im, x, y, 2, NR_PLOT_COLOR_TRAIN), 4);
    nr_plot_panel_to_pixel(cost, 1, 0.2, &x, &y);
    ck_assert(!inside(&cost->legend, x, y, 10));
    ck_assert_int_eq(color_near(&im, x, y, 10, NR_PLOT_COLOR_TRAIN), 0);
    nr_plot_panel_to_pixel(cost, 10, 0.5, &x, &y);
    ck_assert_int_ge(color_near(&im, x, y, 2, NR_PLOT_COLOR_TEST), 4);

    /* the legend really is drawn where the layout says: it holds both colours */
    const nr_plot_rect *lg = &acc->legend;
    ck_assert_int_gt(color_near(&im, lg->x + lg->w / 2, lg->y + lg->h / 2, (int)(lg->h / 2),
                                NR_PLOT_COLOR_TRAIN), 3);
    ck_assert_int_gt(color_near(&im, lg->x + lg->w / 2, lg->y + lg->h / 2, (int)(lg->h / 2),
                                NR_PLOT_COLOR_TEST), 3);
    free(im.rgb);
}
END_TEST

START_TEST(learning_curves_with_validation)
{
    char path[1024];
    nr_curve_series s = series10(1);
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("lcv.png", path, sizeof path), &s, "t",
                                             &err), 0);
    nr_curves_layout L;
    ck_assert_int_eq(nr_plot_learning_curves_layout(&s, "t", &L, &err), 0);
    image im = read_png(path);
    ck_assert_uint_ge(color_count(&im, NR_PLOT_COLOR_VALIDATION), 300);
    double x, y;
    nr_plot_panel_to_pixel(&L.accuracy, 10, 0.75, &x, &y);
    ck_assert_int_ge(color_near(&im, x, y, 2, NR_PLOT_COLOR_VALIDATION), 4);
    nr_plot_panel_to_pixel(&L.cost, 1, 1.2, &x, &y);
    ck_assert_int_ge(color_near(&im, x, y, 2, NR_PLOT_COLOR_VALIDATION), 4);
    free(im.rgb);
}
END_TEST

START_TEST(learning_curves_edge_cases)
{
    char path[1024];
    nr_error err = {0, ""};
    nr_curves_layout L;

    /* one epoch: single points, visible as markers */
    double c1[1] = {0.3}, t1[1] = {0.25}, a1[1] = {0.9}, b1[1] = {0.92};
    nr_curve_series one = {1, c1, t1, a1, b1, NULL, NULL};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("one.png", path, sizeof path), &one,
                                             "one epoch", &err), 0);
    ck_assert_int_eq(nr_plot_learning_curves_layout(&one, "one epoch", &L, &err), 0);
    image im = read_png(path);
    double x, y;
    nr_plot_panel_to_pixel(&L.accuracy, 1, 0.9, &x, &y);
    ck_assert(x > L.accuracy.area.x && x < L.accuracy.area.x + L.accuracy.area.w);
    ck_assert(y > L.accuracy.area.y && y < L.accuracy.area.y + L.accuracy.area.h);
    ck_assert_int_ge(color_near(&im, x, y, 2, NR_PLOT_COLOR_TRAIN), 4);
    free(im.rgb);

    /* NaN / Inf in the middle and at the ends: skipped, line broken */
    double c[E], a[E];
    for (int i = 0; i < E; i++) {
        c[i] = 1.0 / (i + 1);
        a[i] = 0.5 + 0.05 * i;
    }
    c[0] = NAN;
    c[4] = INFINITY;
    a[5] = NAN;
    a[9] = -INFINITY;
    nr_curve_series nan = {E, c, c, a, a, NULL, NULL};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("nan.png", path, sizeof path), &nan,
                                             "nan", &err), 0);
    ck_assert_int_eq(nr_plot_learning_curves_layout(&nan, "nan", &L, &err), 0);
    ck_assert(isfinite(L.cost.y_min) && isfinite(L.cost.y_max) && L.cost.y_max < 1.0);
    ck_assert(isfinite(L.accuracy.y_min) && L.accuracy.y_min > 0.4);
    im = read_png(path);
    /* no train line across the NaN gap: midway between epochs 5 and 7 at the
     * interpolated height there is nothing of train */
    nr_plot_panel_to_pixel(&L.accuracy, 6, 0.5 + 0.05 * 5, &x, &y);
    ck_assert_int_eq(color_near(&im, x, y, 1, NR_PLOT_COLOR_TRAIN), 0);
    free(im.rgb);

    /* everything NaN, zero epochs, all series absent, constant values */
    double allnan[3] = {NAN, NAN, NAN};
    nr_curve_series bad = {3, allnan, allnan, allnan, allnan, allnan, allnan};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("allnan.png", path, sizeof path), &bad,
                                             NULL, &err), 0);
    nr_curve_series empty = {0, NULL, NULL, NULL, NULL, NULL, NULL};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("empty.png", path, sizeof path), &empty,
                                             "", &err), 0);
    double k1[4] = {1, 1, 1, 1}, k0[4] = {0, 0, 0, 0};
    nr_curve_series flat = {4, k0, k0, k1, k1, NULL, NULL};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("flat.png", path, sizeof path), &flat,
                                             "flat", &err), 0);
    ck_assert_int_eq(nr_plot_learning_curves_layout(&flat, "flat", &L, &err), 0);
    ck_assert(L.cost.y_max > L.cost.y_min && L.accuracy.y_max > L.accuracy.y_min);

    /* thousands of epochs, huge and tiny values */
    enum { N = 3000 };
    double *big = malloc(N * sizeof *big), *acc = malloc(N * sizeof *acc);
    ck_assert(big && acc);
    for (int i = 0; i < N; i++) {
        big[i] = 1e9 / (i + 1);
        acc[i] = 1 - 0.5 / (i + 1);
    }
    nr_curve_series many = {N, big, big, acc, acc, big, acc};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("many.png", path, sizeof path), &many,
                                             "many", &err), 0);
    ck_assert_int_eq(nr_plot_learning_curves_layout(&many, "many", &L, &err), 0);
    ck_assert(L.cost.x_max >= N && L.cost.x_max < N * 1.1);
    im = read_png(path);
    nr_plot_panel_to_pixel(&L.accuracy, N, acc[N - 1], &x, &y);
    ck_assert_int_ge(color_near(&im, x, y, 3, NR_PLOT_COLOR_TRAIN), 1);
    free(im.rgb);
    free(big);
    free(acc);

    /* a title of many lines makes the picture taller, the plot area stays */
    ck_assert_int_eq(nr_plot_learning_curves_layout(&one, "a\nb\nc\nd\ne\nf", &L, &err), 0);
    ck_assert_int_gt(L.height, 500);
    ck_assert_double_ge(L.cost.area.h, 300);
    ck_assert_int_eq(tmp_files_in(g_base), 0);
}
END_TEST

START_TEST(learning_curves_svg)
{
    char path[1024];
    nr_curve_series s = series10(1);
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("lc.SVG", path, sizeof path), &s, TITLE,
                                             &err), 0);
    char *text = read_text(path);
    ck_assert_msg(strstr(text, "<svg") != NULL, "no <svg> element");
    ck_assert_msg(strstr(text, "</svg>") != NULL, "SVG not finished");
    ck_assert_msg(strstr(text, "1200") != NULL, "no width 1200");
    ck_assert_msg(strncmp(text, "\x89PNG", 4) != 0, "PNG written for .svg");
    free(text);
    ck_assert_int_eq(tmp_files_in(g_base), 0);
}
END_TEST

START_TEST(curves_bad_arguments)
{
    char path[1024];
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_learning_curves(in_base("x.png", path, sizeof path), NULL, "t",
                                             &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERNAL);
    ck_assert(!file_exists(path));
    nr_curve_series s = series10(0);
    ck_assert_int_eq(nr_plot_compare_curves(path, &s, NULL, 0, "t", &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert(!file_exists(path));
    /* err may be NULL */
    ck_assert_int_eq(nr_plot_learning_curves(path, NULL, "t", NULL), -1);
}
END_TEST

/* ------------------------------------------------------------ compare */

START_TEST(compare_curves_overlay)
{
    enum { R = 3 };
    static double cost[R][E], acc[R][E], tcost[R][E], tacc[R][E];
    nr_curve_series runs[R];
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < E; i++) {
            acc[r][i] = 0.6 + 0.1 * r + 0.02 * i;   /* test accuracy, run r */
            tacc[r][i] = acc[r][i] + 0.01;
            cost[r][i] = 1.5 - 0.4 * r - 0.05 * i;  /* test cost */
            tcost[r][i] = cost[r][i] - 0.02;
        }
        /* series: train_cost, test_cost, train_acc, test_acc */
        runs[r] = (nr_curve_series){E, tcost[r], cost[r], tacc[r], acc[r], NULL, NULL};
    }
    const char *labels[R] = {"ex2_cnn", NULL, "ex4_adam"};
    char path[1024];
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_compare_curves(in_base("cmp.png", path, sizeof path), runs,
                                            labels, R, "compare", &err), 0);
    nr_curves_layout L;
    ck_assert_int_eq(nr_plot_compare_curves_layout(runs, labels, R, "compare", &L, &err), 0);
    image im = read_png(path);
    ck_assert_int_eq(im.w, L.width);
    ck_assert_int_eq(im.h, L.height);
    ck_assert(L.legend.w > 0 && L.legend.y > L.cost.area.y + L.cost.area.h);
    ck_assert(L.legend.y + L.legend.h <= im.h);
    ck_assert_uint_eq(L.cost.legend.w, 0);
    for (int r = 0; r < R; r++) {
        uint32_t c = nr_plot_run_color(r);
        double x, y;
        nr_plot_panel_to_pixel(&L.accuracy, 10, acc[r][9], &x, &y);
        ck_assert_msg(color_near(&im, x, y, 2, c) >= 4, "run %d's test accuracy not at its end", r);
        nr_plot_panel_to_pixel(&L.cost, 1, cost[r][0], &x, &y);
        ck_assert_msg(color_near(&im, x, y, 2, c) >= 4, "run %d's test cost not at its start", r);
        /* the legend holds each run's colour */
        ck_assert_int_gt(color_near(&im, L.legend.x + L.legend.w / 2,
                                    L.legend.y + L.legend.h / 2, (int)(L.legend.w / 2), c), 10);
    }
    /* runs of different lengths (one diverged to NaN): x spans the longest */
    runs[1].epochs = 4;
    cost[2][7] = NAN;
    ck_assert_int_eq(nr_plot_compare_curves(path, runs, labels, R, NULL, &err), 0);
    ck_assert_int_eq(nr_plot_compare_curves_layout(runs, labels, R, NULL, &L, &err), 0);
    ck_assert(L.accuracy.x_max > 10 && L.accuracy.x_max < 11);
    free(im.rgb);
    im = read_png(path);
    double x, y;
    nr_plot_panel_to_pixel(&L.accuracy, 4, acc[1][3], &x, &y);
    ck_assert_int_ge(color_near(&im, x, y, 2, nr_plot_run_color(1)), 4);
    nr_plot_panel_to_pixel(&L.accuracy, 10, acc[1][9], &x, &y); /* run 1 stops at 4 */
    ck_assert_int_eq(color_near(&im, x, y, 3, nr_plot_run_color(1)), 0);
    /* distinct colours for distinct runs */
    ck_assert(!close_to(nr_plot_run_color(0), nr_plot_run_color(1), 24));
    ck_assert(!close_to(nr_plot_run_color(1), nr_plot_run_color(2), 24));
    free(im.rgb);
}
END_TEST

/* ------------------------------------------------------------ confusion */

static const int64_t M3[9] = {50, 2, 0, 5, 40, 10, 0, 1, 80};

START_TEST(confusion_heatmap_darkness)
{
    const char *names[3] = {"cat", "dog", "bird"};
    char path[1024];
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_confusion(in_base("cm.png", path, sizeof path), M3, 3, names,
                                       "Confusion", &err), 0);
    nr_confusion_layout L;
    ck_assert_int_eq(nr_plot_confusion_layout(3, names, "Confusion", &L, &err), 0);
    ck_assert(L.show_counts);
    image im = read_png(path);
    ck_assert_int_eq(im.w, L.width);
    ck_assert_int_eq(im.h, L.height);
    ck_assert(L.matrix.x + L.matrix.w < L.colorbar.x);
    ck_assert(L.colorbar.x + L.colorbar.w < im.w);
    /* cell colour sampled near each cell's top-left corner, clear of the text */
    double l[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            l[i * 3 + j] = lum(px(&im, (int)(L.matrix.x + j * L.cell + 4),
                                  (int)(L.matrix.y + i * L.cell + 4)));
    for (int a = 0; a < 9; a++)
        for (int b = 0; b < 9; b++)
            if (M3[a] < M3[b])
                ck_assert_msg(l[a] > l[b], "cell %d (count %lld) not lighter than cell %d (%lld)",
                              a, (long long)M3[a], b, (long long)M3[b]);
            else if (M3[a] == M3[b])
                ck_assert_msg(fabs(l[a] - l[b]) < 0.02, "equal counts, different colours");
    ck_assert(l[8] < 0.35); /* the largest count is dark */
    ck_assert(l[2] > 0.9);  /* zero is (almost) white */
    /* count text contrasts: light pixels in the dark cell (2,2), dark pixels
     * in the light cell (0,1) around its centre */
    double cx = L.matrix.x + 2.5 * L.cell, cy = L.matrix.y + 2.5 * L.cell;
    int light = 0, darkpx = 0;
    for (int y = (int)(cy - L.cell / 4); y <= (int)(cy + L.cell / 4); y++)
        for (int x = (int)(cx - L.cell / 4); x <= (int)(cx + L.cell / 4); x++)
            light += lum(px(&im, x, y)) > 0.85;
    cx = L.matrix.x + 1.5 * L.cell;
    cy = L.matrix.y + 0.5 * L.cell;
    for (int y = (int)(cy - L.cell / 4); y <= (int)(cy + L.cell / 4); y++)
        for (int x = (int)(cx - L.cell / 4); x <= (int)(cx + L.cell / 4); x++)
            darkpx += lum(px(&im, x, y)) < 0.35;
    ck_assert_int_gt(light, 10);
    ck_assert_int_gt(darkpx, 10);
    /* the colour bar runs from light (bottom) to dark (top) */
    double bx = L.colorbar.x + L.colorbar.w / 2;
    ck_assert(lum(px(&im, (int)bx, (int)(L.colorbar.y + L.colorbar.h - 3))) > 0.9);
    ck_assert(lum(px(&im, (int)bx, (int)(L.colorbar.y + 3))) < 0.35);
    free(im.rgb);
}
END_TEST

START_TEST(confusion_sizes)
{
    char path[1024];
    nr_error err = {0, ""};
    nr_confusion_layout L2, L10, L20, L50;
    ck_assert_int_eq(nr_plot_confusion_layout(2, NULL, NULL, &L2, &err), 0);
    ck_assert_int_eq(nr_plot_confusion_layout(10, NULL, NULL, &L10, &err), 0);
    ck_assert_int_eq(nr_plot_confusion_layout(20, NULL, NULL, &L20, &err), 0);
    ck_assert_int_eq(nr_plot_confusion_layout(50, NULL, "fifty", &L50, &err), 0);
    ck_assert(L2.cell >= L10.cell && L10.cell > L20.cell && L20.cell > L50.cell);
    ck_assert(L20.cell >= 30);
    ck_assert(L2.show_counts && L10.show_counts && L20.show_counts && !L50.show_counts);

    /* k = 50 draws (no cell text), with identity counts */
    int64_t *m = calloc(50 * 50, sizeof *m);
    ck_assert_ptr_nonnull(m);
    for (int i = 0; i < 50; i++)
        m[i * 50 + i] = 10 + i;
    ck_assert_int_eq(nr_plot_confusion(in_base("cm50.png", path, sizeof path), m, 50, NULL,
                                       "fifty", &err), 0);
    image im = read_png(path);
    ck_assert_int_eq(im.w, L50.width);
    /* the last diagonal cell is the darkest, an off-diagonal one white */
    double c = L50.matrix.x + 49.5 * L50.cell, r = L50.matrix.y + 49.5 * L50.cell;
    ck_assert(lum(px(&im, (int)c, (int)r)) < 0.35);
    ck_assert(lum(px(&im, (int)(L50.matrix.x + 0.5 * L50.cell), (int)r)) > 0.9);
    free(im.rgb);
    free(m);

    /* an empty (all-zero) matrix and k = 1 are fine */
    int64_t z[4] = {0, 0, 0, 0}, one[1] = {7};
    ck_assert_int_eq(nr_plot_confusion(in_base("zero.png", path, sizeof path), z, 2, NULL,
                                       NULL, &err), 0);
    ck_assert_int_eq(nr_plot_confusion(in_base("one.png", path, sizeof path), one, 1, NULL,
                                       "k=1", &err), 0);

    /* too many classes for a picture: input error, no file */
    ck_assert_int_eq(nr_plot_confusion_layout(5000, NULL, NULL, &L2, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    /* negative count, k = 0, NULL matrix: caller bugs */
    int64_t neg[4] = {1, -1, 0, 1};
    ck_assert_int_eq(nr_plot_confusion(in_base("neg.png", path, sizeof path), neg, 2, NULL,
                                       NULL, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERNAL);
    ck_assert_msg(strstr(err.message, "negative") != NULL, "%s", err.message);
    ck_assert(!file_exists(path));
    ck_assert_int_eq(nr_confusion_write_csv(path, neg, 0, NULL, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERNAL);
    ck_assert_int_eq(nr_confusion_write_metrics(path, NULL, 3, NULL, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERNAL);
    ck_assert(!file_exists(path));
}
END_TEST

/* Minimal RFC 4180 reader: splits text into fields[row][col]. */
typedef struct csv {
    int rows, cols[64];
    char field[64][16][64];
} csv;

static void csv_parse(const char *s, csv *c)
{
    memset(c, 0, sizeof *c);
    int r = 0, f = 0;
    size_t n = 0;
    int quoted = 0, any = 0;
    for (const char *p = s;; p++) {
        if (quoted) {
            if (*p == '"' && p[1] == '"') {
                c->field[r][f][n++] = '"';
                p++;
            } else if (*p == '"') {
                quoted = 0;
            } else {
                ck_assert_msg(*p, "unterminated quote");
                c->field[r][f][n++] = *p;
            }
            continue;
        }
        if (*p == '"') {
            quoted = 1;
            any = 1;
        } else if (*p == ',') {
            c->field[r][f][n] = '\0';
            f++;
            n = 0;
        } else if (*p == '\n' || *p == '\0') {
            if (*p == '\0' && !any && f == 0 && n == 0)
                break;
            c->field[r][f][n] = '\0';
            c->cols[r] = f + 1;
            r++;
            f = 0;
            n = 0;
            any = 0;
            if (*p == '\0')
                break;
        } else {
            c->field[r][f][n++] = *p;
            any = 1;
        }
        ck_assert(n < 63 && f < 16 && r < 64);
    }
    c->rows = r;
}

START_TEST(confusion_csv_round_trip)
{
    const char *names[3] = {"plain", "with, comma", "say \"hi\""};
    char path[1024];
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_confusion_write_csv(in_base("cm.csv", path, sizeof path), M3, 3, names,
                                            &err), 0);
    char *text = read_text(path);
    static csv c;
    csv_parse(text, &c);
    ck_assert_int_eq(c.rows, 4);
    ck_assert_str_eq(c.field[0][0], "true\\predicted");
    for (int r = 0; r < 4; r++)
        ck_assert_int_eq(c.cols[r], 4);
    for (int j = 0; j < 3; j++) {
        ck_assert_str_eq(c.field[0][j + 1], names[j]);
        ck_assert_str_eq(c.field[j + 1][0], names[j]);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            ck_assert_int_eq(strtoll(c.field[i + 1][j + 1], NULL, 10), M3[i * 3 + j]);
    free(text);
    /* NULL names: indices */
    ck_assert_int_eq(nr_confusion_write_csv(path, M3, 3, NULL, &err), 0);
    text = read_text(path);
    ck_assert_str_eq(text, "true\\predicted,0,1,2\n0,50,2,0\n1,5,40,10\n2,0,1,80\n");
    free(text);
    ck_assert_int_eq(tmp_files_in(g_base), 0);
}
END_TEST

START_TEST(confusion_metrics_hand_computed)
{
    /* rows = true, cols = predicted
     *        a  b  c   | support
     *   a    5  1  0   | 6
     *   b    2  3  1   | 6
     *   c    0  0  4   | 4
     *   col  7  4  5     N = 16, trace = 12
     * a: P = 5/7 = .714286  R = 5/6 = .833333  F1 = 10/13 = .769231
     * b: P = 3/4 = .75      R = 3/6 = .5       F1 = .6
     * c: P = 4/5 = .8       R = 4/4 = 1        F1 = 8/9 = .888889
     * macro:    P = .754762  R = .777778  F1 = .752707
     * weighted: P = (6*5/7 + 6*.75 + 4*.8)/16 = .749107,  R = 12/16 = .75,
     *           F1 = (6*10/13 + 6*.6 + 4*8/9)/16 = .735684
     * accuracy = 12/16 = .75 */
    const int64_t m[9] = {5, 1, 0, 2, 3, 1, 0, 0, 4};
    const char *names[3] = {"a", "b", "c"};
    char path[1024];
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_confusion_write_metrics(in_base("metrics.csv", path, sizeof path), m, 3,
                                                names, &err), 0);
    char *text = read_text(path);
    ck_assert_str_eq(text, "class,precision,recall,f1,support\n"
                           "a,0.714286,0.833333,0.769231,6\n"
                           "b,0.750000,0.500000,0.600000,6\n"
                           "c,0.800000,1.000000,0.888889,4\n"
                           "macro avg,0.754762,0.777778,0.752707,16\n"
                           "weighted avg,0.749107,0.750000,0.735684,16\n"
                           "accuracy,0.750000,0.750000,0.750000,16\n");
    free(text);

    /* 0/0 is 0: class 2 never occurs and is never predicted; class 1 is
     * predicted but never right */
    const int64_t z[9] = {3, 1, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(nr_confusion_write_metrics(path, z, 3, NULL, &err), 0);
    text = read_text(path);
    ck_assert_str_eq(text, "class,precision,recall,f1,support\n"
                           "0,1.000000,0.750000,0.857143,4\n"
                           "1,0.000000,0.000000,0.000000,0\n"
                           "2,0.000000,0.000000,0.000000,0\n"
                           "macro avg,0.333333,0.250000,0.285714,4\n"
                           "weighted avg,1.000000,0.750000,0.857143,4\n"
                           "accuracy,0.750000,0.750000,0.750000,4\n");
    free(text);
    /* an all-zero matrix: every ratio 0, nothing divides by zero */
    const int64_t e[4] = {0, 0, 0, 0};
    ck_assert_int_eq(nr_confusion_write_metrics(path, e, 2, NULL, &err), 0);
    text = read_text(path);
    ck_assert_msg(strstr(text, "nan") == NULL && strstr(text, "inf") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "accuracy,0.000000,0.000000,0.000000,0\n") != NULL, "%s", text);
    free(text);
}
END_TEST

/* ------------------------------------------------------------ gallery */

static void check_tiles(const image *im, const nr_gallery_layout *L, const nr_gallery_item *items,
                        size_t count, int channels, int h, int w)
{
    int s = (int)L->scale;
    ck_assert_double_eq(L->scale, s);
    size_t plane = (size_t)h * (size_t)w;
    for (size_t i = 0; i < count; i++) {
        int tx = L->x0 + (int)(i % (size_t)L->columns) * L->pitch_x;
        int ty = L->y0 + (int)(i / (size_t)L->columns) * L->pitch_y;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t k = (size_t)y * (size_t)w + (size_t)x;
                uint32_t want;
                if (channels == 1)
                    want = items[i].pixels[k] * 0x010101u;
                else
                    want = ((uint32_t)items[i].pixels[k] << 16) |
                           ((uint32_t)items[i].pixels[plane + k] << 8) |
                           items[i].pixels[2 * plane + k];
                /* every pixel of the s x s block equals the source pixel */
                for (int dy = 0; dy < s; dy++)
                    for (int dx = 0; dx < s; dx++) {
                        uint32_t got = px(im, tx + x * s + dx, ty + y * s + dy);
                        if (got != want)
                            ck_abort_msg("item %zu pixel (%d,%d) block (%d,%d): got %06x "
                                         "want %06x",
                                         i, x, y, dx, dy, got, want);
                    }
            }
    }
}

START_TEST(gallery_gray_tiles)
{
    enum { COUNT = 7, H = 28, W = 28 };
    static uint8_t pix[COUNT][H * W];
    nr_gallery_item items[COUNT];
    static const char *names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    unsigned seed = 12345;
    for (int i = 0; i < COUNT; i++) {
        for (int k = 0; k < H * W; k++) {
            seed = seed * 1103515245u + 12345u;
            pix[i][k] = (uint8_t)(seed >> 16);
        }
        items[i] = (nr_gallery_item){pix[i], names[i], names[(i + 3) % 10], 0.5 + 0.05 * i};
    }
    items[6].probability = NAN;
    items[5].true_name = NULL;
    char path[1024];
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_gallery(in_base("gal.png", path, sizeof path), items, COUNT, 1, H,
                                     W, NULL, &err), 0);
    nr_gallery_layout L;
    ck_assert_int_eq(nr_plot_gallery_layout(COUNT, 1, H, W, NULL, &L, &err), 0);
    ck_assert_int_eq(L.columns, 5);
    ck_assert_int_eq(L.rows, 2);
    ck_assert_double_eq(L.scale, 4);
    ck_assert_int_eq(L.image_w, 112);
    ck_assert_int_eq(L.image_h, 112);
    image im = read_png(path);
    ck_assert_int_eq(im.w, L.width);
    ck_assert_int_eq(im.h, L.height);
    ck_assert(L.x0 + 4 * L.pitch_x + L.image_w < im.w);
    ck_assert(L.y0 + 1 * L.pitch_y + L.image_h < im.h);
    check_tiles(&im, &L, items, COUNT, 1, H, W);
    /* captions: coloured text under each tile */
    for (int i = 0; i < COUNT; i++) {
        int tx = L.x0 + (i % L.columns) * L.pitch_x, ty = L.y0 + (i / L.columns) * L.pitch_y;
        int dark = 0;
        for (int y = ty + L.image_h + 4; y < ty + L.image_h + 40 && y < im.h; y++)
            for (int x = tx - 30; x < tx + L.image_w + 30; x++)
                dark += lum(px(&im, x, y)) < 0.5;
        ck_assert_msg(dark > 30, "no caption under item %d", i);
    }
    /* captions name the true class in green and the predicted one in red */
    int green = 0, red = 0;
    for (int y = L.y0 + L.image_h + 4; y < L.y0 + L.image_h + 40; y++)
        for (int x = L.x0 - 30; x < L.x0 + L.image_w + 30; x++) {
            green += close_to(px(&im, x, y), NR_PLOT_COLOR_CAPTION_TRUE, 40);
            red += close_to(px(&im, x, y), NR_PLOT_COLOR_CAPTION_PREDICTED, 40);
        }
    ck_assert_int_gt(green, 10);
    ck_assert_int_gt(red, 10);
    /* no tile where there is no item: slot 8 (row 2, column 4) is white */
    int tx = L.x0 + 3 * L.pitch_x, ty = L.y0 + L.pitch_y;
    ck_assert_uint_eq(px(&im, tx + L.image_w / 2, ty + L.image_h / 2), 0xffffffu);
    free(im.rgb);
}
END_TEST

START_TEST(gallery_rgb_and_edges)
{
    enum { H = 6, W = 8 };
    static uint8_t pix[2][3 * H * W];
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3 * H * W; k++)
            pix[i][k] = (uint8_t)(k * 37 + i * 101);
    nr_gallery_item items[2] = {{pix[0], "cat", "dog", 0.9}, {pix[1], "dog", "cat", -1}};
    char path[1024];
    nr_error err = {0, ""};
    ck_assert_int_eq(nr_plot_gallery(in_base("rgb.png", path, sizeof path), items, 2, 3, H, W,
                                     "RGB", &err), 0);
    nr_gallery_layout L;
    ck_assert_int_eq(nr_plot_gallery_layout(2, 3, H, W, "RGB", &L, &err), 0);
    ck_assert_int_eq(L.columns, 2);
    ck_assert(L.scale >= 10);
    image im = read_png(path);
    check_tiles(&im, &L, items, 2, 3, H, W);
    free(im.rgb);

    /* large images are scaled down, long names shortened, zero items fine */
    uint8_t *big = calloc(300 * 400, 1);
    ck_assert_ptr_nonnull(big);
    nr_gallery_item one = {big, "a very very long class name indeed, longer than the tile",
                           "another extremely long class name for the predicted side", 0.5};
    ck_assert_int_eq(nr_plot_gallery(path, &one, 1, 1, 300, 400, NULL, &err), 0);
    ck_assert_int_eq(nr_plot_gallery_layout(1, 1, 300, 400, NULL, &L, &err), 0);
    ck_assert_int_le(L.image_w, 224);
    free(big);
    /* no prediction: the caption is the class name alone, no red */
    items[0].predicted_name = NULL;
    ck_assert_int_eq(nr_plot_gallery(path, items, 1, 3, H, W, "preview", &err), 0);
    ck_assert_int_eq(nr_plot_gallery_layout(1, 3, H, W, "preview", &L, &err), 0);
    im = read_png(path);
    int red = 0, text = 0;
    for (int y = L.y0 + L.image_h + 4; y < L.height; y++)
        for (int x = 0; x < L.width; x++) {
            red += close_to(px(&im, x, y), NR_PLOT_COLOR_CAPTION_PREDICTED, 60);
            text += lum(px(&im, x, y)) < 0.5;
        }
    ck_assert_int_eq(red, 0);
    ck_assert_int_gt(text, 10);
    free(im.rgb);
    ck_assert_int_eq(nr_plot_gallery(path, NULL, 0, 1, 28, 28, NULL, &err), 0);
    im = read_png(path);
    ck_assert_int_gt(im.w, 100);
    free(im.rgb);

    /* caller bugs */
    ck_assert_int_eq(nr_plot_gallery(path, items, 2, 2, H, W, NULL, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERNAL);
    nr_gallery_item nopix = {NULL, "a", "b", 0.5};
    ck_assert_int_eq(nr_plot_gallery(path, &nopix, 1, 1, H, W, NULL, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERNAL);
    ck_assert_int_eq(nr_plot_gallery(path, items, 2, 1, 0, W, NULL, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INTERNAL);
}
END_TEST

/* ------------------------------------------------------------ failures */

static void expect_cannot_write(int rc, const nr_error *err, const char *path)
{
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(err->status, NR_EXIT_INPUT);
    char want[1100];
    snprintf(want, sizeof want, "%s: error: cannot write: ", path);
    ck_assert_msg(strncmp(err->message, want, strlen(want)) == 0, "message: %s", err->message);
    ck_assert_msg(strlen(err->message) > strlen(want), "no reason in: %s", err->message);
}

START_TEST(unwritable_paths)
{
    /* a regular file in the middle of the path: ENOTDIR even for root */
    char file[1024], path[1100], dir[1024];
    in_base("plain-file", file, sizeof file);
    FILE *fp = fopen(file, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("x", fp);
    fclose(fp);
    nr_curve_series s = series10(1);
    static const uint8_t four[4] = {0, 80, 160, 240};
    nr_gallery_item it = {four, "1", "2", 0.5};
    const char *suffixes[] = {"png", "svg"};
    for (int k = 0; k < 2; k++) {
        nr_error err = {0, ""};
        snprintf(path, sizeof path, "%s/out.%s", file, suffixes[k]);
        expect_cannot_write(nr_plot_learning_curves(path, &s, "t", &err), &err, path);
        expect_cannot_write(nr_plot_compare_curves(path, &s, NULL, 1, "t", &err), &err, path);
        expect_cannot_write(nr_plot_confusion(path, M3, 3, NULL, "t", &err), &err, path);
        expect_cannot_write(nr_plot_gallery(path, &it, 1, 1, 2, 2, NULL, &err), &err, path);
    }
    nr_error err = {0, ""};
    snprintf(path, sizeof path, "%s/cm.csv", file);
    expect_cannot_write(nr_confusion_write_csv(path, M3, 3, NULL, &err), &err, path);
    expect_cannot_write(nr_confusion_write_metrics(path, M3, 3, NULL, &err), &err, path);
    snprintf(path, sizeof path, "%s/no/such/folder/lc.png", g_base);
    expect_cannot_write(nr_plot_learning_curves(path, &s, "t", &err), &err, path);
    ck_assert_msg(strstr(err.message, "No such file") != NULL, "%s", err.message);

    /* the target is a folder: the temporary file is written, rename fails, and
     * the temporary file must be gone afterwards */
    in_base("a-folder", dir, sizeof dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    expect_cannot_write(nr_plot_learning_curves(dir, &s, "t", &err), &err, dir);
    expect_cannot_write(nr_plot_confusion(dir, M3, 3, NULL, "t", &err), &err, dir);
    expect_cannot_write(nr_confusion_write_metrics(dir, M3, 3, NULL, &err), &err, dir);
    in_base("b-folder.svg", dir, sizeof dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    expect_cannot_write(nr_plot_learning_curves(dir, &s, "t", &err), &err, dir);
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(tmp_files_in(g_base), 0);
}
END_TEST

START_TEST(rewrite_replaces_file)
{
    char path[1024];
    nr_error err = {0, ""};
    in_base("cm.png", path, sizeof path);
    ck_assert_int_eq(nr_plot_confusion(path, M3, 3, NULL, "first", &err), 0);
    image a = read_png(path);
    const int64_t other[4] = {1, 2, 3, 4};
    ck_assert_int_eq(nr_plot_confusion(path, other, 2, NULL, "second", &err), 0);
    image b = read_png(path);
    nr_confusion_layout L;
    ck_assert_int_eq(nr_plot_confusion_layout(2, NULL, "second", &L, &err), 0);
    ck_assert_int_eq(b.w, L.width);
    ck_assert_int_eq(b.h, L.height);
    ck_assert(a.w != b.w || a.h != b.h || memcmp(a.rgb, b.rgb, (size_t)a.w * a.h * 3) != 0);
    free(a.rgb);
    free(b.rgb);
    ck_assert_int_eq(tmp_files_in(g_base), 0);
}
END_TEST

/* With no font installed (an empty fontconfig configuration) every picture is
 * still drawn (cairo falls back to its built-in font) and nothing crashes.
 * Runs in a child process so the empty configuration cannot leak. */
START_TEST(no_fonts_still_draws)
{
    char conf[1024], cache[1024], path[1024];
    in_base("empty-fonts.conf", conf, sizeof conf);
    in_base("fc-cache", cache, sizeof cache);
    FILE *fp = fopen(conf, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n"
                "<fontconfig><cachedir>%s</cachedir></fontconfig>\n", cache);
    fclose(fp);
    in_base("nofont.png", path, sizeof path);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("FONTCONFIG_FILE", conf, 1);
        nr_error err = {0, ""};
        nr_curve_series s = series10(1);
        int bad = nr_plot_learning_curves(path, &s, TITLE, &err) != 0;
        bad |= nr_plot_confusion(path, M3, 3, NULL, "t", &err) != 0;
        static const uint8_t four[4] = {0, 80, 160, 240};
        nr_gallery_item it = {four, "1", "2", 0.5};
        bad |= nr_plot_gallery(path, &it, 1, 1, 2, 2, NULL, &err) != 0;
        bad |= nr_plot_learning_curves(path, &s, TITLE, &err) != 0;
        _exit(bad ? 3 : 0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    image im = read_png(path);
    ck_assert_int_ge(im.w, 1100);
    ck_assert_uint_ge(color_count(&im, NR_PLOT_COLOR_TRAIN), 300);
    free(im.rgb);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *plot_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, duration_golden_strings);
    tcase_add_test(tc, learning_curves_size_and_content);
    tcase_add_test(tc, learning_curves_drawn_where_data_says);
    tcase_add_test(tc, learning_curves_with_validation);
    tcase_add_test(tc, learning_curves_edge_cases);
    tcase_add_test(tc, learning_curves_svg);
    tcase_add_test(tc, curves_bad_arguments);
    tcase_add_test(tc, compare_curves_overlay);
    tcase_add_test(tc, confusion_heatmap_darkness);
    tcase_add_test(tc, confusion_sizes);
    tcase_add_test(tc, confusion_csv_round_trip);
    tcase_add_test(tc, confusion_metrics_hand_computed);
    tcase_add_test(tc, gallery_gray_tiles);
    tcase_add_test(tc, gallery_rgb_and_edges);
    tcase_add_test(tc, unwritable_paths);
    tcase_add_test(tc, rewrite_replaces_file);
    tcase_add_test(tc, no_fonts_still_draws);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
