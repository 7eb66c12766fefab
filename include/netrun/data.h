/* netrun/data.h - image-classification datasets laid out as class folders of
 * PNG files:  ROOT/<class>/<anything>.png
 *
 * Class names are the sorted (byte order, strcmp) names of ROOT's
 * sub-folders; hidden entries (starting with '.') are ignored, any other entry
 * of ROOT that is not a folder is an error. Files in a class folder are taken in
 * sorted order; anything but a regular *.png file (suffix in any case) is an
 * error naming the file, and so is a class folder without images. Limits:
 * 65535 classes, 100 million images.
 * Images: 8-bit grayscale (1 channel) or 8-bit RGB (3 channels). Palette images are
 * expanded to RGB (or gray if the palette is gray), gray+alpha / RGBA images and
 * images with tRNS transparency are refused with a message saying so, 16-bit
 * images are refused; 1/2/4-bit gray is scaled to 0..255. All images
 * of one dataset must have the same channels x height x width; the first odd
 * file is named with both sizes.
 *
 * Pixels stay uint8 in memory (a float copy would be 4x the memory); the
 * training loop converts per batch.
 *
 * Cache: a decoded copy is kept in ROOT/.netrun-cache (uint8 pixels, labels,
 * names) with a fingerprint of every file's relative path, size and mtime
 * (seconds and nanoseconds; computed with readdir + stat only); a
 * load whose fingerprint matches reads the cache instead of decoding PNGs. A
 * stale, corrupt or unreadable cache is rebuilt silently; a cache that cannot
 * be written is not an error (the load still succeeds). Written atomically
 * (temporary name + rename).
 */
#ifndef NETRUN_DATA_H
#define NETRUN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "netrun/error.h"

typedef struct nr_dataset {
    char *root;            /* the folder as given; owned */
    size_t count;          /* number of images */
    int channels, height, width;
    size_t class_count;
    char **class_names;    /* class_count names, sorted; owned */
    uint8_t *pixels;       /* count * channels*height*width bytes; image i at
                              pixels + i*channels*height*width, CHW order; owned */
    uint16_t *labels;      /* count labels in [0, class_count); owned */
    char **files;          /* count relative paths "class/file.png"; owned */
    int from_cache;        /* 1 if this load was served by the cache */
} nr_dataset;

typedef struct nr_data_options {
    int use_cache;         /* read/write ROOT/.netrun-cache (default 1) */
    int threads;           /* decode threads for a cold load; 0 = online cores */
} nr_data_options;

/* Loads ROOT. opts may be NULL (defaults). On failure *out is untouched and
 * err names the offending path (missing folder, with a hint to run
 * tools/fetch-mnist for data/mnist; empty class folder; corrupt PNG; odd size). */
int nr_dataset_load(const char *root, const nr_data_options *opts,
                    nr_dataset **out, nr_error *err);
/* Frees the dataset and everything it owns; NULL is fine. class_names and
 * files are each one allocation (pointers followed by the strings), so their
 * elements must never be freed or replaced one by one. */
void nr_dataset_free(nr_dataset *ds);

/* Train and Test must have the same class names and image shape. */
int nr_dataset_check_pair(const nr_dataset *train, const nr_dataset *test,
                          nr_error *err);

/* Reads only the header of the first PNG under ROOT (first class, first
 * file) to learn channels x height x width without decoding the dataset
 * (used by `netrun check` when the spec gives no network.input). */
int nr_dataset_probe(const char *root, int *channels, int *height, int *width,
                     nr_error *err);

/* One PNG, decoded to 8-bit gray or RGB. *pixels is malloc'd, CHW, caller frees.
 * Refuses, before allocating, headers claiming more than 16384 x 16384 or
 * more pixels than the file's size can hold (deflate compresses at most
 * 1032:1: a larger claim is a truncated or forged file). Ancillary chunks
 * other than tRNS are skipped unread, and libpng's buffer for one chunk is
 * limited to 8 MiB, so no length field makes it allocate more. */
int nr_png_read(const char *path, uint8_t **pixels, int *channels, int *height,
                int *width, nr_error *err);
/* Reads only the header of one PNG (same checks and messages as nr_png_read:
 * size limit, 16-bit, alpha) and gives the shape nr_png_read would return. */
int nr_png_info(const char *path, int *channels, int *height, int *width,
                nr_error *err);
/* Writes an 8-bit gray (channels 1) or RGB (channels 3) PNG from CHW pixels,
 * atomically (temporary name + rename). */
int nr_png_write(const char *path, const uint8_t *pixels, int channels,
                 int height, int width, nr_error *err);

#endif
