/*
 * Unit tests of monitor/watch: the glue between the detectors and the incident log,
 * driven by a fake clock against a temporary incident log. Polls are fed as the text
 * an mcd admin port answers; probes as outcomes with latencies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "helper.h"
#include "ilog.h"
#include "log.h"
#include "monitor/monconfig.h"
#include "monitor/kind.h"
#include "monitor/watch.h"
#include "watch_fixture.h"

#define T0 10000000 /* the fake monotonic clock's start */
#define EVAL_MS 500
#define POLL_MS 500
#define STATS_TEXT_MAX 2048

/* Indices into the per-kind arrays (lib/kinds.h). */
#define STORM kinds_index("connection_storm")
#define DOWN kinds_index("node_down")

static const char config_text[] =
    "[monitor]\n"
    "poll_interval = 500ms\n"
    "evaluate_interval = 500ms\n"
    "probe_rate = 50\n"
    "resolve_hold = 5s\n"
    "evidence_interval = 0\n"
    "storm_warmup = 3\n"
    "storm_enter = 2\n"
    "storm_exit = 2\n"
    "storm_overflow_rate = 0\n"
    "cluster_grace = 2s\n"
    "down_failures = 3\n"
    "down_silence = 2s\n"
    "down_recoveries = 2\n"
    "down_critical = 30s\n"
    "tail_threshold = 5ms\n"
    "tail_short_window = 2s\n"
    "tail_long_window = 4s\n"
    "tail_slot = 500ms\n"
    "tail_min_samples = 20\n"
    "tail_long_min_samples = 40\n"
    "tail_clear_hold = 1s\n"
    "tail_warmup = 2s\n"
    "[cluster c1]\n"
    "[node n1]\ncluster = c1\nclient = 127.0.0.1:1001\nadmin = 127.0.0.1:2001\n"
    "[node n2]\ncluster = c1\nclient = 127.0.0.1:1002\nadmin = 127.0.0.1:2002\n"
    "[node n3]\ncluster = c1\nclient = 127.0.0.1:1003\nadmin = 127.0.0.1:2003\n";

struct fixture {
	struct test_ilog il;
	struct monconfig cfg;
	struct ilog *log; /* il.log */
	struct watch w;
	int64_t now;
	uint64_t total[3]; /* each node's total_connections */
};

