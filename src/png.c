/* png.c - reading and writing single PNG images with libpng.
 *
 * Reading (nr_png_decode, src/image_decode.h) accepts every PNG color type
 * and bit depth and gives 8-bit samples HWC as stored: gray, gray+alpha, RGB
 * or RGBA; palette images expanded (to gray when every entry is gray);
 * 1/2/4-bit gray scaled to 0..255, 16-bit to 8 bits (round(v / 257)); tRNS
 * turned into an alpha channel. The header is checked against
 * NR_IMAGE_MAX_SIDE and against the file's size (what deflate can pack into
 * it) before any pixel memory is allocated; ancillary chunks but tRNS are
 * skipped unread.
 *
 * libpng reports errors with longjmp; every function here keeps the state that
 * must survive a longjmp in a struct (not in non-volatile locals) and never
 * calls back into the caller between setjmp and the end of decoding.
 */
#include <errno.h>
#include <limits.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_decode.h"
#include "netrun/fileio.h"
#include "netrun/image.h"

#define NR_PNG_MAX_SIDE NR_IMAGE_MAX_SIDE
#define MAX_DEFLATE_RATIO 1032ull   /* the most deflate can compress (258 bytes in 2 bits) */
#define MAX_CHUNK_MALLOC (8u << 20)  /* libpng's own buffer for one chunk (not IDAT) */

/* ---------------------------------------------------------------- reading */

typedef struct png_reader {
    FILE *fp;
    unsigned long long size;   /* bytes in the file */
    int eof;               /* a read came up short: the file is truncated */
    char libmsg[256];      /* libpng's error text */
    jmp_buf jmp;
} png_reader;

static void reader_error(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->libmsg, sizeof r->libmsg, "%s", msg ? msg : "unknown error");
    longjmp(r->jmp, 1);
}

static void reader_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void reader_read(png_structp png, png_bytep data, size_t len)
{
    png_reader *r = png_get_io_ptr(png);
    if (fread(data, 1, len, r->fp) != len) {
        r->eof = feof(r->fp) ? 1 : 0;
        png_error(png, r->eof ? "unexpected end of file" : "read error");
    }
}

/* What the header says and how to turn the rows into pixels. */
typedef struct png_layout {
    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    int samples;              /* per pixel in the file: 1 gray/palette, 2, 3, 4 */
    int channels;             /* of the result: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int palette_gray;         /* palette whose entries all have r == g == b */
    int palette_count;
    png_color palette[256];
    int trns;                 /* a tRNS chunk: alpha from it */
    unsigned char trns_alpha[256];  /* palette: alpha of each index (255 past the chunk) */
    unsigned trns_gray, trns_rgb[3];   /* gray / RGB: the transparent value, file depth */
} png_layout;

/* Reads up to the first IDAT and checks that the image is supported.
 * Only called between setjmp and the end of decoding (may longjmp). Returns 0
 * or -1 with err filled. */
