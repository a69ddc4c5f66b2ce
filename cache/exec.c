/*
 * exec — executes parsed requests for a connection: authentication, the classic
 * and meta commands against the connection's tenant store, and the admin commands.
 * Replies are appended to the worker's output (output.h); memcached's exact
 * reply strings are used throughout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mcd.h"
#include "output.h"
#include "parse.h"
#include "prefixstats.h"
#include "proxy.h"

#define RPL_STORED "STORED"
#define RPL_NOT_STORED "NOT_STORED"
#define RPL_EXISTS "EXISTS"
#define RPL_NOT_FOUND "NOT_FOUND"
#define RPL_DELETED "DELETED"
#define RPL_TOUCHED "TOUCHED"
#define RPL_OK "OK"
#define RPL_ERROR "ERROR"
#define E_UNAUTH "CLIENT_ERROR unauthenticated"
#define E_AUTH_FAIL "CLIENT_ERROR authentication failure"
#define E_NO_WRITE "CLIENT_ERROR permission denied: tenant may not write"
#define E_NO_READ "CLIENT_ERROR permission denied: tenant may not read"
#define E_NO_FLUSH "CLIENT_ERROR permission denied: tenant may not flush"
#define E_OOM_STORE "SERVER_ERROR out of memory storing object"
#define E_TOO_LARGE "SERVER_ERROR object too large for cache"
#define E_NON_NUMERIC "CLIENT_ERROR cannot increment or decrement non-numeric value"
#define E_OOM "SERVER_ERROR out of memory"
#define E_ADMIN_ONLY_STATS "CLIENT_ERROR stats tenants and stats sources are on the admin port only"
#define E_STATS_TOP "CLIENT_ERROR usage: stats tenants|sources [top N]"
#define STATS_TOP_MAX 100000 /* N of `stats ... top N` */
#define E_DETAIL_USAGE "CLIENT_ERROR usage: stats detail on|off|dump"
#define E_SHUTDOWN_OFF "ERROR: shutdown not enabled"
#define E_SHUTDOWN_MODE "CLIENT_ERROR invalid shutdown mode"
#define E_SHUTDOWN_ADMIN "CLIENT_ERROR shutdown is on the admin port only"
#define E_MEMLIMIT_SMALL "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"
#define E_MEMLIMIT_TENANT "CLIENT_ERROR cache_memlimit is on the admin port only"
#define E_MEMLIMIT_TENANTS "CLIENT_ERROR cache_memlimit sets -m, which applies only " \
	"without a tenants file: a tenant's memory is its limit in the tenants file"
#define E_MEMLIMIT_PROXY "CLIENT_ERROR a proxy holds no data: set its backends' memory"
#define MEMLIMIT_MAX_MB (1 << 24) /* cache_memlimit's largest, as -m's */

static bool
is_meta(enum proto_cmd cmd)
{
	return cmd == CMD_MG || cmd == CMD_MS || cmd == CMD_MD || cmd == CMD_MA ||
	    cmd == CMD_MN || cmd == CMD_ME;
}

static bool
token_eq(const struct proto_token *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->p, s, t->len) == 0;
}

static bool
has_cap(const struct tenant *t, unsigned cap)
{
	return tenant_has_cap(t, cap);
}

#define TCOUNT_N(t, field, n) TENANT_COUNT_N(t, field, n)
#define TCOUNT(t, field) TCOUNT_N(t, field, 1)

/* Replies line unless the request asked for no reply. */
static void
reply(struct conn *c, const struct proto_request *req, const char *line)
{
	if (!req->noreply)
		out_str(c->w, line);
}

static bool
denied(struct conn *c, const struct proto_request *req, const char *why)
{
	TCOUNT(conn_tenant(c), denied);
	(void)req;
	out_str(c->w, why); /* a refusal is always said, even with noreply */
	return true;
}

/* --- authentication ------------------------------------------------------------- */

/*
 * A login that failed: charged to the tenant it named (its password was wrong), or
 * counted as naming no tenant. Looked up after the hash was checked, so the time
 * the check takes still does not tell whether the name exists. name2 (may be NULL)
 * is a second name the attempt was tried with.
 */
static void
auth_failure_count(struct conn *c, const char *name, size_t len, const char *name2,
    size_t len2)
{
	struct tenant_registry *r = &c->w->mcd->tenants;
	struct tenant *t = tenant_find(r, name, len);

	if (t == NULL && name2 != NULL)
		t = tenant_find(r, name2, len2);
	if (t == NULL) {
		STAT_INC(c->w->stats.auth_unknown_tenant);
		return;
	}
	TCOUNT(t, auth_failed);
	tenant_put(t);
}

/* Says why a tenant's limit refused c's login and counts it. Drops the reference
 * to t that authentication took. */
static const char *
admission_refused(struct conn *c, struct tenant *t, enum tenant_admission adm)
{
	struct worker *w = c->w;

	STAT_INC(w->stats.rejected_tenant_connections);
	sources_rejected(&w->mcd->sources, &c->src);
	if (adm == TENANT_REFUSE_MAX_CONNS)
		LOG_LIMITED(LOG_LEVEL_WARN, "refusing logins of tenant %s: at its %u connections",
		    t->name, (unsigned)atomic_load(&t->max_conns));
	else
		LOG_LIMITED(LOG_LEVEL_WARN, "refusing logins of tenant %s: over its %u new "
		    "connections per second", t->name, (unsigned)atomic_load(&t->conn_rate));
	tenant_put(t);
	return adm == TENANT_REFUSE_MAX_CONNS ? MCD_E_TENANT_MAX_CONNS : MCD_E_TENANT_CONN_RATE;
}

