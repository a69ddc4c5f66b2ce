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

#define DB_PATH_MAX 4096
#define DEFAULT_DB_DIR "var"
#define DEFAULT_DB_PATH "var/mcops.db"

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
			if (mkdir(DEFAULT_DB_DIR, 0750) != 0 && errno != EEXIST) {
				mctl_error("cannot create directory %s: %s", DEFAULT_DB_DIR,
				    strerror(errno));
				return NULL;
			}
			snprintf(path, sizeof(path), "%s", DEFAULT_DB_PATH);
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
	time_t t;
	struct tm tm;
	size_t n;

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL || (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* Reads exactly n digits at *p into *out, advancing *p. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z]", UTC. */
static int
parse_utc(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	time_t t;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.') {
				p++;
				if (digits(&p, 3, &ms))
					return -1;
			}
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: refuse what did not round-trip. */
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*out = (int64_t)t * 1000 + ms;
	return 0;
}

int
mctl_parse_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
	int64_t d;

	if (parse_duration_ms(s, &d) == 0) {
		*out_ms = now_ms - d;
		return 0;
	}
	return parse_utc(s, out_ms);
}
