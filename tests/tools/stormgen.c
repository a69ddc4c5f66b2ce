/*
 * stormgen — a connection storm generator for tests and benchmarks (loopback only).
 *
 * Opens connections to one host:port at a configured rate, optionally
 * authenticates (the mcops `set <user>` or memcached's -Y form) and sends one
 * command, then either closes each connection at once (churn) or keeps up to
 * --hold of them open. With --hold N and more than N to open, the oldest held
 * connection is closed for each new one, so the level stays at N while the churn
 * goes on. Held connections stay open until the run ends.
 *
 * "connhold" mode is --hold N alone: open N idle connections, print one line
 * "stormgen: holding N connections" when they are all up, hold them until the
 * duration ends or SIGTERM.
 *
 * Every run is bounded twice: by --count (connections opened in all) and by
 * --duration. Without --hold it stops as soon as every connection has been
 * opened and finished.
 *
 * A process may hold at most about 20,000 files here, so the work is spread over
 * several processes (fork) when one cannot hold it; each child gets a share of the
 * count, the hold level and the rate, reports back through a pipe, and is reaped.
 * One source address has only ~28,000 ephemeral ports toward one destination, so
 * with an IPv4 target child k connects from 127.0.0.(1 + k): each child has a port
 * range of its own and a hold beyond 28,000 works. (::1 is a single address: an
 * IPv6 hold stays below that.)
 * SIGTERM (or SIGINT) stops the run early, in every process, and still prints
 * the totals.
 *
 * Output on stdout: the "holding" line (hold mode) and one line of totals:
 *   stormgen: started=N opened=N failed=N auth_failed=N replies=N closed=N
 *             server_closed=N aborted=N held_peak=N procs=N elapsed_ms=N
 * (one line; see usage() for what each counts). Exit status: 0 when the run
 * completed (whatever the server answered), 1 when no connection could be opened
 * at all or set-up failed, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "endpoint.h"
#include "parse.h"

#define STORM_COUNT_MAX 100000000ULL
#define STORM_HOLD_MAX 1000000ULL
#define STORM_RATE_MAX 1000000ULL
#define STORM_DURATION_MAX_MS (3600LL * 1000)
#define STORM_DURATION_DEFAULT_MS (10LL * 1000)
#define STORM_TIMEOUT_DEFAULT_MS (5LL * 1000)
#define STORM_COUNT_DEFAULT 100
#define STORM_INFLIGHT_DEFAULT 256
#define STORM_INFLIGHT_MAX 10000
#define STORM_PROCS_MAX 64
#define STORM_FD_RESERVE 64    /* descriptors kept for stdio, epoll, the pipe */
#define STORM_COMMAND_MAX 1000 /* the command line, without CRLF */
#define STORM_REQUEST_MAX (AUTH_REQUEST_MAX + STORM_COMMAND_MAX + 2)
#define STORM_LINE_MAX 320     /* one reply line; longer is a protocol error */
#define STORM_VALUE_MAX (1ULL << 30)
#define STORM_EVENTS_MAX 256
#define STORM_READ_MAX 4096
#define STORM_POLL_MAX_MS 100 /* how late a stop signal may be noticed */
#define STORM_REAP_GRACE_MS (10LL * 1000)
#define ERR_LEN 256

#define NIL UINT32_MAX

#ifndef IP_BIND_ADDRESS_NO_PORT /* linux/in.h has it; glibc's netinet/in.h may not */
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static volatile sig_atomic_t stop_requested;

struct storm_opts {
	struct endpoint target;
	uint64_t count;
	uint64_t rate;  /* per second, all processes together; 0 = unpaced */
	uint64_t hold;  /* 0 = churn: close each connection when its exchange is done */
	uint64_t inflight;
	int64_t duration_ms;
	int64_t timeout_ms;
	unsigned procs;
	enum auth_style auth;
	bool command;
	char request[STORM_REQUEST_MAX]; /* auth set and command, sent in one write */
	size_t request_len;
};

