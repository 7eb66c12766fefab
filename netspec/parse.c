/* netspec/parse.c - YAML text -> ns_node tree with positions (libyaml event
 * API), and the ns_doc_parse_* entry points.
 *
 * Before libyaml sees the text, a byte scan refuses what YAML would either
 * misread or report badly: invalid UTF-8, control characters (binary files),
 * tabs, and the exotic YAML 1.1 line breaks (U+0085, U+2028, U+2029) that
 * would make libyaml's line numbers disagree with every editor. Anchors,
 * aliases and tags are refused at the event level, so alias bombs cannot
 * happen; nesting is limited to NS_MAX_DEPTH and scalars to NS_MAX_SCALAR. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "internal.h"

typedef struct frame {
    ns_node *node;        /* NS_MAP or NS_SEQ being filled */
    char *key;            /* NS_MAP: key waiting for its value (NULL = expect a key) */
    size_t key_len;
    ns_pos key_pos;
    size_t *htab;         /* NS_MAP: open-addressing table of index+1, for duplicates */
    size_t hcap;
} frame;

typedef struct reader {
    const ns_parse_opts *o;
    nr_error *err;
    frame stack[NS_MAX_DEPTH];
    int depth;
    ns_node *root;
    const char *text;     /* the text being read */
    size_t len;
} reader;

static ns_pos pos_of(const reader *r, yaml_mark_t m)
{
    ns_pos p;
    p.line = (int)m.line + 1;
    p.col = (int)m.column + 1 + (m.line == 0 ? r->o->col_offset : 0);
    p.origin = r->o->origin;
    return p;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(const reader *r, ns_pos pos, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nr_fail(r->err, NR_EXIT_INPUT, "%s:%d:%d: error: %s", r->o->display, pos.line, pos.col,
                   msg);
}

/* ---- byte scan ---- */

static int prescan(const reader *r, const unsigned char *s, size_t len);

int ns_prescan(const char *text, size_t len, const ns_parse_opts *opts, nr_error *err)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.o = opts;
    r.err = err;
    return prescan(&r, (const unsigned char *)text, len);
}

static int prescan(const reader *r, const unsigned char *s, size_t len)
{
    ns_pos pos = { 1, 1 + r->o->col_offset, r->o->origin };
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == '\n' || c == '\r') {
            i += (c == '\r' && i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
            pos.line++;
            pos.col = 1;
            continue;
        }
        if (c == '\t')
            return fail(r, pos, "tab character; YAML is indented with spaces, and a spec "
                                "may not contain tabs at all");
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F)
                return fail(r, pos, "control character 0x%02X; a spec must be UTF-8 text "
                                    "(is this a binary file?)", c);
            i++;
            pos.col++;
            continue;
        }
        /* UTF-8 sequence */
        size_t n;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return fail(r, pos, "invalid UTF-8 byte 0x%02X; a spec must be UTF-8 text", c);
        }
        if (i + n > len)
            return fail(r, pos, "invalid UTF-8 (truncated sequence); a spec must be UTF-8 text");
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return fail(r, pos, "invalid UTF-8 byte sequence starting with 0x%02X; a spec "
                                    "must be UTF-8 text", c);
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(r, pos, "invalid UTF-8 byte sequence starting with 0x%02X; a spec "
                                "must be UTF-8 text", c);
        if (cp == 0x85 || cp == 0x2028 || cp == 0x2029)
            return fail(r, pos, "unusual line break U+%04X; use a plain newline", cp);
        if (cp < 0xA0 || cp == 0xFFFE || cp == 0xFFFF)
            return fail(r, pos, "control character U+%04X; a spec must be printable text", cp);
        i += n;
        pos.col++;
    }
    return 0;
}

/* ---- duplicate keys ---- */

