/*
 * stats — the `stats` replies of mcd. Names are memcached's where the meaning is
 * the same, so existing dashboards and exporters read them unchanged.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mcd.h"
#include "output.h"

/* "STAT [prefix:]name " and the caller's value. */
static void
stat_name(struct worker *w, const char *prefix, const char *name)
{
	out_append(w, "STAT ", 5);
	if (prefix != NULL) {
		out_append(w, prefix, strlen(prefix));
		out_append(w, ":", 1);
	}
	out_append(w, name, strlen(name));
	out_append(w, " ", 1);
}

void
stats_line_u64(struct worker *w, const char *prefix, const char *name, uint64_t v)
{
	stat_name(w, prefix, name);
	out_u64(w, v);
	out_append(w, "\r\n", 2);
}

void
stats_line_str(struct worker *w, const char *prefix, const char *name, const char *v)
{
	stat_name(w, prefix, name);
	out_append(w, v, strlen(v));
	out_append(w, "\r\n", 2);
}

static void
stat_u64(struct worker *w, const char *name, uint64_t v)
{
	stats_line_u64(w, NULL, name, v);
}

static void
stat_str(struct worker *w, const char *name, const char *v)
{
	stats_line_str(w, NULL, name, v);
}

static void
stat_prefixed(struct worker *w, const char *prefix, const char *name, uint64_t v)
{
	stats_line_u64(w, prefix, name, v);
}

/* Sums of the store counters of every tenant. */
struct store_sum {
	struct store_stats s;
	size_t tenants;
};

static void
add_store(void *arg, struct tenant *t)
{
	struct store_sum *sum = arg;
	struct store_stats s;

	store_get_stats(t->store, &s);
	sum->s.limit += s.limit;
	sum->s.bytes += s.bytes;
	sum->s.curr_items += s.curr_items;
	sum->s.total_items += s.total_items;
	sum->s.evictions += s.evictions;
	sum->s.evicted_unfetched += s.evicted_unfetched;
	sum->s.expired_unfetched += s.expired_unfetched;
	sum->s.reclaimed += s.reclaimed;
	sum->s.get_hits += s.get_hits;
	sum->s.get_misses += s.get_misses;
	sum->s.get_expired += s.get_expired;
	sum->s.get_flushed += s.get_flushed;
	sum->s.touch_hits += s.touch_hits;
	sum->s.touch_misses += s.touch_misses;
	sum->s.delete_hits += s.delete_hits;
	sum->s.delete_misses += s.delete_misses;
	sum->s.incr_hits += s.incr_hits;
	sum->s.incr_misses += s.incr_misses;
	sum->s.decr_hits += s.decr_hits;
	sum->s.decr_misses += s.decr_misses;
	sum->s.cas_hits += s.cas_hits;
	sum->s.cas_misses += s.cas_misses;
	sum->s.cas_badval += s.cas_badval;
	if (s.oldest_access != 0 &&
	    (sum->s.oldest_access == 0 || s.oldest_access < sum->s.oldest_access))
		sum->s.oldest_access = s.oldest_access;
	sum->tenants++;
}

static void
write_store_stats(struct worker *w, const struct store_stats *s)
{
	stat_u64(w, "get_hits", s->get_hits);
	stat_u64(w, "get_misses", s->get_misses);
	stat_u64(w, "get_expired", s->get_expired);
	stat_u64(w, "get_flushed", s->get_flushed);
	stat_u64(w, "delete_misses", s->delete_misses);
	stat_u64(w, "delete_hits", s->delete_hits);
	stat_u64(w, "incr_misses", s->incr_misses);
	stat_u64(w, "incr_hits", s->incr_hits);
	stat_u64(w, "decr_misses", s->decr_misses);
	stat_u64(w, "decr_hits", s->decr_hits);
	stat_u64(w, "cas_misses", s->cas_misses);
	stat_u64(w, "cas_hits", s->cas_hits);
	stat_u64(w, "cas_badval", s->cas_badval);
	stat_u64(w, "touch_hits", s->touch_hits);
	stat_u64(w, "touch_misses", s->touch_misses);
}

static void
write_store_tail(struct worker *w, const struct store_stats *s)
{
	stat_u64(w, "limit_maxbytes", s->limit);
	stat_u64(w, "bytes", s->bytes);
	stat_u64(w, "curr_items", s->curr_items);
	stat_u64(w, "total_items", s->total_items);
	stat_u64(w, "expired_unfetched", s->expired_unfetched);
	stat_u64(w, "evicted_unfetched", s->evicted_unfetched);
	stat_u64(w, "evictions", s->evictions);
	stat_u64(w, "reclaimed", s->reclaimed);
}

