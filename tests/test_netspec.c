/* test_netspec.c - the spec language front end (netspec): parsing with
 * positions, every class of error with its FILE:LINE:COL, schema validation,
 * defaults, normal form, --set overrides, emit round trips, idempotence,
 * accessors, and that netspec/REFERENCE.md documents every key of the schema. */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "netrun/netspec.h"
#include "spec_docs.h"
#include "schema.h"

#define NAME "specs/a.yaml"
#define DIR "/base/specs"

/* A valid minimal spec: every optional key absent. */
static const char *const MINIMAL =
    "data:\n"
    "  train: ../data/Train\n"
    "  test: ../data/Test\n"
    "network:\n"
    "  layers:\n"
    "    - flatten\n"
    "    - dense: {units: 10}\n"
    "    - softmax\n";

static ns_doc *parse_ok(const char *text)
{
    ns_doc *doc = NULL;
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_string(text, strlen(text), NAME, DIR, &doc, &err) == 0,
                  "parse failed: %s", err.message);
    return doc;
}

static ns_doc *resolve_ok(const char *text)
{
    ns_doc *doc = parse_ok(text);
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "resolve failed: %s", err.message);
    return doc;
}

/* Parses (and resolves) `len` bytes; one of them must fail with a message
 * that starts with `prefix` and contains every word of the NULL-terminated
 * list. */
static void expect_error_len(const char *text, size_t len, const char *prefix, ...)
{
    ns_doc *doc = NULL;
    nr_error err = {0};
    int rc = ns_doc_parse_string(text, len, NAME, DIR, &doc, &err);
    if (rc == 0) {
        rc = ns_doc_resolve(doc, &err);
        ns_doc_free(doc);
    }
    ck_assert_msg(rc != 0, "expected an error '%s...' for:\n%.300s", prefix, text);
    ck_assert_int_eq(err.status, 2);
    ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0,
                  "message '%s' does not start with '%s'", err.message, prefix);
    ck_assert_msg(!strchr(err.message, '\n'), "message has a newline: %s", err.message);
    va_list ap;
    va_start(ap, prefix);
    for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
        ck_assert_msg(strstr(err.message, w), "message '%s' lacks '%s'", err.message, w);
    va_end(ap);
}

#define expect_error(text, prefix, ...) \
    expect_error_len((text), strlen(text), (prefix), __VA_ARGS__, (const char *)NULL)

/* MINIMAL plus a `train:` section. */
static char *with_train(const char *train_body)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%strain:\n%s", MINIMAL, train_body);
    return buf;
}

/* A spec whose layer list is `layers` (items indented by 4). */
static char *with_layers(const char *layers)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "data: {train: a, test: b}\n"
             "network:\n"
             "  layers:\n%s", layers);
    return buf;
}

static char *emit_ok(const ns_doc *doc)
{
    char *text = NULL;
    size_t len = 0;
    nr_error err = {0};
    ck_assert_msg(ns_doc_emit(doc, &text, &len, &err) == 0, "emit: %s", err.message);
    ck_assert_uint_eq(strlen(text), len);
    return text;
}

static void set_ok(ns_doc *doc, const char *assignment)
{
    nr_error err = {0};
    ck_assert_msg(ns_doc_apply_set(doc, assignment, &err) == 0, "--set %s: %s", assignment,
                  err.message);
}

/* ------------------------------------------------------------------ */
/* valid specs                                                          */

START_TEST(test_ex2_file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/specs/ex2_cnn.yaml", source_dir());
    ns_doc *doc = NULL;
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_file(path, &doc, &err) == 0, "%s", err.message);
    ck_assert_ptr_nonnull(doc->root);
    ck_assert_int_eq(doc->root->kind, NS_MAP);
    /* every node from the file has a position */
    const ns_node *epochs = ns_path_get(doc->root, "train.epochs");
    ck_assert_ptr_nonnull(epochs);
    ck_assert_int_gt(epochs->line, 0);
    ck_assert_int_gt(epochs->col, 0);
    ck_assert_uint_eq(epochs->origin, 0);
    const ns_node *layers = ns_path_get(doc->root, "network.layers");

    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert(doc->resolved);
    const ns_node *root = doc->root;
    ck_assert_str_eq(ns_get_str(root, "name"), "ex2_cnn");
    ck_assert_int_eq(ns_get_int(root, "seed"), 1);
    ck_assert_int_eq(ns_get_int(root, "threads"), 0);
    layers = ns_path_get(root, "network.layers");
    ck_assert_uint_eq(layers->count, 10);
    ck_assert_str_eq(ns_choice_name(layers->items[0]), "conv");
    ck_assert_int_eq(ns_get_int(ns_choice_params(layers->items[0]), "filters"), 8);
    ck_assert_int_eq(ns_get_int(root, "network.layers.3.conv.filters"), 16);
    ck_assert(ns_get_bool(root, "network.layers.0.conv.bias"));
    ck_assert(ns_path_get(root, "network.layers.0.conv.bias")->is_default);
    ck_assert(!ns_path_get(root, "network.layers.0.conv.size")->is_default);
    ck_assert_str_eq(ns_choice_name(layers->items[1]), "relu");
    ck_assert_ptr_null(ns_choice_params(layers->items[1]));
    ck_assert_str_eq(ns_get_str(root, "network.layers.0.conv.init"), "auto");
    const ns_node *input = ns_path_get(root, "network.input");
    ck_assert_uint_eq(input->count, 3);
    ck_assert_int_eq(ns_int(input->items[1]), 28);
    ck_assert_str_eq(ns_choice_name(ns_path_get(root, "train.optimizer")), "sgd");
    ck_assert_double_eq_tol(ns_get_float(root, "train.optimizer.sgd.lr"), 0.05, 1e-12);
    ck_assert(!ns_get_bool(root, "train.optimizer.sgd.nesterov"));
    ck_assert(ns_path_get(root, "train.optimizer.sgd.nesterov")->is_default);
    ck_assert(ns_get_bool(root, "train.shuffle"));
    ck_assert(ns_get_bool(root, "data.cache"));

    /* ../data relative to the spec's folder, absolute and normalized */
    char *cwd = getcwd(NULL, 4096);
    ck_assert_ptr_nonnull(cwd);
    char *src = ns_path_join_normalize(cwd, source_dir());   /* tested in test_paths */
    char want[4200];
    snprintf(want, sizeof want, "%s/data/mnist/Train", strcmp(src, "/") == 0 ? "" : src);
    ck_assert_str_eq(ns_get_str(root, "data.train"), want);
    free(src);
    free(cwd);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_positions)
{
    ns_doc *doc = parse_ok("# comment\n"
                           "data:\n"
                           "  train: x   # c\n"
                           "  test: 'y'\n"
                           "network:\n"
                           "  layers:\n"
                           "    - conv: {filters: 8}\n"
                           "    - relu\n"
                           "    -   dense:\n"
                           "          units: 3\n");
    const ns_node *root = doc->root;
    const ns_node *train = ns_path_get(root, "data.train");
    ck_assert_int_eq(train->line, 3);
    ck_assert_int_eq(train->col, 10);
    ck_assert(!train->quoted);
    ck_assert(ns_path_get(root, "data.test")->quoted);
    const ns_node *layers = ns_path_get(root, "network.layers");
    ck_assert_int_eq(layers->items[0]->line, 7);
    ck_assert_int_eq(layers->items[0]->col, 7);
    ck_assert_int_eq(ns_path_get(layers->items[0], "conv")->col, 13);
    ck_assert_int_eq(ns_path_get(layers->items[0], "conv.filters")->col, 23);
    ck_assert_int_eq(layers->items[0]->items[0]->key_pos[0].col, 14);
    ck_assert_int_eq(layers->items[1]->line, 8);
    ck_assert_int_eq(layers->items[2]->col, 9);
    ck_assert_int_eq(ns_path_get(layers->items[2], "dense.units")->line, 10);
    ck_assert_int_eq(ns_path_get(layers->items[2], "dense.units")->col, 18);
    ck_assert_int_eq(root->key_pos[1].line, 5);
    ck_assert_int_eq(root->key_pos[1].col, 1);
    char where[256];
    ck_assert_str_eq(ns_node_where(doc, train, where, sizeof where), NAME ":3:10");
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_minimal_inline)
{
    ns_doc *doc = resolve_ok(MINIMAL);
    const ns_node *root = doc->root;
    ck_assert_str_eq(ns_get_str(root, "name"), "a");
    ck_assert_str_eq(ns_get_str(root, "description"), "");
    ck_assert_str_eq(ns_get_str(root, "data.train"), "/base/data/Train");
    ck_assert_str_eq(ns_get_str(root, "data.test"), "/base/data/Test");
    ck_assert_ptr_null(ns_path_get(root, "network.input"));
    ck_assert_str_eq(ns_choice_name(ns_path_get(root, "train.optimizer")), "sgd");
    ck_assert_double_eq_tol(ns_get_float(root, "train.optimizer.sgd.lr"), 0.01, 1e-15);
    ck_assert_int_eq(ns_get_int(root, "train.batch_size"), 64);
    ck_assert_int_eq(ns_get_int(root, "train.epochs"), 10);
    ck_assert_str_eq(ns_get_str(root, "train.loss"), "cross_entropy");
    /* keys in schema order */
    static const char *const top[] = { "name", "description", "seed", "threads", "backend",
                                       "data", "network", "train" };
    ck_assert_uint_eq(root->count, 8);
    for (size_t i = 0; i < 8; i++)
        ck_assert_str_eq(root->keys[i], top[i]);
    ns_doc_free(doc);
}
END_TEST

/* Checks that every NS_DEFAULT key of `keys` is present in `map` and, when
 * `fresh`, that it is marked is_default at line 0 with the schema's text. */
