/*
 * textbuf — a growable text buffer with a hard cap, for the renderers. Appending past
 * the cap (or failing to allocate) sets a sticky error flag and drops the text, so a
 * renderer appends without checking each call and checks textbuf_failed() once at the
 * end: a page is written whole or not at all.
 */
#ifndef MCSTATUS_TEXTBUF_H
#define MCSTATUS_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

#define TEXTBUF_MAX (8u << 20) /* the largest file mcstatus renders: 8 MiB */

struct textbuf {
	char *data;  /* NUL-terminated while len > 0; owned */
	size_t len;
	size_t cap;
	bool failed;
};

/* Zero-initialised is a valid empty buffer. */
void textbuf_release(struct textbuf *b);
void textbuf_reset(struct textbuf *b); /* empties it, keeps the memory, clears failed */
bool textbuf_failed(const struct textbuf *b);
void textbuf_add(struct textbuf *b, const char *s, size_t n);
void textbuf_puts(struct textbuf *b, const char *s);
void textbuf_printf(struct textbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s escaped for HTML and XML text and attribute values (& < > " '). */
void textbuf_escape(struct textbuf *b, const char *s);
/* s with only & < > escaped: literal text for chat markup (Slack and Mattermost read
 * <...> as a link or a mention and want exactly these three escaped). */
void textbuf_escape_markup(struct textbuf *b, const char *s);

#endif
