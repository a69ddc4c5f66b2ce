/*
 * watch_fixture — see watch_fixture.h.
 */
#include <stdio.h>
#include <string.h>

#include "watch_fixture.h"

int
watch_fixture_open(struct test_ilog *il, struct monconfig *cfg, struct watch *w,
    const char *text, const char *prefix)
{
	struct config_errors errs = { 0 };
	char err[ILOG_ERR_LEN];
	size_t i;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = monconfig_load_string(cfg, "test.conf", text, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	config_errors_release(&errs);
	if (rc < 0)
		return -1;
	if (test_ilog_open(il, prefix) < 0) {
		fprintf(stderr, "%s\n", il->err);
		return -1;
	}
	if (watch_init(w, cfg, il->log, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	w->wall_ms = test_clock_start;
	return 0;
}

void
watch_fixture_close(struct test_ilog *il, struct monconfig *cfg, struct watch *w)
{
	watch_release(w);
	test_ilog_close(il);
	monconfig_release(cfg);
}
