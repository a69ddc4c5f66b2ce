/* Unit tests of lib/histogram: fine buckets, exact bounds, percentiles, merging, the
 * exporter's bounds and the sliding window. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "histogram.h"

/* Histograms are 18 KiB each: the tests keep theirs off the stack. */
static struct histogram *
new_histogram(const uint64_t *bounds, size_t nbounds)
{
	struct histogram *h = malloc(sizeof(*h));
	char err[128];

	assert_non_null(h);
	assert_int_equal(histogram_init(h, bounds, nbounds, err, sizeof(err)), 0);
	return h;
}

static void
fine_buckets_hold_two_significant_digits(void **state)
{
	uint64_t v;
	size_t previous = 0;
	(void)state;

	/* Every value lies in its bucket, buckets never get wider than 1/128 of their
	 * values, and the index never goes down as values grow. */
	for (v = 0; v <= HISTOGRAM_MAX_US; v += v < 4096 ? 1 : v / 97) {
		size_t i = histogram_fine_index(v);
		uint64_t lo = histogram_fine_lowest(i), hi = histogram_fine_highest(i);
		assert_true(lo <= v && v <= hi);
		assert_true(i < HISTOGRAM_FINE_MAX);
		assert_true(i >= previous);
		if (v >= 256)
			assert_true((hi - lo + 1) * 128 <= lo);
		previous = i;
	}
	assert_int_equal(histogram_fine_index(HISTOGRAM_MAX_US), HISTOGRAM_FINE_MAX - 1);
	assert_int_equal(histogram_fine_highest(HISTOGRAM_FINE_MAX - 1), HISTOGRAM_MAX_US);
	/* 10 s is inside the range, with under 1% error. */
	v = 10 * 1000 * 1000;
	assert_true(histogram_fine_highest(histogram_fine_index(v)) - v < v / 100);
}

static void
value_above_the_range_is_counted_in_the_top_bucket(void **state)
{
	struct histogram *h = new_histogram(NULL, 0);
	(void)state;

	histogram_record(h, 60ULL * 1000 * 1000); /* a one-minute request */
	histogram_record(h, UINT64_MAX);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->saturated, 2);
	assert_int_equal(h->fine[HISTOGRAM_FINE_MAX - 1], 2);
	/* Still slower than any threshold, and the sum saturates instead of wrapping. */
	assert_int_equal(histogram_count_above(h, 5000), 2);
	assert_int_equal(histogram_count_above(h, HISTOGRAM_MAX_US), 2);
	assert_true(h->sum_us == UINT64_MAX);
	free(h);
}

static void
percentiles_of_a_uniform_spread_are_within_one_percent(void **state)
{
	struct histogram *h = new_histogram(NULL, 0);
	uint64_t v;
	(void)state;

	for (v = 1; v <= 10000; v++)
		histogram_record(h, v);
	v = histogram_percentile(h, 50);
	assert_true(v >= 5000 && v <= 5050);
	v = histogram_percentile(h, 90);
	assert_true(v >= 9000 && v <= 9090);
	v = histogram_percentile(h, 99);
	assert_true(v >= 9900 && v <= 9990);
	assert_int_equal(histogram_percentile(h, 0), 1);
	assert_int_equal(histogram_percentile(h, 100), histogram_max(h));
	assert_true(histogram_max(h) >= 10000 && histogram_max(h) < 10100);
	assert_int_equal(histogram_min(h), 1);
	assert_true(histogram_mean(h) == 5000.5);
	free(h);
}

static void
bimodal_latency_percentiles_cannot_tell_two_from_twenty_percent(void **state)
{
	struct histogram *two = new_histogram(NULL, 0), *twenty = new_histogram(NULL, 0);
	int i;
	(void)state;

	/* Why detection uses a fraction: p99 reads "slow" for both. */
	for (i = 0; i < 1000; i++) {
		histogram_record(two, i < 20 ? 10000 : 300);
		histogram_record(twenty, i < 200 ? 10000 : 300);
	}
	assert_true(histogram_percentile(two, 99) >= 10000);
	assert_true(histogram_percentile(twenty, 99) >= 10000);
	assert_true(histogram_percentile(two, 50) < 310);
	assert_true(histogram_percentile(twenty, 50) < 310);
	assert_true(histogram_fraction_above(two, 5000) == 0.02);
	assert_true(histogram_fraction_above(twenty, 5000) == 0.2);
	free(two);
	free(twenty);
}

