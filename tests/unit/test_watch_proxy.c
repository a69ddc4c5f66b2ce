/*
 * Unit tests of monitor/watch on a cluster with a proxy tier: two proxies in front of
 * three backends, driven by a fake clock against a temporary incident log. Proxies are
 * polled as mcd --proxy answers (`stats`, `stats kernel`, `stats proxy`, `stats
 * backends`, cumulative per-backend counters); every node is probed as the daemon
 * does. What is pinned: a latency tail attributed from the proxies' per-backend view
 * (two slow backends: one incident naming both and the proxies that see them; every
 * backend slow: cluster-wide, said so; a busy host's noise: nothing, while the seed's
 * 10-20% is still caught within 15 s), and a storm hopping across proxies being one
 * incident naming each proxy and when it took part.
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
#include "monitor/kind.h"
#include "monitor/metrics.h"
#include "monitor/monconfig.h"
#include "monitor/watch.h"
#include "watch_fixture.h"

#define TICK_MS 100   /* probes: 10 a second per node, as the default probe_rate */
#define PERIOD_MS 1000 /* polls and evaluations */
#define REPLIES_PER_POLL 1000 /* each proxy's replies from each backend per poll */
#define NPROXIES 2
#define NBACKENDS 3
#define NNODES (NPROXIES + NBACKENDS)
#define TEXT_MAX 8192
#define BODY_MAX 16384
#define SLOW_US 9000
#define FAST_US 300

/* The tail detector's defaults (10 s and 20 s windows, a minute of warm-up). */
static const char config_text[] =
    "[monitor]\n"
    "poll_interval = 1s\n"
    "evaluate_interval = 1s\n"
    "resolve_hold = 10s\n"
    "evidence_interval = 0\n"
    "storm_warmup = 3\n"
    "storm_enter = 2\n"
    "storm_exit = 2\n"
    "storm_overflow_rate = 0\n"
    "cluster_grace = 5s\n"
    "[cluster c1]\n"
    "[proxy p1]\ncluster = c1\nclient = 127.0.0.1:1101\nadmin = 127.0.0.1:2101\n"
    "[proxy p2]\ncluster = c1\nclient = 127.0.0.1:1102\nadmin = 127.0.0.1:2102\n"
    "[node b1]\ncluster = c1\nclient = 127.0.0.1:1001\nadmin = 127.0.0.1:2001\n"
    "[node b2]\ncluster = c1\nclient = 127.0.0.1:1002\nadmin = 127.0.0.1:2002\n"
    "[node b3]\ncluster = c1\nclient = 127.0.0.1:1003\nadmin = 127.0.0.1:2003\n";

static const char *const proxy_names[NPROXIES] = { "p1", "p2" };
static const char *const backend_names[NBACKENDS] = { "b1", "b2", "b3" };

struct fixture {
	struct test_ilog il;
	struct monconfig cfg;
	struct watch w;
	int64_t now;
	uint64_t rng;
	struct watch_node *proxy[NPROXIES], *backend[NBACKENDS];
	uint64_t total[NNODES]; /* total_connections, by w.nodes index */
	uint64_t replies[NPROXIES][NBACKENDS], slow[NPROXIES][NBACKENDS];
};

/* What happens during a run; zero is a quiet, healthy cluster. */
struct faults {
	double noise;                    /* every path's normal slow share: drawn per
	                                    sample between half of it and all of it */
	double proxied[NBACKENDS];       /* extra share of a backend's replies slower than
	                                    the threshold, as the proxies time them */
	double probed[NNODES];           /* extra share of a node's own probes slow */
	uint64_t rate[NNODES];           /* extra new connections per second */
	bool ejected[NBACKENDS];         /* the proxies report the backend down */
	bool failing[NNODES];            /* the node's own listeners refuse mcmon */
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	size_t i;

