/* test_graph.c - shape inference and parameter counts for every layer kind,
 * repeat expansion, residual shortcuts, shape errors with positions, and
 * `init: auto` decided by each kind's ops. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer.h"
#include "netrun/graph.h"
#include "netrun/netspec.h"
#include "netrun/spec_load.h"

/* Builds a graph from "network.layers" YAML (indented under `layers:`). */
static nr_graph *build(const char *input, const char *layers, ns_doc **doc_out, nr_error *err)
{
    char text[8192];
    snprintf(text, sizeof text,
             "data: {train: /nonexistent/Train, test: /nonexistent/Test}\n"
             "network:\n  input: %s\n  layers:\n%s", input, layers);
    ns_doc *doc = NULL;
    nr_graph *graph = NULL;
    ck_assert_msg(ns_doc_parse_string(text, strlen(text), "t.yaml", "/tmp", &doc, err) == 0,
                  "%s", err->message);
    ck_assert_msg(ns_doc_resolve(doc, err) == 0, "%s", err->message);
    if (nr_graph_build(doc, &graph, err) != 0) {
        ns_doc_free(doc);
        *doc_out = NULL;
        return NULL;
    }
    *doc_out = doc;
    return graph;
}

static void assert_shape(nr_shape s, int c, int h, int w)
{
    ck_assert_msg(s.c == c && s.h == h && s.w == w, "shape %dx%dx%d, expected %dx%dx%d",
                  s.c, s.h, s.w, c, h, w);
}

START_TEST(test_ex2_spec_counts)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/ex2_cnn.yaml", getenv("NETRUN_SOURCE_DIR"));
    nr_spec spec;
    nr_error err = {0};
    ck_assert_msg(nr_spec_load(path, NULL, 0, &spec, &err) == 0, "%s", err.message);
    const nr_graph *graph = spec.graph;
    ck_assert_uint_eq(graph->count, 10);
    static const size_t params[] = {80, 0, 0, 1168, 0, 0, 4640, 0, 15690, 0};
    static const int shapes[][3] = {{8, 28, 28}, {8, 28, 28}, {8, 14, 14}, {16, 14, 14},
                                    {16, 14, 14}, {16, 7, 7}, {32, 7, 7}, {32, 7, 7},
                                    {10, 1, 1}, {10, 1, 1}};
    for (size_t i = 0; i < graph->count; i++) {
        ck_assert_uint_eq(graph->layers[i].param_count, params[i]);
        assert_shape(graph->layers[i].out, shapes[i][0], shapes[i][1], shapes[i][2]);
    }
    ck_assert_uint_eq(graph->param_count, 21578);
    /* MACs: 28*28*8*9 + 14*14*16*72 + 7*7*32*144 + 1568*10 */
    ck_assert_uint_eq(graph->macs, 56448u + 225792u + 225792u + 15680u);
    nr_spec_free(&spec);
}
END_TEST

