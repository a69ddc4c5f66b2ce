/*
 * Unit tests of lib/maintwindow: what a [maintenance NAME] section reads into (the
 * schedule, the clusters, the public title and whether it is public), every problem
 * reported, and which occurrence is in progress or next at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "maintwindow.h"
#include "utctime.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static int
load(const char *text, struct maint_window *v, size_t *n, char *all, size_t cap)
{
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	size_t i, used = 0;
	int rc;

	assert_int_equal(config_load_string(&cfg, "t.conf", text, &errs), 0);
	rc = maint_windows_load(v, MAINT_WINDOWS_MAX, n, &cfg, &errs);
	all[0] = '\0';
	for (i = 0; i < errs.n; i++)
		used += (size_t)snprintf(all + used, used < cap ? cap - used : 0, "%s\n",
		    errs.msgs[i]);
	config_errors_release(&errs);
	config_release(&cfg);
	return rc;
}

static void
windows_read_schedule_clusters_and_public_texts(void **state)
{
	struct maint_window v[MAINT_WINDOWS_MAX];
	char errs[1024];
	int64_t start;
	size_t n = 0;

	(void)state;
	assert_int_equal(load("[maintenance nightly]\nstart = 2026-01-01 02:00\nduration = 30m\n"
			      "every = 1d\nclusters = c1, c2\ntitle = Nightly upgrade\n"
			      "[maintenance once]\nstart = 2026-03-01 10:00\n"
			      "end = 2026-03-01 12:00\npublic = no\n",
	    v, &n, errs, sizeof(errs)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(utc_parse("2026-01-01 02:00", &start), 0);
	assert_string_equal(v[0].name, "nightly");
	assert_int_equal(v[0].start_ms, start);
	assert_int_equal(v[0].duration_ms, 30 * MIN);
	assert_int_equal(v[0].every_ms, DAY);
	assert_int_equal(v[0].nclusters, 2);
	assert_string_equal(v[0].clusters[1], "c2");
	assert_string_equal(v[0].title, "Nightly upgrade");
	assert_true(v[0].public);
	assert_int_equal(v[1].duration_ms, 2 * HOUR);
	assert_string_equal(v[1].title, MAINT_WINDOW_TITLE_DEFAULT);
	assert_false(v[1].public);
	assert_true(maint_window_covers_cluster(&v[0], "c1"));
	assert_false(maint_window_covers_cluster(&v[0], "c3"));
	assert_true(maint_window_covers_cluster(&v[1], "c3"));
}

static void
every_problem_is_reported_with_its_line(void **state)
{
	struct maint_window v[MAINT_WINDOWS_MAX];
	char errs[2048];
	size_t n = 0;

	(void)state;
	assert_int_equal(load("[maintenance a]\nstart = yesterday\nduration = 30m\n"
			      "public = maybe\ntitle = \n"
			      "[maintenance b]\nstart = 2026-01-01 02:00\n"
			      "[maintenance c]\nstart = 2026-01-01 02:00\nduration = 2h\nevery = 1h\n",
	    v, &n, errs, sizeof(errs)), -1);
	assert_non_null(strstr(errs, "t.conf:2: start: 'yesterday' is not a UTC date"));
	assert_non_null(strstr(errs, "t.conf:4: public: 'maybe' is not yes or no"));
	assert_non_null(strstr(errs, "t.conf:5: title: not a one-line text"));
	assert_non_null(strstr(errs, "[maintenance b] needs either duration or end"));
	assert_non_null(strstr(errs, "every: the window lasts longer than its period"));
}

static void
occurrence_is_the_current_one_else_the_next(void **state)
{
	struct maint_window w = { .start_ms = 10 * DAY + 2 * HOUR, .duration_ms = 30 * MIN,
		.every_ms = DAY };
	int64_t s = 0, e = 0;

	(void)state;
	/* Before the first: the first. */
	assert_true(maint_window_occurrence(&w, 0, &s, &e));
	assert_int_equal(s, w.start_ms);
	/* In the third: that one. */
	assert_true(maint_window_occurrence(&w, 12 * DAY + 2 * HOUR + 10 * MIN, &s, &e));
	assert_int_equal(s, 12 * DAY + 2 * HOUR);
	assert_int_equal(e, 12 * DAY + 2 * HOUR + 30 * MIN);
	/* Just after it ends: the next day's. */
	assert_true(maint_window_occurrence(&w, 12 * DAY + 2 * HOUR + 30 * MIN, &s, &e));
	assert_int_equal(s, 13 * DAY + 2 * HOUR);
	/* A one-off window that is over has none. */
	w.every_ms = 0;
	assert_false(maint_window_occurrence(&w, 11 * DAY, &s, &e));
	assert_true(maint_window_occurrence(&w, 10 * DAY + 2 * HOUR, &s, &e));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(windows_read_schedule_clusters_and_public_texts),
		cmocka_unit_test(every_problem_is_reported_with_its_line),
		cmocka_unit_test(occurrence_is_the_current_one_else_the_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
