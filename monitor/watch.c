/*
 * watch — see watch.h.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "mcconn.h"
#include "parse.h"
#include "watch.h"

#define FINGERPRINT_MAX ILOG_FINGERPRINT_MAX
#define SUMMARY_MAX 300 /* a resolve message */
#define LATENCY_TEXT_MAX 24

static const char *const tcp_states[WATCH_TCP_STATES] = {
	"established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
	"close", "close_wait", "last_ack", "listen", "closing", "new_syn_recv",
};

static const char *const listener_names[WATCH_LISTENERS] = { "client", "tls", "admin" };

const char *
watch_tcp_state_name(size_t i)
{
	return i < WATCH_TCP_STATES ? tcp_states[i] : "unknown";
}

const char *
watch_listener_name(enum watch_listener l)
{
	return (size_t)l < WATCH_LISTENERS ? listener_names[l] : "unknown";
}

static int64_t
default_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- set-up -------------------------------------------------------------------------- */

static int
node_init(struct watch *w, struct watch_node *n, const struct cluster_node *cn, char *err,
    size_t errlen)
{
	const struct cluster *c = &w->cfg->clusters.v[cn->cluster];

	snprintf(n->name, sizeof(n->name), "%s", cn->name);
	snprintf(n->cluster_name, sizeof(n->cluster_name), "%s", c->name);
	n->cluster = cn->cluster;
	n->has_admin = cn->admin.port != 0;
	detect_storm_init(&n->storm);
	detect_down_init(&n->down);
	if (detect_tail_init(&n->tail, &w->cfg->detect, err, errlen) < 0)
		return -1;
	if (histogram_init(&n->latency, w->export_bounds, w->nexport, err, errlen) < 0) {
		detect_tail_release(&n->tail);
		return -1;
	}
	return 0;
}

int
watch_init(struct watch *w, const struct monconfig *cfg, struct ilog *log, char *err,
    size_t errlen)
{
	const struct clusters *cl = &cfg->clusters;
	uint64_t threshold = cfg->detect.tail_threshold_us;
	size_t i, made = 0;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->log = log;
	w->wall_ms = default_wall_ms;
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
		/* clusters_load refuses a cluster without nodes; keep the detector valid. */
		if (detect_cluster_init(&c->detector, c->nnodes > 0 ? c->nnodes : 1, err,
		    errlen) < 0 ||
		    detect_cluster_init(&c->tail_detector, c->nnodes > 0 ? c->nnodes : 1, err,
		    errlen) < 0)
			goto out_fail;
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
		detect_tail_release(&w->nodes[i].tail);
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

/* --- polls --------------------------------------------------------------------------- */

static const struct {
	const char *name;
	size_t offset;
} stat_fields[] = {
	{ "uptime", offsetof(struct watch_stats, uptime) },
	{ "curr_connections", offsetof(struct watch_stats, curr_connections) },
	{ "total_connections", offsetof(struct watch_stats, total_connections) },
	{ "rejected_connections", offsetof(struct watch_stats, rejected_connections) },
	{ "max_connections", offsetof(struct watch_stats, max_connections) },
	{ "conn_yields", offsetof(struct watch_stats, conn_yields) },
	{ "listen_disabled_num", offsetof(struct watch_stats, listen_disabled_num) },
	{ "curr_items", offsetof(struct watch_stats, curr_items) },
	{ "bytes", offsetof(struct watch_stats, bytes) },
	{ "limit_maxbytes", offsetof(struct watch_stats, limit_maxbytes) },
	{ "evictions", offsetof(struct watch_stats, evictions) },
	{ "cmd_get", offsetof(struct watch_stats, cmd_get) },
	{ "cmd_set", offsetof(struct watch_stats, cmd_set) },
	{ "get_hits", offsetof(struct watch_stats, get_hits) },
	{ "get_misses", offsetof(struct watch_stats, get_misses) },
};

/* One "STAT name value" line: name and value, or false. */
static bool
split_stat(const char *line, size_t len, const char **name, size_t *nlen, const char **value,
    size_t *vlen)
{
	const char *sp;

	if (len < 5 || memcmp(line, "STAT ", 5) != 0)
		return false;
	*name = line + 5;
	sp = memchr(*name, ' ', len - 5);
	if (sp == NULL || sp == *name)
		return false;
	*nlen = (size_t)(sp - *name);
	*value = sp + 1;
	*vlen = len - 5 - *nlen - 1;
	return true;
}

static bool
token_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(p, word, n) == 0;
}

