/* netspec/tree.c - the ns_node tree: construction, equality, lookup, typed
 * accessors, positions, and small text helpers shared by the other files. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Every node is allocated as a node_impl so that maps and lists can grow
 * geometrically without a capacity field in the public struct. */
typedef struct node_impl {
    ns_node pub;     /* first member: (ns_node *) and (node_impl *) convert */
    size_t cap;      /* allocated length of keys/items/key_pos */
} node_impl;

static node_impl *impl_of(ns_node *node)
{
    return (node_impl *)(void *)node;
}

ns_node *ns_node_new(ns_kind kind, ns_pos pos)
{
    node_impl *impl = calloc(1, sizeof *impl);
    if (!impl)
        return NULL;
    ns_node *node = &impl->pub;
    node->kind = kind;
    ns_node_place(node, pos);
    node->scalar = calloc(1, 1);
    if (!node->scalar) {
        free(impl);
        return NULL;
    }
    return node;
}

ns_node *ns_scalar_new(const char *text, size_t len, ns_pos pos)
{
    ns_node *node = ns_node_new(NS_SCALAR, pos);
    if (!node)
        return NULL;
    char *copy = malloc(len + 1);
    if (!copy) {
        ns_node_free(node);
        return NULL;
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    free(node->scalar);
    node->scalar = copy;
    return node;
}

void ns_node_free(ns_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->count; i++) {
        if (node->keys)
            free(node->keys[i]);
        ns_node_free(node->items[i]);
    }
    free(node->keys);
    free(node->items);
    free(node->key_pos);
    free(node->scalar);
    free(impl_of(node));
}

/* Makes room for one more entry (and for keys when `with_keys`). */
static int grow(ns_node *node, bool with_keys)
{
    node_impl *impl = impl_of(node);
    if (node->count < impl->cap)
        return 0;
    size_t cap = impl->cap ? impl->cap * 2 : 4;
    ns_node **items = realloc(node->items, cap * sizeof *items);
    if (!items)
        return -1;
    node->items = items;
    if (with_keys) {
        char **keys = realloc(node->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        node->keys = keys;
        ns_pos *kp = realloc(node->key_pos, cap * sizeof *kp);
        if (!kp)
            return -1;
        node->key_pos = kp;
    }
    impl->cap = cap;
    return 0;
}

int ns_map_append(ns_node *map, const char *key, size_t key_len, ns_pos key_pos, ns_node *value)
{
    char *copy = malloc(key_len + 1);
    if (!copy)
        return -1;
    memcpy(copy, key, key_len);
    copy[key_len] = '\0';
    if (grow(map, true) != 0) {
        free(copy);
        return -1;
    }
    map->keys[map->count] = copy;
    map->key_pos[map->count] = key_pos;
    map->items[map->count] = value;
    map->count++;
    return 0;
}

int ns_seq_append(ns_node *seq, ns_node *item)
{
    if (grow(seq, false) != 0)
        return -1;
    seq->items[seq->count++] = item;
    return 0;
}

long ns_map_index(const ns_node *map, const char *key)
{
    if (!map || map->kind != NS_MAP)
        return -1;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], key) == 0)
            return (long)i;
    return -1;
}

ns_pos ns_node_pos(const ns_node *node)
{
    ns_pos pos = { node->line, node->col, node->origin };
    return pos;
}

void ns_node_place(ns_node *node, ns_pos pos)
{
    node->line = pos.line;
    node->col = pos.col;
    node->origin = pos.origin;
}

bool ns_is_null(const ns_node *node)
{
    return node->kind == NS_SCALAR && !node->quoted && node->scalar[0] == '\0';
}

void ns_doc_free(ns_doc *doc)
{
    if (!doc)
        return;
    ns_node_free(doc->root);
    for (size_t i = 0; i < doc->set_count; i++)
        free(doc->sets[i]);
    free(doc->sets);
    free(doc->path);
    free(doc->dir);
    free(doc);
}

bool ns_node_equal(const ns_node *a, const ns_node *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->kind != b->kind)
        return false;
    if (a->kind == NS_SCALAR)
        return strcmp(a->scalar, b->scalar) == 0;
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        if (a->kind == NS_MAP && strcmp(a->keys[i], b->keys[i]) != 0)
            return false;
        if (!ns_node_equal(a->items[i], b->items[i]))
            return false;
    }
    return true;
}

/* ---- lookup ---- */

const ns_node *ns_map_get(const ns_node *map, const char *key)
{
    long i = ns_map_index(map, key);
    return i < 0 ? NULL : map->items[i];
}

