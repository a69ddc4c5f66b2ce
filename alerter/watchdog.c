/*
 * watchdog — see watchdog.h. The decision core first, then the shell around it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "watchdog.h"

const struct watchdog_target watchdog_targets[WATCHDOG_TARGETS] = {
	[WATCHDOG_MONITOR] = { "mcmon", "monitoring is not running" },
	[WATCHDOG_STATUSPAGE] = { "mcstatus", "status publisher is not running" },
};

enum watchdog_action
watchdog_decide(bool expected, enum watchdog_state done, const struct ilog_heartbeat *hb,
    int64_t started, int64_t stale_ms, int64_t now)
{
	bool stale = expected && stale_ms > 0 && ilog_heartbeat_stale(hb, started, stale_ms, now);

	if (stale)
		return done == WATCHDOG_STALE ? WATCHDOG_NOTHING : WATCHDOG_OPEN;
	return done == WATCHDOG_FRESH ? WATCHDOG_NOTHING : WATCHDOG_RESOLVE;
}

bool
watchdog_expects(const struct alerter_settings *set, enum watchdog_target_id target)
{
	if (set->heartbeat_stale_ms == 0)
		return false;
	return target == WATCHDOG_MONITOR ? set->watch_monitor : set->watch_statuspage;
}

/* --- the shell ---------------------------------------------------------------------- */

static void
fingerprint(enum watchdog_target_id t, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s", WATCHDOG_KIND, watchdog_targets[t].daemon);
}

/* The evidence of a stale row: what the log knew of the daemon. NULL on no memory. */
static char *
evidence(const struct ilog_heartbeat *hb, const char *daemon, int64_t stale_ms)
{
	json_t *o = json_pack("{s:s, s:I}", "daemon", daemon, "stale_after_ms",
	    (json_int_t)stale_ms);
	char *text;

	if (o == NULL)
		return NULL;
	if (hb != NULL)
		json_object_update_new(o, json_pack("{s:I, s:I, s:s, s:I}", "last_beat_at",
		    (json_int_t)hb->beat_at, "pid", (json_int_t)hb->pid, "host", hb->host,
		    "interval_ms", (json_int_t)hb->interval_ms));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static int
open_incident(struct watchdog *w, enum watchdog_target_id t, const struct ilog_heartbeat *hb,
    int64_t stale_ms, int64_t now)
{
	const char *daemon = watchdog_targets[t].daemon;
	char fp[WATCHDOG_FINGERPRINT_MAX], title[ILOG_TITLE_MAX + 1], err[ILOG_ERR_LEN];
	char *ev = evidence(hb, daemon, stale_ms);
	struct ilog_incident_spec spec = { fp, WATCHDOG_KIND, NULL, NULL,
		ILOG_SEVERITY_CRITICAL, title, ev };
	struct ilog_upsert_result res;
	enum ilog_status st;

	fingerprint(t, fp, sizeof(fp));
	if (hb != NULL && hb->beat_at >= w->started_at)
		snprintf(title, sizeof(title), "%s: no heartbeat from %s for %" PRId64 " s",
		    watchdog_targets[t].title, daemon, ilog_heartbeat_age_ms(hb, now) / 1000);
	else
		snprintf(title, sizeof(title), "%s: no heartbeat from %s since mcalert started",
		    watchdog_targets[t].title, daemon);
	st = ilog_incident_upsert(w->log, &spec, WATCHDOG_ACTOR, &res, err, sizeof(err));
	free(ev);
	if (st != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "heartbeat: cannot open the incident for %s: %s",
		    daemon, err);
		return -1;
	}
	if (res.created) {
		w->opened++;
		log_warn("#%" PRId64 ": %s", res.id, title);
	}
	return 0;
}

static int
resolve_incident(struct watchdog *w, enum watchdog_target_id t, const struct ilog_heartbeat *hb,
    bool expected)
{
	const char *daemon = watchdog_targets[t].daemon;
	char fp[WATCHDOG_FINGERPRINT_MAX], msg[ILOG_HOST_MAX + 128], err[ILOG_ERR_LEN];
	struct ilog_incident inc;
	enum ilog_status st;

	fingerprint(t, fp, sizeof(fp));
	st = ilog_incident_find(w->log, fp, &inc, err, sizeof(err));
	if (st == ILOG_ERR_NOT_FOUND)
		return 0;
	if (st == ILOG_OK) {
		if (!expected)
			snprintf(msg, sizeof(msg), "%s is no longer expected to run", daemon);
		else if (hb != NULL)
			snprintf(msg, sizeof(msg), "%s is beating again (pid %" PRId64 " on %s)",
			    daemon, hb->pid, hb->host[0] != '\0' ? hb->host : "?");
		else
			snprintf(msg, sizeof(msg), "%s is beating again", daemon);
		st = ilog_incident_resolve(w->log, inc.id, WATCHDOG_ACTOR, msg, NULL, err,
		    sizeof(err));
	}
	if (st != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "heartbeat: cannot resolve the incident for %s: %s",
		    daemon, err);
		return -1;
	}
	w->resolved++;
	log_info("#%" PRId64 " resolved: %s", inc.id, msg);
	return 0;
}

