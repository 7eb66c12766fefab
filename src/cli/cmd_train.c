/* cli/cmd_train.c - `netrun SPEC...`: train and evaluate; `netrun eval`. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "netrun/error.h"
#include "netrun/run.h"

typedef struct progress {
    int tty;               /* stderr is a terminal: draw a live bar */
    double last_draw;
    int bar_shown;
} progress;

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void clear_bar(progress *p)
{
    if (p->bar_shown) {
        fprintf(stderr, "\r\033[K");
        p->bar_shown = 0;
    }
}

static void on_message(void *ctx, const char *line)
{
    clear_bar(ctx);
    fprintf(stderr, "netrun: %s\n", line);
}

static void on_batch(void *ctx, const nr_batch_record *b)
{
    progress *p = ctx;
    if (!p->tty)
        return;
    double now = wall_seconds();
    if (b->batch != b->batches && now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    int filled = (int)((long)WIDTH * b->batch / b->batches);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[WIDTH] = '\0';
    double rate = b->epoch_seconds > 0 ? b->images / b->epoch_seconds : 0.0;
    double eta = b->batch ? b->epoch_seconds * (b->batches - b->batch) / b->batch : 0.0;
    fprintf(stderr, "\r\033[Kepoch %d [%s] %d/%d  cost %.4f  acc %.2f%%  %.0f img/s  ETA %.0fs",
            b->epoch, bar, b->batch, b->batches, b->running_cost, 100.0 * b->running_acc,
            rate, eta);
    p->bar_shown = 1;
}

static void on_epoch(void *ctx, const nr_epoch_record *e, int epochs)
{
    clear_bar(ctx);
    printf("epoch %*d/%d  train cost %.4f acc %6.2f%%  test cost %.4f acc %6.2f%%  "
           "lr %g  %.1fs\n",
           epochs >= 100 ? 3 : epochs >= 10 ? 2 : 1, e->epoch, epochs, e->train_cost,
           100.0 * e->train_acc, e->test_cost, 100.0 * e->test_acc, e->lr, e->seconds);
    fflush(stdout);
}

int cli_train(const cli_options *opts)
{
    if (opts->spec_count > 1 && opts->out_dir) {
        fprintf(stderr, "netrun: error: --out names one run folder; give one spec with it\n");
        return NR_EXIT_INPUT;
    }
    progress bar = {.tty = isatty(STDERR_FILENO)};
    int status = 0;
    for (size_t i = 0; i < opts->spec_count; i++) {
        nr_run_options run = {
            .spec_path = opts->specs[i],
            .sets = opts->sets,
            .set_count = opts->set_count,
            .out_dir = opts->out_dir,
            .backend = opts->backend,
            .hooks = {.ctx = &bar, .message = on_message, .on_batch = on_batch,
                      .on_epoch = on_epoch},
        };
        nr_run_result result;
        nr_error err = {0};
        if (nr_run(&run, &result, &err) != 0) {
            clear_bar(&bar);
            fprintf(stderr, "%s\n", err.message);
            if (result.run_dir[0])
                fprintf(stderr, "netrun: what finished is kept in %s\n", result.run_dir);
            status = err.status ? err.status : NR_EXIT_INTERNAL;
            continue;
        }
        printf("%s: test accuracy %.2f%% after %d epochs, training time %.1f s; run folder %s\n",
               opts->specs[i], 100.0 * result.final_test_acc, result.epochs,
               result.train_seconds, result.run_dir);
    }
    return status;
}

int cli_eval(const cli_options *opts)
{
    if (!opts->weights) {
        fprintf(stderr, "netrun: error: eval needs --weights FILE (a run folder's weights.bin)\n");
        return NR_EXIT_INPUT;
    }
    if (opts->spec_count != 1) {
        fprintf(stderr, "netrun: error: eval takes one spec\n");
        return NR_EXIT_INPUT;
    }
    nr_eval_result result;
    nr_error err = {0};
    if (nr_run_eval(opts->specs[0], opts->sets, opts->set_count, opts->weights, opts->backend,
                    &result, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    printf("test cost %.6f  test accuracy %.4f (%zu/%zu)\n", result.cost, result.accuracy,
           result.correct, result.count);
    return 0;
}
