/* layers/graph.c - builds the layer graph from a resolved spec and infers
 * every shape before anything else is allocated. */
#include "layers/layer.h"
#include "netrun/fileio.h"
#include "netrun/format.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits that keep a spec from asking for absurd memory or time, and keep
 * every size the kernels compute with (int dimensions, size_t byte counts
 * for a whole batch) far from overflowing. Checked while the graph is built,
 * before anything is allocated for training. */
#define NR_MAX_LAYERS 100000                      /* after expanding repeat, nested included */
#define NR_MAX_EXAMPLE_VALUES ((size_t)1 << 30)   /* one layer's output (or the input), per example */
#define NR_MAX_TOTAL_VALUES ((size_t)1 << 32)     /* all layers' outputs together, per example */
#define NR_MAX_PARAMS ((size_t)1 << 30)           /* learnable floats (4 GiB) */
#define NR_MAX_MACS ((size_t)1 << 44)             /* forward multiply-adds per example */

typedef struct layer_list {
    nr_layer *items;
    size_t count, capacity;
} layer_list;

static nr_layer *list_push(layer_list *list)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 16;
        nr_layer *items = realloc(list->items, capacity * sizeof *items);
        if (!items)
            return NULL;
        list->items = items;
        list->capacity = capacity;
    }
    nr_layer *layer = &list->items[list->count++];
    memset(layer, 0, sizeof *layer);
    return layer;
}

/* Appends the layers of `list_node` (expanding repeats) to `out`, threading
 * the shape through *shape. */
static int append_layers(layer_list *out, const ns_node *list_node, nr_shape *shape,
                         const nr_layer_site *site, const char *label_prefix, nr_error *err)
{
    for (size_t i = 0; i < list_node->count; i++) {
        const ns_node *item = list_node->items[i];
        const char *name = ns_choice_name(item);
        const ns_node *params = ns_choice_params(item);
        char path[512];
        snprintf(path, sizeof path, "%s[%zu]", site->path, i);

        if (strcmp(name, "repeat") == 0) {
            long times = ns_get_int(params, "times");
            const ns_node *inner = ns_map_get(params, "layers");
            for (long r = 0; r < times; r++) {
                char inner_path[600];
                snprintf(inner_path, sizeof inner_path, "%s.repeat.layers", path);
                nr_layer_site inner_site = {.doc = site->doc, .path = inner_path,
                                            .build = nr_layers_build};
                if (append_layers(out, inner, shape, &inner_site, label_prefix, err) != 0)
                    return -1;
            }
            continue;
        }

        int kind = nr_layer_kind_from_name(name);
        if (kind < 0) {
            char where[512];
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: %s: layer kind '%s' is not "
                           "implemented by this engine",
                           ns_node_where(site->doc, item, where, sizeof where), path, name);
        }
        nr_layer *layer = list_push(out);
        if (!layer)
            return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        layer->kind = (nr_layer_kind)kind;
        layer->node = item;
        layer->in = *shape;
        if (label_prefix)
            snprintf(layer->label, sizeof layer->label, "%.9s.%zu", label_prefix, out->count);
        else
            snprintf(layer->label, sizeof layer->label, "%zu", out->count);
        const nr_layer_ops *ops = nr_layer_registry[kind];
        nr_layer_site layer_site = {.doc = site->doc, .path = path, .ops = ops,
                                    .build = nr_layers_build};
        if (ops->needs_image && shape->flat)
            return nr_layer_fail(layer, &layer_site, err,
                                 "its input is a vector of %d features (the output of a "
                                 "dense or flatten layer before it), not an image; %s "
                                 "works on channels x height x width: move it before the "
                                 "first dense or flatten layer", shape->c, name);
        if (ops->setup(layer, params, &layer_site, err) != 0)
            return -1;
        /* the fine-tuning keys of the kinds with parameters (the schema
         * gives them to those kinds only) */
        const ns_node *freeze = params ? ns_map_get(params, "freeze") : NULL;
        const ns_node *fresh = params ? ns_map_get(params, "fresh") : NULL;
        layer->frozen = freeze && ns_bool(freeze);
        layer->fresh = fresh && ns_bool(fresh);
        if (nr_shape_size(layer->out) > NR_MAX_EXAMPLE_VALUES)
            return nr_layer_fail(layer, &layer_site, err,
                                 "output %dx%dx%d has %zu values per example, more than the "
                                 "limit of %zu; use a smaller input, fewer filters or more "
                                 "pooling", layer->out.c, layer->out.h, layer->out.w,
                                 nr_shape_size(layer->out), NR_MAX_EXAMPLE_VALUES);
        if (layer->param_count > NR_MAX_PARAMS)
            return nr_layer_fail(layer, &layer_site, err,
                                 "%zu learnable parameters, more than the limit of %zu; "
                                 "use fewer units or filters, or pool before it",
                                 layer->param_count, NR_MAX_PARAMS);
        if (layer->macs > NR_MAX_MACS)
            return nr_layer_fail(layer, &layer_site, err,
                                 "%zu multiply-adds per example, more than the limit of %zu; "
                                 "use fewer units or filters, or pool before it",
                                 layer->macs, NR_MAX_MACS);
        *shape = layer->out;
    }
    return 0;
}

