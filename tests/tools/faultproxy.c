/*
 * faultproxy — a fault-injecting TCP proxy between clients and one memcache node.
 *
 * This kernel has no netem, so latency tails, dropped and reset connections are
 * made here, in user space, on loopback. Requests go to the upstream untouched;
 * faults apply to each response chunk (whatever one read from the upstream
 * returned, which for a request/response protocol is one response):
 *
 *   delay F MIN MAX   a random fraction F of chunks is held for a uniform random
 *                     time in [MIN, MAX]; a later chunk never overtakes an earlier
 *                     one on the same connection (it waits behind it, as in TCP)
 *   drop P            with probability P the chunk is discarded and both sides are
 *                     closed quietly (the client reads EOF)
 *   reset P           with probability P the chunk is discarded and the client's
 *                     connection is reset (RST; the client reads ECONNRESET)
 *
 * Faults apply per chunk rather than per connection so that persistent
 * connections (a monitor's probe, a pooled client) are hit too.
 *
 * Faults change at run time through the control port (loopback), one command per
 * line, one reply line each: "OK ...", or "ERROR <why>". See usage() for the
 * commands. Every buffer is bounded: a slow client or a fast upstream stops the
 * proxy reading from the upstream (backpressure), never grows memory.
 *
 * Delay precision: the event base uses precise timers (timerfd), so a 5 ms delay
 * is 5 ms, not "the next 1 ms tick after 5 ms".
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "clock.h"
#include "endpoint.h"

#define PROXY_CONNS_MAX_DEFAULT 4096
#define PROXY_CONNS_MAX_LIMIT 9000       /* two descriptors each, under ~20,000 files */
#define PROXY_RESPONSE_QUEUE_MAX (1 << 20) /* response bytes held per connection */
#define PROXY_REQUEST_QUEUE_MAX (1 << 20)  /* request bytes queued toward the upstream */
#define PROXY_DELAY_MAX_US (60LL * 1000 * 1000)
#define PROXY_BACKLOG 1024
#define CONTROL_LINE_MAX 256
#define CONTROL_CONNS_MAX 16
#define CONTROL_TOKENS_MAX 5
#define CONTROL_REPLY_MAX 512
#define ERR_LEN 256

struct faults {
	double delay_fraction;
	int64_t delay_min_us, delay_max_us;
	double drop;
	double reset;
};

struct proxy_counters {
	uint64_t accepted;
	uint64_t refused; /* over --max-conns */
	uint64_t chunks;
	uint64_t delayed;
	uint64_t dropped;
	uint64_t resets;
	uint64_t upstream_failed;
};

struct pconn;

struct proxy {
	struct event_base *base;
	struct evconnlistener *listener;
	struct evconnlistener *control;
	struct event *sigterm, *sigint;
	struct endpoint listen_ep, upstream_ep, control_ep;
	struct faults faults;
	struct proxy_counters counters;
	uint64_t rng[4]; /* xoshiro256** state */
	size_t conns_max;
	size_t nconns;
	unsigned ncontrol;
	struct pconn *conns; /* every live proxied connection, for shutdown */
	struct control_conn *controls; /* every open control connection, for shutdown */
};

/* One response chunk held back; released at `release_us` (monotonic). */
struct chunk {
	struct chunk *next;
	struct evbuffer *data; /* owned */
	int64_t release_us;
};

struct pconn {
	struct proxy *px;
	struct pconn *prev, *next;
	struct bufferevent *client; /* owned, closes its fd */
	struct bufferevent *up;     /* owned, closes its fd */
	struct event *timer;        /* releases the head of the queue */
	struct chunk *head, *tail;  /* in arrival order; release times never decrease */
	size_t queued;              /* bytes in the chunks */
	bool up_connected;
	bool up_closed;     /* upstream said EOF: deliver what is queued, then close */
	bool client_eof;    /* client half-closed: pass it on once its bytes are out */
	bool up_paused;     /* upstream reading stopped for backpressure */
};

struct control_conn {
	struct proxy *px;
	struct control_conn *prev, *next;
	struct bufferevent *bev; /* owned */
	bool closing;            /* reply queued, close once written */
};

/* --- random numbers (xoshiro256**, seeded by splitmix64) ----------------------------- */

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void
rng_seed(struct proxy *px, uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		px->rng[i] = z ^ (z >> 31);
	}
}

