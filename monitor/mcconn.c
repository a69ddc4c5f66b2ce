/*
 * mcconn — see mcconn.h.
 *
 * The socket is driven directly (send/recv on a non-blocking descriptor, one read
 * and one write event) rather than through a bufferevent: a probe is a few bytes
 * each way, and the buffer layer's extra work per read (a FIONREAD ioctl, chained
 * buffers) and per write (a loop turn waiting for "writable") was most of what a
 * probe cost the process besides the kernel's own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "clock.h"
#include "cluster.h"
#include "config.h"
#include "errbuf.h"
#include "mcconn.h"

#define AUTH_MAX (CLUSTER_USER_MAX + CONFIG_SECRET_MAX + 64) /* the auth request */
#define INPUT_INITIAL 8192                              /* a poll's replies fit */
#define INPUT_MAX (MCREPLY_MAX + MCREPLY_LINE_MAX)       /* then a reply is too large */
#define OUTPUT_MAX (MCCONN_REQUEST_MAX + AUTH_MAX)       /* auth + request, unsent */

enum phase {
	PHASE_IDLE,         /* no socket */
	PHASE_RESOLVING,    /* a name being resolved */
	PHASE_CONNECTING,
	PHASE_AUTHENTICATING,
	PHASE_READY,        /* connected, authenticated, nothing in flight */
	PHASE_WAITING,      /* a request sent, its replies awaited */
};

/*
 * A name resolution in flight. evdns reports a cancelled request later, from the
 * loop, so the callback's argument must outlive the connection: the ticket is
 * detached (c = NULL) on close and freed by the callback.
 */
struct dns_ticket {
	struct mcconn *c;
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

	int fd;                   /* -1 when idle */
	struct event *read_ev;    /* owned: EV_READ | EV_PERSIST on fd */
	struct event *write_ev;   /* owned: EV_WRITE on fd (connecting, unsent bytes) */
	struct event *timer;      /* owned: the deadline of the phase in progress */
	struct dns_ticket *ticket; /* a resolution in flight, or NULL */
	struct evdns_getaddrinfo_request *dns_req;
	enum phase phase;
	bool busy;

	char *in;                 /* owned: received bytes not yet consumed */
	size_t in_len, in_cap;
	char out[OUTPUT_MAX];     /* bytes the kernel has not taken yet */
	size_t out_len, out_off;

	/* The request in flight. */
	char request[MCCONN_REQUEST_MAX];
	size_t request_len;
	enum mcreply_kind kind;
	unsigned nreplies;
	int timeout_ms;
	int64_t sent_ns;          /* monotonic, when the request went to the kernel */
	int64_t sent_real_ns;     /* the same moment on the wall clock (0: unknown) */
	int64_t rx_real_ns;       /* the kernel's receive time of the latest bytes read
	                             (wall clock; 0: none since the request was sent) */

	/* A failure found inside mcconn_request(), reported from the loop. */
	bool deferred;
	enum mcconn_status deferred_status;
	char deferred_error[MCCONN_ERROR_MAX];

	uint64_t connects, attempts;
};


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

/*
 * From send to the last reply: measured by when the kernel received the reply's last
 * bytes (SO_TIMESTAMPNS), not by when the loop came round to read them. The monitor's
 * own work (an evaluation, a log write, a scrape) or its process not being scheduled
 * must not show as the server's latency: a probe answered in 0.3 ms while the loop
 * was busy for 6 ms read as slow, so one node's open tail incident (whose evaluation
 * writes) kept its own tail going. The kernel's stamp is on the wall clock; when it
 * is missing or does not fit inside the loop's own measure (the wall clock stepped),
 * the loop's measure stands.
 */
static int64_t
reply_latency_us(const struct mcconn *c)
{
	int64_t loop = clock_now_ns(CLOCK_MONOTONIC) - c->sent_ns, kernel = c->rx_real_ns - c->sent_real_ns;

	if (c->sent_real_ns != 0 && c->rx_real_ns != 0 && kernel >= 0 && kernel <= loop)
		return kernel / 1000;
	return loop > 0 ? loop / 1000 : 0;
}

/* --- the connection ---------------------------------------------------------------- */