const ns_node *ns_path_get(const ns_node *node, const char *dotted)
{
    const char *s = dotted;
    while (node) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        const ns_node *next = NULL;
        if (node->kind == NS_MAP) {
            for (size_t i = 0; i < node->count; i++)
                if (strlen(node->keys[i]) == n && memcmp(node->keys[i], s, n) == 0) {
                    next = node->items[i];
                    break;
                }
        } else if (node->kind == NS_SEQ && n > 0 && n < 10) {
            size_t index = 0;
            bool digits = true;
            for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)s[i]))
                    digits = false;
                else
                    index = index * 10 + (size_t)(s[i] - '0');
            }
            if (digits && index < node->count)
                next = node->items[index];
        }
        node = next;
        if (!dot)
            return node;
        s = dot + 1;
    }
    return NULL;
}

/* ---- typed accessors ---- */

static const ns_node *need_scalar(const ns_node *node)
{
    if (!node || node->kind != NS_SCALAR)
        abort();
    return node;
}

long ns_int(const ns_node *scalar)
{
    long long v;
    if (!ns_text_int(need_scalar(scalar)->scalar, &v) || v < LONG_MIN || v > LONG_MAX)
        abort();
    return (long)v;
}

double ns_float(const ns_node *scalar)
{
    double v;
    if (!ns_text_float(need_scalar(scalar)->scalar, &v))
        abort();
    return v;
}

bool ns_bool(const ns_node *scalar)
{
    bool v;
    if (!ns_text_bool(need_scalar(scalar)->scalar, &v))
        abort();
    return v;
}

const char *ns_str(const ns_node *scalar)
{
    return need_scalar(scalar)->scalar;
}

long ns_get_int(const ns_node *node, const char *dotted)
{
    return ns_int(ns_path_get(node, dotted));
}

double ns_get_float(const ns_node *node, const char *dotted)
{
    return ns_float(ns_path_get(node, dotted));
}

bool ns_get_bool(const ns_node *node, const char *dotted)
{
    return ns_bool(ns_path_get(node, dotted));
}

const char *ns_get_str(const ns_node *node, const char *dotted)
{
    return ns_str(ns_path_get(node, dotted));
}

const char *ns_choice_name(const ns_node *choice)
{
    if (choice && choice->kind == NS_SCALAR)
        return choice->scalar;
    if (choice && choice->kind == NS_MAP && choice->count == 1)
        return choice->keys[0];
    abort();
}

const ns_node *ns_choice_params(const ns_node *choice)
{
    if (choice && choice->kind == NS_SCALAR)
        return NULL;
    if (choice && choice->kind == NS_MAP && choice->count == 1)
        return choice->items[0];
    abort();
}

/* ---- positions and messages ---- */

const char *ns_pos_where(const ns_doc *doc, ns_pos pos, char *buf, size_t size)
{
    if (!size)
        return buf;
    if (pos.origin >= 1 && pos.origin <= doc->set_count) {
        snprintf(buf, size, "--set %s:%d:%d", doc->sets[pos.origin - 1], pos.line, pos.col);
    } else if (pos.origin >= 1) {
        /* a --set being applied right now (not stored yet) has no text here */
        snprintf(buf, size, "--set:%d:%d", pos.line, pos.col);
    } else if (pos.line > 0) {
        snprintf(buf, size, "%s:%d:%d", doc->path, pos.line, pos.col);
    } else {
        snprintf(buf, size, "%s", doc->path);
    }
    return buf;
}

const char *ns_node_where(const ns_doc *doc, const ns_node *node, char *buf, size_t size)
{
    return ns_pos_where(doc, ns_node_pos(node), buf, size);
}

int ns_fail_at(nr_error *err, const ns_doc *doc, ns_pos pos, const char *fmt, ...)
{
    char where[512];
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ns_pos_where(doc, pos, where, sizeof where);
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: %s", where, msg);
}

int ns_oom(nr_error *err)
{
    return nr_fail(err, NR_EXIT_INTERNAL, "netspec: error: out of memory");
}

size_t ns_path_key(ns_path *p, const char *key)
{
    size_t old = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "%s%s", p->len ? "." : "", key);
    if (n > 0)
        p->len += (size_t)n < sizeof p->text - p->len ? (size_t)n : sizeof p->text - p->len - 1;
    return old;
}

size_t ns_path_index(ns_path *p, size_t index)
{
    size_t old = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "[%zu]", index);
    if (n > 0)
        p->len += (size_t)n < sizeof p->text - p->len ? (size_t)n : sizeof p->text - p->len - 1;
    return old;
}

void ns_path_pop(ns_path *p, size_t old_len)
{
    p->len = old_len;
    p->text[old_len] = '\0';
}

