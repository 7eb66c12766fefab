/* image_decode.h - the decoders behind netrun/image.h (src/png.c,
 * src/jpeg.c): one file's pixels as stored, before preparation (src/image.c).
 * Both refuse what netrun/image.h says they refuse, with its messages. */
#ifndef NETRUN_IMAGE_DECODE_H
#define NETRUN_IMAGE_DECODE_H

#include <stdint.h>

#include "netrun/error.h"

typedef struct nr_stored_image {
    uint8_t *pixels;   /* height x width x channels bytes, HWC; malloc'd, owned
                          by the caller; NULL after a header-only read */
    int channels;      /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int height, width; /* 1..NR_IMAGE_MAX_SIDE */
} nr_stored_image;

/* header_only: fill the shape from the header, decode nothing. On failure
 * *out is zeroed and err says "PATH: error: ...". */
int nr_png_decode(const char *path, int header_only, nr_stored_image *out, nr_error *err);
int nr_jpeg_decode(const char *path, int header_only, nr_stored_image *out, nr_error *err);

#endif
