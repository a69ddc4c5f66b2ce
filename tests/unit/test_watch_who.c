/*
 * Unit tests of monitor/watch for who connects (issue 17): two proxies in front of a
 * backend, the proxies answering `stats tenants top 10` and `stats sources top 10` as
 * mcd does, a fake clock and a temporary incident log. Pinned: a storm from one tenant
 * and one address is attributed to them in the incident's evidence, the view for `mctl
 * status` and the remedy; a storm spread over many is "no dominant tenant or source"
 * and points at the network; a tenant opening a connection per request opens
 * connection_churn (an advisory: its kind never pages) naming it, its rate and the
 * cost, and it resolves when the pattern stops; /metrics shows the top tenants and
 * sources per proxy and "other".
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
#include "kinds.h"
#include "monitor/kind.h"
#include "monitor/metrics.h"
#include "monitor/monconfig.h"
#include "monitor/watch.h"
#include "watch_fixture.h"

#define PERIOD_MS 1000 /* polls, probes and evaluations */
#define NPROXIES 2
#define NTENANTS 12     /* more than the node lists: the rest is "other" */
#define TEXT_MAX 32768
#define BODY_MAX 65536
#define STEADY 2        /* each tenant's new connections per second per proxy */

static const char config_text[] =
    "[monitor]\n"
    "poll_interval = 1s\n"
    "evaluate_interval = 1s\n"
    "resolve_hold = 5s\n"
    "evidence_interval = 0\n"
    "storm_warmup = 3\n"
    "storm_enter = 2\n"
    "storm_exit = 2\n"
    "storm_overflow_rate = 0\n"
    "cluster_grace = 5s\n"
    "churn_rate = 2\n"
    "churn_share = 0.9\n"
    "churn_sustain = 10s\n"
    "churn_clear = 5s\n"
    "[cluster c1]\n"
    "[proxy p1]\ncluster = c1\nclient = 127.0.0.1:1101\nadmin = 127.0.0.1:2101\n"
    "[proxy p2]\ncluster = c1\nclient = 127.0.0.1:1102\nadmin = 127.0.0.1:2102\n"
    "[node b1]\ncluster = c1\nclient = 127.0.0.1:1001\nadmin = 127.0.0.1:2001\n";

/* One tenant on one proxy: cumulative, as mcd counts. */
struct tenant_counts {
	uint64_t total, reqs_1, reqs_101;
};

struct fixture {
	struct test_ilog il;
	struct monconfig cfg;
	struct watch w;
	int64_t now;
	struct watch_node *proxy[NPROXIES], *backend;
	uint64_t total[NPROXIES];
	struct tenant_counts t[NPROXIES][NTENANTS];
};

/* What happens in a second; zero is steady traffic from every tenant. */
struct traffic {
	int storm_tenant;     /* -1: none */
	uint64_t storm_rate;  /* its extra new connections per second per proxy */
	bool spread;          /* the storm spread evenly over every tenant instead */
	int churn_tenant;     /* -1: none: a tenant whose connections serve one request */
	uint64_t churn_rate;
};

static const struct traffic quiet = { -1, 0, false, -1, 0 };

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	*state = fx;
	if (watch_fixture_open(&fx->il, &fx->cfg, &fx->w, config_text, "test_watch_who") < 0)
		return -1;
	fx->now = T0;
	fx->proxy[0] = watch_find_node(&fx->w, "c1", "p1");
	fx->proxy[1] = watch_find_node(&fx->w, "c1", "p2");
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

/* Tenant i's name and the one address it connects from: t0 from 10.1.2.3, ... */
static void
tenant_name(int i, char *buf, size_t len)
{
	snprintf(buf, len, i == 0 ? "acme" : "t%d", i);
}

/* One poll of proxy p as mcd answers it: stats, kernel, proxy, backends, the top ten
 * tenants by new connections, the sources (each tenant's /32 and /24), the rest. */
