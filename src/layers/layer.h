/* layers/layer.h - the contract every layer kind implements (internal).
 *
 * Each layer kind lives in its own file (layers/conv.c, layers/maxpool.c, ...)
 * and exports one const nr_layer_ops; layers/registry.c lists them all in one
 * const array indexed by nr_layer_kind. Nothing dispatches on kind with a
 * switch or a strcmp ladder: callers go through the table.
 */
#ifndef NETRUN_LAYERS_LAYER_H
#define NETRUN_LAYERS_LAYER_H

#include "netrun/graph.h"

/* Context handed to setup: where the layer sits, for error messages. */
typedef struct nr_layer_site {
    const ns_doc *doc;
    const char *path;        /* "network.layers[3]" */
} nr_layer_site;

typedef struct nr_layer_ops {
    const char *name;        /* the spec name of the kind */
    /* Reads the kind's parameters from `params` (the resolved parameter map,
     * NULL for parameterless kinds) into layer->config, checks that the
     * layer fits `layer->in` and sets layer->out, param_count and macs.
     * On a misfit: -1 with a message naming site->path and the layer's
     * spec position. */
    int (*setup)(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                 nr_error *err);
    /* Appends the kind's settings to a short description ("8x3x3 s1 p1");
     * NULL when the name says everything. */
    void (*describe)(const nr_layer *layer, char *buf, size_t size);
} nr_layer_ops;

extern const nr_layer_ops nr_conv_ops, nr_maxpool_ops, nr_avgpool_ops, nr_dense_ops,
    nr_flatten_ops, nr_relu_ops, nr_leaky_relu_ops, nr_sigmoid_ops, nr_tanh_ops,
    nr_softmax_ops, nr_dropout_ops, nr_batchnorm_ops, nr_residual_ops;

/* The registry: one entry per nr_layer_kind. */
extern const nr_layer_ops *const nr_layer_registry[NR_LAYER_KIND_COUNT];

/* Kind for a spec name; -1 if none. */
int nr_layer_kind_from_name(const char *name);

/* Shared helpers for setup functions. */
/* Output = input (activations, dropout, batchnorm, softmax). */
int nr_layer_setup_same_shape(nr_layer *layer, const ns_node *params,
                              const nr_layer_site *site, nr_error *err);
/* Fails with "FILE:LINE:COL: error: PATH KIND: message". */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
int nr_layer_fail(const nr_layer *layer, const nr_layer_site *site, nr_error *err,
                  const char *fmt, ...);
/* Output size of a sliding window; -1 when the window does not fit. */
int nr_window_out(int in, int size, int stride, int pad);
/* Reads an `init:` value: false for "auto" (then *kind is untouched). */
bool nr_init_from_name(const char *name, nr_init_kind *kind);
/* *out = product of factors[0..count); false (and *out untouched) on size_t overflow. */
bool nr_size_mul(size_t *out, size_t count, const size_t *factors);

/* Builds `count` layers from a layer list node, starting from shape `in`
 * (used by the graph and by residual blocks); repeat blocks are expanded.
 * On success *layers is malloc'd (caller frees with nr_layers_free). */
int nr_layers_build(const ns_node *list, nr_shape in, const nr_layer_site *site,
                    const char *label_prefix, nr_layer **layers, size_t *count,
                    nr_error *err);
void nr_layers_free(nr_layer *layers, size_t count);

#endif
