/*
 * detect_world — the simulated world monitor/detect's unit tests run in (test_detect.c,
 * test_detect_tail.c): every detector on synthetic series with a fake clock and a
 * seeded PRNG, so each run is the same run.
 *
 * Nodes are polled once a second (stats: connections, the cumulative connection
 * counter, the kernel view) and probed ten times a second (latency ~0.2-0.4 ms with
 * jitter, occasional single slow requests and rare single failures), the connection
 * level following a compressed diurnal curve. Faults are switched on per node through
 * struct conditions. Every node runs a storm, a tail and a down detector, and the
 * cluster detector watches the storms; struct tally counts what each one reported.
 *
 * Linked from the unit-test helper archive; it uses cmocka, and fails the running test
 * on a broken premise (an allocation or a detector's init failing).
 */
#ifndef MCOPS_TEST_DETECT_WORLD_H
#define MCOPS_TEST_DETECT_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/detect.h"

#define SIM_NODES_MAX 3
#define STEP_MS 50
#define POLL_MS 1000
#define T0 10000000 /* the fake clock's start: not 0, which the detectors read as "never" */
#define MINUTE (60 * 1000)

/* --- a seeded PRNG (splitmix64): *s is its state ---------------------------------- */

/* Uniform in [lo, hi). */
double rng_range(uint64_t *s, double lo, double hi);
/* Standard normal (Box-Muller). */
double rng_normal(uint64_t *s);

/* --- the simulated world ---------------------------------------------------------- */

/* What is happening to one node; all zero/false is normal traffic. */
struct conditions {
	double level_add;     /* extra connections */
	double rate_add;      /* extra new connections per second */
	double slow_fraction; /* probes delayed 5-15 ms */
	bool dead;            /* stats and probes fail at once */
	bool hung;            /* probes give no outcome at all */
	uint64_t accept_queue;
	double overflow_rate; /* listen overflows per second */
};

struct tally {
	unsigned opened, worsened, cleared;
	int64_t first_opened_ms, last_cleared_ms;
	char first[200]; /* what opened first, for failure messages */
};

struct sim_node {
	struct detect_storm storm;
	struct detect_tail tail;
	struct detect_down down;
	uint64_t total_connections;
	double overflows;
	int64_t last_poll_ms;
};

struct world {
	struct detect_config cfg;
	uint64_t rng;
	int64_t now;
	int64_t probe_ms; /* per node */
	double base_level, base_rate, diurnal;
	size_t n;
	struct sim_node *nodes; /* heap: each holds an 18 KiB histogram */
	struct conditions cond[SIM_NODES_MAX];
	struct detect_cluster cluster;
	struct tally storm[SIM_NODES_MAX], tail[SIM_NODES_MAX], down[SIM_NODES_MAX];
	struct tally cluster_tally;
	size_t max_involved;
	bool cluster_recovered_midway; /* seen recovering, then firing again */
	unsigned slow_probes, failed_probes, down_pending_seen, tail_pending_seen, p99_slow_seen;
	bool nonfinite; /* any evidence field NaN or infinite */
};

/* A world of n (<= SIM_NODES_MAX) nodes at T0, normal traffic, its PRNG seeded with
 * seed, the detectors with detect_defaults(). Fails the test if it cannot be made. */
struct world *world_new(size_t n, uint64_t seed);
void world_free(struct world *w);

/* Runs the world until `until` (absolute fake time), STEP_MS at a time. */
void run_until(struct world *w, int64_t until);

/* Connections follow a day compressed into two hours: trough to peak in one. Each call
 * draws a new value (3% noise). */
double normal_level(struct world *w);

/* Whether every field of the evidence is finite (and the storm's rate not negative). */
bool finite_storm(const struct detect_storm_evidence *e);
bool finite_tail(const struct detect_tail_evidence *e);

/* Incidents opened by any detector of the world, the cluster's included. */
unsigned opened_anywhere(const struct world *w);
/* Prints what opened first in each detector, for a failing test's output. */
void print_openings(const struct world *w);

#endif
