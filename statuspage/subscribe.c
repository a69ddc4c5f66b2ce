/*
 * subscribe — see subscribe.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "rate.h"
#include "subscribe.h"
#include "subtoken.h"

#define SECTION "subscribers"
#define SOURCE_KEY_MAX 16         /* an IPv4 address or an IPv6 /64 */
#define FIELD_MAX ILOG_SUB_ADDRESS_MAX /* one decoded form value */
#define PAGE_TEXT_MAX 600
#define CONFIRM_PAYLOAD "{\"type\":\"confirm\"}"

struct source {
	uint8_t key[SOURCE_KEY_MAX];
	bool used;
	struct token_bucket bucket;
};

struct subs {
	struct ilog *log;            /* borrowed, under dblock */
	pthread_mutex_t *dblock;
	const struct subs_conf *conf; /* borrowed */
	const struct sp_config *sp;   /* borrowed */
	int64_t (*now_ms)(void);
	uint64_t seed;               /* of the sources' hash: collisions are not chosen */
	struct source sources[SUBS_SOURCES];
	char fanout_names[SUBS_FANOUT_PAGE][ILOG_SINK_MAX + 1]; /* one page's queues */
};

bool
subs_owns(const char *section)
{
	return strcmp(section, SECTION) == 0;
}

static void
read_file_key(struct config *cfg, const char *key, char *buf, size_t len,
    struct config_errors *errs)
{
	struct config_entry *e;
	char err[CONFIG_ERR_MAX];

	if ((e = config_find(cfg, SECTION, key)) != NULL &&
	    config_read_secret(e->value, buf, len, err, sizeof(err)) < 0)
		config_error(errs, cfg, e->line, "%s: %s", key, err);
}

