/*
 * Unit tests of monitor/nodestats (the monitor's reader of `stats` text) for the
 * accounting of issue 17, and of lib/connstats (the per-tenant and per-source lines):
 * `stats tenants top N` and `stats sources top N` read in their place after the other
 * replies, keys split at the last ':' so that IPv6 prefixes survive, bounded tables,
 * and an mcd without the accounting (an error line) leaving the rest of the poll whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "connstats.h"
#include "monitor/nodestats.h"

#define STATS "STAT uptime 10\r\nSTAT curr_connections 7\r\nSTAT total_connections 99\r\nEND\r\n"
#define KERNEL "STAT kernel_not_accepted 0\r\nEND\r\n"

static const char tenants[] =
    "STAT tenant:acme:caps get,set\r\n"
    "STAT tenant:acme:curr_connections 40\r\n"
    "STAT tenant:acme:total_connections 1234\r\n"
    "STAT tenant:acme:new_conns_per_sec 80\r\n"
    "STAT tenant:acme:rejected_connections 3\r\n"
    "STAT tenant:acme:conn_reqs_1 500\r\n"
    "STAT tenant:acme:conn_reqs_2 20\r\n"
    "STAT tenant:acme:conn_reqs_101_plus 1\r\n"
    "STAT tenant:acme:cmd_get 5\r\n"
    "STAT tenant:b.c-d_e:curr_connections 2\r\n"
    "STAT tenants_other:curr_connections 11\r\n"
    "STAT tenants_other:total_connections 222\r\n"
    "END\r\n";

static const char sources[] =
    "STAT sources_tracked 3\r\nSTAT sources_capacity 4096\r\n"
    "STAT sources_memory_bytes 300000\r\nSTAT sources_algorithm space-saving\r\n"
    "STAT source:10.1.2.3/32:new_conns 900\r\n"
    "STAT source:10.1.2.3/32:count_error 4\r\n"
    "STAT source:10.1.2.3/32:unauth_connections 6\r\n"
    "STAT source:10.1.2.0/24:new_conns 950\r\n"
    "STAT source:2001:db8:1:2::/64:new_conns 70\r\n"
    "STAT source:2001:db8:1:2::/64:new_conns_per_sec 7\r\n"
    "STAT source:2001:db8:1:2::/64:auth_failed 2\r\n"
    "STAT sources_other:new_conns 30\r\n"
    "END\r\n";

static void
parse(struct nodestats *st, const char *text, unsigned parts)
{
	char err[128];

	assert_int_equal(nodestats_parse(st, text, strlen(text), parts, err, sizeof(err)), 0);
}

static const struct connstats_entry *
find(const struct connstats_entry *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

static void
tenants_and_sources_are_read_after_stats_and_kernel(void **state)
{
	struct nodestats *st = malloc(sizeof(*st));
	char text[4096];
	const struct connstats_entry *e;

	(void)state;
	assert_non_null(st);
	snprintf(text, sizeof(text), "%s%s%s%s", STATS, KERNEL, tenants, sources);
	parse(st, text, NODESTATS_PART_ACCOUNTING);
	assert_int_equal(st->total_connections, 99);
	assert_true(st->has_tenants);
	assert_true(st->has_sources);
	assert_int_equal(st->ntenants, 2);
	e = find(st->tenants, st->ntenants, "acme");
	assert_non_null(e);
	assert_int_equal(e->v[CONNSTATS_CURR_CONNECTIONS], 40);
	assert_int_equal(e->v[CONNSTATS_TOTAL_CONNECTIONS], 1234);
	assert_int_equal(e->v[CONNSTATS_NEW_CONNS_PER_SEC], 80);
	assert_int_equal(e->v[CONNSTATS_REJECTED], 3);
	assert_int_equal(connstats_short(e), 520);
	assert_int_equal(connstats_closed(e), 521);
	assert_non_null(find(st->tenants, st->ntenants, "b.c-d_e"));
	assert_int_equal(st->tenants_other_curr, 11);
	assert_int_equal(st->tenants_other_total, 222);
	/* The prefix is everything up to the last ':' — an IPv6 /64 keeps its colons. */
	assert_int_equal(st->nsources, 3);
	e = find(st->sources, st->nsources, "2001:db8:1:2::/64");
	assert_non_null(e);
	assert_int_equal(e->v[CONNSTATS_NEW_CONNS], 70);
	assert_int_equal(e->v[CONNSTATS_NEW_CONNS_PER_SEC], 7);
	assert_int_equal(e->v[CONNSTATS_AUTH_FAILED], 2);
	e = find(st->sources, st->nsources, "10.1.2.3/32");
	assert_non_null(e);
	assert_int_equal(e->v[CONNSTATS_COUNT_ERROR], 4);
	assert_int_equal(e->v[CONNSTATS_UNAUTH_CONNECTIONS], 6);
	assert_non_null(find(st->sources, st->nsources, "10.1.2.0/24"));
	assert_int_equal(st->sources_other_new, 30);
	assert_int_equal(st->sources_tracked, 3);
	assert_int_equal(st->sources_capacity, 4096);
	assert_int_equal(st->sources_memory_bytes, 300000);
	free(st);
}

