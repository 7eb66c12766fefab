/* netrun/data.h - image-classification datasets laid out as class folders of
 * image files:  ROOT/<class>/<anything>.png (or .jpg, .jpeg: netrun/image.h)
 *
 * Class names are the sorted (byte order, strcmp) names of ROOT's
 * sub-folders; hidden entries (starting with '.') are ignored, any other entry
 * of ROOT that is not a folder is an error. Files in a class folder are taken in
 * sorted order; anything but a regular image file (NR_IMAGE_SUFFIXES, in any case) is an
 * error naming the file, and so is a class folder without images. Limits:
 * 65535 classes, 100 million images.
 * Images: read by nr_image_read (netrun/image.h: PNG or JPEG; alpha composited
 * on black, 16-bit scaled to 8 bits), gray (1 channel) or RGB (3). All images
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
#include "netrun/image.h"

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
    /* How the network takes these pixels, per channel: input = pixel (0..255)
     * * pixel_scale[c] + pixel_shift[c] (data.normalize). nr_dataset_load
     * sets netrun's default, NR_PIXEL_SCALE and 0; the run sets the spec's. */
    float pixel_scale[3], pixel_shift[3];
} nr_dataset;

typedef struct nr_data_options {
    int use_cache;         /* read/write ROOT/.netrun-cache (default 1) */
    nr_image_prep prep;    /* how every image is prepared (data.size, data.fit,
                              data.channels, data.alpha; netrun/image.h); zeroed:
                              as stored. Part of the cache's fingerprint: a cache
                              made with another preparation is not used */
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

/* Moves images idx[0..n) (ascending, distinct, < from->count) of `from`
 * into a new dataset *out (root: a copy of `root`; the class names, shape
 * and pixel scaling of `from`); `from` keeps the others, in order. For a
 * test split of Train (data.test_fraction). On failure (out of memory)
 * `from` is unchanged. */
int nr_dataset_take(nr_dataset *from, const uint32_t *idx, size_t n, const char *root,
                    nr_dataset **out, nr_error *err);

/* Per-channel population mean and standard deviation of the pixels
 * (0..255) of images idx[0..n) of ds (every image when idx is NULL, n
 * ignored): mean[c], std[c] for c < ds->channels (data.normalize:
 * standardize). Sums are exact integers; std = sqrt(E[p^2] - E[p]^2). */
void nr_dataset_channel_stats(const nr_dataset *ds, const uint32_t *idx, size_t n,
                              double *mean, double *std);

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

#endif
