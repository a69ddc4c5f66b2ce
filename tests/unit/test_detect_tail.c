/*
 * Unit tests of monitor/detect's tail detector (the share of slow probes, judged
 * against each node's learnt normal): in the simulated world of detect_world.h (fake
 * clock, seeded PRNG), and on its own for the edge cases. The other detectors' tests
 * are in test_detect.c.
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

/* --- the cases: a tail of slow requests --------------------------------------- */

static void
tail_of_fifteen_percent_is_seen_within_fifteen_seconds(void **state)
{
	uint64_t seed;
	size_t i;
	(void)state;

	for (seed = 100; seed < 110; seed++) {
		struct world *w = world_new(3, seed);
		int64_t start;

		run_until(w, T0 + 5 * MINUTE);
		start = w->now;
		for (i = 0; i < w->n; i++) /* on every machine, as in the outage */
			w->cond[i].slow_fraction = 0.15;
		run_until(w, start + 15 * 1000);
		for (i = 0; i < w->n; i++) {
			struct detect_tail_evidence *e = &w->nodes[i].tail.evidence;
			if (w->tail[i].opened != 1)
				print_message("seed %llu node %zu: short %.3f long %.3f\n",
				    (unsigned long long)seed, i, e->short_fraction, e->long_fraction);
			assert_int_equal(w->tail[i].opened, 1);
			assert_true(w->tail[i].first_opened_ms - start <= 15000);
			/* The evidence: the fraction tells, the median does not. */
			assert_true(e->short_fraction > 0.05 && e->short_fraction < 0.3);
			assert_true(e->p50_us < 1000);
			assert_true(e->p99_us >= 5000);
			assert_int_equal(e->threshold_us, 5000);
			assert_true(w->nodes[i].tail.status.severity >= DETECT_SEVERITY_MINOR);
		}
		/* Storms and dead nodes stay quiet. */
		for (i = 0; i < w->n; i++)
			assert_int_equal(w->storm[i].opened + w->down[i].opened, 0);
		world_free(w);
	}
}

static void
tail_clears_only_after_the_hold_time(void **state)
{
	struct world *w = world_new(1, 4242);
	int64_t end;
	(void)state;

	run_until(w, T0 + 5 * MINUTE);
	w->cond[0].slow_fraction = 0.15;
	run_until(w, w->now + 60 * 1000);
	assert_int_equal(w->tail[0].opened, 1);
	end = w->now;
	w->cond[0].slow_fraction = 0;
	/* The short window needs up to its length to drop, then the hold runs. */
	run_until(w, end + w->cfg.tail_clear_hold_ms);
	assert_int_equal(w->tail[0].cleared, 0);
	assert_true(detect_status_open(&w->nodes[0].tail.status));
	run_until(w, end + w->cfg.tail_short_window_ms + w->cfg.tail_clear_hold_ms + 2000);
	assert_int_equal(w->tail[0].cleared, 1);
	assert_true(w->tail[0].last_cleared_ms - end >= w->cfg.tail_clear_hold_ms);
	assert_int_equal(w->nodes[0].tail.status.state, DETECT_OK);
	/* And stays clear. */
	run_until(w, w->now + 5 * MINUTE);
	assert_int_equal(w->tail[0].opened, 1);
	world_free(w);
}

static void
tail_of_one_percent_with_slow_p99_opens_nothing(void **state)
{
	struct world *w = world_new(1, 9);
	(void)state;

	/* p99 reads "slow" most of the time here, yet only ~1% are slow. */
	w->cond[0].slow_fraction = 0.01;
	run_until(w, T0 + 20 * MINUTE);
	assert_true(w->p99_slow_seen > 600);
	assert_int_equal(w->tail[0].opened, 0);
	world_free(w);
}

/* --- a tail judged against the node's own normal ------------------------------------ */

/* A busy host: scheduling alone makes 1.5-3% of probes slower than the threshold,
 * the share drifting from minute to minute. */
#define NOISE_LOW 0.015
#define NOISE_HIGH 0.03

