/*
 * kind_storm — connection storms (lib/kinds.h "connection_storm"): each node's storm
 * detector (detect.h) fed by its admin polls, one incident per cluster for its storm
 * episode, however many nodes the storm touches or hops across. Its evidence says who
 * (who.h): the tenants and sources with their shares of the new connections on the
 * cluster's client-taking nodes since the episode began, and the remedy that fits.
 */
#include <stdio.h>

#include "kind.h"

#define NAME "connection_storm"

struct storm_node {
	struct detect_storm detector;
	/* A storm that opened or worsened since the last evaluation: one that came and
	 * went within one interval still takes part in the episode. */
	bool latched;
	enum detect_severity latched_severity;
};

static struct storm_node *
node_of(const struct watch_node *n, size_t k)
{
	return n->kind_state[k];
}

static int
storm_init(void *state, const struct monconfig *cfg, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	detect_storm_init(&((struct storm_node *)state)->detector);
	return 0;
}

static const struct detect_status *
storm_status(const void *state)
{
	return &((const struct storm_node *)state)->detector.status;
}

static void
storm_poll(struct watch *w, struct watch_node *n, size_t k, const struct nodestats *st,
    int64_t now_ms)
{
	struct storm_node *s = node_of(n, k);
	struct detect_storm_sample sample = { 0 };
	enum detect_event ev;

	sample.curr_connections = st->curr_connections;
	sample.total_connections = st->total_connections;
	sample.has_kernel = st->has_kernel;
	sample.accept_queue = st->not_accepted;
	sample.listen_overflows = st->listen_overflows;
	ev = detect_storm_update(&s->detector, &w->cfg->detect, &sample, now_ms);
	/* Who counts from the first poll of an episode: while neither this node nor its
	 * cluster is in one, the sums start again at every poll. */
	if (s->detector.status.state == DETECT_OK &&
	    !detect_status_open(&w->clusters[n->cluster].episode[k].status))
		who_node_restart(&n->who);
	if (ev == DETECT_EVENT_OPENED || ev == DETECT_EVENT_WORSENED) {
		s->latched = true;
		if (s->detector.status.severity > s->latched_severity)
			s->latched_severity = s->detector.status.severity;
	}
}

static struct detect_status
storm_episode_member(struct watch *w, struct watch_node *n, size_t k)
{
	struct storm_node *s = node_of(n, k);
	struct detect_status st = s->detector.status;

	(void)w;
	if (s->latched && !detect_status_open(&st)) {
		st.state = DETECT_FIRING;
		st.severity = s->latched_severity;
	}
	s->latched = false;
	s->latched_severity = DETECT_SEVERITY_NONE;
	return st;
}

static int64_t
storm_episode_grace_ms(const struct monconfig *cfg)
{
	return cfg->detect.cluster_grace_ms;
}

static void
storm_title(const struct kind_subject *s, char *buf, size_t len)
{
	snprintf(buf, len, "Connection storm in cluster %s", s->cluster->name);
}

/* A node in storm now or during the episode: its numbers. */
static json_t *
storm_node_json(const struct watch_node *n, size_t k, bool involved)
{
	const struct storm_node *s = node_of(n, k);
	const struct detect_storm_evidence *e = &s->detector.evidence;
	json_t *tripped;

	if (!involved && !detect_storm_active(&s->detector))
		return NULL;
	tripped = json_array();
	if (e->tripped & DETECT_STORM_LEVEL)
		json_array_append_new(tripped, json_string("level"));
	if (e->tripped & DETECT_STORM_RATE)
		json_array_append_new(tripped, json_string("rate"));
	if (e->tripped & DETECT_STORM_ACCEPT_QUEUE)
		json_array_append_new(tripped, json_string("accept_queue"));
	if (e->tripped & DETECT_STORM_OVERFLOWS)
		json_array_append_new(tripped, json_string("overflows"));
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:o, s:o, s:o}",
	    "level", kind_json_real(e->level), "level_baseline", kind_json_real(e->level_baseline),
	    "level_sigma", kind_json_real(e->level_sigma), "level_trip",
	    kind_json_real(e->level_trip), "rate", kind_json_real(e->rate), "rate_baseline",
	    kind_json_real(e->rate_baseline), "rate_sigma", kind_json_real(e->rate_sigma),
	    "rate_trip", kind_json_real(e->rate_trip), "rate_known", e->rate_known,
	    "counter_reset", e->counter_reset, "accept_queue", kind_json_count(e->accept_queue),
	    "overflow_rate", kind_json_real(e->overflow_rate), "tripped", tripped, "excess",
	    kind_json_real(e->excess));
}

