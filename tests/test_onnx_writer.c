/* test_onnx_writer.c - the protobuf encoder of the ONNX subset
 * (netrun/onnx_writer.h): byte-exact encodings of small messages, worked out
 * by hand from the protobuf wire format (tag = field << 3 | wire type;
 * varints 7 bits at a time, low group first, high bit = more follows;
 * fixed32 little-endian; length-delimited = length varint + bytes), and a
 * whole tiny ONNX model. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netrun/onnx_export.h"
#include "netrun/onnx_writer.h"
#include "layers/layer.h"

/* The buffer holds exactly `expected`; on a mismatch both are printed. */
static void assert_bytes(const nr_pb *pb, const uint8_t *expected, size_t len)
{
    char got[2048] = "", want[2048] = "";
    for (size_t i = 0; i < pb->len && i < 600; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%02x ", pb->data[i]);
    for (size_t i = 0; i < len && i < 600; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%02x ", expected[i]);
    ck_assert_msg(!nr_pb_failed(pb), "writer failed");
    ck_assert_msg(pb->len == len && memcmp(pb->data, expected, len) == 0,
                  "got  %s(%zu bytes)\nwant %s(%zu bytes)", got, pb->len, want, len);
}

#define ASSERT_BYTES(pb, ...)                                                \
    do {                                                                     \
        const uint8_t expected_[] = {__VA_ARGS__};                           \
        assert_bytes((pb), expected_, sizeof expected_);                     \
    } while (0)

START_TEST(test_varints)
{
    static const struct {
        uint64_t value;
        uint8_t bytes[10];
        size_t len;
    } cases[] = {
        {0, {0x00}, 1},
        {1, {0x01}, 1},
        {127, {0x7f}, 1},
        {128, {0x80, 0x01}, 2},
        {300, {0xac, 0x02}, 2},                /* 300 = 0b10_0101100 */
        {16384, {0x80, 0x80, 0x01}, 3},
        {UINT64_C(1) << 32, {0x80, 0x80, 0x80, 0x80, 0x10}, 5},
        {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nr_pb pb = {0};
        nr_pb_varint(&pb, cases[i].value);
        assert_bytes(&pb, cases[i].bytes, cases[i].len);
        nr_pb_free(&pb);
    }
}
END_TEST

START_TEST(test_scalar_fields)
{
    nr_pb pb = {0};
    nr_pb_int(&pb, 1, 150);                /* the protobuf documentation's example */
    ASSERT_BYTES(&pb, 0x08, 0x96, 0x01);
    nr_pb_free(&pb);

    nr_pb_int(&pb, 2, -1);                 /* negative int64: ten bytes */
    ASSERT_BYTES(&pb, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    nr_pb_free(&pb);

    nr_pb_int(&pb, 20, 2);                 /* field 20: tag 160 = a0 01 */
    ASSERT_BYTES(&pb, 0xa0, 0x01, 0x02);
    nr_pb_free(&pb);

    nr_pb_string(&pb, 2, "testing");
    ASSERT_BYTES(&pb, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g');
    nr_pb_free(&pb);

    nr_pb_string(&pb, 4, "");              /* an empty string is still written */
    ASSERT_BYTES(&pb, 0x22, 0x00);
    nr_pb_free(&pb);

    nr_pb_float(&pb, 2, 1.0f);             /* 0x3f800000, little-endian */
    nr_pb_float(&pb, 2, -2.0f);            /* 0xc0000000 */
    nr_pb_float(&pb, 2, 0.1f);             /* 0x3dcccccd */
    ASSERT_BYTES(&pb, 0x15, 0x00, 0x00, 0x80, 0x3f, 0x15, 0x00, 0x00, 0x00, 0xc0, 0x15, 0xcd,
                 0xcc, 0xcc, 0x3d);
    nr_pb_free(&pb);
}
END_TEST

START_TEST(test_sub_messages)
{
    nr_pb pb = {0};
    nr_pb_begin(&pb, 3);                   /* the documentation's embedded message */
    nr_pb_int(&pb, 1, 150);
    nr_pb_end(&pb);
    ASSERT_BYTES(&pb, 0x1a, 0x03, 0x08, 0x96, 0x01);
    nr_pb_free(&pb);

    /* nested, an empty one inside, and one after */
    nr_pb_begin(&pb, 1);
    nr_pb_begin(&pb, 2);
    nr_pb_int(&pb, 1, 1);
    nr_pb_begin(&pb, 3);
    nr_pb_end(&pb);
    nr_pb_end(&pb);
    nr_pb_int(&pb, 4, 5);
    nr_pb_end(&pb);
    nr_pb_int(&pb, 2, 7);
    ASSERT_BYTES(&pb, 0x0a, 0x08, 0x12, 0x04, 0x08, 0x01, 0x1a, 0x00, 0x20, 0x05, 0x10, 0x07);
    nr_pb_free(&pb);

    /* 203 bytes of content: a two-byte length (203 = cb 01), content moved up */
    uint8_t zeros[200] = {0};
    uint8_t want[206] = {0x0a, 0xcb, 0x01, 0x12, 0xc8, 0x01};
    zeros[0] = 0x55;
    zeros[199] = 0x66;
    memcpy(want + 6, zeros, sizeof zeros);
    nr_pb_begin(&pb, 1);
    nr_pb_bytes(&pb, 2, zeros, sizeof zeros);
    nr_pb_end(&pb);
    assert_bytes(&pb, want, sizeof want);
    nr_pb_free(&pb);
}
END_TEST

START_TEST(test_misuse_fails)
{
    nr_pb pb = {0};
    nr_pb_end(&pb);                        /* end without begin */
    ck_assert(nr_pb_failed(&pb));
    nr_pb_int(&pb, 1, 1);                  /* nothing after a failure */
    ck_assert_uint_eq(pb.len, 0);
    nr_pb_free(&pb);

    nr_pb_begin(&pb, 1);                   /* begin without end */
    ck_assert(nr_pb_failed(&pb));
    nr_pb_end(&pb);
    ck_assert(!nr_pb_failed(&pb));
    nr_pb_free(&pb);

    for (int i = 0; i <= NR_PB_MAX_DEPTH; i++)
        nr_pb_begin(&pb, 1);
    ck_assert(nr_pb_failed(&pb));
    nr_pb_free(&pb);
    ck_assert_ptr_null(pb.data);
    ck_assert_uint_eq(pb.len, 0);
}
END_TEST

START_TEST(test_onnx_small_messages)
{
    nr_pb pb = {0};
    nr_onnx_opset(&pb, NR_ONNX_MODEL_OPSET_IMPORT, "", 13);   /* field 8, {version 13} */
    ASSERT_BYTES(&pb, 0x42, 0x02, 0x10, 0x0d);
    nr_pb_free(&pb);

    nr_onnx_opset(&pb, NR_ONNX_MODEL_OPSET_IMPORT, "ai", 1);
    ASSERT_BYTES(&pb, 0x42, 0x06, 0x0a, 0x02, 'a', 'i', 0x10, 0x01);
    nr_pb_free(&pb);

    nr_onnx_entry(&pb, NR_ONNX_MODEL_METADATA_PROPS, "a", "b");   /* field 14 */
    ASSERT_BYTES(&pb, 0x72, 0x06, 0x0a, 0x01, 'a', 0x12, 0x01, 'b');
    nr_pb_free(&pb);

    /* AttributeProto {name 1, i 3, type 20 = INT (2)} as node field 5 */
    nr_onnx_attr_int(&pb, "axis", 1);
    ASSERT_BYTES(&pb, 0x2a, 0x0b, 0x0a, 0x04, 'a', 'x', 'i', 's', 0x18, 0x01, 0xa0, 0x01, 0x02);
    nr_pb_free(&pb);

    /* {name, ints 8 (unpacked), type INTS (7)} */
    const int64_t strides[] = {2, 2};
    nr_onnx_attr_ints(&pb, "strides", strides, 2);
    ASSERT_BYTES(&pb, 0x2a, 0x10, 0x0a, 0x07, 's', 't', 'r', 'i', 'd', 'e', 's', 0x40, 0x02,
                 0x40, 0x02, 0xa0, 0x01, 0x07);
    nr_pb_free(&pb);

    /* {name, f 2 (fixed32), type FLOAT (1)} */
    nr_onnx_attr_float(&pb, "alpha", 0.1f);
    ASSERT_BYTES(&pb, 0x2a, 0x0f, 0x0a, 0x05, 'a', 'l', 'p', 'h', 'a', 0x15, 0xcd, 0xcc, 0xcc,
                 0x3d, 0xa0, 0x01, 0x01);
    nr_pb_free(&pb);

    nr_onnx_attr_string(&pb, "mode", "x");   /* {name, s 4, type STRING (3)} */
    ASSERT_BYTES(&pb, 0x2a, 0x0c, 0x0a, 0x04, 'm', 'o', 'd', 'e', 0x22, 0x01, 'x', 0xa0, 0x01,
                 0x03);
    nr_pb_free(&pb);

    /* TensorProto {dims 1, data_type 2 = FLOAT, name 8, raw_data 9} as initializer 5 */
    const int64_t dims[] = {2};
    const float values[] = {1.0f, -2.0f};
    nr_onnx_tensor_float(&pb, NR_ONNX_GRAPH_INITIALIZER, "w", dims, 1, values);
    ASSERT_BYTES(&pb, 0x2a, 0x11, 0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 'w', 0x4a, 0x08, 0x00,
                 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0);
    nr_pb_free(&pb);

    /* INT64 (7): raw_data of 8 bytes per value, two's complement */
    const int64_t shape[] = {-1, 300};
    nr_onnx_tensor_int64(&pb, NR_ONNX_GRAPH_INITIALIZER, "s", dims, 1, shape);
    ASSERT_BYTES(&pb, 0x2a, 0x19, 0x08, 0x02, 0x10, 0x07, 0x42, 0x01, 's', 0x4a, 0x10, 0xff,
                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2c, 0x01, 0x00, 0x00, 0x00, 0x00,
                 0x00, 0x00);
    nr_pb_free(&pb);

    /* ValueInfoProto {name 1, type 2 {tensor_type 1 {elem_type 1, shape 2 {dim 1
     * {dim_param 2 "N"}, dim {dim_value 1 3}}}}} as graph input 11 */
    const int64_t vdims[] = {-1, 3};
    nr_onnx_value_info(&pb, NR_ONNX_GRAPH_INPUT, "x", NR_ONNX_FLOAT, vdims, 2, "N");
    ASSERT_BYTES(&pb, 0x5a, 0x14, 0x0a, 0x01, 'x', 0x12, 0x0f, 0x0a, 0x0d, 0x08, 0x01, 0x12,
                 0x09, 0x0a, 0x03, 0x12, 0x01, 'N', 0x0a, 0x02, 0x08, 0x03);
    nr_pb_free(&pb);

    /* NodeProto {input 1, output 2, name 3, op_type 4}; "" for an absent input */
    const char *inputs[] = {"x", NULL};
    const char *outputs[] = {"y"};
    nr_onnx_node_begin(&pb, NR_ONNX_GRAPH_NODE, "Relu", "r", inputs, 2, outputs, 1);
    nr_onnx_node_end(&pb);
    ASSERT_BYTES(&pb, 0x0a, 0x11, 0x0a, 0x01, 'x', 0x0a, 0x00, 0x12, 0x01, 'y', 0x1a, 0x01, 'r',
                 0x22, 0x04, 'R', 'e', 'l', 'u');
    nr_pb_free(&pb);
}
END_TEST

/* ModelProto {ir_version 7, graph {node Relu(x) -> y, name "g", input x
 * [N, 3], output y [N, 3]}, opset_import {version 13}}: 72 bytes. */
START_TEST(test_tiny_model)
{
    nr_pb pb = {0};
    nr_pb_int(&pb, NR_ONNX_MODEL_IR_VERSION, 7);
    nr_pb_begin(&pb, NR_ONNX_MODEL_GRAPH);
    const char *inputs[] = {"x"};
    const char *outputs[] = {"y"};
    nr_onnx_node_begin(&pb, NR_ONNX_GRAPH_NODE, "Relu", "r", inputs, 1, outputs, 1);
    nr_onnx_node_end(&pb);
    nr_pb_string(&pb, NR_ONNX_GRAPH_NAME, "g");
    const int64_t dims[] = {-1, 3};
    nr_onnx_value_info(&pb, NR_ONNX_GRAPH_INPUT, "x", NR_ONNX_FLOAT, dims, 2, "N");
    nr_onnx_value_info(&pb, NR_ONNX_GRAPH_OUTPUT, "y", NR_ONNX_FLOAT, dims, 2, "N");
    nr_pb_end(&pb);
    nr_onnx_opset(&pb, NR_ONNX_MODEL_OPSET_IMPORT, "", 13);
    ASSERT_BYTES(&pb,
                 0x08, 0x07,                                     /* ir_version 7 */
                 0x3a, 0x40,                                     /* graph, 64 bytes */
                 0x0a, 0x0f, 0x0a, 0x01, 'x', 0x12, 0x01, 'y',   /* node */
                 0x1a, 0x01, 'r', 0x22, 0x04, 'R', 'e', 'l', 'u',
                 0x12, 0x01, 'g',                                /* name */
                 0x5a, 0x14, 0x0a, 0x01, 'x', 0x12, 0x0f, 0x0a, 0x0d, 0x08, 0x01, /* input */
                 0x12, 0x09, 0x0a, 0x03, 0x12, 0x01, 'N', 0x0a, 0x02, 0x08, 0x03,
                 0x62, 0x14, 0x0a, 0x01, 'y', 0x12, 0x0f, 0x0a, 0x0d, 0x08, 0x01, /* output */
                 0x12, 0x09, 0x0a, 0x03, 0x12, 0x01, 'N', 0x0a, 0x02, 0x08, 0x03,
                 0x42, 0x02, 0x10, 0x0d);                        /* opset 13 */
    ck_assert_uint_eq(pb.len, 72);
    nr_pb_free(&pb);
}
END_TEST

/* A large tensor: the buffer grows through many reallocations and the
 * floats come out in order, NaN and infinities bit for bit. */
START_TEST(test_large_tensor)
{
    enum { COUNT = 100000 };
    static float values[COUNT];
    for (int i = 0; i < COUNT; i++)
        values[i] = (float)i * 0.5f - 7.0f;
    values[1] = NAN;
    values[2] = -INFINITY;
    nr_pb pb = {0};
    const int64_t dims[] = {100, 1000};
    nr_onnx_tensor_float(&pb, NR_ONNX_GRAPH_INITIALIZER, "big", dims, 2, values);
    ck_assert(!nr_pb_failed(&pb));
    /* tag, length 400016 = 90 b5 18, dims 100 (08 64) and 1000 (08 e8 07), type,
     * name, raw_data tag and length 400000 = 80 b5 18 */
    const uint8_t head[] = {0x2a, 0x90, 0xb5, 0x18, 0x08, 0x64, 0x08, 0xe8, 0x07, 0x10, 0x01,
                            0x42, 0x03, 'b', 'i', 'g', 0x4a, 0x80, 0xb5, 0x18};
    ck_assert_uint_eq(pb.len, sizeof head + 4 * COUNT);
    ck_assert_mem_eq(pb.data, head, sizeof head);
    for (int i = 0; i < COUNT; i++) {
        const uint8_t *p = pb.data + sizeof head + 4 * i;
        uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                        (uint32_t)p[3] << 24, want;
        memcpy(&want, &values[i], 4);
        ck_assert_uint_eq(bits, want);
    }
    nr_pb_free(&pb);
}
END_TEST

/* Every kind in the registry can be exported: the exporter writes it or its
 * ops name an ONNX operator; a kind added without either fails here (and
 * `netrun export` would refuse its networks with an error, not write a
 * wrong model). */
START_TEST(test_every_kind_exportable)
{
    for (int kind = 0; kind < NR_LAYER_KIND_COUNT; kind++)
        ck_assert_msg(nr_onnx_kind_exportable((nr_layer_kind)kind), "%s has no ONNX form",
                      nr_layer_registry[kind]->name);
    ck_assert(!nr_onnx_kind_exportable(NR_LAYER_KIND_COUNT));
    /* an element-wise kind's attribute comes with its value */
    for (int kind = 0; kind < NR_LAYER_KIND_COUNT; kind++) {
        const nr_layer_ops *ops = nr_layer_registry[kind];
        ck_assert_msg(!ops->onnx_attr == !ops->onnx_attr_value, "%s", ops->name);
        ck_assert_msg(!ops->onnx_attr || ops->onnx_op, "%s", ops->name);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("onnx_writer");
    TCase *wire = tcase_create("wire");
    tcase_add_test(wire, test_varints);
    tcase_add_test(wire, test_scalar_fields);
    tcase_add_test(wire, test_sub_messages);
    tcase_add_test(wire, test_misuse_fails);
    suite_add_tcase(suite, wire);
    TCase *onnx = tcase_create("onnx");
    tcase_add_test(onnx, test_onnx_small_messages);
    tcase_add_test(onnx, test_tiny_model);
    tcase_add_test(onnx, test_large_tensor);
    tcase_add_test(onnx, test_every_kind_exportable);
    suite_add_tcase(suite, onnx);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? 1 : 0;
}
