/*
 * model — see statussite.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "render.h"
#include "statussite.h"
#include "utf8.h"

#define RESOLVED_TEXT "This incident has been resolved."
#define PARTIAL_WEIGHT 0.3 /* a partial outage counts as 30% down, as on hosted pages */

const char *
model_impact_name(enum model_impact i)
{
	switch (i) {
	case MODEL_IMPACT_MINOR: return "minor";
	case MODEL_IMPACT_MAJOR: return "major";
	case MODEL_IMPACT_CRITICAL: return "critical";
	case MODEL_INDICATOR_MAINTENANCE: return "maintenance";
	default: return "none";
	}
}

const char *
model_status_name(enum model_status s)
{
	switch (s) {
	case MODEL_DEGRADED: return "degraded_performance";
	case MODEL_PARTIAL_OUTAGE: return "partial_outage";
	case MODEL_MAJOR_OUTAGE: return "major_outage";
	case MODEL_UNDER_MAINTENANCE: return "under_maintenance";
	default: return "operational";
	}
}

const char *
model_status_label(enum model_status s)
{
	switch (s) {
	case MODEL_DEGRADED: return "Degraded performance";
	case MODEL_PARTIAL_OUTAGE: return "Partial outage";
	case MODEL_MAJOR_OUTAGE: return "Major outage";
	case MODEL_UNDER_MAINTENANCE: return "Under maintenance";
	default: return "Operational";
	}
}

const char *
model_indicator_description(enum model_impact i)
{
	switch (i) {
	case MODEL_IMPACT_MINOR: return "Minor Service Outage";
	case MODEL_IMPACT_MAJOR: return "Partial System Outage";
	case MODEL_IMPACT_CRITICAL: return "Major System Outage";
	case MODEL_INDICATOR_MAINTENANCE: return "Service Under Maintenance";
	default: return "All Systems Operational";
	}
}

enum model_status
model_impact_status(enum model_impact i)
{
	switch (i) {
	case MODEL_IMPACT_MINOR: return MODEL_DEGRADED;
	case MODEL_IMPACT_MAJOR: return MODEL_PARTIAL_OUTAGE;
	case MODEL_IMPACT_CRITICAL: return MODEL_MAJOR_OUTAGE;
	default: return MODEL_OPERATIONAL;
	}
}

/* The length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
/*
 * Characters that are valid UTF-8 but must not reach a page, a feed or a chat:
 *   - C0 (but \n) and C1 control characters, DEL: they break HTML and the feed;
 *   - U+FFFE and U+FFFF: not XML characters, one makes the whole Atom feed unreadable;
 *   - bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069):
 *     one left open reverses the text after it (the time, the link in a chat message).
 * Returns the replacement ("" to keep the character).
 */
static const char *
unsafe_replacement(unsigned cp)
{
	if ((cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f))
		return " ";
	if (cp == 0xfffe || cp == 0xffff)
		return "\xef\xbf\xbd";
	if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return " ";
	return "";
}

void
model_clean_text(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *rep;
	size_t o = 0, n, r;
	uint32_t cp;

	if (len == 0)
		return;
	while (*p != '\0') {
		if ((n = utf8_decode(p, &cp)) == 0) {
			rep = "\xef\xbf\xbd";
			n = 1;
		} else {
			rep = unsafe_replacement(cp);
		}
		r = rep[0] != '\0' ? strlen(rep) : n;
		if (o + r >= len)
			break;
		memcpy(buf + o, rep[0] != '\0' ? rep : (const char *)p, r);
		o += r;
		p += n;
	}
	buf[o] = '\0';
}

void
model_release(struct model *m)
{
	size_t i, j;

	for (i = 0; i < m->nincidents; i++) {
		for (j = 0; j < m->incidents[i].nupdates; j++)
			free(m->incidents[i].updates[j].body);
		free(m->incidents[i].updates);
	}
	free(m->incidents);
	m->incidents = NULL;
	m->nincidents = 0;
	free(m->maints);
	m->maints = NULL;
	m->nmaints = 0;
}

const struct model_incident *
model_find(const struct model *m, int64_t id)
{
	size_t i;

	for (i = 0; i < m->nincidents; i++)
		if (m->incidents[i].id == id)
			return &m->incidents[i];
	return NULL;
}

