/*
 * command — see command.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "command.h"
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
	if (strcasecmp(out->word, "status") == 0)
		out->verb = COMMAND_STATUS;
	else if (strcasecmp(out->word, "incidents") == 0)
		out->verb = COMMAND_INCIDENTS;
	else if (strcasecmp(out->word, "help") == 0 || strcmp(out->word, "?") == 0)
		out->verb = COMMAND_HELP;
	else
		out->verb = COMMAND_UNKNOWN;
}
