/*
 * newconn — the new-connection cost benchmark (loopback only).
 *
 * K client threads each loop, for D seconds: connect, authenticate, get one key,
 * close. This is what a server pays for a client that opens a connection per
 * request; an authenticated service pays most here (DESIGN.md). Reports completed
 * cycles per second and the latency of whole cycles (connect to close) as
 * percentiles.
 *
 * Auth modes: none; mcops (`set USER 0 0 LEN`, value PASSWORD, expect STORED);
 * memcached (its -Y form: any key, value "USER PASSWORD", expect STORED); sasl
 * (the binary protocol throughout: SASL_AUTH with mechanism PLAIN, expect status
 * 0, then a binary GET), which is how libmemcached, pylibmc or spymemcached log in
 * to mcd with a tenant and to memcached started with -S. By default each reply is
 * awaited before the next request, as an ordinary client does; --pipeline sends
 * the auth and the get in one write.
 *
 * Before the run, one connection stores the key (KEY_VALUE_LEN bytes) so that
 * every get is a hit. Each socket has receive and send timeouts (--timeout), so a
 * stuck server cannot hang the benchmark. Latencies are kept per thread in a
 * bounded reservoir (NEWCONN_SAMPLES_MAX in all), so a long run cannot grow memory.
 *
 * The last line of output is machine-readable:
 *   result cycles=N rate=R errors=N p50_us=N p90_us=N p99_us=N p999_us=N max_us=N
 * Exit status: 0 done; 1 no cycle completed, an auth or protocol error, or more
 * than 1% of connects failed; 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "parse.h"
#include "../tests/tools/endpoint.h"

#define NEWCONN_THREADS_MAX 64
#define NEWCONN_THREADS_DEFAULT 4
#define NEWCONN_DURATION_MAX_MS (300LL * 1000)
#define NEWCONN_DURATION_DEFAULT_MS (10LL * 1000)
#define NEWCONN_TIMEOUT_DEFAULT_MS 2000LL
#define NEWCONN_SAMPLES_MAX (1u << 21) /* latency samples kept, all threads together */
#define NEWCONN_READ_MAX 4096          /* replies of one cycle: auth line, VALUE, END */
#define NEWCONN_KEY_DEFAULT "newconn:key"
#define NEWCONN_KEY_MAX 200
#define KEY_VALUE_LEN 32
#define REQUEST_MAX (AUTH_REQUEST_MAX + NEWCONN_KEY_MAX + 64)
#define CONNECT_FAIL_LIMIT 0.01 /* a larger fraction of failed connects: exit 1 */
#define ERR_LEN 512

/* The binary protocol (memcached's protocol_binary.h), as much as the sasl mode uses. */
#define BIN_HEADER_LEN 24
#define BIN_MAGIC_REQ 0x80
#define BIN_MAGIC_RES 0x81
#define BIN_OP_GET 0x00
#define BIN_OP_SET 0x01
#define BIN_OP_SASL_AUTH 0x21
#define BIN_STATUS_OK 0
#define BIN_STATUS_NOT_FOUND 1
#define BIN_SET_EXTRAS_LEN 8 /* flags, exptime */
#define BIN_PLAIN "PLAIN"

struct newconn_opts {
	struct endpoint target;
	unsigned threads;
	int64_t duration_ms;
	int64_t timeout_ms;
	enum auth_style auth; /* AUTH_NONE with sasl */
	bool sasl;            /* binary protocol, SASL PLAIN */
	bool pipeline;
	char key[NEWCONN_KEY_MAX + 1];
	char auth_req[AUTH_REQUEST_MAX]; /* the auth set, or empty */
	size_t auth_len;
	char get_req[BIN_HEADER_LEN + NEWCONN_KEY_MAX + 8]; /* "get KEY\r\n" or a binary GET */
	size_t get_len;
};

enum cycle_result { CYCLE_OK, CYCLE_CONNECT, CYCLE_AUTH, CYCLE_GET };

struct worker {
	pthread_t thread;
	const struct newconn_opts *o;
	const atomic_bool *stop;
	uint64_t cycles, misses;
	uint64_t err_connect, err_auth, err_get;
	int first_errno;
	char first_reply[64]; /* the first unexpected reply, for the report */
	uint32_t *samples;    /* microseconds; a reservoir of `cap` */
	size_t nsamples, cap;
	uint32_t max_us;
	uint64_t rng;
};

