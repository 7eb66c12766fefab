/* test_data.c - PNG class-folder datasets: scan order, labels, pixel layout,
 * refused formats, error messages naming the file, the decoded cache and its
 * invalidation, probe, and nr_png_write/nr_png_read round trips.
 *
 * Every test builds its own small folder tree under one mkdtemp folder that the
 * (unchecked) fixture creates and removes. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "netrun/data.h"

static char g_base[512]; /* the fixture's temporary folder */

/* snprintf for the test's paths: a path that does not fit fails the test
 * (rather than a truncated path silently naming another file). */
static void tpath(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tpath(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < size, "test path too long: %s", buf);
}

/* ------------------------------------------------------------ file helpers */

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0755);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                    continue;
                char sub[4096];
                tpath(sub, sizeof sub, "%s/%s", path, de->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    tpath(g_base, sizeof g_base, "%s/netrun-test-data-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_base)) {
        perror("mkdtemp");
        abort();
    }
}

static void teardown(void)
{
    remove_tree(g_base);
}

/* g_base/NAME, created empty; returns a static-lifetime copy per call slot */
static const char *fresh_dir(const char *name, char *buf, size_t n)
{
    tpath(buf, n, "%s/%s", g_base, name);
    remove_tree(buf);
    ck_assert_msg(mkdir(buf, 0755) == 0, "mkdir %s: %s", buf, strerror(errno));
    return buf;
}

static void mkdir_in(const char *root, const char *sub)
{
    char p[4096];
    tpath(p, sizeof p, "%s/%s", root, sub);
    ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    if (n)
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    ck_assert_msg(utimensat(AT_FDCWD, path, ts, 0) == 0, "utimensat %s: %s", path,
                  strerror(errno));
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

#define ASSERT_HAS(msg, needle)                                                   \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "message '%s' lacks '%s'",   \
                  (msg), (needle))

/* deterministic pixel value of image `seed` at channel c, row y, column x */
static uint8_t pattern(int seed, int c, int y, int x)
{
    return (uint8_t)(seed * 37 + c * 101 + y * 13 + x * 7 + (x * y) % 5);
}

/* CHW image from pattern() */
static uint8_t *make_image(int seed, int c, int h, int w)
{
    uint8_t *px = malloc((size_t)c * h * w);
    ck_assert_ptr_nonnull(px);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                px[((size_t)k * h + y) * w + x] = pattern(seed, k, y, x);
    return px;
}

/* writes ROOT/REL as a pattern image with nr_png_write */
static void put_png(const char *root, const char *rel, int seed, int c, int h, int w)
{
    char p[4096];
    tpath(p, sizeof p, "%s/%s", root, rel);
    uint8_t *px = make_image(seed, c, h, w);
    nr_error err = {0};
    ck_assert_msg(nr_png_write(p, px, c, h, w, &err) == 0, "%s", err.message);
    free(px);
}

/* Raw libpng writer for formats nr_png_write does not produce. `rows` holds
 * h rows of packed bytes as libpng expects them (interleaved, big-endian
 * 16-bit samples). */
typedef struct raw_png {
    int width, height, color_type, bit_depth;
    const unsigned char *rows;
    size_t rowbytes;
    const png_color *palette;
    int palette_count;
    const unsigned char *trns; /* palette alpha entries, or NULL */
    int trns_count;
    int gray_trns;             /* 1: add a gray tRNS (color_type gray) */
    int interlace;
} raw_png;

static int raw_png_write(const char *path, const raw_png *r)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rowp = malloc((size_t)r->height * sizeof *rowp);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        free(rowp);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)r->width, (png_uint_32)r->height, r->bit_depth,
                 r->color_type,
                 r->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (r->palette)
        png_set_PLTE(png, info, r->palette, r->palette_count);
    if (r->trns)
        png_set_tRNS(png, info, r->trns, r->trns_count, NULL);
    if (r->gray_trns) {
        png_color_16 tc = {0};
        tc.gray = 0;
        png_set_tRNS(png, info, NULL, 0, &tc);
    }
    png_write_info(png, info);
    for (int y = 0; y < r->height; y++)
        rowp[y] = (png_bytep)(r->rows + (size_t)y * r->rowbytes);
    png_write_image(png, rowp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rowp);
    return fclose(f);
}

static void load_ok(const char *root, int use_cache, int threads, nr_dataset **ds)
{
    nr_data_options o = {.use_cache = use_cache, .threads = threads};
    nr_error err = {0};
    ck_assert_msg(nr_dataset_load(root, &o, ds, &err) == 0, "load %s: %s", root,
                  err.message);
}

static void load_fails(const char *root, nr_error *err)
{
    nr_data_options o = {.use_cache = 0, .threads = 2};
    nr_dataset *ds = (nr_dataset *)(uintptr_t)0x1; /* must stay untouched */
    memset(err, 0, sizeof *err);
    ck_assert_int_eq(nr_dataset_load(root, &o, &ds, err), -1);
    ck_assert_ptr_eq(ds, (nr_dataset *)(uintptr_t)0x1);
    ck_assert_int_eq(err->status, NR_EXIT_INPUT);
    ck_assert_msg(strchr(err->message, '\n') == NULL, "multi-line: %s", err->message);
    ASSERT_HAS(err->message, ": error: ");
}

static void assert_same(const nr_dataset *a, const nr_dataset *b)
{
    ck_assert_uint_eq(a->count, b->count);
    ck_assert_int_eq(a->channels, b->channels);
    ck_assert_int_eq(a->height, b->height);
    ck_assert_int_eq(a->width, b->width);
    ck_assert_uint_eq(a->class_count, b->class_count);
    for (size_t i = 0; i < a->class_count; i++)
        ck_assert_str_eq(a->class_names[i], b->class_names[i]);
    for (size_t i = 0; i < a->count; i++) {
        ck_assert_str_eq(a->files[i], b->files[i]);
        ck_assert_uint_eq(a->labels[i], b->labels[i]);
    }
    size_t n = a->count * (size_t)a->channels * a->height * a->width;
    ck_assert_int_eq(memcmp(a->pixels, b->pixels, n), 0);
}

/* a 3-class gray dataset: cat 3 images, dog 2, zebra 1 (5 rows x 4 columns),
 * written in unsorted order, with hidden entries that must be ignored */
static const char *make_gray_set(const char *name, char *buf, size_t n)
{
    const char *root = fresh_dir(name, buf, n);
    mkdir_in(root, "zebra");
    mkdir_in(root, "cat");
    mkdir_in(root, "dog");
    mkdir_in(root, ".hidden-class");
    put_png(root, "zebra/z1.png", 5, 1, 5, 4);
    put_png(root, "cat/c.png", 2, 1, 5, 4);
    put_png(root, "cat/a.png", 0, 1, 5, 4);
    put_png(root, "cat/b.png", 1, 1, 5, 4);
    put_png(root, "dog/y.png", 4, 1, 5, 4);
    put_png(root, "dog/x.png", 3, 1, 5, 4);
    char p[4096];
    tpath(p, sizeof p, "%s/cat/.DS_Store", root);
    write_bytes(p, "junk", 4);
    tpath(p, sizeof p, "%s/.hidden-class/notes.txt", root);
    write_bytes(p, "junk", 4);
    return root;
}

