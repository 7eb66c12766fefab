/* plot/curves.c - learning curves (the assignment's Figure 1), the
 * comparison of several runs. See netrun/plot.h.
 *
 * Both figures are one model: two panels (cost, accuracy), each a list of
 * lines; layout() computes every rectangle and range from the data and text
 * sizes (measured on a private context), draw() paints that layout. The
 * public *_layout functions return exactly what draw() uses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/plot.h"
#include "plot/common.h"

#define FIG_WIDTH     1200
#define FIG_HEIGHT    500   /* with a title of at most two lines */
#define MIN_AREA_H    300
#define MARKER_LIMIT  40    /* markers at the points up to this many epochs */
#define TICK_LEN      5.0
#define LEGEND_PAD    8.0
#define LEGEND_ROW    20.0
#define LEGEND_SWATCH 30.0
#define MAX_TICKS     64

enum { MARK_NONE = 0, MARK_CIRCLE, MARK_SQUARE, MARK_TRIANGLE };

typedef struct curve_line {
    const double *y;   /* [n], x = index + 1 */
    size_t n;
    uint32_t rgb;
    int dashed;
    int marker;
    double width;
    const char *label; /* panel legend entry; NULL = none */
} curve_line;

typedef struct curve_panel {
    const char *title, *ylabel;
    int accuracy;            /* y-range rule and percent tick labels */
    curve_line *lines;
    size_t nlines;
    /* computed by layout() */
    nr_plot_panel geo;
    double xstep, ystep, ytick_hi;
} curve_panel;

typedef struct legend_entry {
    const char *label;
    uint32_t rgb;
    int dashed, marker;
} legend_entry;

typedef struct curve_figure {
    const char *title;
    curve_panel panel[2];          /* 0 cost, 1 accuracy */
    size_t max_epochs;
    int markers;
    legend_entry *bottom;          /* figure legend below the panels, or NULL */
    size_t nbottom;
    /* computed */
    int width, height;
    double title_top, panel_title_y;
    nr_plot_rect bottom_rect;
} curve_figure;

/* ------------------------------------------------------------ helpers */

static int finite_at(const curve_line *l, size_t i)
{
    return l->y && i < l->n && isfinite(l->y[i]);
}

void nr_plot_panel_to_pixel(const nr_plot_panel *p, double x, double y, double *px,
                            double *py)
{
    double xs = p->x_max - p->x_min, ys = p->y_max - p->y_min;
    if (px)
        *px = p->area.x + (xs != 0 ? (x - p->x_min) / xs : 0.5) * p->area.w;
    if (py)
        *py = p->area.y + p->area.h - (ys != 0 ? (y - p->y_min) / ys : 0.5) * p->area.h;
}

uint32_t nr_plot_run_color(size_t i)
{
    static const uint32_t tab10[10] = {0x1f77b4u, 0xff7f0eu, 0x2ca02cu, 0xd62728u,
                                       0x9467bdu, 0x8c564bu, 0xe377c2u, 0x7f7f7fu,
                                       0xbcbd22u, 0x17becfu};
    return tab10[i % 10];
}

static void panel_y_range(curve_panel *p)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t l = 0; l < p->nlines; l++)
        for (size_t i = 0; i < p->lines[l].n; i++)
            if (finite_at(&p->lines[l], i)) {
                double v = p->lines[l].y[i];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
    int anchored = 0;
    if (!(lo <= hi)) { /* no finite value at all */
        lo = 0;
        hi = 1;
        anchored = 1;
    } else if (p->accuracy) {
        if (hi < 1)
            hi = 1;
        if (hi - lo < 1e-9)
            lo = hi - 0.05;
    } else {
        if (lo >= 0 && lo <= 0.5 * hi) {
            lo = 0;
            anchored = 1;
        }
        if (hi - lo < 1e-12 * (fabs(hi) + 1)) {
            double d = fabs(hi) > 0 ? 0.1 * fabs(hi) : 0.1;
            lo -= d;
            hi += d;
            if (lo < 0 && hi > 0 && lo >= -hi * 0.5) {
                lo = 0;
                anchored = 1;
            }
        }
    }
    double pad = 0.05 * (hi - lo);
    p->geo.y_min = anchored ? lo : lo - pad;
    p->geo.y_max = hi + pad;
    p->ytick_hi = p->accuracy && hi <= 1.0 + 1e-12 ? 1.0 : INFINITY;
}

