/* netspec/internal.h - private helpers shared by the netspec sources:
 * node construction, text helpers (number parsing, quoting for messages),
 * positions and paths, and the YAML reader used for files and --set values.
 * Nothing here is part of the public API (include/netrun/netspec.h). */
#ifndef NETSPEC_INTERNAL_H
#define NETSPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "netrun/error.h"
#include "netrun/netspec.h"

#define NS_MAX_DEPTH 64                 /* nesting of maps/lists */
#define NS_MAX_FILE (1024 * 1024)       /* bytes of spec text */
#define NS_MAX_SCALAR (64 * 1024)       /* bytes of one scalar or key */
#define NS_SHOW_MAX 60                  /* user text echoed in messages */

/* ---- nodes (tree.c) ---- */
/* New node of `kind` at `pos` (scalar text ""); NULL when out of memory. */
ns_node *ns_node_new(ns_kind kind, ns_pos pos);
/* New scalar with a copy of text[0..len). */
ns_node *ns_scalar_new(const char *text, size_t len, ns_pos pos);
/* Frees a node and everything below it (NULL is fine). */
void ns_node_free(ns_node *node);
/* Appends a pair / an item. The map/seq takes ownership of `value` only on
 * success (returns 0); -1 = out of memory. */
int ns_map_append(ns_node *map, const char *key, size_t key_len, ns_pos key_pos, ns_node *value);
int ns_seq_append(ns_node *seq, ns_node *item);
/* Index of `key` in map or -1. */
long ns_map_index(const ns_node *map, const char *key);
ns_pos ns_node_pos(const ns_node *node);
/* Sets a node's position fields from pos. */
void ns_node_place(ns_node *node, ns_pos pos);
/* Plain (unquoted) empty scalar = YAML null, e.g. "train:" with nothing. */
bool ns_is_null(const ns_node *node);

/* ---- text (tree.c) ---- */
/* Strict number/bool syntax: the whole text must be the value. */
bool ns_text_int(const char *text, long long *out);     /* [+-]digits, no overflow */
bool ns_text_float(const char *text, double *out);      /* decimal/exponent, finite */
bool ns_text_bool(const char *text, bool *out);         /* true | false */
/* True when plain YAML text would read as something other than a string
 * (null, bool in YAML 1.1 or 1.2 spelling, int, float) - such strings get
 * quoted when emitted. */
bool ns_text_looks_typed(const char *text);
/* Copies user text into buf for a message: control characters escaped,
 * cut to NS_SHOW_MAX characters with "...". Returns buf. */
const char *ns_show(const char *text, char *buf, size_t size);
/* ns_edit_distance() is public: include/netrun/netspec.h */

/* ---- positions and messages ---- */
/* ns_pos_where() is public: include/netrun/netspec.h */
/* err <- "WHERE: error: fmt..." with status NR_EXIT_INPUT; returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
int ns_fail_at(nr_error *err, const ns_doc *doc, ns_pos pos, const char *fmt, ...);
/* err <- "out of memory" (NR_EXIT_INTERNAL); returns -1. */
int ns_oom(nr_error *err);

/* A dotted path for messages ("network.layers[2].conv"), push/pop style. */
typedef struct ns_path {
    char text[768];
    size_t len;
} ns_path;
/* Appends ".key" (or "key" at the start); returns the old length for pop. */
size_t ns_path_key(ns_path *p, const char *key);
size_t ns_path_index(ns_path *p, size_t index);   /* appends "[index]" */
void ns_path_pop(ns_path *p, size_t old_len);

/* ---- file paths (tree.c) ---- */
/* The current directory, malloc'd; NULL on failure (errno set). */
char *ns_getcwd(void);
/* base + "/" + rel (rel alone when absolute), lexically normalized: no "."
 * or empty components, "a/.." collapsed, ".." above "/" dropped. Result
 * malloc'd; NULL when out of memory. `base` must be absolute when rel is not. */
char *ns_path_join_normalize(const char *base, const char *rel);

/* ---- YAML reader (parse.c) ---- */
typedef struct ns_parse_opts {
    const char *display;   /* name in messages: "FILE" or "--set ASSIGNMENT" */
    unsigned origin;       /* stored in every node */
    int col_offset;        /* added to columns on line 1 (--set values) */
    int max_depth;         /* maps/lists deeper than this are an error */
    bool value_mode;       /* --set value: any node; empty text = "" scalar */
} ns_parse_opts;
/* text[0..len) -> tree (*out, owned by the caller). Errors are "DISPLAY:L:C:
 * error: ..." (NR_EXIT_INPUT) or out of memory. */
int ns_parse_yaml(const char *text, size_t len, const ns_parse_opts *opts, ns_node **out,
                  nr_error *err);
/* Only the byte-level checks of ns_parse_yaml (UTF-8, control characters,
 * tabs); uses display, origin and col_offset of opts. */
int ns_prescan(const char *text, size_t len, const ns_parse_opts *opts, nr_error *err);

#endif
