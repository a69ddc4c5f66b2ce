/*
 * mctl incidents, show, open, ack, resolve, reopen, note, update: the incident log
 * from the operator's side (docs/mctl.md). Every change is recorded with the actor
 * "mctl:<unix user>"; every command prints human text, or one JSON document with
 * --json.
 *
 * Exit status: 0 done; 1 refused (no such incident, an invalid transition); 2 usage
 * (bad flags, a bad status word, an argument too long); 3 the log cannot be used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ilog.h"
#include "ilog_pages.h"
#include "mctl.h"
#include "parse.h"

#define RUNBOOK_DIR "docs/runbooks"
#define RUNBOOK_PATH_MAX (sizeof(RUNBOOK_DIR) + ILOG_KIND_MAX + 8)
#define SUMMARY_MAX 160 /* characters of an event body shown in a timeline line */

/* The exit status for a failed ilog call. */
static int
exit_for(enum ilog_status st)
{
	switch (st) {
	case ILOG_OK:
		return MCTL_EXIT_OK;
	case ILOG_ERR_ARG:
		return MCTL_EXIT_USAGE;
	case ILOG_ERR_DB:
		return MCTL_EXIT_CONFIG;
	case ILOG_ERR_NOT_FOUND:
	case ILOG_ERR_STATE:
	case ILOG_ERR_FULL:
		break;
	}
	return MCTL_EXIT_FAIL;
}

static int
parse_id(const char *cmd, const char *s, int64_t *id)
{
	uint64_t v;

	if (s[0] == '#')
		s++;
	if (parse_u64(s, 1, INT64_MAX, &v) != 0) {
		mctl_error("%s: '%s' is not an incident number", cmd, s);
		return -1;
	}
	*id = (int64_t)v;
	return 0;
}

static json_t *
time_json(int64_t ms)
{
	char buf[MCTL_TIME_MAX];

	if (ms <= 0)
		return json_null();
	mctl_format_time(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
opt_string(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

static void
runbook_path(const char *kind, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.md", RUNBOOK_DIR, kind);
}

static json_t *
incident_json(const struct ilog_incident *inc)
{
	char runbook[RUNBOOK_PATH_MAX];

	runbook_path(inc->kind, runbook, sizeof(runbook));
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:o, s:s}",
	    "id", (json_int_t)inc->id,
	    "title", inc->title,
	    "state", ilog_state_name(inc->state),
	    "severity", json_string(ilog_severity_name(inc->severity)),
	    "cluster", opt_string(inc->cluster),
	    "node", opt_string(inc->node),
	    "kind", inc->kind,
	    "public_status", ilog_public_status_name(inc->public_status),
	    "fingerprint", opt_string(inc->fingerprint),
	    "opened_at", time_json(inc->opened_at),
	    "updated_at", time_json(inc->updated_at),
	    "acked_at", time_json(inc->acked_at),
	    "acked_by", opt_string(inc->acked_by),
	    "resolved_at", time_json(inc->resolved_at),
	    "resolved_by", opt_string(inc->resolved_by),
	    "runbook", runbook);
}

/* --- incidents --------------------------------------------------------------------- */

static void
incidents_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl incidents [--all | --state open|acknowledged|resolved]\n"
	    "                      [--cluster C] [--limit N]\n"
	    "\n"
	    "Lists incidents, newest first: unresolved ones by default.\n");
}

