/*
 * ilog remedies: the suggestions offered on pages and their runs. See
 * lib/ilog_remedy.h for the contract, ilog_int.h for the shape.
 */
#include <stdlib.h>
#include <string.h>

#include "ilog_int.h"
#include "ilog_remedy.h"
#include "utctime.h"

static int
read_remedy(sqlite3_stmt *s, void *elem)
{
	struct ilog_remedy *r = elem;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->incident_id = sqlite3_column_int64(s, 1);
	r->number = sqlite3_column_int(s, 2);
	r->evidence_event = sqlite3_column_int64(s, 3);
	r->created_at = sqlite3_column_int64(s, 4);
	copy_col(s, 5, r->verb, sizeof(r->verb));
	copy_col(s, 6, r->cluster, sizeof(r->cluster));
	copy_col(s, 7, r->node, sizeof(r->node));
	copy_col(s, 8, r->tenant, sizeof(r->tenant));
	r->arg = sqlite3_column_int64(s, 9);
	copy_col(s, 10, r->sentence, sizeof(r->sentence));
	r->superseded_at = sqlite3_column_int64(s, 11);
	r->run_at = sqlite3_column_int64(s, 12);
	copy_col(s, 13, r->run_by, sizeof(r->run_by));
	r->run_event = sqlite3_column_int64(s, 14);
	return 0;
}

static const struct ilog_row_type remedy_rows = { sizeof(struct ilog_remedy), read_remedy,
	"out of memory reading remedies", "cannot read remedies" };

