/*
 * backend — the proxy role's view of its backends: the proxy file, the pool of
 * backends with their placement and health, and each worker's connections to
 * them. Internal to cache/ (proxy.c routes requests over it).
 *
 * Health (the reference is twemproxy's server_failure_limit, server_retry_timeout
 * and auto_eject_hosts): a connection that is refused, a request whose deadline
 * passes, and a connection the backend closes or garbles each count one failure;
 * a reply resets the count. At `failure_limit` consecutive failures the backend is
 * down until `retry_timeout` has passed; then the next request that maps to it is
 * sent (the retry); if that fails too the wait doubles, up to `retry_max`. While it
 * is down its keys fail fast (miss for reads, SERVER_ERROR for writes) or, with
 * `eject = yes`, go to the next backend on the ring that is up. State is shared by
 * the workers (atomics): one worker's failures take the backend down for all.
 *
 * Logging: one line when a backend goes down (with the cause) and one when it is
 * back (with the requests that failed fast meanwhile): never a line per request,
 * never the outstanding requests. Everything else is counted (`stats backends`).
 *
 * A pool is immutable once built (backends, ring, settings) except for the
 * backends' health and counters; a reload builds a new pool and the workers move
 * to it. A backend kept by a reload (same name, address and weight) carries its
 * health and counters over. Pools are reference counted: the proxy holds the
 * current one, each worker the one it uses, each backend connection its own.
 */
#ifndef MCOPS_BACKEND_H
#define MCOPS_BACKEND_H

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "ketama.h"
#include "mcreply.h"
#include "tenants.h"

#define PROXY_CONNS_MAX 16           /* connections per worker per backend */
#define PROXY_QUEUE_MAX 100000       /* queue_limit's upper bound */
#define PROXY_HOST_MAX 256
#define PROXY_LAT_BUCKETS 40         /* latency histogram: bucket i holds replies
                                        of [2^(i-1), 2^i) microseconds */
#define PROXY_READ_CHUNK (64 * 1024)
#define PROXY_ERR_MAX 160            /* a backend's last error, for logs and stats */

/* Backend counters are shared by the workers: a real atomic add. */
#define STAT_ADD_B(field, n) atomic_fetch_add_explicit(&(field), (n), memory_order_relaxed)

struct proxy_backend_conf {
	char name[KETAMA_NAME_MAX + 1];
	char host[PROXY_HOST_MAX];
	uint16_t port;
	uint32_t weight;
	int line;                        /* in the proxy file */
};

struct proxy_conf {
	struct proxy_backend_conf *backends;
	size_t nbackends;
	int64_t timeout_ms;              /* per-request deadline */
	int64_t retry_ms, retry_max_ms;  /* first wait of a down backend, and its cap */
	int64_t tail_ms;                 /* replies slower than this count as tail */
	uint64_t failure_limit;          /* consecutive failures that take a backend down */
	uint64_t connections;            /* per worker per backend */
	uint64_t queue_limit;            /* outstanding requests per backend per worker */
	bool eject;                      /* down backends' keys go on around the ring */
	char account[TENANT_NAME_MAX + 1]; /* "" without tenants */
	char password[CONFIG_SECRET_MAX];  /* never logged */
};

/*
 * Reads the proxy file. need_account: the proxy authenticates its clients, so
 * the backends need the internal account (account and password[_file]). Errors,
 * with their lines, go to errs; returns 0 or -1. *pc is filled only on success
 * (release it with proxy_conf_release).
 */
int proxy_conf_load(struct proxy_conf *pc, const char *path, bool need_account,
    struct config_errors *errs);
/* The same from text (tests, fuzzing); name stands for the path in messages. */
int proxy_conf_load_string(struct proxy_conf *pc, const char *name, const char *text,
    bool need_account, struct config_errors *errs);
void proxy_conf_release(struct proxy_conf *pc);

enum backend_state {
	BACKEND_UP,
	BACKEND_DOWN,
};

struct backend {
	char name[KETAMA_NAME_MAX + 1];
	char addr[PROXY_HOST_MAX + 8];   /* "host:port", for people */
	struct sockaddr_storage sa;
	socklen_t salen;
	uint32_t weight;
	/* Health: shared by the workers. */
	_Atomic int state;               /* enum backend_state */
	_Atomic uint64_t failures;       /* consecutive */
	_Atomic int64_t retry_at;        /* server clock ms: down until then */
	_Atomic int64_t backoff_ms;      /* the current wait */
	_Atomic int64_t down_since;      /* wall clock ms, 0 when up */
	_Atomic bool probing;            /* one worker is retrying it */
	pthread_mutex_t lock;            /* state changes and last_error */
	char last_error[PROXY_ERR_MAX];
	/* Counters (relaxed atomics). */
	_Atomic uint64_t requests, replies, errors, timeouts, refused, fast_failed,
	    failed_while_down, retries, tail, server_errors;
	_Atomic int64_t outstanding, connections;
	_Atomic uint64_t latency[PROXY_LAT_BUCKETS];
};

struct pool {
	_Atomic int refs;
	uint64_t gen;
	struct proxy_conf conf;
	struct backend **b;              /* nb, each shared with other pools (refcounted
	                                    by the pools holding it) */
	size_t nb;
	struct ketama ring;
};

/* Builds a pool from conf (taken over on success); old (may be NULL) lends the
 * backends it shares with conf. 0, or -1 with err. */
struct pool *pool_new(struct proxy_conf *conf, struct pool *old, uint64_t gen, char *err,
    size_t errlen);
void pool_get(struct pool *p);
void pool_put(struct pool *p);

/*
 * The backend for a key hash: the ring's; when that one is down and the pool
 * ejects, the next one up around the ring. -1 when none can be used (every
 * backend down with eject).
 */
int pool_pick(const struct pool *p, uint32_t hash, int64_t now);
/* True if backend b may be sent a request now: up, or down with its retry due
 * and nobody else retrying it (then the caller is the retry: *probe set). */
bool backend_usable(struct backend *b, int64_t now, bool *probe);
/* A reply came: the failure count restarts; a down backend is up again. */
void backend_success(struct backend *b);
/* A failure (cause for the log, e.g. "connection refused"); may take b down. */
void backend_failure(struct backend *b, const struct proxy_conf *conf, int64_t now,
    const char *cause);
/* A latency sample of one reply, microseconds. */
void backend_latency(struct backend *b, uint64_t us, int64_t tail_us);
/* Estimated latency percentile (0 < q < 1) from the histogram, microseconds. */
uint64_t backend_latency_quantile(const struct backend *b, double q);

#endif
