/*
 * sink — see sink.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sha256.h"
#include "sink.h"

#define MASTODON_TEXT_MAX 500 /* characters in a status */
#define RETRY_AFTER_MAX_MS (24LL * 3600 * 1000)
#define SINK_RETRY_BASE_MAX_MS (3600LL * 1000) /* retry_base */
#define SINK_RETRY_MAX_MS (24LL * 3600 * 1000) /* retry_max */

/* --- requests: what every type builds with ------------------------------------------------ */

void
sink_request_release(struct sink_request *r)
{
	textbuf_release(&r->body);
}

void
sink_hmac_hex(const char *key, const char *data, size_t len, char out[65])
{
	uint8_t md[SHA256_LEN];

	hmac_sha256(key, strlen(key), data, len, md);
	hex_encode(md, sizeof(md), out);
}

static void
header(struct sink_request *r, const char *fmt, const char *a, const char *b)
{
	if (r->nheaders < SINK_HEADERS_MAX)
		snprintf(r->headers[r->nheaders++], SINK_HEADER_MAX, fmt, a, b);
}

static int
dump_into(json_t *o, struct textbuf *b)
{
	char *s;

	if (o == NULL)
		return -1;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return -1;
	textbuf_puts(b, s);
	free(s);
	return textbuf_failed(b) ? -1 : 0;
}

