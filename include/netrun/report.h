/* netrun/report.h - `netrun report`: run folders as one PDF (cairo, A4
 * portrait), text in a monospace font.
 *
 * Pages:
 *   - with more than one run, an overview first: the compare table
 *     (netrun/compare.h) and the runs' curves in one picture;
 *   - per run, a text page: the name and description as the title, the final
 *     numbers (final and best test accuracy with its epoch, final test cost,
 *     final validation accuracy when there is a split, epochs, training
 *     time, learnable parameters, machine, backend, run folder) and the
 *     resolved spec (resolved.yaml: every default written out, so that the
 *     run can be reproduced), in two columns when it is long and continued on
 *     further pages when it does not fit;
 *   - per run, a picture page: curves.png, confusion.png and
 *     misclassified.png, each scaled to fit (a missing picture, e.g. of a run
 *     still training, is named instead).
 * The PDF is written atomically (netrun/fileio.h). Errors: a folder that is
 * not a run folder or an unreadable file NR_EXIT_INPUT, out of memory
 * NR_EXIT_INTERNAL; nothing is printed.
 */
#ifndef NETRUN_REPORT_H
#define NETRUN_REPORT_H

#include <stddef.h>

#include "netrun/error.h"

typedef struct nr_report_info {
    int pages;               /* pages written */
} nr_report_info;

/* Writes the report of run folders dirs[0..count) (count >= 1) to `path`.
 * info may be NULL. */
int nr_report_write(const char *path, const char *const *dirs, size_t count,
                    nr_report_info *info, nr_error *err);

#endif
