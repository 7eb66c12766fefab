/* test_compare.c - run folders side by side (netrun/compare.h): labels that
 * name each run by what differs in its resolved spec, reading a run folder
 * (netrun/run_folder.h: history.csv with and without validation columns,
 * written and read back through one column table, summary.txt, errors),
 * the table and the overlay picture. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netrun/compare.h"
#include "netrun/fileio.h"
#include "netrun/netspec.h"
#include "netrun/run_folder.h"
#include "spec_docs.h"

#define SPEC_HEAD "name: s\ndata: {train: T, test: E}\n"
#define NET3 "network:\n  input: [1, 8, 8]\n  layers: [flatten, {dense: {units: 3}}, softmax]\n"

/* ---- labels ---- */

static char **labels_of(const char *const *texts, size_t n)
{
    ns_doc **docs = calloc(n, sizeof *docs);
    const ns_node **roots = calloc(n, sizeof *roots);
    char **labels = calloc(n, sizeof *labels);
    ck_assert(docs && roots && labels);
    for (size_t i = 0; i < n; i++) {
        docs[i] = resolve_text(texts[i]);
        roots[i] = docs[i]->root;
    }
    nr_error err = {0};
    ck_assert_msg(nr_compare_labels(roots, NULL, n, labels, &err) == 0, "%s", err.message);
    for (size_t i = 0; i < n; i++)
        ns_doc_free(docs[i]);
    free(docs);
    free(roots);
    return labels;
}

static void free_labels(char **labels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
}

START_TEST(test_labels_sweep)
{
    const char *t[] = {
        SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 0.01}}, batch_size: 8}\n",
        SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 0.01}}, batch_size: 16}\n",
        SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 0.1}}, batch_size: 8}\n",
        SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 0.1}}, batch_size: 16}\n",
    };
    char **l = labels_of(t, 4);
    ck_assert_str_eq(l[0], "s: lr=0.01, batch_size=8");
    ck_assert_str_eq(l[1], "s: lr=0.01, batch_size=16");
    ck_assert_str_eq(l[2], "s: lr=0.1, batch_size=8");
    ck_assert_str_eq(l[3], "s: lr=0.1, batch_size=16");
    free_labels(l, 4);
}
END_TEST

START_TEST(test_labels_exercises)
{
    char *texts[3];
    const char *files[3] = {"ex2_cnn.yaml", "ex3a_pool_relu.yaml", "ex4_adam.yaml"};
    for (int i = 0; i < 3; i++) {
        ns_doc *doc = resolve_file(files[i]);
        size_t len;
        nr_error err = {0};
        ck_assert(ns_doc_emit(doc, &texts[i], &len, &err) == 0);
        ns_doc_free(doc);
    }
    char **l = labels_of((const char *const *)texts, 3);
    ck_assert_str_eq(l[0], "ex2_cnn: optimizer=sgd");
    ck_assert_str_eq(l[1], "ex3a_pool_relu: network.layers[1..2,4..5] differ, optimizer=sgd");
    ck_assert_str_eq(l[2], "ex4_adam: optimizer=adam");
    free_labels(l, 3);
    /* two runs: only the layers differ */
    l = labels_of((const char *const *)texts, 2);
    ck_assert_str_eq(l[0], "ex2_cnn");
    ck_assert_str_eq(l[1], "ex3a_pool_relu: network.layers[1..2,4..5] differ");
    free_labels(l, 2);
    for (int i = 0; i < 3; i++)
        free(texts[i]);
}
END_TEST

START_TEST(test_labels_ambiguous_keys_and_duplicates)
{
    /* the same key name in two layers: a longer tail tells them apart */
    const char *t[] = {
        SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers: [{conv: {filters: 2}}, "
                  "{conv: {filters: 2}}, {dense: {units: 3}}]\n",
        SPEC_HEAD "network:\n  input: [1, 8, 8]\n  layers: [{conv: {filters: 4}}, "
                  "{conv: {filters: 8}}, {dense: {units: 3}}]\n",
    };
    char **l = labels_of(t, 2);
    ck_assert_str_eq(l[0], "s: layers[0].conv.filters=2, layers[1].conv.filters=2");
    ck_assert_str_eq(l[1], "s: layers[0].conv.filters=4, layers[1].conv.filters=8");
    free_labels(l, 2);
    /* identical specs: numbered */
    const char *same[] = {SPEC_HEAD NET3, SPEC_HEAD NET3};
    l = labels_of(same, 2);
    ck_assert_str_eq(l[0], "s (#1)");
    ck_assert_str_eq(l[1], "s (#2)");
    free_labels(l, 2);
    /* a variant change: the other variant's parameters are not shown */
    const char *opt[] = {
        SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 0.1}}}\n",
        SPEC_HEAD NET3 "train: {optimizer: adam}\n",
        SPEC_HEAD NET3 "train: {optimizer: {sgd: {lr: 0.2}}}\n",
    };
    l = labels_of(opt, 3);
    ck_assert_str_eq(l[0], "s: optimizer=sgd, lr=0.1");
    ck_assert_str_eq(l[1], "s: optimizer=adam");
    ck_assert_str_eq(l[2], "s: optimizer=sgd, lr=0.2");
    free_labels(l, 3);
}
END_TEST