static json_t *
shares_json(const struct who_share *v, size_t n, const char *key_name)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:o, s:o}", key_name, v[i].key, "share",
		    kind_json_real(v[i].share), "new_connections",
		    kind_json_count(v[i].new_connections)));
	return a;
}

static json_t *
storm_evidence(const struct kind_subject *s)
{
	const struct watch_cluster *c = s->cluster;
	const struct who_node *nodes[DETECT_CLUSTER_NODES_MAX];
	const char *names[DETECT_CLUSTER_NODES_MAX];
	struct who_verdict v;
	json_t *o = kind_episode_evidence(s, storm_node_json), *who;
	size_t i, n = c->nnodes < DETECT_CLUSTER_NODES_MAX ? c->nnodes : DETECT_CLUSTER_NODES_MAX;

	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		nodes[i] = c->nodes[i]->takes_clients ? &c->nodes[i]->who : NULL;
		names[i] = c->nodes[i]->name;
	}
	who_merge(nodes, names, n, &v);
	who = json_pack("{s:o, s:o, s:b, s:b, s:o, s:s}", "tenants",
	    shares_json(v.tenants, v.ntenants, "name"), "sources",
	    shares_json(v.sources, v.nsources, "prefix"), "dominant", v.dominant, "known", v.known,
	    "new_connections", kind_json_count(v.new_connections), "remedy",
	    who_remedy_name(v.remedy));
	if (who != NULL && v.busiest[0] != '\0') {
		json_object_set_new(who, "busiest_node", json_string(v.busiest));
		json_object_set_new(who, "busiest_share", kind_json_real(v.busiest_share));
	}
	/* The sentences people read: pages and `mctl status` print them as they are. */
	json_object_set_new(o, "finding", json_string(v.finding));
	json_object_set_new(o, "remedy", json_string(v.remedy_text));
	if (who != NULL)
		json_object_set_new(o, "who", who);
	return o;
}

static void
storm_summary(const struct kind_subject *s, const struct watch_incident *inc, char *buf,
    size_t len)
{
	snprintf(buf, len, "cleared: no node of %s in storm (%zu took part, %zu at once at most)",
	    s->cluster->name, inc->involved, inc->peak);
}

/* Warm-up, then enough tripped polls to open. */
static int64_t
storm_adoption_extra_ms(const struct monconfig *cfg)
{
	return (int64_t)(cfg->detect.storm_warmup + cfg->detect.storm_enter) *
	    cfg->set.poll_interval_ms;
}

const struct kind_ops kind_storm_ops = {
	.name = NAME,
	.node_size = sizeof(struct storm_node),
	.node_init = storm_init,
	.status = storm_status,
	.poll = storm_poll,
	.episode_member = storm_episode_member,
	.episode_grace_ms = storm_episode_grace_ms,
	.title = storm_title,
	.evidence = storm_evidence,
	.summary = storm_summary,
	.adoption_extra_ms = storm_adoption_extra_ms,
};

struct detect_storm *
kind_storm_detector(const struct watch_node *n)
{
	return &node_of(n, (size_t)kinds_index(NAME))->detector;
}

const struct detect_cluster *
kind_storm_episode(const struct watch_cluster *c)
{
	return &c->episode[kinds_index(NAME)];
}
