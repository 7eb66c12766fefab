/* spec_load.c - spec file -> resolved doc -> graph + training configuration
 * (see netrun/spec_load.h). */
#include "netrun/spec_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrun/data.h"
#include "netrun/train.h"

static void augment_from_spec(const ns_node *a, nr_augment_config *aug)
{
    aug->shift_p = (float)ns_get_float(a, "shift.p");
    aug->shift_pixels = (int)ns_get_int(a, "shift.pixels");
    aug->rotate_p = (float)ns_get_float(a, "rotate.p");
    aug->rotate_degrees = (float)ns_get_float(a, "rotate.degrees");
    aug->scale_p = (float)ns_get_float(a, "scale.p");
    aug->scale_min = (float)ns_get_float(a, "scale.min");
    aug->scale_max = (float)ns_get_float(a, "scale.max");
    aug->elastic_p = (float)ns_get_float(a, "elastic.p");
    aug->elastic_alpha = (float)ns_get_float(a, "elastic.alpha");
    aug->elastic_sigma = (float)ns_get_float(a, "elastic.sigma");
    aug->noise_p = (float)ns_get_float(a, "noise.p");
    aug->noise_std = (float)ns_get_float(a, "noise.std");
}

/* A val_* monitor without a validation split is an error at the key (or,
 * when the key is a default, at the nearest key written in the spec). */
static int need_validation(const ns_doc *doc, const char *key_path, const char *monitor,
                           const char *other_fix, const nr_train_config *cfg, nr_error *err)
{
    if (cfg->validation_fraction > 0 || strncmp(monitor, "val_", 4) != 0)
        return 0;
    char path[128];
    snprintf(path, sizeof path, "%s", key_path);
    const ns_node *node = ns_path_get(doc->root, path);
    while (node && node->line == 0) {
        char *dot = strrchr(path, '.');
        if (!dot)
            break;
        *dot = '\0';
        node = ns_path_get(doc->root, path);
    }
    char where[512];
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: %s is %s, but there is no validation split; set "
                   "train.validation.fraction (e.g. 0.1) or %s",
                   ns_node_where(doc, node, where, sizeof where), key_path, monitor, other_fix);
}

/* train.schedule's parameters; base_lr is the optimizer's lr. */
static void schedule_from_spec(const ns_doc *doc, double base_lr, int epochs, nr_schedule *s)
{
    memset(s, 0, sizeof *s);
    const ns_node *choice = ns_path_get(doc->root, "train.schedule");
    const char *name = ns_choice_name(choice);
    const ns_node *p = ns_choice_params(choice);
    if (!nr_schedule_kind_from_name(name, &s->kind))
        s->kind = NR_SCHEDULE_CONSTANT;   /* the schema admits only the known names */
    switch (s->kind) {
    case NR_SCHEDULE_CONSTANT:
        break;
    case NR_SCHEDULE_STEP:
        s->step_size = (int)ns_get_int(p, "step_size");
        s->gamma = ns_get_float(p, "gamma");
        break;
    case NR_SCHEDULE_MULTISTEP: {
        const ns_node *list = ns_map_get(p, "milestones");
        for (size_t i = 0; i < list->count && i < NR_SCHEDULE_MAX_MILESTONES; i++)
            s->milestones[s->milestone_count++] = (int)ns_int(list->items[i]);
        s->gamma = ns_get_float(p, "gamma");
        break;
    }
    case NR_SCHEDULE_EXPONENTIAL:
        s->gamma = ns_get_float(p, "gamma");
        break;
    case NR_SCHEDULE_COSINE:
        s->min_lr = ns_get_float(p, "min_lr");
        s->warmup_epochs = (int)ns_get_int(p, "warmup_epochs");
        break;
    case NR_SCHEDULE_PLATEAU:
        s->factor = ns_get_float(p, "factor");
        s->patience = (int)ns_get_int(p, "patience");
        s->min_delta = ns_get_float(p, "min_delta");
        s->min_lr = ns_get_float(p, "min_lr");
        s->monitor_higher_is_better = strstr(ns_get_str(p, "monitor"), "acc") != NULL;
        break;
    case NR_SCHEDULE_ONE_CYCLE:
        s->pct_start = ns_get_float(p, "pct_start");
        s->div_factor = ns_get_float(p, "div_factor");
        s->final_div_factor = ns_get_float(p, "final_div_factor");
        break;
    }
    nr_schedule_init(s, base_lr, epochs);
}

