/*
 * metrics — see metrics.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "kind.h"
#include "log.h"
#include "metrics.h"

#define LABELS_MAX PROMTEXT_LABELS_MAX

/* Per-node counters and gauges straight from the latest poll, memcached_exporter's names. */
static const struct {
	const char *name;
	enum promtext_type type;
	const char *help;
	size_t offset;
} node_stats[] = {
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
stat_at(const struct nodestats *st, size_t offset)
{
	return *(const uint64_t *)((const char *)st + offset);
}

static void
render_node_stats(struct page *p)
{
	struct promtext_label l[LABELS_MAX];
	size_t i, k, nl;

	promtext_family(p->out, "memcached_up", PROMTEXT_GAUGE,
	    "Whether the latest admin poll of the node succeeded.");
	for (i = 0; i < p->w->nnodes; i++) {
		const struct watch_node *n = &p->w->nodes[i];
		if (!n->has_admin)
			continue;
		nl = node_labels(n, l);
		promtext_sample_u64(p->out, l, nl, n->poll_ok ? 1 : 0);
	}
	for (k = 0; k < sizeof(node_stats) / sizeof(node_stats[0]); k++) {
		promtext_family(p->out, node_stats[k].name, node_stats[k].type, node_stats[k].help);
		for (i = 0; i < p->w->nnodes; i++) {
			const struct watch_node *n = &p->w->nodes[i];
			if (!n->polled)
				continue;
			nl = node_labels(n, l);
			promtext_sample_u64(p->out, l, nl, stat_at(&n->stats, node_stats[k].offset));
		}
	}
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
	promtext_family(p->out, "mcmon_evaluation_duration_seconds", PROMTEXT_GAUGE,
	    "How long the latest evaluation (detectors, incident log, state file) took.");
	promtext_sample(p->out, NULL, 0, d->last_evaluate_seconds);
	promtext_family(p->out, "mcmon_start_time_seconds", PROMTEXT_GAUGE,
	    "Start time of the monitor process since the Unix epoch.");
	promtext_sample(p->out, NULL, 0, d->start_time_seconds);
}

int
metrics_render(const struct watch *w, const struct metrics_daemon *d, struct promtext *out)
{
	struct page p = { w, out };

	render_node_stats(&p);
	render_kernel(&p);
	render_probes(&p);
	render_detectors(&p);
	render_health(&p, d);
	return out->failed ? -1 : 0;
}

/* --- the HTTP server ------------------------------------------------------------- */

/*
 * A small HTTP/1.x server of its own rather than evhttp: libevent 2.1's evhttp has no
 * limit on connections and only an inactivity timeout, so scrapers that connect and
 * trickle their request (or never read the page) could hold any number of
 * descriptors for as long as they like, until the probes and polls, the state file
 * and a reload could not open one; and with no descriptor left, its accept() failed
 * on every loop turn with a line in the log each time. Here at most
 * METRICS_CONNECTIONS_MAX connections are open at once (the others wait in the
 * kernel's backlog), each lives at most METRICS_TIMEOUT_S from its accept, a request
 * is read up to METRICS_HEADERS_MAX bytes, and one answer ends the connection.
 */

struct metrics_conn {
	struct metrics_server *s;
	struct bufferevent *bev; /* owned; closes the socket */
	struct event *deadline;  /* owned */
	struct metrics_conn *prev, *next;
	bool answered; /* the reply is queued; the connection ends once it is sent */
};

struct metrics_server {
	struct event_base *base;
	struct evconnlistener *listener; /* owned */
	struct event *resume;            /* owned: accepting again after accept() failed */
	bool accept_paused;              /* accept() failed; waiting for resume */
	metrics_render_fn render;
	void *arg;
	uint64_t scrapes;
	struct metrics_conn *conns; /* owned, open connections */
	size_t nconns;
};

/* Accepts when neither the connection limit nor an accept failure says otherwise. */
static void
update_accepting(struct metrics_server *s)
{
	if (!s->accept_paused && s->nconns < METRICS_CONNECTIONS_MAX)
		evconnlistener_enable(s->listener);
	else
		evconnlistener_disable(s->listener);
}

static void
conn_free(struct metrics_conn *c)
{
	struct metrics_server *s = c->s;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
	if (s->nconns == METRICS_CONNECTIONS_MAX - 1)
		update_accepting(s); /* a place came free */
}

/* Queues the whole answer; the connection ends when it has been sent. */
static void
answer(struct metrics_conn *c, int code, const char *reason, const char *content_type,
    const char *extra_header, const char *body, size_t len, bool head)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
	    "%zu\r\n%sConnection: close\r\n\r\n", code, reason, content_type, len,
	    extra_header != NULL ? extra_header : "") < 0 ||
	    (!head && len > 0 && evbuffer_add(out, body, len) < 0)) {
		conn_free(c);
		return;
	}
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
answer_text(struct metrics_conn *c, int code, const char *reason, const char *extra_header,
    const char *text, bool head)
{
	answer(c, code, reason, "text/plain; charset=utf-8", extra_header, text, strlen(text),
	    head);
}

