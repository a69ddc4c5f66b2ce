/*
 * mctl flush NODE [--tenant T] | flush --cluster C [--tenant T]: empties the cache of
 * one node or of every node of a cluster (all tenants, or one) through mcd's admin
 * port, and records what was done as a "flush" event in the incident log.
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

#include "cluster.h"
#include "config.h"
#include "ilog.h"
#include "mcclient.h"
#include "mctl.h"
#include "parse.h"
#include "tenants.h"

#define FLUSH_TIMEOUT_MS 5000       /* per node, connect to reply */
#define FLUSH_TIMEOUT_MAX_MS 600000
#define ANSWER_MAX 16
#define ERR_LEN 512

struct flush_opts {
	const char *node;
	const char *cluster;
	const char *tenant;
	int64_t incident;
	int64_t timeout_ms;
};

struct outcome {
	const struct cluster_node *node;
	bool ok;
	int64_t ms;
	char error[ERR_LEN];
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl flush NODE [--tenant T] [--incident N] [--timeout D]\n"
	    "       mctl flush --cluster C [--tenant T] [--incident N] [--timeout D]\n"
	    "\n"
	    "Flushes every tenant (or only T) on one node or on every node of cluster C,\n"
	    "through the nodes' admin ports as the configuration describes them. Asks for\n"
	    "confirmation unless --yes; without a terminal, --yes is required. Records a\n"
	    "'flush' event (on incident N with --incident). D: per node, default 5s.\n"
	    "\n"
	    "Exit status: 0 every node flushed; 1 a node failed or confirmation was\n"
	    "refused; 2 usage; 3 configuration or incident log unusable.\n");
}

static int
parse_opts(int argc, char **argv, struct flush_opts *o)
{
	uint64_t v;
	int a;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = FLUSH_TIMEOUT_MS;
	for (a = 1; a < argc; a++) {
		const char *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			usage(stdout);
			return 1;
		}
		if (argv[a][0] != '-') {
			if (o->node != NULL) {
				mctl_error("flush: one node at a time ('%s' and '%s'); use --cluster "
					   "for all nodes of a cluster", o->node, argv[a]);
				return -1;
			}
			o->node = argv[a];
			continue;
		}
		if (val == NULL) {
			mctl_error("flush: unknown option or missing value: '%s'", argv[a]);
			return -1;
		}
		a++;
		if (strcmp(argv[a - 1], "--cluster") == 0) {
			o->cluster = val;
		} else if (strcmp(argv[a - 1], "--tenant") == 0) {
			if (!tenant_name_valid(val, strlen(val))) {
				mctl_error("flush: invalid tenant name '%s'", val);
				return -1;
			}
			o->tenant = val;
		} else if (strcmp(argv[a - 1], "--incident") == 0) {
			if (parse_u64(val[0] == '#' ? val + 1 : val, 1, INT64_MAX, &v) != 0) {
				mctl_error("flush: --incident: '%s' is not an incident number", val);
				return -1;
			}
			o->incident = (int64_t)v;
		} else if (strcmp(argv[a - 1], "--timeout") == 0) {
			if (parse_duration_ms(val, &o->timeout_ms) != 0 || o->timeout_ms < 1 ||
			    o->timeout_ms > FLUSH_TIMEOUT_MAX_MS) {
				mctl_error("flush: --timeout: not a duration of 1ms..10m: '%s'", val);
				return -1;
			}
		} else {
			mctl_error("flush: unknown option '%s'", argv[a - 1]);
			return -1;
		}
	}
	if ((o->node == NULL) == (o->cluster == NULL)) {
		mctl_error("flush: name one NODE or --cluster C");
		return -1;
	}
	return 0;
}

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Asks on the terminal. 0 to go on, else an exit status. */
static int
confirm(const struct mctl *ctx)
{
	char answer[ANSWER_MAX];

	if (ctx->yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		mctl_error("flush: not confirmed: standard input is not a terminal (use --yes)");
		return MCTL_EXIT_USAGE;
	}
	fprintf(stderr, "Flush? Type 'yes' to go on: ");
	fflush(stderr);
	if (fgets(answer, sizeof(answer), stdin) == NULL ||
	    (strcmp(answer, "yes\n") != 0 && strcmp(answer, "y\n") != 0)) {
		mctl_error("flush: not confirmed; nothing was flushed");
		return MCTL_EXIT_FAIL;
	}
	return 0;
}