int nr_spec_train_config(const ns_doc *doc, nr_train_config *cfg, nr_error *err)
{
    const ns_node *root = doc->root;
    const ns_node *train = ns_map_get(root, "train");
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = (uint64_t)ns_get_int(root, "seed");
    cfg->threads = (int)ns_get_int(root, "threads");
    cfg->backend = strcmp(ns_get_str(root, "backend"), "reference") == 0 ? NR_BACKEND_REFERENCE
                                                                         : NR_BACKEND_BLAS;
    cfg->batch_size = (int)ns_get_int(train, "batch_size");
    cfg->epochs = (int)ns_get_int(train, "epochs");
    cfg->shuffle = ns_get_bool(train, "shuffle");
    cfg->loss = strcmp(ns_get_str(train, "loss"), "mse") == 0 ? NR_LOSS_MSE
                                                               : NR_LOSS_CROSS_ENTROPY;
    const ns_node *optimizer = ns_map_get(train, "optimizer");
    const char *name = ns_choice_name(optimizer);
    const ns_node *p = ns_choice_params(optimizer);
    if (strcmp(name, "sgd") == 0) {
        cfg->optimizer = NR_OPT_SGD;
        cfg->sgd.lr = (float)ns_get_float(p, "lr");
        cfg->sgd.momentum = (float)ns_get_float(p, "momentum");
        cfg->sgd.nesterov = ns_get_bool(p, "nesterov");
        cfg->sgd.weight_decay = (float)ns_get_float(p, "weight_decay");
        cfg->sgd.dampening = 0.0f;
    } else {
        cfg->optimizer = strcmp(name, "adamw") == 0 ? NR_OPT_ADAMW : NR_OPT_ADAM;
        cfg->adam.lr = (float)ns_get_float(p, "lr");
        cfg->adam.beta1 = (float)ns_get_float(p, "beta1");
        cfg->adam.beta2 = (float)ns_get_float(p, "beta2");
        cfg->adam.eps = (float)ns_get_float(p, "eps");
        cfg->adam.weight_decay = (float)ns_get_float(p, "weight_decay");
    }
    schedule_from_spec(doc, nr_train_config_lr(cfg), cfg->epochs, &cfg->schedule);
    if (cfg->schedule.kind == NR_SCHEDULE_PLATEAU)
        snprintf(cfg->plateau_monitor, sizeof cfg->plateau_monitor, "%s",
                 ns_get_str(ns_choice_params(ns_map_get(train, "schedule")), "monitor"));
    cfg->label_smoothing = (float)ns_get_float(train, "label_smoothing");
    const ns_node *weights = ns_map_get(train, "class_weights");
    if (weights->kind == NS_MAP)
        cfg->class_weights = NR_CLASS_WEIGHTS_GIVEN;
    else if (strcmp(weights->scalar, "balanced") == 0)
        cfg->class_weights = NR_CLASS_WEIGHTS_BALANCED;
    else
        cfg->class_weights = NR_CLASS_WEIGHTS_NONE;
    cfg->validation_fraction = ns_get_float(train, "validation.fraction");
    cfg->stop_patience = (int)ns_get_int(train, "early_stopping.patience");
    cfg->stop_on_accuracy = strcmp(ns_get_str(train, "early_stopping.monitor"), "val_acc") == 0;
    cfg->stop_min_delta = ns_get_float(train, "early_stopping.min_delta");
    cfg->restore_best = ns_get_bool(train, "early_stopping.restore_best");
    augment_from_spec(ns_map_get(train, "augment"), &cfg->augment);
    cfg->prefetch = ns_get_bool(train, "prefetch");

    if (cfg->stop_patience > 0 &&
        need_validation(doc, "train.early_stopping.monitor",
                        ns_get_str(train, "early_stopping.monitor"),
                        "turn early stopping off with patience: 0", cfg, err) != 0)
        return -1;
    if (cfg->schedule.kind == NR_SCHEDULE_PLATEAU &&
        need_validation(doc, "train.schedule.reduce_on_plateau.monitor",
                        ns_get_str(ns_choice_params(ns_map_get(train, "schedule")), "monitor"),
                        "monitor train_cost", cfg, err) != 0)
        return -1;
    const char *problem = nr_augment_config_check(&cfg->augment);
    if (problem) {
        char where[512];
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: train.augment: %s",
                       ns_node_where(doc, ns_path_get(doc->root, "train.augment"), where,
                                     sizeof where),
                       problem);
    }
    return 0;
}

