/*
 * nodestats — see nodestats.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A number of the reply by name, and where it goes (offset in its struct). */
struct stat_field {
	const char *name;
	size_t offset;
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const struct stat_field stat_fields[] = {
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

/* Stores the value of the field of f[0..nf) called name[0..len) into base; whether
 * one was called so. */
static bool
set_field(void *base, const struct stat_field *f, size_t nf, const char *name, size_t len,
    const struct mcreply_stat *s)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < nf; i++) {
		if (token_is(name, len, f[i].name)) {
			if (parse_u64_n(s->value, s->value_len, 0, UINT64_MAX, &v) == 0)
				*(uint64_t *)((char *)base + f[i].offset) = v;
			return true;
		}
	}
	return false;
}

static void
general_stat(struct nodestats *st, const struct mcreply_stat *s)
{
	(void)set_field(st, stat_fields, NFIELDS(stat_fields), s->name, s->name_len, s);
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

/* `stats proxy`: its own figures. */
static const struct stat_field proxy_fields[] = {
	{ "backends", offsetof(struct nodestats, proxy.backends) },
	{ "backends_up", offsetof(struct nodestats, proxy.backends_up) },
	{ "backend_connections", offsetof(struct nodestats, proxy.backend_connections) },
	{ "client_connections", offsetof(struct nodestats, proxy.client_connections) },
	{ "requests", offsetof(struct nodestats, proxy.requests) },
	{ "fast_failures", offsetof(struct nodestats, proxy.fast_failures) },
	{ "queue_refusals", offsetof(struct nodestats, proxy.queue_refusals) },
	{ "timeouts", offsetof(struct nodestats, proxy.timeouts) },
};

static void
proxy_stat(struct nodestats *st, const struct mcreply_stat *s)
{
	st->is_proxy = true;
	(void)set_field(st, proxy_fields, NFIELDS(proxy_fields), s->name, s->name_len, s);
}

static const struct stat_field backend_fields[] = {
	{ "requests", offsetof(struct nodestats_backend, requests) },
	{ "replies", offsetof(struct nodestats_backend, replies) },
	{ "errors", offsetof(struct nodestats_backend, errors) },
	{ "timeouts", offsetof(struct nodestats_backend, timeouts) },
	{ "fast_failures", offsetof(struct nodestats_backend, fast_failures) },
	{ "queue_refusals", offsetof(struct nodestats_backend, queue_refusals) },
	{ "outstanding", offsetof(struct nodestats_backend, outstanding) },
	{ "connections", offsetof(struct nodestats_backend, connections) },
	{ "latency_p50_us", offsetof(struct nodestats_backend, latency_p50_us) },
	{ "latency_p99_us", offsetof(struct nodestats_backend, latency_p99_us) },
	{ "down_since", offsetof(struct nodestats_backend, down_since) },
};

/* The backend named name[0..len): the one the lines before named, or a new one at the
 * end (the proxy lists each backend's lines together); NULL past the cap. */
static struct nodestats_backend *
backend_named(struct nodestats *st, const char *name, size_t len)
{
	struct nodestats_backend *b;

	if (len == 0 || len > NODESTATS_BACKEND_NAME_MAX)
		return NULL;
	if (st->nbackends > 0) {
		b = &st->backends[st->nbackends - 1];
		if (token_is(name, len, b->name))
			return b;
	}
	if (st->nbackends == NODESTATS_BACKENDS_MAX)
		return NULL;
	b = &st->backends[st->nbackends++];
	memcpy(b->name, name, len);
	b->name[len] = '\0';
	return b;
}

/* A share in [0, 1] written as a decimal ("0.150000"). */
static bool
parse_share(const char *p, size_t len, double *out)
{
	char text[32], *end;
	double v;

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	v = strtod(text, &end);
	if (*end != '\0' || !isfinite(v) || v < 0.0 || v > 1.0)
		return false;
	*out = v;
	return true;
}

/* <backend>:<field>; the name is everything before the last colon. */
static void
backend_stat(struct nodestats *st, const struct mcreply_stat *s)
{
	struct nodestats_backend *b;
	const char *colon = NULL, *field;
	size_t i, flen;

	for (i = s->name_len; i > 0; i--) {
		if (s->name[i - 1] == ':') {
			colon = s->name + i - 1;
			break;
		}
	}
	if (colon == NULL || (b = backend_named(st, s->name, (size_t)(colon - s->name))) == NULL)
		return;
	field = colon + 1;
	flen = s->name_len - (size_t)(field - s->name);
	if (token_is(field, flen, "state")) {
		b->up = token_is(s->value, s->value_len, "up");
		return;
	}
	if (token_is(field, flen, "tail_share")) {
		(void)parse_share(s->value, s->value_len, &b->tail_share);
		return;
	}
	if (token_is(field, flen, "tail_replies")) {
		b->slow_exact = parse_u64_n(s->value, s->value_len, 0, UINT64_MAX, &b->slow) == 0;
		return;
	}
	if (token_is(field, flen, "last_error")) {
		snprintf(b->last_error, sizeof(b->last_error), "%.*s",
		    (int)(s->value_len < sizeof(b->last_error) ? s->value_len :
		    sizeof(b->last_error) - 1), s->value);
		return;
	}
	(void)set_field(b, backend_fields, NFIELDS(backend_fields), field, flen, s);
}

/* A tenant's or a source's line of group g into its table (true), or false when the
 * line is not a per-key line (the block's own figures). */
static bool
key_stat(struct nodestats *st, const struct mcreply_stat *s, enum connstats_group want)
{
	struct connstats_entry *e = NULL;
	enum connstats_group g;
	enum connstats_field f;
	const char *key;
	size_t klen;
	uint64_t v;

	if (!connstats_line(s->name, s->name_len, s->value, s->value_len, &g, &key, &klen, &f,
	    &v))
		return false;
	if (g == want && want == CONNSTATS_TENANT)
		e = connstats_entry(st->tenants, &st->ntenants, NODESTATS_TENANTS_MAX, key, klen);
	else if (g == want)
		e = connstats_entry(st->sources, &st->nsources, NODESTATS_SOURCES_MAX, key, klen);
	if (e != NULL)
		e->v[f] = v;
	return true;
}

/* The figures of a `stats tenants` or `stats sources` block besides its keys'. */
static const struct stat_field accounting_fields[] = {
	{ "tenants_other:curr_connections", offsetof(struct nodestats, tenants_other_curr) },
	{ "tenants_other:total_connections", offsetof(struct nodestats, tenants_other_total) },
	{ "sources_other:new_conns", offsetof(struct nodestats, sources_other_new) },
	{ "sources_tracked", offsetof(struct nodestats, sources_tracked) },
	{ "sources_capacity", offsetof(struct nodestats, sources_capacity) },
	{ "sources_memory_bytes", offsetof(struct nodestats, sources_memory_bytes) },
};

/* `stats tenants top N`: the tenants' lines, and the sums over the others. */
static void
tenants_stat(struct nodestats *st, const struct mcreply_stat *s)
{
	st->has_tenants = true;
	if (!key_stat(st, s, CONNSTATS_TENANT))
		(void)set_field(st, accounting_fields, NFIELDS(accounting_fields), s->name,
		    s->name_len, s);
}

/* `stats sources top N`: the structure's figures, the prefixes' lines, the rest. */
static void
sources_stat(struct nodestats *st, const struct mcreply_stat *s)
{
	st->has_sources = true;
	if (!key_stat(st, s, CONNSTATS_SOURCE))
		(void)set_field(st, accounting_fields, NFIELDS(accounting_fields), s->name,
		    s->name_len, s);
}

#define TOP_TEXT "10" /* NODESTATS_TOP */
_Static_assert(NODESTATS_TOP == 10, "TOP_TEXT spells NODESTATS_TOP");

/* The requests by parts (bit 0: proxy, bit 1: accounting), in the order of the replies
 * nodestats_parse() reads. */
static const char *const requests[4] = {
	"stats\r\nstats kernel\r\n",
	"stats\r\nstats kernel\r\nstats proxy\r\nstats backends\r\n",
	"stats\r\nstats kernel\r\nstats tenants top " TOP_TEXT "\r\nstats sources top " TOP_TEXT
	"\r\n",
	"stats\r\nstats kernel\r\nstats proxy\r\nstats backends\r\nstats tenants top " TOP_TEXT
	"\r\nstats sources top " TOP_TEXT "\r\n",
};

const char *
nodestats_request(unsigned parts)
{
	return requests[parts & 3];
}

size_t
nodestats_replies(unsigned parts)
{
	return 2 + ((parts & NODESTATS_PART_PROXY) ? 2 : 0) +
	    ((parts & NODESTATS_PART_ACCOUNTING) ? 2 : 0);
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
nodestats_parse(struct nodestats *st, const char *reply, size_t len, unsigned parts, char *err,
    size_t errlen)
{
	stat_fn after_first[5];
	struct mcreply_frame first, next;
	size_t off, i, nafter = 0;

	memset(st, 0, sizeof(*st));
	if (mcreply_frame(reply, len, MCREPLY_STATS, &first) != MCREPLY_COMPLETE || first.error) {
		int show = (int)(len > ERROR_SHOWN_MAX ? ERROR_SHOWN_MAX : len);
		while (show > 0 && (reply[show - 1] == '\n' || reply[show - 1] == '\r'))
			show--;
		snprintf(err, errlen, "stats: %.*s", show, reply);
		return -1;
	}
	parse_block(st, reply, first.len, general_stat);
	after_first[nafter++] = kernel_stat;
	if (parts & NODESTATS_PART_PROXY) {
		after_first[nafter++] = proxy_stat;
		after_first[nafter++] = backend_stat;
	}
	if (parts & NODESTATS_PART_ACCOUNTING) {
		after_first[nafter++] = tenants_stat;
		after_first[nafter++] = sources_stat;
	}
	/* Each later reply in its place: an error (memcached has no `stats kernel`, a
	 * backend no `stats proxy`) leaves its part unknown, and the rest is still read. */
	off = first.len;
	for (i = 0; i < nafter && off < len; i++) {
		if (mcreply_frame(reply + off, len - off, MCREPLY_STATS, &next) != MCREPLY_COMPLETE)
			break;
		if (!next.error)
			parse_block(st, reply + off, next.len, after_first[i]);
		off += next.len;
	}
	/* The share comes before or after the replies it is a share of. */
	for (i = 0; i < st->nbackends; i++)
		if (!st->backends[i].slow_exact)
			st->backends[i].slow = (uint64_t)llround(st->backends[i].tail_share *
			    (double)st->backends[i].replies);
	return 0;
}
