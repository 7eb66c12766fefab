/* layers/layer.h - the contract every layer kind implements (internal).
 *
 * Each layer kind lives in its own file (layers/conv.c, layers/maxpool.c, ...)
 * and exports one const nr_layer_ops; the registry in layers/registry.c lists
 * them all in one const array indexed by nr_layer_kind. Nothing dispatches on
 * kind with a switch or a strcmp ladder: callers go through the table (what a
 * kind means for the executor, for `init: auto`, for threads are fields of
 * its ops), and what a backend can do are fields of its kernel table.
 *
 * Dependencies run one way: graph.c (the builder) and net.c (the executor)
 * -> registry.c -> the kinds -> layer.c (setup helpers), plan.c (memory
 * plan), runs.c (running a list of runs, for residual blocks; the rows
 * exchanged between processes, nr_exec_gather_rows) -> kernels.
 * A kind reaches the builder through nr_layer_site.build and other kinds
 * through nr_layer_run.ops, never through the registry.
 */
#ifndef NETRUN_LAYERS_LAYER_H
#define NETRUN_LAYERS_LAYER_H

#include <stdint.h>

#include "netrun/comm.h"
#include "netrun/graph.h"
#include "netrun/net.h"

typedef struct nr_layer_ops nr_layer_ops;

/* Context handed to setup: where the layer sits, for error messages, and
 * what a kind needs of the builder. Kinds do not look themselves up in the
 * registry nor call the builder directly (the registry depends on the kinds,
 * the builder on the registry: no cycle). */
typedef struct nr_layer_site nr_layer_site;
struct nr_layer_site {
    const ns_doc *doc;
    const char *path;        /* "network.layers[3]" */
    const nr_layer_ops *ops; /* the kind being set up (nr_layer_fail names it) */
    /* nr_layers_build, for kinds that hold a list of layers (residual) */
    int (*build)(const ns_node *list, nr_shape in, const nr_layer_site *site,
                 const char *label_prefix, nr_layer **layers, size_t *count, nr_error *err);
};

/* ---- execution (see netrun/net.h for the memory plan) ---- */

/* The dense layer's whole-batch fast path (kernels.h, dense_sparse.c): each
 * field is the nr_dense_* function of that name. */
typedef struct nr_dense_fast_kernels {
    size_t (*workspace_floats)(const nr_dense_dims *);           /* for d->n examples */
    int (*forward_sparse_possible)(const nr_dense_dims *);
    int (*forward_sparse_pays)(const nr_dense_dims *, const float *);
    void (*transpose_weight)(const nr_dense_dims *, const float *, float *, int, int);
    void (*forward)(const nr_dense_dims *, const float *, const float *, const float *,
                    const float *, float *, float *);
    void (*backward_weight_part)(const nr_dense_dims *, const float *, const float *, float *,
                                 float *, int, int, float *);
    void (*backward_input)(const nr_dense_dims *, const float *, const float *, float *, int);
} nr_dense_fast_kernels;