static int
load_config(struct monconfig *cfg, const char *text)
{
	struct config_errors errs = { 0 };
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = monconfig_load_string(cfg, "test.conf", text, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	config_errors_release(&errs);
	return rc;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	*state = fx;
	if (watch_fixture_open(&fx->il, &fx->cfg, &fx->w, config_text, "test_watch") < 0)
		return -1;
	fx->log = fx->il.log;
	fx->now = T0;
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
stats_text(char *buf, size_t cap, uint64_t curr, uint64_t total, bool kernel)
{
	int n = snprintf(buf, cap,
	    "STAT pid 1\r\nSTAT uptime 100\r\nSTAT rusage_user 0.1\r\n"
	    "STAT curr_connections %llu\r\nSTAT total_connections %llu\r\n"
	    "STAT rejected_connections 4\r\nSTAT max_connections 1024\r\n"
	    "STAT get_hits 7\r\nSTAT get_misses 2\r\nEND\r\n",
	    (unsigned long long)curr, (unsigned long long)total);

	if (kernel)
		n += snprintf(buf + n, cap - (size_t)n,
		    "STAT listener:client:addr 127.0.0.1:1001\r\n"
		    "STAT listener:client:established %llu\r\n"
		    "STAT listener:client:time_wait 3\r\n"
		    "STAT listener:client:accept_queue 0\r\n"
		    "STAT listener:client:backlog 1024\r\n"
		    "STAT kernel_method netlink\r\n"
		    "STAT host:listen_overflows 96\r\nSTAT host:listen_drops 97\r\n"
		    "STAT kernel_established %llu\r\nSTAT kernel_not_accepted 0\r\nEND\r\n",
		    (unsigned long long)curr, (unsigned long long)curr);
	else
		n += snprintf(buf + n, cap - (size_t)n, "ERROR\r\n");
	return (size_t)n;
}

/* One poll of node i with `rate` new connections per second since the last one. */
static void
poll_node(struct fixture *fx, size_t i, uint64_t curr, uint64_t rate)
{
	char text[STATS_TEXT_MAX];
	size_t len;

	fx->total[i] += rate * POLL_MS / 1000;
	len = stats_text(text, sizeof(text), curr, fx->total[i], true);
	watch_poll(&fx->w, &fx->w.nodes[i], text, len, 300, fx->now);
}

/* What every node does during a run; zero is a healthy, quiet node. */
struct world {
	bool failing[3];     /* probes refused */
	uint64_t slow_every; /* every n-th probe takes 9 ms (0: none) */
	bool fast[3];        /* never slow, whatever slow_every says */
	uint64_t rate[3];    /* extra new connections per second */
};

/*
 * ms of simulated time: probes of every node every 20 ms, polls every POLL_MS
 * (10 new connections a second, 20 open, plus the world's extra rate), and an
 * evaluation every EVAL_MS, as the daemon runs them.
 */
static void
simulate(struct fixture *fx, int64_t ms, const struct world *wd)
{
	static const struct world quiet;
	int64_t end = fx->now + ms, start = fx->now;
	uint64_t k = 0;
	size_t i;

	if (wd == NULL)
		wd = &quiet;
	while (fx->now < end) {
		fx->now += 20;
		k++;
		for (i = 0; i < fx->w.nnodes; i++) {
			if (wd->failing[i])
				watch_probe(&fx->w, &fx->w.nodes[i], WATCH_PROBE_FAILED, 0,
				    "connect: Connection refused", fx->now);
			else
				watch_probe(&fx->w, &fx->w.nodes[i], WATCH_PROBE_OK,
				    wd->slow_every != 0 && k % wd->slow_every == 0 && !wd->fast[i] ?
					9000 : 300, NULL,
				    fx->now);
		}
		if ((fx->now - start) % POLL_MS == 0) {
			for (i = 0; i < fx->w.nnodes; i++)
				if (!wd->failing[i])
					poll_node(fx, i, 20, 10 + wd->rate[i]);
		}
		if ((fx->now - start) % EVAL_MS == 0)
			watch_evaluate(&fx->w, fx->now);
	}
}

/* Healthy for ms, except that the nodes marked fail refuse their probes. */
static void
run(struct fixture *fx, int64_t ms, const bool *fail, uint64_t slow_every)
{
	struct world wd;

	memset(&wd, 0, sizeof(wd));
	for (size_t i = 0; fail != NULL && i < 3; i++)
		wd.failing[i] = fail[i];
	wd.slow_every = slow_every;
	simulate(fx, ms, &wd);
}

/* --- reading the log ------------------------------------------------------------------ */

static int64_t
find_open(struct fixture *fx, const char *fingerprint, struct ilog_incident *out)
{
	char err[ILOG_ERR_LEN];

	if (ilog_incident_find(fx->log, fingerprint, out, err, sizeof(err)) != ILOG_OK)
		return 0;
	return out->id;
}

/* The incident's events of a type, and the body of the last one of them. */
static size_t
count_events(struct fixture *fx, int64_t id, const char *type, char *last_body, size_t cap)
{
	struct ilog_events ev = { 0 };
	char err[ILOG_ERR_LEN];
	size_t i, n = 0;

	assert_int_equal(ilog_timeline(fx->log, id, &ev, err, sizeof(err)), ILOG_OK);
	for (i = 0; i < ev.n; i++) {
		if (type != NULL && strcmp(ev.v[i].type, type) != 0)
			continue;
		n++;
		if (last_body != NULL)
			snprintf(last_body, cap, "%s", ev.v[i].body_json);
	}
	ilog_events_release(&ev);
	return n;
}

/* --- node down ----------------------------------------------------------------------- */

static void
node_down_opens_one_incident_with_evidence_and_resolves_after_the_hold(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { false, true, false };
	struct ilog_incident inc;
	char body[4096];
	int64_t id;

	run(fx, 2000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, NULL, ILOG_STATES_ALL), 0);
	run(fx, 1000, fail, 0);
	id = find_open(fx, "node_down:c1:n2", &inc);
	assert_true(id > 0);
	assert_string_equal(inc.kind, "node_down");
	assert_string_equal(inc.node, "n2");
	assert_int_equal(inc.severity, ILOG_SEVERITY_MAJOR);
	assert_string_equal(inc.title, "Node c1/n2 is down");
	assert_int_equal(count_events(fx, id, "opened", NULL, 0), 1);
	assert_int_equal(count_events(fx, id, "evidence", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "\"node\":\"n2\""));
	assert_non_null(strstr(body, "Connection refused"));

	/* It lasts: nothing more is written (evidence_interval = 0). */
	run(fx, 10000, fail, 0);
	assert_int_equal(count_events(fx, id, NULL, NULL, 0), 2);

	/* Back: cleared by the detector, resolved only after resolve_hold (5 s). */
	run(fx, 3000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, "node_down", ILOG_STATES_UNRESOLVED), 1);
	run(fx, 3000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, "node_down", ILOG_STATES_UNRESOLVED), 0);
	assert_int_equal(count_events(fx, id, "resolved", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "cleared"));
	assert_int_equal(test_ilog_count(fx->log, NULL, ILOG_STATES_ALL), 1);
	assert_int_equal(fx->w.incidents_opened, 1);
	assert_int_equal(fx->w.incidents_resolved, 1);
}

