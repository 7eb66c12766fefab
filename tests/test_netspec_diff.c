/* test_netspec_diff.c - netspec's semantic diff (ns_diff) and one-line node
 * text (ns_node_format): defaults written out compare equal, numbers by
 * value, choices by variant then parameter, layer lists by index or aligned,
 * name/description last, the exercise specs. (The run labels built on it:
 * tests/test_compare.c.) */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/netspec.h"
#include "spec_docs.h"


/* The differences as text, one "PATH: A -> B\n" line each. */
typedef struct collected {
    char text[16384];
    size_t len;
    size_t calls;
} collected;

static void collect(void *ctx, const char *path, const ns_node *a, const ns_node *b)
{
    collected *c = ctx;
    char va[2048], vb[2048];
    int n = snprintf(c->text + c->len, sizeof c->text - c->len, "%s: %s -> %s\n", path,
                     ns_node_format(a, va, sizeof va), ns_node_format(b, vb, sizeof vb));
    ck_assert(n > 0 && (size_t)n < sizeof c->text - c->len);
    c->len += (size_t)n;
    c->calls++;
}

static collected *diff_docs(const ns_doc *a, const ns_doc *b)
{
    collected *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    size_t n = ns_diff(a->root, b->root, collect, c);
    ck_assert_uint_eq(n, c->calls);
    ck_assert_uint_eq(ns_diff(a->root, b->root, NULL, NULL), n);
    return c;
}

static collected *diff_texts(const char *ta, const char *tb)
{
    ns_doc *a = resolve_text(ta), *b = resolve_text(tb);
    collected *c = diff_docs(a, b);
    ns_doc_free(a);
    ns_doc_free(b);
    return c;
}

#define SPEC_HEAD "name: s\ndata: {train: T, test: E}\n"
#define NET3 "network:\n  input: [1, 8, 8]\n  layers: [flatten, {dense: {units: 3}}, softmax]\n"

START_TEST(test_same_spec_no_differences)
{
    ns_doc *a = resolve_file("ex2_cnn.yaml"), *b = resolve_file("ex2_cnn.yaml");
    collected *c = diff_docs(a, b);
    ck_assert_uint_eq(c->calls, 0);
    ck_assert_uint_eq(ns_diff(a->root, a->root, NULL, NULL), 0);
    free(c);
    ns_doc_free(a);
    ns_doc_free(b);
}
END_TEST

START_TEST(test_defaults_written_out_are_equal)
{
    /* lr left out vs lr written at its default; momentum 0 vs 0.0; the
     * optimizer as a bare name vs the full map; 5e-2 vs 0.05 */
    collected *c = diff_texts(SPEC_HEAD NET3 "train: {optimizer: sgd}\n",
                              SPEC_HEAD NET3
                              "train:\n  optimizer: {sgd: {lr: 0.01, momentum: 0.0}}\n"
                              "  epochs: 10\n  batch_size: 64\n");
    ck_assert_msg(c->calls == 0, "unexpected: %s", c->text);
    free(c);
    c = diff_texts(SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 5e-2}}}\n",
                   SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 0.05}}}\n");
    ck_assert_msg(c->calls == 0, "unexpected: %s", c->text);
    free(c);
}
END_TEST

START_TEST(test_scalar_and_list_changes)
{
    collected *c = diff_texts(SPEC_HEAD NET3 "train: {epochs: 3, optimizer: {sgd: {lr: 0.1}}}\n",
                              SPEC_HEAD
                              "network:\n  input: [1, 8, 9]\n"
                              "  layers: [flatten, {dense: {units: 3}}, softmax]\n"
                              "train: {epochs: 4, optimizer: {sgd: {lr: 0.2}}}\n");
    ck_assert_str_eq(c->text, "network.input: [1, 8, 8] -> [1, 8, 9]\n"
                              "train.optimizer.sgd.lr: 0.1 -> 0.2\n"
                              "train.epochs: 3 -> 4\n");
    free(c);
}
END_TEST

START_TEST(test_absent_key_reported_with_null)
{
    /* network.input has no default: absent on one side */
    collected *c = diff_texts(SPEC_HEAD NET3,
                              SPEC_HEAD "network:\n  layers: [flatten, {dense: {units: 3}}, softmax]\n");
    ck_assert_str_eq(c->text, "network.input: [1, 8, 8] -> (none)\n");
    free(c);
}
END_TEST

