/*
 * xmpp — see xmpp.h.
 *
 * One xmpp_conn_t per connection attempt: libstrophe keeps handlers and state in the
 * connection, and a fresh one per attempt leaves nothing of the previous session
 * behind. A connection is never released inside its own callback (libstrophe is still
 * using it); the callback marks it and xclient_run() releases it.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <strophe.h>

#include "clock.h"
#include "log.h"
#include "utf8.h"
#include "xmpp.h"

#define NS_PING "urn:xmpp:ping"
#define NS_RECEIPTS "urn:xmpp:receipts"
#define NS_MARKERS "urn:xmpp:chat-markers:0"
#define NS_ROSTER "jabber:iq:roster"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define ID_MAX 64

struct contact {
	char jid[JID_MAX + 1];
	enum xclient_presence presence;
	char resources[XCLIENT_RESOURCES_MAX][XCLIENT_RESOURCE_MAX + 1];
	size_t nresources;
	bool wanted;        /* in the list the daemon set */
	bool subscribed;    /* the roster says we see its presence (to/both) or asked */
};

struct room {
	char jid[JID_MAX + 1];
	enum xclient_room state;
};

struct xclient {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	bool release_conn;        /* conn is finished: release it in xclient_run() */
	xmpp_log_t logger;
	struct xclient_events ev;

	char jid[JID_MAX + 1];
	char full_jid[JID_FULL_MAX + 1];
	char domain[JID_MAX + 1];
	char password[512];
	char nick[XCLIENT_RESOURCE_MAX + 1];
	char host[256];
	uint16_t port;
	bool tls, tls_insecure;
	bool debug;
	char tls_ca[1024];
	int64_t reconnect_min_ms, reconnect_max_ms, ping_interval_ms, ping_timeout_ms;

	enum xclient_state state;
	int64_t state_since;      /* monotonic ms */
	int64_t down_since;       /* monotonic ms; valid unless online */
	int64_t next_attempt;     /* monotonic ms */
	unsigned attempts;        /* failed attempts (and short sessions) since the
	                             last session that lasted */
	uint64_t sessions;
	uint64_t rng;

	int64_t last_ping;        /* monotonic ms of the last ping sent */
	bool ping_outstanding;
	unsigned ping_seq;
	char last_error[128];

	struct contact *contacts; /* XCLIENT_CONTACTS_MAX */
	size_t ncontacts;
	struct room rooms[XCLIENT_ROOMS_MAX];
	size_t nrooms;
};

static uint64_t
next_random(struct xclient *c)
{
	/* xorshift64*: jitter only, seeded from getrandom(). */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 2685821657736338717ULL;
}

static void
set_state(struct xclient *c, enum xclient_state s)
{
	if (c->state == XCLIENT_ONLINE && s != XCLIENT_ONLINE)
		c->down_since = clock_monotonic_ms();
	c->state = s;
	c->state_since = clock_monotonic_ms();
}