/* ---- text helpers ---- */

bool ns_text_int(const char *text, long long *out)
{
    const char *s = text;
    if (*s == '+' || *s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    for (const char *q = s; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE || !end || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool ns_text_float(const char *text, double *out)
{
    /* digits with optional sign, point and exponent; strtod alone would also
     * take "inf", "nan", hex floats and leading blanks */
    const char *s = text;
    bool digit = false;
    if (*s == '+' || *s == '-')
        s++;
    while (isdigit((unsigned char)*s)) {
        s++;
        digit = true;
    }
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            s++;
            digit = true;
        }
    }
    if (!digit)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s != '\0')
        return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (!end || *end != '\0' || !isfinite(v))
        return false;
    /* ERANGE on underflow (1e-400) gives 0 or a denormal: accept; overflow
     * gives HUGE_VAL and was refused by isfinite */
    *out = v;
    return true;
}

bool ns_text_bool(const char *text, bool *out)
{
    if (strcmp(text, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(text, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static bool text_in(const char *text, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(text, *list) == 0)
            return true;
    return false;
}

bool ns_text_looks_typed(const char *text)
{
    static const char *const words[] = {
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
        "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
        "y", "Y", "n", "N", ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf",
        "+.Inf", "+.INF", ".nan", ".NaN", ".NAN", NULL
    };
    if (text_in(text, words))
        return true;
    long long i;
    double d;
    if (ns_text_int(text, &i) || ns_text_float(text, &d))
        return true;
    /* other YAML number spellings: 0x1F, 0o17, 1_000, 1:30 (sexagesimal) */
    const char *s = text;
    if (*s == '+' || *s == '-')
        s++;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
        return true;
    if (isdigit((unsigned char)s[0])) {
        for (; *s; s++)
            if (!isdigit((unsigned char)*s) && *s != '_' && *s != ':' && *s != '.' &&
                *s != 'e' && *s != 'E' && *s != '+' && *s != '-')
                return false;
        return true;
    }
    return false;
}

const char *ns_show(const char *text, char *buf, size_t size)
{
    size_t o = 0, chars = 0;
    if (!size)
        return buf;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
        if ((*s & 0xC0) != 0x80 && ++chars > NS_SHOW_MAX) {
            if (o + 4 < size) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        char tmp[8];
        size_t n;
        if (*s == '\n')
            n = (size_t)snprintf(tmp, sizeof tmp, "\\n");
        else if (*s < 0x20 || *s == 0x7F)
            n = (size_t)snprintf(tmp, sizeof tmp, "\\x%02X", *s);
        else {
            tmp[0] = (char)*s;
            n = 1;
        }
        if (o + n + 1 > size)
            break;
        memcpy(buf + o, tmp, n);
        o += n;
    }
    buf[o] = '\0';
    return buf;
}

size_t ns_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1;   /* no schema name is that long */
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        size_t best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
    }
    return row[lb];
}

/* ---- file paths ---- */

char *ns_getcwd(void)
{
    size_t size = 256;
    for (;;) {
        char *buf = malloc(size);
        if (!buf)
            return NULL;
        if (getcwd(buf, size))
            return buf;
        int e = errno;
        free(buf);
        if (e != ERANGE || size > ((size_t)1 << 20)) {
            errno = e;
            return NULL;
        }
        size *= 2;
    }
}

char *ns_path_join_normalize(const char *base, const char *rel)
{
    size_t lb = (rel[0] == '/' || !base) ? 0 : strlen(base);
    size_t lr = strlen(rel);
    char *joined = malloc(lb + lr + 2);
    /* components point into `joined`; there are at most (len+1)/2 of them */
    size_t max_parts = (lb + lr + 2) / 2 + 1;
    const char **parts = malloc(max_parts * sizeof *parts);
    size_t *lens = malloc(max_parts * sizeof *lens);
    char *out = malloc(lb + lr + 3);
    if (!joined || !parts || !lens || !out) {
        free(joined);
        free(parts);
        free(lens);
        free(out);
        return NULL;
    }
    memcpy(joined, base ? base : "", lb);
    joined[lb] = '/';
    memcpy(joined + lb + 1, rel, lr + 1);

    size_t n = 0;
    const char *s = joined;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 1 && s[0] == '.') {
            /* skip */
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            if (n > 0)
                n--;
        } else {
            parts[n] = s;
            lens[n] = len;
            n++;
        }
        s += len;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        out[o++] = '/';
        memcpy(out + o, parts[i], lens[i]);
        o += lens[i];
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    free(joined);
    free(parts);
    free(lens);
    return out;
}
