/*
 * mcstatus — see mcstatus.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "clock.h"
#include "config.h"
#include "ilog.h"
#include "ilog_heartbeat.h"
#include "ilog_maintenance.h"
#include "ilog_outbox.h"
#include "log.h"
#include "mailer.h"
#include "maintwindow.h"
#include "mcstatus.h"
#include "push.h"
#include "serve.h"
#include "sink.h"
#include "subscribe.h"
#include "statussite/statussite.h"
#include "sdnotify.h"

#define STARTED_EVENT "statuspage_started"

struct mcstatus {
	char config_path[SP_PATH_MAX];
	struct config cfg;
	struct sp_config sp;
	struct ilog *log;
	pthread_mutex_t dblock;  /* log is shared with the sinks' threads (push.h) */
	struct event_base *base;
	struct event *tick, *sigterm, *sigint, *sighup;
	struct serve *serve;
	int64_t cursor;
	int64_t next_render;
	bool fatal;
	struct textbuf payload;
	/* Sinks: each public change is queued for every one; push.c delivers. */
	struct sink_conf *sinks; /* SINKS_MAX */
	size_t nsinks;
	struct push *push;
	bool enqueued;           /* since the last push_notify() */
	/* Subscribers: the endpoints (subscribe.c) and the sender (mailer.c). */
	struct subs_conf *subs_conf; /* holds secrets: wiped when replaced */
	struct subs *subs;
	struct mailer *mailer;
	bool mail_queued;        /* since the last mailer_notify() */
	/* Heartbeats go through a connection of their own with short busy limits: the
	 * shared one waits a minute for a locked log, under dblock. */
	struct ilog *beat_log;
	struct ilog_beater beater;
	struct ilog_maint_occurrence occ[MAINT_WINDOWS_MAX]; /* maintenance_windows()'s */
};

static void
errors_join(const struct config_errors *errs, char *err, size_t errlen)
{
	size_t i, o = 0;

	err[0] = '\0';
	for (i = 0; i < errs->n && o < errlen; i++)
		o += (size_t)snprintf(err + o, errlen - o, "%s%s", i ? "\n" : "", errs->msgs[i]);
	if (errs->dropped && o < errlen)
		snprintf(err + o, errlen - o, "\n(%zu more errors)", errs->dropped);
}

static bool
owns(const char *section)
{
	return spconfig_owns(section) || sink_owns(section) || subs_owns(section);
}

/* Loads path into cfg, sp, sinks (SINKS_MAX, *nsinks set) and subs; 0, or -1 with
 * every problem in err. */
static int
load(const char *path, struct config *cfg, struct sp_config *sp, struct sink_conf *sinks,
    size_t *nsinks, struct subs_conf *subs, char *err, size_t errlen)
{
	struct config_errors errs = { 0 };
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (config_load(cfg, path, &errs) < 0) {
		errors_join(&errs, err, errlen);
		config_errors_release(&errs);
		config_release(cfg);
		return -1;
	}
	spconfig_load(cfg, sp, true, &errs);
	sink_load_all(cfg, sinks, nsinks, &errs);
	subs_load(cfg, sp, subs, &errs);
	config_check_unknown(cfg, owns, &errs);
	if (errs.n + errs.dropped > 0) {
		errors_join(&errs, err, errlen);
		config_release(cfg);
		rc = -1;
	}
	config_errors_release(&errs);
	return rc;
}

struct mcstatus_scratch {
	struct sp_config sp;
	struct sink_conf sinks[SINKS_MAX];
	struct subs_conf subs;
};

struct mcstatus_scratch *
mcstatus_scratch_new(void)
{
	return calloc(1, sizeof(struct mcstatus_scratch));
}

void
mcstatus_scratch_free(struct mcstatus_scratch *s)
{
	if (s != NULL) {
		explicit_bzero(s->sinks, sizeof(s->sinks));
		explicit_bzero(&s->subs, sizeof(s->subs));
	}
	free(s);
}

