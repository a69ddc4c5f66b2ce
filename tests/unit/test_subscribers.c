/*
 * Unit tests of the subscribers: the signed links (lib/subtoken), the rows and their
 * double opt-in, bounces and queues (lib/ilog_subscribers, a fake clock), the form's
 * parser with hostile input and the messages' exact bytes (statuspage/subscribe.c,
 * mailmsg.c), and what an SMTP answer means (mailer.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "ilog.h"
#include "ilog_outbox.h"
#include "ilog_subscribers.h"
#include "subtoken.h"
#include "tests/unit/helper.h"
#include "statuspage/mailer.h"
#include "statuspage/mailmsg.h"
#include "statuspage/subscribe.h"

static const char key[] = "0123456789abcdef-secret";

/* --- tokens ----------------------------------------------------------------------- */

static void
a_token_verifies_and_names_its_subscriber(void **state)
{
	char t[SUBTOKEN_MAX];
	int64_t id = 0;
	uint64_t nonce = 0;

	(void)state;
	subtoken_make(SUBTOKEN_CONFIRM, key, strlen(key), 42, 0xabcdef0123456789ULL, 2000, t);
	assert_int_equal(strncmp(t, "42.abcdef0123456789.2000.", 25), 0);
	assert_int_equal(strlen(t), 25 + 64);
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key), t, 1999, &id, &nonce),
	    SUBTOKEN_OK);
	assert_int_equal(id, 42);
	assert_true(nonce == 0xabcdef0123456789ULL);
}

static void
a_token_expires_at_its_second(void **state)
{
	char t[SUBTOKEN_MAX];
	int64_t id;
	uint64_t nonce;

	(void)state;
	subtoken_make(SUBTOKEN_CONFIRM, key, strlen(key), 7, 1, 2000, t);
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key), t, 2000, &id, &nonce),
	    SUBTOKEN_EXPIRED);
	/* An unsubscribe token (EXPIRES 0) never expires. */
	subtoken_make(SUBTOKEN_UNSUBSCRIBE, key, strlen(key), 7, 1, 0, t);
	assert_int_equal(subtoken_check(SUBTOKEN_UNSUBSCRIBE, key, strlen(key), t, INT64_MAX / 2,
	    &id, &nonce), SUBTOKEN_OK);
}

static void
a_tampered_or_foreign_token_is_invalid_whatever_its_expiry(void **state)
{
	char t[SUBTOKEN_MAX], u[SUBTOKEN_MAX + 8];
	int64_t id = 5;
	uint64_t nonce = 5;
	size_t i;

	(void)state;
	subtoken_make(SUBTOKEN_CONFIRM, key, strlen(key), 7, 99, 2000, t);
	/* Every single character changed: invalid, or expired only if still signed. */
	for (i = 0; t[i] != '\0'; i++) {
		memcpy(u, t, sizeof(t));
		u[i] = u[i] == '1' ? '2' : '1';
		assert_int_not_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key), u, 10, &id,
		    &nonce), SUBTOKEN_OK);
	}
	/* A later expiry with the old signature. */
	snprintf(u, sizeof(u), "7.0000000000000063.9999%s", strrchr(t, '.'));
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key), u, 3000, &id, &nonce),
	    SUBTOKEN_INVALID);
	/* Another purpose, another key, another spelling of the same numbers. */
	assert_int_equal(subtoken_check(SUBTOKEN_UNSUBSCRIBE, key, strlen(key), t, 10, &id,
	    &nonce), SUBTOKEN_INVALID);
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, "another key", 11, t, 10, &id, &nonce),
	    SUBTOKEN_INVALID);
	snprintf(u, sizeof(u), "07.%s", strchr(t, '.') + 1);
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key), u, 10, &id, &nonce),
	    SUBTOKEN_INVALID);
	/* Garbage of every shape. */
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key), "", 10, &id, &nonce),
	    SUBTOKEN_INVALID);
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key), "1.2.3", 10, &id,
	    &nonce), SUBTOKEN_INVALID);
	assert_int_equal(subtoken_check(SUBTOKEN_CONFIRM, key, strlen(key),
	    "99999999999999999999.0000000000000001.0.x", 10, &id, &nonce), SUBTOKEN_INVALID);
	assert_int_equal(id, 5); /* untouched */
	assert_true(nonce == 5);
}

