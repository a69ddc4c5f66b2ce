/*
 * kind_ejected — a backend its cluster's proxies have taken out of service while it
 * still answers mcmon (lib/kinds.h "backend_ejected"): the proxies report its state
 * down in `stats backends`, and mcmon's own probes of it succeed. One incident per
 * backend. A backend that does not answer mcmon either is node_down's ("Backend ... is
 * down", naming the proxies that eject it); a proxy that does not answer is node_down's
 * too ("Proxy ... is down"). So the three read apart: the path from the proxies, the
 * backend itself, the proxy itself.
 */
#include <stdio.h>
#include <string.h>

#include "kind.h"
#include "utctime.h"

#define NAME "backend_ejected"
#define NAMES_TEXT_MAX 120 /* proxies listed in a title */

struct ejected_node {
	struct detect_status status;
	/* At the last evaluation: the proxies whose latest poll lists this backend, and
	 * of those the ones that report it down. */
	size_t reporting, down;
	uint64_t down_since; /* Unix seconds: the earliest the proxies report; 0 unknown */
	char last_error[NODESTATS_ERROR_MAX];
};

static struct ejected_node *
ejected_of(const struct watch_node *n, size_t k)
{
	return n->kind_state[k];
}

static const struct detect_status *
ejected_status(const void *state)
{
	return &((const struct ejected_node *)state)->status;
}

/* Whether mcmon's own probes of n answer: not down, and the latest ones succeeded. */
static bool
answers_mcmon(const struct watch_node *n, const struct monconfig *cfg)
{
	const struct detect_down *d = kind_down_detector(n);

	return !kind_down_node_down(n) && d->evidence.failures == 0 &&
	    d->evidence.successes >= cfg->detect.down_recoveries;
}

static void
ejected_tick(struct watch *w, struct watch_node *n, size_t k, int64_t now_ms)
{
	struct ejected_node *e = ejected_of(n, k);
	const struct watch_cluster *c = &w->clusters[n->cluster];
	enum detect_severity sev;
	enum detect_event ev = DETECT_EVENT_NONE;
	bool ejected;
	size_t i;

	if (n->role != CLUSTER_BACKEND)
		return;
	e->reporting = e->down = 0;
	e->down_since = 0;
	for (i = 0; i < c->nnodes; i++) {
		const struct nodestats_backend *b = kind_proxy_backend(c->nodes[i], n->name);
		if (b == NULL)
			continue;
		e->reporting++;
		if (b->up)
			continue;
		e->down++;
		if (b->down_since > 0 && (e->down_since == 0 || b->down_since < e->down_since))
			e->down_since = b->down_since;
		if (b->last_error[0] != '\0')
			snprintf(e->last_error, sizeof(e->last_error), "%s", b->last_error);
	}
	ejected = e->down > 0 && answers_mcmon(n, w->cfg);
	/* Every proxy that sees it: the cluster lost its capacity; some: a path. */
	sev = e->down == e->reporting ? DETECT_SEVERITY_MAJOR : DETECT_SEVERITY_MINOR;
	if (ejected && w->cfg->detect.down_critical_ms > 0 && e->status.opened_ms > 0 &&
	    now_ms - e->status.opened_ms >= w->cfg->detect.down_critical_ms)
		sev = DETECT_SEVERITY_CRITICAL;
	if (ejected && !detect_status_open(&e->status)) {
		e->status.state = DETECT_FIRING;
		e->status.severity = sev;
		e->status.since_ms = e->status.opened_ms = now_ms;
		ev = DETECT_EVENT_OPENED;
	} else if (ejected && sev > e->status.severity) {
		e->status.severity = sev;
		ev = DETECT_EVENT_WORSENED;
	} else if (!ejected && detect_status_open(&e->status)) {
		memset(&e->status, 0, sizeof(e->status));
		e->status.since_ms = now_ms;
		ev = DETECT_EVENT_CLEARED;
	}
	watch_incident_latch(&n->incident[k], ev, e->status.severity);
}

/* "p1, p2" of the proxies that report n down (what fits). */
static void
ejecting_proxies(const struct watch_cluster *c, const struct watch_node *n, char *buf,
    size_t len, json_t *list)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < c->nnodes; i++) {
		const struct nodestats_backend *b = kind_proxy_backend(c->nodes[i], n->name);
		int w;
		if (b == NULL || b->up)
			continue;
		if (list != NULL)
			json_array_append_new(list, json_string(c->nodes[i]->name));
		if (used < len && (w = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "",
		    c->nodes[i]->name)) > 0)
			used += (size_t)w;
	}
}

static void
ejected_title(const struct kind_subject *s, char *buf, size_t len)
{
	char names[NAMES_TEXT_MAX];

	ejecting_proxies(s->cluster, s->node, names, sizeof(names), NULL);
	snprintf(buf, len, "Backend %s/%s ejected by proxies %s (it answers mcmon)",
	    s->cluster->name, s->node->name, names);
}

json_t *
kind_ejected_by(const struct watch_cluster *c, const struct watch_node *n)
{
	char names[NAMES_TEXT_MAX];
	json_t *list = json_array();

	ejecting_proxies(c, n, names, sizeof(names), list);
	return list;
}

static json_t *
ejected_evidence(const struct kind_subject *s)
{
	const struct ejected_node *e = ejected_of(s->node, s->kind);
	char since[UTC_TEXT_MAX];

	since[0] = '\0';
	if (e->down_since > 0)
		utc_format_ms((int64_t)e->down_since * 1000, since, sizeof(since));
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:o}", "cluster",
	    s->node->cluster_name, "node", s->node->name, "role", "node", "ejected_by",
	    kind_ejected_by(s->cluster, s->node), "proxies_reporting",
	    kind_json_count(e->reporting), "proxies_down", kind_json_count(e->down), "down_since",
	    since, "last_error", e->last_error, "own_probes", "answering", "probes_ok",
	    kind_json_count(s->node->probes_ok));
}

static void
ejected_summary(const struct kind_subject *s, const struct watch_incident *inc, char *buf,
    size_t len)
{
	(void)inc;
	snprintf(buf, len, "cleared: no proxy reports %s down, or it stopped answering mcmon "
	    "(then node_down says so)", s->node->name);
}

/* Two polls of the proxies. */
static int64_t
ejected_adoption_extra_ms(const struct monconfig *cfg)
{
	return 2 * cfg->set.poll_interval_ms;
}

const struct kind_ops kind_ejected_ops = {
	.name = NAME,
	.node_size = sizeof(struct ejected_node),
	.status = ejected_status,
	.tick = ejected_tick,
	.title = ejected_title,
	.evidence = ejected_evidence,
	.summary = ejected_summary,
	.adoption_extra_ms = ejected_adoption_extra_ms,
};
