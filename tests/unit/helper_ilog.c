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
#include <stdlib.h>
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

int
test_ilog_setup(void **state)
{
	struct test_ilog *t = calloc(1, sizeof(*t));
	struct ilog_clock clock = { test_clock_now, test_clock_random, NULL };

	if (t == NULL)
		return -1;
	if (test_ilog_open(t, "test_ilog") < 0) {
		free(t);
		return -1;
	}
	test_clock_init(&t->fake, TEST_CLOCK_START_MS);
	clock.arg = &t->fake;
	ilog_set_clock(t->log, &clock);
	*state = t;
	return 0;
}

int
test_ilog_teardown(void **state)
{
	struct test_ilog *t = *state;

	test_ilog_close(t);
	free(t);
	return 0;
}

int64_t
test_ilog_incident(struct test_ilog *t, const char *fingerprint, enum ilog_severity sev)
{
	struct ilog_incident_spec sp = { .fingerprint = fingerprint, .kind = "storm",
		.cluster = "c1", .node = "n1", .severity = sev,
		.title = "Connection storm on n1" };
	struct ilog_upsert_result r;

	assert_int_equal(ilog_incident_upsert(t->log, &sp, "mcmon", &r, t->err,
	    sizeof(t->err)), ILOG_OK);
	return r.id;
}

size_t
test_ilog_count(struct ilog *log, const char *kind, unsigned states)
{
	struct ilog_query q = { 0 };
	struct ilog_incidents list = { 0 };
	char err[ILOG_ERR_LEN];
	size_t n;

	q.states = states;
	q.kind = kind;
	assert_int_equal(ilog_incident_list(log, &q, &list, err, sizeof(err)), ILOG_OK);
	n = list.n;
	ilog_incidents_release(&list);
	return n;
}

int64_t
test_ilog_last_evidence(struct ilog *log, const char *fp, struct ilog_incident *inc,
    char *body, size_t cap)
{
	struct ilog_events ev = { 0 };
	char err[ILOG_ERR_LEN];
	size_t i;

	body[0] = '\0';
	if (ilog_incident_find(log, fp, inc, err, sizeof(err)) != ILOG_OK)
		return 0;
	assert_int_equal(ilog_timeline(log, inc->id, &ev, err, sizeof(err)), ILOG_OK);
	for (i = 0; i < ev.n; i++)
		if (strcmp(ev.v[i].type, "evidence") == 0)
			snprintf(body, cap, "%s", ev.v[i].body_json);
	ilog_events_release(&ev);
	return inc->id;
}