/* `init: auto`: each kind says in its ops what it makes of the choice (see
 * nr_auto_init in layer.h): He before a ReLU-like activation, Glorot before
 * any other layer or at the end of the list, looking past the layers that
 * pass the choice on (pooling, flatten, dropout, batchnorm). */
static void resolve_auto_init(nr_layer *layers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        nr_layer *layer = &layers[i];
        const nr_layer_ops *ops = nr_layer_registry[layer->kind];
        nr_init_kind *init = ops->auto_init_slot ? ops->auto_init_slot(layer) : NULL;
        if (!init)
            continue;
        *init = NR_INIT_GLOROT_UNIFORM;
        for (size_t j = i + 1; j < count; j++) {
            nr_auto_init next = nr_layer_registry[layers[j].kind]->auto_init;
            if (next == NR_AUTO_INIT_HE)
                *init = NR_INIT_HE_NORMAL;
            if (next != NR_AUTO_INIT_PASS)
                break;
        }
    }
}

int nr_layers_build(const ns_node *list, nr_shape in, const nr_layer_site *site,
                    const char *label_prefix, nr_layer **layers, size_t *count,
                    nr_error *err)
{
    layer_list out = {0};
    nr_shape shape = in;
    if (append_layers(&out, list, &shape, site, label_prefix, err) != 0) {
        nr_layers_free(out.items, out.count);
        return -1;
    }
    resolve_auto_init(out.items, out.count);
    *layers = out.items;
    *count = out.count;
    return 0;
}

void nr_layers_free(nr_layer *layers, size_t count)
{
    if (!layers)
        return;
    for (size_t i = 0; i < count; i++) {
        nr_layers_free(layers[i].block, layers[i].block_count);
        free(layers[i].shortcut);
    }
    free(layers);
}

/* Layers `list` expands to (repeat multiplied out, residual blocks and their
 * shortcut counted), saturating just above NR_MAX_LAYERS; computed from the
 * spec without building anything. *culprit: the item of `list` at which the
 * count first went over the limit (NULL while it has not). */
static size_t expanded_count(const ns_node *list, const ns_node **culprit)
{
    size_t total = 0;
    for (size_t i = 0; i < list->count; i++) {
        const ns_node *item = list->items[i];
        const char *name = ns_choice_name(item);
        const ns_node *params = ns_choice_params(item);
        const ns_node *dummy = NULL;
        size_t n = 1;
        if (strcmp(name, "repeat") == 0) {
            size_t inner = expanded_count(ns_map_get(params, "layers"), &dummy);
            size_t times = (size_t)ns_get_int(params, "times");
            n = inner > NR_MAX_LAYERS / times ? NR_MAX_LAYERS + 1 : inner * times;
        } else if (strcmp(name, "residual") == 0) {
            n = 3 + expanded_count(ns_map_get(params, "layers"), &dummy);
        }
        total += n;
        if (total > NR_MAX_LAYERS) {
            *culprit = item;
            return NR_MAX_LAYERS + 1;
        }
    }
    return total;
}

