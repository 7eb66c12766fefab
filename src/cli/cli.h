/* cli/cli.h - the command-line program's commands (only main prints/exits). */
#ifndef NETRUN_CLI_H
#define NETRUN_CLI_H

#include <stddef.h>

#include "netrun/net.h"

/* Options common to the commands, filled by main's getopt_long loop. */
typedef struct cli_options {
    const char **sets;       /* --set assignments, in order (argv strings, borrowed) */
    size_t set_count;
    const char *out_dir;     /* --out DIR, or NULL */
    const char *weights;     /* --weights FILE (eval), or NULL */
    nr_backend backend;      /* --backend blas|reference */
    const char **specs;      /* positional arguments */
    size_t spec_count;
} cli_options;

/* Each returns the process exit status. */
int cli_check(const cli_options *opts);
int cli_train(const cli_options *opts);
int cli_eval(const cli_options *opts);
int cli_data(const cli_options *opts);

#endif