int64_t
xclient_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempts, uint64_t random)
{
	int64_t d = min_ms;
	unsigned i;

	for (i = 1; i < attempts && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d / 2 + (int64_t)(random % (uint64_t)(d / 2 + 1));
}

static void
schedule_reconnect(struct xclient *c)
{
	c->next_attempt = clock_monotonic_ms() + xclient_backoff_ms(c->reconnect_min_ms,
	    c->reconnect_max_ms, c->attempts, next_random(c));
}

int
xclient_log_redact(const char *msg, const char *password, char *out, size_t len)
{
	static const char *const secret_elements[] = { "<auth", "<response" };
	const char *p, *open = NULL, *gt;
	size_t i, n;

	if (len == 0)
		return 0;
	if (len > XCLIENT_LOG_LINE_MAX)
		len = XCLIENT_LOG_LINE_MAX;
	/* Legacy authentication (XEP-0078) carries the password in the clear. */
	if (strstr(msg, "jabber:iq:auth") != NULL &&
	    (strstr(msg, "<password") != NULL || strstr(msg, "<digest") != NULL)) {
		snprintf(out, len, "[a jabber:iq:auth stanza, withheld: it carries credentials]");
		return 1;
	}
	/* SASL: the element's attributes stay (they name the mechanism), its data goes. */
	if (strstr(msg, "xmpp-sasl") != NULL) {
		for (i = 0; i < sizeof(secret_elements) / sizeof(secret_elements[0]); i++) {
			n = strlen(secret_elements[i]);
			for (p = strstr(msg, secret_elements[i]); p != NULL;
			     p = strstr(p + n, secret_elements[i]))
				if (p[n] == ' ' || p[n] == '>' || p[n] == '/')
					break;
			if (p != NULL && (open == NULL || p < open))
				open = p;
		}
	}
	if (open != NULL) {
		gt = strchr(open, '>');
		n = gt != NULL ? (size_t)(gt - msg) + 1 : (size_t)(open - msg);
		/* What is kept of the line must not carry the password either (another
		 * stanza before the element may). */
		if (password != NULL && password[0] != '\0' &&
		    memmem(msg, n, password, strlen(password)) != NULL)
			goto out_withhold;
		snprintf(out, len, "%.*s[redacted]", (int)(n < len ? n : len - 1), msg);
		return 1;
	}
	/* Whatever else carries the password is not printed either. */
	if (password != NULL && password[0] != '\0' && strstr(msg, password) != NULL)
		goto out_withhold;
	snprintf(out, len, "%s", msg);
	return 0;
out_withhold:
	snprintf(out, len, "[a line that carries the password, withheld]");
	return 1;
}

/* libstrophe's own words: its warnings and errors (a certificate that fails
 * verification, a TLS handshake refused) are the only place some causes show. With -d,
 * its debug lines too, which include every stanza sent and received: what carries
 * credentials is redacted first (xclient_log_redact). */
static void
strophe_log(void *arg, xmpp_log_level_t level, const char *area, const char *msg)
{
	const struct xclient *c = arg;
	char safe[XCLIENT_LOG_LINE_MAX];

	if (level < XMPP_LEVEL_WARN && !c->debug)
		return;
	xclient_log_redact(msg, c->password, safe, sizeof(safe));
	if (level >= XMPP_LEVEL_WARN)
		LOG_LIMITED(LOG_LEVEL_WARN, "xmpp %s: %s", area, safe);
	else
		log_debug("xmpp %s: %s", area, safe);
}

/* --- contacts and rooms ------------------------------------------------------------ */

static struct contact *
find_contact(const struct xclient *c, const char *bare)
{
	size_t i;

	for (i = 0; i < c->ncontacts; i++)
		if (jid_equal(c->contacts[i].jid, bare))
			return &c->contacts[i];
	return NULL;
}

static struct contact *
add_contact(struct xclient *c, const char *bare)
{
	struct contact *k = find_contact(c, bare);

	if (k != NULL)
		return k;
	if (c->ncontacts == XCLIENT_CONTACTS_MAX || !jid_bare_valid(bare))
		return NULL;
	k = &c->contacts[c->ncontacts++];
	memset(k, 0, sizeof(*k));
	snprintf(k->jid, sizeof(k->jid), "%s", bare);
	return k;
}

static struct room *
find_room(struct xclient *c, const char *bare)
{
	size_t i;

	for (i = 0; i < c->nrooms; i++)
		if (jid_equal(c->rooms[i].jid, bare))
			return &c->rooms[i];
	return NULL;
}

static void
set_room_state(struct xclient *c, struct room *r, enum xclient_room st, const char *why)
{
	if (r->state == st)
		return;
	r->state = st;
	if (c->ev.room_state != NULL)
		c->ev.room_state(c->ev.arg, r->jid, st, why);
}

static void
set_presence(struct xclient *c, struct contact *k, enum xclient_presence p)
{
	if (k->presence == p)
		return;
	k->presence = p;
	if (c->ev.presence != NULL)
		c->ev.presence(c->ev.arg, k->jid, p);
}

void
xclient_set_contacts(struct xclient *c, const char *const *jids, size_t n)
{
	struct contact *k;
	size_t i;

	for (i = 0; i < c->ncontacts; i++)
		c->contacts[i].wanted = false;
	for (i = 0; i < n; i++) {
		if ((k = add_contact(c, jids[i])) == NULL)
			continue;
		k->wanted = true;
		if (c->state == XCLIENT_ONLINE && !k->subscribed) {
			/* Online already: ask now rather than at the next roster read. */
			xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
			xmpp_stanza_set_type(p, "subscribe");
			xmpp_stanza_set_to(p, k->jid);
			xmpp_send(c->conn, p);
			xmpp_stanza_release(p);
			k->subscribed = true;
		}
	}
}

static void
join_room(struct xclient *c, struct room *r)
{
	xmpp_stanza_t *p, *x, *history;
	char to[JID_FULL_MAX + 1];

	snprintf(to, sizeof(to), "%s/%s", r->jid, c->nick);
	p = xmpp_presence_new(c->ctx);
	xmpp_stanza_set_to(p, to);
	x = xmpp_stanza_new(c->ctx);
	xmpp_stanza_set_name(x, "x");
	xmpp_stanza_set_ns(x, NS_MUC);
	history = xmpp_stanza_new(c->ctx);
	xmpp_stanza_set_name(history, "history");
	xmpp_stanza_set_attribute(history, "maxstanzas", "0");
	xmpp_stanza_add_child(x, history);
	xmpp_stanza_release(history);
	xmpp_stanza_add_child(p, x);
	xmpp_stanza_release(x);
	xmpp_send(c->conn, p);
	xmpp_stanza_release(p);
	set_room_state(c, r, XROOM_JOINING, NULL);
}

void
xclient_set_rooms(struct xclient *c, const char *const *rooms, size_t n)
{
	struct room old[XCLIENT_ROOMS_MAX], *r;
	size_t nold = c->nrooms, i, j;

	memcpy(old, c->rooms, sizeof(old));
	c->nrooms = 0;
	for (i = 0; i < n && c->nrooms < XCLIENT_ROOMS_MAX; i++) {
		if (!jid_bare_valid(rooms[i]))
			continue;
		r = &c->rooms[c->nrooms++];
		memset(r, 0, sizeof(*r));
		snprintf(r->jid, sizeof(r->jid), "%s", rooms[i]);
		for (j = 0; j < nold; j++)
			if (jid_equal(old[j].jid, r->jid))
				r->state = old[j].state;
		if (c->state == XCLIENT_ONLINE && r->state == XROOM_NONE)
			join_room(c, r);
	}
}

/* --- stanzas in ---------------------------------------------------------------------- */

static void
send_receipt(struct xclient *c, const char *to, const char *id)
{
	xmpp_stanza_t *m = xmpp_message_new(c->ctx, NULL, to, NULL);
	xmpp_stanza_t *r = xmpp_stanza_new(c->ctx);
	char *uuid = xmpp_uuid_gen(c->ctx);

	if (uuid != NULL) {
		xmpp_stanza_set_id(m, uuid);
		xmpp_free(c->ctx, uuid);
	}
	xmpp_stanza_set_name(r, "received");
	xmpp_stanza_set_ns(r, NS_RECEIPTS);
	xmpp_stanza_set_attribute(r, "id", id);
	xmpp_stanza_add_child(m, r);
	xmpp_stanza_release(r);
	xmpp_send(c->conn, m);
	xmpp_stanza_release(m);
}

/* The condition of an error stanza: the name of <error>'s first element child. */
static const char *
error_condition(xmpp_stanza_t *stanza)
{
	xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(stanza, "error"), *k;
	const char *name;

	for (k = e != NULL ? xmpp_stanza_get_children(e) : NULL; k != NULL;
	     k = xmpp_stanza_get_next(k)) {
		if (xmpp_stanza_is_tag(k) && (name = xmpp_stanza_get_name(k)) != NULL &&
		    strcmp(name, "text") != 0)
			return name;
	}
	return "undefined-condition";
}

static int
on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *arg)
{
	struct xclient *c = arg;
	const char *type = xmpp_stanza_get_type(stanza);
	const char *from = xmpp_stanza_get_from(stanza);
	const char *id = xmpp_stanza_get_id(stanza);
	xmpp_stanza_t *k, *body;
	char bare[JID_MAX + 1];
	const char *name, *ns, *ref;
	char *text;

	(void)conn;
	if (from == NULL)
		return 1;
	if (type != NULL && strcmp(type, "error") == 0) {
		if (id != NULL && c->ev.bounce != NULL)
			c->ev.bounce(c->ev.arg, from, id, error_condition(stanza));
		return 1;
	}
	for (k = xmpp_stanza_get_children(stanza); k != NULL; k = xmpp_stanza_get_next(k)) {
		if (!xmpp_stanza_is_tag(k) || (name = xmpp_stanza_get_name(k)) == NULL ||
		    (ns = xmpp_stanza_get_ns(k)) == NULL ||
		    (ref = xmpp_stanza_get_attribute(k, "id")) == NULL)
			continue;
		if ((strcmp(ns, NS_RECEIPTS) == 0 || strcmp(ns, NS_MARKERS) == 0) &&
		    strcmp(name, "received") == 0) {
			if (c->ev.receipt != NULL)
				c->ev.receipt(c->ev.arg, from, ref);
		} else if (strcmp(ns, NS_MARKERS) == 0 &&
		    (strcmp(name, "displayed") == 0 || strcmp(name, "acknowledged") == 0)) {
			if (c->ev.displayed != NULL)
				c->ev.displayed(c->ev.arg, from, ref);
		}
	}
	if (jid_bare(from, bare, sizeof(bare)) != 0)
		return 1;
	if (type != NULL && strcmp(type, "groupchat") == 0) {
		/* Our own message reflected by the room: the room has distributed it. */
		if (id != NULL && find_room(c, bare) != NULL &&
		    strcmp(jid_resource(from), c->nick) == 0 && c->ev.room_echo != NULL)
			c->ev.room_echo(c->ev.arg, bare, id);
		return 1;
	}
	if (find_room(c, bare) != NULL)
		return 1; /* private messages through a room have no real JID: not commands */
	if ((body = xmpp_stanza_get_child_by_name(stanza, "body")) == NULL)
		return 1;
	if (id != NULL && xmpp_stanza_get_child_by_name_and_ns(stanza, "request", NS_RECEIPTS))
		send_receipt(c, from, id);
	if (jid_equal(bare, c->jid))
		return 1;
	if ((text = xmpp_stanza_get_text(body)) == NULL)
		return 1;
	if (strlen(text) <= XCLIENT_BODY_MAX && c->ev.chat != NULL)
		c->ev.chat(c->ev.arg, from, text);
	xmpp_free(c->ctx, text);
	return 1;
}

