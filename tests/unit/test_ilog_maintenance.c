/*
 * Unit tests of maintenances and silences in lib/ilog (lib/ilog_maintenance.h): the
 * state at a time, what scheduling refuses (and that a refusal changes nothing), the
 * explicit transitions and their events, the list, which window covers a cluster, and
 * that starts and ends by time are announced once each, across connections.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "helper.h"
#include "ilog.h"
#include "ilog_maintenance.h"

#define MIN 60000LL
#define HOUR (60 * MIN)

/* The types of the events after after_id, space-separated, into buf. */
static const char *
event_types(struct test_ilog *fx, int64_t after_id, char *buf, size_t cap)
{
	struct ilog_events ev = { 0 };
	size_t i, used = 0;

	assert_int_equal(ilog_tail(fx->log, after_id, 100, &ev, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	buf[0] = '\0';
	for (i = 0; i < ev.n; i++) {
		int w = snprintf(buf + used, cap - used, "%s%s", i > 0 ? " " : "", ev.v[i].type);

		assert_true(w > 0 && (size_t)w < cap - used);
		used += (size_t)w;
		assert_true(ev.v[i].incident_id == 0);
	}
	ilog_events_release(&ev);
	return buf;
}

static int64_t
last_event_id(struct test_ilog *fx)
{
	int64_t id = 0;

	assert_int_equal(ilog_last_event_id(fx->log, &id, fx->err, sizeof(fx->err)), ILOG_OK);
	return id;
}

static int64_t
schedule(struct test_ilog *fx, const char *cluster, int64_t from, int64_t until)
{
	int64_t id = 0;

	assert_int_equal(ilog_maint_schedule(fx->log, ILOG_MAINT_PUBLIC, cluster, from, until,
	    "Upgrade of c1", "We upgrade the nodes.", "mctl:ann", &id, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(id > 0);
	return id;
}

static void
state_follows_time_and_explicit_transitions(void **state)
{
	struct ilog_maintenance m = { .starts_at = 1000, .ends_at = 2000 };

	(void)state;
	assert_int_equal(ilog_maint_state_at(&m, 999), ILOG_MAINT_SCHEDULED);
	assert_int_equal(ilog_maint_state_at(&m, 1000), ILOG_MAINT_IN_PROGRESS);
	assert_int_equal(ilog_maint_state_at(&m, 1999), ILOG_MAINT_IN_PROGRESS);
	assert_int_equal(ilog_maint_state_at(&m, 2000), ILOG_MAINT_COMPLETED);
	m.started_at = 500;
	assert_int_equal(ilog_maint_state_at(&m, 600), ILOG_MAINT_IN_PROGRESS);
	assert_int_equal(ilog_maint_effective_start(&m), 500);
	m.completed_at = 1500;
	assert_int_equal(ilog_maint_state_at(&m, 1600), ILOG_MAINT_COMPLETED);
	assert_int_equal(ilog_maint_effective_end(&m), 1500);
	m.started_at = m.completed_at = 0;
	m.cancelled_at = 900;
	assert_int_equal(ilog_maint_state_at(&m, 1500), ILOG_MAINT_CANCELLED);
	assert_string_equal(ilog_maint_state_name(ILOG_MAINT_IN_PROGRESS), "in_progress");
}

static void
schedule_refuses_bad_input_and_changes_nothing(void **state)
{
	struct test_ilog *fx = *state;
	int64_t now = fx->fake.now, before = last_event_id(fx), id = 0;
	struct ilog_maintenance list[4];
	char longtitle[ILOG_MAINT_TITLE_MAX + 2];
	size_t n = 9;

	memset(longtitle, 'x', sizeof(longtitle) - 1);
	longtitle[sizeof(longtitle) - 1] = '\0';
#define REFUSED(kind, cl, from, until, title, msg, what)                                  \
	do {                                                                              \
		assert_int_equal(ilog_maint_schedule(fx->log, kind, cl, from, until, title,  \
		    msg, "mctl:ann", &id, fx->err, sizeof(fx->err)), ILOG_ERR_ARG);          \
		assert_non_null(strstr(fx->err, what));                                      \
	} while (0)
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now + HOUR, now + HOUR, "t", NULL, "end after");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now + 2 * HOUR, now + HOUR, "t", NULL, "end after");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now - 2 * HOUR, now - HOUR, "t", NULL, "over already");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now, now + ILOG_MAINT_LENGTH_MAX + 1, "t", NULL,
	    "longer than");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now + ILOG_MAINT_AHEAD_MAX + 1,
	    now + ILOG_MAINT_AHEAD_MAX + HOUR, "t", NULL, "ahead");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now, now + HOUR, NULL, NULL, "title");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now, now + HOUR, longtitle, NULL, "title");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now, now + HOUR, "two\nlines", NULL, "title");
	REFUSED(ILOG_MAINT_PUBLIC, "c 1", now, now + HOUR, "t", NULL, "cluster name");
	REFUSED(ILOG_MAINT_PUBLIC, "c1<script>", now, now + HOUR, "t", NULL, "cluster name");
	REFUSED(ILOG_MAINT_PUBLIC, "c1", now, now + HOUR, "t", "bad\001", "message");
