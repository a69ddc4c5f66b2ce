/*
 * metrics — see metrics.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "kind.h"
#include "log.h"
#include "metrics.h"

#define LABELS_MAX PROMTEXT_LABELS_MAX

/* A family whose samples are a uint64_t of the poll, at offset in its struct. */
struct stat_family {
	const char *name;
	enum promtext_type type;
	const char *help;
	size_t offset;
};

#define NFAMILIES(t) (sizeof(t) / sizeof((t)[0]))

/* Per-node counters and gauges straight from the latest poll, memcached_exporter's names. */
static const struct stat_family node_stats[] = {
	{ "memcached_uptime_seconds", PROMTEXT_GAUGE, "Seconds the node has been running.",
	    offsetof(struct nodestats, uptime) },
	{ "memcached_current_connections", PROMTEXT_GAUGE, "Open connections (curr_connections).",
	    offsetof(struct nodestats, curr_connections) },
	{ "memcached_connections_total", PROMTEXT_COUNTER,
	    "Connections accepted since the node started (total_connections).",
	    offsetof(struct nodestats, total_connections) },
	{ "memcached_connections_rejected_total", PROMTEXT_COUNTER,
	    "Connections refused at max_connections (rejected_connections).",
	    offsetof(struct nodestats, rejected_connections) },
	{ "memcached_max_connections", PROMTEXT_GAUGE, "The connection limit.",
	    offsetof(struct nodestats, max_connections) },
	{ "memcached_connections_yielded_total", PROMTEXT_COUNTER,
	    "Times a busy connection yielded to others (conn_yields).",
	    offsetof(struct nodestats, conn_yields) },
	{ "memcached_connections_listener_disabled_total", PROMTEXT_COUNTER,
	    "Times the listener stopped accepting at the limit (listen_disabled_num).",
	    offsetof(struct nodestats, listen_disabled_num) },
	{ "memcached_current_items", PROMTEXT_GAUGE, "Items stored.",
	    offsetof(struct nodestats, curr_items) },
	{ "memcached_current_bytes", PROMTEXT_GAUGE, "Bytes used by items.",
	    offsetof(struct nodestats, bytes) },
	{ "memcached_limit_bytes", PROMTEXT_GAUGE, "Memory limit for items in bytes.",
	    offsetof(struct nodestats, limit_maxbytes) },
	{ "memcached_items_evicted_total", PROMTEXT_COUNTER, "Items evicted to make room.",
	    offsetof(struct nodestats, evictions) },
};

/* A proxy's own figures (`stats proxy`). */
static const struct stat_family proxy_stats[] = {
	{ "memcached_proxy_backends", PROMTEXT_GAUGE, "Backends in the proxy's list.",
	    offsetof(struct nodestats, proxy.backends) },
	{ "memcached_proxy_backends_up", PROMTEXT_GAUGE, "Backends the proxy counts as up.",
	    offsetof(struct nodestats, proxy.backends_up) },
	{ "memcached_proxy_client_connections", PROMTEXT_GAUGE, "Client connections of the proxy.",
	    offsetof(struct nodestats, proxy.client_connections) },
	{ "memcached_proxy_requests_total", PROMTEXT_COUNTER, "Requests the proxy forwarded.",
	    offsetof(struct nodestats, proxy.requests) },
	{ "memcached_proxy_fast_failures_total", PROMTEXT_COUNTER,
	    "Requests failed at once because their backend was down.",
	    offsetof(struct nodestats, proxy.fast_failures) },
	{ "memcached_proxy_queue_refusals_total", PROMTEXT_COUNTER,
	    "Requests refused because a backend's queue was full.",
	    offsetof(struct nodestats, proxy.queue_refusals) },
	{ "memcached_proxy_timeouts_total", PROMTEXT_COUNTER,
	    "Requests whose backend did not answer in time.",
	    offsetof(struct nodestats, proxy.timeouts) },
};

