/*
 * detect — the monitor's decision cores: connection storms per node, their
 * correlation per cluster, latency tails and dead nodes.
 *
 * Every detector is a struct the caller owns plus a pure update function of
 * (detector, configuration, sample, now): no clock is read, no I/O is done, nothing
 * is logged. Times are caller-supplied milliseconds from a monotonic clock (a fake
 * one in tests). The daemon feeds samples, and acts on the returned event.
 *
 * Common shape of every detector:
 *   - status.state: ok -> pending (condition seen, not yet long enough) -> firing
 *     -> recovering (condition gone, not yet long enough) -> ok;
 *   - status.severity: minor / major / critical while firing or recovering, from how
 *     far the evidence is above its threshold; within one incident it only rises;
 *   - evidence: the numbers of the latest sample (those that tripped it, at the
 *     moment of DETECT_EVENT_OPENED), for the daemon's `evidence` event;
 *   - the update returns DETECT_EVENT_OPENED when firing begins, _WORSENED when the
 *     severity rises (or, for a cluster, the storm spreads to another node),
 *     _CLEARED when it is over, and _NONE otherwise: so the daemon writes at most one
 *     event per change, never one per sample.
 * No field is ever NaN or infinite, whatever the samples (no samples, zero time
 * between samples, counters going backwards).
 */
#ifndef MCOPS_DETECT_H
#define MCOPS_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "histogram.h"

#define DETECT_CLUSTER_NODES_MAX 256 /* nodes in one cluster */

enum detect_state {
	DETECT_OK = 0,
	DETECT_PENDING,
	DETECT_FIRING,
	DETECT_RECOVERING,
};

enum detect_severity {
	DETECT_SEVERITY_NONE = 0,
	DETECT_SEVERITY_MINOR,
	DETECT_SEVERITY_MAJOR,
	DETECT_SEVERITY_CRITICAL,
};

enum detect_event {
	DETECT_EVENT_NONE = 0,
	DETECT_EVENT_OPENED,
	DETECT_EVENT_WORSENED,
	DETECT_EVENT_CLEARED,
};

/* Lower-case names for logs, JSON and metrics labels ("ok", "major", "opened"). */
const char *detect_state_name(enum detect_state state);
const char *detect_severity_name(enum detect_severity severity);
const char *detect_event_name(enum detect_event event);

struct detect_status {
	enum detect_state state;
	enum detect_severity severity; /* NONE unless firing or recovering */
	int64_t since_ms;  /* when the current state was entered */
	int64_t opened_ms; /* when the current incident opened; 0 when none */
};

/* True while firing or recovering: an incident is open. */
bool detect_status_open(const struct detect_status *status);

/*
 * Every threshold. docs/monitor.md documents each key of [monitor] and its
 * default; detect_defaults() is the reference for the values.
 */
