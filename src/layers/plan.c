/* layers/plan.c - the memory plan's allocators, which the layer kinds'
 * bind() take their parameters and state from (see nr_net_plan in
 * layers/layer.h; the executor, layers/net.c, runs the two passes). */
#include "layers/layer.h"

enum { SCRATCH_ALIGN = 64 };

void *nr_arena_take(nr_arena *arena, size_t count, size_t elem_size)
{
    size_t align = elem_size < SCRATCH_ALIGN ? elem_size : SCRATCH_ALIGN;
    arena->used = (arena->used + align - 1) / align * align;
    void *slice = arena->base ? arena->base + arena->used : NULL;
    arena->used += count * elem_size;
    return slice;
}

float *nr_plan_params(nr_net_plan *plan, size_t count, float **grad)
{
    float *slice = nr_arena_take(&plan->params, count, sizeof(float));
    *grad = slice ? plan->grads_base + (slice - plan->params_base) : NULL;
    return slice;
}
