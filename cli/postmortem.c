/*
 * postmortem — see postmortem.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "postmortem.h"
#include "svgchart.h"
#include "utctime.h"

#define TEXT_MAX ILOG_MESSAGE_MAX  /* one cell or line of the draft, cleaned */
#define SUMMARY_MAX 300            /* an event's summary in the timeline */
#define PATH_MAX_LEN 120           /* an evidence figure's name */
#define ANOMALY_SHARE_FLOOR 0.01   /* a latency share below this is never anomalous */
#define ANOMALY_RATE_FLOOR 5.0     /* new connections a second, above the quiet level */
#define ANOMALY_CONNS_FLOOR 20.0   /* connections, above the quiet level */

/* Event types that are remedies: what lib/remedy.h and lib/tenants_edit.h's callers
 * record, from mctl and from chat alike. */
static const char *const remedy_types[] = { ILOG_EV_FLUSH, ILOG_EV_REBALANCE, ILOG_EV_DRAIN,
	ILOG_EV_CONNLIMIT };

bool
pm_is_remedy(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(remedy_types) / sizeof(remedy_types[0]); i++)
		if (strcmp(type, remedy_types[i]) == 0)
			return true;
	return false;
}

void
pm_duration(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%lld ms", (long long)ms);
	else if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh %02lldm %02llds", (long long)(s / 3600),
		    (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%lldd %02lldh %02lldm %02llds", (long long)(s / 86400),
		    (long long)(s / 3600 % 24), (long long)(s / 60 % 60), (long long)(s % 60));
}

void
pm_window(int64_t opened, int64_t resolved, int64_t now, int64_t *from, int64_t *until)
{
	int64_t end = resolved > 0 ? resolved : now, margin;

	if (end < opened)
		end = opened;
	margin = (end - opened) / 4;
	if (margin < PM_MARGIN_MIN_MS)
		margin = PM_MARGIN_MIN_MS;
	if (margin > PM_MARGIN_MAX_MS)
		margin = PM_MARGIN_MAX_MS;
	*from = opened - margin;
	*until = end + margin;
	if (resolved <= 0 && *until > now)
		*until = now > opened ? now : opened + 1;
}

/* --- milestones ------------------------------------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of the known (>= 0) values among v[0..n), or -1. Sorts v. */
static double
median(double *v, size_t n)
{
	size_t k = 0, i;

	for (i = 0; i < n; i++)
		if (v[i] >= 0)
			v[k++] = v[i];
	if (k == 0)
		return -1;
	qsort(v, k, sizeof(*v), cmp_double);
	return v[k / 2];
}

struct quiet {
	double share, rate, conns; /* -1: unknown */
};

static bool
anomalous(const struct ilog_history_row *r, const struct quiet *q)
{
	double share = ilog_history_share(r);

	if (q->share >= 0 && share >= ANOMALY_SHARE_FLOOR && share > 2 * q->share)
		return true;
	if (q->rate >= 0 && r->new_per_second >= 0 &&
	    r->new_per_second > 2 * q->rate + ANOMALY_RATE_FLOOR)
		return true;
	return q->conns >= 0 && r->connections >= 0 &&
	    (double)r->connections > 1.5 * q->conns + ANOMALY_CONNS_FLOOR;
}