struct detect_config {
	/* Connection storm, per node. A signal trips when it is above its baseline
	 * + storm_k sigma AND above storm_ratio x baseline AND above its floor. */
	double storm_k;
	double storm_ratio;
	double storm_floor;          /* connections */
	double storm_rate_floor;     /* new connections per second */
	uint64_t storm_accept_queue; /* accept-queue depth that trips by itself; 0 off */
	double storm_overflow_rate;  /* listen overflows per second that trip; 0 off */
	uint32_t storm_enter;        /* consecutive samples tripped to open */
	uint32_t storm_exit;         /* consecutive quiet samples to clear */
	double storm_clear_fraction; /* quiet: every signal below this x its trip level */
	int64_t storm_halflife_ms;   /* of the EWMA baselines */
	uint32_t storm_warmup;       /* samples learnt before level/rate can trip */
	int64_t storm_restart_grace_ms; /* after a counter reset: rate ignored, not learnt */
	int64_t storm_max_freeze_ms; /* a storm this long is learnt as the new normal */
	/* Cluster correlation. */
	int64_t cluster_grace_ms; /* no node in storm this long ends the episode */
	/* Latency tail, per node. A window trips when its slow fraction is above
	 * tail_fraction AND above its learnt baseline + tail_baseline_k sigma AND
	 * tail_baseline_ratio x baseline (but never needs more than tail_baseline_ratio x
	 * the larger of tail_fraction and tail_baseline_max). */
	uint64_t tail_threshold_us; /* a probe slower than this is slow */
	double tail_fraction;       /* both windows above this fraction (at least): open */
	double tail_clear_fraction; /* the clear level on a quiet node (see below) */
	double tail_baseline_k;     /* sigma over the baseline */
	double tail_baseline_ratio; /* times the baseline; also the cap (see tail_trip) */
	double tail_baseline_max;   /* the most a baseline may learn */
	int64_t tail_baseline_halflife_ms; /* of the slow-fraction baselines */
	int64_t tail_warmup_ms;            /* learnt before the detector may open */
	int64_t tail_short_window_ms;
	int64_t tail_long_window_ms;
	int64_t tail_slot_ms; /* resolution of both windows */
	uint64_t tail_min_samples; /* the short window needs this many probes to count */
	uint64_t tail_long_min_samples; /* and the long one this many */
	int64_t tail_clear_hold_ms;
	/* Node down. */
	uint32_t down_failures;   /* consecutive failed probes: down */
	int64_t down_silence_ms;  /* no successful probe for this long: down; 0 off */
	uint32_t down_recoveries; /* consecutive successful probes: up again */
	int64_t down_critical_ms; /* down this long: critical; 0 never */
	/* Connection churn, per tenant on one node (kind_churn.c): its new connections
	 * per second at least churn_rate while at least churn_share of its connections
	 * that closed served at most two requests, for churn_sustain without a break;
	 * over after churn_clear without. */
	double churn_rate;
	double churn_share;
	int64_t churn_sustain_ms;
	int64_t churn_clear_ms;
	/* Severity: excess = evidence / threshold. Below major: minor. */
	double severity_major;
	double severity_critical;
};

/* The documented defaults. */
void detect_defaults(struct detect_config *cfg);

/*
 * Checks the relations between values (clear fraction below fraction, windows
 * whole numbers of slots, ...). Returns 0, or -1 with err naming the key.
 */
int detect_config_check(const struct detect_config *cfg, char *err, size_t errlen);

/*
 * Whether probes at probes_per_second can fill each tail window to its minimum
 * sample count (a window holds one slot less than its length at worst): without
 * that, tail detection could never fire. Returns 0, or -1 with err.
 */
int detect_config_check_probe_rate(const struct detect_config *cfg, double probes_per_second,
    char *err, size_t errlen);

/*
 * Fills cfg from `section` of file (normally "monitor"): defaults for absent keys,
 * every invalid value reported to errs as "file:line: key: ..." (all of them, in
 * one pass). Keys it reads are marked used (config_check_unknown). Returns 0, or
 * -1 if anything was reported; cfg then holds defaults for the bad keys and must
 * not be used.
 */
int detect_config_read(struct detect_config *cfg, struct config *file, const char *section,
    struct config_errors *errs);

/* --- connection storm (one per node) ----------------------------------------------- */

#define DETECT_STORM_LEVEL 0x1u        /* current connections */
#define DETECT_STORM_RATE 0x2u         /* new connections per second */
#define DETECT_STORM_ACCEPT_QUEUE 0x4u /* accept-queue depth */
#define DETECT_STORM_OVERFLOWS 0x8u    /* listen overflows per second */

/* One poll of a node's stats. */
struct detect_storm_sample {
	uint64_t curr_connections;
	uint64_t total_connections; /* cumulative since the node started */
	bool has_kernel;            /* the kernel view below is known */
	uint64_t accept_queue;      /* accept-queue depth, summed over listeners */
	uint64_t listen_overflows;  /* cumulative */
};

struct detect_storm_evidence {
	double level, level_baseline, level_sigma, level_trip;
	double rate, rate_baseline, rate_sigma, rate_trip; /* per second */
	bool rate_known;    /* false on the first sample and at a counter reset */
	bool counter_reset; /* total_connections went backwards: the node restarted */
	uint64_t accept_queue;
	double overflow_rate; /* per second */
	unsigned tripped;     /* DETECT_STORM_* bits tripped by this sample */
	double excess;        /* highest value / trip level among the tripped signals */
};