/* What one process did; summed over processes by the parent. */
struct storm_stats {
	uint64_t started;       /* connect() calls */
	uint64_t opened;        /* connections established */
	uint64_t failed;        /* refused, reset, timed out, closed early, garbled reply */
	uint64_t auth_failed;   /* the auth set did not get STORED */
	uint64_t replies;       /* complete replies to --command */
	uint64_t closed;        /* closed by us after a complete exchange or when held */
	uint64_t server_closed; /* held connections the server closed */
	uint64_t aborted;       /* still being set up when the run stopped */
	uint64_t held_now;
	uint64_t held_peak;
	int first_errno;        /* why the first failure failed, 0 if none or unknown */
};

enum storm_msg_type { MSG_READY = 1, MSG_FINAL = 2 };

/* A child's report through the pipe: small enough to be written atomically. */
struct storm_msg {
	uint32_t type;
	struct storm_stats stats;
};

enum conn_state { CS_FREE, CS_CONNECTING, CS_AUTH, CS_REPLY, CS_HELD };

struct storm_conn {
	int fd;
	enum conn_state state;
	uint32_t prev, next; /* in the set-up list or the held list, by age */
	int64_t deadline_ms; /* set-up must finish by then */
	uint64_t skip;       /* bytes of a VALUE data block (with CRLF) still to skip */
	bool multiline;      /* reply runs until END */
	uint16_t linelen;
	char line[STORM_LINE_MAX];
};

struct conn_list {
	uint32_t head, tail;
	uint64_t n;
};

/* One process's run. */
struct storm {
	const struct storm_opts *o;
	uint64_t count, hold, slots;
	double rate;
	int epfd;
	struct storm_conn *conns;  /* slots entries */
	uint32_t *free_slots;      /* stack of free indexes */
	uint64_t nfree;
	struct conn_list setup, held;
	struct storm_stats st;
	int64_t start_ms, end_ms;
	int report_fd;             /* a child's pipe to the parent, or -1 */
	bool ready_sent;
	bool bind_source;          /* connect from `source` (a child's own address) */
	struct sockaddr_in source;
};

static void
on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* --- connection lists (by index, oldest at head) ------------------------------------ */

static void
list_append(struct storm *s, struct conn_list *l, uint32_t i)
{
	s->conns[i].prev = l->tail;
	s->conns[i].next = NIL;
	if (l->tail != NIL)
		s->conns[l->tail].next = i;
	else
		l->head = i;
	l->tail = i;
	l->n++;
}

static void
list_remove(struct storm *s, struct conn_list *l, uint32_t i)
{
	struct storm_conn *c = &s->conns[i];

	if (c->prev != NIL)
		s->conns[c->prev].next = c->next;
	else
		l->head = c->next;
	if (c->next != NIL)
		s->conns[c->next].prev = c->prev;
	else
		l->tail = c->prev;
	l->n--;
}

/* --- one connection ------------------------------------------------------------------ */

static void
note_failure(struct storm *s, int err)
{
	s->st.failed++;
	if (s->st.first_errno == 0)
		s->st.first_errno = err;
}

/* Closes slot i and frees it; the caller has counted why. */
static void
conn_release(struct storm *s, uint32_t i)
{
	struct storm_conn *c = &s->conns[i];

	if (c->state == CS_HELD) {
		list_remove(s, &s->held, i);
		s->st.held_now--;
	} else if (c->state != CS_FREE) {
		list_remove(s, &s->setup, i);
	}
	close(c->fd); /* also removes it from the epoll set */
	c->fd = -1;
	c->state = CS_FREE;
	s->free_slots[s->nfree++] = i;
}

static void
conn_fail(struct storm *s, uint32_t i, int err)
{
	note_failure(s, err);
	conn_release(s, i);
}

/* The exchange is over: hold the connection or close it. */
static void
conn_complete(struct storm *s, uint32_t i)
{
	struct storm_conn *c = &s->conns[i];

	if (s->hold == 0) {
		s->st.closed++;
		conn_release(s, i);
		return;
	}
	list_remove(s, &s->setup, i);
	c->state = CS_HELD;
	list_append(s, &s->held, i);
	s->st.held_now++;
	if (s->st.held_now > s->st.held_peak)
		s->st.held_peak = s->st.held_now;
}

