/*
 * mctl status — the cluster overview as the monitor sees it: per node up or down,
 * connections, new connections per second, probe p50/p99, the slow fraction, each
 * detector's state, and the incidents open against it.
 *
 * It reads the view mcmon rewrites after every evaluation (lib/monstate.h; the path
 * is [monitor] state_file) and the unresolved incidents from the incident log, read
 * only: it never calls the daemon, and works while the monitor is down (it then says
 * how old the view is, and exits 1).
 *
 * Each node's role (proxy or backend) comes from the configuration's section names
 * ([proxy NAME], [node NAME]); a cluster's proxies are listed before its backends.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "cluster.h"
#include "config.h"
#include "ilog.h"
#include "kinds.h"
#include "mctl.h"
#include "monstate.h"
#include "parse.h"
#include "paths.h"
#include "status_heartbeats.h"

#define WATCH_MIN_MS 100
#define WATCH_MAX_MS (3600 * 1000)
#define COUNT_MAX 1000000
#define STALE_INTERVALS 3     /* a view older than this many intervals (+ slack) is stale */
#define STALE_SLACK_MS 2000
#define CELL_MAX 48           /* one cell of the human table */
#define INCIDENTS_TEXT_MAX 200
#define SECTION_MAX (CLUSTER_NAME_MAX + 8) /* "proxy NAME" */

/* Set by SIGINT/SIGTERM while watching: finish the current sample and stop. */
static volatile sig_atomic_t stop_requested;

struct status_opts {
	const char *state_path; /* --state */
	const char *cluster;    /* --cluster */
	bool watch;
	int64_t interval_ms;
	uint64_t count; /* samples with --watch; 0 = until interrupted */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl status [--cluster NAME] [--state FILE] [--json]\n"
	    "                   [--watch INTERVAL [--count N]]\n"
	    "\n"
	    "The cluster overview from the monitor: per node up/down, connections, new\n"
	    "connections per second, probe p50/p99, the fraction of slow probes, the state\n"
	    "of each detector (storm, tail, down) and the open incidents. Read from the\n"
	    "view mcmon writes ([monitor] state_file) and the incident log; the daemon is\n"
	    "never called.\n"
	    "\n"
	    "  --cluster NAME    only this cluster\n"
	    "  --state FILE      the monitor's view (default: [monitor] state_file, or\n"
	    "                    " MCOPS_MONSTATE_PATH ")\n"
	    "  --json            one JSON object per sample\n"
	    "  --watch INTERVAL  show it again every INTERVAL (2, 2s, 500ms; 100ms..1h)\n"
	    "  --count N         with --watch: stop after N samples\n"
	    "  -h, --help        this help\n"
	    "\n"
	    "Exit status: 0 ok; 1 no view yet, or a view too old (the monitor is not\n"
	    "running), or no such cluster; 2 usage error; 3 unreadable configuration.\n");
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int
parse_opts(int argc, char **argv, struct status_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		if (val == NULL) {
			mctl_error("status: unknown option or missing value: '%s' (see mctl status "
				   "--help)", opt);
			return -1;
		}
		i++;
		if (strcmp(opt, "--cluster") == 0) {
			o->cluster = val;
		} else if (strcmp(opt, "--state") == 0) {
			o->state_path = val;
		} else if (strcmp(opt, "--watch") == 0) {
			if (parse_duration_ms(val, &o->interval_ms) < 0 ||
			    o->interval_ms < WATCH_MIN_MS || o->interval_ms > WATCH_MAX_MS) {
				mctl_error("status: --watch: expected an interval from 100ms to 1h "
					   "(2, 2s, 500ms): '%s'", val);
				return -1;
			}
			o->watch = true;
		} else if (strcmp(opt, "--count") == 0) {
			if (parse_u64(val, 1, COUNT_MAX, &o->count) < 0) {
				mctl_error("status: --count: expected 1-%d: '%s'", COUNT_MAX, val);
				return -1;
			}
		} else {
			mctl_error("status: unknown option '%s' (see mctl status --help)", opt);
			return -1;
		}
	}
	if (o->count != 0 && !o->watch) {
		mctl_error("status: --count needs --watch");
		return -1;
	}
	return 0;
}

