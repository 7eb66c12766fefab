/* clock.c - monotonic and thread CPU clocks (see netrun/clock.h). */
#include "netrun/clock.h"

#include <time.h>

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double nr_monotonic_seconds(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

double nr_thread_cpu_seconds(void)
{
    return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}
