/*
 * Unit tests of the pager's pages in lib/ilog (lib/ilog_pages.h): a page's delivery,
 * failure and acknowledgement, its deadlines and which pages are due, and what a
 * resolved incident's pages refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "helper.h"
#include "ilog.h"
#include "ilog_pages.h"

static void
pages_record_delivery_and_acknowledgement(void **state)
{
	struct test_ilog *fx = *state;
	struct ilog_pages pages = { 0 };
	int64_t id = test_ilog_incident(fx, "down:n9", ILOG_SEVERITY_CRITICAL), p1, p2, ev, dl;
	int64_t t0 = fx->fake.now;

	assert_int_equal(ilog_page_insert(fx->log, id, 0, "ann@localhost", t0 + 300000,
	    "mcalert", &p1, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_next_deadline(fx->log, &dl, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(dl, t0 + 300000);
	fx->fake.now += 1000;
	assert_int_equal(ilog_page_mark(fx->log, p1, ILOG_PAGE_DELIVERED, "mcalert", NULL, &ev,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_true(ev > 0);
	fx->fake.now += 1000;
	assert_int_equal(ilog_page_mark(fx->log, p1, ILOG_PAGE_DELIVERED, "mcalert", NULL, &ev,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ev, 0); /* a second receipt is not a second event */

	/* The deadline passes: escalate to the next step. */
	assert_int_equal(ilog_page_due(fx->log, t0 + 299999, &pages, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(pages.n, 0);
	assert_int_equal(ilog_page_due(fx->log, t0 + 300000, &pages, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(pages.n, 1);
	assert_int_equal(pages.v[0].id, p1);
	assert_int_equal(ilog_page_set_deadline(fx->log, p1, 0, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_page_insert(fx->log, id, 1, "bob@localhost", t0 + 600000,
	    "mcalert", &p2, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_mark(fx->log, p2, ILOG_PAGE_FAILED, "mcalert",
	    "recipient-unavailable", NULL, fx->err, sizeof(fx->err)), ILOG_OK);

	fx->fake.now += 5000;
	assert_int_equal(ilog_incident_ack(fx->log, id, "xmpp:bob@localhost", NULL, NULL,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_list(fx->log, id, &pages, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pages.n, 2);
	assert_int_equal(pages.v[0].delivered_at, t0 + 1000);
	assert_int_equal(pages.v[0].next_deadline, 0);
	assert_int_equal(pages.v[0].acked_at, fx->fake.now);
	assert_int_equal(pages.v[1].step, 1);
	assert_string_equal(pages.v[1].target, "bob@localhost");
	assert_int_not_equal(pages.v[1].failed_at, 0);
	assert_string_equal(pages.v[1].detail, "recipient-unavailable");
	assert_int_equal(pages.v[1].acked_at, fx->fake.now);

	/* Resolved incidents have no pending deadlines and take no new pages. */
	assert_int_equal(ilog_incident_resolve(fx->log, id, "mcmon", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_next_deadline(fx->log, &dl, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(dl, 0);
	assert_int_equal(ilog_page_due(fx->log, INT64_MAX, &pages, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(pages.n, 0);
	assert_int_equal(ilog_page_insert(fx->log, id, 2, "room@conference.localhost", 0,
	    "mcalert", NULL, fx->err, sizeof(fx->err)), ILOG_ERR_STATE);
	assert_int_equal(ilog_page_mark(fx->log, 999, ILOG_PAGE_DISPLAYED, "mcalert", NULL, NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_page_set_deadline(fx->log, 999, 5, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	ilog_pages_release(&pages);
}
int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST_ILOG_CASE(pages_record_delivery_and_acknowledgement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