static void check_defaults(const ns_node *map, const ns_key *keys, bool fresh, int depth)
{
    ck_assert_int_eq(map->kind, NS_MAP);
    ck_assert_int_lt(depth, 10);
    for (const ns_key *k = keys; k->name; k++) {
        const ns_node *n = ns_map_get(map, k->name);
        if (k->need == NS_OPTIONAL)
            continue;
        ck_assert_msg(n != NULL, "key %s missing after resolve", k->name);
        if (k->need != NS_DEFAULT)
            continue;
        if (fresh) {
            ck_assert_msg(n->is_default, "%s not marked is_default", k->name);
            ck_assert_int_eq(n->line, 0);
            ck_assert_int_eq(n->col, 0);
            if (k->type != NS_T_MAP && k->type != NS_T_CHOICE)
                ck_assert_str_eq(n->scalar, k->def);
        }
        if (k->type == NS_T_MAP)
            check_defaults(n, k->keys, fresh, depth + 1);
        if (k->type == NS_T_CHOICE) {
            ck_assert_str_eq(ns_choice_name(n), k->def);
            const ns_variant *v = ns_schema_variant(k->variants, k->def);
            ck_assert_ptr_nonnull(v);
            if (v->params)
                check_defaults(ns_choice_params(n), v->params, fresh, depth + 1);
        }
    }
}

START_TEST(test_every_default_filled)
{
    /* top level, data, train, optimizer */
    ns_doc *doc = resolve_ok(MINIMAL);
    ns_node *root = doc->root;
    for (const ns_key *k = ns_schema_root.keys; k->name; k++) {
        if (k->need != NS_DEFAULT)
            continue;
        const ns_node *n = ns_map_get(root, k->name);
        ck_assert_msg(n && n->is_default && n->line == 0, "%s", k->name);
    }
    check_defaults(root, ns_schema_root.keys, false, 0);
    check_defaults(ns_map_get(root, "train"), ns_schema_key(ns_schema_root.keys, "train")->keys,
                   true, 0);
    ck_assert(ns_path_get(root, "data.cache")->is_default);
    ck_assert(ns_path_get(root, "name")->is_default);
    ns_doc_free(doc);

    /* every optimizer, written as a bare name */
    const ns_key *opt = ns_schema_key(ns_schema_key(ns_schema_root.keys, "train")->keys,
                                      "optimizer");
    for (const ns_variant *v = opt->variants; v->name; v++) {
        char body[256];
        snprintf(body, sizeof body, "  optimizer: %s\n", v->name);
        doc = resolve_ok(with_train(body));
        const ns_node *o = ns_path_get(doc->root, "train.optimizer");
        ck_assert_str_eq(ns_choice_name(o), v->name);
        check_defaults(ns_choice_params(o), v->params, true, 0);
        ns_doc_free(doc);
    }

    /* every layer kind with only its required parameters */
    for (const ns_variant *v = ns_layer_variants; v->name; v++) {
        char item[256];
        if (!v->params)
            snprintf(item, sizeof item, "    - %s\n", v->name);
        else if (strcmp(v->name, "conv") == 0)
            snprintf(item, sizeof item, "    - conv: {filters: 4}\n");
        else if (strcmp(v->name, "dense") == 0)
            snprintf(item, sizeof item, "    - dense: {units: 4}\n");
        else if (strcmp(v->name, "residual") == 0)
            snprintf(item, sizeof item, "    - residual: {layers: [relu]}\n");
        else if (strcmp(v->name, "repeat") == 0)
            snprintf(item, sizeof item, "    - repeat: {times: 2, layers: [relu]}\n");
        else
            snprintf(item, sizeof item, "    - %s\n", v->name);
        doc = resolve_ok(with_layers(item));
        const ns_node *layer = ns_path_get(doc->root, "network.layers.0");
        ck_assert_str_eq(ns_choice_name(layer), v->name);
        if (!v->params) {
            ck_assert_int_eq(layer->kind, NS_SCALAR);
        } else {
            const ns_node *params = ns_choice_params(layer);
            ck_assert_ptr_nonnull(params);
            /* every parameter present, in schema order; defaults marked */
            size_t i = 0;
            for (const ns_key *k = v->params; k->name; k++, i++) {
                ck_assert_uint_lt(i, params->count);
                ck_assert_str_eq(params->keys[i], k->name);
                if (k->need == NS_DEFAULT) {
                    ck_assert_msg(params->items[i]->is_default, "%s.%s", v->name, k->name);
                    ck_assert_str_eq(params->items[i]->scalar, k->def);
                }
            }
            ck_assert_uint_eq(params->count, i);
        }
        ns_doc_free(doc);
    }
}
END_TEST

