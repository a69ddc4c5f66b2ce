/*
 * watch — what the monitor knows of every node and cluster, and the glue that
 * turns the detectors' verdicts (detect.h) into incidents (ilog.h).
 *
 * The collector hands it what it saw — a node's admin poll (the text of `stats` and
 * `stats kernel`), a failed poll, each probe's outcome and latency — and once per
 * evaluation interval watch_evaluate() lets the detectors decide and brings the
 * incident log in line with them. No socket, no timer and no clock here: every
 * call takes `now_ms` (monotonic milliseconds), so tests drive it with a fake clock
 * and a temporary log.
 *
 * Incidents: one kind per row of lib/kinds.h (each names docs/runbooks/<kind>.md); what
 * a kind detects, and the title, evidence and summary it writes, are in a file of its
 * own (kind.h: kind_storm.c, kind_tail.c, kind_down.c). A cluster's kind
 * (connection_storm, latency_tail) is one incident per cluster ("<kind>:<cluster>"):
 * the cluster's episode, however many of its nodes it touches or hops across (a tail
 * on every node is one problem, and one page, not one per node); the evidence names
 * the nodes and their numbers. A node's kind (node_down) is one incident per node
 * ("<kind>:<cluster>:<node>").
 * For each, per evaluation, at most one step:
 *   none    -> open      the detector fires: open-or-update by fingerprint (an
 *                        "opened" event carrying the evidence), then an "evidence"
 *                        event with the numbers that tripped it
 *   open    -> open      severity rose: a "severity" event (with the evidence); else
 *                        news (a storm or tail reached another node): an "evidence" event;
 *                        else at most one "evidence" event per evidence_interval
 *   open    -> holding   the detector cleared: nothing written yet
 *   holding -> open      it fired again within resolve_hold: the same incident
 *                        continues (an "evidence" event says so), so a flapping
 *                        node is one incident
 *   holding -> none      clear for resolve_hold: "resolved", with a summary
 * A kind may leave a node out of its episode (a down node takes no part in a tail: its
 * down incident says what is wrong). An unresolved per-node incident of a cluster's
 * kind left by an older version ("latency_tail:<cluster>:<node>") is resolved at
 * start, pointing at the per-cluster one.
 * A write that fails is counted and retried at the next evaluation.
 *
 * At start, watch_adopt() takes over the unresolved incidents a previous run left
 * open: each waits in "holding" for as long as its detector needs to see the
 * condition again, and is resolved if it does not ("not seen again after the
 * monitor restarted"); one of a node or cluster no longer configured is resolved
 * at once. watch_take_over() does the same across a configuration reload, keeping
 * the detectors' learnt state for every node that stays.
 */
#ifndef MCOPS_WATCH_H
#define MCOPS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "histogram.h"
#include "ilog.h"
#include "kinds.h"
#include "monconfig.h"
#include "monstate.h"
#include "nodestats.h"
#include "who.h"

#define WATCH_ACTOR "mcmon"
#define WATCH_ERROR_MAX 160

enum watch_phase {
	WATCH_NONE = 0, /* no incident */
	WATCH_OPEN,
	WATCH_HOLDING,  /* the detector cleared; resolved after the hold */
};

/* One detector's incident in the log. */
struct watch_incident {
	enum watch_phase phase;
	int64_t id;
	enum ilog_severity severity;
	int64_t hold_since_ms, hold_ms;
	int64_t last_evidence_ms;
	bool adopted;          /* taken over from an earlier run, not yet seen again */
	bool closed_elsewhere; /* resolved by someone else while the condition lasts */
	size_t involved_written; /* a cluster's kind: nodes named in the last evidence */
	size_t returns_written;  /* ... and the episode's returns it had seen */
	size_t involved, peak;   /* a cluster's kind: the episode's, kept past its end for
	                            the resolution's summary */
	/* An opening or worsening seen between two evaluations, so that a condition
	 * that came and went within one interval still opens its incident. */
	bool latched;
	enum detect_severity latched_severity;
};

enum watch_probe_outcome {
	WATCH_PROBE_OK,
	WATCH_PROBE_TIMEOUT, /* recorded as slow, with its timeout as latency */
	WATCH_PROBE_FAILED,  /* refused, reset, wrong answer */
};

struct watch_node {
	char name[CLUSTER_NAME_MAX + 1];
	char cluster_name[CLUSTER_NAME_MAX + 1];
	size_t cluster;   /* index into watch.clusters */
	size_t position;  /* index among its cluster's nodes */
	enum cluster_role role; /* a backend ([node]) or a proxy ([proxy]) */
	bool has_admin;   /* polled for stats */
	bool takes_clients; /* a proxy, or a node of a cluster without proxies: polled
	                       for its tenants and sources too (who) */

	/* By kinds.h index: each kind's detector state (owned; its kind_ops.node_size
	 * bytes, see kind.h) and, for a node's kind, its incident. */
	void *kind_state[KINDS_MAX];
	struct watch_incident incident[KINDS_MAX];

