/*
 * Unit tests of component groups and an incident's public impact on the status site
 * (lib/statussite): `group = NAME` in [component] and [cluster] and its errors, the
 * Statuspage v2 shape of a group and its members (exact fields), the page's group
 * headings with the worst member's status in words, a page without groups as before,
 * the public share of an incident's impact (rounded, not shown for a cluster with few
 * tenants, never a name), and the index's size budget: 4 groups of 4 components, 90
 * days of incidents, under 14 KB gzipped (one first round trip).
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
#include <zlib.h>

#include "statussite/statussite.h"
#include "lib/statussite/render.h" /* the renderers, tested one by one */

#define DAY MODEL_DAY_MS
#define HOUR (3600LL * 1000)
#define T0 1795132800000LL /* 2026-11-20 00:00:00 UTC */
#define INDEX_GZIP_BUDGET (14 * 1024)

static struct sp_config *
load_conf(const char *text, int expect_rc, struct config_errors *errs)
{
	struct sp_config *sp = calloc(1, sizeof(*sp));
	struct config cfg = { 0 };

	assert_non_null(sp);
	assert_int_equal(config_load_string(&cfg, "test.conf", text, errs), 0);
	assert_int_equal(spconfig_load(&cfg, sp, true, errs), expect_rc);
	config_release(&cfg);
	return sp;
}

static const char *const regions[] = { "Europe (Frankfurt)", "US East (Virginia)",
	"Asia Pacific (Tokyo)", "South America (S\xc3\xa3o Paulo)" };

/* 4 regions of 4 clusters each: c0..c15, "Region cN". */
static char *
grouped_conf(void)
{
	char *text = malloc(16384);
	size_t o = 0, i;

	assert_non_null(text);
	o += (size_t)snprintf(text + o, 16384 - o, "[statuspage]\ndir = d\nname = Example "
	    "Cache\nurl = https://status.example.com/\n");
	for (i = 0; i < 16; i++)
		o += (size_t)snprintf(text + o, 16384 - o, "[cluster c%zu]\ntitle = Cluster "
		    "C%zu\n[component c%zu]\ntitle = Cache C%zu\ngroup = %s\n", i, i, i, i,
		    regions[i / 4]);
	return text;
}

static struct ilog_incident
incident(int64_t id, const char *kind, const char *cluster, enum ilog_severity sev,
    int64_t opened, int64_t resolved)
{
	struct ilog_incident in;

	memset(&in, 0, sizeof(in));
	in.id = id;
	snprintf(in.kind, sizeof(in.kind), "%s", kind);
	snprintf(in.cluster, sizeof(in.cluster), "%s", cluster);
	snprintf(in.node, sizeof(in.node), "node-secret-7");
	in.severity = sev;
	in.opened_at = opened;
	in.state = resolved ? ILOG_STATE_RESOLVED : ILOG_STATE_OPEN;
	in.resolved_at = resolved;
	return in;
}

static void
group_in_component_and_cluster_sections_is_read(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp;
	const char *names[SP_GROUPS_MAX];
	char *text = grouped_conf(), id[SP_GROUP_ID_MAX + 1];

	(void)state;
	sp = load_conf(text, 0, &errs);
	assert_int_equal(sp->ncomps, 16);
	assert_string_equal(sp->comps[5].group, "US East (Virginia)");
	assert_int_equal(spconfig_groups(sp, names, SP_GROUPS_MAX), 4);
	assert_string_equal(names[3], regions[3]);
	spconfig_group_id(names[0], id, sizeof(id));
	assert_string_equal(id, "group-europe-frankfurt");
	spconfig_group_id(names[3], id, sizeof(id));
	assert_string_equal(id, "group-south-america-s-o-paulo");
	assert_string_equal(spconfig_cluster_title(sp, "c3"), "Cluster C3");
	assert_string_equal(spconfig_cluster_title(sp, "c99"), "c99");
	free(sp);
	free(text);

	/* The default page: a cluster's group is its component's. */
	sp = load_conf("[statuspage]\ndir = d\n[cluster c1]\ntitle = EU C1\ngroup = Europe\n"
		       "[cluster c2]\n", 0, &errs);
	assert_int_equal(sp->ncomps, 2);
	assert_string_equal(sp->comps[0].group, "Europe");
	assert_string_equal(sp->comps[1].group, "");
	assert_string_equal(spconfig_cluster_title(sp, "c1"), "EU C1");
	free(sp);
	assert_int_equal(errs.n, 0);
	config_errors_release(&errs);
}

