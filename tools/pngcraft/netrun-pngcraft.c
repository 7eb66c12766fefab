/* tools/pngcraft/netrun-pngcraft.c - writes deliberately broken (and a few
 * valid) PNG files for the bad-input tests (tests/cli/bad_specs.sh) and the
 * fuzzing seed corpus (tests/fuzz/run.sh):
 *
 *   netrun-pngcraft KIND OUT [WIDTH HEIGHT]      (default 12 x 12)
 *
 * Every file is assembled by hand - signature, chunks with their CRC-32, and
 * a zlib stream of "stored" (uncompressed) deflate blocks - so that each
 * defect is exactly the one named, with everything else correct (a header
 * claiming 100000 x 100000 pixels still has a valid CRC, so a reader must
 * refuse it for its size, not for a checksum). No zlib or libpng needed.
 *
 * KIND:
 *   good          valid 8-bit gray image
 *   rgb           valid 8-bit RGB image
 *   truncated     valid gray image cut off in the middle of its IDAT chunk
 *   no-iend       valid gray image without the final IEND chunk
 *   bad-crc       gray image whose IDAT CRC is wrong
 *   bad-zlib      gray image whose IDAT holds no valid zlib stream (CRC right)
 *   short-data    gray image whose pixel data stops after half the rows
 *   huge          IHDR claims 100000 x 100000 gray pixels; a few bytes of data
 *   claims-max    IHDR claims 16384 x 16384 RGB (within netrun's side limit,
 *                 768 MiB of pixels) in a file of a few hundred bytes
 *   zero-width    IHDR width 0
 *   bad-ihdr      IHDR with an invalid color type / bit depth pair (RGB, 4-bit)
 *   16bit         valid 16-bit gray image
 *   gray-alpha    valid 8-bit gray+alpha image
 *   palette-oob   palette image (2 entries) whose pixels use index 5
 *   huge-chunk    gray image whose tEXt chunk claims 1 GiB; the file ends there
 *   no-plte       palette image without its PLTE chunk
 *   signature     the PNG signature only
 * and valid images of the other kinds netrun reads (fuzzing seeds):
 *   palette       8-bit palette image, 4 colours
 *   palette-gray  8-bit palette image whose entries are all gray
 *   gray2         2-bit gray image
 *   interlaced    8-bit gray image, Adam7 interlaced
 *   trns          8-bit gray image with a tRNS chunk (refused: transparency)
 *
 * Exit status 0, or 2 with one line on stderr for bad arguments.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: netrun-pngcraft KIND OUT [WIDTH HEIGHT]\n"
    "KIND: good rgb truncated no-iend bad-crc bad-zlib short-data huge claims-max\n"
    "      zero-width bad-ihdr 16bit gray-alpha palette-oob no-plte signature\n"
    "      palette palette-gray gray2 interlaced trns huge-chunk\n";

/* ---- a growing byte buffer ---- */

