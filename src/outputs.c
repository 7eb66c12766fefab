/* outputs.c - pictures and tables of a run folder (see netrun/outputs.h). */
#include "netrun/outputs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/augment.h"
#include "netrun/fileio.h"
#include "netrun/format.h"
#include "netrun/plot.h"

void nr_curves_title(const nr_train_config *cfg, int epochs_done, double train_seconds,
                     char *buf, size_t size)
{
    char lr[64], duration[32];
    if (cfg->schedule.kind == NR_SCHEDULE_CONSTANT)
        snprintf(lr, sizeof lr, "%g", nr_train_config_lr(cfg));
    else
        snprintf(lr, sizeof lr, "%s from %g", nr_schedule_name(cfg->schedule.kind),
                 nr_train_config_lr(cfg));
    nr_format_duration(train_seconds, duration, sizeof duration);
    snprintf(buf, size, "Batch size: %d | Learning rate: %s | Epochs: %d | Training time: %s",
             cfg->batch_size, lr, epochs_done, duration);
}

int nr_write_curves(const char *dir, const nr_epoch_record *history, int epochs_done,
                    const char *title, nr_error *err)
{
    size_t n = (size_t)epochs_done;
    double *columns = malloc(6 * (n ? n : 1) * sizeof *columns);
    if (!columns)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    double *train_cost = columns, *test_cost = columns + n, *train_acc = columns + 2 * n,
           *test_acc = columns + 3 * n, *val_cost = columns + 4 * n, *val_acc = columns + 5 * n;
    bool validation = n && !isnan(history[0].val_cost);
    for (size_t i = 0; i < n; i++) {
        train_cost[i] = history[i].train_cost;
        test_cost[i] = history[i].test_cost;
        train_acc[i] = history[i].train_acc;
        test_acc[i] = history[i].test_acc;
        val_cost[i] = history[i].val_cost;
        val_acc[i] = history[i].val_acc;
    }
    nr_curve_series series = {.epochs = n,
                              .train_cost = train_cost,
                              .test_cost = test_cost,
                              .train_acc = train_acc,
                              .test_acc = test_acc,
                              .val_cost = validation ? val_cost : NULL,
                              .val_acc = validation ? val_acc : NULL};
    char *png = nr_path_join(dir, "curves.png"), *svg = nr_path_join(dir, "curves.svg");
    int status = -1;
    if (!png || !svg)
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    else if (nr_plot_learning_curves(png, &series, title, err) == 0 &&
             nr_plot_learning_curves(svg, &series, title, err) == 0)
        status = 0;
    free(png);
    free(svg);
    free(columns);
    return status;
}

/* misclassified.csv: index,file,true,predicted,probability for every pick. */
static int write_misclassified(const char *dir, const nr_dataset *test, const size_t *picks,
                               size_t count, const int32_t *predicted, const float *confidence,
                               const char *run_name, nr_error *err)
{
    nr_gallery_item *items = calloc(count ? count : 1, sizeof *items);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!items || !out) {
        free(items);
        if (out)
            fclose(out);
        free(text);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    size_t size = (size_t)test->channels * test->height * test->width;
    fprintf(out, "index,file,true,predicted,probability\n");
    for (size_t i = 0; i < count; i++) {
        size_t at = picks[i];
        items[i] = (nr_gallery_item){.pixels = test->pixels + at * size,
                                     .true_name = test->class_names[test->labels[at]],
                                     .predicted_name = test->class_names[predicted[at]],
                                     .probability = confidence[at]};
        fprintf(out, "%zu,%s,%s,%s,%.4f\n", at, test->files[at],
                test->class_names[test->labels[at]], test->class_names[predicted[at]],
                (double)confidence[at]);
    }
    fclose(out);
    char title[160];
    snprintf(title, sizeof title, "Misclassified test images - %s", run_name);
    char *csv = nr_path_join(dir, "misclassified.csv"), *png = nr_path_join(dir, "misclassified.png");
    int status = -1;
    if (!csv || !png)
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    else if (nr_write_file_atomic(csv, text, len, err) == 0 &&
             nr_plot_gallery(png, items, count, test->channels, test->height, test->width,
                             title, err) == 0)
        status = 0;
    free(csv);
    free(png);
    free(text);
    free(items);
    return status;
}

