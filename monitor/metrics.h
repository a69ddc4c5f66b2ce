/*
 * metrics — the monitor's /metrics page in the Prometheus text format, and its
 * HTTP server (lib/httpd.h, which holds the caps and deadlines).
 *
 * Names follow memcached_exporter where the meaning is the same
 * (memcached_up, memcached_current_connections, memcached_connections_total, ...);
 * what mcops adds about a node is memcached_* too (the kernel's view, new
 * connections per second, the probe latency histogram with a bucket at the tail
 * threshold and the slow fraction); the monitor's own state and health is mcmon_*
 * (detector states, polls, failed polls, dropped probes, poll duration, incident
 * log writes, reloads, what the /metrics listener's limits turned away). Labels: cluster and node, plus listener, state, window,
 * detector, result where a family needs one. Who connects is mcops_tenant_* and
 * mcops_source_* (labels tenant, source) with bounded cardinality: per node at most
 * METRICS_TOP_K tenants and as many source prefixes (the node's busiest), and one
 * "other" sample for the rest. The page is rendered from the watch on each scrape
 * (docs/monitor.md lists every family).
 */
#ifndef MCOPS_METRICS_H
#define MCOPS_METRICS_H

#include <stdint.h>

#include "httpd.h"
#include "promtext.h"
#include "watch.h"

#define METRICS_PATH "/metrics"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_TIMEOUT_MS 10000     /* a connection's whole life, from its accept */
#define METRICS_HEADERS_MAX 8192     /* bytes of a request's line and headers */
#define METRICS_BODY_MAX 1024        /* a small body is read so that a POST gets its 405 */
#define METRICS_CONNECTIONS_MAX 16   /* open at once; see metrics_server_start() */
#define METRICS_ACCEPT_RETRY_MS 1000 /* accept() failed (no descriptor left): pause */
#define METRICS_TOP_K 10             /* tenants, and source prefixes, per node per family */
#define METRICS_OTHER "other"        /* the label value of the rest */

/* The daemon's own numbers that the watch does not hold. */
struct metrics_daemon {
	uint64_t reloads_ok, reloads_failed;
	uint64_t state_write_errors;
	double last_evaluate_seconds; /* how long the latest evaluation took */
	double start_time_seconds;    /* UTC, of this process */
	struct httpd_counts http;     /* the /metrics listener's, since it started */
};

/* Renders the page into out (initialised by the caller). -1 with out->error. */
int metrics_render(const struct watch *w, const struct metrics_daemon *d, struct promtext *out);

/* Called for each scrape: render the current page into out. */
typedef int (*metrics_render_fn)(void *arg, struct promtext *out);

struct metrics_server;
struct event_base;

/*
 * Listens on host:port (a numeric address) and serves METRICS_PATH by calling
 * render(arg) ("/" says where the metrics are); GET and HEAD only (405), other paths
 * 404. One request per connection (Connection: close). Limits (lib/httpd.h): at most
 * METRICS_CONNECTIONS_MAX connections, and a new one evicts the oldest whose request
 * is incomplete, so idle or trickling sockets never keep a scrape out (503 only when
 * all of them are being answered); each connection lives at most METRICS_TIMEOUT_MS
 * from its accept (408 if its request is not complete by then); a request's line and
 * headers at most METRICS_HEADERS_MAX bytes (431); a body over METRICS_BODY_MAX 413. NULL with err if it
 * cannot bind.
 */
struct metrics_server *metrics_server_start(struct event_base *base, const char *host,
    uint16_t port, metrics_render_fn render, void *arg, char *err, size_t errlen);
void metrics_server_stop(struct metrics_server *s);
/* Scrapes served. */
uint64_t metrics_server_scrapes(const struct metrics_server *s);
/* What the listener's limits did (lib/httpd.h), for the page. */
void metrics_server_counts(const struct metrics_server *s, struct httpd_counts *out);
/* httpd_accept_news() of the listener: for the daemon's timer to log. */
int metrics_server_accept_news(struct metrics_server *s, char *msg, size_t len);

#endif