typedef void (*stat_fn)(struct watch_stats *st, const char *name, size_t nlen,
    const char *value, size_t vlen);

static void
general_stat(struct watch_stats *st, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++) {
		if (token_is(name, nlen, stat_fields[i].name)) {
			if (parse_u64_n(value, vlen, 0, UINT64_MAX, &v) == 0)
				*(uint64_t *)((char *)st + stat_fields[i].offset) = v;
			return;
		}
	}
}

/* listener:<kind>:<field>, host:<field>, kernel_not_accepted. */
static void
kernel_stat(struct watch_stats *st, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	const char *kind, *field, *colon;
	size_t klen, flen, i, l;
	uint64_t v;

	if (parse_u64_n(value, vlen, 0, UINT64_MAX, &v) < 0)
		return; /* addresses, the method's name */
	if (token_is(name, nlen, "kernel_not_accepted")) {
		st->not_accepted = v;
		st->has_kernel = true;
		return;
	}
	if (token_is(name, nlen, "host:listen_overflows")) {
		st->listen_overflows = v;
		st->host_known = true;
		return;
	}
	if (token_is(name, nlen, "host:listen_drops")) {
		st->listen_drops = v;
		return;
	}
	if (nlen < 9 || memcmp(name, "listener:", 9) != 0)
		return;
	kind = name + 9;
	colon = memchr(kind, ':', nlen - 9);
	if (colon == NULL)
		return;
	klen = (size_t)(colon - kind);
	field = colon + 1;
	flen = nlen - 9 - klen - 1;
	for (l = 0; l < WATCH_LISTENERS; l++) {
		if (!token_is(kind, klen, listener_names[l]))
			continue;
		st->listener[l].present = true;
		if (token_is(field, flen, "accept_queue")) {
			st->listener[l].accept_queue = v;
			return;
		}
		if (token_is(field, flen, "backlog")) {
			st->listener[l].backlog = v;
			return;
		}
		for (i = 0; i < WATCH_TCP_STATES; i++) {
			if (token_is(field, flen, tcp_states[i])) {
				st->listener[l].states[i] = v;
				return;
			}
		}
		return;
	}
}