int
subs_load(struct config *cfg, const struct sp_config *sp, struct subs_conf *out,
    struct config_errors *errs)
{
	size_t before = errs->n + errs->dropped, i;
	uint64_t v;
	int64_t ms;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < cfg->nsections; i++)
		if (subs_owns(cfg->sections[i]))
			out->on = true;
	if (!out->on)
		return 0;
	read_file_key(cfg, "secret_file", out->secret, sizeof(out->secret), errs);
	if (out->secret[0] == '\0' && config_find(cfg, SECTION, "secret_file") == NULL)
		config_error(errs, cfg, 0, "[subscribers] secret_file: required (it signs the "
					   "confirmation and unsubscribe links)");
	else if (out->secret[0] != '\0' && strlen(out->secret) < 16)
		config_error(errs, cfg, 0, "[subscribers] secret_file: the secret needs at least "
					   "16 characters");
	if (sp->listen[0] == '\0')
		config_error(errs, cfg, 0, "[subscribers]: the form posts to mcstatus, which needs "
					   "[statuspage] listen");
	config_copy_str(cfg, SECTION, "smtp_url", out->smtp_url, sizeof(out->smtp_url), errs);
	if (strncmp(out->smtp_url, "smtp://", 7) != 0 && strncmp(out->smtp_url, "smtps://", 8) != 0)
		config_error(errs, cfg, 0, "[subscribers] smtp_url: required, smtp://HOST[:PORT] or "
					   "smtps://HOST[:PORT]");
	config_copy_str(cfg, SECTION, "smtp_from", out->from, sizeof(out->from), errs);
	if (!subs_email_valid(out->from))
		config_error(errs, cfg, 0, "[subscribers] smtp_from: required, an address "
					   "(local@domain)");
	config_copy_str(cfg, SECTION, "smtp_user", out->user, sizeof(out->user), errs);
	read_file_key(cfg, "smtp_password_file", out->password, sizeof(out->password), errs);
	config_copy_str(cfg, SECTION, "smtp_ca_file", out->ca_file, sizeof(out->ca_file), errs);
	if (out->ca_file[0] != '\0' && access(out->ca_file, R_OK) != 0)
		config_error(errs, cfg, 0, "[subscribers] smtp_ca_file: cannot read %s: %s",
		    out->ca_file, strerror(errno));
	if ((out->user[0] != '\0') != (config_find(cfg, SECTION, "smtp_password_file") != NULL))
		config_error(errs, cfg, 0, "[subscribers]: smtp_user and smtp_password_file go "
					   "together");
	config_get_duration_ms(cfg, SECTION, "confirm_lifetime", 86400000, &out->confirm_ms, errs);
	if (out->confirm_ms < 60000 || out->confirm_ms > 30 * 86400000LL)
		config_error(errs, cfg, 0, "[subscribers] confirm_lifetime: between 1m and 30d");
	config_get_duration_ms(cfg, SECTION, "resend_after", 600000, &out->window_ms, errs);
	if (out->window_ms < 1000 || out->window_ms > 7 * 86400000LL)
		config_error(errs, cfg, 0, "[subscribers] resend_after: between 1s and 7d");
	config_get_u64(cfg, SECTION, "bounce_limit", 1, 100, 3, &v, errs);
	out->bounce_limit = (unsigned)v;
	config_get_u64(cfg, SECTION, "max", 1, 10000000, 100000, &out->max, errs);
	config_get_u64(cfg, SECTION, "form_rate", 1, 100000, 10, &v, errs);
	out->form_rate = (uint32_t)v;
	config_get_u64(cfg, SECTION, "form_burst", 1, 100000, 5, &v, errs);
	out->form_burst = (uint32_t)v;
	config_get_double(cfg, SECTION, "rate", 0.01, 1000, 10, &out->rate, errs);
	config_get_duration_ms(cfg, SECTION, "timeout", 30000, &out->timeout_ms, errs);
	if (out->timeout_ms < 1000 || out->timeout_ms > 300000)
		config_error(errs, cfg, 0, "[subscribers] timeout: between 1s and 5m");
	config_get_duration_ms(cfg, SECTION, "retry_base", 30000, &ms, errs);
	if (ms < 100 || ms > 3600000)
		config_error(errs, cfg, 0, "[subscribers] retry_base: between 100ms and 1h");
	out->backoff.base_ms = ms < 100 ? 100 : ms > 3600000 ? 3600000 : ms;
	config_get_duration_ms(cfg, SECTION, "retry_max", 3600000, &ms, errs);
	if (ms > 86400000)
		config_error(errs, cfg, 0, "[subscribers] retry_max: at most 24h");
	out->backoff.max_ms = ms < out->backoff.base_ms ? out->backoff.base_ms :
			      ms > 86400000 ? 86400000 : ms;
	/* Temporary failures are retried for about a day at the longest backoff; then
	 * the message is given up (a relay down that long has lost the moment). */
	config_get_u64(cfg, SECTION, "max_attempts", 0, 1000000, 40, &v, errs);
	out->backoff.max_attempts = (unsigned)v;
	/* spconfig_load read link_url and webhooks; they are the same section's. */
	config_find(cfg, SECTION, "link_url");
	config_find(cfg, SECTION, "webhooks");
	return errs->n + errs->dropped > before ? -1 : 0;
}

/* --- the form ----------------------------------------------------------------------------- */

bool
subs_email_valid(const char *s)
{
	static const char atext[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789!#$%&'*+/=?^_`{|}~-";
	const char *at = strrchr(s, '@'), *p, *label;
	size_t n = strlen(s);

	if (at == NULL || n > SUBS_EMAIL_MAX || at == s || at - s > 64 || at[1] == '\0')
		return false;
	/* local: dot-atom */
	for (p = s; p < at; p++) {
		if (*p == '.') {
			if (p == s || p[1] == '.' || p + 1 == at)
				return false;
		} else if (strchr(atext, *p) == NULL || *p == '\0') {
			return false;
		}
	}
	/* domain: labels of letters, digits and inner hyphens, at least two */
	label = at + 1;
	for (p = at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t len = (size_t)(p - label);

			if (len == 0 || len > 63 || label[0] == '-' || p[-1] == '-')
				return false;
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			       (*p >= '0' && *p <= '9') || *p == '-')) {
			return false;
		}
	}
	return strchr(at + 1, '.') != NULL;
}

