/*
 * mcd — the cache server's shared definitions: settings, the server context,
 * worker threads and connections. Internal to cache/; main.c fills the settings.
 *
 * Threads: the main thread accepts on every listener and hands each new socket to
 * a worker (round robin) through the worker's queue and notify pipe. Each worker
 * runs its own libevent loop and owns its connections outright; other threads talk
 * to a worker only through its queue (shed, drain, close a tenant's connections,
 * shut down).
 *
 * Memory of an idle connection: a struct conn (no buffers). Input and output go
 * through the worker's scratch buffers; a connection keeps a buffer of its own only
 * while it holds a partial request or unsent output.
 */
#ifndef MCOPS_MCD_H
#define MCOPS_MCD_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conncount.h"
#include "output.h"
#include "proto.h"
#include "sources.h"
#include "tenant.h"

#define MCD_VERSION "1.6.18-mcops-0.1"
#define MCD_THREADS_MAX 64
#define MCD_LISTENERS_MAX 8
#define MCD_READ_CHUNK (64 * 1024)        /* bytes read per read() */
#define MCD_REQS_PER_EVENT 20             /* requests served before yielding (-R) */
#define MCD_OUT_CONN_MAX (256 * 1024)     /* unsent reply bytes (copied or referenced)
                                             past which a connection's requests wait
                                             until the socket has taken them */
#define MCD_OUT_REQUEST_MAX (64 * 1024 * 1024) /* largest reply to one multi-get */
#define MCD_SCRATCH_KEEP (256 * 1024)     /* scratch output kept between events */
#define MCD_AUTH_FAILURES_MAX 3           /* then the connection is closed */
#define MCD_AUTH_VALUE_MAX 1024           /* largest auth `set` value; before
                                             authentication a larger request closes */
#define MCD_E_AUTH_TOO_LARGE "CLIENT_ERROR authentication value too large"
#define MCD_E_ADMIN_TOO_LARGE "CLIENT_ERROR request too large for the admin port"
#define MCD_ADMIN_CONNS_DEFAULT 32        /* --admin-conn-limit */
#define MCD_ADMIN_CONNS_MAX 10000
#define MCD_QUEUE_MAX 65536               /* pending messages per worker */
#define MCD_ADDR_MAX 128
#define MCD_ITEM_SIZE_MIN 1024            /* -I, item_size_max: smallest accepted */
#define MCD_ITEM_SIZE_MAX (1ULL << 30)    /* and largest (input buffers are 32-bit) */
#define MCD_KERNEL_REFRESH_MS 1000        /* `stats kernel` reads the kernel this often at most */
#define MCD_KERNEL_TEXT_MAX 8192          /* its cached reply */
#define MCD_STATS_SOURCES_TOP 20          /* `stats sources` without `top N` */
#define MCD_SOURCE_LIMIT_MAX 10000000     /* --source-max-unauth, --source-conn-rate */
#define MCD_STATS_CONNS_MAX 1000          /* connections `stats conns` lists; the rest
                                             are counted in conns_not_listed */
#define MCD_MEMLIMIT_MIN_MB 8             /* cache_memlimit's smallest (memcached's) */
/* Admission refusals (docs/mcd.md): said, then the connection is closed. */
#define MCD_E_TENANT_MAX_CONNS "SERVER_ERROR too many connections for this account"
#define MCD_E_TENANT_CONN_RATE "SERVER_ERROR too many new connections for this account"
#define MCD_E_SOURCE_UNAUTH "SERVER_ERROR too many unauthenticated connections from your address"
#define MCD_E_SOURCE_CONN_RATE "SERVER_ERROR too many new connections from your address"

enum listener_kind {
	LISTENER_CLIENT,
	LISTENER_TLS,
	LISTENER_ADMIN,
};

struct listener {
	enum listener_kind kind;
	char addr[MCD_ADDR_MAX];          /* as configured, "host:port" */
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;
	struct event *ev;
	bool auth;                        /* authentication required */
	struct mcd *mcd;
};

