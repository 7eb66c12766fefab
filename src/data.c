/* data.c - class-folder PNG datasets: scan, parallel decode, decoded cache.
 *
 * A load runs in three steps:
 *   1. scan: list ROOT's class folders and their files (readdir + fstatat
 *      only, no file is opened) and compute a fingerprint over every relative
 *      path, size and mtime;
 *   2. if ROOT/.netrun-cache exists and its fingerprint, names and labels match
 *      the scan and its checksum is right, read the pixels from it;
 *   3. otherwise decode every PNG with a few threads and write a fresh cache
 *      (nr_atomic_open/commit of netrun/fileio.h, then an fsync of ROOT;
 *      failures to write are ignored).
 *
 * Ownership inside nr_dataset: class_names and files are each ONE allocation
 * (the pointer array followed by the NUL-terminated strings, back to back), so
 * nr_dataset_free frees them with one free() each. The strings region doubles
 * as the byte blob stored in (and compared against) the cache.
 *
 * Cache file format (all integers little-endian):
 *   offset  0  "NRCACHE1"
 *           8  u32 version (CACHE_VERSION)
 *          12  u32 channels, 16 u32 height, 20 u32 width
 *          24  u64 fingerprint of the scan
 *          32  u64 count,  40 u64 class_count
 *          48  u64 bytes of class names,  56 u64 bytes of file names
 *          64  u64 checksum of the payload
 *          72  u64 checksum of bytes 0..71
 *          80  payload: class names (each NUL-terminated), file names (each
 *              NUL-terminated), count u16 labels, count*C*H*W pixels (CHW).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "netrun/data.h"
#include "netrun/fileio.h"

#define MAX_CLASSES 65535u
#define MAX_IMAGES 100000000u
#define MAX_THREADS 256
#define CACHE_NAME ".netrun-cache"
#define CACHE_MAGIC "NRCACHE1"
#define CACHE_VERSION 1u
#define CACHE_HEADER 80u

/* ------------------------------------------------------------ small helpers */

static int host_is_le(void)
{
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;
    if (host_is_le()) { /* folded to a plain load by the compiler */
        memcpy(&v, p, 8);
        return v;
    }
    v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void store_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Fast checksum for the cache payload: four independent lanes over 64-bit
 * little-endian words; every step is a bijection of the lane state, so any
 * single changed word changes the result. Not cryptographic. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t checksum(uint64_t seed, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h[4] = {seed ^ 0x9e3779b97f4a7c15ull, seed ^ 0xbf58476d1ce4e5b9ull,
                     seed ^ 0x94d049bb133111ebull, seed ^ 0x2545f4914f6cdd1dull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; j++) {
            uint64_t w = load_le64(p + i + 8 * (size_t)j);
            h[j] = (h[j] ^ w) * NR_FNV_PRIME;
            h[j] ^= h[j] >> 32;
        }
    }
    uint64_t t = nr_fnv1a(NR_FNV_OFFSET, p + i, n - i);
    uint64_t r = mix64(h[0]) ^ mix64(h[1] + 1) * 3 ^ mix64(h[2] + 2) * 5 ^
                 mix64(h[3] + 3) * 7 ^ mix64(t) * 9;
    return mix64(r ^ (uint64_t)n);
}

/* ROOT without trailing slashes ("/" stays "/"); malloc'd. */
static char *clean_root(const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, root, n);
        s[n] = '\0';
    }
    return s;
}

static int ends_with_component(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    if (n < m || strcmp(path + n - m, suffix) != 0)
        return 0;
    return n == m || path[n - m - 1] == '/';
}

/* The tool that makes DATASET (data/DATASET, its Train or Test) on a fresh
 * machine, or NULL for a folder no tool makes. */
static const char *dataset_tool(const char *root)
{
    static const struct { const char *dataset, *tool; } made[] = {
        {"mnist", "tools/fetch-mnist"},
        {"synth_cifar", "tools/make-synth-cifar"},
    };
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "data/%s", made[i].dataset);
        if (ends_with_component(root, path))
            return made[i].tool;
        const char *splits[] = {"Train", "Test"};
        for (size_t j = 0; j < 2; j++) {
            snprintf(path, sizeof path, "data/%s/%s", made[i].dataset, splits[j]);
            if (ends_with_component(root, path))
                return made[i].tool;
        }
    }
    return NULL;
}

static int root_missing(const char *root, int e, nr_error *err)
{
    const char *tool = dataset_tool(root);
    if (e == ENOENT && tool)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: dataset folder not found; run %s first",
                       root, tool);
    if (e == ENOENT)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: dataset folder not found; expected a folder of "
                       "class folders (%s/<class>/<image>.png)", root, root);
    if (e == ENOTDIR)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: not a folder; expected a folder of class folders "
                       "(%s/<class>/<image>.png)", root, root);
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot open dataset folder: %s",
                   root, strerror(e));
}

/* ------------------------------------------------------------ directory lists */

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

static void name_list_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the non-hidden entries of the open directory fd (which it takes over
 * and closes), sorted by strcmp. Returns 0, or an errno value. */
