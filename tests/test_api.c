/* test_api.c - the C API (netrun/netrun.h) on tiny models trained here
 * (netrun-synth data, nr_run): open errors and their messages (to the
 * caller's buffer, cut to its size), shapes and class names, predictions
 * equal to nr_model's bit for bit and counting what the run's test
 * evaluation (`netrun eval`) counts, the interleaved layout, argument
 * errors kept in the model, reading PNGs, and models used from two
 * threads at once. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netrun/data.h"
#include "netrun/model.h"
#include "netrun/netrun.h"
#include "netrun/run.h"

/* ---- the models: gray 1x12x12 bars of 3 named classes, RGB 3x10x10 of 4 */

static char root[256];
static char gray_run[512], rgb_run[512];
static double gray_test_acc;   /* the run's final test accuracy (what eval reports) */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void make_dataset(const char *name, const char *args)
{
    /* the build folder: $NETRUN_BINARY_DIR (set by ctest), else the current one */
    char cwd[1024];
    const char *bin = getenv("NETRUN_BINARY_DIR");
    if (!bin || !*bin)
        bin = getcwd(cwd, sizeof cwd);
    ck_assert_ptr_nonnull(bin);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/netrun-synth' %s %s >/dev/null", root, bin, name,
             args);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* Trains SPEC_TEXT (written as ROOT/NAME.yaml) into ROOT/NAME-run; returns the
 * final test accuracy. */
static double train(const char *name, const char *spec_text, char *run_dir, size_t size)
{
    char spec[512];
    snprintf(spec, sizeof spec, "%s/%s.yaml", root, name);
    snprintf(run_dir, size, "%s/%s-run", root, name);
    write_text(spec, spec_text);
    nr_run_options opts = {.spec_path = spec, .out_dir = run_dir};
    nr_run_result result;
    nr_error err = {0};
    ck_assert_msg(nr_run(&opts, &result, &err) == 0, "%s", err.message);
    return result.final_test_acc;
}

#define SPEC_TAIL                                            \
    "    - relu\n"                                           \
    "    - maxpool: {size: 2, stride: 2}\n"                  \
    "    - dense: {units: %d}\n"                             \
    "    - softmax\n"                                        \
    "train:\n"                                               \
    "  optimizer: {sgd: {lr: 0.02, momentum: 0.9}}\n"        \
    "  batch_size: 16\n"                                     \
    "  epochs: 1\n"                                          \
    "threads: 1\n"

