/*
 * command — the chat commands engineers send the pager, parsed (pure; alerter.c
 * checks who sent them and carries them out):
 *     ack [N] [words...]      acknowledge incident N (without N: your latest page);
 *                             the words become the acknowledgement's message
 *     resolve N [words...]    resolve incident N
 *     status                  who is on call, what is being paged
 *     incidents               the unresolved incidents
 *     help                    this list
 * Verbs are case-insensitive; N may be written "#42". Leading and trailing blanks
 * are ignored.
 */
#ifndef MCOPS_ALERTER_COMMAND_H
#define MCOPS_ALERTER_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#define COMMAND_TEXT_MAX 1024   /* longer messages are refused, not parsed */
#define COMMAND_WORD_MAX 32     /* the verb as typed, kept for "unknown command" */

enum command_verb {
	COMMAND_ACK,
	COMMAND_RESOLVE,
	COMMAND_STATUS,
	COMMAND_INCIDENTS,
	COMMAND_HELP,
	COMMAND_EMPTY,    /* nothing but blanks */
	COMMAND_UNKNOWN,  /* word holds the verb */
	COMMAND_BAD,      /* a known verb with bad arguments; error says what */
	COMMAND_TOO_LONG, /* more than COMMAND_TEXT_MAX bytes */
};

struct command {
	enum command_verb verb;
	int64_t id;                       /* 0: not given */
	char word[COMMAND_WORD_MAX + 1];
	char message[COMMAND_TEXT_MAX + 1]; /* words after the id, "" if none */
	char error[128];
};

/* Parses text (NUL-terminated, any bytes). Never fails: see verb. */
void command_parse(const char *text, struct command *out);

/* The help text, one line per command. */
const char *command_help(void);

#endif