static size_t hash_key(const char *s, size_t n)
{
    size_t h = 1469598103u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Index of key in the frame's map, or -1. */
static long frame_find(const frame *f, const char *key, size_t n)
{
    if (!f->hcap)
        return -1;
    for (size_t h = hash_key(key, n) & (f->hcap - 1);; h = (h + 1) & (f->hcap - 1)) {
        size_t v = f->htab[h];
        if (!v)
            return -1;
        const char *k = f->node->keys[v - 1];
        if (strlen(k) == n && memcmp(k, key, n) == 0)
            return (long)(v - 1);
    }
}

static void frame_insert(frame *f, size_t index)
{
    const char *k = f->node->keys[index];
    for (size_t h = hash_key(k, strlen(k)) & (f->hcap - 1);; h = (h + 1) & (f->hcap - 1))
        if (!f->htab[h]) {
            f->htab[h] = index + 1;
            return;
        }
}

/* Room for one more key in the table (load <= 1/2). */
static int frame_reserve(frame *f)
{
    size_t need = f->node->count + 1;
    if (need * 2 <= f->hcap)
        return 0;
    size_t cap = f->hcap ? f->hcap * 2 : 16;
    size_t *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    free(f->htab);
    f->htab = t;
    f->hcap = cap;
    for (size_t i = 0; i < f->node->count; i++)
        frame_insert(f, i);
    return 0;
}

/* "train", "network.layers[2]", "the top level" - the map at stack[upto]. */
static const char *frame_path(const reader *r, int upto, char *buf, size_t size)
{
    ns_path p;
    p.len = 0;
    p.text[0] = '\0';
    for (int i = 0; i < upto; i++) {
        /* the child being built is the last one attached */
        const frame *f = &r->stack[i];
        if (f->node->count == 0)
            break;
        if (f->node->kind == NS_MAP) {
            char shown[NS_SHOW_MAX * 4 + 8];
            ns_path_key(&p, ns_show(f->node->keys[f->node->count - 1], shown, sizeof shown));
        } else {
            ns_path_index(&p, f->node->count - 1);
        }
    }
    if (p.len == 0)
        snprintf(buf, size, "%s", r->o->value_mode ? "in the value" : "at the top level");
    else
        snprintf(buf, size, "in %s", p.text);
    return buf;
}

/* ---- building ---- */

static int attach(reader *r, ns_node *node)
{
    if (r->depth == 0) {
        r->root = node;
        return 0;
    }
    frame *f = &r->stack[r->depth - 1];
    if (f->node->kind == NS_MAP) {
        if (ns_map_append(f->node, f->key, f->key_len, f->key_pos, node) != 0)
            return ns_oom(r->err);
        frame_insert(f, f->node->count - 1);
        free(f->key);
        f->key = NULL;
        return 0;
    }
    if (ns_seq_append(f->node, node) != 0)
        return ns_oom(r->err);
    return 0;
}

static bool expecting_key(const reader *r)
{
    if (r->depth == 0)
        return false;
    const frame *f = &r->stack[r->depth - 1];
    return f->node->kind == NS_MAP && f->key == NULL;
}

static int check_props(const reader *r, ns_pos pos, const yaml_char_t *anchor,
                       const yaml_char_t *tag)
{
    if (anchor)
        return fail(r, pos, "anchors and aliases are not supported (found anchor '&%s'); "
                            "write the value out", (const char *)anchor);
    if (tag)
        return fail(r, pos, "YAML tags are not supported (found '%s'); quote a value to make "
                            "it a string", (const char *)tag);
    return 0;
}

static int on_scalar(reader *r, const yaml_event_t *ev)
{
    ns_pos pos = pos_of(r, ev->start_mark);
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (check_props(r, pos, ev->data.scalar.anchor, ev->data.scalar.tag) != 0)
        return -1;
    if (len > NS_MAX_SCALAR)
        return fail(r, pos, "%s of %zu bytes is longer than the limit of %d bytes",
                    expecting_key(r) ? "key" : "value", len, NS_MAX_SCALAR);
    if (memchr(text, '\0', len))
        return fail(r, pos, "NUL character in a string");
    if (expecting_key(r)) {
        frame *f = &r->stack[r->depth - 1];
        long dup = frame_find(f, text, len);
        if (dup >= 0) {
            char shown[NS_SHOW_MAX * 4 + 8], where[900];
            return fail(r, pos, "duplicate key '%s' %s (first defined at line %d)",
                        ns_show(f->node->keys[dup], shown, sizeof shown),
                        frame_path(r, r->depth - 1, where, sizeof where),
                        f->node->key_pos[dup].line);
        }
        if (frame_reserve(f) != 0)
            return ns_oom(r->err);
        f->key = malloc(len + 1);
        if (!f->key)
            return ns_oom(r->err);
        memcpy(f->key, text, len);
        f->key[len] = '\0';
        f->key_len = len;
        f->key_pos = pos;
        return 0;
    }
    ns_node *node = ns_scalar_new(text, len, pos);
    if (!node)
        return ns_oom(r->err);
    node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
                   ev->data.scalar.style != YAML_ANY_SCALAR_STYLE;
    if (attach(r, node) != 0) {
        ns_node_free(node);
        return -1;
    }
    return 0;
}

static int on_start(reader *r, const yaml_event_t *ev, ns_kind kind)
{
    ns_pos pos = pos_of(r, ev->start_mark);
    const yaml_char_t *anchor = kind == NS_MAP ? ev->data.mapping_start.anchor
                                               : ev->data.sequence_start.anchor;
    const yaml_char_t *tag = kind == NS_MAP ? ev->data.mapping_start.tag
                                            : ev->data.sequence_start.tag;
    if (check_props(r, pos, anchor, tag) != 0)
        return -1;
    if (expecting_key(r))
        return fail(r, pos, "a map key must be a plain string, not a %s",
                    kind == NS_MAP ? "map" : "list");
    if (r->depth >= r->o->max_depth)
        return fail(r, pos, "maps and lists nested deeper than %d levels", r->o->max_depth);
    ns_node *node = ns_node_new(kind, pos);
    if (!node)
        return ns_oom(r->err);
    if (attach(r, node) != 0) {
        ns_node_free(node);
        return -1;
    }
    frame *f = &r->stack[r->depth++];
    memset(f, 0, sizeof *f);
    f->node = node;
    return 0;
}

static void on_end(reader *r)
{
    frame *f = &r->stack[--r->depth];
    free(f->key);
    free(f->htab);
    memset(f, 0, sizeof *f);
}

static int syntax_error(const reader *r, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return ns_oom(r->err);
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR) {
        ns_pos pos = { 1, 1 + r->o->col_offset, r->o->origin };
        return fail(r, pos, "invalid text: %s (byte offset %zu)", problem, p->problem_offset);
    }
    ns_pos pos = pos_of(r, p->problem_mark);
    size_t chars = 0;   /* libyaml's mark.index counts characters */
    for (size_t i = 0; i < r->len; i++)
        chars += ((unsigned char)r->text[i] & 0xC0) != 0x80;
    if (p->problem_mark.index >= chars) {
        /* at the end of the text: libyaml puts it on a line of its own
         * after the last one; point just after the last character instead */
        pos.line = 1;
        pos.col = 1 + r->o->col_offset;
        for (size_t i = 0; i < r->len; i++) {
            unsigned char c = (unsigned char)r->text[i];
            if (c == '\n' || (c == '\r' && (i + 1 == r->len || r->text[i + 1] != '\n'))) {
                pos.line++;
                pos.col = 1;
            } else if (c != '\r' && (c & 0xC0) != 0x80) {
                pos.col++;
            }
        }
    }
    if (p->context)
        return fail(r, pos, "invalid YAML: %s (%s at line %zu)", problem, p->context,
                    p->context_mark.line + 1);
    return fail(r, pos, "invalid YAML: %s", problem);
}

