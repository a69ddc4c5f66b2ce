/*
 * The standard remedies on cache nodes, each one audited command through mcd's admin
 * port, recorded as an event in the incident log (on --incident N if given):
 *
 *   mctl flush NODE|--cluster C [--tenant T]   empty the cache (all tenants, or one)
 *   mctl drain NODE|--cluster C on|off          refuse new clients / accept again
 *   mctl rebalance NODE|--cluster C [--shed N]  close client connections above the
 *                                               cluster's mean (or N), idle ones first,
 *                                               so that clients reconnect evenly
 *
 * Order of work, each step a reason to stop before anything is flushed: the
 * configuration (nodes and admin accounts), the incident log (an unaudited flush is
 * not allowed), the incident named by --incident, the operator's confirmation. Then
 * node by node, each with its own timeout: a node that fails is reported and the
 * rest still flushed. Exit 1 if any node failed (docs/mctl.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "cluster.h"
#include "config.h"
#include "ilog.h"
#include "mcclient.h"
#include "mctl.h"
#include "parse.h"
#include "tenants.h"

#define OP_TIMEOUT_MS 5000          /* per node, connect to reply */
#define OP_TIMEOUT_MAX_MS 600000
#define ANSWER_MAX 16
#define ERR_LEN 512
#define SHED_MAX 1000000

enum node_op {
	OP_FLUSH,
	OP_DRAIN,
	OP_REBALANCE,
};

struct op_opts {
	enum node_op op;
	const char *verb;             /* "flush", "drain", "rebalance" */
	const char *node;
	const char *cluster;
	const char *tenant;           /* flush */
	bool drain_on;                /* drain */
	bool drain_set;
	uint64_t shed;                /* rebalance: 0 = down to the cluster's mean */
	int64_t incident;
	int64_t timeout_ms;
};

struct outcome {
	const struct cluster_node *node;
	bool ok;
	int64_t ms;
	uint64_t connections;         /* rebalance: client connections before */
	uint64_t shed;                /* rebalance: asked to close */
	char error[ERR_LEN];
};

static void
usage(FILE *fp, enum node_op op)
{
	switch (op) {
	case OP_FLUSH:
		fprintf(fp,
		    "usage: mctl flush NODE [--tenant T] [--incident N] [--timeout D]\n"
		    "       mctl flush --cluster C [--tenant T] [--incident N] [--timeout D]\n"
		    "\n"
		    "Flushes every tenant (or only T) on one node or on every node of cluster C,\n"
		    "through the nodes' admin ports as the configuration describes them. Asks for\n"
		    "confirmation unless --yes; without a terminal, --yes is required. Records a\n"
		    "'flush' event (on incident N with --incident). D: per node, default 5s.\n");
		break;
	case OP_DRAIN:
		fprintf(fp,
		    "usage: mctl drain NODE on|off [--incident N] [--timeout D]\n"
		    "       mctl drain --cluster C on|off [--incident N] [--timeout D]\n"
		    "\n"
		    "on: the node refuses new client connections ('SERVER_ERROR node is draining')\n"
		    "and closes its idle ones, so clients move to the other nodes; off: it accepts\n"
		    "again. Asks for confirmation before 'on' unless --yes. Records a 'drain' event.\n");
		break;
	case OP_REBALANCE:
		fprintf(fp,
		    "usage: mctl rebalance NODE [--shed N] [--incident N] [--timeout D]\n"
		    "       mctl rebalance --cluster C [--shed N] [--incident N] [--timeout D]\n"
		    "\n"
		    "Closes client connections (idle ones first) on nodes that hold more than the\n"
		    "cluster's mean, down to the mean, so that clients reconnect evenly; with\n"
		    "--shed N, closes up to N on each named node instead. Asks for confirmation\n"
		    "unless --yes. Records a 'rebalance' event.\n");
		break;
	}
	fprintf(fp, "\nExit status: 0 every node done; 1 a node failed or confirmation was\n"
		    "refused; 2 usage; 3 configuration or incident log unusable.\n");
}