typedef struct buf {
    unsigned char *data;
    size_t len, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) {
            fprintf(stderr, "netrun-pngcraft: error: out of memory\n");
            exit(1);
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u8(buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put_be32(buf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, c, 4);
}

/* ---- checksums ---- */

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t adler32(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}

/* ---- PNG pieces ---- */

/* One chunk; `crc_delta` is added to the correct CRC (0 = correct). */
static void chunk(buf *out, const char type[4], const unsigned char *data, size_t n,
                  uint32_t crc_delta)
{
    put_be32(out, (uint32_t)n);
    put(out, type, 4);
    if (n)
        put(out, data, n);
    uint32_t crc = crc32_update(0, (const unsigned char *)type, 4);
    crc = crc32_update(crc, data, n);
    put_be32(out, crc + crc_delta);
}

static void ihdr_il(buf *out, uint32_t w, uint32_t h, int depth, int color, int interlace)
{
    buf d = {0};
    put_be32(&d, w);
    put_be32(&d, h);
    put_u8(&d, (unsigned)depth);
    put_u8(&d, (unsigned)color);
    put_u8(&d, 0);   /* compression */
    put_u8(&d, 0);   /* filter */
    put_u8(&d, (unsigned)interlace);
    chunk(out, "IHDR", d.data, d.len, 0);
    free(d.data);
}

static void ihdr(buf *out, uint32_t w, uint32_t h, int depth, int color)
{
    ihdr_il(out, w, h, depth, color, 0);
}

/* zlib stream of stored deflate blocks holding raw[0..n). */
static void zlib_stored(buf *out, const unsigned char *raw, size_t n)
{
    put_u8(out, 0x78);
    put_u8(out, 0x01);
    size_t at = 0;
    do {
        size_t part = n - at > 65535 ? 65535 : n - at;
        put_u8(out, at + part == n ? 1 : 0);   /* BFINAL, BTYPE 00 */
        put_u8(out, (unsigned)(part & 0xFF));
        put_u8(out, (unsigned)(part >> 8));
        put_u8(out, (unsigned)(~part & 0xFF));
        put_u8(out, (unsigned)((~part >> 8) & 0xFF));
        put(out, raw + at, part);
        at += part;
    } while (at < n);
    put_be32(out, adler32(raw, n));
}

/* Scanlines (filter byte 0 + row) of a w x h image with `bpp_bits` bits per
 * pixel; pixel values are a gradient (index -1), palette indices 0..3 in
 * turn (index -2), or palette index `index` when >= 0. */
static void scanlines(buf *raw, uint32_t w, uint32_t h, unsigned bpp_bits, int index)
{
    size_t rowbytes = ((size_t)w * bpp_bits + 7) / 8;
    for (uint32_t y = 0; y < h; y++) {
        put_u8(raw, 0);
        for (size_t x = 0; x < rowbytes; x++)
            put_u8(raw, index >= 0    ? (unsigned)index
                        : index == -2 ? (unsigned)((x + y) % 4)
                                      : (unsigned)((x * 7 + y * 13) & 0xFF));
    }
}

static void idat_of(buf *out, const buf *raw, uint32_t crc_delta)
{
    buf z = {0};
    zlib_stored(&z, raw->data, raw->len);
    chunk(out, "IDAT", z.data, z.len, crc_delta);
    free(z.data);
}

static void signature(buf *out)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    put(out, sig, 8);
}

static void iend(buf *out)
{
    chunk(out, "IEND", NULL, 0, 0);
}

/* A complete image: color type, bit depth, samples per pixel. */
static void image(buf *out, uint32_t w, uint32_t h, int depth, int color, unsigned samples,
                  uint32_t crc_delta)
{
    buf raw = {0};
    signature(out);
    ihdr(out, w, h, depth, color);
    scanlines(&raw, w, h, (unsigned)depth * samples, -1);
    idat_of(out, &raw, crc_delta);
    iend(out);
    free(raw.data);
}

