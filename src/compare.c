/* compare.c - run folders side by side: reading, labels, table, plot (see
 * netrun/compare.h). */
#include "netrun/compare.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/format.h"
#include "netrun/fileio.h"
#include "netrun/plot.h"

enum {
    LABEL_VALUE_MAX = 24,    /* longer values are named, not shown */
    LABEL_SOFT_MAX = 80      /* parts beyond this become "(+N more)" */
};

/* ------------------------------------------------------------ labels */

typedef struct diff_entry {
    char *path;
    const ns_node *a, *b;
} diff_entry;

typedef struct diff_list {
    diff_entry *items;
    size_t count, cap;
    bool oom;
} diff_list;

static void collect_diff(void *ctx, const char *path, const ns_node *a, const ns_node *b)
{
    diff_list *list = ctx;
    if (list->oom || strcmp(path, "name") == 0 || strcmp(path, "description") == 0)
        return;
    if (list->count == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 16;
        diff_entry *items = realloc(list->items, cap * sizeof *items);
        if (!items) {
            list->oom = true;
            return;
        }
        list->items = items;
        list->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy) {
        list->oom = true;
        return;
    }
    list->items[list->count++] = (diff_entry){copy, a, b};
}

static void diff_list_free(diff_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].path);
    free(list->items);
}

/* A differing setting: the union of the runs' difference paths. */
typedef struct setting {
    const char *path;        /* borrowed from a diff_entry */
    const ns_node *first;    /* the first run's value there (NULL: absent) */
    double rank;             /* spec order: pre-order position in the first run's tree */
    bool value;              /* shown as KEY=VALUE on every label */
    const char *key;         /* value: the tail of path shown */
    size_t base_len;         /* structural: length of the group ("network.layers") */
} setting;

/* Pre-order position of `target` below `node` (counting from *at), or -1. */
static long preorder(const ns_node *node, const ns_node *target, long *at)
{
    if (node == target)
        return *at;
    (*at)++;
    if (node->kind != NS_SCALAR)
        for (size_t i = 0; i < node->count; i++) {
            long found = preorder(node->items[i], target, at);
            if (found >= 0)
                return found;
        }
    return -1;
}

static bool is_choice_map(const ns_node *n)
{
    return n && n->kind == NS_MAP && n->count == 1 && n->items[0]->kind == NS_MAP;
}

/* The short text of a value; false when it is too long or not a value. */
static bool short_value(const ns_node *n, char *buf, size_t size)
{
    if (!n) {
        snprintf(buf, size, "-");
        return true;
    }
    if (is_choice_map(n)) {
        snprintf(buf, size, "%s", n->keys[0]);
        return strlen(n->keys[0]) <= LABEL_VALUE_MAX;
    }
    if (n->kind == NS_MAP)
        return false;
    if (n->kind == NS_SEQ)
        for (size_t i = 0; i < n->count; i++)
            if (n->items[i]->kind != NS_SCALAR)
                return false;
    char text[LABEL_VALUE_MAX + 8];
    ns_node_format(n, text, sizeof text);
    if (strlen(text) > LABEL_VALUE_MAX)
        return false;
    snprintf(buf, size, "%s", text);
    return true;
}

/* Start of the last k dotted segments of path. */
static const char *path_tail(const char *path, size_t k)
{
    const char *p = path + strlen(path);
    while (p > path) {
        if (p[-1] == '.' && --k == 0)
            return p;
        p--;
    }
    return path;
}

static size_t segments(const char *path)
{
    size_t n = 1;
    for (; *path; path++)
        n += *path == '.';
    return n;
}

/* prefix is `path` cut at a segment boundary */
static bool is_prefix_path(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    return strncmp(prefix, path, n) == 0 && (path[n] == '.' || path[n] == '[');
}

static const diff_entry *find_entry(const diff_list *list, const char *path)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].path, path) == 0)
            return &list->items[i];
    return NULL;
}

typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool oom;
} text_buf;

