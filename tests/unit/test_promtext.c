/*
 * Unit tests of monitor/promtext: the exposition writer produces the exact text of
 * the format, escapes what must be escaped, and refuses every page that would break
 * a rule (interleaved families, bad names, non-cumulative histograms, the size cap).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/promtext.h"

static void
counter_and_gauge_families_print_exactly(void **state)
{
	struct promtext w;
	struct promtext_label l[2] = { { "cluster", "c1" }, { "node", "n1" } };

	(void)state;
	promtext_init(&w);
	assert_int_equal(promtext_family(&w, "memcached_connections_total", PROMTEXT_COUNTER,
	    "Connections accepted."), 0);
	assert_int_equal(promtext_sample_u64(&w, l, 2, 18446744073709551615ULL), 0);
	assert_int_equal(promtext_family(&w, "memcached_probe_slow_ratio", PROMTEXT_GAUGE,
	    "Fraction."), 0);
	assert_int_equal(promtext_sample(&w, l, 2, 0.125), 0);
	assert_int_equal(promtext_sample(&w, NULL, 0, 3), 0);
	assert_int_equal(promtext_sample(&w, NULL, 0, NAN), 0);
	assert_int_equal(promtext_sample(&w, NULL, 0, -INFINITY), 0);
	assert_false(w.failed);
	assert_string_equal(w.buf,
	    "# HELP memcached_connections_total Connections accepted.\n"
	    "# TYPE memcached_connections_total counter\n"
	    "memcached_connections_total{cluster=\"c1\",node=\"n1\"} 18446744073709551615\n"
	    "# HELP memcached_probe_slow_ratio Fraction.\n"
	    "# TYPE memcached_probe_slow_ratio gauge\n"
	    "memcached_probe_slow_ratio{cluster=\"c1\",node=\"n1\"} 0.125\n"
	    "memcached_probe_slow_ratio 3\n"
	    "memcached_probe_slow_ratio NaN\n"
	    "memcached_probe_slow_ratio -Inf\n");
	assert_int_equal(w.len, strlen(w.buf));
	promtext_release(&w);
}

static void
label_values_and_help_are_escaped(void **state)
{
	struct promtext w;
	struct promtext_label l[1] = { { "node", "a\\b\"c\nd" } };

	(void)state;
	promtext_init(&w);
	promtext_family(&w, "x", PROMTEXT_GAUGE, "back\\slash \"quoted\"\nnext");
	promtext_sample_u64(&w, l, 1, 1);
	assert_false(w.failed);
	assert_string_equal(w.buf,
	    "# HELP x back\\\\slash \"quoted\"\\nnext\n"
	    "# TYPE x gauge\n"
	    "x{node=\"a\\\\b\\\"c\\nd\"} 1\n");
	promtext_release(&w);
}

static void
histogram_prints_cumulative_buckets_ending_in_inf(void **state)
{
	struct promtext w;
	struct promtext_label l[1] = { { "node", "n1" } };
	uint64_t bounds[3] = { 100, 5000, 2500000 };
	uint64_t cum[3] = { 1, 9, 10 };

	(void)state;
	promtext_init(&w);
	promtext_family(&w, "lat_seconds", PROMTEXT_HISTOGRAM, "Latency.");
	assert_int_equal(promtext_histogram_us(&w, l, 1, bounds, cum, 3, 12, 0.75), 0);
	assert_string_equal(w.buf,
	    "# HELP lat_seconds Latency.\n"
	    "# TYPE lat_seconds histogram\n"
	    "lat_seconds_bucket{node=\"n1\",le=\"0.0001\"} 1\n"
	    "lat_seconds_bucket{node=\"n1\",le=\"0.005\"} 9\n"
	    "lat_seconds_bucket{node=\"n1\",le=\"2.5\"} 10\n"
	    "lat_seconds_bucket{node=\"n1\",le=\"+Inf\"} 12\n"
	    "lat_seconds_sum{node=\"n1\"} 0.75\n"
	    "lat_seconds_count{node=\"n1\"} 12\n");
	promtext_release(&w);
}

static void
le_values_are_exact_decimal_seconds(void **state)
{
	static const struct {
		uint64_t us;
		const char *text;
	} cases[] = {
		{ 0, "0" }, { 1, "0.000001" }, { 100, "0.0001" }, { 250, "0.00025" },
		{ 5000, "0.005" }, { 20000, "0.02" }, { 1000000, "1" }, { 2500000, "2.5" },
		{ 10000000, "10" }, { 16777215, "16.777215" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		promtext_format_us(cases[i].us, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

/* Each abuse leaves the writer failed, with a reason, and later calls fail too. */
static void
broken_rules_fail_the_page(void **state)
{
	struct promtext w;
	struct promtext_label bad_name[1] = { { "__reserved", "x" } };
	struct promtext_label dup[2] = { { "a", "1" }, { "a", "2" } };
	struct promtext_label many[9] = {
		{ "a", "" }, { "b", "" }, { "c", "" }, { "d", "" }, { "e", "" },
		{ "f", "" }, { "g", "" }, { "h", "" }, { "i", "" },
	};
	uint64_t up[2] = { 10, 5 }, flat[2] = { 10, 10 }, cum_ok[2] = { 1, 2 },
	    cum_down[2] = { 2, 1 };

	(void)state;
#define EXPECT_FAIL(call, why)                                 \
	do {                                                   \
		promtext_init(&w);                             \
		call;                                          \
		assert_true(w.failed);                         \
		assert_non_null(strstr(w.error, why));         \
		assert_int_equal(promtext_sample(&w, NULL, 0, 1), -1); \
		promtext_release(&w);                          \
	} while (0)

	EXPECT_FAIL(promtext_sample(&w, NULL, 0, 1), "before any family");
	EXPECT_FAIL(promtext_family(&w, "1abc", PROMTEXT_GAUGE, ""), "invalid metric name");
	EXPECT_FAIL(promtext_family(&w, "a-b", PROMTEXT_GAUGE, ""), "invalid metric name");
	EXPECT_FAIL(promtext_family(&w, "hits", PROMTEXT_COUNTER, ""), "_total");
	EXPECT_FAIL(promtext_family(&w, "lat_count", PROMTEXT_HISTOGRAM, ""), "reserved suffix");
	EXPECT_FAIL((promtext_family(&w, "a", PROMTEXT_GAUGE, ""),
	    promtext_family(&w, "b", PROMTEXT_GAUGE, ""),
	    promtext_family(&w, "a", PROMTEXT_GAUGE, "")), "begun twice");
	EXPECT_FAIL((promtext_family(&w, "a", PROMTEXT_GAUGE, ""),
	    promtext_sample(&w, bad_name, 1, 1)), "invalid label name");
	EXPECT_FAIL((promtext_family(&w, "a", PROMTEXT_GAUGE, ""),
	    promtext_sample(&w, dup, 2, 1)), "given twice");
	EXPECT_FAIL((promtext_family(&w, "a", PROMTEXT_GAUGE, ""),
	    promtext_sample(&w, many, 9, 1)), "more than 8 labels");
	EXPECT_FAIL((promtext_family(&w, "a_total", PROMTEXT_COUNTER, ""),
	    promtext_sample(&w, NULL, 0, -1)), "a counter of -1");
	EXPECT_FAIL((promtext_family(&w, "h", PROMTEXT_HISTOGRAM, ""),
	    promtext_sample(&w, NULL, 0, 1)), "is a histogram");
	EXPECT_FAIL((promtext_family(&w, "g", PROMTEXT_GAUGE, ""),
	    promtext_histogram_us(&w, NULL, 0, up, cum_ok, 2, 2, 0)), "outside a histogram");
	EXPECT_FAIL((promtext_family(&w, "h", PROMTEXT_HISTOGRAM, ""),
	    promtext_histogram_us(&w, NULL, 0, up, cum_ok, 2, 2, 0)), "not increasing");
	EXPECT_FAIL((promtext_family(&w, "h", PROMTEXT_HISTOGRAM, ""),
	    promtext_histogram_us(&w, NULL, 0, flat, cum_ok, 2, 2, 0)), "not increasing");
	EXPECT_FAIL((promtext_family(&w, "h", PROMTEXT_HISTOGRAM, ""),
	    promtext_histogram_us(&w, NULL, 0, cum_ok, cum_down, 2, 2, 0)), "not cumulative");
	EXPECT_FAIL((promtext_family(&w, "h", PROMTEXT_HISTOGRAM, ""),
	    promtext_histogram_us(&w, NULL, 0, cum_ok, cum_ok, 2, 1, 0)), "not cumulative");
	EXPECT_FAIL((promtext_family(&w, "h", PROMTEXT_HISTOGRAM, ""),
	    promtext_histogram_us(&w, NULL, 0, cum_ok, cum_ok, 2, 2, NAN)), "a sum of");
#undef EXPECT_FAIL
}