static int run_events(reader *r, yaml_parser_t *p)
{
    int documents = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return syntax_error(r, p);
        int rc = 0;
        bool done = false;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                rc = fail(r, pos_of(r, ev.start_mark),
                          "a spec is one YAML document; found a second one");
            break;
        case YAML_ALIAS_EVENT:
            rc = fail(r, pos_of(r, ev.start_mark),
                      "anchors and aliases are not supported (found alias '*%s'); write the "
                      "value out", (const char *)ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(r, &ev);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = on_start(r, &ev, NS_MAP);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = on_start(r, &ev, NS_SEQ);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            on_end(r);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
        if (done)
            return 0;
    }
}

int ns_parse_yaml(const char *text, size_t len, const ns_parse_opts *opts, ns_node **out,
                  nr_error *err)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.o = opts;
    r.err = err;
    r.text = text;
    r.len = len;
    *out = NULL;
    ns_pos start = { 1, 1 + opts->col_offset, opts->origin };
    if (len > NS_MAX_FILE)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: spec is larger than 1 MiB (%zu bytes; "
                       "the limit is %d)", opts->display, len, NS_MAX_FILE);
    if (prescan(&r, (const unsigned char *)text, len) != 0)
        return -1;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return ns_oom(err);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    int rc = run_events(&r, &parser);
    yaml_parser_delete(&parser);
    while (r.depth > 0)
        on_end(&r);
    if (rc != 0) {
        ns_node_free(r.root);
        return -1;
    }

    if (opts->value_mode) {
        if (!r.root) {
            r.root = ns_scalar_new("", 0, start);
            if (!r.root)
                return ns_oom(err);
        }
        *out = r.root;
        return 0;
    }
    if (!r.root || ns_is_null(r.root)) {
        ns_node_free(r.root);
        return fail(&r, start, "empty spec; expected a map with keys name, data, network, train");
    }
    if (r.root->kind != NS_MAP) {
        char shown[NS_SHOW_MAX * 4 + 8];
        ns_pos pos = ns_node_pos(r.root);
        if (r.root->kind == NS_SEQ)
            fail(&r, pos, "the top level must be a map with keys name, data, network, train; "
                          "got a list");
        else
            fail(&r, pos, "the top level must be a map with keys name, data, network, train; "
                          "got '%s'", ns_show(r.root->scalar, shown, sizeof shown));
        ns_node_free(r.root);
        return -1;
    }
    *out = r.root;
    return 0;
}

