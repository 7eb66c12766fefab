/* cli/cmd_diff.c - `netrun diff A.yaml B.yaml`: what differs between two
 * specs once both are resolved (defaults written out), then the layers whose
 * output shape or parameters differ. Exit status like diff(1): 0 same,
 * 1 different, 2 trouble. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netrun/format.h"
#include "netrun/error.h"
#include "netrun/graph.h"
#include "netrun/netspec.h"
#include "netrun/spec_load.h"

enum { VALUE_MAX = 64 * 1024 };

typedef struct diff_print {
    char *a, *b;       /* VALUE_MAX buffers */
} diff_print;

static void print_difference(void *ctx, const char *path, const ns_node *a, const ns_node *b)
{
    diff_print *p = ctx;
    printf("%s: %s -> %s\n", path, ns_node_format(a, p->a, VALUE_MAX),
           ns_node_format(b, p->b, VALUE_MAX));
}

/* One row of a network's layer table. */
typedef struct layer_row {
    char label[16];
    char desc[160];
    char shape[48];
    size_t params;
} layer_row;

typedef struct row_list {
    layer_row *rows;
    size_t count, cap;
} row_list;

static int add_row(row_list *list, const nr_layer *layer, int depth, const char *prefix)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 32;
        layer_row *rows = realloc(list->rows, cap * sizeof *rows);
        if (!rows)
            return -1;
        list->rows = rows;
        list->cap = cap;
    }
    layer_row *r = &list->rows[list->count++];
    char desc[128];
    nr_layer_describe(layer, desc, sizeof desc);
    snprintf(r->label, sizeof r->label, "%s", layer->label);
    snprintf(r->desc, sizeof r->desc, "%*s%s%s", 2 * depth, "", prefix, desc);
    nr_shape_text(layer->out, r->shape, sizeof r->shape);
    r->params = layer->param_count;
    return 0;
}

/* The rows of `netrun check`'s table, residual blocks and shortcuts included. */
static int collect_rows(row_list *list, const nr_layer *layers, size_t count, int depth)
{
    for (size_t i = 0; i < count; i++) {
        const nr_layer *layer = &layers[i];
        if (add_row(list, layer, depth, "") != 0)
            return -1;
        if (collect_rows(list, layer->block, layer->block_count, depth + 1) != 0)
            return -1;
        for (size_t s = 0; s < layer->shortcut_count; s++)
            if (add_row(list, &layer->shortcut[s], depth + 1, "shortcut ") != 0)
                return -1;
    }
    return 0;
}

/* Same layer: description (without indentation), output shape, parameters. */
static bool rows_equal(const layer_row *a, const layer_row *b)
{
    const char *da = a->desc + strspn(a->desc, " "), *db = b->desc + strspn(b->desc, " ");
    return strcmp(da, db) == 0 && strcmp(a->shape, b->shape) == 0 && a->params == b->params;
}

typedef struct net_print {
    const char *path_a, *path_b;
    bool header;
    long shown;
} net_print;

static void print_row(net_print *p, char sign, const layer_row *r)
{
    if (!p->header) {
        printf("\nlayers (- %s, + %s; # as in netrun check):\n", p->path_a, p->path_b);
        printf("  %-8s %-34s %-12s %12s\n", "#", "layer", "output", "params");
        p->header = true;
    }
    char params[32];
    printf("%c %-8s %-34s %-12s %12s\n", sign, r->label, r->desc, r->shape,
           nr_format_thousands(r->params, params, sizeof params));
    p->shown++;
}

/* Rows a[ia..ia+na) and b[ib..ib+nb) that did not align: pairs first. */
static void print_run(net_print *p, const layer_row *a, size_t na, const layer_row *b,
                      size_t nb)
{
    size_t pairs = na < nb ? na : nb;
    for (size_t t = 0; t < pairs; t++)
        if (!rows_equal(&a[t], &b[t])) {
            print_row(p, '-', &a[t]);
            print_row(p, '+', &b[t]);
        }
    for (size_t t = pairs; t < na; t++)
        print_row(p, '-', &a[t]);
    for (size_t t = pairs; t < nb; t++)
        print_row(p, '+', &b[t]);
}

