/*
 * mailmsg — see mailmsg.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mailmsg.h"

#define QP_LINE_MAX 76      /* RFC 2045: encoded lines */
#define ENCODED_WORD_BYTES 45 /* input bytes per encoded word: 60 base64 chars + 12 */

static bool
one_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool
plain_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void
base64(struct textbuf *b, const unsigned char *in, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;

	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		q[0] = a[(v >> 18) & 63];
		q[1] = a[(v >> 12) & 63];
		q[2] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? a[v & 63] : '=';
		textbuf_add(b, q, 4);
	}
}

/* s as header text: itself if plain printable ASCII, else RFC 2047 encoded words of
 * whole UTF-8 characters, folded onto continuation lines. */
static void
header_text(struct textbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), at = 0;

	if (plain_ascii(s)) {
		textbuf_puts(b, s);
		return;
	}
	while (at < n) {
		size_t take = n - at < ENCODED_WORD_BYTES ? n - at : ENCODED_WORD_BYTES;

		/* Never split a character: back off over continuation bytes. */
		while (at + take < n && take > 1 && (p[at + take] & 0xc0) == 0x80)
			take--;
		if (at > 0)
			textbuf_puts(b, "\r\n ");
		textbuf_puts(b, "=?UTF-8?B?");
		base64(b, p + at, take);
		textbuf_puts(b, "?=");
		at += take;
	}
}

/* body as quoted-printable with CRLF line ends (RFC 2045 6.7). */
static void
quoted_printable(struct textbuf *b, const char *body)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)body;
	size_t col = 0;

	for (; *p != '\0'; p++) {
		char enc[4];
		size_t len;
		bool eol_next = p[1] == '\n' || p[1] == '\0';

		if (*p == '\n') {
			textbuf_puts(b, "\r\n");
			col = 0;
			continue;
		}
		if (*p == '\r')
			continue;
		if ((*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !eol_next)) {
			enc[0] = (char)*p;
			len = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			len = 3;
		}
		/* A soft break keeps each line within 76 characters with its "=". */
		if (col + len > QP_LINE_MAX - 1 && !(eol_next && col + len <= QP_LINE_MAX)) {
			textbuf_puts(b, "=\r\n");
			col = 0;
		}
		textbuf_add(b, enc, len);
		col += len;
	}
	if (col > 0)
		textbuf_puts(b, "\r\n");
}

void
mailmsg_date(int64_t ms, char out[40])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
	    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

int
mailmsg_build(const struct mailmsg *m, struct textbuf *out)
{
	char date[40];

	textbuf_reset(out);
	if (m->from == NULL || m->to == NULL || m->subject == NULL || m->message_id == NULL ||
	    m->body == NULL || m->from_name == NULL || !one_line(m->from) ||
	    !one_line(m->to) || !one_line(m->subject) || !one_line(m->from_name) ||
	    !plain_ascii(m->message_id) || strpbrk(m->message_id, "<> ") != NULL ||
	    strpbrk(m->from, "<> ") != NULL || strpbrk(m->to, "<> ") != NULL ||
	    (m->list_unsubscribe != NULL && (!plain_ascii(m->list_unsubscribe) ||
		strpbrk(m->list_unsubscribe, "<> ") != NULL)))
		return -1;
	mailmsg_date(m->date_ms, date);
	textbuf_puts(out, "From: ");
	if (plain_ascii(m->from_name) && strpbrk(m->from_name, "\"\\") == NULL) {
		textbuf_printf(out, "\"%s\"", m->from_name);
	} else {
		header_text(out, m->from_name);
	}
	textbuf_printf(out, " <%s>\r\nTo: <%s>\r\nSubject: ", m->from, m->to);
	header_text(out, m->subject);
	textbuf_printf(out, "\r\nDate: %s\r\nMessage-ID: <%s>\r\n", date, m->message_id);
	if (m->list_unsubscribe != NULL)
		textbuf_printf(out, "List-Unsubscribe: <%s>\r\n"
				    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
		    m->list_unsubscribe);
	textbuf_puts(out, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	quoted_printable(out, m->body);
	if (textbuf_failed(out) || out->len > MAILMSG_MAX)
		return -1;
	return 0;
}

/* s cut to one line of at most max bytes at a character boundary. */
static void
line_into(struct textbuf *b, const char *s, size_t max)
{
	size_t n = 0;

	while (s[n] != '\0' && s[n] != '\n' && s[n] != '\r' && n < max)
		n++;
	while (n > 0 && s[n] != '\0' && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	textbuf_add(b, s, n);
}

void
mailmsg_confirm_text(const char *page_name, const char *what, const char *link,
    int64_t hours, struct textbuf *subject, struct textbuf *body)
{
	textbuf_reset(subject);
	textbuf_reset(body);
	textbuf_puts(subject, "Confirm your subscription to ");
	line_into(subject, page_name, MAILMSG_SUBJECT_MAX);
	textbuf_printf(body,
	    "Someone, hopefully you, asked for this address to receive the status updates\n"
	    "of %s, for: %s.\n\n"
	    "To confirm, open this link within %lld hours:\n\n%s\n\n"
	    "If you did not ask, ignore this message: nothing more will be sent to you.\n",
	    page_name, what, (long long)hours, link);
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static const char *
status_label(const char *s)
{
	static const char *const names[][2] = { { "investigating", "Investigating" },
		{ "identified", "Identified" }, { "monitoring", "Monitoring" },
		{ "resolved", "Resolved" } };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i][0]) == 0)
			return names[i][1];
	return "Update";
}

