/*
 * Unit tests of lib/rotation (rotations from [oncall] sections, the schedule across
 * hand-offs, overrides and their cancellation, from events and from the log), of
 * lib/jid, which it is built on (lib/utctime has tests/unit/test_utctime.c).
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

#include "helper.h"
#include "jid.h"
#include "rotation.h"

#define H (3600LL * 1000)
#define D (24 * H)
/* 2024-01-01T09:00:00Z, a Monday. */
#define T0 1704099600000LL

static const char good_config[] =
    "[oncall]\n"
    "members = alice@example.com, bob@example.com,carol@example.com\n"
    "shift = 7d\n"
    "handoff = 2024-01-01 09:00\n"
    "[oncall db]\n"
    "members = dave@example.com eve@example.com\n"
    "shift = 12h\n"
    "handoff = 2024-01-01T00:00:00Z\n";

static void
load_ok(const char *text, struct config *cfg, struct rotations *r)
{
	struct config_errors errs = { 0 };

	memset(cfg, 0, sizeof(*cfg));
	assert_int_equal(config_load_string(cfg, "t.conf", text, &errs), 0);
	assert_int_equal(rotations_load(r, cfg, &errs), 0);
	assert_int_equal(errs.n, 0);
	config_errors_release(&errs);
}

static void
rotations_load_every_oncall_section(void **state)
{
	struct config cfg;
	struct rotations r = { 0 };
	const struct rotation *a, *db;

	(void)state;
	load_ok(good_config, &cfg, &r);
	assert_int_equal(r.n, 2);
	assert_non_null(a = rotations_find(&r, ROTATION_DEFAULT));
	assert_int_equal(a->nmembers, 3);
	assert_string_equal(a->members[1], "bob@example.com");
	assert_string_equal(a->members[2], "carol@example.com");
	assert_int_equal(a->shift_ms, 7 * D);
	assert_int_equal(a->handoff_ms, T0);
	assert_non_null(db = rotations_find(&r, "db"));
	assert_int_equal(db->nmembers, 2);
	assert_int_equal(db->shift_ms, 12 * H);
	assert_null(rotations_find(&r, "nope"));
	assert_true(rotations_owns("oncall"));
	assert_true(rotations_owns("oncall db"));
	assert_false(rotations_owns("alerter"));
	rotations_release(&r);
	config_release(&cfg);
}

static void
rotations_report_every_error_with_its_line(void **state)
{
	static const char bad[] =
	    "[oncall]\n"                            /* 1 */
	    "members = alice@example.com, bob\n"     /* 2: not a JID */
	    "shift = 10s\n"                          /* 3: too short */
	    "handoff = 2024-02-30 09:00\n"           /* 4: no such day */
	    "[oncall b@d]\n"                         /* 5: bad name */
	    "members = x@y\n"
	    "[oncall empty]\n"                       /* 7: nothing at all */
	    "[oncall twice]\n"                       /* 8 */
	    "members = a@b, A@B\n"                   /* 9: the same JID twice */
	    "shift = 1d\n"
	    "handoff = 2024-01-01\n";
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	struct rotations r = { 0 };
	char all[4096] = "";
	size_t i;

	(void)state;
	assert_int_equal(config_load_string(&cfg, "t.conf", bad, &errs), 0);
	assert_int_equal(rotations_load(&r, &cfg, &errs), -1);
	assert_int_equal(r.n, 0);
	for (i = 0; i < errs.n; i++) {
		strncat(all, errs.msgs[i], sizeof(all) - strlen(all) - 2);
		strncat(all, "\n", sizeof(all) - strlen(all) - 1);
	}
	assert_non_null(strstr(all, "t.conf:2: members: 'bob' is not a JID"));
	assert_non_null(strstr(all, "t.conf:3: shift: '10s'"));
	assert_non_null(strstr(all, "t.conf:4: handoff: '2024-02-30 09:00'"));
	assert_non_null(strstr(all, "t.conf:5: [oncall b@d]"));
	assert_non_null(strstr(all, "t.conf:7: [oncall empty] needs members"));
	assert_non_null(strstr(all, "t.conf:7: [oncall empty] needs shift"));
	assert_non_null(strstr(all, "t.conf:9: members: 'A@B' is listed twice"));
	config_errors_release(&errs);
	config_release(&cfg);
}