int64_t
pm_anomaly_start(const struct ilog_history_rows *h, int64_t opened)
{
	size_t n = 0, i, quarter, last = 0;
	struct quiet q;
	double *v;
	int64_t start = 0;

	for (i = 0; i < h->n; i++) {
		if (h->v[i].node[0] != '\0' || h->v[i].at > opened)
			continue;
		n++;
		last = i;
	}
	quarter = n / 4;
	if (quarter < PM_BASELINE_ROWS_MIN || (v = calloc(quarter, sizeof(*v))) == NULL)
		return 0;
	/* The quiet level: the earliest quarter of the cluster's rows before the opening. */
#define QUIET_OF(field_expr, out)                                              \
	do {                                                                   \
		size_t k = 0;                                                  \
		for (i = 0; i < h->n && k < quarter; i++) {                    \
			const struct ilog_history_row *r = &h->v[i];           \
			if (r->node[0] == '\0' && r->at <= opened)             \
				v[k++] = (field_expr);                         \
		}                                                              \
		(out) = median(v, k);                                          \
	} while (0)
	QUIET_OF(ilog_history_share(r), q.share);
	QUIET_OF(r->new_per_second, q.rate);
	QUIET_OF((double)r->connections, q.conns);
#undef QUIET_OF
	free(v);
	for (i = last + 1; i-- > 0;) {
		const struct ilog_history_row *r = &h->v[i];
		if (r->node[0] != '\0' || r->at > opened)
			continue;
		if (!anomalous(r, &q))
			break;
		start = r->at;
	}
	return start;
}

void
pm_milestones(const struct pm_facts *f, struct pm_milestones *m)
{
	size_t i;
	int64_t start;

	memset(m, 0, sizeof(*m));
	m->opened = f->inc->opened_at;
	m->resolved = f->inc->state == ILOG_STATE_RESOLVED ? f->inc->resolved_at : 0;
	for (i = 0; i < f->pages->n; i++)
		if (m->paged == 0 || f->pages->v[i].sent_at < m->paged)
			m->paged = f->pages->v[i].sent_at;
	for (i = 0; i < f->events->n; i++) {
		const struct ilog_event *ev = &f->events->v[i];
		if (m->acked == 0 && strcmp(ev->type, ILOG_EV_ACKED) == 0)
			m->acked = ev->at;
		if (m->remedied == 0 && pm_is_remedy(ev->type))
			m->remedied = ev->at;
	}
	if (m->acked == 0 && f->inc->acked_at > 0)
		m->acked = f->inc->acked_at;
	start = f->history != NULL ? pm_anomaly_start(f->history, m->opened) : 0;
	m->start_from_history = start > 0 && start < m->opened;
	m->start = m->start_from_history ? start : m->opened;
}

/* --- Markdown ------------------------------------------------------------------------ */

/* s as one line of Markdown text: cleaned, newlines as spaces, markup escaped. */
static void
md_text(struct textbuf *out, const char *s)
{
	char *clean = malloc(TEXT_MAX + 1);
	const char *p;

	if (clean == NULL) {
		out->failed = true;
		return;
	}
	model_clean_text(s != NULL ? s : "", clean, TEXT_MAX + 1);
	for (p = clean; *p != '\0'; p++) {
		switch (*p) {
		case '\n': case '\r': case '\t':
			textbuf_add(out, " ", 1);
			break;
		case '<': textbuf_puts(out, "&lt;"); break;
		case '>': textbuf_puts(out, "&gt;"); break;
		case '&': textbuf_puts(out, "&amp;"); break;
		case '\\': case '`': case '*': case '_': case '[': case ']': case '|': case '#':
		case '!':
			textbuf_add(out, "\\", 1);
			textbuf_add(out, p, 1);
			break;
		default:
			textbuf_add(out, p, 1);
		}
	}
	free(clean);
}

static void
md_time(struct textbuf *out, int64_t ms)
{
	char t[UTC_TEXT_MAX];

	if (ms <= 0) {
		textbuf_puts(out, "—");
		return;
	}
	utc_format(ms, t, sizeof(t));
	textbuf_puts(out, t);
}

static void
md_duration(struct textbuf *out, int64_t ms)
{
	char d[PM_DURATION_MAX];

	pm_duration(ms, d, sizeof(d));
	textbuf_puts(out, d);
}