static bool
webhook_valid(const char *s, enum sp_webhooks allowed)
{
	const char *host;
	size_t i, n = strlen(s);

	if (n > SUBS_WEBHOOK_MAX)
		return false;
	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (allowed == SP_WEBHOOKS_ANY && strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return false;
	if (*host == '\0' || *host == '/' || strchr(host, '@') != NULL)
		return false; /* no host, or credentials in the URL */
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    strchr("\"<>\\^`{|}", s[i]) != NULL)
			return false;
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* [s, s+n) form-decoded into out (len bytes with the NUL); -1 if it does not fit, has
 * a bad escape, or decodes to a control character or a NUL. */
static int
form_decode(const char *s, size_t n, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= len)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Trims blanks around s in place (a pasted address often has some). */
static void
trim(char *s)
{
	size_t n = strlen(s), start = 0;

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	while (s[start] == ' ')
		start++;
	memmove(s, s + start, n - start + 1);
}

int
subs_parse_form(const char *body, size_t len, const struct sp_config *sp,
    struct subs_form *out, char *why, size_t whylen)
{
	char key[16], value[FIELD_MAX + 1];
	bool email = false, webhook = false, picked[SP_COMPONENTS_MAX] = { false };
	size_t at = 0, i, o = 0;

	memset(out, 0, sizeof(*out));
	if (len > SUBS_BODY_MAX || memchr(body, '\0', len) != NULL) {
		errbuf_set(why, whylen, "The form could not be read.");
		return -1;
	}
	while (at < len) {
		const char *f = body + at, *amp = memchr(f, '&', len - at), *eq;
		size_t flen = amp != NULL ? (size_t)(amp - f) : len - at;

		at += flen + 1;
		if (flen == 0)
			continue;
		eq = memchr(f, '=', flen);
		if (eq == NULL || form_decode(f, (size_t)(eq - f), key, sizeof(key)) < 0)
			continue; /* a field we do not read (or one too long to be ours) */
		if (strcmp(key, "email") != 0 && strcmp(key, "webhook") != 0 &&
		    strcmp(key, "component") != 0)
			continue;
		if (form_decode(eq + 1, flen - (size_t)(eq + 1 - f), value, sizeof(value)) < 0) {
			errbuf_set(why, whylen, "A field of the form is too long or holds "
						"characters it cannot hold.");
			return -1;
		}
		trim(value);
		if (strcmp(key, "component") == 0) {
			for (i = 0; i < sp->ncomps; i++)
				if (strcmp(sp->comps[i].id, value) == 0)
					break;
			if (i == sp->ncomps) {
				errbuf_set(why, whylen, "The form names a component this page does "
							"not have.");
				return -1;
			}
			picked[i] = true;
			continue;
		}
		if (value[0] == '\0')
			continue; /* the field the visitor left empty */
		if (email || webhook) {
			errbuf_set(why, whylen, "Give one email address or one webhook URL.");
			return -1;
		}
		if (strcmp(key, "email") == 0) {
			if (!subs_email_valid(value)) {
				errbuf_set(why, whylen, "That is not an email address this page can "
							"send to (name@example.com).");
				return -1;
			}
			email = true;
			out->kind = ILOG_SUB_EMAIL;
			/* The domain is case-insensitive: one row per mailbox. */
			for (i = (size_t)(strrchr(value, '@') - value); value[i] != '\0'; i++)
				if (value[i] >= 'A' && value[i] <= 'Z')
					value[i] = (char)(value[i] - 'A' + 'a');
		} else {
			if (sp->subscribe_webhooks == SP_WEBHOOKS_NO) {
				errbuf_set(why, whylen, "This page takes email addresses only.");
				return -1;
			}
			if (!webhook_valid(value, sp->subscribe_webhooks)) {
				errbuf_set(why, whylen, "That is not a webhook URL this page can post to%s.",
				    sp->subscribe_webhooks == SP_WEBHOOKS_HTTPS ? " (https:// only)" : "");
				return -1;
			}
			webhook = true;
			out->kind = ILOG_SUB_WEBHOOK;
		}
		snprintf(out->address, sizeof(out->address), "%s", value);
	}
	if (!email && !webhook) {
		errbuf_set(why, whylen, "Give an email address%s.",
		    sp->subscribe_webhooks != SP_WEBHOOKS_NO ? " or a webhook URL" : "");
		return -1;
	}
	for (i = 0; i < sp->ncomps; i++) {
		size_t n = strlen(sp->comps[i].id);

		if (!picked[i])
			continue;
		if (o + n + 2 > sizeof(out->components)) {
			errbuf_set(why, whylen, "The form names too many components.");
			return -1;
		}
		if (o > 0)
			out->components[o++] = ' ';
		memcpy(out->components + o, sp->comps[i].id, n + 1);
		o += n;
	}
	return 0;
}

uint64_t
subs_components_mask(const struct sp_config *sp, const char *components)
{
	uint64_t mask = 0;
	const char *p = components;
	size_t i;

	if (components[0] == '\0')
		return ~(uint64_t)0;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		for (i = 0; i < sp->ncomps; i++)
			if (strlen(sp->comps[i].id) == n && strncmp(sp->comps[i].id, p, n) == 0)
				mask |= (uint64_t)1 << i;
		p += n;
		while (*p == ' ')
			p++;
	}
	return mask;
}

