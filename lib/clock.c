/*
 * clock — see clock.h.
 */
#include "clock.h"

#define NS_PER_MS 1000000
#define NS_PER_S 1000000000

int64_t
clock_timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
}

int64_t
clock_timespec_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / NS_PER_MS;
}

int64_t
clock_now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return clock_timespec_ns(&ts);
}

int64_t
clock_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return clock_timespec_ms(&ts);
}

int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return clock_timespec_ms(&ts);
}

struct timeval
clock_ms_timeval(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	return tv;
}

struct timespec
clock_ms_timespec(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * NS_PER_MS };

	return ts;
}
