/*
 * Unit tests of monitor/mcconn against a small scripted server on the same event
 * loop: authentication, persistence, deadlines, resets, malformed and extra replies,
 * busy and freed connections. (The framing itself is lib/mcreply's: test_mcreply.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "clock.h"
#include "monitor/mcconn.h"

/* --- a scripted server ------------------------------------------------------------ */

#define PASSWORD "s3cret-pw"
/* The timeout of every request here that is not about a timeout: far above what a
 * loopback exchange takes on a busy machine, so only a hang reaches it. */
#define TIMEOUT_MS 10000
#define WAIT_DONE_S 30

struct server {
	struct evconnlistener *listener;
	uint16_t port;
	int accepted;
	struct bufferevent *last; /* the latest connection, for closing it from a test */
};

struct client {
	int calls;
	struct mcconn_result r;
	char reply[4096];
	char error[MCCONN_ERROR_MAX];
	struct event_base *base;
};

/* Answers each complete command by its first word (see the tests). */
static void
server_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
	char *line;
	size_t n;

	(void)arg;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (strncmp(line, "set ", 4) == 0) {
			char *data = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
			if (data == NULL) {
				/* Wait for the data line: put the command back. */
				evbuffer_prepend(in, "\r\n", 2);
				evbuffer_prepend(in, line, strlen(line));
				free(line);
				return;
			}
			if (strncmp(line, "set ops ", 8) != 0 || strcmp(data, PASSWORD) == 0)
				evbuffer_add_printf(out, "STORED\r\n");
			else
				evbuffer_add_printf(out, "CLIENT_ERROR authentication failure\r\n");
			free(data);
		} else if (strcmp(line, "stats") == 0) {
			evbuffer_add_printf(out, "STAT pid 1\r\nEND\r\n");
		} else if (strncmp(line, "get ", 4) == 0) {
			evbuffer_add_printf(out, "VALUE k 0 2\r\nhi\r\nEND\r\n");
		} else if (strcmp(line, "junk") == 0) {
			evbuffer_add_printf(out, "NOT A STAT\r\n");
		} else if (strcmp(line, "fail") == 0) {
			evbuffer_add_printf(out, "SERVER_ERROR out of memory\r\n");
		} else if (strcmp(line, "extra") == 0) {
			evbuffer_add_printf(out, "STAT a 1\r\nEND\r\nSTAT b 2\r\nEND\r\n");
		} else if (strcmp(line, "bye") == 0) {
			free(line);
			bufferevent_free(bev);
			return;
		} /* "hang": no answer */
		free(line);
	}
}

static void
server_event(struct bufferevent *bev, short what, void *arg)
{
	struct server *s = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s->last == bev)
			s->last = NULL;
		bufferevent_free(bev);
	}
}

