/*
 * statussite — the public status site as a library: the page's configuration
 * ([statuspage], [component]), the status model built from the incident log, the
 * rendered files (HTML, Statuspage v2 JSON, Atom) written atomically into a directory,
 * and the payload of one public change that sinks push. mcstatus (which tails the log,
 * pushes to sinks and serves the directory) and `mctl statuspage render` both link it,
 * so an operator's preview is byte for byte what the daemon writes.
 *
 * This is the library's only public header; the rest of lib/statussite/ is private to
 * it (render.h: the renderers behind site_render). Nothing here logs or touches the
 * network: failures come back as -1 with an error text, and the daemon decides.
 *
 * Its parts, each with its contract below:
 *   textbuf   a growable text buffer with a hard cap (what renderers and sinks fill)
 *   spconfig  the [statuspage] and [component] sections
 *   model     the page as data: components, incidents, their public timeline, uptime
 *   site      the rendered files in a directory, written atomically
 *   payload   what one public change means for the sinks (a JSON object)
 */
#ifndef STATUSSITE_H
#define STATUSSITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ilog.h"
#include "ilog_maintenance.h"
#include "maintwindow.h"

/* --- textbuf ------------------------------------------------------------------------------ */

/*
 * textbuf — a growable text buffer with a hard cap, for the renderers (and the sinks'
 * requests). Appending past the cap (or failing to allocate) sets a sticky error flag
 * and drops the text, so a renderer appends without checking each call and checks
 * textbuf_failed() once at the end: a page is written whole or not at all.
 */

#define TEXTBUF_MAX (8u << 20) /* the largest file mcstatus renders: 8 MiB */

struct textbuf {
	char *data;  /* NUL-terminated while len > 0; owned */
	size_t len;
	size_t cap;
	bool failed;
};

