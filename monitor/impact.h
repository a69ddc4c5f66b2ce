/*
 * impact — how much of a cluster's customers an incident touches, as numbers only:
 * the tenants connected to the affected client-taking nodes (a proxy, or a node of a
 * cluster without proxies: cluster_takes_clients()), out of the tenants connected to
 * any client-taking node of the cluster, from mcd's per-tenant connection view at the
 * time (each node's latest good `stats tenants top N` poll, nodestats.h). A down
 * node's view is its last one before it went down: the tenants whose connections it
 * dropped. docs/monitor.md, "Impact", says why it is defined so.
 *
 * Unknown (known = false), rather than a guess, when:
 *   - the incident involves a backend behind proxies: every tenant's keys are spread
 *     over every backend by the ring, so a count of tenants would say "all" of a
 *     partial loss; the honest figure (the ring's share of the keys) is not in mcmon's
 *     view;
 *   - a client-taking node of the cluster has no view (no accounting, never polled);
 *   - a view is incomplete: tenants beyond the top N have connections
 *     (tenants_other:curr_connections > 0), so tenants would be counted by halves;
 *   - no tenant is connected anywhere in the cluster (0 of 0).
 * Tenants are counted by name to unite the nodes' views, and only counts leave here.
 *
 * Pure: no clock, no I/O, nothing logged or allocated.
 */
#ifndef MCOPS_IMPACT_H
#define MCOPS_IMPACT_H

#include <stdbool.h>
#include <stddef.h>

#include "nodestats.h"

#define IMPACT_TENANTS_MAX 256 /* distinct tenants counted over one cluster */

struct impact {
	bool known;
	size_t tenants; /* connected to an affected node */
	size_t of;      /* connected to any client-taking node of the cluster */
	int percent;    /* 100 x tenants / of, rounded to the nearest; -1 when unknown */
};

/* One node of the cluster. */
struct impact_node {
	const struct nodestats *stats; /* its latest good poll, or NULL for none */
	bool takes_clients;
	bool affected;                 /* the incident involves it */
};

/* The impact over the cluster's nodes[0..n) (see the top of this file). The accounts
 * named in ignore[0..nignore) are not customers (the monitor's own probe and admin
 * accounts, connected everywhere) and are not counted; NULL entries are skipped. */
void impact_compute(const struct impact_node *nodes, size_t n, const char *const *ignore,
    size_t nignore, struct impact *out);

#endif
