/* run.c - one complete run of a spec (see netrun/run.h). */
#include "netrun/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "netrun/clock.h"
#include "netrun/data.h"
#include "netrun/fileio.h"
#include "netrun/graph.h"
#include "netrun/init_from.h"
#include "netrun/outputs.h"
#include "netrun/run_folder.h"
#include "netrun/spec_load.h"
#include "netrun/weights.h"

enum { SPEC_MAX_BYTES = 1 << 20 };

/* Everything a run holds; released by run_state_free. */
typedef struct run_state {
    const nr_run_options *opts;
    nr_spec spec;              /* doc, graph and training configuration */
    nr_dataset *train, *test;
    float *class_weights;      /* train.class_weights as a map: [Train's classes]; owned */
    nr_net *net;
    char dir[4096];
    FILE *batches;             /* the batches.csv rows, in memory (batches_text) */
    char *batches_text;
    size_t batches_len;
    nr_trainer *trainer;
    const nr_epoch_record *history;  /* the trainer's */
    double train_seconds;      /* so far */
    uint64_t spec_hash;        /* pins checkpoints to this resolved spec */
    double started_at;         /* nr_monotonic_seconds() when the command started */
    double first_batch_at;     /* nr_monotonic_seconds() when the first batch was done; 0 before */
    char machine[256];
    bool resuming;             /* nr_run_resume: the checkpoint holds the weights */
    nr_init_from_report init_from;   /* train.init_from (source "" without) */
    char init_from_line[4400]; /* its summary line */
    char spec_line[4096];      /* summary.txt's spec: the spec as given */
    char extended[NR_SUMMARY_EXTENDED_MAX];  /* totals of resume --epochs, "2 -> 4" */
    nr_dir_lock lock;          /* the run folder, held for the whole run */
    bool created_dir;          /* the run folder was made by this run */
    bool folder_used;          /* something was written into it */
    /* several processes (opts->comm): only rank 0 writes the run folder */
    bool writer;
    char processes[2048];      /* summary.txt's processes line, "" alone */
    nr_run_result *result;     /* the caller's: peer_failed */
} run_state;

/* Several processes: every one stops when any failed, with the status of
 * the first (lowest) failing rank; that rank keeps its error (and prints
 * it), the others fail quietly (result->peer_failed). Collective: every
 * process calls it at the same points. Alone: status as given. */
