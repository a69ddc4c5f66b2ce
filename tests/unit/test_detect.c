/*
 * Unit tests of monitor/detect: the storm, down and cluster detectors, the storm's
 * baselines and the [monitor] configuration, in the simulated world of
 * detect_world.h (fake clock, seeded PRNG). The tail detector's tests are in
 * test_detect_tail.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect_world.h"

/* --- the cases ---------------------------------------------------------------- */

static void
noisy_hour_of_normal_traffic_opens_nothing(void **state)
{
	struct world *w = world_new(3, 20240501);
	size_t i;
	(void)state;

	run_until(w, T0 + 30 * MINUTE);
	/* A normal deploy: every client reconnects within a minute, old and new
	 * connections overlap for a while. Below the thresholds by design. */
	for (i = 0; i < w->n; i++) {
		w->cond[i].rate_add = w->base_rate * 2;
		w->cond[i].level_add = 150;
	}
	run_until(w, T0 + 31 * MINUTE);
	for (i = 0; i < w->n; i++)
		w->cond[i] = (struct conditions){ 0 };
	run_until(w, T0 + 60 * MINUTE);

	print_openings(w);
	assert_int_equal(opened_anywhere(w), 0);
	assert_false(w->nonfinite);
	/* It was noisy: slow requests and failed probes happened and were seen. */
	assert_true(w->slow_probes > 100);
	assert_true(w->failed_probes > 10);
	assert_true(w->down_pending_seen > 0);
	for (i = 0; i < w->n; i++)
		assert_int_equal(w->nodes[i].storm.status.state, DETECT_OK);
	world_free(w);
}

static void
storm_is_seen_within_five_seconds(void **state)
{
	uint64_t seed;
	(void)state;

	for (seed = 1; seed <= 10; seed++) {
		struct world *w = world_new(3, seed);
		int64_t start;

		run_until(w, T0 + 10 * MINUTE);
		start = w->now;
		w->cond[1].level_add = 6000; /* connections explode on one node */
		w->cond[1].rate_add = 400;
		run_until(w, start + 10 * 1000);
		assert_int_equal(w->storm[1].opened, 1);
		assert_true(w->storm[1].first_opened_ms - start <= 5000);
		assert_true(w->nodes[1].storm.evidence.tripped & DETECT_STORM_LEVEL);
		assert_true(w->nodes[1].storm.evidence.tripped & DETECT_STORM_RATE);
		assert_int_equal(w->storm[0].opened + w->storm[2].opened, 0);
		assert_int_equal(w->cluster_tally.opened, 1);
		assert_int_equal(w->cluster.evidence.involved, 1);
		world_free(w);
	}
}

static void
storm_clears_after_exit_samples_not_before(void **state)
{
	struct world *w = world_new(1, 77);
	int64_t end;
	(void)state;

	run_until(w, T0 + 10 * MINUTE);
	w->cond[0].level_add = 6000;
	w->cond[0].rate_add = 400;
	run_until(w, w->now + 60 * 1000);
	assert_int_equal(w->nodes[0].storm.status.state, DETECT_FIRING);
	end = w->now;
	w->cond[0] = (struct conditions){ 0 };
	/* Still open after fewer quiet samples than storm_exit. */
	run_until(w, end + (w->cfg.storm_exit - 1) * POLL_MS);
	assert_int_equal(w->storm[0].cleared, 0);
	assert_int_equal(w->nodes[0].storm.status.state, DETECT_RECOVERING);
	run_until(w, end + (w->cfg.storm_exit + 1) * POLL_MS);
	assert_int_equal(w->storm[0].cleared, 1);
	assert_int_equal(w->nodes[0].storm.status.state, DETECT_OK);
	assert_int_equal(w->nodes[0].storm.status.severity, DETECT_SEVERITY_NONE);
	world_free(w);
}

static void
storm_dipping_between_thresholds_does_not_clear(void **state)
{
	struct world *w = world_new(1, 78);
	double trip;
	(void)state;

	run_until(w, T0 + 10 * MINUTE);
	w->cond[0].level_add = 6000;
	run_until(w, w->now + 30 * 1000);
	assert_int_equal(w->storm[0].opened, 1);
	/* Back under the trip level but above the lower (clear) level: hysteresis. */
	trip = w->nodes[0].storm.evidence.level_trip;
	w->cond[0].level_add = 0.85 * trip - normal_level(w);
	run_until(w, w->now + 60 * 1000);
	assert_int_equal(w->storm[0].cleared, 0);
	assert_int_equal(w->nodes[0].storm.status.state, DETECT_FIRING);
	world_free(w);
}

