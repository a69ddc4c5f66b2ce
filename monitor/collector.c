/*
 * collector — see collector.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "collector.h"
#include "log.h"
#include "mcconn.h"

#define KEY_MAX (MONCONFIG_KEY_MAX + 1 + CLUSTER_NAME_MAX)
#define POLL_REQUEST "stats\r\nstats kernel\r\n"

struct collector_node {
	struct collector *col;
	struct watch_node *wn;           /* borrowed from the watch */
	const struct cluster_node *node; /* borrowed from the configuration */
	struct mcconn *admin;            /* NULL without an admin address */
	struct mcconn *probe;
	struct event *poll_timer, *probe_timer;
	int64_t next_poll_ms, next_probe_ms;
	char key[KEY_MAX + 1];
	uint64_t seq;
	bool probe_is_get; /* the probe in flight (or the next one) reads the key */
	bool poll_failing, probe_failing;
};

int64_t
collector_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64: phases only, nothing that needs to be unpredictable. */
static uint64_t
next_random(struct collector *col)
{
	uint64_t z = (col->random_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
arm_at(struct event *ev, int64_t due_ms, int64_t now_ms)
{
	int64_t d = due_ms > now_ms ? due_ms - now_ms : 0;
	struct timeval tv = { (time_t)(d / 1000), (suseconds_t)((d % 1000) * 1000) };

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
	int64_t now = collector_now_ms();

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
on_poll_timer(evutil_socket_t fd, short what, void *arg)
{
	struct collector_node *cn = arg;
	const struct monconfig_settings *set = &cn->col->cfg->set;
	int64_t now = collector_now_ms();
	char err[MCCONN_ERROR_MAX];

	(void)fd;
	(void)what;
	cn->next_poll_ms = next_due(cn->next_poll_ms, set->poll_interval_ms, now);
	arm_at(cn->poll_timer, cn->next_poll_ms, now);
	/* poll_timeout <= poll_interval: busy only when a connect overran; skip it. */
	if (mcconn_busy(cn->admin))
		return;
	if (mcconn_request(cn->admin, POLL_REQUEST, strlen(POLL_REQUEST), MCCONN_REPLY_STATS, 2,
	    (int)set->poll_timeout_ms, err, sizeof(err)) < 0)
		watch_poll_failed(cn->col->watch, cn->wn, err, now);
}

/* --- probes -------------------------------------------------------------------------- */

static void
on_probe_done(void *arg, const struct mcconn_result *r)
{
	struct collector_node *cn = arg;
	struct collector *col = cn->col;
	int64_t now = collector_now_ms();
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
on_probe_timer(evutil_socket_t fd, short what, void *arg)
{
	struct collector_node *cn = arg;
	const struct monconfig_settings *set = &cn->col->cfg->set;
	int64_t now = collector_now_ms();
	char req[KEY_MAX + 64], err[MCCONN_ERROR_MAX], value[24];
	int n;

	(void)fd;
	(void)what;
	cn->next_probe_ms = next_due(cn->next_probe_ms, monconfig_probe_period_ms(set), now);
	arm_at(cn->probe_timer, cn->next_probe_ms, now);
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
	    cn->probe_is_get ? MCCONN_REPLY_GET : MCCONN_REPLY_LINE, 1, (int)set->probe_timeout_ms,
	    err, sizeof(err)) < 0)
		watch_probe(cn->col->watch, cn->wn, WATCH_PROBE_FAILED, 0, "cannot build a probe",
		    now);
}

/* --- set-up -------------------------------------------------------------------------- */

static int
node_start(struct collector *col, struct collector_node *cn, struct watch_node *wn,
    const struct cluster_node *node, int64_t now, char *err, size_t errlen)
{
	const struct cluster *c = &col->cfg->clusters.v[node->cluster];
	const struct monconfig_settings *set = &col->cfg->set;
	struct mcconn_target t;
	int64_t period = monconfig_probe_period_ms(set);

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
	cn->probe_timer = evtimer_new(col->base, on_probe_timer, cn);
	if (cn->probe_timer == NULL)
		goto out_nomem;
	cn->next_probe_ms = now + (int64_t)(next_random(col) % (uint64_t)period);
	arm_at(cn->probe_timer, cn->next_probe_ms, now);

	if (node->admin.port == 0)
		return 0;
	t.host = node->admin.host;
	t.port = node->admin.port;
	t.user = c->admin.set ? c->admin.user : NULL;
	t.password = c->admin.set ? c->admin.password : NULL;
	cn->admin = mcconn_new(col->base, col->dns, &t, on_poll_done, cn, err, errlen);
	if (cn->admin == NULL)
		return -1;
	cn->poll_timer = evtimer_new(col->base, on_poll_timer, cn);
	if (cn->poll_timer == NULL)
		goto out_nomem;
	cn->next_poll_ms =
	    now + (int64_t)(next_random(col) % (uint64_t)set->poll_interval_ms);
	arm_at(cn->poll_timer, cn->next_poll_ms, now);
	return 0;
out_nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static void
node_stop(struct collector_node *cn)
{
	if (cn->poll_timer != NULL)
		event_free(cn->poll_timer);
	if (cn->probe_timer != NULL)
		event_free(cn->probe_timer);
	mcconn_free(cn->admin);
	mcconn_free(cn->probe);
	memset(cn, 0, sizeof(*cn));
}

int
collector_start(struct collector *col, struct event_base *base, struct evdns_base *dns,
    struct watch *w, char *err, size_t errlen)
{
	const struct clusters *cl = &w->cfg->clusters;
	int64_t now = collector_now_ms();
	size_t i;

	memset(col, 0, sizeof(*col));
	col->base = base;
	col->dns = dns;
	col->watch = w;
	col->cfg = w->cfg;
	col->random_state = (uint64_t)now ^ ((uint64_t)getpid() << 32);
	if (w->nnodes != cl->nnodes) {
		snprintf(err, errlen, "the watch does not match the configuration");
		return -1;
	}
	col->nodes = calloc(cl->nnodes > 0 ? cl->nnodes : 1, sizeof(*col->nodes));
	if (col->nodes == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < cl->nnodes; i++) {
		col->nnodes = i + 1;
		if (node_start(col, &col->nodes[i], &w->nodes[i], &cl->nodes[i], now, err,
		    errlen) < 0) {
			collector_stop(col);
			return -1;
		}
	}
	col->nnodes = cl->nnodes;
	return 0;
}

void
collector_stop(struct collector *col)
{
	size_t i;

	for (i = 0; col->nodes != NULL && i < col->nnodes; i++)
		node_stop(&col->nodes[i]);
	free(col->nodes);
	col->nodes = NULL;
	col->nnodes = 0;
}
