/* Unit tests of lib/cluster: the topology from [cluster]/[node] sections, addresses,
 * secrets from files, and file:line errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster.h"
#include "helper.h"

static char secret_dir[TEST_PATH_MAX];
static char ops_pw[TEST_PATH_MAX], probe_pw[TEST_PATH_MAX], empty_pw[TEST_PATH_MAX];

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int
setup_secrets(void **state)
{
	(void)state;
	if (test_dir_make(secret_dir, sizeof(secret_dir), "test_cluster") < 0)
		return -1;
	test_dir_file(ops_pw, sizeof(ops_pw), secret_dir, "ops.pw");
	test_dir_file(probe_pw, sizeof(probe_pw), secret_dir, "probe.pw");
	test_dir_file(empty_pw, sizeof(empty_pw), secret_dir, "empty.pw");
	write_file(ops_pw, "s3cret-ops\n");
	write_file(probe_pw, "probe-pass");
	write_file(empty_pw, "");
	return 0;
}

static int
teardown_secrets(void **state)
{
	(void)state;
	return test_dir_remove(secret_dir);
}

/* Loads text (with %1$s = ops_pw, %2$s = probe_pw, %3$s = empty_pw) into cl. */
static int
load(const char *fmt, struct config *cfg, struct clusters *cl, struct config_errors *errs)
{
	char text[4096];

	snprintf(text, sizeof(text), fmt, ops_pw, probe_pw, empty_pw);
	assert_int_equal(config_load_string(cfg, "t.conf", text, errs), 0);
	return clusters_load(cl, cfg, errs);
}

static bool
has_error(const struct config_errors *errs, const char *needle)
{
	size_t i;

	for (i = 0; i < errs->n; i++) {
		if (strstr(errs->msgs[i], needle) != NULL)
			return true;
	}
	return false;
}

