/*
 * proxy — routing clients' requests to backends and their replies back, in order.
 * See proxy.h for the model and backend.h for health.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "binproxy.h"
#include "clock.h"
#include "log.h"
#include "mcd.h"
#include "output.h"
#include "proxy.h"

#define E_UNAVAILABLE "SERVER_ERROR backend unavailable\r\n"
#define E_TIMEOUT "SERVER_ERROR backend timeout\r\n"
#define E_QUEUE_FULL "SERVER_ERROR backend queue full\r\n"
#define E_NO_MEMORY "SERVER_ERROR out of memory\r\n"
#define E_FLUSH_FAILED "SERVER_ERROR flush_all did not reach every backend\r\n"
#define E_BAD_REPLY "SERVER_ERROR bad reply from backend\r\n"

/* Why a backend request failed: what its client is told (reads always miss). */
enum fail_why {
	FAIL_UNAVAILABLE,
	FAIL_TIMEOUT,
	FAIL_QUEUE_FULL,
	FAIL_NO_MEMORY,
	FAIL_BAD_REPLY,
};

static const char *const fail_text[] = {
	[FAIL_UNAVAILABLE] = E_UNAVAILABLE,
	[FAIL_TIMEOUT] = E_TIMEOUT,
	[FAIL_QUEUE_FULL] = E_QUEUE_FULL,
	[FAIL_NO_MEMORY] = E_NO_MEMORY,
	[FAIL_BAD_REPLY] = E_BAD_REPLY,
};

/* --- the structures ------------------------------------------------------------- */

enum preq_kind {
	PQ_LOCAL,   /* a reply the proxy made (buf) */
	PQ_PASS,    /* one backend's reply, passed on (filtered for noreply and q) */
	PQ_MGET,    /* a multi-key get over several backends, put back in key order */
	PQ_FLUSH,   /* flush_all to every backend: OK when all said OK */
};

/* A multi-get's share of one backend: its VALUE blocks. */
struct part {
	char *buf;
	size_t len, pos;
	bool failed;
};

struct preq {
	struct preq *next;
	struct conn *c;              /* NULL once the client has gone */
	uint8_t kind;                /* enum preq_kind */
	uint8_t cmd;                 /* enum proto_cmd */
	bool done;
	bool read;                   /* a failure is a miss, not an error */
	bool noreply;                /* classic noreply: no reply at all */
	bool bin;                    /* a binary client's: the reply is made binary */
	uint8_t bin_op;              /*   (binproxy_reply) for this opcode */
	uint32_t bin_opaque;         /*   and opaque */
	char quiet;                  /* meta q: 'E' hides EN (mg), 'H' hides HD */
	uint16_t parts_left;
	char *buf;                   /* the reply, once done (PQ_LOCAL: from the start) */
	size_t len;
	char *miss;                  /* mg: the miss line with its O and k flags */
	size_t misslen;
	/* PQ_MGET */
	struct part *parts;
	uint16_t nparts;
	uint16_t *keypart;           /* each key's part, in the client's order */
	char *keys;                  /* the client's keys, space separated */
	size_t keyslen, nkeys;
	char *error;                 /* a backend's error line, said instead (first one) */
	size_t errlen;
};

/* The login to a backend: the account's `set`, then `proxy_as` with no tenant and
 * `mn`. A backend that took the account as a proxy says nothing to proxy_as and MN to
 * mn; one that did not (no tenants file there, or an account without the proxy
 * capability) says ERROR first — and since the proxy counts on proxy_as having no
 * reply, such a backend must never be sent a request. */
enum { LOGIN_SET = 1, LOGIN_CHECK };

/* One request on a backend connection, waiting for its reply. */
struct bq {
	struct bq *next;
	struct preq *p;              /* NULL: the connection's login */
	uint16_t part;
	uint8_t kind;                /* enum mcreply_kind */
	uint8_t login;               /* p == NULL: LOGIN_SET or LOGIN_CHECK */
	bool probe;                  /* the retry of a down backend */
	int64_t deadline;            /* server clock ms */
	int64_t sent_ns;
};

struct bconn {
	struct proxy_worker *pw;
	struct pool *pool;           /* reference */
	size_t bi;                   /* index of its backend in pool */
	int fd;                      /* -1: not connected */
	bool connecting, writing, dirty, retiring, ev_added, tmo_added;
	bool logging_in;             /* nothing past login_end is written until the
	                                login check passed (LOGIN_SET) */
	size_t login_end;
	struct event ev, tmo;
	char *out;
	size_t olen, ocap, osent;
	char *in;
	size_t inlen, incap;
	struct bq *head, *tail;
	size_t n;
	char acting[TENANT_NAME_MAX + 1]; /* the tenant it last acted for ("" none) */
	struct bconn *dirty_next, *retire_next;
};

struct wback {
	struct bconn *c[PROXY_CONNS_MAX];
	size_t queued;               /* requests outstanding over c[] */
};

struct proxy_worker {
	struct worker *w;
	struct pool *pool;
	struct wback *wb;            /* pool->nb */
	struct bconn *dirty;         /* connections with bytes to write */
	struct bconn *retiring;      /* of older pools: answering, then closed */
	struct conn *ready;          /* clients whose next reply is ready */
	struct event *flush_ev;
};

struct proxy {
	pthread_mutex_t lock;
	struct pool *pool;           /* current */
	uint64_t gen;
	bool auth;
	_Atomic uint64_t reloads, requests, fast_failures, queue_refusals, timeouts;
};

static void bconn_fail_all(struct bconn *bc, enum fail_why why, const char *cause,
    bool count);
static void bconn_flush(struct bconn *bc);
static void bconn_close(struct bconn *bc);
static void pw_flush_ready(struct proxy_worker *pw);

/* --- preq: a client's request waiting for backends -------------------------------- */

static struct preq *
preq_new(struct conn *c, enum preq_kind kind, const struct proto_request *req)
{
	struct preq *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->c = c;
	p->kind = (uint8_t)kind;
	p->cmd = req != NULL ? (uint8_t)req->cmd : CMD_NONE;
	if (req != NULL && c->binary) {
		/* Routed for a binary client: binproto made it a meta request. */
		p->bin = true;
		p->bin_op = c->bin_op;
		p->bin_opaque = c->bin_opaque;
	}
	if (c->pq_tail != NULL)
		c->pq_tail->next = p;
	else
		c->pq_head = p;
	c->pq_tail = p;
	c->npq++;
	return p;
}

static void
preq_free(struct preq *p)
{
	uint16_t i;

	free(p->buf);
	free(p->miss);
	for (i = 0; i < p->nparts && p->parts != NULL; i++)
		free(p->parts[i].buf);
	free(p->parts);
	free(p->keypart);
	free(p->keys);
	free(p->error);
	free(p);
}

/* Marks c as having a reply ready to go (sent after the current callback). */
static void
conn_mark_ready(struct conn *c)
{
	struct proxy_worker *pw = c->w->proxy;

	if (c->pq_ready)
		return;
	c->pq_ready = true;
	c->ready_next = pw->ready;
	pw->ready = c;
	event_active(pw->flush_ev, EV_TIMEOUT, 0);
}

