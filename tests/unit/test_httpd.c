/*
 * Unit tests of lib/httpd: a request reaches the handler whole (method, path, query,
 * headers, body) and HEAD drops the body; each limit answers as the header promises —
 * 408 at the deadline (however the client trickles), 431 past the header cap, 413 past
 * the body cap, 411 without a length, 400 for what is not HTTP/1.x; at the connection
 * cap the oldest incomplete request is evicted for a new one, and 503 comes only when
 * every connection is being answered; a failing accept() pauses accepting, is counted
 * and told once.
 *
 * The server runs on this thread's loop; the test pumps it until what it waits for
 * (an answer, a close, a count) is seen, within a bound on loop turns. Nothing asserts
 * on elapsed time: a deadline is configured short and the test waits for its close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "httpd.h"

#define BIG_BODY (8u << 20)  /* more than loopback's buffers hold: the answer stays queued */
#define PUMP_TURNS 20000     /* a bound on waiting, ~10 s of 0.5 ms polls: never reached */

struct fixture {
	struct event_base *base;
	struct httpd *h;
	char *big;
};

struct client {
	int fd;
	char got[8192];
	size_t len;
	bool closed;
};

static void
handler(void *arg, const struct httpd_request *req, struct httpd_response *res)
{
	struct fixture *f = arg;
	const char *auth = httpd_request_header(req, "authorization");
	char text[1024];
	int n;

	if (strcmp(req->path, "/big") == 0) {
		httpd_reply(res, 200, "application/octet-stream", f->big, BIG_BODY);
		return;
	}
	if (strcmp(req->path, "/gone") == 0) {
		httpd_header(res, "Allow", "POST");
		httpd_reply(res, 405, "text/plain", "no\n", 3);
		return;
	}
	n = snprintf(text, sizeof(text), "%s %s q=%s auth=%s body=%.*s", req->method, req->path,
	    req->query, auth != NULL ? auth : "-", (int)req->body_len, req->body);
	httpd_reply(res, 200, "text/plain", text, (size_t)n);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->base = event_base_new();
	f->big = calloc(1, BIG_BODY);
	*state = f;
	return f->base != NULL && f->big != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	httpd_stop(f->h);
	event_base_free(f->base);
	free(f->big);
	free(f);
	return 0;
}

static void
start(struct fixture *f, size_t conns, int timeout_ms, size_t headers_max, size_t body_max)
{
	struct httpd_limits lim = { conns, timeout_ms, headers_max, body_max, 100 };
	char err[256];

	f->h = httpd_start(f->base, "127.0.0.1", 0, &lim, handler, f, err, sizeof(err));
	if (f->h == NULL)
		fail_msg("httpd_start: %s", err);
}

static void
client_open(struct fixture *f, struct client *c)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	memset(c, 0, sizeof(*c));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(httpd_port(f->h));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(c->fd >= 0);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		assert_int_equal(errno, EINPROGRESS);
}

