/* plot/gallery.c - a grid of (misclassified) images with captions. See
 * netrun/plot.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/plot.h"
#include "plot/common.h"

#define COLUMNS      5
#define TARGET_SIDE  120   /* small images are scaled up by a whole factor to about this */
#define MAX_SIDE     224   /* larger images are scaled down to this */
#define MIN_CELL_W   180   /* room for the caption */
#define GAP_X        24
#define MARGIN       28
#define MAX_IMAGE    4096
#define DEFAULT_TITLE "Misclassified test images"

#define COLOR_TRUE NR_PLOT_COLOR_CAPTION_TRUE
#define COLOR_PRED NR_PLOT_COLOR_CAPTION_PREDICTED

typedef struct gallery_geo {
    nr_gallery_layout pub;
    const char *title;
    double title_top;
    double cell_w;           /* caption width */
    double caption_line;     /* caption line advance */
} gallery_geo;

static void gallery_layout(cairo_t *cr, size_t count, int height, int width,
                           const char *title, gallery_geo *g)
{
    memset(g, 0, sizeof *g);
    nr_gallery_layout *L = &g->pub;
    g->title = title ? title : DEFAULT_TITLE;
    int m = height > width ? height : width;
    if (m > MAX_SIDE) {
        L->scale = (double)MAX_SIDE / m;
    } else {
        int s = (TARGET_SIDE + m / 2) / m;
        L->scale = s < 1 ? 1 : s;
    }
    L->image_w = (int)lround(width * L->scale);
    L->image_h = (int)lround(height * L->scale);
    if (L->image_w < 1)
        L->image_w = 1;
    if (L->image_h < 1)
        L->image_h = 1;

    nrp_font(cr, NRP_FONT_LEGEND, 0);
    g->caption_line = ceil(nrp_line_height(cr) * 1.15);
    int cell_w = L->image_w > MIN_CELL_W ? L->image_w : MIN_CELL_W;
    g->cell_w = cell_w;
    L->columns = count == 0 ? 1 : count < COLUMNS ? (int)count : COLUMNS;
    L->rows = count == 0 ? 0 : (int)((count + (size_t)L->columns - 1) / (size_t)L->columns);
    L->pitch_x = cell_w + GAP_X;
    L->pitch_y = L->image_h + 8 + (int)(2 * g->caption_line) + 18;

    int content_w = L->columns * cell_w + (L->columns - 1) * GAP_X;
    int w = content_w + 2 * MARGIN;
    if (w < 560)
        w = 560;
    L->width = w;
    double title_h = nrp_title_height(cr, g->title, w);
    g->title_top = 14;
    int top = (int)ceil(g->title_top + title_h + 14);
    int left = (w - content_w) / 2;
    L->x0 = left + (cell_w - L->image_w) / 2;
    L->y0 = top;
    L->height = count == 0 ? top + 40 : top + L->rows * L->pitch_y;
}

static int gallery_check(const char *what, size_t count, int channels, int height, int width,
                         nr_error *err)
{
    if (channels != 1 && channels != 3)
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: cannot show %d-channel images; channels must be 1 or 3",
                       what, channels);
    if (height < 1 || width < 1 || height > MAX_IMAGE || width > MAX_IMAGE)
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: cannot show %d x %d images; sides must be 1..%d", what,
                       width, height, MAX_IMAGE);
    if (count > 100000)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: %zu images are too many for one picture", what, count);
    return 0;
}

static int gallery_layout_measured(size_t count, int height, int width, const char *title,
                                   gallery_geo *g, const char *what, nr_error *err)
{
    cairo_t *m = nrp_measure_new();
    if (!m)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", what);
    gallery_layout(m, count, height, width, title, g);
    cairo_status_t st = cairo_status(m);
    nrp_measure_free(m);
    if (st != CAIRO_STATUS_SUCCESS)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot lay out text: %s", what,
                       cairo_status_to_string(st));
    return 0;
}

int nr_plot_gallery_layout(size_t count, int channels, int height, int width,
                           const char *title, nr_gallery_layout *out, nr_error *err)
{
    gallery_geo g;
    if (gallery_check("gallery", count, channels, height, width, err) != 0 ||
        gallery_layout_measured(count, height, width, title, &g, "gallery", err) != 0)
        return -1;
    if (out)
        *out = g.pub;
    return 0;
}

