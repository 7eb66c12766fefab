/* cli/cmd_data.c - `netrun data DIR...`: load a class-folder dataset (through
 * its decoded cache) and show what it holds and how long loading took; warn
 * when its classes are imbalanced over 10x. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "netrun/clock.h"
#include "netrun/data.h"

int cli_data(const cli_options *opts)
{
    int status = 0;
    for (size_t i = 0; i < opts->spec_count; i++) {
        nr_dataset *ds;
        nr_error err = {0};
        nr_data_options data_opts = {.use_cache = 1};
        double start = nr_monotonic_seconds();
        if (nr_dataset_load(opts->specs[i], &data_opts, &ds, &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            status = err.status ? err.status : 1;
            continue;
        }
        double seconds = nr_monotonic_seconds() - start;
        printf("%s: %zu images, %dx%dx%d, %zu classes; loaded in %.3f s (%s)\n", ds->root,
               ds->count, ds->channels, ds->height, ds->width, ds->class_count, seconds,
               ds->from_cache ? "from the cache" : "decoded, cache written");
        size_t *per_class = calloc(ds->class_count, sizeof *per_class);
        if (per_class) {
            for (size_t j = 0; j < ds->count; j++)
                per_class[ds->labels[j]]++;
            for (size_t c = 0; c < ds->class_count; c++)
                printf("  %-20s %zu\n", ds->class_names[c], per_class[c]);
            char warning[1024];
            if (nr_class_imbalance(ds->root, ds->class_names, per_class, ds->class_count,
                                   warning, sizeof warning)) {
                fflush(stdout);
                fprintf(stderr, "%s\n", warning);
            }
            free(per_class);
        }
        nr_dataset_free(ds);
    }
    return status;
}
