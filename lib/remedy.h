/*
 * remedy — the standard remedies on cache nodes, one audited code path for every tool
 * that runs them (mctl flush/drain/rebalance/tenant connlimit, mcalert's "run N" from
 * chat):
 *
 *   flush      empty the cache (all tenants, or one) on backends: they hold the data
 *   drain      refuse new clients / accept again, on the nodes that take clients
 *   rebalance  close client connections above the cluster's mean (or N), idle ones
 *              first, on the nodes that take clients, so that clients reconnect evenly
 *   connlimit  set one tenant's connection limits in the tenants file (a locked edit,
 *              lib/tenants_edit.h), then admin `reload` on the nodes that take clients
 *              (where a tenant's logins are admitted); with neither node nor cluster
 *              named, the file only (mctl tenant connlimit without --cluster: the
 *              nodes pick it up on SIGHUP or a reload, as the operator decides)
 *
 * A remedy is one struct remedy: remedy_prepare() picks its targets (a node named, or
 * a cluster's nodes of the remedy's layer: lib/cluster.h's roles), remedy_plan() reads
 * what a rebalance must close, remedy_connlimit_apply() edits the tenants file of a
 * connlimit (before any node is told), remedy_run_node() acts on one target through its admin
 * port (lib/adminport.h), and remedy_record() writes the one event the incident log
 * keeps of it (type remedy_event_type(), body remedy_event_body(), on the incident if
 * one is named, with the caller's actor). Callers print or reply between the steps.
 *
 * Blocking: each node's exchange is bounded by the request's timeout. Never logs.
 */
#ifndef MCOPS_REMEDY_H
#define MCOPS_REMEDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cluster.h"
#include "tenants_edit.h"

#define REMEDY_TIMEOUT_MS 5000      /* per node, connect to reply */
#define REMEDY_TIMEOUT_MAX_MS 600000
#define REMEDY_SHED_MAX 1000000
#define REMEDY_ERR_MAX 512

struct ilog;

enum remedy_verb {
	REMEDY_FLUSH,
	REMEDY_DRAIN,
	REMEDY_REBALANCE,
	REMEDY_CONNLIMIT,
};

/* What to do; the strings are borrowed for the remedy's life. */
struct remedy_request {
	enum remedy_verb verb;
	const char *node;       /* one node by name, or */
	const char *cluster;    /* every node of the cluster on the remedy's layer */
	const char *tenant;     /* flush: one tenant (a valid name), NULL for all;
	                           connlimit: the tenant */
	bool drain_on;          /* drain */
	uint64_t shed;          /* rebalance: 1..REMEDY_SHED_MAX each, 0 = down to the mean */
	const char *tenants_path;        /* connlimit: the file edited */
	struct tenants_connlimit limits; /* connlimit: what changes (tenant: its name) */
	int64_t incident;       /* recorded on it; 0 for none */
	int64_t timeout_ms;     /* per node; 0 = REMEDY_TIMEOUT_MS */
};

/* What happened on one target. */
struct remedy_result {
	const struct cluster_node *node;
	bool ok;
	int64_t ms;
	uint64_t connections;   /* rebalance: client connections before */
	uint64_t shed;          /* rebalance: asked to close */
	char error[REMEDY_ERR_MAX]; /* !ok: why ("" while not run) */
};

struct remedy {
	struct remedy_request req;
	const struct clusters *cl;     /* borrowed */
	const struct cluster *c;       /* the targets' cluster */
	const struct cluster_node **targets; /* owned array of n, borrowed nodes */
	struct remedy_result *res;     /* owned, n */
	size_t n;
	size_t failed;                 /* counted by remedy_run_node */
	/* connlimit: the file's change, once remedy_connlimit_apply() succeeded. */
	bool applied;
	struct tenants_connlimit_result limits;
};

enum remedy_status {
	REMEDY_OK,
	REMEDY_NO_NODE,      /* req.node names no node of cl */
	REMEDY_NO_CLUSTER,   /* req.cluster names no cluster of cl */
	REMEDY_WRONG_LAYER,  /* req.node is of the other layer (r->c is its cluster) */
	REMEDY_NOMEM,
};

/* "flush", "drain", "rebalance", "connlimit". */
const char *remedy_verb_name(enum remedy_verb v);
/* The event type recorded (ILOG_EV_FLUSH, ...). */
const char *remedy_event_type(enum remedy_verb v);

/* True if v acts on n (see the top of this file). */
bool remedy_acts_on(const struct clusters *cl, const struct cluster_node *n,
    enum remedy_verb v);

/*
 * Makes r (caller-owned, any content) for req over cl (borrowed, as req's strings):
 * its cluster and targets. REMEDY_OK, or why not; r must be released in every case.
 */
enum remedy_status remedy_prepare(struct remedy *r, const struct clusters *cl,
    const struct remedy_request *req);

/* A rebalance's plan: with req.shed that many on each target; else what each holds
 * above the mean of the cluster's reachable client-taking nodes. A target whose count
 * cannot be read gets its error here (and is not run). No-op for other verbs. */
void remedy_plan(struct remedy *r);

/*
 * A connlimit's edit of req.tenants_path (tenants_edit_connlimit): TENANTS_EDIT_OK with
 * r->applied and r->limits set, else the status with err, the file unchanged, and every
 * target's error saying so (none of them is then told to reload). Call it once, before
 * remedy_run_node(); any other verb: TENANTS_EDIT_OK, nothing done.
 */
enum tenants_edit_status remedy_connlimit_apply(struct remedy *r, char *err, size_t errlen);

/* Acts on target i (unless planning or the file's edit failed it): fills r->res[i],
 * counts a failure. */
void remedy_run_node(struct remedy *r, size_t i);

/* The event's body: scope, cluster, each node's outcome, done/failed and the verb's
 * own fields (tenant/flushed, drain, shed; connlimit: tenant, file, applied, the limits
 * before and after). For a connlimit of the file only, scope is "file" and cluster null.
 * A new reference, NULL when out of memory. */
json_t *remedy_event_body(const struct remedy *r);

/*
 * Appends the event (body: remedy_event_body's, borrowed) by actor on req.incident.
 * 0 with *event_id, or -1 with err set.
 */
int remedy_record(const struct remedy *r, struct ilog *log, const char *actor, json_t *body,
    int64_t *event_id, char *err, size_t errlen);

/* Frees what r owns. */
void remedy_release(struct remedy *r);

#endif
