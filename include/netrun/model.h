/* netrun/model.h - a trained model opened for use: `netrun predict`,
 * `netrun export` and the C API (netrun/netrun.h) start here.
 *
 * A model is a run folder (resolved.yaml + weights.bin), or a weights file
 * with the resolved.yaml of its run beside it (the same folder). The spec
 * gives the network; the weights file gives the parameters and what feeding
 * the model takes (netrun/weights.h: input shape, pixel scaling, class
 * names in output order). A version-1 weights file records neither: the
 * input shape is the spec's, the scaling netrun's (pixel / 255), and the
 * classes are named by their index ("0", "1", ...) with names_recorded
 * false.
 *
 * Outputs per image and class (nr_model_predict): the probabilities
 * (softmax of the class scores) when the network was trained with
 * cross_entropy or ends with a softmax, as `netrun eval` computes them; the
 * raw output values for an mse network without a final softmax (see the
 * output line of `netrun check`). The predicted class is the argmax of the
 * class scores: the class `netrun eval` counts.
 */
#ifndef NETRUN_MODEL_H
#define NETRUN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netrun/error.h"
#include "netrun/image.h"
#include "netrun/net.h"
#include "netrun/spec_load.h"
#include "netrun/weights.h"

typedef struct nr_model {
    nr_spec spec;            /* resolved.yaml, loaded (owned) */
    nr_net *net;             /* the network with the weights (owned; inference only) */
    nr_model_info info;      /* input shape, scaling, class names (owned) */
    nr_image_prep prep;      /* how an image file is prepared: the spec's data.size,
                                data.fit, data.channels, data.alpha, as in training */
    bool names_recorded;     /* false: a version-1 weights file, names are indices */
    bool probabilities;      /* outputs are probabilities (else raw mse outputs) */
    int max_batch;           /* images per nr_model_predict call */
    float *inputs;           /* [max_batch, C, H, W] scaled pixels (owned) */
    char *spec_path;         /* the resolved.yaml read (owned) */
    char *weights_path;      /* the weights file read (owned) */
} nr_model;

/* Opens MODEL (a run folder or a weights file, see above) for batches of up
 * to max_batch images (0: the spec's train.batch_size, the batches `netrun
 * eval` uses, so predictions are the same bits) on `threads` threads (-1:
 * the spec's `threads`, as eval; 0: the online cores). Errors
 * name the path and what is missing ("runs/x: error: no weights.bin in this
 * run folder; it is written when training finishes"); NR_EXIT_INPUT. On
 * failure *model is zeroed (nr_model_close on it is a no-op). */
int nr_model_open(const char *path, int max_batch, int threads, nr_model *model,
                  nr_error *err);
void nr_model_close(nr_model *model);

static inline size_t nr_model_classes(const nr_model *m) { return m->info.class_count; }
/* Values per image: channels x height x width. */
size_t nr_model_image_size(const nr_model *m);

/* n (<= max_batch) images as 8-bit pixels [n, C, H, W] of the model's input
 * shape -> out [n, classes] (see above) and, when predicted is not NULL,
 * the predicted class of each. The pixels are scaled as in training. */
void nr_model_predict_pixels(nr_model *m, const uint8_t *pixels, int n, float *out,
                             int32_t *predicted);
/* The same from inputs already scaled (pixel * scale + shift), float
 * [n, C, H, W]: what an exported ONNX model takes. */
void nr_model_predict(nr_model *m, const float *inputs, int n, float *out,
                      int32_t *predicted);

#endif