static void
node_down_is_seen_within_three_seconds(void **state)
{
	struct world *w = world_new(3, 31);
	int64_t start;
	(void)state;

	w->probe_ms = 250;
	run_until(w, T0 + 2 * MINUTE);
	start = w->now;
	w->cond[2].dead = true; /* killed: refused at once */
	run_until(w, start + 3000);
	assert_int_equal(w->down[2].opened, 1);
	assert_true(w->down[2].first_opened_ms - start <= 3000);
	assert_false(w->nodes[2].down.evidence.by_silence);
	assert_int_equal(w->nodes[2].down.status.severity, DETECT_SEVERITY_MAJOR);
	assert_int_equal(w->down[0].opened + w->down[1].opened, 0);

	/* A hung node (no answer, no error) is found by silence. */
	start = w->now;
	w->cond[1].hung = true;
	run_until(w, start + 3000);
	assert_int_equal(w->down[1].opened, 1);
	assert_true(w->down[1].first_opened_ms - start <= 3000);
	assert_true(w->nodes[1].down.evidence.by_silence);
	world_free(w);
}

static void
node_recovers_after_consecutive_successes_only(void **state)
{
	struct detect_config cfg;
	struct detect_down d;
	int64_t t = T0;
	int i;
	(void)state;

	detect_defaults(&cfg);
	detect_down_init(&d);
	for (i = 0; i < 3; i++)
		detect_down_probe(&d, &cfg, true, t += 250);
	for (i = 0; i < 2; i++)
		assert_int_equal(detect_down_probe(&d, &cfg, false, t += 250), DETECT_EVENT_NONE);
	assert_int_equal(d.status.state, DETECT_PENDING);
	assert_int_equal(detect_down_probe(&d, &cfg, false, t += 250), DETECT_EVENT_OPENED);
	/* Flapping: successes interrupted by a failure do not count. */
	assert_int_equal(detect_down_probe(&d, &cfg, true, t += 250), DETECT_EVENT_NONE);
	assert_int_equal(d.status.state, DETECT_RECOVERING);
	assert_int_equal(detect_down_probe(&d, &cfg, true, t += 250), DETECT_EVENT_NONE);
	assert_int_equal(detect_down_probe(&d, &cfg, false, t += 250), DETECT_EVENT_NONE);
	assert_int_equal(d.status.state, DETECT_FIRING);
	assert_int_equal(detect_down_probe(&d, &cfg, true, t += 250), DETECT_EVENT_NONE);
	assert_int_equal(detect_down_probe(&d, &cfg, true, t += 250), DETECT_EVENT_NONE);
	assert_int_equal(detect_down_probe(&d, &cfg, true, t += 250), DETECT_EVENT_CLEARED);
	assert_int_equal(d.status.state, DETECT_OK);
	assert_int_equal(d.status.severity, DETECT_SEVERITY_NONE);
	assert_int_equal(d.status.opened_ms, 0);
}

static void
single_failures_among_successes_open_nothing(void **state)
{
	struct detect_config cfg;
	struct detect_down d;
	int64_t t = T0;
	int i;
	(void)state;

	detect_defaults(&cfg);
	detect_down_init(&d);
	for (i = 0; i < 1000; i++) {
		bool ok = i % 3 != 0 || i % 2 != 0; /* every sixth probe fails */
		assert_int_equal(detect_down_probe(&d, &cfg, ok, t += 100), DETECT_EVENT_NONE);
	}
	assert_int_not_equal(d.status.state, DETECT_FIRING);
}

static void
node_down_long_enough_turns_critical_once(void **state)
{
	struct detect_config cfg;
	struct detect_down d;
	int64_t t = T0;
	unsigned worsened = 0;
	int i;
	(void)state;

	detect_defaults(&cfg);
	detect_down_init(&d);
	for (i = 0; i < 3; i++)
		detect_down_probe(&d, &cfg, false, t += 250);
	assert_int_equal(d.status.state, DETECT_FIRING);
	for (i = 0; i < 2 * 5 * 60 * 4; i++) /* ten minutes of failures */
		worsened += detect_down_probe(&d, &cfg, false, t += 250) == DETECT_EVENT_WORSENED;
	assert_int_equal(worsened, 1);
	assert_int_equal(d.status.severity, DETECT_SEVERITY_CRITICAL);
}

