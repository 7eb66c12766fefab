/* netrun/train.h - the training loop the assignment describes, and
 * evaluation.
 *
 * Per epoch: shuffle the training set (its own PRNG stream), run mini-batch
 * gradient descent; after each batch its cost and accuracy go into two lists;
 * the epoch's train cost and accuracy are the means of those lists; then the
 * cost (mean over all examples) and accuracy on the whole test set. The four
 * per-epoch lists, the lr and each epoch's training seconds form the history.
 *
 * Pixels stay uint8 in the datasets; each batch is converted to float
 * (value / 255) into a buffer allocated once; training images go through the
 * augmentation (when configured), seeded per epoch and image. With
 * cfg->prefetch a thread gathers batch b + 1 into a second buffer while
 * batch b computes; evaluation gathers on the net's threads. Either way a
 * batch's floats depend only on (seed, epoch, image): the same bits.
 *
 * Regularization and schedules: the lr follows train.schedule batch by batch;
 * a stratified, seeded validation split of Train (train.validation) is
 * evaluated after every epoch (history gains val_cost/val_acc); early
 * stopping watches a validation value and can restore the best epoch's
 * weights; label smoothing changes the training targets and class weights
 * scale each example's training loss (the reported test and validation costs
 * are always plain).
 *
 * Frozen layers (`freeze: true`, nr_layer.frozen): the optimizer skips their
 * parameters (no step, no weight decay, moments left at 0); gradients still
 * flow through them, and a frozen batchnorm keeps its running statistics
 * (it normalizes with them, see layers/batchnorm.c).
 *
 * The library prints nothing: progress reaches the caller through callbacks.
 */
#ifndef NETRUN_TRAIN_H
#define NETRUN_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netrun/augment.h"
#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/kernels.h"
#include "netrun/net.h"
#include "netrun/schedule.h"

typedef enum nr_optimizer_kind { NR_OPT_SGD, NR_OPT_ADAM, NR_OPT_ADAMW } nr_optimizer_kind;

/* train.class_weights: how each training example's loss is weighted by its
 * class (evaluation costs stay plain). */
typedef enum nr_class_weights_kind {
    NR_CLASS_WEIGHTS_NONE,      /* all 1: the unweighted loss, bit for bit */
    NR_CLASS_WEIGHTS_BALANCED,  /* class c: images / (classes * images of c), counted
                                   over the images that train (after the validation
                                   split), as sklearn's compute_class_weight */
    NR_CLASS_WEIGHTS_GIVEN      /* class_weight_values */
} nr_class_weights_kind;

/* What a training run does, as plain values (made from a spec by
 * nr_spec_train_config in netrun/spec_load.h; the trainer never reads the
 * spec tree). */
typedef struct nr_train_config {
    uint64_t seed;
    int batch_size;
    int epochs;
    bool shuffle;
    nr_loss_kind loss;
    nr_optimizer_kind optimizer;
    nr_sgd_params sgd;       /* when optimizer == NR_OPT_SGD */
    nr_adam_params adam;     /* when NR_OPT_ADAM / NR_OPT_ADAMW */
    int threads;             /* BLAS threads; 0 = online cores */
    nr_backend backend;      /* the spec's `backend` */
    nr_schedule schedule;
    char plateau_monitor[16];  /* reduce_on_plateau: val_cost, val_acc, train_cost, train_acc */
    float label_smoothing;   /* cross_entropy only */
    nr_class_weights_kind class_weights;
    const float *class_weight_values;  /* GIVEN: [Train's class count], borrowed (the
                                          caller fills them with nr_spec_class_weights
                                          once Train's classes are known); else NULL */
    double validation_fraction;  /* 0 = no validation split */
    int stop_patience;       /* early stopping: 0 = off */
    bool stop_on_accuracy;   /* monitor val_acc (else val_cost) */
    double stop_min_delta;
    bool restore_best;
    nr_augment_config augment;
    bool prefetch;           /* gather (and augment) the next batch on a thread of
                                its own while the current one computes (the same
                                bits either way) */
} nr_train_config;

/* The learning rate the config starts with. */
float nr_train_config_lr(const nr_train_config *cfg);

typedef struct nr_epoch_record {
    int epoch;               /* 1-based */
    double train_cost, train_acc;   /* means of the per-batch lists */
    double test_cost, test_acc;     /* over the whole test set */
    double val_cost, val_acc;       /* over the validation split; NaN without one */
    double lr;
    double seconds;          /* training time of this epoch (without the test pass) */
} nr_epoch_record;

