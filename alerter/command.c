/*
 * command — see command.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "ilog_remedy.h"
#include "parse.h"

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *
command_help(void)
{
	return "Commands:\n"
	       "  ack N [note]      acknowledge incident N (stops its paging)\n"
	       "  ack               acknowledge the incident of your latest page\n"
	       "  resolve N [note]  resolve incident N\n"
	       "  status            who is on call, what is being paged\n"
	       "  incidents         the unresolved incidents\n"
	       "  run K [N]         run suggestion K of incident N (default: your latest "
	       "page)\n"
	       "  yes               confirm the remedy just asked about (within a minute)\n"
	       "  silence C 30m     hold cluster C's pages for a while (at most 24h)\n"
	       "  maintenance C 1h [title]  a public maintenance of C from now (at most 7d)\n"
	       "  help              this list";
}

/* The longest prefix of s[0..n) of at most max bytes that does not end inside a UTF-8
 * character: a quoted word cut in the middle of one would be text no XML may carry. */
static int
cut_len(const char *s, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return (int)n;
	k = max;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--; /* s[k] continues a character that started before it */
	return (int)k;
}

/* Copies the rest of the text (trimmed) into out->message. */
static void
take_message(const char *p, struct command *out)
{
	size_t len;

	while (blank(*p))
		p++;
	len = strlen(p);
	while (len > 0 && blank(p[len - 1]))
		len--;
	if (len > COMMAND_TEXT_MAX)
		len = COMMAND_TEXT_MAX;
	memcpy(out->message, p, len);
	out->message[len] = '\0';
}

/* Reads an incident number at *p ("42" or "#42"), advancing past it. */
static int
take_id(const char **p, int64_t *id)
{
	const char *s = *p;
	size_t len;
	uint64_t v;

	if (*s == '#')
		s++;
	len = strcspn(s, " \t\r\n");
	if (len == 0 || parse_u64_n(s, len, 1, INT64_MAX, &v) != 0)
		return -1;
	*id = (int64_t)v;
	*p = s + len;
	return 0;
}

/* The word at *p (up to a blank), advancing past it and the blanks after it. */
static size_t
take_word(const char **p, const char **word)
{
	size_t len = strcspn(*p, " \t\r\n");

	*word = *p;
	*p += len;
	while (blank(**p))
		(*p)++;
	return len;
}

/* run K [N] */
static void
parse_run(const char *p, struct command *out)
{
	const char *w;
	size_t len = take_word(&p, &w);
	uint64_t k;

	out->verb = COMMAND_BAD;
	if (len == 0) {
		snprintf(out->error, sizeof(out->error),
		    "run needs a suggestion's number: run 1 (or run 1 #42)");
		return;
	}
	if (parse_u64_n(w, len, 1, ILOG_REMEDY_MAX, &k) != 0) {
		snprintf(out->error, sizeof(out->error), "'%.*s' is not a suggestion's number "
		    "(1 to %d)", cut_len(w, len, 20), w, ILOG_REMEDY_MAX);
		return;
	}
	out->number = (int)k;
	if (*p != '\0') {
		if (take_id(&p, &out->id) != 0) {
			snprintf(out->error, sizeof(out->error), "'%.*s' is not an incident number",
			    cut_len(p, strcspn(p, " \t\r\n"), 20), p);
			return;
		}
		while (blank(*p))
			p++;
		if (*p != '\0') {
			snprintf(out->error, sizeof(out->error), "run takes a number and an "
			    "incident, nothing more");
			return;
		}
	}
	out->verb = COMMAND_RUN;
}

