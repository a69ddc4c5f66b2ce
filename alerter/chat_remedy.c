/*
 * chat_remedy — see chat_remedy.h.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat_remedy.h"
#include "daemon.h"
#include "ilog_remedy.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "remedy.h"
#include "utctime.h"

/* An append-only reply in the caller's buffer (cut when full). */
struct reply {
	char *buf;
	size_t len, used;
};

static void __attribute__((format(printf, 2, 3)))
say(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->used + 1 >= r->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->used, r->len - r->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->used = r->used + (size_t)n < r->len ? r->used + (size_t)n : r->len - 1;
}

/* A stored suggestion as a remedy request (its strings borrowed from s, a connlimit's
 * file from tenants_path); -1 for a verb this build cannot run or a bad argument. */
static int
request_of(const struct ilog_remedy *s, const char *tenants_path, int64_t timeout_ms,
    struct remedy_request *req)
{
	static const struct {
		const char *word;
		enum remedy_verb verb;
	} verbs[] = { { "flush", REMEDY_FLUSH }, { "drain", REMEDY_DRAIN },
		      { "rebalance", REMEDY_REBALANCE }, { "connlimit", REMEDY_CONNLIMIT } };
	size_t i;

	memset(req, 0, sizeof(*req));
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(s->verb, verbs[i].word) == 0)
			break;
	}
	if (i == sizeof(verbs) / sizeof(verbs[0]))
		return -1;
	req->verb = verbs[i].verb;
	req->node = s->node[0] != '\0' ? s->node : NULL;
	req->cluster = s->node[0] != '\0' ? NULL : s->cluster;
	req->tenant = s->tenant[0] != '\0' ? s->tenant : NULL;
	req->shed = s->arg > 0 ? (uint64_t)s->arg : 0;
	req->drain_on = true;
	req->incident = s->incident_id;
	req->timeout_ms = timeout_ms;
	if (req->verb == REMEDY_CONNLIMIT) {
		/* The page offers a new-connection rate; the tenant's maximum is left alone. */
		if (req->tenant == NULL || s->arg < 1 || s->arg > (int64_t)TENANT_CONN_LIMIT_MAX)
			return -1;
		req->shed = 0;
		req->tenants_path = tenants_path;
		req->limits.set_conn_rate = true;
		req->limits.conn_rate = (uint64_t)s->arg;
	}
	return 0;
}

/* Prepares rm for s over the running configuration's topology, or says why not. */
static int
prepare(struct alerter *a, const struct ilog_remedy *s, struct remedy *rm, struct reply *r)
{
	struct remedy_request req;
	enum remedy_status st;

	memset(rm, 0, sizeof(*rm));
	if (request_of(s, alerter_config(a)->tenants_path, alerter_config(a)->remedy_timeout_ms,
	    &req) != 0) {
		say(r, "#%" PRId64 ": suggestion %d (%s) cannot be run from chat; see the runbook.",
		    s->incident_id, s->number, s->verb);
		return -1;
	}
	st = remedy_prepare(rm, &alerter_config(a)->clusters, &req);
	if (st == REMEDY_OK && rm->n > 0)
		return 0;
	if (st == REMEDY_NOMEM)
		say(r, "Sorry, mcalert is out of memory.");
	else
		say(r, "#%" PRId64 ": suggestion %d names %s %s, which mcalert's configuration "
		    "does not have (or it has no node to act on); use mctl.", s->incident_id,
		    s->number, req.node != NULL ? "node" : "cluster",
		    req.node != NULL ? req.node : req.cluster);
	return -1;
}

/* Why a suggestion cannot run, in words, or NULL if it can. */
static const char *
refusal(enum confirm_verdict v)
{
	switch (v) {
	case CONFIRM_RUNNABLE:
		return NULL;
	case CONFIRM_ALREADY_RUN:
		return "it was already run";
	case CONFIRM_RESOLVED:
		return "the incident is resolved";
	case CONFIRM_SUPERSEDED:
		return "newer evidence replaced it; see the latest page";
	case CONFIRM_EXPIRED:
		return "it has expired (suggestions last 30 minutes); see the runbook or mctl";
	}
	return "it cannot be run";
}

/*
 * Suggestion number of incident id, if it may be run now (judged against the
 * incident's state and latest evidence): 0 with *s, or -1 with the refusal said.
 */
