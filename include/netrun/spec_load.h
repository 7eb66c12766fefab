/* netrun/spec_load.h - spec file -> resolved ns_doc + shape-checked graph,
 * the first two stages every command shares.
 *
 * nr_spec_load(): parse PATH, apply the --set assignments in order, resolve;
 * check the training settings (nr_train_config_from_spec: what the schema
 * alone cannot, e.g. a val_* monitor without a validation split); when
 * network.input is absent, read the shape of the first training image
 * (nr_dataset_probe) and fill it in (so the resolved spec shows it); then
 * build the graph. On success the caller owns *doc and *graph (free the graph
 * first: it borrows nodes of the doc). On failure both are left NULL.
 */
#ifndef NETRUN_SPEC_LOAD_H
#define NETRUN_SPEC_LOAD_H

#include <stddef.h>

#include "netrun/error.h"
#include "netrun/graph.h"
#include "netrun/netspec.h"

int nr_spec_load(const char *path, const char *const *sets, size_t set_count,
                 ns_doc **doc, nr_graph **graph, nr_error *err);

#endif
