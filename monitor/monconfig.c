/*
 * monconfig — see monconfig.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ilog_heartbeat.h"
#include "monconfig.h"
#include "paths.h"

#define MSG_MAX 256
#define DEFAULT_DB_PATH MCOPS_DB_PATH
#define DEFAULT_STATE_FILE MCOPS_MONSTATE_PATH
#define DEFAULT_METRICS_LISTEN "127.0.0.1:9150" /* memcached_exporter's port */
#define DEFAULT_CANARY_KEY "mcmon:canary"
#define MINUTE_MS (60 * 1000)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)
#define HISTORY_INTERVAL_MIN_MS 1000 /* a row per node a second is plenty */

void
monconfig_defaults(struct monconfig_settings *set)
{
	memset(set, 0, sizeof(*set));
	set->poll_interval_ms = 1000;
	set->poll_timeout_ms = 1000;
	set->probe_rate = 10;
	set->probe_timeout_ms = 1000;
	set->connect_timeout_ms = 1000;
	set->evaluate_interval_ms = 1000;
	set->resolve_hold_ms = 10 * 1000;
	set->evidence_interval_ms = 5 * MINUTE_MS;
	snprintf(set->canary_key, sizeof(set->canary_key), "%s", DEFAULT_CANARY_KEY);
	set->metrics_enabled = true;
	snprintf(set->metrics_host, sizeof(set->metrics_host), "127.0.0.1");
	set->metrics_port = 9150;
	snprintf(set->state_file, sizeof(set->state_file), "%s", DEFAULT_STATE_FILE);
	snprintf(set->db_path, sizeof(set->db_path), "%s", DEFAULT_DB_PATH);
	set->heartbeat_interval_ms = ILOG_HEARTBEAT_INTERVAL_MS;
	set->history_interval_ms = 10 * 1000;
	set->history_retention_ms = 14 * (int64_t)DAY_MS;
}

int64_t
monconfig_probe_period_ms(const struct monconfig_settings *set)
{
	double p = 1000.0 / set->probe_rate;

	return p < 1 ? 1 : (int64_t)llround(p);
}

static int
line_of(struct config *cfg, const char *section, const char *key)
{
	struct config_entry *e = config_find(cfg, section, key);

	return e != NULL ? e->line : 0;
}

static void
read_duration(struct config *cfg, const char *key, int64_t min_ms, int64_t max_ms,
    int64_t *out, struct config_errors *errs)
{
	int64_t v;

	if (config_get_duration_ms(cfg, "monitor", key, *out, &v, errs) < 0)
		return;
	if (v < min_ms || v > max_ms) {
		config_error(errs, cfg, line_of(cfg, "monitor", key),
		    "%s: %lld ms is out of range (%lld ms to %lld ms)", key, (long long)v,
		    (long long)min_ms, (long long)max_ms);
		return;
	}
	*out = v;
}

/* A path value: not empty, short enough. Absent keeps *out. */
static void
read_path(struct config *cfg, const char *section, const char *key, char *out, size_t cap,
    bool allow_off, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	if (e == NULL)
		return;
	if (allow_off && strcmp(e->value, "off") == 0) {
		out[0] = '\0';
		return;
	}
	if (e->value[0] == '\0' || strlen(e->value) >= cap) {
		config_error(errs, cfg, e->line, "%s: expected a path of 1 to %zu bytes%s", key,
		    cap - 1, allow_off ? " or off" : "");
		return;
	}
	snprintf(out, cap, "%s", e->value);
}

/* A memcache key: printable, no space, room left for ":<node name>". */
static void
read_canary(struct config *cfg, struct monconfig_settings *set, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, "monitor", "canary_key");
	size_t i, len;

	if (e == NULL)
		return;
	len = strlen(e->value);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)e->value[i];
		if (ch <= ' ' || ch >= 0x7f)
			break;
	}
	if (len == 0 || len > MONCONFIG_KEY_MAX || i < len) {
		config_error(errs, cfg, e->line,
		    "canary_key: expected 1 to %d printable bytes without spaces",
		    MONCONFIG_KEY_MAX);
		return;
	}
	memcpy(set->canary_key, e->value, len + 1);
}