uint64_t
subs_payload_mask(const struct sp_config *sp, const char *payload)
{
	json_t *doc = json_loads(payload, 0, NULL), *c;
	uint64_t mask = 0;
	size_t i, j;

	json_array_foreach (json_object_get(doc, "components"), i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));

		for (j = 0; id != NULL && j < sp->ncomps; j++)
			if (strcmp(sp->comps[j].id, id) == 0)
				mask |= (uint64_t)1 << j;
	}
	json_decref(doc);
	return mask;
}

/* --- the endpoints ------------------------------------------------------------------------ */

struct subs *
subs_new(struct ilog *log, pthread_mutex_t *dblock)
{
	struct subs *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->log = log;
	s->dblock = dblock;
	s->now_ms = clock_monotonic_ms;
	s->seed = ((uint64_t)clock_wall_ms() << 20) ^ (uint64_t)(uintptr_t)s;
	return s;
}

void
subs_configure(struct subs *s, const struct subs_conf *conf, const struct sp_config *sp)
{
	s->conf = conf;
	s->sp = sp;
}

void
subs_set_clock(struct subs *s, int64_t (*now_ms)(void))
{
	s->now_ms = now_ms;
}

void
subs_free(struct subs *s)
{
	free(s);
}

/* The bucket of the request's source: an IPv4 address, or an IPv6 address's /64 (one
 * host usually holds a whole /64). A fixed table: a newcomer takes its slot over. */
static struct token_bucket *
source_bucket(struct subs *s, const char *peer)
{
	uint8_t key[SOURCE_KEY_MAX] = { 0 };
	char host[64];
	const char *colon;
	uint64_t h = s->seed;
	struct source *src;
	size_t i, n;

	if (peer[0] == '[') {
		n = strcspn(peer + 1, "]");
		snprintf(host, sizeof(host), "%.*s", (int)n, peer + 1);
		if (inet_pton(AF_INET6, host, key) == 1)
			memset(key + 8, 0, 8);
	} else if ((colon = strrchr(peer, ':')) != NULL) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - peer), peer);
		inet_pton(AF_INET, host, key);
	}
	for (i = 0; i < sizeof(key); i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	src = &s->sources[h % SUBS_SOURCES];
	if (!src->used || memcmp(src->key, key, sizeof(key)) != 0) {
		memset(src, 0, sizeof(*src));
		memcpy(src->key, key, sizeof(key));
		src->used = true;
	}
	return &src->bucket;
}

