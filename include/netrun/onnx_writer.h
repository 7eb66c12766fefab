/* netrun/onnx_writer.h - a write-only protobuf encoder for the subset of
 * ONNX (onnx/onnx.proto, IR version 7) that `netrun export` writes.
 *
 * Two layers:
 *   - nr_pb: the protobuf wire format into one growing byte buffer: varint
 *     (wire type 0), 64-bit (1, unused), length-delimited (2: bytes, strings,
 *     sub-messages) and fixed32 (5: floats). A sub-message is opened with
 *     nr_pb_begin(field) and closed with nr_pb_end(): its length is not
 *     known until then, so the content is written in place and moved up by
 *     the size of its length prefix when it is closed (minimal varints, the
 *     same bytes as any protobuf library writes).
 *   - nr_onnx_*: the ONNX messages built from it (ModelProto, GraphProto,
 *     NodeProto, AttributeProto, TensorProto, ValueInfoProto with TypeProto
 *     and TensorShapeProto, OperatorSetIdProto, StringStringEntryProto),
 *     with the field numbers of onnx.proto named below.
 *
 * Errors: an allocation failure (or nesting deeper than NR_PB_MAX_DEPTH, or
 * an nr_pb_end without a begin) sets `failed`; every later call does
 * nothing, and nr_pb_failed() tells at the end, so a writer checks once.
 * Repeated scalar fields (dims, ints) are written unpacked, as proto2
 * declares them; floats little-endian on any host.
 *
 * Ownership: an nr_pb owns its buffer (nr_pb_free); strings and arrays
 * passed in are only read.
 */
#ifndef NETRUN_ONNX_WRITER_H
#define NETRUN_ONNX_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { NR_PB_MAX_DEPTH = 16 };

typedef struct nr_pb {
    uint8_t *data;                   /* [len] bytes written (owned) */
    size_t len, cap;
    size_t open[NR_PB_MAX_DEPTH];    /* start of each open sub-message's content */
    int depth;
    bool failed;
} nr_pb;

/* Wire types. */
enum { NR_PB_VARINT = 0, NR_PB_FIXED64 = 1, NR_PB_LEN = 2, NR_PB_FIXED32 = 5 };

void nr_pb_free(nr_pb *pb);                /* and zeroes it (a zeroed nr_pb is empty) */
bool nr_pb_failed(const nr_pb *pb);        /* out of memory, or begin/end unbalanced */

void nr_pb_raw(nr_pb *pb, const void *bytes, size_t len);
void nr_pb_varint(nr_pb *pb, uint64_t value);            /* the value alone */
void nr_pb_tag(nr_pb *pb, int field, int wire_type);
/* int32/int64/enum/bool field: negative values as 10-byte two's complement. */
void nr_pb_int(nr_pb *pb, int field, int64_t value);
void nr_pb_float(nr_pb *pb, int field, float value);     /* fixed32 */
void nr_pb_bytes(nr_pb *pb, int field, const void *bytes, size_t len);
void nr_pb_string(nr_pb *pb, int field, const char *text);
/* A sub-message of `field`: everything written until the matching
 * nr_pb_end is its content. */
void nr_pb_begin(nr_pb *pb, int field);
void nr_pb_end(nr_pb *pb);

