/* layers/residual.c - a block of layers bridged by a shortcut:
 *   y = block(x) + shortcut(x)
 * The shortcut is the identity when the block keeps the shape, otherwise
 * (or when `shortcut: projection` forces it) a 1x1 convolution with the
 * stride that maps the input's size to the block's output size, optionally
 * followed by batchnorm (`projection_batchnorm: true`, the conv then has no
 * bias). */
#include "layers/layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nr_shortcut_kind shortcut_from_name(const char *name)
{
    if (strcmp(name, "identity") == 0)
        return NR_SHORTCUT_IDENTITY;
    if (strcmp(name, "projection") == 0)
        return NR_SHORTCUT_PROJECTION;
    return NR_SHORTCUT_AUTO;
}

static int build_projection(nr_layer *layer, const nr_layer_site *site, nr_error *err)
{
    nr_shape in = layer->in, out = layer->out;
    int stride = in.h / out.h;
    if (stride < 1 || nr_window_out(in.h, 1, stride, 0) != out.h ||
        nr_window_out(in.w, 1, stride, 0) != out.w)
        return nr_layer_fail(layer, site, err,
                             "block output %dx%dx%d cannot be matched to its input %dx%dx%d "
                             "by a strided 1x1 projection; keep the spatial size or "
                             "halve it with stride 2",
                             out.c, out.h, out.w, in.c, in.h, in.w);
    bool with_bn = layer->config.residual.projection_batchnorm;
    layer->shortcut_count = with_bn ? 2 : 1;
    layer->shortcut = calloc(layer->shortcut_count, sizeof *layer->shortcut);
    if (!layer->shortcut)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    nr_layer *proj = &layer->shortcut[0];
    proj->kind = NR_LAYER_CONV;
    proj->node = layer->node;
    snprintf(proj->label, sizeof proj->label, "%.12s.s", layer->label);
    proj->config.conv.filters = out.c;
    proj->config.conv.size = 1;
    proj->config.conv.stride = stride;
    proj->config.conv.pad = 0;
    proj->config.conv.bias = !with_bn;
    proj->config.conv.init = NR_INIT_HE_NORMAL;
    proj->config.conv.init_auto = true;
    proj->in = in;
    proj->out = out;
    proj->param_count = (size_t)in.c * out.c + (with_bn ? 0 : (size_t)out.c);
    proj->macs = (size_t)in.c * out.c * out.h * out.w;
    if (with_bn) {
        nr_layer *bn = &layer->shortcut[1];
        bn->kind = NR_LAYER_BATCHNORM;
        bn->node = layer->node;
        snprintf(bn->label, sizeof bn->label, "%.12s.s", layer->label);
        bn->config.batchnorm.momentum = 0.1f;
        bn->config.batchnorm.eps = 1e-5f;
        bn->in = bn->out = out;
        bn->param_count = 2 * (size_t)out.c;
        bn->buffer_count = 2 * (size_t)out.c;
        bn->macs = nr_shape_size(out);
    }
    return 0;
}

static int residual_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                          nr_error *err)
{
    layer->config.residual.shortcut = shortcut_from_name(ns_get_str(params, "shortcut"));
    layer->config.residual.projection_batchnorm = ns_get_bool(params, "projection_batchnorm");

    char path[512];
    snprintf(path, sizeof path, "%s.residual.layers", site->path);
    nr_layer_site inner = {.doc = site->doc, .path = path, .build = site->build};
    if (site->build(ns_map_get(params, "layers"), layer->in, &inner, layer->label,
                    &layer->block, &layer->block_count, err) != 0)
        return -1;
    layer->out = layer->block[layer->block_count - 1].out;

    bool same = layer->in.c == layer->out.c && layer->in.h == layer->out.h &&
                layer->in.w == layer->out.w;
    nr_shortcut_kind kind = layer->config.residual.shortcut;
    if (kind == NR_SHORTCUT_IDENTITY && !same)
        return nr_layer_fail(layer, site, err,
                             "identity shortcut needs the block to keep its input shape "
                             "%dx%dx%d, but it outputs %dx%dx%d; use shortcut: auto or "
                             "projection",
                             layer->in.c, layer->in.h, layer->in.w, layer->out.c,
                             layer->out.h, layer->out.w);
    if (kind == NR_SHORTCUT_PROJECTION || !same)
        if (build_projection(layer, site, err) != 0)
            return -1;

    layer->param_count = 0;
    layer->macs = 0;
    for (size_t i = 0; i < layer->block_count; i++) {
        layer->param_count += layer->block[i].param_count;
        layer->macs += layer->block[i].macs;
    }
    for (size_t i = 0; i < layer->shortcut_count; i++) {
        layer->param_count += layer->shortcut[i].param_count;
        layer->macs += layer->shortcut[i].macs;
    }
    return 0;
}