/* The y ticks of p (at most MAX_TICKS); returns how many. */
static int panel_y_ticks(const curve_panel *p, double *ticks)
{
    int n = 0;
    double s = p->ystep;
    double k0 = ceil(p->geo.y_min / s - 1e-9);
    for (int j = 0; n < MAX_TICKS; j++) {
        double t = (k0 + j) * s;
        if (t > p->geo.y_max + 1e-9 * s || t > p->ytick_hi + 1e-9 * s)
            break;
        ticks[n++] = t;
    }
    return n;
}

static int panel_x_ticks(const curve_panel *p, size_t max_epochs, double *ticks)
{
    int n = 0;
    double s = p->xstep;
    double hi = max_epochs > 1 ? (double)max_epochs : 1.0;
    /* ticks from epoch 1; a long run also gets 0 at the origin, like
     * matplotlib (0 is inside the padded range only when the step is large) */
    double lo = p->geo.x_min > 0 ? 1.0 : 0.0;
    double k0 = ceil(lo / s - 1e-9);
    for (int j = 0; n < MAX_TICKS; j++) {
        double t = (k0 + j) * s;
        if (t > hi + 1e-9)
            break;
        ticks[n++] = t;
    }
    return n;
}

static void y_label(const curve_panel *p, double v, char *buf, size_t size)
{
    if (p->accuracy)
        nrp_tick_label(v * 100, p->ystep * 100, buf, size);
    else
        nrp_tick_label(v, p->ystep, buf, size);
}

/* Number of sampled curve pixels of p that fall inside r (grown by 4 px). */
static size_t points_inside(const curve_panel *p, const nr_plot_rect *r)
{
    double x0 = r->x - 4, y0 = r->y - 4, x1 = r->x + r->w + 4, y1 = r->y + r->h + 4;
    size_t count = 0;
    for (size_t l = 0; l < p->nlines; l++) {
        const curve_line *ln = &p->lines[l];
        double ppx = 0, ppy = 0;
        int have_prev = 0;
        for (size_t i = 0; i < ln->n; i++) {
            if (!finite_at(ln, i)) {
                have_prev = 0;
                continue;
            }
            double px, py;
            nr_plot_panel_to_pixel(&p->geo, (double)(i + 1), ln->y[i], &px, &py);
            int steps = 1;
            if (have_prev) {
                double d = hypot(px - ppx, py - ppy);
                steps = (int)(d / 4.0) + 1;
                if (steps > 64)
                    steps = 64;
            }
            for (int s = have_prev ? 1 : steps; s <= steps; s++) {
                double t = have_prev ? (double)s / steps : 1.0;
                double sx = ppx + (px - ppx) * t, sy = ppy + (py - ppy) * t;
                if (!have_prev) {
                    sx = px;
                    sy = py;
                }
                if (sx >= x0 && sx <= x1 && sy >= y0 && sy <= y1)
                    count++;
            }
            ppx = px;
            ppy = py;
            have_prev = 1;
        }
    }
    return count;
}

/* ------------------------------------------------------------ layout */

static double legend_label_w(cairo_t *cr, const char *label)
{
    nrp_font(cr, NRP_FONT_LEGEND, 0);
    return nrp_text_width(cr, label);
}