/* Each backend as a proxy sees it (`stats backends`). */
static const struct stat_family proxy_backend_stats[] = {
	{ "memcached_proxy_backend_requests_total", PROMTEXT_COUNTER,
	    "Requests the proxy sent to the backend.",
	    offsetof(struct nodestats_backend, requests) },
	{ "memcached_proxy_backend_replies_total", PROMTEXT_COUNTER,
	    "Replies the proxy received from the backend.",
	    offsetof(struct nodestats_backend, replies) },
	{ "memcached_proxy_backend_slow_replies_total", PROMTEXT_COUNTER,
	    "Replies slower than the proxy's tail_ms (its tail_share of its replies).",
	    offsetof(struct nodestats_backend, slow) },
	{ "memcached_proxy_backend_errors_total", PROMTEXT_COUNTER,
	    "Failed requests to the backend.", offsetof(struct nodestats_backend, errors) },
	{ "memcached_proxy_backend_timeouts_total", PROMTEXT_COUNTER,
	    "Requests to the backend that timed out.", offsetof(struct nodestats_backend, timeouts) },
	{ "memcached_proxy_backend_fast_failures_total", PROMTEXT_COUNTER,
	    "Requests failed at once while the backend was down.",
	    offsetof(struct nodestats_backend, fast_failures) },
	{ "memcached_proxy_backend_outstanding", PROMTEXT_GAUGE,
	    "Requests sent to the backend and not answered yet.",
	    offsetof(struct nodestats_backend, outstanding) },
	{ "memcached_proxy_backend_connections", PROMTEXT_GAUGE,
	    "The proxy's connections to the backend.",
	    offsetof(struct nodestats_backend, connections) },
};

struct page {
	const struct watch *w;
	struct promtext *out;
};

static size_t
node_labels(const struct watch_node *n, struct promtext_label *l)
{
	l[0].name = "cluster";
	l[0].value = n->cluster_name;
	l[1].name = "node";
	l[1].value = n->name;
	return 2;
}

static uint64_t
stat_at(const void *st, size_t offset)
{
	return *(const uint64_t *)((const char *)st + offset);
}

/* Each family of f[0..nf) over the nodes polled at least once (only the proxies: the
 * nodes whose latest good poll answered `stats proxy`). */
static void
render_families(struct page *p, const struct stat_family *f, size_t nf, bool proxies)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, k, nl;

	for (k = 0; k < nf; k++) {
		promtext_family(p->out, f[k].name, f[k].type, f[k].help);
		for (i = 0; i < p->w->nnodes; i++) {
			const struct watch_node *n = &p->w->nodes[i];
			if (!n->polled || (proxies && !n->stats.is_proxy))
				continue;
			nl = node_labels(n, l);
			promtext_sample_u64(p->out, l, nl, stat_at(&n->stats, f[k].offset));
		}
	}
}

/* The labels of backend b of proxy n: cluster, node (the proxy), backend. */
static size_t
backend_labels(const struct watch_node *n, const struct nodestats_backend *b,
    struct promtext_label *l)
{
	size_t nl = node_labels(n, l);

	l[nl].name = "backend";
	l[nl].value = b->name;
	return nl + 1;
}

static void
render_node_stats(struct page *p)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, nl;

	promtext_family(p->out, "memcached_up", PROMTEXT_GAUGE,
	    "Whether the latest admin poll of the node succeeded.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->has_admin)
			continue;
		nl = node_labels(n, l);
		promtext_sample_u64(p->out, l, nl, n->poll_ok ? 1 : 0);
	}
	render_families(p, node_stats, NFAMILIES(node_stats), false);
	promtext_family(p->out, "memcached_commands_total", PROMTEXT_COUNTER,
	    "Commands served, by command and status.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->polled)
			continue;
		nl = node_labels(n, l);
		l[nl].name = "command";
		l[nl + 1].name = "status";
		l[nl].value = "get";
		l[nl + 1].value = "hit";
		promtext_sample_u64(p->out, l, nl + 2, n->stats.get_hits);
		l[nl + 1].value = "miss";
		promtext_sample_u64(p->out, l, nl + 2, n->stats.get_misses);
		l[nl].value = "set";
		l[nl + 1].value = "hit";
		promtext_sample_u64(p->out, l, nl + 2, n->stats.cmd_set);
	}
}

