/*
 * textbuf — see statussite.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statussite.h"

void
textbuf_release(struct textbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
textbuf_reset(struct textbuf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

bool
textbuf_failed(const struct textbuf *b)
{
	return b->failed;
}

static bool
reserve(struct textbuf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return false;
	if (n > TEXTBUF_MAX || b->len + n + 1 > TEXTBUF_MAX) {
		b->failed = true;
		return false;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < want)
		cap *= 2;
	if (cap > TEXTBUF_MAX)
		cap = TEXTBUF_MAX;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void
textbuf_add(struct textbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
textbuf_puts(struct textbuf *b, const char *s)
{
	textbuf_add(b, s, strlen(s));
}

void
textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* s with & < > as entities, and " ' too if quotes. */
static void
escape(struct textbuf *b, const char *s, bool quotes)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = quotes ? "&quot;" : NULL; break;
		case '\'': rep = quotes ? "&#39;" : NULL; break;
		default: rep = NULL; break;
		}
		if (rep == NULL)
			continue;
		textbuf_add(b, run, (size_t)(s - run));
		textbuf_puts(b, rep);
		run = s + 1;
	}
	textbuf_add(b, run, (size_t)(s - run));
}

void
textbuf_escape(struct textbuf *b, const char *s)
{
	escape(b, s, true);
}

void
textbuf_escape_markup(struct textbuf *b, const char *s)
{
	escape(b, s, false);
}