/* The kernels of one backend (BLAS or reference); the same signatures. */
typedef struct nr_kernel_table {
    size_t (*conv2d_workspace_floats)(const nr_conv2d_dims *);   /* for d->n examples */
    void (*conv2d_forward)(const nr_conv2d_dims *, const float *, const float *,
                           const float *, float *, float *);
    void (*conv2d_backward)(const nr_conv2d_dims *, const float *, const float *,
                            const float *, float *, float *, float *, float *);
    void (*maxpool_forward)(const nr_pool2d_dims *, const float *, float *, int32_t *);
    void (*maxpool_backward)(const nr_pool2d_dims *, const float *, const int32_t *, float *);
    /* din overwritten; NULL: zero din and use maxpool_backward */
    void (*maxpool_backward_set)(const nr_pool2d_dims *, const float *, const int32_t *,
                                 float *);
    void (*avgpool_forward)(const nr_pool2d_dims *, const float *, float *);
    void (*avgpool_backward)(const nr_pool2d_dims *, const float *, float *);
    void (*dense_forward)(const nr_dense_dims *, const float *, const float *, const float *,
                          float *);
    void (*dense_backward)(const nr_dense_dims *, const float *, const float *, const float *,
                           float *, float *, float *);
    /* Fused conv -> activation and/or maxpool 2x2/2 (kernels.h,
     * nr_conv2d_fused_*_direct); NULL when the backend has none.
     * conv2d_fusable: whether they take a convolution of these dims. */
    int (*conv2d_fusable)(const nr_conv2d_dims *);
    void (*conv2d_fused_forward)(const nr_conv2d_dims *, const nr_conv_epilogue *,
                                 const float *, const float *, const float *, float *,
                                 int32_t *, float *);
    void (*conv2d_fused_backward)(const nr_conv2d_dims *, const nr_conv_epilogue *,
                                  const float *, const float *, const float *, const int32_t *,
                                  const float *, float *, float *, float *, float *);
    /* Element-wise activations whose fast form rounds differently (tanh,
     * sigmoid: vmath.h vs libm) or is vectorised (leaky_relu). */
    void (*tanh_forward)(size_t, const float *, float *);
    void (*sigmoid_forward)(size_t, const float *, float *);
    void (*leaky_relu_forward)(size_t, float, const float *, float *);
    /* The dense layer's whole-batch path (see layers/dense.c); NULL when the
     * backend has none: then the layer runs dense_forward/dense_backward on
     * each thread's share. */
    const nr_dense_fast_kernels *dense_fast;
} nr_kernel_table;

extern const nr_kernel_table nr_blas_kernels, nr_reference_kernels;

/* A bump allocator used twice per net: a sizing pass (base == NULL: only
 * `used` grows, take returns NULL) and a binding pass (consecutive slices). */
typedef struct nr_arena {
    char *base;
    size_t used;         /* bytes */
} nr_arena;

void *nr_arena_take(nr_arena *arena, size_t count, size_t elem_size);

/* What a layer's bind() may take memory from. */
typedef struct nr_net_plan {
    nr_arena params;     /* learnable floats; grads mirror it at the same offsets */
    nr_arena buffers;    /* model state that is not learned (running stats) */
    nr_arena scratch;    /* per-batch saved state, any type, sized for max_batch */
    float *params_base, *grads_base;  /* binding pass: to derive grad slices */
    int max_batch;
} nr_net_plan;

/* Layer fusion (decided by the net when it is created, see net.c
 * fuse_runs): a conv run whose next runs are an activation and/or a maxpool
 * 2x2/2 (in either order) in the same list may execute them too, as the
 * epilogue `epi` of its kernel; those runs (run[1] .. run[fused]) are then
 * `absorbed`: the executor skips them, their out/dout/saved buffers are the
 * ones the conv run reads and writes (the last one's out and dout, the
 * maxpool's argmax), and their own forward/backward never run. Which kinds
 * can be an epilogue is said by their ops (conv_epilogue), never by name. */
/* A batchnorm run whose next runs are relu (and maxpool 2x2/2) in the same
 * list executes them too (net.c fuse_batchnorm_runs, layers/batchnorm.c),
 * with the same absorbed convention: run[1] = the relu, run[2] = the
 * maxpool. */
typedef enum nr_fuse {
    NR_FUSE_NONE,
    NR_FUSE_RELU,           /* batchnorm -> relu */
    NR_FUSE_RELU_MAXPOOL    /* batchnorm -> relu -> maxpool 2x2/2 */
} nr_fuse;

/* The runtime of one layer. out/dout ([max_batch, out size]) are bound by
 * the net for every layer; the rest by the kind's bind(). */