START_TEST(test_labels_long_values_named)
{
    const char *t[] = {
        "name: a\ndata: {train: /a/very/long/folder/name/Train, test: E}\n" NET3,
        "name: b\ndata: {train: /another/very/long/folder/Train, test: E}\n" NET3,
    };
    char **l = labels_of(t, 2);
    ck_assert_str_eq(l[0], "a");
    ck_assert_str_eq(l[1], "b: data.train differs");
    free_labels(l, 2);
}
END_TEST

/* ---- run folders ---- */

static char tmp_root[256];

static void make_root(void)
{
    snprintf(tmp_root, sizeof tmp_root, "%s/netrun-test-compare-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
}

static void remove_root(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    ck_assert_int_eq(system(cmd), 0);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A run folder NAME under tmp_root with resolved.yaml from spec text and
 * the given history.csv / summary.txt (NULL: absent). */
static char *make_run(const char *name, const char *spec, const char *history,
                      const char *summary)
{
    char *dir = malloc(1024);
    ck_assert_ptr_nonnull(dir);
    snprintf(dir, 1024, "%s/%s", tmp_root, name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ns_doc *doc = resolve_text(spec);
    char *text;
    size_t len;
    nr_error err = {0};
    ck_assert(ns_doc_emit(doc, &text, &len, &err) == 0);
    put_file(dir, "resolved.yaml", text);
    free(text);
    ns_doc_free(doc);
    if (history)
        put_file(dir, "history.csv", history);
    if (summary)
        put_file(dir, "summary.txt", summary);
    return dir;
}

#define HISTORY_PLAIN                                                    \
    "epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds\n"          \
    "1,1.000000,0.500000,0.900000,0.600000,0.1,1.500\n"                   \
    "2,0.800000,0.700000,0.700000,0.800000,0.1,2.000\n"                   \
    "3,0.600000,0.800000,0.650000,0.750000,0.1,2.500\n"
#define HISTORY_VAL                                                                   \
    "epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds,val_cost,val_acc\n"     \
    "1,1.0,0.5,0.9,0.6,0.1,1.0,0.95,0.55\n"                                           \
    "2,0.8,0.7,0.7,0.9,0.1,1.0,0.75,0.85\n"
#define SUMMARY                                                                  \
    "name: s\ndescription: \nspec: s.yaml\n\n"                                    \
    "#        layer   output   params   MACs/example\n"                          \
    "total: 1,234,567 learnable parameters, 9,999 forward MACs per example\n"     \
    "machine: Test CPU, 2 cores, Linux x86_64\nbackend: blas (OpenBLAS)\n"      \
    "\nepochs: 3\ntraining time: 6.00 s\nfinal test accuracy: 0.7500\n"

START_TEST(test_run_info_plain_history)
{
    make_root();
    char *dir = make_run("a-1", SPEC_HEAD NET3, HISTORY_PLAIN, SUMMARY);
    nr_run_info info;
    nr_error err = {0};
    ck_assert_msg(nr_run_folder_read(dir, &info, &err) == 0, "%s", err.message);
    ck_assert_str_eq(info.name, "s");
    ck_assert_uint_eq(info.epochs, 3);
    ck_assert_ptr_null(info.val_cost);
    ck_assert_ptr_null(info.val_acc);
    ck_assert_double_eq_tol(info.final_test_acc, 0.75, 1e-12);
    ck_assert_double_eq_tol(info.best_test_acc, 0.8, 1e-12);
    ck_assert_int_eq(info.best_epoch, 2);
    ck_assert_double_eq_tol(info.train_seconds, 6.0, 1e-12);
    ck_assert_double_eq_tol(info.test_cost[2], 0.65, 1e-12);
    ck_assert_int_eq(info.param_count, 1234567);
    ck_assert_str_eq(info.machine, "Test CPU, 2 cores, Linux x86_64");
    ck_assert(info.finished);
    nr_run_info_free(&info);
    free(dir);
    remove_root();
}
END_TEST

START_TEST(test_run_info_validation_history_no_summary)
{
    make_root();
    char *dir = make_run("b-1", SPEC_HEAD NET3, HISTORY_VAL, NULL);
    nr_run_info info;
    nr_error err = {0};
    ck_assert_msg(nr_run_folder_read(dir, &info, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(info.epochs, 2);
    ck_assert_ptr_nonnull(info.val_acc);
    ck_assert_double_eq_tol(info.val_acc[1], 0.85, 1e-12);
    ck_assert_double_eq_tol(info.val_cost[0], 0.95, 1e-12);
    ck_assert_int_eq(info.best_epoch, 2);
    ck_assert_int_eq(info.param_count, -1);
    ck_assert(!info.finished);
    nr_run_info_free(&info);
    free(dir);
    /* no history yet: 0 epochs */
    dir = make_run("c-1", SPEC_HEAD NET3, NULL, NULL);
    ck_assert_msg(nr_run_folder_read(dir, &info, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(info.epochs, 0);
    ck_assert(isnan(info.final_test_acc));
    ck_assert_int_eq(info.best_epoch, 0);
    nr_run_info_free(&info);
    free(dir);
    remove_root();
}
END_TEST

/* summary.txt's params: line is what the reader takes; the layer table's
 * "total: N learnable parameters" only when there is none (netrun 0.1) */
START_TEST(test_run_info_params_line)
{
    make_root();
    char *dir = make_run("p-1", SPEC_HEAD NET3, HISTORY_PLAIN,
                         "name: s\n#  layer\n"
                         "total: 1,234,567 learnable parameters, 9 forward MACs per example\n"
                         "params: 4321\nmachine: M\nbackend: B\n");
    nr_run_info info;
    nr_error err = {0};
    ck_assert_msg(nr_run_folder_read(dir, &info, &err) == 0, "%s", err.message);
    ck_assert_int_eq(info.param_count, 4321);
    ck_assert_str_eq(info.backend, "B");
    ck_assert(!info.finished);
    nr_run_info_free(&info);
    free(dir);
    /* a params: value that is not a plain count is unknown */
    dir = make_run("p-2", SPEC_HEAD NET3, NULL, "params: 12,000\n");
    ck_assert_msg(nr_run_folder_read(dir, &info, &err) == 0, "%s", err.message);
    ck_assert_int_eq(info.param_count, -1);
    nr_run_info_free(&info);
    free(dir);
    remove_root();
}
END_TEST

/* The writer and the reader share one column table: what is written reads
 * back (to the printed precision), with and without the val columns. */
START_TEST(test_history_round_trip)
{
    make_root();
    nr_epoch_record h[2] = {
        {.epoch = 1, .train_cost = 1.25, .train_acc = 0.5, .test_cost = 0.875, .test_acc = 0.625,
         .val_cost = 0.9375, .val_acc = 0.5625, .lr = 0.05, .seconds = 1.5},
        {.epoch = 2, .train_cost = 0.75, .train_acc = 0.75, .test_cost = 0.5, .test_acc = 0.8125,
         .val_cost = 0.4375, .val_acc = 0.875, .lr = 0.025, .seconds = 2.25},
    };
    for (int validation = 0; validation < 2; validation++) {
        char *dir = make_run(validation ? "h-2" : "h-1", SPEC_HEAD NET3, NULL, NULL);
        nr_error err = {0};
        ck_assert_msg(nr_run_folder_write_history(dir, h, 2, validation, &err) == 0, "%s",
                      err.message);
        char path[1200], *text;
        size_t len;
        snprintf(path, sizeof path, "%s/history.csv", dir);
        ck_assert(nr_read_file(path, 1 << 20, &text, &len, &err) == 0);
        ck_assert_str_eq(text, validation
                                   ? "epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds,"
                                     "val_cost,val_acc\n"
                                     "1,1.250000,0.500000,0.875000,0.625000,0.05,1.500,0.937500,"
                                     "0.562500\n"
                                     "2,0.750000,0.750000,0.500000,0.812500,0.025,2.250,0.437500,"
                                     "0.875000\n"
                                   : "epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds\n"
                                     "1,1.250000,0.500000,0.875000,0.625000,0.05,1.500\n"
                                     "2,0.750000,0.750000,0.500000,0.812500,0.025,2.250\n");
        free(text);
        nr_run_info info;
        ck_assert_msg(nr_run_folder_read(dir, &info, &err) == 0, "%s", err.message);
        ck_assert_uint_eq(info.epochs, 2);
        for (int i = 0; i < 2; i++) {
            ck_assert_double_eq(info.train_cost[i], h[i].train_cost);
            ck_assert_double_eq(info.train_acc[i], h[i].train_acc);
            ck_assert_double_eq(info.test_cost[i], h[i].test_cost);
            ck_assert_double_eq(info.test_acc[i], h[i].test_acc);
            ck_assert_double_eq(info.lr[i], h[i].lr);
            ck_assert_double_eq(info.seconds[i], h[i].seconds);
            if (validation) {
                ck_assert_double_eq(info.val_cost[i], h[i].val_cost);
                ck_assert_double_eq(info.val_acc[i], h[i].val_acc);
            }
        }
        if (!validation)
            ck_assert_ptr_null(info.val_acc);
        nr_run_info_free(&info);
        free(dir);
    }
    remove_root();
}
END_TEST

START_TEST(test_run_info_errors)
{
    make_root();
    nr_run_info info;
    nr_error err = {0};
    ck_assert_int_eq(nr_run_folder_read(tmp_root, &info, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strstr(err.message, "not a run folder (no resolved.yaml)"), "%s", err.message);
    nr_run_info_free(&info);
    char *dir = make_run("bad-1", SPEC_HEAD NET3,
                         "epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds\n"
                         "1,1.0,0.5,0.9,0.6,0.1,1.0\n"
                         "2,1.0,0.5,0.9,x,0.1,1.0\n", NULL);
    ck_assert_int_eq(nr_run_folder_read(dir, &info, &err), -1);
    char want[1200];
    snprintf(want, sizeof want, "%s/history.csv:3:15: error: test_acc: expected a number, got 'x'",
             dir);
    ck_assert_str_eq(err.message, want);
    nr_run_info_free(&info);
    free(dir);
    dir = make_run("bad-2", SPEC_HEAD NET3, "epoch,cost\n1,2\n", NULL);
    ck_assert_int_eq(nr_run_folder_read(dir, &info, &err), -1);
    ck_assert_msg(strstr(err.message, "history.csv:1:1: error: no 'train_cost' column"), "%s",
                  err.message);
    nr_run_info_free(&info);
    free(dir);
    remove_root();
}
END_TEST

START_TEST(test_comparison_table_and_plot)
{
    make_root();
    char *a = make_run("s-1", SPEC_HEAD NET3 "train: {batch_size: 8}\n", HISTORY_PLAIN, SUMMARY);
    char *b = make_run("s-2", SPEC_HEAD NET3 "train: {batch_size: 16}\n", HISTORY_VAL, NULL);
    char *c = make_run("s-3", SPEC_HEAD NET3 "train: {batch_size: 32}\n", NULL, NULL);
    const char *dirs[] = {a, b, c};
    nr_comparison cmp;
    nr_error err = {0};
    ck_assert_msg(nr_comparison_load(dirs, 3, &cmp, &err) == 0, "%s", err.message);
    ck_assert_str_eq(cmp.labels[0], "s: batch_size=8");
    ck_assert_str_eq(cmp.labels[2], "s: batch_size=32");
    char *table;
    ck_assert(nr_comparison_table(&cmp, &table, &err) == 0);
    /* header + one row per run */
    size_t lines = 0;
    for (const char *p = table; *p; p++)
        lines += *p == '\n';
    ck_assert_uint_eq(lines, 4);
    ck_assert_msg(strstr(table, "final test") && strstr(table, "best test (epoch)") &&
                  strstr(table, "params") && strstr(table, "training time"), "%s", table);
    char *row0 = strchr(table, '\n') + 1;
    ck_assert_msg(strncmp(row0, "s: batch_size=8 ", 16) == 0, "%s", table);
    ck_assert_msg(strstr(row0, "75.00%") && strstr(row0, "80.00% (2)") &&
                  strstr(row0, "1,234,567") && strstr(row0, "6.0sec"), "%s", table);
    char *row1 = strchr(row0, '\n') + 1;
    ck_assert_msg(strstr(row1, "90.00%") && strstr(row1, "90.00% (2)") && strstr(row1, " ? "),
                  "%s", table);
    char *row2 = strchr(row1, '\n') + 1;
    ck_assert_msg(strstr(row2, " - "), "%s", table);
    free(table);
    char png[512];
    snprintf(png, sizeof png, "%s/compare.png", tmp_root);
    ck_assert_msg(nr_comparison_plot(&cmp, png, &err) == 0, "%s", err.message);
    char *data;
    size_t len;
    ck_assert(nr_read_file(png, 1 << 24, &data, &len, &err) == 0);
    ck_assert(len > 1000);
    ck_assert(memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0);
    free(data);
    nr_comparison_free(&cmp);
    free(a);
    free(b);
    free(c);
    remove_root();
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("compare");
    TCase *labels = tcase_create("labels");
    tcase_add_test(labels, test_labels_sweep);
    tcase_add_test(labels, test_labels_exercises);
    tcase_add_test(labels, test_labels_ambiguous_keys_and_duplicates);
    tcase_add_test(labels, test_labels_long_values_named);
    suite_add_tcase(suite, labels);
    TCase *runs = tcase_create("runs");
    tcase_add_test(runs, test_run_info_plain_history);
    tcase_add_test(runs, test_run_info_validation_history_no_summary);
    tcase_add_test(runs, test_run_info_params_line);
    tcase_add_test(runs, test_history_round_trip);
    tcase_add_test(runs, test_run_info_errors);
    tcase_add_test(runs, test_comparison_table_and_plot);
    suite_add_tcase(suite, runs);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
