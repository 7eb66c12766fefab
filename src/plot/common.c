/* plot/common.c - the shared canvas (PNG/SVG written atomically through
 * netrun/fileio.h), text, tick and colour helpers of the plot module. See
 * plot/common.h. */
#include "plot/common.h"

#include <cairo-svg.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ files */

static int has_svg_suffix(const char *path)
{
    size_t n = strlen(path);
    if (n < 4)
        return 0;
    const char *s = path + n - 4;
    return s[0] == '.' && tolower((unsigned char)s[1]) == 's' &&
           tolower((unsigned char)s[2]) == 'v' && tolower((unsigned char)s[3]) == 'g';
}

static int fail_write(nr_error *err, const char *path, int e)
{
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write: %s", path,
                   strerror(e ? e : EIO));
}

static int fail_oom(nr_error *err, const char *path)
{
    return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
}

static cairo_status_t canvas_write(void *closure, const unsigned char *data,
                                   unsigned int length)
{
    nrp_canvas *c = closure;
    if (c->write_errno)
        return CAIRO_STATUS_WRITE_ERROR;
    errno = 0;
    if (length > 0 && fwrite(data, 1, length, c->file.fp) != length) {
        c->write_errno = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

/* Releases the drawing and, unless committed, removes the temporary file. */
static void canvas_release(nrp_canvas *c)
{
    if (c->cr)
        cairo_destroy(c->cr);
    c->cr = NULL;
    if (c->surface)
        cairo_surface_destroy(c->surface); /* an SVG surface may still flush here */
    c->surface = NULL;
    nr_atomic_abort(&c->file); /* nothing left to do after a commit */
}

int nrp_canvas_open(nrp_canvas *c, const char *path, int width, int height,
                    nr_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->width = width;
    c->height = height;
    if (width < 1 || height < 1 || width > NRP_MAX_SIDE || height > NRP_MAX_SIDE)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: a %d x %d picture is too large; at most %d pixels a side",
                       path, width, height, NRP_MAX_SIDE);
    c->svg = has_svg_suffix(path);
    if (nr_atomic_open(&c->file, path, err) != 0)
        return -1;
    if (c->svg) {
        c->surface = cairo_svg_surface_create_for_stream(canvas_write, c, width, height);
        if (cairo_surface_status(c->surface) == CAIRO_STATUS_SUCCESS)
            cairo_svg_surface_set_document_unit(c->surface, CAIRO_SVG_UNIT_PX);
    } else {
        c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    }
    if (cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
        canvas_release(c);
        return fail_oom(err, path);
    }
    c->cr = cairo_create(c->surface);
    if (cairo_status(c->cr) != CAIRO_STATUS_SUCCESS) {
        canvas_release(c);
        return fail_oom(err, path);
    }
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    return 0;
}

void nrp_canvas_abort(nrp_canvas *c)
{
    c->write_errno = EIO; /* a finishing SVG surface must not write any more */
    canvas_release(c);
}

int nrp_canvas_close(nrp_canvas *c, nr_error *err)
{
    cairo_status_t st = cairo_status(c->cr);
    if (st != CAIRO_STATUS_SUCCESS) {
        nrp_canvas_abort(c);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot draw: %s", c->path, cairo_status_to_string(st));
    }
    cairo_destroy(c->cr);
    c->cr = NULL;
    if (c->svg) {
        cairo_surface_finish(c->surface);
        st = cairo_surface_status(c->surface);
    } else {
        cairo_surface_flush(c->surface);
        st = cairo_surface_write_to_png_stream(c->surface, canvas_write, c);
    }
    if (st != CAIRO_STATUS_SUCCESS || c->write_errno) {
        int e = c->write_errno;
        nrp_canvas_abort(c);
        if (e || st == CAIRO_STATUS_WRITE_ERROR)
            return fail_write(err, c->path, e);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot draw: %s", c->path,
                       cairo_status_to_string(st));
    }
    cairo_surface_destroy(c->surface);
    c->surface = NULL;
    int rc = nr_atomic_commit(&c->file, err); /* on failure it removes the file */
    canvas_release(c);
    return rc;
}

/* ------------------------------------------------------------ measuring */

cairo_t *nrp_measure_new(void)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 4, 4);
    cairo_t *cr = cairo_create(s);
    cairo_surface_destroy(s); /* the context keeps a reference */
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr);
        return NULL;
    }
    return cr;
}

void nrp_measure_free(cairo_t *cr)
{
    if (cr)
        cairo_destroy(cr);
}

/* ------------------------------------------------------------ text */

void nrp_font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double nrp_text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s ? s : "", &e);
    return isfinite(e.x_advance) ? e.x_advance : 0.0;
}

double nrp_line_height(cairo_t *cr)
{
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double h = fe.ascent + fe.descent;
    return isfinite(h) && h > 0 ? h : 1.0;
}

static double baseline_for(cairo_t *cr, double y, int valign)
{
    cairo_font_extents_t fe;
    cairo_text_extents_t te;
    switch (valign) {
    case NRP_TOP:
        cairo_font_extents(cr, &fe);
        return y + fe.ascent;
    case NRP_BOTTOM:
        cairo_font_extents(cr, &fe);
        return y - fe.descent;
    case NRP_MIDDLE:
        cairo_text_extents(cr, "0", &te); /* centre the height of digits/capitals */
        return y - te.y_bearing / 2.0;
    default:
        return y;
    }
}