static void
serve_metrics(struct metrics_conn *c, bool head)
{
	struct metrics_server *s = c->s;
	struct promtext page;
	char msg[PROMTEXT_ERROR_MAX + 32];

	promtext_init(&page);
	if (s->render(s->arg, &page) < 0) {
		snprintf(msg, sizeof(msg), "cannot render the metrics: %s\n", page.error);
		promtext_release(&page);
		answer_text(c, 500, "Internal Server Error", NULL, msg, head);
		return;
	}
	s->scrapes++;
	answer(c, 200, "OK", METRICS_CONTENT_TYPE, NULL, page.buf != NULL ? page.buf : "",
	    page.len, head);
	promtext_release(&page);
}

static bool
token_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(p, word, n) == 0;
}

/* The request line "METHOD target HTTP/1.x" of line[0..len), answered. */
static void
serve_request(struct metrics_conn *c, const char *line, size_t len)
{
	const char *end = line + len, *sp1, *sp2, *target, *path, *q;
	size_t tlen, plen;
	bool head;

	sp1 = memchr(line, ' ', len);
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	if (sp1 == NULL || sp2 == NULL || sp2 == sp1 + 1 || (size_t)(end - sp2 - 1) != 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		answer_text(c, 400, "Bad Request", NULL, "bad request\n", false);
		return;
	}
	head = token_is(line, (size_t)(sp1 - line), "HEAD");
	if (!head && !token_is(line, (size_t)(sp1 - line), "GET")) {
		answer_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
		    "only GET and HEAD\n", false);
		return;
	}
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	path = target;
	/* The absolute form "http://host:port/metrics" names the same path. */
	if (tlen > 7 && memcmp(target, "http://", 7) == 0) {
		path = memchr(target + 7, '/', tlen - 7);
		if (path == NULL)
			path = sp2;
	}
	q = memchr(path, '?', (size_t)(sp2 - path));
	plen = (size_t)((q != NULL ? q : sp2) - path);
	if (token_is(path, plen, METRICS_PATH))
		serve_metrics(c, head);
	else if (token_is(path, plen, "/"))
		answer_text(c, 200, "OK", NULL, "mcmon: the metrics are at /metrics\n", head);
	else
		answer_text(c, 404, "Not Found", NULL, "not found; try /metrics\n", head);
}