static void setup_models(void)
{
    snprintf(root, sizeof root, "%s/netrun-test-api-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
    make_dataset("bars", "--classes 3 --names horizontal,vertical,diagonal --seed 7");
    make_dataset("rgb", "--classes 4 --size 10x10 --channels 3 --seed 9");
    char spec[2048];
    /* one epoch at a small lr: good, not perfect (errors to count) */
    snprintf(spec, sizeof spec,
             "name: gray\nseed: 3\ndata: {train: bars/Train, test: bars/Test}\n"
             "network:\n  input: [1, 12, 12]\n  layers:\n"
             "    - conv: {filters: 4, size: 3, stride: 1, pad: 1}\n" SPEC_TAIL, 3);
    gray_test_acc = train("gray", spec, gray_run, sizeof gray_run);
    snprintf(spec, sizeof spec,
             "name: rgb\nseed: 3\ndata: {train: rgb/Train, test: rgb/Test}\n"
             "network:\n  input: [3, 10, 10]\n  layers:\n"
             "    - conv: {filters: 4, size: 3, stride: 1, pad: 1}\n" SPEC_TAIL, 4);
    train("rgb", spec, rgb_run, sizeof rgb_run);
}

static void remove_models(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static netrun_model *open_ok(const char *path, int threads)
{
    char error[NETRUN_ERROR_MAX] = "unchanged";
    netrun_model *m = NULL;
    ck_assert_msg(netrun_model_open(path, threads, &m, error, sizeof error) == NETRUN_OK,
                  "%s", error);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(error, "");
    ck_assert_str_eq(netrun_model_error(m), "");
    return m;
}

static nr_dataset *load_test_set(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/Test", root, name);
    nr_data_options opts = {.use_cache = 0, .threads = 1};
    nr_dataset *ds = NULL;
    nr_error err = {0};
    ck_assert_msg(nr_dataset_load(path, &opts, &ds, &err) == 0, "%s", err.message);
    return ds;
}

/* ---- version ---- */

START_TEST(test_version)
{
    ck_assert_str_eq(netrun_version_string(), NETRUN_VERSION);   /* the project's */
    ck_assert_str_eq(netrun_version_string(), NETRUN_VERSION_STRING);
    ck_assert_int_eq(netrun_version(), NETRUN_VERSION_NUMBER);
    char numbers[32];
    snprintf(numbers, sizeof numbers, "%d.%d.%d", NETRUN_VERSION_MAJOR, NETRUN_VERSION_MINOR,
             NETRUN_VERSION_PATCH);
    ck_assert_str_eq(numbers, NETRUN_VERSION);
}
END_TEST

/* ---- opening ---- */

/* netrun_model_open(path) fails with status; the message starts with start. */
static void expect_open_error(const char *path, int threads, int status, const char *start,
                              const char *words)
{
    char error[NETRUN_ERROR_MAX];
    netrun_model *m = (netrun_model *)&error;   /* must become NULL */
    ck_assert_int_eq(netrun_model_open(path, threads, &m, error, sizeof error), status);
    ck_assert_ptr_null(m);
    ck_assert_msg(strncmp(error, start, strlen(start)) == 0, "'%s' does not start with '%s'",
                  error, start);
    ck_assert_msg(strstr(error, words), "'%s' lacks '%s'", error, words);
    ck_assert_ptr_null(strchr(error, '\n'));
}

START_TEST(test_open_errors)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/nope", root);
    expect_open_error(path, 0, NETRUN_ERR_INPUT, path, ": error: no such file or folder");
    snprintf(path, sizeof path, "%s/bars", root);   /* a folder without weights.bin */
    expect_open_error(path, 0, NETRUN_ERR_INPUT, path, ": error: no weights.bin");
    /* a weights file without its resolved.yaml beside it */
    char lone[600], cmd[4096];
    snprintf(lone, sizeof lone, "%s/lone", root);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s/weights.bin' '%s/'", lone, gray_run,
             lone);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/weights.bin", lone);
    expect_open_error(path, 0, NETRUN_ERR_INPUT, lone, "no resolved.yaml beside the weights");
    /* a spec that is not the weights' network */
    snprintf(cmd, sizeof cmd, "cp '%s/resolved.yaml' '%s/'", rgb_run, lone);
    ck_assert_int_eq(system(cmd), 0);
    expect_open_error(path, 0, NETRUN_ERR_INPUT, path, ": error:");
    expect_open_error(NULL, 0, NETRUN_ERR_INPUT, "netrun_model_open: error: no path", "");
    expect_open_error(gray_run, -1, NETRUN_ERR_INPUT, "netrun_model_open: error: threads < 0",
                      "");

    /* a small buffer gets the message cut, NUL-terminated; none is fine */
    char full[NETRUN_ERROR_MAX], cut[16];
    netrun_model *m;
    ck_assert_int_eq(netrun_model_open("nope", 0, &m, full, sizeof full), NETRUN_ERR_INPUT);
    memset(cut, 'x', sizeof cut);
    ck_assert_int_eq(netrun_model_open("nope", 0, &m, cut, sizeof cut), NETRUN_ERR_INPUT);
    ck_assert_uint_eq(strlen(cut), sizeof cut - 1);
    ck_assert_int_eq(strncmp(cut, full, sizeof cut - 1), 0);
    ck_assert_int_eq(netrun_model_open("nope", 0, &m, NULL, 0), NETRUN_ERR_INPUT);
    ck_assert_ptr_null(m);
    cut[0] = 'x';
    ck_assert_int_eq(netrun_model_open("nope", 0, &m, cut, 0), NETRUN_ERR_INPUT);
    ck_assert_int_eq(cut[0], 'x');   /* size 0: nothing written */
    ck_assert_int_eq(netrun_model_open(gray_run, 0, NULL, full, sizeof full),
                     NETRUN_ERR_INPUT);
    ck_assert_str_eq(full, "netrun_model_open: error: no place for the model (model is NULL)");
    ck_assert_ptr_nonnull(netrun_model_error(NULL));
    netrun_model_close(NULL);
}
END_TEST

/* ---- what the model knows ---- */