int
mcstatus_check_in(struct mcstatus_scratch *s, const char *path, char *err, size_t errlen)
{
	struct config cfg;
	size_t n;
	int rc;

	if ((rc = load(path, &cfg, &s->sp, s->sinks, &n, &s->subs, err, errlen)) == 0)
		config_release(&cfg);
	/* The sinks' and the relay's credentials do not outlive the check. */
	explicit_bzero(s->sinks, sizeof(s->sinks));
	explicit_bzero(&s->subs, sizeof(s->subs));
	return rc;
}

int
mcstatus_check(const char *path, char *err, size_t errlen)
{
	struct mcstatus_scratch *s = mcstatus_scratch_new();
	int rc;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = mcstatus_check_in(s, path, err, errlen);
	mcstatus_scratch_free(s);
	return rc;
}

/* Renders the site from the log as it is now. 0, or -1 (logged, rate-limited). */
static int
render(struct mcstatus *d, struct model *m)
{
	char err[MCSTATUS_ERR_MAX];
	struct site_result res;
	int64_t t0 = clock_wall_ms();

	if (model_load(m, &d->sp, d->log, t0, err, sizeof(err)) < 0) {
		LOG_LIMITED(LOG_LEVEL_ERR, "reading the incident log: %s", err);
		return -1;
	}
	if (site_render(m, d->sp.dir, &res, err, sizeof(err)) < 0) {
		LOG_LIMITED(LOG_LEVEL_ERR, "writing the site: %s", err);
		model_release(m);
		return -1;
	}
	d->next_render = t0 + d->sp.rerender_ms;
	/* A maintenance that starts or ends changes the page without an event (a
	 * configured window's occurrence may not be recorded yet). */
	if (m->next_change != 0 && m->next_change < d->next_render)
		d->next_render = m->next_change;
	if (res.written > 0)
		log_debug("rendered %zu files (%zu unchanged) in %lld ms", res.written,
		    res.unchanged, (long long)(clock_wall_ms() - t0));
	return 0;
}

/* Enqueues ev's public update for every sink and every subscriber of the components
 * it affects. 0, or -1 (the batch is retried). */
static int
enqueue(struct mcstatus *d, const struct model *m, const struct ilog_event *ev)
{
	char err[ILOG_ERR_LEN];
	size_t i, queued = 0;
	int rc;

	if (d->nsinks == 0 && !d->subs_conf->on)
		return 0;
	if ((rc = payload_build(m, ev, &d->payload)) <= 0) {
		if (rc < 0)
			LOG_LIMITED(LOG_LEVEL_ERR, "event %lld: cannot build its payload",
			    (long long)ev->id);
		return rc;
	}
	for (i = 0; i < d->nsinks; i++) {
		if (ilog_outbox_enqueue(d->log, d->sinks[i].name, ev->id, d->payload.data, NULL,
			NULL, err, sizeof(err)) != ILOG_OK) {
			LOG_LIMITED(LOG_LEVEL_ERR, "sink %s: cannot queue event %lld: %s",
			    d->sinks[i].name, (long long)ev->id, err);
			return -1;
		}
		d->enqueued = true;
	}
	/* Subscribers hear of what touches their components: the payload's, so that an
	 * incident and a maintenance are told alike. */
	if (d->subs_conf->on) {
		if (subs_fanout(d->subs, ev->id, subs_payload_mask(&d->sp, d->payload.data),
		    d->payload.data, &queued, err, sizeof(err)) < 0) {
			LOG_LIMITED(LOG_LEVEL_ERR, "subscribers: cannot queue event %lld: %s",
			    (long long)ev->id, err);
			return -1;
		}
		if (queued > 0)
			d->mail_queued = true;
	}
	return 0;
}