static void
monitor_stall_is_not_the_node_going_silent(void **state)
{
	struct detect_config cfg;
	struct detect_down d;
	int64_t t = T0;
	(void)state;

	detect_defaults(&cfg);
	detect_down_init(&d);
	detect_down_probe(&d, &cfg, true, t);
	/* The monitor itself was stopped for a minute (SIGSTOP, a paused VM). */
	t += 60 * 1000;
	assert_int_equal(detect_down_tick(&d, &cfg, t), DETECT_EVENT_NONE);
	assert_int_equal(detect_down_probe(&d, &cfg, true, t + 100), DETECT_EVENT_NONE);
	assert_int_equal(d.status.state, DETECT_OK);
	/* But real silence, observed tick by tick, is found. */
	for (t += 200; t < T0 + 60 * 1000 + 3000; t += 500)
		detect_down_tick(&d, &cfg, t);
	assert_int_equal(d.status.state, DETECT_FIRING);
	assert_true(d.evidence.by_silence);
}

static void
storm_hopping_across_three_nodes_is_one_cluster_episode(void **state)
{
	struct world *w = world_new(3, 555);
	int64_t t;
	size_t i;
	(void)state;

	run_until(w, T0 + 10 * MINUTE);
	/* 30 s on each node in turn, with 20 s of calm between. */
	for (i = 0; i < 3; i++) {
		w->cond[i].level_add = 5000;
		w->cond[i].rate_add = 300;
		run_until(w, w->now + 30 * 1000);
		w->cond[i] = (struct conditions){ 0 };
		run_until(w, w->now + 20 * 1000);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(w->storm[i].opened, 1);
		assert_int_equal(w->storm[i].cleared, 1);
	}
	assert_int_equal(w->cluster_tally.opened, 1);
	assert_true(w->cluster_recovered_midway); /* there were gaps... */
	assert_int_equal(w->cluster_tally.cleared, 0); /* ...bridged by the grace */
	assert_int_equal(w->max_involved, 3);
	assert_int_equal(w->cluster.evidence.last_joined, 2);
	assert_int_equal(w->cluster_tally.worsened, 2); /* one per node joining */
	assert_int_equal(w->cluster.status.severity, DETECT_SEVERITY_MAJOR);
	t = w->storm[2].last_cleared_ms;
	run_until(w, t + w->cfg.cluster_grace_ms + 2000);
	assert_int_equal(w->cluster_tally.cleared, 1);
	/* The grace counts from the last poll that saw a node in storm. */
	assert_true(w->cluster_tally.last_cleared_ms - t >= w->cfg.cluster_grace_ms - POLL_MS);
	assert_int_equal(w->cluster.evidence.involved, 0);
	world_free(w);
}

/* A storm that hops back to a node it had left counts a return, so the incident's
 * evidence is written again with the node's new last time (who took part, and when). */
static void
storm_hopping_back_to_a_node_counts_a_return(void **state)
{
	struct world *w = world_new(3, 557);
	size_t hops[] = { 0, 1, 0 }, i;
	int64_t back_at = 0;
	(void)state;

	run_until(w, T0 + 10 * MINUTE);
	for (i = 0; i < 3; i++) {
		if (i == 2)
			back_at = w->now;
		w->cond[hops[i]].level_add = 5000;
		w->cond[hops[i]].rate_add = 300;
		run_until(w, w->now + 30 * 1000);
		w->cond[hops[i]] = (struct conditions){ 0 };
		run_until(w, w->now + 20 * 1000);
	}
	assert_int_equal(w->cluster_tally.opened, 1);
	assert_int_equal(w->cluster_tally.cleared, 0);
	assert_int_equal(w->cluster.evidence.involved, 2);
	assert_int_equal(w->cluster.evidence.returns, 1);
	assert_true(w->cluster.last_seen_ms[0] > back_at);
	assert_true(w->cluster.joined_ms[0] < w->cluster.joined_ms[1]);
	world_free(w);
}

static void
storms_further_apart_than_the_grace_are_two_episodes(void **state)
{
	struct world *w = world_new(3, 556);
	(void)state;

	run_until(w, T0 + 10 * MINUTE);
	w->cond[0].level_add = 5000;
	run_until(w, w->now + 20 * 1000);
	w->cond[0].level_add = 0;
	run_until(w, w->now + w->cfg.cluster_grace_ms + 30 * 1000);
	w->cond[1].level_add = 5000;
	run_until(w, w->now + 20 * 1000);
	assert_int_equal(w->cluster_tally.opened, 2);
	assert_int_equal(w->cluster_tally.cleared, 1);
	assert_int_equal(w->cluster.evidence.involved, 1);
	world_free(w);
}