static void
server_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
    void *arg)
{
	struct server *s = arg;
	struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);

	(void)sa;
	(void)len;
	s->accepted++;
	s->last = bev;
	bufferevent_setcb(bev, server_read, NULL, server_event, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
server_start(struct event_base *base, struct server *s)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(s, 0, sizeof(*s));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->listener = evconnlistener_new_bind(base, server_accept, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16, (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(s->listener);
	getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&sin, &sl);
	s->port = ntohs(sin.sin_port);
}

static void
on_done(void *arg, const struct mcconn_result *r)
{
	struct client *c = arg;

	c->calls++;
	c->r = *r;
	snprintf(c->reply, sizeof(c->reply), "%.*s", (int)r->reply_len,
	    r->reply != NULL ? r->reply : "");
	snprintf(c->error, sizeof(c->error), "%s", r->error);
	c->r.reply = NULL;
	c->r.error = c->error;
	event_base_loopbreak(c->base);
}

/* Runs the loop until the callback (or WAIT_DONE_S, beyond every TIMEOUT_MS). */
static void
wait_done(struct client *c, int calls)
{
	struct timeval limit = { WAIT_DONE_S, 0 };

	while (c->calls < calls) {
		event_base_loopexit(c->base, &limit);
		event_base_dispatch(c->base);
		if (c->calls < calls)
			fail_msg("no callback within %d s", WAIT_DONE_S);
	}
}

struct live {
	struct event_base *base;
	struct server server;
	struct client client;
	struct mcconn *conn;
};

static int
live_setup(void **state)
{
	struct live *lv = calloc(1, sizeof(*lv));

	lv->base = event_base_new();
	server_start(lv->base, &lv->server);
	lv->client.base = lv->base;
	*state = lv;
	return 0;
}

static int
live_teardown(void **state)
{
	struct live *lv = *state;

	mcconn_free(lv->conn);
	if (lv->server.last != NULL)
		bufferevent_free(lv->server.last);
	evconnlistener_free(lv->server.listener);
	event_base_free(lv->base);
	free(lv);
	return 0;
}

static struct mcconn *
connect_as(struct live *lv, uint16_t port, const char *user, const char *password)
{
	struct mcconn_target t = { "127.0.0.1", port, user, password, TIMEOUT_MS };
	char err[MCCONN_ERROR_MAX];
	struct mcconn *c = mcconn_new(lv->base, NULL, &t, on_done, &lv->client, err, sizeof(err));

	assert_non_null(c);
	return c;
}

static int
send_line(struct live *lv, const char *line, enum mcreply_kind kind, int timeout_ms)
{
	char err[MCCONN_ERROR_MAX];

	return mcconn_request(lv->conn, line, strlen(line), kind, 1, timeout_ms, err, sizeof(err));
}

static void
authenticated_requests_share_one_persistent_connection(void **state)
{
	struct live *lv = *state;

	lv->conn = connect_as(lv, lv->server.port, "ops", PASSWORD);
	assert_int_equal(send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS), 0);
	/* The outcome comes from the loop, never from inside the request call. */
	assert_int_equal(lv->client.calls, 0);
	assert_true(mcconn_busy(lv->conn));
	wait_done(&lv->client, 1);
	assert_int_equal(lv->client.r.status, MCCONN_OK);
	assert_string_equal(lv->client.reply, "STAT pid 1\r\nEND\r\n");
	/* Within the request's timeout, or it would have been one: no bound on how fast the
	 * machine is. */
	assert_true(lv->client.r.latency_us >= 0 &&
	    lv->client.r.latency_us < (int64_t)TIMEOUT_MS * 1000);
	assert_true(mcconn_ready(lv->conn));
	assert_int_equal(send_line(lv, "get k\r\n", MCREPLY_GET, TIMEOUT_MS), 0);
	wait_done(&lv->client, 2);
	assert_int_equal(lv->client.r.status, MCCONN_OK);
	assert_string_equal(lv->client.reply, "VALUE k 0 2\r\nhi\r\nEND\r\n");
	assert_int_equal(mcconn_connects(lv->conn), 1);
	assert_int_equal(lv->server.accepted, 1);
}

static void
a_refused_account_is_an_auth_failure_without_the_password(void **state)
{
	struct live *lv = *state;

	lv->conn = connect_as(lv, lv->server.port, "ops", "wrong-password");
	send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 1);
	assert_int_equal(lv->client.r.status, MCCONN_ERR_AUTH);
	assert_string_equal(lv->client.error,
	    "authentication as ops refused: CLIENT_ERROR authentication failure");
	assert_null(strstr(lv->client.error, "wrong-password"));
	assert_false(mcconn_ready(lv->conn));
}

static void
a_refused_connection_is_reported_from_the_loop(void **state)
{
	struct live *lv = *state;
	struct server gone;

	/* A port that was listening a moment ago and is closed now. */
	server_start(lv->base, &gone);
	evconnlistener_free(gone.listener);
	lv->conn = connect_as(lv, gone.port, NULL, NULL);
	assert_int_equal(send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS), 0);
	assert_int_equal(lv->client.calls, 0);
	wait_done(&lv->client, 1);
	assert_int_equal(lv->client.r.status, MCCONN_ERR_CONNECT);
	assert_non_null(strstr(lv->client.error, "refused"));
	/* Retried on the next request, not before. */
	assert_int_equal(mcconn_connect_attempts(lv->conn), 1);
	send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 2);
	assert_int_equal(mcconn_connect_attempts(lv->conn), 2);
	assert_int_equal(mcconn_connects(lv->conn), 0);
}