/* The proxies' own figures, and each backend as each proxy sees it (label backend). */
static void
render_proxies(struct page *p)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, j, k, nl;

	promtext_family(p->out, "mcmon_node_role", PROMTEXT_GAUGE,
	    "1 for the node's role in its cluster: node (a backend) or proxy.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		nl = node_labels(n, l);
		l[nl].name = "role";
		l[nl].value = cluster_role_word(n->role);
		promtext_sample_u64(p->out, l, nl + 1, 1);
	}
	render_families(p, proxy_stats, NFAMILIES(proxy_stats), true);
	/* k: the counters' table, then the state, then the latency quantiles. */
	for (k = 0; k <= NFAMILIES(proxy_backend_stats) + 1; k++) {
		if (k < NFAMILIES(proxy_backend_stats))
			promtext_family(p->out, proxy_backend_stats[k].name,
			    proxy_backend_stats[k].type, proxy_backend_stats[k].help);
		else if (k == NFAMILIES(proxy_backend_stats))
			promtext_family(p->out, "memcached_proxy_backend_up", PROMTEXT_GAUGE,
			    "Whether the proxy counts the backend as up (0: down, ejected with "
			    "eject = yes).");
		else
			promtext_family(p->out, "memcached_proxy_backend_latency_seconds",
			    PROMTEXT_GAUGE, "The backend's reply latency as the proxy measured it "
			    "since it started (quantile 0.5 and 0.99).");
		for (i = 0; i < p->w->nnodes; i++) {
			const struct watch_node *n = &p->w->nodes[i];
			for (j = 0; n->polled && j < n->stats.nbackends; j++) {
				const struct nodestats_backend *b = &n->stats.backends[j];
				nl = backend_labels(n, b, l);
				if (k < NFAMILIES(proxy_backend_stats)) {
					promtext_sample_u64(p->out, l, nl,
					    stat_at(b, proxy_backend_stats[k].offset));
				} else if (k == NFAMILIES(proxy_backend_stats)) {
					promtext_sample_u64(p->out, l, nl, b->up ? 1 : 0);
				} else {
					l[nl].name = "quantile";
					l[nl].value = "0.5";
					promtext_sample(p->out, l, nl + 1,
					    (double)b->latency_p50_us / 1e6);
					l[nl].value = "0.99";
					promtext_sample(p->out, l, nl + 1,
					    (double)b->latency_p99_us / 1e6);
				}
			}
		}
	}
	promtext_family(p->out, "memcached_proxied_slow_ratio", PROMTEXT_GAUGE,
	    "A backend's replies slower than the threshold, of all its proxies timed, over the "
	    "tail detector's windows.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		const struct detect_tail *t = kind_tail_proxied(n);
		if (t == NULL)
			continue;
		nl = node_labels(n, l);
		l[nl].name = "window";
		l[nl].value = "short";
		promtext_sample(p->out, l, nl + 1, t->evidence.short_fraction);
		l[nl].value = "long";
		promtext_sample(p->out, l, nl + 1, t->evidence.long_fraction);
	}
}

static void
render_kernel(struct page *p)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, s, nl;
	int ls;

	promtext_family(p->out, "memcached_kernel_connections", PROMTEXT_GAUGE,
	    "Sockets of each listener by TCP state, as the kernel counts them (stats kernel).");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->polled || !n->stats.has_kernel)
			continue;
		nl = node_labels(n, l);
		l[nl].name = "listener";
		l[nl + 1].name = "state";
		for (ls = 0; ls < NODESTATS_LISTENERS; ls++) {
			if (!n->stats.listener[ls].present)
				continue;
			l[nl].value = nodestats_listener_name((enum nodestats_listener)ls);
			for (s = 0; s < NODESTATS_TCP_STATES; s++) {
				l[nl + 1].value = nodestats_tcp_state_name(s);
				promtext_sample_u64(p->out, l, nl + 2, n->stats.listener[ls].states[s]);
			}
		}
	}
	promtext_family(p->out, "memcached_kernel_accept_queue", PROMTEXT_GAUGE,
	    "Connections the kernel completed that the node has not accepted yet.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->polled || !n->stats.has_kernel)
			continue;
		nl = node_labels(n, l);
		l[nl].name = "listener";
		for (ls = 0; ls < NODESTATS_LISTENERS; ls++) {
			if (!n->stats.listener[ls].present)
				continue;
			l[nl].value = nodestats_listener_name((enum nodestats_listener)ls);
			promtext_sample_u64(p->out, l, nl + 1, n->stats.listener[ls].accept_queue);
		}
	}
	promtext_family(p->out, "memcached_kernel_backlog", PROMTEXT_GAUGE,
	    "The listen backlog of each listener.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->polled || !n->stats.has_kernel)
			continue;
		nl = node_labels(n, l);
		l[nl].name = "listener";
		for (ls = 0; ls < NODESTATS_LISTENERS; ls++) {
			if (!n->stats.listener[ls].present)
				continue;
			l[nl].value = nodestats_listener_name((enum nodestats_listener)ls);
			promtext_sample_u64(p->out, l, nl + 1, n->stats.listener[ls].backlog);
		}
	}
	promtext_family(p->out, "memcached_host_listen_overflows_total", PROMTEXT_COUNTER,
	    "Listen queue overflows of the node's host (all its listeners, host-wide).");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->polled || !n->stats.host_known)
			continue;
		nl = node_labels(n, l);
		promtext_sample_u64(p->out, l, nl, n->stats.listen_overflows);
	}
	promtext_family(p->out, "memcached_host_listen_drops_total", PROMTEXT_COUNTER,
	    "Connection requests dropped at listen by the node's host (host-wide).");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->polled || !n->stats.host_known)
			continue;
		nl = node_labels(n, l);
		promtext_sample_u64(p->out, l, nl, n->stats.listen_drops);
	}
	promtext_family(p->out, "memcached_new_connections_per_second", PROMTEXT_GAUGE,
	    "New connections per second between the two latest polls.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		const struct detect_storm *storm = kind_storm_detector(n);
		if (!storm->evidence.rate_known)
			continue;
		nl = node_labels(n, l);
		promtext_sample(p->out, l, nl, storm->evidence.rate);
	}
}

