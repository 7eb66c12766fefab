/* tests/support/toy_data.h - a tiny in-memory dataset for engine tests:
 * 8x8 gray images of 4 classes, the class being the quadrant that holds a
 * bright 3x3 square on a noisy background. Learnable in a few epochs. */
#ifndef NETRUN_TEST_TOY_DATA_H
#define NETRUN_TEST_TOY_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "netrun/data.h"

/* `count` images drawn from `seed`; free with toy_free. */
nr_dataset *toy_dataset(size_t count, uint64_t seed);
void toy_free(nr_dataset *ds);

#endif