START_TEST(test_name_default)
{
    ns_doc *doc = NULL;
    nr_error err = {0};
    struct { const char *name; const char *want; } cases[] = {
        { "specs/my_net.yml", "my_net" },
        { "/x/y/ex5.v2.yaml", "ex5.v2" },
        { "plain", "plain" },
        { NULL, "spec" },
        { "my net.yaml", "spec" },
        { "specs/..yaml", "spec" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(ns_doc_parse_string(MINIMAL, strlen(MINIMAL), cases[i].name, "/d", &doc,
                                             &err), 0);
        ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
        ck_assert_str_eq(ns_get_str(doc->root, "name"), cases[i].want);
        ns_doc_free(doc);
    }
    /* given names are kept; invalid ones are errors */
    char text[512];
    snprintf(text, sizeof text, "name: run-1.b_2\n%s", MINIMAL);
    doc = resolve_ok(text);
    ck_assert_str_eq(ns_get_str(doc->root, "name"), "run-1.b_2");
    ns_doc_free(doc);
    snprintf(text, sizeof text, "name: my net\n%s", MINIMAL);
    expect_error(text, NAME ":1:7: error: name: expected a name of 1 to 64 characters",
                 "got 'my net'");
    snprintf(text, sizeof text, "name: '..'\n%s", MINIMAL);
    expect_error(text, NAME ":1:7: error: name:", "'..'");
}
END_TEST

START_TEST(test_empty_values)
{
    /* "train:" with nothing = all defaults; "- relu:" = "- relu";
     * "- conv:" has no parameters (so it misses filters) */
    char text[1024];
    snprintf(text, sizeof text, "%strain:\n", MINIMAL);
    ns_doc *doc = resolve_ok(text);
    ck_assert_int_eq(ns_get_int(doc->root, "train.epochs"), 10);
    ck_assert_int_eq(ns_path_get(doc->root, "train")->kind, NS_MAP);
    ns_doc_free(doc);
    doc = resolve_ok(with_layers("    - sigmoid:\n    - dense: {units: 2}\n"));
    ck_assert_int_eq(ns_path_get(doc->root, "network.layers.0")->kind, NS_SCALAR);
    ck_assert_str_eq(ns_get_str(doc->root, "network.layers.0"), "sigmoid");
    ns_doc_free(doc);
    expect_error(with_layers("    - conv:\n"),
                 NAME ":4:7: error: network.layers[0].conv: missing required key 'filters'", NULL);
    /* a --set with an empty value */
    doc = parse_ok(MINIMAL);
    set_ok(doc, "description=");
    set_ok(doc, "train=");
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(ns_get_str(doc->root, "description"), "");
    ns_doc_free(doc);
    /* an optional key without a default, empty: left out (so a --set
     * undoes the file's) */
    snprintf(text, sizeof text, "%strain: {init_from: ../runs/a-1}\n", MINIMAL);
    doc = resolve_ok(text);
    ck_assert_str_eq(ns_get_str(doc->root, "train.init_from"), "/base/runs/a-1");
    ns_doc_free(doc);
    doc = parse_ok(text);
    set_ok(doc, "train.init_from=");
    set_ok(doc, "network.input=");
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert_ptr_null(ns_path_get(doc->root, "train.init_from"));
    ck_assert_ptr_null(ns_path_get(doc->root, "network.input"));
    ck_assert_int_eq(ns_get_int(doc->root, "train.epochs"), 10);
    ns_doc_free(doc);
    /* quoted, it is a value: an empty path */
    snprintf(text, sizeof text, "%strain: {init_from: ''}\n", MINIMAL);
    doc = parse_ok(text);
    ck_assert_int_eq(ns_doc_resolve(doc, &err), -1);
    ck_assert_msg(strstr(err.message, "train.init_from: expected a path"), "%s", err.message);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_numbers_accepted)
{
    ns_doc *doc = resolve_ok(with_train("  optimizer: {adam: {lr: 5e-2, eps: 1E-7, beta1: .5}}\n"
                                        "  epochs: +7\n"));
    ck_assert_double_eq_tol(ns_get_float(doc->root, "train.optimizer.adam.lr"), 0.05, 1e-15);
    ck_assert_str_eq(ns_path_get(doc->root, "train.optimizer.adam.lr")->scalar, "5e-2");
    ck_assert_double_eq_tol(ns_get_float(doc->root, "train.optimizer.adam.beta1"), 0.5, 1e-15);
    ck_assert_int_eq(ns_get_int(doc->root, "train.epochs"), 7);
    ns_doc_free(doc);
    /* int accepted where a float is expected; range ends */
    doc = resolve_ok(with_train("  optimizer: {sgd: {lr: 10, momentum: 0, weight_decay: 1}}\n"));
    ck_assert_double_eq(ns_get_float(doc->root, "train.optimizer.sgd.lr"), 10.0);
    ns_doc_free(doc);
    char text[512];
    snprintf(text, sizeof text, "seed: 4294967295\n%s", MINIMAL);
    doc = resolve_ok(text);
    ck_assert_int_eq(ns_get_int(doc->root, "seed"), 4294967295L);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_nested_layers)
{
    ns_doc *doc = resolve_ok(with_layers(
        "    - conv: {filters: 4, pad: 1}\n"
        "    - residual:\n"
        "        layers:\n"
        "          - conv: {filters: 4, pad: 1}\n"
        "          - batchnorm\n"
        "          - relu: {}\n"
        "        shortcut: identity\n"
        "    - repeat:\n"
        "        times: 2\n"
        "        layers: [dropout, {leaky_relu: {slope: 0.2}}]\n"
        "    - avgpool\n"));
    const ns_node *root = doc->root;
    ck_assert_str_eq(ns_get_str(root, "network.layers.1.residual.shortcut"), "identity");
    ck_assert(!ns_get_bool(root, "network.layers.1.residual.projection_batchnorm"));
    const ns_node *inner = ns_path_get(root, "network.layers.1.residual.layers");
    ck_assert_uint_eq(inner->count, 3);
    ck_assert_double_eq_tol(ns_get_float(inner->items[1], "batchnorm.eps"), 1e-5, 1e-20);
    ck_assert_int_eq(inner->items[2]->kind, NS_SCALAR);   /* relu: {} -> relu */
    ck_assert_str_eq(inner->items[2]->scalar, "relu");
    ck_assert_int_eq(inner->items[2]->line, 9);
    ck_assert_int_eq(ns_get_int(root, "network.layers.2.repeat.times"), 2);
    ck_assert_double_eq_tol(ns_get_float(root, "network.layers.2.repeat.layers.0.dropout.rate"),
                            0.5, 1e-15);
    ck_assert_double_eq_tol(
        ns_get_float(root, "network.layers.2.repeat.layers.1.leaky_relu.slope"), 0.2, 1e-15);
    ck_assert_int_eq(ns_get_int(root, "network.layers.3.avgpool.size"), 2);
    ns_doc_free(doc);

    expect_error(with_layers("    - residual:\n"
                             "        layers:\n"
                             "          - relu\n"
                             "          - maxpol\n"),
                 NAME ":7:13: error: network.layers[0].residual.layers[1]: unknown layer 'maxpol'",
                 "did you mean 'maxpool'?");
    expect_error(with_layers("    - repeat: {layers: [relu]}\n"),
                 NAME ":4:7: error: network.layers[0].repeat: missing required key 'times'",
                 "integer from 1 to 1000");
}
END_TEST

/* ------------------------------------------------------------------ */
/* parse errors                                                         */

START_TEST(test_error_tab)
{
    expect_error("data:\n\ttrain: a\n", NAME ":2:1: error: tab character", "spaces");
    expect_error("name: a\t# c\n", NAME ":1:8: error: tab", NULL);
}
END_TEST

START_TEST(test_error_alias_anchor)
{
    expect_error("a: &x [1, 2]\nb: *x\n", NAME ":1:4: error: anchors and aliases are not supported",
                 NULL);
    /* an alias bomb is refused at its first anchor, long before expanding */
    expect_error("a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\n",
                 NAME ":1:4: error: anchors and aliases are not supported", NULL);
    expect_error("a: *x\n", NAME ":1:4: error: anchors and aliases are not supported", NULL);
    expect_error("a: !!str 1\n", NAME ":1:4: error: YAML tags are not supported", NULL);
}
END_TEST

START_TEST(test_error_syntax)
{
    expect_error("data: {train: a\nnetwork: 1\n", NAME ":2:8: error: invalid YAML:", NULL);
    expect_error("a: b: c\n", NAME ":1:5: error: invalid YAML: mapping values are not allowed",
                 NULL);
    expect_error("a: [1, 2\n", NAME ":2:1: error: invalid YAML:", "flow sequence", NULL);
    expect_error("a: 1\n---\nb: 2\n", NAME ":2:1: error: a spec is one YAML document", NULL);
}
END_TEST

START_TEST(test_error_empty_and_not_map)
{
    const char *empty_msg = "empty spec; expected a map with keys name, data, network, train";
    expect_error("", NAME ":1:1: error: ", empty_msg);
    expect_error("# only a comment\n\n", NAME ":1:1: error: ", empty_msg);
    expect_error("---\n", NAME ":1:1: error: ", empty_msg);
    expect_error("- a\n- b\n", NAME ":1:1: error: the top level must be a map", "got a list");
    expect_error("\nhello\n", NAME ":2:1: error: the top level must be a map", "'hello'");
}
END_TEST

START_TEST(test_error_duplicate_key)
{
    expect_error("name: a\ndata: {}\nname: b\n",
                 NAME ":3:1: error: duplicate key 'name' at the top level (first defined at line 1)",
                 NULL);
    expect_error(with_train("  epochs: 3\n  shuffle: true\n  epochs: 4\n"),
                 NAME ":12:3: error: duplicate key 'epochs' in train (first defined at line 10)",
                 NULL);
    expect_error(with_layers("    - conv: {filters: 1, filters: 2}\n"),
                 NAME ":4:26: error: duplicate key 'filters' in network.layers[0].conv", NULL);
}
END_TEST

START_TEST(test_error_complex_key)
{
    expect_error("? [a, b]\n: 1\n", NAME ":1:3: error: a map key must be a plain string", NULL);
    expect_error("{[a]: 1}\n", NAME ":1:2: error: a map key must be a plain string", NULL);
}
END_TEST

START_TEST(test_error_deep_nesting)
{
    char text[1024];
    size_t o = 0;
    o += (size_t)snprintf(text + o, sizeof text - o, "a: ");
    for (int i = 0; i < 100; i++)
        text[o++] = '[';
    for (int i = 0; i < 100; i++)
        text[o++] = ']';
    text[o++] = '\n';
    text[o] = '\0';
    /* the root map is level 1, so the 64th '[' (column 67) is level 65 */
    expect_error(text, NAME ":1:67: error: maps and lists nested deeper than 64 levels", NULL);

    /* 63 nested lists under the root map are fine for the parser */
    o = 0;
    o += (size_t)snprintf(text + o, sizeof text - o, "a: ");
    for (int i = 0; i < 63; i++)
        text[o++] = '[';
    for (int i = 0; i < 63; i++)
        text[o++] = ']';
    text[o] = '\0';
    ns_doc *doc = parse_ok(text);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_error_binary_and_utf8)
{
    static const char garbage[] = "\x7f" "ELF\x02\x01\x01\0\0\0";
    expect_error_len(garbage, sizeof garbage - 1, NAME ":1:1: error: control character 0x7F",
                     "UTF-8", (const char *)NULL);
    static const char nul[] = "name: a\0b\n";
    expect_error_len(nul, sizeof nul - 1, NAME ":1:8: error: control character 0x00",
                     (const char *)NULL);
    expect_error("name: caf\xc3\xa9\ndescription: \xff\n",
                 NAME ":2:14: error: invalid UTF-8 byte 0xFF", NULL);
    /* overlong encoding of '/' and a truncated sequence */
    expect_error("name: \xc0\xaf\n", NAME ":1:7: error: invalid UTF-8", NULL);
    expect_error("name: \xe2\x82", NAME ":1:7: error: invalid UTF-8", NULL);
    /* UTF-16 (with BOM) is not UTF-8 */
    static const char u16[] = "\xff\xfen\0a\0";
    expect_error_len(u16, sizeof u16 - 1, NAME ":1:1: error: invalid UTF-8", (const char *)NULL);
    /* columns count characters: the error after "café: " is column 7 */
    expect_error("caf\xc3\xa9: \x01\n", NAME ":1:7: error: control character", NULL);
    /* valid UTF-8 elsewhere is fine */
    char text[512];
    snprintf(text, sizeof text, "description: \"caf\xc3\xa9 \xe2\x9c\x93\"\n%s", MINIMAL);
    ns_doc *doc = resolve_ok(text);
    ck_assert_str_eq(ns_get_str(doc->root, "description"), "caf\xc3\xa9 \xe2\x9c\x93");
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_error_sizes)
{
    /* a file over 1 MiB */
    size_t big = 1024 * 1024 + 1;
    char *text = malloc(big + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, '#', big);
    text[big] = '\0';
    expect_error_len(text, big, NAME ": error: spec is larger than 1 MiB", (const char *)NULL);
    /* a scalar over 64 KiB */
    size_t n = 0;
    n += (size_t)sprintf(text, "description: ");
    memset(text + n, 'x', 64 * 1024 + 1);
    n += 64 * 1024 + 1;
    text[n++] = '\n';
    text[n] = '\0';
    expect_error(text, NAME ":1:14: error: value of 65537 bytes is longer than the limit", NULL);
    /* exactly 64 KiB is fine */
    n = (size_t)sprintf(text, "description: ");
    memset(text + n, 'x', 64 * 1024);
    n += 64 * 1024;
    snprintf(text + n, big - n, "\n%s", MINIMAL);
    ns_doc *doc = resolve_ok(text);
    ck_assert_uint_eq(strlen(ns_get_str(doc->root, "description")), 64 * 1024);
    ns_doc_free(doc);
    free(text);
}
END_TEST

START_TEST(test_error_file)
{
    ns_doc *doc = NULL;
    nr_error err = {0};
    ck_assert_int_eq(ns_doc_parse_file("/nonexistent/dir/x.yaml", &doc, &err), -1);
    ck_assert_ptr_null(doc);
    ck_assert_int_eq(err.status, 2);
    ck_assert_str_eq(err.message,
                     "/nonexistent/dir/x.yaml: error: cannot read spec: No such file or directory");
    ck_assert_int_eq(ns_doc_parse_file("/", &doc, &err), -1);
    ck_assert_int_eq(err.status, 2);
    ck_assert_msg(strstr(err.message, "/: error: cannot read spec: "), "%s", err.message);

    /* a file with an error reports its path as given */
    char path[] = "/tmp/netspec_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *bad = "name: x\nseed: -1\n";
    ck_assert_int_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    ck_assert_int_eq(ns_doc_parse_file(path, &doc, &err), 0);
    ck_assert_str_eq(doc->path, path);
    ck_assert_str_eq(doc->dir, "/tmp");
    ck_assert_int_eq(ns_doc_resolve(doc, &err), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:2:7: error: seed: expected an integer from 0 to 4294967295",
             path);
    ck_assert_msg(strncmp(err.message, want, strlen(want)) == 0, "%s", err.message);
    ns_doc_free(doc);
    unlink(path);
}
END_TEST

/* ------------------------------------------------------------------ */
/* schema errors                                                        */

START_TEST(test_error_unknown_keys)
{
    char text[1024];
    snprintf(text, sizeof text, "%snme: x\n", MINIMAL);
    expect_error(text, NAME ":9:1: error: unknown key 'nme' at the top level (did you mean 'name'?)",
                 "valid keys: name, description, seed, threads, backend, data, network, train");
    expect_error("data:\n  train: a\n  test: b\n  cahce: false\nnetwork: {layers: [relu]}\n",
                 NAME ":4:3: error: unknown key 'cahce' in data (did you mean 'cache'?)",
                 "valid keys: train, test, test_fraction, cache, size");
    expect_error(with_train("  loss: mse\n  epoch: 3\n"),
                 NAME ":11:3: error: unknown key 'epoch' in train (did you mean 'epochs'?); valid "
                      "keys: loss, optimizer, batch_size, epochs, shuffle", NULL);
    expect_error(with_train("  batch: 3\n"),
                 NAME ":10:3: error: unknown key 'batch' in train (did you mean 'batch_size'?)",
                 NULL);
    expect_error(with_train("  optimizer:\n    sgd:\n      lr: 0.1\n      momentun: 0.9\n"),
                 NAME ":13:7: error: unknown key 'momentun' in train.optimizer.sgd (did you mean "
                      "'momentum'?); valid keys: lr, momentum, nesterov, weight_decay", NULL);
    expect_error(with_layers("    - conv: {filter: 8}\n"),
                 NAME ":4:14: error: unknown key 'filter' in network.layers[0].conv (did you mean "
                      "'filters'?); valid keys: filters, size, stride, pad, bias, init", NULL);
    /* far from everything: no suggestion */
    expect_error(with_train("  zzzzzzzz: 1\n"), NAME ":10:3: error: unknown key 'zzzzzzzz' in train;",
                 "valid keys:");
    expect_error(with_layers("    - relu: {x: 1}\n"),
                 NAME ":4:14: error: unknown key 'x' in network.layers[0].relu; relu takes no "
                      "parameters", NULL);
}
END_TEST

START_TEST(test_error_types_ranges)
{
    expect_error(with_train("  epochs: ten\n"),
                 NAME ":10:11: error: train.epochs: expected an integer from 1 to 100000, got 'ten'",
                 NULL);
    expect_error(with_train("  epochs: 3x\n"), NAME ":10:11: error: train.epochs: expected an "
                 "integer from 1 to 100000, got '3x'", NULL);
    expect_error(with_train("  epochs: 3.0\n"), NAME ":10:11: error: train.epochs:", "'3.0'");
    expect_error(with_train("  epochs: 1e3\n"), NAME ":10:11: error: train.epochs:", "'1e3'");
    expect_error(with_train("  epochs: 0x10\n"), NAME ":10:11: error: train.epochs:", "'0x10'");
    expect_error(with_train("  epochs: 0\n"), NAME ":10:11: error: train.epochs:", "got '0'");
    expect_error(with_train("  epochs: 99999999999999999999999\n"), NAME ":10:11: error: "
                 "train.epochs: expected an integer", NULL);
    expect_error(with_train("  epochs: \"10\"\n"), NAME ":10:11: error: train.epochs:",
                 "quoted string '10'");
    expect_error(with_train("  epochs: [1]\n"), NAME ":10:11: error: train.epochs:", "got a list");
    expect_error(with_train("  epochs:\n"), NAME ":10:10: error: train.epochs:",
                 "got an empty value");
    char text[512];
    snprintf(text, sizeof text, "seed: 4294967296\n%s", MINIMAL);
    expect_error(text, NAME ":1:7: error: seed: expected an integer from 0 to 4294967295", NULL);
    expect_error(with_layers("    - conv: {filters: 8, size: -3}\n"),
                 NAME ":4:32: error: network.layers[0].conv.size: expected an integer from 1 to "
                      "64, got '-3'", NULL);
    expect_error(with_train("  optimizer: {sgd: {lr: 0}}\n"),
                 NAME ":10:25: error: train.optimizer.sgd.lr: expected a number > 0 and <= 10, got "
                      "'0'", NULL);
    expect_error(with_train("  optimizer: {adam: {beta1: 1.0}}\n"),
                 NAME ":10:29: error: train.optimizer.adam.beta1: expected a number >= 0 and < 1",
                 NULL);
    expect_error(with_layers("    - dropout: {rate: 1}\n"),
                 NAME ":4:23: error: network.layers[0].dropout.rate: expected a number >= 0 and < 1",
                 NULL);
    expect_error(with_layers("    - leaky_relu: {slope: 1.5}\n"),
                 NAME ":4:27: error: network.layers[0].leaky_relu.slope: expected a number from 0 "
                      "to 1, got '1.5'", NULL);
    expect_error(with_train("  optimizer: {sgd: {lr: .inf}}\n"), NAME ":10:25: error:", "'.inf'");
    expect_error(with_train("  optimizer: {sgd: {lr: nan}}\n"), NAME ":10:25: error:", "'nan'");
    expect_error(with_train("  optimizer: {sgd: {lr: 1e999}}\n"), NAME ":10:25: error:",
                 "'1e999'");
    expect_error(with_train("  optimizer: {sgd: {lr: 0x1p-3}}\n"), NAME ":10:25: error:", NULL);
    expect_error(with_train("  shuffle: yes\n"),
                 NAME ":10:12: error: train.shuffle: expected true or false, got 'yes'", "yes/no");
    expect_error(with_train("  shuffle: True\n"), NAME ":10:12: error: train.shuffle:", NULL);
    expect_error(with_train("  shuffle: 1\n"), NAME ":10:12: error: train.shuffle:", NULL);
    expect_error(with_train("  loss: mae\n"),
                 NAME ":10:9: error: train.loss: expected one of: cross_entropy, mse; got 'mae'",
                 NULL);
    expect_error(with_layers("    - conv: {filters: 8, init: he}\n"),
                 NAME ":4:32: error: network.layers[0].conv.init: expected one of: auto, "
                      "he_normal, he_uniform, glorot_normal, glorot_uniform; got 'he'", NULL);
    expect_error("data: {train: a, test: b}\nnetwork:\n  input: [1, 28]\n  layers: [relu]\n",
                 NAME ":3:10: error: network.input: expected a list of 3 integers from 1 to 65536",
                 "got a list of 2");
    expect_error("data: {train: a, test: b}\nnetwork:\n  input: [1, 0, 28]\n  layers: [relu]\n",
                 NAME ":3:14: error: network.input[1]: expected an integer from 1 to 65536, got '0'",
                 NULL);
    expect_error("data: {train: a, test: b}\nnetwork:\n  layers: []\n",
                 NAME ":3:11: error: network.layers: expected a list of 1 to 1000 layers", NULL);
    expect_error("data: {train: a, test: b}\nnetwork:\n  layers: relu\n",
                 NAME ":3:11: error: network.layers: expected a list of 1 to 1000 layers",
                 "got 'relu'");
    expect_error("data: {train: '', test: b}\nnetwork: {layers: [relu]}\n",
                 NAME ":1:15: error: data.train: expected a path", NULL);
    expect_error("data: 3\nnetwork: {layers: [relu]}\n",
                 NAME ":1:7: error: data: expected a map with keys train, test, test_fraction, cache, size, fit, channels, alpha, normalize, mean, std, got '3'",
                 NULL);
    expect_error(with_train("  optimizer: [sgd]\n"),
                 NAME ":10:14: error: train.optimizer: expected one optimizer", "got a list");
}
END_TEST

START_TEST(test_error_choices)
{
    expect_error(with_layers("    - relu\n    - maxpol\n"),
                 NAME ":5:7: error: network.layers[1]: unknown layer 'maxpol' (did you mean "
                      "'maxpool'?); valid layers: conv, maxpool, avgpool, dense, flatten, relu, "
                      "sigmoid, tanh, softmax, leaky_relu, dropout, batchnorm, residual, repeat",
                 NULL);
    expect_error(with_layers("    - {maxpol: {size: 2}}\n"),
                 NAME ":4:8: error: network.layers[0]: unknown layer 'maxpol'", NULL);
    expect_error(with_train("  optimizer: adm\n"),
                 NAME ":10:14: error: train.optimizer: unknown optimizer 'adm' (did you mean "
                      "'adam'?); valid optimizers: sgd, adam, adamw", NULL);
    expect_error(with_layers("    - conv\n"),
                 NAME ":4:7: error: network.layers[0].conv: missing required key 'filters' "
                      "(integer from 1 to 65536)", NULL);
    expect_error(with_layers("    - relu\n    - conv: {size: 3}\n"),
                 NAME ":5:7: error: network.layers[1].conv: missing required key 'filters'", NULL);
    expect_error(with_layers("    - dense:\n"),
                 NAME ":4:7: error: network.layers[0].dense: missing required key 'units'", NULL);
    expect_error(with_layers("    - conv:\n      filters: 8\n"),
                 NAME ":4:7: error: network.layers[0]: expected one layer",
                 "a map with 2 keys", "indented under 'conv'");
    expect_error(with_layers("    - conv: 8\n"),
                 NAME ":4:13: error: network.layers[0].conv: expected a map of parameters", NULL);
    expect_error(with_layers("    - relu: 1\n"),
                 NAME ":4:13: error: network.layers[0].relu: relu takes no parameters", NULL);
    expect_error(with_layers("    - [relu]\n"),
                 NAME ":4:7: error: network.layers[0]: expected one layer", "got a list");
}
END_TEST

START_TEST(test_error_missing_required)
{
    expect_error("network: {layers: [relu]}\n",
                 NAME ":1:1: error: missing required key 'data' (map with keys train, test, test_fraction, cache, size, fit, channels, alpha, normalize, mean, std)",
                 NULL);
    expect_error("data: {train: a, test: b}\n", NAME ":1:1: error: missing required key 'network'",
                 NULL);
    expect_error("network: {layers: [relu]}\ndata:\n  test: a\n",
                 NAME ":2:1: error: data: missing required key 'train' (path)", NULL);
    expect_error("data: {train: a, test: b}\nnetwork:\n  input: [1, 2, 3]\n",
                 NAME ":2:1: error: network: missing required key 'layers' (list of 1 to 1000 "
                      "layers)", NULL);
    expect_error("data: {train: a, test: b}\nnetwork:\n",
                 NAME ":2:1: error: network: missing required key 'layers'", NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* paths                                                                */

START_TEST(test_paths)
{
    ns_doc *doc = resolve_ok(
        "data:\n  train: ./x/./y/../Train/\n  test: /abs//path/../Test\n"
        "network: {layers: [relu]}\n");
    ck_assert_str_eq(ns_get_str(doc->root, "data.train"), "/base/specs/x/Train");
    ck_assert_str_eq(ns_get_str(doc->root, "data.test"), "/abs/Test");
    ns_doc_free(doc);

    doc = resolve_ok("data: {train: ../../../../up, test: '1'}\nnetwork: {layers: [relu]}\n");
    ck_assert_str_eq(ns_get_str(doc->root, "data.train"), "/up");
    ck_assert_str_eq(ns_get_str(doc->root, "data.test"), "/base/specs/1");
    ns_doc_free(doc);

    /* in-memory text without a dir: relative to the current directory */
    ns_doc *d2 = NULL;
    nr_error err = {0};
    const char *text = "data: {train: t, test: s}\nnetwork: {layers: [relu]}\n";
    ck_assert_int_eq(ns_doc_parse_string(text, strlen(text), NULL, NULL, &d2, &err), 0);
    ck_assert_int_eq(ns_doc_resolve(d2, &err), 0);
    char *cwd = getcwd(NULL, 4096);
    char want[4200];
    snprintf(want, sizeof want, "%s/t", strcmp(cwd, "/") == 0 ? "" : cwd);
    ck_assert_str_eq(ns_get_str(d2->root, "data.train"), want);
    ck_assert_str_eq(ns_get_str(d2->root, "name"), "spec");
    free(cwd);
    ns_doc_free(d2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* --set                                                                */

START_TEST(test_set_scalar_and_list)
{
    ns_doc *doc = parse_ok(MINIMAL);
    set_ok(doc, "train.epochs=3");
    set_ok(doc, "network.input=[1,28,28]");
    set_ok(doc, "description='true'");
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert_int_eq(ns_get_int(doc->root, "train.epochs"), 3);
    const ns_node *input = ns_path_get(doc->root, "network.input");
    ck_assert_uint_eq(input->count, 3);
    ck_assert_int_eq(ns_int(input->items[2]), 28);
    ck_assert_str_eq(ns_get_str(doc->root, "description"), "true");
    /* origins and positions inside the assignment */
    const ns_node *epochs = ns_path_get(doc->root, "train.epochs");
    ck_assert_uint_eq(epochs->origin, 1);
    ck_assert_int_eq(epochs->line, 1);
    ck_assert_int_eq(epochs->col, 14);
    ck_assert_uint_eq(input->origin, 2);
    ck_assert_int_eq(input->items[1]->col, 18);
    char where[256];
    ck_assert_str_eq(ns_node_where(doc, epochs, where, sizeof where),
                     "--set train.epochs=3:1:14");
    ck_assert_str_eq(ns_node_where(doc, ns_path_get(doc->root, "data.train"), where, sizeof where),
                     NAME ":2:10");
    ck_assert_str_eq(ns_node_where(doc, ns_path_get(doc->root, "seed"), where, sizeof where), NAME);
    ck_assert_uint_eq(doc->set_count, 3);
    ck_assert_str_eq(doc->sets[1], "network.input=[1,28,28]");
    /* the train map was created by the first --set; other train keys are defaults */
    ck_assert(ns_path_get(doc->root, "train.batch_size")->is_default);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_set_layers)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/specs/ex2_cnn.yaml", source_dir());
    ns_doc *doc = NULL;
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_file(path, &doc, &err) == 0, "%s", err.message);
    set_ok(doc, "network.layers.0.conv.filters=4");
    set_ok(doc, "network.layers.1=tanh");
    set_ok(doc, "network.layers.2.maxpool={size: 3}");
    set_ok(doc, "network.layers.4.relu={}");
    set_ok(doc, "network.layers.7.dense.units=12");   /* relu -> dense */
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    const ns_node *root = doc->root;
    ck_assert_int_eq(ns_get_int(root, "network.layers.0.conv.filters"), 4);
    ck_assert_int_eq(ns_get_int(root, "network.layers.0.conv.pad"), 1);   /* kept */
    ck_assert_str_eq(ns_choice_name(ns_path_get(root, "network.layers.1")), "tanh");
    ck_assert_int_eq(ns_get_int(root, "network.layers.2.maxpool.size"), 3);
    ck_assert(ns_path_get(root, "network.layers.2.maxpool.stride")->is_default);
    ck_assert_str_eq(ns_path_get(root, "network.layers.4")->scalar, "relu");
    ck_assert_int_eq(ns_get_int(root, "network.layers.7.dense.units"), 12);
    ck_assert_uint_eq(ns_path_get(root, "network.layers")->count, 10);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_set_variant_switch)
{
    /* a bare variant name: the other variant with all its defaults */
    ns_doc *doc = parse_ok(with_train("  optimizer: {sgd: {lr: 0.5, momentum: 0.9}}\n"));
    set_ok(doc, "train.optimizer=adam");
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    const ns_node *opt = ns_path_get(doc->root, "train.optimizer");
    ck_assert_str_eq(ns_choice_name(opt), "adam");
    ck_assert_str_eq(ns_path_get(opt, "adam.lr")->scalar, "0.001");
    ck_assert(ns_path_get(opt, "adam.lr")->is_default);
    ck_assert_uint_eq(opt->origin, 1);
    ns_doc_free(doc);

    /* a parameter of another variant switches to it */
    doc = parse_ok(with_train("  optimizer: {sgd: {lr: 0.5, momentum: 0.9}}\n"));
    set_ok(doc, "train.optimizer.adam.lr=0.002");
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    opt = ns_path_get(doc->root, "train.optimizer");
    ck_assert_str_eq(ns_choice_name(opt), "adam");
    ck_assert_str_eq(ns_path_get(opt, "adam.lr")->scalar, "0.002");
    ck_assert_str_eq(ns_path_get(opt, "adam.beta2")->scalar, "0.999");
    ck_assert_ptr_null(ns_path_get(opt, "sgd"));
    ns_doc_free(doc);

    /* a parameter of the current variant keeps the others */
    doc = parse_ok(with_train("  optimizer: {sgd: {lr: 0.5, momentum: 0.9}}\n"));
    set_ok(doc, "train.optimizer.sgd.lr=0.1");
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(ns_get_str(doc->root, "train.optimizer.sgd.lr"), "0.1");
    ck_assert_str_eq(ns_get_str(doc->root, "train.optimizer.sgd.momentum"), "0.9");
    ns_doc_free(doc);

    /* the current variant written as a bare name, and no optimizer at all */
    doc = parse_ok(with_train("  optimizer: sgd\n"));
    set_ok(doc, "train.optimizer.sgd.nesterov=true");
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert(ns_get_bool(doc->root, "train.optimizer.sgd.nesterov"));
    ns_doc_free(doc);
    doc = parse_ok(MINIMAL);
    set_ok(doc, "train.optimizer.adamw.weight_decay=0.05");
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(ns_get_str(doc->root, "train.optimizer.adamw.weight_decay"), "0.05");
    ns_doc_free(doc);

    /* a flow map value */
    doc = parse_ok(MINIMAL);
    set_ok(doc, "train.optimizer={adam: {lr: 0.1}}");
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(ns_get_str(doc->root, "train.optimizer.adam.lr"), "0.1");
    ns_doc_free(doc);
}
END_TEST

/* Applies `assignment` to the spec `text`; it or the resolve after it must
 * fail with a message starting with `prefix` and containing `word`. */
static void expect_set_error_on(const char *text, const char *assignment, const char *prefix,
                                const char *word)
{
    ns_doc *doc = parse_ok(text);
    char *before = emit_ok(doc);
    nr_error err = {0};
    int rc = ns_doc_apply_set(doc, assignment, &err);
    if (rc != 0) {
        /* a refused assignment leaves the doc as it was */
        char *after = emit_ok(doc);
        ck_assert_str_eq(before, after);
        ck_assert_uint_eq(doc->set_count, 0);
        free(after);
    } else {
        rc = ns_doc_resolve(doc, &err);
    }
    free(before);
    ns_doc_free(doc);
    ck_assert_msg(rc != 0, "--set %s: expected an error", assignment);
    ck_assert_int_eq(err.status, 2);
    ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0,
                  "message '%s' does not start with '%s'", err.message, prefix);
    if (word)
        ck_assert_msg(strstr(err.message, word), "message '%s' lacks '%s'", err.message, word);
    ck_assert_msg(!strchr(err.message, '\n'), "message has a newline: %s", err.message);
}

/* The same on MINIMAL. */
static void expect_set_error(const char *assignment, const char *prefix, const char *word)
{
    expect_set_error_on(MINIMAL, assignment, prefix, word);
}

START_TEST(test_set_errors)
{
    expect_set_error("train.epochs=ten",
                     "--set train.epochs=ten:1:14: error: train.epochs: expected an integer from 1 "
                     "to 100000, got 'ten'", NULL);
    expect_set_error("train.epoch=3",
                     "--set train.epoch=3:1:7: error: unknown key 'epoch' in train (did you mean "
                     "'epochs'?)", NULL);
    expect_set_error("train.optimizer.adm.lr=1",
                     "--set train.optimizer.adm.lr=1:1:17: error: train.optimizer: unknown "
                     "optimizer 'adm'", "did you mean 'adam'?");
    expect_set_error("network.input=[1,28]",
                     "--set network.input=[1,28]:1:15: error: network.input: expected a list of 3",
                     NULL);
    expect_set_error("network.input=[1,0,28]",
                     "--set network.input=[1,0,28]:1:18: error: network.input[1]:", NULL);
    expect_set_error("train.epochs", "--set train.epochs:1:1: error: expected PATH=VALUE", "'='");
    expect_set_error("=3", "--set =3:1:1: error: expected PATH=VALUE", "empty");
    expect_set_error("train..epochs=3", "--set train..epochs=3:1:7: error: empty key", NULL);
    expect_set_error("train.=3", "--set train.=3:1:7: error: empty key", NULL);
    expect_set_error("network.layers.3.conv.filters=3",
                     "--set network.layers.3.conv.filters=3:1:16: error: index 3 is out of range: "
                     "network.layers has 3 items (0 to 2)", NULL);
    expect_set_error("network.layers.first=relu",
                     "--set network.layers.first=relu:1:16: error: network.layers is a list: "
                     "expected an index from 0 to 2, got 'first'", NULL);
    /* seed is absent before resolve: the map made for it is not an integer */
    expect_set_error("seed.x=3",
                     "--set seed.x=3:1:1: error: seed: expected an integer from 0 to 4294967295, "
                     "got a map", NULL);
    expect_set_error("data.train.x=3",
                     "--set data.train.x=3:1:12: error: cannot set 'x' inside data.train", NULL);
    expect_set_error("train.epochs=[1",
                     "--set train.epochs=[1:1:16: error: invalid YAML:", NULL);
    expect_set_error("train.epochs=*a",
                     "--set train.epochs=*a:1:14: error: anchors and aliases are not supported",
                     NULL);
    expect_set_error("description=a\tb", "--set description=a\\x09b:1:14: error: tab", NULL);
    expect_set_error("description=a\nb", "--set description=a\\nb:1:14: error: line break", NULL);
    expect_set_error("network.layers.0=conv",
                     "--set network.layers.0=conv:1:18: error: network.layers[0].conv: missing "
                     "required key 'filters'", NULL);
}
END_TEST

START_TEST(test_set_after_resolve)
{
    ns_doc *doc = resolve_ok(MINIMAL);
    ck_assert_ptr_null(ns_path_get(doc->root, "network.input"));
    set_ok(doc, "network.input=[3, 32, 32]");
    ck_assert(!doc->resolved);
    set_ok(doc, "data.train=rel/../x");
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    const ns_node *network = ns_map_get(doc->root, "network");
    ck_assert_str_eq(network->keys[0], "input");   /* schema order */
    ck_assert_int_eq(ns_get_int(doc->root, "network.input.0"), 3);
    /* a path given by --set is relative to the current directory */
    char *cwd = getcwd(NULL, 4096);
    char want[4200];
    snprintf(want, sizeof want, "%s/x", strcmp(cwd, "/") == 0 ? "" : cwd);
    ck_assert_str_eq(ns_get_str(doc->root, "data.train"), want);
    free(cwd);
    /* the data.test path from the file is unchanged */
    ck_assert_str_eq(ns_get_str(doc->root, "data.test"), "/base/data/Test");
    ns_doc_free(doc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* --set paths: "[N]" list indices, as messages and netrun diff print them */

/* A layer list with a residual block and a repeat (items indented by 4). */
static const char *const NESTED_LAYERS =
    "    - conv: {filters: 4, pad: 1}\n"
    "    - residual:\n"
    "        layers:\n"
    "          - conv: {filters: 4, pad: 1}\n"
    "          - batchnorm\n"
    "          - relu: {}\n"
    "        shortcut: identity\n"
    "    - repeat:\n"
    "        times: 2\n"
    "        layers: [dropout, {leaky_relu: {slope: 0.2}}]\n"
    "    - avgpool\n";

/* `text` with the assignments a[0..n) and, separately, with b[0..n): both
 * resolve to the same tree and the same emitted YAML. Returns the b doc. */
static ns_doc *same_after_sets(const char *text, const char *const *a, const char *const *b,
                               size_t n)
{
    ns_doc *da = parse_ok(text), *db = parse_ok(text);
    for (size_t i = 0; i < n; i++) {
        set_ok(da, a[i]);
        set_ok(db, b[i]);
    }
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(da, &err) == 0, "%s", err.message);
    ck_assert_msg(ns_doc_resolve(db, &err) == 0, "%s", err.message);
    ck_assert(ns_node_equal(da->root, db->root));
    char *ya = emit_ok(da), *yb = emit_ok(db);
    ck_assert_str_eq(ya, yb);
    free(ya);
    free(yb);
    ns_doc_free(da);
    return db;
}

START_TEST(test_set_bracket_equals_dotted)
{
    static const char *const dotted[] = {
        "network.input=[1,8,8]",
        "network.input.2=6",
        "network.layers.0.conv.filters=6",
        "network.layers.3=relu",
        "network.layers.2.repeat.times=3",
    };
    static const char *const bracket[] = {
        "network.input=[1,8,8]",
        "network.input[2]=6",
        "network.layers[0].conv.filters=6",
        "network.layers[3]=relu",
        "network.layers[2].repeat.times=3",
    };
    ns_doc *doc = same_after_sets(with_layers(NESTED_LAYERS), dotted, bracket, 5);
    const ns_node *root = doc->root;
    ck_assert_int_eq(ns_get_int(root, "network.input.2"), 6);
    ck_assert_int_eq(ns_get_int(root, "network.layers.0.conv.filters"), 6);
    ck_assert_int_eq(ns_get_int(root, "network.layers.0.conv.pad"), 1);   /* kept */
    ck_assert_str_eq(ns_str(ns_path_get(root, "network.layers.3")), "relu");
    ck_assert_int_eq(ns_get_int(root, "network.layers.2.repeat.times"), 3);
    ck_assert_str_eq(doc->sets[2], "network.layers[0].conv.filters=6");   /* as given */
    ns_doc_free(doc);

    /* a value's position is inside the assignment: '=' is after the ']' */
    doc = parse_ok(with_layers(NESTED_LAYERS));
    set_ok(doc, "network.layers[0].conv.filters=7");
    const ns_node *filters = ns_path_get(doc->root, "network.layers.0.conv.filters");
    ck_assert_int_eq(filters->col, 32);
    ck_assert_uint_eq(filters->origin, 1);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_set_bracket_nested_and_mixed)
{
    static const char *const dotted[] = {
        "network.layers.1.residual.layers.0.conv.filters=8",
        "network.layers.1.residual.layers.2=tanh",
        "network.layers.2.repeat.layers.1.leaky_relu.slope=0.3",
        "network.layers.2.repeat.layers.0.dropout.rate=0.25",
    };
    static const char *const bracket[] = {
        "network.layers[1].residual.layers[0].conv.filters=8",
        "network.layers[1].residual.layers[2]=tanh",
        "network.layers[2].repeat.layers[1].leaky_relu.slope=0.3",
        "network.layers[2].repeat.layers[0].dropout.rate=0.25",
    };
    static const char *const mixed[] = {
        "network.layers[1].residual.layers.0.conv.filters=8",
        "network.layers.1.residual.layers[2]=tanh",
        "network.layers.2.repeat.layers[1].leaky_relu.slope=0.3",
        "network.layers[2].repeat.layers.0.dropout.rate=0.25",
    };
    ns_doc *doc = same_after_sets(with_layers(NESTED_LAYERS), dotted, bracket, 4);
    const ns_node *root = doc->root;
    ck_assert_int_eq(ns_get_int(root, "network.layers.1.residual.layers.0.conv.filters"), 8);
    ck_assert_str_eq(ns_str(ns_path_get(root, "network.layers.1.residual.layers.2")), "tanh");
    ck_assert_double_eq_tol(
        ns_get_float(root, "network.layers.2.repeat.layers.1.leaky_relu.slope"), 0.3, 1e-15);
    ck_assert_double_eq_tol(ns_get_float(root, "network.layers.2.repeat.layers.0.dropout.rate"),
                            0.25, 1e-15);
    ns_doc_free(doc);
    ns_doc_free(same_after_sets(with_layers(NESTED_LAYERS), dotted, mixed, 4));
}
END_TEST

START_TEST(test_set_bracket_errors)
{
    /* "network.layers" is 14 characters: its '[' is column 15, the index 16 */
    expect_set_error("network.layers[x]=relu",
                     "--set network.layers[x]=relu:1:16: error: expected a list index (a number "
                     "from 0) in [...], got 'x'", NULL);
    expect_set_error("network.layers[-1]=relu",
                     "--set network.layers[-1]=relu:1:16: error: negative index [-1]", "from 0");
    expect_set_error("network.layers[=relu",
                     "--set network.layers[=relu:1:15: error: '[' is not closed", NULL);
    expect_set_error("network.layers[1.dense.units=3",
                     "--set network.layers[1.dense.units=3:1:15: error: '[' is not closed", NULL);
    expect_set_error("network.layers[1[2]=relu",
                     "--set network.layers[1[2]=relu:1:15: error: '[' is not closed", NULL);
    expect_set_error("network.layers[]=relu",
                     "--set network.layers[]=relu:1:16: error: empty index []", NULL);
    expect_set_error("network.layers[3]=relu",
                     "--set network.layers[3]=relu:1:16: error: index 3 is out of range: "
                     "network.layers has 3 items (0 to 2)", NULL);
    expect_set_error("network.layers[12345678901]=relu",
                     "--set network.layers[12345678901]=relu:1:16: error: index 12345678901 is "
                     "out of range: network.layers has 3 items (0 to 2)", NULL);
    expect_set_error("network.layers[0->1]=relu",
                     "--set network.layers[0->1]=relu:1:16: error: [0->1] is how netrun diff "
                     "names a layer", "give one index: [0] or [1]");
    /* an index where there is no list: on a map, a layer, a value, nothing */
    expect_set_error("data[0]=x",
                     "--set data[0]=x:1:5: error: cannot use the index [0]: data is a map, not a "
                     "list", NULL);
    expect_set_error("[0]=x",
                     "--set [0]=x:1:1: error: cannot use the index [0]: the top level is a map, "
                     "not a list", NULL);
    expect_set_error("network.layers[1][0]=3",
                     "--set network.layers[1][0]=3:1:18: error: cannot use the index [0]: "
                     "network.layers[1] is a layer, not a list", NULL);
    expect_set_error("network.layers.1.dense[0]=3",
                     "--set network.layers.1.dense[0]=3:1:23: error: cannot use the index [0]: "
                     "network.layers[1].dense is a map, not a list", NULL);
    expect_set_error("network.layers[1].dense.units[0]=3",
                     "--set network.layers[1].dense.units[0]=3:1:30: error: cannot use the index "
                     "[0]: network.layers[1].dense.units is the value '10', not a list", NULL);
    expect_set_error("train[0].epochs=3",
                     "--set train[0].epochs=3:1:6: error: cannot use the index [0]: train is not "
                     "in the spec", NULL);
    expect_set_error("network.input[0]=3",
                     "--set network.input[0]=3:1:14: error: cannot use the index [0]: "
                     "network.input is not in the spec", NULL);
    /* brackets out of place */
    expect_set_error("network.layers]0=relu",
                     "--set network.layers]0=relu:1:15: error: ']' without a '['", NULL);
    expect_set_error("network.layers[0]]=relu",
                     "--set network.layers[0]]=relu:1:18: error: ']' without a '['", NULL);
    expect_set_error("network.layers[0]x=1",
                     "--set network.layers[0]x=1:1:18: error: expected '.' or '[' after ']'",
                     NULL);
    expect_set_error("network.layers.[0]=relu",
                     "--set network.layers.[0]=relu:1:16: error: a key is missing before '['",
                     NULL);
    expect_set_error("network.layers[0]..x=1",
                     "--set network.layers[0]..x=1:1:19: error: empty key", NULL);
    /* columns count characters: 'é' is two bytes */
    expect_set_error("d\xc3\xa9[0]=1", "--set d\xc3\xa9[0]=1:1:3: error: cannot use the index [0]: "
                     "d\xc3\xa9 is not in the spec", NULL);
    /* nested lists */
    expect_set_error_on(with_layers(NESTED_LAYERS), "network.layers[1].residual.layers[3]=relu",
                        "--set network.layers[1].residual.layers[3]=relu:1:35: error: index 3 is "
                        "out of range: network.layers[1].residual.layers has 3 items (0 to 2)",
                        NULL);
    expect_set_error_on(with_layers(NESTED_LAYERS), "network.layers.2.repeat.layers.x=relu",
                        "--set network.layers.2.repeat.layers.x=relu:1:32: error: "
                        "network.layers[2].repeat.layers is a list: expected an index from 0 to "
                        "1, got 'x'", NULL);
    /* paths in messages print indices as [N] whatever form was given */
    expect_set_error("network.layers.1.dense.units.x=3",
                     "--set network.layers.1.dense.units.x=3:1:30: error: cannot set 'x' inside "
                     "network.layers[1].dense.units: it is the value '10', not a map", NULL);
    /* the value's errors point into the value after a bracket path */
    expect_set_error("network.layers[0].conv.filters=0",
                     "--set network.layers[0].conv.filters=0:1:32: error: "
                     "network.layers[0].conv.filters: expected an integer", NULL);
}
END_TEST

typedef struct printed_paths {
    char assignment[8][256];
    size_t count;
} printed_paths;

/* ns_diff callback: "PATH=VALUE of b" for each scalar difference */
static void collect_difference(void *ctx, const char *path, const ns_node *a, const ns_node *b)
{
    printed_paths *p = ctx;
    (void)a;
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->kind, NS_SCALAR);
    ck_assert_uint_lt(p->count, 8);
    snprintf(p->assignment[p->count++], sizeof p->assignment[0], "%s=%s", path, b->scalar);
}

START_TEST(test_set_printed_paths)
{
    /* a path printed by ns_diff (netrun diff), with =VALUE, is a --set path */
    ns_doc *a = resolve_ok(with_layers(NESTED_LAYERS));
    ns_doc *b = parse_ok(with_layers(NESTED_LAYERS));
    set_ok(b, "network.layers.1.residual.layers.0.conv.filters=8");
    set_ok(b, "network.layers.2.repeat.layers.1.leaky_relu.slope=0.3");
    set_ok(b, "network.layers.0.conv.pad=0");
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(b, &err) == 0, "%s", err.message);
    printed_paths p = {0};
    ck_assert_uint_eq(ns_diff(a->root, b->root, collect_difference, &p), 3);
    ck_assert_str_eq(p.assignment[0], "network.layers[0].conv.pad=0");
    ck_assert_str_eq(p.assignment[1], "network.layers[1].residual.layers[0].conv.filters=8");
    ck_assert_str_eq(p.assignment[2], "network.layers[2].repeat.layers[1].leaky_relu.slope=0.3");
    for (size_t i = 0; i < p.count; i++)
        set_ok(a, p.assignment[i]);
    ck_assert_msg(ns_doc_resolve(a, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(ns_diff(a->root, b->root, NULL, NULL), 0);
    ns_doc_free(a);
    ns_doc_free(b);

    /* a path printed by an error message, with =VALUE, fixes the error */
    const char *bad = with_layers("    - residual:\n"
                                  "        layers:\n"
                                  "          - relu\n"
                                  "          - conv: {filters: 0}\n");
    ns_doc *doc = parse_ok(bad);
    ck_assert_int_ne(ns_doc_resolve(doc, &err), 0);
    const char *path = strstr(err.message, "error: ");
    ck_assert_ptr_nonnull(path);
    path += strlen("error: ");
    size_t len = strcspn(path, ":");
    char assignment[300];
    snprintf(assignment, sizeof assignment, "%.*s=5", (int)len, path);
    ck_assert_str_eq(assignment, "network.layers[0].residual.layers[1].conv.filters=5");
    ns_doc_free(doc);
    doc = parse_ok(bad);
    set_ok(doc, assignment);
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    ck_assert_int_eq(ns_get_int(doc->root, "network.layers.0.residual.layers.1.conv.filters"), 5);
    ns_doc_free(doc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* emit, round trips, idempotence                                        */

static void check_round_trip(ns_doc *doc)
{
    nr_error err = {0};
    char *text = emit_ok(doc);
    ns_doc *back = NULL;
    ck_assert_msg(ns_doc_parse_string(text, strlen(text), "emitted.yaml", "/elsewhere", &back,
                                      &err) == 0, "%s\n%s", err.message, text);
    ck_assert_msg(ns_node_equal(doc->root, back->root), "round trip differs:\n%s", text);
    ck_assert_msg(ns_doc_resolve(back, &err) == 0, "%s\n%s", err.message, text);
    ck_assert_msg(ns_node_equal(doc->root, back->root), "re-resolve differs:\n%s", text);
    char *again = emit_ok(back);
    ck_assert_str_eq(text, again);
    free(again);
    free(text);
    ns_doc_free(back);
}

START_TEST(test_emit_round_trip_ex2)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/specs/ex2_cnn.yaml", source_dir());
    ns_doc *doc = NULL;
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_file(path, &doc, &err) == 0, "%s", err.message);
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    check_round_trip(doc);
    char *text = emit_ok(doc);
    ck_assert_msg(strstr(text, "\n  - conv: {filters: 8, size: 3, stride: 1, pad: 1, bias: true, "
                               "init: auto, freeze: false, fresh: false}\n"), "%s", text);
    ck_assert_msg(strstr(text, "\n  input: [1, 28, 28]\n"), "%s", text);
    ck_assert_msg(strstr(text, "\n  - relu\n"), "%s", text);
    ck_assert_msg(strstr(text, "\n  optimizer:\n    sgd: {lr: "), "%s", text);
    ck_assert_msg(strncmp(text, "name: ex2_cnn\n", 14) == 0, "%s", text);
    free(text);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_emit_round_trip_tricky)
{
    static const char *const descriptions[] = {
        "true", "1", "", "a: b", "line\nbreak", "it's", "#x", "- x", "caf\xc3\xa9", "null", "~",
        "1e3", "yes", " lead", "trail ", "[x]", "{x}", "a, b", "\"q\"", "back\\slash", "tab\there",
        "%x", "@x", "`x", "0x10", "12:30", "*star", "&amp", "!bang", "|pipe", ">gt", "?q", ":c",
        "nel\xc2\x85x", "ls\xe2\x80\xa8x", "c1\xc2\x9fx", "bom\xef\xbb\xbfx", "cr\rx", "--- x",
        "...", "a #b", "a\\\"b", "x\x7fy",
    };
    for (size_t i = 0; i < sizeof descriptions / sizeof descriptions[0]; i++) {
        ns_doc *doc = resolve_ok(MINIMAL);
        ns_node *d = (ns_node *)ns_map_get(doc->root, "description");
        free(d->scalar);
        d->scalar = strdup(descriptions[i]);
        ck_assert_ptr_nonnull(d->scalar);
        /* resolve decides which strings need quotes */
        nr_error err = {0};
        ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
        check_round_trip(doc);
        ns_doc_free(doc);
    }
    /* quoted string that reads as a bool stays a quoted string */
    char text[512];
    snprintf(text, sizeof text, "description: 'true'\n%s", MINIMAL);
    ns_doc *doc = resolve_ok(text);
    char *out = emit_ok(doc);
    ck_assert_msg(strstr(out, "\ndescription: 'true'\n"), "%s", out);
    free(out);
    ns_doc_free(doc);
    /* a default empty description is written quoted */
    doc = resolve_ok(MINIMAL);
    out = emit_ok(doc);
    ck_assert_msg(strstr(out, "\ndescription: ''\n"), "%s", out);
    free(out);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_emit_round_trip_nested_and_set)
{
    ns_doc *doc = parse_ok(with_layers(
        "    - residual:\n"
        "        layers: [{conv: {filters: 4, pad: 1}}, relu, {repeat: {times: 2, layers: [tanh]}}]\n"
        "    - flatten\n"
        "    - dense: {units: 10, init: glorot_uniform}\n"));
    set_ok(doc, "train.optimizer=adamw");
    set_ok(doc, "network.input=[1,8,8]");
    nr_error err = {0};
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
    check_round_trip(doc);
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_idempotent)
{
    const char *specs[] = {
        MINIMAL,
        "name: x\nseed: 7\ndata: {train: /d/t, test: /d/s, cache: false}\n"
        "network:\n  input: [3, 32, 32]\n  layers:\n    - conv: {filters: 8}\n    - relu: {}\n"
        "    - dense:\n        units: 10\n    - softmax\n"
        "train:\n  optimizer: adam\n  epochs: 2\n",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        ns_doc *doc = resolve_ok(specs[i]);
        ns_doc *twin = resolve_ok(specs[i]);
        char *first = emit_ok(doc);
        nr_error err = {0};
        ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "%s", err.message);
        ck_assert(ns_node_equal(doc->root, twin->root));
        char *second = emit_ok(doc);
        ck_assert_str_eq(first, second);
        /* flags and positions survive a second resolve */
        ck_assert(ns_path_get(doc->root, "train.shuffle")->is_default);
        ck_assert_int_eq(ns_path_get(doc->root, "train.shuffle")->line, 0);
        if (i == 1) {
            ck_assert_int_eq(ns_path_get(doc->root, "network.layers.0.conv.filters")->line, 7);
            ck_assert(!ns_path_get(doc->root, "network.layers.0.conv.filters")->is_default);
            ck_assert(ns_path_get(doc->root, "network.layers.0.conv.size")->is_default);
        }
        free(first);
        free(second);
        ns_doc_free(twin);
        ns_doc_free(doc);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* accessors, tree helpers                                              */

START_TEST(test_accessors)
{
    ns_doc *doc = resolve_ok(MINIMAL);
    const ns_node *root = doc->root;
    ck_assert_ptr_null(ns_map_get(root, "nope"));
    ck_assert_ptr_null(ns_map_get(ns_map_get(root, "seed"), "x"));
    ck_assert_ptr_null(ns_path_get(root, "network.layers.9"));
    ck_assert_ptr_null(ns_path_get(root, "network.layers.x"));
    ck_assert_ptr_null(ns_path_get(root, "seed.x"));
    ck_assert_ptr_nonnull(ns_path_get(root, "network.layers.1.dense.units"));
    ck_assert_int_eq(ns_get_int(root, "network.layers.1.dense.units"), 10);
    ck_assert_str_eq(ns_str(ns_path_get(root, "network.layers.0")), "flatten");
    ck_assert(!ns_node_equal(root, ns_map_get(root, "data")));
    ck_assert(ns_node_equal(root, root));
    /* key positions */
    const ns_node *data = ns_map_get(root, "data");
    ck_assert_str_eq(data->keys[0], "train");
    ck_assert_int_eq(data->key_pos[0].line, 2);
    ck_assert_int_eq(data->key_pos[0].col, 3);
    ck_assert_int_eq(data->key_pos[2].line, 0);   /* cache: added by resolve */
    ns_doc_free(doc);

    /* the layer kind names match the schema */
    size_t i = 0;
    for (const ns_variant *v = ns_layer_variants; v->name; v++, i++) {
        ck_assert_ptr_nonnull(ns_layer_kind_names[i]);
        ck_assert_str_eq(ns_layer_kind_names[i], v->name);
    }
    ck_assert_ptr_null(ns_layer_kind_names[i]);
    ck_assert_uint_eq(i, 14);
}
END_TEST

START_TEST(test_accessor_misuse_aborts)
{
    ns_doc *doc = resolve_ok(MINIMAL);
    /* a string is not an int: a bug in the caller */
    (void)ns_get_int(doc->root, "train.loss");
    ns_doc_free(doc);
}
END_TEST

START_TEST(test_accessor_missing_aborts)
{
    ns_doc *doc = resolve_ok(MINIMAL);
    (void)ns_get_float(doc->root, "train.optimizer.adam.lr");
    ns_doc_free(doc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* REFERENCE.md documents every key                                      */

static char *read_reference(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/netspec/REFERENCE.md", source_dir());
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[256 * 1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The table row of `full` (a line starting with "| `full` |"), or NULL. */
static const char *find_row(const char *ref, const char *full, char *row, size_t size)
{
    char start[600];
    snprintf(start, sizeof start, "| `%s` |", full);
    for (const char *line = ref; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len >= strlen(start) && strncmp(line, start, strlen(start)) == 0) {
            snprintf(row, size, "%.*s", (int)len, line);
            return row;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

static int checked_keys;

static void check_documented(const char *ref, const ns_key *keys, const char *prefix)
{
    for (const ns_key *k = keys; k->name; k++) {
        char full[512], row[2048], want[600];
        snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", k->name);
        ck_assert_msg(find_row(ref, full, row, sizeof row), "REFERENCE.md has no row for `%s`",
                      full);
        snprintf(want, sizeof want, "| %s |", ns_schema_type_name(k->type));
        ck_assert_msg(strstr(row, want), "row of `%s` lacks its type '%s': %s", full, want, row);
        switch (k->need) {
        case NS_REQUIRED:
            snprintf(want, sizeof want, "| required |");
            break;
        case NS_OPTIONAL:
            snprintf(want, sizeof want, "| optional, no default |");
            break;
        case NS_DERIVED:
            snprintf(want, sizeof want, "%s", k->def);
            break;
        case NS_DEFAULT:
            snprintf(want, sizeof want, "| `%s` |", *k->def ? k->def : "\"\"");
            break;
        }
        ck_assert_msg(strstr(row, want), "row of `%s` lacks its default '%s': %s", full, want,
                      row);
        checked_keys++;
        if (k->type == NS_T_MAP)
            check_documented(ref, k->keys, full);
        if (k->type == NS_T_CHOICE)
            for (const ns_variant *v = k->variants; v->name; v++) {
                char name[128], vfull[600];
                snprintf(name, sizeof name, "`%s`", v->name);
                ck_assert_msg(strstr(ref, name), "REFERENCE.md does not mention %s", name);
                snprintf(vfull, sizeof vfull, "%s.%s", full, v->name);
                if (v->params)
                    check_documented(ref, v->params, vfull);
            }
        /* layer lists: the layer kinds are checked once, below */
    }
}

START_TEST(test_reference_documents_schema)
{
    const char *ref = read_reference();
    checked_keys = 0;
    check_documented(ref, ns_schema_root.keys, "");
    for (const ns_variant *v = ns_layer_variants; v->name; v++) {
        char name[128];
        snprintf(name, sizeof name, "`%s`", v->name);
        ck_assert_msg(strstr(ref, name), "REFERENCE.md does not mention layer %s", name);
        if (v->params)
            check_documented(ref, v->params, v->name);
    }
    /* top 8 + data 11 + network 2 + train 13 + sgd 4 + adam 5 + adamw 5 + schedules 15 +
     * validation 1 + early_stopping 4 + augment 5 + 12 + layers 28 */
    ck_assert_int_eq(checked_keys, 113);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("netspec");
    TCase *valid = tcase_create("valid");
    tcase_add_test(valid, test_ex2_file);
    tcase_add_test(valid, test_positions);
    tcase_add_test(valid, test_minimal_inline);
    tcase_add_test(valid, test_every_default_filled);
    tcase_add_test(valid, test_name_default);
    tcase_add_test(valid, test_empty_values);
    tcase_add_test(valid, test_numbers_accepted);
    tcase_add_test(valid, test_nested_layers);
    tcase_add_test(valid, test_paths);
    suite_add_tcase(suite, valid);

    TCase *parse = tcase_create("parse_errors");
    tcase_add_test(parse, test_error_tab);
    tcase_add_test(parse, test_error_alias_anchor);
    tcase_add_test(parse, test_error_syntax);
    tcase_add_test(parse, test_error_empty_and_not_map);
    tcase_add_test(parse, test_error_duplicate_key);
    tcase_add_test(parse, test_error_complex_key);
    tcase_add_test(parse, test_error_deep_nesting);
    tcase_add_test(parse, test_error_binary_and_utf8);
    tcase_add_test(parse, test_error_sizes);
    tcase_add_test(parse, test_error_file);
    suite_add_tcase(suite, parse);

    TCase *schema = tcase_create("schema_errors");
    tcase_add_test(schema, test_error_unknown_keys);
    tcase_add_test(schema, test_error_types_ranges);
    tcase_add_test(schema, test_error_choices);
    tcase_add_test(schema, test_error_missing_required);
    suite_add_tcase(suite, schema);

    TCase *set = tcase_create("set");
    tcase_add_test(set, test_set_scalar_and_list);
    tcase_add_test(set, test_set_layers);
    tcase_add_test(set, test_set_variant_switch);
    tcase_add_test(set, test_set_errors);
    tcase_add_test(set, test_set_after_resolve);
    suite_add_tcase(suite, set);

    TCase *set_paths = tcase_create("set_paths");
    tcase_add_test(set_paths, test_set_bracket_equals_dotted);
    tcase_add_test(set_paths, test_set_bracket_nested_and_mixed);
    tcase_add_test(set_paths, test_set_bracket_errors);
    tcase_add_test(set_paths, test_set_printed_paths);
    suite_add_tcase(suite, set_paths);

    TCase *emit = tcase_create("emit");
    tcase_add_test(emit, test_emit_round_trip_ex2);
    tcase_add_test(emit, test_emit_round_trip_tricky);
    tcase_add_test(emit, test_emit_round_trip_nested_and_set);
    tcase_add_test(emit, test_idempotent);
    suite_add_tcase(suite, emit);

    TCase *api = tcase_create("api");
    tcase_add_test(api, test_accessors);
    /* abort() can only be observed in a forked test process */
    const char *fork_mode = getenv("CK_FORK");
    if (!fork_mode || strcmp(fork_mode, "no") != 0) {
        tcase_add_test_raise_signal(api, test_accessor_misuse_aborts, SIGABRT);
        tcase_add_test_raise_signal(api, test_accessor_missing_aborts, SIGABRT);
    }
    tcase_add_test(api, test_reference_documents_schema);
    suite_add_tcase(suite, api);

    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