static int agree(run_state *s, int status, nr_error *err)
{
    const nr_comm *comm = s->opts->comm;
    if (!comm || nr_comm_size(comm) == 1)
        return status;
    const int size = nr_comm_size(comm), rank = nr_comm_rank(comm);
    int *statuses = calloc((size_t)size, sizeof *statuses);
    if (!statuses) {
        /* no way to agree: end every process now */
        nr_comm_abort(comm, NR_EXIT_INTERNAL);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    /* a process failing because another did (an earlier agreement) says
     * so with a negative status: the one that failed first speaks */
    const int own = status == 0 ? 0 : err && err->status ? err->status : NR_EXIT_INTERNAL;
    nr_comm_allgather_int(comm, s->result->peer_failed ? -own : own, statuses);
    int first = -1;
    for (int r = 0; r < size && first < 0; r++)
        if (statuses[r] > 0)
            first = r;
    for (int r = 0; r < size && first < 0; r++)
        if (statuses[r] < 0)
            first = r;
    const int first_status = first >= 0 ? abs(statuses[first]) : 0;
    free(statuses);
    if (first < 0 || (first == rank && !s->result->peer_failed))
        return status;
    s->result->peer_failed = true;
    if (err) {
        err->status = first_status;
        snprintf(err->message, sizeof err->message, "netrun: process %d failed", first);
    }
    return -1;
}

static void run_state_free(run_state *s)
{
    if (s->batches)
        fclose(s->batches);
    free(s->batches_text);
    nr_trainer_free(s->trainer);
    nr_net_free(s->net);
    nr_dataset_free(s->train);
    nr_dataset_free(s->test);
    free(s->class_weights);
    nr_spec_free(&s->spec);
    /* a run that failed before writing anything (data that does not decode)
     * leaves the folder as it found it: absent, or empty */
    nr_folder_unlock(&s->lock, s->created_dir && !s->folder_used);
}

static void say(const nr_run_options *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const nr_run_options *opts, const char *fmt, ...)
{
    if (!opts->hooks.message)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    opts->hooks.message(opts->hooks.ctx, line);
}

static void describe_machine(char *buf, size_t size)
{
    char model[160] = "unknown CPU";
    FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
    if (cpuinfo) {
        char line[512];
        while (fgets(line, sizeof line, cpuinfo))
            if (strncmp(line, "model name", 10) == 0) {
                const char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(cpuinfo);
    }
    struct utsname uts;
    if (uname(&uts) != 0)
        memset(&uts, 0, sizeof uts);
    snprintf(buf, size, "%s, %ld cores, %s %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             uts.sysname, uts.machine);
}

/* data.test_fraction: the stratified, seeded test split of *train moved
 * into *test (its root names where it comes from). */
static int split_off_test(const ns_doc *doc, const nr_train_config *cfg, nr_dataset *train,
                          nr_dataset **test, nr_error *err)
{
    double fraction = nr_spec_test_fraction(doc);
    uint32_t *keep = malloc((train->count ? train->count : 1) * sizeof *keep);
    uint32_t *held = malloc((train->count ? train->count : 1) * sizeof *held);
    char root[4200];
    snprintf(root, sizeof root, "%s (data.test_fraction %g)", train->root, fraction);
    int rc = -1;
    if (!keep || !held) {
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    } else {
        size_t kept, taken;
        nr_stratified_split(train, fraction, cfg->seed, NR_RNG_STREAM_TEST_SPLIT, keep, &kept,
                            held, &taken);
        if (taken == 0 || kept == 0)
            nr_fail(err, NR_EXIT_INPUT, "%s: error: data.test_fraction %g of %zu images "
                    "holds out %zu; choose a fraction that leaves images for both training "
                    "and testing", train->root, fraction, train->count, taken);
        else
            rc = nr_dataset_take(train, held, taken, root, test, err);
    }
    free(keep);
    free(held);
    return rc;
}

/* data.normalize on the loaded sets: standardize without data.mean/data.std
 * measures them on the images the model trains on (Train less the test and
 * validation splits, before augmentation) and writes them into the spec
 * (resolved.yaml) first. */
static int set_pixel_transform(run_state *s, nr_error *err)
{
    ns_doc *doc = s->spec.doc;
    nr_dataset *train = s->train;
    if (nr_spec_needs_stats(doc)) {
        uint32_t *train_idx = malloc((train->count ? train->count : 1) * sizeof *train_idx);
        uint32_t *val_idx = malloc((train->count ? train->count : 1) * sizeof *val_idx);
        if (!train_idx || !val_idx) {
            free(train_idx);
            free(val_idx);
            return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        }
        size_t n = train->count, held = 0;
        if (s->spec.train.validation_fraction > 0)
            nr_validation_split(train, s->spec.train.validation_fraction, s->spec.train.seed,
                                train_idx, &n, val_idx, &held);
        double mean[3], std[3];
        nr_dataset_channel_stats(train, s->spec.train.validation_fraction > 0 ? train_idx : NULL,
                                 n, mean, std);
        free(train_idx);
        free(val_idx);
        if (nr_spec_set_standardize(doc, train->channels, mean, std, err) != 0)
            return -1;
        say(s->opts, "data.normalize: standardize with mean and std measured on the %zu "
            "training images (written to resolved.yaml)", n);
    }
    if (nr_spec_pixel_transform(doc, train->channels, train->pixel_scale, train->pixel_shift,
                                err) != 0)
        return -1;
    memcpy(s->test->pixel_scale, train->pixel_scale, sizeof train->pixel_scale);
    memcpy(s->test->pixel_shift, train->pixel_shift, sizeof train->pixel_shift);
    return 0;
}

static int load_data(run_state *s, nr_error *err)
{
    const ns_node *root = s->spec.doc->root;
    nr_data_options data_opts;
    nr_spec_data_options(s->spec.doc, &data_opts);
    say(s->opts, "loading %s", ns_get_str(root, "data.train"));
    if (nr_dataset_load(ns_get_str(root, "data.train"), &data_opts, &s->train, err) != 0)
        return -1;
    if (!ns_path_get(root, "data.test")) {
        if (split_off_test(s->spec.doc, &s->spec.train, s->train, &s->test, err) != 0)
            return -1;
        say(s->opts, "test set: %zu images of %s held out (data.test_fraction %g)",
            s->test->count, s->train->root, nr_spec_test_fraction(s->spec.doc));
        return set_pixel_transform(s, err);
    }
    say(s->opts, "loading %s", ns_get_str(root, "data.test"));
    if (nr_dataset_load(ns_get_str(root, "data.test"), &data_opts, &s->test, err) != 0)
        return -1;
    /* checked from the listings before (nr_spec_check_data); again, as the
     * folders may have changed since (the trainer checks the shape) */
    if (nr_dataset_check_pair(s->train, s->test, err) != 0)
        return -1;
    return set_pixel_transform(s, err);
}

/* mkdir -p for the parents of path (not path itself). */
static int make_parents(const char *path, nr_error *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot create folder: %s", buf,
                           strerror(errno));
        *p = '/';
    }
    return 0;
}

static int not_empty(const char *dir, nr_error *err)
{
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: the run folder exists and is not empty; "
                   "netrun never overwrites a run: choose another --out", dir);
}

