/*
 * Unit tests of alerter/pending: the pager's writes that a busy incident log refused
 * wait in order, are written once it is free, and are never lost, doubled or
 * reordered. "Busy" is real: a second SQLite connection holds the write lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "ilog.h"
#include "alerter/pending.h"

struct fixture {
	char dir[64];
	char path[128];
	struct ilog *log;
	sqlite3 *holder;                 /* holds the write lock while not NULL */
	struct pending p;
	char err[ILOG_ERR_LEN];
	int done, dropped;
	enum ilog_status dropped_status;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ilog_options o = { .busy_timeout_ms = 10, .busy_retry_ms = 30 };

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_pending.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/log.db", fx->dir);
	if ((fx->log = ilog_open(fx->path, &o, fx->err, sizeof(fx->err))) == NULL ||
	    pending_init(&fx->p) != 0)
		return -1;
	*state = fx;
	return 0;
}

static void
unlock(struct fixture *fx)
{
	if (fx->holder != NULL) {
		sqlite3_exec(fx->holder, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(fx->holder);
		fx->holder = NULL;
	}
}

static void
lock(struct fixture *fx)
{
	assert_int_equal(sqlite3_open(fx->path, &fx->holder), SQLITE_OK);
	assert_int_equal(sqlite3_exec(fx->holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char p[200];

	unlock(fx);
	pending_release(&fx->p);
	ilog_close(fx->log);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int64_t
open_incident(struct fixture *fx)
{
	struct ilog_incident_spec spec = { NULL, "manual", NULL, NULL, ILOG_SEVERITY_MAJOR, "t",
		NULL };
	struct ilog_upsert_result res;

	assert_int_equal(ilog_incident_upsert(fx->log, &spec, "test", &res, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	return res.id;
}

static struct log_write
event(int64_t incident, const char *body)
{
	struct log_write w = { .kind = LOG_WRITE_EVENT, .incident_id = incident };

	snprintf(w.actor, sizeof(w.actor), "mcalert");
	snprintf(w.type, sizeof(w.type), "page_sent");
	snprintf(w.text, sizeof(w.text), "%s", body);
	return w;
}

static void
on_done(void *arg, const struct log_write *w)
{
	((struct fixture *)arg)->done++;
}

static void
on_dropped(void *arg, const struct log_write *w, enum ilog_status st, const char *err)
{
	struct fixture *fx = arg;

	fx->dropped++;
	fx->dropped_status = st;
}

static enum ilog_status
flush(struct fixture *fx)
{
	return pending_flush(&fx->p, fx->log, on_done, on_dropped, fx, fx->err, sizeof(fx->err));
}

static int64_t
count(struct fixture *fx, int64_t incident, const char *type)
{
	struct ilog_events tl = { 0 };
	int64_t n = 0;
	size_t i;

	assert_int_equal(ilog_timeline(fx->log, incident, &tl, fx->err, sizeof(fx->err)), ILOG_OK);
	for (i = 0; i < tl.n; i++)
		if (strcmp(tl.v[i].type, type) == 0)
			n++;
	ilog_events_release(&tl);
	return n;
}

static void
writes_refused_by_a_busy_log_wait_in_order_and_are_written_once_it_is_free(void **state)
{
	struct fixture *fx = *state;
	int64_t id = open_incident(fx);
	struct log_write sent = event(id, "{\"page_id\":1}");
	struct log_write ack = { .kind = LOG_WRITE_ACK, .incident_id = id };

	snprintf(ack.actor, sizeof(ack.actor), "xmpp:alice@example.com");
	lock(fx);
	assert_int_equal(log_write_apply(fx->log, &sent, fx->err, sizeof(fx->err)), ILOG_ERR_DB);
	assert_int_equal(pending_add(&fx->p, &sent), 0);
	assert_int_equal(pending_add(&fx->p, &ack), 0);
	/* Still held: nothing is written, nothing is lost. */
	assert_int_equal(flush(fx), ILOG_ERR_DB);
	assert_int_equal(fx->p.n, 2);
	assert_int_equal(fx->done, 0);
	unlock(fx);
	assert_int_equal(flush(fx), ILOG_OK);
	assert_int_equal(fx->p.n, 0);
	assert_int_equal(fx->done, 2);
	assert_int_equal(count(fx, id, "page_sent"), 1);
	assert_int_equal(count(fx, id, "acked"), 1);
}

static void
the_same_write_tried_at_every_tick_waits_once(void **state)
{
	struct fixture *fx = *state;
	int64_t id = open_incident(fx);
	struct log_write w = event(id, "{\"page_id\":7}"), other = event(id, "{\"page_id\":8}");
	int i;

	for (i = 0; i < 50; i++)
		assert_int_equal(pending_add(&fx->p, &w), 0);
	assert_int_equal(pending_add(&fx->p, &other), 0);
	assert_int_equal(fx->p.n, 2);
	assert_int_equal(flush(fx), ILOG_OK);
	assert_int_equal(count(fx, id, "page_sent"), 2);
}

static void
a_write_the_log_can_never_take_is_dropped_and_does_not_block_the_others(void **state)
{
	struct fixture *fx = *state;
	int64_t id = open_incident(fx);
	struct log_write ack = { .kind = LOG_WRITE_ACK, .incident_id = id };
	struct log_write after = event(id, "{\"page_id\":2}");

	snprintf(ack.actor, sizeof(ack.actor), "xmpp:alice@example.com");
	/* Resolved meanwhile: the acknowledgement is refused for good. */
	assert_int_equal(ilog_incident_resolve(fx->log, id, "test", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pending_add(&fx->p, &ack), 0);
	assert_int_equal(pending_add(&fx->p, &after), 0);
	assert_int_equal(flush(fx), ILOG_OK);
	assert_int_equal(fx->dropped, 1);
	assert_int_equal(fx->dropped_status, ILOG_ERR_STATE);
	assert_int_equal(fx->done, 1);
	assert_int_equal(fx->p.n, 0);
	assert_int_equal(count(fx, id, "page_sent"), 1);
}

static void
more_than_the_maximum_waiting_are_dropped_and_counted(void **state)
{
	struct fixture *fx = *state;
	char body[64];
	struct log_write w;
	int i;

	for (i = 0; i < PENDING_MAX; i++) {
		snprintf(body, sizeof(body), "{\"page_id\":%d}", i);
		w = event(0, body);
		assert_int_equal(pending_add(&fx->p, &w), 0);
	}
	w = event(0, "{\"page_id\":-1}");
	assert_int_equal(pending_add(&fx->p, &w), -1);
	assert_int_equal(fx->p.n, PENDING_MAX);
	assert_int_equal(fx->p.dropped, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    writes_refused_by_a_busy_log_wait_in_order_and_are_written_once_it_is_free,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(the_same_write_tried_at_every_tick_waits_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_write_the_log_can_never_take_is_dropped_and_does_not_block_the_others, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(more_than_the_maximum_waiting_are_dropped_and_counted,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
