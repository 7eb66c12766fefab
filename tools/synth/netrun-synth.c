/* tools/synth/netrun-synth.c - small synthetic image-classification datasets
 * in netrun's layout, for tests and demos:
 *
 *   netrun-synth OUT [--classes K] [--size HxW] [--channels 1|3]
 *                    [--train N] [--test N] [--seed S] [--names a,b,c]
 *                    [--format png|jpeg] [--alpha] [--depth 8|16]
 *                    [--sizes HxW,HxW,...]
 *
 * writes OUT/Train/<class>/NNNN.png and OUT/Test/<class>/NNNN.png (.jpg with
 * --format jpeg, quality 90), N images per class. --alpha adds an alpha
 * channel (gray+alpha or RGBA PNG: 255 on the bar, 128..255 elsewhere),
 * --depth 16 writes 16-bit PNGs whose samples read back (v / 257, rounded)
 * as the 8-bit ones; --sizes gives image i of each class the size i mod n of
 * the list. Class k (k-th name as given; netrun sorts the names) is a bright
 * one-pixel bar on a noisy background: orientation k % 4 (horizontal,
 * vertical, diagonal, anti-diagonal), centred in cell k / 4 of a g x g grid
 * over the image (g as small as the class count allows). Every image jitters
 * the bar by -1..+1 pixel in x and y, shortens it by 0 or 1 pixel at each
 * end, and draws its brightness, colour (RGB) and the background noise from
 * the seeded PRNG, so no single pixel tells the classes apart, while a small
 * CNN or MLP learns them to ~100% in a few epochs.
 *
 * Deterministic: the same arguments give byte-identical files. Image i of
 * class k of a split depends only on (seed, split, k, i), so changing --train
 * does not change the test images. The dataset is written into OUT.tmp-<pid>
 * and renamed to OUT at the end; an existing OUT is refused, and a failure
 * removes the temporary folder (a kill leaves OUT.tmp-<pid>, never a partial
 * OUT). Errors: one line on stderr, exit status 2 (1 for out of memory).
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <dirent.h>
#include <png.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/kernels.h"

enum {
    MIN_CLASSES = 2,
    MIN_SIDE = 5,          /* a cell must hold a 3-pixel bar plus jitter */
    MAX_SIDE = 4096,
    MAX_PER_CLASS = 1000000,
    MAX_NAME = 255,
    MAX_IMAGES = 100000000, /* netrun's dataset limit */
    MAX_SIZES = 64,
    JPEG_QUALITY = 90
};

/* PRNG stream of (split, class): disjoint from netrun's own streams (1..5). */
#define SYNTH_STREAM(split, k) (UINT64_C(0x5e7a000000000000) + ((uint64_t)(split) << 32) + (uint64_t)(k))

static const char usage_text[] =
    "usage: netrun-synth OUT [OPTIONS]\n"
    "\n"
    "Writes a small synthetic image-classification dataset in netrun's layout:\n"
    "OUT/Train/<class>/NNNN.png and OUT/Test/<class>/NNNN.png. Class k is a bright\n"
    "bar on a noisy background, its orientation k mod 4 (horizontal, vertical,\n"
    "diagonal, anti-diagonal) and its position cell k / 4 of a grid over the image;\n"
    "each image jitters the bar by +-1 pixel and draws brightness and noise from\n"
    "the seed. The same arguments always give the same files. OUT must not exist:\n"
    "the dataset is written to OUT.tmp-<pid> and renamed at the end.\n"
    "\n"
    "options:\n"
    "  -k, --classes K      number of classes, 2 .. 4*(min(H,W)/5)^2 (default 3,\n"
    "                       or the number of --names)\n"
    "  -s, --size HxW       image height x width, each 5 .. 4096 (default 12x12)\n"
    "  -c, --channels C     1 (gray) or 3 (RGB) (default 1)\n"
    "      --train N        training images per class, 1 .. 1000000 (default 60)\n"
    "      --test N         test images per class, 1 .. 1000000 (default 20)\n"
    "      --seed S         random seed, 0 .. 2^64-1 (default 1)\n"
    "  -n, --names A,B,...  class folder names (default 0, 1, ... zero-padded to\n"
    "                       sort in class order); no '/', not starting with '.'\n"
    "      --format F       png (default) or jpeg (.jpg files, quality 90)\n"
    "      --alpha          PNG with an alpha channel (gray+alpha or RGBA)\n"
    "      --depth D        PNG bits per sample, 8 (default) or 16\n"
    "      --sizes HxW,...  image i of a class gets size i mod n of the list\n"
    "                       (at most 64 sizes; replaces --size)\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 success, 1 internal error, 2 bad input or unwritable OUT\n";

