/*
 * alerter_session — mcalert's XMPP session (see alerter_int.h): what the chat client
 * reports (on-line, off-line, presence, rooms, receipts, displayed markers, bounces,
 * room echoes, chat messages), the notices that wait for a session, the test pages,
 * and who the client follows.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerter_int.h"
#include "chat.h"
#include "escalation.h"
#include "log.h"

/* --- notices, replies, test pages -------------------------------------------------- */

static void
send_text(struct alerter *a, const char *to, bool room, const char *text)
{
	char id[ALERTER_ID_MAX];

	snprintf(id, sizeof(id), "mcalert-n%" PRIu64, ++a->msg_seq);
	if (xclient_send(a->xc, to, room, id, text, false) != 0)
		LOG_LIMITED(LOG_LEVEL_WARN, "a message to %s was not sent: offline", to);
}

static void
queue_notice(struct alerter *a, const char *to, const char *body)
{
	struct notice *n;

	if (xclient_state(a->xc) == XCLIENT_ONLINE) {
		bool room = strncmp(to, ESC_ROOM_PREFIX, strlen(ESC_ROOM_PREFIX)) == 0;
		if (room && xclient_room_state(a->xc, to + strlen(ESC_ROOM_PREFIX)) != XROOM_JOINED)
			goto queue;
		send_text(a, room ? to + strlen(ESC_ROOM_PREFIX) : to, room, body);
		return;
	}
queue:
	if (a->nnotices == ALERTER_NOTICES_MAX) {
		LOG_LIMITED(LOG_LEVEL_WARN, "more than %d notices wait for the chat server; "
		    "the oldest are dropped", ALERTER_NOTICES_MAX);
		memmove(&a->notices[0], &a->notices[1], (ALERTER_NOTICES_MAX - 1) * sizeof(a->notices[0]));
		a->nnotices--;
	}
	n = &a->notices[a->nnotices++];
	snprintf(n->to, sizeof(n->to), "%s", to);
	snprintf(n->body, sizeof(n->body), "%s", body);
}

void
flush_notices(struct alerter *a)
{
	size_t i, kept = 0;

	if (xclient_state(a->xc) != XCLIENT_ONLINE)
		return;
	for (i = 0; i < a->nnotices; i++) {
		struct notice *n = &a->notices[i];
		bool room = strncmp(n->to, ESC_ROOM_PREFIX, strlen(ESC_ROOM_PREFIX)) == 0;
		const char *to = room ? n->to + strlen(ESC_ROOM_PREFIX) : n->to;

		if (room && xclient_room_state(a->xc, to) == XROOM_JOINING) {
			a->notices[kept++] = *n;
			continue;
		}
		if (!room || xclient_room_state(a->xc, to) == XROOM_JOINED)
			send_text(a, to, room, n->body);
	}
	a->nnotices = kept;
}

/* "#42 acknowledged by ..." to everyone paged for the incident but the actor. */
void
notify(struct alerter *a, const struct ilog_event *ev, const char *verb)
{
	struct ilog_incident inc;
	struct ilog_pages pages = { 0 };
	char err[ILOG_ERR_LEN], body[MESSAGE_MAX];
	const char *who = message_who(ev->actor);
	size_t i, j;

	if (ilog_incident_get(a->log, ev->incident_id, &inc, err, sizeof(err)) != ILOG_OK ||
	    ilog_page_list(a->log, ev->incident_id, &pages, err, sizeof(err)) != ILOG_OK) {
		ilog_pages_release(&pages);
		return;
	}
	message_notice(inc.id, verb, ev->actor, inc.title, body, sizeof(body));
	for (i = 0; i < pages.n; i++) {
		const struct ilog_page *p = &pages.v[i];

		if (jid_equal(p->target, who) || p->failed_at != 0)
			continue;
		for (j = 0; j < i; j++)
			if (jid_equal(pages.v[j].target, p->target) && pages.v[j].failed_at == 0)
				break;
		if (j < i)
			continue; /* once per target */
		/* A page held by maintenance never reached anyone: no notice either. */
		if (p->delivered_at == 0 && sent_find(a, p->id) == NULL &&
		    strncmp(p->target, ESC_ROOM_PREFIX, strlen(ESC_ROOM_PREFIX)) != 0)
			continue;
		queue_notice(a, p->target, body);
	}
	ilog_pages_release(&pages);
}

