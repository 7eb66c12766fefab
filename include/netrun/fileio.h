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
/* The same without the fsync, for bulk files that can be made again (a
 * dataset conversion writes 70,000 PNGs): never seen half-written by a
 * reader, but a power loss may leave a renamed file empty. */
int nr_atomic_commit_unsynced(nr_atomic_file *file, nr_error *err);
void nr_atomic_abort(nr_atomic_file *file);

/* Reads a whole file (at most max_bytes) into a malloc'd NUL-terminated buffer. */
int nr_read_file(const char *path, size_t max_bytes, char **data, size_t *len, nr_error *err);

/* 64-bit FNV-1a, chainable: start with NR_FNV_OFFSET. */
#define NR_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define NR_FNV_PRIME UINT64_C(0x100000001b3)
uint64_t nr_fnv1a(uint64_t hash, const void *data, size_t len);
/* The same over VALUE's 8 bytes in little-endian order (one result on any host). */
uint64_t nr_fnv1a_u64(uint64_t hash, uint64_t value);

/* 1 when the folder has no entries but . and .. (and NR_LOCK_NAME: a lock
 * file left by a killed netrun holds nothing), 0 when it has some, -1 when
 * it cannot be opened (errno says why: ENOENT when absent). */
int nr_dir_empty(const char *path);

/* A folder held by one netrun at a time: an advisory lock (flock) on
 * DIR/.netrun-lock, which holds "pid N since HH:MM:SS". The kernel releases
 * it when the process ends in any way, so a killed holder leaves a lock file
 * nobody holds and the folder can be taken at once. nr_folder_lock() never
 * waits: a folder another process holds fails with NR_EXIT_INPUT and
 * "DIR: error: in use by another netrun (pid N) since HH:MM:SS". The folder
 * must exist (-1 with errno ENOENT, and an error, when it does not). Locking
 * re-checks that the file locked is still the one at the path, so a holder
 * may remove it when it lets go. The caller owns the lock (no global state);
 * nr_folder_unlock() removes the lock file, also rmdir()s the folder when
 * remove_dir is set (only succeeding when it is empty), and releases; it
 * does nothing to a zeroed or failed nr_dir_lock. */
#define NR_LOCK_NAME ".netrun-lock"

typedef struct nr_dir_lock {
    int fd;
    char *dir;   /* owned; NULL when not held */
    char *path;  /* DIR/.netrun-lock (owned) */
} nr_dir_lock;

int nr_folder_lock(const char *dir, nr_dir_lock *lock, nr_error *err);
/* DIR/.netrun-lock exists (held or left by a killed holder): a folder with
 * other files and none is not netrun's to lock, and is left untouched. */
int nr_folder_has_lock_file(const char *dir);
void nr_folder_unlock(nr_dir_lock *lock, int remove_dir);

/* "DIR/NAME" in a new malloc'd string the caller frees (NULL on out of
 * memory). No '/' is added when DIR is empty or already ends in one; the
 * arguments are only read. */
char *nr_path_join(const char *dir, const char *name);

#endif
