/* netspec/set.c - "--set dotted.path=value" overrides.
 *
 * The path is written as in messages and `netrun diff`: keys joined by dots,
 * list indices either as "[N]" after the list (network.layers[0].conv) or as
 * a dotted number (network.layers.0.conv); both forms mix freely. A "[N]"
 * always means a list index, a dotted number means one when it lands on a
 * list (otherwise it is a map key, as it always was).
 *
 * The path is walked twice: first without touching the tree (so that a bad
 * assignment leaves the doc exactly as it was), then for real. The walk
 * follows the schema alongside the tree so that it knows when a segment is a
 * choice's variant name: at a choice, naming the current variant descends
 * into its parameters, naming another one replaces the variant. Everything
 * else is generic: map keys (missing maps are created), list indices. Values
 * are validated later by ns_doc_resolve(), like file values; their nodes and
 * the keys created here carry origin k and positions inside the assignment. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schema.h"

typedef struct seg {
    char *text;     /* NUL-terminated, inside setctx.path_copy */
    size_t len;     /* bytes of text (the NUL goes there after the parse) */
    int col;        /* 1-based character column in the assignment */
    int bcol;       /* bracket: column of its '[' */
    bool bracket;   /* written "[N]": must be an index into a list */
    bool as_index;  /* walked as a list index (messages print it "[N]") */
} seg;

typedef enum { S_NONE, S_MAP, S_CHOICE, S_LIST } skind;

typedef struct sstate {
    skind kind;
    const ns_key *keys;     /* S_MAP: the map's keys */
    const ns_key *choice;   /* S_CHOICE, S_LIST: the key with the variants */
} sstate;

typedef struct setctx {
    ns_doc *doc;
    nr_error *err;
    const char *display;    /* "--set ASSIGNMENT" */
    unsigned origin;
    seg segs[NS_MAX_DEPTH];
    size_t nseg;
    ns_node *value;         /* parsed value; NULL once placed in the tree */
} setctx;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(const setctx *s, int col, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nr_fail(s->err, NR_EXIT_INPUT, "%s:1:%d: error: %s", s->display, col, msg);
}

static sstate state_for_key(const ns_key *k)
{
    sstate st = { S_NONE, NULL, NULL };
    if (!k)
        return st;
    if (k->type == NS_T_MAP) {
        st.kind = S_MAP;
        st.keys = k->keys;
    } else if (k->type == NS_T_CHOICE) {
        st.kind = S_CHOICE;
        st.choice = k;
    } else if (k->type == NS_T_LAYERS) {
        st.kind = S_LIST;
        st.choice = k;
    }
    return st;
}

static sstate next_state(sstate st, const char *segment)
{
    sstate none = { S_NONE, NULL, NULL };
    switch (st.kind) {
    case S_MAP:
        return state_for_key(ns_schema_key(st.keys, segment));
    case S_CHOICE: {
        const ns_variant *v = ns_schema_variant(st.choice->variants, segment);
        if (v && v->params) {
            sstate m = { S_MAP, v->params, NULL };
            return m;
        }
        return none;
    }
    case S_LIST: {
        sstate c = { S_CHOICE, NULL, st.choice };
        return c;
    }
    case S_NONE:
        break;
    }
    return none;
}

/* "train.optimizer" for the segments before i, or "the top level"; list
 * indices as "[N]" like every other message */
static const char *path_before(const setctx *s, size_t i, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < i && o + 1 < size; j++) {
        const seg *g = &s->segs[j];
        int n = g->as_index ? snprintf(buf + o, size - o, "[%s]", g->text)
                            : snprintf(buf + o, size - o, "%s%s", j ? "." : "", g->text);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (i == 0)
        snprintf(buf, size, "the top level");
    return buf;
}

static bool all_digits(const char *text)
{
    size_t n = strlen(text);
    return n > 0 && strspn(text, "0123456789") == n;
}