/* CHW uint8 -> a cairo RGB24 image surface (NULL when out of memory) */
static cairo_surface_t *image_surface(const uint8_t *px, int channels, int height, int width)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return NULL;
    }
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    size_t plane = (size_t)height * (size_t)width;
    for (int y = 0; y < height; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)stride * (size_t)y);
        for (int x = 0; x < width; x++) {
            size_t i = (size_t)y * (size_t)width + (size_t)x;
            uint32_t r = px[i], gch = r, b = r;
            if (channels == 3) {
                gch = px[plane + i];
                b = px[2 * plane + i];
            }
            row[x] = (r << 16) | (gch << 8) | b;
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

static void draw_caption(cairo_t *cr, const gallery_geo *g, double cx, double y,
                         const nr_gallery_item *it)
{
    char t1[160], t2[160], t3[8] = " \xe2\x86\x92 "; /* " → " */
    if (!it->predicted_name) { /* no prediction: just the class name */
        nrp_font(cr, NRP_FONT_LEGEND, 0);
        nrp_fit_text(cr, it->true_name ? it->true_name : "?", g->cell_w - 4, t1, sizeof t1);
        nrp_rgb(cr, 0x222222u);
        nrp_text(cr, cx, y, t1, NRP_CENTER, NRP_TOP);
        if (isfinite(it->probability) && it->probability >= 0) {
            snprintf(t1, sizeof t1, "p = %.2f", it->probability);
            nrp_rgb(cr, 0x555555u);
            nrp_text(cr, cx, y + g->caption_line, t1, NRP_CENTER, NRP_TOP);
        }
        return;
    }
    snprintf(t1, sizeof t1, "true %s", it->true_name ? it->true_name : "?");
    snprintf(t2, sizeof t2, "predicted %s", it->predicted_name);
    nrp_font(cr, NRP_FONT_LEGEND, 0);
    double w1 = nrp_text_width(cr, t1), w2 = nrp_text_width(cr, t2),
           w3 = nrp_text_width(cr, t3);
    double total = w1 + w2 + w3, avail = g->cell_w - 4;
    if (total <= avail) {
        double x = cx - total / 2;
        nrp_rgb(cr, COLOR_TRUE);
        nrp_text(cr, x, y, t1, NRP_LEFT, NRP_TOP);
        nrp_rgb(cr, 0x444444u);
        nrp_text(cr, x + w1, y, t3, NRP_LEFT, NRP_TOP);
        nrp_rgb(cr, COLOR_PRED);
        nrp_text(cr, x + w1 + w3, y, t2, NRP_LEFT, NRP_TOP);
    } else { /* long names: one line each, shortened */
        char fit[200], line[200];
        nrp_fit_text(cr, t1, avail, fit, sizeof fit);
        nrp_rgb(cr, COLOR_TRUE);
        nrp_text(cr, cx, y, fit, NRP_CENTER, NRP_TOP);
        y += g->caption_line;
        snprintf(line, sizeof line, "\xe2\x86\x92 %s", t2);
        if (isfinite(it->probability) && it->probability >= 0) {
            size_t n = strlen(line);
            snprintf(line + n, sizeof line - n, " (p=%.2f)", it->probability);
        }
        nrp_fit_text(cr, line, avail, fit, sizeof fit);
        nrp_rgb(cr, COLOR_PRED);
        nrp_text(cr, cx, y, fit, NRP_CENTER, NRP_TOP);
        return;
    }
    if (isfinite(it->probability) && it->probability >= 0) {
        snprintf(t1, sizeof t1, "p = %.2f", it->probability);
        nrp_rgb(cr, 0x555555u);
        nrp_text(cr, cx, y + g->caption_line, t1, NRP_CENTER, NRP_TOP);
    }
}

int nr_plot_gallery(const char *path, const nr_gallery_item *items, size_t count,
                    int channels, int height, int width, const char *title, nr_error *err)
{
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "gallery: error: no output path");
    if (gallery_check(path, count, channels, height, width, err) != 0)
        return -1;
    if (count > 0 && !items)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: no gallery items given", path);
    for (size_t i = 0; i < count; i++)
        if (!items[i].pixels)
            return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: gallery item %zu has no pixels",
                           path, i);
    gallery_geo g;
    if (gallery_layout_measured(count, height, width, title, &g, path, err) != 0)
        return -1;
    const nr_gallery_layout *L = &g.pub;

    nrp_canvas c;
    if (nrp_canvas_open(&c, path, L->width, L->height, err) != 0)
        return -1;
    cairo_t *cr = c.cr;
    nrp_title_draw(cr, g.title, L->width, g.title_top);
    if (count == 0) {
        nrp_font(cr, NRP_FONT_AXIS, 0);
        nrp_rgb(cr, 0x555555u);
        nrp_text(cr, L->width / 2.0, L->y0 + 8, "(no images)", NRP_CENTER, NRP_TOP);
    }
    for (size_t i = 0; i < count; i++) {
        double x = L->x0 + (double)(i % (size_t)L->columns) * L->pitch_x;
        double y = L->y0 + (double)(i / (size_t)L->columns) * L->pitch_y;
        cairo_surface_t *img = image_surface(items[i].pixels, channels, height, width);
        if (!img) {
            nrp_canvas_abort(&c);
            return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
        }
        cairo_save(cr);
        cairo_translate(cr, x, y);
        cairo_scale(cr, L->scale, L->scale);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr),
                                 L->scale >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
        cairo_rectangle(cr, 0, 0, width, height);
        cairo_fill(cr);
        cairo_restore(cr);
        cairo_surface_destroy(img);
        nrp_rgb(cr, 0x999999u);
        cairo_set_line_width(cr, 1);
        cairo_rectangle(cr, x - 0.5, y - 0.5, L->image_w + 1, L->image_h + 1);
        cairo_stroke(cr);
        draw_caption(cr, &g, x + L->image_w / 2.0, y + L->image_h + 8, &items[i]);
    }
    return nrp_canvas_close(&c, err);
}
