/*
 * The incident log as mctl finds and opens it, and the UTC times mctl prints and
 * reads (declared in mctl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ilog.h"
#include "mctl.h"
#include "parse.h"
#include "paths.h"
#include "utctime.h"

#define DB_PATH_MAX 4096

/*
 * [log] path from the configuration, if the file exists and has it. A configuration
 * with errors elsewhere still gives its [log] path: an operator must be able to
 * acknowledge an incident while someone is fixing a typo in [monitor].
 * Returns 0 (buf empty if none), or -1 if the file exists but cannot be read.
 */
static int
configured_path(const struct mctl *ctx, char *buf, size_t len)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct config_entry *e;
	int rc = 0;

	buf[0] = '\0';
	if (ctx->config_path == NULL || access(ctx->config_path, F_OK) != 0)
		return 0;
	if (config_load(&cfg, ctx->config_path, &errs) != 0) {
		mctl_error("cannot read the configuration: %s",
		    errs.n > 0 ? errs.msgs[0] : ctx->config_path);
		config_errors_release(&errs);
		return -1;
	}
	e = config_find(&cfg, "log", "path");
	if (e != NULL && e->value[0] != '\0') {
		if (strlen(e->value) >= len) {
			mctl_error("%s:%d: [log] path is too long", ctx->config_path, e->line);
			rc = -1;
		} else {
			snprintf(buf, len, "%s", e->value);
		}
	}
	config_release(&cfg);
	config_errors_release(&errs);
	return rc;
}

struct ilog *
mctl_open_log(struct mctl *ctx)
{
	char path[DB_PATH_MAX], err[ILOG_ERR_LEN];
	struct ilog *log;

	if (ctx->db_path != NULL) {
		snprintf(path, sizeof(path), "%s", ctx->db_path);
	} else {
		if (configured_path(ctx, path, sizeof(path)) != 0)
			return NULL;
		if (path[0] == '\0') {
			if (mkdir(MCOPS_STATEDIR, 0750) != 0 && errno != EEXIST) {
				mctl_error("cannot create directory %s: %s", MCOPS_STATEDIR,
				    strerror(errno));
				return NULL;
			}
			snprintf(path, sizeof(path), "%s", MCOPS_DB_PATH);
		}
	}
	log = ilog_open(path, NULL, err, sizeof(err));
	if (log == NULL)
		mctl_error("cannot open the incident log: %s", err);
	return log;
}

void
mctl_format_time(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0)
		snprintf(buf, len, "-");
	else
		utc_format_ms(ms, buf, len);
}

int
mctl_parse_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
	int64_t d;

	if (parse_duration_ms(s, &d) == 0) {
		*out_ms = now_ms - d;
		return 0;
	}
	return utc_parse(s, out_ms);
}
