/* plot/common.h - private helpers shared by the files of src/plot/: the
 * output canvas (PNG or SVG, written atomically through netrun/fileio.h),
 * text, ticks and colours. Not part of the public API; names start with
 * nrp_. */
#ifndef NETRUN_PLOT_COMMON_H
#define NETRUN_PLOT_COMMON_H

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netrun/error.h"
#include "netrun/fileio.h"
#include "netrun/plot.h"

/* Largest side of any picture (cairo image surfaces stop at 32767). */
#define NRP_MAX_SIDE 30000

#define NRP_PI 3.14159265358979323846

/* Font sizes in pixels. */
#define NRP_FONT_TITLE    19.0
#define NRP_FONT_SUBTITLE 14.0
#define NRP_FONT_PANEL    16.0
#define NRP_FONT_AXIS     14.0
#define NRP_FONT_TICK     13.0
#define NRP_FONT_LEGEND   13.0

/* ------------------------------------------------------------ canvas */

typedef struct nrp_canvas {
    const char *path;
    nr_atomic_file file;     /* the temporary file (netrun/fileio.h) while writing */
    int write_errno;         /* first write error seen by the stream callback */
    int svg;                 /* 1: SVG surface streaming to file.fp; 0: image surface */
    int width, height;
    cairo_surface_t *surface;
    cairo_t *cr;             /* white background already painted */
} nrp_canvas;

/* Creates the surface for PATH (format by suffix) and a context on it. The
 * temporary file (nr_atomic_open) is opened here, so an unwritable folder
 * fails before any drawing. On failure nothing is left behind. */
int nrp_canvas_open(nrp_canvas *c, const char *path, int width, int height,
                    nr_error *err);
/* Finishes drawing, writes PNG/SVG to the temporary file and commits it
 * (nr_atomic_commit: fsync, rename over PATH). Always releases everything;
 * on failure removes the temporary file. */
int nrp_canvas_close(nrp_canvas *c, nr_error *err);
/* Releases everything without writing (after a failure while drawing). */
void nrp_canvas_abort(nrp_canvas *c);

/* ------------------------------------------------------------ measuring */

/* A context on a tiny image surface for measuring text while laying out.
 * Free with nrp_measure_free. NULL when out of memory. */
cairo_t *nrp_measure_new(void);
void nrp_measure_free(cairo_t *cr);

/* ------------------------------------------------------------ text */

enum { NRP_LEFT = 0, NRP_CENTER = 1, NRP_RIGHT = 2 };
enum { NRP_TOP = 0, NRP_MIDDLE = 1, NRP_BASELINE = 2, NRP_BOTTOM = 3 };

void nrp_font(cairo_t *cr, double size, int bold);
double nrp_text_width(cairo_t *cr, const char *s);
/* Height of one line (ascent + descent) of the current font. */
double nrp_line_height(cairo_t *cr);
/* Draws s anchored at (x, y); halign NRP_LEFT/CENTER/RIGHT, valign
 * NRP_TOP/MIDDLE/BASELINE/BOTTOM (MIDDLE centres digits and capitals). */
void nrp_text(cairo_t *cr, double x, double y, const char *s, int halign, int valign);
/* Same, rotated by `angle` radians about (x, y) (negative = counter-clockwise
 * on screen, -pi/2 reads bottom to top). */
void nrp_text_rotated(cairo_t *cr, double x, double y, double angle, const char *s,
                      int halign, int valign);
/* Copies s into buf, shortened with "..." so it is at most max_w wide in the
 * current font. */
void nrp_fit_text(cairo_t *cr, const char *s, double max_w, char *buf, size_t size);

/* Title block (see plot.h: first line bold headline, others subtitles),
 * each line shrunk to fit `width` - 2*margin. nrp_title_height gives the
 * block's height (0 for NULL/""), nrp_title_draw draws it centred in
 * [0, width] starting at y_top. */
double nrp_title_height(cairo_t *cr, const char *title, double width);
void nrp_title_draw(cairo_t *cr, const char *title, double width, double y_top);

/* ------------------------------------------------------------ numbers */

/* A nice tick step (1, 2 or 5 x 10^k) giving about `target` ticks over span. */
double nrp_nice_step(double span, int target);
/* Tick label for value v on an axis with step `step`: enough decimals to tell
 * ticks apart, %g for very large/small magnitudes. */
void nrp_tick_label(double v, double step, char *buf, size_t size);

/* ------------------------------------------------------------ colour */

void nrp_rgb(cairo_t *cr, uint32_t rgb);
void nrp_rgba(cairo_t *cr, uint32_t rgb, double alpha);

#endif
