/*
 * The status model and its renderers (statuspage/): the impact -> status mapping, the
 * public timeline, what is never public, uptime per day, the Statuspage v2 JSON, the
 * Atom feed, the HTML, the sinks' payload, and the site writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "helper.h"
#include "statussite/statussite.h"
#include "lib/statussite/render.h" /* the renderers, tested one by one */

#define DAY MODEL_DAY_MS
#define HOUR (3600LL * 1000)
/* 2026-11-20 00:00:00 UTC */
#define T0 1795132800000LL

static const char conf_text[] =
    "[log]\npath = /tmp/x.db\n"
    "[statuspage]\ndir = /tmp/site\nname = Example Cache\nurl = https://status.example.com\n"
    "[cluster c1]\ntitle = US-East C1\n"
    "[cluster c2]\ntitle = EU C2\n";

static struct sp_config *
load_conf(const char *text, int expect_rc, struct config_errors *errs)
{
	struct sp_config *sp = calloc(1, sizeof(*sp));
	struct config cfg = { 0 };

	assert_non_null(sp);
	assert_int_equal(config_load_string(&cfg, "test.conf", text, errs), 0);
	assert_int_equal(spconfig_load(&cfg, sp, true, errs), expect_rc);
	config_release(&cfg);
	return sp;
}

static struct ilog_incident
incident(int64_t id, const char *kind, const char *cluster, enum ilog_severity sev,
    int64_t opened, int64_t resolved)
{
	struct ilog_incident in;

	memset(&in, 0, sizeof(in));
	in.id = id;
	snprintf(in.kind, sizeof(in.kind), "%s", kind);
	snprintf(in.cluster, sizeof(in.cluster), "%s", cluster);
	snprintf(in.node, sizeof(in.node), "node-secret-7");
	snprintf(in.title, sizeof(in.title), "tail on host-secret-9 for tenant-secret-3");
	in.severity = sev;
	in.opened_at = opened;
	in.state = resolved ? ILOG_STATE_RESOLVED : ILOG_STATE_OPEN;
	in.resolved_at = resolved;
	return in;
}

static void
add_public(struct ilog_public_entries *p, int64_t id, int64_t at, enum ilog_public_status st,
    const char *msg)
{
	struct ilog_public_entry *e;

	p->v = realloc(p->v, (p->n + 1) * sizeof(*p->v));
	assert_non_null(p->v);
	e = &p->v[p->n++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->at = at;
	e->event_id = 100 + id;
	e->status = st;
	snprintf(e->message, sizeof(e->message), "%s", msg);
}

static void
components_default_to_one_per_cluster_named_by_title(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);

	(void)state;
	assert_int_equal(sp->ncomps, 2);
	assert_string_equal(sp->comps[0].id, "c1");
	assert_string_equal(sp->comps[0].name, "US-East C1");
	assert_string_equal(sp->url, "https://status.example.com/");
	assert_int_equal(spconfig_affected(sp, "c2"), 2);
	assert_int_equal(spconfig_affected(sp, ""), 0);
	assert_int_equal(spconfig_affected(sp, "c9"), 0);
	free(sp);
	config_errors_release(&errs);
}

static void
component_sections_replace_the_default_and_bad_ones_are_reported(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp;

	(void)state;
	sp = load_conf("[statuspage]\ndir = d\n[cluster c1]\n[cluster c2]\n"
		       "[component api]\ntitle = Cache API\nclusters = c1, c2\n", 0, &errs);
	assert_int_equal(sp->ncomps, 1);
	assert_string_equal(sp->comps[0].name, "Cache API");
	assert_int_equal(sp->comps[0].nclusters, 2);
	assert_int_equal(spconfig_affected(sp, "c2"), 1);
	free(sp);

	sp = load_conf("[statuspage]\nurl = ftp://x\npoll = 1ms\n[component bad/name]\n", -1,
	    &errs);
	free(sp);
	/* dir missing, url not http, poll too short, the component's name */
	assert_int_equal(errs.n, 4);
	assert_non_null(strstr(errs.msgs[1], "url"));
	assert_non_null(strstr(errs.msgs[0], "dir"));
	config_errors_release(&errs);

	/* A public name must be valid UTF-8: JSON could not carry it otherwise. */
	memset(&errs, 0, sizeof(errs));
	sp = load_conf("[statuspage]\ndir = d\n[cluster c1]\ntitle = Caf\xe9\n", -1, &errs);
	free(sp);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "title"));
	config_errors_release(&errs);
}