static void
page(struct httpd_response *res, int status, const char *title, const char *text,
    const char *form_token, const struct sp_config *sp)
{
	struct textbuf b = { 0 };

	textbuf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			 "<title>");
	textbuf_escape(&b, title);
	textbuf_puts(&b, "</title><style>body{margin:2rem auto;max-width:40rem;padding:0 1rem;"
			 "font:16px/1.5 system-ui,sans-serif}</style></head><body><h1>");
	textbuf_escape(&b, title);
	textbuf_puts(&b, "</h1>\n<p>");
	textbuf_escape(&b, text);
	textbuf_puts(&b, "</p>\n");
	if (form_token != NULL) {
		textbuf_puts(&b, "<form method=\"post\" action=\"unsubscribe\"><input type=\"hidden\" "
				 "name=\"token\" value=\"");
		textbuf_escape(&b, form_token);
		textbuf_puts(&b, "\"><button>Unsubscribe</button></form>\n");
	}
	if (sp->url[0] != '\0') {
		textbuf_puts(&b, "<p><a href=\"");
		textbuf_escape(&b, sp->url);
		textbuf_puts(&b, "\">Back to the status page</a></p>\n");
	}
	textbuf_puts(&b, "</body></html>\n");
	httpd_header(res, "Cache-Control", "no-store");
	httpd_header(res, "X-Content-Type-Options", "nosniff");
	/* The links carry tokens: never in a Referer. */
	httpd_header(res, "Referrer-Policy", "no-referrer");
	httpd_header(res, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
	    "frame-ancestors 'none'");
	if (textbuf_failed(&b))
		httpd_reply(res, 500, "text/plain; charset=utf-8", "500 Internal Server Error\n", 26);
	else
		httpd_reply(res, status, "text/html; charset=utf-8", b.data, b.len);
	textbuf_release(&b);
}

/* The value of name in a query or form body, form-decoded into out; -1 if absent or
 * unreadable. */
static int
field_value(const char *text, size_t len, const char *name, char *out, size_t outlen)
{
	size_t at = 0, nlen = strlen(name);

	while (at < len) {
		const char *f = text + at, *amp = memchr(f, '&', len - at);
		size_t flen = amp != NULL ? (size_t)(amp - f) : len - at;

		at += flen + 1;
		if (flen > nlen && memcmp(f, name, nlen) == 0 && f[nlen] == '=')
			return form_decode(f + nlen + 1, flen - nlen - 1, out, outlen);
	}
	return -1;
}

