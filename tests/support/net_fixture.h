/* tests/support/net_fixture.h - a net built from a few lines of YAML: the
 * layers under `network.layers` of a spec with the given input shape and
 * loss (data paths are placeholders, never read). Failing to parse, build
 * or create fails the current Check test. */
#ifndef NETRUN_TEST_NET_FIXTURE_H
#define NETRUN_TEST_NET_FIXTURE_H

#include "netrun/graph.h"
#include "netrun/net.h"
#include "netrun/netspec.h"

typedef struct fixture {
    ns_doc *doc;
    nr_graph *graph;
    nr_net *net;
} fixture;

/* input: "[c, h, w]"; layers: YAML lines indented by 4 ("    - relu\n");
 * loss: "cross_entropy" or "mse". The net is initialized from seed 7;
 * free with fixture_free. */
void fixture_make(fixture *f, const char *input, const char *layers, const char *loss,
                  nr_backend backend, int max_batch);
void fixture_free(fixture *f);

#endif