static void
record_test(struct alerter *a, const struct test_page *t, const char *type, const char *detail)
{
	json_t *j = json_pack("{s:I, s:s}", "request", (json_int_t)t->request, "target", t->target);
	char *text;

	if (j != NULL && detail != NULL)
		json_object_set_new(j, "detail", json_string(detail));
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text == NULL)
		return;
	append_event(a, 0, type, text);
	free(text);
}

static struct test_page *
find_test(struct alerter *a, int64_t request)
{
	size_t i;

	for (i = 0; i < a->ntests; i++)
		if (a->tests[i].request == request)
			return &a->tests[i];
	return NULL;
}

void
queue_test(struct alerter *a, const struct ilog_event *ev)
{
	json_t *body = body_of(ev), *target = json_object_get(body, "target");
	struct test_page t;

	memset(&t, 0, sizeof(t));
	t.request = ev->id;
	t.requested_at = ev->at;
	snprintf(t.actor, sizeof(t.actor), "%s", ev->actor);
	if (!json_is_string(target) || !jid_bare_valid(json_string_value(target))) {
		json_decref(body);
		record_test(a, &t, ALERTER_EV_TEST_FAILED, "the request names no JID");
		return;
	}
	snprintf(t.target, sizeof(t.target), "%s", json_string_value(target));
	json_decref(body);
	if (find_test(a, t.request) != NULL)
		return;
	if (a->ntests == ALERTER_TESTS_MAX) {
		record_test(a, &t, ALERTER_EV_TEST_FAILED, "too many test pages at once");
		return;
	}
	a->tests[a->ntests++] = t;
}

void
run_tests(struct alerter *a, int64_t now)
{
	char body[MESSAGE_MAX], id[ALERTER_ID_MAX];
	uint64_t session = alerter_session(a);
	size_t i, kept = 0;

	for (i = 0; i < a->ntests; i++) {
		struct test_page *t = &a->tests[i];

		if (!t->done && now - t->requested_at > ALERTER_TEST_MAX_AGE_MS) {
			record_test(a, t, ALERTER_EV_TEST_FAILED, t->sent_session == 0 ?
			    "the chat server was unreachable" : "no delivery receipt");
			t->done = true;
		}
		if (t->done)
			continue;
		if (t->sent_session != session && xclient_state(a->xc) == XCLIENT_ONLINE) {
			message_test_page(t->request, t->actor, body, sizeof(body));
			snprintf(id, sizeof(id), "mcalert-t%" PRId64 "-s%" PRIu64, t->request, session);
			if (xclient_send(a->xc, t->target, false, id, body, true) == 0) {
				if (t->sent_session == 0)
					record_test(a, t, ALERTER_EV_TEST_SENT, NULL);
				t->sent_session = session;
				log_info("test page %" PRId64 " sent to %s", t->request, t->target);
			}
		}
		a->tests[kept++] = *t;
	}
	a->ntests = kept;
}

/* --- XMPP events ------------------------------------------------------------------- */

static void
on_online(void *arg)
{
	struct alerter *a = arg;

	log_info("connected to the chat server as %s (session %" PRIu64 ")", a->set->jid,
	    alerter_session(a));
	a->fallback_armed = false;
	a->settle_until = ilog_now(a->log) + ALERTER_SETTLE_MS;
	mark_all_dirty(a);
}

