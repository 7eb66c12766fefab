/* cli/cmd_predict.c - `netrun predict MODEL IMAGE_OR_FOLDER... [-o FILE.csv]
 * [--top K]`: classify images with a trained model (netrun/predict.h), one
 * line per image; the accuracy and confusion matrix of images in class
 * folders; optionally the same as CSV files. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "netrun/clock.h"
#include "netrun/fileio.h"
#include "netrun/format.h"
#include "netrun/model.h"
#include "netrun/plot.h"
#include "netrun/predict.h"

#define DEFAULT_TOP 3
#define MAX_TOP 1000000
/* paths are padded to the longest up to this width (a longer one only
 * shifts its own line) */
#define MAX_PATH_WIDTH 80
#define MAX_NAME_WIDTH 30
/* the confusion matrix is printed as a table up to this many classes */
#define PRINTED_MATRIX_CLASSES 20
#define PRINTED_CONFUSIONS 10

static const char usage_line[] = "netrun predict MODEL IMAGE_OR_FOLDER... [-o FILE.csv] [--top K]";

typedef struct predict_output {
    const nr_model *model;
    const nr_image_list *list;
    int top;                   /* pairs per line (<= classes) */
    int path_width, name_width;
    size_t *rank;              /* [classes] scratch: the order of the top pairs */
    FILE *csv;                 /* -o's temporary file, or NULL */
    int64_t *confusion;        /* [classes, classes] of the images in class folders */
    size_t predicted, correct, labelled;
} predict_output;

static const char *class_name(const predict_output *o, int32_t c)
{
    return o->model->info.class_names[c];
}

/* rank[0..top): the predicted class, then the others by output, largest
 * first (the lower index first among equal ones). */
static void rank_top(predict_output *o, const float *outputs, int32_t predicted)
{
    size_t k = nr_model_classes(o->model);
    for (size_t c = 0; c < k; c++)
        o->rank[c] = c;
    o->rank[0] = (size_t)predicted;
    o->rank[predicted] = 0;
    for (int t = 1; t < o->top; t++) {
        size_t best = (size_t)t;
        for (size_t j = (size_t)t + 1; j < k; j++) {
            float a = outputs[o->rank[j]], b = outputs[o->rank[best]];
            if (a > b || (a == b && o->rank[j] < o->rank[best]))
                best = j;
        }
        size_t swap = o->rank[t];
        o->rank[t] = o->rank[best];
        o->rank[best] = swap;
    }
}

static int on_image(void *ctx, size_t index, const float *outputs, int32_t predicted,
                    nr_error *err)
{
    (void)err;
    predict_output *o = ctx;
    const char *path = o->list->paths[index];
    int32_t truth = o->list->true_class[index];
    rank_top(o, outputs, predicted);
    printf("%-*s  %-*s  %.4f   top %d:", o->path_width, path, o->name_width,
           class_name(o, predicted), outputs[predicted], o->top);
    for (int t = 0; t < o->top; t++)
        printf("  %-*s %.4f", o->name_width, class_name(o, (int32_t)o->rank[t]),
               outputs[o->rank[t]]);
    if (truth >= 0 && truth != predicted)
        printf("  (true %s)", class_name(o, truth));
    putchar('\n');
    if (o->csv) {
        size_t k = nr_model_classes(o->model);
        nr_csv_field(o->csv, path);
        fputc(',', o->csv);
        nr_csv_field(o->csv, class_name(o, predicted));
        fprintf(o->csv, ",%.6g", outputs[predicted]);
        for (size_t c = 0; c < k; c++)
            fprintf(o->csv, ",%.6g", outputs[c]);
        fputc('\n', o->csv);
    }
    o->predicted++;
    if (truth >= 0) {
        o->labelled++;
        o->correct += truth == predicted;
        o->confusion[(size_t)truth * nr_model_classes(o->model) + (size_t)predicted]++;
    }
    return 0;
}

static void on_failure(void *ctx, size_t index, const nr_error *why)
{
    (void)ctx;
    (void)index;
    fflush(stdout); /* the lines before it first, on a terminal */
    fprintf(stderr, "%s\n", why->message);
}

static int parse_top(const char *text, int *top)
{
    *top = DEFAULT_TOP;
    if (!text)
        return 0;
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end || errno || value < 1 || value > MAX_TOP) {
        fprintf(stderr, "netrun: error: --top '%s': expected a whole number of classes to "
                "list per image, 1 or more (default %d)\n", text, DEFAULT_TOP);
        return -1;
    }
    *top = (int)value;
    return 0;
}

