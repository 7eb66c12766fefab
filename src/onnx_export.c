/* onnx_export.c - a trained model as an ONNX model (see netrun/onnx_export.h).
 *
 * The graph is walked in the order the net binds its memory (net.c,
 * plan_runs): each layer's own parameters (conv/dense: weights then bias;
 * batchnorm: gamma then beta) and buffers (batchnorm: running mean then
 * variance), then a residual's block, then its shortcut. The walk takes
 * the parameter and buffer vectors front to back and checks at the end that
 * it used every float of both. Shapes: a tensor is [N, C, H, W] while the
 * layer's shape is an image and [N, features] once it is a vector
 * (dense, flatten), as netrun's nr_shape.flat says.
 */
#include "netrun/onnx_export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/fileio.h"
#include "netrun/graph.h"
#include "layers/layer.h"

/* A tensor of the graph being written: its name and rank (2 or 4). */
typedef struct tensor {
    char name[64];
    int rank;
} tensor;

typedef struct exporter {
    nr_pb *pb;                   /* inside the open GraphProto */
    const float *params, *buffers;
    size_t param_count, buffer_count;
    size_t params_used, buffers_used;
    unsigned nodes;              /* nodes written: numbers the names */
    bool overrun;                /* the graph asked for more floats than there are */
    const nr_layer *unexportable;  /* the first layer of a kind with no ONNX form */
} exporter;

/* A new name "n<k>_<what>_<label>" (unique by k). */
static tensor new_tensor(exporter *ex, const char *what, const char *label, int rank)
{
    tensor t = {.rank = rank};
    snprintf(t.name, sizeof t.name, "n%u_%.16s_%.16s", ++ex->nodes, what, label);
    return t;
}

/* The next `count` floats of the parameters (or buffers); NULL past the end. */
static const float *take(exporter *ex, bool buffers, size_t count)
{
    const float *base = buffers ? ex->buffers : ex->params;
    size_t *used = buffers ? &ex->buffers_used : &ex->params_used;
    size_t total = buffers ? ex->buffer_count : ex->param_count;
    if (count > total - *used) {
        ex->overrun = true;
        return NULL;
    }
    const float *p = base + *used;
    *used += count;
    return p;
}

/* An initializer "<node>.<suffix>" of `count` floats taken from the
 * parameters or buffers, of shape dims; its name into name[64]. */
static void initializer(exporter *ex, const tensor *node, const char *suffix, bool buffers,
                        const int64_t *dims, int rank, char *name)
{
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    snprintf(name, 64, "%.50s.%.8s", node->name, suffix);
    const float *values = take(ex, buffers, count);
    if (values)
        nr_onnx_tensor_float(ex->pb, NR_ONNX_GRAPH_INITIALIZER, name, dims, rank, values);
}

/* A node with one input and one output, no attributes left open. */
static tensor unary(exporter *ex, const char *op, const char *what, const char *label,
                    const tensor *in, int out_rank)
{
    tensor out = new_tensor(ex, what, label, out_rank);
    const char *inputs[] = {in->name};
    const char *outputs[] = {out.name};
    nr_onnx_node_begin(ex->pb, NR_ONNX_GRAPH_NODE, op, out.name, inputs, 1, outputs, 1);
    return out;
}

/* t as [N, features]: a Flatten (axis 1) of an image. */
static tensor as_vector(exporter *ex, const tensor *t, const char *label)
{
    if (t->rank == 2)
        return *t;
    tensor out = unary(ex, "Flatten", "flatten", label, t, 2);
    nr_onnx_attr_int(ex->pb, "axis", 1);
    nr_onnx_node_end(ex->pb);
    return out;
}

/* t as the image `shape` [N, C, H, W]: a Reshape of a vector. Only a
 * residual shortcut meets one (a 1x1 projection of a vector block). */
