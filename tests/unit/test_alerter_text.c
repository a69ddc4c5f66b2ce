/*
 * Unit tests of the alerter's texts and parsers: chat commands (alerter/command),
 * page and notice texts and the evidence summary (alerter/message), and the
 * Alertmanager webhook reader and its effect on the log (alerter/intake), and the
 * text every outgoing body is made into (alerter/xmpp: xclient_text_clean).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "alerter/command.h"
#include "alerter/intake.h"
#include "alerter/message.h"
#include "alerter/xmpp.h"
#include "helper.h"

static void
commands_parse_verbs_numbers_and_notes(void **state)
{
	struct command c;

	(void)state;
	command_parse("ack 42", &c);
	assert_int_equal(c.verb, COMMAND_ACK);
	assert_int_equal(c.id, 42);
	assert_string_equal(c.message, "");
	command_parse("  ACK #7   on it, restarting n1 \n", &c);
	assert_int_equal(c.verb, COMMAND_ACK);
	assert_int_equal(c.id, 7);
	assert_string_equal(c.message, "on it, restarting n1");
	command_parse("ack", &c);
	assert_int_equal(c.verb, COMMAND_ACK);
	assert_int_equal(c.id, 0);
	command_parse("Resolve 12 fixed", &c);
	assert_int_equal(c.verb, COMMAND_RESOLVE);
	assert_int_equal(c.id, 12);
	assert_string_equal(c.message, "fixed");
	command_parse("status", &c);
	assert_int_equal(c.verb, COMMAND_STATUS);
	command_parse("incidents", &c);
	assert_int_equal(c.verb, COMMAND_INCIDENTS);
	command_parse("help", &c);
	assert_int_equal(c.verb, COMMAND_HELP);
	command_parse(" \t\n", &c);
	assert_int_equal(c.verb, COMMAND_EMPTY);
	assert_non_null(strstr(command_help(), "ack N"));
}

static void
commands_refuse_bad_numbers_unknown_verbs_and_floods(void **state)
{
	char big[COMMAND_TEXT_MAX + 10];
	struct command c;

	(void)state;
	command_parse("resolve", &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	assert_non_null(strstr(c.error, "needs an incident number"));
	command_parse("ack forty-two", &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	assert_non_null(strstr(c.error, "'forty-two' is not an incident number"));
	command_parse("ack 0", &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	command_parse("ack -3", &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	command_parse("ack 99999999999999999999999", &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	command_parse("ack #", &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	command_parse("rm -rf /", &c);
	assert_int_equal(c.verb, COMMAND_UNKNOWN);
	assert_string_equal(c.word, "rm");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	command_parse(big, &c);
	assert_int_equal(c.verb, COMMAND_TOO_LONG);
	/* A very long first word is kept short. */
	memset(big, 'y', COMMAND_TEXT_MAX - 1);
	big[COMMAND_TEXT_MAX - 1] = '\0';
	command_parse(big, &c);
	assert_int_equal(c.verb, COMMAND_UNKNOWN);
	assert_int_equal(strlen(c.word), COMMAND_WORD_MAX);
}

/* True if s is UTF-8 that XML 1.0 may carry (what a server accepts in a body). */
static bool
xml_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		uint32_t cp;
		size_t n, i;

		if (*p < 0x80) {
			if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
				return false;
			p++;
			continue;
		}
		n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0)
			return false;
		cp = *p & (0xff >> (n + 1));
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff || cp > 0x10ffff)
			return false;
		p += n;
	}
	return true;
}

