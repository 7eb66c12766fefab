/* layers/layer.c - helpers shared by the layer kinds and the registry. */
#include "layers/layer.h"

#include <stdarg.h>
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

int nr_layer_setup_same_shape(nr_layer *layer, const ns_node *params,
                              const nr_layer_site *site, nr_error *err)
{
    (void)params;
    (void)site;
    (void)err;
    layer->out = layer->in;
    layer->param_count = 0;
    layer->macs = 0;
    return 0;
}

int nr_layer_fail(const nr_layer *layer, const nr_layer_site *site, nr_error *err,
                  const char *fmt, ...)
{
    char where[512], detail[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    ns_node_where(site->doc, layer->node, where, sizeof where);
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: %s (%s): %s", where, site->path,
                   nr_layer_kind_name(layer->kind), detail);
}

int nr_window_out(int in, int size, int stride, int pad)
{
    long span = (long)in + 2L * pad - size;
    if (span < 0 || stride <= 0)
        return -1;
    return (int)(span / stride + 1);
}

bool nr_init_from_name(const char *name, nr_init_kind *kind)
{
    static const struct {
        const char *name;
        nr_init_kind kind;
    } inits[] = {
        {"he_normal", NR_INIT_HE_NORMAL},
        {"he_uniform", NR_INIT_HE_UNIFORM},
        {"glorot_normal", NR_INIT_GLOROT_NORMAL},
        {"glorot_uniform", NR_INIT_GLOROT_UNIFORM},
    };
    for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++)
        if (strcmp(inits[i].name, name) == 0) {
            *kind = inits[i].kind;
            return true;
        }
    return false;
}

bool nr_size_mul(size_t *out, size_t count, const size_t *factors)
{
    size_t product = 1;
    for (size_t i = 0; i < count; i++)
        if (__builtin_mul_overflow(product, factors[i], &product))
            return false;
    *out = product;
    return true;
}
