/*
 * Unit tests of an incident's impact in mcmon (monitor/impact.c, and watch.c writing it
 * into the evidence): the tenants connected to the affected client-taking nodes out of
 * those connected anywhere in the cluster, from mcd's `stats tenants top N` view. With
 * three proxies, tenants on two of them, and a fake clock: a proxy that goes down gives
 * its node_down the share of the tenants whose connections it held, counts only. Also
 * pinned: a backend behind proxies, an incomplete view and an empty cluster say nothing
 * rather than a guess.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect_world.h"
#include "helper.h"
#include "ilog.h"
#include "monitor/impact.h"
#include "monitor/monconfig.h"
#include "monitor/watch.h"
#include "watch_fixture.h"

#define PERIOD_MS 1000
#define NPROXIES 3
#define NTENANTS 10
#define TEXT_MAX 16384
#define BODY_MAX 65536

/* --- the computation ------------------------------------------------------------- */

static void
add_tenant(struct nodestats *st, const char *name, uint64_t curr)
{
	struct connstats_entry *e = &st->tenants[st->ntenants++];

	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", name);
	e->v[CONNSTATS_CURR_CONNECTIONS] = curr;
	st->has_tenants = true;
}

static void
counts_distinct_tenants_over_the_client_taking_nodes(void **state)
{
	static struct nodestats a, b, c, backend;
	struct impact_node nodes[4] = {
		{ &a, true, true }, { &b, true, false }, { &c, true, false },
		{ &backend, false, false },
	};
	struct impact im;

	(void)state;
	add_tenant(&a, "t1", 3);
	add_tenant(&a, "t2", 1);
	add_tenant(&a, "t9", 0); /* listed without connections: not touched */
	add_tenant(&b, "t1", 2); /* on two proxies: one tenant */
	add_tenant(&b, "t3", 2);
	c.has_tenants = true;    /* a proxy nobody connects to */
	impact_compute(nodes, 4, NULL, 0, &im);
	assert_true(im.known);
	assert_int_equal(im.tenants, 2);
	assert_int_equal(im.of, 3);
	assert_int_equal(im.percent, 67);

	/* Two proxies affected: their union. */
	nodes[1].affected = true;
	impact_compute(nodes, 4, NULL, 0, &im);
	assert_int_equal(im.tenants, 3);
	assert_int_equal(im.percent, 100);

	/* The monitor's probe account is connected everywhere, and is nobody's cache. */
	add_tenant(&a, "probe", 1);
	add_tenant(&c, "probe", 1);
	nodes[1].affected = false;
	impact_compute(nodes, 4, (const char *const[]){ NULL, "probe" }, 2, &im);
	assert_int_equal(im.tenants, 2);
	assert_int_equal(im.of, 3);
}