static int read_layout(png_structp png, png_infop info, const char *path,
                       png_layout *lay, nr_error *err)
{
    png_read_info(png, info);
    lay->width = png_get_image_width(png, info);
    lay->height = png_get_image_height(png, info);
    lay->bit_depth = png_get_bit_depth(png, info);
    lay->color_type = png_get_color_type(png, info);
    lay->interlace = png_get_interlace_type(png, info);

    if (lay->width > NR_PNG_MAX_SIDE || lay->height > NR_PNG_MAX_SIDE)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: image is %lux%lu (width x height), larger than the "
                       "%dx%d limit; use smaller images",
                       path, (unsigned long)lay->width, (unsigned long)lay->height,
                       NR_PNG_MAX_SIDE, NR_PNG_MAX_SIDE);

    lay->trns = png_get_valid(png, info, PNG_INFO_tRNS) ? 1 : 0;
    png_bytep trans_alpha = NULL;
    int num_trans = 0;
    png_color_16p trans_color = NULL;
    if (lay->trns && !png_get_tRNS(png, info, &trans_alpha, &num_trans, &trans_color))
        lay->trns = 0;
    switch (lay->color_type) {
    case PNG_COLOR_TYPE_GRAY:
        lay->samples = 1;
        lay->channels = 1;
        if (lay->trns && trans_color)
            lay->trns_gray = trans_color->gray;
        else
            lay->trns = 0;
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        lay->samples = lay->channels = 2;
        lay->trns = 0;
        break;
    case PNG_COLOR_TYPE_RGB:
        lay->samples = 3;
        lay->channels = 3;
        if (lay->trns && trans_color) {
            lay->trns_rgb[0] = trans_color->red;
            lay->trns_rgb[1] = trans_color->green;
            lay->trns_rgb[2] = trans_color->blue;
        } else {
            lay->trns = 0;
        }
        break;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        lay->samples = lay->channels = 4;
        lay->trns = 0;
        break;
    case PNG_COLOR_TYPE_PALETTE: {
        png_colorp pal = NULL;
        int n = 0;
        if (!png_get_PLTE(png, info, &pal, &n) || n <= 0 || n > 256)
            return nr_fail(err, NR_EXIT_INPUT,
                           "%s: error: corrupt PNG: palette image without a palette; "
                           "re-create the file", path);
        lay->palette_count = n;
        memcpy(lay->palette, pal, (size_t)n * sizeof *pal);
        lay->palette_gray = 1;
        for (int i = 0; i < n; i++)
            if (pal[i].red != pal[i].green || pal[i].red != pal[i].blue)
                lay->palette_gray = 0;
        memset(lay->trns_alpha, 255, sizeof lay->trns_alpha);
        if (lay->trns && trans_alpha && num_trans > 0)
            memcpy(lay->trns_alpha, trans_alpha, (size_t)(num_trans > 256 ? 256 : num_trans));
        else
            lay->trns = 0;
        lay->samples = 1;
        lay->channels = lay->palette_gray ? 1 : 3;
        break;
    }
    default:
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: unsupported PNG color type %d; only gray, RGB, palette, "
                       "gray+alpha or RGBA images are supported", path, lay->color_type);
    }
    if (lay->trns)
        lay->channels += 1;
    return 0;
}

/* Opens PATH and checks size and signature; fills r->fp. */
static int open_png(const char *path, png_reader *r, nr_error *err)
{
    r->fp = fopen(path, "rb");
    if (!r->fp)
        return nr_fail(err, errno == ENOMEM ? NR_EXIT_INTERNAL : NR_EXIT_INPUT,
                       "%s: error: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(r->fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(r->fp);
        r->fp = NULL;
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: is a folder, not a PNG file", path);
    }
    r->size = fstat(fileno(r->fp), &st) == 0 && S_ISREG(st.st_mode)
                  ? (unsigned long long)st.st_size : ULLONG_MAX;
    unsigned char sig[8];
    size_t got = fread(sig, 1, sizeof sig, r->fp);
    if (got == 0 && ferror(r->fp)) {
        int e = errno;
        fclose(r->fp);
        r->fp = NULL;
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read: %s", path,
                       strerror(e));
    }
    if (got == 0) {
        fclose(r->fp);
        r->fp = NULL;
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: empty file (0 bytes); expected a PNG image", path);
    }
    if (got < sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
        int prefix_ok = png_sig_cmp(sig, 0, got) == 0;
        fclose(r->fp);
        r->fp = NULL;
        if (prefix_ok)
            return nr_fail(err, NR_EXIT_INPUT,
                           "%s: error: truncated PNG (%zu bytes, shorter than the "
                           "signature); re-create the file", path, got);
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: not a PNG file (bad signature); expected an 8-bit "
                       "gray or RGB PNG image", path);
    }
    return 0;
}

/* Shared body of the header-only and full reads. Kept separate from the
 * public function so that all state crossing setjmp lives in *s. */
typedef struct png_job {
    png_reader r;
    png_structp png;
    png_infop info;
    png_layout lay;
    uint8_t *raw;        /* rows as libpng delivers them, when they need converting */
    png_bytep *rows;
    uint8_t *out;        /* HWC result */
    int failed_check;    /* err was filled by our own check, not libpng */
} png_job;