static void
write_rusage(struct worker *w)
{
	struct rusage ru;
	char v[48];

	getrusage(RUSAGE_SELF, &ru);
	snprintf(v, sizeof(v), "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
	stat_str(w, "rusage_user", v);
	snprintf(v, sizeof(v), "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
	stat_str(w, "rusage_system", v);
}

/* The workers' counters (not their gauges curr_connections, reply_bytes_queued):
 * what `stats reset` resets. */
static const size_t worker_counters[] = {
	offsetof(struct worker_stats, total_connections),
	offsetof(struct worker_stats, conn_yields),
	offsetof(struct worker_stats, bytes_read),
	offsetof(struct worker_stats, bytes_written),
	offsetof(struct worker_stats, auth_cmds),
	offsetof(struct worker_stats, auth_errors),
	offsetof(struct worker_stats, auth_timeouts),
	offsetof(struct worker_stats, cmd_get),
	offsetof(struct worker_stats, cmd_set),
	offsetof(struct worker_stats, cmd_touch),
	offsetof(struct worker_stats, cmd_flush),
	offsetof(struct worker_stats, cmd_meta),
	offsetof(struct worker_stats, protocol_errors),
	offsetof(struct worker_stats, closed_line_too_long),
	offsetof(struct worker_stats, oom_errors),
	offsetof(struct worker_stats, sessions_revoked),
	offsetof(struct worker_stats, auth_unknown_tenant),
	offsetof(struct worker_stats, rejected_tenant_connections),
};
#define WORKER_COUNTERS (sizeof(worker_counters) / sizeof(worker_counters[0]))

static _Atomic uint64_t *
ws_field(struct worker_stats *s, size_t i)
{
	return (_Atomic uint64_t *)((char *)s + worker_counters[i]);
}

/* Every worker's figures summed into *t, as they are. */
static void
workers_sum_raw(struct mcd *m, struct worker_stats *t)
{
	int i;

	for (i = 0; i < m->nworkers; i++) {
		struct worker_stats *s = &m->workers[i].stats;
#define SUM(f) t->f += STAT_GET(s->f)
		SUM(curr_connections); SUM(total_connections); SUM(conn_yields);
		SUM(bytes_read); SUM(bytes_written); SUM(auth_cmds); SUM(auth_errors);
		SUM(auth_timeouts); SUM(cmd_get); SUM(cmd_set); SUM(cmd_touch); SUM(cmd_flush);
		SUM(cmd_meta); SUM(protocol_errors); SUM(closed_line_too_long); SUM(oom_errors);
		SUM(sessions_revoked); SUM(reply_bytes_queued); SUM(auth_unknown_tenant);
		SUM(rejected_tenant_connections);
#undef SUM
	}
}

/* The workers' figures summed into *t, their counters less what they were at the
 * last `stats reset` (m->stats_base). */
static void
workers_sum(struct mcd *m, struct worker_stats *t)
{
	size_t i;

	workers_sum_raw(m, t);
	for (i = 0; i < WORKER_COUNTERS; i++) {
		uint64_t v = STAT_GET(*ws_field(t, i));
		uint64_t base = STAT_GET(*ws_field(&m->stats_base, i));
		/* A base read a moment before a counter's own update may exceed it:
		 * never show a wrapped figure. */
		atomic_store(ws_field(t, i), v > base ? v - base : 0);
	}
}

void
stats_write_global(struct conn *c, const struct proto_request *req)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	struct worker_stats t = { 0 };
	struct store_sum sum = { 0 };

	(void)req;
	workers_sum(m, &t);
	tenant_registry_foreach(&m->tenants, add_store, &sum);
	stat_u64(w, "pid", (uint64_t)getpid());
	stat_u64(w, "uptime", (uint64_t)((w->now - m->started_mono_ms) / 1000));
	stat_u64(w, "time", (uint64_t)mcd_unix_now(m, w->now));
	stat_str(w, "version", MCD_VERSION);
	stat_u64(w, "pointer_size", sizeof(void *) * 8);
	write_rusage(w);
	stat_u64(w, "max_connections", (uint64_t)m->set.max_connections);
	stat_u64(w, "curr_connections", t.curr_connections);
	stat_u64(w, "total_connections", t.total_connections);
	stat_u64(w, "rejected_connections", atomic_load(&m->rejected_connections));
	stat_u64(w, "connection_structures", t.curr_connections);
	stat_u64(w, "admin_connections", (uint64_t)atomic_load(&m->admin_conns));
	stat_u64(w, "rejected_admin_connections", atomic_load(&m->rejected_admin_connections));
	stat_u64(w, "rejected_tenant_connections", t.rejected_tenant_connections);
	stat_u64(w, "rejected_source_connections", atomic_load(&m->rejected_source_connections));
	stat_u64(w, "cmd_get", t.cmd_get);
	stat_u64(w, "cmd_set", t.cmd_set);
	stat_u64(w, "cmd_flush", t.cmd_flush);
	stat_u64(w, "cmd_touch", t.cmd_touch);
	stat_u64(w, "cmd_meta", t.cmd_meta);
	write_store_stats(w, &sum.s);
	stat_u64(w, "auth_cmds", t.auth_cmds);
	stat_u64(w, "auth_errors", t.auth_errors);
	stat_u64(w, "auth_timeouts", t.auth_timeouts);
	stat_u64(w, "auth_unknown_tenant", t.auth_unknown_tenant);
	stat_u64(w, "sessions_revoked", t.sessions_revoked);
	stat_u64(w, "reply_bytes_queued", t.reply_bytes_queued);
	stat_u64(w, "bytes_read", t.bytes_read);
	stat_u64(w, "bytes_written", t.bytes_written);
	stat_u64(w, "accepting_conns", atomic_load(&m->draining) ? 0 : 1);
	stat_u64(w, "listen_disabled_num", atomic_load(&m->listen_disabled_num));
	stat_u64(w, "threads", (uint64_t)m->nworkers);
	stat_u64(w, "conn_yields", t.conn_yields);
	stat_u64(w, "protocol_errors", t.protocol_errors);
	stat_u64(w, "closed_line_too_long", t.closed_line_too_long);
	stat_u64(w, "out_of_memory_errors", t.oom_errors);
	stat_u64(w, "log_lines", log_lines_total());
	stat_u64(w, "log_lines_suppressed", log_suppressed_total());
	stat_u64(w, "tenants", m->tenants.auth ? sum.tenants : 0);
	write_store_tail(w, &sum.s);
	out_append(w, "END\r\n", 5);
}

void
stats_write_tenant(struct conn *c, struct tenant *t)
{
	struct worker *w = c->w;
	struct tenant_counters *k = &t->counters;
	struct store_stats s;

	store_get_stats(t->store, &s);
	stat_u64(w, "pid", (uint64_t)getpid());
	stat_u64(w, "uptime", (uint64_t)((w->now - w->mcd->started_mono_ms) / 1000));
	stat_u64(w, "time", (uint64_t)mcd_unix_now(w->mcd, w->now));
	stat_str(w, "version", MCD_VERSION);
	stat_str(w, "tenant", t->name);
	stat_u64(w, "curr_connections", atomic_load(&k->curr_connections));
	stat_u64(w, "total_connections", atomic_load(&k->total_connections));
	stat_u64(w, "cmd_get", atomic_load(&k->cmd_get));
	stat_u64(w, "cmd_set", atomic_load(&k->cmd_set));
	stat_u64(w, "cmd_flush", atomic_load(&k->cmd_flush));
	stat_u64(w, "cmd_touch", atomic_load(&k->cmd_touch));
	write_store_stats(w, &s);
	stat_u64(w, "auth_cmds", atomic_load(&k->auth_cmds));
	stat_u64(w, "denied_cmds", atomic_load(&k->denied));
	stat_u64(w, "reply_bytes_queued", atomic_load(&k->reply_bytes_queued));
	write_store_tail(w, &s);
	out_append(w, "END\r\n", 5);
}

static void
detail_one(void *arg, struct tenant *t)
{
	if (store_detail_on(t->store))
		*(bool *)arg = true;
}

/* Whether `stats detail` counts for any tenant. */
static bool
detail_any(struct mcd *m)
{
	bool on = false;

	tenant_registry_foreach(&m->tenants, detail_one, &on);
	return on;
}

void
stats_write_settings(struct conn *c)
{
	struct worker *w = c->w;
	const struct mcd_settings *s = &w->mcd->set;

	stat_u64(w, "maxbytes", __atomic_load_n(&s->memory, __ATOMIC_RELAXED));
	stat_u64(w, "maxconns", (uint64_t)s->max_connections);
	stat_u64(w, "tcpport", (uint64_t)s->port);
	stat_str(w, "inter", s->listen);
	stat_str(w, "domain_socket", "NULL"); /* mcd listens on TCP only */
	stat_u64(w, "num_threads", (uint64_t)s->threads);
	stat_u64(w, "item_size_max", s->item_max);
	stat_u64(w, "tcp_backlog", (uint64_t)s->backlog);
	stat_u64(w, "reqs_per_event", MCD_REQS_PER_EVENT);
	stat_str(w, "auth_enabled_ascii", s->tenants_path[0] ? "yes" : "no");
	stat_u64(w, "auth_timeout_ms", (uint64_t)s->auth_timeout_ms);
	stat_u64(w, "admin_port", (uint64_t)s->admin_port);
	stat_u64(w, "admin_maxconns", (uint64_t)s->admin_max_connections);
	stat_u64(w, "tls_port", (uint64_t)s->tls_port);
	stat_u64(w, "source_max_unauth", s->source_max_unauth);
	stat_u64(w, "source_conn_rate", s->source_conn_rate);
	stat_str(w, "conn_accounting", s->conn_accounting ? "on" : "off");
	stat_u64(w, "verbosity", (uint64_t)atomic_load(&w->mcd->verbosity));
	stat_str(w, "shutdown_command", s->enable_shutdown ? "yes" : "no");
	stat_str(w, "detail_enabled", detail_any(w->mcd) ? "yes" : "no");
	stat_str(w, "track_sizes", "no");
	stat_str(w, "evictions", "on");
	stat_str(w, "cas_enabled", "yes");
	stat_str(w, "flush_enabled", "yes");
	out_append(w, "END\r\n", 5);
}

/* A tenant's `stats settings`: what governs its own use of the node, and nothing
 * about the node itself (its other ports, addresses, memory, connection limit). */
void
stats_write_settings_tenant(struct conn *c, struct tenant *t)
{
	struct worker *w = c->w;
	struct store_stats st;

	store_get_stats(t->store, &st);
	stat_u64(w, "maxbytes", st.limit);
	stat_u64(w, "item_size_max", w->mcd->set.item_max);
	stat_u64(w, "reqs_per_event", MCD_REQS_PER_EVENT);
	stat_str(w, "auth_enabled_ascii", "yes");
	stat_str(w, "evictions", "on");
	stat_str(w, "cas_enabled", "yes");
	stat_str(w, "flush_enabled", tenant_has_cap(t, TENANT_CAP_FLUSH) ? "yes" : "no");
	out_append(w, "END\r\n", 5);
}

/* The connection-accounting lines of a tenant or a source (same names for both). */
static void
write_conn_reqs(struct worker *w, const char *prefix, const uint64_t *buckets)
{
	int i;

	for (i = 0; i < CONNREQS_BUCKETS; i++)
		stat_prefixed(w, prefix, connreqs_name(i), buckets[i]);
}

static void
write_one_tenant(struct worker *w, struct tenant *t, uint64_t per_sec)
{
	struct tenant_counters *k = &t->counters;
	struct store_stats s;
	uint64_t reqs[CONNREQS_BUCKETS];
	char caps[64], prefix[TENANT_NAME_MAX + 16];
	int i;

	store_get_stats(t->store, &s);
	tenant_caps_format(atomic_load(&t->caps), caps, sizeof(caps));
	snprintf(prefix, sizeof(prefix), "tenant:%s", t->name);
	out_append(w, "STAT ", 5);
	out_append(w, prefix, strlen(prefix));
	out_append(w, ":caps ", 6);
	out_str(w, caps[0] ? caps : "none");
	stat_prefixed(w, prefix, "curr_connections", atomic_load(&k->curr_connections));
	stat_prefixed(w, prefix, "total_connections", atomic_load(&k->total_connections));
	stat_prefixed(w, prefix, "cmd_get", atomic_load(&k->cmd_get));
	stat_prefixed(w, prefix, "cmd_set", atomic_load(&k->cmd_set));
	stat_prefixed(w, prefix, "cmd_flush", atomic_load(&k->cmd_flush));
	stat_prefixed(w, prefix, "get_hits", s.get_hits);
	stat_prefixed(w, prefix, "get_misses", s.get_misses);
	stat_prefixed(w, prefix, "curr_items", s.curr_items);
	stat_prefixed(w, prefix, "bytes", s.bytes);
	stat_prefixed(w, prefix, "limit_maxbytes", s.limit);
	stat_prefixed(w, prefix, "evictions", s.evictions);
	stat_prefixed(w, prefix, "denied_cmds", atomic_load(&k->denied));
	stat_prefixed(w, prefix, "reply_bytes_queued", atomic_load(&k->reply_bytes_queued));
	stat_prefixed(w, prefix, "new_conns_per_sec", per_sec);
	stat_prefixed(w, prefix, "auth_ok", atomic_load(&k->auth_ok));
	stat_prefixed(w, prefix, "auth_failed", atomic_load(&k->auth_failed));
	stat_prefixed(w, prefix, "rejected_connections", atomic_load(&k->rejected));
	stat_prefixed(w, prefix, "max_connections", atomic_load(&t->max_conns));
	stat_prefixed(w, prefix, "conn_rate_limit", atomic_load(&t->conn_rate));
	for (i = 0; i < CONNREQS_BUCKETS; i++)
		reqs[i] = atomic_load(&k->conn_reqs[i]);
	write_conn_reqs(w, prefix, reqs);
}

/* A tenant taken (with a reference) for `stats tenants`, with its ordering keys. */
struct tenant_rank {
	struct tenant *t;
	uint64_t per_sec, curr;
};

struct tenant_ranks {
	struct tenant_rank *v;
	size_t n, cap;
	int64_t now;
};

static void
rank_one(void *arg, struct tenant *t)
{
	struct tenant_ranks *r = arg;

	if (r->n == r->cap)
		return; /* the registry grew since it was counted: the newcomer waits */
	tenant_get(t);
	r->v[r->n].t = t;
	r->v[r->n].per_sec = tenant_new_conns_per_sec(t, r->now);
	r->v[r->n].curr = atomic_load(&t->counters.curr_connections);
	r->n++;
}

static int
rank_cmp(const void *a, const void *b)
{
	const struct tenant_rank *x = a, *y = b;

	if (x->per_sec != y->per_sec)
		return x->per_sec < y->per_sec ? 1 : -1;
	if (x->curr != y->curr)
		return x->curr < y->curr ? 1 : -1;
	return strcmp(x->t->name, y->t->name);
}

static void
count_one(void *arg, struct tenant *t)
{
	(void)t;
	(*(size_t *)arg)++;
}

void
stats_write_tenants(struct conn *c, size_t top)
{
	struct worker *w = c->w;
	struct tenant_ranks r = { .now = w->now };
	uint64_t other_curr = 0, other_total = 0;
	size_t i, cap = 0;

	tenant_registry_foreach(&w->mcd->tenants, count_one, &cap);
	r.cap = cap + 16; /* a reload in between may add a few */
	r.v = calloc(r.cap, sizeof(*r.v));
	if (r.v == NULL) {
		out_str(w, "SERVER_ERROR out of memory");
		return;
	}
	tenant_registry_foreach(&w->mcd->tenants, rank_one, &r);
	/* Without `top`, the registry's order (by name), as before. */
	if (top > 0)
		qsort(r.v, r.n, sizeof(*r.v), rank_cmp);
	for (i = 0; i < r.n; i++) {
		if (top == 0 || i < top) {
			write_one_tenant(w, r.v[i].t, r.v[i].per_sec);
		} else {
			other_curr += r.v[i].curr;
			other_total += atomic_load(&r.v[i].t->counters.total_connections);
		}
		tenant_put(r.v[i].t);
	}
	free(r.v);
	stats_line_u64(w, "tenants_other", "curr_connections", other_curr);
	stats_line_u64(w, "tenants_other", "total_connections", other_total);
	out_append(w, "END\r\n", 5);
}

void
stats_write_sources(struct conn *c, size_t top)
{
	struct worker *w = c->w;
	struct sources *src = &w->mcd->sources;
	struct source_totals tot;
	struct source_view *v;
	uint64_t listed = 0;
	char prefix[SOURCE_PREFIX_MAX + 8];
	size_t n, i, cap = src->ready ? src->heavy.capacity : 1;

	v = malloc(cap * sizeof(*v));
	if (v == NULL) {
		out_str(w, "SERVER_ERROR out of memory");
		return;
	}
	n = sources_list(src, w->now, v, cap, &tot);
	stat_u64(w, "sources_tracked", tot.tracked);
	stat_u64(w, "sources_capacity", tot.capacity);
	stat_u64(w, "sources_memory_bytes", tot.memory);
	stat_str(w, "sources_algorithm", "space-saving");
	for (i = 0; i < n && i < top; i++) {
		const struct source_record *r = &v[i].rec;
		memcpy(prefix, "source:", 7);
		source_key_format(v[i].key, prefix + 7, sizeof(prefix) - 7);
		stat_prefixed(w, prefix, "new_conns", v[i].new_conns);
		stat_prefixed(w, prefix, "count_error", v[i].count_error);
		stat_prefixed(w, prefix, "new_conns_per_sec", v[i].per_sec);
		stat_prefixed(w, prefix, "curr_connections", r->curr);
		stat_prefixed(w, prefix, "unauth_connections", r->unauth);
		stat_prefixed(w, prefix, "auth_ok", r->auth_ok);
		stat_prefixed(w, prefix, "auth_failed", r->auth_failed);
		stat_prefixed(w, prefix, "rejected", r->rejected);
		write_conn_reqs(w, prefix, r->conn_reqs);
		if (source_key_is_address(v[i].key))
			listed += v[i].new_conns;
	}
	free(v);
	stats_line_u64(w, "sources_other", "new_conns",
	    tot.new_conns > listed ? tot.new_conns - listed : 0);
	out_append(w, "END\r\n", 5);
}

static const char *const listener_names[] = { "client", "tls", "admin" };

/* Re-reads the kernel's view of every listener into m->kernel_text. Lock held. */
static void
kernel_refresh(struct mcd *m)
{
	char err[CONNCOUNT_ERR_MAX], prefix[32], line[256];
	struct conncount_listener l;
	struct conncount_host h;
	uint64_t not_accepted = 0, close_wait = 0, established = 0;
	size_t len = 0;
	int i;

	m->kernel_text[0] = '\0';
	if (!m->cc_open) {
		if (conncount_open(&m->cc, CONNCOUNT_AUTO, err, sizeof(err)) < 0) {
			LOG_LIMITED(LOG_LEVEL_WARN, "stats kernel: %s", err);
			m->kernel_len = (size_t)snprintf(m->kernel_text, sizeof(m->kernel_text),
			    "STAT kernel_error %s\r\n", err);
			return;
		}
		m->cc_open = true;
	}
	for (i = 0; i < m->nlisteners; i++) {
		struct listener *ls = &m->listeners[i];
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct conncount_addr a;

		if (ls->fd < 0 || getsockname(ls->fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    conncount_addr_from_sockaddr((struct sockaddr *)&ss, sl, &a) < 0)
			continue;
		if (conncount_read_listener(&m->cc, &a, &l, err, sizeof(err)) < 0) {
			LOG_LIMITED(LOG_LEVEL_WARN, "stats kernel: %s", err);
			continue;
		}
		snprintf(prefix, sizeof(prefix), "listener:%s", listener_names[ls->kind]);
		snprintf(line, sizeof(line), "STAT %s:addr %s\r\n", prefix, ls->addr);
		if (len + strlen(line) < sizeof(m->kernel_text)) {
			memcpy(m->kernel_text + len, line, strlen(line) + 1);
			len += strlen(line);
		}
		conncount_format_listener(&l, prefix, m->kernel_text, sizeof(m->kernel_text), &len);
		if (ls->kind != LISTENER_ADMIN) {
			not_accepted += l.accept_queue;
			close_wait += l.states[CONNCOUNT_CLOSE_WAIT];
			established += l.states[CONNCOUNT_ESTABLISHED];
		}
		snprintf(line, sizeof(line), "STAT kernel_method %s\r\n",
		    conncount_method_name(l.method));
		if (i == 0 && len + strlen(line) < sizeof(m->kernel_text)) {
			memcpy(m->kernel_text + len, line, strlen(line) + 1);
			len += strlen(line);
		}
	}
	if (conncount_read_host(&m->cc, &h, err, sizeof(err)) == 0)
		conncount_format_host(&h, m->kernel_text, sizeof(m->kernel_text), &len);
	/* The operator's question during a storm: what does the kernel hold that the
	 * server has not taken (accept queue) or not let go of (CLOSE_WAIT)? */
	snprintf(line, sizeof(line),
	    "STAT kernel_established %llu\r\nSTAT kernel_not_accepted %llu\r\n"
	    "STAT kernel_close_wait %llu\r\n", (unsigned long long)established,
	    (unsigned long long)not_accepted, (unsigned long long)close_wait);
	if (len + strlen(line) < sizeof(m->kernel_text)) {
		memcpy(m->kernel_text + len, line, strlen(line) + 1);
		len += strlen(line);
	}
	m->kernel_len = len;
}

void
stats_write_kernel(struct conn *c)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	struct worker_stats t = { 0 };
	int64_t age;

	pthread_mutex_lock(&m->kernel_lock);
	if (m->kernel_at == 0 || w->now - m->kernel_at >= MCD_KERNEL_REFRESH_MS) {
		kernel_refresh(m);
		m->kernel_at = mcd_now();
	}
	age = w->now > m->kernel_at ? w->now - m->kernel_at : 0;
	out_append(w, m->kernel_text, m->kernel_len);
	pthread_mutex_unlock(&m->kernel_lock);
	workers_sum(m, &t);
	stat_u64(w, "kernel_age_ms", (uint64_t)age);
	stat_u64(w, "curr_connections", t.curr_connections);
	stat_u64(w, "total_connections", t.total_connections);
	stat_u64(w, "rejected_connections", atomic_load(&m->rejected_connections));
	out_append(w, "END\r\n", 5);
}

/* --- memcached's memory views: slabs, items, sizes ------------------------------- */

/*
 * mcd has no slab allocator: each item is one allocation of its own size, in one
 * LRU per tenant. So the views show a single class, "1", whose chunks are the
 * items (one per "page"), and whose memory is what the store charges
 * (STORE_ITEM_OVERHEAD + key + value per item). docs/mcd.md has the field list.
 */
#define STATS_MEM_CLASS "1"

/* The store counters and cmd_set of tenant t, or of every tenant if t is NULL. */
static void
mem_view(struct conn *c, struct tenant *t, struct store_stats *s, uint64_t *cmd_set)
{
	struct mcd *m = c->w->mcd;

	if (t != NULL) {
		store_get_stats(t->store, s);
		*cmd_set = atomic_load(&t->counters.cmd_set);
	} else {
		struct store_sum sum = { 0 };
		struct worker_stats ws = { 0 };

		tenant_registry_foreach(&m->tenants, add_store, &sum);
		workers_sum(m, &ws);
		*s = sum.s;
		*cmd_set = ws.cmd_set;
	}
}

void
stats_write_slabs(struct conn *c, struct tenant *t)
{
	struct worker *w = c->w;
	struct store_stats s;
	uint64_t cmd_set;
	const char *k = STATS_MEM_CLASS;

	mem_view(c, t, &s, &cmd_set);
	if (s.bytes > 0) {
		/* The mean charged size of an item: the class's one "chunk size". */
		stat_prefixed(w, k, "chunk_size", s.curr_items > 0 ?
		    (s.bytes + s.curr_items - 1) / s.curr_items : 0);
		stat_prefixed(w, k, "chunks_per_page", 1);
		stat_prefixed(w, k, "total_pages", s.curr_items);
		stat_prefixed(w, k, "total_chunks", s.curr_items);
		stat_prefixed(w, k, "used_chunks", s.curr_items);
		stat_prefixed(w, k, "free_chunks", 0);
		stat_prefixed(w, k, "free_chunks_end", 0);
		stat_prefixed(w, k, "get_hits", s.get_hits);
		stat_prefixed(w, k, "cmd_set", cmd_set);
		stat_prefixed(w, k, "delete_hits", s.delete_hits);
		stat_prefixed(w, k, "incr_hits", s.incr_hits);
		stat_prefixed(w, k, "decr_hits", s.decr_hits);
		stat_prefixed(w, k, "cas_hits", s.cas_hits);
		stat_prefixed(w, k, "cas_badval", s.cas_badval);
		stat_prefixed(w, k, "touch_hits", s.touch_hits);
	}
	stat_u64(w, "active_slabs", s.bytes > 0 ? 1 : 0);
	stat_u64(w, "total_malloced", s.bytes);
	out_append(w, "END\r\n", 5);
}

/* memcached's fields of `stats items` that have no counterpart in mcd (its
 * segmented LRU, crawler and slab mover): always 0, kept for parsers. */
static const char *const items_absent[] = {
	"outofmemory", "tailrepairs",
};
static const char *const items_absent_tail[] = {
	"evicted_active", "crawler_reclaimed", "crawler_items_checked", "lrutail_reflocked",
	"moves_to_cold", "moves_to_warm", "moves_within_lru", "direct_reclaims",
	"hits_to_hot", "hits_to_warm", "hits_to_cold", "hits_to_temp",
};

void
stats_write_items(struct conn *c, struct tenant *t)
{
	struct worker *w = c->w;
	struct store_stats s;
	uint64_t cmd_set;
	const char *k = "items:" STATS_MEM_CLASS;
	size_t i;

	mem_view(c, t, &s, &cmd_set);
	if (s.curr_items > 0) {
		stat_prefixed(w, k, "number", s.curr_items);
		stat_prefixed(w, k, "number_hot", 0);
		stat_prefixed(w, k, "number_warm", 0);
		stat_prefixed(w, k, "number_cold", s.curr_items);
		stat_prefixed(w, k, "age_hot", 0);
		stat_prefixed(w, k, "age_warm", 0);
		stat_prefixed(w, k, "age", s.oldest_access != 0 && w->now > s.oldest_access ?
		    (uint64_t)(w->now - s.oldest_access) / 1000 : 0);
		stat_prefixed(w, k, "mem_requested", s.bytes);
		stat_prefixed(w, k, "evicted", s.evictions);
		stat_prefixed(w, k, "evicted_nonzero", 0);
		stat_prefixed(w, k, "evicted_time", 0);
		for (i = 0; i < sizeof(items_absent) / sizeof(items_absent[0]); i++)
			stat_prefixed(w, k, items_absent[i], 0);
		stat_prefixed(w, k, "reclaimed", s.reclaimed);
		stat_prefixed(w, k, "expired_unfetched", s.expired_unfetched);
		stat_prefixed(w, k, "evicted_unfetched", s.evicted_unfetched);
		for (i = 0; i < sizeof(items_absent_tail) / sizeof(items_absent_tail[0]); i++)
			stat_prefixed(w, k, items_absent_tail[i], 0);
	}
	out_append(w, "END\r\n", 5);
}

/* memcached answers this unless started with -o track_sizes; mcd keeps no
 * histogram of item sizes (it would cost every store an update). */
void
stats_write_sizes(struct conn *c)
{
	stat_str(c->w, "sizes_status", "disabled");
	out_append(c->w, "END\r\n", 5);
}

/* --- stats conns ------------------------------------------------------------------ */

/* "tcp:1.2.3.4:5" or "tcp6:[::1]:5" (memcached's form) of fd's peer. */
static void
peer_format(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	snprintf(buf, len, "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host)) != NULL)
			snprintf(buf, len, "tcp:%s:%u", host, (unsigned)ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host)) != NULL)
			snprintf(buf, len, "tcp6:[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
	}
}

