/* netrun/error.h - the one error type every netrun library returns.
 *
 * Libraries never print or exit. A function that can fail takes a
 * `nr_error *err` as its last argument, returns 0 on success and -1 on
 * failure, and on failure fills `err` (when err is non-NULL) with:
 *   - status:  the process exit status main() should use
 *              (NR_EXIT_INPUT = 2 for bad input of any kind: spec, data,
 *               paths, unwritable output; NR_EXIT_INTERNAL = 1 otherwise);
 *   - message: one line, no trailing newline, already in the form the user
 *              sees: "FILE:LINE:COL: error: what is wrong; what would be valid"
 *              or "PATH: error: ..." when there is no position.
 * Header-only so that netspec (which depends on libyaml only) and the engine
 * share it without a common library.
 */
#ifndef NETRUN_ERROR_H
#define NETRUN_ERROR_H

#include <stdarg.h>
#include <stdio.h>

enum {
    NR_EXIT_OK = 0,
    NR_EXIT_INTERNAL = 1,  /* out of memory, a bug, an I/O failure that is not the user's */
    NR_EXIT_INPUT = 2,     /* bad input: spec, data, command line, output folder */
    NR_EXIT_DIVERGED = 3,  /* training produced NaN/Inf */
    NR_EXIT_INTERRUPTED = 130
};

typedef struct nr_error {
    int status;          /* exit status for main(); see the enum above */
    char message[1024];  /* one line, NUL-terminated */
} nr_error;

/* Fills err (if non-NULL) with a printf-formatted message; returns -1 so a
 * caller can write `return nr_fail(err, NR_EXIT_INPUT, "...", ...);`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline int nr_fail(nr_error *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#endif