/* FILE.csv -> FILE.confusion.SUFFIX (another name: NAME.confusion.SUFFIX). */
static char *confusion_path(const char *csv, const char *suffix)
{
    size_t n = strlen(csv);
    if (n > 4 && csv[n - 4] == '.' && (csv[n - 3] | 0x20) == 'c' &&
        (csv[n - 2] | 0x20) == 's' && (csv[n - 1] | 0x20) == 'v')
        n -= 4;
    size_t size = n + strlen(".confusion.") + strlen(suffix) + 1;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%.*s.confusion.%s", (int)n, csv, suffix);
    return path;
}

static int digits(int64_t v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* Without -o: the matrix as a table (rows: the true classes that have
 * images), or with many classes the most frequent confusions. */
static void print_confusion(const predict_output *o)
{
    size_t k = nr_model_classes(o->model);
    const int64_t *m = o->confusion;
    if (k <= PRINTED_MATRIX_CLASSES) {
        int width = 0;
        for (size_t i = 0; i < k * k; i++)
            width = digits(m[i]) > width ? digits(m[i]) : width;
        for (size_t c = 0; c < k; c++) {
            int w = (int)strlen(class_name(o, (int32_t)c));
            width = w > width ? w : width;
        }
        width = width + 1 < 3 ? 3 : width + 1; /* a space between columns at least */
        int label = (int)strlen("true\\predicted");
        label = o->name_width > label ? o->name_width : label;
        printf("confusion matrix (rows: true class, columns: predicted):\n%-*s", label,
               "true\\predicted");
        for (size_t c = 0; c < k; c++)
            printf("%*s", width, class_name(o, (int32_t)c));
        putchar('\n');
        for (size_t t = 0; t < k; t++) {
            int64_t row = 0;
            for (size_t p = 0; p < k; p++)
                row += m[t * k + p];
            if (row == 0)
                continue;
            printf("%-*s", label, class_name(o, (int32_t)t));
            for (size_t p = 0; p < k; p++)
                printf("%*lld", width, (long long)m[t * k + p]);
            putchar('\n');
        }
        return;
    }
    /* the largest off-diagonal cells, largest first */
    printf("most frequent confusions (true -> predicted: images; the whole %zux%zu "
           "matrix: -o FILE.csv):", k, k);
    int64_t below = INT64_MAX;
    size_t shown = 0, last = SIZE_MAX;
    while (shown < PRINTED_CONFUSIONS) {
        /* the next cell in (count descending, index ascending) order */
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < k * k; i++) {
            if (i / k == i % k || m[i] == 0)
                continue;
            bool after = m[i] < below || (m[i] == below && last != SIZE_MAX && i > last);
            if (after && (best == SIZE_MAX || m[i] > m[best]))
                best = i;
        }
        if (best == SIZE_MAX)
            break;
        printf("%s %s -> %s: %lld", shown ? "," : "", class_name(o, (int32_t)(best / k)),
               class_name(o, (int32_t)(best % k)), (long long)m[best]);
        below = m[best];
        last = best;
        shown++;
    }
    printf("%s\n", shown ? "" : " none");
}

/* With -o FILE.csv: FILE.confusion.csv and .png. */
static int write_confusion(const predict_output *o, const char *csv, const char *model_path,
                           nr_error *err)
{
    size_t k = nr_model_classes(o->model);
    char *table = confusion_path(csv, "csv"), *picture = confusion_path(csv, "png");
    int rc = 0;
    char title[512], percent[32];
    snprintf(title, sizeof title, "Predictions of %s\n%zu of %zu images in class folders "
             "right (%s)", model_path, o->correct, o->labelled,
             nr_format_percent((double)o->correct / (double)o->labelled, "", percent,
                               sizeof percent));
    if (!table || !picture)
        rc = nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    else if (nr_confusion_write_csv(table, o->confusion, k,
                                    (const char *const *)o->model->info.class_names,
                                    err) != 0 ||
             nr_plot_confusion(picture, o->confusion, k,
                               (const char *const *)o->model->info.class_names, title,
                               err) != 0)
        rc = -1;
    else
        printf("confusion matrix: %s, %s\n", table, picture);
    free(table);
    free(picture);
    return rc;
}

