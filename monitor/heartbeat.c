/*
 * heartbeat — see heartbeat.h.
 */
#include <stddef.h>

#include "heartbeat.h"
#include "log.h"

void
mon_heartbeat_tick(struct ilog_beater *b, struct ilog *log, int64_t now)
{
	char line[ILOG_ERR_LEN];
	enum ilog_beat_result r = ilog_beater_tick(b, log, now, line, sizeof(line));

	if (r == ILOG_BEAT_FAILED)
		log_warn("%s", line);
	else if (r == ILOG_BEAT_RECOVERED)
		log_info("%s", line);
}

int
mon_heartbeat_render(struct ilog *log, const struct ilog_beater *b, struct promtext *out)
{
	struct ilog_heartbeats rows = { 0 };
	struct promtext_label l = { "daemon", NULL };
	char err[ILOG_ERR_LEN];
	int64_t now = ilog_now(log);
	size_t i;

	if (ilog_heartbeat_list(log, &rows, err, sizeof(err)) != ILOG_OK)
		LOG_LIMITED(LOG_LEVEL_WARN, "/metrics: cannot read the heartbeats: %s", err);
	promtext_family(out, "mcops_heartbeat_age_seconds", PROMTEXT_GAUGE,
	    "Seconds since each mcops daemon last wrote its heartbeat to the incident log.");
	for (i = 0; i < rows.n; i++) {
		l.value = rows.v[i].daemon;
		promtext_sample(out, &l, 1, (double)ilog_heartbeat_age_ms(&rows.v[i], now) / 1000.0);
	}
	promtext_family(out, "mcops_heartbeat_up", PROMTEXT_GAUGE,
	    "1 while a daemon's heartbeat is younger than 3 of its own intervals.");
	for (i = 0; i < rows.n; i++) {
		l.value = rows.v[i].daemon;
		promtext_sample_u64(out, &l, 1, ilog_heartbeat_up(&rows.v[i], now) ? 1 : 0);
	}
	promtext_family(out, "mcops_heartbeat_write_failures_total", PROMTEXT_COUNTER,
	    "mcmon's own heartbeats that could not be written (the log stayed locked).");
	promtext_sample_u64(out, NULL, 0, b->failures);
	ilog_heartbeats_release(&rows);
	return out->failed ? -1 : 0;
}
