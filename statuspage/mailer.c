/*
 * mailer — see mailer.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "mailer.h"
#include "mailmsg.h"
#include "sink.h"
#include "subtoken.h"
#include "waker.h"

#define LINK_MAX (SP_URL_MAX + SUBTOKEN_MAX + 32)
#define WHAT_MAX 2048 /* "US-East C1, US-West C2" in a confirmation */
#define MAILER_ANSWER_MAX (16u << 10) /* a webhook's answer, read and dropped */

struct mailer {
	struct ilog *log;
	pthread_mutex_t *dblock;
	struct subs_conf conf;
	struct sp_config *sp;     /* owned copy */
	pthread_t thread;
	bool started;
	struct waker waker;       /* stop, and mailer_notify's wake-ups */
	CURL *curl;
	int64_t last_send_ms;
	char from_domain[SUBS_EMAIL_MAX + 1];
	/* the attempt at hand */
	struct textbuf msg, subject, body, answer;
	size_t sent;              /* bytes of msg read by libcurl */
};

enum mailer_outcome
mailer_smtp_outcome(int curl_code, long reply)
{
	if (curl_code == CURLE_OK)
		return MAILER_SENT;
	/* 5xx: the relay will never take this message for this recipient. Anything else
	 * (4xx, no reply: refused, reset, timeout, TLS) may pass later. */
	if (reply >= 500 && reply <= 599)
		return MAILER_PERMANENT;
	return MAILER_TEMPORARY;
}

static bool
stopping(struct mailer *m)
{
	return waker_stopping(&m->waker);
}

static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mailer *m = arg;
	size_t n = size * nitems, left = m->msg.len - m->sent;

	if (n > left)
		n = left;
	memcpy(buf, m->msg.data + m->sent, n);
	m->sent += n;
	return n;
}

static size_t
on_answer(char *data, size_t size, size_t nmemb, void *arg)
{
	struct mailer *m = arg;
	size_t n = size * nmemb;

	if (m->answer.len + n <= MAILER_ANSWER_MAX)
		textbuf_add(&m->answer, data, n);
	return n;
}

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return stopping(arg) ? 1 : 0;
}

/* The common options of one attempt on the reused handle. */
static void
curl_reset(struct mailer *m)
{
	curl_easy_reset(m->curl);
	curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m->curl, CURLOPT_TIMEOUT_MS, (long)m->conf.timeout_ms);
	curl_easy_setopt(m->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)m->conf.timeout_ms);
	curl_easy_setopt(m->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(m->curl, CURLOPT_XFERINFODATA, m);
	curl_easy_setopt(m->curl, CURLOPT_NOPROGRESS, 0L);
}

