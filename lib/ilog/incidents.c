/*
 * ilog incidents: opening and updating incidents, their transitions, public updates,
 * and reading them back. See lib/ilog.h for the contract, ilog_int.h for the shape.
 */
#include <stdlib.h>
#include <string.h>

#include "ilog_int.h"

/* --- names ------------------------------------------------------------------------- */

static const char *const state_names[] = { "open", "acknowledged", "resolved" };
static const char *const severity_names[] = { "?", "minor", "major", "critical" };
static const char *const public_names[] = { "none", "investigating", "identified",
	"monitoring", "resolved" };

/* The index of s among names[first..last], or -1: what every *_parse looks up. */
static int
find_name(const char *const *names, int first, int last, const char *s)
{
	int i;

	for (i = first; i <= last; i++) {
		if (strcmp(s, names[i]) == 0)
			return i;
	}
	return -1;
}

const char *
ilog_state_name(enum ilog_state s)
{
	return (unsigned)s <= ILOG_STATE_RESOLVED ? state_names[s] : "?";
}

int
ilog_state_parse(const char *s, enum ilog_state *out)
{
	int i = find_name(state_names, ILOG_STATE_OPEN, ILOG_STATE_RESOLVED, s);

	if (i >= 0)
		*out = (enum ilog_state)i;
	return i >= 0 ? 0 : -1;
}

const char *
ilog_severity_name(enum ilog_severity s)
{
	return s >= ILOG_SEVERITY_MINOR && s <= ILOG_SEVERITY_CRITICAL ? severity_names[s] : "?";
}

int
ilog_severity_parse(const char *s, enum ilog_severity *out)
{
	int i = find_name(severity_names, ILOG_SEVERITY_MINOR, ILOG_SEVERITY_CRITICAL, s);

	if (i >= 0)
		*out = (enum ilog_severity)i;
	return i >= 0 ? 0 : -1;
}

const char *
ilog_public_status_name(enum ilog_public_status s)
{
	return (unsigned)s <= ILOG_PUBLIC_RESOLVED ? public_names[s] : "?";
}

int
ilog_public_status_parse(const char *s, enum ilog_public_status *out)
{
	int i = find_name(public_names, ILOG_PUBLIC_INVESTIGATING, ILOG_PUBLIC_RESOLVED, s);

	if (i >= 0)
		*out = (enum ilog_public_status)i;
	return i >= 0 ? 0 : -1;
}

static bool
severity_valid(enum ilog_severity s)
{
	return s >= ILOG_SEVERITY_MINOR && s <= ILOG_SEVERITY_CRITICAL;
}

bool
ilog_kind_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= ILOG_KIND_MAX)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
			s[i] == '_' || s[i] == '-'))
			return false;
	}
	return true;
}

/* --- reading rows ------------------------------------------------------------------ */

static int
read_incident(sqlite3_stmt *s, void *elem)
{
	struct ilog_incident *inc = elem;
	const unsigned char *t;
	enum ilog_public_status ps = ILOG_PUBLIC_NONE;
	enum ilog_state state = ILOG_STATE_OPEN;

	memset(inc, 0, sizeof(*inc));
	inc->id = sqlite3_column_int64(s, 0);
	copy_col(s, 1, inc->fingerprint, sizeof(inc->fingerprint));
	copy_col(s, 2, inc->kind, sizeof(inc->kind));
	copy_col(s, 3, inc->cluster, sizeof(inc->cluster));
	copy_col(s, 4, inc->node, sizeof(inc->node));
	inc->severity = (enum ilog_severity)sqlite3_column_int(s, 5);
	t = sqlite3_column_text(s, 6);
	if (t != NULL)
		(void)ilog_state_parse((const char *)t, &state);
	inc->state = state;
	copy_col(s, 7, inc->title, sizeof(inc->title));
	inc->opened_at = sqlite3_column_int64(s, 8);
	inc->updated_at = sqlite3_column_int64(s, 9);
	inc->acked_at = sqlite3_column_int64(s, 10);
	copy_col(s, 11, inc->acked_by, sizeof(inc->acked_by));
	inc->resolved_at = sqlite3_column_int64(s, 12);
	copy_col(s, 13, inc->resolved_by, sizeof(inc->resolved_by));
	t = sqlite3_column_text(s, 14);
	if (t != NULL)
		(void)ilog_public_status_parse((const char *)t, &ps);
	inc->public_status = ps;
	return 0;
}