static bool
check(struct watchdog *w, const struct alerter_settings *set, int64_t now)
{
	struct ilog_heartbeats rows = { 0 };
	const struct ilog_heartbeat *hb;
	enum watchdog_action act;
	char err[ILOG_ERR_LEN];
	bool wrote = false, expected;
	int t;

	if (ilog_heartbeat_list(w->log, &rows, err, sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "heartbeat: cannot read the heartbeats: %s", err);
		return false;
	}
	for (t = 0; t < WATCHDOG_TARGETS; t++) {
		expected = watchdog_expects(set, (enum watchdog_target_id)t);
		hb = ilog_heartbeat_find(&rows, watchdog_targets[t].daemon);
		act = watchdog_decide(expected, w->state[t], hb, w->started_at,
		    set->heartbeat_stale_ms, now);
		if (act == WATCHDOG_OPEN && open_incident(w, (enum watchdog_target_id)t, hb,
		    set->heartbeat_stale_ms, now) == 0)
			w->state[t] = WATCHDOG_STALE;
		else if (act == WATCHDOG_RESOLVE &&
		    resolve_incident(w, (enum watchdog_target_id)t, hb, expected) == 0)
			w->state[t] = WATCHDOG_FRESH;
		else
			continue;
		wrote = true;
	}
	ilog_heartbeats_release(&rows);
	return wrote;
}

static void
beat(struct watchdog *w, int64_t now)
{
	char line[ILOG_ERR_LEN];
	enum ilog_beat_result r = ilog_beater_tick(&w->beater, w->log, now, line, sizeof(line));

	if (r == ILOG_BEAT_FAILED)
		log_warn("%s", line);
	else if (r == ILOG_BEAT_RECOVERED)
		log_info("%s", line);
}

static void
ping(struct watchdog *w, int64_t now)
{
	char err[256];

	switch (deadman_run(&w->deadman, now, err, sizeof(err))) {
	case DEADMAN_FAILED:
		log_warn("heartbeat_url: the ping failed: %s (%" PRIu64 " of %" PRIu64
			 " failed so far)", err, w->deadman.failed, w->deadman.sent);
		break;
	case DEADMAN_STILL_FAILING:
		LOG_LIMITED(LOG_LEVEL_WARN, "heartbeat_url: the ping failed again: %s (%" PRIu64
		    " of %" PRIu64 " failed so far)", err, w->deadman.failed, w->deadman.sent);
		break;
	case DEADMAN_RECOVERED:
		log_info("heartbeat_url: pinged again after %" PRIu64 " failures",
		    w->deadman.failed);
		break;
	default:
		break;
	}
}

int
watchdog_configure(struct watchdog *w, const struct alerter_settings *set, int64_t now,
    char *err, size_t errlen)
{
	w->beater.hb.interval_ms = set->heartbeat_interval_ms;
	if (w->has_deadman)
		deadman_release(&w->deadman);
	w->has_deadman = false;
	if (set->heartbeat_url[0] == '\0')
		return 0;
	if (deadman_init(&w->deadman, set->heartbeat_url, set->heartbeat_url_interval_ms,
	    set->heartbeat_url_timeout_ms, now, err, errlen) != 0)
		return -1;
	w->has_deadman = true;
	return 0;
}

struct watchdog *
watchdog_new(const struct alerter_settings *set, int64_t now, char *err, size_t errlen)
{
	struct ilog_options opts = { .busy_timeout_ms = ILOG_HEARTBEAT_BUSY_TIMEOUT_MS,
		.busy_retry_ms = ILOG_HEARTBEAT_BUSY_RETRY_MS };
	struct watchdog *w = calloc(1, sizeof(*w));
	char why[ILOG_ERR_LEN];

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((w->log = ilog_open(set->db_path, &opts, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "cannot open the incident log %s: %s", set->db_path, why);
		free(w);
		return NULL;
	}
	w->started_at = now;
	ilog_beater_init(&w->beater, WATCHDOG_DAEMON, set->heartbeat_interval_ms, now);
	if (watchdog_configure(w, set, now, err, errlen) != 0) {
		watchdog_free(w);
		return NULL;
	}
	return w;
}

void
watchdog_free(struct watchdog *w)
{
	if (w == NULL)
		return;
	if (w->has_deadman)
		deadman_release(&w->deadman);
	ilog_close(w->log);
	free(w);
}

bool
watchdog_run(struct watchdog *w, const struct alerter_settings *set, int64_t now)
{
	beat(w, now);
	if (w->has_deadman)
		ping(w, now);
	if (now < w->next_check)
		return false;
	w->next_check = now + WATCHDOG_CHECK_MS;
	return check(w, set, now);
}
