/* tests/support/net_fixture.c - see net_fixture.h. */
#include "net_fixture.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

void fixture_make(fixture *f, const char *input, const char *layers, const char *loss,
                  nr_backend backend, int max_batch)
{
    char text[8192];
    int len = snprintf(text, sizeof text,
                       "data: {train: /x/Train, test: /x/Test}\n"
                       "network:\n  input: %s\n  layers:\n%s"
                       "train: {loss: %s}\n",
                       input, layers, loss);
    ck_assert_msg(len > 0 && (size_t)len < sizeof text, "fixture spec too long");
    nr_error err = {0};
    ck_assert_msg(ns_doc_parse_string(text, strlen(text), "t.yaml", "/tmp", &f->doc, &err) == 0,
                  "%s", err.message);
    ck_assert_msg(ns_doc_resolve(f->doc, &err) == 0, "%s", err.message);
    ck_assert_msg(nr_graph_build(f->doc, &f->graph, &err) == 0, "%s", err.message);
    nr_loss_kind kind = strcmp(loss, "mse") == 0 ? NR_LOSS_MSE : NR_LOSS_CROSS_ENTROPY;
    ck_assert_msg(nr_net_create(f->graph, max_batch, backend, kind, &f->net, &err) == 0, "%s",
                  err.message);
    nr_net_init(f->net, 7);
}

void fixture_free(fixture *f)
{
    nr_net_free(f->net);
    nr_graph_free(f->graph);
    ns_doc_free(f->doc);
}