static void
too_many_groups_and_ids_that_collide_are_config_errors(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp;
	char text[8192];
	size_t o = 0, i;

	(void)state;
	o += (size_t)snprintf(text + o, sizeof(text) - o, "[statuspage]\ndir = d\n");
	for (i = 0; i <= SP_GROUPS_MAX; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "[cluster c%zu]\ngroup = "
		    "Region %zu\n", i, i);
	sp = load_conf(text, -1, &errs);
	free(sp);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "more than 16 component groups"));
	config_errors_release(&errs);

	/* Two names, one id; an id that is a component's; a name without a letter. */
	memset(&errs, 0, sizeof(errs));
	sp = load_conf("[statuspage]\ndir = d\n[component a]\ngroup = EU west\n"
		       "[component b]\ngroup = EU-West\n[component group-x]\ngroup = X\n"
		       "[component c]\ngroup = ()\n", -1, &errs);
	free(sp);
	assert_int_equal(errs.n, 3);
	assert_non_null(strstr(errs.msgs[0], "'EU west' and 'EU-West' have one id"));
	assert_non_null(strstr(errs.msgs[1], "its id group-x is a component's"));
	assert_non_null(strstr(errs.msgs[2], "needs a letter or digit"));
	config_errors_release(&errs);

	/* A group is a one-line public name. */
	memset(&errs, 0, sizeof(errs));
	sp = load_conf("[statuspage]\ndir = d\n[cluster c1]\ngroup = Caf\xe9\n", -1, &errs);
	free(sp);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "group"));
	config_errors_release(&errs);
}

/* The keys of o, sorted, joined by ','. */
static void
keys_of(json_t *o, char *buf, size_t len)
{
	const char *k[32];
	size_t n = 0, i, j, off = 0;
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		(void)v;
		k[n++] = key;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(k[j - 1], k[j]) > 0; j--) {
			const char *x = k[j];
			k[j] = k[j - 1];
			k[j - 1] = x;
		}
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", k[i]);
}

static void
json_has_groups_as_statuspage_components_with_their_members(void **state)
{
	struct config_errors errs = { 0 };
	char *text = grouped_conf(), keys[1024], err[256];
	struct sp_config *sp = load_conf(text, 0, &errs);
	struct ilog_incident inc = incident(1, "latency_tail", "c5", ILOG_SEVERITY_MAJOR,
	    T0 - HOUR, 0);
	struct textbuf b = { 0 };
	struct model m;
	json_t *doc, *comps, *c, *g;
	size_t i, ngroups = 0;

	(void)state;
	assert_int_equal(model_build(&m, sp, &inc, 1, NULL, T0 - 10 * DAY, T0, err,
	    sizeof(err)), 0);
	assert_int_equal(render_json(&m, RENDER_COMPONENTS, &b), 0);
	doc = json_loads(b.data, 0, NULL);
	assert_non_null(doc);
	comps = json_object_get(doc, "components");
	assert_int_equal(json_array_size(comps), 16 + 4);
	c = json_array_get(comps, 5);
	assert_string_equal(json_string_value(json_object_get(c, "id")), "c5");
	assert_string_equal(json_string_value(json_object_get(c, "group_id")),
	    "group-us-east-virginia");
	assert_false(json_is_true(json_object_get(c, "group")));
	assert_true(json_is_string(json_object_get(json_array_get(comps, 0), "group_id")));
	g = json_array_get(comps, 17);
	keys_of(g, keys, sizeof(keys));
	assert_string_equal(keys, "components,created_at,description,group,group_id,id,"
	    "name,only_show_if_degraded,page_id,position,showcase,start_date,status,updated_at");
	assert_string_equal(json_string_value(json_object_get(g, "id")), "group-us-east-virginia");
	assert_string_equal(json_string_value(json_object_get(g, "name")), "US East (Virginia)");
	assert_true(json_is_true(json_object_get(g, "group")));
	assert_true(json_is_null(json_object_get(g, "group_id")));
	assert_int_equal(json_integer_value(json_object_get(g, "position")), 18);
	/* Its status is its worst member's: c5 is in a partial outage. */
	assert_string_equal(json_string_value(json_object_get(g, "status")), "partial_outage");
	assert_int_equal(json_array_size(json_object_get(g, "components")), 4);
	for (i = 0; i < 4; i++) {
		char want[8];

		snprintf(want, sizeof(want), "c%zu", 4 + i);
		assert_string_equal(json_string_value(json_array_get(json_object_get(g,
		    "components"), i)), want);
	}
	for (i = 0; i < json_array_size(comps); i++)
		ngroups += json_is_true(json_object_get(json_array_get(comps, i), "group"));
	assert_int_equal(ngroups, 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(comps, 16),
	    "status")), "operational");
	json_decref(doc);

	/* summary.json lists the same; an incident's components are its own only. */
	textbuf_reset(&b);
	assert_int_equal(render_json(&m, RENDER_SUMMARY, &b), 0);
	doc = json_loads(b.data, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "components")), 20);
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(doc,
	    "incidents"), 0), "components")), 1);
	json_decref(doc);

	/* The page: the region's heading says its worst member's status in words. */
	textbuf_reset(&b);
	assert_int_equal(render_index_html(&m, &b), 0);
	assert_non_null(strstr(b.data, "<section class=\"grp\"><h3>US East (Virginia) <span "
	    "class=\"st s2\">Partial outage</span></h3>"));
	assert_non_null(strstr(b.data, "<section class=\"grp\"><h3>Europe (Frankfurt) <span "
	    "class=\"st s0\">Operational</span></h3>"));
	assert_true(strstr(b.data, "Cache C4") > strstr(b.data, "US East (Virginia)"));
	assert_true(strstr(b.data, "Cache C4") < strstr(b.data, "Asia Pacific"));
	textbuf_release(&b);
	model_release(&m);
	free(sp);
	free(text);
	config_errors_release(&errs);
}