static int list_dir(int fd, name_list *out)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return e;
    }
    out->names = NULL;
    out->n = out->cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0) {
                int e = errno;
                closedir(d);
                name_list_free(out);
                return e;
            }
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            char **nn = realloc(out->names, cap * sizeof *nn);
            if (!nn) {
                closedir(d);
                name_list_free(out);
                return ENOMEM;
            }
            out->names = nn;
            out->cap = cap;
        }
        out->names[out->n] = strdup(de->d_name);
        if (!out->names[out->n]) {
            closedir(d);
            name_list_free(out);
            return ENOMEM;
        }
        out->n++;
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->names, out->n, sizeof *out->names, cmp_str);
    return 0;
}

/* ------------------------------------------------------------ scan */

/* One block: n pointers followed by the strings back to back; *blob_bytes is
 * the size of the strings region (which starts at block[0]). */
static char **pack_strings(char *const *strs, size_t n, size_t *blob_bytes)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(strs[i]) + 1;
    char **block = malloc(n * sizeof(char *) + bytes + 1);
    if (!block)
        return NULL;
    char *p = (char *)(block + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(strs[i]) + 1;
        memcpy(p, strs[i], len);
        block[i] = p;
        p += len;
    }
    *blob_bytes = bytes;
    return block;
}

typedef struct scan_result {
    char *root;             /* cleaned root */
    size_t class_count;
    char **class_names;     /* packed block */
    size_t names_bytes;
    size_t count;
    char **files;           /* packed block of "class/file.png" */
    size_t files_bytes;
    uint16_t *labels;
    uint64_t fingerprint;
} scan_result;

static void scan_free(scan_result *s)
{
    free(s->root);
    free(s->class_names);
    free(s->files);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* growable byte buffer for the packed file names */
typedef struct strbuf {
    char *data;
    size_t len, cap;
} strbuf;

static int strbuf_add(strbuf *b, const char *s1, const char *s2)
{
    size_t n1 = strlen(s1), n2 = strlen(s2), need = n1 + 1 + n2 + 1;
    if (b->len + need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + need)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s1, n1);
    b->data[b->len + n1] = '/';
    memcpy(b->data + b->len + n1 + 1, s2, n2 + 1);
    b->len += need;
    return 0;
}

/* Opens ROOT as a directory or fails with the hint. */
static int open_root(const char *root, int *fd, nr_error *err)
{
    *fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return root_missing(root, errno, err);
    return 0;
}

/* Lists ROOT's class folders (sorted). Non-folder entries are errors. */
static int list_classes(const char *root, int rfd, name_list *classes, nr_error *err)
{
    int dfd = dup(rfd);
    if (dfd < 0)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: dup: %s", root,
                       strerror(errno));
    int e = list_dir(dfd, classes);
    if (e)
        return nr_fail(err, e == ENOMEM ? NR_EXIT_INTERNAL : NR_EXIT_INPUT,
                       "%s: error: cannot list dataset folder: %s", root, strerror(e));
    for (size_t i = 0; i < classes->n; i++) {
        struct stat st;
        if (fstatat(rfd, classes->names[i], &st, 0) != 0) {
            e = errno;
            nr_fail(err, NR_EXIT_INPUT, "%s/%s: error: cannot stat: %s", root,
                    classes->names[i], strerror(e));
            name_list_free(classes);
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            nr_fail(err, NR_EXIT_INPUT,
                    "%s/%s: error: not a class folder; a dataset folder must contain "
                    "only class folders (%s/<class>/<image>.png; names starting with "
                    "'.' are ignored)", root, classes->names[i], root);
            name_list_free(classes);
            return -1;
        }
    }
    if (classes->n == 0) {
        name_list_free(classes);
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: no class folders; expected %s/<class>/<image>.png",
                       root, root);
    }
    if (classes->n > MAX_CLASSES) {
        size_t n = classes->n;
        name_list_free(classes);
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: %zu class folders; at most %u are supported", root, n,
                       MAX_CLASSES);
    }
    return 0;
}

/* Lists one class folder: sorted, non-hidden, every entry a regular .png file.
 * When fp != NULL, also folds each file's path, size and mtime into *fp. */
static int list_class(const char *root, int rfd, const char *cls, name_list *files,
                      uint64_t *fp, nr_error *err)
{
    int cfd = openat(rfd, cls, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s/%s: error: cannot open class folder: %s",
                       root, cls, strerror(errno));
    int dfd = dup(cfd);
    if (dfd < 0) {
        int e = errno;
        close(cfd);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s/%s: error: dup: %s", root, cls,
                       strerror(e));
    }
    int e = list_dir(dfd, files);
    if (e) {
        close(cfd);
        return nr_fail(err, e == ENOMEM ? NR_EXIT_INTERNAL : NR_EXIT_INPUT,
                       "%s/%s: error: cannot list class folder: %s", root, cls,
                       strerror(e));
    }
    if (files->n == 0) {
        close(cfd);
        name_list_free(files);
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s/%s: error: class folder has no images; every class folder "
                       "needs at least one .png file (or remove the folder)", root, cls);
    }
    for (size_t i = 0; i < files->n; i++) {
        const char *name = files->names[i];
        struct stat st;
        if (fstatat(cfd, name, &st, 0) != 0) {
            e = errno;
            nr_fail(err, NR_EXIT_INPUT, "%s/%s/%s: error: cannot stat: %s", root, cls,
                    name, strerror(e));
            goto fail;
        }
        if (!S_ISREG(st.st_mode) || nr_image_format_of(name) == NR_IMAGE_NONE) {
            nr_fail(err, NR_EXIT_INPUT,
                    "%s/%s/%s: error: %s; class folders may contain only "
                    NR_IMAGE_SUFFIXES " images (names starting with '.' are ignored)",
                    root, cls, name,
                    S_ISDIR(st.st_mode)    ? "a folder, not an image file"
                    : !S_ISREG(st.st_mode) ? "not a regular file (a device, FIFO or socket)"
                                           : "not an image file");
            goto fail;
        }
        if (fp) {
            uint64_t h = *fp;
            h = nr_fnv1a(h, cls, strlen(cls));
            h = nr_fnv1a(h, "/", 1);
            h = nr_fnv1a(h, name, strlen(name) + 1);
            h = nr_fnv1a_u64(h, (uint64_t)st.st_size);
            h = nr_fnv1a_u64(h, (uint64_t)st.st_mtim.tv_sec);
            h = nr_fnv1a_u64(h, (uint64_t)st.st_mtim.tv_nsec);
            *fp = h;
        }
    }
    close(cfd);
    return 0;