	if (fx == NULL)
		return -1;
	*state = fx;
	if (watch_fixture_open(&fx->il, &fx->cfg, &fx->w, config_text, "test_watch_proxy") < 0)
		return -1;
	fx->now = T0;
	fx->rng = 16;
	for (i = 0; i < NPROXIES; i++)
		fx->proxy[i] = watch_find_node(&fx->w, "c1", proxy_names[i]);
	for (i = 0; i < NBACKENDS; i++)
		fx->backend[i] = watch_find_node(&fx->w, "c1", backend_names[i]);
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

/* --- feeding ------------------------------------------------------------------------- */

static size_t
node_index(const struct fixture *fx, const struct watch_node *n)
{
	return (size_t)(n - fx->w.nodes);
}

/* A share drawn for one sample: the fault's, plus the host's noise. */
static double
share(struct fixture *fx, double noise, double fault)
{
	return fault + (noise > 0 ? rng_range(&fx->rng, noise / 2, noise) : 0.0);
}

/* One poll of node n: `stats` and an empty `stats kernel`; a proxy also answers `stats
 * proxy` and `stats backends`, each backend with REPLIES_PER_POLL more replies. */
static void
poll(struct fixture *fx, struct watch_node *n, const struct faults *f)
{
	char text[TEXT_MAX];
	size_t used = 0, i = node_index(fx, n), p, b;

	if (f->failing[i]) {
		watch_poll_failed(&fx->w, n, "connect: Connection refused", fx->now);
		return;
	}
	fx->total[i] += 10 + f->rate[i];
	test_appendf(text, sizeof(text), &used,
	    "STAT uptime 100\r\nSTAT curr_connections 20\r\nSTAT total_connections %llu\r\n"
	    "END\r\nEND\r\n", (unsigned long long)fx->total[i]);
	for (p = 0; p < NPROXIES && fx->proxy[p] != n; p++)
		;
	if (p < NPROXIES) {
		test_appendf(text, sizeof(text), &used, "STAT backends %d\r\nSTAT backends_up %d\r\n"
		    "STAT client_connections 20\r\nSTAT requests 5\r\nEND\r\n", NBACKENDS,
		    NBACKENDS);
		for (b = 0; b < NBACKENDS; b++) {
			uint64_t slow = (uint64_t)(share(fx, f->noise, f->proxied[b]) *
			    REPLIES_PER_POLL + 0.5);
			fx->replies[p][b] += REPLIES_PER_POLL;
			fx->slow[p][b] += slow;
			test_appendf(text, sizeof(text), &used,
			    "STAT %s:addr 127.0.0.1:100%zu\r\nSTAT %s:state %s\r\n"
			    "STAT %s:requests %llu\r\nSTAT %s:replies %llu\r\n"
			    "STAT %s:latency_p50_us 250\r\nSTAT %s:latency_p99_us 9000\r\n"
			    "STAT %s:tail_share %.6f\r\nSTAT %s:down_since 0\r\n",
			    backend_names[b], b + 1, backend_names[b], f->ejected[b] ? "down" : "up",
			    backend_names[b], (unsigned long long)fx->replies[p][b], backend_names[b],
			    (unsigned long long)fx->replies[p][b], backend_names[b], backend_names[b],
			    backend_names[b],
			    (double)fx->slow[p][b] / (double)fx->replies[p][b], backend_names[b]);
		}
		test_appendf(text, sizeof(text), &used, "END\r\n");
	}
	watch_poll(&fx->w, n, text, used, 300, fx->now);
}

/* ms of simulated time: probes every TICK_MS, polls and evaluations every PERIOD_MS. */
static void
simulate(struct fixture *fx, int64_t ms, const struct faults *f)
{
	static const struct faults quiet;
	int64_t end = fx->now + ms;
	size_t i;

	if (f == NULL)
		f = &quiet;
	while (fx->now < end) {
		fx->now += TICK_MS;
		for (i = 0; i < NNODES; i++) {
			bool slow = rng_range(&fx->rng, 0, 1) < share(fx, f->noise, f->probed[i]);
			if (f->failing[i])
				watch_probe(&fx->w, &fx->w.nodes[i], WATCH_PROBE_FAILED, 0,
				    "connect: Connection refused", fx->now);
			else
				watch_probe(&fx->w, &fx->w.nodes[i], WATCH_PROBE_OK,
				    slow ? SLOW_US : FAST_US, NULL, fx->now);
		}
		if ((fx->now - T0) % PERIOD_MS == 0) {
			for (i = 0; i < NNODES; i++)
				poll(fx, &fx->w.nodes[i], f);
			watch_evaluate(&fx->w, fx->now);
		}
	}
}

/* Runs until the incident with fingerprint fp is open or `limit` ms have passed;
 * returns the ms it took (limit + 1 if it never opened). */
static int64_t
run_until_open(struct fixture *fx, const char *fp, int64_t limit, const struct faults *f)
{
	struct ilog_incident inc;
	char err[ILOG_ERR_LEN];
	int64_t t;

	for (t = 0; t <= limit; t += PERIOD_MS) {
		if (ilog_incident_find(fx->il.log, fp, &inc, err, sizeof(err)) == ILOG_OK)
			return t;
		simulate(fx, PERIOD_MS, f);
	}
	return limit + 1;
}

/* --- latency attribution ------------------------------------------------------------ */

static void
two_slow_backends_are_one_incident_naming_both_and_the_proxies(void **state)
{
	struct fixture *fx = *state;
	struct faults f = { .noise = 0.01 };
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);
	int64_t took;

