/*
 * server — listeners, worker threads and connections of mcd (see mcd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "binproto.h"
#include "log.h"
#include "mcd.h"
#include "output.h"
#include "parse.h"
#include "proxy.h"
#include "sdnotify.h"

#define CLOCK_ORIGIN_MS 1000000 /* keeps the server clock far from 0 ("never") */
#define ACCEPTS_PER_EVENT 64
#define TICK_MS 100
#define STOP_GRACE_MS 2000

static const char too_many_conns[] = "ERROR Too many open connections\r\n";
static const char draining_msg[] = "SERVER_ERROR node is draining\r\n";

int64_t
mcd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + CLOCK_ORIGIN_MS;
}

int64_t
mcd_unix_now(const struct mcd *m, int64_t now)
{
	return m->started_unix + (now - m->started_mono_ms) / 1000;
}

int64_t
mcd_exptime(const struct mcd *m, int64_t exptime, int64_t now)
{
	const int64_t month = 60 * 60 * 24 * 30;
	int64_t rel;

	if (exptime == 0)
		return 0;
	if (exptime < 0)
		return now - 1; /* negative: expired at once */
	if (exptime > month) {
		rel = exptime - mcd_unix_now(m, now);
		if (rel <= 0)
			return now - 1;
		/* A Unix time this far out lives as long as the server: clamped, since
		 * rel * 1000 would overflow into the past (or to 0, "never"). */
		if (rel > (INT64_MAX - now) / 1000)
			return INT64_MAX;
		return now + rel * 1000;
	}
	return now + exptime * 1000;
}

/* --- addresses and listeners ---------------------------------------------------- */

/* Copies src[0..n) and a NUL into dst; -1 if it does not fit. */
static int
copy_bounded(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* Splits "host:port", "[v6]:port" or "host" (port from default_port). */
static int
split_hostport(const char *s, int default_port, char *host, size_t hostlen, int *port,
    char *err, size_t errlen)
{
	const char *colon;
	uint64_t p;
	int rc;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			snprintf(err, errlen, "bad address '%s'", s);
			return -1;
		}
		rc = copy_bounded(host, hostlen, s + 1, (size_t)(close - s - 1));
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
		rc = copy_bounded(host, hostlen, s, colon != NULL ? (size_t)(colon - s) : strlen(s));
	}
	if (rc < 0) {
		snprintf(err, errlen, "address too long: '%s'", s);
		return -1;
	}
	*port = default_port;
	if (colon != NULL) {
		if (parse_u64(colon + 1, 1, 65535, &p) < 0) {
			snprintf(err, errlen, "bad port in '%s'", s);
			return -1;
		}
		*port = (int)p;
	}
	return 0;
}

/* True if sa is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104). */
static bool
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* Resolves addr ("host:port", "[v6]:port" or "host") for listening; *res is the
 * caller's to freeaddrinfo. With loopback_only, an address that is not loopback is
 * refused. 0 or -1 with err. */
static int
listener_resolve(const char *addr, int default_port, bool loopback_only, char *host,
    size_t hostlen, int *port, struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 };
	char portstr[16];
	int rc;

	if (split_hostport(addr, default_port, host, hostlen, port, err, errlen) < 0)
		return -1;
	snprintf(portstr, sizeof(portstr), "%d", *port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] != '\0' ? host : NULL, portstr, &hints, res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	if (loopback_only && !is_loopback((*res)->ai_addr)) {
		snprintf(err, errlen, "the admin port on '%s' would be open to the network without "
		    "authentication: give a tenants file (--tenants) with an admin account, or "
		    "listen on loopback (--admin-listen 127.0.0.1)", addr);
		freeaddrinfo(*res);
		*res = NULL;
		return -1;
	}
	return 0;
}

/* An admin port without authentication drains, flushes and sheds for anyone who
 * reaches it: it never listens beyond this host. */
static bool
admin_loopback_only(const struct mcd_settings *s)
{
	return s->tenants_path[0] == '\0';
}

