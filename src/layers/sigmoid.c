/* layers/sigmoid.c - logistic sigmoid, y = 1 / (1 + exp(-x)); shape unchanged. */
#include "layers/layer.h"

const nr_layer_ops nr_sigmoid_ops = {
    .name = "sigmoid",
    .setup = nr_layer_setup_same_shape,
};