static const char *
str(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* --- chat: Slack/Mattermost-compatible incoming webhooks ---------------------------------- */

static int
chat_build(const struct sink_conf *s, const struct sink_change *c, struct sink_request *reqs,
    size_t *n)
{
	struct sink_request *r = &reqs[0];
	struct textbuf shown = { 0 };
	int rc;

	snprintf(r->method, sizeof(r->method), "POST");
	snprintf(r->url, sizeof(r->url), "%s", s->url);
	*n = 1;
	textbuf_escape_markup(&shown, c->text);
	rc = textbuf_failed(&shown) ? -1 :
	    dump_into(json_pack("{s:s}", "text", shown.data != NULL ? shown.data : ""), &r->body);
	textbuf_release(&shown);
	return rc;
}

static const struct sink_ops chat_ops = {
	.name = "chat",
	.build = chat_build,
};

/* --- webhook: the payload itself, signed -------------------------------------------------- */

static int
webhook_build(const struct sink_conf *s, const struct sink_change *c,
    struct sink_request *reqs, size_t *n)
{
	struct sink_request *r = &reqs[0];
	struct textbuf signed_text = { 0 };
	char ts[24], evs[24], sig[65];

	snprintf(r->method, sizeof(r->method), "POST");
	snprintf(r->url, sizeof(r->url), "%s", s->url);
	*n = 1;
	if (dump_into(json_incref(c->payload), &r->body) < 0)
		return -1;
	snprintf(ts, sizeof(ts), "%lld", (long long)c->now_s);
	textbuf_printf(&signed_text, "%s.%s", ts, r->body.data);
	if (textbuf_failed(&signed_text)) {
		textbuf_release(&signed_text);
		return -1;
	}
	sink_hmac_hex(s->secret, signed_text.data, signed_text.len, sig);
	textbuf_release(&signed_text);
	snprintf(evs, sizeof(evs), "%lld", c->event_id);
	header(r, "X-Mcops-Event: %s%s", evs, "");
	header(r, "X-Mcops-Timestamp: %s%s", ts, "");
	header(r, "X-Mcops-Signature: sha256=%s%s", sig, "");
	header(r, "Idempotency-Key: %s%s", c->idempotency_key, "");
	return 0;
}

static const struct sink_ops webhook_ops = {
	.name = "webhook",
	.needs_secret = true,
	.build = webhook_build,
};

/* --- statuspage: a hosted status page's API ----------------------------------------------- */

static const char *
remote_component(const struct sink_conf *s, const char *local)
{
	size_t i;

	for (i = 0; i < s->ncomps; i++)
		if (strcmp(s->comps[i].local, local) == 0)
			return s->comps[i].remote;
	return NULL;
}

/* A PATCH per mapped component of the payload, each idempotent; the remote ids and
 * statuses into map and ids for the incident's own request. 0 or -1. */
static int
component_requests(const struct sink_conf *s, json_t *p, json_t *map, json_t *ids,
    struct sink_request *reqs, size_t *n)
{
	json_t *comps = json_object_get(p, "components"), *c;
	struct sink_request *r;
	size_t i;

	json_array_foreach(comps, i, c) {
		const char *local = str(c, "id", NULL), *st = str(c, "status", NULL), *remote;

		if (local == NULL || st == NULL || (remote = remote_component(s, local)) == NULL)
			continue;
		json_object_set_new(map, remote, json_string(st));
		json_array_append_new(ids, json_string(remote));
		r = &reqs[(*n)++];
		snprintf(r->method, sizeof(r->method), "PATCH");
		snprintf(r->url, sizeof(r->url), "%s/pages/%s/components/%s", s->url, s->page_id,
		    remote);
		if (dump_into(json_pack("{s:{s:s}}", "component", "status", st), &r->body) < 0)
			return -1;
	}
	return 0;
}

/* The request for the hosted page's incident remote_id ("": a new one, by POST, whose
 * answer's id is remembered). */
static struct sink_request *
incident_request(const struct sink_conf *s, const char *method, const char *remote_id,
    struct sink_request *reqs, size_t *n)
{
	struct sink_request *r = &reqs[(*n)++];

	snprintf(r->method, sizeof(r->method), "%s", remote_id[0] ? method : "POST");
	if (remote_id[0] == '\0') {
		snprintf(r->url, sizeof(r->url), "%s/pages/%s/incidents", s->url, s->page_id);
		r->remember_id = true;
	} else {
		snprintf(r->url, sizeof(r->url), "%s/pages/%s/incidents/%s", s->url, s->page_id,
		    remote_id);
	}
	return r;
}

/* An existing incident's new status and update body. */
static int
patch_incident(struct sink_request *r, const char *status, const char *body, json_t *map,
    json_t *ids)
{
	return dump_into(json_pack("{s:{s:s, s:s, s:O, s:O}}", "incident", "status", status,
	    "body", body, "components", map, "component_ids", ids), &r->body);
}

static int
incident_requests(const struct sink_conf *s, json_t *p, const char *remote_id, json_t *map,
    json_t *ids, struct sink_request *reqs, size_t *n)
{
	const char *status = str(p, "incident", "status"), *body = str(p, "update", "body");
	const char *name = str(p, "incident", "name"), *impact = str(p, "incident", "impact");
	struct sink_request *r;

	if (status == NULL || body == NULL || name == NULL || impact == NULL)
		return -1;
	r = incident_request(s, "PATCH", remote_id, reqs, n);
	if (remote_id[0] != '\0')
		return patch_incident(r, status, body, map, ids);
	return dump_into(json_pack("{s:{s:s, s:s, s:s, s:s, s:O, s:O}}", "incident", "name",
	    name, "status", status, "impact_override", impact, "body", body, "components", map,
	    "component_ids", ids), &r->body);
}

/*
 * A scheduled maintenance is an incident of the hosted page with scheduled_for and
 * scheduled_until: created when first announced, then its status moves (in_progress,
 * completed) by PATCH; a cancelled one is deleted, as the hosted page has no
 * cancelled status. Its start and end are ours to announce, never automatic there.
 */
static int
maintenance_requests(const struct sink_conf *s, json_t *p, const char *remote_id, json_t *map,
    json_t *ids, struct sink_request *reqs, size_t *n)
{
	const char *status = str(p, "maintenance", "status"), *body = str(p, "update", "body");
	const char *name = str(p, "maintenance", "name");
	const char *from = str(p, "maintenance", "scheduled_for");
	const char *until = str(p, "maintenance", "scheduled_until");
	struct sink_request *r;

	if (status == NULL || body == NULL || name == NULL || from == NULL || until == NULL)
		return -1;
	if (strcmp(status, "cancelled") == 0) {
		if (remote_id[0] != '\0')
			(void)incident_request(s, "DELETE", remote_id, reqs, n);
		return 0; /* never announced there: nothing to withdraw */
	}
	r = incident_request(s, "PATCH", remote_id, reqs, n);
	if (remote_id[0] != '\0')
		return patch_incident(r, status, body, map, ids);
	return dump_into(json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:O, s:O}}",
	    "incident", "name", name, "status", status, "scheduled_for", from,
	    "scheduled_until", until, "body", body, "scheduled_auto_in_progress", 0,
	    "scheduled_auto_completed", 0, "components", map, "component_ids", ids), &r->body);
}

