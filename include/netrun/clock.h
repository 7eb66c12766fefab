/* netrun/clock.h - the clocks netrun measures time with.
 *
 * Both read clock_gettime() and give seconds as a double (nanosecond
 * resolution); they never fail on Linux. Only differences of two readings
 * mean anything: the zero of either clock is arbitrary. No state.
 */
#ifndef NETRUN_CLOCK_H
#define NETRUN_CLOCK_H

/* Wall time on CLOCK_MONOTONIC (not changed by setting the date): for
 * durations, timeouts and the start of a command. */
double nr_monotonic_seconds(void);

/* CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): with
 * nr_monotonic_seconds, how much of a span the thread was running. */
double nr_thread_cpu_seconds(void);

#endif
