/*
 * mctl oncall, mctl page: who is on call (the rotations of the configuration with the
 * overrides recorded in the incident log), overrides, and test pages. Both write only
 * to the log; mcalert picks the records up (docs/alerter.md).
 *
 *   mctl oncall [--rotation R]                          now and next, and overrides
 *   mctl oncall override JID --until T [--from T] [--rotation R]
 *   mctl oncall cancel ID                               cancel override ID
 *   mctl page --test JID [--wait DURATION]              a test page through mcalert
 *
 * Times: a UTC date/time ("2024-05-01 18:00") or a duration from now ("8h", "2d").
 * Exit status as in mctl.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "ilog.h"
#include "jid.h"
#include "mctl.h"
#include "parse.h"
#include "rotation.h"

/* Written by mctl, read by mcalert (alerter/alerter.h has the same names). */
#define EV_PAGE_TEST "page_test"
#define EV_PAGE_TEST_DELIVERED "page_test_delivered"
#define EV_PAGE_TEST_FAILED "page_test_failed"
#define TEST_WAIT_MAX_MS (10 * 60 * 1000)
#define TEST_POLL_MS 100

static json_t *
time_json(int64_t ms)
{
	char buf[MCTL_TIME_MAX];

	mctl_format_time(ms, buf, sizeof(buf));
	return json_string(buf);
}

/* A time in the future: a duration from now, or an absolute UTC time. */
static int
parse_when(const char *s, int64_t now, int64_t *out)
{
	int64_t d;

	if (parse_duration_ms(s, &d) == 0) {
		*out = now + d;
		return 0;
	}
	return mctl_parse_time(s, now, out);
}

/* The rotations of the configuration; errors of other sections do not matter here. */
static int
load_rotations(struct mctl *ctx, struct rotations *rot)
{
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	size_t i;
	int rc = 0;

	if (config_load(&cfg, ctx->config_path, &errs) != 0) {
		mctl_error("cannot read the configuration %s%s%s", ctx->config_path,
		    errs.n > 0 ? ": " : "", errs.n > 0 ? errs.msgs[0] : "");
		rc = -1;
	} else {
		config_errors_release(&errs);
		memset(&errs, 0, sizeof(errs));
		if (rotations_load(rot, &cfg, &errs) != 0) {
			for (i = 0; i < errs.n; i++)
				mctl_error("%s", errs.msgs[i]);
			rc = -1;
		}
	}
	config_errors_release(&errs);
	config_release(&cfg);
	return rc;
}

static json_t *
oncall_json(const struct oncall *oc)
{
	return json_pack("{s:s, s:o, s:o, s:o}", "jid", oc->jid, "start", time_json(oc->start),
	    "until", time_json(oc->end),
	    "override", oc->override_id != 0 ? json_integer(oc->override_id) : json_null());
}

static void
oncall_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl oncall [--rotation R]\n"
	    "       mctl oncall override JID --until TIME [--from TIME] [--rotation R]\n"
	    "       mctl oncall cancel ID\n"
	    "\n"
	    "Who is on call now and next, by the rotations of the configuration ([oncall],\n"
	    "[oncall NAME]) and the overrides in the incident log. An override puts JID on\n"
	    "call from --from (default now) until --until; the newest override wins. TIME is\n"
	    "a UTC date or time (2024-05-01 18:00) or a duration from now (8h, 2d).\n");
}