static void
cluster_storm_on_most_nodes_at_once_is_critical(void **state)
{
	struct world *w = world_new(3, 557);
	(void)state;

	run_until(w, T0 + 10 * MINUTE);
	w->cond[0].level_add = 5000;
	w->cond[2].level_add = 5000;
	run_until(w, w->now + 10 * 1000);
	assert_int_equal(w->cluster_tally.opened, 1);
	assert_int_equal(w->cluster.evidence.in_storm, 2);
	assert_int_equal(w->cluster.status.severity, DETECT_SEVERITY_CRITICAL);
	world_free(w);
}

static void
cluster_init_refuses_empty_or_oversized(void **state)
{
	struct detect_cluster c;
	char err[128];
	(void)state;

	assert_int_equal(detect_cluster_init(&c, 0, err, sizeof(err)), -1);
	assert_int_equal(detect_cluster_init(&c, DETECT_CLUSTER_NODES_MAX + 1, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "257 nodes"));
	assert_int_equal(detect_cluster_init(&c, DETECT_CLUSTER_NODES_MAX, err, sizeof(err)), 0);
}

/* --- storm baselines, counters, time -------------------------------------------------- */

/* Feeds a storm detector `seconds` of samples at `level` and `rate` per second. */
static unsigned
feed(struct detect_storm *s, const struct detect_config *cfg, int64_t *t, uint64_t *total,
    uint64_t *rng, double level, double rate, int seconds, unsigned *opened)
{
	struct detect_storm_sample sample = { 0 };
	unsigned events = 0;
	int i;

	for (i = 0; i < seconds; i++) {
		enum detect_event e;
		*t += 1000;
		*total += (uint64_t)llround(fmax(0, rate + sqrt(rate) * rng_normal(rng)));
		sample.curr_connections = (uint64_t)llround(fmax(0, level * (1 + 0.03 * rng_normal(rng))));
		sample.total_connections = *total;
		e = detect_storm_update(s, cfg, &sample, *t);
		events += e != DETECT_EVENT_NONE;
		if (opened != NULL && e == DETECT_EVENT_OPENED)
			(*opened)++;
		assert_true(finite_storm(&s->evidence));
	}
	return events;
}

static void
baseline_is_frozen_during_a_storm(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	uint64_t rng = 1, total = 5000000;
	int64_t t = T0;
	double level_mean, rate_mean, level_var;
	int i;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 600, NULL);
	level_mean = s.level.mean;
	level_var = s.level.var;
	rate_mean = s.rate.mean;
	for (i = 0; i < 600; i++) { /* ten minutes of storm */
		feed(&s, &cfg, &t, &total, &rng, 8000, 500, 1, NULL);
		if (i >= 1)
			assert_true(detect_storm_active(&s));
		assert_true(s.level.mean == level_mean);
		assert_true(s.level.var == level_var);
		assert_true(s.rate.mean == rate_mean);
	}
	assert_true(s.evidence.level_baseline == level_mean);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 30, NULL);
	assert_int_equal(s.status.state, DETECT_OK);
	/* Learning again, from where it stood before the storm. */
	assert_true(s.level.mean != level_mean);
	assert_true(fabs(s.level.mean - level_mean) < 0.05 * level_mean);
	assert_true(fabs(s.rate.mean - rate_mean) < 0.5 * rate_mean);
}

static void
storm_lasting_past_max_freeze_becomes_the_new_normal(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	uint64_t rng = 2, total = 0;
	int64_t t = T0, shift;
	unsigned opened = 0;
	(void)state;

	detect_defaults(&cfg);
	cfg.storm_max_freeze_ms = 2 * MINUTE;
	detect_storm_init(&s);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 600, &opened);
	shift = t;
	/* A big new tenant: four times the connections, for good. */
	feed(&s, &cfg, &t, &total, &rng, 4000, 10, 10, &opened);
	assert_int_equal(opened, 1);
	while (detect_storm_active(&s) && t - shift < 30 * MINUTE)
		feed(&s, &cfg, &t, &total, &rng, 4000, 10, 1, &opened);
	assert_false(detect_storm_active(&s));
	assert_true(t - shift > cfg.storm_max_freeze_ms);
	feed(&s, &cfg, &t, &total, &rng, 4000, 10, 30 * 60, &opened);
	assert_int_equal(opened, 1);
	assert_true(s.level.mean > 3000);
}