static void
loads_clusters_nodes_and_secrets(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct clusters cl = { 0 };
	const struct cluster_node *n;
	const struct cluster *c;
	(void)state;

	assert_int_equal(load(
	    "[node n2]\ncluster = c2\nclient = [::1]:11212\n"
	    "[cluster c1]\ntitle = US-East C1\nadmin_user = ops\nadmin_password_file = %1$s\n"
	    "probe_user = probe\nprobe_password_file = %2$s\n"
	    "[cluster c2]\nprobe_user = p2\nprobe_password_file = %2$s\n"
	    "[node n1]\ncluster = c1\nclient = 127.0.0.1:11211\nadmin = 127.0.0.1:11311\n"
	    "[node n3]\ncluster = c1\nclient = Cache-3.Example.net:11211\n"
	    "[mcd]\nthreads = 4\n",
	    &cfg, &cl, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(cl.n, 2);
	assert_int_equal(cl.nnodes, 3);
	c = clusters_find(&cl, "c1");
	assert_non_null(c);
	assert_string_equal(c->title, "US-East C1");
	assert_true(c->admin.set);
	assert_string_equal(c->admin.user, "ops");
	assert_string_equal(c->admin.password, "s3cret-ops");
	assert_string_equal(c->probe.password, "probe-pass");
	assert_int_equal(c->nnodes, 2);
	c = clusters_find(&cl, "c2");
	assert_string_equal(c->title, "c2"); /* defaults to the name */
	assert_false(c->admin.set);
	assert_true(c->probe.set);
	assert_string_equal(c->probe.user, "p2");
	/* Nodes in file order, each pointing at its cluster. */
	assert_string_equal(cl.nodes[0].name, "n2");
	assert_string_equal(cl.v[cl.nodes[0].cluster].name, "c2");
	assert_string_equal(cl.nodes[0].client.text, "[::1]:11212");
	n = clusters_find_node(&cl, "n1");
	assert_non_null(n);
	assert_string_equal(n->client.host, "127.0.0.1");
	assert_int_equal(n->client.port, 11211);
	assert_string_equal(n->admin.text, "127.0.0.1:11311");
	n = clusters_find_node(&cl, "n3");
	assert_string_equal(n->client.host, "cache-3.example.net");
	assert_int_equal(n->admin.port, 0);
	assert_null(clusters_find_node(&cl, "n9"));
	assert_null(clusters_find(&cl, "c9"));
	/* [mcd] is not ours; our keys were all used. */
	config_check_unknown(&cfg, clusters_owns, &errs);
	assert_int_equal(errs.n, 0);
	clusters_release(&cl);
	assert_int_equal(cl.n, 0);
	assert_null(cl.v);
	config_release(&cfg);
}

static void
every_topology_error_names_its_line(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct clusters cl = { 0 };
	(void)state;

	assert_int_equal(load(
	    "[cluster c1]\n"                                  /* 1 */
	    "admin_user = ops\n"                              /* 2: no password file */
	    "probe_password_file = %2$s\n"                    /* 3: no user */
	    "[cluster empty]\n"                               /* 4: no nodes */
	    "admin_user = ops\n"                              /* 5 */
	    "admin_password_file = %3$s\n"                    /* 6: empty secret */
	    "[node n1]\ncluster = c1\nclient = 127.0.0.1:11211\n" /* 7-9 */
	    "[node n2]\ncluster = c9\nclient = 127.0.0.1:11212\n" /* 10-12: unknown cluster */
	    "[node n3]\ncluster = c1\nclient = 127.0.0.1\n"       /* 13-15: no port */
	    "[node n4]\ncluster = c1\nclient = 127.000.0.1:11211\n" /* 16-18 */
	    "[node n5]\ncluster = c1\n"                       /* 19-20: no client */
	    "[node n1]\ncluster = c1\n"                       /* 21-22: duplicate */
	    "[node n6]\ncluster = c1\nclient = ::1:5\n"       /* 23-25: v6 without brackets */
	    "[node n7]\ncluster = c1\nclient = 127.0.0.1:7000\nadmin = 127.0.0.1:7000\n"
	    "typo = 1\n"                                      /* 26-30 */
	    "[node bad/name]\ncluster = c1\n",                /* 31-32 */
	    &cfg, &cl, &errs), -1);
	config_check_unknown(&cfg, clusters_owns, &errs);
	assert_true(has_error(&errs, "t.conf:2: admin_user without admin_password_file"));
	assert_true(has_error(&errs, "t.conf:3: probe_password_file without probe_user"));
	/* Section-level errors carry the section's line as lib/config records it. */
	assert_true(has_error(&errs, ": cluster empty has no nodes"));
	assert_true(has_error(&errs, "t.conf:6: admin_password_file: "));
	assert_true(has_error(&errs, "t.conf:11: node n2: unknown cluster 'c9'"));
	assert_true(has_error(&errs, "t.conf:15: client: bad address"));
	assert_true(has_error(&errs, "t.conf:18: client: bad host in address '127.000.0.1:11211'"));
	assert_true(has_error(&errs, ": node n5 has no client address"));
	assert_true(has_error(&errs, ": duplicate section [node n1] (first at line "));
	assert_true(has_error(&errs, "t.conf:25: client: bad address (an IPv6 address needs "
				     "brackets"));
	assert_true(has_error(&errs, "t.conf:29: node n7: admin address 127.0.0.1:7000 is its "
				     "client address too"));
	assert_true(has_error(&errs, "t.conf:30: unknown key 'typo' in [node n7]"));
	assert_true(has_error(&errs, ": invalid node name 'bad/name'"));
	/* Secrets never appear in messages. */
	assert_false(has_error(&errs, "probe-pass"));
	assert_int_equal(cl.n, 0); /* left empty on error */
	assert_null(cl.nodes);
	config_errors_release(&errs);
	config_release(&cfg);
}

/* "[node  n1]" names node n1 as "[node n1]" does (lib/config skips the spaces): it is
 * the same section, not a second node of that name. Found by fuzz_cluster. */
static void
a_name_spelt_with_more_spaces_is_still_a_duplicate(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct clusters cl = { 0 };
	(void)state;

	assert_int_equal(load(
	    "[cluster c1]\n"
	    "[node n1]\ncluster = c1\nclient = 127.0.0.1:11211\n"
	    "[node  n1]\ncluster = c1\nclient = 127.0.0.1:11212\n"
	    "[cluster   c1]\n",
	    &cfg, &cl, &errs), -1);
	assert_int_equal(errs.n, 2);
	assert_true(has_error(&errs, "t.conf:5: duplicate section [node n1] (first at line 2)"));
	assert_true(has_error(&errs, "t.conf:8: duplicate section [cluster c1] (first at line 1)"));
	assert_int_equal(cl.n, 0);
	config_errors_release(&errs);
	config_release(&cfg);
}

static void
the_same_address_on_two_nodes_is_an_error(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct clusters cl = { 0 };
	(void)state;

	assert_int_equal(load(
	    "[cluster c1]\ntitle = C1\n"
	    "[node a]\ncluster = c1\nclient = 127.0.0.1:11211\nadmin = [::1]:11311\n"
	    "[node b]\ncluster = c1\nclient = 127.0.0.1:11211\n"
	    "[node c]\ncluster = c1\nclient = 127.0.0.1:11213\nadmin = [0:0::1]:11311\n"
	    "[node d]\ncluster = c1\nclient = [::1]:11311\n",
	    &cfg, &cl, &errs), -1);
	assert_int_equal(errs.n, 3);
	assert_true(has_error(&errs, "t.conf:9: node b: client address 127.0.0.1:11211 is "
				     "already used by node a (client)"));
	/* Two spellings of ::1 are one address. */
	assert_true(has_error(&errs, "t.conf:13: node c: admin address [::1]:11311 is already "
				     "used by node a (admin)"));
	assert_true(has_error(&errs, "t.conf:16: node d: client address [::1]:11311 is "
				     "already used by node a (admin)"));
	config_errors_release(&errs);
	config_release(&cfg);
}

static void
unreadable_secret_is_reported_without_its_content(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct clusters cl = { 0 };
	(void)state;

	assert_int_equal(load(
	    "[cluster c1]\nadmin_user = ops\nadmin_password_file = /nonexistent/ops.pw\n"
	    "[node a]\ncluster = c1\nclient = 127.0.0.1:1\n",
	    &cfg, &cl, &errs), -1);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "t.conf:3: admin_password_file: "));
	assert_non_null(strstr(errs.msgs[0], "/nonexistent/ops.pw"));
	config_errors_release(&errs);
	config_release(&cfg);
}

