/* softmax_loss.c - softmax, fused softmax + cross-entropy (log-sum-exp),
 * MSE against one-hot targets, argmax/accuracy. See netrun/kernels.h. */
#include "netrun/kernels.h"

#include <assert.h>
#include <math.h>

static float row_max(int k, const float *x)
{
    float m = x[0];
    for (int j = 1; j < k; j++)
        if (x[j] > m)
            m = x[j];
    return m;
}

static float row_expsum(int k, const float *x, float m)
{
    float s = 0.0f;
    for (int j = 0; j < k; j++)
        s += expf(x[j] - m);
    return s;   /* >= 1: the maximum contributes exp(0) */
}

void nr_softmax_forward(int n, int k, const float *logits, float *probs)
{
    assert(n > 0 && k > 0);
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * k;
        float *p = probs + (size_t)i * k;
        const float m = row_max(k, x);
        const float inv = 1.0f / row_expsum(k, x, m);
        for (int j = 0; j < k; j++)
            p[j] = expf(x[j] - m) * inv;
    }
}

void nr_softmax_backward(int n, int k, const float *probs, const float *dprobs,
                         float *dlogits)
{
    assert(n > 0 && k > 0);
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        const float *g = dprobs + (size_t)i * k;
        float *dl = dlogits + (size_t)i * k;
        float dot = 0.0f;
        for (int j = 0; j < k; j++)
            dot += g[j] * p[j];
        for (int j = 0; j < k; j++)
            dl[j] += p[j] * (g[j] - dot);
    }
}

float nr_softmax_cross_entropy(int n, int k, const float *logits,
                               const int32_t *labels, float *probs,
                               float *dlogits)
{
    return nr_softmax_cross_entropy_smoothed(n, k, logits, labels, 0.0f, probs, dlogits);
}

float nr_softmax_cross_entropy_smoothed(int n, int k, const float *logits,
                                        const int32_t *labels, float smoothing,
                                        float *probs, float *dlogits)
{
    return nr_softmax_cross_entropy_weighted(n, k, logits, labels, smoothing, NULL, probs,
                                             dlogits);
}

float nr_softmax_cross_entropy_weighted(int n, int k, const float *logits,
                                        const int32_t *labels, float smoothing,
                                        const float *class_weight, float *probs,
                                        float *dlogits)
{
    assert(n > 0 && k > 0);
    assert(smoothing >= 0.0f && smoothing < 1.0f);
    const float inv_n = 1.0f / (float)n;
    const float off_target = smoothing / (float)k;        /* q_j for j != label */
    const float on_target = 1.0f - smoothing + off_target; /* q_label */
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * k;
        const int32_t label = labels[i];
        assert(label >= 0 && label < k);
        const float m = row_max(k, x);
        const float s = row_expsum(k, x, m);
        /* logsumexp(x) - x[label] = (m - x[label]) + log(s), both terms >= 0 */
        double loss = (double)(m - x[label]) + log((double)s);
        if (smoothing > 0.0f) {
            /* sum_j q_j (lse - x_j) = (1 - s)(lse - x_label) + s (lse - mean x) */
            double mean = 0.0;
            for (int j = 0; j < k; j++)
                mean += x[j];
            mean /= k;
            loss = (1.0 - smoothing) * loss + smoothing * ((m - mean) + log((double)s));
        }
        /* weight 1 (no class_weight) multiplies exactly: the unweighted bits */
        const float w = class_weight ? class_weight[label] : 1.0f;
        total += (double)w * loss;
        if (probs || dlogits) {
            const float inv = 1.0f / s;
            const float step = w * inv_n;
            float *p = probs ? probs + (size_t)i * k : NULL;
            float *dl = dlogits ? dlogits + (size_t)i * k : NULL;
            for (int j = 0; j < k; j++) {
                const float pj = expf(x[j] - m) * inv;
                if (p)
                    p[j] = pj;
                if (dl) {
                    const float q = smoothing > 0.0f ? (j == label ? on_target : off_target)
                                                     : (j == label ? 1.0f : 0.0f);
                    dl[j] += (pj - q) * step;
                }
            }
        }
    }
    return (float)(total / n);
}

