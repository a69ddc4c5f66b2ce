/*
 * closedloop — per-request latency of a memcache server (or proxy), one connection,
 * one request in flight (loopback only).
 *
 *   closedloop --target ADDR:PORT [--target ADDR:PORT ...] [--count N] [--keys K]
 *              [--set-every M] [--value-size B] [--warmup W] [--timeout D]
 *              [--rate R] [--source ADDR] [--user U --password-file F
 *              [--auth-style mcops|memcached]]
 *
 * One connection per target. First every key (cl:0 .. cl:K-1) is stored through each
 * target, so that every get is a hit. Then N rounds: in each round every target, in
 * an order drawn anew each round, gets one request (a set every M-th round, a get
 * otherwise, on the same key for all targets) and the whole reply is awaited before
 * the next request is sent. Each request is timed with CLOCK_MONOTONIC from before
 * its send to the end of its reply.
 *
 * The targets are interleaved request by request, not run one after another, so that
 * whatever else the machine does during the run (it is shared) falls on all of them
 * alike: a proxy and the backend behind it measured this way differ by what the proxy
 * adds, not by when each was measured. The first W rounds are not counted.
 *
 * --rate R paces the rounds at R per second (a steady client: a tenant's ordinary
 * traffic while another one storms), instead of back to back; a round that is late
 * starts at once, but the lost time is not made up with a burst. A request is still
 * timed from its send, so a late round shows as a lower rate (the result line's
 * rate=), not as latency. --user authenticates each connection first (lib's auth
 * forms, tests/tools/endpoint.h) and --source connects from a given local address
 * (e.g. 127.0.0.2, to be another source than a storm from 127.0.0.1).
 *
 * Replies are framed by lib/mcreply. Each socket has receive and send timeouts
 * (--timeout), so a stuck server cannot hang the run. Memory is bounded: N is at most
 * CLOSEDLOOP_COUNT_MAX and the samples are N per target.
 *
 * Output, one line per target, in --target order:
 *   result target=ADDR:PORT requests=N misses=M mean_us=F p50_us=F p90_us=F
 *          p99_us=F p999_us=F max_us=F rate=F
 * (rate: counted rounds per second of the counted part of the run).
 * (misses: gets that found nothing, though every key was stored: a server that lost
 * or misplaced keys).
 * Exit status: 0 done; 1 a connection, protocol or unexpected reply error (the first
 * is printed); 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "mcreply.h"
#include "parse.h"
#include "../tests/tools/endpoint.h"

#define CLOSEDLOOP_TARGETS_MAX 8
#define CLOSEDLOOP_COUNT_MAX 1000000u
#define CLOSEDLOOP_COUNT_DEFAULT 20000u
#define CLOSEDLOOP_KEYS_MAX 100000u
#define CLOSEDLOOP_KEYS_DEFAULT 1000u
#define CLOSEDLOOP_SET_EVERY_DEFAULT 10u /* 10% sets, 90% gets, as memcaslap's default */
#define CLOSEDLOOP_VALUE_MAX 65536u
#define CLOSEDLOOP_VALUE_DEFAULT 32u
#define CLOSEDLOOP_WARMUP_DEFAULT 500u
#define CLOSEDLOOP_TIMEOUT_DEFAULT_MS 2000LL
#define CLOSEDLOOP_SEED 0x5eedULL /* the turn order: the same in every run */
#define CLOSEDLOOP_KEY_MAX 32 /* "cl:" and a number */
#define CLOSEDLOOP_RATE_MAX 1000000u
#define REQUEST_MAX (CLOSEDLOOP_KEY_MAX + CLOSEDLOOP_VALUE_MAX + 64)
#define ERR_LEN 512

struct target {
	struct endpoint ep;
	int fd;
	char buf[MCREPLY_MAX]; /* received bytes not yet framed */
	size_t len;
	uint32_t *ns; /* one sample per counted request, nanoseconds */
	size_t nsamples;
	uint64_t misses; /* gets answered with END alone: every key was stored first */
};

struct opts {
	struct target *targets[CLOSEDLOOP_TARGETS_MAX];
	unsigned ntargets;
	uint32_t count, keys, set_every, value_size, warmup;
	uint32_t rate; /* rounds per second; 0 = back to back */
	int64_t timeout_ms;
	int64_t elapsed_ns; /* of the counted rounds */
	bool have_source;
	struct endpoint source; /* local address to connect from (port 0) */
	enum auth_style auth;
	char auth_req[AUTH_REQUEST_MAX]; /* sent first on each connection, or empty */
	size_t auth_len;
};

