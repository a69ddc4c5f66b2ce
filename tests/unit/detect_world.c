/* The simulated world of the detector tests: see detect_world.h. */
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

/* --- a seeded PRNG (splitmix64) --------------------------------------------------- */

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double
rng_u01(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

double
rng_range(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * rng_u01(s);
}

double
rng_normal(uint64_t *s)
{
	double u1 = 1.0 - rng_u01(s), u2 = rng_u01(s);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void
tally_add(struct tally *t, enum detect_event e, int64_t now, const char *what)
{
	switch (e) {
	case DETECT_EVENT_OPENED:
		if (t->opened++ == 0) {
			t->first_opened_ms = now;
			snprintf(t->first, sizeof(t->first), "%s opened at %+lld ms", what,
			    (long long)(now - T0));
		}
		break;
	case DETECT_EVENT_WORSENED:
		t->worsened++;
		break;
	case DETECT_EVENT_CLEARED:
		t->cleared++;
		t->last_cleared_ms = now;
		break;
	case DETECT_EVENT_NONE:
		break;
	}
}

struct world *
world_new(size_t n, uint64_t seed)
{
	struct world *w = calloc(1, sizeof(*w));
	char err[160];
	size_t i;

	assert_non_null(w);
	detect_defaults(&w->cfg);
	w->rng = seed;
	w->now = T0;
	w->probe_ms = 100;
	w->base_level = 1000;
	w->base_rate = 10;
	w->diurnal = 0.4;
	w->n = n;
	w->nodes = calloc(n, sizeof(*w->nodes));
	assert_non_null(w->nodes);
	for (i = 0; i < n; i++) {
		detect_storm_init(&w->nodes[i].storm);
		assert_int_equal(detect_tail_init(&w->nodes[i].tail, &w->cfg, err, sizeof(err)), 0);
		detect_down_init(&w->nodes[i].down);
		w->nodes[i].total_connections = 1000000 * (i + 1);
	}
	assert_int_equal(detect_cluster_init(&w->cluster, n, err, sizeof(err)), 0);
	return w;
}

void
world_free(struct world *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		detect_tail_release(&w->nodes[i].tail);
	free(w->nodes);
	free(w);
}

double
normal_level(struct world *w)
{
	double phase = 2.0 * M_PI * (double)(w->now - T0) / (120.0 * MINUTE);

	return w->base_level * (1.0 - w->diurnal * cos(phase)) *
	    (1.0 + 0.03 * rng_normal(&w->rng));
}

bool
finite_storm(const struct detect_storm_evidence *e)
{
	return isfinite(e->level) && isfinite(e->level_baseline) && isfinite(e->level_sigma) &&
	    isfinite(e->level_trip) && isfinite(e->rate) && isfinite(e->rate_baseline) &&
	    isfinite(e->rate_sigma) && isfinite(e->rate_trip) && isfinite(e->overflow_rate) &&
	    isfinite(e->excess) && e->rate >= 0;
}

bool
finite_tail(const struct detect_tail_evidence *e)
{
	return isfinite(e->short_fraction) && isfinite(e->long_fraction) && isfinite(e->excess) &&
	    isfinite(e->baseline) && isfinite(e->short_trip) && isfinite(e->long_trip) &&
	    isfinite(e->clear_level);
}

static void
poll_node(struct world *w, size_t i)
{
	struct sim_node *node = &w->nodes[i];
	struct conditions *c = &w->cond[i];
	struct detect_storm_sample s = { 0 };
	char what[48];
	double dt, rate, fresh, level;

	dt = node->last_poll_ms ? (double)(w->now - node->last_poll_ms) / 1000.0 : 1.0;
	node->last_poll_ms = w->now;
	if (!c->dead) {
		/* New connections: about Poisson, mean rate * dt. */
		rate = (w->base_rate + c->rate_add) * dt;
		fresh = rate + sqrt(rate) * rng_normal(&w->rng);
		node->total_connections += (uint64_t)(fresh > 0 ? llround(fresh) : 0);
		node->overflows += c->overflow_rate * dt;
		level = normal_level(w) + c->level_add;
		s.curr_connections = (uint64_t)(level > 0 ? llround(level) : 0);
		s.total_connections = node->total_connections;
		s.has_kernel = true;
		s.accept_queue = c->accept_queue + (rng_next(&w->rng) % 3);
		s.listen_overflows = (uint64_t)node->overflows;
		snprintf(what, sizeof(what), "storm on node %zu", i);
		tally_add(&w->storm[i], detect_storm_update(&node->storm, &w->cfg, &s, w->now), w->now,
		    what);
		if (!finite_storm(&node->storm.evidence))
			w->nonfinite = true;
	}
	snprintf(what, sizeof(what), "tail on node %zu", i);
	tally_add(&w->tail[i], detect_tail_evaluate(&node->tail, &w->cfg, w->now), w->now, what);
	if (!finite_tail(&node->tail.evidence))
		w->nonfinite = true;
	if (node->tail.status.state == DETECT_PENDING)
		w->tail_pending_seen++;
	if (node->tail.evidence.p99_us >= w->cfg.tail_threshold_us)
		w->p99_slow_seen++;
	snprintf(what, sizeof(what), "down on node %zu", i);
	tally_add(&w->down[i], detect_down_tick(&node->down, &w->cfg, w->now), w->now, what);
}

static void
probe_node(struct world *w, size_t i)
{
	struct sim_node *node = &w->nodes[i];
	struct conditions *c = &w->cond[i];
	char what[48];
	double latency;
	bool ok = true;

	if (c->hung)
		return;
	if (c->dead || rng_u01(&w->rng) < 1.0 / 3000) {
		ok = false; /* refused, or a rare single reset */
		w->failed_probes++;
	} else if (c->slow_fraction > 0 && rng_u01(&w->rng) < c->slow_fraction) {
		latency = rng_range(&w->rng, 5000, 15000);
	} else {
		latency = rng_range(&w->rng, 200, 400);
		if (rng_u01(&w->rng) < 0.05) /* jitter below the threshold */
			latency += rng_range(&w->rng, 0, 600);
		if (rng_u01(&w->rng) < 0.003) { /* an occasional single slow request */
			latency = rng_range(&w->rng, 5000, 40000);
			w->slow_probes++;
		}
	}
	if (ok)
		detect_tail_record(&node->tail, w->now, (uint64_t)latency);
	snprintf(what, sizeof(what), "down on node %zu", i);
	tally_add(&w->down[i], detect_down_probe(&node->down, &w->cfg, ok, w->now), w->now, what);
	if (node->down.status.state == DETECT_PENDING)
		w->down_pending_seen++;
}

static void
cluster_step(struct world *w)
{
	struct detect_status statuses[SIM_NODES_MAX];
	enum detect_state before = w->cluster.status.state;
	size_t i;

	for (i = 0; i < w->n; i++)
		statuses[i] = w->nodes[i].storm.status;
	tally_add(&w->cluster_tally,
	    detect_cluster_update(&w->cluster, w->cfg.cluster_grace_ms, statuses, w->now), w->now,
	    "cluster storm");
	if (w->cluster.evidence.involved > w->max_involved)
		w->max_involved = w->cluster.evidence.involved;
	if (before == DETECT_RECOVERING && w->cluster.status.state == DETECT_FIRING)
		w->cluster_recovered_midway = true;
}

void
run_until(struct world *w, int64_t until)
{
	size_t i;

	while (w->now < until) {
		w->now += STEP_MS;
		for (i = 0; i < w->n; i++) {
			/* Nodes probe in turn, spread over the probe interval. */
			int64_t slot = (w->now - T0) / STEP_MS, per = w->probe_ms / STEP_MS;
			if (slot % per == (int64_t)i % per)
				probe_node(w, i);
		}
		if ((w->now - T0) % POLL_MS == 0) {
			for (i = 0; i < w->n; i++)
				poll_node(w, i);
			cluster_step(w);
		}
	}
}

unsigned
opened_anywhere(const struct world *w)
{
	unsigned n = w->cluster_tally.opened;
	size_t i;

	for (i = 0; i < w->n; i++)
		n += w->storm[i].opened + w->tail[i].opened + w->down[i].opened;
	return n;
}

void
print_openings(const struct world *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		if (w->storm[i].opened)
			print_message("%s\n", w->storm[i].first);
		if (w->tail[i].opened)
			print_message("%s\n", w->tail[i].first);
		if (w->down[i].opened)
			print_message("%s\n", w->down[i].first);
	}
	if (w->cluster_tally.opened)
		print_message("%s\n", w->cluster_tally.first);
}