int
cmd_incidents(struct mctl *ctx, int argc, char **argv)
{
	struct ilog_query q = { 0 };
	struct ilog_incidents list = { 0 };
	char err[ILOG_ERR_LEN], when[MCTL_TIME_MAX];
	enum ilog_state state;
	struct ilog *log;
	enum ilog_status st;
	bool all = false, have_state = false;
	uint64_t limit;
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		const char *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			incidents_usage(stdout);
			return MCTL_EXIT_OK;
		} else if (strcmp(argv[a], "--all") == 0) {
			all = true;
		} else if (strcmp(argv[a], "--state") == 0 && val != NULL) {
			if (ilog_state_parse(val, &state) != 0) {
				mctl_error("incidents: --state must be open, acknowledged or resolved "
					   "(not '%s')", val);
				return MCTL_EXIT_USAGE;
			}
			q.states = 1u << state;
			have_state = true;
			a++;
		} else if (strcmp(argv[a], "--cluster") == 0 && val != NULL) {
			q.cluster = val;
			a++;
		} else if (strcmp(argv[a], "--limit") == 0 && val != NULL) {
			if (parse_u64(val, 1, ILOG_LIST_MAX, &limit) != 0) {
				mctl_error("incidents: --limit must be 1-%d (not '%s')", ILOG_LIST_MAX,
				    val);
				return MCTL_EXIT_USAGE;
			}
			q.limit = (size_t)limit;
			a++;
		} else {
			mctl_error("incidents: unknown option or missing value: '%s'", argv[a]);
			incidents_usage(stderr);
			return MCTL_EXIT_USAGE;
		}
	}
	if (all && have_state) {
		mctl_error("incidents: --all and --state exclude each other");
		return MCTL_EXIT_USAGE;
	}
	if (all)
		q.states = ILOG_STATES_ALL;
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	st = ilog_incident_list(log, &q, &list, err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("incidents: %s", err);
		return exit_for(st);
	}
	if (ctx->json) {
		json_t *arr = json_array();
		for (i = 0; i < list.n; i++)
			json_array_append_new(arr, incident_json(&list.v[i]));
		(void)mctl_print_json(json_pack("{s:o, s:b}", "incidents", arr, "truncated",
		    list.truncated), JSON_INDENT(2));
	} else if (list.n == 0) {
		printf("no %sincidents\n", all ? "" : have_state ? "matching " : "unresolved ");
	} else {
		printf("%-6s %-12s %-8s %-12s %-12s %-24s %s\n", "ID", "STATE", "SEVERITY",
		    "CLUSTER", "KIND", "OPENED (UTC)", "TITLE");
		for (i = 0; i < list.n; i++) {
			const struct ilog_incident *inc = &list.v[i];
			mctl_format_time(inc->opened_at, when, sizeof(when));
			printf("%-6lld %-12s %-8s %-12s %-12s %-24s %s\n", (long long)inc->id,
			    ilog_state_name(inc->state), ilog_severity_name(inc->severity),
			    inc->cluster[0] != '\0' ? inc->cluster : "-", inc->kind, when,
			    inc->title);
		}
		if (list.truncated)
			printf("(more incidents match; use --limit or --state)\n");
	}
	ilog_incidents_release(&list);
	return MCTL_EXIT_OK;
}

/* --- show ------------------------------------------------------------------------------ */

/* A one-line summary of an event body: its message if it has one, else the JSON. */
static void
event_summary(const struct ilog_event *ev, char *buf, size_t len)
{
	json_t *body = json_loads(ev->body_json, 0, NULL);
	json_t *msg = body != NULL ? json_object_get(body, "message") : NULL;
	const char *text = ev->body_json;
	size_t n;

	if (json_is_string(msg))
		text = json_string_value(msg);
	else if (strcmp(ev->type, ILOG_EV_OPENED) == 0 && body != NULL &&
		 json_is_string(json_object_get(body, "title")))
		text = json_string_value(json_object_get(body, "title"));
	snprintf(buf, len, "%s", strcmp(text, "{}") == 0 ? "" : text);
	n = strlen(buf);
	if (n == len - 1 && len > 4)
		memcpy(buf + len - 4, "...", 4);
	/* One event, one line. */
	for (n = 0; buf[n] != '\0'; n++) {
		if (buf[n] == '\n' || buf[n] == '\r' || buf[n] == '\t')
			buf[n] = ' ';
	}
	json_decref(body);
}

static json_t *
event_json(const struct ilog_event *ev)
{
	json_t *body = json_loads(ev->body_json, 0, NULL);

	return json_pack("{s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)ev->id,
	    "time", time_json(ev->at), "actor", ev->actor, "type", ev->type,
	    "body", body != NULL ? body : json_string(ev->body_json));
}

static json_t *
page_json(const struct ilog_page *p)
{
	return json_pack("{s:I, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", (json_int_t)p->id, "step", p->step, "target", p->target,
	    "sent_at", time_json(p->sent_at), "delivered_at", time_json(p->delivered_at),
	    "displayed_at", time_json(p->displayed_at), "failed_at", time_json(p->failed_at),
	    "acked_at", time_json(p->acked_at), "next_deadline", time_json(p->next_deadline),
	    "detail", opt_string(p->detail));
}

