/*
 * Unit tests of lib/mcclient against a scripted loopback server: replies split
 * across packets, VALUE blocks holding "END", errors, a server that never answers,
 * one that hangs up, an oversized reply; and the STAT parser on its own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "mcclient.h"

/* The timeout of every exchange here that is not about a timeout: far above what a
 * loopback exchange takes on a busy machine, so only a hang reaches it. */
#define TIMEOUT_MS 10000

/* The server: accepts one connection, reads one request (up to its expected
 * length), then sends each chunk with a short pause, then closes (or holds the
 * connection until the client closes it). */
struct script {
	int lfd;
	uint16_t port;
	size_t request_len;        /* bytes to read before answering */
	const char *chunks[4];
	size_t big;                /* if non-zero: send this many bytes of STAT lines */
	bool hold;                 /* keep the connection open until the client closes it */
	char request[4096];
	pthread_t thread;
};

static void *
serve(void *arg)
{
	struct script *s = arg;
	size_t got = 0, i;
	ssize_t r;
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (got < s->request_len && got < sizeof(s->request) - 1) {
		r = read(fd, s->request + got, s->request_len - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	s->request[got] = '\0';
	for (i = 0; i < 4 && s->chunks[i] != NULL; i++) {
		if (send(fd, s->chunks[i], strlen(s->chunks[i]), MSG_NOSIGNAL) < 0)
			break;
		usleep(20000);
	}
	if (s->big != 0) {
		char *b = malloc(s->big);
		size_t off;
		/* Well-formed lines: it is the whole reply that is too large. */
		for (off = 0; off < s->big; off++)
			b[off] = "STAT x 1234567\r\n"[off % 16];
		(void)send(fd, b, s->big, MSG_NOSIGNAL);
		free(b);
	}
	if (s->hold) {
		char c;

		while (read(fd, &c, 1) > 0)
			;
	}
	close(fd);
	return NULL;
}

static void
start(struct script *s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 1), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sin, &sl), 0);
	s->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void