static int
parse_opts(int argc, char **argv, enum node_op op, struct op_opts *o)
{
	static const char *const verbs[] = { "flush", "drain", "rebalance" };
	uint64_t v;
	int a;

	memset(o, 0, sizeof(*o));
	o->op = op;
	o->verb = verbs[op];
	o->timeout_ms = OP_TIMEOUT_MS;
	for (a = 1; a < argc; a++) {
		const char *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			usage(stdout, op);
			return 1;
		}
		if (argv[a][0] != '-') {
			if (op == OP_DRAIN && (strcmp(argv[a], "on") == 0 ||
			    strcmp(argv[a], "off") == 0) && (o->node != NULL || o->cluster != NULL)) {
				o->drain_on = strcmp(argv[a], "on") == 0;
				o->drain_set = true;
				continue;
			}
			if (o->node != NULL) {
				mctl_error("%s: one node at a time ('%s' and '%s'); use --cluster "
					   "for all nodes of a cluster", o->verb, o->node, argv[a]);
				return -1;
			}
			o->node = argv[a];
			continue;
		}
		if (val == NULL) {
			mctl_error("%s: unknown option or missing value: '%s'", o->verb, argv[a]);
			return -1;
		}
		a++;
		if (strcmp(argv[a - 1], "--cluster") == 0) {
			o->cluster = val;
		} else if (op == OP_FLUSH && strcmp(argv[a - 1], "--tenant") == 0) {
			if (!tenant_name_valid(val, strlen(val))) {
				mctl_error("flush: invalid tenant name '%s'", val);
				return -1;
			}
			o->tenant = val;
		} else if (op == OP_REBALANCE && strcmp(argv[a - 1], "--shed") == 0) {
			if (parse_u64(val, 1, SHED_MAX, &o->shed) != 0) {
				mctl_error("rebalance: --shed: '%s' is not a number from 1 to %d", val,
				    SHED_MAX);
				return -1;
			}
		} else if (strcmp(argv[a - 1], "--incident") == 0) {
			if (parse_u64(val[0] == '#' ? val + 1 : val, 1, INT64_MAX, &v) != 0) {
				mctl_error("%s: --incident: '%s' is not an incident number", o->verb,
				    val);
				return -1;
			}
			o->incident = (int64_t)v;
		} else if (strcmp(argv[a - 1], "--timeout") == 0) {
			if (parse_duration_ms(val, &o->timeout_ms) != 0 || o->timeout_ms < 1 ||
			    o->timeout_ms > OP_TIMEOUT_MAX_MS) {
				mctl_error("%s: --timeout: not a duration of 1ms..10m: '%s'", o->verb,
				    val);
				return -1;
			}
		} else {
			mctl_error("%s: unknown option '%s'", o->verb, argv[a - 1]);
			return -1;
		}
	}
	if ((o->node == NULL) == (o->cluster == NULL)) {
		mctl_error("%s: name one NODE or --cluster C", o->verb);
		return -1;
	}
	if (op == OP_DRAIN && !o->drain_set) {
		mctl_error("drain: say on or off");
		return -1;
	}
	return 0;
}

/* Loads the topology; prints every error. 0, or -1. */
static int
load_topology(const struct mctl *ctx, struct config *cfg, struct clusters *cl)
{
	struct config_errors errs = { 0 };
	size_t i;
	int rc = 0;

	if (config_load(cfg, ctx->config_path, &errs) != 0 ||
	    clusters_load(cl, cfg, &errs) != 0 || errs.n > 0) {
		rc = -1;
		config_release(cfg);
	}
	for (i = 0; i < errs.n; i++)
		mctl_error("%s", errs.msgs[i]);
	if (errs.dropped > 0)
		mctl_error("(%zu more configuration errors)", errs.dropped);
	config_errors_release(&errs);
	if (rc != 0)
		clusters_release(cl);
	return rc;
}

/* Asks on the terminal. 0 to go on, else an exit status. Turning a drain off
 * takes nothing away from anyone and is not asked. */
static int
confirm(const struct mctl *ctx, const struct op_opts *o)
{
	static const char *const asks[] = { "Flush", "Drain", "Rebalance" };
	static const char *const done[] = { "flushed", "drained", "rebalanced" };
	char answer[ANSWER_MAX];

	if (ctx->yes || (o->op == OP_DRAIN && !o->drain_on))
		return 0;
	if (!isatty(STDIN_FILENO)) {
		mctl_error("%s: not confirmed: standard input is not a terminal (use --yes)",
		    o->verb);
		return MCTL_EXIT_USAGE;
	}
	fprintf(stderr, "%s? Type 'yes' to go on: ", asks[o->op]);
	fflush(stderr);
	if (fgets(answer, sizeof(answer), stdin) == NULL ||
	    (strcmp(answer, "yes\n") != 0 && strcmp(answer, "y\n") != 0)) {
		mctl_error("%s: not confirmed; nothing was %s", o->verb, done[o->op]);
		return MCTL_EXIT_FAIL;
	}
	return 0;
}

