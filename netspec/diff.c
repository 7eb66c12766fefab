/* netspec/diff.c - the semantic difference of two resolved specs (ns_diff)
 * and a node as one line of text (ns_node_format); see netrun/netspec.h.
 *
 * The walk follows the schema so that a value is compared by its type:
 * numbers as numbers (0.05 == 5e-2, 0 == 0.0), choices by variant and then
 * parameter by parameter, layer lists item by item (or aligned by their
 * longest common subsequence when their lengths differ). Whatever the schema
 * does not describe is compared structurally (numbers still as numbers). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schema.h"

typedef struct diff_ctx {
    ns_diff_fn report;   /* NULL: only count */
    void *ctx;
    ns_path path;
} diff_ctx;

static size_t walk(diff_ctx *c, const ns_key *key, const ns_node *a, const ns_node *b);

static size_t emit_diff(diff_ctx *c, const ns_node *a, const ns_node *b)
{
    if (c->report)
        c->report(c->ctx, c->path.text, a, b);
    return 1;
}

static bool number_equal(const char *x, const char *y)
{
    double dx, dy;
    if (ns_text_float(x, &dx) && ns_text_float(y, &dy))
        return dx == dy;
    return strcmp(x, y) == 0;
}

/* Structure without a schema: maps key by key (a's order, then b's extra
 * keys), lists item by item (one report when the lengths differ), scalars
 * as numbers when both read as numbers. */
static size_t walk_generic(diff_ctx *c, const ns_node *a, const ns_node *b)
{
    if (!a || !b || a->kind != b->kind)
        return (a || b) ? emit_diff(c, a, b) : 0;
    size_t n = 0;
    switch (a->kind) {
    case NS_SCALAR:
        return number_equal(a->scalar, b->scalar) ? 0 : emit_diff(c, a, b);
    case NS_SEQ:
        if (a->count != b->count)
            return emit_diff(c, a, b);
        for (size_t i = 0; i < a->count; i++) {
            size_t old = ns_path_index(&c->path, i);
            n += walk_generic(c, a->items[i], b->items[i]);
            ns_path_pop(&c->path, old);
        }
        return n;
    case NS_MAP:
        for (size_t i = 0; i < a->count; i++) {
            size_t old = ns_path_key(&c->path, a->keys[i]);
            n += walk_generic(c, a->items[i], ns_map_get(b, a->keys[i]));
            ns_path_pop(&c->path, old);
        }
        for (size_t i = 0; i < b->count; i++)
            if (ns_map_index(a, b->keys[i]) < 0) {
                size_t old = ns_path_key(&c->path, b->keys[i]);
                n += emit_diff(c, NULL, b->items[i]);
                ns_path_pop(&c->path, old);
            }
        return n;
    }
    return n;
}

static bool is_choice_shape(const ns_node *n)
{
    return n->kind == NS_SCALAR || (n->kind == NS_MAP && n->count == 1);
}

/* A map described by the schema table `keys`: schema keys in order, then
 * keys the schema does not know. At the top level `name` and `description`
 * come last. */
static size_t walk_map(diff_ctx *c, const ns_key *keys, const ns_node *a, const ns_node *b,
                       bool top)
{
    size_t n = 0;
    for (int pass = 0; pass < (top ? 2 : 1); pass++)
        for (const ns_key *k = keys; k && k->name; k++) {
            bool last = strcmp(k->name, "name") == 0 || strcmp(k->name, "description") == 0;
            if (top && last != (pass == 1))
                continue;
            const ns_node *ca = ns_map_get(a, k->name), *cb = ns_map_get(b, k->name);
            if (!ca && !cb)
                continue;
            size_t old = ns_path_key(&c->path, k->name);
            n += walk(c, k, ca, cb);
            ns_path_pop(&c->path, old);
        }
    for (size_t i = 0; i < a->count; i++)
        if (!ns_schema_key(keys, a->keys[i])) {
            size_t old = ns_path_key(&c->path, a->keys[i]);
            n += walk_generic(c, a->items[i], ns_map_get(b, a->keys[i]));
            ns_path_pop(&c->path, old);
        }
    for (size_t i = 0; i < b->count; i++)
        if (!ns_schema_key(keys, b->keys[i]) && ns_map_index(a, b->keys[i]) < 0) {
            size_t old = ns_path_key(&c->path, b->keys[i]);
            n += emit_diff(c, NULL, b->items[i]);
            ns_path_pop(&c->path, old);
        }
    return n;
}

/* A choice: another variant is one report of both whole choices; the same
 * variant compares its parameters (path ".variant.param"). */
