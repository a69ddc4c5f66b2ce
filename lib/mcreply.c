/*
 * mcreply — see mcreply.h.
 */
#include <stdint.h>
#include <string.h>

#include "mcreply.h"
#include "parse.h"

#define INCR_DIGITS_MAX 20 /* an incr/decr reply: a 64-bit unsigned number */

/* The texts below name the caps. */
_Static_assert(MCREPLY_MAX == 1048576 && MCREPLY_LINE_MAX == 4096, "update the texts");

static bool
line_is(const char *p, size_t n, const char *word)
{
	size_t wl = strlen(word);

	return n == wl && memcmp(p, word, wl) == 0;
}

static bool
line_starts(const char *p, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return n >= pl && memcmp(p, prefix, pl) == 0;
}

bool
mcreply_is_error_line(const char *line, size_t len)
{
	return line_is(line, len, "ERROR") || line_starts(line, len, "ERROR ") ||
	    line_starts(line, len, "CLIENT_ERROR") || line_starts(line, len, "SERVER_ERROR");
}

/* The last line of a reply whose kind the reader did not know (MCREPLY_ANY). */
static bool
is_terminal_line(const char *p, size_t n)
{
	static const char *const words[] = { "END", "OK", "STORED", "NOT_STORED", "EXISTS",
		"NOT_FOUND", "DELETED", "TOUCHED", "RESET" };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (line_is(p, n, words[i]))
			return true;
	}
	if (line_starts(p, n, "VERSION "))
		return true;
	if (n == 0 || n > INCR_DIGITS_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	return true;
}

/* The byte count of "VALUE <key> <flags> <bytes>[ <cas>]" (flags a 32-bit number);
 * -1 if malformed. */
static int
value_bytes(const char *p, size_t n, uint64_t max, uint64_t *bytes)
{
	const char *end = p + n, *tok, *sp;
	uint64_t flags;
	int i;

	p += 6; /* "VALUE " */
	for (i = 0; i < 3; i++) {
		tok = p;
		sp = memchr(tok, ' ', (size_t)(end - tok));
		if (sp == NULL)
			sp = end;
		if (sp == tok)
			return -1;
		if (i == 1 && parse_u64_n(tok, (size_t)(sp - tok), 0, UINT32_MAX, &flags) < 0)
			return -1;
		if (i == 2)
			return parse_u64_n(tok, (size_t)(sp - tok), 0, max, bytes);
		if (sp == end)
			return -1;
		p = sp + 1;
	}
	return -1;
}

static enum mcreply_status
malformed(struct mcreply_frame *f, const char *why)
{
	f->len = f->last_off = f->last_len = 0;
	f->error = false;
	f->why = why;
	return MCREPLY_MALFORMED;
}

static const char *
too_large(size_t max)
{
	return max == MCREPLY_MAX ? "reply larger than 1048576 bytes" :
	    "reply larger than its limit";
}

/* The byte count of a meta "VA <bytes> <flags>*" line; -1 if malformed. */
static int
va_bytes(const char *p, size_t n, uint64_t max, uint64_t *bytes)
{
	const char *sp;

	p += 3; /* "VA " */
	n -= 3;
	sp = memchr(p, ' ', n);
	return parse_u64_n(p, sp != NULL ? (size_t)(sp - p) : n, 0, max, bytes);
}

static enum mcreply_status
complete(struct mcreply_frame *f, size_t next, size_t line_off, size_t llen, bool error,
    size_t max)
{
	if (next > max)
		return malformed(f, too_large(max));
	f->len = next;
	f->last_off = line_off;
	f->last_len = llen;
	f->error = error;
	return MCREPLY_COMPLETE;
}

enum mcreply_status
mcreply_frame(const char *buf, size_t len, enum mcreply_kind kind, struct mcreply_frame *f)
{
	return mcreply_frame_max(buf, len, kind, MCREPLY_MAX, f);
}

enum mcreply_status
mcreply_frame_max(const char *buf, size_t len, enum mcreply_kind kind, size_t max,
    struct mcreply_frame *f)
{
	size_t off = 0, avail, llen, next;
	const char *line, *nl;
	uint64_t bytes;