static void
contact_presence(struct xclient *c, const char *from, const char *type)
{
	char bare[JID_MAX + 1], res[XCLIENT_RESOURCE_MAX + 1];
	struct contact *k;
	size_t i;

	if (jid_bare(from, bare, sizeof(bare)) != 0)
		return;
	snprintf(res, sizeof(res), "%s", jid_resource(from));
	if (type != NULL && strcmp(type, "subscribe") == 0) {
		/* Only the people the pager pages may see its presence. */
		if ((k = find_contact(c, bare)) != NULL && k->wanted) {
			xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
			xmpp_stanza_set_type(p, "subscribed");
			xmpp_stanza_set_to(p, bare);
			xmpp_send(c->conn, p);
			xmpp_stanza_release(p);
		}
		return;
	}
	if (type != NULL && strcmp(type, "unavailable") != 0)
		return; /* subscribed, unsubscribe(d), probe, error */
	if ((k = find_contact(c, bare)) == NULL && (k = add_contact(c, bare)) == NULL)
		return;
	for (i = 0; i < k->nresources; i++)
		if (strcmp(k->resources[i], res) == 0)
			break;
	if (type == NULL) {
		if (i == k->nresources && k->nresources < XCLIENT_RESOURCES_MAX)
			snprintf(k->resources[k->nresources++], sizeof(k->resources[0]), "%s", res);
		set_presence(c, k, XPRESENCE_AVAILABLE);
		return;
	}
	if (i < k->nresources) {
		memmove(&k->resources[i], &k->resources[i + 1],
		    (k->nresources - i - 1) * sizeof(k->resources[0]));
		k->nresources--;
	}
	/* An unavailable presence for the bare JID (a probe's answer) clears them all. */
	if (res[0] == '\0')
		k->nresources = 0;
	if (k->nresources == 0)
		set_presence(c, k, XPRESENCE_UNAVAILABLE);
}

