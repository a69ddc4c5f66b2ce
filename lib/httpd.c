/*
 * httpd — see httpd.h.
 *
 * Why not libevent's evhttp: evhttp 2.1 has no connection cap (mcstatus capped it from
 * outside by pausing its listener, which lets idle sockets fill the cap and keep
 * everyone else waiting in the backlog) and only an inactivity timeout, which a client
 * sending one byte a second renews for ever. Eviction of the oldest incomplete request
 * at the cap and a deadline on a connection's whole life need the connection list in
 * our hands, so this is a small server on libevent's listener and bufferevents.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "clock.h"
#include "errbuf.h"
#include "httpd.h"
#include "parse.h"

enum conn_state {
	CONN_READING,  /* the request is not complete: evictable */
	CONN_WRITING,  /* the answer is queued; the connection ends once it is sent */
};

struct httpd_response {
	int status;
	const char *content_type;
	struct evbuffer *body; /* owned */
	char headers[HTTPD_RESPONSE_HEADERS][HTTPD_RESPONSE_HEADER_MAX];
	size_t nheaders;
	bool failed;           /* no memory while filling: answer 500 */
};

#define HTTPD_PEER_MAX (INET6_ADDRSTRLEN + 8) /* "[addr]:port" */

struct conn {
	struct httpd *h;
	struct bufferevent *bev; /* owned; closes the socket */
	struct event *deadline;  /* owned */
	struct conn *prev, *next; /* in accept order: the head is the oldest */
	enum conn_state state;
	char *head;              /* owned: the request line and headers, split in place */
	bool have_head;
	struct httpd_request req; /* once the head is read: points into head */
	struct httpd_header hdrs[HTTPD_HEADERS_COUNT];
	size_t body_len;         /* Content-Length, once the head is read */
	char peer[HTTPD_PEER_MAX]; /* "host:port" of the client */
};

struct httpd {
	struct event_base *base;
	struct evconnlistener *listener; /* owned */
	struct event *resume;            /* owned: accepting again after accept() failed */
	struct httpd_limits lim;
	httpd_handler_fn handler;
	void *arg;
	struct conn *oldest, *newest;    /* owned, open connections */
	size_t nconns;
	uint16_t port;
	struct httpd_counts counts;
	uint64_t accept_errors_told; /* by httpd_accept_news() */
};

static const char *
reason_of(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 204, "No Content" },
		{ 304, "Not Modified" }, { 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 408, "Request Timeout" }, { 411, "Length Required" },
		{ 413, "Content Too Large" }, { 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (reasons[i].status == status)
			return reasons[i].reason;
	}
	return "Unknown";
}

/* --- the answer ---------------------------------------------------------------------- */

int
httpd_reply(struct httpd_response *res, int status, const char *content_type,
    const void *body, size_t len)
{
	res->status = status;
	res->content_type = content_type;
	if (len > 0 && evbuffer_add(res->body, body, len) != 0) {
		res->failed = true;
		return -1;
	}
	return 0;
}

int
httpd_header(struct httpd_response *res, const char *name, const char *value)
{
	int n;

	if (res->nheaders == HTTPD_RESPONSE_HEADERS || strpbrk(name, "\r\n:") != NULL ||
	    strpbrk(value, "\r\n") != NULL)
		return -1;
	n = snprintf(res->headers[res->nheaders], HTTPD_RESPONSE_HEADER_MAX, "%s: %s", name,
	    value);
	if (n < 0 || n >= HTTPD_RESPONSE_HEADER_MAX)
		return -1;
	res->nheaders++;
	return 0;
}

struct evbuffer *
httpd_body(struct httpd_response *res)
{
	return res->body;
}

/* --- connections --------------------------------------------------------------------- */

static void
update_accepting(struct httpd *h, bool paused)
{
	if (paused)
		evconnlistener_disable(h->listener);
	else
		evconnlistener_enable(h->listener);
}

static void
conn_free(struct conn *c)
{
	struct httpd *h = c->h;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->oldest = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		h->newest = c->prev;
	h->nconns--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c->head);
	free(c);
}

/* A short answer written straight to the socket, best effort, for a connection that
 * is closed at once (no slot is held to finish writing it). */