/* digits (leading zeros allowed) of a value below 10^9 -> *out */
static bool parse_index(const char *text, size_t *out)
{
    if (!all_digits(text) || strlen(text + strspn(text, "0")) > 9)
        return false;
    *out = (size_t)strtoul(text, NULL, 10);
    return true;
}

/* "[N]" at segment i where there is no list (cur: the node there, NULL =
 * not in the spec; st: what the schema says it is) */
static int fail_not_list(const setctx *s, size_t i, const ns_node *cur, sstate st)
{
    const seg *g = &s->segs[i];
    char where[800], shown[NS_SHOW_MAX * 4 + 8];
    const char *path = path_before(s, i, where, sizeof where);
    if (!cur)
        return fail(s, g->bcol, "cannot use the index [%s]: %s is not in the spec, and only "
                    "items of an existing list can be set", g->text, path);
    if (cur->kind == NS_SCALAR && ns_is_null(cur))
        return fail(s, g->bcol, "cannot use the index [%s]: %s is empty, not a list", g->text,
                    path);
    if (cur->kind == NS_SCALAR)
        return fail(s, g->bcol, "cannot use the index [%s]: %s is the value '%s', not a list",
                    g->text, path, ns_show(cur->scalar, shown, sizeof shown));
    const char *what = "a map";
    if (st.kind == S_CHOICE)
        what = st.choice && st.choice->type == NS_T_LAYERS ? "a layer" : "a choice";
    return fail(s, g->bcol, "cannot use the index [%s]: %s is %s, not a list", g->text, path,
                what);
}

/* The node that goes at segment i: the value for the last segment, else an
 * empty map placed at the segment. */
static ns_node *make_target(setctx *s, size_t i)
{
    if (i + 1 == s->nseg) {
        ns_node *v = s->value;
        s->value = NULL;
        return v;
    }
    ns_pos pos = { 1, s->segs[i].col, s->origin };
    return ns_node_new(NS_MAP, pos);
}

/* Replaces *slot by {segment: target}; returns the target (NULL = out of memory). */
static ns_node *replace_with_variant(setctx *s, ns_node **slot, size_t i)
{
    ns_pos pos = { 1, s->segs[i].col, s->origin };
    ns_node *wrap = ns_node_new(NS_MAP, pos);
    ns_node *target = make_target(s, i);
    if (!wrap || !target ||
        ns_map_append(wrap, s->segs[i].text, strlen(s->segs[i].text), pos, target) != 0) {
        ns_node_free(wrap);
        ns_node_free(target);
        return NULL;
    }
    ns_node_free(*slot);
    *slot = wrap;
    return target;
}