/* --- rows ------------------------------------------------------------------------- */

static struct ilog_subscriber
request(struct test_ilog *t, const char *address, const char *comps,
    enum ilog_sub_request_result want)
{
	enum ilog_sub_request_result r;
	struct ilog_subscriber s;

	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_EMAIL, address, comps, 100, 60000, 86400000, &r,
	    &s, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(r, want);
	return s;
}

static void
double_opt_in_takes_the_right_nonce_and_a_request_per_window(void **state)
{
	struct test_ilog *t = *state;
	struct ilog_subscriber s, again;
	enum ilog_sub_request_result r;

	/* Every request draws a nonce; only a new or renewed subscription keeps it. */
	t->fake.randoms[0] = 0x1111;
	t->fake.randoms[1] = 0x9991;
	t->fake.randoms[2] = 0x9992;
	t->fake.randoms[3] = 0x9993;
	t->fake.randoms[4] = 0x2222;
	t->fake.nrandom = 5;
	s = request(t, "a@example.com", "c1", ILOG_SUB_ASKED);
	assert_int_equal(s.state, ILOG_SUB_PENDING);
	assert_true(s.nonce == 0x1111);
	/* Within the window: refused, nothing changes. */
	t->fake.now += 59999;
	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_EMAIL, "a@example.com", "c2", 100, 60000,
	    86400000, &r, &again, t->err, sizeof(t->err)), ILOG_ERR_STATE);
	assert_int_equal(ilog_sub_get(t->log, s.id, &again, t->err, sizeof(t->err)), ILOG_OK);
	assert_string_equal(again.components, "c1");
	/* After it: asked again, the latest components, the same nonce. */
	t->fake.now += 1;
	again = request(t, "a@example.com", "c2", ILOG_SUB_ASKED);
	assert_int_equal(again.id, s.id);
	assert_string_equal(again.components, "c2");
	assert_true(again.nonce == 0x1111);
	assert_int_equal(ilog_sub_confirm(t->log, s.id, 0x9991, NULL, t->err, sizeof(t->err)),
	    ILOG_ERR_STATE);
	assert_int_equal(ilog_sub_confirm(t->log, s.id + 1, 0x1111, NULL, t->err,
	    sizeof(t->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_sub_confirm(t->log, s.id, 0x1111, &again, t->err, sizeof(t->err)),
	    ILOG_OK);
	assert_int_equal(again.state, ILOG_SUB_CONFIRMED);
	assert_int_equal(again.confirmed_at, t->fake.now);
	/* Confirmed: a stranger's request changes nothing. */
	t->fake.now += 60000;
	again = request(t, "a@example.com", "c3", ILOG_SUB_NOTHING);
	assert_string_equal(again.components, "c2");
	/* Unsubscribed, then asked again: pending with a new nonce, old links dead. */
	assert_int_equal(ilog_sub_unsubscribe(t->log, s.id, 0x1111, t->err, sizeof(t->err)),
	    ILOG_OK);
	t->fake.now += 60000;
	again = request(t, "a@example.com", "", ILOG_SUB_ASKED);
	assert_int_equal(again.state, ILOG_SUB_PENDING);
	assert_true(again.nonce == 0x2222);
	assert_int_equal(ilog_sub_confirm(t->log, s.id, 0x1111, NULL, t->err, sizeof(t->err)),
	    ILOG_ERR_STATE);
}

static void
the_total_cap_refuses_every_address_and_stale_pending_ones_do_not_count(void **state)
{
	struct test_ilog *t = *state;
	enum ilog_sub_request_result r;
	struct ilog_subscriber s;

	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_EMAIL, "a@example.com", "", 2, 1000, 3600000, &r,
	    &s, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_WEBHOOK, "https://x.example/h", "", 2,
	    1000, 3600000, &r, &s, t->err, sizeof(t->err)), ILOG_OK);
	t->fake.now += 5000;
	/* Full: the known address is refused like a new one (nothing tells them apart). */
	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_EMAIL, "b@example.com", "", 2, 1000, 3600000, &r,
	    &s, t->err, sizeof(t->err)), ILOG_ERR_FULL);
	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_EMAIL, "a@example.com", "", 2, 1000, 3600000, &r,
	    &s, t->err, sizeof(t->err)), ILOG_ERR_FULL);
	/* Pending ones whose link has expired count no more. */
	t->fake.now += 3600000;
	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_EMAIL, "b@example.com", "", 2, 1000,
	    3600000, &r, &s, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(ilog_sub_request(t->log, ILOG_SUB_EMAIL, "a\r\nb@example.com", "", 9,
	    1000, 3600000, &r, &s, t->err, sizeof(t->err)), ILOG_ERR_ARG);
}

