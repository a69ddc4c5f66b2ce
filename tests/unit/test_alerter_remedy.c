/*
 * Unit tests of remedies from the page in mcalert: the chat verbs run, yes, silence
 * and maintenance (alerter/command), the suggestions derived from an incident's
 * evidence (alerter/suggest), the confirmations with a fake clock and the judgement
 * of a suggestion (alerter/confirm), and the page's list of them (alerter/message).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alerter/command.h"
#include "alerter/confirm.h"
#include "alerter/message.h"
#include "alerter/suggest.h"
#include "helper.h"
#include "tenants.h"

static void
run_and_yes_parse_with_and_without_an_incident(void **state)
{
	struct command c;

	(void)state;
	command_parse("run 1", &c);
	assert_int_equal(c.verb, COMMAND_RUN);
	assert_int_equal(c.number, 1);
	assert_int_equal(c.id, 0);
	command_parse("  RUN 2 #42 \n", &c);
	assert_int_equal(c.verb, COMMAND_RUN);
	assert_int_equal(c.number, 2);
	assert_int_equal(c.id, 42);
	command_parse("run 9 7", &c);
	assert_int_equal(c.verb, COMMAND_RUN);
	assert_int_equal(c.id, 7);
	command_parse("yes", &c);
	assert_int_equal(c.verb, COMMAND_YES);
	command_parse(" YES\r\n", &c);
	assert_int_equal(c.verb, COMMAND_YES);
	assert_non_null(strstr(command_help(), "run K"));
	assert_non_null(strstr(command_help(), "silence C"));
}

static void
run_and_yes_refuse_hostile_input(void **state)
{
	static const char *const bad[] = {
		"run", "run 0", "run 10", "run -1", "run 1x", "run one", "run 99999999999999999999",
		"run 1 #", "run 1 #0", "run 1 42 43", "run 1 42; flush_all", "run 1\t#x",
		"run %s%s%s", "yes please", "yes 1", "run 1 \xff\xfe",
	};
	struct command c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		command_parse(bad[i], &c);
		if (c.verb != COMMAND_BAD)
			fail_msg("'%s' parsed as verb %d", bad[i], c.verb);
		assert_true(c.error[0] != '\0');
	}
	/* "yess" is not yes: only the exact word confirms a remedy. */
	command_parse("yess", &c);
	assert_int_equal(c.verb, COMMAND_UNKNOWN);
	command_parse("y", &c);
	assert_int_equal(c.verb, COMMAND_UNKNOWN);
}

static void
silence_and_maintenance_take_a_cluster_and_a_bounded_duration(void **state)
{
	struct command c;

	(void)state;
	command_parse("silence c1 30m", &c);
	assert_int_equal(c.verb, COMMAND_SILENCE);
	assert_string_equal(c.cluster, "c1");
	assert_int_equal(c.duration_ms, 30 * 60000);
	assert_string_equal(c.message, "");
	command_parse("Silence c2 1h30m noisy deploy", &c);
	assert_int_equal(c.verb, COMMAND_SILENCE);
	assert_int_equal(c.duration_ms, 90 * 60000);
	assert_string_equal(c.message, "noisy deploy");
	command_parse("silence c1 24h", &c);
	assert_int_equal(c.verb, COMMAND_SILENCE);
	command_parse("maintenance c1 1h", &c);
	assert_int_equal(c.verb, COMMAND_MAINTENANCE);
	assert_int_equal(c.duration_ms, 3600000);
	command_parse("maintenance c1 7d Kernel upgrade", &c);
	assert_int_equal(c.verb, COMMAND_MAINTENANCE);
	assert_string_equal(c.message, "Kernel upgrade");
}

static void
silence_and_maintenance_refuse_hostile_input(void **state)
{
	static const char *const bad[] = {
		"silence", "silence c1", "silence 30m", "silence c1 0", "silence c1 59s",
		"silence c1 25h", "silence c1 -30m", "silence c1 30x", "silence c1 1h1h1h1h1h1h1h1h",
		"silence c1 99999999999999999999d", "silence ../etc 30m", "silence c1;drop 30m",
		"silence \xc3\xa9 30m", "maintenance c1 8d", "maintenance c1", "maintenance * 1h",
		"silence aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 30m",
	};
	struct command c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		command_parse(bad[i], &c);
		if (c.verb != COMMAND_BAD)
			fail_msg("'%s' parsed as verb %d", bad[i], c.verb);
		assert_int_equal(c.duration_ms, 0);
	}
}

/* --- suggestions from evidence -------------------------------------------------------- */

static struct ilog_incident
storm(const char *kind)
{
	struct ilog_incident inc;

	memset(&inc, 0, sizeof(inc));
	inc.id = 42;
	snprintf(inc.kind, sizeof(inc.kind), "%s", kind);
	snprintf(inc.cluster, sizeof(inc.cluster), "c1");
	inc.state = ILOG_STATE_OPEN;
	return inc;
}

