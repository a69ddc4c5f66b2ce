/*
 * render_json — the Statuspage v2 public JSON documents (formats.md), with jansson.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "render.h"
#include "utctime.h"

void
render_incident_url(const struct model *m, int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%sincidents/%lld.html", m->cfg->url, (long long)id);
}

json_t *
render_json_time(int64_t ms)
{
	char buf[UTC_TEXT_MAX];

	if (ms == 0)
		return json_null();
	utc_format_ms(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
jid(int64_t id)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)id);
	return json_string(buf);
}

static json_t *
page_json(const struct model *m)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", m->cfg->id, "name", m->cfg->name,
	    "url", m->cfg->url, "time_zone", "Etc/UTC", "updated_at",
	    render_json_time(m->updated_at));
}

static json_t *
status_json(const struct model *m)
{
	return json_pack("{s:s, s:s}", "indicator", model_impact_name(m->indicator),
	    "description", model_indicator_description(m->indicator));
}

static json_t *
component_json(const struct model *m, size_t i)
{
	const struct sp_component *c = &m->cfg->comps[i];
	const struct model_component *mc = &m->comps[i];
	char start[UTC_TEXT_MAX];
	int64_t created = m->data_start != 0 ? m->data_start : m->now;

	utc_format_date(created, start, sizeof(start));
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:i, s:o, s:b, s:s, s:n, s:s, s:b, s:b}",
	    "id", c->id, "name", c->name, "status", model_status_name(mc->status),
	    "created_at", render_json_time(created),
	    "updated_at", render_json_time(mc->updated_at),
	    "position", (int)i + 1,
	    "description", c->description[0] ? json_string(c->description) : json_null(),
	    "showcase", 1, "start_date", start, "group_id", "page_id", m->cfg->id,
	    "group", 0, "only_show_if_degraded", 0);
}

static json_t *
components_json(const struct model *m, uint64_t mask)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < m->cfg->ncomps; i++)
		if (mask & ((uint64_t)1 << i))
			json_array_append_new(a, component_json(m, i));
	return a;
}

/* Which components an update changed: the first one takes them from operational to the
 * incident's level, the one that ends it back; others change nothing (null). */
static json_t *
affected_json(const struct model *m, const struct model_incident *mi, size_t u)
{
	enum model_status level = model_impact_status(mi->impact), from, to;
	bool last_public = u + 1 == mi->nupdates && !mi->active;
	json_t *a;
	size_t i;

	if (u == 0 && last_public)
		return json_null();
	if (u == 0)
		from = MODEL_OPERATIONAL, to = level;
	else if (last_public)
		from = level, to = MODEL_OPERATIONAL;
	else
		return json_null();
	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < m->cfg->ncomps; i++)
		if (mi->components & ((uint64_t)1 << i))
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "code",
			    m->cfg->comps[i].id, "name", m->cfg->comps[i].name, "old_status",
			    model_status_name(from), "new_status", model_status_name(to)));
	return a;
}

static json_t *
incident_json(const struct model *m, const struct model_incident *mi)
{
	char link[SP_URL_MAX + 64];
	json_t *o, *ups;
	size_t u;

	if ((ups = json_array()) == NULL)
		return NULL;
	for (u = mi->nupdates; u-- > 0;) { /* newest first, as Statuspage */
		const struct model_update *up = &mi->updates[u];

		json_array_append_new(ups, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:b}",
		    "id", up->id, "status", ilog_public_status_name(up->status), "body", up->body,
		    "incident_id", jid(mi->id), "created_at", render_json_time(up->at),
		    "updated_at", render_json_time(up->at), "display_at", render_json_time(up->at),
		    "affected_components", affected_json(m, mi, u), "deliver_notifications", 1));
	}
	render_incident_url(m, mi->id, link, sizeof(link));
	o = json_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:s, s:o, s:o}",
	    "id", jid(mi->id), "name", mi->name, "status", ilog_public_status_name(mi->status),
	    "created_at", render_json_time(mi->created_at),
	    "updated_at", render_json_time(mi->updated_at),
	    "monitoring_at", render_json_time(mi->monitoring_at),
	    "resolved_at", render_json_time(mi->resolved_at),
	    "impact", model_impact_name(mi->impact), "shortlink", link,
	    "started_at", render_json_time(mi->created_at), "page_id", m->cfg->id,
	    "incident_updates", ups, "components", components_json(m, mi->components));
	return o;
}

static json_t *
incidents_json(const struct model *m, bool unresolved_only)
{
	json_t *a = json_array();
	size_t i, n = 0;

	for (i = 0; a != NULL && i < m->nincidents; i++) {
		if (unresolved_only && !m->incidents[i].active)
			continue;
		if (!unresolved_only && n == RENDER_INCIDENTS_JSON_MAX)
			break;
		json_array_append_new(a, incident_json(m, &m->incidents[i]));
		n++;
	}
	return a;
}

/* --- scheduled maintenances ------------------------------------------------------------ */

const char *
render_maint_update_text(enum ilog_maint_state st)
{
	switch (st) {
	case ILOG_MAINT_IN_PROGRESS:
		return "Scheduled maintenance is currently in progress. We will provide updates "
		       "as necessary.";
	case ILOG_MAINT_COMPLETED:
		return "The scheduled maintenance has been completed.";
	case ILOG_MAINT_CANCELLED:
		return "This scheduled maintenance has been cancelled.";
	case ILOG_MAINT_SCHEDULED:
		break;
	}
	return "";
}

