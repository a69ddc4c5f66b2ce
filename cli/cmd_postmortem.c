/*
 * mctl postmortem N [--public] [-o FILE] — a postmortem draft of incident N in
 * Markdown, with two SVG charts from mcmon's recorded history (cli/postmortem.h says
 * what the draft holds and how --public is built).
 *
 * With -o FILE the draft goes to FILE and the charts beside it, FILE's name without a
 * ".md" ending plus "-latency.svg" and "-connections.svg", linked by their base names.
 * Without it the draft goes to stdout and the charts to the current directory as
 * incident-N[-public]-latency.svg and -connections.svg (the draft and stderr say so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "ilog.h"
#include "ilog_history.h"
#include "ilog_pages.h"
#include "mctl.h"
#include "parse.h"
#include "postmortem.h"
#include "statussite/statussite.h"

#define PM_PATH_MAX 4096
#define PM_SUFFIX_MAX 20 /* "-connections.svg" */
#define PM_ERR_MAX 512
#define PM_SERIES_NAME_MAX 400 /* the components' public names, joined */

struct pm_opts {
	int64_t id;
	bool public;
	const char *output; /* NULL: stdout */
};

/* Everything the draft is built from; released by facts_release. */
struct pm_loaded {
	struct ilog_incident inc;
	struct ilog_events events;
	struct ilog_pages pages;
	struct ilog_public_entries updates;
	struct ilog_history_rows history;
	struct config cfg;
	struct sp_config *sp;
	struct model model;
	bool have_model;
	char series[PM_SERIES_NAME_MAX];
	char latency[PM_PATH_MAX], connections[PM_PATH_MAX]; /* paths written */
	char latency_link[PM_PATH_MAX], connections_link[PM_PATH_MAX];
	char note[PM_PATH_MAX * 2 + 64];
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl postmortem N [--public] [-o FILE]\n"
	    "\n"
	    "Writes a Markdown postmortem draft of incident N: summary, impact, the timeline,\n"
	    "time to detect, page, acknowledge, remedy and resolve, the remedies and their\n"
	    "outcomes, the pages and who answered, the public updates, the evidence, and\n"
	    "two SVG charts (latency share, connections) from mcmon's recorded history.\n"
	    "  --public   only what the status page shows: public names and updates, no\n"
	    "             node, tenant, address, engineer, note or evidence figure\n"
	    "  -o FILE    write the draft to FILE and the charts beside it\n"
	    "             (FILE-latency.svg, FILE-connections.svg, FILE without .md);\n"
	    "             without -o the draft goes to stdout and the charts to the current\n"
	    "             directory as incident-N-latency.svg, incident-N-connections.svg\n");
}

static int
parse_opts(int argc, char **argv, struct pm_opts *o)
{
	uint64_t v;
	const char *idtext = NULL;
	int a;

	memset(o, 0, sizeof(*o));
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(argv[a], "--public") == 0) {
			o->public = true;
		} else if (strcmp(argv[a], "-o") == 0 && a + 1 < argc) {
			o->output = argv[++a];
		} else if (argv[a][0] == '-' && argv[a][1] != '\0') {
			mctl_error("postmortem: unknown option or missing value: %s", argv[a]);
			return -1;
		} else if (idtext == NULL) {
			idtext = argv[a];
		} else {
			mctl_error("postmortem: one incident at a time ('%s' too)", argv[a]);
			return -1;
		}
	}
	if (o->output != NULL && strlen(o->output) >= PM_PATH_MAX - PM_SUFFIX_MAX) {
		mctl_error("postmortem: -o: the path is longer than %d bytes",
		    PM_PATH_MAX - PM_SUFFIX_MAX - 1);
		return -1;
	}
	if (idtext == NULL) {
		usage(stderr);
		return -1;
	}
	if (parse_u64(idtext[0] == '#' ? idtext + 1 : idtext, 1, INT64_MAX, &v) != 0) {
		mctl_error("postmortem: '%s' is not an incident number", idtext);
		return -1;
	}
	o->id = (int64_t)v;
	return 0;
}

