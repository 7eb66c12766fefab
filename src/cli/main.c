/* cli/main.c - `netrun`: argument parsing and dispatch. The only place that
 * prints errors and chooses the exit status. Which options each command takes
 * is one table (`commands` below): any other option is refused, never ignored. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "netrun/clock.h"
#include "netrun/comm.h"
#include "netrun/error.h"
#include "netrun/netspec.h"
#include "netrun/run.h"

static const char usage_text[] =
    "usage: netrun [OPTIONS] SPEC...          train and evaluate each spec\n"
    "       netrun check [--set K=V]... SPEC...  validate, infer shapes, print the summary\n"
    "       netrun eval SPEC --weights FILE    evaluate saved weights on the spec's test set\n"
    "       netrun data DIR...                 load a class-folder dataset, show classes and counts\n"
    "       netrun resume RUN_DIR [--epochs N]  continue an interrupted run from its\n"
    "                                          checkpoint; --epochs: to N epochs in all\n"
    "       netrun bench [--set K=V]... SPEC [BATCHES]  time each layer and the batch prep (median)\n"
    "       netrun compare RUN_DIR... [-o FILE.png]  overlay the runs' curves, print a table\n"
    "       netrun diff A.yaml B.yaml          what differs between two resolved specs\n"
    "       netrun report RUN_DIR... [-o FILE.pdf]  one PDF: settings, results, pictures\n"
    "       netrun predict MODEL IMAGE_OR_FOLDER...  classify images with a trained model\n"
    "       netrun export MODEL -o FILE.onnx   the trained model as an ONNX model\n"
    "       netrun COMMAND --help              a command's own usage, options and defaults\n"
    "       netrun --help | --version\n"
    "\n"
    "netrun reads a YAML network spec (see netspec/REFERENCE.md), builds the layer\n"
    "graph and trains it on class folders of PNG images.\n"
    "\n"
    "options (a command refuses those it does not use; netrun COMMAND --help):\n"
    "  -s, --set KEY=VALUE  override a spec value, e.g. --set train.epochs=3,\n"
    "                       --set train.optimizer.sgd.lr=0.01 (validated like the file);\n"
    "                       KEY as errors and diff print it: network.layers[0].conv.filters\n"
    "                       (or network.layers.0.conv.filters); training, check, eval, bench\n"
    "  -o, --out DIR        run folder (default: runs/<name>-<n>, never overwritten);\n"
    "                       with --sweep the folder of all points (DIR/<name>-<k>);\n"
    "                       compare: the picture (compare.png); report: the PDF\n"
    "                       (report.pdf); predict: a CSV of the predictions;\n"
    "                       export: the ONNX file\n"
    "      --sweep KEY=V1,V2,...  train once per value (several --sweep: every\n"
    "                       combination), e.g. --sweep train.optimizer.sgd.lr=0.01,0.1;\n"
    "                       commas inside [..] or {..} belong to the value; every point\n"
    "                       is checked before the first one trains; training only;\n"
    "                       under mpirun -np P (also several specs) whole runs are\n"
    "                       spread round robin: run k on process (k-1) mod P, by\n"
    "                       it alone with the spec's threads\n"
    "  -b, --backend NAME   blas (default) or reference (plain loops, no BLAS);\n"
    "                       training, eval, bench\n"
    "  -w, --weights FILE   weights to evaluate; eval only\n"
    "      --top K          classes listed per image (default 3); predict only\n"
    "  -h, --help           show this help (after a command: that command's help)\n"
    "  -V, --version        show the version\n"
    "\n"
    "Several runs (specs or sweep points) end with the compare table and picture\n"
    "(runs/compare-<name>-<n>.png, or DIR/compare.png with --out DIR).\n"
    "\n"
    "exit status: 0 success, 1 internal error, 2 bad input (spec, data, command line),\n"
    "3 training diverged (NaN/Inf), 130 interrupted (SIGINT/SIGTERM: the current batch is\n"
    "finished and a checkpoint written; continue with netrun resume RUN_DIR);\n"
    "diff: 0 same, 1 different, 2 trouble\n";

/* The options that take a value, as bits of a command's `takes`. */
enum {
    OPT_SET = 1u << 0,
    OPT_OUT = 1u << 1,
    OPT_BACKEND = 1u << 2,
    OPT_WEIGHTS = 1u << 3,
    OPT_SWEEP = 1u << 4,
    OPT_TOP = 1u << 5,
    OPT_EPOCHS = 1u << 6,
};