typedef struct synth_options {
    const char *out;
    int classes;           /* 0 until given */
    int height, width, channels;
    long train, test;
    uint64_t seed;
    char **names;          /* the class names (owned) */
    char *names_buf;       /* the strings the names point into (owned) */
    int name_count;        /* names given with --names, 0 if none */
    int jpeg;              /* --format jpeg */
    int alpha;             /* --alpha */
    int depth;             /* --depth: 8 or 16 */
    int size_count;        /* --sizes: the sizes images cycle through, 0 if none */
    int heights[MAX_SIZES], widths[MAX_SIZES];
} synth_options;

/* One line on stderr, "netrun-synth: error: ...". */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("netrun-synth: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return NR_EXIT_INPUT;
}

static int oom(void)
{
    fputs("netrun-synth: error: out of memory\n", stderr);
    return NR_EXIT_INTERNAL;
}

/* An nr_error ("PATH: error: what") as "netrun-synth: error: PATH: what". */
static int fail_nr(const nr_error *err)
{
    const char *mark = strstr(err->message, ": error: ");
    if (mark)
        fprintf(stderr, "netrun-synth: error: %.*s: %s\n", (int)(mark - err->message),
                err->message, mark + strlen(": error: "));
    else
        fprintf(stderr, "netrun-synth: error: %s\n", err->message);
    return err->status ? err->status : NR_EXIT_INTERNAL;
}

/* Strict decimal: digits only (no sign, no spaces), in [min, max]. */
static int parse_long(const char *text, long min, long max, long *out)
{
    if (text[0] < '0' || text[0] > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* "HxW" (also "H"x"W" with capital X), each side in [MIN_SIDE, MAX_SIDE]. */
static int parse_size(const char *text, int *height, int *width)
{
    const char *x = strpbrk(text, "xX");
    if (!x || x == text || strpbrk(x + 1, "xX"))
        return -1;
    char h[32];
    size_t len = (size_t)(x - text);
    if (len >= sizeof h)
        return -1;
    memcpy(h, text, len);
    h[len] = '\0';
    long hv, wv;
    if (parse_long(h, MIN_SIDE, MAX_SIDE, &hv) != 0 || parse_long(x + 1, MIN_SIDE, MAX_SIDE, &wv) != 0)
        return -1;
    *height = (int)hv;
    *width = (int)wv;
    return 0;
}

/* "HxW,HxW,..." */
static int parse_sizes(synth_options *o, const char *text)
{
    char *buf = strdup(text);
    if (!buf)
        return oom();
    int n = 0, status = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_SIZES) {
            status = fail("--sizes: more than %d sizes", MAX_SIZES);
            break;
        }
        if (parse_size(tok, &o->heights[n], &o->widths[n]) != 0) {
            status = fail("--sizes '%s': '%s' is not HxW, each %d to %d; e.g. --sizes "
                          "12x12,16x10", text, tok, MIN_SIDE, MAX_SIDE);
            break;
        }
        n++;
    }
    free(buf);
    if (status == 0 && n == 0)
        status = fail("--sizes '%s': no size; e.g. --sizes 12x12,16x10", text);
    o->size_count = n;
    return status;
}