fail:
    close(cfd);
    name_list_free(files);
    return -1;
}

static int scan(const char *root_arg, scan_result *s, nr_error *err)
{
    memset(s, 0, sizeof *s);
    s->root = clean_root(root_arg);
    if (!s->root)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root_arg);
    const char *root = s->root;
    int rfd;
    if (open_root(root, &rfd, err) != 0) {
        scan_free(s);
        return -1;
    }
    name_list classes = {0};
    if (list_classes(root, rfd, &classes, err) != 0) {
        close(rfd);
        scan_free(s);
        return -1;
    }
    strbuf paths = {0};
    size_t lab_cap = 0;
    uint64_t fp = nr_fnv1a_u64(NR_FNV_OFFSET, CACHE_VERSION);
    for (size_t c = 0; c < classes.n; c++) {
        name_list files = {0};
        if (list_class(root, rfd, classes.names[c], &files, &fp, err) != 0)
            goto fail;
        if (s->count + files.n > MAX_IMAGES) {
            name_list_free(&files);
            nr_fail(err, NR_EXIT_INPUT,
                    "%s: error: more than %u images; at most %u are supported", root,
                    MAX_IMAGES, MAX_IMAGES);
            goto fail;
        }
        if (s->count + files.n > lab_cap) {
            size_t cap = lab_cap ? lab_cap : 1024;
            while (cap < s->count + files.n)
                cap *= 2;
            uint16_t *nl = realloc(s->labels, cap * sizeof *nl);
            if (!nl) {
                name_list_free(&files);
                nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
                goto fail;
            }
            s->labels = nl;
            lab_cap = cap;
        }
        for (size_t i = 0; i < files.n; i++) {
            if (strbuf_add(&paths, classes.names[c], files.names[i]) != 0) {
                name_list_free(&files);
                nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
                goto fail;
            }
            s->labels[s->count++] = (uint16_t)c;
        }
        name_list_free(&files);
    }
    close(rfd);
    rfd = -1;

    s->class_names = pack_strings(classes.names, classes.n, &s->names_bytes);
    s->class_count = classes.n;
    name_list_free(&classes);
    s->files = malloc(s->count * sizeof(char *) + paths.len + 1);
    if (!s->class_names || !s->files) {
        free(paths.data);
        scan_free(s);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root_arg);
    }
    char *p = (char *)(s->files + s->count);
    memcpy(p, paths.data, paths.len);
    free(paths.data);
    for (size_t i = 0; i < s->count; i++) {
        s->files[i] = p;
        p += strlen(p) + 1;
    }
    s->files_bytes = paths.len;
    s->fingerprint = fp;
    return 0;
fail:
    if (rfd >= 0)
        close(rfd);
    name_list_free(&classes);
    free(paths.data);
    scan_free(s);
    return -1;
}

/* ------------------------------------------------------------ cache */