#define RATE 20 /* [alerter] suggest_connrate's default */

#define WHO(tenants, busiest) \
	"{\"evidence\":{\"finding\":\"f\",\"remedy\":\"r\",\"who\":{\"tenants\":" tenants \
	",\"sources\":[],\"dominant\":true,\"known\":true" busiest "}}}"

static void
a_node_holding_most_connections_suggests_a_rebalance_first(void **state)
{
	struct ilog_incident inc = storm("connection_storm");
	struct ilog_remedy out[ILOG_REMEDY_MAX];
	size_t n;

	(void)state;
	n = suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.78,\"new_connections\":900}]",
	    ",\"busiest_node\":\"p2\",\"busiest_share\":0.8"), RATE, out, ILOG_REMEDY_MAX);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].verb, "rebalance");
	assert_string_equal(out[0].cluster, "c1");
	assert_string_equal(out[0].node, "");
	assert_int_equal(out[0].arg, 0);
	assert_string_equal(out[0].sentence,
	    "rebalance c1 — p2 holds 80% of the cluster's connections");
	assert_string_equal(out[1].verb, "connlimit");
	assert_string_equal(out[1].tenant, "acme");
	assert_int_equal(out[1].arg, RATE);
	assert_string_equal(out[2].verb, "flush");
	assert_string_equal(out[2].tenant, "acme");
	assert_non_null(strstr(out[2].sentence, "flush tenant acme on c1"));
	/* Room for one: the first. */
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.78}]",
	    ",\"busiest_node\":\"p2\",\"busiest_share\":0.8"), RATE, out, 1), 1);
	assert_string_equal(out[0].verb, "rebalance");
}

static void
suggestions_follow_the_thresholds_and_the_kinds_runbook(void **state)
{
	struct ilog_incident inc = storm("connection_storm");
	struct ilog_remedy out[ILOG_REMEDY_MAX];

	(void)state;
	/* 59% on the busiest node, 49% for the tenant: nothing to run. */
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.49}]",
	    ",\"busiest_node\":\"p2\",\"busiest_share\":0.59"), RATE, out, ILOG_REMEDY_MAX), 0);
	/* A latency tail is never flushed (its runbook), but may be rebalanced. */
	inc = storm("latency_tail");
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]",
	    ",\"busiest_node\":\"p2\",\"busiest_share\":0.7"), RATE, out, ILOG_REMEDY_MAX), 1);
	assert_string_equal(out[0].verb, "rebalance");
	/* A node that is down: nothing from chat. */
	inc = storm("node_down");
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]",
	    ",\"busiest_node\":\"p2\",\"busiest_share\":0.7"), RATE, out, ILOG_REMEDY_MAX), 0);
	/* No cluster: nowhere to act. */
	inc = storm("connection_storm");
	inc.cluster[0] = '\0';
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]", ""),
	    RATE, out, ILOG_REMEDY_MAX), 0);
}