static json_t *
maint_update_json(const struct model_maintenance *mm, enum ilog_maint_state st, int64_t at,
    const char *body)
{
	char id[MODEL_UPDATE_ID_MAX + 16];

	snprintf(id, sizeof(id), "%s-%s", mm->id, ilog_maint_state_name(st));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:n, s:b}", "id", id, "status",
	    ilog_maint_state_name(st), "body", body, "incident_id", mm->id, "created_at",
	    render_json_time(at), "updated_at", render_json_time(at), "display_at",
	    render_json_time(at), "affected_components", "deliver_notifications", 1);
}

/* Statuspage's scheduled maintenance object: an incident with impact "maintenance". */
static json_t *
maintenance_json(const struct model *m, const struct model_maintenance *mm)
{
	json_t *ups = json_array();

	if (ups == NULL)
		return NULL;
	/* Newest first, as Statuspage. */
	if (mm->completed_at != 0)
		json_array_append_new(ups, maint_update_json(mm, ILOG_MAINT_COMPLETED,
		    mm->completed_at, render_maint_update_text(ILOG_MAINT_COMPLETED)));
	if (mm->started_at != 0)
		json_array_append_new(ups, maint_update_json(mm, ILOG_MAINT_IN_PROGRESS,
		    mm->started_at, render_maint_update_text(ILOG_MAINT_IN_PROGRESS)));
	json_array_append_new(ups, maint_update_json(mm, ILOG_MAINT_SCHEDULED, mm->created_at,
	    mm->body));
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:n, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:o}",
	    "id", mm->id, "name", mm->name, "status", ilog_maint_state_name(mm->status),
	    "created_at", render_json_time(mm->created_at),
	    "updated_at", render_json_time(mm->updated_at), "monitoring_at",
	    "resolved_at", render_json_time(mm->completed_at),
	    "started_at", render_json_time(mm->started_at),
	    "scheduled_for", render_json_time(mm->scheduled_for),
	    "scheduled_until", render_json_time(mm->scheduled_until),
	    "impact", "maintenance", "page_id", m->cfg->id, "incident_updates", ups,
	    "components", components_json(m, mm->components));
}

/* Bits of the states to list. */
#define MAINT_BIT(s) (1u << (s))

/* The maintenances in states, newest first (as Statuspage lists them). */
static json_t *
maintenances_json(const struct model *m, unsigned states)
{
	json_t *a = json_array();
	size_t i;

	for (i = m->nmaints; a != NULL && i-- > 0;)
		if (states & MAINT_BIT(m->maints[i].status))
			json_array_append_new(a, maintenance_json(m, &m->maints[i]));
	return a;
}

static int
dump(json_t *doc, struct textbuf *out)
{
	char *s;

	if (doc == NULL)
		return -1;
	s = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(doc);
	if (s == NULL)
		return -1;
	textbuf_puts(out, s);
	textbuf_puts(out, "\n");
	free(s);
	return textbuf_failed(out) ? -1 : 0;
}

int
render_json(const struct model *m, enum render_json_doc doc, struct textbuf *out)
{
	json_t *o = NULL;

	switch (doc) {
	case RENDER_SUMMARY:
		o = json_pack("{s:o, s:o, s:o, s:o, s:o}", "page", page_json(m), "components",
		    components_json(m, ~(uint64_t)0), "incidents", incidents_json(m, true),
		    "status", status_json(m), "scheduled_maintenances",
		    maintenances_json(m, MAINT_BIT(ILOG_MAINT_SCHEDULED) |
			MAINT_BIT(ILOG_MAINT_IN_PROGRESS)));
		break;
	case RENDER_STATUS:
		o = json_pack("{s:o, s:o}", "page", page_json(m), "status", status_json(m));
		break;
	case RENDER_COMPONENTS:
		o = json_pack("{s:o, s:o}", "page", page_json(m), "components",
		    components_json(m, ~(uint64_t)0));
		break;
	case RENDER_INCIDENTS:
		o = json_pack("{s:o, s:o}", "page", page_json(m), "incidents",
		    incidents_json(m, false));
		break;
	case RENDER_UNRESOLVED:
		o = json_pack("{s:o, s:o}", "page", page_json(m), "incidents",
		    incidents_json(m, true));
		break;
	case RENDER_MAINTENANCES:
		o = json_pack("{s:o, s:o}", "page", page_json(m), "scheduled_maintenances",
		    maintenances_json(m, MAINT_BIT(ILOG_MAINT_SCHEDULED) |
			MAINT_BIT(ILOG_MAINT_IN_PROGRESS) | MAINT_BIT(ILOG_MAINT_COMPLETED)));
		break;
	case RENDER_MAINTENANCES_UPCOMING:
		o = json_pack("{s:o, s:o}", "page", page_json(m), "scheduled_maintenances",
		    maintenances_json(m, MAINT_BIT(ILOG_MAINT_SCHEDULED)));
		break;
	case RENDER_MAINTENANCES_ACTIVE:
		o = json_pack("{s:o, s:o}", "page", page_json(m), "scheduled_maintenances",
		    maintenances_json(m, MAINT_BIT(ILOG_MAINT_IN_PROGRESS)));
		break;
	}
	return dump(o, out);
}

int
render_json_incident(const struct model *m, const struct model_incident *mi,
    struct textbuf *out)
{
	return dump(incident_json(m, mi), out);
}
