/*
 * kind — what each kind of incident does in the monitor: one struct of operations per
 * kind, each in a file of its own (kind_storm.c, kind_tail.c, kind_down.c,
 * kind_ejected.c, kind_churn.c), listed in
 * kind.c. watch.c keeps what every kind shares (an incident's steps, adoption at start,
 * take-over at a reload, the view for `mctl status`) and loops over the kinds; the
 * kinds themselves (names, scope, labels, public texts, runbooks) are the rows of
 * lib/kinds.h, which an ops struct implements by name.
 *
 * Every kind has a detector per node (its state: node_size bytes that watch allocates
 * for each node, zeroed, then node_init). Its incidents are either its cluster's
 * (KIND_SCOPE_CLUSTER: one episode per cluster, struct detect_cluster, over the nodes'
 * statuses from episode_member) or each node's own (KIND_SCOPE_NODE: the incident
 * follows the node detector's status, and the latches the kind sets in its hooks).
 *
 * Hooks get the kind's index k (into lib/kinds.h's table, and so into the per-kind
 * arrays of struct watch_node and struct watch_cluster). Hooks marked "may be NULL"
 * are skipped when NULL. Nothing here writes to the incident log: watch.c does.
 */
#ifndef MCOPS_KIND_H
#define MCOPS_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "detect.h"
#include "kinds.h"
#include "monconfig.h"
#include "nodestats.h"
#include "watch.h"


/* What an incident is about, and when (for times in its evidence). */
struct kind_subject {
	size_t kind;                   /* index into lib/kinds.h */
	struct watch_cluster *cluster;
	struct watch_node *node;       /* NULL for a cluster's kind */
	int64_t now_ms;                /* monotonic, as the detectors' times */
	int64_t wall_ms;               /* UTC ms at now_ms */
	const struct monconfig *cfg;   /* the watch's */
};

struct kind_ops {
	const char *name; /* the row of lib/kinds.h this implements */

	/* The per-node detector. node_init may be NULL (zeroed is ready); node_release
	 * may be NULL (nothing owned). node_keeps: after a reload, whether the state
	 * learnt under `from` is still valid under `to` (NULL: always). */
	size_t node_size;
	int (*node_init)(void *state, const struct monconfig *cfg, char *err, size_t errlen);
	void (*node_release)(void *state);
	bool (*node_keeps)(const struct monconfig *to, const struct monconfig *from);
	/* The detector's status: its words in the view, its metrics. */
	const struct detect_status *(*status)(const void *state);

	/* Feeding, each may be NULL: a good admin poll, a probe's outcome, and the start
	 * of every evaluation (before any incident is brought in line). */
	void (*poll)(struct watch *w, struct watch_node *n, size_t k, const struct nodestats *st,
	    int64_t now_ms);
	void (*probe)(struct watch *w, struct watch_node *n, size_t k,
	    enum watch_probe_outcome outcome, uint64_t latency_us, int64_t now_ms);
	void (*tick)(struct watch *w, struct watch_node *n, size_t k, int64_t now_ms);

	/* A cluster's kind only: a node's status for its cluster's episode at this
	 * evaluation (it may take a latch), and how long the episode outlives its last
	 * node. */
	struct detect_status (*episode_member)(struct watch *w, struct watch_node *n, size_t k);
	int64_t (*episode_grace_ms)(const struct monconfig *cfg);

	/* The incident's title (at most len - 1 bytes), its evidence (a new JSON object,
	 * NULL on no memory) and the summary it is resolved with once clear. */
	void (*title)(const struct kind_subject *s, char *buf, size_t len);
	json_t *(*evidence)(const struct kind_subject *s);
	void (*summary)(const struct kind_subject *s, const struct watch_incident *inc, char *buf,
	    size_t len);

	/* At start, how much longer than resolve_hold + evaluate_interval the detector needs
	 * to see its condition again from a standing start (adoption, see watch.h). */
	int64_t (*adoption_extra_ms)(const struct monconfig *cfg);
	/* A cluster's kind that older versions raised per node ("<kind>:<cluster>:<node>"):
	 * the message such an incident is resolved with at start ("%s": the cluster), or
	 * NULL when a fingerprint of that shape is not ours. */
	const char *superseded_per_node;
};

extern const struct kind_ops kind_storm_ops, kind_tail_ops, kind_down_ops, kind_ejected_ops,
    kind_churn_ops;

/*
 * The registered kinds, in the order watch evaluates them (a kind that reads another's
 * verdict comes after it: tails after node down). Returns the number, at most
 * KINDS_MAX, and fills order[] with each one's index into lib/kinds.h and ops[] (by
 * that index) with its operations. -1 with err if a row of lib/kinds.h has no
 * operations, an ops struct names no row, or lacks an operation its scope needs (a
 * kind half added).
 */
int kind_registry(const struct kind_ops *ops[KINDS_MAX], size_t order[KINDS_MAX], char *err,
    size_t errlen);

/* JSON numbers for evidence: a non-finite real is 0, a count is capped at INT64_MAX. */
json_t *kind_json_real(double v);
json_t *kind_json_count(uint64_t v);

/*
 * The evidence of a cluster's kind: {"cluster", "nodes", "in_<label>",
 * "peak_in_<label>", "involved" (the episode's nodes), "last_joined", "<label>_state",
 * "participants": [{"node", "role" (node|proxy), "joined_at", "last_at" (UTC, ms),
 * "now" (taking part at this evaluation)}] in the order they joined,
 * "node_evidence": {node: node_json(...)}}. node_json gets each node of the cluster,
 * in order, and whether it took part in the episode, and returns its evidence or
 * NULL to leave it out. NULL on no memory.
 */
json_t *kind_episode_evidence(const struct kind_subject *s,
    json_t *(*node_json)(const struct watch_node *n, size_t k, bool involved));

/* The kinds' detectors, for what is not a kind's own (the view's numbers, metrics,
 * tests). The node's, or its cluster's episode. */
struct detect_storm *kind_storm_detector(const struct watch_node *n);
const struct detect_cluster *kind_storm_episode(const struct watch_cluster *c);
struct detect_tail *kind_tail_detector(const struct watch_node *n); /* its probes' */
/* A backend's tail as its cluster's proxies see it (their replies summed), or NULL
 * before a proxy reported on it. */
struct detect_tail *kind_tail_proxied(const struct watch_node *n);
struct detect_down *kind_down_detector(const struct watch_node *n);
/* Proxy p's figures for backend name from its latest poll, if that poll succeeded;
 * NULL otherwise (or when p is not a proxy). */
const struct nodestats_backend *kind_proxy_backend(const struct watch_node *p, const char *name);
/* The proxies of cluster c whose latest poll reports backend n down (a new array of
 * names; empty for a proxy or when none does). */
json_t *kind_ejected_by(const struct watch_cluster *c, const struct watch_node *n);
/* Whether the node is down: its detector says so, or its incident is not over yet (a
 * down node takes part in no tail: its own incident says what is wrong). */
bool kind_down_node_down(const struct watch_node *n);

#endif
