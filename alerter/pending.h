/*
 * pending — the pager's writes that the incident log refused because it was busy
 * (another process held its write lock: a backup, a CLI, a stuck process), kept in
 * order and written again at the next tick, so that a busy log delays a receipt, an
 * acknowledgement or a "page_sent" record but never loses one.
 *
 * A struct log_write is one write as data (an event to append, an acknowledgement, a
 * resolution, a page mark), so that the same write can be tried now and, if the log
 * refuses it, queued and tried again. Escalation decisions are not queued: they are
 * decided again from the log at every round, so one that could not be recorded is
 * simply decided again.
 *
 * Ownership: a struct pending is caller-owned (pending_init / pending_release); it
 * copies what it is given. Not thread-safe: the daemon's loop only.
 */
#ifndef MCOPS_ALERTER_PENDING_H
#define MCOPS_ALERTER_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "ilog.h"
#include "ilog_pages.h"

#define PENDING_MAX 256          /* writes waiting at once; more are dropped, counted */
#define PENDING_TEXT_MAX 2048    /* bytes of a body, message or detail, with its NUL */

enum log_write_kind {
	LOG_WRITE_EVENT,             /* ilog_event_append(incident, actor, type, text) */
	LOG_WRITE_ACK,               /* ilog_incident_ack(incident, actor, text) */
	LOG_WRITE_RESOLVE,           /* ilog_incident_resolve(incident, actor, text) */
	LOG_WRITE_PAGE_MARK,         /* ilog_page_mark(page, mark, actor, text) */
};

struct log_write {
	enum log_write_kind kind;
	int64_t incident_id;         /* EVENT (0: none), ACK, RESOLVE; PAGE_MARK: its
	                                incident, for the caller */
	int64_t page_id;             /* PAGE_MARK */
	enum ilog_page_mark mark;    /* PAGE_MARK */
	char actor[ILOG_ACTOR_MAX + 1];
	char type[ILOG_TYPE_MAX + 1];/* EVENT */
	char text[PENDING_TEXT_MAX]; /* EVENT: the body JSON ("" = {}); ACK, RESOLVE: the
	                                message; PAGE_MARK: the detail; "" = none */
};

/* Does w now. ILOG_ERR_DB when the log refused it (busy, among others), with err. */
enum ilog_status log_write_apply(struct ilog *log, const struct log_write *w, char *err,
    size_t errlen);

struct pending {
	struct log_write *v;         /* PENDING_MAX */
	size_t n;
	uint64_t dropped;            /* refused for want of room, since start */
};

/* 0, or -1 when out of memory. */
int pending_init(struct pending *p);
void pending_release(struct pending *p);
/* Queues a copy of w after the others, unless the same write already waits. -1 if
 * PENDING_MAX are waiting (w is dropped and counted). */
int pending_add(struct pending *p, const struct log_write *w);

/*
 * Writes the queued writes in order. Stops at the first the log refuses
 * (ILOG_ERR_DB, returned with err; it and those after it stay queued). A write the
 * log rejects for another reason (the incident was resolved meanwhile, ...) can never
 * succeed: it is removed and passed to dropped(arg, w, status, err), as is each write
 * done to done(arg, w); either may be NULL.
 */
enum ilog_status pending_flush(struct pending *p, struct ilog *log,
    void (*done)(void *arg, const struct log_write *w),
    void (*dropped)(void *arg, const struct log_write *w, enum ilog_status st,
        const char *err),
    void *arg, char *err, size_t errlen);

#endif