finish(struct script *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

static void
reply_split_across_packets_with_end_inside_a_value(void **state)
{
	struct script s = { .request_len = 9, .chunks = { "VALUE k 0 5\r\nE", "ND\r\n\r\nVAL",
		"UE j 1 0\r\n\r\nEN", "D\r\n" } };
	struct mcclient c;
	const char *reply, *last;
	char err[256];
	(void)state;

	start(&s);
	assert_int_equal(mcclient_connect(&c, "127.0.0.1", s.port, TIMEOUT_MS, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(mcclient_command(&c, "get k j", &reply, &last, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_string_equal(s.request, "get k j\r\n");
	assert_string_equal(last, "END");
	assert_string_equal(reply, "VALUE k 0 5\r\nEND\r\n\r\nVALUE j 1 0\r\n\r\nEND");
	mcclient_close(&c);
	finish(&s);
}

static void
auth_sends_the_set_and_reports_a_refusal(void **state)
{
	struct script ok = { .request_len = 25, .chunks = { "STORED\r\n" } };
	struct script bad = { .request_len = 25,
		.chunks = { "CLIENT_ERROR authentication failure\r\n" } };
	struct mcclient c;
	char err[256];
	(void)state;

	start(&ok);
	assert_int_equal(mcclient_connect(&c, "localhost", ok.port, TIMEOUT_MS, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(mcclient_auth(&c, "ops", "hunter22", err, sizeof(err)), MCCLIENT_OK);
	assert_string_equal(ok.request, "set ops 0 0 8\r\nhunter22\r\n");
	mcclient_close(&c);
	finish(&ok);

	start(&bad);
	assert_int_equal(mcclient_connect(&c, "127.0.0.1", bad.port, TIMEOUT_MS, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(mcclient_auth(&c, "ops", "wrongpwd", err, sizeof(err)),
	    MCCLIENT_ERR_REPLY);
	assert_non_null(strstr(err, "authentication as 'ops' failed: CLIENT_ERROR "
				    "authentication failure"));
	assert_null(strstr(err, "wrongpwd"));
	assert_int_equal(mcclient_auth(&c, "o ps", "x", err, sizeof(err)), MCCLIENT_ERR_ARG);
	mcclient_close(&c);
	finish(&bad);
}

static void
server_errors_are_replies_with_their_line(void **state)
{
	struct script s = { .request_len = 19, .chunks = { "CLIENT_ERROR no such tenant\r\n" } };
	struct mcclient c;
	const char *last = NULL;
	char err[256];
	(void)state;

	start(&s);
	assert_int_equal(mcclient_connect(&c, "127.0.0.1", s.port, TIMEOUT_MS, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(mcclient_command(&c, "flush_tenant nope", NULL, &last, err,
	    sizeof(err)), MCCLIENT_ERR_REPLY);
	assert_string_equal(last, "CLIENT_ERROR no such tenant");
	assert_non_null(strstr(err, ": CLIENT_ERROR no such tenant"));
	/* Abuse: a line with CRLF inside could smuggle a second command. */
	assert_int_equal(mcclient_command(&c, "version\r\nflush_all", NULL, NULL, err,
	    sizeof(err)), MCCLIENT_ERR_ARG);
	mcclient_close(&c);
	finish(&s);
}

static void
silence_times_out_and_hangup_is_reported(void **state)
{
	/* Silent until the client gives up: its timeout is what ends the exchange, however
	 * slowly this machine runs the two threads. */
	struct script quiet = { .request_len = 9, .hold = true };
	struct script hangup = { .request_len = 9, .chunks = { "STAT pid 1\r\n" } };
	struct mcclient c;
	char err[256];
	(void)state;

	start(&quiet);
	assert_int_equal(mcclient_connect(&c, "127.0.0.1", quiet.port, 300, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(mcclient_command(&c, "version", NULL, NULL, err, sizeof(err)),
	    MCCLIENT_ERR_IO);
	assert_non_null(strstr(err, "no reply within 300 ms"));
	mcclient_close(&c);
	finish(&quiet);

	start(&hangup);
	assert_int_equal(mcclient_connect(&c, "127.0.0.1", hangup.port, TIMEOUT_MS, err,
	    sizeof(err)), MCCLIENT_OK);
	assert_int_equal(mcclient_command(&c, "stats x", NULL, NULL, err, sizeof(err)),
	    MCCLIENT_ERR_IO);
	assert_non_null(strstr(err, "connection closed by the server in the middle of a reply"));
	mcclient_close(&c);
	finish(&hangup);
}

static void
oversized_reply_is_refused(void **state)
{
	struct script s = { .request_len = 7, .big = MCCLIENT_REPLY_MAX + 10 };
	struct mcclient c;
	char err[256];
	(void)state;

	start(&s);
	assert_int_equal(mcclient_connect(&c, "127.0.0.1", s.port, TIMEOUT_MS, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(mcclient_command(&c, "stats", NULL, NULL, err, sizeof(err)),
	    MCCLIENT_ERR_PROTO);
	assert_non_null(strstr(err, "reply larger than"));
	mcclient_close(&c);
	finish(&s);
}

static void
connect_to_a_closed_port_fails_cleanly(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	struct mcclient c;
	char err[256];
	int fd;
	(void)state;

	/* A port that was just free: bind without listening, learn it, close. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	assert_int_equal(mcclient_connect(&c, "127.0.0.1", ntohs(sin.sin_port), TIMEOUT_MS, err,
	    sizeof(err)), MCCLIENT_ERR_IO);
	assert_non_null(strstr(err, "connect: Connection refused"));
	mcclient_close(&c); /* safe after a failed connect */
	assert_int_equal(mcclient_command(&c, "version", NULL, NULL, err, sizeof(err)),
	    MCCLIENT_ERR_IO);
}

static void
stats_lines_parse_with_spaces_in_values(void **state)
{
	static const char text[] = "STAT pid 42\r\nSTAT version 1.6.18 mcops\r\n"
				   "STAT tenant:acme:bytes 0\r\nEND\r\n";
	struct mcclient_stats st = { 0 };
	char err[256];
	(void)state;

	assert_int_equal(mcclient_parse_stats(text, sizeof(text) - 1, &st, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(st.n, 3);
	assert_string_equal(mcclient_stats_get(&st, "pid"), "42");
	assert_string_equal(mcclient_stats_get(&st, "version"), "1.6.18 mcops");
	assert_string_equal(mcclient_stats_get(&st, "tenant:acme:bytes"), "0");
	assert_null(mcclient_stats_get(&st, "uptime"));
	mcclient_stats_release(&st);
	/* The final END may come without its line end (as mcclient_command leaves it). */
	assert_int_equal(mcclient_parse_stats("STAT a 1\r\nEND", 13, &st, err, sizeof(err)),
	    MCCLIENT_OK);
	assert_int_equal(st.n, 1);
	mcclient_stats_release(&st);
}

static void
malformed_stats_are_refused(void **state)
{
	static const char *const bad[] = {
		"STAT a 1\r\n",                 /* no END */
		"STAT a\r\nEND\r\n",            /* no value */
		"STAT  1\r\nEND\r\n",           /* empty name */
		"VALUE a 0 1\r\nx\r\nEND\r\n",  /* not stats */
		"STAT a\tb 1\r\nEND\r\n",        /* control character in a name */
		"",
	};
	struct mcclient_stats st = { 0 };
	char err[256], longline[600];
	size_t i;
	(void)state;

	assert_int_equal(mcclient_parse_stats("STAT \0a 1\r\nEND\r\n", 17, &st, err,
	    sizeof(err)), MCCLIENT_ERR_PROTO);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mcclient_parse_stats(bad[i], strlen(bad[i]), &st, err,
		    sizeof(err)), MCCLIENT_ERR_PROTO);
		assert_int_equal(st.n, 0);
	}
	snprintf(longline, sizeof(longline), "STAT k %0400d\r\nEND\r\n", 7);
	assert_int_equal(mcclient_parse_stats(longline, strlen(longline), &st, err, sizeof(err)),
	    MCCLIENT_ERR_PROTO);
	assert_non_null(strstr(err, "too long"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reply_split_across_packets_with_end_inside_a_value),
		cmocka_unit_test(auth_sends_the_set_and_reports_a_refusal),
		cmocka_unit_test(server_errors_are_replies_with_their_line),
		cmocka_unit_test(silence_times_out_and_hangup_is_reported),
		cmocka_unit_test(oversized_reply_is_refused),
		cmocka_unit_test(connect_to_a_closed_port_fails_cleanly),
		cmocka_unit_test(stats_lines_parse_with_spaces_in_values),
		cmocka_unit_test(malformed_stats_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
