/* cli/cli.h - the command-line program's commands (only main prints/exits). */
#ifndef NETRUN_CLI_H
#define NETRUN_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "netrun/comm.h"
#include "netrun/net.h"

/* Options common to the commands, filled by main's getopt_long loop. */
typedef struct cli_options {
    const char **sets;       /* --set assignments, in order (argv strings, borrowed) */
    size_t set_count;
    const char *out_dir;     /* --out DIR, or NULL */
    const char *weights;     /* --weights FILE (eval), or NULL */
    const char *top;         /* --top K (predict) as given, or NULL */
    int epochs;              /* --epochs N (resume), 0 when not given */
    nr_backend backend;      /* --backend blas|reference */
    const char **sweeps;     /* --sweep KEY=V1,V2,... (argv strings, borrowed) */
    size_t sweep_count;
    const char **specs;      /* positional arguments */
    size_t spec_count;
    double started_at;       /* nr_monotonic_seconds() at main's entry */
    /* the processes mpirun started (netrun/comm.h; one alone without
     * mpirun): training and resume share their batches over them; rank 0
     * alone prints progress and results */
    const nr_comm *comm;
    /* where a run's own error goes (not one another process failed with):
     * stderr, which ranks > 0 have silenced, so theirs is a copy of it */
    FILE *run_errors;
} cli_options;

/* Each returns the process exit status. */
int cli_check(const cli_options *opts);
int cli_train(const cli_options *opts);
int cli_eval(const cli_options *opts);
int cli_data(const cli_options *opts);
int cli_resume(const cli_options *opts);
int cli_compare(const cli_options *opts);
int cli_diff(const cli_options *opts);
int cli_report(const cli_options *opts);
int cli_predict(const cli_options *opts);
int cli_export(const cli_options *opts);

/* cmd_compare.c: prints the compare table of run folders dirs[0..count) on
 * stdout and writes their curves to `picture`; returns the exit status. */
int cli_compare_print(const char *const *dirs, size_t count, const char *picture);

/* sweep.c: one --sweep KEY=V1,V2,... split at its top-level commas (commas
 * inside [..], {..} or quotes belong to the value). */
typedef struct cli_sweep {
    char *key;               /* "train.optimizer.sgd.lr" */
    char **values;           /* [count] value texts */
    size_t count;
} cli_sweep;
/* Parses `arg`; on a bad argument prints the one-line error and returns 2. */
int cli_sweep_parse(const char *arg, cli_sweep *out);
void cli_sweep_free(cli_sweep *sweep);
int cli_bench(const cli_options *opts);

#endif