typedef struct nr_batch_record {
    int epoch, batch, batches;      /* batch is 1-based, of `batches` */
    float cost, acc;                /* this batch */
    double running_cost, running_acc; /* means over the epoch so far */
    double epoch_seconds;           /* since the epoch started */
    int images;                     /* images so far this epoch */
} nr_batch_record;

typedef struct nr_train_callbacks {
    void *ctx;
    /* After every training batch (may be NULL). */
    void (*on_batch)(void *ctx, const nr_batch_record *batch);
    /* After every epoch's test pass, with the history so far (may be NULL).
     * A non-zero return stops training with that error (e.g. cannot write
     * the run folder). */
    int (*on_epoch)(void *ctx, const nr_epoch_record *history, int epochs_done,
                    nr_error *err);
    /* Whether to stop now, given whether this process was asked to (the
     * stop request): called after every batch and every epoch, so that
     * processes training together can agree (every one stops after the same
     * batch). NULL: the request decides. */
    bool (*stop_agreed)(void *ctx, bool requested);
} nr_train_callbacks;

typedef struct nr_train_outcome {
    int epochs_done;         /* < cfg->epochs when early stopping ended training */
    int best_epoch;          /* early stopping's best epoch (0 without early stopping) */
    bool restored_best;      /* the net holds the best epoch's weights */
} nr_train_outcome;

/* Trains `net` (already initialized) for up to cfg->epochs epochs. history:
 * caller array of cfg->epochs records, filled as epochs finish. (A trainer
 * created, run once and freed.) */
int nr_train(nr_net *net, const nr_dataset *train, const nr_dataset *test,
             const nr_train_config *cfg, const nr_train_callbacks *callbacks,
             nr_epoch_record *history, nr_train_outcome *outcome, nr_error *err);

/* A resumable training run. The trainer borrows net and the datasets (keep
 * them alive) and owns everything else: the optimizer moments, the shuffled
 * order, the PRNG states, the schedule and early-stopping state, the history.
 * Everything a run needs to continue exactly where it stopped is in its
 * checkpoint, so an interrupted-and-resumed run gives the same history as an
 * uninterrupted one (except the seconds). */
typedef struct nr_trainer nr_trainer;

int nr_trainer_create(nr_net *net, const nr_dataset *train, const nr_dataset *test,
                      const nr_train_config *cfg, nr_trainer **out, nr_error *err);
void nr_trainer_free(nr_trainer *trainer);

/* Trains until the last epoch or early stopping. When *stop_request becomes
 * non-zero (a signal handler sets it), the current batch is finished and the
 * call returns -1 with status NR_EXIT_INTERRUPTED; the trainer is then ready
 * to be saved and continued. A NaN/Inf cost stops with NR_EXIT_DIVERGED
 * before that batch changes any weight. stop_request may be NULL. */
int nr_trainer_run(nr_trainer *trainer, const nr_train_callbacks *callbacks,
                   const volatile sig_atomic_t *stop_request, nr_train_outcome *outcome,
                   nr_error *err);

/* The history so far (epochs_done records; owned by the trainer). */
const nr_epoch_record *nr_trainer_history(const nr_trainer *trainer, int *epochs_done);
/* True once training has ended (every epoch, or early stopping). */
bool nr_trainer_finished(const nr_trainer *trainer);
/* Training batches done over all epochs (rows batches.csv should have). */
long nr_trainer_batches_done(const nr_trainer *trainer);

/* Checkpoint: magic "NRCHKPT1", format version, a header that pins the run
 * (spec_hash = the caller's hash of the resolved spec, parameter, buffer and
 * image counts, the planned epochs), the trainer state, the net's parameters
 * and buffers, the optimizer moments, the early-stopping copy, the shuffled
 * order, the history (one record per planned epoch), and an FNV-1a checksum
 * of everything before it. Written atomically. Loading refuses another
 * run's or a corrupt checkpoint.
 *
 * A checkpoint planned for another total than cfg->epochs (netrun resume
 * --epochs N: the caller's spec_hash must then not depend on train.epochs)
 * continues to cfg->epochs, the history, early stopping and every other
 * state carrying on, as if cfg->epochs had been planned from the start -
 * refused (NR_EXIT_INPUT, naming the reason) when that cannot be: a schedule
 * that follows the total (nr_schedule_uses_total: cosine, one_cycle), a run
 * that early stopping ended, or a total not above the epochs done. A
 * finished run then is unfinished again. */
enum { NR_CHECKPOINT_MAX_EPOCHS = 100000 };   /* the largest train.epochs */
/* The total the last loaded checkpoint was planned for (cfg->epochs before
 * any load). */
