/* plot/confusion.c - the confusion matrix as a heatmap picture, as CSV, and
 * as a per-class precision/recall/F1 table. See netrun/plot.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/format.h"
#include "netrun/plot.h"
#include "plot/common.h"

#define MAX_PICTURE_K   4096
#define COUNTS_MAX_K    20     /* counts are written in the cells up to this k */
#define MATRIX_TARGET   720.0  /* matrix side aimed at, in pixels */
#define CELL_MAX        120.0
#define NAME_MAX_W      170.0  /* longer class names are shortened with "..." */
#define BAR_W           18.0
#define COS45           0.70710678118654752440

/* ------------------------------------------------------------ checks */

static const char *class_name(const char *const *names, size_t i, char *buf, size_t size)
{
    if (names && names[i])
        return names[i];
    snprintf(buf, size, "%zu", i);
    return buf;
}

static int check_matrix(const char *path, const int64_t *matrix, size_t k, nr_error *err)
{
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "confusion matrix: error: no output path");
    if (!matrix)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: no confusion matrix given", path);
    if (k == 0)
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: a confusion matrix needs at least 1 class", path);
    if (k > (size_t)1 << 24)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: %zu classes are too many", path, k);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            if (matrix[i * k + j] < 0)
                return nr_fail(err, NR_EXIT_INTERNAL,
                               "%s: error: confusion matrix cell (true %zu, predicted %zu) "
                               "is negative (%" PRId64 "); counts must be >= 0",
                               path, i, j, matrix[i * k + j]);
    return 0;
}

/* ------------------------------------------------------------ colour map */

/* matplotlib's "Blues", t in [0, 1] -> 0xRRGGBB */
static uint32_t blues(double t)
{
    static const uint32_t stops[9] = {0xf7fbffu, 0xdeebf7u, 0xc6dbefu, 0x9ecae1u, 0x6baed6u,
                                      0x4292c6u, 0x2171b5u, 0x08519cu, 0x08306bu};
    if (!(t > 0))
        t = 0;
    if (t > 1)
        t = 1;
    double x = t * 8;
    int i = (int)x;
    if (i >= 8)
        return stops[8];
    double f = x - i;
    uint32_t a = stops[i], b = stops[i + 1], out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        double ca = (a >> sh) & 0xff, cb = (b >> sh) & 0xff;
        uint32_t c = (uint32_t)lround(ca + (cb - ca) * f);
        out |= c << sh;
    }
    return out;
}

static double luminance(uint32_t rgb)
{
    return (0.2126 * ((rgb >> 16) & 0xff) + 0.7152 * ((rgb >> 8) & 0xff) +
            0.0722 * (rgb & 0xff)) /
           255.0;
}

/* ------------------------------------------------------------ layout */

typedef struct conf_geo {
    nr_confusion_layout pub;
    double title_top;
    int label_step;          /* every label_step-th class name is written */
    int rotate_x;            /* x names at 45 degrees */
    double name_w;           /* widest (shortened) name */
    double xlabel_y;         /* top of the x names */
    double xtitle_y;         /* top of "Predicted" */
    double ytitle_x;         /* centre of the rotated "True" */
} conf_geo;

