/*
 * Scheduled maintenances on the status site (lib/statussite/model_maint.c and its
 * renderers): which are shown in which state, components under maintenance unless an
 * incident shows there, the indicator, the Statuspage documents' exact fields, the
 * configured windows' occurrences without their internal names (and only while
 * mcstatus has not recorded them: a recorded one is its row, once), and the sinks'
 * payload of each maintenance event.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "statussite/statussite.h"
#include "lib/statussite/render.h" /* the renderers, tested one by one */

#define MIN 60000LL
#define HOUR (60 * MIN)
/* 2026-11-20 00:00:00 UTC */
#define T0 1795132800000LL

static const char conf_text[] =
    "[statuspage]\ndir = /tmp/site\nname = Example Cache\nurl = https://status.example.com\n"
    "[cluster c1]\ntitle = US-East C1\n"
    "[cluster c2]\ntitle = EU C2\n"
    "[maintenance nightly-internal-name]\nstart = 2026-11-01 02:00\nduration = 30m\n"
    "every = 1d\nclusters = c2\ntitle = Nightly upgrade\n"
    "[maintenance hidden]\nstart = 2026-11-01 00:00\nduration = 1h\nevery = 1d\npublic = no\n";

static struct sp_config *
load_conf(void)
{
	struct sp_config *sp = calloc(1, sizeof(*sp));
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };

	assert_non_null(sp);
	assert_int_equal(config_load_string(&cfg, "test.conf", conf_text, &errs), 0);
	assert_int_equal(spconfig_load(&cfg, sp, true, &errs), 0);
	config_release(&cfg);
	config_errors_release(&errs);
	assert_int_equal(sp->nwindows, 2);
	return sp;
}

static struct ilog_maintenance
maint(int64_t id, const char *cluster, int64_t from, int64_t until)
{
	struct ilog_maintenance m;

	memset(&m, 0, sizeof(m));
	m.id = id;
	m.kind = ILOG_MAINT_PUBLIC;
	snprintf(m.cluster, sizeof(m.cluster), "%s", cluster);
	snprintf(m.title, sizeof(m.title), "Upgrade of %s", cluster);
	snprintf(m.message, sizeof(m.message), "We upgrade the nodes of %s.", cluster);
	snprintf(m.created_by, sizeof(m.created_by), "mctl:secret-operator");
	m.created_at = T0 - HOUR;
	m.starts_at = from;
	m.ends_at = until;
	return m;
}

static json_t *
render_doc(const struct model *m, enum render_json_doc doc)
{
	struct textbuf b = { 0 };
	json_t *j;

	assert_int_equal(render_json(m, doc, &b), 0);
	j = json_loads(b.data, 0, NULL);
	assert_non_null(j);
	assert_null(strstr(b.data, "secret"));
	assert_null(strstr(b.data, "nightly-internal-name"));
	textbuf_release(&b);
	return j;
}

