/* layers/registry.c - the one table of layer kinds: nr_layer_kind -> the
 * kind's nr_layer_ops (each defined in its own file, layers/<kind>.c). The
 * graph builder and the executor look kinds up here; the kinds themselves
 * never do (they get what they need through nr_layer_site and
 * nr_layer_run), so the registry depends on the kinds and not the other way. */
#include "layers/layer.h"

#include <string.h>

const nr_layer_ops *const nr_layer_registry[NR_LAYER_KIND_COUNT] = {
    [NR_LAYER_CONV] = &nr_conv_ops,
    [NR_LAYER_MAXPOOL] = &nr_maxpool_ops,
    [NR_LAYER_AVGPOOL] = &nr_avgpool_ops,
    [NR_LAYER_DENSE] = &nr_dense_ops,
    [NR_LAYER_FLATTEN] = &nr_flatten_ops,
    [NR_LAYER_RELU] = &nr_relu_ops,
    [NR_LAYER_LEAKY_RELU] = &nr_leaky_relu_ops,
    [NR_LAYER_SIGMOID] = &nr_sigmoid_ops,
    [NR_LAYER_TANH] = &nr_tanh_ops,
    [NR_LAYER_SOFTMAX] = &nr_softmax_ops,
    [NR_LAYER_DROPOUT] = &nr_dropout_ops,
    [NR_LAYER_BATCHNORM] = &nr_batchnorm_ops,
    [NR_LAYER_RESIDUAL] = &nr_residual_ops,
};

int nr_layer_kind_from_name(const char *name)
{
    for (int kind = 0; kind < NR_LAYER_KIND_COUNT; kind++)
        if (strcmp(nr_layer_registry[kind]->name, name) == 0)
            return kind;
    return -1;
}

const char *nr_layer_kind_name(nr_layer_kind kind)
{
    return (kind >= 0 && kind < NR_LAYER_KIND_COUNT) ? nr_layer_registry[kind]->name : "?";
}