/*
 * What x is doing, in memcached's state names where one fits. Read from another
 * thread without stopping x's worker (relaxed reads): a snapshot, possibly a
 * moment old, never a wrong connection (the caller holds x's worker's list).
 */
static const char *
conn_state(const struct conn *self, const struct conn *x)
{
	if (x == self)
		return "conn_parse_cmd";
	if (__atomic_load_n(&x->handshaking, __ATOMIC_RELAXED))
		return "tls_handshake";
	if (__atomic_load_n(&x->deadline, __ATOMIC_RELAXED) != 0)
		return "auth_wait";
	if (__atomic_load_n(&x->writing, __ATOMIC_RELAXED))
		return "conn_mwrite";
	if (__atomic_load_n(&x->swallow, __ATOMIC_RELAXED) != 0)
		return "conn_swallow";
	if (__atomic_load_n(&x->inlen, __ATOMIC_RELAXED) != 0)
		return "conn_nread";
	return "conn_waiting";
}

static void
write_one_conn(struct worker *w, const struct conn *self, const struct conn *x)
{
	char prefix[24], addr[INET6_ADDRSTRLEN + 16];
	const struct tenant *t = __atomic_load_n(&x->tenant, __ATOMIC_ACQUIRE);
	int64_t last = atomic_load_explicit(&x->last_cmd, memory_order_relaxed);

	snprintf(prefix, sizeof(prefix), "%d", x->fd);
	peer_format(x->fd, addr, sizeof(addr));
	stats_line_str(w, prefix, "addr", addr);
	stats_line_str(w, prefix, "listen_addr", x->listener->addr);
	/* "-": not logged in, or the default tenant (no tenants file) */
	stats_line_str(w, prefix, "tenant", t != NULL && t->name[0] != '\0' ? t->name : "-");
	stats_line_str(w, prefix, "state", conn_state(self, x));
	stats_line_u64(w, prefix, "secs_since_last_cmd",
	    last != 0 && w->now > last ? (uint64_t)(w->now - last) / 1000 : 0);
}