int
mcd_check_settings(const struct mcd_settings *s, char *err, size_t errlen)
{
	char host[MCD_ADDR_MAX / 2];
	struct addrinfo *res = NULL;
	int port;

	if (s->admin_port == 0 || !admin_loopback_only(s))
		return 0;
	if (listener_resolve(s->admin_listen, s->admin_port, true, host, sizeof(host), &port,
	    &res, err, errlen) < 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

/* Opens a listening socket on addr. With loopback_only, an address that is not
 * loopback is refused before anything is bound. */
static int
listener_open(struct listener *l, const char *addr, int default_port, int backlog,
    bool loopback_only, char *err, size_t errlen)
{
	struct addrinfo *res = NULL;
	char host[MCD_ADDR_MAX / 2];
	int port, fd, one = 1, zero = 0;

	if (listener_resolve(addr, default_port, loopback_only, host, sizeof(host), &port, &res,
	    err, errlen) < 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto out_free;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
		goto out_close;
	}
	if (listen(fd, backlog) < 0) {
		snprintf(err, errlen, "listen on %s:%d: %s", host, port, strerror(errno));
		goto out_close;
	}
	memcpy(&l->sa, res->ai_addr, res->ai_addrlen);
	l->salen = res->ai_addrlen;
	if (res->ai_family == AF_INET6)
		snprintf(l->addr, sizeof(l->addr), "[%s]:%d", host, port);
	else
		snprintf(l->addr, sizeof(l->addr), "%s:%d", host, port);
	l->fd = fd;
	freeaddrinfo(res);
	return 0;
out_close:
	close(fd);
out_free:
	freeaddrinfo(res);
	return -1;
}

/* --- connections ------------------------------------------------------------------ */

/* The count a connection of listener l is charged to: client connections (TCP and
 * TLS) against -c, admin connections against their own cap, so that neither can
 * crowd out the other. */
static _Atomic int *
conn_slots(struct mcd *m, const struct listener *l)
{
	return l->kind == LISTENER_ADMIN ? &m->admin_conns : &m->curr_conns;
}

static void conn_event(evutil_socket_t fd, short what, void *arg);

static void
pending_remove(struct worker *w, struct conn *c)
{
	if (c->deadline == 0)
		return;
	if (c->pend_prev != NULL)
		c->pend_prev->pend_next = c->pend_next;
	else
		w->pending_head = c->pend_next;
	if (c->pend_next != NULL)
		c->pend_next->pend_prev = c->pend_prev;
	else
		w->pending_tail = c->pend_prev;
	c->pend_prev = c->pend_next = NULL;
	c->deadline = 0;
}

static void
pending_add(struct worker *w, struct conn *c, int64_t deadline)
{
	c->deadline = deadline;
	c->pend_next = NULL;
	c->pend_prev = w->pending_tail;
	if (w->pending_tail != NULL)
		w->pending_tail->pend_next = c;
	else
		w->pending_head = c;
	w->pending_tail = c;
}

void
conn_ready(struct conn *c)
{
	pending_remove(c->w, c);
}

static void
conn_close(struct conn *c)
{
	struct worker *w = c->w;

	event_del(&c->ev);
	pending_remove(w, c);
	pthread_mutex_lock(&w->conns_lock); /* `stats conns` may be reading the list */
	if (c->all_prev != NULL)
		c->all_prev->all_next = c->all_next;
	else
		w->conns = c->all_next;
	if (c->all_next != NULL)
		c->all_next->all_prev = c->all_prev;
	pthread_mutex_unlock(&w->conns_lock);
	w->nconns--;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
	proxy_conn_closed(c);
	output_release(c); /* before the tenant: references go back to its store */
	if (c->act != NULL)
		tenant_put(c->act);
	sources_closed(&w->mcd->sources, &c->src, c->nreqs,
	    c->tenant != NULL && c->listener->kind != LISTENER_ADMIN);
	if (c->tenant != NULL) {
		tenant_conn_closed(c->tenant, c->nreqs, w->mcd->set.conn_accounting &&
		    c->listener->kind != LISTENER_ADMIN);
		tenant_put(c->tenant);
	}
	free(c->in);
	STAT_ADD(w->stats.curr_connections, (uint64_t)-1);
	atomic_fetch_sub(conn_slots(w->mcd, c->listener), 1);
	free(c);
	if (w->stopping && w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

static void
conn_set_mode(struct conn *c, bool writing)
{
	if (c->writing == writing && !c->paused)
		return;
	c->paused = false;
	event_del(&c->ev);
	event_assign(&c->ev, c->w->base, c->fd, (writing ? EV_WRITE : EV_READ) | EV_PERSIST,
	    conn_event, c);
	event_add(&c->ev, NULL);
	c->writing = writing;
}

/* Undoes what the accept loop counted for a connection that never became a conn. */
static void
conn_unaccept(struct mcd *m, int fd, struct listener *l, struct source_ref *src)
{
	close(fd);
	atomic_fetch_sub(conn_slots(m, l), 1);
	sources_closed(&m->sources, src, 0, false);
}

static void
conn_new(struct worker *w, int fd, struct listener *l, const struct source_ref *src)
{
	struct mcd *m = w->mcd;
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		struct source_ref r = *src;
		LOG_LIMITED(LOG_LEVEL_WARN, "out of memory for a new connection; closed");
		conn_unaccept(m, fd, l, &r);
		return;
	}
	c->fd = fd;
	c->w = w;
	c->listener = l;
	c->src = *src;
	atomic_store_explicit(&c->last_cmd, w->now, memory_order_relaxed);
	STAT_INC(w->stats.curr_connections);
	STAT_INC(w->stats.total_connections);
	pthread_mutex_lock(&w->conns_lock);
	c->all_next = w->conns;
	if (w->conns != NULL)
		w->conns->all_prev = c;
	w->conns = c;
	pthread_mutex_unlock(&w->conns_lock);
	w->nconns++;
	event_assign(&c->ev, w->base, fd, EV_READ | EV_PERSIST, conn_event, c);
	event_add(&c->ev, NULL);
	if (l->kind == LISTENER_TLS) {
		c->ssl = SSL_new(m->ssl_ctx);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
			LOG_LIMITED(LOG_LEVEL_WARN, "cannot set up TLS for a connection; closed");
			conn_close(c);
			return;
		}
		c->handshaking = true;
	}
	if (l->auth || c->handshaking)
		pending_add(w, c, w->now + m->set.auth_timeout_ms);
	if (!l->auth && l->kind != LISTENER_ADMIN) {
		c->tenant = tenant_default(&m->tenants);
		/* The default tenant has no limits: this only counts. */
		if (c->tenant != NULL)
			(void)tenant_admit(c->tenant, w->now, m->set.conn_accounting);
	}
}

/* Keeps data[0..len) as c's unprocessed input. -1 on allocation failure. */
static int
conn_keep_input(struct conn *c, const char *data, size_t len)
{
	if (len == 0) {
		free(c->in);
		c->in = NULL;
		c->inlen = c->incap = 0;
		return 0;
	}
	if (data >= c->in && c->in != NULL && data < c->in + c->incap) {
		memmove(c->in, data, len);
		c->inlen = (uint32_t)len;
		return 0;
	}
	if (c->incap < len) {
		char *nb = realloc(c->in, len);
		if (nb == NULL)
			return -1;
		c->in = nb;
		c->incap = (uint32_t)len;
	}
	memcpy(c->in, data, len);
	c->inlen = (uint32_t)len;
	return 0;
}

/* Ensures room for `more` bytes after c->in's data; -1 on failure. */
static int
conn_reserve_input(struct conn *c, size_t more)
{
	size_t want = (size_t)c->inlen + more;
	char *nb;

	if (want <= c->incap)
		return 0;
	if (want < 2 * (size_t)c->incap)
		want = 2 * (size_t)c->incap;
	nb = realloc(c->in, want);
	if (nb == NULL)
		return -1;
	c->in = nb;
	c->incap = (uint32_t)want;
	return 0;
}

/* True until c may send more than its authentication: a stranger's connection
 * must not make the server hold an item's worth of input. */
static bool
conn_preauth(const struct conn *c)
{
	return c->listener->auth && c->tenant == NULL;
}

/* True if c may send no more than a command line and an auth `set`: before its
 * authentication, and always on the admin port, which stores no data. */
static bool
conn_small(const struct conn *c)
{
	return conn_preauth(c) || c->listener->kind == LISTENER_ADMIN;
}

/* The largest value c may send now: the item size, or on a small connection the
 * auth `set`'s password (or memcached's "user password"). */
static size_t
value_cap(const struct conn *c)
{
	return conn_small(c) ? MCD_AUTH_VALUE_MAX : c->w->mcd->set.item_max;
}

/* Largest input a connection may hold: one whole storage request (a command line
 * of PROTO_LINE_MAX bytes and its "\r\n", then the data block and its "\r\n") or,
 * once authenticated, one get line. Every request proto_parse may call incomplete
 * must fit, or the connection could neither read nor finish it; before
 * authentication a longer request is refused instead (conn_serve). */
static size_t
input_cap(const struct conn *c)
{
	size_t cap = PROTO_LINE_MAX + 2 + value_cap(c) + 2;

	if (conn_small(c))
		return cap;
	return cap > PROTO_GET_LINE_MAX + 2 ? cap : PROTO_GET_LINE_MAX + 2;
}

/*
 * Reads what is available and points data and len at every byte waiting to be
 * parsed (in c->in or in the worker's read buffer). Returns 0, or -1 to close.
 */
static int
conn_read(struct conn *c, const char **data, size_t *len)
{
	struct worker *w = c->w;
	size_t cap = input_cap(c);
	ssize_t n;

	if (c->ssl == NULL && c->inlen == 0) {
		n = recv(c->fd, w->rbuf, MCD_READ_CHUNK, 0);
		if (n > 0) {
			STAT_ADD(w->stats.bytes_read, (uint64_t)n);
			*data = w->rbuf;
			*len = (size_t)n;
			return 0;
		}
		goto out_result;
	}
	/* Into the connection's own buffer (a partial request is waiting, or TLS). */
	for (;;) {
		size_t room;
		if (c->inlen >= cap)
			break;
		room = cap - c->inlen < MCD_READ_CHUNK ? cap - c->inlen : MCD_READ_CHUNK;
		if (conn_reserve_input(c, room) < 0)
			return -1;
		if (c->ssl != NULL) {
			int r = SSL_read(c->ssl, c->in + c->inlen, (int)room);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					break;
				return -1;
			}
			n = r;
		} else {
			n = recv(c->fd, c->in + c->inlen, room, 0);
			if (n <= 0)
				goto out_result;
		}
		c->inlen += (uint32_t)n;
		STAT_ADD(w->stats.bytes_read, (uint64_t)n);
		if (c->ssl == NULL || SSL_pending(c->ssl) == 0)
			break;
	}
	if (c->ssl != NULL && c->inlen >= cap && SSL_pending(c->ssl) > 0)
		c->yielded = true; /* more decrypted data waits: come back */
	*data = c->in;
	*len = c->inlen;
	return 0;
out_result:
	if (n == 0)
		return -1; /* the client closed */
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		*data = c->in;
		*len = c->inlen;
		return 0;
	}
	return -1;
}