static const struct ilog_row_type incident_rows = { sizeof(struct ilog_incident),
	read_incident, "out of memory reading incidents", "cannot list incidents" };

static int
read_public_entry(sqlite3_stmt *s, void *elem)
{
	struct ilog_public_entry *e = elem;
	enum ilog_public_status ps = ILOG_PUBLIC_NONE;

	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(s, 0);
	e->incident_id = sqlite3_column_int64(s, 1);
	e->event_id = sqlite3_column_int64(s, 2);
	e->at = sqlite3_column_int64(s, 3);
	if (sqlite3_column_text(s, 4) != NULL)
		(void)ilog_public_status_parse((const char *)sqlite3_column_text(s, 4), &ps);
	e->status = ps;
	copy_col(s, 5, e->actor, sizeof(e->actor));
	copy_col(s, 6, e->message, sizeof(e->message));
	return 0;
}

static const struct ilog_row_type public_rows = { sizeof(struct ilog_public_entry),
	read_public_entry, "out of memory reading public updates",
	"cannot read public updates" };

void
ilog_incidents_release(struct ilog_incidents *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

void
ilog_public_entries_release(struct ilog_public_entries *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* --- incident access inside a transaction -------------------------------------------- */

enum ilog_status
ilog_load_incident(struct ilog *log, int64_t id, struct ilog_incident *inc, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;

	if ((st = ilog_prep(log, ST_INC_BY_ID, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = ilog_step_row(log, s, "cannot read an incident", err, errlen);
	if (st == ILOG_OK)
		read_incident(s, inc);
	else if (st == ILOG_ERR_NOT_FOUND)
		errbuf_set(err, errlen, "no incident %lld", (long long)id);
	sqlite3_reset(s);
	return st;
}

/* The unresolved incident with fingerprint fp: ILOG_OK, ILOG_ERR_NOT_FOUND (no err). */
static enum ilog_status
load_by_fingerprint(struct ilog *log, const char *fp, struct ilog_incident *inc, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;

	if ((st = ilog_prep(log, ST_INC_BY_FP, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_TRANSIENT);
	st = ilog_step_row(log, s, "cannot read an incident", err, errlen);
	if (st == ILOG_OK)
		read_incident(s, inc);
	sqlite3_reset(s);
	return st;
}

/* {"message": message} or {} (new reference), NULL on no memory. */
static json_t *
message_body(const char *message)
{
	json_t *o = json_object();

	if (o != NULL && message != NULL && message[0] != '\0' &&
	    json_object_set_new(o, "message", json_string(message)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* --- upsert ---------------------------------------------------------------------------- */

struct upsert_args {
	const struct ilog_incident_spec *spec;
	const char *actor;
	json_t *evidence;           /* parsed spec->evidence_json or NULL */
	struct ilog_upsert_result res;
};

static enum ilog_status
upsert_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct upsert_args *a = arg;
	const struct ilog_incident_spec *sp = a->spec;
	struct ilog_incident inc;
	enum ilog_status st;
	sqlite3_stmt *s;
	int64_t now = ilog_now(log);
	json_t *body;

	memset(&a->res, 0, sizeof(a->res));
	if (sp->fingerprint != NULL) {
		st = load_by_fingerprint(log, sp->fingerprint, &inc, err, errlen);
		if (st != ILOG_OK && st != ILOG_ERR_NOT_FOUND)
			return st;
		if (st == ILOG_OK) {
			a->res.id = inc.id;
			a->res.previous = inc.severity;
			if (sp->severity <= inc.severity)
				return ILOG_OK;
			if ((st = ilog_prep(log, ST_INC_SEVERITY, &s, err, errlen)) != ILOG_OK)
				return st;
			sqlite3_bind_int64(s, 1, inc.id);
			sqlite3_bind_int(s, 2, sp->severity);
			sqlite3_bind_int64(s, 3, now);
			if ((st = ilog_exec(log, s, "cannot raise a severity", err, errlen)) !=
			    ILOG_OK)
				return st;
			body = json_pack("{s:s, s:s}", "from", ilog_severity_name(inc.severity),
			    "to", ilog_severity_name(sp->severity));
			if (body != NULL && a->evidence != NULL)
				json_object_set(body, "evidence", a->evidence);
			if (body == NULL) {
				errbuf_set(err, errlen, "out of memory");
				return ILOG_ERR_DB;
			}
			st = ilog_insert_event(log, now, inc.id, a->actor, ILOG_EV_SEVERITY,
			    body, &a->res.event_id, err, errlen);
			json_decref(body);
			a->res.raised = st == ILOG_OK;
			return st;
		}
	}
	if ((st = ilog_prep(log, ST_INC_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	bind_opt_text(s, 1, sp->fingerprint);
	sqlite3_bind_text(s, 2, sp->kind, -1, SQLITE_TRANSIENT);
	bind_opt_text(s, 3, sp->cluster);
	bind_opt_text(s, 4, sp->node);
	sqlite3_bind_int(s, 5, sp->severity);
	sqlite3_bind_text(s, 6, sp->title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 7, now);
	if ((st = ilog_exec(log, s, "cannot open an incident", err, errlen)) != ILOG_OK)
		return st;
	a->res.id = sqlite3_last_insert_rowid(log->db);
	a->res.created = true;
	a->res.previous = sp->severity;
	body = json_object();
	if (body == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	if (sp->fingerprint != NULL)
		json_object_set_new(body, "fingerprint", json_string(sp->fingerprint));
	json_object_set_new(body, "kind", json_string(sp->kind));
	if (sp->cluster != NULL && sp->cluster[0] != '\0')
		json_object_set_new(body, "cluster", json_string(sp->cluster));
	if (sp->node != NULL && sp->node[0] != '\0')
		json_object_set_new(body, "node", json_string(sp->node));
	json_object_set_new(body, "severity", json_string(ilog_severity_name(sp->severity)));
	json_object_set_new(body, "title", json_string(sp->title));
	if (a->evidence != NULL)
		json_object_set(body, "evidence", a->evidence);
	st = ilog_insert_event(log, now, a->res.id, a->actor, ILOG_EV_OPENED, body,
	    &a->res.event_id, err, errlen);
	json_decref(body);
	return st;
}

enum ilog_status
ilog_incident_upsert(struct ilog *log, const struct ilog_incident_spec *spec,
    const char *actor, struct ilog_upsert_result *res, char *err, size_t errlen)
{
	struct upsert_args a = { .spec = spec, .actor = actor };
	enum ilog_status st;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (spec->fingerprint != NULL && (st = ilog_check_text(spec->fingerprint,
	    ILOG_FINGERPRINT_MAX, false, TEXT_LINE, "fingerprint", err, errlen)) != ILOG_OK)
		return st;
	if (!ilog_kind_valid(spec->kind)) {
		errbuf_set(err, errlen, "incident kind '%.*s' is invalid (1-%d of a-z 0-9 _ -)",
		    ILOG_KIND_MAX, spec->kind != NULL ? spec->kind : "", ILOG_KIND_MAX);
		return ILOG_ERR_ARG;
	}
	if ((st = ilog_check_text(spec->cluster, ILOG_NAME_MAX, true, TEXT_LINE, "cluster", err,
	    errlen)) != ILOG_OK ||
	    (st = ilog_check_text(spec->node, ILOG_NAME_MAX, true, TEXT_LINE, "node", err,
	    errlen)) != ILOG_OK ||
	    (st = ilog_check_text(spec->title, ILOG_TITLE_MAX, false, TEXT_LINE, "title", err,
	    errlen)) != ILOG_OK)
		return st;
	if (!severity_valid(spec->severity)) {
		errbuf_set(err, errlen, "severity %d is invalid", (int)spec->severity);
		return ILOG_ERR_ARG;
	}
	if (spec->evidence_json != NULL) {
		a.evidence =
		    ilog_parse_json(spec->evidence_json, true, "evidence", err, errlen);
		if (a.evidence == NULL)
			return ILOG_ERR_ARG;
	}
	st = ilog_call(log, ILOG_WRITE, upsert_body, &a, err, errlen);
	json_decref(a.evidence);
	if (st == ILOG_OK && res != NULL)
		*res = a.res;
	return st;
}

/* --- transitions --------------------------------------------------------------------- */

enum transition {
	TR_ACK,
	TR_RESOLVE,
	TR_REOPEN,
	TR_NOTE,
};

struct transition_args {
	enum transition tr;
	int64_t id;
	const char *actor;
	const char *message;
	int64_t event_id;
};

/* Whether tr is allowed from inc's state; if not, err says why. */
static enum ilog_status
transition_allowed(struct ilog *log, enum transition tr, const struct ilog_incident *inc,
    char *err, size_t errlen)
{
	struct ilog_incident other;
	enum ilog_status st;
	long long id = (long long)inc->id;

	switch (tr) {
	case TR_ACK:
		if (inc->state == ILOG_STATE_RESOLVED) {
			errbuf_set(err, errlen, "incident %lld is resolved; reopen it first",
			    id);
			return ILOG_ERR_STATE;
		}
		if (inc->state == ILOG_STATE_ACKNOWLEDGED) {
			errbuf_set(err, errlen, "incident %lld is already acknowledged by %s",
			    id, inc->acked_by);
			return ILOG_ERR_STATE;
		}
		return ILOG_OK;
	case TR_RESOLVE:
		if (inc->state == ILOG_STATE_RESOLVED) {
			errbuf_set(err, errlen, "incident %lld is already resolved", id);
			return ILOG_ERR_STATE;
		}
		return ILOG_OK;
	case TR_REOPEN:
		if (inc->state != ILOG_STATE_RESOLVED) {
			errbuf_set(err, errlen, "incident %lld is not resolved (it is %s)", id,
			    ilog_state_name(inc->state));
			return ILOG_ERR_STATE;
		}
		if (inc->fingerprint[0] == '\0')
			return ILOG_OK;
		st = load_by_fingerprint(log, inc->fingerprint, &other, err, errlen);
		if (st == ILOG_ERR_NOT_FOUND)
			return ILOG_OK;
		if (st != ILOG_OK)
			return st;
		errbuf_set(err, errlen, "incident %lld cannot be reopened: incident %lld is "
		    "unresolved for the same condition", id, (long long)other.id);
		return ILOG_ERR_STATE;
	case TR_NOTE:
		return ILOG_OK;
	}
	return ILOG_ERR_ARG;
}

static enum ilog_status
transition_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	static const enum stmt_id update[] = { [TR_ACK] = ST_INC_ACK,
		[TR_RESOLVE] = ST_INC_RESOLVE, [TR_REOPEN] = ST_INC_REOPEN };
	static const char *const type[] = { [TR_ACK] = ILOG_EV_ACKED,
		[TR_RESOLVE] = ILOG_EV_RESOLVED, [TR_REOPEN] = ILOG_EV_REOPENED,
		[TR_NOTE] = ILOG_EV_NOTE };
	struct transition_args *a = arg;
	struct ilog_incident inc;
	enum ilog_status st;
	sqlite3_stmt *s;
	int64_t now = ilog_now(log);
	json_t *body;

	a->event_id = 0;
	if ((st = ilog_load_incident(log, a->id, &inc, err, errlen)) != ILOG_OK)
		return st;
	if ((st = transition_allowed(log, a->tr, &inc, err, errlen)) != ILOG_OK)
		return st;
	if (a->tr != TR_NOTE) {
		if ((st = ilog_prep(log, update[a->tr], &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		if (a->tr != TR_REOPEN)
			sqlite3_bind_text(s, 3, a->actor, -1, SQLITE_TRANSIENT);
		if ((st = ilog_exec(log, s, "cannot change an incident", err, errlen)) !=
		    ILOG_OK)
			return st;
	}
	if (a->tr == TR_ACK) {
		if ((st = ilog_prep(log, ST_PAGES_ACK, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		if ((st = ilog_exec(log, s, "cannot update pages", err, errlen)) != ILOG_OK)
			return st;
	}
	if ((body = message_body(a->message)) == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = ilog_insert_event(log, now, a->id, a->actor, type[a->tr], body, &a->event_id, err,
	    errlen);
	json_decref(body);
	return st;
}

static enum ilog_status
transition(struct ilog *log, enum transition tr, int64_t id, const char *actor,
    const char *message, int64_t *event_id, char *err, size_t errlen)
{
	struct transition_args a = { .tr = tr, .id = id, .actor = actor, .message = message };
	enum ilog_status st;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if ((st = ilog_check_text(message, ILOG_MESSAGE_MAX, tr != TR_NOTE, TEXT_MULTILINE,
	    tr == TR_NOTE ? "note" : "message", err, errlen)) != ILOG_OK)
		return st;
	if (id <= 0) {
		errbuf_set(err, errlen, "no incident %lld", (long long)id);
		return ILOG_ERR_NOT_FOUND;
	}
	st = ilog_call(log, ILOG_WRITE, transition_body, &a, err, errlen);
	if (st == ILOG_OK && event_id != NULL)
		*event_id = a.event_id;
	return st;
}

enum ilog_status
ilog_incident_ack(struct ilog *log, int64_t id, const char *actor, const char *message,
    int64_t *event_id, char *err, size_t errlen)
{
	return transition(log, TR_ACK, id, actor, message, event_id, err, errlen);
}

enum ilog_status
ilog_incident_resolve(struct ilog *log, int64_t id, const char *actor, const char *message,
    int64_t *event_id, char *err, size_t errlen)
{
	return transition(log, TR_RESOLVE, id, actor, message, event_id, err, errlen);
}

enum ilog_status
ilog_incident_reopen(struct ilog *log, int64_t id, const char *actor, const char *message,
    int64_t *event_id, char *err, size_t errlen)
{
	return transition(log, TR_REOPEN, id, actor, message, event_id, err, errlen);
}

enum ilog_status
ilog_incident_note(struct ilog *log, int64_t id, const char *actor, const char *message,
    int64_t *event_id, char *err, size_t errlen)
{
	return transition(log, TR_NOTE, id, actor, message, event_id, err, errlen);
}

/* --- public updates ---------------------------------------------------------------------- */

struct public_args {
	int64_t id;
	const char *actor;
	enum ilog_public_status status;
	const char *message;
	int64_t event_id;
};

static enum ilog_status
public_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct public_args *a = arg;
	struct ilog_incident inc;
	enum ilog_status st;
	sqlite3_stmt *s;
	int64_t now = ilog_now(log), update_id;
	const char *word = ilog_public_status_name(a->status);
	json_t *body;

	a->event_id = 0;
	if ((st = ilog_load_incident(log, a->id, &inc, err, errlen)) != ILOG_OK)
		return st;
	if ((st = ilog_prep(log, ST_PUB_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_text(s, 3, word, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, a->actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, a->message, -1, SQLITE_TRANSIENT);
	if ((st = ilog_exec(log, s, "cannot store a public update", err, errlen)) != ILOG_OK)
		return st;
	update_id = sqlite3_last_insert_rowid(log->db);
	if ((st = ilog_prep(log, ST_INC_PUBLIC, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_text(s, 2, word, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if ((st = ilog_exec(log, s, "cannot update an incident", err, errlen)) != ILOG_OK)
		return st;
	body = json_pack("{s:s, s:s, s:I}", "status", word, "message", a->message,
	    "public_update_id", (json_int_t)update_id);
	if (body == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = ilog_insert_event(log, now, a->id, a->actor, ILOG_EV_PUBLIC_UPDATE, body,
	    &a->event_id, err, errlen);
	json_decref(body);
	if (st != ILOG_OK)
		return st;
	if ((st = ilog_prep(log, ST_PUB_SET_EVENT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, update_id);
	sqlite3_bind_int64(s, 2, a->event_id);
	return ilog_exec(log, s, "cannot store a public update", err, errlen);
}

enum ilog_status
ilog_public_update(struct ilog *log, int64_t id, const char *actor,
    enum ilog_public_status status, const char *message, int64_t *event_id, char *err,
    size_t errlen)
{
	struct public_args a = { .id = id, .actor = actor, .status = status,
		.message = message };
	enum ilog_status st;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (status < ILOG_PUBLIC_INVESTIGATING || status > ILOG_PUBLIC_RESOLVED) {
		errbuf_set(err, errlen,
		    "public status %d is invalid (investigating, identified, "
		    "monitoring or resolved)", (int)status);
		return ILOG_ERR_ARG;
	}
	if ((st = ilog_check_text(message, ILOG_MESSAGE_MAX, false, TEXT_MULTILINE, "message",
	    err, errlen)) != ILOG_OK)
		return st;
	st = ilog_call(log, ILOG_WRITE, public_body, &a, err, errlen);
	if (st == ILOG_OK && event_id != NULL)
		*event_id = a.event_id;
	return st;
}

struct public_list_args {
	int64_t id;
	struct ilog_public_entries *out;
};

static enum ilog_status
public_list_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct public_list_args *a = arg;
	sqlite3_stmt *s;
	enum ilog_status st;

	ilog_public_entries_release(a->out);
	if ((st = ilog_prep(log, ST_PUB_LIST, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	return ilog_collect(log, s, &public_rows, SIZE_MAX, (void **)&a->out->v, &a->out->n,
	    NULL, err, errlen);
}

enum ilog_status
ilog_public_list(struct ilog *log, int64_t incident_id, struct ilog_public_entries *out,
    char *err, size_t errlen)
{
	struct public_list_args a = { .id = incident_id, .out = out };
	enum ilog_status st = ilog_call(log, ILOG_READ, public_list_body, &a, err, errlen);

	if (st != ILOG_OK)
		ilog_public_entries_release(out);
	return st;
}

/* --- reading incidents --------------------------------------------------------------- */

struct get_args {
	int64_t id;
	const char *fingerprint;
	struct ilog_incident *out;
};

static enum ilog_status
get_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct get_args *a = arg;
	enum ilog_status st;

	if (a->fingerprint == NULL)
		return ilog_load_incident(log, a->id, a->out, err, errlen);
	st = load_by_fingerprint(log, a->fingerprint, a->out, err, errlen);
	if (st == ILOG_ERR_NOT_FOUND)
		errbuf_set(err, errlen, "no unresolved incident has fingerprint '%s'",
		    a->fingerprint);
	return st;
}

enum ilog_status
ilog_incident_get(struct ilog *log, int64_t id, struct ilog_incident *out, char *err,
    size_t errlen)
{
	struct get_args a = { .id = id, .out = out };

	return ilog_call(log, ILOG_READ, get_body, &a, err, errlen);
}

enum ilog_status
ilog_incident_find(struct ilog *log, const char *fingerprint, struct ilog_incident *out,
    char *err, size_t errlen)
{
	struct get_args a = { .fingerprint = fingerprint, .out = out };
	enum ilog_status st;

	if ((st = ilog_check_text(fingerprint, ILOG_FINGERPRINT_MAX, false, TEXT_LINE,
	    "fingerprint", err, errlen)) != ILOG_OK)
		return st;
	return ilog_call(log, ILOG_READ, get_body, &a, err, errlen);
}

struct list_args {
	const struct ilog_query *q;
	struct ilog_incidents *out;
};

static enum ilog_status
list_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct list_args *a = arg;
	const struct ilog_query *q = a->q;
	size_t limit = q->limit == 0 || q->limit > ILOG_LIST_MAX ? ILOG_LIST_MAX : q->limit;
	unsigned states = q->states == 0 ? ILOG_STATES_UNRESOLVED : q->states;
	enum ilog_status st;
	sqlite3_stmt *s;

	ilog_incidents_release(a->out);
	if ((st = ilog_prep(log, ST_INC_LIST, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int(s, 1, (int)states);
	bind_opt_text(s, 2, q->cluster);
	bind_opt_text(s, 3, q->kind);
	sqlite3_bind_int64(s, 4, q->since);
	sqlite3_bind_int64(s, 5, (int64_t)limit + 1);
	return ilog_collect(log, s, &incident_rows, limit, (void **)&a->out->v, &a->out->n,
	    &a->out->truncated, err, errlen);
}

enum ilog_status
ilog_incident_list(struct ilog *log, const struct ilog_query *q, struct ilog_incidents *out,
    char *err, size_t errlen)
{
	struct ilog_query all = { 0 };
	struct list_args a = { .q = q != NULL ? q : &all, .out = out };
	enum ilog_status st;

	if (a.q->states & ~ILOG_STATES_ALL) {
		errbuf_set(err, errlen, "state filter %#x is invalid", a.q->states);
		return ILOG_ERR_ARG;
	}
	st = ilog_call(log, ILOG_READ, list_body, &a, err, errlen);
	if (st != ILOG_OK)
		ilog_incidents_release(out);
	return st;
}
