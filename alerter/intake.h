/*
 * intake — Alertmanager's webhook into the incident log, so that an existing
 * Prometheus setup pages through mcops. Two layers: intake_parse() and
 * intake_apply() are plain functions (tested and fuzzed without a server); the
 * listener is lib/httpd.h on the daemon's event base.
 *
 * HTTP: POST /alertmanager with Alertmanager's webhook JSON (version 4; unknown
 * fields are ignored); GET /healthz answers {"status":"ok"} with the intake's
 * counters and, when the daemon gave it (intake_set_health), whether the incident
 * log is busy. Replies: 200 with a small JSON summary; 400 for a body that is not
 * such a payload (Alertmanager does not retry it); 401 without the configured
 * bearer token; 404/405 for other paths and methods; 413 for a body over
 * INTAKE_BODY_MAX (before it is read); 500 when the log cannot be written
 * (Alertmanager retries). Listener limits (lib/httpd.h): at most
 * INTAKE_CONNECTIONS_MAX connections (a new one evicts the oldest incomplete request;
 * 503 when all are being answered), each living at most INTAKE_TIMEOUT_MS from its
 * accept (408 if the request is not in by then), headers at most INTAKE_HEADERS_MAX
 * bytes (431). One request per connection.
 *
 * Authentication: "Authorization: Bearer <token>", which is what Alertmanager's
 * webhook_config sends with http_config.authorization (credentials or
 * credentials_file; type Bearer is the default). The token is compared in constant
 * time; a request without it gets 401 with a JSON body saying what is missing, is
 * counted (refused, unauthorized), logged rate-limited with its peer address (never
 * the header), and changes nothing. Only an intake the daemon was told is open
 * (settings.h: intake_open, loopback only) takes requests without a token.
 *
 * Mapping of each alert (actor "alertmanager"):
 *   fingerprint   "am:" + the alert's fingerprint: one incident per alert while it
 *                 fires, deduplicated by the log's unique open fingerprint
 *   status        firing: open or update (a higher severity raises it); resolved:
 *                 resolve the open incident with that fingerprint, if any
 *   kind          labels.kind if it is a valid kind, else "alertmanager"
 *   cluster/node  labels.cluster / labels.node when they are valid names
 *   severity      labels.severity: critical|page -> critical; warning|minor|info|low
 *                 -> minor; anything else (major, error, high, none) -> major
 *   title         annotations.summary, else annotations.title, else
 *                 labels.alertname, cut to ILOG_TITLE_MAX
 *   evidence      {"source":"alertmanager", "alertname", "labels", "annotations",
 *                 "startsAt", "generatorURL"} (labels and annotations dropped if the
 *                 evidence would exceed INTAKE_EVIDENCE_MAX)
 */
#ifndef MCOPS_ALERTER_INTAKE_H
#define MCOPS_ALERTER_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "cluster.h"
#include "ilog.h"

#define INTAKE_BODY_MAX (1024 * 1024)   /* bytes of one POST */
#define INTAKE_HEADERS_MAX 16384        /* bytes of a request's line and headers */
#define INTAKE_CONNECTIONS_MAX 32       /* open at once */
#define INTAKE_TIMEOUT_MS 10000         /* a connection's whole life, from its accept */
#define INTAKE_ACCEPT_RETRY_MS 1000     /* accept() failed (no descriptor left): pause */
#define INTAKE_ALERTS_MAX 1000          /* alerts of one POST */
#define INTAKE_EVIDENCE_MAX 8192        /* bytes of one alert's evidence JSON */
#define INTAKE_FINGERPRINT_MAX 64       /* bytes of Alertmanager's fingerprint */
#define INTAKE_PATH "/alertmanager"
#define INTAKE_ACTOR "alertmanager"
#define INTAKE_KIND "alertmanager"
#define INTAKE_PEER_MAX 80              /* "host:port" of a peer, for the log */

struct intake_alert {
	bool firing;
	char fingerprint[ILOG_FINGERPRINT_MAX + 1];
	char kind[ILOG_KIND_MAX + 1];
	char cluster[ILOG_NAME_MAX + 1];
	char node[ILOG_NAME_MAX + 1];
	enum ilog_severity severity;
	char title[ILOG_TITLE_MAX + 1];
	char *evidence_json;            /* owned by the batch */
};

/* Caller-owned: zero it, free it with intake_batch_release(). */
struct intake_batch {
	struct intake_alert *v;
	size_t n;
	size_t skipped;                 /* alerts without a usable fingerprint */
};

/*
 * Parses one webhook body (len bytes, need not be NUL-terminated) into out (its
 * previous content released). Returns 0, or -1 with err set for a body that is not
 * a JSON object with an "alerts" array of at most INTAKE_ALERTS_MAX objects. Alerts
 * that cannot be used (no fingerprint, a bad status) are counted in skipped.
 */
int intake_parse(const char *body, size_t len, struct intake_batch *out, char *err,
    size_t errlen);
void intake_batch_release(struct intake_batch *b);

struct intake_result {
	size_t opened, updated, resolved, ignored;
};

/*
 * Records a batch in the log. Idempotent: the same payload again opens nothing new
 * and resolves nothing twice. Stops at the first failure of the log (ILOG_ERR_DB),
 * leaving what was recorded before it; other refusals count as ignored.
 */
enum ilog_status intake_apply(struct ilog *log, const struct intake_batch *b,
    struct intake_result *res, char *err, size_t errlen);

/* The listener. */
struct intake;

/*
 * Listens on addr with the event base (borrowed, as is log, for the listener's
 * life). token: the bearer token requests must carry (only its digest is kept), or
 * NULL for an intake that is open on purpose. NULL with err set if it cannot listen.
 */
struct intake *intake_start(struct event_base *base, const struct cluster_addr *addr,
    const char *token, struct ilog *log, char *err, size_t errlen);
/* Stops listening and frees the listener. NULL is a no-op. */
void intake_stop(struct intake *in);
/* Requests served and refused since start (for the logs). */
void intake_counts(const struct intake *in, uint64_t *served, uint64_t *refused);
/* Of the refused, those without the right bearer token. */
uint64_t intake_unauthorized(const struct intake *in);
/* httpd_accept_news() of the listener (lib/httpd.h): for the daemon's loop to log. */
int intake_accept_news(struct intake *in, char *msg, size_t len);

/* The daemon's state that /healthz shows beside the intake's own counters. */
struct intake_health {
	int64_t log_busy_since;         /* UTC ms the log first refused a write; 0: not busy */
	uint64_t log_busy;              /* writes the log refused as busy, since start */
	uint64_t log_waiting;           /* writes waiting for the log now */
};
/* Shows h (borrowed; NULL: nothing) in /healthz. */
void intake_set_health(struct intake *in, const struct intake_health *h);

#endif
