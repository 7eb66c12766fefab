/* cli/main.c - `netrun`: argument parsing and dispatch. The only place that
 * prints errors and chooses the exit status. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netrun/error.h"

static const char usage_text[] =
    "usage: netrun [OPTIONS] SPEC...          train and evaluate each spec\n"
    "       netrun check [--set K=V]... SPEC...  validate, infer shapes, print the summary\n"
    "       netrun eval SPEC --weights FILE    evaluate saved weights on the spec's test set\n"
    "       netrun data DIR...                 load a class-folder dataset, show classes and counts\n"
    "       netrun --help | --version\n"
    "\n"
    "netrun reads a YAML network spec (see netspec/REFERENCE.md), builds the layer\n"
    "graph and trains it on class folders of PNG images.\n"
    "\n"
    "options:\n"
    "  -s, --set KEY=VALUE  override a spec value, e.g. --set train.epochs=3,\n"
    "                       --set train.optimizer.sgd.lr=0.01 (validated like the file)\n"
    "  -o, --out DIR        run folder (default: runs/<name>-<n>, never overwritten)\n"
    "  -b, --backend NAME   blas (default) or reference (plain loops, no BLAS)\n"
    "  -w, --weights FILE   weights to evaluate (eval)\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "\n"
    "exit status: 0 success, 1 internal error, 2 bad input (spec, data, command line)\n";

typedef int (*command_fn)(const cli_options *);

static const struct command {
    const char *name;
    command_fn run;
} commands[] = {
    {"check", cli_check},
    {"eval", cli_eval},
    {"data", cli_data},
};

int main(int argc, char **argv)
{
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
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) {
        fprintf(stderr, "netrun: error: out of memory\n");
        return NR_EXIT_INTERNAL;
    }
    cli_options opts = {.sets = sets};
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
        case 'o':
            opts.out_dir = optarg;
            break;
        case 'b':
            if (strcmp(optarg, "blas") == 0) {
                opts.backend = NR_BACKEND_BLAS;
            } else if (strcmp(optarg, "reference") == 0) {
                opts.backend = NR_BACKEND_REFERENCE;
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
        if (opts.spec_count == 0) {
            fprintf(stderr, "netrun: error: no spec file given\n%s", usage_text);
            status = NR_EXIT_INPUT;
        } else {
            status = run(&opts);
        }
    }
    free(sets);
    return status;
}
