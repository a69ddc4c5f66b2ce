/*
 * alerter — see alerter.h.
 *
 * The loop (alerter_run): one round every ALERTER_TICK_MS at most —
 *   xclient_run()     libstrophe reads and writes; callbacks mark incidents dirty,
 *                     record receipts and failures, answer chat commands
 *   intake            the Alertmanager listener's pending requests
 *   pending           writes the log refused while busy, in order (pending.h)
 *   tail              new events of the log (anyone's): incidents to look at again,
 *                     notices to send, overrides, test pages
 *   reconcile         every incident that is dirty or whose deadline came: decide
 *                     (escalation.h), record, send
 *   sweep             every ALERTER_SWEEP_MS all unresolved incidents are looked at
 *                     again, whatever the events said
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "alerter.h"
#include "chat.h"
#include "daemon.h"
#include "escalation.h"
#include "fallback.h"
#include "ilog.h"
#include "ilog_pages.h"
#include "intake.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "parse.h"
#include "pending.h"
#include "rotation.h"
#include "settings.h"
#include "utctime.h"
#include "watchdog.h"
#include "xmpp.h"

#define ALERTER_TICK_MS 50
#define ALERTER_SWEEP_MS 30000        /* every unresolved incident looked at again */
#define ALERTER_TAIL_POLL_MS 1000     /* tail even without a data_version change */
#define ALERTER_TRACKED_MAX ILOG_LIST_MAX
#define ALERTER_SENT_MAX 4096         /* pages handed to XMPP, remembered */
#define ALERTER_NOTICES_MAX 64        /* notices waiting for a session */
#define ALERTER_TESTS_MAX 32          /* test pages waiting or awaiting a receipt */
#define ALERTER_TEST_MAX_AGE_MS (5 * 60000)
#define ALERTER_NOTICE_MAX_AGE_MS (10 * 60000)
#define ALERTER_DECISIONS_MAX 64      /* decisions for one incident in one reconcile */
#define ALERTER_ERROR_RETRY_MS 1000   /* after a failed log call */
#define ALERTER_SETTLE_MS 2000        /* after connecting, presence may still arrive */
#define ALERTER_FALLBACK_RETRY_MS 30000 /* after a failed fallback post: a blocking call
                                           must not stall the loop once per incident */
#define ALERTER_ID_MAX 64
/*
 * While another process holds the log's write lock (a backup, mctl, a stuck process),
 * a write gives up after about a quarter of a second instead of ilog's minute: the
 * loop that answers XMPP pings, runs the escalation timers and serves /healthz must
 * not stand still. What the log refused waits in a struct pending and is written
 * again at the next tick; at most one refused write is tried per tick.
 */
#define ALERTER_LOG_BUSY_TIMEOUT_MS 50
#define ALERTER_LOG_BUSY_RETRY_MS 250

struct tracked {
	int64_t id;
	int64_t wake_at;  /* 0: nothing pending */
	bool dirty;
};

struct sent {
	int64_t page_id;
	int64_t incident_id;
	uint64_t session; /* the XMPP session it was handed to; SENT_EARLIER_RUN: by an
	                     earlier process, so not by this one */
};
#define SENT_EARLIER_RUN UINT64_MAX

struct notice {
	char to[ILOG_TARGET_MAX + 1]; /* a JID or "room:..." */
	char body[MESSAGE_MAX];
};

struct test_page {
	int64_t request;              /* the "page_test" event */
	char target[JID_MAX + 1];
	char actor[ILOG_ACTOR_MAX + 1];
	int64_t requested_at;
	uint64_t sent_session;        /* 0: not sent yet */
	bool done;                    /* delivered or failed: recorded */
};

struct alerter {
	struct alerter_settings *set;
	bool debug;
	struct ilog *log;
	struct xclient *xc;
	struct event_base *base;
	struct intake *intake;
	struct fallback fb;
	bool has_fallback;
	struct rotation_overrides ov;
	struct watchdog *watchdog;    /* heartbeats: ours, and the other daemons' */

