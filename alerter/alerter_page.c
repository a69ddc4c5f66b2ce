/*
 * alerter_page — the pages of mcalert's loop (see alerter_int.h): an incident's
 * snapshot as the log shows it, the escalation's decisions (escalation.h) recorded and
 * sent over XMPP, late pages marked, and the fallback webhook when the chat server
 * stays away.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerter_int.h"
#include "escalation.h"
#include "kinds.h"
#include "log.h"
#include "parse.h"
#include "suggest.h"

/* --- pages handed to XMPP ---------------------------------------------------------- */

struct sent *
sent_find(struct alerter *a, int64_t page_id)
{
	size_t i;

	for (i = 0; i < a->nsent; i++)
		if (a->sent[i].page_id == page_id)
			return &a->sent[i];
	return NULL;
}

static void
sent_add(struct alerter *a, int64_t page_id, int64_t incident_id, uint64_t session)
{
	struct sent *s = sent_find(a, page_id);

	if (s == NULL) {
		s = &a->sent[a->sent_next];
		a->sent_next = (a->sent_next + 1) % ALERTER_SENT_MAX;
		if (a->nsent < ALERTER_SENT_MAX)
			a->nsent++;
	}
	*s = (struct sent){ page_id, incident_id, session };
}

/*
 * Our message ids: "mcalert-p<page>-i<incident>-s<session>" for pages,
 * "mcalert-t<request>-s<session>" for test pages. id_number(id, 'p') is the first
 * part's number if it is of that kind; id_part(id, 'i') the number of a later part.
 * 0 when absent or malformed.
 */
static int64_t
part_number(const char *p, char kind)
{
	size_t len;
	uint64_t v;

	if (*p != kind)
		return 0;
	p++;
	len = strcspn(p, "-");
	if (parse_u64_n(p, len, 1, INT64_MAX, &v) != 0)
		return 0;
	return (int64_t)v;
}

