/* netrun/weights.h - the weights file of a trained net.
 *
 * Layout (little-endian as written by this machine's floats):
 *   char     magic[8]        "NRWEIGHT"
 *   uint32   version         1
 *   uint32   reserved        0
 *   uint64   shape_hash      nr_graph_hash() of the network
 *   uint64   param_count     learnable floats (= `netrun check`'s total)
 *   uint64   buffer_count    non-learned state floats (batchnorm running stats)
 *   float    params[param_count]
 *   float    buffers[buffer_count]
 *   uint64   checksum        FNV-1a of every byte before it
 * Written atomically. Loading refuses a wrong magic, version, shape hash,
 * count or checksum with a message naming the file.
 */
#ifndef NETRUN_WEIGHTS_H
#define NETRUN_WEIGHTS_H

#include <stdint.h>

#include "netrun/error.h"
#include "netrun/net.h"

int nr_weights_save(const char *path, nr_net *net, uint64_t shape_hash, nr_error *err);
int nr_weights_load(const char *path, nr_net *net, uint64_t shape_hash, nr_error *err);

#endif