static const char *gray_files[6] = {"cat/a.png", "cat/b.png", "cat/c.png",
                                    "dog/x.png", "dog/y.png", "zebra/z1.png"};
static const int gray_labels[6] = {0, 0, 0, 1, 1, 2};

/* ------------------------------------------------------------ tests: loading */

START_TEST(gray_dataset_loads)
{
    char buf[4096];
    const char *root = make_gray_set("gray", buf, sizeof buf);
    nr_dataset *ds;
    load_ok(root, 0, 2, &ds);
    ck_assert_str_eq(ds->root, root);
    ck_assert_uint_eq(ds->count, 6);
    ck_assert_int_eq(ds->channels, 1);
    ck_assert_int_eq(ds->height, 5);
    ck_assert_int_eq(ds->width, 4);
    ck_assert_int_eq(ds->from_cache, 0);
    ck_assert_uint_eq(ds->class_count, 3);
    ck_assert_str_eq(ds->class_names[0], "cat");
    ck_assert_str_eq(ds->class_names[1], "dog");
    ck_assert_str_eq(ds->class_names[2], "zebra");
    for (int i = 0; i < 6; i++) {
        ck_assert_str_eq(ds->files[i], gray_files[i]);
        ck_assert_uint_eq(ds->labels[i], (unsigned)gray_labels[i]);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 4; x++)
                ck_assert_uint_eq(ds->pixels[(size_t)i * 20 + (size_t)y * 4 + x],
                                  pattern(i, 0, y, x));
    }
    nr_dataset_free(ds);
    /* opts NULL: defaults (cache on) */
    nr_error err = {0};
    ck_assert_msg(nr_dataset_load(root, NULL, &ds, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(ds->count, 6);
    nr_dataset_free(ds);
    char p[4096];
    tpath(p, sizeof p, "%s/.netrun-cache", root);
    ck_assert_msg(exists(p), "default options should write the cache");
    nr_dataset_free(NULL);
}
END_TEST

START_TEST(thread_counts_agree)
{
    char buf[4096];
    const char *root = fresh_dir("threads", buf, sizeof buf);
    mkdir_in(root, "a");
    mkdir_in(root, "b");
    for (int i = 0; i < 37; i++) {
        char rel[64];
        tpath(rel, sizeof rel, "%s/%03d.png", i % 3 ? "a" : "b", i);
        put_png(root, rel, i, 1, 3, 7);
    }
    nr_dataset *one, *many, *dflt;
    load_ok(root, 0, 1, &one);
    load_ok(root, 0, 5, &many);
    load_ok(root, 0, 0, &dflt);
    ck_assert_uint_eq(one->count, 37);
    assert_same(one, many);
    assert_same(one, dflt);
    nr_dataset_free(one);
    nr_dataset_free(many);
    nr_dataset_free(dflt);
}
END_TEST

START_TEST(rgb_dataset_is_chw)
{
    char buf[4096];
    const char *root = fresh_dir("rgb", buf, sizeof buf);
    mkdir_in(root, "red");
    mkdir_in(root, "blue");
    /* written with raw libpng, interleaved RGB: independent of nr_png_write */
    const int h = 3, w = 5;
    unsigned char rows[3 * 5 * 3];
    for (int img = 0; img < 2; img++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    rows[(y * w + x) * 3 + c] = pattern(img, c, y, x);
        raw_png r = {.width = w, .height = h, .color_type = PNG_COLOR_TYPE_RGB,
                     .bit_depth = 8, .rows = rows, .rowbytes = (size_t)w * 3,
                     .interlace = img == 1};
        char p[4096];
        tpath(p, sizeof p, "%s/%s/img.png", root, img == 0 ? "blue" : "red");
        ck_assert_int_eq(raw_png_write(p, &r), 0);
    }
    nr_dataset *ds;
    load_ok(root, 0, 2, &ds);
    ck_assert_int_eq(ds->channels, 3);
    ck_assert_int_eq(ds->height, h);
    ck_assert_int_eq(ds->width, w);
    ck_assert_str_eq(ds->class_names[0], "blue");
    ck_assert_str_eq(ds->class_names[1], "red");
    for (int img = 0; img < 2; img++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    ck_assert_uint_eq(
                        ds->pixels[(size_t)img * 45 + (size_t)c * 15 + (size_t)y * 5 + x],
                        pattern(img, c, y, x));
    int c, hh, ww;
    nr_error err = {0};
    ck_assert_msg(nr_dataset_probe(root, &c, &hh, &ww, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c, 3);
    ck_assert_int_eq(hh, 3);
    ck_assert_int_eq(ww, 5);
    nr_dataset_free(ds);
}
END_TEST

START_TEST(palette_and_low_bit_depth_convert)
{
    char buf[4096];
    const char *dir = fresh_dir("palette", buf, sizeof buf);
    char p[4096];
    nr_error err = {0};
    uint8_t *px = NULL;
    int c, h, w;

    /* colour palette, 8-bit indices -> RGB */
    png_color pal[3] = {{10, 20, 30}, {200, 100, 50}, {0, 255, 7}};
    unsigned char idx[2 * 3] = {0, 1, 2, 2, 1, 0};
    raw_png r = {.width = 3, .height = 2, .color_type = PNG_COLOR_TYPE_PALETTE,
                 .bit_depth = 8, .rows = idx, .rowbytes = 3, .palette = pal,
                 .palette_count = 3};
    tpath(p, sizeof p, "%s/pal.png", dir);
    ck_assert_int_eq(raw_png_write(p, &r), 0);
    ck_assert_msg(nr_png_read(p, &px, &c, &h, &w, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c, 3);
    ck_assert_int_eq(h, 2);
    ck_assert_int_eq(w, 3);
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(px[i], pal[idx[i]].red);
        ck_assert_uint_eq(px[6 + i], pal[idx[i]].green);
        ck_assert_uint_eq(px[12 + i], pal[idx[i]].blue);
    }
    free(px);

    /* gray palette with 2-bit indices -> 1 channel */
    png_color gpal[4] = {{0, 0, 0}, {9, 9, 9}, {77, 77, 77}, {255, 255, 255}};
    unsigned char packed[2] = {0x1B, 0xE4}; /* row0: 0 1 2 3, row1: 3 2 1 0 */
    raw_png g = {.width = 4, .height = 2, .color_type = PNG_COLOR_TYPE_PALETTE,
                 .bit_depth = 2, .rows = packed, .rowbytes = 1, .palette = gpal,
                 .palette_count = 4};
    tpath(p, sizeof p, "%s/gpal.png", dir);
    ck_assert_int_eq(raw_png_write(p, &g), 0);
    ck_assert_msg(nr_png_read(p, &px, &c, &h, &w, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c, 1);
    static const uint8_t want_g[8] = {0, 9, 77, 255, 255, 77, 9, 0};
    ck_assert_int_eq(memcmp(px, want_g, 8), 0);
    free(px);

    /* 1-bit gray scales to 0/255 */
    unsigned char bits[2] = {0xA0, 0x50}; /* row0: 1 0 1 0, row1: 0 1 0 1 */
    raw_png b = {.width = 4, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY,
                 .bit_depth = 1, .rows = bits, .rowbytes = 1};
    tpath(p, sizeof p, "%s/bits.png", dir);
    ck_assert_int_eq(raw_png_write(p, &b), 0);
    ck_assert_msg(nr_png_read(p, &px, &c, &h, &w, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c, 1);
    static const uint8_t want_b[8] = {255, 0, 255, 0, 0, 255, 0, 255};
    ck_assert_int_eq(memcmp(px, want_b, 8), 0);
    free(px);

    /* a palette image inside a dataset */
    char rbuf[4096];
    const char *root = fresh_dir("palette-set", rbuf, sizeof rbuf);
    mkdir_in(root, "only");
    tpath(p, sizeof p, "%s/only/p.png", root);
    ck_assert_int_eq(raw_png_write(p, &r), 0);
    nr_dataset *ds;
    load_ok(root, 0, 1, &ds);
    ck_assert_int_eq(ds->channels, 3);
    ck_assert_uint_eq(ds->pixels[1], 200);
    ck_assert_uint_eq(ds->pixels[6 + 1], 100);
    nr_dataset_free(ds);
}
END_TEST

/* reading PATH must fail with a message naming it and containing WHAT; when
 * in_header, reading only the header (nr_png_info) must fail as well */
static void refused_at(const char *path, const char *what, int in_header)
{
    nr_error err = {0};
    uint8_t *px = (uint8_t *)(uintptr_t)0x1;
    int c = -7, h = -7, w = -7;
    ck_assert_int_eq(nr_png_read(path, &px, &c, &h, &w, &err), -1);
    ck_assert_ptr_eq(px, (uint8_t *)(uintptr_t)0x1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ASSERT_HAS(err.message, path);
    ASSERT_HAS(err.message, what);
    ck_assert_msg(strncmp(err.message, path, strlen(path)) == 0, "%s", err.message);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(nr_png_info(path, &c, &h, &w, &err), in_header ? -1 : 0);
    if (in_header)
        ASSERT_HAS(err.message, path);
}

static void refused(const char *path, const char *what)
{
    refused_at(path, what, 1);
}

/* reads PATH (nr_png_read, or nr_image_read with a white background when
 * white) and checks the CHW pixels against want (c x 2 x 2) */
static void reads_as(const char *path, int white, int want_c, const uint8_t *want)
{
    nr_error err = {0};
    uint8_t *px = NULL;
    int c = 0, h = 0, w = 0;
    nr_image_prep prep = {.alpha = NR_ALPHA_WHITE};
    int rc = white ? nr_image_read(path, &prep, &px, &c, &h, &w, &err)
                   : nr_png_read(path, &px, &c, &h, &w, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert_int_eq(c, want_c);
    ck_assert_int_eq(h, 2);
    ck_assert_int_eq(w, 2);
    for (int i = 0; i < c * 4; i++)
        ck_assert_msg(px[i] == want[i], "%s: pixel %d is %u, want %u", path, i, px[i],
                      want[i]);
    free(px);
    int ic, ih, iw;
    ck_assert_msg(nr_png_info(path, &ic, &ih, &iw, &err) == 0, "%s", err.message);
    ck_assert_int_eq(ic, want_c);
    ck_assert_int_eq(ih, 2);
    ck_assert_int_eq(iw, 2);
}

/* round(v a / 255 + bg (255 - a) / 255), in doubles */
static uint8_t over(unsigned v, unsigned a, unsigned bg)
{
    return (uint8_t)lround((v * (double)a + bg * (255.0 - a)) / 255.0);
}

/* issue 14: 16-bit, alpha and tRNS are read (scaled, composited), no longer
 * refused */
START_TEST(reads_16bit_alpha_and_transparency)
{
    char buf[4096];
    const char *root = fresh_dir("alpha16", buf, sizeof buf);
    mkdir_in(root, "gray");
    mkdir_in(root, "rgb");
    mkdir_in(root, "gray/k");
    mkdir_in(root, "rgb/k");
    char p[4096];

    /* 16-bit gray: round(v * 255 / 65535) */
    unsigned g16v[4] = {0, 65535, 257 * 100 + 128, 257 * 100 + 129};
    unsigned char g16rows[8];
    uint8_t g16want[4];
    for (int i = 0; i < 4; i++) {
        g16rows[2 * i] = (unsigned char)(g16v[i] >> 8);
        g16rows[2 * i + 1] = (unsigned char)(g16v[i] & 255);
        g16want[i] = (uint8_t)lround(g16v[i] * 255.0 / 65535.0);
    }
    ck_assert_uint_eq(g16want[2], 100);
    ck_assert_uint_eq(g16want[3], 101);
    raw_png g16 = {.width = 2, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY,
                   .bit_depth = 16, .rows = g16rows, .rowbytes = 4};
    tpath(p, sizeof p, "%s/gray/k/g16.png", root);
    ck_assert_int_eq(raw_png_write(p, &g16), 0);
    reads_as(p, 0, 1, g16want);

    /* 16-bit RGB */
    unsigned char rgb16rows[24];
    uint8_t rgb16want[12];
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            unsigned v = (unsigned)(i * 16411 + k * 5003 + 77) % 65536u;
            rgb16rows[6 * i + 2 * k] = (unsigned char)(v >> 8);
            rgb16rows[6 * i + 2 * k + 1] = (unsigned char)(v & 255);
            rgb16want[k * 4 + i] = (uint8_t)lround(v * 255.0 / 65535.0);
        }
    raw_png rgb16 = {.width = 2, .height = 2, .color_type = PNG_COLOR_TYPE_RGB,
                     .bit_depth = 16, .rows = rgb16rows, .rowbytes = 12};
    tpath(p, sizeof p, "%s/rgb/k/rgb16.png", root);
    ck_assert_int_eq(raw_png_write(p, &rgb16), 0);
    reads_as(p, 0, 3, rgb16want);

    /* RGBA: composited on black */
    unsigned char rgbarows[16] = {200, 100, 50, 255, 200, 100, 50, 0,
                                  200, 100, 50, 128, 7, 250, 1, 77};
    uint8_t rgbawant[12];
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            rgbawant[k * 4 + i] = over(rgbarows[4 * i + k], rgbarows[4 * i + 3], 0);
    ck_assert_uint_eq(rgbawant[2], 100);   /* 200 * 128 / 255 = 100.39 */
    raw_png rgba = {.width = 2, .height = 2, .color_type = PNG_COLOR_TYPE_RGB_ALPHA,
                    .bit_depth = 8, .rows = rgbarows, .rowbytes = 8};
    tpath(p, sizeof p, "%s/rgb/k/rgba.png", root);
    ck_assert_int_eq(raw_png_write(p, &rgba), 0);
    reads_as(p, 0, 3, rgbawant);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            rgbawant[k * 4 + i] = over(rgbarows[4 * i + k], rgbarows[4 * i + 3], 255);
    ck_assert_uint_eq(rgbawant[1], 255);   /* fully transparent on white */
    reads_as(p, 1, 3, rgbawant);

    /* gray+alpha */
    unsigned char garows[8] = {255, 255, 255, 0, 100, 51, 7, 128};
    uint8_t gawant[4];
    for (int i = 0; i < 4; i++)
        gawant[i] = over(garows[2 * i], garows[2 * i + 1], 0);
    ck_assert_uint_eq(gawant[2], 20);
    raw_png ga = {.width = 2, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA,
                  .bit_depth = 8, .rows = garows, .rowbytes = 4};
    tpath(p, sizeof p, "%s/gray/k/ga.png", root);
    ck_assert_int_eq(raw_png_write(p, &ga), 0);
    reads_as(p, 0, 1, gawant);

    /* palette with tRNS: index 0 transparent */
    png_color pal[2] = {{1, 2, 3}, {4, 5, 6}};
    unsigned char alpha[1] = {0};
    unsigned char prows[4] = {0, 1, 1, 0};
    raw_png pt = {.width = 2, .height = 2, .color_type = PNG_COLOR_TYPE_PALETTE,
                  .bit_depth = 8, .rows = prows, .rowbytes = 2, .palette = pal,
                  .palette_count = 2, .trns = alpha, .trns_count = 1};
    tpath(p, sizeof p, "%s/rgb/k/ptrns.png", root);
    ck_assert_int_eq(raw_png_write(p, &pt), 0);
    const uint8_t ptwant_black[12] = {0, 4, 4, 0, 0, 5, 5, 0, 0, 6, 6, 0};
    const uint8_t ptwant_white[12] = {255, 4, 4, 255, 255, 5, 5, 255, 255, 6, 6, 255};
    reads_as(p, 0, 3, ptwant_black);
    reads_as(p, 1, 3, ptwant_white);

    /* gray with tRNS on value 0 */
    unsigned char gtrows[4] = {0, 9, 0, 200};
    raw_png gt = {.width = 2, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY,
                  .bit_depth = 8, .rows = gtrows, .rowbytes = 2, .gray_trns = 1};
    tpath(p, sizeof p, "%s/gray/k/gtrns.png", root);
    ck_assert_int_eq(raw_png_write(p, &gt), 0);
    const uint8_t gtwant_black[4] = {0, 9, 0, 200}, gtwant_white[4] = {255, 9, 255, 200};
    reads_as(p, 0, 1, gtwant_black);
    reads_as(p, 1, 1, gtwant_white);

    /* through a dataset load: the same pixels, in sorted order */
    nr_dataset *ds;
    tpath(p, sizeof p, "%s/gray", root);
    load_ok(p, 0, 2, &ds);
    ck_assert_uint_eq(ds->count, 3);
    ck_assert_int_eq(ds->channels, 1);
    ck_assert_mem_eq(ds->pixels, g16want, 4);          /* g16.png */
    ck_assert_mem_eq(ds->pixels + 4, gawant, 4);       /* ga.png */
    ck_assert_mem_eq(ds->pixels + 8, gtwant_black, 4); /* gtrns.png */
    nr_dataset_free(ds);
    tpath(p, sizeof p, "%s/rgb", root);
    load_ok(p, 0, 2, &ds);
    ck_assert_uint_eq(ds->count, 3);
    ck_assert_int_eq(ds->channels, 3);
    ck_assert_mem_eq(ds->pixels + 12, rgb16want, 12);  /* ptrns, rgb16, rgba */
    nr_dataset_free(ds);
}
END_TEST

START_TEST(odd_size_names_file_and_both_sizes)
{
    char buf[4096];
    const char *root = fresh_dir("odd", buf, sizeof buf);
    mkdir_in(root, "a");
    mkdir_in(root, "b");
    put_png(root, "a/0.png", 0, 1, 5, 4);
    put_png(root, "a/1.png", 1, 1, 5, 4);
    put_png(root, "b/0.png", 2, 1, 6, 4);   /* odd height */
    put_png(root, "b/1.png", 3, 3, 5, 4);   /* odd channels, later: not named */
    nr_error err;
    load_fails(root, &err);
    char p[4096];
    tpath(p, sizeof p, "%s/b/0.png", root);
    ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "%s", err.message);
    ASSERT_HAS(err.message, "1x6x4");
    ASSERT_HAS(err.message, "1x5x4");
    tpath(p, sizeof p, "%s/a/0.png", root);
    ASSERT_HAS(err.message, p);

    /* channels differ */
    tpath(p, sizeof p, "%s/b/0.png", root);
    unlink(p);
    load_fails(root, &err);
    tpath(p, sizeof p, "%s/b/1.png", root);
    ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "%s", err.message);
    ASSERT_HAS(err.message, "3x5x4");
    ASSERT_HAS(err.message, "1x5x4");
}
END_TEST

START_TEST(lowest_failing_index_wins)
{
    char buf[4096];
    const char *root = fresh_dir("lowest", buf, sizeof buf);
    mkdir_in(root, "c");
    for (int i = 0; i < 40; i++) {
        char rel[64];
        tpath(rel, sizeof rel, "c/%02d.png", i);
        put_png(root, rel, i, 1, 4, 4);
    }
    char p[4096];
    static const int bad[3] = {33, 17, 38};
    for (int k = 0; k < 3; k++) {
        tpath(p, sizeof p, "%s/c/%02d.png", root, bad[k]);
        write_bytes(p, "garbage garbage", 15);
    }
    tpath(p, sizeof p, "%s/c/17.png", root);
    for (int t = 1; t <= 8; t++) {
        nr_data_options o = {.use_cache = 0, .threads = t};
        nr_dataset *ds;
        nr_error err = {0};
        ck_assert_int_eq(nr_dataset_load(root, &o, &ds, &err), -1);
        ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "threads %d: %s", t,
                      err.message);
    }
}
END_TEST

START_TEST(corrupt_pngs_name_the_file)
{
    char buf[4096];
    const char *root = fresh_dir("corrupt", buf, sizeof buf);
    mkdir_in(root, "k");
    put_png(root, "k/good.png", 0, 1, 16, 16);
    char p[4096], good[4096];
    tpath(good, sizeof good, "%s/k/good.png", root);
    size_t n;
    unsigned char *bytes = read_bytes(good, &n);
    ck_assert_uint_gt(n, 60);

    tpath(p, sizeof p, "%s/k/garbage.png", root);
    write_bytes(p, "this is not a png at all, just some bytes", 41);
    refused(p, "not a PNG");

    tpath(p, sizeof p, "%s/k/truncated.png", root);
    write_bytes(p, bytes, n / 2);
    refused_at(p, "truncated", 0);

    tpath(p, sizeof p, "%s/k/short.png", root);
    write_bytes(p, bytes, 5); /* shorter than the signature */
    refused(p, "truncated");

    tpath(p, sizeof p, "%s/k/empty.png", root);
    write_bytes(p, "", 0);
    refused(p, "empty");

    /* a flipped byte inside IHDR: CRC mismatch */
    unsigned char *bad = malloc(n);
    memcpy(bad, bytes, n);
    bad[18] ^= 0x40;
    tpath(p, sizeof p, "%s/k/crc.png", root);
    write_bytes(p, bad, n);
    refused(p, "corrupt");

    /* compressed data overwritten */
    memcpy(bad, bytes, n);
    for (size_t i = 45; i < n - 20; i++)
        bad[i] = (unsigned char)(i * 31);
    tpath(p, sizeof p, "%s/k/zlib.png", root);
    write_bytes(p, bad, n);
    refused_at(p, "corrupt PNG", 0);
    free(bad);

    tpath(p, sizeof p, "%s/k/missing.png", root);
    refused(p, "cannot open");

    /* through a dataset: the first file in sorted order (crc.png) is named */
    nr_error err;
    load_fails(root, &err);
    tpath(p, sizeof p, "%s/k/crc.png", root);
    ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "%s", err.message);
    free(bytes);
}
END_TEST

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* a PNG whose IHDR claims W x H, followed by a tiny IDAT and IEND */
static void write_fake_header(const char *path, uint32_t w, uint32_t h)
{
    unsigned char b[128];
    size_t n = 0;
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    memcpy(b, sig, 8);
    n = 8;
    /* IHDR */
    put_be32(b + n, 13);
    memcpy(b + n + 4, "IHDR", 4);
    put_be32(b + n + 8, w);
    put_be32(b + n + 12, h);
    b[n + 16] = 8; /* bit depth */
    b[n + 17] = 0; /* gray */
    b[n + 18] = 0;
    b[n + 19] = 0;
    b[n + 20] = 0;
    put_be32(b + n + 21, crc32_of(b + n + 4, 17));
    n += 25;
    /* IDAT with a few bytes */
    static const unsigned char z[8] = {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00};
    put_be32(b + n, 8);
    memcpy(b + n + 4, "IDAT", 4);
    memcpy(b + n + 8, z, 8);
    put_be32(b + n + 16, crc32_of(b + n + 4, 12));
    n += 20;
    put_be32(b + n, 0);
    memcpy(b + n + 4, "IEND", 4);
    put_be32(b + n + 8, crc32_of(b + n + 4, 4));
    n += 12;
    write_bytes(path, b, n);
}

START_TEST(huge_header_refused_before_allocating)
{
    char buf[4096];
    const char *root = fresh_dir("huge", buf, sizeof buf);
    mkdir_in(root, "k");
    char p[4096];
    /* 100000 x 100000 would need 10 GB; the message must be the limit check
     * (an attempted allocation would give "out of memory" or, with
     * overcommit, a data error from the tiny IDAT instead) */
    tpath(p, sizeof p, "%s/k/huge.png", root);
    write_fake_header(p, 100000, 100000);
    refused(p, "100000x100000");
    refused(p, "16384x16384 limit");
    tpath(p, sizeof p, "%s/k/wide.png", root);
    write_fake_header(p, 16385, 1);
    refused(p, "limit");
    /* the limit itself is allowed by the header check (probe reads only it) */
    tpath(p, sizeof p, "%s/k/edge.png", root);
    write_fake_header(p, 16384, 2);
    int c, h, w;
    nr_error err = {0};
    ck_assert_msg(nr_png_info(p, &c, &h, &w, &err) == 0, "%s", err.message);
    ck_assert_int_eq(w, 16384);
    ck_assert_int_eq(h, 2);
    /* through probe: the first file (edge.png) is fine; through load the
     * first decoded file is edge.png, whose data is missing -> corrupt */
    ck_assert_msg(nr_dataset_probe(root, &c, &h, &w, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c, 1);
    tpath(p, sizeof p, "%s/k/edge.png", root);
    unlink(p);
    tpath(p, sizeof p, "%s/k/huge.png", root);
    ck_assert_int_eq(nr_dataset_probe(root, &c, &h, &w, &err), -1);
    ASSERT_HAS(err.message, p);
    ASSERT_HAS(err.message, "limit");
    load_fails(root, &err);
    ASSERT_HAS(err.message, p);
    ASSERT_HAS(err.message, "limit");
}
END_TEST

START_TEST(folder_errors)
{
    char buf[4096], p[4096];
    nr_error err;

    /* empty class folder */
    const char *root = make_gray_set("emptyclass", buf, sizeof buf);
    mkdir_in(root, "eel");
    tpath(p, sizeof p, "%s/eel/.keep", root); /* hidden: still empty */
    write_bytes(p, "", 0);
    load_fails(root, &err);
    tpath(p, sizeof p, "%s/eel:", root);
    ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "%s", err.message);
    ASSERT_HAS(err.message, "no images");

    /* non-png file in a class folder */
    root = make_gray_set("nonpng", buf, sizeof buf);
    tpath(p, sizeof p, "%s/dog/notes.txt", root);
    write_bytes(p, "hello", 5);
    load_fails(root, &err);
    ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "%s", err.message);
    ASSERT_HAS(err.message, ".png");

    /* a folder inside a class folder */
    root = make_gray_set("subdir", buf, sizeof buf);
    mkdir_in(root, "cat/deeper.png");
    load_fails(root, &err);
    tpath(p, sizeof p, "%s/cat/deeper.png", root);
    ASSERT_HAS(err.message, p);

    /* a file at class level */
    root = make_gray_set("rootfile", buf, sizeof buf);
    tpath(p, sizeof p, "%s/README", root);
    write_bytes(p, "x", 1);
    load_fails(root, &err);
    ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "%s", err.message);
    ASSERT_HAS(err.message, "class folder");

    /* no class folders at all */
    root = fresh_dir("noclasses", buf, sizeof buf);
    load_fails(root, &err);
    ASSERT_HAS(err.message, root);
    ASSERT_HAS(err.message, "no class folders");

    /* missing root: generic hint */
    tpath(p, sizeof p, "%s/does-not-exist", g_base);
    load_fails(p, &err);
    ck_assert_msg(strncmp(err.message, p, strlen(p)) == 0, "%s", err.message);
    ASSERT_HAS(err.message, "not found");
    ASSERT_HAS(err.message, "<class>/<image>.png");

    /* missing data/mnist/{Train,Test}: fetch hint (trailing slash tolerated) */
    tpath(p, sizeof p, "%s/data/mnist/Train/", g_base);
    load_fails(p, &err);
    ASSERT_HAS(err.message, "run tools/fetch-mnist first");
    tpath(p, sizeof p, "%s/data/mnist/Test", g_base);
    load_fails(p, &err);
    ASSERT_HAS(err.message, "run tools/fetch-mnist first");
    int c, h, w;
    ck_assert_int_eq(nr_dataset_probe(p, &c, &h, &w, &err), -1);
    ASSERT_HAS(err.message, "run tools/fetch-mnist first");
    /* missing data/synth_cifar/{Train,Test}: its own tool */
    tpath(p, sizeof p, "%s/data/synth_cifar/Test", g_base);
    load_fails(p, &err);
    ASSERT_HAS(err.message, "run tools/make-synth-cifar first");
    ck_assert_msg(strstr(err.message, "fetch-mnist") == NULL, "%s", err.message);
    /* ...but not for a name that merely ends the same way */
    tpath(p, sizeof p, "%s/data/xmnist/Train", g_base);
    load_fails(p, &err);
    ck_assert_msg(strstr(err.message, "fetch-mnist") == NULL, "%s", err.message);

    /* root is a file */
    tpath(p, sizeof p, "%s/plainfile", g_base);
    write_bytes(p, "x", 1);
    load_fails(p, &err);
    ASSERT_HAS(err.message, "not a folder");
}
END_TEST