static int create_run_dir(run_state *s, nr_error *err)
{
    const nr_run_options *opts = s->opts;
    struct stat st;
    if (!s->writer)
        return 0;
    if (opts->out_dir) {
        snprintf(s->dir, sizeof s->dir, "%s", opts->out_dir);
        if (stat(s->dir, &st) == 0 && !S_ISDIR(st.st_mode))
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: exists and is a file, not a folder; "
                           "--out names the run folder to create: choose another --out",
                           s->dir);
        if (make_parents(s->dir, err) != 0)
            return -1;
        /* the lock first, then the check: of two netruns started together
         * only the one holding the lock can find the folder empty. A peer
         * that failed may remove the folder between mkdir and lock: again.
         * A folder with files but no lock file is no run in progress: it
         * is refused untouched. */
        for (int attempt = 0;; attempt++) {
            s->created_dir = mkdir(s->dir, 0755) == 0;
            if (!s->created_dir && errno != EEXIST)
                return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot create the run folder: %s",
                               s->dir, strerror(errno));
            if (!s->created_dir && nr_dir_empty(s->dir) == 0 && !nr_folder_has_lock_file(s->dir))
                return not_empty(s->dir, err);
            if (nr_folder_lock(s->dir, &s->lock, err) == 0)
                break;
            if (attempt == 5 || access(s->dir, F_OK) == 0)
                return -1;
        }
        return nr_dir_empty(s->dir) == 1 ? 0 : not_empty(s->dir, err);
    }
    const char *name = ns_get_str(s->spec.doc->root, "name");
    if (nr_run_claim_folder(opts->runs_root, name, s->dir, sizeof s->dir, err) != 0)
        return -1;
    /* the mkdir claimed it; the lock refuses a resume while it trains */
    s->created_dir = true;
    return nr_folder_lock(s->dir, &s->lock, err);
}

int nr_run_claim_folder(const char *runs_root, const char *name, char *dir, size_t size,
                        nr_error *err)
{
    const char *root = runs_root ? runs_root : "runs";
    struct stat st;
    if (stat(root, &st) == 0 && !S_ISDIR(st.st_mode))
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: exists and is a file, not a folder; "
                       "run folders are created inside it%s", root,
                       runs_root ? ": choose another --out" : "");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/x", root);
    if (make_parents(probe, err) != 0)
        return -1;
    for (int n = 1; n < 100000; n++) {
        snprintf(dir, size, "%s/%s-%d", root, name, n);
        if (mkdir(dir, 0755) == 0)
            return 0;
        if (errno != EEXIST)
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot create the run folder: %s",
                           dir, strerror(errno));
    }
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: no free run folder name", root);
}

static int write_in_run(run_state *s, const char *name, const void *data, size_t len,
                        nr_error *err)
{
    if (!s->writer)
        return 0;
    return nr_run_folder_write(s->dir, name, data, len, err);
}