int nr_write_test_report(const char *dir, nr_net *net, const nr_dataset *test, int batch_size,
                         const char *run_name, nr_eval_result *result, nr_error *err)
{
    size_t k = test->class_count;
    int64_t *confusion = malloc(k * k * sizeof *confusion);
    int32_t *predicted = malloc((test->count ? test->count : 1) * sizeof *predicted);
    float *confidence = malloc((test->count ? test->count : 1) * sizeof *confidence);
    size_t *picks = malloc((k ? k : 1) * sizeof *picks);
    char *paths[3] = {nr_path_join(dir, "confusion.csv"), nr_path_join(dir, "confusion.png"),
                      nr_path_join(dir, "metrics.csv")};
    int status = -1;
    if (!confusion || !predicted || !confidence || !picks || !paths[0] || !paths[1] ||
        !paths[2]) {
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    if (nr_evaluate(net, test, NULL, 0, batch_size, result, confusion, predicted, confidence,
                    err) != 0)
        goto done;
    const char *const *names = (const char *const *)test->class_names;
    char title[160];
    snprintf(title, sizeof title, "Confusion matrix on Test - %s (accuracy %.2f%%)", run_name,
             100.0 * result->accuracy);
    if (nr_confusion_write_csv(paths[0], confusion, k, names, err) != 0 ||
        nr_plot_confusion(paths[1], confusion, k, names, title, err) != 0 ||
        nr_confusion_write_metrics(paths[2], confusion, k, names, err) != 0)
        goto done;
    /* one mistake per true class: the most confident one, in class order;
     * then, if fewer than ten classes had one, nothing more (one per class) */
    size_t count = 0;
    for (size_t c = 0; c < k && count < 10; c++) {
        size_t best = test->count;
        for (size_t i = 0; i < test->count; i++)
            if (test->labels[i] == c && predicted[i] != (int32_t)c &&
                (best == test->count || confidence[i] > confidence[best]))
                best = i;
        if (best < test->count)
            picks[count++] = best;
    }
    status = write_misclassified(dir, test, picks, count, predicted, confidence, run_name, err);
done:
    for (int i = 0; i < 3; i++)
        free(paths[i]);
    free(confusion);
    free(predicted);
    free(confidence);
    free(picks);
    return status;
}

int nr_write_augment_preview(const char *dir, const nr_dataset *data,
                             const nr_train_config *cfg, size_t count, nr_error *err)
{
    if (count > data->count)
        count = data->count;
    size_t size = (size_t)data->channels * data->height * data->width;
    float *image = malloc(size * sizeof *image);
    float *workspace = malloc(nr_augment_workspace_floats(data->channels, data->height,
                                                          data->width) * sizeof *workspace);
    uint8_t *pixels = malloc((count ? count : 1) * size);
    nr_gallery_item *items = calloc(count ? count : 1, sizeof *items);
    char *path = nr_path_join(dir, "augment_preview.png");
    int status = -1;
    if (!image || !workspace || !pixels || !items || !path) {
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        /* evenly spaced over the (class-sorted) data, so every class shows */
        size_t at = i * data->count / count;
        nr_rng rng;
        nr_augment_rng(&rng, cfg->seed, 1, at);
        nr_augment_image(&cfg->augment, data->pixels + at * size, data->channels, data->height,
                         data->width, image, workspace, &rng);
        for (size_t j = 0; j < size; j++)
            pixels[i * size + j] = (uint8_t)lrintf(image[j] * 255.0f);
        const char *name = data->class_names[data->labels[at]];
        items[i] = (nr_gallery_item){.pixels = pixels + i * size, .true_name = name,
                                     .predicted_name = NULL, .probability = NAN};
    }
    status = nr_plot_gallery(path, items, count, data->channels, data->height, data->width,
                             "Augmented training images (epoch 1)", err);
done:
    free(image);
    free(workspace);
    free(pixels);
    free(items);
    free(path);
    return status;
}