/* p's reply is final: an orphan is freed, a client's waits for its turn. */
static void
preq_finish(struct preq *p)
{
	if (p->bin && p->len > 0) {
		char *b;
		size_t n;
		if (binproxy_reply(p->bin_op, p->bin_opaque, p->buf, p->len, &b, &n) < 0) {
			b = NULL;
			n = 0;
			if (p->c != NULL)
				p->c->close_after_write = true; /* no reply to give: closed */
		}
		free(p->buf);
		p->buf = b;
		p->len = n;
	}
	p->done = true;
	if (p->c == NULL) {
		preq_free(p);
		return;
	}
	p->c->pq_bytes += p->len;
	if (p->c->pq_head == p)
		conn_mark_ready(p->c);
}

static int
buf_set(char **buf, size_t *len, const char *s, size_t n)
{
	char *b = NULL;

	if (n > 0 && (b = malloc(n)) == NULL)
		return -1;
	if (n > 0)
		memcpy(b, s, n);
	free(*buf);
	*buf = b;
	*len = n;
	return 0;
}

static bool
starts(const char *p, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return n >= pl && memcmp(p, prefix, pl) == 0;
}

/* The reply of a PQ_PASS request from its backend's bytes (filtered). */
static void
pass_reply(struct preq *p, const char *r, size_t n)
{
	if (p->noreply)
		return;
	if (p->quiet == 'E' && starts(r, n, "EN"))
		return;
	if (p->quiet == 'H' && starts(r, n, "HD"))
		return;
	if (buf_set(&p->buf, &p->len, r, n) < 0)
		buf_set(&p->buf, &p->len, E_NO_MEMORY, strlen(E_NO_MEMORY));
}

/* The reply of a PQ_PASS request that got no reply from its backend. */
static void
pass_fail(struct preq *p, enum fail_why why)
{
	const char *r;

	if (p->read) {
		if (p->cmd == CMD_MG) {
			if (p->quiet == 'E')
				return;
			if (p->miss != NULL) {
				p->buf = p->miss;
				p->len = p->misslen;
				p->miss = NULL;
				return;
			}
			r = "EN\r\n";
		} else if (p->cmd == CMD_ME) {
			r = "EN\r\n";
		} else {
			r = "END\r\n";
		}
	} else {
		if (p->noreply)
			return;
		r = fail_text[why];
	}
	buf_set(&p->buf, &p->len, r, strlen(r));
}

/* Builds a multi-get's reply: each key's VALUE block in the client's order. */
static void
mget_assemble(struct preq *p)
{
	size_t cap = 5, i, cursor = 0, ki;
	char *out, *o;

	if (p->error != NULL) {
		p->buf = p->error;
		p->len = p->errlen;
		p->error = NULL;
		return;
	}
	for (i = 0; i < p->nparts; i++)
		cap += p->parts[i].len;
	if ((out = malloc(cap)) == NULL) {
		buf_set(&p->buf, &p->len, E_NO_MEMORY, strlen(E_NO_MEMORY));
		return;
	}
	o = out;
	for (ki = 0; ki < p->nkeys; ki++) {
		const char *key, *ke;
		struct part *pt = &p->parts[p->keypart[ki]];
		size_t klen;
		/* The keys as proto_next_key cut them: runs of spaces between. */
		while (cursor < p->keyslen && p->keys[cursor] == ' ')
			cursor++;
		key = p->keys + cursor;
		ke = memchr(key, ' ', p->keyslen - cursor);
		klen = ke != NULL ? (size_t)(ke - key) : p->keyslen - cursor;
		cursor += klen;
		if (pt->failed || pt->pos >= pt->len)
			continue;
		/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n", framed already */
		{
			const char *v = pt->buf + pt->pos, *nl, *sp, *bytes;
			size_t rest = pt->len - pt->pos, llen, blen;
			unsigned long long nb;
			char *endp;
			if (rest < 6 + klen + 1 || memcmp(v + 6, key, klen) != 0 || v[6 + klen] != ' ')
				continue; /* a miss: the backend's next value is a later key's */
			nl = memchr(v, '\n', rest);
			if (nl == NULL)
				break;
			llen = (size_t)(nl - v) + 1;
			sp = memchr(v + 6 + klen + 1, ' ', llen - 6 - klen - 1);
			if (sp == NULL)
				break;
			bytes = sp + 1;
			nb = strtoull(bytes, &endp, 10);
			blen = llen + (size_t)nb + 2;
			if (blen > rest)
				break;
			memcpy(o, v, blen);
			o += blen;
			pt->pos += blen;
		}
	}
	memcpy(o, "END\r\n", 5);
	o += 5;
	p->buf = out;
	p->len = (size_t)(o - out);
}

/* One part of p has its answer (r: the backend's reply, or NULL on failure). */
static void
preq_part(struct preq *p, uint16_t part, const char *r, size_t n, size_t last_off, bool error,
    enum fail_why why)
{
	switch (p->kind) {
	case PQ_PASS:
		if (r != NULL)
			pass_reply(p, r, n);
		else
			pass_fail(p, why);
		break;
	case PQ_MGET:
		if (r == NULL) {
			p->parts[part].failed = true;
		} else if (error) {
			if (p->error == NULL)
				buf_set(&p->error, &p->errlen, r, n);
		} else if (buf_set(&p->parts[part].buf, &p->parts[part].len, r, last_off) < 0) {
			p->parts[part].failed = true;
		}
		break;
	case PQ_FLUSH:
		if (r == NULL || error || !starts(r, n, "OK"))
			p->parts[0].failed = true;
		break;
	default:
		break;
	}
	if (--p->parts_left > 0)
		return;
	if (p->kind == PQ_MGET)
		mget_assemble(p);
	else if (p->kind == PQ_FLUSH && !p->noreply)
		buf_set(&p->buf, &p->len, p->parts[0].failed ? E_FLUSH_FAILED : "OK\r\n",
		    p->parts[0].failed ? strlen(E_FLUSH_FAILED) : 4);
	preq_finish(p);
}

/* p is answered by the proxy itself: it could not be sent for lack of memory. */
static void
preq_no_memory(struct preq *p)
{
	p->kind = PQ_LOCAL;
	buf_set(&p->buf, &p->len, E_NO_MEMORY, strlen(E_NO_MEMORY));
	preq_finish(p);
}

/* --- backend connections ------------------------------------------------------------ */

static void bconn_event(evutil_socket_t fd, short what, void *arg);
static void bconn_timeout(evutil_socket_t fd, short what, void *arg);

static struct backend *
bconn_backend(const struct bconn *bc)
{
	return bc->pool->b[bc->bi];
}

static int
out_reserve(struct bconn *bc, size_t more)
{
	size_t want = bc->olen + more;
	char *nb;

	if (want <= bc->ocap)
		return 0;
	if (bc->osent > 0) {
		memmove(bc->out, bc->out + bc->osent, bc->olen - bc->osent);
		if (bc->logging_in)
			bc->login_end -= bc->osent;
		bc->olen -= bc->osent;
		bc->osent = 0;
		want = bc->olen + more;
		if (want <= bc->ocap)
			return 0;
	}
	if (want < 2 * bc->ocap)
		want = 2 * bc->ocap;
	if (want < 4096)
		want = 4096;
	if ((nb = realloc(bc->out, want)) == NULL)
		return -1;
	bc->out = nb;
	bc->ocap = want;
	return 0;
}

