/* test_model.c - a trained model opened for use (netrun/model.h) and
 * applied to image files (netrun/predict.h): nr_model_open's errors (no
 * such path, a folder without weights.bin, weights without resolved.yaml
 * beside them), a version-1 weights file getting index names, predictions
 * of a Test folder equal to what nr_evaluate counts (same classes, same
 * probability bits), the image listing (sorted, hidden and non-image
 * entries skipped, class folders judged per operand) and images that
 * cannot be used named while the others are predicted.
 *
 * One tiny model is trained once (nr_run, 2 epochs on 8x8 toy images of 4
 * classes written as PNG class folders) under a mkdtemp folder. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netrun/data.h"
#include "netrun/fileio.h"
#include "netrun/model.h"
#include "netrun/predict.h"
#include "netrun/run.h"
#include "netrun/train.h"

#include "toy_data.h"

static char base[] = "/tmp/test_model-XXXXXX";
static char run_dir[256], test_dir[256];

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void make_dir(const char *path)
{
    ck_assert_msg(mkdir(path, 0755) == 0 || access(path, F_OK) == 0, "mkdir %s", path);
}

/* ROOT/<class>/NNNN.png for `count` toy images of `seed`. */
static void write_toy_folder(const char *root, size_t count, uint64_t seed)
{
    nr_dataset *ds = toy_dataset(count, seed);
    make_dir(root);
    for (size_t i = 0; i < count; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", root, ds->class_names[ds->labels[i]]);
        make_dir(path);
        snprintf(path, sizeof path, "%s/%s/%04zu.png", root, ds->class_names[ds->labels[i]], i);
        nr_error err = {0};
        ck_assert_msg(nr_png_write(path, ds->pixels + i * 64, 1, 8, 8, &err) == 0, "%s",
                      err.message);
    }
    toy_free(ds);
}

static void train_tiny_model(void)
{
    ck_assert_ptr_nonnull(mkdtemp(base));
    char path[512];
    snprintf(path, sizeof path, "%s/data", base);
    make_dir(path);
    snprintf(path, sizeof path, "%s/data/Train", base);
    write_toy_folder(path, 96, 1);
    snprintf(test_dir, sizeof test_dir, "%s/data/Test", base);
    write_toy_folder(test_dir, 40, 2);
    snprintf(path, sizeof path, "%s/tiny.yaml", base);
    write_file(path, "name: tiny\n"
                     "seed: 1\n"
                     "data: {train: data/Train, test: data/Test}\n"
                     "network:\n"
                     "  layers:\n"
                     "    - conv: {filters: 4, size: 3, pad: 1}\n"
                     "    - relu\n"
                     "    - maxpool: {size: 2, stride: 2}\n"
                     "    - dense: {units: 4}\n"
                     "train:\n"
                     "  batch_size: 16\n"
                     "  epochs: 2\n");
    snprintf(run_dir, sizeof run_dir, "%s/run", base);
    nr_run_options opts = {.spec_path = path, .out_dir = run_dir};
    nr_run_result result;
    nr_error err = {0};
    ck_assert_msg(nr_run(&opts, &result, &err) == 0, "%s", err.message);
}

static void remove_tree(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
}

static void copy_file(const char *from, const char *to)
{
    char *data;
    size_t len;
    nr_error err = {0};
    ck_assert_msg(nr_read_file(from, 1u << 26, &data, &len, &err) == 0, "%s", err.message);
    ck_assert_msg(nr_write_file_atomic(to, data, len, &err) == 0, "%s", err.message);
    free(data);
}

/* base/DIR (made when missing), into *path. */
static void model_dir(const char *dir, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", base, dir);
    make_dir(path);
}

/* The run's file NAME copied to DIR/AS. */
static void copy_run_file(const char *name, const char *dir, const char *as)
{
    char from[600], to[600];
    snprintf(from, sizeof from, "%s/%s", run_dir, name);
    snprintf(to, sizeof to, "%s/%s", dir, as);
    copy_file(from, to);
}