/* Handles the events after the cursor, batch by batch. */
static void
process(struct mcstatus *d)
{
	struct ilog_events evs = { 0 };
	char err[ILOG_ERR_LEN];
	struct model m;
	size_t i;

	for (;;) {
		bool public = false, rendered = false;
		size_t done = 0;

		if (ilog_tail(d->log, d->cursor, 0, &evs, err, sizeof(err)) != ILOG_OK) {
			LOG_LIMITED(LOG_LEVEL_ERR, "tailing the incident log: %s", err);
			break;
		}
		if (evs.n == 0)
			break;
		for (i = 0; i < evs.n; i++)
			if (payload_event_is_public(evs.v[i].type))
				public = true;
		if (public) {
			if (render(d, &m) < 0)
				break;
			rendered = true;
			for (done = 0; done < evs.n; done++)
				if (payload_event_is_public(evs.v[done].type) &&
				    enqueue(d, &m, &evs.v[done]) < 0)
					break;
			model_release(&m);
		} else {
			done = evs.n;
		}
		if (done > 0) {
			int64_t last = evs.v[done - 1].id;

			if (ilog_cursor_set(d->log, MCSTATUS_CONSUMER, last, err, sizeof(err)) !=
			    ILOG_OK)
				LOG_LIMITED(LOG_LEVEL_ERR, "storing the cursor: %s", err);
			else
				d->cursor = last;
		}
		(void)rendered;
		if (d->enqueued) {
			push_notify(d->push);
			d->enqueued = false;
		}
		if (d->mail_queued) {
			mailer_notify(d->mailer);
			d->mail_queued = false;
		}
		if (done < evs.n || !evs.truncated)
			break;
	}
	ilog_events_release(&evs);
}

static void
beat(struct mcstatus *d)
{
	char line[ILOG_ERR_LEN];
	enum ilog_beat_result r;

	d->beater.hb.interval_ms = d->sp.heartbeat_interval_ms; /* a reload may change it */
	r = ilog_beater_tick(&d->beater, d->beat_log, clock_wall_ms(), line, sizeof(line));
	if (r == ILOG_BEAT_FAILED)
		log_warn("%s", line);
	else if (r == ILOG_BEAT_RECOVERED)
		log_info("%s", line);
}

/*
 * Writes the started/completed events of maintenances whose time has come (no command
 * does), each once ever: the log remembers what was announced in the same
 * transaction, so a restart or a second mcstatus writes nothing twice. The events are
 * then published as any other, from the tail.
 */
static void
maintenance_edges(struct mcstatus *d)
{
	char err[ILOG_ERR_LEN];
	size_t n = 0;

	if (ilog_maint_advance(d->log, MCSTATUS_CONSUMER, &n, err, sizeof(err)) != ILOG_OK)
		LOG_LIMITED(LOG_LEVEL_ERR, "announcing maintenances: %s", err);
	else if (n > 0)
		log_info("%zu maintenance starts or ends to announce", n);
}

/*
 * Records the configuration's public windows' occurrences as maintenances of the log
 * once they come within their lead time, and cancels (or completes) the rows of those
 * the configuration no longer has, so that they are announced as scheduled ones are
 * (maintenance_edges() then announces their starts and ends). Once ever each: the
 * log looks for the row in the transaction that writes it.
 */