static void
out_put(struct bconn *bc, const void *p, size_t n)
{
	memcpy(bc->out + bc->olen, p, n);
	bc->olen += n;
}

static void
out_puts(struct bconn *bc, const char *s)
{
	out_put(bc, s, strlen(s));
}

static void
out_putu(struct bconn *bc, uint64_t v)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%llu", (unsigned long long)v);

	out_put(bc, d, (size_t)n);
}

static void
out_puti(struct bconn *bc, int64_t v)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%lld", (long long)v);

	out_put(bc, d, (size_t)n);
}

/* How far bc's output may be written now: not past the login while it is checked. */
static size_t
write_limit(const struct bconn *bc)
{
	return bc->logging_in ? bc->login_end : bc->olen;
}

static void
bconn_set_events(struct bconn *bc)
{
	struct worker *w = bc->pw->w;
	bool want_write = bc->connecting || bc->osent < write_limit(bc);

	if (bc->ev_added && want_write == bc->writing)
		return;
	if (bc->ev_added)
		event_del(&bc->ev);
	event_assign(&bc->ev, w->base, bc->fd, EV_READ | EV_PERSIST | (want_write ? EV_WRITE : 0),
	    bconn_event, bc);
	event_add(&bc->ev, NULL);
	bc->ev_added = true;
	bc->writing = want_write;
}

static void
bconn_arm_timer(struct bconn *bc)
{
	struct timeval tv;
	int64_t left;

	if (bc->head == NULL) {
		if (bc->tmo_added)
			evtimer_del(&bc->tmo);
		bc->tmo_added = false;
		return;
	}
	left = bc->head->deadline - bc->pw->w->now;
	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(&bc->tmo, &tv);
	bc->tmo_added = true;
}

static void
bconn_mark_dirty(struct bconn *bc)
{
	if (bc->dirty || bc->fd < 0 || bc->connecting)
		return;
	bc->dirty = true;
	bc->dirty_next = bc->pw->dirty;
	bc->pw->dirty = bc;
	event_active(bc->pw->flush_ev, EV_TIMEOUT, 0);
}

static struct bq *
bq_push(struct bconn *bc, struct preq *p, uint16_t part, enum mcreply_kind kind, bool probe)
{
	struct bq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->p = p;
	q->part = part;
	q->kind = (uint8_t)kind;
	q->probe = probe;
	q->deadline = bc->pw->w->now + bc->pool->conf.timeout_ms;
	q->sent_ns = clock_now_ns(CLOCK_MONOTONIC);
	if (bc->tail != NULL)
		bc->tail->next = q;
	else
		bc->head = q;
	bc->tail = q;
	bc->n++;
	if (p != NULL) {
		bc->pw->wb[bc->bi].queued++;
		STAT_ADD_B(bconn_backend(bc)->outstanding, 1);
	}
	if (bc->head == q)
		bconn_arm_timer(bc);
	return q;
}

/* Takes the head of bc's queue off (its reply came or it failed). */
static struct bq *
bq_pop(struct bconn *bc)
{
	struct bq *q = bc->head;

	bc->head = q->next;
	if (bc->head == NULL)
		bc->tail = NULL;
	bc->n--;
	if (q->p != NULL && bc->pw->wb != NULL && !bc->retiring) {
		bc->pw->wb[bc->bi].queued--;
	}
	if (q->p != NULL)
		STAT_ADD_B(bconn_backend(bc)->outstanding, -1);
	return q;
}

/* Opens bc's connection (non-blocking); the login goes first when the pool has an
 * account. -1 when the socket cannot even be made (counted as a failure). */
static int
bconn_open(struct bconn *bc)
{
	struct backend *b = bconn_backend(bc);
	const struct proxy_conf *conf = &bc->pool->conf;
	int fd, one = 1;

	fd = socket(b->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&b->sa, b->salen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	bc->fd = fd;
	bc->connecting = true;
	bc->acting[0] = '\0';
	bc->olen = bc->osent = 0;
	bc->inlen = 0;
	STAT_ADD_B(b->connections, 1);
	if (conf->account[0] != '\0') {
		size_t pl = strlen(conf->password);
		struct bq *set, *check;
		if (out_reserve(bc, 64 + TENANT_NAME_MAX + pl) < 0 ||
		    (set = bq_push(bc, NULL, 0, MCREPLY_LINE, false)) == NULL) {
			bconn_close(bc);
			errno = ENOMEM;
			return -1;
		}
		set->login = LOGIN_SET;
		if ((check = bq_push(bc, NULL, 0, MCREPLY_LINE, false)) == NULL) {
			free(bq_pop(bc));
			bconn_close(bc);
			errno = ENOMEM;
			return -1;
		}
		check->login = LOGIN_CHECK;
		out_puts(bc, "set ");
		out_puts(bc, conf->account);
		out_puts(bc, " 0 0 ");
		out_putu(bc, pl);
		out_puts(bc, "\r\n");
		out_put(bc, conf->password, pl);
		out_puts(bc, "\r\nproxy_as\r\nmn\r\n");
		/* Clients' requests queue behind, unwritten, until the check passes: a
		 * backend that did not take the account must not get a single one. */
		bc->logging_in = true;
		bc->login_end = bc->olen;
	}
	bconn_set_events(bc);
	return 0;
}

/* Closes bc's socket (kept for reopening). */
static void
bconn_close(struct bconn *bc)
{
	if (bc->fd < 0)
		return;
	if (bc->ev_added)
		event_del(&bc->ev);
	bc->ev_added = false;
	bc->writing = false;
	close(bc->fd);
	bc->fd = -1;
	bc->connecting = false;
	bc->logging_in = false;
	bc->olen = bc->osent = 0;
	bc->inlen = 0;
	bc->acting[0] = '\0';
	STAT_ADD_B(bconn_backend(bc)->connections, -1);
}

static void
bconn_free(struct bconn *bc)
{
	bconn_fail_all(bc, FAIL_UNAVAILABLE, NULL, false);
	bconn_close(bc);
	if (bc->tmo_added)
		evtimer_del(&bc->tmo);
	free(bc->out);
	free(bc->in);
	pool_put(bc->pool);
	free(bc);
}

/*
 * Fails every request waiting on bc and closes its connection: replies that would
 * still come could not be matched to requests any more. cause (when count) is the
 * backend failure it counts as.
 */
static void
bconn_fail_all(struct bconn *bc, enum fail_why why, const char *cause, bool count)
{
	struct backend *b = bconn_backend(bc);
	bool probe = false;

	while (bc->head != NULL) {
		struct bq *q = bq_pop(bc);
		probe |= q->probe;
		if (q->p != NULL)
			preq_part(q->p, q->part, NULL, 0, 0, false, why);
		free(q);
	}
	bconn_arm_timer(bc);
	bconn_close(bc);
	if (count)
		backend_failure(b, &bc->pool->conf, bc->pw->w->now, cause);
	else if (probe)
		atomic_store(&b->probing, false);
}

/* A connection of an older pool whose every reply is in (or failed) is freed. */
static void
retire_if_done(struct bconn *bc)
{
	struct bconn **pp;

	if (!bc->retiring || bc->head != NULL)
		return;
	for (pp = &bc->pw->retiring; *pp != NULL; pp = &(*pp)->retire_next) {
		if (*pp == bc) {
			*pp = bc->retire_next;
			break;
		}
	}
	bconn_free(bc);
}

static void
bconn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *bc = arg;
	struct proxy_worker *pw = bc->pw;
	struct worker *w = pw->w;

	(void)fd;
	(void)what;
	w->now = mcd_now();
	bc->tmo_added = false;
	if (bc->head == NULL)
		return;
	if (bc->head->deadline > w->now) {
		bconn_arm_timer(bc);
		return;
	}
	STAT_ADD_B(bconn_backend(bc)->timeouts, 1);
	atomic_fetch_add_explicit(&w->mcd->proxy->timeouts, 1, memory_order_relaxed);
	bconn_fail_all(bc, FAIL_TIMEOUT, bc->connecting ? "connect timed out" :
	    "request timed out", true);
	retire_if_done(bc);
	pw_flush_ready(pw);
}

