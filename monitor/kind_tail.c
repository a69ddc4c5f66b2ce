/*
 * kind_tail — latency tails (lib/kinds.h "latency_tail"): each node's tail detector
 * (detect.h) fed by its probes' latencies, one incident per cluster for its tail
 * episode, however many of its nodes are slow (a tail on every node is one problem,
 * and one page); the evidence names the nodes and their numbers. A down node takes no
 * part (its own incident says what is wrong).
 */
#include <stdio.h>
#include <string.h>

#include "kind.h"

#define NAME "latency_tail"
#define LATENCY_TEXT_MAX 24

static struct detect_tail *
tail_of(const struct watch_node *n, size_t k)
{
	return n->kind_state[k];
}

static int
tail_init(void *state, const struct monconfig *cfg, char *err, size_t errlen)
{
	return detect_tail_init(state, &cfg->detect, err, errlen);
}

static void
tail_release(void *state)
{
	detect_tail_release(state);
}

/* The windows move across a reload only if their shape is unchanged. */
static bool
tail_keeps(const struct monconfig *to, const struct monconfig *from)
{
	const struct detect_config *a = &to->detect, *b = &from->detect;

	return a->tail_threshold_us == b->tail_threshold_us && a->tail_slot_ms == b->tail_slot_ms &&
	    a->tail_long_window_ms == b->tail_long_window_ms;
}

static const struct detect_status *
tail_status(const void *state)
{
	return &((const struct detect_tail *)state)->status;
}

/* A timed-out probe counts as slow, with its timeout as latency; a failed one is the
 * node-down detector's. */
static void
tail_probe(struct watch *w, struct watch_node *n, size_t k, enum watch_probe_outcome outcome,
    uint64_t latency_us, int64_t now_ms)
{
	(void)w;
	if (outcome != WATCH_PROBE_FAILED)
		detect_tail_record(tail_of(n, k), now_ms, latency_us);
}

static void
tail_tick(struct watch *w, struct watch_node *n, size_t k, int64_t now_ms)
{
	(void)detect_tail_evaluate(tail_of(n, k), &w->cfg->detect, now_ms);
}

static struct detect_status
tail_episode_member(struct watch *w, struct watch_node *n, size_t k)
{
	struct detect_status none = { 0 };

	(void)w;
	return kind_down_node_down(n) ? none : tail_of(n, k)->status;
}

/* None beyond the nodes' tail_clear_hold: resolve_hold keeps a tail that comes back
 * soon one incident. */
static int64_t
tail_episode_grace_ms(const struct monconfig *cfg)
{
	(void)cfg;
	return 0;
}

/* The worst tail among the cluster's nodes in the episode (for the title). */
static const struct watch_node *
worst_tail(const struct watch_cluster *c, size_t k)
{
	const struct watch_node *worst = NULL;
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		const struct watch_node *n = c->nodes[i];
		if (!c->episode[k].involved[i])
			continue;
		if (worst == NULL || tail_of(n, k)->evidence.short_fraction >
		    tail_of(worst, k)->evidence.short_fraction)
			worst = n;
	}
	return worst;
}

static void
latency_text(uint64_t us, char *buf, size_t len)
{
	if (us >= 1000000 && us % 1000000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(us / 1000000));
	else if (us >= 1000 && us % 1000 == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(us / 1000));
	else if (us >= 1000)
		snprintf(buf, len, "%.1fms", (double)us / 1000.0);
	else
		snprintf(buf, len, "%lluus", (unsigned long long)us);
}

static void
tail_title(const struct kind_subject *s, char *buf, size_t len)
{
	const struct watch_cluster *c = s->cluster;
	const struct watch_node *worst = worst_tail(c, s->kind);
	const struct detect_tail_evidence *te;
	char thr[LATENCY_TEXT_MAX];

	if (worst == NULL) {
		snprintf(buf, len, "Latency tail on %s", c->name);
		return;
	}
	te = &tail_of(worst, s->kind)->evidence;
	latency_text(te->threshold_us, thr, sizeof(thr));
	if (c->episode[s->kind].evidence.in_storm > 1)
		snprintf(buf, len, "Latency tail on %s: %zu nodes, up to %.1f%% of probes slower "
		    "than %s", c->name, c->episode[s->kind].evidence.in_storm,
		    100.0 * te->short_fraction, thr);
	else
		snprintf(buf, len, "Latency tail on %s/%s: %.1f%% of probes slower than %s",
		    c->name, worst->name, 100.0 * te->short_fraction, thr);
}

/* A node that took part in the episode: its numbers. */
static json_t *
tail_node_json(const struct watch_node *n, size_t k, bool involved)
{
	const struct detect_tail *t = tail_of(n, k);
	const struct detect_tail_evidence *e = &t->evidence;

	if (!involved)
		return NULL;
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
			 "s:o, s:o, s:o}",
	    "cluster", n->cluster_name, "node", n->name, "threshold_us",
	    kind_json_count(e->threshold_us), "short_count", kind_json_count(e->short_count),
	    "short_slow", kind_json_count(e->short_slow), "short_fraction",
	    kind_json_real(e->short_fraction), "long_count", kind_json_count(e->long_count),
	    "long_slow", kind_json_count(e->long_slow), "long_fraction",
	    kind_json_real(e->long_fraction), "baseline", kind_json_real(e->baseline),
	    "short_trip", kind_json_real(e->short_trip), "long_trip", kind_json_real(e->long_trip),
	    "p50_us", kind_json_count(e->p50_us), "p90_us", kind_json_count(e->p90_us), "p99_us",
	    kind_json_count(e->p99_us), "excess", kind_json_real(e->excess), "detector",
	    json_string(detect_state_name(t->status.state)));
}

static json_t *
tail_evidence(const struct kind_subject *s)
{
	return kind_episode_evidence(s, tail_node_json);
}

static void
tail_summary(const struct kind_subject *s, const struct watch_incident *inc, char *buf,
    size_t len)
{
	snprintf(buf, len, "cleared: no node of %s with a latency tail (%zu took part, %zu at "
	    "once at most)", s->cluster->name, inc->involved, inc->peak);
}

/* The long window must fill again, and the baseline be learnt (the warm-up). */
static int64_t
tail_adoption_extra_ms(const struct monconfig *cfg)
{
	return cfg->detect.tail_long_window_ms + cfg->detect.tail_warmup_ms;
}

const struct kind_ops kind_tail_ops = {
	.name = NAME,
	.node_size = sizeof(struct detect_tail),
	.node_init = tail_init,
	.node_release = tail_release,
	.node_keeps = tail_keeps,
	.status = tail_status,
	.probe = tail_probe,
	.tick = tail_tick,
	.episode_member = tail_episode_member,
	.episode_grace_ms = tail_episode_grace_ms,
	.title = tail_title,
	.evidence = tail_evidence,
	.summary = tail_summary,
	.adoption_extra_ms = tail_adoption_extra_ms,
	.superseded_per_node = "superseded: latency tails are one incident per cluster now "
			       "(latency_tail:%s)",
};

struct detect_tail *
kind_tail_detector(const struct watch_node *n)
{
	return tail_of(n, (size_t)kinds_index(NAME));
}