nr_normalize nr_spec_normalize(const ns_doc *doc)
{
    const char *n = ns_get_str(doc->root, "data.normalize");
    return strcmp(n, "none") == 0          ? NR_NORMALIZE_NONE
           : strcmp(n, "standardize") == 0 ? NR_NORMALIZE_STANDARDIZE
                                           : NR_NORMALIZE_SCALE;
}

bool nr_spec_needs_stats(const ns_doc *doc)
{
    return nr_spec_normalize(doc) == NR_NORMALIZE_STANDARDIZE &&
           !ns_path_get(doc->root, "data.mean");
}

double nr_spec_test_fraction(const ns_doc *doc)
{
    const ns_node *f = ns_path_get(doc->root, "data.test_fraction");
    return f ? ns_float(f) : 0.0;
}

/* "KEY=[v0, v1, v2]" */
static int set_list(ns_doc *doc, const char *key, int channels, const double *v, nr_error *err)
{
    char assignment[256];
    int at = snprintf(assignment, sizeof assignment, "%s=[", key);
    for (int c = 0; c < channels; c++)
        at += snprintf(assignment + at, sizeof assignment - (size_t)at, "%s%.7g", c ? ", " : "",
                       v[c]);
    snprintf(assignment + at, sizeof assignment - (size_t)at, "]");
    return ns_doc_apply_set(doc, assignment, err);
}

int nr_spec_set_standardize(ns_doc *doc, int channels, const double *mean, const double *std,
                            nr_error *err)
{
    double safe[3];
    for (int c = 0; c < channels; c++)
        safe[c] = std[c] > 0 ? std[c] : 1.0;   /* a constant channel: only shifted */
    if (set_list(doc, "data.mean", channels, mean, err) != 0 ||
        set_list(doc, "data.std", channels, safe, err) != 0)
        return -1;
    return ns_doc_resolve(doc, err);
}

int nr_spec_pixel_transform(const ns_doc *doc, int channels, float *scale, float *shift,
                            nr_error *err)
{
    nr_normalize n = nr_spec_normalize(doc);
    const ns_node *mean = ns_path_get(doc->root, "data.mean");
    const ns_node *std = ns_path_get(doc->root, "data.std");
    if (n == NR_NORMALIZE_STANDARDIZE && (!mean || !std)) {
        char where[512];
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: data.normalize is standardize but "
                       "data.mean and data.std are not known; give both, or train to measure "
                       "them", ns_node_where(doc, ns_path_get(doc->root, "data.normalize"),
                                             where, sizeof where));
    }
    for (int c = 0; c < channels; c++) {
        if (n == NR_NORMALIZE_NONE) {
            scale[c] = 1.0f;
            shift[c] = 0.0f;
        } else if (n == NR_NORMALIZE_SCALE) {
            scale[c] = NR_PIXEL_SCALE;
            shift[c] = 0.0f;
        } else {
            /* the counts were checked against the channels by nr_spec_load */
            size_t i = (size_t)c < mean->count ? (size_t)c : 0;
            float m = (float)ns_float(mean->items[i]), sd = (float)ns_float(std->items[i]);
            scale[c] = 1.0f / sd;
            shift[c] = -m / sd;
        }
    }
    return 0;
}

/* What the schema alone cannot check in the data section (before any
 * data is looked at). */
static int check_data_keys(const ns_doc *doc, nr_error *err)
{
    const ns_node *root = doc->root;
    const ns_node *test = ns_path_get(root, "data.test");
    const ns_node *fraction = ns_path_get(root, "data.test_fraction");
    const ns_node *mean = ns_path_get(root, "data.mean");
    const ns_node *std = ns_path_get(root, "data.std");
    char where[512];
    if (test && fraction)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: data.test_fraction holds out a test "
                       "set from Train, but data.test names one; keep one of them",
                       ns_node_where(doc, fraction, where, sizeof where));
    if (!test && !fraction)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: data: no test set; give data.test (a "
                       "folder laid out like data.train) or data.test_fraction (e.g. 0.2 of "
                       "Train held out)", ns_node_where(doc, ns_path_get(root, "data"), where,
                                                        sizeof where));
    const ns_node *stat = mean ? mean : std;
    if (stat && nr_spec_normalize(doc) != NR_NORMALIZE_STANDARDIZE)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: data.%s is used only with "
                       "data.normalize: standardize (it is %s); remove it or set normalize: "
                       "standardize", ns_node_where(doc, stat, where, sizeof where),
                       stat == mean ? "mean" : "std", ns_get_str(root, "data.normalize"));
    if ((mean != NULL) != (std != NULL))
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: data.%s is given without data.%s; "
                       "give both, or neither to measure them on the training images",
                       ns_node_where(doc, stat, where, sizeof where),
                       mean ? "mean" : "std", mean ? "std" : "mean");
    return 0;
}

