/*
 * backend — the proxy file, pools of backends and their health. See backend.h.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "parse.h"

#define SECTION "proxy"

/* Defaults: twemproxy's server_failure_limit is 2; its retry of 30 s is long for a
 * cache whose misses cost a database query each, so a down backend is tried again
 * after 1 s, then 2, 4 ... up to 30 s. */
#define DEF_TIMEOUT_MS 1000
#define DEF_FAILURE_LIMIT 2
#define DEF_RETRY_MS 1000
#define DEF_RETRY_MAX_MS 30000
#define DEF_TAIL_MS 2
#define DEF_CONNECTIONS 2
#define DEF_QUEUE_LIMIT 1024

/* --- the proxy file -------------------------------------------------------------- */

/* "host:port:weight [name]" (nutcracker's server line; host may be "[v6]"). */
static int
parse_backend(const char *v, struct proxy_backend_conf *bc, char *err, size_t errlen)
{
	char spec[PROXY_HOST_MAX + 32];
	const char *sp = strchr(v, ' '), *name = NULL;
	char *c1, *c2, *host;
	uint64_t port, weight;
	size_t n;

	memset(bc, 0, sizeof(*bc));
	n = sp != NULL ? (size_t)(sp - v) : strlen(v);
	if (sp != NULL) {
		name = sp;
		while (*name == ' ' || *name == '\t')
			name++;
		if (*name == '\0')
			name = NULL;
	}
	if (n == 0 || n >= sizeof(spec)) {
		snprintf(err, errlen, "'%.64s' is not host:port:weight [name]", v);
		return -1;
	}
	memcpy(spec, v, n);
	spec[n] = '\0';
	if ((c2 = strrchr(spec, ':')) == NULL) {
		snprintf(err, errlen, "'%.64s' is not host:port:weight [name]", v);
		return -1;
	}
	*c2 = '\0';
	if ((c1 = strrchr(spec, ':')) == NULL) {
		snprintf(err, errlen, "'%.64s' is not host:port:weight [name]", v);
		return -1;
	}
	*c1 = '\0';
	host = spec;
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 3 || host[hl - 1] != ']') {
			snprintf(err, errlen, "'%.64s': an IPv6 host goes in brackets", v);
			return -1;
		}
		host[hl - 1] = '\0';
		host++;
	}
	if (host[0] == '\0' || strlen(host) >= sizeof(bc->host)) {
		snprintf(err, errlen, "'%.64s': no host", v);
		return -1;
	}
	if (parse_u64(c1 + 1, 1, 65535, &port) < 0) {
		snprintf(err, errlen, "'%.64s': port must be 1 to 65535", v);
		return -1;
	}
	if (parse_u64(c2 + 1, 1, KETAMA_WEIGHT_MAX, &weight) < 0) {
		snprintf(err, errlen, "'%.64s': weight must be 1 to %d", v, KETAMA_WEIGHT_MAX);
		return -1;
	}
	memcpy(bc->host, host, strlen(host) + 1);
	bc->port = (uint16_t)port;
	bc->weight = (uint32_t)weight;
	if (name != NULL) {
		size_t nl = strlen(name);
		while (nl > 0 && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
			nl--;
		if (nl > KETAMA_NAME_MAX || memchr(name, ' ', nl) != NULL) {
			snprintf(err, errlen, "'%.64s': a name is one word of at most %d bytes", v,
			    KETAMA_NAME_MAX);
			return -1;
		}
		memcpy(bc->name, name, nl);
		bc->name[nl] = '\0';
	} else if (ketama_default_name(bc->name, sizeof(bc->name), host, (uint16_t)port, err,
	    errlen) < 0) {
		return -1;
	}
	return 0;
}

/*
 * A duration key of the proxy file: a bare number is milliseconds, as in
 * nutcracker's configuration (operators carry its numbers over); a unit (ms, s,
 * m, h) may be given as anywhere else.
 */