START_TEST(test_shapes_and_names)
{
    char weights[1024];
    snprintf(weights, sizeof weights, "%s/weights.bin", gray_run);
    const char *paths[] = {gray_run, weights};   /* the run folder or its weights file */
    for (int i = 0; i < 2; i++) {
        netrun_model *m = open_ok(paths[i], 0);
        ck_assert_int_eq(netrun_model_channels(m), 1);
        ck_assert_int_eq(netrun_model_height(m), 12);
        ck_assert_int_eq(netrun_model_width(m), 12);
        ck_assert_uint_eq(netrun_model_image_size(m), 144);
        ck_assert_int_eq(netrun_model_class_count(m), 3);
        ck_assert_str_eq(netrun_model_class_name(m, 0), "diagonal");   /* sorted */
        ck_assert_str_eq(netrun_model_class_name(m, 1), "horizontal");
        ck_assert_str_eq(netrun_model_class_name(m, 2), "vertical");
        ck_assert_ptr_null(netrun_model_class_name(m, 3));
        ck_assert_ptr_null(netrun_model_class_name(m, -1));
        ck_assert_int_eq(netrun_model_outputs_probabilities(m), 1);
        netrun_model_close(m);
    }
    netrun_model *m = open_ok(rgb_run, 1);
    ck_assert_int_eq(netrun_model_channels(m), 3);
    ck_assert_int_eq(netrun_model_height(m), 10);
    ck_assert_int_eq(netrun_model_width(m), 10);
    ck_assert_uint_eq(netrun_model_image_size(m), 300);
    ck_assert_int_eq(netrun_model_class_count(m), 4);
    ck_assert_str_eq(netrun_model_class_name(m, 3), "3");
    netrun_model_close(m);
}
END_TEST

/* ---- predictions ---- */

/* nr_model's outputs and predictions for all of ds, batch by batch. */
static void reference(const char *run, const nr_dataset *ds, float *out, int32_t *predicted)
{
    nr_model model;
    nr_error err = {0};
    ck_assert_msg(nr_model_open(run, 0, -1, &model, &err) == 0, "%s", err.message);
    size_t size = nr_model_image_size(&model), classes = nr_model_classes(&model);
    for (size_t first = 0; first < ds->count; first += (size_t)model.max_batch) {
        size_t n = ds->count - first < (size_t)model.max_batch ? ds->count - first
                                                               : (size_t)model.max_batch;
        nr_model_predict_pixels(&model, ds->pixels + first * size, (int)n,
                                out + first * classes, predicted + first);
    }
    nr_model_close(&model);
}

START_TEST(test_predict_as_nr_model_and_eval)
{
    nr_dataset *ds = load_test_set("bars");
    const int n = (int)ds->count;   /* 60: batches of 16, the last one short */
    ck_assert_int_eq(n, 60);
    float *want = malloc((size_t)n * 3 * sizeof *want);
    float *got = malloc((size_t)n * 3 * sizeof *got);
    int32_t *want_class = malloc((size_t)n * sizeof *want_class);
    int *got_class = malloc((size_t)n * sizeof *got_class);
    int *only_class = malloc((size_t)n * sizeof *only_class);
    ck_assert(want && got && want_class && got_class && only_class);
    reference(gray_run, ds, want, want_class);

    netrun_model *m = open_ok(gray_run, 0);
    memset(got, 0xff, (size_t)n * 3 * sizeof *got);
    ck_assert_int_eq(netrun_model_predict(m, ds->pixels, n, NETRUN_LAYOUT_CHW, got, got_class),
                     NETRUN_OK);
    ck_assert_mem_eq(got, want, (size_t)n * 3 * sizeof *got);   /* the same bits */
    int correct = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(got_class[i], want_class[i]);
        correct += got_class[i] == ds->labels[i];
        double sum = got[i * 3] + got[i * 3 + 1] + got[i * 3 + 2];
        ck_assert_msg(fabs(sum - 1.0) < 1e-5, "image %d: probabilities sum to %g", i, sum);
        for (int k = 0; k < 3; k++)   /* the predicted class has the largest probability */
            ck_assert(got[i * 3 + k] <= got[i * 3 + got_class[i]]);
    }
    /* what the run's test evaluation (`netrun eval`) counted */
    ck_assert_int_eq(correct, (int)lround(gray_test_acc * n));
    ck_assert_int_lt(correct, n);   /* an imperfect model: the count means something */
    ck_assert_int_gt(correct, n / 3);

    /* either output may be left out; one image at a time is the same */
    ck_assert_int_eq(netrun_model_predict(m, ds->pixels, n, NETRUN_LAYOUT_CHW, NULL, only_class),
                     NETRUN_OK);
    ck_assert_mem_eq(only_class, got_class, (size_t)n * sizeof *only_class);
    ck_assert_int_eq(netrun_model_predict(m, ds->pixels, n, NETRUN_LAYOUT_CHW, got, NULL),
                     NETRUN_OK);
    ck_assert_mem_eq(got, want, (size_t)n * 3 * sizeof *got);
    for (int i = 0; i < n; i++) {
        float one[3];
        int cls = -1;
        ck_assert_int_eq(netrun_model_predict(m, ds->pixels + (size_t)i * 144, 1,
                                              NETRUN_LAYOUT_HWC, one, &cls), NETRUN_OK);
        ck_assert_int_eq(cls, got_class[i]);   /* one channel: HWC is CHW */
        for (int k = 0; k < 3; k++)
            ck_assert_float_eq_tol(one[k], got[i * 3 + k], 1e-6f);
    }
    ck_assert_int_eq(netrun_model_predict(m, NULL, 0, NETRUN_LAYOUT_CHW, NULL, NULL), NETRUN_OK);
    netrun_model_close(m);
    nr_dataset_free(ds);
    free(want);
    free(got);
    free(want_class);
    free(got_class);
    free(only_class);
}
END_TEST