/* A maintenance payload's type in words ("maintenance.started": "Maintenance in
 * progress"), NULL for another type. */
static const char *
maintenance_label(const char *type)
{
	static const char *const names[][2] = {
		{ "maintenance.scheduled", "Scheduled maintenance" },
		{ "maintenance.started", "Maintenance in progress" },
		{ "maintenance.completed", "Maintenance completed" },
		{ "maintenance.cancelled", "Maintenance cancelled" } };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(type, names[i][0]) == 0)
			return names[i][1];
	return NULL;
}

int
mailmsg_update_text(const char *page_name, const char *payload_json,
    const char *unsubscribe, struct textbuf *subject, struct textbuf *body)
{
	json_t *doc = json_loads(payload_json, 0, NULL), *inc, *up, *comps, *c, *mnt;
	const char *label, *link;
	size_t i;

	textbuf_reset(subject);
	textbuf_reset(body);
	if (doc == NULL)
		return -1;
	inc = json_object_get(doc, "incident");
	mnt = json_object_get(doc, "maintenance");
	up = json_object_get(doc, "update");
	label = maintenance_label(str(doc, "type"));
	if ((!json_is_object(inc) && (!json_is_object(mnt) || label == NULL)) ||
	    !json_is_object(up)) {
		json_decref(doc);
		return -1;
	}
	if (!json_is_object(inc)) {
		inc = mnt;
		link = str(json_object_get(doc, "page"), "url");
	} else {
		label = status_label(str(up, "status"));
		link = str(inc, "shortlink");
	}
	textbuf_puts(subject, "[");
	line_into(subject, page_name, SP_NAME_MAX);
	textbuf_printf(subject, "] %s: ", label);
	line_into(subject, str(inc, "name"), MODEL_PUBLIC_NAME_MAX);

	if (inc == mnt)
		textbuf_printf(body, "%s\n\n%s, planned from %s to %s\n", str(inc, "name"), label,
		    str(inc, "scheduled_for"), str(inc, "scheduled_until"));
	else
		textbuf_printf(body, "%s\n\n%s (%s impact)\n", str(inc, "name"), label,
		    str(inc, "impact"));
	comps = json_object_get(doc, "components");
	if (json_array_size(comps) > 0) {
		textbuf_puts(body, "Affected: ");
		json_array_foreach (comps, i, c)
			textbuf_printf(body, "%s%s", i ? ", " : "", str(c, "name"));
		textbuf_puts(body, "\n");
	}
	textbuf_printf(body, "\n%s\n\n%s\n\n-- \nYou receive this because you subscribed to the "
			     "status updates of %s.\nTo stop them, open:\n%s\n",
	    str(up, "body"), link, page_name, unsubscribe);
	json_decref(doc);
	return textbuf_failed(subject) || textbuf_failed(body) ? -1 : 0;
}
