/* netrun/augment.h - training-time data augmentation of single images.
 *
 * Pure library functions: no allocation, no global state, no I/O. All
 * scratch memory is a caller-provided workspace, all randomness comes from a
 * caller-owned nr_rng (netrun/kernels.h), so the functions are reentrant and
 * different threads may augment different images at the same time (each with
 * its own workspace and rng).
 *
 * Images.
 *   in:  uint8 CHW [c, h, w], pixel values 0..255 (as the dataset keeps them).
 *   out: float CHW [c, h, w], OVERWRITTEN (every element is written; it need
 *        not be initialised), values in [0, 1]. Without augmentation
 *        out[i] == in[i] / 255.0f exactly.
 *   c, h, w > 0. `in` and `out` do not overlap; neither overlaps workspace.
 *   Labels are not touched by design: the API has no label argument, every
 *   transform here is meant to preserve the class (the caller keeps the label
 *   of the sample it augments).
 *
 * Geometry. Pixel (x, y) has its centre at integer coordinates, x to the
 * right, y DOWN; the image centre is ((w - 1) / 2, (h - 1) / 2) (a pixel
 * centre for odd sizes, between pixels for even sizes). Resampling is
 * bilinear and inverse-mapped: each output pixel reads the input at the
 * source position its output position comes from; input outside the image is
 * 0 (black). A mapping that lands exactly on pixel centres copies values
 * exactly (integer shifts; multiples of 90 degrees on square images; zoom
 * 2 about the centre of an odd-size image hits every other pixel).
 *
 * Pipeline of nr_augment_image, in this fixed order:
 *   1. affine:  one map combining shift, rotation and zoom (each individually
 *               applied with its own probability):
 *                 p_out = s * R(theta) * (p_in - centre) + centre + (dx, dy)
 *               i.e. rotate and zoom about the centre, then translate.
 *               dx, dy integers uniform in [-shift_pixels, shift_pixels];
 *               theta uniform in [-rotate_degrees, rotate_degrees], positive =
 *               counter-clockwise as displayed (y down), like PIL/torchvision;
 *               s uniform in [scale_min, scale_max], s > 1 magnifies.
 *   2. elastic: Simard, Steinkraus & Platt (ICDAR 2003): per-pixel random
 *               displacements U(-1, 1) for x and for y, each field smoothed by
 *               a separable Gaussian of std elastic_sigma (pixels; kernel
 *               radius min(ceil(3 sigma), max(h, w) - 1), normalised to sum 1
 *               over that radius, zero padding at the borders; sigma == 0 = no
 *               smoothing) and multiplied by elastic_alpha. The output pixel p
 *               takes the affine-transformed image at p + d(p).
 *               Typical MNIST setting alpha 34, sigma 4: displacement rms
 *               ~1.2-1.4 px; it changes local area noticeably (a centred
 *               blob's mass varies by up to about +-50% per image, 0% on
 *               average).
 *               Affine and elastic are composed into ONE bilinear resampling
 *               of the input (out(p) = in(A^-1(p + d(p)))), so applying both
 *               does not blur twice.
 *   3. noise:   out += noise_std * N(0, 1), independently per element (every
 *               channel its own draws), then clamped to [0, 1].
 * Geometric outputs are clamped to [0, 1] too (bilinear rounding).
 *
 * Randomness, consumed from *rng in this fixed order:
 *   a. five uniforms, ALWAYS (whatever the config): the decisions for shift,
 *      rotate, scale, elastic, noise; a transform is applied when its draw
 *      u < p (p = 0 never, p = 1 always) AND its strength is non-zero;
 *   b. parameters, only for the transforms applied: shift dx then dy
 *      (nr_rng_below, so one or more u32 each), rotation angle (1 uniform),
 *      zoom (1 uniform), elastic raw fields (h*w uniforms for x in row-major
 *      order, then h*w for y), noise (normal pairs, Marsaglia polar method,
 *      elements in CHW order).
 * The same rng state and config therefore give bit-identical outputs, and a
 * transform that is off (p = 0 or strength 0) consumes nothing beyond its
 * decision draw, so out[i] == in[i] / 255.0f exactly and exactly five
 * uniforms are consumed.
 *
 * Per-sample streams: seed an rng per (seed, epoch, sample index) with
 * nr_augment_rng, so augmentation does not depend on the batch order, the
 * batch size or the thread that processes the sample.
 */
#ifndef NETRUN_AUGMENT_H
#define NETRUN_AUGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netrun/kernels.h"   /* nr_rng */

/* All-zero ({0}) is a valid config that augments nothing (the scale range is
 * only checked when scale_p > 0). Strength 0 (off) for each transform:
 * shift_pixels == 0, rotate_degrees == 0, scale_min == scale_max == 1,
 * elastic_alpha == 0, noise_std == 0. */