static void residual_describe(const nr_layer *layer, char *buf, size_t size)
{
    snprintf(buf, size, "%zu layers + %s", layer->block_count,
             layer->shortcut_count ? "1x1 projection" : "identity");
}

/* With timing on (ex->clock): ends the span of one of the block's own rows
 * (the add, the identity shortcut) that began at `since`. */
static void mark_part(const nr_exec *ex, nr_exec_clock since, nr_layer_times *times,
                      bool backward)
{
    if (!ex->clock)
        return;
    nr_exec_mark(ex, since, times, backward);
}

static nr_exec_clock clock_of(const nr_exec *ex)
{
    return ex->clock ? *ex->clock : (nr_exec_clock){0};
}

/* out = block(in) + shortcut(in), the shortcut being `in` itself (identity)
 * or its projection. */
static void residual_forward(const nr_exec *ex, nr_layer_run *run, const float *in)
{
    const nr_layer *layer = run->layer;
    const float *block_out = nr_runs_forward(ex, run->block, layer->block_count, in);
    const float *shortcut_out =
        layer->shortcut_count ? nr_runs_forward(ex, run->shortcut, layer->shortcut_count, in)
                              : in;
    nr_exec_clock since = clock_of(ex);
    nr_add((size_t)ex->n * nr_shape_size(layer->out), block_out, shortcut_out, run->out);
    mark_part(ex, since, run->add_times, false);
}

/* dL/dout reaches the block's last layer and the shortcut unchanged; both
 * paths accumulate into din. The last run of each path reads run->dout
 * itself during the pass (its own dout is pointed there, then back: layers
 * only read their dout), so nothing is copied. */
static void residual_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din)
{
    const nr_layer *layer = run->layer;
    size_t count = (size_t)ex->n * nr_shape_size(layer->out);
    nr_exec_clock since = clock_of(ex);
    /* both paths add into din: start it at 0 when it holds garbage */
    if (din && ex->din_fresh)
        memset(din, 0, (size_t)ex->n * nr_shape_size(layer->in) * sizeof *din);
    nr_exec inner = *ex;
    inner.din_fresh = false;
    nr_layer_run *block_last = &run->block[layer->block_count - 1];
    nr_layer_run *shortcut_last =
        layer->shortcut_count ? &run->shortcut[layer->shortcut_count - 1] : NULL;
    float *block_dout = block_last->dout, *shortcut_dout = shortcut_last ? shortcut_last->dout
                                                                         : NULL;
    block_last->dout = run->dout;
    if (shortcut_last)
        shortcut_last->dout = run->dout;
    mark_part(ex, since, run->add_times, true);
    nr_runs_backward(&inner, run->block, layer->block_count, in, din);
    if (shortcut_last) {
        nr_runs_backward(&inner, run->shortcut, layer->shortcut_count, in, din);
        shortcut_last->dout = shortcut_dout;
    } else {
        since = clock_of(ex);
        if (din)
            nr_add_into(count, run->dout, din);
        mark_part(ex, since, run->identity_times, true);
    }
    block_last->dout = block_dout;
}

const nr_layer_ops nr_residual_ops = {
    .name = "residual",
    .setup = residual_setup,
    .describe = residual_describe,
    .forward = residual_forward,
    .backward = residual_backward,
    /* its block may hold layers with barriers (batchnorm); it prepares din itself */
    .exec_flags = NR_EXEC_EMPTY_OK | NR_EXEC_SETS_DIN,
};
