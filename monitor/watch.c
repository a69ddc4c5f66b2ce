/*
 * watch — see watch.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "impact.h"
#include "kind.h"
#include "log.h"
#include "nodestats.h"
#include "watch.h"

#define FINGERPRINT_MAX ILOG_FINGERPRINT_MAX
#define SUMMARY_MAX 300 /* a resolve message */

/* --- set-up -------------------------------------------------------------------------- */

/* Frees the kinds' state of n (what node_init made of it). */
static void
node_release(struct watch *w, struct watch_node *n)
{
	size_t k;

	for (k = 0; k < KINDS_MAX; k++) {
		if (n->kind_state[k] == NULL)
			continue;
		if (w->ops[k]->node_release != NULL)
			w->ops[k]->node_release(n->kind_state[k]);
		free(n->kind_state[k]);
		n->kind_state[k] = NULL;
	}
}

static int
node_init(struct watch *w, struct watch_node *n, const struct cluster_node *cn, char *err,
    size_t errlen)
{
	const struct cluster *c = &w->cfg->clusters.v[cn->cluster];
	size_t i;

	snprintf(n->name, sizeof(n->name), "%s", cn->name);
	snprintf(n->cluster_name, sizeof(n->cluster_name), "%s", c->name);
	n->cluster = cn->cluster;
	n->role = cn->role;
	n->has_admin = cn->admin.port != 0;
	n->takes_clients = cluster_takes_clients(&w->cfg->clusters, cn);
	for (i = 0; i < w->nkinds; i++) {
		const struct kind_ops *ops = w->ops[w->order[i]];
		void *state = calloc(1, ops->node_size);
		if (state == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out_release;
		}
		if (ops->node_init != NULL && ops->node_init(state, w->cfg, err, errlen) < 0) {
			free(state);
			goto out_release;
		}
		n->kind_state[w->order[i]] = state;
	}
	if (histogram_init(&n->latency, w->export_bounds, w->nexport, err, errlen) < 0 ||
	    histogram_init(&n->recent, w->export_bounds, w->nexport, err, errlen) < 0)
		goto out_release;
	return 0;
out_release:
	node_release(w, n);
	return -1;
}

int
watch_init(struct watch *w, const struct monconfig *cfg, struct ilog *log, char *err,
    size_t errlen)
{
	const struct clusters *cl = &cfg->clusters;
	uint64_t threshold = cfg->detect.tail_threshold_us;
	size_t i, k, made = 0;
	int nkinds;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->log = log;
	w->wall_ms = clock_wall_ms;
	if ((nkinds = kind_registry(w->ops, w->order, err, errlen)) < 0)
		return -1;
	w->nkinds = (size_t)nkinds;
	if (histogram_export_bounds(&threshold, 1, w->export_bounds, HISTOGRAM_BOUNDS_MAX,
	    &w->nexport, err, errlen) < 0)
		return -1;
	if (histogram_init(&w->poll_duration, w->export_bounds, w->nexport, err, errlen) < 0)
		return -1;
	w->clusters = calloc(cl->n > 0 ? cl->n : 1, sizeof(*w->clusters));
	w->nodes = calloc(cl->nnodes > 0 ? cl->nnodes : 1, sizeof(*w->nodes));
	if (w->clusters == NULL || w->nodes == NULL)
		goto out_nomem;
	w->nclusters = cl->n;
	for (i = 0; i < cl->n; i++) {
		struct watch_cluster *c = &w->clusters[i];
		snprintf(c->name, sizeof(c->name), "%s", cl->v[i].name);
		snprintf(c->title, sizeof(c->title), "%s", cl->v[i].title);
		if (cl->v[i].nnodes > 0 &&
		    (c->nodes = calloc(cl->v[i].nnodes, sizeof(*c->nodes))) == NULL)
			goto out_nomem;
	}
	for (i = 0; i < cl->nnodes; i++) {
		struct watch_node *n = &w->nodes[i];
		struct watch_cluster *c = &w->clusters[cl->nodes[i].cluster];
		if (node_init(w, n, &cl->nodes[i], err, errlen) < 0)
			goto out_fail;
		made++;
		n->position = c->nnodes;
		c->nodes[c->nnodes++] = n;
	}
	w->nnodes = cl->nnodes;
	for (i = 0; i < w->nclusters; i++) {
		struct watch_cluster *c = &w->clusters[i];
		for (k = 0; k < kinds_count(); k++) {
			/* clusters_load refuses a cluster without nodes; keep the detector
			 * valid. */
			if (kinds_at(k)->scope == KIND_SCOPE_CLUSTER &&
			    detect_cluster_init(&c->episode[k], c->nnodes > 0 ? c->nnodes : 1, err,
			    errlen) < 0)
				goto out_fail;
		}
	}
	return 0;
out_nomem:
	snprintf(err, errlen, "out of memory");
out_fail:
	w->nnodes = made;
	watch_release(w);
	return -1;
}

