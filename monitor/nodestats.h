/*
 * nodestats — a node's numbers, read from the text of its admin port's `stats` and
 * `stats kernel` replies (docs/mcd.md): memcached's general counters, and the
 * kernel's view of each listener's sockets by TCP state; for a proxy (mcd --proxy,
 * docs/proxy.md) also `stats proxy` and `stats backends`: its own figures and its view
 * of each backend (cumulative counters: the caller takes differences between polls);
 * for a node that takes clients (a proxy, or a node of a cluster without proxies) also
 * `stats tenants top N` and `stats sources top N`: the connections of the busiest
 * tenants and source prefixes (lib/connstats.h reads their lines), at most
 * NODESTATS_TENANTS_MAX and NODESTATS_SOURCES_MAX of them, whatever the node lists.
 *
 * Pure: no socket, no clock, nothing logged. Names it does not know are skipped, so
 * a newer mcd's additions change nothing; a value that is not a number is skipped
 * too, and so is a malformed STAT line. The replies are framed and their lines read by
 * lib/mcreply.h. This is the monitor's only reader of `stats` text.
 */
#ifndef MCOPS_NODESTATS_H
#define MCOPS_NODESTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connstats.h"

#define NODESTATS_TCP_STATES 12 /* established .. new_syn_recv, as `stats kernel` names them */

/* The listeners `stats kernel` reports. */
enum nodestats_listener {
	NODESTATS_LISTENER_CLIENT,
	NODESTATS_LISTENER_TLS,
	NODESTATS_LISTENER_ADMIN,
	NODESTATS_LISTENERS,
};

/* The TCP state names of `stats kernel`, index = position in the arrays below;
 * "unknown" past the end. */
const char *nodestats_tcp_state_name(size_t i);
const char *nodestats_listener_name(enum nodestats_listener l);

#define NODESTATS_BACKENDS_MAX 64     /* backends of one proxy read; more are skipped */
#define NODESTATS_BACKEND_NAME_MAX 64 /* as a node's name (CLUSTER_NAME_MAX) */
#define NODESTATS_ERROR_MAX 96        /* a backend's last_error, truncated */

/* One backend as a proxy sees it (`stats backends`). Counters are cumulative since the
 * proxy started (or the backend joined its list). */
struct nodestats_backend {
	char name[NODESTATS_BACKEND_NAME_MAX + 1];
	bool up; /* state up */
	uint64_t requests, replies, errors, timeouts, fast_failures, queue_refusals;
	uint64_t outstanding, connections; /* now */
	uint64_t latency_p50_us, latency_p99_us; /* since start, interpolated by the proxy */
	double tail_share; /* replies slower than the proxy's tail_ms, of all replies */
	uint64_t slow;     /* those replies: tail_replies, or from an older proxy
	                      without it tail_share x replies, rounded */
	bool slow_exact;   /* slow came from tail_replies */
	uint64_t down_since; /* Unix time, 0 when up */
	char last_error[NODESTATS_ERROR_MAX];
};

#define NODESTATS_TOP 10          /* "top N" of the tenants and sources asked for */
#define NODESTATS_TENANTS_MAX 16  /* tenants of one poll read; more are skipped */
#define NODESTATS_SOURCES_MAX 32  /* prefixes of one poll read (a /32 and its /24 are
                                     two); more are skipped */

/* What a poll asks for besides `stats` and `stats kernel` (bits). */
enum nodestats_part {
	NODESTATS_PART_PROXY = 1,      /* `stats proxy`, `stats backends` (a proxy) */
	NODESTATS_PART_ACCOUNTING = 2, /* `stats tenants top N`, `stats sources top N` */
};

/* The request of a poll asking for parts (one write), and how many replies it gets. */
const char *nodestats_request(unsigned parts);
size_t nodestats_replies(unsigned parts);

/* The numbers of one poll. Absent numbers are 0. */
struct nodestats {
	uint64_t uptime, curr_connections, total_connections, rejected_connections,
	    max_connections, conn_yields, listen_disabled_num, curr_items, bytes,
	    limit_maxbytes, evictions, cmd_get, cmd_set, get_hits, get_misses;
	bool has_kernel; /* `stats kernel` answered */
	struct {
		bool present;
		uint64_t states[NODESTATS_TCP_STATES];
		uint64_t accept_queue, backlog;
	} listener[NODESTATS_LISTENERS];
	uint64_t not_accepted;     /* kernel_not_accepted: client listeners' accept queues */
	bool host_known;
	uint64_t listen_overflows, listen_drops; /* host-wide, cumulative */
	/* A proxy: `stats proxy` answered. */
	bool is_proxy;
	struct {
		uint64_t backends, backends_up, backend_connections, client_connections;
		uint64_t requests, fast_failures, queue_refusals, timeouts; /* cumulative */
	} proxy;
	size_t nbackends; /* `stats backends`, in the proxy's order */
	struct nodestats_backend backends[NODESTATS_BACKENDS_MAX];
	/* A node that takes clients: `stats tenants top N` answered (has_tenants) and
	 * `stats sources top N` (has_sources), in the node's order (busiest first). */
	bool has_tenants, has_sources;
	size_t ntenants, nsources;
	struct connstats_entry tenants[NODESTATS_TENANTS_MAX];
	struct connstats_entry sources[NODESTATS_SOURCES_MAX];
	uint64_t tenants_other_curr, tenants_other_total; /* the tenants not listed */
	uint64_t sources_other_new; /* new connections not under a listed /32 or /64 */
	uint64_t sources_tracked, sources_capacity, sources_memory_bytes;
};

/*
 * Parses reply[0..len): the replies to nodestats_request(parts), as received: `stats`
 * and `stats kernel` (the second may be an error: a node without the kernel view,
 * which leaves has_kernel false), then with NODESTATS_PART_PROXY those to `stats proxy`
 * and `stats backends` (an error, or their absence, leaves is_proxy false and no
 * backends), then with NODESTATS_PART_ACCOUNTING those to `stats tenants top N` and
 * `stats sources top N` (an error, from an mcd without the accounting, leaves
 * has_tenants or has_sources false). Fills st (zeroed first) and returns 0; returns
 * -1 if the first reply is not a stats block, with err saying "stats: <the start of
 * the reply>".
 */
int nodestats_parse(struct nodestats *st, const char *reply, size_t len, unsigned parts,
    char *err, size_t errlen);

#endif