static void
counter_reset_on_restart_is_neither_storm_nor_negative_rate(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	struct detect_storm_sample sample = { 0 };
	uint64_t rng = 3, total = 9000000;
	int64_t t = T0;
	double rate_mean;
	unsigned opened = 0;
	int i;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 600, &opened);
	rate_mean = s.rate.mean;
	/* The node restarts: its counter starts again from a handful. */
	sample.curr_connections = 3;
	sample.total_connections = 3;
	assert_int_equal(detect_storm_update(&s, &cfg, &sample, t += 1000), DETECT_EVENT_NONE);
	assert_true(s.evidence.counter_reset);
	assert_false(s.evidence.rate_known);
	assert_true(s.evidence.rate == 0);
	/* Every client reconnects within a few seconds: the restart, not a storm. */
	total = 3;
	for (i = 1; i <= 4; i++) {
		total += 250;
		sample.curr_connections = total;
		sample.total_connections = total;
		assert_int_equal(detect_storm_update(&s, &cfg, &sample, t += 1000), DETECT_EVENT_NONE);
		assert_true(s.evidence.rate >= 0);
	}
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 25, &opened);
	assert_true(s.rate.mean == rate_mean); /* the surge was not learnt */
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 120, &opened);
	assert_int_equal(opened, 0);
	assert_int_equal(s.status.state, DETECT_OK);
	/* The same surge without a restart is a storm. */
	for (i = 0; i < 4; i++)
		feed(&s, &cfg, &t, &total, &rng, 1000, 250, 1, &opened);
	assert_int_equal(opened, 1);
}

static void
sample_without_elapsed_time_is_ignored(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	struct detect_storm_sample sample = { 0 };
	struct detect_storm_evidence before;
	uint64_t rng = 4, total = 100;
	int64_t t = T0;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	/* The first sample has no rate yet. */
	sample.curr_connections = 10;
	sample.total_connections = 100;
	assert_int_equal(detect_storm_update(&s, &cfg, &sample, t), DETECT_EVENT_NONE);
	assert_false(s.evidence.rate_known);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 300, NULL);
	before = s.evidence;
	/* Same instant, a million new connections: no division by zero, no storm. */
	sample.curr_connections = 1000;
	sample.total_connections = total + 1000000;
	assert_int_equal(detect_storm_update(&s, &cfg, &sample, t), DETECT_EVENT_NONE);
	assert_memory_equal(&s.evidence, &before, sizeof(before));
	/* Time going backwards is ignored the same way. */
	assert_int_equal(detect_storm_update(&s, &cfg, &sample, t - 5000), DETECT_EVENT_NONE);
	assert_memory_equal(&s.evidence, &before, sizeof(before));
	assert_int_equal(s.status.state, DETECT_OK);
}

static void
quiet_node_near_zero_does_not_alarm_on_a_few_connections(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	uint64_t rng = 5, total = 0;
	int64_t t = T0;
	unsigned opened = 0;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	/* Night: two connections. Ten times as many is still under the floor. */
	feed(&s, &cfg, &t, &total, &rng, 2, 0.1, 600, &opened);
	feed(&s, &cfg, &t, &total, &rng, 150, 50, 60, &opened);
	assert_int_equal(opened, 0);
	/* Above the floor as well, it opens. */
	feed(&s, &cfg, &t, &total, &rng, 900, 50, 5, &opened);
	assert_int_equal(opened, 1);
}

static void
idle_node_with_zero_samples_stays_finite(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	uint64_t rng = 6, total = 0;
	int64_t t = T0;
	unsigned opened = 0;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	feed(&s, &cfg, &t, &total, &rng, 0, 0, 3600, &opened);
	assert_int_equal(opened, 0);
	assert_true(s.evidence.level_baseline == 0);
	assert_true(s.evidence.level_trip == cfg.storm_floor);
}

static void
single_poll_spike_is_pending_never_a_storm(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	uint64_t rng = 10, total = 0;
	int64_t t = T0;
	unsigned opened = 0;
	int i;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 600, &opened);
	/* One poll reads ten times the connections (a burst between two polls). */
	for (i = 0; i < 20; i++) {
		feed(&s, &cfg, &t, &total, &rng, 10000, 10, 1, &opened);
		assert_int_equal(s.status.state, DETECT_PENDING);
		feed(&s, &cfg, &t, &total, &rng, 1000, 10, 30, &opened);
		assert_int_equal(s.status.state, DETECT_OK);
	}
	assert_int_equal(opened, 0);
}

