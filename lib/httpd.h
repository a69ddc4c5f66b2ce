/*
 * httpd — the small HTTP/1.x listener behind mcmon's /metrics, mcstatus's site and
 * mcalert's Alertmanager intake, on the daemon's libevent loop. One request per
 * connection (every answer says Connection: close); the handler is called once with
 * the whole request (line, headers, body) and fills the answer synchronously.
 *
 * Limits, each in struct httpd_limits, and what a client sees at each:
 *   - connections_max open at once. A connection that arrives at the cap evicts the
 *     oldest connection whose request is not complete yet (an idle or trickling
 *     client: closed without an answer); when every open connection is being
 *     answered, the newcomer gets "503 Service Unavailable" (Retry-After: 1) and is
 *     closed. So idle sockets can never keep a real request out.
 *   - timeout_ms: a connection's whole life from its accept (reading the request,
 *     then writing the answer). A request not complete by then gets "408 Request
 *     Timeout" and the connection is closed, whatever bytes it trickles; an answer
 *     the client does not read by then is cut off.
 *   - headers_max bytes of request line and headers (or more than HTTPD_HEADERS_COUNT
 *     header lines): "431 Request Header Fields Too Large".
 *   - body_max bytes of body (its Content-Length): "413 Content Too Large" before
 *     the body is read. A body without Content-Length (chunked): "411 Length
 *     Required". A request line or header that is not HTTP/1.x: "400 Bad Request".
 *   - accept() failing (no descriptor left): accepting pauses for accept_retry_ms
 *     instead of failing on every loop turn.
 * HEAD is answered as GET without the body (the handler need not know). The handler
 * decides everything else: which methods and paths exist (404, 405, ...).
 *
 * Library code: nothing is logged; httpd_counts() says what the limits did.
 */
#ifndef MCOPS_HTTPD_H
#define MCOPS_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPD_HEADERS_COUNT 64        /* header lines of one request */
#define HTTPD_RESPONSE_HEADERS 8      /* extra headers of one answer */
#define HTTPD_RESPONSE_HEADER_MAX 512 /* bytes of one extra header, "Name: value" */
#define HTTPD_BACKLOG 128             /* the listen backlog */
#define HTTPD_METHOD_MAX 16           /* bytes of a method name */

struct event_base;
struct evbuffer;

struct httpd_limits {
	size_t connections_max; /* >= 1 */
	int timeout_ms;         /* > 0 */
	size_t headers_max;     /* bytes of the request line and headers */
	size_t body_max;        /* bytes of a body; 0: requests carry none */
	int accept_retry_ms;    /* > 0 */
};

struct httpd_header {
	const char *name, *value; /* NUL-terminated; the value without surrounding blanks */
};

/* One request, borrowed by the handler for the call. */
struct httpd_request {
	const char *method;  /* "GET", "HEAD", "POST", ... as sent */
	bool head;           /* method is HEAD: the answer's body is not sent */
	const char *path;    /* the target's path: the absolute form's "http://host" dropped,
	                        no query; not percent-decoded */
	const char *query;   /* after '?', or "" */
	const struct httpd_header *headers;
	size_t nheaders;
	const char *body;    /* body_len bytes, NUL-terminated after them */
	size_t body_len;
	const char *peer;    /* the client as "host:port" (numeric), for the daemon's log */
};

/* The value of header name (case-insensitive), the first if repeated; or NULL. */
const char *httpd_request_header(const struct httpd_request *req, const char *name);

struct httpd_response;

/*
 * The handler's answer. Sets the status and content type (NULL: no Content-Type,
 * as for 304) and appends len bytes to the body; 0, or -1 on no memory (the client
 * then gets a 500). Called again, it replaces status and type and appends.
 */
int httpd_reply(struct httpd_response *res, int status, const char *content_type,
    const void *body, size_t len);
/* Adds "name: value" to the answer (Allow, ETag, ...); -1 past HTTPD_RESPONSE_HEADERS
 * or HTTPD_RESPONSE_HEADER_MAX, or a CR/LF in either. */
int httpd_header(struct httpd_response *res, const char *name, const char *value);
/* The answer's body, for appending a file (evbuffer_add_file) or formatted text. */
struct evbuffer *httpd_body(struct httpd_response *res);

/* Called once per complete request; must fill res (no status set: 500). */
typedef void (*httpd_handler_fn)(void *arg, const struct httpd_request *req,
    struct httpd_response *res);

/* What the limits did since the start. */
struct httpd_counts {
	uint64_t requests;     /* handed to the handler */
	uint64_t evicted;      /* incomplete requests closed to make room */
	uint64_t busy;         /* connections answered 503 at the cap */
	uint64_t timed_out;    /* requests answered 408 (or answers cut off) */
	uint64_t refused;      /* 400, 411, 413, 431 */
	uint64_t accept_errors;
	int accept_errno;      /* of the latest accept error; 0 before one */
};

/*
 * The request head parser, exposed for tests and fuzzing: splits head (the request
 * line and headers, NUL-terminated, lines ending in LF or CRLF, without the blank
 * line) in place into req (pointing into head) and hdrs (HTTPD_HEADERS_COUNT
 * entries), with *body_len its Content-Length. Returns 0, or the status to refuse the
 * request with: 400 (not HTTP/1.x, a malformed header or length), 411 (chunked),
 * 413 (a length over body_max), 431 (too many headers). req's body is left empty.
 */
int httpd_parse_head(char *head, size_t body_max, struct httpd_request *req,
    struct httpd_header *hdrs, size_t *body_len);

struct httpd;

/*
 * Listens on host:port (numeric IPv4 or IPv6; port 0 picks a free one) and serves
 * with handler(arg) under limits (copied). NULL with err ("cannot listen on
 * 127.0.0.1:9150: ...") on a bad address or limit, a port in use, or no memory.
 */
struct httpd *httpd_start(struct event_base *base, const char *host, uint16_t port,
    const struct httpd_limits *limits, httpd_handler_fn handler, void *arg, char *err,
    size_t errlen);
/* Closes the listener and every connection, and frees. NULL is a no-op. Not from
 * inside the handler. */
void httpd_stop(struct httpd *h);
/* The port listened on. */
uint16_t httpd_port(const struct httpd *h);
/* Connections open now. */
size_t httpd_connections(const struct httpd *h);
void httpd_counts(const struct httpd *h, struct httpd_counts *out);
/*
 * For the daemon's periodic timer, which logs what this returns (library code does
 * not): 1 with msg ("accept() failed 3 times: Too many open files; accepting paused
 * 1000 ms each time") if accept() failed since the previous call, else 0.
 */
int httpd_accept_news(struct httpd *h, char *msg, size_t len);

#endif
