/*
 * admin — see admin.h.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "adminport.h"
#include "mcclient.h"
#include "mctl.h"
#include "parse.h"

int
mctl_topology_load(const struct mctl *ctx, struct mctl_topology *t)
{
	struct config_errors errs = { 0 };
	size_t i;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (config_load(&t->cfg, ctx->config_path, &errs) != 0 ||
	    clusters_load(&t->cl, &t->cfg, &errs) != 0 || errs.n > 0) {
		rc = -1;
		config_release(&t->cfg);
	}
	for (i = 0; i < errs.n; i++)
		mctl_error("%s", errs.msgs[i]);
	if (errs.dropped > 0)
		mctl_error("(%zu more configuration errors)", errs.dropped);
	config_errors_release(&errs);
	if (rc != 0)
		clusters_release(&t->cl);
	return rc;
}

void
mctl_topology_release(struct mctl_topology *t)
{
	clusters_release(&t->cl);
	config_release(&t->cfg);
}

bool
mctl_takes_clients(const struct clusters *cl, const struct cluster_node *n)
{
	return cluster_takes_clients(cl, n);
}

const char *
mctl_role_noun(const struct clusters *cl, const struct cluster_node *n, bool plural)
{
	if (n->role == CLUSTER_PROXY)
		return plural ? "proxies" : "proxy";
	if (cl->v[n->cluster].nproxies > 0)
		return plural ? "backends" : "backend";
	return plural ? "nodes" : "node";
}

void
mctl_role_names(const struct clusters *cl, const struct cluster *c, enum cluster_role role,
    char *buf, size_t len)
{
	size_t i, off = 0;
	int w;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < cl->nnodes; i++) {
		const struct cluster_node *n = &cl->nodes[i];
		if (&cl->v[n->cluster] != c || n->role != role)
			continue;
		w = snprintf(buf + off, len - off, "%s%s", off > 0 ? ", " : "", n->name);
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
}

int
mctl_admin_keys(const struct cluster *c, const struct cluster_node *n, enum connstats_group g,
    int64_t timeout_ms, struct mctl_node_keys *out, char *err, size_t errlen)
{
	struct mcclient_stats st = { 0 };
	struct mcclient mc;
	struct connstats_entry *e;
	enum connstats_group lg;
	enum connstats_field f;
	const char *key;
	char args[64];
	size_t i, klen;
	uint64_t v;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	snprintf(args, sizeof(args), "%s top %d", g == CONNSTATS_TENANT ? "tenants" : "sources",
	    MCTL_KEYS_FETCH);
	if (adminport_connect(c, n, timeout_ms, &mc, err, errlen) < 0)
		return -1;
	if (mcclient_stats(&mc, args, &st, err, errlen) != MCCLIENT_OK)
		goto out;
	for (i = 0; i < st.n; i++) {
		const char *name = st.v[i].name, *value = st.v[i].value;
		if (connstats_line(name, strlen(name), value, strlen(value), &lg, &key, &klen, &f,
		    &v)) {
			if (lg == g && (e = connstats_entry(out->v, &out->n, MCTL_KEYS_FETCH, key,
			    klen)) != NULL)
				e->v[f] = v;
			continue;
		}
		if (parse_u64(value, 0, UINT64_MAX, &v) != 0)
			continue;
		if (g == CONNSTATS_TENANT && strcmp(name, "tenants_other:curr_connections") == 0)
			out->other_curr = v;
		else if (g == CONNSTATS_TENANT &&
		    strcmp(name, "tenants_other:total_connections") == 0)
			out->other_new = v;
		else if (g == CONNSTATS_SOURCE && strcmp(name, "sources_other:new_conns") == 0)
			out->other_new = v;
	}
	rc = 0;
out:
	mcclient_stats_release(&st);
	mcclient_close(&mc);
	return rc;
}
