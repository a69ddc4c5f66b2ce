/*
 * kind_down — dead nodes (lib/kinds.h "node_down"): each node's down detector
 * (detect.h) fed by its probes' outcomes and by the passage of time, one incident per
 * node.
 */
#include <stdio.h>

#include "kind.h"

#define NAME "node_down"

static struct detect_down *
down_of(const struct watch_node *n, size_t k)
{
	return n->kind_state[k];
}

static int
down_init(void *state, const struct monconfig *cfg, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	detect_down_init(state);
	return 0;
}

static const struct detect_status *
down_status(const void *state)
{
	return &((const struct detect_down *)state)->status;
}

static void
down_probe(struct watch *w, struct watch_node *n, size_t k, enum watch_probe_outcome outcome,
    uint64_t latency_us, int64_t now_ms)
{
	struct detect_down *d = down_of(n, k);
	enum detect_event ev;

	(void)latency_us;
	ev = detect_down_probe(d, &w->cfg->detect, outcome == WATCH_PROBE_OK, now_ms);
	watch_incident_latch(&n->incident[k], ev, d->status.severity);
}

/* Probes that neither succeed nor fail: found by down_silence. */
static void
down_tick(struct watch *w, struct watch_node *n, size_t k, int64_t now_ms)
{
	struct detect_down *d = down_of(n, k);
	enum detect_event ev;

	ev = detect_down_tick(d, &w->cfg->detect, now_ms);
	watch_incident_latch(&n->incident[k], ev, d->status.severity);
}

/* Whether cluster c has proxies: its nodes are then backends or proxies by name. */
static bool
has_proxies(const struct watch_cluster *c)
{
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		if (c->nodes[i]->role == CLUSTER_PROXY)
			return true;
	}
	return false;
}

/* A proxy down: its clients must reconnect to another; a backend down behind proxies:
 * its own listeners do not answer mcmon (whatever the proxies say of it). */
static void
down_title(const struct kind_subject *s, char *buf, size_t len)
{
	const char *what = "Node";

	if (s->node->role == CLUSTER_PROXY)
		what = "Proxy";
	else if (has_proxies(s->cluster))
		what = "Backend";
	snprintf(buf, len, "%s %s/%s is down", what, s->cluster->name, s->node->name);
}

static json_t *
down_evidence(const struct kind_subject *s)
{
	const struct watch_node *n = s->node;
	const struct detect_down *d = down_of(n, s->kind);
	const struct detect_down_evidence *e = &d->evidence;
	json_t *o;

	o = json_pack("{s:s, s:s, s:o, s:o, s:I, s:b, s:s, s:o, s:o, s:s, s:s}", "cluster",
	    n->cluster_name, "node", n->name, "failures", kind_json_count(e->failures),
	    "successes", kind_json_count(e->successes), "silent_ms", (json_int_t)e->silent_ms,
	    "by_silence", e->by_silence, "last_error", n->probe_error, "probes_failed",
	    kind_json_count(n->probes_failed), "probes_timeout",
	    kind_json_count(n->probes_timeout), "detector", detect_state_name(d->status.state),
	    "role", cluster_role_word(n->role));
	/* A backend behind proxies: which of them eject it too (their view agrees). */
	if (o != NULL && n->role == CLUSTER_BACKEND && has_proxies(s->cluster))
		json_object_set_new(o, "ejected_by", kind_ejected_by(s->cluster, n));
	return o;
}

static void
down_summary(const struct kind_subject *s, const struct watch_incident *inc, char *buf,
    size_t len)
{
	(void)inc;
	snprintf(buf, len, "cleared: %u probes in a row answered",
	    down_of(s->node, s->kind)->evidence.successes);
}

/* Silence, a connection's timeout, then enough failed probes. */
static int64_t
down_adoption_extra_ms(const struct monconfig *cfg)
{
	return cfg->detect.down_silence_ms + cfg->set.connect_timeout_ms +
	    (int64_t)cfg->detect.down_failures * monconfig_probe_period_ms(&cfg->set);
}

const struct kind_ops kind_down_ops = {
	.name = NAME,
	.node_size = sizeof(struct detect_down),
	.node_init = down_init,
	.status = down_status,
	.probe = down_probe,
	.tick = down_tick,
	.title = down_title,
	.evidence = down_evidence,
	.summary = down_summary,
	.adoption_extra_ms = down_adoption_extra_ms,
};

struct detect_down *
kind_down_detector(const struct watch_node *n)
{
	return down_of(n, (size_t)kinds_index(NAME));
}

bool
kind_down_node_down(const struct watch_node *n)
{
	size_t k = (size_t)kinds_index(NAME);

	return detect_status_open(&down_of(n, k)->status) || n->incident[k].phase != WATCH_NONE;
}