static void
a_page_without_groups_has_no_group_and_null_group_ids(void **state)
{
	struct config_errors errs = { 0 };
	struct sp_config *sp = load_conf("[statuspage]\ndir = d\n[cluster c1]\n[cluster c2]\n",
	    0, &errs);
	struct textbuf b = { 0 };
	struct model m;
	char err[256];
	json_t *doc, *comps;
	size_t i;

	(void)state;
	assert_int_equal(model_build(&m, sp, NULL, 0, NULL, T0 - DAY, T0, err, sizeof(err)), 0);
	assert_int_equal(render_json(&m, RENDER_COMPONENTS, &b), 0);
	doc = json_loads(b.data, 0, NULL);
	comps = json_object_get(doc, "components");
	assert_int_equal(json_array_size(comps), 2);
	for (i = 0; i < 2; i++) {
		assert_true(json_is_null(json_object_get(json_array_get(comps, i), "group_id")));
		assert_true(json_is_false(json_object_get(json_array_get(comps, i), "group")));
		assert_null(json_object_get(json_array_get(comps, i), "components"));
	}
	json_decref(doc);
	textbuf_reset(&b);
	assert_int_equal(render_index_html(&m, &b), 0);
	assert_null(strstr(b.data, "<section class=\"grp\">"));
	textbuf_release(&b);
	model_release(&m);
	free(sp);
	config_errors_release(&errs);
}

static void
impact_goes_public_rounded_only_with_enough_tenants(void **state)
{
	(void)state;
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":3,\"of\":10,"
	    "\"percent\":30}}"), 30);
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":2,\"of\":7}}"), 30);
	/* An opened event holds the evidence in "evidence". */
	assert_int_equal(model_impact_public("{\"severity\":\"major\",\"evidence\":"
	    "{\"impact\":{\"tenants\":2,\"of\":7}}}"), 30);
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":1,\"of\":6}}"), 20);
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":1,\"of\":100}}"), 10);
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":20,\"of\":20}}"), 100);
	/* Four tenants: a share would tell each one about the others. */
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":1,\"of\":4}}"), -1);
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":0,\"of\":40}}"), -1);
	assert_int_equal(model_impact_public("{\"impact\":{\"tenants\":9,\"of\":8}}"), -1);
	assert_int_equal(model_impact_public("{\"node\":\"p1\"}"), -1);
	assert_int_equal(model_impact_public("not json"), -1);
}

