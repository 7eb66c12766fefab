/* tests/support/spec_docs.c - see spec_docs.h. */
#include "spec_docs.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *source_dir(void)
{
    const char *d = getenv("NETRUN_SOURCE_DIR");
    return d && *d ? d : ".";
}

ns_doc *resolve_text(const char *text)
{
    ns_doc *doc = NULL;
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_string(text, strlen(text), "a.yaml", "/base/specs", &doc,
                                      &err) == 0,
                  "parse failed: %s", err.message);
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "resolve failed: %s", err.message);
    return doc;
}

ns_doc *resolve_file(const char *name)
{
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/specs/%s", source_dir(), name);
    ck_assert_msg(len > 0 && (size_t)len < sizeof path, "path too long");
    ns_doc *doc = NULL;
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_file(path, &doc, &err) == 0, "parse failed: %s", err.message);
    ck_assert_msg(ns_doc_resolve(doc, &err) == 0, "resolve failed: %s", err.message);
    return doc;
}