	int64_t cursor;
	bool wrote;                   /* our own writes: data_version does not show them */
	bool round_busy;              /* the log refused a write this round: no more tries */
	struct pending pending;       /* writes the busy log refused, in order */
	struct intake_health health;  /* the log's waits, shown by /healthz */
	int64_t cursor_saved;         /* the cursor as the log has it */
	int64_t next_tail, next_sweep;
	bool fallback_armed;
	int64_t settle_until;         /* until then, a target of unknown presence waits */
	int64_t fallback_retry_at;    /* after a failed post, no post before then */

	struct tracked *tracked;      /* ALERTER_TRACKED_MAX */
	size_t ntracked;
	struct sent *sent;            /* ALERTER_SENT_MAX, a ring */
	size_t nsent, sent_next;
	struct notice *notices;       /* ALERTER_NOTICES_MAX */
	size_t nnotices;
	struct test_page tests[ALERTER_TESTS_MAX];
	size_t ntests;
	struct chat *chat;
	uint64_t msg_seq;
	uint64_t session_base;        /* sessions of the clients a reload replaced: a new
	                                 client counts from 1 again */
};

void
alerter_snap_release(struct snap *s)
{
	ilog_events_release(&s->tl);
	ilog_pages_release(&s->pages);
}

uint64_t
alerter_session(const struct alerter *a)
{
	return a->session_base + xclient_session(a->xc);
}

void
alerter_mark_wrote(struct alerter *a)
{
	a->wrote = true;
}

/* --- writing to a log that may be busy ------------------------------------------- */

/* The log refused a write (err): no more tries this round; reported once per spell. */
static void
log_refused(struct alerter *a, const char *err)
{
	a->round_busy = true;
	a->health.log_busy++;
	if (a->health.log_busy_since != 0)
		return;
	a->health.log_busy_since = ilog_now(a->log);
	log_warn("the incident log refuses writes: %s (another process holds it?); paging, "
		 "pings and timers go on, and the writes are retried at every tick", err);
}

/* A write went through: a busy spell, if any, is over. */
static void
log_accepted(struct alerter *a)
{
	if (a->health.log_busy_since == 0)
		return;
	log_info("the incident log takes writes again after %" PRId64 " ms (%" PRIu64
		 " refused writes; %zu still waiting)", ilog_now(a->log) - a->health.log_busy_since,
	    a->health.log_busy, a->pending.n);
	a->health.log_busy_since = 0;
}

/* Whether a write may be tried now: none refused this round, none waiting before it. */
static bool
log_ready(const struct alerter *a)
{
	return !a->round_busy && a->pending.n == 0;
}

enum ilog_status
alerter_write(struct alerter *a, const struct log_write *w, bool *queued, char *err,
    size_t errlen)
{
	enum ilog_status st;

	*queued = false;
	if (log_ready(a)) {
		st = log_write_apply(a->log, w, err, errlen);
		if (st == ILOG_ERR_DB) {
			log_refused(a, err);
		} else {
			log_accepted(a);
			alerter_mark_wrote(a);
			return st;
		}
	} else {
		snprintf(err, errlen, "the incident log is busy");
	}
	if (pending_add(&a->pending, w) != 0) {
		LOG_LIMITED(LOG_LEVEL_ERR, "more than %d writes wait for the incident log: a %s "
		    "write is lost (%" PRIu64 " so far)", PENDING_MAX,
		    w->kind == LOG_WRITE_EVENT ? w->type : "page or incident", a->pending.dropped);
		return ILOG_ERR_DB;
	}
	a->health.log_waiting = a->pending.n;
	*queued = true;
	return ILOG_ERR_DB;
}

static void
pending_done(void *arg, const struct log_write *w)
{
	struct alerter *a = arg;

	alerter_mark_dirty(a, w->incident_id);
	if (w->kind == LOG_WRITE_ACK || w->kind == LOG_WRITE_RESOLVE)
		log_info("#%" PRId64 " %s by %s (recorded once the log was free)", w->incident_id,
		    w->kind == LOG_WRITE_ACK ? "acknowledged" : "resolved", w->actor);
}

static void
pending_dropped(void *arg, const struct log_write *w, enum ilog_status st, const char *err)
{
	struct alerter *a = arg;

	alerter_mark_dirty(a, w->incident_id);
	LOG_LIMITED(LOG_LEVEL_WARN, "a write that waited for the log was refused: %s", err);
}