static void
no_reply_times_out_at_the_deadline_and_the_next_request_reconnects(void **state)
{
	struct live *lv = *state;

	lv->conn = connect_as(lv, lv->server.port, "ops", PASSWORD);
	send_line(lv, "hang\r\n", MCREPLY_LINE, 150);
	wait_done(&lv->client, 1);
	assert_int_equal(lv->client.r.status, MCCONN_ERR_TIMEOUT);
	assert_int_equal(lv->client.r.latency_us, 150000);
	assert_string_equal(lv->client.error, "no reply within 150 ms");
	assert_false(mcconn_busy(lv->conn));
	send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 2);
	assert_int_equal(lv->client.r.status, MCCONN_OK);
	assert_int_equal(mcconn_connects(lv->conn), 2);
}

static void
a_closed_connection_malformed_and_extra_replies_fail_the_request(void **state)
{
	struct live *lv = *state;

	lv->conn = connect_as(lv, lv->server.port, NULL, NULL);
	send_line(lv, "bye\r\n", MCREPLY_LINE, TIMEOUT_MS);
	wait_done(&lv->client, 1);
	assert_int_equal(lv->client.r.status, MCCONN_ERR_CLOSED);
	assert_string_equal(lv->client.error, "closed by the server");

	send_line(lv, "junk\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 2);
	assert_int_equal(lv->client.r.status, MCCONN_ERR_PROTO);
	assert_string_equal(lv->client.error, "malformed reply");

	send_line(lv, "extra\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 3);
	/* Either the extra bytes came with the reply or just after it: never the next
	 * request's answer. */
	if (lv->client.r.status == MCCONN_OK) {
		send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS);
		wait_done(&lv->client, 4);
		assert_int_not_equal(lv->client.r.status, MCCONN_OK);
	} else {
		assert_int_equal(lv->client.r.status, MCCONN_ERR_PROTO);
		assert_non_null(strstr(lv->client.error, "unexpected bytes"));
	}
	assert_true(mcconn_connects(lv->conn) >= 3);
}

static void
an_error_reply_keeps_the_connection(void **state)
{
	struct live *lv = *state;

	lv->conn = connect_as(lv, lv->server.port, "ops", PASSWORD);
	send_line(lv, "fail\r\n", MCREPLY_LINE, TIMEOUT_MS);
	wait_done(&lv->client, 1);
	assert_int_equal(lv->client.r.status, MCCONN_ERR_REPLY);
	assert_string_equal(lv->client.error, "SERVER_ERROR out of memory");
	assert_string_equal(lv->client.reply, "SERVER_ERROR out of memory\r\n");
	send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 2);
	assert_int_equal(lv->client.r.status, MCCONN_OK);
	assert_int_equal(mcconn_connects(lv->conn), 1);
}

static void
busy_and_invalid_requests_are_refused_and_free_drops_the_callback(void **state)
{
	struct live *lv = *state;
	char err[MCCONN_ERROR_MAX], big[MCCONN_REQUEST_MAX + 1];
	struct timeval short_run = { 0, 200000 };

	lv->conn = connect_as(lv, lv->server.port, NULL, NULL);
	memset(big, 'x', sizeof(big));
	assert_int_equal(mcconn_request(lv->conn, big, sizeof(big), MCREPLY_LINE, 1, 100,
	    err, sizeof(err)), -1);
	assert_int_equal(mcconn_request(lv->conn, "stats\r\n", 7, MCREPLY_STATS, 0, 100, err,
	    sizeof(err)), -1);
	assert_int_equal(mcconn_request(lv->conn, "stats\r\n", 7, MCREPLY_STATS, 1, 0, err,
	    sizeof(err)), -1);
	assert_int_equal(send_line(lv, "hang\r\n", MCREPLY_LINE, 100), 0);
	assert_int_equal(mcconn_request(lv->conn, "stats\r\n", 7, MCREPLY_STATS, 1, 100, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "a request is in flight");
	mcconn_free(lv->conn);
	lv->conn = NULL;
	event_base_loopexit(lv->base, &short_run);
	event_base_dispatch(lv->base);
	assert_int_equal(lv->client.calls, 0);
}

static void
an_idle_connection_closed_by_the_server_is_reopened(void **state)
{
	struct live *lv = *state;
	struct timeval short_run = { 0, 100000 };

	lv->conn = connect_as(lv, lv->server.port, "ops", PASSWORD);
	send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 1);
	assert_non_null(lv->server.last);
	bufferevent_free(lv->server.last);
	lv->server.last = NULL;
	event_base_loopexit(lv->base, &short_run);
	event_base_dispatch(lv->base);
	send_line(lv, "stats\r\n", MCREPLY_STATS, TIMEOUT_MS);
	wait_done(&lv->client, 2);
	assert_int_equal(lv->client.r.status, MCCONN_OK);
	assert_int_equal(mcconn_connects(lv->conn), 2);
}

