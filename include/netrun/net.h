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
 * owned by the net. Not thread-safe: call a net from one thread at a time
 * (it may run its own worker threads inside, see nr_net_set_threads).
 */
#ifndef NETRUN_NET_H
#define NETRUN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netrun/comm.h"
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
const nr_graph *nr_net_graph(const nr_net *net); /* the graph it runs (borrowed) */

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
/* Class weights for the losses computed with want_grad (the training
 * objective, train.class_weights): class_weight [classes] scales each
 * example's loss and gradient by its label's weight (see
 * nr_softmax_cross_entropy_weighted); evaluation losses stay plain.
 * Borrowed: the caller keeps it alive while the net uses it. NULL (the
 * default) = unweighted. */
void nr_net_set_class_weights(nr_net *net, const float *class_weight);

/* After a forward of n examples: the mean loss over the batch, the number of
 * correct argmax predictions in *correct (may be NULL), the class
 * probabilities in probs ([n, classes], may be NULL) and, when want_grad,
 * the gradient of the mean loss w.r.t. the logits, ready for backward. */
float nr_net_loss(nr_net *net, const int32_t *labels, int n, bool want_grad,
                  int *correct, float *probs);

/* After a forward of n examples, without labels: out [n, classes] receives
 * what the model outputs per class, the probs nr_net_loss gives (the same
 * bits): the softmax of the logits for a cross_entropy net or one ending
 * with softmax, the logits themselves for an mse net without softmax.
 * predicted (may be NULL) [n]: the argmax of the logits, the class
 * nr_net_loss counts as the prediction. */
void nr_net_outputs(const nr_net *net, int n, float *out, int32_t *predicted);

/* Back-propagates the loss gradient of the last nr_net_loss(want_grad) call
 * through the training-mode forward of the same n examples; parameter
 * gradients are ACCUMULATED into grads (call nr_net_zero_grads first). */
void nr_net_backward(nr_net *net, const float *input, int n);
/* The same, then an update of the parameters on the net's threads (an
 * optimizer step): when the gradients are complete, update(ctx, first,
 * count) is called once per thread, concurrently, on disjoint ranges
 * [first, first + count) that together cover [0, param_count) exactly once
 * (ranges may be empty and are then skipped). It may read the gradients and
 * write the parameters (and its own per-parameter state) of its range only.
 * An element-wise update (nr_sgd_step, nr_adam_step, nr_adamw_step on the
 * sub-range) gives the same bits as one call over the whole vector. */
typedef void (*nr_net_update_fn)(void *ctx, size_t first, size_t count);
void nr_net_backward_update(nr_net *net, const float *input, int n, nr_net_update_fn update,
                            void *ctx);
/* Zeroes the gradients. Deferred: the next forward or backward pass zeroes
 * them on all its threads (nr_net_grads() zeroes at once if none ran), so
 * read them through nr_net_grads(), not through a pointer kept from before. */
void nr_net_zero_grads(nr_net *net);

/* ---- threads ----
 * A net runs single-threaded until nr_net_set_threads(net, T) with T > 1
 * (T = 0: the online cores; capped at max_batch and NR_NET_MAX_THREADS).
 * Then every forward/backward splits its n examples into T contiguous shares
 * (thread t: examples [t*n/T, (t+1)*n/T)) run by a persistent pool of T
 * threads (the caller is thread 0; no thread is created per batch), each
 * with its own kernel workspace and its own parameter-gradient block; the
 * backward ends by adding the blocks to nr_net_grads() in thread order, so
 * the result is deterministic for a given T (and within float rounding of
 * T = 1: the sums are associated differently). Dense layers on the BLAS
 * backend instead split their weight gradient by columns among the threads,
 * each over the whole batch, straight into nr_net_grads() (no block, no
 * sum; the same bits for every T). Batchnorm layers combine per-image
 * partial sums of the whole batch in image order on every thread (batch
 * statistics: the same bits for every T); dropout masks are the same for
 * every T. OpenBLAS is set to 1 thread (a process-wide setting:
 * openblas_set_num_threads(1)) while T > 1, and forward/backward set it back
 * to 1 if someone raised it since.
 * Call it after nr_net_create, before training; it allocates (T - 1) x
 * (param_count + workspace) floats and may be called again to change T.
 * Returns 0, or -1 with err set (out of memory, no threads): the net then
 * stays usable single-threaded. */
enum { NR_NET_MAX_THREADS = 256 };
/* Runs fn(ctx, first, end) on the net's threads for contiguous shares
 * [first, end) of [0, count) (thread t: [t*count/T, (t+1)*count/T), empty
 * shares skipped), concurrently, and returns when all are done: for work
 * around the net, such as assembling a batch. fn must not call the net. */
typedef void (*nr_net_range_fn)(void *ctx, int first, int end);
void nr_net_parallel_for(nr_net *net, int count, nr_net_range_fn fn, void *ctx);
int nr_net_set_threads(nr_net *net, int threads, nr_error *err);
int nr_net_threads(const nr_net *net);   /* 1 until set */