/* data.mean/data.std: one value per input channel. */
static int check_stats_count(const ns_doc *doc, const nr_graph *graph, nr_error *err)
{
    const char *keys[] = {"data.mean", "data.std"};
    for (int k = 0; k < 2; k++) {
        const ns_node *list = ns_path_get(doc->root, keys[k]);
        if (list && list->count != (size_t)graph->input.c) {
            char where[512];
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: %s has %zu values but the images "
                           "have %d channel%s; give one value per channel",
                           ns_node_where(doc, list, where, sizeof where), keys[k], list->count,
                           graph->input.c, graph->input.c == 1 ? "" : "s");
        }
    }
    return 0;
}

/* The shape images take after the spec's preparation: data.channels and
 * data.size when given, else what the first image has. */
void nr_spec_prepared_shape(const ns_doc *doc, int *channels, int *height, int *width)
{
    const ns_node *c = ns_path_get(doc->root, "data.channels");
    const ns_node *size = ns_path_get(doc->root, "data.size");
    if (c)
        *channels = atoi(ns_str(c));
    if (size) {
        *height = (int)ns_int(size->items[0]);
        *width = (int)ns_int(size->items[1]);
    }
}

void nr_spec_data_options(const ns_doc *doc, nr_data_options *opts)
{
    memset(opts, 0, sizeof *opts);
    const ns_node *root = doc->root;
    opts->use_cache = ns_get_bool(root, "data.cache");
    opts->threads = 0;
    const ns_node *channels = ns_path_get(root, "data.channels");
    const ns_node *size = ns_path_get(root, "data.size");
    opts->prep.channels = channels ? atoi(ns_str(channels)) : 0;
    opts->prep.height = size ? (int)ns_int(size->items[0]) : 0;
    opts->prep.width = size ? (int)ns_int(size->items[1]) : 0;
    const char *fit = ns_get_str(root, "data.fit");
    opts->prep.fit = strcmp(fit, "crop") == 0  ? NR_FIT_CROP
                     : strcmp(fit, "pad") == 0 ? NR_FIT_PAD
                                               : NR_FIT_STRETCH;
    opts->prep.alpha = strcmp(ns_get_str(root, "data.alpha"), "white") == 0 ? NR_ALPHA_WHITE
                                                                            : NR_ALPHA_BLACK;
}

static int fill_input_from_data(ns_doc *doc, nr_error *err)
{
    const char *train = ns_get_str(doc->root, "data.train");
    int channels, height, width;
    if (nr_dataset_probe(train, &channels, &height, &width, err) != 0)
        return -1;
    nr_spec_prepared_shape(doc, &channels, &height, &width);
    char assignment[96];
    snprintf(assignment, sizeof assignment, "network.input=[%d, %d, %d]", channels, height,
             width);
    if (ns_doc_apply_set(doc, assignment, err) != 0)
        return -1;
    return ns_doc_resolve(doc, err);
}

static double physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page_size > 0 ? (double)pages * (double)page_size : 0.0;
}

/* Refuses a network that cannot fit in this machine's memory for its batch
 * size, naming the computed size, before anything is allocated. */
static int check_memory(const ns_doc *doc, const nr_graph *graph, nr_error *err)
{
    int batch = (int)ns_get_int(doc->root, "train.batch_size");
    size_t bytes;
    double physical = physical_memory();
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

/* The first layer marked `fresh: true` among `layers` (blocks included). */
static const nr_layer *first_fresh(const nr_layer *layers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (layers[i].fresh)
            return &layers[i];
        const nr_layer *inner = first_fresh(layers[i].block, layers[i].block_count);
        if (inner)
            return inner;
    }
    return NULL;
}

/* `fresh: true` says "not loaded from train.init_from": without one it
 * would mean nothing. */
