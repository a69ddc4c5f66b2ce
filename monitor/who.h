/*
 * who — who is connecting. On each node that takes clients, the new connections of
 * each tenant and each source prefix between two polls (differences of the cumulative
 * counters of `stats tenants top N` and `stats sources top N`, nodestats.h), summed
 * over an episode; merged over a cluster's nodes into shares of all new connections, a
 * verdict (one tenant or one source holds at least WHO_DOMINANT_SHARE, or none does),
 * and the sentences people read in pages and `mctl status`: the finding ("78% of new
 * connections: tenant acme, from 10.1.2.0/24", "no dominant tenant or source") and the
 * remedy that fits it.
 *
 * Bounded: a node remembers at most WHO_KEYS_MAX tenants and as many prefixes (a key
 * that leaves the node's top N keeps its counters until a newcomer needs its room: the
 * one with the fewest new connections in the episode goes first); a merge holds at most
 * WHO_MERGE_MAX keys. A key seen for the first time has no previous counter: its share
 * of the interval is estimated from its rate (new_conns_per_sec x the interval, at most
 * its counter), so a storm from a tenant nobody had heard of is not missed.
 *
 * Pure: no clock (now_ms is given), no I/O, nothing logged or allocated.
 */
#ifndef MCOPS_WHO_H
#define MCOPS_WHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connstats.h"
#include "nodestats.h"

#define WHO_KEYS_MAX 32          /* tenants, and apart source prefixes, one node keeps */
#define WHO_MERGE_MAX 128        /* distinct keys of one kind merged over a cluster */
#define WHO_SHOWN_MAX 3          /* tenants and sources named in the evidence */
#define WHO_DOMINANT_SHARE 0.5   /* a tenant or source with this share of the new
                                    connections is "dominant" */
#define WHO_REBALANCE_SHARE 0.6  /* one of two or more client-taking nodes with this
                                    share of the cluster's connections: rebalance */
#define WHO_TEXT_MAX 320         /* a finding or remedy sentence */
#define WHO_NAME_MAX 64          /* a node's name, as CLUSTER_NAME_MAX */

/* One tenant or prefix on one node. */
struct who_key {
	char key[CONNSTATS_KEY_MAX + 1];
	bool listed;    /* in the latest poll */
	bool has_last;  /* last[] holds a poll's counters */
	uint64_t last_new, last_short, last_closed, last_auth; /* cumulative, latest */
	/* The latest interval's differences: new connections, closed connections that
	 * served at most two requests, all closed ones, good logins. */
	uint64_t d_new, d_short, d_closed, d_auth;
	uint64_t rate;        /* new_conns_per_sec of the latest poll */
	uint64_t curr, unauth; /* connections now (unauthenticated: a source's) */
	uint64_t episode_new; /* new connections since who_node_restart() */
};

struct who_node {
	struct who_key tenants[WHO_KEYS_MAX], sources[WHO_KEYS_MAX];
	size_t ntenants, nsources;
	bool reported;       /* the latest poll had tenants or sources */
	bool has_last;       /* a previous poll */
	int64_t last_ms;     /* of the latest poll */
	int64_t interval_ms; /* between the two latest polls; 0 before two */
	uint64_t last_total, d_total, episode_total; /* all new connections */
	uint64_t curr_connections;
	uint64_t last_tenants_other, d_tenants_other; /* tenants not listed */
	uint64_t last_sources_other, d_sources_other; /* not under a listed /32 or /64 */
};

/* A zeroed struct is ready; this is the same. */
void who_node_init(struct who_node *w);

/* A good poll of the node at now_ms: differences since the previous one, added to the
 * episode's sums. A counter that went back (the node restarted) counts from 0. */
void who_node_poll(struct who_node *w, const struct nodestats *st, int64_t now_ms);

/* The episode's sums back to 0 (the counters are kept). */
void who_node_restart(struct who_node *w);

/* A key's share of the new connections over an episode. */
struct who_share {
	char key[CONNSTATS_KEY_MAX + 1];
	uint64_t new_connections;
	double share; /* of who_verdict.new_connections, 0..1 */
};

enum who_remedy {
	WHO_REMEDY_NONE,      /* nothing counted: no accounting on the nodes */
	WHO_REMEDY_LIMIT_TENANT,
	WHO_REMEDY_LIMIT_SOURCE,
	WHO_REMEDY_REBALANCE,
	WHO_REMEDY_NETWORK,
};

struct who_verdict {
	uint64_t new_connections; /* over the episode, every node merged */
	bool known;               /* some node reported tenants or sources */
	struct who_share tenants[WHO_SHOWN_MAX], sources[WHO_SHOWN_MAX];
	size_t ntenants, nsources; /* by share, largest first */
	bool dominant;
	int dominant_tenant, dominant_source; /* index into tenants/sources, or -1 */
	char busiest[WHO_NAME_MAX + 1]; /* the node with most connections now, of 2+ */
	double busiest_share;
	enum who_remedy remedy;
	char finding[WHO_TEXT_MAX];
	char remedy_text[WHO_TEXT_MAX];
};

/*
 * Merges nodes[0..n) (names[i] is nodes[i]'s name; NULL entries are skipped: nodes that
 * take no clients) into *out: each key's episode sums over the nodes, the shares, the
 * verdict, the busiest node and the texts (see the top of this file).
 */
void who_merge(const struct who_node *const *nodes, const char *const *names, size_t n,
    struct who_verdict *out);

/* "limit_tenant", "limit_source", "rebalance", "network", "none". */
const char *who_remedy_name(enum who_remedy r);

#endif
