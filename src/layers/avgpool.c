/* layers/avgpool.c - mean over size x size windows per channel. */
#include "layers/pool.h"

const nr_layer_ops nr_avgpool_ops = {
    .name = "avgpool",
    .setup = nr_pool_setup,
    .describe = nr_pool_describe,
};
