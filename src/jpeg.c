/* jpeg.c - reading single JPEG images with libjpeg-turbo (the libjpeg API).
 *
 * nr_jpeg_decode (src/image_decode.h) gives 8-bit gray or RGB pixels, HWC:
 * gray JPEGs stay gray, YCbCr (and RGB) ones are decoded to RGB by libjpeg,
 * CMYK/YCCK ones (Adobe's inverted CMYK) decoded to CMYK and turned into
 * RGB here as R = C K / 255 (rounded), likewise G from M and B from Y.
 *
 * Errors: libjpeg's error_exit longjmps back here (it never exits), and so
 * does every warning but an unknown JFIF revision: corrupt data and a
 * premature end (a truncated file, which libjpeg would pad with gray) are
 * errors naming the file. Before anything is decoded the header is checked
 * against NR_IMAGE_MAX_SIDE and against the file's size: a Huffman-coded
 * JPEG spends at least one bit per 8x8 block of its first component, so a
 * file of S bytes holds at most 512 S pixels; more than MAX_PIXELS_PER_BYTE
 * S (twice that) is a truncated or forged file. Progressive files of more
 * than MAX_SCANS scans are refused (each scan re-reads the whole image).
 *
 * All state crossing setjmp lives in one struct (jpeg_job), not in locals.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jerror.h>
#include <jpeglib.h>

#include "image_decode.h"
#include "netrun/fileio.h"
#include "netrun/image.h"

#define MAX_PIXELS_PER_BYTE 1024ull
#define MAX_SCANS 256

typedef struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jmp;
    int created;           /* cinfo needs jpeg_destroy_decompress */
    FILE *fp;
    unsigned long long size;   /* bytes in the file */
    int truncated;         /* libjpeg ran out of data */
    int too_many_scans;
    char libmsg[JMSG_LENGTH_MAX];
    uint8_t *out;          /* HWC result */
    uint8_t *row;          /* one CMYK row */
} jpeg_job;

static void on_error(j_common_ptr cinfo)
{
    jpeg_job *job = cinfo->client_data;
    (*cinfo->err->format_message)(cinfo, job->libmsg);
    longjmp(job->jmp, 1);
}

/* level -1: a warning (corrupt data, premature end): an error here;
 * 0 and up: trace messages, dropped */
static void on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0 || cinfo->err->msg_code == JWRN_JFIF_MAJOR)
        return;
    jpeg_job *job = cinfo->client_data;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF)
        job->truncated = 1;
    (*cinfo->err->format_message)(cinfo, job->libmsg);
    longjmp(job->jmp, 1);
}

static void on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor)
        return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_job *job = cinfo->client_data;
        job->too_many_scans = 1;
        snprintf(job->libmsg, sizeof job->libmsg, "more than %d scans", MAX_SCANS);
        longjmp(job->jmp, 1);
    }
}

static int jpeg_failure(const jpeg_job *job, const char *path, nr_error *err)
{
    if (job->truncated)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: truncated JPEG (premature end of file); re-create the "
                       "file", path);
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: corrupt JPEG (libjpeg: %s); re-create "
                   "the file", path, job->libmsg);
}

static int open_jpeg(const char *path, jpeg_job *job, nr_error *err)
{
    job->fp = fopen(path, "rb");
    if (!job->fp)
        return nr_fail(err, errno == ENOMEM ? NR_EXIT_INTERNAL : NR_EXIT_INPUT,
                       "%s: error: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(job->fp), &st) != 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read: %s", path,
                       strerror(errno));
    if (S_ISDIR(st.st_mode))
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: is a folder, not a JPEG file", path);
    job->size = S_ISREG(st.st_mode) ? (unsigned long long)st.st_size : ULLONG_MAX;
    int c0 = getc(job->fp), c1 = c0 == EOF ? EOF : getc(job->fp);
    if (c0 == EOF)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: empty file (0 bytes); expected a JPEG image", path);
    if (c0 != 0xFF || c1 != 0xD8)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: not a JPEG file (no start-of-image marker); expected a "
                       "JPEG image", path);
    rewind(job->fp);
    return 0;
}

