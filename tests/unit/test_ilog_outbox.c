/*
 * Unit tests of the outbox in lib/ilog (lib/ilog_outbox.h): backoff with jitter (from
 * the fake clock's random values) until it gives up, Retry-After and the backoff's cap,
 * one sink kept in order, and enqueueing idempotent per event and bounded per sink.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "helper.h"
#include "ilog.h"
#include "ilog_outbox.h"

static void
outbox_backs_off_with_jitter_then_gives_up(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_backoff policy = { .base_ms = 1000, .max_ms = 8000, .max_attempts = 5 };
	struct ilog_outbox_items items = { 0 };
	struct ilog_outbox_item it;
	int64_t ev, item, next, t;
	bool gave_up, created;
	/* Expected delays: d = min(8000, 1000 * 2^(n-1)); d/2 + r % (d/2 + 1). */
	static const uint64_t randoms[] = { 0, 1001, 7, 4000 };
	static const int64_t expect[] = { 500, 1000 + 1001 % 1001, 2000 + 7, 4000 + 4000 };
	int n;

	memcpy(fx->fake.randoms, randoms, sizeof(randoms));
	fx->fake.nrandom = 4;
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "note", "{}", &ev, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "webhook", ev, "{\"text\": \"hi\"}", &item,
	    &created, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_true(created);
	for (n = 0; n < 4; n++) {
		t = fx->fake.now;
		assert_int_equal(ilog_outbox_claim(fx->log, "webhook", 10, 30000, &items, fx->err,
		    sizeof(fx->err)), ILOG_OK);
		assert_int_equal(items.n, 1);
		assert_int_equal(items.v[0].attempts, n + 1);
		assert_string_equal(items.v[0].payload_json, "{\"text\":\"hi\"}");
		/* Claimed: nobody else gets it within the lease. */
		assert_int_equal(ilog_outbox_claim(fx->log, NULL, 10, 30000, &items, fx->err,
		    sizeof(fx->err)), ILOG_OK);
		assert_int_equal(items.n, 0);
		assert_int_equal(ilog_outbox_fail(fx->log, item, "HTTP 503", &policy, 0, &gave_up,
		    &next, fx->err, sizeof(fx->err)), ILOG_OK);
		assert_false(gave_up);
		assert_int_equal(next - t, expect[n]);
		fx->fake.now = next - 1;
		assert_int_equal(ilog_outbox_claim(fx->log, NULL, 10, 30000, &items, fx->err,
		    sizeof(fx->err)), ILOG_OK);
		assert_int_equal(items.n, 0); /* not due yet */
		fx->fake.now = next;
	}
	assert_int_equal(ilog_outbox_claim(fx->log, "webhook", 10, 30000, &items, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(items.n, 1);
	assert_int_equal(ilog_outbox_fail(fx->log, item, "HTTP 503", &policy, 0, &gave_up, &next,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_true(gave_up);
	assert_int_equal(next, 0);
	assert_int_equal(ilog_outbox_get(fx->log, item, &it, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(it.gave_up_at, fx->fake.now);
	assert_string_equal(it.last_error, "gave up after 5 attempts: HTTP 503");
	ilog_outbox_item_release(&it);
	fx->fake.now += 86400000;
	assert_int_equal(ilog_outbox_claim(fx->log, NULL, 10, 30000, &items, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(items.n, 0); /* given up for good */
	assert_int_equal(ilog_outbox_complete(fx->log, item, fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "was given up"));
	ilog_outbox_items_release(&items);
}

static void
outbox_claim_head_keeps_a_sink_in_order_and_stats_say_why_it_waits(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_backoff policy = { 1000, 60000, 0 };
	struct ilog_backoff permanent = { 1000, 60000, 1 };
	struct ilog_outbox_stats st;
	struct ilog_outbox_item it;
	int64_t ids[3], other, due;
	bool gave_up;
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(ilog_outbox_enqueue(fx->log, "chat", 0, "{}", &ids[i], NULL,
		    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "mastodon", 0, "{}", &other, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_claim_head(fx->log, "chat", 30000, &it, &due, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(it.id, ids[0]);
	assert_int_equal(it.attempts, 1);
	ilog_outbox_item_release(&it);
	assert_int_equal(ilog_outbox_fail(fx->log, ids[0], "HTTP 503", &policy, 5000, &gave_up,
	    NULL, fx->err, sizeof(fx->err)), ILOG_OK);

	/* The head waits 5 s: the next two are due but are not claimed before it. */
	assert_int_equal(ilog_outbox_claim_head(fx->log, "chat", 30000, &it, &due, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(due, fx->fake.now + 5000);
	assert_int_equal(ilog_outbox_stats(fx->log, "chat", &st, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(st.pending, 3);
	assert_true(st.has_head);
	assert_int_equal(st.head.id, ids[0]);
	assert_string_equal(st.head.last_error, "HTTP 503");
	ilog_outbox_stats_release(&st);
	/* Another sink is not held up by it. */
	assert_int_equal(ilog_outbox_claim_head(fx->log, "mastodon", 30000, &it, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(it.id, other);
	ilog_outbox_item_release(&it);

	fx->fake.now += 5000;
	assert_int_equal(ilog_outbox_claim_head(fx->log, "chat", 30000, &it, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(it.id, ids[0]);
	ilog_outbox_item_release(&it);
	/* Claimed under a lease: not claimable again until it ends. */
	assert_int_equal(ilog_outbox_claim_head(fx->log, "chat", 30000, &it, &due, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(due, fx->fake.now + 30000);
	assert_int_equal(ilog_outbox_complete(fx->log, ids[0], fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_claim_head(fx->log, "chat", 30000, &it, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(it.id, ids[1]);
	ilog_outbox_item_release(&it);
	/* A permanent failure gives the item up and lets the next one go. */
	assert_int_equal(ilog_outbox_fail(fx->log, ids[1], "HTTP 400", &permanent, 0, &gave_up,
	    NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_true(gave_up);
	assert_int_equal(ilog_outbox_claim_head(fx->log, "chat", 30000, &it, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(it.id, ids[2]);
	ilog_outbox_item_release(&it);
	assert_int_equal(ilog_outbox_complete(fx->log, ids[2], fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_claim_head(fx->log, "chat", 30000, &it, &due, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(due, 0);
	assert_int_equal(ilog_outbox_stats(fx->log, "chat", &st, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.done, 2);
	assert_int_equal(st.gave_up, 1);
	assert_int_equal(st.last_done_at, fx->fake.now);
	assert_false(st.has_head);
	ilog_outbox_stats_release(&st);
	assert_int_equal(ilog_outbox_claim_head(fx->log, "bad\nsink", 30000, &it, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
}

static void
outbox_honours_retry_after_and_caps_the_backoff(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_backoff policy = { .base_ms = 1000, .max_ms = 4000, .max_attempts = 0 };
	struct ilog_outbox_items items = { 0 };
	int64_t item, next;
	size_t pending;
	int64_t due;
	int n;

	assert_int_equal(ilog_outbox_enqueue(fx->log, "mastodon", 0, "[1]", &item, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_claim(fx->log, "mastodon", 1, 1000, &items, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_fail(fx->log, item, "HTTP 429", &policy, 60000, NULL, &next,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(next - fx->fake.now, 60000);
	/* With max_attempts 0 it never gives up; the delay stays within max_ms. */
	for (n = 0; n < 30; n++) {
		fx->fake.now = next;
		assert_int_equal(ilog_outbox_claim(fx->log, "mastodon", 1, 1000, &items, fx->err,
		    sizeof(fx->err)), ILOG_OK);
		assert_int_equal(items.n, 1);
		assert_int_equal(ilog_outbox_fail(fx->log, item, "timeout", &policy, 0, NULL, &next,
		    fx->err, sizeof(fx->err)), ILOG_OK);
		/* attempts n + 2: d = min(4000, 1000 * 2^(n+1)), delay in [d/2, d] */
		assert_true(next - fx->fake.now >= (n == 0 ? 1000 : 2000));
		assert_true(next - fx->fake.now <= (n == 0 ? 2000 : 4000));
	}
	assert_int_equal(ilog_outbox_pending(fx->log, "mastodon", &pending, &due, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pending, 1);
	assert_int_equal(due, next);
	fx->fake.now = next;
	assert_int_equal(ilog_outbox_claim(fx->log, "mastodon", 1, 1000, &items, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_complete(fx->log, item, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_complete(fx->log, item, fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "already done"));
	assert_int_equal(ilog_outbox_pending(fx->log, NULL, &pending, &due, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pending, 0);
	assert_int_equal(due, 0);

	/* Abuse: bad policy, bad claim sizes, unknown item. */
	policy.base_ms = 0;
	assert_int_equal(ilog_outbox_fail(fx->log, item, "x", &policy, 0, NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_outbox_claim(fx->log, NULL, 0, 1000, &items, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_outbox_claim(fx->log, NULL, ILOG_OUTBOX_CLAIM_MAX + 1, 1000, &items,
	    fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_outbox_complete(fx->log, 4242, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	ilog_outbox_items_release(&items);
}

static void
outbox_enqueue_is_idempotent_per_event_and_bounded(void **state)
{
	struct test_ilog *fx = *state;
	int64_t ev, a, b, c;
	bool created;
	size_t pending;

	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "note", NULL, &ev, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "slack", ev, "{}", &a, &created, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(created);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "slack", ev, "{\"again\":1}", &b, &created,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_false(created);
	assert_int_equal(a, b);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "mastodon", ev, "{}", &c, &created, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(created);
	assert_int_not_equal(c, a);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "slack", 9999, "{}", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "slack", 0, "{not json", NULL, NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "", 0, "{}", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);

	/* The per-sink bound: fill "flood" to one below its maximum behind the log's back
	 * (fast), add the last one through the API; the next one is refused. */
	{
		sqlite3 *db;
		char sql[512];

		assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
		snprintf(sql, sizeof(sql), "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		    " FROM n WHERE i < %d) INSERT INTO outbox (sink, payload_json, created_at,"
		    " next_attempt_at) SELECT 'flood', '1', 0, 0 FROM n", ILOG_OUTBOX_MAX - 1);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(ilog_outbox_enqueue(fx->log, "flood", 0, "1", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_enqueue(fx->log, "flood", 0, "1", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_FULL);
	assert_non_null(strstr(fx->err, "outbox of sink 'flood' is full"));
	assert_int_equal(ilog_outbox_pending(fx->log, "flood", &pending, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pending, ILOG_OUTBOX_MAX);
	/* Other sinks are not affected. */
	assert_int_equal(ilog_outbox_enqueue(fx->log, "slack", 0, "2", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
}
int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST_ILOG_CASE(outbox_backs_off_with_jitter_then_gives_up),
		TEST_ILOG_CASE(outbox_claim_head_keeps_a_sink_in_order_and_stats_say_why_it_waits),
		TEST_ILOG_CASE(outbox_honours_retry_after_and_caps_the_backoff),
		TEST_ILOG_CASE(outbox_enqueue_is_idempotent_per_event_and_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
