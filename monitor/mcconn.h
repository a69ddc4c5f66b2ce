/*
 * mcconn — one non-blocking memcache text-protocol connection on a libevent loop,
 * for the monitor's admin polls and probes.
 *
 * A connection is persistent: it connects on the first request (a numeric address,
 * or a name resolved through evdns when a resolver is given), authenticates with
 * the provider's scheme (`set <user> 0 0 <len>` + password, STORED) when it has an
 * account, and then serves one request at a time. It reconnects on the next request
 * after any failure, so a node is retried at most as often as it is asked.
 *
 * Every request has a deadline: connecting and authenticating must finish within
 * the target's connect timeout, the reply within the request's own timeout. A
 * request that misses its deadline, a reset, a malformed or oversized reply close
 * the connection (a late reply would otherwise be read as the answer to the next
 * request). So a slow or dead node costs its own requests their timeouts and never
 * delays anything else on the loop.
 *
 * The outcome of a request accepted by mcconn_request() is delivered exactly once
 * to the done callback, always from the event loop (never from inside
 * mcconn_request()). The callback may start the next request on the same
 * connection, and must not free it. Latency is measured on the monotonic clock from
 * the moment the request is handed to the socket to the end of its last reply;
 * connecting and authenticating are not part of it.
 *
 * Requests are written to the socket at once (not a loop turn later), with
 * MSG_NOSIGNAL: a peer that went away is an error, never a SIGPIPE.
 *
 * The password is copied, never put into an error text, and wiped on free.
 */
#ifndef MCOPS_MCCONN_H
#define MCOPS_MCCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcreply.h"

/* A reply is framed by lib/mcreply.h, under its caps (MCREPLY_MAX, MCREPLY_LINE_MAX). */
#define MCCONN_REQUEST_MAX 4096 /* bytes of one request */
#define MCCONN_ERROR_MAX 160    /* an outcome's error text */
#define MCCONN_REPLIES_MAX 8    /* replies expected from one request */

struct event_base;
struct evdns_base;

enum mcconn_status {
	MCCONN_OK = 0,
	MCCONN_ERR_CONNECT, /* resolve, connect, or connect + auth past its deadline */
	MCCONN_ERR_AUTH,    /* the server refused the account */
	MCCONN_ERR_TIMEOUT, /* the request was sent and its reply missed the deadline */
	MCCONN_ERR_CLOSED,  /* the server closed or reset the connection */
	MCCONN_ERR_PROTO,   /* a malformed or oversized reply */
	MCCONN_ERR_REPLY,   /* the server answered ERROR, CLIENT_ERROR or SERVER_ERROR;
	                       the connection stays usable */
};

/* "ok", "connect", "auth", "timeout", "closed", "protocol", "reply". */
const char *mcconn_status_name(enum mcconn_status status);

/* One request's outcome, valid during the callback only. */
struct mcconn_result {
	enum mcconn_status status;
	const char *reply;  /* the replies' text (not NUL-terminated): MCCONN_OK and _ERR_REPLY */
	size_t reply_len;
	int64_t latency_us; /* from send to the last reply (or to the deadline): OK, REPLY,
	                       TIMEOUT; 0 otherwise */
	const char *error;  /* "" for OK, else one line: "connect: Connection refused" */
};

typedef void (*mcconn_done_fn)(void *arg, const struct mcconn_result *result);

/* Where to connect and as whom. Strings are copied. */
struct mcconn_target {
	const char *host; /* numeric IPv4/IPv6, or a name (needs the evdns base) */
	uint16_t port;
	const char *user;     /* NULL: no authentication */
	const char *password; /* with user */
	int connect_timeout_ms;
};

struct mcconn;

/*
 * A connection (not yet connected) that reports to done(arg). dns may be NULL when
 * the host is numeric. NULL with err on a bad target or no memory.
 */
struct mcconn *mcconn_new(struct event_base *base, struct evdns_base *dns,
    const struct mcconn_target *target, mcconn_done_fn done, void *arg, char *err,
    size_t errlen);

/* Closes the connection and frees it; a request in flight is dropped silently (its
 * callback is not called). NULL is a no-op. */
void mcconn_free(struct mcconn *c);

/* A request is in flight (connecting, authenticating or waiting for its reply). */
bool mcconn_busy(const struct mcconn *c);
/* Connected and authenticated. */
bool mcconn_ready(const struct mcconn *c);

/*
 * Sends request[0..len) (complete command lines, CRLF included) and expects
 * nreplies (1..MCCONN_REPLIES_MAX) replies of the given kind within timeout_ms of
 * sending. Connects first if needed. Returns 0 (the callback will report), or -1
 * with err if busy or the arguments are invalid (no callback then).
 */
int mcconn_request(struct mcconn *c, const char *request, size_t len,
    enum mcreply_kind kind, unsigned nreplies, int timeout_ms, char *err, size_t errlen);

/* Connections opened (successfully connected) and attempted since mcconn_new. */
uint64_t mcconn_connects(const struct mcconn *c);
uint64_t mcconn_connect_attempts(const struct mcconn *c);

#endif
