/*
 * ilog_pages — the pager's state in the incident log: who was paged for an incident at
 * which escalation step, whether the page was delivered, displayed or failed, and the
 * next escalation deadline, so that a restarted pager continues every escalation where
 * it stood. Owned by mcalert (alerter/); `mctl show` reads an incident's pages. The
 * log itself (open, errors, concurrency, incidents, events) is lib/ilog.h.
 *
 * How pages meet the shared part: every call below writes its event ("paged",
 * "delivered", "displayed", "page_failed") in the same transaction as the page, so a
 * consumer tailing the events sees each one; ilog_incident_ack() stamps acked_at on
 * the incident's pages (an acknowledgement stops escalation); pages of resolved
 * incidents are never due; ilog_prune() removes an incident's pages with it.
 *
 * Event bodies (JSON objects) written here:
 *   paged         {"page_id", "step", "target", ...extra of ilog_page_escalate()}
 *   delivered / displayed / page_failed   {"page_id", "target", "detail"?}
 */
#ifndef MCOPS_ILOG_PAGES_H
#define MCOPS_ILOG_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define ILOG_TARGET_MAX 512 /* a page target: a JID or a room */
#define ILOG_PAGES_MAX 1000 /* pages returned by one call */

#define ILOG_EV_PAGED "paged"
#define ILOG_EV_DELIVERED "delivered"
#define ILOG_EV_DISPLAYED "displayed"
#define ILOG_EV_PAGE_FAILED "page_failed"

struct ilog_page {
	int64_t id;
	int64_t incident_id;
	int step;                      /* escalation step, the pager's numbering */
	char target[ILOG_TARGET_MAX + 1];
	int64_t sent_at;
	int64_t delivered_at;          /* 0 = not yet (a receipt: a device got it) */
	int64_t displayed_at;          /* 0 = not yet (a marker: it was shown) */
	int64_t failed_at;             /* 0 = no failure (bounce, target offline) */
	int64_t acked_at;              /* 0 = the incident was not acknowledged since */
	int64_t next_deadline;         /* 0 = none pending */
	char detail[ILOG_MESSAGE_MAX + 1]; /* failure text, "" if none */
};
struct ilog_pages {
	struct ilog_page *v;
	size_t n;
	bool truncated;
};
void ilog_pages_release(struct ilog_pages *list);

/*
 * Records a page sent now to target at step, with its escalation deadline (0 for
 * none), and a "paged" event, in one transaction. The incident must be unresolved
 * (ILOG_ERR_STATE otherwise). *page_id (may be NULL) gets the page's id.
 */
enum ilog_status ilog_page_insert(struct ilog *log, int64_t incident_id, int step,
    const char *target, int64_t next_deadline, const char *actor, int64_t *page_id,
    char *err, size_t errlen);

enum ilog_page_mark {
	ILOG_PAGE_DELIVERED, /* sets delivered_at, "delivered" event */
	ILOG_PAGE_DISPLAYED, /* sets displayed_at, "displayed" event */
	ILOG_PAGE_FAILED,    /* sets failed_at and detail, "page_failed" event */
};
/*
 * Marks a page. Idempotent: a mark already set keeps its first time and writes no
 * second event (*event_id = 0). detail: NULL or up to ILOG_MESSAGE_MAX bytes.
 */
enum ilog_status ilog_page_mark(struct ilog *log, int64_t page_id, enum ilog_page_mark mark,
    const char *actor, const char *detail, int64_t *event_id, char *err, size_t errlen);
/*
 * One escalation step, atomically: records a page as ilog_page_insert() does and, in
 * the same transaction, clears the next_deadline of every other page of the incident.
 * So an incident never has two pending deadlines, and a crash can never leave "the
 * next step paged" without "the previous step's deadline stopped" (or the reverse).
 * extra_json: NULL, or a JSON object whose members are added to the "paged" event's
 * body (page_id, step and target always come from the page: extra cannot replace
 * them). *page_id and *event_id (the "paged" event) may be NULL.
 */
enum ilog_status ilog_page_escalate(struct ilog *log, int64_t incident_id, int step,
    const char *target, int64_t next_deadline, const char *extra_json, const char *actor,
    int64_t *page_id, int64_t *event_id, char *err, size_t errlen);
/* Sets (or with 0 clears) a page's next escalation deadline. No event. */
enum ilog_status ilog_page_set_deadline(struct ilog *log, int64_t page_id, int64_t deadline,
    char *err, size_t errlen);
/* An incident's pages, oldest first. */
enum ilog_status ilog_page_list(struct ilog *log, int64_t incident_id, struct ilog_pages *out,
    char *err, size_t errlen);
/*
 * Pages of unresolved incidents whose next_deadline is set and <= until, earliest
 * deadline first: what the pager must act on now (until = now) or soon. Pages of
 * acknowledged incidents are included (an acknowledgement timeout re-pages them);
 * the pager decides from the incident's state what a deadline means.
 */
enum ilog_status ilog_page_due(struct ilog *log, int64_t until, struct ilog_pages *out,
    char *err, size_t errlen);
/* The earliest pending deadline of any unresolved incident's page; 0 if none. */
enum ilog_status ilog_page_next_deadline(struct ilog *log, int64_t *deadline, char *err,
    size_t errlen);

#endif