static void
on_offline(void *arg, const char *why)
{
	struct alerter *a = arg;

	log_warn("lost the chat server: %s; reconnecting", why);
	(void)a;
}

/* True if the sender's bare JID is the target ("a@b" or "room:r@c") it answers for. */
static bool
is_target(const char *target, const char *bare)
{
	size_t plen = strlen(ESC_ROOM_PREFIX);

	if (strncmp(target, ESC_ROOM_PREFIX, plen) == 0)
		return jid_equal(target + plen, bare);
	return jid_equal(target, bare);
}

/*
 * Whether page (of incident, from the message id; 0: unknown) was sent to bare: a
 * receipt, a marker or a bounce counts only from the page's target, so that nobody
 * else, guessing an id, can mark a page delivered or make the escalation skip a step.
 * *incident is set to the page's incident.
 */
static bool
page_answered_by(struct alerter *a, int64_t page, int64_t *incident, const char *bare)
{
	struct ilog_pages pages = { 0 };
	char err[ILOG_ERR_LEN];
	struct sent *s;
	bool yes = false;
	size_t i;

	if (*incident == 0 && (s = sent_find(a, page)) != NULL)
		*incident = s->incident_id;
	if (*incident == 0)
		return false;
	if (ilog_page_list(a->log, *incident, &pages, err, sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_WARN, "cannot check who answers page %" PRId64 ": %s", page,
		    err);
		return false;
	}
	for (i = 0; i < pages.n; i++)
		if (pages.v[i].id == page)
			yes = is_target(pages.v[i].target, bare);
	ilog_pages_release(&pages);
	return yes;
}

static void
mark_page(struct alerter *a, const char *id, enum ilog_page_mark mark, const char *from,
    const char *detail)
{
	char actor[ILOG_ACTOR_MAX + 1], bare[JID_MAX + 1], err[ILOG_ERR_LEN];
	int64_t page = id_number(id, 'p'), request = id_number(id, 't');
	int64_t incident = id_part(id, 'i');
	struct test_page *t;
	bool queued;

	if (jid_bare(from, bare, sizeof(bare)) != 0)
		return; /* no JID of a person or a room: not an answer to anything of ours */
	if (page > 0) {
		if (!page_answered_by(a, page, &incident, bare)) {
			LOG_LIMITED(LOG_LEVEL_WARN, "ignored a %s for page %" PRId64 " from %s: not "
			    "its target", mark == ILOG_PAGE_FAILED ? "bounce" : "receipt", page, bare);
			return;
		}
		if (alerter_actor(bare, actor, sizeof(actor)) != 0)
			snprintf(actor, sizeof(actor), "%s", ALERTER_ACTOR);
		if (mark_page_as(a, incident, page, mark, actor, detail, &queued, err, sizeof(err)) !=
		    ILOG_OK && !queued)
			LOG_LIMITED(LOG_LEVEL_WARN, "cannot mark page %" PRId64 ": %s", page, err);
		alerter_mark_dirty(a, incident);
		if (mark == ILOG_PAGE_FAILED)
			log_info("page %" PRId64 " to %s failed: %s", page, from, detail);
		return;
	}
	if (request > 0 && (t = find_test(a, request)) != NULL && !t->done &&
	    mark != ILOG_PAGE_DISPLAYED && jid_equal(t->target, bare)) {
		record_test(a, t, mark == ILOG_PAGE_DELIVERED ? ALERTER_EV_TEST_DELIVERED :
		    ALERTER_EV_TEST_FAILED, detail);
		t->done = true;
		log_info("test page %" PRId64 " to %s %s", request, t->target,
		    mark == ILOG_PAGE_DELIVERED ? "delivered" : "failed");
	}
}

static void
on_receipt(void *arg, const char *from, const char *id)
{
	mark_page(arg, id, ILOG_PAGE_DELIVERED, from, NULL);
}

static void
on_displayed(void *arg, const char *from, const char *id)
{
	mark_page(arg, id, ILOG_PAGE_DISPLAYED, from, NULL);
}

