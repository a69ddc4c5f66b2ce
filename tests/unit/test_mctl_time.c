/* Unit tests of the times mctl prints and reads (cli/logdb.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "cli/mctl.h"

/* mctl_error lives in cli/main.c, which is not in the archive; the functions under
 * test do not call it, but the object that holds them refers to it. */
void
mctl_error(const char *fmt, ...)
{
	(void)fmt;
}

static void
times_print_in_utc_with_milliseconds(void **state)
{
	char buf[MCTL_TIME_MAX];
	(void)state;

	mctl_format_time(1700000000123, buf, sizeof(buf));
	assert_string_equal(buf, "2023-11-14T22:13:20.123Z");
	mctl_format_time(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:01.000Z");
	mctl_format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "-");
}

static void
durations_count_back_from_now(void **state)
{
	int64_t now = 1700000000000, t;
	(void)state;

	assert_int_equal(mctl_parse_time("90d", now, &t), 0);
	assert_int_equal(t, now - 90LL * 86400000);
	assert_int_equal(mctl_parse_time("1h30m", now, &t), 0);
	assert_int_equal(t, now - 5400000);
	assert_int_equal(mctl_parse_time("0s", now, &t), 0);
	assert_int_equal(t, now);
}

static void
dates_and_times_read_as_utc(void **state)
{
	static const struct {
		const char *in;
		int64_t ms; /* -1: refused */
	} cases[] = {
		{ "2023-11-14", 1699920000000 },
		{ "2023-11-14T22:13", 1700000000000 - 20000 },
		{ "2023-11-14 22:13:20", 1700000000000 },
		{ "2023-11-14T22:13:20.123Z", 1700000000123 },
		{ "2024-02-29", 1709164800000 },
		{ "2023-02-29", -1 },  /* no such day */
		{ "2023-11-31", -1 },
		{ "2023-13-01", -1 },
		{ "2023-11-14T24:00", -1 },
		{ "2023-11-14T22", -1 },
		{ "2023-11-14Z1", -1 },
		{ "1969-12-31", -1 },
		{ "yesterday", -1 },
		{ "", -1 },
		{ "-5d", -1 },
	};
	int64_t t;
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mctl_parse_time(cases[i].in, 1700000000000, &t);
		if (cases[i].ms < 0) {
			if (rc != -1)
				fail_msg("'%s' was accepted as %lld", cases[i].in, (long long)t);
		} else {
			if (rc != 0)
				fail_msg("'%s' was refused", cases[i].in);
			assert_int_equal(t, cases[i].ms);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(times_print_in_utc_with_milliseconds),
		cmocka_unit_test(durations_count_back_from_now),
		cmocka_unit_test(dates_and_times_read_as_utc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
