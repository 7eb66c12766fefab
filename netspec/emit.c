/* netspec/emit.c - the tree as YAML text, with the libyaml emitter.
 *
 * Block style, except: a map whose values are all scalars and that is the
 * parameter map of a one-key map (a choice such as `- conv: {...}` or
 * `sgd: {...}`) is written in flow style, and so is a list of numbers
 * (`input: [1, 28, 28]`). Scalars marked `quoted` (written quoted, or strings
 * that plain YAML would read as numbers/bools/null) and empty scalars are
 * quoted; libyaml quotes whatever else needs it (": ", leading "-", ...). */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "internal.h"

typedef struct outbuf {
    char *data;
    size_t len, cap;
    bool oom;
} outbuf;

static int write_out(void *ctx, unsigned char *buffer, size_t size)
{
    outbuf *o = ctx;
    if (o->len + size + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + size + 1)
            cap *= 2;
        char *d = realloc(o->data, cap);
        if (!d) {
            o->oom = true;
            return 0;
        }
        o->data = d;
        o->cap = cap;
    }
    memcpy(o->data + o->len, buffer, size);
    o->len += size;
    return 1;
}

static bool all_scalars(const ns_node *n)
{
    for (size_t i = 0; i < n->count; i++)
        if (n->items[i]->kind != NS_SCALAR)
            return false;
    return true;
}

static bool numbers_only(const ns_node *n)
{
    if (n->count > 16)
        return false;
    for (size_t i = 0; i < n->count; i++) {
        const ns_node *it = n->items[i];
        double d;
        if (it->kind != NS_SCALAR || it->quoted || !ns_text_float(it->scalar, &d))
            return false;
    }
    return true;
}

/* Control characters, and characters that libyaml would write raw but the
 * reader refuses (C1 controls incl. U+0085, U+2028, U+2029), need the
 * escapes of double quotes; so does a single quote (for readability). */
static bool needs_double_quotes(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F || *p == '\'')
            return true;
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            return true;
        if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
            return true;
    }
    return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
    return yaml_emitter_emit(e, ev) ? 0 : -1;
}

static int emit_scalar(yaml_emitter_t *e, const char *text, bool quoted)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (quoted || text[0] == '\0')
        style = needs_double_quotes(text) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                          : YAML_SINGLE_QUOTED_SCALAR_STYLE;
    else if (needs_double_quotes(text))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    /* both implicit flags set: no tag is written whatever style libyaml picks */
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1,
                                      1, style))
        return -1;
    return emit(e, &ev);
}

static int emit_node(yaml_emitter_t *e, const ns_node *n, bool flow)
{
    yaml_event_t ev;
    switch (n->kind) {
    case NS_SCALAR:
        return emit_scalar(e, n->scalar, n->quoted);
    case NS_SEQ: {
        bool f = flow || n->count == 0 || numbers_only(n);
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  f ? YAML_FLOW_SEQUENCE_STYLE
                                                    : YAML_BLOCK_SEQUENCE_STYLE) ||
            emit(e, &ev) != 0)
            return -1;
        for (size_t i = 0; i < n->count; i++)
            if (emit_node(e, n->items[i], f) != 0)
                return -1;
        if (!yaml_sequence_end_event_initialize(&ev))
            return -1;
        return emit(e, &ev);
    }
    case NS_MAP: {
        bool f = flow || n->count == 0;
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                 f ? YAML_FLOW_MAPPING_STYLE
                                                   : YAML_BLOCK_MAPPING_STYLE) ||
            emit(e, &ev) != 0)
            return -1;
        for (size_t i = 0; i < n->count; i++) {
            const ns_node *v = n->items[i];
            bool child_flow = f || (n->count == 1 && v->kind == NS_MAP && all_scalars(v));
            if (emit_scalar(e, n->keys[i], false) != 0 || emit_node(e, v, child_flow) != 0)
                return -1;
        }
        if (!yaml_mapping_end_event_initialize(&ev))
            return -1;
        return emit(e, &ev);
    }
    }
    return -1;
}

int ns_doc_emit(const ns_doc *doc, char **out, size_t *len, nr_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    yaml_emitter_t e;
    outbuf o = { NULL, 0, 0, false };
    if (!yaml_emitter_initialize(&e))
        return ns_oom(err);
    yaml_emitter_set_output(&e, write_out, &o);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    yaml_emitter_set_break(&e, YAML_LN_BREAK);

    yaml_event_t ev;
    int rc = -1;
    if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && emit(&e, &ev) == 0 &&
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && emit(&e, &ev) == 0 &&
        emit_node(&e, doc->root, false) == 0 &&
        yaml_document_end_event_initialize(&ev, 1) && emit(&e, &ev) == 0 &&
        yaml_stream_end_event_initialize(&ev) && emit(&e, &ev) == 0 && yaml_emitter_flush(&e))
        rc = 0;
    bool memory = o.oom || e.error == YAML_MEMORY_ERROR;
    const char *problem = e.problem;
    if (rc != 0) {
        free(o.data);
        int r = memory || !problem
                    ? ns_oom(err)
                    : nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot write YAML: %s",
                              doc->path, problem);
        yaml_emitter_delete(&e);
        return r;
    }
    yaml_emitter_delete(&e);
    if (!o.data) {
        o.data = malloc(1);
        if (!o.data)
            return ns_oom(err);
    }
    o.data[o.len] = '\0';
    *out = o.data;
    if (len)
        *len = o.len;
    return 0;
}
