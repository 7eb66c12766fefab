/* netrun/comm.h - the processes one run is spread over (MPI ranks), behind
 * a small interface that keeps MPI out of everything else.
 *
 * Built with MPI (CMake found it and NETRUN_MPI is ON: NETRUN_HAVE_MPI),
 * nr_comm_open joins the processes mpirun started (MPI_Init_thread with
 * MPI_THREAD_FUNNELED: only the thread that opened the comm calls MPI). A
 * process not started by mpirun (no OMPI_COMM_WORLD_SIZE, PMI_SIZE or
 * PMIX_RANK in its environment), or a build without MPI, gets a comm of
 * itself alone: rank 0 of 1, no MPI call ever made, every collective below
 * a copy or nothing.
 *
 * Collectives (every rank calls them, in the same order, with matching
 * arguments) report no errors: a failed MPI call ends every rank (MPI's
 * default handler, MPI_ERRORS_ARE_FATAL).
 *
 * Ownership: nr_comm_open allocates the comm; nr_comm_close finalizes MPI
 * (when it was initialized) and frees it. A comm is passed to whoever needs
 * it (never a global); it is not thread-safe: call it from the thread that
 * opened it.
 */
#ifndef NETRUN_COMM_H
#define NETRUN_COMM_H

#include <stdbool.h>
#include <stddef.h>

#include "netrun/error.h"

typedef struct nr_comm nr_comm;

/* The MPI library this netrun was built with, into buf (size bytes,
 * NUL-terminated): its name and version as MPI gives them ("Open MPI
 * v4.1.4"), or "" for a build without MPI. Needs no open comm. */
void nr_comm_library(char *buf, size_t size);

/* argc/argv: main's (MPI may read them; may be NULL). 0, or -1 with err set
 * (MPI_Init failed, out of memory). */
int nr_comm_open(int *argc, char ***argv, nr_comm **out, nr_error *err);
/* A comm of this process alone, whatever the build and environment. */
int nr_comm_open_self(nr_comm **out, nr_error *err);
/* Finalizes MPI when this comm initialized it; NULL is fine. */
void nr_comm_close(nr_comm *comm);

int nr_comm_rank(const nr_comm *comm);   /* 0 .. size - 1 */
int nr_comm_size(const nr_comm *comm);   /* 1 without MPI */

/* Ends every rank with exit status `status` (MPI_Abort); alone: returns, and
 * the caller exits. */
void nr_comm_abort(const nr_comm *comm, int status);

/* Collective: all[r] = rank r's value; all: [size]. */
void nr_comm_allgather_int(const nr_comm *comm, int value, int *all);

/* Collective, in place: rows is an array of rows of row_bytes bytes; rank r
 * holds rows [first[r], first[r + 1]) (first: [size + 1], non-decreasing,
 * the same on every rank); afterwards every rank holds every rank's rows. */
void nr_comm_allgather_rows(const nr_comm *comm, void *rows, size_t row_bytes,
                            const int *first);

/* Collective: recv [displs[r] .. displs[r] + counts[r]) = rank r's send
 * [counts[r]] (counts, displs: [size], the same on every rank; send has
 * counts[rank] floats). Alone: a copy. */
void nr_comm_allgather_floats(const nr_comm *comm, const float *send, float *recv,
                              const int *counts, const int *displs);

/* Collective: true on every rank when `failed` is true on any rank (a
 * collective error flag: every rank then stops the same way). */
bool nr_comm_any(const nr_comm *comm, bool failed);

/* This process's host name into buf (size bytes, NUL-terminated; "?" when
 * unknown). */
void nr_comm_host(char *buf, size_t size);

#endif
