/*
 * Unit tests of maintenances and silences in lib/ilog (lib/ilog_maintenance.h): the
 * state at a time, what scheduling refuses (and that a refusal changes nothing), the
 * explicit transitions and their events, the list, which window covers a cluster,
 * that starts and ends by time are announced once each, across connections, and that
 * the configuration's windows become rows once each within their lead time and are
 * cancelled or completed when the configuration drops them (ilog_maint_sync).
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
#include "maintwindow.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

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
	/* A configured window's row names several clusters. */
	snprintf(v[0].cluster, sizeof(v[0].cluster), "c10 c1 c3");
	assert_int_equal(ilog_maint_covering(v, 1, "c1", 100)->id, 1);
	assert_int_equal(ilog_maint_covering(v, 1, "c3", 100)->id, 1);
	assert_null(ilog_maint_covering(v, 1, "c", 100));
	assert_null(ilog_maint_covering(v, 1, "c2", 100));
	assert_null(ilog_maint_covering(v, 1, NULL, 100));
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

/* --- the configuration's windows ------------------------------------------------- */

/* A daily window "nightly" of c1 and c2, 30 minutes from start. */
static struct maint_window
nightly(int64_t start)
{
	struct maint_window w;

	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "nightly");
	w.start_ms = start;
	w.duration_ms = 30 * MIN;
	w.every_ms = DAY;
	snprintf(w.clusters[0], sizeof(w.clusters[0]), "c1");
	snprintf(w.clusters[1], sizeof(w.clusters[1]), "c2");
	w.nclusters = 2;
	snprintf(w.title, sizeof(w.title), "Nightly upgrade");
	w.public = true;
	return w;
}

/* Syncs the windows w[0..n) at log's now; the result's counts into *res. */
static void
sync_windows(struct ilog *log, const struct maint_window *w, size_t n,
    struct ilog_maint_sync_result *res)
{
	struct ilog_maint_occurrence o[4];
	char err[ILOG_ERR_LEN];
	size_t i, k = 0;

	assert_true(n <= 4);
	for (i = 0; i < n; i++)
		if (maint_window_as_row(&w[i], ilog_now(log), &o[k]))
			k++;
	assert_int_equal(ilog_maint_sync(log, MAINT_WINDOW_SOURCE_PREFIX, o, k, "mcstatus", res,
	    err, sizeof(err)), ILOG_OK);
}

