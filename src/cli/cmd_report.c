/* cli/cmd_report.c - `netrun report RUN_DIR... [-o FILE.pdf]`: one PDF with,
 * per run, its settings (resolved.yaml), results and pictures. */
#include <stdio.h>

#include "cli.h"
#include "netrun/error.h"
#include "netrun/report.h"

int cli_report(const cli_options *opts)
{
    /* main refuses the options report does not take */
    const char *path = opts->out_dir ? opts->out_dir : "report.pdf";
    nr_report_info info;
    nr_error err = {0};
    if (nr_report_write(path, opts->specs, opts->spec_count, &info, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    printf("%s: %d pages, %zu run%s\n", path, info.pages, opts->spec_count,
           opts->spec_count == 1 ? "" : "s");
    return 0;
}
