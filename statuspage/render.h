/*
 * render — the public files, from the model: Statuspage v2 JSON (render_json.c), the
 * HTML pages (render_html.c) and the Atom feed (render_atom.c). Pure: each writes into
 * a textbuf and returns 0, or -1 if the buffer failed (out of memory or TEXTBUF_MAX).
 * Everything they print comes from the model, whose text is public by construction
 * (see model.h).
 */
#ifndef MCSTATUS_RENDER_H
#define MCSTATUS_RENDER_H

#include "model.h"
#include "textbuf.h"

#define RENDER_INCIDENTS_JSON_MAX 50 /* incidents.json holds the latest 50, as Statuspage's */

enum render_json_doc {
	RENDER_SUMMARY,        /* api/v2/summary.json */
	RENDER_STATUS,         /* api/v2/status.json */
	RENDER_COMPONENTS,     /* api/v2/components.json */
	RENDER_INCIDENTS,      /* api/v2/incidents.json */
	RENDER_UNRESOLVED,     /* api/v2/incidents/unresolved.json */
};

/* The public link to an incident's page: url + "incidents/N.html" (relative without a
 * configured url). */
void render_incident_url(const struct model *m, int64_t id, char *buf, size_t len);

int render_json(const struct model *m, enum render_json_doc doc, struct textbuf *out);
/* One incident as Statuspage's incident object (for sinks and tests). */
int render_json_incident(const struct model *m, const struct model_incident *mi,
    struct textbuf *out);
int render_index_html(const struct model *m, struct textbuf *out);
int render_incident_html(const struct model *m, const struct model_incident *mi,
    struct textbuf *out);
int render_atom(const struct model *m, struct textbuf *out);

#endif