static int read_full(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t r = read(fd, p, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Labels as little-endian bytes: the array itself on little-endian hosts,
 * else a swapped copy (*tofree set). */
static const unsigned char *labels_le(const uint16_t *labels, size_t n,
                                      unsigned char **tofree)
{
    *tofree = NULL;
    if (host_is_le())
        return (const unsigned char *)labels;
    unsigned char *b = malloc(2 * n + 1);
    if (!b)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        b[2 * i] = (unsigned char)(labels[i] & 0xff);
        b[2 * i + 1] = (unsigned char)(labels[i] >> 8);
    }
    *tofree = b;
    return b;
}

static uint64_t payload_checksum(const void *names, size_t nb, const void *files,
                                 size_t fb, const void *labels, size_t lb,
                                 const void *pixels, size_t pb)
{
    uint64_t h = checksum(1, names, nb);
    h = checksum(h, files, fb);
    h = checksum(h, labels, lb);
    h = checksum(h, pixels, pb);
    return h;
}

/* Tries the cache; 0 with ds->pixels and dims filled on a hit, -1 on any miss
 * (never an error for the caller). */
static int cache_read(const scan_result *s, nr_dataset *ds)
{
    char *path = nr_path_join(s->root, CACHE_NAME);
    if (!path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return -1;
    unsigned char h[CACHE_HEADER];
    unsigned char *names = NULL, *labels = NULL, *lab_tmp = NULL;
    uint8_t *pixels = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || read_full(fd, h, sizeof h) != 0)
        goto miss;
    if (memcmp(h, CACHE_MAGIC, 8) != 0 || load_le32(h + 8) != CACHE_VERSION ||
        load_le64(h + 72) != checksum(2, h, 72))
        goto miss;
    uint32_t c = load_le32(h + 12), hh = load_le32(h + 16), w = load_le32(h + 20);
    uint64_t fpr = load_le64(h + 24), count = load_le64(h + 32),
             ncls = load_le64(h + 40), nb = load_le64(h + 48), fb = load_le64(h + 56),
             sum = load_le64(h + 64);
    if (fpr != s->fingerprint || count != s->count || ncls != s->class_count ||
        nb != s->names_bytes || fb != s->files_bytes)
        goto miss;
    if ((c != 1 && c != 3) || hh < 1 || hh > 16384 || w < 1 || w > 16384)
        goto miss;
    size_t chw = (size_t)c * hh * w;
    if (count > SIZE_MAX / chw)
        goto miss;
    size_t pb = (size_t)count * chw, lb = 2 * (size_t)count;
    if ((uint64_t)st.st_size != CACHE_HEADER + nb + fb + lb + pb)
        goto miss;
    names = malloc(nb + fb + 1);
    labels = malloc(lb + 1);
    pixels = malloc(pb);
    if (!names || !labels || !pixels)
        goto miss;
    if (read_full(fd, names, nb + fb) != 0 || read_full(fd, labels, lb) != 0 ||
        read_full(fd, pixels, pb) != 0)
        goto miss;
    if (memcmp(names, s->class_names[0], nb) != 0 ||
        memcmp(names + nb, s->files[0], fb) != 0)
        goto miss;
    const unsigned char *want = labels_le(s->labels, s->count, &lab_tmp);
    if (!want || memcmp(labels, want, lb) != 0)
        goto miss;
    if (payload_checksum(names, nb, names + nb, fb, labels, lb, pixels, pb) != sum)
        goto miss;
    close(fd);
    free(names);
    free(labels);
    free(lab_tmp);
    ds->pixels = pixels;
    ds->channels = (int)c;
    ds->height = (int)hh;
    ds->width = (int)w;
    return 0;
miss:
    close(fd);
    free(names);
    free(labels);
    free(lab_tmp);
    free(pixels);
    return -1;
}

/* Writes ROOT/.netrun-cache atomically; failures are ignored (returns -1). */
static int cache_write(const scan_result *s, const nr_dataset *ds)
{
    unsigned char *lab_tmp = NULL;
    const unsigned char *lab = labels_le(s->labels, s->count, &lab_tmp);
    if (!lab)
        return -1;
    size_t chw = (size_t)ds->channels * (size_t)ds->height * (size_t)ds->width;
    size_t pb = s->count * chw, lb = 2 * s->count;
    unsigned char h[CACHE_HEADER];
    memcpy(h, CACHE_MAGIC, 8);
    store_le32(h + 8, CACHE_VERSION);
    store_le32(h + 12, (uint32_t)ds->channels);
    store_le32(h + 16, (uint32_t)ds->height);
    store_le32(h + 20, (uint32_t)ds->width);
    store_le64(h + 24, s->fingerprint);
    store_le64(h + 32, s->count);
    store_le64(h + 40, s->class_count);
    store_le64(h + 48, s->names_bytes);
    store_le64(h + 56, s->files_bytes);
    store_le64(h + 64, payload_checksum(s->class_names[0], s->names_bytes, s->files[0],
                                        s->files_bytes, lab, lb, ds->pixels, pb));
    store_le64(h + 72, checksum(2, h, 72));

    char *final = nr_path_join(s->root, CACHE_NAME);
    int rc = -1;
    nr_atomic_file file;
    nr_error ignored;
    if (!final || nr_atomic_open(&file, final, &ignored) != 0)
        goto out;
    if (fwrite(h, 1, sizeof h, file.fp) != sizeof h ||
        fwrite(s->class_names[0], 1, s->names_bytes, file.fp) != s->names_bytes ||
        fwrite(s->files[0], 1, s->files_bytes, file.fp) != s->files_bytes ||
        fwrite(lab, 1, lb, file.fp) != lb || fwrite(ds->pixels, 1, pb, file.fp) != pb) {
        nr_atomic_abort(&file);
        goto out;
    }
    if (nr_atomic_commit(&file, &ignored) != 0)
        goto out;
    /* the rename itself durable too */
    int dfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    free(final);
    free(lab_tmp);
    return rc;
}

/* ------------------------------------------------------------ decode */

typedef struct decode_ctx {
    const scan_result *s;
    const nr_image_prep *prep;   /* NULL: as stored */
    const char *first_path;      /* image 0, for the size message */
    int channels, height, width;
    size_t chw;
    uint8_t *pixels;
    atomic_size_t min_err;       /* lowest failing index so far (SIZE_MAX: none) */
} decode_ctx;

typedef struct decode_part {
    decode_ctx *ctx;
    size_t begin, end;
    size_t err_index;            /* SIZE_MAX if this range decoded fully */
    nr_error err;
} decode_part;

static void note_error(decode_ctx *ctx, size_t i)
{
    size_t cur = atomic_load(&ctx->min_err);
    while (i < cur && !atomic_compare_exchange_weak(&ctx->min_err, &cur, i))
        ;
}

/* Decodes image i into its slot; 0 or -1 with err filled. */
static int decode_one(decode_ctx *ctx, size_t i, nr_error *err)
{
    char *path = nr_path_join(ctx->s->root, ctx->s->files[i]);
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", ctx->s->root);
    uint8_t *px = NULL;
    int c, h, w;
    int rc = nr_image_read(path, ctx->prep, &px, &c, &h, &w, err);
    if (rc == 0) {
        if (c != ctx->channels || h != ctx->height || w != ctx->width) {
            /* what the spec can say to make them one shape */
            char fix[160];
            if (c != ctx->channels)
                snprintf(fix, sizeof fix, "set data.channels: %d (or 1) to convert every "
                         "image", ctx->channels == 1 ? 3 : ctx->channels);
            else
                snprintf(fix, sizeof fix, "set data.size: [%d, %d] to resize every image",
                         ctx->height, ctx->width);
            rc = nr_fail(err, NR_EXIT_INPUT,
                         "%s: error: image is %dx%dx%d (channels x height x width) but "
                         "%s is %dx%dx%d; all images of a dataset must have the same "
                         "shape: %s", path, c, h, w, ctx->first_path, ctx->channels,
                         ctx->height, ctx->width, fix);
        } else {
            memcpy(ctx->pixels + i * ctx->chw, px, ctx->chw);
        }
        free(px);
    }
    free(path);
    return rc;
}

static void *decode_worker(void *arg)
{
    decode_part *part = arg;
    decode_ctx *ctx = part->ctx;
    for (size_t i = part->begin; i < part->end; i++) {
        if (i > atomic_load(&ctx->min_err))
            break; /* a lower index already failed; it wins */
        if (decode_one(ctx, i, &part->err) != 0) {
            part->err_index = i;
            note_error(ctx, i);
            break;
        }
    }
    return NULL;
}

static int decode_all(const scan_result *s, const nr_data_options *opts,
                      nr_dataset *ds, nr_error *err)
{
    /* image 0 fixes the shape */
    char *first = nr_path_join(s->root, s->files[0]);
    if (!first)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", s->root);
    uint8_t *px0 = NULL;
    int c, h, w;
    const nr_image_prep *prep = opts ? &opts->prep : NULL;
    if (nr_image_read(first, prep, &px0, &c, &h, &w, err) != 0) {
        free(first);
        return -1;
    }
    size_t chw = (size_t)c * (size_t)h * (size_t)w;
    if (s->count > SIZE_MAX / chw) {
        free(px0);
        free(first);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: dataset too large", s->root);
    }
    uint8_t *pixels = malloc(s->count * chw);
    if (!pixels) {
        free(px0);
        free(first);
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: out of memory for %zu images of %dx%dx%d", s->root,
                       s->count, c, h, w);
    }
    memcpy(pixels, px0, chw);
    free(px0);

    decode_ctx ctx = {.s = s, .prep = prep, .first_path = first, .channels = c, .height = h,
                      .width = w, .chw = chw, .pixels = pixels};
    atomic_init(&ctx.min_err, SIZE_MAX);
    long nt = opts && opts->threads > 0 ? opts->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1)
        nt = 1;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    size_t rest = s->count - 1;
    if ((size_t)nt > rest)
        nt = rest > 0 ? (long)rest : 1;
    decode_part *parts = calloc((size_t)nt, sizeof *parts);
    pthread_t *tids = calloc((size_t)nt, sizeof *tids);
    int *started = calloc((size_t)nt, sizeof *started);
    if (!parts || !tids || !started) {
        free(parts);
        free(tids);
        free(started);
        free(pixels);
        free(first);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", s->root);
    }
    for (long t = 0; t < nt; t++) {
        parts[t].ctx = &ctx;
        parts[t].begin = 1 + rest * (size_t)t / (size_t)nt;
        parts[t].end = 1 + rest * (size_t)(t + 1) / (size_t)nt;
        parts[t].err_index = SIZE_MAX;
    }
    /* thread 0's range runs on this thread; others get their own */
    for (long t = 1; t < nt; t++)
        started[t] = pthread_create(&tids[t], NULL, decode_worker, &parts[t]) == 0;
    decode_worker(&parts[0]);
    for (long t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            decode_worker(&parts[t]); /* could not start a thread: do it here */
    }
    long worst = -1;
    for (long t = 0; t < nt; t++)
        if (parts[t].err_index != SIZE_MAX &&
            (worst < 0 || parts[t].err_index < parts[worst].err_index))
            worst = t;
    int rc = 0;
    if (worst >= 0) {
        if (err)
            *err = parts[worst].err;
        free(pixels);
        rc = -1;
    } else {
        ds->pixels = pixels;
        ds->channels = c;
        ds->height = h;
        ds->width = w;
    }
    free(parts);
    free(tids);
    free(started);
    free(first);
    return rc;
}