static int jpeg_run(jpeg_job *job, const char *path, int header_only, nr_stored_image *out,
                    nr_error *err)
{
    if (open_jpeg(path, job, err) != 0)
        return -1;
    j_decompress_ptr cinfo = &job->cinfo;
    cinfo->err = jpeg_std_error(&job->jerr);
    job->jerr.error_exit = on_error;
    job->jerr.emit_message = on_message;
    cinfo->client_data = job;
    if (setjmp(job->jmp))
        return jpeg_failure(job, path, err);
    jpeg_create_decompress(cinfo);
    job->created = 1;
    job->progress.progress_monitor = on_progress;
    cinfo->progress = &job->progress;
    jpeg_stdio_src(cinfo, job->fp);
    jpeg_read_header(cinfo, TRUE);

    unsigned long w = cinfo->image_width, h = cinfo->image_height;
    if (w > NR_IMAGE_MAX_SIDE || h > NR_IMAGE_MAX_SIDE)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: image is %lux%lu (width x height), larger than the "
                       "%dx%d limit; use smaller images", path, w, h, NR_IMAGE_MAX_SIDE,
                       NR_IMAGE_MAX_SIDE);
    if (w == 0 || h == 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: corrupt JPEG (an empty %lux%lu "
                       "image); re-create the file", path, w, h);
    if (job->size != ULLONG_MAX && (unsigned long long)w * h / MAX_PIXELS_PER_BYTE > job->size)
        return nr_fail(err, NR_EXIT_INPUT,
                       "%s: error: truncated JPEG: the header says %lux%lu pixels, which "
                       "cannot fit in a file of %llu bytes; re-create the file", path, w, h,
                       job->size);
    int cmyk = 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        out->channels = 1;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        out->channels = 3;
        cmyk = 1;
        break;
    default:
        cinfo->out_color_space = JCS_RGB;
        out->channels = 3;
        break;
    }
    out->height = (int)h;
    out->width = (int)w;
    if (header_only)
        return 0;

    jpeg_start_decompress(cinfo);
    if (cinfo->output_width != w || cinfo->output_height != h ||
        cinfo->output_components != (cmyk ? 4 : out->channels)) {
        snprintf(job->libmsg, sizeof job->libmsg, "unexpected output %ux%ux%d",
                 cinfo->output_width, cinfo->output_height, cinfo->output_components);
        return jpeg_failure(job, path, err);
    }
    size_t stride = (size_t)w * (size_t)out->channels;
    job->out = malloc(stride * h);
    if (cmyk)
        job->row = malloc((size_t)w * 4);
    if (!job->out || (cmyk && !job->row))
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory decoding %lux%lu "
                       "image", path, w, h);
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *dst = job->out + (size_t)cinfo->output_scanline * stride;
        JSAMPROW rows[1] = {cmyk ? job->row : dst};
        if (jpeg_read_scanlines(cinfo, rows, 1) != 1) {
            job->truncated = 1;
            return jpeg_failure(job, path, err);
        }
        if (cmyk)
            for (size_t x = 0; x < w; x++) {
                const uint8_t *p = job->row + 4 * x;
                for (int c = 0; c < 3; c++)
                    dst[3 * x + (size_t)c] = (uint8_t)((p[c] * p[3] + 127u) / 255u);
            }
    }
    jpeg_finish_decompress(cinfo);
    out->pixels = job->out;
    job->out = NULL;
    return 0;
}

int nr_jpeg_decode(const char *path, int header_only, nr_stored_image *out, nr_error *err)
{
    memset(out, 0, sizeof *out);
    jpeg_job *job = calloc(1, sizeof *job);
    if (!job)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    int rc = jpeg_run(job, path, header_only, out, err);
    if (job->created)
        jpeg_destroy_decompress(&job->cinfo);
    if (job->fp)
        fclose(job->fp);
    free(job->out);
    free(job->row);
    free(job);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---------------------------------------------------------------- writing */

typedef struct jpeg_writer {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    jmp_buf jmp;
    int created;
    uint8_t *row;
    char libmsg[JMSG_LENGTH_MAX];
} jpeg_writer;

static void on_write_error(j_common_ptr cinfo)
{
    jpeg_writer *w = cinfo->client_data;
    (*cinfo->err->format_message)(cinfo, w->libmsg);
    longjmp(w->jmp, 1);
}

static int jpeg_encode(jpeg_writer *w, FILE *fp, const uint8_t *pixels, int channels,
                       int height, int width, int quality)
{
    j_compress_ptr cinfo = &w->cinfo;
    cinfo->err = jpeg_std_error(&w->jerr);
    w->jerr.error_exit = on_write_error;
    cinfo->client_data = w;
    if (setjmp(w->jmp))
        return -1;
    jpeg_create_compress(cinfo);
    w->created = 1;
    jpeg_stdio_dest(cinfo, fp);
    cinfo->image_width = (JDIMENSION)width;
    cinfo->image_height = (JDIMENSION)height;
    cinfo->input_components = channels;
    cinfo->in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE);
    jpeg_start_compress(cinfo, TRUE);
    size_t plane = (size_t)height * (size_t)width;
    while (cinfo->next_scanline < cinfo->image_height) {
        size_t y = cinfo->next_scanline;
        for (size_t x = 0; x < (size_t)width; x++)
            for (int c = 0; c < channels; c++)
                w->row[x * (size_t)channels + (size_t)c] =
                    pixels[(size_t)c * plane + y * (size_t)width + x];
        JSAMPROW rows[1] = {w->row};
        jpeg_write_scanlines(cinfo, rows, 1);
    }
    jpeg_finish_compress(cinfo);
    return 0;
}

int nr_jpeg_write(const char *path, const uint8_t *pixels, int channels, int height,
                  int width, int quality, nr_error *err)
{
    if (channels != 1 && channels != 3)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot write a %d-channel JPEG; "
                       "channels must be 1 (gray) or 3 (RGB)", path, channels);
    if (height < 1 || width < 1 || height > NR_IMAGE_MAX_SIDE || width > NR_IMAGE_MAX_SIDE ||
        quality < 1 || quality > 100)
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: cannot write a %dx%d JPEG of "
                       "quality %d; sides must be 1..%d, quality 1..100", path, width, height,
                       quality, NR_IMAGE_MAX_SIDE);
    nr_atomic_file file;
    if (nr_atomic_open(&file, path, err) != 0)
        return -1;
    jpeg_writer *w = calloc(1, sizeof *w);
    if (w)
        w->row = malloc((size_t)width * (size_t)channels);
    if (!w || !w->row) {
        free(w);
        nr_atomic_abort(&file);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: out of memory", path);
    }
    int rc = jpeg_encode(w, file.fp, pixels, channels, height, width, quality);
    if (w->created)
        jpeg_destroy_compress(&w->cinfo);
    if (rc != 0) {
        nr_atomic_abort(&file);
        nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write JPEG: %s", path, w->libmsg);
    } else {
        rc = nr_atomic_commit_unsynced(&file, err);
    }
    free(w->row);
    free(w);
    return rc;
}