static const struct option_name {
    int code;              /* getopt_long's return value */
    unsigned flag;
    const char *name;      /* as error messages name it */
} option_names[] = {
    {'s', OPT_SET, "--set"},
    {'o', OPT_OUT, "--out"},
    {'b', OPT_BACKEND, "--backend"},
    {'w', OPT_WEIGHTS, "--weights"},
    {'S', OPT_SWEEP, "--sweep"},
    {'T', OPT_TOP, "--top"},
    {'E', OPT_EPOCHS, "--epochs"},
};

typedef int (*command_fn)(const cli_options *);

/* Every command: the options it takes (any other is refused with `refusal`
 * as the reason), what it needs when given no arguments, its usage line and
 * its --help text. The first entry is training (`netrun SPEC...`). */
static const struct command {
    const char *name;      /* NULL: training */
    command_fn run;
    unsigned takes;        /* OPT_* bits; -h/--help and -V/--version always */
    const char *operand;   /* "no <operand> given" */
    const char *usage;
    const char *refusal;   /* why it takes no other option */
    const char *help;      /* what it does, its options and their defaults */
} commands[] = {
    {NULL, cli_train, OPT_SET | OPT_OUT | OPT_BACKEND | OPT_SWEEP, "spec file",
     "netrun [OPTIONS] SPEC...",
     "training starts from fresh weights; netrun eval SPEC --weights FILE evaluates saved "
     "ones",
     NULL /* the global usage_text */},
    {"check", cli_check, OPT_SET, "spec file", "netrun check [--set K=V]... SPEC...",
     "check only validates the spec and prints its layer table; it trains and writes nothing",
     "Parses and validates each spec (every key, type and range: netspec/REFERENCE.md),\n"
     "infers every layer's output shape and prints the layer table: output shape,\n"
     "learnable parameters and forward multiply-accumulates per example (frozen\n"
     "layers marked), and with train.init_from what it loads from the source model\n"
     "(the same checks training makes). Trains and writes nothing.\n"
     "\n"
     "options:\n"
     "  -s, --set KEY=VALUE  override a spec value before checking (any number, applied\n"
     "                       in order, validated like the file; default: none),\n"
     "                       e.g. --set network.layers[0].conv.filters=4\n"
     "  -h, --help           show this help\n"
     "\n"
     "exit status: 0 every spec is valid, 2 one is not (one error line each)\n"},
    {"eval", cli_eval, OPT_SET | OPT_BACKEND | OPT_WEIGHTS, "spec file",
     "netrun eval SPEC --weights FILE [--set K=V]... [--backend NAME]",
     "eval only prints the test cost and accuracy of saved weights; it writes nothing",
     "Builds the network of SPEC, loads the trained parameters of FILE (a run folder's\n"
     "weights.bin, which must fit the network) and prints the cost and accuracy on the\n"
     "spec's test set (data.test). Writes nothing.\n"
     "\n"
     "options:\n"
     "  -w, --weights FILE   the weights to evaluate (required)\n"
     "  -s, --set KEY=VALUE  override a spec value (any number; default: none), e.g.\n"
     "                       --set train.batch_size=256; the network must still fit FILE\n"
     "  -b, --backend NAME   blas or reference (plain loops, no BLAS); default: the\n"
     "                       spec's backend key (blas)\n"
     "  -h, --help           show this help\n"},
    {"data", cli_data, 0, "data folder", "netrun data DIR...",
     "data only loads image folders; there is no spec to change",
     "Loads each class-folder dataset (DIR/<class>/<file>.png, 8-bit grayscale or RGB,\n"
     "all of one size) through its decoded cache (DIR/.netrun-cache, written when\n"
     "missing or stale) and prints its image count, image shape, class names, images\n"
     "per class and how long loading took.\n"
     "\n"
     "options:\n"
     "  -h, --help           show this help (data takes no other option)\n"},
    {"resume", cli_resume, OPT_EPOCHS, "run folder", "netrun resume RUN_DIR [--epochs N]",
     "the run folder's resolved.yaml is the spec, with the run's own settings; more "
     "epochs: --epochs N",
     "Continues an interrupted run (SIGINT/SIGTERM, or killed after its first epoch)\n"
     "from RUN_DIR/checkpoint.bin with the run's own spec and settings\n"
     "(RUN_DIR/resolved.yaml), to the same history and weights as an uninterrupted\n"
     "run. RUN_DIR is the folder the run printed (runs/<name>-<n>, or its --out).\n"
     "\n"
     "options:\n"
     "      --epochs N       continue to N epochs in all (1 to 100000, more than those\n"
     "                       done), a finished run too: the history goes on in RUN_DIR\n"
     "                       as if N had been asked for from the start (same numbers\n"
     "                       but the seconds); resolved.yaml then says train.epochs: N.\n"
     "                       Refused for the cosine and one_cycle schedules (their lr\n"
     "                       follows the total) and after early stopping; default: the\n"
     "                       run's own total\n"
     "  -h, --help           show this help (resume takes no other option: the spec,\n"
     "                       backend and settings are the run's own)\n"},
    {"bench", cli_bench, OPT_SET | OPT_BACKEND, "spec file",
     "netrun bench [--set K=V]... [--backend NAME] SPEC... [BATCHES]",
     "bench only times the layers and prints a table; it writes nothing",
     "Times each layer's forward and backward pass per batch (like caffe time): after\n"
     "5 warm-up batches, BATCHES training steps (default 50, 1 to 100000) with the\n"
     "spec's network, batch size, threads and optimizer, on its training images (random\n"
     "pixels when they do not load); each row is the median over the steps. A trailing\n"
     "number is BATCHES (write -- before a spec named like a number). Writes nothing.\n"
     "Under mpirun (mpirun -np P netrun bench SPEC) the batch is shared by the P\n"
     "processes as in training and rank 0 prints the table with the exchange between\n"
     "processes: an \"of which: exchange\" row under each layer that exchanges rows\n"
     "(dense, batchnorm) and under the sum of the threads' gradients (the gradient\n"
     "blocks), the logits' exchange after the forward, and their total.\n"
     "\n"
     "options:\n"
     "  -s, --set KEY=VALUE  override a spec value (any number; default: none), e.g.\n"
     "                       --set threads=1 --set train.batch_size=128\n"
     "  -b, --backend NAME   blas or reference (plain loops, no BLAS); default: the\n"
     "                       spec's backend key (blas)\n"
     "  -h, --help           show this help\n"},
    {"compare", cli_compare, OPT_OUT, "run folder", "netrun compare RUN_DIR... [-o FILE.png]",
     "compare reads the run folders as they are; -o names the picture",
     "Draws the runs' test (solid) and train (dashed) curves into one picture and prints\n"
     "a table: final and best test accuracy, parameters, training time, folder. Each\n"
     "run is labelled by its name and what differs in its resolved.yaml from the\n"
     "others'.\n"
     "\n"
     "options:\n"
     "  -o, --out FILE.png   the picture (default: compare.png)\n"
     "  -h, --help           show this help\n"},
    {"diff", cli_diff, 0, "spec files", "netrun diff A.yaml B.yaml",
     "diff compares two spec files as written; a run folder's resolved.yaml is one",
     "Compares the two specs as resolved (defaults written out), key by key; a changed\n"
     "optimizer or layer is shown whole with its defaults, name and description last;\n"
     "then the layer rows (as in netrun check) whose output shape or parameters differ.\n"
     "\n"
     "options:\n"
     "  -h, --help           show this help (diff takes no other option)\n"
     "\n"
     "exit status: as diff(1): 0 same, 1 different, 2 trouble\n"},
    {"report", cli_report, OPT_OUT, "run folder", "netrun report RUN_DIR... [-o FILE.pdf]",
     "report reads the run folders as they are; -o names the PDF",
     "Writes one A4 PDF: with several runs an overview page (the compare table and\n"
     "picture), then per run its name, description, final numbers and whole\n"
     "resolved.yaml, and a page with its curves, confusion matrix and misclassified\n"
     "images.\n"
     "\n"
     "options:\n"
     "  -o, --out FILE.pdf   the PDF (default: report.pdf)\n"
     "  -h, --help           show this help\n"},
    {"predict", cli_predict, OPT_OUT | OPT_TOP, "model",
     "netrun predict MODEL IMAGE_OR_FOLDER... [-o FILE.csv] [--top K]",
     "predict classifies images with a trained model as it is; -o names the CSV",
     "Classifies images with a trained model. MODEL is a run folder (runs/<name>-<n>)\n"
     "or a weights file with the run's resolved.yaml beside it. Each image is read\n"
     "and scaled as in training: a PNG or JPEG image of the model's input size\n"
     "(images are not resized). A folder is searched recursively in sorted order\n"
     "(names starting with '.' skipped, .png, .jpg and .jpeg files taken). Prints one line\n"
     "per image: its path, the predicted class and its probability, then the top K\n"
     "classes with theirs. When the images of a folder all sit in folders named\n"
     "after the model's classes (a Test set), also prints their accuracy and\n"
     "confusion matrix. An image that cannot be used is named on stderr with the\n"
     "reason; the others are still predicted.\n"
     "\n"
     "options:\n"
     "  -o, --out FILE.csv   also write path,predicted,p,<one column per class> (the\n"
     "                       class's probability), a row per image predicted; with\n"
     "                       class folders also FILE.confusion.csv and .png\n"
     "                       (default: no file, the confusion matrix printed)\n"
     "      --top K          classes listed per image, 1 or more (default: 3, or the\n"
     "                       model's classes when fewer)\n"
     "  -h, --help           show this help\n"
     "\n"
     "exit status: 0 every image predicted, 2 bad input or an image that could not be\n"
     "used (the others are predicted and written all the same)\n"},
    {"export", cli_export, OPT_OUT, "model", "netrun export MODEL -o FILE.onnx",
     "export writes the model as it was trained; -o names the ONNX file",
     "Writes the trained model MODEL (a run folder, or a weights file with the run's\n"
     "resolved.yaml beside it) as an ONNX model (opset 13) that gives what netrun\n"
     "gives: input 'input', float [N, C, H, W], each value pixel (0..255) * scale +\n"
     "shift of its channel (the model's scaling, in the ONNX doc_string and metadata);\n"
     "output 'probabilities' [N, classes] (softmax of the class scores), or 'outputs'\n"
     "(the raw values) for an mse network without a final softmax. The class names,\n"
     "scaling and input shape are in the model's metadata_props. Written atomically.\n"
     "\n"
     "options:\n"
     "  -o, --out FILE.onnx  the ONNX model to write (required)\n"
     "  -h, --help           show this help\n"},
};
enum { COMMAND_COUNT = sizeof commands / sizeof commands[0] };