static void
close_socket(struct mcconn *c)
{
	if (c->ticket != NULL) {
		c->ticket->c = NULL; /* the callback frees it */
		evdns_getaddrinfo_cancel(c->dns_req);
		c->ticket = NULL;
		c->dns_req = NULL;
	}
	if (c->read_ev != NULL) {
		event_free(c->read_ev);
		c->read_ev = NULL;
	}
	if (c->write_ev != NULL) {
		event_free(c->write_ev);
		c->write_ev = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->in_len = 0;
	c->out_len = c->out_off = 0;
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
	struct timeval tv = clock_ms_timeval(ms);

	evtimer_add(c->timer, &tv);
}

/* Reports a failure from the loop rather than from inside mcconn_request(). */
static void
defer_failure(struct mcconn *c, enum mcconn_status status, const char *error)
{
	struct timeval now = { 0, 0 };

	close_socket(c);
	c->deferred = true;
	c->deferred_status = status;
	snprintf(c->deferred_error, sizeof(c->deferred_error), "%s", error);
	evtimer_add(c->timer, &now);
}

/* Sends what is queued; what the kernel does not take waits for the write event. */
static int
flush_output(struct mcconn *c, char *error, size_t errlen)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->write_ev, NULL);
			return 0;
		}
		snprintf(error, errlen, "send: %s", n < 0 ? strerror(errno) : "closed");
		return -1;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

/* Queues data and writes it at once: a request goes out in one send() from here. */
static int
write_now(struct mcconn *c, const void *data, size_t len, char *error, size_t errlen)
{
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > sizeof(c->out) - c->out_len) {
		snprintf(error, errlen, "send: more than %zu bytes unsent", sizeof(c->out));
		return -1;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return flush_output(c, error, errlen);
}

static void
send_request(struct mcconn *c)
{
	char error[MCCONN_ERROR_MAX];

	/* Stamped before the write: a server on another CPU can answer, and the kernel
	 * stamp its reply, before write() returns here, and a reply stamped before its
	 * request was sent would read as a stepped clock (the loop's measure, stall and
	 * all, would stand). Monotonic first, so the kernel's span fits inside it. */
	c->sent_ns = clock_now_ns(CLOCK_MONOTONIC);
	c->sent_real_ns = clock_now_ns(CLOCK_REALTIME);
	c->rx_real_ns = 0;
	if (write_now(c, c->request, c->request_len, error, sizeof(error)) < 0) {
		defer_failure(c, MCCONN_ERR_CLOSED, error);
		return;
	}
	c->phase = PHASE_WAITING;
	arm(c, c->timeout_ms);
}

static void
send_auth(struct mcconn *c)
{
	char line[AUTH_MAX], error[MCCONN_ERROR_MAX];
	int n;

	n = snprintf(line, sizeof(line), "set %s 0 0 %zu\r\n%s\r\n", c->user,
	    strlen(c->password), c->password);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    write_now(c, line, (size_t)n, error, sizeof(error)) < 0) {
		explicit_bzero(line, sizeof(line));
		explicit_bzero(c->out, sizeof(c->out));
		defer_failure(c, MCCONN_ERR_CONNECT, "authentication: cannot send");
		return;
	}
	explicit_bzero(line, sizeof(line));
	c->phase = PHASE_AUTHENTICATING;
}