static void
node_flapping_within_the_hold_is_one_incident(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { true, false, false };
	struct ilog_incident inc;
	char body[4096];
	int64_t id;
	int k;

	run(fx, 1000, NULL, 0);
	for (k = 0; k < 4; k++) {
		run(fx, 1500, fail, 0); /* down */
		run(fx, 1500, NULL, 0); /* up again, for less than resolve_hold */
	}
	id = find_open(fx, "node_down:c1:n1", &inc);
	assert_true(id > 0);
	assert_int_equal(test_ilog_count(fx->log, "node_down", ILOG_STATES_ALL), 1);
	assert_int_equal(count_events(fx, id, "opened", NULL, 0), 1);
	/* The first evidence, then one per return. */
	assert_int_equal(count_events(fx, id, "evidence", body, sizeof(body)), 4);
	assert_non_null(strstr(body, "\"note\":\"fired again\""));
}

static void
down_seen_and_gone_between_two_evaluations_still_opens(void **state)
{
	struct fixture *fx = *state;
	int64_t id;
	struct ilog_incident inc;
	int k;

	watch_evaluate(&fx->w, fx->now);
	/* Three failures and two successes within one evaluation interval. */
	for (k = 0; k < 3; k++) {
		fx->now += 20;
		watch_probe(&fx->w, &fx->w.nodes[2], WATCH_PROBE_FAILED, 0, "reset", fx->now);
	}
	for (k = 0; k < 2; k++) {
		fx->now += 20;
		watch_probe(&fx->w, &fx->w.nodes[2], WATCH_PROBE_OK, 300, NULL, fx->now);
	}
	assert_int_equal(kind_down_detector(&fx->w.nodes[2])->status.state, DETECT_OK);
	fx->now += 400;
	watch_evaluate(&fx->w, fx->now);
	id = find_open(fx, "node_down:c1:n3", &inc);
	assert_true(id > 0);
	/* Nothing holds it open: resolved after the hold. */
	run(fx, 6000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, "node_down", ILOG_STATES_UNRESOLVED), 0);
}

static void
node_down_turning_critical_writes_one_severity_event(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { false, false, true };
	struct ilog_incident inc;
	int64_t id;

	run(fx, 1000, NULL, 0);
	run(fx, 40000, fail, 0); /* down_critical = 30 s */
	id = find_open(fx, "node_down:c1:n3", &inc);
	assert_true(id > 0);
	assert_int_equal(inc.severity, ILOG_SEVERITY_CRITICAL);
	assert_int_equal(count_events(fx, id, "severity", NULL, 0), 1);
	assert_int_equal(count_events(fx, id, NULL, NULL, 0), 3);
}

/* --- latency tail ------------------------------------------------------------------- */