static void
histogram_sample(struct promtext *out, const struct promtext_label *l, size_t nl,
    const struct histogram *h, const uint64_t *bounds, size_t nbounds)
{
	uint64_t cumulative[HISTOGRAM_BOUNDS_MAX];
	size_t b;

	for (b = 0; b < nbounds; b++)
		cumulative[b] = histogram_count_at_most(h, bounds[b]);
	promtext_histogram_us(out, l, nl, bounds, cumulative, nbounds, h->count,
	    (double)h->sum_us / 1e6);
}

static void
render_probes(struct page *p)
{
	struct promtext_label l[LABELS_MAX];
	char help[200], thr[32];
	size_t i, nl;

	promtext_format_us(p->w->cfg->detect.tail_threshold_us, thr, sizeof(thr));
	promtext_family(p->out, "memcached_probe_duration_seconds", PROMTEXT_HISTOGRAM,
	    "Latency of the monitor's probes (a canary get or set); a timed-out probe counts "
	    "with its timeout.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		nl = node_labels(n, l);
		histogram_sample(p->out, l, nl, &n->latency, p->w->export_bounds, p->w->nexport);
	}
	snprintf(help, sizeof(help),
	    "Fraction of probes slower than the tail threshold (%s s) over the detector's short "
	    "and long windows.", thr);
	promtext_family(p->out, "memcached_probe_slow_ratio", PROMTEXT_GAUGE, help);
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		nl = node_labels(n, l);
		l[nl].name = "window";
		l[nl].value = "short";
		promtext_sample(p->out, l, nl + 1, kind_tail_detector(n)->evidence.short_fraction);
		l[nl].value = "long";
		promtext_sample(p->out, l, nl + 1, kind_tail_detector(n)->evidence.long_fraction);
	}
}

static void
render_detectors(struct page *p)
{
	struct promtext_label l[LABELS_MAX];
	const struct detect_status *st;
	size_t i, nl, k;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			promtext_family(p->out, "mcmon_detector_state", PROMTEXT_GAUGE,
			    "State of each node's detectors: 0 ok, 1 pending, 2 firing, 3 "
			    "recovering.");
		else
			promtext_family(p->out, "mcmon_detector_severity", PROMTEXT_GAUGE,
			    "Severity while a detector fires: 0 none, 1 minor, 2 major, 3 critical.");
		for (i = 0; i < p->w->nnodes; i++) {
			const struct watch_node *n = &p->w->nodes[i];
			nl = node_labels(n, l);
			l[nl].name = "detector";
			for (k = 0; k < kinds_count(); k++) { /* lib/kinds.h: each kind's label */
				st = watch_node_status(p->w, n, k);
				l[nl].value = kinds_at(k)->label;
				promtext_sample_u64(p->out, l, nl + 1,
				    pass == 0 ? (uint64_t)st->state : (uint64_t)st->severity);
			}
		}
	}
	promtext_family(p->out, "mcmon_cluster_storm_state", PROMTEXT_GAUGE,
	    "State of each cluster's storm episode: 0 ok, 2 firing, 3 recovering.");
	for (i = 0; i < p->w->nclusters; i++) {
		l[0].name = "cluster";
		l[0].value = p->w->clusters[i].name;
		promtext_sample_u64(p->out, l, 1,
		    (uint64_t)kind_storm_episode(&p->w->clusters[i])->status.state);
	}
	promtext_family(p->out, "mcmon_cluster_storm_nodes", PROMTEXT_GAUGE,
	    "Nodes of each cluster in storm now.");
	for (i = 0; i < p->w->nclusters; i++) {
		l[0].name = "cluster";
		l[0].value = p->w->clusters[i].name;
		promtext_sample_u64(p->out, l, 1,
		    kind_storm_episode(&p->w->clusters[i])->evidence.in_storm);
	}
}

