/*
 * Fuzz target: the status page's inputs — the [statuspage]/[component]/[cluster]/
 * [maintenance] configuration (spconfig), public update text, maintenances' titles and
 * messages and event bodies from the log — through the model, every renderer and the
 * sinks' payload.
 *
 * Input: configuration text, a NUL byte, then lines: the first is an event body for
 * payload_build (JSON or not), the others public update messages (any bytes); the
 * first two of those are also the titles and messages of two maintenances (one in
 * progress, one upcoming), and the body is built once as a public update and once as
 * each kind of maintenance event.
 * Checks beyond "no crash": every JSON document and the payload parse back; the
 * rendered HTML and Atom hold no control character but newline and no "<" from the
 * messages (every message is escaped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "statussite/statussite.h"
#include "lib/statussite/render.h" /* the renderers, fuzzed one by one */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINES_MAX 16

static void
check_text(const struct textbuf *b, bool markup)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f)
			abort();
	}
	/* The only "<" are the renderer's own tags: none is followed by "x-fuzz". */
	if (markup && strstr(b->data, "<x-fuzz") != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum render_json_doc docs[] = { RENDER_SUMMARY, RENDER_STATUS,
		RENDER_COMPONENTS, RENDER_INCIDENTS, RENDER_UNRESOLVED, RENDER_MAINTENANCES,
		RENDER_MAINTENANCES_UPCOMING, RENDER_MAINTENANCES_ACTIVE };
	static const char *const ev_types[] = { "public_update", ILOG_EV_MAINT_SCHEDULED,
		ILOG_EV_MAINT_STARTED, ILOG_EV_MAINT_COMPLETED, ILOG_EV_MAINT_CANCELLED };
	static struct ilog_maintenance mt[2];
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	/* Large: allocated once and cleared per input (a fresh 100 KiB per input costs
	 * more under ASan than the code tested). */
	static struct sp_config *sp;
	static struct ilog_public_entry *entries;
	struct ilog_public_entries pub = { 0 };
	struct ilog_incident in[2];
	struct ilog_event ev = { 0 };
	struct textbuf b = { 0 };
	char *text = malloc(size + 1), *lines, *p, *body = NULL, err[256];
	struct model m;
	size_t i, clen;

	if (sp == NULL && (sp = malloc(sizeof(*sp))) == NULL)
		abort();
	if (entries == NULL && (entries = calloc(LINES_MAX, sizeof(*entries))) == NULL)
		abort();
	if (text == NULL)
		abort();
	memset(sp, 0, sizeof(*sp));
	memcpy(text, data, size);
	text[size] = '\0';
	clen = strlen(text);
	lines = clen < size ? text + clen + 1 : text + size;
	/* A configuration with errors is refused by mcstatus: render a fixed one then. */
	if (config_load_string(&cfg, "fuzz.conf", text, &errs) < 0 ||
	    spconfig_load(&cfg, sp, false, &errs) < 0 || sp->ncomps == 0) {
		memset(sp, 0, sizeof(*sp));
		strcpy(sp->name, "fuzz");
		strcpy(sp->id, "fuzz");
		strcpy(sp->comps[0].id, "c1");
		strcpy(sp->comps[0].name, "C1");
		strcpy(sp->comps[0].clusters[0], "c1");
		sp->comps[0].nclusters = 1;
		sp->ncomps = 1;
	}
	memset(entries, 0, LINES_MAX * sizeof(*entries));
	pub.v = entries;
	for (p = lines; *p != '\0' && pub.n < LINES_MAX;) {
		size_t n = strcspn(p, "\n");

		if (body == NULL) {
			body = strndup(p, n);
		} else {
			struct ilog_public_entry *e = &pub.v[pub.n];

			e->id = (int64_t)pub.n + 1;
			e->at = 1700000000000LL + (int64_t)pub.n * 60000;
			e->status = (enum ilog_public_status)(1 + pub.n % 4);
			snprintf(e->message, sizeof(e->message), "%.*s", (int)n, p);
			pub.n++;
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	memset(in, 0, sizeof(in));
	for (i = 0; i < 2; i++) {
		in[i].id = (int64_t)i + 1;
		strcpy(in[i].kind, i ? "manual" : "latency_tail");
		snprintf(in[i].cluster, sizeof(in[i].cluster), "%s", sp->comps[0].clusters[0]);
		in[i].severity = (enum ilog_severity)(1 + i);
		in[i].opened_at = 1700000000000LL - (int64_t)i * 3600000;
		in[i].state = i ? ILOG_STATE_RESOLVED : ILOG_STATE_OPEN;
		in[i].resolved_at = i ? 1700000100000LL : 0;
	}
	memset(mt, 0, sizeof(mt));
	for (i = 0; i < 2; i++) {
		mt[i].id = (int64_t)i + 1;
		mt[i].kind = ILOG_MAINT_PUBLIC;
		snprintf(mt[i].cluster, sizeof(mt[i].cluster), "%s", sp->comps[0].clusters[0]);
		snprintf(mt[i].title, sizeof(mt[i].title), "%s",
		    pub.n > i ? pub.v[i].message : "Upgrade");
		snprintf(mt[i].message, sizeof(mt[i].message), "%s",
		    pub.n > 1 - i ? pub.v[1 - i].message : "");
		mt[i].starts_at = 1700000600000LL + (i ? 86400000LL : -60000LL);
		mt[i].ends_at = mt[i].starts_at + 3600000LL;
		mt[i].created_at = 1699990000000LL;
	}
	/* model_add_maintenances() releases the model when it fails. */
	if (model_build(&m, sp, in, 2, (struct ilog_public_entries[]){ pub, { 0 } }, 1690000000000LL,
		1700000600000LL, err, sizeof(err)) == 0 &&
	    model_add_maintenances(&m, mt, 2, err, sizeof(err)) == 0) {
		for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
			textbuf_reset(&b);
			if (render_json(&m, docs[i], &b) == 0) {
				json_t *o = json_loads(b.data, 0, NULL);

				if (o == NULL)
					abort();
				json_decref(o);
			}
		}
		textbuf_reset(&b);
		if (render_index_html(&m, &b) == 0)
			check_text(&b, true);
		textbuf_reset(&b);
		if (render_incident_html(&m, &m.incidents[0], &b) == 0)
			check_text(&b, true);
		textbuf_reset(&b);
		if (render_atom(&m, &b) == 0)
			check_text(&b, true);
		for (i = 0; i < sizeof(ev_types) / sizeof(ev_types[0]); i++) {
			ev.id = 7;
			ev.incident_id = i == 0 ? 1 : 0;
			snprintf(ev.type, sizeof(ev.type), "%s", ev_types[i]);
			ev.body_json = body;
			if (payload_build(&m, &ev, &b) == 1) {
				json_t *o = json_loads(b.data, 0, NULL);

				if (o == NULL)
					abort();
				json_decref(o);
			}
		}
		model_release(&m);
	}
	textbuf_release(&b);
	free(body);
	config_errors_release(&errs);
	config_release(&cfg);
	free(text);
	return 0;
}
