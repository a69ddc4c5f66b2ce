/*
 * mcconn — see mcconn.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "cluster.h"
#include "config.h"
#include "mcconn.h"
#include "parse.h"

#define AUTH_MAX (CLUSTER_USER_MAX + CONFIG_SECRET_MAX + 64) /* the auth request */

enum phase {
	PHASE_IDLE,         /* no socket */
	PHASE_CONNECTING,
	PHASE_AUTHENTICATING,
	PHASE_READY,        /* connected, authenticated, nothing in flight */
	PHASE_WAITING,      /* a request sent, its replies awaited */
};

struct mcconn {
	struct event_base *base;
	struct evdns_base *dns; /* borrowed; may be NULL */
	char host[CLUSTER_HOST_MAX + 1];
	uint16_t port;
	bool auth;
	char user[CLUSTER_USER_MAX + 1];
	char password[CONFIG_SECRET_MAX];
	int connect_timeout_ms;
	mcconn_done_fn done;
	void *arg;

	struct bufferevent *bev; /* owned; NULL when idle */
	struct event *timer;     /* owned: the deadline of the phase in progress */
	enum phase phase;
	bool busy;

	/* The request in flight. */
	char request[MCCONN_REQUEST_MAX];
	size_t request_len;
	enum mcconn_reply_kind kind;
	unsigned nreplies;
	int timeout_ms;
	int64_t sent_ns;

	/* A failure found inside mcconn_request(), reported from the loop. */
	bool deferred;
	enum mcconn_status deferred_status;
	char deferred_error[MCCONN_ERROR_MAX];