static void
read_metrics_listen(struct config *cfg, struct monconfig_settings *set,
    struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, "monitor", "metrics_listen");
	struct cluster_addr a;
	char err[MSG_MAX];

	if (e == NULL)
		return;
	if (strcmp(e->value, "off") == 0) {
		set->metrics_enabled = false;
		return;
	}
	if (cluster_addr_parse(e->value, &a, err, sizeof(err)) != 0) {
		config_error(errs, cfg, e->line, "metrics_listen: %s (or off)", err);
		return;
	}
	set->metrics_enabled = true;
	snprintf(set->metrics_host, sizeof(set->metrics_host), "%s", a.host);
	set->metrics_port = a.port;
}

static void
read_settings(struct config *cfg, const struct detect_config *dc,
    struct monconfig_settings *set, struct config_errors *errs)
{
	size_t before = errs->n + errs->dropped;

	monconfig_defaults(set);
	read_duration(cfg, "poll_interval", 100, HOUR_MS, &set->poll_interval_ms, errs);
	/* The timeout follows a shorter interval unless it is set. */
	if (set->poll_interval_ms < set->poll_timeout_ms)
		set->poll_timeout_ms = set->poll_interval_ms;
	read_duration(cfg, "poll_timeout", 10, HOUR_MS, &set->poll_timeout_ms, errs);
	config_get_double(cfg, "monitor", "probe_rate", 0.01, MONCONFIG_PROBE_RATE_MAX,
	    set->probe_rate, &set->probe_rate, errs);
	read_duration(cfg, "probe_timeout", 1, MINUTE_MS, &set->probe_timeout_ms, errs);
	read_duration(cfg, "connect_timeout", 10, MINUTE_MS, &set->connect_timeout_ms, errs);
	read_duration(cfg, "evaluate_interval", 50, MINUTE_MS, &set->evaluate_interval_ms, errs);
	read_duration(cfg, "resolve_hold", 0, DAY_MS, &set->resolve_hold_ms, errs);
	read_duration(cfg, "evidence_interval", 0, DAY_MS, &set->evidence_interval_ms, errs);
	read_duration(cfg, "heartbeat_interval", ILOG_HEARTBEAT_INTERVAL_MIN_MS,
	    ILOG_HEARTBEAT_INTERVAL_MAX_MS, &set->heartbeat_interval_ms, errs);
	read_duration(cfg, "history_interval", 0, HOUR_MS, &set->history_interval_ms, errs);
	read_duration(cfg, "history_retention", HOUR_MS, 400 * (int64_t)DAY_MS,
	    &set->history_retention_ms, errs);
	read_canary(cfg, set, errs);
	read_metrics_listen(cfg, set, errs);
	read_path(cfg, "monitor", "state_file", set->state_file, sizeof(set->state_file), true,
	    errs);
	read_path(cfg, "log", "path", set->db_path, sizeof(set->db_path), false, errs);
	if (errs->n + errs->dropped != before)
		return;

