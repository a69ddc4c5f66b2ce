/*
 * collector — see collector.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "clock.h"
#include "collector.h"
#include "log.h"
#include "mcconn.h"

#define KEY_MAX (MONCONFIG_KEY_MAX + 1 + CLUSTER_NAME_MAX)

struct collector_node {
	struct collector *col;
	struct watch_node *wn;           /* borrowed from the watch */
	const struct cluster_node *node; /* borrowed from the configuration */
	struct mcconn *admin;            /* NULL without an admin address */
	struct mcconn *probe;
	char key[KEY_MAX + 1];
	uint64_t seq;
	bool probe_is_get; /* the probe in flight (or the next one) reads the key */
	bool poll_failing, probe_failing;
};

/* Nodes [first, first + count) share these timers. */
struct collector_group {
	struct collector *col;
	size_t first, count;
	struct event *poll_timer, *probe_timer;
	int64_t next_poll_ms, next_probe_ms;
};

static void
arm_at(struct event *ev, int64_t due_ms, int64_t now_ms)
{
	int64_t d = due_ms > now_ms ? due_ms - now_ms : 0;
	struct timeval tv = clock_ms_timeval(d);

	evtimer_add(ev, &tv);
}

/* The next due time of a periodic job: on its cadence, skipping what a stall missed. */
static int64_t
next_due(int64_t due_ms, int64_t period_ms, int64_t now_ms)
{
	due_ms += period_ms;
	if (due_ms < now_ms - period_ms)
		due_ms = now_ms;
	return due_ms;
}

/* --- polls --------------------------------------------------------------------------- */

static void
on_poll_done(void *arg, const struct mcconn_result *r)
{
	struct collector_node *cn = arg;
	struct collector *col = cn->col;
	int64_t now = clock_monotonic_ms();

	if (r->status == MCCONN_OK || (r->status == MCCONN_ERR_REPLY && r->reply_len > 0)) {
		watch_poll(col->watch, cn->wn, r->reply, r->reply_len, r->latency_us, now);
	} else {
		char error[WATCH_ERROR_MAX];
		snprintf(error, sizeof(error), "%s", r->error);
		watch_poll_failed(col->watch, cn->wn, error, now);
	}
	if (!cn->wn->poll_ok && !cn->poll_failing) {
		log_warn("node %s/%s: admin polls failing: %s", cn->wn->cluster_name, cn->wn->name,
		    cn->wn->poll_error);
		cn->poll_failing = true;
	} else if (cn->wn->poll_ok && cn->poll_failing) {
		log_info("node %s/%s: admin polls answered again", cn->wn->cluster_name,
		    cn->wn->name);
		cn->poll_failing = false;
	}
}

static void
poll_node(struct collector_node *cn, int64_t now)
{
	const struct monconfig_settings *set = &cn->col->cfg->set;
	unsigned parts = watch_node_parts(cn->wn);
	const char *req = nodestats_request(parts);
	char err[MCCONN_ERROR_MAX];

	/* poll_timeout <= poll_interval: busy only when a connect overran; skip it. */
	if (cn->admin == NULL || mcconn_busy(cn->admin))
		return;
	if (mcconn_request(cn->admin, req, strlen(req), MCREPLY_STATS, (int)nodestats_replies(parts),
	    (int)set->poll_timeout_ms, err, sizeof(err)) < 0)
		watch_poll_failed(cn->col->watch, cn->wn, err, now);
}

static void
on_poll_timer(evutil_socket_t fd, short what, void *arg)
{
	struct collector_group *g = arg;
	struct collector *col = g->col;
	int64_t now = clock_monotonic_ms();
	size_t i;

	(void)fd;
	(void)what;
	g->next_poll_ms = next_due(g->next_poll_ms, col->cfg->set.poll_interval_ms, now);
	arm_at(g->poll_timer, g->next_poll_ms, now);
	for (i = g->first; i < g->first + g->count; i++)
		poll_node(&col->nodes[i], now);
}

/* --- probes -------------------------------------------------------------------------- */

