/* netrun/spec_load.h - spec file -> resolved ns_doc + shape-checked graph +
 * training configuration: the first stages every command shares, and the
 * only place the training settings are read from the spec tree (train.c and
 * schedule.c take the plain values of nr_train_config).
 *
 * nr_spec_load(): parse PATH, apply the --set assignments in order, resolve;
 * make the training configuration (nr_spec_train_config: also what the
 * schema alone cannot check, e.g. a val_* monitor without a validation
 * split); when network.input is absent, read the shape of the first training
 * image (nr_dataset_probe) and fill it in (so the resolved spec shows it);
 * then build the graph.
 */
#ifndef NETRUN_SPEC_LOAD_H
#define NETRUN_SPEC_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/graph.h"
#include "netrun/netspec.h"
#include "netrun/train.h"

/* A loaded spec. It owns doc and graph (the graph borrows nodes of the doc);
 * train holds the train section, seed, threads and backend as plain values. */
typedef struct nr_spec {
    ns_doc *doc;
    nr_graph *graph;
    nr_train_config train;
} nr_spec;

/* On success the caller frees *out with nr_spec_free; on failure *out is
 * zeroed (nr_spec_free on it is a no-op). */
int nr_spec_load(const char *path, const char *const *sets, size_t set_count, nr_spec *out,
                 nr_error *err);
void nr_spec_free(nr_spec *spec);

/* The training configuration of a resolved spec (the train section, seed,
 * threads, backend), checked for what the schema alone cannot check (a val_*
 * monitor needs a validation split, augmentation ranges); errors name the
 * spec position. nr_spec_load calls it; exported for code that holds only a
 * doc (tests, the fuzz harness). */
int nr_spec_train_config(const ns_doc *doc, nr_train_config *cfg, nr_error *err);

/* data.normalize: what the network takes for a pixel p (0..255). */
typedef enum nr_normalize {
    NR_NORMALIZE_NONE,          /* p */
    NR_NORMALIZE_SCALE,         /* p / 255 (NR_PIXEL_SCALE): the default */
    NR_NORMALIZE_STANDARDIZE    /* (p - mean[c]) / std[c] */
} nr_normalize;
nr_normalize nr_spec_normalize(const ns_doc *doc);
/* Standardize without data.mean/data.std: the run measures them on the
 * images it trains on and writes them in with nr_spec_set_standardize. */
bool nr_spec_needs_stats(const ns_doc *doc);
/* Writes data.mean and data.std (channels values each, printed with 7
 * significant digits) into the doc and resolves it again; the values used
 * from then on are the ones read back, so a resumed run or a model opened
 * from resolved.yaml feeds the same floats. */
int nr_spec_set_standardize(ns_doc *doc, int channels, const double *mean, const double *std,
                            nr_error *err);
/* The per-channel transform of data.normalize for `channels` channels:
 * input = pixel * scale[c] + shift[c]. Standardize needs data.mean and
 * data.std (fails naming the spec position otherwise). */
int nr_spec_pixel_transform(const ns_doc *doc, int channels, float *scale, float *shift,
                            nr_error *err);
/* The data section's loading options (data.cache and the image
 * preparation of data.size, data.fit, data.channels, data.alpha). */
void nr_spec_data_options(const ns_doc *doc, nr_data_options *opts);
/* The shape images take after the spec's preparation: data.channels and
 * data.size where given; the other values are left as they are (the
 * stored image's). */
void nr_spec_prepared_shape(const ns_doc *doc, int *channels, int *height, int *width);
/* data.test_fraction, 0 when data.test is given. */
double nr_spec_test_fraction(const ns_doc *doc);

/* The spec against its data, from the folders' listings and first image
 * headers (nr_dataset_survey; nothing decoded): what training would refuse,
 * found before any work. With NR_SPEC_DATA_TRAIN: data.train exists and has
 * at least 2 classes, its validation split (train.validation) leaves images
 * on both sides (and so does data.test_fraction's test split); with
 * NR_SPEC_DATA_TEST: data.test exists (and with both, has Train's class
 * names and image shape); network.input equals the images'
 * shape; the network has one output per class (Train's, else Test's);
 * train.class_weights names only Train's classes; the pixels of Train and
 * Test (count x the prepared image shape, as uint8) fit in physical memory.
 * Errors name the spec position (network.input, the last dense layer's
 * units) or the data folder, and the fix. */
enum { NR_SPEC_DATA_TRAIN = 1, NR_SPEC_DATA_TEST = 2 };
typedef struct nr_spec_data {
    nr_dataset_info train, test;   /* zeroed when not surveyed */
    size_t train_images;           /* Train less the test and validation splits */
    size_t test_images;            /* Test, or the test split of Train
                                      (data.test_fraction) */
    char warning[2048];            /* "" or warnings about what will train, one a
                                      line ("FILE:LINE:COL: warning: ...", "ROOT:
                                      warning: class 'a' has ..." for an imbalance
                                      over 10x without train.class_weights) */
} nr_spec_data;
/* On success the caller frees *out with nr_spec_data_free; on failure it is
 * zeroed. */
int nr_spec_check_data(const nr_spec *spec, unsigned which, nr_spec_data *out,
                       nr_error *err);
void nr_spec_data_free(nr_spec_data *data);
/* train.class_weights against Train's classes: weights [class_count] all 1,
 * then each class the spec's map names gets its weight (none, balanced:
 * all 1). A name that is not among class_names fails at its spec position,
 * naming the valid ones. */
int nr_spec_class_weights(const nr_spec *spec, const char *train_root,
                          char *const *class_names, size_t class_count, float *weights,
                          nr_error *err);

/* The network against one surveyed dataset: network.input equals its image
 * shape and the network has one output per class of it (part of
 * nr_spec_check_data; eval uses it alone after comparing classes). */
int nr_spec_check_fit(const nr_spec *spec, const nr_dataset_info *data, nr_error *err);

#endif