/* Connects to a node's admin port and authenticates. 0, or -1 with out->error. */
static int
admin_connect(const struct cluster *c, const struct cluster_node *n, int64_t timeout_ms,
    struct mcclient *mc, struct outcome *out)
{
	char err[ERR_LEN];

	if (n->admin.port == 0) {
		snprintf(out->error, sizeof(out->error), "node %s has no admin address in the "
		    "configuration", n->name);
		return -1;
	}
	if (mcclient_connect(mc, n->admin.host, n->admin.port, (int)timeout_ms, err,
	    sizeof(err)) != MCCLIENT_OK) {
		snprintf(out->error, sizeof(out->error), "%s", err);
		return -1;
	}
	if (c->admin.set &&
	    mcclient_auth(mc, c->admin.user, c->admin.password, err, sizeof(err)) != MCCLIENT_OK) {
		snprintf(out->error, sizeof(out->error), "%s", err);
		mcclient_close(mc);
		return -1;
	}
	return 0;
}

/* The node's client connections (its own admin connection not counted). */
static int
node_connections(const struct cluster *c, const struct cluster_node *n, int64_t timeout_ms,
    struct outcome *out)
{
	struct mcclient_stats st = { 0 };
	struct mcclient mc;
	char err[ERR_LEN];
	const char *v;
	uint64_t conns;
	int rc = -1;

	if (admin_connect(c, n, timeout_ms, &mc, out) < 0)
		return -1;
	if (mcclient_stats(&mc, NULL, &st, err, sizeof(err)) != MCCLIENT_OK)
		snprintf(out->error, sizeof(out->error), "%s", err);
	else if ((v = mcclient_stats_get(&st, "curr_connections")) == NULL ||
	    parse_u64(v, 1, UINT64_MAX, &conns) != 0)
		snprintf(out->error, sizeof(out->error), "%s: no curr_connections in stats",
		    mc.addr);
	else {
		out->connections = conns - 1;
		rc = 0;
	}
	mcclient_stats_release(&st);
	mcclient_close(&mc);
	return rc;
}

static void
run_node(const struct cluster *c, const struct cluster_node *n, const struct op_opts *o,
    struct outcome *out)
{
	char line[MCCLIENT_LINE_MAX + 1], err[ERR_LEN];
	int64_t t0 = clock_monotonic_ms();
	struct mcclient mc;
	const char *last = NULL;

	out->node = n;
	out->ok = false;
	switch (o->op) {
	case OP_FLUSH:
		if (o->tenant != NULL)
			snprintf(line, sizeof(line), "flush_tenant %s", o->tenant);
		else
			snprintf(line, sizeof(line), "flush_all");
		break;
	case OP_DRAIN:
		snprintf(line, sizeof(line), "drain %s", o->drain_on ? "on" : "off");
		break;
	case OP_REBALANCE:
		if (out->shed == 0) { /* at or below the mean: nothing to close */
			out->ok = true;
			out->ms = clock_monotonic_ms() - t0;
			return;
		}
		snprintf(line, sizeof(line), "shed %llu", (unsigned long long)out->shed);
		break;
	}
	if (admin_connect(c, n, o->timeout_ms, &mc, out) < 0) {
		out->ms = clock_monotonic_ms() - t0;
		return;
	}
	if (mcclient_command(&mc, line, NULL, &last, err, sizeof(err)) != MCCLIENT_OK)
		snprintf(out->error, sizeof(out->error), "%s", err);
	else if (strcmp(last, "OK") != 0)
		snprintf(out->error, sizeof(out->error), "%s: unexpected reply '%s'", mc.addr, last);
	else
		out->ok = true;
	mcclient_close(&mc);
	out->ms = clock_monotonic_ms() - t0;
}

/*
 * Rebalance's plan: how many connections to close on each target. With --shed, that
 * many; otherwise what a target holds above the mean of the cluster's reachable
 * nodes. A target whose count cannot be read fails here.
 */
static void
plan_rebalance(const struct clusters *cl, const struct cluster *c, const struct op_opts *o,
    const struct cluster_node **targets, struct outcome *res, size_t n)
{
	uint64_t sum = 0, mean;
	size_t known = 0, i;

	for (i = 0; i < n; i++) {
		res[i].node = targets[i];
		if (o->shed != 0)
			res[i].shed = o->shed;
	}
	if (o->shed != 0)
		return;
	for (i = 0; i < cl->nnodes; i++) {
		struct outcome probe = { 0 };
		if (&cl->v[cl->nodes[i].cluster] != c)
			continue;
		if (node_connections(c, &cl->nodes[i], o->timeout_ms, &probe) == 0) {
			sum += probe.connections;
			known++;
			for (size_t t = 0; t < n; t++) {
				if (targets[t] == &cl->nodes[i])
					res[t].connections = probe.connections;
			}
		} else {
			for (size_t t = 0; t < n; t++) {
				if (targets[t] == &cl->nodes[i])
					snprintf(res[t].error, sizeof(res[t].error), "%s", probe.error);
			}
		}
	}
	mean = known > 0 ? (sum + known - 1) / known : 0;
	for (i = 0; i < n; i++) {
		if (res[i].connections > mean)
			res[i].shed = res[i].connections - mean;
	}
}