/* Every row of the log (newest first) into v; their number. */
static size_t
all_rows(struct test_ilog *fx, struct ilog_maintenance *v, size_t max)
{
	size_t n = 0;

	assert_int_equal(ilog_maint_list(fx->log, fx->fake.now, true, v, max, &n, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	return n;
}

static void
configured_occurrence_is_recorded_once_within_its_lead_time(void **state)
{
	struct test_ilog *fx = *state;
	int64_t t0 = fx->fake.now, start = t0 + 2 * DAY, before;
	struct maint_window w = nightly(start);
	struct ilog_maint_sync_result res;
	struct ilog_clock clock = { test_clock_now, test_clock_random, &fx->fake };
	struct ilog_maintenance v[8];
	struct test_ilog other;
	char types[512];
	size_t written = 0;

	/* Two days ahead, a daily window is beyond its lead time (its period). */
	before = last_event_id(fx);
	sync_windows(fx->log, &w, 1, &res);
	assert_int_equal(res.recorded, 0);
	assert_int_equal(all_rows(fx, v, 8), 0);

	fx->fake.now = start - DAY;
	sync_windows(fx->log, &w, 1, &res);
	assert_int_equal(res.recorded, 1);
	assert_int_equal(all_rows(fx, v, 8), 1);
	assert_string_equal(v[0].created_by, "config:nightly");
	assert_string_equal(v[0].cluster, "c1 c2");
	assert_string_equal(v[0].title, "Nightly upgrade");
	assert_int_equal(v[0].starts_at, start);
	assert_int_equal(v[0].ends_at, start + 30 * MIN);
	assert_int_equal(v[0].kind, ILOG_MAINT_PUBLIC);

	/* Again, and from a second connection (a restart, a second mcstatus): nothing. */
	sync_windows(fx->log, &w, 1, &res);
	assert_int_equal(res.recorded + res.cancelled + res.completed, 0);
	memset(&other, 0, sizeof(other));
	other.log = ilog_open(fx->path, NULL, other.err, sizeof(other.err));
	assert_non_null(other.log);
	ilog_set_clock(other.log, &clock);
	sync_windows(other.log, &w, 1, &res);
	assert_int_equal(res.recorded, 0);

	/* It runs and ends as a scheduled one does; the next is recorded after it. */
	fx->fake.now = start + MIN;
	sync_windows(other.log, &w, 1, &res);
	assert_int_equal(res.recorded + res.cancelled + res.completed, 0);
	assert_int_equal(ilog_maint_advance(fx->log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(written, 1);
	fx->fake.now = start + 30 * MIN;
	sync_windows(fx->log, &w, 1, &res);
	sync_windows(other.log, &w, 1, &res);
	assert_int_equal(ilog_maint_advance(other.log, "mcstatus", &written, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	ilog_close(other.log);
	assert_int_equal(all_rows(fx, v, 8), 2);
	assert_int_equal(v[0].starts_at, start + DAY);
	assert_string_equal(event_types(fx, before, types, sizeof(types)),
	    "maintenance_scheduled maintenance_started maintenance_scheduled "
	    "maintenance_completed");
}

static void
dropped_window_rows_are_cancelled_or_completed_and_not_recorded_again(void **state)
{
	struct test_ilog *fx = *state;
	int64_t t0 = fx->fake.now, start = t0 + HOUR, before;
	struct maint_window w = nightly(start), edited;
	struct ilog_maint_sync_result res;
	struct ilog_maintenance v[8];
	char types[512];

	sync_windows(fx->log, &w, 1, &res);
	assert_int_equal(res.recorded, 1);
	before = last_event_id(fx);

	/* Made private (or removed) before it starts: cancelled, once. */
	w.public = false;
	sync_windows(fx->log, &w, 1, &res);
	assert_int_equal(res.cancelled, 1);
	sync_windows(fx->log, NULL, 0, &res);
	assert_int_equal(res.cancelled, 0);
	/* Public again: a cancelled occurrence stays cancelled (two processes reading two
	 * configurations settle instead of flapping). */
	w.public = true;
	sync_windows(fx->log, &w, 1, &res);
	assert_int_equal(res.recorded + res.cancelled, 0);
	/* Edited before it starts: the old one is cancelled, the new one recorded. */
	edited = w;
	edited.duration_ms = 45 * MIN;
	sync_windows(fx->log, &edited, 1, &res);
	assert_int_equal(res.recorded, 1);
	assert_int_equal(res.cancelled, 0); /* the only live row was the cancelled one */
	snprintf(edited.title, sizeof(edited.title), "Nightly upgrade, longer");
	sync_windows(fx->log, &edited, 1, &res);
	assert_int_equal(res.recorded, 1);
	assert_int_equal(res.cancelled, 1);
	assert_int_equal(all_rows(fx, v, 8), 3);
	assert_string_equal(v[0].title, "Nightly upgrade, longer");
	assert_int_equal(v[0].ends_at, start + 45 * MIN);

	/* Removed while it runs: completed now, its start announced first. */
	fx->fake.now = start + 10 * MIN;
	sync_windows(fx->log, &edited, 1, &res);
	assert_int_equal(res.recorded + res.cancelled + res.completed, 0);
	sync_windows(fx->log, NULL, 0, &res);
	assert_int_equal(res.completed, 1);
	assert_int_equal(all_rows(fx, v, 8), 3);
	assert_int_equal(ilog_maint_state_at(&v[0], fx->fake.now), ILOG_MAINT_COMPLETED);
	assert_string_equal(event_types(fx, before, types, sizeof(types)),
	    "maintenance_cancelled maintenance_scheduled maintenance_cancelled "
	    "maintenance_scheduled maintenance_started maintenance_completed");
	/* Nothing else is touched: a scheduled maintenance of mctl stays. */
	(void)schedule(fx, "c1", fx->fake.now + HOUR, fx->fake.now + 2 * HOUR);
	sync_windows(fx->log, NULL, 0, &res);
	assert_int_equal(res.cancelled + res.completed, 0);
}

static void
occurrence_a_row_cannot_hold_is_refused_and_writes_nothing(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_maint_occurrence o[2];
	struct ilog_maint_sync_result res;
	struct ilog_maintenance v[4];
	int64_t before = last_event_id(fx);

	memset(o, 0, sizeof(o));
	snprintf(o[0].source, sizeof(o[0].source), "config:odd");
	snprintf(o[0].cluster, sizeof(o[0].cluster), "c1 c;2");
	snprintf(o[0].title, sizeof(o[0].title), "Odd");
	o[0].starts_at = fx->fake.now + HOUR;
	o[0].ends_at = o[0].starts_at + HOUR;
	o[0].record = true;
	o[1] = o[0];
	snprintf(o[1].source, sizeof(o[1].source), "config:long");
	snprintf(o[1].cluster, sizeof(o[1].cluster), "c1");
	o[1].ends_at = o[1].starts_at + ILOG_MAINT_LENGTH_MAX + 1;
	assert_int_equal(ilog_maint_sync(fx->log, "config:", o, 2, "mcstatus", &res, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(res.refused, 2);
	assert_int_equal(res.recorded, 0);
	assert_non_null(strstr(res.why, "config:odd"));
	assert_int_equal(all_rows(fx, v, 4), 0);
	assert_int_equal(last_event_id(fx), before);
}

static void
prune_removes_windows_over_before_the_cut_and_keeps_the_rest(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_prune_result res;
	struct ilog_maintenance m;
	int64_t now = fx->fake.now, ended, cancelled, completed, running, upcoming;

	ended = schedule(fx, "c1", now + HOUR, now + 2 * HOUR);
	cancelled = schedule(fx, "c1", now + 50 * DAY, now + 51 * DAY);
	assert_int_equal(ilog_maint_cancel(fx->log, cancelled, "mctl:ann", fx->err,
	    sizeof(fx->err)), ILOG_OK);
	completed = schedule(fx, "c2", now, now + 10 * DAY);
	fx->fake.now += MIN;
	assert_int_equal(ilog_maint_complete(fx->log, completed, "mctl:ann", fx->err,
	    sizeof(fx->err)), ILOG_OK);
	running = schedule(fx, "c1", now + 95 * DAY, now + 105 * DAY); /* in progress when pruned */
	upcoming = schedule(fx, "c1", now + 150 * DAY, now + 151 * DAY);
	fx->fake.now = now + 100 * DAY;

	assert_int_equal(ilog_prune(fx->log, fx->fake.now - 90 * DAY, &res, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	/* Over before the cut: ended by time, cancelled, completed early. */
	assert_int_equal(res.maintenances, 3);
	assert_int_equal(ilog_maint_get(fx->log, ended, &m, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_maint_get(fx->log, cancelled, &m, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_maint_get(fx->log, completed, &m, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	/* Running and upcoming ones stay, whenever they were scheduled. */
	assert_int_equal(ilog_maint_get(fx->log, running, &m, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_maint_get(fx->log, upcoming, &m, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_prune(fx->log, fx->fake.now - 90 * DAY, &res, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(res.maintenances, 0);
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
		TEST_ILOG_CASE(configured_occurrence_is_recorded_once_within_its_lead_time),
		TEST_ILOG_CASE(dropped_window_rows_are_cancelled_or_completed_and_not_recorded_again),
		TEST_ILOG_CASE(occurrence_a_row_cannot_hold_is_refused_and_writes_nothing),
		TEST_ILOG_CASE(prune_removes_windows_over_before_the_cut_and_keeps_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