static int
show(struct mctl *ctx, const struct rotations *rot, const char *only)
{
	struct rotation_overrides ov = { 0 };
	char err[ILOG_ERR_LEN], a[MCTL_TIME_MAX], b[MCTL_TIME_MAX];
	json_t *arr = ctx->json ? json_array() : NULL;
	struct ilog *log;
	struct oncall now_oc, next_oc;
	int64_t now;
	size_t i, j;

	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	now = ilog_now(log);
	if (rotation_overrides_read(log, now, &ov, err, sizeof(err)) != 0) {
		ilog_close(log);
		json_decref(arr);
		mctl_error("oncall: %s", err);
		return MCTL_EXIT_CONFIG;
	}
	ilog_close(log);
	for (i = 0; i < rot->n; i++) {
		const struct rotation *r = &rot->v[i];
		json_t *ovs = ctx->json ? json_array() : NULL;

		if (only != NULL && strcmp(r->name, only) != 0)
			continue;
		rotation_oncall(r, &ov, now, &now_oc);
		rotation_oncall(r, &ov, now_oc.end, &next_oc);
		if (!ctx->json) {
			mctl_format_time(now_oc.end, a, sizeof(a));
			printf("%s: %s%s until %s\n", r->name, now_oc.jid,
			    now_oc.override_id != 0 ? " (override)" : "", a);
			mctl_format_time(next_oc.end, b, sizeof(b));
			printf("  next: %s%s from %s until %s\n", next_oc.jid,
			    next_oc.override_id != 0 ? " (override)" : "", a, b);
		}
		for (j = ov.n; j-- > 0;) {
			const struct rotation_override *o = &ov.v[j];
			if (strcmp(o->rotation, r->name) != 0)
				continue;
			if (ctx->json) {
				json_array_append_new(ovs, json_pack("{s:I, s:s, s:o, s:o, s:s}", "id",
				    (json_int_t)o->id, "jid", o->jid, "from", time_json(o->from), "until",
				    time_json(o->until), "by", o->actor));
			} else {
				mctl_format_time(o->from, a, sizeof(a));
				mctl_format_time(o->until, b, sizeof(b));
				printf("  override %lld: %s from %s until %s (by %s)\n", (long long)o->id,
				    o->jid, a, b, o->actor);
			}
		}
		if (ctx->json)
			json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:o}", "rotation", r->name,
			    "now", oncall_json(&now_oc), "next", oncall_json(&next_oc), "overrides",
			    ovs));
	}
	rotation_overrides_release(&ov);
	if (ctx->json)
		(void)mctl_print_json(json_pack("{s:o}", "rotations", arr), JSON_INDENT(2));
	else if (rot->n == 0)
		printf("no rotations: the configuration has no [oncall] section\n");
	return MCTL_EXIT_OK;
}

static int
override(struct mctl *ctx, const struct rotations *rot, const char *rotation, int argc,
    char **argv)
{
	const char *who = NULL, *until_s = NULL, *from_s = NULL;
	char err[ILOG_ERR_LEN], a[MCTL_TIME_MAX], b[MCTL_TIME_MAX];
	int64_t now = (int64_t)time(NULL) * 1000, from, until, id;
	struct ilog *log;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
			until_s = argv[++i];
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from_s = argv[++i];
		else if (argv[i][0] != '-' && who == NULL)
			who = argv[i];
		else {
			mctl_error("oncall override: unexpected '%s'", argv[i]);
			oncall_usage(stderr);
			return MCTL_EXIT_USAGE;
		}
	}
	if (who == NULL || until_s == NULL) {
		mctl_error("oncall override: needs JID and --until TIME");
		return MCTL_EXIT_USAGE;
	}
	if (!jid_bare_valid(who)) {
		mctl_error("oncall override: '%s' is not a JID (user@domain)", who);
		return MCTL_EXIT_USAGE;
	}
	if (rotations_find(rot, rotation) == NULL) {
		mctl_error("oncall override: there is no rotation '%s' in %s", rotation,
		    ctx->config_path);
		return MCTL_EXIT_USAGE;
	}
	from = now;
	if ((from_s != NULL && parse_when(from_s, now, &from) != 0) ||
	    parse_when(until_s, now, &until) != 0) {
		mctl_error("oncall override: '%s' is not a time (2024-05-01 18:00, or 8h from now)",
		    from_s != NULL && parse_when(from_s, now, &from) != 0 ? from_s : until_s);
		return MCTL_EXIT_USAGE;
	}
	if (until <= from || until <= now) {
		mctl_error("oncall override: it would end before it starts, or in the past");
		return MCTL_EXIT_USAGE;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	rc = rotation_override_record(log, rotation, who, from, until, mctl_actor(ctx), &id, err,
	    sizeof(err));
	ilog_close(log);
	if (rc != 0) {
		mctl_error("oncall override: %s", err);
		return MCTL_EXIT_FAIL;
	}
	if (ctx->json) {
		(void)mctl_print_json(json_pack("{s:I, s:s, s:s, s:o, s:o}", "id",
		    (json_int_t)id, "rotation", rotation, "jid", who, "from", time_json(from),
		    "until", time_json(until)), JSON_INDENT(2));
	} else {
		mctl_format_time(from, a, sizeof(a));
		mctl_format_time(until, b, sizeof(b));
		printf("override %lld: %s is on call for %s from %s until %s\n", (long long)id, who,
		    rotation, a, b);
	}
	return MCTL_EXIT_OK;
}