/* Splits --names in place; checks each name is usable as a folder that
 * netrun's loader will see as a class, and that they are distinct. */
static int parse_names(synth_options *o, const char *text)
{
    free(o->names_buf);
    free(o->names);
    o->names = NULL;
    o->names_buf = strdup(text);
    if (!o->names_buf)
        return oom();
    size_t count = 1;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    if (count > INT32_MAX)
        return fail("--names: too many names");
    o->names = calloc(count, sizeof *o->names);
    if (!o->names)
        return oom();
    char *p = o->names_buf;
    for (size_t i = 0; i < count; i++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        o->names[i] = p;
        p = comma ? comma + 1 : p + strlen(p);
        const char *n = o->names[i];
        if (!n[0])
            return fail("--names '%s': name %zu is empty; give comma-separated names, "
                        "e.g. --names cat,dog,emu", text, i + 1);
        if (n[0] == '.')
            return fail("--names: '%s' starts with '.' (netrun ignores hidden folders)", n);
        if (strchr(n, '/'))
            return fail("--names: '%s' contains '/'; a name is one folder", n);
        if (strlen(n) > MAX_NAME)
            return fail("--names: '%.40s...' is longer than %d bytes", n, MAX_NAME);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->names[j], n) == 0)
                return fail("--names: '%s' is given twice; names must be distinct", n);
    }
    o->name_count = (int)count;
    return 0;
}

/* Default names 0, 1, ... zero-padded so byte order = class order. */
static int default_names(synth_options *o)
{
    int digits = 1;
    for (int k = o->classes - 1; k >= 10; k /= 10)
        digits++;
    size_t stride = (size_t)digits + 1;
    o->names = calloc((size_t)o->classes, sizeof *o->names);
    o->names_buf = malloc((size_t)o->classes * stride);
    if (!o->names || !o->names_buf)
        return oom();
    for (int k = 0; k < o->classes; k++) {
        o->names[k] = o->names_buf + (size_t)k * stride;
        snprintf(o->names[k], stride, "%0*d", digits, k);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Geometry and drawing
 * ------------------------------------------------------------------------ */

typedef struct layout {
    int grid;              /* g: the image is split into g x g cells */
} layout;

static int max_grid(int height, int width)
{
    return (height < width ? height : width) / MIN_SIDE;
}

static int grid_for(int classes)
{
    int cells = (classes + 3) / 4;
    int g = 1;
    while (g * g < cells)
        g++;
    return g;
}

static uint8_t clamp_u8(float v)
{
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)(v + 0.5f);
}

/* One image of class k into px (CHW). */
static void draw(const synth_options *o, const layout *lay, int k, nr_rng *rng, int H, int W,
                 uint8_t *px)
{
    const int C = o->channels;
    const size_t plane = (size_t)H * W;

    /* background: a per-image level plus per-pixel Gaussian noise */
    float level = 10.0f + 30.0f * nr_rng_uniform(rng);
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < plane; i++)
            px[c * plane + i] = clamp_u8(level + 14.0f * nr_rng_normal(rng));

    /* the bar's cell: rows [y0, y1), columns [x0, x1) */
    int cell = k / 4, g = lay->grid;
    int row = cell / g, col = cell % g;
    int y0 = row * H / g, y1 = (row + 1) * H / g;
    int x0 = col * W / g, x1 = (col + 1) * W / g;
    int cy = (y0 + y1 - 1) / 2, cx = (x0 + x1 - 1) / 2;
    int hy = (cy - y0 < y1 - 1 - cy ? cy - y0 : y1 - 1 - cy) - 1;
    int hx = (cx - x0 < x1 - 1 - cx ? cx - x0 : x1 - 1 - cx) - 1;
    int half = hy < hx ? hy : hx;  /* >= 1: cells are at least MIN_SIDE */

    static const int dir[4][2] = {{0, 1}, {1, 0}, {1, 1}, {1, -1}}; /* (dy, dx) */
    const int *d = dir[k % 4];
    int jy = (int)nr_rng_below(rng, 3) - 1, jx = (int)nr_rng_below(rng, 3) - 1;
    int from = -half + (half > 1 ? (int)nr_rng_below(rng, 2) : 0);
    int to = half - (half > 1 ? (int)nr_rng_below(rng, 2) : 0);
    float bright = 150.0f + 105.0f * nr_rng_uniform(rng);
    float tint[3] = {1.0f, 1.0f, 1.0f};
    if (C == 3)
        for (int c = 0; c < 3; c++)
            tint[c] = 0.6f + 0.4f * nr_rng_uniform(rng);
    for (int t = from; t <= to; t++) {
        int y = cy + jy + d[0] * t, x = cx + jx + d[1] * t;
        float v = bright * (0.85f + 0.15f * nr_rng_uniform(rng));
        for (int c = 0; c < C; c++) {
            uint8_t *p = &px[c * plane + (size_t)y * W + x];
            uint8_t b = clamp_u8(v * tint[c]);
            if (b > *p)
                *p = b;
        }
    }
}

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0)
        return fail("%s: cannot create folder: %s", path, strerror(errno));
    return 0;
}