static void
empty_histogram_answers_zero_never_nan(void **state)
{
	struct histogram *h = new_histogram(NULL, 0);
	(void)state;

	assert_int_equal(histogram_percentile(h, 50), 0);
	assert_int_equal(histogram_percentile(h, NAN), 0);
	assert_int_equal(histogram_min(h), 0);
	assert_int_equal(histogram_max(h), 0);
	assert_true(histogram_mean(h) == 0.0);
	assert_true(histogram_fraction_above(h, 5000) == 0.0);
	assert_int_equal(histogram_count_above(h, 0), 0);
	/* Out-of-range percentiles clamp. */
	histogram_record(h, 42);
	assert_int_equal(histogram_percentile(h, -5), 42);
	assert_int_equal(histogram_percentile(h, NAN), 42);
	assert_int_equal(histogram_percentile(h, 1e9), 42);
	free(h);
}

static void
declared_bound_makes_the_threshold_exact(void **state)
{
	uint64_t bound = 5000;
	struct histogram *exact = new_histogram(&bound, 1), *plain = new_histogram(NULL, 0);
	uint64_t v, above = 0;
	(void)state;

	/* 5 ms is not a fine-bucket edge: 4992..5023 share a bucket. */
	assert_false(histogram_fine_exact(5000));
	assert_true(histogram_has_bound(exact, 5000));
	assert_false(histogram_has_bound(plain, 5000));
	for (v = 4980; v <= 5030; v++) {
		histogram_record(exact, v);
		histogram_record(plain, v);
		above += v > 5000;
	}
	assert_int_equal(histogram_count_above(exact, 5000), above);
	assert_int_equal(histogram_count_at_most(exact, 5000), 51 - above);
	/* Without the bound: short by at most the straddling bucket (counted as not
	 * slower), so the fine answer is never above the truth. */
	v = histogram_count_at_most(plain, 5000);
	assert_true(v <= 51 - above);
	assert_true(51 - above - v <= 32);
	free(exact);
	free(plain);
}

static void
fine_edge_threshold_is_exact_without_a_bound(void **state)
{
	uint64_t edge = histogram_fine_highest(histogram_fine_index(5000)); /* 5023 */
	struct histogram *with = new_histogram(&edge, 1), *without = new_histogram(NULL, 0);
	uint64_t v;
	unsigned seed = 7;
	(void)state;

	assert_true(histogram_fine_exact(edge));
	assert_false(histogram_fine_exact(edge + 1));
	assert_true(histogram_fine_exact(100)); /* every value below 256 */
	for (v = 0; v < 20000; v++) {
		uint64_t x = (uint64_t)rand_r(&seed) % 20000;
		histogram_record(with, x);
		histogram_record(without, x);
	}
	assert_int_equal(histogram_count_at_most(without, edge),
	    histogram_count_at_most(with, edge));
	assert_int_equal(histogram_count_above(without, edge), histogram_count_above(with, edge));
	free(with);
	free(without);
}