/* A server on a thread of its own, so that it answers while the test's loop stands
 * still: accepts one connection and answers every line at once. */
struct eager_server {
	int listen_fd;
	uint16_t port;
	pthread_t thread;
	int replied[2]; /* a byte written after each reply has gone out */
};

static void *
eager_serve(void *arg)
{
	struct eager_server *es = arg;
	char buf[256];
	ssize_t n, i;
	int fd = accept(es->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] == '\n' && (write(fd, "VERSION 1\r\n", 11) != 11 ||
			    write(es->replied[1], "r", 1) != 1))
				break;
	}
	close(fd);
	return NULL;
}

static void
eager_start(struct eager_server *es)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	es->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(es->listen_fd >= 0);
	assert_int_equal(bind(es->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(es->listen_fd, 1), 0);
	assert_int_equal(getsockname(es->listen_fd, (struct sockaddr *)&sin, &len), 0);
	es->port = ntohs(sin.sin_port);
	assert_int_equal(pipe2(es->replied, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&es->thread, NULL, eager_serve, es), 0);
}

/* Waits for the eager server to say it has written a reply; fails after 10 s. */
static void
eager_wait_replied(struct eager_server *es)
{
	struct pollfd pfd = { es->replied[0], POLLIN, 0 };
	char c;

	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(read(es->replied[0], &c, 1), 1);
}

/*
 * The kernel turns receive stamps on for the whole host lazily, some time after the
 * first socket asks for them (a deferred switch); until then a stamp is taken when the
 * data is read, and a reply read after a stall would carry the stall. This waits until
 * stamps are on: a byte sent over loopback and read after a pause must carry a stamp
 * from before the read began. *pair keeps stamping asked for until the test closes it.
 */
