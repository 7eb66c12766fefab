/* mnist-idx2png - converts the four MNIST IDX files into class folders of PNGs:
 *
 *   OUT/Train/<digit>/NNNN.png   60000 images
 *   OUT/Test/<digit>/NNNN.png    10000 images
 *
 * NNNN is the 4-digit, zero-padded index of the image within its class, from
 * 0000, in IDX order. The IDX magic numbers, dimensions, file sizes, label
 * range and per-class counts are checked before anything is written. Output
 * goes to OUT.tmp-<pid> and is renamed to OUT only when complete, so a failed
 * run never leaves a half-written OUT.
 *
 * Exit status: 0 ok, 1 internal error, 2 bad input (missing or wrong IDX
 * files, OUT already exists, unwritable output).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "netrun/data.h"
#include "netrun/error.h"

#define PROG "mnist-idx2png"
#define SIDE 28
#define MAX_THREADS 16

static const size_t train_counts[10] = {5923, 6742, 5958, 6131, 5842,
                                        5421, 5918, 6265, 5851, 5949};
static const size_t test_counts[10] = {980, 1135, 1032, 1010, 982,
                                       892, 958, 1028, 974, 1009};

typedef struct split {
    const char *name;          /* "Train" / "Test" */
    const char *images_file;   /* IDX file names inside IDX_DIR */
    const char *labels_file;
    size_t count;
    const size_t *class_counts;
    unsigned char *images;     /* whole files as read */
    unsigned char *labels;
    size_t *index_in_class;    /* per image */
} split;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [--quiet] IDX_DIR OUT\n"
            "\n"
            "Converts the MNIST IDX files in IDX_DIR (train-images-idx3-ubyte,\n"
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)\n"
            "into OUT/Train/<digit>/NNNN.png (60000 images) and\n"
            "OUT/Test/<digit>/NNNN.png (10000 images), NNNN being the 0-based index of\n"
            "the image within its class in IDX order. Magic numbers, dimensions and\n"
            "per-class counts are verified first. Writes to OUT.tmp-<pid> and renames\n"
            "it to OUT at the end; OUT must not exist.\n"
            "\n"
            "  --quiet   no progress on stderr\n"
            "  --help    this text\n"
            "\n"
            "Exit status: 0 ok, 2 bad input or unwritable output, 1 internal error.\n");
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 2);
    if (!s) {
        fprintf(stderr, PROG ": error: out of memory\n");
        exit(NR_EXIT_INTERNAL);
    }
    memcpy(s, a, na);
    s[na] = '/';
    memcpy(s + na + 1, b, nb + 1);
    return s;
}

/* Reads a whole file; exits 2 with a message on failure. */
static unsigned char *slurp(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "%s: error: cannot open: %s%s\n", path, strerror(errno),
                errno == ENOENT ? "; run tools/fetch-mnist, which downloads and "
                                  "verifies the IDX files" : "");
        exit(NR_EXIT_INPUT);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: error: not a regular file\n", path);
        exit(NR_EXIT_INPUT);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fprintf(stderr, "%s: error: out of memory reading %zu bytes\n", path, n);
        exit(NR_EXIT_INTERNAL);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "%s: error: read failed: %s\n", path,
                    r < 0 ? strerror(errno) : "unexpected end of file");
            exit(NR_EXIT_INPUT);
        }
        got += (size_t)r;
    }
    close(fd);
    *size = n;
    return buf;
}

