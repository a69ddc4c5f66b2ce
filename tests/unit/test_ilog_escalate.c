/*
 * Unit tests of the two calls lib/ilog gained for the pager: ilog_page_escalate()
 * (a page and the stop of the incident's other deadlines in one transaction, with
 * extra members in the "paged" event) and ilog_events_of_type() (records about no
 * incident, newest first).
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

#include <jansson.h>

#include "helper.h"
#include "ilog.h"
#include "ilog_pages.h"

struct fixture {
	struct test_ilog il;
	struct ilog *log; /* il.log */
	struct test_clock clock;
	char err[ILOG_ERR_LEN];
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ilog_clock clock = { test_clock_now, NULL, NULL };

	if (fx == NULL || test_ilog_open(&fx->il, "test_ilog_escalate") < 0)
		return -1;
	fx->log = fx->il.log;
	test_clock_init(&fx->clock, TEST_CLOCK_START_MS);
	clock.arg = &fx->clock;
	ilog_set_clock(fx->log, &clock);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	test_ilog_close(&fx->il);
	free(fx);
	return 0;
}

static int64_t
open_incident(struct fixture *fx, const char *fp)
{
	struct ilog_incident_spec spec = { fp, "manual", NULL, NULL, ILOG_SEVERITY_MAJOR, "t",
		NULL };
	struct ilog_upsert_result res;

	assert_int_equal(ilog_incident_upsert(fx->log, &spec, "test", &res, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	return res.id;
}

static void
escalating_stops_every_other_deadline_of_the_incident_only(void **state)
{
	struct fixture *fx = *state;
	int64_t a = open_incident(fx, "a"), b = open_incident(fx, "b");
	int64_t p1, p2, p3, pb, deadline;
	struct ilog_pages pages = { 0 };

	assert_int_equal(ilog_page_insert(fx->log, a, 1, "x@h", fx->clock.now + 1000, "mcalert", &p1,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_insert(fx->log, b, 1, "x@h", fx->clock.now + 500, "mcalert", &pb,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_escalate(fx->log, a, 2, "y@h", fx->clock.now + 2000, NULL,
	    "mcalert", &p2, NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_list(fx->log, a, &pages, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pages.n, 2);
	assert_int_equal(pages.v[0].id, p1);
	assert_int_equal(pages.v[0].next_deadline, 0);
	assert_int_equal(pages.v[1].id, p2);
	assert_int_equal(pages.v[1].step, 2);
	assert_int_equal(pages.v[1].next_deadline, fx->clock.now + 2000);
	/* The other incident's deadline is untouched: the earliest is still b's. */
	assert_int_equal(ilog_page_next_deadline(fx->log, &deadline, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(deadline, fx->clock.now + 500);
	/* A last step without a deadline leaves the incident with none pending. */
	assert_int_equal(ilog_page_escalate(fx->log, a, 3, "room:r@c", 0, NULL, "mcalert", &p3,
	    NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_page_list(fx->log, a, &pages, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(pages.v[1].next_deadline, 0);
	assert_int_equal(pages.v[2].next_deadline, 0);
	ilog_pages_release(&pages);
	(void)pb;
}

static void
escalating_adds_extra_members_but_never_replaces_the_page_ones(void **state)
{
	struct fixture *fx = *state;
	int64_t a = open_incident(fx, "a"), page, ev;
	struct ilog_events tl = { 0 };
	json_t *body;

	assert_int_equal(ilog_page_escalate(fx->log, a, 4, "y@h", 0,
	    "{\"position\": 3, \"page_id\": 999, \"target\": \"evil\", \"via\": \"oncall\"}",
	    "mcalert", &page, &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_timeline(fx->log, a, &tl, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(tl.n, 2);
	assert_string_equal(tl.v[1].type, "paged");
	assert_int_equal(tl.v[1].id, ev);
	body = json_loads(tl.v[1].body_json, 0, NULL);
	assert_non_null(body);
	assert_int_equal(json_integer_value(json_object_get(body, "page_id")), page);
	assert_int_equal(json_integer_value(json_object_get(body, "step")), 4);
	assert_string_equal(json_string_value(json_object_get(body, "target")), "y@h");
	assert_int_equal(json_integer_value(json_object_get(body, "position")), 3);
	assert_string_equal(json_string_value(json_object_get(body, "via")), "oncall");
	json_decref(body);
	ilog_events_release(&tl);
}

static void
escalating_refuses_bad_arguments_and_resolved_incidents_writing_nothing(void **state)
{
	struct fixture *fx = *state;
	int64_t a = open_incident(fx, "a"), last_before, last_after;

	assert_int_equal(ilog_last_event_id(fx->log, &last_before, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_page_escalate(fx->log, a, 1, "y@h", 0, "[1, 2]", "mcalert", NULL,
	    NULL, fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_page_escalate(fx->log, a, 1, "y@h", 0, "{not json", "mcalert", NULL,
	    NULL, fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_page_escalate(fx->log, a, 1, "", 0, NULL, "mcalert", NULL, NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_page_escalate(fx->log, a, 1, "y@h", -5, NULL, "mcalert", NULL,
	    NULL, fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_page_escalate(fx->log, 4242, 1, "y@h", 0, NULL, "mcalert", NULL,
	    NULL, fx->err, sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_incident_resolve(fx->log, a, "test", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_last_event_id(fx->log, &last_before, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_page_escalate(fx->log, a, 1, "y@h", 0, NULL, "mcalert", NULL, NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "resolved"));
	assert_int_equal(ilog_last_event_id(fx->log, &last_after, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(last_after, last_before);
}

static void
events_of_type_lists_records_about_no_incident_newest_first(void **state)
{
	struct fixture *fx = *state;
	struct ilog_events out = { 0 };
	int64_t a = open_incident(fx, "a"), e1, e2, e3;

	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "oncall_override",
	    "{\"n\": 1}", &e1, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_event_append(fx->log, a, "mctl:ann", "oncall_override",
	    "{\"n\": 2}", NULL, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:ann", "note_other", NULL, NULL,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:bob", "oncall_override",
	    "{\"n\": 3}", &e2, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_event_append(fx->log, 0, "mctl:bob", "oncall_override",
	    "{\"n\": 4}", &e3, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_events_of_type(fx->log, "oncall_override", 0, &out, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(out.n, 3);
	assert_false(out.truncated);
	assert_int_equal(out.v[0].id, e3);
	assert_int_equal(out.v[1].id, e2);
	assert_int_equal(out.v[2].id, e1);
	assert_int_equal(out.v[2].incident_id, 0);
	/* A limit keeps the newest and says that more were there. */
	assert_int_equal(ilog_events_of_type(fx->log, "oncall_override", 2, &out, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(out.n, 2);
	assert_true(out.truncated);
	assert_int_equal(out.v[1].id, e2);
	/* An unknown type is an empty list; an invalid one an argument error. */
	assert_int_equal(ilog_events_of_type(fx->log, "nothing_like_it", 0, &out, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(out.n, 0);
	assert_int_equal(ilog_events_of_type(fx->log, "Bad Type", 0, &out, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(out.n, 0);
	assert_int_equal(ilog_events_of_type(fx->log, "x' OR 1=1 --", 0, &out, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	ilog_events_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    escalating_stops_every_other_deadline_of_the_incident_only, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    escalating_adds_extra_members_but_never_replaces_the_page_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    escalating_refuses_bad_arguments_and_resolved_incidents_writing_nothing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    events_of_type_lists_records_about_no_incident_newest_first, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