static void
consume(struct mcconn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* The authentication's reply: STORED, or the refusal. */
static void
auth_reply(struct mcconn *c)
{
	char error[MCCONN_ERROR_MAX];
	struct mcreply_frame f;
	enum mcreply_status rc = mcreply_frame(c->in, c->in_len, MCREPLY_LINE, &f);

	if (rc == MCREPLY_MORE)
		return;
	/* A secret went through the output buffer: do not leave it there. */
	explicit_bzero(c->out, sizeof(c->out));
	if (rc == MCREPLY_COMPLETE && f.len == 8 && memcmp(c->in, "STORED\r\n", 8) == 0) {
		consume(c, f.len);
		c->phase = PHASE_READY;
		send_request(c);
		return;
	}
	if (rc == MCREPLY_COMPLETE) {
		snprintf(error, sizeof(error), "authentication as %s refused: %.*s", c->user,
		    (int)(f.last_len > 100 ? 100 : f.last_len), c->in + f.last_off);
	} else {
		snprintf(error, sizeof(error), "authentication as %s: malformed reply", c->user);
	}
	finish(c, MCCONN_ERR_AUTH, NULL, 0, 0, error);
}

/* The request's replies, once all of them are in. */
static void
request_replies(struct mcconn *c)
{
	char error[MCCONN_ERROR_MAX];
	struct mcreply_frame f;
	enum mcreply_status rc;
	size_t off = 0;
	bool any_error = false;
	int64_t latency;
	unsigned i;

	for (i = 0; i < c->nreplies; i++) {
		rc = mcreply_frame(c->in + off, c->in_len - off, c->kind, &f);
		if (rc == MCREPLY_MORE)
			return;
		if (rc == MCREPLY_MALFORMED) {
			snprintf(error, sizeof(error), "malformed reply");
			finish(c, MCCONN_ERR_PROTO, NULL, 0, 0, error);
			return;
		}
		if (f.error && !any_error) {
			size_t show = f.len > 100 ? 100 : f.len;
			while (show > 0 && (c->in[off + show - 1] == '\n' ||
			    c->in[off + show - 1] == '\r'))
				show--;
			snprintf(error, sizeof(error), "%.*s", (int)show, c->in + off);
			any_error = true;
		}
		off += f.len;
	}
	if (c->in_len > off) {
		/* More than was asked for: the next request would read it. */
		snprintf(error, sizeof(error), "%zu unexpected bytes after the reply",
		    c->in_len - off);
		finish(c, MCCONN_ERR_PROTO, NULL, 0, 0, error);
		return;
	}
	latency = reply_latency_us(c);
	/* The callback reads the replies in place; they are consumed after it. A request
	 * it starts cannot be answered before we return to the loop. */
	c->in_len = 0;
	finish(c, any_error ? MCCONN_ERR_REPLY : MCCONN_OK, c->in, off, latency,
	    any_error ? error : "");
}

/* The peer closed (n == 0) or the socket failed (errno). */
static void
lost(struct mcconn *c, bool eof)
{
	char error[MCCONN_ERROR_MAX];
	int e = errno;

	switch (c->phase) {
	case PHASE_AUTHENTICATING:
		finish(c, MCCONN_ERR_CONNECT, NULL, 0, 0, "closed during authentication");
		break;
	case PHASE_WAITING:
		snprintf(error, sizeof(error), "%s", eof ? "closed by the server" : strerror(e));
		finish(c, MCCONN_ERR_CLOSED, NULL, 0, 0, error);
		break;
	default:
		close_socket(c); /* an idle connection went away: reconnect when needed */
		break;
	}
}

/* recv() into c->in, keeping the kernel's receive stamp of what was read. */
static ssize_t
read_stamped(struct mcconn *c, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { c->in + c->in_len, c->in_cap - c->in_len };
	struct msghdr msg;
	struct cmsghdr *cm;
	struct timespec ts;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n <= 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			c->rx_real_ns = clock_timespec_ns(&ts);
		}
	}
	return n;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct mcconn *c = arg;
	ssize_t n;
	char *bigger;

	(void)what;
	if (c->in_len == c->in_cap) {
		if (c->in_cap >= INPUT_MAX) {
			finish(c, c->phase == PHASE_WAITING ? MCCONN_ERR_PROTO : MCCONN_ERR_CONNECT,
			    NULL, 0, 0, "reply larger than 1 MiB");
			return;
		}
		bigger = realloc(c->in, c->in_cap * 2 < INPUT_MAX ? c->in_cap * 2 : INPUT_MAX);
		if (bigger == NULL) {
			finish(c, MCCONN_ERR_PROTO, NULL, 0, 0, "out of memory for a reply");
			return;
		}
		c->in = bigger;
		c->in_cap = c->in_cap * 2 < INPUT_MAX ? c->in_cap * 2 : INPUT_MAX;
	}
	n = read_stamped(c, fd);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		lost(c, n == 0);
		return;
	}
	c->in_len += (size_t)n;
	switch (c->phase) {
	case PHASE_AUTHENTICATING:
		auth_reply(c);
		break;
	case PHASE_WAITING:
		request_replies(c);
		break;
	default:
		/* Unsolicited bytes: whatever they are, the stream is out of step. */
		close_socket(c);
		break;
	}
}