static void
get_ms(struct config *cfg, const char *key, int64_t def, int64_t *out,
    struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, SECTION, key);
	uint64_t u;

	*out = def;
	if (e == NULL)
		return;
	if (parse_u64(e->value, 0, INT64_MAX / 2, &u) == 0) {
		*out = (int64_t)u;
		return;
	}
	if (parse_duration_ms(e->value, out) < 0) {
		config_error(errs, cfg, e->line, "%s: '%s' is not a duration (milliseconds, or "
		    "with a unit: 400ms, 2s)", key, e->value);
		*out = def;
	}
}

/* before: the errors errs held before the file was read (its syntax errors count). */
static int
conf_from(struct proxy_conf *pc, struct config *cfg, bool need_account,
    struct config_errors *errs, size_t before)
{
	struct proxy_conf c = { 0 };
	const char *v;
	char err[256];
	size_t i, j, cap = 0;

	get_ms(cfg, "timeout", DEF_TIMEOUT_MS, &c.timeout_ms, errs);
	get_ms(cfg, "retry_timeout", DEF_RETRY_MS, &c.retry_ms, errs);
	/* retry_max defaults to at least retry_timeout: a long first wait alone is fine. */
	get_ms(cfg, "retry_max", DEF_RETRY_MAX_MS > c.retry_ms ? DEF_RETRY_MAX_MS : c.retry_ms,
	    &c.retry_max_ms, errs);
	get_ms(cfg, "tail_ms", DEF_TAIL_MS, &c.tail_ms, errs);
	config_get_u64(cfg, SECTION, "failure_limit", 1, 1000, DEF_FAILURE_LIMIT,
	    &c.failure_limit, errs);
	config_get_u64(cfg, SECTION, "connections", 1, PROXY_CONNS_MAX, DEF_CONNECTIONS,
	    &c.connections, errs);
	config_get_u64(cfg, SECTION, "queue_limit", 1, PROXY_QUEUE_MAX, DEF_QUEUE_LIMIT,
	    &c.queue_limit, errs);
	config_get_bool(cfg, SECTION, "eject", false, &c.eject, errs);
	if (c.timeout_ms < 1 || c.timeout_ms > 3600000)
		config_error(errs, cfg, 0, "timeout: from 1ms to 1h");
	if (c.tail_ms < 0 || c.tail_ms > 3600000)
		config_error(errs, cfg, 0, "tail_ms: from 0 to 1h");
	if (c.retry_ms < 1 || c.retry_max_ms < c.retry_ms || c.retry_max_ms > 3600000)
		config_error(errs, cfg, 0, "retry_timeout and retry_max: 1ms <= retry_timeout "
		    "<= retry_max <= 1h");
	config_copy_str(cfg, SECTION, "account", c.account, sizeof(c.account), errs);
	config_get_str(cfg, SECTION, "password", NULL, &v, errs);
	if (v != NULL) {
		if (strlen(v) >= sizeof(c.password) || strlen(v) > TENANT_PASSWORD_MAX)
			config_error(errs, cfg, config_find(cfg, SECTION, "password")->line,
			    "password: longer than %d bytes", TENANT_PASSWORD_MAX);
		else
			memcpy(c.password, v, strlen(v) + 1);
	}
	config_get_str(cfg, SECTION, "password_file", NULL, &v, errs);
	if (v != NULL && config_read_secret(v, c.password, sizeof(c.password), err,
	    sizeof(err)) < 0)
		config_error(errs, cfg, config_find(cfg, SECTION, "password_file")->line,
		    "password_file: %s", err);
	if (need_account && (c.account[0] == '\0' || c.password[0] == '\0'))
		config_error(errs, cfg, 0, "with --tenants the proxy needs `account` and "
		    "`password` or `password_file`: the internal account it logs in to the "
		    "backends as");
	if (!need_account && c.account[0] != '\0')
		config_error(errs, cfg, 0, "`account` is for a proxy with --tenants: without, "
		    "the backends must not authenticate either");
	for (i = 0; i < cfg->n; i++) {
		struct config_entry *e = &cfg->entries[i];
		struct proxy_backend_conf *nb = c.backends;
		if (strcmp(e->section, SECTION) != 0 || strcmp(e->key, "backend") != 0)
			continue;
		e->used = true;
		if (c.nbackends == KETAMA_SERVERS_MAX) {
			config_error(errs, cfg, e->line, "backend: more than %d backends",
			    KETAMA_SERVERS_MAX);
			break;
		}
		if (c.nbackends == cap) {
			cap = cap == 0 ? 8 : 2 * cap;
			if ((nb = realloc(c.backends, cap * sizeof(*nb))) == NULL) {
				config_error(errs, cfg, e->line, "out of memory");
				break;
			}
			c.backends = nb;
		}
		if (parse_backend(e->value, &nb[c.nbackends], err, sizeof(err)) < 0) {
			config_error(errs, cfg, e->line, "backend: %s", err);
			continue;
		}
		nb[c.nbackends].line = e->line;
		for (j = 0; j < c.nbackends; j++)
			if (strcmp(nb[j].name, nb[c.nbackends].name) == 0)
				config_error(errs, cfg, e->line, "backend: the name '%s' is also on "
				    "line %d (names place keys: each must be unique)", nb[j].name,
				    nb[j].line);
		c.nbackends++;
	}
	if (c.nbackends == 0 && errs->n + errs->dropped == before)
		config_error(errs, cfg, 0, "no backend: add `backend = host:port:weight [name]` "
		    "lines to [proxy]");
	config_check_unknown(cfg, NULL, errs);
	if (errs->n + errs->dropped > before) {
		free(c.backends);
		explicit_bzero(c.password, sizeof(c.password));
		return -1;
	}
	*pc = c;
	return 0;
}