/* An EWMA of a value and of its squared deviation. */
struct detect_baseline {
	double mean;
	double var;
	uint64_t n; /* samples learnt */
};

struct detect_storm {
	struct detect_status status;
	struct detect_storm_evidence evidence;
	struct detect_baseline level, rate; /* frozen while a storm is open */
	uint32_t tripped_run, quiet_run;    /* consecutive samples */
	bool have_previous;
	int64_t previous_ms;
	uint64_t previous_total;
	bool previous_has_kernel;
	uint64_t previous_overflows;
	bool restarted;
	int64_t restart_ms;
};

void detect_storm_init(struct detect_storm *storm);

/*
 * Feeds one poll. A sample not later than the previous one is ignored
 * (DETECT_EVENT_NONE, nothing changes). Baselines learn only from samples that
 * trip nothing while no storm is open (and, during warm-up, from every sample),
 * except that a storm open longer than storm_max_freeze is learnt from again.
 */
enum detect_event detect_storm_update(struct detect_storm *storm, const struct detect_config *cfg,
    const struct detect_storm_sample *sample, int64_t now_ms);

/* True when the storm detector counts its node as in storm (for the cluster). */
bool detect_storm_active(const struct detect_storm *storm);

/* --- cluster correlation (one per cluster) ------------------------------------------ */

struct detect_cluster_evidence {
	size_t nodes;          /* in the cluster */
	size_t in_storm;       /* nodes in storm now */
	size_t involved;       /* nodes in storm at any time during this episode */
	size_t peak_in_storm;  /* most nodes in storm at once during this episode */
	size_t last_joined;    /* index of the node that joined last (if involved > 0) */
	size_t returns;        /* times a node that had left took part again (a storm
	                          hopping back to a proxy it had left) */
};

/*
 * One episode per cluster of one node-level condition (a storm; a latency tail): it
 * opens when a node's detector fires, stays open while any node's does and for a
 * grace after the last one cleared (so a storm hopping between nodes is one
 * episode), and records which nodes took part. The evidence's names say "storm";
 * for tails read "in tail".
 */
struct detect_cluster {
	struct detect_status status;
	struct detect_cluster_evidence evidence;
	bool involved[DETECT_CLUSTER_NODES_MAX]; /* by node index, this episode */
	/* By node index, for the involved: when it first took part in this episode, and
	 * the last update at which it still did (a storm hopping across proxies: who, when). */
	int64_t joined_ms[DETECT_CLUSTER_NODES_MAX], last_seen_ms[DETECT_CLUSTER_NODES_MAX];
	size_t nnodes;
	int64_t last_storm_ms; /* last time any node was in storm */
	int64_t prev_update_ms; /* the update before this one (returns) */
};

/* nnodes 1..DETECT_CLUSTER_NODES_MAX; -1 with err otherwise. */
int detect_cluster_init(struct detect_cluster *cluster, size_t nnodes, char *err, size_t errlen);

/*
 * nodes[0..nnodes): each node's status (state and severity), index = node; grace_ms:
 * how long the episode outlives its last node (cluster_grace for storms). Severity:
 * the highest of the nodes firing, at least major once two nodes took part, critical
 * when at least half the cluster (and two nodes) fire at once. _WORSENED also when a
 * node joins the episode (evidence.last_joined says which).
 */
enum detect_event detect_cluster_update(struct detect_cluster *cluster, int64_t grace_ms,
    const struct detect_status *nodes, int64_t now_ms);

/* --- latency tail (one per node) ------------------------------------------------------ */

struct detect_tail_evidence {
	uint64_t threshold_us;
	uint64_t short_count, short_slow; /* probes, and those slower than the threshold */
	uint64_t long_count, long_slow;
	double short_fraction, long_fraction; /* 0 when a window is empty */
	double baseline;                      /* the node's normal slow fraction (short window) */
	double short_trip, long_trip;         /* the fractions each window must exceed */
	double clear_level;                   /* the short window below this is quiet */
	bool warm;                            /* the warm-up is over: the detector may open */
	uint64_t p50_us, p90_us, p99_us;      /* short window; evidence, never deciding */
	double excess; /* min(short, long fraction) / tail_fraction */
};

