/* Unit tests of lib/parse: checked numbers, sizes, durations, booleans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "parse.h"

static void
u64_accepts_whole_decimal_in_range(void **state)
{
	uint64_t v = 7;
	(void)state;
	assert_int_equal(parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void
u64_rejects_garbage_sign_space_overflow_and_range(void **state)
{
	uint64_t v = 7;
	const char *bad[] = { "", " 1", "1 ", "-1", "+1", "1x", "0x10", "18446744073709551616",
		"99999999999999999999999" };
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_u64(bad[i], 0, UINT64_MAX, &v), -1);
	assert_int_equal(parse_u64("11", 0, 10, &v), -1);
	assert_int_equal(parse_u64("1", 2, 10, &v), -1);
	assert_int_equal(v, 7); /* untouched on failure */
}

static void
i64_handles_negative_and_limits(void **state)
{
	int64_t v;
	(void)state;
	assert_int_equal(parse_i64("-5", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
	assert_int_equal(parse_i64("-", INT64_MIN, INT64_MAX, &v), -1);
	assert_int_equal(parse_i64("--1", INT64_MIN, INT64_MAX, &v), -1);
}

static void
size_understands_suffixes(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(parse_size("64M", &v), 0);
	assert_true(v == 64ULL << 20);
	assert_int_equal(parse_size("512k", &v), 0);
	assert_true(v == 512ULL << 10);
	assert_int_equal(parse_size("1GiB", &v), 0);
	assert_true(v == 1ULL << 30);
	assert_int_equal(parse_size("1048576", &v), 0);
	assert_true(v == 1048576);
	assert_int_equal(parse_size("10B", &v), 0);
	assert_true(v == 10);
	assert_int_equal(parse_size("M", &v), -1);
	assert_int_equal(parse_size("1X", &v), -1);
	assert_int_equal(parse_size("1MM", &v), -1);
	assert_int_equal(parse_size("99999999999999T", &v), -1);
}

static void
duration_understands_units_and_compounds(void **state)
{
	int64_t v;
	(void)state;
	assert_int_equal(parse_duration_ms("250ms", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(parse_duration_ms("5", &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(parse_duration_ms("90d", &v), 0);
	assert_true(v == 90LL * 86400 * 1000);
	assert_int_equal(parse_duration_ms("1h30m", &v), 0);
	assert_int_equal(v, 5400000);
	assert_int_equal(parse_duration_ms("", &v), -1);
	assert_int_equal(parse_duration_ms("5x", &v), -1);
	assert_int_equal(parse_duration_ms("1h30", &v), -1);
	assert_int_equal(parse_duration_ms("-5s", &v), -1);
}

static void
bool_words(void **state)
{
	bool b;
	(void)state;
	assert_int_equal(parse_bool("Yes", &b), 0);
	assert_true(b);
	assert_int_equal(parse_bool("off", &b), 0);
	assert_false(b);
	assert_int_equal(parse_bool("maybe", &b), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(u64_accepts_whole_decimal_in_range),
		cmocka_unit_test(u64_rejects_garbage_sign_space_overflow_and_range),
		cmocka_unit_test(i64_handles_negative_and_limits),
		cmocka_unit_test(size_understands_suffixes),
		cmocka_unit_test(duration_understands_units_and_compounds),
		cmocka_unit_test(bool_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