static int walk(setctx *s, bool apply)
{
    ns_node **slot = &s->doc->root;
    ns_node *cur = s->doc->root;       /* NULL = does not exist yet (dry run) */
    sstate st = { S_MAP, ns_schema_root.keys, NULL };
    char where[800];
    for (size_t i = 0; i < s->nseg; i++) {
        seg *g = &s->segs[i];
        bool last = i + 1 == s->nseg;
        sstate next = next_state(st, g->text);

        if (g->bracket && (!cur || cur->kind != NS_SEQ))
            return fail_not_list(s, i, cur, st);

        if (st.kind == S_CHOICE && !g->bracket) {
            const char *current = NULL;
            if (cur && cur->kind == NS_SCALAR && !ns_is_null(cur))
                current = cur->scalar;
            else if (cur && cur->kind == NS_MAP && cur->count == 1)
                current = cur->keys[0];
            if (current && strcmp(current, g->text) == 0 && cur->kind == NS_MAP &&
                (last || ns_is_null(cur->items[0]) || cur->items[0]->kind == NS_MAP)) {
                /* the current variant: go into (or replace) its parameters */
                slot = &cur->items[0];
                if (last) {
                    if (apply) {
                        ns_node_free(*slot);
                        *slot = make_target(s, i);
                    }
                    return 0;
                }
                cur = *slot;
                if (apply && ns_is_null(cur))
                    cur->kind = NS_MAP;
                st = next;
                continue;
            }
            if (current && strcmp(current, g->text) == 0 && cur->kind == NS_MAP)
                return fail(s, g->col, "cannot set inside %s.%s: its parameters are not a map",
                            path_before(s, i, where, sizeof where), g->text);
            /* another variant, the current one written as a plain name, or
             * nothing yet: {segment: {}} replaces the choice */
            if (apply) {
                cur = replace_with_variant(s, slot, i);
                if (!cur)
                    return ns_oom(s->err);
                slot = &(*slot)->items[0];
            } else {
                cur = NULL;
            }
            if (last)
                return 0;
            st = next;
            continue;
        }

        if (!cur) {            /* dry run below a node that will be created */
            st = next;
            continue;
        }
        if (cur->kind == NS_SEQ) {
            size_t index;
            if (!parse_index(g->text, &index)) {
                char shown[NS_SHOW_MAX * 4 + 8];
                if (all_digits(g->text)) {      /* more than 9 digits */
                    if (cur->count == 0)
                        return fail(s, g->col, "index %s is out of range: %s is an empty list",
                                    ns_show(g->text, shown, sizeof shown),
                                    path_before(s, i, where, sizeof where));
                    return fail(s, g->col, "index %s is out of range: %s has %zu items "
                                "(0 to %zu)", ns_show(g->text, shown, sizeof shown),
                                path_before(s, i, where, sizeof where), cur->count,
                                cur->count - 1);
                }
                if (cur->count == 0)
                    return fail(s, g->col, "%s is an empty list; cannot set '%s' in it",
                                path_before(s, i, where, sizeof where),
                                ns_show(g->text, shown, sizeof shown));
                return fail(s, g->col, "%s is a list: expected an index from 0 to %zu, got '%s'",
                            path_before(s, i, where, sizeof where), cur->count - 1,
                            ns_show(g->text, shown, sizeof shown));
            }
            if (index >= cur->count) {
                if (cur->count == 0)
                    return fail(s, g->col, "index %zu is out of range: %s is an empty list",
                                index, path_before(s, i, where, sizeof where));
                return fail(s, g->col, "index %zu is out of range: %s has %zu items (0 to %zu)",
                            index, path_before(s, i, where, sizeof where), cur->count,
                            cur->count - 1);
            }
            g->as_index = true;
            slot = &cur->items[index];
            if (last) {
                if (apply) {
                    ns_node_free(*slot);
                    *slot = make_target(s, i);
                }
                return 0;
            }
            cur = *slot;
            st = next;
            continue;
        }
        if (cur->kind == NS_SCALAR && !ns_is_null(cur)) {
            char shown[NS_SHOW_MAX * 4 + 8];
            return fail(s, g->col, "cannot set '%s' inside %s: it is the value '%s', not a map",
                        g->text, path_before(s, i, where, sizeof where),
                        ns_show(cur->scalar, shown, sizeof shown));
        }
        if (apply && cur->kind == NS_SCALAR)
            cur->kind = NS_MAP;   /* "train:" with nothing is an empty map */
        long at = ns_map_index(cur, g->text);
        if (at >= 0) {
            slot = &cur->items[at];
            if (last) {
                if (apply) {
                    ns_node_free(*slot);
                    *slot = make_target(s, i);
                }
                return 0;
            }
            cur = *slot;
        } else if (apply) {
            ns_pos pos = { 1, g->col, s->origin };
            ns_node *target = make_target(s, i);
            if (!target || ns_map_append(cur, g->text, strlen(g->text), pos, target) != 0) {
                ns_node_free(target);
                return ns_oom(s->err);
            }
            if (last)
                return 0;
            slot = &cur->items[cur->count - 1];
            cur = *slot;
        } else {
            cur = NULL;
        }
        if (last)
            return 0;
        st = next;
    }
    return 0;
}

