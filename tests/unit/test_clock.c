/* Unit tests of lib/clock's conversions (the clocks themselves are the kernel's). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"

static void
timespecs_convert_by_truncating(void **state)
{
	struct timespec ts = { 12, 345678901 };
	(void)state;

	assert_true(clock_timespec_ns(&ts) == 12345678901LL);
	assert_true(clock_timespec_ms(&ts) == 12345);
	ts.tv_nsec = 999999;
	assert_true(clock_timespec_ms(&ts) == 12000);
	/* far past 2^31 seconds: no 32-bit overflow */
	ts.tv_sec = 4000000000;
	ts.tv_nsec = 1000000;
	assert_true(clock_timespec_ms(&ts) == 4000000000001LL);
}

static void
milliseconds_become_a_timeval(void **state)
{
	struct timeval tv;
	(void)state;

	tv = clock_ms_timeval(0);
	assert_true(tv.tv_sec == 0 && tv.tv_usec == 0);
	tv = clock_ms_timeval(1999);
	assert_true(tv.tv_sec == 1 && tv.tv_usec == 999000);
	tv = clock_ms_timeval(3600 * 1000);
	assert_true(tv.tv_sec == 3600 && tv.tv_usec == 0);
}

static void
milliseconds_become_a_timespec(void **state)
{
	struct timespec ts;
	(void)state;

	ts = clock_ms_timespec(0);
	assert_true(ts.tv_sec == 0 && ts.tv_nsec == 0);
	ts = clock_ms_timespec(1999);
	assert_true(ts.tv_sec == 1 && ts.tv_nsec == 999000000);
	/* an instant on the wall clock, far past 2^31 seconds */
	ts = clock_ms_timespec(4000000000123LL);
	assert_true(ts.tv_sec == 4000000000 && ts.tv_nsec == 123000000);
}

static void
the_clocks_agree_with_their_units(void **state)
{
	int64_t ms = clock_monotonic_ms(), ns = clock_now_ns(CLOCK_MONOTONIC);
	int64_t wall = clock_wall_ms();
	(void)state;

	/* the monotonic clock does not go back; the wall clock is after 2020 */
	assert_true(ns / 1000000 >= ms);
	assert_true(clock_monotonic_ms() >= ms);
	assert_true(wall > 1577836800000LL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timespecs_convert_by_truncating),
		cmocka_unit_test(milliseconds_become_a_timeval),
		cmocka_unit_test(milliseconds_become_a_timespec),
		cmocka_unit_test(the_clocks_agree_with_their_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
