/*
 * kinds — the one table of incident kinds that mcmon raises, read by every layer:
 * the monitor (fingerprints, its detectors' metrics labels), the view file it writes
 * for `mctl status` (lib/monstate.h), `mctl status` itself, and the status page (its
 * public titles and first updates).
 *
 * A kind is:
 *   name          incidents.kind, the first part of its fingerprints, and the name of
 *                 its runbook: "connection_storm"
 *   scope         whose incident it is: one per cluster ("connection_storm:<cluster>",
 *                 however many of its nodes take part) or one per node
 *                 ("node_down:<cluster>:<node>"). Every kind is detected per node.
 *   label         its short name: the `detector` label of mcmon's metrics, the key of
 *                 its fields in the view file and in `mctl status` (text and JSON):
 *                 "storm"
 *   involvement   for a cluster's kind, how `mctl status` says a node takes part:
 *                 "in storm" ("3 node(s) in storm"); NULL for a node's kind
 *   public_title  the status page's name of such an incident, a format with exactly one
 *                 "%s" (where: the affected components' public names) and no other "%"
 *   public_first  the status page's automatic first update, the same kind of format
 *   runbook       "docs/runbooks/<name>.md", relative to the repository's top
 *   advisory      true: never paged (mcalert records it and `mctl status` shows it, but
 *                 nobody is woken), and never more than minor (the status page's
 *                 impact): something to tell a customer, not an outage. Nor is it
 *                 public: the status page and its sinks leave it out (kinds_public).
 *                 false (the default of a row that does not say) pages as usual
 * Incidents of other kinds (opened by hand, by the Alertmanager intake) are not in the
 * table: they get kinds_public_title()'s and kinds_public_first()'s generic texts.
 *
 * Indices: kinds are numbered 0..kinds_count() in table order, which is also the order
 * in which every layer lists them (metrics, the view file, `mctl status`); per-kind
 * arrays (struct monstate, the monitor's per-node state) are indexed by it and sized
 * KINDS_MAX. The table is constant; nothing here allocates or logs.
 */
#ifndef MCOPS_KINDS_H
#define MCOPS_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#define KINDS_MAX 8 /* rows the table may grow to: per-kind arrays are this long */

enum kind_scope {
	KIND_SCOPE_CLUSTER, /* one incident per cluster */
	KIND_SCOPE_NODE,    /* one incident per node */
};

struct kind {
	const char *name;
	enum kind_scope scope;
	const char *label;
	const char *involvement;
	const char *public_title;
	const char *public_first;
	const char *runbook;
	bool advisory;
};

/* How many kinds there are (at most KINDS_MAX). */
size_t kinds_count(void);

/* The kind at index i (0..kinds_count()), or NULL past the end. */
const struct kind *kinds_at(size_t i);

/* By name (incidents.kind), or NULL if mcmon raises no such kind. */
const struct kind *kinds_find(const char *name);

/* By name, its index into per-kind arrays; -1 if there is no such kind. */
int kinds_index(const char *name);

/* The public title and first-update formats (one "%s") of an incident of kind name:
 * the kind's own, or the generic ones for a kind not in the table (any name, even
 * NULL). Never NULL. */
const char *kinds_public_title(const char *name);
const char *kinds_public_first(const char *name);

/* Whether an incident of kind name may page: false for an advisory kind of the table,
 * true for every other kind (opened by hand, by the intake: any name, even NULL). */
bool kinds_pages(const char *name);
/* Whether an incident of kind name is published on the status page: false for an
 * advisory kind of the table (it concerns one customer), true otherwise. */
bool kinds_public(const char *name);

#endif