/* summary.txt: done NULL while the run trains */
/* The spec's threads, or the online cores for 0. */
static int threads_of(const run_state *s)
{
    return s->spec.train.threads > 0 ? s->spec.train.threads
                                     : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static int write_summary(run_state *s, const nr_run_result *done, nr_error *err)
{
    if (!s->writer)
        return 0;
    int threads = threads_of(s);
    nr_run_summary summary = {.spec = &s->spec, .spec_path = s->spec_line,
                              .train = s->train, .test = s->test, .machine = s->machine,
                              .threads = threads, .history = s->history,
                              .processes = s->processes[0] ? s->processes : NULL,
                              .init_from = s->init_from_line[0] ? s->init_from_line : NULL,
                              .extended = s->extended[0] ? s->extended : NULL};
    if (done) {
        summary.finished = true;
        summary.epochs = done->epochs;
        summary.best_epoch = done->best_epoch;
        summary.train_seconds = done->train_seconds;
        summary.final_test_acc = done->final_test_acc;
        summary.final_test_cost = done->final_test_cost;
        summary.startup_seconds = done->startup_seconds;
        summary.first_batch_seconds = done->first_batch_seconds;
    }
    return nr_run_folder_write_summary(s->dir, &summary, err);
}

static int write_history(run_state *s, int epochs, nr_error *err)
{
    if (!s->writer)
        return 0;
    return nr_run_folder_write_history(s->dir, s->history, epochs,
                                       s->spec.train.validation_fraction > 0, err);
}

static int save_checkpoint(run_state *s, nr_error *err)
{
    if (!s->writer)
        return 0;
    char *path = nr_path_join(s->dir, NR_RUN_CHECKPOINT);
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    int status = nr_trainer_save(s->trainer, path, s->spec_hash, err);
    free(path);
    return status;
}

static void on_batch(void *ctx, const nr_batch_record *batch)
{
    run_state *s = ctx;
    if (s->first_batch_at == 0.0)
        s->first_batch_at = nr_monotonic_seconds();
    if (s->batches)
        nr_batches_append(s->batches, batch);
    if (s->opts->hooks.on_batch)
        s->opts->hooks.on_batch(s->opts->hooks.ctx, batch);
}

static int write_batches(run_state *s, nr_error *err);

static int write_epoch(run_state *s, const nr_epoch_record *history, int epochs_done,
                       nr_error *err);

/* After every epoch, on every process: rank 0 writes, all agree. */
static int on_epoch(void *ctx, const nr_epoch_record *history, int epochs_done, nr_error *err)
{
    run_state *s = ctx;
    return agree(s, write_epoch(s, history, epochs_done, err), err);
}

static int write_epoch(run_state *s, const nr_epoch_record *history, int epochs_done,
                       nr_error *err)
{
    s->history = history;
    if (write_batches(s, err) != 0)
        return -1;
    if (write_history(s, epochs_done, err) != 0)
        return -1;
    s->train_seconds = 0.0;
    for (int i = 0; i < epochs_done; i++)
        s->train_seconds += history[i].seconds;
    char title[256];
    nr_curves_title(&s->spec.train, epochs_done, s->train_seconds, title, sizeof title);
    char full_title[400];
    snprintf(full_title, sizeof full_title, "%s\n%s", title, ns_get_str(s->spec.doc->root, "name"));
    if (s->writer && (nr_write_curves(s->dir, history, epochs_done, full_title, err) != 0 ||
                      save_checkpoint(s, err) != 0))
        return -1;
    if (s->opts->hooks.on_epoch)
        s->opts->hooks.on_epoch(s->opts->hooks.ctx, &history[epochs_done - 1], s->spec.train.epochs);
    return 0;
}

static int copy_spec(run_state *s, nr_error *err)
{
    if (!s->writer)
        return 0;
    char *text;
    size_t len;
    if (nr_read_file(s->opts->spec_path, SPEC_MAX_BYTES, &text, &len, err) != 0)
        return -1;
    int status = write_in_run(s, NR_RUN_SPEC, text, len, err);
    free(text);
    if (status != 0)
        return -1;
    if (ns_doc_emit(s->spec.doc, &text, &len, err) != 0)
        return -1;
    status = write_in_run(s, NR_RUN_RESOLVED, text, len, err);
    free(text);
    return status;
}

/* batches.csv: the rows live in memory and the file is rewritten atomically
 * after every epoch and at an interrupt (like every file of a run folder, it
 * is never seen half-written). A fresh log starts with the header; on resume
 * it starts with the header and the first keep_rows rows of the old file (a
 * run killed after its last checkpoint may have written more). */
static int open_batches_log(run_state *s, nr_error *err, long keep_rows)
{
    if (!s->writer)
        return 0;   /* no log: on_batch keeps nothing */
    char *old = NULL;
    size_t old_len = 0, keep_bytes = 0;
    if (keep_rows > 0) {
        char *path = nr_path_join(s->dir, NR_RUN_BATCHES);
        if (!path)
            return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        int read = nr_read_file(path, (size_t)1 << 31, &old, &old_len, err);
        free(path);
        if (read != 0)
            return -1;
        long lines = 0;
        for (size_t i = 0; i < old_len && lines < keep_rows + 1; i++)
            if (old[i] == '\n') {
                lines++;
                keep_bytes = i + 1;
            }
        if (lines < keep_rows + 1) {
            free(old);
            return nr_fail(err, NR_EXIT_INPUT, "%s/batches.csv: error: has %ld rows, the "
                           "checkpoint needs %ld", s->dir, lines - 1, keep_rows);
        }
    }
    s->batches = open_memstream(&s->batches_text, &s->batches_len);
    if (!s->batches) {
        free(old);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    if (keep_rows > 0)
        fwrite(old, 1, keep_bytes, s->batches);
    else
        fputs(nr_batches_header, s->batches);
    free(old);
    return 0;
}

static int write_batches(run_state *s, nr_error *err)
{
    if (!s->batches)
        return 0;
    if (fflush(s->batches) != 0)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    return write_in_run(s, NR_RUN_BATCHES, s->batches_text, s->batches_len, err);
}

/* Spec, settings and the data's listings: everything checked before a run
 * folder exists. */
static int prepare_spec(run_state *s, const char *spec_path, const char *const *sets,
                        size_t set_count, nr_error *err)
{
    nr_spec_data surveyed;
    if (nr_spec_load(spec_path, sets, set_count, &s->spec, err) != 0 ||
        nr_spec_check_data(&s->spec, NR_SPEC_DATA_TRAIN | NR_SPEC_DATA_TEST, &surveyed, err) != 0)
        return -1;
    for (const char *line = surveyed.warning; *line;) {
        size_t len = strcspn(line, "\n");
        say(s->opts, "%.*s", (int)len, line);
        line += len + (line[len] == '\n');
    }
    nr_spec_data_free(&surveyed);
    /* a resumed run's weights are its checkpoint's */
    if (!s->resuming && nr_init_from(&s->spec, NULL, &s->init_from, err) != 0)
        return -1;
    return 0;
}

/* Pins checkpoints to the run: the network's structure and the resolved
 * spec, but for train.epochs (netrun resume --epochs changes the total;
 * the checkpoint records it). */
static int run_spec_hash(const nr_spec *spec, uint64_t *hash, nr_error *err)
{
    char *text;
    size_t len;
    if (ns_doc_emit(spec->doc, &text, &len, err) != 0)
        return -1;
    ns_doc *copy = NULL;
    int status = ns_doc_parse_string(text, len, spec->doc->path, spec->doc->dir, &copy, err);
    free(text);
    if (status == 0 && (ns_doc_apply_set(copy, "train.epochs=1", err) != 0 ||
                        ns_doc_resolve(copy, err) != 0 ||
                        ns_doc_emit(copy, &text, &len, err) != 0))
        status = -1;
    if (status == 0) {
        *hash = nr_fnv1a(nr_graph_hash(spec->graph), text, len);
        free(text);
    }
    ns_doc_free(copy);
    return status;
}

/* Data, net and trainer: after the run folder is held (a second netrun on
 * it stops before loading anything). */
static int prepare_data(run_state *s, nr_error *err)
{
    if (load_data(s, err) != 0 ||
        nr_net_create(s->spec.graph, s->spec.train.batch_size, s->spec.train.backend, s->spec.train.loss, &s->net,
                      err) != 0)
        return -1;
    nr_net_init(s->net, s->spec.train.seed);
    if (s->spec.train.class_weights == NR_CLASS_WEIGHTS_GIVEN) {
        s->class_weights = malloc(s->train->class_count * sizeof *s->class_weights);
        if (!s->class_weights)
            return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        if (nr_spec_class_weights(&s->spec, s->train->root, s->train->class_names,
                                  s->train->class_count, s->class_weights, err) != 0)
            return -1;
        s->spec.train.class_weight_values = s->class_weights;
    }
    if (!s->resuming && s->init_from.source[0]) {
        if (nr_init_from(&s->spec, s->net, &s->init_from, err) != 0)
            return -1;
        nr_init_from_describe(&s->init_from, s->init_from_line, sizeof s->init_from_line);
        say(s->opts, "%s", s->init_from_line);
    }
    if (nr_trainer_create(s->net, s->train, s->test, &s->spec.train, &s->trainer, err) != 0 ||
        run_spec_hash(&s->spec, &s->spec_hash, err) != 0)
        return -1;
    describe_machine(s->machine, sizeof s->machine);
    return 0;
}

/* Several processes: all stop after the batch one of them was asked to. */
static bool stop_agreed(void *ctx, bool requested)
{
    const run_state *s = ctx;
    return nr_comm_any(s->opts->comm, requested);
}

/* Trains (from wherever the trainer stands) and writes the final outputs. */
static int train_and_finish(run_state *s, nr_run_result *result, nr_error *err)
{
    const nr_run_options *opts = s->opts;
    const double training_starts = nr_monotonic_seconds();
    say(opts, "ready after %.2f s (spec, data, network, run folder); training",
        training_starts - s->started_at);
    nr_train_callbacks callbacks = {.ctx = s, .on_batch = on_batch, .on_epoch = on_epoch};
    if (opts->comm && nr_comm_size(opts->comm) > 1)
        callbacks.stop_agreed = stop_agreed;
    nr_train_outcome outcome;
    if (nr_trainer_run(s->trainer, &callbacks, opts->stop_request, &outcome, err) != 0) {
        result->epochs = outcome.epochs_done;
        if (err && err->status == NR_EXIT_INTERRUPTED) {
            /* the current batch is done: keep everything to continue from here */
            nr_error save_err = {0};
            if (write_batches(s, &save_err) != 0 || save_checkpoint(s, &save_err) != 0)
                *err = save_err;
        }
        return -1;
    }
    if (outcome.epochs_done < s->spec.train.epochs)
        say(opts, "early stopping after epoch %d: no improvement of %s since epoch %d",
            outcome.epochs_done, s->spec.train.stop_on_accuracy ? "val_acc" : "val_cost",
            outcome.best_epoch);
    if (outcome.restored_best)
        say(opts, "restored the weights of epoch %d (best %s)", outcome.best_epoch,
            s->spec.train.stop_on_accuracy ? "val_acc" : "val_cost");

    nr_eval_result final;
    if (!s->writer) {
        /* the test evaluation is collective: take part, write nothing */
        if (nr_evaluate(s->net, s->test, NULL, 0, s->spec.train.batch_size, &final, NULL, NULL,
                        NULL, err) != 0)
            return -1;
        result->epochs = outcome.epochs_done;
        result->best_epoch = outcome.best_epoch;
        result->final_test_acc = final.accuracy;
        result->final_test_cost = final.cost;
        return 0;
    }
    char *weights = nr_path_join(s->dir, NR_RUN_WEIGHTS);
    if (!weights)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    nr_model_info model = nr_model_info_for(s->train->channels, s->train->height,
                                            s->train->width, s->train->class_count,
                                            s->train->class_names);
    memcpy(model.pixel_scale, s->train->pixel_scale, sizeof s->train->pixel_scale);
    memcpy(model.pixel_shift, s->train->pixel_shift, sizeof s->train->pixel_shift);
    int saved = nr_weights_save(weights, s->net, nr_graph_hash(s->spec.graph), &model, err);
    free(weights);
    if (saved != 0)
        return -1;
    if (nr_write_test_report(s->dir, s->net, s->test, s->spec.train.batch_size,
                             ns_get_str(s->spec.doc->root, "name"), &final, err) != 0)
        return -1;
    result->epochs = outcome.epochs_done;
    result->best_epoch = outcome.best_epoch;
    result->train_seconds = s->train_seconds;
    result->final_test_acc = final.accuracy;
    result->final_test_cost = final.cost;
    result->param_count = nr_net_param_count(s->net);
    if (s->first_batch_at > 0.0) {
        result->startup_seconds = training_starts - s->started_at;
        result->first_batch_seconds = s->first_batch_at - s->started_at;
    }
    return write_summary(s, result, err);
}

/* Several processes: the net shares its batches among them (collective,
 * after every process has agreed that its set-up succeeded). */
static int share_batches(run_state *s, nr_error *err)
{
    const nr_comm *comm = s->opts->comm;
    if (!comm || nr_comm_size(comm) == 1)
        return 0;
    if (nr_net_set_comm(s->net, comm, err) != 0)
        return -1;
    /* summary.txt: every process's threads and host */
    enum { HOST_BYTES = 64 };
    const int size = nr_comm_size(comm);
    int *threads = calloc((size_t)size, sizeof *threads);
    int *first = calloc((size_t)size + 1, sizeof *first);
    char *hosts = calloc((size_t)size, HOST_BYTES);
    const bool oom = nr_comm_any(comm, !threads || !first || !hosts);
    if (!oom) {
        nr_comm_allgather_int(comm, threads_of(s), threads);
        for (int r = 0; r <= size; r++)
            first[r] = r;
        nr_comm_host(hosts + (size_t)nr_comm_rank(comm) * HOST_BYTES, HOST_BYTES);
        nr_comm_allgather_rows(comm, hosts, HOST_BYTES, first);
        size_t used = (size_t)snprintf(s->processes, sizeof s->processes,
                                       "%d (threads per process:", size);
        for (int r = 0; r < size && used < sizeof s->processes; r++)
            used += (size_t)snprintf(s->processes + used, sizeof s->processes - used, " %d",
                                     threads[r]);
        for (int r = 0; r < size && used < sizeof s->processes; r++)
            used += (size_t)snprintf(s->processes + used, sizeof s->processes - used, "%s%s",
                                     r ? " " : "; hosts: ", hosts + (size_t)r * HOST_BYTES);
        if (used < sizeof s->processes)
            snprintf(s->processes + used, sizeof s->processes - used, ")");
    }
    free(threads);
    free(first);
    free(hosts);
    if (oom)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    /* the summary written before training says it too */
    return agree(s, write_summary(s, NULL, err), err);
}

/* The state of a run on this process (rank 0 or alone: the writer). */
static run_state run_state_for(const nr_run_options *opts, nr_run_result *result)
{
    memset(result, 0, sizeof *result);
    return (run_state){.opts = opts, .result = result,
                       .writer = !opts->comm || nr_comm_rank(opts->comm) == 0,
                       .started_at = opts->started_at > 0.0 ? opts->started_at
                                                            : nr_monotonic_seconds()};
}

/* The set-up of a new run: spec, run folder (held, empty), data, net. */
static int prepare_run(run_state *s, nr_error *err)
{
    const nr_run_options *opts = s->opts;
    return prepare_spec(s, opts->spec_path, opts->sets, opts->set_count, err) != 0 ||
                   create_run_dir(s, err) != 0 || prepare_data(s, err) != 0
               ? -1
               : 0;
}

/* The first files of a new run (after every process has set up: a run
 * that fails before leaves no folder). */
static int start_run(run_state *s, nr_run_result *result, nr_error *err)
{
    const nr_run_options *opts = s->opts;
    s->folder_used = true;
    snprintf(result->run_dir, sizeof result->run_dir, "%s", s->dir);
    if (s->writer)
        say(opts, "run folder: %s", s->dir);
    if (copy_spec(s, err) != 0 || write_summary(s, NULL, err) != 0 ||
        write_history(s, 0, err) != 0 || open_batches_log(s, err, 0) != 0)
        return -1;
    if (s->writer && nr_augment_active(&s->spec.train.augment) &&
        nr_write_augment_preview(s->dir, s->train, &s->spec.train, 20, err) != 0)
        return -1;
    return 0;
}

int nr_run(const nr_run_options *opts, nr_run_result *result, nr_error *err)
{
    run_state s = run_state_for(opts, result);
    snprintf(s.spec_line, sizeof s.spec_line, "%s", opts->spec_path);
    int status = -1;
    if (agree(&s, prepare_run(&s, err), err) != 0 ||
        agree(&s, start_run(&s, result, err), err) != 0 || share_batches(&s, err) != 0)
        goto done;
    status = agree(&s, train_and_finish(&s, result, err), err);
done:
    run_state_free(&s);
    return status;
}

int nr_run_resume(const nr_run_options *opts, nr_run_result *result, nr_error *err)
{
    run_state s = run_state_for(opts, result);
    int status = -1;
    const char *dir = opts->out_dir;
    snprintf(s.dir, sizeof s.dir, "%s", dir);
    char *spec = nr_path_join(dir, NR_RUN_RESOLVED);
    char *checkpoint = nr_path_join(dir, NR_RUN_CHECKPOINT);
    if (!spec || !checkpoint) {
        nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        goto set_up;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            nr_fail(err, NR_EXIT_INPUT, "%s: error: no such run folder; netrun resume takes "
                    "the folder an interrupted run printed, e.g. runs/<name>-<n>", dir);
        else
            nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot open the run folder: %s", dir,
                    strerror(errno));
        goto set_up;
    }
    if (!S_ISDIR(st.st_mode)) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: not a folder; netrun resume takes the run "
                "folder an interrupted run printed, e.g. runs/<name>-<n>", dir);
        goto set_up;
    }
    /* (a run that holds only its lock file is loading its data) */
    if (stat(checkpoint, &st) != 0 && stat(spec, &st) != 0 && !nr_folder_has_lock_file(dir)) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: not a run folder (no resolved.yaml, no "
                "checkpoint.bin); netrun resume takes the folder an interrupted run printed",
                dir);
        goto set_up;
    }
    /* held before anything is loaded: a second resume, or a run still
     * training into it, is refused at once */
    if (s.writer && nr_folder_lock(dir, &s.lock, err) != 0)
        goto set_up;
    if (stat(checkpoint, &st) != 0) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: no checkpoint.bin in this run folder (a run "
                "writes one after its first epoch); nothing to resume", dir);
        goto set_up;
    }
    /* what the summary said before: the spec as given, init_from, extensions */
    char value[4096];
    if (!nr_run_folder_summary_value(dir, "spec", s.spec_line, sizeof s.spec_line)[0])
        snprintf(s.spec_line, sizeof s.spec_line, "%s/%s", dir, NR_RUN_SPEC);
    if (nr_run_folder_summary_value(dir, "init_from", value, sizeof value)[0])
        snprintf(s.init_from_line, sizeof s.init_from_line, "init_from: %s", value);
    nr_run_folder_summary_value(dir, "extended", s.extended, sizeof s.extended);
    /* --epochs N: the spec of what runs has the new total; the checkpoint
     * (pinned to the spec but for train.epochs) continues to it */
    char epochs_set[64];
    const char *sets[1] = {epochs_set};
    snprintf(epochs_set, sizeof epochs_set, "train.epochs=%d", opts->epochs);
    s.resuming = true;
    if (prepare_spec(&s, spec, sets, opts->epochs > 0 ? 1 : 0, err) != 0 ||
        prepare_data(&s, err) != 0 ||
        nr_trainer_load(s.trainer, checkpoint, s.spec_hash, err) != 0)
        goto set_up;
    int epochs_done;
    s.history = nr_trainer_history(s.trainer, &epochs_done);
    for (int i = 0; i < epochs_done; i++)
        s.train_seconds += s.history[i].seconds;
    const int planned = nr_trainer_checkpoint_epochs(s.trainer), total = s.spec.train.epochs;
    if (nr_trainer_finished(s.trainer)) {
        if (epochs_done < total)
            nr_fail(err, NR_EXIT_INPUT, "%s: error: early stopping ended the run after epoch "
                    "%d of %d; nothing to resume (more epochs would stop there too)", dir,
                    epochs_done, total);
        else if (opts->epochs > 0)
            nr_fail(err, NR_EXIT_INPUT, "%s: error: the run has finished its %d epochs; "
                    "--epochs %d adds none: give a total of more than %d", dir, epochs_done,
                    opts->epochs, epochs_done);
        else
            nr_fail(err, NR_EXIT_INPUT, "%s: error: the run has finished (%d epochs); nothing "
                    "to resume; netrun resume %s --epochs N continues it to N epochs in all",
                    dir, epochs_done, dir);
        goto set_up;
    }
    if (planned != total) {
        /* resolved.yaml is the spec of what ran: the new total */
        char *resolved;
        size_t len;
        if (ns_doc_emit(s.spec.doc, &resolved, &len, err) != 0)
            goto set_up;
        int written = write_in_run(&s, NR_RUN_RESOLVED, resolved, len, err);
        free(resolved);
        size_t used = strlen(s.extended);
        if (used == 0)
            snprintf(s.extended, sizeof s.extended, "%d -> %d", planned, total);
        else if (used + 16 < sizeof s.extended)
            snprintf(s.extended + used, sizeof s.extended - used, " -> %d", total);
        if (written != 0 || write_summary(&s, NULL, err) != 0)
            goto set_up;
        say(opts, "continuing %s to %d epochs in all (it was planned for %d); resolved.yaml "
            "says train.epochs: %d", dir, total, planned, total);
    }
    say(opts, "resuming %s after %ld training batches (%d epochs done)", dir,
        nr_trainer_batches_done(s.trainer), epochs_done);
    if (open_batches_log(&s, err, nr_trainer_batches_done(s.trainer)) != 0)
        goto set_up;
    /* from here on a failure keeps what trained in the folder */
    snprintf(result->run_dir, sizeof result->run_dir, "%s", dir);
    status = 0;