START_TEST(test_exercise_2_vs_4_optimizer_variant)
{
    ns_doc *a = resolve_file("ex2_cnn.yaml"), *b = resolve_file("ex4_adam.yaml");
    collected *c = diff_docs(a, b);
    ck_assert_str_eq(c->text,
                     "train.optimizer: sgd{lr: 0.05, momentum: 0.0, nesterov: false, "
                     "weight_decay: 0} -> adam{lr: 0.001, beta1: 0.9, beta2: 0.999, "
                     "eps: 1.0e-8, weight_decay: 0}\n"
                     "name: ex2_cnn -> ex4_adam\n"
                     "description: Exercise 2 - three 3x3 convolutions, ReLU before max "
                     "pooling, SGD. -> Exercise 4 - the Exercise 2 network with the Adam "
                     "optimizer.\n");
    free(c);
    ns_doc_free(a);
    ns_doc_free(b);
}
END_TEST

START_TEST(test_exercise_2_vs_3a_swapped_layers)
{
    ns_doc *a = resolve_file("ex2_cnn.yaml"), *b = resolve_file("ex3a_pool_relu.yaml");
    collected *c = diff_docs(a, b);
    ck_assert_str_eq(c->text,
                     "network.layers[1]: relu -> maxpool{size: 2, stride: 2}\n"
                     "network.layers[2]: maxpool{size: 2, stride: 2} -> relu\n"
                     "network.layers[4]: relu -> maxpool{size: 2, stride: 2}\n"
                     "network.layers[5]: maxpool{size: 2, stride: 2} -> relu\n"
                     "name: ex2_cnn -> ex3a_pool_relu\n"
                     "description: Exercise 2 - three 3x3 convolutions, ReLU before max "
                     "pooling, SGD. -> Exercise 3a - max pooling before ReLU, SGD.\n");
    free(c);
    ns_doc_free(a);
    ns_doc_free(b);
}
END_TEST

START_TEST(test_layer_parameter_change)
{
    collected *c = diff_texts(
        SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers:\n"
                  "    - conv: {filters: 4, pad: 1}\n    - relu\n    - dense: {units: 3}\n",
        SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers:\n"
                  "    - conv: {filters: 8, pad: 1}\n    - tanh\n    - dense: {units: 3}\n");
    ck_assert_str_eq(c->text, "network.layers[0].conv.filters: 4 -> 8\n"
                              "network.layers[1]: relu -> tanh\n");
    free(c);
}
END_TEST

START_TEST(test_inserted_and_removed_layers_aligned)
{
    const char *a = SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers:\n"
                              "    - conv: {filters: 4}\n    - relu\n    - dense: {units: 3}\n"
                              "    - softmax\n";
    const char *b = SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers:\n"
                              "    - conv: {filters: 4}\n    - relu\n    - dropout: {rate: 0.5}\n"
                              "    - dense: {units: 3}\n    - softmax\n";
    collected *c = diff_texts(a, b);
    ck_assert_str_eq(c->text, "network.layers[2]: (none) -> dropout{rate: 0.5}\n");
    free(c);
    c = diff_texts(b, a);
    ck_assert_str_eq(c->text, "network.layers[2]: dropout{rate: 0.5} -> (none)\n");
    free(c);
    /* a change after an insertion names both indices */
    const char *d = SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers:\n"
                              "    - dropout: {rate: 0.1}\n    - conv: {filters: 4}\n"
                              "    - tanh\n    - dense: {units: 3}\n    - softmax\n";
    c = diff_texts(a, d);
    ck_assert_str_eq(c->text, "network.layers[0]: (none) -> dropout{rate: 0.1}\n"
                              "network.layers[1->2]: relu -> tanh\n");
    free(c);
}
END_TEST