static void
hostile_evidence_suggests_nothing_it_cannot_name(void **state)
{
	static const char *const bodies[] = {
		NULL, "", "not json", "[]", "{}", "{\"evidence\":{}}", "{\"evidence\":{\"who\":7}}",
		WHO("[{\"name\":\"acme; flush_all\",\"share\":0.9}]", ""),
		WHO("[{\"name\":\"ac me\",\"share\":0.9}]", ""),
		WHO("[{\"name\":7,\"share\":0.9}]", ""),
		WHO("[{\"name\":\"acme\",\"share\":\"0.9\"}]", ""),
		WHO("[]", ",\"busiest_node\":\"p2\\nflush_all\",\"busiest_share\":0.9"),
		WHO("[]", ",\"busiest_node\":\"p2\",\"busiest_share\":1.5"),
		WHO("[]", ",\"busiest_node\":\"\",\"busiest_share\":0.9"),
	};
	struct ilog_incident inc = storm("connection_storm");
	struct ilog_remedy out[ILOG_REMEDY_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		if (suggest_derive(&inc, bodies[i], RATE, out, ILOG_REMEDY_MAX) != 0)
			fail_msg("suggested from %s", bodies[i] != NULL ? bodies[i] : "NULL");
	/* The evidence may be the body itself (an "evidence" event). */
	assert_int_equal(suggest_derive(&inc, "{\"who\":{\"tenants\":[],\"busiest_node\":\"p2\","
	    "\"busiest_share\":0.75}}", RATE, out, ILOG_REMEDY_MAX), 1);
	assert_string_equal(out[0].sentence,
	    "rebalance c1 — p2 holds 75% of the cluster's connections");
}

static void
a_dominant_tenant_is_limited_at_the_configured_rate_before_its_flush(void **state)
{
	struct ilog_incident inc = storm("connection_storm");
	struct ilog_remedy out[ILOG_REMEDY_MAX];

	(void)state;
	/* No node holds 60%: the limit first, the flush last. */
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]",
	    ",\"busiest_node\":\"p2\",\"busiest_share\":0.5"), 35, out, ILOG_REMEDY_MAX), 2);
	assert_string_equal(out[0].verb, "connlimit");
	assert_string_equal(out[0].cluster, "c1");
	assert_string_equal(out[0].node, "");
	assert_string_equal(out[0].tenant, "acme");
	assert_int_equal(out[0].arg, 35);
	assert_string_equal(out[0].sentence,
	    "limit tenant acme's new connections to 35/s on c1 — it has 90% of new connections");
	assert_string_equal(out[1].verb, "flush");
	/* A proxy storm limits the tenant (proxies admit its logins) and flushes nothing. */
	inc = storm("proxy_storm");
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]", ""),
	    RATE, out, ILOG_REMEDY_MAX), 1);
	assert_string_equal(out[0].verb, "connlimit");
	/* A latency tail limits nobody; a rate out of range suggests no limit. */
	inc = storm("latency_tail");
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]", ""),
	    RATE, out, ILOG_REMEDY_MAX), 0);
	inc = storm("connection_storm");
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]", ""),
	    0, out, ILOG_REMEDY_MAX), 1);
	assert_string_equal(out[0].verb, "flush");
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.9}]", ""),
	    TENANT_CONN_LIMIT_MAX + 1ULL, out, ILOG_REMEDY_MAX), 1);
	/* Below the dominant share: no tenant is named, so none is limited. */
	assert_int_equal(suggest_derive(&inc, WHO("[{\"name\":\"acme\",\"share\":0.49}]", ""),
	    RATE, out, ILOG_REMEDY_MAX), 0);
}

/* --- confirmations with a fake clock --------------------------------------------------- */

static struct confirm_wait
wait_for(int64_t remedy_id, int number, int64_t at)
{
	struct confirm_wait w;

	memset(&w, 0, sizeof(w));
	w.remedy_id = remedy_id;
	w.incident_id = 42;
	w.number = number;
	w.asked_at = at;
	return w;
}

static void
yes_within_a_minute_goes_once_and_after_it_is_late(void **state)
{
	static struct confirm cf;
	struct confirm_wait w = wait_for(7, 1, TEST_CLOCK_START_MS), got;
	int64_t now = TEST_CLOCK_START_MS;

	(void)state;
	confirm_init(&cf);
	assert_int_equal(confirm_take(&cf, "alice@x", now, &got), CONFIRM_NOTHING);
	confirm_ask(&cf, "alice@x", &w);
	now += CONFIRM_WINDOW_MS; /* exactly a minute: still in time */
	assert_int_equal(confirm_take(&cf, "Alice@X", now, &got), CONFIRM_GO);
	assert_int_equal(got.remedy_id, 7);
	assert_string_equal(got.jid, "alice@x");
	/* A second yes finds nothing. */
	assert_int_equal(confirm_take(&cf, "alice@x", now, &got), CONFIRM_NOTHING);

	confirm_ask(&cf, "alice@x", &w);
	assert_int_equal(confirm_take(&cf, "alice@x", now + 1, &got), CONFIRM_LATE);
	assert_int_equal(got.number, 1);
	/* Late takes it away too: a yes after that is not a second chance. */
	assert_int_equal(confirm_take(&cf, "alice@x", now + 2, &got), CONFIRM_NOTHING);
	/* A clock that went back is not "in time". */
	confirm_ask(&cf, "alice@x", &w);
	assert_int_equal(confirm_take(&cf, "alice@x", TEST_CLOCK_START_MS - 1, &got),
	    CONFIRM_LATE);
}

static void
each_sender_waits_for_their_own_question(void **state)
{
	static struct confirm cf;
	struct confirm_wait got, w;
	int64_t now = TEST_CLOCK_START_MS;
	char jid[32];
	size_t i;

	(void)state;
	confirm_init(&cf);
	w = wait_for(7, 1, now);
	confirm_ask(&cf, "alice@x", &w);
	w = wait_for(8, 2, now);
	confirm_ask(&cf, "bob@x", &w);
	/* A second run replaces the sender's first. */
	w = wait_for(9, 3, now + 10);
	confirm_ask(&cf, "alice@x", &w);
	assert_int_equal(cf.n, 2);
	/* Both engineers race on their yes: each gets their own; the log decides who
	 * runs a suggestion both asked for (test_ilog_remedy). */
	assert_int_equal(confirm_take(&cf, "bob@x", now + 20, &got), CONFIRM_GO);
	assert_int_equal(got.remedy_id, 8);
	assert_int_equal(confirm_take(&cf, "alice@x", now + 20, &got), CONFIRM_GO);
	assert_int_equal(got.remedy_id, 9);
	assert_int_equal(cf.n, 0);
	/* Full: the oldest question goes. */
	for (i = 0; i < CONFIRM_SENDERS_MAX + 1; i++) {
		snprintf(jid, sizeof(jid), "e%zu@x", i);
		w = wait_for((int64_t)i + 1, 1, now + (int64_t)i);
		confirm_ask(&cf, jid, &w);
	}
	assert_int_equal(cf.n, CONFIRM_SENDERS_MAX);
	assert_int_equal(confirm_take(&cf, "e0@x", now + 100, &got), CONFIRM_NOTHING);
	assert_int_equal(confirm_take(&cf, "e64@x", now + 100, &got), CONFIRM_GO);
	assert_int_equal(got.remedy_id, CONFIRM_SENDERS_MAX + 1);
}