void nrp_text(cairo_t *cr, double x, double y, const char *s, int halign, int valign)
{
    if (!s || !*s)
        return;
    double w = nrp_text_width(cr, s);
    double x0 = halign == NRP_CENTER ? x - w / 2 : halign == NRP_RIGHT ? x - w : x;
    cairo_move_to(cr, x0, baseline_for(cr, y, valign));
    cairo_show_text(cr, s);
    cairo_new_path(cr);
}

void nrp_text_rotated(cairo_t *cr, double x, double y, double angle, const char *s,
                      int halign, int valign)
{
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    nrp_text(cr, 0, 0, s, halign, valign);
    cairo_restore(cr);
}

void nrp_fit_text(cairo_t *cr, const char *s, double max_w, char *buf, size_t size)
{
    if (size == 0)
        return;
    snprintf(buf, size, "%s", s ? s : "");
    if (nrp_text_width(cr, buf) <= max_w)
        return;
    size_t n = strlen(buf);
    while (n > 0) {
        /* drop one UTF-8 character */
        do {
            n--;
        } while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80);
        if (n + 4 > size)
            continue;
        memcpy(buf + n, "...", 4);
        if (nrp_text_width(cr, buf) <= max_w)
            return;
    }
    snprintf(buf, size, "%s", size >= 4 ? "..." : "");
}

#define TITLE_MARGIN 20.0
#define TITLE_LINE_GAP 1.4

/* Font size of title line `index` (text `line`) shrunk to fit. */
static double title_line_font(cairo_t *cr, const char *line, int index, double width)
{
    double size = index == 0 ? NRP_FONT_TITLE : NRP_FONT_SUBTITLE;
    nrp_font(cr, size, index == 0);
    double w = nrp_text_width(cr, line);
    double avail = width - 2 * TITLE_MARGIN;
    if (w > avail && w > 0) {
        size *= avail / w;
        if (size < 7)
            size = 7;
        nrp_font(cr, size, index == 0);
    }
    return size;
}

/* Calls fn for every line of title; returns the block height. */
static double title_walk(cairo_t *cr, const char *title, double width, double y_top,
                         int draw)
{
    if (!title || !*title)
        return 0;
    double y = y_top;
    const char *p = title;
    int index = 0;
    char line[1024];
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        double size = title_line_font(cr, line, index, width);
        if (draw) {
            nrp_rgb(cr, index == 0 ? 0x111111u : 0x555555u);
            nrp_text(cr, width / 2, y, line, NRP_CENTER, NRP_TOP);
        }
        y += size * TITLE_LINE_GAP;
        index++;
        if (!nl)
            break;
        p = nl + 1;
    }
    return y - y_top;
}

double nrp_title_height(cairo_t *cr, const char *title, double width)
{
    cairo_save(cr);
    double h = title_walk(cr, title, width, 0, 0);
    cairo_restore(cr);
    return h;
}

void nrp_title_draw(cairo_t *cr, const char *title, double width, double y_top)
{
    cairo_save(cr);
    title_walk(cr, title, width, y_top, 1);
    cairo_restore(cr);
}

/* ------------------------------------------------------------ numbers */

double nrp_nice_step(double span, int target)
{
    if (!(span > 0) || !isfinite(span) || target < 1)
        return 1.0;
    double raw = span / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nice * mag;
}

void nrp_tick_label(double v, double step, char *buf, size_t size)
{
    if (fabs(v) < fabs(step) * 1e-6)
        v = 0.0; /* no "-0" */
    double av = fabs(v);
    if (av >= 1e6 || (step > 0 && step < 1e-4)) {
        snprintf(buf, size, "%.3g", v);
        return;
    }
    int decimals = 0;
    if (step > 0 && step < 1)
        decimals = (int)ceil(-log10(step) - 1e-9);
    if (decimals < 0)
        decimals = 0;
    if (decimals > 6)
        decimals = 6;
    snprintf(buf, size, "%.*f", decimals, v);
}

/* ------------------------------------------------------------ colour */

void nrp_rgb(cairo_t *cr, uint32_t rgb)
{
    cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                         (rgb & 0xff) / 255.0);
}

void nrp_rgba(cairo_t *cr, uint32_t rgb, double alpha)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                          (rgb & 0xff) / 255.0, alpha);
}

/* ------------------------------------------------------------ sanitizers */

/* LeakSanitizer hook (read only when a program runs under LSan; an ordinary
 * function otherwise). Text drawing goes through cairo's toy font API, which
 * makes fontconfig parse its configuration and keep font patterns in
 * process-lifetime caches that are never freed; LSan reports them at exit in
 * every process that drew a picture. Only allocations made inside
 * libfontconfig are suppressed: a cairo surface or context that this module
 * forgot to release is still reported. Weak, so a program that defines its
 * own list (it must then include this line) takes precedence. Visible
 * (the engine is compiled -fvisibility=hidden), so the sanitizer runtime
 * finds it in a program; libnetrun.so keeps it local (its version script
 * exports only the API). */
const char *__lsan_default_suppressions(void);
__attribute__((weak, visibility("default"))) const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}