static void
answer_and_close(evutil_socket_t fd, int status, const char *extra)
{
	char text[256];
	int n = snprintf(text, sizeof(text), "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%d %s\n", status,
	    reason_of(status), strlen(reason_of(status)) + 5, extra, status, reason_of(status));

	if (n > 0 && (size_t)n < sizeof(text))
		(void)send(fd, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Queues the whole answer; the connection ends when it has been sent. */
static void
conn_answer(struct conn *c, struct httpd_response *res, bool head)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = evbuffer_get_length(res->body), i;
	bool no_body = res->status == 304 || res->status == 204;
	int rc;

	c->state = CONN_WRITING;
	bufferevent_disable(c->bev, EV_READ);
	rc = evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", res->status, reason_of(res->status));
	if (rc >= 0 && res->content_type != NULL)
		rc = evbuffer_add_printf(out, "Content-Type: %s\r\n", res->content_type);
	if (rc >= 0 && !no_body)
		rc = evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	for (i = 0; rc >= 0 && i < res->nheaders; i++)
		rc = evbuffer_add_printf(out, "%s\r\n", res->headers[i]);
	if (rc >= 0)
		rc = evbuffer_add_printf(out, "Connection: close\r\n\r\n");
	if (rc >= 0 && !head && !no_body && len > 0)
		rc = evbuffer_add_buffer(out, res->body);
	if (rc < 0) {
		conn_free(c);
		return;
	}
	bufferevent_enable(c->bev, EV_WRITE);
}

/* An answer of the listener's own (a limit, a malformed request). */
static void
conn_refuse(struct conn *c, int status, bool head)
{
	struct httpd_response res;
	char text[64];
	int n = snprintf(text, sizeof(text), "%d %s\n", status, reason_of(status));

	memset(&res, 0, sizeof(res));
	if ((res.body = evbuffer_new()) == NULL) {
		conn_free(c);
		return;
	}
	if (status == 408)
		c->h->counts.timed_out++;
	else if (status != 500)
		c->h->counts.refused++;
	httpd_reply(&res, status, "text/plain; charset=utf-8", text, (size_t)n);
	conn_answer(c, &res, head);
	evbuffer_free(res.body);
}

static bool
is_token_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static char *
trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return s;
}