static void panel_legend(cairo_t *cr, curve_panel *p)
{
    size_t rows = 0;
    double maxw = 0;
    for (size_t l = 0; l < p->nlines; l++) {
        if (!p->lines[l].label)
            continue;
        rows++;
        double w = legend_label_w(cr, p->lines[l].label);
        maxw = w > maxw ? w : maxw;
    }
    memset(&p->geo.legend, 0, sizeof p->geo.legend);
    if (rows == 0)
        return;
    double w = ceil(LEGEND_PAD + LEGEND_SWATCH + 8 + maxw + LEGEND_PAD);
    double h = ceil(LEGEND_PAD * 0.75 * 2 + rows * LEGEND_ROW);
    const nr_plot_rect *a = &p->geo.area;
    double m = 10;
    double left = a->x + m, right = a->x + a->w - m - w;
    double top = a->y + m, bottom = a->y + a->h - m - h;
    double cx = a->x + (a->w - w) / 2, cy = a->y + (a->h - h) / 2;
    /* matplotlib's order for loc="best" */
    const double cand[][2] = {{right, top},  {left, top},    {left, bottom}, {right, bottom},
                              {right, cy},   {left, cy},     {cx, bottom},   {cx, top},
                              {cx, cy}};
    size_t best = 0, best_count = (size_t)-1;
    for (size_t c = 0; c < sizeof cand / sizeof cand[0]; c++) {
        nr_plot_rect r = {floor(cand[c][0]), floor(cand[c][1]), w, h};
        size_t n = points_inside(p, &r);
        if (n < best_count) {
            best_count = n;
            best = c;
        }
        if (n == 0)
            break;
    }
    p->geo.legend = (nr_plot_rect){floor(cand[best][0]), floor(cand[best][1]), w, h};
}

/* Flow layout of the bottom legend: entry i at (xs[i], row ys[i]) when
 * non-NULL; returns the number of rows. Entries are centred row by row. */
static int bottom_flow(cairo_t *cr, const curve_figure *f, double *xs, int *row)
{
    double avail = f->width - 80.0;
    double gap = 26;
    int rows = 0;
    size_t start = 0;
    while (start < f->nbottom) {
        double used = 0;
        size_t end = start;
        while (end < f->nbottom) {
            double w = LEGEND_SWATCH + 6 + legend_label_w(cr, f->bottom[end].label);
            double need = (end > start ? gap : 0) + w;
            if (end > start && used + need > avail)
                break;
            used += need;
            end++;
        }
        double x = (f->width - used) / 2;
        for (size_t i = start; i < end; i++) {
            double w = LEGEND_SWATCH + 6 + legend_label_w(cr, f->bottom[i].label);
            if (xs)
                xs[i] = x;
            if (row)
                row[i] = rows;
            x += w + gap;
        }
        rows++;
        start = end;
    }
    return rows;
}

