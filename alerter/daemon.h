/*
 * daemon — mcalert's internal definitions, shared by alerter.c (the loop, the log,
 * the escalations, the XMPP events) and chat.c (the chat commands). Not a contract
 * for anyone outside alerter/: alerter.h is.
 *
 * Ownership: one struct alerter, made by alerter_new(), owns everything here; a struct
 * snap owns its lists until alerter_snap_release(). Single-threaded: every function
 * runs on the daemon's loop.
 */
#ifndef MCOPS_ALERTER_DAEMON_H
#define MCOPS_ALERTER_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "alerter.h"
#include "escalation.h"
#include "fallback.h"
#include "ilog.h"
#include "ilog_pages.h"
#include "intake.h"
#include "jid.h"
#include "message.h"
#include "rotation.h"
#include "settings.h"
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
#define ALERTER_REFUSED_MAX 256
#define ALERTER_REFUSAL_PERIOD_MS 60000
#define ALERTER_DECISIONS_MAX 64      /* decisions for one incident in one reconcile */
#define ALERTER_ERROR_RETRY_MS 1000   /* after a failed log call */
#define ALERTER_SETTLE_MS 2000        /* after connecting, presence may still arrive */
#define ALERTER_FALLBACK_RETRY_MS 30000 /* after a failed fallback post: a blocking call
                                           must not stall the loop once per incident */
#define ALERTER_LIST_SHOWN 20         /* incidents listed by the chat command */
#define ALERTER_ID_MAX 64
#define ALERTER_REPLY_MAX 4096

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

struct refusal {
	char jid[JID_MAX + 1];
	int64_t last_reply;
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
	struct refusal *refused;      /* ALERTER_REFUSED_MAX */
	size_t nrefused;
	uint64_t msg_seq;
	uint64_t session_base;        /* sessions of the clients a reload replaced: a new
	                                 client counts from 1 again */
};

/* One incident as the log shows it, with what the pager derived from it. */
struct snap {
	struct ilog_incident inc;
	struct ilog_events tl;
	struct ilog_pages pages;
	struct esc_view view;
	const struct ilog_page *last;
	const struct ilog_page *prev;
	char reason[32];
	int round;
	bool late_recorded;
	bool fallback_done;
	bool sent_recorded;           /* the newest page was handed to the chat server */
	const char *evidence_body;    /* the latest evidence, borrowed from tl */
};

/* Frees what s holds. */
void alerter_snap_release(struct snap *s);
/*
 * Reads incident id's row, timeline and pages into s and derives its escalation view.
 * ILOG_OK, ILOG_ERR_NOT_FOUND, or another failure with err set; s must be released
 * in every case but NOT_FOUND.
 */
enum ilog_status alerter_snap_load(struct alerter *a, int64_t id, struct snap *s, char *err,
    size_t errlen);
/* Notes a write of ours (data_version does not show them): the log is tailed again. */
void alerter_mark_wrote(struct alerter *a);
/* The incident is looked at again at the next round. */
void alerter_mark_dirty(struct alerter *a, int64_t id);

/*
 * The current XMPP session, unique over the process's life (also across the clients
 * that reloads replace), so that "handed to this session" never confuses two.
 */
uint64_t alerter_session(const struct alerter *a);

/* "xmpp:<bare>" into buf[len]; -1 if it does not fit an actor. */
int alerter_actor(const char *bare, char *buf, size_t len);
/* A chat message from a full JID: a command, answered (struct xclient_events.chat). */
void alerter_chat(void *arg, const char *from, const char *body);

#endif
