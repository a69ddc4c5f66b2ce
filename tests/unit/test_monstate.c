/*
 * Unit tests of lib/monstate: the monitor's view round-trips through its file, is
 * replaced atomically, and a reader refuses what is not a view of this version
 * (malformed JSON, wrong types, strings too long for their buffers, too many nodes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "helper.h"
#include "monstate.h"

/* Indices into the per-kind arrays (lib/kinds.h). */
#define STORM kinds_index("connection_storm")
#define TAIL kinds_index("latency_tail")
#define DOWN kinds_index("node_down")
#define EJECTED kinds_index("backend_ejected")
#define CHURN kinds_index("connection_churn")

#define word(field, text) snprintf((field), sizeof(field), "%s", (text))

static void
fill(struct monstate *st)
{
	assert_int_equal(monstate_alloc(st, 1, 2, NULL, 0), 0);
	st->written_at = 1700000000123;
	st->pid = 4242;
	st->interval_ms = 1000;
	st->tail_threshold_us = 5000;
	snprintf(st->clusters[0].name, sizeof(st->clusters[0].name), "c1");
	snprintf(st->clusters[0].title, sizeof(st->clusters[0].title), "US \"East\" \\ 1");
	word(st->clusters[0].kinds[STORM].detector.state, "firing");
	word(st->clusters[0].kinds[STORM].detector.severity, "major");
	st->clusters[0].kinds[STORM].in = 1;
	st->clusters[0].kinds[STORM].involved = 2;
	word(st->clusters[0].kinds[TAIL].detector.state, "recovering");
	word(st->clusters[0].kinds[TAIL].detector.severity, "critical");
	st->clusters[0].kinds[TAIL].in = 0;
	st->clusters[0].kinds[TAIL].involved = 2;
	word(st->clusters[0].kinds[CHURN].detector.state, "firing");
	word(st->clusters[0].kinds[CHURN].detector.severity, "minor");
	st->clusters[0].kinds[CHURN].in = 1;
	st->clusters[0].kinds[CHURN].involved = 1;
	for (int i = 0; i < 2; i++) {
		struct monstate_node *n = &st->nodes[i];
		snprintf(n->name, sizeof(n->name), "n%d", i + 1);
		snprintf(n->cluster, sizeof(n->cluster), "c1");
		n->up = i == 0;
		n->polled = true;
		n->poll_ok = i == 0;
		snprintf(n->poll_error, sizeof(n->poll_error), "%s",
		    i == 0 ? "" : "connect: Connection refused");
		n->connections = 1234;
		n->rate_known = true;
		n->new_connections_per_second = 12.5;
		n->probes = 95;
		n->p50_us = 210;
		n->p99_us = 14800;
		n->slow_fraction = 0.156;
		word(n->kinds[STORM].state, "ok");
		word(n->kinds[STORM].severity, "none");
		word(n->kinds[TAIL].state, "firing");
		word(n->kinds[TAIL].severity, "critical");
		word(n->kinds[DOWN].state, i == 0 ? "ok" : "firing");
		word(n->kinds[DOWN].severity, i == 0 ? "none" : "major");
		word(n->kinds[EJECTED].state, "ok");
		word(n->kinds[EJECTED].severity, "none");
		word(n->kinds[CHURN].state, i == 0 ? "firing" : "ok");
		word(n->kinds[CHURN].severity, i == 0 ? "minor" : "none");
		n->last_probe_ok_at = 1700000000000;
	}
}