static void
unresolved_note(const struct pm_facts *f, bool resolved, struct textbuf *out)
{
	textbuf_puts(out, "> Draft generated by mctl at ");
	md_time(out, f->now);
	textbuf_puts(out, ": edit before sharing.\n");
	if (!resolved) {
		textbuf_puts(out, ">\n> **UNRESOLVED:** this incident is not resolved yet; the "
				  "figures and charts end at the time of this draft.\n");
	}
	textbuf_puts(out, "\n");
}

/* An event's one-line summary: its message, title or a short form of its body. */
static void
event_summary(const struct ilog_event *ev, struct textbuf *out)
{
	json_t *body = json_loads(ev->body_json, 0, NULL);
	const char *keys[] = { "message", "title", "summary", "target", "note" };
	char cut[SUMMARY_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = body != NULL ? json_object_get(body, keys[i]) : NULL;
		if (json_is_string(v)) {
			snprintf(cut, sizeof(cut), "%s", json_string_value(v));
			md_text(out, cut);
			json_decref(body);
			return;
		}
	}
	if (pm_is_remedy(ev->type) && body != NULL) {
		json_t *cl = json_object_get(body, "cluster"), *t = json_object_get(body, "tenant");
		textbuf_printf(out, "%s", ev->type);
		if (json_is_string(t)) {
			textbuf_puts(out, " tenant ");
			md_text(out, json_string_value(t));
		}
		if (json_is_string(cl)) {
			textbuf_puts(out, " on ");
			md_text(out, json_string_value(cl));
		}
		textbuf_printf(out, ": done on %lld, failed on %lld",
		    (long long)json_integer_value(json_object_get(body, "done")),
		    (long long)json_integer_value(json_object_get(body, "failed")));
	} else if (strcmp(ev->body_json, "{}") != 0) {
		snprintf(cut, sizeof(cut), "%s", ev->body_json);
		md_text(out, cut);
		if (strlen(ev->body_json) > SUMMARY_MAX)
			textbuf_puts(out, "…");
	}
	json_decref(body);
}