static void
no_incident_means_operational_and_days_before_the_log_have_no_data(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct model m;
	char err[256];

	(void)state;
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0 + 2 * DAY, T0 + 3 * DAY + HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(m.indicator, MODEL_IMPACT_NONE);
	assert_int_equal(m.comps[0].status, MODEL_OPERATIONAL);
	/* today is day 89; the log starts yesterday = day 88 */
	assert_true(m.comps[0].days[87].nodata);
	assert_false(m.comps[0].days[88].nodata);
	assert_false(m.comps[0].days[89].nodata);
	assert_true(m.comps[0].days[89].uptime == 1.0);
	assert_int_equal(m.comps[0].days[89].start, T0 + 3 * DAY);
	model_release(&m);

	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, 0, T0, err, sizeof(err)), 0);
	assert_true(m.comps[0].days[89].nodata);
	assert_false(m.comps[0].has_data);
	model_release(&m);
	free(sp);
	config_errors_release(&errs);
}

static void
an_incident_degrades_its_component_by_impact_and_names_nothing_internal(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_incident in[2];
	struct model m;
	char err[256];

	(void)state;
	in[0] = incident(1, "latency_tail", "c1", ILOG_SEVERITY_MINOR, T0 + HOUR, 0);
	in[1] = incident(2, "node_down", "c2", ILOG_SEVERITY_CRITICAL, T0 + 2 * HOUR, 0);
	assert_int_equal(model_build(&m, sp, in, 2, NULL, T0, T0 + 3 * HOUR, err, sizeof(err)), 0);
	assert_int_equal(m.indicator, MODEL_IMPACT_CRITICAL);
	assert_int_equal(m.comps[0].status, MODEL_DEGRADED);
	assert_int_equal(m.comps[1].status, MODEL_MAJOR_OUTAGE);
	assert_int_equal(m.nincidents, 2);
	assert_int_equal(m.incidents[0].id, 2); /* newest first */
	assert_string_equal(m.incidents[1].name, "Elevated latency in US-East C1");
	assert_int_equal(m.incidents[1].nupdates, 1);
	assert_true(m.incidents[1].updates[0].automatic);
	assert_string_equal(m.incidents[1].updates[0].body,
	    "We are investigating elevated latency in US-East C1.");
	assert_int_equal(m.incidents[1].status, ILOG_PUBLIC_INVESTIGATING);
	assert_null(strstr(m.incidents[0].name, "secret"));
	model_release(&m);
	free(sp);
	config_errors_release(&errs);
}

/* An advisory (connection_churn: one customer's clients) is not the public's business:
 * no incident on the page, no degraded component, no payload for the sinks. */
static void
an_advisory_is_left_off_the_page_and_out_of_the_sinks(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_incident in[2];
	struct ilog_event ev = { 0 };
	struct textbuf b = { 0 };
	struct model m;
	char err[256];

	(void)state;
	in[0] = incident(1, "connection_churn", "c1", ILOG_SEVERITY_MINOR, T0 + HOUR, 0);
	in[1] = incident(2, "latency_tail", "c2", ILOG_SEVERITY_MINOR, T0 + 2 * HOUR, 0);
	assert_int_equal(model_build(&m, sp, in, 2, NULL, T0, T0 + 3 * HOUR, err, sizeof(err)), 0);
	assert_int_equal(m.nincidents, 1);
	assert_int_equal(m.incidents[0].id, 2);
	assert_int_equal(m.comps[0].status, MODEL_OPERATIONAL);
	ev.id = 7;
	ev.incident_id = 1;
	snprintf(ev.type, sizeof(ev.type), "opened");
	assert_int_equal(payload_build(&m, &ev, &b), 0);
	textbuf_release(&b);
	model_release(&m);
	free(sp);
	config_errors_release(&errs);
}

