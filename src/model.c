/* model.c - a trained model opened for use (see netrun/model.h). */
#include "netrun/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netrun/data.h"
#include "netrun/fileio.h"
#include "netrun/graph.h"
#include "netrun/run_folder.h"

void nr_model_close(nr_model *m)
{
    nr_net_free(m->net);
    nr_spec_free(&m->spec);
    nr_model_info_free(&m->info);
    free(m->spec_path);
    free(m->weights_path);
    free(m->inputs);
    memset(m, 0, sizeof *m);
}

size_t nr_model_image_size(const nr_model *m)
{
    return (size_t)m->info.channels * (size_t)m->info.height * (size_t)m->info.width;
}

/* The folder part of PATH ("." when none), malloc'd. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* MODEL -> the resolved.yaml and weights file to read. */
static int locate(const char *path, char **spec_path, char **weights_path, nr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: %s; a model is a run folder "
                       "(runs/<name>-<n>) or its weights.bin", path,
                       errno == ENOENT ? "no such file or folder" : strerror(errno));
    char *folder = S_ISDIR(st.st_mode) ? strdup(path) : folder_of(path);
    *spec_path = folder ? nr_path_join(folder, NR_RUN_RESOLVED) : NULL;
    *weights_path = S_ISDIR(st.st_mode) ? (folder ? nr_path_join(folder, NR_RUN_WEIGHTS) : NULL)
                                        : strdup(path);
    free(folder);
    if (!*spec_path || !*weights_path)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    if (S_ISDIR(st.st_mode) && stat(*weights_path, &st) != 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: no %s in this folder; a run writes it "
                       "when training finishes (an interrupted run: netrun resume %s)",
                       path, NR_RUN_WEIGHTS, path);
    if (stat(*spec_path, &st) != 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: no %s beside the weights; the model's "
                       "network is the resolved spec its run wrote (copy it next to %s)",
                       *spec_path, NR_RUN_RESOLVED, *weights_path);
    return 0;
}

/* Version-1 weights record no model section: the spec's input, netrun's
 * scaling, classes named by index. */
static int fill_unrecorded(nr_model *m, nr_error *err)
{
    size_t k = (size_t)nr_net_classes(m->net);
    nr_shape in = m->spec.graph->input;
    /* one allocation, like the loader's: k pointers, then the names */
    char **names = malloc(k * (sizeof(char *) + 24));
    if (!names)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    char *text = (char *)(names + k);
    for (size_t i = 0; i < k; i++) {
        names[i] = text + i * 24;
        snprintf(names[i], 24, "%zu", i);
    }
    m->info = nr_model_info_for(in.c, in.h, in.w, k, names);
    m->info.version = 1;
    m->names_recorded = false;
    return 0;
}

int nr_model_open(const char *path, int max_batch, int threads, nr_model *m, nr_error *err)
{
    memset(m, 0, sizeof *m);
    if (max_batch < 0)
        return nr_fail(err, NR_EXIT_INTERNAL, "nr_model_open: max_batch %d < 0", max_batch);
    const nr_train_config *cfg = &m->spec.train;
    if (locate(path, &m->spec_path, &m->weights_path, err) != 0 ||
        nr_spec_load(m->spec_path, NULL, 0, &m->spec, err) != 0)
        goto fail;
    m->max_batch = max_batch ? max_batch : cfg->batch_size;
    nr_data_options data_opts;
    nr_spec_data_options(m->spec.doc, &data_opts);
    m->prep = data_opts.prep;
    if (nr_net_create(m->spec.graph, m->max_batch, cfg->backend, cfg->loss, &m->net, err) != 0 ||
        nr_weights_load(m->weights_path, m->net, nr_graph_hash(m->spec.graph), &m->info,
                        err) != 0 ||
        nr_net_set_threads(m->net, threads < 0 ? cfg->threads : threads, err) != 0)
        goto fail;
    m->names_recorded = m->info.class_count > 0;
    if (!m->names_recorded && fill_unrecorded(m, err) != 0)
        goto fail;
    nr_shape in = m->spec.graph->input;
    if (m->info.channels != in.c || m->info.height != in.h || m->info.width != in.w ||
        m->info.class_count != (size_t)nr_net_classes(m->net)) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: the weights were trained on %dx%dx%d images "
                "of %zu classes but %s's network takes %dx%dx%d and has %d outputs; they "
                "are not from the same run", m->weights_path, m->info.channels,
                m->info.height, m->info.width, m->info.class_count, m->spec_path, in.c, in.h,
                in.w, nr_net_classes(m->net));
        goto fail;
    }
    m->inputs = malloc((size_t)m->max_batch * nr_model_image_size(m) * sizeof *m->inputs);
    if (!m->inputs) {
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto fail;
    }
    m->probabilities = cfg->loss == NR_LOSS_CROSS_ENTROPY ||
                       m->spec.graph->layers[m->spec.graph->count - 1].kind == NR_LAYER_SOFTMAX;
    return 0;
fail:
    nr_model_close(m);
    return -1;
}

void nr_model_predict(nr_model *m, const float *inputs, int n, float *out, int32_t *predicted)
{
    if (n <= 0)
        return;
    nr_net_forward(m->net, inputs, n, false);
    nr_net_outputs(m->net, n, out, predicted);
}

void nr_model_predict_pixels(nr_model *m, const uint8_t *pixels, int n, float *out,
                             int32_t *predicted)
{
    if (n <= 0)
        return;
    size_t size = nr_model_image_size(m);
    size_t plane = (size_t)m->info.height * (size_t)m->info.width;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < m->info.channels; c++) {
            const float scale = m->info.pixel_scale[c], shift = m->info.pixel_shift[c];
            const uint8_t *src = pixels + (size_t)i * size + (size_t)c * plane;
            float *dst = m->inputs + (size_t)i * size + (size_t)c * plane;
            for (size_t p = 0; p < plane; p++)
                dst[p] = (float)src[p] * scale + shift;
        }
    nr_model_predict(m, m->inputs, n, out, predicted);
}
