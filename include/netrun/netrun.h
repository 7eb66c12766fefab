/* netrun/netrun.h - the C API: a trained netrun model embedded in a program.
 *
 * Installed with the library (libnetrun.so.0 and libnetrun.a; `pkg-config
 * --cflags --libs netrun`); this header is the whole public interface and
 * needs no other netrun header. Only the netrun_* functions below are
 * exported from the shared library.
 *
 *     char error[NETRUN_ERROR_MAX];
 *     netrun_model *model;
 *     if (netrun_model_open("runs/ex2_cnn-1", 0, &model, error, sizeof error) != NETRUN_OK)
 *         fprintf(stderr, "%s\n", error);
 *
 * A model is a run folder (runs/<name>-<n>, holding resolved.yaml and
 * weights.bin) or a weights file with its run's resolved.yaml beside it.
 * The weights record what feeding the model takes: the input shape
 * (channels x height x width), the pixel scaling and the class names in
 * output order. (Weights written by netrun 0.1.0 before class names were
 * recorded still open: their classes are named "0", "1", ...)
 *
 * Images are 8-bit pixels of exactly the model's input shape, scaled by the
 * model as in training; netrun does not resize or convert images, as
 * training does not. Two layouts, per call:
 *   NETRUN_LAYOUT_CHW  planar, channel by channel: pixel (c, y, x) of image i
 *                      at i*C*H*W + c*H*W + y*W + x (what netrun_model_load_image
 *                      gives; for one channel both layouts are the same)
 *   NETRUN_LAYOUT_HWC  interleaved, as most image libraries give (RGBRGB...):
 *                      at i*H*W*C + y*W*C + x*C + c
 *
 * Outputs per image and class: probabilities (softmax of the class scores,
 * the same bits `netrun eval` computes) when the network was trained with
 * cross_entropy or ends with a softmax; otherwise (an mse network without a
 * final softmax) the raw output values: netrun_model_outputs_probabilities
 * says which. The predicted class is the argmax of the class scores, the
 * class `netrun eval` counts.
 *
 * Errors: every function that can fail returns a status (NETRUN_OK, or
 * NETRUN_ERR_INPUT for bad input of any kind: paths, files, arguments;
 * NETRUN_ERR_INTERNAL for out of memory and the like; the values are
 * netrun's exit statuses) and never prints. Its one-line message ("PATH:
 * error: what is wrong; what would be valid") is written to the caller's
 * buffer by netrun_model_open, which has no model yet, and is kept in the
 * model by the functions taking one (netrun_model_error). There is no
 * global state. The functions that only read the model (shape, classes)
 * need an open one; the others take NULL (close: nothing to do; predict and
 * load_image: NETRUN_ERR_INPUT).
 *
 * Threads: a model (handle) is used by one thread at a time; different
 * models may be used at the same time from different threads, and
 * netrun_model_open may be called from any thread. A model predicts on the
 * worker threads it was opened with; OpenBLAS's own thread count is
 * process-wide and netrun sets it to 1 when a model runs on more than one
 * thread (each worker then calls BLAS on its share).
 */
#ifndef NETRUN_NETRUN_H
#define NETRUN_NETRUN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NETRUN_API __attribute__((visibility("default")))
#else
#define NETRUN_API
#endif

/* The version of this header; netrun_version() gives the library's. */
#define NETRUN_VERSION_MAJOR 0
#define NETRUN_VERSION_MINOR 1
#define NETRUN_VERSION_PATCH 0
#define NETRUN_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH */
#define NETRUN_VERSION_NUMBER \
    (NETRUN_VERSION_MAJOR * 10000 + NETRUN_VERSION_MINOR * 100 + NETRUN_VERSION_PATCH)

/* Statuses (netrun's exit statuses). */
#define NETRUN_OK 0
#define NETRUN_ERR_INTERNAL 1   /* out of memory, threads that would not start */
#define NETRUN_ERR_INPUT 2      /* bad input: path, file, image, argument */

/* A buffer of this size holds any error message whole (a smaller one gets
 * it cut, always NUL-terminated). */
#define NETRUN_ERROR_MAX 1024

/* Pixel layouts of netrun_model_predict (see above). */
#define NETRUN_LAYOUT_CHW 0
#define NETRUN_LAYOUT_HWC 1

typedef struct netrun_model netrun_model;

/* The library's version: NETRUN_VERSION_NUMBER and _STRING of the build. */
NETRUN_API int netrun_version(void);
NETRUN_API const char *netrun_version_string(void);

/* Opens the model at PATH (a run folder or a weights file, see above).
 * threads: worker threads for predicting, 1 or more; 0: the run's own
 * `threads` setting, as `netrun eval` uses (its default, 0, is every online
 * core). On success *model is the model (close it with netrun_model_close)
 * and error is "". On failure *model is NULL, the message is in error (when
 * error is not NULL and error_size > 0) and the status is returned, e.g.
 * "runs/x: error: no such file or folder; a model is a run folder
 * (runs/<name>-<n>) or its weights.bin". Reads the files and builds the
 * network; nothing is kept open. */
NETRUN_API int netrun_model_open(const char *path, int threads, netrun_model **model,
                                 char *error, size_t error_size);
/* Frees the model and everything it owns; NULL is fine. */
NETRUN_API void netrun_model_close(netrun_model *model);

/* The message of the last call on this model that returned a status: ""
 * when it succeeded. Owned by the model, valid until its next call. */
NETRUN_API const char *netrun_model_error(const netrun_model *model);

/* The input shape: channels (1 gray, 3 RGB), height, width in pixels. */
NETRUN_API int netrun_model_channels(const netrun_model *model);
NETRUN_API int netrun_model_height(const netrun_model *model);
NETRUN_API int netrun_model_width(const netrun_model *model);
/* Bytes per image: channels * height * width. */
NETRUN_API size_t netrun_model_image_size(const netrun_model *model);

/* The number of classes (outputs per image) and the name of class `index`
 * (0 .. count - 1; NULL outside), in output order: the sorted names of the
 * training data's class folders. Owned by the model. */
NETRUN_API int netrun_model_class_count(const netrun_model *model);
NETRUN_API const char *netrun_model_class_name(const netrun_model *model, int index);
/* 1: the outputs are probabilities; 0: raw mse outputs (see above). */
NETRUN_API int netrun_model_outputs_probabilities(const netrun_model *model);

/* Predicts `count` (0 or more) images: pixels holds count *
 * netrun_model_image_size bytes in `layout` (NETRUN_LAYOUT_CHW or _HWC).
 * outputs (may be NULL) receives count * class_count floats, image by image
 * (outputs[i * class_count + k]: image i, class k); predicted (may be NULL)
 * the predicted class of each image. Any count: the images are run in
 * batches of the run's batch size, as `netrun eval` runs them, so the
 * results are the same bits. */
NETRUN_API int netrun_model_predict(netrun_model *model, const unsigned char *pixels,
                                    int count, int layout, float *outputs, int *predicted);

/* Reads the PNG file at PATH into pixels (netrun_model_image_size bytes,
 * NETRUN_LAYOUT_CHW) as training reads its images: 8-bit gray or RGB
 * (palette images expanded, 1/2/4-bit gray scaled to 0..255; alpha and
 * 16-bit refused). An image of another shape than the model's is refused
 * with both shapes named. */
NETRUN_API int netrun_model_load_image(netrun_model *model, const char *path,
                                       unsigned char *pixels);

#ifdef __cplusplus
}
#endif

#endif