struct mcd_settings {
	char listen[MCD_ADDR_MAX];        /* -l */
	int port;                         /* -p */
	int threads;                      /* -t */
	uint64_t memory;                  /* -m, bytes: default tenant's limit */
	int max_connections;              /* -c: client connections (TCP and TLS) */
	int admin_max_connections;        /* --admin-conn-limit: admin connections */
	uint64_t item_max;                /* -I */
	int backlog;                      /* -b */
	int64_t auth_timeout_ms;          /* --auth-timeout */
	char tenants_path[4096];          /* --tenants; "" = no authentication */
	char admin_listen[MCD_ADDR_MAX];
	int admin_port;                   /* 0 = no admin listener */
	int tls_port;                     /* 0 = no TLS listener */
	char tls_listen[MCD_ADDR_MAX];
	char tls_cert[4096], tls_key[4096];
	char user[64];                    /* -u */
	char proxy_path[4096];            /* --proxy: the proxy role's file; "" = a node */
	uint32_t source_max_unauth;       /* --source-max-unauth; 0 = no limit */
	uint32_t source_conn_rate;        /* --source-conn-rate; 0 = no limit */
	bool conn_accounting;             /* --conn-accounting: per-source and per-tenant */
	bool enable_shutdown;             /* -A: the admin port's `shutdown` command */
	int verbose;
};

/* Worker counters: written by the owning thread only (relaxed), read by stats. */
struct worker_stats {
	_Atomic uint64_t curr_connections, total_connections;
	_Atomic uint64_t conn_yields, bytes_read, bytes_written;
	_Atomic uint64_t auth_cmds, auth_errors, auth_timeouts;
	_Atomic uint64_t cmd_get, cmd_set, cmd_touch, cmd_flush, cmd_meta;
	_Atomic uint64_t protocol_errors, closed_line_too_long, oom_errors;
	_Atomic uint64_t sessions_revoked;  /* closed at a reload: credential replaced or removed */
	_Atomic uint64_t reply_bytes_queued; /* gauge: unsent reply bytes its connections keep */
	_Atomic uint64_t auth_unknown_tenant; /* logins naming no tenant */
	_Atomic uint64_t rejected_tenant_connections; /* refused by a tenant's limit */
};

#define STAT_ADD(field, n) \
	atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n), \
	    memory_order_relaxed)
#define STAT_INC(field) STAT_ADD(field, 1)
#define STAT_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

enum worker_msg_type {
	WMSG_NEW_CONN,     /* fd, listener */
	WMSG_SHED,         /* close up to n client connections */
	WMSG_CLOSE_REVOKED,/* close sessions of removed tenants and replaced passwords */
	WMSG_DRAIN,        /* close idle client connections */
	WMSG_STOP,         /* finish and leave the loop */
	WMSG_PROXY_RELOAD, /* move to the proxy's new pool of backends */
};

struct worker_msg {
	enum worker_msg_type type;
	int fd;
	struct listener *listener;
	uint64_t n;
	struct source_ref src;  /* WMSG_NEW_CONN: its source records (sources.h) */
};

struct mcd;
struct conn;
struct preq;
struct proxy;
struct proxy_worker;

struct worker {
	int id;
	struct mcd *mcd;
	pthread_t thread;
	struct event_base *base;
	int notify_rd, notify_wr;
	struct event *notify_ev;
	struct event *tick_ev;
	pthread_mutex_t qlock;
	struct worker_msg *queue;
	size_t qhead, qlen;
	/* Every connection of this worker, and those not yet ready (TLS handshake or
	 * authentication pending), the latter oldest first: their deadlines are in
	 * order because every connection gets the same timeout. */
	struct conn *conns;
	struct conn *pending_head, *pending_tail;
	size_t nconns;
	/* Held by the owner while it links or unlinks a connection, and by `stats
	 * conns` of any thread while it reads the list: a listed conn stays linked,
	 * open and holding its tenant until the reader lets go. */
	pthread_mutex_t conns_lock;
	struct event *stop_ev;
	/* Scratch buffers for one event's work (output: see output.h). */
	char *rbuf;
	char *obuf;
	size_t olen, ocap;
	struct out_seg *osegs;
	size_t nosegs, osegcap;
	size_t oqueued;           /* scratch bytes, copied and referenced */
	bool oom;                 /* an output append failed this round */
	int64_t now;              /* server clock (ms), refreshed per event */
	bool stopping;
	struct worker_stats stats;
	struct proxy_worker *proxy;   /* the proxy role's backend connections, or NULL */
};

