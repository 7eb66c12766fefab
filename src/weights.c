/* weights.c - save and load a net's parameters and the model's info (see
 * netrun/weights.h). */
#include "netrun/weights.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/data.h"
#include "netrun/fileio.h"

static const char weights_magic[8] = {'N', 'R', 'W', 'E', 'I', 'G', 'H', 'T'};
enum {
    WEIGHTS_VERSION = 2,
    HEADER_BYTES = 40,
    MAX_CLASSES = 65535,
    MAX_NAME_BYTES = 4096,
    MAX_SIDE = 1 << 20,
};
/* the largest model section: shape, scaling, class count and names */
#define MAX_INFO_BYTES \
    (12 + 8 * NR_WEIGHTS_MAX_CHANNELS + 4 + (size_t)MAX_CLASSES * (2 + MAX_NAME_BYTES))

typedef struct weights_header {
    char magic[8];
    uint32_t version, reserved;
    uint64_t shape_hash, param_count, buffer_count;
} weights_header;

nr_model_info nr_model_info_for(int channels, int height, int width, size_t class_count,
                                char **class_names)
{
    nr_model_info info = {.version = WEIGHTS_VERSION, .channels = channels, .height = height,
                          .width = width, .class_count = class_count,
                          .class_names = class_names};
    for (int c = 0; c < NR_WEIGHTS_MAX_CHANNELS; c++)
        info.pixel_scale[c] = NR_PIXEL_SCALE;
    return info;
}

void nr_model_info_free(nr_model_info *info)
{
    free(info->class_names);
    memset(info, 0, sizeof *info);
}

/* ---------------------------------------------------------------- writing */

typedef struct out_buf {
    char *data;
    size_t len;
} out_buf;

static void put(out_buf *b, const void *src, size_t n)
{
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

static size_t info_bytes(const nr_model_info *info)
{
    size_t n = 12 + 8 * (size_t)info->channels + 4;
    for (size_t i = 0; i < info->class_count; i++)
        n += 2 + strlen(info->class_names[i]);
    return n;
}

int nr_weights_save(const char *path, nr_net *net, uint64_t shape_hash,
                    const nr_model_info *info, nr_error *err)
{
    if (info->channels < 1 || info->channels > NR_WEIGHTS_MAX_CHANNELS ||
        info->class_count < 1 || info->class_count > MAX_CLASSES)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot record a model of %d "
                       "channels and %zu classes", path, info->channels, info->class_count);
    for (size_t i = 0; i < info->class_count; i++)
        if (strlen(info->class_names[i]) > MAX_NAME_BYTES)
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: class name '%.40s...' is longer "
                           "than %d bytes", path, info->class_names[i], MAX_NAME_BYTES);
    size_t params = nr_net_param_count(net), buffers = nr_net_buffer_count(net);
    size_t len = HEADER_BYTES + info_bytes(info) + (params + buffers) * sizeof(float) +
                 sizeof(uint64_t);
    out_buf b = {malloc(len), 0};
    if (!b.data)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    weights_header header = {.version = WEIGHTS_VERSION,
                             .shape_hash = shape_hash,
                             .param_count = params,
                             .buffer_count = buffers};
    memcpy(header.magic, weights_magic, sizeof header.magic);
    put(&b, &header, HEADER_BYTES);
    const int32_t shape[3] = {info->channels, info->height, info->width};
    put(&b, shape, sizeof shape);
    put(&b, info->pixel_scale, (size_t)info->channels * sizeof(float));
    put(&b, info->pixel_shift, (size_t)info->channels * sizeof(float));
    const uint32_t classes = (uint32_t)info->class_count;
    put(&b, &classes, sizeof classes);
    for (size_t i = 0; i < info->class_count; i++) {
        const uint16_t n = (uint16_t)strlen(info->class_names[i]);
        put(&b, &n, sizeof n);
        put(&b, info->class_names[i], n);
    }
    put(&b, nr_net_params(net), params * sizeof(float));
    put(&b, nr_net_buffers(net), buffers * sizeof(float));
    uint64_t checksum = nr_fnv1a(NR_FNV_OFFSET, b.data, b.len);
    put(&b, &checksum, sizeof checksum);
    int status = nr_write_file_atomic(path, b.data, b.len, err);
    free(b.data);
    return status;
}

/* ---------------------------------------------------------------- reading */

/* Up to max bytes from the start of the file. */
static int read_prefix(const char *path, size_t max, char **data, size_t *len, nr_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read: %s", path, strerror(errno));
    *data = malloc(max);
    if (!*data) {
        fclose(fp);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    *len = fread(*data, 1, max, fp);
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(*data);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read", path);
    }
    return 0;
}

typedef struct in_buf {
    const char *data;
    size_t len, at;
} in_buf;

static bool take(in_buf *b, void *dst, size_t n)
{
    if (b->len - b->at < n)
        return false;
    memcpy(dst, b->data + b->at, n);
    b->at += n;
    return true;
}

/* The header and the model section of data[0..len); *end: where the
 * parameters start. */