static void
schedule_hands_off_in_member_order_both_ways_from_the_anchor(void **state)
{
	struct config cfg;
	struct rotations r = { 0 };
	const struct rotation *a;
	struct oncall oc;

	(void)state;
	load_ok(good_config, &cfg, &r);
	a = rotations_find(&r, ROTATION_DEFAULT);
	rotation_scheduled(a, T0, &oc);
	assert_string_equal(oc.jid, "alice@example.com");
	assert_int_equal(oc.start, T0);
	assert_int_equal(oc.end, T0 + 7 * D);
	/* The last millisecond of a turn is still alice's; the next one is bob's. */
	rotation_scheduled(a, T0 + 7 * D - 1, &oc);
	assert_string_equal(oc.jid, "alice@example.com");
	rotation_scheduled(a, T0 + 7 * D, &oc);
	assert_string_equal(oc.jid, "bob@example.com");
	rotation_scheduled(a, T0 + 20 * D, &oc);
	assert_string_equal(oc.jid, "carol@example.com");
	rotation_scheduled(a, T0 + 21 * D, &oc);
	assert_string_equal(oc.jid, "alice@example.com");
	/* Before the anchor the cycle runs backwards: carol had the week before. */
	rotation_scheduled(a, T0 - 1, &oc);
	assert_string_equal(oc.jid, "carol@example.com");
	assert_int_equal(oc.start, T0 - 7 * D);
	assert_int_equal(oc.end, T0);
	rotation_scheduled(a, T0 - 7 * D - 1, &oc);
	assert_string_equal(oc.jid, "bob@example.com");
	rotations_release(&r);
	config_release(&cfg);
}

static struct rotation_override
override(int64_t id, const char *rot, const char *jid, int64_t from, int64_t until)
{
	struct rotation_override o;

	memset(&o, 0, sizeof(o));
	o.id = id;
	snprintf(o.rotation, sizeof(o.rotation), "%s", rot);
	snprintf(o.jid, sizeof(o.jid), "%s", jid);
	o.from = from;
	o.until = until;
	return o;
}

static void
the_newest_covering_override_wins_and_ends_where_the_next_begins(void **state)
{
	struct config cfg;
	struct rotations r = { 0 };
	struct rotation_override v[3];
	struct rotation_overrides ov = { v, 3, 3 };
	const struct rotation *a;
	struct oncall oc;

	(void)state;
	load_ok(good_config, &cfg, &r);
	a = rotations_find(&r, ROTATION_DEFAULT);
	/* Newest first, as the list keeps them. */
	v[0] = override(30, ROTATION_DEFAULT, "zoe@example.com", T0 + 2 * D, T0 + 3 * D);
	v[1] = override(20, ROTATION_DEFAULT, "dan@example.com", T0 + 1 * D, T0 + 4 * D);
	v[2] = override(10, "db", "bob@example.com", T0, T0 + 9 * D); /* another rotation */
	rotation_oncall(a, &ov, T0 + H, &oc);
	assert_string_equal(oc.jid, "alice@example.com");
	assert_int_equal(oc.override_id, 0);
	assert_int_equal(oc.end, T0 + 1 * D); /* dan's override starts then */
	rotation_oncall(a, &ov, T0 + 1 * D, &oc);
	assert_string_equal(oc.jid, "dan@example.com");
	assert_int_equal(oc.override_id, 20);
	assert_int_equal(oc.end, T0 + 2 * D); /* zoe's newer one takes over */
	rotation_oncall(a, &ov, T0 + 2 * D + H, &oc);
	assert_string_equal(oc.jid, "zoe@example.com");
	assert_int_equal(oc.end, T0 + 3 * D);
	rotation_oncall(a, &ov, T0 + 3 * D, &oc);
	assert_string_equal(oc.jid, "dan@example.com"); /* back to the older override */
	rotation_oncall(a, &ov, T0 + 4 * D, &oc);
	assert_string_equal(oc.jid, "alice@example.com");
	assert_int_equal(oc.end, T0 + 7 * D);
	rotations_release(&r);
	config_release(&cfg);
}

static struct ilog_event
event(int64_t id, const char *type, char *body)
{
	struct ilog_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.id = id;
	ev.at = T0;
	snprintf(ev.type, sizeof(ev.type), "%s", type);
	snprintf(ev.actor, sizeof(ev.actor), "mctl:ann");
	ev.body_json = body;
	return ev;
}

static void
applying_events_adds_overrides_and_cancellations_remove_them(void **state)
{
	struct rotation_overrides ov = { 0 };
	char b1[] = "{\"rotation\":\"oncall\",\"jid\":\"dan@example.com\",\"from\":1,\"until\":"
		    "9999999999999}";
	char b2[] = "{\"rotation\":\"oncall\",\"jid\":\"old@example.com\",\"from\":1,\"until\":5}";
	char bad[] = "{\"rotation\":\"oncall\",\"jid\":\"not a jid\",\"from\":1,\"until\":5}";
	char inverted[] = "{\"rotation\":\"oncall\",\"jid\":\"a@b\",\"from\":9,\"until\":5}";
	char cancel[] = "{\"override\": 7}";
	char cancel_bad[] = "{\"override\": \"seven\"}";
	char err[128];
	struct ilog_event ev;

	(void)state;
	ev = event(7, ROTATION_EV_OVERRIDE, b1);
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), 1);
	assert_int_equal(ov.n, 1);
	assert_string_equal(ov.v[0].jid, "dan@example.com");
	assert_string_equal(ov.v[0].actor, "mctl:ann");
	/* Seen twice (a replay after a crash): still one. */
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), 1);
	assert_int_equal(ov.n, 1);
	/* One that ended long ago is not kept. */
	ev = event(8, ROTATION_EV_OVERRIDE, b2);
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), 1);
	assert_int_equal(ov.n, 1);
	ev = event(9, ROTATION_EV_OVERRIDE, bad);
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), -1);
	ev = event(10, ROTATION_EV_OVERRIDE, inverted);
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), -1);
	ev = event(11, "note", b1);
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), 0);
	ev = event(12, ROTATION_EV_CANCEL, cancel_bad);
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), -1);
	assert_int_equal(ov.n, 1);
	ev = event(13, ROTATION_EV_CANCEL, cancel);
	assert_int_equal(rotation_overrides_apply(&ov, &ev, T0, err, sizeof(err)), 1);
	assert_int_equal(ov.n, 0);
	rotation_overrides_release(&ov);
}

