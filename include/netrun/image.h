/* netrun/image.h - one image file read the way a spec's data section asks:
 * its format (PNG, JPEG), its channels, its alpha, its size. The dataset
 * loader, `netrun predict` and the C API read images through it, so a model
 * sees the same pixels in training and in use.
 *
 * Stored images (before preparation):
 *   PNG   8-bit gray or RGB; palette expanded (to gray when the palette is
 *         gray); 1/2/4-bit gray scaled to 0..255; 16-bit scaled to 8-bit
 *         (v * 255 / 65535, rounded); gray+alpha, RGBA and tRNS carry alpha
 *   JPEG  (.jpg/.jpeg, any case) 8-bit gray or RGB (YCbCr decoded to RGB by
 *         libjpeg-turbo; CMYK/YCCK, as Adobe writes it, to RGB as
 *         R = C x K / 255, ...)
 * Preparation (nr_image_prep), in this order:
 *   1. alpha: composited on black or white (prep->alpha), then dropped:
 *      (v a + bg (255 - a)) / 255, rounded
 *   2. channels: prep->channels 1 (gray: luma 0.299 R + 0.587 G + 0.114 B,
 *      rounded) or 3 (gray copied to R, G and B); 0 keeps the stored ones
 *   3. size: prep->height x prep->width (0 x 0 keeps the stored size), fitted
 *      by prep->fit: stretch (both sides scaled independently), crop (scaled
 *      to cover, the centre cut out), pad (scaled to fit inside, the scaled
 *      side rounded to whole pixels, centred with the odd border pixel at the
 *      bottom / right, the border black); on each axis, shrinking averages
 *      the covered area (partly covered pixels weighted by the part
 *      covered), growing interpolates bilinearly (pixel centres aligned,
 *      edges clamped). Computed exactly in integers, rounded once at the end.
 * "Rounded" is to the nearest integer, halves up. Pixels come out CHW,
 * 8-bit, channels 1 or 3.
 *
 * Limits: at most NR_IMAGE_MAX_SIDE pixels a side, stored or prepared;
 * headers claiming more pixels than the file's size can hold (PNG: deflate's
 * 1032:1; JPEG: 1024 pixels a byte) are refused as truncated or forged
 * before anything is allocated. A JPEG warning (corrupt data, a premature
 * end) is an error.
 */
#ifndef NETRUN_IMAGE_H
#define NETRUN_IMAGE_H

#include <stdint.h>

#include "netrun/error.h"

#define NR_IMAGE_MAX_SIDE 16384

typedef enum nr_image_fit { NR_FIT_STRETCH, NR_FIT_CROP, NR_FIT_PAD } nr_image_fit;
typedef enum nr_image_alpha { NR_ALPHA_BLACK, NR_ALPHA_WHITE } nr_image_alpha;

typedef struct nr_image_prep {
    int channels;            /* 0: as stored; 1 or 3: converted */
    int height, width;       /* 0, 0: as stored; else resized to it (1..NR_IMAGE_MAX_SIDE) */
    nr_image_fit fit;        /* how the aspect ratio is handled when resizing */
    nr_image_alpha alpha;    /* what transparent pixels are composited on */
} nr_image_prep;

/* The image files netrun reads, told by the name's suffix (any case): the
 * one place that decides it, for the dataset loader and `netrun predict`.
 * NR_IMAGE_SUFFIXES names them for messages. */
typedef enum nr_image_format {
    NR_IMAGE_NONE = 0,       /* not an image netrun reads */
    NR_IMAGE_PNG,            /* *.png */
    NR_IMAGE_JPEG,           /* *.jpg, *.jpeg */
} nr_image_format;
#define NR_IMAGE_SUFFIXES ".png, .jpg or .jpeg"
/* The format of the file NAME (a path or a bare name; only its last
 * component counts, which must have something before the suffix). */
nr_image_format nr_image_format_of(const char *name);

/* Reads and prepares one image: *pixels (malloc'd, caller frees) holds
 * channels x height x width bytes, CHW. prep may be NULL: as stored (alpha
 * composited on black). A file that cannot be read, decoded or prepared
 * fails with "PATH: error: WHAT" (NR_EXIT_INPUT), naming what would be
 * valid; a name of no format netrun reads is refused with "PATH: error: not
 * an image netrun reads; ...". An invalid prep fails with NR_EXIT_INPUT. */
int nr_image_read(const char *path, const nr_image_prep *prep, uint8_t **pixels,
                  int *channels, int *height, int *width, nr_error *err);
/* The shape nr_image_read would give, from the header alone (the same
 * refusals of a file it cannot read). */
int nr_image_info(const char *path, const nr_image_prep *prep, int *channels, int *height,
                  int *width, nr_error *err);

/* Prepares pixels already in memory: `stored` holds height x width x
 * stored_channels bytes, HWC (interleaved), stored_channels 1 gray, 2
 * gray+alpha, 3 RGB, 4 RGBA. *out (malloc'd, caller frees) as nr_image_read.
 * `what` names the source in messages. */
int nr_image_prepare(const uint8_t *stored, int stored_channels, int height, int width,
                     const nr_image_prep *prep, const char *what, uint8_t **out,
                     int *channels, int *out_height, int *out_width, nr_error *err);

/* One PNG read as nr_image_read with a NULL prep, whatever its name. */
int nr_png_read(const char *path, uint8_t **pixels, int *channels, int *height,
                int *width, nr_error *err);
/* Reads only the header of one PNG (the same refusals as nr_png_read) and
 * gives the shape nr_png_read would return. */
int nr_png_info(const char *path, int *channels, int *height, int *width,
                nr_error *err);
/* Writes an 8-bit gray (channels 1) or RGB (channels 3) PNG from CHW pixels,
 * atomically (temporary name + rename). */
int nr_png_write(const char *path, const uint8_t *pixels, int channels,
                 int height, int width, nr_error *err);
/* Writes an 8-bit gray (channels 1) or RGB (channels 3) JPEG of the given
 * quality (1..100, 4:2:0 chroma for RGB) from CHW pixels, atomically. */
int nr_jpeg_write(const char *path, const uint8_t *pixels, int channels, int height,
                  int width, int quality, nr_error *err);

#endif