static void
on_subscribe(struct subs *s, const struct httpd_request *req, struct httpd_response *res,
    bool *queued)
{
	const char *ctype = httpd_request_header(req, "Content-Type");
	char why[200], err[ILOG_ERR_LEN], sink[ILOG_SINK_MAX + 1];
	enum ilog_sub_request_result result;
	struct ilog_subscriber row;
	struct subs_form form;
	enum ilog_status st;

	if (strcmp(req->method, "POST") != 0) {
		httpd_header(res, "Allow", "POST");
		page(res, 405, "Method not allowed", "Subscribe with the form on the status page.",
		    NULL, s->sp);
		return;
	}
	if (ctype == NULL || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
		page(res, 415, "Unsupported form", "Subscribe with the form on the status page.",
		    NULL, s->sp);
		return;
	}
	/* Per minute: the bucket's clock runs 60 times slow, so its per-second rate is a
	 * per-minute one. */
	if (!token_bucket_take(source_bucket(s, req->peer), s->conf->form_rate,
	    s->conf->form_burst, s->now_ms() / 60 + 1)) {
		httpd_header(res, "Retry-After", "60");
		page(res, 429, "Too many requests", "Too many subscriptions from your network. "
		    "Try again in a few minutes.", NULL, s->sp);
		return;
	}
	if (subs_parse_form(req->body, req->body_len, s->sp, &form, why, sizeof(why)) < 0) {
		page(res, 400, "Not subscribed", why, NULL, s->sp);
		return;
	}
	pthread_mutex_lock(s->dblock);
	st = ilog_sub_request(s->log, form.kind, form.address, form.components, s->conf->max,
	    s->conf->window_ms, s->conf->confirm_ms, &result, &row, err, sizeof(err));
	if (st == ILOG_OK && result == ILOG_SUB_ASKED) {
		snprintf(sink, sizeof(sink), ILOG_SUB_SINK_PREFIX "%lld", (long long)row.id);
		st = ilog_outbox_enqueue(s->log, sink, 0, CONFIRM_PAYLOAD, NULL, NULL, err,
		    sizeof(err));
		if (st == ILOG_OK && queued != NULL)
			*queued = true;
	}
	pthread_mutex_unlock(s->dblock);
	if (st == ILOG_ERR_STATE) {
		snprintf(why, sizeof(why), "A confirmation was asked for this address less than "
		    "%lld minutes ago. Look for it in your inbox, or try again later.",
		    (long long)((s->conf->window_ms + 59999) / 60000));
		httpd_header(res, "Retry-After", "600");
		page(res, 429, "Already asked", why, NULL, s->sp);
	} else if (st == ILOG_ERR_FULL) {
		page(res, 503, "Not subscribed", "This page takes no new subscriptions for now.",
		    NULL, s->sp);
	} else if (st != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "subscribers: a request failed: %s", err);
		page(res, 500, "Not subscribed", "Something went wrong here. Try again later.",
		    NULL, s->sp);
	} else {
		/* The same answer whatever the address's state. */
		page(res, 200, "Check your inbox", form.kind == ILOG_SUB_EMAIL ?
		    "If this address can receive our updates, a message with a link to confirm "
		    "is on its way. Nothing is sent until you open it." :
		    "If this URL can receive our updates, it is sent a link to confirm. Nothing "
		    "else is sent until the link is opened.", NULL, s->sp);
	}
}

/* /confirm and /unsubscribe: the token from the query (GET) or the body (POST). */
static void
on_link(struct subs *s, const struct httpd_request *req, struct httpd_response *res,
    bool confirm)
{
	char token[SUBTOKEN_MAX], err[ILOG_ERR_LEN];
	enum subtoken_result tr;
	enum ilog_status st;
	uint64_t nonce = 0;
	int64_t id = 0;
	bool post = strcmp(req->method, "POST") == 0;

	/* HEAD too: a link checker's HEAD must not confirm anything. */
	if (!post && strcmp(req->method, "GET") != 0) {
		httpd_header(res, "Allow", confirm ? "GET" : "GET, POST");
		page(res, 405, "Method not allowed", "Open the link from the message.", NULL, s->sp);
		return;
	}
	if (confirm && post) {
		httpd_header(res, "Allow", "GET");
		page(res, 405, "Method not allowed", "Open the link from the message.", NULL, s->sp);
		return;
	}
	if (field_value(req->query, strlen(req->query), "token", token, sizeof(token)) < 0 &&
	    (!post || field_value(req->body, req->body_len, "token", token, sizeof(token)) < 0)) {
		page(res, 400, "Link not valid", "This link is not complete: open the whole link "
		    "from the message.", NULL, s->sp);
		return;
	}
	tr = subtoken_check(confirm ? SUBTOKEN_CONFIRM : SUBTOKEN_UNSUBSCRIBE, s->conf->secret,
	    strlen(s->conf->secret), token, clock_wall_ms() / 1000, &id, &nonce);
	if (tr == SUBTOKEN_EXPIRED) {
		page(res, 410, "Link expired", "This confirmation link has expired. Subscribe again "
		    "on the status page.", NULL, s->sp);
		return;
	}
	if (tr != SUBTOKEN_OK) {
		page(res, 400, "Link not valid", "This link is not valid.", NULL, s->sp);
		return;
	}
	if (!confirm && !post) {
		/* Mail scanners open links: unsubscribing takes a click (or RFC 8058's
		 * one-click POST), so a scanner's GET changes nothing. */
		page(res, 200, "Unsubscribe", "Stop receiving the status updates of this page?",
		    token, s->sp);
		return;
	}
	pthread_mutex_lock(s->dblock);
	st = confirm ? ilog_sub_confirm(s->log, id, nonce, NULL, err, sizeof(err)) :
		       ilog_sub_unsubscribe(s->log, id, nonce, err, sizeof(err));
	pthread_mutex_unlock(s->dblock);
	if (st == ILOG_ERR_NOT_FOUND || st == ILOG_ERR_STATE)
		page(res, 400, "Link not valid", "This link is no longer valid.", NULL, s->sp);
	else if (st != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "subscribers: a link failed: %s", err);
		page(res, 500, "Not done", "Something went wrong here. Try again later.", NULL,
		    s->sp);
	} else if (confirm)
		page(res, 200, "Subscribed", "Your subscription is confirmed: you will receive the "
		    "updates you asked for. Every message has a link to stop them.", NULL, s->sp);
	else
		page(res, 200, "Unsubscribed", "You will receive no more updates from this page.",
		    NULL, s->sp);
}