static void
public_updates_form_the_timeline_and_a_public_resolve_ends_the_impact(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_public_entries pub = { 0 };
	struct ilog_incident in = incident(5, "connection_storm", "c1", ILOG_SEVERITY_MAJOR,
	    T0 + HOUR, 0);
	struct model m;
	char err[256];

	(void)state;
	add_public(&pub, 1, T0 + HOUR + 60000, ILOG_PUBLIC_IDENTIFIED, "A client retry loop.");
	add_public(&pub, 2, T0 + HOUR + 120000, ILOG_PUBLIC_MONITORING, "Fixed; watching.");
	assert_int_equal(model_build(&m, sp, &in, 1, &pub, T0, T0 + 2 * HOUR, err, sizeof(err)), 0);
	assert_int_equal(m.incidents[0].nupdates, 3);
	assert_string_equal(m.incidents[0].updates[1].id, "5-u1");
	assert_int_equal(m.incidents[0].status, ILOG_PUBLIC_MONITORING);
	assert_int_equal(m.incidents[0].monitoring_at, T0 + HOUR + 120000);
	assert_int_equal(m.comps[0].status, MODEL_PARTIAL_OUTAGE);
	assert_int_equal(m.indicator, MODEL_IMPACT_MAJOR);
	model_release(&m);

	add_public(&pub, 3, T0 + HOUR + 180000, ILOG_PUBLIC_RESOLVED, "All good.");
	assert_int_equal(model_build(&m, sp, &in, 1, &pub, T0, T0 + 2 * HOUR, err, sizeof(err)), 0);
	assert_false(m.incidents[0].active);
	assert_int_equal(m.incidents[0].resolved_at, T0 + HOUR + 180000);
	assert_int_equal(m.comps[0].status, MODEL_OPERATIONAL);
	assert_int_equal(m.indicator, MODEL_IMPACT_NONE);
	assert_int_equal(m.incidents[0].nupdates, 4); /* no automatic resolve on top */
	model_release(&m);

	/* Resolved internally too: still no second "resolved" update. */
	in.state = ILOG_STATE_RESOLVED;
	in.resolved_at = T0 + HOUR + 240000;
	assert_int_equal(model_build(&m, sp, &in, 1, &pub, T0, T0 + 2 * HOUR, err, sizeof(err)), 0);
	assert_int_equal(m.incidents[0].nupdates, 4);
	model_release(&m);
	free(pub.v);
	free(sp);
	config_errors_release(&errs);
}

static void
an_internal_resolve_adds_an_automatic_resolved_update(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_incident in = incident(3, "node_down", "c2", ILOG_SEVERITY_MAJOR, T0 + HOUR,
	    T0 + 2 * HOUR);
	struct model m;
	char err[256];

	(void)state;
	assert_int_equal(model_build(&m, sp, &in, 1, NULL, T0, T0 + 3 * HOUR, err, sizeof(err)), 0);
	assert_int_equal(m.incidents[0].nupdates, 2);
	assert_string_equal(m.incidents[0].updates[1].id, "3-resolved");
	assert_string_equal(m.incidents[0].updates[1].body, "This incident has been resolved.");
	assert_int_equal(m.incidents[0].resolved_at, T0 + 2 * HOUR);
	assert_int_equal(m.comps[1].status, MODEL_OPERATIONAL);
	model_release(&m);
	free(sp);
	config_errors_release(&errs);
}