/* The event's body: who, what, where, and what happened on each node. */
static json_t *
event_body(const struct op_opts *o, const struct cluster *c, const struct outcome *res,
    size_t n, size_t failed)
{
	json_t *nodes = json_array(), *body;
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *r = json_pack("{s:s, s:s, s:b, s:I}", "node", res[i].node->name,
		    "admin", res[i].node->admin.port != 0 ? res[i].node->admin.text : "",
		    "ok", res[i].ok, "ms", (json_int_t)res[i].ms);
		if (r != NULL && !res[i].ok)
			json_object_set_new(r, "error", json_string(res[i].error));
		if (r != NULL && o->op == OP_REBALANCE) {
			json_object_set_new(r, "connections", json_integer((json_int_t)res[i].connections));
			json_object_set_new(r, "shed", json_integer((json_int_t)res[i].shed));
		}
		json_array_append_new(nodes, r);
	}
	body = json_pack("{s:s, s:s, s:o, s:I, s:I}",
	    "scope", o->cluster != NULL ? "cluster" : "node",
	    "cluster", c->name,
	    "nodes", nodes,
	    "done", (json_int_t)(n - failed),
	    "failed", (json_int_t)failed);
	if (body == NULL)
		return NULL;
	switch (o->op) {
	case OP_FLUSH:
		json_object_set_new(body, "tenant",
		    o->tenant != NULL ? json_string(o->tenant) : json_null());
		json_object_set_new(body, "flushed", json_integer((json_int_t)(n - failed)));
		break;
	case OP_DRAIN:
		json_object_set_new(body, "drain", json_string(o->drain_on ? "on" : "off"));
		break;
	case OP_REBALANCE:
		json_object_set_new(body, "shed", o->shed != 0 ?
		    json_integer((json_int_t)o->shed) : json_string("to the mean"));
		break;
	}
	return body;
}