static void
wait_for_receive_stamps(int pair[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int lfd, one = 1, i;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	pair[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(pair[0] >= 0);
	assert_int_equal(connect(pair[0], (struct sockaddr *)&sin, sizeof(sin)), 0);
	pair[1] = accept(lfd, NULL, NULL);
	assert_true(pair[1] >= 0);
	close(lfd);
	assert_int_equal(setsockopt(pair[1], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
	for (i = 0; i < 500; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct timespec))];
			struct cmsghdr align;
		} control;
		char c;
		struct iovec iov = { &c, 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
		struct cmsghdr *cm;
		struct timespec ts = { 0, 0 };
		int64_t reading;

		assert_int_equal(write(pair[0], "s", 1), 1);
		usleep(20 * 1000);
		reading = clock_now_ns(CLOCK_REALTIME);
		assert_int_equal(recvmsg(pair[1], &msg, 0), 1);
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		if (ts.tv_sec != 0 && clock_timespec_ns(&ts) < reading)
			return;
	}
	fail_msg("the kernel never stamped a received byte on arrival");
}

/*
 * The latency is when the reply reached this host, not when the loop came round to
 * read it: a reply that arrives while the loop is busy (here: not running for 300 ms
 * after the reply was written) is measured at its arrival. No bound on how fast the
 * machine is: the server thread says when its reply has gone out (loopback delivers
 * it inside that write), and the measure must fit between the send and that moment,
 * which the stall comes after. The loop's own measure would include the stall.
 */
static void
a_reply_waiting_while_the_loop_is_busy_is_timed_by_its_arrival(void **state)
{
	struct live *lv = *state;
	struct eager_server es;
	struct mcconn_target t = { "127.0.0.1", 0, NULL, NULL, 10000 };
	char err[MCCONN_ERROR_MAX];
	int64_t before, replied;
	int stamping[2];

	wait_for_receive_stamps(stamping);
	eager_start(&es);
	t.port = es.port;
	lv->conn = mcconn_new(lv->base, NULL, &t, on_done, &lv->client, err, sizeof(err));
	assert_non_null(lv->conn);
	assert_int_equal(send_line(lv, "version\r\n", MCREPLY_LINE, 10000), 0);
	wait_done(&lv->client, 1);
	assert_int_equal(lv->client.r.status, MCCONN_OK);
	eager_wait_replied(&es);
	/* Connected: this request goes out now; the loop then stands still. */
	before = clock_now_ns(CLOCK_MONOTONIC);
	assert_int_equal(send_line(lv, "version\r\n", MCREPLY_LINE, 10000), 0);
	eager_wait_replied(&es);
	replied = clock_now_ns(CLOCK_MONOTONIC);
	usleep(300 * 1000);
	wait_done(&lv->client, 2);
	assert_int_equal(lv->client.r.status, MCCONN_OK);
	assert_string_equal(lv->client.reply, "VERSION 1\r\n");
	/* 1 ms of slack: the kernel's stamp is on the wall clock, this test's on the
	 * monotonic one; the stall is 300 times that. */
	assert_true(lv->client.r.latency_us * 1000 <= replied - before + 1000000);
	mcconn_free(lv->conn); /* closes the connection: the server thread ends */
	lv->conn = NULL;
	pthread_join(es.thread, NULL);
	close(es.listen_fd);
	close(es.replied[0]);
	close(es.replied[1]);
	close(stamping[0]);
	close(stamping[1]);
}

static void
invalid_targets_are_refused(void **state)
{
	struct live *lv = *state;
	struct mcconn_target t = { "127.0.0.1", 0, NULL, NULL, 1000 };
	char err[MCCONN_ERROR_MAX];

	assert_null(mcconn_new(lv->base, NULL, &t, on_done, &lv->client, err, sizeof(err)));
	t.port = 1;
	t.user = "ops";
	assert_null(mcconn_new(lv->base, NULL, &t, on_done, &lv->client, err, sizeof(err)));
	assert_string_equal(err, "invalid account");
	t.user = NULL;
	t.connect_timeout_ms = 0;
	assert_null(mcconn_new(lv->base, NULL, &t, on_done, &lv->client, err, sizeof(err)));
	t.connect_timeout_ms = 100;
	t.host = "";
	assert_null(mcconn_new(lv->base, NULL, &t, on_done, &lv->client, err, sizeof(err)));
	assert_string_equal(mcconn_status_name(MCCONN_ERR_TIMEOUT), "timeout");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define LIVE(t) cmocka_unit_test_setup_teardown(t, live_setup, live_teardown)
		LIVE(authenticated_requests_share_one_persistent_connection),
		LIVE(a_refused_account_is_an_auth_failure_without_the_password),
		LIVE(a_refused_connection_is_reported_from_the_loop),
		LIVE(no_reply_times_out_at_the_deadline_and_the_next_request_reconnects),
		LIVE(a_closed_connection_malformed_and_extra_replies_fail_the_request),
		LIVE(an_error_reply_keeps_the_connection),
		LIVE(busy_and_invalid_requests_are_refused_and_free_drops_the_callback),
		LIVE(an_idle_connection_closed_by_the_server_is_reopened),
		LIVE(invalid_targets_are_refused),
		LIVE(a_reply_waiting_while_the_loop_is_busy_is_timed_by_its_arrival),
#undef LIVE
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