/*
 * The paths from the configuration: [monitor] state_file and [log] path, when the
 * file exists and has them. Only these keys (and the section names, for the roles)
 * are read: a typo elsewhere in the file must not keep an operator from seeing the
 * state of the service. cfg is left loaded for node_role() (empty without a file);
 * the caller releases it.
 * Returns 0, or -1 (printed) if the file exists but cannot be read.
 */
static int
configured_paths(const struct mctl *ctx, struct config *cfg, char *state, size_t slen,
    char *db, size_t dlen)
{
	struct config_errors errs = { 0 };
	struct config_entry *e;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(state, slen, "%s", MCOPS_MONSTATE_PATH);
	snprintf(db, dlen, "%s", MCOPS_DB_PATH);
	if (ctx->config_path == NULL || access(ctx->config_path, F_OK) != 0)
		return 0;
	if (config_load(cfg, ctx->config_path, &errs) != 0) {
		mctl_error("cannot read the configuration: %s",
		    errs.n > 0 ? errs.msgs[0] : ctx->config_path);
		config_errors_release(&errs);
		return -1;
	}
	if ((e = config_find(cfg, "monitor", "state_file")) != NULL && e->value[0] != '\0') {
		if (strcmp(e->value, "off") == 0)
			state[0] = '\0';
		else if (strlen(e->value) < slen)
			snprintf(state, slen, "%s", e->value);
	}
	if ((e = config_find(cfg, "log", "path")) != NULL && e->value[0] != '\0' &&
	    strlen(e->value) < dlen)
		snprintf(db, dlen, "%s", e->value);
	config_errors_release(&errs);
	return rc;
}

/* A node's role as the configuration names it: "proxy" for a [proxy NAME] section,
 * else "backend" (a [node NAME], or a node the configuration does not know). */
static const char *
node_role(const struct config *cfg, const char *name)
{
	char section[SECTION_MAX];
	size_t i;

	if (cfg == NULL || snprintf(section, sizeof(section), "proxy %s", name) >=
	    (int)sizeof(section))
		return "backend";
	for (i = 0; i < cfg->nsections; i++) {
		if (strcmp(cfg->sections[i], section) == 0)
			return "proxy";
	}
	return "backend";
}

static bool
view_stale(const struct monstate *st, int64_t now)
{
	return now - st->written_at > STALE_INTERVALS * st->interval_ms + STALE_SLACK_MS;
}

/* A detector word of the view that means "taking part": firing or recovering. */
static bool
detector_open(const char *state)
{
	return strcmp(state, "firing") == 0 || strcmp(state, "recovering") == 0;
}

/* A node's own incidents, and its cluster's (a storm, a tail) while it takes part. */
static bool
incident_of_node(const struct ilog_incident *inc, const struct monstate_node *n)
{
	int k;

	if (strcmp(inc->cluster, n->cluster) != 0)
		return false;
	if (inc->node[0] != '\0')
		return strcmp(inc->node, n->name) == 0;
	k = kinds_index(inc->kind);
	return k >= 0 && kinds_at((size_t)k)->scope == KIND_SCOPE_CLUSTER &&
	    detector_open(n->kinds[k].state);
}

static bool
incident_of_cluster(const struct ilog_incident *inc, const struct monstate_cluster *c)
{
	return strcmp(inc->cluster, c->name) == 0 && inc->node[0] == '\0';
}

/* --- JSON -------------------------------------------------------------------------- */