static void job_cleanup(png_job *s)
{
    if (s->png)
        png_destroy_read_struct(&s->png, s->info ? &s->info : NULL, NULL);
    if (s->r.fp)
        fclose(s->r.fp);
    free(s->rows);
    free(s->raw);
    free(s->out);
    s->png = NULL;
    s->info = NULL;
    s->r.fp = NULL;
    s->rows = NULL;
    s->raw = NULL;
    s->out = NULL;
}

static int libpng_failure(png_job *s, const char *path, nr_error *err)
{
    if (s->r.eof)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: truncated PNG (unexpected end of file); re-create "
                       "the file", path);
    return nr_fail(err, NR_EXIT_INPUT,
                   "%s: error: corrupt PNG (libpng: %s); re-create the file", path,
                   s->r.libmsg);
}

/* one sample of a row delivered at bit depth `depth` (packed depths already
 * unpacked to a byte each), as read: 0..2^depth-1 */
static inline unsigned sample_at(const uint8_t *row, size_t i, int depth)
{
    if (depth == 16)
        return ((unsigned)row[2 * i] << 8) | row[2 * i + 1];
    return row[i];
}

/* a sample of depth `depth` scaled to 8 bits: 1/2/4 bits exactly (255 is a
 * multiple of 1, 3 and 15), 16 bits rounded (v * 255 / 65535 = v / 257) */
static inline uint8_t to8(unsigned v, int depth)
{
    if (depth == 16)
        return (uint8_t)((v + 128u) / 257u);
    if (depth < 8)
        return (uint8_t)(v * 255u / ((1u << depth) - 1u));
    return (uint8_t)v;
}

/* The delivered rows (s->raw) into 8-bit HWC pixels (s->out). 0 or -1 with
 * s->r.libmsg set (a palette index out of range). */
static int convert_rows(png_job *s)
{
    const png_layout *lay = &s->lay;
    size_t w = lay->width, h = lay->height;
    int depth = lay->bit_depth;
    size_t in_row = w * (size_t)lay->samples * (depth == 16 ? 2u : 1u);
    int oc = lay->channels;
    for (size_t y = 0; y < h; y++) {
        const uint8_t *row = s->raw + y * in_row;
        uint8_t *o = s->out + y * w * (size_t)oc;
        if (lay->color_type == PNG_COLOR_TYPE_PALETTE) {
            for (size_t x = 0; x < w; x++, o += oc) {
                unsigned idx = row[x];
                if ((int)idx >= lay->palette_count) {
                    snprintf(s->r.libmsg, sizeof s->r.libmsg,
                             "palette index %u out of range (palette has %d entries)", idx,
                             lay->palette_count);
                    return -1;
                }
                const png_color *c = &lay->palette[idx];
                int k = 0;
                o[k++] = c->red;
                if (!lay->palette_gray) {
                    o[k++] = c->green;
                    o[k++] = c->blue;
                }
                if (lay->trns)
                    o[k] = lay->trns_alpha[idx];
            }
            continue;
        }
        int ns = lay->samples;
        for (size_t x = 0; x < w; x++, o += oc) {
            unsigned v[4];
            for (int k = 0; k < ns; k++) {
                v[k] = sample_at(row, x * (size_t)ns + (size_t)k, depth);
                o[k] = to8(v[k], depth);
            }
            if (lay->trns) {
                int transparent = ns == 1 ? v[0] == lay->trns_gray
                                          : v[0] == lay->trns_rgb[0] &&
                                                v[1] == lay->trns_rgb[1] &&
                                                v[2] == lay->trns_rgb[2];
                o[ns] = transparent ? 0 : 255;
            }
        }
    }
    return 0;
}

