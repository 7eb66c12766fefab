/* layers/softmax.c - softmax over the flattened features of each example;
 * shape unchanged. Only the network's last layer may be a softmax (graph.c
 * refuses one anywhere else), and there the net runs it as the loss head,
 * fused with the loss (net.c: cross_entropy through log-sum-exp, mse on the
 * probabilities): the executor never runs it as a layer, so it has no
 * forward or backward of its own. */
#include "layers/layer.h"

const nr_layer_ops nr_softmax_ops = {
    .name = "softmax",
    .setup = nr_layer_setup_same_shape,
};
