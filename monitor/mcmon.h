/*
 * mcmon — the monitor daemon's context: one libevent loop carrying the collector
 * (polls and probes), the evaluation timer (detectors, incidents, the state file
 * for `mctl status`), the /metrics server and the signals. main.c parses the
 * options, loads the configuration and calls setup, run, teardown.
 *
 * Signals (handled on the loop, no handler state):
 *   SIGHUP   re-read the configuration; if it has errors, or the new incident log
 *            or metrics address cannot be opened, log why and keep running with the
 *            old one. Otherwise nodes that stay keep their detectors' state, and
 *            incidents of nodes that went away are resolved.
 *   SIGTERM, SIGINT  stop: connections closed, open incidents left open for the
 *            next run to take over (see watch.h).
 */
#ifndef MCOPS_MCMON_H
#define MCOPS_MCMON_H

#include <stdbool.h>
#include <stdint.h>

#include "collector.h"
#include "heartbeat.h"
#include "history.h"
#include "ilog.h"
#include "metrics.h"
#include "monconfig.h"
#include "monstate.h"
#include "watch.h"

#define MCMON_ERR_MAX 512

struct event_base;
struct evdns_base;
struct event;

struct mcmon {
	char config_path[MONCONFIG_PATH_MAX];
	struct monconfig *cfg; /* owned: the running configuration */
	struct ilog *log;      /* owned */
	struct event_base *base;
	struct evdns_base *dns; /* only when some address is a name */
	struct watch watch;
	struct collector collector;
	struct metrics_server *metrics; /* NULL when metrics_listen = off */
	struct metrics_daemon daemon;
	struct event *evaluate_timer, *sighup, *sigterm, *sigint;
	int64_t next_evaluate_ms;
	struct monstate state; /* reused for each state file write */
	bool state_failing;    /* for logging the change only */
	struct ilog_beater beater;      /* mcmon's heartbeat row (heartbeat.h) */
	struct event *heartbeat_timer;
	struct mon_history history;     /* the recorded figures (history.h) */
};

/*
 * Takes ownership of cfg (loaded without errors; freed by teardown, also on
 * failure), opens the incident log, takes over the incidents a previous run left
 * open, binds /metrics, starts the collector. -1 with err; call teardown anyway.
 */
int mcmon_setup(struct mcmon *m, const char *config_path, struct monconfig *cfg, char *err,
    size_t errlen);

/* Runs the loop until SIGTERM or SIGINT. Returns the exit status (0). */
int mcmon_run(struct mcmon *m);

/* The SIGHUP work (see above); also for tests. */
void mcmon_reload(struct mcmon *m);

/* Evaluates now: what the evaluation timer does. */
void mcmon_evaluate(struct mcmon *m);

void mcmon_teardown(struct mcmon *m);

#endif