static uint64_t
rng_next(struct proxy *px)
{
	uint64_t *s = px->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double
rng_unit(struct proxy *px)
{
	return (double)(rng_next(px) >> 11) * 0x1.0p-53;
}

static bool
rng_chance(struct proxy *px, double p)
{
	return p > 0 && rng_unit(px) < p;
}

/* --- parsing of fault parameters ------------------------------------------------------ */

/* A probability: a decimal number in [0, 1], nothing else. */
static int
parse_probability(const char *s, double *out)
{
	char *end;
	double v;

	if (s[0] == '\0' || s[0] == ' ' || s[0] == '+' || s[0] == '-')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > 1)
		return -1;
	/* strtod also takes hex floats, "inf" and "nan"; a probability is plain decimal */
	for (const char *c = s; c < end; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '.'))
			return -1;
	*out = v;
	return 0;
}

/* A delay: digits and a unit us, ms or s ("500us", "5ms", "1s"), at most PROXY_DELAY_MAX_US. */
static int
parse_delay_us(const char *s, int64_t *out)
{
	size_t n = 0;
	uint64_t v, mult;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (strcmp(s + n, "us") == 0)
		mult = 1;
	else if (strcmp(s + n, "ms") == 0)
		mult = 1000;
	else if (strcmp(s + n, "s") == 0)
		mult = 1000000;
	else
		return -1;
	if (parse_u64_n(s, n, 0, PROXY_DELAY_MAX_US, &v) < 0 || v > PROXY_DELAY_MAX_US / mult)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}

/* Sets f's delay from the three words; -1 with err, f untouched, on a bad one. */
static int
faults_set_delay(struct faults *f, const char *fraction, const char *min, const char *max,
    char *err, size_t errlen)
{
	double fr;
	int64_t lo, hi;

	if (parse_probability(fraction, &fr) < 0) {
		snprintf(err, errlen, "bad fraction '%s' (a number in [0, 1])", fraction);
		return -1;
	}
	if (parse_delay_us(min, &lo) < 0 || parse_delay_us(max, &hi) < 0) {
		snprintf(err, errlen, "bad delay '%s' or '%s' (e.g. 5ms, 500us; at most 60s)", min,
		    max);
		return -1;
	}
	if (lo > hi) {
		snprintf(err, errlen, "minimum delay '%s' above maximum '%s'", min, max);
		return -1;
	}
	f->delay_fraction = fr;
	f->delay_min_us = lo;
	f->delay_max_us = hi;
	return 0;
}