static void
a_view_round_trips_through_its_file(void **state)
{
	struct monstate out = { 0 }, in = { 0 };
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX], tmp[TEST_PATH_MAX], err[256];
	struct stat sb;

	(void)state;
	assert_int_equal(test_dir_make(dir, sizeof(dir), "test_monstate"), 0);
	test_dir_file(path, sizeof(path), dir, "mcmon.json");
	test_dir_file(tmp, sizeof(tmp), dir, "mcmon.json.tmp");
	fill(&out);
	assert_int_equal(monstate_write(path, &out, err, sizeof(err)), 0);
	assert_int_equal(stat(tmp, &sb), -1); /* no temporary file left behind */
	assert_int_equal(monstate_read(path, &in, err, sizeof(err)), 0);
	assert_int_equal(in.written_at, out.written_at);
	assert_int_equal(in.pid, 4242);
	assert_int_equal(in.interval_ms, 1000);
	assert_int_equal(in.tail_threshold_us, 5000);
	assert_int_equal(in.nclusters, 1);
	assert_memory_equal(&in.clusters[0], &out.clusters[0], sizeof(in.clusters[0]));
	assert_int_equal(in.nnodes, 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(in.nodes[i].name, out.nodes[i].name);
		assert_int_equal(in.nodes[i].up, out.nodes[i].up);
		assert_string_equal(in.nodes[i].poll_error, out.nodes[i].poll_error);
		assert_true(in.nodes[i].new_connections_per_second == 12.5);
		assert_true(in.nodes[i].slow_fraction > 0.1559 && in.nodes[i].slow_fraction < 0.1561);
		assert_int_equal(in.nodes[i].p99_us, 14800);
		assert_string_equal(in.nodes[i].kinds[DOWN].severity,
		    out.nodes[i].kinds[DOWN].severity);
		assert_int_equal(in.nodes[i].last_probe_ok_at, 1700000000000);
	}
	/* Rewriting replaces it whole. */
	out.nnodes = 1;
	assert_int_equal(monstate_write(path, &out, err, sizeof(err)), 0);
	assert_int_equal(monstate_read(path, &in, err, sizeof(err)), 0);
	assert_int_equal(in.nnodes, 1);
	out.nnodes = 2;
	monstate_release(&in);
	monstate_release(&out);
	assert_int_equal(test_dir_remove(dir), 0);
}

static void
a_write_into_a_missing_directory_fails_and_leaves_nothing(void **state)
{
	struct monstate st = { 0 };
	char err[256];

	(void)state;
	fill(&st);
	assert_int_equal(monstate_write("/nonexistent-dir/mcmon.json", &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/mcmon.json.tmp"));
	monstate_release(&st);
}

static void
a_reader_refuses_what_is_not_a_view(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "", "not JSON" },
		{ "[]", "not a JSON object" },
		{ "{\"version\":2}", "version 2 is not 1" },
		{ "{\"version\":1}", "written_at" },
		{ "{\"version\":1,\"written_at\":1,\"pid\":1,\"interval_ms\":1,"
		  "\"tail_threshold_us\":1,\"clusters\":{},\"nodes\":[]}", "must be arrays" },
		{ "{\"version\":1,\"written_at\":1,\"pid\":1,\"interval_ms\":1,"
		  "\"tail_threshold_us\":1,\"clusters\":[7],\"nodes\":[]}", "clusters[0]" },
		{ "{\"version\":1,\"written_at\":1,\"pid\":1,\"interval_ms\":1,"
		  "\"tail_threshold_us\":-1,\"clusters\":[],\"nodes\":[]}", "tail_threshold_us" },
		{ "{\"version\":1,\"written_at\":1,\"pid\":1,\"interval_ms\":1,"
		  "\"tail_threshold_us\":1,\"clusters\":[],\"nodes\":[{\"name\":\"n1\"}]}",
		  "nodes[0].cluster" },
		{ "{\"version\":1,\"version\":1}", "not JSON" },
	};
	struct monstate st = { 0 };
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (monstate_parse(bad[i].text, strlen(bad[i].text), &st, err, sizeof(err)) != -1)
			fail_msg("case %zu parsed", i);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].why);
		assert_int_equal(st.nnodes, 0);
		assert_null(st.nodes);
	}
}