/* The charts' paths and their links from the draft. */
static void
chart_paths(const struct pm_opts *o, struct pm_loaded *l)
{
	char base[PM_PATH_MAX - PM_SUFFIX_MAX];
	const char *slash;
	size_t n;

	if (o->output != NULL) {
		n = strlen(o->output);
		if (n > 3 && strcmp(o->output + n - 3, ".md") == 0)
			n -= 3;
		snprintf(base, sizeof(base), "%.*s", (int)n, o->output);
	} else {
		snprintf(base, sizeof(base), "incident-%lld%s", (long long)o->id,
		    o->public ? "-public" : "");
	}
	snprintf(l->latency, sizeof(l->latency), "%s-latency.svg", base);
	snprintf(l->connections, sizeof(l->connections), "%s-connections.svg", base);
	/* Links are relative to the draft, which sits in the same directory. */
	slash = strrchr(l->latency, '/');
	snprintf(l->latency_link, sizeof(l->latency_link), "%s", slash ? slash + 1 : l->latency);
	slash = strrchr(l->connections, '/');
	snprintf(l->connections_link, sizeof(l->connections_link), "%s",
	    slash ? slash + 1 : l->connections);
}

static int
write_file(const char *path, const struct textbuf *b)
{
	FILE *fp = fopen(path, "w");
	int rc = 0;

	if (fp == NULL) {
		mctl_error("postmortem: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (b->len > 0 && fwrite(b->data, 1, b->len, fp) != b->len)
		rc = -1;
	if (fclose(fp) != 0)
		rc = -1;
	if (rc != 0)
		mctl_error("postmortem: cannot write %s: %s", path, strerror(errno));
	return rc;
}

/* The public side: the status site's model and the incident's components' names. */
static int
load_public(struct mctl *ctx, struct ilog *log, int64_t id, int64_t now, struct pm_loaded *l,
    const struct model_incident **pub)
{
	struct config_errors errs = { 0 };
	char err[PM_ERR_MAX];
	size_t i, len = 0;
	int rc = MCTL_EXIT_CONFIG;

	if ((l->sp = calloc(1, sizeof(*l->sp))) == NULL) {
		mctl_error("postmortem: out of memory");
		return MCTL_EXIT_FAIL;
	}
	if (config_load(&l->cfg, ctx->config_path, &errs) < 0 ||
	    spconfig_load(&l->cfg, l->sp, false, &errs) < 0) {
		for (i = 0; i < errs.n; i++)
			mctl_error("%s", errs.msgs[i]);
		goto out;
	}
	rc = MCTL_EXIT_FAIL;
	if (model_load(&l->model, l->sp, log, now, err, sizeof(err)) < 0) {
		mctl_error("postmortem: %s", err);
		goto out;
	}
	l->have_model = true;
	if ((*pub = model_find(&l->model, id)) == NULL) {
		mctl_error("postmortem: incident %lld is not on the status page (an advisory, or "
			   "older than %d days): there is no public draft to write", (long long)id,
		    MODEL_DAYS);
		goto out;
	}
	for (i = 0; i < l->sp->ncomps; i++) {
		if (((*pub)->components & (UINT64_C(1) << i)) == 0)
			continue;
		len += (size_t)snprintf(l->series + len, sizeof(l->series) - len, "%s%s",
		    len > 0 ? ", " : "", l->sp->comps[i].name);
		if (len >= sizeof(l->series))
			break;
	}
	if (l->series[0] == '\0')
		snprintf(l->series, sizeof(l->series), "%s", l->sp->name);
	rc = MCTL_EXIT_OK;
out:
	config_errors_release(&errs);
	return rc;
}

static void
loaded_release(struct pm_loaded *l)
{
	ilog_events_release(&l->events);
	ilog_pages_release(&l->pages);
	ilog_public_entries_release(&l->updates);
	ilog_history_rows_release(&l->history);
	if (l->have_model)
		model_release(&l->model);
	config_release(&l->cfg);
	free(l->sp);
}

static int
write_outputs(const struct pm_opts *o, struct pm_facts *f, struct pm_loaded *l)
{
	struct textbuf md = { 0 }, svg = { 0 };
	int rc = MCTL_EXIT_FAIL;

	chart_paths(o, l);
	if (pm_chart(f, PM_CHART_LATENCY, &svg) < 0 || write_file(l->latency, &svg) < 0)
		goto out;
	textbuf_reset(&svg);
	if (pm_chart(f, PM_CHART_CONNECTIONS, &svg) < 0 || write_file(l->connections, &svg) < 0)
		goto out;
	if (o->output != NULL) {
		f->latency_chart = l->latency_link;
		f->connections_chart = l->connections_link;
	} else {
		/* On stdout the links would be relative to wherever the text is saved. */
		snprintf(l->note, sizeof(l->note), "The charts were written to %s and %s.",
		    l->latency, l->connections);
		f->charts_note = l->note;
	}
	if (pm_markdown(f, &md) < 0) {
		mctl_error("postmortem: out of memory building the draft");
		goto out;
	}
	if (o->output != NULL) {
		if (write_file(o->output, &md) < 0)
			goto out;
		printf("wrote %s, %s and %s\n", o->output, l->latency, l->connections);
	} else {
		if (fwrite(md.data, 1, md.len, stdout) != md.len || fflush(stdout) != 0) {
			mctl_error("postmortem: cannot write the draft to stdout");
			goto out;
		}
		fprintf(stderr, "mctl: postmortem: charts written to %s and %s\n", l->latency,
		    l->connections);
	}
	rc = MCTL_EXIT_OK;
out:
	if (rc != MCTL_EXIT_OK && (svg.failed || md.failed))
		mctl_error("postmortem: a draft or chart grew past its limit or out of memory");
	textbuf_release(&md);
	textbuf_release(&svg);
	return rc;
}

int
cmd_postmortem(struct mctl *ctx, int argc, char **argv)
{
	struct pm_loaded *l = calloc(1, sizeof(*l));
	struct pm_facts f = { 0 };
	struct pm_opts o;
	char err[ILOG_ERR_LEN];
	enum ilog_status st;
	struct ilog *log = NULL;
	int rc;

	if (l == NULL) {
		mctl_error("postmortem: out of memory");
		return MCTL_EXIT_FAIL;
	}
	if ((rc = parse_opts(argc, argv, &o)) != 0) {
		free(l);
		return rc > 0 ? MCTL_EXIT_OK : MCTL_EXIT_USAGE;
	}
	rc = MCTL_EXIT_CONFIG;
	if ((log = mctl_open_log(ctx)) == NULL)
		goto out;
	f.now = clock_wall_ms();
	st = ilog_incident_get(log, o.id, &l->inc, err, sizeof(err));
	if (st == ILOG_OK)
		st = ilog_timeline(log, o.id, &l->events, err, sizeof(err));
	if (st == ILOG_OK)
		st = ilog_page_list(log, o.id, &l->pages, err, sizeof(err));
	if (st == ILOG_OK)
		st = ilog_public_list(log, o.id, &l->updates, err, sizeof(err));
	if (st != ILOG_OK) {
		mctl_error("postmortem: %s", err);
		rc = st == ILOG_ERR_NOT_FOUND ? MCTL_EXIT_FAIL : MCTL_EXIT_CONFIG;
		goto out;
	}
	f.public = o.public;
	f.inc = &l->inc;
	f.events = &l->events;
	f.pages = &l->pages;
	f.updates = &l->updates;
	f.history = &l->history;
	if (o.public && (rc = load_public(ctx, log, o.id, f.now, l, &f.pub)) != MCTL_EXIT_OK)
		goto out;
	f.model = l->have_model ? &l->model : NULL;
	f.public_series = l->series;
	pm_window(l->inc.opened_at, l->inc.state == ILOG_STATE_RESOLVED ? l->inc.resolved_at : 0,
	    f.now, &f.from, &f.until);
	if (l->inc.cluster[0] != '\0' && ilog_history_read(log, l->inc.cluster, f.from, f.until,
	    &l->history, err, sizeof(err)) != ILOG_OK) {
		mctl_error("postmortem: %s", err);
		rc = MCTL_EXIT_CONFIG;
		goto out;
	}
	rc = write_outputs(&o, &f, l);
out:
	ilog_close(log);
	loaded_release(l);
	free(l);
	return rc;
}
