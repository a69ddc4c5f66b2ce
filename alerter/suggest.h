/*
 * suggest — the numbered remedies a page offers ("1: rebalance c1 — p2 holds 80% of
 * the cluster's connections"), derived from the incident's latest evidence and its
 * kind's runbook. Pure: a function of the incident and the evidence's JSON text.
 *
 * What the evidence says (monitor/who.c writes it as "who" in a storm's evidence):
 *   - one client-taking node holds at least SUGGEST_REBALANCE_SHARE of the cluster's
 *     connections ("busiest_node", "busiest_share")  -> rebalance the cluster
 *   - one tenant has at least SUGGEST_DOMINANT_SHARE of the new connections
 *     (who.tenants[0])                                -> flush that tenant on the
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

#include "ilog.h"
#include "ilog_remedy.h"

#define SUGGEST_REBALANCE_SHARE 0.6 /* as monitor/who.h's WHO_REBALANCE_SHARE */
#define SUGGEST_DOMINANT_SHARE 0.5  /* as monitor/who.h's WHO_DOMINANT_SHARE */

/*
 * The suggestions for inc from evidence_json (an event body: its "evidence" member, or
 * the body itself; NULL or not JSON: none) into out[0..max). Returns how many.
 */
size_t suggest_derive(const struct ilog_incident *inc, const char *evidence_json,
    struct ilog_remedy *out, size_t max);

#endif