static int
node_op(struct mctl *ctx, int argc, char **argv, enum node_op op)
{
	static const char *const events[] = { ILOG_EV_FLUSH, ILOG_EV_DRAIN, ILOG_EV_REBALANCE };
	const struct cluster_node **targets = NULL;
	struct outcome *results = NULL;
	struct op_opts o;
	struct config cfg;
	struct clusters cl = { 0 };
	const struct cluster *c;
	struct ilog_incident inc;
	struct ilog *log = NULL;
	char err[ILOG_ERR_LEN], *text = NULL;
	FILE *progress = ctx->json ? stderr : stdout;
	size_t n = 0, i, failed = 0;
	int64_t event_id = 0;
	json_t *body = NULL;
	int rc;

	if ((rc = parse_opts(argc, argv, op, &o)) != 0)
		return rc > 0 ? MCTL_EXIT_OK : MCTL_EXIT_USAGE;
	if (load_topology(ctx, &cfg, &cl) != 0)
		return MCTL_EXIT_CONFIG;
	rc = MCTL_EXIT_CONFIG;
	targets = calloc(cl.nnodes + 1, sizeof(*targets));
	results = calloc(cl.nnodes + 1, sizeof(*results));
	if (targets == NULL || results == NULL) {
		mctl_error("%s: out of memory", o.verb);
		goto out;
	}
	if (o.node != NULL) {
		const struct cluster_node *node = clusters_find_node(&cl, o.node);
		if (node == NULL) {
			mctl_error("%s: no node '%s' in %s", o.verb, o.node, ctx->config_path);
			rc = MCTL_EXIT_USAGE;
			goto out;
		}
		targets[n++] = node;
		c = &cl.v[node->cluster];
	} else {
		if ((c = clusters_find(&cl, o.cluster)) == NULL) {
			mctl_error("%s: no cluster '%s' in %s", o.verb, o.cluster, ctx->config_path);
			rc = MCTL_EXIT_USAGE;
			goto out;
		}
		for (i = 0; i < cl.nnodes; i++) {
			if (&cl.v[cl.nodes[i].cluster] == c)
				targets[n++] = &cl.nodes[i];
		}
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		goto out;
	if (o.incident != 0) {
		enum ilog_status st = ilog_incident_get(log, o.incident, &inc, err, sizeof(err));
		if (st != ILOG_OK) {
			mctl_error("%s: %s; nothing was %s", o.verb, err,
			    op == OP_FLUSH ? "flushed" : "done");
			rc = st == ILOG_ERR_NOT_FOUND ? MCTL_EXIT_FAIL : MCTL_EXIT_CONFIG;
			goto out;
		}
	}

	if (op == OP_REBALANCE)
		plan_rebalance(&cl, c, &o, targets, results, n);
	if (op == OP_FLUSH && o.tenant != NULL)
		fprintf(progress, "About to flush tenant '%s'", o.tenant);
	else if (op == OP_FLUSH)
		fprintf(progress, "About to flush ALL tenants");
	else if (op == OP_DRAIN)
		fprintf(progress, "About to turn draining %s", o.drain_on ? "ON" : "off");
	else
		fprintf(progress, "About to rebalance client connections");
	fprintf(progress, " on %zu node%s of cluster %s:\n", n, n == 1 ? "" : "s", c->name);
	for (i = 0; i < n; i++) {
		fprintf(progress, "  %-16s admin %s", targets[i]->name,
		    targets[i]->admin.port != 0 ? targets[i]->admin.text : "(none configured)");
		if (op == OP_REBALANCE && o.shed == 0 && results[i].error[0] == '\0')
			fprintf(progress, ", %llu connections, close %llu",
			    (unsigned long long)results[i].connections,
			    (unsigned long long)results[i].shed);
		else if (op == OP_REBALANCE && o.shed != 0)
			fprintf(progress, ", close up to %llu", (unsigned long long)o.shed);
		fputc('\n', progress);
	}
	fflush(progress);
	if ((rc = confirm(ctx, &o)) != 0)
		goto out;

	for (i = 0; i < n; i++) {
		fprintf(progress, "[%zu/%zu] %s ... ", i + 1, n, targets[i]->name);
		fflush(progress);
		if (results[i].error[0] == '\0')
			run_node(c, targets[i], &o, &results[i]);
		if (results[i].ok) {
			if (op == OP_FLUSH)
				fprintf(progress, "flushed");
			else if (op == OP_DRAIN)
				fprintf(progress, "draining %s", o.drain_on ? "on" : "off");
			else
				fprintf(progress, "closing %llu connections",
				    (unsigned long long)results[i].shed);
			fprintf(progress, " (%lld ms)\n", (long long)results[i].ms);
		} else {
			failed++;
			fprintf(progress, "FAILED: %s\n", results[i].error);
		}
		fflush(progress);
	}

	body = event_body(&o, c, results, n, failed);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL ||
	    ilog_event_append(log, o.incident, mctl_actor(ctx), events[op], text, &event_id, err,
	    sizeof(err)) != ILOG_OK) {
		mctl_error("%s: done on %zu of %zu nodes, but could not record it in the "
			   "incident log: %s", o.verb, n - failed, n,
			   text == NULL ? "out of memory" : err);
		rc = MCTL_EXIT_CONFIG;
		goto out;
	}
	if (ctx->json) {
		json_object_set_new(body, "event_id", json_integer(event_id));
		json_object_set_new(body, "incident", o.incident != 0 ? json_integer(o.incident) :
		    json_null());
		json_object_set_new(body, "actor", json_string(mctl_actor(ctx)));
		(void)mctl_print_json(json_incref(body), JSON_INDENT(2));
	} else {
		static const char *const past[] = { "flushed", "done", "rebalanced" };
		printf("%zu of %zu nodes %s%s; recorded as event %lld%s\n", n - failed, n,
		    past[op], failed > 0 ? ", SOME FAILED" : "", (long long)event_id,
		    o.incident != 0 ? " on the incident" : "");
	}
	rc = failed > 0 ? MCTL_EXIT_FAIL : MCTL_EXIT_OK;
out:
	free(targets);
	free(results);
	free(text);
	json_decref(body);
	ilog_close(log);
	clusters_release(&cl);
	config_release(&cfg);
	return rc;
}

int
cmd_flush(struct mctl *ctx, int argc, char **argv)
{
	return node_op(ctx, argc, argv, OP_FLUSH);
}

int
cmd_drain(struct mctl *ctx, int argc, char **argv)
{
	return node_op(ctx, argc, argv, OP_DRAIN);
}

int
cmd_rebalance(struct mctl *ctx, int argc, char **argv)
{
	return node_op(ctx, argc, argv, OP_REBALANCE);
}