/* The layer rows that differ, like the spec diff: tables of equal length
 * row by row, otherwise aligned by a longest common subsequence. Returns
 * the number of lines printed, -1 out of memory. */
static long print_network_diff(const nr_graph *ga, const nr_graph *gb, const char *path_a,
                               const char *path_b)
{
    row_list ra = {0}, rb = {0};
    unsigned *lcs = NULL;
    net_print p = {.path_a = path_a, .path_b = path_b, .shown = -1};
    if (collect_rows(&ra, ga->layers, ga->count, 0) != 0 ||
        collect_rows(&rb, gb->layers, gb->count, 0) != 0)
        goto done;
    p.shown = 0;
    layer_row in_a = {.label = "-", .desc = "input"}, in_b = {.label = "-", .desc = "input"};
    nr_shape_text(ga->input, in_a.shape, sizeof in_a.shape);
    nr_shape_text(gb->input, in_b.shape, sizeof in_b.shape);
    print_run(&p, &in_a, 1, &in_b, 1);
    size_t na = ra.count, nb = rb.count, w = nb + 1;
    if (na == nb) {
        print_run(&p, ra.rows, na, rb.rows, nb);
    } else {
        lcs = calloc((na + 1) * (nb + 1), sizeof *lcs);
        if (!lcs) {
            p.shown = -1;
            goto done;
        }
        for (size_t i = na; i-- > 0;)
            for (size_t j = nb; j-- > 0;)
                lcs[i * w + j] = rows_equal(&ra.rows[i], &rb.rows[j])
                                     ? lcs[(i + 1) * w + j + 1] + 1
                                     : (lcs[(i + 1) * w + j] > lcs[i * w + j + 1]
                                            ? lcs[(i + 1) * w + j] : lcs[i * w + j + 1]);
        size_t i = 0, j = 0, ri = 0, rj = 0;
        while (i < na && j < nb) {
            if (rows_equal(&ra.rows[i], &rb.rows[j]) &&
                lcs[i * w + j] == lcs[(i + 1) * w + j + 1] + 1) {
                print_run(&p, ra.rows + ri, i - ri, rb.rows + rj, j - rj);
                ri = ++i;
                rj = ++j;
            } else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                i++;
            } else {
                j++;
            }
        }
        print_run(&p, ra.rows + ri, na - ri, rb.rows + rj, nb - rj);
    }
    if (p.shown || ga->param_count != gb->param_count || ga->macs != gb->macs) {
        char pa[32], pb[32], ma[32], mb[32];
        printf("%s  total: %s -> %s learnable parameters, %s -> %s forward MACs per example\n",
               p.header ? "" : "\n", nr_format_thousands(ga->param_count, pa, sizeof pa),
               nr_format_thousands(gb->param_count, pb, sizeof pb), nr_format_thousands(ga->macs, ma, sizeof ma),
               nr_format_thousands(gb->macs, mb, sizeof mb));
        p.shown++;
    }
done:
    free(lcs);
    free(ra.rows);
    free(rb.rows);
    return p.shown;
}

int cli_diff(const cli_options *opts)
{
    if (opts->spec_count != 2) {
        fprintf(stderr, "netrun: error: diff takes two specs: netrun diff A.yaml B.yaml\n");
        return NR_EXIT_INPUT;
    }
    /* main refuses the options diff does not take */
    nr_spec spec[2] = {{0}, {0}};
    int status = NR_EXIT_INPUT;
    diff_print p = {malloc(VALUE_MAX), malloc(VALUE_MAX)};
    if (!p.a || !p.b) {
        fprintf(stderr, "netrun: error: out of memory\n");
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        nr_error err = {0};
        if (nr_spec_load(opts->specs[i], NULL, 0, &spec[i], &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            goto done;
        }
    }
    size_t differences = ns_diff(spec[0].doc->root, spec[1].doc->root, print_difference, &p);
    long rows = print_network_diff(spec[0].graph, spec[1].graph, opts->specs[0], opts->specs[1]);
    if (rows < 0) {
        fprintf(stderr, "netrun: error: out of memory\n");
        goto done;
    }
    status = differences || rows ? 1 : 0;
done:
    fflush(stdout);
    for (int i = 0; i < 2; i++)
        nr_spec_free(&spec[i]);
    free(p.a);
    free(p.b);
    return status;
}
