/*
 * status_heartbeats — the daemons' heartbeats (lib/ilog_heartbeat.h) as `mctl status`
 * shows them: one line per daemon (mcmon, mcalert, mcstatus, then any other row) with
 * the age of its last beat, pid and host, and a state: "up" (younger than
 * ILOG_HEARTBEAT_MISSED_MAX of its own intervals), "STALE", or "never" (no row).
 */
#ifndef MCOPS_CLI_STATUS_HEARTBEATS_H
#define MCOPS_CLI_STATUS_HEARTBEATS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ilog_heartbeat.h"

/* Prints the lines ("heartbeats unknown" when !known). */
void status_heartbeats_print(const struct ilog_heartbeats *rows, bool known, int64_t now);
/*
 * The same as a JSON array of {"daemon", "state", "age_ms", "pid", "host",
 * "interval_ms", "beat_at", "started_at"} (null members for "never"); JSON null when
 * !known. A new reference, NULL on no memory.
 */
json_t *status_heartbeats_json(const struct ilog_heartbeats *rows, bool known, int64_t now);

#endif