/*
 * Reads until one whole reply of kind is buffered and consumes it. 0 with *error set
 * when it is an error line (or, for a set, anything but STORED) and *miss when a get
 * found nothing; -1 with err when the connection failed or the stream cannot be
 * framed.
 */
static int
await_reply(struct target *t, enum mcreply_kind kind, bool want_stored, bool *error,
    bool *miss, char *err, size_t errlen)
{
	struct mcreply_frame f;

	for (;;) {
		enum mcreply_status st = mcreply_frame(t->buf, t->len, kind, &f);
		if (st == MCREPLY_MALFORMED) {
			snprintf(err, errlen, "%s: malformed reply: %s", t->ep.text, f.why);
			return -1;
		}
		if (st == MCREPLY_COMPLETE)
			break;
		if (t->len == sizeof(t->buf)) {
			snprintf(err, errlen, "%s: reply longer than %d bytes", t->ep.text,
			    MCREPLY_MAX);
			return -1;
		}
		ssize_t n = recv(t->fd, t->buf + t->len, sizeof(t->buf) - t->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", t->ep.text,
			    n == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		t->len += (size_t)n;
	}
	*error = f.error ||
	    (want_stored && !(f.last_len == 6 && memcmp(t->buf + f.last_off, "STORED", 6) == 0));
	if (*error)
		snprintf(err, errlen, "%s: unexpected reply '%.*s'", t->ep.text,
		    (int)(f.last_len > 80 ? 80 : f.last_len), t->buf + f.last_off);
	*miss = kind == MCREPLY_GET && !f.error && f.last_off == 0;
	memmove(t->buf, t->buf + f.len, t->len - f.len);
	t->len -= f.len;
	return 0;
}

static int
open_connection(const struct opts *o, struct target *t, char *err, size_t errlen)
{
	struct timeval tv = clock_ms_timeval(o->timeout_ms);
	int one = 1;

	t->fd = socket(t->ep.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* SO_SNDTIMEO bounds connect() too */
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (o->have_source &&
	    bind(t->fd, (const struct sockaddr *)&o->source.addr, o->source.len) < 0) {
		snprintf(err, errlen, "bind %s: %s", o->source.text, strerror(errno));
		close(t->fd);
		t->fd = -1;
		return -1;
	}
	if (connect(t->fd, (const struct sockaddr *)&t->ep.addr, t->ep.len) < 0) {
		snprintf(err, errlen, "connect %s: %s", t->ep.text, strerror(errno));
		close(t->fd);
		t->fd = -1;
		return -1;
	}
	return 0;
}

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL); /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * order[0..n) = a random permutation of 0..n-1 (Fisher-Yates). A fixed turn order
 * would give each target the same predecessor every round, and which process ran
 * just before a request (whose caches it left warm, which core it woke) is enough to
 * shift a target's latency by a tenth.
 */
static void
shuffle(unsigned *order, unsigned n, uint64_t *rng)
{
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(rng_next(rng) % i), tmp = order[i - 1];
		order[i - 1] = order[j];
		order[j] = tmp;
	}
}

/* The request for round i into req; its length. */
static size_t
format_request(const struct opts *o, uint32_t i, bool set, char *req, size_t reqlen)
{
	uint32_t key = i % o->keys;
	int n;

	if (set) {
		n = snprintf(req, reqlen, "set cl:%u 0 0 %u\r\n", key, o->value_size);
		/* the value: printable, and different each round so that sets really write */
		for (uint32_t b = 0; b < o->value_size; b++)
			req[n + (int)b] = (char)('a' + (i + b) % 26);
		n += (int)o->value_size;
		req[n++] = '\r';
		req[n++] = '\n';
	} else {
		n = snprintf(req, reqlen, "get cl:%u\r\n", key);
	}
	return (size_t)n;
}

