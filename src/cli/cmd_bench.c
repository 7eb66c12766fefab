/* cli/cmd_bench.c - `netrun bench SPEC [BATCHES]`: the time of each layer's
 * forward and backward pass per batch (like `caffe time`).
 *
 * The spec's network, batch size, thread count and optimizer; the input is
 * the spec's training images (shuffled with its seed) when they load, random
 * pixels otherwise. After a warm-up, BATCHES training steps (zero grads,
 * forward, loss, backward, optimizer step; default 50) are timed, and each
 * row of the table is the median over the steps.
 *
 * With the training images, each batch is prepared as the trainer prepares
 * it (nr_prepare_batch: gathered, converted and augmented with the spec's
 * train.augment), and with train.prefetch on a thread of its own while the
 * previous batch computes (nr_prefetcher, as in training). Three rows show
 * it: the preparation's own time, the part of it on the critical path (the
 * whole preparation without prefetch; with prefetch the wait for the
 * thread), and the step plus that part: what a batch of training costs.
 *
 * A residual block's row is followed by rows for what is inside it
 * (indented): each layer of the block, of its projection shortcut (or the
 * identity shortcut) and the add of the two paths (nr_net_parts); the
 * block's row shows the sum of its rows' medians. The per-layer times come
 * from the executor's timing hooks (nr_net_set_timing); with several threads
 * they add a barrier after every layer, so the "total" row (timed from the
 * outside with the hooks still on) is slightly above a real training step.
 *
 * Under mpirun (opts->comm of several processes) the batch is shared by the
 * processes as in training (nr_net_set_comm: each process its threads'
 * shares, the same bits as one process of all their threads); every process
 * runs the same steps and rank 0 prints the table, timed by its clocks. Its
 * rows then show the exchange between processes (nr_layer_times' exchange
 * fields): an "of which: exchange" row under each layer that gathers rows
 * (dense, batchnorm; under the residual block's part it is in), the logits'
 * gather after the forward, the gradient blocks' exchange under the sum of
 * the threads' gradients, and their total. One process: no such rows. */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netrun/clock.h"
#include "netrun/comm.h"
#include "netrun/data.h"
#include "netrun/error.h"
#include "netrun/spec_load.h"
#include "netrun/train.h"

enum { WARMUP_BATCHES = 5, DEFAULT_BATCHES = 50, MAX_BATCHES = 100000,
       NAME_WIDTH = 34,  /* the layer column */
       /* sample columns per row: forward, backward, forward CPU, backward
        * CPU, then the same four of the exchange between processes */
       ROW_COLS = 8,
       HOST_BYTES = 64 };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Smallest value of column `col`: under contention from other processes the
 * fastest batch is the better estimate of what the work itself costs. */
static double min_of(const double *samples, size_t count, size_t stride, size_t col)
{
    double m = samples[col];
    for (size_t i = 1; i < count; i++)
        if (samples[i * stride + col] < m)
            m = samples[i * stride + col];
    return m;
}

/* Median of column `col` of samples [count][stride] (uses scratch [count]). */
static double median_of(const double *samples, size_t count, size_t stride, size_t col,
                        double *scratch)
{
    for (size_t i = 0; i < count; i++)
        scratch[i] = samples[i * stride + col];
    qsort(scratch, count, sizeof *scratch, cmp_double);
    return count % 2 ? scratch[count / 2]
                     : 0.5 * (scratch[count / 2 - 1] + scratch[count / 2]);
}

/* medians [rows][ROW_COLS] (fwd, bwd, fwd cpu, bwd cpu, then the exchange's
 * four) of the sample columns: the
 * `layers` top-level layers, then the parts inside residual blocks (parts,
 * pre-order). A row with parts (a block) gets the sum of its direct parts'
 * medians, so that the rows add up. */
