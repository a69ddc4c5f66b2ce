/*
 * mailmsg — the text of the messages subscribers receive: an RFC 5322 message with
 * the headers every mail system expects (From, To, Subject, Date, Message-ID,
 * MIME-Version, Content-Type text/plain; charset=utf-8, quoted-printable, and
 * List-Unsubscribe with its RFC 8058 one-click partner), and the words of each kind
 * of message (the confirmation, an incident update). Pure: no clock, no network, so
 * every byte is unit-tested (tests/unit/test_subscribers.c); mailer.c sends them.
 *
 * Header safety: every value that comes from outside (the address, the page's and the
 * incident's public names) has been checked to be one line, and is encoded (RFC 2047)
 * when it is not plain printable ASCII, so no input can add a header.
 */
#ifndef MCSTATUS_MAILMSG_H
#define MCSTATUS_MAILMSG_H

#include <stddef.h>
#include <stdint.h>

#include "statussite/statussite.h"

#define MAILMSG_SUBJECT_MAX 300 /* bytes of a subject before encoding */
#define MAILMSG_MAX (256u << 10) /* a whole message */

struct mailmsg {
	const char *from_name;        /* the page's name */
	const char *from;             /* the envelope and From address */
	const char *to;
	const char *subject;          /* UTF-8, one line */
	int64_t date_ms;
	const char *message_id;       /* without <>: "mcops-7-12@example.com" */
	const char *list_unsubscribe; /* URL, or NULL (the confirmation has none) */
	const char *body;             /* UTF-8 text, lines end in \n */
};

/* The whole message (CRLF line ends) into out (reset first). 0, or -1 if a field is
 * missing or not one line, or out failed (its cap). */
int mailmsg_build(const struct mailmsg *m, struct textbuf *out);

/* The Date header's value of ms: "Mon, 07 Dec 2026 06:31:47 +0000". */
void mailmsg_date(int64_t ms, char out[40]);

/*
 * The confirmation's subject and body. what: what is subscribed, one line ("US-East
 * C1, US-West C2" or "every component"). link: the signed confirmation URL.
 * hours: how long it works.
 */
void mailmsg_confirm_text(const char *page_name, const char *what, const char *link,
    int64_t hours, struct textbuf *subject, struct textbuf *body);

/*
 * An update's subject and body from the sinks' payload (statussite.h's payload: an
 * incident's name, status, impact, update body, components and shortlink; or a
 * maintenance's name, window, update body and components), with the unsubscribe link
 * at the end. -1 if the payload is not such an object.
 */
int mailmsg_update_text(const char *page_name, const char *payload_json,
    const char *unsubscribe, struct textbuf *subject, struct textbuf *body);

#endif