static json_t *
incident_json(const struct ilog_incident *inc)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "id", (json_int_t)inc->id, "kind",
	    inc->kind, "severity", ilog_severity_name(inc->severity), "state",
	    ilog_state_name(inc->state), "title", inc->title, "opened_at",
	    (json_int_t)inc->opened_at);
}

/* A cluster's episodes, under the view's own keys (lib/monstate.h): "storm",
 * "storm_severity", "in_storm", "involved", "tail", ... */
static void
cluster_kinds_json(json_t *o, const struct monstate_cluster *c)
{
	struct monstate_keys key;
	size_t k;

	for (k = 0; o != NULL && k < kinds_count(); k++) {
		const struct monstate_episode *e = &c->kinds[k];
		if (kinds_at(k)->scope != KIND_SCOPE_CLUSTER)
			continue;
		monstate_keys(kinds_at(k), &key);
		json_object_set_new(o, key.state, json_string(e->detector.state));
		json_object_set_new(o, key.severity, json_string(e->detector.severity));
		json_object_set_new(o, key.in, json_integer((json_int_t)e->in));
		json_object_set_new(o, key.involved, json_integer((json_int_t)e->involved));
		if (e->finding[0] != '\0')
			json_object_set_new(o, key.finding, json_string(e->finding));
		if (e->remedy[0] != '\0')
			json_object_set_new(o, key.remedy, json_string(e->remedy));
	}
}

static json_t *
sample_json(const struct monstate *st, const struct config *cfg,
    const struct ilog_incidents *incs, bool incidents_known, const char *cluster, int64_t now)
{
	json_t *doc, *clusters = json_array(), *nodes = json_array();
	size_t i, j, k;

	for (i = 0; i < st->nclusters; i++) {
		const struct monstate_cluster *c = &st->clusters[i];
		json_t *list = json_array(), *o;
		if (cluster != NULL && strcmp(cluster, c->name) != 0)
			continue;
		for (j = 0; incidents_known && j < incs->n; j++) {
			if (incident_of_cluster(&incs->v[j], c))
				json_array_append_new(list, incident_json(&incs->v[j]));
		}
		o = json_pack("{s:s, s:s}", "name", c->name, "title", c->title);
		cluster_kinds_json(o, c);
		json_object_set_new(o, "incidents",
		    incidents_known ? list : (json_decref(list), json_null()));
		json_array_append_new(clusters, o);
	}
	for (i = 0; i < st->nnodes; i++) {
		const struct monstate_node *n = &st->nodes[i];
		json_t *list = json_array(), *o, *detectors;
		if (cluster != NULL && strcmp(cluster, n->cluster) != 0)
			continue;
		for (j = 0; incidents_known && j < incs->n; j++) {
			if (incident_of_node(&incs->v[j], n))
				json_array_append_new(list, incident_json(&incs->v[j]));
		}
		o = json_pack("{s:s, s:s, s:b, s:b, s:s, s:I, s:o, s:I, s:I, s:I, s:f}", "name",
		    n->name, "cluster", n->cluster, "up", n->up, "poll_ok", n->poll_ok, "poll_error",
		    n->poll_error, "connections", (json_int_t)n->connections,
		    "new_connections_per_second",
		    n->rate_known ? json_real(n->new_connections_per_second) : json_null(), "probes",
		    (json_int_t)n->probes, "p50_us", (json_int_t)n->p50_us, "p99_us",
		    (json_int_t)n->p99_us, "slow_fraction", n->slow_fraction);
		detectors = json_object();
		for (k = 0; k < kinds_count(); k++)
			json_object_set_new(detectors, kinds_at(k)->label,
			    json_pack("{s:s, s:s}", "state", n->kinds[k].state, "severity",
				n->kinds[k].severity));
		json_object_set_new(o, "detectors", detectors);
		json_object_set_new(o, "role", json_string(node_role(cfg, n->name)));
		json_object_set_new(o, "last_probe_ok_at", json_integer(n->last_probe_ok_at));
		json_object_set_new(o, "incidents",
		    incidents_known ? list : (json_decref(list), json_null()));
		json_array_append_new(nodes, o);
	}
	doc = json_pack("{s:{s:I, s:I, s:I, s:b, s:I}, s:o, s:o}", "monitor", "pid",
	    (json_int_t)st->pid, "written_at", (json_int_t)st->written_at, "age_ms",
	    (json_int_t)(now - st->written_at), "stale", view_stale(st, now), "tail_threshold_us",
	    (json_int_t)st->tail_threshold_us, "clusters", clusters, "nodes", nodes);
	return doc;
}

