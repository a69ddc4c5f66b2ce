/*
 * Unit tests of monitor/who: new connections by tenant and source between polls, their
 * shares over an episode merged across a cluster's nodes, the verdict (dominant or
 * not) and the sentences and remedy that follow from it. Pinned: differences of
 * cumulative counters (a restart counts from 0), a key new to a node estimated from
 * its rate, the narrowest dominant prefix named, no dominant tenant or source pointing
 * at the network, one node holding most connections pointing at a rebalance, and the
 * node's memory bounded however many keys pass through it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/who.h"

#define POLL_MS 1000

static struct connstats_entry *
tenant(struct nodestats *st, const char *name)
{
	struct connstats_entry *e = connstats_entry(st->tenants, &st->ntenants,
	    NODESTATS_TENANTS_MAX, name, strlen(name));

	assert_non_null(e);
	return e;
}

static struct connstats_entry *
source(struct nodestats *st, const char *prefix)
{
	struct connstats_entry *e = connstats_entry(st->sources, &st->nsources,
	    NODESTATS_SOURCES_MAX, prefix, strlen(prefix));

	assert_non_null(e);
	return e;
}

/* A node's cumulative counters; each step adds the new connections given. */
struct sim {
	struct nodestats st;
	struct who_node who;
	int64_t now;
};

static void
step(struct sim *s)
{
	s->st.has_tenants = s->st.has_sources = true;
	s->now += POLL_MS;
	who_node_poll(&s->who, &s->st, s->now);
}

static void
add(struct sim *s, const char *t, const char *src32, const char *src24, uint64_t n)
{
	s->st.total_connections += n;
	if (t != NULL) {
		tenant(&s->st, t)->v[CONNSTATS_TOTAL_CONNECTIONS] += n;
		tenant(&s->st, t)->v[CONNSTATS_NEW_CONNS_PER_SEC] = n;
	}
	if (src32 != NULL)
		source(&s->st, src32)->v[CONNSTATS_NEW_CONNS] += n;
	if (src24 != NULL)
		source(&s->st, src24)->v[CONNSTATS_NEW_CONNS] += n;
}

static struct sim *
sim_new(void)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->now = 1000000;
	return s;
}

static void
merge(struct sim **v, size_t n, struct who_verdict *out)
{
	const struct who_node *nodes[4];
	const char *names[4] = { "p1", "p2", "p3", "p4" };
	size_t i;

	for (i = 0; i < n; i++)
		nodes[i] = &v[i]->who;
	who_merge(nodes, names, n, out);
}

static void
one_tenant_from_one_address_is_dominant_and_named_with_its_share(void **state)
{
	struct sim *p[2] = { sim_new(), sim_new() };
	struct who_verdict v;
	int i, k;

	(void)state;
	for (k = 0; k < 2; k++) { /* steady traffic known before the storm */
		add(p[k], "quiet", "10.9.9.9/32", "10.9.9.0/24", 5);
		add(p[k], "acme", "10.1.2.3/32", "10.1.2.0/24", 1);
		step(p[k]);
	}
	for (k = 0; k < 2; k++)
		who_node_restart(&p[k]->who); /* the episode begins */
	for (i = 0; i < 5; i++) {
		for (k = 0; k < 2; k++) {
			add(p[k], "acme", "10.1.2.3/32", "10.1.2.0/24", 78);
			add(p[k], "quiet", "10.9.9.9/32", "10.9.9.0/24", 22);
			step(p[k]);
		}
	}
	merge(p, 2, &v);
	assert_true(v.known);
	assert_int_equal(v.new_connections, 1000);
	assert_true(v.dominant);
	assert_int_equal(v.dominant_tenant, 0);
	assert_string_equal(v.tenants[0].key, "acme");
	assert_int_equal(v.tenants[0].new_connections, 780);
	assert_true(v.tenants[0].share > 0.779 && v.tenants[0].share < 0.781);
	/* Both the /32 and its /24 hold 78%: the narrower one is named. */
	assert_string_equal(v.sources[v.dominant_source].key, "10.1.2.3/32");
	assert_string_equal(v.finding, "78% of new connections: tenant acme, from 10.1.2.3/32");
	assert_int_equal(v.remedy, WHO_REMEDY_LIMIT_TENANT);
	assert_non_null(strstr(v.remedy_text, "mctl tenant connlimit acme --new-per-second"));
	free(p[0]);
	free(p[1]);
}