static void tb_add(text_buf *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 128;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *d = realloc(t->data, cap);
        if (!d) {
            t->oom = true;
            return;
        }
        t->data = d;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static void tb_puts(text_buf *t, const char *s)
{
    tb_add(t, s, strlen(s));
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void tb_printf(text_buf *t, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line) {
        tb_add(t, line, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        t->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tb_add(t, big, (size_t)n);
    free(big);
}

/* "1..2,4..5,7" from the bracketed indices of the group's paths */
static void index_list(const diff_list *d, const setting *settings, size_t count,
                       const setting *group, text_buf *out, bool *whole)
{
    long prev_start = -2, prev = -2;
    bool first = true;
    *whole = false;
    for (size_t s = 0; s < count; s++) {
        const setting *g = &settings[s];
        if (g->value || g->base_len != group->base_len ||
            strncmp(g->path, group->path, group->base_len) != 0 || !find_entry(d, g->path))
            continue;
        const char *idx = g->path + g->base_len;
        if (*idx != '[') {
            *whole = true;
            continue;
        }
        char *end;
        long v = strtol(idx + 1, &end, 10);
        bool numeric = end != idx + 1 && *end == ']' && end[1] == '\0';
        if (numeric && v == prev + 1) {
            prev = v;
            continue;
        }
        if (prev_start >= 0 && prev > prev_start)
            tb_printf(out, "..%ld", prev);
        if (!first)
            tb_puts(out, ",");
        first = false;
        if (numeric) {
            tb_printf(out, "%ld", v);
            prev_start = prev = v;
        } else {
            const char *close = strrchr(idx, ']');
            tb_add(out, idx + 1, close ? (size_t)(close - idx - 1) : strlen(idx + 1));
            prev_start = prev = -2;
        }
    }
    if (prev_start >= 0 && prev > prev_start)
        tb_printf(out, "..%ld", prev);
}

static char *build_label(const char *name, size_t run, const diff_list *diffs,
                         const setting *settings, size_t count)
{
    text_buf label = {0}, part = {0};
    tb_puts(&label, name);
    size_t parts = 0, more = 0;
    const diff_list *d = &diffs[run];
    for (size_t s = 0; s < count; s++) {
        const setting *g = &settings[s];
        part.len = 0;
        if (part.data)
            part.data[0] = '\0';
        if (g->value) {
            const ns_node *v = g->first;
            bool show = true;
            if (run > 0) {
                const diff_entry *e = find_entry(d, g->path);
                if (e) {
                    v = e->b;
                } else {
                    for (size_t i = 0; i < d->count; i++)
                        if (is_prefix_path(d->items[i].path, g->path))
                            show = false;
                }
            }
            if (!show || !v)
                continue;
            char text[LABEL_VALUE_MAX + 8];
            short_value(v, text, sizeof text);
            tb_printf(&part, "%s=%s", g->key, text);
        } else {
            if (run == 0)
                continue;
            /* the first setting of its group names the group */
            bool seen = false;
            for (size_t t = 0; t < s && !seen; t++)
                seen = !settings[t].value && settings[t].base_len == g->base_len &&
                       strncmp(settings[t].path, g->path, g->base_len) == 0;
            if (seen)
                continue;
            text_buf idx = {0};
            bool whole;
            index_list(d, settings, count, g, &idx, &whole);
            if (idx.oom) {
                free(idx.data);
                part.oom = true;
                break;
            }
            if (whole)
                tb_printf(&part, "%.*s differs", (int)g->base_len, g->path);
            else if (idx.len)
                tb_printf(&part, "%.*s[%s] differ", (int)g->base_len, g->path, idx.data);
            free(idx.data);
            if (!part.len)
                continue;
        }
        if (parts && label.len + 2 + part.len > LABEL_SOFT_MAX) {
            more++;
            continue;
        }
        tb_puts(&label, parts ? ", " : ": ");
        tb_puts(&label, part.data);
        parts++;
    }
    if (more)
        tb_printf(&label, " (+%zu more)", more);
    bool oom = label.oom || part.oom;
    free(part.data);
    if (oom) {
        free(label.data);
        return NULL;
    }
    return label.data;
}

static const char *last_component(const char *dir, char *buf, size_t size)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    snprintf(buf, size, "%.*s", (int)(n - start), dir + start);
    return buf;
}

int nr_compare_labels(const ns_node *const *specs, const char *const *dirs, size_t count,
                      char **labels, nr_error *err)
{
    for (size_t i = 0; i < count; i++)
        labels[i] = NULL;
    if (count == 0)
        return 0;
    diff_list *diffs = calloc(count, sizeof *diffs);
    size_t total = 0;
    setting *settings = NULL;
    size_t nset = 0;
    int status = -1;
    if (!diffs)
        goto oom;
    for (size_t j = 1; j < count; j++) {
        ns_diff(specs[0], specs[j], collect_diff, &diffs[j]);
        if (diffs[j].oom)
            goto oom;
        total += diffs[j].count;
    }
    settings = calloc(total ? total : 1, sizeof *settings);
    if (!settings)
        goto oom;
    /* the union of the paths, in spec order (a path the first run lacks
     * goes right after the one before it in its run's list) */
    for (size_t j = 1; j < count; j++) {
        double previous = -1;
        for (size_t i = 0; i < diffs[j].count; i++) {
            const diff_entry *e = &diffs[j].items[i];
            bool known = false;
            for (size_t s = 0; s < nset && !known; s++)
                known = strcmp(settings[s].path, e->path) == 0;
            long at = 0;
            long pos = e->a ? preorder(specs[0], e->a, &at) : -1;
            double rank = pos >= 0 ? (double)pos : previous + 0.001;
            previous = rank;
            if (known)
                continue;
            size_t s = nset++;
            while (s > 0 && settings[s - 1].rank > rank) {
                settings[s] = settings[s - 1];
                s--;
            }
            settings[s] = (setting){.path = e->path, .first = e->a, .rank = rank};
        }
    }
    /* which are shown as values: short on every side, not a whole layer */
    for (size_t s = 0; s < nset; s++) {
        setting *g = &settings[s];
        size_t len = strlen(g->path);
        g->value = g->path[len - 1] != ']';
        for (size_t j = 1; j < count && g->value; j++) {
            const diff_entry *e = find_entry(&diffs[j], g->path);
            char text[LABEL_VALUE_MAX + 8];
            if (e && (!short_value(e->a, text, sizeof text) ||
                      !short_value(e->b, text, sizeof text)))
                g->value = false;
        }
        if (!g->value) {
            /* the group: the path without its last [index] */
            const char *open = g->path[len - 1] == ']' ? strrchr(g->path, '[') : NULL;
            g->base_len = open ? (size_t)(open - g->path) : len;
        }
    }
    /* value keys: the shortest tail that no other value path shares */
    for (size_t s = 0; s < nset; s++) {
        setting *g = &settings[s];
        if (!g->value)
            continue;
        size_t n = segments(g->path);
        for (size_t k = 1; k <= n; k++) {
            const char *tail = path_tail(g->path, k);
            bool clash = false;
            for (size_t t = 0; t < nset && !clash; t++)
                clash = t != s && settings[t].value &&
                        strcmp(path_tail(settings[t].path, k), tail) == 0;
            g->key = tail;
            if (!clash)
                break;
        }
    }
    for (size_t j = 0; j < count; j++) {
        const ns_node *name = ns_map_get(specs[j], "name");
        labels[j] = build_label(name && name->kind == NS_SCALAR ? name->scalar : "run", j,
                                diffs, settings, nset);
        if (!labels[j])
            goto oom;
    }
    /* equal labels: tell them apart by their folders */
    bool *dup = calloc(count, sizeof *dup);
    if (!dup)
        goto oom;
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                dup[i] = dup[j] = true;
    for (size_t i = 0; i < count; i++) {
        if (!dup[i])
            continue;
        char tag[256];
        if (dirs && dirs[i])
            last_component(dirs[i], tag, sizeof tag);
        else
            snprintf(tag, sizeof tag, "#%zu", i + 1);
        size_t n = strlen(labels[i]) + strlen(tag) + 4;
        char *longer = malloc(n);
        if (!longer) {
            free(dup);
            goto oom;
        }
        snprintf(longer, n, "%s (%s)", labels[i], tag);
        free(labels[i]);
        labels[i] = longer;
    }
    free(dup);
    status = 0;
    goto done;
oom:
    nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    for (size_t i = 0; i < count; i++) {
        free(labels[i]);
        labels[i] = NULL;
    }
done:
    if (diffs)
        for (size_t j = 0; j < count; j++)
            diff_list_free(&diffs[j]);
    free(diffs);
    free(settings);
    return status;
}

/* ------------------------------------------------------------ comparison */

void nr_comparison_free(nr_comparison *cmp)
{
    if (!cmp)
        return;
    for (size_t i = 0; i < cmp->count; i++) {
        if (cmp->runs)
            nr_run_info_free(&cmp->runs[i]);
        if (cmp->labels)
            free(cmp->labels[i]);
    }
    free(cmp->runs);
    free(cmp->labels);
    memset(cmp, 0, sizeof *cmp);
}

int nr_comparison_load(const char *const *dirs, size_t count, nr_comparison *out,
                       nr_error *err)
{
    memset(out, 0, sizeof *out);
    nr_comparison cmp = {.count = count};
    cmp.runs = calloc(count ? count : 1, sizeof *cmp.runs);
    cmp.labels = calloc(count ? count : 1, sizeof *cmp.labels);
    const ns_node **specs = calloc(count ? count : 1, sizeof *specs);
    if (!cmp.runs || !cmp.labels || !specs) {
        free(specs);
        nr_comparison_free(&cmp);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        if (nr_run_folder_read(dirs[i], &cmp.runs[i], err) != 0) {
            free(specs);
            nr_comparison_free(&cmp);
            return -1;
        }
        specs[i] = cmp.runs[i].spec->root;
    }
    int status = nr_compare_labels(specs, dirs, count, cmp.labels, err);
    free(specs);
    if (status != 0) {
        nr_comparison_free(&cmp);
        return -1;
    }
    *out = cmp;
    return 0;
}

/* Display width of UTF-8 text (code points). */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int nr_comparison_table(const nr_comparison *cmp, char **text, nr_error *err)
{
    *text = NULL;
    size_t label_w = 3;
    for (size_t i = 0; i < cmp->count; i++) {
        size_t w = text_width(cmp->labels[i]);
        if (w > label_w)
            label_w = w;
    }
    text_buf t = {0};
    tb_printf(&t, "%-*s  %10s  %17s  %10s  %13s  %s\n", (int)label_w, "run", "final test",
              "best test (epoch)", "params", "training time", "folder");
    for (size_t i = 0; i < cmp->count; i++) {
        const nr_run_info *r = &cmp->runs[i];
        char final[32], best[32], best_col[48], params[32], time[32];
        nr_format_percent(r->final_test_acc, "", final, sizeof final);
        nr_format_percent(r->best_test_acc, "", best, sizeof best);
        if (r->best_epoch)
            snprintf(best_col, sizeof best_col, "%s (%d)", best, r->best_epoch);
        else
            snprintf(best_col, sizeof best_col, "-");
        if (r->epochs)
            nr_format_duration(r->train_seconds, time, sizeof time);
        else
            snprintf(time, sizeof time, "-");
        nr_format_count(r->param_count, "?", params, sizeof params);
        size_t pad = label_w - text_width(cmp->labels[i]);
        tb_printf(&t, "%s%*s  %10s  %17s  %10s  %13s  %s\n", cmp->labels[i], (int)pad, "",
                  final, best_col, params, time, r->dir);
    }
    if (t.oom || !t.data) {
        free(t.data);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    *text = t.data;
    return 0;
}

int nr_comparison_plot(const nr_comparison *cmp, const char *path, nr_error *err)
{
    nr_curve_series *series = calloc(cmp->count ? cmp->count : 1, sizeof *series);
    if (!series)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    text_buf title = {0};
    tb_printf(&title, "Comparison of %zu run%s\n", cmp->count, cmp->count == 1 ? "" : "s");
    size_t names = 0;
    for (size_t i = 0; i < cmp->count; i++) {
        const nr_run_info *r = &cmp->runs[i];
        series[i] = (nr_curve_series){.epochs = r->epochs,
                                      .train_cost = r->train_cost,
                                      .test_cost = r->test_cost,
                                      .train_acc = r->train_acc,
                                      .test_acc = r->test_acc};
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(cmp->runs[j].name, r->name) == 0;
        if (seen)
            continue;
        if (title.len > 160) {
            tb_puts(&title, names ? ", ..." : "...");
            break;
        }
        tb_printf(&title, "%s%s", names++ ? ", " : "", r->name);
    }
    int status;
    if (title.oom)
        status = nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    else
        status = nr_plot_compare_curves(path, series, (const char *const *)cmp->labels,
                                        cmp->count, title.data, err);
    free(title.data);
    free(series);
    return status;
}