static tensor as_image(exporter *ex, const tensor *t, nr_shape shape, const char *label)
{
    if (t->rank == 4)
        return *t;
    tensor out = new_tensor(ex, "reshape", label, 4);
    char shape_name[64];
    snprintf(shape_name, sizeof shape_name, "%.50s.shape", out.name);
    const int64_t dims[] = {4};
    const int64_t values[] = {-1, shape.c, shape.h, shape.w};
    nr_onnx_tensor_int64(ex->pb, NR_ONNX_GRAPH_INITIALIZER, shape_name, dims, 1, values);
    const char *inputs[] = {t->name, shape_name};
    const char *outputs[] = {out.name};
    nr_onnx_node_begin(ex->pb, NR_ONNX_GRAPH_NODE, "Reshape", out.name, inputs, 2, outputs, 1);
    nr_onnx_node_end(ex->pb);
    return out;
}

/* t in the rank netrun's shape says: a vector or an image. */
static tensor conform(exporter *ex, const tensor *t, nr_shape shape, const char *label)
{
    return shape.flat ? as_vector(ex, t, label) : as_image(ex, t, shape, label);
}

static tensor emit_layers(exporter *ex, const nr_layer *layers, size_t count, tensor in);

static tensor emit_conv(exporter *ex, const nr_layer *layer, const tensor *in)
{
    tensor x = as_image(ex, in, layer->in, layer->label);
    tensor out = new_tensor(ex, "conv", layer->label, 4);
    int64_t k = layer->config.conv.size, f = layer->config.conv.filters;
    int64_t s = layer->config.conv.stride, p = layer->config.conv.pad;
    char weight[64], bias[64];
    const int64_t wdims[] = {f, layer->in.c, k, k};
    initializer(ex, &out, "weight", false, wdims, 4, weight);
    if (layer->config.conv.bias)
        initializer(ex, &out, "bias", false, &f, 1, bias);
    const char *inputs[] = {x.name, weight, bias};
    const char *outputs[] = {out.name};
    nr_onnx_node_begin(ex->pb, NR_ONNX_GRAPH_NODE, "Conv", out.name, inputs,
                       layer->config.conv.bias ? 3 : 2, outputs, 1);
    const int64_t kernel[] = {k, k}, strides[] = {s, s}, pads[] = {p, p, p, p};
    nr_onnx_attr_ints(ex->pb, "kernel_shape", kernel, 2);
    nr_onnx_attr_ints(ex->pb, "strides", strides, 2);
    nr_onnx_attr_ints(ex->pb, "pads", pads, 4);
    nr_onnx_node_end(ex->pb);
    return out;
}

/* netrun pools without padding, windows that fit whole (floor): ONNX's
 * defaults (no pads, ceil_mode 0); the average divides by size * size. */
static tensor emit_pool(exporter *ex, const nr_layer *layer, const tensor *in, bool max)
{
    tensor out = unary(ex, max ? "MaxPool" : "AveragePool", max ? "maxpool" : "avgpool",
                       layer->label, in, 4);
    const int64_t k = layer->config.pool.size, s = layer->config.pool.stride;
    const int64_t kernel[] = {k, k}, strides[] = {s, s};
    nr_onnx_attr_ints(ex->pb, "kernel_shape", kernel, 2);
    nr_onnx_attr_ints(ex->pb, "strides", strides, 2);
    nr_onnx_node_end(ex->pb);
    return out;
}

/* y = x W^T + b with W [units, in features] as netrun keeps it. */
static tensor emit_dense(exporter *ex, const nr_layer *layer, const tensor *in)
{
    tensor x = as_vector(ex, in, layer->label);
    tensor out = new_tensor(ex, "dense", layer->label, 2);
    int64_t units = layer->config.dense.units;
    char weight[64], bias[64];
    const int64_t wdims[] = {units, (int64_t)nr_shape_size(layer->in)};
    initializer(ex, &out, "weight", false, wdims, 2, weight);
    if (layer->config.dense.bias)
        initializer(ex, &out, "bias", false, &units, 1, bias);
    const char *inputs[] = {x.name, weight, bias};
    const char *outputs[] = {out.name};
    nr_onnx_node_begin(ex->pb, NR_ONNX_GRAPH_NODE, "Gemm", out.name, inputs,
                       layer->config.dense.bias ? 3 : 2, outputs, 1);
    nr_onnx_attr_int(ex->pb, "transB", 1);
    nr_onnx_node_end(ex->pb);
    return out;
}

/* Inference form: (x - running mean) / sqrt(running var + eps) * gamma + beta
 * per channel (per feature of a vector). */