	bool polled, poll_ok;
	char poll_error[WATCH_ERROR_MAX];
	struct nodestats stats; /* the latest good poll */
	struct who_node who;    /* a node that takes clients: new connections by tenant
	                           and source between polls, and over an episode */
	uint64_t polls, polls_failed;

	struct histogram latency; /* every recorded probe since start, export bounds */
	struct histogram recent;  /* the same since history.c's last row (it resets it) */
	uint64_t probes_ok, probes_timeout, probes_failed, probes_dropped;
	char probe_error[WATCH_ERROR_MAX]; /* the latest failure */
	int64_t last_probe_ok_wall_ms;     /* UTC ms */
};

struct watch_cluster {
	char name[CLUSTER_NAME_MAX + 1];
	char title[CLUSTER_TITLE_MAX + 1];
	/* By kinds.h index, for a cluster's kind: its episode and its incident. */
	struct detect_cluster episode[KINDS_MAX];
	struct watch_incident incident[KINDS_MAX];
	struct watch_node **nodes; /* owned array of borrowed pointers, cluster order */
	size_t nnodes;
};

struct kind_ops;

struct watch {
	const struct monconfig *cfg; /* borrowed, outlives the watch */
	struct ilog *log;            /* borrowed */
	struct watch_cluster *clusters;
	size_t nclusters;
	struct watch_node *nodes;
	size_t nnodes;
	uint64_t export_bounds[HISTOGRAM_BOUNDS_MAX]; /* `le` of the latency histograms */
	size_t nexport;
	struct histogram poll_duration; /* successful polls of every node */
	uint64_t incident_errors;       /* incident log writes that failed */
	uint64_t incidents_opened, incidents_resolved, events_written;
	int64_t (*wall_ms)(void); /* UTC ms for the state view; replaceable in tests */
	const struct kind_ops *ops[KINDS_MAX]; /* by kinds.h index (kind.h) */
	size_t order[KINDS_MAX];  /* kinds.h indices in the order they are evaluated */
	size_t nkinds;
};

/*
 * Builds the state of every configured node and cluster (fresh detectors, no
 * incidents). cfg and log are borrowed. -1 with err on no memory.
 */
int watch_init(struct watch *w, const struct monconfig *cfg, struct ilog *log, char *err,
    size_t errlen);
void watch_release(struct watch *w);

/*
 * After a reload: moves from old every node (by cluster and node name) and cluster
 * (by name) that w has too: detectors, incidents, counters. Tail windows move only
 * if their shape (threshold, slot, long window) is unchanged; a cluster's storm
 * episode only if its list of nodes is. Incidents of nodes and clusters that are no
 * longer configured are resolved. When w writes to another incident log than old,
 * old's incidents are resolved in old's log instead of moved (their ids mean other
 * incidents in w's), and w takes over the unresolved ones of its log as
 * watch_adopt() does. old is left to be released.
 */
void watch_take_over(struct watch *w, struct watch *old, int64_t now_ms);

/* At start: see the top of this file. -1 with err if the log cannot be read. */
int watch_adopt(struct watch *w, int64_t now_ms, char *err, size_t errlen);

/* What a poll of n asks for besides `stats` and `stats kernel` (nodestats.h parts):
 * a proxy's own figures, and a node that takes clients its tenants and sources. */
unsigned watch_node_parts(const struct watch_node *n);

/*
 * A node's admin poll: the replies to nodestats_request(watch_node_parts(n)), as
 * received (the second may be an error: a node without the kernel view). Feeds the
 * attribution (who) and the kinds' detectors. A first reply that is not a stats block
 * counts as a failed poll.
 */
void watch_poll(struct watch *w, struct watch_node *n, const char *reply, size_t len,
    int64_t duration_us, int64_t now_ms);
void watch_poll_failed(struct watch *w, struct watch_node *n, const char *error,
    int64_t now_ms);

/* A probe's outcome. latency_us: the probe's (OK) or its timeout (TIMEOUT). */
void watch_probe(struct watch *w, struct watch_node *n, enum watch_probe_outcome outcome,
    uint64_t latency_us, const char *error, int64_t now_ms);
/* A probe that was due while the previous one was still in flight. */
void watch_probe_dropped(struct watch *w, struct watch_node *n);

/* The evaluation: detectors decide, incidents follow (top of this file). */
void watch_evaluate(struct watch *w, int64_t now_ms);

/* The view for `mctl status` (st's arrays are replaced). -1 with err on no memory. */
int watch_snapshot(const struct watch *w, struct monstate *st, int64_t interval_ms,
    char *err, size_t errlen);

/* By name, or NULL. */
struct watch_node *watch_find_node(struct watch *w, const char *cluster, const char *node);

/* The status of node n's detector of kind k (kinds.h index): metrics, the view. */
const struct detect_status *watch_node_status(const struct watch *w, const struct watch_node *n,
    size_t k);

/*
 * For the kinds' hooks (kind.h): notes on inc that its detector opened or worsened
 * (ev) since the last evaluation, so that a condition that came and went within one
 * interval still opens its incident.
 */
void watch_incident_latch(struct watch_incident *inc, enum detect_event ev,
    enum detect_severity severity);

#endif