static int
cmp_event_time(const void *a, const void *b)
{
	const struct ilog_event *x = *(const struct ilog_event *const *)a;
	const struct ilog_event *y = *(const struct ilog_event *const *)b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The events by time: a writer's record may land after a later one's (a page recorded
 * once delivered), and the log's order is by id. */
static void
section_timeline(const struct pm_facts *f, struct textbuf *out)
{
	const struct ilog_event **order = calloc(f->events->n + 1, sizeof(*order));
	size_t i;

	if (order == NULL) {
		out->failed = true;
		return;
	}
	for (i = 0; i < f->events->n; i++)
		order[i] = &f->events->v[i];
	qsort(order, f->events->n, sizeof(*order), cmp_event_time);
	textbuf_puts(out, "## Timeline (UTC)\n\n| Time (UTC) | Actor | Event | Detail |\n"
			  "|---|---|---|---|\n");
	for (i = 0; i < f->events->n; i++) {
		const struct ilog_event *ev = order[i];
		textbuf_puts(out, "| ");
		md_time(out, ev->at);
		textbuf_puts(out, " | ");
		md_text(out, ev->actor);
		textbuf_puts(out, " | ");
		md_text(out, ev->type);
		textbuf_puts(out, " | ");
		event_summary(ev, out);
		textbuf_puts(out, " |\n");
	}
	if (f->events->truncated)
		textbuf_puts(out, "\n(more events than one draft lists)\n");
	textbuf_puts(out, "\n");
	free(order);
}

static void
step_row(struct textbuf *out, const char *name, int64_t at, const struct pm_milestones *m,
    const char *missing)
{
	textbuf_printf(out, "| %s | ", name);
	if (at <= 0) {
		textbuf_printf(out, "— | — | %s |\n", missing);
		return;
	}
	md_time(out, at);
	textbuf_puts(out, " | ");
	md_duration(out, at - m->start);
	textbuf_puts(out, " | ");
	md_duration(out, at - m->opened);
	textbuf_puts(out, " |\n");
}

static void
section_times(const struct pm_milestones *m, struct textbuf *out)
{
	textbuf_puts(out, "## Time to detect, page, acknowledge, remedy and resolve\n\n");
	textbuf_puts(out, "Start: ");
	md_time(out, m->start);
	textbuf_puts(out, m->start_from_history ?
	    " (the first anomalous sample recorded by mcmon before the opening)\n\n" :
	    " (no earlier anomaly recorded by mcmon: the opening)\n\n");
	textbuf_puts(out, "| Step | At (UTC) | From start | From opened |\n|---|---|---|---|\n");
	textbuf_printf(out, "| Detect (opened) | ");
	md_time(out, m->opened);
	textbuf_puts(out, " | ");
	md_duration(out, m->opened - m->start);
	textbuf_puts(out, " | 0 ms |\n");
	step_row(out, "Page", m->paged, m, "no page was sent");
	step_row(out, "Acknowledge", m->acked, m, "not acknowledged");
	step_row(out, "Remedy", m->remedied, m, "no remedy recorded");
	step_row(out, "Resolve", m->resolved, m, "**not resolved**");
	textbuf_puts(out, "\n");
}

static void
section_remedies(const struct pm_facts *f, struct textbuf *out)
{
	size_t i, n = 0;

	textbuf_puts(out, "## Remedies\n\n");
	for (i = 0; i < f->events->n; i++) {
		const struct ilog_event *ev = &f->events->v[i];
		json_t *body;
		long long failed;

		if (!pm_is_remedy(ev->type))
			continue;
		n++;
		body = json_loads(ev->body_json, 0, NULL);
		failed = (long long)json_integer_value(json_object_get(body, "failed"));
		textbuf_puts(out, "- ");
		md_time(out, ev->at);
		textbuf_puts(out, " — ");
		event_summary(ev, out);
		textbuf_puts(out, " (by ");
		md_text(out, ev->actor);
		textbuf_printf(out, "). Outcome: %s.\n", failed > 0 ? "partly failed" :
		    body != NULL && json_object_get(body, "done") != NULL ? "done" : "recorded");
		json_decref(body);
	}
	if (n == 0)
		textbuf_puts(out, "No remedy was recorded on this incident.\n");
	textbuf_puts(out, "\n");
}

static void
section_pages(const struct pm_facts *f, struct textbuf *out)
{
	size_t i;

	textbuf_puts(out, "## Pages\n\n");
	if (f->pages->n == 0) {
		textbuf_puts(out, "No page was sent.\n\n");
	} else {
		textbuf_puts(out, "| Sent (UTC) | Step | To | Delivered | Failed |\n"
				  "|---|---|---|---|---|\n");
		for (i = 0; i < f->pages->n; i++) {
			const struct ilog_page *p = &f->pages->v[i];
			textbuf_puts(out, "| ");
			md_time(out, p->sent_at);
			textbuf_printf(out, " | %d | ", p->step);
			md_text(out, p->target);
			textbuf_puts(out, " | ");
			md_time(out, p->delivered_at);
			textbuf_puts(out, " | ");
			md_time(out, p->failed_at);
			if (p->detail[0] != '\0') {
				textbuf_puts(out, " ");
				md_text(out, p->detail);
			}
			textbuf_puts(out, " |\n");
		}
		textbuf_puts(out, "\n");
	}
	textbuf_puts(out, "Answered by: ");
	if (f->inc->acked_by[0] != '\0') {
		md_text(out, f->inc->acked_by);
		textbuf_puts(out, " at ");
		md_time(out, f->inc->acked_at);
	} else {
		textbuf_puts(out, "nobody acknowledged it");
	}
	textbuf_puts(out, ".\n\n");
}

static void
section_updates(const struct pm_facts *f, struct textbuf *out)
{
	size_t i;

	textbuf_puts(out, "## Public updates\n\n");
	for (i = 0; i < f->updates->n; i++) {
		const struct ilog_public_entry *u = &f->updates->v[i];
		textbuf_puts(out, "- ");
		md_time(out, u->at);
		textbuf_printf(out, " — **%s** — ", ilog_public_status_name(u->status));
		md_text(out, u->message);
		textbuf_puts(out, " (");
		md_text(out, u->actor);
		textbuf_puts(out, ")\n");
	}
	if (f->updates->n == 0)
		textbuf_puts(out, "None was posted.\n");
	textbuf_puts(out, "\n");
}

/* The scalar members of an evidence body, one "name: value" line each. */
static void
flatten(const json_t *j, const char *path, size_t *lines, struct textbuf *out)
{
	char sub[PATH_MAX_LEN];
	const char *key;
	json_t *v;
	size_t i;

	if (*lines >= PM_EVIDENCE_LINES_MAX)
		return;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, key, v) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] != '\0' ? "." : "", key);
			flatten(v, sub, lines, out);
		}
		return;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			flatten(v, sub, lines, out);
		}
		return;
	}
	(*lines)++;
	textbuf_puts(out, "- ");
	md_text(out, path);
	textbuf_puts(out, ": ");
	if (json_is_string(j)) {
		md_text(out, json_string_value(j));
	} else {
		char *text = json_dumps(j, JSON_ENCODE_ANY);
		md_text(out, text != NULL ? text : "?");
		free(text);
	}
	textbuf_puts(out, "\n");
}

