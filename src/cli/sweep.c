/* cli/sweep.c - `--sweep KEY=V1,V2,...`: the values of one grid axis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netrun/error.h"

void cli_sweep_free(cli_sweep *sweep)
{
    if (!sweep)
        return;
    for (size_t i = 0; i < sweep->count; i++)
        free(sweep->values[i]);
    free(sweep->values);
    free(sweep->key);
    memset(sweep, 0, sizeof *sweep);
}

static int sweep_error(const char *arg, cli_sweep *out, const char *what)
{
    fprintf(stderr, "netrun: error: --sweep '%s': %s; expected KEY=V1,V2,..., e.g. "
            "--sweep train.optimizer.sgd.lr=0.01,0.1\n", arg, what);
    cli_sweep_free(out);
    return NR_EXIT_INPUT;
}

static int add_value(cli_sweep *out, const char *text, size_t len)
{
    char **values = realloc(out->values, (out->count + 1) * sizeof *values);
    if (!values)
        return -1;
    out->values = values;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    out->values[out->count++] = copy;
    return 0;
}

int cli_sweep_parse(const char *arg, cli_sweep *out)
{
    memset(out, 0, sizeof *out);
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return sweep_error(arg, out, "no KEY=");
    out->key = malloc((size_t)(eq - arg) + 1);
    if (!out->key)
        goto oom;
    memcpy(out->key, arg, (size_t)(eq - arg));
    out->key[eq - arg] = '\0';
    if (strchr(out->key, ' '))
        return sweep_error(arg, out, "the key has a space");
    const char *start = eq + 1;
    int depth = 0;
    char quote = 0;
    for (const char *p = start;; p++) {
        char c = *p;
        if (quote) {
            if (c == '\0')
                return sweep_error(arg, out, "a quote is not closed");
            if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth < 0)
                return sweep_error(arg, out, "a bracket closes that was not opened");
        } else if ((c == ',' && depth == 0) || c == '\0') {
            if (c == '\0' && depth > 0)
                return sweep_error(arg, out, "a bracket is not closed");
            size_t len = (size_t)(p - start);
            while (len && (*start == ' '))
                start++, len--;
            while (len && start[len - 1] == ' ')
                len--;
            if (len == 0)
                return sweep_error(arg, out, out->count || c == ',' ? "an empty value"
                                                                    : "no values");
            if (add_value(out, start, len) != 0)
                goto oom;
            if (c == '\0')
                break;
            start = p + 1;
        }
    }
    return 0;
oom:
    cli_sweep_free(out);
    fprintf(stderr, "netrun: error: out of memory\n");
    return NR_EXIT_INTERNAL;
}