typedef struct nr_layer_run nr_layer_run;
struct nr_layer_run {
    const nr_layer *layer;
    const nr_layer_ops *ops;   /* the kind's (from the registry, set by the net) */
    float *weight, *bias;      /* params slices (NULL if none) */
    float *dweight, *dbias;    /* grads slices, same layout */
    float *running;            /* batchnorm: running mean [c], running var [c] */
    float *out, *dout;
    void *saved;               /* maxpool argmax (int32), dropout mask (uint8),
                                  batchnorm per-image partial sums (double; see
                                  layers/batchnorm.c) */
    size_t saved_stride;       /* bytes of `saved` per example (set by bind when the
                                  state is per example, so a thread's share of the
                                  batch starts at saved + first * saved_stride);
                                  0 = one state for the whole batch */
    nr_layer_run *block;       /* residual: runs of layer->block / layer->shortcut */
    nr_layer_run *shortcut;
    nr_conv_epilogue epi;      /* conv: what the runs it absorbed do */
    int fused;                 /* conv: how many runs after it it executes (0: none) */
    int fused_pool;            /* conv: the maxpool among them (run[fused_pool]); 0: none */
    nr_fuse fuse;              /* batchnorm: the runs after it that it executes */
    bool absorbed;             /* executed by an earlier run (fusion): skipped */
    /* Timing (nr_net_set_timing), set by the net for the runs inside residual
     * blocks (NULL at the top level, which the net times itself): where
     * nr_runs_forward/nr_runs_backward put this run's times; a residual run
     * also has the rows of its identity shortcut and of its add. */
    nr_layer_times *times;
    nr_layer_times *identity_times, *add_times;
};

/* Several processes (nr_net_set_comm with a comm of more than one): every
 * process runs the whole net on the whole batch's buffers but computes only
 * the shares of its threads, global threads [thread_base[rank],
 * thread_base[rank + 1]) of global_threads; what couples the examples is
 * gathered (nr_exec_gather_rows, the logits after a forward), and the
 * threads' gradient blocks of the summed ranges are gathered from every
 * process and summed in global thread order: the bits of one process of
 * global_threads threads. net.c plans it; runs.c's nr_exec_gather_rows
 * reads it. */
struct nr_net_ranks {
    const nr_comm *comm;          /* borrowed */
    int size;
    int *thread_base;             /* [size + 1]; [size] = global threads */
    int *row_first;               /* [size + 1]: the current pass's examples per process */
    uintptr_t input_lo, input_hi; /* the current pass's input (whole on every process) */
    size_t summed_floats;         /* S: the summed ranges' floats */
    float *send;                  /* [threads * S]: this process's blocks, packed */
    float *recv;                  /* [global threads * S]: every process's */
    int *counts, *displs;         /* [size] each: floats per process in recv */
};

/* Per-call execution context.
 *
 * Threads (see net.c): a batch of batch_n examples is split into contiguous
 * shares, one per thread; each thread runs every layer on its share, through
 * its own copy of the runs whose out/dout/saved point at its first example
 * and whose dweight/dbias point into its own gradient block. A layer thus
 * sees `n` examples starting at `first`, and only layers whose result
 * couples examples need to know more:
 *   - batchnorm, whose statistics couple the examples, synchronises its
 *     threads itself with ex->pool barriers (see layers/batchnorm.c);
 *   - dropout draws from one PRNG stream for the whole batch: each thread
 *     jumps to its share (nr_rng_advance by first * features) and every thread
 *     advances its copy of the stream by the whole batch, so the masks do not
 *     depend on the thread count. */
