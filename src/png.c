/* png.c - reading and writing single PNG images with libpng.
 *
 * Reading accepts 8-bit (or 1/2/4-bit) grayscale, 8-bit RGB and palette
 * images and returns 8-bit gray (1 channel) or RGB (3 channels) pixels in CHW
 * order. 16-bit images, images with an alpha channel (gray+alpha, RGBA) and
 * palette or gray/RGB images with tRNS transparency are refused. The header is
 * checked against NR_PNG_MAX_SIDE and against the file's size (what deflate
 * can pack into it) before any pixel memory is allocated; ancillary chunks
 * but tRNS are skipped unread.
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

#include "netrun/data.h"
#include "netrun/fileio.h"

#define NR_PNG_MAX_SIDE 16384
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

static const char *color_type_name(int ct)
{
    switch (ct) {
    case PNG_COLOR_TYPE_GRAY: return "gray";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "gray+alpha";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    default: return "unknown";
    }
}

/* What the header says and how to turn the rows into pixels. */
typedef struct png_layout {
    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    int channels;             /* of the result: 1 or 3 */
    int palette_gray;         /* palette whose entries all have r == g == b */
    int palette_count;
    png_color palette[256];
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
    if (lay->bit_depth == 16)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: 16-bit %s PNG is not supported; only 8-bit gray or "
                       "RGB images are (convert the file to 8 bits per channel)",
                       path, color_type_name(lay->color_type));
    if (lay->color_type == PNG_COLOR_TYPE_GRAY_ALPHA ||
        lay->color_type == PNG_COLOR_TYPE_RGB_ALPHA)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: %s PNG has an alpha channel, which is not supported; "
                       "only 8-bit gray or RGB images are (drop the alpha channel)",
                       path, color_type_name(lay->color_type));
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: %s PNG has transparency (tRNS chunk), which is not "
                       "supported; only opaque 8-bit gray or RGB images are (drop the "
                       "transparency)",
                       path, color_type_name(lay->color_type));

    switch (lay->color_type) {
    case PNG_COLOR_TYPE_GRAY:
        lay->channels = 1;
        break;
    case PNG_COLOR_TYPE_RGB:
        lay->channels = 3;
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
        lay->channels = lay->palette_gray ? 1 : 3;
        break;
    }
    default:
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: unsupported PNG color type %d; only 8-bit gray or RGB "
                       "images are supported", path, lay->color_type);
    }
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

/* Shared body of nr_png_read and nr_png_info. Kept separate from the public
 * functions so that all state crossing setjmp lives in *s. */
typedef struct png_job {
    png_reader r;
    png_structp png;
    png_infop info;
    png_layout lay;
    uint8_t *raw;        /* HWC rows as libpng delivers them */
    png_bytep *rows;
    uint8_t *out;        /* CHW result */
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

/* decode: 0 = header only, 1 = full image. */
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
     * libpng allocate up to 2 GiB. Only tRNS matters here (it is refused). */
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
    unsigned long long samples = s->lay.color_type == PNG_COLOR_TYPE_RGB ? 3 : 1;
    unsigned long long scanline_bytes =
        (unsigned long long)s->lay.height *
        (1 + ((unsigned long long)s->lay.width * samples * (unsigned)s->lay.bit_depth + 7) / 8);
    if (s->r.size != ULLONG_MAX && scanline_bytes / MAX_DEFLATE_RATIO > s->r.size)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: truncated PNG: the header says %lux%lu pixels, which "
                       "cannot fit in a file of %llu bytes; re-create the file",
                       path, (unsigned long)s->lay.width, (unsigned long)s->lay.height,
                       s->r.size);
    if (!decode)
        return 0;

    png_layout *lay = &s->lay;
    if (lay->bit_depth < 8)
        png_set_packing(s->png);        /* one byte per pixel, values unscaled */
    png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);

    size_t w = lay->width, h = lay->height;
    size_t in_ch = lay->color_type == PNG_COLOR_TYPE_RGB ? 3 : 1;
    size_t rowbytes = png_get_rowbytes(s->png, s->info);
    if (rowbytes != w * in_ch) {
        snprintf(s->r.libmsg, sizeof s->r.libmsg,
                 "unexpected row size %zu for width %zu", rowbytes, w);
        return libpng_failure(s, path, err);
    }
    size_t plane = w * h;
    s->out = malloc(plane * (size_t)lay->channels);
    s->rows = malloc(h * sizeof *s->rows);
    if (!s->out || !s->rows)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory decoding "
                       "%zux%zu image", path, w, h);
    /* Gray images decode in place; RGB and palette images go through a
     * row buffer and are reordered (RGB) or looked up (palette). */
    uint8_t *dst;
    if (lay->color_type == PNG_COLOR_TYPE_GRAY) {
        dst = s->out;
    } else {
        s->raw = malloc(plane * in_ch);
        if (!s->raw)
            return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory decoding "
                           "%zux%zu image", path, w, h);
        dst = s->raw;
    }
    for (size_t y = 0; y < h; y++)
        s->rows[y] = dst + y * w * in_ch;
    png_read_image(s->png, s->rows);
    png_read_end(s->png, NULL);

    if (lay->color_type == PNG_COLOR_TYPE_GRAY) {
        if (lay->bit_depth < 8) {
            unsigned maxv = (1u << lay->bit_depth) - 1u;
            for (size_t i = 0; i < plane; i++)
                s->out[i] = (uint8_t)((s->out[i] * 255u) / maxv);
        }
    } else if (lay->color_type == PNG_COLOR_TYPE_RGB) {
        uint8_t *r = s->out, *g = s->out + plane, *b = s->out + 2 * plane;
        const uint8_t *src = s->raw;
        for (size_t i = 0; i < plane; i++) {
            r[i] = src[3 * i];
            g[i] = src[3 * i + 1];
            b[i] = src[3 * i + 2];
        }
    } else { /* palette */
        for (size_t i = 0; i < plane; i++) {
            unsigned idx = s->raw[i];
            if ((int)idx >= lay->palette_count) {
                snprintf(s->r.libmsg, sizeof s->r.libmsg,
                         "palette index %u out of range (palette has %d entries)", idx,
                         lay->palette_count);
                return libpng_failure(s, path, err);
            }
            const png_color *c = &lay->palette[idx];
            if (lay->channels == 1) {
                s->out[i] = c->red;
            } else {
                s->out[i] = c->red;
                s->out[plane + i] = c->green;
                s->out[2 * plane + i] = c->blue;
            }
        }
    }
    return 0;
}

int nr_png_read(const char *path, uint8_t **pixels, int *channels, int *height,
                int *width, nr_error *err)
{
    png_job *s = calloc(1, sizeof *s);
    if (!s)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    int rc = png_run(s, path, 1, err);
    if (rc == 0) {
        *pixels = s->out;
        s->out = NULL;
        *channels = s->lay.channels;
        *height = (int)s->lay.height;
        *width = (int)s->lay.width;
    }
    job_cleanup(s);
    free(s);
    return rc;
}

int nr_png_info(const char *path, int *channels, int *height, int *width,
                nr_error *err)
{
    png_job *s = calloc(1, sizeof *s);
    if (!s)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    int rc = png_run(s, path, 0, err);
    if (rc == 0) {
        *channels = s->lay.channels;
        *height = (int)s->lay.height;
        *width = (int)s->lay.width;
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
