/* api.c - the C API (netrun/netrun.h) over nr_model (netrun/model.h). */
#include "netrun/netrun.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/model.h"

struct netrun_model {
    nr_model model;
    uint8_t *planar;        /* [max_batch, C, H, W]: NETRUN_LAYOUT_HWC input, transposed */
    float *outputs;         /* [max_batch, classes]: when the caller wants no outputs */
    int32_t *predicted;     /* [max_batch] */
    char error[NETRUN_ERROR_MAX];
};

_Static_assert(NETRUN_OK == NR_EXIT_OK && NETRUN_ERR_INTERNAL == NR_EXIT_INTERNAL &&
               NETRUN_ERR_INPUT == NR_EXIT_INPUT, "netrun.h statuses are the exit statuses");
_Static_assert(NETRUN_ERROR_MAX >= sizeof(((nr_error *)0)->message),
               "NETRUN_ERROR_MAX holds any nr_error message");

int netrun_version(void)
{
    return NETRUN_VERSION_NUMBER;
}

const char *netrun_version_string(void)
{
    return NETRUN_VERSION_STRING;
}

/* Copies message into buf[size] (cut, NUL-terminated); nothing when size is 0. */
static void copy_message(char *buf, size_t size, const char *message)
{
    if (buf && size > 0)
        snprintf(buf, size, "%s", message);
}

/* The model's error from err; returns its status. */
static int failed(netrun_model *m, const nr_error *err)
{
    copy_message(m->error, sizeof m->error, err->message);
    return err->status;
}

static int succeeded(netrun_model *m)
{
    m->error[0] = '\0';
    return NETRUN_OK;
}

int netrun_model_open(const char *path, int threads, netrun_model **model, char *error,
                      size_t error_size)
{
    nr_error err = {0};
    copy_message(error, error_size, "");
    if (model)
        *model = NULL;
    if (!path || !model || threads < 0) {
        nr_fail(&err, NR_EXIT_INPUT, "netrun_model_open: error: %s",
                !path    ? "no path (NULL); give a run folder or a weights file"
                : !model ? "no place for the model (model is NULL)"
                         : "threads < 0; give 1 or more, or 0 for the run's setting");
        copy_message(error, error_size, err.message);
        return err.status;
    }
    netrun_model *m = calloc(1, sizeof *m);
    if (!m) {
        copy_message(error, error_size, "netrun_model_open: error: out of memory");
        return NETRUN_ERR_INTERNAL;
    }
    if (nr_model_open(path, 0, threads == 0 ? -1 : threads, &m->model, &err) != 0) {
        copy_message(error, error_size, err.message);
        free(m);
        return err.status;
    }
    size_t batch = (size_t)m->model.max_batch;
    m->planar = malloc(batch * nr_model_image_size(&m->model));
    m->outputs = malloc(batch * nr_model_classes(&m->model) * sizeof *m->outputs);
    m->predicted = malloc(batch * sizeof *m->predicted);
    if (!m->planar || !m->outputs || !m->predicted) {
        netrun_model_close(m);
        copy_message(error, error_size, "netrun_model_open: error: out of memory");
        return NETRUN_ERR_INTERNAL;
    }
    *model = m;
    return NETRUN_OK;
}

void netrun_model_close(netrun_model *m)
{
    if (!m)
        return;
    nr_model_close(&m->model);
    free(m->planar);
    free(m->outputs);
    free(m->predicted);
    free(m);
}

const char *netrun_model_error(const netrun_model *m)
{
    return m ? m->error : "netrun_model_error: error: no model (NULL)";
}

int netrun_model_channels(const netrun_model *m)
{
    return m->model.info.channels;
}

int netrun_model_height(const netrun_model *m)
{
    return m->model.info.height;
}

int netrun_model_width(const netrun_model *m)
{
    return m->model.info.width;
}

size_t netrun_model_image_size(const netrun_model *m)
{
    return nr_model_image_size(&m->model);
}

int netrun_model_class_count(const netrun_model *m)
{
    return (int)nr_model_classes(&m->model);
}