/* Where an incident happened, in public words: its components' names, or the page's. */
static void
public_where(const struct sp_config *cfg, uint64_t mask, char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < cfg->ncomps; i++) {
		if (!(mask & ((uint64_t)1 << i)))
			continue;
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? ", " : "",
		    cfg->comps[i].name);
		if (o >= len)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "%s", cfg->name);
}

static int
add_update(struct model_incident *mi, const char *id, int64_t at, int64_t event_id,
    enum ilog_public_status status, const char *body, bool automatic)
{
	struct model_update *u;
	char clean[ILOG_MESSAGE_MAX * 3 + 1];

	u = &mi->updates[mi->nupdates];
	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "%s", id);
	u->at = at;
	u->event_id = event_id;
	u->status = status;
	u->automatic = automatic;
	model_clean_text(body, clean, sizeof(clean));
	if ((u->body = strdup(clean)) == NULL)
		return -1;
	mi->nupdates++;
	return 0;
}

static int
cmp_update(const void *a, const void *b)
{
	const struct model_update *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	/* Same millisecond: the automatic first update leads, the automatic last trails. */
	if (strstr(x->id, "-opened") != NULL || strstr(y->id, "-resolved") != NULL)
		return -1;
	if (strstr(y->id, "-opened") != NULL || strstr(x->id, "-resolved") != NULL)
		return 1;
	return 0;
}

static int
build_incident(struct model_incident *mi, const struct sp_config *cfg,
    const struct ilog_incident *in, const struct ilog_public_entries *pub, int64_t now)
{
	/* Room for every component's name: a cut here could split a character, and a name
	 * that is not UTF-8 makes every JSON document and payload fail (jansson refuses). */
	char where[SP_COMPONENTS_MAX * (SP_NAME_MAX + 2) + 1], text[sizeof(where) + 256];
	char id[MODEL_UPDATE_ID_MAX];
	size_t i, npub = pub != NULL ? pub->n : 0;
	bool public_resolved = false;
	int64_t public_resolved_at = 0;

	memset(mi, 0, sizeof(*mi));
	mi->id = in->id;
	mi->components = spconfig_affected(cfg, in->cluster);
	mi->impact = (enum model_impact)in->severity;
	if (mi->impact < MODEL_IMPACT_MINOR || mi->impact > MODEL_IMPACT_CRITICAL)
		mi->impact = MODEL_IMPACT_MINOR;
	mi->created_at = in->opened_at;
	public_where(cfg, mi->components, where, sizeof(where));
	/* The kind's public name (lib/kinds.h); "%s" is where: the affected components'
	 * public names, or the page's name. */
	snprintf(text, sizeof(text), kinds_public_title(in->kind), where);
	model_clean_text(text, mi->name, sizeof(mi->name)); /* cut at a character boundary */
	if ((mi->updates = calloc(npub + 2, sizeof(*mi->updates))) == NULL)
		return -1;

	snprintf(id, sizeof(id), "%lld-opened", (long long)in->id);
	snprintf(text, sizeof(text), kinds_public_first(in->kind), where);
	if (add_update(mi, id, in->opened_at, 0, ILOG_PUBLIC_INVESTIGATING, text, true) < 0)
		return -1;
	for (i = 0; i < npub; i++) {
		const struct ilog_public_entry *e = &pub->v[i];

		snprintf(id, sizeof(id), "%lld-u%lld", (long long)in->id, (long long)e->id);
		if (add_update(mi, id, e->at, e->event_id, e->status, e->message, false) < 0)
			return -1;
		if (e->status == ILOG_PUBLIC_RESOLVED && !public_resolved) {
			public_resolved = true;
			public_resolved_at = e->at;
		}
	}
	if (in->state == ILOG_STATE_RESOLVED && !public_resolved) {
		snprintf(id, sizeof(id), "%lld-resolved", (long long)in->id);
		if (add_update(mi, id, in->resolved_at, 0, ILOG_PUBLIC_RESOLVED, RESOLVED_TEXT,
			true) < 0)
			return -1;
	}
	qsort(mi->updates, mi->nupdates, sizeof(*mi->updates), cmp_update);

	mi->status = mi->updates[mi->nupdates - 1].status;
	mi->active = mi->status != ILOG_PUBLIC_RESOLVED && in->state != ILOG_STATE_RESOLVED;
	if (!mi->active) {
		mi->status = ILOG_PUBLIC_RESOLVED;
		mi->resolved_at = in->state == ILOG_STATE_RESOLVED ? in->resolved_at : 0;
		if (public_resolved && (mi->resolved_at == 0 || public_resolved_at < mi->resolved_at))
			mi->resolved_at = public_resolved_at;
	}
	if (mi->resolved_at > now)
		mi->resolved_at = now;
	for (i = 0; i < mi->nupdates; i++)
		if (mi->updates[i].status == ILOG_PUBLIC_MONITORING) {
			mi->monitoring_at = mi->updates[i].at;
			break;
		}
	mi->updated_at = mi->updates[mi->nupdates - 1].at;
	return 0;
}