static void
parse_block(struct watch_stats *st, const char *p, size_t len, stat_fn fn)
{
	const char *end = p + len, *nl, *name, *value;
	size_t llen, nlen, vlen;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (split_stat(p, llen, &name, &nlen, &value, &vlen))
			fn(st, name, nlen, value, vlen);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

void
watch_poll(struct watch *w, struct watch_node *n, const char *reply, size_t len,
    int64_t duration_us, int64_t now_ms)
{
	struct watch_stats st;
	struct detect_storm_sample sample;
	enum detect_event ev;
	size_t first, second;
	bool error_line;

	memset(&st, 0, sizeof(st));
	if (mcconn_frame(reply, len, MCCONN_REPLY_STATS, &first, &error_line) != 1 || error_line) {
		char error[WATCH_ERROR_MAX];
		int show = (int)(len > 100 ? 100 : len);
		while (show > 0 && (reply[show - 1] == '\n' || reply[show - 1] == '\r'))
			show--;
		snprintf(error, sizeof(error), "stats: %.*s", show, reply);
		watch_poll_failed(w, n, error, now_ms);
		return;
	}
	parse_block(&st, reply, first, general_stat);
	if (mcconn_frame(reply + first, len - first, MCCONN_REPLY_STATS, &second, &error_line) ==
	    1 && !error_line)
		parse_block(&st, reply + first, second, kernel_stat);

	n->stats = st;
	n->polls++;
	n->polled = true;
	n->poll_ok = true;
	n->poll_error[0] = '\0';
	histogram_record(&w->poll_duration, duration_us > 0 ? (uint64_t)duration_us : 0);

	memset(&sample, 0, sizeof(sample));
	sample.curr_connections = st.curr_connections;
	sample.total_connections = st.total_connections;
	sample.has_kernel = st.has_kernel;
	sample.accept_queue = st.not_accepted;
	sample.listen_overflows = st.listen_overflows;
	ev = detect_storm_update(&n->storm, &w->cfg->detect, &sample, now_ms);
	if (ev == DETECT_EVENT_OPENED || ev == DETECT_EVENT_WORSENED) {
		n->storm_latched = true;
		if (n->storm.status.severity > n->storm_latched_severity)
			n->storm_latched_severity = n->storm.status.severity;
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

static void
latch(struct watch_incident *inc, enum detect_event ev, enum detect_severity severity)
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
	const struct detect_config *dc = &w->cfg->detect;
	enum detect_event ev;

	switch (outcome) {
	case WATCH_PROBE_OK:
		n->probes_ok++;
		n->last_probe_ok_wall_ms = w->wall_ms();
		detect_tail_record(&n->tail, now_ms, latency_us);
		histogram_record(&n->latency, latency_us);
		break;
	case WATCH_PROBE_TIMEOUT:
		n->probes_timeout++;
		detect_tail_record(&n->tail, now_ms, latency_us);
		histogram_record(&n->latency, latency_us);
		break;
	case WATCH_PROBE_FAILED:
		n->probes_failed++;
		break;
	}
	if (outcome != WATCH_PROBE_OK)
		snprintf(n->probe_error, sizeof(n->probe_error), "%s", error != NULL ? error : "");
	ev = detect_down_probe(&n->down, dc, outcome == WATCH_PROBE_OK, now_ms);
	latch(&n->down_incident, ev, n->down.status.severity);
}

void
watch_probe_dropped(struct watch *w, struct watch_node *n)
{
	(void)w;
	n->probes_dropped++;
}

/* --- incidents ----------------------------------------------------------------------- */

enum subject_kind { SUBJECT_STORM, SUBJECT_TAIL, SUBJECT_DOWN };

/* What an incident is about. */
struct subject {
	enum subject_kind kind;
	struct watch_cluster *cluster;
	struct watch_node *node; /* NULL for a cluster's (storm, tail) */
};

static const char *
kind_name(enum subject_kind kind)
{
	switch (kind) {
	case SUBJECT_STORM: return WATCH_KIND_STORM;
	case SUBJECT_TAIL: return WATCH_KIND_TAIL;
	case SUBJECT_DOWN: return WATCH_KIND_DOWN;
	}
	return "unknown";
}

static struct watch_incident *
subject_incident(const struct subject *s)
{
	switch (s->kind) {
	case SUBJECT_STORM: return &s->cluster->storm_incident;
	case SUBJECT_TAIL: return &s->cluster->tail_incident;
	case SUBJECT_DOWN: return &s->node->down_incident;
	}
	return NULL;
}

/* The cluster episode behind a cluster-wide incident; NULL for a node's own. */
static struct detect_cluster *
subject_episode(const struct subject *s)
{
	switch (s->kind) {
	case SUBJECT_STORM: return &s->cluster->detector;
	case SUBJECT_TAIL: return &s->cluster->tail_detector;
	case SUBJECT_DOWN: break;
	}
	return NULL;
}

/* The worst tail among the cluster's nodes in the episode (for the title). */
static const struct watch_node *
worst_tail(const struct watch_cluster *c)
{
	const struct watch_node *worst = NULL;
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		const struct watch_node *n = c->nodes[i];
		if (!c->tail_detector.involved[i])
			continue;
		if (worst == NULL || n->tail.evidence.short_fraction > worst->tail.evidence.short_fraction)
			worst = n;
	}
	return worst;
}

static void
fingerprint(const struct subject *s, char *buf, size_t len)
{
	if (s->node == NULL)
		snprintf(buf, len, "%s:%s", kind_name(s->kind), s->cluster->name);
	else
		snprintf(buf, len, "%s:%s:%s", kind_name(s->kind), s->cluster->name, s->node->name);
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
title(const struct subject *s, char *buf, size_t len)
{
	const struct detect_tail_evidence *te;
	const struct watch_node *worst;
	char thr[LATENCY_TEXT_MAX];

	switch (s->kind) {
	case SUBJECT_STORM:
		snprintf(buf, len, "Connection storm in cluster %s", s->cluster->name);
		break;
	case SUBJECT_TAIL:
		worst = worst_tail(s->cluster);
		if (worst == NULL) {
			snprintf(buf, len, "Latency tail on %s", s->cluster->name);
			break;
		}
		te = &worst->tail.evidence;
		latency_text(te->threshold_us, thr, sizeof(thr));
		if (s->cluster->tail_detector.evidence.in_storm > 1)
			snprintf(buf, len, "Latency tail on %s: %zu nodes, up to %.1f%% of probes "
			    "slower than %s", s->cluster->name,
			    s->cluster->tail_detector.evidence.in_storm, 100.0 * te->short_fraction, thr);
		else
			snprintf(buf, len, "Latency tail on %s/%s: %.1f%% of probes slower than %s",
			    s->cluster->name, worst->name, 100.0 * te->short_fraction, thr);
		break;
	case SUBJECT_DOWN:
		snprintf(buf, len, "Node %s/%s is down", s->cluster->name, s->node->name);
		break;
	}
}

static json_t *
num(double v)
{
	return json_real(isfinite(v) ? v : 0.0);
}

static json_t *
count(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *
storm_node_json(const struct detect_storm_evidence *e)
{
	json_t *tripped = json_array();
	json_t *o;

	if (e->tripped & DETECT_STORM_LEVEL)
		json_array_append_new(tripped, json_string("level"));
	if (e->tripped & DETECT_STORM_RATE)
		json_array_append_new(tripped, json_string("rate"));
	if (e->tripped & DETECT_STORM_ACCEPT_QUEUE)
		json_array_append_new(tripped, json_string("accept_queue"));
	if (e->tripped & DETECT_STORM_OVERFLOWS)
		json_array_append_new(tripped, json_string("overflows"));
	o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:o, s:o, s:o}",
	    "level", num(e->level), "level_baseline", num(e->level_baseline), "level_sigma",
	    num(e->level_sigma), "level_trip", num(e->level_trip), "rate", num(e->rate),
	    "rate_baseline", num(e->rate_baseline), "rate_sigma", num(e->rate_sigma), "rate_trip",
	    num(e->rate_trip), "rate_known", e->rate_known, "counter_reset", e->counter_reset,
	    "accept_queue", count(e->accept_queue), "overflow_rate", num(e->overflow_rate),
	    "tripped", tripped, "excess", num(e->excess));
	return o;
}

static json_t *
storm_json(const struct watch_cluster *c)
{
	const struct detect_cluster_evidence *e = &c->detector.evidence;
	json_t *involved = json_array(), *nodes = json_object(), *o;
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		const struct watch_node *n = c->nodes[i];
		bool in_storm = detect_storm_active(&n->storm);
		if (c->detector.involved[i])
			json_array_append_new(involved, json_string(n->name));
		if (in_storm || c->detector.involved[i])
			json_object_set_new(nodes, n->name, storm_node_json(&n->storm.evidence));
	}
	o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "cluster", c->name, "nodes",
	    count(e->nodes), "in_storm", count(e->in_storm), "peak_in_storm",
	    count(e->peak_in_storm), "involved", involved, "last_joined",
	    e->involved > 0 && e->last_joined < c->nnodes ? c->nodes[e->last_joined]->name : "",
	    "storm_state", json_string(detect_state_name(c->detector.status.state)),
	    "node_evidence", nodes);
	return o;
}

