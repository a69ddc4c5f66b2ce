/*
 * message — see message.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "message.h"
#include "utctime.h"

/* An append-only text in a caller's buffer; cut (at a character boundary) when full. */
struct text {
	char *buf;
	size_t len;  /* of buf, > 0 */
	size_t used;
	bool cut;
};

/* Length of s[0..n) without a trailing incomplete UTF-8 sequence. */
static size_t
utf8_complete(const char *s, size_t n)
{
	size_t k = n, need;
	unsigned char lead;

	while (k > 0 && n - k < 4 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
		k--;
	if (k == 0)
		return n;
	lead = (unsigned char)s[k - 1];
	if (lead < 0x80)
		return n;
	need = (lead & 0xe0) == 0xc0 ? 2 : (lead & 0xf0) == 0xe0 ? 3 : (lead & 0xf8) == 0xf0 ? 4 : 1;
	return (k - 1) + need > n ? k - 1 : n;
}

static void __attribute__((format(printf, 2, 3)))
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->buf[t->used] = '\0';
		return;
	}
	if ((size_t)n >= t->len - t->used) {
		t->used = utf8_complete(t->buf, t->len - 1);
		t->buf[t->used] = '\0';
		t->cut = true;
		return;
	}
	t->used += (size_t)n;
}

void
message_duration(int64_t ms, char *buf, size_t len)
{
	struct text t = { buf, len, 0, false };
	int64_t d, h, m, s;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		text_add(&t, "%lldms", (long long)ms);
		return;
	}
	s = ms / 1000;
	d = s / 86400;
	h = s / 3600 % 24;
	m = s / 60 % 60;
	s %= 60;
	if (d > 0)
		text_add(&t, "%lldd", (long long)d);
	if (h > 0)
		text_add(&t, "%lldh", (long long)h);
	if (m > 0 && d == 0)
		text_add(&t, "%lldm", (long long)m);
	if (s > 0 && d == 0 && h == 0)
		text_add(&t, "%llds", (long long)s);
}

const char *
message_who(const char *actor)
{
	return strncmp(actor, "xmpp:", 5) == 0 ? actor + 5 : actor;
}

static void
upper(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)toupper((unsigned char)s[i]);
	buf[i] = '\0';
}

static void
add_reason(struct text *t, const struct page_text *p)
{
	char d[MESSAGE_DURATION_MAX];

	switch (p->reason) {
	case ESC_REASON_OPENED:
		text_add(t, "new incident");
		break;
	case ESC_REASON_REOPENED:
		text_add(t, "the incident was reopened");
		break;
	case ESC_REASON_SEVERITY:
		text_add(t, "its severity rose to %s", ilog_severity_name(p->incident->severity));
		break;
	case ESC_REASON_TIMEOUT:
		message_duration(p->prev_wait_ms, d, sizeof(d));
		text_add(t, "the previous page was not acknowledged within %s", d);
		break;
	case ESC_REASON_FAILED:
		text_add(t, "the page to %s failed (%s)",
		    p->prev_target != NULL && p->prev_target[0] != '\0' ? p->prev_target : "?",
		    p->prev_detail != NULL && p->prev_detail[0] != '\0' ? p->prev_detail : "?");
		break;
	case ESC_REASON_ACK_TIMEOUT:
		message_duration(p->ack_age_ms, d, sizeof(d));
		text_add(t, "acknowledged by %s %s ago and still open",
		    message_who(p->incident->acked_by[0] != '\0' ? p->incident->acked_by : "?"), d);
		break;
	case ESC_REASON_MAINTENANCE_OVER:
		text_add(t, "held during a maintenance window, which is over");
		break;
	}
}

void
message_page(const struct page_text *p, char *buf, size_t len)
{
	const struct ilog_incident *inc = p->incident;
	struct text t = { buf, len, 0, false };
	char sev[16], when[UTC_TEXT_MAX], d[MESSAGE_DURATION_MAX];

	if (len == 0)
		return;
	buf[0] = '\0';
	upper(ilog_severity_name(inc->severity), sev, sizeof(sev));
	text_add(&t, "[mcops] #%lld %s: %s\n", (long long)inc->id, sev, inc->title);
	if (inc->cluster[0] != '\0')
		text_add(&t, "Cluster %s%s%s, ", inc->cluster, inc->node[0] != '\0' ? ", node " : "",
		    inc->node);
	utc_format(inc->opened_at, when, sizeof(when));
	text_add(&t, "kind %s, opened %s\n", inc->kind, when);
	if (p->finding != NULL && p->finding[0] != '\0')
		text_add(&t, "Finding: %s\n", p->finding);
	if (p->remedy != NULL && p->remedy[0] != '\0')
		text_add(&t, "Remedy: %s\n", p->remedy);
	if (p->evidence != NULL && p->evidence[0] != '\0')
		text_add(&t, "Evidence: %s\n", p->evidence);
	if (p->nsuggestions > 0 && p->ack_to != NULL)
		text_add(&t, "Remedies (send \"run K %lld\" to %s, then \"yes\"):\n",
		    (long long)inc->id, p->ack_to);
	else if (p->nsuggestions > 0)
		text_add(&t, "Remedies (reply \"run K\", then \"yes\"):\n");
	for (size_t i = 0; i < p->nsuggestions; i++)
		text_add(&t, "%d: %s\n", p->suggestions[i].number, p->suggestions[i].sentence);
	text_add(&t, "Runbook: %s%s.md\n", p->runbook_base, inc->kind);
	if (p->step == 0)
		text_add(&t, "Final step: ");
	else
		text_add(&t, "Step %d of %zu, round %d of %d: ", p->step, p->nsteps, p->round,
		    p->rounds);
	add_reason(&t, p);
	text_add(&t, "\n");
	if (p->late_ms > 0) {
		message_duration(p->late_ms, d, sizeof(d));
		text_add(&t, "LATE by %s: the chat server was unreachable\n", d);
	}
	if (p->ack_to != NULL)
		text_add(&t, "Send \"ack %lld\" to %s to acknowledge, \"resolve %lld\" when it is "
			     "over.", (long long)inc->id, p->ack_to, (long long)inc->id);
	else
		text_add(&t, "Reply \"ack %lld\" to acknowledge, \"resolve %lld\" when it is over, "
			     "\"help\" for more.", (long long)inc->id, (long long)inc->id);
}