/* --- human text ---------------------------------------------------------------------- */

static void
latency_cell(uint64_t us, bool known, char *buf, size_t len)
{
	if (!known)
		snprintf(buf, len, "-");
	else if (us < 1000)
		snprintf(buf, len, "%lluus", (unsigned long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "%.2fms", (double)us / 1000.0);
	else
		snprintf(buf, len, "%.2fs", (double)us / 1e6);
}

/* A detector's cell: "ok", or "firing/major". */
static void
detector_cell(const char *state, const char *severity, char *buf, size_t len)
{
	if (strcmp(severity, "none") == 0 || severity[0] == '\0')
		snprintf(buf, len, "%s", state);
	else
		snprintf(buf, len, "%s/%s", state, severity);
}

static void
incidents_cell(const struct ilog_incidents *incs, bool known, const struct monstate_node *n,
    const struct monstate_cluster *c, char *buf, size_t len)
{
	size_t i, off = 0;
	int w;

	buf[0] = '\0';
	if (!known) {
		snprintf(buf, len, "?");
		return;
	}
	for (i = 0; i < incs->n; i++) {
		const struct ilog_incident *inc = &incs->v[i];
		if (n != NULL ? !incident_of_node(inc, n) : !incident_of_cluster(inc, c))
			continue;
		w = snprintf(buf + off, len - off, "%s#%lld %s (%s%s)", off > 0 ? ", " : "",
		    (long long)inc->id, inc->kind, ilog_severity_name(inc->severity),
		    inc->state == ILOG_STATE_ACKNOWLEDGED ? ", acked" : "");
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = '\0';
			break;
		}
		off += (size_t)w;
	}
	if (off == 0)
		snprintf(buf, len, "-");
}

/* One node's row of the human table. */
static void
print_node_row(const struct monstate_node *n, const char *role,
    const struct ilog_incidents *incs, bool incidents_known)
{
	char conns[CELL_MAX], rate[CELL_MAX], p50[CELL_MAX], p99[CELL_MAX], slow[CELL_MAX];
	char cell[CELL_MAX], inc_text[INCIDENTS_TEXT_MAX];
	bool probed = n->probes > 0;
	size_t k;

	if (n->polled)
		snprintf(conns, sizeof(conns), "%llu",
		    (unsigned long long)n->connections);
	else
		snprintf(conns, sizeof(conns), "-");
	if (n->rate_known)
		snprintf(rate, sizeof(rate), "%.1f", n->new_connections_per_second);
	else
		snprintf(rate, sizeof(rate), "-");
	latency_cell(n->p50_us, probed, p50, sizeof(p50));
	latency_cell(n->p99_us, probed, p99, sizeof(p99));
	if (probed)
		snprintf(slow, sizeof(slow), "%.1f%%", 100.0 * n->slow_fraction);
	else
		snprintf(slow, sizeof(slow), "-");
	incidents_cell(incs, incidents_known, n, NULL, inc_text, sizeof(inc_text));
	printf("  %-12s %-5s %-7s %7s %8s %9s %9s %6s ", n->name, n->up ? "up" : "DOWN", role,
	    conns, rate, p50, p99, slow);
	for (k = 0; k < kinds_count(); k++) {
		detector_cell(n->kinds[k].state, n->kinds[k].severity, cell,
		    sizeof(cell));
		printf("%-15s ", cell);
	}
	printf("%s\n", inc_text);
	if (n->polled && !n->poll_ok)
		printf("  %-12s admin poll failing: %s\n", "", n->poll_error);
}