static size_t walk_choice(diff_ctx *c, const ns_variant *variants, const ns_node *a,
                          const ns_node *b)
{
    if (!is_choice_shape(a) || !is_choice_shape(b))
        return walk_generic(c, a, b);
    const char *va = ns_choice_name(a), *vb = ns_choice_name(b);
    if (strcmp(va, vb) != 0)
        return emit_diff(c, a, b);
    const ns_node *pa = ns_choice_params(a), *pb = ns_choice_params(b);
    if (!pa && !pb)
        return 0;
    const ns_variant *v = ns_schema_variant(variants, va);
    size_t old = ns_path_key(&c->path, va);
    size_t n;
    if (v && v->params && pa && pb && pa->kind == NS_MAP && pb->kind == NS_MAP)
        n = walk_map(c, v->params, pa, pb, false);
    else
        n = walk_generic(c, pa, pb);
    ns_path_pop(&c->path, old);
    return n;
}

/* Semantic equality of two layers (no reports). */
static bool layer_equal(const ns_node *a, const ns_node *b)
{
    diff_ctx quiet = {0};
    return walk_choice(&quiet, ns_layer_variants, a, b) == 0;
}

static size_t walk_layer_at(diff_ctx *c, const ns_variant *variants, const ns_node *a,
                            size_t ia, const ns_node *b, size_t ib)
{
    char index[48];
    if (!a)
        snprintf(index, sizeof index, "%zu", ib);
    else if (!b || ia == ib)
        snprintf(index, sizeof index, "%zu", ia);
    else
        snprintf(index, sizeof index, "%zu->%zu", ia, ib);
    size_t old = c->path.len;
    int w = snprintf(c->path.text + c->path.len, sizeof c->path.text - c->path.len, "[%s]",
                     index);
    if (w > 0)
        c->path.len += (size_t)w < sizeof c->path.text - c->path.len
                           ? (size_t)w : sizeof c->path.text - c->path.len - 1;
    size_t n = (a && b) ? walk_choice(c, variants, a, b) : emit_diff(c, a, b);
    ns_path_pop(&c->path, old);
    return n;
}

/* Unmatched runs a[ia..ia+na) and b[ib..ib+nb) between two aligned layers:
 * paired position by position, the rest removed / inserted. */
static size_t walk_layer_run(diff_ctx *c, const ns_variant *variants, const ns_node *a,
                             size_t ia, size_t na, const ns_node *b, size_t ib, size_t nb)
{
    size_t n = 0, pairs = na < nb ? na : nb;
    for (size_t t = 0; t < pairs; t++)
        n += walk_layer_at(c, variants, a->items[ia + t], ia + t, b->items[ib + t], ib + t);
    for (size_t t = pairs; t < na; t++)
        n += walk_layer_at(c, variants, a->items[ia + t], ia + t, NULL, 0);
    for (size_t t = pairs; t < nb; t++)
        n += walk_layer_at(c, variants, NULL, 0, b->items[ib + t], ib + t);
    return n;
}

/* A layer list: equal lengths item by item; otherwise aligned by a longest
 * common subsequence of equal layers, the gaps between matches paired. */
static size_t walk_layers(diff_ctx *c, const ns_variant *variants, const ns_node *a,
                          const ns_node *b)
{
    if (a->kind != NS_SEQ || b->kind != NS_SEQ)
        return walk_generic(c, a, b);
    size_t na = a->count, nb = b->count;
    if (na == nb)
        return walk_layer_run(c, variants, a, 0, na, b, 0, nb);
    /* lcs[i][j] = LCS length of a[i..] and b[j..] (lists hold <= 1000 layers
     * after resolve; a larger or unallocatable table falls back to pairs) */
    uint16_t *lcs = NULL;
    if (na <= 4096 && nb <= 4096)
        lcs = calloc((na + 1) * (nb + 1), sizeof *lcs);
    if (!lcs)
        return walk_layer_run(c, variants, a, 0, na, b, 0, nb);
    size_t w = nb + 1;
    bool *eq = malloc(na * nb * sizeof *eq + 1);
    if (!eq) {
        free(lcs);
        return walk_layer_run(c, variants, a, 0, na, b, 0, nb);
    }
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            eq[i * nb + j] = layer_equal(a->items[i], b->items[j]);
    for (size_t i = na; i-- > 0;)
        for (size_t j = nb; j-- > 0;) {
            if (eq[i * nb + j])
                lcs[i * w + j] = (uint16_t)(lcs[(i + 1) * w + j + 1] + 1);
            else {
                uint16_t down = lcs[(i + 1) * w + j], right = lcs[i * w + j + 1];
                lcs[i * w + j] = down > right ? down : right;
            }
        }
    size_t n = 0, i = 0, j = 0, ri = 0, rj = 0;
    while (i < na && j < nb) {
        if (eq[i * nb + j] && lcs[i * w + j] == lcs[(i + 1) * w + j + 1] + 1) {
            n += walk_layer_run(c, variants, a, ri, i - ri, b, rj, j - rj);
            i++, j++;
            ri = i, rj = j;
        } else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            i++;
        } else {
            j++;
        }
    }
    n += walk_layer_run(c, variants, a, ri, na - ri, b, rj, nb - rj);
    free(eq);
    free(lcs);
    return n;
}

