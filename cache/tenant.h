/*
 * tenant — the running server's tenants: each with its own store, counters and
 * credentials, looked up by name at authentication.
 *
 * The registry is rebuilt from the tenants file on start and on reload. A tenant
 * that stays in the file keeps its struct (and its store: nothing is flushed by a
 * reload); its password, limit and capabilities are updated in place. A tenant
 * that left the file is marked removed; the server closes its connections, and the
 * struct is freed when the last reference goes (tenant_put).
 *
 * Without a tenants file the registry holds one default tenant (name ""), used by
 * every connection without authentication — memcached's behaviour.
 */
#ifndef MCOPS_TENANT_H
#define MCOPS_TENANT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "connreqs.h"
#include "rate.h"
#include "store.h"
#include "tenants.h"

/* Counters of one tenant, updated with relaxed atomics from every worker. */
struct tenant_counters {
	_Atomic uint64_t cmd_get, cmd_set, cmd_touch, cmd_flush, cmd_meta;
	_Atomic uint64_t curr_connections, total_connections;
	_Atomic uint64_t bytes_read, bytes_written;
	_Atomic uint64_t auth_cmds, auth_errors;
	_Atomic uint64_t denied; /* commands refused for lack of a capability */
	_Atomic uint64_t reply_bytes_queued; /* gauge: unsent reply bytes of its connections */
	/* Connection accounting (issue 17): logins, refusals by its own limits, and
	 * how many requests its connections served (connreqs.h), counted at close. */
	_Atomic uint64_t auth_ok, auth_failed, rejected;
	_Atomic uint64_t conn_reqs[CONNREQS_BUCKETS];
};

/* Why tenant_admit refused a login. */
enum tenant_admission {
	TENANT_ADMIT,
	TENANT_REFUSE_MAX_CONNS,  /* at its max_conns connections on this node */
	TENANT_REFUSE_CONN_RATE,  /* over its conn_rate new connections per second */
};

struct tenant {
	char name[TENANT_NAME_MAX + 1];
	struct store *store;           /* owned */
	_Atomic unsigned caps;         /* enum tenant_cap bits */
	_Atomic int refs;              /* registry + each connection */
	_Atomic bool removed;          /* left the tenants file */
	bool counted;                  /* keeps per-tenant command counters: the default
	                                  tenant does not (the server's counters are its
	                                  own, and every request would touch one shared
	                                  cache line from every worker) */
	struct tenant_counters counters;
	/* Credentials, read under the registry lock (they change on reload). */
	uint8_t salt[TENANT_SALT_LEN];
	uint8_t hash[TENANT_HASH_LEN];
	/* Bumped (under the write lock) by every reload that changes salt or hash: a
	 * session authenticated at an older generation used a replaced password. */
	_Atomic uint64_t cred_gen;
	/* Its plan's connection limits (tenants file), updated by a reload; 0 = none. */
	_Atomic uint32_t max_conns, conn_rate;
	/* New connections: their rate over the last seconds and the bucket that
	 * enforces conn_rate. Under conn_lock: touched once per login, never per
	 * request. */
	pthread_mutex_t conn_lock;
	struct rate_window new_conns;
	struct token_bucket conn_bucket;
};

struct tenant_registry {
	pthread_rwlock_t lock;
	struct tenant **tenants;       /* sorted by name */
	size_t n;
	bool auth;                     /* false: the single default tenant */
	uint64_t default_limit;        /* memory of the default tenant (-m) */
	/* What an unknown name is verified against, so that a name's existence does not
	 * show in the time a login takes: a random salt and the hash of a random
	 * password, made by the first tenant_registry_apply. */
	struct tenant_entry decoy;
	bool decoy_ready;
	_Atomic uint64_t verifications; /* password hashes computed by tenant_authenticate */
};

/* No tenants file: one default tenant with `limit` bytes. 0 or -1 (no memory). */
int tenant_registry_init_default(struct tenant_registry *r, uint64_t limit);

/*
 * Builds or updates the registry from a loaded tenants file (see the top of this
 * header). `now` is the server clock (for shrinking limits). On failure (memory,
 * or no randomness for the decoy) returns -1 and leaves the registry as it was.
 * *revoked (may be NULL) receives the number of tenants that were removed or whose
 * password changed (new salt or hash: their cred_gen moved on): the sessions
 * authenticated with their old credentials must be closed.
 */
int tenant_registry_apply(struct tenant_registry *r, const struct tenant_file *tf,
    int64_t now, size_t *revoked);

void tenant_registry_release(struct tenant_registry *r);

/*
 * Checks credentials. Returns the tenant with a reference taken (tenant_put it),
 * or NULL if the name is unknown or the password wrong. Every attempt computes
 * one password hash, an unknown (or overlong) name against the decoy, so a name's
 * existence does not show in timing; `verifications` counts them. *cred_gen (may be
 * NULL) receives the tenant's credential generation, read under the same lock as
 * the hash it was checked against.
 */
struct tenant *tenant_authenticate(struct tenant_registry *r, const char *name,
    size_t namelen, const char *password, size_t pwlen, uint64_t *cred_gen);

/* The default tenant (auth off) with a reference taken. */
struct tenant *tenant_default(struct tenant_registry *r);

/* A tenant by name with a reference taken, or NULL. */
struct tenant *tenant_find(struct tenant_registry *r, const char *name, size_t len);

/*
 * A new connection of t at now (server clock, ms), at login (or, for the default
 * tenant, at accept). Applies t's max_conns and conn_rate: on TENANT_ADMIT the
 * connection is counted (curr_connections, total_connections and, with
 * `account`, the rate of new connections); otherwise it is not, and the refusal
 * is counted in `rejected`. Thread-safe.
 */
enum tenant_admission tenant_admit(struct tenant *t, int64_t now, bool account);
/* A connection admitted by tenant_admit closed, having served reqs requests;
 * with `account` the requests-per-connection distribution counts it. */
void tenant_conn_closed(struct tenant *t, uint64_t reqs, bool account);
/* New connections per second of the last RATE_WINDOW_SECONDS at now. */
uint64_t tenant_new_conns_per_sec(struct tenant *t, int64_t now);

/* t has capability cap (enum tenant_cap bits) now. */
static inline bool
tenant_has_cap(const struct tenant *t, unsigned cap)
{
	return (atomic_load_explicit(&t->caps, memory_order_relaxed) & cap) != 0;
}

/* Adds n to one of t's counters if t keeps them (not the default tenant). */
#define TENANT_COUNT_N(t, field, n)                                                       \
	do {                                                                              \
		if ((t)->counted)                                                         \
			atomic_fetch_add_explicit(&(t)->counters.field, (n), memory_order_relaxed); \
	} while (0)

void tenant_get(struct tenant *t);
void tenant_put(struct tenant *t);

/*
 * Calls fn for every tenant under the registry's read lock (fn must not call
 * back into the registry).
 */
void tenant_registry_foreach(struct tenant_registry *r,
    void (*fn)(void *arg, struct tenant *t), void *arg);

#endif