static int
cmp_incident(const void *a, const void *b)
{
	const struct model_incident *x = a, *y = b;

	if (x->created_at != y->created_at)
		return x->created_at > y->created_at ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id;
}

struct span {
	int64_t from, to;
	enum model_status level;
};

/* Time at each level over [from, to), the worst level winning where spans overlap. */
static void
day_levels(const struct span *sp, size_t n, int64_t from, int64_t to, int64_t out[4])
{
	int64_t cuts[2 * 64 + 2], a, b;
	size_t ncuts = 0, i, j;

	memset(out, 0, 4 * sizeof(out[0]));
	cuts[ncuts++] = from;
	cuts[ncuts++] = to;
	for (i = 0; i < n && ncuts + 2 <= sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (sp[i].from > from && sp[i].from < to)
			cuts[ncuts++] = sp[i].from;
		if (sp[i].to > from && sp[i].to < to)
			cuts[ncuts++] = sp[i].to;
	}
	for (i = 1; i < ncuts; i++) /* insertion sort: a handful of cuts per day */
		for (j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
			a = cuts[j];
			cuts[j] = cuts[j - 1];
			cuts[j - 1] = a;
		}
	for (i = 0; i + 1 < ncuts; i++) {
		enum model_status worst = MODEL_OPERATIONAL;

		a = cuts[i];
		b = cuts[i + 1];
		if (b <= a)
			continue;
		for (j = 0; j < n; j++)
			if (sp[j].from <= a && sp[j].to >= b && sp[j].level > worst)
				worst = sp[j].level;
		out[worst] += b - a;
	}
}

#define SPANS_PER_DAY_MAX 64

static void
build_component(struct model *m, size_t c)
{
	struct model_component *mc = &m->comps[c];
	int64_t today = m->now - m->now % MODEL_DAY_MS, up = 0, seen = 0;
	uint64_t bit = (uint64_t)1 << c;
	size_t i, d;

	mc->status = MODEL_OPERATIONAL;
	mc->updated_at = m->data_start != 0 ? m->data_start : m->now;
	for (i = 0; i < m->nincidents; i++) {
		const struct model_incident *mi = &m->incidents[i];

		if (!(mi->components & bit))
			continue;
		if (mi->active && model_impact_status(mi->impact) > mc->status)
			mc->status = model_impact_status(mi->impact);
		if (mi->created_at > mc->updated_at)
			mc->updated_at = mi->created_at;
		if (!mi->active && mi->resolved_at > mc->updated_at)
			mc->updated_at = mi->resolved_at;
	}
	for (d = 0; d < MODEL_DAYS; d++) {
		struct model_day *day = &mc->days[d];
		struct span sp[SPANS_PER_DAY_MAX];
		int64_t from, to, lv[4];
		size_t n = 0;

		memset(day, 0, sizeof(*day));
		day->start = today - (int64_t)(MODEL_DAYS - 1 - d) * MODEL_DAY_MS;
		from = day->start;
		to = day->start + MODEL_DAY_MS;
		if (m->data_start != 0 && from < m->data_start)
			from = m->data_start;
		if (to > m->now)
			to = m->now;
		if (m->data_start == 0 || to <= from) {
			day->nodata = true;
			continue;
		}
		for (i = 0; i < m->nincidents && n < SPANS_PER_DAY_MAX; i++) {
			const struct model_incident *mi = &m->incidents[i];
			int64_t end = mi->active ? m->now : mi->resolved_at;

			if (!(mi->components & bit) || mi->created_at >= to || end <= from)
				continue;
			sp[n].from = mi->created_at;
			sp[n].to = end;
			sp[n].level = model_impact_status(mi->impact);
			n++;
		}
		day_levels(sp, n, from, to, lv);
		day->degraded_ms = lv[MODEL_DEGRADED];
		day->partial_ms = lv[MODEL_PARTIAL_OUTAGE];
		day->major_ms = lv[MODEL_MAJOR_OUTAGE];
		day->worst = day->major_ms ? MODEL_MAJOR_OUTAGE :
		    day->partial_ms ? MODEL_PARTIAL_OUTAGE :
		    day->degraded_ms ? MODEL_DEGRADED : MODEL_OPERATIONAL;
		day->uptime = 1.0 - ((double)day->major_ms + PARTIAL_WEIGHT * (double)day->partial_ms) /
		    (double)(to - from);
		seen += to - from;
		up += (to - from) - day->major_ms - (int64_t)(PARTIAL_WEIGHT * (double)day->partial_ms);
	}
	mc->has_data = seen > 0;
	mc->uptime = seen > 0 ? (double)up / (double)seen : 1.0;
}