static void block_medians(const double *samples, size_t count, size_t stride, size_t layers,
                          const nr_timed_part *parts, size_t part_count, double *medians,
                          double *scratch)
{
    const size_t rows = layers + part_count;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < ROW_COLS; c++)
            medians[ROW_COLS * r + c] =
                median_of(samples, count, stride, ROW_COLS * r + c, scratch);
    /* children come after their parent in pre-order: in reverse, each row is
     * complete (its own parts summed) before it is added to its parent */
    bool summed[rows ? rows : 1];
    memset(summed, 0, sizeof summed);
    for (size_t p = part_count; p-- > 0;) {
        size_t parent = parts[p].top;   /* the top-level row, or the nearest enclosing part */
        for (size_t q = p; q-- > 0 && parts[q].top == parts[p].top;)
            if (parts[q].depth == parts[p].depth - 1) {
                parent = layers + q;
                break;
            }
        if (!summed[parent]) {
            summed[parent] = true;
            memset(medians + ROW_COLS * parent, 0, ROW_COLS * sizeof *medians);
        }
        for (size_t c = 0; c < ROW_COLS; c++)
            medians[ROW_COLS * parent + c] += medians[ROW_COLS * (layers + p) + c];
    }
}

/* The times of a row: label, description (across the output column too
 * when shape is NULL), fwd, bwd, sum, % of total, fwd cpu, bwd cpu (med:
 * fwd, bwd, fwd cpu, bwd cpu seconds). */
static void print_times(const char *label, const char *desc, const char *shape,
                        const double *med, double total)
{
    double f = med[0], g = med[1];
    if (shape)
        printf("%-4s %-*.*s %-9s", label, NAME_WIDTH, NAME_WIDTH, desc, shape);
    else
        printf("%-4s %-*s", label, NAME_WIDTH + 10, desc);
    printf(" %10.3f %10.3f %10.3f %6.1f %10.3f %10.3f\n", 1e3 * f, 1e3 * g, 1e3 * (f + g),
           total > 0 ? 100.0 * (f + g) / total : 0.0, 1e3 * med[2], 1e3 * med[3]);
}

/* Under a row (at depth) whose medians med [ROW_COLS] include an exchange
 * between processes: that part of it; nothing when there is none. */
static void print_exchange(int depth, const double *med, double total)
{
    const double *exchange = med + 4;
    if (exchange[0] + exchange[1] <= 0.0)
        return;
    char desc[64];
    snprintf(desc, sizeof desc, "%*sof which: exchange", 2 * depth + 2, "");
    print_times("", desc, NULL, exchange, total);
}

/* One row of the table: a layer (indented by depth when inside a residual
 * block), its kind and output shape, or `name` for the parts that are not a
 * layer of their own (prefix: a layer's role, "shortcut: "). */
static void print_row(const nr_layer *layer, int depth, bool fused, const char *name,
                      const double *med, double total)
{
    char desc[96], shape[32];
    int len = snprintf(desc, sizeof desc, "%*s", 2 * depth, "");
    if (name && *name)
        len += snprintf(desc + len, sizeof desc - (size_t)len, "%s", name);
    const bool is_layer = !name || !*name || strstr(name, ": ");
    if (is_layer)
        nr_layer_describe(layer, desc + len, sizeof desc - (size_t)len);
    if (fused) {
        len = (int)strlen(desc);
        snprintf(desc + len, sizeof desc - (size_t)len, " (fused)");
    }
    snprintf(shape, sizeof shape, "%dx%dx%d", layer->out.c, layer->out.h, layer->out.w);
    print_times(is_layer ? layer->label : "", desc, shape, med, total);
}

typedef struct bench_input {
    const nr_dataset *data;  /* NULL: random pixels */
    uint32_t *order;
    size_t next;
    int epoch;               /* 1-based: the shuffles so far (the augmentation's epoch) */
    nr_rng rng;
} bench_input;

/* Random pixels and labels for a net whose training images did not load. */
static void random_batch(bench_input *in, size_t size, int n, int classes, float *x,
                         int32_t *labels)
{
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < size; j++)
            x[(size_t)i * size + j] = nr_rng_uniform(&in->rng);
        labels[i] = (int32_t)nr_rng_below(&in->rng, (uint32_t)classes);
    }
}

/* The next n images of the shuffled order into idx (shuffled again when it
 * runs out, a new epoch); returns the epoch of the last one. */
