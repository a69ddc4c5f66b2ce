/*
 * prefixstats: memcached's per-prefix figures in fixed memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cache/prefixstats.h"

static struct prefixstats ps;

/* A key's prefix is what precedes its first ':'; a key without one is not counted. */
static void
prefixes_count_gets_hits_sets_and_deletes(void **state)
{
	(void)state;
	prefixstats_clear(&ps);
	prefixstats_record(&ps, "foo:1", 5, PREFIXSTATS_SET, false);
	prefixstats_record(&ps, "foo:1:x", 7, PREFIXSTATS_GET, true);
	prefixstats_record(&ps, "foo:2", 5, PREFIXSTATS_GET, false);
	prefixstats_record(&ps, "bar:2", 5, PREFIXSTATS_DEL, false);
	prefixstats_record(&ps, "nofix", 5, PREFIXSTATS_GET, true);
	prefixstats_record(&ps, ":x", 2, PREFIXSTATS_SET, false); /* the empty prefix */
	assert_int_equal(ps.n, 3);
	assert_string_equal(ps.e[0].prefix, "foo");
	assert_int_equal(ps.e[0].len, 3);
	assert_true(ps.e[0].get == 2 && ps.e[0].hit == 1 && ps.e[0].set == 1 && ps.e[0].del == 0);
	assert_string_equal(ps.e[1].prefix, "bar");
	assert_int_equal(ps.e[1].del, 1);
	assert_int_equal(ps.e[2].len, 0);
	assert_false(ps.overflow);
}

/* Prefixes beyond the table, and prefixes too long to keep, are summed in *other*: a
 * client writing random prefixes cannot grow the server. clear forgets everything. */
static void
what_does_not_fit_is_summed_in_other(void **state)
{
	char key[128];
	int i;

	(void)state;
	prefixstats_clear(&ps);
	for (i = 0; i < PREFIXSTATS_MAX + 5; i++) {
		snprintf(key, sizeof(key), "p%d:k", i);
		prefixstats_record(&ps, key, strlen(key), PREFIXSTATS_GET, false);
	}
	memset(key, 'a', PREFIXSTATS_PREFIX_MAX + 1);
	key[PREFIXSTATS_PREFIX_MAX + 1] = ':';
	prefixstats_record(&ps, key, PREFIXSTATS_PREFIX_MAX + 2, PREFIXSTATS_SET, false);
	assert_int_equal(ps.n, PREFIXSTATS_MAX);
	assert_true(ps.overflow);
	assert_string_equal(ps.other.prefix, PREFIXSTATS_OTHER);
	assert_int_equal(ps.other.get, 5);
	assert_int_equal(ps.other.set, 1);
	/* a known prefix still counts in its own entry when the table is full */
	prefixstats_record(&ps, "p0:z", 4, PREFIXSTATS_GET, true);
	assert_int_equal(ps.e[0].hit, 1);
	prefixstats_clear(&ps);
	assert_int_equal(ps.n, 0);
	assert_false(ps.overflow);
	assert_int_equal(ps.other.get, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prefixes_count_gets_hits_sets_and_deletes),
		cmocka_unit_test(what_does_not_fit_is_summed_in_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