/* ------------------------------------------------------------ public API */

int nr_dataset_load(const char *root, const nr_data_options *opts,
                    nr_dataset **out, nr_error *err)
{
    int use_cache = opts ? opts->use_cache : 1;
    scan_result s;
    if (scan(root, &s, err) != 0)
        return -1;
    /* a preparation other than "as stored" is part of what the cache holds
     * (as stored: the fingerprint of caches written before there was one) */
    const nr_image_prep *prep = opts ? &opts->prep : NULL;
    if (prep && (prep->channels || prep->height || prep->width ||
                 prep->alpha != NR_ALPHA_BLACK)) {
        uint64_t fp = nr_fnv1a(s.fingerprint, "prep", 4);
        fp = nr_fnv1a_u64(fp, (uint64_t)prep->channels);
        fp = nr_fnv1a_u64(fp, (uint64_t)prep->height);
        fp = nr_fnv1a_u64(fp, (uint64_t)prep->width);
        fp = nr_fnv1a_u64(fp, (uint64_t)prep->fit);
        fp = nr_fnv1a_u64(fp, (uint64_t)prep->alpha);
        s.fingerprint = fp;
    }
    nr_dataset *ds = calloc(1, sizeof *ds);
    char *root_copy = strdup(root);
    if (!ds || !root_copy) {
        free(ds);
        free(root_copy);
        scan_free(&s);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
    }
    if (use_cache && cache_read(&s, ds) == 0) {
        ds->from_cache = 1;
    } else {
        if (decode_all(&s, opts, ds, err) != 0) {
            free(ds);
            free(root_copy);
            scan_free(&s);
            return -1;
        }
        if (use_cache)
            (void)cache_write(&s, ds);
    }
    ds->root = root_copy;
    for (int c = 0; c < 3; c++) {
        ds->pixel_scale[c] = NR_PIXEL_SCALE;
        ds->pixel_shift[c] = 0.0f;
    }
    ds->count = s.count;
    ds->class_count = s.class_count;
    ds->class_names = s.class_names;
    ds->files = s.files;
    ds->labels = s.labels;
    s.class_names = NULL;
    s.files = NULL;
    s.labels = NULL;
    scan_free(&s);
    *out = ds;
    return 0;
}

