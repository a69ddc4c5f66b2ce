/*
 * The sinks (statuspage/sink.c): their configuration, the exact requests each kind
 * builds from a payload, the HMAC signature, and what each answer means.
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

#include "statuspage/sink.h"

static const char payload[] =
    "{\"event_id\":42,\"type\":\"incident.created\",\"at\":\"2026-11-20T01:00:00.000Z\","
    "\"page\":{\"id\":\"mcops\",\"name\":\"Example\",\"url\":\"https://s.example/\"},"
    "\"indicator\":\"minor\",\"description\":\"Minor Service Outage\","
    "\"incident\":{\"id\":\"7\",\"name\":\"Elevated latency in C1\",\"status\":\"investigating\","
    "\"impact\":\"minor\",\"shortlink\":\"https://s.example/incidents/7.html\","
    "\"created_at\":\"2026-11-20T01:00:00.000Z\",\"resolved_at\":null},"
    "\"update\":{\"id\":\"7-opened\",\"status\":\"investigating\",\"body\":\"We are on it.\","
    "\"created_at\":\"2026-11-20T01:00:00.000Z\"},"
    "\"components\":[{\"id\":\"c1\",\"name\":\"C1\",\"status\":\"degraded_performance\"},"
    "{\"id\":\"c9\",\"name\":\"C9\",\"status\":\"degraded_performance\"}],"
    "\"text\":\"Minor Service Outage: Elevated latency in C1 - Investigating: We are on it. "
    "https://s.example/incidents/7.html\"}";

static char secret_path[64];

static int
setup(void **state)
{
	FILE *fp;

	(void)state;
	snprintf(secret_path, sizeof(secret_path), "/tmp/test_sinks.%ld", (long)getpid());
	if ((fp = fopen(secret_path, "w")) == NULL)
		return -1;
	fputs("s3cret\n", fp);
	fclose(fp);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(secret_path);
	return 0;
}

static size_t
load(const char *text, struct sink_conf *out, int rc, struct config_errors *errs)
{
	struct config cfg = { 0 };
	size_t n = 0;

	assert_int_equal(config_load_string(&cfg, "t.conf", text, errs), 0);
	assert_int_equal(sink_load_all(&cfg, out, &n, errs), rc);
	config_release(&cfg);
	return n;
}

static struct sink_conf sinks[SINKS_MAX];

static void
sinks_are_read_with_defaults_and_bad_ones_are_reported(void **state)
{
	struct config_errors errs = { 0 };
	char text[1024];
	size_t n;

	(void)state;
	snprintf(text, sizeof(text),
	    "[sink a]\ntype = chat\nurl = http://127.0.0.1:9/hook/\n"
	    "[sink sp]\ntype = statuspage\nurl = https://api.example/v1\nsecret_file = %s\n"
	    "page_id = PG\ncomponents = c1:R1, c2:R2\nrate = 0.5\nmax_attempts = 3\n",
	    secret_path);
	n = load(text, sinks, 0, &errs);
	assert_int_equal(n, 2);
	assert_string_equal(sinks[0].url, "http://127.0.0.1:9/hook");
	assert_string_equal(sinks[0].ops->name, "chat");
	assert_true(sinks[0].rate == 1.0);
	assert_int_equal(sinks[0].timeout_ms, 10000);
	assert_int_equal(sinks[0].backoff.max_attempts, 0); /* never give up by default */
	assert_string_equal(sinks[1].secret, "s3cret");
	assert_int_equal(sinks[1].ncomps, 2);
	assert_string_equal(sinks[1].comps[1].remote, "R2");
	assert_true(sinks[1].rate == 0.5);
	config_errors_release(&errs);

	n = load("[sink w]\ntype = webhook\nurl = ftp://x\n[sink m]\ntype = pigeon\nurl = http://x.y\n"
		 "[sink s]\ntype = statuspage\nurl = http://a.b\n[sink bad/name]\n",
	    sinks, -1, &errs);
	assert_int_equal(n, 0);
	/* w: url, no secret; m: type; s: no secret, no page_id; bad/name */
	assert_int_equal(errs.n, 6);
	config_errors_release(&errs);

	/* A second [sink a], with or without extra blanks, is an error, not a second sink
	 * a nor keys merged into the first. */
	n = load("[sink a]\ntype = chat\nurl = http://127.0.0.1:9/a\n"
		 "[sink   a]\ntype = chat\nurl = http://127.0.0.1:9/b\n",
	    sinks, -1, &errs);
	assert_int_equal(n, 1);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "t.conf:4: duplicate section [sink a] (first at line 1)"));
	config_errors_release(&errs);
}