START_TEST(test_every_kind)
{
    ns_doc *doc;
    nr_error err = {0};
    nr_graph *g = build("[3, 32, 30]",
                        "    - conv: {filters: 4, size: 5, stride: 2, pad: 2}\n" /* 4x16x15 */
                        "    - batchnorm\n"
                        "    - leaky_relu: {slope: 0.2}\n"
                        "    - maxpool: {size: 3, stride: 2}\n"                  /* 4x7x7 */
                        "    - avgpool: {size: 2, stride: 1}\n"                  /* 4x6x6 */
                        "    - sigmoid\n"
                        "    - tanh\n"
                        "    - relu\n"
                        "    - dropout: {rate: 0.25}\n"
                        "    - flatten\n"                                        /* 144 */
                        "    - dense: {units: 7, bias: false}\n"
                        "    - softmax\n",
                        &doc, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_uint_eq(g->count, 12);
    assert_shape(g->layers[0].out, 4, 16, 15);
    ck_assert_uint_eq(g->layers[0].param_count, 4 * 3 * 25 + 4);
    ck_assert_uint_eq(g->layers[0].macs, 16u * 15 * 4 * 3 * 25);
    ck_assert_uint_eq(g->layers[1].param_count, 8);
    ck_assert_float_eq(g->layers[2].config.leaky_relu.slope, 0.2f);
    assert_shape(g->layers[3].out, 4, 7, 7);
    assert_shape(g->layers[4].out, 4, 6, 6);
    for (int i = 5; i <= 8; i++)
        assert_shape(g->layers[i].out, 4, 6, 6);
    ck_assert_float_eq(g->layers[8].config.dropout.rate, 0.25f);
    assert_shape(g->layers[9].out, 144, 1, 1);
    assert_shape(g->layers[10].out, 7, 1, 1);
    ck_assert_uint_eq(g->layers[10].param_count, 144 * 7);
    assert_shape(nr_graph_output(g), 7, 1, 1);
    ck_assert_uint_eq(g->param_count, 304 + 8 + 1008);
    for (size_t i = 0; i < g->count; i++)
        ck_assert_int_eq(g->layers[i].kind,
                         nr_layer_kind_from_name(nr_layer_kind_name(g->layers[i].kind)));
    nr_graph_free(g);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_repeat_expands)
{
    ns_doc *doc;
    nr_error err = {0};
    nr_graph *g = build("[1, 8, 8]",
                        "    - repeat:\n"
                        "        times: 3\n"
                        "        layers:\n"
                        "          - conv: {filters: 2, size: 3, pad: 1}\n"
                        "          - relu\n"
                        "    - dense: {units: 3}\n",
                        &doc, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_uint_eq(g->count, 7);
    ck_assert_uint_eq(g->layers[0].param_count, 2 * 9 + 2);
    ck_assert_uint_eq(g->layers[2].param_count, 2 * 2 * 9 + 2);
    ck_assert_uint_eq(g->layers[4].param_count, 2 * 2 * 9 + 2);
    ck_assert_str_eq(g->layers[6].label, "7");
    nr_graph_free(g);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_residual_identity_and_projection)
{
    ns_doc *doc;
    nr_error err = {0};
    nr_graph *g = build("[1, 28, 28]",
                        "    - residual:\n"
                        "        layers:\n"
                        "          - conv: {filters: 8, size: 3, pad: 1}\n"
                        "          - relu\n"
                        "    - residual:\n"
                        "        layers:\n"
                        "          - conv: {filters: 8, size: 3, pad: 1}\n"
                        "          - relu\n"
                        "    - residual:\n"
                        "        projection_batchnorm: true\n"
                        "        layers:\n"
                        "          - conv: {filters: 16, size: 3, stride: 2, pad: 1}\n",
                        &doc, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_uint_eq(g->count, 3);
    /* 1 -> 8 channels: projection 1x1 conv with bias */
    ck_assert_uint_eq(g->layers[0].shortcut_count, 1);
    ck_assert_uint_eq(g->layers[0].param_count, 80 + 8 + 8);
    ck_assert_str_eq(g->layers[0].block[0].label, "1.1");
    /* same shape: identity */
    ck_assert_uint_eq(g->layers[1].shortcut_count, 0);
    ck_assert_uint_eq(g->layers[1].param_count, 8 * 72 + 8);
    /* 8x28x28 -> 16x14x14: stride-2 projection without bias + batchnorm */
    const nr_layer *r = &g->layers[2];
    assert_shape(r->out, 16, 14, 14);
    ck_assert_uint_eq(r->shortcut_count, 2);
    ck_assert_int_eq(r->shortcut[0].config.conv.stride, 2);
    ck_assert_uint_eq(r->param_count, (16 * 72 + 16) + 8 * 16 + 2 * 16);
    nr_graph_free(g);
    ns_doc_free(doc);
}
END_TEST

static void expect_error(const char *input, const char *layers, const char *where,
                         const char *words)
{
    ns_doc *doc;
    nr_error err = {0};
    nr_graph *g = build(input, layers, &doc, &err);
    ck_assert_msg(g == NULL, "expected a shape error");
    ck_assert_int_eq(err.status, 2);
    ck_assert_msg(strncmp(err.message, where, strlen(where)) == 0, "message '%s' should start with '%s'",
                  err.message, where);
    ck_assert_msg(strstr(err.message, words) != NULL, "message '%s' lacks '%s'", err.message,
                  words);
    ck_assert_msg(strchr(err.message, '\n') == NULL, "one line: %s", err.message);
}

START_TEST(test_shape_errors)
{
    /* the layer list starts on line 5 of the generated text */
    expect_error("[1, 4, 4]", "    - conv: {filters: 2, size: 3}\n    - maxpool: {size: 4}\n",
                 "t.yaml:6:", "network.layers[1] (maxpool): window 4x4 does not fit input 2x2x2");
    expect_error("[1, 2, 2]", "    - conv: {filters: 2, size: 5}\n",
                 "t.yaml:5:", "network.layers[0] (conv): kernel 5x5");
    expect_error("[1, 8, 8]", "    - conv: {filters: 2, size: 3, pad: 3}\n",
                 "t.yaml:5:", "pad 3 must be smaller than the kernel size 3");
    expect_error("[1, 8, 8]",
                 "    - residual:\n        shortcut: identity\n        layers: [{conv: {filters: 4}}]\n",
                 "t.yaml:5:", "identity shortcut needs the block to keep its input shape");
    expect_error("[1, 9, 9]",
                 "    - residual:\n        layers: [{conv: {filters: 4, size: 3}}, {maxpool: {size: 2, stride: 3}}]\n",
                 "t.yaml:5:", "strided 1x1 projection");
    expect_error("[1, 8, 8]",
                 "    - repeat:\n        times: 4\n        layers: [{maxpool: {size: 2}}]\n",
                 "t.yaml:7:", "network.layers[0].repeat.layers[0] (maxpool)");
}
END_TEST

START_TEST(test_registry_matches_language)
{
    /* every layer kind of the language is either expanded at build (repeat)
     * or has an entry in the registry, and the registry has no other names */
    size_t language_kinds = 0;
    for (const char *const *name = ns_layer_kind_names; *name; name++, language_kinds++)
        if (strcmp(*name, "repeat") != 0)
            ck_assert_msg(nr_layer_kind_from_name(*name) >= 0, "no layer '%s'", *name);
    ck_assert_uint_eq(language_kinds, NR_LAYER_KIND_COUNT + 1);
    for (int kind = 0; kind < NR_LAYER_KIND_COUNT; kind++)
        ck_assert_ptr_nonnull(nr_layer_registry[kind]);
}
END_TEST

/* The YAML of a layer of each kind, on a 2x8x8 input; kinds not listed take
 * no required parameter ("- NAME"). */
static const char *kind_yaml(const char *name, char *buf, size_t size)
{
    static const struct {
        const char *name, *yaml;
    } with_params[] = {
        {"conv", "conv: {filters: 2, size: 1}"},
        {"dense", "dense: {units: 4}"},
        {"residual", "residual: {layers: [{conv: {filters: 2, size: 1}}]}"},
    };
    for (size_t i = 0; i < sizeof with_params / sizeof with_params[0]; i++)
        if (strcmp(with_params[i].name, name) == 0)
            return with_params[i].yaml;
    snprintf(buf, size, "%s", name);
    return buf;
}

/* The init `init: auto` gave the first layer (a conv) of "conv, <layers>". */
static nr_init_kind auto_init_before(const char *layers)
{
    char text[1024];
    snprintf(text, sizeof text, "    - conv: {filters: 2, size: 1}\n%s", layers);
    ns_doc *doc;
    nr_error err = {0};
    nr_graph *g = build("[2, 8, 8]", text, &doc, &err);
    ck_assert_msg(g != NULL, "%s: %s", text, err.message);
    ck_assert_msg(g->layers[0].config.conv.init_auto, "%s", text);
    nr_init_kind init = g->layers[0].config.conv.init;
    nr_graph_free(g);
    ns_doc_free(doc);
    return init;
}

START_TEST(test_auto_init_follows_ops)
{
    /* the decisions the kinds' ops make (layer.h nr_auto_init) */
    static const struct {
        nr_layer_kind kind;
        nr_auto_init auto_init;
    } expected[] = {
        {NR_LAYER_RELU, NR_AUTO_INIT_HE},          {NR_LAYER_LEAKY_RELU, NR_AUTO_INIT_HE},
        {NR_LAYER_MAXPOOL, NR_AUTO_INIT_PASS},     {NR_LAYER_AVGPOOL, NR_AUTO_INIT_PASS},
        {NR_LAYER_FLATTEN, NR_AUTO_INIT_PASS},     {NR_LAYER_DROPOUT, NR_AUTO_INIT_PASS},
        {NR_LAYER_BATCHNORM, NR_AUTO_INIT_PASS},
    };
    for (int kind = 0; kind < NR_LAYER_KIND_COUNT; kind++) {
        nr_auto_init want = NR_AUTO_INIT_GLOROT;
        for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
            if (expected[i].kind == (nr_layer_kind)kind)
                want = expected[i].auto_init;
        ck_assert_msg(nr_layer_registry[kind]->auto_init == want, "%s: auto_init %d, expected %d",
                      nr_layer_registry[kind]->name, nr_layer_registry[kind]->auto_init, want);
    }

    /* and the graph follows the ops of every kind X: "conv, X" gives He only
     * when X says He; "conv, X, relu" when X says He or passes (softmax must
     * be last, so it has only the first form) */
    for (int kind = 0; kind < NR_LAYER_KIND_COUNT; kind++) {
        const nr_layer_ops *ops = nr_layer_registry[kind];
        char buf[64], layers[512];
        const char *x = kind_yaml(ops->name, buf, sizeof buf);
        snprintf(layers, sizeof layers, "    - %s\n", x);
        nr_init_kind want = ops->auto_init == NR_AUTO_INIT_HE ? NR_INIT_HE_NORMAL
                                                              : NR_INIT_GLOROT_UNIFORM;
        ck_assert_msg(auto_init_before(layers) == want, "conv, %s", ops->name);
        if (kind == NR_LAYER_SOFTMAX)
            continue;
        snprintf(layers, sizeof layers, "    - %s\n    - relu\n", x);
        want = ops->auto_init == NR_AUTO_INIT_GLOROT ? NR_INIT_GLOROT_UNIFORM
                                                     : NR_INIT_HE_NORMAL;
        ck_assert_msg(auto_init_before(layers) == want, "conv, %s, relu", ops->name);
    }
    /* passing layers chain; an activation stops the search */
    ck_assert_int_eq(auto_init_before("    - batchnorm\n    - maxpool\n    - dropout\n"
                                      "    - leaky_relu\n"), NR_INIT_HE_NORMAL);
    ck_assert_int_eq(auto_init_before("    - tanh\n    - relu\n"), NR_INIT_GLOROT_UNIFORM);
    /* a named init is kept */
    ns_doc *doc;
    nr_error err = {0};
    nr_graph *g = build("[2, 8, 8]", "    - conv: {filters: 2, init: glorot_normal}\n"
                                     "    - relu\n", &doc, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert(!g->layers[0].config.conv.init_auto);
    ck_assert_int_eq(g->layers[0].config.conv.init, NR_INIT_GLOROT_NORMAL);
    nr_graph_free(g);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_summary_table)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/ex2_cnn.yaml", getenv("NETRUN_SOURCE_DIR"));
    nr_spec spec;
    nr_error err = {0};
    ck_assert_msg(nr_spec_load(path, NULL, 0, &spec, &err) == 0, "%s", err.message);
    const nr_graph *graph = spec.graph;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    nr_graph_write_summary(graph, out);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, "conv 8x3x3 s1 p1"));
    ck_assert_ptr_nonnull(strstr(text, "16x7x7"));
    ck_assert_ptr_nonnull(strstr(text, "15,690"));
    ck_assert_ptr_nonnull(strstr(text, "total: 21,578 learnable parameters"));
    free(text);
    nr_spec_free(&spec);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("graph");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ex2_spec_counts);
    tcase_add_test(tc, test_every_kind);
    tcase_add_test(tc, test_repeat_expands);
    tcase_add_test(tc, test_residual_identity_and_projection);
    tcase_add_test(tc, test_shape_errors);
    tcase_add_test(tc, test_registry_matches_language);
    tcase_add_test(tc, test_auto_init_follows_ops);
    tcase_add_test(tc, test_summary_table);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