/* Loads and verifies one split; exits 2 on any mismatch. */
static void load_split(const char *idx_dir, split *sp)
{
    char *ipath = join(idx_dir, sp->images_file);
    char *lpath = join(idx_dir, sp->labels_file);
    size_t isize, lsize;
    sp->images = slurp(ipath, &isize);
    sp->labels = slurp(lpath, &lsize);
    const char *hint = "; expected the original MNIST file (tools/fetch-mnist "
                       "verifies its SHA-256)";

    if (isize < 16 || be32(sp->images) != 0x00000803u) {
        fprintf(stderr, "%s: error: not an IDX image file (magic %s, expected "
                "0x00000803)%s\n", ipath, isize < 4 ? "missing" : "wrong", hint);
        exit(NR_EXIT_INPUT);
    }
    uint32_t n = be32(sp->images + 4), rows = be32(sp->images + 8),
             cols = be32(sp->images + 12);
    if (n != sp->count || rows != SIDE || cols != SIDE) {
        fprintf(stderr, "%s: error: header says %u images of %ux%u, expected %zu "
                "of %dx%d%s\n", ipath, n, rows, cols, sp->count, SIDE, SIDE, hint);
        exit(NR_EXIT_INPUT);
    }
    if (isize != 16 + sp->count * SIDE * SIDE) {
        fprintf(stderr, "%s: error: file has %zu bytes, expected %zu (truncated or "
                "padded)%s\n", ipath, isize, 16 + sp->count * SIDE * SIDE, hint);
        exit(NR_EXIT_INPUT);
    }
    if (lsize < 8 || be32(sp->labels) != 0x00000801u) {
        fprintf(stderr, "%s: error: not an IDX label file (magic %s, expected "
                "0x00000801)%s\n", lpath, lsize < 4 ? "missing" : "wrong", hint);
        exit(NR_EXIT_INPUT);
    }
    uint32_t ln = be32(sp->labels + 4);
    if (ln != sp->count || lsize != 8 + sp->count) {
        fprintf(stderr, "%s: error: %u labels in %zu bytes, expected %zu labels in "
                "%zu bytes%s\n", lpath, ln, lsize, sp->count, 8 + sp->count, hint);
        exit(NR_EXIT_INPUT);
    }
    sp->index_in_class = malloc(sp->count * sizeof *sp->index_in_class);
    if (!sp->index_in_class) {
        fprintf(stderr, PROG ": error: out of memory\n");
        exit(NR_EXIT_INTERNAL);
    }
    size_t seen[10] = {0};
    for (size_t i = 0; i < sp->count; i++) {
        unsigned d = sp->labels[8 + i];
        if (d > 9) {
            fprintf(stderr, "%s: error: label %zu is %u, expected a digit 0-9%s\n",
                    lpath, i, d, hint);
            exit(NR_EXIT_INPUT);
        }
        sp->index_in_class[i] = seen[d]++;
    }
    for (int d = 0; d < 10; d++) {
        if (seen[d] != sp->class_counts[d]) {
            fprintf(stderr, "%s: error: digit %d has %zu images, expected %zu%s\n",
                    lpath, d, seen[d], sp->class_counts[d], hint);
            exit(NR_EXIT_INPUT);
        }
    }
    free(ipath);
    free(lpath);
}

static void free_splits(split *splits)
{
    for (int s = 0; s < 2; s++) {
        free(splits[s].images);
        free(splits[s].labels);
        free(splits[s].index_in_class);
    }
}