static void layout(cairo_t *cr, curve_figure *f)
{
    f->width = FIG_WIDTH;
    double title_h = nrp_title_height(cr, f->title, f->width);
    f->title_top = 12;
    double top = f->title_top + title_h + (title_h > 0 ? 4 : 0);
    nrp_font(cr, NRP_FONT_PANEL, 1);
    double panel_title_h = nrp_line_height(cr);
    f->panel_title_y = top + 4;
    double area_top = ceil(f->panel_title_y + panel_title_h + 6);

    nrp_font(cr, NRP_FONT_TICK, 0);
    double tick_h = nrp_line_height(cr);
    nrp_font(cr, NRP_FONT_AXIS, 0);
    double axis_h = nrp_line_height(cr);
    double bottom_margin = ceil(TICK_LEN + 4 + tick_h + 6 + axis_h + 10);

    double legend_h = 0;
    if (f->nbottom) {
        int rows = bottom_flow(cr, f, NULL, NULL);
        legend_h = ceil(rows * LEGEND_ROW + 12);
    }
    double area_h = FIG_HEIGHT - area_top - bottom_margin;
    if (area_h < MIN_AREA_H)
        area_h = MIN_AREA_H;
    area_h = floor(area_h);
    f->height = (int)(area_top + area_h + bottom_margin + legend_h);
    if (f->nbottom)
        f->bottom_rect = (nr_plot_rect){40, area_top + area_h + bottom_margin, f->width - 80.0,
                                        legend_h - 6};
    else
        memset(&f->bottom_rect, 0, sizeof f->bottom_rect);

    size_t n = f->max_epochs;
    for (int pi = 0; pi < 2; pi++) {
        curve_panel *p = &f->panel[pi];
        panel_y_range(p);
        p->ystep = nrp_nice_step((p->geo.y_max - p->geo.y_min) * (p->accuracy ? 100 : 1),
                                 (int)(area_h / 48)) /
                   (p->accuracy ? 100 : 1);
        double ticks[MAX_TICKS];
        int nt = panel_y_ticks(p, ticks);
        double maxw = 0;
        char buf[64];
        nrp_font(cr, NRP_FONT_TICK, 0);
        for (int t = 0; t < nt; t++) {
            y_label(p, ticks[t], buf, sizeof buf);
            double w = nrp_text_width(cr, buf);
            maxw = w > maxw ? w : maxw;
        }
        double half = f->width / 2.0;
        double left = pi * half + 14 + axis_h + 10 + maxw + TICK_LEN + 5;
        double right = (pi + 1) * half - 26;
        p->geo.area = (nr_plot_rect){ceil(left), area_top, floor(right - ceil(left)), area_h};

        if (n <= 1) {
            p->geo.x_min = 0.5;
            p->geo.x_max = 1.5;
        } else {
            double pad = 0.03 * (double)(n - 1);
            p->geo.x_min = 1 - pad;
            p->geo.x_max = (double)n + pad;
        }
        double xs = nrp_nice_step(n > 1 ? (double)(n - 1) : 1.0, (int)(p->geo.area.w / 75));
        p->xstep = xs < 1 ? 1 : xs;
        panel_legend(cr, p);
    }
}

/* ------------------------------------------------------------ drawing */

static void set_line_style(cairo_t *cr, const curve_line *l)
{
    cairo_set_line_width(cr, l->width);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    if (l->dashed) {
        const double dash[2] = {7.0, 4.0};
        cairo_set_dash(cr, dash, 2, 0);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    } else {
        cairo_set_dash(cr, NULL, 0, 0);
    }
}

static void draw_marker(cairo_t *cr, int marker, double x, double y, uint32_t rgb)
{
    cairo_new_path(cr);
    switch (marker) {
    case MARK_CIRCLE:
        cairo_arc(cr, x, y, 3.6, 0, 2 * NRP_PI);
        break;
    case MARK_SQUARE:
        cairo_rectangle(cr, x - 3.3, y - 3.3, 6.6, 6.6);
        break;
    case MARK_TRIANGLE:
        cairo_move_to(cr, x, y - 4.6);
        cairo_line_to(cr, x + 4.2, y + 3.0);
        cairo_line_to(cr, x - 4.2, y + 3.0);
        cairo_close_path(cr);
        break;
    default:
        return;
    }
    nrp_rgb(cr, rgb);
    cairo_fill(cr);
}

static void draw_line(cairo_t *cr, const curve_panel *p, const curve_line *l, int markers)
{
    cairo_new_path(cr);
    int in_path = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!finite_at(l, i)) {
            in_path = 0;
            continue;
        }
        double px, py;
        nr_plot_panel_to_pixel(&p->geo, (double)(i + 1), l->y[i], &px, &py);
        if (in_path)
            cairo_line_to(cr, px, py);
        else
            cairo_move_to(cr, px, py);
        in_path = 1;
    }
    nrp_rgb(cr, l->rgb);
    set_line_style(cr, l);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);

    for (size_t i = 0; i < l->n; i++) {
        if (!finite_at(l, i))
            continue;
        int isolated = !(i > 0 && finite_at(l, i - 1)) && !finite_at(l, i + 1);
        double px, py;
        nr_plot_panel_to_pixel(&p->geo, (double)(i + 1), l->y[i], &px, &py);
        if (markers && l->marker)
            draw_marker(cr, l->marker, px, py, l->rgb);
        else if (isolated)
            draw_marker(cr, MARK_CIRCLE, px, py, l->rgb); /* a lone point needs a dot */
    }
}