/* Bytes received on one connection, consumed line by line. */
struct reader {
	char buf[NEWCONN_READ_MAX];
	size_t len, off;
};

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The next line (CRLF stripped, NUL-terminated in place) into *line. -1 on EOF,
 * error, timeout, or a line that does not fit the buffer.
 */
static int
reader_line(struct reader *r, int fd, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		if (nl != NULL) {
			size_t l = (size_t)(nl - (r->buf + r->off));
			*line = r->buf + r->off;
			r->off += l + 1;
			if (l > 0 && (*line)[l - 1] == '\r')
				l--;
			(*line)[l] = '\0';
			*len = l;
			return 0;
		}
		if (r->len == sizeof(r->buf) - 1) {
			errno = EMSGSIZE;
			return -1;
		}
		ssize_t n = recv(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNABORTED;
			return -1;
		}
		r->len += (size_t)n;
	}
}

/* Until n bytes are buffered past the read offset. */
static int
reader_fill(struct reader *r, int fd, size_t n)
{
	if (n > sizeof(r->buf) - 1 - r->off) {
		errno = EMSGSIZE;
		return -1;
	}
	while (r->len - r->off < n) {
		ssize_t got = recv(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		r->len += (size_t)got;
	}
	return 0;
}

/* Skips n data bytes and their CRLF. */
static int
reader_skip(struct reader *r, int fd, size_t n)
{
	if (reader_fill(r, fd, n + 2) < 0)
		return -1;
	r->off += n + 2;
	return 0;
}

/*
 * Writes a binary request header into p: the fields the sasl mode sends; opaque
 * and cas are zero. The body (extras, key, value) follows it.
 */
static void
bin_header(unsigned char *p, unsigned opcode, size_t keylen, size_t extlen, size_t bodylen)
{
	memset(p, 0, BIN_HEADER_LEN);
	p[0] = BIN_MAGIC_REQ;
	p[1] = (unsigned char)opcode;
	p[2] = (unsigned char)(keylen >> 8);
	p[3] = (unsigned char)keylen;
	p[4] = (unsigned char)extlen;
	p[8] = (unsigned char)(bodylen >> 24);
	p[9] = (unsigned char)(bodylen >> 16);
	p[10] = (unsigned char)(bodylen >> 8);
	p[11] = (unsigned char)bodylen;
}

/*
 * Reads one binary response, consuming its body; its status into *status. -1 on a
 * closed connection, a timeout, a bad magic or a body larger than the buffer.
 */
static int
read_bin_response(struct reader *r, int fd, unsigned *status)
{
	const unsigned char *h;
	size_t bodylen;

	if (r->off == r->len)
		r->off = r->len = 0;
	if (reader_fill(r, fd, BIN_HEADER_LEN) < 0)
		return -1;
	h = (const unsigned char *)r->buf + r->off;
	if (h[0] != BIN_MAGIC_RES) {
		errno = EPROTO;
		return -1;
	}
	*status = (unsigned)h[6] << 8 | h[7];
	bodylen = (size_t)h[8] << 24 | (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
	if (reader_fill(r, fd, BIN_HEADER_LEN + bodylen) < 0)
		return -1;
	r->off += BIN_HEADER_LEN + bodylen;
	return 0;
}

/* Formats the SASL PLAIN auth request: key "PLAIN", value NUL user NUL password. */
static int
sasl_request_format(char *buf, size_t buflen, const char *user, const char *password)
{
	size_t ulen = strlen(user), plen = strlen(password);
	size_t klen = sizeof(BIN_PLAIN) - 1, vlen = 1 + ulen + 1 + plen;
	unsigned char *p = (unsigned char *)buf;

	if (ulen == 0 || ulen > AUTH_USER_MAX || BIN_HEADER_LEN + klen + vlen > buflen)
		return -1;
	bin_header(p, BIN_OP_SASL_AUTH, klen, 0, klen + vlen);
	p += BIN_HEADER_LEN;
	memcpy(p, BIN_PLAIN, klen);
	p += klen;
	*p++ = '\0';
	memcpy(p, user, ulen);
	p += ulen;
	*p++ = '\0';
	memcpy(p, password, plen);
	return (int)(BIN_HEADER_LEN + klen + vlen);
}

static void
note_reply(struct worker *w, const char *what)
{
	if (w->first_reply[0] == '\0')
		snprintf(w->first_reply, sizeof(w->first_reply), "%s", what);
}

/* Reads a get reply: optionally one VALUE block, then END. hit tells which. */
static int
read_get_reply(struct worker *w, struct reader *r, int fd, bool *hit)
{
	char *line;
	size_t len;
	uint64_t bytes;

	*hit = false;
	if (w->o->sasl) {
		unsigned status;
		char what[48];
		if (read_bin_response(r, fd, &status) < 0) {
			note_reply(w, "(connection closed, timed out or not a binary response)");
			return -1;
		}
		if (status != BIN_STATUS_OK && status != BIN_STATUS_NOT_FOUND) {
			snprintf(what, sizeof(what), "get: binary status 0x%02x", status);
			note_reply(w, what);
			return -1;
		}
		*hit = status == BIN_STATUS_OK;
		return 0;
	}
	for (;;) {
		if (reader_line(r, fd, &line, &len) < 0) {
			note_reply(w, "(connection closed or timed out)");
			return -1;
		}
		if (len == 3 && memcmp(line, "END", 3) == 0)
			return 0;
		if (len > 6 && memcmp(line, "VALUE ", 6) == 0) {
			const char *sp = strrchr(line, ' ');
			/* VALUE <key> <flags> <bytes>: no cas was asked for */
			if (sp == NULL || parse_u64(sp + 1, 0, NEWCONN_READ_MAX, &bytes) < 0 ||
			    reader_skip(r, fd, (size_t)bytes) < 0) {
				note_reply(w, line);
				return -1;
			}
			*hit = true;
			continue;
		}
		note_reply(w, line);
		return -1;
	}
}

static int
open_connection(const struct newconn_opts *o)
{
	struct timeval tv = clock_ms_timeval(o->timeout_ms);
	int fd, one = 1;

	fd = socket(o->target.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* SO_SNDTIMEO bounds connect() too */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&o->target.addr, o->target.len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Sends the auth set (unless pipelined with what follows) and checks STORED. */
static enum cycle_result
authenticate(struct worker *w, struct reader *r, int fd, bool already_sent)
{
	const struct newconn_opts *o = w->o;
	char *line;
	size_t len;

	if (!already_sent && send_all(fd, o->auth_req, o->auth_len) < 0) {
		note_reply(w, "(send failed)");
		return CYCLE_AUTH;
	}
	if (o->sasl) {
		unsigned status;
		char what[48];
		if (read_bin_response(r, fd, &status) < 0) {
			note_reply(w, "(connection closed, timed out or not a binary response)");
			return CYCLE_AUTH;
		}
		if (status != BIN_STATUS_OK) {
			snprintf(what, sizeof(what), "sasl auth: binary status 0x%02x", status);
			note_reply(w, what);
			return CYCLE_AUTH;
		}
		return CYCLE_OK;
	}
	if (reader_line(r, fd, &line, &len) < 0) {
		note_reply(w, "(connection closed or timed out)");
		return CYCLE_AUTH;
	}
	if (!(len == 6 && memcmp(line, "STORED", 6) == 0)) {
		note_reply(w, line);
		return CYCLE_AUTH;
	}
	return CYCLE_OK;
}

/* connect + authenticate + get + close. */
static enum cycle_result
cycle(struct worker *w, bool *hit)
{
	const struct newconn_opts *o = w->o;
	char req[REQUEST_MAX];
	struct reader r;
	enum cycle_result res = CYCLE_OK;
	int fd;

	r.len = r.off = 0;
	fd = open_connection(o);
	if (fd < 0) {
		if (w->first_errno == 0)
			w->first_errno = errno;
		return CYCLE_CONNECT;
	}
	if ((o->auth != AUTH_NONE || o->sasl) && o->pipeline) {
		memcpy(req, o->auth_req, o->auth_len);
		memcpy(req + o->auth_len, o->get_req, o->get_len);
		if (send_all(fd, req, o->auth_len + o->get_len) < 0)
			res = CYCLE_AUTH;
		else
			res = authenticate(w, &r, fd, true);
	} else if (o->auth != AUTH_NONE || o->sasl) {
		res = authenticate(w, &r, fd, false);
		if (res == CYCLE_OK && send_all(fd, o->get_req, o->get_len) < 0)
			res = CYCLE_GET;
	} else if (send_all(fd, o->get_req, o->get_len) < 0) {
		res = CYCLE_GET;
	}
	if (res == CYCLE_OK && read_get_reply(w, &r, fd, hit) < 0)
		res = CYCLE_GET;
	close(fd);
	return res;
}

static void
record(struct worker *w, int64_t ns)
{
	uint64_t us = (uint64_t)(ns / 1000);
	uint32_t v = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;

	if (v > w->max_us)
		w->max_us = v;
	/* reservoir sampling: every cycle has the same chance to be kept */
	if (w->nsamples < w->cap) {
		w->samples[w->nsamples++] = v;
	} else {
		uint64_t j = rng_next(&w->rng) % w->cycles;
		if (j < w->cap)
			w->samples[j] = v;
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		int64_t t0 = clock_now_ns(CLOCK_MONOTONIC);
		bool hit = false;
		switch (cycle(w, &hit)) {
		case CYCLE_OK:
			w->cycles++;
			if (!hit)
				w->misses++;
			record(w, clock_now_ns(CLOCK_MONOTONIC) - t0);
			break;
		case CYCLE_CONNECT:
			w->err_connect++;
			/* out of ports or refused: do not spin on it */
			usleep(1000);
			break;
		case CYCLE_AUTH:
			w->err_auth++;
			break;
		case CYCLE_GET:
			w->err_get++;
			break;
		}
	}
	return NULL;
}

/* One connection that stores the key, so that every get of the run hits. */
static int
prepare_key(const struct newconn_opts *o, char *err, size_t errlen)
{
	struct worker w;
	struct reader r = { .len = 0, .off = 0 };
	char req[REQUEST_MAX];
	char value[KEY_VALUE_LEN + 1];
	char *line;
	size_t len;
	int fd, n;

	memset(&w, 0, sizeof(w));
	w.o = o;
	memset(value, 'v', KEY_VALUE_LEN);
	value[KEY_VALUE_LEN] = '\0';
	fd = open_connection(o);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", o->target.text, strerror(errno));
		return -1;
	}
	if ((o->auth != AUTH_NONE || o->sasl) &&
	    authenticate(&w, &r, fd, false) != CYCLE_OK) {
		snprintf(err, errlen, "authentication (%s) to %s failed: '%s'",
		    o->sasl ? "sasl" : auth_style_name(o->auth), o->target.text, w.first_reply);
		close(fd);
		return -1;
	}
	if (o->sasl) {
		size_t klen = strlen(o->key), total;
		unsigned status;
		unsigned char *p = (unsigned char *)req;
		total = BIN_HEADER_LEN + BIN_SET_EXTRAS_LEN + klen + KEY_VALUE_LEN;
		/* flags and exptime 0: the extras stay zero */
		bin_header(p, BIN_OP_SET, klen, BIN_SET_EXTRAS_LEN,
		    BIN_SET_EXTRAS_LEN + klen + KEY_VALUE_LEN);
		memset(p + BIN_HEADER_LEN, 0, BIN_SET_EXTRAS_LEN);
		memcpy(p + BIN_HEADER_LEN + BIN_SET_EXTRAS_LEN, o->key, klen);
		memcpy(p + BIN_HEADER_LEN + BIN_SET_EXTRAS_LEN + klen, value, KEY_VALUE_LEN);
		if (send_all(fd, req, total) < 0 || read_bin_response(&r, fd, &status) < 0 ||
		    status != BIN_STATUS_OK) {
			snprintf(err, errlen, "cannot store the key '%s' on %s (binary set)",
			    o->key, o->target.text);
			close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	n = snprintf(req, sizeof(req), "set %s 0 0 %d\r\n%s\r\n", o->key, KEY_VALUE_LEN, value);
	if (n < 0 || (size_t)n >= sizeof(req) || send_all(fd, req, (size_t)n) < 0 ||
	    reader_line(&r, fd, &line, &len) < 0 || strcmp(line, "STORED") != 0) {
		snprintf(err, errlen, "cannot store the key '%s' on %s", o->key, o->target.text);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t
percentile(const uint32_t *sorted, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);

	if (n == 0)
		return 0;
	return sorted[i >= n ? n - 1 : i];
}

/* --- options and main -------------------------------------------------------------------- */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: newconn --target ADDR:PORT [--threads K] [--duration D]\n"
	    "               [--auth none|mcops|memcached|sasl] [--user U]\n"
	    "               [--password P | --password-file F] [--key KEY] [--pipeline]\n"
	    "               [--timeout D]\n"
	    "\n"
	    "New-connection cost: K threads loop connect + auth + get + close for D.\n"
	    "\n"
	    "  --target ADDR:PORT  the server (127.0.0.0/8 or [::1] only)\n"
	    "  --threads K         client threads (default %d, at most %d)\n"
	    "  --duration D        how long (default 10s, at most 300s)\n"
	    "  --auth MODE         none (default), mcops (set USER 0 0 LEN, value PASSWORD)\n"
	    "                      memcached (-Y: value 'USER PASSWORD') or sasl\n"
	    "                      (binary protocol: SASL PLAIN, then a binary GET)\n"
	    "  --user U            the account (needed unless --auth none)\n"
	    "  --password P        its password (visible in ps: prefer --password-file)\n"
	    "  --password-file F   read the password from F's first line\n"
	    "  --key KEY           the key stored first and read by every cycle\n"
	    "                      (default %s)\n"
	    "  --pipeline          send the auth and the get in one write\n"
	    "  --timeout D         per-socket send/receive timeout (default 2s)\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "Last line: result cycles=N rate=R errors=N p50_us=N p90_us=N p99_us=N\n"
	    "p999_us=N max_us=N. Exit 1 if no cycle completed, on an auth or protocol\n"
	    "error, or if more than 1%% of connects failed.\n",
	    NEWCONN_THREADS_DEFAULT, NEWCONN_THREADS_MAX, NEWCONN_KEY_DEFAULT);
}

enum {
	OPT_TARGET = 1000,
	OPT_THREADS,
	OPT_DURATION,
	OPT_AUTH,
	OPT_USER,
	OPT_PASSWORD,
	OPT_PASSWORD_FILE,
	OPT_KEY,
	OPT_PIPELINE,
	OPT_TIMEOUT,
};

static const struct option long_options[] = {
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "auth", required_argument, NULL, OPT_AUTH },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "pipeline", no_argument, NULL, OPT_PIPELINE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
opt_duration(const char *name, const char *arg, int64_t max, int64_t *out, char *err,
    size_t errlen)
{
	if (parse_duration_ms(arg, out) < 0 || *out <= 0 || *out > max) {
		snprintf(err, errlen, "--%s '%s': expected a duration up to %llds", name, arg,
		    (long long)(max / 1000));
		return -1;
	}
	return 0;
}

/* Fills o from argv. 0, 1 for --help, -1 with err. */
static int
parse_args(struct newconn_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	const char *user = NULL, *password = NULL, *password_file = NULL;
	const char *key = NEWCONN_KEY_DEFAULT;
	char secret[CONFIG_SECRET_MAX];
	bool have_target = false;
	uint64_t v;
	int opt, n;

	memset(o, 0, sizeof(*o));
	o->threads = NEWCONN_THREADS_DEFAULT;
	o->duration_ms = NEWCONN_DURATION_DEFAULT_MS;
	o->timeout_ms = NEWCONN_TIMEOUT_DEFAULT_MS;
	o->auth = AUTH_NONE;
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
		case OPT_THREADS:
			if (parse_u64(optarg, 1, NEWCONN_THREADS_MAX, &v) < 0) {
				snprintf(err, errlen, "--threads '%s': expected 1..%d", optarg,
				    NEWCONN_THREADS_MAX);
				return -1;
			}
			o->threads = (unsigned)v;
			break;
		case OPT_DURATION:
			if (opt_duration("duration", optarg, NEWCONN_DURATION_MAX_MS,
				&o->duration_ms, err, errlen) < 0)
				return -1;
			break;
		case OPT_TIMEOUT:
			if (opt_duration("timeout", optarg, 60 * 1000, &o->timeout_ms, err,
				errlen) < 0)
				return -1;
			break;
		case OPT_AUTH:
			o->sasl = strcmp(optarg, "sasl") == 0;
			if (o->sasl) {
				o->auth = AUTH_NONE;
			} else if (auth_style_parse(optarg, &o->auth) < 0) {
				snprintf(err, errlen,
				    "--auth '%s': expected none, mcops, memcached or sasl", optarg);
				return -1;
			}
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
		case OPT_KEY:
			key = optarg;
			break;
		case OPT_PIPELINE:
			o->pipeline = true;
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
	if (strlen(key) == 0 || strlen(key) > NEWCONN_KEY_MAX || strpbrk(key, " \t\r\n") != NULL) {
		snprintf(err, errlen, "--key: 1..%d bytes without spaces", NEWCONN_KEY_MAX);
		return -1;
	}
	snprintf(o->key, sizeof(o->key), "%s", key);
	if (o->sasl) {
		size_t klen = strlen(o->key);
		bin_header((unsigned char *)o->get_req, BIN_OP_GET, klen, 0, klen);
		memcpy(o->get_req + BIN_HEADER_LEN, o->key, klen);
		o->get_len = BIN_HEADER_LEN + klen;
	} else {
		n = snprintf(o->get_req, sizeof(o->get_req), "get %s\r\n", o->key);
		o->get_len = (size_t)n;
	}
	if (o->auth == AUTH_NONE && !o->sasl) {
		if (user != NULL || password != NULL || password_file != NULL) {
			snprintf(err, errlen, "--user or a password given with --auth none");
			return -1;
		}
		return 0;
	}
	if (user == NULL || (password == NULL) == (password_file == NULL)) {
		snprintf(err, errlen, "--auth %s needs --user and one of --password, --password-file",
		    o->sasl ? "sasl" : auth_style_name(o->auth));
		return -1;
	}
	if (password_file != NULL) {
		if (config_read_secret(password_file, secret, sizeof(secret), err, errlen) < 0)
			return -1;
		password = secret;
	}
	if (o->sasl)
		n = sasl_request_format(o->auth_req, sizeof(o->auth_req), user, password);
	else
		n = auth_request_format(o->auth_req, sizeof(o->auth_req), o->auth, user, password);
	if (n < 0) {
		snprintf(err, errlen, "--user '%s': not a valid key, or password too long", user);
		return -1;
	}
	o->auth_len = (size_t)n;
	return 0;
}

/* Sleeps for the run, or until SIGINT/SIGTERM (blocked in every thread). */
static void
wait_for_end(const sigset_t *sigs, int64_t ms)
{
	struct timespec ts = clock_ms_timespec(ms);

	while (sigtimedwait(sigs, NULL, &ts) < 0 && errno == EINTR)
		;
}

static void
report(const struct newconn_opts *o, struct worker *workers, double seconds, int *status)
{
	uint64_t cycles = 0, misses = 0, ec = 0, ea = 0, eg = 0, attempts;
	uint32_t max_us = 0, *all;
	size_t n = 0, k = 0;
	double rate;
	const char *why = "";
	int first_errno = 0;

	for (unsigned t = 0; t < o->threads; t++) {
		struct worker *w = &workers[t];
		cycles += w->cycles;
		misses += w->misses;
		ec += w->err_connect;
		ea += w->err_auth;
		eg += w->err_get;
		n += w->nsamples;
		if (w->max_us > max_us)
			max_us = w->max_us;
		if (first_errno == 0)
			first_errno = w->first_errno;
		if (why[0] == '\0' && w->first_reply[0] != '\0')
			why = w->first_reply;
	}
	all = malloc((n > 0 ? n : 1) * sizeof(*all));
	if (all == NULL) {
		fprintf(stderr, "newconn: out of memory for %zu samples\n", n);
		*status = 1;
		return;
	}
	for (unsigned t = 0; t < o->threads; t++) {
		memcpy(all + k, workers[t].samples, workers[t].nsamples * sizeof(*all));
		k += workers[t].nsamples;
	}
	qsort(all, n, sizeof(*all), compare_u32);
	rate = seconds > 0 ? (double)cycles / seconds : 0;
	printf("newconn: %llu cycles in %.2fs: %.1f/s; errors: connect %llu, auth %llu, get %llu;"
	       " misses %llu\n",
	    (unsigned long long)cycles, seconds, rate, (unsigned long long)ec,
	    (unsigned long long)ea, (unsigned long long)eg, (unsigned long long)misses);
	if (ec > 0 && first_errno != 0)
		printf("newconn: first connect failure: %s\n", strerror(first_errno));
	if (why[0] != '\0')
		printf("newconn: first unexpected reply: '%s'\n", why);
	printf("newconn: cycle latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, "
	       "max %.3f ms\n",
	    percentile(all, n, 0.50) / 1000.0, percentile(all, n, 0.90) / 1000.0,
	    percentile(all, n, 0.99) / 1000.0, percentile(all, n, 0.999) / 1000.0,
	    max_us / 1000.0);
	printf("result cycles=%llu rate=%.1f errors=%llu p50_us=%u p90_us=%u p99_us=%u "
	       "p999_us=%u max_us=%u\n",
	    (unsigned long long)cycles, rate, (unsigned long long)(ec + ea + eg),
	    percentile(all, n, 0.50), percentile(all, n, 0.90), percentile(all, n, 0.99),
	    percentile(all, n, 0.999), max_us);
	free(all);
	attempts = cycles + ec + ea + eg;
	*status = 0;
	if (cycles == 0 || ea > 0 || eg > 0 ||
	    (attempts > 0 && (double)ec / (double)attempts > CONNECT_FAIL_LIMIT))
		*status = 1;
}

int
main(int argc, char **argv)
{
	struct newconn_opts o;
	struct worker *workers;
	atomic_bool stop;
	sigset_t sigs;
	char err[ERR_LEN];
	int64_t t0, t1;
	unsigned started = 0;
	uint64_t seed;
	int rc, status;

	rc = parse_args(&o, argc, argv, err, sizeof(err));
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "newconn: %s\n", err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (prepare_key(&o, err, sizeof(err)) < 0) {
		fprintf(stderr, "newconn: %s\n", err);
		return 1;
	}
	workers = calloc(o.threads, sizeof(*workers));
	if (workers == NULL) {
		fprintf(stderr, "newconn: out of memory\n");
		return 1;
	}
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)clock_now_ns(CLOCK_MONOTONIC);
	/* the threads inherit the blocked signals; only the main thread takes them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	atomic_init(&stop, false);
	printf("newconn: target %s, auth %s%s, %u threads, %.1fs\n", o.target.text,
	    o.sasl ? "sasl (binary)" : auth_style_name(o.auth), o.pipeline ? " (pipelined)" : "", o.threads,
	    (double)o.duration_ms / 1000.0);
	fflush(stdout);
	t0 = clock_now_ns(CLOCK_MONOTONIC);
	for (unsigned t = 0; t < o.threads; t++) {
		struct worker *w = &workers[t];
		w->o = &o;
		w->stop = &stop;
		w->cap = NEWCONN_SAMPLES_MAX / o.threads;
		w->rng = seed + t;
		w->samples = malloc(w->cap * sizeof(*w->samples));
		if (w->samples == NULL || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			fprintf(stderr, "newconn: cannot start thread %u\n", t);
			break;
		}
		started++;
	}
	if (started == o.threads)
		wait_for_end(&sigs, o.duration_ms);
	atomic_store(&stop, true);
	for (unsigned t = 0; t < started; t++)
		pthread_join(workers[t].thread, NULL);
	t1 = clock_now_ns(CLOCK_MONOTONIC);
	status = 1;
	if (started == o.threads)
		report(&o, workers, (double)(t1 - t0) / 1e9, &status);
	for (unsigned t = 0; t < o.threads; t++)
		free(workers[t].samples);
	free(workers);
	return status;
}
