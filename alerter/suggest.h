/*
 * suggest — the numbered remedies a page offers ("1: rebalance c1 — p2 holds 80% of
 * the cluster's connections"), derived from the incident's latest evidence and its
 * kind's runbook. Pure: a function of the incident and the evidence's JSON text.
 *
 * What the evidence says (monitor/who.c writes it as "who" in a storm's evidence):
 *   - one client-taking node holds at least SUGGEST_REBALANCE_SHARE of the cluster's
 *     connections ("busiest_node", "busiest_share")  -> rebalance the cluster
 *   - one tenant has at least SUGGEST_DOMINANT_SHARE of the new connections
 *     (who.tenants[0])                                -> limit that tenant's new
 *     connections to conn_rate a second (verb "connlimit", arg the rate; the nodes
 *     that take clients reload the tenants file), then flush that tenant on the
 *     cluster (the runbook's last resort, so it comes last)
 * Which of these a kind may offer is its runbook's (a table in suggest.c): a latency
 * tail is never flushed (docs/runbooks/latency_tail.md), a node that is down is not
 * rebalanced onto. Names from the evidence are used only when they are valid names.
 *
 * Each suggestion is a struct ilog_remedy with verb, cluster, node, tenant, arg and
 * sentence filled (lib/ilog_remedy.h numbers and stores them).
 */
#ifndef MCOPS_ALERTER_SUGGEST_H
#define MCOPS_ALERTER_SUGGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ilog.h"
#include "ilog_remedy.h"

#define SUGGEST_REBALANCE_SHARE 0.6 /* as monitor/who.h's WHO_REBALANCE_SHARE */
#define SUGGEST_DOMINANT_SHARE 0.5  /* as monitor/who.h's WHO_DOMINANT_SHARE */
/*
 * The rate a "limit tenant" suggestion offers unless [alerter] suggest_connrate says
 * otherwise. A configured figure, not one derived from the storm: the evidence counts
 * new connections over an episode (no duration, no per-tenant rate), and the right
 * limit is what the tenant's plan allows -- an operator's number, not a fraction of
 * a storm, which would still be a storm. 20 a second per node lets a client that keeps
 * its connections (the documented norm) restart a fleet of a few hundred processes in
 * seconds, and holds one that connects per request to a few percent of a storm's rate.
 */
#define SUGGEST_CONNRATE_DEFAULT 20

/*
 * The suggestions for inc from evidence_json (an event body: its "evidence" member, or
 * the body itself; NULL or not JSON: none) into out[0..max), a tenant's limit being
 * conn_rate new connections a second (1..TENANT_CONN_LIMIT_MAX; else no limit is
 * suggested). Returns how many.
 */
size_t suggest_derive(const struct ilog_incident *inc, const char *evidence_json,
    uint64_t conn_rate, struct ilog_remedy *out, size_t max);

#endif