/* A per-node counter of the monitor's own. */
static void
node_counter(struct page *p, const char *name, const char *help, size_t offset, bool admin_only)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, nl;

	promtext_family(p->out, name, PROMTEXT_COUNTER, help);
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (admin_only && !n->has_admin)
			continue;
		nl = node_labels(n, l);
		promtext_sample_u64(p->out, l, nl,
		    *(const uint64_t *)((const char *)n + offset));
	}
}

/* The /metrics listener's own refusals (lib/httpd.h counts them, nothing logs them). */
static void
render_http(struct page *p, const struct httpd_counts *c)
{
	const struct {
		const char *reason;
		uint64_t n;
	} reasons[] = {
		{ "busy", c->busy }, { "evicted", c->evicted }, { "timeout", c->timed_out },
		{ "bad_request", c->refused }, { "accept_error", c->accept_errors },
	};
	struct promtext_label l = { "reason", NULL };
	size_t i;

	promtext_family(p->out, "mcmon_http_refused_total", PROMTEXT_COUNTER,
	    "Connections the /metrics listener turned away since it started, by reason: busy "
	    "(503 at the connection cap), evicted (an incomplete request closed to make room), "
	    "timeout (408, or an answer not read in time), bad_request (400, 411, 413, 431), "
	    "accept_error (accept() failed).");
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		l.value = reasons[i].reason;
		promtext_sample_u64(p->out, &l, 1, reasons[i].n);
	}
}

static void
render_health(struct page *p, const struct metrics_daemon *d)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, nl;

	promtext_family(p->out, "mcmon_probes_total", PROMTEXT_COUNTER,
	    "Probes by result: ok, timeout (counted as slow too), failed.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		nl = node_labels(n, l);
		l[nl].name = "result";
		l[nl].value = "ok";
		promtext_sample_u64(p->out, l, nl + 1, n->probes_ok);
		l[nl].value = "timeout";
		promtext_sample_u64(p->out, l, nl + 1, n->probes_timeout);
		l[nl].value = "failed";
		promtext_sample_u64(p->out, l, nl + 1, n->probes_failed);
	}
	node_counter(p, "mcmon_probes_dropped_total",
	    "Probes not sent because the previous one was still in flight.",
	    offsetof(struct watch_node, probes_dropped), false);
	node_counter(p, "mcmon_polls_total", "Admin polls (stats and stats kernel) made.",
	    offsetof(struct watch_node, polls), true);
	node_counter(p, "mcmon_polls_failed_total", "Admin polls that failed or timed out.",
	    offsetof(struct watch_node, polls_failed), true);
	promtext_family(p->out, "mcmon_poll_duration_seconds", PROMTEXT_HISTOGRAM,
	    "Duration of the successful admin polls of every node.");
	histogram_sample(p->out, NULL, 0, &p->w->poll_duration, p->w->export_bounds,
	    p->w->nexport);
	promtext_family(p->out, "mcmon_incidents_opened_total", PROMTEXT_COUNTER,
	    "Incidents this process opened in the incident log.");
	promtext_sample_u64(p->out, NULL, 0, p->w->incidents_opened);
	promtext_family(p->out, "mcmon_incidents_resolved_total", PROMTEXT_COUNTER,
	    "Incidents this process resolved.");
	promtext_sample_u64(p->out, NULL, 0, p->w->incidents_resolved);
	promtext_family(p->out, "mcmon_incident_log_events_total", PROMTEXT_COUNTER,
	    "Events this process wrote to the incident log.");
	promtext_sample_u64(p->out, NULL, 0, p->w->events_written);
	promtext_family(p->out, "mcmon_incident_log_errors_total", PROMTEXT_COUNTER,
	    "Incident log writes that failed (retried at the next evaluation).");
	promtext_sample_u64(p->out, NULL, 0, p->w->incident_errors);
	promtext_family(p->out, "mcmon_state_file_errors_total", PROMTEXT_COUNTER,
	    "Writes of the state file for mctl status that failed.");
	promtext_sample_u64(p->out, NULL, 0, d->state_write_errors);
	promtext_family(p->out, "mcmon_reloads_total", PROMTEXT_COUNTER,
	    "Configuration reloads (SIGHUP) by result.");
	l[0].name = "result";
	l[0].value = "ok";
	promtext_sample_u64(p->out, l, 1, d->reloads_ok);
	l[0].value = "failed";
	promtext_sample_u64(p->out, l, 1, d->reloads_failed);
	render_http(p, &d->http);
	promtext_family(p->out, "mcmon_evaluation_duration_seconds", PROMTEXT_GAUGE,
	    "How long the latest evaluation (detectors, incident log, state file) took.");
	promtext_sample(p->out, NULL, 0, d->last_evaluate_seconds);
	promtext_family(p->out, "mcmon_start_time_seconds", PROMTEXT_GAUGE,
	    "Start time of the monitor process since the Unix epoch.");
	promtext_sample(p->out, NULL, 0, d->start_time_seconds);
}

