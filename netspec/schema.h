/* netspec/schema.h - the spec language as data: one const table (schema.c).
 *
 * The whole language hangs off ns_schema_root, a NS_T_MAP key whose `keys`
 * are the top-level keys. Walk it like this:
 *
 *   static void walk(const ns_key *keys) {
 *       for (const ns_key *k = keys; k->name; k++) {
 *           ... k->name, k->type, k->need, k->def, ranges, k->doc ...
 *           if (k->type == NS_T_MAP)
 *               walk(k->keys);
 *           if (k->type == NS_T_CHOICE || k->type == NS_T_LAYERS)
 *               for (const ns_variant *v = k->variants; v->name; v++)
 *                   if (v->params) walk(v->params);
 *       }
 *   }
 *   walk(ns_schema_root.keys);
 *
 * (Layer lists are recursive - residual.layers and repeat.layers use the same
 * ns_layer_variants - so a walker must not descend into a layer list's
 * variants more than once.)
 *
 * Adding a key is adding a line to a table in schema.c (and a row in
 * REFERENCE.md - tests/test_netspec.c checks that every key is there). */
#ifndef NETSPEC_SCHEMA_H
#define NETSPEC_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "netrun/netspec.h"

typedef enum ns_type {
    NS_T_INT,       /* integer in [imin, imax] */
    NS_T_FLOAT,     /* finite number in fmin..fmax (ends open when f*_open) */
    NS_T_BOOL,      /* true | false */
    NS_T_STRING,    /* any text; with `charset`: imin..imax characters from it */
    NS_T_ENUM,      /* one of `values` */
    NS_T_PATH,      /* a file system path, made absolute by resolve */
    NS_T_INT_LIST,  /* min_items..max_items integers, each in [imin, imax] */
    NS_T_FLOAT_LIST,  /* min_items..max_items finite numbers, each in fmin..fmax */
    NS_T_MAP,       /* a map with the keys `keys` */
    NS_T_CHOICE,    /* one of `variants`: "name" or {name: {params}} */
    NS_T_LAYERS,    /* min_items..max_items choices of `variants` */
    NS_T_NAMED_NUMBERS  /* one of `values`, or a map {any name: a number in
                           fmin..fmax} (the names are checked by the user of
                           the value, e.g. against class folders) */
} ns_type;

typedef enum ns_need {
    NS_DEFAULT,     /* optional; resolve fills in `def` */
    NS_REQUIRED,    /* must be given */
    NS_OPTIONAL,    /* optional without a default: stays absent */
    NS_DERIVED      /* optional; resolve computes the value with `derive`
                       (`def` says how, for messages and REFERENCE.md) */
} ns_need;

typedef struct ns_key ns_key;
typedef struct ns_variant ns_variant;

struct ns_variant {
    const char *name;
    const ns_key *params;     /* its parameters (end: name == NULL); NULL = none */
    const char *doc;          /* one line */
};

struct ns_key {
    const char *name;         /* NULL ends a table */
    ns_type type;
    ns_need need;
    const char *def;          /* NS_DEFAULT: the default as YAML text (a choice: a
                                 variant name, a map: "{}" = all its defaults);
                                 NS_DERIVED: how the value is derived, in words */
    /* NS_DERIVED: writes the value for `doc` into buf (valid for this key). */
    void (*derive)(const ns_doc *doc, char *buf, size_t size);
    long long imin, imax;     /* INT, INT_LIST items; STRING with charset: length */
    double fmin, fmax;        /* FLOAT, FLOAT_LIST items, NAMED_NUMBERS' numbers */
    bool fmin_open, fmax_open;
    size_t min_items, max_items;      /* INT_LIST, FLOAT_LIST, LAYERS */
    const char *charset;      /* STRING: the allowed characters, NULL = any */
    const char *charset_doc;  /* STRING: how messages describe the charset */
    const char *const *values;        /* ENUM, NAMED_NUMBERS: allowed values, NULL-terminated */
    const ns_key *keys;       /* MAP: its keys (end: name == NULL) */
    const ns_variant *variants;       /* CHOICE, LAYERS (end: name == NULL) */
    const char *noun;         /* CHOICE, LAYERS: "optimizer", "layer" */
    const char *doc;          /* one line, used in messages and REFERENCE.md */
};

/* The top level (a NS_T_MAP key named ""). */
extern const ns_key ns_schema_root;
/* The layer kinds, in reference order (same names as ns_layer_kind_names). */
extern const ns_variant ns_layer_variants[];

/* Lookups; NULL when absent. */
const ns_key *ns_schema_key(const ns_key *keys, const char *name);
const ns_variant *ns_schema_variant(const ns_variant *variants, const char *name);

/* What a value of `key` must be, e.g. "an integer from 1 to 100000",
 * "a number > 0 and <= 10", "one of: cross_entropy, mse". `article` = with
 * the leading "a"/"an" ("one of" forms have none). Returns buf. */
const char *ns_schema_describe(const ns_key *key, bool article, char *buf, size_t size);
/* The type's name as in REFERENCE.md: "int", "float", "bool", "string",
 * "enum", "path", "int-list", "map", "choice", "layer list", "enum or map". */
const char *ns_schema_type_name(ns_type type);

#endif