bool
subs_handle(struct subs *s, const struct httpd_request *req, struct httpd_response *res,
    bool *queued)
{
	if (s == NULL || s->conf == NULL || !s->conf->on)
		return false;
	if (strcmp(req->path, "/subscribe") == 0)
		on_subscribe(s, req, res, queued);
	else if (strcmp(req->path, "/confirm") == 0)
		on_link(s, req, res, true);
	else if (strcmp(req->path, "/unsubscribe") == 0)
		on_link(s, req, res, false);
	else
		return false;
	return true;
}

int
subs_fanout(struct subs *s, int64_t event_id, uint64_t mask, const char *payload,
    size_t *queued, char *err, size_t errlen)
{
	char (*names)[ILOG_SINK_MAX + 1] = s->fanout_names;
	const char *sinks[SUBS_FANOUT_PAGE];
	struct ilog_subscribers list = { 0 };
	struct textbuf item = { 0 };
	size_t i, n, created, full;
	int64_t after = 0;
	int rc = 0;

	*queued = 0;
	if (s->conf == NULL || !s->conf->on)
		return 0;
	textbuf_printf(&item, "{\"type\":\"update\",\"payload\":%s}", payload);
	if (textbuf_failed(&item)) {
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	/* A page of subscribers, one transaction: a large list holds the log (and the
	 * page's server, which waits for it) for one batch at a time. */
	do {
		ilog_subscribers_release(&list);
		if (ilog_sub_list_confirmed(s->log, after, SUBS_FANOUT_PAGE, &list, err, errlen) !=
		    ILOG_OK) {
			rc = -1;
			break;
		}
		for (i = n = 0; i < list.n; i++) {
			after = list.v[i].id;
			/* Subscribers of everything hear of what touches no component too. */
			if (list.v[i].components[0] != '\0' &&
			    !(subs_components_mask(s->sp, list.v[i].components) & mask))
				continue;
			snprintf(names[n], sizeof(names[n]), ILOG_SUB_SINK_PREFIX "%lld",
			    (long long)list.v[i].id);
			sinks[n] = names[n];
			n++;
		}
		if (n > 0 && ilog_outbox_enqueue_batch(s->log, sinks, n, event_id, item.data,
		    &created, &full, err, errlen) != ILOG_OK) {
			rc = -1;
			break;
		}
		if (n > 0) {
			*queued += created;
			if (full > 0)
				LOG_LIMITED(LOG_LEVEL_WARN, "subscribers: %zu queues full (%d messages "
				    "waiting), event %lld not queued for them", full, ILOG_OUTBOX_MAX,
				    (long long)event_id);
		}
	} while (list.truncated);
	ilog_subscribers_release(&list);
	textbuf_release(&item);
	return rc;
}