static int
on_presence(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *arg)
{
	struct xclient *c = arg;
	const char *from = xmpp_stanza_get_from(stanza);
	const char *type = xmpp_stanza_get_type(stanza);
	char bare[JID_MAX + 1];
	struct room *r;

	(void)conn;
	if (from == NULL || jid_bare(from, bare, sizeof(bare)) != 0)
		return 1;
	if ((r = find_room(c, bare)) != NULL) {
		bool self = strcmp(jid_resource(from), c->nick) == 0;

		if (type != NULL && strcmp(type, "error") == 0)
			set_room_state(c, r, XROOM_FAILED, error_condition(stanza));
		else if (self && type == NULL)
			set_room_state(c, r, XROOM_JOINED, NULL);
		else if (self && strcmp(type, "unavailable") == 0)
			set_room_state(c, r, XROOM_FAILED, "left the room");
		return 1;
	}
	if (jid_equal(bare, c->jid))
		return 1; /* our own other resources */
	contact_presence(c, from, type);
	return 1;
}

/* Answers an iq nobody here serves, as RFC 6120 asks: service-unavailable. */
static void
send_iq_unavailable(struct xclient *c, xmpp_stanza_t *iq)
{
	xmpp_stanza_t *reply = xmpp_stanza_reply_error(iq, "cancel", "service-unavailable", NULL);

	if (reply == NULL)
		return;
	xmpp_send(c->conn, reply);
	xmpp_stanza_release(reply);
}