/* "FRACTION,MIN,MAX" (the --delay flag). */
static int
faults_set_delay_flag(struct faults *f, const char *arg, char *err, size_t errlen)
{
	char buf[CONTROL_LINE_MAX];
	char *c1, *c2;

	if (strlen(arg) >= sizeof(buf)) {
		snprintf(err, errlen, "--delay argument too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	c1 = strchr(buf, ',');
	c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	if (c1 == NULL || c2 == NULL || strchr(c2 + 1, ',') != NULL) {
		snprintf(err, errlen, "--delay '%s': expected FRACTION,MIN,MAX", arg);
		return -1;
	}
	*c1 = '\0';
	*c2 = '\0';
	return faults_set_delay(f, buf, c1 + 1, c2 + 1, err, errlen);
}

/* --- proxied connections -------------------------------------------------------------- */

static void
pconn_free(struct pconn *pc)
{
	struct proxy *px = pc->px;
	struct chunk *c, *next;

	for (c = pc->head; c != NULL; c = next) {
		next = c->next;
		evbuffer_free(c->data);
		free(c);
	}
	if (pc->timer)
		event_free(pc->timer);
	if (pc->client)
		bufferevent_free(pc->client);
	if (pc->up)
		bufferevent_free(pc->up);
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		px->conns = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	px->nconns--;
	free(pc);
}

/* Resets the client's connection (RST instead of FIN), then frees everything. */
static void
pconn_reset(struct pconn *pc)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	evutil_socket_t fd = bufferevent_getfd(pc->client);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	pconn_free(pc);
}

static size_t
pconn_response_bytes(const struct pconn *pc)
{
	return pc->queued + evbuffer_get_length(bufferevent_get_output(pc->client));
}

/* Stops or resumes reading the upstream so that held responses stay bounded. */
static void
pconn_update_backpressure(struct pconn *pc)
{
	size_t held = pconn_response_bytes(pc);

	if (!pc->up_paused && held >= PROXY_RESPONSE_QUEUE_MAX) {
		bufferevent_disable(pc->up, EV_READ);
		pc->up_paused = true;
	} else if (pc->up_paused && held < PROXY_RESPONSE_QUEUE_MAX / 2 && !pc->up_closed) {
		bufferevent_enable(pc->up, EV_READ);
		pc->up_paused = false;
	}
}

/*
 * After the upstream closed, the client gets what is still queued and then its
 * connection is closed. Returns true if pc was freed.
 */
static bool
pconn_maybe_finish(struct pconn *pc)
{
	if (pc->up_closed && pc->head == NULL &&
	    evbuffer_get_length(bufferevent_get_output(pc->client)) == 0) {
		pconn_free(pc);
		return true;
	}
	return false;
}

static void
pconn_schedule(struct pconn *pc, int64_t now)
{
	int64_t wait = pc->head->release_us - now;
	struct timeval tv;

	if (wait < 0)
		wait = 0;
	tv.tv_sec = (time_t)(wait / 1000000);
	tv.tv_usec = (suseconds_t)(wait % 1000000);
	evtimer_add(pc->timer, &tv);
}

/* Moves every chunk whose time has come to the client, in order. */
static void
pconn_release_due(struct pconn *pc, int64_t now)
{
	struct evbuffer *out = bufferevent_get_output(pc->client);

	while (pc->head != NULL && pc->head->release_us <= now) {
		struct chunk *c = pc->head;
		pc->queued -= evbuffer_get_length(c->data);
		evbuffer_add_buffer(out, c->data);
		pc->head = c->next;
		if (pc->head == NULL)
			pc->tail = NULL;
		evbuffer_free(c->data);
		free(c);
	}
	if (pc->head != NULL)
		pconn_schedule(pc, now);
}

static void
pconn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *pc = arg;

	(void)fd;
	(void)what;
	pconn_release_due(pc, clock_now_ns(CLOCK_MONOTONIC) / 1000);
	if (pconn_maybe_finish(pc))
		return;
	pconn_update_backpressure(pc);
}

/*
 * A response chunk (everything in the upstream's input) arrived: apply the faults.
 * Returns true if pc was freed (dropped, reset, out of memory).
 */
static bool
pconn_take_response(struct pconn *pc)
{
	struct proxy *px = pc->px;
	struct evbuffer *in = bufferevent_get_input(pc->up);
	struct chunk *c;
	int64_t now, release;

	if (evbuffer_get_length(in) == 0)
		return false;
	px->counters.chunks++;
	if (rng_chance(px, px->faults.reset)) {
		px->counters.resets++;
		pconn_reset(pc);
		return true;
	}
	if (rng_chance(px, px->faults.drop)) {
		px->counters.dropped++;
		pconn_free(pc);
		return true;
	}
	now = clock_now_ns(CLOCK_MONOTONIC) / 1000;
	release = now;
	if (rng_chance(px, px->faults.delay_fraction)) {
		int64_t span = px->faults.delay_max_us - px->faults.delay_min_us;
		px->counters.delayed++;
		release = now + px->faults.delay_min_us +
		    (span > 0 ? (int64_t)(rng_next(px) % (uint64_t)(span + 1)) : 0);
	}
	if (pc->tail != NULL && release < pc->tail->release_us)
		release = pc->tail->release_us; /* keep the order of the connection's responses */
	if (pc->head == NULL && release <= now) {
		evbuffer_add_buffer(bufferevent_get_output(pc->client), in);
		pconn_update_backpressure(pc);
		return false;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->data = evbuffer_new()) == NULL) {
		free(c);
		pconn_free(pc); /* out of memory: this connection only */
		return true;
	}
	c->release_us = release;
	pc->queued += evbuffer_get_length(in);
	evbuffer_add_buffer(c->data, in);
	if (pc->tail)
		pc->tail->next = c;
	else
		pc->head = c;
	pc->tail = c;
	if (pc->head == c)
		pconn_schedule(pc, now);
	pconn_update_backpressure(pc);
	return false;
}

static void
up_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pconn_take_response(arg);
}