static void conf_layout(cairo_t *cr, size_t k, const char *const *names, const char *title,
                        conf_geo *g)
{
    memset(g, 0, sizeof *g);
    nr_confusion_layout *L = &g->pub;
    double cell = floor(MATRIX_TARGET / (double)k);
    if (cell > CELL_MAX)
        cell = CELL_MAX;
    if (cell < 1)
        cell = 1;
    L->cell = cell;
    L->show_counts = k <= COUNTS_MAX_K;
    double side = cell * (double)k;

    nrp_font(cr, NRP_FONT_TICK, 0);
    double line_h = nrp_line_height(cr);
    double name_w = 0;
    char nb[32], fit[256];
    for (size_t i = 0; i < k; i++) {
        nrp_fit_text(cr, class_name(names, i, nb, sizeof nb), NAME_MAX_W, fit, sizeof fit);
        double w = nrp_text_width(cr, fit);
        name_w = w > name_w ? w : name_w;
    }
    g->name_w = name_w;
    g->rotate_x = name_w > cell - 6;
    int step = (int)ceil((line_h + 2) / (g->rotate_x ? cell * COS45 : cell));
    if (!g->rotate_x) {
        int s2 = (int)ceil((name_w + 6) / cell);
        step = s2 > step ? s2 : step;
    }
    g->label_step = step < 1 ? 1 : step;
    double xnames_h = g->rotate_x ? (name_w + line_h) * COS45 : line_h;

    nrp_font(cr, NRP_FONT_AXIS, 0);
    double axis_h = nrp_line_height(cr);
    nrp_font(cr, NRP_FONT_TICK, 0);
    double bar_label_w = nrp_text_width(cr, "0000000");

    double left = 20 + axis_h + 10 + name_w + 8;
    if (g->rotate_x) { /* the first column's slanted name must fit on the left */
        double need = 10 + (name_w + line_h) * COS45 - cell / 2;
        left = need > left ? need : left;
    }
    double content_w = left + side + 24 + BAR_W + 6 + bar_label_w + 24;
    double width = ceil(content_w);
    if (width < 640)
        width = 640;
    double shift = floor((width - content_w) / 2);
    double title_h = nrp_title_height(cr, title, width);
    g->title_top = 14;
    double top = ceil(g->title_top + title_h + (title_h > 0 ? 14 : 10));

    L->matrix = (nr_plot_rect){floor(shift + left), top, side, side};
    L->colorbar = (nr_plot_rect){L->matrix.x + side + 24, top, BAR_W, side};
    g->xlabel_y = top + side + 6;
    g->xtitle_y = g->xlabel_y + xnames_h + 8;
    g->ytitle_x = shift + 20;
    L->width = (int)width;
    L->height = (int)ceil(g->xtitle_y + axis_h + 18);
}

static int conf_layout_measured(size_t k, const char *const *names, const char *title,
                                conf_geo *g, const char *what, nr_error *err)
{
    if (k == 0)
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: a confusion matrix needs at least 1 class", what);
    if (k > MAX_PICTURE_K)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: %zu classes are too many for a confusion picture; at "
                       "most %d (the CSV holds any number)",
                       what, k, MAX_PICTURE_K);
    cairo_t *m = nrp_measure_new();
    if (!m)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", what);
    conf_layout(m, k, names, title, g);
    cairo_status_t st = cairo_status(m);
    nrp_measure_free(m);
    if (st != CAIRO_STATUS_SUCCESS)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot lay out text: %s", what,
                       cairo_status_to_string(st));
    return 0;
}

int nr_plot_confusion_layout(size_t k, const char *const *class_names, const char *title,
                             nr_confusion_layout *out, nr_error *err)
{
    conf_geo g;
    if (conf_layout_measured(k, class_names, title, &g, "confusion matrix", err) != 0)
        return -1;
    if (out)
        *out = g.pub;
    return 0;
}

/* ------------------------------------------------------------ drawing */

static int draw_cells(cairo_t *cr, const conf_geo *g, const int64_t *matrix, size_t k,
                      int64_t maxc)
{
    /* one pixel per cell in an image, scaled up with nearest-neighbour: fast
     * for any k, and exact cell colours */
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)k, (int)k);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return -1;
    }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (size_t i = 0; i < k; i++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)stride * i);
        for (size_t j = 0; j < k; j++) {
            double t = maxc > 0 ? (double)matrix[i * k + j] / (double)maxc : 0.0;
            row[j] = blues(t);
        }
    }
    cairo_surface_mark_dirty(img);
    const nr_plot_rect *m = &g->pub.matrix;
    cairo_save(cr);
    cairo_translate(cr, m->x, m->y);
    cairo_scale(cr, g->pub.cell, g->pub.cell);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, (double)k, (double)k);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);

    if (g->pub.cell >= 12 && k > 1) { /* thin white separators */
        nrp_rgb(cr, 0xffffffu);
        cairo_set_line_width(cr, 1);
        for (size_t i = 1; i < k; i++) {
            double p = m->x + g->pub.cell * (double)i;
            cairo_move_to(cr, p, m->y);
            cairo_line_to(cr, p, m->y + m->h);
            p = m->y + g->pub.cell * (double)i;
            cairo_move_to(cr, m->x, p);
            cairo_line_to(cr, m->x + m->w, p);
        }
        cairo_stroke(cr);
    }
    return 0;
}