static int
on_iq(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *arg)
{
	struct xclient *c = arg;
	const char *type = xmpp_stanza_get_type(stanza);
	xmpp_stanza_t *result;

	(void)conn;
	if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
		return 1;
	if ((strcmp(type, "get") == 0 &&
		xmpp_stanza_get_child_by_name_and_ns(stanza, "ping", NS_PING) != NULL) ||
	    (strcmp(type, "set") == 0 &&
		xmpp_stanza_get_child_by_name_and_ns(stanza, "query", NS_ROSTER) != NULL)) {
		/* A ping, or a roster push: an empty result. */
		result = xmpp_iq_new(c->ctx, "result", xmpp_stanza_get_id(stanza));
		if (xmpp_stanza_get_from(stanza) != NULL)
			xmpp_stanza_set_to(result, xmpp_stanza_get_from(stanza));
		xmpp_send(c->conn, result);
		xmpp_stanza_release(result);
		return 1;
	}
	send_iq_unavailable(c, stanza);
	return 1;
}

static int
on_ping_result(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *arg)
{
	struct xclient *c = arg;

	(void)conn;
	(void)stanza;
	/* A result or an error: either way the server answered. */
	c->ping_outstanding = false;
	return 0;
}

static int
on_roster(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *arg)
{
	struct xclient *c = arg;
	xmpp_stanza_t *query = xmpp_stanza_get_child_by_name(stanza, "query"), *item;
	const char *jid, *sub, *ask;
	struct contact *k;
	size_t i;

	(void)conn;
	for (item = query != NULL ? xmpp_stanza_get_children(query) : NULL; item != NULL;
	     item = xmpp_stanza_get_next(item)) {
		if (!xmpp_stanza_is_tag(item) || (jid = xmpp_stanza_get_attribute(item, "jid")) == NULL)
			continue;
		if ((k = find_contact(c, jid)) == NULL)
			continue;
		sub = xmpp_stanza_get_attribute(item, "subscription");
		ask = xmpp_stanza_get_attribute(item, "ask");
		k->subscribed = (sub != NULL && (strcmp(sub, "to") == 0 || strcmp(sub, "both") == 0)) ||
				(ask != NULL && strcmp(ask, "subscribe") == 0);
	}
	for (i = 0; i < c->ncontacts; i++) {
		k = &c->contacts[i];
		if (k->wanted && !k->subscribed) {
			xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
			xmpp_stanza_set_type(p, "subscribe");
			xmpp_stanza_set_to(p, k->jid);
			xmpp_send(c->conn, p);
			xmpp_stanza_release(p);
			k->subscribed = true;
		}
	}
	return 0;
}

/* --- the connection ------------------------------------------------------------------- */

static void
session_start(struct xclient *c)
{
	xmpp_stanza_t *iq, *query, *p;
	size_t i;

	iq = xmpp_iq_new(c->ctx, "get", "roster-1");
	query = xmpp_stanza_new(c->ctx);
	xmpp_stanza_set_name(query, "query");
	xmpp_stanza_set_ns(query, NS_ROSTER);
	xmpp_stanza_add_child(iq, query);
	xmpp_stanza_release(query);
	xmpp_id_handler_add(c->conn, on_roster, "roster-1", c);
	xmpp_send(c->conn, iq);
	xmpp_stanza_release(iq);
	/* Available, so that presence probes are answered and chats reach us. */
	p = xmpp_presence_new(c->ctx);
	xmpp_send(c->conn, p);
	xmpp_stanza_release(p);
	for (i = 0; i < c->nrooms; i++) {
		c->rooms[i].state = XROOM_NONE;
		join_room(c, &c->rooms[i]);
	}
}

static void
forget_presence(struct xclient *c)
{
	size_t i;

	for (i = 0; i < c->ncontacts; i++) {
		c->contacts[i].nresources = 0;
		c->contacts[i].subscribed = false;
		set_presence(c, &c->contacts[i], XPRESENCE_UNKNOWN);
	}
	for (i = 0; i < c->nrooms; i++)
		set_room_state(c, &c->rooms[i], XROOM_NONE, "offline");
}