START_TEST(test_nested_layer_lists)
{
    collected *c = diff_texts(
        SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers:\n"
                  "    - residual: {layers: [{conv: {filters: 1, pad: 1}}, relu]}\n"
                  "    - dense: {units: 3}\n",
        SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers:\n"
                  "    - residual: {layers: [{conv: {filters: 1, pad: 1}}, tanh],"
                  " shortcut: identity}\n"
                  "    - dense: {units: 3}\n");
    ck_assert_str_eq(c->text, "network.layers[0].residual.layers[1]: relu -> tanh\n"
                              "network.layers[0].residual.shortcut: auto -> identity\n");
    free(c);
}
END_TEST

START_TEST(test_name_and_description_last)
{
    collected *c = diff_texts("name: a\ndescription: x\nseed: 1\ndata: {train: T, test: E}\n" NET3,
                              "name: b\ndescription: y\nseed: 2\ndata: {train: T, test: F}\n" NET3);
    ck_assert_str_eq(c->text, "seed: 1 -> 2\n"
                              "data.test: /base/specs/E -> /base/specs/F\n"
                              "name: a -> b\n"
                              "description: x -> y\n");
    free(c);
}
END_TEST

START_TEST(test_schedule_variant_and_params)
{
    collected *c = diff_texts(SPEC_HEAD NET3 "train: {schedule: constant}\n",
                              SPEC_HEAD NET3 "train: {schedule: {step: {step_size: 2}}}\n");
    ck_assert_msg(strncmp(c->text, "train.schedule: constant -> step{", 33) == 0, "%s", c->text);
    ck_assert_uint_eq(c->calls, 1);
    free(c);
}
END_TEST

START_TEST(test_node_format)
{
    ns_doc *doc = resolve_text("name: s\ndescription: 'a, b: c'\ndata: {train: T, test: E}\n" NET3);
    char buf[256];
    ck_assert_str_eq(ns_node_format(NULL, buf, sizeof buf), "(none)");
    ck_assert_str_eq(ns_node_format(ns_path_get(doc->root, "network.input"), buf, sizeof buf),
                     "[1, 8, 8]");
    ck_assert_str_eq(ns_node_format(ns_path_get(doc->root, "description"), buf, sizeof buf),
                     "a, b: c");
    ck_assert_str_eq(ns_node_format(ns_path_get(doc->root, "network.layers.1"), buf, sizeof buf),
                     "dense{units: 3, bias: true, init: auto, freeze: false, fresh: false}");
    ck_assert_str_eq(ns_node_format(ns_path_get(doc->root, "train.validation"), buf, sizeof buf),
                     "{fraction: 0}");
    /* cut to the buffer with "..." */
    char small[12];
    ns_node_format(ns_path_get(doc->root, "network.layers.1"), small, sizeof small);
    ck_assert_str_eq(small, "dense{un...");
    ns_doc_free(doc);
    /* quoting: empty, "->", flow characters inside a list */
    doc = resolve_text("name: s\ndescription: ''\ndata: {train: T, test: E}\n" NET3);
    ck_assert_str_eq(ns_node_format(ns_path_get(doc->root, "description"), buf, sizeof buf),
                     "\"\"");
    ns_doc_free(doc);
    doc = resolve_text("name: s\ndescription: 'x -> y'\ndata: {train: T, test: E}\n" NET3);
    ck_assert_str_eq(ns_node_format(ns_path_get(doc->root, "description"), buf, sizeof buf),
                     "\"x -> y\"");
    ns_doc_free(doc);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("netspec_diff");
    TCase *diff = tcase_create("diff");
    tcase_add_test(diff, test_same_spec_no_differences);
    tcase_add_test(diff, test_defaults_written_out_are_equal);
    tcase_add_test(diff, test_scalar_and_list_changes);
    tcase_add_test(diff, test_absent_key_reported_with_null);
    tcase_add_test(diff, test_exercise_2_vs_4_optimizer_variant);
    tcase_add_test(diff, test_exercise_2_vs_3a_swapped_layers);
    tcase_add_test(diff, test_layer_parameter_change);
    tcase_add_test(diff, test_inserted_and_removed_layers_aligned);
    tcase_add_test(diff, test_nested_layer_lists);
    tcase_add_test(diff, test_name_and_description_last);
    tcase_add_test(diff, test_schedule_variant_and_params);
    tcase_add_test(diff, test_node_format);
    suite_add_tcase(suite, diff);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
