/* image.c - which files are images netrun reads, and reading one (see
 * netrun/data.h): the one place a file's format is decided, shared by the
 * dataset loader and `netrun predict`. */
#include <stddef.h>
#include <string.h>

#include "netrun/data.h"

/* name ends in suffix (lower case, with its dot), in any case, and has
 * something before it */
static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    if (n <= m)
        return 0;
    const char *s = name + n - m;
    for (size_t i = 0; i < m; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return 0;
    }
    return 1;
}

nr_image_format nr_image_format_of(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (has_suffix(base, ".png"))
        return NR_IMAGE_PNG;
    return NR_IMAGE_NONE;
}

int nr_image_read(const char *path, uint8_t **pixels, int *channels, int *height, int *width,
                  nr_error *err)
{
    switch (nr_image_format_of(path)) {
    case NR_IMAGE_PNG:
        return nr_png_read(path, pixels, channels, height, width, err);
    case NR_IMAGE_NONE:
        break;
    }
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: not an image netrun reads; images are "
                   NR_IMAGE_SUFFIXES " files", path);
}
