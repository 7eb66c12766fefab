/* run_folder.c - the run folder's files: history.csv's column table, the
 * summary.txt lines, their writers and the reader (see netrun/run_folder.h). */
#include "netrun/run_folder.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/fileio.h"
#include "netrun/graph.h"

enum { HISTORY_MAX_BYTES = 64 << 20, SUMMARY_MAX_BYTES = 4 << 20 };

/* ------------------------------------------------------------ history.csv */

/* history.csv's columns, in file order: the writer writes them in this
 * order, the reader finds them by name. `epoch` is the record's int; every
 * other column is a double of nr_epoch_record (record) and an array of
 * nr_run_info (info). */
typedef struct history_column {
    const char *name;
    const char *format;      /* printf of the value */
    size_t record;           /* offsetof(nr_epoch_record, ...) */
    size_t info;             /* offsetof(nr_run_info, ...): the double * */
    bool required;           /* the reader refuses a file without it */
    bool validation;         /* only with a validation split */
} history_column;

#define COLUMN(field, fmt, req, val) \
    {#field, fmt, offsetof(nr_epoch_record, field), offsetof(nr_run_info, field), req, val}
static const history_column history_columns[] = {
    {"epoch", "%d", 0, 0, true, false},
    COLUMN(train_cost, "%.6f", true, false),
    COLUMN(train_acc, "%.6f", true, false),
    COLUMN(test_cost, "%.6f", true, false),
    COLUMN(test_acc, "%.6f", true, false),
    COLUMN(lr, "%.6g", false, false),
    COLUMN(seconds, "%.3f", true, false),
    COLUMN(val_cost, "%.6f", false, true),
    COLUMN(val_acc, "%.6f", false, true),
};
#undef COLUMN
enum { H_EPOCH = 0, H_COUNT = sizeof history_columns / sizeof history_columns[0] };

static double record_value(const nr_epoch_record *r, const history_column *c)
{
    double v;
    memcpy(&v, (const char *)r + c->record, sizeof v);
    return v;
}

static double **info_column(nr_run_info *info, const history_column *c)
{
    return (double **)(void *)((char *)info + c->info);
}

int nr_run_folder_write(const char *dir, const char *file, const void *data, size_t len,
                        nr_error *err)
{
    char *path = nr_path_join(dir, file);
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    int status = nr_write_file_atomic(path, data, len, err);
    free(path);
    return status;
}

/* Writes what `fill` prints into dir/file atomically. */
static int write_text(const char *dir, const char *file,
                      void (*fill)(FILE *out, const void *ctx), const void *ctx, nr_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    fill(out, ctx);
    if (fclose(out) != 0) {
        free(text);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    int status = nr_run_folder_write(dir, file, text, len, err);
    free(text);
    return status;
}

typedef struct history_text {
    const nr_epoch_record *history;
    int epochs;
    bool validation;
} history_text;

static void fill_history(FILE *out, const void *ctx)
{
    const history_text *h = ctx;
    for (size_t c = 0; c < H_COUNT; c++)
        if (h->validation || !history_columns[c].validation)
            fprintf(out, "%s%s", c ? "," : "", history_columns[c].name);
    fputc('\n', out);
    for (int i = 0; i < h->epochs; i++) {
        const nr_epoch_record *r = &h->history[i];
        fprintf(out, "%d", r->epoch);
        for (size_t c = H_EPOCH + 1; c < H_COUNT; c++) {
            const history_column *col = &history_columns[c];
            if (h->validation || !col->validation) {
                fputc(',', out);
                fprintf(out, col->format, record_value(r, col));
            }
        }
        fputc('\n', out);
    }
}

int nr_run_folder_write_history(const char *dir, const nr_epoch_record *history, int epochs,
                                bool validation, nr_error *err)
{
    history_text h = {history, epochs, validation};
    return write_text(dir, NR_RUN_HISTORY, fill_history, &h, err);
}

/* ------------------------------------------------------------ batches.csv */

const char nr_batches_header[] = "epoch,batch,cost,acc\n";

void nr_batches_append(FILE *out, const nr_batch_record *batch)
{
    fprintf(out, "%d,%d,%.6f,%.6f\n", batch->epoch, batch->batch, batch->cost, batch->acc);
}

/* ------------------------------------------------------------ summary.txt */

/* "extended: 2 -> 4 epochs (netrun resume --epochs)" */
static const char summary_extended_key[] = "extended: ";
static const char summary_extended_tail[] = " epochs (netrun resume --epochs)";

static void fill_summary(FILE *out, const void *ctx)
{
    const nr_run_summary *s = ctx;
    const nr_spec *spec = s->spec;
    const nr_train_config *cfg = &spec->train;
    const ns_node *root = spec->doc->root;
    fprintf(out, "name: %s\n", ns_get_str(root, "name"));
    fprintf(out, "description: %s\n", ns_get_str(root, "description"));
    fprintf(out, "spec: %s\n\n", s->spec_path);
    nr_graph_write_summary(spec->graph, out);
    char output[512];
    fprintf(out, "%s\n", nr_describe_output(spec->graph, cfg->loss, output, sizeof output));
    fprintf(out, "params: %zu\n", spec->graph->param_count);
    if (spec->graph->frozen_param_count)
        fprintf(out, "trainable params: %zu (%zu frozen)\n",
                spec->graph->param_count - spec->graph->frozen_param_count,
                spec->graph->frozen_param_count);
    if (s->init_from)
        fprintf(out, "%s\n", s->init_from);
    fprintf(out, "\ndata: train %zu images (%s), test %zu images (%s)\n", s->train->count,
            s->train->root, s->test->count, s->test->root);
    fprintf(out, "classes: %zu, images %dx%dx%d\n", s->train->class_count, s->train->channels,
            s->train->height, s->train->width);
    fprintf(out, "machine: %s\n", s->machine);
    fprintf(out, "threads: %d\n", s->threads);
    if (s->processes)
        fprintf(out, "processes: %s\n", s->processes);
    fprintf(out, "backend: %s\n",
            cfg->backend == NR_BACKEND_REFERENCE ? "reference (plain loops)" : "blas (OpenBLAS)");
    if (s->extended)
        fprintf(out, "%s%s%s\n", summary_extended_key, s->extended, summary_extended_tail);
    if (!s->finished)
        return;
    fprintf(out, "\nepochs: %d%s\ntraining time: %.2f s\nfinal test accuracy: %.4f\n"
            "final test cost: %.6f\n",
            s->epochs, s->best_epoch ? " (early stopping)" : "", s->train_seconds,
            s->final_test_acc, s->final_test_cost);
    /* the validation split's numbers: the last epoch's, and under early
     * stopping the best epoch's value of the monitored quantity */
    if (cfg->validation_fraction > 0 && s->history && s->epochs > 0) {
        const nr_epoch_record *last = &s->history[s->epochs - 1];
        fprintf(out, "final val accuracy: %.4f (epoch %d)\nfinal val cost: %.6f\n",
                last->val_acc, last->epoch, last->val_cost);
    }
    if (s->best_epoch)
        fprintf(out, "best epoch (validation): %d\n", s->best_epoch);
    if (s->best_epoch && s->history && s->best_epoch <= s->epochs) {
        const nr_epoch_record *best = &s->history[s->best_epoch - 1];
        if (cfg->stop_on_accuracy)
            fprintf(out, "best val accuracy: %.4f (epoch %d)\n", best->val_acc, best->epoch);
        else
            fprintf(out, "best val cost: %.6f (epoch %d)\n", best->val_cost, best->epoch);
        if (cfg->restore_best && s->best_epoch != s->epochs)
            fprintf(out, "restored weights of epoch %d: the final test results are theirs\n",
                    s->best_epoch);
    }
    if (s->first_batch_seconds > 0.0)
        fprintf(out, "startup: %.3f s from the command's start to the first training batch "
                "(spec, data, network, run folder); first batch done at %.3f s\n",
                s->startup_seconds, s->first_batch_seconds);
}

int nr_run_folder_write_summary(const char *dir, const nr_run_summary *summary,
                                nr_error *err)
{
    return write_text(dir, NR_RUN_SUMMARY, fill_summary, summary, err);
}

const char *nr_run_folder_summary_value(const char *dir, const char *key, char *buf,
                                        size_t size)
{
    if (size)
        buf[0] = '\0';
    char *path = nr_path_join(dir, NR_RUN_SUMMARY), *text = NULL;
    size_t len, key_len = strlen(key);
    nr_error ignored;
    if (path && nr_read_file(path, SUMMARY_MAX_BYTES, &text, &len, &ignored) == 0) {
        for (char *line = text; line && *line;) {
            char *next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            if (strncmp(line, key, key_len) == 0 && strncmp(line + key_len, ": ", 2) == 0) {
                const char *value = line + key_len + 2;
                size_t n = strlen(value), tail = strlen(summary_extended_tail);
                if (strcmp(key, "extended") == 0 && n >= tail &&
                    strcmp(value + n - tail, summary_extended_tail) == 0)
                    n -= tail;
                snprintf(buf, size, "%.*s", (int)n, value);
                break;
            }
            line = next;
        }
    }
    free(text);
    free(path);
    return buf;
}

/* ------------------------------------------------------------ reading */

void nr_run_info_free(nr_run_info *info)
{
    if (!info)
        return;
    free(info->dir);
    ns_doc_free(info->spec);
    for (int c = H_EPOCH + 1; c < H_COUNT; c++)
        free(*info_column(info, &history_columns[c]));
    memset(info, 0, sizeof *info);
}

static bool file_exists(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    fclose(f);
    return true;
}

/* Splits line (modified in place) at commas into fields[<= max]; returns
 * the count. cols[i] = 1-based column of field i. */
static size_t split_csv(char *line, char **fields, int *cols, size_t max)
{
    size_t n = 0;
    char *start = line;
    for (char *p = line;; p++) {
        if (*p == ',' || *p == '\0') {
            bool end = *p == '\0';
            *p = '\0';
            if (n < max) {
                fields[n] = start;
                cols[n] = (int)(start - line) + 1;
            }
            n++;
            if (end)
                break;
            start = p + 1;
        }
    }
    return n;
}

static int parse_history(nr_run_info *info, const char *path, char *text, nr_error *err)
{
    enum { MAX_FIELDS = 64 };
    char *fields[MAX_FIELDS];
    int cols[MAX_FIELDS];
    int at[H_COUNT];
    for (int c = 0; c < H_COUNT; c++)
        at[c] = -1;
    /* count lines for the arrays */
    size_t lines = 1;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    char *line = text;
    int lineno = 0;
    size_t header_fields = 0;
    double *cols_data[H_COUNT] = {0};
    int status = -1;
    while (line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (lineno == 1) {
            header_fields = split_csv(line, fields, cols, MAX_FIELDS);
            if (header_fields > MAX_FIELDS) {
                nr_fail(err, NR_EXIT_INPUT, "%s:1:1: error: more than %d columns; not a netrun "
                        "history.csv", path, MAX_FIELDS);
                goto done;
            }
            for (size_t f = 0; f < header_fields; f++)
                for (int c = 0; c < H_COUNT; c++)
                    if (strcmp(fields[f], history_columns[c].name) == 0)
                        at[c] = (int)f;
            for (int c = 0; c < H_COUNT; c++)
                if (history_columns[c].required && at[c] < 0) {
                    char expected[160] = "";
                    for (int e = 0; e < H_COUNT; e++)
                        if (!history_columns[e].validation)
                            snprintf(expected + strlen(expected),
                                     sizeof expected - strlen(expected), "%s%s", e ? "," : "",
                                     history_columns[e].name);
                    nr_fail(err, NR_EXIT_INPUT, "%s:1:1: error: no '%s' column; a netrun "
                            "history.csv starts with %s", path, history_columns[c].name,
                            expected);
                    goto done;
                }
            for (int c = 0; c < H_COUNT; c++)
                if (at[c] >= 0 && c != H_EPOCH) {
                    cols_data[c] = malloc(lines * sizeof(double));
                    if (!cols_data[c]) {
                        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
                        goto done;
                    }
                }
        } else if (len) {
            size_t n = split_csv(line, fields, cols, MAX_FIELDS);
            if (n != header_fields) {
                nr_fail(err, NR_EXIT_INPUT, "%s:%d:1: error: %zu fields, the header has %zu",
                        path, lineno, n, header_fields);
                goto done;
            }
            for (int c = 0; c < H_COUNT; c++) {
                if (at[c] < 0 || c == H_EPOCH)
                    continue;
                const char *s = fields[at[c]];
                char *end;
                errno = 0;
                double v = strtod(s, &end);
                if (end == s || *end) {
                    nr_fail(err, NR_EXIT_INPUT, "%s:%d:%d: error: %s: expected a number, got "
                            "'%.40s'", path, lineno, cols[at[c]], history_columns[c].name, s);
                    goto done;
                }
                cols_data[c][info->epochs] = v;
            }
            info->epochs++;
        }
        line = next;
    }
    for (int c = H_EPOCH + 1; c < H_COUNT; c++)
        *info_column(info, &history_columns[c]) = cols_data[c];
    memset(cols_data, 0, sizeof cols_data);
    if (lineno == 0 || header_fields == 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s:1:1: error: empty; not a netrun history.csv",
                       path);
    status = 0;
done:
    for (int c = 0; c < H_COUNT; c++)
        free(cols_data[c]);
    return status;
}

/* netrun 0.1's summary.txt has no params: line, only the layer table's
 * "total: 21,578 learnable parameters, ...": -> 21578 */
static long long parse_legacy_total(const char *s)
{
    long long v = 0;
    bool any = false;
    for (; *s && *s != ' '; s++) {
        if (*s == ',')
            continue;
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        any = true;
    }
    return any ? v : -1;
}

/* "params: 21578" -> 21578; -1 when not a plain integer */
static long long parse_count(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return end != s && !*end && errno == 0 && v >= 0 && s[0] >= '0' && s[0] <= '9' ? v : -1;
}

static void parse_summary(nr_run_info *info, char *text)
{
    long long legacy_total = -1;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "params: ", 8) == 0)
            info->param_count = parse_count(line + 8);
        else if (strncmp(line, "total: ", 7) == 0 && strstr(line, " learnable parameters"))
            legacy_total = parse_legacy_total(line + 7);
        else if (strncmp(line, "machine: ", 9) == 0)
            snprintf(info->machine, sizeof info->machine, "%s", line + 9);
        else if (strncmp(line, "backend: ", 9) == 0)
            snprintf(info->backend, sizeof info->backend, "%s", line + 9);
        else if (strncmp(line, "final test accuracy: ", 21) == 0)
            info->finished = true;
        line = next;
    }
    if (info->param_count < 0)
        info->param_count = legacy_total;
}