static void
show_human(const struct ilog_incident *inc, const struct ilog_events *ev,
    const struct ilog_pages *pages, const struct ilog_public_entries *pub)
{
	char t1[MCTL_TIME_MAX], t2[MCTL_TIME_MAX], runbook[RUNBOOK_PATH_MAX];
	char summary[SUMMARY_MAX + 1];
	size_t i;

	runbook_path(inc->kind, runbook, sizeof(runbook));
	printf("Incident %lld: %s\n", (long long)inc->id, inc->title);
	printf("  state        %s", ilog_state_name(inc->state));
	if (inc->state == ILOG_STATE_ACKNOWLEDGED) {
		mctl_format_time(inc->acked_at, t1, sizeof(t1));
		printf(" (by %s at %s)", inc->acked_by, t1);
	} else if (inc->state == ILOG_STATE_RESOLVED) {
		mctl_format_time(inc->resolved_at, t1, sizeof(t1));
		printf(" (by %s at %s)", inc->resolved_by, t1);
	}
	printf("\n  severity     %s\n", ilog_severity_name(inc->severity));
	printf("  kind         %s\n", inc->kind);
	printf("  runbook      %s%s\n", runbook, access(runbook, F_OK) == 0 ? "" :
							      " (not written yet)");
	if (inc->cluster[0] != '\0' || inc->node[0] != '\0')
		printf("  where        cluster %s%s%s\n", inc->cluster[0] ? inc->cluster : "-",
		    inc->node[0] ? ", node " : "", inc->node);
	mctl_format_time(inc->opened_at, t1, sizeof(t1));
	mctl_format_time(inc->updated_at, t2, sizeof(t2));
	printf("  opened       %s\n  updated      %s\n", t1, t2);
	printf("  public       %s\n", ilog_public_status_name(inc->public_status));
	if (inc->fingerprint[0] != '\0')
		printf("  fingerprint  %s\n", inc->fingerprint);

	printf("\nTimeline (%zu events%s):\n", ev->n, ev->truncated ? ", first ones" : "");
	for (i = 0; i < ev->n; i++) {
		mctl_format_time(ev->v[i].at, t1, sizeof(t1));
		event_summary(&ev->v[i], summary, sizeof(summary));
		printf("  %s  %-20s %-14s %s\n", t1, ev->v[i].actor, ev->v[i].type, summary);
	}
	printf("\nPages (%zu):\n", pages->n);
	if (pages->n == 0)
		printf("  none\n");
	for (i = 0; i < pages->n; i++) {
		const struct ilog_page *p = &pages->v[i];
		mctl_format_time(p->sent_at, t1, sizeof(t1));
		printf("  step %d  %s  sent %s", p->step, p->target, t1);
		if (p->delivered_at != 0)
			printf(", delivered");
		if (p->displayed_at != 0)
			printf(", displayed");
		if (p->failed_at != 0)
			printf(", failed (%s)", p->detail);
		if (p->acked_at != 0)
			printf(", acknowledged");
		printf("\n");
	}
	printf("\nPublic updates (%zu):\n", pub->n);
	if (pub->n == 0)
		printf("  none\n");
	for (i = 0; i < pub->n; i++) {
		mctl_format_time(pub->v[i].at, t1, sizeof(t1));
		printf("  %s  %-13s %s\n", t1, ilog_public_status_name(pub->v[i].status),
		    pub->v[i].message);
	}
}

int
cmd_show(struct mctl *ctx, int argc, char **argv)
{
	struct ilog_incident inc;
	struct ilog_events ev = { 0 };
	struct ilog_pages pages = { 0 };
	struct ilog_public_entries pub = { 0 };
	char err[ILOG_ERR_LEN];
	enum ilog_status st;
	struct ilog *log;
	int64_t id;
	size_t i;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: mctl show N\n\nAn incident with its timeline, pages, public "
		       "updates and runbook.\n");
		return MCTL_EXIT_OK;
	}
	if (argc != 2) {
		mctl_error("usage: mctl show N");
		return MCTL_EXIT_USAGE;
	}
	if (parse_id("show", argv[1], &id) != 0)
		return MCTL_EXIT_USAGE;
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	st = ilog_incident_get(log, id, &inc, err, sizeof(err));
	if (st == ILOG_OK)
		st = ilog_timeline(log, id, &ev, err, sizeof(err));
	if (st == ILOG_OK)
		st = ilog_page_list(log, id, &pages, err, sizeof(err));
	if (st == ILOG_OK)
		st = ilog_public_list(log, id, &pub, err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("show: %s", err);
		return exit_for(st);
	}
	if (ctx->json) {
		json_t *jev = json_array(), *jpages = json_array(), *jpub = json_array();
		for (i = 0; i < ev.n; i++)
			json_array_append_new(jev, event_json(&ev.v[i]));
		for (i = 0; i < pages.n; i++)
			json_array_append_new(jpages, page_json(&pages.v[i]));
		for (i = 0; i < pub.n; i++)
			json_array_append_new(jpub, json_pack("{s:o, s:s, s:s, s:s}",
			    "time", time_json(pub.v[i].at),
			    "status", ilog_public_status_name(pub.v[i].status),
			    "actor", pub.v[i].actor, "message", pub.v[i].message));
		(void)mctl_print_json(json_pack("{s:o, s:o, s:o, s:o}", "incident",
		    incident_json(&inc), "events", jev, "pages", jpages, "public_updates",
		    jpub), JSON_INDENT(2));
	} else {
		show_human(&inc, &ev, &pages, &pub);
	}
	ilog_events_release(&ev);
	ilog_pages_release(&pages);
	ilog_public_entries_release(&pub);
	return MCTL_EXIT_OK;
}