/* Serves c: reads, executes complete requests, sends replies. */
static void
conn_serve(struct conn *c)
{
	struct worker *w = c->w;
	struct proto_limits lim;
	struct proto_request req;
	struct bin_limits blim;
	struct bin_request breq;
	const char *data = c->in;
	size_t len = c->inlen, used;
	struct out_mark pmark;
	int reqs = 0;
	bool yield = false, keep_open = true;

	if (c->close_after_write)
		return; /* quit came: nothing after it is read */
	if (c->yielded) {
		c->yielded = false;
	} else if (conn_read(c, &data, &len) < 0) {
		conn_close(c);
		return;
	}
	while (len > 0) {
		enum proto_status st;

		if (c->swallow > 0) {
			size_t k = c->swallow < len ? (size_t)c->swallow : len;
			data += k;
			len -= k;
			c->swallow -= k;
			continue;
		}
		if (reqs == MCD_REQS_PER_EVENT || out_queued(w) > MCD_OUT_CONN_MAX ||
		    (w->proxy != NULL && proxy_conn_full(c))) {
			yield = true;
			STAT_INC(w->stats.conn_yields);
			break;
		}
		if (!c->proto_known) {
			/* memcached's rule: a first byte of 0x80 makes a binary connection. */
			c->proto_known = true;
			c->binary = (unsigned char)data[0] == BIN_MAGIC_REQ;
		}
		if (c->binary) {
			blim.item_max = w->mcd->set.item_max;
			blim.small = conn_small(c);
			st = binproto_parse(data, len, &blim, &breq, &used);
		} else {
			lim.item_max = value_cap(c);
			st = proto_parse(data, len, &lim, &req, &used);
		}
		if (!c->binary && conn_small(c) && ((st == PROTO_INCOMPLETE && len >= input_cap(c)) ||
		    (st == PROTO_SWALLOW && req.swallow > MCD_AUTH_VALUE_MAX + 2))) {
			/* More than any authentication needs: said once, then closed. */
			STAT_INC(w->stats.auth_errors);
			LOG_LIMITED(LOG_LEVEL_INFO, "closed a connection: request on the %s "
			    "larger than %d bytes", conn_preauth(c) ? "client port before "
			    "authentication" : "admin port", MCD_AUTH_VALUE_MAX);
			out_str(w, conn_preauth(c) ? MCD_E_AUTH_TOO_LARGE : MCD_E_ADMIN_TOO_LARGE);
			keep_open = false;
			break;
		}
		if (st == PROTO_INCOMPLETE && len >= input_cap(c)) {
			/* Cannot happen with input_cap right; if it did, the full buffer
			 * would never be read from again and the event would fire forever. */
			LOG_LIMITED(LOG_LEVEL_WARN, "closed a connection: request larger than its "
			    "input buffer");
			keep_open = false;
			break;
		}
		if (st == PROTO_INCOMPLETE)
			break;
		if (st == PROTO_CLOSE) {
			STAT_INC(w->stats.closed_line_too_long);
			LOG_LIMITED(LOG_LEVEL_INFO, "closed a connection: command line too long");
			keep_open = false;
			break;
		}
		reqs++;
		if (c->tenant != NULL)
			c->nreqs++;
		if (w->proxy != NULL) {
			/* A reply made here waits its turn behind requests at the backends. */
			out_mark(w, &pmark);
			keep_open = c->binary ? binproto_exec(c, &breq, st) : exec_request(c, &req, st);
			proxy_keep(c, &pmark);
		} else {
			keep_open = c->binary ? binproto_exec(c, &breq, st) : exec_request(c, &req, st);
		}
		data += used;
		len -= used;
		if (st == PROTO_SWALLOW)
			c->swallow = c->binary ? breq.swallow : req.swallow;
		if (!keep_open || w->oom)
			break;
	}
	if (w->oom) {
		LOG_LIMITED(LOG_LEVEL_WARN, "out of memory building a reply; connection closed");
		STAT_INC(w->stats.oom_errors);
		w->oom = false;
		output_discard(w, c->tenant != NULL ? c->tenant->store : NULL);
		conn_close(c);
		return;
	}
	if (keep_open && conn_keep_input(c, data, len) < 0)
		keep_open = false;
	if (!keep_open)
		c->close_after_write = true;
	if (!conn_send_scratch(c) || !keep_open)
		return;
	if (w->proxy != NULL && proxy_conn_full(c)) {
		/* Proxy: as many requests wait at the backends as a client may have; its
		 * input waits (unwatched, or it would fire at once) until replies go out. */
		c->yielded = true;
		if (!c->writing && !c->paused) {
			event_del(&c->ev);
			c->paused = true;
		}
	} else if ((yield || c->yielded) && !c->writing) {
		c->yielded = true;
		event_active(&c->ev, EV_READ, 0);
	} else if (yield) {
		c->yielded = true; /* resumed when the output has drained */
	}
}