static enum mailer_outcome
send_mail(struct mailer *m, const char *to, char *why, size_t whylen)
{
	struct curl_slist *rcpt = NULL;
	char from[SUBS_EMAIL_MAX + 3], rcpt_text[ILOG_SUB_ADDRESS_MAX + 3];
	enum mailer_outcome o;
	long reply = 0;
	CURLcode rc;

	snprintf(from, sizeof(from), "<%s>", m->conf.from);
	snprintf(rcpt_text, sizeof(rcpt_text), "<%s>", to);
	if ((rcpt = curl_slist_append(NULL, rcpt_text)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return MAILER_TEMPORARY;
	}
	curl_reset(m);
	curl_easy_setopt(m->curl, CURLOPT_URL, m->conf.smtp_url);
	curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* STARTTLS when the relay offers it (smtps:// is TLS from the start). */
	curl_easy_setopt(m->curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(m->curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(m->curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(m->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(m->curl, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(m->curl, CURLOPT_READDATA, m);
	curl_easy_setopt(m->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->msg.len);
	if (m->conf.ca_file[0] != '\0')
		curl_easy_setopt(m->curl, CURLOPT_CAINFO, m->conf.ca_file);
	if (m->conf.user[0] != '\0') {
		curl_easy_setopt(m->curl, CURLOPT_USERNAME, m->conf.user);
		curl_easy_setopt(m->curl, CURLOPT_PASSWORD, m->conf.password);
	}
	m->sent = 0;
	rc = curl_easy_perform(m->curl);
	curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &reply);
	curl_easy_setopt(m->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(rcpt);
	o = mailer_smtp_outcome((int)rc, reply);
	if (o != MAILER_SENT)
		snprintf(why, whylen, "%s (reply %ld)", curl_easy_strerror(rc), reply);
	return o;
}

static enum mailer_outcome
send_webhook(struct mailer *m, const char *url, const char *json, char *why, size_t whylen)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	enum sink_verdict v;
	int64_t retry_ms = 0;
	long status = 0;
	CURLcode rc;

	if (h == NULL) {
		snprintf(why, whylen, "out of memory");
		return MAILER_TEMPORARY;
	}
	curl_reset(m);
	curl_easy_setopt(m->curl, CURLOPT_URL, url);
	curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(m->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(m->curl, CURLOPT_USERAGENT, "mcops-mcstatus/1");
	curl_easy_setopt(m->curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(m->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(m->curl, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(m->curl, CURLOPT_WRITEDATA, m);
	textbuf_reset(&m->answer);
	rc = curl_easy_perform(m->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(m->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	v = sink_judge(status, NULL, NULL, clock_wall_ms(), &retry_ms, why, whylen);
	if (rc != CURLE_OK)
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
	return v == SINK_DONE ? MAILER_SENT : v == SINK_GIVE_UP ? MAILER_PERMANENT :
								     MAILER_TEMPORARY;
}

/* The components of a subscription in words: "US-East C1, US-West C2". */
static void
components_text(const struct sp_config *sp, const char *ids, char *out, size_t len)
{
	uint64_t mask = subs_components_mask(sp, ids);
	size_t i, o = 0;

	out[0] = '\0';
	if (ids[0] == '\0' || mask == 0) {
		snprintf(out, len, "every component");
		return;
	}
	for (i = 0; i < sp->ncomps && o < len; i++)
		if (mask & ((uint64_t)1 << i))
			o += (size_t)snprintf(out + o, len - o, "%s%s", o ? ", " : "",
			    sp->comps[i].name);
}

static void
signed_link(struct mailer *m, const struct ilog_subscriber *sub, bool confirm, int64_t expires_s,
    char *out, size_t len)
{
	char token[SUBTOKEN_MAX];

	subtoken_make(confirm ? SUBTOKEN_CONFIRM : SUBTOKEN_UNSUBSCRIBE, m->conf.secret,
	    strlen(m->conf.secret), sub->id, sub->nonce, confirm ? expires_s : 0, token);
	snprintf(out, len, "%s%s?token=%s", m->sp->link_url, confirm ? "confirm" : "unsubscribe",
	    token);
}

/*
 * Sends item it to sub. *skip: the item is not for sub's state any more (complete it
 * unsent). Returns the outcome, why set when not sent.
 */
static enum mailer_outcome
attempt(struct mailer *m, const struct ilog_outbox_item *it, const struct ilog_subscriber *sub,
    bool *skip, char *why, size_t whylen)
{
	char url[LINK_MAX], what[WHAT_MAX], msgid[64 + SUBS_EMAIL_MAX];
	json_t *doc = json_loads(it->payload_json, 0, NULL), *payload, *out = NULL;
	const char *type = json_string_value(json_object_get(doc, "type"));
	bool confirm = type != NULL && strcmp(type, "confirm") == 0;
	int64_t expires_s = (it->created_at + m->conf.confirm_ms) / 1000;
	enum mailer_outcome o = MAILER_UNSENDABLE;
	char *text = NULL, *json = NULL;

	*skip = false;
	if (doc == NULL || type == NULL) {
		snprintf(why, whylen, "the queued item is not a message");
		goto out;
	}
	if (sub->state != (confirm ? ILOG_SUB_PENDING : ILOG_SUB_CONFIRMED)) {
		*skip = true;
		goto out;
	}
	payload = json_object_get(doc, "payload");
	signed_link(m, sub, confirm, expires_s, url, sizeof(url));
	if (sub->kind == ILOG_SUB_WEBHOOK) {
		if (confirm)
			out = json_pack("{s:s, s:{s:s, s:s}, s:s, s:I}", "type",
			    "subscription.confirm", "page", "name", m->sp->name, "url", m->sp->url,
			    "confirm_url", url, "expires_at", (json_int_t)expires_s);
		else if (json_is_object(payload) && (out = json_deep_copy(payload)) != NULL)
			json_object_set_new(out, "unsubscribe_url", json_string(url));
		if (out == NULL || (json = json_dumps(out, JSON_COMPACT)) == NULL) {
			snprintf(why, whylen, "cannot build the webhook's body");
			goto out;
		}
		o = send_webhook(m, sub->address, json, why, whylen);
		goto out;
	}
	if (confirm) {
		components_text(m->sp, sub->components, what, sizeof(what));
		mailmsg_confirm_text(m->sp->name, what, url,
		    m->conf.confirm_ms / 3600000 > 0 ? m->conf.confirm_ms / 3600000 : 1,
		    &m->subject, &m->body);
	} else if (!json_is_object(payload) || (text = json_dumps(payload, JSON_COMPACT)) == NULL ||
	    mailmsg_update_text(m->sp->name, text, url, &m->subject, &m->body) < 0) {
		snprintf(why, whylen, "the queued update is not a payload");
		goto out;
	}
	/* One Message-ID per queued item: a retry is the same message. */
	snprintf(msgid, sizeof(msgid), "mcops-%lld-%lld@%s", (long long)sub->id,
	    (long long)it->id, m->from_domain);
	if (textbuf_failed(&m->subject) || textbuf_failed(&m->body) ||
	    mailmsg_build(&(const struct mailmsg){ .from_name = m->sp->name,
		.from = m->conf.from, .to = sub->address, .subject = m->subject.data,
		.date_ms = clock_wall_ms(), .message_id = msgid,
		.list_unsubscribe = confirm ? NULL : url, .body = m->body.data }, &m->msg) < 0) {
		snprintf(why, whylen, "cannot build the message");
		goto out;
	}
	o = send_mail(m, sub->address, why, whylen);
out:
	free(text);
	free(json);
	json_decref(out);
	json_decref(doc);
	return o;
}

/* Sends the head of subscriber id's queue if it is due. */
static void
handle(struct mailer *m, int64_t id)
{
	char sink[ILOG_SINK_MAX + 1], err[ILOG_ERR_LEN], why[ILOG_ERR_LEN] = "";
	struct ilog_outbox_item it = { 0 };
	struct ilog_subscriber sub;
	struct ilog_backoff once = { .base_ms = 1000, .max_ms = 1000, .max_attempts = 1 };
	enum mailer_outcome o;
	enum ilog_status st;
	bool skip = false, dropped = false;
	int64_t gap = (int64_t)(1000.0 / m->conf.rate);

	snprintf(sink, sizeof(sink), ILOG_SUB_SINK_PREFIX "%lld", (long long)id);
	if (clock_wall_ms() < m->last_send_ms + gap)
		waker_wait_until(&m->waker, m->last_send_ms + gap, false, 0);
	if (stopping(m))
		return;
	pthread_mutex_lock(m->dblock);
	st = ilog_outbox_claim_head(m->log, sink, m->conf.timeout_ms + MAILER_LEASE_SLACK_MS, &it,
	    NULL, err, sizeof(err));
	if (st == ILOG_OK && (st = ilog_sub_get(m->log, id, &sub, err, sizeof(err))) ==
	    ILOG_ERR_NOT_FOUND)
		sub.state = ILOG_SUB_DROPPED, skip = true, st = ILOG_OK;
	pthread_mutex_unlock(m->dblock);
	if (st != ILOG_OK) {
		if (st != ILOG_ERR_NOT_FOUND)
			LOG_LIMITED(LOG_LEVEL_ERR, "subscribers: reading queue %s: %s", sink, err);
		ilog_outbox_item_release(&it);
		return;
	}
	o = skip ? MAILER_SENT : attempt(m, &it, &sub, &skip, why, sizeof(why));
	if (!skip && o != MAILER_UNSENDABLE)
		m->last_send_ms = clock_wall_ms();
	if (stopping(m) && o != MAILER_SENT) {
		ilog_outbox_item_release(&it); /* abandoned: the lease brings it back */
		return;
	}
	pthread_mutex_lock(m->dblock);
	if (skip || o == MAILER_SENT) {
		st = ilog_outbox_complete(m->log, it.id, err, sizeof(err));
		if (st == ILOG_OK && !skip)
			st = ilog_sub_delivered(m->log, id, err, sizeof(err));
	} else if (o == MAILER_TEMPORARY) {
		st = ilog_outbox_fail(m->log, it.id, why, &m->conf.backoff, 0, NULL, NULL, err,
		    sizeof(err));
	} else {
		st = ilog_outbox_fail(m->log, it.id, why, &once, 0, NULL, NULL, err, sizeof(err));
		if (st == ILOG_OK && o == MAILER_PERMANENT)
			st = ilog_sub_bounced(m->log, id, m->conf.bounce_limit, &dropped, err,
			    sizeof(err));
	}
	pthread_mutex_unlock(m->dblock);
	if (st != ILOG_OK)
		LOG_LIMITED(LOG_LEVEL_ERR, "subscribers: recording a delivery to %lld: %s",
		    (long long)id, err);
	if (o == MAILER_TEMPORARY && !skip)
		LOG_LIMITED(LOG_LEVEL_WARN, "subscribers: a message to subscriber %lld will be "
		    "retried: %s", (long long)id, why);
	else if (o == MAILER_PERMANENT && !skip)
		LOG_LIMITED(LOG_LEVEL_WARN, "subscribers: a message to subscriber %lld failed for "
		    "good: %s", (long long)id, why);
	else if (o == MAILER_UNSENDABLE && !skip)
		LOG_LIMITED(LOG_LEVEL_ERR, "subscribers: a message to subscriber %lld given up: %s",
		    (long long)id, why);
	if (dropped)
		log_info("subscribers: subscriber %lld dropped after %u permanent failures in a row",
		    (long long)id, m->conf.bounce_limit);
	ilog_outbox_item_release(&it);
}

static void *
run(void *arg)
{
	struct mailer *m = arg;
	int64_t ids[MAILER_BATCH];

	while (!stopping(m)) {
		char err[ILOG_ERR_LEN];
		enum ilog_status st;
		unsigned gen;
		size_t n = 0, i;

		gen = waker_generation(&m->waker);
		pthread_mutex_lock(m->dblock);
		st = ilog_sub_due(m->log, MAILER_BATCH, ids, &n, err, sizeof(err));
		pthread_mutex_unlock(m->dblock);
		if (st != ILOG_OK)
			LOG_LIMITED(LOG_LEVEL_ERR, "subscribers: reading the queues: %s", err);
		for (i = 0; i < n && !stopping(m); i++)
			handle(m, ids[i]);
		if (n == 0)
			waker_wait_until(&m->waker, clock_wall_ms() + MAILER_IDLE_POLL_MS, true, gen);
	}
	return NULL;
}

struct mailer *
mailer_start(struct ilog *log, pthread_mutex_t *dblock, const struct subs_conf *conf,
    const struct sp_config *sp, char *err, size_t errlen)
{
	struct mailer *m = calloc(1, sizeof(*m));
	const char *at;

	if (m == NULL || (m->sp = malloc(sizeof(*m->sp))) == NULL) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->log = log;
	m->dblock = dblock;
	m->conf = *conf;
	*m->sp = *sp;
	waker_init(&m->waker);
	if (!conf->on)
		return m;
	at = strrchr(conf->from, '@');
	snprintf(m->from_domain, sizeof(m->from_domain), "%s", at != NULL ? at + 1 : "localhost");
	if ((m->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		mailer_stop(m);
		return NULL;
	}
	if (pthread_create(&m->thread, NULL, run, m) != 0) {
		snprintf(err, errlen, "cannot start the subscribers' thread");
		mailer_stop(m);
		return NULL;
	}
	m->started = true;
	return m;
}

void
mailer_notify(struct mailer *m)
{
	if (m == NULL)
		return;
	waker_notify(&m->waker);
}

void
mailer_stop(struct mailer *m)
{
	if (m == NULL)
		return;
	waker_stop(&m->waker);
	if (m->started)
		pthread_join(m->thread, NULL);
	if (m->curl != NULL)
		curl_easy_cleanup(m->curl);
	textbuf_release(&m->msg);
	textbuf_release(&m->subject);
	textbuf_release(&m->body);
	textbuf_release(&m->answer);
	explicit_bzero(&m->conf, sizeof(m->conf));
	free(m->sp);
	waker_release(&m->waker);
	free(m);
}
