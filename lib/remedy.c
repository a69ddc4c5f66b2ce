/*
 * remedy — see remedy.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminport.h"
#include "clock.h"
#include "errbuf.h"
#include "ilog.h"
#include "mcclient.h"
#include "remedy.h"

const char *
remedy_verb_name(enum remedy_verb v)
{
	static const char *const verbs[] = { "flush", "drain", "rebalance", "connlimit" };

	return verbs[v];
}

const char *
remedy_event_type(enum remedy_verb v)
{
	static const char *const events[] = { ILOG_EV_FLUSH, ILOG_EV_DRAIN, ILOG_EV_REBALANCE,
		ILOG_EV_CONNLIMIT };

	return events[v];
}

bool
remedy_acts_on(const struct clusters *cl, const struct cluster_node *n, enum remedy_verb v)
{
	return v == REMEDY_FLUSH ? n->role == CLUSTER_BACKEND : cluster_takes_clients(cl, n);
}

enum remedy_status
remedy_prepare(struct remedy *r, const struct clusters *cl, const struct remedy_request *req)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	r->req = *req;
	if (r->req.timeout_ms <= 0)
		r->req.timeout_ms = REMEDY_TIMEOUT_MS;
	r->cl = cl;
	r->targets = calloc(cl->nnodes + 1, sizeof(*r->targets));
	r->res = calloc(cl->nnodes + 1, sizeof(*r->res));
	if (r->targets == NULL || r->res == NULL)
		return REMEDY_NOMEM;
	if (req->node != NULL) {
		const struct cluster_node *node = clusters_find_node(cl, req->node);
		if (node == NULL)
			return REMEDY_NO_NODE;
		r->c = &cl->v[node->cluster];
		if (!remedy_acts_on(cl, node, req->verb))
			return REMEDY_WRONG_LAYER;
		r->targets[r->n++] = node;
	} else if (req->verb == REMEDY_CONNLIMIT && req->cluster == NULL) {
		/* The file only: no node is told. */
	} else {
		if ((r->c = clusters_find(cl, req->cluster != NULL ? req->cluster : "")) == NULL)
			return REMEDY_NO_CLUSTER;
		for (i = 0; i < cl->nnodes; i++) {
			if (&cl->v[cl->nodes[i].cluster] == r->c &&
			    remedy_acts_on(cl, &cl->nodes[i], req->verb))
				r->targets[r->n++] = &cl->nodes[i];
		}
	}
	for (i = 0; i < r->n; i++) {
		r->res[i].node = r->targets[i];
		r->res[i].shed = req->verb == REMEDY_REBALANCE ? req->shed : 0;
	}
	return REMEDY_OK;
}

void
remedy_plan(struct remedy *r)
{
	const struct clusters *cl = r->cl;
	uint64_t sum = 0, mean;
	size_t known = 0, i, t;

	if (r->req.verb != REMEDY_REBALANCE || r->req.shed != 0)
		return;
	for (i = 0; i < cl->nnodes; i++) {
		struct adminport_conns conns;
		char err[REMEDY_ERR_MAX];
		int got;
		if (&cl->v[cl->nodes[i].cluster] != r->c || !cluster_takes_clients(cl, &cl->nodes[i]))
			continue;
		got = adminport_conns(r->c, &cl->nodes[i], r->req.timeout_ms, &conns, err,
		    sizeof(err));
		if (got == 0) {
			sum += conns.clients;
			known++;
		}
		for (t = 0; t < r->n; t++) {
			if (r->targets[t] != &cl->nodes[i])
				continue;
			if (got == 0)
				r->res[t].connections = conns.clients;
			else
				snprintf(r->res[t].error, sizeof(r->res[t].error), "%s", err);
		}
	}
	mean = known > 0 ? (sum + known - 1) / known : 0;
	for (i = 0; i < r->n; i++) {
		if (r->res[i].connections > mean)
			r->res[i].shed = r->res[i].connections - mean;
	}
}

enum tenants_edit_status
remedy_connlimit_apply(struct remedy *r, char *err, size_t errlen)
{
	enum tenants_edit_status st;
	size_t i;

	if (r->req.verb != REMEDY_CONNLIMIT)
		return TENANTS_EDIT_OK;
	st = tenants_edit_connlimit(r->req.tenants_path != NULL ? r->req.tenants_path : "",
	    r->req.tenant != NULL ? r->req.tenant : "", &r->req.limits, &r->limits, err, errlen);
	if (st == TENANTS_EDIT_OK) {
		r->applied = true;
		return st;
	}
	for (i = 0; i < r->n; i++)
		snprintf(r->res[i].error, sizeof(r->res[i].error),
		    "not reloaded: the tenants file was not changed");
	return st;
}

