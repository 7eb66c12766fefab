/* spec_load.c - spec file -> resolved doc -> graph (see netrun/spec_load.h). */
#include "netrun/spec_load.h"

#include <stdio.h>
#include <unistd.h>

#include "netrun/data.h"
#include "netrun/train.h"

static int fill_input_from_data(ns_doc *doc, nr_error *err)
{
    const char *train = ns_get_str(doc->root, "data.train");
    int channels, height, width;
    if (nr_dataset_probe(train, &channels, &height, &width, err) != 0)
        return -1;
    char assignment[96];
    snprintf(assignment, sizeof assignment, "network.input=[%d, %d, %d]", channels, height,
             width);
    if (ns_doc_apply_set(doc, assignment, err) != 0)
        return -1;
    return ns_doc_resolve(doc, err);
}

/* Refuses a network that cannot fit in this machine's memory for its batch
 * size, naming the computed size, before anything is allocated. */
static int check_memory(const ns_doc *doc, const nr_graph *graph, nr_error *err)
{
    int batch = (int)ns_get_int(doc->root, "train.batch_size");
    size_t bytes;
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    double physical = pages > 0 && page_size > 0 ? (double)pages * (double)page_size : 0.0;
    bool overflow = !nr_graph_training_bytes(graph, batch, &bytes);
    if (!overflow && (physical == 0.0 || (double)bytes <= physical))
        return 0;
    char where[512], need[64];
    ns_node_where(doc, ns_path_get(doc->root, "network.layers"), where, sizeof where);
    if (overflow)
        snprintf(need, sizeof need, "more than 16 EiB");
    else
        snprintf(need, sizeof need, "%.1f GiB", (double)bytes / (1u << 30));
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: training this network with batch_size %d needs %s "
                   "(%zu learnable parameters, activations of every layer) but this machine "
                   "has %.1f GiB; use smaller layers, a smaller input or a smaller batch_size",
                   where, batch, need, graph->param_count, physical / (1u << 30));
}

int nr_spec_load(const char *path, const char *const *sets, size_t set_count,
                 ns_doc **doc_out, nr_graph **graph_out, nr_error *err)
{
    *doc_out = NULL;
    *graph_out = NULL;
    ns_doc *doc = NULL;
    if (ns_doc_parse_file(path, &doc, err) != 0)
        return -1;
    for (size_t i = 0; i < set_count; i++)
        if (ns_doc_apply_set(doc, sets[i], err) != 0)
            goto fail;
    if (ns_doc_resolve(doc, err) != 0)
        goto fail;
    /* what the schema alone cannot check (a val_* monitor needs a validation
     * split, augmentation ranges), so that `netrun check` refuses every spec
     * training would refuse */
    nr_train_config cfg;
    if (nr_train_config_from_spec(doc, &cfg, err) != 0)
        goto fail;
    if (!ns_path_get(doc->root, "network.input") && fill_input_from_data(doc, err) != 0)
        goto fail;
    nr_graph *graph = NULL;
    if (nr_graph_build(doc, &graph, err) != 0 || check_memory(doc, graph, err) != 0) {
        nr_graph_free(graph);
        goto fail;
    }
    *doc_out = doc;
    *graph_out = graph;
    return 0;
fail:
    ns_doc_free(doc);
    return -1;
}
