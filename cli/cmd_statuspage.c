/*
 * mctl statuspage — the status publisher from the operator's side:
 *   render DIR   renders the whole public site from the log into DIR, once, exactly as
 *                mcstatus would (to preview, to rebuild, to publish by other means)
 *   sinks        each configured sink's queue in the log's outbox: what waits, why,
 *                when it is tried next, what went out and what was given up
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "ilog.h"
#include "ilog_outbox.h"
#include "mctl.h"
#include "statussite/statussite.h"

#define RENDER_ERR_MAX 512

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl statuspage render DIR\n"
	    "       mctl statuspage sinks [--json]\n"
	    "\n"
	    "  render DIR  render the public status site (index.html, incidents/N.html,\n"
	    "              history.atom, api/v2/*.json) from the incident log into DIR, once,\n"
	    "              with the page settings of [statuspage] and [component]/[cluster]\n"
	    "  sinks       each sink's queue: pending pushes, given up, last success, last\n"
	    "              error, next attempt\n");
}

static int
render(struct mctl *ctx, const char *dir)
{
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	struct sp_config *sp = calloc(1, sizeof(*sp));
	struct site_result res;
	char err[RENDER_ERR_MAX];
	struct ilog *log;
	struct model m;
	size_t i;
	int rc = MCTL_EXIT_CONFIG;

	if (sp == NULL) {
		mctl_error("statuspage render: out of memory");
		return MCTL_EXIT_FAIL;
	}
	if (config_load(&cfg, ctx->config_path, &errs) < 0 ||
	    spconfig_load(&cfg, sp, false, &errs) < 0) {
		for (i = 0; i < errs.n; i++)
			mctl_error("%s", errs.msgs[i]);
		goto out;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		goto out;
	rc = MCTL_EXIT_FAIL;
	if (model_load(&m, sp, log, clock_wall_ms(), err, sizeof(err)) < 0) {
		mctl_error("statuspage render: %s", err);
	} else {
		if (site_render(&m, dir, &res, err, sizeof(err)) < 0) {
			mctl_error("statuspage render: %s", err);
		} else {
			if (ctx->json)
				printf("{\"dir\":\"%s\",\"written\":%zu,\"unchanged\":%zu,"
				       "\"incidents\":%zu,\"indicator\":\"%s\"}\n",
				    dir, res.written, res.unchanged, m.nincidents,
				    model_impact_name(m.indicator));
			else
				printf("rendered %s: %zu files written, %zu unchanged; %zu incidents, "
				       "%s\n", dir, res.written, res.unchanged, m.nincidents,
				    model_indicator_description(m.indicator));
			rc = MCTL_EXIT_OK;
		}
		model_release(&m);
	}
	ilog_close(log);
out:
	config_errors_release(&errs);
	config_release(&cfg);
	free(sp);
	return rc;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int
sinks(struct mctl *ctx)
{
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	char err[ILOG_ERR_LEN], done[MCTL_TIME_MAX], next[MCTL_TIME_MAX];
	struct ilog *log = NULL;
	size_t i, n = 0;
	int rc = MCTL_EXIT_CONFIG;

	if (config_load(&cfg, ctx->config_path, &errs) < 0) {
		for (i = 0; i < errs.n; i++)
			mctl_error("%s", errs.msgs[i]);
		goto out;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		goto out;
	rc = MCTL_EXIT_OK;
	if (ctx->json)
		printf("[");
	/* Names and types straight from the sections: listing needs no secrets. */
	for (i = 0; i < cfg.nsections; i++) {
		const char *name = config_section_name(cfg.sections[i], "sink"), *type;
		struct config_entry *e;
		struct ilog_outbox_stats st;

		if (name == NULL)
			continue;
		e = config_find(&cfg, cfg.sections[i], "type");
		type = e != NULL ? e->value : "?";
		if (ilog_outbox_stats(log, name, &st, err, sizeof(err)) != ILOG_OK) {
			mctl_error("statuspage sinks: %s: %s", name, err);
			rc = MCTL_EXIT_FAIL;
			continue;
		}
		mctl_format_time(st.last_done_at, done, sizeof(done));
		mctl_format_time(st.has_head ? st.head.next_attempt_at : 0, next, sizeof(next));
		if (ctx->json) {
			printf("%s{\"sink\":", n ? "," : "");
			json_str(name);
			printf(",\"type\":");
			json_str(type);
			printf(",\"pending\":%zu,\"done\":%zu,\"gave_up\":%zu,\"last_success\":",
			    st.pending, st.done, st.gave_up);
			if (st.last_done_at)
				json_str(done);
			else
				printf("null");
			printf(",\"next_attempt\":");
			if (st.has_head)
				json_str(next);
			else
				printf("null");
			printf(",\"attempts\":%u,\"last_error\":", st.has_head ? st.head.attempts : 0);
			if (st.has_head && st.head.last_error[0])
				json_str(st.head.last_error);
			else
				printf("null");
			printf("}");
		} else {
			if (n == 0)
				printf("%-16s %-10s %7s %7s %7s  %-24s %s\n", "SINK", "TYPE", "PENDING",
				    "DONE", "GAVE_UP", "LAST SUCCESS", "WAITING ON");
			printf("%-16s %-10s %7zu %7zu %7zu  %-24s ", name, type, st.pending, st.done,
			    st.gave_up, done);
			if (st.has_head && st.head.last_error[0])
				printf("%s (attempt %u, next %s)\n", st.head.last_error,
				    st.head.attempts, next);
			else if (st.has_head)
				printf("next push at %s\n", next);
			else
				printf("-\n");
		}
		n++;
		ilog_outbox_stats_release(&st);
	}
	if (ctx->json)
		printf("]\n");
	else if (n == 0)
		printf("no [sink NAME] sections in %s\n", ctx->config_path);
out:
	ilog_close(log);
	config_errors_release(&errs);
	config_release(&cfg);
	return rc;
}

int
cmd_statuspage(struct mctl *ctx, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return MCTL_EXIT_OK;
	}
	if (argc == 3 && strcmp(argv[1], "render") == 0) {
		if (strchr(argv[2], '"') != NULL || strchr(argv[2], '\\') != NULL) {
			mctl_error("statuspage render: '%s': choose a directory name without quotes "
				   "or backslashes", argv[2]);
			return MCTL_EXIT_USAGE;
		}
		return render(ctx, argv[2]);
	}
	if (argc == 2 && strcmp(argv[1], "sinks") == 0)
		return sinks(ctx);
	usage(stderr);
	return MCTL_EXIT_USAGE;
}