/* --- who connects: top tenants and sources, bounded ------------------------------- */

/* A per-key figure of a node's latest poll, and what its "other" sample adds besides
 * the keys past METRICS_TOP_K (the node's own sum of the unlisted, when it gives one). */
struct key_family {
	const char *name, *help;
	enum connstats_group group;
	enum connstats_field field;
	bool rate; /* "other": the node's unlisted remainder as a rate (who.h) */
};

static const struct key_family key_families[] = {
	{ "mcops_tenant_connections", "A tenant's current connections on the node (the top "
	    "tenants by new connections, then \"other\").", CONNSTATS_TENANT,
	    CONNSTATS_CURR_CONNECTIONS, false },
	{ "mcops_tenant_new_connections_per_second", "A tenant's new connections per second on "
	    "the node, over the node's last 10 s.", CONNSTATS_TENANT, CONNSTATS_NEW_CONNS_PER_SEC,
	    true },
	{ "mcops_source_new_connections_per_second", "New connections per second from a source "
	    "prefix (/32, /24, /64) on the node, over its last 10 s.", CONNSTATS_SOURCE,
	    CONNSTATS_NEW_CONNS_PER_SEC, true },
	{ "mcops_source_unauth_connections", "Connections from a source prefix not yet "
	    "authenticated.", CONNSTATS_SOURCE, CONNSTATS_UNAUTH_CONNECTIONS, false },
};

/* The node's unlisted remainder of a family: connections of the tenants not listed,
 * or new connections per second of the unlisted, from the latest interval (who.h). */
static double
unlisted(const struct watch_node *n, const struct key_family *f)
{
	const struct who_node *who = &n->who;
	uint64_t d;

	if (f->group == CONNSTATS_TENANT && f->field == CONNSTATS_CURR_CONNECTIONS)
		return (double)n->stats.tenants_other_curr;
	if (!f->rate || who->interval_ms <= 0)
		return 0;
	d = f->group == CONNSTATS_TENANT ? who->d_tenants_other : who->d_sources_other;
	return (double)d * 1000.0 / (double)who->interval_ms;
}

