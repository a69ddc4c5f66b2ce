/*
 * clock — the system clocks in the units mcops counts in, and the conversions between
 * those units and the kernel's structs.
 *
 * Two clocks, two uses. The monotonic clock (CLOCK_MONOTONIC) times intervals and
 * deadlines: it never jumps when the wall clock is set. The wall clock
 * (CLOCK_REALTIME) stamps what is stored or shown: the incident log keeps UTC
 * milliseconds since the Unix epoch (DESIGN.md). Code that must be testable takes
 * `now` as an argument and calls these only at its edge.
 *
 * Conversions truncate toward zero (a timespec of 1.9999 ms is 1 ms), as the copies
 * they replace did. Nothing here fails: clock_gettime() cannot fail for these clock
 * ids on Linux.
 */
#ifndef MCOPS_CLOCK_H
#define MCOPS_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* A timespec (of either clock) as nanoseconds, and as milliseconds. */
int64_t clock_timespec_ns(const struct timespec *ts);
int64_t clock_timespec_ms(const struct timespec *ts);

/* Clock id's current time in nanoseconds (its own epoch: boot for MONOTONIC). */
int64_t clock_now_ns(clockid_t id);
/* Milliseconds on the monotonic clock: for intervals and deadlines only. */
int64_t clock_monotonic_ms(void);
/* Milliseconds since the Unix epoch (UTC) on the wall clock: for stamps. */
int64_t clock_wall_ms(void);

/* A non-negative duration in milliseconds as the struct timeval that libevent and
 * setsockopt(SO_RCVTIMEO) take. */
struct timeval clock_ms_timeval(int64_t ms);
/* A non-negative duration, or an instant of a clock, in milliseconds as the struct
 * timespec that nanosleep(), sigtimedwait() and pthread_cond_timedwait() take. */
struct timespec clock_ms_timespec(int64_t ms);

#endif
