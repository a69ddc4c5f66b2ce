/*
 * Unit tests of the recorded history: lib/ilog_history (append, read, prune) and
 * mcmon's recorder (monitor/history): a row per node and per cluster each interval,
 * with the latency share, percentiles, connections and new connections per second
 * of that interval, and retention by a fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "helper.h"
#include "ilog.h"
#include "ilog_history.h"
#include "monitor/history.h"
#include "monitor/monconfig.h"
#include "monitor/watch.h"
#include "watch_fixture.h"

#define T0 TEST_CLOCK_START_MS
#define S 1000LL
#define STATS_TEXT_MAX 512

static const char config_text[] =
    "[monitor]\n"
    "tail_threshold = 5ms\n"
    "history_interval = 10s\n"
    "history_retention = 1h\n"
    "[cluster c1]\n"
    "[node n1]\ncluster = c1\nclient = 127.0.0.1:1001\nadmin = 127.0.0.1:2001\n"
    "[node n2]\ncluster = c1\nclient = 127.0.0.1:1002\nadmin = 127.0.0.1:2002\n";

struct fixture {
	struct test_ilog il;
	struct monconfig cfg;
	struct watch w;
	struct mon_history h;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ilog_clock clock = { test_clock_now, NULL, NULL };

	if (fx == NULL ||
	    watch_fixture_open(&fx->il, &fx->cfg, &fx->w, config_text, "test_history") < 0)
		return -1;
	test_clock_init(&fx->il.fake, T0);
	clock.arg = &fx->il.fake;
	ilog_set_clock(fx->il.log, &clock);
	mon_history_init(&fx->h);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	mon_history_release(&fx->h);
	watch_fixture_close(&fx->il, &fx->cfg, &fx->w);
	free(fx);
	return 0;
}

static void
poll(struct fixture *fx, size_t i, uint64_t curr, uint64_t total)
{
	char text[STATS_TEXT_MAX];
	int n = snprintf(text, sizeof(text),
	    "STAT pid 1\r\nSTAT uptime 100\r\nSTAT curr_connections %llu\r\n"
	    "STAT total_connections %llu\r\nEND\r\nERROR\r\n",
	    (unsigned long long)curr, (unsigned long long)total);

	watch_poll(&fx->w, &fx->w.nodes[i], text, (size_t)n, 100, fx->il.fake.now);
}

/* The log's clock moves; the recorder is told the same time. */
static void
tick_at(struct fixture *fx, int64_t at)
{
	fx->il.fake.now = at;
	mon_history_tick(&fx->h, &fx->w, fx->il.log, at);
}

static void
read_all(struct fixture *fx, struct ilog_history_rows *rows)
{
	assert_int_equal(ilog_history_read(fx->il.log, "c1", 0, INT64_MAX, rows, fx->il.err,
	    sizeof(fx->il.err)), ILOG_OK);
}

static const struct ilog_history_row *
row_of(const struct ilog_history_rows *rows, int64_t at, const char *node)
{
	size_t i;

	for (i = 0; i < rows->n; i++)
		if (rows->v[i].at == at && strcmp(rows->v[i].node, node) == 0)
			return &rows->v[i];
	fail_msg("no row of '%s' at %lld", node, (long long)at);
	return NULL;
}

static void
a_row_per_node_and_cluster_each_interval_with_that_intervals_figures(void **state)
{
	struct fixture *fx = *state;
	struct ilog_history_rows rows;
	const struct ilog_history_row *r;
	int i;

	poll(fx, 0, 40, 1000);
	poll(fx, 1, 60, 5000);
	tick_at(fx, T0); /* the first tick only starts the counters */
	read_all(fx, &rows);
	assert_int_equal(rows.n, 0);
	ilog_history_rows_release(&rows);

	/* n1: 8 fast probes and 2 slow ones (above 5 ms); n2: none, not polled again. */
	for (i = 0; i < 10; i++)
		watch_probe(&fx->w, &fx->w.nodes[0], WATCH_PROBE_OK, i < 8 ? 1000 : 9000, NULL,
		    fx->il.fake.now);
	poll(fx, 0, 55, 1100);
	tick_at(fx, T0 + 5 * S);  /* not due yet */
	tick_at(fx, T0 + 10 * S);
	read_all(fx, &rows);
	assert_int_equal(rows.n, 3);
	r = row_of(&rows, T0 + 10 * S, "n1");
	assert_int_equal(r->probes, 10);
	assert_int_equal(r->slow, 2);
	assert_true(ilog_history_share(r) > 0.19 && ilog_history_share(r) < 0.21);
	assert_true(r->p50_us >= 1000 && r->p50_us < 1100);
	assert_true(r->p99_us >= 9000 && r->p99_us < 9100);
	assert_int_equal(r->connections, 55);
	assert_true(r->new_per_second > 9.99 && r->new_per_second < 10.01);
	r = row_of(&rows, T0 + 10 * S, "n2");
	assert_int_equal(r->probes, 0);
	assert_int_equal(r->p99_us, -1);
	assert_int_equal(r->connections, 60);
	assert_true(r->new_per_second == 0);
	r = row_of(&rows, T0 + 10 * S, "");
	assert_int_equal(r->probes, 10);
	assert_int_equal(r->slow, 2);
	assert_int_equal(r->connections, 115);
	ilog_history_rows_release(&rows);

	/* The probes were counted once: the next row starts from zero. */
	tick_at(fx, T0 + 20 * S);
	read_all(fx, &rows);
	assert_int_equal(rows.n, 6);
	assert_int_equal(row_of(&rows, T0 + 20 * S, "n1")->probes, 0);
	assert_int_equal(ilog_history_share(row_of(&rows, T0 + 20 * S, "")), -1);
	ilog_history_rows_release(&rows);
}