static void draw_counts(cairo_t *cr, const conf_geo *g, const int64_t *matrix, size_t k,
                        int64_t maxc)
{
    double cell = g->pub.cell;
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, maxc);
    double size = 15;
    nrp_font(cr, size, 0);
    double w = nrp_text_width(cr, buf);
    if (w > cell * 0.86)
        size *= cell * 0.86 / w;
    if (size > cell * 0.42)
        size = cell * 0.42;
    if (size < 6)
        return;
    nrp_font(cr, size, 0);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            int64_t c = matrix[i * k + j];
            uint32_t bg = blues(maxc > 0 ? (double)c / (double)maxc : 0.0);
            /* zeros in grey, so the errors stand out */
            nrp_rgb(cr, luminance(bg) < 0.5 ? 0xffffffu : c == 0 ? 0x9e9e9eu : 0x1a1a1au);
            snprintf(buf, sizeof buf, "%" PRId64, c);
            nrp_text(cr, g->pub.matrix.x + cell * ((double)j + 0.5),
                     g->pub.matrix.y + cell * ((double)i + 0.5), buf, NRP_CENTER, NRP_MIDDLE);
        }
}

static void draw_names(cairo_t *cr, const conf_geo *g, const char *const *names, size_t k)
{
    const nr_plot_rect *m = &g->pub.matrix;
    double cell = g->pub.cell;
    char nb[32], fit[256];
    nrp_font(cr, NRP_FONT_TICK, 0);
    nrp_rgb(cr, 0x222222u);
    cairo_set_line_width(cr, 1);
    for (size_t i = 0; i < k; i += (size_t)g->label_step) {
        nrp_fit_text(cr, class_name(names, i, nb, sizeof nb), NAME_MAX_W, fit, sizeof fit);
        double c = cell * ((double)i + 0.5);
        /* row name (true class) */
        nrp_text(cr, m->x - 8, m->y + c, fit, NRP_RIGHT, NRP_MIDDLE);
        /* column name (predicted class) */
        if (g->rotate_x)
            nrp_text_rotated(cr, m->x + c + 4, g->xlabel_y, -NRP_PI / 4, fit, NRP_RIGHT,
                             NRP_TOP);
        else
            nrp_text(cr, m->x + c, g->xlabel_y, fit, NRP_CENTER, NRP_TOP);
    }
    nrp_font(cr, NRP_FONT_AXIS, 1);
    nrp_rgb(cr, 0x111111u);
    nrp_text(cr, m->x + m->w / 2, g->xtitle_y, "Predicted", NRP_CENTER, NRP_TOP);
    nrp_text_rotated(cr, g->ytitle_x, m->y + m->h / 2, -NRP_PI / 2, "True", NRP_CENTER,
                     NRP_TOP);
}

static void draw_colorbar(cairo_t *cr, const conf_geo *g, int64_t maxc)
{
    const nr_plot_rect *b = &g->pub.colorbar;
    cairo_pattern_t *grad = cairo_pattern_create_linear(0, b->y + b->h, 0, b->y);
    for (int s = 0; s <= 16; s++) {
        uint32_t c = blues(s / 16.0);
        cairo_pattern_add_color_stop_rgb(grad, s / 16.0, ((c >> 16) & 0xff) / 255.0,
                                         ((c >> 8) & 0xff) / 255.0, (c & 0xff) / 255.0);
    }
    cairo_rectangle(cr, b->x, b->y, b->w, b->h);
    cairo_set_source(cr, grad);
    cairo_fill(cr);
    cairo_pattern_destroy(grad);
    nrp_rgb(cr, 0x555555u);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, b->x + 0.5, b->y + 0.5, b->w - 1, b->h - 1);
    cairo_stroke(cr);

    double top = maxc > 0 ? (double)maxc : 1.0;
    double step = nrp_nice_step(top, (int)(b->h / 70) + 1);
    if (step < 1)
        step = 1;
    nrp_font(cr, NRP_FONT_TICK, 0);
    char buf[32];
    for (int t = 0; t < 64; t++) {
        double v = step * t;
        if (v > top + 1e-9)
            break;
        double y = floor(b->y + b->h - v / top * b->h) + 0.5;
        if (maxc == 0 && t > 0)
            break;
        nrp_rgb(cr, 0x555555u);
        cairo_move_to(cr, b->x + b->w, y);
        cairo_line_to(cr, b->x + b->w + 5, y);
        cairo_stroke(cr);
        nrp_rgb(cr, 0x222222u);
        nrp_tick_label(v, step, buf, sizeof buf);
        nrp_text(cr, b->x + b->w + 8, y, buf, NRP_LEFT, NRP_MIDDLE);
    }
}