static int check_fresh(const ns_doc *doc, const nr_graph *graph, nr_error *err)
{
    const nr_layer *fresh = first_fresh(graph->layers, graph->count);
    if (!fresh || ns_path_get(doc->root, "train.init_from"))
        return 0;
    char where[512];
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: layer %s (%s): fresh: true keeps a layer from being loaded "
                   "from train.init_from, but the spec has no train.init_from (every layer "
                   "starts fresh); remove it, or set train.init_from",
                   ns_node_where(doc, ns_map_get(ns_choice_params(fresh->node), "fresh"),
                                 where, sizeof where),
                   fresh->label, nr_layer_kind_name(fresh->kind));
}

int nr_spec_load(const char *path, const char *const *sets, size_t set_count, nr_spec *out,
                 nr_error *err)
{
    memset(out, 0, sizeof *out);
    ns_doc *doc = NULL;
    if (ns_doc_parse_file(path, &doc, err) != 0)
        return -1;
    for (size_t i = 0; i < set_count; i++)
        if (ns_doc_apply_set(doc, sets[i], err) != 0)
            goto fail;
    if (ns_doc_resolve(doc, err) != 0)
        goto fail;
    /* before the data is looked at, so that `netrun check` refuses every
     * setting training would refuse */
    nr_train_config cfg;
    if (nr_spec_train_config(doc, &cfg, err) != 0 || check_data_keys(doc, err) != 0)
        goto fail;
    if (!ns_path_get(doc->root, "network.input") && fill_input_from_data(doc, err) != 0)
        goto fail;
    nr_graph *graph = NULL;
    if (nr_graph_build(doc, &graph, err) != 0 || check_memory(doc, graph, err) != 0 ||
        check_fresh(doc, graph, err) != 0 || check_stats_count(doc, graph, err) != 0) {
        nr_graph_free(graph);
        goto fail;
    }
    out->doc = doc;
    out->graph = graph;
    out->train = cfg;
    return 0;
fail:
    ns_doc_free(doc);
    return -1;
}

void nr_spec_free(nr_spec *spec)
{
    nr_graph_free(spec->graph);
    ns_doc_free(spec->doc);
    memset(spec, 0, sizeof *spec);
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

int nr_spec_check_fit(const nr_spec *spec, const nr_dataset_info *data, nr_error *err)
{
    const ns_doc *doc = spec->doc;
    const nr_graph *graph = spec->graph;
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

int nr_spec_class_weights(const nr_spec *spec, const char *train_root,
                          char *const *class_names, size_t class_count, float *weights,
                          nr_error *err)
{
    const ns_doc *doc = spec->doc;
    const ns_node *given = ns_path_get(doc->root, "train.class_weights");
    for (size_t c = 0; c < class_count; c++)
        weights[c] = 1.0f;
    if (!given || given->kind != NS_MAP)
        return 0;
    for (size_t i = 0; i < given->count; i++) {
        size_t c = 0;
        while (c < class_count && strcmp(class_names[c], given->keys[i]) != 0)
            c++;
        if (c < class_count) {
            weights[c] = (float)ns_float(given->items[i]);
            continue;
        }
        char valid[1024] = "";
        size_t o = 0;
        for (size_t j = 0; j < class_count && o < sizeof valid; j++) {
            int w = snprintf(valid + o, sizeof valid - o, "%s%s", j ? ", " : "", class_names[j]);
            o = w > 0 ? o + (size_t)w : o;
        }
        if (o >= sizeof valid)
            snprintf(valid + sizeof valid - 5, 5, "...");
        char where[512];
        ns_pos_where(doc, given->key_pos[i], where, sizeof where);
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: train.class_weights names '%s', which is not a class of %s; "
                       "its classes: %s",
                       where, given->keys[i], train_root, valid);
    }
    return 0;
}

static void add_warning(char *warning, size_t size, const char *line)
{
    size_t used = strlen(warning);
    snprintf(warning + used, size - used, "%s%s", used ? "\n" : "", line);
}

static int check_train(const nr_spec *spec, const nr_spec_data *data, const nr_train_config *cfg,
                       size_t *train_images, size_t *test_images, char *warning,
                       size_t warning_size, nr_error *err)
{
    const ns_doc *doc = spec->doc;
    const nr_dataset_info *train = &data->train;
    char where[512];
    if (train->class_count < 2)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: one class folder ('%s'); a classifier needs at least 2 "
                       "classes, one folder each (%s/<class>/<image>.png)",
                       train->root, train->class_names[0], train->root);
    /* the test split first, then the validation split of what is left */
    double test_fraction = nr_spec_test_fraction(doc);
    size_t tested = 0, held = 0;
    for (size_t c = 0; c < train->class_count; c++) {
        size_t t = nr_validation_held_out(train->class_sizes[c], test_fraction);
        tested += t;
        held += nr_validation_held_out(train->class_sizes[c] - t, cfg->validation_fraction);
    }
    if (test_fraction > 0 && (tested == 0 || tested == train->count))
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: data.test_fraction %g of the %zu images of %s holds out "
                       "%zu; choose a fraction that leaves images for both training and "
                       "testing",
                       ns_node_where(doc, ns_path_get(doc->root, "data.test_fraction"), where,
                                     sizeof where),
                       test_fraction, train->count, train->root, tested);
    *test_images = tested;
    *train_images = train->count - tested - held;
    if (cfg->validation_fraction > 0 && (held == 0 || held == train->count - tested))
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: train.validation.fraction %g of the %zu images of %s%s "
                       "holds out %zu; choose a fraction that leaves images for both "
                       "training and validation",
                       ns_node_where(doc, ns_path_get(doc->root, "train.validation.fraction"),
                                     where, sizeof where),
                       cfg->validation_fraction, train->count - tested, train->root,
                       tested ? " left after the test split" : "", held);
    float *weights = malloc(train->class_count * sizeof *weights);
    if (!weights)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    int rc = nr_spec_class_weights(spec, train->root, train->class_names, train->class_count,
                                   weights, err);
    free(weights);
    if (rc != 0)
        return -1;
    char line[1024];
    if ((size_t)cfg->batch_size > *train_images) {
        snprintf(line, sizeof line,
                 "%s: warning: train.batch_size %d is larger than the %zu training images%s; "
                 "every step takes the whole set (one batch per epoch)",
                 ns_node_where(doc, ns_path_get(doc->root, "train.batch_size"), where,
                               sizeof where),
                 cfg->batch_size, *train_images,
                 tested ? " left after the test and validation splits"
                 : held ? " left after the validation split" : "");
        add_warning(warning, warning_size, line);
    }
    if (cfg->class_weights == NR_CLASS_WEIGHTS_NONE &&
        nr_class_imbalance(train->root, train->class_names, train->class_sizes,
                           train->class_count, line, sizeof line))
        add_warning(warning, warning_size, line);
    return 0;
}

