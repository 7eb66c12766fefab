/* netrun/net.h - the executor: a graph made runnable.
 *
 * nr_net_create() plans all memory of a graph for batches of up to
 * max_batch examples, once:
 *   - params:  ONE contiguous block of every learnable float (layer order;
 *              per layer the weights then the bias / gamma then beta), so an
 *              optimizer runs over one long vector and a checkpoint is one write;
 *   - grads:   ONE block of the same size and layout;
 *   - buffers: ONE block of non-learned state that belongs to the model
 *              (batchnorm running mean and variance);
 *   - activations, their gradients and per-layer saved state (maxpool argmax,
 *              dropout masks, batchnorm batch statistics), sized for max_batch;
 *   - one kernel workspace shared by all layers (the largest need).
 * Nothing is allocated after creation: forward/backward/loss only compute.
 *
 * The loss head: when the last layer is softmax, nr_net_forward() stops before
 * it and returns logits; nr_net_loss() applies the softmax fused with the loss
 * (cross_entropy via log-sum-exp, or mse on the softmax output). Without a
 * final softmax, the network's outputs are taken as logits.
 *
 * Ownership: the net borrows the graph (keep it alive); everything else is
 * owned by the net. Not thread-safe: one net per thread.
 */
#ifndef NETRUN_NET_H
#define NETRUN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netrun/error.h"
#include "netrun/graph.h"
#include "netrun/kernels.h"

typedef enum nr_backend {
    NR_BACKEND_BLAS,       /* OpenBLAS kernels (default) */
    NR_BACKEND_REFERENCE   /* plain loops, no BLAS: the oracle */
} nr_backend;

typedef enum nr_loss_kind { NR_LOSS_CROSS_ENTROPY, NR_LOSS_MSE } nr_loss_kind;

typedef struct nr_net nr_net;

int nr_net_create(const nr_graph *graph, int max_batch, nr_backend backend,
                  nr_loss_kind loss, nr_net **out, nr_error *err);
void nr_net_free(nr_net *net);

/* Initializes parameters and buffers from `seed` (stream NR_RNG_STREAM_INIT):
 * conv/dense weights by their init kind, biases 0, batchnorm gamma 1, beta 0,
 * running mean 0, running variance 1. Same seed, same values. */
void nr_net_init(nr_net *net, uint64_t seed);

size_t nr_net_param_count(const nr_net *net);
float *nr_net_params(nr_net *net);     /* [param_count] */
float *nr_net_grads(nr_net *net);      /* [param_count] */
size_t nr_net_buffer_count(const nr_net *net);
float *nr_net_buffers(nr_net *net);    /* [buffer_count] */
int nr_net_classes(const nr_net *net); /* width of the output / logits */
nr_shape nr_net_input(const nr_net *net); /* per-example input shape */

/* Sets the dropout PRNG state (a copy is kept; read it back for checkpoints). */
void nr_net_set_dropout_rng(nr_net *net, nr_rng rng);
nr_rng nr_net_dropout_rng(const nr_net *net);

/* input: [n, C, H, W] of the graph's input shape, n <= max_batch.
 * training: dropout active, batchnorm uses batch statistics and updates its
 * running statistics. Returns the logits [n, classes] (owned by the net,
 * valid until the next forward). */
const float *nr_net_forward(nr_net *net, const float *input, int n, bool training);

/* Label smoothing for cross-entropy losses computed with want_grad (the
 * training objective); evaluation losses stay plain. Default 0. */
void nr_net_set_label_smoothing(nr_net *net, float smoothing);

/* After a forward of n examples: the mean loss over the batch, the number of
 * correct argmax predictions in *correct (may be NULL), the class
 * probabilities in probs ([n, classes], may be NULL) and, when want_grad,
 * the gradient of the mean loss w.r.t. the logits, ready for backward. */
float nr_net_loss(nr_net *net, const int32_t *labels, int n, bool want_grad,
                  int *correct, float *probs);

/* Back-propagates the loss gradient of the last nr_net_loss(want_grad) call
 * through the training-mode forward of the same n examples; parameter
 * gradients are ACCUMULATED into grads (call nr_net_zero_grads first). */
void nr_net_backward(nr_net *net, const float *input, int n);
void nr_net_zero_grads(nr_net *net);

#endif
