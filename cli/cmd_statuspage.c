/*
 * mctl statuspage — the status publisher from the operator's side:
 *   render DIR   renders the whole public site from the log into DIR, once, exactly as
 *                mcstatus would (to preview, to rebuild, to publish by other means)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ilog.h"
#include "mctl.h"
#include "../statuspage/model.h"
#include "../statuspage/site.h"
#include "../statuspage/spconfig.h"

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
	struct timespec ts;
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
	clock_gettime(CLOCK_REALTIME, &ts);
	rc = MCTL_EXIT_FAIL;
	if (model_load(&m, sp, log, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, err,
		sizeof(err)) < 0) {
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
	usage(stderr);
	return MCTL_EXIT_USAGE;
}
