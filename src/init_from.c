/* init_from.c - train.init_from: starting from a trained model's weights
 * (see netrun/init_from.h). */
#include "netrun/init_from.h"

#include <stdlib.h>
#include <string.h>

#include "netrun/format.h"
#include "netrun/graph.h"
#include "netrun/model.h"

/* The weighted layers of a graph (malloc'd, *count of them). */
static nr_weighted_layer *weighted_layers(const nr_graph *graph, size_t *count)
{
    *count = nr_graph_weighted_layers(graph, NULL, 0);
    nr_weighted_layer *layers = calloc(*count ? *count : 1, sizeof *layers);
    if (layers)
        nr_graph_weighted_layers(graph, layers, *count);
    return layers;
}

/* "layer 9 (dense 1568 -> 10)" */
static const char *name_layer(const nr_layer *layer, char *buf, size_t size)
{
    char desc[128];
    snprintf(buf, size, "layer %s (%s)", layer->label, nr_layer_describe(layer, desc, sizeof desc));
    return buf;
}

/* The error of nr_model_open ("PATH: error: WHAT") at the spec's
 * train.init_from: "SPEC:L:C: error: train.init_from: PATH: WHAT". */
static int source_error(const ns_doc *doc, const ns_node *at, nr_error *err)
{
    if (!err)
        return -1;
    char model_message[sizeof err->message], where[512];
    snprintf(model_message, sizeof model_message, "%s", err->message);
    char *cut = strstr(model_message, ": error: ");
    if (cut)
        memmove(cut + 2, cut + strlen(": error: "), strlen(cut + strlen(": error: ")) + 1);
    return nr_fail(err, err->status == NR_EXIT_INTERNAL ? NR_EXIT_INTERNAL : NR_EXIT_INPUT,
                   "%s: error: train.init_from: %s", ns_node_where(doc, at, where, sizeof where),
                   model_message);
}

static int count_mismatch(const ns_doc *doc, const ns_node *at, const char *source,
                          const nr_weighted_layer *here, size_t here_count,
                          const nr_weighted_layer *there, size_t there_count, nr_error *err)
{
    char where[512], first[200];
    bool more_here = here_count > there_count;
    const nr_layer *lone = more_here ? here[there_count].layer : there[here_count].layer;
    name_layer(lone, first, sizeof first);
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: train.init_from: this network has %zu layers with parameters "
                   "but %s has %zu (the first without a partner: %s %s); they are paired in "
                   "order (conv, dense, batchnorm, shortcut projections): give both networks "
                   "as many, or leave train.init_from out to start from fresh weights",
                   ns_node_where(doc, at, where, sizeof where), here_count, source, there_count,
                   first, more_here ? "here" : "in the source");
}

static int pair_mismatch(const ns_doc *doc, const char *source, const nr_layer *here,
                         const nr_layer *there, nr_error *err)
{
    char where[512], a[200], b[200], a_count[32], b_count[32], a_shapes[128], b_shapes[128];
    /* a residual's projection shortcut has no spec line of its own */
    bool shortcut = strchr(here->label, 's') != NULL;
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: train.init_from: %s has %s parameters (%s) here but %s of %s "
                   "has %s (%s); layers with parameters are paired in order and must have the "
                   "same shapes: %s",
                   ns_node_where(doc, here->node, where, sizeof where),
                   name_layer(here, a, sizeof a),
                   nr_format_thousands(here->param_count, a_count, sizeof a_count),
                   nr_layer_describe_params(here, a_shapes, sizeof a_shapes),
                   name_layer(there, b, sizeof b), source,
                   nr_format_thousands(there->param_count, b_count, sizeof b_count),
                   nr_layer_describe_params(there, b_shapes, sizeof b_shapes),
                   shortcut ? "make the residual block's input and output shapes those of "
                              "the source's"
                            : "make them equal, or write fresh: true in this layer to start "
                              "it from its own initialization");
}

static void note_fresh(nr_init_from_report *r, const nr_layer *layer)
{
    size_t used = strlen(r->fresh_labels), room = sizeof r->fresh_labels;
    if (used + strlen(layer->label) + 8 >= room) {
        if (!strstr(r->fresh_labels, "..."))
            snprintf(r->fresh_labels + used, room - used, ", ...");
        return;
    }
    snprintf(r->fresh_labels + used, room - used, "%s%s", used ? ", " : "", layer->label);
}

int nr_init_from(const nr_spec *spec, nr_net *net, nr_init_from_report *report,
                 nr_error *err)
{
    nr_init_from_report local;
    nr_init_from_report *r = report ? report : &local;
    memset(r, 0, sizeof *r);
    const ns_doc *doc = spec->doc;
    const ns_node *at = ns_path_get(doc->root, "train.init_from");
    if (!at)
        return 0;
    nr_model source;
    if (nr_model_open(ns_str(at), 1, 1, &source, err) != 0)
        return source_error(doc, at, err);
    snprintf(r->source, sizeof r->source, "%s", source.weights_path);

    int status = -1;
    size_t here_count, there_count;
    nr_weighted_layer *here = weighted_layers(spec->graph, &here_count);
    nr_weighted_layer *there = weighted_layers(source.spec.graph, &there_count);
    if (!here || !there) {
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    if (here_count != there_count) {
        count_mismatch(doc, at, r->source, here, here_count, there, there_count, err);
        goto done;
    }
    char here_shapes[128], there_shapes[128];
    for (size_t i = 0; i < here_count; i++) {
        const nr_layer *a = here[i].layer, *b = there[i].layer;
        if (a->fresh)
            continue;
        if (a->kind != b->kind || a->param_count != b->param_count ||
            a->buffer_count != b->buffer_count ||
            strcmp(nr_layer_describe_params(a, here_shapes, sizeof here_shapes),
                   nr_layer_describe_params(b, there_shapes, sizeof there_shapes)) != 0) {
            pair_mismatch(doc, r->source, a, b, err);
            goto done;
        }
    }
    r->layers = here_count;
    for (size_t i = 0; i < here_count; i++) {
        const nr_layer *a = here[i].layer;
        if (a->fresh) {
            r->fresh++;
            note_fresh(r, a);
            continue;
        }
        r->loaded++;
        r->loaded_params += a->param_count;
        if (!net)
            continue;
        memcpy(nr_net_params(net) + here[i].param_offset,
               nr_net_params(source.net) + there[i].param_offset,
               a->param_count * sizeof(float));
        memcpy(nr_net_buffers(net) + here[i].buffer_offset,
               nr_net_buffers(source.net) + there[i].buffer_offset,
               a->buffer_count * sizeof(float));
    }
    status = 0;
done:
    free(here);
    free(there);
    nr_model_close(&source);
    return status;
}

const char *nr_init_from_describe(const nr_init_from_report *r, char *buf, size_t size)
{
    char values[32];
    int n = snprintf(buf, size, "init_from: %s: %zu of %zu layers with parameters loaded "
                     "(%s values)", r->source, r->loaded, r->layers,
                     nr_format_thousands(r->loaded_params, values, sizeof values));
    if (r->fresh && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, "; fresh: layer%s %s", r->fresh > 1 ? "s" : "",
                 r->fresh_labels);
    return buf;
}
