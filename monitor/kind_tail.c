/*
 * kind_tail — latency tails (lib/kinds.h "latency_tail"): each node's tail detector
 * (detect.h) fed by its probes' latencies, one incident per cluster for its tail
 * episode, however many of its nodes are slow (a tail on every node is one problem,
 * and one page); the evidence names the nodes and their numbers. A down node takes no
 * part (its own incident says what is wrong).
 *
 * On a cluster with proxies, each proxy's poll (`stats backends`) also tells how its
 * replies from each backend were: those, summed over the proxies, feed a second
 * detector of each backend, and a backend's tail is either detector's. The evidence
 * then says how far the episode reaches (one backend, several, every one: cluster-wide,
 * or only proxies) and which proxies see which backend slow (docs/monitor.md).
 */
#include <stdio.h>
#include <string.h>

#include "kind.h"

#define NAME "latency_tail"
#define LATENCY_TEXT_MAX 24
#define VIEW_POLLS_MAX 32 /* a proxy's latest polls kept per backend (its own view) */
#define NAMES_TEXT_MAX 120 /* names listed in a title */

/* One poll's difference of a proxy's counters for one backend. */
struct view_poll {
	int64_t at_ms;
	uint64_t replies, slow;
};

/* On a proxy: one of its backends, poll to poll (its counters are cumulative). */
struct backend_view {
	char name[NODESTATS_BACKEND_NAME_MAX + 1];
	bool have_previous;
	uint64_t prev_replies, prev_slow;
	struct view_poll polls[VIEW_POLLS_MAX]; /* a ring of the latest differences */
	size_t next;
};

struct tail_node {
	/* mcmon's own probes of the node. */
	struct detect_tail probes;
	/* A backend: the replies its cluster's proxies timed, summed over the proxies
	 * (slow: slower than the proxies' tail_ms); made when a proxy first reports it. */
	struct detect_tail proxied;
	bool proxied_ready;
	/* The node's tail: either detector's, the more open one. */
	struct detect_status merged;
	/* A proxy: its backends as it sees them. */
	size_t nviews;
	struct backend_view views[NODESTATS_BACKENDS_MAX];
};

static struct tail_node *
tail_of(const struct watch_node *n, size_t k)
{
	return n->kind_state[k];
}

static int
tail_init(void *state, const struct monconfig *cfg, char *err, size_t errlen)
{
	return detect_tail_init(&((struct tail_node *)state)->probes, &cfg->detect, err, errlen);
}

static void
tail_release(void *state)
{
	struct tail_node *t = state;

	detect_tail_release(&t->probes);
	if (t->proxied_ready)
		detect_tail_release(&t->proxied);
	t->proxied_ready = false;
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
	return &((const struct tail_node *)state)->merged;
}

/* --- the proxies' view of their backends --------------------------------------------- */

/* The cluster's backend called name, or NULL. */
static struct watch_node *
backend_named(struct watch *w, const struct watch_node *proxy, const char *name)
{
	const struct watch_cluster *c = &w->clusters[proxy->cluster];
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		if (c->nodes[i]->role == CLUSTER_BACKEND && strcmp(c->nodes[i]->name, name) == 0)
			return c->nodes[i];
	}
	return NULL;
}

/* The index of the proxy's view of backend name; t->nviews when it has none. */
static size_t
view_index(const struct tail_node *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nviews; i++) {
		if (strcmp(t->views[i].name, name) == 0)
			break;
	}
	return i;
}

/* The proxy's view of backend name, a new one if it has none yet (NULL when full). */
static struct backend_view *
view_named(struct tail_node *t, const char *name)
{
	size_t i = view_index(t, name);

	if (i < t->nviews)
		return &t->views[i];
	if (t->nviews == NODESTATS_BACKENDS_MAX)
		return NULL;
	snprintf(t->views[t->nviews].name, sizeof(t->views[0].name), "%s", name);
	return &t->views[t->nviews++];
}

/*
 * A proxy's poll: each backend's replies since the proxy's previous poll go to that
 * backend's proxied detector (fast ones at 1 µs, slow ones at twice the threshold: the
 * detector only counts which side of the threshold they fall) and to the proxy's own
 * view of it. A counter going backwards (the proxy restarted, the backend re-added) is
 * a new start, not a difference.
 */