static void
print_human(const struct monstate *st, const struct config *cfg,
    const struct ilog_incidents *incs, bool incidents_known, const char *cluster, int64_t now)
{
	static const char *const roles[] = { "proxy", "backend" }; /* proxies listed first */
	char cell[CELL_MAX], when[MCTL_TIME_MAX];
	char inc_text[INCIDENTS_TEXT_MAX];
	size_t i, j, k, r;
	bool first;

	for (i = 0; i < st->nclusters; i++) {
		const struct monstate_cluster *c = &st->clusters[i];
		if (cluster != NULL && strcmp(cluster, c->name) != 0)
			continue;
		incidents_cell(incs, incidents_known, NULL, c, inc_text, sizeof(inc_text));
		printf("cluster %s (%s)", c->name, c->title);
		/* "storm firing/major, 2 node(s) in storm, 3 involved; tail ok" */
		first = true;
		for (k = 0; k < kinds_count(); k++) {
			const struct kind *kd = kinds_at(k);
			const struct monstate_episode *e = &c->kinds[k];
			if (kd->scope != KIND_SCOPE_CLUSTER)
				continue;
			detector_cell(e->detector.state, e->detector.severity, cell, sizeof(cell));
			printf("%s%s %s", first ? ": " : "; ", kd->label, cell);
			if (e->involved > 0)
				printf(", %llu node(s) %s, %llu involved", (unsigned long long)e->in,
				    kd->involvement, (unsigned long long)e->involved);
			first = false;
		}
		printf("; incidents %s\n", inc_text);
		/* What the open incidents' evidence says, and what to do about it. */
		for (k = 0; k < kinds_count(); k++) {
			const struct monstate_episode *e = &c->kinds[k];
			if (kinds_at(k)->scope != KIND_SCOPE_CLUSTER || e->finding[0] == '\0')
				continue;
			printf("  %s: %s\n", kinds_at(k)->label, e->finding);
			if (e->remedy[0] != '\0')
				printf("  %*s  remedy: %s\n", (int)strlen(kinds_at(k)->label), "",
				    e->remedy);
		}
		/* The role after the state: "NAME up" stays the start of a row. */
		printf("  %-12s %-5s %-7s %7s %8s %9s %9s %6s ", "node", "state", "role", "conns",
		    "new/s", "p50", "p99", "slow");
		for (k = 0; k < kinds_count(); k++)
			printf("%-15s ", kinds_at(k)->label);
		printf("%s\n", "incidents");
		for (r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
			for (j = 0; j < st->nnodes; j++) {
				const struct monstate_node *n = &st->nodes[j];
				if (strcmp(n->cluster, c->name) == 0 &&
				    strcmp(node_role(cfg, n->name), roles[r]) == 0)
					print_node_row(n, roles[r], incs, incidents_known);
			}
		}
	}
	mctl_format_time(st->written_at, when, sizeof(when));
	printf("monitor: pid %lld, view of %s (%.1f s old)%s\n", (long long)st->pid, when,
	    (double)(now - st->written_at) / 1000.0,
	    view_stale(st, now) ? " -- STALE: is mcmon running?" : "");
}

/* --- one sample ---------------------------------------------------------------------- */

static bool
cluster_known(const struct monstate *st, const char *cluster)
{
	size_t i;

	for (i = 0; i < st->nclusters; i++) {
		if (strcmp(st->clusters[i].name, cluster) == 0)
			return true;
	}
	return false;
}