const char *netrun_model_class_name(const netrun_model *m, int index)
{
    if (index < 0 || (size_t)index >= nr_model_classes(&m->model))
        return NULL;
    return m->model.info.class_names[index];
}

int netrun_model_outputs_probabilities(const netrun_model *m)
{
    return m->model.probabilities;
}

/* n interleaved images [n, H, W, C] -> planar [n, C, H, W]. */
static void to_planar(const uint8_t *hwc, int n, int channels, size_t plane, uint8_t *chw)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *src = hwc + (size_t)i * plane * (size_t)channels;
        uint8_t *dst = chw + (size_t)i * plane * (size_t)channels;
        for (int c = 0; c < channels; c++)
            for (size_t p = 0; p < plane; p++)
                dst[(size_t)c * plane + p] = src[p * (size_t)channels + (size_t)c];
    }
}

int netrun_model_predict(netrun_model *m, const unsigned char *pixels, int count, int layout,
                         float *outputs, int *predicted)
{
    nr_error err = {0};
    if (!m)
        return NETRUN_ERR_INPUT;
    if (layout != NETRUN_LAYOUT_CHW && layout != NETRUN_LAYOUT_HWC) {
        nr_fail(&err, NR_EXIT_INPUT, "netrun_model_predict: error: layout %d; valid: "
                "NETRUN_LAYOUT_CHW (%d) or NETRUN_LAYOUT_HWC (%d)", layout,
                NETRUN_LAYOUT_CHW, NETRUN_LAYOUT_HWC);
        return failed(m, &err);
    }
    if (count < 0 || (count > 0 && !pixels)) {
        nr_fail(&err, NR_EXIT_INPUT, "netrun_model_predict: error: %s",
                count < 0 ? "count < 0; give the number of images (0 or more)"
                          : "no pixels (NULL) for the images");
        return failed(m, &err);
    }
    const size_t size = nr_model_image_size(&m->model);
    const size_t classes = nr_model_classes(&m->model);
    const int channels = m->model.info.channels;
    for (int first = 0; first < count; first += m->model.max_batch) {
        int n = count - first < m->model.max_batch ? count - first : m->model.max_batch;
        const uint8_t *batch = pixels + (size_t)first * size;
        if (layout == NETRUN_LAYOUT_HWC && channels > 1) {
            to_planar(batch, n, channels, size / (size_t)channels, m->planar);
            batch = m->planar;
        }
        float *out = outputs ? outputs + (size_t)first * classes : m->outputs;
        nr_model_predict_pixels(&m->model, batch, n, out, m->predicted);
        if (predicted)
            for (int i = 0; i < n; i++)
                predicted[first + i] = m->predicted[i];
    }
    return succeeded(m);
}

int netrun_model_load_image(netrun_model *m, const char *path, unsigned char *pixels)
{
    nr_error err = {0};
    if (!m)
        return NETRUN_ERR_INPUT;
    if (!path || !pixels) {
        nr_fail(&err, NR_EXIT_INPUT, "netrun_model_load_image: error: %s",
                !path ? "no path (NULL)" : "no pixels (NULL) to read the image into");
        return failed(m, &err);
    }
    const nr_model_info *info = &m->model.info;
    int channels, height, width;
    uint8_t *image = NULL;
    /* the header first: an image of another shape is refused before decoding */
    if (nr_image_info(path, &m->model.prep, &channels, &height, &width, &err) != 0 ||
        (channels == info->channels && height == info->height && width == info->width &&
         nr_image_read(path, &m->model.prep, &image, &channels, &height, &width, &err) != 0))
        return failed(m, &err);
    if (channels != info->channels || height != info->height || width != info->width) {
        free(image);
        nr_fail(&err, NR_EXIT_INPUT, "%s: error: a %dx%dx%d image (channels x height x "
                "width); the model takes %dx%dx%d images, as it was trained on (its spec's "
                "data.size and data.channels, when given, resize and convert images)", path, channels, height, width, info->channels,
                info->height, info->width);
        return failed(m, &err);
    }
    memcpy(pixels, image, nr_model_image_size(&m->model));
    free(image);
    return succeeded(m);
}