/* ---- ONNX field numbers (onnx.proto) ---- */
enum {
    /* ModelProto */
    NR_ONNX_MODEL_IR_VERSION = 1, NR_ONNX_MODEL_PRODUCER_NAME = 2,
    NR_ONNX_MODEL_PRODUCER_VERSION = 3, NR_ONNX_MODEL_DOMAIN = 4,
    NR_ONNX_MODEL_MODEL_VERSION = 5, NR_ONNX_MODEL_DOC_STRING = 6, NR_ONNX_MODEL_GRAPH = 7,
    NR_ONNX_MODEL_OPSET_IMPORT = 8, NR_ONNX_MODEL_METADATA_PROPS = 14,
    /* OperatorSetIdProto */
    NR_ONNX_OPSET_DOMAIN = 1, NR_ONNX_OPSET_VERSION = 2,
    /* StringStringEntryProto */
    NR_ONNX_ENTRY_KEY = 1, NR_ONNX_ENTRY_VALUE = 2,
    /* GraphProto */
    NR_ONNX_GRAPH_NODE = 1, NR_ONNX_GRAPH_NAME = 2, NR_ONNX_GRAPH_INITIALIZER = 5,
    NR_ONNX_GRAPH_DOC_STRING = 10, NR_ONNX_GRAPH_INPUT = 11, NR_ONNX_GRAPH_OUTPUT = 12,
    NR_ONNX_GRAPH_VALUE_INFO = 13,
    /* NodeProto */
    NR_ONNX_NODE_INPUT = 1, NR_ONNX_NODE_OUTPUT = 2, NR_ONNX_NODE_NAME = 3,
    NR_ONNX_NODE_OP_TYPE = 4, NR_ONNX_NODE_ATTRIBUTE = 5, NR_ONNX_NODE_DOC_STRING = 6,
    NR_ONNX_NODE_DOMAIN = 7,
    /* AttributeProto */
    NR_ONNX_ATTR_NAME = 1, NR_ONNX_ATTR_F = 2, NR_ONNX_ATTR_I = 3, NR_ONNX_ATTR_S = 4,
    NR_ONNX_ATTR_FLOATS = 7, NR_ONNX_ATTR_INTS = 8, NR_ONNX_ATTR_TYPE = 20,
    /* TensorProto */
    NR_ONNX_TENSOR_DIMS = 1, NR_ONNX_TENSOR_DATA_TYPE = 2, NR_ONNX_TENSOR_NAME = 8,
    NR_ONNX_TENSOR_RAW_DATA = 9,
    /* ValueInfoProto */
    NR_ONNX_VALUE_NAME = 1, NR_ONNX_VALUE_TYPE = 2, NR_ONNX_VALUE_DOC_STRING = 3,
    /* TypeProto / TypeProto.Tensor / TensorShapeProto / .Dimension */
    NR_ONNX_TYPE_TENSOR_TYPE = 1, NR_ONNX_TENSOR_TYPE_ELEM_TYPE = 1,
    NR_ONNX_TENSOR_TYPE_SHAPE = 2, NR_ONNX_SHAPE_DIM = 1, NR_ONNX_DIM_VALUE = 1,
    NR_ONNX_DIM_PARAM = 2,
};

/* AttributeProto.AttributeType and TensorProto.DataType values used. */
enum { NR_ONNX_ATTR_TYPE_FLOAT = 1, NR_ONNX_ATTR_TYPE_INT = 2, NR_ONNX_ATTR_TYPE_STRING = 3,
       NR_ONNX_ATTR_TYPE_INTS = 7 };
enum { NR_ONNX_FLOAT = 1, NR_ONNX_INT64 = 7 };

/* ---- ONNX messages (each a complete sub-message of `field`) ---- */

/* OperatorSetIdProto {domain (omitted when ""), version}. */
void nr_onnx_opset(nr_pb *pb, int field, const char *domain, int64_t version);
/* StringStringEntryProto {key, value}. */
void nr_onnx_entry(nr_pb *pb, int field, const char *key, const char *value);
/* TensorProto {dims, data_type FLOAT, name, raw_data (little-endian floats)}:
 * values [product of dims]. */
void nr_onnx_tensor_float(nr_pb *pb, int field, const char *name, const int64_t *dims,
                          int rank, const float *values);
/* The same for INT64 values (a Reshape's shape). */
void nr_onnx_tensor_int64(nr_pb *pb, int field, const char *name, const int64_t *dims,
                          int rank, const int64_t *values);
/* ValueInfoProto {name, type {tensor_type {elem_type, shape {dim...}}}}: a
 * dimension < 0 is symbolic, written as dim_param `symbol` ("N"). */
void nr_onnx_value_info(nr_pb *pb, int field, const char *name, int elem_type,
                        const int64_t *dims, int rank, const char *symbol);

/* NodeProto: nr_onnx_node_begin writes input (a NULL or "" entry is an
 * absent optional input, written as ""), output, name, op_type; then any
 * number of attributes; then nr_onnx_node_end. */
void nr_onnx_node_begin(nr_pb *pb, int field, const char *op_type, const char *name,
                        const char *const *inputs, int input_count,
                        const char *const *outputs, int output_count);
void nr_onnx_node_end(nr_pb *pb);
/* AttributeProto {name, f|i|s|ints, type} inside an open node. */
void nr_onnx_attr_float(nr_pb *pb, const char *name, float value);
void nr_onnx_attr_int(nr_pb *pb, const char *name, int64_t value);
void nr_onnx_attr_string(nr_pb *pb, const char *name, const char *value);
void nr_onnx_attr_ints(nr_pb *pb, const char *name, const int64_t *values, int count);

#endif