static tensor emit_batchnorm(exporter *ex, const nr_layer *layer, const tensor *in)
{
    tensor out = new_tensor(ex, "batchnorm", layer->label, in->rank);
    int64_t c = layer->in.c;
    char gamma[64], beta[64], mean[64], var[64];
    initializer(ex, &out, "scale", false, &c, 1, gamma);
    initializer(ex, &out, "bias", false, &c, 1, beta);
    initializer(ex, &out, "mean", true, &c, 1, mean);
    initializer(ex, &out, "var", true, &c, 1, var);
    const char *inputs[] = {in->name, gamma, beta, mean, var};
    const char *outputs[] = {out.name};
    nr_onnx_node_begin(ex->pb, NR_ONNX_GRAPH_NODE, "BatchNormalization", out.name, inputs, 5,
                       outputs, 1);
    nr_onnx_attr_float(ex->pb, "epsilon", layer->config.batchnorm.eps);
    nr_onnx_node_end(ex->pb);
    return out;
}

/* y = block(x) + shortcut(x): the shortcut is x or its 1x1 projection
 * (+ batchnorm); no activation after the sum (a spec writes it as a layer). */
static tensor emit_residual(exporter *ex, const nr_layer *layer, const tensor *in)
{
    tensor block = emit_layers(ex, layer->block, layer->block_count, *in);
    tensor shortcut = emit_layers(ex, layer->shortcut, layer->shortcut_count, *in);
    block = conform(ex, &block, layer->out, layer->label);
    shortcut = conform(ex, &shortcut, layer->out, layer->label);
    tensor out = new_tensor(ex, "add", layer->label, block.rank);
    const char *inputs[] = {block.name, shortcut.name};
    const char *outputs[] = {out.name};
    nr_onnx_node_begin(ex->pb, NR_ONNX_GRAPH_NODE, "Add", out.name, inputs, 2, outputs, 1);
    nr_onnx_node_end(ex->pb);
    return out;
}

static tensor emit_maxpool(exporter *ex, const nr_layer *layer, const tensor *in)
{
    return emit_pool(ex, layer, in, true);
}

static tensor emit_avgpool(exporter *ex, const nr_layer *layer, const tensor *in)
{
    return emit_pool(ex, layer, in, false);
}

static tensor emit_flatten(exporter *ex, const nr_layer *layer, const tensor *in)
{
    return as_vector(ex, in, layer->label);
}

/* dropout (the identity outside training) and softmax (only last: the
 * output head, written by nr_onnx_encode) */
static tensor emit_nothing(exporter *ex, const nr_layer *layer, const tensor *in)
{
    (void)ex;
    (void)layer;
    return *in;
}

/* The kinds the exporter writes itself; element-wise kinds say their ONNX
 * operator in their ops (onnx_op, layers/layer.h). */
typedef tensor (*layer_emitter)(exporter *ex, const nr_layer *layer, const tensor *in);
static const layer_emitter emitters[NR_LAYER_KIND_COUNT] = {
    [NR_LAYER_CONV] = emit_conv,          [NR_LAYER_MAXPOOL] = emit_maxpool,
    [NR_LAYER_AVGPOOL] = emit_avgpool,    [NR_LAYER_DENSE] = emit_dense,
    [NR_LAYER_FLATTEN] = emit_flatten,    [NR_LAYER_BATCHNORM] = emit_batchnorm,
    [NR_LAYER_RESIDUAL] = emit_residual,  [NR_LAYER_DROPOUT] = emit_nothing,
    [NR_LAYER_SOFTMAX] = emit_nothing,
};

bool nr_onnx_kind_exportable(nr_layer_kind kind)
{
    return kind >= 0 && kind < NR_LAYER_KIND_COUNT &&
           (emitters[kind] || nr_layer_registry[kind]->onnx_op);
}

static tensor emit_layer(exporter *ex, const nr_layer *layer, const tensor *in)
{
    if (emitters[layer->kind])
        return emitters[layer->kind](ex, layer, in);
    const nr_layer_ops *ops = nr_layer_registry[layer->kind];
    if (!ops->onnx_op) {
        if (!ex->unexportable)
            ex->unexportable = layer;
        return *in;
    }
    tensor out = unary(ex, ops->onnx_op, ops->name, layer->label, in, in->rank);
    if (ops->onnx_attr)
        nr_onnx_attr_float(ex->pb, ops->onnx_attr, ops->onnx_attr_value(layer));
    nr_onnx_node_end(ex->pb);
    return out;
}