static void
on_conn(xmpp_conn_t *conn, xmpp_conn_event_t status, int error,
    xmpp_stream_error_t *stream_error, void *arg)
{
	struct xclient *c = arg;

	(void)conn;
	if (status == XMPP_CONN_CONNECT) {
		/* attempts is not reset here: only a session that lasts does (below). */
		set_state(c, XCLIENT_ONLINE);
		c->sessions++;
		c->ping_outstanding = false;
		c->last_ping = clock_monotonic_ms();
		c->last_error[0] = '\0';
		session_start(c);
		if (c->ev.online != NULL)
			c->ev.online(c->ev.arg);
		return;
	}
	if (status == XMPP_CONN_RAW_CONNECT)
		return;
	if (stream_error != NULL)
		snprintf(c->last_error, sizeof(c->last_error), "stream error %d%s%s",
		    (int)stream_error->type, stream_error->text != NULL ? ": " : "",
		    stream_error->text != NULL ? stream_error->text : "");
	else if (error != 0)
		snprintf(c->last_error, sizeof(c->last_error), "%s", strerror(error));
	else if (c->last_error[0] == '\0')
		snprintf(c->last_error, sizeof(c->last_error),
		    c->state == XCLIENT_ONLINE ? "the server closed the session" :
						 "refused (server down, or wrong account or password)");
	{
		bool was_online = c->state == XCLIENT_ONLINE;

		if (was_online &&
		    clock_monotonic_ms() - c->state_since >= XCLIENT_SESSION_STABLE_MS)
			c->attempts = 0;
		c->attempts++;
		set_state(c, XCLIENT_DOWN);
		c->release_conn = true;
		forget_presence(c);
		schedule_reconnect(c);
		if (was_online && c->ev.offline != NULL)
			c->ev.offline(c->ev.arg, c->last_error);
		if (!was_online)
			LOG_LIMITED(LOG_LEVEL_WARN, "cannot reach the chat server: %s (attempt %u; "
			    "retrying with backoff)", c->last_error, c->attempts);
	}
}

static void
connect_now(struct xclient *c)
{
	long flags = XMPP_CONN_FLAG_DISABLE_SM;

	if ((c->conn = xmpp_conn_new(c->ctx)) == NULL) {
		c->attempts++;
		schedule_reconnect(c);
		return;
	}
	if (!c->tls)
		flags |= XMPP_CONN_FLAG_DISABLE_TLS;
	else
		flags |= XMPP_CONN_FLAG_MANDATORY_TLS | (c->tls_insecure ? XMPP_CONN_FLAG_TRUST_TLS : 0);
	xmpp_conn_set_flags(c->conn, flags);
	xmpp_conn_set_jid(c->conn, c->full_jid);
	xmpp_conn_set_pass(c->conn, c->password);
	if (c->tls && c->tls_ca[0] != '\0')
		xmpp_conn_set_cafile(c->conn, c->tls_ca);
	xmpp_conn_set_sockopt_callback(c->conn, xmpp_sockopt_cb_keepalive);
	xmpp_handler_add(c->conn, on_message, NULL, "message", NULL, c);
	xmpp_handler_add(c->conn, on_presence, NULL, "presence", NULL, c);
	xmpp_handler_add(c->conn, on_iq, NULL, "iq", NULL, c);
	set_state(c, XCLIENT_CONNECTING);
	if (xmpp_connect_client(c->conn, c->host[0] != '\0' ? c->host : NULL, c->port, on_conn,
	    c) != 0) {
		snprintf(c->last_error, sizeof(c->last_error), "cannot start connecting");
		c->attempts++;
		set_state(c, XCLIENT_DOWN);
		xmpp_conn_release(c->conn);
		c->conn = NULL;
		schedule_reconnect(c);
	}
}