static void
shown_states_components_and_indicator_follow_time(void **state)
{
	struct sp_config *sp = load_conf();
	struct ilog_maintenance v[4] = {
		maint(1, "c1", T0 + 10 * HOUR, T0 + 12 * HOUR), /* in progress at 11:00 */
		maint(2, "c1", T0 + 20 * HOUR, T0 + 21 * HOUR), /* upcoming */
		maint(3, "c2", T0 + HOUR, T0 + 2 * HOUR),       /* completed */
		maint(4, "c2", T0 + 20 * HOUR, T0 + 22 * HOUR), /* cancelled: not shown */
	};
	struct ilog_incident in;
	struct model m;
	char err[256];

	(void)state;
	v[3].cancelled_at = T0 + 3 * HOUR;
	v[2].kind = ILOG_MAINT_PUBLIC;
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 4, err, sizeof(err)), 0);
	/* 1, 2, 3 and the nightly window's next occurrence (02:00 tomorrow). */
	assert_int_equal(m.nmaints, 4);
	assert_int_equal(m.maints[0].log_id, 3);
	assert_int_equal(m.maints[0].status, ILOG_MAINT_COMPLETED);
	assert_int_equal(m.maints[1].log_id, 1);
	assert_int_equal(m.maints[1].status, ILOG_MAINT_IN_PROGRESS);
	assert_int_equal(m.maints[1].started_at, T0 + 10 * HOUR);
	assert_int_equal(m.maints[2].log_id, 2);
	assert_string_equal(m.maints[3].id, "w1-1795226400"); /* 2026-11-21T02:00Z */
	assert_string_equal(m.maints[3].name, "Nightly upgrade");
	assert_int_equal(m.comps[0].status, MODEL_UNDER_MAINTENANCE);
	assert_int_equal(m.comps[1].status, MODEL_OPERATIONAL);
	assert_int_equal(m.indicator, MODEL_INDICATOR_MAINTENANCE);
	assert_int_equal(m.next_change, T0 + 12 * HOUR);
	model_release(&m);

	/* An active incident elsewhere takes the indicator; one on the component shows
	 * its own status there instead of the maintenance. */
	memset(&in, 0, sizeof(in));
	in.id = 9;
	snprintf(in.kind, sizeof(in.kind), "latency_tail");
	snprintf(in.cluster, sizeof(in.cluster), "c1");
	in.severity = ILOG_SEVERITY_MAJOR;
	in.state = ILOG_STATE_OPEN;
	in.opened_at = T0 + 10 * HOUR + 30 * MIN;
	assert_int_equal(model_build(&m, sp, &in, 1, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 4, err, sizeof(err)), 0);
	assert_int_equal(m.comps[0].status, MODEL_PARTIAL_OUTAGE);
	assert_int_equal(m.indicator, MODEL_IMPACT_MAJOR);
	model_release(&m);

	/* During the window's occurrence its cluster's component is under maintenance. */
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 26 * HOUR + 10 * MIN, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(m.nmaints, 1);
	assert_int_equal(m.maints[0].status, ILOG_MAINT_IN_PROGRESS);
	assert_int_equal(m.comps[1].status, MODEL_UNDER_MAINTENANCE);
	assert_int_equal(m.next_change, T0 + 26 * HOUR + 30 * MIN);
	model_release(&m);
	free(sp);
}