static int
load_runnable(struct alerter *a, int64_t id, int number, int64_t now,
    struct ilog_remedy *s, struct reply *r)
{
	char err[ILOG_ERR_LEN], when[UTC_TEXT_MAX];
	struct snap snap;
	enum ilog_status st;
	enum confirm_verdict v;
	const char *why;

	st = alerter_snap_load(a, id, &snap, err, sizeof(err));
	if (st == ILOG_ERR_NOT_FOUND) {
		say(r, "There is no incident #%" PRId64 ".", id);
		return -1;
	}
	if (st != ILOG_OK) {
		alerter_snap_release(&snap);
		say(r, "Sorry, the incident log cannot be read: %s", err);
		return -1;
	}
	st = ilog_remedy_get(alerter_log(a), id, number, s, err, sizeof(err));
	if (st == ILOG_ERR_NOT_FOUND) {
		say(r, "#%" PRId64 " has no suggestion %d.", id, number);
		alerter_snap_release(&snap);
		return -1;
	}
	if (st != ILOG_OK) {
		say(r, "Sorry, the incident log cannot be read: %s", err);
		alerter_snap_release(&snap);
		return -1;
	}
	v = confirm_judge(s, snap.inc.state == ILOG_STATE_RESOLVED, snap.evidence_event, now);
	alerter_snap_release(&snap);
	if ((why = refusal(v)) == NULL)
		return 0;
	if (v == CONFIRM_ALREADY_RUN) {
		utc_format(s->run_at, when, sizeof(when));
		say(r, "Refused: #%" PRId64 "'s suggestion %d was already run by %s at %s.", id,
		    number, message_who(s->run_by), when);
	} else {
		say(r, "Refused: #%" PRId64 "'s suggestion %d (%s): %s.", id, number, s->sentence,
		    why);
	}
	return -1;
}

/* What running rm will do, in the words of the question. 0, or -1 if nothing would. */
static int
describe(const struct remedy *rm, const struct ilog_remedy *s, struct reply *r)
{
	const struct remedy_request *q = &rm->req;
	size_t i, shown = 0;

	say(r, "Run on #%" PRId64 ": ", s->incident_id);
	switch (q->verb) {
	case REMEDY_REBALANCE:
		say(r, "rebalance %s — close ", rm->c->name);
		for (i = 0; i < rm->n; i++) {
			if (rm->res[i].error[0] != '\0' || rm->res[i].shed == 0)
				continue;
			say(r, "%s%llu of %s's %llu connections", shown > 0 ? ", " : "",
			    (unsigned long long)rm->res[i].shed, rm->targets[i]->name,
			    (unsigned long long)rm->res[i].connections);
			shown++;
		}
		if (shown == 0) {
			r->used = 0;
			r->buf[0] = '\0';
			say(r, "#%" PRId64 ": nothing to rebalance on %s now: ", s->incident_id,
			    rm->c->name);
			for (i = 0; i < rm->n; i++) {
				if (rm->res[i].error[0] != '\0')
					say(r, "%s%s cannot be read (%s)", i > 0 ? ", " : "",
					    rm->targets[i]->name, rm->res[i].error);
				else
					say(r, "%s%s holds %llu", i > 0 ? ", " : "", rm->targets[i]->name,
					    (unsigned long long)rm->res[i].connections);
			}
			say(r, ".");
			return -1;
		}
		say(r, " (idle ones first) so that clients reconnect evenly");
		break;
	case REMEDY_FLUSH:
		if (q->tenant != NULL)
			say(r, "flush tenant %s on %s — its cached data is dropped on ", q->tenant,
			    rm->c->name);
		else
			say(r, "flush EVERY tenant on %s — all cached data is dropped on ",
			    rm->c->name);
		for (i = 0; i < rm->n; i++)
			say(r, "%s%s", i > 0 ? ", " : "", rm->targets[i]->name);
		break;
	case REMEDY_DRAIN:
		say(r, "drain %s — new client connections refused on ", rm->c->name);
		for (i = 0; i < rm->n; i++)
			say(r, "%s%s", i > 0 ? ", " : "", rm->targets[i]->name);
		break;
	case REMEDY_CONNLIMIT:
		say(r, "set tenant %s's limit to %llu new connections a second (max connections "
		    "unchanged) in the tenants file %s and reload ", q->tenant,
		    (unsigned long long)q->limits.conn_rate, q->tenants_path);
		for (i = 0; i < rm->n; i++)
			say(r, "%s%s", i > 0 ? ", " : "", rm->targets[i]->name);
		break;
	}
	for (i = 0; i < rm->n; i++) {
		if (rm->res[i].error[0] != '\0')
			say(r, " (%s cannot be read: %s; left alone)", rm->targets[i]->name,
			    rm->res[i].error);
	}
	say(r, ". Reply yes within %d s.", CONFIRM_WINDOW_MS / 1000);
	return 0;
}

