/*
 * Unit tests of lib/ilog_heartbeat: one row per daemon renewed by each beat, the
 * readers' "up" and the pager's "stale" judgements (a fake clock), and the beater that
 * survives a locked log and says so once.
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

#include <sqlite3.h>

#include "ilog.h"
#include "ilog_heartbeat.h"

#define T0 1700000000000LL

struct fixture {
	char dir[64];
	char path[128];
	struct ilog *log;
	int64_t now;
	char err[ILOG_ERR_LEN];
};

static int64_t
fake_now(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	/* Short waits: the beater's test holds the lock on purpose. */
	struct ilog_options opts = { .busy_timeout_ms = 10, .busy_retry_ms = 50 };
	struct ilog_clock clock = { fake_now, NULL, NULL };

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ilog_hb.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/log.db", fx->dir);
	if ((fx->log = ilog_open(fx->path, &opts, fx->err, sizeof(fx->err))) == NULL)
		return -1;
	fx->now = T0;
	clock.arg = fx;
	ilog_set_clock(fx->log, &clock);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char p[160];

	ilog_close(fx->log);
	unlink(fx->path);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct ilog_heartbeat
beat_of(const char *daemon, int64_t pid, int64_t interval_ms, int64_t started_at)
{
	struct ilog_heartbeat hb;

	memset(&hb, 0, sizeof(hb));
	snprintf(hb.daemon, sizeof(hb.daemon), "%s", daemon);
	snprintf(hb.host, sizeof(hb.host), "host-a");
	hb.pid = pid;
	hb.interval_ms = interval_ms;
	hb.started_at = started_at;
	return hb;
}