static void
flush_node(const struct cluster *c, const struct cluster_node *n, const char *tenant,
    int64_t timeout_ms, struct outcome *out)
{
	char line[MCCLIENT_LINE_MAX + 1], err[ERR_LEN];
	int64_t t0 = monotonic_ms();
	struct mcclient mc;

	out->node = n;
	out->ok = false;
	if (n->admin.port == 0) {
		snprintf(out->error, sizeof(out->error), "node %s has no admin address in the "
		    "configuration", n->name);
		return;
	}
	if (tenant != NULL)
		snprintf(line, sizeof(line), "flush_tenant %s", tenant);
	else
		snprintf(line, sizeof(line), "flush_all");
	if (mcclient_connect(&mc, n->admin.host, n->admin.port, (int)timeout_ms, err,
	    sizeof(err)) != MCCLIENT_OK) {
		snprintf(out->error, sizeof(out->error), "%s", err);
		out->ms = monotonic_ms() - t0;
		return;
	}
	if (c->admin.set &&
	    mcclient_auth(&mc, c->admin.user, c->admin.password, err, sizeof(err)) != MCCLIENT_OK) {
		snprintf(out->error, sizeof(out->error), "%s", err);
	} else {
		const char *last = NULL;
		if (mcclient_command(&mc, line, NULL, &last, err, sizeof(err)) != MCCLIENT_OK)
			snprintf(out->error, sizeof(out->error), "%s", err);
		else if (strcmp(last, "OK") != 0)
			snprintf(out->error, sizeof(out->error), "%s: unexpected reply '%s'", mc.addr,
			    last);
		else
			out->ok = true;
	}
	mcclient_close(&mc);
	out->ms = monotonic_ms() - t0;
}

/* The event's body: who, what, where, and what happened on each node. */
static json_t *
event_body(const struct flush_opts *o, const struct cluster *c, const struct outcome *res,
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
		json_array_append_new(nodes, r);
	}
	body = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I}",
	    "scope", o->cluster != NULL ? "cluster" : "node",
	    "cluster", c->name,
	    "tenant", o->tenant != NULL ? json_string(o->tenant) : json_null(),
	    "nodes", nodes,
	    "flushed", (json_int_t)(n - failed),
	    "failed", (json_int_t)failed);
	return body;
}

int
cmd_flush(struct mctl *ctx, int argc, char **argv)
{
	const struct cluster_node **targets = NULL;
	struct outcome *results = NULL;
	struct flush_opts o;
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

	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc > 0 ? MCTL_EXIT_OK : MCTL_EXIT_USAGE;
	if (load_topology(ctx, &cfg, &cl) != 0)
		return MCTL_EXIT_CONFIG;
	rc = MCTL_EXIT_CONFIG;
	targets = calloc(cl.nnodes + 1, sizeof(*targets));
	results = calloc(cl.nnodes + 1, sizeof(*results));
	if (targets == NULL || results == NULL) {
		mctl_error("flush: out of memory");
		goto out;
	}
	if (o.node != NULL) {
		const struct cluster_node *node = clusters_find_node(&cl, o.node);
		if (node == NULL) {
			mctl_error("flush: no node '%s' in %s", o.node, ctx->config_path);
			rc = MCTL_EXIT_USAGE;
			goto out;
		}
		targets[n++] = node;
		c = &cl.v[node->cluster];
	} else {
		if ((c = clusters_find(&cl, o.cluster)) == NULL) {
			mctl_error("flush: no cluster '%s' in %s", o.cluster, ctx->config_path);
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
			mctl_error("flush: %s; nothing was flushed", err);
			rc = st == ILOG_ERR_NOT_FOUND ? MCTL_EXIT_FAIL : MCTL_EXIT_CONFIG;
			goto out;
		}
	}

	if (o.tenant != NULL)
		fprintf(progress, "About to flush tenant '%s'", o.tenant);
	else
		fprintf(progress, "About to flush ALL tenants");
	fprintf(progress, " on %zu node%s of cluster %s:\n", n, n == 1 ? "" : "s", c->name);
	for (i = 0; i < n; i++)
		fprintf(progress, "  %-16s admin %s\n", targets[i]->name,
		    targets[i]->admin.port != 0 ? targets[i]->admin.text : "(none configured)");
	fflush(progress);
	if ((rc = confirm(ctx)) != 0)
		goto out;

	for (i = 0; i < n; i++) {
		fprintf(progress, "[%zu/%zu] %s ... ", i + 1, n, targets[i]->name);
		fflush(progress);
		flush_node(c, targets[i], o.tenant, o.timeout_ms, &results[i]);
		if (results[i].ok) {
			fprintf(progress, "flushed (%lld ms)\n", (long long)results[i].ms);
		} else {
			failed++;
			fprintf(progress, "FAILED: %s\n", results[i].error);
		}
		fflush(progress);
	}

	body = event_body(&o, c, results, n, failed);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL ||
	    ilog_event_append(log, o.incident, ctx->actor, ILOG_EV_FLUSH, text, &event_id, err,
	    sizeof(err)) != ILOG_OK) {
		mctl_error("flush: flushed %zu of %zu nodes, but could not record it in the "
			   "incident log: %s", n - failed, n, text == NULL ? "out of memory" : err);
		rc = MCTL_EXIT_CONFIG;
		goto out;
	}
	if (ctx->json) {
		json_object_set_new(body, "event_id", json_integer(event_id));
		json_object_set_new(body, "incident", o.incident != 0 ? json_integer(o.incident) :
		    json_null());
		json_object_set_new(body, "actor", json_string(ctx->actor));
		json_dumpf(body, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		printf("%zu of %zu nodes flushed%s; recorded as event %lld%s\n", n - failed, n,
		    failed > 0 ? ", SOME FAILED" : "", (long long)event_id,
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