bool
conn_send_scratch(struct conn *c)
{
	struct worker *w = c->w;

	if (out_queued(w) > 0) {
		int r = output_send(c);
		if (r < 0) {
			conn_close(c);
			return false;
		}
		if (r > 0)
			conn_set_mode(c, true);
	}
	if (c->close_after_write && !output_pending(c) && c->pq_head == NULL) {
		conn_close(c);
		return false;
	}
	/* A proxy client held back for its pending requests may go on. */
	if (c->paused && !proxy_conn_full(c)) {
		c->paused = false;
		if (!c->writing) {
			event_add(&c->ev, NULL);
			event_active(&c->ev, EV_READ, 0);
		}
	}
	return true;
}

static int
tls_handshake(struct conn *c)
{
	int r = SSL_accept(c->ssl), e;

	if (r == 1) {
		c->handshaking = false;
		if (!c->listener->auth)
			pending_remove(c->w, c);
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		conn_set_mode(c, false);
		return 1;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		conn_set_mode(c, true);
		return 1;
	}
	LOG_LIMITED(LOG_LEVEL_INFO, "TLS handshake failed: %s",
	    ERR_reason_error_string(ERR_peek_last_error()) != NULL ?
		ERR_reason_error_string(ERR_peek_last_error()) : "connection closed");
	ERR_clear_error();
	conn_close(c);
	return -1;
}

static void
conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int r;

	(void)fd;
	(void)what;
	c->w->now = mcd_now();
	if (c->handshaking) {
		if (tls_handshake(c) != 0)
			return;
		conn_set_mode(c, false);
	}
	if (c->writing) {
		r = output_flush(c);
		if (r < 0) {
			conn_close(c);
			return;
		}
		if (r > 0)
			return;
		if (c->close_after_write) {
			if (c->pq_head == NULL)
				conn_close(c);
			else
				conn_set_mode(c, false); /* replies still to come from backends */
			return;
		}
		conn_set_mode(c, false);
		if (!c->yielded && c->inlen == 0)
			return;
		c->yielded = c->inlen > 0;
	}
	conn_serve(c);
}