static void
exported_buckets_are_cumulative_and_end_at_the_count(void **state)
{
	uint64_t thresholds[] = { 5000, 2000, 5000 }, bounds[HISTOGRAM_BOUNDS_MAX];
	size_t n = 0, i;
	struct histogram *h;
	char err[128];
	unsigned seed = 3;
	uint64_t previous = 0;
	(void)state;

	assert_int_equal(histogram_export_bounds(thresholds, 3, bounds, HISTOGRAM_BOUNDS_MAX, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 17); /* 16 ladder values + 2 ms; 5 ms was already there */
	for (i = 1; i < n; i++)
		assert_true(bounds[i] > bounds[i - 1]);
	h = new_histogram(bounds, n);
	assert_true(histogram_has_bound(h, 2000));
	assert_true(histogram_has_bound(h, 5000));
	for (i = 0; i < 5000; i++)
		histogram_record(h, (uint64_t)rand_r(&seed) % 20000000);
	for (i = 0; i < n; i++) {
		uint64_t c = histogram_count_at_most(h, bounds[i]);
		assert_true(c >= previous);
		previous = c;
	}
	assert_true(previous <= h->count);
	assert_int_equal(histogram_count_at_most(h, UINT64_MAX), h->count - h->saturated);
	free(h);
}

static void
export_bounds_refuse_zero_and_overflow(void **state)
{
	uint64_t zero = 0, many[HISTOGRAM_BOUNDS_MAX], out[HISTOGRAM_BOUNDS_MAX];
	size_t n = 0, i;
	char err[128];
	(void)state;

	assert_int_equal(histogram_export_bounds(&zero, 1, out, HISTOGRAM_BOUNDS_MAX, &n, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "0 us"));
	for (i = 0; i < HISTOGRAM_BOUNDS_MAX; i++)
		many[i] = 1 + i * 7;
	assert_int_equal(histogram_export_bounds(many, HISTOGRAM_BOUNDS_MAX, out,
	    HISTOGRAM_BOUNDS_MAX, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 32"));
	/* A small output array is respected too. */
	assert_int_equal(histogram_export_bounds(NULL, 0, out, 4, &n, err, sizeof(err)), -1);
}

static void
init_refuses_unsorted_or_too_many_bounds(void **state)
{
	uint64_t unsorted[] = { 100, 100 }, many[HISTOGRAM_BOUNDS_MAX + 1];
	struct histogram *h = new_histogram(NULL, 0);
	char err[128];
	size_t i;
	(void)state;

	histogram_record(h, 7);
	assert_int_equal(histogram_init(h, unsorted, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "strictly increasing"));
	assert_int_equal(h->count, 1); /* untouched */
	for (i = 0; i <= HISTOGRAM_BOUNDS_MAX; i++)
		many[i] = i + 1;
	assert_int_equal(histogram_init(h, many, HISTOGRAM_BOUNDS_MAX + 1, err, sizeof(err)), -1);
	assert_int_equal(h->count, 1);
	free(h);
}

static void
merge_equals_recording_everything_in_one(void **state)
{
	uint64_t bound = 5000;
	struct histogram *a = new_histogram(&bound, 1), *b = new_histogram(&bound, 1);
	struct histogram *all = new_histogram(&bound, 1);
	char err[128];
	unsigned seed = 11;
	int i;
	(void)state;

	for (i = 0; i < 3000; i++) {
		uint64_t v = (uint64_t)rand_r(&seed) % 50000;
		histogram_record(i % 3 ? a : b, v);
		histogram_record(all, v);
	}
	assert_int_equal(histogram_merge(a, b, err, sizeof(err)), 0);
	assert_memory_equal(a->fine, all->fine, sizeof(a->fine));
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->sum_us, all->sum_us);
	assert_int_equal(histogram_count_above(a, 5000), histogram_count_above(all, 5000));
	assert_int_equal(histogram_percentile(a, 99), histogram_percentile(all, 99));
	free(a);
	free(b);
	free(all);
}

static void
merge_refuses_other_bounds_and_leaves_dst_alone(void **state)
{
	uint64_t b1 = 5000, b2 = 2000;
	struct histogram *a = new_histogram(&b1, 1), *b = new_histogram(&b2, 1);
	char err[128];
	(void)state;

	histogram_record(a, 1);
	histogram_record(b, 2);
	assert_int_equal(histogram_merge(a, b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "different bounds"));
	assert_int_equal(a->count, 1);
	assert_int_equal(a->fine[2], 0);
	free(a);
	free(b);
}

static void
reset_empties_counts_and_keeps_bounds(void **state)
{
	uint64_t bound = 5000;
	struct histogram *h = new_histogram(&bound, 1);
	(void)state;

	histogram_record_n(h, 9000, 5);
	histogram_record_n(h, 9000, 0); /* counts nothing */
	assert_int_equal(h->count, 5);
	assert_int_equal(histogram_count_above(h, 5000), 5);
	histogram_reset(h);
	assert_int_equal(h->count, 0);
	assert_int_equal(h->sum_us, 0);
	assert_int_equal(histogram_count_above(h, 5000), 0);
	assert_true(histogram_has_bound(h, 5000));
	free(h);
}

/* --- the window ---------------------------------------------------------------- */

static void
window_counts_only_the_last_span(void **state)
{
	struct histogram_window w;
	uint64_t bound = 5000, total, above;
	char err[128];
	int64_t t;
	(void)state;

	assert_int_equal(histogram_window_init(&w, 1000, 20, &bound, 1, err, sizeof(err)), 0);
	/* One probe every 100 ms for 30 s; slow during [10 s, 15 s). */
	for (t = 0; t < 30000; t += 100)
		histogram_window_record(&w, t, t >= 10000 && t < 15000 ? 9000 : 300);
	/* At 29.9 s: a 10 s span is slots 20..29 (all fast). */
	histogram_window_count(&w, 29900, 10000, 5000, &total, &above);
	assert_int_equal(total, 100);
	assert_int_equal(above, 0);
	/* A 20 s span is slots 10..29: the 50 slow probes, out of 200. */
	histogram_window_count(&w, 29900, 20000, 5000, &total, &above);
	assert_int_equal(total, 200);
	assert_int_equal(above, 50);
	/* Spans beyond the ring are the ring; a span shorter than a slot is one slot. */
	histogram_window_count(&w, 29900, 3600000, 5000, &total, &above);
	assert_int_equal(total, 200);
	histogram_window_count(&w, 29900, 1, 5000, &total, &above);
	assert_int_equal(total, 10);
	/* Later, with nothing recorded, the slow slots have left. */
	histogram_window_count(&w, 36000, 20000, 5000, &total, &above);
	assert_int_equal(total, 130); /* slots 17..29 */
	assert_int_equal(above, 0);
	histogram_window_release(&w);
}

static void
window_sum_matches_its_counts(void **state)
{
	struct histogram_window w;
	uint64_t bound = 5000, total, above;
	struct histogram *sum = new_histogram(&bound, 1), *other = new_histogram(NULL, 0);
	char err[128];
	unsigned seed = 5;
	int64_t t;
	(void)state;

	assert_int_equal(histogram_window_init(&w, 500, 8, &bound, 1, err, sizeof(err)), 0);
	for (t = 0; t < 10000; t += 37)
		histogram_window_record(&w, t, (uint64_t)rand_r(&seed) % 12000);
	assert_int_equal(histogram_window_sum(&w, 10000, 3000, sum, err, sizeof(err)), 0);
	histogram_window_count(&w, 10000, 3000, 5000, &total, &above);
	assert_int_equal(sum->count, total);
	assert_int_equal(histogram_count_above(sum, 5000), above);
	assert_true(total > 0 && above > 0);
	/* Abuse: a sum into a histogram of other bounds is refused. */
	assert_int_equal(histogram_window_sum(&w, 10000, 3000, other, err, sizeof(err)), -1);
	histogram_window_release(&w);
	free(sum);
	free(other);
}

static void
window_survives_time_going_back_and_long_jumps(void **state)
{
	struct histogram_window w;
	uint64_t total, above;
	char err[128];
	(void)state;

	assert_int_equal(histogram_window_init(&w, 1000, 10, NULL, 0, err, sizeof(err)), 0);
	histogram_window_record(&w, 50000, 100);
	/* An earlier time counts in the latest slot rather than rewriting history. */
	histogram_window_record(&w, 20000, 200);
	histogram_window_count(&w, 50000, 1000, 150, &total, &above);
	assert_int_equal(total, 2);
	assert_int_equal(above, 1);
	/* A jump far ahead leaves an empty window, and a reused slot starts empty. */
	histogram_window_count(&w, 50000 + 86400000, 10000, 0, &total, &above);
	assert_int_equal(total, 0);
	histogram_window_record(&w, 60000 + 86400000, 300);
	histogram_window_count(&w, 60000 + 86400000, 10000, 0, &total, &above);
	assert_int_equal(total, 1);
	/* Negative times (a fake clock) work the same. */
	histogram_window_reset(&w);
	histogram_window_record(&w, -1500, 10);
	histogram_window_record(&w, -500, 10);
	histogram_window_count(&w, -1, 1000, 0, &total, &above);
	assert_int_equal(total, 1);
	histogram_window_count(&w, -1, 2000, 0, &total, &above);
	assert_int_equal(total, 2);
	histogram_window_release(&w);
}

static void
window_init_refuses_bad_shapes(void **state)
{
	struct histogram_window w;
	uint64_t unsorted[] = { 9, 3 };
	char err[128];
	(void)state;

	assert_int_equal(histogram_window_init(&w, 0, 10, NULL, 0, err, sizeof(err)), -1);
	assert_null(w.slots);
	assert_int_equal(histogram_window_init(&w, 1000, 0, NULL, 0, err, sizeof(err)), -1);
	assert_int_equal(histogram_window_init(&w, 1000, HISTOGRAM_WINDOW_SLOTS_MAX + 1, NULL, 0,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "slots"));
	assert_int_equal(histogram_window_init(&w, 1000, 10, unsorted, 2, err, sizeof(err)), -1);
	assert_null(w.slots);
	histogram_window_release(&w); /* safe on a failed init */
}

/* The in-use range of fine[] is an optimisation only: every answer equals a scan of
 * all buckets, through records, merges and resets, at the edges of the range too. */
static void
the_in_use_range_never_changes_an_answer(void **state)
{
	static const uint64_t probes[] = { 0, 1, 255, 256, 5000, 5001, 15000, HISTOGRAM_MAX_US,
		HISTOGRAM_MAX_US + 10 };
	struct histogram *a = new_histogram(NULL, 0), *b = new_histogram(NULL, 0);
	uint64_t seed = 7, n, brute;
	char err[128];
	size_t i, j;
	int round;

	(void)state;
	for (round = 0; round < 50; round++) {
		histogram_reset(a);
		histogram_reset(b);
		for (i = 0; i < 200; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			histogram_record(i % 2 ? a : b, (seed >> 33) % (round % 5 == 4 ?
			    HISTOGRAM_MAX_US * 2 : 20000));
		}
		assert_int_equal(histogram_merge(a, b, err, sizeof(err)), 0);
		for (j = 0; j < HISTOGRAM_FINE_MAX; j++)
			if (a->fine[j] != 0)
				assert_true(j >= a->fine_lo && j < a->fine_hi);
		for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			size_t last = histogram_fine_index(probes[i]);
			bool whole = histogram_fine_highest(last) == probes[i];

			if (probes[i] >= HISTOGRAM_MAX_US)
				continue; /* answered from the saturation count, not the buckets */
			brute = 0;
			for (j = 0; j < last + (whole ? 1 : 0); j++)
				brute += a->fine[j];
			assert_int_equal(histogram_count_at_most(a, probes[i]), brute);
		}
		n = 0;
		for (j = 0; j < HISTOGRAM_FINE_MAX; j++)
			n += a->fine[j];
		assert_int_equal(n, a->count);
		assert_true(histogram_min(a) <= histogram_percentile(a, 50));
		assert_true(histogram_percentile(a, 50) <= histogram_max(a));
	}
	/* Reset empties the whole range: nothing is left behind outside it. */
	histogram_reset(a);
	for (j = 0; j < HISTOGRAM_FINE_MAX; j++)
		assert_int_equal(a->fine[j], 0);
	assert_int_equal(histogram_percentile(a, 99), 0);
	assert_int_equal(histogram_max(a), 0);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fine_buckets_hold_two_significant_digits),
		cmocka_unit_test(value_above_the_range_is_counted_in_the_top_bucket),
		cmocka_unit_test(percentiles_of_a_uniform_spread_are_within_one_percent),
		cmocka_unit_test(bimodal_latency_percentiles_cannot_tell_two_from_twenty_percent),
		cmocka_unit_test(empty_histogram_answers_zero_never_nan),
		cmocka_unit_test(declared_bound_makes_the_threshold_exact),
		cmocka_unit_test(fine_edge_threshold_is_exact_without_a_bound),
		cmocka_unit_test(exported_buckets_are_cumulative_and_end_at_the_count),
		cmocka_unit_test(export_bounds_refuse_zero_and_overflow),
		cmocka_unit_test(init_refuses_unsorted_or_too_many_bounds),
		cmocka_unit_test(merge_equals_recording_everything_in_one),
		cmocka_unit_test(merge_refuses_other_bounds_and_leaves_dst_alone),
		cmocka_unit_test(reset_empties_counts_and_keeps_bounds),
		cmocka_unit_test(window_counts_only_the_last_span),
		cmocka_unit_test(window_sum_matches_its_counts),
		cmocka_unit_test(window_survives_time_going_back_and_long_jumps),
		cmocka_unit_test(window_init_refuses_bad_shapes),
		cmocka_unit_test(the_in_use_range_never_changes_an_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