static void
maintenance_windows(struct mcstatus *d)
{
	struct ilog_maint_sync_result res;
	char err[ILOG_ERR_LEN];
	int64_t now = ilog_now(d->log);
	size_t i, n = 0;

	for (i = 0; i < d->sp.nwindows && n < MAINT_WINDOWS_MAX; i++)
		if (maint_window_as_row(&d->sp.windows[i], now, &d->occ[n]))
			n++;
	if (ilog_maint_sync(d->log, MAINT_WINDOW_SOURCE_PREFIX, d->occ, n, MCSTATUS_CONSUMER,
	    &res, err, sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "recording the maintenance windows: %s", err);
		return;
	}
	if (res.refused > 0)
		LOG_LIMITED(LOG_LEVEL_WARN, "%zu maintenance windows cannot be announced: %s",
		    res.refused, res.why);
	if (res.recorded + res.cancelled + res.completed > 0)
		log_info("maintenance windows: %zu occurrences recorded, %zu cancelled, %zu "
			 "completed", res.recorded, res.cancelled, res.completed);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct mcstatus *d = arg;
	char err[ILOG_ERR_LEN];
	int64_t last = 0;
	struct model m;

	(void)fd;
	(void)what;
	beat(d);
	pthread_mutex_lock(&d->dblock);
	maintenance_windows(d);
	maintenance_edges(d);
	/* The highest event id against the cursor: one index lookup per poll. */
	if (ilog_last_event_id(d->log, &last, err, sizeof(err)) != ILOG_OK)
		LOG_LIMITED(LOG_LEVEL_ERR, "polling the incident log: %s", err);
	else if (last > d->cursor)
		process(d);
	if (clock_wall_ms() >= d->next_render && render(d, &m) == 0)
		model_release(&m);
	pthread_mutex_unlock(&d->dblock);
	if (d->serve != NULL && serve_accept_news(d->serve, err, sizeof(err)))
		LOG_LIMITED(LOG_LEVEL_WARN, "status site: %s", err);
	log_flush_suppressed();
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct mcstatus *d = arg;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	sdnotify_stopping();
	event_base_loopbreak(d->base);
}

static void reload(struct mcstatus *d);

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	/* systemd's `reload` returns once READY=1 follows RELOADING=1. */
	sdnotify_reloading();
	reload(arg);
	sdnotify_ready();
}

/* SIGHUP: the configuration again, kept as it was when the new one has errors. */
static void
reload(struct mcstatus *d)
{
	char err[MCSTATUS_ERR_MAX * 4];
	struct sp_config *sp = malloc(sizeof(*sp));
	struct sink_conf *sinks = calloc(SINKS_MAX, sizeof(*sinks));
	struct subs_conf *subs = calloc(1, sizeof(*subs));
	struct mailer *mailer;
	struct push *push;
	struct config cfg;
	size_t nsinks = 0;

	if (sp == NULL || sinks == NULL || subs == NULL ||
	    load(d->config_path, &cfg, sp, sinks, &nsinks, subs, err, sizeof(err)) < 0) {
		log_err("reload refused, keeping the running configuration:\n%s",
		    sp == NULL || sinks == NULL || subs == NULL ? "out of memory" : err);
		free(sp);
		free(sinks);
		if (subs != NULL)
			explicit_bzero(subs, sizeof(*subs));
		free(subs);
		return;
	}
	if (subs->on && !d->subs_conf->on)
		log_warn("reload: [subscribers] turned on takes effect at the next start");
	if (strcmp(sp->db_path, d->sp.db_path) != 0 || strcmp(sp->listen, d->sp.listen) != 0 ||
	    strcmp(sp->dir, d->sp.dir) != 0)
		log_warn("reload: [log] path, [statuspage] dir and listen take effect at the "
			 "next start");
	snprintf(sp->db_path, sizeof(sp->db_path), "%s", d->sp.db_path);
	snprintf(sp->listen, sizeof(sp->listen), "%s", d->sp.listen);
	snprintf(sp->dir, sizeof(sp->dir), "%s", d->sp.dir);
	/* The sinks' threads restart with the new settings; what was queued stays queued
	 * in the log and goes out in order (a removed sink's queue just waits). */
	push_stop(d->push);
	d->push = NULL;
	if ((push = push_start(d->log, &d->dblock, sinks, nsinks, sp->dir, err, sizeof(err))) ==
	    NULL)
		log_err("reload: the sinks cannot start (%s); restart mcstatus", err);
	d->push = push;
	explicit_bzero(d->sinks, SINKS_MAX * sizeof(*d->sinks));
	memcpy(d->sinks, sinks, nsinks * sizeof(*sinks));
	d->nsinks = nsinks;
	explicit_bzero(sinks, SINKS_MAX * sizeof(*sinks));
	free(sinks);
	config_release(&d->cfg);
	d->cfg = cfg;
	d->sp = *sp;
	free(sp);
	/* The endpoints read the new settings from the next request on; the sender
	 * restarts with them (what is queued stays queued). */
	subs->on = subs->on && d->subs_conf->on;
	mailer_stop(d->mailer);
	d->mailer = NULL;
	explicit_bzero(d->subs_conf, sizeof(*d->subs_conf));
	free(d->subs_conf);
	d->subs_conf = subs;
	subs_configure(d->subs, d->subs_conf, &d->sp);
	if ((mailer = mailer_start(d->log, &d->dblock, d->subs_conf, &d->sp, err,
	    sizeof(err))) == NULL)
		log_err("reload: the subscribers' sender cannot start (%s); restart mcstatus", err);
	d->mailer = mailer;
	d->next_render = 0; /* names and components may have changed */
	push_notify(d->push);
	log_info("configuration reloaded, %zu sinks", d->nsinks);
}

