/* cli/cmd_train.c - `netrun SPEC...`: train and evaluate. */
#include <stdio.h>

#include "cli.h"
#include "netrun/error.h"
#include "netrun/spec_load.h"

int cli_train(const cli_options *opts)
{
    for (size_t i = 0; i < opts->spec_count; i++) {
        ns_doc *doc;
        nr_graph *graph;
        nr_error err = {0};
        if (nr_spec_load(opts->specs[i], opts->sets, opts->set_count, &doc, &graph, &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            return err.status ? err.status : 1;
        }
        nr_graph_free(graph);
        ns_doc_free(doc);
    }
    fprintf(stderr, "netrun: error: this build has no training engine yet; "
            "use 'netrun check SPEC' to validate a spec\n");
    return NR_EXIT_INTERNAL;
}
