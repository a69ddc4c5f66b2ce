/*
 * Unit tests of lib/ilog: schema and migrations, incident transitions, idempotent
 * open-or-update, events, tail and cursors, retention and export, and a log that
 * another connection or process keeps busy. The pages (lib/ilog_pages.h) and the
 * outbox (lib/ilog_outbox.h) have test files of their own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "helper.h"
#include "ilog.h"
#include "ilog_heartbeat.h"
#include "ilog_outbox.h"
#include "ilog_pages.h"

static size_t
count_events(struct test_ilog *fx, int64_t incident)
{
	struct ilog_events ev = { 0 };
	size_t n;

	assert_int_equal(ilog_timeline(fx->log, incident, &ev, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	n = ev.n;
	ilog_events_release(&ev);
	return n;
}

/* --- open-or-update ------------------------------------------------------------------- */

static void
upsert_same_fingerprint_returns_one_incident(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_incident_spec sp = { .fingerprint = "storm:c1", .kind = "storm",
		.cluster = "c1", .severity = ILOG_SEVERITY_MINOR, .title = "Storm in c1",
		.evidence_json = "{\"conns\": 900}" };
	struct ilog_upsert_result r1, r2;
	struct ilog_incident inc;
	struct ilog_events ev = { 0 };

	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r1, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(r1.created);
	assert_false(r1.raised);
	assert_true(r1.event_id > 0);
	fx->fake.now += 1000;
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r2, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(r2.id, r1.id);
	assert_false(r2.created);
	assert_false(r2.raised);
	assert_int_equal(r2.event_id, 0);
	assert_int_equal(count_events(fx, r1.id), 1); /* a persisting condition adds nothing */

	assert_int_equal(ilog_timeline(fx->log, r1.id, &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_string_equal(ev.v[0].type, "opened");
	assert_string_equal(ev.v[0].actor, "mcmon");
	assert_non_null(strstr(ev.v[0].body_json, "\"evidence\":{\"conns\":900}"));
	assert_int_equal(ev.v[0].at, 1700000000000);
	ilog_events_release(&ev);

	assert_int_equal(ilog_incident_find(fx->log, "storm:c1", &inc, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(inc.id, r1.id);
	assert_int_equal(inc.state, ILOG_STATE_OPEN);
	assert_string_equal(inc.cluster, "c1");
	assert_string_equal(inc.node, "");
	assert_int_equal(inc.opened_at, 1700000000000);
}

static void
upsert_raises_severity_and_never_lowers_it(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_incident_spec sp = { .fingerprint = "tail:c1", .kind = "latency",
		.severity = ILOG_SEVERITY_MAJOR, .title = "Slow requests" };
	struct ilog_upsert_result r;
	struct ilog_incident inc;
	struct ilog_events ev = { 0 };
	int64_t id;

	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	id = r.id;
	sp.severity = ILOG_SEVERITY_MINOR;
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_false(r.raised);
	assert_int_equal(r.previous, ILOG_SEVERITY_MAJOR);
	sp.severity = ILOG_SEVERITY_CRITICAL;
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(r.id, id);
	assert_true(r.raised);
	assert_int_equal(r.previous, ILOG_SEVERITY_MAJOR);
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(inc.severity, ILOG_SEVERITY_CRITICAL);
	assert_int_equal(ilog_timeline(fx->log, id, &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ev.n, 2);
	assert_string_equal(ev.v[1].type, "severity");
	assert_string_equal(ev.v[1].body_json, "{\"from\":\"major\",\"to\":\"critical\"}");
	ilog_events_release(&ev);
}

static void
upsert_after_resolve_opens_a_new_incident(void **state)
{
	struct test_ilog *fx = *state;
	int64_t a, b;

	a = test_ilog_incident(fx, "down:n1", ILOG_SEVERITY_MAJOR);
	assert_int_equal(ilog_incident_resolve(fx->log, a, "mcmon", "recovered", NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	b = test_ilog_incident(fx, "down:n1", ILOG_SEVERITY_MAJOR);
	assert_true(b > a);
	/* The resolved one cannot come back while the new one is unresolved. */
	assert_int_equal(ilog_incident_reopen(fx->log, a, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "unresolved for the same condition"));
}

static void
upsert_without_fingerprint_always_opens(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_incident_spec sp = { .kind = "manual", .severity = ILOG_SEVERITY_MINOR,
		.title = "Customer report" };
	struct ilog_upsert_result r1, r2;

	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mctl:ann", &r1, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mctl:ann", &r2, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(r1.created && r2.created);
	assert_int_not_equal(r1.id, r2.id);
}

static void
upsert_rejects_bad_arguments(void **state)
{
	struct test_ilog *fx = *state;
	char title[ILOG_TITLE_MAX + 2];
	struct ilog_incident_spec sp = { .kind = "storm", .severity = ILOG_SEVERITY_MINOR,
		.title = "x" };
	struct ilog_upsert_result r;
	struct ilog_incidents list = { 0 };

	sp.kind = "../../etc/passwd";
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "kind"));
	sp.kind = "storm";
	memset(title, 'a', sizeof(title) - 1);
	title[sizeof(title) - 1] = '\0';
	sp.title = title;
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "title is longer than 200 bytes"));
	sp.title = "bad \xff utf8";
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "UTF-8"));
	sp.title = "line\nbreak";
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	sp.title = "ok";
	sp.severity = (enum ilog_severity)7;
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	sp.severity = ILOG_SEVERITY_MINOR;
	sp.evidence_json = "[1, 2]";
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", &r, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "not a JSON object"));
	sp.evidence_json = NULL;
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "", &r, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_string_equal(fx->err, "actor is empty");
	/* Nothing was written by any of them. */
	assert_int_equal(ilog_incident_list(fx->log, NULL, &list, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(list.n, 0);
	ilog_incidents_release(&list);
}

/* --- transitions ---------------------------------------------------------------------- */

static void
ack_resolve_reopen_follow_the_state_machine(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_incident inc;
	int64_t id = test_ilog_incident(fx, "storm:n1", ILOG_SEVERITY_MAJOR), ev;

	fx->fake.now += 60000;
	assert_int_equal(ilog_incident_ack(fx->log, id, "mctl:ann", NULL, &ev, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(ev > 0);
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_ACKNOWLEDGED);
	assert_string_equal(inc.acked_by, "mctl:ann");
	assert_int_equal(inc.acked_at, fx->fake.now);

	fx->fake.now += 60000;
	assert_int_equal(ilog_incident_resolve(fx->log, id, "xmpp:bob@localhost", "fixed", NULL,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);
	assert_string_equal(inc.resolved_by, "xmpp:bob@localhost");
	assert_int_equal(inc.resolved_at, fx->fake.now);

	assert_int_equal(ilog_incident_reopen(fx->log, id, "mctl:ann", "came back", NULL,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_OPEN);
	assert_int_equal(inc.acked_at, 0);
	assert_string_equal(inc.acked_by, "");
	assert_int_equal(inc.resolved_at, 0);
	/* open -> resolved directly is allowed too. */
	assert_int_equal(ilog_incident_resolve(fx->log, id, "mcmon", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(count_events(fx, id), 5);
}

static void
invalid_transitions_are_refused_with_their_reason(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_incident inc;
	int64_t id = test_ilog_incident(fx, "storm:n2", ILOG_SEVERITY_MINOR);

	assert_int_equal(ilog_incident_reopen(fx->log, id, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_string_equal(fx->err, "incident 1 is not resolved (it is open)");
	assert_int_equal(ilog_incident_ack(fx->log, id, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_ack(fx->log, id, "mctl:bob", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_string_equal(fx->err, "incident 1 is already acknowledged by mctl:ann");
	assert_int_equal(ilog_incident_reopen(fx->log, id, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_string_equal(fx->err, "incident 1 is not resolved (it is acknowledged)");
	assert_int_equal(ilog_incident_resolve(fx->log, id, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_ack(fx->log, id, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_string_equal(fx->err, "incident 1 is resolved; reopen it first");
	assert_int_equal(ilog_incident_resolve(fx->log, id, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_string_equal(fx->err, "incident 1 is already resolved");
	/* Refusals wrote nothing: opened, acked, resolved. */
	assert_int_equal(count_events(fx, id), 3);

	assert_int_equal(ilog_incident_ack(fx->log, 99, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_string_equal(fx->err, "no incident 99");
	assert_int_equal(ilog_incident_resolve(fx->log, -1, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_incident_get(fx->log, 42, &inc, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
}

static void
notes_and_public_updates_are_kept_apart(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_public_entries pub = { 0 };
	struct ilog_incident inc;
	struct ilog_events ev = { 0 };
	int64_t id = test_ilog_incident(fx, "storm:n3", ILOG_SEVERITY_MAJOR), pev;

	assert_int_equal(ilog_incident_note(fx->log, id, "mctl:ann", "restarted proxy p3",
	    NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_public_update(fx->log, id, "mctl:ann", ILOG_PUBLIC_IDENTIFIED,
	    "A network change caused reconnects.", &pev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_resolve(fx->log, id, "mctl:ann", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	/* Notes and public updates are allowed on a resolved incident (postmortems). */
	assert_int_equal(ilog_incident_note(fx->log, id, "mctl:ann", "postmortem: doc/pm-7",
	    NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_public_update(fx->log, id, "mctl:ann", ILOG_PUBLIC_RESOLVED,
	    "Resolved.", NULL, fx->err, sizeof(fx->err)), ILOG_OK);

	assert_int_equal(ilog_public_list(fx->log, id, &pub, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pub.n, 2);
	assert_int_equal(pub.v[0].status, ILOG_PUBLIC_IDENTIFIED);
	assert_string_equal(pub.v[0].message, "A network change caused reconnects.");
	assert_int_equal(pub.v[0].event_id, pev);
	assert_int_equal(pub.v[1].status, ILOG_PUBLIC_RESOLVED);
	ilog_public_entries_release(&pub);
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(inc.public_status, ILOG_PUBLIC_RESOLVED);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);

	assert_int_equal(ilog_timeline(fx->log, id, &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ev.n, 6);
	assert_string_equal(ev.v[1].type, "note");
	assert_string_equal(ev.v[1].body_json, "{\"message\":\"restarted proxy p3\"}");
	assert_string_equal(ev.v[2].type, "public_update");
	ilog_events_release(&ev);

	/* Abuse: an empty note, a bad public status, an empty public message. */
	assert_int_equal(ilog_incident_note(fx->log, id, "mctl:ann", "", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_string_equal(fx->err, "note is empty");
	assert_int_equal(ilog_public_update(fx->log, id, "mctl:ann", ILOG_PUBLIC_NONE, "x", NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_public_update(fx->log, id, "mctl:ann", ILOG_PUBLIC_MONITORING, "",
	    NULL, fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_public_update(fx->log, 77, "mctl:ann", ILOG_PUBLIC_MONITORING,
	    "x", NULL, fx->err, sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(count_events(fx, id), 6);
}

static void
names_parse_and_print_both_ways(void **state)
{
	enum ilog_state s;
	enum ilog_severity sev;
	enum ilog_public_status ps;
	(void)state;

	assert_int_equal(ilog_state_parse("acknowledged", &s), 0);
	assert_int_equal(s, ILOG_STATE_ACKNOWLEDGED);
	assert_int_equal(ilog_state_parse("Open", &s), -1);
	assert_int_equal(ilog_severity_parse("critical", &sev), 0);
	assert_string_equal(ilog_severity_name(sev), "critical");
	assert_int_equal(ilog_severity_parse("urgent", &sev), -1);
	assert_int_equal(ilog_public_status_parse("monitoring", &ps), 0);
	assert_string_equal(ilog_public_status_name(ps), "monitoring");
	assert_int_equal(ilog_public_status_parse("none", &ps), -1);
	assert_int_equal(ilog_public_status_parse("postmortem", &ps), -1);
	assert_string_equal(ilog_state_name((enum ilog_state)9), "?");
	assert_true(ilog_kind_valid("node-down"));
	assert_false(ilog_kind_valid("Node"));
	assert_false(ilog_kind_valid("a/b"));
	assert_false(ilog_kind_valid(""));
}

/* --- events, tail, cursors ------------------------------------------------------------- */

static void
append_accepts_any_type_with_a_json_object(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_incident inc;
	struct ilog_events ev = { 0 };
	int64_t id = test_ilog_incident(fx, "storm:n4", ILOG_SEVERITY_MINOR), e1, e2;
	char *big;

	fx->fake.now += 5000;
	assert_int_equal(ilog_event_append(fx->log, id, "mcmon", "evidence",
	    "{ \"conns\" : 1200, \"rate\": [1, 2] }", &e1, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "drain", NULL, &e2, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(e2 == e1 + 1);
	assert_int_equal(ilog_incident_get(fx->log, id, &inc, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(inc.updated_at, fx->fake.now);
	assert_int_equal(ilog_tail(fx->log, e1 - 1, 0, &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ev.n, 2);
	assert_string_equal(ev.v[0].body_json, "{\"conns\":1200,\"rate\":[1,2]}");
	assert_int_equal(ev.v[1].incident_id, 0);
	assert_string_equal(ev.v[1].body_json, "{}");
	ilog_events_release(&ev);

	assert_int_equal(ilog_event_append(fx->log, id, "mcmon", "Bad Type", "{}", NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "event type 'Bad Type' is invalid"));
	assert_int_equal(ilog_event_append(fx->log, id, "mcmon", "x", "{\"a\":", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "not valid JSON"));
	assert_int_equal(ilog_event_append(fx->log, id, "mcmon", "x", "\"str\"", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_event_append(fx->log, id, "mcmon", "x", "{\"a\":1,\"a\":2}", NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_event_append(fx->log, 555, "mcmon", "x", "{}", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	big = malloc(ILOG_BODY_MAX + 16);
	memset(big, ' ', ILOG_BODY_MAX + 15);
	big[0] = '{';
	big[ILOG_BODY_MAX + 14] = '}';
	big[ILOG_BODY_MAX + 15] = '\0';
	assert_int_equal(ilog_event_append(fx->log, id, "mcmon", "x", big, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_non_null(strstr(fx->err, "longer than"));
	free(big);
	assert_int_equal(count_events(fx, id), 2);
}

static void
tail_returns_bounded_batches_in_id_order(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_events ev = { 0 };
	int64_t last = 0, seen = 0, i;
	char body[64];

	for (i = 0; i < 25; i++) {
		snprintf(body, sizeof(body), "{\"n\":%lld}", (long long)i);
		assert_int_equal(ilog_event_append(fx->log, 0, "test", "tick", body, NULL, fx->err,
		    sizeof(fx->err)), ILOG_OK);
	}
	assert_int_equal(ilog_last_event_id(fx->log, &last, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(last, 25);
	for (;;) {
		assert_int_equal(ilog_tail(fx->log, seen, 10, &ev, fx->err, sizeof(fx->err)),
		    ILOG_OK);
		if (ev.n == 0)
			break;
		assert_true(ev.n <= 10);
		for (i = 0; i < (int64_t)ev.n; i++)
			assert_int_equal(ev.v[i].id, seen + i + 1);
		assert_int_equal(ev.truncated, seen + (int64_t)ev.n < 25);
		seen = ev.v[ev.n - 1].id;
	}
	assert_int_equal(seen, 25);
	ilog_events_release(&ev);
}

static void
cursors_resume_where_each_consumer_stopped(void **state)
{
	struct test_ilog *fx = *state;
	int64_t c = -1;
	char name[ILOG_CONSUMER_MAX + 2];

	assert_int_equal(ilog_cursor_get(fx->log, "mcstatus", &c, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(c, 0);
	assert_int_equal(ilog_cursor_set(fx->log, "mcstatus", 17, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_cursor_set(fx->log, "mcalert", 3, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_cursor_set(fx->log, "mcstatus", 21, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	/* A second connection (another process after a restart) sees the same. */
	{
		struct ilog *other = ilog_open(fx->path, NULL, fx->err, sizeof(fx->err));
		assert_non_null(other);
		assert_int_equal(ilog_cursor_get(other, "mcstatus", &c, fx->err, sizeof(fx->err)),
		    ILOG_OK);
		assert_int_equal(c, 21);
		assert_int_equal(ilog_cursor_get(other, "mcalert", &c, fx->err, sizeof(fx->err)),
		    ILOG_OK);
		assert_int_equal(c, 3);
		ilog_close(other);
	}
	assert_int_equal(ilog_cursor_set(fx->log, "mcstatus", -5, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
	memset(name, 'c', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(ilog_cursor_set(fx->log, name, 1, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
	assert_int_equal(ilog_cursor_get(fx->log, "", &c, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
}

static void
changed_reports_commits_of_other_connections(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog *other = ilog_open(fx->path, NULL, fx->err, sizeof(fx->err));
	bool changed;

	assert_non_null(other);
	assert_int_equal(ilog_changed(fx->log, &changed, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_true(changed); /* first call */
	assert_int_equal(ilog_changed(fx->log, &changed, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_false(changed);
	assert_int_equal(ilog_event_append(fx->log, 0, "self", "tick", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_changed(fx->log, &changed, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_false(changed); /* own writes do not count */
	assert_int_equal(ilog_event_append(other, 0, "other", "tick", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_changed(fx->log, &changed, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_true(changed);
	assert_int_equal(ilog_changed(fx->log, &changed, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_false(changed);
	ilog_close(other);
}

/* --- listing, retention, export -------------------------------------------------------- */

static void
list_filters_by_state_cluster_and_kind(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_incidents list = { 0 };
	struct ilog_query q = { 0 };
	struct ilog_incident_spec sp = { .fingerprint = "lat:c2", .kind = "latency",
		.cluster = "c2", .severity = ILOG_SEVERITY_MINOR, .title = "Slow" };
	int64_t a, b, c;

	a = test_ilog_incident(fx, "storm:a", ILOG_SEVERITY_MINOR);
	b = test_ilog_incident(fx, "storm:b", ILOG_SEVERITY_MINOR);
	assert_int_equal(ilog_incident_upsert(fx->log, &sp, "mcmon", NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	c = 3;
	assert_int_equal(ilog_incident_resolve(fx->log, a, "mcmon", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_ack(fx->log, b, "mcmon", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);

	assert_int_equal(ilog_incident_list(fx->log, &q, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 2); /* unresolved, newest first */
	assert_int_equal(list.v[0].id, c);
	assert_int_equal(list.v[1].id, b);
	q.states = ILOG_STATES_ALL;
	assert_int_equal(ilog_incident_list(fx->log, &q, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 3);
	q.states = 1u << ILOG_STATE_RESOLVED;
	assert_int_equal(ilog_incident_list(fx->log, &q, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 1);
	assert_int_equal(list.v[0].id, a);
	q.states = ILOG_STATES_ALL;
	q.cluster = "c2";
	assert_int_equal(ilog_incident_list(fx->log, &q, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.v[0].kind, "latency");
	q.cluster = NULL;
	q.kind = "storm";
	q.limit = 1;
	assert_int_equal(ilog_incident_list(fx->log, &q, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 1);
	assert_true(list.truncated);
	q.states = 1u << 5;
	assert_int_equal(ilog_incident_list(fx->log, &q, &list, fx->err, sizeof(fx->err)),
	    ILOG_ERR_ARG);
	ilog_incidents_release(&list);
}

static void
prune_removes_old_resolved_incidents_only(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_prune_result res;
	struct ilog_incident inc;
	struct ilog_backoff policy = { 1000, 1000, 1 };
	struct ilog_outbox_items items = { 0 };
	int64_t old, young, open, ev_old, ev_new, item, last;
	int64_t day = 86400000;

	old = test_ilog_incident(fx, "old", ILOG_SEVERITY_MINOR);
	assert_int_equal(ilog_page_insert(fx->log, old, 0, "ann@localhost", 0, "mcalert", NULL,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_public_update(fx->log, old, "mctl:ann", ILOG_PUBLIC_RESOLVED, "ok",
	    NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_incident_resolve(fx->log, old, "mcmon", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	open = test_ilog_incident(fx, "still-open", ILOG_SEVERITY_MINOR);
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "flush", NULL, &ev_old,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "hook", 0, "{}", &item, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_claim(fx->log, "hook", 1, 1000, &items, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_fail(fx->log, item, "x", &policy, 0, NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	ilog_outbox_items_release(&items);

	fx->fake.now += 100 * day;
	young = test_ilog_incident(fx, "young", ILOG_SEVERITY_MINOR);
	assert_int_equal(ilog_incident_resolve(fx->log, young, "mcmon", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "flush", NULL, &ev_new,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_last_event_id(fx->log, &last, fx->err, sizeof(fx->err)), ILOG_OK);

	assert_int_equal(ilog_prune(fx->log, fx->fake.now - 90 * day, &res, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(res.incidents, 1);
	assert_int_equal(res.events, 4 + 1); /* opened, paged, public_update, resolved + flush */
	assert_int_equal(res.outbox, 1);
	assert_int_equal(ilog_incident_get(fx->log, old, &inc, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_incident_get(fx->log, open, &inc, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_incident_get(fx->log, young, &inc, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(count_events(fx, old), 0);
	assert_int_equal(count_events(fx, open), 1);
	/* Ids are never reused, so cursors stay meaningful. */
	assert_int_equal(ilog_event_append(fx->log, 0, "t", "tick", NULL, &ev_new, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ev_new, last + 1);
	(void)ev_old;
	/* Pruning again finds nothing. */
	assert_int_equal(ilog_prune(fx->log, fx->fake.now - 90 * day, &res, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(res.incidents + res.events + res.outbox, 0);
}

struct lines {
	char buf[4096];
	size_t len, count;
	size_t stop_after; /* 0: never stop */
};

static int
collect_line(void *arg, const char *line, size_t len)
{
	struct lines *l = arg;

	if (l->stop_after != 0 && l->count == l->stop_after)
		return -1;
	if (l->len + len + 1 < sizeof(l->buf)) {
		memcpy(l->buf + l->len, line, len);
		l->len += len;
		l->buf[l->len++] = '\n';
		l->buf[l->len] = '\0';
	}
	l->count++;
	return 0;
}

static void
export_writes_one_json_line_per_event(void **state)
{
	struct test_ilog *fx = *state;
	struct lines l = { .len = 0 };
	int64_t id;

	fx->fake.now = 1700000000123;
	id = test_ilog_incident(fx, "storm:x", ILOG_SEVERITY_MINOR);
	fx->fake.now += 1000;
	assert_int_equal(ilog_incident_note(fx->log, id, "mctl:ann", "looking \"now\"", NULL,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "flush", "{\"ok\":true}",
	    NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_export(fx->log, 0, collect_line, &l, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(l.count, 3);
	assert_non_null(strstr(l.buf, "{\"id\":1,\"at\":1700000000123,"
	    "\"time\":\"2023-11-14T22:13:20.123Z\",\"incident\":1,\"actor\":\"mcmon\","
	    "\"type\":\"opened\",\"body\":{"));
	assert_non_null(strstr(l.buf, "\"body\":{\"message\":\"looking \\\"now\\\"\"}}\n"));
	assert_non_null(strstr(l.buf, "\"incident\":null,\"actor\":\"mctl:ann\",\"type\":\"flush\","
	    "\"body\":{\"ok\":true}}\n"));
	/* since filters by time. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(ilog_export(fx->log, 1700000001123, collect_line, &l, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(l.count, 2);
	/* A writer that fails stops the export with an error. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(ilog_export(fx->log, 0, collect_line, &l, fx->err, sizeof(fx->err)),
	    ILOG_ERR_DB);
	assert_string_equal(fx->err, "export stopped by its writer");
}

/* --- schema, files, concurrency ----------------------------------------------------------- */

/* Version 1 of the schema as it was released (a frozen copy, on purpose). */
static const char schema_v1[] =
    "PRAGMA application_id = 1296256848;"
    "CREATE TABLE incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT,"
    " kind TEXT NOT NULL, cluster TEXT, node TEXT,"
    " severity INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 3),"
    " state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),"
    " title TEXT NOT NULL, opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " acked_at INTEGER, acked_by TEXT, resolved_at INTEGER, resolved_by TEXT,"
    " public_status TEXT);"
    "CREATE UNIQUE INDEX incidents_unresolved_fingerprint ON incidents(fingerprint)"
    " WHERE state != 'resolved';"
    "CREATE INDEX incidents_resolved_at ON incidents(resolved_at) WHERE state = 'resolved';"
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
    " incident_id INTEGER REFERENCES incidents(id) ON DELETE CASCADE, actor TEXT NOT NULL,"
    " type TEXT NOT NULL, body_json TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX events_incident ON events(incident_id, id);"
    "CREATE INDEX events_at ON events(at);"
    "CREATE TABLE pages (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    " step INTEGER NOT NULL, target TEXT NOT NULL, sent_at INTEGER NOT NULL,"
    " delivered_at INTEGER, displayed_at INTEGER, failed_at INTEGER, acked_at INTEGER,"
    " next_deadline INTEGER, detail TEXT);"
    "CREATE INDEX pages_incident ON pages(incident_id, id);"
    "CREATE INDEX pages_deadline ON pages(next_deadline) WHERE next_deadline IS NOT NULL;"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL,"
    " event_id INTEGER REFERENCES events(id) ON DELETE CASCADE, payload_json TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " next_attempt_at INTEGER NOT NULL, done_at INTEGER, gave_up_at INTEGER,"
    " last_error TEXT);"
    "CREATE UNIQUE INDEX outbox_sink_event ON outbox(sink, event_id)"
    " WHERE event_id IS NOT NULL;"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at)"
    " WHERE done_at IS NULL AND gave_up_at IS NULL;"
    "CREATE INDEX outbox_sink_due ON outbox(sink, next_attempt_at)"
    " WHERE done_at IS NULL AND gave_up_at IS NULL;"
    "CREATE INDEX outbox_event ON outbox(event_id);"
    "CREATE TABLE cursors (consumer TEXT PRIMARY KEY, event_id INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "PRAGMA user_version = 1;"
    "INSERT INTO incidents VALUES (1, 'storm:c1', 'storm', 'c1', NULL, 2, 'open', 'Storm',"
    " 1000, 3000, NULL, NULL, NULL, NULL, 'identified');"
    "INSERT INTO events VALUES (1, 1000, 1, 'mcmon', 'opened', '{}');"
    "INSERT INTO events VALUES (2, 2000, 1, 'mctl:ann', 'public_update',"
    " '{\"status\":\"investigating\",\"message\":\"Looking\"}');"
    "INSERT INTO events VALUES (3, 3000, 1, 'mctl:ann', 'public_update',"
    " '{\"status\":\"identified\",\"message\":\"Found it\"}');"
    "INSERT INTO cursors VALUES ('mcstatus', 2, 3000);";

static int64_t
user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
make_db(const char *path, const char *sql)
{
	sqlite3 *db;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
opening_a_version_1_log_migrates_it_and_keeps_its_data(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_public_entries pub = { 0 };
	struct ilog_heartbeats beats = { 0 };
	struct ilog_options ro = { .readonly = true };
	struct ilog_incident inc;
	struct ilog *log;
	char path[TEST_PATH_MAX];
	int64_t c;

	test_dir_file(path, sizeof(path), fx->dir, "v1.db");
	make_db(path, schema_v1);
	/* Read-only cannot migrate: it says so and leaves the file alone. */
	assert_null(ilog_open(path, &ro, fx->err, sizeof(fx->err)));
	{
		char want[64];

		snprintf(want, sizeof(want), "schema version 1 needs migrating to %d",
		    ILOG_SCHEMA_VERSION);
		assert_non_null(strstr(fx->err, want));
	}
	assert_int_equal(user_version(path), 1);

	log = ilog_open(path, NULL, fx->err, sizeof(fx->err));
	assert_non_null(log);
	assert_int_equal(user_version(path), ILOG_SCHEMA_VERSION);
	assert_int_equal(ilog_incident_get(log, 1, &inc, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_string_equal(inc.fingerprint, "storm:c1");
	assert_int_equal(inc.public_status, ILOG_PUBLIC_IDENTIFIED);
	assert_int_equal(ilog_public_list(log, 1, &pub, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pub.n, 2);
	assert_int_equal(pub.v[0].status, ILOG_PUBLIC_INVESTIGATING);
	assert_string_equal(pub.v[0].message, "Looking");
	assert_int_equal(pub.v[0].event_id, 2);
	assert_string_equal(pub.v[1].message, "Found it");
	ilog_public_entries_release(&pub);
	assert_int_equal(ilog_cursor_get(log, "mcstatus", &c, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(c, 2);
	/* Version 3's heartbeats table is there, empty. */
	assert_int_equal(ilog_heartbeat_list(log, &beats, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(beats.n, 0);
	ilog_heartbeats_release(&beats);
	/* The migrated file works like a new one, and ids continue. */
	assert_int_equal(ilog_public_update(log, 1, "mctl:ann", ILOG_PUBLIC_MONITORING, "Better",
	    &c, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(c, 4);
	ilog_close(log);
	/* Read-only works on a current file, and refuses writes. */
	log = ilog_open(path, &ro, fx->err, sizeof(fx->err));
	assert_non_null(log);
	assert_int_equal(ilog_incident_note(log, 1, "mctl:ann", "x", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_DB);
	assert_non_null(strstr(fx->err, "read-only"));
	ilog_close(log);
	unlink(path);
}

static void
opening_a_newer_or_foreign_file_is_refused(void **state)
{
	struct test_ilog *fx = *state;
	char path[TEST_PATH_MAX];
	FILE *fp;

	test_dir_file(path, sizeof(path), fx->dir, "new.db");
	make_db(path, "PRAGMA application_id = 1296256848; CREATE TABLE future (x);"
		      "PRAGMA user_version = 9;");
	assert_null(ilog_open(path, NULL, fx->err, sizeof(fx->err)));
	{
		char want[80];

		snprintf(want, sizeof(want), "schema version 9 is newer than this mcops supports (%d)",
		    ILOG_SCHEMA_VERSION);
		assert_non_null(strstr(fx->err, want));
	}
	assert_int_equal(user_version(path), 9); /* untouched */

	make_db(path, "CREATE TABLE customers (name TEXT);");
	assert_null(ilog_open(path, NULL, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "is not an mcops incident log"));

	unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is a text file, long enough to look like a header to SQLite..........\n"
	      "..................................................................\n", fp);
	fclose(fp);
	assert_null(ilog_open(path, NULL, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "not a database"));
	unlink(path);

	test_dir_file(path, sizeof(path), fx->dir, "missing/dir/x.db");
	assert_null(ilog_open(path, NULL, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "cannot open"));
	assert_non_null(strstr(fx->err, "No such file or directory"));
}

struct holder {
	const char *path;
	int hold_ms;           /* < 0: until release is set (at most a minute) */
	volatile int locked;
	volatile int release;
};

static void *
hold_write_lock(void *arg)
{
	struct holder *h = arg;
	struct timespec ts = { h->hold_ms / 1000, (long)(h->hold_ms % 1000) * 1000000L };
	sqlite3 *db;

	if (sqlite3_open(h->path, &db) != SQLITE_OK)
		return NULL;
	sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO cursors VALUES ('holder', 1, 1);", NULL,
	    NULL, NULL);
	h->locked = 1;
	if (h->hold_ms >= 0) {
		nanosleep(&ts, NULL);
	} else {
		int waited;

		for (waited = 0; !h->release && waited < 60000; waited++)
			usleep(1000);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return NULL;
}

static void
a_held_write_lock_delays_a_write_instead_of_failing_it(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_options opts = { .busy_timeout_ms = 20 };
	struct holder h = { fx->path, 400, 0, 0 };
	struct ilog *log;
	pthread_t t;
	int64_t c;

	log = ilog_open(fx->path, &opts, fx->err, sizeof(fx->err));
	assert_non_null(log);
	assert_int_equal(pthread_create(&t, NULL, hold_write_lock, &h), 0);
	while (!h.locked)
		usleep(1000);
	/* The busy timeout (20 ms) runs out many times; the transaction is retried. */
	assert_int_equal(ilog_event_append(log, 0, "test", "tick", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	pthread_join(t, NULL);
	assert_int_equal(ilog_cursor_get(log, "holder", &c, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(c, 1);
	ilog_close(log);
}

/*
 * With busy_retry_ms set short, a write that meets a held lock fails soon instead of
 * waiting it out (60 s by default): the holder here keeps the lock until the call has
 * returned, so a call that ignored the option would never return. Nothing of it is
 * written; once the lock is gone the same write succeeds.
 */
static void
a_short_busy_retry_fails_a_write_the_lock_outlasts_and_writes_nothing(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_options opts = { .busy_timeout_ms = 20, .busy_retry_ms = 200 };
	struct holder h = { fx->path, -1, 0, 0 };
	struct ilog_events ev = { 0 };
	struct ilog *log;
	pthread_t t;

	log = ilog_open(fx->path, &opts, fx->err, sizeof(fx->err));
	assert_non_null(log);
	assert_int_equal(pthread_create(&t, NULL, hold_write_lock, &h), 0);
	while (!h.locked)
		usleep(1000);
	assert_int_equal(ilog_event_append(log, 0, "test", "tick", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_DB);
	assert_non_null(strstr(fx->err, "the database stayed busy for 0.2 s"));
	h.release = 1;
	pthread_join(t, NULL);
	assert_int_equal(ilog_tail(log, 0, 0, &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ev.n, 0);
	assert_int_equal(ilog_event_append(log, 0, "test", "tick", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	ilog_events_release(&ev);
	ilog_close(log);
}

/* --- snapshots: every connection sees what the others committed ------------------------ */

/*
 * The reads the daemons poll with, each in the shape that stops a statement early or
 * fails part-way (a batch cut short, a missing row, a writer that stops an export).
 * After each returns, another connection commits an event and the polling connection
 * must see it: no read may leave a statement or a transaction (and so an old WAL
 * snapshot) open behind it.
 */
static void
reads_leave_no_snapshot_open_so_the_next_poll_sees_new_commits(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog *other = ilog_open(fx->path, NULL, fx->err, sizeof(fx->err));
	struct ilog_query one = { .states = ILOG_STATES_ALL, .limit = 1 };
	struct ilog_events ev = { 0 };
	struct ilog_incidents incs = { 0 };
	struct ilog_pages pages = { 0 };
	struct ilog_outbox_item it = { 0 };
	struct ilog_incident inc;
	struct lines l = { .stop_after = 1 };
	int64_t id, v, last, appended;
	size_t n;
	bool changed;
	int read;

	assert_non_null(other);
	id = test_ilog_incident(fx, "storm:a", ILOG_SEVERITY_MAJOR);
	(void)test_ilog_incident(fx, "storm:b", ILOG_SEVERITY_MINOR);
	assert_int_equal(ilog_page_insert(fx->log, id, 0, "ann@localhost", fx->fake.now,
	    "mcalert", NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "webhook", 0, "{}", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_cursor_set(fx->log, "mcalert", 1, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_last_event_id(fx->log, &last, fx->err, sizeof(fx->err)), ILOG_OK);
	for (read = 0; read < 12; read++) {
		switch (read) {
		case 0: /* more are waiting: the batch stops at a row */
			assert_int_equal(ilog_tail(fx->log, 0, 1, &ev, fx->err, sizeof(fx->err)),
			    ILOG_OK);
			assert_true(ev.truncated);
			break;
		case 1:
			assert_int_equal(ilog_timeline(fx->log, id, &ev, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			break;
		case 2:
			assert_int_equal(ilog_incident_list(fx->log, &one, &incs, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			assert_true(incs.truncated);
			break;
		case 3:
			assert_int_equal(ilog_changed(fx->log, &changed, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			break;
		case 4:
			assert_int_equal(ilog_cursor_get(fx->log, "mcalert", &v, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			break;
		case 5:
			assert_int_equal(ilog_page_due(fx->log, INT64_MAX, &pages, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			break;
		case 6:
			assert_int_equal(ilog_page_next_deadline(fx->log, &v, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			break;
		case 7:
			assert_int_equal(ilog_outbox_pending(fx->log, NULL, &n, &v, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			break;
		case 8: /* nothing to claim */
			assert_int_equal(ilog_outbox_claim_head(fx->log, "none", 1000, &it, &v,
			    fx->err, sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
			break;
		case 9:
			assert_int_equal(ilog_incident_get(fx->log, 999, &inc, fx->err,
			    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
			break;
		case 10:
			assert_int_equal(ilog_events_of_type(fx->log, "tick", 1, &ev, fx->err,
			    sizeof(fx->err)), ILOG_OK);
			break;
		default: /* its writer stops it after one line */
			l.count = 0;
			assert_int_equal(ilog_export(fx->log, 0, collect_line, &l, fx->err,
			    sizeof(fx->err)), ILOG_ERR_DB);
			break;
		}
		assert_int_equal(ilog_event_append(other, 0, "other", "tick", NULL, &appended,
		    fx->err, sizeof(fx->err)), ILOG_OK);
		assert_int_equal(ilog_tail(fx->log, last, 0, &ev, fx->err, sizeof(fx->err)),
		    ILOG_OK);
		assert_int_equal(ev.n, 1);
		assert_int_equal(ev.v[0].id, appended);
		assert_int_equal(ilog_changed(fx->log, &changed, fx->err, sizeof(fx->err)),
		    ILOG_OK);
		last = appended;
	}
	ilog_events_release(&ev);
	ilog_incidents_release(&incs);
	ilog_pages_release(&pages);
	ilog_close(other);
}

#define OTHER_PROCESS_ARG "--append-as-another-process"

/* This binary's helper mode (see main): appends one event to the log at path, as any
 * other process would. Exits 0 if it did. */
static int
append_as_another_process(const char *path)
{
	char err[ILOG_ERR_LEN];
	struct ilog *log = ilog_open(path, NULL, err, sizeof(err));
	enum ilog_status st;

	if (log == NULL)
		return 1;
	st = ilog_event_append(log, 0, "other", "tick", NULL, NULL, err, sizeof(err));
	ilog_close(log);
	return st == ILOG_OK ? 0 : 1;
}

/*
 * Runs this binary again, in its helper mode, as a process of its own: SQLite's file
 * locks belong to a process, and a fork()ed child would inherit this one's SQLite
 * state instead of opening the file afresh.
 */
static void
another_process_appends(const char *path)
{
	char *argv[] = { (char *)"test_ilog", (char *)OTHER_PROCESS_ARG, (char *)path, NULL };
	pid_t pid;
	int status;

	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Opening a second connection to the file in this process must not cost the first
 * one its locks. If it did, a process that closes its connection would take itself
 * for the last one, checkpoint, and delete the -wal and -shm files under this
 * process's connections: from then on they read an old snapshot, and commits of
 * other processes never reach them.
 */
static void
a_second_connection_in_this_process_keeps_other_processes_commits_visible(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog *second = ilog_open(fx->path, NULL, fx->err, sizeof(fx->err));
	int64_t last;
	int i;

	assert_non_null(second);
	for (i = 1; i <= 3; i++) {
		another_process_appends(fx->path);
		assert_int_equal(ilog_last_event_id(fx->log, &last, fx->err, sizeof(fx->err)),
		    ILOG_OK);
		assert_int_equal(last, i);
		assert_int_equal(ilog_last_event_id(second, &last, fx->err, sizeof(fx->err)),
		    ILOG_OK);
		assert_int_equal(last, i);
	}
	ilog_close(second);
	another_process_appends(fx->path);
	assert_int_equal(ilog_last_event_id(fx->log, &last, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(last, 4);
}

/* A new log is created private, without opening it outside SQLite (see above): only
 * the database and its -wal and -shm files are left in the directory. */
static void
a_new_log_file_is_private_and_leaves_no_temporary_file(void **state)
{
	struct test_ilog *fx = *state;
	struct dirent *de;
	struct stat sb;
	size_t files = 0;
	DIR *d;

	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_non_null(d = opendir(fx->dir));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_true(strcmp(de->d_name, "log.db") == 0 ||
		    strcmp(de->d_name, "log.db-wal") == 0 || strcmp(de->d_name, "log.db-shm") == 0);
		files++;
	}
	closedir(d);
	assert_true(files >= 1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		TEST_ILOG_CASE(upsert_same_fingerprint_returns_one_incident),
		TEST_ILOG_CASE(upsert_raises_severity_and_never_lowers_it),
		TEST_ILOG_CASE(upsert_after_resolve_opens_a_new_incident),
		TEST_ILOG_CASE(upsert_without_fingerprint_always_opens),
		TEST_ILOG_CASE(upsert_rejects_bad_arguments),
		TEST_ILOG_CASE(ack_resolve_reopen_follow_the_state_machine),
		TEST_ILOG_CASE(invalid_transitions_are_refused_with_their_reason),
		TEST_ILOG_CASE(notes_and_public_updates_are_kept_apart),
		cmocka_unit_test(names_parse_and_print_both_ways),
		TEST_ILOG_CASE(append_accepts_any_type_with_a_json_object),
		TEST_ILOG_CASE(tail_returns_bounded_batches_in_id_order),
		TEST_ILOG_CASE(cursors_resume_where_each_consumer_stopped),
		TEST_ILOG_CASE(changed_reports_commits_of_other_connections),
		TEST_ILOG_CASE(list_filters_by_state_cluster_and_kind),
		TEST_ILOG_CASE(prune_removes_old_resolved_incidents_only),
		TEST_ILOG_CASE(export_writes_one_json_line_per_event),
		TEST_ILOG_CASE(opening_a_version_1_log_migrates_it_and_keeps_its_data),
		TEST_ILOG_CASE(opening_a_newer_or_foreign_file_is_refused),
		TEST_ILOG_CASE(a_short_busy_retry_fails_a_write_the_lock_outlasts_and_writes_nothing),
		TEST_ILOG_CASE(a_held_write_lock_delays_a_write_instead_of_failing_it),
		TEST_ILOG_CASE(reads_leave_no_snapshot_open_so_the_next_poll_sees_new_commits),
		TEST_ILOG_CASE(a_second_connection_in_this_process_keeps_other_processes_commits_visible),
		TEST_ILOG_CASE(a_new_log_file_is_private_and_leaves_no_temporary_file),
	};

	if (argc == 3 && strcmp(argv[1], OTHER_PROCESS_ARG) == 0)
		return append_as_another_process(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
