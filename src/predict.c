/* predict.c - a trained model applied to image files (see netrun/predict.h):
 * listing the operands' images, judging their class folders, reading them
 * in parallel and predicting them in batches. */
#include "netrun/predict.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netrun/data.h"
#include "netrun/fileio.h"

#define MAX_READ_THREADS 64
/* pixels read ahead of the prediction at most (a chunk): MNIST's Test set
 * in one go, a large set of large images a part at a time */
#define CHUNK_BYTES ((size_t)256 << 20)

/* ------------------------------------------------------------ listing */

typedef struct path_list {
    char **paths;
    size_t count, cap;
} path_list;

static int push_path(path_list *l, char *path)
{
    if (!path)
        return -1;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **grown = realloc(l->paths, cap * sizeof *grown);
        if (!grown) {
            free(path);
            return -1;
        }
        l->paths = grown;
        l->cap = cap;
    }
    l->paths[l->count++] = path;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folders being searched, from the operand down (no loop through a
 * symbolic link). */
typedef struct ancestry {
    dev_t dev[256];
    ino_t ino[256];
    int depth;
} ancestry;

static int search_folder(const char *dir, const struct stat *dir_st, ancestry *up,
                         path_list *out, nr_error *err)
{
    for (int i = 0; i < up->depth; i++)
        if (up->dev[i] == dir_st->st_dev && up->ino[i] == dir_st->st_ino)
            return 0; /* a link back into a folder being searched */
    if (up->depth == (int)(sizeof up->dev / sizeof up->dev[0]))
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: folders nested more than %d deep",
                       dir, up->depth);
    DIR *d = opendir(dir);
    if (!d)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot search this folder: %s", dir,
                       strerror(errno));
    path_list names = {0};
    int rc = 0, read_errno = 0;
    while (rc == 0) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            read_errno = errno;
            break;
        }
        if (e->d_name[0] != '.')
            rc = push_path(&names, strdup(e->d_name));
    }
    closedir(d);
    if (rc != 0) {
        nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", dir);
        goto done;
    }
    if (read_errno) {
        rc = nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot list this folder: %s", dir,
                     strerror(read_errno));
        goto done;
    }
    if (names.count > 1)
        qsort(names.paths, names.count, sizeof *names.paths, compare_names);
    up->dev[up->depth] = dir_st->st_dev;
    up->ino[up->depth] = dir_st->st_ino;
    up->depth++;
    for (size_t i = 0; i < names.count && rc == 0; i++) {
        char *path = nr_path_join(dir, names.paths[i]);
        struct stat st;
        if (!path) {
            rc = nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", dir);
        } else if (stat(path, &st) != 0) {
            /* a dangling link, or gone since the listing: not an image to read */
            free(path);
        } else if (S_ISDIR(st.st_mode)) {
            rc = search_folder(path, &st, up, out, err);
            free(path);
        } else if (S_ISREG(st.st_mode) && nr_image_format_of(names.paths[i]) != NR_IMAGE_NONE) {
            if (push_path(out, path) != 0)
                rc = nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", dir);
        } else {
            free(path);
        }
    }
    up->depth--;
done:
    for (size_t i = 0; i < names.count; i++)
        free(names.paths[i]);
    free(names.paths);
    return rc;
}

/* The name of the folder PATH is in ("3" for "data/Test/3/0001.png"), as
 * [*start, *start + *len); 0 when PATH names no folder. */
static int parent_name(const char *path, size_t *start, size_t *len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    size_t end = (size_t)(slash - path);
    while (end > 0 && path[end - 1] == '/')
        end--;
    size_t begin = end;
    while (begin > 0 && path[begin - 1] != '/')
        begin--;
    *start = begin;
    *len = end - begin;
    return end > begin;
}

/* The class names in sorted order, to find a folder's class quickly. */
typedef struct named_class {
    const char *name;
    int32_t index;         /* in output order */
} named_class;

static int compare_named(const void *a, const void *b)
{
    return strcmp(((const named_class *)a)->name, ((const named_class *)b)->name);
}

/* The class named name[0..len) among sorted[0..count), or -1. */
static int32_t find_class(const named_class *sorted, size_t count, const char *name,
                          size_t len)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *candidate = sorted[mid].name;
        int c = strncmp(candidate, name, len);
        if (c == 0 && candidate[len] != '\0')
            c = 1; /* longer than name: after it */
        if (c == 0)
            return sorted[mid].index;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void nr_image_list_free(nr_image_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
    free(list->true_class);
    memset(list, 0, sizeof *list);
}

/* Gives each image its class folder's class when all of its group's images
 * have one (see the header). group[i]: image i's group, < groups. */