set_up:
    /* several processes: all set up, or all stop */
    status = agree(&s, status, err);
    if (status == 0 && share_batches(&s, err) != 0)
        status = -1;
    if (status == 0)
        status = agree(&s, train_and_finish(&s, result, err), err);
    free(spec);
    free(checkpoint);
    run_state_free(&s);
    return status;
}

/* The weights' model info against the Test set: the same class names (in
 * the same, sorted, order). */
static int check_model_classes(const char *weights_path, const nr_model_info *model,
                               const nr_dataset_info *test, nr_error *err)
{
    char from[4200];
    snprintf(from, sizeof from, "the %zu classes %s was trained on", model->class_count,
             weights_path);
    return nr_class_names_check(test->root, model->class_names, model->class_count,
                                test->class_names, test->class_count, from,
                                "evaluate on a Test set of the classes the model knows", err);
}

int nr_run_eval(const char *spec_path, const char *const *sets, size_t set_count,
                const char *weights_path, nr_run_eval_result *result, nr_error *err)
{
    nr_spec spec = {0};
    nr_dataset *test = NULL;
    nr_net *net = NULL;
    nr_model_info model = {0};
    nr_dataset_info surveyed = {0};
    memset(result, 0, sizeof *result);
    int status = -1;
    if (nr_spec_load(spec_path, sets, set_count, &spec, err) != 0)
        goto done;
    const ns_doc *doc = spec.doc;
    const nr_train_config *cfg = &spec.train;
    /* without data.test: the test split of Train, as the run took it */
    bool split = !ns_path_get(doc->root, "data.test");
    const char *test_root = ns_get_str(doc->root, split ? "data.train" : "data.test");
    if (nr_weights_read_info(weights_path, &model, err) != 0 ||
        nr_dataset_survey(test_root, &surveyed, err) != 0)
        goto done;
    {
        int c = surveyed.channels, h = surveyed.height, w = surveyed.width;
        nr_spec_prepared_shape(doc, &c, &h, &w);
        surveyed.channels = c, surveyed.height = h, surveyed.width = w;
    }
    /* a version-1 weights file records no classes: only their number is known */
    result->classes_checked = model.class_count > 0;
    if ((result->classes_checked &&
         check_model_classes(weights_path, &model, &surveyed, err) != 0) ||
        nr_spec_check_fit(&spec, &surveyed, err) != 0)
        goto done;
    nr_data_options data_opts;
    nr_spec_data_options(doc, &data_opts);
    if (nr_dataset_load(test_root, &data_opts, &test, err) != 0)
        goto done;
    if (split) {
        nr_dataset *held = NULL;
        if (split_off_test(doc, cfg, test, &held, err) != 0)
            goto done;
        nr_dataset_free(test);
        test = held;
    }
    /* the pixels as the model was trained on them (a version-1 file: pixel / 255) */
    if (model.version >= 2)
        for (int c = 0; c < test->channels && c < 3; c++) {
            test->pixel_scale[c] = model.pixel_scale[c];
            test->pixel_shift[c] = model.pixel_shift[c];
        }
    if (nr_net_create(spec.graph, cfg->batch_size, cfg->backend, cfg->loss, &net, err) != 0)
        goto done;
    if (nr_weights_load(weights_path, net, nr_graph_hash(spec.graph), NULL, err) != 0 ||
        nr_net_set_threads(net, cfg->threads, err) != 0)
        goto done;
    status = nr_evaluate(net, test, NULL, 0, cfg->batch_size, &result->test, NULL, NULL, NULL,
                         err);
done:
    nr_model_info_free(&model);
    nr_dataset_info_free(&surveyed);
    nr_net_free(net);
    nr_dataset_free(test);
    nr_spec_free(&spec);
    return status;
}