static void
conn_open(struct storm *s, int64_t now)
{
	const struct storm_opts *o = s->o;
	struct epoll_event ev;
	struct storm_conn *c;
	uint32_t i;
	int fd, one = 1;

	s->st.started++;
	fd = socket(o->target.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note_failure(s, errno);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->bind_source) {
		/* the port is chosen at connect(), for this address and destination */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&s->source, sizeof(s->source)) < 0) {
			note_failure(s, errno);
			close(fd);
			return;
		}
	}
	if (connect(fd, (const struct sockaddr *)&o->target.addr, o->target.len) < 0 &&
	    errno != EINPROGRESS) {
		note_failure(s, errno);
		close(fd);
		return;
	}
	i = s->free_slots[--s->nfree];
	c = &s->conns[i];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->state = CS_CONNECTING;
	c->deadline_ms = now + o->timeout_ms;
	list_append(s, &s->setup, i);
	ev.events = EPOLLOUT;
	ev.data.u32 = i;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		conn_fail(s, i, errno);
}

/* One complete reply line (CRLF stripped) for connection i. */
static void
conn_line(struct storm *s, uint32_t i, const char *line, size_t len)
{
	struct storm_conn *c = &s->conns[i];
	uint64_t bytes;

	if (c->state == CS_AUTH) {
		if (len == 6 && memcmp(line, "STORED", 6) == 0) {
			if (s->o->command) {
				c->state = CS_REPLY;
				return;
			}
			conn_complete(s, i);
			return;
		}
		s->st.auth_failed++;
		conn_release(s, i);
		return;
	}
	if (len >= 6 && memcmp(line, "VALUE ", 6) == 0) {
		/* VALUE <key> <flags> <bytes> [<cas>]: skip the data block */
		const char *p = line + 6, *end = line + len, *tok[3];
		size_t toklen[3];
		int n = 0;
		while (p < end && n < 3) {
			const char *q = memchr(p, ' ', (size_t)(end - p));
			tok[n] = p;
			toklen[n] = (size_t)((q ? q : end) - p);
			n++;
			p = q ? q + 1 : end;
		}
		if (n < 3 || parse_u64_n(tok[2], toklen[2], 0, STORM_VALUE_MAX, &bytes) < 0) {
			conn_fail(s, i, EPROTO);
			return;
		}
		c->multiline = true;
		c->skip = bytes + 2;
		return;
	}
	if (!c->multiline && ((len >= 5 && memcmp(line, "STAT ", 5) == 0) ||
				 (len >= 5 && memcmp(line, "ITEM ", 5) == 0))) {
		c->multiline = true;
		return;
	}
	if (c->multiline && !(len == 3 && memcmp(line, "END", 3) == 0))
		return; /* more STAT/ITEM lines */
	s->st.replies++;
	conn_complete(s, i);
}

/* Feeds received bytes to connection i's reply parser; stops if the slot is freed. */
static void
conn_feed(struct storm *s, uint32_t i, const char *buf, size_t len)
{
	struct storm_conn *c = &s->conns[i];
	size_t off = 0;

	while (off < len && (c->state == CS_AUTH || c->state == CS_REPLY)) {
		if (c->skip > 0) {
			size_t take = len - off < c->skip ? len - off : (size_t)c->skip;
			c->skip -= take;
			off += take;
			continue;
		}
		if (buf[off] == '\n') {
			size_t l = c->linelen;
			off++;
			if (l > 0 && c->line[l - 1] == '\r')
				l--;
			c->linelen = 0;
			conn_line(s, i, c->line, l);
			continue;
		}
		if (c->linelen >= STORM_LINE_MAX) {
			conn_fail(s, i, EPROTO);
			return;
		}
		c->line[c->linelen++] = buf[off++];
	}
	/* bytes after the reply (or for a held connection) are ignored */
}

static void
conn_connected(struct storm *s, uint32_t i)
{
	const struct storm_opts *o = s->o;
	struct storm_conn *c = &s->conns[i];
	struct epoll_event ev;
	socklen_t elen = sizeof(int);
	int err = 0;
	ssize_t n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	if (err != 0) {
		conn_fail(s, i, err);
		return;
	}
	s->st.opened++;
	if (o->request_len == 0) {
		ev.events = EPOLLIN | EPOLLRDHUP; /* a held one notices the server closing */
		ev.data.u32 = i;
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		conn_complete(s, i);
		return;
	}
	/* A fresh socket's send buffer takes a request this small whole. */
	n = send(c->fd, o->request, o->request_len, MSG_NOSIGNAL);
	if (n != (ssize_t)o->request_len) {
		conn_fail(s, i, n < 0 ? errno : EMSGSIZE);
		return;
	}
	c->state = o->auth != AUTH_NONE ? CS_AUTH : CS_REPLY;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.u32 = i;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		conn_fail(s, i, errno);
}