static int
cancel(struct mctl *ctx, int argc, char **argv)
{
	char err[ILOG_ERR_LEN];
	struct ilog *log;
	uint64_t id;
	int rc;

	if (argc != 1 || parse_u64(argv[0][0] == '#' ? argv[0] + 1 : argv[0], 1, INT64_MAX, &id) !=
	    0) {
		mctl_error("oncall cancel: needs the override's number (see mctl oncall)");
		return MCTL_EXIT_USAGE;
	}
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	rc = rotation_override_cancel(log, (int64_t)id, mctl_actor(ctx), err, sizeof(err));
	ilog_close(log);
	if (rc != 0) {
		mctl_error("oncall cancel: %s", err);
		return MCTL_EXIT_FAIL;
	}
	if (ctx->json)
		(void)mctl_print_json(json_pack("{s:I, s:b}", "override", (json_int_t)id,
		    "cancelled", 1), JSON_INDENT(2));
	else
		printf("override %llu cancelled\n", (unsigned long long)id);
	return MCTL_EXIT_OK;
}

int
cmd_oncall(struct mctl *ctx, int argc, char **argv)
{
	struct rotations rot = { 0 };
	const char *rotation = NULL;
	char *rest[16];
	int i, n = 0, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			oncall_usage(stdout);
			return MCTL_EXIT_OK;
		}
		if (strcmp(argv[i], "--rotation") == 0 && i + 1 < argc) {
			rotation = argv[++i];
		} else if (n < (int)(sizeof(rest) / sizeof(rest[0]))) {
			rest[n++] = argv[i];
		} else {
			mctl_error("oncall: too many arguments");
			return MCTL_EXIT_USAGE;
		}
	}
	if (n > 0 && strcmp(rest[0], "cancel") == 0)
		return cancel(ctx, n - 1, rest + 1);
	if (load_rotations(ctx, &rot) != 0)
		return MCTL_EXIT_CONFIG;
	if (n == 0)
		rc = show(ctx, &rot, rotation);
	else if (strcmp(rest[0], "override") == 0)
		rc = override(ctx, &rot, rotation != NULL ? rotation : ROTATION_DEFAULT, n - 1,
		    rest + 1);
	else {
		mctl_error("oncall: unknown subcommand '%s'", rest[0]);
		oncall_usage(stderr);
		rc = MCTL_EXIT_USAGE;
	}
	rotations_release(&rot);
	return rc;
}

/* --- page --test ---------------------------------------------------------------------- */

/* The request's outcome from the log: 1 delivered, -1 failed, 0 not yet. */
static int
test_outcome(struct ilog *log, int64_t request, int64_t *after, char *detail, size_t len)
{
	struct ilog_events evs = { 0 };
	char err[ILOG_ERR_LEN];
	int rc = 0;
	size_t i;

	if (ilog_tail(log, *after, 0, &evs, err, sizeof(err)) != ILOG_OK)
		return 0;
	for (i = 0; i < evs.n && rc == 0; i++) {
		const struct ilog_event *ev = &evs.v[i];
		bool delivered = strcmp(ev->type, EV_PAGE_TEST_DELIVERED) == 0;
		json_t *body, *req, *d;

		*after = ev->id;
		if (ev->incident_id != 0 || (!delivered && strcmp(ev->type, EV_PAGE_TEST_FAILED) != 0))
			continue;
		body = json_loads(ev->body_json, 0, NULL);
		req = json_object_get(body, "request");
		d = json_object_get(body, "detail");
		if (json_is_integer(req) && json_integer_value(req) == request) {
			rc = delivered ? 1 : -1;
			snprintf(detail, len, "%s", json_is_string(d) ? json_string_value(d) : "");
		}
		json_decref(body);
	}
	ilog_events_release(&evs);
	return rc;
}

