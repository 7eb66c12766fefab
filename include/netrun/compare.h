/* netrun/compare.h - run folders side by side (`netrun compare`, the end of
 * a sweep or of several specs, `netrun report`).
 *
 * Each run folder is read by nr_run_folder_read (netrun/run_folder.h).
 * Labels name each run by what differs in its resolved spec from the other
 * runs' (netspec's ns_diff against the first run), always with its name.
 *
 * Libraries print nothing: the table comes back as text. Errors: a missing
 * resolved.yaml, a history.csv that is not netrun's ("PATH:LINE:COL: error:
 * ...", from the reader) are NR_EXIT_INPUT; out of memory NR_EXIT_INTERNAL.
 */
#ifndef NETRUN_COMPARE_H
#define NETRUN_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "netrun/error.h"
#include "netrun/netspec.h"
#include "netrun/run_folder.h"

/* Legend labels: labels[i] (malloc'd, caller frees each) names run i by its
 * spec's `name` and, after ": ", what differs between the resolved specs
 * `specs[0..count)` (roots of resolved docs):
 *   - a setting that differs and has a short value is shown as KEY=VALUE on
 *     every run's label, KEY the shortest tail of its path that tells it
 *     from the other differing settings ("lr=0.01", "sgd.lr=0.01" next to
 *     "adam.lr=..."), a choice by its variant ("optimizer=adam");
 *   - layers and long values that differ from the first run's are named on
 *     the labels of the runs that differ: "network.layers[1..2,4..5] differ",
 *     "data.train differs";
 *   - `name` and `description` never count as differences.
 * Settings are listed in spec order, cut to about 80 characters with
 * "(+N more)". Equal labels get " (D)" appended, D the last component of
 * dirs[i] (dirs may be NULL: "#i" with i from 1). */
int nr_compare_labels(const ns_node *const *specs, const char *const *dirs, size_t count,
                      char **labels, nr_error *err);

/* Several runs, read and labelled. */
typedef struct nr_comparison {
    nr_run_info *runs;       /* [count] */
    char **labels;           /* [count] */
    size_t count;
} nr_comparison;

/* Reads every run folder and computes the labels; on failure *out is empty
 * (nothing to free). */
int nr_comparison_load(const char *const *dirs, size_t count, nr_comparison *out,
                       nr_error *err);
void nr_comparison_free(nr_comparison *cmp);

/* The table, one row per run (malloc'd text, caller frees):
 *   run  final test  best test (epoch)  params  training time  folder
 * accuracies in %, "-" where a run has no epoch or the value is unknown. */
int nr_comparison_table(const nr_comparison *cmp, char **text, nr_error *err);

/* nr_plot_compare_curves of the runs (test solid, train dashed, one colour
 * per run, the labels in the legend), written atomically to `path`
 * (".svg": SVG, else PNG). */
int nr_comparison_plot(const nr_comparison *cmp, const char *path, nr_error *err);

#endif