/* --- workers -------------------------------------------------------------------- */

static void
worker_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	w->now = mcd_now();
	while (w->pending_head != NULL && w->pending_head->deadline <= w->now) {
		struct conn *c = w->pending_head;
		if (c->handshaking)
			LOG_LIMITED(LOG_LEVEL_INFO, "closed a connection: TLS handshake timed out");
		else
			LOG_LIMITED(LOG_LEVEL_INFO,
			    "closed a connection: not authenticated within the deadline");
		STAT_INC(w->stats.auth_timeouts);
		conn_close(c);
	}
}

static bool
conn_idle(const struct conn *c)
{
	return c->inlen == 0 && !output_pending(c) && c->swallow == 0 && c->pq_head == NULL;
}

static void
worker_handle(struct worker *w, const struct worker_msg *msg)
{
	struct conn *c, *next;
	uint64_t n;

	switch (msg->type) {
	case WMSG_NEW_CONN:
		if (w->stopping) {
			struct source_ref r = msg->src;
			conn_unaccept(w->mcd, msg->fd, msg->listener, &r);
			break;
		}
		conn_new(w, msg->fd, msg->listener, &msg->src);
		break;
	case WMSG_SHED:
		/* Idle client connections first: they lose nothing. */
		n = msg->n;
		for (int pass = 0; pass < 2 && n > 0; pass++) {
			for (c = w->conns; c != NULL && n > 0; c = next) {
				next = c->all_next;
				if (c->listener->kind == LISTENER_ADMIN || (pass == 0 && !conn_idle(c)))
					continue;
				conn_close(c);
				n--;
			}
		}
		break;
	case WMSG_CLOSE_REVOKED:
		/* A session lives as long as the credential it was opened with. */
		for (c = w->conns; c != NULL; c = next) {
			next = c->all_next;
			if (c->tenant == NULL || !c->listener->auth)
				continue;
			if (atomic_load(&c->tenant->removed) ||
			    atomic_load(&c->tenant->cred_gen) != c->cred_gen) {
				STAT_INC(w->stats.sessions_revoked);
				conn_close(c);
			}
		}
		break;
	case WMSG_DRAIN:
		for (c = w->conns; c != NULL; c = next) {
			next = c->all_next;
			if (c->listener->kind != LISTENER_ADMIN && conn_idle(c))
				conn_close(c);
		}
		break;
	case WMSG_PROXY_RELOAD:
		proxy_worker_reload(w);
		break;
	case WMSG_STOP:
		w->stopping = true;
		for (c = w->conns; c != NULL; c = next) {
			next = c->all_next;
			if (output_pending(c) || c->pq_head != NULL)
				c->close_after_write = true;
			else
				conn_close(c);
		}
		if (w->nconns == 0) {
			event_base_loopexit(w->base, NULL);
		} else {
			struct timeval tv = { STOP_GRACE_MS / 1000, (STOP_GRACE_MS % 1000) * 1000 };
			event_base_loopexit(w->base, &tv);
		}
		break;
	}
}

static void
worker_notify(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char drain[256];
	struct worker_msg batch[64];
	size_t n, i;

	(void)what;
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	w->now = mcd_now();
	for (;;) {
		pthread_mutex_lock(&w->qlock);
		for (n = 0; n < 64 && w->qlen > 0; n++) {
			batch[n] = w->queue[w->qhead];
			w->qhead = (w->qhead + 1) % MCD_QUEUE_MAX;
			w->qlen--;
		}
		pthread_mutex_unlock(&w->qlock);
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			worker_handle(w, &batch[i]);
	}
}

/* Queues msg for w; false if the queue is full. */
static bool
worker_post(struct worker *w, const struct worker_msg *msg)
{
	bool wake;

	pthread_mutex_lock(&w->qlock);
	if (w->qlen == MCD_QUEUE_MAX) {
		pthread_mutex_unlock(&w->qlock);
		return false;
	}
	w->queue[(w->qhead + w->qlen) % MCD_QUEUE_MAX] = *msg;
	wake = w->qlen == 0;
	w->qlen++;
	pthread_mutex_unlock(&w->qlock);
	if (wake) {
		char b = 1;
		ssize_t r = write(w->notify_wr, &b, 1);
		(void)r; /* a full pipe already holds a wake-up */
	}
	return true;
}