/* One request and its whole reply; *ns its time. */
static int
request(struct target *t, const char *req, size_t len, bool set, int64_t *ns, char *err,
    size_t errlen)
{
	int64_t t0 = clock_now_ns(CLOCK_MONOTONIC);
	bool error, miss;

	/* A blocking send of a request this small (REQUEST_MAX) writes it whole, or fails
	 * at the timeout; no signal handler interrupts it. */
	ssize_t sent = send(t->fd, req, len, MSG_NOSIGNAL);
	if (sent != (ssize_t)len) {
		snprintf(err, errlen, "%s: send: %s", t->ep.text,
		    sent < 0 ? strerror(errno) : "partial");
		return -1;
	}
	if (await_reply(t, set ? MCREPLY_LINE : MCREPLY_GET, set, &error, &miss, err,
		errlen) < 0)
		return -1;
	*ns = clock_now_ns(CLOCK_MONOTONIC) - t0;
	if (miss)
		t->misses++;
	return error ? -1 : 0;
}

static int
run(struct opts *o, char *err, size_t errlen)
{
	static char req[REQUEST_MAX];
	uint64_t rng = CLOSEDLOOP_SEED;
	int64_t ns;

	for (unsigned t = 0; t < o->ntargets; t++) {
		if (open_connection(o, o->targets[t], err, errlen) < 0)
			return -1;
		if (o->auth_len > 0 &&
		    request(o->targets[t], o->auth_req, o->auth_len, true, &ns, err, errlen) < 0)
			return -1;
	}
	/* every key stored first, so that every get is a hit */
	for (uint32_t k = 0; k < o->keys; k++) {
		size_t len = format_request(o, k, true, req, sizeof(req));
		for (unsigned t = 0; t < o->ntargets; t++)
			if (request(o->targets[t], req, len, true, &ns, err, errlen) < 0)
				return -1;
	}
	int64_t interval = o->rate > 0 ? 1000000000LL / o->rate : 0;
	int64_t next = clock_now_ns(CLOCK_MONOTONIC), counted_from = next;
	for (uint32_t i = 0; i < o->warmup + o->count; i++) {
		bool set = i % o->set_every == 0;
		size_t len = format_request(o, i, set, req, sizeof(req));
		unsigned order[CLOSEDLOOP_TARGETS_MAX];
		if (interval > 0) {
			int64_t now = clock_now_ns(CLOCK_MONOTONIC);
			if (next > now) {
				struct timespec ts = { .tv_sec = next / 1000000000LL,
					.tv_nsec = next % 1000000000LL };
				while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
					;
			} else if (now - next > interval) {
				next = now; /* late: start now, no burst to catch up */
			}
			next += interval;
		}
		if (i == o->warmup)
			counted_from = clock_now_ns(CLOCK_MONOTONIC);
		shuffle(order, o->ntargets, &rng);
		for (unsigned t = 0; t < o->ntargets; t++) {
			struct target *tg = o->targets[order[t]];
			if (request(tg, req, len, set, &ns, err, errlen) < 0)
				return -1;
			if (i >= o->warmup)
				tg->ns[tg->nsamples++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
		}
	}
	o->elapsed_ns = clock_now_ns(CLOCK_MONOTONIC) - counted_from;
	return 0;
}

static int
compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
percentile_us(const uint32_t *sorted, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);

	if (n == 0)
		return 0;
	return sorted[i >= n ? n - 1 : i] / 1000.0;
}

static void
report(const struct opts *o, struct target *t)
{
	double sum = 0;

	qsort(t->ns, t->nsamples, sizeof(t->ns[0]), compare_u32);
	for (size_t i = 0; i < t->nsamples; i++)
		sum += t->ns[i];
	printf("result target=%s requests=%zu misses=%llu mean_us=%.1f p50_us=%.1f p90_us=%.1f "
	       "p99_us=%.1f p999_us=%.1f max_us=%.1f rate=%.1f\n",
	    t->ep.text, t->nsamples, (unsigned long long)t->misses,
	    t->nsamples ? sum / (double)t->nsamples / 1000.0 : 0.0,
	    percentile_us(t->ns, t->nsamples, 0.50), percentile_us(t->ns, t->nsamples, 0.90),
	    percentile_us(t->ns, t->nsamples, 0.99), percentile_us(t->ns, t->nsamples, 0.999),
	    percentile_us(t->ns, t->nsamples, 1.0),
	    o->elapsed_ns > 0 ? (double)t->nsamples * 1e9 / (double)o->elapsed_ns : 0.0);
}