static void
poll_proxy(struct fixture *fx, size_t p, const struct traffic *tr)
{
	char *text = malloc(TEXT_MAX), name[32];
	uint64_t add[NTENANTS], other_total = 0, other_curr = 0;
	size_t used = 0, order[NTENANTS], i, j;

	assert_non_null(text);
	for (i = 0; i < NTENANTS; i++) {
		add[i] = STEADY;
		if (tr->spread)
			add[i] += tr->storm_rate / NTENANTS;
		else if ((int)i == tr->storm_tenant)
			add[i] += tr->storm_rate;
		if ((int)i == tr->churn_tenant)
			add[i] += tr->churn_rate;
		fx->t[p][i].total += add[i];
		fx->total[p] += add[i];
		if ((int)i == tr->churn_tenant)
			fx->t[p][i].reqs_1 += add[i];
		else
			fx->t[p][i].reqs_101 += add[i];
		order[i] = i;
	}
	for (i = 1; i < NTENANTS; i++) /* busiest first, as `top` lists them */
		for (j = i; j > 0 && add[order[j]] > add[order[j - 1]]; j--) {
			size_t x = order[j];
			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	test_appendf(text, TEXT_MAX, &used, "STAT curr_connections 300\r\nSTAT total_connections %llu\r\n"
	    "END\r\nEND\r\nSTAT backends 1\r\nSTAT backends_up 1\r\nEND\r\nEND\r\n",
	    (unsigned long long)fx->total[p]);
	for (i = 0; i < NTENANTS; i++) {
		const struct tenant_counts *c = &fx->t[p][order[i]];
		if (i >= NODESTATS_TOP) {
			other_total += c->total;
			other_curr += 20;
			continue;
		}
		tenant_name((int)order[i], name, sizeof(name));
		test_appendf(text, TEXT_MAX, &used, "STAT tenant:%s:curr_connections 20\r\n"
		    "STAT tenant:%s:total_connections %llu\r\nSTAT tenant:%s:new_conns_per_sec %llu\r\n"
		    "STAT tenant:%s:auth_ok %llu\r\nSTAT tenant:%s:conn_reqs_1 %llu\r\n"
		    "STAT tenant:%s:conn_reqs_101_plus %llu\r\n", name, name,
		    (unsigned long long)c->total, name, (unsigned long long)add[order[i]], name,
		    (unsigned long long)c->total, name, (unsigned long long)c->reqs_1, name,
		    (unsigned long long)c->reqs_101);
	}
	test_appendf(text, TEXT_MAX, &used, "STAT tenants_other:curr_connections %llu\r\n"
	    "STAT tenants_other:total_connections %llu\r\nEND\r\n", (unsigned long long)other_curr,
	    (unsigned long long)other_total);
	test_appendf(text, TEXT_MAX, &used, "STAT sources_tracked 24\r\nSTAT sources_algorithm "
	    "space-saving\r\n");
	for (i = 0; i < 5; i++) {
		const struct tenant_counts *c = &fx->t[p][order[i]];
		test_appendf(text, TEXT_MAX, &used, "STAT source:10.%zu.2.3/32:new_conns %llu\r\n"
		    "STAT source:10.%zu.2.3/32:new_conns_per_sec %llu\r\n"
		    "STAT source:10.%zu.2.0/24:new_conns %llu\r\n", order[i] + 1,
		    (unsigned long long)c->total, order[i] + 1, (unsigned long long)add[order[i]],
		    order[i] + 1, (unsigned long long)c->total);
	}
	test_appendf(text, TEXT_MAX, &used, "END\r\n");
	watch_poll(&fx->w, fx->proxy[p], text, used, 300, fx->now);
	free(text);
}

static void
simulate(struct fixture *fx, int64_t ms, const struct traffic *tr)
{
	static const char backend[] = "STAT curr_connections 4\r\nSTAT total_connections 4\r\n"
				      "END\r\nEND\r\n";
	int64_t end = fx->now + ms;
	size_t i;

	while (fx->now < end) {
		fx->now += PERIOD_MS;
		for (i = 0; i < NPROXIES; i++) {
			watch_probe(&fx->w, fx->proxy[i], WATCH_PROBE_OK, 300, NULL, fx->now);
			poll_proxy(fx, i, tr);
		}
		watch_probe(&fx->w, fx->backend, WATCH_PROBE_OK, 300, NULL, fx->now);
		watch_poll(&fx->w, fx->backend, backend, strlen(backend), 300, fx->now);
		watch_evaluate(&fx->w, fx->now);
	}
}

static void
a_storm_from_one_tenant_is_attributed_to_it_and_its_address(void **state)
{
	struct fixture *fx = *state;
	struct traffic tr = quiet;
	struct ilog_incident inc;
	struct monstate st = { 0 };
	char *body = malloc(BODY_MAX), err[ILOG_ERR_LEN];
	int storm = kinds_index("connection_storm");

	assert_non_null(body);
	simulate(fx, 10 * 1000, &quiet);
	tr.storm_tenant = 0;
	tr.storm_rate = 2000;
	simulate(fx, 6000, &tr);
	assert_true(test_ilog_last_evidence(fx->il.log, "connection_storm:c1", &inc, body,
	    BODY_MAX) > 0);
	assert_non_null(strstr(body, "\"dominant\":true"));
	assert_non_null(strstr(body, "\"tenants\":[{\"name\":\"acme\",\"share\":0.9"));
	assert_non_null(strstr(body, "\"remedy\":\"limit_tenant\""));
	assert_non_null(strstr(body, "of new connections: tenant acme, from 10.1.2.3/32"));
	assert_non_null(strstr(body, "mctl tenant connlimit acme --new-per-second"));
	/* mctl status reads the same sentences from the view. */
	assert_int_equal(watch_snapshot(&fx->w, &st, 1000, err, sizeof(err)), 0);
	assert_non_null(strstr(st.clusters[0].kinds[storm].finding, "tenant acme"));
	assert_non_null(strstr(st.clusters[0].kinds[storm].remedy, "mctl tenant connlimit acme"));
	monstate_release(&st);
	free(body);
}

static void
a_storm_spread_over_every_tenant_has_no_dominant_and_points_at_the_network(void **state)
{
	struct fixture *fx = *state;
	struct traffic tr = quiet;
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);

	assert_non_null(body);
	simulate(fx, 10 * 1000, &quiet);
	tr.spread = true;
	tr.storm_rate = 2400;
	simulate(fx, 6000, &tr);
	assert_true(test_ilog_last_evidence(fx->il.log, "connection_storm:c1", &inc, body,
	    BODY_MAX) > 0);
	assert_non_null(strstr(body, "\"dominant\":false"));
	assert_non_null(strstr(body, "\"finding\":\"no dominant tenant or source\""));
	assert_non_null(strstr(body, "\"remedy\":\"look at the network"));
	free(body);
}