/* Writes what waited for the log, first thing in a round, so nothing overtakes it. */
static void
flush_pending(struct alerter *a)
{
	char err[ILOG_ERR_LEN];

	if (a->pending.n == 0)
		return;
	if (pending_flush(&a->pending, a->log, pending_done, pending_dropped, a, err,
	    sizeof(err)) != ILOG_OK)
		log_refused(a, err);
	else
		log_accepted(a);
	a->health.log_waiting = a->pending.n;
	alerter_mark_wrote(a);
}

/* The cursor, when it moved and the log takes writes. */
static void
save_cursor(struct alerter *a)
{
	char err[ILOG_ERR_LEN];

	if (a->cursor == a->cursor_saved || !log_ready(a))
		return;
	if (ilog_cursor_set(a->log, ALERTER_CONSUMER, a->cursor, err, sizeof(err)) != ILOG_OK) {
		log_refused(a, err);
		return;
	}
	log_accepted(a);
	a->cursor_saved = a->cursor;
}

struct ilog *
alerter_log(struct alerter *a)
{
	return a->log;
}

const struct alerter_settings *
alerter_config(const struct alerter *a)
{
	return a->set;
}

const struct rotation_overrides *
alerter_overrides(const struct alerter *a)
{
	return &a->ov;
}

bool
alerter_online(const struct alerter *a)
{
	return xclient_state(a->xc) == XCLIENT_ONLINE;
}

void
alerter_reply(struct alerter *a, const char *to, const char *text)
{
	char id[ALERTER_ID_MAX];

	snprintf(id, sizeof(id), "mcalert-r%" PRIu64, ++a->msg_seq);
	xclient_send(a->xc, to, false, id, text, false);
}

size_t
alerter_tracked_count(const struct alerter *a)
{
	return a->ntracked;
}

int64_t
alerter_tracked_id(const struct alerter *a, size_t i)
{
	return a->tracked[i].id;
}

int
alerter_actor(const char *bare, char *buf, size_t len)
{
	size_t n = strlen(bare);

	if (n + 6 > len)
		return -1;
	memcpy(buf, "xmpp:", 5);
	memcpy(buf + 5, bare, n + 1);
	return 0;
}

/* --- tracked incidents ------------------------------------------------------------- */

static struct tracked *
track(struct alerter *a, int64_t id)
{
	size_t i;

	for (i = 0; i < a->ntracked; i++) {
		if (a->tracked[i].id == id) {
			a->tracked[i].dirty = true;
			return &a->tracked[i];
		}
	}
	if (a->ntracked == ALERTER_TRACKED_MAX) {
		LOG_LIMITED(LOG_LEVEL_ERR, "more than %d unresolved incidents: #%" PRId64
		    " waits for the next sweep", ALERTER_TRACKED_MAX, id);
		return NULL;
	}
	a->tracked[a->ntracked] = (struct tracked){ id, 0, true };
	return &a->tracked[a->ntracked++];
}

static void
untrack(struct alerter *a, size_t i)
{
	a->tracked[i] = a->tracked[--a->ntracked];
}

static void
mark_all_dirty(struct alerter *a)
{
	size_t i;

	for (i = 0; i < a->ntracked; i++)
		a->tracked[i].dirty = true;
}

void
alerter_mark_dirty(struct alerter *a, int64_t id)
{
	if (id > 0)
		track(a, id);
}

/* --- pages handed to XMPP ---------------------------------------------------------- */

static struct sent *
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

