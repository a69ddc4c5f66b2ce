/*
 * Fuzz target: the reply framer and STAT iterator of lib/mcreply.h, which every
 * reader of memcache replies (mctl's client, the monitor's connections) goes through.
 *
 * The first byte picks the reply kind; the rest is the reply. Beyond "does not
 * crash", it checks the contracts: a complete reply lies within the input, ends with
 * a newline and its terminal line inside it; framing it alone gives the same answer; a
 * strict prefix is never complete at a greater length; a malformed reply says why; a
 * framed stats reply iterates to END with names that are non-empty, without spaces,
 * within the reply, and reaches END when its malformed lines are skipped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_stats(const char *text, size_t len)
{
	struct mcreply_stats_iter it;
	struct mcreply_stat s;
	int rc;

	mcreply_stats_begin(&it, text, len);
	while ((rc = mcreply_stats_next(&it, &s)) == 1) {
		if (s.name_len == 0 || memchr(s.name, ' ', s.name_len) != NULL ||
		    s.name < text || s.value + s.value_len > text + len)
			abort();
	}
	if (rc == -1 && it.why[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	struct mcreply_frame f, g;
	enum mcreply_kind kind;
	enum mcreply_status rc;
	size_t len;

	if (size < 1)
		return 0;
	kind = (enum mcreply_kind)(data[0] % 5);
	len = size - 1;
	rc = mcreply_frame(text, len, kind, &f);
	if (rc == MCREPLY_MALFORMED && f.why[0] == '\0')
		abort();
	check_stats(text, len);
	if (rc != MCREPLY_COMPLETE)
		return 0;
	if (f.len == 0 || f.len > len || f.len > MCREPLY_MAX || text[f.len - 1] != '\n' ||
	    f.last_off + f.last_len >= f.len)
		abort();
	if (f.error != mcreply_is_error_line(text + f.last_off, f.last_len))
		abort();
	if (mcreply_frame(text, f.len, kind, &g) != MCREPLY_COMPLETE || g.len != f.len ||
	    g.error != f.error || g.last_off != f.last_off)
		abort();
	if (f.len > 1 && mcreply_frame(text, f.len - 1, kind, &g) == MCREPLY_COMPLETE &&
	    g.len >= f.len)
		abort();
	/* A stats reply that is not an error iterates to its END, and skipping its
	 * malformed lines always gets there. */
	if (kind == MCREPLY_STATS && !f.error) {
		struct mcreply_stats_iter it;
		struct mcreply_stat s;
		int n;
		mcreply_stats_begin(&it, text, f.len);
		while ((n = mcreply_stats_next(&it, &s)) == 1)
			;
		if (n == -1 && strcmp(it.why, "holds control characters") != 0 &&
		    strcmp(it.why, "has no name and value") != 0)
			abort();
		mcreply_stats_begin(&it, text, f.len);
		while ((n = mcreply_stats_next(&it, &s)) == 1 || mcreply_stats_skip(&it))
			;
		if (n != 0)
			abort();
	}
	return 0;
}