	uint64_t connects, attempts;
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
mcconn_status_name(enum mcconn_status status)
{
	switch (status) {
	case MCCONN_OK: return "ok";
	case MCCONN_ERR_CONNECT: return "connect";
	case MCCONN_ERR_AUTH: return "auth";
	case MCCONN_ERR_TIMEOUT: return "timeout";
	case MCCONN_ERR_CLOSED: return "closed";
	case MCCONN_ERR_PROTO: return "protocol";
	case MCCONN_ERR_REPLY: return "reply";
	}
	return "unknown";
}

static int64_t
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- framing ------------------------------------------------------------------------- */

static bool
line_is(const char *p, size_t n, const char *word)
{
	size_t wl = strlen(word);

	return n == wl && memcmp(p, word, wl) == 0;
}

static bool
line_starts(const char *p, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return n >= pl && memcmp(p, prefix, pl) == 0;
}

static bool
is_error_line(const char *p, size_t n)
{
	return line_is(p, n, "ERROR") || line_starts(p, n, "ERROR ") ||
	    line_starts(p, n, "CLIENT_ERROR") || line_starts(p, n, "SERVER_ERROR");
}

/* The byte count of "VALUE <key> <flags> <bytes>[ <cas>]"; -1 if malformed. */
static int
value_bytes(const char *p, size_t n, uint64_t *bytes)
{
	const char *end = p + n, *tok, *sp;
	uint64_t flags;
	int i;

	p += 6; /* "VALUE " */
	for (i = 0; i < 3; i++) {
		tok = p;
		sp = memchr(tok, ' ', (size_t)(end - tok));
		if (sp == NULL)
			sp = end;
		if (sp == tok)
			return -1;
		if (i == 1 && parse_u64_n(tok, (size_t)(sp - tok), 0, UINT32_MAX, &flags) < 0)
			return -1;
		if (i == 2)
			return parse_u64_n(tok, (size_t)(sp - tok), 0, MCCONN_REPLY_MAX, bytes);
		if (sp == end)
			return -1;
		p = sp + 1;
	}
	return -1;
}

int
mcconn_frame(const char *buf, size_t len, enum mcconn_reply_kind kind, size_t *reply_len,
    bool *error_line)
{
	size_t off = 0, avail, llen, next;
	const char *line, *nl;
	uint64_t bytes;

	*error_line = false;
	*reply_len = 0;
	for (;;) {
		if (off > MCCONN_REPLY_MAX)
			return -1;
		avail = len - off;
		line = buf + off;
		nl = memchr(line, '\n', avail < MCCONN_LINE_MAX ? avail : MCCONN_LINE_MAX);
		if (nl == NULL)
			return avail >= MCCONN_LINE_MAX ? -1 : 0;
		llen = (size_t)(nl - line);
		next = off + llen + 1;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (is_error_line(line, llen)) {
			*error_line = true;
			*reply_len = next;
			return 1;
		}
		switch (kind) {
		case MCCONN_REPLY_LINE:
			*reply_len = next;
			return 1;
		case MCCONN_REPLY_STATS:
			if (line_is(line, llen, "END")) {
				*reply_len = next;
				return next > MCCONN_REPLY_MAX ? -1 : 1;
			}
			if (!line_starts(line, llen, "STAT "))
				return -1;
			off = next;
			break;
		case MCCONN_REPLY_GET:
			if (line_is(line, llen, "END")) {
				*reply_len = next;
				return next > MCCONN_REPLY_MAX ? -1 : 1;
			}
			if (!line_starts(line, llen, "VALUE ") || value_bytes(line, llen, &bytes) < 0)
				return -1;
			if (next + bytes + 2 > MCCONN_REPLY_MAX)
				return -1;
			if (len < next + bytes + 2)
				return 0;
			if (buf[next + bytes] != '\r' || buf[next + bytes + 1] != '\n')
				return -1;
			off = next + (size_t)bytes + 2;
			break;
		default:
			return -1;
		}
	}
}

/* --- the connection ---------------------------------------------------------------- */

static void
close_socket(struct mcconn *c)
{
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	c->phase = PHASE_IDLE;
}

static bool
status_closes(enum mcconn_status status)
{
	return status != MCCONN_OK && status != MCCONN_ERR_REPLY;
}

/*
 * Ends the request in flight: the socket is closed first when the outcome requires
 * it, so that the callback may start the next request (and reconnect) at once.
 */
static void
finish(struct mcconn *c, enum mcconn_status status, const char *reply, size_t reply_len,
    int64_t latency_us, const char *error)
{
	struct mcconn_result r;

	evtimer_del(c->timer);
	c->busy = false;
	c->deferred = false;
	if (status_closes(status))
		close_socket(c);
	else
		c->phase = PHASE_READY;
	r.status = status;
	r.reply = reply;
	r.reply_len = reply_len;
	r.latency_us = latency_us;
	r.error = error != NULL ? error : "";
	c->done(c->arg, &r);
}

static void
arm(struct mcconn *c, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* Forward: a failure found while starting something is reported from the loop. */
static void defer_failure(struct mcconn *c, enum mcconn_status status, const char *error);

static void
send_request(struct mcconn *c)
{
	if (bufferevent_write(c->bev, c->request, c->request_len) != 0) {
		close_socket(c);
		defer_failure(c, MCCONN_ERR_CLOSED, "send: out of memory");
		return;
	}
	c->sent_ns = monotonic_ns();
	c->phase = PHASE_WAITING;
	arm(c, c->timeout_ms);
}

static void
send_auth(struct mcconn *c)
{
	char line[AUTH_MAX];
	int n;

	n = snprintf(line, sizeof(line), "set %s 0 0 %zu\r\n%s\r\n", c->user,
	    strlen(c->password), c->password);
	if (n < 0 || (size_t)n >= sizeof(line) || bufferevent_write(c->bev, line, (size_t)n) != 0) {
		explicit_bzero(line, sizeof(line));
		close_socket(c);
		defer_failure(c, MCCONN_ERR_CONNECT, "authentication: cannot send");
		return;
	}
	explicit_bzero(line, sizeof(line));
	c->phase = PHASE_AUTHENTICATING;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct mcconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in), off = 0, rlen;
	char error[MCCONN_ERROR_MAX];
	const char *data;
	bool error_line, any_error = false;
	unsigned i;
	int rc;

	if (c->phase != PHASE_AUTHENTICATING && c->phase != PHASE_WAITING) {
		/* Unsolicited bytes: whatever they are, the stream is out of step. */
		close_socket(c);
		return;
	}
	if (len > MCCONN_REPLY_MAX + MCCONN_LINE_MAX) {
		snprintf(error, sizeof(error), "reply larger than %d bytes", MCCONN_REPLY_MAX);
		finish(c, c->phase == PHASE_WAITING ? MCCONN_ERR_PROTO : MCCONN_ERR_CONNECT, NULL,
		    0, 0, error);
		return;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	if (data == NULL)
		return;
	if (c->phase == PHASE_AUTHENTICATING) {
		rc = mcconn_frame(data, len, MCCONN_REPLY_LINE, &rlen, &error_line);
		if (rc == 0)
			return;
		if (rc == 1 && rlen == 8 && memcmp(data, "STORED\r\n", 8) == 0) {
			evbuffer_drain(in, rlen);
			c->phase = PHASE_READY;
			send_request(c);
			return;
		}
		if (rc == 1) {
			while (rlen > 0 && (data[rlen - 1] == '\n' || data[rlen - 1] == '\r'))
				rlen--;
			snprintf(error, sizeof(error), "authentication as %s refused: %.*s",
			    c->user, (int)(rlen > 100 ? 100 : rlen), data);
		} else {
			snprintf(error, sizeof(error), "authentication as %s: malformed reply",
			    c->user);
		}
		finish(c, MCCONN_ERR_AUTH, NULL, 0, 0, error);
		return;
	}
	for (i = 0; i < c->nreplies; i++) {
		rc = mcconn_frame(data + off, len - off, c->kind, &rlen, &error_line);
		if (rc == 0)
			return;
		if (rc < 0) {
			snprintf(error, sizeof(error), "malformed reply");
			finish(c, MCCONN_ERR_PROTO, NULL, 0, 0, error);
			return;
		}
		if (error_line && !any_error) {
			int show = (int)(rlen > 100 ? 100 : rlen);
			while (show > 0 && (data[off + (size_t)show - 1] == '\n' ||
			    data[off + (size_t)show - 1] == '\r'))
				show--;
			snprintf(error, sizeof(error), "%.*s", show, data + off);
			any_error = true;
		}
		off += rlen;
	}
	if (len > off) {
		/* More than was asked for: the next request would read it. */
		snprintf(error, sizeof(error), "%zu unexpected bytes after the reply", len - off);
		finish(c, MCCONN_ERR_PROTO, NULL, 0, 0, error);
		return;
	}
	{
		int64_t latency = (monotonic_ns() - c->sent_ns) / 1000;
		/* The callback reads the replies in place; they are drained after it. A
		 * request it starts cannot be answered before we return to the loop. */
		finish(c, any_error ? MCCONN_ERR_REPLY : MCCONN_OK, data, off,
		    latency > 0 ? latency : 0, any_error ? error : "");
		if (c->bev != NULL)
			evbuffer_drain(bufferevent_get_input(c->bev), off);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct mcconn *c = arg;
	char error[MCCONN_ERROR_MAX];
	int one = 1, dns_err;

	if (what & BEV_EVENT_CONNECTED) {
		c->connects++;
		/* Small requests: do not let Nagle hold a probe back. */
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (c->auth)
			send_auth(c);
		else
			send_request(c);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	switch (c->phase) {
	case PHASE_CONNECTING:
		dns_err = bufferevent_socket_get_dns_error(bev);
		if (dns_err != 0)
			snprintf(error, sizeof(error), "resolve %.100s: %s", c->host,
			    evutil_gai_strerror(dns_err));
		else
			snprintf(error, sizeof(error), "connect: %s",
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		finish(c, MCCONN_ERR_CONNECT, NULL, 0, 0, error);
		break;
	case PHASE_AUTHENTICATING:
		snprintf(error, sizeof(error), "closed during authentication");
		finish(c, MCCONN_ERR_CONNECT, NULL, 0, 0, error);
		break;
	case PHASE_WAITING:
		if (what & BEV_EVENT_EOF)
			snprintf(error, sizeof(error), "closed by the server");
		else
			snprintf(error, sizeof(error), "%s",
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		finish(c, MCCONN_ERR_CLOSED, NULL, 0, 0, error);
		break;
	case PHASE_IDLE:
	case PHASE_READY:
		close_socket(c); /* an idle connection went away: reconnect when needed */
		break;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct mcconn *c = arg;
	char error[MCCONN_ERROR_MAX];

	(void)fd;
	(void)what;
	if (c->deferred) {
		snprintf(error, sizeof(error), "%s", c->deferred_error);
		finish(c, c->deferred_status, NULL, 0, 0, error);
		return;
	}
	switch (c->phase) {
	case PHASE_CONNECTING:
	case PHASE_AUTHENTICATING:
		snprintf(error, sizeof(error), "%s not done within %d ms",
		    c->phase == PHASE_CONNECTING ? "connect" : "authentication",
		    c->connect_timeout_ms);
		finish(c, MCCONN_ERR_CONNECT, NULL, 0, 0, error);
		break;
	case PHASE_WAITING:
		snprintf(error, sizeof(error), "no reply within %d ms", c->timeout_ms);
		finish(c, MCCONN_ERR_TIMEOUT, NULL, 0, (int64_t)c->timeout_ms * 1000, error);
		break;
	case PHASE_IDLE:
	case PHASE_READY:
		break;
	}
}

/* Reports a failure from the loop rather than from inside mcconn_request(). */
static void
defer_failure(struct mcconn *c, enum mcconn_status status, const char *error)
{
	struct timeval now = { 0, 0 };

	c->deferred = true;
	c->deferred_status = status;
	snprintf(c->deferred_error, sizeof(c->deferred_error), "%s", error);
	evtimer_add(c->timer, &now);
}

static void
start_connect(struct mcconn *c)
{
	char error[MCCONN_ERROR_MAX];

	c->attempts++;
	c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		defer_failure(c, MCCONN_ERR_CONNECT, "connect: out of memory");
		return;
	}
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->phase = PHASE_CONNECTING;
	arm(c, c->connect_timeout_ms);
	/* A numeric host is resolved at once; a name through evdns when given one. */
	if (bufferevent_socket_connect_hostname(c->bev, c->dns, AF_UNSPEC, c->host, c->port) !=
	    0) {
		int dns_err = bufferevent_socket_get_dns_error(c->bev);
		if (dns_err != 0)
			snprintf(error, sizeof(error), "resolve %.100s: %s", c->host,
			    evutil_gai_strerror(dns_err));
		else
			snprintf(error, sizeof(error), "connect: %s",
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		close_socket(c);
		defer_failure(c, MCCONN_ERR_CONNECT, error);
	}
}

struct mcconn *
mcconn_new(struct event_base *base, struct evdns_base *dns, const struct mcconn_target *t,
    mcconn_done_fn done, void *arg, char *err, size_t errlen)
{
	struct mcconn *c;

	if (t->host == NULL || t->host[0] == '\0' || strlen(t->host) > CLUSTER_HOST_MAX ||
	    t->port == 0) {
		seterr(err, errlen, "invalid address");
		return NULL;
	}
	if (t->user != NULL && (strlen(t->user) > CLUSTER_USER_MAX || t->password == NULL ||
	    strlen(t->password) >= CONFIG_SECRET_MAX)) {
		seterr(err, errlen, "invalid account");
		return NULL;
	}
	if (t->connect_timeout_ms <= 0) {
		seterr(err, errlen, "invalid connect timeout");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	c->timer = evtimer_new(base, on_timer, c);
	if (c->timer == NULL) {
		free(c);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->dns = dns;
	snprintf(c->host, sizeof(c->host), "%s", t->host);
	c->port = t->port;
	if (t->user != NULL) {
		c->auth = true;
		snprintf(c->user, sizeof(c->user), "%s", t->user);
		snprintf(c->password, sizeof(c->password), "%s", t->password);
	}
	c->connect_timeout_ms = t->connect_timeout_ms;
	c->done = done;
	c->arg = arg;
	return c;
}

void
mcconn_free(struct mcconn *c)
{
	if (c == NULL)
		return;
	close_socket(c);
	event_free(c->timer);
	explicit_bzero(c->password, sizeof(c->password));
	free(c);
}

bool
mcconn_busy(const struct mcconn *c)
{
	return c->busy;
}

bool
mcconn_ready(const struct mcconn *c)
{
	return c->phase == PHASE_READY || (c->phase == PHASE_WAITING);
}

int
mcconn_request(struct mcconn *c, const char *request, size_t len, enum mcconn_reply_kind kind,
    unsigned nreplies, int timeout_ms, char *err, size_t errlen)
{
	if (c->busy) {
		seterr(err, errlen, "a request is in flight");
		return -1;
	}
	if (len == 0 || len > MCCONN_REQUEST_MAX || nreplies == 0 ||
	    nreplies > MCCONN_REPLIES_MAX || timeout_ms <= 0) {
		seterr(err, errlen, "invalid request");
		return -1;
	}
	memcpy(c->request, request, len);
	c->request_len = len;
	c->kind = kind;
	c->nreplies = nreplies;
	c->timeout_ms = timeout_ms;
	c->busy = true;
	if (c->phase == PHASE_READY)
		send_request(c);
	else
		start_connect(c);
	return 0;
}

uint64_t
mcconn_connects(const struct mcconn *c)
{
	return c->connects;
}

uint64_t
mcconn_connect_attempts(const struct mcconn *c)
{
	return c->attempts;
}