static int64_t
id_number(const char *id, char kind)
{
	static const char prefix[] = "mcalert-";

	if (id == NULL || strncmp(id, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	return part_number(id + sizeof(prefix) - 1, kind);
}

static int64_t
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

static json_t *
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
			if (ev->type[0] != 'r' && has_evidence(ev))
				s->evidence_body = ev->body_json;
			continue;
		}
		if (strcmp(ev->type, ILOG_EV_EVIDENCE) == 0) {
			s->evidence_body = ev->body_json;
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

static void
page_body(struct alerter *a, const struct snap *s, int64_t now, int64_t late_ms, char *buf,
    size_t len)
{
	const struct esc_policy *p = &a->set->policy;
	char evidence[MESSAGE_EVIDENCE_MAX + 1];
	struct page_text t;
	int step, round;

	memset(&t, 0, sizeof(t));
	message_evidence(s->evidence_body, evidence, sizeof(evidence));
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
	message_page(&t, buf, len);
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
static void
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
static enum ilog_status
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
static int64_t
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

static void
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
static void
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

static void
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

static void
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

/* --- the log's events ---------------------------------------------------------------- */

static void update_contacts(struct alerter *a);

static void
handle_event(struct alerter *a, const struct ilog_event *ev, int64_t now)
{
	char err[ILOG_ERR_LEN];
	int rc;

	if (ev->incident_id != 0)
		alerter_mark_dirty(a, ev->incident_id);
	if (ev->incident_id != 0 && now - ev->at < ALERTER_NOTICE_MAX_AGE_MS) {
		if (strcmp(ev->type, ILOG_EV_ACKED) == 0)
			notify(a, ev, "acknowledged");
		else if (strcmp(ev->type, ILOG_EV_RESOLVED) == 0)
			notify(a, ev, "resolved");
		return;
	}
	if (ev->incident_id != 0)
		return;
	if (strcmp(ev->type, ALERTER_EV_TEST) == 0) {
		if (now - ev->at < ALERTER_TEST_MAX_AGE_MS)
			queue_test(a, ev);
		return;
	}
	rc = rotation_overrides_apply(&a->ov, ev, now, err, sizeof(err));
	if (rc < 0)
		LOG_LIMITED(LOG_LEVEL_WARN, "on-call override ignored: %s", err);
	if (rc > 0) {
		log_info("on-call override %s (event %" PRId64 " by %s)",
		    strcmp(ev->type, ROTATION_EV_CANCEL) == 0 ? "cancelled" : "recorded", ev->id,
		    ev->actor);
		update_contacts(a);
	}
}

static void
tail(struct alerter *a, int64_t now)
{
	struct ilog_events evs = { 0 };
	char err[ILOG_ERR_LEN];
	int batches;
	size_t i;

	for (batches = 0; batches < 10; batches++) {
		if (ilog_tail(a->log, a->cursor, 0, &evs, err, sizeof(err)) != ILOG_OK) {
			LOG_LIMITED(LOG_LEVEL_ERR, "cannot read the log: %s", err);
			break;
		}
		for (i = 0; i < evs.n; i++)
			handle_event(a, &evs.v[i], now);
		if (evs.n > 0)
			a->cursor = evs.v[evs.n - 1].id;
		if (!evs.truncated)
			break;
	}
	ilog_events_release(&evs);
	save_cursor(a);
}

/* Every unresolved incident of the log, tracked and dirty. */
static void
sweep(struct alerter *a)
{
	struct ilog_query q = { 0 };
	struct ilog_incidents list = { 0 };
	char err[ILOG_ERR_LEN];
	size_t i;

	if (ilog_incident_list(a->log, &q, &list, err, sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "cannot list incidents: %s", err);
		return;
	}
	for (i = 0; i < list.n; i++)
		track(a, list.v[i].id);
	mark_all_dirty(a);
	ilog_incidents_release(&list);
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
static void
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

static struct xclient *
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

static int
start_intake(struct alerter *a, char *err, size_t errlen)
{
	if (!a->set->has_intake)
		return 0;
	a->intake = intake_start(a->base, &a->set->intake,
	    a->set->has_intake_token ? a->set->intake_token : NULL, a->log, err, errlen);
	if (a->intake == NULL)
		return -1;
	intake_set_health(a->intake, &a->health);
	return 0;
}

static int
start_fallback(struct alerter *a, char *err, size_t errlen)
{
	a->has_fallback = false;
	if (a->set->fallback_url[0] == '\0')
		return 0;
	if (fallback_init(&a->fb, a->set->fallback_url, a->set->fallback_timeout_ms, err,
	    errlen) != 0)
		return -1;
	a->has_fallback = true;
	return 0;
}

struct alerter *
alerter_new(struct alerter_settings *set, bool debug, char *err, size_t errlen)
{
	struct alerter *a = calloc(1, sizeof(*a));
	struct ilog_options log_opts = { .busy_timeout_ms = ALERTER_LOG_BUSY_TIMEOUT_MS,
		.busy_retry_ms = ALERTER_LOG_BUSY_RETRY_MS };
	char lerr[ILOG_ERR_LEN];

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		settings_release(set);
		free(set);
		return NULL;
	}
	a->set = set;
	a->debug = debug;
	a->tracked = calloc(ALERTER_TRACKED_MAX, sizeof(*a->tracked));
	a->sent = calloc(ALERTER_SENT_MAX, sizeof(*a->sent));
	a->notices = calloc(ALERTER_NOTICES_MAX, sizeof(*a->notices));
	a->chat = chat_new(a);
	if (a->tracked == NULL || a->sent == NULL || a->notices == NULL || a->chat == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (pending_init(&a->pending) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((a->log = ilog_open(set->db_path, &log_opts, lerr, sizeof(lerr))) == NULL) {
		snprintf(err, errlen, "cannot open the incident log %s: %s", set->db_path, lerr);
		goto fail;
	}
	if ((a->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "cannot create an event base");
		goto fail;
	}
	if (start_intake(a, err, errlen) != 0 || start_fallback(a, err, errlen) != 0)
		goto fail;
	if ((a->watchdog = watchdog_new(set, ilog_now(a->log), err, errlen)) == NULL)
		goto fail;
	if ((a->xc = make_client(a, err, errlen)) == NULL)
		goto fail;
	return a;
fail:
	alerter_free(a);
	return NULL;
}

void
alerter_free(struct alerter *a)
{
	if (a == NULL)
		return;
	xclient_free(a->xc);
	intake_stop(a->intake);
	if (a->base != NULL)
		event_base_free(a->base);
	if (a->has_fallback)
		fallback_release(&a->fb);
	watchdog_free(a->watchdog);
	ilog_close(a->log);
	pending_release(&a->pending);
	rotation_overrides_release(&a->ov);
	if (a->set != NULL) {
		settings_release(a->set);
		free(a->set);
	}
	free(a->tracked);
	free(a->sent);
	free(a->notices);
	chat_free(a->chat);
	free(a);
}

/* The connection settings differ: the client must be made again. */
static bool
connection_changed(const struct alerter_settings *x, const struct alerter_settings *y)
{
	return strcmp(x->jid, y->jid) != 0 || strcmp(x->password, y->password) != 0 ||
	       strcmp(x->resource, y->resource) != 0 || strcmp(x->nick, y->nick) != 0 ||
	       strcmp(x->server_host, y->server_host) != 0 || x->server_port != y->server_port ||
	       x->tls != y->tls || x->tls_insecure != y->tls_insecure ||
	       strcmp(x->tls_ca, y->tls_ca) != 0 || x->reconnect_min_ms != y->reconnect_min_ms ||
	       x->reconnect_max_ms != y->reconnect_max_ms ||
	       x->ping_interval_ms != y->ping_interval_ms ||
	       x->ping_timeout_ms != y->ping_timeout_ms;
}

static void
reload(struct alerter *a, const char *path)
{
	struct alerter_settings *n = calloc(1, sizeof(*n)), *old = a->set;
	struct config_errors errs = { 0 };
	char err[256];
	size_t i;

	if (n == NULL) {
		log_err("reload: out of memory; the running configuration stays");
		return;
	}
	if (settings_load(n, path, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			log_err("%s", errs.msgs[i]);
		log_err("reload: %s has errors; the running configuration stays", path);
		config_errors_release(&errs);
		free(n);
		return;
	}
	config_errors_release(&errs);
	if (strcmp(n->db_path, old->db_path) != 0 || n->has_intake != old->has_intake ||
	    strcmp(n->intake.text, old->intake.text) != 0)
		log_warn("reload: a new database or intake address takes a restart; "
			 "the running ones stay");
	snprintf(n->db_path, sizeof(n->db_path), "%s", old->db_path);
	n->has_intake = old->has_intake;
	n->intake = old->intake;
	if (connection_changed(old, n)) {
		struct xclient *fresh;
		a->set = n;
		if ((fresh = make_client(a, err, sizeof(err))) == NULL) {
			a->set = old;
			log_err("reload: %s; the running configuration stays", err);
			settings_release(n);
			free(n);
			return;
		}
		a->session_base += xclient_session(a->xc);
		xclient_free(a->xc);
		a->xc = fresh;
	}
	a->set = n;
	if (a->has_fallback)
		fallback_release(&a->fb);
	if (start_fallback(a, err, sizeof(err)) != 0)
		log_err("reload: fallback: %s", err);
	a->fallback_retry_at = 0;
	if (watchdog_configure(a->watchdog, n, ilog_now(a->log), err, sizeof(err)) != 0)
		log_err("reload: heartbeat_url: %s", err);
	/* The intake listener borrows the token: it now lives in n. */
	if (a->intake != NULL) {
		intake_stop(a->intake);
		a->intake = NULL;
		if (start_intake(a, err, sizeof(err)) != 0)
			log_err("reload: intake: %s", err);
	}
	settings_release(old);
	free(old);
	update_contacts(a);
	mark_all_dirty(a);
	log_info("configuration reloaded");
}

int
alerter_run(struct alerter *a, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload_flag,
    const char *config_path)
{
	char err[ILOG_ERR_LEN];
	bool changed;
	int64_t now, last_id, wake = 0;
	int timeout;

	if (ilog_cursor_get(a->log, ALERTER_CONSUMER, &a->cursor, err, sizeof(err)) != ILOG_OK) {
		log_err("cannot read the cursor: %s", err);
		return 1;
	}
	if (a->cursor == 0) {
		/* First start: the history is not news. Unresolved incidents are found by
		 * the sweep below; old acknowledgements need no notices. */
		if (ilog_last_event_id(a->log, &last_id, err, sizeof(err)) != ILOG_OK) {
			log_err("cannot start the cursor: %s", err);
			return 1;
		}
		a->cursor = last_id;
	} else {
		a->cursor_saved = a->cursor;
	}
	/* A first start's cursor is stored by the first round (save_cursor), which also
	 * waits out a log that another process holds. */
	now = ilog_now(a->log);
	if (rotation_overrides_read(a->log, now, &a->ov, err, sizeof(err)) != 0)
		log_err("cannot read the on-call overrides: %s", err);
	update_contacts(a);
	sweep(a);
	a->next_sweep = now + ALERTER_SWEEP_MS;
	log_info("started: %zu unresolved incidents, cursor at event %" PRId64, a->ntracked,
	    a->cursor);
	while (!*stop) {
		if (*reload_flag) {
			*reload_flag = 0;
			reload(a, config_path);
		}
		/* Sleep a tick at most, less when a deadline falls inside it. */
		timeout = ALERTER_TICK_MS;
		if (wake != 0) {
			int64_t left = wake - ilog_now(a->log);
			timeout = left < 1 ? 1 : left < ALERTER_TICK_MS ? (int)left : ALERTER_TICK_MS;
		}
		xclient_run(a->xc, timeout);
		event_base_loop(a->base, EVLOOP_NONBLOCK);
		a->round_busy = false;
		flush_pending(a);
		now = ilog_now(a->log);
		changed = false;
		if (ilog_changed(a->log, &changed, err, sizeof(err)) != ILOG_OK)
			LOG_LIMITED(LOG_LEVEL_ERR, "cannot poll the log: %s", err);
		if (changed || a->wrote || now >= a->next_tail) {
			a->wrote = false;
			a->next_tail = now + ALERTER_TAIL_POLL_MS;
			tail(a, now);
		}
		if (now >= a->next_sweep) {
			a->next_sweep = now + ALERTER_SWEEP_MS;
			sweep(a);
		}
		if (!a->fallback_armed && a->has_fallback &&
		    xclient_down_ms(a->xc) >= a->set->fallback_after_ms) {
			a->fallback_armed = true;
			log_warn("the chat server has been unreachable for %" PRId64 " ms: pages go "
				 "to the fallback webhook", xclient_down_ms(a->xc));
			mark_all_dirty(a);
		}
		if (a->settle_until != 0 && now >= a->settle_until) {
			a->settle_until = 0;
			mark_all_dirty(a);
		}
		wake = reconcile_due(a, now);
		flush_notices(a);
		run_tests(a, now);
		if (a->intake != NULL && intake_accept_news(a->intake, err, sizeof(err)))
			LOG_LIMITED(LOG_LEVEL_WARN, "intake: %s", err);
		log_flush_suppressed();
		if (watchdog_run(a->watchdog, a->set, now))
			alerter_mark_wrote(a);
	}
	log_info("stopping");
	return 0;
}