/* Runs the world to `until`, redrawing every node's noise level each minute. */
static void
run_noisy_until(struct world *w, int64_t until, double fault)
{
	size_t i;

	while (w->now < until) {
		int64_t next = w->now + MINUTE < until ? w->now + MINUTE : until;
		for (i = 0; i < w->n; i++) {
			double noise = rng_range(&w->rng, NOISE_LOW, NOISE_HIGH);
			/* Slow from either cause: the fault's delay or the host's. */
			w->cond[i].slow_fraction = 1.0 - (1.0 - noise) * (1.0 - fault);
		}
		run_until(w, next);
	}
}

static void
tail_noise_of_a_busy_host_for_hours_opens_nothing(void **state)
{
	uint64_t seed;
	size_t i;
	(void)state;

	/* A fixed 5% rule opens here (both windows above 5% happen by chance every few
	 * minutes at 3%) and, clearing only under 2.5%, stays open. */
	for (seed = 300; seed < 303; seed++) {
		struct world *w = world_new(3, seed);

		run_noisy_until(w, T0 + 120 * MINUTE, 0);
		print_openings(w);
		for (i = 0; i < w->n; i++) {
			const struct detect_tail_evidence *e = &w->nodes[i].tail.evidence;
			assert_int_equal(w->tail[i].opened, 0);
			assert_true(e->warm);
			/* It learnt the host's normal, and the bar moved above it. */
			assert_true(e->baseline > 0.01 && e->baseline < 0.035);
			assert_true(e->short_trip > w->cfg.tail_fraction);
			assert_true(e->short_trip <= w->cfg.tail_baseline_ratio * w->cfg.tail_fraction);
		}
		assert_false(w->nonfinite);
		world_free(w);
	}
}

static void
tail_of_fifteen_percent_over_noise_is_seen_within_twenty_evaluations(void **state)
{
	uint64_t seed;
	size_t i;
	(void)state;

	for (seed = 310; seed < 320; seed++) {
		struct world *w = world_new(3, seed);
		int64_t start;

		run_noisy_until(w, T0 + 10 * MINUTE, 0);
		assert_int_equal(opened_anywhere(w), 0);
		start = w->now;
		/* The outage: 15% of requests delayed 5-15 ms, on top of the noise.
		 * Evaluations come every POLL_MS: 20 of them (the bar stands at about
		 * 10% here, not 5%, so the long window takes longer to pass it than on
		 * a quiet node: 3-16 s over 90 simulated nodes). */
		run_noisy_until(w, start + 20 * POLL_MS, 0.15);
		for (i = 0; i < w->n; i++) {
			const struct detect_tail_evidence *e = &w->nodes[i].tail.evidence;
			if (w->tail[i].opened != 1)
				print_message("seed %llu node %zu: short %.3f/%.3f long %.3f/%.3f\n",
				    (unsigned long long)seed, i, e->short_fraction, e->short_trip,
				    e->long_fraction, e->long_trip);
			assert_int_equal(w->tail[i].opened, 1);
			assert_true(w->tail[i].first_opened_ms - start <= 20 * POLL_MS);
		}
		world_free(w);
	}
}

static void
tail_ending_while_the_noise_remains_clears_within_two_minutes(void **state)
{
	uint64_t seed;
	(void)state;

	for (seed = 320; seed < 330; seed++) {
		struct world *w = world_new(1, seed);
		const struct detect_tail *t = &w->nodes[0].tail;
		struct detect_baseline short_before, long_before;
		int64_t end;

		run_noisy_until(w, T0 + 10 * MINUTE, 0);
		run_noisy_until(w, w->now + 20 * POLL_MS, 0.15);
		assert_int_equal(w->tail[0].opened, 1);
		short_before = t->short_baseline;
		long_before = t->long_baseline;
		/* A long tail is not learnt as the node's normal: the baselines are frozen. */
		run_noisy_until(w, w->now + 10 * MINUTE, 0.15);
		assert_memory_equal(&t->short_baseline, &short_before, sizeof(short_before));
		assert_memory_equal(&t->long_baseline, &long_before, sizeof(long_before));
		assert_true(detect_status_open(&t->status));
		/* The fault ends; the host's noise (above tail_clear_fraction, where the
		 * fixed rule would hold it open for ever) remains. The short window
		 * falls under the clear level, then tail_clear_hold runs: about 35 evaluations
		 * at best, 120 at most
		 * (34-82 s over 30 simulated nodes, the noise now and then resetting
		 * the hold). */
		end = w->now;
		run_noisy_until(w, end + 120 * POLL_MS, 0);
		if (w->tail[0].cleared != 1)
			print_message("seed %llu: short %.3f clear below %.3f\n",
			    (unsigned long long)seed, t->evidence.short_fraction, t->evidence.clear_level);
		assert_int_equal(w->tail[0].cleared, 1);
		assert_true(w->tail[0].last_cleared_ms - end >= w->cfg.tail_clear_hold_ms);
		assert_true(t->evidence.clear_level > w->cfg.tail_clear_fraction);
		/* And the noise does not bring it back. */
		run_noisy_until(w, w->now + 30 * MINUTE, 0);
		assert_int_equal(w->tail[0].opened, 1);
		assert_int_equal(t->status.state, DETECT_OK);
		world_free(w);
	}
}

