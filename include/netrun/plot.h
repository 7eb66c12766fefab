/* netrun/plot.h - the pictures of a run: learning curves (the assignment's
 * Figure 1), a comparison of several runs, the confusion matrix (heatmap,
 * CSV, per-class metrics) and a gallery of misclassified images.
 *
 * Conventions for every function below:
 *   - Pure library functions over plain arrays: nothing is kept between
 *     calls, no global state, nothing printed. They are reentrant.
 *   - Input arrays are only read and stay owned by the caller; nothing is
 *     retained after the call returns.
 *   - Return 0 on success, -1 on failure with `err` (may be NULL) filled as
 *     netrun/error.h describes:
 *       NR_EXIT_INPUT    the output cannot be written ("PATH: error: cannot
 *                        write: <strerror>"), or the data is beyond what a
 *                        picture can show (e.g. too many classes);
 *       NR_EXIT_INTERNAL a caller bug (NULL array, k == 0, channels 2, a
 *                        negative count ...) or out of memory.
 *   - Every file is written atomically (nr_atomic_open/commit of
 *     netrun/fileio.h): drawn/written to a temporary ".NAME.tmp-XXXXXX"
 *     beside PATH, fsync()ed, then rename()d over PATH. On failure the
 *     temporary file is removed and PATH is left as it was (absent or the
 *     previous version).
 *   - Picture format follows PATH's suffix: ".svg" (any case) writes SVG,
 *     anything else writes PNG (8-bit RGB).
 *   - Titles may hold several lines separated by '\n': the first line is the
 *     bold headline (the suptitle), the following lines are smaller grey
 *     subtitles (e.g. the run name). NULL or "" means no title. Text is
 *     UTF-8, drawn in fontconfig's "sans-serif" (DejaVu Sans on Debian);
 *     without any installed font cairo falls back to its built-in font.
 *   - Non-finite values (NaN, +-Inf) in curves are skipped: the line breaks
 *     there.
 */
#ifndef NETRUN_PLOT_H
#define NETRUN_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "netrun/error.h"

/* ------------------------------------------------------------ colours */

/* 0xRRGGBB colours of the learning-curve series (matplotlib's tab10). */
#define NR_PLOT_COLOR_TRAIN      0x1f77b4u /* blue   */
#define NR_PLOT_COLOR_TEST       0xff7f0eu /* orange */
#define NR_PLOT_COLOR_VALIDATION 0x2ca02cu /* green  */

/* Gallery captions: the true class in green, the predicted one in red. */
#define NR_PLOT_COLOR_CAPTION_TRUE      0x1b5e20u
#define NR_PLOT_COLOR_CAPTION_PREDICTED 0xb71c1cu

/* Colour of run i in nr_plot_compare_curves (tab10, cycling after 10). */
uint32_t nr_plot_run_color(size_t i);

/* ------------------------------------------------------------ geometry
 * The layout functions compute exactly the geometry the drawing functions
 * use (the drawing functions call them), so a test or a caller can find
 * where a data value lands in the picture. Pixel coordinates: origin at the
 * image's top-left corner, x to the right, y down, in pixels. */

typedef struct nr_plot_rect {
    double x, y, w, h;
} nr_plot_rect;

/* One panel of a curve figure. The plotting area maps data x in
 * [x_min, x_max] to its left..right edge and data y in [y_min, y_max] to its
 * bottom..top edge (linear both ways). Data x is the epoch number, 1-based:
 * element i of a per-epoch array is drawn at x = i + 1. */
typedef struct nr_plot_panel {
    nr_plot_rect area;     /* the plotting area (inside the axes frame) */
    double x_min, x_max;
    double y_min, y_max;
    nr_plot_rect legend;   /* the legend box drawn inside the area; w == 0 if none */
} nr_plot_panel;

typedef struct nr_curves_layout {
    int width, height;         /* image size in pixels */
    nr_plot_panel cost;        /* left panel */
    nr_plot_panel accuracy;    /* right panel; y in fractions (0.9 = 90 %) */
    nr_plot_rect legend;       /* figure legend below the panels
                                  (nr_plot_compare_curves); w == 0 if none */
} nr_curves_layout;

/* Data (x, y) -> pixel (*px, *py) for panel p. */
void nr_plot_panel_to_pixel(const nr_plot_panel *p, double x, double y,
                            double *px, double *py);

/* ------------------------------------------------------------ learning curves */

/* Per-epoch numbers of one run. Each array has `epochs` elements, index i =
 * epoch i + 1. Costs are mean losses; accuracies are fractions in 0..1 (the
 * accuracy panel labels them in %). Any array may be NULL when that series
 * does not exist (validation usually); a NULL series gets no line and no
 * legend entry. epochs may be 0 (empty axes) or 1 (single points). */
typedef struct nr_curve_series {
    size_t epochs;
    const double *train_cost;  /* [epochs] */
    const double *test_cost;   /* [epochs] */
    const double *train_acc;   /* [epochs] */
    const double *test_acc;    /* [epochs] */
    const double *val_cost;    /* [epochs] or NULL */
    const double *val_acc;     /* [epochs] or NULL */
} nr_curve_series;

/* The assignment's Figure 1: two panels side by side, "Cost" (left) and
 * "Accuracy" (right), x = "Epoch", lines Train / Test / Validation (colours
 * NR_PLOT_COLOR_*), markers at the points when there are at most 40 epochs,
 * a light grid, nice ticks (1/2/5 x 10^k), a legend per panel in the corner
 * that hides the fewest points, and `title` across the top, e.g.
 *   "Batch size: 64 | Learning rate: 0.05 | Epochs: 10 | Training time: 1min 23sec\nex2_cnn".
 * About 1200 x 500 pixels (taller when the title has more than two lines).
 * y ranges: cost from min (or 0 when min <= max/2) to max, accuracy from min
 * to 100 %, each padded by 5 %. */