/* mkdir -p for the parents of path (not path itself). */
static int make_parents(const char *path)
{
    char *buf = strdup(path);
    if (!buf)
        return oom();
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            int status = fail("%s: cannot create folder: %s", buf, strerror(e));
            free(buf);
            return status;
        }
        *p = '/';
    }
    free(buf);
    return 0;
}

/* rm -r of a folder this program created (regular files and folders only). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *child = join(path, e->d_name);
            if (!child)
                continue;
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(child);
            else
                unlink(child);
            free(child);
        }
        closedir(d);
    }
    rmdir(path);
}

typedef struct png_out {
    FILE *fp;
    png_structp png;
    png_infop info;
    jmp_buf jmp;
} png_out;

static void png_out_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_out *w = png_get_error_ptr(png);
    longjmp(w->jmp, 1);
}

/* rows: height rows of HWC samples as libpng takes them */
static int png_out_write(png_out *w, png_bytep *rows, int height, int width, int depth,
                         int color_type)
{
    if (setjmp(w->jmp))
        return -1;
    png_init_io(w->png, w->fp);
    png_set_IHDR(w->png, w->info, (png_uint_32)width, (png_uint_32)height, depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w->png, w->info);
    png_write_image(w->png, rows);
    png_write_end(w->png, NULL);
    return 0;
}

/* A PNG with --alpha or --depth 16 from CHW px: alpha 255 where the bar
 * is (brighter than 140), 128 + (7 x + 13 y) mod 128 elsewhere; 16-bit
 * samples v * 257 + d, |d| <= 128, which read back as v. */
