/* onnx_writer.c - protobuf wire format and the ONNX messages netrun writes
 * (see netrun/onnx_writer.h). */
#include "netrun/onnx_writer.h"

#include <stdlib.h>
#include <string.h>

void nr_pb_free(nr_pb *pb)
{
    free(pb->data);
    memset(pb, 0, sizeof *pb);
}

bool nr_pb_failed(const nr_pb *pb)
{
    return pb->failed || pb->depth != 0;
}

/* Room for `more` bytes after len; false (and failed set) when out of memory. */
static bool reserve(nr_pb *pb, size_t more)
{
    if (pb->failed)
        return false;
    if (more > SIZE_MAX - pb->len) {
        pb->failed = true;
        return false;
    }
    size_t need = pb->len + more;
    if (need <= pb->cap)
        return true;
    size_t cap = pb->cap ? pb->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *data = realloc(pb->data, cap);
    if (!data) {
        pb->failed = true;
        return false;
    }
    pb->data = data;
    pb->cap = cap;
    return true;
}

void nr_pb_raw(nr_pb *pb, const void *bytes, size_t len)
{
    if (!reserve(pb, len))
        return;
    if (len)
        memcpy(pb->data + pb->len, bytes, len);
    pb->len += len;
}

/* The varint encoding of value into out (at least 10 bytes); its length. */
static size_t varint_encode(uint64_t value, uint8_t *out)
{
    size_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

void nr_pb_varint(nr_pb *pb, uint64_t value)
{
    uint8_t buf[10];
    nr_pb_raw(pb, buf, varint_encode(value, buf));
}

void nr_pb_tag(nr_pb *pb, int field, int wire_type)
{
    nr_pb_varint(pb, ((uint64_t)field << 3) | (uint64_t)wire_type);
}

void nr_pb_int(nr_pb *pb, int field, int64_t value)
{
    nr_pb_tag(pb, field, NR_PB_VARINT);
    nr_pb_varint(pb, (uint64_t)value);
}

/* value's IEEE 754 bits, little-endian, into out[4]. */
static void float_le(float value, uint8_t *out)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(bits >> (8 * i));
}

void nr_pb_float(nr_pb *pb, int field, float value)
{
    uint8_t buf[4];
    float_le(value, buf);
    nr_pb_tag(pb, field, NR_PB_FIXED32);
    nr_pb_raw(pb, buf, sizeof buf);
}

void nr_pb_bytes(nr_pb *pb, int field, const void *bytes, size_t len)
{
    nr_pb_tag(pb, field, NR_PB_LEN);
    nr_pb_varint(pb, len);
    nr_pb_raw(pb, bytes, len);
}

void nr_pb_string(nr_pb *pb, int field, const char *text)
{
    nr_pb_bytes(pb, field, text, strlen(text));
}

void nr_pb_begin(nr_pb *pb, int field)
{
    if (pb->failed)
        return;
    if (pb->depth >= NR_PB_MAX_DEPTH) {
        pb->failed = true;
        return;
    }
    nr_pb_tag(pb, field, NR_PB_LEN);
    pb->open[pb->depth++] = pb->len;
}

void nr_pb_end(nr_pb *pb)
{
    if (pb->failed)
        return;
    if (pb->depth <= 0) {
        pb->failed = true;
        return;
    }
    size_t start = pb->open[--pb->depth];
    size_t content = pb->len - start;
    uint8_t prefix[10];
    size_t n = varint_encode(content, prefix);
    if (!reserve(pb, n))
        return;
    memmove(pb->data + start + n, pb->data + start, content);
    memcpy(pb->data + start, prefix, n);
    pb->len += n;
}

/* ---- ONNX messages ---- */

void nr_onnx_opset(nr_pb *pb, int field, const char *domain, int64_t version)
{
    nr_pb_begin(pb, field);
    if (domain && domain[0])
        nr_pb_string(pb, NR_ONNX_OPSET_DOMAIN, domain);
    nr_pb_int(pb, NR_ONNX_OPSET_VERSION, version);
    nr_pb_end(pb);
}

void nr_onnx_entry(nr_pb *pb, int field, const char *key, const char *value)
{
    nr_pb_begin(pb, field);
    nr_pb_string(pb, NR_ONNX_ENTRY_KEY, key);
    nr_pb_string(pb, NR_ONNX_ENTRY_VALUE, value);
    nr_pb_end(pb);
}

/* Product of dims (0 for a negative one). */
static size_t element_count(const int64_t *dims, int rank)
{
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= dims[i] < 0 ? 0 : (size_t)dims[i];
    return count;
}

/* Opens a TensorProto of `field`: dims, data_type, name and the head of
 * raw_data (its tag and length: the element count times elem_size bytes);
 * the caller writes the bytes and closes it. Returns the element count. */
static size_t tensor_begin(nr_pb *pb, int field, const char *name, const int64_t *dims,
                           int rank, int data_type, size_t elem_size)
{
    size_t count = element_count(dims, rank);
    nr_pb_begin(pb, field);
    for (int i = 0; i < rank; i++)
        nr_pb_int(pb, NR_ONNX_TENSOR_DIMS, dims[i]);
    nr_pb_int(pb, NR_ONNX_TENSOR_DATA_TYPE, data_type);
    nr_pb_string(pb, NR_ONNX_TENSOR_NAME, name);
    nr_pb_tag(pb, NR_ONNX_TENSOR_RAW_DATA, NR_PB_LEN);
    nr_pb_varint(pb, (uint64_t)count * elem_size);
    return count;
}