static void
client_send(struct client *c, const char *text)
{
	struct pollfd p = { .fd = c->fd, .events = POLLOUT };

	assert_true(poll(&p, 1, 5000) == 1);
	assert_int_equal(send(c->fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* Reads what is there; true once the server closed. */
static bool
client_poll(struct client *c)
{
	ssize_t n;

	while (!c->closed) {
		if (c->len == sizeof(c->got) - 1)
			c->len = 0; /* a big body: keep reading, the head is not looked at */
		n = recv(c->fd, c->got + c->len, sizeof(c->got) - 1 - c->len, MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			c->got[c->len] = '\0';
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->closed = true;
		break;
	}
	return c->closed;
}

static void
client_close(struct client *c)
{
	close(c->fd);
}

/* Runs the loop until done(arg) or PUMP_TURNS turns (then fails). */
static void
pump(struct fixture *f, bool (*done)(void *), void *arg, const char *what)
{
	int i;

	for (i = 0; i < PUMP_TURNS; i++) {
		if (done(arg))
			return;
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(500);
	}
	fail_msg("never happened: %s", what);
}

static bool
closed(void *arg)
{
	return client_poll(arg);
}

struct conns_at {
	struct fixture *f;
	size_t n;
};

static bool
conns_reach(void *arg)
{
	struct conns_at *a = arg;

	return httpd_connections(a->f->h) == a->n;
}

static void
wait_conns(struct fixture *f, size_t n)
{
	struct conns_at a = { f, n };

	pump(f, conns_reach, &a, "the connection count");
}

static void
hands_the_handler_the_whole_request(void **state)
{
	struct fixture *f = *state;
	struct client c;

	start(f, 4, 5000, 1024, 100);
	client_open(f, &c);
	client_send(&c, "POST http://x:1/hook?a=b HTTP/1.1\r\nAuthorization:  Bearer t \r\n"
			"Content-Length: 5\r\n\r\nhel");
	client_send(&c, "lo");
	pump(f, closed, &c, "the answer");
	assert_non_null(strstr(c.got, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(c.got, "Connection: close\r\n"));
	assert_non_null(strstr(c.got, "Content-Length: 41\r\n"));
	assert_non_null(strstr(c.got, "\r\n\r\nPOST /hook q=a=b auth=Bearer t body=hello"));
	client_close(&c);
	/* Bare LF line ends, and HEAD: the length of the body, not the body. */
	client_open(f, &c);
	client_send(&c, "HEAD /x HTTP/1.0\n\n");
	pump(f, closed, &c, "the HEAD answer");
	assert_non_null(strstr(c.got, "Content-Length: 23\r\n"));
	assert_non_null(strstr(c.got, "\r\n\r\n"));
	assert_string_equal(strstr(c.got, "\r\n\r\n"), "\r\n\r\n");
	client_close(&c);
	/* The handler's own status and headers. */
	client_open(f, &c);
	client_send(&c, "GET /gone HTTP/1.1\r\n\r\n");
	pump(f, closed, &c, "the 405");
	assert_non_null(strstr(c.got, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(c.got, "Allow: POST\r\n"));
	client_close(&c);
}

static void
malformed_requests_get_400_411_413_431(void **state)
{
	static const struct {
		const char *text;
		const char *status;
	} cases[] = {
		{ "GET /\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 400 " },
		{ "G(T / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET / HTTP/1.1\r\nno colon\r\n\r\n", "HTTP/1.1 400 " },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400 " },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 411 " },
		{ "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", "HTTP/1.1 413 " },
		{ "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456789012345678901234567890"
		  "1234567890123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789", "HTTP/1.1 431 " },
	};
	struct fixture *f = *state;
	struct httpd_counts counts;
	struct client c;
	size_t i;

	start(f, 4, 5000, 200, 100);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		client_open(f, &c);
		client_send(&c, cases[i].text);
		pump(f, closed, &c, cases[i].text);
		if (strncmp(c.got, cases[i].status, strlen(cases[i].status)) != 0)
			fail_msg("case %zu: got '%.40s', expected '%s'", i, c.got, cases[i].status);
		client_close(&c);
	}
	httpd_counts(f->h, &counts);
	assert_int_equal(counts.refused, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(counts.requests, 0);
}

static void
more_header_lines_than_the_count_cap_get_431(void **state)
{
	struct httpd_header hdrs[HTTPD_HEADERS_COUNT];
	struct httpd_request req;
	char head[64 + (HTTPD_HEADERS_COUNT + 1) * 8];
	size_t body_len, off, i;

	(void)state;
	off = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1");
	for (i = 0; i < HTTPD_HEADERS_COUNT; i++)
		off += (size_t)snprintf(head + off, sizeof(head) - off, "\r\nX: %zu", i % 10);
	assert_int_equal(httpd_parse_head(head, 0, &req, hdrs, &body_len), 0);
	assert_int_equal(req.nheaders, HTTPD_HEADERS_COUNT);
	off = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1");
	for (i = 0; i <= HTTPD_HEADERS_COUNT; i++)
		off += (size_t)snprintf(head + off, sizeof(head) - off, "\r\nX: %zu", i % 10);
	assert_int_equal(httpd_parse_head(head, 0, &req, hdrs, &body_len), 431);
}

/* Sends one more header byte on every check: the client is never idle. */
static bool
trickle_until_closed(void *arg)
{
	struct client *c = arg;

	if (client_poll(c))
		return true;
	(void)send(c->fd, "x", 1, MSG_NOSIGNAL);
	return false;
}

static void
a_trickling_or_idle_request_gets_408_at_the_deadline(void **state)
{
	struct fixture *f = *state;
	struct httpd_counts counts;
	struct client trickle, idle;

	start(f, 4, 150, 1 << 20, 0);
	client_open(f, &trickle);
	client_open(f, &idle);
	client_send(&trickle, "GET / HTTP/1.1\r\nX-Slow: ");
	pump(f, trickle_until_closed, &trickle, "the trickling client cut off");
	assert_non_null(strstr(trickle.got, "HTTP/1.1 408 Request Timeout\r\n"));
	pump(f, closed, &idle, "the idle client cut off");
	assert_non_null(strstr(idle.got, "HTTP/1.1 408 "));
	httpd_counts(f->h, &counts);
	assert_int_equal(counts.timed_out, 2);
	assert_int_equal(httpd_connections(f->h), 0);
	client_close(&trickle);
	client_close(&idle);
}

static void
at_the_cap_the_oldest_incomplete_request_makes_room(void **state)
{
	struct fixture *f = *state;
	struct httpd_counts counts;
	struct client a, b, c;

	start(f, 2, 60000, 1024, 0);
	client_open(f, &a);
	client_send(&a, "GET / HTTP/1.1\r\n");
	wait_conns(f, 1);
	client_open(f, &b);
	client_send(&b, "GET / HTTP/1.1\r\n");
	wait_conns(f, 2);
	client_open(f, &c);
	client_send(&c, "GET /new HTTP/1.1\r\n\r\n");
	pump(f, closed, &c, "the new request answered");
	assert_non_null(strstr(c.got, "HTTP/1.1 200 OK\r\n"));
	/* The oldest went without an answer; the younger one still waits. */
	pump(f, closed, &a, "the oldest evicted");
	assert_int_equal(a.len, 0);
	assert_false(client_poll(&b));
	httpd_counts(f->h, &counts);
	assert_int_equal(counts.evicted, 1);
	assert_int_equal(counts.busy, 0);
	client_close(&a);
	client_close(&b);
	client_close(&c);
}

struct served {
	struct fixture *f;
	uint64_t n;
};

static bool
requests_reach(void *arg)
{
	struct served *s = arg;
	struct httpd_counts counts;

	httpd_counts(s->f->h, &counts);
	return counts.requests == s->n;
}

static void
at_the_cap_with_every_answer_in_flight_a_newcomer_gets_503(void **state)
{
	struct fixture *f = *state;
	struct served s = { f, 1 };
	struct httpd_counts counts;
	struct client reader, late;
	int small = 4096;

	start(f, 1, 60000, 1024, 0);
	client_open(f, &reader);
	setsockopt(reader.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	client_send(&reader, "GET /big HTTP/1.1\r\n\r\n");
	pump(f, requests_reach, &s, "the big request handled");
	/* reader does not read: its answer stays queued, its slot is not evictable. */
	client_open(f, &late);
	client_send(&late, "GET / HTTP/1.1\r\n\r\n");
	pump(f, closed, &late, "the newcomer refused");
	assert_non_null(strstr(late.got, "HTTP/1.1 503 Service Unavailable\r\n"));
	assert_non_null(strstr(late.got, "Retry-After: 1\r\n"));
	httpd_counts(f->h, &counts);
	assert_int_equal(counts.busy, 1);
	assert_int_equal(counts.evicted, 0);
	/* The reader gone, its slot comes free. */
	client_close(&reader);
	wait_conns(f, 0);
	client_close(&late);
}

static bool
accept_failed(void *arg)
{
	struct fixture *f = arg;
	struct httpd_counts counts;

	httpd_counts(f->h, &counts);
	return counts.accept_errors > 0;
}

static void
an_accept_error_is_counted_told_once_and_accepting_resumes(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, none;
	struct client c;
	char msg[256];
	int lowest;

	start(f, 4, 60000, 1024, 0);
	assert_int_equal(httpd_accept_news(f->h, msg, sizeof(msg)), 0);
	client_open(f, &c);
	/* No descriptor left for the server's accept(): every one below the limit is open. */
	lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	none = old;
	none.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
	pump(f, accept_failed, f, "accept() failing");
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(httpd_accept_news(f->h, msg, sizeof(msg)), 1);
	assert_string_equal(msg, "accept() failed 1 time: Too many open files; accepting paused "
				 "100 ms each time");
	assert_int_equal(httpd_accept_news(f->h, msg, sizeof(msg)), 0);
	/* After the pause the waiting connection is accepted and answered. */
	client_send(&c, "GET / HTTP/1.1\r\n\r\n");
	pump(f, closed, &c, "answered after the pause");
	assert_non_null(strstr(c.got, "HTTP/1.1 200 OK\r\n"));
	client_close(&c);
}

static void
bad_addresses_and_limits_are_refused(void **state)
{
	struct fixture *f = *state;
	struct httpd_limits lim = { 1, 100, 1024, 0, 100 }, zero = { 0, 100, 1024, 0, 100 };
	char err[256];

	assert_null(httpd_start(f->base, "localhost", 0, &lim, handler, f, err, sizeof(err)));
	assert_non_null(strstr(err, "not a numeric address"));
	assert_null(httpd_start(f->base, "127.0.0.1", 0, &zero, handler, f, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid limits"));
}

int
main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(hands_the_handler_the_whole_request),
		T(malformed_requests_get_400_411_413_431),
		T(more_header_lines_than_the_count_cap_get_431),
		T(a_trickling_or_idle_request_gets_408_at_the_deadline),
		T(at_the_cap_the_oldest_incomplete_request_makes_room),
		T(at_the_cap_with_every_answer_in_flight_a_newcomer_gets_503),
		T(an_accept_error_is_counted_told_once_and_accepting_resumes),
		T(bad_addresses_and_limits_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