typedef struct nr_pool nr_pool;
typedef struct nr_net_ranks nr_net_ranks;
typedef struct nr_exec_clock {
    double wall, cpu;          /* seconds: monotonic, this thread's CPU time */
    /* seconds this thread spent exchanging between processes
     * (nr_exec_gather_rows, the gradient blocks) since its clock started:
     * a running count, so a span's share is the difference of two readings */
    double exchange_wall, exchange_cpu;
} nr_exec_clock;
typedef struct nr_exec {
    const nr_kernel_table *kernels;
    float *workspace;          /* this thread's: the largest any layer needs */
    nr_rng *dropout_rng;       /* this thread's copy of the stream at the batch start */
    bool training;
    int n;                     /* examples of this thread's share (0 possible) */
    int first;                 /* index of its first example in the batch */
    int batch_n;               /* examples in the whole batch */
    int thread, threads;       /* this thread, of how many */
    nr_pool *pool;             /* for barriers; NULL when single-threaded */
    /* Several processes (nr_net_set_comm): the batch is split over every
     * process's threads, this one's index among them (== thread in one
     * process), and the other processes' shares are theirs: `ranks` gathers
     * them (nr_exec_gather_rows); NULL in one process. */
    int global_thread;
    const nr_net_ranks *ranks;
    /* backward only, for layers with NR_EXEC_SETS_DIN: din holds garbage and
     * must be OVERWRITTEN for this share (this layer is its only writer); when
     * false, din is ACCUMULATED as usual. Layers without the flag always get
     * a zeroed din from the executor. */
    bool din_fresh;
    /* Per-layer timing on (nr_net_set_timing): this thread's stamp of the
     * last nr_exec_mark and its exchange count (thread 0's are the ones
     * read); NULL: timing off. */
    nr_exec_clock *clock;
} nr_exec;

/* With ex->clock: ends a timed span that began at `since` (a copy of
 * *ex->clock taken before it): with several threads a barrier first (every
 * thread must call it alike); then thread 0 stores the span's wall and CPU
 * seconds, and the part of them spent exchanging between processes, in
 * times' backward or forward fields (when times is not NULL) and restarts
 * its clock (the exchange count goes on). */
void nr_exec_mark(const nr_exec *ex, nr_exec_clock since, nr_layer_times *times, bool backward);
/* With ex->clock on thread 0: adds the time since `start` (a reading of
 * nr_exec_clock_now() taken before an exchange between processes) to the
 * clock's exchange count. Does nothing otherwise. */
void nr_exec_count_exchange(const nr_exec *ex, nr_exec_clock start);
/* For layers whose result couples the examples (dense's whole-batch
 * weight gradient, batchnorm's statistics), called by every thread after
 * the barrier that completes this process's shares: rows is row 0 of the
 * whole batch's per-example rows of row_bytes bytes each, this process's
 * shares written; on return (a barrier) every other process's rows are
 * there too. In one process it does nothing (no barrier either). */
void nr_exec_gather_rows(const nr_exec *ex, void *rows, size_t row_bytes);
/* The clock's reading now (thread 0 starts its clock with it). */
nr_exec_clock nr_exec_clock_now(void);

/* Takes `count` floats of params and points the grads slice at the same offset. */
float *nr_plan_params(nr_net_plan *plan, size_t count, float **grad);

/* Sequential execution of a list of runs (the net's top level, residual
 * blocks): forward returns the last output; backward takes the list's input
 * and accumulates into din (may be NULL), with the last run's dout filled.
 * Inside a list, each run's dout is written by the next run alone: the
 * executor zeroes it just before that run's backward, or lets a
 * NR_EXEC_SETS_DIN layer overwrite it; no gradient buffer is zeroed as a
 * whole per batch. With ex->clock, each run is timed into run->times
 * (nr_exec_mark). */
const float *nr_runs_forward(const nr_exec *ex, nr_layer_run *runs, size_t count,
                             const float *in);
/* One run of such a list (the net times them one by one): skipped when
 * absorbed by a fused run, or on an empty share unless NR_EXEC_EMPTY_OK.
 * din_fresh: din holds garbage (this run is its only writer): zeroed first,
 * or overwritten by a NR_EXEC_SETS_DIN layer. */
