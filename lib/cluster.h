/*
 * cluster — the cache topology from the configuration: the clusters, the nodes of
 * each, where each node's client and admin listeners are, and the accounts the
 * operator's tools (admin) and the monitor (probe) use on them.
 *
 *     [cluster c1]
 *     title = US-East C1                    ; public name; default: the cluster's name
 *     group = US East (Virginia)            ; optional: its group on the status page
 *     admin_user = ops                      ; account with the admin capability
 *     admin_password_file = etc/secrets/ops.pw
 *     probe_user = probe                    ; a tenant for the monitor's probes
 *     probe_password_file = etc/secrets/probe.pw
 *     [node n1]
 *     cluster = c1                          ; required, must be a [cluster] section
 *     client = 127.0.0.1:11211              ; required: host:port or [v6]:port
 *     admin = 127.0.0.1:11311               ; optional: the admin listener
 *     [proxy p1]                            ; a proxy of the cluster (mcd --proxy)
 *     cluster = c1                          ; the same keys as a node
 *     client = 127.0.0.1:22122
 *     admin = 127.0.0.1:22222
 *
 * [node NAME] sections are the cluster's backends (a cluster without proxies is all
 * backends, as before the proxy tier); proxies and nodes share one name space. A
 * cluster needs at least one node.
 * A user and its password file come together or not at all (nodes without tenants
 * need neither). Password files are read at load time (the path is relative to the
 * working directory, like every path in the configuration); the secrets are never
 * put into error messages. Names are 1..CLUSTER_NAME_MAX of [A-Za-z0-9_.-].
 *
 * Errors ("file:line: message", all of them in one run): a node of an unknown
 * cluster, a missing or malformed address, the same address used twice (by any
 * listener of any node), a section defined twice, a cluster without nodes, a
 * user without its password file (or the reverse), an unreadable password file, more
 * than CLUSTERS_MAX clusters or CLUSTER_NODES_MAX nodes.
 */
#ifndef MCOPS_CLUSTER_H
#define MCOPS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CLUSTER_NAME_MAX 64
#define CLUSTER_TITLE_MAX 128
#define CLUSTER_USER_MAX 64                       /* as long as a tenant name */
#define CLUSTER_HOST_MAX 253                      /* a DNS name at most */
#define CLUSTER_ADDR_TEXT_MAX (CLUSTER_HOST_MAX + 10) /* "[host]:65535" and NUL */
#define CLUSTERS_MAX 64
#define CLUSTER_NODES_MAX 1024

/* One listener's address. port 0: not configured. */
struct cluster_addr {
	char host[CLUSTER_HOST_MAX + 1];  /* no brackets: "127.0.0.1", "::1", "cache-1" */
	uint16_t port;
	char text[CLUSTER_ADDR_TEXT_MAX]; /* "127.0.0.1:11211", "[::1]:11211" */
};

/* An account on the nodes' listeners; set = false if not configured. */
struct cluster_account {
	bool set;
	char user[CLUSTER_USER_MAX + 1];
	char password[CONFIG_SECRET_MAX];
};

struct cluster {
	char name[CLUSTER_NAME_MAX + 1];
	char title[CLUSTER_TITLE_MAX + 1];
	char group[CLUSTER_TITLE_MAX + 1]; /* the status page's group (a region), "" none */
	struct cluster_account admin;
	struct cluster_account probe;
	size_t nnodes; /* nodes whose .cluster is this cluster's index (proxies included) */
	size_t nproxies; /* of which proxies */
	int line;      /* of its section header */
};

/* What a node is in its cluster: a backend that holds data ([node NAME]) or a proxy
 * in front of the cluster's backends ([proxy NAME], mcd --proxy). */
enum cluster_role {
	CLUSTER_BACKEND,
	CLUSTER_PROXY,
};

struct cluster_node {
	char name[CLUSTER_NAME_MAX + 1];
	enum cluster_role role;
	size_t cluster;            /* index into struct clusters.v */
	struct cluster_addr client;
	struct cluster_addr admin; /* port 0 if the node has no admin address */
	int line;
};

/* The whole topology, in file order. Caller-owned; zero it before the first load. */
struct clusters {
	struct cluster *v;
	size_t n;
	struct cluster_node *nodes;
	size_t nnodes;
};

/*
 * Reads every [cluster NAME] and [node NAME] section of cfg into cl (released
 * first), marking their keys used. Returns 0, or -1 with one or more messages added
 * to errs and cl left empty. Keys other than the ones above are left unused, so the
 * caller's config_check_unknown(cfg, clusters_owns, errs) reports them.
 */
int clusters_load(struct clusters *cl, struct config *cfg, struct config_errors *errs);

/* Frees cl and wipes the passwords it held. */
void clusters_release(struct clusters *cl);

/* By name, or NULL. */
const struct cluster *clusters_find(const struct clusters *cl, const char *name);
const struct cluster_node *clusters_find_node(const struct clusters *cl, const char *name);

/* True for "cluster NAME", "node NAME" and "proxy NAME": the sections this module owns. */
bool clusters_owns(const char *section);

/* "node" (a backend) or "proxy", as the configuration names the section. */
const char *cluster_role_word(enum cluster_role role);

/* True if n takes its cluster's clients: a proxy, or a node of a cluster without
 * proxies (clients connect there; the accounting of tenants and sources lives there). */
bool cluster_takes_clients(const struct clusters *cl, const struct cluster_node *n);

/*
 * Parses "host:port" or "[v6]:port" (port 1..65535; a host of letters, digits, '.',
 * '-', or a bracketed IPv6 literal). Numeric hosts are put in canonical form so that
 * two spellings of one address compare equal. 0, or -1 with err set.
 */
int cluster_addr_parse(const char *s, struct cluster_addr *out, char *err, size_t errlen);

/* True if s is a valid cluster or node name. */
bool cluster_name_valid(const char *s);

#endif
