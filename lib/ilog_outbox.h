/*
 * ilog_outbox — the status publisher's pending pushes in the incident log: one item
 * per (sink, payload), with its attempts, the next attempt's time and the last error,
 * so that a remote that is down for an hour loses nothing and a restarted publisher
 * pushes each update once. Owned by mcstatus (statuspage/); `mctl statuspage` reads a
 * sink's queue. The log itself (open, errors, concurrency, incidents, events) is
 * lib/ilog.h.
 *
 * How the outbox meets the shared part: an item may name the event it publishes
 * (event_id), which must exist; the clock's random generator (struct ilog_clock)
 * spreads retries; ilog_prune() removes items finished before its cut-off. Outbox
 * calls write no events.
 */
#ifndef MCOPS_ILOG_OUTBOX_H
#define MCOPS_ILOG_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define ILOG_SINK_MAX 64          /* outbox sink names */
#define ILOG_OUTBOX_CLAIM_MAX 100 /* items returned by one claim */
#define ILOG_OUTBOX_MAX 10000     /* unfinished items one sink may hold */

/*
 * Retry policy of a failed push. After the n-th failed attempt (n >= 1) the next
 * attempt is due after
 *     d = min(max_ms, base_ms * 2^(n-1));   delay = d/2 + random() % (d/2 + 1)
 * ("equal jitter": never less than half the backoff, spread over the other half), or
 * after retry_after_ms if the remote asked for longer. After max_attempts failed
 * attempts the item is given up: never claimed again, last_error says why.
 */
struct ilog_backoff {
	int64_t base_ms;       /* e.g. 1000 */
	int64_t max_ms;        /* e.g. 3600000 */
	unsigned max_attempts; /* e.g. 20; 0 = never give up */
};

struct ilog_outbox_item {
	int64_t id;
	char sink[ILOG_SINK_MAX + 1];
	int64_t event_id;        /* 0 for none */
	char *payload_json;      /* owned by the list holding the item */
	unsigned attempts;       /* attempts started, including the current claim */
	int64_t created_at;
	int64_t next_attempt_at;
	int64_t done_at;         /* 0 = not done */
	int64_t gave_up_at;      /* 0 = not given up */
	char last_error[ILOG_ERR_LEN];
};
struct ilog_outbox_items {
	struct ilog_outbox_item *v;
	size_t n;
};
void ilog_outbox_items_release(struct ilog_outbox_items *list);

/*
 * Enqueues a push for sink, due now. payload_json: a JSON value, at most
 * ILOG_BODY_MAX bytes. Idempotent per (sink, event_id) when event_id != 0: enqueuing
 * the same event for the same sink again returns the existing item's id (*created
 * false), so a publisher replaying events after a crash pushes each once. More than
 * ILOG_OUTBOX_MAX unfinished items for one sink: ILOG_ERR_FULL. created may be NULL.
 */
enum ilog_status ilog_outbox_enqueue(struct ilog *log, const char *sink, int64_t event_id,
    const char *payload_json, int64_t *item_id, bool *created, char *err, size_t errlen);

/*
 * ilog_outbox_enqueue() of one event's payload for each of sinks[0..n) (n at most
 * ILOG_OUTBOX_BATCH_MAX; event_id required) in one transaction, for a publisher that
 * fans one change out to many queues (the subscribers'). A sink whose outbox is full
 * is skipped and counted in *full instead of failing the batch, so one queue that
 * never drains cannot hold up the others. *created and *full may be NULL.
 */
#define ILOG_OUTBOX_BATCH_MAX 1000
enum ilog_status ilog_outbox_enqueue_batch(struct ilog *log, const char *const *sinks,
    size_t n, int64_t event_id, const char *payload_json, size_t *created, size_t *full,
    char *err, size_t errlen);

/*
 * Claims up to max (<= ILOG_OUTBOX_CLAIM_MAX) due items of sink (NULL: any sink),
 * oldest due first: each one's attempts is incremented and next_attempt_at moved to
 * now + lease_ms, so a process that dies mid-push leaves the item to be retried after
 * the lease, and two claimers never get the same item within a lease. Replaces out's
 * content.
 */
enum ilog_status ilog_outbox_claim(struct ilog *log, const char *sink, size_t max,
    int64_t lease_ms, struct ilog_outbox_items *out, char *err, size_t errlen);
/* The push succeeded: done_at = now. Completing a finished item is ILOG_ERR_STATE. */
enum ilog_status ilog_outbox_complete(struct ilog *log, int64_t item_id, char *err,
    size_t errlen);
/*
 * The push failed with error_text (kept in last_error, cut to ILOG_ERR_LEN-1):
 * schedules the next attempt by policy and retry_after_ms (0 if the remote gave no
 * hint), or gives the item up after policy->max_attempts. *gave_up (may be NULL) says
 * which; *next_at (may be NULL) gets the next attempt time (0 if given up).
 */
enum ilog_status ilog_outbox_fail(struct ilog *log, int64_t item_id, const char *error_text,
    const struct ilog_backoff *policy, int64_t retry_after_ms, bool *gave_up,
    int64_t *next_at, char *err, size_t errlen);
/* One item by id (to inspect its state), or ILOG_ERR_NOT_FOUND. out's payload is
 * owned by out: free it with ilog_outbox_item_release(). */
enum ilog_status ilog_outbox_get(struct ilog *log, int64_t item_id,
    struct ilog_outbox_item *out, char *err, size_t errlen);
void ilog_outbox_item_release(struct ilog_outbox_item *item);
/* Unfinished (not done, not given up) items of sink (NULL: all) and the earliest time
 * one of them is due (0 if none): how long a publisher may sleep. */
enum ilog_status ilog_outbox_pending(struct ilog *log, const char *sink, size_t *count,
    int64_t *next_due, char *err, size_t errlen);

/*
 * In-order delivery for one sink: claims, as ilog_outbox_claim() does, the sink's
 * oldest unfinished item (the lowest id) if it is due. A newer item is never claimed
 * while an older one of the same sink is unfinished, so a sink receives its pushes in
 * the order they were enqueued. If the oldest is not due yet, or there is none:
 * ILOG_ERR_NOT_FOUND, nothing changed, and *next_due (may be NULL) = when it is due
 * (0 if there is none). out: free with ilog_outbox_item_release().
 */
enum ilog_status ilog_outbox_claim_head(struct ilog *log, const char *sink, int64_t lease_ms,
    struct ilog_outbox_item *out, int64_t *next_due, char *err, size_t errlen);

/* A sink's queue, for operators. Release with ilog_outbox_stats_release(). */
struct ilog_outbox_stats {
	size_t pending;              /* unfinished */
	size_t done;
	size_t gave_up;
	int64_t last_done_at;        /* 0 if none */
	int64_t last_gave_up_at;     /* 0 if none */
	bool has_head;
	struct ilog_outbox_item head; /* the oldest unfinished: attempts, next attempt,
	                                 last_error (why it is still waiting) */
};
enum ilog_status ilog_outbox_stats(struct ilog *log, const char *sink,
    struct ilog_outbox_stats *out, char *err, size_t errlen);
void ilog_outbox_stats_release(struct ilog_outbox_stats *s);

#endif