/* --- open --------------------------------------------------------------------------- */

int
cmd_open(struct mctl *ctx, int argc, char **argv)
{
	static const char usage[] = "usage: mctl open --title T --severity minor|major|critical "
				    "[--cluster C] [--node N]";
	struct ilog_incident_spec spec = { .kind = "manual" };
	struct ilog_upsert_result res;
	const char *severity = NULL;
	char err[ILOG_ERR_LEN];
	enum ilog_status st;
	struct ilog *log;
	int a;

	for (a = 1; a < argc; a++) {
		const char *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			printf("%s\n\nOpens an incident by hand (kind 'manual').\n", usage);
			return MCTL_EXIT_OK;
		}
		if (val == NULL) {
			mctl_error("open: unknown option or missing value: '%s'", argv[a]);
			return MCTL_EXIT_USAGE;
		}
		if (strcmp(argv[a], "--title") == 0)
			spec.title = val;
		else if (strcmp(argv[a], "--severity") == 0)
			severity = val;
		else if (strcmp(argv[a], "--cluster") == 0)
			spec.cluster = val;
		else if (strcmp(argv[a], "--node") == 0)
			spec.node = val;
		else {
			mctl_error("open: unknown option '%s'", argv[a]);
			return MCTL_EXIT_USAGE;
		}
		a++;
	}
	if (spec.title == NULL || severity == NULL) {
		mctl_error("%s", usage);
		return MCTL_EXIT_USAGE;
	}
	if (ilog_severity_parse(severity, &spec.severity) != 0) {
		mctl_error("open: --severity must be minor, major or critical (not '%s')", severity);
		return MCTL_EXIT_USAGE;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	st = ilog_incident_upsert(log, &spec, mctl_actor(ctx), &res, err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("open: %s", err);
		return exit_for(st);
	}
	if (ctx->json)
		(void)mctl_print_json(json_pack("{s:I, s:s, s:I}", "id", (json_int_t)res.id,
		    "state", "open", "event_id", (json_int_t)res.event_id), JSON_INDENT(2));
	else
		printf("opened incident %lld: %s\n", (long long)res.id, spec.title);
	return MCTL_EXIT_OK;
}

/* --- transitions ---------------------------------------------------------------------- */

enum change {
	CHANGE_ACK,
	CHANGE_RESOLVE,
	CHANGE_REOPEN,
};

static int
transition(struct mctl *ctx, int argc, char **argv, enum change change)
{
	static const char *const done[] = { "acknowledged", "resolved", "reopened" };
	static const char *const new_state[] = { "acknowledged", "resolved", "open" };
	const char *cmd = argv[0], *message = NULL, *idtext = NULL;
	char err[ILOG_ERR_LEN];
	enum ilog_status st;
	struct ilog *log;
	int64_t id, ev = 0;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			printf("usage: mctl %s N [--message M]\n", cmd);
			return MCTL_EXIT_OK;
		} else if (strcmp(argv[a], "--message") == 0 && a + 1 < argc) {
			message = argv[++a];
		} else if (argv[a][0] != '-' && idtext == NULL) {
			idtext = argv[a];
		} else {
			mctl_error("%s: unexpected argument '%s' (usage: mctl %s N [--message M])",
			    cmd, argv[a], cmd);
			return MCTL_EXIT_USAGE;
		}
	}
	if (idtext == NULL) {
		mctl_error("usage: mctl %s N [--message M]", cmd);
		return MCTL_EXIT_USAGE;
	}
	if (parse_id(cmd, idtext, &id) != 0)
		return MCTL_EXIT_USAGE;
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	switch (change) {
	case CHANGE_ACK:
		st = ilog_incident_ack(log, id, mctl_actor(ctx), message, &ev, err, sizeof(err));
		break;
	case CHANGE_RESOLVE:
		st = ilog_incident_resolve(log, id, mctl_actor(ctx), message, &ev, err, sizeof(err));
		break;
	default:
		st = ilog_incident_reopen(log, id, mctl_actor(ctx), message, &ev, err, sizeof(err));
		break;
	}
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("%s: %s", cmd, err);
		return exit_for(st);
	}
	if (ctx->json)
		(void)mctl_print_json(json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)id,
		    "state", new_state[change], "event_id", (json_int_t)ev, "actor",
		    mctl_actor(ctx)), JSON_INDENT(2));
	else
		printf("incident %lld %s by %s\n", (long long)id, done[change], mctl_actor(ctx));
	return MCTL_EXIT_OK;
}

