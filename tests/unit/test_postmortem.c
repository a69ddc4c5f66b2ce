/*
 * Unit tests of cli/postmortem: durations, milestones (each missing step said so),
 * the first anomalous sample, the unresolved marking, and a public draft that holds
 * none of the internal facts it was given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/postmortem.h"

#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */
#define S 1000LL

static void
durations_read_as_people_write_them(void **state)
{
	char b[PM_DURATION_MAX];
	(void)state;

	pm_duration(850, b, sizeof(b));
	assert_string_equal(b, "850 ms");
	pm_duration(12 * S + 900, b, sizeof(b));
	assert_string_equal(b, "12s");
	pm_duration(4 * 60 * S + 5 * S, b, sizeof(b));
	assert_string_equal(b, "4m 05s");
	pm_duration(3600 * S + 2 * 60 * S + 3 * S, b, sizeof(b));
	assert_string_equal(b, "1h 02m 03s");
	pm_duration(2 * 86400 * S + 3600 * S, b, sizeof(b));
	assert_string_equal(b, "2d 01h 00m 00s");
	pm_duration(-1, b, sizeof(b));
	assert_string_equal(b, "-");
}

/* A fixture: an incident with events, pages, updates, a history. */
struct world {
	struct ilog_incident inc;
	struct ilog_event ev[8];
	struct ilog_events events;
	struct ilog_page page[2];
	struct ilog_pages pages;
	struct ilog_public_entry upd[2];
	struct ilog_public_entries updates;
	struct ilog_history_row rows[64];
	struct ilog_history_rows history;
	struct pm_facts f;
};

static void
add_event(struct world *w, int64_t at, const char *actor, const char *type, const char *body)
{
	struct ilog_event *e = &w->ev[w->events.n++];

	e->at = at;
	snprintf(e->actor, sizeof(e->actor), "%s", actor);
	snprintf(e->type, sizeof(e->type), "%s", type);
	e->body_json = (char *)body;
}

static void
add_row(struct world *w, int64_t at, const char *node, int64_t probes, int64_t slow,
    int64_t conns)
{
	struct ilog_history_row *r = &w->rows[w->history.n++];

	memset(r, 0, sizeof(*r));
	r->at = at;
	snprintf(r->cluster, sizeof(r->cluster), "c1");
	snprintf(r->node, sizeof(r->node), "%s", node);
	r->probes = probes;
	r->slow = slow;
	r->p50_us = r->p99_us = probes > 0 ? 800 : -1;
	r->connections = conns;
	r->new_per_second = 1;
}

static void
world_init(struct world *w, bool with_steps)
{
	memset(w, 0, sizeof(*w));
	w->inc.id = 7;
	snprintf(w->inc.kind, sizeof(w->inc.kind), "latency_tail");
	snprintf(w->inc.cluster, sizeof(w->inc.cluster), "c1");
	snprintf(w->inc.node, sizeof(w->inc.node), "secret-node-9");
	snprintf(w->inc.title, sizeof(w->inc.title), "Slow on secret-node-9 for tenant-x");
	w->inc.severity = ILOG_SEVERITY_MAJOR;
	w->inc.state = ILOG_STATE_OPEN;
	w->inc.opened_at = T0;
	w->events.v = w->ev;
	w->pages.v = w->page;
	w->updates.v = w->upd;
	w->history.v = w->rows;
	add_event(w, T0, "mcmon", "opened", "{\"evidence\":{\"tenant\":\"tenant-x\",\"p99_us\":123456}}");
	if (with_steps) {
		w->page[0].sent_at = T0 + 30 * S;
		w->page[0].step = 0;
		snprintf(w->page[0].target, sizeof(w->page[0].target), "ann@ops.example");
		w->pages.n = 1;
		add_event(w, T0 + 30 * S, "mcalert", "paged", "{\"target\":\"ann@ops.example\"}");
		add_event(w, T0 + 95 * S, "xmpp:ann@ops.example", "acked", "{}");
		add_event(w, T0 + 5 * 60 * S, "mctl:ann", "note", "{\"message\":\"internal secret\"}");
		add_event(w, T0 + 10 * 60 * S, "mctl:ann", "rebalance",
		    "{\"cluster\":\"c1\",\"done\":2,\"failed\":0}");
		add_event(w, T0 + 62 * 60 * S, "mctl:ann", "resolved", "{\"message\":\"ok\"}");
		w->inc.state = ILOG_STATE_RESOLVED;
		w->inc.acked_at = T0 + 95 * S;
		snprintf(w->inc.acked_by, sizeof(w->inc.acked_by), "xmpp:ann@ops.example");
		w->inc.resolved_at = T0 + 62 * 60 * S;
		snprintf(w->inc.resolved_by, sizeof(w->inc.resolved_by), "mctl:ann");
		w->upd[0].at = T0 + 60 * S;
		w->upd[0].status = ILOG_PUBLIC_INVESTIGATING;
		snprintf(w->upd[0].message, sizeof(w->upd[0].message), "We are looking into it.");
		w->updates.n = 1;
	}
	w->f.now = T0 + 2 * 3600 * S;
	w->f.inc = &w->inc;
	w->f.events = &w->events;
	w->f.pages = &w->pages;
	w->f.updates = &w->updates;
	w->f.history = &w->history;
	pm_window(w->inc.opened_at, w->inc.resolved_at, w->f.now, &w->f.from, &w->f.until);
	w->f.latency_chart = "d-latency.svg";
	w->f.connections_chart = "d-connections.svg";
}

