/*
 * suggest — see suggest.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cluster.h"
#include "suggest.h"
#include "tenants.h"

/* What each kind's runbook allows from chat; kinds not listed get nothing. */
struct kind_rules {
	const char *kind;
	bool rebalance;
	bool limit_tenant;
	bool flush_tenant;
};

static const struct kind_rules rules[] = {
	{ "connection_storm", true, true, true }, /* runbook steps 6 and 7; who.c's remedy */
	{ "proxy_storm", true, true, false },     /* proxies admit the tenant's logins; a
	                                             proxy holds no data */
	{ "latency_tail", true, false, false },   /* "flushing does not fix latency" */
	{ "manual", true, true, true },
};

static const struct kind_rules *
rules_of(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rules[i].kind, kind) == 0)
			return &rules[i];
	return NULL;
}

/* The evidence object of a body: its "evidence" member, else the body. Borrowed. */
static json_t *
evidence_of(json_t *body)
{
	json_t *e = json_object_get(body, "evidence");

	return json_is_object(e) ? e : body;
}

static double
number(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : -1.0;
}

size_t
suggest_derive(const struct ilog_incident *inc, const char *evidence_json,
    uint64_t conn_rate, struct ilog_remedy *out, size_t max)
{
	const struct kind_rules *r = rules_of(inc->kind);
	json_t *body, *who, *v, *t0;
	const char *node = NULL, *tenant = NULL;
	double share;
	size_t n = 0;

	if (r == NULL || evidence_json == NULL || inc->cluster[0] == '\0' ||
	    !cluster_name_valid(inc->cluster))
		return 0;
	if ((body = json_loads(evidence_json, 0, NULL)) == NULL)
		return 0;
	if (!json_is_object(body) || !json_is_object(who = json_object_get(evidence_of(body),
	    "who"))) {
		json_decref(body);
		return 0;
	}
	v = json_object_get(who, "busiest_node");
	share = number(json_object_get(who, "busiest_share"));
	if (json_is_string(v) && cluster_name_valid(json_string_value(v)) &&
	    share >= SUGGEST_REBALANCE_SHARE && share <= 1.0)
		node = json_string_value(v);
	t0 = json_array_get(json_object_get(who, "tenants"), 0);
	v = json_object_get(t0, "name");
	if (json_is_string(v) && tenant_name_valid(json_string_value(v),
	    strlen(json_string_value(v))) && strlen(json_string_value(v)) <= ILOG_NAME_MAX &&
	    number(json_object_get(t0, "share")) >= SUGGEST_DOMINANT_SHARE)
		tenant = json_string_value(v);

	if (r->rebalance && node != NULL && n < max) {
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].verb, sizeof(out[n].verb), "rebalance");
		snprintf(out[n].cluster, sizeof(out[n].cluster), "%s", inc->cluster);
		snprintf(out[n].sentence, sizeof(out[n].sentence),
		    "rebalance %s — %s holds %.0f%% of the cluster's connections", inc->cluster,
		    node, share * 100.0);
		n++;
	}
	if (r->limit_tenant && tenant != NULL && conn_rate >= 1 &&
	    conn_rate <= TENANT_CONN_LIMIT_MAX && n < max) {
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].verb, sizeof(out[n].verb), "connlimit");
		snprintf(out[n].cluster, sizeof(out[n].cluster), "%s", inc->cluster);
		snprintf(out[n].tenant, sizeof(out[n].tenant), "%s", tenant);
		out[n].arg = (int64_t)conn_rate;
		snprintf(out[n].sentence, sizeof(out[n].sentence),
		    "limit tenant %s's new connections to %llu/s on %s — it has %.0f%% of new "
		    "connections", tenant, (unsigned long long)conn_rate, inc->cluster,
		    number(json_object_get(t0, "share")) * 100.0);
		n++;
	}
	if (r->flush_tenant && tenant != NULL && n < max) {
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].verb, sizeof(out[n].verb), "flush");
		snprintf(out[n].cluster, sizeof(out[n].cluster), "%s", inc->cluster);
		snprintf(out[n].tenant, sizeof(out[n].tenant), "%s", tenant);
		snprintf(out[n].sentence, sizeof(out[n].sentence),
		    "flush tenant %s on %s — only if its data is implicated (it has %.0f%% of "
		    "new connections)", tenant, inc->cluster,
		    number(json_object_get(t0, "share")) * 100.0);
		n++;
	}
	json_decref(body);
	return n;
}