void nr_dataset_free(nr_dataset *ds)
{
    if (!ds)
        return;
    free(ds->root);
    free(ds->class_names); /* one block: pointers + strings */
    free(ds->files);       /* one block: pointers + strings */
    free(ds->pixels);
    free(ds->labels);
    free(ds);
}

int nr_dataset_take(nr_dataset *from, const uint32_t *idx, size_t n, const char *root,
                    nr_dataset **out, nr_error *err)
{
    size_t chw = (size_t)from->channels * (size_t)from->height * (size_t)from->width;
    nr_dataset *ds = calloc(1, sizeof *ds);
    char **names = NULL, **files = NULL, **left_files = NULL;
    size_t names_bytes, files_bytes, left_bytes, left = from->count - n;
    char **picked = malloc((n ? n : 1) * sizeof *picked);
    char **kept = malloc((left ? left : 1) * sizeof *kept);
    uint8_t *taken = calloc(from->count ? from->count : 1, 1);
    if (ds && picked && kept && taken) {
        for (size_t i = 0; i < n; i++)
            taken[idx[i]] = 1;
        for (size_t i = 0, a = 0, b = 0; i < from->count; i++) {
            if (taken[i])
                picked[a++] = from->files[i];
            else
                kept[b++] = from->files[i];
        }
        ds->root = strdup(root);
        ds->pixels = malloc(n * chw + 1);
        ds->labels = malloc(n * sizeof *ds->labels + 1);
        names = pack_strings(from->class_names, from->class_count, &names_bytes);
        files = pack_strings(picked, n, &files_bytes);
        left_files = pack_strings(kept, left, &left_bytes);
    }
    if (!ds || !picked || !kept || !taken || !ds->root || !ds->pixels || !ds->labels ||
        !names || !files || !left_files) {
        if (ds) {
            free(ds->root);
            free(ds->pixels);
            free(ds->labels);
        }
        free(ds);
        free(names);
        free(files);
        free(left_files);
        free(picked);
        free(kept);
        free(taken);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
    }
    /* copy the taken images out, then close the gaps in place (in order) */
    size_t a = 0, b = 0;
    for (size_t i = 0; i < from->count; i++) {
        const uint8_t *src = from->pixels + i * chw;
        if (taken[i]) {
            memcpy(ds->pixels + a * chw, src, chw);
            ds->labels[a++] = from->labels[i];
        } else {
            if (b != i) {
                memmove(from->pixels + b * chw, src, chw);
                from->labels[b] = from->labels[i];
            }
            b++;
        }
    }
    ds->count = n;
    ds->channels = from->channels;
    ds->height = from->height;
    ds->width = from->width;
    ds->class_count = from->class_count;
    ds->class_names = names;
    ds->files = files;
    memcpy(ds->pixel_scale, from->pixel_scale, sizeof ds->pixel_scale);
    memcpy(ds->pixel_shift, from->pixel_shift, sizeof ds->pixel_shift);
    free(from->files);
    from->files = left_files;
    from->count = left;
    free(picked);
    free(kept);
    free(taken);
    *out = ds;
    return 0;
}

void nr_dataset_channel_stats(const nr_dataset *ds, const uint32_t *idx, size_t n,
                              double *mean, double *std)
{
    size_t plane = (size_t)ds->height * (size_t)ds->width;
    size_t images = idx ? n : ds->count;
    for (int c = 0; c < ds->channels; c++) {
        uint64_t sum = 0, squares = 0;
        for (size_t k = 0; k < images; k++) {
            size_t i = idx ? idx[k] : k;
            const uint8_t *p = ds->pixels + (i * (size_t)ds->channels + (size_t)c) * plane;
            uint64_t s1 = 0, s2 = 0;
            for (size_t j = 0; j < plane; j++) {
                s1 += p[j];
                s2 += (uint64_t)p[j] * p[j];
            }
            sum += s1;
            squares += s2;
        }
        double count = (double)images * (double)plane;
        double m = count > 0 ? (double)sum / count : 0.0;
        double var = count > 0 ? (double)squares / count - m * m : 0.0;
        mean[c] = m;
        std[c] = var > 0 ? sqrt(var) : 0.0;
    }
}