static int fail_with(const nr_error *err)
{
    fprintf(stderr, "%s\n", err->message);
    return err->status ? err->status : NR_EXIT_INTERNAL;
}

int cli_predict(const cli_options *opts)
{
    int top;
    if (parse_top(opts->top, &top) != 0)
        return NR_EXIT_INPUT;
    if (opts->spec_count < 2) {
        fprintf(stderr, "netrun: error: no image or folder given; usage: %s\n", usage_line);
        return NR_EXIT_INPUT;
    }
    const char *csv_path = opts->out_dir;
    struct stat st;
    if (csv_path && stat(csv_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: error: is a folder; -o names the CSV file to write "
                "(e.g. -o predictions.csv)\n", csv_path);
        return NR_EXIT_INPUT;
    }
    const char *model_path = opts->specs[0];
    double start = nr_monotonic_seconds();
    nr_model model;
    nr_image_list list = {0};
    nr_atomic_file csv = {0};
    predict_output out = {.model = &model, .list = &list};
    nr_error err = {0};
    int status = 0;
    if (nr_model_open(model_path, 0, -1, &model, &err) != 0)
        return fail_with(&err);
    double opened = nr_monotonic_seconds();
    size_t k = nr_model_classes(&model);
    if (nr_image_list_collect(opts->specs + 1, opts->spec_count - 1, model.info.class_names,
                              k, &list, &err) != 0 ||
        (csv_path && nr_atomic_open(&csv, csv_path, &err) != 0)) {
        status = fail_with(&err);
        goto done;
    }
    out.top = top < (int)k ? top : (int)k;
    out.rank = malloc(k * sizeof *out.rank);
    /* only images in class folders need the matrix (k x k: large for many classes) */
    out.confusion = list.labelled ? calloc(k * k, sizeof *out.confusion) : NULL;
    if (!out.rank || (list.labelled && !out.confusion)) {
        fprintf(stderr, "netrun: error: out of memory\n");
        status = NR_EXIT_INTERNAL;
        goto done;
    }
    for (size_t i = 0; i < list.count; i++) {
        int w = (int)strlen(list.paths[i]);
        if (w > out.path_width && w <= MAX_PATH_WIDTH)
            out.path_width = w;
    }
    for (size_t c = 0; c < k; c++) {
        int w = (int)strlen(model.info.class_names[c]);
        if (w > out.name_width && w <= MAX_NAME_WIDTH)
            out.name_width = w;
    }
    if (csv.fp) {
        out.csv = csv.fp;
        fputs("path,predicted,p", csv.fp);
        for (size_t c = 0; c < k; c++) {
            fputc(',', csv.fp);
            nr_csv_field(csv.fp, model.info.class_names[c]);
        }
        fputc('\n', csv.fp);
    }
    nr_predict_hooks hooks = {.ctx = &out, .on_image = on_image, .on_failure = on_failure};
    size_t failed = 0;
    if (nr_predict_images(&model, &list, 0, &hooks, &failed, &err) != 0) {
        status = fail_with(&err);
        goto done;
    }
    double predicted_at = nr_monotonic_seconds();
    if (csv.fp) {
        out.csv = NULL;
        if (nr_atomic_commit(&csv, &err) != 0) {
            status = fail_with(&err);
            goto done;
        }
    }
    if (out.labelled > 0) {
        char percent[32];
        printf("accuracy: %s (%zu of %zu images in class folders)\n",
               nr_format_percent((double)out.correct / (double)out.labelled, "", percent,
                                 sizeof percent),
               out.correct, out.labelled);
        if (!csv_path)
            print_confusion(&out);
        else if (write_confusion(&out, csv_path, model_path, &err) != 0) {
            status = fail_with(&err);
            goto done;
        }
    }
    fflush(stdout);
    if (failed)
        fprintf(stderr, "netrun: %zu of %zu images could not be used (named above)\n", failed,
                list.count);
    fprintf(stderr, "netrun: predicted %zu image%s in %.2f s (model loaded in %.2f s)\n",
            out.predicted, out.predicted == 1 ? "" : "s", predicted_at - opened,
            opened - start);
    status = failed ? NR_EXIT_INPUT : 0;
done:
    if (csv.fp)
        nr_atomic_abort(&csv);
    free(out.rank);
    free(out.confusion);
    nr_image_list_free(&list);
    nr_model_close(&model);
    return status;
}