static void draw_swatch(cairo_t *cr, double x, double y, const legend_entry *e)
{
    curve_line l = {NULL, 0, e->rgb, e->dashed, e->marker, 2.0, NULL};
    cairo_new_path(cr);
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x + LEGEND_SWATCH, y);
    nrp_rgb(cr, e->rgb);
    set_line_style(cr, &l);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (e->marker)
        draw_marker(cr, e->marker, x + LEGEND_SWATCH / 2, y, e->rgb);
}

static void draw_panel(cairo_t *cr, const curve_figure *f, const curve_panel *p)
{
    const nr_plot_panel *g = &p->geo;
    const nr_plot_rect *a = &g->area;
    double yt[MAX_TICKS], xt[MAX_TICKS];
    int nyt = panel_y_ticks(p, yt), nxt = panel_x_ticks(p, f->max_epochs, xt);
    char buf[64];

    /* grid */
    cairo_set_line_width(cr, 1);
    nrp_rgb(cr, 0xe6e6e6u);
    for (int t = 0; t < nyt; t++) {
        double py;
        nr_plot_panel_to_pixel(g, 0, yt[t], NULL, &py);
        py = floor(py) + 0.5;
        cairo_move_to(cr, a->x, py);
        cairo_line_to(cr, a->x + a->w, py);
    }
    for (int t = 0; t < nxt; t++) {
        double px;
        nr_plot_panel_to_pixel(g, xt[t], 0, &px, NULL);
        px = floor(px) + 0.5;
        cairo_move_to(cr, px, a->y);
        cairo_line_to(cr, px, a->y + a->h);
    }
    cairo_stroke(cr);

    /* curves, clipped to the area */
    cairo_save(cr);
    cairo_rectangle(cr, a->x, a->y, a->w, a->h);
    cairo_clip(cr);
    for (size_t l = p->nlines; l-- > 0;) /* first line (train) on top */
        draw_line(cr, p, &p->lines[l], f->markers);
    cairo_restore(cr);

    /* frame and ticks */
    nrp_rgb(cr, 0x333333u);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, a->x + 0.5, a->y + 0.5, a->w - 1, a->h - 1);
    for (int t = 0; t < nyt; t++) {
        double py;
        nr_plot_panel_to_pixel(g, 0, yt[t], NULL, &py);
        py = floor(py) + 0.5;
        cairo_move_to(cr, a->x, py);
        cairo_line_to(cr, a->x - TICK_LEN, py);
    }
    for (int t = 0; t < nxt; t++) {
        double px;
        nr_plot_panel_to_pixel(g, xt[t], 0, &px, NULL);
        px = floor(px) + 0.5;
        cairo_move_to(cr, px, a->y + a->h);
        cairo_line_to(cr, px, a->y + a->h + TICK_LEN);
    }
    cairo_stroke(cr);

    nrp_font(cr, NRP_FONT_TICK, 0);
    nrp_rgb(cr, 0x222222u);
    for (int t = 0; t < nyt; t++) {
        double py;
        nr_plot_panel_to_pixel(g, 0, yt[t], NULL, &py);
        y_label(p, yt[t], buf, sizeof buf);
        nrp_text(cr, a->x - TICK_LEN - 4, floor(py) + 0.5, buf, NRP_RIGHT, NRP_MIDDLE);
    }
    double xlab_y = a->y + a->h + TICK_LEN + 4;
    for (int t = 0; t < nxt; t++) {
        double px;
        nr_plot_panel_to_pixel(g, xt[t], 0, &px, NULL);
        nrp_tick_label(xt[t], p->xstep, buf, sizeof buf);
        nrp_text(cr, floor(px) + 0.5, xlab_y, buf, NRP_CENTER, NRP_TOP);
    }
    double tick_h = nrp_line_height(cr);

    /* axis titles */
    nrp_font(cr, NRP_FONT_AXIS, 0);
    nrp_rgb(cr, 0x111111u);
    nrp_text(cr, a->x + a->w / 2, xlab_y + tick_h + 6, "Epoch", NRP_CENTER, NRP_TOP);
    double half = f->width / 2.0;
    double px0 = (a->x >= half ? half : 0) + 14;
    nrp_text_rotated(cr, px0, a->y + a->h / 2, -NRP_PI / 2, p->ylabel, NRP_CENTER, NRP_TOP);

    /* panel title */
    nrp_font(cr, NRP_FONT_PANEL, 1);
    nrp_rgb(cr, 0x111111u);
    nrp_text(cr, a->x + a->w / 2, f->panel_title_y, p->title, NRP_CENTER, NRP_TOP);

    /* legend */
    if (g->legend.w > 0) {
        const nr_plot_rect *r = &g->legend;
        cairo_rectangle(cr, r->x + 0.5, r->y + 0.5, r->w - 1, r->h - 1);
        nrp_rgba(cr, 0xffffffu, 0.88);
        cairo_fill_preserve(cr);
        nrp_rgb(cr, 0xbbbbbbu);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
        double y = r->y + LEGEND_PAD * 0.75 + LEGEND_ROW / 2;
        nrp_font(cr, NRP_FONT_LEGEND, 0);
        for (size_t l = 0; l < p->nlines; l++) {
            const curve_line *ln = &p->lines[l];
            if (!ln->label)
                continue;
            legend_entry e = {ln->label, ln->rgb, ln->dashed, f->markers ? ln->marker : 0};
            draw_swatch(cr, r->x + LEGEND_PAD, y, &e);
            nrp_font(cr, NRP_FONT_LEGEND, 0);
            nrp_rgb(cr, 0x111111u);
            nrp_text(cr, r->x + LEGEND_PAD + LEGEND_SWATCH + 8, y, ln->label, NRP_LEFT,
                     NRP_MIDDLE);
            y += LEGEND_ROW;
        }
    }
}