/* Zero-initialised is a valid empty buffer. */
void textbuf_release(struct textbuf *b);
void textbuf_reset(struct textbuf *b); /* empties it, keeps the memory, clears failed */
bool textbuf_failed(const struct textbuf *b);
void textbuf_add(struct textbuf *b, const char *s, size_t n);
void textbuf_puts(struct textbuf *b, const char *s);
void textbuf_printf(struct textbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s escaped for HTML and XML text and attribute values (& < > " '). */
void textbuf_escape(struct textbuf *b, const char *s);
/* s with only & < > escaped: literal text for chat markup (Slack and Mattermost read
 * <...> as a link or a mention and want exactly these three escaped). */
void textbuf_escape_markup(struct textbuf *b, const char *s);

/* --- spconfig ----------------------------------------------------------------------------- */

/*
 * spconfig — what mcstatus reads from the configuration: the [statuspage] section,
 * the components the page shows, and the public names of the clusters.
 *
 *     [statuspage]
 *     dir = var/www/status        ; the site directory (required)
 *     name = Example Cache        ; the page's name (default "mcops status")
 *     url = https://status.example.com/   ; where readers find the page (links, feed)
 *     id = mcops                  ; the page id in the JSON (default "mcops")
 *     listen = 127.0.0.1:8080     ; optional: serve dir over HTTP on this address
 *     poll = 100ms                ; how often the log is checked for changes
 *     rerender = 60s              ; periodic re-render (uptime bars, "last updated")
 *
 *     [component api]             ; optional; without any, one component per cluster
 *     title = Cache API           ; public name (default: the section's name)
 *     description = ...           ; optional, one line
 *     clusters = c1 c2            ; incidents of these clusters affect it (default: NAME)
 *     group = Europe (Frankfurt)  ; optional: the group (a region) it is shown under
 *
 * The [maintenance NAME] windows are read as mcalert reads them (lib/maintwindow.h);
 * the page shows the public ones as scheduled maintenance.
 *
 *     [subscribers]               ; optional: the subscribe form (docs/statuspage.md)
 *     link_url = https://status.example.com/  ; mcstatus's public base (default: url)
 *     webhooks = no | https | any
 *
 * A cluster's public name is its [cluster NAME] title (default: the name); without any
 * [component], a cluster's `group` is its component's. mcstatus reads nothing else of
 * [cluster] (not the password files: it needs no secrets but its sinks'). Every
 * problem is reported as "file:line: message".
 *
 * Groups (Statuspage's component groups): a group is its name; its members are the
 * components that name it, in their order; its id is spconfig_group_id() of the name
 * and must not be another group's or a component's. A page has at most SP_GROUPS_MAX.
 */

#define SP_COMPONENTS_MAX 64    /* a bit per component in an incident's mask */
#define SP_CLUSTERS_PER_COMPONENT 16
#define SP_NAME_MAX 128         /* page and component names */
#define SP_DESCRIPTION_MAX 256
#define SP_URL_MAX 512
#define SP_PATH_MAX 1024
#define SP_ID_MAX 64
#define SP_LISTEN_MAX 270
#define SP_GROUPS_MAX 16        /* groups on one page: a handful of regions */
#define SP_GROUP_ID_MAX (ILOG_NAME_MAX + 6) /* "group-" + a slug of the name */
#define SP_CLUSTERS_MAX 64      /* clusters whose public names the page knows */

struct sp_component {
	char id[ILOG_NAME_MAX + 1];   /* the section's (or cluster's) name */
	char name[SP_NAME_MAX + 1];   /* public */
	char description[SP_DESCRIPTION_MAX + 1];
	char clusters[SP_CLUSTERS_PER_COMPONENT][ILOG_NAME_MAX + 1];
	size_t nclusters;
	char group[SP_NAME_MAX + 1];  /* public; "" = in no group */
};

/* A cluster's public name ([cluster NAME] title), for texts about one cluster. */
struct sp_cluster {
	char id[ILOG_NAME_MAX + 1];
	char title[SP_NAME_MAX + 1];
};

/* Webhook subscribers ([subscribers] webhooks): none, https:// URLs only, or any
 * http(s) URL (for tests and closed networks). */
enum sp_webhooks { SP_WEBHOOKS_NO, SP_WEBHOOKS_HTTPS, SP_WEBHOOKS_ANY };

struct sp_config {
	char db_path[SP_PATH_MAX];    /* [log] path, default var/mcops.db */
	char dir[SP_PATH_MAX];
	char name[SP_NAME_MAX + 1];
	char id[SP_ID_MAX + 1];
	char url[SP_URL_MAX];         /* always ends in "/" ("" if none configured) */
	char listen[SP_LISTEN_MAX];   /* "" = do not serve */
	int64_t poll_ms;
	int64_t rerender_ms;
	int64_t heartbeat_interval_ms; /* mcstatus's row in the log's heartbeats */
	struct sp_component comps[SP_COMPONENTS_MAX];
	size_t ncomps;
	struct sp_cluster clusters[SP_CLUSTERS_MAX];
	size_t nclusters;
	struct maint_window windows[MAINT_WINDOWS_MAX]; /* [maintenance NAME] (lib/maintwindow.h) */
	size_t nwindows;
	/* Subscriptions: the part of [subscribers] the page shows (spconfig_load reads
	 * it; mcstatus's statuspage/subscribe.h reads the rest, secrets included). */
	char link_url[SP_URL_MAX];    /* mcstatus's public base for /subscribe, /confirm,
	                                 /unsubscribe ("/"-terminated); "" = no subscriptions */
	enum sp_webhooks subscribe_webhooks;
};

/* True for the sections spconfig reads and checks: [statuspage], [component NAME]. */
bool spconfig_owns(const char *section);

/*
 * Fills out from cfg (defaults for what is absent). Problems go to errs; returns 0,
 * or -1 if any was found. require_dir: false for `mctl statuspage render DIR`, which
 * names the directory itself.
 */
int spconfig_load(struct config *cfg, struct sp_config *out, bool require_dir,
    struct config_errors *errs);

/* The components an incident of cluster affects, as a bit mask (bit i = comps[i]).
 * An incident without a cluster affects none. cluster may also be a maintenance's
 * names separated by spaces (a configured window's): the components of any of them. */
uint64_t spconfig_affected(const struct sp_config *c, const char *cluster);

/* The page's groups in the order of their first member: names[i] points into c.
 * Returns how many (at most max). */
size_t spconfig_groups(const struct sp_config *c, const char **names, size_t max);
/* A group's id: "group-" and the name's ASCII letters and digits in lower case, one
 * '-' for each run of anything else ("Europe (Frankfurt)" -> "group-europe-frankfurt"). */
void spconfig_group_id(const char *name, char *buf, size_t len);
/* A cluster's public name: its title, or the cluster's name if the page has none. */
const char *spconfig_cluster_title(const struct sp_config *c, const char *cluster);

/* --- model -------------------------------------------------------------------------------- */

/*
 * model — the public status page as data: what every renderer (HTML, JSON, Atom) and
 * every sink shows. Pure: built from incidents, their public updates and an injected
 * `now`; the log is read by model_load(), a thin shell around model_build().
 *
 * What is public, and what is not. Everything an incident carries internally (its
 * title, node, fingerprint, evidence, notes, who acknowledged it) stays internal: an
 * incident's public name and its automatic updates come from templates per kind and
 * the component's public name ("Elevated latency in US-East C1"); the only free text
 * that goes out is what operators wrote as public updates (`mctl update`). The one
 * figure taken from the evidence is mcmon's impact, as a rounded share of a cluster's
 * caches and only with enough tenants to identify nobody (model_impact_public()).
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

#define MODEL_DAYS 90
#define MODEL_INCIDENTS_MAX 1000    /* incidents of the last MODEL_DAYS days shown */
#define MODEL_DAY_MS (86400LL * 1000)
#define MODEL_PUBLIC_NAME_MAX 200
#define MODEL_UPDATE_ID_MAX 48
#define MODEL_IMPACT_TEXT_MAX (SP_NAME_MAX + 48)
/* An incident's impact on customers goes public as "about P% of caches in NAME" only
 * when the cluster has at least this many tenants connected (fewer, and a share says
 * who), rounded to MODEL_IMPACT_ROUND points (a finer one counts tenants). */
#define MODEL_IMPACT_MIN_TENANTS 5
#define MODEL_IMPACT_ROUND 10

enum model_impact {
	MODEL_IMPACT_NONE = 0,
	MODEL_IMPACT_MINOR = 1,
	MODEL_IMPACT_MAJOR = 2,
	MODEL_IMPACT_CRITICAL = 3,
	/* Only as the page's indicator: nothing is wrong but a maintenance is in progress
	 * (Statuspage's "maintenance"). Never an incident's impact, never compared. */
	MODEL_INDICATOR_MAINTENANCE = 4,
};

enum model_status { /* a component's status, ordered by severity */
	MODEL_OPERATIONAL = 0,
	MODEL_DEGRADED = 1,
	MODEL_PARTIAL_OUTAGE = 2,
	MODEL_MAJOR_OUTAGE = 3,
	/* Not a severity: what an operational component shows during a maintenance
	 * (model_add_maintenances()). Never compared with the four above. */
	MODEL_UNDER_MAINTENANCE = 4,
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
	/* The share of the cluster's caches it touches (model_impact_public() of its
	 * latest evidence): -1 unknown; impact_text "about 30% of caches in US-East C1"
	 * ("" when unknown). */
	int impact_percent;
	char impact_text[MODEL_IMPACT_TEXT_MAX];
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

/*
 * A scheduled maintenance as the page shows it: one of the log (`mctl maintenance`,
 * PUBLIC only; cancelled ones are not shown) or the current or next occurrence of a
 * public [maintenance NAME] window. Its texts are public: the operator's title and
 * message, cleaned; a window's section name never appears.
 */
#define MODEL_MAINTENANCES_MAX 50   /* shown at most (the newest by start) */
#define MODEL_MAINT_BODY_MAX (ILOG_MAINT_MESSAGE_MAX * 3 + 1)

struct model_maintenance {
	char id[MODEL_UPDATE_ID_MAX];   /* "m7" (the log's 7), "w2-1796695200" (window 2's
	                                   occurrence starting then, in seconds) */
	int64_t log_id;                 /* 0 for a configured window */
	char name[MODEL_PUBLIC_NAME_MAX + 1];
	char body[MODEL_MAINT_BODY_MAX]; /* the message, or the name if none */
	enum ilog_maint_state status;   /* SCHEDULED, IN_PROGRESS or COMPLETED */
	uint64_t components;            /* bit i: cfg->comps[i] is under maintenance */
	int64_t created_at;
	int64_t scheduled_for, scheduled_until;
	int64_t started_at;             /* in effect (0 while scheduled) */
	int64_t completed_at;           /* in effect (0 until completed) */
	int64_t updated_at;             /* its latest change */
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
	struct model_maintenance *maints; /* owned, by scheduled_for (model_add_maintenances) */
	size_t nmaints;
	int64_t next_change;            /* the next start or end of a maintenance shown,
	                                   0 if none: when the page changes by itself */
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

/*
 * Adds to a built m the PUBLIC maintenances of v[0..n) (any order; silences and
 * cancelled ones are skipped, completed ones kept for the lists) and the current or
 * next occurrence of each public window of m->cfg that has no row in v (mcstatus
 * records them, maint_window_as_row(): the row is shown instead, or nothing if it
 * was cancelled), and applies them:
 *   - a component affected by one in progress is MODEL_UNDER_MAINTENANCE when it
 *     would otherwise be operational; an active incident on it shows instead (an
 *     incident during planned work is news the maintenance does not explain);
 *   - the indicator is MODEL_INDICATOR_MAINTENANCE when no incident is active and one
 *     is in progress.
 * 0, or -1 (out of memory: m released) with err set.
 */
int model_add_maintenances(struct model *m, const struct ilog_maintenance *v, size_t n,
    char *err, size_t errlen);
/* The maintenance with this log id, or NULL. */
const struct model_maintenance *model_find_maintenance(const struct model *m, int64_t log_id);

/* The incident with this id, or NULL. */
const struct model_incident *model_find(const struct model *m, int64_t id);

/*
 * Impact. model_impact_public(): the public percent of an event body's "impact" (an
 * evidence event's, or in an opened or severity event's "evidence"):
 * {"tenants": A, "of": B, "percent": P} (mcmon's, docs/monitor.md): 100 x A / B rounded
 * to MODEL_IMPACT_ROUND (at least MODEL_IMPACT_ROUND when A > 0), or -1 when there is
 * none, B < MODEL_IMPACT_MIN_TENANTS, or A is 0. model_set_impact(): mi's impact
 * (first: the one its first automatic update says, -1 for none; latest: impact_percent
 * and impact_text), cluster naming the caches by spconfig_cluster_title(). -1 on no
 * memory. model_load() does both from each incident's evidence.
 */
int model_impact_public(const char *evidence_json);
int model_set_impact(const struct model *m, struct model_incident *mi, const char *cluster,
    int first, int latest);

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

/* --- site --------------------------------------------------------------------------------- */

/*
 * site — the rendered status site in a directory:
 *   index.html, incidents/N.html, history.atom,
 *   api/v2/{summary,status,components,incidents}.json, api/v2/incidents/unresolved.json,
 *   api/v2/scheduled-maintenances.json, api/v2/scheduled-maintenances/{upcoming,active}.json
 * Every file is written atomically (a temporary file in the same directory, then
 * rename), so a reader or a web server never sees half a file, and a file whose content
 * did not change is not rewritten (its mtime and ETag stay, and mirrors skip it).
 */

#define SITE_FILE_MAX (8u << 20)

struct site_result {
	size_t written;    /* files whose content changed */
	size_t unchanged;  /* files already up to date */
};

/*
 * Writes path (relative to dir, '/'-separated, no "..") with data, creating parent
 * directories (mode 0755), atomically; skips it if its content is already data.
 * *changed (may be NULL) says whether it was written. 0, or -1 with err set.
 */
int site_write_file(const char *dir, const char *path, const char *data, size_t len,
    int *changed, char *err, size_t errlen);

/* Renders every file of the site from m into dir (created if missing). 0, or -1 with
 * err set (the files written before the failure stay, each whole). */
int site_render(const struct model *m, const char *dir, struct site_result *res, char *err,
    size_t errlen);

/* Removes the temporary files a killed writer left in dir and its subdirectories
 * ("NAME.tmp.PID"). Call it before the first render. Returns how many were removed. */
size_t site_clean_temporary(const char *dir);

/* --- payload ------------------------------------------------------------------------------ */

/*
 * payload — what one public change in the log means for the sinks: the JSON object
 * every outbox item of mcstatus carries (docs/statuspage.md, "Sinks"):
 *
 *   {"event_id", "type": "incident.created|incident.updated|incident.resolved", "at",
 *    "page": {"id","name","url"}, "indicator", "description",
 *    "incident": {"id","name","status","impact","shortlink","created_at","resolved_at"},
 *    "update": {"id","status","body","created_at"},
 *    "components": [{"id","name","status"}], "text"}
 *
 * Public by construction: built from the model only.
 */

/* True if an event of this type can change the public page (re-render). */
bool payload_event_is_public(const char *type);

/*
 * Builds the payload of event ev into out (replacing its content). Returns 1 with the
 * payload, 0 if the event makes no public update to push (an internal event, a
 * severity change, a resolve that an operator's public "resolved" already announced,
 * an incident no longer in the model), -1 on failure.
 */
int payload_build(const struct model *m, const struct ilog_event *ev, struct textbuf *out);

#endif