/* Writes what bc has; -1 when the connection failed (already handled). */
static int
bconn_write(struct bconn *bc)
{
	ssize_t n;

	while (bc->osent < write_limit(bc)) {
		n = send(bc->fd, bc->out + bc->osent, write_limit(bc) - bc->osent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			bconn_fail_all(bc, FAIL_UNAVAILABLE, strerror(errno), true);
			return -1;
		}
		bc->osent += (size_t)n;
	}
	if (bc->osent == bc->olen)
		bc->osent = bc->olen = 0;
	bconn_set_events(bc);
	return 0;
}

static void
bconn_flush(struct bconn *bc)
{
	bc->dirty = false;
	if (bc->fd >= 0 && !bc->connecting)
		bconn_write(bc);
}

/* Handles one framed reply at the head of bc's input. */
static void
bconn_reply(struct bconn *bc, const char *r, const struct mcreply_frame *f)
{
	struct backend *b = bconn_backend(bc);
	struct bq *q = bq_pop(bc);
	int64_t us = (clock_now_ns(CLOCK_MONOTONIC) - q->sent_ns) / 1000;

	if (q->p == NULL) {
		/* The login (see LOGIN_SET): STORED, then MN and nothing before it. */
		bool ok = q->login == LOGIN_SET ? !f->error && f->len >= 6 &&
		    starts(r, f->len, "STORED") : !f->error && starts(r, f->len, "MN");
		uint8_t step = q->login;
		free(q);
		if (!ok) {
			LOG_LIMITED(LOG_LEVEL_ERR, "backend %s (%s) %s", b->name, b->addr,
			    step == LOGIN_SET ? "refused the proxy's account" :
			    "took the proxy's account but not as a proxy (does it run with "
			    "--tenants, and has the account the proxy capability?)");
			bconn_fail_all(bc, FAIL_UNAVAILABLE, step == LOGIN_SET ?
			    "the proxy's account was refused" :
			    "the proxy's account has no proxy capability there", true);
		} else if (step == LOGIN_CHECK) {
			bc->logging_in = false;
			bconn_write(bc);
		}
		return;
	}
	backend_latency(b, us > 0 ? (uint64_t)us : 0, bc->pool->conf.tail_ms * 1000);
	if (f->error && starts(r, f->len, "SERVER_ERROR"))
		STAT_ADD_B(b->server_errors, 1);
	backend_success(b);
	preq_part(q->p, q->part, r, f->len, f->last_off, f->error, FAIL_UNAVAILABLE);
	free(q);
}

static size_t
reply_max(const struct bconn *bc)
{
	size_t m = (size_t)bc->pw->w->mcd->set.item_max + MCREPLY_LINE_MAX + 2;

	return m < MCD_OUT_REQUEST_MAX ? MCD_OUT_REQUEST_MAX : m;
}

/* Reads and handles the replies that have come. */
static void
bconn_read(struct bconn *bc)
{
	struct mcreply_frame f;
	size_t off;
	ssize_t n;

	for (;;) {
		if (bc->incap - bc->inlen < PROXY_READ_CHUNK) {
			size_t want = bc->incap == 0 ? PROXY_READ_CHUNK : bc->incap * 2;
			char *nb;
			if (bc->inlen + PROXY_READ_CHUNK > reply_max(bc) + PROXY_READ_CHUNK) {
				bconn_fail_all(bc, FAIL_BAD_REPLY, "reply larger than the limit", true);
				return;
			}
			if ((nb = realloc(bc->in, want)) == NULL) {
				bconn_fail_all(bc, FAIL_NO_MEMORY, "out of memory", false);
				return;
			}
			bc->in = nb;
			bc->incap = want;
		}
		n = recv(bc->fd, bc->in + bc->inlen, bc->incap - bc->inlen, 0);
		if (n == 0) {
			bconn_fail_all(bc, FAIL_UNAVAILABLE, "connection closed by the backend", true);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			bconn_fail_all(bc, FAIL_UNAVAILABLE, strerror(errno), true);
			return;
		}
		bc->inlen += (size_t)n;
		if (bc->inlen < bc->incap)
			break;
	}
	off = 0;
	while (off < bc->inlen) {
		enum mcreply_status st;
		if (bc->head == NULL) {
			bconn_fail_all(bc, FAIL_BAD_REPLY, "a reply nobody asked for", true);
			return;
		}
		st = mcreply_frame_max(bc->in + off, bc->inlen - off, bc->head->kind, reply_max(bc),
		    &f);
		if (st == MCREPLY_MORE)
			break;
		if (st == MCREPLY_MALFORMED) {
			bconn_fail_all(bc, FAIL_BAD_REPLY, f.why, true);
			return;
		}
		bconn_reply(bc, bc->in + off, &f);
		if (bc->fd < 0)
			return; /* the login was refused */
		off += f.len;
	}
	if (off > 0) {
		memmove(bc->in, bc->in + off, bc->inlen - off);
		bc->inlen -= off;
	}
	if (bc->inlen == 0 && bc->incap > PROXY_READ_CHUNK) {
		free(bc->in);
		bc->in = NULL;
		bc->incap = 0;
	}
	bconn_arm_timer(bc);
}

