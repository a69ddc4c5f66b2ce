/*
 * kind — the registry of the kinds' operations (see kind.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kind.h"
#include "utctime.h"

#define EVIDENCE_KEY_MAX 48 /* "peak_in_<label>" */

/* In the order watch evaluates them: node down before latency tails, which leave a
 * down node out of their episode, and before ejections, which are a node's only while
 * it answers. */
static const struct kind_ops *const registry[] = {
	&kind_storm_ops,
	&kind_down_ops,
	&kind_ejected_ops,
	&kind_tail_ops,
	&kind_churn_ops,
};

#define NREGISTERED (sizeof(registry) / sizeof(registry[0]))

_Static_assert(NREGISTERED <= KINDS_MAX, "more kinds than KINDS_MAX");

/* Whether ops has every operation that watch calls without checking for NULL. */
static bool
complete(const struct kind_ops *ops, enum kind_scope scope)
{
	if (ops->node_size == 0 || ops->status == NULL || ops->title == NULL ||
	    ops->evidence == NULL || ops->summary == NULL || ops->adoption_extra_ms == NULL)
		return false;
	return scope != KIND_SCOPE_CLUSTER ||
	    (ops->episode_member != NULL && ops->episode_grace_ms != NULL);
}

int
kind_registry(const struct kind_ops *ops[KINDS_MAX], size_t order[KINDS_MAX], char *err,
    size_t errlen)
{
	size_t i;
	int k;

	memset(ops, 0, KINDS_MAX * sizeof(ops[0]));
	for (i = 0; i < NREGISTERED; i++) {
		k = kinds_index(registry[i]->name);
		if (k < 0 || ops[k] != NULL) {
			snprintf(err, errlen, "kind %s: %s", registry[i]->name,
			    k < 0 ? "not in the table of kinds (lib/kinds.c)" : "registered twice");
			return -1;
		}
		if (!complete(registry[i], kinds_at((size_t)k)->scope)) {
			snprintf(err, errlen, "kind %s: an operation it needs is missing (kind.h)",
			    registry[i]->name);
			return -1;
		}
		ops[k] = registry[i];
		order[i] = (size_t)k;
	}
	for (i = 0; i < kinds_count(); i++) {
		if (ops[i] == NULL) {
			snprintf(err, errlen, "kind %s: no operations in the monitor "
			    "(monitor/kind.c)", kinds_at(i)->name);
			return -1;
		}
	}
	return (int)NREGISTERED;
}

json_t *
kind_json_real(double v)
{
	return json_real(isfinite(v) ? v : 0.0);
}

json_t *
kind_json_count(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

const struct nodestats_backend *
kind_proxy_backend(const struct watch_node *p, const char *name)
{
	size_t i;

	if (p->role != CLUSTER_PROXY || !p->poll_ok)
		return NULL;
	for (i = 0; i < p->stats.nbackends; i++) {
		if (strcmp(p->stats.backends[i].name, name) == 0)
			return &p->stats.backends[i];
	}
	return NULL;
}

/* UTC ms of a monotonic time at or before the subject's now. */
static int64_t
wall_of(const struct kind_subject *s, int64_t mono_ms)
{
	return s->wall_ms - (s->now_ms - mono_ms);
}

/* The episode's nodes in the order they joined (ties: cluster order), with when. */
static json_t *
participants(const struct kind_subject *s)
{
	const struct watch_cluster *c = s->cluster;
	const struct detect_cluster *d = &c->episode[s->kind];
	json_t *list = json_array();
	bool done[DETECT_CLUSTER_NODES_MAX] = { false };
	char joined[UTC_TEXT_MAX], last[UTC_TEXT_MAX];
	size_t i, next;

	for (;;) {
		next = c->nnodes;
		for (i = 0; i < c->nnodes && i < DETECT_CLUSTER_NODES_MAX; i++) {
			if (d->involved[i] && !done[i] &&
			    (next == c->nnodes || d->joined_ms[i] < d->joined_ms[next]))
				next = i;
		}
		if (next == c->nnodes)
			return list;
		done[next] = true;
		utc_format_ms(wall_of(s, d->joined_ms[next]), joined, sizeof(joined));
		utc_format_ms(wall_of(s, d->last_seen_ms[next]), last, sizeof(last));
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:b}", "node",
		    c->nodes[next]->name, "role", cluster_role_word(c->nodes[next]->role),
		    "joined_at", joined, "last_at", last, "now",
		    d->evidence.in_storm > 0 && d->last_seen_ms[next] == d->last_storm_ms));
	}
}

json_t *
kind_episode_evidence(const struct kind_subject *s,
    json_t *(*node_json)(const struct watch_node *n, size_t k, bool involved))
{
	const struct watch_cluster *c = s->cluster;
	const struct detect_cluster *d = &c->episode[s->kind];
	const struct detect_cluster_evidence *e = &d->evidence;
	const char *label = kinds_at(s->kind)->label;
	char in[EVIDENCE_KEY_MAX], peak[EVIDENCE_KEY_MAX], state[EVIDENCE_KEY_MAX];
	json_t *involved = json_array(), *nodes = json_object(), *o;
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		if (d->involved[i])
			json_array_append_new(involved, json_string(c->nodes[i]->name));
		if ((o = node_json(c->nodes[i], s->kind, d->involved[i])) != NULL)
			json_object_set_new(nodes, c->nodes[i]->name, o);
	}
	snprintf(in, sizeof(in), "in_%s", label);
	snprintf(peak, sizeof(peak), "peak_in_%s", label);
	snprintf(state, sizeof(state), "%s_state", label);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:o}", "cluster", c->name,
	    "nodes", kind_json_count(e->nodes), in, kind_json_count(e->in_storm), peak,
	    kind_json_count(e->peak_in_storm), "involved", involved, "last_joined",
	    e->involved > 0 && e->last_joined < c->nnodes ? c->nodes[e->last_joined]->name : "",
	    state, detect_state_name(d->status.state), "participants", participants(s),
	    "node_evidence", nodes);
}
