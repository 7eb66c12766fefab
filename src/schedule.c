/* schedule.c - learning-rate schedules (see netrun/schedule.h). */
#include "netrun/schedule.h"

#include <math.h>
#include <string.h>

static const char *const schedule_names[] = {
    [NR_SCHEDULE_CONSTANT] = "constant",   [NR_SCHEDULE_STEP] = "step",
    [NR_SCHEDULE_MULTISTEP] = "multistep", [NR_SCHEDULE_EXPONENTIAL] = "exponential",
    [NR_SCHEDULE_COSINE] = "cosine",       [NR_SCHEDULE_PLATEAU] = "reduce_on_plateau",
    [NR_SCHEDULE_ONE_CYCLE] = "one_cycle",
};

const char *nr_schedule_name(nr_schedule_kind kind)
{
    return schedule_names[kind];
}

bool nr_schedule_kind_from_name(const char *name, nr_schedule_kind *kind)
{
    for (int k = 0; k < (int)(sizeof schedule_names / sizeof schedule_names[0]); k++)
        if (strcmp(schedule_names[k], name) == 0) {
            *kind = (nr_schedule_kind)k;
            return true;
        }
    return false;
}

void nr_schedule_init(nr_schedule *s, double base_lr, int epochs)
{
    s->base_lr = base_lr;
    s->epochs = epochs;
    s->plateau_lr = base_lr;
    s->plateau_best = 0.0;
    s->plateau_bad_epochs = 0;
    s->plateau_started = false;
}

bool nr_schedule_uses_total(nr_schedule_kind kind)
{
    return kind == NR_SCHEDULE_COSINE || kind == NR_SCHEDULE_ONE_CYCLE;
}

/* From a to b along a half cosine as u goes 0 -> 1. */
static double cosine_between(double a, double b, double u)
{
    const double pi = 3.14159265358979323846;
    return b + (a - b) * (1.0 + cos(pi * u)) / 2.0;
}

double nr_schedule_lr(const nr_schedule *s, int epoch, double progress)
{
    int e = epoch - 1;
    double t = e + progress;
    switch (s->kind) {
    case NR_SCHEDULE_CONSTANT:
        return s->base_lr;
    case NR_SCHEDULE_STEP:
        return s->base_lr * pow(s->gamma, e / s->step_size);
    case NR_SCHEDULE_MULTISTEP: {
        int passed = 0;
        for (int i = 0; i < s->milestone_count; i++)
            passed += s->milestones[i] <= e;
        return s->base_lr * pow(s->gamma, passed);
    }
    case NR_SCHEDULE_EXPONENTIAL:
        return s->base_lr * pow(s->gamma, e);
    case NR_SCHEDULE_COSINE: {
        double w = s->warmup_epochs;
        if (t < w)
            return s->base_lr * (0.1 + 0.9 * t / w);
        double span = s->epochs - w;
        double u = span > 0 ? (t - w) / span : 1.0;
        return cosine_between(s->base_lr, s->min_lr, u > 1.0 ? 1.0 : u);
    }
    case NR_SCHEDULE_PLATEAU:
        return s->plateau_lr;
    case NR_SCHEDULE_ONE_CYCLE: {
        double u = t / s->epochs;
        double start = s->base_lr / s->div_factor;
        double end = start / s->final_div_factor;
        if (u < s->pct_start)
            return cosine_between(start, s->base_lr, u / s->pct_start);
        return cosine_between(s->base_lr, end, (u - s->pct_start) / (1.0 - s->pct_start));
    }
    }
    return s->base_lr;
}

void nr_schedule_end_epoch(nr_schedule *s, double monitored)
{
    if (s->kind != NR_SCHEDULE_PLATEAU)
        return;
    bool better;
    if (!s->plateau_started)
        better = true;
    else if (s->monitor_higher_is_better)
        better = monitored > s->plateau_best + s->min_delta;
    else
        better = monitored < s->plateau_best - s->min_delta;
    s->plateau_started = true;
    if (better) {
        s->plateau_best = monitored;
        s->plateau_bad_epochs = 0;
        return;
    }
    if (++s->plateau_bad_epochs > s->patience) {
        double reduced = s->plateau_lr * s->factor;
        s->plateau_lr = reduced > s->min_lr ? reduced : s->min_lr;
        s->plateau_bad_epochs = 0;
    }
}