struct peaks {
	size_t samples;
	double share, new_per_second;
	int64_t p99_us, connections;
};

static void
peaks_of(const struct ilog_history_rows *h, const char *node, int64_t from, int64_t until,
    struct peaks *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->share = p->new_per_second = -1;
	p->p99_us = p->connections = -1;
	for (i = 0; i < h->n; i++) {
		const struct ilog_history_row *r = &h->v[i];
		if (strcmp(r->node, node) != 0 || r->at < from || r->at > until)
			continue;
		p->samples++;
		p->share = fmax(p->share, ilog_history_share(r));
		p->new_per_second = fmax(p->new_per_second, r->new_per_second);
		p->p99_us = r->p99_us > p->p99_us ? r->p99_us : p->p99_us;
		p->connections = r->connections > p->connections ? r->connections : p->connections;
	}
}

static void
peaks_row(struct textbuf *out, const char *label, const struct peaks *p)
{
	textbuf_puts(out, "| ");
	md_text(out, label);
	textbuf_printf(out, " | %zu | ", p->samples);
	if (p->share >= 0)
		textbuf_printf(out, "%.1f%%", p->share * 100);
	else
		textbuf_puts(out, "—");
	textbuf_puts(out, " | ");
	if (p->p99_us >= 0)
		textbuf_printf(out, "%.1f ms", (double)p->p99_us / 1000.0);
	else
		textbuf_puts(out, "—");
	textbuf_puts(out, " | ");
	if (p->connections >= 0)
		textbuf_printf(out, "%lld", (long long)p->connections);
	else
		textbuf_puts(out, "—");
	textbuf_puts(out, " | ");
	if (p->new_per_second >= 0)
		textbuf_printf(out, "%.1f", p->new_per_second);
	else
		textbuf_puts(out, "—");
	textbuf_puts(out, " |\n");
}

/* Peaks over the incident itself (opening to end), per node and for the cluster. */
static void
section_figures(const struct pm_facts *f, int64_t opened, int64_t end, struct textbuf *out)
{
	const struct ilog_history_rows *h = f->history;
	struct peaks p;
	size_t i, j;

	textbuf_puts(out, "### Recorded by mcmon during the incident\n\n");
	if (h == NULL || h->n == 0) {
		textbuf_puts(out, "No history was recorded for this cluster over the incident "
				  "(mcmon's history_interval, history_retention).\n\n");
		return;
	}
	textbuf_puts(out, "| Series | Samples | Peak latency share | Peak probe p99 | "
			  "Peak connections | Peak new connections/s |\n"
			  "|---|---|---|---|---|---|\n");
	peaks_of(h, "", opened, end, &p);
	peaks_row(out, f->public ? f->public_series : "cluster (sum)", &p);
	if (!f->public) {
		for (i = 0; i < h->n; i++) {
			bool seen = false;
			if (h->v[i].node[0] == '\0')
				continue;
			for (j = 0; j < i && !seen; j++)
				seen = strcmp(h->v[j].node, h->v[i].node) == 0;
			if (seen)
				continue;
			peaks_of(h, h->v[i].node, opened, end, &p);
			peaks_row(out, h->v[i].node, &p);
		}
	}
	textbuf_puts(out, "\n");
}