static void
uptime_counts_major_fully_partial_at_thirty_percent_and_the_worst_wins(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_incident in[3];
	const struct model_day *d;
	struct model m;
	char err[256];

	(void)state;
	/* day: [T0, T0+10h) observed. critical 1h..3h, major 2h..6h (overlaps 1h), minor. */
	in[0] = incident(1, "node_down", "c1", ILOG_SEVERITY_CRITICAL, T0 + HOUR, T0 + 3 * HOUR);
	in[1] = incident(2, "latency_tail", "c1", ILOG_SEVERITY_MAJOR, T0 + 2 * HOUR, T0 + 6 * HOUR);
	in[2] = incident(3, "latency_tail", "c1", ILOG_SEVERITY_MINOR, T0 + 7 * HOUR, T0 + 8 * HOUR);
	assert_int_equal(model_build(&m, sp, in, 3, NULL, T0, T0 + 10 * HOUR, err, sizeof(err)), 0);
	d = &m.comps[0].days[MODEL_DAYS - 1];
	assert_int_equal(d->major_ms, 2 * HOUR);
	assert_int_equal(d->partial_ms, 3 * HOUR);
	assert_int_equal(d->degraded_ms, HOUR);
	assert_int_equal(d->worst, MODEL_MAJOR_OUTAGE);
	assert_true(d->uptime > 0.709 && d->uptime < 0.711); /* 1 - (2 + 0.9) / 10 */
	assert_true(m.comps[1].days[MODEL_DAYS - 1].uptime == 1.0);
	model_release(&m);
	free(sp);
	config_errors_release(&errs);
}

static void
text_is_cleaned_to_utf8_without_control_characters(void **state)
{
	char buf[64];

	(void)state;
	model_clean_text("ok \xff\x01 é\n", buf, sizeof(buf));
	assert_string_equal(buf, "ok \xef\xbf\xbd  é\n");
	model_clean_text("\xe2\x82", buf, sizeof(buf)); /* a cut sequence */
	assert_string_equal(buf, "\xef\xbf\xbd\xef\xbf\xbd");
	model_clean_text("abcdef", buf, 4);
	assert_string_equal(buf, "abc");
}

static json_t *
render_doc(const struct model *m, enum render_json_doc doc)
{
	struct textbuf b = { 0 };
	json_error_t jerr;
	json_t *o;

	assert_int_equal(render_json(m, doc, &b), 0);
	o = json_loads(b.data, 0, &jerr);
	assert_non_null(o);
	textbuf_release(&b);
	return o;
}

static void
json_documents_have_statuspage_v2_shapes(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_public_entries pub[2] = { { 0 }, { 0 } };
	struct ilog_incident in[2];
	json_t *o, *inc, *up;
	struct model m;
	char err[256];

	(void)state;
	in[0] = incident(1, "latency_tail", "c1", ILOG_SEVERITY_MINOR, T0 + HOUR, 0);
	in[1] = incident(2, "node_down", "c2", ILOG_SEVERITY_MAJOR, T0 + 2 * HOUR, T0 + 3 * HOUR);
	add_public(&pub[0], 9, T0 + HOUR + 5000, ILOG_PUBLIC_IDENTIFIED, "Found it <b>&</b>");
	assert_int_equal(model_build(&m, sp, in, 2, pub, T0, T0 + 4 * HOUR, err, sizeof(err)), 0);

	o = render_doc(&m, RENDER_SUMMARY);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "status"),
	    "indicator")), "minor");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "page"),
	    "time_zone")), "Etc/UTC");
	assert_int_equal(json_array_size(json_object_get(o, "components")), 2);
	assert_int_equal(json_array_size(json_object_get(o, "incidents")), 1); /* unresolved */
	assert_int_equal(json_array_size(json_object_get(o, "scheduled_maintenances")), 0);
	inc = json_array_get(json_object_get(o, "incidents"), 0);
	assert_string_equal(json_string_value(json_object_get(inc, "status")), "identified");
	assert_string_equal(json_string_value(json_object_get(inc, "impact")), "minor");
	assert_string_equal(json_string_value(json_object_get(inc, "shortlink")),
	    "https://status.example.com/incidents/1.html");
	assert_true(json_is_null(json_object_get(inc, "resolved_at")));
	up = json_array_get(json_object_get(inc, "incident_updates"), 0); /* newest first */
	assert_string_equal(json_string_value(json_object_get(up, "body")), "Found it <b>&</b>");
	assert_string_equal(json_string_value(json_object_get(up, "incident_id")), "1");
	json_decref(o);

	o = render_doc(&m, RENDER_INCIDENTS);
	assert_int_equal(json_array_size(json_object_get(o, "incidents")), 2);
	inc = json_array_get(json_object_get(o, "incidents"), 0);
	assert_string_equal(json_string_value(json_object_get(inc, "status")), "resolved");
	assert_string_equal(json_string_value(json_object_get(inc, "resolved_at")),
	    "2026-11-20T03:00:00.000Z");
	json_decref(o);

	o = render_doc(&m, RENDER_COMPONENTS);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o,
	    "components"), 0), "status")), "degraded_performance");
	json_decref(o);
	model_release(&m);
	free(pub[0].v);
	free(sp);
	config_errors_release(&errs);
}