static void
on_probe_done(void *arg, const struct mcconn_result *r)
{
	struct collector_node *cn = arg;
	struct collector *col = cn->col;
	int64_t now = clock_monotonic_ms();
	enum watch_probe_outcome outcome = WATCH_PROBE_FAILED;
	uint64_t latency = r->latency_us > 0 ? (uint64_t)r->latency_us : 0;
	char error[WATCH_ERROR_MAX];
	bool was_get = cn->probe_is_get;

	error[0] = '\0';
	cn->probe_is_get = !cn->probe_is_get;
	switch (r->status) {
	case MCCONN_OK:
		/* A get may miss (evicted, another monitor's set): the node answered. A
		 * set must be stored. */
		if (was_get || (r->reply_len == 8 && memcmp(r->reply, "STORED\r\n", 8) == 0)) {
			outcome = WATCH_PROBE_OK;
		} else {
			size_t show = r->reply_len < 100 ? r->reply_len : 100;
			while (show > 0 && (r->reply[show - 1] == '\n' || r->reply[show - 1] == '\r'))
				show--;
			snprintf(error, sizeof(error), "set: %.*s", (int)show, r->reply);
		}
		break;
	case MCCONN_ERR_TIMEOUT:
		outcome = WATCH_PROBE_TIMEOUT;
		snprintf(error, sizeof(error), "%s", r->error);
		latency = (uint64_t)col->cfg->set.probe_timeout_ms * 1000;
		break;
	default:
		snprintf(error, sizeof(error), "%s: %.*s", was_get ? "get" : "set",
		    (int)(sizeof(error) - 8), r->error);
		break;
	}
	watch_probe(col->watch, cn->wn, outcome, latency, error, now);
	if (outcome != WATCH_PROBE_OK && !cn->probe_failing) {
		log_warn("node %s/%s: probes failing: %s", cn->wn->cluster_name, cn->wn->name,
		    error);
		cn->probe_failing = true;
	} else if (outcome == WATCH_PROBE_OK && cn->probe_failing) {
		log_info("node %s/%s: probes answered again", cn->wn->cluster_name, cn->wn->name);
		cn->probe_failing = false;
	}
}

static void
probe_node(struct collector_node *cn, int64_t now)
{
	const struct monconfig_settings *set = &cn->col->cfg->set;
	char req[KEY_MAX + 64], err[MCCONN_ERROR_MAX], value[24];
	int n;

	if (mcconn_busy(cn->probe)) {
		watch_probe_dropped(cn->col->watch, cn->wn);
		return;
	}
	if (cn->probe_is_get) {
		n = snprintf(req, sizeof(req), "get %s\r\n", cn->key);
	} else {
		snprintf(value, sizeof(value), "%llu", (unsigned long long)++cn->seq);
		n = snprintf(req, sizeof(req), "set %s 0 %d %zu\r\n%s\r\n", cn->key,
		    COLLECTOR_CANARY_TTL_S, strlen(value), value);
	}
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    mcconn_request(cn->probe, req, (size_t)n,
	    cn->probe_is_get ? MCREPLY_GET : MCREPLY_LINE, 1, (int)set->probe_timeout_ms,
	    err, sizeof(err)) < 0)
		watch_probe(cn->col->watch, cn->wn, WATCH_PROBE_FAILED, 0, "cannot build a probe",
		    now);
}

static void
on_probe_timer(evutil_socket_t fd, short what, void *arg)
{
	struct collector_group *g = arg;
	struct collector *col = g->col;
	int64_t now = clock_monotonic_ms();
	size_t i;

	(void)fd;
	(void)what;
	g->next_probe_ms = next_due(g->next_probe_ms, monconfig_probe_period_ms(&col->cfg->set),
	    now);
	arm_at(g->probe_timer, g->next_probe_ms, now);
	for (i = g->first; i < g->first + g->count; i++)
		probe_node(&col->nodes[i], now);
}

/* --- set-up -------------------------------------------------------------------------- */

