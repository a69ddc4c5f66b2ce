/*
 * model — the public status page as data: what every renderer (HTML, JSON, Atom) and
 * every sink shows. Pure: built from incidents, their public updates and an injected
 * `now`; the log is read by model_load(), a thin shell around model_build().
 *
 * What is public, and what is not. Everything an incident carries internally (its
 * title, node, fingerprint, evidence, notes, who acknowledged it) stays internal: an
 * incident's public name and its automatic updates come from templates per kind and
 * the component's public name ("Elevated latency in US-East C1"); the only free text
 * that goes out is what operators wrote as public updates (`mctl update`).
 *
 * The mapping (documented in docs/statuspage.md):
 *   impact            = the incident's severity: minor, major, critical
 *   component status  = the worst impact of the active incidents affecting it:
 *                       none -> operational, minor -> degraded_performance,
 *                       major -> partial_outage, critical -> major_outage
 *   active            = not resolved internally, and its latest public update is not
 *                       "resolved"
 *   page indicator    = the worst impact of all active incidents (none if none)
 *   public status     = resolved if not active, else the latest public update's status,
 *                       else investigating
 *   timeline          = an automatic first update when it opened ("We are investigating
 *                       elevated latency in US-East C1."), then every public update, then
 *                       an automatic "resolved" update when it was resolved internally
 *                       without a public one saying so
 *   uptime of a day   = 1 - (major_outage time + 0.3 x partial_outage time) / the day's
 *                       observed time (degraded performance counts as up, as on the
 *                       usual hosted status pages). Days before the log's first event, or
 *                       after now, have no data, and say so.
 */
#ifndef MCSTATUS_MODEL_H
#define MCSTATUS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"
#include "spconfig.h"

#define MODEL_DAYS 90
#define MODEL_INCIDENTS_MAX 1000    /* incidents of the last MODEL_DAYS days shown */
#define MODEL_DAY_MS (86400LL * 1000)
#define MODEL_PUBLIC_NAME_MAX 200
#define MODEL_UPDATE_ID_MAX 48

enum model_impact {
	MODEL_IMPACT_NONE = 0,
	MODEL_IMPACT_MINOR = 1,
	MODEL_IMPACT_MAJOR = 2,
	MODEL_IMPACT_CRITICAL = 3,
};

enum model_status { /* a component's status, ordered by severity */
	MODEL_OPERATIONAL = 0,
	MODEL_DEGRADED = 1,
	MODEL_PARTIAL_OUTAGE = 2,
	MODEL_MAJOR_OUTAGE = 3,
};

struct model_update {
	char id[MODEL_UPDATE_ID_MAX];   /* stable: "7-opened", "7-u12", "7-resolved" */
	int64_t at;
	int64_t event_id;               /* the log event behind it (0 if unknown) */
	enum ilog_public_status status;
	char *body;                     /* owned; model_clean_text()'s output */
	bool automatic;
};

struct model_incident {
	int64_t id;
	char name[MODEL_PUBLIC_NAME_MAX + 1];
	enum model_impact impact;
	enum ilog_public_status status;
	bool active;
	uint64_t components;            /* bit i: cfg->comps[i] is affected */
	int64_t created_at;
	int64_t updated_at;             /* its newest public update */
	int64_t monitoring_at;          /* first "monitoring" update, 0 if none */
	int64_t resolved_at;            /* 0 while active */
	struct model_update *updates;   /* owned, oldest first */
	size_t nupdates;
};

struct model_day {
	int64_t start;                  /* 00:00 UTC */
	bool nodata;
	double uptime;                  /* 0..1 */
	int64_t degraded_ms, partial_ms, major_ms;
	enum model_status worst;
};

struct model_component {
	enum model_status status;
	int64_t updated_at;             /* its last status change (data start if none) */
	struct model_day days[MODEL_DAYS]; /* oldest first; the last one is today */
	double uptime;                  /* over the observed part of the MODEL_DAYS days */
	bool has_data;
};

struct model {
	const struct sp_config *cfg;    /* borrowed */
	int64_t now;
	int64_t data_start;             /* 0: no data at all */
	enum model_impact indicator;
	int64_t updated_at;             /* the page's newest change (now if none) */
	struct model_component comps[SP_COMPONENTS_MAX];
	struct model_incident *incidents; /* owned, newest first */
	size_t nincidents;
	bool truncated;                 /* more incidents than MODEL_INCIDENTS_MAX */
};

/*
 * Builds m from incidents (any order) and, for incidents[i], its public updates
 * pubs[i] (oldest first; pubs may be NULL for none). data_start: the time of the log's
 * first event (0 if none). Copies everything it keeps. Returns 0, or -1 (out of
 * memory, m released) with err set.
 */
int model_build(struct model *m, const struct sp_config *cfg, const struct ilog_incident *inc,
    size_t n, const struct ilog_public_entries *pubs, int64_t data_start, int64_t now,
    char *err, size_t errlen);
/* Reads the incidents of the last MODEL_DAYS days and their public updates from log and
 * builds m. 0, or -1 with err set. */
int model_load(struct model *m, const struct sp_config *cfg, struct ilog *log, int64_t now,
    char *err, size_t errlen);
void model_release(struct model *m);

/* The incident with this id, or NULL. */
const struct model_incident *model_find(const struct model *m, int64_t id);

/* Names as Statuspage v2 writes them. */
const char *model_impact_name(enum model_impact i);       /* none minor major critical */
const char *model_status_name(enum model_status s);       /* operational ... major_outage */
const char *model_status_label(enum model_status s);      /* "Degraded performance" */
const char *model_indicator_description(enum model_impact i); /* "All Systems Operational" */
enum model_status model_impact_status(enum model_impact i);

/* s with invalid UTF-8 bytes and the non-characters U+FFFE, U+FFFF (not XML) replaced
 * by U+FFFD, and C0 (but \n) and C1 control characters and the bidirectional
 * embeddings, overrides and isolates (U+202A..E, U+2066..9) by spaces, into buf (always
 * terminated, cut at a character boundary). */
void model_clean_text(const char *s, char *buf, size_t len);

#endif
