/*
 * sink — where mcstatus pushes public changes, and what one push sends: the [sink
 * NAME] sections of the configuration, the HTTP requests of each type of sink built
 * from a payload (statussite.h, "payload"), and what an answer means. Pure: no network
 * here (push.c performs the requests), so every request and every verdict is
 * unit-tested.
 *
 * What differs between types is one struct sink_ops per type, in sink.c's table (as
 * curl's TLS backends, lib/vtls/vtls_int.h); nothing else tests a sink's type.
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

#include <jansson.h>

#include "config.h"
#include "ilog.h"
#include "ilog_outbox.h"
#include "statussite/statussite.h"

#define SINKS_MAX 16
#define SINK_HEADERS_MAX 8
#define SINK_HEADER_MAX 600
#define SINK_URL_MAX 2048
#define SINK_REMOTE_ID_MAX 128
#define SINK_INTEGER_ID_MAX 21 /* "-9223372036854775808" and its NUL */
#define SINK_EVENT_REMOTE "sink_remote" /* the log event that remembers a remote id */

struct sink_conf;
struct sink_request;

/* Which remote id a push needs (push.c finds it in the incident's timeline, where
 * each answer's id was remembered as a SINK_EVENT_REMOTE event). */
enum sink_remote {
	SINK_REMOTE_NONE,
	SINK_REMOTE_FIRST,  /* the id the first push created: the remote incident to update */
	SINK_REMOTE_LATEST, /* the id the latest push created: the status to reply to */
};

/* One public change as a type's build() sees it: the payload, parsed, with what every
 * type needs already checked and derived. */
struct sink_change {
	json_t *payload;             /* borrowed */
	const char *text;            /* its "text": the change in one line */
	long long event_id;
	const char *idempotency_key; /* "mcops-SINK-EVENT": the same for every retry */
	const char *remote_id;       /* as ops->remote asks, "" if none (see sink_build) */
	int64_t now_s;
};

/*
 * A sink type. Registering one is this struct and a row in sink.c's table. What an
 * answer means (sink_judge), pacing, retries and the outbox are the same for all.
 */
struct sink_ops {
	const char *name;        /* `type = NAME` */
	bool needs_secret;       /* secret_file is required */
	bool url_is_directory;   /* the url keeps its trailing "/" (file paths follow); the
	                            others drop it (paths starting with "/" follow) */
	bool basic_auth;         /* the secret is "user:password" for HTTP basic auth */
	enum sink_remote remote;
	/* Checks this type's own keys in a loaded s (line: the section's), into errs.
	 * NULL: nothing beyond the shared keys. */
	void (*check)(struct config *cfg, const char *section, int line,
	    const struct sink_conf *s, struct config_errors *errs);
	/* The requests that push c, in order, into reqs[0..*n) (zeroed, at most
	 * SINK_REQUESTS_MAX, with their bodies; Content-Type is added after). 0, or -1
	 * if the payload is not what this type needs (the caller releases reqs[0..*n)).
	 * NULL: the type sends no requests of its own but mirrors the rendered site
	 * (push.c). */
	int (*build)(const struct sink_conf *s, const struct sink_change *c,
	    struct sink_request *reqs, size_t *n);
};

/* The type called name, or NULL. */
const struct sink_ops *sink_ops_find(const char *name);

struct sink_conf {
	char name[ILOG_SINK_MAX + 1];
	const struct sink_ops *ops;     /* never NULL in a sink sink_load_all() kept */
	char url[SP_URL_MAX];           /* see ops->url_is_directory */
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
 * The requests that push one payload (statussite.h's JSON object) to sink s, in order,
 * into reqs[0..*n). remote_id: the id s->ops->remote asks for (the remote incident,
 * the previous status to reply to), "" if none. now_s: the signature's timestamp. 0,
 * or -1 with err set (a payload that is not what statussite.h promises, or a sink
 * that mirrors the site: the item can never succeed).
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
 * [A-Za-z0-9_.-] other than "." and "..") into out (len bytes with the NUL): 0, or
 * -1 with why (one line) if there is none, it is not such a string, or it does not
 * fit; an id is never cut. On -1, out is untouched. */
int sink_answer_id(const char *body, char *out, size_t len, char *why, size_t whylen);

#endif