START_TEST(test_open_errors)
{
    nr_model m;
    nr_error err = {0};
    char path[512], file[600];
    /* no such path */
    snprintf(path, sizeof path, "%s/missing", base);
    ck_assert_int_eq(nr_model_open(path, 0, 1, &m, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strstr(err.message, path) && strstr(err.message, "no such file or folder"),
                  "%s", err.message);
    ck_assert_ptr_null(m.net);
    nr_model_close(&m); /* a failed open leaves a zeroed model */
    /* a run folder without weights.bin (training not finished) */
    model_dir("unfinished", path, sizeof path);
    copy_run_file("resolved.yaml", path, "resolved.yaml");
    ck_assert_int_eq(nr_model_open(path, 0, 1, &m, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strstr(err.message, "no weights.bin in this folder"), "%s", err.message);
    /* a weights file without resolved.yaml beside it */
    model_dir("lonely", path, sizeof path);
    copy_run_file("weights.bin", path, "model.bin");
    snprintf(file, sizeof file, "%s/model.bin", path);
    ck_assert_int_eq(nr_model_open(file, 0, 1, &m, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strstr(err.message, "no resolved.yaml beside the weights") &&
                      strstr(err.message, file),
                  "%s", err.message);
    /* with it beside, the same weights file opens: a weights file is a model */
    copy_run_file("resolved.yaml", path, "resolved.yaml");
    ck_assert_msg(nr_model_open(file, 0, 1, &m, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(nr_model_classes(&m), 4);
    ck_assert_str_eq(m.info.class_names[2], "c");
    ck_assert(m.names_recorded);
    nr_model_close(&m);
}
END_TEST

/* The labels of predicting `operands` with the model: predicted[i] and
 * outputs[i * 4 + c] per list index (-1 / untouched for images that
 * failed). */
typedef struct recorder {
    int32_t predicted[256];
    float outputs[256 * 4];
    size_t calls, failures;
    size_t failed_index[16];
    char failed_message[16][1024];
    size_t last_index;
    bool in_order;
} recorder;

static int record_image(void *ctx, size_t index, const float *outputs, int32_t predicted,
                        nr_error *err)
{
    (void)err;
    recorder *r = ctx;
    ck_assert_uint_lt(index, 256);
    if (r->calls > 0 && index <= r->last_index)
        r->in_order = false;
    r->last_index = index;
    r->predicted[index] = predicted;
    memcpy(r->outputs + index * 4, outputs, 4 * sizeof *outputs);
    r->calls++;
    return 0;
}

static void record_failure(void *ctx, size_t index, const nr_error *why)
{
    recorder *r = ctx;
    ck_assert_uint_lt(r->failures, 16);
    r->failed_index[r->failures] = index;
    snprintf(r->failed_message[r->failures], sizeof r->failed_message[0], "%s", why->message);
    r->failures++;
}

static void predict_list(nr_model *m, const nr_image_list *list, recorder *r, size_t *failed)
{
    memset(r, 0, sizeof *r);
    r->in_order = true;
    for (size_t i = 0; i < 256; i++)
        r->predicted[i] = -1;
    nr_predict_hooks hooks = {.ctx = r, .on_image = record_image, .on_failure = record_failure};
    nr_error err = {0};
    ck_assert_msg(nr_predict_images(m, list, 2, &hooks, failed, &err) == 0, "%s", err.message);
}

START_TEST(test_predict_equals_evaluate)
{
    nr_model m;
    nr_error err = {0};
    ck_assert_msg(nr_model_open(run_dir, 0, -1, &m, &err) == 0, "%s", err.message);
    ck_assert_int_eq(m.max_batch, 16); /* the spec's batch size: eval's batches */
    nr_dataset *test = NULL;
    nr_data_options no_cache = {.use_cache = 0};
    ck_assert_msg(nr_dataset_load(test_dir, &no_cache, &test, &err) == 0, "%s", err.message);
    nr_eval_result eval;
    int32_t eval_predicted[64];
    float eval_confidence[64];
    ck_assert_uint_le(test->count, 64);
    ck_assert_msg(nr_evaluate(m.net, test, NULL, 0, m.max_batch, &eval, NULL, eval_predicted,
                              eval_confidence, &err) == 0,
                  "%s", err.message);

    const char *operands[] = {test_dir};
    nr_image_list list;
    ck_assert_msg(nr_image_list_collect(operands, 1, m.info.class_names, 4, &list, &err) == 0,
                  "%s", err.message);
    ck_assert_uint_eq(list.count, test->count);
    ck_assert_uint_eq(list.labelled, test->count);
    recorder r;
    size_t failed = 99;
    predict_list(&m, &list, &r, &failed);
    ck_assert_uint_eq(failed, 0);
    ck_assert_uint_eq(r.calls, test->count);
    ck_assert(r.in_order);
    size_t correct = 0;
    for (size_t i = 0; i < list.count; i++) {
        /* the loader's order, the loader's labels */
        const char *path = list.paths[i];
        size_t n = strlen(path), f = strlen(test->files[i]);
        ck_assert_msg(n > f && strcmp(path + n - f, test->files[i]) == 0, "%s vs %s", path,
                      test->files[i]);
        ck_assert_int_eq(list.true_class[i], test->labels[i]);
        ck_assert_int_eq(r.predicted[i], eval_predicted[i]);
        /* the same probability, to the bit */
        ck_assert_mem_eq(&r.outputs[i * 4 + (size_t)r.predicted[i]], &eval_confidence[i],
                         sizeof(float));
        correct += r.predicted[i] == list.true_class[i];
    }
    ck_assert_uint_eq(correct, eval.correct);
    ck_assert_uint_gt(correct, 0);
    nr_image_list_free(&list);
    nr_dataset_free(test);
    nr_model_close(&m);
}
END_TEST

/* A version-1 weights file: the run's weights.bin without its model section. */
static void write_v1(const char *from, const char *to)
{
    char *data;
    size_t len;
    nr_error err = {0};
    ck_assert_msg(nr_read_file(from, 1u << 26, &data, &len, &err) == 0, "%s", err.message);
    uint32_t version;
    memcpy(&version, data + 8, 4);
    ck_assert_uint_eq(version, 2);
    /* the model section: c, h, w, scale[c], shift[c], class count, names */
    int32_t channels;
    memcpy(&channels, data + 40, 4);
    size_t at = 40 + 12 + 8 * (size_t)channels;
    uint32_t classes;
    memcpy(&classes, data + at, 4);
    at += 4;
    for (uint32_t c = 0; c < classes; c++) {
        uint16_t n;
        memcpy(&n, data + at, 2);
        at += 2 + n;
    }
    size_t section = at - 40;
    memmove(data + 40, data + at, len - at);
    len -= section;
    version = 1;
    memcpy(data + 8, &version, 4);
    uint64_t checksum = nr_fnv1a(NR_FNV_OFFSET, data, len - 8);
    memcpy(data + len - 8, &checksum, 8);
    ck_assert_msg(nr_write_file_atomic(to, data, len, &err) == 0, "%s", err.message);
    free(data);
}

START_TEST(test_v1_weights_index_names)
{
    char dir[512], weights[600], from[600];
    model_dir("v1", dir, sizeof dir);
    snprintf(weights, sizeof weights, "%s/weights.bin", dir);
    snprintf(from, sizeof from, "%s/weights.bin", run_dir);
    write_v1(from, weights);
    copy_run_file("resolved.yaml", dir, "resolved.yaml");
    nr_model v1, v2;
    nr_error err = {0};
    ck_assert_msg(nr_model_open(dir, 0, -1, &v1, &err) == 0, "%s", err.message);
    ck_assert_msg(nr_model_open(run_dir, 0, -1, &v2, &err) == 0, "%s", err.message);
    ck_assert(!v1.names_recorded);
    ck_assert_int_eq(v1.info.version, 1);
    ck_assert_uint_eq(nr_model_classes(&v1), 4);
    const char *index_names[] = {"0", "1", "2", "3"};
    for (int c = 0; c < 4; c++)
        ck_assert_str_eq(v1.info.class_names[c], index_names[c]);
    ck_assert_int_eq(v1.info.channels, 1);
    ck_assert_int_eq(v1.info.height, 8);
    ck_assert_mem_eq(v1.info.pixel_scale, v2.info.pixel_scale, sizeof(float));
    /* the same parameters: the same outputs; the toy folders (a, b, c, d)
     * are no class folders of "0".."3" */
    const char *operands[] = {test_dir};
    nr_image_list l1, l2;
    ck_assert_msg(nr_image_list_collect(operands, 1, v1.info.class_names, 4, &l1, &err) == 0,
                  "%s", err.message);
    ck_assert_msg(nr_image_list_collect(operands, 1, v2.info.class_names, 4, &l2, &err) == 0,
                  "%s", err.message);
    ck_assert_uint_eq(l1.labelled, 0);
    ck_assert_uint_eq(l2.labelled, l2.count);
    recorder *r1 = malloc(sizeof *r1), *r2 = malloc(sizeof *r2);
    predict_list(&v1, &l1, r1, NULL);
    predict_list(&v2, &l2, r2, NULL);
    ck_assert_uint_eq(r1->calls, l1.count);
    ck_assert_mem_eq(r1->outputs, r2->outputs, l1.count * 4 * sizeof(float));
    free(r1);
    free(r2);
    nr_image_list_free(&l1);
    nr_image_list_free(&l2);
    nr_model_close(&v1);
    nr_model_close(&v2);
}
END_TEST

static char *const toy_names[] = {"a", "b", "c", "d"};

/* An 8x8 gray toy image at PATH (folders made as needed). */
static void put_image(const char *root, const char *rel)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *slash = strchr(path + strlen(root) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        make_dir(path);
        *slash = '/';
    }
    uint8_t pixels[64] = {0};
    nr_error err = {0};
    ck_assert_msg(nr_png_write(path, pixels, 1, 8, 8, &err) == 0, "%s", err.message);
}

START_TEST(test_image_listing)
{
    char root[512], path[700];
    snprintf(root, sizeof root, "%s/listing", base);
    make_dir(root);
    /* class folders b and a (listed sorted), nested deeper, a hidden folder,
     * a hidden file, a non-image and an upper-case suffix */
    put_image(root, "set/b/2.png");
    put_image(root, "set/b/10.PNG");
    put_image(root, "set/a/x.png");
    put_image(root, "set/.netrun-cache/a/y.png");
    put_image(root, "set/a/.hidden.png");
    snprintf(path, sizeof path, "%s/set/a/notes.txt", root);
    write_file(path, "not an image\n");
    /* a folder whose images are not all in class folders */
    put_image(root, "mixed/a/1.png");
    put_image(root, "mixed/photos/2.png");
    /* a symbolic link back up: no loop */
    snprintf(path, sizeof path, "%s/set/b/loop", root);
    char target[600];
    snprintf(target, sizeof target, "%s/set", root);
    ck_assert_int_eq(symlink(target, path), 0);

    char set[600], mixed[600], file_c[600], file_a[600];
    snprintf(set, sizeof set, "%s/set", root);
    snprintf(mixed, sizeof mixed, "%s/mixed", root);
    put_image(root, "loose/c/3.png");
    snprintf(file_c, sizeof file_c, "%s/loose/c/3.png", root);
    snprintf(file_a, sizeof file_a, "%s/set/a/x.png", root);
    const char *operands[] = {set, file_c, mixed, file_a};
    nr_image_list list;
    nr_error err = {0};
    ck_assert_msg(nr_image_list_collect(operands, 4, toy_names, 4, &list, &err) == 0, "%s",
                  err.message);
    const char *want[] = {"set/a/x.png", "set/b/10.PNG", "set/b/2.png", "loose/c/3.png",
                          "mixed/a/1.png", "mixed/photos/2.png", "set/a/x.png"};
    const int32_t want_class[] = {0, 1, 1, 2, -1, -1, 0};
    ck_assert_uint_eq(list.count, 7);
    for (size_t i = 0; i < list.count; i++) {
        snprintf(path, sizeof path, "%s/%s", root, want[i]);
        ck_assert_str_eq(list.paths[i], path);
        ck_assert_int_eq(list.true_class[i], want_class[i]);
    }
    ck_assert_uint_eq(list.labelled, 5);
    nr_image_list_free(&list);
    /* without class names nothing is labelled */
    ck_assert_int_eq(nr_image_list_collect(operands, 1, toy_names, 0, &list, &err), 0);
    ck_assert_uint_eq(list.labelled, 0);
    nr_image_list_free(&list);
    /* a file operand outside class folders takes the file group with it */
    snprintf(path, sizeof path, "%s/mixed/photos/2.png", root);
    const char *files[] = {file_a, path};
    ck_assert_int_eq(nr_image_list_collect(files, 2, toy_names, 4, &list, &err), 0);
    ck_assert_uint_eq(list.labelled, 0);
    nr_image_list_free(&list);

    /* errors: a missing operand, a folder without images */
    snprintf(path, sizeof path, "%s/nope.png", root);
    const char *missing[] = {set, path};
    ck_assert_int_eq(nr_image_list_collect(missing, 2, toy_names, 4, &list, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strstr(err.message, path) && strstr(err.message, "no such file or folder"),
                  "%s", err.message);
    ck_assert_uint_eq(list.count, 0);
    snprintf(path, sizeof path, "%s/empty", root);
    make_dir(path);
    snprintf(target, sizeof target, "%s/empty/.netrun-cache", root);
    write_file(target, "x");
    const char *empty[] = {path};
    ck_assert_int_eq(nr_image_list_collect(empty, 1, toy_names, 4, &list, &err), -1);
    ck_assert_msg(strstr(err.message, "no images (.png, .jpg or .jpeg files) in this folder"), "%s",
                  err.message);
}
END_TEST

START_TEST(test_unusable_images_named)
{
    nr_model m;
    nr_error err = {0};
    ck_assert_msg(nr_model_open(run_dir, 0, -1, &m, &err) == 0, "%s", err.message);
    char root[512], path[700];
    snprintf(root, sizeof root, "%s/unusable", base);
    make_dir(root);
    /* good images around a truncated PNG, an RGB image and a larger one */
    for (int i = 0; i < 20; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "a/%02d.png", i * 2);
        put_image(root, rel);
    }
    snprintf(path, sizeof path, "%s/a/05.png", root);
    write_file(path, "\x89PNG\r\n\x1a\n");
    uint8_t rgb[3 * 64] = {0};
    snprintf(path, sizeof path, "%s/a/07.png", root);
    ck_assert_int_eq(nr_png_write(path, rgb, 3, 8, 8, &err), 0);
    uint8_t big[100] = {0};
    snprintf(path, sizeof path, "%s/a/33.png", root);
    ck_assert_int_eq(nr_png_write(path, big, 1, 10, 10, &err), 0);
    const char *operands[] = {root};
    nr_image_list list;
    ck_assert_int_eq(nr_image_list_collect(operands, 1, m.info.class_names, 4, &list, &err), 0);
    ck_assert_uint_eq(list.count, 23);
    recorder r;
    size_t failed = 0;
    predict_list(&m, &list, &r, &failed);
    ck_assert_uint_eq(failed, 3);
    ck_assert_uint_eq(r.failures, 3);
    ck_assert_uint_eq(r.calls, 20);
    ck_assert(r.in_order);
    /* sorted: 00 02 04 05 06 07 ... 32 33 34 ... */
    ck_assert_uint_eq(r.failed_index[0], 3);
    ck_assert_uint_eq(r.failed_index[1], 5);
    ck_assert_uint_eq(r.failed_index[2], 19);
    ck_assert_msg(strstr(r.failed_message[0], "05.png: error: "), "%s", r.failed_message[0]);
    ck_assert_msg(strstr(r.failed_message[1], "07.png: error: the image is 3x8x8 (RGB, 8x8 "
                                               "pixels) but the model takes 1x8x8 (gray, 8x8 "
                                               "pixels) images"),
                  "%s", r.failed_message[1]);
    ck_assert_msg(strstr(r.failed_message[2], "33.png: error: the image is 1x10x10"), "%s",
                  r.failed_message[2]);
    for (size_t i = 0; i < list.count; i++) {
        bool bad = i == 3 || i == 5 || i == 19;
        ck_assert_int_eq(r.predicted[i] < 0, bad);
    }
    /* the same black image, the same outputs, whichever batch it fell in */
    ck_assert_mem_eq(r.outputs, r.outputs + 22 * 4, 4 * sizeof(float));
    nr_image_list_free(&list);
    nr_model_close(&m);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_add_unchecked_fixture(tc, train_tiny_model, remove_tree);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_predict_equals_evaluate);
    tcase_add_test(tc, test_v1_weights_index_names);
    tcase_add_test(tc, test_image_listing);
    tcase_add_test(tc, test_unusable_images_named);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