static size_t walk(diff_ctx *c, const ns_key *key, const ns_node *a, const ns_node *b)
{
    if (!a || !b)
        return (a || b) ? emit_diff(c, a, b) : 0;
    if (!key)
        return walk_generic(c, a, b);
    switch (key->type) {
    case NS_T_MAP:
        if (a->kind != NS_MAP || b->kind != NS_MAP)
            return walk_generic(c, a, b);
        return walk_map(c, key->keys, a, b, key == &ns_schema_root);
    case NS_T_CHOICE:
        return walk_choice(c, key->variants, a, b);
    case NS_T_LAYERS:
        return walk_layers(c, key->variants, a, b);
    case NS_T_INT_LIST:
    case NS_T_FLOAT_LIST: {
        /* one report for the whole list */
        diff_ctx quiet = {0};
        return walk_generic(&quiet, a, b) ? emit_diff(c, a, b) : 0;
    }
    case NS_T_INT:
    case NS_T_FLOAT:
        if (a->kind != NS_SCALAR || b->kind != NS_SCALAR)
            return walk_generic(c, a, b);
        return number_equal(a->scalar, b->scalar) ? 0 : emit_diff(c, a, b);
    case NS_T_NAMED_NUMBERS:
        return walk_generic(c, a, b);
    case NS_T_BOOL:
    case NS_T_STRING:
    case NS_T_ENUM:
    case NS_T_PATH:
        if (a->kind != NS_SCALAR || b->kind != NS_SCALAR)
            return walk_generic(c, a, b);
        return strcmp(a->scalar, b->scalar) == 0 ? 0 : emit_diff(c, a, b);
    }
    return walk_generic(c, a, b);
}

size_t ns_diff(const ns_node *a, const ns_node *b, ns_diff_fn report, void *ctx)
{
    diff_ctx c = {.report = report, .ctx = ctx};
    if (a && b && a->kind == NS_MAP && b->kind == NS_MAP)
        return walk(&c, &ns_schema_root, a, b);
    return walk_generic(&c, a, b);
}

/* ---- one-line text of a node ---- */

typedef struct fmt_buf {
    char *buf;
    size_t size, len;
    bool cut;
} fmt_buf;

static void put(fmt_buf *f, const char *s)
{
    for (; *s && !f->cut; s++) {
        if (f->len + 1 >= f->size) {
            f->cut = true;
            break;
        }
        f->buf[f->len++] = *s;
    }
}

/* Strings that would be ambiguous get double quotes: inside a list or map
 * those with characters of the flow syntax, anywhere the empty string,
 * outer spaces, control characters and "->" (the arrow of diffs). */
static bool needs_quotes(const char *s, bool nested)
{
    if (!*s || s[0] == ' ' || s[strlen(s) - 1] == ' ' || strstr(s, "->"))
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F || *p == '"')
            return true;
    return nested && (strpbrk(s, ",{}[]#") || strstr(s, ": "));
}

static void put_scalar(fmt_buf *f, const char *s, bool nested)
{
    if (!needs_quotes(s, nested)) {
        put(f, s);
        return;
    }
    put(f, "\"");
    for (; *s && !f->cut; s++) {
        char esc[8] = {0};
        if (*s == '"' || *s == '\\')
            snprintf(esc, sizeof esc, "\\%c", *s);
        else if (*s == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (*s == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if ((unsigned char)*s < 0x20)
            snprintf(esc, sizeof esc, "\\x%02x", (unsigned)(unsigned char)*s);
        else
            esc[0] = *s;
        put(f, esc);
    }
    put(f, "\"");
}

static void put_node(fmt_buf *f, const ns_node *n, int depth)
{
    if (f->cut)
        return;
    if (depth > NS_MAX_DEPTH) {
        put(f, "...");
        return;
    }
    switch (n->kind) {
    case NS_SCALAR:
        put_scalar(f, n->scalar, depth > 0);
        return;
    case NS_SEQ:
        put(f, "[");
        for (size_t i = 0; i < n->count; i++) {
            if (i)
                put(f, ", ");
            put_node(f, n->items[i], depth + 1);
        }
        put(f, "]");
        return;
    case NS_MAP:
        if (n->count == 1 && n->items[0]->kind == NS_MAP) {
            /* a choice: variant{params} */
            put(f, n->keys[0]);
            n = n->items[0];
        }
        put(f, "{");
        for (size_t i = 0; i < n->count; i++) {
            if (i)
                put(f, ", ");
            put(f, n->keys[i]);
            put(f, ": ");
            put_node(f, n->items[i], depth + 1);
        }
        put(f, "}");
        return;
    }
}

const char *ns_node_format(const ns_node *node, char *buf, size_t size)
{
    if (!size)
        return buf;
    fmt_buf f = {.buf = buf, .size = size};
    if (!node)
        put(&f, "(none)");
    else
        put_node(&f, node, 0);
    buf[f.len] = '\0';
    if (f.cut && size >= 4) {
        size_t at = f.len < size - 4 ? f.len : size - 4;
        /* do not cut a UTF-8 sequence in half */
        while (at > 0 && ((unsigned char)buf[at] & 0xC0) == 0x80)
            at--;
        memcpy(buf + at, "...", 4);
    }
    return buf;
}