static const char *command_title(const struct command *cmd)
{
    return cmd->name ? cmd->name : "training";
}

/* "netrun 0.1.0", then how it runs on several processes (or that it does
 * not: a build without MPI). */
static void print_version(void)
{
    char mpi[256];
    nr_comm_library(mpi, sizeof mpi);
    printf("netrun %s\n", NETRUN_VERSION);
    if (mpi[0])
        printf("built with MPI (%s): mpirun -np P netrun ... shares the batches among P "
               "processes\n", mpi);
    else
        printf("built without MPI: one process (threads only)\n");
}

static void print_help(const struct command *cmd)
{
    if (!cmd->name)
        fputs(usage_text, stdout);
    else
        printf("usage: %s\n\n%s", cmd->usage, cmd->help);
}

/* "netrun: error: CMD does not take OPT (why); see netrun CMD --help" */
static int refuse_option(const struct command *cmd, const struct option_name *opt)
{
    const char *why = opt->flag == OPT_SWEEP
                          ? "--sweep is for training: netrun SPEC --sweep KEY=V1,V2,..."
                      : opt->flag == OPT_EPOCHS
                          ? "--epochs continues a run: netrun resume RUN_DIR --epochs N; a "
                            "new run's total is --set train.epochs=N"
                          : cmd->refusal;
    fprintf(stderr, "netrun: error: %s does not take %s (%s); see netrun %s%s--help\n",
            command_title(cmd), opt->name, why, cmd->name ? cmd->name : "",
            cmd->name ? " " : "");
    return NR_EXIT_INPUT;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* The command `word` is a typo of, or NULL: only for a first argument that
 * is no option, no existing file and no .yaml/.yml name (a spec named like a
 * command trains), within edit distance 2 of a command name. */
static const struct command *mistyped_command(const char *word)
{
    struct stat st;
    if (word[0] == '-' || ends_with(word, ".yaml") || ends_with(word, ".yml") ||
        stat(word, &st) == 0)
        return NULL;
    const struct command *best = NULL;
    size_t best_distance = 3;
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (!commands[i].name)
            continue;
        size_t d = ns_edit_distance(word, commands[i].name, 2);
        if (d < best_distance && d < strlen(word)) {
            best = &commands[i];
            best_distance = d;
        }
    }
    return best;
}