static void
tail_cannot_open_during_the_warmup(void **state)
{
	struct world *w = world_new(1, 331);
	(void)state;

	/* The monitor starts while its own start-up (or a deploy) makes probes slow. */
	run_noisy_until(w, T0 + w->cfg.tail_warmup_ms, 0.15);
	assert_int_equal(w->tail[0].opened, 0);
	assert_false(w->nodes[0].tail.evidence.warm);
	run_noisy_until(w, w->now + 30 * MINUTE, 0);
	assert_int_equal(w->tail[0].opened, 0);
	world_free(w);
}

static void
monitor_started_during_a_tail_sees_it_once_warm(void **state)
{
	struct world *w = world_new(1, 332);
	const struct detect_tail *t = &w->nodes[0].tail;
	int64_t warm_at;
	(void)state;

	/* What is learnt is capped at tail_fraction, so a tail already there when the
	 * monitor starts is learnt as at most that, and still stands out. */
	run_noisy_until(w, T0 + 5 * MINUTE, 0.15);
	warm_at = t->warm_from_ms + w->cfg.tail_warmup_ms;
	assert_int_equal(w->tail[0].opened, 1);
	assert_true(w->tail[0].first_opened_ms >= warm_at);
	assert_true(w->tail[0].first_opened_ms - warm_at <= 15 * POLL_MS);
	assert_true(t->evidence.baseline <= w->cfg.tail_fraction);
	world_free(w);
}

/* --- tail edge cases ---------------------------------------------------------------- */

static void
tail_without_samples_is_ok_and_finite(void **state)
{
	struct detect_config cfg;
	struct detect_tail *tail = calloc(1, sizeof(*tail));
	char err[128];
	int64_t t;
	(void)state;

	assert_non_null(tail);
	detect_defaults(&cfg);
	assert_int_equal(detect_tail_init(tail, &cfg, err, sizeof(err)), 0);
	for (t = T0; t < T0 + 10 * MINUTE; t += 1000)
		assert_int_equal(detect_tail_evaluate(tail, &cfg, t), DETECT_EVENT_NONE);
	assert_int_equal(tail->status.state, DETECT_OK);
	assert_true(finite_tail(&tail->evidence));
	assert_true(tail->evidence.short_fraction == 0 && tail->evidence.excess == 0);
	assert_int_equal(tail->evidence.p99_us, 0);
	/* A handful of probes, all slow, is too few to decide anything. */
	for (t = T0 + 10 * MINUTE; t < T0 + 10 * MINUTE + 20000; t += 1000) {
		detect_tail_record(tail, t, 20000);
		assert_int_equal(detect_tail_evaluate(tail, &cfg, t), DETECT_EVENT_NONE);
	}
	assert_true(tail->evidence.short_fraction == 1.0);
	assert_int_not_equal(tail->status.state, DETECT_FIRING);
	detect_tail_release(tail);
	free(tail);
}

static void
tail_with_too_few_samples_never_counts_as_clear(void **state)
{
	struct world *w = world_new(1, 12);
	int64_t end;
	(void)state;

	run_until(w, T0 + 5 * MINUTE);
	w->cond[0].slow_fraction = 0.3;
	run_until(w, w->now + 30 * 1000);
	assert_int_equal(w->tail[0].opened, 1);
	/* The probes stop coming (e.g. the node went away): unknown is not clear. */
	w->cond[0].hung = true;
	end = w->now;
	run_until(w, end + 5 * MINUTE);
	assert_int_equal(w->tail[0].cleared, 0);
	assert_int_equal(w->nodes[0].tail.status.state, DETECT_FIRING);
	world_free(w);
}

