/*
 * ilog_heartbeat — the daemons' heartbeats in the incident log: each daemon that uses
 * the log (mcmon, mcalert, mcstatus) overwrites its one row every few seconds, so that
 * a dead or hung daemon shows as a row that stops getting younger. mcalert pages on a
 * stale row (alerter/watchdog.h), mcmon exports every row's age in /metrics, `mctl
 * status` shows them. The log itself is lib/ilog.h.
 *
 * A row is (daemon, pid, host, beat_at, interval_ms, started_at): one per daemon name,
 * replaced by every beat, so the table never grows. Beats write no event: they would
 * wake every tailing consumer every few seconds for nothing.
 *
 * Who judges: the row carries the beating daemon's own interval, so any reader can say
 * "up" without knowing that daemon's configuration (ilog_heartbeat_up()). The pager
 * uses its own, longer, configured stale time and its own start time
 * (ilog_heartbeat_stale()). Both are pure functions of their inputs and now.
 *
 * Beating from a daemon's loop: struct ilog_beater keeps when the next beat is due and
 * whether the last one failed. A failed beat (the log locked for longer than the
 * connection's busy_retry_ms) is tried again at the next tick and never ends the
 * daemon: the daemon logs the change that ilog_beater_tick() reports, once.
 */
#ifndef MCOPS_ILOG_HEARTBEAT_H
#define MCOPS_ILOG_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define ILOG_DAEMON_MAX 32                /* a daemon's name: [a-z0-9_-]+ */
#define ILOG_HOST_MAX 255                 /* a host name */
#define ILOG_HEARTBEATS_MAX 64            /* rows returned by one list */
#define ILOG_HEARTBEAT_INTERVAL_MS 5000   /* the default beat interval */
#define ILOG_HEARTBEAT_INTERVAL_MIN_MS 100
#define ILOG_HEARTBEAT_INTERVAL_MAX_MS 3600000
#define ILOG_HEARTBEAT_MISSED_MAX 3       /* beats missed before a row is not "up" */
/*
 * A daemon whose own connection would wait a minute for a locked log (ilog's default)
 * opens one for its beats with these, so a beat stalls its loop a quarter second at
 * most and is tried again at the next tick.
 */
#define ILOG_HEARTBEAT_BUSY_TIMEOUT_MS 50
#define ILOG_HEARTBEAT_BUSY_RETRY_MS 250

struct ilog_heartbeat {
	char daemon[ILOG_DAEMON_MAX + 1];
	int64_t pid;
	char host[ILOG_HOST_MAX + 1];
	int64_t beat_at;      /* the log's clock when it was written */
	int64_t interval_ms;  /* the daemon's beat interval */
	int64_t started_at;   /* when the daemon started */
};
struct ilog_heartbeats {
	struct ilog_heartbeat *v; /* sorted by daemon */
	size_t n;
	bool truncated;
};
void ilog_heartbeats_release(struct ilog_heartbeats *list);

/*
 * Replaces hb->daemon's row with hb, beat_at set to the log's now (hb->beat_at is
 * ignored). daemon: [a-z0-9_-], 1..ILOG_DAEMON_MAX; host: one line, may be empty;
 * interval_ms > 0. Read-only logs refuse it. No event is written.
 */
enum ilog_status ilog_heartbeat_write(struct ilog *log, const struct ilog_heartbeat *hb,
    char *err, size_t errlen);
/* Every row into *out (must be empty), by daemon name, at most ILOG_HEARTBEATS_MAX. */
enum ilog_status ilog_heartbeat_list(struct ilog *log, struct ilog_heartbeats *out, char *err,
    size_t errlen);
/* The row of daemon in *out, or NULL: list's lookup. */
const struct ilog_heartbeat *ilog_heartbeat_find(const struct ilog_heartbeats *list,
    const char *daemon);

/* now - hb->beat_at in ms, 0 if the clock went back. */
int64_t ilog_heartbeat_age_ms(const struct ilog_heartbeat *hb, int64_t now);
/*
 * "Up" as any reader judges it: the row is younger than ILOG_HEARTBEAT_MISSED_MAX of
 * the daemon's own intervals (a beat or two may be late under load; three are not).
 */
bool ilog_heartbeat_up(const struct ilog_heartbeat *hb, int64_t now);
/*
 * The pager's judgement: stale when more than stale_after_ms passed since the later of
 * the last beat and watcher_started, the watcher's own start. hb NULL: never beat. So
 * a daemon that never beat (or last beat before the watcher started) is given
 * stale_after_ms from the watcher's start: a restarted pager does not page at once for
 * a row it has not had the chance to see renewed.
 */
bool ilog_heartbeat_stale(const struct ilog_heartbeat *hb, int64_t watcher_started,
    int64_t stale_after_ms, int64_t now);

/* --- beating from a loop --------------------------------------------------------- */

struct ilog_beater {
	struct ilog_heartbeat hb; /* what is written: daemon, pid, host, interval, start */
	int64_t next_at;          /* the next beat is due then (log clock) */
	bool failing;             /* the last beat failed */
	uint64_t beats, failures; /* counters, for the daemon's stats */
};

enum ilog_beat_result {
	ILOG_BEAT_IDLE,      /* not due */
	ILOG_BEAT_OK,        /* written */
	ILOG_BEAT_RECOVERED, /* written after failures: worth a log line */
	ILOG_BEAT_FAILED,    /* the first failure after a success: worth a log line */
	ILOG_BEAT_STILL_FAILING, /* another failure: counted, not worth a line */
};

/*
 * Fills b for daemon (copied) beating every interval_ms, started now: pid and host
 * are this process's. The first beat is due at once.
 */
void ilog_beater_init(struct ilog_beater *b, const char *daemon, int64_t interval_ms,
    int64_t now);
/*
 * Beats if due at now: writes the row through log (borrowed) and schedules the next
 * beat one interval on, whether it succeeded or not (a failure is retried at the next
 * due tick, never in a loop). err gets the line for the daemon's log: on a failure
 * "heartbeat not written (tried again every N ms): <why>", on RECOVERED "heartbeat
 * written again after N failed beats".
 */
enum ilog_beat_result ilog_beater_tick(struct ilog_beater *b, struct ilog *log, int64_t now,
    char *err, size_t errlen);

#endif