static void print_command_names(FILE *out)
{
    const char *sep = "";
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (commands[i].name) {
            fprintf(out, "%s%s", sep, commands[i].name);
            sep = ", ";
        }
}

static int run_command(int argc, char **argv, double started_at, const nr_comm *comm,
                       FILE *run_errors);

/* Under mpirun every process runs the same command line. Rank 0 speaks for
 * all: the others print nothing on stdout, and on stderr only an error of
 * their own that rank 0 does not print (nr_run_result.peer_failed). */
int main(int argc, char **argv)
{
    const double started_at = nr_monotonic_seconds();
    nr_comm *comm = NULL;
    nr_error err = {0};
    if (nr_comm_open(&argc, &argv, &comm, &err) != 0) {
        fprintf(stderr, "netrun: error: %s\n", err.message);
        return err.status ? err.status : NR_EXIT_INTERNAL;
    }
    int saved_stderr = -1;
    if (nr_comm_rank(comm) != 0) {
        /* the command line is the same everywhere: rank 0 reports its errors */
        int devnull = open("/dev/null", O_WRONLY);
        fflush(stdout);
        fflush(stderr);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            saved_stderr = dup(STDERR_FILENO);
            dup2(devnull, STDERR_FILENO);
            close(devnull);
        }
    }
    FILE *run_errors = saved_stderr >= 0 ? fdopen(saved_stderr, "w") : NULL;
    if (!run_errors && saved_stderr >= 0)
        close(saved_stderr);
    const int status = run_command(argc, argv, started_at, comm, run_errors ? run_errors : stderr);
    nr_comm_close(comm);
    if (run_errors)
        fclose(run_errors);
    return status;
}