/* The checks on data->train / data->test as surveyed (root NULL: absent). */
static int check_surveyed(const nr_spec *spec, nr_spec_data *data, nr_error *err)
{
    bool train = data->train.root != NULL, test = data->test.root != NULL;
    data->warning[0] = '\0';
    /* the images as the network takes them: prepared (data.channels, data.size) */
    if (train)
        nr_spec_prepared_shape(spec->doc, &data->train.channels, &data->train.height,
                               &data->train.width);
    if (test)
        nr_spec_prepared_shape(spec->doc, &data->test.channels, &data->test.height,
                               &data->test.width);
    if (train && check_train(spec, data, &spec->train, &data->train_images,
                             &data->test_images, data->warning, sizeof data->warning,
                             err) != 0)
        return -1;
    if (test)
        data->test_images = data->test.count;
    if (train && test && nr_dataset_info_check_pair(&data->train, &data->test, err) != 0)
        return -1;
    if ((train || test) && nr_dataset_check_memory(train ? &data->train : &data->test,
                                                   train && test ? &data->test : NULL,
                                                   physical_memory(), err) != 0)
        return -1;
    if ((train || test) &&
        nr_spec_check_fit(spec, train ? &data->train : &data->test, err) != 0)
        return -1;
    return 0;
}

int nr_spec_check_data(const nr_spec *spec, unsigned which, nr_spec_data *out,
                       nr_error *err)
{
    memset(out, 0, sizeof *out);
    const ns_node *root = spec->doc->root;
    if (((which & NR_SPEC_DATA_TRAIN) &&
         nr_dataset_survey(ns_get_str(root, "data.train"), &out->train, err) != 0) ||
        ((which & NR_SPEC_DATA_TEST) && ns_path_get(root, "data.test") &&
         nr_dataset_survey(ns_get_str(root, "data.test"), &out->test, err) != 0) ||
        check_surveyed(spec, out, err) != 0) {
        nr_spec_data_free(out);
        return -1;
    }
    return 0;
}
