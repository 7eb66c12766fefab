/* layers/softmax.c - softmax over the flattened features of each example;
 * shape unchanged. As the last layer with the cross_entropy loss it is fused
 * with the loss (log-sum-exp) by the trainer. */
#include "layers/layer.h"

const nr_layer_ops nr_softmax_ops = {
    .name = "softmax",
    .setup = nr_layer_setup_same_shape,
};