/* A command under several processes: training (one spec, a --sweep or
 * several specs), resume and bench only. */
static int refuse_processes(const struct command *cmd, const cli_options *opts)
{
    if (nr_comm_size(opts->comm) == 1)
        return -1;
    if (cmd->name && strcmp(cmd->name, "resume") != 0 && strcmp(cmd->name, "bench") != 0) {
        fprintf(stderr, "netrun: error: netrun %s runs in one process; under mpirun only "
                "training (netrun SPEC), netrun resume and netrun bench run (on %d "
                "processes)\n", cmd->name, nr_comm_size(opts->comm));
        return NR_EXIT_INPUT;
    }
    /* training: one spec shares its batches; a --sweep or several specs
     * spread whole runs over the processes (cmd_train.c) */
    return -1;
}

static int run_command(int argc, char **argv, double started_at, const nr_comm *comm,
                       FILE *run_errors)
{
    const struct command *cmd = &commands[0];
    int first = 1;
    if (argc > 1) {
        for (size_t i = 0; i < COMMAND_COUNT; i++)
            if (commands[i].name && strcmp(argv[1], commands[i].name) == 0) {
                cmd = &commands[i];
                first = 2;
            }
        const struct command *near = first == 1 ? mistyped_command(argv[1]) : NULL;
        if (near) {
            fprintf(stderr, "netrun: error: unknown command '%s' (did you mean '%s'?); "
                    "commands: ", argv[1], near->name);
            print_command_names(stderr);
            fprintf(stderr, "\n");
            return NR_EXIT_INPUT;
        }
    }

    static const struct option long_options[] = {
        {"set", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"backend", required_argument, NULL, 'b'},
        {"weights", required_argument, NULL, 'w'},
        {"sweep", required_argument, NULL, 'S'},
        {"top", required_argument, NULL, 'T'},
        {"epochs", required_argument, NULL, 'E'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char **sets = calloc((size_t)argc, sizeof *sets);
    const char **sweeps = calloc((size_t)argc, sizeof *sweeps);
    if (!sets || !sweeps) {
        free(sets);
        free(sweeps);
        fprintf(stderr, "netrun: error: out of memory\n");
        return NR_EXIT_INTERNAL;
    }
    cli_options opts = {.sets = sets, .sweeps = sweeps, .started_at = started_at,
                        .comm = comm, .run_errors = run_errors};
    optind = first;
    opterr = 0;
    int c;
    int status = -1;
    while (status < 0 && (c = getopt_long(argc, argv, ":s:o:b:w:hV", long_options, NULL)) != -1) {
        const struct option_name *given = NULL;
        for (size_t i = 0; i < sizeof option_names / sizeof option_names[0]; i++)
            if (option_names[i].code == c)
                given = &option_names[i];
        if (given && !(cmd->takes & given->flag)) {
            status = refuse_option(cmd, given);
            break;
        }
        switch (c) {
        case 's':
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "netrun: error: --set '%s': expected KEY=VALUE, e.g. "
                        "--set train.epochs=3\n", optarg);
                status = NR_EXIT_INPUT;
            } else {
                sets[opts.set_count++] = optarg;
            }
            break;
        case 'S':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                fprintf(stderr, "netrun: error: --sweep '%s': expected KEY=V1,V2,..., e.g. "
                        "--sweep train.optimizer.sgd.lr=0.01,0.1\n", optarg);
                status = NR_EXIT_INPUT;
            } else {
                sweeps[opts.sweep_count++] = optarg;
            }
            break;
        case 'o':
            opts.out_dir = optarg;
            break;
        case 'b':
            /* the backend is the spec key `backend`: recorded in resolved.yaml */
            if (strcmp(optarg, "blas") == 0) {
                opts.backend = NR_BACKEND_BLAS;
                sets[opts.set_count++] = "backend=blas";
            } else if (strcmp(optarg, "reference") == 0) {
                opts.backend = NR_BACKEND_REFERENCE;
                sets[opts.set_count++] = "backend=reference";
            } else {
                fprintf(stderr, "netrun: error: --backend '%s': expected blas or reference\n",
                        optarg);
                status = NR_EXIT_INPUT;
            }
            break;
        case 'w':
            opts.weights = optarg;
            break;
        case 'T':
            opts.top = optarg;
            break;
        case 'E': {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno != 0 || n < 1 || n > 100000 ||
                !(optarg[0] >= '0' && optarg[0] <= '9')) {
                fprintf(stderr, "netrun: error: --epochs '%s': expected an integer from 1 to "
                        "100000 (the run's new total of epochs)\n", optarg);
                status = NR_EXIT_INPUT;
            } else {
                opts.epochs = (int)n;
            }
            break;
        }
        case 'h':
            print_help(cmd);
            status = NR_EXIT_OK;
            break;
        case 'V':
            print_version();
            status = NR_EXIT_OK;
            break;
        case ':':
            fprintf(stderr, "netrun: error: option '%s' needs a value; see netrun %s%s--help\n",
                    argv[optind - 1], cmd->name ? cmd->name : "", cmd->name ? " " : "");
            status = NR_EXIT_INPUT;
            break;
        default:
            fprintf(stderr, "netrun: error: unknown option '%s'; see netrun %s%s--help\n",
                    argv[optind - 1], cmd->name ? cmd->name : "", cmd->name ? " " : "");
            status = NR_EXIT_INPUT;
            break;
        }
    }
    if (status < 0) {
        opts.specs = (const char **)(argv + optind);
        opts.spec_count = (size_t)(argc - optind);
        if (opts.spec_count == 0 && !cmd->name) {
            fprintf(stderr, "netrun: error: no spec file given\n%s", usage_text);
            status = NR_EXIT_INPUT;
        } else if (opts.spec_count == 0) {
            fprintf(stderr, "netrun: error: no %s given; usage: %s\n", cmd->operand,
                    cmd->usage);
            status = NR_EXIT_INPUT;
        } else if ((status = refuse_processes(cmd, &opts)) < 0) {
            status = cmd->run(&opts);
        }
    }
    free(sets);
    free(sweeps);
    return status;
}
