/* tests/fuzz/fuzz_image.c - libFuzzer harness for the image readers and the
 * preparation behind them, built by tests/fuzz/run.sh once per format:
 * fuzz_png (-DFUZZ_KIND=\"png\") and fuzz_jpeg (-DFUZZ_KIND=\"jpeg\"; its read
 * errors must say JPEG).
 *
 * bytes -> a temporary .png/.jpg file -> nr_image_info and nr_image_read, as
 * stored and prepared (gray, cropped to 7x5: the resizer on whatever shape
 * the file claims). Besides crashes and sanitizer reports (reads past a buffer,
 * allocations above libFuzzer's -malloc_limit_mb), these are findings
 * (abort()): an error that is not one line "PATH: error: ..." with status 1
 * or 2; a decoded image outside 1 or 3 channels and 1..16384 pixels a side;
 * nr_image_info and nr_image_read disagreeing on the shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrun/image.h"

#ifndef FUZZ_KIND
#error "build with -DFUZZ_KIND=\"png\" or -DFUZZ_KIND=\"jpeg\""
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_" FUZZ_KIND ": %s: %s\n", what, detail ? detail : "");
    abort();
}

static void check_error(const nr_error *err, const char *path)
{
    if (err->status != 1 && err->status != 2)
        finding("error with an unexpected status", err->message);
    if (strchr(err->message, '\n') || strncmp(err->message, path, strlen(path)) != 0 ||
        strncmp(err->message + strlen(path), ": error: ", 9) != 0)
        finding("malformed error message", err->message);
}

static void check_shape(int c, int h, int w)
{
    if ((c != 1 && c != 3) || h < 1 || h > 16384 || w < 1 || w > 16384) {
        char shape[64];
        snprintf(shape, sizeof shape, "%dx%dx%d", c, h, w);
        finding("impossible shape", shape);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "%s/netrun-fuzz-" FUZZ_KIND "-%ld.%s",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid(),
                 strcmp(FUZZ_KIND, "jpeg") == 0 ? "jpg" : FUZZ_KIND);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        abort();
    }

    static const nr_image_prep preps[2] = {{0}, {.channels = 1, .height = 7, .width = 5,
                                                  .fit = NR_FIT_CROP}};
    for (int k = 0; k < 2; k++) {
        const nr_image_prep *prep = k ? &preps[1] : NULL;
        int ic = 0, ih = 0, iw = 0;
        nr_error err = {0};
        int info_ok = nr_image_info(path, prep, &ic, &ih, &iw, &err) == 0;
        if (info_ok)
            check_shape(ic, ih, iw);
        else
            check_error(&err, path);
        uint8_t *pixels = NULL;
        int c = 0, h = 0, w = 0;
        nr_error err2 = {0};
        if (nr_image_read(path, prep, &pixels, &c, &h, &w, &err2) == 0) {
            check_shape(c, h, w);
            if (!info_ok || c != ic || h != ih || w != iw)
                finding("nr_image_info and nr_image_read disagree", err.message);
            if (prep && (c != 1 || h != 7 || w != 5))
                finding("prepared shape is not the one asked for", NULL);
            size_t n = (size_t)c * (size_t)h * (size_t)w;
            volatile unsigned sum = 0;
            for (size_t i = 0; i < n; i++)
                sum += pixels[i];
            (void)sum;
            free(pixels);
        } else {
            check_error(&err2, path);
            if (info_ok && !prep && strcmp(FUZZ_KIND, "jpeg") == 0 &&
                strstr(err2.message, "JPEG") == NULL)
                finding("a JPEG error that does not say JPEG", err2.message);
        }
    }
    unlink(path);
    return 0;
}
