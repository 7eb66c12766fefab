/* tests/support/toy_data.c - see toy_data.h. */
#include "toy_data.h"

#include <stdlib.h>
#include <string.h>

#include "netrun/kernels.h"

nr_dataset *toy_dataset(size_t count, uint64_t seed)
{
    static char *names[] = {"a", "b", "c", "d"};
    nr_dataset *ds = calloc(1, sizeof *ds);
    ds->root = strdup("toy");
    ds->count = count;
    ds->channels = 1;
    ds->height = ds->width = 8;
    ds->class_count = 4;
    ds->class_names = names;
    ds->pixels = calloc(count * 64, 1);
    ds->labels = calloc(count, sizeof *ds->labels);
    for (int c = 0; c < 3; c++)
        ds->pixel_scale[c] = NR_PIXEL_SCALE;   /* netrun's default, as the loader sets */
    nr_rng rng;
    nr_rng_seed(&rng, seed, 1);
    for (size_t i = 0; i < count; i++) {
        int label = (int)nr_rng_below(&rng, 4);
        ds->labels[i] = (uint16_t)label;
        uint8_t *img = ds->pixels + i * 64;
        for (int p = 0; p < 64; p++)
            img[p] = (uint8_t)nr_rng_below(&rng, 60);
        int oy = (label / 2) * 4, ox = (label % 2) * 4;
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                img[(oy + y) * 8 + ox + x] = 200;
    }
    return ds;
}

void toy_free(nr_dataset *ds)
{
    free(ds->root);
    free(ds->pixels);
    free(ds->labels);
    free(ds);
}