/* --- options and main -------------------------------------------------------------------- */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: closedloop --target ADDR:PORT [--target ADDR:PORT ...] [--count N]\n"
	    "                  [--keys K] [--set-every M] [--value-size B] [--warmup W]\n"
	    "                  [--timeout D] [--rate R] [--source ADDR]\n"
	    "                  [--user U --password-file F [--auth-style S]]\n"
	    "\n"
	    "Per-request latency, one connection per target, one request in flight; the\n"
	    "targets take turns request by request.\n"
	    "\n"
	    "  --target ADDR:PORT  a server (127.0.0.0/8 or [::1] only; up to %d)\n"
	    "  --count N           counted requests per target (default %u, at most %u)\n"
	    "  --keys K            distinct keys, all stored first (default %u, at most %u)\n"
	    "  --set-every M       every M-th request is a set, the others gets (default %u)\n"
	    "  --value-size B      bytes of each value (default %u, at most %u)\n"
	    "  --warmup W          rounds not counted (default %u)\n"
	    "  --timeout D         per-socket send/receive timeout (default 2s)\n"
	    "  --rate R            rounds per second (default 0: back to back; at most %u)\n"
	    "  --source ADDR       connect from this local address (127.0.0.0/8 or ::1)\n"
	    "  --user U            authenticate each connection first, as U\n"
	    "  --password-file F   the password, F's first line\n"
	    "  --auth-style S      mcops (set U 0 0 LEN, value P; default) or memcached\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "One line per target: result target=ADDR:PORT requests=N misses=M\n"
	    "mean_us=F p50_us=F p90_us=F p99_us=F p999_us=F max_us=F rate=F. Exit 1 on a\n"
	    "connection, protocol or reply error.\n",
	    CLOSEDLOOP_TARGETS_MAX, CLOSEDLOOP_COUNT_DEFAULT, CLOSEDLOOP_COUNT_MAX,
	    CLOSEDLOOP_KEYS_DEFAULT, CLOSEDLOOP_KEYS_MAX, CLOSEDLOOP_SET_EVERY_DEFAULT,
	    CLOSEDLOOP_VALUE_DEFAULT, CLOSEDLOOP_VALUE_MAX, CLOSEDLOOP_WARMUP_DEFAULT,
	    CLOSEDLOOP_RATE_MAX);
}

enum {
	OPT_TARGET = 1000,
	OPT_COUNT,
	OPT_KEYS,
	OPT_SET_EVERY,
	OPT_VALUE_SIZE,
	OPT_WARMUP,
	OPT_TIMEOUT,
	OPT_RATE,
	OPT_SOURCE,
	OPT_USER,
	OPT_PASSWORD_FILE,
	OPT_AUTH_STYLE,
};

static const struct option long_options[] = {
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "set-every", required_argument, NULL, OPT_SET_EVERY },
	{ "value-size", required_argument, NULL, OPT_VALUE_SIZE },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "auth-style", required_argument, NULL, OPT_AUTH_STYLE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* optarg as a number in [min, max] into *out; -1 with err naming the option. */