/* Shows one sample; returns the exit status it calls for. */
static int
show(struct mctl *ctx, const struct status_opts *o, const struct config *cfg,
    const char *state_path, const char *db_path)
{
	struct monstate st = { 0 };
	struct ilog_incidents incs = { 0 };
	struct ilog_heartbeats beats = { 0 };
	struct ilog_options lopts = { 0 };
	struct ilog_query q;
	struct ilog *log;
	char err[ILOG_ERR_LEN * 2];
	bool known = false, beats_known = false;
	int64_t now;
	int rc = MCTL_EXIT_OK;

	if (monstate_read(state_path, &st, err, sizeof(err)) < 0) {
		mctl_error("status: no view from the monitor: %s (is mcmon running, and is "
			   "[monitor] state_file the same for both?)", err);
		return MCTL_EXIT_FAIL;
	}
	if (o->cluster != NULL && !cluster_known(&st, o->cluster)) {
		mctl_error("status: the monitor watches no cluster '%s'", o->cluster);
		monstate_release(&st);
		return MCTL_EXIT_FAIL;
	}
	/* Read only: a status look must never create or migrate the log. */
	lopts.readonly = true;
	log = access(db_path, F_OK) == 0 ? ilog_open(db_path, &lopts, err, sizeof(err)) : NULL;
	if (log != NULL) {
		memset(&q, 0, sizeof(q));
		q.cluster = o->cluster;
		known = ilog_incident_list(log, &q, &incs, err, sizeof(err)) == ILOG_OK;
		beats_known = ilog_heartbeat_list(log, &beats, NULL, 0) == ILOG_OK;
		ilog_close(log);
	} else if (access(db_path, F_OK) != 0) {
		known = beats_known = true; /* no log yet: no incidents, no heartbeats */
	}
	if (!known)
		mctl_error("status: incidents unknown: %s", err);
	now = clock_wall_ms();
	if (ctx->json) {
		json_t *doc = sample_json(&st, cfg, &incs, known, o->cluster, now);

		if (doc != NULL)
			json_object_set_new(doc, "heartbeats",
			    status_heartbeats_json(&beats, beats_known, now));
		if (mctl_print_json(doc, JSON_COMPACT) != MCTL_EXIT_OK)
			rc = MCTL_EXIT_FAIL;
	} else {
		print_human(&st, cfg, &incs, known, o->cluster, now);
		status_heartbeats_print(&beats, beats_known, now);
	}
	fflush(stdout);
	if (view_stale(&st, now))
		rc = MCTL_EXIT_FAIL;
	ilog_incidents_release(&incs);
	ilog_heartbeats_release(&beats);
	monstate_release(&st);
	return rc;
}

int
cmd_status(struct mctl *ctx, int argc, char **argv)
{
	struct status_opts o;
	struct config cfg;
	char state[MONSTATE_PATH_MAX + 1], db[MONSTATE_PATH_MAX + 1];
	struct timespec ts;
	uint64_t n = 0;
	int rc;

	rc = parse_opts(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? MCTL_EXIT_OK : MCTL_EXIT_USAGE;
	if (configured_paths(ctx, &cfg, state, sizeof(state), db, sizeof(db)) < 0)
		return MCTL_EXIT_CONFIG;
	if (o.state_path != NULL)
		snprintf(state, sizeof(state), "%s", o.state_path);
	if (ctx->db_path != NULL)
		snprintf(db, sizeof(db), "%s", ctx->db_path);
	if (state[0] == '\0') {
		mctl_error("status: the monitor writes no view ([monitor] state_file = off); "
			   "give --state FILE");
		config_release(&cfg);
		return MCTL_EXIT_FAIL;
	}
	if (o.watch) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
	}
	for (;;) {
		rc = show(ctx, &o, &cfg, state, db);
		n++;
		if (!o.watch || stop_requested || (o.count != 0 && n >= o.count))
			break;
		if (!ctx->json)
			printf("\n");
		ts = clock_ms_timespec(o.interval_ms);
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_requested)
			;
		if (stop_requested)
			break;
	}
	config_release(&cfg);
	return rc;
}