static void
connected(struct mcconn *c)
{
	c->connects++;
	if (c->auth)
		send_auth(c);
	else
		send_request(c);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct mcconn *c = arg;
	char error[MCCONN_ERROR_MAX];
	socklen_t len = sizeof(int);
	int e = 0;

	(void)what;
	if (c->phase == PHASE_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (e != 0) {
			snprintf(error, sizeof(error), "connect: %s", strerror(e));
			finish(c, MCCONN_ERR_CONNECT, NULL, 0, 0, error);
			return;
		}
		connected(c);
		return;
	}
	if (flush_output(c, error, sizeof(error)) < 0)
		finish(c, c->phase == PHASE_WAITING ? MCCONN_ERR_CLOSED : MCCONN_ERR_CONNECT, NULL,
		    0, 0, error);
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
	case PHASE_RESOLVING:
	case PHASE_CONNECTING:
	case PHASE_AUTHENTICATING:
		snprintf(error, sizeof(error), "%s not done within %d ms",
		    c->phase == PHASE_RESOLVING ? "resolving" :
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

/* Opens the socket and starts connecting to sa. Failures are deferred. */
static void
connect_to(struct mcconn *c, const struct sockaddr *sa, socklen_t salen)
{
	char error[MCCONN_ERROR_MAX];
	int one = 1;

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(error, sizeof(error), "socket: %s", strerror(errno));
		defer_failure(c, MCCONN_ERR_CONNECT, error);
		return;
	}
	/* Small requests: do not let Nagle hold a probe back. Receive stamps: see
	 * reply_latency_us() (without them the loop's own measure is used). */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	c->read_ev = event_new(c->base, c->fd, EV_READ | EV_PERSIST, on_readable, c);
	c->write_ev = event_new(c->base, c->fd, EV_WRITE, on_writable, c);
	if (c->read_ev == NULL || c->write_ev == NULL || event_add(c->read_ev, NULL) != 0) {
		defer_failure(c, MCCONN_ERR_CONNECT, "connect: out of memory");
		return;
	}
	c->phase = PHASE_CONNECTING;
	if (connect(c->fd, sa, salen) == 0) {
		connected(c);
		return;
	}
	if (errno != EINPROGRESS) {
		snprintf(error, sizeof(error), "connect: %s", strerror(errno));
		defer_failure(c, MCCONN_ERR_CONNECT, error);
		return;
	}
	event_add(c->write_ev, NULL);
}

static void
connect_to_first(struct mcconn *c, int result, struct evutil_addrinfo *ai)
{
	char error[MCCONN_ERROR_MAX];

	if (result != 0 || ai == NULL) {
		snprintf(error, sizeof(error), "resolve %.100s: %s", c->host,
		    evutil_gai_strerror(result != 0 ? result : EVUTIL_EAI_NONAME));
		defer_failure(c, MCCONN_ERR_CONNECT, error);
		return;
	}
	connect_to(c, ai->ai_addr, (socklen_t)ai->ai_addrlen);
}

static void
on_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct dns_ticket *t = arg;
	struct mcconn *c = t->c;

	free(t);
	if (c == NULL) { /* cancelled: the connection is gone or closed */
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	c->ticket = NULL;
	c->dns_req = NULL;
	connect_to_first(c, result, ai);
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
}

static void
start_connect(struct mcconn *c)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct evutil_addrinfo hints, *ai = NULL;
	char port[8];
	int rc;

	c->attempts++;
	arm(c, c->connect_timeout_ms);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, c->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->port);
		connect_to(c, (struct sockaddr *)sin, sizeof(*sin));
		return;
	}
	if (inet_pton(AF_INET6, c->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->port);
		connect_to(c, (struct sockaddr *)sin6, sizeof(*sin6));
		return;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)c->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if (c->dns == NULL) {
		/* No resolver: a blocking lookup (mcmon makes one when any name is used). */
		rc = evutil_getaddrinfo(c->host, port, &hints, &ai);
		connect_to_first(c, rc, ai);
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	if ((c->ticket = calloc(1, sizeof(*c->ticket))) == NULL) {
		defer_failure(c, MCCONN_ERR_CONNECT, "resolve: out of memory");
		return;
	}
	c->ticket->c = c;
	c->phase = PHASE_RESOLVING;
	/* NULL when answered at once: the callback has run (and freed the ticket). */
	c->dns_req = evdns_getaddrinfo(c->dns, c->host, port, &hints, on_resolved, c->ticket);
	if (c->dns_req == NULL)
		c->ticket = NULL;
}

struct mcconn *
mcconn_new(struct event_base *base, struct evdns_base *dns, const struct mcconn_target *t,
    mcconn_done_fn done, void *arg, char *err, size_t errlen)
{
	struct mcconn *c;

	if (t->host == NULL || t->host[0] == '\0' || strlen(t->host) > CLUSTER_HOST_MAX ||
	    t->port == 0) {
		errbuf_set(err, errlen, "invalid address");
		return NULL;
	}
	if (t->user != NULL && (strlen(t->user) > CLUSTER_USER_MAX || t->password == NULL ||
	    strlen(t->password) >= CONFIG_SECRET_MAX)) {
		errbuf_set(err, errlen, "invalid account");
		return NULL;
	}
	if (t->connect_timeout_ms <= 0) {
		errbuf_set(err, errlen, "invalid connect timeout");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->timer = evtimer_new(base, on_timer, c);
	c->in = malloc(INPUT_INITIAL);
	if (c->timer == NULL || c->in == NULL) {
		if (c->timer != NULL)
			event_free(c->timer);
		free(c->in);
		free(c);
		errbuf_set(err, errlen, "out of memory");
		return NULL;
	}
	c->in_cap = INPUT_INITIAL;
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
	explicit_bzero(c->out, sizeof(c->out));
	free(c->in);
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
	return c->phase == PHASE_READY || c->phase == PHASE_WAITING;
}

int
mcconn_request(struct mcconn *c, const char *request, size_t len, enum mcreply_kind kind,
    unsigned nreplies, int timeout_ms, char *err, size_t errlen)
{
	if (c->busy) {
		errbuf_set(err, errlen, "a request is in flight");
		return -1;
	}
	if (len == 0 || len > MCCONN_REQUEST_MAX || nreplies == 0 ||
	    nreplies > MCCONN_REPLIES_MAX || timeout_ms <= 0) {
		errbuf_set(err, errlen, "invalid request");
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
