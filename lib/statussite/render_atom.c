/*
 * render_atom — history.atom: one entry per public update (automatic ones included),
 * newest first, for the incidents of the last MODEL_DAYS days (RFC 4287).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "utctime.h"

#define ATOM_ENTRIES_MAX 500 /* a feed reader needs the recent history, not all of it */

struct entry {
	const struct model_incident *mi;
	const struct model_update *up;
};

static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->up->at != y->up->at)
		return x->up->at > y->up->at ? -1 : 1;
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

int
render_atom(const struct model *m, struct textbuf *out)
{
	char t[UTC_TEXT_MAX], link[SP_URL_MAX + 64];
	struct entry *v = NULL;
	size_t n = 0, total = 0, i, u;

	for (i = 0; i < m->nincidents; i++)
		total += m->incidents[i].nupdates;
	if (total > 0 && (v = calloc(total, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < m->nincidents; i++)
		for (u = 0; u < m->incidents[i].nupdates; u++) {
			v[n].mi = &m->incidents[i];
			v[n].up = &m->incidents[i].updates[u];
			n++;
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
	utc_format_ms(n > 0 ? v[0].up->at : m->updated_at, t, sizeof(t));
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