static void
impact_is_said_in_the_first_update_the_json_and_the_page(void **state)
{
	struct config_errors errs = { 0 };
	char *text = grouped_conf(), err[256];
	struct sp_config *sp = load_conf(text, 0, &errs);
	struct ilog_incident inc = incident(3, "node_down", "c2", ILOG_SEVERITY_MAJOR,
	    T0 - HOUR, 0);
	struct textbuf b = { 0 };
	struct model m;
	json_t *doc;

	(void)state;
	assert_int_equal(model_build(&m, sp, &inc, 1, NULL, T0 - DAY, T0, err, sizeof(err)), 0);
	assert_int_equal(m.incidents[0].impact_percent, -1);
	assert_int_equal(model_set_impact(&m, &m.incidents[0], "c2", 30, 40), 0);
	assert_int_equal(m.incidents[0].impact_percent, 40);
	assert_string_equal(m.incidents[0].impact_text, "about 40% of caches in Cluster C2");
	assert_non_null(strstr(m.incidents[0].updates[0].body,
	    "Some requests may fail or miss the cache. It affects about 30% of caches in "
	    "Cluster C2."));
	assert_int_equal(render_json(&m, RENDER_INCIDENTS, &b), 0);
	doc = json_loads(b.data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc,
	    "incidents"), 0), "customer_impact")), "about 40% of caches in Cluster C2");
	json_decref(doc);
	textbuf_reset(&b);
	assert_int_equal(render_incident_html(&m, &m.incidents[0], &b), 0);
	assert_non_null(strstr(b.data, "<p>About 40% of caches in Cluster C2 are affected.</p>"));
	assert_null(strstr(b.data, "node-secret"));
	textbuf_release(&b);
	model_release(&m);

	/* Unknown: null in the JSON, nothing on the page. */
	assert_int_equal(model_build(&m, sp, &inc, 1, NULL, T0 - DAY, T0, err, sizeof(err)), 0);
	assert_int_equal(render_json(&m, RENDER_INCIDENTS, &b), 0);
	doc = json_loads(b.data, 0, NULL);
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(doc,
	    "incidents"), 0), "customer_impact")));
	json_decref(doc);
	textbuf_release(&b);
	model_release(&m);
	free(sp);
	free(text);
	config_errors_release(&errs);
}

static size_t
gzipped_size(const char *data, size_t len)
{
	z_stream z;
	unsigned char *out = malloc(len + 1024);
	size_t n;

	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)(len + 1024);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = z.total_out;
	deflateEnd(&z);
	free(out);
	return n;
}

/*
 * The realistic worst: 16 clusters in 4 regions, an incident somewhere nearly every day
 * for 90 days (every component's bars carry detail text), three active incidents with
 * several public updates and an impact, and twenty past incidents listed.
 */
