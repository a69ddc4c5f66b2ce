/*
 * mctl maintenance: scheduled maintenances of a cluster, recorded in the incident log
 * (lib/ilog_maintenance.h). mcstatus publishes them and announces their changes,
 * mcalert holds the cluster's pages while one runs; mctl only writes the log.
 *
 *   mctl maintenance schedule --cluster C --from T --until T --title TEXT [--message TEXT]
 *   mctl maintenance list [--all]
 *   mctl maintenance start ID | complete ID | cancel ID
 *
 * T: a UTC time (2026-12-08T02:00Z, seconds optional), "now", or "+30m", "+2h", "+1d".
 * Exit status as in mctl.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "ilog.h"
#include "ilog_maintenance.h"
#include "mctl.h"
#include "parse.h"
#include "utctime.h"

static void
maintenance_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl maintenance schedule --cluster C --from T --until T --title TEXT "
	    "[--message TEXT]\n"
	    "       mctl maintenance list [--all]\n"
	    "       mctl maintenance start ID | complete ID | cancel ID\n"
	    "\n"
	    "A scheduled maintenance of a cluster: published on the status page and to the\n"
	    "sinks, and the cluster's pages are held while it runs. T is a UTC time\n"
	    "(2026-12-08T02:00Z), now, or a duration from now (+30m, +2h, +1d). list shows\n"
	    "the ones not over and those of the last 7 days; --all every one.\n");
}

/* "now", "+DURATION" or a UTC time. 0, or -1. */
static int
parse_at(const char *s, int64_t now, int64_t *out)
{
	int64_t d;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (s[0] == '+') {
		if (parse_duration_ms(s + 1, &d) != 0 || d < 0)
			return -1;
		*out = now + d;
		return 0;
	}
	return utc_parse(s, out);
}

/*
 * Whether the configuration has a [cluster NAME] section: all a maintenance needs of
 * it (the nodes and their passwords are the tools' that connect). 0, or -1 printed.
 */
static int
cluster_configured(struct mctl *ctx, const char *name, bool *known)
{
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	const char *s;
	size_t i;

	*known = false;
	if (config_load(&cfg, ctx->config_path, &errs) != 0) {
		mctl_error("cannot read the configuration %s%s%s", ctx->config_path,
		    errs.n > 0 ? ": " : "", errs.n > 0 ? errs.msgs[0] : "");
		config_errors_release(&errs);
		return -1;
	}
	for (i = 0; i < cfg.nsections; i++)
		if ((s = config_section_name(cfg.sections[i], "cluster")) != NULL &&
		    strcmp(s, name) == 0)
			*known = true;
	config_errors_release(&errs);
	config_release(&cfg);
	return 0;
}

static json_t *
maintenance_json(const struct ilog_maintenance *m, int64_t now)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s}",
	    "id", (json_int_t)m->id, "kind", ilog_maint_kind_name(m->kind), "cluster", m->cluster,
	    "state", ilog_maint_state_name(ilog_maint_state_at(m, now)), "title", m->title,
	    "message", m->message, "starts_at", mctl_time_json(m->starts_at), "ends_at",
	    mctl_time_json(m->ends_at), "started_at", mctl_time_json(m->started_at), "completed_at",
	    mctl_time_json(m->completed_at), "cancelled_at", mctl_time_json(m->cancelled_at),
	    "created_by", m->created_by);
}