	memset(f, 0, sizeof(*f));
	f->why = "";
	for (;;) {
		if (off > max)
			return malformed(f, too_large(max));
		avail = len - off;
		line = buf + off;
		nl = memchr(line, '\n', avail < MCREPLY_LINE_MAX ? avail : MCREPLY_LINE_MAX);
		if (nl == NULL) {
			if (avail >= MCREPLY_LINE_MAX)
				return malformed(f, "line longer than 4096 bytes");
			return MCREPLY_MORE;
		}
		llen = (size_t)(nl - line);
		next = off + llen + 1;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (mcreply_is_error_line(line, llen))
			return complete(f, next, off, llen, true, max);
		if (kind == MCREPLY_LINE)
			return complete(f, next, off, llen, false, max);
		if (kind == MCREPLY_META) {
			if (!line_starts(line, llen, "VA "))
				return complete(f, next, off, llen, false, max);
			if (va_bytes(line, llen, max, &bytes) < 0)
				return malformed(f, "malformed VA line");
			if (next + bytes + 2 > max)
				return malformed(f, too_large(max));
			if (len < next + bytes + 2)
				return MCREPLY_MORE;
			if (buf[next + bytes] != '\r' || buf[next + bytes + 1] != '\n')
				return malformed(f, "VA data not followed by CRLF");
			return complete(f, next + (size_t)bytes + 2, off, llen, false, max);
		}
		if ((kind == MCREPLY_STATS || kind == MCREPLY_GET) && line_is(line, llen, "END"))
			return complete(f, next, off, llen, false, max);
		if (kind == MCREPLY_STATS) {
			if (!line_starts(line, llen, "STAT "))
				return malformed(f, "not a STAT line in a stats reply");
			off = next;
			continue;
		}
		if (line_starts(line, llen, "VALUE ")) {
			if (value_bytes(line, llen, max, &bytes) < 0)
				return malformed(f, "malformed VALUE line");
			if (next + bytes + 2 > max)
				return malformed(f, too_large(max));
			if (len < next + bytes + 2)
				return MCREPLY_MORE;
			if (buf[next + bytes] != '\r' || buf[next + bytes + 1] != '\n')
				return malformed(f, "VALUE data not followed by CRLF");
			off = next + (size_t)bytes + 2;
			continue;
		}
		if (kind == MCREPLY_GET)
			return malformed(f, "not a VALUE line in a get reply");
		/* MCREPLY_ANY */
		if (is_terminal_line(line, llen))
			return complete(f, next, off, llen, false, max);
		off = next;
	}
}

/* --- STAT lines ---------------------------------------------------------------------- */

enum { ITER_GOING, ITER_END, ITER_BAD_LINE, ITER_FAILED };

/* Visible ASCII (and spaces if allowed). */
static bool
printable(const char *p, size_t n, bool spaces)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch >= 0x7f || (ch == ' ' && !spaces))
			return false;
	}
	return true;
}

void
mcreply_stats_begin(struct mcreply_stats_iter *it, const char *text, size_t len)
{
	it->p = text;
	it->end = text + len;
	it->lineno = 0;
	it->why = "";
	it->state = ITER_GOING;
}

static int
iter_fail(struct mcreply_stats_iter *it, const char *why)
{
	it->why = why;
	it->state = ITER_FAILED;
	return -1;
}

/* A malformed line: it->p is already past it, so mcreply_stats_skip() can go on. */
static int
iter_bad_line(struct mcreply_stats_iter *it, const char *why)
{
	it->why = why;
	it->state = ITER_BAD_LINE;
	return -1;
}

bool
mcreply_stats_skip(struct mcreply_stats_iter *it)
{
	if (it->state != ITER_BAD_LINE)
		return false;
	it->why = "";
	it->state = ITER_GOING;
	return true;
}

int
mcreply_stats_next(struct mcreply_stats_iter *it, struct mcreply_stat *stat)
{
	const char *line, *nl, *sp;
	size_t llen;

	if (it->state == ITER_END)
		return 0;
	if (it->state == ITER_FAILED || it->state == ITER_BAD_LINE)
		return -1;
	if (it->p >= it->end)
		return iter_fail(it, "has no END");
	it->lineno++;
	line = it->p;
	nl = memchr(line, '\n', (size_t)(it->end - line));
	llen = nl != NULL ? (size_t)(nl - line) : (size_t)(it->end - line);
	it->p = nl != NULL ? nl + 1 : it->end;
	if (llen > 0 && line[llen - 1] == '\r')
		llen--;
	if (line_is(line, llen, "END")) {
		it->state = ITER_END;
		return 0;
	}
	if (!line_starts(line, llen, "STAT "))
		return iter_bad_line(it, "is not a STAT line");
	stat->name = line + 5;
	sp = memchr(stat->name, ' ', llen - 5);
	if (sp == NULL || sp == stat->name)
		return iter_bad_line(it, "has no name and value");
	stat->name_len = (size_t)(sp - stat->name);
	stat->value = sp + 1;
	stat->value_len = llen - 5 - stat->name_len - 1;
	if (!printable(stat->name, stat->name_len, false) ||
	    !printable(stat->value, stat->value_len, true))
		return iter_bad_line(it, "holds control characters");
	return 1;
}