static void
keepalive(struct xclient *c, int64_t now)
{
	xmpp_stanza_t *iq, *ping;
	char id[ID_MAX];

	if (c->ping_outstanding) {
		if (now - c->last_ping >= c->ping_timeout_ms) {
			snprintf(c->last_error, sizeof(c->last_error),
			    "no answer to a ping within %lld ms", (long long)c->ping_timeout_ms);
			xmpp_disconnect(c->conn);
		}
		return;
	}
	if (now - c->last_ping < c->ping_interval_ms)
		return;
	snprintf(id, sizeof(id), "mcalert-ping-%u", ++c->ping_seq);
	iq = xmpp_iq_new(c->ctx, "get", id);
	xmpp_stanza_set_to(iq, c->domain);
	ping = xmpp_stanza_new(c->ctx);
	xmpp_stanza_set_name(ping, "ping");
	xmpp_stanza_set_ns(ping, NS_PING);
	xmpp_stanza_add_child(iq, ping);
	xmpp_stanza_release(ping);
	xmpp_id_handler_add(c->conn, on_ping_result, id, c);
	xmpp_send(c->conn, iq);
	xmpp_stanza_release(iq);
	c->ping_outstanding = true;
	c->last_ping = now;
}

void
xclient_run(struct xclient *c, int timeout_ms)
{
	int64_t now = clock_monotonic_ms();

	if (c->release_conn && c->conn != NULL) {
		xmpp_conn_release(c->conn);
		c->conn = NULL;
	}
	c->release_conn = false;
	if (c->state == XCLIENT_DOWN && c->conn == NULL && now >= c->next_attempt)
		connect_now(c);
	if (c->state == XCLIENT_CONNECTING && now - c->state_since > XCLIENT_CONNECT_TIMEOUT_MS) {
		snprintf(c->last_error, sizeof(c->last_error), "no session within %d ms",
		    XCLIENT_CONNECT_TIMEOUT_MS);
		xmpp_disconnect(c->conn);
	}
	if (c->state == XCLIENT_ONLINE)
		keepalive(c, now);
	if (c->conn != NULL && !c->release_conn)
		xmpp_run_once(c->ctx, (unsigned long)(timeout_ms > 0 ? timeout_ms : 1));
	else
		poll(NULL, 0, timeout_ms);
}

struct xclient *
xclient_new(const struct xclient_options *opt, const struct xclient_events *events, char *err,
    size_t errlen)
{
	struct xclient *c = calloc(1, sizeof(*c));
	const char *at;

	if (c == NULL || (c->contacts = calloc(XCLIENT_CONTACTS_MAX, sizeof(*c->contacts))) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!jid_bare_valid(opt->jid) || (at = strchr(opt->jid, '@')) == NULL) {
		snprintf(err, errlen, "'%s' is not a JID", opt->jid);
		goto fail;
	}
	snprintf(c->jid, sizeof(c->jid), "%s", opt->jid);
	snprintf(c->domain, sizeof(c->domain), "%s", at + 1);
	snprintf(c->full_jid, sizeof(c->full_jid), "%s/%s", opt->jid, opt->resource);
	if (strlen(opt->password) >= sizeof(c->password)) {
		snprintf(err, errlen, "the password is too long");
		goto fail;
	}
	snprintf(c->password, sizeof(c->password), "%s", opt->password);
	snprintf(c->nick, sizeof(c->nick), "%s", opt->nick);
	snprintf(c->host, sizeof(c->host), "%s", opt->host != NULL ? opt->host : "");
	c->port = opt->port;
	c->tls = opt->tls;
	c->tls_insecure = opt->tls_insecure;
	c->debug = opt->debug;
	snprintf(c->tls_ca, sizeof(c->tls_ca), "%s", opt->tls_ca != NULL ? opt->tls_ca : "");
	c->reconnect_min_ms = opt->reconnect_min_ms > 0 ? opt->reconnect_min_ms : 1000;
	c->reconnect_max_ms = opt->reconnect_max_ms >= c->reconnect_min_ms ?
				      opt->reconnect_max_ms : c->reconnect_min_ms;
	c->ping_interval_ms = opt->ping_interval_ms > 0 ? opt->ping_interval_ms : 60000;
	c->ping_timeout_ms = opt->ping_timeout_ms > 0 ? opt->ping_timeout_ms : 20000;
	c->ev = *events;
	if (getrandom(&c->rng, sizeof(c->rng), 0) != (ssize_t)sizeof(c->rng) || c->rng == 0)
		c->rng = (uint64_t)clock_monotonic_ms() | 1;
	xmpp_initialize();
	c->logger.handler = strophe_log;
	c->logger.userdata = c;
	if ((c->ctx = xmpp_ctx_new(NULL, &c->logger)) == NULL) {
		snprintf(err, errlen, "cannot create the XMPP context");
		xmpp_shutdown();
		goto fail;
	}
	c->state = XCLIENT_DOWN;
	c->state_since = c->down_since = clock_monotonic_ms();
	c->next_attempt = 0;
	return c;
fail:
	free(c->contacts);
	free(c);
	return NULL;
}