void
mcd_broadcast(struct mcd *m, enum worker_msg_type type, uint64_t n)
{
	struct worker_msg msg = { .type = type };
	int i;

	for (i = 0; i < m->nworkers; i++) {
		/* Spread a shed count over the workers, rounding up. */
		msg.n = type == WMSG_SHED ? (n + (uint64_t)m->nworkers - 1) / (uint64_t)m->nworkers : n;
		if (!worker_post(&m->workers[i], &msg))
			LOG_LIMITED(LOG_LEVEL_WARN, "worker %d queue full; message dropped", i);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

static int
worker_init(struct mcd *m, struct worker *w, int id, char *err, size_t errlen)
{
	int fds[2];
	struct timeval tick = { 0, TICK_MS * 1000 };

	w->id = id;
	w->mcd = m;
	pthread_mutex_init(&w->qlock, NULL);
	pthread_mutex_init(&w->conns_lock, NULL);
	w->queue = calloc(MCD_QUEUE_MAX, sizeof(*w->queue));
	w->rbuf = malloc(MCD_READ_CHUNK);
	w->base = event_base_new();
	if (w->queue == NULL || w->rbuf == NULL || w->base == NULL) {
		snprintf(err, errlen, "out of memory setting up worker %d", id);
		return -1;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	w->notify_rd = fds[0];
	w->notify_wr = fds[1];
	w->notify_ev = event_new(w->base, w->notify_rd, EV_READ | EV_PERSIST, worker_notify, w);
	w->tick_ev = event_new(w->base, -1, EV_PERSIST, worker_tick, w);
	if (w->notify_ev == NULL || w->tick_ev == NULL) {
		snprintf(err, errlen, "out of memory setting up worker %d", id);
		return -1;
	}
	event_add(w->notify_ev, NULL);
	event_add(w->tick_ev, &tick);
	w->now = mcd_now();
	return proxy_worker_init(w, err, errlen);
}

static void
worker_release(struct worker *w)
{
	struct conn *c, *next;

	for (c = w->conns; c != NULL; c = next) {
		next = c->all_next;
		w->stopping = false;
		conn_close(c);
	}
	proxy_worker_release(w);
	if (w->notify_ev != NULL)
		event_free(w->notify_ev);
	if (w->tick_ev != NULL)
		event_free(w->tick_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->notify_rd > 0)
		close(w->notify_rd);
	if (w->notify_wr > 0)
		close(w->notify_wr);
	free(w->queue);
	free(w->rbuf);
	free(w->obuf);
	free(w->osegs);
	pthread_mutex_destroy(&w->qlock);
	pthread_mutex_destroy(&w->conns_lock);
}

/* --- accepting -------------------------------------------------------------------- */

static void accept_enable(struct mcd *m, bool on);

static void
accept_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	accept_enable(arg, true);
}

static void
accept_enable(struct mcd *m, bool on)
{
	int i;

	for (i = 0; i < m->nlisteners; i++) {
		if (on)
			event_add(m->listeners[i].ev, NULL);
		else
			event_del(m->listeners[i].ev);
	}
}

/* Sends a refusal line to a connection the accept loop will not keep. */
static void
refuse(int cfd, const char *line, size_t len)
{
	ssize_t r = send(cfd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)r;
	close(cfd);
}

/*
 * Counts a new client connection under its source prefixes and applies the
 * per-source limits, before any worker sees it. True if it may go on (src then
 * says where it is counted); false if it was refused (said, counted and closed).
 */
static bool
source_admit(struct mcd *m, const struct listener *l, int cfd, const struct sockaddr *peer,
    socklen_t peerlen, struct source_ref *src)
{
	static const char unauth_msg[] = MCD_E_SOURCE_UNAUTH "\r\n";
	static const char rate_msg[] = MCD_E_SOURCE_CONN_RATE "\r\n";
	struct source_limits lim = { m->set.source_max_unauth, m->set.source_conn_rate };
	char prefix[SOURCE_PREFIX_MAX];
	uint8_t keys[SOURCES_PER_CONN][SOURCE_KEY_LEN];
	enum source_verdict v;

	memset(src, 0, sizeof(*src));
	if (!m->set.conn_accounting || l->kind == LISTENER_ADMIN)
		return true;
	v = sources_accept(&m->sources, peer, peerlen, mcd_now(), &lim, l->auth, src);
	if (v == SOURCE_ADMIT)
		return true;
	/* Counted before the refusal is sent: whoever has seen it then sees it in stats. */
	atomic_fetch_add(&m->rejected_source_connections, 1);
	if (source_keys(peer, peerlen, keys) > 0)
		source_key_format(keys[0], prefix, sizeof(prefix));
	else
		snprintf(prefix, sizeof(prefix), "?");
	if (v == SOURCE_REFUSE_UNAUTH) {
		LOG_LIMITED(LOG_LEVEL_WARN, "refusing connections from %s: %u unauthenticated "
		    "connections (--source-max-unauth)", prefix, lim.max_unauth);
		refuse(cfd, unauth_msg, sizeof(unauth_msg) - 1);
	} else {
		LOG_LIMITED(LOG_LEVEL_WARN, "refusing connections from %s: over %u new "
		    "connections per second (--source-conn-rate)", prefix, lim.conn_rate);
		refuse(cfd, rate_msg, sizeof(rate_msg) - 1);
	}
	return false;
}

static void
listener_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct mcd *m = l->mcd;
	int i;

	(void)what;
	for (i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &peerlen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct worker_msg msg;

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				struct timeval tv = { 0, 100000 };
				LOG_LIMITED(LOG_LEVEL_WARN, "out of file descriptors; not accepting for 100 ms");
				atomic_fetch_add(&m->listen_disabled_num, 1);
				accept_enable(m, false);
				event_add(m->accept_retry, &tv);
			}
			return; /* EAGAIN, ECONNABORTED, ... */
		}
		/* Sources first: a storm is attributed even while -c turns it away. */
		if (!source_admit(m, l, cfd, (struct sockaddr *)&peer, peerlen, &msg.src))
			continue;
		if (atomic_load(conn_slots(m, l)) >= (l->kind == LISTENER_ADMIN ?
		    m->set.admin_max_connections : m->set.max_connections)) {
			ssize_t r;

			/* Counted before the refusal is sent: whoever has seen the refusal
			 * then sees it in stats. */
			if (l->kind == LISTENER_ADMIN) {
				atomic_fetch_add(&m->rejected_admin_connections, 1);
				LOG_LIMITED(LOG_LEVEL_WARN, "admin connection limit (%d) reached; "
				    "rejecting admin connections", m->set.admin_max_connections);
			} else {
				atomic_fetch_add(&m->rejected_connections, 1);
				LOG_LIMITED(LOG_LEVEL_WARN, "connection limit (%d) reached; "
				    "rejecting clients", m->set.max_connections);
			}
			r = send(cfd, too_many_conns, sizeof(too_many_conns) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)r;
			close(cfd);
			sources_closed(&m->sources, &msg.src, 0, false);
			continue;
		}
		if (l->kind != LISTENER_ADMIN && atomic_load(&m->draining)) {
			refuse(cfd, draining_msg, sizeof(draining_msg) - 1);
			sources_closed(&m->sources, &msg.src, 0, false);
			continue;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		atomic_fetch_add(conn_slots(m, l), 1);
		msg.type = WMSG_NEW_CONN;
		msg.fd = cfd;
		msg.listener = l;
		msg.n = 0;
		m->next_worker = (m->next_worker + 1) % m->nworkers;
		if (!worker_post(&m->workers[m->next_worker], &msg)) {
			conn_unaccept(m, cfd, l, &msg.src);
			atomic_fetch_add(&m->rejected_connections, 1);
		}
	}
}

