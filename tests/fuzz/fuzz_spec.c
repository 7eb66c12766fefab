/* tests/fuzz/fuzz_spec.c - libFuzzer harness for the spec language and the
 * graph builder (built and run by tests/fuzz/run.sh).
 *
 * bytes -> ns_doc_parse_string -> [ns_doc_apply_set for each leading
 * "#set PATH=VALUE" comment line] -> ns_doc_resolve -> nr_spec_train_config
 * -> nr_graph_build (when network.input is present) -> ns_doc_emit -> parse the
 * emitted text again.
 *
 * Besides crashes and sanitizer reports, these are findings (abort()):
 *   - an error that is not one line "WHERE: error: ..." with status 1 or 2;
 *   - emitted text of a resolved spec that does not parse and resolve again,
 *     gives another tree, or emits differently the second time (the normal
 *     form of netspec.h: "resolving a resolved spec changes nothing, and
 *     reading the emitted text back gives the same tree").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/graph.h"
#include "netrun/netspec.h"
#include "netrun/spec_load.h"
#include "netrun/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_spec: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* A failed call must leave one line "WHERE: error: ..." and status 1 or 2. */
static void check_error(const nr_error *err)
{
    if (err->status != 1 && err->status != 2)
        finding("error with an unexpected status", err->message);
    if (!err->message[0] || strchr(err->message, '\n') || !strstr(err->message, ": error: "))
        finding("malformed error message", err->message);
}

/* Leading lines "#set ASSIGNMENT" (up to 4) are --set assignments. */
static size_t take_sets(const char *text, size_t len, char sets[4][512])
{
    size_t n = 0, at = 0;
    while (n < 4 && len - at > 5 && memcmp(text + at, "#set ", 5) == 0) {
        size_t start = at + 5, end = start;
        while (end < len && text[end] != '\n')
            end++;
        size_t alen = end - start;
        if (alen >= 512 || memchr(text + start, '\0', alen))
            break;
        memcpy(sets[n], text + start, alen);
        sets[n][alen] = '\0';
        n++;
        at = end < len ? end + 1 : end;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    const char *text = (const char *)data;
    char sets[4][512];
    size_t set_count = take_sets(text, size, sets);

    ns_doc *doc = NULL;
    nr_error err = {0};
    if (ns_doc_parse_string(text, size, "fuzz.yaml", "/fuzz", &doc, &err) != 0) {
        check_error(&err);
        return 0;
    }
    for (size_t i = 0; i < set_count; i++) {
        nr_error set_err = {0};
        if (ns_doc_apply_set(doc, sets[i], &set_err) != 0)
            check_error(&set_err);
    }
    if (ns_doc_resolve(doc, &err) != 0) {
        check_error(&err);
        ns_doc_free(doc);
        return 0;
    }
    nr_train_config cfg;
    if (nr_spec_train_config(doc, &cfg, &err) != 0)
        check_error(&err);
    if (ns_path_get(doc->root, "network.input")) {
        nr_graph *graph = NULL;
        if (nr_graph_build(doc, &graph, &err) == 0) {
            (void)nr_graph_hash(graph);
            (void)nr_graph_output(graph);
            if (devnull)
                nr_graph_write_summary(graph, devnull);
            nr_graph_free(graph);
        } else {
            check_error(&err);
        }
    }

    /* the normal form: emit, read back, resolve again, emit again */
    char *emitted = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    if (ns_doc_emit(doc, &emitted, &len, &err) != 0)
        finding("cannot emit a resolved spec", err.message);
    ns_doc *back = NULL;
    if (ns_doc_parse_string(emitted, len, "emitted.yaml", "/fuzz", &back, &err) != 0) {
        fprintf(stderr, "---- emitted:\n%s\n----\n", emitted);
        finding("the emitted text does not parse", err.message);
    }
    if (ns_doc_resolve(back, &err) != 0) {
        fprintf(stderr, "---- emitted:\n%s\n----\n", emitted);
        finding("the emitted text does not resolve", err.message);
    }
    if (!ns_node_equal(doc->root, back->root)) {
        fprintf(stderr, "---- emitted:\n%s\n----\n", emitted);
        finding("reading the emitted text back gives another tree", NULL);
    }
    if (ns_doc_emit(back, &again, &len2, &err) != 0)
        finding("cannot emit the spec read back", err.message);
    if (len != len2 || memcmp(emitted, again, len) != 0) {
        fprintf(stderr, "---- first:\n%s\n---- second:\n%s\n----\n", emitted, again);
        finding("emitting the spec read back gives other text", NULL);
    }
    free(emitted);
    free(again);
    ns_doc_free(back);
    ns_doc_free(doc);
    return 0;
}