static void
bconn_event(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *bc = arg;
	struct proxy_worker *pw = bc->pw;
	int err = 0;
	socklen_t elen = sizeof(err);

	(void)fd;
	pw->w->now = mcd_now();
	if (bc->connecting && (what & (EV_WRITE | EV_READ))) {
		if (getsockopt(bc->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0) {
			char cause[PROXY_ERR_MAX];
			snprintf(cause, sizeof(cause), "connect: %s", strerror(err));
			bconn_fail_all(bc, FAIL_UNAVAILABLE, cause, true);
			goto out;
		}
		bc->connecting = false;
	}
	if ((what & EV_WRITE) && bconn_write(bc) < 0)
		goto out;
	if (what & EV_READ)
		bconn_read(bc);
out:
	retire_if_done(bc);
	pw_flush_ready(pw);
}

static struct bconn *
bconn_new(struct proxy_worker *pw, size_t bi)
{
	struct bconn *bc = calloc(1, sizeof(*bc));

	if (bc == NULL)
		return NULL;
	bc->pw = pw;
	bc->pool = pw->pool;
	pool_get(bc->pool);
	bc->bi = bi;
	bc->fd = -1;
	evtimer_assign(&bc->tmo, pw->w->base, bconn_timeout, bc);
	return bc;
}

/*
 * A connection to backend bi that can take one more request, opened if need be;
 * NULL with *why when the request must fail at once.
 */
static struct bconn *
pick_conn(struct proxy_worker *pw, const struct conn *c, size_t bi, bool *probe,
    enum fail_why *why)
{
	struct pool *pool = pw->pool;
	struct backend *b = pool->b[bi];
	struct wback *wb = &pw->wb[bi];
	struct bconn *bc;
	size_t i, n = pool->conf.connections;

	if (!backend_usable(b, pw->w->now, probe)) {
		STAT_ADD_B(b->fast_failed, 1);
		STAT_ADD_B(b->failed_while_down, 1);
		atomic_fetch_add_explicit(&pw->w->mcd->proxy->fast_failures, 1,
		    memory_order_relaxed);
		*why = FAIL_UNAVAILABLE;
		return NULL;
	}
	if (wb->queued >= pool->conf.queue_limit) {
		STAT_ADD_B(b->refused, 1);
		atomic_fetch_add_explicit(&pw->w->mcd->proxy->queue_refusals, 1,
		    memory_order_relaxed);
		*why = FAIL_QUEUE_FULL;
		goto refuse;
	}
	/* A client's requests to one backend all take the same connection: they reach
	 * the backend, and are executed, in the order the client sent them (a set
	 * then a get of the same key over two connections could cross). */
	i = (size_t)c->fd % n;
	if ((bc = wb->c[i]) == NULL && (bc = wb->c[i] = bconn_new(pw, bi)) == NULL) {
		*why = FAIL_NO_MEMORY;
		goto refuse;
	}
	if (bc->fd < 0 && bconn_open(bc) < 0) {
		char cause[PROXY_ERR_MAX];
		snprintf(cause, sizeof(cause), "connect: %s", strerror(errno));
		backend_failure(b, &pool->conf, pw->w->now, cause);
		*why = FAIL_UNAVAILABLE;
		return NULL; /* backend_failure ended a probe */
	}
	return bc;
refuse:
	if (*probe)
		atomic_store(&b->probing, false);
	return NULL;
}

/* Puts `proxy_as TENANT` on bc when its last request acted for another tenant. */
static void
act_for(struct bconn *bc, const struct conn *c)
{
	const char *name;

	if (bc->pool->conf.account[0] == '\0' || c->tenant == NULL)
		return;
	name = c->tenant->name;
	if (strcmp(bc->acting, name) == 0)
		return;
	out_puts(bc, "proxy_as ");
	out_puts(bc, name);
	out_puts(bc, "\r\n");
	memcpy(bc->acting, name, strlen(name) + 1);
}

/* --- routing --------------------------------------------------------------------- */

bool
proxy_routes(enum proto_cmd cmd)
{
	switch (cmd) {
	case CMD_GET: case CMD_GETS: case CMD_GAT: case CMD_GATS:
	case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND:
	case CMD_CAS: case CMD_DELETE: case CMD_INCR: case CMD_DECR: case CMD_TOUCH:
	case CMD_FLUSH_ALL:
	case CMD_MG: case CMD_MS: case CMD_MD: case CMD_MA: case CMD_ME:
		return true;
	default:
		return false;
	}
}

static bool
is_meta_cmd(enum proto_cmd cmd)
{
	return cmd == CMD_MG || cmd == CMD_MS || cmd == CMD_MD || cmd == CMD_MA || cmd == CMD_ME;
}

/* The backend of a key; -1 when none may be used (every one down, with eject). */
static int
key_backend(struct proxy_worker *pw, const char *key, size_t klen)
{
	uint32_t hash;

	if (pw->pool->nb == 1)
		return 0;
	if (ketama_hash(&pw->pool->ring, key, klen, &hash) < 0)
		return -1;
	return pool_pick(pw->pool, hash, pw->w->now);
}

/* Bytes of the rebuilt request of a single-key command (an upper bound). */
static size_t
single_size(const struct proto_request *req)
{
	size_t n = 128 + 2 * PROTO_KEY_MAX + req->dlen;
	size_t i;

	for (i = 0; i < req->nmflags; i++)
		n += 2 + req->mflags[i].tok.len;
	return n;
}

/* Writes the request again, as the backend is to get it: without noreply or q. */
static void
single_write(struct bconn *bc, const struct proto_request *req)
{
	size_t i;

	out_put(bc, req->name.p, req->name.len);
	out_puts(bc, " ");
	if (is_meta_cmd(req->cmd)) {
		out_put(bc, req->key_raw.p, req->key_raw.len);
		if (req->cmd == CMD_MS) {
			out_puts(bc, " ");
			out_putu(bc, req->dlen);
		}
		for (i = 0; i < req->nmflags; i++) {
			if (req->mflags[i].flag == 'q')
				continue;
			out_puts(bc, " ");
			out_put(bc, &req->mflags[i].flag, 1);
			out_put(bc, req->mflags[i].tok.p, req->mflags[i].tok.len);
		}
		out_puts(bc, "\r\n");
		if (req->cmd == CMD_MS) {
			out_put(bc, req->data, req->dlen);
			out_puts(bc, "\r\n");
		}
		return;
	}
	out_put(bc, req->key.p, req->key.len);
	switch (req->cmd) {
	case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND:
	case CMD_CAS:
		out_puts(bc, " ");
		out_putu(bc, req->flags);
		out_puts(bc, " ");
		out_puti(bc, req->exptime);
		out_puts(bc, " ");
		out_putu(bc, req->dlen);
		if (req->cmd == CMD_CAS) {
			out_puts(bc, " ");
			out_putu(bc, req->cas);
		}
		out_puts(bc, "\r\n");
		out_put(bc, req->data, req->dlen);
		break;
	case CMD_INCR: case CMD_DECR:
		out_puts(bc, " ");
		out_putu(bc, req->delta);
		break;
	case CMD_TOUCH:
		out_puts(bc, " ");
		out_puti(bc, req->exptime);
		break;
	default:
		break;
	}
	out_puts(bc, "\r\n");
}

/* mg's miss line when it asked for O or k: memcached's miss carries them. */
static void
mg_miss_line(struct preq *p, const struct proto_request *req)
{
	char line[16 + PROTO_META_OPAQUE_MAX + 2 * PROTO_KEY_MAX];
	size_t n = 2, i;

	memcpy(line, "EN", 2);
	for (i = 0; i < req->nmflags; i++) {
		const struct proto_meta_flag *f = &req->mflags[i];
		if (f->flag == 'O' || f->flag == 'k' || f->flag == 'b') {
			const struct proto_token *t = f->flag == 'k' ? &req->key_raw : &f->tok;
			line[n++] = ' ';
			line[n++] = f->flag;
			if (f->flag != 'b') {
				memcpy(line + n, t->p, t->len);
				n += t->len;
			}
		}
	}
	if (n == 2)
		return;
	memcpy(line + n, "\r\n", 2);
	buf_set(&p->miss, &p->misslen, line, n + 2);
}

/*
 * Queues part `part` of p for backend bi, with room for `size` bytes of request and
 * its reply framed as kind: the connection to write the request on (acting for c's
 * tenant already), or NULL with the part failed at once (the backend down, its queue
 * full, no memory).
 */
static struct bconn *
send_part(struct conn *c, size_t bi, struct preq *p, uint16_t part, enum mcreply_kind kind,
    size_t size)
{
	struct proxy_worker *pw = c->w->proxy;
	enum fail_why why = FAIL_UNAVAILABLE;
	bool probe = false;
	struct bconn *bc = pick_conn(pw, c, bi, &probe, &why);

	/* Room for a proxy_as line too. */
	if (bc != NULL && (out_reserve(bc, size + 16 + TENANT_NAME_MAX) < 0 ||
	    bq_push(bc, p, part, kind, probe) == NULL)) {
		if (probe)
			atomic_store(&pw->pool->b[bi]->probing, false);
		why = FAIL_NO_MEMORY;
		bc = NULL;
	}
	if (bc == NULL) {
		preq_part(p, part, NULL, 0, 0, false, why);
		return NULL;
	}
	STAT_ADD_B(pw->pool->b[bi]->requests, 1);
	act_for(bc, c);
	return bc;
}

static bool
route_single(struct conn *c, struct proto_request *req)
{
	struct proxy_worker *pw = c->w->proxy;
	struct preq *p = preq_new(c, PQ_PASS, req);
	struct bconn *bc;
	int bi;

	if (p == NULL)
		return false;
	p->read = req->cmd == CMD_MG || req->cmd == CMD_ME;
	if (req->cmd == CMD_MG && (proto_meta_flag(req, 'T') || proto_meta_flag(req, 'N')))
		p->read = false; /* it writes: a failure must say so */
	if (is_meta_cmd(req->cmd))
		p->quiet = req->noreply ? (req->cmd == CMD_MG ? 'E' : 'H') : 0;
	else
		p->noreply = req->noreply;
	if (req->cmd == CMD_MG)
		mg_miss_line(p, req);
	p->parts_left = 1;
	atomic_fetch_add_explicit(&c->w->mcd->proxy->requests, 1, memory_order_relaxed);
	bi = key_backend(pw, req->key.p, req->key.len);
	if (bi < 0) {
		preq_part(p, 0, NULL, 0, 0, false, FAIL_UNAVAILABLE);
		return true;
	}
	bc = send_part(c, (size_t)bi, p, 0, is_meta_cmd(req->cmd) ? MCREPLY_META : MCREPLY_LINE,
	    single_size(req));
	if (bc != NULL) {
		single_write(bc, req);
		bconn_mark_dirty(bc);
	}
	return true;
}

static bool
route_get(struct conn *c, struct proto_request *req)
{
	struct proxy_worker *pw = c->w->proxy;
	struct pool *pool = pw->pool;
	struct preq *p = preq_new(c, PQ_MGET, req);
	struct proto_token key;
	size_t cursor = 0, nkeys = 0, i;
	uint16_t *partof = NULL;   /* per backend: its part + 1, 0 = none yet */
	int *backend_of = NULL;    /* per part: its backend */
	int first = -2;
	bool single = true;

	if (p == NULL)
		return false;
	p->read = true; /* gat too: a get-family reply, whose miss every client reads */
	atomic_fetch_add_explicit(&c->w->mcd->proxy->requests, 1, memory_order_relaxed);
	/* Keys: at most one per two bytes of the line. */
	while (proto_next_key(req, &cursor, &key))
		nkeys++;
	if ((p->keypart = malloc(nkeys * sizeof(*p->keypart) + 1)) == NULL ||
	    (partof = calloc(pool->nb, sizeof(*partof))) == NULL ||
	    (backend_of = malloc(pool->nb * sizeof(*backend_of))) == NULL ||
	    buf_set(&p->keys, &p->keyslen, req->keys.p, req->keys.len) < 0)
		goto nomem;
	/* Which backend each key goes to; the parts are the backends met. */
	cursor = 0;
	for (i = 0; proto_next_key(req, &cursor, &key); i++) {
		int bi = key_backend(pw, key.p, key.len);
		if (bi < 0) {
			p->keypart[i] = UINT16_MAX; /* no backend: a miss */
			continue;
		}
		if (first == -2)
			first = bi;
		else if (bi != first)
			single = false;
		if (partof[bi] == 0) {
			backend_of[p->nparts] = bi;
			partof[bi] = ++p->nparts;
		}
		p->keypart[i] = (uint16_t)(partof[bi] - 1);
	}
	p->nkeys = nkeys;
	/* Keys with no backend get a part of their own that has failed. */
	if ((p->parts = calloc((size_t)p->nparts + 1, sizeof(*p->parts))) == NULL)
		goto nomem;
	for (i = 0; i < nkeys; i++)
		if (p->keypart[i] == UINT16_MAX)
			p->keypart[i] = p->nparts;
	p->parts[p->nparts].failed = true;
	if (p->nparts == 1 && single && first >= 0) {
		/* All on one backend: its reply is the client's, as it is. */
		p->kind = PQ_PASS;
	}
	p->parts_left = p->nparts;
	if (p->nparts == 0) {
		p->parts_left = 1;
		preq_part(p, 0, NULL, 0, 0, false, FAIL_UNAVAILABLE);
		goto out;
	}
	for (i = 0; i < p->nparts; i++) {
		struct bconn *bc = send_part(c, (size_t)backend_of[i], p, (uint16_t)i, MCREPLY_GET,
		    req->keys.len + 48);
		size_t k;
		if (bc == NULL)
			continue;
		out_put(bc, req->name.p, req->name.len);
		if (req->cmd == CMD_GAT || req->cmd == CMD_GATS) {
			out_puts(bc, " ");
			out_puti(bc, req->exptime);
		}
		if (p->kind == PQ_PASS) {
			out_puts(bc, " ");
			out_put(bc, req->keys.p, req->keys.len);
		} else {
			cursor = 0;
			for (k = 0; proto_next_key(req, &cursor, &key); k++) {
				if (p->keypart[k] != i)
					continue;
				out_puts(bc, " ");
				out_put(bc, key.p, key.len);
			}
		}
		out_puts(bc, "\r\n");
		bconn_mark_dirty(bc);
	}
out:
	free(partof);
	free(backend_of);
	return true;
nomem:
	free(partof);
	free(backend_of);
	preq_no_memory(p);
	return true;
}

static bool
route_flush(struct conn *c, struct proto_request *req)
{
	struct proxy_worker *pw = c->w->proxy;
	struct pool *pool = pw->pool;
	struct preq *p = preq_new(c, PQ_FLUSH, req);
	size_t bi;

	if (p == NULL)
		return false;
	if ((p->parts = calloc(1, sizeof(*p->parts))) == NULL) {
		preq_no_memory(p);
		return true;
	}
	p->nparts = 1;
	p->noreply = req->noreply;
	p->parts_left = (uint16_t)(pool->nb > UINT16_MAX ? UINT16_MAX : pool->nb);
	atomic_fetch_add_explicit(&c->w->mcd->proxy->requests, 1, memory_order_relaxed);
	for (bi = 0; bi < pool->nb; bi++) {
		struct bconn *bc = send_part(c, bi, p, 0, MCREPLY_LINE, 48);
		if (bc == NULL)
			continue;
		out_puts(bc, "flush_all");
		if (req->has_arg) {
			out_puts(bc, " ");
			out_puti(bc, req->arg);
		}
		out_puts(bc, "\r\n");
		bconn_mark_dirty(bc);
	}
	return true;
}

bool
proxy_forget(struct conn *c, const struct proto_request *req)
{
	struct proto_request del, *d = &del;

	memset(d, 0, sizeof(*d));
	d->cmd = CMD_DELETE;
	d->name.p = "delete";
	d->name.len = 6;
	d->key = req->key;
	d->noreply = true;
	return route_single(c, d);
}

bool
proxy_request(struct conn *c, struct proto_request *req)
{
	switch (req->cmd) {
	case CMD_GET: case CMD_GETS: case CMD_GAT: case CMD_GATS:
		return route_get(c, req);
	case CMD_FLUSH_ALL:
		return route_flush(c, req);
	default:
		return route_single(c, req);
	}
}

/* --- the client side ---------------------------------------------------------------- */

void
proxy_keep(struct conn *c, const struct out_mark *before)
{
	struct worker *w = c->w;
	struct preq *p;

	if (c->pq_head == NULL || w->olen == before->olen)
		return;
	/* The scratch holds only copied text in the proxy role (no store, no values by
	 * reference): the bytes since the mark are this request's reply. */
	p = preq_new(c, PQ_LOCAL, NULL);
	if (p == NULL || buf_set(&p->buf, &p->len, w->obuf + before->olen,
	    w->olen - before->olen) < 0) {
		w->oom = true;
		return;
	}
	out_rewind(w, before, NULL);
	preq_finish(p);
}

bool
proxy_conn_waiting(const struct conn *c)
{
	return c->pq_head != NULL;
}

void
proxy_conn_flush(struct conn *c)
{
	struct worker *w = c->w;
	struct preq *p;

	while ((p = c->pq_head) != NULL && p->done) {
		if (p->len > 0)
			out_append(w, p->buf, p->len);
		c->pq_bytes -= p->len;
		c->pq_head = p->next;
		if (c->pq_head == NULL)
			c->pq_tail = NULL;
		c->npq--;
		preq_free(p);
	}
	conn_send_scratch(c);
}

void
proxy_conn_closed(struct conn *c)
{
	struct proxy_worker *pw = c->w->proxy;
	struct preq *p, *next;
	struct conn **pp;

	if (pw == NULL)
		return;
	if (c->pq_ready) {
		for (pp = &pw->ready; *pp != NULL; pp = &(*pp)->ready_next) {
			if (*pp == c) {
				*pp = c->ready_next;
				break;
			}
		}
	}
	for (p = c->pq_head; p != NULL; p = next) {
		next = p->next;
		if (p->done)
			preq_free(p);
		else
			p->c = NULL; /* freed when its last part comes in */
	}
	c->pq_head = c->pq_tail = NULL;
	c->npq = 0;
	c->pq_bytes = 0;
}

bool
proxy_conn_full(const struct conn *c)
{
	return c->npq >= PROXY_CONN_PENDING_MAX || c->pq_bytes + c->queued > MCD_OUT_CONN_MAX;
}

/* Sends the ready replies of every client marked ready. */
static void
pw_flush_ready(struct proxy_worker *pw)
{
	while (pw->ready != NULL) {
		struct conn *c = pw->ready;
		pw->ready = c->ready_next;
		c->pq_ready = false;
		proxy_conn_flush(c);
	}
}

/* After the current callback: backend writes, then client replies. */
static void
pw_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_worker *pw = arg;

	(void)fd;
	(void)what;
	pw->w->now = mcd_now();
	while (pw->dirty != NULL) {
		struct bconn *bc = pw->dirty;
		pw->dirty = bc->dirty_next;
		bconn_flush(bc);
	}
	pw_flush_ready(pw);
}