static void
a_tail_on_every_node_is_one_cluster_incident(void **state)
{
	struct fixture *fx = *state;
	struct ilog_incident inc;
	char body[4096];
	int64_t id;

	run(fx, 5000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, NULL, ILOG_STATES_ALL), 0);
	run(fx, 6000, NULL, 5); /* every fifth probe at 9 ms on every node: 20% slow */
	id = find_open(fx, "latency_tail:c1", &inc);
	assert_true(id > 0);
	assert_string_equal(inc.kind, "latency_tail");
	assert_true(inc.node[0] == '\0');
	assert_non_null(strstr(inc.title, "Latency tail on c1: 3 nodes"));
	assert_non_null(strstr(inc.title, "slower than 5ms"));
	/* Three of three nodes at once. */
	assert_int_equal(inc.severity, ILOG_SEVERITY_CRITICAL);
	assert_int_equal(count_events(fx, id, "evidence", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "\"involved\":[\"n1\",\"n2\",\"n3\"]"));
	assert_non_null(strstr(body, "\"threshold_us\":5000"));
	assert_int_equal(test_ilog_count(fx->log, "latency_tail", ILOG_STATES_UNRESOLVED), 1);
	run(fx, 10000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, "latency_tail", ILOG_STATES_UNRESOLVED), 0);
	assert_int_equal(count_events(fx, id, "resolved", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "no node of c1 with a latency tail (3 took part"));
}

static void
a_tail_spreading_to_another_node_is_news_in_the_same_incident(void **state)
{
	struct fixture *fx = *state;
	struct world wd;
	struct ilog_incident inc;
	char body[4096];
	int64_t id;

	run(fx, 5000, NULL, 0);
	memset(&wd, 0, sizeof(wd));
	wd.slow_every = 5;
	wd.fast[0] = wd.fast[2] = true; /* n2 alone */
	simulate(fx, 6000, &wd);
	id = find_open(fx, "latency_tail:c1", &inc);
	assert_true(id > 0);
	assert_non_null(strstr(inc.title, "Latency tail on c1/n2: "));
	/* n3 joins: the same incident, an evidence event naming both, major. */
	wd.fast[2] = false;
	simulate(fx, 6000, &wd);
	assert_int_equal(find_open(fx, "latency_tail:c1", &inc), id);
	assert_true(inc.severity >= ILOG_SEVERITY_MAJOR);
	assert_int_equal(test_ilog_count(fx->log, "latency_tail", ILOG_STATES_ALL), 1);
	assert_true(count_events(fx, id, "evidence", body, sizeof(body)) >= 2);
	assert_non_null(strstr(body, "\"involved\":[\"n2\",\"n3\"]"));
}

static void
a_down_node_takes_no_part_in_a_tail(void **state)
{
	struct fixture *fx = *state;
	struct ilog_incident inc;

	run(fx, 5000, NULL, 0);
	/* A node whose probes time out: down, and no tail incident for it. */
	for (int k = 0; k < 200; k++) {
		fx->now += 20;
		watch_probe(&fx->w, &fx->w.nodes[0], WATCH_PROBE_TIMEOUT, 500000, "no reply",
		    fx->now);
		watch_probe(&fx->w, &fx->w.nodes[1], WATCH_PROBE_OK, 300, NULL, fx->now);
		watch_probe(&fx->w, &fx->w.nodes[2], WATCH_PROBE_OK, 300, NULL, fx->now);
		if (k % 25 == 0)
			watch_evaluate(&fx->w, fx->now);
	}
	assert_true(find_open(fx, "node_down:c1:n1", &inc) > 0);
	assert_int_equal(test_ilog_count(fx->log, "latency_tail", ILOG_STATES_UNRESOLVED), 0);
	assert_true(fx->w.nodes[0].probes_timeout >= 200);
}

static void
stray_slow_probes_open_nothing(void **state)
{
	struct fixture *fx = *state;

	run(fx, 60000, NULL, 100); /* 1% slow */
	assert_int_equal(test_ilog_count(fx->log, NULL, ILOG_STATES_ALL), 0);
}

/* --- connection storms ----------------------------------------------------------------- */

static void
storm_hopping_across_nodes_is_one_cluster_incident(void **state)
{
	struct fixture *fx = *state;
	struct ilog_incident inc;
	char body[8192];
	int64_t id;
	size_t node;

	run(fx, 5000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, NULL, ILOG_STATES_ALL), 0);
	/* A storm on n1, then on n2, then on n3, each gap shorter than cluster_grace. */
	for (node = 0; node < 3; node++) {
		struct world wd;
		memset(&wd, 0, sizeof(wd));
		wd.rate[node] = 2000;
		simulate(fx, 3000, &wd);
		simulate(fx, 1000, NULL);
	}
	id = find_open(fx, "connection_storm:c1", &inc);
	assert_true(id > 0);
	assert_string_equal(inc.node, "");
	assert_int_equal(test_ilog_count(fx->log, "connection_storm", ILOG_STATES_ALL), 1);
	/* Opened naming n1; spread to n2, then n3: one evidence event each. */
	assert_int_equal(count_events(fx, id, "opened", NULL, 0), 1);
	assert_int_equal(count_events(fx, id, "evidence", body, sizeof(body)), 3);
	assert_non_null(strstr(body, "\"involved\":[\"n1\",\"n2\",\"n3\"]"));
	assert_non_null(strstr(body, "\"note\":\"spread\""));
	assert_int_equal(inc.severity >= ILOG_SEVERITY_MAJOR, 1);

	run(fx, 15000, NULL, 0); /* storm_exit, cluster_grace 2 s, resolve_hold 5 s */
	assert_int_equal(test_ilog_count(fx->log, "connection_storm", ILOG_STATES_UNRESOLVED), 0);
	assert_int_equal(test_ilog_count(fx->log, "connection_storm", ILOG_STATES_ALL), 1);
}