/* Request bytes from the client go straight to the upstream, within a bound. */
static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct pconn *pc = arg;
	struct evbuffer *upout = bufferevent_get_output(pc->up);

	evbuffer_add_buffer(upout, bufferevent_get_input(bev));
	if (evbuffer_get_length(upout) >= PROXY_REQUEST_QUEUE_MAX)
		bufferevent_disable(bev, EV_READ); /* resumed by up_write_cb once drained */
}

static void
up_write_cb(struct bufferevent *bev, void *arg)
{
	struct pconn *pc = arg;
	evutil_socket_t fd;

	(void)bev;
	if (pc->client_eof) {
		fd = bufferevent_getfd(pc->up);
		if (fd >= 0)
			shutdown(fd, SHUT_WR);
		return;
	}
	bufferevent_enable(pc->client, EV_READ);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct pconn *pc = arg;

	(void)bev;
	if (pconn_maybe_finish(pc))
		return;
	pconn_update_backpressure(pc);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pconn *pc = arg;
	evutil_socket_t fd;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !pc->up_closed) {
		/* A half-close ("send, then shutdown, then read"): pass it on once the
		 * request bytes are out, and keep delivering the responses. */
		pc->client_eof = true;
		bufferevent_disable(pc->client, EV_READ);
		if (pc->up_connected && evbuffer_get_length(bufferevent_get_output(pc->up)) == 0) {
			fd = bufferevent_getfd(pc->up);
			if (fd >= 0)
				shutdown(fd, SHUT_WR);
		}
		return;
	}
	pconn_free(pc);
}

static void
up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pconn *pc = arg;
	struct proxy *px = pc->px;
	int one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		pc->up_connected = true;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pc->client_eof && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			shutdown(bufferevent_getfd(bev), SHUT_WR);
		return;
	}
	if (!pc->up_connected) {
		px->counters.upstream_failed++;
		pconn_free(pc);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		pconn_free(pc);
		return;
	}
	/* EOF: what the upstream sent before closing still reaches the client. */
	if (pconn_take_response(pc))
		return;
	pc->up_closed = true;
	bufferevent_disable(bev, EV_READ);
	pconn_maybe_finish(pc);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct proxy *px = arg;
	struct pconn *pc;
	int one = 1;

	(void)l;
	(void)sa;
	(void)salen;
	if (px->nconns >= px->conns_max) {
		px->counters.refused++;
		evutil_closesocket(fd);
		return;
	}
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL) {
		evutil_closesocket(fd);
		return;
	}
	pc->px = px;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pc->client = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (pc->client == NULL) {
		evutil_closesocket(fd);
		free(pc);
		return;
	}
	/* linked in before anything else can fail, so pconn_free() undoes it all */
	pc->next = px->conns;
	if (px->conns)
		px->conns->prev = pc;
	px->conns = pc;
	px->nconns++;
	px->counters.accepted++;
	pc->up = bufferevent_socket_new(px->base, -1, BEV_OPT_CLOSE_ON_FREE);
	pc->timer = evtimer_new(px->base, pconn_timer_cb, pc);
	if (pc->up == NULL || pc->timer == NULL) {
		pconn_free(pc);
		return;
	}
	bufferevent_setcb(pc->client, client_read_cb, client_write_cb, client_event_cb, pc);
	bufferevent_setcb(pc->up, up_read_cb, up_write_cb, up_event_cb, pc);
	bufferevent_enable(pc->client, EV_READ);
	bufferevent_enable(pc->up, EV_READ);
	if (bufferevent_socket_connect(pc->up, (struct sockaddr *)&px->upstream_ep.addr,
		(int)px->upstream_ep.len) < 0) {
		px->counters.upstream_failed++;
		pconn_free(pc);
	}
}

/* --- control port ---------------------------------------------------------------------- */

static void
control_free(struct control_conn *cc)
{
	struct proxy *px = cc->px;

	if (cc->prev)
		cc->prev->next = cc->next;
	else
		px->controls = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	px->ncontrol--;
	bufferevent_free(cc->bev);
	free(cc);
}