/* Acts on one node: the admin command and its "OK". */
static void
act(const struct remedy *r, size_t i, struct remedy_result *out)
{
	char line[MCCLIENT_LINE_MAX + 1], err[REMEDY_ERR_MAX];
	struct mcclient mc;
	const char *last = NULL;

	switch (r->req.verb) {
	case REMEDY_FLUSH:
		if (r->req.tenant != NULL)
			snprintf(line, sizeof(line), "flush_tenant %s", r->req.tenant);
		else
			snprintf(line, sizeof(line), "flush_all");
		break;
	case REMEDY_DRAIN:
		snprintf(line, sizeof(line), "drain %s", r->req.drain_on ? "on" : "off");
		break;
	case REMEDY_REBALANCE:
		if (out->shed == 0) { /* at or below the mean: nothing to close */
			out->ok = true;
			return;
		}
		snprintf(line, sizeof(line), "shed %llu", (unsigned long long)out->shed);
		break;
	case REMEDY_CONNLIMIT:
		/* What SIGHUP does: the node re-reads the tenants file, keeping the running
		 * one if the new one is invalid (then it answers SERVER_ERROR). */
		if (!r->applied) {
			snprintf(out->error, sizeof(out->error),
			    "not reloaded: the tenants file was not changed");
			return;
		}
		snprintf(line, sizeof(line), "reload");
		break;
	}
	if (adminport_connect(r->c, r->targets[i], r->req.timeout_ms, &mc, out->error,
	    sizeof(out->error)) < 0)
		return;
	if (mcclient_command(&mc, line, NULL, &last, err, sizeof(err)) != MCCLIENT_OK)
		snprintf(out->error, sizeof(out->error), "%s", err);
	else if (strcmp(last, "OK") != 0)
		snprintf(out->error, sizeof(out->error), "%s: unexpected reply '%s'", mc.addr, last);
	else
		out->ok = true;
	mcclient_close(&mc);
}

void
remedy_run_node(struct remedy *r, size_t i)
{
	struct remedy_result *out = &r->res[i];
	int64_t t0 = clock_monotonic_ms();

	out->ok = false;
	if (out->error[0] == '\0') {
		act(r, i, out);
		out->ms = clock_monotonic_ms() - t0;
	}
	if (!out->ok)
		r->failed++;
}

json_t *
remedy_event_body(const struct remedy *r)
{
	const struct remedy_request *o = &r->req;
	json_t *nodes = json_array(), *body;
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct remedy_result *res = &r->res[i];
		json_t *j = json_pack("{s:s, s:s, s:b, s:I}", "node", res->node->name,
		    "admin", res->node->admin.port != 0 ? res->node->admin.text : "",
		    "ok", res->ok, "ms", (json_int_t)res->ms);
		if (j != NULL)
			json_object_set_new(j, "role", json_string(res->node->role ==
			    CLUSTER_PROXY ? "proxy" : "backend"));
		if (j != NULL && !res->ok)
			json_object_set_new(j, "error", json_string(res->error));
		if (j != NULL && o->verb == REMEDY_REBALANCE) {
			json_object_set_new(j, "connections", json_integer((json_int_t)res->connections));
			json_object_set_new(j, "shed", json_integer((json_int_t)res->shed));
		}
		json_array_append_new(nodes, j);
	}
	body = json_pack("{s:s, s:o, s:o, s:I, s:I}",
	    "scope", o->cluster != NULL ? "cluster" : o->node != NULL ? "node" : "file",
	    "cluster", r->c != NULL ? json_string(r->c->name) : json_null(),
	    "nodes", nodes,
	    "done", (json_int_t)(r->n - r->failed),
	    "failed", (json_int_t)r->failed);
	if (body == NULL)
		return NULL;
	switch (o->verb) {
	case REMEDY_FLUSH:
		json_object_set_new(body, "tenant",
		    o->tenant != NULL ? json_string(o->tenant) : json_null());
		json_object_set_new(body, "flushed", json_integer((json_int_t)(r->n - r->failed)));
		break;
	case REMEDY_DRAIN:
		json_object_set_new(body, "drain", json_string(o->drain_on ? "on" : "off"));
		break;
	case REMEDY_REBALANCE:
		json_object_set_new(body, "shed", o->shed != 0 ?
		    json_integer((json_int_t)o->shed) : json_string("to the mean"));
		break;
	case REMEDY_CONNLIMIT:
		json_object_set_new(body, "tenant", json_string(o->tenant != NULL ? o->tenant : ""));
		json_object_set_new(body, "file", json_string(o->tenants_path != NULL ?
		    o->tenants_path : ""));
		json_object_set_new(body, "applied", json_boolean(r->applied));
		if (r->applied) {
			json_object_set_new(body, "max_connections",
			    json_integer(r->limits.max_conns));
			json_object_set_new(body, "new_per_second",
			    json_integer(r->limits.conn_rate));
			json_object_set_new(body, "before", json_pack("{s:I, s:I}",
			    "max_connections", (json_int_t)r->limits.max_conns_before,
			    "new_per_second", (json_int_t)r->limits.conn_rate_before));
		}
		break;
	}
	return body;
}

int
remedy_record(const struct remedy *r, struct ilog *log, const char *actor, json_t *body,
    int64_t *event_id, char *err, size_t errlen)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = 0;

	if (text == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	if (ilog_event_append(log, r->req.incident, actor, remedy_event_type(r->req.verb), text,
	    event_id, err, errlen) != ILOG_OK)
		rc = -1;
	free(text);
	return rc;
}

void
remedy_release(struct remedy *r)
{
	free(r->targets);
	free(r->res);
	r->targets = NULL;
	r->res = NULL;
	r->n = 0;
}