static void
level_cannot_trip_during_warmup(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	uint64_t rng = 7, total = 0;
	int64_t t = T0;
	unsigned opened = 0;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 5, &opened);
	feed(&s, &cfg, &t, &total, &rng, 9000, 10, cfg.storm_warmup - 6, &opened);
	assert_int_equal(opened, 0);
	assert_int_equal(s.status.state, DETECT_OK);
}

static void
accept_queue_and_listen_overflows_trip_on_their_own(void **state)
{
	struct world *w = world_new(2, 8);
	(void)state;

	run_until(w, T0 + 10 * MINUTE);
	w->cond[0].accept_queue = 600;
	w->cond[1].overflow_rate = 40;
	run_until(w, w->now + 5000);
	assert_int_equal(w->storm[0].opened, 1);
	assert_int_equal(w->nodes[0].storm.evidence.tripped, DETECT_STORM_ACCEPT_QUEUE);
	assert_int_equal(w->storm[1].opened, 1);
	assert_int_equal(w->nodes[1].storm.evidence.tripped, DETECT_STORM_OVERFLOWS);
	/* The overflow count going backwards (restart) is not a rate. */
	w->cond[1].overflow_rate = 0;
	w->nodes[1].overflows = 0;
	run_until(w, w->now + 10000);
	assert_true(w->nodes[1].storm.evidence.overflow_rate == 0);
	assert_int_equal(w->storm[1].cleared, 1);
	world_free(w);
}

static void
storm_worsens_once_as_it_grows(void **state)
{
	struct detect_config cfg;
	struct detect_storm s;
	uint64_t rng = 9, total = 0;
	int64_t t = T0;
	unsigned events;
	(void)state;

	detect_defaults(&cfg);
	detect_storm_init(&s);
	feed(&s, &cfg, &t, &total, &rng, 1000, 10, 600, NULL);
	events = feed(&s, &cfg, &t, &total, &rng, 4000, 10, 20, NULL);
	assert_int_equal(events, 1); /* opened */
	assert_int_equal(s.status.severity, DETECT_SEVERITY_MINOR);
	events = feed(&s, &cfg, &t, &total, &rng, 16000, 10, 60, NULL);
	assert_int_equal(events, 1); /* worsened, once */
	assert_int_equal(s.status.severity, DETECT_SEVERITY_CRITICAL);
	/* Easing off is no event, and the severity stays for this incident. */
	events = feed(&s, &cfg, &t, &total, &rng, 5000, 10, 60, NULL);
	assert_int_equal(events, 0);
	assert_int_equal(s.status.severity, DETECT_SEVERITY_CRITICAL);
}

/* --- configuration ---------------------------------------------------------------- */

static void
empty_monitor_section_gives_the_defaults(void **state)
{
	struct detect_config got, want;
	struct config file;
	struct config_errors errs = { 0 };
	char err[128];
	(void)state;

	assert_int_equal(config_load_string(&file, "m.conf", "[monitor]\n", &errs), 0);
	assert_int_equal(detect_config_read(&got, &file, "monitor", &errs), 0);
	detect_defaults(&want);
	assert_memory_equal(&got, &want, sizeof(got));
	assert_int_equal(detect_config_check(&want, err, sizeof(err)), 0);
	/* The documented defaults of the issue. */
	assert_true(want.storm_k == 4 && want.storm_ratio == 3 && want.storm_floor == 200);
	assert_int_equal(want.tail_threshold_us, 5000);
	assert_true(want.tail_fraction == 0.05);
	assert_int_equal(want.tail_min_samples, 50);
	assert_int_equal(want.down_failures, 3);
	config_release(&file);
}