int
model_build(struct model *m, const struct sp_config *cfg, const struct ilog_incident *inc,
    size_t n, const struct ilog_public_entries *pubs, int64_t data_start, int64_t now,
    char *err, size_t errlen)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->now = now;
	m->data_start = data_start > now ? now : data_start;
	if (n > MODEL_INCIDENTS_MAX) {
		n = MODEL_INCIDENTS_MAX;
		m->truncated = true;
	}
	if (n > 0 && (m->incidents = calloc(n, sizeof(*m->incidents))) == NULL)
		goto out_nomem;
	for (i = 0; i < n; i++) {
		/* An advisory concerns one customer's clients, not the service: the page
		 * and the sinks never show it (lib/kinds.h). */
		if (!kinds_public(inc[i].kind))
			continue;
		if (build_incident(&m->incidents[m->nincidents++], cfg, &inc[i],
			pubs != NULL ? &pubs[i] : NULL, now) < 0)
			goto out_nomem;
	}
	if (m->nincidents > 1)
		qsort(m->incidents, m->nincidents, sizeof(*m->incidents), cmp_incident);
	m->updated_at = m->data_start != 0 ? m->data_start : now;
	for (i = 0; i < m->nincidents; i++) {
		const struct model_incident *mi = &m->incidents[i];

		if (mi->active && mi->impact > m->indicator)
			m->indicator = mi->impact;
		if (mi->updated_at > m->updated_at)
			m->updated_at = mi->updated_at;
		if (mi->resolved_at > m->updated_at)
			m->updated_at = mi->resolved_at;
	}
	for (i = 0; i < cfg->ncomps; i++)
		build_component(m, i);
	return 0;

out_nomem:
	model_release(m);
	snprintf(err, errlen, "out of memory building the status model");
	return -1;
}

int
model_load(struct model *m, const struct sp_config *cfg, struct ilog *log, int64_t now,
    char *err, size_t errlen)
{
	struct ilog_query q = { 0 };
	struct ilog_incidents list = { 0 };
	struct ilog_public_entries *pubs = NULL;
	struct ilog_events first = { 0 };
	int64_t data_start = 0;
	size_t i;
	int rc = -1;

	if (ilog_tail(log, 0, 1, &first, err, errlen) != ILOG_OK)
		return -1;
	if (first.n > 0)
		data_start = first.v[0].at;
	ilog_events_release(&first);
	q.states = ILOG_STATES_ALL;
	q.since = now - (int64_t)MODEL_DAYS * MODEL_DAY_MS;
	q.limit = MODEL_INCIDENTS_MAX;
	if (ilog_incident_list(log, &q, &list, err, errlen) != ILOG_OK)
		return -1;
	if (list.n > 0 && (pubs = calloc(list.n, sizeof(*pubs))) == NULL) {
		snprintf(err, errlen, "out of memory reading public updates");
		goto out_list;
	}
	for (i = 0; i < list.n; i++)
		if (ilog_public_list(log, list.v[i].id, &pubs[i], err, errlen) != ILOG_OK)
			goto out_pubs;
	/* Incidents opened before the first event kept (a pruned log) still count. */
	for (i = 0; i < list.n; i++)
		if (data_start == 0 || list.v[i].opened_at < data_start)
			data_start = list.v[i].opened_at;
	rc = model_build(m, cfg, list.v, list.n, pubs, data_start, now, err, errlen);
	m->truncated = m->truncated || list.truncated;
	if (rc == 0)
		rc = model_load_maintenances(m, log, err, errlen);
out_pubs:
	for (i = 0; pubs != NULL && i < list.n; i++)
		ilog_public_entries_release(&pubs[i]);
	free(pubs);
out_list:
	ilog_incidents_release(&list);
	return rc;
}
