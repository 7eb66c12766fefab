/* cli/cmd_check.c - `netrun check SPEC...`: parse, validate, infer shapes,
 * check the spec against its data folders (listing and first images only),
 * check train.init_from against its source model, print the summary table,
 * what the network's output is and what init_from loads. */
#include <stdio.h>

#include "cli.h"
#include "netrun/init_from.h"
#include "netrun/spec_load.h"
#include "netrun/train.h"

int cli_check(const cli_options *opts)
{
    int status = 0;
    for (size_t i = 0; i < opts->spec_count; i++) {
        nr_spec spec;
        nr_spec_data data = {0};
        nr_init_from_report init_from;
        nr_error err = {0};
        if (nr_spec_load(opts->specs[i], opts->sets, opts->set_count, &spec, &err) != 0 ||
            nr_spec_check_data(&spec, NR_SPEC_DATA_TRAIN | NR_SPEC_DATA_TEST, &data, &err) != 0 ||
            nr_init_from(&spec, NULL, &init_from, &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            status = err.status ? err.status : 1;
            nr_spec_data_free(&data);
            nr_spec_free(&spec);
            continue;
        }
        const ns_doc *doc = spec.doc;
        if (data.warning[0])
            fprintf(stderr, "%s\n", data.warning);
        const char *description = ns_get_str(doc->root, "description");
        printf("%s: %s%s%s\n", opts->specs[i], ns_get_str(doc->root, "name"),
               description[0] ? " - " : "", description);
        nr_graph_write_summary(spec.graph, stdout);
        char output[512];
        printf("%s\n", nr_describe_output(spec.graph, spec.train.loss, output, sizeof output));
        int c = data.train.channels, h = data.train.height, w = data.train.width;
        printf("data: %zu training images (%zu classes), %zu test images", data.train_images,
               data.train.class_count, data.test_images);
        if (!ns_path_get(doc->root, "data.test"))
            printf(" (data.test_fraction %g of Train)", nr_spec_test_fraction(doc));
        printf("\n");
        if (ns_path_get(doc->root, "data.size") || ns_path_get(doc->root, "data.channels")) {
            printf("images: prepared to %dx%dx%d (channels x height x width)", c, h, w);
            if (ns_path_get(doc->root, "data.size"))
                printf(", resized with fit %s", ns_get_str(doc->root, "data.fit"));
            printf("\n");
        }
        if (init_from.source[0]) {
            char line[4400];
            printf("%s\n", nr_init_from_describe(&init_from, line, sizeof line));
        }
        if (i + 1 < opts->spec_count)
            printf("\n");
        nr_spec_data_free(&data);
        nr_spec_free(&spec);
    }
    return status;
}