static void draw_figure(cairo_t *cr, const curve_figure *f)
{
    nrp_title_draw(cr, f->title, f->width, f->title_top);
    for (int pi = 0; pi < 2; pi++)
        draw_panel(cr, f, &f->panel[pi]);
    if (f->nbottom) {
        cairo_t *m = cr;
        double *xs = calloc(f->nbottom, sizeof *xs);
        int *row = calloc(f->nbottom, sizeof *row);
        if (xs && row) {
            bottom_flow(m, f, xs, row);
            for (size_t i = 0; i < f->nbottom; i++) {
                double y = f->bottom_rect.y + 4 + LEGEND_ROW * row[i] + LEGEND_ROW / 2;
                draw_swatch(cr, xs[i], y, &f->bottom[i]);
                nrp_font(cr, NRP_FONT_LEGEND, 0);
                nrp_rgb(cr, 0x111111u);
                nrp_text(cr, xs[i] + LEGEND_SWATCH + 6, y, f->bottom[i].label, NRP_LEFT,
                         NRP_MIDDLE);
            }
        }
        free(xs);
        free(row);
    }
}

static void fill_layout(const curve_figure *f, nr_curves_layout *out)
{
    memset(out, 0, sizeof *out);
    out->width = f->width;
    out->height = f->height;
    out->cost = f->panel[0].geo;
    out->accuracy = f->panel[1].geo;
    out->legend = f->bottom_rect;
}