int
proxy_conf_load(struct proxy_conf *pc, const char *path, bool need_account,
    struct config_errors *errs)
{
	struct config cfg;
	size_t before = errs->n + errs->dropped;
	int rc = -1;

	if (config_load(&cfg, path, errs) == 0)
		rc = conf_from(pc, &cfg, need_account, errs, before);
	config_release(&cfg);
	return rc;
}

int
proxy_conf_load_string(struct proxy_conf *pc, const char *name, const char *text,
    bool need_account, struct config_errors *errs)
{
	struct config cfg;
	size_t before = errs->n + errs->dropped;
	int rc = -1;

	if (config_load_string(&cfg, name, text, errs) == 0)
		rc = conf_from(pc, &cfg, need_account, errs, before);
	config_release(&cfg);
	return rc;
}

void
proxy_conf_release(struct proxy_conf *pc)
{
	free(pc->backends);
	pc->backends = NULL;
	pc->nbackends = 0;
	explicit_bzero(pc->password, sizeof(pc->password));
}

/* --- pools ------------------------------------------------------------------------- */

/* Backends are shared between pools: a reload keeps the health of those it keeps.
 * Their reference count is the number of pools holding them. */
struct backend_ref {
	struct backend b;
	_Atomic int refs;
};

static struct backend *
backend_new(const struct proxy_backend_conf *bc, char *err, size_t errlen)
{
	struct backend_ref *r = calloc(1, sizeof(*r));
	struct addrinfo hints = { 0 }, *ai = NULL;
	char port[8];
	int e;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", bc->port);
	if ((e = getaddrinfo(bc->host, port, &hints, &ai)) != 0 || ai == NULL) {
		snprintf(err, errlen, "backend %s: cannot resolve '%s': %s", bc->name, bc->host,
		    gai_strerror(e));
		free(r);
		return NULL;
	}
	memcpy(&r->b.sa, ai->ai_addr, ai->ai_addrlen);
	r->b.salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	memcpy(r->b.name, bc->name, sizeof(r->b.name));
	snprintf(r->b.addr, sizeof(r->b.addr), strchr(bc->host, ':') != NULL ? "[%s]:%u" :
	    "%s:%u", bc->host, bc->port);
	r->b.weight = bc->weight;
	pthread_mutex_init(&r->b.lock, NULL);
	atomic_store(&r->refs, 1);
	return &r->b;
}