void nr_run_forward(const nr_exec *ex, nr_layer_run *run, const float *in);
void nr_run_backward(const nr_exec *ex, nr_layer_run *run, const float *in, float *din,
                     bool din_fresh);
void nr_runs_backward(const nr_exec *ex, nr_layer_run *runs, size_t count,
                      const float *in, float *din);

/* What `init: auto` of a conv or dense layer (decided when its layer list is
 * built, see layers/graph.c) makes of the kind of a layer after it in the
 * same list. The first layer after it that is not NR_AUTO_INIT_PASS decides;
 * none (the end of the list): Glorot. */
typedef enum nr_auto_init {
    NR_AUTO_INIT_GLOROT = 0,  /* Glorot (uniform): the default of every kind
                                 (tanh, sigmoid, softmax, weighted layers,
                                 residual blocks) */
    NR_AUTO_INIT_HE,          /* a ReLU-like activation: He (normal) */
    NR_AUTO_INIT_PASS         /* not an activation (pooling, flatten, dropout,
                                 batchnorm): the layer after it decides */
} nr_auto_init;

struct nr_layer_ops {
    const char *name;        /* the spec name of the kind */
    /* Reads the kind's parameters from `params` (the resolved parameter map,
     * NULL for parameterless kinds) into layer->config, checks that the
     * layer fits `layer->in` and sets layer->out, param_count and macs.
     * On a misfit: -1 with a message naming site->path and the layer's
     * spec position. */
    int (*setup)(nr_layer *layer, const ns_node *params, const nr_layer_site *site,
                 nr_error *err);
    /* Appends the kind's settings to a short description ("8x3x3 s1 p1");
     * NULL when the name says everything. */
    void (*describe)(const nr_layer *layer, char *buf, size_t size);
    /* The shapes of its parameter tensors ("weight 16x8x3x3, bias 16"; see
     * nr_layer_describe_params); NULL for kinds without parameters. */
    void (*describe_params)(const nr_layer *layer, char *buf, size_t size);

    /* Takes the layer's params/buffers/scratch from the plan (both passes);
     * NULL when it needs none. */
    void (*bind)(nr_layer_run *run, nr_net_plan *plan);
    /* Initializes params and buffers; NULL when there are none. */
    void (*init)(nr_layer_run *run, nr_rng *rng);
    /* Kernel workspace floats the layer needs for up to max_batch examples
     * with these kernels (NULL = none). */
    size_t (*workspace_floats)(const nr_layer *layer, const nr_kernel_table *kernels,
                               int max_batch);
    /* out = f(in) for ex->n examples. NULL only for softmax, which runs as
     * the loss head (never executed as a layer). */
    void (*forward)(const nr_exec *ex, nr_layer_run *run, const float *in);
    /* From run->dout (and the forward's in/out/saved state): accumulates the
     * parameter gradients and, when din != NULL, din += dL/din. run->dout is
     * only read (a residual block points the last run of both its paths at
     * its own dout). */
    void (*backward)(const nr_exec *ex, nr_layer_run *run, const float *in, float *din);
    /* NR_EXEC_* flags: how the executor may split a batch across threads. */
    unsigned exec_flags;
    /* The input must be an image: the kind works on channels x height x
     * width (conv, pooling), so the flat output of dense/flatten is refused
     * when the graph is built. */
    bool needs_image;
    /* `netrun export` (onnx_export.c) of an element-wise kind: its ONNX
     * operator ("Relu") and, when it has one, its float attribute (name and
     * this layer's value: "alpha" of LeakyRelu). NULL for the kinds the
     * exporter writes itself (conv, pools, dense, flatten, batchnorm,
     * residual, dropout, softmax). */
    const char *onnx_op;
    const char *onnx_attr;
    float (*onnx_attr_value)(const nr_layer *layer);
    /* With these kernels, the backward computes the parameter gradients of
     * the WHOLE batch, split among the threads, straight into the shared
     * gradient: the executor points every thread's dweight/dbias at it and
     * neither keeps those ranges per thread nor sums them. NULL: never. */
    bool (*whole_batch_grads)(const nr_kernel_table *kernels);
    /* Layers with `init:` in the spec: the layer's init when setup left it
     * `auto` (the graph then writes its choice there), NULL when the spec
     * named one. NULL for kinds without weights. */
    nr_init_kind *(*auto_init_slot)(nr_layer *layer);
    /* What this kind makes of `init: auto` of a layer before it (above). */
    nr_auto_init auto_init;
    /* Fusion (net.c fuse_runs). takes_epilogue: the layer (a conv) can run
     * the layers after it as an epilogue of its kernels: these kernels
     * have fused forms for its shape with max_batch examples. NULL: never. */
    bool (*takes_epilogue)(const nr_layer *layer, const nr_kernel_table *kernels, int max_batch);
    /* conv_epilogue: the layer can be such an epilogue after what *epi
     * already holds (the layers between it and the conv): adds itself to
     * *epi and returns true; false (epi untouched) when it cannot. NULL:
     * the kind never can. */
    bool (*conv_epilogue)(const nr_layer *layer, nr_conv_epilogue *epi);
};

