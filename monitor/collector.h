/*
 * collector — the monitor's I/O. For every node of a watch, on one libevent loop:
 *   - an admin connection, polled every poll_interval: `stats` and `stats kernel`
 *     in one write (a proxy: `stats proxy` and `stats backends` too; a node that takes
 *     clients: `stats tenants top N` and `stats sources top N` too, nodestats.h),
 *     answered within poll_timeout (nodes without an admin address are not polled);
 *   - a probe connection, authenticated as the cluster's probe account, on which
 *     the canary key "<canary_key>:<node>" is set and read in turn, probe_rate
 *     times a second, each answered within probe_timeout.
 * Every request has its own deadline (mcconn), so a slow or dead node costs only
 * its own requests. Outcomes go to the watch (watch_poll, watch_probe, ...), which
 * decides; the collector decides nothing.
 *
 * Timing: nodes share their timers in groups of at most COLLECTOR_GROUP_MAX, and the
 * groups are spread evenly over the period, so a probe round costs the process one
 * wakeup per group instead of one per node (the wakeups, not the requests, are most
 * of what watching a node costs). A group's requests go out back to back, each
 * timed from its own write; its replies may be read in one batch, which can add the
 * handling of the replies before it (a few µs each, at most COLLECTOR_GROUP_MAX of
 * them) to a probe's latency. Timers keep their cadence without drift. A probe that
 * falls due while the previous one is still in flight is dropped and counted, never
 * queued: a slow node must not build a backlog. A connection is re-established on
 * the next request after a failure, so a dead node is retried once per period.
 *
 * Logging: state changes only — a node's polls or probes starting to fail (with
 * the first error) and recovering.
 */
#ifndef MCOPS_COLLECTOR_H
#define MCOPS_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "monconfig.h"
#include "watch.h"

#define COLLECTOR_CANARY_TTL_S 600 /* the canary key expires if the monitor goes away */
#define COLLECTOR_GROUP_MAX 16     /* nodes sharing one wakeup */

struct event_base;
struct evdns_base;
struct collector_node;  /* one node's connections (collector.c) */
struct collector_group; /* the timers of up to COLLECTOR_GROUP_MAX nodes (collector.c) */

struct collector {
	struct event_base *base;   /* borrowed */
	struct evdns_base *dns;    /* borrowed; NULL when every address is numeric */
	struct watch *watch;       /* borrowed */
	const struct monconfig *cfg; /* borrowed: the watch's */
	struct collector_node *nodes; /* owned */
	size_t nnodes;
	struct collector_group *groups; /* owned */
	size_t ngroups;
};

/*
 * Creates the connections and timers of every node of w (w->cfg gives the
 * topology and the settings) and starts them. Nothing is connected before the
 * first timer fires. -1 with err (and nothing left running) on no memory.
 */
int collector_start(struct collector *col, struct event_base *base, struct evdns_base *dns,
    struct watch *w, char *err, size_t errlen);

/* Stops every timer, closes every connection (requests in flight are dropped
 * without a report) and frees them. Safe on a zeroed or stopped collector. */
void collector_stop(struct collector *col);

#endif