static int
schedule(struct mctl *ctx, int argc, char **argv)
{
	const char *cluster = NULL, *from_s = NULL, *until_s = NULL, *title = NULL,
		   *message = NULL;
	char err[ILOG_ERR_LEN], a[MCTL_TIME_MAX], b[MCTL_TIME_MAX];
	int64_t now, from, until, id = 0;
	struct ilog *log;
	enum ilog_status st;
	bool known;
	int i;

	for (i = 1; i < argc; i++) {
		const char **slot = strcmp(argv[i], "--cluster") == 0 ? &cluster :
				    strcmp(argv[i], "--from") == 0     ? &from_s :
				    strcmp(argv[i], "--until") == 0    ? &until_s :
				    strcmp(argv[i], "--title") == 0    ? &title :
				    strcmp(argv[i], "--message") == 0  ? &message : NULL;

		if (slot == NULL || i + 1 >= argc) {
			mctl_error("maintenance schedule: unexpected '%s'", argv[i]);
			maintenance_usage(stderr);
			return MCTL_EXIT_USAGE;
		}
		*slot = argv[++i];
	}
	if (cluster == NULL || from_s == NULL || until_s == NULL || title == NULL) {
		mctl_error("maintenance schedule: needs --cluster, --from, --until and --title");
		return MCTL_EXIT_USAGE;
	}
	if (cluster_configured(ctx, cluster, &known) != 0)
		return MCTL_EXIT_CONFIG;
	if (!known) {
		mctl_error("maintenance schedule: '%s' is not a cluster of %s", cluster,
		    ctx->config_path);
		return MCTL_EXIT_USAGE;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	now = ilog_now(log);
	if (parse_at(from_s, now, &from) != 0 || parse_at(until_s, now, &until) != 0) {
		ilog_close(log);
		mctl_error("maintenance schedule: '%s' is not a time (2026-12-08T02:00Z, now, +2h)",
		    parse_at(from_s, now, &from) != 0 ? from_s : until_s);
		return MCTL_EXIT_USAGE;
	}
	st = ilog_maint_schedule(log, ILOG_MAINT_PUBLIC, cluster, from, until, title, message,
	    mctl_actor(ctx), &id, err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("maintenance schedule: %s", err);
		return st == ILOG_ERR_ARG ? MCTL_EXIT_USAGE : MCTL_EXIT_FAIL;
	}
	if (ctx->json)
		return mctl_print_json(json_pack("{s:I}", "id", (json_int_t)id), JSON_COMPACT);
	mctl_format_time(from, a, sizeof(a));
	mctl_format_time(until, b, sizeof(b));
	printf("maintenance %lld of %s scheduled from %s until %s\n", (long long)id, cluster, a,
	    b);
	return MCTL_EXIT_OK;
}

static int
list(struct mctl *ctx, int argc, char **argv)
{
	struct ilog_maintenance *v = calloc(ILOG_MAINT_LIST_MAX, sizeof(*v));
	char err[ILOG_ERR_LEN], a[MCTL_TIME_MAX], b[MCTL_TIME_MAX];
	bool all = false;
	struct ilog *log;
	json_t *arr;
	int64_t now;
	size_t n = 0, i;
	int rc;

	if (v == NULL) {
		mctl_error("maintenance list: out of memory");
		return MCTL_EXIT_FAIL;
	}
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--all") == 0) {
			all = true;
		} else {
			free(v);
			mctl_error("maintenance list: unexpected '%s'", argv[i]);
			maintenance_usage(stderr);
			return MCTL_EXIT_USAGE;
		}
	}
	if ((log = mctl_open_log(ctx)) == NULL) {
		free(v);
		return MCTL_EXIT_CONFIG;
	}
	now = ilog_now(log);
	if (ilog_maint_list(log, now, all, v, ILOG_MAINT_LIST_MAX, &n, err, sizeof(err)) !=
	    ILOG_OK) {
		ilog_close(log);
		free(v);
		mctl_error("maintenance list: %s", err);
		return MCTL_EXIT_CONFIG;
	}
	ilog_close(log);
	if (ctx->json) {
		arr = json_array();
		for (i = 0; arr != NULL && i < n; i++)
			json_array_append_new(arr, maintenance_json(&v[i], now));
		free(v);
		return mctl_print_json(json_pack("{s:o}", "maintenances", arr), JSON_INDENT(2));
	}
	for (i = 0; i < n; i++) {
		const struct ilog_maintenance *m = &v[i];

		mctl_format_time(m->starts_at, a, sizeof(a));
		mctl_format_time(m->ends_at, b, sizeof(b));
		printf("%lld  %-11s  %-8s %-12s %s .. %s  %s%s(by %s)\n", (long long)m->id,
		    ilog_maint_state_name(ilog_maint_state_at(m, now)),
		    m->kind == ILOG_MAINT_SILENCE ? "silence" : "public",
		    m->cluster[0] ? m->cluster : "*", a, b, m->title, m->title[0] ? " " : "",
		    m->created_by);
	}
	if (n == 0)
		printf("no maintenances%s\n", all ? "" : " scheduled, running or recent");
	rc = MCTL_EXIT_OK;
	free(v);
	return rc;
}

/* start, complete, cancel: one id. */
static int
transition(struct mctl *ctx, int argc, char **argv)
{
	enum ilog_status (*fn)(struct ilog *, int64_t, const char *, char *, size_t);
	const char *verb = argv[0], *done;
	char err[ILOG_ERR_LEN];
	struct ilog *log;
	enum ilog_status st;
	int64_t id;

	if (strcmp(verb, "start") == 0)
		fn = ilog_maint_start, done = "started";
	else if (strcmp(verb, "complete") == 0)
		fn = ilog_maint_complete, done = "completed";
	else
		fn = ilog_maint_cancel, done = "cancelled";
	if (argc != 2 || parse_i64(argv[1], 1, INT64_MAX, &id) != 0) {
		mctl_error("maintenance %s: needs one maintenance id", verb);
		return MCTL_EXIT_USAGE;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	st = fn(log, id, mctl_actor(ctx), err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("maintenance %s: %s", verb, err);
		return MCTL_EXIT_FAIL;
	}
	if (ctx->json)
		return mctl_print_json(json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", done),
		    JSON_COMPACT);
	printf("maintenance %lld %s\n", (long long)id, done);
	return MCTL_EXIT_OK;
}

int
cmd_maintenance(struct mctl *ctx, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(sub, "schedule") == 0)
		return schedule(ctx, argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return list(ctx, argc - 1, argv + 1);
	if (strcmp(sub, "start") == 0 || strcmp(sub, "complete") == 0 ||
	    strcmp(sub, "cancel") == 0)
		return transition(ctx, argc - 1, argv + 1);
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		maintenance_usage(stdout);
		return MCTL_EXIT_OK;
	}
	mctl_error("maintenance: unknown subcommand '%s'", sub);
	maintenance_usage(stderr);
	return MCTL_EXIT_USAGE;
}
