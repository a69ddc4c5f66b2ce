/* Unit tests of lib/rate on a fake clock: the 10-second window of events and the
 * token bucket (burst, refill, no limit). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "rate.h"

#define T0 1000000 /* ms: a server clock far from 0 */

static void
the_window_counts_the_last_ten_seconds(void **state)
{
	struct rate_window r = { 0 };
	(void)state;

	for (int s = 0; s < 10; s++)
		rate_window_add(&r, T0 + s * 1000, 7);
	assert_int_equal(rate_window_sum(&r, T0 + 9999), 70);
	assert_int_equal(rate_window_per_sec(&r, T0 + 9999), 7);
	/* One second on, the first second has left the window. */
	assert_int_equal(rate_window_sum(&r, T0 + 10000), 63);
	/* Reading does not move the window; adding later does. */
	rate_window_add(&r, T0 + 12500, 1);
	assert_int_equal(rate_window_sum(&r, T0 + 12500), 7 * 7 + 1);
	/* Long quiet: nothing left. */
	assert_int_equal(rate_window_sum(&r, T0 + 60000), 0);
	rate_window_add(&r, T0 + 60000, 3);
	assert_int_equal(rate_window_sum(&r, T0 + 60000), 3);
	assert_int_equal(rate_window_per_sec(&r, T0 + 60000), 0); /* rounded down */
}

static void
the_bucket_admits_a_burst_then_the_rate(void **state)
{
	struct token_bucket b = { 0 };
	int64_t now = T0;
	int ok = 0;
	(void)state;

	for (int i = 0; i < 10; i++)
		ok += token_bucket_take(&b, 5, 5, now);
	assert_int_equal(ok, 5); /* starts full: the burst */
	now += 199;
	assert_false(token_bucket_take(&b, 5, 5, now)); /* 0.995 of a token */
	now += 1;
	assert_true(token_bucket_take(&b, 5, 5, now));  /* one every 200 ms */
	assert_false(token_bucket_take(&b, 5, 5, now));
	/* An hour idle refills to the burst, not beyond. */
	now += 3600 * 1000;
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += token_bucket_take(&b, 5, 5, now);
	assert_int_equal(ok, 5);
}

static void
rate_zero_is_no_limit_and_a_rate_of_one_works(void **state)
{
	struct token_bucket b = { 0 };
	(void)state;

	for (int i = 0; i < 1000; i++)
		assert_true(token_bucket_take(&b, 0, 0, T0));
	b = (struct token_bucket){ 0 };
	assert_true(token_bucket_take(&b, 1, 1, T0));
	assert_false(token_bucket_take(&b, 1, 1, T0 + 999));
	assert_true(token_bucket_take(&b, 1, 1, T0 + 1000));
	/* A clock that steps back takes nothing and gives nothing. */
	assert_false(token_bucket_take(&b, 1, 1, T0 + 500));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_window_counts_the_last_ten_seconds),
		cmocka_unit_test(the_bucket_admits_a_burst_then_the_rate),
		cmocka_unit_test(rate_zero_is_no_limit_and_a_rate_of_one_works),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