float nr_mse_onehot(int n, int k, const float *pred, const int32_t *labels,
                    float *dpred)
{
    return nr_mse_onehot_weighted(n, k, pred, labels, NULL, dpred);
}

float nr_mse_onehot_weighted(int n, int k, const float *pred, const int32_t *labels,
                             const float *class_weight, float *dpred)
{
    assert(n > 0 && k > 0);
    const double count = (double)n * k;
    const float scale = (float)(2.0 / count);
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *p = pred + (size_t)i * k;
        const int32_t label = labels[i];
        assert(label >= 0 && label < k);
        /* weight 1 (no class_weight) multiplies exactly: the unweighted bits */
        const float w = class_weight ? class_weight[label] : 1.0f;
        const float wscale = w * scale;
        /* unweighted: summed straight into total, as before weights existed */
        double row = 0.0, *sum = class_weight ? &row : &total;
        for (int j = 0; j < k; j++) {
            const float diff = p[j] - (j == label ? 1.0f : 0.0f);
            *sum += (double)diff * diff;
            if (dpred)
                dpred[(size_t)i * k + j] += wscale * diff;
        }
        if (class_weight)
            total += (double)w * row;
    }
    return (float)(total / count);
}

float nr_softmax_mse(int n, int k, const float *logits, const int32_t *labels,
                     float *probs, float *dlogits)
{
    return nr_softmax_mse_weighted(n, k, logits, labels, NULL, probs, dlogits);
}

float nr_softmax_mse_weighted(int n, int k, const float *logits, const int32_t *labels,
                              const float *class_weight, float *probs, float *dlogits)
{
    assert(n > 0 && k > 0);
    const double count = (double)n * k;
    const float unweighted_scale = (float)(2.0 / count);
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * k;
        const int32_t label = labels[i];
        assert(label >= 0 && label < k);
        /* weight 1 (no class_weight) multiplies exactly: the unweighted bits */
        const float w = class_weight ? class_weight[label] : 1.0f;
        const float scale = w * unweighted_scale;
        /* unweighted: summed straight into total, as before weights existed */
        double row = 0.0, *sum = class_weight ? &row : &total;
        const float m = row_max(k, x);
        const float inv = 1.0f / row_expsum(k, x, m);
        float *p = probs ? probs + (size_t)i * k : NULL;
        /* g_j = dL/dp_j = scale * (p_j - y_j); dlogits_j += p_j (g_j - sum_l g_l p_l) */
        float dot = 0.0f;
        for (int j = 0; j < k; j++) {
            const float pj = expf(x[j] - m) * inv;
            const float diff = pj - (j == label ? 1.0f : 0.0f);
            *sum += (double)diff * diff;
            dot += scale * diff * pj;
            if (p)
                p[j] = pj;
        }
        if (dlogits) {
            float *dl = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                const float pj = p ? p[j] : expf(x[j] - m) * inv;
                const float g = scale * (pj - (j == label ? 1.0f : 0.0f));
                dl[j] += pj * (g - dot);
            }
        }
        if (class_weight)
            total += (double)w * row;
    }
    return (float)(total / count);
}

void nr_argmax_rows(int n, int k, const float *x, int32_t *out)
{
    assert(n >= 0 && k > 0);
    for (int i = 0; i < n; i++) {
        const float *row = x + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (row[j] > row[best])
                best = j;
        out[i] = best;
    }
}

int nr_count_correct(int n, int k, const float *x, const int32_t *labels)
{
    assert(n >= 0 && k > 0);
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *row = x + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (row[j] > row[best])
                best = j;
        correct += best == labels[i];
    }
    return correct;
}
