/*
 * intake — see intake.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "errbuf.h"
#include "httpd.h"
#include "intake.h"
#include "log.h"
#include "sha256.h"

struct intake {
	struct httpd *http; /* owned */
	struct ilog *log;
	bool open;                      /* no token: said so, on loopback (settings.h) */
	uint8_t token_digest[SHA256_LEN];
	uint64_t served, refused, unauthorized;
	const struct intake_health *health; /* borrowed; NULL: none */
};

void
intake_batch_release(struct intake_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->v[i].evidence_json);
	free(b->v);
	memset(b, 0, sizeof(*b));
}

/* A string member of obj, or NULL. */
static const char *
str_member(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Copies s into buf[len] as one line of text: control characters become spaces, and
 * a cut never splits a UTF-8 character. */
static void
copy_line(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s), i;

	if (n >= len) {
		n = len - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	buf[n] = '\0';
}

static bool
fingerprint_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= INTAKE_FINGERPRINT_MAX)
			return false;
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
			return false;
	}
	return true;
}

static enum ilog_severity
severity_of(const char *s)
{
	static const char *const critical[] = { "critical", "page", "fatal", "emergency" };
	static const char *const minor[] = { "warning", "warn", "minor", "info", "low", "notice" };
	size_t i;

	if (s == NULL)
		return ILOG_SEVERITY_MAJOR;
	for (i = 0; i < sizeof(critical) / sizeof(critical[0]); i++)
		if (strcasecmp(s, critical[i]) == 0)
			return ILOG_SEVERITY_CRITICAL;
	for (i = 0; i < sizeof(minor) / sizeof(minor[0]); i++)
		if (strcasecmp(s, minor[i]) == 0)
			return ILOG_SEVERITY_MINOR;
	return ILOG_SEVERITY_MAJOR;
}

/* The evidence JSON of an alert, at most INTAKE_EVIDENCE_MAX bytes; NULL on no memory. */
static char *
evidence_of(json_t *alert, const json_t *labels, const json_t *annotations)
{
	json_t *ev = json_object();
	char *text;
	const char *s;

	if (ev == NULL)
		return NULL;
	json_object_set_new(ev, "source", json_string("alertmanager"));
	if ((s = str_member(labels, "alertname")) != NULL)
		json_object_set_new(ev, "alertname", json_string(s));
	if ((s = str_member(alert, "startsAt")) != NULL)
		json_object_set_new(ev, "startsAt", json_string(s));
	if ((s = str_member(alert, "generatorURL")) != NULL && strlen(s) < 1024)
		json_object_set_new(ev, "generatorURL", json_string(s));
	if (json_is_object(annotations))
		json_object_set(ev, "annotations", (json_t *)annotations);
	if (json_is_object(labels))
		json_object_set(ev, "labels", (json_t *)labels);
	/* Too big: the annotations go first (descriptions are long), then the labels. */
	while ((text = json_dumps(ev, JSON_COMPACT)) != NULL && strlen(text) > INTAKE_EVIDENCE_MAX) {
		free(text);
		text = NULL;
		if (json_object_del(ev, "annotations") != 0 && json_object_del(ev, "labels") != 0 &&
		    json_object_del(ev, "generatorURL") != 0)
			break;
	}
	json_decref(ev);
	return text;
}

/* One alert into out; -1 if it cannot be used. */
static int
parse_alert(json_t *alert, struct intake_alert *out)
{
	const json_t *labels = json_object_get(alert, "labels");
	const json_t *annotations = json_object_get(alert, "annotations");
	const char *status = str_member(alert, "status");
	const char *fp = str_member(alert, "fingerprint");
	const char *s;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(alert) || status == NULL || !fingerprint_ok(fp))
		return -1;
	if (strcmp(status, "firing") == 0)
		out->firing = true;
	else if (strcmp(status, "resolved") != 0)
		return -1;
	snprintf(out->fingerprint, sizeof(out->fingerprint), "am:%s", fp);
	s = str_member(labels, "kind");
	snprintf(out->kind, sizeof(out->kind), "%s", s != NULL && ilog_kind_valid(s) ? s : INTAKE_KIND);
	if ((s = str_member(labels, "cluster")) != NULL && cluster_name_valid(s) &&
	    strlen(s) <= ILOG_NAME_MAX)
		snprintf(out->cluster, sizeof(out->cluster), "%s", s);
	if ((s = str_member(labels, "node")) != NULL && cluster_name_valid(s) &&
	    strlen(s) <= ILOG_NAME_MAX)
		snprintf(out->node, sizeof(out->node), "%s", s);
	out->severity = severity_of(str_member(labels, "severity"));
	if ((s = str_member(annotations, "summary")) == NULL || s[0] == '\0')
		if ((s = str_member(annotations, "title")) == NULL || s[0] == '\0')
			if ((s = str_member(labels, "alertname")) == NULL || s[0] == '\0')
				s = "Alertmanager alert";
	copy_line(s, out->title, sizeof(out->title));
	/* A title of blanks only would be refused by the log. */
	if (strspn(out->title, " ") == strlen(out->title))
		snprintf(out->title, sizeof(out->title), "Alertmanager alert");
	if ((out->evidence_json = evidence_of(alert, labels, annotations)) == NULL)
		return -1;
	return 0;
}