static void
each_beat_replaces_its_daemons_one_row_stamped_by_the_log_clock(void **state)
{
	struct fixture *fx = *state;
	struct ilog_heartbeat mon = beat_of("mcmon", 11, 5000, T0 - 1000);
	struct ilog_heartbeat alert = beat_of("mcalert", 22, 2000, T0);
	struct ilog_heartbeats list = { 0 };
	const struct ilog_heartbeat *h;

	mon.beat_at = 42; /* ignored: the log's clock stamps the row */
	assert_int_equal(ilog_heartbeat_write(fx->log, &mon, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_heartbeat_write(fx->log, &alert, fx->err, sizeof(fx->err)), ILOG_OK);
	fx->now += 5000;
	mon.pid = 12; /* a restarted mcmon takes the row over */
	assert_int_equal(ilog_heartbeat_write(fx->log, &mon, fx->err, sizeof(fx->err)), ILOG_OK);

	assert_int_equal(ilog_heartbeat_list(fx->log, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 2);
	assert_false(list.truncated);
	assert_string_equal(list.v[0].daemon, "mcalert"); /* by name */
	assert_int_equal(list.v[0].beat_at, T0);
	assert_int_equal(list.v[0].interval_ms, 2000);
	h = ilog_heartbeat_find(&list, "mcmon");
	assert_non_null(h);
	assert_int_equal(h->pid, 12);
	assert_string_equal(h->host, "host-a");
	assert_int_equal(h->beat_at, T0 + 5000);
	assert_int_equal(h->started_at, T0 - 1000);
	assert_null(ilog_heartbeat_find(&list, "mcstatus"));
	ilog_heartbeats_release(&list);
}

static void
a_beat_with_a_bad_name_host_or_interval_is_refused_and_writes_nothing(void **state)
{
	struct fixture *fx = *state;
	struct ilog_heartbeat hb = beat_of("McMon", 1, 5000, T0);
	struct ilog_heartbeats list = { 0 };

	assert_int_equal(ilog_heartbeat_write(fx->log, &hb, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "daemon name 'McMon' is invalid"));
	hb = beat_of("", 1, 5000, T0);
	assert_int_equal(ilog_heartbeat_write(fx->log, &hb, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
	hb = beat_of("mcmon", 1, 0, T0);
	assert_int_equal(ilog_heartbeat_write(fx->log, &hb, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "interval 0 ms is not positive"));
	hb = beat_of("mcmon", 1, 5000, T0);
	snprintf(hb.host, sizeof(hb.host), "evil\nhost");
	assert_int_equal(ilog_heartbeat_write(fx->log, &hb, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "host name contains a control character"));

	assert_int_equal(ilog_heartbeat_list(fx->log, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 0);
	ilog_heartbeats_release(&list);
}

static void
up_allows_a_few_late_beats_of_the_daemons_own_interval(void **state)
{
	struct ilog_heartbeat hb = beat_of("mcmon", 1, 5000, T0);

	(void)state;
	hb.beat_at = T0;
	assert_true(ilog_heartbeat_up(&hb, T0));
	assert_true(ilog_heartbeat_up(&hb, T0 + 3 * 5000));
	assert_false(ilog_heartbeat_up(&hb, T0 + 3 * 5000 + 1));
	assert_int_equal(ilog_heartbeat_age_ms(&hb, T0 + 7000), 7000);
	/* A clock that went back is age 0, not a negative age. */
	assert_int_equal(ilog_heartbeat_age_ms(&hb, T0 - 7000), 0);
	assert_true(ilog_heartbeat_up(&hb, T0 - 7000));
}

static void
stale_counts_from_the_later_of_the_last_beat_and_the_watchers_start(void **state)
{
	struct ilog_heartbeat hb = beat_of("mcmon", 1, 5000, T0);
	int64_t started = T0 + 60000, stale = 30000;

	(void)state;
	/* Never beat: given the stale time from the watcher's start. */
	assert_false(ilog_heartbeat_stale(NULL, started, stale, started));
	assert_false(ilog_heartbeat_stale(NULL, started, stale, started + stale));
	assert_true(ilog_heartbeat_stale(NULL, started, stale, started + stale + 1));
	/* A beat older than the watcher counts as never. */
	hb.beat_at = T0;
	assert_false(ilog_heartbeat_stale(&hb, started, stale, started + 1));
	assert_true(ilog_heartbeat_stale(&hb, started, stale, started + stale + 1));
	/* A beat after the start moves the reference. */
	hb.beat_at = started + 10000;
	assert_false(ilog_heartbeat_stale(&hb, started, stale, hb.beat_at + stale));
	assert_true(ilog_heartbeat_stale(&hb, started, stale, hb.beat_at + stale + 1));
	/* A fresh beat after a stale spell is fresh again at once. */
	hb.beat_at = started + 500000;
	assert_false(ilog_heartbeat_stale(&hb, started, stale, hb.beat_at));
}

static void
the_beater_survives_a_locked_log_and_reports_the_failure_and_recovery_once(void **state)
{
	struct fixture *fx = *state;
	struct ilog_beater b;
	struct ilog_heartbeats list = { 0 };
	sqlite3 *holder;

	ilog_beater_init(&b, "mcstatus", 5000, T0);
	assert_int_equal(b.hb.pid, (int64_t)getpid());
	assert_int_equal(ilog_beater_tick(&b, fx->log, T0, fx->err, sizeof(fx->err)),
	    ILOG_BEAT_OK); /* the first beat is due at once */
	assert_int_equal(ilog_beater_tick(&b, fx->log, T0 + 4999, fx->err, sizeof(fx->err)),
	    ILOG_BEAT_IDLE);

	/* Another connection holds the write lock for longer than this one retries. */
	assert_int_equal(sqlite3_open(fx->path, &holder), SQLITE_OK);
	assert_int_equal(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	fx->now = T0 + 5000;
	assert_int_equal(ilog_beater_tick(&b, fx->log, T0 + 5000, fx->err, sizeof(fx->err)),
	    ILOG_BEAT_FAILED);
	assert_non_null(strstr(fx->err, "heartbeat not written (tried again every 5000 ms): "));
	/* Not retried in a loop: the next attempt waits for the next tick. */
	assert_int_equal(ilog_beater_tick(&b, fx->log, T0 + 5001, fx->err, sizeof(fx->err)),
	    ILOG_BEAT_IDLE);
	assert_int_equal(ilog_beater_tick(&b, fx->log, T0 + 10001, fx->err, sizeof(fx->err)),
	    ILOG_BEAT_STILL_FAILING);
	assert_int_equal(b.failures, 2);
	assert_int_equal(sqlite3_exec(holder, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(holder);

	fx->now = T0 + 15001;
	assert_int_equal(ilog_beater_tick(&b, fx->log, T0 + 15001, fx->err, sizeof(fx->err)),
	    ILOG_BEAT_RECOVERED);
	assert_string_equal(fx->err, "heartbeat written again after 2 failed beats");
	assert_int_equal(ilog_beater_tick(&b, fx->log, T0 + 20001, fx->err, sizeof(fx->err)),
	    ILOG_BEAT_OK);
	assert_int_equal(b.beats, 3);
	assert_int_equal(ilog_heartbeat_list(fx->log, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 1);
	assert_int_equal(list.v[0].beat_at, T0 + 15001);
	assert_int_equal(list.v[0].started_at, T0);
	ilog_heartbeats_release(&list);
}

static void
a_read_only_log_refuses_a_beat(void **state)
{
	struct fixture *fx = *state;
	struct ilog_options ro = { .readonly = true };
	struct ilog_heartbeat hb = beat_of("mcmon", 1, 5000, T0);
	struct ilog *log = ilog_open(fx->path, &ro, fx->err, sizeof(fx->err));

	assert_non_null(log);
	assert_int_equal(ilog_heartbeat_write(log, &hb, fx->err, sizeof(fx->err)), ILOG_ERR_DB);
	ilog_close(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    each_beat_replaces_its_daemons_one_row_stamped_by_the_log_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_beat_with_a_bad_name_host_or_interval_is_refused_and_writes_nothing, setup,
		    teardown),
		cmocka_unit_test(up_allows_a_few_late_beats_of_the_daemons_own_interval),
		cmocka_unit_test(stale_counts_from_the_later_of_the_last_beat_and_the_watchers_start),
		cmocka_unit_test_setup_teardown(
		    the_beater_survives_a_locked_log_and_reports_the_failure_and_recovery_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(a_read_only_log_refuses_a_beat, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
