/*
 * fallback — the second channel for pages: a JSON webhook (Slack/Mattermost-style,
 * {"text": ...} plus the page's fields) posted with libcurl when the XMPP server has
 * been unreachable for [alerter] fallback_after. One blocking POST at a time, bounded
 * by the configured timeout; success is any 2xx reply.
 */
#ifndef MCOPS_ALERTER_FALLBACK_H
#define MCOPS_ALERTER_FALLBACK_H

#include <stddef.h>
#include <stdint.h>

#define FALLBACK_REPLY_MAX 4096   /* bytes of a reply kept (the rest is read and dropped) */

struct fallback {
	void *curl;        /* CURL *, reused between posts */
	char url[2048];
	long timeout_ms;
};

/* Prepares f for url (http or https). 0, or -1 with err set. */
int fallback_init(struct fallback *f, const char *url, int64_t timeout_ms, char *err,
    size_t errlen);
void fallback_release(struct fallback *f);

/*
 * Posts payload (JSON text) to the URL. Returns 0 on a 2xx reply, or -1 with err set
 * ("HTTP 503", "Timeout was reached"); *status (may be NULL) gets the HTTP status or 0.
 */
int fallback_post(struct fallback *f, const char *payload, long *status, char *err,
    size_t errlen);

#endif