/* "'a', 'b', 'c' and 4 more" into buf: up to five names of a list. */
static void quote_names(char *const *names, size_t count, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && i < 5 && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s'%s'", i ? ", " : "", names[i]);
    if (count > 5 && at < size)
        snprintf(buf + at, size - at, " and %zu more", count - 5);
}

int nr_class_names_check(const char *path, char *const *expected, size_t expected_count,
                         char *const *found, size_t found_count, const char *expected_from,
                         const char *hint, nr_error *err)
{
    /* both lists are sorted: one merge pass collects what is missing and extra */
    size_t total = expected_count + found_count;
    char **missing = malloc((total ? total : 1) * sizeof *missing);
    if (!missing)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    char **extra = missing + expected_count;
    size_t missing_count = 0, extra_count = 0, i = 0, j = 0;
    while (i < expected_count || j < found_count) {
        int c = i == expected_count ? 1
              : j == found_count    ? -1
                                    : strcmp(expected[i], found[j]);
        if (c < 0)
            missing[missing_count++] = expected[i++];
        else if (c > 0)
            extra[extra_count++] = found[j++];
        else
            i++, j++;
    }
    if (missing_count == 0 && extra_count == 0) {
        free(missing);
        return 0;
    }
    char missing_text[400], extra_text[400];
    quote_names(missing, missing_count, missing_text, sizeof missing_text);
    quote_names(extra, extra_count, extra_text, sizeof extra_text);
    nr_fail(err, NR_EXIT_INPUT,
            "%s: error: its class folders are not those of %s (%zu classes here, %zu "
            "there): %s%s%s%s%s; %s",
            path, expected_from, found_count, expected_count,
            missing_count ? "no folder for " : "", missing_text,
            missing_count && extra_count ? "; " : "", extra_count ? "extra folders " : "",
            extra_text, hint);
    free(missing);
    return -1;
}

/* Train and Test: the same class names. */
static int check_class_pair(const char *train_root, char *const *train_names,
                            size_t train_classes, const char *test_root,
                            char *const *test_names, size_t test_classes, nr_error *err)
{
    return nr_class_names_check(test_root, train_names, train_classes, test_names,
                                test_classes, train_root,
                                "Train and Test need the same class folders", err);
}

int nr_dataset_check_pair(const nr_dataset *train, const nr_dataset *test,
                          nr_error *err)
{
    if (check_class_pair(train->root, train->class_names, train->class_count, test->root,
                         test->class_names, test->class_count, err) != 0)
        return -1;
    if (train->channels != test->channels || train->height != test->height ||
        train->width != test->width)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: images are %dx%dx%d (channels x height x width) but "
                       "those of %s are %dx%dx%d; Train and Test images must have the "
                       "same shape", test->root, test->channels, test->height,
                       test->width, train->root, train->channels, train->height,
                       train->width);
    return 0;
}

int nr_dataset_info_check_pair(const nr_dataset_info *train, const nr_dataset_info *test,
                               nr_error *err)
{
    if (check_class_pair(train->root, train->class_names, train->class_count, test->root,
                         test->class_names, test->class_count, err) != 0)
        return -1;
    /* only the first images are known: name both files */
    if (train->channels != test->channels || train->height != test->height ||
        train->width != test->width)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: this first image of Train is %dx%dx%d (channels x height x "
                       "width) but the first image of Test, %s, is %dx%dx%d; all images of "
                       "Train and Test must have the same shape",
                       train->first_image, train->channels, train->height, train->width,
                       test->first_image, test->channels, test->height, test->width);
    return 0;
}

/* Names the files of class folder `cls` only (no stat: a survey is a
 * listing); *first: its first name (malloc'd) when first != NULL. */
static int count_class(const char *root, int rfd, const char *cls, size_t *count, char **first,
                       nr_error *err)
{
    int cfd = openat(rfd, cls, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s/%s: error: cannot open class folder: %s",
                       root, cls, strerror(errno));
    name_list files = {0};
    int e = list_dir(cfd, &files);
    if (e)
        return nr_fail(err, e == ENOMEM ? NR_EXIT_INTERNAL : NR_EXIT_INPUT,
                       "%s/%s: error: cannot list class folder: %s", root, cls, strerror(e));
    if (files.n == 0)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s/%s: error: class folder has no images; every class folder "
                       "needs at least one .png file (or remove the folder)", root, cls);
    *count = files.n;
    int rc = 0;
    if (first && !(*first = nr_path_join(cls, files.names[0])))
        rc = nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
    name_list_free(&files);
    return rc;
}