/* Lays f out on a measuring context; fills out when non-NULL. */
static int figure_layout(curve_figure *f, const char *what, nr_error *err)
{
    cairo_t *m = nrp_measure_new();
    if (!m)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", what);
    layout(m, f);
    cairo_status_t st = cairo_status(m);
    nrp_measure_free(m);
    if (st != CAIRO_STATUS_SUCCESS)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot lay out text: %s", what,
                       cairo_status_to_string(st));
    return 0;
}

static int figure_render(curve_figure *f, const char *path, nr_error *err)
{
    if (figure_layout(f, path, err) != 0)
        return -1;
    nrp_canvas c;
    if (nrp_canvas_open(&c, path, f->width, f->height, err) != 0)
        return -1;
    draw_figure(c.cr, f);
    return nrp_canvas_close(&c, err);
}

/* ------------------------------------------------------------ learning curves */

typedef struct learning_model {
    curve_figure fig;
    curve_line cost[3], acc[3];
} learning_model;

static int learning_build(learning_model *m, const nr_curve_series *s, const char *title,
                          const char *what, nr_error *err)
{
    if (!s)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: no curve series given", what);
    memset(m, 0, sizeof *m);
    curve_figure *f = &m->fig;
    f->title = title;
    f->max_epochs = s->epochs;
    f->markers = s->epochs <= MARKER_LIMIT;
    const double *costs[3] = {s->train_cost, s->test_cost, s->val_cost};
    const double *accs[3] = {s->train_acc, s->test_acc, s->val_acc};
    const uint32_t colors[3] = {NR_PLOT_COLOR_TRAIN, NR_PLOT_COLOR_TEST,
                                NR_PLOT_COLOR_VALIDATION};
    const char *names[3] = {"Train", "Test", "Validation"};
    const int marks[3] = {MARK_CIRCLE, MARK_SQUARE, MARK_TRIANGLE};
    size_t nc = 0, na = 0;
    for (int i = 0; i < 3; i++) {
        if (costs[i])
            m->cost[nc++] = (curve_line){costs[i], s->epochs, colors[i], 0, marks[i], 2.0,
                                         names[i]};
        if (accs[i])
            m->acc[na++] = (curve_line){accs[i], s->epochs, colors[i], 0, marks[i], 2.0,
                                        names[i]};
    }
    f->panel[0] = (curve_panel){.title = "Cost", .ylabel = "Cost", .accuracy = 0,
                                .lines = m->cost, .nlines = nc};
    f->panel[1] = (curve_panel){.title = "Accuracy", .ylabel = "Accuracy (%)", .accuracy = 1,
                                .lines = m->acc, .nlines = na};
    return 0;
}

int nr_plot_learning_curves_layout(const nr_curve_series *series, const char *title,
                                   nr_curves_layout *out, nr_error *err)
{
    learning_model m;
    if (learning_build(&m, series, title, "learning curves", err) != 0 ||
        figure_layout(&m.fig, "learning curves", err) != 0)
        return -1;
    if (out)
        fill_layout(&m.fig, out);
    return 0;
}

int nr_plot_learning_curves(const char *path, const nr_curve_series *series,
                            const char *title, nr_error *err)
{
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "learning curves: error: no output path");
    learning_model m;
    if (learning_build(&m, series, title, path, err) != 0)
        return -1;
    return figure_render(&m.fig, path, err);
}

/* ------------------------------------------------------------ compare */

typedef struct compare_model {
    curve_figure fig;
    curve_line *cost, *acc;
    legend_entry *entries;
    char (*names)[32];
} compare_model;

static void compare_free(compare_model *m)
{
    free(m->cost);
    free(m->acc);
    free(m->entries);
    free(m->names);
}

