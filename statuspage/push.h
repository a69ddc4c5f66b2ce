/*
 * push — the push engine: one thread per sink, each with its own libcurl handle,
 * delivering that sink's outbox items strictly in order (ilog_outbox_claim_head): a newer update never overtakes an older
 * one. A failed push is retried with the sink's backoff (exponential, with jitter) or
 * after the remote's Retry-After if that is longer; a request the remote can never
 * accept is given up (and said so). At most `rate` requests per second per sink.
 *
 * Crash safety: an item is completed only after the remote answered 2xx; a process
 * killed mid-push leaves it claimed under a lease, and it is pushed again when the
 * lease ends. What the remote receives twice then is absorbed by idempotency: the
 * webhook's event id and Idempotency-Key, Mastodon's Idempotency-Key, PUT of the same
 * file, PATCH of the same status. (A hosted-status-page incident update posted right
 * before the kill may appear twice there: that API has no idempotency key.)
 */
#ifndef MCSTATUS_PUSH_H
#define MCSTATUS_PUSH_H

#include <pthread.h>
#include <stddef.h>

#include "sink.h"

#define PUSH_BODY_MAX (64u << 10)     /* an answer's body kept for the verdict */
#define PUSH_SITE_FILES_MAX 20000     /* files of the site a put sink mirrors */
#define PUSH_IDLE_POLL_MS 1000        /* look at the outbox at least this often */

struct push;

/*
 * Starts a thread per sink (sinks and site_dir are copied). The threads share the
 * caller's log connection, each call under dblock, which the caller also holds around
 * its own use of log: one connection per process. (A second connection once went on
 * reading an old snapshot here; the cause was ilog_open() closing a descriptor of the
 * file, which dropped this process's SQLite locks, since fixed in lib/ilog.c. One
 * connection stays: the sinks' calls are short.)
 * NULL with err set.
 */
struct push *push_start(struct ilog *log, pthread_mutex_t *dblock,
    const struct sink_conf *sinks, size_t n, const char *site_dir, char *err,
    size_t errlen);
/* New items were enqueued: wake every sink that waits. */
void push_notify(struct push *p);
/* Stops every thread (a request in flight is abandoned, its item retried later by
 * its lease) and frees p. NULL is a no-op. */
void push_stop(struct push *p);

#endif
