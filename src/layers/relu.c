/* layers/relu.c - rectified linear unit, y = max(0, x); shape unchanged. */
#include "layers/layer.h"

const nr_layer_ops nr_relu_ops = {
    .name = "relu",
    .setup = nr_layer_setup_same_shape,
};