/* Puts the plan the question announced back into rm: exactly what was said runs. */
static void
apply_plan(struct remedy *rm, const struct confirm_wait *w)
{
	size_t i, j;

	if (rm->req.verb != REMEDY_REBALANCE)
		return;
	for (i = 0; i < rm->n; i++) {
		rm->res[i].shed = 0;
		for (j = 0; j < w->nplan; j++) {
			if (strcmp(w->plan[j].node, rm->targets[i]->name) == 0) {
				rm->res[i].shed = w->plan[j].shed;
				rm->res[i].connections = w->plan[j].connections;
			}
		}
	}
}

static void
outcome(const struct remedy *rm, const struct ilog_remedy *s, struct reply *r)
{
	size_t i;

	say(r, "#%" PRId64 ": %s — done on %zu of %zu", s->incident_id, s->sentence,
	    rm->n - rm->failed, rm->n);
	for (i = 0; i < rm->n; i++) {
		const struct remedy_result *res = &rm->res[i];
		say(r, "%s %s: ", i == 0 ? ":" : ";", res->node->name);
		if (!res->ok)
			say(r, "FAILED: %s", res->error);
		else if (rm->req.verb == REMEDY_REBALANCE)
			say(r, "OK, closing %llu of %llu connections", (unsigned long long)res->shed,
			    (unsigned long long)res->connections);
		else if (rm->req.verb == REMEDY_CONNLIMIT)
			say(r, "OK, reloaded");
		else
			say(r, "OK");
	}
	if (rm->req.verb == REMEDY_CONNLIMIT && rm->applied)
		say(r, "; tenant %s: %u new connections a second (was %u; 0 = none), at most %u "
		    "connections (0 = none)", rm->req.tenant, (unsigned)rm->limits.conn_rate,
		    (unsigned)rm->limits.conn_rate_before, (unsigned)rm->limits.max_conns);
}

/*
 * The job: what "run K" or "yes" hands the worker thread. The loop fills it (the log is
 * read and the suggestion claimed there: ilog is the loop's), the worker does only what
 * waits on the network or the disk (remedy_plan, the tenants file, remedy_run_node), and
 * the loop finishes it (the question, or the outcome recorded and said). Its strings
 * are its own: rm's request borrows from s and the running configuration, which
 * alerter.c does not reload while a job is out (chat_remedy_busy).
 */
enum job_kind { JOB_PLAN, JOB_RUN };

struct chat_job {
	enum job_kind kind;
	char to[CHAT_REMEDY_TO_MAX + 1];   /* the full JID the reply goes to */
	char bare[JID_MAX + 1];
	char actor[ILOG_ACTOR_MAX + 1];
	struct ilog_remedy s;
	struct confirm_wait w;
	struct remedy rm;
	char file_err[TENANTS_ERR_LEN];
};

struct chat_remedy {
	pthread_t thread;
	struct chat_job *job;      /* NULL when none is out */
	atomic_bool done;          /* the worker's part of job is over */
};

struct chat_remedy *
chat_remedy_new(void)
{
	return calloc(1, sizeof(struct chat_remedy));
}

bool
chat_remedy_busy(const struct chat_remedy *cr)
{
	return cr != NULL && cr->job != NULL;
}

static void *
work(void *arg)
{
	struct chat_remedy *cr = arg;
	struct chat_job *j = cr->job;
	size_t i;

	if (j->kind == JOB_PLAN) {
		remedy_plan(&j->rm);
	} else {
		/* A connlimit's file first: a node is told to reload only a file that changed. */
		j->file_err[0] = '\0';
		(void)remedy_connlimit_apply(&j->rm, j->file_err, sizeof(j->file_err));
		for (i = 0; i < j->rm.n; i++)
			remedy_run_node(&j->rm, i);
	}
	atomic_store(&cr->done, true);
	return NULL;
}