/* --- workers and the process ---------------------------------------------------------- */

static struct pool *
current_pool(struct mcd *m)
{
	struct pool *p;

	pthread_mutex_lock(&m->proxy->lock);
	p = m->proxy->pool;
	pool_get(p);
	pthread_mutex_unlock(&m->proxy->lock);
	return p;
}

int
proxy_worker_init(struct worker *w, char *err, size_t errlen)
{
	struct proxy_worker *pw;

	if (w->mcd->proxy == NULL)
		return 0;
	if ((pw = calloc(1, sizeof(*pw))) == NULL)
		goto nomem;
	pw->w = w;
	pw->pool = current_pool(w->mcd);
	if ((pw->wb = calloc(pw->pool->nb, sizeof(*pw->wb))) == NULL ||
	    (pw->flush_ev = event_new(w->base, -1, 0, pw_deferred, pw)) == NULL) {
		pool_put(pw->pool);
		free(pw->wb);
		free(pw);
		goto nomem;
	}
	w->proxy = pw;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory for the proxy's worker state");
	return -1;
}

static void
retire_conns(struct proxy_worker *pw)
{
	size_t i, j;

	for (i = 0; pw->wb != NULL && i < pw->pool->nb; i++) {
		for (j = 0; j < PROXY_CONNS_MAX; j++) {
			struct bconn *bc = pw->wb[i].c[j];
			if (bc == NULL)
				continue;
			if (bc->head == NULL) {
				bconn_free(bc);
				continue;
			}
			bc->retiring = true;
			bc->retire_next = pw->retiring;
			pw->retiring = bc;
		}
	}
	free(pw->wb);
	pw->wb = NULL;
}