static int png_run(png_job *s, const char *path, int decode, nr_error *err)
{
    if (open_png(path, &s->r, err) != 0)
        return -1;
    s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s->r, reader_error,
                                    reader_warning);
    if (!s->png)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    s->info = png_create_info_struct(s->png);
    if (!s->info)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);

    if (setjmp(s->r.jmp))
        return s->failed_check ? -1 : libpng_failure(s, path, err);

    png_set_read_fn(s->png, &s->r, reader_read);
    png_set_sig_bytes(s->png, 8);
    /* Ancillary chunks that can carry data of any length (text, ICC
     * profiles, ...) are skipped unread: their length field alone would make
     * libpng allocate up to 2 GiB. Only tRNS matters here (it becomes alpha). */
    static const png_byte ignored[] =
        "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0sCAL\0"
        "sPLT\0sRGB\0tEXt\0tIME\0zTXt";
    png_set_keep_unknown_chunks(s->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(s->png, PNG_HANDLE_CHUNK_NEVER, ignored,
                                (int)(sizeof ignored / 5));
    png_set_chunk_malloc_max(s->png, MAX_CHUNK_MALLOC);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* tests/fuzz: let mutated files past the checksums to the code behind them */
    png_set_crc_action(s->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(s->png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
    /* We apply our own (smaller) limit with a clearer message. */
    png_set_user_limits(s->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    if (read_layout(s->png, s->info, path, &s->lay, err) != 0) {
        s->failed_check = 1;
        return -1;
    }
    /* Deflate compresses at most 1032:1, so a file of S bytes holds at most
     * 1032 * S bytes of scanlines (a filter byte + the packed pixels per row).
     * A header claiming more is a truncated or forged file: refuse it before
     * allocating what it claims. */
    png_layout *lay = &s->lay;
    unsigned long long scanline_bytes =
        (unsigned long long)lay->height *
        (1 + ((unsigned long long)lay->width * (unsigned)lay->samples *
                  (unsigned)lay->bit_depth + 7) / 8);
    if (s->r.size != ULLONG_MAX && scanline_bytes / MAX_DEFLATE_RATIO > s->r.size)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: truncated PNG: the header says %lux%lu pixels, which "
                       "cannot fit in a file of %llu bytes; re-create the file",
                       path, (unsigned long)lay->width, (unsigned long)lay->height,
                       s->r.size);
    if (!decode)
        return 0;

    if (lay->bit_depth < 8)
        png_set_packing(s->png);        /* one byte per sample, values unscaled */
    png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);

    size_t w = lay->width, h = lay->height;
    size_t in_row = w * (size_t)lay->samples * (lay->bit_depth == 16 ? 2u : 1u);
    size_t rowbytes = png_get_rowbytes(s->png, s->info);
    if (rowbytes != in_row) {
        snprintf(s->r.libmsg, sizeof s->r.libmsg,
                 "unexpected row size %zu for width %zu", rowbytes, w);
        return libpng_failure(s, path, err);
    }
    s->out = malloc(w * h * (size_t)lay->channels);
    s->rows = malloc(h * sizeof *s->rows);
    if (!s->out || !s->rows)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory decoding "
                       "%zux%zu image", path, w, h);
    /* 8-bit gray, gray+alpha, RGB and RGBA without tRNS decode in place;
     * the others go through a buffer and are converted */
    int in_place = lay->bit_depth == 8 && lay->color_type != PNG_COLOR_TYPE_PALETTE &&
                   !lay->trns;
    uint8_t *dst = s->out;
    if (!in_place) {
        s->raw = malloc(in_row * h);
        if (!s->raw)
            return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory decoding "
                           "%zux%zu image", path, w, h);
        dst = s->raw;
    }
    for (size_t y = 0; y < h; y++)
        s->rows[y] = dst + y * in_row;
    png_read_image(s->png, s->rows);
    png_read_end(s->png, NULL);
    if (!in_place && convert_rows(s) != 0)
        return libpng_failure(s, path, err);
    return 0;
}