static void
commands_quote_long_words_without_cutting_a_character(void **state)
{
	char text[200];
	struct command c;
	size_t i;

	(void)state;
	/* "x" then two-byte characters: the verb's 32-byte cut falls inside one. */
	snprintf(text, sizeof(text), "x");
	for (i = 0; i < 40; i++)
		strcat(text, "\xc3\xa9");
	command_parse(text, &c);
	assert_int_equal(c.verb, COMMAND_UNKNOWN);
	assert_true(xml_text_ok(c.word));
	assert_int_equal(strlen(c.word), 31);
	/* Three-byte characters after "ack": the 20-byte quote falls inside one. */
	snprintf(text, sizeof(text), "ack ");
	for (i = 0; i < 10; i++)
		strcat(text, "\xe2\x98\x83");
	command_parse(text, &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	assert_true(xml_text_ok(c.error));
	assert_non_null(strstr(c.error, "\xe2\x98\x83\xe2\x98\x83' is not an incident number"));
	/* Abuse: plain ASCII is still cut at exactly the maximum. */
	command_parse("ack 12345678901234567890123x", &c);
	assert_int_equal(c.verb, COMMAND_BAD);
	assert_non_null(strstr(c.error, "'12345678901234567890' is not"));
}

static void
outgoing_text_is_always_xml_whatever_the_bytes(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	/* Good text passes unchanged: ASCII, tab and newline, 2/3/4-byte characters. */
	n = xclient_text_clean("ack 42\tok\n\xc3\xa9\xe2\x98\x83\xf0\x9f\x94\xa5", out, sizeof(out));
	assert_string_equal(out, "ack 42\tok\n\xc3\xa9\xe2\x98\x83\xf0\x9f\x94\xa5");
	assert_int_equal(n, strlen(out));
	/* U+FFFF and U+FFFE (valid UTF-8, forbidden in XML) become U+FFFD. */
	xclient_text_clean("Disk \xef\xbf\xbf full \xef\xbf\xbe", out, sizeof(out));
	assert_string_equal(out, "Disk \xef\xbf\xbd full \xef\xbf\xbd");
	/* Controls, a cut character, a stray continuation byte, an overlong form, a
	 * surrogate: each bad byte becomes U+FFFD and what follows is kept. */
	xclient_text_clean("a\x01" "b\xc3" "c\x80" "d\xc0\xaf" "e\xed\xa0\x80" "f", out,
	    sizeof(out));
	assert_true(xml_text_ok(out));
	assert_non_null(strstr(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd" "d"));
	assert_int_equal(out[strlen(out) - 1], 'f');
	/* Abuse: a buffer too small is cut at a character boundary, never inside one. */
	n = xclient_text_clean("\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83", out, 8);
	assert_int_equal(n, 6);
	assert_true(xml_text_ok(out));
	n = xclient_text_clean("\xff\xff\xff", out, 5);
	assert_int_equal(n, 3);
	assert_string_equal(out, "\xef\xbf\xbd");
	assert_int_equal(xclient_text_clean("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static struct ilog_incident
incident(void)
{
	struct ilog_incident inc;

	memset(&inc, 0, sizeof(inc));
	inc.id = 42;
	snprintf(inc.kind, sizeof(inc.kind), "connection_storm");
	snprintf(inc.cluster, sizeof(inc.cluster), "c1");
	snprintf(inc.node, sizeof(inc.node), "n1");
	inc.severity = ILOG_SEVERITY_MAJOR;
	inc.state = ILOG_STATE_OPEN;
	snprintf(inc.title, sizeof(inc.title), "Connection storm on c1");
	inc.opened_at = 1704099600000LL;
	return inc;
}

static void
a_page_names_the_incident_evidence_runbook_step_and_how_to_ack(void **state)
{
	struct ilog_incident inc = incident();
	struct page_text t;
	char buf[MESSAGE_MAX];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.incident = &inc;
	t.evidence = "conns=4810, baseline=310";
	t.runbook_base = "docs/runbooks/";
	t.step = 2;
	t.round = 1;
	t.rounds = 2;
	t.nsteps = 3;
	t.reason = ESC_REASON_TIMEOUT;
	t.prev_wait_ms = 5 * 60000;
	message_page(&t, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[mcops] #42 MAJOR: Connection storm on c1\n"));
	assert_non_null(strstr(buf, "Cluster c1, node n1, kind connection_storm, opened "
				    "2024-01-01T09:00:00Z"));
	assert_non_null(strstr(buf, "Evidence: conns=4810, baseline=310\n"));
	assert_non_null(strstr(buf, "Runbook: docs/runbooks/connection_storm.md\n"));
	assert_non_null(strstr(buf, "Step 2 of 3, round 1 of 2: the previous page was not "
				    "acknowledged within 5m"));
	assert_non_null(strstr(buf, "\"ack 42\""));
	assert_null(strstr(buf, "LATE"));
	t.reason = ESC_REASON_FAILED;
	t.prev_target = "alice@x";
	t.prev_detail = "target offline";
	t.late_ms = 42000;
	t.step = 0;
	message_page(&t, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Final step: the page to alice@x failed (target offline)"));
	assert_non_null(strstr(buf, "LATE by 42s"));
	/* A page to a room says where commands go. */
	t.ack_to = "pager@x";
	message_page(&t, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Send \"ack 42\" to pager@x to acknowledge"));
}

static void
a_storm_page_says_who_and_the_remedy_on_lines_of_their_own(void **state)
{
	static const char body[] =
	    "{\"note\":null,\"evidence\":{\"cluster\":\"c1\",\"finding\":\"78% of new "
	    "connections: tenant acme, from 10.1.2.0/24\",\"remedy\":\"limit the tenant: mctl "
	    "tenant connlimit acme --new-per-second R\\n(R: its plan)\",\"who\":{\"dominant\":true}}}";
	struct ilog_incident inc = incident();
	char finding[MESSAGE_SENTENCE_MAX], remedy[MESSAGE_SENTENCE_MAX];
	char evidence[MESSAGE_EVIDENCE_MAX + 1], buf[MESSAGE_MAX];
	struct page_text t;

	(void)state;
	message_sentence(body, "finding", finding, sizeof(finding));
	message_sentence(body, "remedy", remedy, sizeof(remedy));
	message_evidence(body, evidence, sizeof(evidence));
	assert_string_equal(finding, "78% of new connections: tenant acme, from 10.1.2.0/24");
	/* A control character cannot break the page's lines. */
	assert_string_equal(remedy, "limit the tenant: mctl tenant connlimit acme "
				    "--new-per-second R (R: its plan)");
	/* The sentences are not repeated in the flattened evidence. */
	assert_string_equal(evidence, "cluster=c1, who.dominant=true");
	memset(&t, 0, sizeof(t));
	t.incident = &inc;
	t.evidence = evidence;
	t.finding = finding;
	t.remedy = remedy;
	t.runbook_base = "docs/runbooks/";
	t.step = 1;
	t.round = 1;
	t.rounds = 1;
	t.nsteps = 1;
	message_page(&t, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\nFinding: 78% of new connections: tenant acme, from "
				    "10.1.2.0/24\nRemedy: limit the tenant: mctl tenant connlimit acme"));
	assert_non_null(strstr(buf, "\nEvidence: cluster=c1, who.dominant=true\n"));
	/* Evidence without sentences: no empty lines. */
	message_sentence("{\"evidence\":{\"conns\":3}}", "finding", finding, sizeof(finding));
	assert_string_equal(finding, "");
	t.finding = finding;
	t.remedy = NULL;
	message_page(&t, buf, sizeof(buf));
	assert_null(strstr(buf, "Finding"));
	assert_null(strstr(buf, "Remedy"));
}

static void
texts_are_cut_to_their_buffer_without_splitting_a_character(void **state)
{
	struct ilog_incident inc = incident();
	struct page_text t;
	char small[40], body[600];
	size_t i;

	(void)state;
	/* A title of two-byte characters, cut mid-way, must stay valid UTF-8. */
	for (i = 0; i + 2 < sizeof(inc.title) - 1; i += 2)
		memcpy(inc.title + i, "\xc3\xa9", 2);
	inc.title[i] = '\0';
	memset(&t, 0, sizeof(t));
	t.incident = &inc;
	t.runbook_base = "";
	message_page(&t, small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
	for (i = 0; small[i] != '\0'; i++)
		;
	assert_true(((unsigned char)small[i - 1] & 0xc0) == 0x80 ||
		    (unsigned char)small[i - 1] < 0x80);
	assert_false((unsigned char)small[i - 1] == 0xc3);
	message_notice(42, "acknowledged", "xmpp:bob@x", "Storm", body, sizeof(body));
	assert_string_equal(body, "[mcops] #42 acknowledged by bob@x: Storm");
	message_notice(42, "resolved", "mctl:ann", "Storm", body, sizeof(body));
	assert_string_equal(body, "[mcops] #42 resolved by mctl:ann: Storm");
	message_test_page(7, "mctl:ann", body, sizeof(body));
	assert_non_null(strstr(body, "Test page (request 7 by mctl:ann)"));
}

static void
evidence_is_flattened_bounded_and_kept_on_one_line(void **state)
{
	char buf[MESSAGE_EVIDENCE_MAX + 1], big[4096];
	size_t n;

	(void)state;
	message_evidence("{\"kind\":\"x\",\"evidence\":{\"conns\":4810,\"ratio\":0.5,"
			 "\"node\":\"n1\",\"window\":{\"short\":10,\"long\":60},\"list\":[1,2],"
			 "\"up\":false,\"gone\":null}}", buf, sizeof(buf));
	assert_string_equal(buf, "conns=4810, ratio=0.5, node=n1, window.short=10, "
				 "window.long=60, list=[2 items], up=false, gone=null");
	message_evidence("{\"a\":\"line1\\nline2\"}", buf, sizeof(buf));
	assert_string_equal(buf, "a=line1 line2");
	message_evidence("not json", buf, sizeof(buf));
	assert_string_equal(buf, "");
	message_evidence("[1,2,3]", buf, sizeof(buf));
	assert_string_equal(buf, "");
	message_evidence(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");
	n = (size_t)snprintf(big, sizeof(big), "{\"v\":\"");
	memset(big + n, 'z', 2000);
	snprintf(big + n + 2000, sizeof(big) - n - 2000, "\"}");
	message_evidence(big, buf, sizeof(buf));
	assert_true(strlen(buf) <= MESSAGE_EVIDENCE_MAX);
	assert_non_null(strstr(buf, "..."));
	/* A nested object's long name is cut between characters, never inside one (found
	 * by fuzz_chat: a 2-byte character across the cut made the page invalid UTF-8). */
	n = (size_t)snprintf(big, sizeof(big), "{\"evidence\":{\"");
	memset(big + n, 'k', 126);
	snprintf(big + n + 126, sizeof(big) - n - 126, "\xc3\xa9\":{\"a\":1}}}");
	message_evidence(big, buf, sizeof(buf));
	assert_true(strlen(buf) > 126);
	assert_null(strstr(buf, "\xc3."));
	assert_int_equal(strncmp(buf + 126, ".a=1", 4), 0);
}

static void
durations_read_as_people_write_them(void **state)
{
	char b[MESSAGE_DURATION_MAX];

	(void)state;
	message_duration(250, b, sizeof(b));
	assert_string_equal(b, "250ms");
	message_duration(42000, b, sizeof(b));
	assert_string_equal(b, "42s");
	message_duration(5 * 60000, b, sizeof(b));
	assert_string_equal(b, "5m");
	message_duration(90 * 60000, b, sizeof(b));
	assert_string_equal(b, "1h30m");
	message_duration((2 * 24 + 3) * 3600000LL, b, sizeof(b));
	assert_string_equal(b, "2d3h");
	message_duration(-5, b, sizeof(b));
	assert_string_equal(b, "0ms");
}

static const char webhook[] =
    "{\"version\":\"4\",\"status\":\"firing\",\"receiver\":\"mcops\",\"groupKey\":\"{}\","
    "\"truncatedAlerts\":0,\"new\":{\"field\":true},\"alerts\":["
    "{\"status\":\"firing\",\"fingerprint\":\"3d7a1b2c\",\"labels\":{\"alertname\":\"Down\","
    "\"severity\":\"critical\",\"cluster\":\"c1\",\"node\":\"n1\",\"kind\":\"node_down\"},"
    "\"annotations\":{\"summary\":\"n1 down\\nreally\"},\"startsAt\":\"2024-05-01T10:00:00Z\","
    "\"generatorURL\":\"http://p/g\"},"
    "{\"status\":\"resolved\",\"fingerprint\":\"ffee\",\"labels\":{\"alertname\":\"Slow\","
    "\"severity\":\"warning\",\"cluster\":\"bad name!\",\"kind\":\"Not A Kind\"},"
    "\"annotations\":{}},"
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"NoFingerprint\"}},"
    "{\"status\":\"pending\",\"fingerprint\":\"abcd\"},"
    "{\"status\":\"firing\",\"fingerprint\":\"../../etc\"},"
    "42]}";

static void
alertmanager_payloads_map_labels_severity_and_titles(void **state)
{
	struct intake_batch b = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(intake_parse(webhook, strlen(webhook), &b, err, sizeof(err)), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.skipped, 4);
	assert_true(b.v[0].firing);
	assert_string_equal(b.v[0].fingerprint, "am:3d7a1b2c");
	assert_string_equal(b.v[0].kind, "node_down");
	assert_string_equal(b.v[0].cluster, "c1");
	assert_string_equal(b.v[0].node, "n1");
	assert_int_equal(b.v[0].severity, ILOG_SEVERITY_CRITICAL);
	assert_string_equal(b.v[0].title, "n1 down really");
	assert_non_null(strstr(b.v[0].evidence_json, "\"source\":\"alertmanager\""));
	assert_non_null(strstr(b.v[0].evidence_json, "\"generatorURL\":\"http://p/g\""));
	assert_false(b.v[1].firing);
	assert_string_equal(b.v[1].kind, INTAKE_KIND);  /* an invalid kind falls back */
	assert_string_equal(b.v[1].cluster, "");        /* an invalid name is dropped */
	assert_int_equal(b.v[1].severity, ILOG_SEVERITY_MINOR);
	assert_string_equal(b.v[1].title, "Slow");      /* no summary: the alert's name */
	intake_batch_release(&b);
}

static void
alertmanager_payloads_that_are_not_webhooks_are_refused(void **state)
{
	struct intake_batch b = { 0 };
	char err[256], *many;
	size_t i, n, size;

	(void)state;
	assert_int_equal(intake_parse("{", 1, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not JSON"));
	assert_int_equal(intake_parse("[]", 2, &b, err, sizeof(err)), -1);
	assert_int_equal(intake_parse("{\"alerts\":{}}", 13, &b, err, sizeof(err)), -1);
	assert_int_equal(intake_parse("{\"a\":1,\"a\":2,\"alerts\":[]}", 25, &b, err, sizeof(err)),
	    -1);
	/* Embedded NUL: the length counts, not the terminator. */
	assert_int_equal(intake_parse("{\"alerts\":[]}\0junk", 18, &b, err, sizeof(err)), -1);
	assert_int_equal(intake_parse("{\"alerts\":[]}", 13, &b, err, sizeof(err)), 0);
	assert_int_equal(b.n, 0);
	/* More alerts than one request may carry. */
	size = 32 * (INTAKE_ALERTS_MAX + 2);
	many = malloc(size);
	assert_non_null(many);
	n = (size_t)snprintf(many, size, "{\"alerts\":[");
	for (i = 0; i <= INTAKE_ALERTS_MAX; i++)
		n += (size_t)snprintf(many + n, size - n, "%s{}", i > 0 ? "," : "");
	n += (size_t)snprintf(many + n, size - n, "]}");
	assert_int_equal(intake_parse(many, n, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
	free(many);
	intake_batch_release(&b);
}

static void
applying_a_batch_opens_once_and_resolves_once(void **state)
{
	static const char resolved[] =
	    "{\"alerts\":[{\"status\":\"resolved\",\"fingerprint\":\"3d7a1b2c\"}]}";
	struct intake_batch b = { 0 };
	struct intake_result r;
	struct ilog_incident inc;
	struct test_ilog t;
	struct ilog *log;
	char err[ILOG_ERR_LEN];

	(void)state;
	assert_int_equal(test_ilog_open(&t, "test_alerter_text"), 0);
	log = t.log;
	assert_int_equal(intake_parse(webhook, strlen(webhook), &b, err, sizeof(err)), 0);
	assert_int_equal(intake_apply(log, &b, &r, err, sizeof(err)), ILOG_OK);
	assert_int_equal(r.opened, 1);
	assert_int_equal(r.ignored, 1); /* the resolved alert has no incident */
	assert_int_equal(intake_apply(log, &b, &r, err, sizeof(err)), ILOG_OK);
	assert_int_equal(r.opened, 0);
	assert_int_equal(r.updated, 1);
	assert_int_equal(ilog_incident_find(log, "am:3d7a1b2c", &inc, err, sizeof(err)), ILOG_OK);
	assert_string_equal(inc.kind, "node_down");
	assert_int_equal(intake_parse(resolved, strlen(resolved), &b, err, sizeof(err)), 0);
	assert_int_equal(intake_apply(log, &b, &r, err, sizeof(err)), ILOG_OK);
	assert_int_equal(r.resolved, 1);
	assert_int_equal(intake_apply(log, &b, &r, err, sizeof(err)), ILOG_OK);
	assert_int_equal(r.resolved, 0);
	assert_int_equal(r.ignored, 1);
	assert_int_equal(ilog_incident_get(log, inc.id, &inc, err, sizeof(err)), ILOG_OK);
	assert_int_equal(inc.state, ILOG_STATE_RESOLVED);
	assert_string_equal(inc.resolved_by, INTAKE_ACTOR);
	intake_batch_release(&b);
	test_ilog_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(commands_parse_verbs_numbers_and_notes),
		cmocka_unit_test(commands_refuse_bad_numbers_unknown_verbs_and_floods),
		cmocka_unit_test(commands_quote_long_words_without_cutting_a_character),
		cmocka_unit_test(outgoing_text_is_always_xml_whatever_the_bytes),
		cmocka_unit_test(a_page_names_the_incident_evidence_runbook_step_and_how_to_ack),
		cmocka_unit_test(a_storm_page_says_who_and_the_remedy_on_lines_of_their_own),
		cmocka_unit_test(texts_are_cut_to_their_buffer_without_splitting_a_character),
		cmocka_unit_test(evidence_is_flattened_bounded_and_kept_on_one_line),
		cmocka_unit_test(durations_read_as_people_write_them),
		cmocka_unit_test(alertmanager_payloads_map_labels_severity_and_titles),
		cmocka_unit_test(alertmanager_payloads_that_are_not_webhooks_are_refused),
		cmocka_unit_test(applying_a_batch_opens_once_and_resolves_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