static void
overrides_recorded_in_the_log_read_back_without_the_cancelled(void **state)
{
	struct rotation_overrides ov = { 0 };
	struct test_ilog t;
	struct ilog *log;
	char err[ILOG_ERR_LEN];
	int64_t id1, id2, id3;

	(void)state;
	assert_int_equal(test_ilog_open(&t, "test_rotation"), 0);
	log = t.log;
	assert_int_equal(rotation_override_record(log, "oncall", "dan@example.com", T0,
	    T0 + D, "mctl:ann", &id1, err, sizeof(err)), 0);
	assert_int_equal(rotation_override_record(log, "db", "eve@example.com", T0, T0 + 2 * D,
	    "mctl:ann", &id2, err, sizeof(err)), 0);
	assert_int_equal(rotation_override_record(log, "oncall", "old@example.com", 1000, 2000,
	    "mctl:ann", &id3, err, sizeof(err)), 0);
	/* Refused: not a JID, not a name, ends before it starts, cancels nothing. */
	assert_int_equal(rotation_override_record(log, "oncall", "dan", T0, T0 + D, "mctl:ann",
	    NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'dan' is not a JID"));
	assert_int_equal(rotation_override_record(log, "on call", "dan@example.com", T0, T0 + D,
	    "mctl:ann", NULL, err, sizeof(err)), -1);
	assert_int_equal(rotation_override_record(log, "oncall", "dan@example.com", T0 + D, T0,
	    "mctl:ann", NULL, err, sizeof(err)), -1);
	assert_int_equal(rotation_override_cancel(log, 424242, "mctl:ann", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no override 424242"));
	assert_int_equal(rotation_override_cancel(log, id2, "mctl:ann", err, sizeof(err)), 0);
	assert_int_equal(rotation_overrides_read(log, T0, &ov, err, sizeof(err)), 0);
	assert_int_equal(ov.n, 1);
	assert_int_equal(ov.v[0].id, id1);
	assert_string_equal(ov.v[0].rotation, "oncall");
	assert_int_equal(ov.v[0].until, T0 + D);
	rotation_overrides_release(&ov);
	test_ilog_close(&t);
	(void)id3;
}

static void
jids_are_checked_compared_without_case_and_stripped_of_resources(void **state)
{
	char buf[JID_MAX + 1], tiny[4];
	char longjid[JID_MAX + 10];

	(void)state;
	assert_true(jid_bare_valid("alice@example.com"));
	assert_false(jid_bare_valid("alice"));
	assert_false(jid_bare_valid("@example.com"));
	assert_false(jid_bare_valid("alice@"));
	assert_false(jid_bare_valid("a@b@c"));
	assert_false(jid_bare_valid("alice@example.com/phone"));
	assert_false(jid_bare_valid("al ice@example.com"));
	assert_false(jid_bare_valid("al<ice@example.com"));
	assert_false(jid_bare_valid(""));
	memset(longjid, 'a', sizeof(longjid) - 1);
	longjid[sizeof(longjid) - 1] = '\0';
	longjid[3] = '@';
	assert_false(jid_bare_valid(longjid));
	assert_true(jid_domain_valid("conference.example.com"));
	assert_false(jid_domain_valid("a@conference"));
	assert_int_equal(jid_bare("Alice@Example.com/phone/x", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Alice@Example.com");
	assert_string_equal(jid_resource("Alice@Example.com/phone/x"), "phone/x");
	assert_string_equal(jid_resource("alice@example.com"), "");
	assert_true(jid_equal(buf, "alice@example.COM"));
	assert_false(jid_equal(buf, "alice@example.org"));
	assert_int_equal(jid_bare("alice@example.com", tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "");
	assert_int_equal(jid_bare("room/nick", buf, sizeof(buf)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rotations_load_every_oncall_section),
		cmocka_unit_test(rotations_report_every_error_with_its_line),
		cmocka_unit_test(schedule_hands_off_in_member_order_both_ways_from_the_anchor),
		cmocka_unit_test(the_newest_covering_override_wins_and_ends_where_the_next_begins),
		cmocka_unit_test(applying_events_adds_overrides_and_cancellations_remove_them),
		cmocka_unit_test(overrides_recorded_in_the_log_read_back_without_the_cancelled),
		cmocka_unit_test(jids_are_checked_compared_without_case_and_stripped_of_resources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