const char *
httpd_request_header(const struct httpd_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

int
httpd_parse_head(char *head, size_t body_max, struct httpd_request *req,
    struct httpd_header *hdrs, size_t *body_len)
{
	char *p = head, *eol, *next, *sp1, *sp2, *colon, *q;
	const char *v;
	uint64_t clen = 0;

	memset(req, 0, sizeof(*req));
	req->headers = hdrs;
	*body_len = 0;
	eol = strchr(p, '\n');
	if (eol == NULL)
		return 400;
	*eol = '\0';
	if (eol > p && eol[-1] == '\r')
		eol[-1] = '\0';
	sp1 = strchr(p, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == p || sp2 == sp1 + 1 ||
	    (size_t)(sp1 - p) > HTTPD_METHOD_MAX || strlen(sp2 + 1) != 8 ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 400;
	*sp1 = '\0';
	*sp2 = '\0';
	for (q = p; *q != '\0'; q++) {
		if (!is_token_char(*q))
			return 400;
	}
	req->method = p;
	req->head = strcmp(p, "HEAD") == 0;
	req->path = sp1 + 1;
	/* The absolute form "http://host:port/path" names the same path. */
	if (strncmp(req->path, "http://", 7) == 0) {
		req->path = strchr(req->path + 7, '/');
		if (req->path == NULL)
			req->path = "/";
	}
	req->query = "";
	if ((q = strchr(req->path, '?')) != NULL) {
		/* Split in place: the target then reads as far as the path. */
		*q = '\0';
		req->query = q + 1;
	}
	p = eol + 1;
	while (*p != '\0') {
		next = strchr(p, '\n');
		if (next == NULL)
			next = p + strlen(p);
		eol = next > p && next[-1] == '\r' ? next - 1 : next;
		if (req->nheaders == HTTPD_HEADERS_COUNT)
			return 431;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return 400;
		for (q = p; q < colon; q++) {
			if (!is_token_char(*q))
				return 400;
		}
		*colon = '\0';
		hdrs[req->nheaders].name = p;
		p = *next != '\0' ? next + 1 : next;
		hdrs[req->nheaders].value = trim(colon + 1, eol);
		req->nheaders++;
	}
	if (httpd_request_header(req, "Transfer-Encoding") != NULL)
		return 411;
	if ((v = httpd_request_header(req, "Content-Length")) != NULL &&
	    parse_u64(v, 0, UINT64_MAX, &clen) != 0)
		return 400;
	if (clen > body_max)
		return 413;
	*body_len = (size_t)clen;
	return 0;
}

/* The request is whole: the handler answers. */
static void
dispatch(struct conn *c, struct httpd_request *req, char *body)
{
	struct httpd *h = c->h;
	struct httpd_response res;

	memset(&res, 0, sizeof(res));
	req->body = body != NULL ? body : "";
	req->body_len = c->body_len;
	if ((res.body = evbuffer_new()) == NULL) {
		conn_refuse(c, 500, req->head);
		return;
	}
	h->counts.requests++;
	h->handler(h->arg, req, &res);
	if (res.failed || res.status < 100 || res.status > 999) {
		evbuffer_free(res.body);
		conn_refuse(c, 500, req->head);
		return;
	}
	conn_answer(c, &res, req->head);
	evbuffer_free(res.body);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in), scan, i, hlen = 0;
	const char *p, *expect;
	char *body = NULL;
	int status;

	if (c->state != CONN_READING) {
		evbuffer_drain(in, len);
		return;
	}
	if (!c->have_head) {
		scan = len < c->h->lim.headers_max ? len : c->h->lim.headers_max;
		if ((p = (const char *)evbuffer_pullup(in, (ev_ssize_t)scan)) == NULL) {
			conn_free(c);
			return;
		}
		/* The blank line: "\n\n" or "\n\r\n" (so CRLF, LF and a mix all end). */
		for (i = 1; i < scan && hlen == 0; i++) {
			if (p[i] == '\n' && (p[i - 1] == '\n' ||
			    (p[i - 1] == '\r' && i >= 2 && p[i - 2] == '\n')))
				hlen = i + 1;
		}
		if (hlen == 0) {
			if (len >= c->h->lim.headers_max)
				conn_refuse(c, 431, false);
			return; /* more to come, until the deadline */
		}
		if ((c->head = malloc(hlen + 1)) == NULL) {
			conn_free(c);
			return;
		}
		memcpy(c->head, p, hlen);
		/* Drop the blank line: the head ends with the last header's line end. */
		c->head[hlen - 1] = '\0';
		if (hlen >= 2 && c->head[hlen - 2] == '\r')
			c->head[hlen - 2] = '\0';
		evbuffer_drain(in, hlen);
		c->have_head = true;
		if ((status = httpd_parse_head(c->head, c->h->lim.body_max, &c->req, c->hdrs,
		    &c->body_len)) != 0) {
			conn_refuse(c, status, false);
			return;
		}
		c->req.peer = c->peer;
		expect = httpd_request_header(&c->req, "Expect");
		if (c->body_len > evbuffer_get_length(in) && expect != NULL &&
		    strcasecmp(expect, "100-continue") == 0)
			bufferevent_write(bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	if (c->body_len > evbuffer_get_length(in))
		return; /* the body is not all here yet */
	if (c->body_len > 0) {
		if ((body = malloc(c->body_len + 1)) == NULL) {
			conn_refuse(c, 500, false);
			return;
		}
		evbuffer_remove(in, body, c->body_len);
		body[c->body_len] = '\0';
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	dispatch(c, &c->req, body);
	free(body);
}

static void
on_written(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_WRITING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	/* A client that half-closes after its request still gets the answer. */
	if (c->state == CONN_WRITING && !(what & BEV_EVENT_ERROR))
		return;
	conn_free(c);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CONN_READING) {
		c->h->counts.timed_out++;
		answer_and_close(bufferevent_getfd(c->bev), 408, "");
	} else {
		c->h->counts.timed_out++; /* an answer the client did not read in time */
	}
	conn_free(c);
}

/* At the cap: make room by closing the oldest connection still reading its request.
 * false if every connection is being answered. */
static bool
evict_one(struct httpd *h)
{
	struct conn *c;

	for (c = h->oldest; c != NULL; c = c->next) {
		if (c->state == CONN_READING) {
			h->counts.evicted++;
			conn_free(c);
			return true;
		}
	}
	return false;
}

/* A client's address as "host:port" ("[v6]:port"), numeric; "?" when unknown. */
static void
peer_text(const struct sockaddr *sa, int salen, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa != NULL && sa->sa_family == AF_INET && salen >= (int)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) != NULL) {
			snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
			return;
		}
	} else if (sa != NULL && sa->sa_family == AF_INET6 &&
	    salen >= (int)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) != NULL) {
			snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
			return;
		}
	}
	snprintf(buf, len, "?");
}