void
proxy_worker_reload(struct worker *w)
{
	struct proxy_worker *pw = w->proxy;
	struct pool *np;
	struct wback *nwb;

	if (pw == NULL)
		return;
	np = current_pool(w->mcd);
	if (np == pw->pool || (nwb = calloc(np->nb, sizeof(*nwb))) == NULL) {
		if (np != pw->pool)
			LOG_LIMITED(LOG_LEVEL_ERR, "proxy reload: out of memory in worker %d; "
			    "it keeps the old backends", w->id);
		pool_put(np);
		return;
	}
	/* Requests already sent finish on their connections; new ones use the new pool. */
	while (pw->dirty != NULL) {
		struct bconn *bc = pw->dirty;
		pw->dirty = bc->dirty_next;
		bconn_flush(bc);
	}
	retire_conns(pw);
	pool_put(pw->pool);
	pw->pool = np;
	pw->wb = nwb;
}

void
proxy_worker_tick(struct worker *w)
{
	(void)w;
}

void
proxy_worker_release(struct worker *w)
{
	struct proxy_worker *pw = w->proxy;

	if (pw == NULL)
		return;
	retire_conns(pw);
	while (pw->retiring != NULL) {
		struct bconn *bc = pw->retiring;
		pw->retiring = bc->retire_next;
		bconn_free(bc);
	}
	event_free(pw->flush_ev);
	pool_put(pw->pool);
	free(pw);
	w->proxy = NULL;
}

