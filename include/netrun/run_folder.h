/* netrun/run_folder.h - the format of a run folder, owned here: the names
 * of its files, history.csv's columns (one table, used by the writer and the
 * reader), summary.txt's lines, and the reader every command that looks at
 * a run uses (compare, report; predict and export next).
 *
 * The files (written by nr_run, netrun/run.h, each atomically):
 *   spec.yaml       the spec file as given                    (NR_RUN_SPEC)
 *   resolved.yaml   the resolved spec, every default written  (NR_RUN_RESOLVED)
 *   history.csv     one row per finished epoch                (NR_RUN_HISTORY)
 *                   epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds
 *                   and, with a validation split, ,val_cost,val_acc
 *   batches.csv     epoch,batch,cost,acc per training batch   (NR_RUN_BATCHES)
 *   summary.txt     see below                                 (NR_RUN_SUMMARY)
 *   checkpoint.bin  the trainer's state (netrun/train.h)      (NR_RUN_CHECKPOINT)
 *   weights.bin     the trained model (netrun/weights.h)      (NR_RUN_WEIGHTS)
 *   curves.png/.svg, confusion.csv/.png, metrics.csv, misclassified.csv/.png,
 *   augment_preview.png: the pictures and tables of netrun/outputs.h
 *
 * summary.txt is "key: value" lines for people and programs, with the
 * layer table (nr_graph_write_summary) and the output line in between. The
 * lines a program may rely on (nr_run_folder_read reads them):
 *   params: N                 learnable parameters, a plain integer
 *   machine: TEXT             CPU model, cores
 *   backend: TEXT             "blas (OpenBLAS)" or "reference (plain loops)"
 *   final test accuracy: F    (0..1) present once the run has finished
 * and also name, description, spec, data, classes, threads, (several
 * processes) processes, epochs,
 * training time, final test cost, the val lines, startup; with frozen
 * layers "trainable params: N (M frozen)", with train.init_from its
 * "init_from: ..." line (netrun/init_from.h), and for a run continued by
 * `netrun resume --epochs` "extended: 2 -> 4 epochs (netrun resume
 * --epochs)" (each extension adds its total).
 */
#ifndef NETRUN_RUN_FOLDER_H
#define NETRUN_RUN_FOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/netspec.h"
#include "netrun/spec_load.h"
#include "netrun/train.h"

#define NR_RUN_SPEC "spec.yaml"
#define NR_RUN_RESOLVED "resolved.yaml"
#define NR_RUN_HISTORY "history.csv"
#define NR_RUN_BATCHES "batches.csv"
#define NR_RUN_SUMMARY "summary.txt"
#define NR_RUN_CHECKPOINT "checkpoint.bin"
#define NR_RUN_WEIGHTS "weights.bin"

/* ------------------------------------------------------------ writing */

/* Writes FILE (one of the names above) into run folder `dir` atomically. */
int nr_run_folder_write(const char *dir, const char *file, const void *data, size_t len,
                        nr_error *err);

/* history.csv for history[0..epochs) (validation: with the val columns). */
int nr_run_folder_write_history(const char *dir, const nr_epoch_record *history, int epochs,
                                bool validation, nr_error *err);

/* batches.csv: its header line, and one row (appended to `out`). */
extern const char nr_batches_header[];
void nr_batches_append(FILE *out, const nr_batch_record *batch);

/* What summary.txt says. Everything is borrowed. */
typedef struct nr_run_summary {
    const nr_spec *spec;             /* name, description, layers, output, training config */
    const char *spec_path;           /* as given on the command line */
    const nr_dataset *train, *test;
    const char *machine;
    int threads;                     /* the spec's, or the online cores for 0 */
    /* several processes: "P (threads per process: T0 T1 ...; hosts: H0 H1
     * ...)", the "processes:" line; NULL: one process (no line) */
    const char *processes;
    /* the end of training: finished false while the run trains */
    bool finished;
    int epochs;                      /* trained (fewer after early stopping) */
    int best_epoch;                  /* early stopping's best epoch, 0 without */
    double train_seconds, final_test_acc, final_test_cost;
    double startup_seconds, first_batch_seconds;  /* 0: not measured */
    const nr_epoch_record *history;  /* [epochs] for the val lines; may be NULL */
    const char *init_from;           /* nr_init_from_describe's line, or NULL */
    const char *extended;            /* the totals a resume --epochs went through,
                                        "2 -> 4", or NULL */
} nr_run_summary;

int nr_run_folder_write_summary(const char *dir, const nr_run_summary *summary,
                                nr_error *err);
/* The value of the first "KEY: value" line of dir's summary.txt into buf
 * ("" when there is none, or no summary.txt); for a resumed run, what its
 * summary said before. extended: the totals of its "extended:" line
 * ("2 -> 4"). Returns buf. */
const char *nr_run_folder_summary_value(const char *dir, const char *key, char *buf,
                                        size_t size);
enum { NR_SUMMARY_EXTENDED_MAX = 256 };

/* ------------------------------------------------------------ reading */

typedef struct nr_run_info {
    char *dir;               /* the folder as given (owned) */
    ns_doc *spec;            /* resolved.yaml, resolved (owned) */
    const char *name;        /* the spec's name (borrowed from spec) */
    const char *description; /* the spec's description, "" when none (borrowed) */
    size_t epochs;           /* rows of history.csv */
    /* [epochs] each; index i = epoch i + 1. val_* are NULL when history.csv
     * has no validation columns; lr is NULL without an lr column. */
    double *train_cost, *train_acc, *test_cost, *test_acc, *val_cost, *val_acc, *lr,
        *seconds;
    double final_test_acc;   /* last epoch's test accuracy (0..1); NaN without epochs */
    double best_test_acc;    /* the highest test accuracy; NaN without epochs */
    int best_epoch;          /* its epoch (the first one with it), 0 without epochs */
    double train_seconds;    /* sum of history.csv's seconds */
    long long param_count;   /* learnable parameters; -1 unknown */
    char machine[256];       /* summary.txt's machine line, "" unknown */
    char backend[64];        /* summary.txt's backend line, "" unknown */
    bool finished;           /* summary.txt holds the final results */
} nr_run_info;

/* Reads run folder `dir` into *info (zeroed first; free with
 * nr_run_info_free, also after a failure):
 *   resolved.yaml  required (parsed and resolved again)
 *   history.csv    with or without val_cost/val_acc; absent = no epoch
 *                  finished yet (0 epochs)
 *   summary.txt    params, machine, backend, finished; absent = unknown.
 *                  (summary.txt of netrun 0.1, which has no params: line:
 *                  the layer table's "total: N learnable parameters")
 * Errors: a missing resolved.yaml, a history.csv that is not netrun's
 * ("PATH:LINE:COL: error: ...") are NR_EXIT_INPUT; out of memory
 * NR_EXIT_INTERNAL. */
int nr_run_folder_read(const char *dir, nr_run_info *info, nr_error *err);
void nr_run_info_free(nr_run_info *info);

#endif