int nr_plot_confusion(const char *path, const int64_t *matrix, size_t k,
                      const char *const *class_names, const char *title, nr_error *err)
{
    if (check_matrix(path, matrix, k, err) != 0)
        return -1;
    conf_geo g;
    if (conf_layout_measured(k, class_names, title, &g, path, err) != 0)
        return -1;
    int64_t maxc = 0;
    for (size_t i = 0; i < k * k; i++)
        maxc = matrix[i] > maxc ? matrix[i] : maxc;

    nrp_canvas c;
    if (nrp_canvas_open(&c, path, g.pub.width, g.pub.height, err) != 0)
        return -1;
    cairo_t *cr = c.cr;
    nrp_title_draw(cr, title, g.pub.width, g.title_top);
    if (draw_cells(cr, &g, matrix, k, maxc) != 0) {
        nrp_canvas_abort(&c);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    }
    if (g.pub.show_counts)
        draw_counts(cr, &g, matrix, k, maxc);
    nrp_rgb(cr, 0x555555u);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, g.pub.matrix.x - 0.5, g.pub.matrix.y - 0.5, g.pub.matrix.w + 1,
                    g.pub.matrix.h + 1);
    cairo_stroke(cr);
    draw_names(cr, &g, class_names, k);
    draw_colorbar(cr, &g, maxc);
    return nrp_canvas_close(&c, err);
}

/* ------------------------------------------------------------ CSV */

int nr_confusion_write_csv(const char *path, const int64_t *matrix, size_t k,
                           const char *const *class_names, nr_error *err)
{
    if (check_matrix(path, matrix, k, err) != 0)
        return -1;
    nr_atomic_file t;
    if (nr_atomic_open(&t, path, err) != 0)
        return -1;
    char nb[32];
    fputs("true\\predicted", t.fp);
    for (size_t j = 0; j < k; j++) {
        fputc(',', t.fp);
        nr_csv_field(t.fp, class_name(class_names, j, nb, sizeof nb));
    }
    fputc('\n', t.fp);
    for (size_t i = 0; i < k; i++) {
        nr_csv_field(t.fp, class_name(class_names, i, nb, sizeof nb));
        for (size_t j = 0; j < k; j++)
            fprintf(t.fp, ",%" PRId64, matrix[i * k + j]);
        fputc('\n', t.fp);
    }
    return nr_atomic_commit(&t, err);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0.0;
}

int nr_confusion_write_metrics(const char *path, const int64_t *matrix, size_t k,
                               const char *const *class_names, nr_error *err)
{
    if (check_matrix(path, matrix, k, err) != 0)
        return -1;
    double *colsum = calloc(k, sizeof *colsum);
    if (!colsum)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    double total = 0, trace = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            colsum[j] += (double)matrix[i * k + j];
            total += (double)matrix[i * k + j];
            if (i == j)
                trace += (double)matrix[i * k + j];
        }
    nr_atomic_file t;
    if (nr_atomic_open(&t, path, err) != 0) {
        free(colsum);
        return -1;
    }
    fputs("class,precision,recall,f1,support\n", t.fp);
    double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
    int64_t n_all = 0;
    char nb[32];
    for (size_t i = 0; i < k; i++) {
        int64_t support = 0;
        for (size_t j = 0; j < k; j++)
            support += matrix[i * k + j];
        n_all += support;
        double tp = (double)matrix[i * k + i];
        double p = ratio(tp, colsum[i]), r = ratio(tp, (double)support);
        double f1 = ratio(2 * p * r, p + r);
        mp += p;
        mr += r;
        mf += f1;
        wp += p * (double)support;
        wr += r * (double)support;
        wf += f1 * (double)support;
        nr_csv_field(t.fp, class_name(class_names, i, nb, sizeof nb));
        fprintf(t.fp, ",%.6f,%.6f,%.6f,%" PRId64 "\n", p, r, f1, support);
    }
    double kk = (double)k;
    fprintf(t.fp, "macro avg,%.6f,%.6f,%.6f,%" PRId64 "\n", mp / kk, mr / kk, mf / kk, n_all);
    fprintf(t.fp, "weighted avg,%.6f,%.6f,%.6f,%" PRId64 "\n", ratio(wp, total),
            ratio(wr, total), ratio(wf, total), n_all);
    double acc = ratio(trace, total);
    fprintf(t.fp, "accuracy,%.6f,%.6f,%.6f,%" PRId64 "\n", acc, acc, acc, n_all);
    free(colsum);
    return nr_atomic_commit(&t, err);
}
