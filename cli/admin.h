/*
 * admin — mctl's side of the cache tier: the topology from the configuration, which
 * nodes take a cluster's clients, the names of a role's nodes for messages, and a
 * node's busiest tenants or sources (the admin-port client is lib/adminport.h).
 *
 * Which nodes a command acts on follows their role (lib/cluster.h). Clients connect
 * to a cluster's proxies when it has any, so the connection remedies (drain,
 * rebalance) and the client counts act there; the data lives on the backends, so a
 * flush goes there (a proxy holds none). A cluster without proxies is all backends,
 * which take the clients themselves, as before the proxy tier.
 */
#ifndef MCOPS_MCTL_ADMIN_H
#define MCOPS_MCTL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "config.h"
#include "connstats.h"
#include "adminport.h"

struct mctl;
struct mcclient;

/* The configuration and the clusters read from it; both owned. */
struct mctl_topology {
	struct config cfg;
	struct clusters cl;
};

/*
 * Loads ctx's configuration and its clusters into t (caller-owned, any content).
 * Prints every error ("mctl: file:line: message") and returns -1 with t empty, or 0.
 */
int mctl_topology_load(const struct mctl *ctx, struct mctl_topology *t);

/* Releases what a successful load holds (the passwords wiped). */
void mctl_topology_release(struct mctl_topology *t);

/* True if n takes its cluster's clients: a proxy, or a backend of a cluster without
 * proxies. */
bool mctl_takes_clients(const struct clusters *cl, const struct cluster_node *n);

/*
 * "proxy"/"proxies" for a proxy, "backend"/"backends" for a backend of a cluster with
 * proxies, "node"/"nodes" in a cluster without (its nodes are everything there is).
 */
const char *mctl_role_noun(const struct clusters *cl, const struct cluster_node *n,
    bool plural);

/*
 * The names of cluster c's nodes of one role, ", "-separated, into buf (cut short at
 * len). For messages that say what to name instead.
 */
void mctl_role_names(const struct clusters *cl, const struct cluster *c,
    enum cluster_role role, char *buf, size_t len);

#define MCTL_KEYS_FETCH 100 /* tenants, or source prefixes, asked of each node: its busiest */

/* A node's busiest tenants or source prefixes, and its sums over the rest. */
struct mctl_node_keys {
	struct connstats_entry v[MCTL_KEYS_FETCH];
	size_t n;
	uint64_t other_curr; /* tenants: tenants_other:curr_connections; sources: 0 */
	uint64_t other_new;  /* tenants_other:total_connections, or sources_other:new_conns */
};

/*
 * Reads `stats tenants top MCTL_KEYS_FETCH` (g = CONNSTATS_TENANT) or `stats sources top
 * MCTL_KEYS_FETCH` from n's admin port into *out. 0, or -1 with err set (an mcd without
 * the accounting answers with an error line, which err quotes).
 */
int mctl_admin_keys(const struct cluster *c, const struct cluster_node *n,
    enum connstats_group g, int64_t timeout_ms, struct mctl_node_keys *out, char *err,
    size_t errlen);

#endif