static void
control_status(struct proxy *px, char *out, size_t outlen)
{
	const struct faults *f = &px->faults;
	const struct proxy_counters *c = &px->counters;

	snprintf(out, outlen,
	    "OK delay_fraction=%.6f delay_min_us=%lld delay_max_us=%lld drop=%.6f reset=%.6f "
	    "conns=%zu accepted=%llu refused=%llu chunks=%llu delayed=%llu dropped=%llu "
	    "resets=%llu upstream_failed=%llu",
	    f->delay_fraction, (long long)f->delay_min_us, (long long)f->delay_max_us, f->drop,
	    f->reset, px->nconns, (unsigned long long)c->accepted,
	    (unsigned long long)c->refused, (unsigned long long)c->chunks,
	    (unsigned long long)c->delayed, (unsigned long long)c->dropped,
	    (unsigned long long)c->resets, (unsigned long long)c->upstream_failed);
}

/* Splits line in place on spaces; returns the number of words, or -1 if too many. */
static int
split_words(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			return n;
		if (n == max)
			return -1;
		words[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
}

/*
 * Runs one control command. Returns 1 to keep the connection, 0 to close it after
 * the reply (quit).
 */
static int
control_run(struct proxy *px, char *line, char *reply, size_t replylen)
{
	char *w[CONTROL_TOKENS_MAX];
	char err[ERR_LEN];
	int n = split_words(line, w, CONTROL_TOKENS_MAX);
	double p;

	if (n < 0) {
		snprintf(reply, replylen, "ERROR too many words");
		return 1;
	}
	if (n == 0) {
		snprintf(reply, replylen, "ERROR empty command");
		return 1;
	}
	if (strcmp(w[0], "delay") == 0 && n == 4) {
		if (faults_set_delay(&px->faults, w[1], w[2], w[3], err, sizeof(err)) < 0)
			snprintf(reply, replylen, "ERROR %s", err);
		else
			snprintf(reply, replylen, "OK");
	} else if ((strcmp(w[0], "drop") == 0 || strcmp(w[0], "reset") == 0) && n == 2) {
		if (parse_probability(w[1], &p) < 0) {
			snprintf(reply, replylen, "ERROR bad probability '%s' (a number in [0, 1])",
			    w[1]);
		} else {
			if (w[0][0] == 'd')
				px->faults.drop = p;
			else
				px->faults.reset = p;
			snprintf(reply, replylen, "OK");
		}
	} else if (strcmp(w[0], "off") == 0 && n == 1) {
		memset(&px->faults, 0, sizeof(px->faults));
		snprintf(reply, replylen, "OK");
	} else if (strcmp(w[0], "status") == 0 && n == 1) {
		control_status(px, reply, replylen);
	} else if (strcmp(w[0], "help") == 0 && n == 1) {
		snprintf(reply, replylen,
		    "OK commands: delay FRACTION MIN MAX | drop P | reset P | off | status | quit");
	} else if (strcmp(w[0], "quit") == 0 && n == 1) {
		snprintf(reply, replylen, "OK bye");
		return 0;
	} else {
		snprintf(reply, replylen, "ERROR unknown command or wrong arguments: '%s' (try help)",
		    w[0]);
	}
	return 1;
}

static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_conn *cc = arg;

	(void)bev;
	if (cc->closing)
		control_free(cc);
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_conn *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char reply[CONTROL_REPLY_MAX];
	char *line;
	size_t len;

	while (!cc->closing && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (len >= CONTROL_LINE_MAX) {
			snprintf(reply, sizeof(reply), "ERROR line too long");
			cc->closing = true;
		} else if (control_run(cc->px, line, reply, sizeof(reply)) == 0) {
			cc->closing = true;
		}
		free(line);
		bufferevent_write(bev, reply, strlen(reply));
		bufferevent_write(bev, "\r\n", 2);
	}
	if (!cc->closing && evbuffer_get_length(in) >= CONTROL_LINE_MAX) {
		static const char msg[] = "ERROR line too long\r\n";
		bufferevent_write(bev, msg, sizeof(msg) - 1);
		cc->closing = true;
	}
	if (cc->closing)
		bufferevent_disable(bev, EV_READ);
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	control_free(arg);
}

