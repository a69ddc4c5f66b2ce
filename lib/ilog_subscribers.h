/*
 * ilog_subscribers — the status page's subscribers in the incident log: who asked to be
 * told (an email address or a webhook URL), about which components, and where each one
 * stands in the double opt-in. Owned by mcstatus (statuspage/subscribe.c, mail.c); the
 * messages themselves wait in the outbox (lib/ilog_outbox.h) under the sink name
 * "subscriber:ID", one queue per subscriber, so each subscriber gets them in order.
 *
 * A subscriber's life:
 *   (none) --request--> pending --confirm--> confirmed --unsubscribe--> unsubscribed
 *   pending/confirmed --ILOG_SUB_BOUNCE_LIMIT permanent failures in a row--> dropped
 *   unsubscribed/dropped --request--> pending again (a new nonce: old links die)
 * One row per (kind, address): a second request never adds a row.
 *
 * Every link a subscriber receives is signed over its id and nonce (lib/subtoken.h);
 * the nonce is random, drawn at each (re)subscription, so a link of an earlier
 * subscription of the same address is worthless. Calls write no events: nothing about
 * a subscriber reaches the incidents' timelines or exports.
 */
#ifndef MCOPS_ILOG_SUBSCRIBERS_H
#define MCOPS_ILOG_SUBSCRIBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define ILOG_SUB_ADDRESS_MAX 320     /* an email address (254) or a webhook URL */
#define ILOG_SUB_COMPONENTS_MAX 1100 /* component ids separated by spaces */
#define ILOG_SUB_LIST_MAX 1000       /* subscribers returned by one list call */
#define ILOG_SUB_SINK_PREFIX "subscriber:" /* + id: the subscriber's outbox queue */

enum ilog_sub_kind { ILOG_SUB_EMAIL, ILOG_SUB_WEBHOOK };
enum ilog_sub_state {
	ILOG_SUB_PENDING,      /* asked; the confirmation link not followed yet */
	ILOG_SUB_CONFIRMED,    /* receives updates */
	ILOG_SUB_UNSUBSCRIBED, /* followed an unsubscribe link */
	ILOG_SUB_DROPPED,      /* too many permanent delivery failures in a row */
};

struct ilog_subscriber {
	int64_t id;
	enum ilog_sub_kind kind;
	enum ilog_sub_state state;
	char address[ILOG_SUB_ADDRESS_MAX + 1];
	char components[ILOG_SUB_COMPONENTS_MAX + 1]; /* ids, space-separated; "" = all */
	uint64_t nonce;          /* signed into every link; new at each (re)subscription */
	int64_t created_at;      /* of this subscription (the latest request from none,
	                            unsubscribed or dropped) */
	int64_t confirmed_at;    /* 0 = not confirmed */
	int64_t requested_at;    /* the latest request accepted for this address */
	unsigned failures;       /* permanent delivery failures in a row */
};
struct ilog_subscribers {
	struct ilog_subscriber *v;
	size_t n;
	bool truncated;
};
void ilog_subscribers_release(struct ilog_subscribers *list);

const char *ilog_sub_kind_name(enum ilog_sub_kind k);   /* email webhook */
const char *ilog_sub_state_name(enum ilog_sub_state s); /* pending confirmed ... */

/* What a request for a subscription did (ilog_sub_request). */
enum ilog_sub_request_result {
	ILOG_SUB_ASKED,       /* new, or pending again: send the confirmation */
	ILOG_SUB_NOTHING,     /* already confirmed: nothing to send, nothing changed
	                         (a stranger cannot change someone's components) */
};

/*
 * A request to subscribe address (kind) to components ("" = all; checked by the
 * caller against the page's components) at the log's now:
 *   - ILOG_ERR_FULL ("subscriptions are full") when total_max subscribers are
 *     confirmed, or pending and asked for less than pending_ms ago (a confirmation
 *     link's life: older pending ones can never confirm and count no more), whatever
 *     the address, so the answer says nothing about it;
 *   - ILOG_ERR_STATE when the address's previous accepted request is less than
 *     window_ms old (one confirmation per address per window): nothing changes;
 *   - else *result ASKED (a new row; or a pending one with these components; or an
 *     unsubscribed/dropped one pending again with a new nonce and no failures) or
 *     NOTHING (confirmed), requested_at = now, and *out the row as it now is.
 */
enum ilog_status ilog_sub_request(struct ilog *log, enum ilog_sub_kind kind,
    const char *address, const char *components, uint64_t total_max, int64_t window_ms,
    int64_t pending_ms, enum ilog_sub_request_result *result, struct ilog_subscriber *out,
    char *err, size_t errlen);

/* One subscriber by id, or ILOG_ERR_NOT_FOUND. */
enum ilog_status ilog_sub_get(struct ilog *log, int64_t id, struct ilog_subscriber *out,
    char *err, size_t errlen);

/*
 * Follows a confirmation link of subscriber id with nonce: pending -> confirmed
 * (confirmed_at = now); confirmed already: ILOG_OK, nothing changes. A nonce that is
 * not the subscriber's, or another state: ILOG_ERR_STATE; no such id:
 * ILOG_ERR_NOT_FOUND. *out (may be NULL) gets the row.
 */
enum ilog_status ilog_sub_confirm(struct ilog *log, int64_t id, uint64_t nonce,
    struct ilog_subscriber *out, char *err, size_t errlen);
/* Follows an unsubscribe link: pending or confirmed -> unsubscribed; unsubscribed
 * already: ILOG_OK. Errors as ilog_sub_confirm's. */
enum ilog_status ilog_sub_unsubscribe(struct ilog *log, int64_t id, uint64_t nonce,
    char *err, size_t errlen);

/* A message reached subscriber id: its failures go back to 0. */
enum ilog_status ilog_sub_delivered(struct ilog *log, int64_t id, char *err, size_t errlen);
/* A message to subscriber id failed for good (a 5xx from the mail relay, a 4xx from a
 * webhook): failures + 1, and at limit (>= 1) a pending or confirmed subscriber is
 * dropped (*dropped, may be NULL). */
enum ilog_status ilog_sub_bounced(struct ilog *log, int64_t id, unsigned limit, bool *dropped,
    char *err, size_t errlen);

/* Confirmed subscribers with id > after_id, by id, at most max (<= ILOG_SUB_LIST_MAX;
 * truncated says there are more): the fan-out of an update pages through them. */
enum ilog_status ilog_sub_list_confirmed(struct ilog *log, int64_t after_id, size_t max,
    struct ilog_subscribers *out, char *err, size_t errlen);
/* Counts by state (out[ILOG_SUB_DROPPED + 1]). */
enum ilog_status ilog_sub_count(struct ilog *log, uint64_t out[4], char *err, size_t errlen);

/*
 * The subscribers whose outbox queue's oldest unfinished item is due at now (the only
 * item ilog_outbox_claim_head would give), by due time, at most max: what the mail
 * sender works on next. ids: max entries; *n set.
 */
enum ilog_status ilog_sub_due(struct ilog *log, size_t max, int64_t *ids, size_t *n,
    char *err, size_t errlen);

#endif