/* rm -r of a tree we created (no symlinks followed). */
static void remove_tree_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) {
        (void)unlinkat(dirfd, name, 0);
        return;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            remove_tree_at(fd, de->d_name);
        else
            (void)unlinkat(fd, de->d_name, 0);
    }
    closedir(d);
    (void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Removes the temporary output folder and exits. */
static void fail_cleanup(const char *tmp, int status)
{
    remove_tree_at(AT_FDCWD, tmp);
    fprintf(stderr, PROG ": removed %s; the output folder was not created\n", tmp);
    exit(status);
}

static void make_dir(const char *path, const char *tmp)
{
    if (mkdir(path, 0755) != 0) {
        fprintf(stderr, "%s: error: cannot create folder: %s\n", path, strerror(errno));
        fail_cleanup(tmp, NR_EXIT_INPUT);
    }
}

/* ------------------------------------------------------------ writing */

typedef struct job {
    const char *tmp;
    split *splits;
    size_t total;                /* images over both splits */
    atomic_size_t next;          /* next image to claim, over both splits */
    atomic_size_t done;
    atomic_size_t min_err;       /* lowest failing image, SIZE_MAX if none */
} job;

typedef struct worker {
    job *j;
    size_t err_index;
    nr_error err;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    job *j = w->j;
    char path[4096];
    const size_t chunk = 64;
    for (;;) {
        size_t begin = atomic_fetch_add(&j->next, chunk);
        if (begin >= j->total || begin > atomic_load(&j->min_err))
            break;
        size_t end = begin + chunk < j->total ? begin + chunk : j->total;
        for (size_t g = begin; g < end; g++) {
            split *sp = g < j->splits[0].count ? &j->splits[0] : &j->splits[1];
            size_t i = g < j->splits[0].count ? g : g - j->splits[0].count;
            unsigned d = sp->labels[8 + i];
            snprintf(path, sizeof path, "%s/%s/%u/%04zu.png", j->tmp, sp->name, d,
                     sp->index_in_class[i]);
            if (nr_png_write(path, sp->images + 16 + i * SIDE * SIDE, 1, SIDE, SIDE,
                             &w->err) != 0) {
                w->err_index = g;
                size_t cur = atomic_load(&j->min_err);
                while (g < cur && !atomic_compare_exchange_weak(&j->min_err, &cur, g))
                    ;
                return NULL;
            }
            atomic_fetch_add(&j->done, 1);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int quiet = 0;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, PROG ": error: unknown option '%s'; try --help\n", argv[i]);
            return NR_EXIT_INPUT;
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, PROG ": error: too many arguments ('%s'); usage: " PROG
                    " [--quiet] IDX_DIR OUT\n", argv[i]);
            return NR_EXIT_INPUT;
        }
    }
    if (npos != 2) {
        fprintf(stderr, PROG ": error: expected IDX_DIR and OUT; usage: " PROG
                " [--quiet] IDX_DIR OUT (try --help)\n");
        return NR_EXIT_INPUT;
    }
    const char *idx_dir = pos[0];
    char out[4096];
    size_t olen = strlen(pos[1]);
    while (olen > 1 && pos[1][olen - 1] == '/')
        olen--;
    if (olen == 0 || olen > 4000) {
        fprintf(stderr, PROG ": error: bad output path '%s'\n", pos[1]);
        return NR_EXIT_INPUT;
    }
    memcpy(out, pos[1], olen);
    out[olen] = '\0';

    struct stat st;
    if (lstat(out, &st) == 0) {
        fprintf(stderr, "%s: error: already exists; remove it first (" PROG
                " never overwrites)\n", out);
        return NR_EXIT_INPUT;
    }

    split splits[2] = {
        {.name = "Train", .images_file = "train-images-idx3-ubyte",
         .labels_file = "train-labels-idx1-ubyte", .count = 60000,
         .class_counts = train_counts},
        {.name = "Test", .images_file = "t10k-images-idx3-ubyte",
         .labels_file = "t10k-labels-idx1-ubyte", .count = 10000,
         .class_counts = test_counts},
    };
    load_split(idx_dir, &splits[0]);
    load_split(idx_dir, &splits[1]);

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    if (mkdir(tmp, 0755) != 0) {
        fprintf(stderr, "%s: error: cannot create folder: %s\n", tmp, strerror(errno));
        free_splits(splits);
        return NR_EXIT_INPUT;
    }
    char dir[4400];
    for (int s = 0; s < 2; s++) {
        snprintf(dir, sizeof dir, "%s/%s", tmp, splits[s].name);
        make_dir(dir, tmp);
        for (int d = 0; d < 10; d++) {
            snprintf(dir, sizeof dir, "%s/%s/%d", tmp, splits[s].name, d);
            make_dir(dir, tmp);
        }
    }

    job j = {.tmp = tmp, .splits = splits, .total = splits[0].count + splits[1].count};
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.min_err, SIZE_MAX);
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1)
        nt = 1;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    worker workers[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS];
    for (long t = 0; t < nt; t++) {
        workers[t].j = &j;
        workers[t].err_index = SIZE_MAX;
        started[t] = pthread_create(&tids[t], NULL, work, &workers[t]) == 0;
    }
    int tty = isatty(STDERR_FILENO);
    if (!quiet)
        fprintf(stderr, PROG ": writing %zu PNGs to %s (%ld threads)\n", j.total, out,
                nt);
    /* progress: this thread only watches (or works, if no thread started) */
    int any = 0;
    for (long t = 0; t < nt; t++)
        any |= started[t];
    if (!any)
        work(&workers[0]);
    size_t last_line = 0;
    for (;;) {
        size_t done = atomic_load(&j.done);
        int finished = done >= j.total || atomic_load(&j.min_err) != SIZE_MAX;
        if (!quiet && tty) {
            fprintf(stderr, "\r" PROG ": %zu/%zu", done, j.total);
        } else if (!quiet && (done >= last_line + 10000 || (finished && done > last_line))) {
            fprintf(stderr, PROG ": %zu/%zu\n", done, j.total);
            last_line = done;
        }
        if (finished)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!quiet && tty)
        fputc('\n', stderr);
    for (long t = 0; t < nt; t++)
        if (started[t])
            pthread_join(tids[t], NULL);

    long worst = -1;
    for (long t = 0; t < nt; t++)
        if (workers[t].err_index != SIZE_MAX &&
            (worst < 0 || workers[t].err_index < workers[worst].err_index))
            worst = t;
    if (worst >= 0) {
        fprintf(stderr, "%s\n", workers[worst].err.message);
        fail_cleanup(tmp, workers[worst].err.status ? workers[worst].err.status
                                               : NR_EXIT_INTERNAL);
    }
    if (atomic_load(&j.done) != j.total) {
        fprintf(stderr, PROG ": error: wrote %zu of %zu images\n", atomic_load(&j.done),
                j.total);
        fail_cleanup(tmp, NR_EXIT_INTERNAL);
    }
    if (rename(tmp, out) != 0) {
        fprintf(stderr, "%s: error: cannot rename %s to it: %s\n", out, tmp,
                strerror(errno));
        fail_cleanup(tmp, NR_EXIT_INPUT);
    }
    if (!quiet)
        fprintf(stderr, PROG ": wrote %s (%zu train, %zu test)\n", out,
                splits[0].count, splits[1].count);
    free_splits(splits);
    return 0;
}
