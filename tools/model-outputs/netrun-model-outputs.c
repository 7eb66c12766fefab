/* netrun-model-outputs - what a trained model outputs for every image of a
 * class-folder dataset, as raw float32 files: the reference that the ONNX
 * export is checked against (tests/cli/export*.sh runs ONNX Runtime on the
 * same inputs). Test tooling: netrun predict is the user's command. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/fileio.h"
#include "netrun/model.h"

static const char usage[] =
    "usage: netrun-model-outputs MODEL DATA_DIR INPUTS.f32 OUTPUTS.f32\n"
    "\n"
    "Opens MODEL (a run folder or weights file), loads the class folders of\n"
    "DATA_DIR and predicts every image as netrun does (nr_model_predict_pixels:\n"
    "the model's pixel scaling, its batch size). Writes INPUTS.f32, the scaled\n"
    "inputs [images, C, H, W], and OUTPUTS.f32, the outputs [images, classes]\n"
    "(probabilities, or raw values for an mse net without softmax), as\n"
    "little-endian float32 of this machine, and prints 'IMAGES C H W CLASSES'.\n";

static int fail(const nr_error *err)
{
    fprintf(stderr, "netrun-model-outputs: %s\n", err->message);
    return err->status ? err->status : NR_EXIT_INTERNAL;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 5) {
        fputs(usage, stderr);
        return NR_EXIT_INPUT;
    }
    nr_error err = {0};
    nr_model model;
    nr_dataset *data = NULL;
    if (nr_model_open(argv[1], 0, -1, &model, &err) != 0)
        return fail(&err);
    if (nr_dataset_load(argv[2], NULL, &data, &err) != 0) {
        nr_model_close(&model);
        return fail(&err);
    }
    size_t size = nr_model_image_size(&model), k = nr_model_classes(&model);
    if ((size_t)data->channels * data->height * data->width != size) {
        nr_fail(&err, NR_EXIT_INPUT, "%s: error: images of %dx%dx%d, the model takes %dx%dx%d",
                argv[2], data->channels, data->height, data->width, model.info.channels,
                model.info.height, model.info.width);
        goto done;
    }
    float *inputs = malloc(data->count * size * sizeof *inputs);
    float *outputs = malloc(data->count * k * sizeof *outputs);
    if (!inputs || !outputs) {
        nr_fail(&err, NR_EXIT_INTERNAL, "out of memory");
    } else {
        for (size_t first = 0; first < data->count; first += (size_t)model.max_batch) {
            size_t n = data->count - first;
            if (n > (size_t)model.max_batch)
                n = (size_t)model.max_batch;
            nr_model_predict_pixels(&model, data->pixels + first * size, (int)n,
                                    outputs + first * k, NULL);
            /* the scaled batch the net just ran on */
            memcpy(inputs + first * size, model.inputs, n * size * sizeof *inputs);
        }
        if (nr_write_file_atomic(argv[3], inputs, data->count * size * sizeof *inputs, &err) ==
                0 &&
            nr_write_file_atomic(argv[4], outputs, data->count * k * sizeof *outputs, &err) == 0)
            printf("%zu %d %d %d %zu\n", data->count, model.info.channels, model.info.height,
                   model.info.width, k);
    }
    free(inputs);
    free(outputs);
done:
    nr_dataset_free(data);
    nr_model_close(&model);
    return err.message[0] ? fail(&err) : 0;
}