static void
stray_slow_probes_at_startup_open_nothing(void **state)
{
	struct detect_config cfg;
	struct detect_tail *tail = calloc(1, sizeof(*tail));
	char err[128];
	int64_t t = T0;
	unsigned opened = 0;
	int i;
	(void)state;

	assert_non_null(tail);
	detect_defaults(&cfg);
	cfg.tail_warmup_ms = 0; /* what the long window alone does at start-up */
	assert_int_equal(detect_tail_init(tail, &cfg, err, sizeof(err)), 0);
	/* The monitor has just started: 4 of its first 60 probes happen to be slow
	 * (5% is exceeded in both windows, but the long one is not yet long). */
	for (i = 0; i < 60; i++) {
		t += 100;
		detect_tail_record(tail, t, i % 15 == 7 ? 9000 : 300);
		if (i % 10 == 9)
			opened += detect_tail_evaluate(tail, &cfg, t) == DETECT_EVENT_OPENED;
	}
	assert_true(tail->evidence.long_fraction > cfg.tail_fraction);
	assert_true(tail->evidence.long_count < cfg.tail_long_min_samples);
	assert_int_equal(opened, 0);
	assert_int_equal(tail->status.state, DETECT_PENDING);
	/* A real tail keeps going, the long window fills, and it opens. */
	for (i = 0; i < 150; i++) {
		t += 100;
		detect_tail_record(tail, t, i % 5 == 0 ? 9000 : 300);
		if (i % 10 == 9)
			opened += detect_tail_evaluate(tail, &cfg, t) == DETECT_EVENT_OPENED;
	}
	assert_int_equal(opened, 1);
	detect_tail_release(tail);
	free(tail);
}

static void
probe_rate_must_fill_both_windows(void **state)
{
	struct detect_config cfg;
	char err[200];
	(void)state;

	detect_defaults(&cfg);
	assert_int_equal(detect_config_check_probe_rate(&cfg, 10, err, sizeof(err)), 0);
	/* Six probes a second: 54 in the short window will do, 114 in the long not. */
	assert_int_equal(detect_config_check_probe_rate(&cfg, 6, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tail_long_window"));
	assert_non_null(strstr(err, "150"));
	assert_int_equal(detect_config_check_probe_rate(&cfg, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tail_short_window"));
	assert_int_equal(detect_config_check_probe_rate(&cfg, 0, err, sizeof(err)), -1);
	assert_int_equal(detect_config_check_probe_rate(&cfg, NAN, err, sizeof(err)), -1);
}

static void
tail_init_refuses_an_invalid_config(void **state)
{
	struct detect_config cfg;
	struct detect_tail *tail = calloc(1, sizeof(*tail));
	char err[160];
	(void)state;

	assert_non_null(tail);
	detect_defaults(&cfg);
	cfg.tail_long_window_ms = 15500; /* not a whole number of 1 s slots */
	assert_int_equal(detect_tail_init(tail, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tail_long_window"));
	assert_null(tail->window.slots);
	detect_tail_release(tail);
	free(tail);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tail_of_fifteen_percent_is_seen_within_fifteen_seconds),
		cmocka_unit_test(tail_clears_only_after_the_hold_time),
		cmocka_unit_test(tail_of_one_percent_with_slow_p99_opens_nothing),
		cmocka_unit_test(tail_noise_of_a_busy_host_for_hours_opens_nothing),
		cmocka_unit_test(tail_of_fifteen_percent_over_noise_is_seen_within_twenty_evaluations),
		cmocka_unit_test(tail_ending_while_the_noise_remains_clears_within_two_minutes),
		cmocka_unit_test(tail_cannot_open_during_the_warmup),
		cmocka_unit_test(monitor_started_during_a_tail_sees_it_once_warm),
		cmocka_unit_test(tail_without_samples_is_ok_and_finite),
		cmocka_unit_test(tail_with_too_few_samples_never_counts_as_clear),
		cmocka_unit_test(stray_slow_probes_at_startup_open_nothing),
		cmocka_unit_test(probe_rate_must_fill_both_windows),
		cmocka_unit_test(tail_init_refuses_an_invalid_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