static void
control_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct proxy *px = arg;
	struct control_conn *cc;

	(void)l;
	(void)sa;
	(void)salen;
	if (px->ncontrol >= CONTROL_CONNS_MAX || (cc = calloc(1, sizeof(*cc))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	cc->px = px;
	cc->bev = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cc->bev == NULL) {
		evutil_closesocket(fd);
		free(cc);
		return;
	}
	px->ncontrol++;
	cc->next = px->controls;
	if (px->controls)
		px->controls->prev = cc;
	px->controls = cc;
	bufferevent_setcb(cc->bev, control_read_cb, control_write_cb, control_event_cb, cc);
	bufferevent_enable(cc->bev, EV_READ);
}

/* --- set-up and main -------------------------------------------------------------------- */

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct proxy *px = arg;

	(void)sig;
	(void)what;
	event_base_loopbreak(px->base);
}

static struct evconnlistener *
listen_on(struct proxy *px, struct endpoint *ep, evconnlistener_cb cb, char *err, size_t errlen)
{
	struct evconnlistener *l;

	l = evconnlistener_new_bind(px->base, cb, px,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, PROXY_BACKLOG,
	    (struct sockaddr *)&ep->addr, (int)ep->len);
	if (l == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", ep->text, strerror(errno));
		return NULL;
	}
	endpoint_from_socket(ep, evconnlistener_get_fd(l));
	return l;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: faultproxy --listen ADDR:PORT --upstream ADDR:PORT [--control ADDR:PORT]\n"
	    "                  [--delay FRACTION,MIN,MAX] [--drop P] [--reset P] [--seed N]\n"
	    "                  [--max-conns N]\n"
	    "\n"
	    "A fault-injecting TCP proxy for tests, loopback only. Requests pass through;\n"
	    "faults apply to each response chunk from the upstream.\n"
	    "\n"
	    "  --listen ADDR:PORT     where clients connect (port 0: any free port)\n"
	    "  --upstream ADDR:PORT   the memcache node behind the proxy\n"
	    "  --control ADDR:PORT    control port for run-time changes (default: none)\n"
	    "  --delay F,MIN,MAX      delay a random fraction F of responses by MIN..MAX\n"
	    "                         (units us, ms, s; e.g. 0.15,5ms,15ms)\n"
	    "  --drop P               close both sides instead of a response, probability P\n"
	    "  --reset P              reset the client instead of a response, probability P\n"
	    "  --seed N               seed the random choices (default: from the kernel)\n"
	    "  --max-conns N          proxied connections at once, 1..%d (default %d);\n"
	    "                         beyond it new clients are closed at once\n"
	    "  -h, --help             this help\n"
	    "\n"
	    "Control commands (one per line, one reply line each, OK ... or ERROR ...):\n"
	    "  delay FRACTION MIN MAX   e.g. 'delay 0.15 5ms 15ms'\n"
	    "  drop P | reset P         e.g. 'drop 0.01'\n"
	    "  off                      remove every fault\n"
	    "  status                   faults and counters as key=value words\n"
	    "  help | quit\n"
	    "\n"
	    "On start it prints one line to stdout with the bound addresses:\n"
	    "  faultproxy: listen ADDR:PORT upstream ADDR:PORT control ADDR:PORT|none\n"
	    "SIGTERM or SIGINT stops it (exit 0).\n",
	    PROXY_CONNS_MAX_LIMIT, PROXY_CONNS_MAX_DEFAULT);
}

enum {
	OPT_LISTEN = 1000,
	OPT_UPSTREAM,
	OPT_CONTROL,
	OPT_DELAY,
	OPT_DROP,
	OPT_RESET,
	OPT_SEED,
	OPT_MAX_CONNS,
};

static const struct option long_options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "upstream", required_argument, NULL, OPT_UPSTREAM },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "drop", required_argument, NULL, OPT_DROP },
	{ "reset", required_argument, NULL, OPT_RESET },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parses argv into px (endpoints, faults, seed, limit). 0, or -1 with err; 1 for --help. */