static void
conn_readable(struct storm *s, uint32_t i)
{
	struct storm_conn *c = &s->conns[i];
	char buf[STORM_READ_MAX];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (c->state == CS_HELD)
				continue; /* unsolicited bytes on a held connection */
			conn_feed(s, i, buf, (size_t)n);
			if (c->state != CS_AUTH && c->state != CS_REPLY)
				return; /* done (the slot may even hold a new connection) */
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (c->state == CS_HELD) {
			s->st.server_closed++;
			conn_release(s, i);
		} else {
			conn_fail(s, i, n == 0 ? ECONNABORTED : errno);
		}
		return;
	}
}

/* --- one process's run ----------------------------------------------------------------- */

static void
storm_report(struct storm *s, enum storm_msg_type type)
{
	struct storm_msg m;

	if (s->report_fd < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.stats = s->st;
	/* a message is far below PIPE_BUF: the write is atomic among the children */
	if (write(s->report_fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		s->report_fd = -1;
}

static void print_holding(uint64_t held);

/* How many connections should have been started by now (rate pacing). */
static uint64_t
storm_due(const struct storm *s, int64_t now)
{
	double due;

	if (s->rate <= 0)
		return s->count;
	due = (double)(now - s->start_ms) * s->rate / 1000.0 + 1.0;
	return due >= (double)s->count ? s->count : (uint64_t)due;
}

/* Starts every connection that is due and allowed now. */
static void
storm_open_due(struct storm *s, int64_t now)
{
	uint64_t due = storm_due(s, now);

	while (s->st.started < s->count && s->st.started < due &&
	    s->setup.n < s->o->inflight) {
		if (s->hold > 0 && s->held.n + s->setup.n >= s->hold) {
			if (s->held.n == 0)
				return;
			s->st.closed++; /* rotate: the oldest held one makes room */
			conn_release(s, s->held.head);
		}
		if (s->nfree == 0)
			return;
		conn_open(s, now);
	}
}

static int
storm_wait_ms(const struct storm *s, int64_t now)
{
	int64_t wait = s->end_ms - now;

	if (s->setup.n > 0 && s->conns[s->setup.head].deadline_ms - now < wait)
		wait = s->conns[s->setup.head].deadline_ms - now;
	if (s->rate > 0 && s->st.started < s->count && s->setup.n < s->o->inflight &&
	    (s->hold == 0 || s->held.n > 0 || s->setup.n < s->hold)) {
		int64_t next = s->start_ms + (int64_t)((double)s->st.started * 1000.0 / s->rate);
		if (next - now < wait)
			wait = next - now;
	}
	if (wait > STORM_POLL_MAX_MS)
		wait = STORM_POLL_MAX_MS;
	return wait < 0 ? 0 : (int)wait;
}

/* Runs until done, the duration ends, or a stop signal. Returns 0, or -1 with err. */
static int
storm_run(struct storm *s, char *err, size_t errlen)
{
	struct epoll_event events[STORM_EVENTS_MAX];
	int64_t now;
	int n;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->conns = calloc(s->slots, sizeof(*s->conns));
	s->free_slots = calloc(s->slots, sizeof(*s->free_slots));
	if (s->epfd < 0 || s->conns == NULL || s->free_slots == NULL) {
		snprintf(err, errlen, "cannot allocate %llu connection slots",
		    (unsigned long long)s->slots);
		goto out_free;
	}
	for (uint64_t k = 0; k < s->slots; k++) {
		s->conns[k].fd = -1;
		s->free_slots[k] = (uint32_t)(s->slots - 1 - k);
	}
	s->nfree = s->slots;
	s->setup.head = s->setup.tail = s->held.head = s->held.tail = NIL;
	s->start_ms = clock_monotonic_ms();
	s->end_ms = s->start_ms + s->o->duration_ms;

	while (!stop_requested) {
		now = clock_monotonic_ms();
		if (now >= s->end_ms)
			break;
		while (s->setup.n > 0 && s->conns[s->setup.head].deadline_ms <= now)
			conn_fail(s, s->setup.head, ETIMEDOUT);
		storm_open_due(s, now);
		if (s->st.started == s->count && s->setup.n == 0) {
			if (s->o->hold > 0 && !s->ready_sent) {
				s->ready_sent = true;
				if (s->report_fd >= 0)
					storm_report(s, MSG_READY);
				else
					print_holding(s->st.held_now);
			}
			if (s->hold == 0)
				break; /* churn done, or a hold share of 0 */
		}
		n = epoll_wait(s->epfd, events, STORM_EVENTS_MAX, storm_wait_ms(s, now));
		if (n < 0 && errno != EINTR) {
			snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
			goto out_free;
		}
		for (int k = 0; k < n; k++) {
			uint32_t i = events[k].data.u32;
			if (s->conns[i].state == CS_FREE)
				continue; /* released earlier in this batch */
			if (s->conns[i].state == CS_CONNECTING)
				conn_connected(s, i);
			else
				conn_readable(s, i);
		}
	}
	while (s->setup.n > 0) {
		s->st.aborted++;
		conn_release(s, s->setup.head);
	}
	while (s->held.n > 0) {
		s->st.closed++;
		conn_release(s, s->held.head);
	}
	free(s->conns);
	free(s->free_slots);
	close(s->epfd);
	return 0;

out_free:
	free(s->conns);
	free(s->free_slots);
	if (s->epfd >= 0)
		close(s->epfd);
	return -1;
}

/* --- processes ------------------------------------------------------------------------- */

static void
print_holding(uint64_t held)
{
	printf("stormgen: holding %llu connections\n", (unsigned long long)held);
	fflush(stdout);
}

static void
stats_add(struct storm_stats *sum, const struct storm_stats *st)
{
	sum->started += st->started;
	sum->opened += st->opened;
	sum->failed += st->failed;
	sum->auth_failed += st->auth_failed;
	sum->replies += st->replies;
	sum->closed += st->closed;
	sum->server_closed += st->server_closed;
	sum->aborted += st->aborted;
	sum->held_now += st->held_now;
	sum->held_peak += st->held_peak;
	if (sum->first_errno == 0)
		sum->first_errno = st->first_errno;
}

static void
print_totals(const struct storm_stats *st, unsigned procs, int64_t elapsed_ms)
{
	printf("stormgen: started=%llu opened=%llu failed=%llu auth_failed=%llu replies=%llu "
	       "closed=%llu server_closed=%llu aborted=%llu held_peak=%llu procs=%u "
	       "elapsed_ms=%lld\n",
	    (unsigned long long)st->started, (unsigned long long)st->opened,
	    (unsigned long long)st->failed, (unsigned long long)st->auth_failed,
	    (unsigned long long)st->replies, (unsigned long long)st->closed,
	    (unsigned long long)st->server_closed, (unsigned long long)st->aborted,
	    (unsigned long long)st->held_peak, procs, (long long)elapsed_ms);
	if (st->failed > 0 && st->first_errno != 0)
		printf("stormgen: first failure: %s\n", strerror(st->first_errno));
	fflush(stdout);
}

/* Process k's share of a total split over n processes. */
static uint64_t
share(uint64_t total, unsigned n, unsigned k)
{
	return total / n + (k < total % n ? 1 : 0);
}

static void
storm_setup(struct storm *s, const struct storm_opts *o, unsigned nprocs, unsigned k)
{
	memset(s, 0, sizeof(*s));
	s->o = o;
	s->epfd = -1;
	s->report_fd = -1;
	s->count = share(o->count, nprocs, k);
	s->hold = share(o->hold, nprocs, k);
	s->rate = (double)o->rate / nprocs;
	s->slots = o->hold > 0 ? s->hold : o->inflight;
	if (o->hold > 0 && s->hold == 0) {
		s->count = 0; /* more processes than held connections: this one idles */
		s->slots = 1;
	}
	if (nprocs > 1 && o->target.addr.ss_family == AF_INET) {
		s->bind_source = true;
		s->source.sin_family = AF_INET;
		s->source.sin_addr.s_addr = htonl(INADDR_LOOPBACK + k); /* 127.0.0.1 + k */
		s->source.sin_port = 0;
	}
}

static int
run_children(const struct storm_opts *o, unsigned nprocs, struct storm_stats *sum)
{
	pid_t pids[STORM_PROCS_MAX];
	unsigned nstarted = 0, nready = 0;
	bool forwarded = false, killed = false;
	int64_t give_up =
	    clock_monotonic_ms() + o->duration_ms + o->timeout_ms + STORM_REAP_GRACE_MS;
	int fds[2], rc = 0;
	uint64_t held = 0;
	struct storm_msg m;
	size_t got = 0;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		fprintf(stderr, "stormgen: pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	for (unsigned k = 0; k < nprocs; k++) {
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "stormgen: fork: %s\n", strerror(errno));
			stop_requested = 1;
			rc = -1;
			break;
		}
		if (pid == 0) {
			struct storm s;
			char err[ERR_LEN];
			close(fds[0]);
			/* a child must not outlive a parent that was killed */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() == 1)
				_exit(1);
			storm_setup(&s, o, nprocs, k);
			s.report_fd = fds[1];
			if (storm_run(&s, err, sizeof(err)) < 0) {
				fprintf(stderr, "stormgen: %s\n", err);
				_exit(1);
			}
			storm_report(&s, MSG_FINAL);
			_exit(0);
		}
		pids[nstarted++] = pid;
	}
	close(fds[1]);

	/* Reads reports until every child has closed the pipe (exited). */
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		ssize_t n;
		if (stop_requested && !forwarded) {
			for (unsigned k = 0; k < nstarted; k++)
				kill(pids[k], SIGTERM);
			forwarded = true;
		}
		if (!killed && clock_monotonic_ms() > give_up) {
			for (unsigned k = 0; k < nstarted; k++)
				kill(pids[k], SIGKILL);
			killed = true;
			rc = -1;
		}
		if (poll(&pfd, 1, STORM_POLL_MAX_MS) <= 0)
			continue;
		n = read(fds[0], (char *)&m + got, sizeof(m) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got < sizeof(m))
			continue;
		got = 0;
		if (m.type == MSG_READY) {
			held += m.stats.held_now;
			if (++nready == nprocs)
				print_holding(held);
		} else if (m.type == MSG_FINAL) {
			stats_add(sum, &m.stats);
		}
	}
	close(fds[0]);
	for (unsigned k = 0; k < nstarted; k++) {
		int status = 0;
		pid_t r;
		while ((r = waitpid(pids[k], &status, 0)) < 0 && errno == EINTR)
			;
		if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = -1;
	}
	return rc;
}