	/* Relations, once every value is valid. */
	if (set->history_interval_ms != 0 && set->history_interval_ms < HISTORY_INTERVAL_MIN_MS)
		config_error(errs, cfg, line_of(cfg, "monitor", "history_interval"),
		    "history_interval: %lld ms is below %d ms (0 turns the history off)",
		    (long long)set->history_interval_ms, HISTORY_INTERVAL_MIN_MS);
	if (set->poll_timeout_ms > set->poll_interval_ms)
		config_error(errs, cfg, line_of(cfg, "monitor", "poll_timeout"),
		    "poll_timeout: %lld ms is longer than poll_interval (%lld ms)",
		    (long long)set->poll_timeout_ms, (long long)set->poll_interval_ms);
	/* A probe that times out is recorded as slow with its timeout as latency; a
	 * timeout at or under the threshold would make a hung node look fast. */
	if ((uint64_t)set->probe_timeout_ms * 1000 <= dc->tail_threshold_us)
		config_error(errs, cfg, line_of(cfg, "monitor", "probe_timeout"),
		    "probe_timeout: %lld ms must be above tail_threshold (%llu us)",
		    (long long)set->probe_timeout_ms, (unsigned long long)dc->tail_threshold_us);
	/* The down detector takes a gap longer than down_silence between two updates for
	 * the monitor's own stall: the evaluation must come well within it. */
	if (dc->down_silence_ms > 0 && 2 * set->evaluate_interval_ms > dc->down_silence_ms)
		config_error(errs, cfg, line_of(cfg, "monitor", "evaluate_interval"),
		    "evaluate_interval: %lld ms must be at most half of down_silence (%lld ms)",
		    (long long)set->evaluate_interval_ms, (long long)dc->down_silence_ms);
}

static bool
owns_section(const char *section)
{
	return strcmp(section, "monitor") == 0 || clusters_owns(section);
}

/* Errors counted from `before` (the file's syntax errors included) fail the load. */
static int
load(struct monconfig *mc, struct config *cfg, size_t before, struct config_errors *errs)
{
	size_t i;
	char err[MSG_MAX];

	monconfig_release(mc);
	clusters_load(&mc->clusters, cfg, errs);
	detect_config_read(&mc->detect, cfg, "monitor", errs);
	read_settings(cfg, &mc->detect, &mc->set, errs);
	for (i = 0; i < mc->clusters.n; i++) {
		if (mc->clusters.v[i].nnodes > DETECT_CLUSTER_NODES_MAX)
			config_error(errs, cfg, mc->clusters.v[i].line,
			    "cluster %s has %zu nodes; the monitor watches at most %d per cluster",
			    mc->clusters.v[i].name, mc->clusters.v[i].nnodes,
			    DETECT_CLUSTER_NODES_MAX);
	}
	/* Only when the detector keys are valid: the check reads them. */
	if (errs->n + errs->dropped == before &&
	    detect_config_check_probe_rate(&mc->detect, mc->set.probe_rate, err, sizeof(err)) < 0)
		config_error(errs, cfg, line_of(cfg, "monitor", "probe_rate"), "probe_rate: %s",
		    err);
	/* mcd's own key in [node NAME]: not the monitor's business, not unknown. */
	for (i = 0; i < cfg->nsections; i++) {
		if (config_section_name(cfg->sections[i], "node") != NULL)
			config_find(cfg, cfg->sections[i], "tls");
	}
	config_check_unknown(cfg, owns_section, errs);
	if (errs->n + errs->dropped != before) {
		monconfig_release(mc);
		return -1;
	}
	return 0;
}

int
monconfig_load(struct monconfig *mc, const char *path, struct config_errors *errs)
{
	struct config cfg;
	size_t before = errs->n + errs->dropped;
	int rc = -1;

	memset(&cfg, 0, sizeof(cfg));
	monconfig_release(mc);
	if (config_load(&cfg, path, errs) == 0)
		rc = load(mc, &cfg, before, errs);
	config_release(&cfg);
	return rc;
}

int
monconfig_load_string(struct monconfig *mc, const char *name, const char *text,
    struct config_errors *errs)
{
	struct config cfg;
	size_t before = errs->n + errs->dropped;
	int rc = -1;

	memset(&cfg, 0, sizeof(cfg));
	monconfig_release(mc);
	if (config_load_string(&cfg, name, text, errs) == 0)
		rc = load(mc, &cfg, before, errs);
	config_release(&cfg);
	return rc;
}

void
monconfig_release(struct monconfig *mc)
{
	clusters_release(&mc->clusters);
	memset(mc, 0, sizeof(*mc));
}