static int
node_start(struct collector *col, struct collector_node *cn, struct watch_node *wn,
    const struct cluster_node *node, char *err, size_t errlen)
{
	const struct cluster *c = &col->cfg->clusters.v[node->cluster];
	const struct monconfig_settings *set = &col->cfg->set;
	struct mcconn_target t;

	cn->col = col;
	cn->wn = wn;
	cn->node = node;
	snprintf(cn->key, sizeof(cn->key), "%s:%s", set->canary_key, node->name);

	memset(&t, 0, sizeof(t));
	t.host = node->client.host;
	t.port = node->client.port;
	t.user = c->probe.set ? c->probe.user : NULL;
	t.password = c->probe.set ? c->probe.password : NULL;
	t.connect_timeout_ms = (int)set->connect_timeout_ms;
	cn->probe = mcconn_new(col->base, col->dns, &t, on_probe_done, cn, err, errlen);
	if (cn->probe == NULL)
		return -1;
	if (node->admin.port == 0)
		return 0;
	t.host = node->admin.host;
	t.port = node->admin.port;
	t.user = c->admin.set ? c->admin.user : NULL;
	t.password = c->admin.set ? c->admin.password : NULL;
	cn->admin = mcconn_new(col->base, col->dns, &t, on_poll_done, cn, err, errlen);
	return cn->admin != NULL ? 0 : -1;
}

/* Group g of n: its nodes, and its phase, evenly spread over each period. */
static int
group_start(struct collector *col, struct collector_group *g, size_t index, int64_t now,
    char *err, size_t errlen)
{
	const struct monconfig_settings *set = &col->cfg->set;
	int64_t probe_period = monconfig_probe_period_ms(set);

	g->col = col;
	g->first = index * COLLECTOR_GROUP_MAX;
	g->count = col->nnodes - g->first < COLLECTOR_GROUP_MAX ? col->nnodes - g->first :
	    COLLECTOR_GROUP_MAX;
	g->probe_timer = evtimer_new(col->base, on_probe_timer, g);
	g->poll_timer = evtimer_new(col->base, on_poll_timer, g);
	if (g->probe_timer == NULL || g->poll_timer == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	g->next_probe_ms = now + probe_period * (int64_t)index / (int64_t)col->ngroups;
	g->next_poll_ms = now + set->poll_interval_ms * (int64_t)index / (int64_t)col->ngroups;
	arm_at(g->probe_timer, g->next_probe_ms, now);
	arm_at(g->poll_timer, g->next_poll_ms, now);
	return 0;
}

static void
node_stop(struct collector_node *cn)
{
	mcconn_free(cn->admin);
	mcconn_free(cn->probe);
	memset(cn, 0, sizeof(*cn));
}

static void
group_stop(struct collector_group *g)
{
	if (g->poll_timer != NULL)
		event_free(g->poll_timer);
	if (g->probe_timer != NULL)
		event_free(g->probe_timer);
	memset(g, 0, sizeof(*g));
}

int
collector_start(struct collector *col, struct event_base *base, struct evdns_base *dns,
    struct watch *w, char *err, size_t errlen)
{
	const struct clusters *cl = &w->cfg->clusters;
	int64_t now = clock_monotonic_ms();
	size_t i, ngroups = (cl->nnodes + COLLECTOR_GROUP_MAX - 1) / COLLECTOR_GROUP_MAX;

	memset(col, 0, sizeof(*col));
	col->base = base;
	col->dns = dns;
	col->watch = w;
	col->cfg = w->cfg;
	if (w->nnodes != cl->nnodes) {
		snprintf(err, errlen, "the watch does not match the configuration");
		return -1;
	}
	col->nodes = calloc(cl->nnodes > 0 ? cl->nnodes : 1, sizeof(*col->nodes));
	col->groups = calloc(ngroups > 0 ? ngroups : 1, sizeof(*col->groups));
	if (col->nodes == NULL || col->groups == NULL) {
		collector_stop(col);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < cl->nnodes; i++) {
		col->nnodes = i + 1;
		if (node_start(col, &col->nodes[i], &w->nodes[i], &cl->nodes[i], err, errlen) < 0) {
			collector_stop(col);
			return -1;
		}
	}
	for (i = 0; i < ngroups; i++) {
		col->ngroups = i + 1;
		if (group_start(col, &col->groups[i], i, now, err, errlen) < 0) {
			collector_stop(col);
			return -1;
		}
	}
	return 0;
}

void
collector_stop(struct collector *col)
{
	size_t i;

	for (i = 0; col->groups != NULL && i < col->ngroups; i++)
		group_stop(&col->groups[i]);
	for (i = 0; col->nodes != NULL && i < col->nnodes; i++)
		node_stop(&col->nodes[i]);
	free(col->groups);
	free(col->nodes);
	col->groups = NULL;
	col->nodes = NULL;
	col->ngroups = 0;
	col->nnodes = 0;
}
