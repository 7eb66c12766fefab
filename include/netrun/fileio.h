/* netrun/fileio.h - small file helpers every output of netrun goes through.
 *
 * Atomic writes: the data goes to a temporary name in the same folder
 * (".NAME.tmp-XXXXXX"), is flushed with fsync, then rename()d over PATH, so
 * a reader (or a crash at any moment) sees the old file or the new one,
 * never a half-written one. Errors name PATH with strerror and have status
 * NR_EXIT_INPUT (an unwritable output is the user's to fix).
 */
#ifndef NETRUN_FILEIO_H
#define NETRUN_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netrun/error.h"

int nr_write_file_atomic(const char *path, const void *data, size_t len, nr_error *err);

/* An atomic write through stdio: nr_atomic_open() gives a FILE* on the
 * temporary file; nr_atomic_commit() flushes, fsyncs, closes and renames
 * (and cleans up on any failure); nr_atomic_abort() discards it. */
typedef struct nr_atomic_file {
    FILE *fp;
    char *path;      /* final path (owned) */
    char *tmp_path;  /* temporary path (owned) */
} nr_atomic_file;

int nr_atomic_open(nr_atomic_file *file, const char *path, nr_error *err);
int nr_atomic_commit(nr_atomic_file *file, nr_error *err);
void nr_atomic_abort(nr_atomic_file *file);

/* Reads a whole file (at most max_bytes) into a malloc'd NUL-terminated buffer. */
int nr_read_file(const char *path, size_t max_bytes, char **data, size_t *len, nr_error *err);

/* 64-bit FNV-1a, chainable: start with NR_FNV_OFFSET. */
#define NR_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
uint64_t nr_fnv1a(uint64_t hash, const void *data, size_t len);

/* 1 when the folder has no entries but . and .., 0 when it has some, -1
 * when it cannot be opened (errno says why: ENOENT when absent). */
int nr_dir_empty(const char *path);

/* "DIR/NAME" into a malloc'd string (NULL on out of memory). */
char *nr_path_join(const char *dir, const char *name);

#endif
