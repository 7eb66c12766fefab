/* kernels/add.c - element-wise sums of two tensors (residual blocks: the add
 * of the two paths, the identity shortcut's gradient), written so that the
 * compiler vectorizes them (kernels/vec.h); each element is the one IEEE sum
 * the plain loop computes, so the results are the same bits. */
#include "netrun/kernels.h"

#include "kernels/vec.h"

void nr_add(size_t count, const float *a, const float *b, float *out)
{
    const float *restrict x = a, *restrict y = b;
    float *restrict z = out;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        z[i + 0] = x[i + 0] + y[i + 0]; z[i + 1] = x[i + 1] + y[i + 1];
        z[i + 2] = x[i + 2] + y[i + 2]; z[i + 3] = x[i + 3] + y[i + 3];
        z[i + 4] = x[i + 4] + y[i + 4]; z[i + 5] = x[i + 5] + y[i + 5];
        z[i + 6] = x[i + 6] + y[i + 6]; z[i + 7] = x[i + 7] + y[i + 7];
    }
    for (; i < count; i++)
        z[i] = x[i] + y[i];
}

void nr_add_into(size_t count, const float *src, float *dst)
{
    nr_vadd(dst, src, count);
}