void
stats_write_conns(struct conn *c, struct tenant *t)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	uint64_t listed = 0, omitted = 0;
	int i;

	for (i = 0; i < m->nworkers; i++) {
		struct worker *o = &m->workers[i];
		const struct conn *x;

		pthread_mutex_lock(&o->conns_lock);
		for (x = o->conns; x != NULL; x = x->all_next) {
			if (t != NULL && __atomic_load_n(&x->tenant, __ATOMIC_ACQUIRE) != t)
				continue;
			if (listed == MCD_STATS_CONNS_MAX) {
				omitted++;
				continue;
			}
			write_one_conn(w, c, x);
			listed++;
		}
		pthread_mutex_unlock(&o->conns_lock);
	}
	if (omitted > 0)
		stat_u64(w, "conns_not_listed", omitted);
	out_append(w, "END\r\n", 5);
}

/* --- stats reset ------------------------------------------------------------------- */

/* What a tenant's own `stats` shows and may reset; the connection accounting
 * (total_connections, auth_ok, auth_failed, rejected, conn_reqs_*) is the
 * operator's figure of that tenant and stays. */
static void
tenant_reset_own(struct tenant *t)
{
	struct tenant_counters *k = &t->counters;

	atomic_store(&k->cmd_get, 0);
	atomic_store(&k->cmd_set, 0);
	atomic_store(&k->cmd_touch, 0);
	atomic_store(&k->cmd_flush, 0);
	atomic_store(&k->cmd_meta, 0);
	atomic_store(&k->bytes_read, 0);
	atomic_store(&k->bytes_written, 0);
	atomic_store(&k->auth_cmds, 0);
	atomic_store(&k->auth_errors, 0);
	atomic_store(&k->denied, 0);
	store_reset_stats(t->store);
}

