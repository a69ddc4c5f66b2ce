/*
 * chat_remedy — the chat commands that act on the service: "run K [N]" asks what a
 * page's suggestion would do and waits for the sender's "yes" (confirm.h), "yes" runs
 * it through lib/remedy.h, the code mctl runs, and records the same event on the
 * incident with the engineer as actor ("xmpp:<bare JID>"). chat.c checks the sender
 * is authorised before calling here and sends the reply.
 *
 * Never blocking: what waits on the nodes (a rebalance's plan, the remedy itself, a
 * connlimit's file) runs on a worker thread, one remedy at a time, each node's
 * exchange bounded by [alerter] remedy_timeout; the loop keeps paging meanwhile and
 * finishes the job (the question, or the outcome recorded and said) when the worker is
 * done. A second "run" or "yes" while one is out is told to wait.
 */
#ifndef MCOPS_ALERTER_CHAT_REMEDY_H
#define MCOPS_ALERTER_CHAT_REMEDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerter.h"
#include "confirm.h"

#define CHAT_REMEDY_TO_MAX 1400      /* a full JID a reply goes to (bare + resource) */
#define CHAT_REMEDY_REPLY_MAX 4096   /* a finished job's reply */

struct chat_remedy;

struct chat_remedy *chat_remedy_new(void);

/* Joins a job still out without finishing it (see chat_remedy_poll(..., true)). */
void chat_remedy_free(struct chat_remedy *cr);

/* Whether a job is out (the running configuration must stay until it is done). */
bool chat_remedy_busy(const struct chat_remedy *cr);

/*
 * On the loop: finishes the job whose worker is done (with wait, waits for it: at
 * shutdown, so that a remedy that ran is recorded), replying to its sender.
 */
void chat_remedy_poll(struct alerter *a, struct chat_remedy *cr, struct confirm *cf,
    bool wait);

/*
 * "run number" of incident_id (0: the sender has no unresolved page) from bare (full
 * JID to) at now: out[len] gets why not, or stays "" while the plan is made off the
 * loop (the question follows from chat_remedy_poll; the wait goes into cf).
 */
void chat_remedy_run(struct alerter *a, struct chat_remedy *cr, struct confirm *cf,
    const char *to, const char *bare, int64_t incident_id, int number, int64_t now,
    char *out, size_t len);

/* "yes" from bare (actor its actor): why not into out[len], or "" while it runs. */
void chat_remedy_yes(struct alerter *a, struct chat_remedy *cr, struct confirm *cf,
    const char *to, const char *bare, const char *actor, int64_t now, char *out, size_t len);

#endif