static int
load_pool(struct mcd *m, struct pool *old, struct pool **out, char *err, size_t errlen)
{
	struct proxy_conf conf;
	struct config_errors errs = { 0 };
	struct pool *p;
	size_t i, n = 0;

	if (proxy_conf_load(&conf, m->set.proxy_path, m->set.tenants_path[0] != '\0',
	    &errs) < 0) {
		for (i = 0; i < errs.n; i++) {
			int k = snprintf(err + n, errlen - n, "%s%s", i > 0 ? "; " : "", errs.msgs[i]);
			if (k < 0 || (size_t)k >= errlen - n)
				break;
			n += (size_t)k;
		}
		if (errs.n == 0)
			snprintf(err, errlen, "%s: cannot be read", m->set.proxy_path);
		config_errors_release(&errs);
		return -1;
	}
	config_errors_release(&errs);
	p = pool_new(&conf, old, old != NULL ? old->gen + 1 : 1, err, errlen);
	if (p == NULL) {
		proxy_conf_release(&conf);
		return -1;
	}
	*out = p;
	return 0;
}

int
proxy_setup(struct mcd *m, char *err, size_t errlen)
{
	struct proxy *px;

	if (m->set.proxy_path[0] == '\0')
		return 0;
	if ((px = calloc(1, sizeof(*px))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&px->lock, NULL);
	if (load_pool(m, NULL, &px->pool, err, errlen) < 0) {
		pthread_mutex_destroy(&px->lock);
		free(px);
		return -1;
	}
	px->auth = m->set.tenants_path[0] != '\0';
	m->proxy = px;
	return 0;
}

void
proxy_teardown(struct mcd *m)
{
	if (m->proxy == NULL)
		return;
	pool_put(m->proxy->pool);
	pthread_mutex_destroy(&m->proxy->lock);
	free(m->proxy);
	m->proxy = NULL;
}

int
proxy_reload(struct mcd *m, char *err, size_t errlen)
{
	struct pool *np, *old;

	if (m->proxy == NULL)
		return 0;
	pthread_mutex_lock(&m->proxy->lock);
	old = m->proxy->pool;
	if (load_pool(m, old, &np, err, errlen) < 0) {
		pthread_mutex_unlock(&m->proxy->lock);
		return -1;
	}
	m->proxy->pool = np;
	pthread_mutex_unlock(&m->proxy->lock);
	pool_put(old);
	atomic_fetch_add(&m->proxy->reloads, 1);
	mcd_broadcast(m, WMSG_PROXY_RELOAD, 0);
	snprintf(err, errlen, "%zu backends", np->nb);
	return 0;
}

/* --- stats ---------------------------------------------------------------------------- */

void
proxy_stats_write(struct conn *c)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	struct proxy *px = m->proxy;
	struct pool *p;
	uint64_t up = 0, bconns = 0, clients = 0;
	size_t i;
	int k;

	if (px == NULL) {
		out_str(w, "CLIENT_ERROR not a proxy");
		return;
	}
	p = current_pool(m);
	for (i = 0; i < p->nb; i++) {
		if (atomic_load(&p->b[i]->state) == BACKEND_UP)
			up++;
		bconns += (uint64_t)atomic_load(&p->b[i]->connections);
	}
	for (k = 0; k < m->nworkers; k++)
		clients += STAT_GET(m->workers[k].stats.curr_connections);
	stats_line_u64(w, NULL, "backends", p->nb);
	stats_line_u64(w, NULL, "backends_up", up);
	stats_line_u64(w, NULL, "backend_connections", bconns);
	stats_line_u64(w, NULL, "client_connections", (uint64_t)atomic_load(&m->curr_conns));
	stats_line_u64(w, NULL, "worker_connections", clients);
	stats_line_u64(w, NULL, "requests", atomic_load(&px->requests));
	stats_line_u64(w, NULL, "fast_failures", atomic_load(&px->fast_failures));
	stats_line_u64(w, NULL, "queue_refusals", atomic_load(&px->queue_refusals));
	stats_line_u64(w, NULL, "timeouts", atomic_load(&px->timeouts));
	stats_line_u64(w, NULL, "reloads", atomic_load(&px->reloads));
	stats_line_u64(w, NULL, "pool_generation", p->gen);
	pool_put(p);
	out_append(w, "END\r\n", 5);
}

void
proxy_stats_backends_write(struct conn *c)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	struct pool *p;
	char v[64];
	size_t i;

	if (m->proxy == NULL) {
		out_str(w, "CLIENT_ERROR not a proxy");
		return;
	}
	p = current_pool(m);
	for (i = 0; i < p->nb; i++) {
		struct backend *b = p->b[i];
		uint64_t replies = atomic_load(&b->replies), tail = atomic_load(&b->tail);
		int64_t since = atomic_load(&b->down_since);
		stats_line_str(w, b->name, "addr", b->addr);
		stats_line_str(w, b->name, "state", atomic_load(&b->state) == BACKEND_UP ? "up" : "down");
		stats_line_u64(w, b->name, "weight", b->weight);
		stats_line_u64(w, b->name, "requests", atomic_load(&b->requests));
		stats_line_u64(w, b->name, "replies", replies);
		stats_line_u64(w, b->name, "errors", atomic_load(&b->errors));
		stats_line_u64(w, b->name, "server_errors", atomic_load(&b->server_errors));
		stats_line_u64(w, b->name, "timeouts", atomic_load(&b->timeouts));
		stats_line_u64(w, b->name, "fast_failures", atomic_load(&b->fast_failed));
		stats_line_u64(w, b->name, "queue_refusals", atomic_load(&b->refused));
		stats_line_u64(w, b->name, "retries", atomic_load(&b->retries));
		stats_line_u64(w, b->name, "outstanding", (uint64_t)(atomic_load(&b->outstanding) < 0 ? 0 :
		    atomic_load(&b->outstanding)));
		stats_line_u64(w, b->name, "connections", (uint64_t)atomic_load(&b->connections));
		stats_line_u64(w, b->name, "latency_p50_us", backend_latency_quantile(b, 0.50));
		stats_line_u64(w, b->name, "latency_p99_us", backend_latency_quantile(b, 0.99));
		snprintf(v, sizeof(v), "%.6f", replies == 0 ? 0.0 : (double)tail / (double)replies);
		stats_line_str(w, b->name, "tail_share", v);
		stats_line_u64(w, b->name, "tail_replies", tail);
		stats_line_u64(w, b->name, "down_since", since > 0 ? (uint64_t)(since / 1000) : 0);
		pthread_mutex_lock(&b->lock);
		if (b->last_error[0] != '\0')
			stats_line_str(w, b->name, "last_error", b->last_error);
		pthread_mutex_unlock(&b->lock);
	}
	pool_put(p);
	out_append(w, "END\r\n", 5);
}