enum exec_login
exec_login(struct conn *c, struct tenant *t, const char *name, size_t len, const char *name2,
    size_t len2, const char **refusal)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	enum tenant_admission adm;
	unsigned caps;
	bool ok;

	STAT_INC(w->stats.auth_cmds);
	if (t != NULL) {
		caps = atomic_load(&t->caps);
		/* Admin accounts log in on the admin port only, and only they do. */
		/* A proxy's internal account logs in on a backend's client port, never
		 * on a proxy's: no client may act for other tenants. */
		ok = c->listener->kind == LISTENER_ADMIN ? (caps & TENANT_CAP_ADMIN) != 0 :
		    (caps & (TENANT_CAP_READ | TENANT_CAP_WRITE | TENANT_CAP_FLUSH)) != 0 ||
		    ((caps & TENANT_CAP_PROXY) != 0 && m->proxy == NULL);
		if (!ok) {
			TCOUNT(t, auth_failed);
			tenant_put(t);
			t = NULL;
		}
	} else {
		auth_failure_count(c, name, len, name2, len2);
	}
	if (t == NULL) {
		STAT_INC(w->stats.auth_errors);
		sources_login(&m->sources, &c->src, false);
		LOG_LIMITED(LOG_LEVEL_INFO, "authentication failure on the %s port",
		    c->listener->kind == LISTENER_ADMIN ? "admin" : "client");
		return ++c->auth_failures < MCD_AUTH_FAILURES_MAX ? EXEC_LOGIN_FAILED :
		    EXEC_LOGIN_FAILED_CLOSE;
	}
	TCOUNT(t, auth_cmds);
	TCOUNT(t, auth_ok);
	sources_login(&m->sources, &c->src, true);
	if (c->listener->kind == LISTENER_ADMIN) {
		/* Operators are not limited; they are counted as before. */
		TCOUNT(t, curr_connections);
		TCOUNT(t, total_connections);
	} else if ((adm = tenant_admit(t, w->now, m->set.conn_accounting)) != TENANT_ADMIT) {
		*refusal = admission_refused(c, t, adm);
		return EXEC_LOGIN_REFUSED;
	}
	c->tenant = t;
	conn_ready(c);
	return EXEC_LOGIN_OK;
}

static bool
exec_auth(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	struct tenant *t;
	const char *sp = NULL, *refusal = NULL;
	size_t ulen = 0;

	if (req->cmd == CMD_QUIT)
		return false;
	if (req->cmd != CMD_SET) {
		STAT_INC(w->stats.protocol_errors);
		out_str(w, E_UNAUTH);
		return true;
	}
	/* mcops: key = user, value = password. memcached -Y: value = "user password". */
	t = tenant_authenticate(&m->tenants, req->key.p, req->key.len, req->data, req->dlen,
	    &c->cred_gen);
	if ((sp = memchr(req->data, ' ', req->dlen)) != NULL)
		ulen = (size_t)(sp - req->data);
	if (t == NULL && sp != NULL)
		t = tenant_authenticate(&m->tenants, req->data, ulen, sp + 1, req->dlen - ulen - 1,
		    &c->cred_gen);
	switch (exec_login(c, t, req->key.p, req->key.len, sp != NULL ? req->data : NULL, ulen,
	    &refusal)) {
	case EXEC_LOGIN_OK:
		reply(c, req, RPL_STORED);
		return true;
	case EXEC_LOGIN_FAILED:
		out_str(w, E_AUTH_FAIL);
		return true;
	case EXEC_LOGIN_FAILED_CLOSE:
		out_str(w, E_AUTH_FAIL);
		return false;
	default:
		out_str(w, refusal);
		return false;
	}
}

/* --- retrieval -------------------------------------------------------------------- */

struct get_ctx {
	struct worker *w;
	struct conn *c;
	bool cas;
};

/*
 * Appends a value for c: by reference into its tenant's store, or copied when c
 * acts for another tenant (proxy_as): such a connection may switch tenants while
 * replies wait to be sent, and a reference must go back to the store it came from,
 * whose tenant the connection may no longer hold.
 */
static void
value_out(struct conn *c, const struct store_item_info *it)
{
	if (c->act != NULL)
		out_append(c->w, it->value, it->vlen);
	else
		out_ref(c->w, c->tenant->store, store_ref_take(it), it->value, it->vlen);
}

/* Runs under the store's lock: the value goes out by reference, not copied. */
static void
emit_value(void *arg, const struct store_item_info *it)
{
	struct get_ctx *g = arg;
	struct worker *w = g->w;

	out_append(w, "VALUE ", 6);
	out_append(w, it->key, it->klen);
	out_append(w, " ", 1);
	out_u64(w, it->flags);
	out_append(w, " ", 1);
	out_u64(w, it->vlen);
	if (g->cas) {
		out_append(w, " ", 1);
		out_u64(w, it->cas);
	}
	out_append(w, "\r\n", 2);
	value_out(g->c, it);
	out_append(w, "\r\n", 2);
}