static int
statuspage_requests(const struct sink_conf *s, json_t *p, const char *remote_id,
    struct sink_request *reqs, size_t *n)
{
	json_t *map = json_object(), *ids = json_array();
	int rc = -1;

	/* Components first, each an idempotent PATCH; the incident last, so a retry after
	 * a failure part-way repeats only idempotent requests. */
	if (map != NULL && ids != NULL && component_requests(s, p, map, ids, reqs, n) == 0)
		rc = json_is_object(json_object_get(p, "maintenance")) ?
		    maintenance_requests(s, p, remote_id, map, ids, reqs, n) :
		    incident_requests(s, p, remote_id, map, ids, reqs, n);
	json_decref(map);
	json_decref(ids);
	return rc;
}

static int
statuspage_build(const struct sink_conf *s, const struct sink_change *c,
    struct sink_request *reqs, size_t *n)
{
	int rc = statuspage_requests(s, c->payload, c->remote_id, reqs, n);
	size_t i;

	for (i = 0; i < *n; i++)
		header(&reqs[i], "Authorization: OAuth %s%s", s->secret, "");
	return rc;
}

static void
statuspage_check(struct config *cfg, const char *section, int line, const struct sink_conf *s,
    struct config_errors *errs)
{
	if (s->page_id[0] == '\0')
		config_error(errs, cfg, line, "[%s]: a statuspage sink needs page_id", section);
}

static const struct sink_ops statuspage_ops = {
	.name = "statuspage",
	.needs_secret = true,
	.remote = SINK_REMOTE_FIRST,
	.check = statuspage_check,
	.build = statuspage_build,
};

/* --- mastodon: a status, each update a reply to the previous one -------------------------- */

/* Up to max characters of s (UTF-8), with "…" if cut. */
static void
cut_chars(const char *s, size_t max, struct textbuf *b)
{
	size_t bytes = 0, chars = 0;

	while (s[bytes] != '\0' && chars < max) {
		bytes++;
		while (((unsigned char)s[bytes] & 0xc0) == 0x80)
			bytes++;
		chars++;
	}
	textbuf_add(b, s, bytes);
	if (s[bytes] != '\0')
		textbuf_puts(b, "\xe2\x80\xa6");
}

static size_t
count_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int
mastodon_build(const struct sink_conf *s, const struct sink_change *c,
    struct sink_request *reqs, size_t *n)
{
	struct sink_request *r = &reqs[0];
	struct textbuf status = { 0 };
	int rc;

