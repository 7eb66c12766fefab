/* cli/cmd_check.c - `netrun check SPEC...`: parse, validate, infer shapes,
 * print the summary table. */
#include <stdio.h>

#include "cli.h"
#include "netrun/spec_load.h"

int cli_check(const cli_options *opts)
{
    int status = 0;
    for (size_t i = 0; i < opts->spec_count; i++) {
        ns_doc *doc;
        nr_graph *graph;
        nr_error err = {0};
        if (nr_spec_load(opts->specs[i], opts->sets, opts->set_count, &doc, &graph, &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            status = err.status ? err.status : 1;
            continue;
        }
        const char *description = ns_get_str(doc->root, "description");
        printf("%s: %s%s%s\n", opts->specs[i], ns_get_str(doc->root, "name"),
               description[0] ? " - " : "", description);
        nr_graph_write_summary(graph, stdout);
        if (i + 1 < opts->spec_count)
            printf("\n");
        nr_graph_free(graph);
        ns_doc_free(doc);
    }
    return status;
}