static void
json_documents_carry_statuspage_fields_and_the_right_lists(void **state)
{
	static const char *const fields[] = { "id", "name", "status", "created_at",
		"updated_at", "monitoring_at", "resolved_at", "started_at", "scheduled_for",
		"scheduled_until", "impact", "page_id", "incident_updates", "components" };
	static const char *const update_fields[] = { "id", "status", "body", "incident_id",
		"created_at", "updated_at", "display_at", "affected_components",
		"deliver_notifications" };
	struct sp_config *sp = load_conf();
	struct ilog_maintenance v[2] = {
		maint(1, "c1", T0 + 10 * HOUR, T0 + 12 * HOUR),
		maint(2, "c1", T0 + 20 * HOUR, T0 + 21 * HOUR),
	};
	json_t *doc, *list, *o, *ups;
	struct model m;
	char err[256];
	size_t i;

	(void)state;
	v[0].started_at = T0 + 9 * HOUR; /* started early */
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 2, err, sizeof(err)), 0);

	doc = render_doc(&m, RENDER_MAINTENANCES_ACTIVE);
	list = json_object_get(doc, "scheduled_maintenances");
	assert_int_equal(json_array_size(list), 1);
	o = json_array_get(list, 0);
	assert_int_equal(json_object_size(o), sizeof(fields) / sizeof(fields[0]));
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		assert_non_null(json_object_get(o, fields[i]));
	assert_string_equal(json_string_value(json_object_get(o, "id")), "m1");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "in_progress");
	assert_string_equal(json_string_value(json_object_get(o, "impact")), "maintenance");
	assert_string_equal(json_string_value(json_object_get(o, "scheduled_for")),
	    "2026-11-20T10:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(o, "scheduled_until")),
	    "2026-11-20T12:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(o, "started_at")),
	    "2026-11-20T09:00:00.000Z");
	assert_true(json_is_null(json_object_get(o, "resolved_at")));
	assert_null(json_object_get(o, "shortlink"));
	ups = json_object_get(o, "incident_updates");
	assert_int_equal(json_array_size(ups), 2); /* newest first */
	assert_string_equal(json_string_value(json_object_get(json_array_get(ups, 0), "status")),
	    "in_progress");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ups, 1), "body")),
	    "We upgrade the nodes of c1.");
	assert_int_equal(json_object_size(json_array_get(ups, 1)),
	    sizeof(update_fields) / sizeof(update_fields[0]));
	for (i = 0; i < sizeof(update_fields) / sizeof(update_fields[0]); i++)
		assert_non_null(json_object_get(json_array_get(ups, 1), update_fields[i]));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(o, "components"), 0), "status")), "under_maintenance");
	json_decref(doc);

	doc = render_doc(&m, RENDER_MAINTENANCES_UPCOMING);
	list = json_object_get(doc, "scheduled_maintenances");
	assert_int_equal(json_array_size(list), 2); /* m2 and the window, newest first */
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
	    "w1-1795226400");
	json_decref(doc);

	doc = render_doc(&m, RENDER_SUMMARY);
	assert_int_equal(json_array_size(json_object_get(doc, "scheduled_maintenances")), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "status"),
	    "indicator")), "maintenance");
	json_decref(doc);
	doc = render_doc(&m, RENDER_MAINTENANCES);
	assert_int_equal(json_array_size(json_object_get(doc, "scheduled_maintenances")), 3);
	json_decref(doc);
	model_release(&m);
	free(sp);
}

static void
the_index_shows_running_then_upcoming_maintenances(void **state)
{
	struct sp_config *sp = load_conf();
	struct ilog_maintenance v[1] = { maint(1, "c1", T0 + 10 * HOUR, T0 + 12 * HOUR) };
	struct textbuf b = { 0 };
	const char *running, *next;
	struct model m;
	char err[256];

	(void)state;
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 1, err, sizeof(err)), 0);
	assert_int_equal(render_index_html(&m, &b), 0);
	assert_non_null(strstr(b.data, "Service Under Maintenance"));
	assert_non_null(running = strstr(b.data, "Upgrade of c1"));
	assert_non_null(next = strstr(b.data, "Nightly upgrade"));
	assert_true(running < next);
	assert_non_null(strstr(b.data, "Under maintenance"));
	assert_null(strstr(b.data, "nightly-internal-name"));
	assert_null(strstr(b.data, "secret"));
	textbuf_release(&b);
	model_release(&m);
	free(sp);
}

static void
recorded_window_occurrence_is_shown_once_as_its_row(void **state)
{
	struct sp_config *sp = load_conf();
	int64_t start = T0 + 26 * HOUR; /* the nightly window's next occurrence */
	struct ilog_maintenance v[2] = {
		maint(7, "c1 c2", start, start + 30 * MIN),
		maint(8, "c1", T0 + 20 * HOUR, T0 + 21 * HOUR),
	};
	struct model m;
	char err[256];

	(void)state;
	snprintf(v[0].created_by, sizeof(v[0].created_by), "config:nightly-internal-name");
	snprintf(v[0].title, sizeof(v[0].title), "Nightly upgrade");
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 2, err, sizeof(err)), 0);
	assert_int_equal(m.nmaints, 2);
	assert_int_equal(m.maints[0].log_id, 8);
	assert_int_equal(m.maints[1].log_id, 7);
	assert_string_equal(m.maints[1].id, "m7");
	assert_int_equal(m.maints[1].components, 3); /* both clusters' components */
	model_release(&m);

	/* In progress: the row's components are under maintenance, once. */
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, start + MIN, err, sizeof(err)),
	    0);
	assert_int_equal(model_add_maintenances(&m, v, 1, err, sizeof(err)), 0);
	assert_int_equal(m.nmaints, 1);
	assert_int_equal(m.comps[0].status, MODEL_UNDER_MAINTENANCE);
	assert_int_equal(m.comps[1].status, MODEL_UNDER_MAINTENANCE);
	model_release(&m);

	/* Cancelled (the window was made private then public again, or `mctl maintenance
	 * cancel`): that occurrence is not shown at all. */
	v[0].cancelled_at = T0 + 10 * HOUR;
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 1, err, sizeof(err)), 0);
	assert_int_equal(m.nmaints, 0);
	model_release(&m);

	/* A row of another occurrence does not hide this one. */
	v[0].cancelled_at = 0;
	v[0].starts_at = start - 24 * HOUR;
	v[0].ends_at = v[0].starts_at + 30 * MIN;
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 1, err, sizeof(err)), 0);
	assert_int_equal(m.nmaints, 2);
	assert_string_equal(m.maints[1].id, "w1-1795226400");
	model_release(&m);
	free(sp);
}