void
xclient_free(struct xclient *c)
{
	if (c == NULL)
		return;
	if (c->conn != NULL) {
		if (c->state == XCLIENT_ONLINE) {
			/* Offline presence first, so that rooms and contacts see us leave. */
			xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
			int i;
			xmpp_stanza_set_type(p, "unavailable");
			xmpp_send(c->conn, p);
			xmpp_stanza_release(p);
			xmpp_disconnect(c->conn);
			for (i = 0; i < 20 && c->state != XCLIENT_DOWN; i++)
				xmpp_run_once(c->ctx, 50);
		}
		xmpp_conn_release(c->conn);
	}
	xmpp_ctx_free(c->ctx);
	xmpp_shutdown();
	memset(c->password, 0, sizeof(c->password));
	free(c->contacts);
	free(c);
}

enum xclient_state
xclient_state(const struct xclient *c)
{
	return c->state;
}

int64_t
xclient_down_ms(const struct xclient *c)
{
	return c->state == XCLIENT_ONLINE ? 0 : clock_monotonic_ms() - c->down_since;
}

uint64_t
xclient_session(const struct xclient *c)
{
	return c->sessions;
}

enum xclient_presence
xclient_presence_of(const struct xclient *c, const char *bare)
{
	const struct contact *k = find_contact(c, bare);

	return k != NULL ? k->presence : XPRESENCE_UNKNOWN;
}

enum xclient_room
xclient_room_state(const struct xclient *c, const char *room)
{
	size_t i;

	for (i = 0; i < c->nrooms; i++)
		if (jid_equal(c->rooms[i].jid, room))
			return c->rooms[i].state;
	return XROOM_NONE;
}

/*
 * The UTF-8 sequence at s: its length, or 0 if it is not one. *ok says whether XML
 * may carry the character (not C0 controls but tab and line ends, not U+FFFE/FFFF).
 */
static size_t
utf8_char(const unsigned char *s, bool *ok)
{
	uint32_t cp;
	size_t n = utf8_decode(s, &cp);

	*ok = n > 0 && (cp >= 0x20 || cp == '\t' || cp == '\n' || cp == '\r') &&
	    cp != 0xfffe && cp != 0xffff;
	return n;
}

size_t
xclient_text_clean(const char *in, char *out, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)in;
	size_t used = 0, n, step;
	bool ok;

	if (len == 0)
		return 0;
	while (*p != '\0') {
		const char *from = (const char *)p;

		n = step = utf8_char(p, &ok);
		if (step == 0)
			step = 1; /* one bad byte at a time: what follows may be good */
		if (!ok) {
			from = replacement;
			n = sizeof(replacement) - 1;
		}
		if (used + n >= len)
			break;
		memcpy(out + used, from, n);
		used += n;
		p += step;
	}
	out[used] = '\0';
	return used;
}

int
xclient_send(struct xclient *c, const char *to, bool groupchat, const char *id,
    const char *body, bool want_receipt)
{
	xmpp_stanza_t *m, *k;
	size_t cap;
	char *text;

	if (c->state != XCLIENT_ONLINE || c->conn == NULL)
		return -1;
	/* Each bad byte may become three: U+FFFD. */
	cap = strlen(body) * 3 + 1;
	if ((text = malloc(cap)) == NULL)
		return -1;
	xclient_text_clean(body, text, cap);
	m = xmpp_message_new(c->ctx, groupchat ? "groupchat" : "chat", to, id);
	if (m == NULL) {
		free(text);
		return -1;
	}
	xmpp_message_set_body(m, text);
	free(text);
	if (want_receipt) {
		k = xmpp_stanza_new(c->ctx);
		xmpp_stanza_set_name(k, "request");
		xmpp_stanza_set_ns(k, NS_RECEIPTS);
		xmpp_stanza_add_child(m, k);
		xmpp_stanza_release(k);
		k = xmpp_stanza_new(c->ctx);
		xmpp_stanza_set_name(k, "markable");
		xmpp_stanza_set_ns(k, NS_MARKERS);
		xmpp_stanza_add_child(m, k);
		xmpp_stanza_release(k);
	}
	xmpp_send(c->conn, m);
	xmpp_stanza_release(m);
	return 0;
}

void
xclient_disconnect(struct xclient *c)
{
	if (c->conn != NULL && c->state != XCLIENT_DOWN)
		xmpp_disconnect(c->conn);
}