/* Hands j (prepared) to a worker; 0, or -1 with j released and the reason said. */
static int
start(struct chat_remedy *cr, struct chat_job *j, struct reply *r)
{
	int rc;

	cr->job = j;
	atomic_store(&cr->done, false);
	if ((rc = pthread_create(&cr->thread, NULL, work, cr)) != 0) {
		cr->job = NULL;
		log_err("cannot start a remedy's thread: %s", strerror(rc));
		say(r, "Sorry, mcalert cannot run a remedy now (no thread); nothing was done.");
		remedy_release(&j->rm);
		free(j);
		return -1;
	}
	return 0;
}

/* The question of a planned "run K", on the loop. */
static void
finish_plan(struct alerter *a, struct confirm *cf, struct chat_job *j, struct reply *r)
{
	struct confirm_wait w;
	size_t i;

	(void)a;
	if (describe(&j->rm, &j->s, r) != 0)
		return;
	memset(&w, 0, sizeof(w));
	w.remedy_id = j->s.id;
	w.incident_id = j->s.incident_id;
	w.number = j->s.number;
	/* The minute runs from the question, not from the "run" its plan waited on. */
	w.asked_at = ilog_now(alerter_log(a));
	for (i = 0; i < j->rm.n && i < CONFIRM_PLAN_MAX; i++) {
		struct confirm_step *p = &w.plan[w.nplan++];
		snprintf(p->node, sizeof(p->node), "%s", j->rm.targets[i]->name);
		p->connections = j->rm.res[i].connections;
		/* A target that could not be read is left alone at "yes". */
		p->shed = j->rm.res[i].error[0] != '\0' ? 0 : j->rm.res[i].shed;
	}
	confirm_ask(cf, j->bare, &w);
}

/* The outcome of a "yes", on the loop: recorded on the incident and said. */
static void
finish_run(struct alerter *a, struct chat_job *j, struct reply *r)
{
	char err[ILOG_ERR_LEN];
	int64_t event_id = 0;
	json_t *body;

	if (j->file_err[0] != '\0')
		log_err("#%" PRId64 ": suggestion %d: the tenants file was not changed: %s",
		    j->s.incident_id, j->s.number, j->file_err);
	body = remedy_event_body(&j->rm);
	if (body != NULL)
		json_object_set_new(body, "suggestion", json_integer(j->s.number));
	if (body != NULL && j->file_err[0] != '\0')
		json_object_set_new(body, "error", json_string(j->file_err));
	outcome(&j->rm, &j->s, r);
	if (j->file_err[0] != '\0')
		say(r, ". The tenants file was NOT changed: %s", j->file_err);
	if (remedy_record(&j->rm, alerter_log(a), j->actor, body, &event_id, err,
	    sizeof(err)) != 0) {
		log_err("#%" PRId64 ": suggestion %d was run by %s but not recorded: %s",
		    j->s.incident_id, j->s.number, j->actor, err);
		say(r, ". NOT recorded in the incident log: %s", err);
	} else {
		(void)ilog_remedy_done(alerter_log(a), j->s.id, event_id, err, sizeof(err));
		say(r, ". Recorded as event %" PRId64 ".", event_id);
	}
	json_decref(body);
	alerter_mark_wrote(a);
	alerter_mark_dirty(a, j->s.incident_id);
}

void
chat_remedy_poll(struct alerter *a, struct chat_remedy *cr, struct confirm *cf, bool wait)
{
	struct chat_job *j;
	char out[CHAT_REMEDY_REPLY_MAX];
	struct reply r = { out, sizeof(out), 0 };

	if (cr == NULL || (j = cr->job) == NULL || (!wait && !atomic_load(&cr->done)))
		return;
	pthread_join(cr->thread, NULL);
	cr->job = NULL;
	out[0] = '\0';
	if (j->kind == JOB_PLAN)
		finish_plan(a, cf, j, &r);
	else
		finish_run(a, j, &r);
	if (out[0] != '\0')
		alerter_reply(a, j->to, out);
	remedy_release(&j->rm);
	free(j);
}

void
chat_remedy_free(struct chat_remedy *cr)
{
	if (cr == NULL)
		return;
	/* chat_remedy_poll(..., true) finished any job first (alerter_run's end). */
	if (cr->job != NULL) {
		pthread_join(cr->thread, NULL);
		remedy_release(&cr->job->rm);
		free(cr->job);
	}
	free(cr);
}

