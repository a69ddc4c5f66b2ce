/*
 * chat — the commands engineers send mcalert (command.h parses them): who may, what
 * each does to the log, and the replies.
 *
 * Only authorized JIDs (settings.h) are obeyed. Anyone else gets one refusal per
 * CHAT_REFUSAL_PERIOD_MS and one line in the daemon's log, ever; nothing else
 * happens. Every change is recorded with the actor "xmpp:<bare JID>".
 *
 * A struct chat holds what the commands remember between messages (the refusals, the
 * questions waiting for a "yes", the remedy running off the loop: chat_remedy.h); it
 * reaches the log, the configuration and the chat server only through daemon.h.
 */
#ifndef MCOPS_ALERTER_CHAT_H
#define MCOPS_ALERTER_CHAT_H

#include <stdbool.h>

#include "alerter.h"

#define CHAT_REFUSED_MAX 256          /* senders whose refusal is remembered */
#define CHAT_REFUSAL_PERIOD_MS 60000  /* one refusal per sender per period */
#define CHAT_LIST_SHOWN 20            /* incidents listed by "incidents" */
#define CHAT_REPLY_MAX 4096

struct chat;

/* The commands of daemon a (borrowed for the chat's life). NULL when out of memory. */
struct chat *chat_new(struct alerter *a);
/* NULL is a no-op. */
void chat_free(struct chat *c);
/* A chat message from a full JID: a command, obeyed and answered (a remedy's
 * question or outcome later, by chat_poll). */
void chat_message(struct chat *c, const char *from, const char *body);
/* Once a loop round: finishes a remedy whose nodes answered; wait: waits for it. */
void chat_poll(struct chat *c, bool wait);
/* Whether a remedy is out (the configuration must not be replaced meanwhile). */
bool chat_busy(const struct chat *c);

#endif