START_TEST(check_pair_classes_and_shape)
{
    char b1[4096], b2[4096], b3[4096];
    const char *train = fresh_dir("pair-train", b1, sizeof b1);
    const char *test = fresh_dir("pair-test", b2, sizeof b2);
    const char *rgb = fresh_dir("pair-rgb", b3, sizeof b3);
    static const char *tr[3] = {"cat", "dog", "zebra"};
    for (int i = 0; i < 3; i++) {
        char rel[64];
        mkdir_in(train, tr[i]);
        mkdir_in(test, tr[i]);
        mkdir_in(rgb, tr[i]);
        tpath(rel, sizeof rel, "%s/0.png", tr[i]);
        put_png(train, rel, i, 1, 4, 4);
        put_png(test, rel, i + 9, 1, 4, 4);
        put_png(rgb, rel, i, 3, 4, 4);
    }
    nr_dataset *a, *b, *c;
    nr_error err = {0};
    load_ok(train, 0, 1, &a);
    load_ok(test, 0, 1, &b);
    load_ok(rgb, 0, 1, &c);
    ck_assert_msg(nr_dataset_check_pair(a, b, &err) == 0, "%s", err.message);

    ck_assert_int_eq(nr_dataset_check_pair(a, c, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ASSERT_HAS(err.message, "3x4x4");
    ASSERT_HAS(err.message, "1x4x4");
    ASSERT_HAS(err.message, rgb);
    nr_dataset_free(b);
    nr_dataset_free(c);

    /* Test lacks zebra, has yak instead */
    char p[4096];
    tpath(p, sizeof p, "%s/zebra/0.png", test);
    unlink(p);
    tpath(p, sizeof p, "%s/zebra", test);
    rmdir(p);
    mkdir_in(test, "yak");
    put_png(test, "yak/0.png", 1, 1, 4, 4);
    load_ok(test, 0, 1, &b);
    ck_assert_int_eq(nr_dataset_check_pair(a, b, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ASSERT_HAS(err.message, "yak");
    ASSERT_HAS(err.message, "same class folders");
    ck_assert_int_eq(nr_dataset_check_pair(b, a, &err), -1);
    ASSERT_HAS(err.message, "yak");
    ASSERT_HAS(err.message, train);
    nr_dataset_free(b);

    /* Test has fewer classes */
    tpath(p, sizeof p, "%s/yak/0.png", test);
    unlink(p);
    tpath(p, sizeof p, "%s/yak", test);
    rmdir(p);
    load_ok(test, 0, 1, &b);
    ck_assert_int_eq(nr_dataset_check_pair(a, b, &err), -1);
    ASSERT_HAS(err.message, "zebra");
    ASSERT_HAS(err.message, test);
    nr_dataset_free(b);
    nr_dataset_free(a);
}
END_TEST

START_TEST(probe_reads_first_header)
{
    char buf[4096];
    const char *root = make_gray_set("probe", buf, sizeof buf);
    /* a later file is corrupt: probe does not look at it */
    char p[4096];
    tpath(p, sizeof p, "%s/zebra/z2.png", root);
    write_bytes(p, "nonsense", 8);
    int c = 0, h = 0, w = 0;
    nr_error err = {0};
    ck_assert_msg(nr_dataset_probe(root, &c, &h, &w, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c, 1);
    ck_assert_int_eq(h, 5);
    ck_assert_int_eq(w, 4);
    /* probe of an empty first class names it */
    mkdir_in(root, "aardvark");
    ck_assert_int_eq(nr_dataset_probe(root, &c, &h, &w, &err), -1);
    tpath(p, sizeof p, "%s/aardvark", root);
    ASSERT_HAS(err.message, p);
}
END_TEST

START_TEST(survey_lists_without_decoding)
{
    char buf[4096], other[4096];
    const char *root = make_gray_set("survey", buf, sizeof buf);
    /* a later file is corrupt: the survey reads only the first header */
    char p[4096];
    tpath(p, sizeof p, "%s/zebra/z2.png", root);
    write_bytes(p, "nonsense", 8);
    nr_dataset_info info;
    nr_error err = {0};
    ck_assert_msg(nr_dataset_survey(root, &info, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(info.count, 7);
    ck_assert_uint_eq(info.class_count, 3);
    ck_assert_str_eq(info.class_names[0], "cat");
    ck_assert_str_eq(info.class_names[2], "zebra");
    ck_assert_uint_eq(info.class_sizes[0], 3);
    ck_assert_uint_eq(info.class_sizes[1], 2);
    ck_assert_uint_eq(info.class_sizes[2], 2);
    tpath(p, sizeof p, "%s/cat/a.png", root);
    ck_assert_str_eq(info.first_image, p);
    ck_assert_int_eq(info.channels, 1);
    ck_assert_int_eq(info.height, 5);
    ck_assert_int_eq(info.width, 4);
    ck_assert_int_eq(nr_dataset_info_check_pair(&info, &info, &err), 0);

    /* another set: 'dog' missing, 'emu' and 'fox' extra, RGB first image */
    const char *test = fresh_dir("survey-other", other, sizeof other);
    static const char *names[] = {"cat", "emu", "fox", "zebra"};
    for (int i = 0; i < 4; i++) {
        mkdir_in(test, names[i]);
        tpath(p, sizeof p, "%s/0.png", names[i]);
        put_png(test, p, i, 3, 5, 4);
    }
    nr_dataset_info test_info;
    ck_assert_msg(nr_dataset_survey(test, &test_info, &err) == 0, "%s", err.message);
    ck_assert_int_eq(nr_dataset_info_check_pair(&info, &test_info, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ASSERT_HAS(err.message, test);
    ASSERT_HAS(err.message, "(4 classes here, 3 there)");
    ASSERT_HAS(err.message, "no folder for 'dog'; extra folders 'emu', 'fox'");
    /* same classes, other shape: both first files named */
    ck_assert_int_eq(nr_dataset_info_check_pair(&test_info, &test_info, &err), 0);
    nr_dataset_info_free(&test_info);
    tpath(p, sizeof p, "%s/emu", test);
    char q[4096];
    tpath(q, sizeof q, "%s/dog", test);
    ck_assert_int_eq(rename(p, q), 0);
    tpath(p, sizeof p, "%s/fox/0.png", test);
    unlink(p);
    tpath(p, sizeof p, "%s/fox", test);
    rmdir(p);
    ck_assert_msg(nr_dataset_survey(test, &test_info, &err) == 0, "%s", err.message);
    ck_assert_int_eq(nr_dataset_info_check_pair(&info, &test_info, &err), -1);
    ASSERT_HAS(err.message, info.first_image);
    ASSERT_HAS(err.message, test_info.first_image);
    ASSERT_HAS(err.message, "1x5x4");
    ASSERT_HAS(err.message, "3x5x4");
    nr_dataset_info_free(&test_info);
    nr_dataset_info_free(&info);
    ck_assert_ptr_null(info.class_names);

    /* a missing folder: the load's message, *out zeroed */
    tpath(p, sizeof p, "%s/nope", root);
    ck_assert_int_eq(nr_dataset_survey(p, &info, &err), -1);
    ASSERT_HAS(err.message, "dataset folder not found");
    ck_assert_ptr_null(info.root);
}
END_TEST

/* ------------------------------------------------------------ tests: cache */

static nr_dataset *load_cached(const char *root, int expect_from_cache)
{
    nr_dataset *ds;
    load_ok(root, 1, 2, &ds);
    ck_assert_msg(ds->from_cache == expect_from_cache, "%s: from_cache %d, expected %d",
                  root, ds->from_cache, expect_from_cache);
    return ds;
}

START_TEST(cache_hit_and_invalidation)
{
    char buf[4096], p[4096], cache[4096];
    const char *root = make_gray_set("cache", buf, sizeof buf);
    tpath(cache, sizeof cache, "%s/.netrun-cache", root);

    /* use_cache 0 neither reads nor writes it */
    nr_dataset *plain;
    load_ok(root, 0, 2, &plain);
    ck_assert(!exists(cache));

    nr_dataset *a = load_cached(root, 0);
    ck_assert(exists(cache));
    nr_dataset *b = load_cached(root, 1);
    assert_same(plain, a);
    assert_same(a, b);
    nr_dataset_free(b);
    nr_dataset_free(a);
    /* no temporary cache files left behind */
    DIR *d = opendir(root);
    struct dirent *de;
    int entries = 0;
    while ((de = readdir(d)) != NULL)
        entries += strstr(de->d_name, ".netrun-cache") && strcmp(de->d_name, ".netrun-cache") != 0;
    closedir(d);
    ck_assert_int_eq(entries, 0);

    /* touching a file (new mtime, same content) invalidates */
    tpath(p, sizeof p, "%s/dog/x.png", root);
    set_mtime(p, 1000000000, 123);
    a = load_cached(root, 0);
    assert_same(plain, a);
    nr_dataset_free(a);
    a = load_cached(root, 1);
    nr_dataset_free(a);
    set_mtime(p, 1000000000, 124); /* nanoseconds count too */
    a = load_cached(root, 0);
    nr_dataset_free(a);

    /* new content */
    put_png(root, "dog/x.png", 42, 1, 5, 4);
    set_mtime(p, 1000000001, 0);
    a = load_cached(root, 0);
    ck_assert_uint_eq(a->pixels[3 * 20 + 7], pattern(42, 0, 1, 3));
    nr_dataset *again = load_cached(root, 1);
    assert_same(a, again);
    nr_dataset_free(again);
    nr_dataset_free(a);

    /* a file added */
    put_png(root, "dog/w.png", 50, 1, 5, 4);
    a = load_cached(root, 0);
    ck_assert_uint_eq(a->count, 7);
    ck_assert_str_eq(a->files[3], "dog/w.png");
    ck_assert_uint_eq(a->pixels[3 * 20], pattern(50, 0, 0, 0));
    nr_dataset_free(a);
    a = load_cached(root, 1);
    ck_assert_uint_eq(a->count, 7);
    nr_dataset_free(a);

    /* a file removed */
    tpath(p, sizeof p, "%s/cat/b.png", root);
    ck_assert_int_eq(unlink(p), 0);
    a = load_cached(root, 0);
    ck_assert_uint_eq(a->count, 6);
    ck_assert_str_eq(a->files[1], "cat/c.png");
    ck_assert_uint_eq(a->pixels[20], pattern(2, 0, 0, 0));
    nr_dataset_free(a);

    /* a file renamed (same size and mtime) */
    char q[4096];
    tpath(p, sizeof p, "%s/cat/c.png", root);
    tpath(q, sizeof q, "%s/cat/d.png", root);
    ck_assert_int_eq(rename(p, q), 0);
    a = load_cached(root, 0);
    ck_assert_str_eq(a->files[1], "cat/d.png");
    nr_dataset_free(a);
    nr_dataset_free(plain);
}
END_TEST

START_TEST(corrupt_cache_is_rebuilt)
{
    char buf[4096], cache[4096];
    const char *root = make_gray_set("cache-corrupt", buf, sizeof buf);
    tpath(cache, sizeof cache, "%s/.netrun-cache", root);
    nr_dataset *ref;
    load_ok(root, 0, 1, &ref);
    nr_dataset *a = load_cached(root, 0);
    nr_dataset_free(a);
    size_t n;
    unsigned char *orig = read_bytes(cache, &n);
    ck_assert_uint_gt(n, 120);

    /* one pixel byte flipped (last byte of the file is a pixel) */
    unsigned char *bad = malloc(n);
    memcpy(bad, orig, n);
    bad[n - 1] ^= 0x01;
    write_bytes(cache, bad, n);
    a = load_cached(root, 0);
    assert_same(ref, a);
    nr_dataset_free(a);
    a = load_cached(root, 1);
    nr_dataset_free(a);

    /* header field changed */
    memcpy(bad, orig, n);
    bad[20] ^= 0x02; /* width */
    write_bytes(cache, bad, n);
    a = load_cached(root, 0);
    assert_same(ref, a);
    nr_dataset_free(a);

    /* truncated */
    write_bytes(cache, orig, n - 7);
    a = load_cached(root, 0);
    assert_same(ref, a);
    nr_dataset_free(a);

    /* garbage and empty */
    write_bytes(cache, "NRCACHE1 but not really", 24);
    a = load_cached(root, 0);
    assert_same(ref, a);
    nr_dataset_free(a);
    write_bytes(cache, "", 0);
    a = load_cached(root, 0);
    assert_same(ref, a);
    nr_dataset_free(a);
    a = load_cached(root, 1);
    assert_same(ref, a);
    nr_dataset_free(a);

    /* a cache from another folder with the same structure is not taken
     * unless the fingerprint matches: copy a cache of different pixels */
    char b2[4096], other_cache[4096];
    const char *other = make_gray_set("cache-other", b2, sizeof b2);
    put_png(other, "cat/a.png", 99, 1, 5, 4);
    a = load_cached(other, 0);
    nr_dataset_free(a);
    tpath(other_cache, sizeof other_cache, "%s/.netrun-cache", other);
    size_t n2;
    unsigned char *oc = read_bytes(other_cache, &n2);
    write_bytes(cache, oc, n2);
    free(oc);
    a = load_cached(root, 0);
    assert_same(ref, a);
    nr_dataset_free(a);

    free(bad);
    free(orig);
    nr_dataset_free(ref);
}
END_TEST

START_TEST(unwritable_cache_is_not_an_error)
{
    char buf[4096], cache[4096];
    const char *root = make_gray_set("cache-ro", buf, sizeof buf);
    tpath(cache, sizeof cache, "%s/.netrun-cache", root);
    /* a folder where the cache file should be: neither readable nor
     * replaceable, works even as root (who ignores permission bits) */
    ck_assert_int_eq(mkdir(cache, 0755), 0);
    nr_dataset *a = load_cached(root, 0);
    ck_assert_uint_eq(a->count, 6);
    nr_dataset_free(a);
    a = load_cached(root, 0);
    nr_dataset_free(a);
    struct stat st;
    ck_assert_int_eq(stat(cache, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(rmdir(cache), 0);

    /* read-only folder (only meaningful when not root) */
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(root, 0555), 0);
        a = load_cached(root, 0);
        ck_assert_uint_eq(a->count, 6);
        nr_dataset_free(a);
        ck_assert(!exists(cache));
        chmod(root, 0755);
    }
}
END_TEST

/* ------------------------------------------------------------ tests: png */

START_TEST(png_round_trip)
{
    char buf[4096];
    const char *dir = fresh_dir("roundtrip", buf, sizeof buf);
    static const int shapes[][3] = {{1, 1, 1}, {1, 28, 28}, {3, 7, 13}, {3, 1, 300},
                                    {1, 300, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int c = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
        uint8_t *px = make_image((int)s + 3, c, h, w);
        char p[4096];
        tpath(p, sizeof p, "%s/img%zu.png", dir, s);
        nr_error err = {0};
        ck_assert_msg(nr_png_write(p, px, c, h, w, &err) == 0, "%s", err.message);
        uint8_t *back = NULL;
        int c2, h2, w2;
        ck_assert_msg(nr_png_read(p, &back, &c2, &h2, &w2, &err) == 0, "%s",
                      err.message);
        ck_assert_int_eq(c2, c);
        ck_assert_int_eq(h2, h);
        ck_assert_int_eq(w2, w);
        ck_assert_int_eq(memcmp(px, back, (size_t)c * h * w), 0);
        free(back);
        /* overwrite in place: still atomic, new content */
        px[0] ^= 0xff;
        ck_assert_msg(nr_png_write(p, px, c, h, w, &err) == 0, "%s", err.message);
        ck_assert_msg(nr_png_read(p, &back, &c2, &h2, &w2, &err) == 0, "%s",
                      err.message);
        ck_assert_uint_eq(back[0], px[0]);
        free(back);
        free(px);
    }
    /* nothing but the PNGs in the folder (no temporaries) */
    DIR *d = opendir(dir);
    struct dirent *de;
    int other = 0, pngs = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (strstr(de->d_name, ".png") && de->d_name[0] != '.')
            pngs++;
        else
            other++;
    }
    closedir(d);
    ck_assert_int_eq(pngs, 5);
    ck_assert_int_eq(other, 0);

    /* unwritable destination: error naming the path */
    char p[4096];
    tpath(p, sizeof p, "%s/no/such/folder/x.png", dir);
    uint8_t one = 7;
    nr_error err = {0};
    ck_assert_int_eq(nr_png_write(p, &one, 1, 1, 1, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ASSERT_HAS(err.message, p);
    ck_assert_int_eq(nr_png_write(p, &one, 2, 1, 1, &err), -1);
    ASSERT_HAS(err.message, "channels");
}
END_TEST

START_TEST(dataset_memory_check)
{
    /* a CIFAR-shaped survey, as nr_dataset_survey would fill it */
    char root[] = "big/Train", test_root[] = "big/Test";
    nr_dataset_info train = {.root = root, .count = 50000, .channels = 3, .height = 32,
                             .width = 32};
    nr_dataset_info test = {.root = test_root, .count = 10000, .channels = 3, .height = 32,
                            .width = 32};
    size_t bytes = 0;
    ck_assert(nr_dataset_info_bytes(&train, &bytes));
    ck_assert_uint_eq(bytes, (size_t)50000 * 3 * 32 * 32);   /* 153 600 000 */
    nr_error err = {0};
    /* 184 320 000 bytes in all: fits in 1 GiB, not in 100 MB */
    ck_assert_int_eq(nr_dataset_check_memory(&train, &test, 1024.0 * 1024 * 1024, &err), 0);
    ck_assert_int_eq(nr_dataset_check_memory(&train, &test, 184320000.0, &err), 0);
    ck_assert_int_eq(nr_dataset_check_memory(&train, &test, 184319999.0, &err), -1);
    ck_assert_int_eq(err.status, NR_EXIT_INPUT);
    ck_assert_msg(strstr(err.message, "big/Train: error: the data does not fit in memory") &&
                  strstr(err.message, "need 0.2 GiB") &&
                  strstr(err.message, "big/Train: 50000 images x 3x32x32 bytes = 0.1 GiB") &&
                  strstr(err.message, "big/Test: 10000 images x 3x32x32 bytes"),
                  "%s", err.message);
    /* a fake count of 10^12 4096x4096 RGB images overflows size_t: refused */
    train.count = (size_t)1000000000000ull;
    train.height = train.width = 4096;
    ck_assert(!nr_dataset_info_bytes(&train, &bytes));
    ck_assert_int_eq(nr_dataset_check_memory(&train, NULL, 64.0 * (1u << 30), &err), -1);
    ck_assert_msg(strstr(err.message, "more than 16 EiB"), "%s", err.message);
    /* unknown memory (0): no check */
    ck_assert_int_eq(nr_dataset_check_memory(&train, NULL, 0.0, &err), 0);
}
END_TEST

START_TEST(class_imbalance_warning)
{
    char a[] = "cat", b[] = "dog", c[] = "eel";
    char *names[3] = {a, b, c};
    size_t sizes[3] = {30, 3, 20};
    char buf[512];
    /* 30 = 10x 3: not over 10x */
    ck_assert(!nr_class_imbalance("D", names, sizes, 3, buf, sizeof buf));
    ck_assert_str_eq(buf, "");
    sizes[1] = 2;
    ck_assert(nr_class_imbalance("D", names, sizes, 3, buf, sizeof buf));
    ck_assert_str_eq(buf, "D: warning: class 'cat' has 30 images, 15.0x the 2 of class 'dog'; "
                          "an imbalance over 10x: consider train.class_weights: balanced");
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gray_dataset_loads);
    tcase_add_test(tc, thread_counts_agree);
    tcase_add_test(tc, rgb_dataset_is_chw);
    tcase_add_test(tc, palette_and_low_bit_depth_convert);
    tcase_add_test(tc, reads_16bit_alpha_and_transparency);
    tcase_add_test(tc, odd_size_names_file_and_both_sizes);
    tcase_add_test(tc, lowest_failing_index_wins);
    tcase_add_test(tc, corrupt_pngs_name_the_file);
    tcase_add_test(tc, huge_header_refused_before_allocating);
    tcase_add_test(tc, folder_errors);
    tcase_add_test(tc, check_pair_classes_and_shape);
    tcase_add_test(tc, probe_reads_first_header);
    tcase_add_test(tc, survey_lists_without_decoding);
    tcase_add_test(tc, cache_hit_and_invalidation);
    tcase_add_test(tc, corrupt_cache_is_rebuilt);
    tcase_add_test(tc, unwritable_cache_is_not_an_error);
    tcase_add_test(tc, png_round_trip);
    tcase_add_test(tc, dataset_memory_check);
    tcase_add_test(tc, class_imbalance_warning);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
