/* netrun/predict.h - a trained model (netrun/model.h) applied to image
 * files: what `netrun predict` does, without printing.
 *
 * The images: each operand is an image file, or a folder searched
 * recursively, in sorted order (strcmp of the names in each folder, so a
 * class-folder dataset comes in the order the loader takes it), skipping
 * hidden entries (names starting with '.': .netrun-cache, .git) and files
 * that are no image netrun reads (nr_image_format_of, netrun/data.h). A
 * symbolic link is followed, but never into a folder being searched (no
 * loop). An operand that does not exist, cannot be searched or holds no
 * image is an error (NR_EXIT_INPUT, naming it); a file operand is taken
 * whatever its name (reading it says what is wrong).
 *
 * Class folders: the images of one folder operand sit in class folders
 * when the folder each of them is in (the last folder of its path) is
 * named after one of the model's classes - all of them, else none counts
 * (a folder of photos with one sub-folder called "3" is not labelled).
 * The file operands, together, are judged the same way (a shell glob over
 * the class folders of a Test set). Such images get that class as their
 * true class.
 *
 * Reading and predicting: each image is read as training reads it
 * (nr_image_read: the same channel conversion, palette expansion and
 * refusals) and must have the model's channels x height x width (images
 * are not resized, as in training); the pixels are scaled as in training
 * (nr_model_predict_pixels). Images are read in parallel, a chunk at a
 * time, and predicted in list order in batches of the model's max_batch
 * (the images that could be used, consecutively): with max_batch = the
 * spec's batch size, a class-folder Test set gives the batches `netrun
 * eval` forms, so the same bits and the same count of correct images.
 */
#ifndef NETRUN_PREDICT_H
#define NETRUN_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "netrun/error.h"
#include "netrun/model.h"

typedef struct nr_image_list {
    size_t count;
    char **paths;          /* [count] the operand, or operand/sub/.../file; each
                              malloc'd, all owned */
    int32_t *true_class;   /* [count] the class of the image's class folder (see
                              above), or -1; owned */
    size_t labelled;       /* images with true_class >= 0 */
} nr_image_list;

/* Lists the images the operands name (see above); class_names (class_count,
 * in output order; only read) judge the class folders. On failure *out is
 * zeroed. Free with nr_image_list_free. */
int nr_image_list_collect(const char *const *operands, size_t operand_count,
                          char *const *class_names, size_t class_count, nr_image_list *out,
                          nr_error *err);
void nr_image_list_free(nr_image_list *list);

typedef struct nr_predict_hooks {
    void *ctx;
    /* Image `index` of the list was predicted: outputs [classes] (see
     * netrun/model.h), the predicted class. Called in list order. Return 0,
     * or -1 with err filled to stop nr_predict_images (which then fails with
     * that error). */
    int (*on_image)(void *ctx, size_t index, const float *outputs, int32_t predicted,
                    nr_error *err);
    /* Image `index` could not be used; why->message is one line "PATH:
     * error: ..." (unreadable, not an image, or not the model's shape: it
     * says what the model takes). Called in list order, but possibly before
     * on_image of the earlier images of the same batch. May be NULL. */
    void (*on_failure)(void *ctx, size_t index, const nr_error *why);
} nr_predict_hooks;

/* Reads and predicts every image of the list (see above) on `threads`
 * reading threads (0: the online cores; the model predicts on its own).
 * *failed (may be NULL) receives the number of images that could not be
 * used; they are no error here. Fails only when out of memory or when a
 * hook fails. */
int nr_predict_images(nr_model *model, const nr_image_list *list, int threads,
                      const nr_predict_hooks *hooks, size_t *failed, nr_error *err);

#endif
