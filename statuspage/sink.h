/*
 * sink — where mcstatus pushes public changes, and what one push sends: the [sink
 * NAME] sections of the configuration, the HTTP requests of each kind of sink built
 * from a payload (payload.h), and what an answer means. Pure: no network here (push.c
 * performs the requests), so every request and every verdict is unit-tested.
 *
 *     [sink team-chat]
 *     type = chat | webhook | statuspage | mastodon | put
 *     url = https://chat.example.com/hooks/abc   ; for statuspage the API base
 *                                                ; (https://api.example.com/v1), for
 *                                                ; mastodon the instance, for put the
 *                                                ; second origin's directory URL
 *     secret_file = etc/secrets/chat.key   ; webhook: HMAC key; statuspage: OAuth key;
 *                                          ; mastodon: access token; put: "user:password"
 *     rate = 1               ; requests per second at most (default 1)
 *     timeout = 10s          ; per request (1s..60s)
 *     retry_base = 1s        ; backoff after the first failure (at most 1h), doubling
 *     retry_max = 10m        ; the longest backoff (at most 24h)
 *     max_attempts = 0       ; 0: never give up (a remote down for a day loses nothing)
 *     page_id = abc123       ; statuspage: the remote page
 *     components = c1:xyz c2:uvw ; statuspage: local component id -> remote id
 *     visibility = public    ; mastodon: public | unlisted | private
 */
#ifndef MCSTATUS_SINK_H
#define MCSTATUS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ilog.h"
#include "statussite/statussite.h"

#define SINKS_MAX 16
#define SINK_HEADERS_MAX 8
#define SINK_HEADER_MAX 600
#define SINK_URL_MAX 2048
#define SINK_REMOTE_ID_MAX 128
#define SINK_EVENT_REMOTE "sink_remote" /* the log event that remembers a remote id */

enum sink_type { SINK_CHAT, SINK_WEBHOOK, SINK_STATUSPAGE, SINK_MASTODON, SINK_PUT };

struct sink_conf {
	char name[ILOG_SINK_MAX + 1];
	enum sink_type type;
	char url[SP_URL_MAX];           /* without a trailing "/" (put: with one) */
	char secret[CONFIG_SECRET_MAX]; /* "" if none */
	double rate;
	int64_t timeout_ms;
	struct ilog_backoff backoff;
	char page_id[SP_ID_MAX + 1];
	struct {
		char local[ILOG_NAME_MAX + 1];
		char remote[SP_ID_MAX + 1];
	} comps[SP_COMPONENTS_MAX];
	size_t ncomps;
	char visibility[16];
};

bool sink_owns(const char *section);
const char *sink_type_name(enum sink_type t);
/* Every [sink NAME] into out (at most SINKS_MAX); problems into errs. 0 or -1. */
int sink_load_all(struct config *cfg, struct sink_conf *out, size_t *n,
    struct config_errors *errs);

/* One HTTP request. body is owned (textbuf_release via sink_request_release). */
struct sink_request {
	char method[8];
	char url[SINK_URL_MAX];
	char headers[SINK_HEADERS_MAX][SINK_HEADER_MAX];
	size_t nheaders;
	struct textbuf body;
	bool remember_id; /* the answer's "id" is the remote id to keep (statuspage create,
	                     mastodon) */
};
void sink_request_release(struct sink_request *r);

/*
 * The requests that push one payload (payload.h's JSON object) to a chat, webhook,
 * statuspage or mastodon sink, in order, into reqs[0..*n). remote_id: the remote
 * incident (statuspage) or the previous status to reply to (mastodon), "" if none.
 * now_s: the signature's timestamp. 0, or -1 with err set (a payload that is not what
 * payload.h promises: the item can never succeed).
 */
#define SINK_REQUESTS_MAX (SP_COMPONENTS_MAX + 1)
int sink_build(const struct sink_conf *s, const char *payload, const char *remote_id,
    int64_t now_s, struct sink_request *reqs, size_t *n, char *err, size_t errlen);

/* HMAC-SHA256 of data with key, as lowercase hex (65 bytes with the NUL). */
void sink_hmac_hex(const char *key, const char *data, size_t len, char out[65]);

enum sink_verdict {
	SINK_DONE,    /* 2xx */
	SINK_RETRY,   /* try again later: 408, 420, 425, 429, 401, 403, 5xx, no answer */
	SINK_GIVE_UP, /* this request can never succeed: other 4xx */
};
/*
 * What an answer means. status: the HTTP status, 0 if there was no answer (refused,
 * timeout). retry_after: the Retry-After header ("120" or an HTTP-date) or NULL;
 * body: the answer (Discord-style {"retry_after": 1.5} counts too) or NULL.
 * *retry_after_ms: the remote's wish, 0 if none. why: a one-line reason for the log.
 */
enum sink_verdict sink_judge(long status, const char *retry_after, const char *body,
    int64_t now_ms, int64_t *retry_after_ms, char *why, size_t whylen);

/* The remote id in an answer's JSON body ("id": a number, or a string of
 * [A-Za-z0-9_.-] other than "." and ".."), or -1. */
int sink_answer_id(const char *body, char *out, size_t len);

#endif