static int craft(const char *kind, uint32_t w, uint32_t h, buf *out)
{
    buf raw = {0};
    if (strcmp(kind, "good") == 0) {
        image(out, w, h, 8, 0, 1, 0);
    } else if (strcmp(kind, "rgb") == 0) {
        image(out, w, h, 8, 2, 3, 0);
    } else if (strcmp(kind, "truncated") == 0) {
        image(out, w, h, 8, 0, 1, 0);
        /* signature 8 + IHDR 25 + IDAT header 8: cut half-way into the data */
        size_t idat_data = out->len - 8 - 25 - 12 - 12;
        out->len = 8 + 25 + 8 + idat_data / 2;
    } else if (strcmp(kind, "no-iend") == 0) {
        image(out, w, h, 8, 0, 1, 0);
        out->len -= 12;
    } else if (strcmp(kind, "bad-crc") == 0) {
        image(out, w, h, 8, 0, 1, 0x5A5A);
    } else if (strcmp(kind, "bad-zlib") == 0) {
        signature(out);
        ihdr(out, w, h, 8, 0);
        unsigned char junk[64];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (unsigned char)(0xFF - i * 3);
        chunk(out, "IDAT", junk, sizeof junk, 0);
        iend(out);
    } else if (strcmp(kind, "short-data") == 0) {
        signature(out);
        ihdr(out, w, h, 8, 0);
        scanlines(&raw, w, h / 2, 8, -1);
        idat_of(out, &raw, 0);
        iend(out);
    } else if (strcmp(kind, "huge") == 0 || strcmp(kind, "claims-max") == 0) {
        int rgb = strcmp(kind, "claims-max") == 0;
        uint32_t side = rgb ? 16384 : 100000;
        signature(out);
        ihdr(out, side, side, 8, rgb ? 2 : 0);
        scanlines(&raw, 4, 2, 8, -1);   /* a few bytes, nothing like what is claimed */
        idat_of(out, &raw, 0);
        iend(out);
    } else if (strcmp(kind, "zero-width") == 0) {
        signature(out);
        ihdr(out, 0, h, 8, 0);
        scanlines(&raw, 1, h, 8, -1);
        idat_of(out, &raw, 0);
        iend(out);
    } else if (strcmp(kind, "bad-ihdr") == 0) {
        signature(out);
        ihdr(out, w, h, 4, 2);
        scanlines(&raw, w, h, 12, -1);
        idat_of(out, &raw, 0);
        iend(out);
    } else if (strcmp(kind, "16bit") == 0) {
        image(out, w, h, 16, 0, 1, 0);
    } else if (strcmp(kind, "gray-alpha") == 0) {
        image(out, w, h, 8, 4, 2, 0);
    } else if (strcmp(kind, "palette-oob") == 0 || strcmp(kind, "no-plte") == 0) {
        signature(out);
        ihdr(out, w, h, 8, 3);
        if (strcmp(kind, "palette-oob") == 0) {
            static const unsigned char pal[6] = {0, 0, 0, 255, 255, 255};
            chunk(out, "PLTE", pal, sizeof pal, 0);
        }
        scanlines(&raw, w, h, 8, 5);
        idat_of(out, &raw, 0);
        iend(out);
    } else if (strcmp(kind, "signature") == 0) {
        signature(out);
    } else if (strcmp(kind, "huge-chunk") == 0) {
        signature(out);
        ihdr(out, w, h, 8, 0);
        put_be32(out, 1u << 30);
        put(out, "tEXt", 4);
        put(out, "Comment\0", 8);
    } else if (strcmp(kind, "palette") == 0 || strcmp(kind, "palette-gray") == 0) {
        static const unsigned char color[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 99, 199};
        static const unsigned char gray[12] = {0, 0, 0, 80, 80, 80, 160, 160, 160, 255, 255, 255};
        signature(out);
        ihdr(out, w, h, 8, 3);
        chunk(out, "PLTE", strcmp(kind, "palette") == 0 ? color : gray, 12, 0);
        scanlines(&raw, w, h, 8, -2);
        idat_of(out, &raw, 0);
        iend(out);
    } else if (strcmp(kind, "gray2") == 0) {
        image(out, w, h, 2, 0, 1, 0);
    } else if (strcmp(kind, "trns") == 0) {
        static const unsigned char key[2] = {0, 7};
        signature(out);
        ihdr(out, w, h, 8, 0);
        chunk(out, "tRNS", key, 2, 0);
        scanlines(&raw, w, h, 8, -1);
        idat_of(out, &raw, 0);
        iend(out);
    } else if (strcmp(kind, "interlaced") == 0) {
        /* Adam7: seven passes, each a reduced image with its own scanlines */
        static const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
        static const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
        signature(out);
        ihdr_il(out, w, h, 8, 0, 1);
        for (int p = 0; p < 7; p++) {
            uint32_t pw = (w + (uint32_t)(dx[p] - x0[p] - 1)) / (uint32_t)dx[p];
            uint32_t ph = (h + (uint32_t)(dy[p] - y0[p] - 1)) / (uint32_t)dy[p];
            if (pw && ph)
                scanlines(&raw, pw, ph, 8, -1);
        }
        idat_of(out, &raw, 0);
        iend(out);
    } else {
        return -1;
    }
    free(raw.data);
    return 0;
}

static int parse_side(const char *text, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || !end || *end || end == text || v < 1 || v > 65535)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    uint32_t w = 12, h = 12;
    if ((argc != 3 && argc != 5) ||
        (argc == 5 && (parse_side(argv[3], &w) != 0 || parse_side(argv[4], &h) != 0))) {
        fprintf(stderr, "netrun-pngcraft: error: expected KIND OUT [WIDTH HEIGHT] (sides "
                "1 to 65535); see --help\n");
        return 2;
    }
    buf out = {0};
    if (craft(argv[1], w, h, &out) != 0) {
        fprintf(stderr, "netrun-pngcraft: error: unknown kind '%s'; see --help\n", argv[1]);
        return 2;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
        fprintf(stderr, "netrun-pngcraft: error: %s: cannot write: %s\n", argv[2],
                strerror(errno));
        free(out.data);
        return 2;
    }
    free(out.data);
    return 0;
}