static void
tail_poll(struct watch *w, struct watch_node *n, size_t k, const struct nodestats *st,
    int64_t now_ms)
{
	struct tail_node *t = tail_of(n, k);
	const struct detect_config *cfg = &w->cfg->detect;
	char err[WATCH_ERROR_MAX];
	size_t i;

	for (i = 0; i < st->nbackends; i++) {
		const struct nodestats_backend *b = &st->backends[i];
		struct backend_view *v = view_named(t, b->name);
		struct watch_node *bn;
		struct tail_node *bt;
		uint64_t replies, slow;

		if (v == NULL)
			continue;
		if (!v->have_previous || b->replies < v->prev_replies || b->slow < v->prev_slow) {
			v->have_previous = true;
			v->prev_replies = b->replies;
			v->prev_slow = b->slow;
			continue;
		}
		replies = b->replies - v->prev_replies;
		slow = b->slow - v->prev_slow;
		if (slow > replies)
			slow = replies; /* the share is rounded; never more slow than replies */
		v->prev_replies = b->replies;
		v->prev_slow = b->slow;
		v->polls[v->next] = (struct view_poll){ now_ms, replies, slow };
		v->next = (v->next + 1) % VIEW_POLLS_MAX;
		if ((bn = backend_named(w, n, b->name)) == NULL)
			continue;
		bt = tail_of(bn, k);
		if (!bt->proxied_ready) {
			if (detect_tail_init(&bt->proxied, cfg, err, sizeof(err)) < 0)
				continue; /* no memory: the probes still watch it */
			bt->proxied_ready = true;
		}
		detect_tail_record_n(&bt->proxied, now_ms, 1, replies - slow);
		detect_tail_record_n(&bt->proxied, now_ms, 2 * cfg->tail_threshold_us, slow);
	}
}

/* A proxy's view of backend name over the last span_ms: replies and slow ones. */
static void
view_window(const struct tail_node *proxy, const char *name, int64_t now_ms, int64_t span_ms,
    uint64_t *replies, uint64_t *slow)
{
	size_t i = view_index(proxy, name);
	const struct backend_view *v = i < proxy->nviews ? &proxy->views[i] : NULL;

	*replies = *slow = 0;
	for (i = 0; v != NULL && i < VIEW_POLLS_MAX; i++) {
		if (v->polls[i].at_ms > 0 && v->polls[i].at_ms > now_ms - span_ms) {
			*replies += v->polls[i].replies;
			*slow += v->polls[i].slow;
		}
	}
}

/* --- feeding and deciding -------------------------------------------------------------- */

/* A timed-out probe counts as slow, with its timeout as latency; a failed one is the
 * node-down detector's. */
static void
tail_probe(struct watch *w, struct watch_node *n, size_t k, enum watch_probe_outcome outcome,
    uint64_t latency_us, int64_t now_ms)
{
	(void)w;
	if (outcome != WATCH_PROBE_FAILED)
		detect_tail_record(&tail_of(n, k)->probes, now_ms, latency_us);
}

static int
openness(enum detect_state state)
{
	switch (state) {
	case DETECT_FIRING: return 3;
	case DETECT_RECOVERING: return 2;
	case DETECT_PENDING: return 1;
	case DETECT_OK: break;
	}
	return 0;
}

/* Either detector's status, the more open one; the higher severity of the open ones. */
static struct detect_status
merge(const struct detect_status *a, const struct detect_status *b)
{
	struct detect_status m = openness(b->state) > openness(a->state) ? *b : *a;

	if (detect_status_open(a) && detect_status_open(b))
		m.severity = a->severity > b->severity ? a->severity : b->severity;
	return m;
}

static void
tail_tick(struct watch *w, struct watch_node *n, size_t k, int64_t now_ms)
{
	struct tail_node *t = tail_of(n, k);

	(void)detect_tail_evaluate(&t->probes, &w->cfg->detect, now_ms);
	t->merged = t->probes.status;
	if (t->proxied_ready) {
		(void)detect_tail_evaluate(&t->proxied, &w->cfg->detect, now_ms);
		t->merged = merge(&t->probes.status, &t->proxied.status);
	}
}

