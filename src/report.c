/* report.c - run folders as one PDF (see netrun/report.h). */
#include "netrun/report.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrun/format.h"
#include "netrun/compare.h"
#include "netrun/fileio.h"
#include "netrun/plot.h"
#include "netrun/run_folder.h"

/* A4 portrait in points, margins */
#define PAGE_W 595.276
#define PAGE_H 841.890
#define MARGIN 42.0
#define CONTENT_W (PAGE_W - 2 * MARGIN)
#define FONT "monospace"

enum { SPEC_MAX_BYTES = 1 << 20 };

typedef struct report {
    const char *path;
    FILE *fp;
    int write_errno;
    cairo_surface_t *surface;
    cairo_t *cr;
    int pages;
    double y;                /* next baseline area top on the current page */
    bool page_open;
} report;

static cairo_status_t write_stream(void *closure, const unsigned char *data, unsigned int length)
{
    report *r = closure;
    if (r->write_errno)
        return CAIRO_STATUS_WRITE_ERROR;
    errno = 0;
    if (length && fwrite(data, 1, length, r->fp) != length) {
        r->write_errno = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

static void font(report *r, double size, bool bold)
{
    cairo_select_font_face(r->cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(r->cr, size);
}

static void grey(report *r, double level)
{
    cairo_set_source_rgb(r->cr, level, level, level);
}

static void new_page(report *r)
{
    if (r->page_open)
        cairo_show_page(r->cr);
    r->page_open = true;
    r->pages++;
    r->y = MARGIN;
    /* page number at the bottom */
    char text[32];
    snprintf(text, sizeof text, "%d", r->pages);
    font(r, 8, false);
    grey(r, 0.45);
    cairo_text_extents_t ext;
    cairo_text_extents(r->cr, text, &ext);
    cairo_move_to(r->cr, PAGE_W / 2 - ext.x_advance / 2, PAGE_H - MARGIN / 2);
    cairo_show_text(r->cr, text);
    grey(r, 0);
}

/* Characters of UTF-8 text. */
static size_t chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Byte length of the first `n` characters of s[0..len). */
static size_t prefix_bytes(const char *s, size_t len, size_t n)
{
    size_t i = 0;
    while (i < len && n > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        n--;
    }
    return i;
}

static double char_width(report *r)
{
    cairo_text_extents_t ext;
    cairo_text_extents(r->cr, "0", &ext);
    return ext.x_advance > 0 ? ext.x_advance : 6.0;
}

static void show_span(report *r, double x, double y, const char *s, size_t len)
{
    char buf[1024];
    if (len >= sizeof buf) {
        len = sizeof buf - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--; /* never cut a UTF-8 sequence */
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    cairo_move_to(r->cr, x, y);
    cairo_show_text(r->cr, buf);
}

/* Text wrapped to `width` points at spaces (or anywhere in a long word);
 * returns the height used. `size` is the font size; lines are 1.3 x size. */
static double paragraph(report *r, double x, const char *text, double width, double size,
                        bool bold)
{
    font(r, size, bold);
    size_t per_line = (size_t)(width / char_width(r));
    if (per_line < 8)
        per_line = 8;
    double lead = 1.3 * size, used = 0;
    const char *s = text;
    while (*s) {
        size_t len = strcspn(s, "\n");
        const char *line = s;
        size_t left = len;
        do {
            size_t take = left;
            if (chars(line, left) > per_line) {
                take = prefix_bytes(line, left, per_line);
                size_t space = take;
                while (space > 0 && line[space] != ' ')
                    space--;
                if (space > take / 2)
                    take = space;
            }
            show_span(r, x, r->y + used + size, line, take);
            used += lead;
            line += take;
            left -= take;
            while (left && *line == ' ')
                line++, left--;
        } while (left);
        s += len;
        if (*s == '\n')
            s++;
    }
    r->y += used;
    return used;
}

static void heading(report *r, const char *text)
{
    r->y += 8;
    paragraph(r, MARGIN, text, CONTENT_W, 11, true);
    cairo_set_line_width(r->cr, 0.6);
    grey(r, 0.6);
    cairo_move_to(r->cr, MARGIN, r->y + 2);
    cairo_line_to(r->cr, MARGIN + CONTENT_W, r->y + 2);
    cairo_stroke(r->cr);
    grey(r, 0);
    r->y += 6;
}

/* A PNG scaled to fit the box (never enlarged beyond 1 px = 0.75 pt x 1.5),
 * centred horizontally; returns the height used. A missing or unreadable
 * picture is named instead. */
static double picture(report *r, const char *dir, const char *name, double max_w, double max_h)
{
    char *path = nr_path_join(dir, name);
    cairo_surface_t *img = path ? cairo_image_surface_create_from_png(path) : NULL;
    double used;
    if (!img || cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        char note[4352];
        snprintf(note, sizeof note, "(no %s in %s)", name, dir);
        grey(r, 0.4);
        used = paragraph(r, MARGIN, note, CONTENT_W, 9, false);
        grey(r, 0);
    } else {
        double w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
        double scale = fmin(max_w / w, max_h / h);
        if (scale > 0.75)
            scale = 0.75; /* 96 dpi pixels */
        double x = MARGIN + (CONTENT_W - w * scale) / 2;
        cairo_save(r->cr);
        cairo_translate(r->cr, x, r->y);
        cairo_scale(r->cr, scale, scale);
        cairo_set_source_surface(r->cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(r->cr), CAIRO_FILTER_GOOD);
        cairo_rectangle(r->cr, 0, 0, w, h);
        cairo_fill(r->cr);
        cairo_restore(r->cr);
        used = h * scale;
        r->y += used;
    }
    if (img)
        cairo_surface_destroy(img);
    free(path);
    return used;
}

/* The height picture() gives a PNG in a box max_w wide and unlimited high;
 * 0 when it cannot be read. */
static double natural_height(const char *dir, const char *name, double max_w)
{
    char *path = nr_path_join(dir, name);
    cairo_surface_t *img = path ? cairo_image_surface_create_from_png(path) : NULL;
    double h = 0;
    if (img && cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
        double w = cairo_image_surface_get_width(img);
        h = cairo_image_surface_get_height(img) * fmin(0.75, max_w / w);
    }
    if (img)
        cairo_surface_destroy(img);
    free(path);
    return h;
}

/* Lines of `text` wrapped at `per_line` characters (continuations indented
 * by the line's own indentation + 2); each line is (start, bytes). */
typedef struct span {
    const char *s;
    size_t len;
    size_t indent;
} span;

static span *wrap_lines(const char *text, size_t per_line, size_t *count)
{
    size_t cap = 64, n = 0;
    span *lines = malloc(cap * sizeof *lines);
    if (!lines)
        return NULL;
    const char *s = text;
    while (*s) {
        size_t len = strcspn(s, "\n");
        size_t indent = strspn(s, " ");
        const char *line = s;
        size_t left = len, pad = 0;
        do {
            size_t room = per_line > pad + 8 ? per_line - pad : 8;
            size_t take = left;
            if (chars(line, left) > room) {
                take = prefix_bytes(line, left, room);
                size_t space = take; /* break after a space when there is one late enough */
                while (space > 0 && line[space - 1] != ' ')
                    space--;
                if (space > take / 2)
                    take = space;
            }
            if (n == cap) {
                cap *= 2;
                span *more = realloc(lines, cap * sizeof *lines);
                if (!more) {
                    free(lines);
                    return NULL;
                }
                lines = more;
            }
            lines[n++] = (span){line, take, pad};
            line += take;
            left -= take;
            pad = indent + 4;
        } while (left);
        s += len;
        if (*s == '\n')
            s++;
    }
    *count = n;
    return lines;
}

/* The resolved spec in a monospace font: one column when it fits on this
 * page, else two, continued on new pages. Returns -1 out of memory. */
static int spec_text(report *r, const char *text, const char *name)
{
    const double size1 = 8.0, size2 = 7.2;
    font(r, size1, false);
    double lead1 = 1.25 * size1;
    size_t per1 = (size_t)(CONTENT_W / char_width(r));
    size_t n1;
    span *lines = wrap_lines(text, per1, &n1);
    if (!lines)
        return -1;
    double bottom = PAGE_H - MARGIN;
    if (r->y + n1 * lead1 <= bottom) {
        for (size_t i = 0; i < n1; i++)
            show_span(r, MARGIN + lines[i].indent * char_width(r), r->y + (i + 1) * lead1,
                      lines[i].s, lines[i].len);
        r->y += n1 * lead1;
        free(lines);
        return 0;
    }
    free(lines);
    const double gap = 14;
    double col_w = (CONTENT_W - gap) / 2;
    font(r, size2, false);
    double cw = char_width(r), lead = 1.25 * size2;
    size_t n;
    lines = wrap_lines(text, (size_t)(col_w / cw), &n);
    if (!lines)
        return -1;
    size_t i = 0;
    while (i < n) {
        for (int col = 0; col < 2 && i < n; col++) {
            double x = MARGIN + col * (col_w + gap);
            size_t rows = (size_t)((bottom - r->y) / lead);
            for (size_t k = 0; k < rows && i < n; k++, i++)
                show_span(r, x + lines[i].indent * cw, r->y + (k + 1) * lead, lines[i].s,
                          lines[i].len);
        }
        if (i < n) {
            new_page(r);
            char title[200];
            snprintf(title, sizeof title, "%s: resolved spec (continued)", name);
            heading(r, title);
            font(r, size2, false);
        }
    }
    r->y = bottom;
    free(lines);
    return 0;
}

static void facts(report *r, const char *const *keys, const char *const *values, size_t n)
{
    font(r, 9, false);
    double cw = char_width(r);
    size_t key_w = 0;
    for (size_t i = 0; i < n; i++)
        key_w = strlen(keys[i]) > key_w ? strlen(keys[i]) : key_w;
    double x = MARGIN + (key_w + 2) * cw;
    for (size_t i = 0; i < n; i++) {
        font(r, 9, true);
        show_span(r, MARGIN, r->y + 9, keys[i], strlen(keys[i]));
        double y0 = r->y;
        paragraph(r, x, values[i], MARGIN + CONTENT_W - x, 9, false);
        if (r->y == y0)
            r->y += 1.3 * 9;
    }
}

static int run_pages(report *r, const nr_run_info *run, const char *label, nr_error *err)
{
    char *resolved_path = nr_path_join(run->dir, NR_RUN_RESOLVED);
    if (!resolved_path)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    char *spec = NULL;
    size_t spec_len;
    int rc = nr_read_file(resolved_path, SPEC_MAX_BYTES, &spec, &spec_len, err);
    free(resolved_path);
    if (rc != 0)
        return -1;

    new_page(r);
    paragraph(r, MARGIN, run->name, CONTENT_W, 18, true);
    r->y += 4;
    if (run->description[0]) {
        grey(r, 0.2);
        paragraph(r, MARGIN, run->description, CONTENT_W, 10, false);
        grey(r, 0);
    }
    if (label) {
        char text[1024];
        snprintf(text, sizeof text, "in the comparison: %s", label);
        grey(r, 0.4);
        paragraph(r, MARGIN, text, CONTENT_W, 9, false);
        grey(r, 0);
    }

    heading(r, "Results");
    char final[32], best[64], cost[32], val[32], epochs[64], time[96], params[32], dur[32];
    nr_format_percent(run->final_test_acc, " ", final, sizeof final);
    if (run->best_epoch) {
        char b[32];
        snprintf(best, sizeof best, "%s (epoch %d)",
                 nr_format_percent(run->best_test_acc, " ", b, sizeof b), run->best_epoch);
    } else {
        snprintf(best, sizeof best, "-");
    }
    if (run->epochs && !isnan(run->test_cost[run->epochs - 1]))
        snprintf(cost, sizeof cost, "%.4f", run->test_cost[run->epochs - 1]);
    else
        snprintf(cost, sizeof cost, "-");
    long planned = ns_get_int(run->spec->root, "train.epochs");
    snprintf(epochs, sizeof epochs, "%zu of %ld%s", run->epochs, planned,
             run->finished ? "" : " (the run has not finished)");
    if (run->epochs)
        snprintf(time, sizeof time, "%s (%.1f s: the epochs' training, test passes not counted)",
                 nr_format_duration(run->train_seconds, dur, sizeof dur), run->train_seconds);
    else
        snprintf(time, sizeof time, "-");
    const char *keys[10], *values[10];
    size_t n = 0;
    keys[n] = "final test accuracy", values[n++] = final;
    keys[n] = "best test accuracy", values[n++] = best;
    keys[n] = "final test cost", values[n++] = cost;
    if (run->val_acc && run->epochs) {
        nr_format_percent(run->val_acc[run->epochs - 1], " ", val, sizeof val);
        keys[n] = "final validation accuracy", values[n++] = val;
    }
    keys[n] = "epochs", values[n++] = epochs;
    keys[n] = "training time", values[n++] = time;
    keys[n] = "learnable parameters",
    values[n++] = nr_format_count(run->param_count, "unknown", params, sizeof params);
    keys[n] = "machine", values[n++] = run->machine[0] ? run->machine : "unknown";
    keys[n] = "backend", values[n++] = run->backend[0] ? run->backend : "unknown";
    keys[n] = "run folder", values[n++] = run->dir;
    facts(r, keys, values, n);

    heading(r, "Resolved spec (every default written out; `netrun resolved.yaml` reruns it)");
    rc = spec_text(r, spec, run->name);
    free(spec);
    if (rc != 0)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");

    new_page(r);
    char title[200];
    snprintf(title, sizeof title, "%s: learning curves", run->name);
    heading(r, title);
    picture(r, run->dir, "curves.png", CONTENT_W, 250);
    /* the two other pictures share what is left, in proportion to their
     * natural heights */
    double left = PAGE_H - MARGIN - r->y - 2 * 34;
    double hc = natural_height(run->dir, "confusion.png", CONTENT_W);
    double hm = natural_height(run->dir, "misclassified.png", CONTENT_W);
    double shrink = hc + hm > left && hc + hm > 0 ? left / (hc + hm) : 1.0;
    snprintf(title, sizeof title, "%s: confusion matrix (test set)", run->name);
    heading(r, title);
    picture(r, run->dir, "confusion.png", CONTENT_W, hc > 0 ? hc * shrink : 20);
    snprintf(title, sizeof title, "%s: misclassified test images", run->name);
    heading(r, title);
    picture(r, run->dir, "misclassified.png", CONTENT_W, PAGE_H - MARGIN - r->y);
    return 0;
}

/* The overview: compare table and curves. */
static int overview_page(report *r, const nr_comparison *cmp, nr_error *err)
{
    char *table = NULL;
    if (nr_comparison_table(cmp, &table, err) != 0)
        return -1;
    new_page(r);
    char title[96];
    snprintf(title, sizeof title, "netrun report: %zu runs", cmp->count);
    paragraph(r, MARGIN, title, CONTENT_W, 18, true);
    heading(r, "Results");
    /* the table at a size that fits its longest line */
    size_t longest = 0;
    for (const char *s = table; *s;) {
        size_t len = strcspn(s, "\n");
        size_t c = chars(s, len);
        longest = c > longest ? c : longest;
        s += len + (s[len] == '\n');
    }
    font(r, 10, false);
    double size = 10 * fmin(1.0, CONTENT_W / (longest * char_width(r)));
    if (size < 4.5)
        size = 4.5;
    font(r, size, false);
    double lead = 1.3 * size;
    for (const char *s = table; *s;) {
        size_t len = strcspn(s, "\n");
        r->y += lead;
        show_span(r, MARGIN, r->y, s, len);
        s += len + (s[len] == '\n');
    }
    free(table);
    r->y += 6;
    heading(r, "Learning curves: test solid, train dashed");
    /* the picture goes through a temporary PNG */
    char tmpdir[] = "/tmp/netrun-report-XXXXXX";
    const char *base = getenv("TMPDIR");
    char template_buf[4096];
    snprintf(template_buf, sizeof template_buf, "%s/netrun-report-XXXXXX",
             base && base[0] ? base : "/tmp");
    char *dir = mkdtemp(template_buf);
    if (!dir)
        dir = mkdtemp(tmpdir);
    if (!dir)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot create a temporary folder: %s",
                       template_buf, strerror(errno));
    char *png = nr_path_join(dir, "compare.png");
    int rc = -1;
    if (!png)
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    else if (nr_comparison_plot(cmp, png, err) == 0) {
        picture(r, dir, "compare.png", CONTENT_W, PAGE_H - MARGIN - r->y);
        rc = 0;
    }
    if (png)
        unlink(png);
    free(png);
    rmdir(dir);
    return rc;
}

int nr_report_write(const char *path, const char *const *dirs, size_t count,
                    nr_report_info *info, nr_error *err)
{
    if (info)
        info->pages = 0;
    if (count == 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: no run folders for the report", path);
    nr_comparison cmp;
    if (nr_comparison_load(dirs, count, &cmp, err) != 0)
        return -1;
    nr_atomic_file file;
    if (nr_atomic_open(&file, path, err) != 0) {
        nr_comparison_free(&cmp);
        return -1;
    }
    report r = {.path = path, .fp = file.fp};
    r.surface = cairo_pdf_surface_create_for_stream(write_stream, &r, PAGE_W, PAGE_H);
    r.cr = cairo_create(r.surface);
    int status = -1;
    if (cairo_status(r.cr) != CAIRO_STATUS_SUCCESS) {
        nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot create the PDF: %s", path,
                cairo_status_to_string(cairo_status(r.cr)));
        goto done;
    }
    cairo_pdf_surface_set_metadata(r.surface, CAIRO_PDF_METADATA_TITLE, "netrun report");
    cairo_pdf_surface_set_metadata(r.surface, CAIRO_PDF_METADATA_CREATOR,
                                   "netrun " NETRUN_VERSION);
    if (count > 1 && overview_page(&r, &cmp, err) != 0)
        goto done;
    for (size_t i = 0; i < count; i++)
        if (run_pages(&r, &cmp.runs[i], count > 1 ? cmp.labels[i] : NULL, err) != 0)
            goto done;
    if (r.page_open)
        cairo_show_page(r.cr);
    cairo_status_t st = cairo_status(r.cr);
    cairo_destroy(r.cr);
    r.cr = NULL;
    cairo_surface_finish(r.surface);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(r.surface);
    cairo_surface_destroy(r.surface);
    r.surface = NULL;
    if (st != CAIRO_STATUS_SUCCESS || r.write_errno) {
        if (r.write_errno || st == CAIRO_STATUS_WRITE_ERROR)
            nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write: %s", path,
                    strerror(r.write_errno ? r.write_errno : EIO));
        else
            nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot draw: %s", path,
                    cairo_status_to_string(st));
        goto done;
    }
    if (nr_atomic_commit(&file, err) != 0)
        goto done;
    if (info)
        info->pages = r.pages;
    status = 0;
done:
    if (r.cr)
        cairo_destroy(r.cr);
    if (r.surface) {
        r.write_errno = EIO; /* nothing more to the file */
        cairo_surface_finish(r.surface);
        cairo_surface_destroy(r.surface);
    }
    if (status != 0)
        nr_atomic_abort(&file); /* after a commit (either way) there is nothing left */
    nr_comparison_free(&cmp);
    return status;
}
