/*
 * Unit tests of the remedies suggested for incidents in lib/ilog (lib/ilog_remedy.h):
 * a set kept while its evidence stays, superseded by newer evidence, a suggestion run
 * exactly once whoever races, never one of a resolved incident, and bad fields.
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
#include "ilog_remedy.h"

static struct ilog_remedy
suggestion(const char *verb, const char *tenant, const char *sentence)
{
	struct ilog_remedy r;

	memset(&r, 0, sizeof(r));
	snprintf(r.verb, sizeof(r.verb), "%s", verb);
	snprintf(r.cluster, sizeof(r.cluster), "c1");
	snprintf(r.tenant, sizeof(r.tenant), "%s", tenant);
	snprintf(r.sentence, sizeof(r.sentence), "%s", sentence);
	return r;
}

static void
a_set_stays_while_its_evidence_does_and_is_superseded_by_newer(void **state)
{
	struct test_ilog *fx = *state;
	int64_t id = test_ilog_incident(fx, "storm:c1", ILOG_SEVERITY_MAJOR);
	struct ilog_remedy set[2] = { suggestion("rebalance", "", "rebalance c1"),
		suggestion("flush", "acme", "flush tenant acme on c1") }, got;
	struct ilog_remedies list = { 0 };
	int64_t t0 = fx->fake.now;
	bool changed;

	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, set, 2, &changed, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(changed);
	fx->fake.now += 60000;
	/* The next round of pages, the same evidence: numbers keep their meaning. */
	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, set + 1, 1, &changed, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_false(changed);
	assert_int_equal(ilog_remedy_list(fx->log, id, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 2);
	assert_int_equal(list.v[0].number, 1);
	assert_string_equal(list.v[0].verb, "rebalance");
	assert_int_equal(list.v[0].created_at, t0);
	assert_int_equal(list.v[0].evidence_event, 10);
	assert_int_equal(list.v[1].number, 2);
	assert_string_equal(list.v[1].tenant, "acme");
	assert_string_equal(list.v[1].cluster, "c1");

	/* Newer evidence: the old set is superseded, the new one numbered from 1. */
	assert_int_equal(ilog_remedy_offer(fx->log, id, 11, set + 1, 1, &changed, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_true(changed);
	assert_int_equal(ilog_remedy_list(fx->log, id, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.v[0].verb, "flush");
	assert_int_equal(list.v[0].number, 1);
	/* Number 2 is only the superseded one now, which says so. */
	assert_int_equal(ilog_remedy_get(fx->log, id, 2, &got, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_string_equal(got.verb, "flush");
	assert_int_equal(got.superseded_at, fx->fake.now);
	assert_int_equal(ilog_remedy_claim(fx->log, got.id, "xmpp:alice@x", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "superseded"));
	assert_int_equal(ilog_remedy_get(fx->log, id, 3, &got, fx->err, sizeof(fx->err)),
	    ILOG_ERR_NOT_FOUND);
	/* Evidence that no longer suggests anything leaves nothing to run. */
	assert_int_equal(ilog_remedy_offer(fx->log, id, 12, NULL, 0, &changed, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_remedy_list(fx->log, id, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, 0);
	ilog_remedies_release(&list);
}

static void
a_suggestion_is_run_once_whoever_races(void **state)
{
	struct test_ilog *fx = *state;
	int64_t id = test_ilog_incident(fx, "storm:c1", ILOG_SEVERITY_MAJOR), ev;
	struct ilog_remedy set[1] = { suggestion("rebalance", "", "rebalance c1") }, got, mine;

	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, set, 1, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_remedy_get(fx->log, id, 1, &got, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	/* The done link needs a claim first. */
	assert_int_equal(ilog_remedy_done(fx->log, got.id, 5, fx->err, sizeof(fx->err)),
	    ILOG_ERR_STATE);
	fx->fake.now += 1000;
	assert_int_equal(ilog_remedy_claim(fx->log, got.id, "xmpp:alice@x", &mine, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(mine.run_at, fx->fake.now);
	assert_string_equal(mine.run_by, "xmpp:alice@x");
	/* bob said yes a moment later: refused, and told who ran it. */
	assert_int_equal(ilog_remedy_claim(fx->log, got.id, "xmpp:bob@x", &got, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "already run by xmpp:alice@x"));
	assert_string_equal(got.run_by, "xmpp:alice@x");
	assert_int_equal(ilog_event_append(fx->log, id, "xmpp:alice@x", ILOG_EV_REBALANCE,
	    "{}", &ev, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_remedy_done(fx->log, got.id, ev, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_remedy_get(fx->log, id, 1, &got, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(got.run_event, ev);
	/* An unknown suggestion. */
	assert_int_equal(ilog_remedy_claim(fx->log, 999, "xmpp:alice@x", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
}

static void
a_resolved_incident_takes_no_suggestion_and_runs_none(void **state)
{
	struct test_ilog *fx = *state;
	int64_t id = test_ilog_incident(fx, "storm:c1", ILOG_SEVERITY_MAJOR);
	struct ilog_remedy set[1] = { suggestion("flush", "acme", "flush tenant acme") }, got;
	bool changed = true;

	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, set, 1, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_remedy_get(fx->log, id, 1, &got, fx->err, sizeof(fx->err)),
	    ILOG_OK);
	assert_int_equal(ilog_incident_resolve(fx->log, id, "mcmon", NULL, NULL, fx->err,
	    sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_remedy_claim(fx->log, got.id, "xmpp:alice@x", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_non_null(strstr(fx->err, "resolved"));
	assert_int_equal(ilog_remedy_offer(fx->log, id, 11, set, 1, &changed, fx->err,
	    sizeof(fx->err)), ILOG_ERR_STATE);
	assert_false(changed);
	assert_int_equal(ilog_remedy_offer(fx->log, 999, 11, set, 1, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_NOT_FOUND);
}

static void
bad_fields_are_refused_before_anything_is_written(void **state)
{
	struct test_ilog *fx = *state;
	int64_t id = test_ilog_incident(fx, "storm:c1", ILOG_SEVERITY_MAJOR);
	struct ilog_remedy set[ILOG_REMEDY_MAX + 1], bad;
	struct ilog_remedies list = { 0 };
	size_t i;

	for (i = 0; i < ILOG_REMEDY_MAX + 1; i++)
		set[i] = suggestion("rebalance", "", "rebalance c1");
	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, set, ILOG_REMEDY_MAX + 1, NULL,
	    fx->err, sizeof(fx->err)), ILOG_ERR_ARG);
	bad = suggestion("", "", "x");
	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, &bad, 1, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	bad = suggestion("flush", "", "two\nlines");
	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, &bad, 1, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	bad = suggestion("flush", "", "\xff\xfe");
	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, &bad, 1, NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
	assert_int_equal(ilog_remedy_offer(fx->log, id, 10, set, ILOG_REMEDY_MAX, NULL,
	    fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(ilog_remedy_list(fx->log, id, &list, fx->err, sizeof(fx->err)), ILOG_OK);
	assert_int_equal(list.n, ILOG_REMEDY_MAX);
	assert_int_equal(list.v[ILOG_REMEDY_MAX - 1].number, ILOG_REMEDY_MAX);
	ilog_remedies_release(&list);
	assert_int_equal(ilog_remedy_claim(fx->log, list.n + 1, "", NULL, fx->err,
	    sizeof(fx->err)), ILOG_ERR_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST_ILOG_CASE(a_set_stays_while_its_evidence_does_and_is_superseded_by_newer),
		TEST_ILOG_CASE(a_suggestion_is_run_once_whoever_races),
		TEST_ILOG_CASE(a_resolved_incident_takes_no_suggestion_and_runs_none),
		TEST_ILOG_CASE(bad_fields_are_refused_before_anything_is_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
