/* comm.c - the processes of a run (see netrun/comm.h): MPI when built with
 * it (NETRUN_HAVE_MPI) and started by mpirun, else this process alone. */
#include "netrun/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NETRUN_HAVE_MPI
#include <mpi.h>
#endif

struct nr_comm {
    int rank, size;
    bool mpi;          /* this comm initialized MPI (and finalizes it) */
};

void nr_comm_library(char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
#ifdef NETRUN_HAVE_MPI
    /* (callable before MPI_Init) "Open MPI v4.1.4, package: ...": the name */
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(text, &len) == MPI_SUCCESS) {
        text[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] = '\0';
        snprintf(buf, size, "%.*s", (int)strcspn(text, ",\n"), text);
    }
#endif
}

int nr_comm_open_self(nr_comm **out, nr_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    (*out)->size = 1;
    return 0;
}

#ifdef NETRUN_HAVE_MPI
/* Started by mpirun (Open MPI, or a PMI/PMIx launcher): not a singleton. */
static bool launched_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}
#endif

int nr_comm_open(int *argc, char ***argv, nr_comm **out, nr_error *err)
{
    if (nr_comm_open_self(out, err) != 0)
        return -1;
#ifdef NETRUN_HAVE_MPI
    if (!launched_by_mpirun())
        return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        free(*out);
        *out = NULL;
        return nr_fail(err, NR_EXIT_INTERNAL, "MPI_Init_thread failed");
    }
    (*out)->mpi = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &(*out)->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &(*out)->size);
#else
    (void)argc, (void)argv;
#endif
    return 0;
}

void nr_comm_close(nr_comm *comm)
{
    if (!comm)
        return;
#ifdef NETRUN_HAVE_MPI
    if (comm->mpi)
        MPI_Finalize();
#endif
    free(comm);
}

int nr_comm_rank(const nr_comm *comm)
{
    return comm->rank;
}

int nr_comm_size(const nr_comm *comm)
{
    return comm->size;
}

void nr_comm_abort(const nr_comm *comm, int status)
{
#ifdef NETRUN_HAVE_MPI
    if (comm->mpi)
        MPI_Abort(MPI_COMM_WORLD, status);
#else
    (void)comm, (void)status;
#endif
}

void nr_comm_allgather_int(const nr_comm *comm, int value, int *all)
{
#ifdef NETRUN_HAVE_MPI
    if (comm->mpi) {
        MPI_Allgather(&value, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
        return;
    }
#endif
    (void)comm;
    all[0] = value;
}

void nr_comm_allgather_rows(const nr_comm *comm, void *rows, size_t row_bytes,
                            const int *first)
{
#ifdef NETRUN_HAVE_MPI
    if (comm->mpi && comm->size > 1 && row_bytes > 0) {
        /* one datatype per row: the counts stay row counts (no int overflow
         * of byte counts) */
        MPI_Datatype row;
        MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row);
        MPI_Type_commit(&row);
        int *counts = malloc(2 * (size_t)comm->size * sizeof *counts);
        if (!counts)
            MPI_Abort(MPI_COMM_WORLD, NR_EXIT_INTERNAL);   /* no error path in a collective */
        int *displs = counts + comm->size;
        for (int r = 0; r < comm->size; r++) {
            displs[r] = first[r];
            counts[r] = first[r + 1] - first[r];
        }
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, counts, displs, row,
                       MPI_COMM_WORLD);
        MPI_Type_free(&row);
        free(counts);
        return;
    }
#endif
    (void)comm, (void)rows, (void)row_bytes, (void)first;
}

void nr_comm_allgather_floats(const nr_comm *comm, const float *send, float *recv,
                              const int *counts, const int *displs)
{
#ifdef NETRUN_HAVE_MPI
    if (comm->mpi) {
        MPI_Allgatherv(send, counts[comm->rank], MPI_FLOAT, recv, counts, displs, MPI_FLOAT,
                       MPI_COMM_WORLD);
        return;
    }
#endif
    (void)comm;
    memcpy(recv + displs[0], send, (size_t)counts[0] * sizeof *send);
}

bool nr_comm_any(const nr_comm *comm, bool failed)
{
#ifdef NETRUN_HAVE_MPI
    if (comm->mpi) {
        int mine = failed ? 1 : 0, any = 0;
        MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
        return any != 0;
    }
#endif
    (void)comm;
    return failed;
}

void nr_comm_host(char *buf, size_t size)
{
    if (size == 0)
        return;
    if (gethostname(buf, size) != 0)
        snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}
