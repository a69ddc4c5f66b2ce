/*
 * postmortem — the draft of an incident's postmortem in Markdown, and its charts, from
 * what the incident log holds: the incident, its events, its pages, its public updates
 * and mcmon's recorded history of its cluster (lib/ilog_history.h). Pure: the caller
 * (cli/cmd_postmortem.c) loads the facts and writes the files; the same facts give the
 * same bytes.
 *
 * The milestones, each the first of its kind:
 *   start     the first anomalous sample of the cluster's history in the run that
 *             leads up to the opening (pm_anomaly_start()), else the opening
 *   opened    the incident's opened_at
 *   paged     the first page sent (lib/ilog_pages.h)
 *   acked     the first "acked" event (an acknowledgement survives a reopen there)
 *   remedied  the first remedy event (pm_is_remedy(): flush, rebalance, drain, a limit)
 *   resolved  the incident's resolved_at (an unresolved incident: 0, and the draft
 *             says it is unresolved)
 * Time to detect is start -> opened; the others are measured from the opening.
 *
 * The public draft (facts.public) is built from the status site's model only
 * (lib/statussite: the incident's public name, impact, components' public names and
 * public updates), never from events, pages, notes or evidence, and its charts draw the
 * cluster's own rows under the components' public names: no node, tenant, address,
 * engineer or internal number can reach it.
 */
#ifndef MCOPS_CLI_POSTMORTEM_H
#define MCOPS_CLI_POSTMORTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"
#include "ilog_history.h"
#include "ilog_pages.h"
#include "statussite/statussite.h"

#define PM_MARGIN_MIN_MS (2LL * 60 * 1000)   /* charts: at least this before and after */
#define PM_MARGIN_MAX_MS (60LL * 60 * 1000)  /* and at most this */
#define PM_DURATION_MAX 32                   /* "12d 03h 04m 05s" */
#define PM_EVIDENCE_LINES_MAX 60             /* figures listed from one evidence body */

struct pm_facts {
	int64_t now;                             /* for an unresolved incident's end */
	bool public;
	/* internal draft (borrowed; all required, lists may be empty) */
	const struct ilog_incident *inc;
	const struct ilog_events *events;
	const struct ilog_pages *pages;
	const struct ilog_public_entries *updates;
	/* public draft (borrowed; required when public) */
	const struct model *model;
	const struct model_incident *pub;
	const char *public_series;               /* the charts' name for the cluster */
	/* both: the cluster's history over [from, until] (may be empty), the charts' links
	 * (file names relative to the draft), or NULL with charts_note saying where */
	const struct ilog_history_rows *history;
	int64_t from, until;
	const char *latency_chart, *connections_chart;
	const char *charts_note;
};

struct pm_milestones {
	int64_t start, opened, paged, acked, remedied, resolved; /* UTC ms; 0: none */
	bool start_from_history; /* start is a recorded sample, not the opening */
};

/* The milestones of the internal facts (top of this file). */
void pm_milestones(const struct pm_facts *f, struct pm_milestones *m);

/*
 * The first sample of the run of anomalous cluster rows (node "") that ends at the last
 * row at or before opened, or 0 if that row is not anomalous. A row is anomalous when
 * its latency share, new connections per second or connections stand well above the
 * quiet level: the median of the earliest quarter of the rows before opened (at least
 * PM_BASELINE_ROWS_MIN rows; without them, 0).
 */
#define PM_BASELINE_ROWS_MIN 3
int64_t pm_anomaly_start(const struct ilog_history_rows *h, int64_t opened);

/* True for the event types that are remedies. */
bool pm_is_remedy(const char *type);

/* "1h 02m 03s", "4m 05s", "12s", "850 ms"; "-" when ms < 0. */
void pm_duration(int64_t ms, char *buf, size_t len);

/* The charts' window for an incident: a margin (a quarter of its length, within
 * PM_MARGIN_MIN_MS..PM_MARGIN_MAX_MS) before the opening and after the end (now when
 * unresolved). */
void pm_window(int64_t opened, int64_t resolved, int64_t now, int64_t *from, int64_t *until);

/* The draft. 0, or -1 when out failed. */
int pm_markdown(const struct pm_facts *f, struct textbuf *out);

enum pm_chart {
	PM_CHART_LATENCY,     /* the latency share of each node (public: the cluster) */
	PM_CHART_CONNECTIONS, /* current connections of each node (public: the cluster) */
};
/* A chart over [f->from, f->until]: one point per known sample. 0, or -1. */
int pm_chart(const struct pm_facts *f, enum pm_chart which, struct textbuf *out);

#endif
