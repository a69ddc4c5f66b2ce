/*
 * Fuzz target: what a node sends back to the monitor — the parsing of an admin poll
 * into a node's stats (monitor/nodestats.h) and its storm sample (monitor/watch.h
 * watch_poll). The framing of replies is lib/mcreply's, fuzzed by fuzz_mcreply.c.
 *
 * The first byte is skipped (the corpus keeps its kind byte); the rest is the reply.
 * Beyond "does not crash", it checks the contract: a poll either succeeds or is
 * counted as failed with an error text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int64_t now = 1000000;
	struct watch *w = the_watch();
	struct watch_node *n = &w->nodes[0];
	uint64_t failed;

	if (size < 1)
		return 0;
	failed = n->polls_failed;
	now += 1000;
	watch_poll(w, n, (const char *)data + 1, size - 1, 100, now);
	if (n->poll_ok == (n->polls_failed != failed))
		abort();
	if (!n->poll_ok && n->poll_error[0] == '\0')
		abort();
	return 0;
}