int nr_trainer_checkpoint_epochs(const nr_trainer *trainer);
int nr_trainer_save(nr_trainer *trainer, const char *path, uint64_t spec_hash, nr_error *err);
int nr_trainer_load(nr_trainer *trainer, const char *path, uint64_t spec_hash, nr_error *err);

/* The stratified validation split: per class, a seeded shuffle (stream
 * NR_RNG_STREAM_SPLIT) and the first round(fraction * class size) images
 * held out. train_idx/val_idx: caller arrays of data->count entries; the
 * counts are returned. Both lists ascend. */
void nr_validation_split(const nr_dataset *data, double fraction, uint64_t seed,
                         uint32_t *train_idx, size_t *train_count, uint32_t *val_idx,
                         size_t *val_count);
/* The same split from the random stream `stream` (nr_validation_split:
 * NR_RNG_STREAM_SPLIT; the test split of data.test_fraction:
 * NR_RNG_STREAM_TEST_SPLIT, taken before the validation split). */
void nr_stratified_split(const nr_dataset *data, double fraction, uint64_t seed,
                         uint64_t stream, uint32_t *train_idx, size_t *train_count,
                         uint32_t *val_idx, size_t *val_count);
/* Images of a class of class_size held out by the split. */
size_t nr_validation_held_out(size_t class_size, double fraction);

/* One line saying what the network's output is and how the loss uses it
 * (a final softmax fused with the loss, or logits the loss applies softmax
 * to, or the raw outputs mse compares), into buf: `netrun check` and
 * summary.txt print it. */
const char *nr_describe_output(const nr_graph *graph, nr_loss_kind loss, char *buf,
                               size_t size);

/* The data fits the net: images of the net's input shape, as many classes as
 * outputs. Otherwise an error naming the data folder and the fix. */
int nr_check_data_fits(const nr_net *net, const nr_dataset *data, nr_error *err);

/* ---- batch preparation (the trainer's, shared with `netrun bench`) ---- */

/* The images idx[0..n) of data as float [n, C, H, W] into x (with the
 * data's pixel scaling, pixel_scale/pixel_shift) and their labels into
 * labels [n]. With augmentation active (nr_augment_active(augment)) each
 * image goes through it from its own (seed, epoch, idx[i]) stream
 * (nr_augment_rng) on this thread, in workspace
 * [nr_augment_workspace_floats(C, H, W)]; otherwise the conversion is
 * spread over net's threads (net NULL: this thread alone; workspace unused,
 * may be NULL). The same bits whoever calls it. */
void nr_prepare_batch(const nr_dataset *data, const uint32_t *idx, int n,
                      const nr_augment_config *augment, uint64_t seed, int epoch, nr_net *net,
                      float *workspace, float *x, int32_t *labels);

/* The prefetch thread (train.prefetch): one thread beside the caller that
 * runs posted jobs one at a time: job(ctx, batch, epoch, slot), e.g.
 * nr_prepare_batch of the next batch into buffer `slot` while the caller
 * computes the current one. Post a job, then wait for it before reading
 * what it writes or posting the next (the wait orders its writes before the
 * caller's reads). */
typedef struct nr_prefetcher nr_prefetcher;
typedef void (*nr_prefetch_job)(void *ctx, int batch, int epoch, int slot);
/* Starts the thread; *out is the caller's (nr_prefetcher_stop). */
int nr_prefetcher_start(nr_prefetch_job job, void *ctx, nr_prefetcher **out, nr_error *err);
void nr_prefetcher_post(nr_prefetcher *pf, int batch, int epoch, int slot);
/* Until the posted job (if any) is done. */
void nr_prefetcher_wait(nr_prefetcher *pf);
/* Finishes the posted job (if any), ends the thread, frees pf (NULL: no-op). */
void nr_prefetcher_stop(nr_prefetcher *pf);

typedef struct nr_eval_result {
    double cost;             /* mean loss over all examples */
    double accuracy;         /* correct / count */
    size_t correct, count;
} nr_eval_result;

/* Evaluation mode pass over `data` (or only the images `indices[0..count)`
 * when indices != NULL) in batches of at most batch_size (<= the net's max
 * batch). confusion: [classes, classes] counts (rows = true, cols =
 * predicted), zeroed and filled when non-NULL. predicted/confidence: [number
 * of images evaluated] argmax class and its probability, when non-NULL. */
int nr_evaluate(nr_net *net, const nr_dataset *data, const uint32_t *indices, size_t count,
                int batch_size, nr_eval_result *result, int64_t *confusion,
                int32_t *predicted, float *confidence, nr_error *err);

#endif