int nr_run_folder_read(const char *dir, nr_run_info *info, nr_error *err)
{
    memset(info, 0, sizeof *info);
    info->param_count = -1;
    info->final_test_acc = info->best_test_acc = NAN;
    info->dir = strdup(dir);
    char *resolved = nr_path_join(dir, NR_RUN_RESOLVED);
    char *history = nr_path_join(dir, NR_RUN_HISTORY);
    char *summary = nr_path_join(dir, NR_RUN_SUMMARY);
    char *text = NULL;
    size_t len;
    int status = -1;
    if (!info->dir || !resolved || !history || !summary) {
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    if (!file_exists(resolved)) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: not a run folder (no resolved.yaml); give "
                "folders that netrun wrote, e.g. runs/ex2_cnn-1", dir);
        goto done;
    }
    if (ns_doc_parse_file(resolved, &info->spec, err) != 0 ||
        ns_doc_resolve(info->spec, err) != 0)
        goto done;
    info->name = ns_get_str(info->spec->root, "name");
    info->description = ns_get_str(info->spec->root, "description");
    if (file_exists(history)) {
        if (nr_read_file(history, HISTORY_MAX_BYTES, &text, &len, err) != 0)
            goto done;
        if (parse_history(info, history, text, err) != 0)
            goto done;
        free(text);
        text = NULL;
    }
    for (size_t i = 0; i < info->epochs; i++) {
        double acc = info->test_acc[i];
        if (isnan(acc))
            continue;
        if (isnan(info->best_test_acc) || acc > info->best_test_acc) {
            info->best_test_acc = acc;
            info->best_epoch = (int)i + 1;
        }
        if (isfinite(info->seconds[i]))
            info->train_seconds += info->seconds[i];
    }
    if (info->epochs)
        info->final_test_acc = info->test_acc[info->epochs - 1];
    if (file_exists(summary)) {
        if (nr_read_file(summary, SUMMARY_MAX_BYTES, &text, &len, err) != 0)
            goto done;
        parse_summary(info, text);
    }
    status = 0;
done:
    free(text);
    free(resolved);
    free(history);
    free(summary);
    return status;
}