static void
on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct httpd *h = arg;
	struct timeval life = clock_ms_timeval(h->lim.timeout_ms);
	struct conn *c;

	(void)listener;
	if (h->nconns >= h->lim.connections_max && !evict_one(h)) {
		h->counts.busy++;
		answer_and_close(fd, 503, "Retry-After: 1\r\n");
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->h = h;
	peer_text(sa, salen, c->peer, sizeof(c->peer));
	c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(h->base, on_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		return;
	}
	c->prev = h->newest;
	if (h->newest != NULL)
		h->newest->next = c;
	else
		h->oldest = c;
	h->newest = c;
	h->nconns++;
	bufferevent_setcb(c->bev, on_read, on_written, on_event, c);
	evtimer_add(c->deadline, &life);
	if (bufferevent_enable(c->bev, EV_READ) != 0)
		conn_free(c);
}

/* accept() failed for a reason that will not pass by itself at once (no descriptor
 * left): pause rather than fail again on every turn of the loop. */
static void
on_accept_error(struct evconnlistener *listener, void *arg)
{
	struct httpd *h = arg;
	struct timeval pause = clock_ms_timeval(h->lim.accept_retry_ms);

	(void)listener;
	h->counts.accept_errors++;
	h->counts.accept_errno = EVUTIL_SOCKET_ERROR();
	update_accepting(h, true);
	evtimer_add(h->resume, &pause);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	update_accepting(arg, false);
}

struct httpd *
httpd_start(struct event_base *base, const char *host, uint16_t port,
    const struct httpd_limits *limits, httpd_handler_fn handler, void *arg, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t salen = sizeof(ss);
	struct httpd *h;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		salen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		salen = sizeof(*sin6);
	} else {
		errbuf_set(err, errlen, "cannot listen on %s:%u: not a numeric address", host,
		    (unsigned)port);
		return NULL;
	}
	if (limits->connections_max < 1 || limits->timeout_ms <= 0 ||
	    limits->headers_max < 16 || limits->accept_retry_ms <= 0) {
		errbuf_set(err, errlen, "cannot listen on %s:%u: invalid limits", host,
		    (unsigned)port);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->resume = evtimer_new(base, on_resume, h)) == NULL) {
		free(h);
		errbuf_set(err, errlen, "out of memory");
		return NULL;
	}
	h->base = base;
	h->lim = *limits;
	h->handler = handler;
	h->arg = arg;
	h->listener = evconnlistener_new_bind(base, on_accept, h, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, HTTPD_BACKLOG, (struct sockaddr *)&ss,
	    (int)salen);
	if (h->listener == NULL) {
		errbuf_set(err, errlen, "cannot listen on %s%s%s:%u: %s",
		    ss.ss_family == AF_INET6 ? "[" : "", host,
		    ss.ss_family == AF_INET6 ? "]" : "", (unsigned)port, strerror(errno));
		event_free(h->resume);
		free(h);
		return NULL;
	}
	evconnlistener_set_error_cb(h->listener, on_accept_error);
	salen = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(h->listener), (struct sockaddr *)&ss, &salen) == 0)
		h->port = ntohs(ss.ss_family == AF_INET6 ? sin6->sin6_port : sin->sin_port);
	return h;
}

void
httpd_stop(struct httpd *h)
{
	if (h == NULL)
		return;
	while (h->oldest != NULL)
		conn_free(h->oldest);
	evconnlistener_free(h->listener);
	event_free(h->resume);
	free(h);
}

uint16_t
httpd_port(const struct httpd *h)
{
	return h->port;
}

size_t
httpd_connections(const struct httpd *h)
{
	return h->nconns;
}

void
httpd_counts(const struct httpd *h, struct httpd_counts *out)
{
	*out = h->counts;
}

int
httpd_accept_news(struct httpd *h, char *msg, size_t len)
{
	uint64_t n = h->counts.accept_errors - h->accept_errors_told;

	if (n == 0)
		return 0;
	h->accept_errors_told = h->counts.accept_errors;
	errbuf_set(msg, len,
	    "accept() failed %" PRIu64 " time%s: %s; accepting paused %d ms each time", n,
	    n == 1 ? "" : "s", evutil_socket_error_to_string(h->counts.accept_errno),
	    h->lim.accept_retry_ms);
	return 1;
}