static void
page_larger_than_the_cap_fails(void **state)
{
	struct promtext w;
	char help[4001];
	int i, rc = 0;

	(void)state;
	memset(help, 'h', sizeof(help) - 1);
	help[sizeof(help) - 1] = '\0';
	promtext_init(&w);
	for (i = 0; i < PROMTEXT_FAMILIES_MAX && rc == 0; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		rc = promtext_family(&w, name, PROMTEXT_GAUGE, help);
	}
	/* 256 families of 4 KB fit under 16 MiB; the 257th family is refused by count. */
	assert_int_equal(rc, 0);
	assert_int_equal(promtext_family(&w, "one_more", PROMTEXT_GAUGE, ""), -1);
	assert_non_null(strstr(w.error, "more than 256 families"));
	promtext_release(&w);

	/* The byte cap: one family, samples until 16 MiB. */
	promtext_init(&w);
	promtext_family(&w, "big", PROMTEXT_GAUGE, "");
	{
		struct promtext_label l[1] = { { "v", help } };
		for (i = 0; i < 10000 && rc == 0; i++)
			rc = promtext_sample(&w, l, 1, i);
	}
	assert_int_equal(rc, -1);
	assert_non_null(strstr(w.error, "larger than"));
	assert_true(w.len <= PROMTEXT_MAX);
	promtext_release(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter_and_gauge_families_print_exactly),
		cmocka_unit_test(label_values_and_help_are_escaped),
		cmocka_unit_test(histogram_prints_cumulative_buckets_ending_in_inf),
		cmocka_unit_test(le_values_are_exact_decimal_seconds),
		cmocka_unit_test(broken_rules_fail_the_page),
		cmocka_unit_test(page_larger_than_the_cap_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
