/* netspec/resolve.c - validate a tree against the schema (schema.c), fill
 * every default, and bring it to the normal form described in netspec.h.
 *
 * The walk is driven by the schema: for a map, every given key is checked
 * (unknown keys -> "did you mean") and its value validated in the order
 * written, then missing keys are reported (required) or filled (defaults),
 * then the pairs are put into schema order. The first error wins. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schema.h"

typedef struct rctx {
    ns_doc *doc;
    nr_error *err;
    ns_path path;     /* where we are, for messages */
    char *cwd;        /* base of relative paths given by --set; fetched once */
} rctx;

static int resolve_value(rctx *c, ns_node **slot, const ns_key *k, ns_pos key_pos);

/* ---- message helpers ---- */

#define SHOW_SIZE (NS_SHOW_MAX * 4 + 8)

/* Describes what was found, e.g. "'ten'", "a map", "an empty value". With
 * `typed`, a quoted scalar is called out (numbers/bools are not quoted). */
static const char *got(const ns_node *n, bool typed, char *buf, size_t size)
{
    char shown[SHOW_SIZE];
    if (n->kind == NS_MAP)
        snprintf(buf, size, n->count ? "a map" : "an empty map");
    else if (n->kind == NS_SEQ)
        snprintf(buf, size, n->count ? "a list" : "an empty list");
    else if (ns_is_null(n))
        snprintf(buf, size, "an empty value");
    else if (typed && n->quoted)
        snprintf(buf, size, "the quoted string '%s' (write numbers and true/false without quotes)",
                 ns_show(n->scalar, shown, sizeof shown));
    else
        snprintf(buf, size, "'%s'", ns_show(n->scalar, shown, sizeof shown));
    return buf;
}

/* The best "did you mean" among candidates: edit distance <= 2 (and less than
 * the length of what was written), else a prefix match either way. */
typedef struct suggestion {
    const char *given;
    const char *best;
    size_t dist;
    const char *prefix;
} suggestion;

static void suggest_try(suggestion *s, const char *cand)
{
    size_t d = ns_edit_distance(s->given, cand, 2);
    if (d <= 2 && d < strlen(s->given) && (!s->best || d < s->dist)) {
        s->best = cand;
        s->dist = d;
    }
    size_t lg = strlen(s->given), lc = strlen(cand);
    if (!s->prefix && lg >= 2 && lc >= 2 &&
        (strncmp(s->given, cand, lg < lc ? lg : lc) == 0))
        s->prefix = cand;
}

static const char *suggest_result(const suggestion *s, char *buf, size_t size)
{
    const char *pick = s->best ? s->best : s->prefix;
    if (pick)
        snprintf(buf, size, " (did you mean '%s'?)", pick);
    else
        buf[0] = '\0';
    return buf;
}