/* ---- several processes (data parallelism over MPI ranks) ----
 * nr_net_set_comm(net, comm): every process of comm (netrun/comm.h) holds
 * the same net (same graph, max_batch, parameters) and calls every pass with
 * the same arguments: the WHOLE batch as input and labels. The batch is then
 * split over all processes' threads, process r's T_r threads being global
 * threads [T_0 + .. + T_(r-1), + T_r) of G = T_0 + .. + T_(P-1) (examples
 * [n*u/G, n*(u+1)/G) for global thread u), and each process computes only
 * its threads' shares. What couples the examples is exchanged: the logits
 * after every forward (so nr_net_loss, nr_net_outputs see the whole batch),
 * dense layers' input and output gradient (each process then computes the
 * whole dense weight gradient), batchnorm's per-image sums; after a
 * backward, every thread's gradient block from every process, summed in
 * global thread order. So every process ends a pass with the same
 * gradients, and P processes of T threads give the same bits as one
 * process of P*T threads (nr_net_set_threads(P*T)). With several
 * processes a backward REPLACES the gradients by the batch's (zero them
 * before each backward, as training does).
 * nr_net_set_comm and, once a comm is set, nr_net_set_threads are
 * collective (every process calls them; they exchange the thread counts)
 * and so are forward and backward. comm is borrowed (keep it alive while
 * the net uses it); NULL or a comm of one process: this process alone.
 * Returns 0, or -1 with err set on every process when any failed (then the
 * net runs this process alone). */
int nr_net_set_comm(nr_net *net, const nr_comm *comm, nr_error *err);
/* Threads of every process together (nr_net_threads() alone). */
int nr_net_global_threads(const nr_net *net);

/* ---- per-layer timing (netrun bench) ----
 * When on, every forward/backward records, for each top-level executed
 * layer (a final softmax fused into the loss is not one), its wall time and
 * the CPU time thread 0 spent in it, in seconds, overwritten per pass. With
 * several threads a barrier follows each layer, so the wall time is that of
 * the whole batch through the layer. The CPU time is the robust figure on a
 * busy machine (it excludes time the thread was descheduled). Off (the
 * default) costs one branch per layer. */
typedef struct nr_layer_times {
    double forward, backward;             /* wall seconds */
    double forward_cpu, backward_cpu;     /* thread 0's CPU seconds */
    /* Of these, the exchange between processes (nr_net_set_comm with
     * several): thread 0's time in the collectives, including the wait for
     * the other processes to reach them (dense layers' rows, batchnorm's
     * per-image sums, the gradient blocks); 0 in one process. */
    double forward_exchange, backward_exchange;
    double forward_exchange_cpu, backward_exchange_cpu;
} nr_layer_times;
void nr_net_set_timing(nr_net *net, bool on);
size_t nr_net_timed_layers(const nr_net *net);   /* graph->count less a head softmax */
const nr_layer_times *nr_net_layer_times(const nr_net *net);  /* [nr_net_timed_layers] */
/* The backward's summing of the threads' gradient blocks (in .backward and
 * .backward_cpu; zero single-threaded); with several processes it includes
 * the exchange of every process's blocks (.backward_exchange, _cpu). */
nr_layer_times nr_net_reduce_times(const nr_net *net);
/* Several processes: the forward's gather of every process's logits (the
 * forward fields, all of it exchange: .forward = .forward_exchange);
 * zero in one process. */
nr_layer_times nr_net_logits_times(const nr_net *net);
/* True when top-level executed layer i runs inside the layer before it
 * (conv -> relu -> maxpool fused on the BLAS backend); its times are ~0 and
 * that layer's include it. */
bool nr_net_layer_fused(const nr_net *net, size_t i);
/* Inside residual blocks (timed the same way, a barrier after each part
 * with several threads): one row per layer of the block, per layer of the
 * projection shortcut, for the identity shortcut (backward: din += dL/dout;
 * its forward costs nothing) and for the add (forward: out = block +
 * shortcut; backward: din zeroed when the block is its first writer, dL/dout
 * reaching both paths without a copy). Rows are in pre-order,
 * grouped by the top-level layer they are inside (`top`, ascending); a
 * block's rows follow their block's own row (a residual inside a block is
 * a row of depth d whose parts have depth d + 1). The parts of a block add
 * up to its time (the top-level row) per pass. */
typedef enum nr_part_kind {
    NR_PART_LAYER,       /* a layer of the block */
    NR_PART_SHORTCUT,    /* a layer of the projection shortcut (1x1 conv, batchnorm) */
    NR_PART_IDENTITY,    /* the identity shortcut */
    NR_PART_ADD          /* the add of the two paths */
} nr_part_kind;
typedef struct nr_timed_part {
    size_t top;               /* the top-level timed layer it is inside */
    int depth;                /* 1: in its block; 2: in a block inside that block... */
    nr_part_kind kind;
    const nr_layer *layer;    /* NULL for the identity and the add (borrowed: the graph's) */
    bool fused;               /* runs inside the layer before it (its times ~0) */
    nr_layer_times times;
} nr_timed_part;
size_t nr_net_timed_parts(const nr_net *net);
const nr_timed_part *nr_net_parts(const nr_net *net);   /* [nr_net_timed_parts] */

#endif
