/*
 * Fuzz target: what a node sends back to the monitor — the reply framing of
 * monitor/mcconn.h (mcconn_frame) and the parsing of an admin poll into a node's
 * stats (monitor/nodestats.h) and its storm sample (monitor/watch.h watch_poll).
 *
 * The first byte picks the reply kind; the rest is the reply. Beyond "does not
 * crash", it checks the contracts: a complete reply lies within the input and ends
 * with a newline; framing a prefix of a complete reply never claims a different
 * reply; a poll either succeeds or is counted as failed with an error text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/mcconn.h"
#include "monitor/monconfig.h"
#include "monitor/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_text[] =
    "[monitor]\nstorm_warmup = 0\n[cluster c1]\n"
    "[node n1]\ncluster = c1\nclient = 127.0.0.1:1\nadmin = 127.0.0.1:2\n";

/* Built once: the watch's tail windows are too large to make per input. */
static struct watch *
the_watch(void)
{
	static struct monconfig cfg;
	static struct watch w;
	static int ready;
	struct config_errors errs = { 0 };
	char err[256];

	if (!ready) {
		if (monconfig_load_string(&cfg, "fuzz.conf", config_text, &errs) < 0 ||
		    watch_init(&w, &cfg, NULL, err, sizeof(err)) < 0)
			abort();
		config_errors_release(&errs);
		ready = 1;
	}
	return &w;
}

static void
check_frame(const char *text, size_t len, enum mcconn_reply_kind kind)
{
	size_t rlen, plen;
	bool error_line, perror_line;
	int rc = mcconn_frame(text, len, kind, &rlen, &error_line);

	if (rc < -1 || rc > 1)
		abort();
	if (rc != 1)
		return;
	if (rlen == 0 || rlen > len || rlen > MCCONN_REPLY_MAX || text[rlen - 1] != '\n')
		abort();
	/* The same reply with nothing after it frames the same. */
	if (mcconn_frame(text, rlen, kind, &plen, &perror_line) != 1 || plen != rlen ||
	    perror_line != error_line)
		abort();
	/* A strict prefix is never complete at a different length. */
	if (rlen > 1 && mcconn_frame(text, rlen - 1, kind, &plen, &perror_line) == 1 &&
	    plen >= rlen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int64_t now = 1000000;
	struct watch *w = the_watch();
	struct watch_node *n = &w->nodes[0];
	uint64_t failed;

	if (size < 1)
		return 0;
	check_frame((const char *)data + 1, size - 1, (enum mcconn_reply_kind)(data[0] % 3));
	failed = n->polls_failed;
	now += 1000;
	watch_poll(w, n, (const char *)data + 1, size - 1, 100, now);
	if (n->poll_ok == (n->polls_failed != failed))
		abort();
	if (!n->poll_ok && n->poll_error[0] == '\0')
		abort();
	return 0;
}