void
ilog_remedies_release(struct ilog_remedies *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* The unresolved incident id, or why not. */
static enum ilog_status
unresolved(struct ilog *log, int64_t id, char *err, size_t errlen)
{
	struct ilog_incident inc;
	enum ilog_status st;

	if ((st = ilog_load_incident(log, id, &inc, err, errlen)) != ILOG_OK)
		return st;
	if (inc.state == ILOG_STATE_RESOLVED) {
		errbuf_set(err, errlen, "incident %lld is resolved", (long long)id);
		return ILOG_ERR_STATE;
	}
	return ILOG_OK;
}

struct offer_args {
	int64_t incident_id, evidence_event;
	const struct ilog_remedy *list;
	size_t n;
	bool changed;
};

static enum ilog_status
offer_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct offer_args *a = arg;
	int64_t now = ilog_now(log), current = -1;
	enum ilog_status st;
	sqlite3_stmt *s;
	size_t i;

	a->changed = false;
	if ((st = unresolved(log, a->incident_id, err, errlen)) != ILOG_OK)
		return st;
	if ((st = ilog_prep(log, ST_REM_CURRENT_EVIDENCE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->incident_id);
	if ((st = ilog_query_i64(log, s, -1, &current, "cannot read remedies", err,
	    errlen)) != ILOG_OK)
		return st;
	if (current == a->evidence_event)
		return ILOG_OK;
	if ((st = ilog_prep(log, ST_REM_SUPERSEDE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->incident_id);
	sqlite3_bind_int64(s, 2, now);
	if ((st = ilog_exec(log, s, "cannot supersede remedies", err, errlen)) != ILOG_OK)
		return st;
	for (i = 0; i < a->n; i++) {
		const struct ilog_remedy *r = &a->list[i];
		if ((st = ilog_prep(log, ST_REM_INSERT, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->incident_id);
		sqlite3_bind_int(s, 2, (int)i + 1);
		sqlite3_bind_int64(s, 3, a->evidence_event);
		sqlite3_bind_int64(s, 4, now);
		sqlite3_bind_text(s, 5, r->verb, -1, SQLITE_TRANSIENT);
		bind_opt_text(s, 6, r->cluster);
		bind_opt_text(s, 7, r->node);
		bind_opt_text(s, 8, r->tenant);
		sqlite3_bind_int64(s, 9, r->arg);
		sqlite3_bind_text(s, 10, r->sentence, -1, SQLITE_TRANSIENT);
		if ((st = ilog_exec(log, s, "cannot record a remedy", err, errlen)) != ILOG_OK)
			return st;
	}
	a->changed = true;
	return ILOG_OK;
}

enum ilog_status
ilog_remedy_offer(struct ilog *log, int64_t incident_id, int64_t evidence_event,
    const struct ilog_remedy *list, size_t n, bool *changed, char *err, size_t errlen)
{
	struct offer_args a = { incident_id, evidence_event, list, n, false };
	enum ilog_status st;
	size_t i;

	if (changed != NULL)
		*changed = false;
	if (n > ILOG_REMEDY_MAX || evidence_event < 0) {
		errbuf_set(err, errlen, "at most %d remedies, from an evidence event",
		    ILOG_REMEDY_MAX);
		return ILOG_ERR_ARG;
	}
	for (i = 0; i < n; i++) {
		if ((st = ilog_check_text(list[i].verb, ILOG_REMEDY_VERB_MAX, false, TEXT_LINE,
		    "remedy verb", err, errlen)) != ILOG_OK ||
		    (st = ilog_check_text(list[i].cluster, ILOG_NAME_MAX, true, TEXT_LINE,
		    "remedy cluster", err, errlen)) != ILOG_OK ||
		    (st = ilog_check_text(list[i].node, ILOG_NAME_MAX, true, TEXT_LINE,
		    "remedy node", err, errlen)) != ILOG_OK ||
		    (st = ilog_check_text(list[i].tenant, ILOG_NAME_MAX, true, TEXT_LINE,
		    "remedy tenant", err, errlen)) != ILOG_OK ||
		    (st = ilog_check_text(list[i].sentence, ILOG_REMEDY_SENTENCE_MAX, false,
		    TEXT_LINE, "remedy sentence", err, errlen)) != ILOG_OK)
			return st;
	}
	st = ilog_call(log, ILOG_WRITE, offer_body, &a, err, errlen);
	if (st == ILOG_OK && changed != NULL)
		*changed = a.changed;
	return st;
}

struct list_args {
	int64_t incident_id;
	struct ilog_remedies *out;
};

static enum ilog_status
list_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct list_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;
	bool more = false;

	ilog_remedies_release(a->out);
	if ((st = ilog_prep(log, ST_REM_LIST, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->incident_id);
	sqlite3_bind_int(s, 2, ILOG_REMEDY_MAX);
	return ilog_collect(log, s, &remedy_rows, ILOG_REMEDY_MAX, (void **)&a->out->v,
	    &a->out->n, &more, err, errlen);
}

enum ilog_status
ilog_remedy_list(struct ilog *log, int64_t incident_id, struct ilog_remedies *out, char *err,
    size_t errlen)
{
	struct list_args a = { incident_id, out };

	return ilog_call(log, ILOG_READ, list_body, &a, err, errlen);
}

struct get_args {
	int64_t incident_id;
	int number;
	int64_t id;
	struct ilog_remedy *out;
};

static enum ilog_status
get_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct get_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, a->id != 0 ? ST_REM_BY_ID : ST_REM_GET, &s, err,
	    errlen)) != ILOG_OK)
		return st;
	if (a->id != 0) {
		sqlite3_bind_int64(s, 1, a->id);
	} else {
		sqlite3_bind_int64(s, 1, a->incident_id);
		sqlite3_bind_int(s, 2, a->number);
	}
	if ((st = ilog_step_row(log, s, "cannot read a remedy", err, errlen)) == ILOG_OK)
		(void)read_remedy(s, a->out);
	else if (st == ILOG_ERR_NOT_FOUND && a->id != 0)
		errbuf_set(err, errlen, "no remedy %lld", (long long)a->id);
	else if (st == ILOG_ERR_NOT_FOUND)
		errbuf_set(err, errlen, "no suggestion %d for incident %lld", a->number,
		    (long long)a->incident_id);
	return st;
}

enum ilog_status
ilog_remedy_get(struct ilog *log, int64_t incident_id, int number, struct ilog_remedy *out,
    char *err, size_t errlen)
{
	struct get_args a = { incident_id, number, 0, out };

	return ilog_call(log, ILOG_READ, get_body, &a, err, errlen);
}

struct claim_args {
	int64_t id;
	const char *actor;
	struct ilog_remedy *out;
};

static enum ilog_status
claim_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct claim_args *a = arg;
	struct get_args g = { 0, 0, a->id, a->out };
	char when[UTC_TEXT_MAX];
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = get_body(log, &g, err, errlen)) != ILOG_OK)
		return st;
	if (a->out->run_at != 0) {
		utc_format(a->out->run_at, when, sizeof(when));
		errbuf_set(err, errlen, "already run by %s at %s", a->out->run_by, when);
		return ILOG_ERR_STATE;
	}
	if (a->out->superseded_at != 0) {
		errbuf_set(err, errlen, "superseded by newer evidence");
		return ILOG_ERR_STATE;
	}
	if ((st = unresolved(log, a->out->incident_id, err, errlen)) != ILOG_OK)
		return st;
	if ((st = ilog_prep(log, ST_REM_CLAIM, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, ilog_now(log));
	sqlite3_bind_text(s, 3, a->actor, -1, SQLITE_TRANSIENT);
	if ((st = ilog_exec(log, s, "cannot mark a remedy run", err, errlen)) != ILOG_OK)
		return st;
	return get_body(log, &g, err, errlen);
}

enum ilog_status
ilog_remedy_claim(struct ilog *log, int64_t id, const char *actor, struct ilog_remedy *out,
    char *err, size_t errlen)
{
	struct ilog_remedy scratch;
	struct claim_args a = { id, actor, out != NULL ? out : &scratch };
	enum ilog_status st;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	return ilog_call(log, ILOG_WRITE, claim_body, &a, err, errlen);
}

struct done_args {
	int64_t id, event_id;
};

static enum ilog_status
done_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct done_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_REM_DONE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, a->event_id);
	if ((st = ilog_exec(log, s, "cannot link a remedy's event", err, errlen)) != ILOG_OK)
		return st;
	if (sqlite3_changes(log->db) == 0) {
		errbuf_set(err, errlen, "remedy %lld was not claimed", (long long)a->id);
		return ILOG_ERR_STATE;
	}
	return ILOG_OK;
}

enum ilog_status
ilog_remedy_done(struct ilog *log, int64_t id, int64_t event_id, char *err, size_t errlen)
{
	struct done_args a = { id, event_id };

	return ilog_call(log, ILOG_WRITE, done_body, &a, err, errlen);
}
