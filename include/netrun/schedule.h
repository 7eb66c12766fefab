/* netrun/schedule.h - learning-rate schedules (train.schedule).
 *
 * Time is measured in epochs: t = (epoch - 1) + fraction of the epoch done,
 * so t runs from 0 to `epochs`. Epoch-wise schedules (step, multistep,
 * exponential) change the lr only at epoch boundaries, as PyTorch's
 * schedulers stepped once per epoch do; cosine (after its warmup) and
 * one_cycle follow t batch by batch.
 *   constant       lr = base
 *   step           lr = base * gamma^floor(e / step_size)           (e = epoch - 1)
 *   multistep      lr = base * gamma^(number of milestones <= e)
 *   exponential    lr = base * gamma^e
 *   cosine         warmup (warmup_epochs W > 0): lr = base * (0.1 + 0.9 t / W) for t < W;
 *                  then lr = min_lr + (base - min_lr) (1 + cos(pi (t - W) / (epochs - W))) / 2
 *   reduce_on_plateau  lr starts at base; after each epoch the monitored value
 *                  (a cost: lower is better; an accuracy: higher) is compared
 *                  with the best so far: not better by min_delta for more than
 *                  `patience` epochs in a row -> lr = max(lr * factor, min_lr)
 *   one_cycle      u = t / epochs; for u < pct_start lr rises from
 *                  base/div_factor to base along a half cosine, then falls to
 *                  base/(div_factor*final_div_factor) (PyTorch OneCycleLR with
 *                  max_lr = the optimizer's lr, anneal_strategy "cos")
 * The struct is plain data (copy it to checkpoint it).
 */
#ifndef NETRUN_SCHEDULE_H
#define NETRUN_SCHEDULE_H

#include <stdbool.h>

typedef enum nr_schedule_kind {
    NR_SCHEDULE_CONSTANT,
    NR_SCHEDULE_STEP,
    NR_SCHEDULE_MULTISTEP,
    NR_SCHEDULE_EXPONENTIAL,
    NR_SCHEDULE_COSINE,
    NR_SCHEDULE_PLATEAU,
    NR_SCHEDULE_ONE_CYCLE
} nr_schedule_kind;

enum { NR_SCHEDULE_MAX_MILESTONES = 64 };

typedef struct nr_schedule {
    nr_schedule_kind kind;
    double base_lr;
    int epochs;
    int step_size;                          /* step */
    double gamma;                           /* step, multistep, exponential */
    int milestones[NR_SCHEDULE_MAX_MILESTONES];  /* multistep, ascending */
    int milestone_count;
    double min_lr;                          /* cosine, reduce_on_plateau */
    int warmup_epochs;                      /* cosine */
    double factor, min_delta;               /* reduce_on_plateau */
    int patience;
    bool monitor_higher_is_better;          /* reduce_on_plateau: an accuracy */
    double pct_start, div_factor, final_div_factor;  /* one_cycle */
    /* reduce_on_plateau state */
    double plateau_lr, plateau_best;
    int plateau_bad_epochs;
    bool plateau_started;
} nr_schedule;

/* The kind named `name` as in the spec ("cosine"); false when there is none. */
bool nr_schedule_kind_from_name(const char *name, nr_schedule_kind *kind);
/* After the kind's parameters are set (nr_spec_train_config reads them from
 * train.schedule): sets base_lr (the optimizer's lr) and epochs and starts
 * the reduce_on_plateau state. */
void nr_schedule_init(nr_schedule *s, double base_lr, int epochs);
/* The name of the schedule kind as in the spec ("cosine"). */
const char *nr_schedule_name(nr_schedule_kind kind);

/* True when the kind's lr depends on the total number of epochs (cosine,
 * one_cycle): a run of such a schedule cannot be continued past its total
 * as if that had been planned from the start. */
bool nr_schedule_uses_total(nr_schedule_kind kind);

/* lr at `epoch` (1-based) with `progress` in [0, 1) of it done. */
double nr_schedule_lr(const nr_schedule *s, int epoch, double progress);
/* After an epoch: feeds reduce_on_plateau its monitored value (others ignore it). */
void nr_schedule_end_epoch(nr_schedule *s, double monitored);

#endif
