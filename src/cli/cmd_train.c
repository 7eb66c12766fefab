/* cli/cmd_train.c - `netrun SPEC...`: train and evaluate, `--sweep` grids
 * (every point checked before the first trains; several runs end with the
 * compare table and picture); `netrun eval`. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "netrun/clock.h"
#include "netrun/error.h"
#include "netrun/fileio.h"
#include "netrun/init_from.h"
#include "netrun/netspec.h"
#include "netrun/run.h"
#include "netrun/spec_load.h"

/* Set by SIGINT/SIGTERM: the one piece of global mutable state, as a signal
 * handler can reach nothing else. The run finishes its batch, writes its
 * checkpoint and stops; a second signal kills the process as usual. */
static volatile sig_atomic_t stop_requested;

static void request_stop(int signo)
{
    stop_requested = 1;
    signal(signo, SIG_DFL);
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = request_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct progress {
    int tty;               /* stderr is a terminal: draw a live bar */
    double last_draw;
    int bar_shown;
} progress;

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
    double now = nr_monotonic_seconds();
    if (b->batch != b->batches && now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    /* the width asked at every draw (<= 10 a second): a resize is followed */
    char line[512];
    cli_batch_line(b, cli_terminal_columns(STDERR_FILENO), line, sizeof line);
    fprintf(stderr, "\r\033[K%s", line);
    p->bar_shown = 1;
}

static void on_epoch(void *ctx, const nr_epoch_record *e, int epochs)
{
    clear_bar(ctx);
    /* on a terminal fitted to its width; otherwise the whole line */
    int columns = isatty(STDOUT_FILENO) ? cli_terminal_columns(STDOUT_FILENO) : 0;
    char line[512];
    cli_epoch_line(e, epochs, columns, line, sizeof line);
    printf("%s\n", line);
    fflush(stdout);
}

/* One run of a call: a spec and the assignments of its grid point. */
typedef struct train_point {
    const char *spec;
    const char **sets;       /* --set assignments, then the point's sweep values */
    size_t set_count;
    char *what;              /* "train.optimizer.sgd.lr=0.05, ..." or NULL */
    char *name;              /* the resolved spec's name (plan_check), or NULL */
} train_point;

typedef struct train_plan {
    cli_sweep *sweeps;
    size_t sweep_count;
    train_point *points;
    size_t count;
    char **assignments;      /* owned "KEY=VALUE" strings */
    size_t assignment_count;
} train_plan;

static void plan_free(train_plan *plan)
{
    for (size_t i = 0; i < plan->sweep_count; i++)
        cli_sweep_free(&plan->sweeps[i]);
    free(plan->sweeps);
    for (size_t i = 0; i < plan->count; i++) {
        free(plan->points[i].sets);
        free(plan->points[i].what);
        free(plan->points[i].name);
    }
    free(plan->points);
    for (size_t i = 0; i < plan->assignment_count; i++)
        free(plan->assignments[i]);
    free(plan->assignments);
}

enum { GRID_MAX = 10000 };

/* Two --set paths name the same key: "layers[0]" and "layers.0" are one. */
static bool same_key(const char *a, const char *b)
{
    for (;;) {
        if (*a == ']')
            a++;
        if (*b == ']')
            b++;
        char ca = *a == '[' ? '.' : *a, cb = *b == '[' ? '.' : *b;
        if (ca != cb)
            return false;
        if (!ca)
            return true;
        a++, b++;
    }
}

/* specs x the cartesian product of the sweeps (the last sweep varies
 * fastest). Prints its errors; returns the exit status. */
static int plan_build(const cli_options *opts, train_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->sweeps = calloc(opts->sweep_count ? opts->sweep_count : 1, sizeof *plan->sweeps);
    if (!plan->sweeps)
        goto oom;
    size_t grid = 1, total_values = 0;
    for (size_t i = 0; i < opts->sweep_count; i++) {
        int status = cli_sweep_parse(opts->sweeps[i], &plan->sweeps[i]);
        if (status != 0)
            return status;
        plan->sweep_count++;
        for (size_t j = 0; j < i; j++)
            if (same_key(plan->sweeps[j].key, plan->sweeps[i].key)) {
                fprintf(stderr, "netrun: error: --sweep '%s': %s is swept twice; give all its "
                        "values in one --sweep\n", opts->sweeps[i], plan->sweeps[i].key);
                return NR_EXIT_INPUT;
            }
        grid *= plan->sweeps[i].count;
        total_values += plan->sweeps[i].count;
        if (grid * opts->spec_count > GRID_MAX) {
            fprintf(stderr, "netrun: error: --sweep: more than %d runs; sweep fewer values\n",
                    GRID_MAX);
            return NR_EXIT_INPUT;
        }
    }
    /* "KEY=VALUE" once per value */
    plan->assignments = calloc(total_values ? total_values : 1, sizeof *plan->assignments);
    if (!plan->assignments)
        goto oom;
    size_t *first = calloc(plan->sweep_count ? plan->sweep_count : 1, sizeof *first);
    if (!first)
        goto oom;
    for (size_t i = 0; i < plan->sweep_count; i++) {
        first[i] = plan->assignment_count;
        for (size_t v = 0; v < plan->sweeps[i].count; v++) {
            size_t n = strlen(plan->sweeps[i].key) + strlen(plan->sweeps[i].values[v]) + 2;
            char *a = malloc(n);
            if (!a) {
                free(first);
                goto oom;
            }
            snprintf(a, n, "%s=%s", plan->sweeps[i].key, plan->sweeps[i].values[v]);
            plan->assignments[plan->assignment_count++] = a;
        }
    }
    plan->points = calloc(opts->spec_count * grid, sizeof *plan->points);
    if (!plan->points) {
        free(first);
        goto oom;
    }
    for (size_t s = 0; s < opts->spec_count; s++)
        for (size_t g = 0; g < grid; g++) {
            train_point *pt = &plan->points[plan->count++];
            pt->spec = opts->specs[s];
            pt->sets = calloc(opts->set_count + plan->sweep_count + 1, sizeof *pt->sets);
            if (!pt->sets) {
                free(first);
                goto oom;
            }
            for (size_t i = 0; i < opts->set_count; i++)
                pt->sets[pt->set_count++] = opts->sets[i];
            size_t rest = g, what_len = 1;
            const char **mine = pt->sets + pt->set_count;
            for (size_t i = plan->sweep_count; i-- > 0;) {
                size_t v = rest % plan->sweeps[i].count;
                rest /= plan->sweeps[i].count;
                mine[i] = plan->assignments[first[i] + v];
                what_len += strlen(mine[i]) + 2;
            }
            pt->set_count += plan->sweep_count;
            if (plan->sweep_count) {
                pt->what = malloc(what_len);
                if (!pt->what) {
                    free(first);
                    goto oom;
                }
                pt->what[0] = '\0';
                for (size_t i = 0; i < plan->sweep_count; i++) {
                    if (i)
                        strcat(pt->what, ", ");
                    strcat(pt->what, mine[i]);
                }
            }
        }
    free(first);
    return 0;
oom:
    fprintf(stderr, "netrun: error: out of memory\n");
    return NR_EXIT_INTERNAL;
}

/* Parse, resolve, shape check, training settings and data (as `netrun
 * check` sees them) of every point before the first one trains; records
 * each point's name (its run folder's NAME-k). */
static int plan_check(train_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        train_point *pt = &plan->points[i];
        nr_spec spec;
        nr_error err = {0};
        int ok = nr_spec_load(pt->spec, pt->sets, pt->set_count, &spec, &err) == 0;
        if (ok) {
            nr_spec_data data;
            ok = nr_spec_check_data(&spec, NR_SPEC_DATA_TRAIN | NR_SPEC_DATA_TEST, &data,
                                    &err) == 0 &&
                 nr_init_from(&spec, NULL, NULL, &err) == 0;
            if (ok) {
                nr_spec_data_free(&data);
                pt->name = strdup(ns_get_str(spec.doc->root, "name"));
                if (!pt->name) {
                    nr_fail(&err, NR_EXIT_INTERNAL, "netrun: error: out of memory");
                    ok = 0;
                }
            }
            nr_spec_free(&spec);
        }
        if (!ok) {
            fprintf(stderr, "%s\n", err.message);
            return err.status ? err.status : NR_EXIT_INTERNAL;
        }
    }
    return 0;
}