static bool
exec_get(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct get_ctx g = { w, c, req->cmd == CMD_GETS || req->cmd == CMD_GATS };
	struct out_mark start;
	struct store_get_opts opts = { 0 };
	struct proto_token key;
	size_t cursor = 0;
	uint64_t n = 0;
	bool touch = req->cmd == CMD_GAT || req->cmd == CMD_GATS;

	if (!has_cap(t, TENANT_CAP_READ))
		return denied(c, req, E_NO_READ);
	if (touch && !has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	if (touch) {
		opts.touch = true;
		opts.exptime = mcd_exptime(w->mcd, req->exptime, w->now);
	}
	out_mark(w, &start);
	while (proto_next_key(req, &cursor, &key)) {
		store_get(t->store, key.p, key.len, w->now, touch ? &opts : NULL, emit_value, &g);
		n++;
		/* What one request may queue, values counted at their full size (they are
		 * referenced, but a value replaced meanwhile lives on for the reply). */
		if (out_queued(w) - start.queued > MCD_OUT_REQUEST_MAX) {
			out_rewind(w, &start, t->store);
			out_str(w, "SERVER_ERROR out of memory writing get response");
			LOG_LIMITED(LOG_LEVEL_WARN, "a multi-get reply exceeded %d bytes; refused",
			    MCD_OUT_REQUEST_MAX);
			return true;
		}
	}
	out_append(w, "END\r\n", 5);
	if (touch) {
		STAT_ADD(w->stats.cmd_touch, n);
		TCOUNT_N(t, cmd_touch, n);
	}
	STAT_ADD(w->stats.cmd_get, n);
	TCOUNT_N(t, cmd_get, n);
	return true;
}

/* --- storage and the other classic commands ------------------------------------- */

static bool
exec_store(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_set_opts o = { 0 };
	enum store_status st;

	if (!has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	switch (req->cmd) {
	case CMD_SET: o.mode = STORE_SET; break;
	case CMD_ADD: o.mode = STORE_ADD; break;
	case CMD_REPLACE: o.mode = STORE_REPLACE; break;
	case CMD_APPEND: o.mode = STORE_APPEND; break;
	case CMD_PREPEND: o.mode = STORE_PREPEND; break;
	default: o.mode = STORE_CAS; o.cas = req->cas; break;
	}
	o.flags = req->flags;
	o.exptime = mcd_exptime(w->mcd, req->exptime, w->now);
	o.value_max = w->mcd->set.item_max;
	st = store_set(t->store, req->key.p, req->key.len, req->data, req->dlen, w->now, &o, NULL);
	STAT_INC(w->stats.cmd_set);
	TCOUNT(t, cmd_set);
	switch (st) {
	case STORE_OK: reply(c, req, RPL_STORED); break;
	case STORE_NOT_STORED: reply(c, req, RPL_NOT_STORED); break;
	case STORE_EXISTS: reply(c, req, RPL_EXISTS); break;
	case STORE_NOT_FOUND: reply(c, req, RPL_NOT_FOUND); break;
	case STORE_TOO_LARGE: out_str(w, E_TOO_LARGE); break;
	default: out_str(w, E_OOM_STORE); break;
	}
	return true;
}

static bool
exec_delete(struct conn *c, struct proto_request *req)
{
	struct tenant *t = conn_tenant(c);

	if (!has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	if (store_delete(t->store, req->key.p, req->key.len, c->w->now, NULL) == STORE_OK)
		reply(c, req, RPL_DELETED);
	else
		reply(c, req, RPL_NOT_FOUND);
	return true;
}

static bool
exec_arith(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_arith_opts o = { 0 };
	struct store_result res;

	if (!has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	o.decr = req->cmd == CMD_DECR;
	o.delta = req->delta;
	switch (store_arith(t->store, req->key.p, req->key.len, w->now, &o, &res)) {
	case STORE_OK:
		if (!req->noreply) {
			out_u64(w, res.value);
			out_append(w, "\r\n", 2);
		}
		break;
	case STORE_NOT_FOUND: reply(c, req, RPL_NOT_FOUND); break;
	case STORE_NON_NUMERIC: reply(c, req, E_NON_NUMERIC); break;
	case STORE_EXISTS: reply(c, req, RPL_EXISTS); break;
	default: out_str(w, E_OOM); break;
	}
	return true;
}

static bool
exec_touch(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);

	if (!has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	STAT_INC(w->stats.cmd_touch);
	TCOUNT(t, cmd_touch);
	if (store_touch(t->store, req->key.p, req->key.len, w->now,
	    mcd_exptime(w->mcd, req->exptime, w->now)) == STORE_OK)
		reply(c, req, RPL_TOUCHED);
	else
		reply(c, req, RPL_NOT_FOUND);
	return true;
}

static int64_t
flush_at(const struct worker *w, const struct proto_request *req)
{
	if (!req->has_arg || req->arg == 0)
		return w->now;
	return mcd_exptime(w->mcd, req->arg, w->now);
}

static bool
exec_flush(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);

	if (!has_cap(t, TENANT_CAP_FLUSH))
		return denied(c, req, E_NO_FLUSH);
	store_flush(t->store, w->now, flush_at(w, req));
	STAT_INC(w->stats.cmd_flush);
	TCOUNT(t, cmd_flush);
	reply(c, req, RPL_OK);
	return true;
}

static bool
exec_verbosity(struct conn *c, struct proto_request *req)
{
	/* Only an operator changes the server's logging: a tenant gets OK and no change. */
	if (req->has_arg && (c->listener->kind == LISTENER_ADMIN || !c->listener->auth)) {
		enum log_level l = req->arg >= 2 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
		log_set_level(l);
		atomic_store(&c->w->mcd->verbosity, (int)req->arg);
	}
	reply(c, req, RPL_OK);
	return true;
}

/* One tenant's `stats detail dump` lines; with qualify (the admin port of a server with
 * tenants) each prefix is preceded by "TENANT/". */
struct detail_dump {
	struct worker *w;
	struct prefixstats *buf;
	bool qualify;
};

static void
detail_line(struct detail_dump *d, const struct tenant *t, const struct prefixstats_entry *e)
{
	struct worker *w = d->w;

	out_append(w, "PREFIX ", 7);
	if (d->qualify) {
		out_append(w, t->name, strlen(t->name));
		out_append(w, "/", 1);
	}
	out_append(w, e->prefix, e->len);
	out_append(w, " get ", 5);
	out_u64(w, e->get);
	out_append(w, " hit ", 5);
	out_u64(w, e->hit);
	out_append(w, " set ", 5);
	out_u64(w, e->set);
	out_append(w, " del ", 5);
	out_u64(w, e->del);
	out_append(w, "\r\n", 2);
}

static void
detail_dump_one(void *arg, struct tenant *t)
{
	struct detail_dump *d = arg;
	size_t i;

	store_detail_get(t->store, d->buf);
	for (i = 0; i < d->buf->n; i++)
		detail_line(d, t, &d->buf->e[i]);
	if (d->buf->overflow)
		detail_line(d, t, &d->buf->other);
}

struct detail_switch {
	bool on;
	size_t failed;
};

static void
detail_switch_one(void *arg, struct tenant *t)
{
	struct detail_switch *d = arg;

	if (store_detail_set(t->store, d->on) < 0)
		d->failed++;
}

/*
 * `stats detail on|off|dump`: memcached's per-prefix figures (cache/prefixstats.h),
 * kept in each tenant's store. A tenant switches and reads its own; the admin port
 * (or a listener without authentication, scope NULL) every tenant's.
 */
static void
stats_detail(struct conn *c, const struct proto_request *req, struct tenant *scope)
{
	struct worker *w = c->w;
	struct tenant_registry *r = &w->mcd->tenants;

	if (req->ntokens != 2) {
		out_str(w, E_DETAIL_USAGE);
	} else if (token_eq(&req->tokens[1], "on") || token_eq(&req->tokens[1], "off")) {
		struct detail_switch d = { .on = token_eq(&req->tokens[1], "on") };

		if (scope != NULL)
			detail_switch_one(&d, scope);
		else
			tenant_registry_foreach(r, detail_switch_one, &d);
		out_str(w, d.failed == 0 ? RPL_OK : E_OOM);
	} else if (token_eq(&req->tokens[1], "dump")) {
		struct detail_dump d = { .w = w, .qualify = scope == NULL && r->auth };

		if ((d.buf = malloc(sizeof(*d.buf))) == NULL) {
			out_str(w, E_OOM);
			return;
		}
		if (scope != NULL)
			detail_dump_one(&d, scope);
		else
			tenant_registry_foreach(r, detail_dump_one, &d);
		free(d.buf);
		out_str(w, "END");
	} else {
		out_str(w, E_DETAIL_USAGE);
	}
}

/*
 * The `stats` sub-commands memcached has and mcd answers the same way on every
 * port: slabs, items, sizes, conns, reset, detail. scope is the tenant whose
 * store and counters they show or reset (NULL: the whole server), own the tenant
 * whose connections `stats conns` lists (NULL: every one). False if the
 * sub-command is none of these (nothing was written).
 */
static bool
stats_memcached(struct conn *c, const struct proto_request *req, struct tenant *scope,
    struct tenant *own)
{
	const struct proto_token *sub = &req->tokens[0];

	/* memcached ignores what follows these words; so does mcd. */
	if (token_eq(sub, "slabs"))
		stats_write_slabs(c, scope);
	else if (token_eq(sub, "items"))
		stats_write_items(c, scope);
	else if (token_eq(sub, "sizes"))
		stats_write_sizes(c);
	else if (token_eq(sub, "conns"))
		stats_write_conns(c, own);
	else if (token_eq(sub, "detail"))
		stats_detail(c, req, scope);
	else if (token_eq(sub, "reset")) {
		stats_reset(c, scope);
		/* A tenant's own figures are its business; the server's are worth a
		 * line, at most one per period (any client of a port without
		 * authentication may send it). */
		if (scope == NULL)
			LOG_LIMITED(LOG_LEVEL_INFO, "stats reset: the server's counters restart");
		out_str(c->w, "RESET");
	} else
		return false;
	return true;
}

static bool
exec_stats(struct conn *c, struct proto_request *req)
{
	if (req->ntokens == 0) {
		if (c->listener->auth)
			stats_write_tenant(c, conn_tenant(c));
		else
			stats_write_global(c, req);
		return true;
	}
	if (req->ntokens == 1 && token_eq(&req->tokens[0], "settings")) {
		/* A tenant sees its own settings; the server's are the operator's. */
		if (c->listener->auth)
			stats_write_settings_tenant(c, conn_tenant(c));
		else
			stats_write_settings(c);
		return true;
	}
	if (token_eq(&req->tokens[0], "tenants") || token_eq(&req->tokens[0], "sources")) {
		/* Every tenant's and every address's figures: the operator's, not a tenant's. */
		out_str(c->w, E_ADMIN_ONLY_STATS);
		return true;
	}
	/* A tenant sees its own; a listener without authentication is the operator's. */
	if (!stats_memcached(c, req, c->listener->auth ? conn_tenant(c) : NULL,
	    c->listener->auth ? c->tenant : NULL))
		out_str(c->w, RPL_ERROR);
	return true;
}

/*
 * "stats tenants [top N]", "stats sources [top N]": *top = N, or 0 without it.
 * False (after an error reply) on other arguments.
 */
static bool
stats_top(struct conn *c, const struct proto_request *req, size_t *top)
{
	uint64_t n;

	*top = 0;
	if (req->ntokens == 1)
		return true;
	if (req->ntokens == 3 && token_eq(&req->tokens[1], "top") &&
	    parse_u64_n(req->tokens[2].p, req->tokens[2].len, 1, STATS_TOP_MAX, &n) == 0) {
		*top = (size_t)n;
		return true;
	}
	out_str(c->w, E_STATS_TOP);
	return false;
}

static void
out_version(struct worker *w)
{
	out_str(w, "VERSION " MCD_VERSION);
}

/* --- meta commands ---------------------------------------------------------------- */

/* " k<key>" (base64 and " b" for binary keys). */
static void
meta_key(struct worker *w, const char *key, size_t klen, bool binary)
{
	char enc[(PROTO_KEY_MAX + 2) / 3 * 4 + 4];

	out_append(w, " k", 2);
	if (binary) {
		size_t n = proto_base64_encode((const unsigned char *)key, klen, enc, sizeof(enc));
		out_append(w, enc, n);
		out_append(w, " b", 2);
	} else {
		out_append(w, key, klen);
	}
}

static void
meta_opaque(struct worker *w, const struct proto_meta_flag *f)
{
	out_append(w, " O", 2);
	out_append(w, f->tok.p, f->tok.len);
}

static int64_t
meta_i64(const struct proto_meta_flag *f)
{
	int64_t v = 0;

	parse_i64_n(f->tok.p, f->tok.len, INT32_MIN, INT32_MAX, &v);
	return v;
}

static uint64_t
meta_u64(const struct proto_meta_flag *f)
{
	uint64_t v = 0;

	parse_u64_n(f->tok.p, f->tok.len, 0, UINT64_MAX, &v);
	return v;
}

/* TTL remaining in seconds, -1 for none. */
static int64_t
ttl_left(int64_t exptime, int64_t now)
{
	if (exptime == 0)
		return -1;
	if (exptime <= now)
		return 0;
	return (exptime - now + 999) / 1000;
}

static void meta_ret_flags(struct conn *c, const struct proto_request *req,
    const struct store_result *res, bool with_value, int64_t now);

struct mg_ctx {
	struct conn *c;
	const struct proto_request *req;
	bool hit;
};

static void
emit_mg(void *arg, const struct store_item_info *it)
{
	struct mg_ctx *g = arg;
	struct worker *w = g->c->w;
	const struct proto_request *req = g->req;
	bool value = proto_meta_flag(req, 'v') != NULL;
	size_t i;

	g->hit = true;
	if (value) {
		out_append(w, "VA ", 3);
		out_u64(w, it->vlen);
	} else {
		out_append(w, "HD", 2);
	}
	for (i = 0; i < req->nmflags; i++) {
		const struct proto_meta_flag *f = &req->mflags[i];
		switch (f->flag) {
		case 'c': out_append(w, " c", 2); out_u64(w, it->cas); break;
		case 'f': out_append(w, " f", 2); out_u64(w, it->flags); break;
		case 'h': out_append(w, it->fetched ? " h1" : " h0", 3); break;
		case 'k': meta_key(w, it->key, it->klen, req->key_binary); break;
		case 'l':
			out_append(w, " l", 2);
			out_u64(w, (uint64_t)((w->now - it->last_access) / 1000));
			break;
		case 'O': meta_opaque(w, f); break;
		case 's': out_append(w, " s", 2); out_u64(w, it->vlen); break;
		case 't': out_append(w, " t", 2); out_i64(w, ttl_left(it->exptime, w->now)); break;
		default: break;
		}
	}
	if (it->win_sent)
		out_append(w, " Z", 2);
	if (it->stale)
		out_append(w, " X", 2);
	if (it->win)
		out_append(w, " W", 2);
	out_append(w, "\r\n", 2);
	if (value) {
		value_out(g->c, it);
		out_append(w, "\r\n", 2);
	}
}

static bool
exec_mg(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_get_opts o = { 0 };
	struct mg_ctx g = { c, req, false };
	const struct proto_meta_flag *f;
	enum store_status st;

	if (!has_cap(t, TENANT_CAP_READ))
		return denied(c, req, E_NO_READ);
	if ((proto_meta_flag(req, 'T') || proto_meta_flag(req, 'N')) &&
	    !has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	if ((f = proto_meta_flag(req, 'T')) != NULL) {
		o.touch = true;
		o.exptime = mcd_exptime(w->mcd, meta_i64(f), w->now);
		STAT_INC(w->stats.cmd_touch);
		TCOUNT(t, cmd_touch);
	}
	if ((f = proto_meta_flag(req, 'N')) != NULL) {
		o.vivify = true;
		o.vivify_exptime = mcd_exptime(w->mcd, meta_i64(f), w->now);
	}
	if ((f = proto_meta_flag(req, 'R')) != NULL) {
		o.recache = true;
		o.recache_below = meta_i64(f) * 1000;
	}
	o.no_bump = proto_meta_flag(req, 'u') != NULL;
	STAT_INC(w->stats.cmd_get);
	TCOUNT(t, cmd_get);
	st = store_get(t->store, req->key.p, req->key.len, w->now, &o, emit_mg, &g);
	if (st != STORE_OK && !g.hit && !req->noreply) {
		/* A miss carries O and k as in memcached, so pipelines can be matched. */
		out_append(w, "EN", 2);
		meta_ret_flags(c, req, NULL, false, w->now);
	}
	return true;
}

static void
meta_ret_flags(struct conn *c, const struct proto_request *req, const struct store_result *res,
    bool with_value, int64_t now)
{
	struct worker *w = c->w;
	size_t i;

	for (i = 0; i < req->nmflags; i++) {
		const struct proto_meta_flag *f = &req->mflags[i];
		switch (f->flag) {
		case 'O': meta_opaque(w, f); break;
		case 'k': meta_key(w, req->key.p, req->key.len, req->key_binary); break;
		case 'c':
			if (res != NULL) {
				out_append(w, " c", 2);
				out_u64(w, res->cas);
			}
			break;
		case 't':
			if (res != NULL && with_value) {
				out_append(w, " t", 2);
				out_i64(w, ttl_left(res->exptime, now));
			}
			break;
		default: break;
		}
	}
	out_append(w, "\r\n", 2);
}

static bool
exec_ms(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_set_opts o = { 0 };
	struct store_result res = { 0 };
	const struct proto_meta_flag *f;
	enum store_status st;
	const char *code;

	if (!has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	o.mode = STORE_SET;
	if ((f = proto_meta_flag(req, 'M')) != NULL) {
		switch (f->tok.p[0]) {
		case 'E': case 'e': o.mode = STORE_ADD; break;
		case 'A': case 'a': o.mode = STORE_APPEND; break;
		case 'P': case 'p': o.mode = STORE_PREPEND; break;
		case 'R': case 'r': o.mode = STORE_REPLACE; break;
		case 'S': case 's': o.mode = STORE_SET; break;
		default:
			out_str(w, "CLIENT_ERROR invalid mode for ms M token");
			return true;
		}
	}
	if ((f = proto_meta_flag(req, 'F')) != NULL)
		o.flags = (uint32_t)meta_u64(f);
	if ((f = proto_meta_flag(req, 'T')) != NULL)
		o.exptime = mcd_exptime(w->mcd, meta_i64(f), w->now);
	if ((f = proto_meta_flag(req, 'C')) != NULL) {
		o.cas = meta_u64(f);
		if (o.mode == STORE_SET || o.mode == STORE_REPLACE)
			o.mode = STORE_CAS;
	}
	if ((f = proto_meta_flag(req, 'E')) != NULL)
		o.new_cas = meta_u64(f);
	o.invalidate = proto_meta_flag(req, 'I') != NULL;
	if ((f = proto_meta_flag(req, 'N')) != NULL) {
		o.vivify = true;
		o.vivify_exptime = mcd_exptime(w->mcd, meta_i64(f), w->now);
	}
	o.value_max = w->mcd->set.item_max;
	st = store_set(t->store, req->key.p, req->key.len, req->data, req->dlen, w->now, &o, &res);
	STAT_INC(w->stats.cmd_set);
	TCOUNT(t, cmd_set);
	switch (st) {
	case STORE_OK: code = "HD"; break;
	case STORE_NOT_STORED: code = "NS"; break;
	case STORE_EXISTS: code = "EX"; break;
	case STORE_NOT_FOUND: code = "NF"; break;
	case STORE_TOO_LARGE: out_str(w, E_TOO_LARGE); return true;
	default: out_str(w, E_OOM_STORE); return true;
	}
	if (st == STORE_OK && req->noreply)
		return true;
	/* A store that did not happen returns c0, as memcached's (its new item's cas). */
	if (st != STORE_OK)
		memset(&res, 0, sizeof(res));
	out_append(w, code, 2);
	meta_ret_flags(c, req, &res, false, w->now);
	return true;
}

static bool
exec_md(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_delete_opts o = { 0 };
	const struct proto_meta_flag *f;
	enum store_status st;

	if (!has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	if ((f = proto_meta_flag(req, 'C')) != NULL)
		o.cas = meta_u64(f);
	o.invalidate = proto_meta_flag(req, 'I') != NULL;
	if ((f = proto_meta_flag(req, 'T')) != NULL) {
		o.touch = true;
		o.exptime = mcd_exptime(w->mcd, meta_i64(f), w->now);
	}
	st = store_delete(t->store, req->key.p, req->key.len, w->now, &o);
	if (st == STORE_OK) {
		if (req->noreply)
			return true;
		out_append(w, "HD", 2);
	} else if (st == STORE_EXISTS) {
		out_append(w, "EX", 2);
	} else {
		out_append(w, "NF", 2); /* q hides only HD, as in memcached */
	}
	meta_ret_flags(c, req, NULL, false, w->now);
	return true;
}

static bool
exec_ma(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_arith_opts o = { 0 };
	struct store_result res = { 0 };
	const struct proto_meta_flag *f;
	enum store_status st;
	char num[24];
	int n = 0;

	if (!has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, E_NO_WRITE);
	o.delta = 1;
	if ((f = proto_meta_flag(req, 'M')) != NULL) {
		switch (f->tok.p[0]) {
		case 'I': case 'i': case '+': o.decr = false; break;
		case 'D': case 'd': case '-': o.decr = true; break;
		default:
			out_str(w, "CLIENT_ERROR invalid mode for ma M token");
			return true;
		}
	}
	if ((f = proto_meta_flag(req, 'D')) != NULL)
		o.delta = meta_u64(f);
	if ((f = proto_meta_flag(req, 'C')) != NULL)
		o.cas = meta_u64(f);
	if ((f = proto_meta_flag(req, 'N')) != NULL) {
		o.vivify = true;
		o.vivify_exptime = mcd_exptime(w->mcd, meta_i64(f), w->now);
		if ((f = proto_meta_flag(req, 'J')) != NULL)
			o.initial = meta_u64(f);
	}
	if ((f = proto_meta_flag(req, 'T')) != NULL) {
		o.touch = true;
		o.exptime = mcd_exptime(w->mcd, meta_i64(f), w->now);
	}
	st = store_arith(t->store, req->key.p, req->key.len, w->now, &o, &res);
	switch (st) {
	case STORE_OK:
		if (proto_meta_flag(req, 'v') != NULL) {
			n = snprintf(num, sizeof(num), "%llu", (unsigned long long)res.value);
			out_append(w, "VA ", 3);
			out_u64(w, (uint64_t)n);
		} else {
			if (req->noreply)
				return true;
			out_append(w, "HD", 2);
		}
		meta_ret_flags(c, req, &res, true, w->now);
		if (proto_meta_flag(req, 'v') != NULL) {
			out_append(w, num, (size_t)n);
			out_append(w, "\r\n", 2);
		}
		return true;
	case STORE_NOT_FOUND:
		out_append(w, "NF", 2); /* q hides only HD, as in memcached */
		break;
	case STORE_EXISTS:
		out_append(w, "EX", 2);
		break;
	case STORE_NOT_STORED:
		out_append(w, "NS", 2);
		break;
	case STORE_NON_NUMERIC:
		out_str(w, E_NON_NUMERIC);
		return true;
	default:
		out_str(w, E_OOM);
		return true;
	}
	meta_ret_flags(c, req, NULL, false, w->now);
	return true;
}

struct me_ctx {
	struct worker *w;
	bool binary;
};

static void
emit_me(void *arg, const struct store_item_info *it)
{
	struct me_ctx *g = arg;
	struct worker *w = g->w;
	char line[160];
	int n;

	out_append(w, "ME ", 3);
	if (g->binary) {
		char enc[(PROTO_KEY_MAX + 2) / 3 * 4 + 4];
		size_t k = proto_base64_encode((const unsigned char *)it->key, it->klen, enc,
		    sizeof(enc));
		out_append(w, enc, k);
	} else {
		out_append(w, it->key, it->klen);
	}
	/* exp is memcached's "now - exptime" (negative while live), kept for tools
	 * that parse it. */
	n = snprintf(line, sizeof(line), " exp=%lld la=%lld cas=%llu fetch=%s cls=1 size=%zu\r\n",
	    (long long)(it->exptime == 0 ? -1 : -ttl_left(it->exptime, w->now)),
	    (long long)((w->now - it->last_access) / 1000), (unsigned long long)it->cas,
	    it->fetched ? "yes" : "no", it->klen + it->vlen + STORE_ITEM_OVERHEAD);
	out_append(w, line, (size_t)n);
}

static bool
exec_me(struct conn *c, struct proto_request *req)
{
	struct store_get_opts o = { .no_bump = true };
	struct me_ctx g = { c->w, req->key_binary };

	if (!has_cap(conn_tenant(c), TENANT_CAP_READ))
		return denied(c, req, E_NO_READ);
	if (store_get(conn_tenant(c)->store, req->key.p, req->key.len, c->w->now, &o, emit_me, &g) !=
	    STORE_OK)
		out_str(c->w, "EN");
	return true;
}

/* --- memcached's operator commands ------------------------------------------------ */

/* True if c is the operator's: the admin port, or a listener without
 * authentication (as memcached, whose every connection is the operator's). */
static bool
conn_is_operator(const struct conn *c)
{
	return c->listener->kind == LISTENER_ADMIN || !c->listener->auth;
}

/* cache_memlimit <MB> [noreply]: memcached's run-time -m (docs/mcd.md). */
static bool
exec_cache_memlimit(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	struct tenant *t;
	uint64_t mb;

	if (req->ntokens < 1 ||
	    parse_u64_n(req->tokens[0].p, req->tokens[0].len, 0, UINT32_MAX, &mb) < 0) {
		out_str(w, RPL_ERROR); /* memcached's reply to a missing or bad size */
		return true;
	}
	req->noreply = token_eq(&req->tokens[req->ntokens - 1], "noreply");
	if (!conn_is_operator(c)) {
		out_str(w, E_MEMLIMIT_TENANT);
		return true;
	}
	if (m->proxy != NULL) {
		out_str(w, E_MEMLIMIT_PROXY);
		return true;
	}
	if (mb < MCD_MEMLIMIT_MIN_MB) {
		out_str(w, E_MEMLIMIT_SMALL);
		return true;
	}
	if (mb > MEMLIMIT_MAX_MB) {
		out_str(w, "CLIENT_ERROR cache_memlimit above 16777216 (MB)");
		return true;
	}
	if ((t = tenant_default(&m->tenants)) == NULL) {
		out_str(w, E_MEMLIMIT_TENANTS);
		return true;
	}
	store_set_limit(t->store, mb << 20, w->now);
	tenant_put(t);
	__atomic_store_n(&m->set.memory, mb << 20, __ATOMIC_RELAXED);
	LOG_LIMITED(LOG_LEVEL_INFO, "cache_memlimit: memory limit now %llu MB",
	    (unsigned long long)mb);
	reply(c, req, RPL_OK);
	return true;
}

/* shutdown [graceful]: only with -A, only on the admin port; always the graceful
 * stop of SIGTERM (queued replies are sent, then the process exits). */
static bool
exec_shutdown(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;

	if (!w->mcd->set.enable_shutdown) {
		out_str(w, E_SHUTDOWN_OFF);
		return true;
	}
	if (req->ntokens > 1 || (req->ntokens == 1 && !token_eq(&req->tokens[0], "graceful"))) {
		out_str(w, E_SHUTDOWN_MODE);
		return true;
	}
	if (c->listener->kind != LISTENER_ADMIN) {
		out_str(w, E_SHUTDOWN_ADMIN);
		return true;
	}
	log_info("admin: shutdown requested");
	out_str(w, RPL_OK);
	/* The main thread's SIGTERM handler is the one graceful stop. */
	kill(getpid(), SIGTERM);
	return true;
}

/* Whether an unknown command line is an HTTP request line ("GET / HTTP/1.0"): a
 * browser or a scanner, led to the port by a page (cross-protocol requests), not a
 * memcache client. */
static bool
http_request_line(const struct proto_request *req)
{
	const struct proto_token *last;

	if (req->ntokens == 0)
		return false;
	last = &req->tokens[req->ntokens - 1];
	return last->len >= 5 && memcmp(last->p, "HTTP/", 5) == 0;
}

/* Command words that are no data command: memcached's operator commands, or
 * ERROR as memcached answers an unknown one (misbehave and debugtime included:
 * memcached built without debugging answers ERROR too). An HTTP request line is
 * hung up on without a reply, as memcached does. */
static bool
exec_other(struct conn *c, struct proto_request *req)
{
	if (token_eq(&req->name, "cache_memlimit"))
		return exec_cache_memlimit(c, req);
	if (token_eq(&req->name, "shutdown"))
		return exec_shutdown(c, req);
	if (http_request_line(req)) {
		STAT_INC(c->w->stats.protocol_errors);
		return false;
	}
	out_str(c->w, RPL_ERROR);
	return true;
}

/* --- admin ------------------------------------------------------------------------- */

struct flush_all_ctx {
	int64_t now, at;
	size_t n;
};

static void
flush_one(void *arg, struct tenant *t)
{
	struct flush_all_ctx *f = arg;

	store_flush(t->store, f->now, f->at);
	f->n++;
}

static bool
exec_admin_other(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;
	struct mcd *m = w->mcd;
	char msg[256];
	uint64_t n;
	int64_t delay;

	if (token_eq(&req->name, "flush_tenant")) {
		struct tenant *t;
		if (req->ntokens < 1 || req->ntokens > 2) {
			out_str(w, "CLIENT_ERROR usage: flush_tenant NAME [delay]");
			return true;
		}
		delay = 0;
		if (req->ntokens == 2 && parse_i64_n(req->tokens[1].p, req->tokens[1].len, 0,
		    INT32_MAX, &delay) < 0) {
			out_str(w, "CLIENT_ERROR bad command line format");
			return true;
		}
		t = tenant_find(&m->tenants, req->tokens[0].p, req->tokens[0].len);
		if (t == NULL) {
			out_str(w, "CLIENT_ERROR no such tenant");
			return true;
		}
		store_flush(t->store, w->now, delay ? mcd_exptime(m, delay, w->now) : w->now);
		tenant_put(t);
		STAT_INC(w->stats.cmd_flush);
		log_info("admin: flushed tenant '%.*s'", (int)req->tokens[0].len, req->tokens[0].p);
		out_str(w, RPL_OK);
		return true;
	}
	if (token_eq(&req->name, "shed")) {
		if (req->ntokens != 1 || parse_u64_n(req->tokens[0].p, req->tokens[0].len, 1,
		    UINT32_MAX, &n) < 0) {
			out_str(w, "CLIENT_ERROR usage: shed N (N >= 1)");
			return true;
		}
		mcd_broadcast(m, WMSG_SHED, n);
		log_info("admin: shedding up to %llu client connections", (unsigned long long)n);
		out_str(w, RPL_OK);
		return true;
	}
	if (token_eq(&req->name, "drain")) {
		if (req->ntokens != 1 || (!token_eq(&req->tokens[0], "on") &&
		    !token_eq(&req->tokens[0], "off"))) {
			out_str(w, "CLIENT_ERROR usage: drain on|off");
			return true;
		}
		if (token_eq(&req->tokens[0], "on")) {
			atomic_store(&m->draining, true);
			mcd_broadcast(m, WMSG_DRAIN, 0);
			log_info("admin: draining (new client connections refused)");
		} else {
			atomic_store(&m->draining, false);
			log_info("admin: drain off (accepting client connections)");
		}
		out_str(w, RPL_OK);
		return true;
	}
	if (token_eq(&req->name, "reload")) {
		if (m->proxy != NULL) {
			if (proxy_reload(m, msg, sizeof(msg)) < 0) {
				log_err("admin reload: keeping the running backends: %s", msg);
				out_append(w, "SERVER_ERROR ", 13);
				out_str(w, msg);
				return true;
			}
			log_info("admin reload: proxy file re-read: %s", msg);
			if (m->set.tenants_path[0] == '\0') {
				out_str(w, RPL_OK);
				return true;
			}
		}
		if (mcd_reload_tenants(m, msg, sizeof(msg)) < 0) {
			log_err("admin reload: keeping the running tenants: %s", msg);
			out_append(w, "SERVER_ERROR ", 13);
			out_str(w, msg);
		} else {
			log_info("admin reload: %s", msg);
			out_str(w, RPL_OK);
		}
		return true;
	}
	return exec_other(c, req);
}

static bool
exec_admin(struct conn *c, struct proto_request *req)
{
	struct worker *w = c->w;

	switch (req->cmd) {
	case CMD_STATS:
		if (req->ntokens == 0) {
			stats_write_global(c, req);
		} else if (req->ntokens == 1 && token_eq(&req->tokens[0], "settings")) {
			stats_write_settings(c);
		} else if (req->ntokens >= 1 && token_eq(&req->tokens[0], "tenants")) {
			size_t top;
			if (stats_top(c, req, &top))
				stats_write_tenants(c, top);
		} else if (req->ntokens >= 1 && token_eq(&req->tokens[0], "sources")) {
			size_t top;
			if (stats_top(c, req, &top))
				stats_write_sources(c, top != 0 ? top : MCD_STATS_SOURCES_TOP);
		} else if (req->ntokens == 1 && token_eq(&req->tokens[0], "kernel")) {
			stats_write_kernel(c);
		} else if (req->ntokens == 1 && token_eq(&req->tokens[0], "proxy")) {
			proxy_stats_write(c);
		} else if (req->ntokens == 1 && token_eq(&req->tokens[0], "backends")) {
			proxy_stats_backends_write(c);
		} else if (!stats_memcached(c, req, NULL, NULL)) {
			out_str(w, RPL_ERROR);
		}
		return true;
	case CMD_FLUSH_ALL: {
		struct flush_all_ctx f = { w->now, flush_at(w, req), 0 };
		if (w->mcd->proxy != NULL) {
			/* A proxy stores nothing: saying OK would flush nothing. */
			out_str(w, "CLIENT_ERROR a proxy holds no data: flush its backends");
			return true;
		}
		tenant_registry_foreach(&w->mcd->tenants, flush_one, &f);
		STAT_INC(w->stats.cmd_flush);
		log_info("admin: flush_all of %zu tenants", f.n);
		reply(c, req, RPL_OK);
		return true;
	}
	case CMD_VERSION:
		out_version(w);
		return true;
	case CMD_VERBOSITY:
		return exec_verbosity(c, req);
	case CMD_QUIT:
		return false;
	case CMD_OTHER:
		return exec_admin_other(c, req);
	default:
		out_str(w, "CLIENT_ERROR not a data port: use the client port");
		return true;
	}
}

/* --- acting for a tenant ------------------------------------------------------------ */

/*
 * proxy_as TENANT: from now on this connection's data commands act for TENANT, with
 * TENANT's store, limit and capabilities. Only a connection logged in with the proxy
 * capability has the command; to anyone else it does not exist (ERROR, as any
 * unknown command). It has no reply, so that a proxy can put it before any request
 * without changing how many replies come back. A name that is no ordinary tenant
 * (unknown, removed, admin, another proxy account) leaves the connection acting for
 * nobody: its data commands are then refused for lack of capability, one error
 * reply each, so the proxy's count of replies still holds.
 */
static bool
exec_proxy_as(struct conn *c, struct proto_request *req)
{
	struct tenant *t = NULL;

	if (req->ntokens == 1)
		t = tenant_find(&c->w->mcd->tenants, req->tokens[0].p, req->tokens[0].len);
	if (t != NULL && (atomic_load(&t->removed) ||
	    (atomic_load(&t->caps) & (TENANT_CAP_ADMIN | TENANT_CAP_PROXY)) != 0)) {
		tenant_put(t);
		t = NULL;
	}
	if (c->act != NULL)
		tenant_put(c->act);
	c->act = t;
	return true;
}

static bool
may_act(const struct conn *c, const struct proto_request *req)
{
	return req->cmd == CMD_OTHER && token_eq(&req->name, "proxy_as") && c->tenant != NULL &&
	    (atomic_load(&c->tenant->caps) & TENANT_CAP_PROXY) != 0 &&
	    c->w->mcd->proxy == NULL;
}

/* --- entry ------------------------------------------------------------------------- */

bool
exec_request(struct conn *c, struct proto_request *req, enum proto_status st)
{
	struct worker *w = c->w;

	atomic_store_explicit(&c->last_cmd, w->now, memory_order_relaxed);

	if (st == PROTO_ERROR || st == PROTO_SWALLOW) {
		STAT_INC(w->stats.protocol_errors);
		/* memcached's classic noreply hides errors too; meta errors always show. */
		if (!req->noreply || is_meta(req->cmd))
			out_str(w, req->error);
		/* A set too large for the cache drops the old value, as memcached does. */
		if (req->too_large && req->cmd == CMD_SET && c->tenant != NULL &&
		    c->deadline == 0 && w->mcd->proxy != NULL)
			return proxy_forget(c, req);
		if (req->too_large && req->cmd == CMD_SET && c->tenant != NULL &&
		    c->deadline == 0 && has_cap(conn_tenant(c), TENANT_CAP_WRITE))
			store_delete(conn_tenant(c)->store, req->key.p, req->key.len, w->now, NULL);
		return true;
	}
	if (c->listener->auth && c->tenant == NULL)
		return exec_auth(c, req);
	if (c->listener->kind == LISTENER_ADMIN)
		return exec_admin(c, req);
	if (may_act(c, req))
		return exec_proxy_as(c, req);
	if (c->w->mcd->proxy != NULL && proxy_routes(req->cmd))
		return proxy_request(c, req);
	if (is_meta(req->cmd))
		STAT_INC(w->stats.cmd_meta);
	switch (req->cmd) {
	case CMD_GET: case CMD_GETS: case CMD_GAT: case CMD_GATS:
		return exec_get(c, req);
	case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND:
	case CMD_CAS:
		return exec_store(c, req);
	case CMD_DELETE:
		return exec_delete(c, req);
	case CMD_INCR: case CMD_DECR:
		return exec_arith(c, req);
	case CMD_TOUCH:
		return exec_touch(c, req);
	case CMD_FLUSH_ALL:
		return exec_flush(c, req);
	case CMD_STATS:
		return exec_stats(c, req);
	case CMD_VERSION:
		out_version(w);
		return true;
	case CMD_VERBOSITY:
		return exec_verbosity(c, req);
	case CMD_QUIT:
		return false;
	case CMD_MG:
		return exec_mg(c, req);
	case CMD_MS:
		return exec_ms(c, req);
	case CMD_MD:
		return exec_md(c, req);
	case CMD_MA:
		return exec_ma(c, req);
	case CMD_MN:
		out_str(w, "MN");
		return true;
	case CMD_ME:
		return exec_me(c, req);
	case CMD_OTHER:
		return exec_other(c, req);
	default:
		out_str(w, RPL_ERROR);
		return true;
	}
}