static void
each_step_is_timed_from_the_opening_and_from_the_start(void **state)
{
	struct world w;
	struct pm_milestones m;
	struct textbuf b = { 0 };
	int i;
	(void)state;

	world_init(&w, true);
	/* Quiet, then slow from 40 s before the opening. */
	for (i = -20; i <= 4; i++)
		add_row(&w, T0 + i * 10 * S, "", 100, i >= -4 ? 40 : 1, 100);
	pm_milestones(&w.f, &m);
	assert_true(m.start_from_history);
	assert_int_equal(m.start, T0 - 40 * S);
	assert_int_equal(m.paged, T0 + 30 * S);
	assert_int_equal(m.acked, T0 + 95 * S);
	assert_int_equal(m.remedied, T0 + 10 * 60 * S);
	assert_int_equal(m.resolved, T0 + 62 * 60 * S);
	assert_int_equal(pm_markdown(&w.f, &b), 0);
	assert_non_null(strstr(b.data, "| Detect (opened) | 2023-11-14T22:13:20Z | 40s | 0 ms |"));
	assert_non_null(strstr(b.data, "| Page | 2023-11-14T22:13:50Z | 1m 10s | 30s |"));
	assert_non_null(strstr(b.data, "| Acknowledge | 2023-11-14T22:14:55Z | 2m 15s | 1m 35s |"));
	assert_non_null(strstr(b.data, "| Remedy | 2023-11-14T22:23:20Z | 10m 40s | 10m 00s |"));
	assert_non_null(strstr(b.data, "| Resolve | 2023-11-14T23:15:20Z | 1h 02m 40s | 1h 02m 00s |"));
	assert_non_null(strstr(b.data, "rebalance on c1: done on 2, failed on 0"));
	assert_non_null(strstr(b.data, "Answered by: xmpp:ann@ops.example at 2023-11-14T22:14:55Z"));
	assert_non_null(strstr(b.data, "**investigating** — We are looking into it."));
	assert_non_null(strstr(b.data, "![Latency share](d-latency.svg)"));
	assert_non_null(strstr(b.data, "![Connections](d-connections.svg)"));
	assert_non_null(strstr(b.data, "- p99\\_us: 123456\n"));
	assert_null(strstr(b.data, "UNRESOLVED"));
	textbuf_release(&b);
}

static void
missing_steps_are_said_and_an_open_incident_is_marked_unresolved(void **state)
{
	struct world w;
	struct pm_milestones m;
	struct textbuf b = { 0 };
	(void)state;

	world_init(&w, false);
	pm_milestones(&w.f, &m);
	assert_false(m.start_from_history);
	assert_int_equal(m.start, T0);
	assert_int_equal(m.paged, 0);
	assert_int_equal(m.acked, 0);
	assert_int_equal(m.remedied, 0);
	assert_int_equal(m.resolved, 0);
	assert_int_equal(pm_markdown(&w.f, &b), 0);
	assert_non_null(strstr(b.data, "**UNRESOLVED:**"));
	assert_non_null(strstr(b.data, "| Page | — | — | no page was sent |"));
	assert_non_null(strstr(b.data, "| Acknowledge | — | — | not acknowledged |"));
	assert_non_null(strstr(b.data, "| Remedy | — | — | no remedy recorded |"));
	assert_non_null(strstr(b.data, "| Resolve | — | — | **not resolved** |"));
	assert_non_null(strstr(b.data, "No remedy was recorded"));
	assert_non_null(strstr(b.data, "No page was sent"));
	assert_non_null(strstr(b.data, "nobody acknowledged it"));
	assert_non_null(strstr(b.data, "No history was recorded"));
	textbuf_release(&b);
}