int
intake_parse(const char *body, size_t len, struct intake_batch *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *alerts, *alert;
	size_t i;

	intake_batch_release(out);
	if (len > INTAKE_BODY_MAX) {
		errbuf_set(err, errlen, "the body is larger than %d bytes", INTAKE_BODY_MAX);
		return -1;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		errbuf_set(err, errlen, "not JSON: %s (line %d)", jerr.text, jerr.line);
		return -1;
	}
	alerts = json_object_get(root, "alerts");
	if (!json_is_object(root) || !json_is_array(alerts)) {
		errbuf_set(err, errlen, "not an Alertmanager webhook: no \"alerts\" array");
		json_decref(root);
		return -1;
	}
	if (json_array_size(alerts) > INTAKE_ALERTS_MAX) {
		errbuf_set(err, errlen, "more than %d alerts in one request",
		    INTAKE_ALERTS_MAX);
		json_decref(root);
		return -1;
	}
	if (json_array_size(alerts) > 0 &&
	    (out->v = calloc(json_array_size(alerts), sizeof(*out->v))) == NULL) {
		errbuf_set(err, errlen, "out of memory");
		json_decref(root);
		return -1;
	}
	json_array_foreach(alerts, i, alert) {
		if (parse_alert(alert, &out->v[out->n]) == 0)
			out->n++;
		else
			out->skipped++;
	}
	json_decref(root);
	return 0;
}

enum ilog_status
intake_apply(struct ilog *log, const struct intake_batch *b, struct intake_result *res,
    char *err, size_t errlen)
{
	struct ilog_upsert_result up;
	struct ilog_incident inc;
	enum ilog_status st;
	size_t i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < b->n; i++) {
		const struct intake_alert *a = &b->v[i];

		if (a->firing) {
			struct ilog_incident_spec spec = { a->fingerprint, a->kind, a->cluster,
				a->node, a->severity, a->title, a->evidence_json };
			st = ilog_incident_upsert(log, &spec, INTAKE_ACTOR, &up, err, errlen);
			if (st == ILOG_OK && up.created)
				res->opened++;
			else if (st == ILOG_OK)
				res->updated++;
		} else {
			st = ilog_incident_find(log, a->fingerprint, &inc, err, errlen);
			if (st == ILOG_ERR_NOT_FOUND) {
				res->ignored++;
				continue;
			}
			if (st == ILOG_OK)
				st = ilog_incident_resolve(log, inc.id, INTAKE_ACTOR,
				    "resolved in Alertmanager", NULL, err, errlen);
			if (st == ILOG_OK)
				res->resolved++;
		}
		if (st == ILOG_ERR_DB)
			return st;
		if (st != ILOG_OK)
			res->ignored++;
	}
	return ILOG_OK;
}

/* --- the listener ---------------------------------------------------------------- */

static void
reply(struct httpd_response *req, int code, const char *reason, const char *json)
{
	struct evbuffer *out = httpd_body(req);

	(void)reason; /* the listener says the standard reason phrase */
	httpd_reply(req, code, "application/json", NULL, 0);
	if (evbuffer_add_printf(out, "%s\n", json) < 0)
		httpd_reply(req, 500, NULL, NULL, 0);
}

static void
reply_error(struct httpd_response *req, int code, const char *reason, const char *msg)
{
	json_t *j = json_pack("{s:s, s:s}", "status", "error", "error", msg);
	char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	reply(req, code, reason, text != NULL ? text : "{\"status\":\"error\"}");
	free(text);
	json_decref(j);
}

/*
 * Whether an Authorization header carries the token, as Alertmanager's http_config
 * "authorization" sends it: "Bearer <token>" (the scheme's case does not matter,
 * RFC 7235). The comparison is of SHA-256 digests, in constant time: neither where
 * a guess differs nor its length shows in the time taken.
 */
static bool
token_matches(const struct intake *in, const char *header)
{
	static const char scheme[] = "Bearer";
	uint8_t digest[SHA256_LEN];
	size_t n = sizeof(scheme) - 1;
	bool yes;

	if (header == NULL || strncasecmp(header, scheme, n) != 0 || header[n] != ' ')
		return false;
	header += n;
	header += strspn(header, " ");
	sha256(header, strlen(header), digest);
	yes = timingsafe_compare(digest, in->token_digest, sizeof(digest)) == 0;
	memset(digest, 0, sizeof(digest));
	return yes;
}

/* The intake's counters and the daemon's health, for GET /healthz. */
static void
reply_health(struct intake *in, struct httpd_response *req)
{
	const struct intake_health *h = in->health;
	json_t *j = json_pack("{s:s, s:{s:I, s:I, s:I}}", "status", "ok", "intake", "served",
	    (json_int_t)in->served, "refused", (json_int_t)in->refused, "unauthorized",
	    (json_int_t)in->unauthorized);
	char *text;

	if (j != NULL && h != NULL)
		json_object_set_new(j, "log", json_pack("{s:b, s:I, s:I, s:I}", "busy",
		    h->log_busy_since != 0, "busy_ms", (json_int_t)(h->log_busy_since != 0 ?
		    ilog_now(in->log) - h->log_busy_since : 0), "busy_total", (json_int_t)h->log_busy,
		    "waiting_writes", (json_int_t)h->log_waiting));
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	reply(req, 200, "OK", text != NULL ? text : "{\"status\":\"ok\"}");
	free(text);
	json_decref(j);
}