/* Learnable floats of the frozen layers among `layers` (blocks included). */
static size_t frozen_params(const nr_layer *layers, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += layers[i].frozen ? layers[i].param_count : 0;
        total += frozen_params(layers[i].block, layers[i].block_count);
        total += frozen_params(layers[i].shortcut, layers[i].shortcut_count);
    }
    return total;
}

/* Sums what the layers (blocks and shortcuts included) need per example. */
static void sum_layers(const nr_layer *layers, size_t count, size_t *values)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = &layers[i];
        size_t v = nr_shape_size(layer->out);
        *values = *values > SIZE_MAX - v ? SIZE_MAX : *values + v;
        sum_layers(layer->block, layer->block_count, values);
        sum_layers(layer->shortcut, layer->shortcut_count, values);
    }
}

/* A softmax is the network's output: only the last top-level layer may be
 * one (the loss applies softmax to the last layer's outputs in any case, see
 * netspec/REFERENCE.md); *misplaced is the first other softmax, NULL if
 * none. */
static const nr_layer *misplaced_softmax(const nr_layer *layers, size_t count, bool top)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = &layers[i];
        if (layer->kind == NR_LAYER_SOFTMAX && !(top && i + 1 == count))
            return layer;
        const nr_layer *inner = misplaced_softmax(layer->block, layer->block_count, false);
        if (inner)
            return inner;
    }
    return NULL;
}

static int check_output_layers(const ns_doc *doc, const nr_graph *graph, nr_error *err)
{
    char where[512];
    const nr_layer *bad = misplaced_softmax(graph->layers, graph->count, true);
    if (bad)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: layer %s (softmax): a softmax may only be the network's "
                       "last layer; the loss applies softmax to the last layer's outputs "
                       "itself (see netrun check's 'output:' line): remove this softmax",
                       ns_node_where(doc, bad->node, where, sizeof where), bad->label);
    if (graph->count == 1 && graph->layers[0].kind == NR_LAYER_SOFTMAX)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: layer 1 (softmax): the network is only a softmax, with "
                       "nothing to learn; put the layers that compute the class scores "
                       "before it (e.g. dense: {units: K})",
                       ns_node_where(doc, graph->layers[0].node, where, sizeof where));
    return 0;
}

int nr_graph_build(const ns_doc *doc, nr_graph **out, nr_error *err)
{
    const ns_node *network = ns_map_get(doc->root, "network");
    const ns_node *input = ns_map_get(network, "input");
    const ns_node *list = ns_map_get(network, "layers");
    char where[512];
    if (!input || input->kind != NS_SEQ || input->count != 3)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: network.input is not known; give "
                       "it in the spec as [channels, height, width]", doc->path);
    nr_shape in = {.c = (int)ns_int(input->items[0]), .h = (int)ns_int(input->items[1]),
                   .w = (int)ns_int(input->items[2])};
    if (nr_shape_size(in) > NR_MAX_EXAMPLE_VALUES)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: network.input %dx%dx%d has %zu values "
                       "per image, more than the limit of %zu; use smaller images",
                       ns_node_where(doc, input, where, sizeof where), in.c, in.h, in.w,
                       nr_shape_size(in), NR_MAX_EXAMPLE_VALUES);
    const ns_node *culprit = NULL;
    if (expanded_count(list, &culprit) > NR_MAX_LAYERS)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: network.layers: more than %d layers "
                       "once repeat blocks are expanded; use fewer or smaller repeats",
                       ns_node_where(doc, culprit ? culprit : list, where, sizeof where),
                       NR_MAX_LAYERS);
    nr_graph *graph = calloc(1, sizeof *graph);
    if (!graph)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    graph->input = in;
    nr_layer_site site = {.doc = doc, .path = "network.layers", .build = nr_layers_build};
    if (nr_layers_build(list, graph->input, &site, NULL, &graph->layers, &graph->count,
                        err) != 0) {
        free(graph);
        return -1;
    }
    if (check_output_layers(doc, graph, err) != 0) {
        nr_graph_free(graph);
        return -1;
    }
    size_t values = nr_shape_size(in);
    sum_layers(graph->layers, graph->count, &values);
    bool too_big = values > NR_MAX_TOTAL_VALUES;
    for (size_t i = 0; i < graph->count && !too_big; i++) {
        graph->param_count += graph->layers[i].param_count;
        graph->macs += graph->layers[i].macs;
        too_big = graph->param_count > NR_MAX_PARAMS || graph->macs > NR_MAX_MACS;
    }
    graph->frozen_param_count = frozen_params(graph->layers, graph->count);
    if (too_big) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: network.layers: the network is too large "
                "(%s); limits: %zu values per example over all layer outputs, %zu "
                "learnable parameters, %zu multiply-adds per example",
                ns_node_where(doc, list, where, sizeof where),
                values > NR_MAX_TOTAL_VALUES ? "its layer outputs hold too many values per example"
                : graph->param_count > NR_MAX_PARAMS ? "too many learnable parameters"
                                                     : "too many multiply-adds per example",
                NR_MAX_TOTAL_VALUES, NR_MAX_PARAMS, NR_MAX_MACS);
        nr_graph_free(graph);
        return -1;
    }
    *out = graph;
    return 0;
}

