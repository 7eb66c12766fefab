/* netrun/weights.h - the weights file of a trained net: its parameters and
 * what a user of the model must know to feed it (input shape, pixel scaling,
 * class names in output order).
 *
 * Layout, version 2 (little-endian as written by this machine):
 *   char     magic[8]        "NRWEIGHT"
 *   uint32   version         2
 *   uint32   reserved        0
 *   uint64   shape_hash      nr_graph_hash() of the network
 *   uint64   param_count     learnable floats (= `netrun check`'s total)
 *   uint64   buffer_count    non-learned state floats (batchnorm running stats)
 *   -- the model's data (version 2) --
 *   int32    channels, height, width      of the input images
 *   float    pixel_scale[channels]        the network's input is
 *   float    pixel_shift[channels]        pixel (0..255) * scale + shift
 *   uint32   class_count
 *   class_count x { uint16 length; char name[length] }  sorted; output order
 *   -- --
 *   float    params[param_count]
 *   float    buffers[buffer_count]
 *   uint64   checksum        FNV-1a of every byte before it
 * Version 1 files (netrun 0.1.0 before class names were recorded) have no
 * model section; they still load, with an info whose class_count is 0.
 * Written atomically. Loading refuses a wrong magic, version, shape hash,
 * count or checksum with a message naming the file.
 */
#ifndef NETRUN_WEIGHTS_H
#define NETRUN_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "netrun/error.h"
#include "netrun/net.h"

enum { NR_WEIGHTS_MAX_CHANNELS = 4 };

/* What the model was trained on. */
typedef struct nr_model_info {
    int version;                 /* of the file read (1 or 2); 2 when saving */
    int channels, height, width; /* 0 in a version-1 file */
    float pixel_scale[NR_WEIGHTS_MAX_CHANNELS];  /* per channel: input = */
    float pixel_shift[NR_WEIGHTS_MAX_CHANNELS];  /* pixel * scale + shift */
    size_t class_count;          /* 0 in a version-1 file */
    char **class_names;          /* class_count names, sorted (the output order); for
                                    nr_weights_save borrowed, from the loaders owned
                                    (one allocation: free with nr_model_info_free) */
} nr_model_info;

/* The info of a model trained on images of this shape and these classes,
 * with netrun's pixel scaling (pixel / 255, no shift). Borrows class_names. */
nr_model_info nr_model_info_for(int channels, int height, int width, size_t class_count,
                                char **class_names);
void nr_model_info_free(nr_model_info *info);

int nr_weights_save(const char *path, nr_net *net, uint64_t shape_hash,
                    const nr_model_info *info, nr_error *err);
/* Loads the parameters into net; *info (may be NULL) receives the model's
 * info (caller frees with nr_model_info_free). */
int nr_weights_load(const char *path, nr_net *net, uint64_t shape_hash, nr_model_info *info,
                    nr_error *err);
/* Reads only the header and the model's info (no network needed): for
 * checks made before the net exists. */
int nr_weights_read_info(const char *path, nr_model_info *info, nr_error *err);

#endif