static int compare_build(compare_model *m, const nr_curve_series *runs,
                         const char *const *labels, size_t count, const char *title,
                         const char *what, nr_error *err)
{
    memset(m, 0, sizeof *m);
    if (count == 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: no runs to compare", what);
    if (!runs)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: no curve series given", what);
    if (count > 1000)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: %zu runs are too many for one picture; at most 1000", what,
                       count);
    m->cost = calloc(2 * count, sizeof *m->cost);
    m->acc = calloc(2 * count, sizeof *m->acc);
    m->entries = calloc(count + 2, sizeof *m->entries);
    m->names = calloc(count, sizeof *m->names);
    if (!m->cost || !m->acc || !m->entries || !m->names) {
        compare_free(m);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", what);
    }
    curve_figure *f = &m->fig;
    f->title = title;
    size_t nc = 0, na = 0, ne = 0;
    size_t max_epochs = 0;
    for (size_t r = 0; r < count; r++)
        max_epochs = runs[r].epochs > max_epochs ? runs[r].epochs : max_epochs;
    f->max_epochs = max_epochs;
    f->markers = max_epochs <= MARKER_LIMIT;
    /* test lines first: lines are drawn last-to-first, so the solid test
     * lines end up on top of the dashed train lines */
    for (size_t r = 0; r < count; r++) {
        const nr_curve_series *s = &runs[r];
        uint32_t rgb = nr_plot_run_color(r);
        if (s->test_cost)
            m->cost[nc++] = (curve_line){s->test_cost, s->epochs, rgb, 0, MARK_CIRCLE, 2.0, NULL};
        if (s->test_acc)
            m->acc[na++] = (curve_line){s->test_acc, s->epochs, rgb, 0, MARK_CIRCLE, 2.0, NULL};
    }
    for (size_t r = 0; r < count; r++) {
        const nr_curve_series *s = &runs[r];
        uint32_t rgb = nr_plot_run_color(r);
        if (s->train_cost)
            m->cost[nc++] = (curve_line){s->train_cost, s->epochs, rgb, 1, MARK_NONE, 1.6, NULL};
        if (s->train_acc)
            m->acc[na++] = (curve_line){s->train_acc, s->epochs, rgb, 1, MARK_NONE, 1.6, NULL};
        const char *label = labels ? labels[r] : NULL;
        if (!label) {
            snprintf(m->names[r], sizeof m->names[r], "run %zu", r + 1);
            label = m->names[r];
        }
        m->entries[ne++] = (legend_entry){label, rgb, 0, MARK_NONE};
    }
    m->entries[ne++] = (legend_entry){"test (solid)", 0x444444u, 0, MARK_NONE};
    m->entries[ne++] = (legend_entry){"train (dashed)", 0x444444u, 1, MARK_NONE};
    f->bottom = m->entries;
    f->nbottom = ne;
    f->panel[0] = (curve_panel){.title = "Cost", .ylabel = "Cost", .accuracy = 0,
                                .lines = m->cost, .nlines = nc};
    f->panel[1] = (curve_panel){.title = "Accuracy", .ylabel = "Accuracy (%)", .accuracy = 1,
                                .lines = m->acc, .nlines = na};
    return 0;
}

int nr_plot_compare_curves_layout(const nr_curve_series *runs, const char *const *labels,
                                  size_t count, const char *title, nr_curves_layout *out,
                                  nr_error *err)
{
    compare_model m;
    if (compare_build(&m, runs, labels, count, title, "compare", err) != 0)
        return -1;
    int rc = figure_layout(&m.fig, "compare", err);
    if (rc == 0 && out)
        fill_layout(&m.fig, out);
    compare_free(&m);
    return rc;
}

int nr_plot_compare_curves(const char *path, const nr_curve_series *runs,
                           const char *const *labels, size_t count, const char *title,
                           nr_error *err)
{
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "compare: error: no output path");
    compare_model m;
    if (compare_build(&m, runs, labels, count, title, path, err) != 0)
        return -1;
    int rc = figure_render(&m.fig, path, err);
    compare_free(&m);
    return rc;
}