static void
html_escapes_public_text_and_labels_every_state(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_public_entries pub = { 0 };
	struct ilog_incident in = incident(1, "latency_tail", "c1", ILOG_SEVERITY_MINOR,
	    T0 + DAY + HOUR, 0);
	struct textbuf b = { 0 };
	struct model m;
	char err[256];

	(void)state;
	add_public(&pub, 1, T0 + DAY + 2 * HOUR, ILOG_PUBLIC_IDENTIFIED, "<script>x()</script>");
	assert_int_equal(model_build(&m, sp, &in, 1, &pub, T0 + DAY, T0 + DAY + 3 * HOUR, err,
	    sizeof(err)), 0);
	assert_int_equal(render_index_html(&m, &b), 0);
	assert_null(strstr(b.data, "<script>"));
	assert_non_null(strstr(b.data, "&lt;script&gt;x()&lt;/script&gt;"));
	assert_non_null(strstr(b.data, "Minor Service Outage"));
	assert_non_null(strstr(b.data, "Degraded performance"));
	assert_non_null(strstr(b.data, "20 Nov 2026: No data"));
	assert_non_null(strstr(b.data, "21 Nov 2026: 100.00%, degraded performance 2 h 0 min"));
	assert_non_null(strstr(b.data, "UTC"));
	assert_null(strstr(b.data, "secret"));
	textbuf_reset(&b);
	assert_int_equal(render_incident_html(&m, &m.incidents[0], &b), 0);
	assert_non_null(strstr(b.data, "Elevated latency in US-East C1"));
	assert_non_null(strstr(b.data, "href=\"../history.atom\""));
	textbuf_release(&b);
	model_release(&m);
	free(pub.v);
	free(sp);
	config_errors_release(&errs);
}

static void
atom_has_one_entry_per_public_update(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_public_entries pub = { 0 };
	struct ilog_incident in = incident(4, "latency_tail", "c1", ILOG_SEVERITY_MINOR, T0 + HOUR,
	    T0 + 3 * HOUR);
	struct textbuf b = { 0 };
	struct model m;
	const char *p;
	char err[256];
	int n = 0;

	(void)state;
	add_public(&pub, 1, T0 + 2 * HOUR, ILOG_PUBLIC_IDENTIFIED, "x & y");
	assert_int_equal(model_build(&m, sp, &in, 1, &pub, T0, T0 + 4 * HOUR, err, sizeof(err)), 0);
	assert_int_equal(render_atom(&m, &b), 0);
	for (p = b.data; (p = strstr(p, "<entry>")) != NULL; p++)
		n++;
	assert_int_equal(n, 3); /* opened, the public update, the automatic resolve */
	assert_non_null(strstr(b.data, "x &amp; y"));
	assert_non_null(strstr(b.data, "<id>https://status.example.com/incidents/4.html#4-u1</id>"));
	textbuf_release(&b);
	model_release(&m);
	free(pub.v);
	free(sp);
	config_errors_release(&errs);
}

