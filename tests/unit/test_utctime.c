/* Unit tests of lib/utctime: strict parsing, and the exact bytes of each output form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "utctime.h"

#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */

static void
utc_times_parse_strictly_and_format_back(void **state)
{
	const int64_t nine_am = 1704099600000LL; /* 2024-01-01T09:00:00Z */
	int64_t t = 0;
	char buf[UTC_TEXT_MAX];

	(void)state;
	assert_int_equal(utc_parse("2024-01-01 09:00", &t), 0);
	assert_int_equal(t, nine_am);
	assert_int_equal(utc_parse("2024-01-01T09:00:00Z", &t), 0);
	assert_int_equal(t, nine_am);
	assert_int_equal(utc_parse("2024-01-01T09:00:00.250Z", &t), 0);
	assert_int_equal(t, nine_am + 250);
	assert_int_equal(utc_parse("2024-01-01", &t), 0);
	assert_int_equal(t, nine_am - 9 * 3600000LL);
	t = 42;
	assert_int_equal(utc_parse("2024-02-30", &t), -1);
	assert_int_equal(utc_parse("2024-01-01 9:00", &t), -1);
	assert_int_equal(utc_parse("2024-01-01 09:00 ", &t), -1);
	assert_int_equal(utc_parse("1969-12-31", &t), -1);
	assert_int_equal(utc_parse("2024-01-01 24:00", &t), -1);
	assert_int_equal(utc_parse("", &t), -1);
	assert_int_equal(utc_parse(NULL, &t), -1);
	assert_int_equal(t, 42);
	utc_format(nine_am, buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T09:00:00Z");
	utc_format(nine_am + 5, buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T09:00:00.005Z");
	utc_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	utc_format(-1, buf, sizeof(buf));
	assert_string_equal(buf, "-");
}

static void
format_ms_always_has_three_digits_of_milliseconds(void **state)
{
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
		{ T0 + 123, "2023-11-14T22:13:20.123Z" },
		{ T0, "2023-11-14T22:13:20.000Z" },
		{ 1000, "1970-01-01T00:00:01.000Z" },
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ -1000, "1969-12-31T23:59:59.000Z" },
		{ 951782400000LL, "2000-02-29T00:00:00.000Z" },
	};
	char buf[UTC_TEXT_MAX];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		utc_format_ms(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

static void
format_date_is_the_utc_day(void **state)
{
	char buf[UTC_TEXT_MAX];
	(void)state;

	utc_format_date(T0, buf, sizeof(buf));
	assert_string_equal(buf, "2023-11-14");
	utc_format_date(T0 + (86400000LL - 22 * 3600000LL - 13 * 60000LL - 20001), buf,
	    sizeof(buf));
	assert_string_equal(buf, "2023-11-14"); /* 23:59:59.999 */
	utc_format_date(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31");
}

/* A buffer too small for the text gets "?" (or nothing at all for 0 bytes), never a
 * cut date that reads as another instant. */
static void
too_small_a_buffer_gets_a_question_mark(void **state)
{
	char buf[UTC_TEXT_MAX];
	(void)state;

	utc_format_ms(T0, buf, 10);
	assert_string_equal(buf, "?");
	utc_format_date(T0, buf, 10);
	assert_string_equal(buf, "?");
	memcpy(buf, "x", 2);
	utc_format_ms(T0, buf, 0);
	utc_format_date(T0, buf, 0);
	assert_string_equal(buf, "x");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(utc_times_parse_strictly_and_format_back),
		cmocka_unit_test(format_ms_always_has_three_digits_of_milliseconds),
		cmocka_unit_test(format_date_is_the_utc_day),
		cmocka_unit_test(too_small_a_buffer_gets_a_question_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
