/*
 * helper_ilog — the test helper's temporary incident log (helper.h), in a file of its
 * own so that only the tests that open a log link SQLite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "helper.h"

int
test_ilog_open(struct test_ilog *t, const char *prefix)
{
	int n;

	memset(t, 0, sizeof(*t));
	if (test_dir_make(t->dir, sizeof(t->dir), prefix) < 0) {
		snprintf(t->err, sizeof(t->err), "mkdtemp /tmp/%s.XXXXXX: %s", prefix,
		    strerror(errno));
		return -1;
	}
	n = snprintf(t->path, sizeof(t->path), "%s/log.db", t->dir);
	if (n < 0 || (size_t)n >= sizeof(t->path)) {
		snprintf(t->err, sizeof(t->err), "the log's path is longer than TEST_PATH_MAX");
		goto out_remove_dir;
	}
	t->log = ilog_open(t->path, NULL, t->err, sizeof(t->err));
	if (t->log == NULL)
		goto out_remove_dir;
	return 0;

out_remove_dir:
	(void)test_dir_remove(t->dir);
	t->dir[0] = '\0';
	return -1;
}

void
test_ilog_close(struct test_ilog *t)
{
	ilog_close(t->log);
	t->log = NULL;
	(void)test_dir_remove(t->dir);
	t->dir[0] = '\0';
}