/* --- options and main -------------------------------------------------------------------- */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: stormgen --target ADDR:PORT [--count N] [--rate R] [--hold N]\n"
	    "                [--duration D] [--user U (--password P | --password-file F)]\n"
	    "                [--auth-style mcops|memcached] [--command LINE] [--inflight N]\n"
	    "                [--timeout D] [--procs N]\n"
	    "\n"
	    "Opens (and closes, or holds) connections to a loopback host:port.\n"
	    "\n"
	    "  --target ADDR:PORT  where to connect (127.0.0.0/8 or [::1] only)\n"
	    "  --count N           connections to open in all (default %d, or --hold's N)\n"
	    "  --rate R            new connections per second, all processes together\n"
	    "                      (default 0: as fast as --inflight allows)\n"
	    "  --hold N            keep up to N open until the run ends; past N, each new\n"
	    "                      connection closes the oldest (connhold mode: --hold N\n"
	    "                      alone opens N idle connections and holds them)\n"
	    "  --duration D        stop after D (default 10s, at most 1h; 500ms, 30s, 2m)\n"
	    "  --user U            authenticate first, as U\n"
	    "  --password P        the password (visible in ps: prefer --password-file)\n"
	    "  --password-file F   read the password from F's first line\n"
	    "  --auth-style S      mcops (set U 0 0 LEN, value P; default) or memcached\n"
	    "                      (memcached -Y: value 'U P')\n"
	    "  --command LINE      send LINE (e.g. 'get k') after the auth and wait for the\n"
	    "                      reply; pipelined with the auth in one write\n"
	    "  --inflight N        connections being set up at once, per process\n"
	    "                      (default %d, at most %d)\n"
	    "  --timeout D         set-up time allowed per connection (default 5s)\n"
	    "  --procs N           use at least N processes (default: as few as the open-file\n"
	    "                      limit allows; at most %d)\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "Prints 'stormgen: holding N connections' once the hold level is reached, and\n"
	    "at the end one line of totals: started (connect calls), opened (established),\n"
	    "failed (refused, reset, timed out, closed early, garbled reply), auth_failed,\n"
	    "replies (to --command), closed (by stormgen), server_closed (held ones the\n"
	    "server closed), aborted (still in set-up at the end), held_peak, procs,\n"
	    "elapsed_ms. SIGTERM or SIGINT ends the run early. Exit status: 0 the run\n"
	    "completed, 1 nothing could connect or set-up failed, 2 usage error.\n",
	    STORM_COUNT_DEFAULT, STORM_INFLIGHT_DEFAULT, STORM_INFLIGHT_MAX, STORM_PROCS_MAX);
}

