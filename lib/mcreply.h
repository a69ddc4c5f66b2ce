/*
 * mcreply — the framing of memcache text-protocol replies and the parsing of their
 * STAT lines, without I/O: the one place that knows where a reply ends.
 *
 * mcreply_frame() looks at the bytes received so far and says whether one whole reply
 * of the expected kind is at their start (and how long it is), whether more bytes are
 * needed, or whether the stream is malformed (and the connection must be dropped: a
 * reader that guesses would take the rest of one reply for the next one). It keeps no
 * state: a caller reading a stream calls it again on the longer buffer.
 *
 * Every kind ends at an error line (ERROR, ERROR <text>, CLIENT_ERROR <text>,
 * SERVER_ERROR <text>), wherever it comes: a server refuses a command with one line.
 * A line ends in "\r\n" or a bare "\n". VALUE blocks are skipped by their byte count,
 * so an "END" stored inside a value does not end a reply.
 *
 * Limits: a line (its line end included) of at most MCREPLY_LINE_MAX bytes and a reply
 * of at most MCREPLY_MAX bytes; past either, the reply is malformed (so a peer cannot
 * make a reader buffer without end).
 */
#ifndef MCOPS_MCREPLY_H
#define MCOPS_MCREPLY_H

#include <stdbool.h>
#include <stddef.h>

#define MCREPLY_MAX (1024 * 1024) /* bytes of one reply */
#define MCREPLY_LINE_MAX 4096     /* bytes of one reply line, its line end included */

/* What the request expects back. */
enum mcreply_kind {
	MCREPLY_LINE,  /* one line: STORED, DELETED, OK, a number, VERSION ..., an error */
	MCREPLY_STATS, /* "STAT name value" lines up to END (any other line is malformed) */
	MCREPLY_GET,   /* VALUE blocks up to END (any other line is malformed) */
	MCREPLY_META,  /* a meta command's reply: one line, or "VA <bytes> ..." and its data
	                  block (mg, ma with v) */
	MCREPLY_ANY,   /* a classic command whose reply is not known in advance (an operator's
	                  command line): lines up to a terminal line (END, OK, STORED,
	                  NOT_STORED, EXISTS, NOT_FOUND, DELETED, TOUCHED, RESET, VERSION ...,
	                  a number of up to 20 digits, an error line); other lines (STAT, ITEM
	                  ...) are part of the reply; VALUE blocks skipped by their count */
};

enum mcreply_status {
	MCREPLY_MALFORMED = -1, /* the stream cannot be framed: drop the connection */
	MCREPLY_MORE = 0,       /* no whole reply yet */
	MCREPLY_COMPLETE = 1,   /* one reply at the start of the buffer */
};

/* Where a complete reply lies in the buffer; the reason when it is malformed. */
struct mcreply_frame {
	size_t len;       /* bytes of the reply, its final line end included */
	size_t last_off;  /* start of its terminal line (END, the error, the single line) */
	size_t last_len;  /* that line's length without its line end */
	bool error;       /* the terminal line is an error line */
	const char *why;  /* MCREPLY_MALFORMED: a static text ("line longer than 4096
	                     bytes", "malformed VALUE line", ...); "" otherwise */
};

/*
 * Frames the reply of kind at the start of buf[0..len). Fills *f in every case (zero
 * lengths unless complete). Bytes after the reply are not looked at: whether they are
 * welcome (a pipelined next reply) or an error is the caller's decision.
 */
enum mcreply_status mcreply_frame(const char *buf, size_t len, enum mcreply_kind kind,
    struct mcreply_frame *f);

/* The same with another cap than MCREPLY_MAX on the reply's size (a proxy's
 * multi-get of large values); lines stay within MCREPLY_LINE_MAX. */
enum mcreply_status mcreply_frame_max(const char *buf, size_t len, enum mcreply_kind kind,
    size_t max, struct mcreply_frame *f);

/* The line (without its line end) is ERROR, "ERROR ...", CLIENT_ERROR... or
 * SERVER_ERROR...: the server refused the command. */
bool mcreply_is_error_line(const char *line, size_t len);

/* --- STAT lines ---------------------------------------------------------------------- */

/* One "STAT name value" line; points into the text iterated (not NUL-terminated). The
 * name is at least one byte without spaces; the value is the rest of the line (possibly
 * empty, possibly with spaces). Neither holds control characters. */
struct mcreply_stat {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* An iteration over the STAT lines of a stats reply. Caller-owned; borrows the text. */
struct mcreply_stats_iter {
	const char *p, *end;
	int lineno;       /* of the line last looked at, from 1 */
	const char *why;  /* after -1: "is not a STAT line", "has no name and value",
	                     "holds control characters", "has no END" */
	int state;        /* going, at END, at a malformed line, failed */
};

/* Starts iterating text[0..len): a stats reply, as framed by MCREPLY_STATS (its final
 * line end may be missing). */
void mcreply_stats_begin(struct mcreply_stats_iter *it, const char *text, size_t len);

/*
 * The next pair: 1 with *stat filled; 0 at END (the iteration is over); -1 if the line
 * (it->lineno) is malformed or the text ends without END (it->why says which). After 0
 * or -1, further calls return the same.
 */
int mcreply_stats_next(struct mcreply_stats_iter *it, struct mcreply_stat *stat);

/*
 * After -1 on a malformed line: goes on with the line after it (returns true), for a
 * reader that would rather lose one line than the reply. False when there is nothing
 * to go on with (the text ended without END): the iteration stays failed.
 */
bool mcreply_stats_skip(struct mcreply_stats_iter *it);

#endif