/* silence C D [words], maintenance C D [title] */
static void
parse_hold(const char *p, enum command_verb verb, struct command *out)
{
	const char *name = verb == COMMAND_SILENCE ? "silence" : "maintenance";
	int64_t max = verb == COMMAND_SILENCE ? COMMAND_SILENCE_MAX_MS : COMMAND_MAINTENANCE_MAX_MS;
	char d[16];
	const char *c, *w;
	size_t clen = take_word(&p, &c), len;

	out->verb = COMMAND_BAD;
	len = take_word(&p, &w);
	if (clen == 0 || len == 0) {
		snprintf(out->error, sizeof(out->error), "%s needs a cluster and a duration: "
		    "%s c1 %s", name, name, verb == COMMAND_SILENCE ? "30m" : "1h");
		return;
	}
	if (clen > CLUSTER_NAME_MAX) {
		snprintf(out->error, sizeof(out->error), "'%.*s...' is not a cluster name",
		    cut_len(c, clen, 20), c);
		return;
	}
	memcpy(out->cluster, c, clen);
	out->cluster[clen] = '\0';
	if (!cluster_name_valid(out->cluster)) {
		snprintf(out->error, sizeof(out->error), "'%.*s' is not a cluster name",
		    cut_len(c, clen, 20), c);
		out->cluster[0] = '\0';
		return;
	}
	d[0] = '\0';
	if (len < sizeof(d)) {
		memcpy(d, w, len);
		d[len] = '\0';
	}
	if (d[0] == '\0' || parse_duration_ms(d, &out->duration_ms) != 0 ||
	    out->duration_ms < COMMAND_DURATION_MIN_MS || out->duration_ms > max) {
		snprintf(out->error, sizeof(out->error), "'%.*s' is not a duration from 1m to %s "
		    "(30m, 1h30m)", cut_len(w, len, 20), w, verb == COMMAND_SILENCE ? "24h" : "7d");
		out->duration_ms = 0;
		return;
	}
	take_message(p, out);
	out->verb = verb;
}

void
command_parse(const char *text, struct command *out)
{
	const char *p = text, *word;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (strnlen(text, COMMAND_TEXT_MAX + 1) > COMMAND_TEXT_MAX) {
		out->verb = COMMAND_TOO_LONG;
		return;
	}
	while (blank(*p))
		p++;
	if (*p == '\0') {
		out->verb = COMMAND_EMPTY;
		return;
	}
	word = p;
	len = strcspn(p, " \t\r\n");
	p += len;
	snprintf(out->word, sizeof(out->word), "%.*s", cut_len(word, len, COMMAND_WORD_MAX),
	    word);
	while (blank(*p))
		p++;
	if (strcasecmp(out->word, "ack") == 0 || strcasecmp(out->word, "resolve") == 0) {
		out->verb = strcasecmp(out->word, "ack") == 0 ? COMMAND_ACK : COMMAND_RESOLVE;
		if (*p == '\0') {
			if (out->verb == COMMAND_RESOLVE) {
				out->verb = COMMAND_BAD;
				snprintf(out->error, sizeof(out->error),
				    "resolve needs an incident number: resolve 42");
			}
			return;
		}
		if (take_id(&p, &out->id) != 0) {
			snprintf(out->error, sizeof(out->error), "'%.*s' is not an incident number",
			    cut_len(p, strcspn(p, " \t\r\n"), 20), p);
			out->verb = COMMAND_BAD;
			return;
		}
		take_message(p, out);
		return;
	}
	if (strcasecmp(out->word, "run") == 0) {
		parse_run(p, out);
		return;
	}
	if (strcasecmp(out->word, "silence") == 0 || strcasecmp(out->word, "maintenance") == 0) {
		parse_hold(p, strcasecmp(out->word, "silence") == 0 ? COMMAND_SILENCE :
		    COMMAND_MAINTENANCE, out);
		return;
	}
	if (strcasecmp(out->word, "yes") == 0) {
		out->verb = COMMAND_YES;
		if (*p != '\0') {
			out->verb = COMMAND_BAD;
			snprintf(out->error, sizeof(out->error), "yes takes nothing after it");
		}
		return;
	}
	if (strcasecmp(out->word, "status") == 0)
		out->verb = COMMAND_STATUS;
	else if (strcasecmp(out->word, "incidents") == 0)
		out->verb = COMMAND_INCIDENTS;
	else if (strcasecmp(out->word, "help") == 0 || strcmp(out->word, "?") == 0)
		out->verb = COMMAND_HELP;
	else
		out->verb = COMMAND_UNKNOWN;
}
