/* netrun/run.h - one complete run of a spec, and evaluation of saved weights.
 *
 * nr_run(): spec -> resolved doc + graph (all shapes checked) -> data (train
 * and test, same classes and image shape) -> net (initialized from the seed)
 * -> run folder -> training -> weights. Everything that can be checked is
 * checked before the run folder is created, so bad input leaves nothing
 * behind. The run folder (runs/<name>-<n>, n the first free number, or
 * --out DIR, which must be absent or empty: never overwritten) holds:
 *   spec.yaml      the spec file as given (bytes unchanged)
 *   resolved.yaml  the resolved spec: every default written out, --set applied
 *   summary.txt    the layer table, data, machine, threads, backend; at the end
 *                  also the training time and final results
 *   history.csv    epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds
 *                  (+ val_cost,val_acc with a validation split; rewritten
 *                  atomically after every epoch)
 *   curves.png/.svg, confusion.csv/.png, metrics.csv, misclassified.png/.csv,
 *   augment_preview.png: see netrun/outputs.h
 *   batches.csv    epoch,batch,cost,acc for every training batch
 *   weights.bin    the trained parameters (netrun/weights.h): the final
 *                  model (the best epoch's when early stopping restored it)
 * The library prints nothing; hooks receive messages and progress.
 */
#ifndef NETRUN_RUN_H
#define NETRUN_RUN_H

#include <stddef.h>

#include "netrun/error.h"
#include "netrun/net.h"
#include "netrun/train.h"

typedef struct nr_run_hooks {
    void *ctx;
    void (*message)(void *ctx, const char *line);               /* may be NULL */
    void (*on_batch)(void *ctx, const nr_batch_record *batch);  /* may be NULL */
    void (*on_epoch)(void *ctx, const nr_epoch_record *epoch, int epochs); /* may be NULL */
} nr_run_hooks;

typedef struct nr_run_options {
    const char *spec_path;
    const char *const *sets;   /* --set assignments */
    size_t set_count;
    const char *out_dir;       /* NULL: <runs_root>/<name>-<n> */
    const char *runs_root;     /* NULL: "runs" */
    nr_backend backend;
    nr_run_hooks hooks;
} nr_run_options;

typedef struct nr_run_result {
    char run_dir[4096];
    int epochs;                /* epochs trained (fewer after early stopping) */
    int best_epoch;            /* early stopping's best epoch, 0 without */
    double train_seconds;      /* sum of the epochs' training time */
    double final_test_acc, final_test_cost;
    size_t param_count;
} nr_run_result;

int nr_run(const nr_run_options *opts, nr_run_result *result, nr_error *err);

/* `netrun eval`: loads the spec's network and data.test, the weights file,
 * and evaluates. */
int nr_run_eval(const char *spec_path, const char *const *sets, size_t set_count,
                const char *weights_path, nr_backend backend, nr_eval_result *result,
                nr_error *err);

#endif
