/*
 * render_atom — history.atom: one entry per public update (automatic ones included) of
 * the incidents of the last MODEL_DAYS days, and one per announcement of the
 * maintenances shown (scheduled, in progress, completed), newest first (RFC 4287).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "utctime.h"

#define ATOM_ENTRIES_MAX 500 /* a feed reader needs the recent history, not all of it */

/* A maintenance's announcements, as the sinks make them (payload.c's maint_events). */
enum maint_phase { PHASE_SCHEDULED, PHASE_IN_PROGRESS, PHASE_COMPLETED };
static const char *const phase_word[] = { "scheduled", "in_progress", "completed" };
static const char *const phase_label[] = { "Scheduled", "In progress", "Completed" };

/* An incident's update (mi, up) or a maintenance's announcement (mm, phase). */
struct entry {
	int64_t at;
	const struct model_incident *mi;
	const struct model_update *up;
	const struct model_maintenance *mm;
	enum maint_phase phase;
};

static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->at != y->at)
		return x->at > y->at ? -1 : 1;
	if ((x->mi == NULL) != (y->mi == NULL))
		return x->mi != NULL ? -1 : 1; /* an incident before a maintenance */
	if (x->mi == NULL) {
		if (x->mm != y->mm)
			return x->mm > y->mm ? -1 : 1;
		return x->phase > y->phase ? -1 : x->phase < y->phase;
	}
	if (x->mi->id != y->mi->id)
		return x->mi->id > y->mi->id ? -1 : 1;
	return x->up > y->up ? -1 : x->up < y->up; /* same incident: later update first */
}

/* A stable, unique IRI per update: its incident's link with a fragment, or a tag URI
 * when no public url is configured. */
static void
entry_id(const struct model *m, const struct model_incident *mi, const struct model_update *up,
    struct textbuf *b)
{
	char link[SP_URL_MAX + 64];

	if (m->cfg->url[0] != '\0') {
		render_incident_url(m, mi->id, link, sizeof(link));
		textbuf_escape(b, link);
		textbuf_printf(b, "#%s", up->id);
	} else {
		textbuf_printf(b, "tag:mcops.invalid,2024:%s/%s", m->cfg->id, up->id);
	}
}

/* A maintenance's announcement: its time, what it said and the stable id. */
static void
maint_entry(const struct model *m, const struct entry *e, struct textbuf *out)
{
	const struct model_maintenance *mm = e->mm;
	char t[UTC_TEXT_MAX], from[UTC_TEXT_MAX], until[UTC_TEXT_MAX];

	textbuf_puts(out, "<entry>\n<id>");
	if (m->cfg->url[0] != '\0') {
		textbuf_escape(out, m->cfg->url);
		textbuf_printf(out, "#%s-%s", mm->id, phase_word[e->phase]);
	} else {
		textbuf_printf(out, "tag:mcops.invalid,2024:%s/%s-%s", m->cfg->id, mm->id,
		    phase_word[e->phase]);
	}
	textbuf_puts(out, "</id>\n<title>");
	textbuf_escape(out, mm->name);
	textbuf_printf(out, ": Maintenance %s</title>\n",
	    e->phase == PHASE_SCHEDULED ? "scheduled" : e->phase == PHASE_IN_PROGRESS ?
	    "in progress" : "completed");
	utc_format_ms(e->at, t, sizeof(t));
	textbuf_printf(out, "<published>%s</published>\n<updated>%s</updated>\n", t, t);
	if (m->cfg->url[0] != '\0') {
		textbuf_puts(out, "<link rel=\"alternate\" type=\"text/html\" href=\"");
		textbuf_escape(out, m->cfg->url);
		textbuf_puts(out, "\"/>\n");
	}
	utc_format(mm->scheduled_for, from, sizeof(from));
	utc_format(mm->scheduled_until, until, sizeof(until));
	textbuf_puts(out, "<content type=\"text\">");
	textbuf_printf(out, "%s: ", phase_label[e->phase]);
	if (e->phase == PHASE_SCHEDULED)
		textbuf_printf(out, "from %s until %s. ", from, until);
	else if (e->phase == PHASE_IN_PROGRESS)
		textbuf_printf(out, "until %s. ", until);
	textbuf_escape(out, mm->body);
	textbuf_puts(out, "</content>\n</entry>\n");
}

