/*
 * command — the chat commands engineers send the pager, parsed (pure; alerter.c
 * checks who sent them and carries them out):
 *     ack [N] [words...]      acknowledge incident N (without N: your latest page);
 *                             the words become the acknowledgement's message
 *     resolve N [words...]    resolve incident N
 *     status                  who is on call, what is being paged
 *     incidents               the unresolved incidents
 *     run K [N]               run suggestion K (1..ILOG_REMEDY_MAX) of incident N
 *                             (without N: of your latest page); asks for a "yes"
 *     yes                     go on with the remedy just asked about
 *     silence C D [words...]  hold cluster C's pages for D (up to COMMAND_SILENCE_MAX_MS)
 *     maintenance C D [title...]  a public maintenance of C for D, starting now (up to
 *                             COMMAND_MAINTENANCE_MAX_MS)
 *     help                    this list
 * Verbs are case-insensitive; N may be written "#42". Leading and trailing blanks
 * are ignored. D is a duration ("30m", "1h30m"; lib/parse.h), at least
 * COMMAND_DURATION_MIN_MS; C a valid cluster name (lib/cluster.h).
 */
#ifndef MCOPS_ALERTER_COMMAND_H
#define MCOPS_ALERTER_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

#define COMMAND_TEXT_MAX 1024   /* longer messages are refused, not parsed */
#define COMMAND_WORD_MAX 32     /* the verb as typed, kept for "unknown command" */
#define COMMAND_DURATION_MIN_MS 60000                  /* silence, maintenance: 1 min */
#define COMMAND_SILENCE_MAX_MS (24 * 3600 * 1000LL)    /* a silence: 24 h at most */
#define COMMAND_MAINTENANCE_MAX_MS (7 * 86400 * 1000LL) /* a maintenance: 7 days */

enum command_verb {
	COMMAND_ACK,
	COMMAND_RESOLVE,
	COMMAND_STATUS,
	COMMAND_INCIDENTS,
	COMMAND_HELP,
	COMMAND_RUN,
	COMMAND_YES,
	COMMAND_SILENCE,
	COMMAND_MAINTENANCE,
	COMMAND_EMPTY,    /* nothing but blanks */
	COMMAND_UNKNOWN,  /* word holds the verb */
	COMMAND_BAD,      /* a known verb with bad arguments; error says what */
	COMMAND_TOO_LONG, /* more than COMMAND_TEXT_MAX bytes */
};

struct command {
	enum command_verb verb;
	int64_t id;                       /* 0: not given */
	int number;                       /* run: the suggestion's number */
	char cluster[CLUSTER_NAME_MAX + 1]; /* silence, maintenance */
	int64_t duration_ms;              /* silence, maintenance */
	char word[COMMAND_WORD_MAX + 1];
	char message[COMMAND_TEXT_MAX + 1]; /* words after the id, "" if none */
	char error[128];
};

/* Parses text (NUL-terminated, any bytes). Never fails: see verb. */
void command_parse(const char *text, struct command *out);

/* The help text, one line per command. */
const char *command_help(void);

#endif