static json_t *
tail_json(const struct watch_node *n)
{
	const struct detect_tail_evidence *e = &n->tail.evidence;

	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "cluster", n->cluster_name, "node", n->name, "threshold_us", count(e->threshold_us),
	    "short_count", count(e->short_count), "short_slow", count(e->short_slow),
	    "short_fraction", num(e->short_fraction), "long_count", count(e->long_count),
	    "long_slow", count(e->long_slow), "long_fraction", num(e->long_fraction), "p50_us",
	    count(e->p50_us), "p90_us", count(e->p90_us), "p99_us", count(e->p99_us), "excess",
	    num(e->excess), "detector", json_string(detect_state_name(n->tail.status.state)));
}

static json_t *
tail_cluster_json(const struct watch_cluster *c)
{
	const struct detect_cluster_evidence *e = &c->tail_detector.evidence;
	json_t *involved = json_array(), *nodes = json_object();
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		const struct watch_node *n = c->nodes[i];
		if (!c->tail_detector.involved[i])
			continue;
		json_array_append_new(involved, json_string(n->name));
		json_object_set_new(nodes, n->name, tail_json(n));
	}
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o}", "cluster", c->name, "nodes",
	    count(e->nodes), "in_tail", count(e->in_storm), "peak_in_tail",
	    count(e->peak_in_storm), "involved", involved, "last_joined",
	    e->involved > 0 && e->last_joined < c->nnodes ? c->nodes[e->last_joined]->name : "",
	    "tail_state", detect_state_name(c->tail_detector.status.state), "node_evidence",
	    nodes);
}

