/*
 * monconfig — everything mcmon reads from the configuration file: the topology
 * ([cluster NAME], [node NAME] through lib/cluster.h), the detectors' thresholds
 * ([monitor] through detect_config_read()), the daemon's own [monitor] keys below,
 * and [log] path (the incident log, the same key `mctl` reads).
 *
 * Loading fills a fresh struct and reports every problem as "file:line: message"
 * in one pass; the daemon swaps it for the running one only when it loaded without
 * errors (a reload never throws away a working configuration). docs/monitor.md
 * documents each key and its default.
 */
#ifndef MCOPS_MONCONFIG_H
#define MCOPS_MONCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "config.h"
#include "detect.h"

#define MONCONFIG_PATH_MAX 4096
#define MONCONFIG_KEY_MAX 200     /* the canary key's prefix; the node name is appended */
#define MONCONFIG_LISTEN_MAX 300  /* "host:port" of /metrics */
#define MONCONFIG_PROBE_RATE_MAX 1000.0

/* The daemon's own [monitor] keys. Times in milliseconds. */
struct monconfig_settings {
	int64_t poll_interval_ms;     /* admin `stats` + `stats kernel` of every node */
	int64_t poll_timeout_ms;      /* <= poll_interval */
	double probe_rate;            /* probes a second per node */
	int64_t probe_timeout_ms;     /* > tail_threshold: a timed-out probe counts as slow */
	int64_t connect_timeout_ms;   /* connect and authenticate */
	int64_t evaluate_interval_ms; /* detectors decide, incidents, state file */
	int64_t resolve_hold_ms;      /* clear this long before an incident is resolved */
	int64_t evidence_interval_ms; /* evidence of a lasting incident at most this often; 0 never */
	char canary_key[MONCONFIG_KEY_MAX + 1];
	bool metrics_enabled;
	char metrics_host[CLUSTER_HOST_MAX + 1]; /* numeric address */
	uint16_t metrics_port;
	char state_file[MONCONFIG_PATH_MAX]; /* "" = none */
	char db_path[MONCONFIG_PATH_MAX];    /* [log] path */
	int64_t heartbeat_interval_ms; /* mcmon's row in the log's heartbeats */
	int64_t history_interval_ms;   /* a row per node and cluster (history.h); 0 off */
	int64_t history_retention_ms;  /* rows older than this are pruned */
};

struct monconfig {
	struct clusters clusters;
	struct detect_config detect;
	struct monconfig_settings set;
};

/* The documented defaults of the daemon's keys. */
void monconfig_defaults(struct monconfig_settings *set);

/*
 * Loads path into mc (released first). Every problem goes to errs. Returns 0, or
 * -1 if anything was reported (mc then holds nothing and needs no release).
 */
int monconfig_load(struct monconfig *mc, const char *path, struct config_errors *errs);

/* The same from a string, for tests ("name" stands for the path in messages). */
int monconfig_load_string(struct monconfig *mc, const char *name, const char *text,
    struct config_errors *errs);

/* Frees the topology (and wipes its secrets). Safe on a zeroed struct. */
void monconfig_release(struct monconfig *mc);

/* The period between two probes of one node, in ms (at least 1). */
int64_t monconfig_probe_period_ms(const struct monconfig_settings *set);

#endif