static void
on_bounce(void *arg, const char *from, const char *id, const char *condition)
{
	char detail[128];

	snprintf(detail, sizeof(detail), "bounced: %s", condition);
	mark_page(arg, id, ILOG_PAGE_FAILED, from, detail);
}

static void
on_room_echo(void *arg, const char *room, const char *id)
{
	char from[JID_MAX + 1];

	snprintf(from, sizeof(from), "%s", room);
	mark_page(arg, id, ILOG_PAGE_DELIVERED, from, NULL);
}

static void
on_presence(void *arg, const char *bare, enum xclient_presence p)
{
	struct alerter *a = arg;

	log_debug("presence of %s: %s", bare, p == XPRESENCE_AVAILABLE ? "available" :
	    p == XPRESENCE_UNAVAILABLE ? "unavailable" : "unknown");
	if (p != XPRESENCE_UNKNOWN)
		mark_all_dirty(a);
}

static void
on_room_state(void *arg, const char *room, enum xclient_room st, const char *why)
{
	struct alerter *a = arg;

	if (st == XROOM_JOINED)
		log_info("joined room %s", room);
	else if (st == XROOM_FAILED)
		log_warn("room %s: %s", room, why != NULL ? why : "failed");
	if (st == XROOM_JOINED || st == XROOM_FAILED)
		mark_all_dirty(a);
}

/* --- setup --------------------------------------------------------------------------- */

/* Everyone whose presence matters and the rooms to be in. */
void
update_contacts(struct alerter *a)
{
	const char *contacts[XCLIENT_CONTACTS_MAX], *rooms[XCLIENT_ROOMS_MAX];
	const struct alerter_settings *s = a->set;
	size_t nc = 0, nr = 0, i, j;

#define ADD_CONTACT(j_)                                             \
	do {                                                        \
		if (nc < XCLIENT_CONTACTS_MAX)                      \
			contacts[nc++] = (j_);                      \
	} while (0)
	for (i = 0; i < s->rotations.n; i++)
		for (j = 0; j < s->rotations.v[i].nmembers; j++)
			ADD_CONTACT(s->rotations.v[i].members[j]);
	for (i = 0; i < s->nauthorized; i++)
		ADD_CONTACT(s->authorized[i]);
	for (i = 0; i < a->ov.n; i++)
		ADD_CONTACT(a->ov.v[i].jid);
	for (i = 0; i <= s->policy.nsteps; i++) {
		const struct esc_target *t = i < s->policy.nsteps ? &s->policy.steps[i].target :
				       s->policy.has_final ? &s->policy.final : NULL;
		if (t == NULL)
			continue;
		if (t->kind == ESC_TARGET_JID)
			ADD_CONTACT(t->name);
		else if (t->kind == ESC_TARGET_ROOM && nr < XCLIENT_ROOMS_MAX)
			rooms[nr++] = t->name;
	}
#undef ADD_CONTACT
	xclient_set_contacts(a->xc, contacts, nc);
	xclient_set_rooms(a->xc, rooms, nr);
}

static void
on_chat(void *arg, const char *from, const char *body)
{
	struct alerter *a = arg;

	chat_message(a->chat, from, body);
}

struct xclient *
make_client(struct alerter *a, char *err, size_t errlen)
{
	const struct alerter_settings *s = a->set;
	struct xclient_options o = { s->jid, s->password, s->resource, s->nick, s->server_host,
		s->server_port, s->tls, s->tls_insecure, s->tls_ca, s->reconnect_min_ms,
		s->reconnect_max_ms, s->ping_interval_ms, s->ping_timeout_ms, a->debug };
	struct xclient_events ev = { a, on_online, on_offline, on_receipt, on_displayed,
		on_bounce, on_room_echo, on_chat, on_presence, on_room_state };

	return xclient_new(&o, &ev, err, errlen);
}