/* conv_epilogue of the activation kinds: `act` (with `slope` for
 * leaky_relu) when *epi has no activation yet; after a pooling it runs
 * second (pool_first). */
bool nr_epilogue_add_act(nr_conv_epilogue *epi, nr_act_kind act, float slope);

enum {
    /* Must be called on an empty share too (n = 0): it keeps per-thread state
     * in step (dropout's stream), synchronises its threads (batchnorm's
     * barriers) or contains layers that do (residual blocks). Other layers
     * are skipped when n = 0. */
    NR_EXEC_EMPTY_OK = 1u << 1,
    /* Its backward can overwrite din when ex->din_fresh (no zeroing pass). */
    NR_EXEC_SETS_DIN = 1u << 2,
};

extern const nr_layer_ops nr_conv_ops, nr_maxpool_ops, nr_avgpool_ops, nr_dense_ops,
    nr_flatten_ops, nr_relu_ops, nr_leaky_relu_ops, nr_sigmoid_ops, nr_tanh_ops,
    nr_softmax_ops, nr_dropout_ops, nr_batchnorm_ops, nr_residual_ops;

/* The registry: one entry per nr_layer_kind. */
extern const nr_layer_ops *const nr_layer_registry[NR_LAYER_KIND_COUNT];

/* Kind for a spec name; -1 if none. */
int nr_layer_kind_from_name(const char *name);

/* Shared helpers for setup functions. */
/* Output = input (activations, dropout, batchnorm, softmax). */
int nr_layer_setup_same_shape(nr_layer *layer, const ns_node *params,
                              const nr_layer_site *site, nr_error *err);
/* Fails with "FILE:LINE:COL: error: PATH KIND: message". */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
int nr_layer_fail(const nr_layer *layer, const nr_layer_site *site, nr_error *err,
                  const char *fmt, ...);
/* Output size of a sliding window; -1 when the window does not fit. */
int nr_window_out(int in, int size, int stride, int pad);
/* Reads an `init:` value: false for "auto" (then *kind is untouched). */
bool nr_init_from_name(const char *name, nr_init_kind *kind);
/* *out = product of factors[0..count); false (and *out untouched) on size_t overflow. */
bool nr_size_mul(size_t *out, size_t count, const size_t *factors);

/* Builds `count` layers from a layer list node, starting from shape `in`
 * (used by the graph and by residual blocks); repeat blocks are expanded.
 * On success *layers is malloc'd (caller frees with nr_layers_free). */
int nr_layers_build(const ns_node *list, nr_shape in, const nr_layer_site *site,
                    const char *label_prefix, nr_layer **layers, size_t *count,
                    nr_error *err);
void nr_layers_free(nr_layer *layers, size_t count);

#endif