static int next_indices(bench_input *in, int n, uint32_t *idx)
{
    for (int i = 0; i < n; i++) {
        if (in->next == in->data->count) {
            nr_rng_shuffle(&in->rng, in->order, in->data->count);
            in->next = 0;
            in->epoch++;
        }
        idx[i] = in->order[in->next++];
    }
    return in->epoch;
}

/* Batch preparation as in training: two buffers with prefetch (one
 * computes while the thread fills the other), else buffer 0. */
typedef struct bench_prep {
    const nr_dataset *data;
    const nr_train_config *cfg;
    float *workspace;          /* the augmentation's (one preparation at a time) */
    int n;                     /* images per batch */
    float *x[2];
    int32_t *labels[2];
    uint32_t *idx[2];          /* the images of the batch in each buffer */
    double seconds[2];         /* wall time of the last preparation of each buffer */
} bench_prep;

static void prepare(bench_prep *p, nr_net *net, int epoch, int slot)
{
    double start = nr_monotonic_seconds();
    nr_prepare_batch(p->data, p->idx[slot], p->n, &p->cfg->augment, p->cfg->seed, epoch, net,
                     p->workspace, p->x[slot], p->labels[slot]);
    p->seconds[slot] = nr_monotonic_seconds() - start;
}

/* The prefetch thread's job: alone, while the net's threads compute. */
static void prefetch_job(void *ctx, int batch, int epoch, int slot)
{
    (void)batch;
    prepare(ctx, NULL, epoch, slot);
}

/* The optimizer step as training takes it: on the net's threads, each on
 * its slice of the parameters, at the end of the backward pass
 * (nr_net_backward_update). The slice that starts at parameter 0 times
 * itself: the step's wall time, the slices running side by side. */
typedef struct bench_step {
    const nr_train_config *cfg;
    nr_net *net;
    float *m, *v;
    long t;
    double seconds;
} bench_step;

static void optimizer_slice(void *p, size_t first, size_t count)
{
    bench_step *st = p;
    const double start = first == 0 ? nr_monotonic_seconds() : 0.0;
    float *param = nr_net_params(st->net) + first, *m = st->m + first, *v = st->v + first;
    const float *grad = nr_net_grads(st->net) + first;
    if (st->cfg->optimizer == NR_OPT_SGD)
        nr_sgd_step(count, param, grad, m, &st->cfg->sgd, st->t);
    else if (st->cfg->optimizer == NR_OPT_ADAM)
        nr_adam_step(count, param, grad, m, v, &st->cfg->adam, st->t);
    else
        nr_adamw_step(count, param, grad, m, v, &st->cfg->adam, st->t);
    if (first == 0)
        st->seconds = nr_monotonic_seconds() - start;
}

/* Columns of a sample row: per layer ROW_COLS (ROW_COLS * rows), then
 * these (COL_TOTAL: the step; COL_PREP: the batch's preparation;
 * COL_EXPOSED: the caller's time spent on it, the preparation or the wait
 * for the prefetch thread; COL_BATCH: step + exposed; several processes:
 * COL_LOGITS, the logits' gather, and COL_REDUCE_EXCHANGE, the gradient
 * blocks', part of COL_REDUCE). */
enum { COL_LOSS, COL_REDUCE, COL_REDUCE_CPU, COL_ZERO, COL_STEP, COL_FORWARD, COL_BACKWARD,
       COL_TOTAL, COL_PREP, COL_EXPOSED, COL_BATCH, COL_LOGITS, COL_LOGITS_CPU,
       COL_REDUCE_EXCHANGE, COL_REDUCE_EXCHANGE_CPU, COL_EXTRA };

/* Several processes, collective (every process calls it once per bench,
 * with its status so far): the status of the first process that failed (0
 * when none did); that process prints its error (err) to opts->run_errors,
 * the others nothing. */
static int agree_status(const cli_options *opts, int status, const nr_error *err)
{
    const int size = nr_comm_size(opts->comm);
    int *statuses = malloc((size_t)size * sizeof *statuses);
    if (!statuses) {
        nr_comm_abort(opts->comm, NR_EXIT_INTERNAL);   /* no way to agree */
        return NR_EXIT_INTERNAL;
    }
    nr_comm_allgather_int(opts->comm, status, statuses);
    int first = 0;
    while (first < size && statuses[first] == 0)
        first++;
    const int agreed = first < size ? statuses[first] : 0;
    free(statuses);
    if (agreed && first == nr_comm_rank(opts->comm)) {
        FILE *out = opts->run_errors ? opts->run_errors : stderr;
        fprintf(out, "%s\n", err->message);
        fflush(out);   /* before MPI_Finalize: mpirun may end us once rank 0 exits */
    }
    return agreed;
}