static struct detect_status
tail_episode_member(struct watch *w, struct watch_node *n, size_t k)
{
	struct detect_status none = { 0 };

	(void)w;
	return kind_down_node_down(n) ? none : tail_of(n, k)->merged;
}

/* None beyond the nodes' tail_clear_hold: resolve_hold keeps a tail that comes back
 * soon one incident. */
static int64_t
tail_episode_grace_ms(const struct monconfig *cfg)
{
	(void)cfg;
	return 0;
}

/* A node's slow fraction now: the larger of its probes' and its proxies' view. */
static double
slow_fraction(const struct tail_node *t)
{
	double f = t->probes.evidence.short_fraction;

	if (t->proxied_ready && t->proxied.evidence.short_fraction > f)
		f = t->proxied.evidence.short_fraction;
	return f;
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
		if (worst == NULL || slow_fraction(tail_of(n, k)) > slow_fraction(tail_of(worst, k)))
			worst = n;
	}
	return worst;
}

/*
 * How far the episode reaches, from the nodes that took part: "cluster-wide" when every
 * backend that is up did (two at least: the network or a shared dependency, not one
 * machine), "backends" when several did, "backend" when one did, "proxies" when only
 * proxies did (their own path, not a backend), "none" before anything took part.
 */
struct extent {
	const char *word;
	size_t backends_up, backends_in, proxies_in;
};

static struct extent
extent_of(const struct watch_cluster *c, size_t k)
{
	struct extent e = { "none", 0, 0, 0 };
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		const struct watch_node *n = c->nodes[i];
		bool in = c->episode[k].involved[i];
		if (n->role == CLUSTER_PROXY) {
			e.proxies_in += in;
			continue;
		}
		if (!kind_down_node_down(n))
			e.backends_up++;
		e.backends_in += in;
	}
	if (e.backends_in >= 2 && e.backends_in >= e.backends_up)
		e.word = "cluster-wide";
	else if (e.backends_in >= 2)
		e.word = "backends";
	else if (e.backends_in == 1)
		e.word = "backend";
	else if (e.proxies_in > 0)
		e.word = "proxies";
	return e;
}

/* Whether proxy p sees backend b slow over the short window: its share of slow replies
 * above what b's proxied detector must exceed (tail_fraction before it has one). */
static bool
sees_slow(const struct watch_node *p, const struct watch_node *b, size_t k,
    const struct detect_config *cfg, int64_t now_ms, uint64_t *replies, uint64_t *slow)
{
	const struct tail_node *bt = tail_of(b, k);
	double trip = bt->proxied_ready && bt->proxied.evidence.short_trip > 0 ?
	    bt->proxied.evidence.short_trip : cfg->tail_fraction;

	view_window(tail_of(p, k), b->name, now_ms, cfg->tail_short_window_ms, replies, slow);
	return *replies > 0 && (double)*slow > trip * (double)*replies;
}

/* "a, b, c" of the episode's nodes of a role into buf (what fits). */
static void
names_of(const struct watch_cluster *c, size_t k, enum cluster_role role, char *buf,
    size_t len)
{
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < c->nnodes && used < len; i++) {
		if (!c->episode[k].involved[i] || c->nodes[i]->role != role)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", c->nodes[i]->name);
		if (n < 0)
			return;
		used += (size_t)n;
	}
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

/* The extent in words, for the title and the evidence's statement. */
static void
extent_text(const struct watch_cluster *c, size_t k, const struct extent *e, char *buf,
    size_t len)
{
	char names[NAMES_TEXT_MAX];

	if (strcmp(e->word, "cluster-wide") == 0) {
		snprintf(buf, len, "cluster-wide: every backend (%zu) slow", e->backends_in);
	} else if (strcmp(e->word, "backends") == 0 || strcmp(e->word, "backend") == 0) {
		names_of(c, k, CLUSTER_BACKEND, names, sizeof(names));
		snprintf(buf, len, "%s %s slow", e->backends_in > 1 ? "backends" : "backend", names);
	} else if (strcmp(e->word, "proxies") == 0) {
		names_of(c, k, CLUSTER_PROXY, names, sizeof(names));
		snprintf(buf, len, "proxies %s slow, no backend", names);
	} else {
		snprintf(buf, len, "nothing slow");
	}
}