static void
strings_too_long_and_numbers_out_of_range_are_refused(void **state)
{
	struct monstate out = { 0 }, in = { 0 };
	char err[256], *text, *p, *mutated;
	size_t len;

	(void)state;
	fill(&out);
	text = monstate_format(&out);
	assert_non_null(text);
	assert_int_equal(monstate_parse(text, strlen(text), &in, err, sizeof(err)), 0);
	/* A name longer than MONSTATE_NAME_MAX. */
	len = strlen(text) + 200;
	mutated = malloc(len);
	p = strstr(text, "\"name\":\"n1\"");
	assert_non_null(p);
	snprintf(mutated, len, "%.*s\"name\":\"%070d\"%s", (int)(p - text), text, 1,
	    p + strlen("\"name\":\"n1\""));
	assert_int_equal(monstate_parse(mutated, strlen(mutated), &in, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nodes[0].name: expected a string of at most 64 bytes"));
	/* A slow fraction above 1. */
	p = strstr(text, "\"slow_fraction\":");
	snprintf(mutated, len, "%.*s\"slow_fraction\":1.5,%s", (int)(p - text), text,
	    strchr(p, ',') + 1);
	assert_int_equal(monstate_parse(mutated, strlen(mutated), &in, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "slow_fraction"));
	free(mutated);
	free(text);
	monstate_release(&out);
	monstate_release(&in);
	/* More nodes than the maximum. */
	assert_int_equal(monstate_alloc(&out, 1, MONSTATE_NODES_MAX + 1, err, sizeof(err)), -1);
	assert_null(out.nodes);
}

static void
a_cluster_from_a_writer_without_tail_fields_reads_as_no_tail(void **state)
{
	static const char older[] =
	    "{\"version\":1,\"written_at\":1,\"pid\":1,\"interval_ms\":1000,"
	    "\"tail_threshold_us\":5000,\"clusters\":[{\"name\":\"c1\",\"title\":\"C\","
	    "\"storm\":\"ok\",\"storm_severity\":\"none\",\"in_storm\":0,\"involved\":0}],"
	    "\"nodes\":[]}";
	static const char mistyped[] =
	    "{\"version\":1,\"written_at\":1,\"pid\":1,\"interval_ms\":1000,"
	    "\"tail_threshold_us\":5000,\"clusters\":[{\"name\":\"c1\",\"title\":\"C\","
	    "\"storm\":\"ok\",\"storm_severity\":\"none\",\"in_storm\":0,\"involved\":0,"
	    "\"tail\":\"firing\",\"tail_severity\":\"major\",\"in_tail\":-1,"
	    "\"tail_involved\":1}],\"nodes\":[]}";
	struct monstate st = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(monstate_parse(older, strlen(older), &st, err, sizeof(err)), 0);
	assert_int_equal(st.nclusters, 1);
	assert_string_equal(st.clusters[0].kinds[TAIL].detector.state, "ok");
	assert_string_equal(st.clusters[0].kinds[TAIL].detector.severity, "none");
	assert_int_equal(st.clusters[0].kinds[TAIL].in, 0);
	assert_int_equal(st.clusters[0].kinds[TAIL].involved, 0);
	/* Present, the fields are checked like the others. */
	assert_int_equal(monstate_parse(mistyped, strlen(mistyped), &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "clusters[0].in_tail: expected an integer of at least 0"));
	assert_int_equal(st.nclusters, 0);
	monstate_release(&st);
}

static void
the_file_keeps_the_field_names_and_order_of_its_first_writers(void **state)
{
	/* Older and newer mcmon and mctl read it: the per-kind fields come out under
	 * the names and in the order version 1 always had; later ones (the ejection
	 * kind, the role) come after them. */
	static const char want[] =
	    "{\"version\":1,\"written_at\":1700000000123,\"pid\":4242,\"interval_ms\":1000,"
	    "\"tail_threshold_us\":5000,\"clusters\":[{\"name\":\"c1\",\"title\":\"US \\\"East\\\" \\\\ 1\","
	    "\"storm\":\"firing\",\"storm_severity\":\"major\",\"in_storm\":1,\"involved\":2,"
	    "\"tail\":\"recovering\",\"tail_severity\":\"critical\",\"in_tail\":0,\"tail_involved\":2,"
	    "\"churn\":\"firing\",\"churn_severity\":\"minor\",\"in_churn\":1,\"churn_involved\":1}],"
	    "\"nodes\":[{\"name\":\"n1\",\"cluster\":\"c1\",\"up\":true,\"polled\":true,"
	    "\"poll_ok\":true,\"poll_error\":\"\",\"connections\":1234,\"rate_known\":true,"
	    "\"new_connections_per_second\":12.5,\"probes\":95,\"p50_us\":210,\"p99_us\":14800,"
	    "\"slow_fraction\":0.156,\"storm\":\"ok\",\"storm_severity\":\"none\",\"tail\":\"firing\","
	    "\"tail_severity\":\"critical\",\"down\":\"ok\",\"down_severity\":\"none\","
	    "\"ejected\":\"ok\",\"ejected_severity\":\"none\",\"churn\":\"firing\","
	    "\"churn_severity\":\"minor\",\"last_probe_ok_at\":1700000000000,\"role\":\"node\"},{\"name\":\"n2\",\"cluster\":\"c1\","
	    "\"up\":false,\"polled\":true,\"poll_ok\":false,\"poll_error\":\"connect: Connection refused\","
	    "\"connections\":1234,\"rate_known\":true,\"new_connections_per_second\":12.5,"
	    "\"probes\":95,\"p50_us\":210,\"p99_us\":14800,\"slow_fraction\":0.156,"
	    "\"storm\":\"ok\",\"storm_severity\":\"none\",\"tail\":\"firing\",\"tail_severity\":\"critical\","
	    "\"down\":\"firing\",\"down_severity\":\"major\",\"ejected\":\"ok\","
	    "\"ejected_severity\":\"none\",\"churn\":\"ok\",\"churn_severity\":\"none\","
	    "\"last_probe_ok_at\":1700000000000,\"role\":\"node\"}]}";
	struct monstate st = { 0 };
	char *text;

	(void)state;
	fill(&st);
	text = monstate_format(&st);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
	monstate_release(&st);
}

static void
a_proxy_and_a_backend_behind_it_round_trip_with_their_figures(void **state)
{
	struct monstate out = { 0 }, in = { 0 };
	char err[256], *text;

	(void)state;
	fill(&out);
	out.nodes[0].proxy_role = true;
	out.nodes[0].has_proxy = true;
	out.nodes[0].proxy.backends = 3;
	out.nodes[0].proxy.backends_up = 2;
	out.nodes[0].proxy.client_connections = 40;
	out.nodes[0].proxy.requests = 123456;
	out.nodes[0].proxy.fast_failures = 7;
	out.nodes[0].proxy.timeouts = 2;
	out.nodes[1].has_via_proxies = true;
	out.nodes[1].via_proxies.replies = 20000;
	out.nodes[1].via_proxies.slow_fraction = 0.15;
	out.nodes[1].via_proxies.proxies_down = 1;
	text = monstate_format(&out);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"role\":\"proxy\",\"proxy\":{\"backends\":3,"
	    "\"backends_up\":2,\"client_connections\":40,\"requests\":123456,"
	    "\"fast_failures\":7,\"timeouts\":2,\"queue_refusals\":0}"));
	assert_non_null(strstr(text, "\"role\":\"node\",\"via_proxies\":{\"replies\":20000,"
	    "\"slow_fraction\":0.1"));
	assert_non_null(strstr(text, "\"proxies_down\":1}"));
	assert_int_equal(monstate_parse(text, strlen(text), &in, err, sizeof(err)), 0);
	assert_true(in.nodes[0].proxy_role && in.nodes[0].has_proxy);
	assert_int_equal(in.nodes[0].proxy.backends_up, 2);
	assert_int_equal(in.nodes[0].proxy.requests, 123456);
	assert_false(in.nodes[1].proxy_role || in.nodes[1].has_proxy);
	assert_true(in.nodes[1].has_via_proxies);
	assert_int_equal(in.nodes[1].via_proxies.proxies_down, 1);
	free(text);
	monstate_release(&out);
	monstate_release(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_view_round_trips_through_its_file),
		cmocka_unit_test(a_write_into_a_missing_directory_fails_and_leaves_nothing),
		cmocka_unit_test(a_reader_refuses_what_is_not_a_view),
		cmocka_unit_test(strings_too_long_and_numbers_out_of_range_are_refused),
		cmocka_unit_test(a_cluster_from_a_writer_without_tail_fields_reads_as_no_tail),
		cmocka_unit_test(the_file_keeps_the_field_names_and_order_of_its_first_writers),
		cmocka_unit_test(a_proxy_and_a_backend_behind_it_round_trip_with_their_figures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