static void
section_evidence(const struct pm_facts *f, int64_t opened, int64_t end, struct textbuf *out)
{
	const struct ilog_event *first = NULL, *last = NULL;
	size_t i, lines;

	textbuf_puts(out, "## Evidence\n\n");
	section_figures(f, opened, end, out);
	if (f->public)
		return;
	for (i = 0; i < f->events->n; i++) {
		const struct ilog_event *ev = &f->events->v[i];
		if (strcmp(ev->type, ILOG_EV_OPENED) == 0 && first == NULL)
			first = ev;
		if (strcmp(ev->type, ILOG_EV_EVIDENCE) == 0 ||
		    strcmp(ev->type, ILOG_EV_SEVERITY) == 0)
			last = ev;
	}
	for (i = 0; i < 2; i++) {
		const struct ilog_event *ev = i == 0 ? first : last;
		json_t *body;

		if (ev == NULL)
			continue;
		body = json_loads(ev->body_json, 0, NULL);
		textbuf_puts(out, i == 0 ? "### At the opening (" : "### Latest evidence (");
		md_time(out, ev->at);
		textbuf_puts(out, ")\n\n");
		lines = 0;
		flatten(json_object_get(body, "evidence") != NULL ?
		    json_object_get(body, "evidence") : body, "", &lines, out);
		if (lines == 0)
			textbuf_puts(out, "No figures.\n");
		textbuf_puts(out, "\n");
		json_decref(body);
	}
}

static void
section_charts(const struct pm_facts *f, struct textbuf *out)
{
	textbuf_puts(out, "## Charts\n\nFrom ");
	md_time(out, f->from);
	textbuf_puts(out, " to ");
	md_time(out, f->until);
	textbuf_puts(out, " (UTC), the incident with a margin before and after.\n\n");
	if (f->latency_chart != NULL && f->connections_chart != NULL) {
		textbuf_puts(out, "![Latency share](");
		textbuf_puts(out, f->latency_chart);
		textbuf_puts(out, ")\n\n![Connections](");
		textbuf_puts(out, f->connections_chart);
		textbuf_puts(out, ")\n\n");
	} else {
		md_text(out, f->charts_note != NULL ? f->charts_note : "No charts were written.");
		textbuf_puts(out, "\n\n");
	}
}

static void
section_followups(struct textbuf *out)
{
	textbuf_puts(out, "## Root cause\n\n_To be written._\n\n"
			  "## Follow-ups\n\n- [ ] _To be written._\n");
}

/* The share of customers mcmon measured (an evidence's "impact": tenants, of, percent),
 * the latest one written; else a placeholder. */
static void
impact_line(const struct pm_facts *f, struct textbuf *out)
{
	long long tenants = -1, of = -1, percent = -1;
	size_t i;

	for (i = 0; i < f->events->n; i++) {
		json_t *body = json_loads(f->events->v[i].body_json, 0, NULL);
		json_t *ev = json_object_get(body, "evidence");
		json_t *im = json_object_get(ev != NULL ? ev : body, "impact");
		if (json_is_object(im) && json_is_integer(json_object_get(im, "percent"))) {
			percent = (long long)json_integer_value(json_object_get(im, "percent"));
			tenants = (long long)json_integer_value(json_object_get(im, "tenants"));
			of = (long long)json_integer_value(json_object_get(im, "of"));
		}
		json_decref(body);
	}
	if (percent < 0) {
		textbuf_puts(out, "- Customers affected: _to be written (see the evidence "
				  "below)._\n\n");
		return;
	}
	textbuf_printf(out, "- Customers affected: about %lld%% of the cluster's caches "
			    "(%lld of %lld tenants), as mcmon measured\n\n", percent, tenants, of);
}

