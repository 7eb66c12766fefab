/* cli/main.c - `netrun`: argument parsing and dispatch. The only place that
 * prints errors and chooses the exit status. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netrun/error.h"
#include "netrun/run.h"

static const char usage_text[] =
    "usage: netrun [OPTIONS] SPEC...          train and evaluate each spec\n"
    "       netrun check [--set K=V]... SPEC...  validate, infer shapes, print the summary\n"
    "       netrun eval SPEC --weights FILE    evaluate saved weights on the spec's test set\n"
    "       netrun data DIR...                 load a class-folder dataset, show classes and counts\n"
    "       netrun resume RUN_DIR              continue an interrupted run from its checkpoint\n"
    "       netrun bench [--set K=V]... SPEC [BATCHES]  time each layer per batch (median)\n"
    "       netrun compare RUN_DIR... [-o FILE.png]  overlay the runs' curves, print a table\n"
    "       netrun diff A.yaml B.yaml          what differs between two resolved specs\n"
    "       netrun report RUN_DIR... [-o FILE.pdf]  one PDF: settings, results, pictures\n"
    "       netrun --help | --version\n"
    "\n"
    "netrun reads a YAML network spec (see netspec/REFERENCE.md), builds the layer\n"
    "graph and trains it on class folders of PNG images.\n"
    "\n"
    "options:\n"
    "  -s, --set KEY=VALUE  override a spec value, e.g. --set train.epochs=3,\n"
    "                       --set train.optimizer.sgd.lr=0.01 (validated like the file)\n"
    "  -o, --out DIR        run folder (default: runs/<name>-<n>, never overwritten);\n"
    "                       with --sweep the folder of all points (DIR/<name>-<k>);\n"
    "                       compare: the picture (compare.png); report: the PDF\n"
    "                       (report.pdf)\n"
    "      --sweep KEY=V1,V2,...  train once per value (several --sweep: every\n"
    "                       combination), e.g. --sweep train.optimizer.sgd.lr=0.01,0.1;\n"
    "                       commas inside [..] or {..} belong to the value; every point\n"
    "                       is checked before the first one trains\n"
    "  -b, --backend NAME   blas (default) or reference (plain loops, no BLAS)\n"
    "  -w, --weights FILE   weights to evaluate (eval)\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "\n"
    "Several runs (specs or sweep points) end with the compare table and picture\n"
    "(runs/compare-<name>-<n>.png, or DIR/compare.png with --out DIR).\n"
    "\n"
    "exit status: 0 success, 1 internal error, 2 bad input (spec, data, command line),\n"
    "3 training diverged (NaN/Inf), 130 interrupted (SIGINT/SIGTERM: the current batch is\n"
    "finished and a checkpoint written; continue with netrun resume RUN_DIR);\n"
    "diff: 0 same, 1 different, 2 trouble\n";

typedef int (*command_fn)(const cli_options *);

static const struct command {
    const char *name;
    command_fn run;
} commands[] = {
    {"check", cli_check},
    {"eval", cli_eval},
    {"data", cli_data},
    {"resume", cli_resume},
    {"compare", cli_compare},
    {"diff", cli_diff},
    {"report", cli_report},
    {"bench", cli_bench},
};

int main(int argc, char **argv)
{
    const double started_at = nr_run_clock();
    command_fn run = cli_train;
    int first = 1;
    if (argc > 1) {
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (strcmp(argv[1], commands[i].name) == 0) {
                run = commands[i].run;
                first = 2;
            }
    }

    static const struct option long_options[] = {
        {"set", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"backend", required_argument, NULL, 'b'},
        {"weights", required_argument, NULL, 'w'},
        {"sweep", required_argument, NULL, 'S'},
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
    cli_options opts = {.sets = sets, .sweeps = sweeps, .started_at = started_at};
    optind = first;
    opterr = 0;
    int c;
    int status = -1;
    while (status < 0 && (c = getopt_long(argc, argv, ":s:o:b:w:hV", long_options, NULL)) != -1) {
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
        case 'h':
            fputs(usage_text, stdout);
            status = NR_EXIT_OK;
            break;
        case 'V':
            printf("netrun %s\n", NETRUN_VERSION);
            status = NR_EXIT_OK;
            break;
        case ':':
            fprintf(stderr, "netrun: error: option '%s' needs a value; see netrun --help\n",
                    argv[optind - 1]);
            status = NR_EXIT_INPUT;
            break;
        default:
            fprintf(stderr, "netrun: error: unknown option '%s'; see netrun --help\n",
                    argv[optind - 1]);
            status = NR_EXIT_INPUT;
            break;
        }
    }
    if (status < 0) {
        opts.specs = (const char **)(argv + optind);
        opts.spec_count = (size_t)(argc - optind);
        if (opts.sweep_count && run != cli_train) {
            fprintf(stderr, "netrun: error: --sweep is for training: netrun SPEC --sweep "
                    "KEY=V1,V2\n");
            status = NR_EXIT_INPUT;
        } else if (opts.spec_count == 0 && (run == cli_compare || run == cli_report ||
                                            run == cli_diff)) {
            fprintf(stderr, "netrun: error: no %s given; usage: netrun %s\n",
                    run == cli_diff ? "spec files" : "run folder",
                    run == cli_compare  ? "compare RUN_DIR... [-o FILE.png]"
                    : run == cli_report ? "report RUN_DIR... [-o FILE.pdf]"
                                        : "diff A.yaml B.yaml");
            status = NR_EXIT_INPUT;
        } else if (opts.spec_count == 0) {
            fprintf(stderr, "netrun: error: no spec file given\n%s", usage_text);
            status = NR_EXIT_INPUT;
        } else {
            status = run(&opts);
        }
    }
    free(sets);
    free(sweeps);
    return status;
}