int
cmd_page(struct mctl *ctx, int argc, char **argv)
{
	static const char usage[] = "usage: mctl page --test JID [--wait DURATION]";
	const char *who = NULL;
	char err[ILOG_ERR_LEN], body[JID_MAX + 64], detail[ILOG_MESSAGE_MAX + 1];
	int64_t wait_ms = 0, id, after, start, now;
	struct ilog *log;
	json_t *j;
	char *text;
	int i, outcome = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n\nAsks mcalert to send JID a test page (it must be running). "
			       "With --wait,\nwaits for its delivery receipt.\n", usage);
			return MCTL_EXIT_OK;
		} else if (strcmp(argv[i], "--test") == 0 && i + 1 < argc) {
			who = argv[++i];
		} else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			if (parse_duration_ms(argv[++i], &wait_ms) != 0 || wait_ms > TEST_WAIT_MAX_MS) {
				mctl_error("page: --wait '%s' is not a duration up to 10m", argv[i]);
				return MCTL_EXIT_USAGE;
			}
		} else {
			mctl_error("page: unexpected '%s'\n%s", argv[i], usage);
			return MCTL_EXIT_USAGE;
		}
	}
	if (who == NULL) {
		mctl_error("page: only test pages are sent by hand\n%s", usage);
		return MCTL_EXIT_USAGE;
	}
	if (!jid_bare_valid(who)) {
		mctl_error("page: '%s' is not a JID (user@domain)", who);
		return MCTL_EXIT_USAGE;
	}
	j = json_pack("{s:s}", "target", who);
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	snprintf(body, sizeof(body), "%s", text != NULL ? text : "{}");
	free(text);
	if ((log = mctl_open_log(ctx)) == NULL)
		return MCTL_EXIT_CONFIG;
	if (ilog_event_append(log, 0, mctl_actor(ctx), EV_PAGE_TEST, body, &id, err, sizeof(err)) !=
	    ILOG_OK) {
		ilog_close(log);
		mctl_error("page: %s", err);
		return MCTL_EXIT_CONFIG;
	}
	after = id;
	start = ilog_now(log);
	detail[0] = '\0';
	for (now = start; wait_ms > 0 && now - start < wait_ms; now = ilog_now(log)) {
		if ((outcome = test_outcome(log, id, &after, detail, sizeof(detail))) != 0)
			break;
		usleep(TEST_POLL_MS * 1000);
	}
	ilog_close(log);
	if (ctx->json) {
		(void)mctl_print_json(json_pack("{s:I, s:s, s:s, s:o}", "request",
		    (json_int_t)id, "target", who, "outcome", outcome > 0 ? "delivered" :
		    outcome < 0 ? "failed" : wait_ms > 0 ? "no answer" : "requested",
		    "elapsed_ms", outcome != 0 ? json_integer(now - start) : json_null()),
		    JSON_INDENT(2));
	} else if (wait_ms == 0) {
		printf("test page %lld for %s requested; mcalert sends it\n", (long long)id, who);
	} else if (outcome > 0) {
		printf("test page %lld delivered to %s in %.1f s\n", (long long)id, who,
		    (double)(now - start) / 1000.0);
	} else if (outcome < 0) {
		printf("test page %lld to %s failed: %s\n", (long long)id, who,
		    detail[0] != '\0' ? detail : "?");
	} else {
		printf("test page %lld to %s: no answer within the wait (is mcalert running?)\n",
		    (long long)id, who);
	}
	return wait_ms == 0 || outcome > 0 ? MCTL_EXIT_OK : MCTL_EXIT_FAIL;
}
