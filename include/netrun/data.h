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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netrun/error.h"

/* Training and evaluation feed pixel p (0..255) to the network as
 * p * NR_PIXEL_SCALE (0..1); weights files record it. */
#define NR_PIXEL_SCALE (1.0f / 255.0f)

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

/* What a dataset folder holds, from its listing (readdir only: the class
 * folders are checked to be folders, their files only counted; the load
 * checks each file) and the header of its first image; nothing is decoded.
 * For `netrun check` and the checks a run makes before loading. */
typedef struct nr_dataset_info {
    char *root;            /* the folder as given; owned */
    size_t count;          /* number of images */
    size_t class_count;
    char **class_names;    /* class_count names, sorted; one allocation, owned */
    size_t *class_sizes;   /* class_count image counts; owned */
    char *first_image;     /* ROOT/<first class>/<first file>; owned */
    int channels, height, width;   /* of the first image */
} nr_dataset_info;

/* Fills *out (caller frees with nr_dataset_info_free); on failure *out is
 * zeroed and err names the path, with the messages of nr_dataset_load. */
int nr_dataset_survey(const char *root, nr_dataset_info *out, nr_error *err);
void nr_dataset_info_free(nr_dataset_info *info);
/* nr_dataset_check_pair for two surveys. */
int nr_dataset_info_check_pair(const nr_dataset_info *train, const nr_dataset_info *test,
                               nr_error *err);

/* When the largest class has more than 10x the images of the smallest:
 * writes "ROOT: warning: class 'a' has N images, Rx the M of class 'b'; an
 * imbalance over 10x: consider train.class_weights: balanced" into buf and
 * returns true; else buf = "" and false. sizes: [class_count] image counts. */
#define NR_IMBALANCE_RATIO 10
bool nr_class_imbalance(const char *root, char *const *class_names, const size_t *class_sizes,
                        size_t class_count, char *buf, size_t size);

/* The uint8 pixels of a dataset in memory: count * channels * height * width
 * bytes (of the first image's shape). False when that overflows size_t. */
bool nr_dataset_info_bytes(const nr_dataset_info *info, size_t *bytes);
/* Refuses (NR_EXIT_INPUT) datasets whose pixels together need more than
 * `physical` bytes (the machine's memory), naming each one's computed size;
 * test may be NULL or unsurveyed (root NULL). physical 0 = unknown: no check. */
int nr_dataset_check_memory(const nr_dataset_info *train, const nr_dataset_info *test,
                            double physical, nr_error *err);

/* Two sorted lists of class names: 0 when equal, else fails (NR_EXIT_INPUT)
 * with "PATH: error: its class folders are not those of EXPECTED_FROM (N
 * classes here, M there): no folder for 'a', 'b'; extra folders 'c'; HINT"
 * (`found` are PATH's classes, `expected` those of EXPECTED_FROM). */
int nr_class_names_check(const char *path, char *const *expected, size_t expected_count,
                         char *const *found, size_t found_count, const char *expected_from,
                         const char *hint, nr_error *err);

/* Reads only the header of the first PNG under ROOT (first class, first
 * file) to learn channels x height x width without decoding the dataset
 * (used by `netrun check` when the spec gives no network.input). */
int nr_dataset_probe(const char *root, int *channels, int *height, int *width,
                     nr_error *err);

/* The image files netrun reads, told by the name's suffix (any case): the
 * one place that decides it, for the dataset loader and `netrun predict`.
 * NR_IMAGE_SUFFIXES names them for messages. */
typedef enum nr_image_format {
    NR_IMAGE_NONE = 0,   /* not an image netrun reads */
    NR_IMAGE_PNG,        /* *.png */
} nr_image_format;
#define NR_IMAGE_SUFFIXES ".png"

/* The format of the file NAME (a path or a bare name; only its last
 * component counts, which must have something before the suffix). */
nr_image_format nr_image_format_of(const char *name);
/* Reads one image of a format netrun reads (nr_png_read for a .png: the
 * same pixels, conversions and refusals as training); a name of no such
 * format is refused with "PATH: error: not an image netrun reads; ...". */
int nr_image_read(const char *path, uint8_t **pixels, int *channels, int *height,
                  int *width, nr_error *err);

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