static void
tail_title(const struct kind_subject *s, char *buf, size_t len)
{
	const struct watch_cluster *c = s->cluster;
	const struct watch_node *worst = worst_tail(c, s->kind);
	struct extent e = extent_of(c, s->kind);
	char thr[LATENCY_TEXT_MAX], what[NAMES_TEXT_MAX + 48];
	double f;

	if (worst == NULL) {
		snprintf(buf, len, "Latency tail on %s", c->name);
		return;
	}
	latency_text(s->cfg->detect.tail_threshold_us, thr, sizeof(thr));
	f = 100.0 * slow_fraction(tail_of(worst, s->kind));
	if (c->episode[s->kind].evidence.in_storm > 1) {
		extent_text(c, s->kind, &e, what, sizeof(what));
		snprintf(buf, len, "Latency tail on %s: %zu nodes, up to %.1f%% of requests slower "
		    "than %s; %s", c->name, c->episode[s->kind].evidence.in_storm, f, thr, what);
	} else {
		snprintf(buf, len, "Latency tail on %s/%s: %.1f%% of %s slower than %s", c->name,
		    worst->name, f, worst->role == CLUSTER_PROXY ? "probes through the proxy" :
		    "requests", thr);
	}
}

/* A node that took part in the episode: its numbers. */
static json_t *
tail_node_json(const struct watch_node *n, size_t k, bool involved)
{
	const struct tail_node *t = tail_of(n, k);
	const struct detect_tail_evidence *e = &t->probes.evidence;
	json_t *o;

	if (!involved)
		return NULL;
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
		      "s:o, s:o, s:o, s:o}",
	    "cluster", n->cluster_name, "node", n->name, "role", cluster_role_word(n->role),
	    "threshold_us", kind_json_count(e->threshold_us), "short_count",
	    kind_json_count(e->short_count), "short_slow", kind_json_count(e->short_slow),
	    "short_fraction", kind_json_real(e->short_fraction), "long_count",
	    kind_json_count(e->long_count), "long_slow", kind_json_count(e->long_slow),
	    "long_fraction", kind_json_real(e->long_fraction), "baseline",
	    kind_json_real(e->baseline), "short_trip", kind_json_real(e->short_trip), "long_trip",
	    kind_json_real(e->long_trip), "p50_us", kind_json_count(e->p50_us), "p90_us",
	    kind_json_count(e->p90_us), "p99_us", kind_json_count(e->p99_us), "excess",
	    kind_json_real(e->excess), "detector",
	    json_string(detect_state_name(t->probes.status.state)));
	if (o != NULL && t->proxied_ready) {
		const struct detect_tail_evidence *p = &t->proxied.evidence;
		json_object_set_new(o, "via_proxies", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, "
								"s:o, s:o, s:o, s:s}",
		    "short_count", kind_json_count(p->short_count), "short_slow",
		    kind_json_count(p->short_slow), "short_fraction", kind_json_real(p->short_fraction),
		    "long_count", kind_json_count(p->long_count), "long_slow",
		    kind_json_count(p->long_slow), "long_fraction", kind_json_real(p->long_fraction),
		    "baseline", kind_json_real(p->baseline), "short_trip",
		    kind_json_real(p->short_trip), "long_trip", kind_json_real(p->long_trip),
		    "detector", detect_state_name(t->proxied.status.state)));
	}
	return o;
}

/*
 * Each backend of the episode, as each proxy sees it: "seen_by" {proxy: its replies and
 * slow ones over the short window, its state of the backend, its p50/p99 since start}
 * and "slow_at" (the proxies that see it slow) in the backend's node evidence; the
 * union of those proxies in proxies_seeing.
 */