void
watch_release(struct watch *w)
{
	size_t i;

	for (i = 0; i < w->nnodes; i++)
		node_release(w, &w->nodes[i]);
	for (i = 0; w->clusters != NULL && i < w->nclusters; i++)
		free(w->clusters[i].nodes);
	free(w->clusters);
	free(w->nodes);
	memset(w, 0, sizeof(*w));
}

struct watch_node *
watch_find_node(struct watch *w, const char *cluster, const char *node)
{
	size_t i;

	for (i = 0; i < w->nnodes; i++) {
		if (strcmp(w->nodes[i].name, node) == 0 &&
		    strcmp(w->nodes[i].cluster_name, cluster) == 0)
			return &w->nodes[i];
	}
	return NULL;
}

static struct watch_cluster *
find_cluster(struct watch *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nclusters; i++) {
		if (strcmp(w->clusters[i].name, name) == 0)
			return &w->clusters[i];
	}
	return NULL;
}

const struct detect_status *
watch_node_status(const struct watch *w, const struct watch_node *n, size_t k)
{
	return w->ops[k]->status(n->kind_state[k]);
}

/* --- polls --------------------------------------------------------------------------- */

static bool
token_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(p, word, n) == 0;
}

unsigned
watch_node_parts(const struct watch_node *n)
{
	return (n->role == CLUSTER_PROXY ? NODESTATS_PART_PROXY : 0u) |
	    (n->takes_clients ? NODESTATS_PART_ACCOUNTING : 0u);
}

void
watch_poll(struct watch *w, struct watch_node *n, const char *reply, size_t len,
    int64_t duration_us, int64_t now_ms)
{
	struct nodestats st;
	char error[WATCH_ERROR_MAX];
	size_t i;

	if (nodestats_parse(&st, reply, len, watch_node_parts(n), error, sizeof(error)) < 0) {
		watch_poll_failed(w, n, error, now_ms);
		return;
	}
	n->stats = st;
	if (n->takes_clients)
		who_node_poll(&n->who, &n->stats, now_ms);
	n->polls++;
	n->polled = true;
	n->poll_ok = true;
	n->poll_error[0] = '\0';
	histogram_record(&w->poll_duration, duration_us > 0 ? (uint64_t)duration_us : 0);
	for (i = 0; i < w->nkinds; i++) {
		const struct kind_ops *ops = w->ops[w->order[i]];
		if (ops->poll != NULL)
			ops->poll(w, n, w->order[i], &n->stats, now_ms);
	}
}

void
watch_poll_failed(struct watch *w, struct watch_node *n, const char *error, int64_t now_ms)
{
	(void)w;
	(void)now_ms;
	n->polls++;
	n->polls_failed++;
	n->poll_ok = false;
	snprintf(n->poll_error, sizeof(n->poll_error), "%s", error);
}

/* --- probes -------------------------------------------------------------------------- */

void
watch_incident_latch(struct watch_incident *inc, enum detect_event ev,
    enum detect_severity severity)
{
	if (ev != DETECT_EVENT_OPENED && ev != DETECT_EVENT_WORSENED)
		return;
	inc->latched = true;
	if (severity > inc->latched_severity)
		inc->latched_severity = severity;
}

void
watch_probe(struct watch *w, struct watch_node *n, enum watch_probe_outcome outcome,
    uint64_t latency_us, const char *error, int64_t now_ms)
{
	size_t i;

	switch (outcome) {
	case WATCH_PROBE_OK:
		n->probes_ok++;
		n->last_probe_ok_wall_ms = w->wall_ms();
		histogram_record(&n->latency, latency_us);
		histogram_record(&n->recent, latency_us);
		break;
	case WATCH_PROBE_TIMEOUT:
		n->probes_timeout++;
		histogram_record(&n->latency, latency_us);
		histogram_record(&n->recent, latency_us);
		break;
	case WATCH_PROBE_FAILED:
		n->probes_failed++;
		break;
	}
	if (outcome != WATCH_PROBE_OK)
		snprintf(n->probe_error, sizeof(n->probe_error), "%s", error != NULL ? error : "");
	for (i = 0; i < w->nkinds; i++) {
		const struct kind_ops *ops = w->ops[w->order[i]];
		if (ops->probe != NULL)
			ops->probe(w, n, w->order[i], outcome, latency_us, now_ms);
	}
}

void
watch_probe_dropped(struct watch *w, struct watch_node *n)
{
	(void)w;
	n->probes_dropped++;
}

/* --- incidents ----------------------------------------------------------------------- */

static bool
is_cluster_kind(size_t k)
{
	return kinds_at(k)->scope == KIND_SCOPE_CLUSTER;
}

static struct watch_incident *
subject_incident(const struct kind_subject *s)
{
	return is_cluster_kind(s->kind) ? &s->cluster->incident[s->kind] :
					  &s->node->incident[s->kind];
}