int nr_png_decode(const char *path, int header_only, nr_stored_image *out, nr_error *err)
{
    memset(out, 0, sizeof *out);
    png_job *s = calloc(1, sizeof *s);
    if (!s)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    int rc = png_run(s, path, !header_only, err);
    if (rc == 0) {
        out->pixels = s->out;
        s->out = NULL;
        out->channels = s->lay.channels;
        out->height = (int)s->lay.height;
        out->width = (int)s->lay.width;
    }
    job_cleanup(s);
    free(s);
    return rc;
}

/* ---------------------------------------------------------------- writing */

typedef struct png_writer {
    FILE *fp;
    png_structp png;
    png_infop info;
    uint8_t *hwc;
    png_bytep *rows;
    char libmsg[256];
    jmp_buf jmp;
} png_writer;

static void writer_error(png_structp png, png_const_charp msg)
{
    png_writer *w = png_get_error_ptr(png);
    snprintf(w->libmsg, sizeof w->libmsg, "%s", msg ? msg : "unknown error");
    longjmp(w->jmp, 1);
}

/* Writes the image to w->fp; returns 0, or -1 with w->libmsg set. */
static int png_encode(png_writer *w, const uint8_t *pixels, int channels,
                      int height, int width)
{
    w->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, w, writer_error,
                                     reader_warning);
    if (!w->png) {
        snprintf(w->libmsg, sizeof w->libmsg, "out of memory");
        return -1;
    }
    w->info = png_create_info_struct(w->png);
    if (!w->info) {
        snprintf(w->libmsg, sizeof w->libmsg, "out of memory");
        return -1;
    }
    size_t plane = (size_t)height * (size_t)width;
    w->rows = malloc((size_t)height * sizeof *w->rows);
    if (!w->rows) {
        snprintf(w->libmsg, sizeof w->libmsg, "out of memory");
        return -1;
    }
    const uint8_t *src = pixels;
    if (channels == 3) {
        w->hwc = malloc(plane * 3);
        if (!w->hwc) {
            snprintf(w->libmsg, sizeof w->libmsg, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < plane; i++) {
            w->hwc[3 * i] = pixels[i];
            w->hwc[3 * i + 1] = pixels[plane + i];
            w->hwc[3 * i + 2] = pixels[2 * plane + i];
        }
        src = w->hwc;
    }
    for (int y = 0; y < height; y++)
        w->rows[y] = (png_bytep)(src + (size_t)y * (size_t)width * (size_t)channels);

    if (setjmp(w->jmp))
        return -1;
    png_init_io(w->png, w->fp);
    png_set_IHDR(w->png, w->info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w->png, w->info);
    png_write_image(w->png, w->rows);
    png_write_end(w->png, NULL);
    return 0;
}

int nr_png_write(const char *path, const uint8_t *pixels, int channels,
                 int height, int width, nr_error *err)
{
    if (channels != 1 && channels != 3)
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: cannot write a %d-channel PNG; channels must be 1 "
                       "(gray) or 3 (RGB)", path, channels);
    if (height < 1 || width < 1 || height > NR_PNG_MAX_SIDE || width > NR_PNG_MAX_SIDE)
        return nr_fail(err, NR_EXIT_INTERNAL,
                       "%s: error: cannot write a %dx%d PNG; sides must be 1..%d", path,
                       width, height, NR_PNG_MAX_SIDE);

    /* the temporary is hidden (".NAME.tmp-XXXXXX" beside it), so a crash
     * leaves nothing a dataset scan would pick up */
    nr_atomic_file file;
    if (nr_atomic_open(&file, path, err) != 0)
        return -1;
    png_writer *w = calloc(1, sizeof *w);
    if (!w) {
        nr_atomic_abort(&file);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    }
    w->fp = file.fp;
    int rc = png_encode(w, pixels, channels, height, width);
    if (w->png)
        png_destroy_write_struct(&w->png, w->info ? &w->info : NULL);
    if (rc != 0) {
        nr_atomic_abort(&file);
        nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write PNG: %s", path, w->libmsg);
    } else {
        rc = nr_atomic_commit_unsynced(&file, err);
    }
    free(w->hwc);
    free(w->rows);
    free(w);
    return rc;
}
