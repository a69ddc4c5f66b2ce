/*
 * payload — see statussite.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "render.h"
#include "statussite.h"
#include "utctime.h"

/* The public maintenance events (lib/ilog_maintenance.h) and what each announces;
 * silences are never public. */
static const struct {
	const char *event;
	const char *type;   /* the payload's type */
	enum ilog_maint_state status;
	const char *label;  /* the text's first words */
} maint_events[] = {
	{ ILOG_EV_MAINT_SCHEDULED, "maintenance.scheduled", ILOG_MAINT_SCHEDULED,
	    "Scheduled maintenance" },
	{ ILOG_EV_MAINT_STARTED, "maintenance.started", ILOG_MAINT_IN_PROGRESS,
	    "Maintenance in progress" },
	{ ILOG_EV_MAINT_COMPLETED, "maintenance.completed", ILOG_MAINT_COMPLETED,
	    "Maintenance completed" },
	{ ILOG_EV_MAINT_CANCELLED, "maintenance.cancelled", ILOG_MAINT_CANCELLED,
	    "Maintenance cancelled" },
};
#define NMAINT_EVENTS (sizeof(maint_events) / sizeof(maint_events[0]))

static size_t
maint_event_index(const char *type)
{
	size_t i;

	for (i = 0; i < NMAINT_EVENTS; i++)
		if (strcmp(type, maint_events[i].event) == 0)
			return i;
	return NMAINT_EVENTS;
}

bool
payload_event_is_public(const char *type)
{
	return strcmp(type, ILOG_EV_OPENED) == 0 || strcmp(type, ILOG_EV_PUBLIC_UPDATE) == 0 ||
	       strcmp(type, ILOG_EV_RESOLVED) == 0 || strcmp(type, ILOG_EV_REOPENED) == 0 ||
	       strcmp(type, ILOG_EV_SEVERITY) == 0 || maint_event_index(type) < NMAINT_EVENTS;
}

static const struct model_update *
find_update(const struct model_incident *mi, const char *id)
{
	size_t i;

	for (i = 0; i < mi->nupdates; i++)
		if (strcmp(mi->updates[i].id, id) == 0)
			return &mi->updates[i];
	return NULL;
}

/* The update an event stands for, or NULL if it stands for none. */
static const struct model_update *
event_update(const struct model_incident *mi, const struct ilog_event *ev)
{
	char id[MODEL_UPDATE_ID_MAX];
	json_t *body, *pid;
	long long n = 0;

	if (strcmp(ev->type, ILOG_EV_OPENED) == 0) {
		snprintf(id, sizeof(id), "%lld-opened", (long long)mi->id);
	} else if (strcmp(ev->type, ILOG_EV_RESOLVED) == 0) {
		snprintf(id, sizeof(id), "%lld-resolved", (long long)mi->id);
	} else if (strcmp(ev->type, ILOG_EV_PUBLIC_UPDATE) == 0) {
		if ((body = json_loads(ev->body_json != NULL ? ev->body_json : "{}", 0, NULL)) ==
		    NULL)
			return NULL;
		pid = json_object_get(body, "public_update_id");
		if (json_is_integer(pid))
			n = (long long)json_integer_value(pid);
		json_decref(body);
		if (n <= 0)
			return NULL;
		snprintf(id, sizeof(id), "%lld-u%lld", (long long)mi->id, n);
	} else {
		return NULL;
	}
	return find_update(mi, id);
}

/* The payload's JSON text into out: 1, or -1. Takes doc. */
static int
put_doc(json_t *doc, struct textbuf *out)
{
	char *s;

	if (doc == NULL)
		return -1;
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (s == NULL)
		return -1;
	textbuf_puts(out, s);
	free(s);
	return textbuf_failed(out) ? -1 : 1;
}

/*
 * A maintenance event's payload, from its body (what was announced, even for one the
 * page no longer shows: a cancelled one) and the model (the components as they are
 * now, when the batch of events is published). The components of one starting show
 * under_maintenance unless an incident shows there, as on the page.
 */
static int
maint_payload(const struct model *m, const struct ilog_event *ev, size_t k,
    struct textbuf *out)
{
	char id[32], uid[48], from[UTC_TEXT_MAX], until[UTC_TEXT_MAX];
	char name[MODEL_PUBLIC_NAME_MAX + 1], body[MODEL_MAINT_BODY_MAX];
	json_t *b = json_loads(ev->body_json != NULL ? ev->body_json : "{}", 0, NULL), *comps;
	const char *title, *message, *cluster, *kind, *text_body;
	struct textbuf text = { 0 };
	json_int_t mid, starts, ends;
	uint64_t mask;
	size_t i;
	int rc;

