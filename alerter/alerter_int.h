/*
 * alerter_int — the inside of mcalert's loop: struct alerter, its limits, and the
 * functions its three files lend each other. The loop is one module cut into files by
 * concern:
 *   alerter.c          the lifecycle (new, free, reload, run), the busy log's writes,
 *                      the tracked incidents, tailing and sweeping the log, and the
 *                      accessors daemon.h promises
 *   alerter_page.c     pages: an incident's snapshot, deciding (escalation.h),
 *                      recording, sending, marking late, the fallback webhook
 *   alerter_session.c  the XMPP session: its callbacks (presence, receipts, displayed
 *                      markers, bounces, room echoes), notices, test pages, contacts
 *
 * Include this header ONLY from those three files. The modules beside the loop (chat.c,
 * pending.c, watchdog.c, deadman.c, intake.c) never see struct alerter: they go through
 * daemon.h, so the loop's own bookkeeping can change without them. Nothing here is a
 * contract for anyone else; alerter.h is the daemon's, daemon.h its neighbours'.
 * Single-threaded: everything runs on the daemon's loop.
 */
#ifndef MCOPS_ALERTER_INT_H
#define MCOPS_ALERTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alerter.h"
#include "daemon.h"
#include "fallback.h"
#include "ilog.h"
#include "ilog_maintenance.h"
#include "ilog_pages.h"
#include "intake.h"
#include "jid.h"
#include "message.h"
#include "pending.h"
#include "rotation.h"
#include "settings.h"
#include "watchdog.h"
#include "xmpp.h"

struct chat;

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
	struct ilog_maintenance *maints; /* ILOG_MAINT_LIST_MAX: the log's, holding pages */
	size_t nmaints;
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

/* --- alerter.c ------------------------------------------------------------------------ */

/* The busy log: a write refused (err) ends this round's tries, reported once per
 * spell; a write accepted ends the spell; log_ready says whether a write may be tried
 * now (none refused this round, none waiting before it). */
void log_refused(struct alerter *a, const char *err);
void log_accepted(struct alerter *a);
bool log_ready(const struct alerter *a);
/* Stops following the i-th tracked incident. */
void untrack(struct alerter *a, size_t i);
/* Every tracked incident is looked at again at the next round. */
void mark_all_dirty(struct alerter *a);

/* --- alerter_page.c ------------------------------------------------------------------- */

/* The page handed to XMPP with that id, or NULL. */
struct sent *sent_find(struct alerter *a, int64_t page_id);
/*
 * Our message ids: "mcalert-p<page>-i<incident>-s<session>" for pages,
 * "mcalert-t<request>-s<session>" for test pages. id_number(id, 'p') is the first
 * part's number if it is of that kind; id_part(id, 'i') the number of a later part.
 * 0 when absent or malformed.
 */
int64_t id_number(const char *id, char kind);
int64_t id_part(const char *id, char kind);
/* An event's body as JSON (a new reference; "{}" when it has none; NULL if malformed). */
json_t *body_of(const struct ilog_event *ev);
/* Appends an event of ours now, or once the busy log takes it. */
void append_event(struct alerter *a, int64_t incident_id, const char *type, const char *body);
/* Marks page_id (of incident_id) as actor says, now or once the busy log takes it.
 * Returns the log's status (ILOG_ERR_DB with *queued when it waits). */
enum ilog_status mark_page_as(struct alerter *a, int64_t incident_id, int64_t page_id,
    enum ilog_page_mark mark, const char *actor, const char *detail, bool *queued, char *err,
    size_t errlen);
/* Reconciles what is due; returns the earliest wake-up still pending (0: none). */
int64_t reconcile_due(struct alerter *a, int64_t now);

/* --- alerter_session.c ---------------------------------------------------------------- */

/* Sends the notices that wait, while a session is up; one for a room still being
 * joined waits on. */
void flush_notices(struct alerter *a);
/* "#42 acknowledged by ..." to everyone paged for the incident but the actor. */
void notify(struct alerter *a, const struct ilog_event *ev, const char *verb);
/* Takes a "page_test" request of the log; a malformed one, or one too many, is
 * recorded failed at once. */
void queue_test(struct alerter *a, const struct ilog_event *ev);
/* Sends each test page not yet handed to this session, fails those that waited too
 * long, and forgets the finished ones. */
void run_tests(struct alerter *a, int64_t now);
/* Everyone whose presence matters and the rooms to be in. */
void update_contacts(struct alerter *a);
/* A chat client for the running configuration, its events going to a. NULL with err. */
struct xclient *make_client(struct alerter *a, char *err, size_t errlen);

#endif