static void
a_proxy_answers_its_own_figures_before_the_accounting(void **state)
{
	struct nodestats *st = malloc(sizeof(*st));
	char text[4096];

	(void)state;
	assert_non_null(st);
	snprintf(text, sizeof(text), "%s%sSTAT backends 1\r\nEND\r\nSTAT b1:state up\r\nEND\r\n%s%s",
	    STATS, KERNEL, tenants, sources);
	parse(st, text, NODESTATS_PART_PROXY | NODESTATS_PART_ACCOUNTING);
	assert_true(st->is_proxy);
	assert_int_equal(st->nbackends, 1);
	assert_int_equal(st->ntenants, 2);
	assert_int_equal(st->nsources, 3);
	free(st);
}

static void
an_mcd_without_accounting_leaves_the_rest_of_the_poll_whole(void **state)
{
	struct nodestats *st = malloc(sizeof(*st));
	char text[4096];

	(void)state;
	assert_non_null(st);
	snprintf(text, sizeof(text), "%s%sERROR\r\nERROR\r\n", STATS, KERNEL);
	parse(st, text, NODESTATS_PART_ACCOUNTING);
	assert_int_equal(st->curr_connections, 7);
	assert_false(st->has_tenants);
	assert_false(st->has_sources);
	assert_int_equal(st->ntenants, 0);
	/* And the request asks for exactly the replies the parser reads. */
	assert_int_equal(nodestats_replies(NODESTATS_PART_ACCOUNTING), 4);
	assert_int_equal(nodestats_replies(NODESTATS_PART_PROXY | NODESTATS_PART_ACCOUNTING), 6);
	assert_non_null(strstr(nodestats_request(NODESTATS_PART_ACCOUNTING),
	    "stats tenants top 10\r\nstats sources top 10\r\n"));
	assert_null(strstr(nodestats_request(0), "tenants"));
	free(st);
}

static void
more_tenants_than_the_cap_are_skipped_not_overrun(void **state)
{
	struct nodestats *st = malloc(sizeof(*st));
	char *text = malloc(65536);
	size_t used = 0, i;

	(void)state;
	assert_non_null(st);
	assert_non_null(text);
	used += (size_t)snprintf(text, 65536, "%s%s", STATS, KERNEL);
	for (i = 0; i < 3 * NODESTATS_TENANTS_MAX; i++)
		used += (size_t)snprintf(text + used, 65536 - used,
		    "STAT tenant:t%zu:curr_connections %zu\r\n", i, i);
	used += (size_t)snprintf(text + used, 65536 - used, "END\r\n");
	for (i = 0; i < 3 * NODESTATS_SOURCES_MAX; i++)
		used += (size_t)snprintf(text + used, 65536 - used,
		    "STAT source:10.0.%zu.1/32:new_conns %zu\r\n", i, i);
	snprintf(text + used, 65536 - used, "END\r\n");
	parse(st, text, NODESTATS_PART_ACCOUNTING);
	assert_int_equal(st->ntenants, NODESTATS_TENANTS_MAX);
	assert_int_equal(st->nsources, NODESTATS_SOURCES_MAX);
	free(text);
	free(st);
}

static void
lines_that_are_not_ours_are_refused_by_the_line_reader(void **state)
{
	static const char *const bad[] = {
		"tenant:acme",              /* no field */
		"tenant::curr_connections", /* no key */
		"tenant:acme:cmd_get",      /* not a connection field */
		"tenants_other:curr_connections",
		"source:10.1.2.3/32:",      /* empty field */
		"sourcex:1.2.3.4/32:new_conns",
	};
	enum connstats_group g;
	enum connstats_field f;
	const char *key;
	size_t klen, i;
	uint64_t v;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(connstats_line(bad[i], strlen(bad[i]), "1", 1, &g, &key, &klen, &f, &v));
	/* A value that is not a number is not a line of ours either. */
	assert_false(connstats_line("tenant:a:auth_ok", 16, "x", 1, &g, &key, &klen, &f, &v));
	assert_true(connstats_line("source:::1/64:auth_ok", 21, "5", 1, &g, &key, &klen, &f, &v));
	assert_int_equal(g, CONNSTATS_SOURCE);
	assert_int_equal(klen, 6);
	assert_memory_equal(key, "::1/64", 6);
	assert_int_equal(f, CONNSTATS_AUTH_OK);
	assert_int_equal(v, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tenants_and_sources_are_read_after_stats_and_kernel),
		cmocka_unit_test(a_proxy_answers_its_own_figures_before_the_accounting),
		cmocka_unit_test(an_mcd_without_accounting_leaves_the_rest_of_the_poll_whole),
		cmocka_unit_test(more_tenants_than_the_cap_are_skipped_not_overrun),
		cmocka_unit_test(lines_that_are_not_ours_are_refused_by_the_line_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
