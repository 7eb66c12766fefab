/* layers/pool.h - the window arithmetic maxpool and avgpool share (internal). */
#ifndef NETRUN_LAYERS_POOL_H
#define NETRUN_LAYERS_POOL_H

#include "layers/layer.h"

/* Reads size/stride, checks the window fits, sets out (channels unchanged). */
int nr_pool_setup(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                  nr_error *err);
void nr_pool_describe(const nr_layer *layer, char *buf, size_t size);
/* Kernel dimensions for a batch of n. */
nr_pool2d_dims nr_pool_dims(const nr_layer *layer, int n);

#endif
