/* optim.c - SGD (momentum, nesterov, L2), Adam (L2) and AdamW (decoupled
 * weight decay) over one contiguous parameter vector, PyTorch semantics.
 * See netrun/kernels.h for the contract. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

#include "simd.h"

void nr_sgd_step(size_t count, float *param, const float *grad, float *buf,
                 const nr_sgd_params *p, long t)
{
    assert(t >= 1);
    assert(!p->nesterov || (p->momentum > 0.0f && p->dampening == 0.0f));
    const float lr = p->lr, mom = p->momentum, wd = p->weight_decay;
    const float keep = 1.0f - p->dampening;
    /* 4 parameters at a time: the same operations as the scalar tail, lane
     * by lane (no fused multiply-add), so the result does not depend on
     * where a parameter falls */
    const nr_v4f vlr = nr_v4f_splat(lr), vmom = nr_v4f_splat(mom), vwd = nr_v4f_splat(wd),
                 vkeep = nr_v4f_splat(keep);
    size_t i = 0;
    if (mom != 0.0f) {
        assert(buf != NULL);
        for (; i + 4 <= count; i += 4) {
            nr_v4f w = nr_v4f_load(param + i), g = nr_v4f_load(grad + i);
            if (wd != 0.0f)
                g += vwd * w;
            const nr_v4f b = t == 1 ? g : vmom * nr_v4f_load(buf + i) + vkeep * g;
            nr_v4f_store(buf + i, b);
            if (p->nesterov)
                g += vmom * b;
            else
                g = b;
            nr_v4f_store(param + i, w - vlr * g);
        }
        for (; i < count; i++) {
            float g = grad[i];
            if (wd != 0.0f)
                g += wd * param[i];
            const float b = t == 1 ? g : mom * buf[i] + keep * g;
            buf[i] = b;
            if (p->nesterov)
                g += mom * b;
            else
                g = b;
            param[i] -= lr * g;
        }
    } else {
        for (; i + 4 <= count; i += 4) {
            nr_v4f w = nr_v4f_load(param + i), g = nr_v4f_load(grad + i);
            if (wd != 0.0f)
                g += vwd * w;
            nr_v4f_store(param + i, w - vlr * g);
        }
        for (; i < count; i++) {
            float g = grad[i];
            if (wd != 0.0f)
                g += wd * param[i];
            param[i] -= lr * g;
        }
    }
}

static void adam_core(size_t count, float *param, const float *grad, float *m,
                      float *v, const nr_adam_params *p, long t, float l2)
{
    assert(t >= 1);
    const float b1 = p->beta1, b2 = p->beta2;
    const double bc1 = 1.0 - pow((double)b1, (double)t);
    const double bc2 = 1.0 - pow((double)b2, (double)t);
    const float step_size = (float)((double)p->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = p->eps;
    for (size_t i = 0; i < count; i++) {
        float g = grad[i];
        if (l2 != 0.0f)
            g += l2 * param[i];
        const float mi = b1 * m[i] + (1.0f - b1) * g;
        const float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        param[i] -= step_size * (mi / denom);
    }
}

void nr_adam_step(size_t count, float *param, const float *grad, float *m,
                  float *v, const nr_adam_params *p, long t)
{
    adam_core(count, param, grad, m, v, p, t, p->weight_decay);
}

void nr_adamw_step(size_t count, float *param, const float *grad, float *m,
                   float *v, const nr_adam_params *p, long t)
{
    if (p->weight_decay != 0.0f) {
        const float decay = (float)(1.0 - (double)p->lr * (double)p->weight_decay);
        for (size_t i = 0; i < count; i++)
            param[i] *= decay;
    }
    adam_core(count, param, grad, m, v, p, t, 0.0f);
}
