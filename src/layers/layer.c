/* layers/layer.c - helpers shared by the layer kinds' setup functions. They
 * know no kind: a kind's name comes from the site (site->ops). */
#include "layers/layer.h"

#include <stdarg.h>
#include <string.h>

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
                   site->ops ? site->ops->name : "?", detail);
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

bool nr_epilogue_add_act(nr_conv_epilogue *epi, nr_act_kind act, float slope)
{
    if (epi->act != NR_ACT_NONE)
        return false;
    epi->act = act;
    epi->slope = slope;
    epi->pool_first = epi->pool;
    return true;
}
