/* tests/support/spec_docs.h - specs for tests: the source tree's location
 * and resolved documents from text or from specs/. A spec that does not
 * parse or resolve fails the current Check test. */
#ifndef NETRUN_TEST_SPEC_DOCS_H
#define NETRUN_TEST_SPEC_DOCS_H

#include "netrun/netspec.h"

/* $NETRUN_SOURCE_DIR (set by ctest), or "." */
const char *source_dir(void);
/* `text` parsed as a.yaml in /base/specs and resolved; free with ns_doc_free. */
ns_doc *resolve_text(const char *text);
/* specs/NAME of the source tree, parsed and resolved; free with ns_doc_free. */
ns_doc *resolve_file(const char *name);

#endif
