/*
 * Unit tests of alerter/watchdog's decision core: when mcalert opens and resolves the
 * "monitoring is not running" incident, from a heartbeat row and a fake clock, and
 * which daemons a configuration expects.
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

#include "config.h"
#include "alerter/settings.h"
#include "alerter/watchdog.h"

#define START 1700000000000LL /* mcalert's start */
#define STALE 30000

static struct ilog_heartbeat
row(int64_t beat_at)
{
	struct ilog_heartbeat hb;

	memset(&hb, 0, sizeof(hb));
	snprintf(hb.daemon, sizeof(hb.daemon), "mcmon");
	hb.pid = 42;
	hb.interval_ms = 5000;
	hb.beat_at = beat_at;
	return hb;
}

static void
a_beating_daemon_needs_nothing_once_a_leftover_incident_was_looked_for(void **state)
{
	struct ilog_heartbeat hb = row(START + 1000);

	(void)state;
	/* The first look resolves what a previous run may have left open. */
	assert_int_equal(watchdog_decide(true, WATCHDOG_UNKNOWN, &hb, START, STALE, START + 2000),
	    WATCHDOG_RESOLVE);
	assert_int_equal(watchdog_decide(true, WATCHDOG_FRESH, &hb, START, STALE, START + 2000),
	    WATCHDOG_NOTHING);
	assert_int_equal(watchdog_decide(true, WATCHDOG_FRESH, &hb, START, STALE,
	    START + 1000 + STALE), WATCHDOG_NOTHING);
}

static void
a_row_older_than_the_stale_time_opens_once_and_resolves_when_it_beats_again(void **state)
{
	struct ilog_heartbeat hb = row(START + 1000);
	int64_t now = START + 1000 + STALE + 1; /* SIGSTOP'd since its last beat */

	(void)state;
	assert_int_equal(watchdog_decide(true, WATCHDOG_FRESH, &hb, START, STALE, now),
	    WATCHDOG_OPEN);
	/* Opened: nothing more while it stays stale (no write per check). */
	assert_int_equal(watchdog_decide(true, WATCHDOG_STALE, &hb, START, STALE, now + 60000),
	    WATCHDOG_NOTHING);
	/* SIGCONT: the next beat resolves it. */
	hb.beat_at = now + 60000;
	assert_int_equal(watchdog_decide(true, WATCHDOG_STALE, &hb, START, STALE, now + 60001),
	    WATCHDOG_RESOLVE);
	/* An open that failed (state not recorded) is decided again at the next check. */
	hb.beat_at = START + 1000;
	assert_int_equal(watchdog_decide(true, WATCHDOG_UNKNOWN, &hb, START, STALE, now),
	    WATCHDOG_OPEN);
}

static void
a_daemon_that_never_beat_is_given_the_stale_time_from_mcalerts_start(void **state)
{
	struct ilog_heartbeat old = row(START - 3600000); /* a previous run's last beat */

	(void)state;
	assert_int_equal(watchdog_decide(true, WATCHDOG_UNKNOWN, NULL, START, STALE,
	    START + STALE), WATCHDOG_RESOLVE);
	assert_int_equal(watchdog_decide(true, WATCHDOG_FRESH, NULL, START, STALE,
	    START + STALE + 1), WATCHDOG_OPEN);
	assert_int_equal(watchdog_decide(true, WATCHDOG_FRESH, &old, START, STALE,
	    START + STALE), WATCHDOG_NOTHING);
	assert_int_equal(watchdog_decide(true, WATCHDOG_FRESH, &old, START, STALE,
	    START + STALE + 1), WATCHDOG_OPEN);
}