START_TEST(test_predict_interleaved)
{
    nr_dataset *ds = load_test_set("rgb");
    const int n = (int)ds->count, classes = 4;
    const size_t size = 300, plane = 100;
    uint8_t *hwc = malloc((size_t)n * size);
    float *want = malloc((size_t)n * classes * sizeof *want);
    float *got = malloc((size_t)n * classes * sizeof *got);
    int32_t *want_class = malloc((size_t)n * sizeof *want_class);
    int *got_class = malloc((size_t)n * sizeof *got_class);
    ck_assert(hwc && want && got && want_class && got_class);
    for (int i = 0; i < n; i++)   /* RGBRGB... as image libraries give */
        for (size_t p = 0; p < plane; p++)
            for (size_t c = 0; c < 3; c++)
                hwc[(size_t)i * size + p * 3 + c] = ds->pixels[(size_t)i * size + c * plane + p];
    reference(rgb_run, ds, want, want_class);
    netrun_model *m = open_ok(rgb_run, 0);
    ck_assert_int_eq(netrun_model_predict(m, hwc, n, NETRUN_LAYOUT_HWC, got, got_class),
                     NETRUN_OK);
    ck_assert_mem_eq(got, want, (size_t)n * classes * sizeof *got);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(got_class[i], want_class[i]);
    /* the same bytes read as planar are other images */
    ck_assert_int_eq(netrun_model_predict(m, hwc, n, NETRUN_LAYOUT_CHW, got, got_class),
                     NETRUN_OK);
    ck_assert(memcmp(got, want, (size_t)n * classes * sizeof *got) != 0);
    netrun_model_close(m);
    nr_dataset_free(ds);
    free(hwc);
    free(want);
    free(got);
    free(want_class);
    free(got_class);
}
END_TEST

START_TEST(test_predict_errors)
{
    netrun_model *m = open_ok(gray_run, 0);
    uint8_t pixels[144] = {0};
    float out[3];
    int cls;
    ck_assert_int_eq(netrun_model_predict(m, pixels, 1, 2, out, &cls), NETRUN_ERR_INPUT);
    ck_assert_str_eq(netrun_model_error(m), "netrun_model_predict: error: layout 2; valid: "
                     "NETRUN_LAYOUT_CHW (0) or NETRUN_LAYOUT_HWC (1)");
    ck_assert_int_eq(netrun_model_predict(m, pixels, -1, NETRUN_LAYOUT_CHW, out, &cls),
                     NETRUN_ERR_INPUT);
    ck_assert_str_eq(netrun_model_error(m), "netrun_model_predict: error: count < 0; give the "
                     "number of images (0 or more)");
    ck_assert_int_eq(netrun_model_predict(m, NULL, 1, NETRUN_LAYOUT_CHW, out, &cls),
                     NETRUN_ERR_INPUT);
    ck_assert_str_eq(netrun_model_error(m),
                     "netrun_model_predict: error: no pixels (NULL) for the images");
    /* a call that succeeds clears the message */
    ck_assert_int_eq(netrun_model_predict(m, pixels, 1, NETRUN_LAYOUT_CHW, out, &cls), NETRUN_OK);
    ck_assert_str_eq(netrun_model_error(m), "");
    ck_assert_int_ge(cls, 0);
    ck_assert_int_lt(cls, 3);
    ck_assert_int_eq(netrun_model_predict(NULL, pixels, 1, NETRUN_LAYOUT_CHW, out, &cls),
                     NETRUN_ERR_INPUT);
    netrun_model_close(m);
}
END_TEST

/* ---- reading PNGs ---- */