static int64_t
enqueue(struct test_ilog *t, int64_t sub, int64_t event)
{
	char sink[ILOG_SINK_MAX + 1];
	int64_t id;

	snprintf(sink, sizeof(sink), ILOG_SUB_SINK_PREFIX "%lld", (long long)sub);
	assert_int_equal(ilog_outbox_enqueue(t->log, sink, event, "{\"type\":\"confirm\"}", &id,
	    NULL, t->err, sizeof(t->err)), ILOG_OK);
	return id;
}

static void
queues_go_in_order_back_off_and_bounces_drop(void **state)
{
	struct test_ilog *t = *state;
	struct ilog_backoff policy = { .base_ms = 1000, .max_ms = 8000, .max_attempts = 0 };
	struct ilog_backoff once = { .base_ms = 1000, .max_ms = 1000, .max_attempts = 1 };
	struct ilog_outbox_item it = { 0 };
	struct ilog_subscriber a, b;
	int64_t ids[8], first, second, next = 0;
	size_t n;
	bool dropped = true, gave_up = false;

	a = request(t, "a@example.com", "", ILOG_SUB_ASKED);
	b = request(t, "b@example.com", "", ILOG_SUB_ASKED);
	first = enqueue(t, a.id, 0);
	second = enqueue(t, a.id, 0);
	enqueue(t, b.id, 0);
	assert_int_equal(ilog_sub_due(t->log, 8, ids, &n, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], a.id);
	assert_int_equal(ids[1], b.id);

	/* a's head fails for now: a is not due until its backoff, and its second item
	 * waits behind the first. */
	assert_int_equal(ilog_outbox_claim_head(t->log, ILOG_SUB_SINK_PREFIX "1", 60000, &it, NULL,
	    t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(it.id, first);
	assert_int_equal(ilog_outbox_fail(t->log, it.id, "451 try later", &policy, 0, &gave_up,
	    &next, t->err, sizeof(t->err)), ILOG_OK);
	ilog_outbox_item_release(&it);
	assert_false(gave_up);
	assert_true(next >= t->fake.now + 500 && next <= t->fake.now + 1000);
	assert_int_equal(ilog_sub_due(t->log, 8, ids, &n, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], b.id);
	t->fake.now = next;
	assert_int_equal(ilog_sub_due(t->log, 8, ids, &n, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ilog_outbox_claim_head(t->log, ILOG_SUB_SINK_PREFIX "1", 60000, &it, NULL,
	    t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(it.id, first);
	/* Now a permanent failure: given up at once, one bounce. */
	assert_int_equal(ilog_outbox_fail(t->log, it.id, "550 no", &once, 0, &gave_up, NULL,
	    t->err, sizeof(t->err)), ILOG_OK);
	ilog_outbox_item_release(&it);
	assert_true(gave_up);
	assert_int_equal(ilog_sub_bounced(t->log, a.id, 2, &dropped, t->err, sizeof(t->err)),
	    ILOG_OK);
	assert_false(dropped);
	/* A delivery in between starts the count again. */
	assert_int_equal(ilog_sub_delivered(t->log, a.id, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(ilog_sub_bounced(t->log, a.id, 2, &dropped, t->err, sizeof(t->err)),
	    ILOG_OK);
	assert_false(dropped);
	assert_int_equal(ilog_sub_bounced(t->log, a.id, 2, &dropped, t->err, sizeof(t->err)),
	    ILOG_OK);
	assert_true(dropped);
	assert_int_equal(ilog_sub_get(t->log, a.id, &a, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(a.state, ILOG_SUB_DROPPED);
	assert_int_equal(a.failures, 2);
	/* The second item is the head now. */
	assert_int_equal(ilog_outbox_claim_head(t->log, ILOG_SUB_SINK_PREFIX "1", 60000, &it, NULL,
	    t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(it.id, second);
	ilog_outbox_item_release(&it);
}

static void
only_confirmed_subscribers_are_listed_page_by_page(void **state)
{
	struct test_ilog *t = *state;
	struct ilog_subscribers list;
	struct ilog_subscriber s[3];
	uint64_t counts[4];
	int i;

	for (i = 0; i < 3; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "s%d@example.com", i);
		s[i] = request(t, addr, "", ILOG_SUB_ASKED);
	}
	for (i = 0; i < 3; i += 1)
		if (i != 1)
			assert_int_equal(ilog_sub_confirm(t->log, s[i].id, s[i].nonce, NULL, t->err,
			    sizeof(t->err)), ILOG_OK);
	assert_int_equal(ilog_sub_list_confirmed(t->log, 0, 1, &list, t->err, sizeof(t->err)),
	    ILOG_OK);
	assert_int_equal(list.n, 1);
	assert_true(list.truncated);
	assert_int_equal(list.v[0].id, s[0].id);
	ilog_subscribers_release(&list);
	assert_int_equal(ilog_sub_list_confirmed(t->log, s[0].id, 10, &list, t->err,
	    sizeof(t->err)), ILOG_OK);
	assert_int_equal(list.n, 1);
	assert_false(list.truncated);
	assert_int_equal(list.v[0].id, s[2].id);
	ilog_subscribers_release(&list);
	assert_int_equal(ilog_sub_count(t->log, counts, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(counts[ILOG_SUB_CONFIRMED], 2);
	assert_int_equal(counts[ILOG_SUB_PENDING], 1);
}

static void
a_batch_queues_each_sink_once_per_event(void **state)
{
	struct test_ilog *t = *state;
	const char *sinks[] = { ILOG_SUB_SINK_PREFIX "1", ILOG_SUB_SINK_PREFIX "2" };
	size_t created = 9, full = 9;
	int64_t ev;

	assert_int_equal(ilog_event_append(t->log, 0, "test", "maintenance_scheduled", NULL, &ev,
	    t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(ilog_outbox_enqueue_batch(t->log, sinks, 2, ev, "{\"a\":1}", &created,
	    &full, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(created, 2);
	assert_int_equal(full, 0);
	/* A replay of the same event queues nothing twice. */
	assert_int_equal(ilog_outbox_enqueue_batch(t->log, sinks, 2, ev, "{\"a\":1}", &created,
	    &full, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(created, 0);
	assert_int_equal(ilog_outbox_enqueue_batch(t->log, sinks, 2, 0, "{}", &created, &full,
	    t->err, sizeof(t->err)), ILOG_ERR_NOT_FOUND);
}

/* --- the form --------------------------------------------------------------------- */

static struct sp_config *
page(void)
{
	static struct sp_config sp;

	memset(&sp, 0, sizeof(sp));
	snprintf(sp.comps[0].id, sizeof(sp.comps[0].id), "c1");
	snprintf(sp.comps[1].id, sizeof(sp.comps[1].id), "c2");
	snprintf(sp.comps[2].id, sizeof(sp.comps[2].id), "api");
	sp.ncomps = 3;
	sp.subscribe_webhooks = SP_WEBHOOKS_HTTPS;
	return &sp;
}

static int
parse(const char *body, struct subs_form *f, char *why)
{
	return subs_parse_form(body, strlen(body), page(), f, why, 200);
}

static void
the_form_gives_one_address_and_known_components_in_page_order(void **state)
{
	struct subs_form f;
	char why[200];

	(void)state;
	assert_int_equal(parse("component=api&email=Ann.Lee%2Bstatus%40Example.COM&component=c1"
			       "&component=api&go=Subscribe", &f, why), 0);
	assert_int_equal(f.kind, ILOG_SUB_EMAIL);
	assert_string_equal(f.address, "Ann.Lee+status@example.com");
	assert_string_equal(f.components, "c1 api");
	assert_int_equal(parse("webhook=https%3A%2F%2Fhooks.example.com%2Fx%3Fa%3D1&email=", &f,
	    why), 0);
	assert_int_equal(f.kind, ILOG_SUB_WEBHOOK);
	assert_string_equal(f.address, "https://hooks.example.com/x?a=1");
	assert_string_equal(f.components, "");
	assert_int_equal(parse("email=+a%40example.com+", &f, why), 0);
	assert_string_equal(f.address, "a@example.com");
}

static void
hostile_forms_are_refused_with_a_sentence_that_does_not_echo_them(void **state)
{
	static const char *const bad[] = {
		"",
		"email=",
		"email=a%40example.com&email=b%40example.com",
		"email=a%40example.com&webhook=https%3A%2F%2Fx.example",
		"email=a%40example.com%0d%0aBcc%3A+b%40example.com",
		"email=a%40example.com%00",
		"email=%3Cscript%3E%40example.com",
		"email=a%40example.com&component=c3",
		"email=a%40example.com&component=c1%00",
		"email=%",
		"email=%4",
		"email=%zz%40example.com",
		"email=a%40localhost",
		"email=a%40-example.com",
		"email=a..b%40example.com",
		"email=%22a+b%22%40example.com",
		"email=a%40%5B127.0.0.1%5D",
		"webhook=http%3A%2F%2Fx.example%2F",
		"webhook=https%3A%2F%2Fuser%3Apass%40x.example%2F",
		"webhook=https%3A%2F%2F",
		"webhook=javascript%3Aalert(1)",
		"webhook=https%3A%2F%2Fx.example%2F%3Cscript%3E",
	};
	struct subs_form f;
	struct sp_config *sp;
	char why[200], big[SUBS_BODY_MAX + 16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(parse(bad[i], &f, why), -1);
		assert_true(why[0] != '\0');
		assert_null(strstr(why, "script"));
		assert_null(strstr(why, "a@"));
		assert_null(strstr(why, "x.example"));
	}
	/* Over the cap, and a NUL inside the body. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "email=", 6);
	assert_int_equal(subs_parse_form(big, strlen(big), page(), &f, why, sizeof(why)), -1);
	assert_int_equal(subs_parse_form("email=a@example.com\0x", 21, page(), &f, why,
	    sizeof(why)), -1);
	/* A field longer than any address. */
	memset(big, 'a', 400);
	memcpy(big, "email=", 6);
	memcpy(big + 394, "%40b.c", 7);
	assert_int_equal(subs_parse_form(big, strlen(big), page(), &f, why, sizeof(why)), -1);
	/* Webhooks refused when the page takes none. */
	sp = page();
	sp->subscribe_webhooks = SP_WEBHOOKS_NO;
	assert_int_equal(subs_parse_form("webhook=https%3A%2F%2Fx.example", 31, sp, &f, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "This page takes email addresses only.");
}

static void
a_subscription_mask_is_its_components_or_all(void **state)
{
	(void)state;
	assert_true(subs_components_mask(page(), "") == ~(uint64_t)0);
	assert_true(subs_components_mask(page(), "c1 api") == 5);
	assert_true(subs_components_mask(page(), "gone c2") == 2);
}

/* --- messages --------------------------------------------------------------------- */

static void
a_message_has_exactly_these_headers_and_a_quoted_printable_body(void **state)
{
	struct textbuf out = { 0 };
	struct mailmsg m = {
		.from_name = "Example Cache", .from = "status@example.com", .to = "a@example.com",
		.subject = "Confirm your subscription", .date_ms = 1700000000123LL,
		.message_id = "mcops-1-2@example.com",
		.list_unsubscribe = "https://s.example/unsubscribe?token=1.2.3",
		.body = "caf\xc3\xa9 = ok \nline with trailing space \n",
	};

	(void)state;
	assert_int_equal(mailmsg_build(&m, &out), 0);
	assert_string_equal(out.data,
	    "From: \"Example Cache\" <status@example.com>\r\n"
	    "To: <a@example.com>\r\n"
	    "Subject: Confirm your subscription\r\n"
	    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "Message-ID: <mcops-1-2@example.com>\r\n"
	    "List-Unsubscribe: <https://s.example/unsubscribe?token=1.2.3>\r\n"
	    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "caf=C3=A9 =3D ok=20\r\n"
	    "line with trailing space=20\r\n");
	textbuf_release(&out);
}

static void
non_ascii_names_are_encoded_words_and_no_input_adds_a_header(void **state)
{
	struct textbuf out = { 0 };
	struct mailmsg m = {
		.from_name = "St\xc3\xa5tus", .from = "s@example.com", .to = "a@example.com",
		.subject = "Panne \xc3\xa0 Paris", .date_ms = 0, .message_id = "x@example.com",
		.body = "",
	};

	(void)state;
	assert_int_equal(mailmsg_build(&m, &out), 0);
	assert_non_null(strstr(out.data, "From: =?UTF-8?B?U3TDpXR1cw==?= <s@example.com>\r\n"));
	assert_non_null(strstr(out.data, "Subject: =?UTF-8?B?UGFubmUgw6AgUGFyaXM=?=\r\n"));
	m.subject = "x\r\nBcc: evil@example.com";
	assert_int_equal(mailmsg_build(&m, &out), -1);
	m.subject = "x";
	m.to = "a@example.com>\r\nBcc: <b@example.com";
	assert_int_equal(mailmsg_build(&m, &out), -1);
	textbuf_release(&out);
}

static void
long_lines_are_soft_broken_within_76_characters(void **state)
{
	struct textbuf out = { 0 };
	char body[300];
	struct mailmsg m = { .from_name = "P", .from = "s@example.com", .to = "a@example.com",
		.subject = "s", .message_id = "x@example.com", .body = body };
	const char *p, *line;

	(void)state;
	memset(body, 'x', 200);
	memcpy(body + 150, "\xc3\xa9\xc3\xa9", 4);
	body[200] = '\0';
	assert_int_equal(mailmsg_build(&m, &out), 0);
	line = strstr(out.data, "\r\n\r\n") + 4;
	for (p = line; *p != '\0'; p = strstr(p, "\r\n") + 2)
		assert_true(strstr(p, "\r\n") - p <= 76);
	textbuf_release(&out);
}

static void
an_update_reads_the_sinks_payload(void **state)
{
	struct textbuf subject = { 0 }, body = { 0 };
	const char *payload =
	    "{\"event_id\":9,\"type\":\"incident.created\",\"incident\":{\"id\":\"3\","
	    "\"name\":\"Elevated latency in US-East C1\",\"status\":\"investigating\","
	    "\"impact\":\"major\",\"shortlink\":\"https://s.example/incidents/3.html\"},"
	    "\"update\":{\"id\":\"3-opened\",\"status\":\"investigating\",\"body\":\"We are "
	    "investigating.\"},\"components\":[{\"id\":\"c1\",\"name\":\"US-East C1\","
	    "\"status\":\"partial_outage\"}]}";

	(void)state;
	assert_int_equal(mailmsg_update_text("Example Cache", payload, "https://u.example/u?t=1",
	    &subject, &body), 0);
	assert_string_equal(subject.data,
	    "[Example Cache] Investigating: Elevated latency in US-East C1");
	assert_string_equal(body.data,
	    "Elevated latency in US-East C1\n\n"
	    "Investigating (major impact)\n"
	    "Affected: US-East C1\n\n"
	    "We are investigating.\n\n"
	    "https://s.example/incidents/3.html\n\n"
	    "-- \nYou receive this because you subscribed to the status updates of Example Cache."
	    "\nTo stop them, open:\nhttps://u.example/u?t=1\n");
	assert_int_equal(mailmsg_update_text("P", "[1]", "u", &subject, &body), -1);
	textbuf_release(&subject);
	textbuf_release(&body);
}

static void
smtp_5xx_is_permanent_and_everything_else_temporary(void **state)
{
	(void)state;
	assert_int_equal(mailer_smtp_outcome(CURLE_OK, 250), MAILER_SENT);
	assert_int_equal(mailer_smtp_outcome(CURLE_SEND_ERROR, 550), MAILER_PERMANENT);
	assert_int_equal(mailer_smtp_outcome(CURLE_RECV_ERROR, 554), MAILER_PERMANENT);
	assert_int_equal(mailer_smtp_outcome(CURLE_SEND_ERROR, 451), MAILER_TEMPORARY);
	assert_int_equal(mailer_smtp_outcome(CURLE_COULDNT_CONNECT, 0), MAILER_TEMPORARY);
	assert_int_equal(mailer_smtp_outcome(CURLE_OPERATION_TIMEDOUT, 0), MAILER_TEMPORARY);
}

static void
prune_removes_who_receives_nothing_once_their_last_request_is_old(void **state)
{
	struct test_ilog *t = *state;
	struct ilog_prune_result res;
	struct ilog_subscriber gone, never, kept, fresh, got;
	int64_t day = 86400000;

	t->fake.randoms[0] = 0x1111;
	t->fake.randoms[1] = 0x2222;
	t->fake.randoms[2] = 0x3333;
	t->fake.randoms[3] = 0x4444;
	t->fake.nrandom = 4;
	gone = request(t, "gone@example.com", "", ILOG_SUB_ASKED);
	never = request(t, "never@example.com", "", ILOG_SUB_ASKED);
	kept = request(t, "kept@example.com", "", ILOG_SUB_ASKED);
	assert_int_equal(ilog_sub_confirm(t->log, gone.id, gone.nonce, NULL, t->err,
	    sizeof(t->err)), ILOG_OK);
	assert_int_equal(ilog_sub_unsubscribe(t->log, gone.id, gone.nonce, t->err,
	    sizeof(t->err)), ILOG_OK);
	assert_int_equal(ilog_sub_confirm(t->log, kept.id, kept.nonce, NULL, t->err,
	    sizeof(t->err)), ILOG_OK);
	t->fake.now += 100 * day;
	fresh = request(t, "fresh@example.com", "", ILOG_SUB_ASKED); /* pending, asked now */

	assert_int_equal(ilog_prune(t->log, t->fake.now - 90 * day, &res, t->err,
	    sizeof(t->err)), ILOG_OK);
	assert_int_equal(res.subscribers, 2);
	assert_int_equal(ilog_sub_get(t->log, gone.id, &got, t->err, sizeof(t->err)),
	    ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_sub_get(t->log, never.id, &got, t->err, sizeof(t->err)),
	    ILOG_ERR_NOT_FOUND);
	/* A confirmed subscriber stays whatever its age; a recent request stays. */
	assert_int_equal(ilog_sub_get(t->log, kept.id, &got, t->err, sizeof(t->err)), ILOG_OK);
	assert_int_equal(got.state, ILOG_SUB_CONFIRMED);
	assert_int_equal(ilog_sub_get(t->log, fresh.id, &got, t->err, sizeof(t->err)), ILOG_OK);
	/* The old links name nobody now. */
	assert_int_equal(ilog_sub_unsubscribe(t->log, gone.id, gone.nonce, t->err,
	    sizeof(t->err)), ILOG_ERR_NOT_FOUND);
	assert_int_equal(ilog_sub_confirm(t->log, never.id, never.nonce, NULL, t->err,
	    sizeof(t->err)), ILOG_ERR_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_token_verifies_and_names_its_subscriber),
		cmocka_unit_test(a_token_expires_at_its_second),
		cmocka_unit_test(a_tampered_or_foreign_token_is_invalid_whatever_its_expiry),
		TEST_ILOG_CASE(double_opt_in_takes_the_right_nonce_and_a_request_per_window),
		TEST_ILOG_CASE(the_total_cap_refuses_every_address_and_stale_pending_ones_do_not_count),
		TEST_ILOG_CASE(queues_go_in_order_back_off_and_bounces_drop),
		TEST_ILOG_CASE(only_confirmed_subscribers_are_listed_page_by_page),
		TEST_ILOG_CASE(a_batch_queues_each_sink_once_per_event),
		TEST_ILOG_CASE(prune_removes_who_receives_nothing_once_their_last_request_is_old),
		cmocka_unit_test(the_form_gives_one_address_and_known_components_in_page_order),
		cmocka_unit_test(hostile_forms_are_refused_with_a_sentence_that_does_not_echo_them),
		cmocka_unit_test(a_subscription_mask_is_its_components_or_all),
		cmocka_unit_test(a_message_has_exactly_these_headers_and_a_quoted_printable_body),
		cmocka_unit_test(non_ascii_names_are_encoded_words_and_no_input_adds_a_header),
		cmocka_unit_test(long_lines_are_soft_broken_within_76_characters),
		cmocka_unit_test(an_update_reads_the_sinks_payload),
		cmocka_unit_test(smtp_5xx_is_permanent_and_everything_else_temporary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
