/*
 * payload — see payload.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "payload.h"
#include "render.h"
#include "utctime.h"

bool
payload_event_is_public(const char *type)
{
	return strcmp(type, ILOG_EV_OPENED) == 0 || strcmp(type, ILOG_EV_PUBLIC_UPDATE) == 0 ||
	       strcmp(type, ILOG_EV_RESOLVED) == 0 || strcmp(type, ILOG_EV_REOPENED) == 0 ||
	       strcmp(type, ILOG_EV_SEVERITY) == 0;
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

static const char *
label(enum ilog_public_status s)
{
	switch (s) {
	case ILOG_PUBLIC_IDENTIFIED: return "Identified";
	case ILOG_PUBLIC_MONITORING: return "Monitoring";
	case ILOG_PUBLIC_RESOLVED: return "Resolved";
	default: return "Investigating";
	}
}

static json_t *
jtime(int64_t ms)
{
	char buf[UTC_TEXT_MAX];

	if (ms == 0)
		return json_null();
	utc_format_ms(ms, buf, sizeof(buf));
	return json_string(buf);
}

int
payload_build(const struct model *m, const struct ilog_event *ev, struct textbuf *out)
{
	const struct model_incident *mi;
	const struct model_update *up;
	char link[SP_URL_MAX + 64], iid[24], *s;
	enum model_status level;
	struct textbuf text = { 0 };
	json_t *comps, *doc;
	const char *type;
	size_t i;

	textbuf_reset(out);
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
	    mi->name, label(up->status), up->body, link);
	snprintf(iid, sizeof(iid), "%lld", (long long)mi->id);
	doc = json_pack("{s:I, s:s, s:o, s:{s:s, s:s, s:s}, s:s, s:s,"
			" s:{s:s, s:s, s:s, s:s, s:s, s:o, s:o},"
			" s:{s:s, s:s, s:s, s:o}, s:o, s:s?}",
	    "event_id", (json_int_t)ev->id, "type", type, "at", jtime(up->at),
	    "page", "id", m->cfg->id, "name", m->cfg->name, "url", m->cfg->url,
	    "indicator", model_impact_name(m->indicator),
	    "description", model_indicator_description(m->indicator),
	    "incident", "id", iid, "name", mi->name, "status", ilog_public_status_name(up->status),
	    "impact", model_impact_name(mi->impact), "shortlink", link,
	    "created_at", jtime(mi->created_at), "resolved_at",
	    up->status == ILOG_PUBLIC_RESOLVED ? jtime(up->at) : json_null(),
	    "update", "id", up->id, "status", ilog_public_status_name(up->status), "body", up->body,
	    "created_at", jtime(up->at), "components", comps,
	    "text", textbuf_failed(&text) ? NULL : text.data);
	textbuf_release(&text);
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