/* Number of characters (not bytes) in text[0..n). */
static int char_count(const char *text, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            c++;
    return c;
}

/* Splits the path (path_copy[0..plen), a copy of assignment[0..plen)) into
 * s->segs: KEY, then any number of [N], then ".KEY..." again; the first key
 * may be left out ("[0]" - the top level is then not a list). Only the
 * syntax is checked here; whether a list is there is the walk's business. */
static int parse_path(setctx *s, const char *assignment, char *path_copy, size_t plen)
{
    static const char digits[] = "0123456789";
    size_t p = 0;
    for (;;) {
        size_t start = p;
        while (p < plen && path_copy[p] != '.' && path_copy[p] != '[' && path_copy[p] != ']')
            p++;
        int col = char_count(assignment, start) + 1;
        char at = p < plen ? path_copy[p] : '\0';
        if (p == start) {
            if (at == ']')
                return fail(s, col, "']' without a '[' in the path; a list index is written "
                            "[N], e.g. network.layers[0]");
            if (at == '[' && start > 0)
                return fail(s, col, "a key is missing before '['; an index follows its list "
                            "directly, e.g. network.layers[0] (or network.layers.0)");
            if (at != '[')
                return fail(s, col, "empty key in the path '%.*s' (two dots, or a dot at an "
                            "end)", (int)plen, assignment);
        } else {
            if (at == ']')
                return fail(s, char_count(assignment, p) + 1, "']' without a '[' in the path; "
                            "a list index is written [N], e.g. network.layers[0]");
            if (s->nseg == NS_MAX_DEPTH - 1)
                return fail(s, col, "the path has more than %d keys", NS_MAX_DEPTH - 2);
            seg *g = &s->segs[s->nseg++];
            memset(g, 0, sizeof *g);
            g->text = path_copy + start;
            g->len = p - start;
            g->col = col;
        }
        while (p < plen && path_copy[p] == '[') {
            size_t open = p, first = p + 1, close = first;
            while (close < plen && path_copy[close] != ']' && path_copy[close] != '[')
                close++;
            int bcol = char_count(assignment, open) + 1, ccol = bcol + 1;
            if (close == plen || path_copy[close] != ']')
                return fail(s, bcol, "'[' is not closed; a list index is written [N], e.g. "
                            "network.layers[0]");
            const char *c = path_copy + first;
            int n = (int)(close - first);
            size_t d = strspn(c, digits);   /* stops at ']' at the latest */
            if (n == 0)
                return fail(s, ccol, "empty index []; expected a list index, a number from 0");
            if ((int)d != n) {
                size_t d2 = c[d] == '-' && c[d + 1] == '>' ? strspn(c + d + 2, digits) : 0;
                if (d > 0 && d2 > 0 && (int)(d + 2 + d2) == n)
                    return fail(s, ccol, "[%.*s] is how netrun diff names a layer at index "
                                "%.*s in the first spec and %.*s in the second; give one "
                                "index: [%.*s] or [%.*s]", n, c, (int)d, c, (int)d2,
                                c + d + 2, (int)d, c, (int)d2, c + d + 2);
                if (c[0] == '-' && n > 1 && (int)strspn(c + 1, digits) == n - 1)
                    return fail(s, ccol, "negative index [%.*s]; list indices count from 0 "
                                "(there is no counting from the end)", n, c);
                char shown[NS_SHOW_MAX * 4 + 8];
                path_copy[close] = '\0';
                return fail(s, ccol, "expected a list index (a number from 0) in [...], got "
                            "'%s'", ns_show(c, shown, sizeof shown));
            }
            if (s->nseg == NS_MAX_DEPTH - 1)
                return fail(s, bcol, "the path has more than %d keys", NS_MAX_DEPTH - 2);
            seg *g = &s->segs[s->nseg++];
            memset(g, 0, sizeof *g);
            g->text = path_copy + first;
            g->len = close - first;
            g->col = ccol;
            g->bcol = bcol;
            g->bracket = true;
            p = close + 1;
        }
        if (p == plen)
            break;
        if (path_copy[p] == ']')
            return fail(s, char_count(assignment, p) + 1, "']' without a '[' in the path; "
                        "a list index is written [N], e.g. network.layers[0]");
        if (path_copy[p] != '.')
            return fail(s, char_count(assignment, p) + 1, "expected '.' or '[' after ']'; "
                        "what follows an index is '.KEY', another '[N]' or '='");
        p++;
    }
    for (size_t i = 0; i < s->nseg; i++)
        s->segs[i].text[s->segs[i].len] = '\0';
    return 0;
}