	snprintf(r->method, sizeof(r->method), "POST");
	snprintf(r->url, sizeof(r->url), "%s/api/v1/statuses", s->url);
	r->remember_id = true;
	*n = 1;
	if (count_chars(c->text) <= MASTODON_TEXT_MAX) {
		textbuf_puts(&status, c->text);
	} else {
		/* Keep the link: cut the update's words instead. */
		const char *link = str(c->payload, "incident", "shortlink");

		cut_chars(c->text, MASTODON_TEXT_MAX - 2 - (link ? count_chars(link) : 0),
		    &status);
		if (link != NULL)
			textbuf_printf(&status, " %s", link);
	}
	rc = textbuf_failed(&status) ? -1 :
	    dump_into(c->remote_id[0] ? json_pack("{s:s, s:s, s:s}", "status", status.data,
					    "visibility", s->visibility, "in_reply_to_id",
					    c->remote_id) :
					json_pack("{s:s, s:s}", "status", status.data, "visibility",
					    s->visibility), &r->body);
	textbuf_release(&status);
	header(r, "Authorization: Bearer %s%s", s->secret, "");
	header(r, "Idempotency-Key: %s%s", c->idempotency_key, "");
	return rc;
}

static const struct sink_ops mastodon_ops = {
	.name = "mastodon",
	.needs_secret = true,
	.remote = SINK_REMOTE_LATEST,
	.build = mastodon_build,
};

/* --- put: the rendered site, file by file, to a second origin (push.c) -------------------- */

static const struct sink_ops put_ops = {
	.name = "put",
	.url_is_directory = true,
	.basic_auth = true,
};

/* --- the types ---------------------------------------------------------------------------- */

/* In the order the configuration errors list them. */
static const struct sink_ops *const sink_types[] = {
	&chat_ops, &webhook_ops, &statuspage_ops, &mastodon_ops, &put_ops,
};
#define SINK_TYPES_N (sizeof(sink_types) / sizeof(sink_types[0]))
#define SINK_TYPE_LIST_MAX 128

const struct sink_ops *
sink_ops_find(const char *name)
{
	size_t i;

	for (i = 0; i < SINK_TYPES_N; i++)
		if (strcmp(name, sink_types[i]->name) == 0)
			return sink_types[i];
	return NULL;
}

/* "chat, webhook, statuspage, mastodon or put", for the configuration's errors. */
static void
type_list(char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < SINK_TYPES_N && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
		    i == 0 ? "" : i + 1 == SINK_TYPES_N ? " or " : ", ", sink_types[i]->name);
}

/* --- the [sink NAME] sections ------------------------------------------------------------- */

bool
sink_owns(const char *section)
{
	return config_section_name(section, "sink") != NULL;
}

static bool
name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= ILOG_SINK_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static bool
url_valid(const char *s)
{
	size_t i;

	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '"' || s[i] == '\\')
			return false;
	return s[s[4] == 's' ? 8 : 7] != '\0' && s[s[4] == 's' ? 8 : 7] != '/'; /* a host */
}

static void
load_components(struct config *cfg, const char *section, struct sink_conf *s,
    struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, "components");
	const char *p;
	size_t n, colon;

	if (e == NULL)
		return;
	for (p = e->value;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		colon = strcspn(p, ":");
		if (colon >= n || colon == 0 || colon > ILOG_NAME_MAX || n - colon - 1 == 0 ||
		    n - colon - 1 > SP_ID_MAX || s->ncomps == SP_COMPONENTS_MAX) {
			config_error(errs, cfg, e->line, "components: a list of LOCAL:REMOTE ids "
			    "(at most %d)", SP_COMPONENTS_MAX);
			return;
		}
		memcpy(s->comps[s->ncomps].local, p, colon);
		s->comps[s->ncomps].local[colon] = '\0';
		memcpy(s->comps[s->ncomps].remote, p + colon + 1, n - colon - 1);
		s->comps[s->ncomps].remote[n - colon - 1] = '\0';
		if (strcspn(s->comps[s->ncomps].remote, "/?#%") != n - colon - 1) {
			config_error(errs, cfg, e->line, "components: '%s' is not a remote id",
			    s->comps[s->ncomps].remote);
			return;
		}
		s->ncomps++;
		p += n;
	}
}