START_TEST(test_load_image)
{
    nr_dataset *ds = load_test_set("bars");
    netrun_model *m = open_ok(gray_run, 0);
    uint8_t pixels[144];
    for (size_t i = 0; i < ds->count; i += 17) {   /* as training read them */
        char path[1024];
        snprintf(path, sizeof path, "%s/bars/Test/%s", root, ds->files[i]);
        memset(pixels, 0x55, sizeof pixels);
        ck_assert_msg(netrun_model_load_image(m, path, pixels) == NETRUN_OK, "%s",
                      netrun_model_error(m));
        ck_assert_mem_eq(pixels, ds->pixels + i * 144, 144);
    }
    char path[1024], want[1400];
    snprintf(path, sizeof path, "%s/rgb/Test/0/0000.png", root);
    ck_assert_int_eq(netrun_model_load_image(m, path, pixels), NETRUN_ERR_INPUT);
    snprintf(want, sizeof want, "%s: error: a 3x10x10 image (channels x height x width); the "
             "model takes 1x12x12 images, as it was trained on (its spec's data.size and "
             "data.channels, when given, resize and convert images)", path);
    ck_assert_str_eq(netrun_model_error(m), want);
    snprintf(path, sizeof path, "%s/nope.png", root);
    ck_assert_int_eq(netrun_model_load_image(m, path, pixels), NETRUN_ERR_INPUT);
    ck_assert_msg(strncmp(netrun_model_error(m), path, strlen(path)) == 0, "%s",
                  netrun_model_error(m));
    snprintf(path, sizeof path, "%s/resolved.yaml", gray_run);   /* not a PNG */
    ck_assert_int_eq(netrun_model_load_image(m, path, pixels), NETRUN_ERR_INPUT);
    ck_assert_msg(strncmp(netrun_model_error(m), path, strlen(path)) == 0, "%s",
                  netrun_model_error(m));
    ck_assert_int_eq(netrun_model_load_image(m, NULL, pixels), NETRUN_ERR_INPUT);
    ck_assert_str_eq(netrun_model_error(m), "netrun_model_load_image: error: no path (NULL)");
    netrun_model_close(m);
    nr_dataset_free(ds);
}
END_TEST

/* ---- threads: one model per thread, several at once ---- */

typedef struct worker {
    const nr_dataset *ds;
    int threads;             /* the model's worker threads */
    float *out;              /* [count, 3] */
    int *predicted;
    int status;
} worker;

static void *predict_repeatedly(void *arg)
{
    worker *w = arg;
    netrun_model *m = NULL;
    w->status = netrun_model_open(gray_run, w->threads, &m, NULL, 0);
    for (int round = 0; round < 5 && w->status == NETRUN_OK; round++)
        w->status = netrun_model_predict(m, w->ds->pixels, (int)w->ds->count,
                                         NETRUN_LAYOUT_CHW, w->out, w->predicted);
    netrun_model_close(m);
    return NULL;
}

START_TEST(test_models_on_threads)
{
    nr_dataset *ds = load_test_set("bars");
    const size_t n = ds->count;
    float *want = malloc(n * 3 * sizeof *want);
    int32_t *want_class = malloc(n * sizeof *want_class);
    ck_assert(want && want_class);
    reference(gray_run, ds, want, want_class);
    worker w[3];
    pthread_t id[3];
    for (int t = 0; t < 3; t++) {
        /* two single-threaded models at once and one with a pool of its own */
        w[t] = (worker){ds, t == 2 ? 2 : 1, malloc(n * 3 * sizeof(float)),
                        malloc(n * sizeof(int)), -1};
        ck_assert(w[t].out && w[t].predicted);
        ck_assert_int_eq(pthread_create(&id[t], NULL, predict_repeatedly, &w[t]), 0);
    }
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(pthread_join(id[t], NULL), 0);
        ck_assert_int_eq(w[t].status, NETRUN_OK);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(w[t].predicted[i], want_class[i]);
            for (size_t k = 0; k < 3; k++)
                ck_assert_float_eq_tol(w[t].out[i * 3 + k], want[i * 3 + k], 1e-6f);
        }
        free(w[t].out);
        free(w[t].predicted);
    }
    free(want);
    free(want_class);
    nr_dataset_free(ds);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_unchecked_fixture(tc, setup_models, remove_models);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_shapes_and_names);
    tcase_add_test(tc, test_predict_as_nr_model_and_eval);
    tcase_add_test(tc, test_predict_interleaved);
    tcase_add_test(tc, test_predict_errors);
    tcase_add_test(tc, test_load_image);
    tcase_add_test(tc, test_models_on_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