static int judge_groups(nr_image_list *list, const size_t *group, size_t groups,
                        char *const *class_names, size_t class_count, nr_error *err)
{
    named_class *sorted = malloc((class_count + 1) * sizeof *sorted);
    bool *all = malloc(groups * sizeof *all);
    if (!sorted || !all) {
        free(sorted);
        free(all);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    for (size_t c = 0; c < class_count; c++)
        sorted[c] = (named_class){class_names[c], (int32_t)c};
    qsort(sorted, class_count, sizeof *sorted, compare_named);
    for (size_t g = 0; g < groups; g++)
        all[g] = class_count > 0;
    for (size_t i = 0; i < list->count; i++) {
        size_t start, len;
        const char *p = list->paths[i];
        list->true_class[i] =
            parent_name(p, &start, &len) ? find_class(sorted, class_count, p + start, len) : -1;
        if (list->true_class[i] < 0)
            all[group[i]] = false;
    }
    for (size_t i = 0; i < list->count; i++) {
        if (!all[group[i]])
            list->true_class[i] = -1;
        else
            list->labelled++;
    }
    free(sorted);
    free(all);
    return 0;
}

int nr_image_list_collect(const char *const *operands, size_t operand_count,
                          char *const *class_names, size_t class_count, nr_image_list *out,
                          nr_error *err)
{
    memset(out, 0, sizeof *out);
    path_list found = {0};
    /* group_end[i]: the images found so far after operand i */
    size_t *group_end = calloc(operand_count + 1, sizeof *group_end);
    bool *is_file = calloc(operand_count + 1, sizeof *is_file);
    size_t *group = NULL;
    int rc = 0;
    if (!group_end || !is_file) {
        rc = nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < operand_count && rc == 0; i++) {
        const char *op = operands[i];
        struct stat st;
        if (stat(op, &st) != 0) {
            rc = nr_fail(err, NR_EXIT_INPUT, "%s: error: %s; give images (" NR_IMAGE_SUFFIXES
                         " files) or folders of them", op,
                         errno == ENOENT ? "no such file or folder" : strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            ancestry up = {.depth = 0};
            size_t before = found.count;
            rc = search_folder(op, &st, &up, &found, err);
            if (rc == 0 && found.count == before)
                rc = nr_fail(err, NR_EXIT_INPUT, "%s: error: no images (" NR_IMAGE_SUFFIXES
                             " files) in this folder or its sub-folders (names starting "
                             "with '.' are skipped)", op);
        } else {
            is_file[i] = true;
            if (push_path(&found, strdup(op)) != 0)
                rc = nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        }
        group_end[i] = found.count;
    }
    if (rc != 0)
        goto done;
    out->count = found.count;
    out->paths = found.paths;
    found = (path_list){0};
    out->true_class = malloc((out->count + 1) * sizeof *out->true_class);
    group = malloc((out->count + 1) * sizeof *group);
    if (!out->true_class || !group) {
        rc = nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    /* one group per folder operand; the file operands all together in
     * group operand_count */
    for (size_t i = 0, at = 0; i < operand_count; at = group_end[i], i++)
        for (size_t j = at; j < group_end[i]; j++)
            group[j] = is_file[i] ? operand_count : i;
    rc = judge_groups(out, group, operand_count + 1, class_names, class_count, err);
done:
    for (size_t i = 0; i < found.count; i++)
        free(found.paths[i]);
    free(found.paths);
    free(group_end);
    free(is_file);
    free(group);
    if (rc != 0)
        nr_image_list_free(out);
    return rc;
}

/* ------------------------------------------------------------ reading */

/* One chunk of the list, read by a few threads taking images in turn. */
typedef struct read_job {
    const nr_image_list *list;
    size_t first, count;           /* images [first, first + count) of the list */
    int channels, height, width;   /* the model's input */
    const nr_image_prep *prep;     /* the model's spec's preparation */
    size_t image_size;
    uint8_t *pixels;               /* [count, image_size]: image first + j at j */
    nr_error **why;                /* [count]: NULL, or why image first + j failed */
    atomic_size_t next;            /* the next image to take */
    atomic_bool out_of_memory;
} read_job;

/* "1x28x28 (gray, 28x28 pixels)" */
static void describe_shape(int c, int h, int w, char *buf, size_t size)
{
    char kind[32];
    snprintf(kind, sizeof kind, "%s", c == 1 ? "gray" : c == 3 ? "RGB" : "");
    if (!kind[0])
        snprintf(kind, sizeof kind, "%d channels", c);
    snprintf(buf, size, "%dx%dx%d (%s, %dx%d pixels)", c, h, w, kind, h, w);
}

static void read_one(read_job *job, size_t j)
{
    const char *path = job->list->paths[job->first + j];
    uint8_t *px = NULL;
    int c = 0, h = 0, w = 0;
    nr_error why = {0};
    int rc = nr_image_read(path, job->prep, &px, &c, &h, &w, &why);
    if (rc == 0 && (c != job->channels || h != job->height || w != job->width)) {
        char is[96], takes[96];
        describe_shape(c, h, w, is, sizeof is);
        describe_shape(job->channels, job->height, job->width, takes, sizeof takes);
        rc = nr_fail(&why, NR_EXIT_INPUT, "%s: error: the image is %s but the model takes "
                     "%s images (channels x height x width; images are resized and converted only "
                     "by the spec's data.size and data.channels)", path,
                     is, takes);
    }
    if (rc == 0)
        memcpy(job->pixels + j * job->image_size, px, job->image_size);
    free(px);
    if (rc != 0 && (job->why[j] = malloc(sizeof why)) != NULL)
        *job->why[j] = why;
    else if (rc != 0)
        atomic_store(&job->out_of_memory, true);
}

static void *read_worker(void *arg)
{
    read_job *job = arg;
    size_t j;
    while ((j = atomic_fetch_add(&job->next, 1)) < job->count)
        read_one(job, j);
    return NULL;
}

/* Reads the chunk on up to `threads` threads (this one included). */
static void read_chunk(read_job *job, int threads)
{
    pthread_t tid[MAX_READ_THREADS];
    bool started[MAX_READ_THREADS] = {false};
    size_t extra = (size_t)threads - 1;
    if (extra > job->count - 1)
        extra = job->count - 1;
    for (size_t t = 0; t < extra; t++)
        started[t] = pthread_create(&tid[t], NULL, read_worker, job) == 0;
    read_worker(job); /* takes what threads that did not start would have */
    for (size_t t = 0; t < extra; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
}

/* ------------------------------------------------------------ predicting */

typedef struct batch {
    int n;
    uint8_t *pixels;       /* [max_batch, image_size] */
    size_t *index;         /* [max_batch] list indices */
    float *outputs;        /* [max_batch, classes] */
    int32_t *predicted;    /* [max_batch] */
} batch;

static int flush(nr_model *m, batch *b, const nr_predict_hooks *hooks, nr_error *err)
{
    if (b->n == 0)
        return 0;
    nr_model_predict_pixels(m, b->pixels, b->n, b->outputs, b->predicted);
    size_t k = nr_model_classes(m);
    for (int i = 0; i < b->n; i++)
        if (hooks->on_image &&
            hooks->on_image(hooks->ctx, b->index[i], b->outputs + (size_t)i * k,
                            b->predicted[i], err) != 0)
            return -1;
    b->n = 0;
    return 0;
}

int nr_predict_images(nr_model *m, const nr_image_list *list, int threads,
                      const nr_predict_hooks *hooks, size_t *failed, nr_error *err)
{
    if (failed)
        *failed = 0;
    if (list->count == 0)
        return 0;
    size_t size = nr_model_image_size(m), k = nr_model_classes(m);
    size_t max_batch = (size_t)m->max_batch;
    size_t chunk = CHUNK_BYTES / size;
    if (chunk < max_batch)
        chunk = max_batch;
    if (chunk > list->count)
        chunk = list->count;
    if (threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (int)online : 1;
    }
    if (threads > MAX_READ_THREADS)
        threads = MAX_READ_THREADS;
    read_job job = {.list = list, .channels = m->info.channels, .height = m->info.height,
                    .width = m->info.width, .prep = &m->prep, .image_size = size,
                    .pixels = malloc(chunk * size), .why = calloc(chunk, sizeof *job.why)};
    batch b = {.pixels = malloc(max_batch * size), .index = malloc(max_batch * sizeof *b.index),
               .outputs = malloc(max_batch * k * sizeof *b.outputs),
               .predicted = malloc(max_batch * sizeof *b.predicted)};
    int rc = 0;
    if (!job.pixels || !job.why || !b.pixels || !b.index || !b.outputs || !b.predicted) {
        rc = nr_fail(err, NR_EXIT_INTERNAL, "out of memory for %zu images of %zu bytes",
                     chunk, size);
        goto done;
    }
    for (size_t first = 0; first < list->count && rc == 0; first += chunk) {
        job.first = first;
        job.count = list->count - first < chunk ? list->count - first : chunk;
        atomic_init(&job.next, 0);
        atomic_init(&job.out_of_memory, false);
        read_chunk(&job, threads);
        if (atomic_load(&job.out_of_memory))
            rc = nr_fail(err, NR_EXIT_INTERNAL, "out of memory reading images");
        for (size_t j = 0; j < job.count && rc == 0; j++) {
            if (job.why[j]) {
                if (failed)
                    (*failed)++;
                if (hooks->on_failure)
                    hooks->on_failure(hooks->ctx, first + j, job.why[j]);
                continue;
            }
            memcpy(b.pixels + (size_t)b.n * size, job.pixels + j * size, size);
            b.index[b.n++] = first + j;
            if ((size_t)b.n == max_batch)
                rc = flush(m, &b, hooks, err);
        }
        for (size_t j = 0; j < job.count; j++) {
            free(job.why[j]);
            job.why[j] = NULL;
        }
    }
    if (rc == 0)
        rc = flush(m, &b, hooks, err);
done:
    free(job.pixels);
    free(job.why);
    free(b.pixels);
    free(b.index);
    free(b.outputs);
    free(b.predicted);
    return rc;
}