int
render_atom(const struct model *m, struct textbuf *out)
{
	char t[UTC_TEXT_MAX], link[SP_URL_MAX + 64];
	struct entry *v = NULL;
	size_t n = 0, total = 0, i, u;

	for (i = 0; i < m->nincidents; i++)
		total += m->incidents[i].nupdates;
	total += 3 * m->nmaints;
	if (total > 0 && (v = calloc(total, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < m->nincidents; i++)
		for (u = 0; u < m->incidents[i].nupdates; u++) {
			v[n].mi = &m->incidents[i];
			v[n].up = &m->incidents[i].updates[u];
			v[n].at = v[n].up->at;
			n++;
		}
	for (i = 0; i < m->nmaints; i++) {
		const struct model_maintenance *mm = &m->maints[i];
		const int64_t at[] = { mm->created_at, mm->started_at, mm->completed_at };
		/* A configured window's occurrence has entries once it is a row (recorded a
		 * week ahead by mcstatus): its id is the row's from then on. */
		if (mm->log_id == 0)
			continue;
		for (u = 0; u < 3; u++) {
			/* A start or end not reached yet is no announcement. */
			if (at[u] == 0 || at[u] > m->now)
				continue;
			v[n].mm = mm;
			v[n].phase = (enum maint_phase)u;
			v[n].at = at[u];
			n++;
		}
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_entry);
	if (n > ATOM_ENTRIES_MAX)
		n = ATOM_ENTRIES_MAX;

	textbuf_puts(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			  "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n<id>");
	if (m->cfg->url[0] != '\0') {
		textbuf_escape(out, m->cfg->url);
		textbuf_puts(out, "history.atom");
	} else {
		textbuf_printf(out, "tag:mcops.invalid,2024:%s", m->cfg->id);
	}
	textbuf_puts(out, "</id>\n<title>");
	textbuf_escape(out, m->cfg->name);
	textbuf_puts(out, " - incident history</title>\n");
	utc_format_ms(n > 0 ? v[0].at : m->updated_at, t, sizeof(t));
	textbuf_printf(out, "<updated>%s</updated>\n<author><name>", t);
	textbuf_escape(out, m->cfg->name);
	textbuf_puts(out, "</name></author>\n");
	if (m->cfg->url[0] != '\0') {
		textbuf_puts(out, "<link rel=\"alternate\" type=\"text/html\" href=\"");
		textbuf_escape(out, m->cfg->url);
		textbuf_puts(out, "\"/>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"");
		textbuf_escape(out, m->cfg->url);
		textbuf_puts(out, "history.atom\"/>\n");
	}
	for (i = 0; i < n; i++) {
		const struct model_incident *mi = v[i].mi;
		const struct model_update *up = v[i].up;

		if (mi == NULL) {
			maint_entry(m, &v[i], out);
			continue;
		}
		textbuf_puts(out, "<entry>\n<id>");
		entry_id(m, mi, up, out);
		textbuf_puts(out, "</id>\n<title>");
		textbuf_escape(out, mi->name);
		textbuf_printf(out, ": %s</title>\n", render_public_label(up->status));
		utc_format_ms(up->at, t, sizeof(t));
		textbuf_printf(out, "<published>%s</published>\n<updated>%s</updated>\n", t, t);
		render_incident_url(m, mi->id, link, sizeof(link));
		textbuf_puts(out, "<link rel=\"alternate\" type=\"text/html\" href=\"");
		textbuf_escape(out, link);
		textbuf_puts(out, "\"/>\n<content type=\"text\">");
		textbuf_escape(out, up->body);
		textbuf_puts(out, "</content>\n</entry>\n");
	}
	textbuf_puts(out, "</feed>\n");
	free(v);
	return textbuf_failed(out) ? -1 : 0;
}