static void
rows_older_than_the_retention_are_pruned_on_schedule(void **state)
{
	struct fixture *fx = *state;
	struct ilog_history_rows rows;

	tick_at(fx, T0);           /* starts; prunes nothing; next prune in an hour */
	tick_at(fx, T0 + 10 * S);  /* 3 rows */
	tick_at(fx, T0 + 20 * S);  /* 3 rows */
	fx->il.fake.now = T0 + 3600 * S + 15 * S;
	/* Not the recorder's hour yet: nothing pruned by reading. */
	read_all(fx, &rows);
	assert_int_equal(rows.n, 6);
	ilog_history_rows_release(&rows);
	tick_at(fx, T0 + 3600 * S + 15 * S); /* writes 3, prunes those older than 15 s */
	read_all(fx, &rows);
	assert_int_equal(rows.n, 6);
	assert_int_equal(rows.v[0].at, T0 + 20 * S);
	ilog_history_rows_release(&rows);
	assert_int_equal(fx->h.rows_pruned, 3);
	/* Within the hour, nothing more goes, however old. */
	tick_at(fx, T0 + 3600 * S + 40 * S);
	read_all(fx, &rows);
	assert_int_equal(rows.v[0].at, T0 + 20 * S);
	ilog_history_rows_release(&rows);
	tick_at(fx, T0 + 2 * 3600 * S + 20 * S);
	read_all(fx, &rows);
	assert_true(rows.v[0].at >= T0 + 3600 * S + 20 * S);
	ilog_history_rows_release(&rows);
}

static void
the_log_refuses_rows_that_make_no_sense_and_reads_a_window(void **state)
{
	struct fixture *fx = *state;
	struct ilog_history_row r = { .at = T0, .cluster = "c1", .node = "n1", .probes = 3,
		.slow = 4, .p50_us = -1, .p99_us = -1, .connections = -1, .new_per_second = -1 };
	struct ilog_history_rows rows;
	char *err = fx->il.err;
	size_t len = sizeof(fx->il.err);

	assert_int_equal(ilog_history_append(fx->il.log, &r, 1, err, len), ILOG_ERR_ARG);
	r.slow = 1;
	r.cluster[0] = '\0';
	assert_int_equal(ilog_history_append(fx->il.log, &r, 1, err, len), ILOG_ERR_ARG);
	snprintf(r.cluster, sizeof(r.cluster), "c1");
	assert_int_equal(ilog_history_append(fx->il.log, &r, 1, err, len), ILOG_OK);
	r.at = T0 + 100 * S;
	assert_int_equal(ilog_history_append(fx->il.log, &r, 1, err, len), ILOG_OK);
	assert_int_equal(ilog_history_read(fx->il.log, "c1", T0 + S, T0 + 100 * S, &rows, err,
	    len), ILOG_OK);
	assert_int_equal(rows.n, 1);
	assert_int_equal(rows.v[0].connections, -1); /* unknown stays unknown */
	assert_true(rows.v[0].new_per_second < 0);
	ilog_history_rows_release(&rows);
	assert_int_equal(ilog_history_read(fx->il.log, "c2", 0, INT64_MAX, &rows, err, len),
	    ILOG_OK);
	assert_int_equal(rows.n, 0);
	ilog_history_rows_release(&rows);
	assert_int_equal(ilog_history_prune(fx->il.log, 0, NULL, err, len), ILOG_ERR_ARG);
}

static void
a_round_that_finds_the_log_locked_is_dropped_not_retried(void **state)
{
	struct fixture *fx = *state;
	/* mcmon's own options: a locked log costs the loop a quarter second at most. */
	struct ilog_options opts = { .busy_timeout_ms = 10, .busy_retry_ms = 50 };
	struct ilog_clock clock = { test_clock_now, NULL, &fx->il.fake };
	struct ilog_history_rows rows;
	struct ilog *log;
	sqlite3 *holder;

	log = ilog_open(fx->il.path, &opts, fx->il.err, sizeof(fx->il.err));
	assert_non_null(log);
	ilog_set_clock(log, &clock);
	fx->il.fake.now = T0;
	mon_history_tick(&fx->h, &fx->w, log, T0);
	assert_int_equal(sqlite3_open(fx->il.path, &holder), SQLITE_OK);
	assert_int_equal(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	fx->il.fake.now = T0 + 10 * S;
	mon_history_tick(&fx->h, &fx->w, log, T0 + 10 * S);
	assert_int_equal(fx->h.rounds_failed, 1);
	assert_true(fx->h.failing);
	/* Not retried at the next evaluation: the round waits for its own time. */
	mon_history_tick(&fx->h, &fx->w, log, T0 + 11 * S);
	assert_int_equal(fx->h.rounds_failed, 1);
	assert_int_equal(sqlite3_exec(holder, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(holder);
	fx->il.fake.now = T0 + 20 * S;
	mon_history_tick(&fx->h, &fx->w, log, T0 + 20 * S);
	assert_false(fx->h.failing);
	assert_int_equal(fx->h.rows_written, 3);
	read_all(fx, &rows);
	assert_int_equal(rows.n, 3);
	assert_int_equal(rows.v[0].at, T0 + 20 * S);
	ilog_history_rows_release(&rows);
	ilog_close(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    a_row_per_node_and_cluster_each_interval_with_that_intervals_figures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(rows_older_than_the_retention_are_pruned_on_schedule,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    the_log_refuses_rows_that_make_no_sense_and_reads_a_window, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_round_that_finds_the_log_locked_is_dropped_not_retried, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