/* The cluster episode behind a cluster's incident; NULL for a node's own. */
static struct detect_cluster *
subject_episode(const struct kind_subject *s)
{
	return is_cluster_kind(s->kind) ? &s->cluster->episode[s->kind] : NULL;
}

/* "kind:cluster" for a cluster's kind, "kind:cluster:node" for a node's. */
static void
fingerprint(const struct kind_subject *s, char *buf, size_t len)
{
	const char *name = kinds_at(s->kind)->name;

	if (s->node == NULL)
		snprintf(buf, len, "%s:%s", name, s->cluster->name);
	else
		snprintf(buf, len, "%s:%s:%s", name, s->cluster->name, s->node->name);
}

/* How much of the cluster's customers the incident touches (impact.h): {"tenants",
 * "of", "percent"}, counts only; NULL when unknown. The nodes involved: a node's own
 * incident's node, or those taking part in a cluster's episode. */
static json_t *
impact_evidence(const struct kind_subject *s)
{
	struct impact_node nodes[DETECT_CLUSTER_NODES_MAX];
	const struct detect_cluster *episode = subject_episode(s);
	const struct cluster *c = clusters_find(&s->cfg->clusters, s->cluster->name);
	const char *ignore[2] = { NULL, NULL }; /* the monitor's own accounts */
	struct impact im;
	size_t i, n = 0;

	if (c != NULL) {
		ignore[0] = c->admin.set ? c->admin.user : NULL;
		ignore[1] = c->probe.set ? c->probe.user : NULL;
	}
	for (i = 0; i < s->cluster->nnodes && n < DETECT_CLUSTER_NODES_MAX; i++, n++) {
		const struct watch_node *nd = s->cluster->nodes[i];

		nodes[n].stats = &nd->stats;
		nodes[n].takes_clients = nd->takes_clients;
		nodes[n].affected = episode != NULL ? i < episode->nnodes && episode->involved[i] :
		    nd == s->node;
	}
	impact_compute(nodes, n, ignore, 2, &im);
	if (!im.known)
		return NULL;
	return json_pack("{s:I, s:I, s:i}", "tenants", (json_int_t)im.tenants, "of",
	    (json_int_t)im.of, "percent", im.percent);
}