static int
load_one(struct config *cfg, const char *section, int line, struct sink_conf *s,
    struct config_errors *errs)
{
	const char *name = config_section_name(section, "sink"), *v;
	size_t before = errs->n + errs->dropped;
	char err[CONFIG_ERR_MAX], types[SINK_TYPE_LIST_MAX];
	struct config_entry *e;
	uint64_t attempts;
	int64_t ms;

	memset(s, 0, sizeof(*s));
	if (!name_valid(name)) {
		config_error(errs, cfg, line, "[%s]: a sink's name is 1..%d of [A-Za-z0-9_.-]",
		    section, ILOG_SINK_MAX);
		return -1;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	type_list(types, sizeof(types));
	/* Without a type (s->ops NULL) the other keys are still checked, as for a type
	 * with no needs of its own, so that one run reports every problem. */
	if ((e = config_find(cfg, section, "type")) == NULL)
		config_error(errs, cfg, line, "[%s]: type is required (%s)", section, types);
	else if ((s->ops = sink_ops_find(e->value)) == NULL)
		config_error(errs, cfg, e->line, "type: '%s' is not %s", e->value, types);
	if ((e = config_find(cfg, section, "url")) == NULL) {
		config_error(errs, cfg, line, "[%s]: url is required", section);
	} else if (!url_valid(e->value) || strlen(e->value) + 2 > sizeof(s->url)) {
		config_error(errs, cfg, e->line, "url: an http:// or https:// URL without spaces "
		    "or quotes");
	} else {
		size_t n = strlen(e->value);

		if (s->ops != NULL && s->ops->url_is_directory)
			snprintf(s->url, sizeof(s->url), "%s%s", e->value,
			    e->value[n - 1] == '/' ? "" : "/");
		else
			snprintf(s->url, sizeof(s->url), "%.*s", (int)(e->value[n - 1] == '/' ? n - 1 :
			    n), e->value);
	}
	if ((e = config_find(cfg, section, "secret_file")) != NULL &&
	    config_read_secret(e->value, s->secret, sizeof(s->secret), err, sizeof(err)) < 0)
		config_error(errs, cfg, e->line, "secret_file: %s", err);
	if (s->secret[0] == '\0' && s->ops != NULL && s->ops->needs_secret)
		config_error(errs, cfg, line, "[%s]: a %s sink needs secret_file", section,
		    s->ops->name);
	config_get_double(cfg, section, "rate", 0.01, 100, 1, &s->rate, errs);
	if (config_get_duration_ms(cfg, section, "timeout", 10000, &s->timeout_ms, errs) == 0 &&
	    (s->timeout_ms < 1000 || s->timeout_ms > 60000))
		config_error(errs, cfg, 0, "[%s] timeout: between 1s and 60s", section);
	/* Bounded: the log schedules the next attempt at now + backoff, which must not
	 * overflow (a wrapped time is due at once, forever). */
	if (config_get_duration_ms(cfg, section, "retry_base", 1000, &ms, errs) == 0 &&
	    ms > SINK_RETRY_BASE_MAX_MS)
		config_error(errs, cfg, 0, "[%s] retry_base: at most 1h", section);
	s->backoff.base_ms = ms < 100 ? 100 : ms > SINK_RETRY_BASE_MAX_MS ?
	    SINK_RETRY_BASE_MAX_MS : ms;
	if (config_get_duration_ms(cfg, section, "retry_max", 600000, &ms, errs) == 0 &&
	    ms > SINK_RETRY_MAX_MS)
		config_error(errs, cfg, 0, "[%s] retry_max: at most 24h", section);
	if (ms > SINK_RETRY_MAX_MS)
		ms = SINK_RETRY_MAX_MS;
	s->backoff.max_ms = ms < s->backoff.base_ms ? s->backoff.base_ms : ms;
	config_get_u64(cfg, section, "max_attempts", 0, 1000000, 0, &attempts, errs);
	s->backoff.max_attempts = (unsigned)attempts;
	if ((e = config_find(cfg, section, "page_id")) != NULL) {
		if (strlen(e->value) > SP_ID_MAX || strcspn(e->value, "/?#% ") != strlen(e->value))
			config_error(errs, cfg, e->line, "page_id: not a page id");
		else
			snprintf(s->page_id, sizeof(s->page_id), "%s", e->value);
	}
	if (s->ops != NULL && s->ops->check != NULL)
		s->ops->check(cfg, section, line, s, errs);
	load_components(cfg, section, s, errs);
	config_get_str(cfg, section, "visibility", "public", &v, errs);
	if (strcmp(v, "public") != 0 && strcmp(v, "unlisted") != 0 && strcmp(v, "private") != 0)
		config_error(errs, cfg, 0, "[%s] visibility: public, unlisted or private", section);
	else
		snprintf(s->visibility, sizeof(s->visibility), "%s", v);
	return errs->n + errs->dropped > before ? -1 : 0;
}

/* Whether section i is the first of its name; a second [sink NAME] is an error (its
 * keys would merge into the first's, or make a second sink of the same name). */
static bool
first_section(struct config *cfg, size_t i, struct config_errors *errs)
{
	size_t j;

	for (j = 0; j < i; j++) {
		if (strcmp(cfg->sections[i], cfg->sections[j]) == 0) {
			config_error(errs, cfg, cfg->section_lines[i],
			    "duplicate section [%s] (first at line %d)", cfg->sections[i],
			    cfg->section_lines[j]);
			return false;
		}
	}
	return true;
}

int
sink_load_all(struct config *cfg, struct sink_conf *out, size_t *n, struct config_errors *errs)
{
	size_t i;
	int rc = 0;

	*n = 0;
	for (i = 0; i < cfg->nsections; i++) {
		if (config_section_name(cfg->sections[i], "sink") == NULL)
			continue;
		if (!first_section(cfg, i, errs)) {
			rc = -1;
			continue;
		}
		if (*n == SINKS_MAX) {
			config_error(errs, cfg, cfg->section_lines[i], "more than %d sinks", SINKS_MAX);
			return -1;
		}
		if (load_one(cfg, cfg->sections[i], cfg->section_lines[i], &out[*n], errs) < 0)
			rc = -1;
		else
			(*n)++;
	}
	return rc;
}

int
sink_build(const struct sink_conf *s, const char *payload, const char *remote_id,
    int64_t now_s, struct sink_request *reqs, size_t *n, char *err, size_t errlen)
{
	json_t *p = json_loads(payload, 0, NULL);
	const char *text = p != NULL ? str(p, "text", NULL) : NULL;
	char key[ILOG_SINK_MAX + 40];
	struct sink_change c;
	size_t i;
	int rc;

	*n = 0;
	for (i = 0; i < SINK_REQUESTS_MAX; i++)
		memset(&reqs[i], 0, sizeof(reqs[i]));
	if (p == NULL || text == NULL || !json_is_integer(json_object_get(p, "event_id"))) {
		snprintf(err, errlen, "the payload is not a status change");
		json_decref(p);
		return -1;
	}
	if (s->ops->build == NULL) {
		snprintf(err, errlen, "a %s sink sends the site, not requests", s->ops->name);
		json_decref(p);
		return -1;
	}
	c.payload = p;
	c.text = text;
	c.event_id = (long long)json_integer_value(json_object_get(p, "event_id"));
	snprintf(key, sizeof(key), "mcops-%s-%lld", s->name, c.event_id);
	c.idempotency_key = key;
	c.remote_id = remote_id;
	c.now_s = now_s;
	rc = s->ops->build(s, &c, reqs, n);
	for (i = 0; i < *n; i++)
		header(&reqs[i], "Content-Type: %s%s", "application/json", "");
	json_decref(p);
	if (rc < 0) {
		for (i = 0; i < *n; i++)
			sink_request_release(&reqs[i]);
		*n = 0;
		snprintf(err, errlen, "the payload is not a status change this sink can send");
		return -1;
	}
	return 0;
}

/* --- answers ------------------------------------------------------------------------------ */

static int64_t
parse_retry_after(const char *v, int64_t now_ms)
{
	struct tm tm;
	int64_t ms = 0;
	const char *end;

	if (v == NULL)
		return 0;
	v += strspn(v, " \t");
	if (*v >= '0' && *v <= '9') {
		for (; *v >= '0' && *v <= '9' && ms <= RETRY_AFTER_MAX_MS; v++)
			ms = ms * 10 + (*v - '0') * 1000;
		return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return 0;
	ms = (int64_t)timegm(&tm) * 1000 - now_ms;
	if (ms <= 0)
		return 0;
	return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
}

enum sink_verdict
sink_judge(long status, const char *retry_after, const char *body, int64_t now_ms,
    int64_t *retry_after_ms, char *why, size_t whylen)
{
	*retry_after_ms = parse_retry_after(retry_after, now_ms);
	if (*retry_after_ms == 0 && body != NULL && (status == 429 || status == 420)) {
		json_t *o = json_loads(body, 0, NULL), *ra = json_object_get(o, "retry_after");

		if (json_is_number(ra) && json_number_value(ra) > 0)
			*retry_after_ms = json_number_value(ra) * 1000 > (double)RETRY_AFTER_MAX_MS ?
			    RETRY_AFTER_MAX_MS : (int64_t)(json_number_value(ra) * 1000);
		json_decref(o);
	}
	if (status >= 200 && status < 300) {
		snprintf(why, whylen, "HTTP %ld", status);
		return SINK_DONE;
	}
	if (status == 0) {
		snprintf(why, whylen, "no answer");
		return SINK_RETRY;
	}
	if (status == 408 || status == 420 || status == 425 || status == 429 || status >= 500) {
		snprintf(why, whylen, "HTTP %ld%s", status,
		    status == 429 || status == 420 ? " (rate limited)" : "");
		return SINK_RETRY;
	}
	if (status == 401 || status == 403) {
		/* A key an operator can fix: keep the queue, say why. */
		snprintf(why, whylen, "HTTP %ld: check the sink's secret", status);
		return SINK_RETRY;
	}
	snprintf(why, whylen, "HTTP %ld: the remote refuses this request", status);
	return SINK_GIVE_UP;
}

int
sink_answer_id(const char *body, char *out, size_t len, char *why, size_t whylen)
{
	json_t *o = body != NULL ? json_loads(body, 0, NULL) : NULL, *id;
	char digits[SINK_INTEGER_ID_MAX];
	const char *text = NULL;
	int rc = -1;

	id = json_object_get(o, "id");
	if (json_is_integer(id)) {
		snprintf(digits, sizeof(digits), "%lld", (long long)json_integer_value(id));
		text = digits;
	} else if (json_is_string(id)) {
		text = json_string_value(id);
	}
	/* The id becomes a URL path segment and a JSON value: only [A-Za-z0-9_.-], and
	 * not "." or ".." (which the URL would resolve to the parent). A control
	 * character made every later request of the sink fail in curl, retried forever. */
	if (text == NULL)
		snprintf(why, whylen, "the answer has no \"id\" (a string or a number)");
	else if (text[0] == '\0')
		snprintf(why, whylen, "the answer's \"id\" is empty");
	else if (strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789_.-") != strlen(text) ||
	    strcmp(text, ".") == 0 || strcmp(text, "..") == 0)
		snprintf(why, whylen, "the answer's \"id\" is not a path segment");
	/* A cut id would name another remote incident: refused whole. */
	else if (strlen(text) >= len)
		snprintf(why, whylen, "the answer's \"id\" does not fit in %zu bytes", len);
	else {
		memcpy(out, text, strlen(text) + 1);
		rc = 0;
	}
	json_decref(o);
	return rc;
}