#undef REFUSED
	assert_int_equal(ilog_maint_schedule(fx->log, ILOG_MAINT_PUBLIC, "c1", now, now + HOUR,
	    "t", NULL, "", &id, fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(last_event_id(fx), before);
	assert_int_equal(ilog_maint_list(fx->log, now, true, list, 4, &n, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(n, 0);

	/* A silence needs no title; every cluster is "". */
	assert_int_equal(ilog_maint_schedule(fx->log, ILOG_MAINT_SILENCE, NULL, now, now + HOUR,
	    NULL, NULL, "xmpp:ann@localhost", &id, fx->err, sizeof(fx->err)), ILOG_OK);
}

static void
transitions_write_one_event_each(void **state)
{
	struct test_ilog *fx = *state;
	int64_t now = fx->fake.now, before = last_event_id(fx);
	int64_t a = schedule(fx, "c1", now + HOUR, now + 3 * HOUR);
	int64_t b = schedule(fx, "c2", now + HOUR, now + 3 * HOUR);
	struct ilog_maintenance m;
	struct ilog_events ev = { 0 };
	char types[512];

	/* Not started yet: nothing to complete. */
	assert_int_equal(ilog_maint_complete(fx->log, a, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "maintenance 1 is scheduled"));
	fx->fake.now += MIN;
	assert_int_equal(ilog_maint_start(fx->log, a, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_maint_start(fx->log, a, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	assert_int_equal(ilog_maint_cancel(fx->log, a, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "complete it instead"));
	fx->fake.now += MIN;
	assert_int_equal(ilog_maint_complete(fx->log, a, "mctl:bob", fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_maint_get(fx->log, a, &m, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(m.started_at, now + MIN);
	assert_int_equal(m.completed_at, now + 2 * MIN);
	assert_int_equal(ilog_maint_state_at(&m, fx->fake.now), ILOG_MAINT_COMPLETED);
	assert_int_equal(m.announced, ILOG_MAINT_COMPLETED);
	assert_string_equal(m.created_by, "mctl:ann");

	assert_int_equal(ilog_maint_cancel(fx->log, b, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_maint_cancel(fx->log, b, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	assert_int_equal(ilog_maint_start(fx->log, 99, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	assert_string_equal(fx->err, "no maintenance 99");

	assert_string_equal(event_types(fx, before, types, sizeof(types)),
	    "maintenance_scheduled maintenance_scheduled maintenance_started "
	    "maintenance_completed maintenance_cancelled");
	assert_int_equal(ilog_tail(fx->log, before, 1, &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_string_equal(ev.v[0].actor, "mctl:ann");
	{
		char want[512];

		snprintf(want, sizeof(want),
		    "{\"maintenance\":1,\"kind\":\"public\",\"cluster\":\"c1\",\"starts_at\":%lld,"
		    "\"ends_at\":%lld,\"title\":\"Upgrade of c1\","
		    "\"message\":\"We upgrade the nodes.\"}",
		    (long long)(now + HOUR), (long long)(now + 3 * HOUR));
		assert_string_equal(ev.v[0].body_json, want);
	}
	ilog_events_release(&ev);
}

static void
silences_are_cancelled_while_running_and_never_announce_edges(void **state)
{
	struct test_ilog *fx = *state;
	int64_t now = fx->fake.now, before = last_event_id(fx), id = 0;
	char types[256];
	size_t written = 9;

	assert_int_equal(ilog_maint_schedule(fx->log, ILOG_MAINT_SILENCE, "c1", now,
	    now + 30 * MIN, "deploy", NULL, "xmpp:ann@localhost", &id, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_maint_start(fx->log, id, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	assert_int_equal(ilog_maint_complete(fx->log, id, "mctl:ann", fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_int_equal(ilog_maint_advance(fx->log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(written, 0);
	fx->fake.now += MIN;
	assert_int_equal(ilog_maint_cancel(fx->log, id, "xmpp:ann@localhost", fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_string_equal(event_types(fx, before, types, sizeof(types)),
	    "silence_set silence_cancelled");
}

static void
list_keeps_current_and_recent_windows_in_start_order(void **state)
{
	struct test_ilog *fx = *state;
	int64_t now = fx->fake.now;
	struct ilog_maintenance list[8];
	size_t n = 0;
	int64_t late = schedule(fx, "c1", now + 5 * HOUR, now + 6 * HOUR);
	int64_t early = schedule(fx, "c2", now + HOUR, now + 2 * HOUR);
	int64_t gone = schedule(fx, "c3", now + HOUR, now + 2 * HOUR);

	assert_int_equal(ilog_maint_cancel(fx->log, gone, "mctl:ann", fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_maint_list(fx->log, now, false, list, 8, &n, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].id, early);
	assert_int_equal(list[2].id, late);
	assert_string_equal(list[0].title, "Upgrade of c1");
	/* Eight days on, the cancelled and completed ones are history: only --all. */
	assert_int_equal(ilog_maint_list(fx->log, now + 8 * 24 * HOUR, false, list, 8, &n,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ilog_maint_list(fx->log, now, true, list, 2, &n, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, gone); /* newest first, capped at max */
}

static void
covering_window_is_the_running_one_of_the_cluster_or_of_all(void **state)
{
	struct ilog_maintenance v[3] = {
		{ .id = 1, .cluster = "c1", .starts_at = 100, .ends_at = 200 },
		{ .id = 2, .cluster = "", .starts_at = 150, .ends_at = 300 },
		{ .id = 3, .cluster = "c2", .starts_at = 100, .ends_at = 400, .cancelled_at = 120 },
	};
	int64_t until = 0;

	(void)state;
	assert_null(ilog_maint_covering(v, 3, "c1", 99));
	assert_int_equal(ilog_maint_covering(v, 3, "c1", 100)->id, 1);
	assert_int_equal(ilog_maint_covering(v, 3, "c1", 160)->id, 2); /* ends last */
	assert_true(ilog_maint_covers(v, 3, "c2", 160, &until));
	assert_int_equal(until, 300);
	assert_false(ilog_maint_covers(v, 1, "c2", 160, &until));
	assert_false(ilog_maint_covers(v, 3, "c1", 300, NULL));
}

static void
starts_and_ends_by_time_are_announced_once(void **state)
{
	struct test_ilog *fx = *state;
	int64_t now = fx->fake.now, before, id;
	struct test_ilog other;
	struct ilog_clock clock = { test_clock_now, test_clock_random, &fx->fake };
	char types[512];
	size_t written = 0;

	id = schedule(fx, "c1", now + HOUR, now + 2 * HOUR);
	(void)schedule(fx, "c2", now + 10 * HOUR, now + 11 * HOUR);
	before = last_event_id(fx);
	assert_int_equal(ilog_maint_advance(fx->log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(written, 0);

	fx->fake.now = now + HOUR;
	assert_int_equal(ilog_maint_advance(fx->log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(written, 1);
	/* A second connection (a restarted daemon, a second mcstatus) finds it written. */
	memset(&other, 0, sizeof(other));
	snprintf(other.path, sizeof(other.path), "%s", fx->path);
	other.log = ilog_open(other.path, NULL, other.err, sizeof(other.err));
	assert_non_null(other.log);
	ilog_set_clock(other.log, &clock);
	assert_int_equal(ilog_maint_advance(other.log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(written, 0);
	/* Completed early by command: the end is announced then, not again by time. */
	fx->fake.now += MIN;
	assert_int_equal(ilog_maint_complete(fx->log, id, "mctl:ann", fx->err, sizeof(fx->err)),
	    ILOG_OK);
	fx->fake.now = now + 3 * HOUR;
	assert_int_equal(ilog_maint_advance(other.log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(written, 0);
	/* A window that began and ended while nobody watched gets both, in order. */
	fx->fake.now = now + 12 * HOUR;
	assert_int_equal(ilog_maint_advance(other.log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(written, 2);
	ilog_close(other.log);
	assert_string_equal(event_types(fx, before, types, sizeof(types)),
	    "maintenance_started maintenance_completed maintenance_started "
	    "maintenance_completed");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_follows_time_and_explicit_transitions),
		TEST_ILOG_CASE(schedule_refuses_bad_input_and_changes_nothing),
		TEST_ILOG_CASE(transitions_write_one_event_each),
		TEST_ILOG_CASE(silences_are_cancelled_while_running_and_never_announce_edges),
		TEST_ILOG_CASE(list_keeps_current_and_recent_windows_in_start_order),
		cmocka_unit_test(covering_window_is_the_running_one_of_the_cluster_or_of_all),
		TEST_ILOG_CASE(starts_and_ends_by_time_are_announced_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