static void
monitor_keys_are_read_with_their_units(void **state)
{
	struct detect_config cfg;
	struct config file;
	struct config_errors errs = { 0 };
	(void)state;

	assert_int_equal(config_load_string(&file, "m.conf",
	    "[monitor]\n"
	    "storm_k = 5\n"
	    "storm_ratio = 2.5\n"
	    "storm_floor = 50\n"
	    "storm_halflife = 10m\n"
	    "tail_threshold = 500us\n"
	    "tail_fraction = 0.1\n"
	    "tail_clear_fraction = 0.04\n"
	    "tail_short_window = 5s\n"
	    "tail_long_window = 60s\n"
	    "tail_min_samples = 30\n"
	    "down_failures = 4\n"
	    "down_silence = 1500ms\n"
	    "cluster_grace = 2m\n"
	    "some_daemon_key = 1\n"
	    "tail_baseline_k = 3.5\n"
	    "tail_baseline_ratio = 1.5\n"
	    "tail_baseline_max = 0.12\n"
	    "tail_baseline_halflife = 1h\n"
	    "tail_warmup = 0\n",
	    &errs), 0);
	assert_int_equal(detect_config_read(&cfg, &file, "monitor", &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_true(cfg.storm_k == 5 && cfg.storm_ratio == 2.5 && cfg.storm_floor == 50);
	assert_int_equal(cfg.storm_halflife_ms, 600000);
	assert_int_equal(cfg.tail_threshold_us, 500);
	assert_true(cfg.tail_fraction == 0.1 && cfg.tail_clear_fraction == 0.04);
	assert_int_equal(cfg.tail_short_window_ms, 5000);
	assert_int_equal(cfg.tail_long_window_ms, 60000);
	assert_int_equal(cfg.tail_min_samples, 30);
	assert_int_equal(cfg.down_failures, 4);
	assert_int_equal(cfg.down_silence_ms, 1500);
	assert_int_equal(cfg.cluster_grace_ms, 120000);
	assert_true(cfg.tail_baseline_k == 3.5 && cfg.tail_baseline_ratio == 1.5);
	assert_true(cfg.tail_baseline_max == 0.12);
	assert_int_equal(cfg.tail_baseline_halflife_ms, 3600000);
	assert_int_equal(cfg.tail_warmup_ms, 0);
	/* Keys read here are marked used; the daemon's own are left to the daemon. */
	config_check_unknown(&file, NULL, &errs);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "m.conf:15: unknown key 'some_daemon_key'"));
	config_errors_release(&errs);
	config_release(&file);

	/* A threshold in milliseconds. */
	assert_int_equal(config_load_string(&file, "m.conf", "[monitor]\ntail_threshold = 5ms\n",
	    &errs), 0);
	assert_int_equal(detect_config_read(&cfg, &file, "monitor", &errs), 0);
	assert_int_equal(cfg.tail_threshold_us, 5000);
	config_release(&file);
}

static void
every_bad_monitor_key_is_reported_with_its_line(void **state)
{
	struct detect_config cfg;
	struct config file;
	struct config_errors errs = { 0 };
	(void)state;

	assert_int_equal(config_load_string(&file, "bad.conf",
	    "[monitor]\n"
	    "storm_k = lots\n"
	    "storm_ratio = 0.5\n"
	    "tail_threshold = 5 ms\n"
	    "tail_fraction = 1.5\n"
	    "down_failures = -1\n"
	    "down_silence = soon\n"
	    "storm_halflife = 0s\n"
	    "tail_min_samples = 0\n"
	    "tail_baseline_ratio = 0.5\n",
	    &errs), 0);
	assert_int_equal(detect_config_read(&cfg, &file, "monitor", &errs), -1);
	assert_int_equal(errs.n, 9);
	assert_non_null(strstr(errs.msgs[0], "bad.conf:2: storm_k: 'lots'"));
	assert_non_null(strstr(errs.msgs[1], "bad.conf:3: storm_ratio: '0.5'"));
	assert_non_null(strstr(errs.msgs[2], "bad.conf:8: storm_halflife: 0 ms is out of range"));
	assert_non_null(strstr(errs.msgs[3], "bad.conf:4: tail_threshold: '5 ms'"));
	assert_non_null(strstr(errs.msgs[4], "bad.conf:5: tail_fraction: '1.5'"));
	assert_non_null(strstr(errs.msgs[5], "bad.conf:9: tail_min_samples: '0'"));
	assert_non_null(strstr(errs.msgs[6], "bad.conf:10: tail_baseline_ratio: '0.5'"));
	assert_non_null(strstr(errs.msgs[7], "bad.conf:6: down_failures: '-1'"));
	assert_non_null(strstr(errs.msgs[8], "bad.conf:7: down_silence: 'soon'"));
	config_errors_release(&errs);
	config_release(&file);

	/* A latency beyond the histogram's range; the last of a repeated key counts. */
	assert_int_equal(config_load_string(&file, "big.conf",
	    "[monitor]\ntail_threshold = 5ms\ntail_threshold = 20s\n", &errs), 0);
	assert_int_equal(detect_config_read(&cfg, &file, "monitor", &errs), -1);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "big.conf:3: tail_threshold: '20s'"));
	config_errors_release(&errs);
	config_release(&file);
}

