/* netrun/init_from.h - train.init_from: a run that starts from the weights
 * of a trained model instead of fresh ones (fine-tuning).
 *
 * The source is a model as nr_model_open (netrun/model.h) takes it: a run
 * folder, or a weights file with the resolved.yaml of its run beside it;
 * its network is that resolved spec's.
 *
 * The rule. The layers that hold values - conv, dense, batchnorm, wherever
 * they are (inside residual blocks and repeats too, and a residual's
 * projection shortcut), in the order of nr_graph_weighted_layers - are
 * paired BY POSITION: the i-th such layer here with the i-th in the source.
 *   - Both networks have the same number of them.
 *   - Each pair has the same kind and the same parameter shapes
 *     (nr_layer_describe_params: "weight 16x8x3x3, bias 16"), unless the
 *     layer here is marked `fresh: true`: it keeps its own initialization,
 *     whatever its partner is (a new head for other classes).
 * Every pair not fresh gets the source's parameters and buffers (batchnorm
 * running mean and variance), bit for bit. Layers without values
 * (activations, pooling, dropout, flatten) are not paired: they may differ,
 * and so may the input size, as long as the shapes above agree.
 *
 * `netrun check` and training check the rule before anything is created
 * (nr_init_from with net NULL); training then copies after nr_net_init.
 */
#ifndef NETRUN_INIT_FROM_H
#define NETRUN_INIT_FROM_H

#include <stddef.h>

#include "netrun/error.h"
#include "netrun/net.h"
#include "netrun/spec_load.h"

typedef struct nr_init_from_report {
    char source[4096];       /* the weights file read; "" without train.init_from */
    size_t layers;           /* layers with values, here (= there) */
    size_t loaded, fresh;    /* of them: copied from the source, marked fresh */
    size_t loaded_params;    /* learnable floats copied */
    char fresh_labels[128];  /* the fresh layers' labels, "9, 10.2" ("..." when more) */
} nr_init_from_report;

/* Applies spec's train.init_from to its network: opens the source, pairs
 * the layers by the rule above and, when net is not NULL (a net of
 * spec->graph, initialized), copies the parameters and buffers into it.
 * Without train.init_from: nothing, report->source "". Errors
 * (NR_EXIT_INPUT, one line): the source cannot be opened ("SPEC:L:C: error:
 * train.init_from: PATH: ..."), the counts differ (at train.init_from), a
 * pair differs (at the layer here, naming both layers, their parameter
 * counts and shapes). report may be NULL. */
int nr_init_from(const nr_spec *spec, nr_net *net, nr_init_from_report *report,
                 nr_error *err);

/* "init_from: PATH: 4 of 5 layers with parameters loaded (21,498 values);
 * fresh: layer 9" into buf (netrun check, summary.txt). */
const char *nr_init_from_describe(const nr_init_from_report *report, char *buf, size_t size);

#endif
