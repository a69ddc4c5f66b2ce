/*
 * Unit tests of what mcstatus publishes from text it does not control: operators'
 * public updates (model_clean_text), incident names made from configured component
 * names (model_build), the chat sink's text (sink_build) and the sinks' retry settings
 * (sink_load_all). Each pins a way such text once broke a page, a feed, a payload or a
 * chat message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "statussite/statussite.h"
#include "lib/statussite/render.h" /* the renderers, tested one by one */
#include "statuspage/sink.h"

#define NOW (1764633600000LL + 12 * 3600 * 1000LL) /* 2025-12-02T12:00Z */

static bool
utf8_valid(const char *s)
{
	json_t *j = json_string(s); /* jansson checks UTF-8 */
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

static void
clean_text_replaces_non_xml_characters_c1_controls_and_bidi_controls(void **state)
{
	char out[256];

	(void)state;
	/* U+FFFF and U+FFFE are valid UTF-8 but not XML characters: one of them in an
	 * update made history.atom unreadable for every feed reader. */
	model_clean_text("a\xef\xbf\xbf" "b\xef\xbf\xbe" "c", out, sizeof(out));
	assert_string_equal(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
	/* C1 controls (U+0085 NEL, U+009B CSI) are control characters too. */
	model_clean_text("x\xc2\x85y\xc2\x9bz\x7f", out, sizeof(out));
	assert_string_equal(out, "x y z ");
	/* An unbalanced right-to-left override reverses what follows it: the time on the
	 * page, the link in a chat message. Embeddings, overrides and isolates go. */
	model_clean_text("ok \xe2\x80\xae" "txt.exe \xe2\x81\xa6" "a\xe2\x81\xa9", out, sizeof(out));
	assert_string_equal(out, "ok  txt.exe  a ");
	/* What stays: newlines, right-to-left text itself, marks, other planes, U+FFFD. */
	model_clean_text("l1\n\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xe2\x80\x8f \xf0\x9f\x98\x80 "
			 "\xef\xbf\xbd", out, sizeof(out));
	assert_string_equal(out, "l1\n\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xe2\x80\x8f "
				 "\xf0\x9f\x98\x80 \xef\xbf\xbd");
	/* Still cut at a character boundary and still replacing invalid bytes. */
	model_clean_text("ab\xc3\xa9", out, 4);
	assert_string_equal(out, "ab");
	model_clean_text("\xff\xc3", out, sizeof(out));
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd");
}

static void
fill_two_components(struct sp_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "Example Cache");
	snprintf(cfg->id, sizeof(cfg->id), "mcops");
	snprintf(cfg->url, sizeof(cfg->url), "https://status.example.com/");
	cfg->ncomps = 2;
	/* 127 and 128 bytes: the incident's 200-byte name ends inside an "é". */
	snprintf(cfg->comps[0].id, sizeof(cfg->comps[0].id), "api");
	snprintf(cfg->comps[1].id, sizeof(cfg->comps[1].id), "sessions");
	cfg->comps[0].name[0] = 'X';
	for (i = 0; i < 63; i++)
		memcpy(cfg->comps[0].name + 1 + 2 * i, "\xc3\xa9", 2);
	for (i = 0; i < 64; i++)
		memcpy(cfg->comps[1].name + 2 * i, "\xc3\xa9", 2);
	for (i = 0; i < 2; i++) {
		snprintf(cfg->comps[i].clusters[0], sizeof(cfg->comps[i].clusters[0]), "c1");
		cfg->comps[i].nclusters = 1;
	}
	assert_int_equal(strlen(cfg->comps[0].name), 127);
	assert_int_equal(strlen(cfg->comps[1].name), 128);
}

static void
incident_name_from_long_non_ascii_components_stays_utf8_and_everything_renders(void **state)
{
	struct sp_config *cfg = calloc(1, sizeof(*cfg));
	struct ilog_incident inc;
	struct ilog_event ev;
	struct textbuf b = { 0 };
	struct model m;
	json_t *summary;
	char err[256];

	(void)state;
	assert_non_null(cfg);
	fill_two_components(cfg);
	memset(&inc, 0, sizeof(inc));
	inc.id = 7;
	snprintf(inc.kind, sizeof(inc.kind), "latency_tail");
	snprintf(inc.cluster, sizeof(inc.cluster), "c1");
	inc.severity = ILOG_SEVERITY_MINOR;
	inc.state = ILOG_STATE_OPEN;
	inc.opened_at = NOW - 3600 * 1000;
	inc.updated_at = inc.opened_at;
	assert_int_equal(model_build(&m, cfg, &inc, 1, NULL, NOW - 86400000LL, NOW, err,
	    sizeof(err)), 0);
	assert_int_equal(m.nincidents, 1);
	assert_true(strncmp(m.incidents[0].name, "Elevated latency in X\xc3\xa9", 23) == 0);
	assert_true(utf8_valid(m.incidents[0].name));

	/* A name that is not UTF-8 made jansson refuse every JSON document (the site
	 * stopped rendering) and every payload (no push went out). */
	assert_int_equal(render_json(&m, RENDER_SUMMARY, &b), 0);
	summary = json_loads(b.data, 0, NULL);
	assert_non_null(summary);
	assert_int_equal(json_array_size(json_object_get(summary, "incidents")), 1);
	json_decref(summary);
	textbuf_reset(&b);
	assert_int_equal(render_json(&m, RENDER_INCIDENTS, &b), 0);
	textbuf_reset(&b);
	assert_int_equal(render_atom(&m, &b), 0);
	assert_true(utf8_valid(b.data));
	textbuf_reset(&b);
	memset(&ev, 0, sizeof(ev));
	ev.id = 42;
	ev.incident_id = 7;
	ev.at = inc.opened_at;
	snprintf(ev.type, sizeof(ev.type), "%s", ILOG_EV_OPENED);
	assert_int_equal(payload_build(&m, &ev, &b), 1);
	/* The first update names every component in full. */
	assert_non_null(strstr(m.incidents[0].updates[0].body, cfg->comps[1].name));
	textbuf_release(&b);
	model_release(&m);
	free(cfg);
}

static struct sink_conf *
chat_sink(void)
{
	struct sink_conf *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->name, sizeof(s->name), "team-chat");
	s->ops = sink_ops_find("chat");
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:9/hooks/abc");
	return s;
}