struct detect_tail {
	struct detect_status status;
	struct detect_tail_evidence evidence;
	struct histogram_window window; /* owned; slots of tail_slot, long window's length */
	struct histogram scratch;       /* the short window's sum, for percentiles */
	int64_t quiet_since_ms;
	/* Each window's normal slow fraction, learnt while no tail is open or pending
	 * (frozen during one), never above tail_baseline_max. */
	struct detect_baseline short_baseline, long_baseline;
	int64_t learnt_ms;     /* the last evaluation learnt from; 0 before the first */
	int64_t warm_from_ms;  /* the first evaluation learnt from; 0 before it */
};

/*
 * Allocates the window for cfg's long window (cfg must pass detect_config_check).
 * The threshold is an exact bound of every slot. -1 with err on failure.
 */
int detect_tail_init(struct detect_tail *tail, const struct detect_config *cfg, char *err,
    size_t errlen);
void detect_tail_release(struct detect_tail *tail);

/*
 * Counts one successful probe's latency at now. A probe that timed out should be
 * recorded with its timeout as latency (and also count as a failure for
 * detect_down), so a very slow node is slow here rather than absent.
 */
void detect_tail_record(struct detect_tail *tail, int64_t now_ms, uint64_t latency_us);
/* The same for `count` requests at one latency (requests counted elsewhere, e.g. the
 * replies a proxy timed between two polls). */
void detect_tail_record_n(struct detect_tail *tail, int64_t now_ms, uint64_t latency_us,
    uint64_t count);

/*
 * Decides from the windows at now. Each window's trip level is the highest of
 * tail_fraction, its baseline + tail_baseline_k sigma (the larger of the learnt one
 * and a binomial's at the window's sample count) and tail_baseline_ratio x its
 * baseline, capped at tail_baseline_ratio x the larger of tail_fraction and
 * tail_baseline_max. Opens, once warm, when
 * the short window holds at least tail_min_samples, the long one
 * tail_long_min_samples, and both fractions are above their trip levels (pending
 * while only the short one is); clears when the short window (with enough samples)
 * has stayed below the clear level for tail_clear_hold. The clear level sits between
 * the baseline and the short trip level where tail_clear_fraction sits between 0 and
 * tail_fraction, and never below tail_clear_fraction. Too few samples is never
 * "clear". Warm: tail_warmup after the first evaluation with enough samples; during
 * the warm-up every such evaluation is learnt, afterwards only those of a node in
 * no tail, neither open nor pending.
 */
enum detect_event detect_tail_evaluate(struct detect_tail *tail, const struct detect_config *cfg,
    int64_t now_ms);

/* --- node down (one per node) --------------------------------------------------------- */

struct detect_down_evidence {
	uint32_t failures;      /* consecutive failed probes */
	uint32_t successes;     /* consecutive successful probes */
	int64_t last_success_ms; /* 0 if none yet */
	int64_t silent_ms;      /* since the last success (or since watching began) */
	bool by_silence;        /* opened by down_silence rather than by failures */
};

struct detect_down {
	struct detect_status status;
	struct detect_down_evidence evidence;
	bool watching;
	int64_t silence_from_ms; /* last success, start of watching, or end of our own stall */
	int64_t last_call_ms;
};

void detect_down_init(struct detect_down *down);

/* A probe's outcome at now. */
enum detect_event detect_down_probe(struct detect_down *down, const struct detect_config *cfg,
    bool ok, int64_t now_ms);

/*
 * The passage of time without an outcome (call it every poll), so that a node
 * whose probes neither succeed nor fail is found by down_silence. A gap longer
 * than down_silence between two calls is taken as the monitor's own stall and
 * restarts the silence clock instead of condemning the node.
 */
enum detect_event detect_down_tick(struct detect_down *down, const struct detect_config *cfg,
    int64_t now_ms);

#endif