static json_t *
down_json(const struct watch_node *n)
{
	const struct detect_down_evidence *e = &n->down.evidence;

	return json_pack("{s:s, s:s, s:o, s:o, s:I, s:b, s:s, s:o, s:o, s:s}", "cluster",
	    n->cluster_name, "node", n->name, "failures", count(e->failures), "successes",
	    count(e->successes), "silent_ms", (json_int_t)e->silent_ms, "by_silence",
	    e->by_silence, "last_error", n->probe_error, "probes_failed", count(n->probes_failed),
	    "probes_timeout", count(n->probes_timeout), "detector",
	    detect_state_name(n->down.status.state));
}

/* The evidence as JSON text (malloc'd), with `note` when given; NULL on no memory. */
static char *
evidence(const struct subject *s, const char *note)
{
	json_t *o = NULL;
	char *text;

	switch (s->kind) {
	case SUBJECT_STORM: o = storm_json(s->cluster); break;
	case SUBJECT_TAIL: o = tail_cluster_json(s->cluster); break;
	case SUBJECT_DOWN: o = down_json(s->node); break;
	}
	if (o == NULL)
		return NULL;
	if (note != NULL)
		json_object_set_new(o, "note", json_string(note));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void
summary(const struct subject *s, const struct watch_incident *inc, char *buf, size_t len)
{

	switch (s->kind) {
	case SUBJECT_STORM:
		snprintf(buf, len, "cleared: no node of %s in storm (%zu took part, %zu at once at "
		    "most)", s->cluster->name, inc->involved, inc->peak);
		break;
	case SUBJECT_TAIL:
		snprintf(buf, len, "cleared: no node of %s with a latency tail (%zu took part, %zu "
		    "at once at most)", s->cluster->name, inc->involved, inc->peak);
		break;
	case SUBJECT_DOWN:
		snprintf(buf, len, "cleared: %u probes in a row answered",
		    s->node->down.evidence.successes);
		break;
	}
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
append_evidence(struct watch *w, const struct subject *s, struct watch_incident *inc,
    const char *note, int64_t now_ms)
{
	char err[ILOG_ERR_LEN], fp[FINGERPRINT_MAX + 1];
	char *body = evidence(s, note);
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
	if (subject_episode(s) != NULL)
		inc->involved_written = subject_episode(s)->evidence.involved;
	return 0;
}

/* Open-or-update by fingerprint at severity; writes opened or severity events. */
static int
upsert(struct watch *w, const struct subject *s, struct watch_incident *inc,
    enum ilog_severity severity, int64_t now_ms, bool *created)
{
	char fp[FINGERPRINT_MAX + 1], ttl[ILOG_TITLE_MAX + 1], err[ILOG_ERR_LEN];
	struct ilog_incident_spec spec;
	struct ilog_upsert_result res;
	char *body = evidence(s, NULL);
	enum ilog_status rc;

	fingerprint(s, fp, sizeof(fp));
	title(s, ttl, sizeof(ttl));
	memset(&spec, 0, sizeof(spec));
	spec.fingerprint = fp;
	spec.kind = kind_name(s->kind);
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
	if (subject_episode(s) != NULL && res.event_id != 0)
		inc->involved_written = subject_episode(s)->evidence.involved;
	return 0;
}

static int
resolve(struct watch *w, const struct subject *s, struct watch_incident *inc,
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
 * severity from the detector (latches included), news for a storm that spread.
 */
static void
reconcile(struct watch *w, const struct subject *s, bool active, enum detect_severity sev,
    int64_t now_ms)
{
	struct watch_incident *inc = subject_incident(s);
	enum ilog_severity severity = to_ilog(sev);
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
		news = subject_episode(s) != NULL &&
		    subject_episode(s)->evidence.involved > inc->involved_written;
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
			summary(s, inc, message, sizeof(message));
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
 * A cluster's episode of kind (storm or tail) from its nodes' statuses, and its
 * incident brought in line. Tails have no grace of their own beyond the nodes'
 * tail_clear_hold: resolve_hold keeps a tail that comes back soon one incident.
 */
static void
episode_step(struct watch *w, struct watch_cluster *c, enum subject_kind kind,
    const struct detect_status *statuses, int64_t now_ms)
{
	struct subject s = { kind, c, NULL };
	struct detect_cluster *d = subject_episode(&s);
	struct watch_incident *inc = subject_incident(&s);
	int64_t grace = kind == SUBJECT_STORM ? w->cfg->detect.cluster_grace_ms : 0;
	enum detect_event ev = detect_cluster_update(d, grace, statuses, now_ms);
	bool active = detect_status_open(&d->status);
	enum detect_severity sev = d->status.severity;

	latch(inc, ev, sev);
	take_latch(inc, &active, &sev);
	reconcile(w, &s, active, sev, now_ms);
}

void
watch_evaluate(struct watch *w, int64_t now_ms)
{
	const struct detect_config *dc = &w->cfg->detect;
	struct detect_status statuses[DETECT_CLUSTER_NODES_MAX];
	size_t i, j;

	for (i = 0; i < w->nnodes; i++) {
		struct watch_node *n = &w->nodes[i];
		enum detect_event ev;
		ev = detect_down_tick(&n->down, dc, now_ms);
		latch(&n->down_incident, ev, n->down.status.severity);
		(void)detect_tail_evaluate(&n->tail, dc, now_ms);
	}
	for (i = 0; i < w->nclusters; i++) {
		struct watch_cluster *c = &w->clusters[i];

		for (j = 0; j < c->nnodes && j < DETECT_CLUSTER_NODES_MAX; j++) {
			struct watch_node *n = c->nodes[j];
			statuses[j] = n->storm.status;
			/* A node storm that opened and cleared within one interval still
			 * takes part in the episode. */
			if (n->storm_latched && !detect_status_open(&statuses[j])) {
				statuses[j].state = DETECT_FIRING;
				statuses[j].severity = n->storm_latched_severity;
			}
			n->storm_latched = false;
			n->storm_latched_severity = DETECT_SEVERITY_NONE;
		}
		if (c->nnodes > 0)
			episode_step(w, c, SUBJECT_STORM, statuses, now_ms);
	}
	for (i = 0; i < w->nnodes; i++) {
		struct watch_node *n = &w->nodes[i];
		struct subject down = { SUBJECT_DOWN, &w->clusters[n->cluster], n };
		bool active = detect_status_open(&n->down.status);
		enum detect_severity sev = n->down.status.severity;

		take_latch(&n->down_incident, &active, &sev);
		reconcile(w, &down, active, sev, now_ms);
	}
	for (i = 0; i < w->nclusters; i++) {
		struct watch_cluster *c = &w->clusters[i];

		for (j = 0; j < c->nnodes && j < DETECT_CLUSTER_NODES_MAX; j++) {
			struct watch_node *n = c->nodes[j];
			statuses[j] = n->tail.status;
			/* A down node's probes say nothing about a tail: its own incident
			 * says what is wrong. */
			if (detect_status_open(&n->down.status) ||
			    n->down_incident.phase != WATCH_NONE)
				memset(&statuses[j], 0, sizeof(statuses[j]));
		}
		if (c->nnodes > 0)
			episode_step(w, c, SUBJECT_TAIL, statuses, now_ms);
	}
}

/* --- adoption and reload --------------------------------------------------------------- */

/* How long a detector needs to see its condition again from a standing start. */
static int64_t
adoption_hold(const struct monconfig *cfg, enum subject_kind kind)
{
	const struct detect_config *dc = &cfg->detect;
	const struct monconfig_settings *set = &cfg->set;
	int64_t h = set->resolve_hold_ms + set->evaluate_interval_ms;

	switch (kind) {
	case SUBJECT_STORM:
		return h + (int64_t)(dc->storm_warmup + dc->storm_enter) * set->poll_interval_ms;
	case SUBJECT_TAIL:
		return h + dc->tail_long_window_ms;
	case SUBJECT_DOWN:
		return h + dc->down_silence_ms + set->connect_timeout_ms +
		    (int64_t)dc->down_failures * monconfig_probe_period_ms(set);
	}
	return h;
}

/* Parses "kind:cluster[:node]" of our kinds. */
static bool
parse_fingerprint(const char *fp, enum subject_kind *kind, char *cluster, char *node)
{
	static const enum subject_kind kinds[] = { SUBJECT_STORM, SUBJECT_TAIL, SUBJECT_DOWN };
	const char *p, *q;
	size_t i, klen;

	p = strchr(fp, ':');
	if (p == NULL)
		return false;
	klen = (size_t)(p - fp);
	for (i = 0; i < 3; i++) {
		if (token_is(fp, klen, kind_name(kinds[i])))
			break;
	}
	if (i == 3)
		return false;
	*kind = kinds[i];
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
	/* Storms and tails are a cluster's; a node's tail is an older version's. */
	if ((*kind == SUBJECT_STORM && q != NULL) || (*kind == SUBJECT_DOWN && q == NULL))
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
	enum subject_kind kind;
	size_t i;

	memset(&q, 0, sizeof(q));
	q.states = ILOG_STATES_UNRESOLVED;
	if (ilog_incident_list(w->log, &q, &list, err, errlen) != ILOG_OK)
		return -1;
	for (i = 0; i < list.n; i++) {
		const struct ilog_incident *row = &list.v[i];
		struct subject s;
		struct watch_incident *inc;

		if (!parse_fingerprint(row->fingerprint, &kind, cluster, node))
			continue; /* not one of ours */
		if (kind == SUBJECT_TAIL && node[0] != '\0') {
			snprintf(what, sizeof(what), "superseded: latency tails are one incident "
			    "per cluster now (latency_tail:%s)", cluster);
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
		inc->hold_ms = adoption_hold(w->cfg, kind);
		inc->last_evidence_ms = now_ms;
		inc->adopted = true;
		log_info("incident %lld (%s) taken over; resolved unless seen again within %lld ms",
		    (long long)row->id, row->fingerprint, (long long)inc->hold_ms);
	}
	ilog_incidents_release(&list);
	return 0;
}

static bool
same_tail_shape(const struct detect_config *a, const struct detect_config *b)
{
	return a->tail_threshold_us == b->tail_threshold_us && a->tail_slot_ms == b->tail_slot_ms &&
	    a->tail_long_window_ms == b->tail_long_window_ms;
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
	bool tail_shape = same_tail_shape(&w->cfg->detect, &old->cfg->detect);
	bool same_bounds = w->nexport == old->nexport &&
	    memcmp(w->export_bounds, old->export_bounds, w->nexport * sizeof(uint64_t)) == 0;
	char what[200], err[ILOG_ERR_LEN];
	size_t i;

	for (i = 0; i < old->nnodes; i++) {
		struct watch_node *o = &old->nodes[i];
		struct watch_node *n = watch_find_node(w, o->cluster_name, o->name);
		struct detect_tail fresh;

		if (n == NULL) {
			snprintf(what, sizeof(what), "node %s of cluster %s", o->name,
			    o->cluster_name);
			resolve_removed(old, &o->down_incident, what);
			continue;
		}
		n->storm = o->storm;
		n->down = o->down;
		move_incident(w, &n->down_incident, old, &o->down_incident);
		n->storm_latched = o->storm_latched;
		n->storm_latched_severity = o->storm_latched_severity;
		n->polled = o->polled;
		n->poll_ok = o->poll_ok;
		memcpy(n->poll_error, o->poll_error, sizeof(n->poll_error));
		n->stats = o->stats;
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
		if (tail_shape) {
			/* Swap, so that each watch releases the window it ends up with. */
			fresh = n->tail;
			n->tail = o->tail;
			o->tail = fresh;
		}
	}
	for (i = 0; i < old->nclusters; i++) {
		struct watch_cluster *o = &old->clusters[i];
		struct watch_cluster *c = find_cluster(w, o->name);

		if (c == NULL) {
			snprintf(what, sizeof(what), "cluster %s", o->name);
			resolve_removed(old, &o->storm_incident, what);
			resolve_removed(old, &o->tail_incident, what);
			continue;
		}
		move_incident(w, &c->storm_incident, old, &o->storm_incident);
		move_incident(w, &c->tail_incident, old, &o->tail_incident);
		if (same_members(c, o)) {
			c->detector = o->detector;
			c->tail_detector = o->tail_detector;
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

int
watch_snapshot(const struct watch *w, struct monstate *st, int64_t interval_ms, char *err,
    size_t errlen)
{
	size_t i;

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
		word(mc->storm, sizeof(mc->storm), detect_state_name(c->detector.status.state));
		word(mc->storm_severity, sizeof(mc->storm_severity),
		    detect_severity_name(c->detector.status.severity));
		mc->in_storm = c->detector.evidence.in_storm;
		mc->involved = c->detector.evidence.involved;
		word(mc->tail, sizeof(mc->tail), detect_state_name(c->tail_detector.status.state));
		word(mc->tail_severity, sizeof(mc->tail_severity),
		    detect_severity_name(c->tail_detector.status.severity));
		/* The cluster detector counts "in storm" whatever its nodes detect. */
		mc->in_tail = c->tail_detector.evidence.in_storm;
		mc->tail_involved = c->tail_detector.evidence.involved;
	}
	for (i = 0; i < w->nnodes; i++) {
		const struct watch_node *n = &w->nodes[i];
		struct monstate_node *mn = &st->nodes[i];
		const struct detect_tail_evidence *te = &n->tail.evidence;
		word(mn->name, sizeof(mn->name), n->name);
		word(mn->cluster, sizeof(mn->cluster), n->cluster_name);
		mn->up = !detect_status_open(&n->down.status);
		mn->polled = n->polled;
		mn->poll_ok = n->poll_ok;
		snprintf(mn->poll_error, sizeof(mn->poll_error), "%s", n->poll_error);
		mn->connections = n->stats.curr_connections;
		mn->rate_known = n->storm.evidence.rate_known;
		mn->new_connections_per_second = n->storm.evidence.rate_known ?
		    n->storm.evidence.rate : 0.0;
		mn->probes = te->short_count;
		mn->p50_us = te->p50_us;
		mn->p99_us = te->p99_us;
		mn->slow_fraction = te->short_fraction;
		word(mn->storm, sizeof(mn->storm), detect_state_name(n->storm.status.state));
		word(mn->storm_severity, sizeof(mn->storm_severity),
		    detect_severity_name(n->storm.status.severity));
		word(mn->tail, sizeof(mn->tail), detect_state_name(n->tail.status.state));
		word(mn->tail_severity, sizeof(mn->tail_severity),
		    detect_severity_name(n->tail.status.severity));
		word(mn->down, sizeof(mn->down), detect_state_name(n->down.status.state));
		word(mn->down_severity, sizeof(mn->down_severity),
		    detect_severity_name(n->down.status.severity));
		mn->last_probe_ok_at = n->last_probe_ok_wall_ms;
	}
	return 0;
}