static void
a_storm_spread_over_many_tenants_and_sources_has_no_dominant_and_points_at_the_network(
    void **state)
{
	struct sim *p[2] = { sim_new(), sim_new() };
	char t[16], s32[32], s24[32];
	struct who_verdict v;
	int i, k, j;

	(void)state;
	for (i = 0; i < 4; i++) {
		for (k = 0; k < 2; k++) {
			for (j = 0; j < 8; j++) {
				snprintf(t, sizeof(t), "t%d", j);
				snprintf(s32, sizeof(s32), "10.%d.0.%d/32", j, k);
				snprintf(s24, sizeof(s24), "10.%d.0.0/24", j);
				add(p[k], t, s32, s24, 10);
			}
			p[k]->st.curr_connections = 500;
			step(p[k]);
		}
	}
	merge(p, 2, &v);
	assert_false(v.dominant);
	assert_int_equal(v.dominant_tenant, -1);
	assert_int_equal(v.dominant_source, -1);
	assert_string_equal(v.finding, "no dominant tenant or source");
	assert_int_equal(v.remedy, WHO_REMEDY_NETWORK);
	assert_int_equal(v.ntenants, WHO_SHOWN_MAX);
	assert_true(v.tenants[0].share > 0.12 && v.tenants[0].share < 0.13);
	free(p[0]);
	free(p[1]);
}

static void
one_proxy_holding_most_connections_points_at_a_rebalance(void **state)
{
	struct sim *p[2] = { sim_new(), sim_new() };
	char t[16];
	struct who_verdict v;
	int i, k, j;

	(void)state;
	for (i = 0; i < 3; i++) {
		for (k = 0; k < 2; k++) {
			for (j = 0; j < 5; j++) {
				snprintf(t, sizeof(t), "t%d", j);
				add(p[k], t, NULL, NULL, 10);
			}
			p[k]->st.curr_connections = k == 0 ? 900 : 100;
			step(p[k]);
		}
	}
	merge(p, 2, &v);
	assert_false(v.dominant);
	assert_int_equal(v.remedy, WHO_REMEDY_REBALANCE);
	assert_string_equal(v.busiest, "p1");
	assert_non_null(strstr(v.remedy_text, "p1 holds 90%"));
	free(p[0]);
	free(p[1]);
}

static void
a_tenant_new_to_the_node_is_counted_from_its_rate_and_a_restart_from_zero(void **state)
{
	struct sim *s = sim_new();
	const struct who_key *k;

	(void)state;
	add(s, "old", NULL, NULL, 100);
	step(s);
	step(s);
	/* "new" appears in the node's top N for the first time with 50/s: a second's worth
	 * is counted, not its whole counter (1000, most of it from before). */
	tenant(&s->st, "new")->v[CONNSTATS_TOTAL_CONNECTIONS] = 1000;
	tenant(&s->st, "new")->v[CONNSTATS_NEW_CONNS_PER_SEC] = 50;
	s->st.total_connections += 50;
	step(s);
	k = &s->who.tenants[1];
	assert_string_equal(k->key, "new");
	assert_int_equal(k->d_new, 50);
	/* The node restarted: its counters start again; what they hold now is new. */
	tenant(&s->st, "new")->v[CONNSTATS_TOTAL_CONNECTIONS] = 30;
	s->st.total_connections = 40;
	step(s);
	assert_int_equal(k->d_new, 30);
	assert_int_equal(s->who.d_total, 40);
	assert_int_equal(k->episode_new, 80);
	free(s);
}

static void
a_node_keeps_at_most_its_cap_of_keys_however_many_pass(void **state)
{
	struct sim *s = sim_new();
	char t[16];
	int i, j;

	(void)state;
	for (i = 0; i < 20; i++) {
		/* A new set of ten tenants at every poll: the node's top N churns. */
		s->st.ntenants = 0;
		for (j = 0; j < 10; j++) {
			snprintf(t, sizeof(t), "t%d", i * 10 + j);
			add(s, t, NULL, NULL, 1);
		}
		step(s);
		assert_true(s->who.ntenants <= WHO_KEYS_MAX);
	}
	assert_int_equal(s->who.ntenants, WHO_KEYS_MAX);
	free(s);
}

static void
without_accounting_who_is_not_known(void **state)
{
	struct sim *s = sim_new();
	struct who_verdict v;

	(void)state;
	s->st.total_connections = 10;
	s->now += POLL_MS;
	who_node_poll(&s->who, &s->st, s->now); /* no tenants or sources answered */
	merge(&s, 1, &v);
	assert_false(v.known);
	assert_false(v.dominant);
	assert_int_equal(v.remedy, WHO_REMEDY_NONE);
	assert_non_null(strstr(v.finding, "not known"));
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_tenant_from_one_address_is_dominant_and_named_with_its_share),
		cmocka_unit_test(
		    a_storm_spread_over_many_tenants_and_sources_has_no_dominant_and_points_at_the_network),
		cmocka_unit_test(one_proxy_holding_most_connections_points_at_a_rebalance),
		cmocka_unit_test(
		    a_tenant_new_to_the_node_is_counted_from_its_rate_and_a_restart_from_zero),
		cmocka_unit_test(a_node_keeps_at_most_its_cap_of_keys_however_many_pass),
		cmocka_unit_test(without_accounting_who_is_not_known),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