static int parse(const char *path, const char *data, size_t len, weights_header *header,
                 nr_model_info *info, size_t *end, nr_error *err)
{
    memset(info, 0, sizeof *info);
    in_buf b = {data, len, 0};
    if (!take(&b, header, HEADER_BYTES))
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: not a netrun weights file (too short)",
                       path);
    if (memcmp(header->magic, weights_magic, sizeof header->magic) != 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: not a netrun weights file (bad magic)",
                       path);
    if (header->version != 1 && header->version != WEIGHTS_VERSION)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: weights format version %u; this netrun reads versions 1 "
                       "and %d", path, header->version, WEIGHTS_VERSION);
    info->version = (int)header->version;
    if (header->version == 1) {
        *end = b.at;
        return 0;
    }
    int32_t shape[3];
    uint32_t classes;
    if (!take(&b, shape, sizeof shape))
        goto truncated;
    if (shape[0] < 1 || shape[0] > NR_WEIGHTS_MAX_CHANNELS || shape[1] < 1 ||
        shape[1] > MAX_SIDE || shape[2] < 1 || shape[2] > MAX_SIDE)
        goto corrupt;
    info->channels = shape[0];
    info->height = shape[1];
    info->width = shape[2];
    size_t scaling = (size_t)info->channels * sizeof(float);
    if (!take(&b, info->pixel_scale, scaling) || !take(&b, info->pixel_shift, scaling) ||
        !take(&b, &classes, sizeof classes))
        goto truncated;
    if (classes < 1 || classes > MAX_CLASSES)
        goto corrupt;
    /* the names: measure, then one block of pointers + strings */
    size_t names_at = b.at, bytes = 0;
    for (uint32_t i = 0; i < classes; i++) {
        uint16_t n;
        if (!take(&b, &n, sizeof n) || b.len - b.at < n)
            goto truncated;
        if (n == 0 || n > MAX_NAME_BYTES || memchr(b.data + b.at, '\0', n))
            goto corrupt;
        b.at += n;
        bytes += (size_t)n + 1;
    }
    info->class_names = malloc(classes * sizeof(char *) + bytes);
    if (!info->class_names)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    char *text = (char *)(info->class_names + classes);
    b.at = names_at;
    for (uint32_t i = 0; i < classes; i++) {
        uint16_t n = 0;
        take(&b, &n, sizeof n);
        take(&b, text, n);
        text[n] = '\0';
        info->class_names[i] = text;
        text += n + 1;
    }
    info->class_count = classes;
    *end = b.at;
    return 0;
truncated:
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is truncated (in its model "
                   "section)", path);
corrupt:
    nr_model_info_free(info);
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is corrupt (its model "
                   "section)", path);
}

int nr_weights_read_info(const char *path, nr_model_info *info, nr_error *err)
{
    char *data;
    size_t len, end;
    weights_header header;
    if (read_prefix(path, HEADER_BYTES + MAX_INFO_BYTES, &data, &len, err) != 0)
        return -1;
    int status = parse(path, data, len, &header, info, &end, err);
    free(data);
    return status;
}

int nr_weights_load(const char *path, nr_net *net, uint64_t shape_hash, nr_model_info *info_out,
                    nr_error *err)
{
    size_t params = nr_net_param_count(net), buffers = nr_net_buffer_count(net);
    nr_model_info info;
    char *data;
    size_t len, info_end;
    weights_header header;
    /* the header and model section first, so that a file of another network
     * is named as such whatever its size */
    if (read_prefix(path, HEADER_BYTES + MAX_INFO_BYTES, &data, &len, err) != 0)
        return -1;
    int status = parse(path, data, len, &header, &info, &info_end, err);
    free(data);
    if (status != 0)
        return -1;
    if (header.shape_hash != shape_hash || header.param_count != params ||
        header.buffer_count != buffers) {
        nr_model_info_free(&info);
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: weights are for another network (%llu parameters, shape hash "
                       "%016llx); this spec's network has %zu parameters, hash %016llx",
                       path, (unsigned long long)header.param_count,
                       (unsigned long long)header.shape_hash, params,
                       (unsigned long long)shape_hash);
    }
    size_t expected = info_end + (params + buffers) * sizeof(float) + sizeof(uint64_t);
    if (nr_read_file(path, expected, &data, &len, err) != 0) {
        if (err && strstr(err->message, "more than"))
            nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is longer than the %zu bytes "
                    "its header announces (corrupt?)", path, expected);
        nr_model_info_free(&info);
        return -1;
    }
    status = -1;
    uint64_t checksum;
    if (len != expected) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is %zu bytes, expected %zu "
                "(truncated?)", path, len, expected);
    } else {
        memcpy(&checksum, data + len - sizeof checksum, sizeof checksum);
        if (checksum != nr_fnv1a(NR_FNV_OFFSET, data, len - sizeof checksum)) {
            nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is corrupt (checksum)", path);
        } else {
            memcpy(nr_net_params(net), data + info_end, params * sizeof(float));
            memcpy(nr_net_buffers(net), data + info_end + params * sizeof(float),
                   buffers * sizeof(float));
            status = 0;
        }
    }
    free(data);
    if (status == 0 && info_out)
        *info_out = info;
    else
        nr_model_info_free(&info);
    return status;
}
