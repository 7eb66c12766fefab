/* layers/tanh.c - hyperbolic tangent; shape unchanged. */
#include "layers/layer.h"

const nr_layer_ops nr_tanh_ops = {
    .name = "tanh",
    .setup = nr_layer_setup_same_shape,
};
