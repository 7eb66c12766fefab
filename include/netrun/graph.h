/* netrun/graph.h - the layer graph built from a resolved spec.
 *
 * nr_graph_build() walks network.layers of a resolved ns_doc, expands
 * `repeat` blocks, builds `residual` blocks with their shortcut, and infers and
 * checks every layer's output shape BEFORE anything is allocated for
 * training. The first mismatch is reported with the spec position of the
 * layer, its index path (network.layers[3].residual.layers[1]) and kind.
 *
 * Shapes are per example, channels x height x width (NCHW without the N);
 * a dense layer's output is units x 1 x 1 and marked flat: a vector of
 * features, not an image (conv and pooling refuse it).
 *
 * Ownership: the graph owns its layer arrays; layer->node points into the
 * ns_doc it was built from (borrowed: keep the doc alive as long as the graph).
 */
#ifndef NETRUN_GRAPH_H
#define NETRUN_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netrun/error.h"
#include "netrun/kernels.h"
#include "netrun/netspec.h"

typedef struct nr_shape {
    int c, h, w;
    bool flat;     /* a feature vector (c x 1 x 1) made by dense or flatten */
} nr_shape;

static inline size_t nr_shape_size(nr_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* Layer kinds; the registry (nr_layer_registry in src/layers/registry.c) is
 * indexed by this enum. */
typedef enum nr_layer_kind {
    NR_LAYER_CONV,
    NR_LAYER_MAXPOOL,
    NR_LAYER_AVGPOOL,
    NR_LAYER_DENSE,
    NR_LAYER_FLATTEN,
    NR_LAYER_RELU,
    NR_LAYER_LEAKY_RELU,
    NR_LAYER_SIGMOID,
    NR_LAYER_TANH,
    NR_LAYER_SOFTMAX,
    NR_LAYER_DROPOUT,
    NR_LAYER_BATCHNORM,
    NR_LAYER_RESIDUAL,
    NR_LAYER_KIND_COUNT
} nr_layer_kind;

typedef enum nr_shortcut_kind {
    NR_SHORTCUT_AUTO, NR_SHORTCUT_IDENTITY, NR_SHORTCUT_PROJECTION
} nr_shortcut_kind;

/* Per-kind settings read from the spec (only the member of `kind` is valid).
 * init: `init: auto` is decided at build from the activation that follows the
 * layer in its list: He (normal) before relu/leaky_relu, Glorot (uniform)
 * otherwise (tanh, sigmoid, softmax, none); each kind's ops say which it is
 * (nr_auto_init in src/layers/layer.h). init_auto records that the spec left
 * it to the engine. */
typedef union nr_layer_config {
    struct { int filters, size, stride, pad; bool bias, init_auto; nr_init_kind init; } conv;
    struct { int size, stride; } pool;              /* maxpool, avgpool */
    struct { int units; bool bias, init_auto; nr_init_kind init; } dense;
    struct { float slope; } leaky_relu;
    struct { float rate; } dropout;
    struct { float momentum, eps; } batchnorm;
    struct { nr_shortcut_kind shortcut; bool projection_batchnorm; } residual;
} nr_layer_config;

typedef struct nr_layer nr_layer;
struct nr_layer {
    nr_layer_kind kind;
    const ns_node *node;     /* the layer's spec node (borrowed), for messages */
    char label[16];          /* index path for tables: "3", "7.2", "7.s" */
    nr_layer_config config;
    nr_shape in, out;
    size_t param_count;      /* learnable floats of this layer (residual: block + shortcut) */
    size_t buffer_count;     /* non-learned floats of this layer (batchnorm: running mean
                                and variance); 0 for a residual (its layers have them) */
    size_t macs;             /* forward multiply-accumulates per example (residual: total) */
    bool frozen;             /* `freeze: true`: the optimizer leaves its parameters (and a
                                batchnorm its running statistics) as they are */
    bool fresh;              /* `fresh: true`: train.init_from does not load it */
    /* residual only */
    nr_layer *block;         /* block_count layers bridged by the shortcut; owned */
    size_t block_count;
    nr_layer *shortcut;      /* NULL (identity) or 1-2 layers: 1x1 conv [+ batchnorm]; owned */
    size_t shortcut_count;
};

typedef struct nr_graph {
    nr_shape input;
    nr_layer *layers;        /* top-level layers in order (repeat expanded); owned */
    size_t count;
    size_t param_count;      /* total learnable floats */
    size_t frozen_param_count;   /* of them, in frozen layers (kept fixed in training) */
    size_t macs;             /* total forward MACs per example */
} nr_graph;

/* Builds and shape-checks the graph of a resolved doc whose network.input is
 * present (the caller fills it from the data first when the spec omits it). */
int nr_graph_build(const ns_doc *doc, nr_graph **out, nr_error *err);
void nr_graph_free(nr_graph *graph);

/* The output shape of the whole network. */
nr_shape nr_graph_output(const nr_graph *graph);

/* Writes the summary table (index, layer, output shape, learnable parameters,
 * forward MACs per example; a frozen layer's name ends in "(frozen)") and the
 * totals (with frozen layers: how many parameters train and how many are
 * frozen) to `out`. */
void nr_graph_write_summary(const nr_graph *graph, FILE *out);

/* The layers that hold values (parameters or buffers: conv, dense,
 * batchnorm, also inside residual blocks, each block's layers followed by
 * its shortcut's), in the order of the net's parameter and buffer vectors
 * (netrun/net.h), with where their values start in each. */
typedef struct nr_weighted_layer {
    const nr_layer *layer;
    size_t param_offset;     /* into nr_net_params: param_count floats */
    size_t buffer_offset;    /* into nr_net_buffers: buffer_count floats */
} nr_weighted_layer;
/* Writes up to `capacity` of them to out (may be NULL) and returns how many
 * the graph has. */
size_t nr_graph_weighted_layers(const nr_graph *graph, nr_weighted_layer *out,
                                size_t capacity);

/* The shapes of a layer's parameter tensors into buf, e.g. "weight
 * 16x8x3x3, bias 16" (conv), "weight 10x1568, bias 10" (dense), "gamma 8,
 * beta 8" (batchnorm); "" for a layer without parameters of its own. */
const char *nr_layer_describe_params(const nr_layer *layer, char *buf, size_t size);

/* A hash of the network's structure: every layer's kind, input and output
 * shape and parameter count, recursively. Weights files and checkpoints
 * carry it so that they are only loaded into the network they came from. */
uint64_t nr_graph_hash(const nr_graph *graph);

/* Bytes a net of this graph needs to train with batches of `batch`: every
 * learnable float five times (parameters, gradients, two optimizer moments,
 * the early-stopping copy) and every layer's output three times per example
 * (output, its gradient, saved state). False when the count overflows size_t. */
bool nr_graph_training_bytes(const nr_graph *graph, int batch, size_t *bytes);

/* A short description of a layer, e.g. "conv 8x3x3 s1 p1", into buf. */
const char *nr_layer_describe(const nr_layer *layer, char *buf, size_t size);

/* A shape as "CxHxW", or "C" when h = w = 1, into buf. */
const char *nr_shape_text(nr_shape s, char *buf, size_t size);

/* The registered name of a kind ("conv", "maxpool", ...). */
const char *nr_layer_kind_name(nr_layer_kind kind);

#endif
