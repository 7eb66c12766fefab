/* layers/maxpool.c - max over size x size windows per channel (the argmax is
 * kept for the backward pass). */
#include "layers/pool.h"

const nr_layer_ops nr_maxpool_ops = {
    .name = "maxpool",
    .setup = nr_pool_setup,
    .describe = nr_pool_describe,
};