/* The --sweep --out root, held for the whole sweep: created (with its
 * parents) when absent, locked, then found empty (but for the lock file). A
 * second netrun on it stops here, before loading anything. Prints its
 * errors; returns the exit status. */
static int hold_sweep_root(const char *root, nr_dir_lock *lock, bool *created)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", root);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    *created = mkdir(root, 0755) == 0;
    if (!*created && errno != EEXIST) {
        fprintf(stderr, "%s: error: cannot create the sweep folder: %s\n", root,
                strerror(errno));
        return NR_EXIT_INPUT;
    }
    /* files but no lock file: no sweep in progress; refused untouched */
    bool untouched = !*created && nr_dir_empty(root) == 0 && !nr_folder_has_lock_file(root);
    nr_error err = {0};
    if (!untouched && nr_folder_lock(root, lock, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    if (untouched || nr_dir_empty(root) != 1) {
        fprintf(stderr, "%s: error: the sweep folder exists and is not empty; netrun never "
                "overwrites runs: choose another --out\n", root);
        return NR_EXIT_INPUT;
    }
    return 0;
}

/* "PARENT/compare-NAME-N.png", N the first number not taken. */
static char *compare_picture_path(const char *run_dir, const char *name)
{
    const char *slash = strrchr(run_dir, '/');
    size_t parent = slash ? (size_t)(slash - run_dir) : 0;
    size_t size = parent + strlen(name) + 48;
    char *path = malloc(size);
    if (!path)
        return NULL;
    for (int n = 1; n < 100000; n++) {
        snprintf(path, size, "%.*s%scompare-%s-%d.png", (int)parent, run_dir,
                 slash ? "/" : "", name, n);
        if (access(path, F_OK) != 0)
            return path;
    }
    free(path);
    return NULL;
}

/* Under mpirun: another process's failure is printed by that process; ranks
 * > 0 of a run shared by several processes (run_comm) have no run folder to
 * name. A sweep point is its process's alone: its folder is named. */
static void report_failure(const cli_options *opts, const nr_comm *run_comm, progress *bar,
                           const nr_error *err, const nr_run_result *result)
{
    clear_bar(bar);
    if (result->peer_failed)
        return;
    FILE *out = opts->run_errors ? opts->run_errors : stderr;
    fprintf(out, "%s\n", err->message);
    if (!result->run_dir[0] || (run_comm && nr_comm_rank(run_comm) != 0)) {
        fflush(out);
        return;
    }
    if (err->status == NR_EXIT_INTERRUPTED)
        fprintf(out, "netrun: checkpoint written; continue with: netrun resume %s\n",
                result->run_dir);
    else
        fprintf(out, "netrun: what finished is kept in %s\n", result->run_dir);
    fflush(out);
}

/* The progress hooks: rank 0's (or this process's alone). */
static nr_run_hooks run_hooks(const cli_options *opts, progress *bar)
{
    if (opts->comm && nr_comm_rank(opts->comm) != 0)
        return (nr_run_hooks){0};
    return (nr_run_hooks){.ctx = bar, .message = on_message, .on_batch = on_batch,
                          .on_epoch = on_epoch};
}

/* "LABEL [WHAT]: test accuracy ...; run folder DIR" on stdout (what: a
 * sweep point's values, or NULL) */
static void print_result_line(const char *label, const char *what, double test_acc, int epochs,
                              double train_seconds, const char *dir)
{
    printf("%s%s%s%s: test accuracy %.2f%% after %d epoch%s, training time %.1f s; "
           "run folder %s\n",
           label, what ? " [" : "", what ? what : "", what ? "]" : "", 100.0 * test_acc, epochs,
           epochs == 1 ? "" : "s", train_seconds, dir);
    fflush(stdout);
}

static void report_success(const char *what, const nr_run_result *result)
{
    print_result_line(what, NULL, result->final_test_acc, result->epochs,
                      result->train_seconds, result->run_dir);
}

/* What every process learns of a point once the points are done (the rows
 * nr_comm_allgather_rows gathers: plain numbers, the same size everywhere). */
typedef struct point_result {
    int status;              /* its run's exit status, 0 trained; POINT_NOT_RUN */
    int epochs;
    double test_acc;
    double train_seconds;
} point_result;

enum { POINT_NOT_RUN = -1, DIR_BYTES = 4096 };

static void print_point_result(const train_point *pt, const point_result *r, const char *dir)
{
    print_result_line(pt->spec, pt->what, r->test_acc, r->epochs, r->train_seconds, dir);
}

/* Collective: the first non-zero status in rank order, on every process
 * (one process: its own). */
static int agreed_status(const nr_comm *comm, int status)
{
    const int size = nr_comm_size(comm);
    int *all = calloc((size_t)size, sizeof *all);
    if (!all) {
        nr_comm_abort(comm, NR_EXIT_INTERNAL);   /* no way to agree: end every process */
        return NR_EXIT_INTERNAL;
    }
    nr_comm_allgather_int(comm, status, all);
    int agreed = 0;
    for (int r = 0; r < size && agreed == 0; r++)
        agreed = all[r];
    free(all);
    return agreed;
}

/* Rank 0 claims every point's run folder in point order
 * (nr_run_claim_folder: RUNS_ROOT/NAME-k), so the folders are named as one
 * process names them whichever process trains a point. Prints its errors;
 * on failure removes those it claimed. */
static int claim_point_dirs(const train_plan *plan, const char *runs_root,
                            char (*dirs)[DIR_BYTES])
{
    for (size_t i = 0; i < plan->count; i++) {
        nr_error err = {0};
        if (nr_run_claim_folder(runs_root, plan->points[i].name, dirs[i], DIR_BYTES,
                                &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            while (i-- > 0)
                rmdir(dirs[i]);
            return err.status ? err.status : NR_EXIT_INTERNAL;
        }
    }
    return 0;
}

/* Collective: every process's results of its points (point i on process
 * i mod P) into results[count] on every process, in point order. */
static void gather_results(const nr_comm *comm, point_result *results, size_t count)
{
    const int size = nr_comm_size(comm), rank = nr_comm_rank(comm);
    int *first = calloc((size_t)size + 1, sizeof *first);
    point_result *rows = calloc(count ? count : 1, sizeof *rows);
    if (nr_comm_any(comm, !first || !rows)) {
        free(first);
        free(rows);
        nr_comm_abort(comm, NR_EXIT_INTERNAL);   /* the results cannot be gathered */
        return;
    }
    /* process r holds its points r, r + P, ... as rows first[r] .. */
    for (int r = 0; r < size; r++)
        first[r + 1] = first[r] + (int)(count / (size_t)size) +
                       ((size_t)r < count % (size_t)size ? 1 : 0);
    for (size_t i = (size_t)rank; i < count; i += (size_t)size)
        rows[(size_t)first[rank] + i / (size_t)size] = results[i];
    nr_comm_allgather_rows(comm, rows, sizeof *rows, first);
    for (size_t i = 0; i < count; i++)
        results[i] = rows[(size_t)first[i % (size_t)size] + i / (size_t)size];
    free(first);
    free(rows);
}

/* The call's exit status from its points' (in point order, as one process
 * runs them): interrupted (130) when a point was, or was never started;
 * otherwise the last failed point's; 0 when all trained. */
static int points_status(const point_result *results, size_t count)
{
    int status = 0;
    for (size_t i = 0; i < count; i++)
        if (results[i].status == NR_EXIT_INTERRUPTED || results[i].status == POINT_NOT_RUN)
            return NR_EXIT_INTERRUPTED;
        else if (results[i].status != 0)
            status = results[i].status;
    return status;
}

/* Several runs' compare table and picture (rank 0): the points that
 * trained, in point order. Returns the exit status. */
static int compare_points(const train_plan *plan, const point_result *results,
                          char (*dirs)[DIR_BYTES], const char *runs_root)
{
    const char **done = calloc(plan->count, sizeof *done);
    if (!done) {
        fprintf(stderr, "netrun: error: out of memory\n");
        return NR_EXIT_INTERNAL;
    }
    size_t done_count = 0;
    const char *first_name = NULL;
    for (size_t i = 0; i < plan->count; i++)
        if (results[i].status == 0) {
            if (!first_name)
                first_name = plan->points[i].name;
            done[done_count++] = dirs[i];
        }
    int status = 0;
    if (done_count > 0) {
        char *picture = runs_root ? nr_path_join(runs_root, "compare.png")
                                  : compare_picture_path(done[0], first_name);
        printf("\n");
        status = picture ? cli_compare_print(done, done_count, picture)
                         : (fprintf(stderr, "netrun: error: out of memory\n"),
                            NR_EXIT_INTERNAL);
        free(picture);
    }
    free(done);
    return status;
}

/* Says which point this process starts: on stderr (ranks > 0: their
 * opts->run_errors, as their stderr is silenced), so every process's
 * points are named where they run. */
static void say_point(const cli_options *opts, const train_plan *plan, size_t i, bool spread,
                      progress *bar)
{
    const train_point *pt = &plan->points[i];
    const size_t grid = plan->count / opts->spec_count;
    FILE *out = opts->run_errors ? opts->run_errors : stderr;
    char where[48] = "";
    if (spread)
        snprintf(where, sizeof where, " (process %d)", nr_comm_rank(opts->comm));
    else if (!pt->what)
        return;
    clear_bar(bar);
    if (pt->what)
        fprintf(out, "netrun: sweep point %zu/%zu of %s: %s%s\n", i % grid + 1, grid,
                pt->spec, pt->what, where);
    else
        fprintf(out, "netrun: run %zu/%zu: %s%s\n", i + 1, plan->count, pt->spec, where);
    fflush(out);
}

/* `netrun SPEC...`: the plan's points, one after the other. Under mpirun a
 * sweep or several specs spread whole points over the processes (point i
 * on process i mod P, trained by it alone with the spec's threads; no
 * gradient exchange); one spec alone is one run whose batches the
 * processes share. With several points (or spread) rank 0 claims their
 * folders in point order first; the results are gathered and rank 0 prints
 * them in point order, then the compare table. */
int cli_train(const cli_options *opts)
{
    if (opts->spec_count > 1 && opts->out_dir && !opts->sweep_count) {
        fprintf(stderr, "netrun: error: --out names one run folder; give one spec with it "
                "(with --sweep it is the folder of all runs)\n");
        return NR_EXIT_INPUT;
    }
    const nr_comm *comm = opts->comm;
    const bool spread = nr_comm_size(comm) > 1 && (opts->sweep_count > 0 ||
                                                   opts->spec_count > 1);
    /* this process's points: rank, rank + size, ... (all when not spread) */
    const size_t rank = spread ? (size_t)nr_comm_rank(comm) : 0;
    const size_t size = spread ? (size_t)nr_comm_size(comm) : 1;
    const bool speaker = nr_comm_rank(comm) == 0;
    train_plan plan;
    int status = plan_build(opts, &plan);
    const bool several = plan.count > 1, claim = several || spread;
    const char *runs_root = opts->sweep_count ? opts->out_dir : NULL;
    nr_dir_lock root_lock = {0};
    bool root_created = false;
    point_result *results = NULL;
    char (*dirs)[DIR_BYTES] = NULL;
    if (status == 0) {
        results = calloc(plan.count, sizeof *results);
        dirs = claim ? calloc(plan.count, sizeof *dirs) : NULL;
        if (!results || (claim && !dirs)) {
            fprintf(stderr, "netrun: error: out of memory\n");
            status = NR_EXIT_INTERNAL;
        }
    }
    /* rank 0 checks every point, holds the --out root and claims the
     * folders; the others' errors (stderr silenced) are agreed on */
    if (status == 0 && runs_root && speaker)
        status = hold_sweep_root(runs_root, &root_lock, &root_created);
    if (status == 0 && claim && speaker)
        status = plan_check(&plan);
    if (status == 0 && claim && speaker)
        status = claim_point_dirs(&plan, runs_root, dirs);
    const bool claimed = status == 0 && claim && speaker;
    if (spread)
        status = agreed_status(comm, status);
    if (status != 0) {
        /* a root this call created and nothing went into is removed */
        for (size_t i = 0; claimed && i < plan.count; i++)
            rmdir(dirs[i]);
        nr_folder_unlock(&root_lock, root_created);
        free(results);
        free(dirs);
        plan_free(&plan);
        return status;
    }
    if (spread) {
        if (speaker)
            fprintf(stderr, "netrun: %zu run%s on %zu processes, each run by one process: "
                    "run k on process (k - 1) mod %zu\n", plan.count,
                    plan.count == 1 ? "" : "s", size, size);
        /* rank 0's folder names on every process */
        int *first = calloc(size + 1, sizeof *first);
        if (nr_comm_any(comm, !first))
            nr_comm_abort(comm, NR_EXIT_INTERNAL);
        for (size_t r = 1; r <= size; r++)
            first[r] = (int)plan.count;
        nr_comm_allgather_rows(comm, dirs, sizeof *dirs, first);
        free(first);
    }
    for (size_t i = 0; i < plan.count; i++)
        results[i].status = POINT_NOT_RUN;
    progress bar = {.tty = isatty(STDERR_FILENO)};
    catch_stop_signals();
    bool first_run = true;
    for (size_t i = rank; i < plan.count && !stop_requested; i += size) {
        const train_point *pt = &plan.points[i];
        say_point(opts, &plan, i, spread, &bar);
        nr_run_options run = {
            .spec_path = pt->spec,
            .sets = pt->sets,
            .set_count = pt->set_count,
            .out_dir = claim ? dirs[i] : runs_root ? NULL : opts->out_dir,
            .runs_root = claim ? NULL : runs_root,
            .hooks = run_hooks(opts, &bar),
            .stop_request = &stop_requested,
            /* the first run's startup counts from the command's start */
            .started_at = first_run ? opts->started_at : 0.0,
            /* a spread point is this process's alone */
            .comm = spread ? NULL : comm,
        };
        first_run = false;
        nr_run_result result;
        nr_error err = {0};
        if (nr_run(&run, &result, &err) != 0) {
            /* a claimed folder the run wrote nothing into is not left behind */
            if (claim && rmdir(dirs[i]) == 0)
                result.run_dir[0] = '\0';
            report_failure(opts, run.comm, &bar, &err, &result);
            results[i].status = err.status ? err.status : NR_EXIT_INTERNAL;
            continue;
        }
        results[i] = (point_result){.status = 0, .epochs = result.epochs,
                                    .test_acc = result.final_test_acc,
                                    .train_seconds = result.train_seconds};
        if (!spread)
            print_point_result(pt, &results[i], result.run_dir);
    }
    /* an interrupted call's points not started leave no folder */
    for (size_t i = rank; claim && i < plan.count; i += size)
        if (results[i].status == POINT_NOT_RUN)
            rmdir(dirs[i]);
    if (spread)
        gather_results(comm, results, plan.count);
    status = points_status(results, plan.count);
    if (speaker && spread)
        for (size_t i = 0; i < plan.count; i++)
            if (results[i].status == 0)
                print_point_result(&plan.points[i], &results[i], dirs[i]);
    size_t not_run = 0;
    for (size_t i = 0; i < plan.count; i++)
        not_run += results[i].status == POINT_NOT_RUN;
    if (speaker && several && not_run > 0)
        fprintf(stderr, "netrun: interrupted: %zu of the %zu runs not started\n", not_run,
                plan.count);
    if (speaker && several) {
        int compared = compare_points(&plan, results, dirs, runs_root);
        if (status == 0)
            status = compared;
    }
    if (spread)
        status = agreed_status(comm, status);
    free(results);
    free(dirs);
    nr_folder_unlock(&root_lock, root_created);
    plan_free(&plan);
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
    nr_run_eval_result result;
    nr_error err = {0};
    if (nr_run_eval(opts->specs[0], opts->sets, opts->set_count, opts->weights,
                    &result, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    if (!result.classes_checked)
        fprintf(stderr, "netrun: %s: note: a version-1 weights file records no class names; "
                "only their number was checked against the Test folders\n", opts->weights);
    printf("test cost %.6f  test accuracy %.4f (%zu/%zu)\n", result.test.cost,
           result.test.accuracy, result.test.correct, result.test.count);
    return 0;
}

int cli_resume(const cli_options *opts)
{
    if (opts->spec_count != 1) {
        fprintf(stderr, "netrun: error: resume takes one run folder\n");
        return NR_EXIT_INPUT;
    }
    progress bar = {.tty = isatty(STDERR_FILENO)};
    catch_stop_signals();
    nr_run_options run = {
        .out_dir = opts->specs[0],
        .hooks = run_hooks(opts, &bar),
        .stop_request = &stop_requested,
        .started_at = opts->started_at,
        .epochs = opts->epochs,
        .comm = opts->comm,
    };
    nr_run_result result;
    nr_error err = {0};
    if (nr_run_resume(&run, &result, &err) != 0) {
        report_failure(opts, opts->comm, &bar, &err, &result);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    report_success(opts->specs[0], &result);
    return 0;
}