void nr_graph_free(nr_graph *graph)
{
    if (!graph)
        return;
    nr_layers_free(graph->layers, graph->count);
    free(graph);
}

nr_shape nr_graph_output(const nr_graph *graph)
{
    return graph->count ? graph->layers[graph->count - 1].out : graph->input;
}

static uint64_t hash_layers(uint64_t hash, const nr_layer *layers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = &layers[i];
        const int64_t fields[] = {layer->kind,      layer->in.c,  layer->in.h,
                                  layer->in.w,      layer->out.c, layer->out.h,
                                  layer->out.w,     (int64_t)layer->param_count,
                                  (int64_t)layer->block_count, (int64_t)layer->shortcut_count};
        hash = nr_fnv1a(hash, fields, sizeof fields);
        hash = hash_layers(hash, layer->block, layer->block_count);
        hash = hash_layers(hash, layer->shortcut, layer->shortcut_count);
    }
    return hash;
}

uint64_t nr_graph_hash(const nr_graph *graph)
{
    const int64_t input[] = {graph->input.c, graph->input.h, graph->input.w};
    return hash_layers(nr_fnv1a(NR_FNV_OFFSET, input, sizeof input), graph->layers,
                       graph->count);
}

/* The order of the net's parameter and buffer vectors: each layer, then
 * (a residual) its block's layers, then its shortcut's (net.c binds them so). */
static void walk_weighted(const nr_layer *layers, size_t count, nr_weighted_layer *out,
                          size_t capacity, size_t *n, size_t *params, size_t *buffers)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = &layers[i];
        if (layer->kind != NR_LAYER_RESIDUAL && (layer->param_count || layer->buffer_count)) {
            if (out && *n < capacity)
                out[*n] = (nr_weighted_layer){.layer = layer, .param_offset = *params,
                                              .buffer_offset = *buffers};
            (*n)++;
            *params += layer->param_count;
            *buffers += layer->buffer_count;
        }
        walk_weighted(layer->block, layer->block_count, out, capacity, n, params, buffers);
        walk_weighted(layer->shortcut, layer->shortcut_count, out, capacity, n, params,
                      buffers);
    }
}

size_t nr_graph_weighted_layers(const nr_graph *graph, nr_weighted_layer *out,
                                size_t capacity)
{
    size_t n = 0, params = 0, buffers = 0;
    walk_weighted(graph->layers, graph->count, out, capacity, &n, &params, &buffers);
    return n;
}

const char *nr_layer_describe_params(const nr_layer *layer, char *buf, size_t size)
{
    const nr_layer_ops *ops = nr_layer_registry[layer->kind];
    if (size)
        buf[0] = '\0';
    if (ops->describe_params && layer->kind != NR_LAYER_RESIDUAL)
        ops->describe_params(layer, buf, size);
    return buf;
}