static void
render_accounting(struct page *p)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, j, k, nl, nkeys;
	double other;

	for (k = 0; k < NFAMILIES(key_families); k++) {
		const struct key_family *f = &key_families[k];
		promtext_family(p->out, f->name, PROMTEXT_GAUGE, f->help);
		for (i = 0; i < p->w->nnodes; i++) {
			const struct watch_node *n = &p->w->nodes[i];
			const struct connstats_entry *keys = f->group == CONNSTATS_TENANT ?
			    n->stats.tenants : n->stats.sources;
			bool has = f->group == CONNSTATS_TENANT ? n->stats.has_tenants :
			    n->stats.has_sources;
			if (!n->poll_ok || !n->takes_clients || !has)
				continue;
			nkeys = f->group == CONNSTATS_TENANT ? n->stats.ntenants : n->stats.nsources;
			nl = node_labels(n, l);
			l[nl].name = connstats_group_name(f->group);
			other = unlisted(n, f);
			for (j = 0; j < nkeys; j++) {
				if (j >= METRICS_TOP_K) {
					other += (double)keys[j].v[f->field];
					continue;
				}
				l[nl].value = keys[j].key;
				promtext_sample_u64(p->out, l, nl + 1, keys[j].v[f->field]);
			}
			l[nl].value = METRICS_OTHER;
			promtext_sample(p->out, l, nl + 1, other);
		}
	}
}

int
metrics_render(const struct watch *w, const struct metrics_daemon *d, struct promtext *out)
{
	struct page p = { w, out };

	render_node_stats(&p);
	render_proxies(&p);
	render_accounting(&p);
	render_kernel(&p);
	render_probes(&p);
	render_detectors(&p);
	render_health(&p, d);
	return out->failed ? -1 : 0;
}

/* --- the HTTP server (lib/httpd) --------------------------------------------------- */

struct metrics_server {
	struct httpd *httpd; /* owned */
	metrics_render_fn render;
	void *arg;
	uint64_t scrapes;
};

static void
answer_text(struct httpd_response *res, int code, const char *text)
{
	httpd_reply(res, code, "text/plain; charset=utf-8", text, strlen(text));
}

static void
serve_metrics(struct metrics_server *s, struct httpd_response *res)
{
	struct promtext page;
	char msg[PROMTEXT_ERROR_MAX + 32];

	promtext_init(&page);
	if (s->render(s->arg, &page) < 0) {
		snprintf(msg, sizeof(msg), "cannot render the metrics: %s\n", page.error);
		promtext_release(&page);
		answer_text(res, 500, msg);
		return;
	}
	s->scrapes++;
	httpd_reply(res, 200, METRICS_CONTENT_TYPE, page.buf != NULL ? page.buf : "", page.len);
	promtext_release(&page);
}

static void
on_request(void *arg, const struct httpd_request *req, struct httpd_response *res)
{
	struct metrics_server *s = arg;

	if (!req->head && strcmp(req->method, "GET") != 0) {
		httpd_header(res, "Allow", "GET, HEAD");
		answer_text(res, 405, "only GET and HEAD\n");
		return;
	}
	if (strcmp(req->path, METRICS_PATH) == 0)
		serve_metrics(s, res);
	else if (strcmp(req->path, "/") == 0)
		answer_text(res, 200, "mcmon: the metrics are at /metrics\n");
	else
		answer_text(res, 404, "not found; try /metrics\n");
}

struct metrics_server *
metrics_server_start(struct event_base *base, const char *host, uint16_t port,
    metrics_render_fn render, void *arg, char *err, size_t errlen)
{
	static const struct httpd_limits limits = {
		.connections_max = METRICS_CONNECTIONS_MAX,
		.timeout_ms = METRICS_TIMEOUT_MS,
		.headers_max = METRICS_HEADERS_MAX,
		.body_max = METRICS_BODY_MAX,
		.accept_retry_ms = METRICS_ACCEPT_RETRY_MS,
	};
	struct metrics_server *s;
	char why[256];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->render = render;
	s->arg = arg;
	s->httpd = httpd_start(base, host, port, &limits, on_request, s, why, sizeof(why));
	if (s->httpd == NULL) {
		snprintf(err, errlen, "metrics_listen: %s", why);
		free(s);
		return NULL;
	}
	return s;
}

void
metrics_server_stop(struct metrics_server *s)
{
	if (s == NULL)
		return;
	httpd_stop(s->httpd);
	free(s);
}

uint64_t
metrics_server_scrapes(const struct metrics_server *s)
{
	return s->scrapes;
}

void
metrics_server_counts(const struct metrics_server *s, struct httpd_counts *out)
{
	httpd_counts(s->httpd, out);
}

int
metrics_server_accept_news(struct metrics_server *s, char *msg, size_t len)
{
	return httpd_accept_news(s->httpd, msg, len);
}