enum {
	OPT_TARGET = 1000,
	OPT_COUNT,
	OPT_RATE,
	OPT_HOLD,
	OPT_DURATION,
	OPT_USER,
	OPT_PASSWORD,
	OPT_PASSWORD_FILE,
	OPT_AUTH_STYLE,
	OPT_COMMAND,
	OPT_INFLIGHT,
	OPT_TIMEOUT,
	OPT_PROCS,
};

static const struct option long_options[] = {
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "auth-style", required_argument, NULL, OPT_AUTH_STYLE },
	{ "command", required_argument, NULL, OPT_COMMAND },
	{ "inflight", required_argument, NULL, OPT_INFLIGHT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "procs", required_argument, NULL, OPT_PROCS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
opt_u64(const char *name, const char *arg, uint64_t min, uint64_t max, uint64_t *out, char *err,
    size_t errlen)
{
	if (parse_u64(arg, min, max, out) < 0) {
		snprintf(err, errlen, "--%s '%s': expected %llu..%llu", name, arg,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

static int
opt_duration(const char *name, const char *arg, int64_t *out, char *err, size_t errlen)
{
	if (parse_duration_ms(arg, out) < 0 || *out <= 0 || *out > STORM_DURATION_MAX_MS) {
		snprintf(err, errlen, "--%s '%s': expected a duration up to 1h (500ms, 10s, 2m)",
		    name, arg);
		return -1;
	}
	return 0;
}

/* Fills o from argv. 0, 1 for --help, -1 with err. */
static int
parse_args(struct storm_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	const char *user = NULL, *password = NULL, *password_file = NULL, *command = NULL;
	char secret[CONFIG_SECRET_MAX];
	bool have_target = false, have_count = false, have_style = false;
	uint64_t v;
	int opt, n;

	memset(o, 0, sizeof(*o));
	o->count = STORM_COUNT_DEFAULT;
	o->inflight = STORM_INFLIGHT_DEFAULT;
	o->duration_ms = STORM_DURATION_DEFAULT_MS;
	o->timeout_ms = STORM_TIMEOUT_DEFAULT_MS;
	o->procs = 1;
	o->auth = AUTH_MCOPS;
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_TARGET:
			if (endpoint_parse(&o->target, optarg, err, errlen) < 0)
				return -1;
			if (endpoint_port(&o->target) == 0) {
				snprintf(err, errlen, "--target '%s': port 0", optarg);
				return -1;
			}
			have_target = true;
			break;
		case OPT_COUNT:
			if (opt_u64("count", optarg, 1, STORM_COUNT_MAX, &o->count, err, errlen) < 0)
				return -1;
			have_count = true;
			break;
		case OPT_RATE:
			if (opt_u64("rate", optarg, 0, STORM_RATE_MAX, &o->rate, err, errlen) < 0)
				return -1;
			break;
		case OPT_HOLD:
			if (opt_u64("hold", optarg, 1, STORM_HOLD_MAX, &o->hold, err, errlen) < 0)
				return -1;
			break;
		case OPT_DURATION:
			if (opt_duration("duration", optarg, &o->duration_ms, err, errlen) < 0)
				return -1;
			break;
		case OPT_TIMEOUT:
			if (opt_duration("timeout", optarg, &o->timeout_ms, err, errlen) < 0)
				return -1;
			break;
		case OPT_USER:
			user = optarg;
			break;
		case OPT_PASSWORD:
			password = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_AUTH_STYLE:
			if (auth_style_parse(optarg, &o->auth) < 0 || o->auth == AUTH_NONE) {
				snprintf(err, errlen, "--auth-style '%s': expected mcops or memcached",
				    optarg);
				return -1;
			}
			have_style = true;
			break;
		case OPT_COMMAND:
			command = optarg;
			break;
		case OPT_INFLIGHT:
			if (opt_u64("inflight", optarg, 1, STORM_INFLIGHT_MAX, &o->inflight, err,
				errlen) < 0)
				return -1;
			break;
		case OPT_PROCS:
			if (opt_u64("procs", optarg, 1, STORM_PROCS_MAX, &v, err, errlen) < 0)
				return -1;
			o->procs = (unsigned)v;
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
	if (!have_target) {
		snprintf(err, errlen, "--target is required (see --help)");
		return -1;
	}
	if (o->hold > 0 && !have_count)
		o->count = o->hold;
	if (user == NULL) {
		if (password != NULL || password_file != NULL || have_style) {
			snprintf(err, errlen, "a password or --auth-style without --user");
			return -1;
		}
		o->auth = AUTH_NONE;
	} else {
		if ((password == NULL) == (password_file == NULL)) {
			snprintf(err, errlen, "--user needs one of --password, --password-file");
			return -1;
		}
		if (password_file != NULL) {
			if (config_read_secret(password_file, secret, sizeof(secret), err, errlen) < 0)
				return -1;
			password = secret;
		}
		n = auth_request_format(o->request, sizeof(o->request), o->auth, user, password);
		if (n < 0) {
			snprintf(err, errlen, "--user '%s': not a valid key, or password too long",
			    user);
			return -1;
		}
		o->request_len = (size_t)n;
	}
	if (command != NULL) {
		size_t clen = strlen(command);
		if (clen == 0 || clen > STORM_COMMAND_MAX || strpbrk(command, "\r\n") != NULL) {
			snprintf(err, errlen, "--command: 1..%d bytes without CR or LF",
			    STORM_COMMAND_MAX);
			return -1;
		}
		memcpy(o->request + o->request_len, command, clen);
		memcpy(o->request + o->request_len + clen, "\r\n", 2);
		o->request_len += clen + 2;
		o->command = true;
	}
	return 0;
}

/* Raises the open-file limit to the hard limit; returns what one process may hold. */
static uint64_t
per_process_capacity(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024 - STORM_FD_RESERVE;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576)
		rl.rlim_cur = 1048576;
	return rl.rlim_cur > 2 * STORM_FD_RESERVE ? rl.rlim_cur - STORM_FD_RESERVE
						  : STORM_FD_RESERVE;
}

int
main(int argc, char **argv)
{
	struct storm_opts o;
	struct storm_stats sum;
	struct sigaction sa;
	char err[ERR_LEN];
	uint64_t cap, need;
	unsigned nprocs;
	int64_t start;
	int rc;

	rc = parse_args(&o, argc, argv, err, sizeof(err));
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "stormgen: %s\n", err);
		return 2;
	}
	cap = per_process_capacity();
	need = o.hold > 0 ? o.hold : o.inflight;
	nprocs = (unsigned)((need + cap - 1) / cap);
	if (nprocs < o.procs)
		nprocs = o.procs;
	if (nprocs > STORM_PROCS_MAX) {
		fprintf(stderr, "stormgen: %llu connections need %u processes, more than %d\n",
		    (unsigned long long)need, nprocs, STORM_PROCS_MAX);
		return 2;
	}
	if (o.hold > 0 && o.inflight > cap)
		o.inflight = cap;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: waits return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&sum, 0, sizeof(sum));
	start = clock_monotonic_ms();
	if (nprocs == 1) {
		struct storm s;
		storm_setup(&s, &o, 1, 0);
		if (storm_run(&s, err, sizeof(err)) < 0) {
			fprintf(stderr, "stormgen: %s\n", err);
			return 1;
		}
		sum = s.st;
		rc = 0;
	} else {
		rc = run_children(&o, nprocs, &sum);
	}
	print_totals(&sum, nprocs, clock_monotonic_ms() - start);
	if (rc < 0 || (sum.started > 0 && sum.opened == 0))
		return 1;
	return 0;
}