static void
index_with_groups_maintenances_the_form_and_90_days_stays_under_14k_gzipped(void **state)
{
	struct config_errors errs = { 0 };
	char *text = grouped_conf(), err[256], id[32];
	struct sp_config *sp = load_conf(text, 0, &errs);
	static const char *const kinds[] = { "latency_tail", "node_down", "connection_storm" };
	struct ilog_incident *inc = calloc(400, sizeof(*inc));
	struct ilog_public_entries *pubs = calloc(400, sizeof(*pubs));
	struct textbuf b = { 0 };
	struct model m;
	size_t n = 0, i, u, gz;
	int64_t now = T0 + 13 * HOUR;

	(void)state;
	assert_non_null(inc);
	assert_non_null(pubs);
	/* The subscribe form too, with a box per component and the webhook field. */
	snprintf(sp->link_url, sizeof(sp->link_url), "https://status.example.com/");
	sp->subscribe_webhooks = SP_WEBHOOKS_HTTPS;
	for (i = 0; i < 90 * 3; i++) { /* three a day, 30 to 90 minutes each */
		int64_t opened = now - 90 * DAY + (int64_t)i * 8 * HOUR + (int64_t)(i % 7) * HOUR;

		snprintf(id, sizeof(id), "c%zu", (i * 7) % 16);
		inc[n] = incident((int64_t)n + 1, kinds[i % 3], id, (enum ilog_severity)(i % 3 + 1),
		    opened, opened + (int64_t)(30 + (i % 4) * 20) * 60000);
		n++;
	}
	for (i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "c%zu", i * 5);
		inc[n] = incident((int64_t)n + 1, kinds[i], id, ILOG_SEVERITY_MAJOR,
		    now - (int64_t)(i + 1) * HOUR, 0);
		pubs[n].v = calloc(4, sizeof(*pubs[n].v));
		assert_non_null(pubs[n].v);
		for (u = 0; u < 4; u++) {
			struct ilog_public_entry *e = &pubs[n].v[pubs[n].n++];

			e->id = (int64_t)(n * 10 + u);
			e->at = inc[n].opened_at + (int64_t)(u + 1) * 600000;
			e->status = u < 2 ? ILOG_PUBLIC_IDENTIFIED : ILOG_PUBLIC_MONITORING;
			snprintf(e->message, sizeof(e->message), "We have identified the cause: a "
			    "network device in the region dropped connections between the cache "
			    "nodes and the proxies. Traffic has been moved to the other path and we "
			    "are watching the error rates return to normal (update %zu).", u + 1);
		}
		n++;
	}
	assert_int_equal(model_build(&m, sp, inc, n, pubs, now - 120 * DAY, now, err,
	    sizeof(err)), 0);
	for (i = 0; i < m.nincidents; i++)
		if (m.incidents[i].active)
			assert_int_equal(model_set_impact(&m, &m.incidents[i], "c5", 30, 30), 0);
	/* As many maintenances as the index shows (one running, the rest upcoming), each
	 * with a message of a few sentences. */
	{
		struct ilog_maintenance mt[INDEX_MAINTENANCES_MAX];

		memset(mt, 0, sizeof(mt));
		for (i = 0; i < INDEX_MAINTENANCES_MAX; i++) {
			mt[i].id = (int64_t)i + 1;
			mt[i].kind = ILOG_MAINT_PUBLIC;
			snprintf(mt[i].cluster, sizeof(mt[i].cluster), "c%zu", i);
			snprintf(mt[i].title, sizeof(mt[i].title), "Upgrade of the cache nodes "
			    "and their network in region %zu", i);
			snprintf(mt[i].message, sizeof(mt[i].message), "We are replacing the "
			    "network switches of this region. Connections may be reset once "
			    "during the window; clients reconnect by themselves.");
			mt[i].starts_at = i == 0 ? now - HOUR : now + (int64_t)i * DAY;
			mt[i].ends_at = mt[i].starts_at + 2 * HOUR;
			mt[i].created_at = now - 2 * DAY;
		}
		assert_int_equal(model_add_maintenances(&m, mt, INDEX_MAINTENANCES_MAX, err,
		    sizeof(err)), 0);
		assert_int_equal(m.nmaints, INDEX_MAINTENANCES_MAX);
	}
	assert_int_equal(render_index_html(&m, &b), 0);
	assert_non_null(strstr(b.data, "Scheduled maintenance"));
	assert_non_null(strstr(b.data, "<form method=\"post\""));
	gz = gzipped_size(b.data, b.len);
	printf("index.html: %zu bytes, %zu gzipped (budget %d)\n", b.len, gz, INDEX_GZIP_BUDGET);
	assert_true(gz < INDEX_GZIP_BUDGET);
	textbuf_release(&b);
	model_release(&m);
	for (i = 0; i < n; i++)
		free(pubs[i].v);
	free(pubs);
	free(inc);
	free(sp);
	free(text);
	config_errors_release(&errs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(group_in_component_and_cluster_sections_is_read),
		cmocka_unit_test(too_many_groups_and_ids_that_collide_are_config_errors),
		cmocka_unit_test(json_has_groups_as_statuspage_components_with_their_members),
		cmocka_unit_test(a_page_without_groups_has_no_group_and_null_group_ids),
		cmocka_unit_test(impact_goes_public_rounded_only_with_enough_tenants),
		cmocka_unit_test(impact_is_said_in_the_first_update_the_json_and_the_page),
		cmocka_unit_test(index_with_groups_maintenances_the_form_and_90_days_stays_under_14k_gzipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