int nr_plot_learning_curves(const char *path, const nr_curve_series *series,
                            const char *title, nr_error *err);
int nr_plot_learning_curves_layout(const nr_curve_series *series, const char *title,
                                   nr_curves_layout *out, nr_error *err);

/* Overlay of `count` (>= 1) runs: left panel cost, right panel accuracy;
 * test = solid line, train = dashed line, one colour per run
 * (nr_plot_run_color(i)); a legend below the panels names each run by
 * labels[i] (labels may be NULL, or an element NULL: "run <i+1>"). Runs may
 * have different epoch counts; validation arrays are ignored. */
int nr_plot_compare_curves(const char *path, const nr_curve_series *runs,
                           const char *const *labels, size_t count,
                           const char *title, nr_error *err);
int nr_plot_compare_curves_layout(const nr_curve_series *runs,
                                  const char *const *labels, size_t count,
                                  const char *title, nr_curves_layout *out,
                                  nr_error *err);

/* ------------------------------------------------------------ confusion matrix
 * matrix: [k, k] row-major counts, matrix[i*k + j] = number of test images of
 * true class i predicted as class j; every count >= 0 (a negative count is an
 * NR_EXIT_INTERNAL error). class_names: k UTF-8 names, or NULL for "0".."k-1"
 * (a NULL element also gives its index). */

/* Heatmap (white -> dark blue, by count / largest count) with the count in
 * every cell (white text on dark cells, black on light ones) when k <= 20,
 * class names on both axes (x = "Predicted", y = "True"; every n-th name when
 * cells are too small for all), a colour bar with count ticks, and the title.
 * 2 <= k is not required (k = 1 works); k > 4096 is an NR_EXIT_INPUT error
 * (the CSV holds any k). */
int nr_plot_confusion(const char *path, const int64_t *matrix, size_t k,
                      const char *const *class_names, const char *title,
                      nr_error *err);

typedef struct nr_confusion_layout {
    int width, height;
    nr_plot_rect matrix;   /* the k x k cells: cell (true i, predicted j) is
                              x = matrix.x + j*cell, y = matrix.y + i*cell */
    double cell;           /* cell side in pixels (a whole number) */
    int show_counts;       /* 1 when counts are written in the cells */
    nr_plot_rect colorbar; /* the colour scale, count 0 at the bottom */
} nr_confusion_layout;

int nr_plot_confusion_layout(size_t k, const char *const *class_names,
                             const char *title, nr_confusion_layout *out,
                             nr_error *err);

/* CSV (RFC 4180 quoting of names when needed):
 *   true\predicted,NAME0,NAME1,...
 *   NAME0,c00,c01,...
 *   ...                                                               */
int nr_confusion_write_csv(const char *path, const int64_t *matrix, size_t k,
                           const char *const *class_names, nr_error *err);

/* Per-class metrics as CSV, numbers with 6 decimals:
 *   class,precision,recall,f1,support
 *   NAME_i,P_i,R_i,F1_i,S_i          one row per class
 *   macro avg,P,R,F1,N               unweighted mean over the k classes
 *   weighted avg,P,R,F1,N            mean weighted by support
 *   accuracy,A,A,A,N                 trace / N (= micro-averaged P, R and F1)
 * with P_i = c_ii / column sum, R_i = c_ii / row sum (S_i), F1 = 2PR/(P+R),
 * N = sum of all counts, and every 0/0 defined as 0. */
int nr_confusion_write_metrics(const char *path, const int64_t *matrix, size_t k,
                               const char *const *class_names, nr_error *err);

/* ------------------------------------------------------------ gallery */

typedef struct nr_gallery_item {
    const uint8_t *pixels;      /* [channels, height, width] uint8, CHW (as
                                   nr_dataset keeps them) */
    const char *true_name;      /* NULL -> "?" */
    const char *predicted_name; /* NULL -> the caption is just true_name (a
                                   preview of images without predictions) */
    double probability;         /* probability of the predicted class; NaN or
                                   < 0 -> not shown */
} nr_gallery_item;

/* A grid of up to 5 images per row, each upscaled by a whole factor with
 * nearest-neighbour (28x28 -> 112x112; images larger than 224 are scaled
 * down to 224 instead), framed, with a caption under it: "true 4 → predicted
 * 9" (true in green, predicted in red) and "p = 0.83" below (long names are
 * shortened with "..."), and the title on top (NULL gives "Misclassified test
 * images"). channels 1 (gray) or 3 (RGB); 1 <= height, width <= 4096. count 0
 * draws the title and "(no images)". */
int nr_plot_gallery(const char *path, const nr_gallery_item *items, size_t count,
                    int channels, int height, int width, const char *title,
                    nr_error *err);

typedef struct nr_gallery_layout {
    int width, height;
    int columns, rows;
    double scale;            /* image pixels -> picture pixels */
    int image_w, image_h;    /* drawn size of one image */
    int x0, y0;              /* top-left of item 0's image */
    int pitch_x, pitch_y;    /* item i's image is at
                                x0 + (i % columns) * pitch_x,
                                y0 + (i / columns) * pitch_y */
} nr_gallery_layout;

int nr_plot_gallery_layout(size_t count, int channels, int height, int width,
                           const char *title, nr_gallery_layout *out,
                           nr_error *err);

#endif
