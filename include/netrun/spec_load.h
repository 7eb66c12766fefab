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

#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/graph.h"
#include "netrun/netspec.h"

int nr_spec_load(const char *path, const char *const *sets, size_t set_count,
                 ns_doc **doc, nr_graph **graph, nr_error *err);

/* The spec against its data, from the folders' listings and first image
 * headers (nr_dataset_survey; nothing decoded): what training would refuse,
 * found before any work. With NR_SPEC_DATA_TRAIN: data.train exists and has
 * at least 2 classes, its validation split (train.validation) leaves images
 * on both sides; with NR_SPEC_DATA_TEST: data.test exists (and with both, has
 * Train's class names and image shape); network.input equals the images'
 * shape; the network has one output per class (Train's, else Test's).
 * Errors name the spec position (network.input, the last dense layer's
 * units) or the data folder, and the fix. */
enum { NR_SPEC_DATA_TRAIN = 1, NR_SPEC_DATA_TEST = 2 };
typedef struct nr_spec_data {
    nr_dataset_info train, test;   /* zeroed when not surveyed */
    size_t train_images;           /* Train less the validation split */
    char warning[512];             /* "" or a warning about what will train
                                      ("FILE:LINE:COL: warning: ...") */
} nr_spec_data;
/* On success the caller frees *out with nr_spec_data_free; on failure it is
 * zeroed. */
int nr_spec_check_data(const ns_doc *doc, const nr_graph *graph, unsigned which,
                       nr_spec_data *out, nr_error *err);
void nr_spec_data_free(nr_spec_data *data);
/* The network against one surveyed dataset: network.input equals its image
 * shape and the network has one output per class of it (part of
 * nr_spec_check_data; eval uses it alone after comparing classes). */
int nr_spec_check_fit(const ns_doc *doc, const nr_graph *graph, const nr_dataset_info *data,
                      nr_error *err);

#endif