static void
payloads_exist_for_public_changes_only(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf(conf_text, 0, &errs);
	struct ilog_public_entries pub = { 0 };
	struct ilog_incident in = incident(6, "latency_tail", "c1", ILOG_SEVERITY_MINOR, T0 + HOUR,
	    T0 + 3 * HOUR);
	struct ilog_event ev = { 0 };
	struct textbuf b = { 0 };
	char err[256], body[] = "{\"public_update_id\":1,\"status\":\"resolved\"}";
	struct model m;
	json_t *o;

	(void)state;
	add_public(&pub, 1, T0 + 2 * HOUR, ILOG_PUBLIC_RESOLVED, "Recovered.");
	assert_int_equal(model_build(&m, sp, &in, 1, &pub, T0, T0 + 4 * HOUR, err, sizeof(err)), 0);
	ev.id = 42;
	ev.incident_id = 6;
	snprintf(ev.type, sizeof(ev.type), "opened");
	assert_int_equal(payload_build(&m, &ev, &b), 1);
	o = json_loads(b.data, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "event_id")), 42);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "incident.created");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "update"), "id")),
	    "6-opened");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o,
	    "components"), 0), "status")), "degraded_performance");
	assert_null(strstr(b.data, "secret"));
	json_decref(o);

	snprintf(ev.type, sizeof(ev.type), "public_update");
	ev.body_json = body;
	assert_int_equal(payload_build(&m, &ev, &b), 1);
	assert_non_null(strstr(b.data, "\"type\":\"incident.resolved\""));
	assert_non_null(strstr(b.data, "Recovered."));

	/* The internal resolve after a public "resolved": nothing new to say. */
	snprintf(ev.type, sizeof(ev.type), "resolved");
	ev.body_json = NULL;
	assert_int_equal(payload_build(&m, &ev, &b), 0);
	snprintf(ev.type, sizeof(ev.type), "note");
	assert_int_equal(payload_build(&m, &ev, &b), 0);
	ev.incident_id = 99;
	snprintf(ev.type, sizeof(ev.type), "opened");
	assert_int_equal(payload_build(&m, &ev, &b), 0);
	textbuf_release(&b);
	model_release(&m);
	free(pub.v);
	free(sp);
	config_errors_release(&errs);
}

static void
site_files_are_replaced_whole_and_unchanged_ones_are_left_alone(void **state)
{
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX], err[256], buf[16];
	struct stat st1, st2;
	int changed;
	FILE *fp;

	(void)state;
	assert_int_equal(test_dir_make(dir, sizeof(dir), "test_site"), 0);
	assert_int_equal(site_write_file(dir, "a/b/c.json", "{}\n", 3, &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 1);
	test_dir_file(path, sizeof(path), dir, "a/b/c.json");
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(site_write_file(dir, "a/b/c.json", "{}\n", 3, &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(site_write_file(dir, "a/b/c.json", "[1]\n", 4, &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 1);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "[1]\n");
	assert_int_equal(site_write_file(dir, "../escape", "x", 1, &changed, err, sizeof(err)), -1);
	assert_int_equal(site_write_file(dir, "/etc/x", "x", 1, &changed, err, sizeof(err)), -1);
	assert_int_equal(test_dir_remove(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(components_default_to_one_per_cluster_named_by_title),
		cmocka_unit_test(component_sections_replace_the_default_and_bad_ones_are_reported),
		cmocka_unit_test(no_incident_means_operational_and_days_before_the_log_have_no_data),
		cmocka_unit_test(an_incident_degrades_its_component_by_impact_and_names_nothing_internal),
		cmocka_unit_test(an_advisory_is_left_off_the_page_and_out_of_the_sinks),
		cmocka_unit_test(public_updates_form_the_timeline_and_a_public_resolve_ends_the_impact),
		cmocka_unit_test(an_internal_resolve_adds_an_automatic_resolved_update),
		cmocka_unit_test(uptime_counts_major_fully_partial_at_thirty_percent_and_the_worst_wins),
		cmocka_unit_test(text_is_cleaned_to_utf8_without_control_characters),
		cmocka_unit_test(json_documents_have_statuspage_v2_shapes),
		cmocka_unit_test(html_escapes_public_text_and_labels_every_state),
		cmocka_unit_test(atom_has_one_entry_per_public_update),
		cmocka_unit_test(payloads_exist_for_public_changes_only),
		cmocka_unit_test(site_files_are_replaced_whole_and_unchanged_ones_are_left_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