static tensor emit_layers(exporter *ex, const nr_layer *layers, size_t count, tensor in)
{
    tensor t = in;
    for (size_t i = 0; i < count; i++)
        t = emit_layer(ex, &layers[i], &t);
    return t;
}

/* ---- metadata ---- */

/* A growing text (JSON values, the doc string); NULL data after a failure. */
typedef struct text {
    char *data;
    size_t len, cap;
    bool failed;
} text;

/* Room for `need` bytes: the new data, or NULL (t->data then freed). */
static char *grow(text *t, size_t need)
{
    size_t cap = t->cap ? t->cap : 128;
    while (cap < need)
        cap *= 2;
    char *data = realloc(t->data, cap);
    if (!data) {
        free(t->data);
        t->len = t->cap = 0;
        return NULL;
    }
    t->cap = cap;
    return data;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void text_add(text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (t->len + (size_t)n + 1 > t->cap &&
                  !(t->data = grow(t, t->len + (size_t)n + 1)))) {
        t->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* s as a JSON string (quotes, backslashes and control characters escaped;
 * other bytes, UTF-8 included, as they are). */
static void text_json_string(text *t, const char *s)
{
    text_add(t, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            text_add(t, "\\%c", *p);
        else if (*p < 0x20)
            text_add(t, "\\u%04x", *p);
        else
            text_add(t, "%c", *p);
    }
    text_add(t, "\"");
}

static void text_json_floats(text *t, const float *values, int count)
{
    text_add(t, "[");
    for (int i = 0; i < count; i++)
        text_add(t, "%s%.9g", i ? ", " : "", (double)values[i]);
    text_add(t, "]");
}

/* One metadata_props entry whose value is built in `value` (then emptied). */
static void metadata(nr_pb *pb, const char *key, text *value)
{
    if (value->failed) {
        pb->failed = true;   /* out of memory: the encode fails */
    } else {
        nr_onnx_entry(pb, NR_ONNX_MODEL_METADATA_PROPS, key, value->data ? value->data : "");
    }
    value->len = 0;
    if (value->data)
        value->data[0] = '\0';
}

static void write_metadata(nr_pb *pb, const nr_model *model, const char *spec_name)
{
    const nr_model_info *info = &model->info;
    text v = {0};
    text_add(&v, "[");
    for (size_t i = 0; i < info->class_count; i++) {
        text_add(&v, "%s", i ? ", " : "");
        text_json_string(&v, info->class_names[i]);
    }
    text_add(&v, "]");
    metadata(pb, "class_names", &v);
    text_json_floats(&v, info->pixel_scale, info->channels);
    metadata(pb, "pixel_scale", &v);
    text_json_floats(&v, info->pixel_shift, info->channels);
    metadata(pb, "pixel_shift", &v);
    text_add(&v, "[%d, %d, %d]", info->channels, info->height, info->width);
    metadata(pb, "input_shape", &v);
    text_add(&v, "%s", model->probabilities ? "probabilities" : "raw");
    metadata(pb, "outputs", &v);
    text_add(&v, "%s", NETRUN_VERSION);
    metadata(pb, "netrun_version", &v);
    text_add(&v, "%s", spec_name);
    metadata(pb, "spec_name", &v);
    free(v.data);
}

/* What the model takes and gives, for the doc_string. */
static int doc_string(const nr_model *model, const char *spec_name, const char *output,
                      text *doc)
{
    const nr_model_info *info = &model->info;
    text_add(doc, "netrun model '%s'. Input 'input': float [N, %d, %d, %d] (N images, "
             "channels, height, width), each value pixel (0..255) * scale + shift of its "
             "channel with scale ", spec_name, info->channels, info->height, info->width);
    text_json_floats(doc, info->pixel_scale, info->channels);
    text_add(doc, " and shift ");
    text_json_floats(doc, info->pixel_shift, info->channels);
    text_add(doc, ". Output '%s': float [N, %zu], ", output, info->class_count);
    if (model->probabilities)
        text_add(doc, "the probability of each class (softmax of the class scores)");
    else
        text_add(doc, "the raw output value for each class (an mse network without a "
                 "final softmax)");
    text_add(doc, ", classes in the order of metadata 'class_names'.");
    return doc->failed ? -1 : 0;
}

int nr_onnx_encode(const nr_model *model, nr_pb *pb, nr_error *err)
{
    const nr_graph *graph = model->spec.graph;
    nr_net *net = model->net;
    const nr_model_info *info = &model->info;
    const char *spec_name = ns_get_str(model->spec.doc->root, "name");
    const char *output = model->probabilities ? "probabilities" : "outputs";
    text doc = {0};
    if (doc_string(model, spec_name, output, &doc) != 0) {
        free(doc.data);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }

    nr_pb_int(pb, NR_ONNX_MODEL_IR_VERSION, NR_ONNX_IR_VERSION);
    nr_pb_string(pb, NR_ONNX_MODEL_PRODUCER_NAME, "netrun");
    nr_pb_string(pb, NR_ONNX_MODEL_PRODUCER_VERSION, NETRUN_VERSION);
    nr_pb_int(pb, NR_ONNX_MODEL_MODEL_VERSION, 1);
    nr_pb_string(pb, NR_ONNX_MODEL_DOC_STRING, doc.data);

    nr_pb_begin(pb, NR_ONNX_MODEL_GRAPH);
    exporter ex = {.pb = pb, .params = nr_net_params(net),
                   .param_count = nr_net_param_count(net), .buffers = nr_net_buffers(net),
                   .buffer_count = nr_net_buffer_count(net)};
    tensor input = {.name = "input", .rank = 4};
    tensor scores = emit_layers(&ex, graph->layers, graph->count, input);
    scores = as_vector(&ex, &scores, "scores");
    /* the head: what nr_net_outputs gives */
    const char *inputs[] = {scores.name};
    const char *outputs[] = {output};
    nr_onnx_node_begin(pb, NR_ONNX_GRAPH_NODE, model->probabilities ? "Softmax" : "Identity",
                       output, inputs, 1, outputs, 1);
    if (model->probabilities)
        nr_onnx_attr_int(pb, "axis", 1);
    nr_onnx_node_end(pb);
    nr_pb_string(pb, NR_ONNX_GRAPH_NAME, spec_name);
    nr_pb_string(pb, NR_ONNX_GRAPH_DOC_STRING, doc.data);
    const int64_t in_dims[] = {-1, info->channels, info->height, info->width};
    nr_onnx_value_info(pb, NR_ONNX_GRAPH_INPUT, "input", NR_ONNX_FLOAT, in_dims, 4, "N");
    const int64_t out_dims[] = {-1, (int64_t)info->class_count};
    nr_onnx_value_info(pb, NR_ONNX_GRAPH_OUTPUT, output, NR_ONNX_FLOAT, out_dims, 2, "N");
    nr_pb_end(pb);
    free(doc.data);

    nr_onnx_opset(pb, NR_ONNX_MODEL_OPSET_IMPORT, "", NR_ONNX_OPSET);
    write_metadata(pb, model, spec_name);

    if (ex.unexportable)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: layer %s (%s) has no ONNX form in this "
                       "netrun (its ops give no onnx_op and the exporter has no writer for it)",
                       model->spec_path, ex.unexportable->label,
                       nr_layer_kind_name(ex.unexportable->kind));
    if (ex.overrun || ex.params_used != ex.param_count || ex.buffers_used != ex.buffer_count)
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: the ONNX graph took %zu of %zu parameters and %zu of %zu "
                       "buffer values%s (a layer kind the exporter lays out wrongly)",
                       model->weights_path, ex.params_used, ex.param_count, ex.buffers_used,
                       ex.buffer_count, ex.overrun ? " and asked for more" : "");
    if (nr_pb_failed(pb))
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory encoding the ONNX model");
    return 0;
}

int nr_onnx_export(const nr_model *model, const char *path, nr_error *err)
{
    nr_pb pb = {0};
    int status = nr_onnx_encode(model, &pb, err);
    if (status == 0)
        status = nr_write_file_atomic(path, pb.data, pb.len, err);
    nr_pb_free(&pb);
    return status;
}