static void
poll_replies_are_parsed_and_garbage_is_a_failed_poll(void **state)
{
	struct fixture *fx = *state;
	struct watch_node *n = &fx->w.nodes[0];
	char text[STATS_TEXT_MAX];
	size_t len;

	len = stats_text(text, sizeof(text), 33, 1000, true);
	watch_poll(&fx->w, n, text, len, 250, fx->now);
	assert_true(n->poll_ok);
	assert_int_equal(n->stats.curr_connections, 33);
	assert_int_equal(n->stats.total_connections, 1000);
	assert_int_equal(n->stats.rejected_connections, 4);
	assert_int_equal(n->stats.get_hits, 7);
	assert_true(n->stats.has_kernel);
	assert_true(n->stats.listener[NODESTATS_LISTENER_CLIENT].present);
	assert_false(n->stats.listener[NODESTATS_LISTENER_TLS].present);
	assert_int_equal(n->stats.listener[NODESTATS_LISTENER_CLIENT].states[0], 33);
	assert_int_equal(n->stats.listener[NODESTATS_LISTENER_CLIENT].states[5], 3); /* time_wait */
	assert_int_equal(n->stats.listener[NODESTATS_LISTENER_CLIENT].backlog, 1024);
	assert_int_equal(n->stats.listen_overflows, 96);
	assert_int_equal(n->stats.listen_drops, 97);

	/* A node without the kernel view (memcached): stats still count. */
	fx->now += POLL_MS;
	len = stats_text(text, sizeof(text), 34, 1001, false);
	watch_poll(&fx->w, n, text, len, 250, fx->now);
	assert_true(n->poll_ok);
	assert_false(n->stats.has_kernel);
	assert_int_equal(n->stats.curr_connections, 34);

	/* Abuse: an error, a truncated reply, lines that are not STAT. */
	watch_poll(&fx->w, n, "CLIENT_ERROR unauthenticated\r\n", 30, 10, fx->now);
	assert_false(n->poll_ok);
	assert_string_equal(n->poll_error, "stats: CLIENT_ERROR unauthenticated");
	watch_poll(&fx->w, n, "STAT curr_connections 1\r\n", 25, 10, fx->now);
	assert_false(n->poll_ok);
	watch_poll(&fx->w, n, "VALUE x 0 1\r\nx\r\nEND\r\n", 21, 10, fx->now);
	assert_false(n->poll_ok);
	assert_int_equal(n->polls_failed, 3);
	assert_int_equal(n->stats.curr_connections, 34); /* the last good numbers stay */
	/* Odd replies that are still a poll: numbers that do not parse count as unknown
	 * (0), never as garbage; a malformed STAT line costs that line only. */
	{
		static const struct {
			const char *text;
			uint64_t curr, total;
		} odd[] = {
			{ "STAT curr_connections -5\r\n"
			  "STAT total_connections 99999999999999999999\r\nEND\r\n", 0, 0 },
			{ "STAT curr_connections 7\r\nSTAT pointer_size\r\n"
			  "STAT ctl\x01 1\r\nSTAT total_connections 70\r\nEND\r\n", 7, 70 },
		};
		size_t i;

		for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			watch_poll(&fx->w, n, odd[i].text, strlen(odd[i].text), 10, fx->now);
			assert_true(n->poll_ok);
			assert_int_equal(n->stats.curr_connections, odd[i].curr);
			assert_int_equal(n->stats.total_connections, odd[i].total);
		}
	}
}

