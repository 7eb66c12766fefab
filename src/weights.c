/* weights.c - save and load a net's parameters (see netrun/weights.h). */
#include "netrun/weights.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrun/fileio.h"

static const char weights_magic[8] = {'N', 'R', 'W', 'E', 'I', 'G', 'H', 'T'};
enum { WEIGHTS_VERSION = 1, HEADER_BYTES = 40 };

typedef struct weights_header {
    char magic[8];
    uint32_t version, reserved;
    uint64_t shape_hash, param_count, buffer_count;
} weights_header;

int nr_weights_save(const char *path, nr_net *net, uint64_t shape_hash, nr_error *err)
{
    size_t params = nr_net_param_count(net), buffers = nr_net_buffer_count(net);
    size_t len = HEADER_BYTES + (params + buffers) * sizeof(float) + sizeof(uint64_t);
    char *data = malloc(len);
    if (!data)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    weights_header header = {.version = WEIGHTS_VERSION,
                             .shape_hash = shape_hash,
                             .param_count = params,
                             .buffer_count = buffers};
    memcpy(header.magic, weights_magic, sizeof header.magic);
    memcpy(data, &header, HEADER_BYTES);
    char *at = data + HEADER_BYTES;
    memcpy(at, nr_net_params(net), params * sizeof(float));
    at += params * sizeof(float);
    memcpy(at, nr_net_buffers(net), buffers * sizeof(float));
    at += buffers * sizeof(float);
    uint64_t checksum = nr_fnv1a(NR_FNV_OFFSET, data, (size_t)(at - data));
    memcpy(at, &checksum, sizeof checksum);
    int status = nr_write_file_atomic(path, data, len, err);
    free(data);
    return status;
}

/* Reads and checks the header, so that a file of another network is named as
 * such whatever its size. */
static int check_header(const char *path, uint64_t shape_hash, size_t params, size_t buffers,
                        nr_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read: %s", path, strerror(errno));
    weights_header header;
    size_t got = fread(&header, 1, HEADER_BYTES, fp);
    fclose(fp);
    if (got < HEADER_BYTES)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: not a netrun weights file (too short)",
                       path);
    if (memcmp(header.magic, weights_magic, sizeof header.magic) != 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: not a netrun weights file (bad magic)",
                       path);
    if (header.version != WEIGHTS_VERSION)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: weights format version %u; this netrun reads %d", path,
                       header.version, WEIGHTS_VERSION);
    if (header.shape_hash != shape_hash || header.param_count != params ||
        header.buffer_count != buffers)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: weights are for another network (%llu parameters, shape hash "
                       "%016llx); this spec's network has %zu parameters, hash %016llx",
                       path, (unsigned long long)header.param_count,
                       (unsigned long long)header.shape_hash, params,
                       (unsigned long long)shape_hash);
    return 0;
}

int nr_weights_load(const char *path, nr_net *net, uint64_t shape_hash, nr_error *err)
{
    size_t params = nr_net_param_count(net), buffers = nr_net_buffer_count(net);
    size_t expected = HEADER_BYTES + (params + buffers) * sizeof(float) + sizeof(uint64_t);
    if (check_header(path, shape_hash, params, buffers, err) != 0)
        return -1;
    char *data;
    size_t len;
    if (nr_read_file(path, expected, &data, &len, err) != 0) {
        if (err && strstr(err->message, "more than"))
            nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is longer than the %zu bytes "
                    "its header announces (corrupt?)", path, expected);
        return -1;
    }
    int status = -1;
    uint64_t checksum;
    if (len != expected) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is %zu bytes, expected %zu "
                "(truncated?)", path, len, expected);
    } else {
        memcpy(&checksum, data + len - sizeof checksum, sizeof checksum);
        if (checksum != nr_fnv1a(NR_FNV_OFFSET, data, len - sizeof checksum)) {
            nr_fail(err, NR_EXIT_INPUT, "%s: error: weights file is corrupt (checksum)", path);
        } else {
            memcpy(nr_net_params(net), data + HEADER_BYTES, params * sizeof(float));
            memcpy(nr_net_buffers(net), data + HEADER_BYTES + params * sizeof(float),
                   buffers * sizeof(float));
            status = 0;
        }
    }
    free(data);
    return status;
}
