/* cli/cmd_compare.c - `netrun compare RUN_DIR... [-o FILE.png]`: the runs'
 * learning curves in one picture (test solid, train dashed), each run named
 * by what differs in its resolved spec, and a table of their results. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "netrun/compare.h"
#include "netrun/error.h"

int cli_compare_print(const char *const *dirs, size_t count, const char *picture)
{
    nr_comparison cmp;
    nr_error err = {0};
    if (nr_comparison_load(dirs, count, &cmp, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    char *table = NULL;
    int status = 0;
    if (nr_comparison_table(&cmp, &table, &err) != 0 ||
        nr_comparison_plot(&cmp, picture, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        status = err.status ? err.status : NR_EXIT_INTERNAL;
    } else {
        fputs(table, stdout);
        printf("curves of the %zu run%s: %s\n", count, count == 1 ? "" : "s", picture);
    }
    fflush(stdout);
    free(table);
    nr_comparison_free(&cmp);
    return status;
}

int cli_compare(const cli_options *opts)
{
    /* main refuses the options compare does not take */
    return cli_compare_print(opts->specs, opts->spec_count,
                             opts->out_dir ? opts->out_dir : "compare.png");
}