static void
tenant_reset_all(void *arg, struct tenant *t)
{
	struct tenant_counters *k = &t->counters;
	int i;

	(void)arg;
	tenant_reset_own(t);
	atomic_store(&k->total_connections, 0);
	atomic_store(&k->auth_ok, 0);
	atomic_store(&k->auth_failed, 0);
	atomic_store(&k->rejected, 0);
	for (i = 0; i < CONNREQS_BUCKETS; i++)
		atomic_store(&k->conn_reqs[i], 0);
}

void
stats_reset(struct conn *c, struct tenant *t)
{
	struct mcd *m = c->w->mcd;
	struct worker_stats now = { 0 };
	struct worker_stats *b = &m->stats_base;
	size_t i;

	if (t != NULL) {
		tenant_reset_own(t);
		return;
	}
	workers_sum_raw(m, &now);
	for (i = 0; i < WORKER_COUNTERS; i++)
		atomic_store(ws_field(b, i), STAT_GET(*ws_field(&now, i)));
	atomic_store(&m->rejected_connections, 0);
	atomic_store(&m->rejected_admin_connections, 0);
	atomic_store(&m->rejected_source_connections, 0);
	atomic_store(&m->listen_disabled_num, 0);
	tenant_registry_foreach(&m->tenants, tenant_reset_all, NULL);
}