typedef struct nr_augment_config {
    float shift_p;   int   shift_pixels;       /* integer offset per axis in [-pixels, pixels]; pixels >= 0 */
    float rotate_p;  float rotate_degrees;     /* angle in [-deg, deg] about the centre; deg >= 0 */
    float scale_p;   float scale_min, scale_max; /* zoom in [min, max] about the centre; 0 < min <= max when scale_p > 0 */
    float elastic_p; float elastic_alpha, elastic_sigma; /* alpha >= 0 (pixels), sigma >= 0 (pixels) */
    float noise_p;   float noise_std;          /* std >= 0, in pixel units of [0, 1] */
} nr_augment_config;

/* NULL when cfg is valid, otherwise a static one-line description of the
 * first invalid field (e.g. "elastic_sigma must be finite and >= 0"), for the
 * caller to wrap into an nr_error. Valid: every p finite in [0, 1], strengths
 * finite and >= 0, and when scale_p > 0: 0 < scale_min <= scale_max.
 * nr_augment_image asserts this. */
const char *nr_augment_config_check(const nr_augment_config *cfg);

/* true when any transform can change an image (p > 0 and strength > 0). When
 * false, nr_augment_image is exactly in / 255 and the caller may skip it. */
bool nr_augment_active(const nr_augment_config *cfg);

/* Scratch floats nr_augment_image needs for a c x h x w image: the two
 * displacement fields (2*h*w) plus nr_augment_elastic_workspace_floats(h, w)
 * (about 5*h*w for square images; 4306 floats for 28 x 28). Currently
 * independent of c. */
size_t nr_augment_workspace_floats(int c, int h, int w);

/* One training sample, see the pipeline above.
 * cfg:       valid config (nr_augment_config_check(cfg) == NULL), read only.
 * in:        [c, h, w] uint8, read only.
 * out:       [c, h, w] float, overwritten, values in [0, 1].
 * workspace: [nr_augment_workspace_floats(c, h, w)] floats, clobbered; may be
 *            NULL when elastic is off (elastic_p == 0 or elastic_alpha == 0).
 * rng:       advanced as described above. */
void nr_augment_image(const nr_augment_config *cfg, const uint8_t *in, int c,
                      int h, int w, float *out, float *workspace, nr_rng *rng);

/* Deterministic affine map with explicit parameters (the same resampling as
 * step 1 above, no randomness, no workspace), e.g. for tests or previews:
 *   p_out = scale * R(degrees) * (p_in - centre) + centre + (dx, dy)
 * dx, dy in pixels (any real values), degrees counter-clockwise as displayed,
 * scale > 0 (finite). in: [c, h, w] uint8; out: [c, h, w] float overwritten,
 * in [0, 1]. Angles that are exact multiples of 90 degrees use exact 0/+-1
 * sines and cosines. dx = dy = degrees = 0, scale = 1 gives in / 255 exactly. */
void nr_augment_affine(const uint8_t *in, int c, int h, int w, float *out,
                       float dx, float dy, float degrees, float scale);

/* The elastic displacement fields of step 2 alone (the same draws in the
 * same order as nr_augment_image makes them), e.g. for tests or previews:
 *   dx, dy: [h, w] overwritten with alpha * G_sigma * U(-1, 1), x field
 *           first; in pixels; the output pixel p reads the input at p + d(p).
 *   workspace: [nr_augment_elastic_workspace_floats(h, w)] floats, clobbered.
 * alpha, sigma finite and >= 0. */
void nr_augment_elastic_field(int h, int w, float alpha, float sigma,
                              float *dx, float *dy, float *workspace,
                              nr_rng *rng);

/* Scratch of nr_augment_elastic_field: kernel, one padded row and the
 * padded row-blurred field, sized for the largest radius max(h, w) - 1:
 * R + 1 + (w8 + 2R) + (h + 2R) * w8 with R = max(h, w) - 1 and w8 = w
 * rounded up to a multiple of 8. */
size_t nr_augment_elastic_workspace_floats(int h, int w);

/* Seeds *rng for one sample: nr_rng_seed(rng, seed, stream) with stream a
 * bijective mix of NR_RNG_STREAM_AUGMENT, epoch and index, so distinct
 * (epoch, index) pairs get distinct streams (guaranteed for 0 <= epoch < 2^24
 * and index < 2^40) and the result depends on nothing else.
 * epoch >= 0 (0-based or 1-based, the caller's convention; just be
 * consistent). */
void nr_augment_rng(nr_rng *rng, uint64_t seed, int epoch, size_t index);

#endif
