/*
 * watchdog — "the toolkit watches itself": mcalert beats its own heartbeat row, pushes
 * it to a dead man's switch (deadman.h), and pages when the monitor or the status
 * publisher stops beating, through the ordinary incident and escalation path:
 *
 *   mcmon's row stale     incident kind "heartbeat", fingerprint "heartbeat:mcmon",
 *                         critical, actor mcalert: "monitoring is not running"
 *   mcstatus's row stale  "heartbeat:mcstatus": "status publisher is not running"
 *
 * The incident is resolved (actor mcalert) as soon as the row is fresh again. Being an
 * incident like any other, it is escalated, acknowledged and sent to the fallback
 * webhook when XMPP is down exactly as the others are.
 *
 * Who is expected: mcmon when the configuration names a [cluster NAME] (there is
 * something to monitor), mcstatus when it has [statuspage]; heartbeat_stale = 0 expects
 * nobody. A daemon no longer expected after a reload has its incident resolved.
 *
 * Stale: more than heartbeat_stale since the later of the row's last beat and
 * mcalert's own start (ilog_heartbeat_stale()): a daemon that never beat while this
 * mcalert ran is given heartbeat_stale from mcalert's start, so a restarted pager
 * does not page before it could have seen a beat.
 *
 * The watchdog's log calls go through a connection of its own, opened with the short
 * busy limits of ilog_heartbeat.h: a locked log delays the loop a quarter second at
 * most; whatever failed is tried again at the next check (WATCHDOG_CHECK_MS).
 */
#ifndef MCOPS_ALERTER_WATCHDOG_H
#define MCOPS_ALERTER_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deadman.h"
#include "ilog.h"
#include "ilog_heartbeat.h"
#include "settings.h"

#define WATCHDOG_DAEMON "mcalert"     /* mcalert's own row */
#define WATCHDOG_ACTOR "mcalert"
#define WATCHDOG_KIND "heartbeat"     /* docs/runbooks/heartbeat.md */
#define WATCHDOG_CHECK_MS 1000        /* rows read and judged this often */
#define WATCHDOG_FINGERPRINT_MAX 64

/* The daemons watched: one row each. */
enum watchdog_target_id {
	WATCHDOG_MONITOR,
	WATCHDOG_STATUSPAGE,
	WATCHDOG_TARGETS
};
struct watchdog_target {
	const char *daemon;   /* its heartbeat row */
	const char *title;    /* the incident's title */
};
extern const struct watchdog_target watchdog_targets[WATCHDOG_TARGETS];

/* What the watchdog last did about a target, so it acts on changes only. */
enum watchdog_state {
	WATCHDOG_UNKNOWN, /* nothing yet this run: a previous run's incident may be open */
	WATCHDOG_FRESH,   /* no incident of ours is open */
	WATCHDOG_STALE,   /* its incident is open */
};
enum watchdog_action {
	WATCHDOG_NOTHING,
	WATCHDOG_OPEN,    /* open (or find) the target's incident */
	WATCHDOG_RESOLVE, /* resolve the target's incident if one is open */
};

/*
 * The decision core, pure: what to do about one target given whether it is expected,
 * what was done last, its row (NULL: none), mcalert's start, the stale time and now.
 * The caller records the new state only when the action succeeded.
 */
enum watchdog_action watchdog_decide(bool expected, enum watchdog_state done,
    const struct ilog_heartbeat *hb, int64_t started, int64_t stale_ms, int64_t now);
/* Whether the settings expect target. */
bool watchdog_expects(const struct alerter_settings *set, enum watchdog_target_id target);

struct watchdog {
	struct ilog *log;               /* owned: the watchdog's own connection */
	struct ilog_beater beater;
	int64_t started_at, next_check;
	enum watchdog_state state[WATCHDOG_TARGETS];
	bool has_deadman;
	struct deadman deadman;
	uint64_t opened, resolved;      /* incidents, for the log */
};

/*
 * Opens the watchdog's connection to set->db_path and starts the dead man's switch
 * when set has a heartbeat_url. NULL with err.
 */
struct watchdog *watchdog_new(const struct alerter_settings *set, int64_t now, char *err,
    size_t errlen);
void watchdog_free(struct watchdog *w);
/* After a reload: new intervals, a new (or no) heartbeat_url. -1 with err: no switch. */
int watchdog_configure(struct watchdog *w, const struct alerter_settings *set, int64_t now,
    char *err, size_t errlen);
/*
 * One turn of the loop: beats, pings, and every WATCHDOG_CHECK_MS judges the rows and
 * opens or resolves incidents. Logs its changes (bounded). Returns true when it wrote
 * an incident (the caller tails the log again).
 */
bool watchdog_run(struct watchdog *w, const struct alerter_settings *set, int64_t now);

#endif