static void
a_suggestion_expires_is_superseded_or_dies_with_its_incident(void **state)
{
	struct ilog_remedy r;
	int64_t t0 = TEST_CLOCK_START_MS;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.created_at = t0;
	r.evidence_event = 5;
	assert_int_equal(confirm_judge(&r, false, 5, t0), CONFIRM_RUNNABLE);
	assert_int_equal(confirm_judge(&r, false, 0, t0 + CONFIRM_LIFETIME_MS), CONFIRM_RUNNABLE);
	assert_int_equal(confirm_judge(&r, false, 5, t0 + CONFIRM_LIFETIME_MS + 1),
	    CONFIRM_EXPIRED);
	assert_int_equal(confirm_judge(&r, false, 6, t0), CONFIRM_SUPERSEDED);
	assert_int_equal(confirm_judge(&r, true, 5, t0), CONFIRM_RESOLVED);
	r.superseded_at = t0 + 1;
	assert_int_equal(confirm_judge(&r, false, 5, t0), CONFIRM_SUPERSEDED);
	r.run_at = t0 + 2;
	assert_int_equal(confirm_judge(&r, true, 6, t0 + CONFIRM_LIFETIME_MS * 2),
	    CONFIRM_ALREADY_RUN);
}

/* --- the page lists them --------------------------------------------------------------- */

static void
a_page_lists_its_numbered_remedies_and_how_to_run_them(void **state)
{
	struct ilog_incident inc = storm("connection_storm");
	struct ilog_remedy s[2];
	char buf[MESSAGE_MAX];
	struct page_text t;

	(void)state;
	snprintf(inc.title, sizeof(inc.title), "Connection storm on c1");
	memset(s, 0, sizeof(s));
	s[0].number = 1;
	snprintf(s[0].sentence, sizeof(s[0].sentence), "rebalance c1 — p2 holds 80%% of the "
	    "cluster's connections");
	s[1].number = 2;
	snprintf(s[1].sentence, sizeof(s[1].sentence), "flush tenant acme on c1");
	memset(&t, 0, sizeof(t));
	t.incident = &inc;
	t.runbook_base = "docs/runbooks/";
	t.step = t.round = t.rounds = 1;
	t.nsteps = 1;
	t.suggestions = s;
	t.nsuggestions = 2;
	message_page(&t, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\nRemedies (reply \"run K\", then \"yes\"):\n"
				    "1: rebalance c1 — p2 holds 80% of the cluster's connections\n"
				    "2: flush tenant acme on c1\nRunbook: "));
	/* To a room: where to send it, with the incident. */
	t.ack_to = "mcalert@x";
	message_page(&t, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Remedies (send \"run K 42\" to mcalert@x, then \"yes\"):\n"));
	/* None: no heading. */
	t.nsuggestions = 0;
	message_page(&t, buf, sizeof(buf));
	assert_null(strstr(buf, "Remedies"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(run_and_yes_parse_with_and_without_an_incident),
		cmocka_unit_test(run_and_yes_refuse_hostile_input),
		cmocka_unit_test(silence_and_maintenance_take_a_cluster_and_a_bounded_duration),
		cmocka_unit_test(silence_and_maintenance_refuse_hostile_input),
		cmocka_unit_test(a_node_holding_most_connections_suggests_a_rebalance_first),
		cmocka_unit_test(suggestions_follow_the_thresholds_and_the_kinds_runbook),
		cmocka_unit_test(hostile_evidence_suggests_nothing_it_cannot_name),
		cmocka_unit_test(a_dominant_tenant_is_limited_at_the_configured_rate_before_its_flush),
		cmocka_unit_test(yes_within_a_minute_goes_once_and_after_it_is_late),
		cmocka_unit_test(each_sender_waits_for_their_own_question),
		cmocka_unit_test(a_suggestion_expires_is_superseded_or_dies_with_its_incident),
		cmocka_unit_test(a_page_lists_its_numbered_remedies_and_how_to_run_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