static void
each_maintenance_event_has_a_payload_and_silences_none(void **state)
{
	static const struct {
		const char *event, *type, *status;
	} cases[] = {
		{ ILOG_EV_MAINT_SCHEDULED, "maintenance.scheduled", "scheduled" },
		{ ILOG_EV_MAINT_STARTED, "maintenance.started", "in_progress" },
		{ ILOG_EV_MAINT_COMPLETED, "maintenance.completed", "completed" },
		{ ILOG_EV_MAINT_CANCELLED, "maintenance.cancelled", "cancelled" },
	};
	struct sp_config *sp = load_conf();
	struct ilog_event ev;
	struct textbuf out = { 0 };
	char body[512];
	struct model m;
	char err[256];
	json_t *p;
	size_t i;

	(void)state;
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + HOUR, err, sizeof(err)),
	    0);
	assert_int_equal(model_add_maintenances(&m, NULL, 0, err, sizeof(err)), 0);
	snprintf(body, sizeof(body),
	    "{\"maintenance\":5,\"kind\":\"public\",\"cluster\":\"c1\",\"starts_at\":%lld,"
	    "\"ends_at\":%lld,\"title\":\"Upgrade\",\"message\":\"Short writes.\"}",
	    (long long)(T0 + 2 * HOUR), (long long)(T0 + 3 * HOUR));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&ev, 0, sizeof(ev));
		ev.id = 40 + (int64_t)i;
		ev.at = T0 + HOUR;
		snprintf(ev.type, sizeof(ev.type), "%s", cases[i].event);
		ev.body_json = body;
		assert_true(payload_event_is_public(ev.type));
		assert_int_equal(payload_build(&m, &ev, &out), 1);
		p = json_loads(out.data, 0, NULL);
		assert_non_null(p);
		assert_string_equal(json_string_value(json_object_get(p, "type")), cases[i].type);
		assert_string_equal(json_string_value(json_object_get(json_object_get(p,
		    "maintenance"), "status")), cases[i].status);
		assert_string_equal(json_string_value(json_object_get(json_object_get(p,
		    "maintenance"), "id")), "m5");
		assert_string_equal(json_string_value(json_object_get(json_array_get(
		    json_object_get(p, "components"), 0), "status")),
		    i == 1 ? "under_maintenance" : "operational");
		assert_non_null(strstr(json_string_value(json_object_get(p, "text")), "Upgrade"));
		json_decref(p);
	}
	assert_non_null(strstr(out.data, "Maintenance cancelled: Upgrade"));
	/* A configured window's row names several clusters: all their components. */
	snprintf(body, sizeof(body),
	    "{\"maintenance\":5,\"kind\":\"public\",\"cluster\":\"c1 c2\",\"starts_at\":%lld,"
	    "\"ends_at\":%lld,\"title\":\"Upgrade\"}",
	    (long long)(T0 + 2 * HOUR), (long long)(T0 + 3 * HOUR));
	assert_int_equal(payload_build(&m, &ev, &out), 1);
	p = json_loads(out.data, 0, NULL);
	assert_non_null(p);
	assert_int_equal(json_array_size(json_object_get(p, "components")), 2);
	json_decref(p);
	/* A silence is never public. */
	assert_false(payload_event_is_public(ILOG_EV_SILENCE_SET));
	snprintf(ev.type, sizeof(ev.type), "%s", ILOG_EV_MAINT_SCHEDULED);
	snprintf(body, sizeof(body), "{\"maintenance\":6,\"kind\":\"silence\",\"cluster\":\"c1\","
	    "\"starts_at\":1,\"ends_at\":2,\"title\":\"\"}");
	assert_int_equal(payload_build(&m, &ev, &out), 0);
	textbuf_release(&out);
	model_release(&m);
	free(sp);
}