static void
addresses_parse_and_canonicalise(void **state)
{
	static const struct {
		const char *in;
		const char *text; /* NULL: must fail */
	} cases[] = {
		{ "127.0.0.1:11211", "127.0.0.1:11211" },
		{ "[::1]:1", "[::1]:1" },
		{ "[0:0:0:0:0:0:0:1]:65535", "[::1]:65535" },
		{ "LocalHost:80", "localhost:80" },
		{ "10.1.2.3:0", NULL },
		{ "10.1.2.3:65536", NULL },
		{ "10.1.2.3:+80", NULL },
		{ "10.1.2.3:", NULL },
		{ ":80", NULL },
		{ "10.1.2.3", NULL },
		{ "[::1]", NULL },
		{ "[::1:80", NULL },
		{ "[nope]:80", NULL },
		{ "::1:80", NULL },
		{ "bad_host:80", NULL },
		{ "a..b:80", NULL },
		{ "300.1.1.1:80", NULL },
		{ "host name:80", NULL },
		{ "", NULL },
	};
	struct cluster_addr a;
	char err[256];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cluster_addr_parse(cases[i].in, &a, err, sizeof(err));
		if (cases[i].text != NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(a.text, cases[i].text);
		} else {
			if (rc != -1)
				fail_msg("'%s' was accepted as %s", cases[i].in, a.text);
			assert_non_null(strstr(err, "bad"));
		}
	}
	assert_true(cluster_name_valid("us-east.c1_a"));
	assert_false(cluster_name_valid("a b"));
	assert_false(cluster_name_valid(""));
}

/* [proxy NAME] sections are the cluster's proxies; [node NAME] its backends. They
 * share one name space, and a cluster of proxies alone has nothing behind them. */
static void
proxies_and_backends_share_names_and_a_cluster_needs_a_backend(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct clusters cl = { 0 };

	(void)state;
	assert_int_equal(load("[cluster c1]\n"
	    "[proxy p1]\ncluster = c1\nclient = 127.0.0.1:22122\nadmin = 127.0.0.1:22222\n"
	    "[node n1]\ncluster = c1\nclient = 127.0.0.1:11211\n"
	    "[proxy p2]\ncluster = c1\nclient = 127.0.0.1:22123\n", &cfg, &cl, &errs), 0);
	assert_int_equal(cl.nnodes, 3);
	assert_int_equal(cl.v[0].nnodes, 3);
	assert_int_equal(cl.v[0].nproxies, 2);
	assert_int_equal(clusters_find_node(&cl, "p1")->role, CLUSTER_PROXY);
	assert_int_equal(clusters_find_node(&cl, "n1")->role, CLUSTER_BACKEND);
	assert_string_equal(clusters_find_node(&cl, "p1")->admin.text, "127.0.0.1:22222");
	assert_true(clusters_owns("proxy p1"));
	clusters_release(&cl);
	config_release(&cfg);

	assert_int_equal(load("[cluster c1]\n"
	    "[node x]\ncluster = c1\nclient = 127.0.0.1:11211\n"
	    "[proxy x]\ncluster = c1\nclient = 127.0.0.1:22122\n"
	    "[cluster c2]\n[proxy p9]\ncluster = c2\nclient = 127.0.0.1:22123\n"
	    "[proxy p8]\ncluster = c1\nclient = 127.0.0.1:11211\n", &cfg, &cl, &errs), -1);
	assert_true(has_error(&errs, "t.conf:5: proxy x: the name is taken by node x (line 2)"));
	assert_true(has_error(&errs, "cluster c2 has no nodes (backends) behind its proxies"));
	assert_true(has_error(&errs, "proxy p8: client address 127.0.0.1:11211 is already used "
	    "by node x (client)"));
	config_errors_release(&errs);
	config_release(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loads_clusters_nodes_and_secrets),
		cmocka_unit_test(every_topology_error_names_its_line),
		cmocka_unit_test(the_same_address_on_two_nodes_is_an_error),
		cmocka_unit_test(a_name_spelt_with_more_spaces_is_still_a_duplicate),
		cmocka_unit_test(unreadable_secret_is_reported_without_its_content),
		cmocka_unit_test(addresses_parse_and_canonicalise),
		cmocka_unit_test(proxies_and_backends_share_names_and_a_cluster_needs_a_backend),
	};

	return cmocka_run_group_tests(tests, setup_secrets, teardown_secrets);
}