/* The form queued a confirmation: the sender takes it now. */
static void
on_mail_queued(void *arg)
{
	mailer_notify(((struct mcstatus *)arg)->mailer);
}

struct mcstatus *
mcstatus_new(const char *config_path, char *err, size_t errlen)
{
	struct mcstatus *d = calloc(1, sizeof(*d));
	struct timeval tv;
	struct ilog_events first = { 0 };
	struct ilog_options beat_opts = { .busy_timeout_ms = ILOG_HEARTBEAT_BUSY_TIMEOUT_MS,
		.busy_retry_ms = ILOG_HEARTBEAT_BUSY_RETRY_MS };
	int64_t last = 0;
	size_t n;

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(d->config_path, sizeof(d->config_path), "%s", config_path);
	pthread_mutex_init(&d->dblock, NULL);
	if ((d->sinks = calloc(SINKS_MAX, sizeof(*d->sinks))) == NULL ||
	    (d->subs_conf = calloc(1, sizeof(*d->subs_conf))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(d->sinks);
		free(d);
		return NULL;
	}
	if (load(config_path, &d->cfg, &d->sp, d->sinks, &d->nsinks, d->subs_conf, err,
	    errlen) < 0) {
		explicit_bzero(d->subs_conf, sizeof(*d->subs_conf));
		free(d->subs_conf);
		free(d->sinks);
		free(d);
		return NULL;
	}
	if (mkdir(d->sp.dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "[statuspage] dir %s: %s", d->sp.dir, strerror(errno));
		goto fail;
	}
	if ((n = site_clean_temporary(d->sp.dir)) > 0)
		log_info("removed %zu temporary files a previous run left in %s", n, d->sp.dir);
	if ((d->log = ilog_open(d->sp.db_path, &(const struct ilog_options){ .busy_timeout_ms = 50,
	    .busy_retry_ms = 250 }, err, errlen)) == NULL || /* as mcmon's: a held log is retried */
	    (d->beat_log = ilog_open(d->sp.db_path, &beat_opts, err, errlen)) == NULL)
		goto fail;
	ilog_beater_init(&d->beater, MCSTATUS_CONSUMER, d->sp.heartbeat_interval_ms, clock_wall_ms());
	if (ilog_cursor_get(d->log, MCSTATUS_CONSUMER, &d->cursor, err, errlen) != ILOG_OK ||
	    ilog_last_event_id(d->log, &last, err, errlen) != ILOG_OK ||
	    ilog_tail(d->log, 0, 1, &first, err, errlen) != ILOG_OK)
		goto fail;
	if (first.n == 0 &&
	    ilog_event_append(d->log, 0, MCSTATUS_CONSUMER, STARTED_EVENT, NULL, &last, err,
		errlen) != ILOG_OK) {
		/* An empty log: this event marks when the page's history starts (days before
		 * it show "No data"). */
		ilog_events_release(&first);
		goto fail;
	}
	ilog_events_release(&first);
	if (d->cursor == 0 && last > 0) {
		/* A first run pushes nothing from before it: the sinks get what happens
		 * from now on, the page shows the whole history. */
		d->cursor = last;
		if (ilog_cursor_set(d->log, MCSTATUS_CONSUMER, last, err, errlen) != ILOG_OK)
			goto fail;
		log_info("first run: publishing the changes after event %lld", (long long)last);
	}
	if ((d->push = push_start(d->log, &d->dblock, d->sinks, d->nsinks, d->sp.dir, err,
	    errlen)) == NULL)
		goto fail;
	if ((d->subs = subs_new(d->log, &d->dblock)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	subs_configure(d->subs, d->subs_conf, &d->sp);
	if ((d->mailer = mailer_start(d->log, &d->dblock, d->subs_conf, &d->sp, err,
	    errlen)) == NULL)
		goto fail;
	if ((d->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		goto fail;
	}
	/* Signals before the page's port: once it accepts, a SIGHUP must find its handler,
	 * not the default action that ends the process. */
	d->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	d->sigterm = evsignal_new(d->base, SIGTERM, on_stop, d);
	d->sigint = evsignal_new(d->base, SIGINT, on_stop, d);
	d->sighup = evsignal_new(d->base, SIGHUP, on_reload, d);
	if (d->tick == NULL || d->sigterm == NULL || d->sigint == NULL || d->sighup == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	event_add(d->sigterm, NULL);
	event_add(d->sigint, NULL);
	event_add(d->sighup, NULL);
	if (d->sp.listen[0] != '\0' &&
	    (d->serve = serve_start(d->base, d->sp.listen, d->sp.dir,
		d->subs_conf->on ? d->subs : NULL, on_mail_queued, d, err, errlen)) == NULL)
		goto fail;
	tv = clock_ms_timeval(d->sp.poll_ms);
	event_add(d->tick, &tv);
	return d;
fail:
	mcstatus_free(d);
	return NULL;
}

int
mcstatus_run(struct mcstatus *d)
{
	struct model m;

	log_info("publishing %s to %s%s%s, %zu components, %zu sinks", d->sp.name, d->sp.dir,
	    d->sp.listen[0] ? ", serving on " : "", d->sp.listen, d->sp.ncomps, d->nsinks);
	/* Catch up first: what happened while we were down, then the page as it is. */
	pthread_mutex_lock(&d->dblock);
	maintenance_windows(d);
	maintenance_edges(d);
	process(d);
	if (render(d, &m) == 0)
		model_release(&m);
	pthread_mutex_unlock(&d->dblock);
	event_base_dispatch(d->base);
	return d->fatal ? -1 : 0;
}

void
mcstatus_free(struct mcstatus *d)
{
	if (d == NULL)
		return;
	push_stop(d->push);
	mailer_stop(d->mailer);
	if (d->tick != NULL)
		event_free(d->tick);
	if (d->sigterm != NULL)
		event_free(d->sigterm);
	if (d->sigint != NULL)
		event_free(d->sigint);
	if (d->sighup != NULL)
		event_free(d->sighup);
	serve_stop(d->serve);
	subs_free(d->subs);
	if (d->base != NULL)
		event_base_free(d->base);
	ilog_close(d->log);
	ilog_close(d->beat_log);
	textbuf_release(&d->payload);
	pthread_mutex_destroy(&d->dblock);
	if (d->sinks != NULL)
		explicit_bzero(d->sinks, SINKS_MAX * sizeof(*d->sinks));
	free(d->sinks);
	if (d->subs_conf != NULL)
		explicit_bzero(d->subs_conf, sizeof(*d->subs_conf));
	free(d->subs_conf);
	config_release(&d->cfg);
	free(d);
}
