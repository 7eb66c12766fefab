/* spec_load.c - spec file -> resolved doc -> graph (see netrun/spec_load.h). */
#include "netrun/spec_load.h"

#include <stdio.h>
#include <string.h>
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

void nr_spec_data_free(nr_spec_data *data)
{
    nr_dataset_info_free(&data->train);
    nr_dataset_info_free(&data->test);
    memset(data, 0, sizeof *data);
}

/* The last top-level dense layer: its units are the class count to write. */
static const nr_layer *last_dense(const nr_graph *graph)
{
    for (size_t i = graph->count; i-- > 0;)
        if (graph->layers[i].kind == NR_LAYER_DENSE)
            return &graph->layers[i];
    return NULL;
}

int nr_spec_check_fit(const ns_doc *doc, const nr_graph *graph, const nr_dataset_info *data,
                      nr_error *err)
{
    char where[512];
    nr_shape in = graph->input;
    if (in.c != data->channels || in.h != data->height || in.w != data->width)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: network.input is %dx%dx%d but the images of %s are "
                       "%dx%dx%d; write input: [%d, %d, %d] or leave it out",
                       ns_node_where(doc, ns_path_get(doc->root, "network.input"), where,
                                     sizeof where),
                       in.c, in.h, in.w, data->root, data->channels, data->height,
                       data->width, data->channels, data->height, data->width);
    size_t outputs = nr_shape_size(nr_graph_output(graph)), k = data->class_count;
    if (outputs == k)
        return 0;
    const nr_layer *dense = last_dense(graph);
    if (dense && nr_shape_size(dense->out) == outputs)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: layer %s (dense) has %zu units but %s has %zu classes; "
                       "the last dense layer needs one unit per class: write units: %zu",
                       ns_node_where(doc, ns_map_get(ns_choice_params(dense->node), "units"),
                                     where, sizeof where),
                       dense->label, outputs, data->root, k, k);
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: the network has %zu outputs but %s has %zu classes; end it "
                   "with dense: {units: %zu} (one output per class)",
                   ns_node_where(doc, ns_path_get(doc->root, "network.layers"), where,
                                 sizeof where),
                   outputs, data->root, k, k);
}

static int check_train(const ns_doc *doc, const nr_spec_data *data, nr_train_config *cfg,
                       size_t *train_images, char *warning, size_t warning_size,
                       nr_error *err)
{
    const nr_dataset_info *train = &data->train;
    char where[512];
    if (train->class_count < 2)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: one class folder ('%s'); a classifier needs at least 2 "
                       "classes, one folder each (%s/<class>/<image>.png)",
                       train->root, train->class_names[0], train->root);
    size_t held = 0;
    for (size_t c = 0; c < train->class_count; c++)
        held += nr_validation_held_out(train->class_sizes[c], cfg->validation_fraction);
    *train_images = train->count - held;
    if (cfg->validation_fraction > 0 && (held == 0 || held == train->count))
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: train.validation.fraction %g of the %zu images of %s "
                       "holds out %zu; choose a fraction that leaves images for both "
                       "training and validation",
                       ns_node_where(doc, ns_path_get(doc->root, "train.validation.fraction"),
                                     where, sizeof where),
                       cfg->validation_fraction, train->count, train->root, held);
    if ((size_t)cfg->batch_size > *train_images)
        snprintf(warning, warning_size,
                 "%s: warning: train.batch_size %d is larger than the %zu training images%s; "
                 "every step takes the whole set (one batch per epoch)",
                 ns_node_where(doc, ns_path_get(doc->root, "train.batch_size"), where,
                               sizeof where),
                 cfg->batch_size, *train_images, held ? " left after the validation split" : "");
    return 0;
}

/* The checks on data->train / data->test as surveyed (root NULL: absent). */
static int check_surveyed(const ns_doc *doc, const nr_graph *graph, nr_spec_data *data,
                          nr_error *err)
{
    nr_train_config cfg;
    if (nr_train_config_from_spec(doc, &cfg, err) != 0)
        return -1;
    bool train = data->train.root != NULL, test = data->test.root != NULL;
    data->warning[0] = '\0';
    if (train && check_train(doc, data, &cfg, &data->train_images, data->warning,
                             sizeof data->warning, err) != 0)
        return -1;
    if (train && test && nr_dataset_info_check_pair(&data->train, &data->test, err) != 0)
        return -1;
    if ((train || test) &&
        nr_spec_check_fit(doc, graph, train ? &data->train : &data->test, err) != 0)
        return -1;
    return 0;
}

int nr_spec_check_data(const ns_doc *doc, const nr_graph *graph, unsigned which,
                       nr_spec_data *out, nr_error *err)
{
    memset(out, 0, sizeof *out);
    const ns_node *root = doc->root;
    if (((which & NR_SPEC_DATA_TRAIN) &&
         nr_dataset_survey(ns_get_str(root, "data.train"), &out->train, err) != 0) ||
        ((which & NR_SPEC_DATA_TEST) &&
         nr_dataset_survey(ns_get_str(root, "data.test"), &out->test, err) != 0) ||
        check_surveyed(doc, graph, out, err) != 0) {
        nr_spec_data_free(out);
        return -1;
    }
    return 0;
}
