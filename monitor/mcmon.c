/*
 * mcmon — see mcmon.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "mcmon.h"
#include "sdnotify.h"

static bool
numeric_host(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static bool
needs_resolver(const struct monconfig *cfg)
{
	size_t i;

	for (i = 0; i < cfg->clusters.nnodes; i++) {
		const struct cluster_node *n = &cfg->clusters.nodes[i];
		if (!numeric_host(n->client.host) || (n->admin.port != 0 && !numeric_host(n->admin.host)))
			return true;
	}
	return false;
}

/* Creates the directory a file goes into when it is missing (one level, like mctl). */
static int
ensure_parent(const char *path, char *err, size_t errlen)
{
	char dir[MONCONFIG_PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash == path)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Every write to the log happens on the event loop that also probes, polls and serves
 * /metrics. While another process holds the log's write lock, a write gives up after
 * about a quarter of a second (ilog's default would retry for a minute, and the loop
 * would stand still for as long: no probes, no /metrics); it is counted and the
 * evaluation retries it next time.
 */
#define MCMON_LOG_BUSY_TIMEOUT_MS 50
#define MCMON_LOG_BUSY_RETRY_MS 250

static struct ilog *
open_log(const char *path, char *err, size_t errlen)
{
	struct ilog_options opts = { .busy_timeout_ms = MCMON_LOG_BUSY_TIMEOUT_MS,
		.busy_retry_ms = MCMON_LOG_BUSY_RETRY_MS };
	char why[ILOG_ERR_LEN];
	struct ilog *log;

	if (ensure_parent(path, err, errlen) < 0)
		return NULL;
	log = ilog_open(path, &opts, why, sizeof(why));
	if (log == NULL)
		snprintf(err, errlen, "incident log: %s", why);
	return log;
}

static int
render(void *arg, struct promtext *out)
{
	struct mcmon *m = arg;

	if (m->metrics != NULL) /* the server calling is the one in m (never mid-reload) */
		metrics_server_counts(m->metrics, &m->daemon.http);
	if (metrics_render(&m->watch, &m->daemon, out) < 0)
		return -1;
	return mon_heartbeat_render(m->log, &m->beater, out);
}

static struct metrics_server *
start_metrics(struct mcmon *m, const struct monconfig_settings *set, char *err, size_t errlen)
{
	return metrics_server_start(m->base, set->metrics_host, set->metrics_port, render, m, err,
	    errlen);
}

static void
write_state(struct mcmon *m)
{
	char err[MCMON_ERR_MAX];
	const struct monconfig_settings *set = &m->cfg->set;

	if (watch_snapshot(&m->watch, &m->state, set->evaluate_interval_ms, err, sizeof(err)) ==
	    0) {
		m->state.pid = (int64_t)getpid();
		if (monstate_write(set->state_file, &m->state, err, sizeof(err)) == 0) {
			if (m->state_failing)
				log_info("state file %s written again", set->state_file);
			m->state_failing = false;
			return;
		}
	}
	m->daemon.state_write_errors++;
	if (!m->state_failing)
		log_err("state file: %s (mctl status shows an old view until it is written)", err);
	m->state_failing = true;
}

void
mcmon_evaluate(struct mcmon *m)
{
	double t0 = (double)clock_now_ns(CLOCK_MONOTONIC) / 1e9;

	watch_evaluate(&m->watch, clock_monotonic_ms());
	if (m->cfg->set.state_file[0] != '\0')
		write_state(m);
	m->daemon.last_evaluate_seconds = (double)clock_now_ns(CLOCK_MONOTONIC) / 1e9 - t0;
}

static void
arm_evaluate(struct mcmon *m, int64_t now)
{
	int64_t d = m->next_evaluate_ms > now ? m->next_evaluate_ms - now : 0;
	struct timeval tv = clock_ms_timeval(d);

	evtimer_add(m->evaluate_timer, &tv);
}

static void
on_evaluate(evutil_socket_t fd, short what, void *arg)
{
	struct mcmon *m = arg;
	int64_t period = m->cfg->set.evaluate_interval_ms, now;
	char msg[MCMON_ERR_MAX];

	(void)fd;
	(void)what;
	mcmon_evaluate(m);
	mon_history_tick(&m->history, &m->watch, m->log, ilog_now(m->log));
	if (m->metrics != NULL && metrics_server_accept_news(m->metrics, msg, sizeof(msg)))
		LOG_LIMITED(LOG_LEVEL_WARN, "metrics listener: %s", msg);
	log_flush_suppressed();
	now = clock_monotonic_ms();
	m->next_evaluate_ms += period;
	if (m->next_evaluate_ms < now - period)
		m->next_evaluate_ms = now; /* a stall: go on from here, do not catch up */
	arm_evaluate(m, now);
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct mcmon *m = arg;

	(void)fd;
	(void)what;
	m->beater.hb.interval_ms = m->cfg->set.heartbeat_interval_ms; /* a reload may change it */
	mon_heartbeat_tick(&m->beater, m->log, ilog_now(m->log));
}

static int
start_heartbeat(struct mcmon *m)
{
	struct timeval tv = { 0, MCMON_HEARTBEAT_TICK_MS * 1000 };

	ilog_beater_init(&m->beater, MCMON_DAEMON_NAME, m->cfg->set.heartbeat_interval_ms,
	    ilog_now(m->log));
	mon_heartbeat_tick(&m->beater, m->log, ilog_now(m->log));
	m->heartbeat_timer = event_new(m->base, -1, EV_PERSIST, on_heartbeat, m);
	return m->heartbeat_timer != NULL && evtimer_add(m->heartbeat_timer, &tv) == 0 ? 0 : -1;
}

static void
log_errors(const struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		log_err("%s", errs->msgs[i]);
	if (errs->dropped > 0)
		log_err("... and %zu more errors", errs->dropped);
}

static bool
same_listen(const struct monconfig_settings *a, const struct monconfig_settings *b)
{
	return a->metrics_enabled == b->metrics_enabled &&
	    (!a->metrics_enabled ||
	    (a->metrics_port == b->metrics_port && strcmp(a->metrics_host, b->metrics_host) == 0));
}

void
mcmon_reload(struct mcmon *m)
{
	struct config_errors errs = { 0 };
	struct monconfig *cfg = calloc(1, sizeof(*cfg));
	struct ilog *log = m->log;
	struct metrics_server *metrics = m->metrics;
	struct evdns_base *dns = m->dns;
	struct watch w;
	char err[MCMON_ERR_MAX];
	bool new_log = false, new_metrics = false, new_dns = false, have_watch = false;

	log_info("SIGHUP: reading %s", m->config_path);
	if (cfg == NULL) {
		log_err("reload: out of memory; keeping the running configuration");
		goto out_failed;
	}
	if (monconfig_load(cfg, m->config_path, &errs) < 0) {
		log_errors(&errs);
		log_err("reload: %s has errors; keeping the running configuration", m->config_path);
		goto out_failed;
	}
	if (strcmp(cfg->set.db_path, m->cfg->set.db_path) != 0) {
		if ((log = open_log(cfg->set.db_path, err, sizeof(err))) == NULL) {
			log_err("reload: %s; keeping the running configuration", err);
			goto out_failed;
		}
		new_log = true;
	}
	if (watch_init(&w, cfg, log, err, sizeof(err)) < 0) {
		log_err("reload: %s; keeping the running configuration", err);
		goto out_failed;
	}
	have_watch = true;
	if (!same_listen(&cfg->set, &m->cfg->set)) {
		/* The old listener goes first, in case the new one reuses its port; it is
		 * brought back if the new one cannot listen. */
		metrics_server_stop(m->metrics);
		m->metrics = NULL;
		metrics = NULL;
		if (cfg->set.metrics_enabled &&
		    (metrics = start_metrics(m, &cfg->set, err, sizeof(err))) == NULL) {
			log_err("reload: %s; keeping the running configuration", err);
			if (m->cfg->set.metrics_enabled &&
			    (m->metrics = start_metrics(m, &m->cfg->set, err, sizeof(err))) == NULL)
				log_err("metrics: %s; /metrics is not served", err);
			goto out_failed;
		}
		new_metrics = true;
	}
	if (dns == NULL && needs_resolver(cfg)) {
		dns = evdns_base_new(m->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
		new_dns = dns != NULL;
	}

	/* Committed from here on. */
	collector_stop(&m->collector);
	watch_take_over(&w, &m->watch, clock_monotonic_ms());
	watch_release(&m->watch);
	m->watch = w;
	if (new_log) {
		ilog_close(m->log);
		m->log = log;
	}
	if (new_metrics)
		m->metrics = metrics;
	m->dns = dns;
	monconfig_release(m->cfg);
	free(m->cfg);
	m->cfg = cfg;
	if (collector_start(&m->collector, m->base, m->dns, &m->watch, err, sizeof(err)) < 0)
		log_fatal("reload: cannot start polling: %s", err); /* out of memory */
	m->daemon.reloads_ok++;
	config_errors_release(&errs);
	log_info("reloaded: %zu clusters, %zu nodes", cfg->clusters.n, cfg->clusters.nnodes);
	return;
out_failed:
	m->daemon.reloads_failed++;
	config_errors_release(&errs);
	if (have_watch)
		watch_release(&w);
	if (new_log)
		ilog_close(log);
	if (new_dns)
		evdns_base_free(dns, 0);
	if (cfg != NULL) {
		monconfig_release(cfg);
		free(cfg);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mcmon *m = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* systemd's `reload` returns once READY=1 follows RELOADING=1. */
		sdnotify_reloading();
		mcmon_reload(m);
		sdnotify_ready();
		return;
	}
	log_info("signal %d: stopping", (int)sig);
	sdnotify_stopping();
	event_base_loopbreak(m->base);
}

int
mcmon_setup(struct mcmon *m, const char *config_path, struct monconfig *cfg, char *err,
    size_t errlen)
{
	const struct monconfig_settings *set = &cfg->set;
	char why[MCMON_ERR_MAX];
	int64_t now;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	snprintf(m->config_path, sizeof(m->config_path), "%s", config_path);
	m->daemon.start_time_seconds = (double)clock_wall_ms() / 1000.0;
	signal(SIGPIPE, SIG_IGN);
	if ((m->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	if (needs_resolver(cfg) &&
	    (m->dns = evdns_base_new(m->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
		log_warn("no DNS resolver (resolv.conf?): names are resolved by blocking lookups");
	if ((m->log = open_log(set->db_path, err, errlen)) == NULL)
		return -1;
	if (set->state_file[0] != '\0' && ensure_parent(set->state_file, err, errlen) < 0)
		return -1;
	if (watch_init(&m->watch, cfg, m->log, err, errlen) < 0)
		return -1;
	now = clock_monotonic_ms();
	if (watch_adopt(&m->watch, now, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "incident log: %s", why);
		return -1;
	}
	/* Signals before the /metrics port: once it accepts, a SIGHUP must find its
	 * handler, not the default action that ends the process. */
	m->evaluate_timer = evtimer_new(m->base, on_evaluate, m);
	m->sighup = evsignal_new(m->base, SIGHUP, on_signal, m);
	m->sigterm = evsignal_new(m->base, SIGTERM, on_signal, m);
	m->sigint = evsignal_new(m->base, SIGINT, on_signal, m);
	if (m->evaluate_timer == NULL || m->sighup == NULL || m->sigterm == NULL ||
	    m->sigint == NULL || evsignal_add(m->sighup, NULL) != 0 ||
	    evsignal_add(m->sigterm, NULL) != 0 || evsignal_add(m->sigint, NULL) != 0) {
		snprintf(err, errlen, "cannot set up timers and signals");
		return -1;
	}
	if (set->metrics_enabled &&
	    (m->metrics = start_metrics(m, set, err, errlen)) == NULL)
		return -1;
	if (collector_start(&m->collector, m->base, m->dns, &m->watch, err, errlen) < 0)
		return -1;
	if (start_heartbeat(m) < 0) {
		snprintf(err, errlen, "cannot set up the heartbeat timer");
		return -1;
	}
	m->next_evaluate_ms = now + set->evaluate_interval_ms;
	arm_evaluate(m, now);
	log_info("watching %zu nodes in %zu clusters; incident log %s; metrics %s%s%u",
	    cfg->clusters.nnodes, cfg->clusters.n, set->db_path,
	    set->metrics_enabled ? set->metrics_host : "off", set->metrics_enabled ? ":" : "",
	    set->metrics_enabled ? (unsigned)set->metrics_port : 0u);
	return 0;
}

int
mcmon_run(struct mcmon *m)
{
	event_base_dispatch(m->base);
	return 0;
}

void
mcmon_teardown(struct mcmon *m)
{
	collector_stop(&m->collector);
	metrics_server_stop(m->metrics);
	m->metrics = NULL;
	if (m->evaluate_timer != NULL)
		event_free(m->evaluate_timer);
	if (m->heartbeat_timer != NULL)
		event_free(m->heartbeat_timer);
	if (m->sighup != NULL)
		event_free(m->sighup);
	if (m->sigterm != NULL)
		event_free(m->sigterm);
	if (m->sigint != NULL)
		event_free(m->sigint);
	watch_release(&m->watch);
	mon_history_release(&m->history);
	if (m->dns != NULL)
		evdns_base_free(m->dns, 0);
	if (m->base != NULL)
		event_base_free(m->base);
	ilog_close(m->log);
	monstate_release(&m->state);
	if (m->cfg != NULL) {
		monconfig_release(m->cfg);
		free(m->cfg);
	}
	memset(m, 0, sizeof(*m));
}
