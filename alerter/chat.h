/*
 * chat — the commands engineers send mcalert (command.h parses them): who may, what
 * each does to the log, and the replies.
 *
 * Only authorized JIDs (settings.h) are obeyed. Anyone else gets one refusal per
 * CHAT_REFUSAL_PERIOD_MS and one line in the daemon's log, ever; nothing else
 * happens. Every change is recorded with the actor "xmpp:<bare JID>".
 *
 * A struct chat holds what the commands remember between messages (the refusals); it
 * reaches the log, the configuration and the chat server only through daemon.h.
 */
#ifndef MCOPS_ALERTER_CHAT_H
#define MCOPS_ALERTER_CHAT_H

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
/* A chat message from a full JID: a command, obeyed and answered. */
void chat_message(struct chat *c, const char *from, const char *body);

#endif