	assert_non_null(body);
	simulate(fx, 90 * 1000, &f); /* past the warm-up */
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 0);
	/* b1 and b2 answer the proxies slowly; mcmon's own probes of them do not see it
	 * (the path between the proxies and those backends). */
	f.proxied[0] = f.proxied[1] = 0.15;
	took = run_until_open(fx, "latency_tail:c1", 15 * 1000, &f);
	assert_true(took <= 15 * 1000);
	simulate(fx, 5000, &f);
	assert_true(test_ilog_last_evidence(fx->il.log, "latency_tail:c1", &inc, body,
	    BODY_MAX) > 0);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 1);
	assert_non_null(strstr(body, "\"backends\":[\"b1\",\"b2\"]"));
	assert_non_null(strstr(body, "\"extent\":\"backends\""));
	assert_non_null(strstr(body, "\"proxies_seeing\":[\"p1\",\"p2\"]"));
	assert_non_null(strstr(body, "\"slow_at\":[\"p1\",\"p2\"]"));
	assert_non_null(strstr(body, "backends b1, b2 slow, seen by proxies p1, p2"));
	assert_null(strstr(body, "cluster-wide"));
	assert_true(inc.severity >= ILOG_SEVERITY_MAJOR);

	/* Over: the incident resolves, and nothing else was opened. */
	f.proxied[0] = f.proxied[1] = 0;
	simulate(fx, 120 * 1000, &f);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_UNRESOLVED), 0);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 1);
	free(body);
}

static void
one_slow_backend_is_named_alone(void **state)
{
	struct fixture *fx = *state;
	struct faults f = { .noise = 0.01 };
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);

	assert_non_null(body);
	simulate(fx, 90 * 1000, &f);
	f.proxied[2] = 0.2;
	assert_true(run_until_open(fx, "latency_tail:c1", 15 * 1000, &f) <= 15 * 1000);
	simulate(fx, 5000, &f);
	assert_true(test_ilog_last_evidence(fx->il.log, "latency_tail:c1", &inc, body,
	    BODY_MAX) > 0);
	assert_non_null(strstr(inc.title, "Latency tail on c1/b3: "));
	assert_non_null(strstr(body, "\"extent\":\"backend\""));
	assert_non_null(strstr(body, "backend b3 slow, seen by proxies p1, p2"));
	free(body);
}

/*
 * The seed's network-wide tail on a busy host: every path's normal is 1.5-3% of
 * requests above 5 ms. For ten minutes that noise opens nothing; then 12% more of
 * every backend's requests (probes and the proxies' replies) at 9 ms is caught within
 * 15 s, said to be cluster-wide, and once it ends the incident resolves with the noise
 * still there.
 */
static void
busy_host_noise_opens_nothing_and_a_network_wide_tail_is_cluster_wide(void **state)
{
	struct fixture *fx = *state;
	struct faults f = { .noise = 0.03 };
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);
	size_t b;

	assert_non_null(body);
	simulate(fx, 10 * 60 * 1000, &f);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 0);

	for (b = 0; b < NBACKENDS; b++) {
		f.proxied[b] = 0.12;
		f.probed[node_index(fx, fx->backend[b])] = 0.12;
	}
	assert_true(run_until_open(fx, "latency_tail:c1", 15 * 1000, &f) <= 15 * 1000);
	simulate(fx, 5000, &f);
	assert_true(test_ilog_last_evidence(fx->il.log, "latency_tail:c1", &inc, body,
	    BODY_MAX) > 0);
	assert_non_null(strstr(body, "\"extent\":\"cluster-wide\""));
	assert_non_null(strstr(body, "cluster-wide: every backend (3) slow"));
	assert_non_null(strstr(body, "\"backends\":[\"b1\",\"b2\",\"b3\"]"));
	assert_int_equal(inc.severity, ILOG_SEVERITY_CRITICAL);

	memset(f.proxied, 0, sizeof(f.proxied));
	memset(f.probed, 0, sizeof(f.probed));
	simulate(fx, 3 * 60 * 1000, &f);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_UNRESOLVED), 0);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 1);
	free(body);
}

