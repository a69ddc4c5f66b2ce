/*
 * mailer — delivers what subscribe.h queued: one thread that works through the
 * subscribers' outbox queues ("subscriber:ID", each strictly in order with
 * ilog_outbox_claim_head) and sends each message once: email over SMTP with libcurl
 * (smtp:// upgraded with STARTTLS when the relay offers it, or smtps://; the
 * configured user and password), webhook messages as JSON POSTs.
 *
 * Outcomes: a message accepted is completed and the subscriber's failure count goes
 * back to 0; a temporary failure (an SMTP 4xx, no connection, a timeout; for a
 * webhook what sink_judge() retries) is retried with the [subscribers] backoff; a
 * permanent one (an SMTP 5xx; a webhook's other 4xx) gives the message up and counts
 * a bounce: bounce_limit in a row drop the subscriber. Messages queued for someone
 * who is no longer confirmed (or a confirmation for someone no longer pending) are
 * completed unsent. The log never holds a message's text: it is built at each attempt
 * from the queued item and the subscriber's row (the links from the secret).
 */
#ifndef MCSTATUS_MAILER_H
#define MCSTATUS_MAILER_H

#include <pthread.h>
#include <stdbool.h>

#include "subscribe.h"

#define MAILER_BATCH 64          /* queues looked at per round */
#define MAILER_IDLE_POLL_MS 1000 /* look at the outbox at least this often */
#define MAILER_LEASE_SLACK_MS 30000

struct mailer;

/* Starts the thread (conf and sp copied). log is used under dblock, as push.h's. NULL
 * with err set. conf->on false: a mailer that sends nothing (and starts no thread). */
struct mailer *mailer_start(struct ilog *log, pthread_mutex_t *dblock,
    const struct subs_conf *conf, const struct sp_config *sp, char *err, size_t errlen);
void mailer_notify(struct mailer *m);
/* Stops the thread (a message in flight is abandoned: its lease brings it back) and
 * frees m. NULL is a no-op. */
void mailer_stop(struct mailer *m);

enum mailer_outcome {
	MAILER_SENT,
	MAILER_TEMPORARY,  /* retried with the backoff */
	MAILER_PERMANENT,  /* the recipient's: given up, a bounce counted */
	MAILER_UNSENDABLE, /* ours (a queued item that is not a message): given up, no bounce */
};
/* What an SMTP attempt's result means: curl_code (CURLcode) and the relay's last
 * reply code (0 if none). */
enum mailer_outcome mailer_smtp_outcome(int curl_code, long reply);

#endif
