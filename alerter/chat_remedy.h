/*
 * chat_remedy — the chat commands that act on the service: "run K [N]" asks what a
 * page's suggestion would do and waits for the sender's "yes" (confirm.h), "yes" runs
 * it through lib/remedy.h, the code mctl runs, and records the same event on the
 * incident with the engineer as actor ("xmpp:<bare JID>"). chat.c checks the sender
 * is authorised before calling here and sends the reply.
 *
 * Blocking: the nodes' admin ports are asked on the daemon's loop, each exchange
 * bounded by CHAT_REMEDY_TIMEOUT_MS.
 */
#ifndef MCOPS_ALERTER_CHAT_REMEDY_H
#define MCOPS_ALERTER_CHAT_REMEDY_H

#include <stddef.h>
#include <stdint.h>

#include "alerter.h"
#include "confirm.h"

#define CHAT_REMEDY_TIMEOUT_MS 3000   /* each node's admin exchange */

/*
 * "run number" of incident_id (0: the sender has no unresolved page) from bare (actor
 * its actor) at now: the question, or why not, into out[len]; a wait in cf.
 */
void chat_remedy_run(struct alerter *a, struct confirm *cf, const char *bare,
    int64_t incident_id, int number, int64_t now, char *out, size_t len);

/* "yes" from bare: runs what it waits for, or says why not, into out[len]. */
void chat_remedy_yes(struct alerter *a, struct confirm *cf, const char *bare,
    const char *actor, int64_t now, char *out, size_t len);

#endif
