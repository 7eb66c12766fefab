/* netrun/netspec.h - the spec language front end (library "netspec",
 * depends on libyaml only).
 *
 * Pipeline: ns_doc_parse_file()  YAML text -> tree of ns_node with positions
 *           ns_doc_apply_set()   "dotted.key[N].key=value" overrides (optional, any number)
 *           ns_doc_resolve()     validate every key against the schema (type,
 *                                range, allowed values, unknown keys with a
 *                                "did you mean"), fill every default, normalize
 *           ns_doc_emit()        the resolved tree as YAML (libyaml emitter);
 *                                parsing that text back gives an equal tree.
 * After a successful ns_doc_resolve() the tree is valid by construction and
 * the typed accessors below cannot fail (they abort on misuse = a bug).
 *
 * Ownership: an ns_doc owns every node, key and string below it; nodes handed
 * out by accessors are borrowed and live until ns_doc_free(). Nothing here
 * keeps global state; all functions are reentrant.
 *
 * Positions: line and col are 1-based (libyaml marks + 1). A node created by
 * resolve (a default) has line == 0 and is_default set. A node created by
 * --set has origin k >= 1 and line/col inside the k-th assignment text.
 *
 * Normal form after resolve:
 *  - a "choice" (one of several named variants, e.g. a layer, an optimizer) is
 *    always a one-key map {variant: params-map} with every parameter present;
 *    a variant that has no parameters at all stays a plain scalar ("relu").
 *  - paths (data.train, data.test) are made absolute: relative paths are taken
 *    relative to the directory of the spec file (doc->dir), and normalized
 *    lexically (no ".", "a/.." collapsed; symlinks are not followed).
 *  - map keys are in schema order (the order of netspec/REFERENCE.md).
 *  - other scalars keep their text as written ("5e-2" stays "5e-2").
 *  - every optional key is present with its default (network.input has no
 *    default: it stays absent until the engine sets it from the data).
 * The schema (every key, type, range, default) is one const table in
 * netspec/schema.c, documented in netspec/REFERENCE.md.
 */
#ifndef NETRUN_NETSPEC_H
#define NETRUN_NETSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "netrun/error.h"

typedef enum ns_kind { NS_SCALAR, NS_MAP, NS_SEQ } ns_kind;

/* A source position: 1-based line/col (0,0 = made by resolve), and which text
 * it is in (0 = the spec file, k >= 1 = the k-th --set assignment). */
typedef struct ns_pos {
    int line, col;
    unsigned origin;
} ns_pos;

typedef struct ns_node ns_node;
struct ns_node {
    ns_kind kind;
    int line, col;      /* 1-based source position; 0,0 for defaults */
    bool is_default;    /* filled in by resolve */
    bool quoted;        /* scalar was written quoted ('..' or "..") or as a | or >
                           block scalar, i.e. explicitly a string; resolve also
                           sets it on string values that would otherwise read
                           as a number/bool/null, so that the emitter quotes them */
    unsigned origin;    /* 0 = the spec file; k >= 1 = the k-th --set assignment */
    char *scalar;       /* NS_SCALAR: the text (never NULL) */
    size_t count;       /* NS_MAP: number of pairs; NS_SEQ: number of items */
    char **keys;        /* NS_MAP: keys[i] names items[i]; insertion order kept
                           by parse, schema order after resolve */
    ns_node **items;    /* NS_MAP values / NS_SEQ items */
    ns_pos *key_pos;    /* NS_MAP: where keys[i] was written (line 0 for keys
                           added by resolve); unknown-key errors point here */
};

typedef struct ns_doc {
    char *path;         /* the spec file as given (or a name for in-memory text) */
    char *dir;          /* directory used to resolve relative paths (absolute) */
    ns_node *root;      /* NS_MAP at the top */
    char **sets;        /* the --set assignments applied, in order (origin k = sets[k-1]) */
    size_t set_count;
    bool resolved;
} ns_doc;

/* Parsing. Bad YAML, tabs, duplicate keys, aliases/anchors, non-UTF-8, nesting
 * deeper than 64, files over 1 MiB, scalars over 64 KiB and a non-map top
 * level are errors with FILE:LINE:COL. */
int ns_doc_parse_file(const char *path, ns_doc **out, nr_error *err);
/* `name` is used in messages and `dir` for relative paths (may be NULL = "."). */
int ns_doc_parse_string(const char *text, size_t len, const char *name,
                        const char *dir, ns_doc **out, nr_error *err);
void ns_doc_free(ns_doc *doc);

/* Override: "a.b.c=value". Path segments are map keys, sequence indices
 * (0-based) or, inside a choice, the variant name
 * (train.optimizer.sgd.lr=0.1, network.layers.0.conv.filters=16).
 * The value is parsed as YAML (so "[1,28,28]" is a sequence). Setting a
 * choice to another variant replaces it (train.optimizer=adam).
 * The value is validated by ns_doc_resolve() exactly like a file value, and
 * errors in it are reported as "--set ASSIGNMENT:1:COL: error: ...". May also be
 * called on a resolved doc (the engine fills network.input from the data this
 * way); call ns_doc_resolve() again afterwards (resolve is idempotent).
 * Missing maps on the path are created; list indices must exist. A relative
 * data path given by --set is relative to the current directory (one from
 * the file: to the file's directory). A refused assignment (bad syntax, index
 * out of range, a path through a scalar, bad YAML) leaves the doc unchanged. */