static int
internal_markdown(const struct pm_facts *f, struct textbuf *out)
{
	const struct ilog_incident *inc = f->inc;
	struct pm_milestones m;
	int64_t end;

	pm_milestones(f, &m);
	end = m.resolved > 0 ? m.resolved : f->now;
	textbuf_printf(out, "# Postmortem draft: incident %lld — ", (long long)inc->id);
	md_text(out, inc->title);
	textbuf_puts(out, "\n\n");
	unresolved_note(f, m.resolved > 0, out);
	textbuf_puts(out, "## Summary\n\n");
	textbuf_printf(out, "- Incident %lld, kind ", (long long)inc->id);
	md_text(out, inc->kind);
	textbuf_printf(out, ", severity %s, state %s\n", ilog_severity_name(inc->severity),
	    ilog_state_name(inc->state));
	textbuf_puts(out, "- Cluster: ");
	md_text(out, inc->cluster[0] != '\0' ? inc->cluster : "(none)");
	if (inc->node[0] != '\0') {
		textbuf_puts(out, ", node ");
		md_text(out, inc->node);
	}
	textbuf_puts(out, "\n- Opened ");
	md_time(out, inc->opened_at);
	if (m.resolved > 0) {
		textbuf_puts(out, ", resolved ");
		md_time(out, m.resolved);
		textbuf_puts(out, " by ");
		md_text(out, inc->resolved_by);
		textbuf_puts(out, "; open for ");
		md_duration(out, m.resolved - m.opened);
	} else {
		textbuf_puts(out, "; **not resolved** (open for ");
		md_duration(out, f->now - m.opened);
		textbuf_puts(out, " so far)");
	}
	textbuf_puts(out, "\n\n_What happened, in two or three sentences._\n\n");
	textbuf_puts(out, "## Impact\n\n");
	textbuf_printf(out, "- Severity %s; public status %s\n", ilog_severity_name(inc->severity),
	    ilog_public_status_name(inc->public_status));
	impact_line(f, out);
	section_timeline(f, out);
	section_times(&m, out);
	section_remedies(f, out);
	section_pages(f, out);
	section_updates(f, out);
	section_evidence(f, m.opened, end, out);
	section_charts(f, out);
	section_followups(out);
	return textbuf_failed(out) ? -1 : 0;
}