static void
on_conn_read(struct bufferevent *bev, void *arg)
{
	struct metrics_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in), scan = len < METRICS_HEADERS_MAX ? len :
	    METRICS_HEADERS_MAX;
	const char *p, *nl, *end_crlf, *end_lf;
	size_t llen;

	if (c->answered) {
		evbuffer_drain(in, len);
		return;
	}
	if ((p = (const char *)evbuffer_pullup(in, (ev_ssize_t)scan)) == NULL) {
		conn_free(c);
		return;
	}
	end_crlf = memmem(p, scan, "\r\n\r\n", 4);
	end_lf = memmem(p, scan, "\n\n", 2);
	if (end_crlf == NULL && end_lf == NULL) {
		if (len >= METRICS_HEADERS_MAX)
			answer_text(c, 431, "Request Header Fields Too Large", NULL,
			    "request headers too large\n", false);
		return; /* more to come, until the deadline */
	}
	nl = memchr(p, '\n', scan);
	llen = (size_t)(nl - p);
	if (llen > 0 && p[llen - 1] == '\r')
		llen--;
	serve_request(c, p, llen);
}

static void
on_conn_written(struct bufferevent *bev, void *arg)
{
	struct metrics_conn *c = arg;

	if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct metrics_conn *c = arg;

	(void)bev;
	/* A client that half-closes after its request still gets the answer. */
	if (c->answered && !(what & BEV_EVENT_ERROR))
		return;
	conn_free(c);
}

static void
on_conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_free(arg);
}

static void
on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct metrics_server *s = arg;
	struct timeval life = { METRICS_TIMEOUT_S, 0 };
	struct metrics_conn *c = calloc(1, sizeof(*c));

	(void)listener;
	(void)sa;
	(void)salen;
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->s = s;
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(s->base, on_conn_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	bufferevent_setcb(c->bev, on_conn_read, on_conn_written, on_conn_event, c);
	evtimer_add(c->deadline, &life);
	if (bufferevent_enable(c->bev, EV_READ) != 0) {
		conn_free(c);
		return;
	}
	if (s->nconns >= METRICS_CONNECTIONS_MAX)
		update_accepting(s);
}

/* accept() failed for a reason that will not pass by itself at once (no descriptor
 * left): pause rather than fail again on every turn of the loop. */
static void
on_accept_error(struct evconnlistener *listener, void *arg)
{
	struct metrics_server *s = arg;
	struct timeval pause = { METRICS_ACCEPT_RETRY_MS / 1000,
		(METRICS_ACCEPT_RETRY_MS % 1000) * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	(void)listener;
	LOG_LIMITED(LOG_LEVEL_WARN, "metrics: accept: %s; not accepting for %d ms", strerror(e),
	    METRICS_ACCEPT_RETRY_MS);
	s->accept_paused = true;
	update_accepting(s);
	evtimer_add(s->resume, &pause);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_server *s = arg;

	(void)fd;
	(void)what;
	s->accept_paused = false;
	update_accepting(s);
}

struct metrics_server *
metrics_server_start(struct event_base *base, const char *host, uint16_t port,
    metrics_render_fn render, void *arg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t salen;
	struct metrics_server *s;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		salen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		salen = sizeof(*sin6);
	} else {
		snprintf(err, errlen, "metrics_listen %s:%u: not a numeric address", host,
		    (unsigned)port);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->resume = evtimer_new(base, on_resume, s)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->render = render;
	s->arg = arg;
	s->listener = evconnlistener_new_bind(base, on_accept, s, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, METRICS_BACKLOG, (struct sockaddr *)&ss,
	    (int)salen);
	if (s->listener == NULL) {
		snprintf(err, errlen, "metrics_listen %s:%u: cannot listen (in use, or not an "
		    "address of this host)", host, (unsigned)port);
		event_free(s->resume);
		free(s);
		return NULL;
	}
	evconnlistener_set_error_cb(s->listener, on_accept_error);
	return s;
}

void
metrics_server_stop(struct metrics_server *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_free(s->conns);
	evconnlistener_free(s->listener);
	event_free(s->resume);
	free(s);
}

uint64_t
metrics_server_scrapes(const struct metrics_server *s)
{
	return s->scrapes;
}
