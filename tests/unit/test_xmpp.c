/*
 * Unit tests of alerter/xmpp that need no server: the reconnection backoff (doubling,
 * capped, with equal jitter), a client that cannot connect reporting its state, and
 * the redaction of credentials from libstrophe's debug lines.
 * The protocol itself is tested against Prosody (tests/integration/test_alerter*.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alerter/xmpp.h"

static void
backoff_doubles_from_the_minimum_up_to_the_maximum(void **state)
{
	(void)state;
	/* random = 0: the lower edge, half of each step. */
	assert_int_equal(xclient_backoff_ms(1000, 60000, 1, 0), 500);
	assert_int_equal(xclient_backoff_ms(1000, 60000, 2, 0), 1000);
	assert_int_equal(xclient_backoff_ms(1000, 60000, 3, 0), 2000);
	assert_int_equal(xclient_backoff_ms(1000, 60000, 7, 0), 30000);
	assert_int_equal(xclient_backoff_ms(1000, 60000, 8, 0), 30000); /* capped at 60 s */
	/* The upper edge: the whole step. */
	assert_int_equal(xclient_backoff_ms(1000, 60000, 3, 2000), 4000);
	assert_int_equal(xclient_backoff_ms(1000, 60000, 30, 30000), 60000);
}

static void
backoff_jitter_stays_within_half_to_all_of_the_step_even_when_abused(void **state)
{
	uint64_t r = 88172645463325252ULL;
	int64_t d;
	int i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		d = xclient_backoff_ms(200, 1000, (unsigned)(i % 40), r);
		assert_true(d >= 100 && d <= 1000);
	}
	/* Attempts far past overflow of a naive shift, and a maximum below the minimum. */
	d = xclient_backoff_ms(1000, 60000, 4000000000u, UINT64_MAX);
	assert_true(d >= 30000 && d <= 60000);
	assert_int_equal(xclient_backoff_ms(1000, 500, 5, 0), 250);
}

static void
a_client_without_a_server_stays_down_and_knows_nobody(void **state)
{
	struct xclient_options o = { "pager@localhost", "pw", "mcalert", "mcalert", "127.0.0.1",
		1, false, false, NULL, 50, 100, 1000, 1000, false };
	struct xclient_events ev = { 0 };
	struct xclient *c;
	char err[128];
	int i;

	(void)state;
	assert_null(xclient_new(&(struct xclient_options){ "not a jid", "pw", "r", "n", NULL, 0,
	    true, false, NULL, 0, 0, 0, 0, false }, &ev, err, sizeof(err)));
	assert_non_null(strstr(err, "not a JID"));
	c = xclient_new(&o, &ev, err, sizeof(err));
	assert_non_null(c);
	for (i = 0; i < 10; i++)
		xclient_run(c, 10);
	assert_int_not_equal(xclient_state(c), XCLIENT_ONLINE);
	assert_true(xclient_down_ms(c) >= 0);
	assert_int_equal(xclient_session(c), 0);
	assert_int_equal(xclient_presence_of(c, "alice@localhost"), XPRESENCE_UNKNOWN);
	assert_int_equal(xclient_room_state(c, "ops@conference.localhost"), XROOM_NONE);
	assert_int_equal(xclient_send(c, "alice@localhost", false, "id", "body", true), -1);
	xclient_free(c);
}

static void
sasl_data_is_redacted_from_debug_lines_but_the_mechanism_stays(void **state)
{
	/* "\0mcalert\0pw-mcalert" in base64, as libstrophe sends PLAIN. */
	static const char plain[] = "SENT: <auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" "
				    "mechanism=\"PLAIN\">AG1jYWxlcnQAcHctbWNhbGVydA==</auth>";
	static const char scram[] = "SENT: <response xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">"
				    "Yz1iaXdzLHI9YWJjLHA9cHJvb2Y=</response>";
	char out[XCLIENT_LOG_LINE_MAX];

	assert_int_equal(xclient_log_redact(plain, "pw-mcalert", out, sizeof(out)), 1);
	assert_string_equal(out, "SENT: <auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" "
				 "mechanism=\"PLAIN\">[redacted]");
	assert_int_equal(xclient_log_redact(scram, "pw-mcalert", out, sizeof(out)), 1);
	assert_null(strstr(out, "Yz1i"));
	assert_non_null(strstr(out, "[redacted]"));
	/* Abuse: an element cut before its '>' leaves nothing of its data either. */
	assert_int_equal(xclient_log_redact("SENT: <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'", NULL, out, sizeof(out)), 1);
	assert_string_equal(out, "SENT: [redacted]");
	/* A tiny buffer still ends with a NUL and shows no data. */
	assert_int_equal(xclient_log_redact(plain, NULL, out, 12), 1);
	assert_int_equal(strlen(out), 11);
}

static void
legacy_auth_and_any_line_with_the_password_are_withheld(void **state)
{
	char out[XCLIENT_LOG_LINE_MAX];

	assert_int_equal(xclient_log_redact("SENT: <iq type=\"set\"><query xmlns=\"jabber:iq:auth\">"
	    "<username>mcalert</username><password>pw-mcalert</password></query></iq>", NULL, out,
	    sizeof(out)), 1);
	assert_null(strstr(out, "pw-mcalert"));
	assert_int_equal(xclient_log_redact("xmpp: something said pw-mcalert", "pw-mcalert", out,
	    sizeof(out)), 1);
	assert_null(strstr(out, "pw-mcalert"));
	/* Ordinary stanzas pass unchanged, the challenge and success included. */
	assert_int_equal(xclient_log_redact("RECV: <challenge xmlns=\"urn:ietf:params:xml:ns:"
	    "xmpp-sasl\">cj1hYmM=</challenge>", "pw-mcalert", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "cj1hYmM="));
	assert_int_equal(xclient_log_redact("SENT: <message to=\"a@b\"><body>auth</body></message>",
	    "pw-mcalert", out, sizeof(out)), 0);
	assert_string_equal(out, "SENT: <message to=\"a@b\"><body>auth</body></message>");
	/* Abuse: the text kept before a redacted SASL element is checked too. */
	assert_int_equal(xclient_log_redact("SENT: <message><body>pw-mcalert</body></message>"
	    "<auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" mechanism=\"PLAIN\">AGE=</auth>",
	    "pw-mcalert", out, sizeof(out)), 1);
	assert_null(strstr(out, "pw-mcalert"));
	assert_null(strstr(out, "AGE="));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_doubles_from_the_minimum_up_to_the_maximum),
		cmocka_unit_test(backoff_jitter_stays_within_half_to_all_of_the_step_even_when_abused),
		cmocka_unit_test(a_client_without_a_server_stays_down_and_knows_nobody),
		cmocka_unit_test(sasl_data_is_redacted_from_debug_lines_but_the_mechanism_stays),
		cmocka_unit_test(legacy_auth_and_any_line_with_the_password_are_withheld),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
