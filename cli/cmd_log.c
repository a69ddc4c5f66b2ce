/*
 * mctl log export [--since TIME] | prune --before TIME: the incident log's events as
 * JSON lines, and its retention (docs/mctl.md).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ilog.h"
#include "mctl.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl log export [--since TIME]\n"
	    "       mctl log prune --before TIME\n"
	    "\n"
	    "export  writes every event (at or after TIME) as one JSON object per line\n"
	    "prune   removes incidents resolved before TIME with their events, pages and\n"
	    "        public updates, events about no incident older than TIME, finished\n"
	    "        outbox items, maintenances and silences over before TIME, and\n"
	    "        subscribers nobody receives at (unsubscribed, dropped after bounces,\n"
	    "        never confirmed) last asked for before TIME; unresolved incidents and\n"
	    "        confirmed subscribers are never removed\n"
	    "\n"
	    "TIME is a duration before now (90d, 12h, 1h30m) or a UTC date or time\n"
	    "(2024-01-02, 2024-01-02T03:04:05Z).\n");
}

static int
write_line(void *arg, const char *line, size_t len)
{
	FILE *fp = arg;

	if (fwrite(line, 1, len, fp) != len || fputc('\n', fp) == EOF)
		return -1;
	return 0;
}

/* Reads "--flag TIME" as the only option; 0, or an exit status. */
static int
time_option(int argc, char **argv, const char *flag, bool required, int64_t now,
    int64_t *out)
{
	if (argc == 2 && !required) {
		*out = 0;
		return 0;
	}
	if (argc != 4 || strcmp(argv[2], flag) != 0) {
		mctl_error("log %s: %s TIME %s", argv[1], flag,
		    required ? "is required, and nothing else" : "is the only option");
		usage(stderr);
		return MCTL_EXIT_USAGE;
	}
	if (mctl_parse_time(argv[3], now, out) != 0) {
		mctl_error("log %s: %s: not a duration or a UTC date/time: '%s'", argv[1], flag,
		    argv[3]);
		return MCTL_EXIT_USAGE;
	}
	return 0;
}

int
cmd_log(struct mctl *ctx, int argc, char **argv)
{
	struct ilog_prune_result res;
	char err[ILOG_ERR_LEN], when[MCTL_TIME_MAX];
	enum ilog_status st;
	struct ilog *log;
	int64_t t;
	int rc;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? MCTL_EXIT_USAGE : MCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "export") != 0 && strcmp(argv[1], "prune") != 0) {
		mctl_error("log: unknown subcommand '%s' (export or prune)", argv[1]);
		return MCTL_EXIT_USAGE;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	if (strcmp(argv[1], "export") == 0) {
		rc = time_option(argc, argv, "--since", false, ilog_now(log), &t);
		if (rc == 0) {
			st = ilog_export(log, t, write_line, stdout, err, sizeof(err));
			if (st == ILOG_OK && fflush(stdout) != 0) {
				snprintf(err, sizeof(err), "cannot write the output");
				st = ILOG_ERR_DB;
			}
			if (st != ILOG_OK) {
				mctl_error("log export: %s", err);
				rc = MCTL_EXIT_FAIL;
			}
		}
		ilog_close(log);
		return rc;
	}
	rc = time_option(argc, argv, "--before", true, ilog_now(log), &t);
	if (rc != 0) {
		ilog_close(log);
		return rc;
	}
	st = ilog_prune(log, t, &res, err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		/* Whole batches before the failure are gone; say how much. */
		mctl_error("log prune: %s (removed %zu incidents before that)", err, res.incidents);
		return st == ILOG_ERR_DB ? MCTL_EXIT_CONFIG : MCTL_EXIT_FAIL;
	}
	mctl_format_time(t, when, sizeof(when));
	if (ctx->json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "before", when,
		    "incidents", (json_int_t)res.incidents, "events", (json_int_t)res.events,
		    "outbox", (json_int_t)res.outbox, "maintenances",
		    (json_int_t)res.maintenances, "subscribers", (json_int_t)res.subscribers);
		(void)mctl_print_json(j, JSON_INDENT(2));
	} else {
		printf("pruned %zu resolved incidents, %zu events, %zu outbox items, %zu "
		       "maintenances and %zu subscribers from before %s\n", res.incidents,
		    res.events, res.outbox, res.maintenances, res.subscribers, when);
	}
	return MCTL_EXIT_OK;
}