int64_t
id_number(const char *id, char kind)
{
	static const char prefix[] = "mcalert-";

	if (id == NULL || strncmp(id, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	return part_number(id + sizeof(prefix) - 1, kind);
}

int64_t
id_part(const char *id, char kind)
{
	static const char prefix[] = "mcalert-";
	const char *p;

	if (id == NULL || strncmp(id, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	for (p = strchr(id + sizeof(prefix) - 1, '-'); p != NULL; p = strchr(p + 1, '-'))
		if (p[1] == kind)
			return part_number(p + 1, kind);
	return 0;
}

/* --- the snapshot of an incident ---------------------------------------------------- */

void
alerter_snap_release(struct snap *s)
{
	ilog_events_release(&s->tl);
	ilog_pages_release(&s->pages);
}

json_t *
body_of(const struct ilog_event *ev)
{
	return json_loads(ev->body_json != NULL ? ev->body_json : "{}", 0, NULL);
}

static int64_t
body_page_id(json_t *body)
{
	json_t *v = json_object_get(body, "page_id");

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static bool
has_evidence(const struct ilog_event *ev)
{
	json_t *body = body_of(ev);
	bool yes = json_is_object(json_object_get(body, "evidence"));

	json_decref(body);
	return yes;
}

/* Reads the incident, its timeline and pages into s and derives the view. Returns
 * ILOG_OK, ILOG_ERR_NOT_FOUND, or another failure with err set. */
enum ilog_status
alerter_snap_load(struct alerter *a, int64_t id, struct snap *s, char *err, size_t errlen)
{
	enum ilog_status st;
	int64_t last_event = 0;
	size_t i;

	memset(s, 0, sizeof(*s));
	if ((st = ilog_incident_get(a->log, id, &s->inc, err, errlen)) != ILOG_OK ||
	    (st = ilog_timeline(a->log, id, &s->tl, err, errlen)) != ILOG_OK ||
	    (st = ilog_page_list(a->log, id, &s->pages, err, errlen)) != ILOG_OK)
		return st;
	s->view.state = s->inc.state;
	s->view.severity = s->inc.severity;
	s->view.advisory = !kinds_pages(s->inc.kind);
	snprintf(s->view.cluster, sizeof(s->view.cluster), "%s", s->inc.cluster);
	if (s->pages.n > 0) {
		s->last = &s->pages.v[s->pages.n - 1];
		s->prev = s->pages.n > 1 ? &s->pages.v[s->pages.n - 2] : NULL;
	}
	for (i = 0; i < s->tl.n; i++) {
		const struct ilog_event *ev = &s->tl.v[i];
		json_t *body;

		if (strcmp(ev->type, ILOG_EV_OPENED) == 0 || strcmp(ev->type, ILOG_EV_REOPENED) == 0 ||
		    strcmp(ev->type, ILOG_EV_SEVERITY) == 0) {
			s->view.trigger_event = ev->id;
			s->view.trigger = ev->type[0] == 'o' ? ESC_TRIGGER_OPENED :
					  ev->type[0] == 'r' ? ESC_TRIGGER_REOPENED :
							       ESC_TRIGGER_SEVERITY;
			if (ev->type[0] == 'r')
				s->view.ack_event = 0; /* a reopen clears the acknowledgement */
			/* An opening or a rise carries evidence only in its "evidence" member. */
			if (ev->type[0] != 'r' && has_evidence(ev)) {
				s->evidence_body = ev->body_json;
				s->evidence_event = ev->id;
			}
			continue;
		}
		if (strcmp(ev->type, ILOG_EV_EVIDENCE) == 0) {
			s->evidence_body = ev->body_json;
			s->evidence_event = ev->id;
			continue;
		}
		if (strcmp(ev->type, ILOG_EV_ACKED) == 0 ||
		    strcmp(ev->type, ALERTER_EV_ACK_RENEWED) == 0) {
			s->view.ack_event = ev->id;
			s->view.ack_at = ev->at;
			continue;
		}
		if (s->last == NULL || (strcmp(ev->type, ILOG_EV_PAGED) != 0 &&
		    strcmp(ev->type, ALERTER_EV_LATE) != 0 &&
		    strcmp(ev->type, ALERTER_EV_SENT) != 0 &&
		    strcmp(ev->type, ALERTER_EV_FALLBACK) != 0))
			continue;
		if ((body = body_of(ev)) == NULL)
			continue;
		if (body_page_id(body) == s->last->id) {
			if (strcmp(ev->type, ALERTER_EV_LATE) == 0) {
				s->late_recorded = true;
			} else if (strcmp(ev->type, ALERTER_EV_SENT) == 0) {
				s->sent_recorded = true;
			} else if (strcmp(ev->type, ALERTER_EV_FALLBACK) == 0) {
				s->fallback_done = true;
			} else {
				json_t *v;
				last_event = ev->id;
				s->view.last.suppressed = json_is_true(json_object_get(body, "suppressed"));
				v = json_object_get(body, "reason");
				snprintf(s->reason, sizeof(s->reason), "%s",
				    json_is_string(v) ? json_string_value(v) : "");
				v = json_object_get(body, "round");
				s->round = json_is_integer(v) ? (int)json_integer_value(v) : 0;
			}
		}
		json_decref(body);
	}
	if (s->inc.state != ILOG_STATE_ACKNOWLEDGED) {
		s->view.ack_event = 0;
		s->view.ack_at = 0;
	} else if (s->view.ack_event == 0) {
		/* The acknowledgement fell outside a truncated timeline: it is the newest. */
		s->view.ack_event = INT64_MAX;
		s->view.ack_at = s->inc.acked_at;
	}
	if (s->last != NULL) {
		s->view.has_page = true;
		s->view.last.page_id = s->last->id;
		/* Its "paged" event outside a truncated timeline: after the trigger. */
		s->view.last.event = last_event != 0 ? last_event : s->view.trigger_event + 1;
		s->view.last.position = s->last->step - 1;
		s->view.last.sent_at = s->last->sent_at;
		s->view.last.deadline = s->last->next_deadline;
		s->view.last.failed_at = s->last->failed_at;
		s->view.last.kept_clock = strcmp(s->reason, "severity") == 0 && s->prev != NULL &&
					  s->prev->step == s->last->step;
	}
	return ILOG_OK;
}

/* --- sending pages ------------------------------------------------------------------ */

static enum esc_reason
reason_parse(const char *s)
{
	static const enum esc_reason all[] = { ESC_REASON_OPENED, ESC_REASON_REOPENED,
		ESC_REASON_SEVERITY, ESC_REASON_TIMEOUT, ESC_REASON_FAILED, ESC_REASON_ACK_TIMEOUT,
		ESC_REASON_MAINTENANCE_OVER };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, esc_reason_name(all[i])) == 0)
			return all[i];
	return ESC_REASON_OPENED;
}

/*
 * The incident's numbered remedies for its page: derived from its latest evidence,
 * offered to the log (a new set only when the evidence changed, so a number keeps its
 * meaning between the rounds of one evidence), read back with their numbers. Empty
 * when the log refuses: the page goes out without them rather than not at all.
 */
static void
page_suggestions(struct alerter *a, const struct snap *s, struct ilog_remedies *out)
{
	struct ilog_remedy v[ILOG_REMEDY_MAX];
	char err[ILOG_ERR_LEN];
	bool changed = false;
	size_t n = suggest_derive(&s->inc, s->evidence_body, a->set->suggest_connrate, v,
	    ILOG_REMEDY_MAX);

	memset(out, 0, sizeof(*out));
	if (s->inc.state == ILOG_STATE_RESOLVED || (n == 0 && s->evidence_event == 0))
		return;
	if (ilog_remedy_offer(a->log, s->inc.id, s->evidence_event, v, n, &changed, err,
	    sizeof(err)) != ILOG_OK ||
	    ilog_remedy_list(a->log, s->inc.id, out, err, sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_WARN, "#%" PRId64 ": the page goes without its remedies: %s",
		    s->inc.id, err);
		ilog_remedies_release(out);
	}
	if (changed)
		alerter_mark_wrote(a);
}

static void
page_body(struct alerter *a, const struct snap *s, int64_t now, int64_t late_ms, char *buf,
    size_t len)
{
	struct ilog_remedies sugg;
	const struct esc_policy *p = &a->set->policy;
	char evidence[MESSAGE_EVIDENCE_MAX + 1], finding[MESSAGE_SENTENCE_MAX],
	    remedy[MESSAGE_SENTENCE_MAX];
	struct page_text t;
	int step, round;

	memset(&t, 0, sizeof(t));
	message_evidence(s->evidence_body, evidence, sizeof(evidence));
	message_sentence(s->evidence_body, "finding", finding, sizeof(finding));
	message_sentence(s->evidence_body, "remedy", remedy, sizeof(remedy));
	t.finding = finding;
	t.remedy = remedy;
	esc_position_target(p, s->last->step - 1, &step, &round);
	t.incident = &s->inc;
	t.evidence = evidence;
	t.runbook_base = a->set->runbook_base;
	t.step = step;
	t.round = round;
	t.rounds = (int)p->repeat + 1;
	t.nsteps = p->nsteps;
	t.reason = reason_parse(s->reason);
	t.prev_wait_ms = s->prev != NULL ? esc_position_wait(p, s->prev->step - 1) : 0;
	t.prev_target = s->prev != NULL ? s->prev->target : "";
	t.prev_detail = s->prev != NULL ? s->prev->detail : "";
	t.ack_age_ms = s->view.ack_at > 0 ? now - s->view.ack_at : 0;
	if (t.reason == ESC_REASON_ACK_TIMEOUT && s->inc.acked_at > 0)
		t.ack_age_ms = now - s->inc.acked_at;
	t.late_ms = late_ms;
	/* Rooms carry no commands: say where to send them. */
	if (strncmp(s->last->target, ESC_ROOM_PREFIX, strlen(ESC_ROOM_PREFIX)) == 0)
		t.ack_to = a->set->jid;
	page_suggestions(a, s, &sugg);
	t.suggestions = sugg.v;
	t.nsuggestions = sugg.n;
	message_page(&t, buf, len);
	ilog_remedies_release(&sugg);
}

/* True if the newest page still wants to reach its target. */
static bool
page_pending(const struct snap *s)
{
	const struct ilog_page *p = s->last;

	if (p == NULL || s->view.last.suppressed || p->failed_at != 0 || p->delivered_at != 0 ||
	    s->inc.state == ILOG_STATE_RESOLVED)
		return false;
	/* Acknowledged since it was sent: nobody needs it any more. */
	if (s->inc.state == ILOG_STATE_ACKNOWLEDGED && s->view.ack_event > s->view.last.event)
		return false;
	return true;
}

/* Appends an event of ours now, or once the busy log takes it. */
void
append_event(struct alerter *a, int64_t incident_id, const char *type, const char *body)
{
	struct log_write w = { .kind = LOG_WRITE_EVENT, .incident_id = incident_id };
	char err[ILOG_ERR_LEN];
	bool queued;

	snprintf(w.actor, sizeof(w.actor), "%s", ALERTER_ACTOR);
	snprintf(w.type, sizeof(w.type), "%s", type);
	if (strlen(body) >= sizeof(w.text)) {
		LOG_LIMITED(LOG_LEVEL_ERR, "cannot record %s: its body is too long", type);
		return;
	}
	snprintf(w.text, sizeof(w.text), "%s", body);
	if (alerter_write(a, &w, &queued, err, sizeof(err)) != ILOG_OK && !queued)
		LOG_LIMITED(LOG_LEVEL_ERR, "cannot record %s: %s", type, err);
}

/* Marks page_id (of incident_id) as actor says, now or once the busy log takes it.
 * Returns the log's status (ILOG_ERR_DB with *queued when it waits). */
enum ilog_status
mark_page_as(struct alerter *a, int64_t incident_id, int64_t page_id, enum ilog_page_mark mark,
    const char *actor, const char *detail, bool *queued, char *err, size_t errlen)
{
	struct log_write w = { .kind = LOG_WRITE_PAGE_MARK, .incident_id = incident_id,
		.page_id = page_id, .mark = mark };

	snprintf(w.actor, sizeof(w.actor), "%s", actor);
	snprintf(w.text, sizeof(w.text), "%s", detail != NULL ? detail : "");
	return alerter_write(a, &w, queued, err, errlen);
}

/* Appends an event of type about the newest page: its id, its target, and name = value. */
static void
record_page_event(struct alerter *a, const struct snap *s, const char *type, const char *name,
    int64_t value)
{
	json_t *j = json_pack("{s:I, s:s, s:I}", "page_id", (json_int_t)s->last->id, "target",
	    s->last->target, name, (json_int_t)value);
	char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text == NULL)
		return;
	append_event(a, s->inc.id, type, text);
	free(text);
}

/* Marks the newest page failed with detail; the next decision moves on. Returns true
 * if it is recorded (false: it waits for the busy log, or failed). */
static bool
fail_page(struct alerter *a, const struct snap *s, const char *detail)
{
	char err[ILOG_ERR_LEN];
	bool queued;

	if (mark_page_as(a, s->inc.id, s->last->id, ILOG_PAGE_FAILED, ALERTER_ACTOR, detail,
	    &queued, err, sizeof(err)) != ILOG_OK) {
		if (!queued)
			LOG_LIMITED(LOG_LEVEL_ERR, "cannot mark page %" PRId64 " failed: %s",
			    s->last->id, err);
		return false;
	}
	log_info("#%" PRId64 ": the page to %s failed: %s", s->inc.id, s->last->target, detail);
	return true;
}

/*
 * Sends the newest page if it is pending and not handed to this session yet.
 * Returns true if the page was marked failed (the caller decides again); a failure
 * that waits for the busy log is decided on once it is recorded.
 *
 * After a reconnect a page not yet receipted is sent again: a stanza in flight when a
 * connection drops is lost. A page an earlier process handed over (a page_sent event)
 * is not: the process died, not necessarily the connection's stanzas, and its
 * receipt went to the dead session; sending it again is a duplicate in the common
 * case, and if it was lost after all, the escalation's deadline pages the next step.
 */
static bool
transmit(struct alerter *a, const struct snap *s, int64_t now)
{
	const char *target = s->last->target;
	bool room = strncmp(target, ESC_ROOM_PREFIX, strlen(ESC_ROOM_PREFIX)) == 0;
	const char *to = room ? target + strlen(ESC_ROOM_PREFIX) : target;
	uint64_t session = alerter_session(a);
	char body[MESSAGE_MAX], id[ALERTER_ID_MAX];
	struct sent *prior = sent_find(a, s->last->id);
	int64_t late_ms = 0;

	if (!page_pending(s) || xclient_state(a->xc) != XCLIENT_ONLINE ||
	    (prior != NULL && (prior->session == session || prior->session == SENT_EARLIER_RUN)))
		return false;
	if (prior == NULL && s->sent_recorded) {
		sent_add(a, s->last->id, s->inc.id, SENT_EARLIER_RUN);
		log_info("#%" PRId64 ": the page to %s went out before a restart; not sent again",
		    s->inc.id, target);
		return false;
	}
	if (!room && !jid_bare_valid(to))
		return fail_page(a, s, "not a JID (a rotation that no longer exists?)");
	if (room) {
		enum xclient_room rs = xclient_room_state(a->xc, to);
		if (rs == XROOM_FAILED)
			return fail_page(a, s, "the room could not be joined");
		if (rs != XROOM_JOINED)
			return false; /* joining: sent when the room answers */
	} else {
		enum xclient_presence pr = xclient_presence_of(a->xc, to);
		/* Just connected: after a server restart everyone reconnects at once, and
		 * the first word on a target's presence may be a moment old. Give it that
		 * moment rather than fail the page for nothing. */
		if (pr != XPRESENCE_AVAILABLE && now < a->settle_until)
			return false;
		if (pr == XPRESENCE_UNAVAILABLE)
			return fail_page(a, s, "target offline");
	}
	if (now - s->last->sent_at > a->set->late_after_ms)
		late_ms = now - s->last->sent_at;
	page_body(a, s, now, late_ms, body, sizeof(body));
	snprintf(id, sizeof(id), "mcalert-p%" PRId64 "-i%" PRId64 "-s%" PRIu64, s->last->id,
	    s->inc.id, session);
	if (xclient_send(a->xc, to, room, id, body, !room) != 0)
		return false;
	sent_add(a, s->last->id, s->inc.id, session);
	/* Recorded, so that a later process knows it went out. */
	if (!s->sent_recorded)
		record_page_event(a, s, ALERTER_EV_SENT, "session", (int64_t)(session & INT64_MAX));
	if (late_ms > 0) {
		if (!s->late_recorded)
			record_page_event(a, s, ALERTER_EV_LATE, "late_ms", late_ms);
		log_info("#%" PRId64 ": sent the page to %s late (%" PRId64 " ms)", s->inc.id, target,
		    late_ms);
	} else {
		log_debug("#%" PRId64 ": sent the page to %s", s->inc.id, target);
	}
	return false;
}

/* Posts the newest page to the fallback webhook when XMPP has been down long enough. */
static void
fallback(struct alerter *a, const struct snap *s, int64_t now)
{
	char body[MESSAGE_MAX], err[ILOG_ERR_LEN];
	json_t *j;
	char *payload;
	long status = 0;

	if (!a->has_fallback || !page_pending(s) || s->fallback_done ||
	    xclient_state(a->xc) == XCLIENT_ONLINE || now < a->fallback_retry_at ||
	    xclient_down_ms(a->xc) < a->set->fallback_after_ms)
		return;
	page_body(a, s, now, now - s->last->sent_at > a->set->late_after_ms ?
	    now - s->last->sent_at : 0, body, sizeof(body));
	j = json_pack("{s:s, s:I, s:I, s:s, s:i, s:s, s:s}", "text", body, "incident",
	    (json_int_t)s->inc.id, "page_id", (json_int_t)s->last->id, "target", s->last->target,
	    "step", s->last->step, "severity", ilog_severity_name(s->inc.severity), "title",
	    s->inc.title);
	payload = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (payload == NULL)
		return;
	if (fallback_post(&a->fb, payload, &status, err, sizeof(err)) != 0) {
		free(payload);
		a->fallback_retry_at = now + ALERTER_FALLBACK_RETRY_MS;
		LOG_LIMITED(LOG_LEVEL_WARN, "#%" PRId64 ": the fallback webhook failed: %s "
		    "(retried in %d s)", s->inc.id, err, ALERTER_FALLBACK_RETRY_MS / 1000);
		return;
	}
	free(payload);
	record_page_event(a, s, ALERTER_EV_FALLBACK, "status", status);
	log_info("#%" PRId64 ": the page for %s went to the fallback webhook (HTTP %ld)",
	    s->inc.id, s->last->target, status);
}

/* --- deciding ----------------------------------------------------------------------- */

/* Records a page decision. Returns the log's status. */
static enum ilog_status
record_page(struct alerter *a, const struct snap *s, const struct esc_decision *d, char *err,
    size_t errlen)
{
	json_t *extra = json_pack("{s:i, s:i, s:s}", "position", d->position, "round", d->round,
	    "reason", esc_reason_name(d->reason));
	enum ilog_status st;
	int64_t page_id = 0;
	char *text;

	if (extra == NULL) {
		snprintf(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	if (!log_ready(a)) {
		json_decref(extra);
		snprintf(err, errlen, "the incident log is busy");
		return ILOG_ERR_DB;
	}
	if (d->via[0] != '\0')
		json_object_set_new(extra, "via", json_string(d->via));
	if (d->suppressed) {
		json_object_set_new(extra, "suppressed", json_true());
		json_object_set_new(extra, "window", json_string(d->window));
	}
	text = json_dumps(extra, JSON_COMPACT);
	json_decref(extra);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = ilog_page_escalate(a->log, s->inc.id, d->position + 1, d->target, d->deadline, text,
	    ALERTER_ACTOR, &page_id, NULL, err, errlen);
	free(text);
	if (st == ILOG_ERR_DB)
		log_refused(a, err);
	else
		log_accepted(a);
	if (st == ILOG_OK) {
		alerter_mark_wrote(a);
		if (d->suppressed)
			log_info("#%" PRId64 ": step %d for %s held by maintenance window '%s' "
				 "(recorded, not sent)", s->inc.id, d->position + 1, d->target,
			    d->window);
		else
			log_info("#%" PRId64 ": paging step %d (%s) -> %s", s->inc.id, d->position + 1,
			    esc_reason_name(d->reason), d->target);
	}
	return st;
}

/* Brings one incident's escalation up to date at now. */
static void
reconcile(struct alerter *a, struct tracked *t, int64_t now)
{
	char err[ILOG_ERR_LEN];
	struct esc_decision d;
	struct snap s;
	enum ilog_status st;
	int n;

	t->dirty = false;
	for (n = 0; n < ALERTER_DECISIONS_MAX; n++) {
		st = alerter_snap_load(a, t->id, &s, err, sizeof(err));
		if (st == ILOG_ERR_NOT_FOUND || (st == ILOG_OK && s.inc.state == ILOG_STATE_RESOLVED)) {
			alerter_snap_release(&s);
			t->id = 0; /* the caller drops it */
			return;
		}
		if (st != ILOG_OK) {
			alerter_snap_release(&s);
			LOG_LIMITED(LOG_LEVEL_ERR, "cannot read incident %" PRId64 ": %s", t->id, err);
			t->wake_at = now + ALERTER_ERROR_RETRY_MS;
			return;
		}
		if (s.pages.truncated) {
			/* A guard against a runaway escalation, not a state that policies reach. */
			LOG_LIMITED(LOG_LEVEL_ERR, "#%" PRId64 " has more than %d pages: no more are sent",
			    t->id, ILOG_PAGES_MAX);
			alerter_snap_release(&s);
			t->wake_at = 0;
			return;
		}
		if (s.last != NULL && transmit(a, &s, now)) {
			alerter_snap_release(&s);
			continue; /* the page failed: decide again */
		}
		fallback(a, &s, now);
		/* The policy borrows the log's maintenances (a reload replaces the policy). */
		a->set->policy.held = a->maints;
		a->set->policy.nheld = a->nmaints;
		esc_decide(&a->set->policy, &a->set->rotations, &a->ov, &s.view, now, &d);
		if (d.action == ESC_PAGE) {
			st = record_page(a, &s, &d, err, sizeof(err));
			alerter_snap_release(&s);
			if (st == ILOG_OK || st == ILOG_ERR_STATE)
				continue; /* recorded (or resolved meanwhile): look again */
			if (a->round_busy) {
				t->dirty = true; /* the log is busy: decided again next tick */
				return;
			}
			LOG_LIMITED(LOG_LEVEL_ERR, "#%" PRId64 ": cannot record a page: %s", t->id, err);
			t->wake_at = now + ALERTER_ERROR_RETRY_MS;
			return;
		}
		/* Keep the log's deadline equal to the decision's, for `mctl show`. */
		if (s.last != NULL && s.last->next_deadline != d.deadline) {
			if (!log_ready(a)) {
				t->dirty = true;
			} else if (ilog_page_set_deadline(a->log, s.last->id, d.deadline, err,
			    sizeof(err)) != ILOG_OK) {
				log_refused(a, err);
				t->dirty = true;
			} else {
				log_accepted(a);
				alerter_mark_wrote(a);
			}
		}
		t->wake_at = d.deadline;
		alerter_snap_release(&s);
		return;
	}
	LOG_LIMITED(LOG_LEVEL_ERR, "#%" PRId64 ": %d decisions in a row; looking again later",
	    t->id, ALERTER_DECISIONS_MAX);
	t->wake_at = now + ALERTER_ERROR_RETRY_MS;
}

/* Reconciles what is due; returns the earliest wake-up still pending (0: none). */
int64_t
reconcile_due(struct alerter *a, int64_t now)
{
	int64_t next = 0;
	size_t i;

	for (i = 0; i < a->ntracked;) {
		struct tracked *t = &a->tracked[i];

		if (t->dirty || (t->wake_at != 0 && now >= t->wake_at))
			reconcile(a, t, now);
		if (t->id == 0) {
			untrack(a, i);
			continue;
		}
		if (t->wake_at != 0 && (next == 0 || t->wake_at < next))
			next = t->wake_at;
		i++;
	}
	return next;
}