static void
handle(void *arg, const struct httpd_request *http, struct httpd_response *req)
{
	struct intake *in = arg;
	struct intake_batch batch = { 0 };
	struct intake_result res;
	const char *path = http->path;
	char err[ILOG_ERR_LEN], summary[160];
	size_t len;
	const char *data;

	if (path != NULL && strcmp(path, "/healthz") == 0 && strcmp(http->method, "GET") == 0) {
		reply_health(in, req);
		return;
	}
	if (path == NULL || strcmp(path, INTAKE_PATH) != 0) {
		in->refused++;
		reply_error(req, 404, "Not Found", "POST Alertmanager webhooks to " INTAKE_PATH);
		return;
	}
	if (strcmp(http->method, "POST") != 0) {
		in->refused++;
		httpd_header(req, "Allow", "POST");
		reply_error(req, 405, "Method Not Allowed", "only POST");
		return;
	}
	if (!in->open) {
		const char *auth = httpd_request_header(http, "Authorization");

		if (!token_matches(in, auth)) {
			/* Nothing of the request is parsed, kept or logged: not its body, not
			 * the token it tried. */
			in->refused++;
			in->unauthorized++;
			LOG_LIMITED(LOG_LEVEL_WARN, "intake: refused a request from %s: %s "
			    "(%" PRIu64 " refused so far)", http->peer, auth == NULL ?
			    "no Authorization header" : "not the configured bearer token",
			    in->unauthorized);
			httpd_header(req, "WWW-Authenticate", "Bearer realm=\"mcalert\"");
			reply_error(req, 401, "Unauthorized", auth == NULL ?
			    "this intake needs \"Authorization: Bearer <token>\" (Alertmanager: "
			    "http_config.authorization.credentials_file)" :
			    "the bearer token is not the one this intake was given");
			return;
		}
	}
	len = http->body_len;
	data = http->body;
	if (intake_parse(data != NULL ? data : "", len, &batch, err, sizeof(err)) != 0) {
		in->refused++;
		LOG_LIMITED(LOG_LEVEL_WARN, "intake: a payload was refused: %s", err);
		reply_error(req, 400, "Bad Request", err);
		return;
	}
	if (intake_apply(in->log, &batch, &res, err, sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "intake: cannot record alerts: %s", err);
		intake_batch_release(&batch);
		reply_error(req, 500, "Internal Server Error", "the incident log cannot be written");
		return;
	}
	in->served++;
	if (res.opened > 0 || res.resolved > 0)
		log_info("intake: %zu alerts: %zu opened, %zu updated, %zu resolved, %zu ignored",
		    batch.n + batch.skipped, res.opened, res.updated, res.resolved,
		    res.ignored + batch.skipped);
	snprintf(summary, sizeof(summary),
	    "{\"status\":\"ok\",\"opened\":%zu,\"updated\":%zu,\"resolved\":%zu,\"ignored\":%zu}",
	    res.opened, res.updated, res.resolved, res.ignored + batch.skipped);
	intake_batch_release(&batch);
	reply(req, 200, "OK", summary);
}

struct intake *
intake_start(struct event_base *base, const struct cluster_addr *addr, const char *token,
    struct ilog *log, char *err, size_t errlen)
{
	static const struct httpd_limits limits = {
		.connections_max = INTAKE_CONNECTIONS_MAX,
		.timeout_ms = INTAKE_TIMEOUT_MS,
		.headers_max = INTAKE_HEADERS_MAX,
		.body_max = INTAKE_BODY_MAX,
		.accept_retry_ms = INTAKE_ACCEPT_RETRY_MS,
	};
	struct intake *in = calloc(1, sizeof(*in));
	char why[256];

	if (in == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return NULL;
	}
	in->log = log;
	in->open = token == NULL;
	if (token != NULL)
		sha256(token, strlen(token), in->token_digest);
	if ((in->http = httpd_start(base, addr->host, addr->port, &limits, handle, in, why,
	    sizeof(why))) == NULL) {
		errbuf_set(err, errlen, "cannot listen on %s: %s", addr->text, why);
		free(in);
		return NULL;
	}
	return in;
}

void
intake_stop(struct intake *in)
{
	if (in == NULL)
		return;
	httpd_stop(in->http);
	free(in);
}

void
intake_counts(const struct intake *in, uint64_t *served, uint64_t *refused)
{
	*served = in->served;
	*refused = in->refused;
}

uint64_t
intake_unauthorized(const struct intake *in)
{
	return in->unauthorized;
}

int
intake_accept_news(struct intake *in, char *msg, size_t len)
{
	return httpd_accept_news(in->http, msg, len);
}

void
intake_set_health(struct intake *in, const struct intake_health *h)
{
	in->health = h;
}