void nr_onnx_tensor_float(nr_pb *pb, int field, const char *name, const int64_t *dims,
                          int rank, const float *values)
{
    size_t count = tensor_begin(pb, field, name, dims, rank, NR_ONNX_FLOAT, 4);
    if (reserve(pb, count * 4)) {
        for (size_t i = 0; i < count; i++)
            float_le(values[i], pb->data + pb->len + 4 * i);
        pb->len += count * 4;
    }
    nr_pb_end(pb);
}

void nr_onnx_tensor_int64(nr_pb *pb, int field, const char *name, const int64_t *dims,
                          int rank, const int64_t *values)
{
    size_t count = tensor_begin(pb, field, name, dims, rank, NR_ONNX_INT64, 8);
    for (size_t i = 0; i < count; i++) {
        uint8_t le[8];
        for (int b = 0; b < 8; b++)
            le[b] = (uint8_t)((uint64_t)values[i] >> (8 * b));
        nr_pb_raw(pb, le, sizeof le);
    }
    nr_pb_end(pb);
}

void nr_onnx_value_info(nr_pb *pb, int field, const char *name, int elem_type,
                        const int64_t *dims, int rank, const char *symbol)
{
    nr_pb_begin(pb, field);
    nr_pb_string(pb, NR_ONNX_VALUE_NAME, name);
    nr_pb_begin(pb, NR_ONNX_VALUE_TYPE);
    nr_pb_begin(pb, NR_ONNX_TYPE_TENSOR_TYPE);
    nr_pb_int(pb, NR_ONNX_TENSOR_TYPE_ELEM_TYPE, elem_type);
    nr_pb_begin(pb, NR_ONNX_TENSOR_TYPE_SHAPE);
    for (int i = 0; i < rank; i++) {
        nr_pb_begin(pb, NR_ONNX_SHAPE_DIM);
        if (dims[i] < 0)
            nr_pb_string(pb, NR_ONNX_DIM_PARAM, symbol);
        else
            nr_pb_int(pb, NR_ONNX_DIM_VALUE, dims[i]);
        nr_pb_end(pb);
    }
    nr_pb_end(pb);   /* shape */
    nr_pb_end(pb);   /* tensor_type */
    nr_pb_end(pb);   /* type */
    nr_pb_end(pb);
}

void nr_onnx_node_begin(nr_pb *pb, int field, const char *op_type, const char *name,
                        const char *const *inputs, int input_count,
                        const char *const *outputs, int output_count)
{
    nr_pb_begin(pb, field);
    for (int i = 0; i < input_count; i++)
        nr_pb_string(pb, NR_ONNX_NODE_INPUT, inputs[i] ? inputs[i] : "");
    for (int i = 0; i < output_count; i++)
        nr_pb_string(pb, NR_ONNX_NODE_OUTPUT, outputs[i]);
    nr_pb_string(pb, NR_ONNX_NODE_NAME, name);
    nr_pb_string(pb, NR_ONNX_NODE_OP_TYPE, op_type);
}

void nr_onnx_node_end(nr_pb *pb)
{
    nr_pb_end(pb);
}

/* AttributeProto: name first, the value by the caller, the type last
 * (fields in number order, as protobuf libraries write them). */
static void attr_begin(nr_pb *pb, const char *name)
{
    nr_pb_begin(pb, NR_ONNX_NODE_ATTRIBUTE);
    nr_pb_string(pb, NR_ONNX_ATTR_NAME, name);
}

static void attr_end(nr_pb *pb, int type)
{
    nr_pb_int(pb, NR_ONNX_ATTR_TYPE, type);
    nr_pb_end(pb);
}

void nr_onnx_attr_float(nr_pb *pb, const char *name, float value)
{
    attr_begin(pb, name);
    nr_pb_float(pb, NR_ONNX_ATTR_F, value);
    attr_end(pb, NR_ONNX_ATTR_TYPE_FLOAT);
}

void nr_onnx_attr_int(nr_pb *pb, const char *name, int64_t value)
{
    attr_begin(pb, name);
    nr_pb_int(pb, NR_ONNX_ATTR_I, value);
    attr_end(pb, NR_ONNX_ATTR_TYPE_INT);
}

void nr_onnx_attr_string(nr_pb *pb, const char *name, const char *value)
{
    attr_begin(pb, name);
    nr_pb_string(pb, NR_ONNX_ATTR_S, value);
    attr_end(pb, NR_ONNX_ATTR_TYPE_STRING);
}

void nr_onnx_attr_ints(nr_pb *pb, const char *name, const int64_t *values, int count)
{
    attr_begin(pb, name);
    for (int i = 0; i < count; i++)
        nr_pb_int(pb, NR_ONNX_ATTR_INTS, values[i]);
    attr_end(pb, NR_ONNX_ATTR_TYPE_INTS);
}