/* Several processes, collective: "2 processes x 1 thread (hosts: a b)" into
 * buf; "" when the gathering failed. */
static void describe_processes(const nr_comm *comm, int threads, char *buf, size_t size)
{
    const int count = nr_comm_size(comm);
    int *first = calloc((size_t)count + 1, sizeof *first);
    int *all = calloc((size_t)count, sizeof *all);
    char *hosts = calloc((size_t)count, HOST_BYTES);
    buf[0] = '\0';
    if (nr_comm_any(comm, !first || !all || !hosts))
        goto done;
    nr_comm_allgather_int(comm, threads, all);
    for (int r = 0; r <= count; r++)
        first[r] = r;
    nr_comm_host(hosts + (size_t)nr_comm_rank(comm) * HOST_BYTES, HOST_BYTES);
    nr_comm_allgather_rows(comm, hosts, HOST_BYTES, first);
    bool same = true;
    for (int r = 1; r < count; r++)
        same = same && all[r] == all[0];
    size_t used;
    if (same)
        used = (size_t)snprintf(buf, size, "%d processes x %d thread%s", count, all[0],
                                all[0] == 1 ? "" : "s");
    else
        used = (size_t)snprintf(buf, size, "%d processes (threads:", count);
    for (int r = 0; r < count && !same && used < size; r++)
        used += (size_t)snprintf(buf + used, size - used, " %d%s", all[r],
                                 r + 1 < count ? "" : ")");
    for (int r = 0; r < count && used < size; r++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s%s", r ? " " : " (hosts: ",
                                 hosts + (size_t)r * HOST_BYTES, r + 1 < count ? "" : ")");
done:
    free(first);
    free(all);
    free(hosts);
}

static int bench_spec(const char *spec_path, const cli_options *opts, long batches)
{
    nr_error err = {0};
    nr_spec spec = {0};
    nr_dataset *train = NULL;
    nr_net *net = NULL;
    float *m = NULL, *v = NULL;
    double *samples = NULL, *scratch = NULL, *medians = NULL;
    bench_input input = {0};
    bench_prep prep = {0};
    nr_prefetcher *prefetcher = NULL;
    int status = NR_EXIT_INTERNAL;
    /* several processes: they agree once set up (until then a failure is
     * this process's own) */
    const bool processes = opts->comm && nr_comm_size(opts->comm) > 1;
    bool agreed = !processes;
    char processes_text[1024] = "";

    if (nr_spec_load(spec_path, opts->sets, opts->set_count, &spec, &err) != 0)
        goto fail;
    const ns_doc *doc = spec.doc;
    const nr_train_config cfg = spec.train;
    /* as the trainer: BLAS on the spec's threads, then the net's own threads
     * (which set BLAS to 1 thread when there are several) */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    openblas_set_num_threads(cfg.threads > 0 ? cfg.threads : online > 0 ? (int)online : 1);
    if (nr_net_create(spec.graph, cfg.batch_size, cfg.backend, cfg.loss, &net, &err) != 0 ||
        nr_net_set_threads(net, cfg.threads, &err) != 0)
        goto fail;
    nr_net_init(net, cfg.seed);
    nr_net_set_label_smoothing(net, cfg.loss == NR_LOSS_CROSS_ENTROPY ? cfg.label_smoothing
                                                                      : 0.0f);
    nr_rng dropout;
    nr_rng_seed(&dropout, cfg.seed, NR_RNG_STREAM_DROPOUT);
    nr_net_set_dropout_rng(net, dropout);

    nr_rng_seed(&input.rng, cfg.seed, NR_RNG_STREAM_SHUFFLE);
    const char *data_note = "random pixels (the training images did not load)";
    nr_data_options data_opts;
    nr_spec_data_options(doc, &data_opts);
    nr_error data_err = {0};
    if (nr_dataset_load(ns_get_str(doc->root, "data.train"), &data_opts, &train,
                        &data_err) == 0 &&
        nr_check_data_fits(net, train, &data_err) == 0 && train->count > 0) {
        input.data = train;
        input.order = malloc(train->count * sizeof *input.order);
        if (!input.order)
            goto oom;
        for (size_t i = 0; i < train->count; i++)
            input.order[i] = (uint32_t)i;
        input.next = train->count;   /* shuffle before the first batch */
        data_note = "the spec's training images";
    }

    const int batch = cfg.batch_size;
    const size_t size = nr_shape_size(nr_net_input(net));
    const size_t layers = nr_net_timed_layers(net);
    const size_t part_count = nr_net_timed_parts(net);
    const size_t rows = layers + part_count;   /* sample columns: the layers, then the parts */
    const size_t stride = ROW_COLS * rows + COL_EXTRA;
    const size_t params = nr_net_param_count(net);
    const bool augment = input.data && nr_augment_active(&cfg.augment);
    const int buffers = input.data && cfg.prefetch ? 2 : 1;
    prep = (bench_prep){.data = input.data, .cfg = &cfg, .n = batch};
    for (int i = 0; i < buffers; i++) {
        prep.x[i] = malloc((size_t)batch * size * sizeof *prep.x[i]);
        prep.labels[i] = malloc((size_t)batch * sizeof *prep.labels[i]);
        prep.idx[i] = malloc((size_t)batch * sizeof *prep.idx[i]);
        if (!prep.x[i] || !prep.labels[i] || !prep.idx[i])
            goto oom;
    }
    if (augment && !(prep.workspace = malloc(
                         nr_augment_workspace_floats(train->channels, train->height,
                                                     train->width) * sizeof(float))))
        goto oom;
    m = calloc(params ? params : 1, sizeof *m);
    v = calloc(params ? params : 1, sizeof *v);
    samples = calloc((size_t)batches * stride, sizeof *samples);
    scratch = calloc((size_t)batches, sizeof *scratch);
    if (!m || !v || !samples || !scratch)
        goto oom;
    if (buffers == 2 && nr_prefetcher_start(prefetch_job, &prep, &prefetcher, &err) != 0)
        goto fail;
    if (processes) {
        /* every process set up: the batch shared as in training, on the
         * same images everywhere */
        agreed = true;
        if ((status = agree_status(opts, 0, &err)) != 0)
            goto done;
        const bool some_without = nr_comm_any(opts->comm, !input.data);
        if (some_without && nr_comm_any(opts->comm, input.data)) {
            nr_fail(&err, NR_EXIT_INPUT, "%s: data.train: the training images load on some "
                    "processes only: every process needs them (the same path on every "
                    "machine)", spec_path);
            goto fail;
        }
        if (nr_net_set_comm(net, opts->comm, &err) != 0)
            goto fail;
        describe_processes(opts->comm, nr_net_threads(net), processes_text,
                           sizeof processes_text);
    }

    nr_net_set_timing(net, true);
    long step = 0;
    int slot = 0;
    if (input.data)   /* the first batch, as at the start of an epoch */
        prepare(&prep, net, next_indices(&input, batch, prep.idx[0]), 0);
    for (long b = -WARMUP_BATCHES; b < batches; b++) {
        /* this batch into x[slot] (the first is there already); with prefetch
         * the next one is posted to the thread before the step */
        double w0 = nr_monotonic_seconds();
        if (!input.data) {
            random_batch(&input, size, batch, nr_net_classes(net), prep.x[0], prep.labels[0]);
        } else if (b > -WARMUP_BATCHES) {
            if (prefetcher)
                nr_prefetcher_wait(prefetcher);
            else
                prepare(&prep, net, next_indices(&input, batch, prep.idx[slot]), slot);
        }
        if (prefetcher && b + 1 < batches)
            nr_prefetcher_post(prefetcher, 0, next_indices(&input, batch, prep.idx[slot ^ 1]),
                               slot ^ 1);
        const double exposed = input.data ? nr_monotonic_seconds() - w0 : 0.0;
        const double prep_seconds = input.data ? prep.seconds[slot] : 0.0;
        const float *x = prep.x[slot];
        const int32_t *labels = prep.labels[slot];
        if (prefetcher)
            slot ^= 1;
        double t0 = nr_monotonic_seconds();
        nr_net_zero_grads(net);
        double t1 = nr_monotonic_seconds();
        nr_net_forward(net, x, batch, true);
        double t2 = nr_monotonic_seconds();
        float cost = nr_net_loss(net, labels, batch, true, NULL, NULL);
        double t3 = nr_monotonic_seconds();
        bench_step st = {.cfg = &cfg, .net = net, .m = m, .v = v, .t = ++step};
        nr_net_backward_update(net, x, batch, optimizer_slice, &st);
        double t5 = nr_monotonic_seconds(), t4 = t5 - st.seconds;   /* backward ends, the step starts */
        if (cost != cost) {
            nr_fail(&err, NR_EXIT_DIVERGED, "%s: the cost became NaN while benchmarking; "
                    "lower the learning rate", spec_path);
            goto fail;
        }
        if (b < 0)
            continue;
        double *row = samples + (size_t)b * stride;
        const nr_layer_times *times = nr_net_layer_times(net);
        const nr_timed_part *parts = nr_net_parts(net);
        for (size_t i = 0; i < rows; i++) {
            const nr_layer_times *t = i < layers ? &times[i] : &parts[i - layers].times;
            double *col = row + ROW_COLS * i;
            col[0] = t->forward;
            col[1] = t->backward;
            col[2] = t->forward_cpu;
            col[3] = t->backward_cpu;
            col[4] = t->forward_exchange;
            col[5] = t->backward_exchange;
            col[6] = t->forward_exchange_cpu;
            col[7] = t->backward_exchange_cpu;
        }
        double *extra = row + ROW_COLS * rows;
        nr_layer_times reduce = nr_net_reduce_times(net), logits = nr_net_logits_times(net);
        extra[COL_LOGITS] = logits.forward;
        extra[COL_LOGITS_CPU] = logits.forward_cpu;
        extra[COL_REDUCE_EXCHANGE] = reduce.backward_exchange;
        extra[COL_REDUCE_EXCHANGE_CPU] = reduce.backward_exchange_cpu;
        extra[COL_LOSS] = t3 - t2;
        extra[COL_REDUCE] = reduce.backward;
        extra[COL_REDUCE_CPU] = reduce.backward_cpu;
        extra[COL_ZERO] = t1 - t0;
        extra[COL_STEP] = t5 - t4;
        extra[COL_FORWARD] = t2 - t1;
        extra[COL_BACKWARD] = t4 - t3;
        extra[COL_TOTAL] = t5 - t0;
        extra[COL_PREP] = prep_seconds;
        extra[COL_EXPOSED] = exposed;
        extra[COL_BATCH] = exposed + (t5 - t0);
    }
    nr_prefetcher_stop(prefetcher);   /* no job is posted after the last batch */
    prefetcher = NULL;

    const size_t count = (size_t)batches;
    char threads_text[32];
    snprintf(threads_text, sizeof threads_text, "%d thread%s", nr_net_threads(net),
             nr_net_threads(net) == 1 ? "" : "s");
    printf("netrun bench %s: batch %d, %s, %s backend, median of %ld batches "
           "after %d warm-up; input: %s\n",
           spec_path, batch, *processes_text ? processes_text : threads_text,
           cfg.backend == NR_BACKEND_REFERENCE ? "reference" : "blas", batches,
           WARMUP_BATCHES, data_note);
    if (input.data)
        printf("batch preparation as in training: %s, %s\n",
               augment ? "gathered and augmented (train.augment)" : "gathered (no augmentation)",
               buffers == 2
                   ? "prefetch on (on a thread of its own while the previous batch computes)"
                   : "prefetch off (before each step, on this thread)");
    printf("(wall: milliseconds per batch; cpu: thread 0's CPU time in the layer, the robust "
           "figure on a busy machine)\n");
    if (processes)
        printf("(rank 0's clocks; exchange: between processes, in the row above, waits for "
               "the other processes included)\n");
    printf("%-4s %-*s %-9s %10s %10s %10s %6s %10s %10s\n", "#", NAME_WIDTH, "layer", "output",
           "fwd ms", "bwd ms", "sum ms", "%", "fwd cpu", "bwd cpu");
    double total = median_of(samples, count, stride, ROW_COLS * rows + COL_TOTAL, scratch);
    if (!(medians = calloc(ROW_COLS * rows, sizeof *medians)))
        goto oom;
    block_medians(samples, count, stride, layers, nr_net_parts(net), part_count, medians,
                  scratch);
    double cpu_fwd = 0.0, cpu_bwd = 0.0;
    double exchange[4] = {0};   /* between processes: fwd, bwd, fwd cpu, bwd cpu */
    size_t part = 0;
    const nr_timed_part *parts = nr_net_parts(net);
    for (size_t i = 0; i < layers; i++) {
        const double *med = medians + ROW_COLS * i;
        cpu_fwd += med[2];
        cpu_bwd += med[3];
        for (size_t c = 0; c < 4; c++)
            exchange[c] += med[4 + c];
        print_row(&spec.graph->layers[i], 0, nr_net_layer_fused(net, i), "", med, total);
        if (part == part_count || parts[part].top != i)
            print_exchange(0, med, total);   /* a block's own: under its parts */
        for (; part < part_count && parts[part].top == i; part++) {
            const nr_timed_part *p = &parts[part];
            static const char *const names[] = {
                [NR_PART_IDENTITY] = "identity shortcut",
                [NR_PART_ADD] = "add (block + shortcut)",
            };
            print_row(p->layer ? p->layer : &spec.graph->layers[i], p->depth, p->fused,
                      p->kind == NR_PART_SHORTCUT ? "shortcut: "
                      : p->layer                  ? ""
                                                  : names[p->kind],
                      medians + ROW_COLS * (layers + part), total);
            if (part + 1 == part_count || parts[part + 1].top != i ||
                parts[part + 1].depth <= p->depth)   /* a leaf: no parts of its own */
                print_exchange(p->depth, medians + ROW_COLS * (layers + part), total);
        }
    }
    if (processes) {
        const double logits[4] = {
            median_of(samples, count, stride, ROW_COLS * rows + COL_LOGITS, scratch), 0.0,
            median_of(samples, count, stride, ROW_COLS * rows + COL_LOGITS_CPU, scratch), 0.0};
        print_times("", "logits exchange (after the forward)", NULL, logits, total);
        exchange[0] += logits[0];
        exchange[2] += logits[2];
        cpu_fwd += logits[2];
    }
    static const struct {
        int col, cpu_col;
        const char *name;
    } extras[] = {
        {COL_LOSS, -1, "loss (softmax, loss, dlogits)"},
        {COL_REDUCE, COL_REDUCE_CPU, "sum of the threads' gradients"},
        {COL_ZERO, -1, "zero gradients"},
        {COL_STEP, -1, "optimizer step"},
    };
    for (size_t e = 0; e < sizeof extras / sizeof extras[0]; e++) {
        double t = median_of(samples, count, stride, ROW_COLS * rows + (size_t)extras[e].col,
                             scratch);
        printf("%-4s %-*s %10s %10s %10.3f %6.1f", "", NAME_WIDTH + 10, extras[e].name, "", "",
               1e3 * t,
               total > 0 ? 100.0 * t / total : 0.0);
        if (extras[e].cpu_col >= 0) {
            double c = median_of(samples, count, stride,
                                 ROW_COLS * rows + (size_t)extras[e].cpu_col, scratch);
            cpu_bwd += c;
            printf(" %10s %10.3f", "", 1e3 * c);
        }
        printf("\n");
        if (processes && extras[e].col == COL_REDUCE) {   /* the gradient blocks' */
            const double blocks[ROW_COLS] = {
                [5] = median_of(samples, count, stride, ROW_COLS * rows + COL_REDUCE_EXCHANGE,
                                scratch),
                [7] = median_of(samples, count, stride,
                                ROW_COLS * rows + COL_REDUCE_EXCHANGE_CPU, scratch)};
            print_exchange(0, blocks, total);
            exchange[1] += blocks[5];
            exchange[3] += blocks[7];
        }
    }
    double fwd = median_of(samples, count, stride, ROW_COLS * rows + COL_FORWARD, scratch);
    double bwd = median_of(samples, count, stride, ROW_COLS * rows + COL_BACKWARD, scratch);
    printf("%-4s %-*s %10.3f %10.3f %10.3f %6.1f %10.3f %10.3f\n", "", NAME_WIDTH + 10,
           "total per batch",
           1e3 * fwd, 1e3 * bwd, 1e3 * total, 100.0, 1e3 * cpu_fwd, 1e3 * cpu_bwd);
    if (processes)   /* the rows above that are exchange, added up */
        print_times("", "exchange between processes (all)", NULL, exchange, total);
    /* what a batch of training costs: the step and the preparation's share
     * of the critical path */
    int batch_col = ROW_COLS * (int)rows + COL_TOTAL;
    double per_batch = total;
    if (input.data) {
        static const struct {
            int col;
            const char *name;
        } preps[] = {
            {COL_PREP, "batch prep (gather, augment)"},
            {COL_EXPOSED, "batch prep on the critical path"},
            {COL_BATCH, "total with batch prep"},
        };
        for (size_t e = 0; e < sizeof preps / sizeof preps[0]; e++) {
            double t = median_of(samples, count, stride, ROW_COLS * rows + (size_t)preps[e].col,
                                 scratch);
            printf("%-4s %-*s %10s %10s %10.3f %6.1f\n", "", NAME_WIDTH + 10, preps[e].name, "",
                   "", 1e3 * t,
                   total > 0 ? 100.0 * t / total : 0.0);
        }
        batch_col = ROW_COLS * (int)rows + COL_BATCH;
        per_batch = median_of(samples, count, stride, (size_t)batch_col, scratch);
    }
    double fastest = min_of(samples, count, stride, (size_t)batch_col);
    if (per_batch > 0) {
        printf("%.0f images/s (fastest batch: %.0f)", batch / per_batch, batch / fastest);
        if (input.data) {
            double steps = (double)((input.data->count + (size_t)batch - 1) / (size_t)batch);
            printf("; one epoch of %zu images: ~%.2f s (at the fastest batch: %.2f s), "
                   "batch prep included",
                   input.data->count, steps * per_batch, steps * fastest);
        }
        printf("\n");
    }
    status = 0;
    goto done;
oom:
    nr_fail(&err, NR_EXIT_INTERNAL, "out of memory");
fail:
    status = err.status ? err.status : NR_EXIT_INTERNAL;
    if (agreed)   /* alone, or every process with this error: rank 0 prints it */
        fprintf(stderr, "%s\n", err.message);
    else          /* the first process that failed prints its own */
        status = agree_status(opts, status, &err);
done:
    nr_prefetcher_stop(prefetcher);
    for (int i = 0; i < 2; i++) {
        free(prep.x[i]);
        free(prep.labels[i]);
        free(prep.idx[i]);
    }
    free(prep.workspace);
    free(m);
    free(v);
    free(samples);
    free(scratch);
    free(medians);
    free(input.order);
    nr_net_free(net);
    nr_dataset_free(train);
    nr_spec_free(&spec);
    return status;
}

int cli_bench(const cli_options *opts)
{
    long batches = DEFAULT_BATCHES;
    size_t spec_count = opts->spec_count;
    if (spec_count >= 2) {
        /* a trailing number is the batch count */
        const char *last = opts->specs[spec_count - 1];
        char *end;
        errno = 0;
        long value = strtol(last, &end, 10);
        if (end != last && *end == '\0') {
            if (errno || value < 1 || value > MAX_BATCHES) {
                fprintf(stderr, "netrun: error: bench: batches '%s' must be 1 to %d\n", last,
                        MAX_BATCHES);
                return NR_EXIT_INPUT;
            }
            batches = value;
            spec_count--;
        }
    }
    int status = 0;
    for (size_t i = 0; i < spec_count; i++) {
        int s = bench_spec(opts->specs[i], opts, batches);
        if (s)
            status = s;
    }
    return status;
}
