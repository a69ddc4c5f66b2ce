/*
 * nodestats — see nodestats.h.
 */
#include <stdio.h>
#include <string.h>

#include "mcreply.h"
#include "nodestats.h"
#include "parse.h"

#define ERROR_SHOWN_MAX 100 /* bytes of a bad reply quoted in the error */

static const char *const tcp_states[NODESTATS_TCP_STATES] = {
	"established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
	"close", "close_wait", "last_ack", "listen", "closing", "new_syn_recv",
};

static const char *const listener_names[NODESTATS_LISTENERS] = { "client", "tls", "admin" };

const char *
nodestats_tcp_state_name(size_t i)
{
	return i < NODESTATS_TCP_STATES ? tcp_states[i] : "unknown";
}

const char *
nodestats_listener_name(enum nodestats_listener l)
{
	return (size_t)l < NODESTATS_LISTENERS ? listener_names[l] : "unknown";
}

static const struct {
	const char *name;
	size_t offset;
} stat_fields[] = {
	{ "uptime", offsetof(struct nodestats, uptime) },
	{ "curr_connections", offsetof(struct nodestats, curr_connections) },
	{ "total_connections", offsetof(struct nodestats, total_connections) },
	{ "rejected_connections", offsetof(struct nodestats, rejected_connections) },
	{ "max_connections", offsetof(struct nodestats, max_connections) },
	{ "conn_yields", offsetof(struct nodestats, conn_yields) },
	{ "listen_disabled_num", offsetof(struct nodestats, listen_disabled_num) },
	{ "curr_items", offsetof(struct nodestats, curr_items) },
	{ "bytes", offsetof(struct nodestats, bytes) },
	{ "limit_maxbytes", offsetof(struct nodestats, limit_maxbytes) },
	{ "evictions", offsetof(struct nodestats, evictions) },
	{ "cmd_get", offsetof(struct nodestats, cmd_get) },
	{ "cmd_set", offsetof(struct nodestats, cmd_set) },
	{ "get_hits", offsetof(struct nodestats, get_hits) },
	{ "get_misses", offsetof(struct nodestats, get_misses) },
};

static bool
token_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(p, word, n) == 0;
}

typedef void (*stat_fn)(struct nodestats *st, const struct mcreply_stat *s);

static void
general_stat(struct nodestats *st, const struct mcreply_stat *s)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++) {
		if (token_is(s->name, s->name_len, stat_fields[i].name)) {
			if (parse_u64_n(s->value, s->value_len, 0, UINT64_MAX, &v) == 0)
				*(uint64_t *)((char *)st + stat_fields[i].offset) = v;
			return;
		}
	}
}

/* listener:<kind>:<field>, host:<field>, kernel_not_accepted. */
static void
kernel_stat(struct nodestats *st, const struct mcreply_stat *s)
{
	const char *name = s->name, *kind, *field, *colon;
	size_t nlen = s->name_len, klen, flen, i, l;
	uint64_t v;

	if (parse_u64_n(s->value, s->value_len, 0, UINT64_MAX, &v) < 0)
		return; /* addresses, the method's name */
	if (token_is(name, nlen, "kernel_not_accepted")) {
		st->not_accepted = v;
		st->has_kernel = true;
		return;
	}
	if (token_is(name, nlen, "host:listen_overflows")) {
		st->listen_overflows = v;
		st->host_known = true;
		return;
	}
	if (token_is(name, nlen, "host:listen_drops")) {
		st->listen_drops = v;
		return;
	}
	if (nlen < 9 || memcmp(name, "listener:", 9) != 0)
		return;
	kind = name + 9;
	colon = memchr(kind, ':', nlen - 9);
	if (colon == NULL)
		return;
	klen = (size_t)(colon - kind);
	field = colon + 1;
	flen = nlen - 9 - klen - 1;
	for (l = 0; l < NODESTATS_LISTENERS; l++) {
		if (!token_is(kind, klen, listener_names[l]))
			continue;
		st->listener[l].present = true;
		if (token_is(field, flen, "accept_queue")) {
			st->listener[l].accept_queue = v;
			return;
		}
		if (token_is(field, flen, "backlog")) {
			st->listener[l].backlog = v;
			return;
		}
		for (i = 0; i < NODESTATS_TCP_STATES; i++) {
			if (token_is(field, flen, tcp_states[i])) {
				st->listener[l].states[i] = v;
				return;
			}
		}
		return;
	}
}

/*
 * A line the iterator finds malformed ("STAT x" without a value, control characters)
 * is skipped, as an unknown name or a value that is not a number is: the reply was
 * framed whole, so the stream is still in step, and failing the poll for one odd line
 * (of a stat the monitor may not even read) would blind the detectors to the node.
 */
static void
parse_block(struct nodestats *st, const char *p, size_t len, stat_fn fn)
{
	struct mcreply_stats_iter it;
	struct mcreply_stat s;
	int rc;

	mcreply_stats_begin(&it, p, len);
	for (;;) {
		rc = mcreply_stats_next(&it, &s);
		if (rc == 1)
			fn(st, &s);
		else if (rc == 0 || !mcreply_stats_skip(&it))
			return;
	}
}

int
nodestats_parse(struct nodestats *st, const char *reply, size_t len, char *err, size_t errlen)
{
	struct mcreply_frame first, second;

	memset(st, 0, sizeof(*st));
	if (mcreply_frame(reply, len, MCREPLY_STATS, &first) != MCREPLY_COMPLETE || first.error) {
		int show = (int)(len > ERROR_SHOWN_MAX ? ERROR_SHOWN_MAX : len);
		while (show > 0 && (reply[show - 1] == '\n' || reply[show - 1] == '\r'))
			show--;
		snprintf(err, errlen, "stats: %.*s", show, reply);
		return -1;
	}
	parse_block(st, reply, first.len, general_stat);
	if (mcreply_frame(reply + first.len, len - first.len, MCREPLY_STATS, &second) ==
	    MCREPLY_COMPLETE && !second.error)
		parse_block(st, reply + first.len, second.len, kernel_stat);
	return 0;
}