static void
the_feed_has_an_entry_per_announcement_of_a_recorded_maintenance(void **state)
{
	struct sp_config *sp = load_conf();
	struct ilog_maintenance v[2] = { maint(7, "c1", T0 + 10 * HOUR, T0 + 12 * HOUR),
		maint(8, "c2", T0 + 20 * HOUR, T0 + 21 * HOUR) };
	struct textbuf b = { 0 };
	const char *started, *scheduled7, *scheduled8;
	struct model m;
	char err[256];

	(void)state;
	/* #7 is in progress, #8 upcoming, the configured windows have no row yet. */
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 11 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 2, err, sizeof(err)), 0);
	assert_int_equal(render_atom(&m, &b), 0);
	assert_non_null(started = strstr(b.data,
	    "<id>https://status.example.com/#m7-in_progress</id>\n<title>Upgrade of c1: "
	    "Maintenance in progress</title>"));
	assert_non_null(scheduled7 = strstr(b.data, "<id>https://status.example.com/#m7-scheduled"));
	assert_non_null(scheduled8 = strstr(b.data, "<id>https://status.example.com/#m8-scheduled"));
	/* Newest first: the start (T0 + 10 h) before both schedulings (T0 - 1 h). */
	assert_true(started < scheduled7 && started < scheduled8);
	assert_non_null(strstr(b.data, "<content type=\"text\">In progress: until "));
	assert_non_null(strstr(b.data, "<content type=\"text\">Scheduled: from "));
	assert_non_null(strstr(b.data, "We upgrade the nodes of c2.</content>"));
	/* Nothing not reached yet, nothing of a window without a row, nothing internal. */
	assert_null(strstr(b.data, "m7-completed"));
	assert_null(strstr(b.data, "m8-in_progress"));
	assert_null(strstr(b.data, "Nightly upgrade"));
	assert_null(strstr(b.data, "secret"));
	assert_null(strstr(b.data, "nightly-internal-name"));
	textbuf_release(&b);
	model_release(&m);

	/* Later: #7 completed by time, its three announcements in the feed. */
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0, T0 + 13 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(model_add_maintenances(&m, v, 2, err, sizeof(err)), 0);
	assert_int_equal(render_atom(&m, &b), 0);
	assert_non_null(strstr(b.data, "#m7-completed</id>\n<title>Upgrade of c1: Maintenance "
				       "completed</title>"));
	textbuf_release(&b);
	model_release(&m);
	free(sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shown_states_components_and_indicator_follow_time),
		cmocka_unit_test(json_documents_carry_statuspage_fields_and_the_right_lists),
		cmocka_unit_test(the_index_shows_running_then_upcoming_maintenances),
		cmocka_unit_test(the_feed_has_an_entry_per_announcement_of_a_recorded_maintenance),
		cmocka_unit_test(recorded_window_occurrence_is_shown_once_as_its_row),
		cmocka_unit_test(each_maintenance_event_has_a_payload_and_silences_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