static void
a_daemon_not_expected_is_never_paged_and_its_old_incident_is_resolved(void **state)
{
	(void)state;
	assert_int_equal(watchdog_decide(false, WATCHDOG_FRESH, NULL, START, STALE,
	    START + 10 * STALE), WATCHDOG_NOTHING);
	/* A reload that stops expecting it ends the incident it had. */
	assert_int_equal(watchdog_decide(false, WATCHDOG_STALE, NULL, START, STALE,
	    START + 10 * STALE), WATCHDOG_RESOLVE);
	/* heartbeat_stale = 0 is "watch nobody" whatever the rows say. */
	assert_int_equal(watchdog_decide(true, WATCHDOG_FRESH, NULL, START, 0, START + 1),
	    WATCHDOG_NOTHING);
}

/*
 * A cluster needs a node: the file is the whole toolkit's, and mcmon and mcalert both
 * refuse a cluster with none (lib/cluster.c) rather than watch nothing silently.
 */
#define NODE "[node n1]\ncluster = c1\nclient = 127.0.0.1:11211\nadmin = 127.0.0.1:11311\n"

/* Loads text as a configuration file; returns settings_load()'s result. */
static int
load(struct alerter_settings *s, const char *text)
{
	char dir[] = "/tmp/test_watchdog.XXXXXX", path[64], pw[64];
	struct config_errors errs = { 0 };
	FILE *fp;
	int rc;

	assert_non_null(mkdtemp(dir));
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	fp = fopen(pw, "w");
	fputs("secret\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/mcops.conf", dir);
	fp = fopen(path, "w");
	fprintf(fp, "[escalation]\nstep1 = bob@example.com\n[alerter]\njid = mcalert@example.com\n"
		    "password_file = %s\n%s", pw, text);
	fclose(fp);
	rc = settings_load(s, path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	config_errors_release(&errs);
	unlink(path);
	unlink(pw);
	rmdir(dir);
	return rc;
}

static void
the_configuration_says_whom_to_expect_and_the_heartbeat_keys_have_defaults(void **state)
{
	struct alerter_settings *s = calloc(1, sizeof(*s));

	(void)state;
	assert_int_equal(load(s, ""), 0);
	assert_false(watchdog_expects(s, WATCHDOG_MONITOR)); /* nothing to monitor */
	assert_false(watchdog_expects(s, WATCHDOG_STATUSPAGE));
	assert_int_equal(s->heartbeat_interval_ms, 5000);
	assert_int_equal(s->heartbeat_stale_ms, 30000);
	assert_string_equal(s->heartbeat_url, "");
	settings_release(s);

	assert_int_equal(load(s, "heartbeat_stale = 5s\nheartbeat_url = http://127.0.0.1:1/p\n"
				 "[cluster c1]\n" NODE "[statuspage]\ndir = x\n"), 0);
	assert_true(watchdog_expects(s, WATCHDOG_MONITOR));
	assert_true(watchdog_expects(s, WATCHDOG_STATUSPAGE));
	assert_int_equal(s->heartbeat_stale_ms, 5000);
	assert_string_equal(s->heartbeat_url, "http://127.0.0.1:1/p");
	settings_release(s);

	assert_int_equal(load(s, "heartbeat_stale = 0\n[cluster c1]\n" NODE), 0);
	assert_false(watchdog_expects(s, WATCHDOG_MONITOR));
	settings_release(s);

	/* Abuse: a URL of another scheme, an interval out of range. */
	assert_int_equal(load(s, "heartbeat_url = ftp://x/\n"), -1);
	assert_int_equal(load(s, "heartbeat_interval = 1ms\n"), -1);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    a_beating_daemon_needs_nothing_once_a_leftover_incident_was_looked_for),
		cmocka_unit_test(
		    a_row_older_than_the_stale_time_opens_once_and_resolves_when_it_beats_again),
		cmocka_unit_test(a_daemon_that_never_beat_is_given_the_stale_time_from_mcalerts_start),
		cmocka_unit_test(a_daemon_not_expected_is_never_paged_and_its_old_incident_is_resolved),
		cmocka_unit_test(
		    the_configuration_says_whom_to_expect_and_the_heartbeat_keys_have_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