static void list_keys(const ns_key *keys, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (const ns_key *k = keys; k->name && o + 1 < size; k++) {
        int n = snprintf(buf + o, size - o, "%s%s", k == keys ? "" : ", ", k->name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static void list_variants(const ns_variant *vs, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (const ns_variant *v = vs; v->name && o + 1 < size; v++) {
        int n = snprintf(buf + o, size - o, "%s%s", v == vs ? "" : ", ", v->name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

/* "train.epochs: " or "" at the top level */
static const char *prefix(const rctx *c, char *buf, size_t size)
{
    if (c->path.len)
        snprintf(buf, size, "%s: ", c->path.text);
    else
        buf[0] = '\0';
    return buf;
}

/* "in train" or "at the top level" */
static const char *owner(const rctx *c, char *buf, size_t size)
{
    if (c->path.len)
        snprintf(buf, size, "in %s", c->path.text);
    else
        snprintf(buf, size, "at the top level");
    return buf;
}

static int expected(rctx *c, const ns_node *n, const ns_key *k, bool typed)
{
    char what[512], found[400], pre[800];
    return ns_fail_at(c->err, c->doc, ns_node_pos(n), "%sexpected %s, got %s",
                      prefix(c, pre, sizeof pre), ns_schema_describe(k, true, what, sizeof what),
                      got(n, typed, found, sizeof found));
}

/* ---- scalars ---- */

static int check_int(rctx *c, const ns_node *n, const ns_key *k)
{
    long long v;
    if (n->kind != NS_SCALAR || n->quoted || !ns_text_int(n->scalar, &v) || v < k->imin ||
        v > k->imax)
        return expected(c, n, k, true);
    return 0;
}

static int check_float(rctx *c, const ns_node *n, const ns_key *k)
{
    double v;
    if (n->kind != NS_SCALAR || n->quoted || !ns_text_float(n->scalar, &v) ||
        (k->fmin_open ? v <= k->fmin : v < k->fmin) ||
        (k->fmax_open ? v >= k->fmax : v > k->fmax))
        return expected(c, n, k, true);
    return 0;
}

static int check_bool(rctx *c, const ns_node *n, const ns_key *k)
{
    bool v;
    if (n->kind == NS_SCALAR && !n->quoted && ns_text_bool(n->scalar, &v))
        return 0;
    if (n->kind == NS_SCALAR && !n->quoted && ns_text_looks_typed(n->scalar) &&
        !ns_is_null(n)) {
        char shown[SHOW_SIZE], pre[800];
        return ns_fail_at(c->err, c->doc, ns_node_pos(n),
                          "%sexpected true or false, got '%s' (only the words true and false "
                          "are booleans here; yes/no/on/off and capitals are not)",
                          prefix(c, pre, sizeof pre), ns_show(n->scalar, shown, sizeof shown));
    }
    return expected(c, n, k, true);
}

static int check_string(rctx *c, ns_node *n, const ns_key *k)
{
    if (n->kind != NS_SCALAR)
        return expected(c, n, k, false);
    if (k->charset) {
        size_t len = strlen(n->scalar);
        bool dots_only = len > 0 && strspn(n->scalar, ".") == len;
        if ((long long)len < k->imin || (long long)len > k->imax ||
            strspn(n->scalar, k->charset) != len || dots_only)
            return expected(c, n, k, false);
    }
    /* a string that plain YAML would read as a number/bool/null is emitted
     * quoted, so that reading the emitted text back gives the same meaning */
    if (ns_text_looks_typed(n->scalar))
        n->quoted = true;
    return 0;
}

static int check_enum(rctx *c, const ns_node *n, const ns_key *k)
{
    if (n->kind == NS_SCALAR)
        for (const char *const *v = k->values; *v; v++)
            if (strcmp(n->scalar, *v) == 0)
                return 0;
    if (n->kind != NS_SCALAR || ns_is_null(n))
        return expected(c, n, k, false);
    char what[512], shown[SHOW_SIZE], pre[800], hint[128];
    suggestion s = { n->scalar, NULL, 0, NULL };
    for (const char *const *v = k->values; *v; v++)
        suggest_try(&s, *v);
    return ns_fail_at(c->err, c->doc, ns_node_pos(n), "%sexpected %s; got '%s'%s",
                      prefix(c, pre, sizeof pre), ns_schema_describe(k, true, what, sizeof what),
                      ns_show(n->scalar, shown, sizeof shown),
                      suggest_result(&s, hint, sizeof hint));
}

static int resolve_path(rctx *c, ns_node *n, const ns_key *k)
{
    if (n->kind != NS_SCALAR || n->scalar[0] == '\0')
        return expected(c, n, k, false);
    const char *base = c->doc->dir;
    if (n->origin > 0 && n->scalar[0] != '/') {
        /* a path given on the command line is relative to where the command runs */
        if (!c->cwd) {
            c->cwd = ns_getcwd();
            if (!c->cwd)
                return nr_fail(c->err, NR_EXIT_INTERNAL,
                               "netspec: error: cannot get the current directory: %s",
                               strerror(errno));
        }
        base = c->cwd;
    }
    char *abs = ns_path_join_normalize(base, n->scalar);
    if (!abs)
        return ns_oom(c->err);
    free(n->scalar);
    n->scalar = abs;
    n->quoted = ns_text_looks_typed(abs);
    return 0;
}

/* An int-list or a float-list: the count, then each item against the
 * key's range (an item's error names the item: "input[1]"). */
static int check_list(rctx *c, const ns_node *n, const ns_key *k)
{
    if (n->kind != NS_SEQ)
        return expected(c, n, k, false);
    if (n->count < k->min_items || n->count > k->max_items) {
        char what[512], pre[800];
        return ns_fail_at(c->err, c->doc, ns_node_pos(n), "%sexpected %s, got a list of %zu",
                          prefix(c, pre, sizeof pre),
                          ns_schema_describe(k, true, what, sizeof what), n->count);
    }
    ns_key one = *k;   /* the items' own type */
    one.type = k->type == NS_T_INT_LIST ? NS_T_INT : NS_T_FLOAT;
    for (size_t i = 0; i < n->count; i++) {
        size_t old = ns_path_index(&c->path, i);
        int rc = one.type == NS_T_INT ? check_int(c, n->items[i], &one)
                                      : check_float(c, n->items[i], &one);
        ns_path_pop(&c->path, old);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- maps ---- */

static ns_node *default_node(const ns_key *k)
{
    ns_pos none = { 0, 0, 0 };
    ns_node *n = k->type == NS_T_MAP ? ns_node_new(NS_MAP, none)
                                     : ns_scalar_new(k->def, strlen(k->def), none);
    if (n)
        n->is_default = true;
    return n;
}

static long schema_index(const ns_key *keys, const char *name)
{
    for (long i = 0; keys[i].name; i++)
        if (strcmp(keys[i].name, name) == 0)
            return i;
    return -1;
}

/* Removes entry i of map (keeping the order of the others). */
static void drop_entry(ns_node *map, size_t i)
{
    free(map->keys[i]);
    ns_node_free(map->items[i]);
    for (size_t j = i + 1; j < map->count; j++) {
        map->keys[j - 1] = map->keys[j];
        map->items[j - 1] = map->items[j];
        map->key_pos[j - 1] = map->key_pos[j];
    }
    map->count--;
}

/* Validates map against keys; `anchor` is where "missing required key"
 * errors point (the key that introduces the map, or the choice). */
static int resolve_map(rctx *c, ns_node *map, const ns_key *keys, ns_pos anchor)
{
    for (size_t i = 0; i < map->count; i++) {
        const ns_key *k = ns_schema_key(keys, map->keys[i]);
        if (!k) {
            char shown[SHOW_SIZE], where[800], hint[128], valid[512];
            suggestion s = { map->keys[i], NULL, 0, NULL };
            for (const ns_key *q = keys; q->name; q++)
                suggest_try(&s, q->name);
            list_keys(keys, valid, sizeof valid);
            return ns_fail_at(c->err, c->doc, map->key_pos[i],
                              "unknown key '%s' %s%s; valid keys: %s",
                              ns_show(map->keys[i], shown, sizeof shown),
                              owner(c, where, sizeof where), suggest_result(&s, hint, sizeof hint),
                              valid);
        }
        if (k->need == NS_OPTIONAL && ns_is_null(map->items[i])) {
            /* an optional key with an empty value is left out ("--set
             * train.init_from=" undoes the spec's) */
            drop_entry(map, i--);
            continue;
        }
        size_t old = ns_path_key(&c->path, k->name);
        int rc = resolve_value(c, &map->items[i], k, map->key_pos[i]);
        ns_path_pop(&c->path, old);
        if (rc != 0)
            return rc;
    }
    for (const ns_key *k = keys; k->name; k++) {
        if (ns_map_index(map, k->name) >= 0 || k->need == NS_OPTIONAL)
            continue;
        if (k->need == NS_REQUIRED) {
            char what[512], pre[800];
            return ns_fail_at(c->err, c->doc, anchor, "%smissing required key '%s' (%s): %s",
                              prefix(c, pre, sizeof pre), k->name,
                              ns_schema_describe(k, false, what, sizeof what), k->doc);
        }
        ns_pos none = { 0, 0, 0 };
        ns_node *n;
        if (k->need == NS_DERIVED) {
            char value[256];
            k->derive(c->doc, value, sizeof value);
            n = ns_scalar_new(value, strlen(value), none);
            if (n)
                n->is_default = true;
        } else {
            n = default_node(k);
        }
        if (!n || ns_map_append(map, k->name, strlen(k->name), none, n) != 0) {
            ns_node_free(n);
            return ns_oom(c->err);
        }
        size_t old = ns_path_key(&c->path, k->name);
        int rc = resolve_value(c, &map->items[map->count - 1], k, none);
        ns_path_pop(&c->path, old);
        if (rc != 0)
            return rc;
    }
    /* schema order (selection sort; maps are short) */
    for (size_t i = 0; i < map->count; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < map->count; j++)
            if (schema_index(keys, map->keys[j]) < schema_index(keys, map->keys[best]))
                best = j;
        if (best != i) {
            char *key = map->keys[i];
            ns_node *item = map->items[i];
            ns_pos kp = map->key_pos[i];
            map->keys[i] = map->keys[best];
            map->items[i] = map->items[best];
            map->key_pos[i] = map->key_pos[best];
            map->keys[best] = key;
            map->items[best] = item;
            map->key_pos[best] = kp;
        }
    }
    return 0;
}

/* ---- choices ---- */

static int choice_shape_error(rctx *c, const ns_node *n, const ns_key *k)
{
    char pre[800], found[256], hint[160] = "";
    if (n->kind == NS_MAP && n->count > 1 && ns_schema_variant(k->variants, n->keys[0]) &&
        ns_is_null(n->items[0])) {
        char shown[SHOW_SIZE];
        snprintf(hint, sizeof hint, " (are the parameters meant to be indented under '%s'?)",
                 ns_show(n->keys[0], shown, sizeof shown));
    }
    if (n->kind == NS_MAP && n->count > 1)
        snprintf(found, sizeof found, "a map with %zu keys", n->count);
    else
        got(n, false, found, sizeof found);
    return ns_fail_at(c->err, c->doc, ns_node_pos(n),
                      "%sexpected one %s: its name, or a one-key map {name: {parameters}}; got "
                      "%s%s", prefix(c, pre, sizeof pre), k->noun, found, hint);
}

/* A choice (`k` is the CHOICE key, or the LAYERS key for one of its items). */
static int resolve_choice(rctx *c, ns_node **slot, const ns_key *k)
{
    ns_node *n = *slot;
    const char *name;
    ns_pos name_pos;
    ns_node *params = NULL;
    if (n->kind == NS_SCALAR && !ns_is_null(n)) {
        name = n->scalar;
        name_pos = ns_node_pos(n);
    } else if (n->kind == NS_MAP && n->count == 1) {
        name = n->keys[0];
        name_pos = n->key_pos[0];
        params = n->items[0];
    } else {
        return choice_shape_error(c, n, k);
    }
    const ns_variant *v = ns_schema_variant(k->variants, name);
    if (!v) {
        char shown[SHOW_SIZE], pre[800], hint[128], valid[512];
        suggestion s = { name, NULL, 0, NULL };
        for (const ns_variant *q = k->variants; q->name; q++)
            suggest_try(&s, q->name);
        list_variants(k->variants, valid, sizeof valid);
        return ns_fail_at(c->err, c->doc, name_pos, "%sunknown %s '%s'%s; valid %ss: %s",
                          prefix(c, pre, sizeof pre), k->noun,
                          ns_show(name, shown, sizeof shown), suggest_result(&s, hint, sizeof hint),
                          k->noun, valid);
    }
    size_t old = ns_path_key(&c->path, v->name);
    int rc = 0;
    if (!v->params) {
        /* parameterless: "relu"; "relu: {}" and "relu:" normalize to it */
        if (params && !ns_is_null(params) && !(params->kind == NS_MAP && params->count == 0)) {
            char shown[SHOW_SIZE], found[256];
            if (params->kind == NS_MAP)
                rc = ns_fail_at(c->err, c->doc, params->key_pos[0],
                                "unknown key '%s' in %s; %s takes no parameters",
                                ns_show(params->keys[0], shown, sizeof shown), c->path.text,
                                v->name);
            else
                rc = ns_fail_at(c->err, c->doc, ns_node_pos(params),
                                "%s: %s takes no parameters, got %s", c->path.text, v->name,
                                got(params, false, found, sizeof found));
        } else if (n->kind == NS_MAP) {
            ns_node *s = ns_scalar_new(v->name, strlen(v->name), ns_node_pos(n));
            if (!s) {
                rc = ns_oom(c->err);
            } else {
                s->is_default = n->is_default;
                *slot = s;
                ns_node_free(n);
            }
        }
        ns_path_pop(&c->path, old);
        return rc;
    }
    if (n->kind == NS_SCALAR) {
        /* "adam" -> {adam: {}} (filled below), at the scalar's position */
        ns_node *wrap = ns_node_new(NS_MAP, ns_node_pos(n));
        ns_node *pm = ns_node_new(NS_MAP, ns_node_pos(n));
        if (!wrap || !pm || ns_map_append(wrap, v->name, strlen(v->name), name_pos, pm) != 0) {
            ns_node_free(wrap);
            ns_node_free(pm);
            ns_path_pop(&c->path, old);
            return ns_oom(c->err);
        }
        wrap->is_default = pm->is_default = n->is_default;
        *slot = wrap;
        ns_node_free(n);
        n = wrap;
        params = pm;
    } else if (ns_is_null(params)) {
        params->kind = NS_MAP;   /* "conv:" with nothing = no parameters given */
    } else if (params->kind != NS_MAP) {
        char found[400], valid[512];
        list_keys(v->params, valid, sizeof valid);
        rc = ns_fail_at(c->err, c->doc, ns_node_pos(params),
                        "%s: expected a map of parameters (%s), got %s", c->path.text, valid,
                        got(params, false, found, sizeof found));
        ns_path_pop(&c->path, old);
        return rc;
    }
    rc = resolve_map(c, params, v->params, ns_node_pos(n));
    ns_path_pop(&c->path, old);
    return rc;
}

static int resolve_layers(rctx *c, ns_node *n, const ns_key *k)
{
    if (n->kind != NS_SEQ)
        return expected(c, n, k, false);
    if (n->count < k->min_items || n->count > k->max_items) {
        char what[512], pre[800];
        return ns_fail_at(c->err, c->doc, ns_node_pos(n), "%sexpected %s, got %zu",
                          prefix(c, pre, sizeof pre),
                          ns_schema_describe(k, true, what, sizeof what), n->count);
    }
    for (size_t i = 0; i < n->count; i++) {
        size_t old = ns_path_index(&c->path, i);
        int rc = resolve_choice(c, &n->items[i], k);
        ns_path_pop(&c->path, old);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* One of k->values, or a map of any names to numbers in k's range. */
static int check_named_numbers(rctx *c, ns_node *n, const ns_key *k)
{
    if (n->kind == NS_SCALAR && !ns_is_null(n)) {
        for (const char *const *v = k->values; *v; v++)
            if (strcmp(n->scalar, *v) == 0)
                return 0;
        return expected(c, n, k, false);
    }
    if (n->kind != NS_MAP || n->count == 0)
        return expected(c, n, k, false);
    ns_key number = *k;
    number.type = NS_T_FLOAT;
    for (size_t i = 0; i < n->count; i++) {
        size_t old = ns_path_key(&c->path, n->keys[i]);
        int rc = check_float(c, n->items[i], &number);
        ns_path_pop(&c->path, old);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* `key_pos` is where the key naming this value was written (line 0 when
 * there is none); a map's "missing required key" errors point there. */
static int resolve_value(rctx *c, ns_node **slot, const ns_key *k, ns_pos key_pos)
{
    ns_node *n = *slot;
    switch (k->type) {
    case NS_T_INT:
        return check_int(c, n, k);
    case NS_T_FLOAT:
        return check_float(c, n, k);
    case NS_T_BOOL:
        return check_bool(c, n, k);
    case NS_T_STRING:
        return check_string(c, n, k);
    case NS_T_ENUM:
        return check_enum(c, n, k);
    case NS_T_PATH:
        return resolve_path(c, n, k);
    case NS_T_INT_LIST:
    case NS_T_FLOAT_LIST:
        return check_list(c, n, k);
    case NS_T_MAP:
        if (ns_is_null(n))
            n->kind = NS_MAP;   /* "train:" with nothing = all defaults */
        if (n->kind != NS_MAP)
            return expected(c, n, k, false);
        return resolve_map(c, n, k->keys, key_pos.line > 0 ? key_pos : ns_node_pos(n));
    case NS_T_CHOICE:
        return resolve_choice(c, slot, k);
    case NS_T_LAYERS:
        return resolve_layers(c, n, k);
    case NS_T_NAMED_NUMBERS:
        return check_named_numbers(c, n, k);
    }
    return 0;
}

int ns_doc_resolve(ns_doc *doc, nr_error *err)
{
    rctx c;
    memset(&c, 0, sizeof c);
    c.doc = doc;
    c.err = err;
    doc->resolved = false;
    int rc = resolve_value(&c, &doc->root, &ns_schema_root, ns_node_pos(doc->root));
    free(c.cwd);
    if (rc == 0)
        doc->resolved = true;
    return rc;
}