static void
a_churning_tenant_opens_an_advisory_naming_it_which_resolves_when_it_stops(void **state)
{
	struct fixture *fx = *state;
	struct traffic tr = quiet;
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);
	int64_t t;

	assert_non_null(body);
	simulate(fx, 10 * 1000, &quiet);
	tr.churn_tenant = 3;
	tr.churn_rate = 5;
	/* Not before it has lasted churn_sustain. */
	simulate(fx, 8000, &tr);
	assert_int_equal(test_ilog_count(fx->il.log, "connection_churn", ILOG_STATES_ALL), 0);
	for (t = 0; t < 10 * 1000 && test_ilog_count(fx->il.log, "connection_churn",
	    ILOG_STATES_ALL) == 0; t += PERIOD_MS)
		simulate(fx, PERIOD_MS, &tr);
	assert_true(test_ilog_last_evidence(fx->il.log, "connection_churn:c1", &inc, body,
	    BODY_MAX) > 0);
	assert_string_equal(inc.title, "Connection churn in cluster c1: tenant t3");
	assert_non_null(strstr(body, "\"name\":\"t3\",\"new_connections_per_second\":14"));
	assert_non_null(strstr(body, "tenant t3 opens 14.0 new connections/s and 100% of them "
				     "serve at most 2 requests"));
	assert_non_null(strstr(body, "about 4x the time of one get"));
	assert_non_null(strstr(body, "docs/runbooks/connection_churn.md"));
	/* An advisory: recorded, never paged; and no storm for it. */
	assert_false(kinds_pages(inc.kind));
	assert_int_equal(inc.severity, ILOG_SEVERITY_MINOR); /* on both proxies, still minor */
	assert_int_equal(test_ilog_count(fx->il.log, "connection_storm", ILOG_STATES_ALL), 0);
	/* The customer fixed it: resolved after churn_clear, the grace and the hold. */
	simulate(fx, 30 * 1000, &quiet);
	assert_int_equal(test_ilog_count(fx->il.log, "connection_churn", ILOG_STATES_UNRESOLVED), 0);
	assert_int_equal(test_ilog_count(fx->il.log, "connection_churn", ILOG_STATES_ALL), 1);
	free(body);
}