int ns_doc_apply_set(ns_doc *doc, const char *assignment, nr_error *err)
{
    size_t alen = strlen(assignment);
    unsigned origin = (unsigned)doc->set_count + 1;

    /* the display name: the assignment itself once it is known to be text */
    char safe[512];
    ns_show(assignment, safe, sizeof safe);
    char *display = malloc(alen + 8);
    char *path_copy = NULL;
    if (!display)
        return ns_oom(err);
    snprintf(display, alen + 8, "--set %s", assignment);
    {
        char pre[600];
        snprintf(pre, sizeof pre, "--set %s", safe);
        ns_parse_opts o = { pre, origin, 0, NS_MAX_DEPTH, true };
        if (alen > NS_MAX_SCALAR) {
            free(display);
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: assignment is longer than %d bytes",
                           pre, NS_MAX_SCALAR);
        }
        const char *brk = strpbrk(assignment, "\r\n");
        if (brk) {
            free(display);
            return nr_fail(err, NR_EXIT_INPUT,
                           "%s:1:%d: error: line break in an assignment; --set takes one line",
                           pre, char_count(assignment, (size_t)(brk - assignment)) + 1);
        }
        if (ns_prescan(assignment, alen, &o, err) != 0) {
            free(display);
            return -1;
        }
    }

    setctx s;
    memset(&s, 0, sizeof s);
    s.doc = doc;
    s.err = err;
    s.display = display;
    s.origin = origin;
    int rc = -1;

    const char *eq = strchr(assignment, '=');
    if (!eq) {
        fail(&s, 1, "expected PATH=VALUE (e.g. train.epochs=20); there is no '='");
        goto done;
    }
    if (eq == assignment) {
        fail(&s, 1, "expected PATH=VALUE (e.g. train.epochs=20); the path before '=' is empty");
        goto done;
    }
    size_t plen = (size_t)(eq - assignment);
    path_copy = malloc(plen + 1);
    if (!path_copy) {
        ns_oom(err);
        goto done;
    }
    memcpy(path_copy, assignment, plen);
    path_copy[plen] = '\0';
    if (parse_path(&s, assignment, path_copy, plen) != 0)
        goto done;

    /* the value, as YAML, with positions inside the assignment */
    {
        size_t voff = plen + 1;
        ns_parse_opts o = { display, origin, char_count(assignment, voff),
                            NS_MAX_DEPTH - (int)s.nseg, true };
        if (ns_parse_yaml(eq + 1, alen - voff, &o, &s.value, err) != 0)
            goto done;
    }

    if (walk(&s, false) != 0)
        goto done;

    /* make room for the record first so that nothing can fail after the
     * tree has changed (except running out of memory half-way) */
    char **sets = realloc(doc->sets, (doc->set_count + 1) * sizeof *sets);
    if (!sets) {
        ns_oom(err);
        goto done;
    }
    doc->sets = sets;
    doc->sets[doc->set_count] = strdup(assignment);
    if (!doc->sets[doc->set_count]) {
        ns_oom(err);
        goto done;
    }
    if (walk(&s, true) != 0) {
        free(doc->sets[doc->set_count]);
        goto done;
    }
    doc->set_count++;
    doc->resolved = false;
    rc = 0;
done:
    ns_node_free(s.value);
    free(path_copy);
    free(display);
    return rc;
}