static bool activation_floats(const nr_layer *layers, size_t count, size_t *total)
{
    for (size_t i = 0; i < count; i++) {
        size_t size = nr_shape_size(layers[i].out);
        if (__builtin_add_overflow(*total, size, total) ||
            !activation_floats(layers[i].block, layers[i].block_count, total) ||
            !activation_floats(layers[i].shortcut, layers[i].shortcut_count, total))
            return false;
    }
    return true;
}

bool nr_graph_training_bytes(const nr_graph *graph, int batch, size_t *bytes)
{
    size_t per_example = nr_shape_size(graph->input), params, acts;
    if (!activation_floats(graph->layers, graph->count, &per_example))
        return false;
    size_t pf[] = {graph->param_count, 5, sizeof(float)};
    size_t af[] = {per_example, 3, (size_t)batch, sizeof(float)};
    if (!nr_size_mul(&params, 3, pf) || !nr_size_mul(&acts, 4, af))
        return false;
    return !__builtin_add_overflow(params, acts, bytes);
}

const char *nr_layer_describe(const nr_layer *layer, char *buf, size_t size)
{
    const nr_layer_ops *ops = nr_layer_registry[layer->kind];
    char detail[96] = "";
    if (ops->describe)
        ops->describe(layer, detail, sizeof detail);
    snprintf(buf, size, "%s%s%s", ops->name, detail[0] ? " " : "", detail);
    return buf;
}

const char *nr_shape_text(nr_shape s, char *buf, size_t size)
{
    if (s.h == 1 && s.w == 1)
        snprintf(buf, size, "%d", s.c);
    else
        snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
    return buf;
}

static void write_rows(const nr_layer *layers, size_t count, int depth, FILE *out)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = &layers[i];
        char desc[128], name[160], shape[48], params[32], macs[32];
        nr_layer_describe(layer, desc, sizeof desc);
        snprintf(name, sizeof name, "%*s%s%s", 2 * depth, "", desc,
                 layer->frozen ? " (frozen)" : "");
        fprintf(out, "%-8s %-34s %-12s %12s %14s\n", layer->label, name,
                nr_shape_text(layer->out, shape, sizeof shape),
                nr_format_thousands(layer->param_count, params, sizeof params),
                nr_format_thousands(layer->macs, macs, sizeof macs));
        if (layer->block_count) {
            write_rows(layer->block, layer->block_count, depth + 1, out);
            for (size_t s = 0; s < layer->shortcut_count; s++) {
                const nr_layer *sc = &layer->shortcut[s];
                nr_layer_describe(sc, desc, sizeof desc);
                snprintf(name, sizeof name, "%*sshortcut %s", 2 * (depth + 1), "", desc);
                fprintf(out, "%-8s %-34s %-12s %12s %14s\n", sc->label, name,
                        nr_shape_text(sc->out, shape, sizeof shape),
                        nr_format_thousands(sc->param_count, params, sizeof params),
                        nr_format_thousands(sc->macs, macs, sizeof macs));
            }
        }
    }
}

void nr_graph_write_summary(const nr_graph *graph, FILE *out)
{
    char shape[48], params[32], macs[32];
    fprintf(out, "%-8s %-34s %-12s %12s %14s\n", "#", "layer", "output", "params",
            "MACs/example");
    fprintf(out, "%-8s %-34s %s\n", "-", "input", nr_shape_text(graph->input, shape, sizeof shape));
    write_rows(graph->layers, graph->count, 0, out);
    fprintf(out, "total: %s learnable parameters",
            nr_format_thousands(graph->param_count, params, sizeof params));
    if (graph->frozen_param_count) {
        char trained[32], frozen[32];
        fprintf(out, " (%s trained, %s frozen)",
                nr_format_thousands(graph->param_count - graph->frozen_param_count, trained,
                                    sizeof trained),
                nr_format_thousands(graph->frozen_param_count, frozen, sizeof frozen));
    }
    fprintf(out, ", %s forward MACs per example\n",
            nr_format_thousands(graph->macs, macs, sizeof macs));
}