static void
types_are_found_by_name_and_errors_list_every_registered_one(void **state)
{
	static const char *const names[] = { "chat", "webhook", "statuspage", "mastodon", "put" };
	struct config_errors errs = { 0 };
	struct sink_request reqs[SINK_REQUESTS_MAX];
	char err[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_non_null(sink_ops_find(names[i]));
		assert_string_equal(sink_ops_find(names[i])->name, names[i]);
	}
	assert_null(sink_ops_find("pigeon"));
	assert_null(sink_ops_find(""));

	load("[sink m]\ntype = pigeon\nurl = http://x.y\n[sink n]\nurl = http://x.y\n", sinks, -1,
	    &errs);
	assert_int_equal(errs.n, 2);
	assert_non_null(strstr(errs.msgs[0],
	    "type: 'pigeon' is not chat, webhook, statuspage, mastodon or put"));
	assert_non_null(strstr(errs.msgs[1],
	    "type is required (chat, webhook, statuspage, mastodon or put)"));
	config_errors_release(&errs);

	/* put mirrors the site: its url stays a directory, and it builds no requests. */
	n = load("[sink p]\ntype = put\nurl = http://x.y/mirror\n", sinks, 0, &errs);
	assert_int_equal(n, 1);
	assert_string_equal(sinks[0].url, "http://x.y/mirror/");
	assert_true(sinks[0].ops->basic_auth);
	assert_int_equal(sink_build(&sinks[0], payload, "", 0, reqs, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 0);
	assert_string_equal(err, "a put sink sends the site, not requests");
	config_errors_release(&errs);
}

static void
hmac_matches_rfc_4231(void **state)
{
	char hex[65];

	(void)state;
	sink_hmac_hex("Jefe", "what do ya want for nothing?", 28, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static const char *
header(const struct sink_request *r, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < r->nheaders; i++)
		if (strncmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
			return r->headers[i] + n + 2;
	return NULL;
}

static void
each_kind_builds_its_exact_requests(void **state)
{
	struct config_errors errs = { 0 };
	struct sink_request reqs[SINK_REQUESTS_MAX];
	char text[1024], err[256], sig[65], signed_text[4096];
	json_t *o;
	size_t n, i;

	(void)state;
	snprintf(text, sizeof(text),
	    "[sink chat]\ntype = chat\nurl = http://h/chat\n"
	    "[sink hook]\ntype = webhook\nurl = http://h/hook\nsecret_file = %s\n"
	    "[sink sp]\ntype = statuspage\nurl = http://h/v1\nsecret_file = %s\npage_id = PG\n"
	    "components = c1:R1\n"
	    "[sink m]\ntype = mastodon\nurl = http://h\nsecret_file = %s\nvisibility = unlisted\n",
	    secret_path, secret_path, secret_path);
	assert_int_equal(load(text, sinks, 0, &errs), 4);

	assert_int_equal(sink_build(&sinks[0], payload, "", 1700000000, reqs, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].method, "POST");
	o = json_loads(reqs[0].body.data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "text")),
	    "Minor Service Outage: Elevated latency in C1 - Investigating: We are on it. "
	    "https://s.example/incidents/7.html");
	assert_int_equal(json_object_size(o), 1);
	json_decref(o);
	sink_request_release(&reqs[0]);

	assert_int_equal(sink_build(&sinks[1], payload, "", 1700000000, reqs, &n, err,
	    sizeof(err)), 0);
	assert_string_equal(header(&reqs[0], "X-Mcops-Event"), "42");
	assert_string_equal(header(&reqs[0], "X-Mcops-Timestamp"), "1700000000");
	assert_string_equal(header(&reqs[0], "Idempotency-Key"), "mcops-hook-42");
	snprintf(signed_text, sizeof(signed_text), "1700000000.%s", reqs[0].body.data);
	sink_hmac_hex("s3cret", signed_text, strlen(signed_text), sig);
	assert_string_equal(header(&reqs[0], "X-Mcops-Signature") + 7, sig);
	assert_memory_equal(header(&reqs[0], "X-Mcops-Signature"), "sha256=", 7);
	sink_request_release(&reqs[0]);

	/* statuspage: the mapped component (c9 has no remote id), then the incident. */
	assert_int_equal(sink_build(&sinks[2], payload, "", 1700000000, reqs, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(reqs[0].method, "PATCH");
	assert_string_equal(reqs[0].url, "http://h/v1/pages/PG/components/R1");
	assert_string_equal(reqs[0].body.data, "{\"component\":{\"status\":\"degraded_performance\"}}");
	assert_string_equal(reqs[1].method, "POST");
	assert_string_equal(reqs[1].url, "http://h/v1/pages/PG/incidents");
	assert_true(reqs[1].remember_id);
	assert_string_equal(header(&reqs[1], "Authorization"), "OAuth s3cret");
	o = json_loads(reqs[1].body.data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "incident"),
	    "impact_override")), "minor");
	json_decref(o);
	for (i = 0; i < n; i++)
		sink_request_release(&reqs[i]);
	assert_int_equal(sink_build(&sinks[2], payload, "RI9", 1700000000, reqs, &n, err,
	    sizeof(err)), 0);
	assert_string_equal(reqs[1].url, "http://h/v1/pages/PG/incidents/RI9");
	assert_false(reqs[1].remember_id);
	for (i = 0; i < n; i++)
		sink_request_release(&reqs[i]);

	/* mastodon: a reply in the incident's thread, with an idempotency key. */
	assert_int_equal(sink_build(&sinks[3], payload, "555", 1700000000, reqs, &n, err,
	    sizeof(err)), 0);
	assert_string_equal(reqs[0].url, "http://h/api/v1/statuses");
	assert_string_equal(header(&reqs[0], "Authorization"), "Bearer s3cret");
	assert_string_equal(header(&reqs[0], "Idempotency-Key"), "mcops-m-42");
	o = json_loads(reqs[0].body.data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "in_reply_to_id")), "555");
	assert_string_equal(json_string_value(json_object_get(o, "visibility")), "unlisted");
	json_decref(o);
	sink_request_release(&reqs[0]);

	/* A payload that is not one: never sendable. */
	assert_int_equal(sink_build(&sinks[0], "[1,2]", "", 0, reqs, &n, err, sizeof(err)), -1);
	assert_int_equal(sink_build(&sinks[0], "{\"event_id\":1}", "", 0, reqs, &n, err,
	    sizeof(err)), -1);
	config_errors_release(&errs);
}