/* ---- documents ---- */

/* Absolute, normalized directory for relative data paths. */
static char *absolute_dir(const char *dir, nr_error *err)
{
    char *cwd = NULL;
    if (dir[0] != '/') {
        cwd = ns_getcwd();
        if (!cwd) {
            nr_fail(err, NR_EXIT_INTERNAL, "netspec: error: cannot get the current directory: %s",
                    strerror(errno));
            return NULL;
        }
    }
    char *abs = ns_path_join_normalize(cwd, dir);
    free(cwd);
    if (!abs)
        ns_oom(err);
    return abs;
}

static int make_doc(const char *text, size_t len, const char *path, const char *dir,
                    ns_doc **out, nr_error *err)
{
    *out = NULL;
    ns_doc *doc = calloc(1, sizeof *doc);
    if (!doc)
        return ns_oom(err);
    doc->path = strdup(path);
    if (!doc->path) {
        ns_doc_free(doc);
        return ns_oom(err);
    }
    doc->dir = absolute_dir(dir, err);
    if (!doc->dir) {
        ns_doc_free(doc);
        return -1;
    }
    ns_parse_opts opts = { doc->path, 0, 0, NS_MAX_DEPTH, false };
    if (ns_parse_yaml(text, len, &opts, &doc->root, err) != 0) {
        ns_doc_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

int ns_doc_parse_string(const char *text, size_t len, const char *name, const char *dir,
                        ns_doc **out, nr_error *err)
{
    return make_doc(text ? text : "", text ? len : 0, name ? name : "<string>",
                    dir ? dir : ".", out, err);
}

int ns_doc_parse_file(const char *path, ns_doc **out, nr_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read spec: %s", path,
                       strerror(errno));
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return ns_oom(err);
    }
    for (;;) {
        if (len == cap) {
            if (cap > NS_MAX_FILE)
                break;   /* already more than the limit: no need to read on */
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                fclose(f);
                return ns_oom(err);
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read spec: %s", path,
                       strerror(e ? e : EIO));
    }
    fclose(f);
    if (len > NS_MAX_FILE) {
        free(buf);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: spec is larger than 1 MiB (the limit is "
                       "%d bytes)", path, NS_MAX_FILE);
    }

    /* the directory part of path ("." when there is none) */
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir) {
        free(buf);
        return ns_oom(err);
    }
    int rc = make_doc(buf, len, path, dir, out, err);
    free(dir);
    free(buf);
    return rc;
}