struct conn {
	int fd;
	struct worker *w;
	struct listener *listener;
	struct tenant *tenant;        /* NULL until authenticated */
	struct tenant *act;           /* proxy_as: the tenant its data commands act for
	                                 (a reference), NULL = its own */
	uint64_t cred_gen;            /* the tenant's cred_gen when it authenticated */
	uint64_t nreqs;               /* requests served since its login (connreqs.h) */
	_Atomic int64_t last_cmd;     /* server clock (ms) of its last request, 0 = none;
	                                 read by `stats conns` of other threads */
	struct source_ref src;        /* its source records, or none (admin, accounting off) */
	struct event ev;
	struct conn *all_prev, *all_next;   /* worker's list of connections */
	struct conn *pend_prev, *pend_next; /* worker's pending list */
	char *in;                     /* unprocessed input (partial request) */
	uint32_t inlen, incap;
	/* Unsent output (output.h): segs[segi..nsegs), segoff bytes of segs[segi] sent;
	 * text pieces point into out. */
	struct out_seg *segs;
	char *out;
	uint32_t nsegs, segi, segoff;
	uint64_t queued;              /* unsent bytes, copied and referenced */
	uint64_t swallow;             /* bytes of input to discard */
	int64_t deadline;             /* server clock ms; 0 once ready */
	SSL *ssl;
	uint8_t auth_failures;
	bool writing;                 /* waiting for EV_WRITE */
	bool close_after_write;
	bool yielded;
	bool handshaking;             /* TLS handshake in progress */
	bool ssl_want_write;          /* the TLS layer needs writability to read */
	bool binary;                  /* speaks the binary protocol (binproto.h): its
	                                 first byte was 0x80 */
	bool proto_known;             /* binary is decided (the first byte came) */
	uint8_t bin_op;               /* binary, in the proxy role: the request being */
	uint32_t bin_opaque;          /*   routed (its reply is made binary again) */
	bool pq_ready;                /* proxy: on the worker's list of ready clients */
	bool paused;                  /* proxy: not read until its queue shortens */
	uint16_t npq;                 /* proxy: requests in its queue */
	uint64_t pq_bytes;            /* proxy: bytes of its finished replies not yet sent */
	struct preq *pq_head, *pq_tail; /* proxy: its requests, oldest first (proxy.h) */
	struct conn *ready_next;
};

/* The tenant c's data commands act for: the one a proxy named, or its own. */
static inline struct tenant *
conn_tenant(const struct conn *c)
{
	return c->act != NULL ? c->act : c->tenant;
}

struct mcd {
	struct mcd_settings set;
	struct tenant_registry tenants;
	struct listener listeners[MCD_LISTENERS_MAX];
	int nlisteners;
	struct worker workers[MCD_THREADS_MAX];
	int nworkers;
	int next_worker;
	struct event_base *base;      /* main thread: accept, signals */
	struct event *sig_term, *sig_int, *sig_hup;
	SSL_CTX *ssl_ctx;
	struct event *accept_retry;   /* re-enables accepting after EMFILE */
	struct event *cron;           /* once a second: report suppressed log lines */
	struct proxy *proxy;          /* the proxy role (proxy.h), or NULL */
	pthread_mutex_t reload_lock;
	/* The kernel's view for `stats kernel`, cached (see MCD_KERNEL_REFRESH_MS). */
	pthread_mutex_t kernel_lock;
	struct conncount cc;
	bool cc_open;
	char kernel_text[MCD_KERNEL_TEXT_MAX];
	size_t kernel_len;
	int64_t kernel_at;
	_Atomic int curr_conns;       /* client connections, for -c */
	_Atomic int admin_conns;      /* admin connections, for --admin-conn-limit */
	_Atomic uint64_t rejected_connections, listen_disabled_num;
	_Atomic uint64_t rejected_admin_connections;
	_Atomic uint64_t rejected_source_connections; /* refused by a source limit */
	/* The workers' counters at the last `stats reset` of the server: `stats`
	 * shows the sums minus these (a worker's counters are its own to write). */
	struct worker_stats stats_base;
	struct sources sources;       /* per source address (sources.h) */
	_Atomic bool draining;
	_Atomic int verbosity;
	int64_t started_mono_ms;      /* server clock at start */
	int64_t started_unix;         /* wall clock at start (s) */
	volatile sig_atomic_t stop;
};