/* A proxy restarts: its counters start again from zero. That poll is a new start, not a
 * difference (which would read as billions of replies, or of slow ones). */
static void
a_proxy_restart_is_a_new_start_not_a_difference(void **state)
{
	struct fixture *fx = *state;
	struct faults f = { .noise = 0.01 };
	const struct detect_tail *t;

	simulate(fx, 90 * 1000, &f);
	memset(fx->replies[0], 0, sizeof(fx->replies[0]));
	memset(fx->slow[0], 0, sizeof(fx->slow[0]));
	fx->slow[0][0] = 900; /* and what it counted since is mostly slow */
	fx->replies[0][0] = 1000;
	simulate(fx, 20 * 1000, &f);
	t = kind_tail_proxied(fx->backend[0]);
	assert_non_null(t);
	assert_true(t->evidence.short_fraction < 0.02);
	assert_true(t->evidence.short_count < 2 * 11 * REPLIES_PER_POLL);
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 0);
}

/* --- ejected, down, proxy down ------------------------------------------------------ */

/*
 * b2: both proxies report it down, and it answers mcmon: ejected. b3: the proxies
 * report it down and it refuses mcmon too: the backend is down (and the proxies that
 * eject it are named). p1 refuses mcmon: the proxy is down. Three incidents, each
 * saying which.
 */
static void
ejected_backend_down_and_proxy_down_are_told_apart(void **state)
{
	struct fixture *fx = *state;
	struct faults f = { 0 };
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);

	assert_non_null(body);
	simulate(fx, 10 * 1000, NULL);
	f.ejected[1] = f.ejected[2] = true;
	f.failing[node_index(fx, fx->backend[2])] = true;
	f.failing[node_index(fx, fx->proxy[0])] = true;
	simulate(fx, 5000, &f);

	assert_true(test_ilog_last_evidence(fx->il.log, "backend_ejected:c1:b2", &inc, body,
	    BODY_MAX) > 0);
	assert_string_equal(inc.title, "Backend c1/b2 ejected by proxies p2 (it answers mcmon)");
	assert_non_null(strstr(body, "\"ejected_by\":[\"p2\"]"));
	/* p1 is down: its view is not current, so only p2 reports (all that report). */
	assert_int_equal(inc.severity, ILOG_SEVERITY_MAJOR);

	assert_true(test_ilog_last_evidence(fx->il.log, "node_down:c1:b3", &inc, body,
	    BODY_MAX) > 0);
	assert_string_equal(inc.title, "Backend c1/b3 is down");
	assert_non_null(strstr(body, "\"role\":\"node\""));
	assert_non_null(strstr(body, "\"ejected_by\":[\"p2\"]"));
	assert_int_equal(test_ilog_last_evidence(fx->il.log, "backend_ejected:c1:b3", &inc, body,
	    BODY_MAX), 0);

	assert_true(test_ilog_last_evidence(fx->il.log, "node_down:c1:p1", &inc, body,
	    BODY_MAX) > 0);
	assert_string_equal(inc.title, "Proxy c1/p1 is down");
	assert_non_null(strstr(body, "\"role\":\"proxy\""));
	assert_int_equal(test_ilog_count(fx->il.log, NULL, ILOG_STATES_ALL), 3);

	/* The proxies take b2 back: its incident resolves after the hold. */
	f.ejected[1] = false;
	simulate(fx, 15 * 1000, &f);
	assert_int_equal(test_ilog_count(fx->il.log, "backend_ejected", ILOG_STATES_UNRESOLVED), 0);
	free(body);
}

/* --- what /metrics and the view for mctl status show ------------------------------- */