static int
opt_u32(const char *name, uint64_t min, uint64_t max, uint32_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_u64(optarg, min, max, &v) < 0) {
		snprintf(err, errlen, "--%s '%s': expected %llu..%llu", name, optarg,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
add_target(struct opts *o, const char *arg, char *err, size_t errlen)
{
	struct target *t;

	if (o->ntargets == CLOSEDLOOP_TARGETS_MAX) {
		snprintf(err, errlen, "more than %d targets", CLOSEDLOOP_TARGETS_MAX);
		return -1;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->fd = -1;
	o->targets[o->ntargets++] = t;
	if (endpoint_parse(&t->ep, arg, err, errlen) < 0)
		return -1;
	if (endpoint_port(&t->ep) == 0) {
		snprintf(err, errlen, "--target '%s': port 0", arg);
		return -1;
	}
	return 0;
}

/* Fills o from argv. 0, 1 for --help, -1 with err. */
static int
parse_args(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
	const char *user = NULL, *password_file = NULL;
	char secret[CONFIG_SECRET_MAX], source[ENDPOINT_TEXT_MAX];
	bool have_style = false;
	int opt, n;

	o->count = CLOSEDLOOP_COUNT_DEFAULT;
	o->keys = CLOSEDLOOP_KEYS_DEFAULT;
	o->set_every = CLOSEDLOOP_SET_EVERY_DEFAULT;
	o->value_size = CLOSEDLOOP_VALUE_DEFAULT;
	o->warmup = CLOSEDLOOP_WARMUP_DEFAULT;
	o->timeout_ms = CLOSEDLOOP_TIMEOUT_DEFAULT_MS;
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case OPT_TARGET:
			rc = add_target(o, optarg, err, errlen);
			break;
		case OPT_COUNT:
			rc = opt_u32("count", 1, CLOSEDLOOP_COUNT_MAX, &o->count, err, errlen);
			break;
		case OPT_KEYS:
			rc = opt_u32("keys", 1, CLOSEDLOOP_KEYS_MAX, &o->keys, err, errlen);
			break;
		case OPT_SET_EVERY:
			rc = opt_u32("set-every", 1, UINT32_MAX, &o->set_every, err, errlen);
			break;
		case OPT_VALUE_SIZE:
			rc = opt_u32("value-size", 1, CLOSEDLOOP_VALUE_MAX, &o->value_size, err,
			    errlen);
			break;
		case OPT_WARMUP:
			rc = opt_u32("warmup", 0, CLOSEDLOOP_COUNT_MAX, &o->warmup, err, errlen);
			break;
		case OPT_TIMEOUT:
			if (parse_duration_ms(optarg, &o->timeout_ms) < 0 || o->timeout_ms <= 0 ||
			    o->timeout_ms > 60 * 1000) {
				snprintf(err, errlen, "--timeout '%s': expected a duration up to 60s",
				    optarg);
				rc = -1;
			}
			break;
		case OPT_RATE:
			rc = opt_u32("rate", 0, CLOSEDLOOP_RATE_MAX, &o->rate, err, errlen);
			break;
		case OPT_SOURCE:
			/* an endpoint without a port: parsed as ADDR:0 */
			n = snprintf(source, sizeof(source), strchr(optarg, ':') ? "[%s]:0" : "%s:0",
			    optarg);
			if (n < 0 || (size_t)n >= sizeof(source) ||
			    endpoint_parse(&o->source, source, err, errlen) < 0)
				rc = -1;
			o->have_source = true;
			break;
		case OPT_USER:
			user = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_AUTH_STYLE:
			if (auth_style_parse(optarg, &o->auth) < 0 || o->auth == AUTH_NONE) {
				snprintf(err, errlen, "--auth-style '%s': expected mcops or memcached",
				    optarg);
				rc = -1;
			}
			have_style = true;
			break;
		case 'h':
			return 1;
		default:
			snprintf(err, errlen, "unknown option (see --help)");
			rc = -1;
		}
		if (rc < 0)
			return -1;
	}
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (o->ntargets == 0) {
		snprintf(err, errlen, "--target is required (see --help)");
		return -1;
	}
	if ((user == NULL) != (password_file == NULL) || (user == NULL && have_style)) {
		snprintf(err, errlen, "--user and --password-file go together (--auth-style too)");
		return -1;
	}
	if (user != NULL) {
		if (!have_style)
			o->auth = AUTH_MCOPS;
		if (config_read_secret(password_file, secret, sizeof(secret), err, errlen) < 0)
			return -1;
		n = auth_request_format(o->auth_req, sizeof(o->auth_req), o->auth, user, secret);
		explicit_bzero(secret, sizeof(secret));
		if (n < 0) {
			snprintf(err, errlen, "--user '%s': not a valid key, or password too long",
			    user);
			return -1;
		}
		o->auth_len = (size_t)n;
	}
	for (unsigned t = 0; t < o->ntargets; t++) {
		o->targets[t]->ns = calloc(o->count, sizeof(uint32_t));
		if (o->targets[t]->ns == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static void
release(struct opts *o)
{
	for (unsigned t = 0; t < o->ntargets; t++) {
		if (o->targets[t]->fd >= 0)
			close(o->targets[t]->fd);
		free(o->targets[t]->ns);
		free(o->targets[t]);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	char err[ERR_LEN];
	int rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(&o, argc, argv, err, sizeof(err));
	if (rc != 0) {
		if (rc > 0)
			usage(stdout);
		else
			fprintf(stderr, "closedloop: %s\n", err);
		release(&o);
		return rc > 0 ? 0 : 2;
	}
	rc = run(&o, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "closedloop: %s\n", err);
	else
		for (unsigned t = 0; t < o.ntargets; t++)
			report(&o, o.targets[t]);
	release(&o);
	return rc < 0 ? 1 : 0;
}
