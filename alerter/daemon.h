/*
 * daemon — what the daemon's loop (alerter.c, alerter_page.c, alerter_session.c)
 * offers the modules beside it in alerter/ (chat.c): reading an incident as the pager
 * sees it, the log, the running configuration, replying in chat, and telling the loop
 * what changed. Not a contract for anyone outside alerter/: alerter.h is.
 *
 * struct alerter stays private to the loop's files (alerter_int.h): the other modules
 * go through these functions only, so that the loop's own bookkeeping (what was sent
 * to which session, which incidents wait for what) can change without them.
 * Ownership: one struct alerter, made by alerter_new(), owns everything these
 * functions return (borrowed by the caller until the call returns, or until a reload
 * for the configuration); a struct snap owns its lists until alerter_snap_release().
 * Single-threaded: every function runs on the daemon's loop.
 */
#ifndef MCOPS_ALERTER_DAEMON_H
#define MCOPS_ALERTER_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerter.h"
#include "escalation.h"
#include "ilog.h"
#include "ilog_pages.h"
#include "pending.h"
#include "rotation.h"
#include "settings.h"

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
	int64_t evidence_event;       /* its event's id, 0 if none */
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
/*
 * Does w in the log now or, while another process keeps the log busy, queues it to be
 * done at a later tick, in order (pending.h). Returns ILOG_OK when done; ILOG_ERR_DB
 * with *queued true when it waits (err says why), false when it is lost (no room, or
 * the log failed otherwise); or the log's refusal (ILOG_ERR_STATE, _NOT_FOUND, _ARG)
 * with err. Every write of the pager goes through here but the escalation's own
 * steps, which are decided again at each round instead.
 */
enum ilog_status alerter_write(struct alerter *a, const struct log_write *w, bool *queued,
    char *err, size_t errlen);
/* The incident is looked at again at the next round. */
void alerter_mark_dirty(struct alerter *a, int64_t id);

/*
 * The current XMPP session, unique over the process's life (also across the clients
 * that reloads replace), so that "handed to this session" never confuses two.
 */
uint64_t alerter_session(const struct alerter *a);

/* "xmpp:<bare>" into buf[len]; -1 if it does not fit an actor. */
int alerter_actor(const char *bare, char *buf, size_t len);

/* The incident log (borrowed). */
struct ilog *alerter_log(struct alerter *a);
/* The running configuration (borrowed; replaced by a reload, so not kept). */
const struct alerter_settings *alerter_config(const struct alerter *a);
/* The on-call overrides in force (borrowed, like the configuration). */
const struct rotation_overrides *alerter_overrides(const struct alerter *a);
/* True while connected to the chat server. */
bool alerter_online(const struct alerter *a);
/* Sends text to a full or bare JID as a chat message of ours; dropped when offline
 * (a reply is worth nothing later). */
void alerter_reply(struct alerter *a, const char *to, const char *text);
/* The unresolved incidents the pager follows: how many, and the i-th one's id
 * (0 <= i < count; the order changes when incidents come and go). */
size_t alerter_tracked_count(const struct alerter *a);
int64_t alerter_tracked_id(const struct alerter *a, size_t i);

#endif
