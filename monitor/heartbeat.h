/*
 * heartbeat — mcmon's part in the daemons' heartbeats (lib/ilog_heartbeat.h): it beats
 * its own row from the loop, and exports every daemon's row on /metrics so that a
 * Prometheus that scrapes mcmon can alert on the pager (mcalert) and the publisher
 * (mcstatus) too:
 *
 *   mcops_heartbeat_age_seconds{daemon}   seconds since the daemon's last beat
 *   mcops_heartbeat_up{daemon}            1 while ilog_heartbeat_up() (3 intervals)
 *   mcops_heartbeat_write_failures_total  mcmon's own beats that failed (log locked)
 *
 * A daemon that never beat has no row and so no sample (absent() in an alert rule).
 * mcmon's own row is the one nobody but mcalert can judge: a hung mcmon serves no
 * /metrics either.
 */
#ifndef MCOPS_MONITOR_HEARTBEAT_H
#define MCOPS_MONITOR_HEARTBEAT_H

#include <stdint.h>

#include "ilog.h"
#include "ilog_heartbeat.h"
#include "promtext.h"

#define MCMON_DAEMON_NAME "mcmon"
#define MCMON_HEARTBEAT_TICK_MS 100 /* how often the loop asks whether a beat is due */

/* Beats if due (ilog_beater_tick) and logs a failure and the recovery, once each. */
void mon_heartbeat_tick(struct ilog_beater *b, struct ilog *log, int64_t now);

/*
 * Appends the families above to out, from the rows read now through log (borrowed).
 * A failed read leaves the row families empty and says so in mcmon's log (limited);
 * the page is still served. -1 only when out failed.
 */
int mon_heartbeat_render(struct ilog *log, const struct ilog_beater *b, struct promtext *out);

#endif