int
cmd_ack(struct mctl *ctx, int argc, char **argv)
{
	return transition(ctx, argc, argv, CHANGE_ACK);
}

int
cmd_resolve(struct mctl *ctx, int argc, char **argv)
{
	return transition(ctx, argc, argv, CHANGE_RESOLVE);
}

int
cmd_reopen(struct mctl *ctx, int argc, char **argv)
{
	return transition(ctx, argc, argv, CHANGE_REOPEN);
}

/* --- note, update --------------------------------------------------------------------- */

int
cmd_note(struct mctl *ctx, int argc, char **argv)
{
	char text[ILOG_MESSAGE_MAX + 1], err[ILOG_ERR_LEN];
	enum ilog_status st;
	struct ilog *log;
	size_t len = 0, n;
	int64_t id, ev = 0;
	int a;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: mctl note N TEXT...\n\nAdds an internal note (never shown on the "
		       "status page).\n");
		return MCTL_EXIT_OK;
	}
	if (argc < 3) {
		mctl_error("usage: mctl note N TEXT...");
		return MCTL_EXIT_USAGE;
	}
	if (parse_id("note", argv[1], &id) != 0)
		return MCTL_EXIT_USAGE;
	/* The words after the number, as typed: quoting is optional. */
	for (a = 2; a < argc; a++) {
		n = strlen(argv[a]);
		if (len + n + 1 > ILOG_MESSAGE_MAX) {
			mctl_error("note: the text is longer than %d bytes", ILOG_MESSAGE_MAX);
			return MCTL_EXIT_USAGE;
		}
		if (len > 0)
			text[len++] = ' ';
		memcpy(text + len, argv[a], n);
		len += n;
	}
	text[len] = '\0';
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	st = ilog_incident_note(log, id, mctl_actor(ctx), text, &ev, err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("note: %s", err);
		return exit_for(st);
	}
	if (ctx->json)
		(void)mctl_print_json(json_pack("{s:I, s:I, s:s}", "id", (json_int_t)id,
		    "event_id", (json_int_t)ev, "actor", mctl_actor(ctx)), JSON_INDENT(2));
	else
		printf("note added to incident %lld\n", (long long)id);
	return MCTL_EXIT_OK;
}

int
cmd_update(struct mctl *ctx, int argc, char **argv)
{
	static const char usage[] = "usage: mctl update N --status "
				    "investigating|identified|monitoring|resolved --message TEXT";
	const char *status = NULL, *message = NULL, *idtext = NULL;
	enum ilog_public_status ps;
	char err[ILOG_ERR_LEN];
	enum ilog_status st;
	struct ilog *log;
	int64_t id, ev = 0;
	int a;

	for (a = 1; a < argc; a++) {
		const char *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			printf("%s\n\nPosts a public update: the status page shows it.\n", usage);
			return MCTL_EXIT_OK;
		} else if (strcmp(argv[a], "--status") == 0 && val != NULL) {
			status = val;
			a++;
		} else if (strcmp(argv[a], "--message") == 0 && val != NULL) {
			message = val;
			a++;
		} else if (argv[a][0] != '-' && idtext == NULL) {
			idtext = argv[a];
		} else {
			mctl_error("update: unexpected argument '%s'", argv[a]);
			mctl_error("%s", usage);
			return MCTL_EXIT_USAGE;
		}
	}
	if (idtext == NULL || status == NULL || message == NULL) {
		mctl_error("%s", usage);
		return MCTL_EXIT_USAGE;
	}
	if (parse_id("update", idtext, &id) != 0)
		return MCTL_EXIT_USAGE;
	if (ilog_public_status_parse(status, &ps) != 0) {
		mctl_error("update: --status must be investigating, identified, monitoring or "
			   "resolved (not '%s')", status);
		return MCTL_EXIT_USAGE;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	st = ilog_public_update(log, id, mctl_actor(ctx), ps, message, &ev, err, sizeof(err));
	ilog_close(log);
	if (st != ILOG_OK) {
		mctl_error("update: %s", err);
		return exit_for(st);
	}
	if (ctx->json)
		(void)mctl_print_json(json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)id,
		    "public_status", status, "message", message, "event_id", (json_int_t)ev),
		    JSON_INDENT(2));
	else
		printf("incident %lld public status: %s\n", (long long)id, status);
	return MCTL_EXIT_OK;
}