static void
chat_text_escapes_slack_markup_in_an_update(void **state)
{
	struct sink_request *reqs = calloc(SINK_REQUESTS_MAX, sizeof(*reqs));
	struct sink_conf *s = chat_sink();
	const char *payload = "{\"event_id\": 5, \"text\": \"Minor Service Outage: Elevated "
			      "latency in C1 - Investigating: p99 < 5ms & <!channel> see "
			      "<https://evil.example|our status page> "
			      "https://status.example.com/incidents/7.html\"}";
	json_t *body;
	char err[256];
	size_t n;

	(void)state;
	assert_non_null(reqs);
	assert_int_equal(sink_build(s, payload, "", 1000, reqs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	body = json_loads(reqs[0].body.data, 0, NULL);
	assert_non_null(body);
	/* Slack reads <...> as a link or a mention (<!channel> pings everyone) and wants
	 * &, < and > escaped in the text: an update is shown, not interpreted. */
	assert_string_equal(json_string_value(json_object_get(body, "text")),
	    "Minor Service Outage: Elevated latency in C1 - Investigating: p99 &lt; 5ms &amp; "
	    "&lt;!channel&gt; see &lt;https://evil.example|our status page&gt; "
	    "https://status.example.com/incidents/7.html");
	json_decref(body);
	sink_request_release(&reqs[0]);
	free(reqs);
	free(s);
}

static int
load_sinks(const char *text, struct sink_conf *out, size_t *n, char *first_err, size_t len)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(config_load_string(&cfg, "test.conf", text, &errs), 0);
	rc = sink_load_all(&cfg, out, n, &errs);
	snprintf(first_err, len, "%s", errs.n > 0 ? errs.msgs[0] : "");
	config_errors_release(&errs);
	config_release(&cfg);
	return rc;
}

static void
sink_retry_settings_are_bounded_so_the_next_attempt_time_cannot_overflow(void **state)
{
	struct sink_conf *out = calloc(SINKS_MAX, sizeof(*out));
	char err[CONFIG_ERR_MAX];
	size_t n;

	(void)state;
	assert_non_null(out);
	assert_int_equal(load_sinks("[sink c]\ntype = chat\nurl = http://127.0.0.1:9/x\n"
				    "retry_base = 2s\nretry_max = 1h\n", out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].backoff.base_ms, 2000);
	assert_int_equal(out[0].backoff.max_ms, 3600000);
	/* Near INT64_MAX ms, now + backoff wrapped negative in the log: the item was due at
	 * once, forever. */
	assert_int_equal(load_sinks("[sink c]\ntype = chat\nurl = http://127.0.0.1:9/x\n"
				    "retry_base = 106751000d\n", out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "retry_base"));
	assert_int_equal(load_sinks("[sink c]\ntype = chat\nurl = http://127.0.0.1:9/x\n"
				    "retry_max = 106751000d\n", out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "retry_max"));
	free(out);
}

static void
remote_ids_that_would_change_the_request_path_are_refused(void **state)
{
	char id[SINK_REMOTE_ID_MAX], why[256];

	(void)state;
	assert_int_equal(sink_answer_id("{\"id\":\"2kq8r1x_5.A-b\"}", id, sizeof(id), why, sizeof(why)), 0);
	assert_string_equal(id, "2kq8r1x_5.A-b");
	assert_int_equal(sink_answer_id("{\"id\":109876}", id, sizeof(id), why, sizeof(why)), 0);
	assert_string_equal(id, "109876");
	/* The id becomes a path segment (PATCH .../incidents/ID): "..", which curl
	 * resolves to the page itself, or a control character, which curl refuses (and the
	 * push was retried forever, holding every later update of that sink). */
	assert_int_equal(sink_answer_id("{\"id\":\"..\"}", id, sizeof(id), why, sizeof(why)), -1);
	assert_int_equal(sink_answer_id("{\"id\":\".\"}", id, sizeof(id), why, sizeof(why)), -1);
	assert_int_equal(sink_answer_id("{\"id\":\"a\\r\\nX-Evil: 1\"}", id, sizeof(id), why, sizeof(why)), -1);
	assert_int_equal(sink_answer_id("{\"id\":\"a\\u0000b\"}", id, sizeof(id), why, sizeof(why)), -1);
	assert_int_equal(sink_answer_id("{\"id\":\"caf\u00e9\"}", id, sizeof(id), why, sizeof(why)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_text_replaces_non_xml_characters_c1_controls_and_bidi_controls),
		cmocka_unit_test(
		    incident_name_from_long_non_ascii_components_stays_utf8_and_everything_renders),
		cmocka_unit_test(chat_text_escapes_slack_markup_in_an_update),
		cmocka_unit_test(sink_retry_settings_are_bounded_so_the_next_attempt_time_cannot_overflow),
		cmocka_unit_test(remote_ids_that_would_change_the_request_path_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