int ns_doc_apply_set(ns_doc *doc, const char *assignment, nr_error *err);

/* Validate and fill defaults (see the normal form above). Works in place:
 * nodes that already were in normal form stay where they are, but a choice
 * that gets normalized is a new node, so re-fetch nodes after resolving.
 * On failure the tree may be partly normalized but is still a valid input. */
int ns_doc_resolve(ns_doc *doc, nr_error *err);

/* Emit the (resolved) tree as YAML text; *out is malloc'd and NUL-terminated,
 * caller frees. */
int ns_doc_emit(const ns_doc *doc, char **out, size_t *len, nr_error *err);

/* Structural equality: same kinds, keys in the same order, same scalar text.
 * Positions and flags are ignored. */
bool ns_node_equal(const ns_node *a, const ns_node *b);

/* ---- Lookup (any tree) ---- */
/* Child of a map by key, NULL if absent or `map` is not a map. */
const ns_node *ns_map_get(const ns_node *map, const char *key);
/* Dotted path from `node`, e.g. "train.optimizer"; NULL if absent. */
const ns_node *ns_path_get(const ns_node *node, const char *dotted);

/* ---- Typed accessors (resolved trees only; abort() on misuse) ---- */
long ns_int(const ns_node *scalar);
double ns_float(const ns_node *scalar);
bool ns_bool(const ns_node *scalar);
const char *ns_str(const ns_node *scalar);
/* Convenience: ns_int(ns_path_get(node, dotted)), etc. */
long ns_get_int(const ns_node *node, const char *dotted);
double ns_get_float(const ns_node *node, const char *dotted);
bool ns_get_bool(const ns_node *node, const char *dotted);
const char *ns_get_str(const ns_node *node, const char *dotted);

/* A choice node ("relu" or {conv: {...}}): its variant name and its
 * parameter map (NULL for a parameterless variant). */
const char *ns_choice_name(const ns_node *choice);
const ns_node *ns_choice_params(const ns_node *choice);

/* Formats "FILE:LINE:COL" for a node into buf (or "FILE" when the node is a
 * default without position). Returns buf. Used by later stages (shape
 * inference) to point errors at the spec line of a layer. */
const char *ns_node_where(const ns_doc *doc, const ns_node *node, char *buf, size_t size);
/* The same for a position (e.g. a map's key_pos[i]): "FILE:LINE:COL", "--set
 * TEXT:LINE:COL" for a --set assignment, "FILE" without a line. */
const char *ns_pos_where(const ns_doc *doc, ns_pos pos, char *buf, size_t size);

/* The layer kinds the language knows, for the engine's registry to check
 * against (NULL-terminated, in the order of the reference). */
extern const char *const ns_layer_kind_names[];

/* ---- Semantic diff (netspec/diff.c) ----
 * ns_diff() walks two resolved trees (the roots of two resolved docs) side
 * by side, guided by the schema, and calls `report` once per difference, in
 * schema order (the order of REFERENCE.md), except that the top-level `name`
 * and `description` come last:
 *   path  where, written like the paths of error messages: "train.epochs",
 *         "train.optimizer", "train.optimizer.sgd.lr", "network.input",
 *         "network.layers[3]", "network.layers[3].conv.filters";
 *   a, b  the value on each side (borrowed from the trees), NULL where that
 *         side has no such key.
 * Values are compared by meaning, not by text: numbers as numbers (0.05 and
 * 5e-2, 0 and 0.0 are equal), positions and flags are ignored; compare
 * resolved trees so that defaults are written out on both sides. The walk
 * descends maps key by key; a choice with the same variant on both sides
 * parameter by parameter ("train.optimizer.sgd.lr"); a choice whose variant
 * changed is one report with both whole choices ("train.optimizer", sgd{..}
 * vs adam{..}); an int list is one report. Layer lists of the same length
 * are compared index by index (a layer of another kind is one report of both
 * layers, one of the same kind descends into its parameters); lists of
 * different lengths are aligned by their longest common subsequence of equal
 * layers, and the layers between two aligned ones are paired in order, the
 * rest reported as removed (b NULL, a's index) or inserted (a NULL, b's
 * index); a pair at different indices is written "[i->j]". Keys the schema
 * does not know are compared structurally. `report` may be NULL (count
 * only). Returns the number of differences (0: the specs mean the same). */
typedef void (*ns_diff_fn)(void *ctx, const char *path, const ns_node *a, const ns_node *b);
size_t ns_diff(const ns_node *a, const ns_node *b, ns_diff_fn report, void *ctx);

/* A node as one line of text for diffs and labels: scalars as written (in
 * double quotes, with C escapes, when empty, with outer spaces, control
 * characters, '"' or "->", and inside a list or map also with characters of
 * the flow syntax: ",{}[]#" or ": "), lists "[1, 28, 28]", maps
 * "{a: 1, b: 2}", a choice with
 * parameters "sgd{lr: 0.05, momentum: 0.0, nesterov: false, weight_decay: 0}",
 * a parameterless variant "relu", NULL "(none)". Text that does not fit in
 * `size` ends with "...". Returns buf. */
const char *ns_node_format(const ns_node *node, char *buf, size_t size);

/* Levenshtein distance between a and b, capped: returns a value > cap as soon
 * as the distance exceeds cap (and for strings over 64 bytes). The "did you
 * mean" of unknown keys uses it, and netrun's for mistyped commands. */
size_t ns_edit_distance(const char *a, const char *b, size_t cap);

#endif