static int
parse_args(struct proxy *px, int argc, char **argv, bool *have_control, char *err,
    size_t errlen)
{
	bool have_listen = false, have_upstream = false, have_seed = false;
	uint64_t v;
	int opt;

	px->conns_max = PROXY_CONNS_MAX_DEFAULT;
	*have_control = false;
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			if (endpoint_parse(&px->listen_ep, optarg, err, errlen) < 0)
				return -1;
			have_listen = true;
			break;
		case OPT_UPSTREAM:
			if (endpoint_parse(&px->upstream_ep, optarg, err, errlen) < 0)
				return -1;
			if (endpoint_port(&px->upstream_ep) == 0) {
				snprintf(err, errlen, "--upstream '%s': port 0", optarg);
				return -1;
			}
			have_upstream = true;
			break;
		case OPT_CONTROL:
			if (endpoint_parse(&px->control_ep, optarg, err, errlen) < 0)
				return -1;
			*have_control = true;
			break;
		case OPT_DELAY:
			if (faults_set_delay_flag(&px->faults, optarg, err, errlen) < 0)
				return -1;
			break;
		case OPT_DROP:
		case OPT_RESET:
			if (parse_probability(optarg, opt == OPT_DROP ? &px->faults.drop
								   : &px->faults.reset) < 0) {
				snprintf(err, errlen, "--%s '%s': expected a number in [0, 1]",
				    opt == OPT_DROP ? "drop" : "reset", optarg);
				return -1;
			}
			break;
		case OPT_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &v) < 0) {
				snprintf(err, errlen, "--seed '%s': expected a decimal number", optarg);
				return -1;
			}
			rng_seed(px, v);
			have_seed = true;
			break;
		case OPT_MAX_CONNS:
			if (parse_u64(optarg, 1, PROXY_CONNS_MAX_LIMIT, &v) < 0) {
				snprintf(err, errlen, "--max-conns '%s': expected 1..%d", optarg,
				    PROXY_CONNS_MAX_LIMIT);
				return -1;
			}
			px->conns_max = (size_t)v;
			break;
		case 'h':
			return 1;
		default:
			snprintf(err, errlen, "unknown option (see --help)");
			return -1;
		}
	}
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!have_listen || !have_upstream) {
		snprintf(err, errlen, "--listen and --upstream are required (see --help)");
		return -1;
	}
	if (!have_seed) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = (uint64_t)clock_now_ns(CLOCK_MONOTONIC) / 1000 ^ (uint64_t)getpid();
		rng_seed(px, v);
	}
	return 0;
}

/* Two descriptors per proxied connection: use the whole hard limit. */
static void
raise_file_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
proxy_release(struct proxy *px)
{
	while (px->conns != NULL)
		pconn_free(px->conns);
	while (px->controls != NULL)
		control_free(px->controls);
	if (px->listener)
		evconnlistener_free(px->listener);
	if (px->control)
		evconnlistener_free(px->control);
	if (px->sigterm)
		event_free(px->sigterm);
	if (px->sigint)
		event_free(px->sigint);
	if (px->base)
		event_base_free(px->base);
}

int
main(int argc, char **argv)
{
	struct proxy px;
	struct event_config *cfg;
	char err[ERR_LEN];
	bool have_control;
	int rc;

	memset(&px, 0, sizeof(px));
	rc = parse_args(&px, argc, argv, &have_control, err, sizeof(err));
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "faultproxy: %s\n", err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_file_limit();
	cfg = event_config_new();
	if (cfg == NULL) {
		fprintf(stderr, "faultproxy: out of memory\n");
		return 1;
	}
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	px.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (px.base == NULL) {
		fprintf(stderr, "faultproxy: cannot create the event loop\n");
		return 1;
	}
	px.sigterm = evsignal_new(px.base, SIGTERM, signal_cb, &px);
	px.sigint = evsignal_new(px.base, SIGINT, signal_cb, &px);
	if (px.sigterm == NULL || px.sigint == NULL || evsignal_add(px.sigterm, NULL) < 0 ||
	    evsignal_add(px.sigint, NULL) < 0) {
		fprintf(stderr, "faultproxy: cannot set up signal handling\n");
		proxy_release(&px);
		return 1;
	}
	px.listener = listen_on(&px, &px.listen_ep, accept_cb, err, sizeof(err));
	if (px.listener != NULL && have_control)
		px.control = listen_on(&px, &px.control_ep, control_accept_cb, err, sizeof(err));
	if (px.listener == NULL || (have_control && px.control == NULL)) {
		fprintf(stderr, "faultproxy: %s\n", err);
		proxy_release(&px);
		return 1;
	}
	printf("faultproxy: listen %s upstream %s control %s\n", px.listen_ep.text,
	    px.upstream_ep.text, have_control ? px.control_ep.text : "none");
	fflush(stdout);
	event_base_dispatch(px.base);
	proxy_release(&px);
	return 0;
}