static void
a_quiet_history_or_too_little_of_it_gives_no_earlier_start(void **state)
{
	struct world w;
	int i;
	(void)state;

	world_init(&w, false);
	for (i = -20; i <= 0; i++)
		add_row(&w, T0 + i * 10 * S, "", 100, 1, 100);
	assert_int_equal(pm_anomaly_start(&w.history, T0), 0);
	world_init(&w, false);
	for (i = -3; i <= 0; i++)
		add_row(&w, T0 + i * 10 * S, "", 100, 90, 100);
	assert_int_equal(pm_anomaly_start(&w.history, T0), 0);
	/* A connection surge counts as well as a latency one. */
	world_init(&w, false);
	for (i = -20; i <= 0; i++)
		add_row(&w, T0 + i * 10 * S, "", 100, 1, i >= -2 ? 900 : 100);
	assert_int_equal(pm_anomaly_start(&w.history, T0), T0 - 20 * S);
}

static void
the_public_draft_holds_only_public_facts(void **state)
{
	static const char *const secrets[] = { "secret-node-9", "tenant-x", "ann@ops.example",
		"internal secret", "123456", "mctl:ann", "latency_tail" };
	struct model_update up = { .at = T0 + 60 * S, .status = ILOG_PUBLIC_INVESTIGATING,
		.body = (char *)"We are looking into slow responses." };
	struct model_incident pub = { .id = 7, .impact = MODEL_IMPACT_MAJOR,
		.created_at = T0, .resolved_at = T0 + 62 * 60 * S, .updates = &up, .nupdates = 1 };
	struct world w;
	struct textbuf b = { 0 }, svg = { 0 };
	size_t i;
	(void)state;

	world_init(&w, true);
	add_row(&w, T0, "", 100, 50, 10);
	add_row(&w, T0, "secret-node-9", 100, 50, 10);
	snprintf(pub.name, sizeof(pub.name), "Degraded performance in Cache EU");
	pub.impact_percent = 30;
	snprintf(pub.impact_text, sizeof(pub.impact_text), "about 30%% of caches in Cache EU");
	w.f.public = true;
	w.f.pub = &pub;
	w.f.public_series = "Cache EU";
	assert_int_equal(pm_markdown(&w.f, &b), 0);
	assert_int_equal(pm_chart(&w.f, PM_CHART_LATENCY, &svg), 0);
	assert_non_null(strstr(b.data, "# Postmortem: Degraded performance in Cache EU"));
	assert_non_null(strstr(b.data, "We are looking into slow responses."));
	/* The status page's rounded share is public; the evidence's counts are not. */
	assert_non_null(strstr(b.data, "Customers affected: about 30% of caches in Cache EU"));
	assert_non_null(strstr(svg.data, "Cache EU"));
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strstr(b.data, secrets[i]) != NULL || strstr(svg.data, secrets[i]) != NULL)
			fail_msg("'%s' is in the public draft", secrets[i]);
	}
	textbuf_release(&b);
	textbuf_release(&svg);
}

static void
the_timeline_is_in_time_order_and_the_measured_impact_is_given(void **state)
{
	struct world w;
	struct textbuf b = { 0 };
	const char *late, *early;
	(void)state;

	world_init(&w, false);
	add_event(&w, T0 + 40 * S, "mcmon", "evidence",
	    "{\"impact\":{\"tenants\":3,\"of\":10,\"percent\":30}}");
	add_event(&w, T0 + 20 * S, "mcalert", "paged", "{\"target\":\"bob@ops.example\"}");
	assert_int_equal(pm_markdown(&w.f, &b), 0);
	early = strstr(b.data, "| mcalert | paged |");
	late = strstr(b.data, "| mcmon | evidence |");
	assert_non_null(early);
	assert_non_null(late);
	assert_true(early < late);
	assert_non_null(strstr(b.data, "about 30% of the cluster's caches (3 of 10 tenants)"));
	textbuf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations_read_as_people_write_them),
		cmocka_unit_test(each_step_is_timed_from_the_opening_and_from_the_start),
		cmocka_unit_test(missing_steps_are_said_and_an_open_incident_is_marked_unresolved),
		cmocka_unit_test(a_quiet_history_or_too_little_of_it_gives_no_earlier_start),
		cmocka_unit_test(the_public_draft_holds_only_public_facts),
		cmocka_unit_test(the_timeline_is_in_time_order_and_the_measured_impact_is_given),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