/* --- set-up, run, reload, teardown -------------------------------------------------- */

static int
tls_setup(struct mcd *m, char *err, size_t errlen)
{
	m->ssl_ctx = SSL_CTX_new(TLS_server_method());
	if (m->ssl_ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(m->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(m->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(m->ssl_ctx, m->set.tls_cert) != 1) {
		snprintf(err, errlen, "cannot load TLS certificate '%s': %s", m->set.tls_cert,
		    ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(m->ssl_ctx, m->set.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(m->ssl_ctx) != 1) {
		snprintf(err, errlen, "cannot load TLS key '%s': %s", m->set.tls_key,
		    ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	return 0;
}

static int
add_listener(struct mcd *m, enum listener_kind kind, const char *addr, int port, bool auth,
    char *err, size_t errlen)
{
	struct listener *l = &m->listeners[m->nlisteners];
	char spec[MCD_ADDR_MAX + 16];

	/* "-l host" with "-p port": the port applies unless the address names one. */
	snprintf(spec, sizeof(spec), "%s", addr);
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->auth = auth;
	l->mcd = m;
	if (listener_open(l, spec, port, m->set.backlog,
	    kind == LISTENER_ADMIN && admin_loopback_only(&m->set), err,
	    errlen) < 0)
		return -1;
	if (kind == LISTENER_ADMIN && !auth)
		log_warn("the admin port %s has no authentication: every local user can flush, "
		    "drain and shed; give a tenants file with an admin account to require it",
		    l->addr);
	l->ev = event_new(m->base, l->fd, EV_READ | EV_PERSIST, listener_accept, l);
	if (l->ev == NULL) {
		close(l->fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	event_add(l->ev, NULL);
	m->nlisteners++;
	return 0;
}

int
mcd_reload_tenants(struct mcd *m, char *err, size_t errlen)
{
	struct tenant_file tf = { 0 };
	size_t revoked = 0;
	int rc = -1;

	if (m->set.tenants_path[0] == '\0') {
		snprintf(err, errlen, "no tenants file configured");
		return -1;
	}
	pthread_mutex_lock(&m->reload_lock);
	if (tenants_load(&tf, m->set.tenants_path, err, errlen) < 0)
		goto out;
	if (tenant_registry_apply(&m->tenants, &tf, mcd_now(), &revoked) < 0) {
		snprintf(err, errlen, "out of memory (or randomness) applying the tenants file");
		goto out;
	}
	if (revoked > 0)
		mcd_broadcast(m, WMSG_CLOSE_REVOKED, 0);
	snprintf(err, errlen, "%zu tenants, %zu removed or with a new password (their "
	    "sessions are closed)", tf.n, revoked);
	rc = 0;
out:
	tenants_release(&tf);
	pthread_mutex_unlock(&m->reload_lock);
	return rc;
}

/* SIGHUP: the proxy file and the tenants file, each kept as it was on an error. */
static void
reload(struct mcd *m)
{
	char msg[256];

	if (m->proxy != NULL) {
		if (proxy_reload(m, msg, sizeof(msg)) < 0)
			log_err("SIGHUP: keeping the running backends: %s", msg);
		else
			log_info("SIGHUP: proxy file re-read: %s", msg);
	}
	if (m->set.tenants_path[0] == '\0') {
		if (m->proxy == NULL)
			log_info("SIGHUP: no tenants file to re-read");
		return;
	}
	if (mcd_reload_tenants(m, msg, sizeof(msg)) < 0)
		log_err("SIGHUP: keeping the running tenants: %s", msg);
	else
		log_info("SIGHUP: tenants re-read: %s", msg);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mcd *m = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* systemd's `reload` returns once READY=1 follows RELOADING=1. */
		sdnotify_reloading();
		reload(m);
		sdnotify_ready();
		return;
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sdnotify_stopping();
	event_base_loopbreak(m->base);
}

/* The main thread's periodic jobs: report what the log limits suppressed. */
static void
mcd_cron(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush_suppressed();
}

static void
raise_fd_limit(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur >= (rlim_t)want)
		return;
	rl.rlim_cur = (rlim_t)want;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
mcd_setup(struct mcd *m, char *err, size_t errlen)
{
	const struct mcd_settings *s = &m->set;
	bool auth = s->tenants_path[0] != '\0';
	int i;

	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	pthread_mutex_init(&m->reload_lock, NULL);
	pthread_mutex_init(&m->kernel_lock, NULL);
	m->started_mono_ms = mcd_now();
	m->started_unix = (int64_t)time(NULL);
	raise_fd_limit(s->max_connections + s->admin_max_connections + 64);
	if (auth) {
		struct tenant_file tf = { 0 };
		if (tenants_load(&tf, s->tenants_path, err, errlen) < 0)
			return -1;
		memset(&m->tenants, 0, sizeof(m->tenants));
		pthread_rwlock_init(&m->tenants.lock, NULL);
		m->tenants.default_limit = s->memory;
		if (tenant_registry_apply(&m->tenants, &tf, m->started_mono_ms, NULL) < 0) {
			tenants_release(&tf);
			snprintf(err, errlen, "out of memory loading tenants");
			return -1;
		}
		tenants_release(&tf);
	} else if (tenant_registry_init_default(&m->tenants, s->memory) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (s->conn_accounting) {
		uint64_t seed = 0;
		/* A secret seed: sources cannot pick addresses that collide in the index. */
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
			seed = (uint64_t)mcd_now() ^ (uint64_t)getpid() << 32;
		if (sources_init(&m->sources, SOURCES_CAPACITY, seed) < 0) {
			snprintf(err, errlen, "out of memory for the sources table");
			return -1;
		}
	}
	m->base = event_base_new();
	if (m->base == NULL) {
		snprintf(err, errlen, "cannot create an event loop");
		return -1;
	}
	/* Signals before the listeners: once a port accepts, a SIGHUP (a reload right after
	 * start) must find its handler, not the default action that ends the process. */
	m->sig_term = evsignal_new(m->base, SIGTERM, on_signal, m);
	m->sig_int = evsignal_new(m->base, SIGINT, on_signal, m);
	m->sig_hup = evsignal_new(m->base, SIGHUP, on_signal, m);
	event_add(m->sig_term, NULL);
	event_add(m->sig_int, NULL);
	event_add(m->sig_hup, NULL);
	m->accept_retry = evtimer_new(m->base, accept_retry, m);
	m->cron = event_new(m->base, -1, EV_PERSIST, mcd_cron, m);
	if (m->accept_retry == NULL || m->cron == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	{
		struct timeval second = { 1, 0 };
		event_add(m->cron, &second);
	}
	if (s->tls_port != 0 && tls_setup(m, err, errlen) < 0)
		return -1;
	if (add_listener(m, LISTENER_CLIENT, s->listen, s->port, auth, err, errlen) < 0)
		return -1;
	if (s->tls_port != 0 && add_listener(m, LISTENER_TLS,
	    s->tls_listen[0] ? s->tls_listen : s->listen, s->tls_port, auth, err, errlen) < 0)
		return -1;
	if (s->admin_port != 0 && add_listener(m, LISTENER_ADMIN, s->admin_listen,
	    s->admin_port, auth, err, errlen) < 0)
		return -1;
	if (proxy_setup(m, err, errlen) < 0)
		return -1;
	m->nworkers = s->threads;
	for (i = 0; i < m->nworkers; i++) {
		if (worker_init(m, &m->workers[i], i, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int
mcd_run(struct mcd *m)
{
	int i;

	for (i = 0; i < m->nworkers; i++) {
		if (pthread_create(&m->workers[i].thread, NULL, worker_main, &m->workers[i]) != 0)
			log_fatal("cannot start worker thread %d: %s", i, strerror(errno));
	}
	for (i = 0; i < m->nlisteners; i++)
		log_info("listening on %s (%s%s)", m->listeners[i].addr,
		    m->listeners[i].kind == LISTENER_ADMIN ? "admin" :
		    m->listeners[i].kind == LISTENER_TLS ? "tls" : "client",
		    m->listeners[i].auth ? ", authentication required" : "");
	event_base_dispatch(m->base);
	/* Stop accepting, let every worker finish what it was sending, then go. */
	for (i = 0; i < m->nlisteners; i++) {
		event_del(m->listeners[i].ev);
		close(m->listeners[i].fd);
		m->listeners[i].fd = -1;
	}
	mcd_broadcast(m, WMSG_STOP, 0);
	for (i = 0; i < m->nworkers; i++)
		pthread_join(m->workers[i].thread, NULL);
	return 0;
}

void
mcd_teardown(struct mcd *m)
{
	int i;

	for (i = 0; i < m->nworkers; i++)
		worker_release(&m->workers[i]);
	proxy_teardown(m);
	for (i = 0; i < m->nlisteners; i++) {
		if (m->listeners[i].ev != NULL)
			event_free(m->listeners[i].ev);
		if (m->listeners[i].fd >= 0)
			close(m->listeners[i].fd);
	}
	if (m->accept_retry != NULL)
		event_free(m->accept_retry);
	if (m->cron != NULL)
		event_free(m->cron);
	log_flush_suppressed();
	if (m->sig_term != NULL)
		event_free(m->sig_term);
	if (m->sig_int != NULL)
		event_free(m->sig_int);
	if (m->sig_hup != NULL)
		event_free(m->sig_hup);
	if (m->base != NULL)
		event_base_free(m->base);
	if (m->ssl_ctx != NULL)
		SSL_CTX_free(m->ssl_ctx);
	tenant_registry_release(&m->tenants);
	sources_release(&m->sources);
	if (m->cc_open)
		conncount_close(&m->cc);
	pthread_mutex_destroy(&m->kernel_lock);
	pthread_mutex_destroy(&m->reload_lock);
}