static void
relations_between_keys_are_checked_with_the_line_to_blame(void **state)
{
	struct detect_config cfg;
	struct config file;
	struct config_errors errs = { 0 };
	char err[160];
	(void)state;

	assert_int_equal(config_load_string(&file, "rel.conf",
	    "[monitor]\n"
	    "tail_fraction = 0.05\n"
	    "tail_clear_fraction = 0.05\n"
	    "tail_short_window = 30s\n"
	    "tail_long_window = 20s\n"
	    "severity_major = 5\n"
	    "severity_critical = 3\n"
	    "tail_long_min_samples = 10\n",
	    &errs), 0);
	assert_int_equal(detect_config_read(&cfg, &file, "monitor", &errs), -1);
	assert_int_equal(errs.n, 4);
	assert_non_null(strstr(errs.msgs[0], "rel.conf:3: tail_clear_fraction: must be below"));
	assert_non_null(strstr(errs.msgs[1], "rel.conf:4: tail_short_window: must not be longer"));
	assert_non_null(strstr(errs.msgs[2], "rel.conf:8: tail_long_min_samples: must be at least"));
	assert_non_null(strstr(errs.msgs[3], "rel.conf:7: severity_critical: must be at least"));
	config_errors_release(&errs);
	config_release(&file);

	/* The same checks for a config built in code. */
	detect_defaults(&cfg);
	cfg.tail_slot_ms = 0;
	assert_int_equal(detect_config_check(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tail_slot"));
	detect_defaults(&cfg);
	cfg.tail_long_window_ms = (int64_t)(HISTOGRAM_WINDOW_SLOTS_MAX + 1) * 1000;
	assert_int_equal(detect_config_check(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tail_long_window: is more than"));
}

static void
names_cover_every_value(void **state)
{
	(void)state;

	assert_string_equal(detect_state_name(DETECT_RECOVERING), "recovering");
	assert_string_equal(detect_severity_name(DETECT_SEVERITY_CRITICAL), "critical");
	assert_string_equal(detect_event_name(DETECT_EVENT_WORSENED), "worsened");
	assert_string_equal(detect_state_name((enum detect_state)99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(noisy_hour_of_normal_traffic_opens_nothing),
		cmocka_unit_test(storm_is_seen_within_five_seconds),
		cmocka_unit_test(storm_clears_after_exit_samples_not_before),
		cmocka_unit_test(storm_dipping_between_thresholds_does_not_clear),
		cmocka_unit_test(node_down_is_seen_within_three_seconds),
		cmocka_unit_test(node_recovers_after_consecutive_successes_only),
		cmocka_unit_test(single_failures_among_successes_open_nothing),
		cmocka_unit_test(node_down_long_enough_turns_critical_once),
		cmocka_unit_test(monitor_stall_is_not_the_node_going_silent),
		cmocka_unit_test(storm_hopping_across_three_nodes_is_one_cluster_episode),
		cmocka_unit_test(storm_hopping_back_to_a_node_counts_a_return),
		cmocka_unit_test(storms_further_apart_than_the_grace_are_two_episodes),
		cmocka_unit_test(cluster_storm_on_most_nodes_at_once_is_critical),
		cmocka_unit_test(cluster_init_refuses_empty_or_oversized),
		cmocka_unit_test(baseline_is_frozen_during_a_storm),
		cmocka_unit_test(storm_lasting_past_max_freeze_becomes_the_new_normal),
		cmocka_unit_test(counter_reset_on_restart_is_neither_storm_nor_negative_rate),
		cmocka_unit_test(sample_without_elapsed_time_is_ignored),
		cmocka_unit_test(quiet_node_near_zero_does_not_alarm_on_a_few_connections),
		cmocka_unit_test(idle_node_with_zero_samples_stays_finite),
		cmocka_unit_test(single_poll_spike_is_pending_never_a_storm),
		cmocka_unit_test(level_cannot_trip_during_warmup),
		cmocka_unit_test(accept_queue_and_listen_overflows_trip_on_their_own),
		cmocka_unit_test(storm_worsens_once_as_it_grows),
		cmocka_unit_test(empty_monitor_section_gives_the_defaults),
		cmocka_unit_test(monitor_keys_are_read_with_their_units),
		cmocka_unit_test(every_bad_monitor_key_is_reported_with_its_line),
		cmocka_unit_test(relations_between_keys_are_checked_with_the_line_to_blame),
		cmocka_unit_test(names_cover_every_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