static void
steady_tenants_with_persistent_connections_open_nothing(void **state)
{
	struct fixture *fx = *state;
	struct traffic tr = quiet;

	/* Even at a high rate: their connections serve many requests each. */
	tr.storm_tenant = 2;
	tr.storm_rate = 20;
	simulate(fx, 60 * 1000, &tr);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 0);
}

static void
metrics_show_the_top_tenants_and_sources_per_proxy_and_other(void **state)
{
	struct fixture *fx = *state;
	struct traffic tr = quiet;
	struct metrics_daemon d = { 0 };
	struct promtext page;
	size_t n = 0;
	const char *p;

	tr.storm_tenant = 0;
	tr.storm_rate = 30;
	simulate(fx, 5000, &tr);
	promtext_init(&page);
	assert_int_equal(metrics_render(&fx->w, &d, &page), 0);
	assert_non_null(strstr(page.buf,
	    "mcops_tenant_connections{cluster=\"c1\",node=\"p1\",tenant=\"acme\"} 20\n"));
	assert_non_null(strstr(page.buf,
	    "mcops_tenant_new_connections_per_second{cluster=\"c1\",node=\"p2\",tenant=\"acme\"} 32\n"));
	/* Two tenants past the node's top ten: 20 connections each. */
	assert_non_null(strstr(page.buf,
	    "mcops_tenant_connections{cluster=\"c1\",node=\"p1\",tenant=\"other\"} 40\n"));
	assert_non_null(strstr(page.buf,
	    "mcops_tenant_new_connections_per_second{cluster=\"c1\",node=\"p1\",tenant=\"other\"} 4\n"));
	assert_non_null(strstr(page.buf,
	    "mcops_source_new_connections_per_second{cluster=\"c1\",node=\"p1\",source=\"10.1.2.3/32\"} 32\n"));
	assert_non_null(strstr(page.buf,
	    "mcops_source_unauth_connections{cluster=\"c1\",node=\"p2\",source=\"other\"} 0\n"));
	/* Bounded: per proxy at most METRICS_TOP_K tenants and "other"; none for the backend. */
	for (p = page.buf;
	    (p = strstr(p, "mcops_tenant_connections{cluster=\"c1\",node=\"p1\"")) != NULL; p++)
		n++;
	assert_true(n <= METRICS_TOP_K + 1);
	assert_null(strstr(page.buf, "mcops_tenant_connections{cluster=\"c1\",node=\"b1\""));
	promtext_release(&page);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    a_storm_from_one_tenant_is_attributed_to_it_and_its_address, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_storm_spread_over_every_tenant_has_no_dominant_and_points_at_the_network, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_churning_tenant_opens_an_advisory_naming_it_which_resolves_when_it_stops,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(steady_tenants_with_persistent_connections_open_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    metrics_show_the_top_tenants_and_sources_per_proxy_and_other, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