/* Server clock in ms (monotonic, never 0). */
int64_t mcd_now(void);
/* Unix time (s) on the server's clock. */
int64_t mcd_unix_now(const struct mcd *m, int64_t now);
/* memcached exptime (relative s, absolute Unix time, negative) -> absolute ms, 0 = never */
int64_t mcd_exptime(const struct mcd *m, int64_t exptime, int64_t now);

/* server.c */
/* Checks what the settings alone can tell before anything is opened (the admin
 * port's address without authentication); 0 or -1 with err. mcd_setup checks it too. */
int mcd_check_settings(const struct mcd_settings *s, char *err, size_t errlen);
int mcd_setup(struct mcd *m, char *err, size_t errlen);
int mcd_run(struct mcd *m);
void mcd_teardown(struct mcd *m);
int mcd_reload_tenants(struct mcd *m, char *err, size_t errlen);
void mcd_broadcast(struct mcd *m, enum worker_msg_type type, uint64_t n);

/* Marks c ready: authenticated (and TLS handshake done); leaves the deadline list. */
void conn_ready(struct conn *c);
/* Sends the worker's scratch output on c, waiting for writability if the socket
 * does not take it all; closes c on error, or when it is to close and nothing is
 * left to send. False if c was closed. */
bool conn_send_scratch(struct conn *c);

/* exec.c: executes one parsed request; returns false to close the connection. */
bool exec_request(struct conn *c, struct proto_request *req, enum proto_status st);

/*
 * A login attempt's end, the same for the text `set` and SASL PLAIN: t is what
 * tenant_authenticate gave (NULL: no such name and password); name (and name2, may
 * be NULL) the names tried, for counting a failure against the tenant named. Checks
 * that t may log in on c's port, counts, applies the tenant's admission limits
 * (tenant_admit) and on success makes c t's and ready. The caller replies:
 * EXEC_LOGIN_FAILED_CLOSE after MCD_AUTH_FAILURES_MAX failures (then close),
 * EXEC_LOGIN_REFUSED with *refusal (text, then close).
 */
enum exec_login {
	EXEC_LOGIN_OK,
	EXEC_LOGIN_FAILED,
	EXEC_LOGIN_FAILED_CLOSE,
	EXEC_LOGIN_REFUSED,
};
enum exec_login exec_login(struct conn *c, struct tenant *t, const char *name, size_t len,
    const char *name2, size_t len2, const char **refusal);

/* stats.c */
/* One "STAT [prefix:]name value" line into the worker's scratch (prefix may be NULL). */
void stats_line_u64(struct worker *w, const char *prefix, const char *name, uint64_t v);
void stats_line_str(struct worker *w, const char *prefix, const char *name, const char *v);
void stats_write_global(struct conn *c, const struct proto_request *req);
void stats_write_tenant(struct conn *c, struct tenant *t);
void stats_write_settings(struct conn *c);
void stats_write_settings_tenant(struct conn *c, struct tenant *t);
/* top: list the top tenants (by new connections per second, then current
 * connections) only, 0 = every tenant. */
void stats_write_tenants(struct conn *c, size_t top);
void stats_write_sources(struct conn *c, size_t top);
void stats_write_kernel(struct conn *c);
/* memcached's `stats slabs`, `stats items`, `stats sizes` (docs/mcd.md says what
 * each field means here): of tenant t, or of every tenant if t is NULL. */
void stats_write_slabs(struct conn *c, struct tenant *t);
void stats_write_items(struct conn *c, struct tenant *t);
void stats_write_sizes(struct conn *c);
/* `stats conns`: the connections of tenant t (those logged in as t), or every
 * connection if t is NULL; at most MCD_STATS_CONNS_MAX of them. */
void stats_write_conns(struct conn *c, struct tenant *t);
/* `stats reset`: tenant t's own counters (not the connection accounting the
 * operator reads), or, if t is NULL, every counter of the server and its tenants. */
void stats_reset(struct conn *c, struct tenant *t);

#endif