static void
backend_put(struct backend *b)
{
	struct backend_ref *r = (struct backend_ref *)b;

	if (atomic_fetch_sub(&r->refs, 1) == 1) {
		pthread_mutex_destroy(&b->lock);
		free(r);
	}
}

struct pool *
pool_new(struct proxy_conf *conf, struct pool *old, uint64_t gen, char *err, size_t errlen)
{
	struct pool *p = calloc(1, sizeof(*p));
	struct ketama_server *ks = NULL;
	size_t i, j;

	if (p == NULL || (p->b = calloc(conf->nbackends, sizeof(*p->b))) == NULL ||
	    (ks = calloc(conf->nbackends, sizeof(*ks))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < conf->nbackends; i++) {
		const struct proxy_backend_conf *bc = &conf->backends[i];
		struct backend *b = NULL;
		for (j = 0; old != NULL && j < old->nb; j++) {
			char addr[sizeof(old->b[j]->addr)];
			snprintf(addr, sizeof(addr), strchr(bc->host, ':') != NULL ? "[%s]:%u" :
			    "%s:%u", bc->host, bc->port);
			if (strcmp(old->b[j]->name, bc->name) == 0 &&
			    strcmp(old->b[j]->addr, addr) == 0 && old->b[j]->weight == bc->weight) {
				b = old->b[j];
				atomic_fetch_add(&((struct backend_ref *)b)->refs, 1);
				break;
			}
		}
		if (b == NULL && (b = backend_new(bc, err, errlen)) == NULL)
			goto fail;
		p->b[p->nb++] = b;
		ks[i].name = b->name;
		ks[i].weight = b->weight;
	}
	if (ketama_init(&p->ring, ks, p->nb, err, errlen) < 0)
		goto fail;
	free(ks);
	p->conf = *conf;
	memset(conf, 0, sizeof(*conf));
	p->gen = gen;
	atomic_store(&p->refs, 1);
	return p;
fail:
	free(ks);
	if (p != NULL) {
		for (i = 0; i < p->nb; i++)
			backend_put(p->b[i]);
		free(p->b);
		free(p);
	}
	return NULL;
}

void
pool_get(struct pool *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void
pool_put(struct pool *p)
{
	size_t i;

	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	for (i = 0; i < p->nb; i++)
		backend_put(p->b[i]);
	free(p->b);
	ketama_release(&p->ring);
	proxy_conf_release(&p->conf);
	free(p);
}

/* --- health ------------------------------------------------------------------------ */

bool
backend_usable(struct backend *b, int64_t now, bool *probe)
{
	bool no = false;

	*probe = false;
	if (atomic_load_explicit(&b->state, memory_order_relaxed) == BACKEND_UP)
		return true;
	if (now < atomic_load(&b->retry_at))
		return false;
	if (!atomic_compare_exchange_strong(&b->probing, &no, true))
		return false;
	*probe = true;
	STAT_ADD_B(b->retries, 1);
	return true;
}

int
pool_pick(const struct pool *p, uint32_t hash, int64_t now)
{
	const struct ketama *k = &p->ring;
	int s = ketama_lookup_hash(k, hash);
	size_t i, at;

	if (s < 0 || !p->conf.eject ||
	    atomic_load_explicit(&p->b[s]->state, memory_order_relaxed) == BACKEND_UP)
		return s;
	/* With eject, on around the ring to a backend that is up, as twemproxy does by
	 * rebuilding its ring without the ejected servers (the same backends, save
	 * for nutcracker's rounding of point counts). A down backend whose retry is
	 * due keeps its keys: that is how it is tried again. */
	if (now >= atomic_load(&p->b[s]->retry_at))
		return s;
	at = ketama_point_index(k, hash);
	for (i = 1; i < k->npoints; i++) {
		uint32_t srv = k->points[(at + i) % k->npoints].server;
		if (atomic_load_explicit(&p->b[srv]->state, memory_order_relaxed) == BACKEND_UP)
			return (int)srv;
	}
	return -1;
}

void
backend_success(struct backend *b)
{
	uint64_t failed;
	int64_t since;

	atomic_store_explicit(&b->failures, 0, memory_order_relaxed);
	if (atomic_load_explicit(&b->state, memory_order_relaxed) == BACKEND_UP)
		return;
	pthread_mutex_lock(&b->lock);
	if (atomic_load(&b->state) == BACKEND_DOWN) {
		since = atomic_load(&b->down_since);
		failed = atomic_exchange(&b->failed_while_down, 0);
		atomic_store(&b->state, BACKEND_UP);
		atomic_store(&b->down_since, 0);
		atomic_store(&b->backoff_ms, 0);
		log_info("backend %s (%s) is up again after %.1f s; %llu requests failed fast "
		    "while it was down", b->name, b->addr,
		    (double)(clock_wall_ms() - since) / 1000.0, (unsigned long long)failed);
	}
	atomic_store(&b->probing, false);
	pthread_mutex_unlock(&b->lock);
}

void
backend_failure(struct backend *b, const struct proxy_conf *conf, int64_t now,
    const char *cause)
{
	uint64_t n = atomic_fetch_add(&b->failures, 1) + 1;
	int64_t wait;

	STAT_ADD_B(b->errors, 1);
	if (atomic_load(&b->state) == BACKEND_UP && n < conf->failure_limit)
		return;
	pthread_mutex_lock(&b->lock);
	snprintf(b->last_error, sizeof(b->last_error), "%s", cause);
	if (atomic_load(&b->state) == BACKEND_UP) {
		atomic_store(&b->state, BACKEND_DOWN);
		atomic_store(&b->down_since, clock_wall_ms());
		atomic_store(&b->backoff_ms, conf->retry_ms);
		atomic_store(&b->retry_at, now + conf->retry_ms);
		log_warn("backend %s (%s) is down after %llu failures (%s); retrying in %lld ms%s",
		    b->name, b->addr, (unsigned long long)n, cause, (long long)conf->retry_ms,
		    conf->eject ? "; its keys go to the next backend on the ring" :
		    "; its keys fail fast");
	} else if (atomic_load(&b->probing)) {
		/* The retry failed: wait twice as long (quietly: the state did not change). */
		wait = atomic_load(&b->backoff_ms) * 2;
		if (wait > conf->retry_max_ms)
			wait = conf->retry_max_ms;
		atomic_store(&b->backoff_ms, wait);
		atomic_store(&b->retry_at, now + wait);
		atomic_store(&b->probing, false);
	}
	pthread_mutex_unlock(&b->lock);
}

void
backend_latency(struct backend *b, uint64_t us, int64_t tail_us)
{
	int i = 0;

	while (i < PROXY_LAT_BUCKETS - 1 && (1ULL << i) <= us)
		i++;
	STAT_ADD_B(b->latency[i], 1);
	STAT_ADD_B(b->replies, 1);
	if ((int64_t)us > tail_us)
		STAT_ADD_B(b->tail, 1);
}

uint64_t
backend_latency_quantile(const struct backend *b, double q)
{
	uint64_t counts[PROXY_LAT_BUCKETS], total = 0, acc = 0, want;
	int i;

	for (i = 0; i < PROXY_LAT_BUCKETS; i++) {
		counts[i] = atomic_load_explicit(&b->latency[i], memory_order_relaxed);
		total += counts[i];
	}
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total);
	if (want >= total)
		want = total - 1;
	for (i = 0; i < PROXY_LAT_BUCKETS; i++) {
		if (acc + counts[i] > want) {
			/* Interpolate within [2^(i-1), 2^i). */
			uint64_t lo = i == 0 ? 0 : 1ULL << (i - 1), hi = 1ULL << i;
			double f = (double)(want - acc) / (double)counts[i];
			return lo + (uint64_t)(f * (double)(hi - lo));
		}
		acc += counts[i];
	}
	return 1ULL << (PROXY_LAT_BUCKETS - 1);
}
