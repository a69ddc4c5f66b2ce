/*
 * render — the public files, from the model: Statuspage v2 JSON (render_json.c), the
 * HTML pages (render_html.c) and the Atom feed (render_atom.c). Pure: each writes into
 * a textbuf and returns 0, or -1 if the buffer failed (out of memory or TEXTBUF_MAX).
 * Everything they print comes from the model, whose text is public by construction
 * (see statussite.h, "model").
 *
 * Private to lib/statussite/: the rest of the tree gets the files through site_render()
 * and a public change through payload_build() (statussite.h).
 */
#ifndef STATUSSITE_RENDER_H
#define STATUSSITE_RENDER_H

#include <jansson.h>

#include "statussite.h"

#define RENDER_INCIDENTS_JSON_MAX 50 /* incidents.json holds the latest 50, as Statuspage's */

enum render_json_doc {
	RENDER_SUMMARY,        /* api/v2/summary.json */
	RENDER_STATUS,         /* api/v2/status.json */
	RENDER_COMPONENTS,     /* api/v2/components.json */
	RENDER_INCIDENTS,      /* api/v2/incidents.json */
	RENDER_UNRESOLVED,     /* api/v2/incidents/unresolved.json */
	RENDER_MAINTENANCES,   /* api/v2/scheduled-maintenances.json */
	RENDER_MAINTENANCES_UPCOMING, /* api/v2/scheduled-maintenances/upcoming.json */
	RENDER_MAINTENANCES_ACTIVE,   /* api/v2/scheduled-maintenances/active.json */
};

/* The public link to an incident's page: url + "incidents/N.html" (relative without a
 * configured url). */
void render_incident_url(const struct model *m, int64_t id, char *buf, size_t len);

/* ms as utc_format_ms() in a JSON string, or JSON null for 0 (not set). New
 * reference, NULL if out of memory (json_pack() takes that as a failure). */
json_t *render_json_time(int64_t ms);
/* A public status as the pages and the feed name it: "Investigating" ... "Resolved". */
const char *render_public_label(enum ilog_public_status s);

int render_json(const struct model *m, enum render_json_doc doc, struct textbuf *out);
/* One incident as Statuspage's incident object (for sinks and tests). */
int render_json_incident(const struct model *m, const struct model_incident *mi,
    struct textbuf *out);
int render_index_html(const struct model *m, struct textbuf *out);
int render_incident_html(const struct model *m, const struct model_incident *mi,
    struct textbuf *out);
int render_atom(const struct model *m, struct textbuf *out);

/* The fixed public text of a maintenance's update in state st ("" for SCHEDULED,
 * whose text is the operator's). */
const char *render_maint_update_text(enum ilog_maint_state st);

/* model_maint.c: the log's maintenances (last ILOG_MAINT_RECENT_MS) added to a built
 * model (model_load's last step). 0, or -1 with err set (m released). */
int model_load_maintenances(struct model *m, struct ilog *log, char *err, size_t errlen);

#endif