static void
a_backend_an_incomplete_view_or_nobody_connected_is_unknown(void **state)
{
	static struct nodestats a, b, backend;
	struct impact_node nodes[3] = {
		{ &a, true, false }, { &b, true, false }, { &backend, false, true },
	};
	struct impact im;

	(void)state;
	add_tenant(&a, "t1", 3);
	add_tenant(&b, "t2", 3);
	/* A backend behind proxies holds part of every tenant's keys. */
	impact_compute(nodes, 3, NULL, 0, &im);
	assert_false(im.known);
	assert_int_equal(im.percent, -1);

	/* Tenants beyond the node's top N with connections: they cannot be counted. */
	nodes[2].affected = false;
	nodes[0].affected = true;
	b.tenants_other_curr = 5;
	impact_compute(nodes, 3, NULL, 0, &im);
	assert_false(im.known);
	b.tenants_other_curr = 0;
	impact_compute(nodes, 3, NULL, 0, &im);
	assert_true(im.known);
	assert_int_equal(im.percent, 50);

	/* A node with no view (never polled, or no accounting). */
	b.has_tenants = false;
	impact_compute(nodes, 3, NULL, 0, &im);
	assert_false(im.known);

	/* Nobody connected anywhere: 0 of 0 is no share. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.has_tenants = b.has_tenants = true;
	impact_compute(nodes, 3, NULL, 0, &im);
	assert_false(im.known);
}

/* --- in mcmon, with a fake clock ------------------------------------------------------ */

static const char config_text[] =
    "[monitor]\n"
    "poll_interval = 1s\n"
    "evaluate_interval = 1s\n"
    "resolve_hold = 5s\n"
    "evidence_interval = 0\n"
    "[cluster c1]\n"
    "[proxy p1]\ncluster = c1\nclient = 127.0.0.1:1101\nadmin = 127.0.0.1:2101\n"
    "[proxy p2]\ncluster = c1\nclient = 127.0.0.1:1102\nadmin = 127.0.0.1:2102\n"
    "[proxy p3]\ncluster = c1\nclient = 127.0.0.1:1103\nadmin = 127.0.0.1:2103\n"
    "[node b1]\ncluster = c1\nclient = 127.0.0.1:1001\nadmin = 127.0.0.1:2001\n";

struct fixture {
	struct test_ilog il;
	struct monconfig cfg;
	struct watch w;
	int64_t now;
	struct watch_node *proxy[NPROXIES], *backend;
	bool down[NPROXIES];
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	*state = fx;
	if (watch_fixture_open(&fx->il, &fx->cfg, &fx->w, config_text, "test_impact") < 0)
		return -1;
	fx->now = T0;
	fx->proxy[0] = watch_find_node(&fx->w, "c1", "p1");
	fx->proxy[1] = watch_find_node(&fx->w, "c1", "p2");
	fx->proxy[2] = watch_find_node(&fx->w, "c1", "p3");
	fx->backend = watch_find_node(&fx->w, "c1", "b1");
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	watch_fixture_close(&fx->il, &fx->cfg, &fx->w);
	free(fx);
	return 0;
}

/* Tenants t0..t5 connect through p1, t4..t9 through p2, nobody through p3: as mcd
 * answers a poll (stats, kernel, proxy, backends, tenants, sources). */
static void
poll_proxy(struct fixture *fx, size_t p)
{
	char *text = malloc(TEXT_MAX);
	size_t used = 0, i;

	assert_non_null(text);
	test_appendf(text, TEXT_MAX, &used, "STAT curr_connections 30\r\nSTAT "
	    "total_connections 30\r\nEND\r\nEND\r\nSTAT backends 1\r\nSTAT backends_up 1\r\n"
	    "END\r\nEND\r\n");
	for (i = 0; i < NTENANTS; i++) {
		if ((p == 0 && i <= 5) || (p == 1 && i >= 4))
			test_appendf(text, TEXT_MAX, &used, "STAT tenant:secret-tenant-%zu:"
			    "curr_connections 3\r\nSTAT tenant:secret-tenant-%zu:total_connections "
			    "3\r\n", i, i);
	}
	test_appendf(text, TEXT_MAX, &used, "STAT tenants_other:curr_connections 0\r\n"
	    "STAT tenants_other:total_connections 0\r\nEND\r\nSTAT sources_tracked 0\r\nEND\r\n");
	watch_poll(&fx->w, fx->proxy[p], text, used, 300, fx->now);
	free(text);
}

static void
simulate(struct fixture *fx, int64_t ms)
{
	static const char backend[] = "STAT curr_connections 4\r\nSTAT total_connections 4\r\n"
				      "END\r\nEND\r\n";
	int64_t end = fx->now + ms;
	size_t i;

	while (fx->now < end) {
		fx->now += PERIOD_MS;
		for (i = 0; i < NPROXIES; i++) {
			if (fx->down[i]) {
				watch_probe(&fx->w, fx->proxy[i], WATCH_PROBE_FAILED, 0, "refused",
				    fx->now);
				watch_poll_failed(&fx->w, fx->proxy[i], "refused", fx->now);
				continue;
			}
			watch_probe(&fx->w, fx->proxy[i], WATCH_PROBE_OK, 300, NULL, fx->now);
			poll_proxy(fx, i);
		}
		watch_probe(&fx->w, fx->backend, WATCH_PROBE_OK, 300, NULL, fx->now);
		watch_poll(&fx->w, fx->backend, backend, strlen(backend), 300, fx->now);
		watch_evaluate(&fx->w, fx->now);
	}
}

static void
a_proxy_down_says_the_share_of_tenants_it_held_and_no_name(void **state)
{
	struct fixture *fx = *state;
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);

	assert_non_null(body);
	simulate(fx, 5000);
	fx->down[0] = true;
	simulate(fx, 15 * 1000);
	assert_true(test_ilog_last_evidence(fx->il.log, "node_down:c1:p1", &inc, body,
	    BODY_MAX) > 0);
	/* Its last view held t0..t5: 6 of the 10 tenants of the cluster. */
	assert_non_null(strstr(body, "\"impact\":{\"tenants\":6,\"of\":10,\"percent\":60}"));
	assert_null(strstr(body, "secret-tenant"));

	/* p3, which nobody uses, touches nobody: 0 of 10. */
	fx->down[0] = false;
	fx->down[2] = true;
	simulate(fx, 15 * 1000);
	assert_true(test_ilog_last_evidence(fx->il.log, "node_down:c1:p3", &inc, body,
	    BODY_MAX) > 0);
	assert_non_null(strstr(body, "\"impact\":{\"tenants\":0,\"of\":10,\"percent\":0}"));
	free(body);
}

static void
a_backend_down_behind_proxies_has_no_tenant_impact(void **state)
{
	struct fixture *fx = *state;
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);
	int64_t end;

	assert_non_null(body);
	simulate(fx, 5000);
	for (end = fx->now + 15 * 1000; fx->now < end;) {
		size_t i;

		fx->now += PERIOD_MS;
		for (i = 0; i < NPROXIES; i++) {
			watch_probe(&fx->w, fx->proxy[i], WATCH_PROBE_OK, 300, NULL, fx->now);
			poll_proxy(fx, i);
		}
		watch_probe(&fx->w, fx->backend, WATCH_PROBE_FAILED, 0, "refused", fx->now);
		watch_poll_failed(&fx->w, fx->backend, "refused", fx->now);
		watch_evaluate(&fx->w, fx->now);
	}
	assert_true(test_ilog_last_evidence(fx->il.log, "node_down:c1:b1", &inc, body,
	    BODY_MAX) > 0);
	assert_null(strstr(body, "\"impact\""));
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_distinct_tenants_over_the_client_taking_nodes),
		cmocka_unit_test(a_backend_an_incomplete_view_or_nobody_connected_is_unknown),
		cmocka_unit_test_setup_teardown(a_proxy_down_says_the_share_of_tenants_it_held_and_no_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(a_backend_down_behind_proxies_has_no_tenant_impact,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