static void
add_proxy_views(const struct kind_subject *s, json_t *evidence, json_t *proxies_seeing)
{
	const struct watch_cluster *c = s->cluster;
	const struct detect_config *cfg = &s->cfg->detect;
	json_t *nodes = json_object_get(evidence, "node_evidence");
	bool seeing[DETECT_CLUSTER_NODES_MAX] = { false };
	size_t i, j;

	for (i = 0; i < c->nnodes; i++) {
		const struct watch_node *b = c->nodes[i];
		json_t *nj = nodes != NULL ? json_object_get(nodes, b->name) : NULL;
		json_t *seen, *slow_at;
		if (nj == NULL || b->role != CLUSTER_BACKEND)
			continue;
		seen = json_object();
		slow_at = json_array();
		for (j = 0; j < c->nnodes; j++) {
			const struct watch_node *p = c->nodes[j];
			const struct nodestats_backend *pb;
			uint64_t replies, slow;
			bool is_slow;
			if ((pb = kind_proxy_backend(p, b->name)) == NULL)
				continue;
			is_slow = sees_slow(p, b, s->kind, cfg, s->now_ms, &replies, &slow);
			json_object_set_new(seen, p->name, json_pack("{s:o, s:o, s:s, s:o, s:o, s:o}",
			    "replies", kind_json_count(replies), "slow", kind_json_count(slow),
			    "state", pb->up ? "up" : "down", "p50_us",
			    kind_json_count(pb->latency_p50_us), "p99_us",
			    kind_json_count(pb->latency_p99_us), "errors", kind_json_count(pb->errors)));
			if (is_slow) {
				json_array_append_new(slow_at, json_string(p->name));
				seeing[j] = true;
			}
		}
		json_object_set_new(nj, "seen_by", seen);
		json_object_set_new(nj, "slow_at", slow_at);
	}
	for (j = 0; j < c->nnodes && j < DETECT_CLUSTER_NODES_MAX; j++) {
		if (seeing[j])
			json_array_append_new(proxies_seeing, json_string(c->nodes[j]->name));
	}
}

/*
 * The episode's evidence (kind.h) and: "extent" (extent_of), "statement" (it in words,
 * with the proxies that see the slow backends), "backends" and "proxies" (the episode's
 * nodes by role), "proxies_seeing".
 */
static json_t *
tail_evidence(const struct kind_subject *s)
{
	const struct watch_cluster *c = s->cluster;
	json_t *o = kind_episode_evidence(s, tail_node_json);
	json_t *backends, *proxies, *seeing;
	struct extent e = extent_of(c, s->kind);
	char what[NAMES_TEXT_MAX + 48], statement[2 * NAMES_TEXT_MAX + 96];
	size_t i, used;

	if (o == NULL)
		return NULL;
	backends = json_array();
	proxies = json_array();
	seeing = json_array();
	for (i = 0; i < c->nnodes; i++) {
		if (c->episode[s->kind].involved[i])
			json_array_append_new(c->nodes[i]->role == CLUSTER_PROXY ? proxies : backends,
			    json_string(c->nodes[i]->name));
	}
	add_proxy_views(s, o, seeing);
	extent_text(c, s->kind, &e, what, sizeof(what));
	used = (size_t)snprintf(statement, sizeof(statement), "%s", what);
	for (i = 0; i < json_array_size(seeing) && used < sizeof(statement); i++)
		used += (size_t)snprintf(statement + used, sizeof(statement) - used, "%s%s",
		    i == 0 ? ", seen by proxies " : ", ",
		    json_string_value(json_array_get(seeing, i)));
	json_object_set_new(o, "extent", json_string(e.word));
	json_object_set_new(o, "statement", json_string(statement));
	json_object_set_new(o, "backends", backends);
	json_object_set_new(o, "proxies", proxies);
	json_object_set_new(o, "proxies_seeing", seeing);
	return o;
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
	.node_size = sizeof(struct tail_node),
	.node_init = tail_init,
	.node_release = tail_release,
	.node_keeps = tail_keeps,
	.status = tail_status,
	.poll = tail_poll,
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
	return &tail_of(n, (size_t)kinds_index(NAME))->probes;
}

struct detect_tail *
kind_tail_proxied(const struct watch_node *n)
{
	struct tail_node *t = tail_of(n, (size_t)kinds_index(NAME));

	return t->proxied_ready ? &t->proxied : NULL;
}