static int write_png_extra(const synth_options *o, const char *path, const uint8_t *px, int H,
                           int W)
{
    int C = o->channels, S = C + (o->alpha ? 1 : 0), B = o->depth / 8;
    size_t plane = (size_t)H * W, row_bytes = (size_t)W * S * B;
    uint8_t *buf = malloc(row_bytes * H);
    png_bytep *rows = malloc((size_t)H * sizeof *rows);
    png_out w = {0};
    int status = 0;
    if (!buf || !rows) {
        status = oom();
        goto done;
    }
    for (int y = 0; y < H; y++) {
        rows[y] = buf + (size_t)y * row_bytes;
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            uint8_t bright = 0;
            for (int s = 0; s < S; s++) {
                unsigned v;
                if (s < C) {
                    v = px[(size_t)s * plane + i];
                    bright = v > bright ? (uint8_t)v : bright;
                } else {
                    v = bright > 140 ? 255u : 128u + (unsigned)(7 * x + 13 * y) % 128u;
                }
                uint8_t *q = rows[y] + ((size_t)x * S + s) * B;
                if (B == 1) {
                    q[0] = (uint8_t)v;
                } else {
                    long v16 = (long)v * 257 + (long)((x * 31 + y * 17 + s * 5) % 257) - 128;
                    v16 = v16 < 0 ? 0 : v16 > 65535 ? 65535 : v16;
                    q[0] = (uint8_t)(v16 >> 8);
                    q[1] = (uint8_t)(v16 & 255);
                }
            }
        }
    }
    w.fp = fopen(path, "wb");
    if (!w.fp) {
        status = fail("%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, png_out_error, NULL);
    w.info = w.png ? png_create_info_struct(w.png) : NULL;
    if (!w.info) {
        status = oom();
        goto done;
    }
    int color_type = C == 1 ? (o->alpha ? PNG_COLOR_TYPE_GRAY_ALPHA : PNG_COLOR_TYPE_GRAY)
                            : (o->alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB);
    if (png_out_write(&w, rows, H, W, o->depth, color_type) != 0)
        status = fail("%s: cannot write the PNG", path);
done:
    if (w.png)
        png_destroy_write_struct(&w.png, w.info ? &w.info : NULL);
    if (w.fp && fclose(w.fp) != 0 && status == 0)
        status = fail("%s: cannot write: %s", path, strerror(errno));
    free(rows);
    free(buf);
    return status;
}

static int write_image(const synth_options *o, const char *path, const uint8_t *px, int H,
                       int W)
{
    nr_error err = {0};
    if (o->jpeg) {
        if (nr_jpeg_write(path, px, o->channels, H, W, JPEG_QUALITY, &err) != 0)
            return fail_nr(&err);
        return 0;
    }
    if (o->alpha || o->depth == 16)
        return write_png_extra(o, path, px, H, W);
    if (nr_png_write(path, px, o->channels, H, W, &err) != 0)
        return fail_nr(&err);
    return 0;
}

static int write_split(const synth_options *o, const layout *lay, const char *root,
                       const char *split_name, int split, long per_class, uint8_t *px)
{
    char *dir = join(root, split_name);
    if (!dir)
        return oom();
    int status = make_dir(dir);
    int digits = 4;
    for (long n = per_class - 1; n >= 10000; n /= 10)
        digits++;
    for (int k = 0; status == 0 && k < o->classes; k++) {
        char *class_dir = join(dir, o->names[k]);
        if (!class_dir) {
            status = oom();
            break;
        }
        status = make_dir(class_dir);
        nr_rng rng;
        nr_rng_seed(&rng, o->seed, SYNTH_STREAM(split, k));
        for (long i = 0; status == 0 && i < per_class; i++) {
            char num[24], file[40];
            int n = snprintf(num, sizeof num, "%ld", i);
            int pad = digits > n ? digits - n : 0;
            snprintf(file, sizeof file, "%.*s%s.%s", pad, "0000000", num,
                     o->jpeg ? "jpg" : "png");
            char *path = join(class_dir, file);
            if (!path) {
                status = oom();
                break;
            }
            int which = o->size_count ? (int)(i % o->size_count) : 0;
            int H = o->size_count ? o->heights[which] : o->height;
            int W = o->size_count ? o->widths[which] : o->width;
            draw(o, lay, k, &rng, H, W, px);
            status = write_image(o, path, px, H, W);
            free(path);
        }
        free(class_dir);
    }
    free(dir);
    return status;
}

static int generate(const synth_options *o)
{
    /* OUT without trailing slashes, so OUT.tmp-<pid> is its sibling */
    size_t len = strlen(o->out);
    while (len > 1 && o->out[len - 1] == '/')
        len--;
    char *out = strndup(o->out, len);
    char *tmp = malloc(len + 32);
    size_t most = (size_t)o->height * o->width;
    for (int i = 0; i < o->size_count; i++)
        if ((size_t)o->heights[i] * o->widths[i] > most)
            most = (size_t)o->heights[i] * o->widths[i];
    uint8_t *px = malloc((size_t)o->channels * most);
    int status = 0;
    if (!out || !tmp || !px) {
        status = oom();
        goto done;
    }
    snprintf(tmp, len + 32, "%s.tmp-%ld", out, (long)getpid());

    struct stat st;
    if (lstat(out, &st) == 0) {
        status = fail("%s: already exists; netrun-synth never overwrites: choose another OUT",
                      out);
        goto done;
    }
    if ((status = make_parents(out)) != 0)
        goto done;
    if ((status = make_dir(tmp)) != 0)
        goto done;

    layout lay = {.grid = grid_for(o->classes)};
    status = write_split(o, &lay, tmp, "Train", 0, o->train, px);
    if (status == 0)
        status = write_split(o, &lay, tmp, "Test", 1, o->test, px);
    if (status == 0) {
        /* rename() would replace an empty folder: check again just before */
        if (lstat(out, &st) == 0)
            status = fail("%s: appeared while generating; netrun-synth never overwrites: "
                          "choose another OUT", out);
        else if (rename(tmp, out) != 0)
            status = fail("%s: cannot rename %s to it: %s", out, tmp, strerror(errno));
    }
    if (status != 0)
        remove_tree(tmp);
    else
        printf("%s: %d classes, %dx%dx%d%s %s%s%s %s, %ld train + %ld test images per class, "
               "seed %" PRIu64 "\n",
               out, o->classes, o->channels, o->height, o->width,
               o->size_count > 1 ? " (and other sizes)" : "",
               o->channels == 1 ? "gray" : "RGB", o->alpha ? "+alpha" : "",
               o->depth == 16 ? " 16-bit" : "", o->jpeg ? "JPEG" : "PNG", o->train, o->test,
               o->seed);
done:
    free(px);
    free(tmp);
    free(out);
    return status;
}

int main(int argc, char **argv)
{
    enum { OPT_TRAIN = 256, OPT_TEST, OPT_SEED, OPT_FORMAT, OPT_ALPHA, OPT_DEPTH, OPT_SIZES };
    static const struct option long_options[] = {
        {"classes", required_argument, NULL, 'k'},
        {"size", required_argument, NULL, 's'},
        {"channels", required_argument, NULL, 'c'},
        {"train", required_argument, NULL, OPT_TRAIN},
        {"test", required_argument, NULL, OPT_TEST},
        {"seed", required_argument, NULL, OPT_SEED},
        {"names", required_argument, NULL, 'n'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"alpha", no_argument, NULL, OPT_ALPHA},
        {"depth", required_argument, NULL, OPT_DEPTH},
        {"sizes", required_argument, NULL, OPT_SIZES},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    synth_options o = {.height = 12, .width = 12, .channels = 1, .train = 60, .test = 20,
                       .seed = 1, .depth = 8};
    int status = -1;
    long v;
    int c;
    opterr = 0;
    while (status < 0 && (c = getopt_long(argc, argv, ":k:s:c:n:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (parse_long(optarg, MIN_CLASSES, INT32_MAX, &v) != 0)
                status = fail("--classes '%s': expected an integer >= %d", optarg, MIN_CLASSES);
            else
                o.classes = (int)v;
            break;
        case 's':
            if (parse_size(optarg, &o.height, &o.width) != 0)
                status = fail("--size '%s': expected HxW, each %d to %d, e.g. --size 12x12",
                              optarg, MIN_SIDE, MAX_SIDE);
            break;
        case 'c':
            if (strcmp(optarg, "1") == 0 || strcmp(optarg, "3") == 0)
                o.channels = optarg[0] - '0';
            else
                status = fail("--channels '%s': expected 1 (gray) or 3 (RGB)", optarg);
            break;
        case OPT_TRAIN:
        case OPT_TEST:
            if (parse_long(optarg, 1, MAX_PER_CLASS, &v) != 0)
                status = fail("--%s '%s': expected images per class, 1 to %d",
                              c == OPT_TRAIN ? "train" : "test", optarg, MAX_PER_CLASS);
            else if (c == OPT_TRAIN)
                o.train = v;
            else
                o.test = v;
            break;
        case OPT_SEED:
            if (parse_u64(optarg, &o.seed) != 0)
                status = fail("--seed '%s': expected an integer 0 to 18446744073709551615",
                              optarg);
            break;
        case 'n':
            if ((v = parse_names(&o, optarg)) != 0)
                status = (int)v;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "png") == 0 || strcmp(optarg, "jpeg") == 0)
                o.jpeg = optarg[0] == 'j';
            else
                status = fail("--format '%s': expected png or jpeg", optarg);
            break;
        case OPT_ALPHA:
            o.alpha = 1;
            break;
        case OPT_DEPTH:
            if (strcmp(optarg, "8") == 0 || strcmp(optarg, "16") == 0)
                o.depth = (int)strtol(optarg, NULL, 10);
            else
                status = fail("--depth '%s': expected 8 or 16", optarg);
            break;
        case OPT_SIZES:
            if ((v = parse_sizes(&o, optarg)) != 0)
                status = (int)v;
            break;
        case 'h':
            fputs(usage_text, stdout);
            status = 0;
            break;
        case ':':
            status = fail("option '%s' needs a value; see netrun-synth --help", argv[optind - 1]);
            break;
        default:
            status = fail("unknown option '%s'; see netrun-synth --help", argv[optind - 1]);
            break;
        }
    }
    if (status < 0) {
        if (optind >= argc)
            status = fail("no output folder given; usage: netrun-synth OUT [OPTIONS] "
                          "(see --help)");
        else if (argc - optind > 1)
            status = fail("one output folder expected, got '%s' and '%s'", argv[optind],
                          argv[optind + 1]);
        else if (!argv[optind][0])
            status = fail("the output folder name is empty");
        else
            o.out = argv[optind];
    }
    if (status < 0) {
        if (o.name_count && o.classes && o.name_count != o.classes)
            status = fail("--classes %d but --names gives %d names", o.classes, o.name_count);
        else if (o.name_count == 1)
            status = fail("--names gives one name; a classifier needs at least %d classes",
                          MIN_CLASSES);
        if (o.name_count)
            o.classes = o.name_count;
        else if (!o.classes)
            o.classes = 3;
    }
    if (status < 0 && o.jpeg && (o.alpha || o.depth != 8))
        status = fail("--format jpeg has no %s; --alpha and --depth 16 are for PNG",
                      o.alpha ? "alpha" : "16-bit samples");
    if (status < 0 && o.size_count) {
        /* the first size names the dataset; the smallest side bounds the classes */
        o.height = o.heights[0];
        o.width = o.widths[0];
    }
    if (status < 0) {
        int g = max_grid(o.height, o.width);
        for (int i = 0; i < o.size_count; i++)
            if (max_grid(o.heights[i], o.widths[i]) < g)
                g = max_grid(o.heights[i], o.widths[i]);
        long max_classes = 4L * g * g;
        if (o.classes > max_classes)
            status = fail("%d classes do not fit %dx%d images: at most %ld (4 orientations x "
                          "%dx%d positions); use a larger --size", o.classes, o.height,
                          o.width, max_classes, g, g);
        else if ((double)o.classes * (double)(o.train + o.test) > MAX_IMAGES)
            status = fail("%d classes x %ld images is more than netrun's %d-image limit",
                          o.classes, o.train + o.test, MAX_IMAGES);
        else if (!o.names && (v = default_names(&o)) != 0)
            status = (int)v;
    }
    if (status < 0)
        status = generate(&o);
    free(o.names);
    free(o.names_buf);
    return status;
}