static int
public_markdown(const struct pm_facts *f, struct textbuf *out)
{
	const struct model_incident *p = f->pub;
	int64_t end = p->resolved_at > 0 ? p->resolved_at : f->now;

	textbuf_puts(out, "# Postmortem: ");
	md_text(out, p->name);
	textbuf_puts(out, "\n\n");
	unresolved_note(f, p->resolved_at > 0, out);
	textbuf_puts(out, "## Summary\n\n- Affected: ");
	md_text(out, f->public_series);
	textbuf_printf(out, "\n- Impact: %s", model_impact_name(p->impact));
	/* The status page's own rounded share, never the evidence's counts. */
	if (p->impact_percent >= 0 && p->impact_text[0] != '\0') {
		textbuf_puts(out, "\n- Customers affected: ");
		md_text(out, p->impact_text);
	}
	textbuf_puts(out, "\n- Began ");
	md_time(out, p->created_at);
	if (p->resolved_at > 0) {
		textbuf_puts(out, ", resolved ");
		md_time(out, p->resolved_at);
		textbuf_puts(out, " (");
		md_duration(out, p->resolved_at - p->created_at);
		textbuf_puts(out, ")");
	} else {
		textbuf_puts(out, "; **not resolved yet**");
	}
	textbuf_puts(out, "\n\n_What happened, in two or three sentences._\n\n"
			  "## Impact\n\n_What customers saw._\n\n");
	textbuf_puts(out, "## Timeline (UTC)\n\n| Time (UTC) | Status | Update |\n|---|---|---|\n");
	for (size_t i = 0; i < p->nupdates; i++) {
		textbuf_puts(out, "| ");
		md_time(out, p->updates[i].at);
		textbuf_printf(out, " | %s | ", ilog_public_status_name(p->updates[i].status));
		md_text(out, p->updates[i].body);
		textbuf_puts(out, " |\n");
	}
	textbuf_puts(out, "\n## Time to resolve\n\n");
	if (p->resolved_at > 0)
		md_duration(out, p->resolved_at - p->created_at);
	else
		textbuf_puts(out, "Not resolved yet.");
	textbuf_puts(out, "\n\n");
	section_evidence(f, p->created_at, end, out);
	section_charts(f, out);
	section_followups(out);
	return textbuf_failed(out) ? -1 : 0;
}

int
pm_markdown(const struct pm_facts *f, struct textbuf *out)
{
	return f->public ? public_markdown(f, out) : internal_markdown(f, out);
}

/* --- charts ------------------------------------------------------------------------- */

static double
chart_value(const struct ilog_history_row *r, enum pm_chart which)
{
	if (which == PM_CHART_LATENCY)
		return ilog_history_share(r);
	return r->connections >= 0 ? (double)r->connections : -1;
}

int
pm_chart(const struct pm_facts *f, enum pm_chart which, struct textbuf *out)
{
	const struct ilog_history_rows *h = f->history;
	struct svgchart_series series[SVGCHART_SERIES_MAX];
	struct svgchart_point *points = NULL;
	const char *names[SVGCHART_SERIES_MAX];
	size_t nseries = 0, used = 0, i, s;
	struct svgchart c = { 0 };
	int rc;

	/* The series: the cluster's row in public (no node is named there), each node's
	 * otherwise. */
	for (i = 0; h != NULL && i < h->n && nseries < SVGCHART_SERIES_MAX; i++) {
		const char *node = h->v[i].node;
		bool want = f->public ? node[0] == '\0' : node[0] != '\0';
		for (s = 0; s < nseries && want; s++)
			want = strcmp(names[s], node) != 0;
		if (want)
			names[nseries++] = node;
	}
	if (h != NULL && h->n > 0 && (points = calloc(h->n, sizeof(*points))) == NULL)
		return -1;
	for (s = 0; s < nseries; s++) {
		series[s].name = names[s][0] != '\0' ? names[s] :
		    f->public ? f->public_series : "cluster";
		series[s].v = points + used;
		series[s].n = 0;
		for (i = 0; i < h->n; i++) {
			if (strcmp(h->v[i].node, names[s]) != 0)
				continue;
			points[used].at = h->v[i].at;
			points[used].value = chart_value(&h->v[i], which);
			used++;
			series[s].n++;
		}
	}
	c.title = which == PM_CHART_LATENCY ? "Latency share (probes slower than the tail "
					      "threshold)" : "Current connections";
	c.unit = which == PM_CHART_LATENCY ? "slow probes" : "connections";
	c.percent = which == PM_CHART_LATENCY;
	c.from = f->from;
	c.until = f->until;
	if (f->public) {
		c.opened_at = f->pub->created_at;
		c.resolved_at = f->pub->resolved_at;
	} else {
		c.opened_at = f->inc->opened_at;
		c.resolved_at = f->inc->state == ILOG_STATE_RESOLVED ? f->inc->resolved_at : 0;
	}
	c.series = series;
	c.nseries = nseries;
	rc = svgchart_render(&c, out);
	free(points);
	return rc;
}