/* A job for to/bare, or NULL with the reason said. */
static struct chat_job *
new_job(enum job_kind kind, const char *to, const char *bare, const char *actor,
    struct reply *r)
{
	struct chat_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		say(r, "Sorry, mcalert is out of memory.");
		return NULL;
	}
	j->kind = kind;
	snprintf(j->to, sizeof(j->to), "%s", to);
	snprintf(j->bare, sizeof(j->bare), "%s", bare);
	snprintf(j->actor, sizeof(j->actor), "%s", actor != NULL ? actor : "");
	return j;
}

static void
say_busy(const struct chat_remedy *cr, struct reply *r)
{
	say(r, "mcalert is running #%" PRId64 "'s suggestion %d; say it again when that one "
	    "reports.", cr->job->s.incident_id, cr->job->s.number);
}

void
chat_remedy_run(struct alerter *a, struct chat_remedy *cr, struct confirm *cf,
    const char *to, const char *bare, int64_t incident_id, int number, int64_t now,
    char *out, size_t len)
{
	struct reply r = { out, len, 0 };
	struct chat_job *j;

	(void)cf;
	out[0] = '\0';
	if (incident_id == 0) {
		say(&r, "You have no unresolved page. Say \"run %d N\" for incident N.", number);
		return;
	}
	if (chat_remedy_busy(cr)) {
		say_busy(cr, &r);
		return;
	}
	if ((j = new_job(JOB_PLAN, to, bare, NULL, &r)) == NULL)
		return;
	if (load_runnable(a, incident_id, number, now, &j->s, &r) != 0 ||
	    prepare(a, &j->s, &j->rm, &r) != 0) {
		remedy_release(&j->rm);
		free(j);
		return;
	}
	/* A rebalance reads each node's connections: on the worker, the question after. */
	(void)start(cr, j, &r);
}

void
chat_remedy_yes(struct alerter *a, struct chat_remedy *cr, struct confirm *cf,
    const char *to, const char *bare, const char *actor, int64_t now, char *out, size_t len)
{
	struct reply r = { out, len, 0 };
	char err[ILOG_ERR_LEN];
	struct chat_job *j;
	enum ilog_status st;

	out[0] = '\0';
	if ((j = new_job(JOB_RUN, to, bare, actor, &r)) == NULL)
		return;
	switch (confirm_take(cf, bare, now, &j->w)) {
	case CONFIRM_NOTHING:
		say(&r, "Nothing waits for your yes: say \"run K\" for a page's suggestion K first.");
		free(j);
		return;
	case CONFIRM_LATE:
		say(&r, "Too late: more than %d s passed since you asked for #%" PRId64 "'s "
		    "suggestion %d; nothing was done. Say \"run %d %" PRId64 "\" again.",
		    CONFIRM_WINDOW_MS / 1000, j->w.incident_id, j->w.number, j->w.number,
		    j->w.incident_id);
		free(j);
		return;
	case CONFIRM_GO:
		break;
	}
	if (load_runnable(a, j->w.incident_id, j->w.number, now, &j->s, &r) != 0) {
		free(j);
		return;
	}
	if (j->s.id != j->w.remedy_id) {
		say(&r, "Refused: #%" PRId64 "'s suggestions changed since you asked; nothing was "
		    "done. See the latest page.", j->w.incident_id);
		free(j);
		return;
	}
	if (chat_remedy_busy(cr)) {
		/* Still this sender's question, as it was: a yes after the other one may run it. */
		confirm_ask(cf, bare, &j->w);
		say_busy(cr, &r);
		free(j);
		return;
	}
	if (prepare(a, &j->s, &j->rm, &r) != 0) {
		remedy_release(&j->rm);
		free(j);
		return;
	}
	/* The log decides who runs it: once, whoever else said yes. */
	st = ilog_remedy_claim(alerter_log(a), j->s.id, actor, &j->s, err, sizeof(err));
	alerter_mark_wrote(a);
	if (st != ILOG_OK) {
		say(&r, "Refused: #%" PRId64 "'s suggestion %d: %s; nothing was done.",
		    j->w.incident_id, j->w.number, err);
		remedy_release(&j->rm);
		free(j);
		return;
	}
	apply_plan(&j->rm, &j->w);
	log_info("#%" PRId64 ": suggestion %d (%s) run by %s", j->s.incident_id, j->s.number,
	    j->s.sentence, actor);
	(void)start(cr, j, &r);
}