/* --- adoption, reload, others' actions ----------------------------------------------- */

static int64_t
open_by_hand(struct fixture *fx, const char *fp, const char *kind, const char *node)
{
	struct ilog_incident_spec spec = { 0 };
	struct ilog_upsert_result res;
	char err[ILOG_ERR_LEN];

	spec.fingerprint = fp;
	spec.kind = kind;
	spec.cluster = "c1";
	spec.node = node;
	spec.severity = ILOG_SEVERITY_MAJOR;
	spec.title = "left open by an earlier run";
	assert_int_equal(ilog_incident_upsert(fx->log, &spec, "mcmon", &res, err, sizeof(err)),
	    ILOG_OK);
	return res.id;
}

static void
adopted_incidents_resolve_unless_seen_again(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { false, true, false };
	char err[ILOG_ERR_LEN], body[4096];
	struct ilog_incident inc;
	int64_t gone, lasting, removed, manual, legacy;

	gone = open_by_hand(fx, "node_down:c1:n1", "node_down", "n1");
	lasting = open_by_hand(fx, "node_down:c1:n2", "node_down", "n2");
	removed = open_by_hand(fx, "node_down:c1:n9", "node_down", "n9");
	manual = open_by_hand(fx, "something:else", "manual", NULL);
	legacy = open_by_hand(fx, "latency_tail:c1:n1", "latency_tail", "n1");
	assert_int_equal(watch_adopt(&fx->w, fx->now, err, sizeof(err)), 0);
	/* An older version's per-node tail: resolved, pointing at the cluster's. */
	assert_int_equal(ilog_incident_get(fx->log, legacy, &inc, err, sizeof(err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);
	assert_int_equal(count_events(fx, legacy, "resolved", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "one incident per cluster now (latency_tail:c1)"));
	/* A node no longer configured: resolved at once. */
	assert_int_equal(ilog_incident_get(fx->log, removed, &inc, err, sizeof(err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);
	assert_int_equal(count_events(fx, removed, "resolved", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "node n9 of cluster c1 is not in the configuration"));

	run(fx, 15000, fail, 0);
	/* Seen again: the same incident continues. */
	assert_int_equal(find_open(fx, "node_down:c1:n2", &inc), lasting);
	assert_int_equal(count_events(fx, lasting, "evidence", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "seen again after a restart"));
	/* Not seen again: resolved. Not ours: untouched. */
	assert_int_equal(ilog_incident_get(fx->log, gone, &inc, err, sizeof(err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);
	assert_int_equal(count_events(fx, gone, "resolved", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "not seen again after the monitor restarted"));
	assert_int_equal(ilog_incident_get(fx->log, manual, &inc, err, sizeof(err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_OPEN);
}

static void
an_operator_resolve_is_not_undone_while_the_condition_lasts(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { true, false, false };
	struct ilog_incident inc;
	char err[ILOG_ERR_LEN];
	int64_t id;

	run(fx, 1000, fail, 0);
	id = find_open(fx, "node_down:c1:n1", &inc);
	assert_true(id > 0);
	assert_int_equal(ilog_incident_resolve(fx->log, id, "mctl:ops", "known", NULL, err,
	    sizeof(err)), ILOG_OK);
	run(fx, 20000, fail, 0);
	assert_int_equal(test_ilog_count(fx->log, "node_down", ILOG_STATES_ALL), 1);
	/* Worse: critical after down_critical is news, so a new incident. */
	run(fx, 15000, fail, 0);
	assert_int_equal(test_ilog_count(fx->log, "node_down", ILOG_STATES_ALL), 2);
	assert_true(find_open(fx, "node_down:c1:n1", &inc) > id);
	assert_int_equal(inc.severity, ILOG_SEVERITY_CRITICAL);
}

static void
a_failed_write_is_retried_at_the_next_evaluation(void **state)
{
	struct fixture *fx = *state;
	struct ilog_options ro = { 0 };
	bool fail[3] = { true, false, false };
	struct ilog_incident inc;
	char err[ILOG_ERR_LEN];
	struct ilog *readonly;

	ro.readonly = true;
	readonly = ilog_open(fx->il.path, &ro, err, sizeof(err));
	assert_non_null(readonly);
	fx->w.log = readonly;
	run(fx, 2000, fail, 0);
	assert_true(fx->w.incident_errors > 0);
	assert_int_equal(fx->w.nodes[0].incident[DOWN].phase, WATCH_NONE);
	fx->w.log = fx->log;
	run(fx, 600, fail, 0);
	assert_true(find_open(fx, "node_down:c1:n1", &inc) > 0);
	assert_int_equal(test_ilog_count(fx->log, NULL, ILOG_STATES_ALL), 1);
	ilog_close(readonly);
}

static void
reload_keeps_learnt_state_and_resolves_removed_nodes(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { false, false, true };
	struct monconfig cfg2;
	struct watch w2;
	char err[ILOG_ERR_LEN], body[4096];
	struct ilog_incident inc;
	const char *cut = strstr(config_text, "[node n3]");
	char text[sizeof(config_text)];
	int64_t id;
	uint64_t learnt;

	run(fx, 5000, NULL, 0);
	run(fx, 2000, fail, 0);
	id = find_open(fx, "node_down:c1:n3", &inc);
	assert_true(id > 0);
	snprintf(text, sizeof(text), "%.*s", (int)(cut - config_text), config_text);
	assert_int_equal(load_config(&cfg2, text), 0);
	assert_int_equal(watch_init(&w2, &cfg2, fx->log, err, sizeof(err)), 0);
	learnt = kind_storm_detector(&fx->w.nodes[0])->level.n;
	watch_take_over(&w2, &fx->w, fx->now);
	assert_int_equal(w2.nnodes, 2);
	assert_int_equal(kind_storm_detector(&w2.nodes[0])->level.n, learnt);
	assert_true(learnt >= 10);
	assert_true(w2.nodes[1].probes_ok > 0);
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, err, sizeof(err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);
	assert_int_equal(count_events(fx, id, "resolved", body, sizeof(body)), 1);
	assert_non_null(strstr(body, "no longer watched"));
	watch_release(&fx->w);
	fx->w = w2;
	monconfig_release(&fx->cfg);
	fx->cfg = cfg2;
	fx->w.cfg = &fx->cfg;
	fx->w.wall_ms = test_clock_start;
	run(fx, 2000, NULL, 0);
	assert_int_equal(test_ilog_count(fx->log, NULL, ILOG_STATES_UNRESOLVED), 0);
}

/*
 * A reload that points [log] path at another incident log: the incidents the
 * running watch holds are ids of the old log, and must not be written to (or
 * resolved in) the new one, where the same id is another incident.
 */
static void
reload_onto_another_incident_log_leaves_that_logs_incidents_alone(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { false, false, true };
	struct ilog_incident_spec spec;
	struct ilog_upsert_result res;
	struct ilog_incident inc;
	struct monconfig cfg2;
	struct ilog *other;
	struct watch w2;
	char err[ILOG_ERR_LEN], path[192];
	int64_t id, other_id;

	run(fx, 3000, NULL, 0);
	run(fx, 2000, fail, 0);
	id = find_open(fx, "node_down:c1:n3", &inc);
	assert_true(id > 0);

	/* The other log already holds an incident of its own, with the same id. */
	test_dir_file(path, sizeof(path), fx->il.dir, "other.db");
	other = ilog_open(path, NULL, err, sizeof(err));
	assert_non_null(other);
	memset(&spec, 0, sizeof(spec));
	spec.fingerprint = "disk_full:db1";
	spec.kind = "disk_full";
	spec.severity = ILOG_SEVERITY_MAJOR;
	spec.title = "Disk full on db1";
	assert_int_equal(ilog_incident_upsert(other, &spec, "someone", &res, err, sizeof(err)),
	    ILOG_OK);
	other_id = res.id;
	assert_int_equal(other_id, id);

	assert_int_equal(load_config(&cfg2, config_text), 0);
	assert_int_equal(watch_init(&w2, &cfg2, other, err, sizeof(err)), 0);
	w2.wall_ms = test_clock_start;
	watch_take_over(&w2, &fx->w, fx->now);
	watch_release(&fx->w);
	fx->w = w2;
	monconfig_release(&fx->cfg);
	fx->cfg = cfg2;
	fx->w.cfg = &fx->cfg;

	/* n3 stays down a while, then recovers for longer than resolve_hold. */
	run(fx, 2000, fail, 0);
	run(fx, 8000, NULL, 0);

	/* The other log's own incident is untouched... */
	assert_int_equal(ilog_incident_get(other, other_id, &inc, err, sizeof(err)), ILOG_OK);
	assert_string_equal(inc.fingerprint, "disk_full:db1");
	assert_int_equal(inc.state, ILOG_STATE_OPEN);
	/* ... and n3's outage is told in the log the monitor writes to now. */
	assert_int_equal(ilog_incident_find(other, "node_down:c1:n3", &inc, err, sizeof(err)),
	    ILOG_ERR_NOT_FOUND);
	{
		struct ilog_query q = { 0 };
		struct ilog_incidents list = { 0 };
		size_t i, found = 0;
		q.states = ILOG_STATES_ALL;
		q.kind = "node_down";
		assert_int_equal(ilog_incident_list(other, &q, &list, err, sizeof(err)), ILOG_OK);
		for (i = 0; i < list.n; i++)
			found += strcmp(list.v[i].fingerprint, "node_down:c1:n3") == 0 &&
			    list.v[i].state == ILOG_STATE_RESOLVED;
		ilog_incidents_release(&list);
		assert_int_equal(found, 1);
	}
	/* The old log's incident is not left open for ever. */
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, err, sizeof(err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);
	watch_release(&fx->w);
	fx->w.nnodes = 0;
	ilog_close(other);
	assert_int_equal(watch_init(&fx->w, &fx->cfg, fx->log, err, sizeof(err)), 0);
}

static void
snapshot_gives_mctl_status_its_view(void **state)
{
	struct fixture *fx = *state;
	bool fail[3] = { false, true, false };
	struct monstate st = { 0 };
	char err[ILOG_ERR_LEN];

	run(fx, 3000, NULL, 0);
	run(fx, 3000, fail, 0);
	assert_int_equal(watch_snapshot(&fx->w, &st, 500, err, sizeof(err)), 0);
	assert_int_equal(st.written_at, test_clock_start());
	assert_int_equal(st.interval_ms, 500);
	assert_int_equal(st.tail_threshold_us, 5000);
	assert_int_equal(st.nclusters, 1);
	assert_string_equal(st.clusters[0].name, "c1");
	assert_string_equal(st.clusters[0].kinds[STORM].detector.state, "ok");
	assert_int_equal(st.nnodes, 3);
	assert_string_equal(st.nodes[0].name, "n1");
	assert_true(st.nodes[0].up);
	assert_true(st.nodes[0].polled && st.nodes[0].poll_ok);
	assert_int_equal(st.nodes[0].connections, 20);
	assert_true(st.nodes[0].rate_known);
	assert_true(st.nodes[0].new_connections_per_second > 9.9 &&
	    st.nodes[0].new_connections_per_second < 10.1);
	assert_true(st.nodes[0].probes >= 20);
	assert_int_equal(st.nodes[0].p50_us >= 300 && st.nodes[0].p50_us < 310, 1);
	assert_false(st.nodes[1].up);
	assert_string_equal(st.nodes[1].kinds[DOWN].state, "firing");
	assert_string_equal(st.nodes[1].kinds[DOWN].severity, "major");
	assert_int_equal(st.nodes[1].last_probe_ok_at, test_clock_start());
	monstate_release(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    node_down_opens_one_incident_with_evidence_and_resolves_after_the_hold, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(node_flapping_within_the_hold_is_one_incident,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    down_seen_and_gone_between_two_evaluations_still_opens, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    node_down_turning_critical_writes_one_severity_event, setup, teardown),
		cmocka_unit_test_setup_teardown(a_tail_on_every_node_is_one_cluster_incident, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_tail_spreading_to_another_node_is_news_in_the_same_incident, setup, teardown),
		cmocka_unit_test_setup_teardown(a_down_node_takes_no_part_in_a_tail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(stray_slow_probes_open_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(storm_hopping_across_nodes_is_one_cluster_incident,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    poll_replies_are_parsed_and_garbage_is_a_failed_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(adopted_incidents_resolve_unless_seen_again, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    an_operator_resolve_is_not_undone_while_the_condition_lasts, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_write_is_retried_at_the_next_evaluation,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(reload_keeps_learnt_state_and_resolves_removed_nodes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    reload_onto_another_incident_log_leaves_that_logs_incidents_alone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(snapshot_gives_mctl_status_its_view, setup,
		    teardown),
	};
	log_init("test_watch", 1, LOG_LEVEL_WARN); /* the incidents' info lines are noise here */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