void
message_notice(int64_t incident_id, const char *verb, const char *who, const char *title,
    char *buf, size_t len)
{
	struct text t = { buf, len, 0, false };

	if (len == 0)
		return;
	buf[0] = '\0';
	text_add(&t, "[mcops] #%lld %s by %s: %s", (long long)incident_id, verb, message_who(who),
	    title);
}

void
message_test_page(int64_t request_id, const char *actor, char *buf, size_t len)
{
	struct text t = { buf, len, 0, false };

	if (len == 0)
		return;
	buf[0] = '\0';
	text_add(&t, "[mcops] Test page (request %lld by %s). No action is needed: this checks "
		     "that pages reach you. Reply \"help\" to see the commands.",
	    (long long)request_id, message_who(actor));
}

/* One member as "prefix.key=value" into t; nested objects one level deep. */
static void
add_member(struct text *t, bool *first, const char *prefix, const char *key,
    const json_t *v, int depth)
{
	const char *k;
	json_t *sub;

	if (json_is_object(v)) {
		char name[128];
		if (depth > 0)
			return;
		int n = snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "",
		    key);
		/* A long name is cut, but not inside a character (a message is UTF-8). */
		if (n >= (int)sizeof(name))
			name[utf8_complete(name, sizeof(name) - 1)] = '\0';
		json_object_foreach((json_t *)v, k, sub)
			add_member(t, first, name, k, sub, depth + 1);
		return;
	}
	text_add(t, "%s%s%s%s=", *first ? "" : ", ", prefix, prefix[0] != '\0' ? "." : "", key);
	*first = false;
	if (json_is_string(v))
		text_add(t, "%s", json_string_value(v));
	else if (json_is_integer(v))
		text_add(t, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		text_add(t, "%.4g", json_real_value(v));
	else if (json_is_boolean(v))
		text_add(t, "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_array(v))
		text_add(t, "[%zu items]", json_array_size(v));
	else
		text_add(t, "null");
}

/* The evidence's sentences for people, shown on lines of their own. */
static const char *const sentences[] = { "finding", "remedy" };

static bool
is_sentence(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(sentences) / sizeof(sentences[0]); i++)
		if (strcmp(key, sentences[i]) == 0)
			return true;
	return false;
}

/* Control characters in a value must not break the page's lines. */
static void
flatten_controls(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

/* The evidence of an event body: its "evidence" member, or the body itself; borrowed
 * from *body, which the caller releases. NULL (and *body NULL) if it is not an object. */
static json_t *
evidence_of(const char *body_json, json_t **body)
{
	json_t *ev;

	*body = body_json != NULL ? json_loads(body_json, 0, NULL) : NULL;
	if (!json_is_object(*body)) {
		json_decref(*body);
		*body = NULL;
		return NULL;
	}
	ev = json_object_get(*body, "evidence");
	return json_is_object(ev) ? ev : *body;
}

void
message_sentence(const char *body_json, const char *key, char *buf, size_t len)
{
	json_t *body, *ev, *v;

	if (len == 0)
		return;
	buf[0] = '\0';
	if ((ev = evidence_of(body_json, &body)) == NULL)
		return;
	v = json_object_get(ev, key);
	if (json_is_string(v)) {
		struct text t = { buf, len, 0, false };
		text_add(&t, "%s", json_string_value(v));
		flatten_controls(buf);
	}
	json_decref(body);
}

void
message_evidence(const char *body_json, char *buf, size_t len)
{
	char tmp[MESSAGE_EVIDENCE_MAX + 1];
	struct text t = { tmp, sizeof(tmp), 0, false };
	json_t *body, *ev;
	const char *k;
	json_t *v;
	bool first = true;

	if (len == 0)
		return;
	buf[0] = '\0';
	tmp[0] = '\0';
	if ((ev = evidence_of(body_json, &body)) == NULL)
		return;
	json_object_foreach(ev, k, v)
		if (!is_sentence(k))
			add_member(&t, &first, "", k, v, 0);
	json_decref(body);
	flatten_controls(tmp);
	if (t.cut) {
		size_t keep = utf8_complete(tmp, t.used < sizeof(tmp) - 4 ? t.used : sizeof(tmp) - 4);
		snprintf(buf, len, "%.*s...", (int)keep, tmp);
	} else {
		snprintf(buf, len, "%s", tmp);
	}
}