	title = json_string_value(json_object_get(b, "title"));
	message = json_string_value(json_object_get(b, "message"));
	cluster = json_string_value(json_object_get(b, "cluster"));
	kind = json_string_value(json_object_get(b, "kind"));
	mid = json_integer_value(json_object_get(b, "maintenance"));
	starts = json_integer_value(json_object_get(b, "starts_at"));
	ends = json_integer_value(json_object_get(b, "ends_at"));
	if (title == NULL || cluster == NULL || mid <= 0 ||
	    (kind != NULL && strcmp(kind, "public") != 0)) {
		json_decref(b);
		return 0; /* not a public maintenance: nothing to announce */
	}
	model_clean_text(title, name, sizeof(name));
	model_clean_text(message != NULL && message[0] != '\0' ? message : title, body,
	    sizeof(body));
	mask = cluster[0] != '\0' ? spconfig_affected(m->cfg, cluster) :
	    m->cfg->ncomps >= 64    ? ~(uint64_t)0 : ((uint64_t)1 << m->cfg->ncomps) - 1;
	json_decref(b); /* title, message, cluster are no longer valid */
	text_body = maint_events[k].status == ILOG_MAINT_SCHEDULED ? body :
	    render_maint_update_text(maint_events[k].status);
	if ((comps = json_array()) == NULL)
		return -1;
	for (i = 0; i < m->cfg->ncomps; i++) {
		enum model_status st = m->comps[i].status;

		if (!(mask & ((uint64_t)1 << i)))
			continue;
		if (maint_events[k].status == ILOG_MAINT_IN_PROGRESS && st == MODEL_OPERATIONAL)
			st = MODEL_UNDER_MAINTENANCE;
		json_array_append_new(comps, json_pack("{s:s, s:s, s:s}", "id", m->cfg->comps[i].id,
		    "name", m->cfg->comps[i].name, "status", model_status_name(st)));
	}
	snprintf(id, sizeof(id), "m%lld", (long long)mid);
	snprintf(uid, sizeof(uid), "%s-%s", id, ilog_maint_state_name(maint_events[k].status));
	utc_format(starts, from, sizeof(from));
	utc_format(ends, until, sizeof(until));
	textbuf_printf(&text, "%s: %s (%s to %s): %s%s%s", maint_events[k].label, name, from,
	    until, text_body, m->cfg->url[0] ? " " : "", m->cfg->url);
	rc = put_doc(json_pack("{s:I, s:s, s:o, s:{s:s, s:s, s:s}, s:s, s:s,"
			       " s:{s:s, s:s, s:s, s:s, s:o, s:o},"
			       " s:{s:s, s:s, s:s, s:o}, s:o, s:s?}",
	    "event_id", (json_int_t)ev->id, "type", maint_events[k].type, "at",
	    render_json_time(ev->at), "page", "id", m->cfg->id, "name", m->cfg->name, "url",
	    m->cfg->url, "indicator", model_impact_name(m->indicator),
	    "description", model_indicator_description(m->indicator),
	    "maintenance", "id", id, "name", name, "status",
	    ilog_maint_state_name(maint_events[k].status), "impact", "maintenance",
	    "scheduled_for", render_json_time(starts), "scheduled_until", render_json_time(ends),
	    "update", "id", uid, "status", ilog_maint_state_name(maint_events[k].status), "body",
	    text_body, "created_at", render_json_time(ev->at), "components", comps,
	    "text", textbuf_failed(&text) ? NULL : text.data), out);
	textbuf_release(&text);
	return rc;
}

int
payload_build(const struct model *m, const struct ilog_event *ev, struct textbuf *out)
{
	const struct model_incident *mi;
	const struct model_update *up;
	char link[SP_URL_MAX + 64], iid[24];
	enum model_status level;
	struct textbuf text = { 0 };
	json_t *comps, *doc;
	const char *type;
	size_t i;

	textbuf_reset(out);
	if (ev->incident_id == 0 && (i = maint_event_index(ev->type)) < NMAINT_EVENTS)
		return maint_payload(m, ev, i, out);
	if (ev->incident_id == 0 || (mi = model_find(m, ev->incident_id)) == NULL ||
	    (up = event_update(mi, ev)) == NULL)
		return 0;
	if (up->status == ILOG_PUBLIC_RESOLVED)
		type = "incident.resolved";
	else if (strcmp(ev->type, ILOG_EV_OPENED) == 0)
		type = "incident.created";
	else
		type = "incident.updated";

	/* The components as this update leaves them: the incident's level on them while
	 * it lasts (or worse, from another incident), their current status once over. */
	level = up->status == ILOG_PUBLIC_RESOLVED ? MODEL_OPERATIONAL :
						      model_impact_status(mi->impact);
	if ((comps = json_array()) == NULL)
		return -1;
	for (i = 0; i < m->cfg->ncomps; i++) {
		enum model_status st = m->comps[i].status;

		if (!(mi->components & ((uint64_t)1 << i)))
			continue;
		if (level > st)
			st = level;
		json_array_append_new(comps, json_pack("{s:s, s:s, s:s}", "id", m->cfg->comps[i].id,
		    "name", m->cfg->comps[i].name, "status", model_status_name(st)));
	}
	render_incident_url(m, mi->id, link, sizeof(link));
	textbuf_printf(&text, "%s: %s - %s: %s %s",
	    up->status == ILOG_PUBLIC_RESOLVED ? "Resolved" :
						 model_indicator_description(mi->impact),
	    mi->name, render_public_label(up->status), up->body, link);
	snprintf(iid, sizeof(iid), "%lld", (long long)mi->id);
	doc = json_pack("{s:I, s:s, s:o, s:{s:s, s:s, s:s}, s:s, s:s,"
			" s:{s:s, s:s, s:s, s:s, s:s, s:o, s:o},"
			" s:{s:s, s:s, s:s, s:o}, s:o, s:s?}",
	    "event_id", (json_int_t)ev->id, "type", type, "at", render_json_time(up->at),
	    "page", "id", m->cfg->id, "name", m->cfg->name, "url", m->cfg->url,
	    "indicator", model_impact_name(m->indicator),
	    "description", model_indicator_description(m->indicator),
	    "incident", "id", iid, "name", mi->name, "status", ilog_public_status_name(up->status),
	    "impact", model_impact_name(mi->impact), "shortlink", link,
	    "created_at", render_json_time(mi->created_at), "resolved_at",
	    up->status == ILOG_PUBLIC_RESOLVED ? render_json_time(up->at) : json_null(),
	    "update", "id", up->id, "status", ilog_public_status_name(up->status), "body", up->body,
	    "created_at", render_json_time(up->at), "components", comps,
	    "text", textbuf_failed(&text) ? NULL : text.data);
	textbuf_release(&text);
	return put_doc(doc, out);
}
