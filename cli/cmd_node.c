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
 * Each acts on the layer it is for (cli/admin.h): a flush on the backends, which hold
 * the data; drain and rebalance on the nodes that take the clients — the proxies of
 * a cluster that has them. A node of the other layer named on the command line is a
 * usage error that says which to name instead: draining a backend behind proxies
 * would only refuse the proxies' next connections, and a proxy has nothing to flush.
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

#include "admin.h"
#include "cluster.h"
#include "config.h"
#include "ilog.h"
#include "mctl.h"
#include "parse.h"
#include "remedy.h"
#include "tenants.h"

#define OP_TIMEOUT_MS REMEDY_TIMEOUT_MS
#define OP_TIMEOUT_MAX_MS REMEDY_TIMEOUT_MAX_MS
#define ANSWER_MAX 16
#define SHED_MAX REMEDY_SHED_MAX
#define NAMES_MAX 256               /* "p1, p2" in a message */

/* The remedy's verbs, in lib/remedy.h's order. */
enum node_op {
	OP_FLUSH = REMEDY_FLUSH,
	OP_DRAIN = REMEDY_DRAIN,
	OP_REBALANCE = REMEDY_REBALANCE,
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

static void
usage(FILE *fp, enum node_op op)
{
	switch (op) {
	case OP_FLUSH:
		fprintf(fp,
		    "usage: mctl flush NODE [--tenant T] [--incident N] [--timeout D]\n"
		    "       mctl flush --cluster C [--tenant T] [--incident N] [--timeout D]\n"
		    "\n"
		    "Flushes every tenant (or only T) on one backend or on every backend of cluster\n"
		    "C (never its proxies: they hold no data), through the admin ports as the\n"
		    "configuration describes them. Asks for\n"
		    "confirmation unless --yes; without a terminal, --yes is required. Records a\n"
		    "'flush' event (on incident N with --incident). D: per node, default 5s.\n");
		break;
	case OP_DRAIN:
		fprintf(fp,
		    "usage: mctl drain PROXY|NODE on|off [--incident N] [--timeout D]\n"
		    "       mctl drain --cluster C on|off [--incident N] [--timeout D]\n"
		    "\n"
		    "on: the proxy (or, in a cluster without proxies, the node) refuses new client\n"
		    "connections ('SERVER_ERROR node is draining') and closes its idle ones, so\n"
		    "clients move to the others; off: it accepts again. --cluster: all of the\n"
		    "cluster's proxies. Asks for confirmation before 'on' unless --yes. Records a\n"
		    "'drain' event.\n");
		break;
	case OP_REBALANCE:
		fprintf(fp,
		    "usage: mctl rebalance PROXY|NODE [--shed N] [--incident N] [--timeout D]\n"
		    "       mctl rebalance --cluster C [--shed N] [--incident N] [--timeout D]\n"
		    "\n"
		    "Closes client connections (idle ones first) on the cluster's proxies (in a\n"
		    "cluster without proxies, its nodes) that hold more than their mean, down to\n"
		    "the mean, so that clients reconnect evenly; with --shed N, closes up to N on\n"
		    "each named one instead. Asks for confirmation unless --yes. Records a\n"
		    "'rebalance' event.\n");
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

/*
 * The remedy o names over cl: its targets, the one node or those of --cluster on the
 * operation's layer. 0, or an exit status (printed).
 */
static int
select_targets(const struct mctl *ctx, const struct clusters *cl, const struct op_opts *o,
    struct remedy *r)
{
	struct remedy_request req = {
		.verb = (enum remedy_verb)o->op, .node = o->node, .cluster = o->cluster,
		.tenant = o->tenant, .drain_on = o->drain_on, .shed = o->shed,
		.incident = o->incident, .timeout_ms = o->timeout_ms,
	};
	char names[NAMES_MAX];

	switch (remedy_prepare(r, cl, &req)) {
	case REMEDY_OK:
		return 0;
	case REMEDY_NOMEM:
		mctl_error("%s: out of memory", o->verb);
		return MCTL_EXIT_CONFIG;
	case REMEDY_NO_NODE:
		mctl_error("%s: no node '%s' (backend or proxy) in %s", o->verb, o->node,
		    ctx->config_path);
		return MCTL_EXIT_USAGE;
	case REMEDY_NO_CLUSTER:
		mctl_error("%s: no cluster '%s' in %s", o->verb, o->cluster, ctx->config_path);
		return MCTL_EXIT_USAGE;
	case REMEDY_WRONG_LAYER:
		break;
	}
	if (o->op == OP_FLUSH) {
		mctl_role_names(cl, r->c, CLUSTER_BACKEND, names, sizeof(names));
		mctl_error("flush: %s is a proxy of cluster %s and holds no data: flush a "
			   "backend (%s) or --cluster %s", o->node, r->c->name, names, r->c->name);
		return MCTL_EXIT_USAGE;
	}
	mctl_role_names(cl, r->c, CLUSTER_PROXY, names, sizeof(names));
	mctl_error("%s: %s is a backend of cluster %s, whose clients connect to its "
		   "proxies (%s): name a proxy, or --cluster %s", o->verb, o->node, r->c->name,
	    names, r->c->name);
	return MCTL_EXIT_USAGE;
}

static int
node_op(struct mctl *ctx, int argc, char **argv, enum node_op op)
{
	struct op_opts o;
	struct mctl_topology topo;
	const struct clusters *cl = &topo.cl;
	struct remedy r;
	const char *noun;
	struct ilog_incident inc;
	struct ilog *log = NULL;
	char err[ILOG_ERR_LEN];
	FILE *progress = ctx->json ? stderr : stdout;
	size_t n, i;
	int64_t event_id = 0;
	json_t *body = NULL;
	int rc;

	if ((rc = parse_opts(argc, argv, op, &o)) != 0)
		return rc > 0 ? MCTL_EXIT_OK : MCTL_EXIT_USAGE;
	if (mctl_topology_load(ctx, &topo) != 0)
		return MCTL_EXIT_CONFIG;
	if ((rc = select_targets(ctx, cl, &o, &r)) != 0)
		goto out;
	rc = MCTL_EXIT_CONFIG;
	n = r.n;
	/* A cluster has at least one backend, and its clients' layer is never empty. */
	noun = mctl_role_noun(cl, r.targets[0], n != 1);
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

	remedy_plan(&r);
	if (op == OP_FLUSH && o.tenant != NULL)
		fprintf(progress, "About to flush tenant '%s'", o.tenant);
	else if (op == OP_FLUSH)
		fprintf(progress, "About to flush ALL tenants");
	else if (op == OP_DRAIN)
		fprintf(progress, "About to turn draining %s", o.drain_on ? "ON" : "off");
	else
		fprintf(progress, "About to rebalance client connections");
	fprintf(progress, " on %zu %s of cluster %s:\n", n, noun, r.c->name);
	for (i = 0; i < n; i++) {
		fprintf(progress, "  %-16s admin %s", r.targets[i]->name,
		    r.targets[i]->admin.port != 0 ? r.targets[i]->admin.text : "(none configured)");
		if (op == OP_REBALANCE && o.shed == 0 && r.res[i].error[0] == '\0')
			fprintf(progress, ", %llu connections, close %llu",
			    (unsigned long long)r.res[i].connections,
			    (unsigned long long)r.res[i].shed);
		else if (op == OP_REBALANCE && o.shed != 0)
			fprintf(progress, ", close up to %llu", (unsigned long long)o.shed);
		fputc('\n', progress);
	}
	fflush(progress);
	if ((rc = confirm(ctx, &o)) != 0)
		goto out;

	for (i = 0; i < n; i++) {
		fprintf(progress, "[%zu/%zu] %s ... ", i + 1, n, r.targets[i]->name);
		fflush(progress);
		remedy_run_node(&r, i);
		if (r.res[i].ok) {
			if (op == OP_FLUSH)
				fprintf(progress, "flushed");
			else if (op == OP_DRAIN)
				fprintf(progress, "draining %s", o.drain_on ? "on" : "off");
			else
				fprintf(progress, "closing %llu connections",
				    (unsigned long long)r.res[i].shed);
			fprintf(progress, " (%lld ms)\n", (long long)r.res[i].ms);
		} else {
			fprintf(progress, "FAILED: %s\n", r.res[i].error);
		}
		fflush(progress);
	}

	body = remedy_event_body(&r);
	if (remedy_record(&r, log, mctl_actor(ctx), body, &event_id, err, sizeof(err)) != 0) {
		mctl_error("%s: done on %zu of %zu %s, but could not record it in the "
			   "incident log: %s", o.verb, n - r.failed, n,
		    mctl_role_noun(cl, r.targets[0], true), err);
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
		printf("%zu of %zu %s %s%s; recorded as event %lld%s\n", n - r.failed, n,
		    mctl_role_noun(cl, r.targets[0], true), past[op],
		    r.failed > 0 ? ", SOME FAILED" : "", (long long)event_id,
		    o.incident != 0 ? " on the incident" : "");
	}
	rc = r.failed > 0 ? MCTL_EXIT_FAIL : MCTL_EXIT_OK;
out:
	json_decref(body);
	ilog_close(log);
	remedy_release(&r);
	mctl_topology_release(&topo);
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