/* The evidence as JSON text (malloc'd), with `note` when given; NULL on no memory. */
static char *
evidence(struct watch *w, const struct kind_subject *s, const char *note)
{
	json_t *o = w->ops[s->kind]->evidence(s), *impact;
	char *text;

	if (o == NULL)
		return NULL;
	if ((impact = impact_evidence(s)) != NULL)
		json_object_set_new(o, "impact", impact);
	if (note != NULL)
		json_object_set_new(o, "note", json_string(note));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static enum ilog_severity
to_ilog(enum detect_severity s)
{
	switch (s) {
	case DETECT_SEVERITY_CRITICAL: return ILOG_SEVERITY_CRITICAL;
	case DETECT_SEVERITY_MAJOR: return ILOG_SEVERITY_MAJOR;
	case DETECT_SEVERITY_MINOR:
	case DETECT_SEVERITY_NONE: break;
	}
	return ILOG_SEVERITY_MINOR;
}

static void
log_failure(struct watch *w, const char *what, const char *fp, const char *err)
{
	w->incident_errors++;
	LOG_LIMITED(LOG_LEVEL_ERR, "incident log: %s %s: %s (retried at the next evaluation)",
	    what, fp, err);
}

static int
append_evidence(struct watch *w, const struct kind_subject *s, struct watch_incident *inc,
    const char *note, int64_t now_ms)
{
	char err[ILOG_ERR_LEN], fp[FINGERPRINT_MAX + 1];
	char *body = evidence(w, s, note);
	enum ilog_status rc;

	fingerprint(s, fp, sizeof(fp));
	if (body == NULL) {
		log_failure(w, "evidence of", fp, "out of memory");
		return -1;
	}
	rc = ilog_event_append(w->log, inc->id, WATCH_ACTOR, ILOG_EV_EVIDENCE, body, NULL, err,
	    sizeof(err));
	free(body);
	if (rc != ILOG_OK) {
		log_failure(w, "evidence of", fp, err);
		return -1;
	}
	w->events_written++;
	inc->last_evidence_ms = now_ms;
	if (subject_episode(s) != NULL) {
		inc->involved_written = subject_episode(s)->evidence.involved;
		inc->returns_written = subject_episode(s)->evidence.returns;
	}
	return 0;
}

/* Open-or-update by fingerprint at severity; writes opened or severity events. */
static int
upsert(struct watch *w, const struct kind_subject *s, struct watch_incident *inc,
    enum ilog_severity severity, int64_t now_ms, bool *created)
{
	char fp[FINGERPRINT_MAX + 1], ttl[ILOG_TITLE_MAX + 1], err[ILOG_ERR_LEN];
	struct ilog_incident_spec spec;
	struct ilog_upsert_result res;
	char *body = evidence(w, s, NULL);
	enum ilog_status rc;

	fingerprint(s, fp, sizeof(fp));
	w->ops[s->kind]->title(s, ttl, sizeof(ttl));
	memset(&spec, 0, sizeof(spec));
	spec.fingerprint = fp;
	spec.kind = kinds_at(s->kind)->name;
	spec.cluster = s->cluster->name;
	spec.node = s->node != NULL ? s->node->name : NULL;
	spec.severity = severity;
	spec.title = ttl;
	spec.evidence_json = body;
	rc = ilog_incident_upsert(w->log, &spec, WATCH_ACTOR, &res, err, sizeof(err));
	free(body);
	if (rc != ILOG_OK) {
		log_failure(w, "open-or-update", fp, err);
		return -1;
	}
	if (res.event_id != 0)
		w->events_written++;
	*created = res.created;
	if (res.created) {
		w->incidents_opened++;
		log_info("incident %lld opened: %s (%s)", (long long)res.id, ttl,
		    ilog_severity_name(severity));
	} else if (res.raised) {
		log_info("incident %lld: severity %s -> %s", (long long)res.id,
		    ilog_severity_name(res.previous), ilog_severity_name(severity));
	}
	inc->id = res.id;
	inc->severity = res.previous > severity && !res.created ? res.previous : severity;
	inc->closed_elsewhere = false;
	if (subject_episode(s) != NULL && res.event_id != 0) {
		inc->involved_written = subject_episode(s)->evidence.involved;
		inc->returns_written = subject_episode(s)->evidence.returns;
	}
	return 0;
}

static int
resolve(struct watch *w, const struct kind_subject *s, struct watch_incident *inc,
    const char *message)
{
	char err[ILOG_ERR_LEN], fp[FINGERPRINT_MAX + 1];
	enum ilog_status rc;

	fingerprint(s, fp, sizeof(fp));
	rc = ilog_incident_resolve(w->log, inc->id, WATCH_ACTOR, message, NULL, err, sizeof(err));
	/* Resolved (or removed) by someone else meanwhile: nothing left to do. */
	if (rc != ILOG_OK && rc != ILOG_ERR_STATE && rc != ILOG_ERR_NOT_FOUND) {
		log_failure(w, "resolve", fp, err);
		return -1;
	}
	if (rc == ILOG_OK) {
		w->events_written++;
		w->incidents_resolved++;
		log_info("incident %lld resolved: %s", (long long)inc->id, message);
	}
	memset(inc, 0, sizeof(*inc));
	return 0;
}

/* Whether someone else resolved the incident while the condition lasts. */
static bool
resolved_elsewhere(struct watch *w, struct watch_incident *inc)
{
	struct ilog_incident row;
	char err[ILOG_ERR_LEN];
	enum ilog_status rc = ilog_incident_get(w->log, inc->id, &row, err, sizeof(err));

	if (rc == ILOG_ERR_NOT_FOUND)
		return true;
	return rc == ILOG_OK && row.state == ILOG_STATE_RESOLVED;
}

/*
 * One step of an incident towards its detector's verdict (see watch.h): active and
 * severity from the detector (latches included), news for an episode that reached
 * another node.
 */
static void
reconcile(struct watch *w, const struct kind_subject *s, bool active, enum detect_severity sev,
    int64_t now_ms)
{
	struct watch_incident *inc = subject_incident(s);
	/* An advisory (lib/kinds.h) tells; it is never more than minor, however many
	 * nodes see it (the cluster's rule raises a spread episode's severity). */
	enum ilog_severity severity = kinds_at(s->kind)->advisory && sev > DETECT_SEVERITY_MINOR ?
	    to_ilog(DETECT_SEVERITY_MINOR) : to_ilog(sev);
	const struct monconfig_settings *set = &w->cfg->set;
	const struct detect_cluster *episode = subject_episode(s);
	char message[SUMMARY_MAX];
	bool created = false, news;

	/* The episode forgets its nodes when it ends; the incident resolves later. */
	if (episode != NULL && episode->evidence.involved > inc->involved)
		inc->involved = episode->evidence.involved;
	if (episode != NULL && episode->evidence.peak_in_storm > inc->peak)
		inc->peak = episode->evidence.peak_in_storm;

	switch (inc->phase) {
	case WATCH_NONE:
		if (!active)
			return;
		if (upsert(w, s, inc, severity, now_ms, &created) < 0)
			return;
		inc->phase = WATCH_OPEN;
		inc->adopted = false;
		append_evidence(w, s, inc, created ? NULL : "continued", now_ms);
		return;
	case WATCH_OPEN:
		if (!active) {
			inc->phase = WATCH_HOLDING;
			inc->hold_since_ms = now_ms;
			inc->hold_ms = set->resolve_hold_ms;
			break; /* a zero hold resolves at once, below */
		}
		if (severity > inc->severity) {
			/* A raise; or, when someone resolved it meanwhile, a new incident. */
			if (upsert(w, s, inc, severity, now_ms, &created) == 0 && created)
				append_evidence(w, s, inc, NULL, now_ms);
			return;
		}
		if (inc->closed_elsewhere)
			return;
		/* News: a node joined, or one that had left took part again (the
		 * participants' times change: a storm hopping back is evidence too). */
		news = subject_episode(s) != NULL &&
		    (subject_episode(s)->evidence.involved > inc->involved_written ||
		    subject_episode(s)->evidence.returns > inc->returns_written);
		if (!news && (set->evidence_interval_ms == 0 ||
		    now_ms - inc->last_evidence_ms < set->evidence_interval_ms))
			return;
		if (resolved_elsewhere(w, inc)) {
			/* Not ours to reopen: only a worsening opens a new one. */
			inc->closed_elsewhere = true;
			return;
		}
		append_evidence(w, s, inc, news ? "spread" : "lasting", now_ms);
		return;
	case WATCH_HOLDING:
		if (!active)
			break;
		if (resolved_elsewhere(w, inc)) {
			/* Resolved by someone else during the hold: it is back, so it is
			 * a new incident. */
			memset(inc, 0, sizeof(*inc));
			reconcile(w, s, active, sev, now_ms);
			return;
		}
		{
			bool was_adopted = inc->adopted;
			inc->phase = WATCH_OPEN;
			inc->adopted = false;
			if (severity > inc->severity &&
			    upsert(w, s, inc, severity, now_ms, &created) < 0)
				return;
			append_evidence(w, s, inc, was_adopted ? "seen again after a restart" :
			    "fired again", now_ms);
		}
		return;
	}
	if (inc->phase == WATCH_HOLDING && now_ms - inc->hold_since_ms >= inc->hold_ms) {
		if (inc->adopted)
			snprintf(message, sizeof(message),
			    "cleared: not seen again after the monitor restarted");
		else
			w->ops[s->kind]->summary(s, inc, message, sizeof(message));
		resolve(w, s, inc, message);
	}
}

/* Takes the latch of an incident: whether it fired since the last evaluation. */
static void
take_latch(struct watch_incident *inc, bool *active, enum detect_severity *sev)
{
	if (inc->latched) {
		*active = true;
		if (inc->latched_severity > *sev)
			*sev = inc->latched_severity;
	}
	inc->latched = false;
	inc->latched_severity = DETECT_SEVERITY_NONE;
}

/*
 * A cluster's episode of kind k from its nodes' statuses, and its incident brought in
 * line.
 */
static void
episode_step(struct watch *w, struct watch_cluster *c, size_t k, int64_t now_ms)
{
	struct detect_status statuses[DETECT_CLUSTER_NODES_MAX];
	const struct kind_ops *ops = w->ops[k];
	struct kind_subject s = { k, c, NULL, now_ms, w->wall_ms(), w->cfg };
	struct detect_cluster *d = &c->episode[k];
	struct watch_incident *inc = &c->incident[k];
	enum detect_event ev;
	enum detect_severity sev;
	bool active;
	size_t j;

	for (j = 0; j < c->nnodes && j < DETECT_CLUSTER_NODES_MAX; j++)
		statuses[j] = ops->episode_member(w, c->nodes[j], k);
	ev = detect_cluster_update(d, ops->episode_grace_ms(w->cfg), statuses, now_ms);
	active = detect_status_open(&d->status);
	sev = d->status.severity;
	watch_incident_latch(inc, ev, sev);
	take_latch(inc, &active, &sev);
	reconcile(w, &s, active, sev, now_ms);
}

/* A node's incident of kind k, brought in line with its detector. */
static void
node_step(struct watch *w, struct watch_node *n, size_t k, int64_t now_ms)
{
	struct kind_subject s = { k, &w->clusters[n->cluster], n, now_ms, w->wall_ms(), w->cfg };
	const struct detect_status *st = watch_node_status(w, n, k);
	bool active = detect_status_open(st);
	enum detect_severity sev = st->severity;

	take_latch(&n->incident[k], &active, &sev);
	reconcile(w, &s, active, sev, now_ms);
}

void
watch_evaluate(struct watch *w, int64_t now_ms)
{
	size_t i, j, k;

	for (j = 0; j < w->nnodes; j++) {
		for (i = 0; i < w->nkinds; i++) {
			k = w->order[i];
			if (w->ops[k]->tick != NULL)
				w->ops[k]->tick(w, &w->nodes[j], k, now_ms);
		}
	}
	for (i = 0; i < w->nkinds; i++) {
		k = w->order[i];
		if (is_cluster_kind(k)) {
			for (j = 0; j < w->nclusters; j++) {
				if (w->clusters[j].nnodes > 0)
					episode_step(w, &w->clusters[j], k, now_ms);
			}
		} else {
			for (j = 0; j < w->nnodes; j++)
				node_step(w, &w->nodes[j], k, now_ms);
		}
	}
}

/* --- adoption and reload --------------------------------------------------------------- */

/* How long kind k's detector needs to see its condition again from a standing start. */
static int64_t
adoption_hold(const struct watch *w, size_t k)
{
	const struct monconfig_settings *set = &w->cfg->set;

	return set->resolve_hold_ms + set->evaluate_interval_ms +
	    w->ops[k]->adoption_extra_ms(w->cfg);
}

/*
 * Parses "kind:cluster[:node]" of our kinds: a cluster's kind without a node, a node's
 * with one, and a cluster's kind with one when that kind says older versions raised it
 * per node (resolved as superseded).
 */
static bool
parse_fingerprint(const struct watch *w, const char *fp, size_t *kind, char *cluster,
    char *node)
{
	const char *p, *q;
	size_t k, klen;

	p = strchr(fp, ':');
	if (p == NULL)
		return false;
	klen = (size_t)(p - fp);
	for (k = 0; k < kinds_count(); k++) {
		if (token_is(fp, klen, kinds_at(k)->name))
			break;
	}
	if (k == kinds_count())
		return false;
	*kind = k;
	p++;
	q = strchr(p, ':');
	node[0] = '\0';
	if ((size_t)((q != NULL ? q : p + strlen(p)) - p) > CLUSTER_NAME_MAX)
		return false;
	snprintf(cluster, CLUSTER_NAME_MAX + 1, "%.*s", (int)((q != NULL ? q : p + strlen(p)) - p),
	    p);
	if (q != NULL) {
		if (strlen(q + 1) > CLUSTER_NAME_MAX || strchr(q + 1, ':') != NULL)
			return false;
		snprintf(node, CLUSTER_NAME_MAX + 1, "%s", q + 1);
	}
	if (is_cluster_kind(k) ? q != NULL && w->ops[k]->superseded_per_node == NULL : q == NULL)
		return false;
	return cluster_name_valid(cluster) && (q == NULL || cluster_name_valid(node));
}

static void
resolve_with(struct watch *w, int64_t id, const char *message)
{
	char err[ILOG_ERR_LEN];
	enum ilog_status rc;

	rc = ilog_incident_resolve(w->log, id, WATCH_ACTOR, message, NULL, err, sizeof(err));
	if (rc == ILOG_OK) {
		w->events_written++;
		w->incidents_resolved++;
		log_info("incident %lld resolved: %s", (long long)id, message);
	} else if (rc != ILOG_ERR_STATE && rc != ILOG_ERR_NOT_FOUND) {
		w->incident_errors++;
		log_err("incident log: resolve %lld: %s", (long long)id, err);
	}
}

static void
resolve_unwatched(struct watch *w, int64_t id, const char *what)
{
	char message[SUMMARY_MAX];

	snprintf(message, sizeof(message), "no longer watched: %s is not in the configuration",
	    what);
	resolve_with(w, id, message);
}

int
watch_adopt(struct watch *w, int64_t now_ms, char *err, size_t errlen)
{
	struct ilog_query q;
	struct ilog_incidents list = { 0 };
	char cluster[CLUSTER_NAME_MAX + 1], node[CLUSTER_NAME_MAX + 1], what[200];
	size_t i, kind;

	memset(&q, 0, sizeof(q));
	q.states = ILOG_STATES_UNRESOLVED;
	if (ilog_incident_list(w->log, &q, &list, err, errlen) != ILOG_OK)
		return -1;
	for (i = 0; i < list.n; i++) {
		const struct ilog_incident *row = &list.v[i];
		struct kind_subject s;
		struct watch_incident *inc;

		if (!parse_fingerprint(w, row->fingerprint, &kind, cluster, node))
			continue; /* not one of ours */
		if (is_cluster_kind(kind) && node[0] != '\0') {
			snprintf(what, sizeof(what), w->ops[kind]->superseded_per_node, cluster);
			resolve_with(w, row->id, what);
			continue;
		}
		s.kind = kind;
		s.cluster = find_cluster(w, cluster);
		s.node = node[0] != '\0' ? watch_find_node(w, cluster, node) : NULL;
		if (s.cluster == NULL || (node[0] != '\0' && s.node == NULL)) {
			if (node[0] != '\0')
				snprintf(what, sizeof(what), "node %s of cluster %s", node, cluster);
			else
				snprintf(what, sizeof(what), "cluster %s", cluster);
			resolve_unwatched(w, row->id, what);
			continue;
		}
		inc = subject_incident(&s);
		if (inc->phase != WATCH_NONE)
			continue;
		memset(inc, 0, sizeof(*inc));
		inc->phase = WATCH_HOLDING;
		inc->id = row->id;
		inc->severity = row->severity;
		inc->hold_since_ms = now_ms;
		inc->hold_ms = adoption_hold(w, kind);
		inc->last_evidence_ms = now_ms;
		inc->adopted = true;
		log_info("incident %lld (%s) taken over; resolved unless seen again within %lld ms",
		    (long long)row->id, row->fingerprint, (long long)inc->hold_ms);
	}
	ilog_incidents_release(&list);
	return 0;
}

static bool
same_members(const struct watch_cluster *a, const struct watch_cluster *b)
{
	size_t i;

	if (a->nnodes != b->nnodes)
		return false;
	for (i = 0; i < a->nnodes; i++) {
		if (strcmp(a->nodes[i]->name, b->nodes[i]->name) != 0)
			return false;
	}
	return true;
}

/* old's incident of a node or cluster that is gone, resolved in old's log. */
static void
resolve_removed(struct watch *old, struct watch_incident *inc, const char *what)
{
	if (inc->phase != WATCH_NONE && !inc->closed_elsewhere)
		resolve_unwatched(old, inc->id, what);
	memset(inc, 0, sizeof(*inc));
}

/*
 * Moves old's incident into w's place, or, when w writes to another incident log
 * (where the same id is another incident), resolves it in old's log: the detector
 * keeps its state, and w opens the incident again in its own log if the condition
 * lasts.
 */
static void
move_incident(struct watch *w, struct watch_incident *to, struct watch *old,
    struct watch_incident *from)
{
	if (w->log == old->log)
		*to = *from;
	else if (from->phase != WATCH_NONE && !from->closed_elsewhere)
		resolve_with(old, from->id, "no longer watched here: the monitor writes to "
		    "another incident log now");
	memset(from, 0, sizeof(*from));
}

void
watch_take_over(struct watch *w, struct watch *old, int64_t now_ms)
{
	bool same_bounds = w->nexport == old->nexport &&
	    memcmp(w->export_bounds, old->export_bounds, w->nexport * sizeof(uint64_t)) == 0;
	char what[200], err[ILOG_ERR_LEN];
	size_t i, j, k;
	void *fresh;

	for (i = 0; i < old->nnodes; i++) {
		struct watch_node *o = &old->nodes[i];
		struct watch_node *n = watch_find_node(w, o->cluster_name, o->name);

		if (n == NULL) {
			snprintf(what, sizeof(what), "node %s of cluster %s", o->name,
			    o->cluster_name);
			for (j = 0; j < w->nkinds; j++) {
				if (!is_cluster_kind(w->order[j]))
					resolve_removed(old, &o->incident[w->order[j]], what);
			}
			continue;
		}
		for (j = 0; j < w->nkinds; j++) {
			k = w->order[j];
			/* Swap, so that each watch releases the state it ends up with. */
			if (w->ops[k]->node_keeps == NULL ||
			    w->ops[k]->node_keeps(w->cfg, old->cfg)) {
				fresh = n->kind_state[k];
				n->kind_state[k] = o->kind_state[k];
				o->kind_state[k] = fresh;
			}
			if (!is_cluster_kind(k))
				move_incident(w, &n->incident[k], old, &o->incident[k]);
		}
		n->polled = o->polled;
		n->poll_ok = o->poll_ok;
		memcpy(n->poll_error, o->poll_error, sizeof(n->poll_error));
		n->stats = o->stats;
		if (n->takes_clients == o->takes_clients)
			n->who = o->who;
		n->polls = o->polls;
		n->polls_failed = o->polls_failed;
		n->probes_ok = o->probes_ok;
		n->probes_timeout = o->probes_timeout;
		n->probes_failed = o->probes_failed;
		n->probes_dropped = o->probes_dropped;
		memcpy(n->probe_error, o->probe_error, sizeof(n->probe_error));
		n->last_probe_ok_wall_ms = o->last_probe_ok_wall_ms;
		if (same_bounds)
			n->latency = o->latency;
	}
	for (i = 0; i < old->nclusters; i++) {
		struct watch_cluster *o = &old->clusters[i];
		struct watch_cluster *c = find_cluster(w, o->name);

		if (c == NULL) {
			snprintf(what, sizeof(what), "cluster %s", o->name);
			for (j = 0; j < w->nkinds; j++) {
				if (is_cluster_kind(w->order[j]))
					resolve_removed(old, &o->incident[w->order[j]], what);
			}
			continue;
		}
		for (j = 0; j < w->nkinds; j++) {
			k = w->order[j];
			if (!is_cluster_kind(k))
				continue;
			move_incident(w, &c->incident[k], old, &o->incident[k]);
			if (same_members(c, o))
				c->episode[k] = o->episode[k];
		}
	}
	if (same_bounds)
		w->poll_duration = old->poll_duration;
	w->incident_errors = old->incident_errors;
	w->incidents_opened = old->incidents_opened;
	w->incidents_resolved = old->incidents_resolved;
	w->events_written = old->events_written;
	/* Another log: what an earlier run left open there is ours, as at a start. */
	if (w->log != old->log && watch_adopt(w, now_ms, err, sizeof(err)) < 0) {
		w->incident_errors++;
		log_err("incident log: cannot take over its open incidents: %s", err);
	}
}

/* --- the view for mctl status ------------------------------------------------------ */

static void
word(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static void
detector_words(const struct detect_status *st, struct monstate_detector *d)
{
	word(d->state, sizeof(d->state), detect_state_name(st->state));
	word(d->severity, sizeof(d->severity), detect_severity_name(st->severity));
}

/* A proxy's own figures; a backend's tail as its proxies see it. */
static void
snapshot_tiers(const struct watch *w, const struct watch_node *n, struct monstate_node *mn)
{
	const struct detect_tail *proxied = kind_tail_proxied(n);
	json_t *down;

	mn->proxy_role = n->role == CLUSTER_PROXY;
	if (n->stats.is_proxy) {
		mn->has_proxy = true;
		mn->proxy.backends = n->stats.proxy.backends;
		mn->proxy.backends_up = n->stats.proxy.backends_up;
		mn->proxy.client_connections = n->stats.proxy.client_connections;
		mn->proxy.requests = n->stats.proxy.requests;
		mn->proxy.fast_failures = n->stats.proxy.fast_failures;
		mn->proxy.timeouts = n->stats.proxy.timeouts;
		mn->proxy.queue_refusals = n->stats.proxy.queue_refusals;
	}
	if (proxied != NULL) {
		mn->has_via_proxies = true;
		mn->via_proxies.replies = proxied->evidence.short_count;
		mn->via_proxies.slow_fraction = proxied->evidence.short_fraction;
		down = kind_ejected_by(&w->clusters[n->cluster], n);
		mn->via_proxies.proxies_down = json_array_size(down);
		json_decref(down);
	}
}

/* The sentences of a cluster's open incident of kind k, from its evidence now. */
static void
sentences(const struct watch *w, const struct watch_cluster *c, size_t k,
    struct monstate_episode *e)
{
	struct kind_subject s = { k, (struct watch_cluster *)c, NULL, 0, w->wall_ms(), w->cfg };
	json_t *ev = w->ops[k]->evidence(&s), *v;

	if (ev == NULL)
		return;
	if (json_is_string(v = json_object_get(ev, "finding")))
		word(e->finding, sizeof(e->finding), json_string_value(v));
	if (json_is_string(v = json_object_get(ev, "remedy")))
		word(e->remedy, sizeof(e->remedy), json_string_value(v));
	json_decref(ev);
}

int
watch_snapshot(const struct watch *w, struct monstate *st, int64_t interval_ms, char *err,
    size_t errlen)
{
	size_t i, k;

	if (monstate_alloc(st, w->nclusters, w->nnodes, err, errlen) < 0)
		return -1;
	st->written_at = w->wall_ms();
	st->pid = 0;
	st->interval_ms = interval_ms;
	st->tail_threshold_us = w->cfg->detect.tail_threshold_us;
	for (i = 0; i < w->nclusters; i++) {
		const struct watch_cluster *c = &w->clusters[i];
		struct monstate_cluster *mc = &st->clusters[i];
		word(mc->name, sizeof(mc->name), c->name);
		word(mc->title, sizeof(mc->title), c->title);
		for (k = 0; k < kinds_count(); k++) {
			const struct detect_cluster *d = &c->episode[k];
			struct monstate_episode *e = &mc->kinds[k];
			if (!is_cluster_kind(k))
				continue;
			detector_words(&d->status, &e->detector);
			if (kinds_at(k)->advisory && d->status.severity > DETECT_SEVERITY_MINOR)
				word(e->detector.severity, sizeof(e->detector.severity),
				    detect_severity_name(DETECT_SEVERITY_MINOR)); /* as its incident */
			/* The episode counts "in storm" whatever its nodes detect. */
			e->in = d->evidence.in_storm;
			e->involved = d->evidence.involved;
			if (c->incident[k].phase == WATCH_OPEN)
				sentences(w, c, k, e);
		}
	}
	for (i = 0; i < w->nnodes; i++) {
		const struct watch_node *n = &w->nodes[i];
		struct monstate_node *mn = &st->nodes[i];
		const struct detect_storm *storm = kind_storm_detector(n);
		const struct detect_tail_evidence *te = &kind_tail_detector(n)->evidence;
		word(mn->name, sizeof(mn->name), n->name);
		word(mn->cluster, sizeof(mn->cluster), n->cluster_name);
		mn->up = !detect_status_open(&kind_down_detector(n)->status);
		mn->polled = n->polled;
		mn->poll_ok = n->poll_ok;
		snprintf(mn->poll_error, sizeof(mn->poll_error), "%s", n->poll_error);
		mn->connections = n->stats.curr_connections;
		mn->rate_known = storm->evidence.rate_known;
		mn->new_connections_per_second = storm->evidence.rate_known ?
		    storm->evidence.rate : 0.0;
		mn->probes = te->short_count;
		mn->p50_us = te->p50_us;
		mn->p99_us = te->p99_us;
		mn->slow_fraction = te->short_fraction;
		for (k = 0; k < kinds_count(); k++)
			detector_words(watch_node_status(w, n, k), &mn->kinds[k]);
		mn->last_probe_ok_at = n->last_probe_ok_wall_ms;
		snapshot_tiers(w, n, mn);
	}
	return 0;
}