int nr_dataset_survey(const char *root, nr_dataset_info *out, nr_error *err)
{
    memset(out, 0, sizeof *out);
    out->root = strdup(root);
    char *clean = clean_root(root), *first = NULL;
    name_list classes = {0};
    int rfd = -1, rc = -1;
    if (!out->root || !clean) {
        nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
        goto done;
    }
    if (open_root(clean, &rfd, err) != 0 || list_classes(clean, rfd, &classes, err) != 0)
        goto done;
    out->class_sizes = calloc(classes.n, sizeof *out->class_sizes);
    if (!out->class_sizes) {
        nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
        goto done;
    }
    for (size_t c = 0; c < classes.n; c++) {
        if (count_class(clean, rfd, classes.names[c], &out->class_sizes[c], c ? NULL : &first,
                        err) != 0)
            goto done;
        out->count += out->class_sizes[c];
    }
    size_t names_bytes;
    out->first_image = nr_path_join(clean, first);
    out->class_names = pack_strings(classes.names, classes.n, &names_bytes);
    if (!out->first_image || !out->class_names) {
        nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
        goto done;
    }
    out->class_count = classes.n;
    rc = nr_image_info(out->first_image, NULL, &out->channels, &out->height, &out->width, err);
done:
    if (rfd >= 0)
        close(rfd);
    name_list_free(&classes);
    free(clean);
    free(first);
    if (rc != 0)
        nr_dataset_info_free(out);
    return rc;
}

void nr_dataset_info_free(nr_dataset_info *info)
{
    free(info->root);
    free(info->class_names); /* one block: pointers + strings */
    free(info->class_sizes);
    free(info->first_image);
    memset(info, 0, sizeof *info);
}

int nr_dataset_probe(const char *root_arg, int *channels, int *height, int *width,
                     nr_error *err)
{
    char *root = clean_root(root_arg);
    if (!root)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root_arg);
    int rfd, rc = -1;
    if (open_root(root, &rfd, err) != 0) {
        free(root);
        return -1;
    }
    name_list classes = {0}, files = {0};
    if (list_classes(root, rfd, &classes, err) != 0)
        goto out;
    if (list_class(root, rfd, classes.names[0], &files, NULL, err) != 0)
        goto out;
    char *rel = nr_path_join(classes.names[0], files.names[0]);
    char *path = rel ? nr_path_join(root, rel) : NULL;
    if (!path)
        nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", root);
    else
        rc = nr_image_info(path, NULL, channels, height, width, err);
    free(rel);
    free(path);
out:
    close(rfd);
    name_list_free(&classes);
    name_list_free(&files);
    free(root);
    return rc;
}

bool nr_class_imbalance(const char *root, char *const *class_names, const size_t *class_sizes,
                        size_t class_count, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (class_count < 2)
        return false;
    size_t big = 0, small = 0;
    for (size_t c = 1; c < class_count; c++) {
        if (class_sizes[c] > class_sizes[big])
            big = c;
        if (class_sizes[c] < class_sizes[small])
            small = c;
    }
    if (class_sizes[big] <= NR_IMBALANCE_RATIO * class_sizes[small])
        return false;
    snprintf(buf, size, "%s: warning: class '%s' has %zu images, %.1fx the %zu of class '%s'; "
             "an imbalance over %dx: consider train.class_weights: balanced",
             root, class_names[big], class_sizes[big],
             class_sizes[small] ? (double)class_sizes[big] / (double)class_sizes[small] : 0.0,
             class_sizes[small], class_names[small], NR_IMBALANCE_RATIO);
    return true;
}

bool nr_dataset_info_bytes(const nr_dataset_info *info, size_t *bytes)
{
    size_t image = (size_t)info->channels * (size_t)info->height * (size_t)info->width;
    if (info->channels < 0 || info->height < 0 || info->width < 0 ||
        (image && info->count > SIZE_MAX / image))
        return false;
    *bytes = info->count * image;
    return true;
}

/* "N images x CxHxW = X GiB" of one dataset into buf. */
static void describe_pixels(const nr_dataset_info *info, bool fits, size_t bytes, char *buf,
                            size_t size)
{
    if (fits)
        snprintf(buf, size, "%s: %zu images x %dx%dx%d bytes = %.1f GiB", info->root,
                 info->count, info->channels, info->height, info->width,
                 (double)bytes / (1u << 30));
    else
        snprintf(buf, size, "%s: %zu images x %dx%dx%d bytes = more than 16 EiB", info->root,
                 info->count, info->channels, info->height, info->width);
}

int nr_dataset_check_memory(const nr_dataset_info *train, const nr_dataset_info *test,
                            double physical, nr_error *err)
{
    const nr_dataset_info *sets[2] = {train, test && test->root ? test : NULL};
    double total = 0.0;
    bool overflow = false;
    char parts[2][1200] = {"", ""};
    for (int i = 0; i < 2; i++) {
        if (!sets[i])
            continue;
        size_t bytes = 0;
        bool fits = nr_dataset_info_bytes(sets[i], &bytes);
        overflow = overflow || !fits;
        total += (double)bytes;
        describe_pixels(sets[i], fits, bytes, parts[i], sizeof parts[i]);
    }
    if (physical <= 0.0 || (!overflow && total <= physical))
        return 0;
    char need[64];
    if (overflow)
        snprintf(need, sizeof need, "more than 16 EiB");
    else
        snprintf(need, sizeof need, "%.1f GiB", total / (1u << 30));
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: the data does not fit in memory: its pixels, kept as uint8, "
                   "need %s (%s%s%s; the first image's shape) but this machine has %.1f GiB; "
                   "use fewer or smaller images",
                   train ? train->root : test->root, need, parts[0], parts[1][0] ? "; " : "",
                   parts[1], physical / (1u << 30));
}