static void
metrics_and_the_view_show_the_proxies_and_their_backends(void **state)
{
	struct fixture *fx = *state;
	struct faults f = { 0 };
	struct metrics_daemon d = { 0 };
	struct promtext page;
	struct monstate st = { 0 };
	char err[ILOG_ERR_LEN];
	size_t b3 = node_index(fx, fx->backend[2]), p1 = node_index(fx, fx->proxy[0]);

	f.proxied[1] = 0.5;
	simulate(fx, 15 * 1000, &f);
	promtext_init(&page);
	assert_int_equal(metrics_render(&fx->w, &d, &page), 0);
	assert_non_null(strstr(page.buf, "mcmon_node_role{cluster=\"c1\",node=\"p1\",role=\"proxy\"} 1\n"));
	assert_non_null(strstr(page.buf, "mcmon_node_role{cluster=\"c1\",node=\"b1\",role=\"node\"} 1\n"));
	assert_non_null(strstr(page.buf, "memcached_proxy_backends_up{cluster=\"c1\",node=\"p2\"} 3\n"));
	assert_non_null(strstr(page.buf,
	    "memcached_proxy_backend_up{cluster=\"c1\",node=\"p1\",backend=\"b2\"} 1\n"));
	assert_non_null(strstr(page.buf,
	    "memcached_proxy_backend_replies_total{cluster=\"c1\",node=\"p1\",backend=\"b3\"} 15000\n"));
	assert_non_null(strstr(page.buf,
	    "memcached_proxy_backend_slow_replies_total{cluster=\"c1\",node=\"p1\",backend=\"b2\"} 7500\n"));
	assert_non_null(strstr(page.buf,
	    "memcached_proxy_backend_latency_seconds{cluster=\"c1\",node=\"p2\",backend=\"b1\",quantile=\"0.99\"} 0.009\n"));
	assert_non_null(strstr(page.buf,
	    "memcached_proxied_slow_ratio{cluster=\"c1\",node=\"b2\",window=\"short\"} 0.5\n"));
	/* A backend has no proxy figures. */
	assert_null(strstr(page.buf, "memcached_proxy_backends{cluster=\"c1\",node=\"b1\"}"));
	promtext_release(&page);

	assert_int_equal(watch_snapshot(&fx->w, &st, 1000, err, sizeof(err)), 0);
	assert_true(st.nodes[p1].proxy_role && st.nodes[p1].has_proxy);
	assert_int_equal(st.nodes[p1].proxy.backends, 3);
	assert_int_equal(st.nodes[p1].proxy.client_connections, 20);
	assert_false(st.nodes[b3].proxy_role || st.nodes[b3].has_proxy);
	assert_true(st.nodes[b3].has_via_proxies);
	assert_true(st.nodes[b3].via_proxies.replies >= 10 * NPROXIES * REPLIES_PER_POLL - 1);
	assert_int_equal(st.nodes[b3].via_proxies.proxies_down, 0);
	monstate_release(&st);
}

/* --- storms on proxies -------------------------------------------------------------- */

static void
a_storm_hopping_across_proxies_is_one_incident_naming_each_with_its_times(void **state)
{
	struct fixture *fx = *state;
	struct faults f = { 0 };
	struct ilog_incident inc;
	char *body = malloc(BODY_MAX);
	const char *p1, *p2;

	assert_non_null(body);
	simulate(fx, 10 * 1000, NULL);
	f.rate[node_index(fx, fx->proxy[0])] = 2000;
	simulate(fx, 4000, &f);
	memset(f.rate, 0, sizeof(f.rate));
	simulate(fx, 2000, &f);
	f.rate[node_index(fx, fx->proxy[1])] = 2000;
	simulate(fx, 4000, &f);
	assert_true(test_ilog_last_evidence(fx->il.log, "connection_storm:c1", &inc, body,
	    BODY_MAX) > 0);
	assert_int_equal(test_ilog_count(fx->il.log, "connection_storm", ILOG_STATES_ALL), 1);
	assert_non_null(strstr(body, "\"involved\":[\"p1\",\"p2\"]"));
	p1 = strstr(body, "{\"node\":\"p1\",\"role\":\"proxy\",\"joined_at\":\"");
	p2 = strstr(body, "{\"node\":\"p2\",\"role\":\"proxy\",\"joined_at\":\"");
	assert_non_null(p1);
	assert_non_null(p2);
	assert_true(p1 < p2); /* in the order they took part */
	assert_non_null(strstr(body, "\"last_at\":\""));
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    two_slow_backends_are_one_incident_naming_both_and_the_proxies, setup, teardown),
		cmocka_unit_test_setup_teardown(one_slow_backend_is_named_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    busy_host_noise_opens_nothing_and_a_network_wide_tail_is_cluster_wide, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(a_proxy_restart_is_a_new_start_not_a_difference,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(ejected_backend_down_and_proxy_down_are_told_apart,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(metrics_and_the_view_show_the_proxies_and_their_backends,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_storm_hopping_across_proxies_is_one_incident_naming_each_with_its_times, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