/* A maintenance payload as lib/statussite/payload.c builds it (status filled in). */
static void
maintenance_payload(char *buf, size_t len, const char *status)
{
	snprintf(buf, len,
	    "{\"event_id\":50,\"type\":\"maintenance.x\",\"at\":\"2026-12-08T01:00:00.000Z\","
	    "\"page\":{\"id\":\"p\",\"name\":\"P\",\"url\":\"\"},\"indicator\":\"none\","
	    "\"description\":\"All Systems Operational\",\"maintenance\":{\"id\":\"m3\","
	    "\"name\":\"Upgrade\",\"status\":\"%s\",\"impact\":\"maintenance\","
	    "\"scheduled_for\":\"2026-12-08T02:00:00.000Z\","
	    "\"scheduled_until\":\"2026-12-08T04:00:00.000Z\"},\"update\":{\"id\":\"m3-%s\","
	    "\"status\":\"%s\",\"body\":\"Short writes.\",\"created_at\":"
	    "\"2026-12-08T01:00:00.000Z\"},\"components\":[{\"id\":\"c1\",\"name\":\"C1\","
	    "\"status\":\"under_maintenance\"}],\"text\":\"Scheduled maintenance: Upgrade\"}",
	    status, status, status);
}

static void
a_maintenance_is_a_scheduled_incident_of_the_hosted_page(void **state)
{
	struct config_errors errs = { 0 };
	struct sink_request reqs[SINK_REQUESTS_MAX];
	char text[512], err[256], p[2048];
	json_t *o, *inc;
	size_t n, i;

	(void)state;
	snprintf(text, sizeof(text),
	    "[sink sp]\ntype = statuspage\nurl = http://h/v1\nsecret_file = %s\npage_id = PG\n"
	    "components = c1:R1\n", secret_path);
	assert_int_equal(load(text, sinks, 0, &errs), 1);
	/* Announced: created with its schedule; its edges are ours, not automatic. */
	maintenance_payload(p, sizeof(p), "scheduled");
	assert_int_equal(sink_build(&sinks[0], p, "", 1700000000, reqs, &n, err, sizeof(err)),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(reqs[0].url, "http://h/v1/pages/PG/components/R1");
	assert_string_equal(reqs[1].method, "POST");
	assert_true(reqs[1].remember_id);
	o = json_loads(reqs[1].body.data, 0, NULL);
	inc = json_object_get(o, "incident");
	assert_string_equal(json_string_value(json_object_get(inc, "status")), "scheduled");
	assert_string_equal(json_string_value(json_object_get(inc, "scheduled_for")),
	    "2026-12-08T02:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(inc, "scheduled_until")),
	    "2026-12-08T04:00:00.000Z");
	assert_true(json_is_false(json_object_get(inc, "scheduled_auto_in_progress")));
	json_decref(o);
	for (i = 0; i < n; i++)
		sink_request_release(&reqs[i]);
	/* Started: the remote incident moves. */
	maintenance_payload(p, sizeof(p), "in_progress");
	assert_int_equal(sink_build(&sinks[0], p, "RM1", 1700000000, reqs, &n, err,
	    sizeof(err)), 0);
	assert_string_equal(reqs[1].method, "PATCH");
	assert_string_equal(reqs[1].url, "http://h/v1/pages/PG/incidents/RM1");
	assert_non_null(strstr(reqs[1].body.data, "\"status\":\"in_progress\""));
	for (i = 0; i < n; i++)
		sink_request_release(&reqs[i]);
	/* Cancelled: deleted there (the hosted page has no cancelled status). */
	maintenance_payload(p, sizeof(p), "cancelled");
	assert_int_equal(sink_build(&sinks[0], p, "RM1", 1700000000, reqs, &n, err,
	    sizeof(err)), 0);
	assert_string_equal(reqs[n - 1].method, "DELETE");
	assert_string_equal(reqs[n - 1].url, "http://h/v1/pages/PG/incidents/RM1");
	for (i = 0; i < n; i++)
		sink_request_release(&reqs[i]);
	config_errors_release(&errs);
}

static void
a_long_mastodon_status_is_cut_but_keeps_its_link(void **state)
{
	struct config_errors errs = { 0 };
	struct sink_request reqs[SINK_REQUESTS_MAX];
	char text[512], err[256], *p, *long_payload;
	const char *status;
	size_t n;
	json_t *o, *pl;

	(void)state;
	snprintf(text, sizeof(text), "[sink m]\ntype = mastodon\nurl = http://h\nsecret_file = %s\n",
	    secret_path);
	assert_int_equal(load(text, sinks, 0, &errs), 1);
	pl = json_loads(payload, 0, NULL);
	p = malloc(2001);
	memset(p, 'x', 2000);
	p[2000] = '\0';
	json_object_set_new(pl, "text", json_string(p));
	long_payload = json_dumps(pl, JSON_COMPACT);
	assert_int_equal(sink_build(&sinks[0], long_payload, "", 0, reqs, &n, err, sizeof(err)), 0);
	o = json_loads(reqs[0].body.data, 0, NULL);
	status = json_string_value(json_object_get(o, "status"));
	assert_true(strlen(status) < 520); /* 500 characters, all ASCII here */
	assert_non_null(strstr(status, " https://s.example/incidents/7.html"));
	json_decref(o);
	json_decref(pl);
	free(long_payload);
	free(p);
	sink_request_release(&reqs[0]);
	config_errors_release(&errs);
}

static void
answers_are_judged_as_done_retry_or_give_up(void **state)
{
	int64_t ra;
	char why[128];

	(void)state;
	assert_int_equal(sink_judge(200, NULL, "ok", 0, &ra, why, sizeof(why)), SINK_DONE);
	assert_int_equal(sink_judge(204, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_DONE);
	assert_int_equal(sink_judge(0, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_RETRY);
	assert_string_equal(why, "no answer");
	assert_int_equal(sink_judge(503, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_RETRY);
	assert_int_equal(ra, 0);
	assert_int_equal(sink_judge(429, "120", NULL, 0, &ra, why, sizeof(why)), SINK_RETRY);
	assert_int_equal(ra, 120000);
	/* An HTTP date: 2023-11-14T22:13:20Z is 1700000000; asked 30 s later. */
	assert_int_equal(sink_judge(429, "Tue, 14 Nov 2023 22:13:50 GMT", NULL, 1700000000000LL,
	    &ra, why, sizeof(why)), SINK_RETRY);
	assert_int_equal(ra, 30000);
	/* Discord's JSON hint. */
	assert_int_equal(sink_judge(429, NULL, "{\"retry_after\": 1.5}", 0, &ra, why,
	    sizeof(why)), SINK_RETRY);
	assert_int_equal(ra, 1500);
	assert_int_equal(sink_judge(420, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_RETRY);
	assert_int_equal(sink_judge(401, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_RETRY);
	assert_int_equal(sink_judge(400, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_GIVE_UP);
	assert_int_equal(sink_judge(404, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_GIVE_UP);
	assert_int_equal(sink_judge(301, NULL, NULL, 0, &ra, why, sizeof(why)), SINK_GIVE_UP);
	/* A hint of years is capped at a day; nonsense is ignored. */
	assert_int_equal(sink_judge(503, "99999999999", NULL, 0, &ra, why, sizeof(why)), SINK_RETRY);
	assert_int_equal(ra, 24LL * 3600 * 1000);
	assert_int_equal(sink_judge(503, "soon", NULL, 0, &ra, why, sizeof(why)), SINK_RETRY);
	assert_int_equal(ra, 0);
}

static void
remote_ids_are_read_from_answers_and_checked(void **state)
{
	char id[SINK_REMOTE_ID_MAX], why[256];

	(void)state;
	assert_int_equal(sink_answer_id("{\"id\":\"abc123\"}", id, sizeof(id), why, sizeof(why)), 0);
	assert_string_equal(id, "abc123");
	assert_int_equal(sink_answer_id("{\"id\":109372}", id, sizeof(id), why, sizeof(why)), 0);
	assert_string_equal(id, "109372");
	assert_int_equal(sink_answer_id("{\"id\":\"../../x\"}", id, sizeof(id), why, sizeof(why)), -1);
	assert_int_equal(sink_answer_id("{\"id\":\"\"}", id, sizeof(id), why, sizeof(why)), -1);
	assert_int_equal(sink_answer_id("not json", id, sizeof(id), why, sizeof(why)), -1);
	assert_string_equal(why, "the answer has no \"id\" (a string or a number)");
	assert_int_equal(sink_answer_id(NULL, id, sizeof(id), why, sizeof(why)), -1);
}

/* A cut number names another remote incident (later updates would go to it): an id
 * that does not fit is refused whole, whatever its type, and nothing is written. */
static void
remote_ids_that_do_not_fit_are_refused_not_cut(void **state)
{
	char id[8], why[256];

	(void)state;
	memset(id, 'x', sizeof(id));
	assert_int_equal(sink_answer_id("{\"id\":-9223372036854775808}", id, 2, why, sizeof(why)), -1);
	assert_string_equal(why, "the answer's \"id\" does not fit in 2 bytes");
	assert_int_equal(sink_answer_id("{\"id\":12345678}", id, sizeof(id), why, sizeof(why)), -1);
	assert_int_equal(sink_answer_id("{\"id\":\"abcdefgh\"}", id, sizeof(id), why, sizeof(why)), -1);
	assert_memory_equal(id, "xxxxxxxx", sizeof(id));
	/* One byte less fits, with its NUL. */
	assert_int_equal(sink_answer_id("{\"id\":1234567}", id, sizeof(id), why, sizeof(why)), 0);
	assert_string_equal(id, "1234567");
	assert_int_equal(sink_answer_id("{\"id\":-123456}", id, sizeof(id), why, sizeof(why)), 0);
	assert_string_equal(id, "-123456");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sinks_are_read_with_defaults_and_bad_ones_are_reported),
		cmocka_unit_test(types_are_found_by_name_and_errors_list_every_registered_one),
		cmocka_unit_test(hmac_matches_rfc_4231),
		cmocka_unit_test(each_kind_builds_its_exact_requests),
		cmocka_unit_test(a_long_mastodon_status_is_cut_but_keeps_its_link),
		cmocka_unit_test(a_maintenance_is_a_scheduled_incident_of_the_hosted_page),
		cmocka_unit_test(answers_are_judged_as_done_retry_or_give_up),
		cmocka_unit_test(remote_ids_are_read_from_answers_and_checked),
		cmocka_unit_test(remote_ids_that_do_not_fit_are_refused_not_cut),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
