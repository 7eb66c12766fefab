/* netrun/run.h - one complete run of a spec, and evaluation of saved weights.
 *
 * nr_run(): spec -> resolved doc + graph (all shapes checked, the data's
 * listings surveyed) -> run folder, locked -> data (train and test, same
 * classes and image shape) -> net (initialized from the seed) -> training ->
 * weights. Everything that can be checked without loading the data is
 * checked before the run folder is created, so a bad spec leaves nothing
 * behind; data that then fails to load leaves the folder as it was (absent
 * or empty). The run folder (runs/<name>-<n>, n the first free number, or
 * --out DIR, which must be absent or empty: never overwritten) is held by
 * one netrun at a time (nr_folder_lock, netrun/fileio.h: taken before the
 * emptiness check, so two runs started together cannot both pass it, and
 * before any data is loaded; a second run or resume fails at once with
 * NR_EXIT_INPUT, "DIR: error: in use by another netrun (pid N) since
 * HH:MM:SS"; released, and .netrun-lock removed, when the run returns, by
 * the kernel if the process dies). Its files and their format are
 * netrun/run_folder.h's (spec.yaml, resolved.yaml, summary.txt, history.csv
 * rewritten after every epoch, batches.csv, checkpoint.bin after every epoch
 * and at an interrupt, weights.bin: the final model, the best epoch's when
 * early stopping restored it; the pictures of netrun/outputs.h).
 * The library prints nothing; hooks receive messages and progress.
 */
#ifndef NETRUN_RUN_H
#define NETRUN_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "netrun/comm.h"
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
    nr_run_hooks hooks;
    /* Set (by a signal handler) to ask for a stop after the current batch;
     * the run then writes its checkpoint and fails with NR_EXIT_INTERRUPTED.
     * May be NULL. */
    const volatile sig_atomic_t *stop_request;
    /* When the command started, on nr_monotonic_seconds() (netrun/clock.h):
     * the startup time in the result and summary.txt counts from here.
     * 0: from nr_run's entry. */
    double started_at;
    /* resume: the run's new total of epochs (0: as planned); see
     * nr_run_resume */
    int epochs;
    /* The processes training this run together (netrun/comm.h; borrowed;
     * NULL: this process alone). Every process calls nr_run (or
     * nr_run_resume) with the same options; they share each batch (see
     * nr_net_set_comm) and only rank 0 writes the run folder (its lock,
     * files, checkpoints); the hooks are called on every process (give
     * them to rank 0 only to print once). A failure on any process before
     * training, or of rank 0's writes after an epoch, fails the run on
     * every process: the first failing rank gets its own error, the others
     * that rank's exit status and result.peer_failed (print nothing). */
    const nr_comm *comm;
} nr_run_options;

typedef struct nr_run_result {
    char run_dir[4096];
    int epochs;                /* epochs trained (fewer after early stopping) */
    int best_epoch;            /* early stopping's best epoch, 0 without */
    double train_seconds;      /* sum of the epochs' training time */
    double final_test_acc, final_test_cost;
    size_t param_count;
    /* From started_at: to the start of training, everything before it done
     * (spec, data, network, run folder), and to the end of the first
     * training batch. 0 when no batch ran (resume counts from its entry). */
    double startup_seconds, first_batch_seconds;
    /* several processes: another process failed first; err has its exit
     * status and no message of its own (that process prints its error) */
    bool peer_failed;
} nr_run_result;

int nr_run(const nr_run_options *opts, nr_run_result *result, nr_error *err);

/* Claims a new run folder RUNS_ROOT/NAME-n (runs_root NULL: "runs", created
 * with its parents when absent), n the first number from 1 whose folder
 * does not exist: the mkdir claims it, so of several netruns each gets its
 * own. Writes the path into dir[size]; the folder is created empty and
 * unlocked (nr_run with out_dir = dir then trains into it). Several
 * processes' sweep: one process claims every point's folder in point order
 * before any trains. */
int nr_run_claim_folder(const char *runs_root, const char *name, char *dir, size_t size,
                        nr_error *err);

/* `netrun resume RUN_DIR [--epochs N]` (RUN_DIR in opts->out_dir; spec_path
 * and sets are ignored: the run folder's resolved.yaml is the spec):
 * reloads the checkpoint written after the last finished epoch or at an
 * interrupt and continues into the same folder, so the history is the one an
 * uninterrupted run writes (but for the seconds column). The folder is
 * locked before anything is loaded, like nr_run's: a folder another netrun
 * trains into or resumes is refused; one whose holder died is not.
 * train.init_from is not read again (the checkpoint has the weights).
 * opts->epochs N > 0: the run continues to N epochs in all, a finished run
 * too, as if N had been planned (nr_trainer_load says when it cannot be:
 * cosine and one_cycle schedules, early stopping having ended it, N not
 * above the epochs done); resolved.yaml then says train.epochs: N (written
 * before training goes on) and summary.txt "extended: E -> N epochs". */
int nr_run_resume(const nr_run_options *opts, nr_run_result *result, nr_error *err);

typedef struct nr_run_eval_result {
    nr_eval_result test;
    /* the weights file records the class names it was trained with and
     * they were found equal to the Test folders'; false for a version-1
     * weights file, which records none (only their number is checked) */
    bool classes_checked;
} nr_run_eval_result;

/* `netrun eval`: loads the spec's network, the weights file's model info
 * and data.test's listing; refuses a Test set whose class folders are not
 * the ones the weights were trained on (naming the missing and extra ones)
 * or whose images do not fit; then loads Test and the weights and
 * evaluates. */
int nr_run_eval(const char *spec_path, const char *const *sets, size_t set_count,
                const char *weights_path, nr_run_eval_result *result, nr_error *err);

#endif
