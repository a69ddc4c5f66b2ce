/*
 * ilog events: appending, timelines, tails, cursors, retention and export. See
 * lib/ilog.h for the contract, ilog_int.h for the shape.
 */
#include <stdlib.h>
#include <string.h>

#include "ilog_int.h"
#include "utctime.h"

#define ILOG_PRUNE_BATCH 200 /* incidents or rows removed per transaction */

static bool
event_type_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= ILOG_TYPE_MAX)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return true;
}

/* Reads the current row into ev; body_json is strdup'd. -1 on no memory. */
static int
read_event(sqlite3_stmt *s, void *elem)
{
	struct ilog_event *ev = elem;
	const unsigned char *body = sqlite3_column_text(s, 5);

	memset(ev, 0, sizeof(*ev));
	ev->id = sqlite3_column_int64(s, 0);
	ev->at = sqlite3_column_int64(s, 1);
	ev->incident_id = sqlite3_column_int64(s, 2);
	copy_col(s, 3, ev->actor, sizeof(ev->actor));
	copy_col(s, 4, ev->type, sizeof(ev->type));
	ev->body_json = strdup(body != NULL ? (const char *)body : "{}");
	return ev->body_json != NULL ? 0 : -1;
}

static const struct ilog_row_type event_rows = { sizeof(struct ilog_event), read_event,
	"out of memory reading events", "cannot read events" };

void
ilog_events_release(struct ilog_events *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		free(list->v[i].body_json);
	free(list->v);
	memset(list, 0, sizeof(*list));
}

enum ilog_status
ilog_insert_event(struct ilog *log, int64_t now, int64_t incident_id, const char *actor,
    const char *type, const json_t *body, int64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;
	char *text;

	if ((text = ilog_dump_json(body, "event body", err, errlen)) == NULL)
		return ILOG_ERR_ARG;
	if ((st = ilog_prep(log, ST_EV_INSERT, &s, err, errlen)) != ILOG_OK) {
		free(text);
		return st;
	}
	sqlite3_bind_int64(s, 1, now);
	bind_opt_i64(s, 2, incident_id);
	sqlite3_bind_text(s, 3, actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, text, -1, SQLITE_TRANSIENT);
	st = ilog_exec(log, s, "cannot append an event", err, errlen);
	free(text);
	if (st != ILOG_OK)
		return st;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(log->db);
	if (incident_id != 0) {
		if ((st = ilog_prep(log, ST_INC_TOUCH, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, incident_id);
		sqlite3_bind_int64(s, 2, now);
		st = ilog_exec(log, s, "cannot update an incident", err, errlen);
	}
	return st;
}

/* --- events ---------------------------------------------------------------------------- */

struct append_args {
	int64_t incident_id;
	const char *actor;
	const char *type;
	const json_t *body;
	int64_t event_id;
};

static enum ilog_status
append_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct append_args *a = arg;
	struct ilog_incident inc;
	enum ilog_status st;

	a->event_id = 0;
	if (a->incident_id != 0 &&
	    (st = ilog_load_incident(log, a->incident_id, &inc, err, errlen)) != ILOG_OK)
		return st;
	return ilog_insert_event(log, ilog_now(log), a->incident_id, a->actor, a->type, a->body,
	    &a->event_id, err, errlen);
}

enum ilog_status
ilog_event_append(struct ilog *log, int64_t incident_id, const char *actor, const char *type,
    const char *body_json, int64_t *event_id, char *err, size_t errlen)
{
	struct append_args a = { .incident_id = incident_id, .actor = actor, .type = type };
	enum ilog_status st;
	json_t *body;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (!event_type_valid(type)) {
		errbuf_set(err, errlen,
		    "event type '%.*s' is invalid ([a-z][a-z0-9_]*, at most %d)",
		    ILOG_TYPE_MAX + 1, type != NULL ? type : "", ILOG_TYPE_MAX);
		return ILOG_ERR_ARG;
	}
	if (incident_id < 0) {
		errbuf_set(err, errlen, "no incident %lld", (long long)incident_id);
		return ILOG_ERR_NOT_FOUND;
	}
	body = body_json != NULL ? ilog_parse_json(body_json, true, "event body", err, errlen)
				 : json_object();
	if (body == NULL)
		return ILOG_ERR_ARG;
	a.body = body;
	st = ilog_call(log, ILOG_WRITE, append_body, &a, err, errlen);
	json_decref(body);
	if (st == ILOG_OK && event_id != NULL)
		*event_id = a.event_id;
	return st;
}

/*
 * The event lists: timeline (?1 an incident id), tail (?1 after this id), of type (?1
 * a type as text); ?2 is max + 1, so that one row more says truncated.
 */
struct events_args {
	enum stmt_id which;
	int64_t key;      /* ?1, unless text is set */
	const char *text; /* ?1 when set */
	size_t max;
	struct ilog_events *out;
};

static enum ilog_status
events_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct events_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	ilog_events_release(a->out);
	if ((st = ilog_prep(log, a->which, &s, err, errlen)) != ILOG_OK)
		return st;
	if (a->text != NULL)
		sqlite3_bind_text(s, 1, a->text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(s, 1, a->key);
	sqlite3_bind_int64(s, 2, (int64_t)a->max + 1);
	return ilog_collect(log, s, &event_rows, a->max, (void **)&a->out->v, &a->out->n,
	    &a->out->truncated, err, errlen);
}

static enum ilog_status
read_events(struct ilog *log, struct events_args *a, char *err, size_t errlen)
{
	enum ilog_status st = ilog_call(log, ILOG_READ, events_body, a, err, errlen);

	if (st != ILOG_OK)
		ilog_events_release(a->out);
	return st;
}

enum ilog_status
ilog_timeline(struct ilog *log, int64_t incident_id, struct ilog_events *out, char *err,
    size_t errlen)
{
	struct events_args a = { ST_EV_TIMELINE, incident_id, NULL, ILOG_TIMELINE_MAX, out };

	return read_events(log, &a, err, errlen);
}

enum ilog_status
ilog_tail(struct ilog *log, int64_t after_id, size_t max, struct ilog_events *out,
    char *err, size_t errlen)
{
	struct events_args a = { ST_EV_TAIL, after_id, NULL,
		max == 0 || max > ILOG_TAIL_MAX ? ILOG_TAIL_MAX : max, out };

	return read_events(log, &a, err, errlen);
}

enum ilog_status
ilog_events_of_type(struct ilog *log, const char *type, size_t max, struct ilog_events *out,
    char *err, size_t errlen)
{
	struct events_args a = { ST_EV_OF_TYPE, 0, type,
		max == 0 || max > ILOG_TAIL_MAX ? ILOG_TAIL_MAX : max, out };

	if (!event_type_valid(type)) {
		ilog_events_release(out);
		errbuf_set(err, errlen, "event type '%s' is invalid", type != NULL ? type : "");
		return ILOG_ERR_ARG;
	}
	return read_events(log, &a, err, errlen);
}

enum ilog_status
ilog_last_event_id(struct ilog *log, int64_t *id, char *err, size_t errlen)
{
	return ilog_read_i64(log, ST_EV_MAX, NULL, id, err, errlen);
}

enum ilog_status
ilog_changed(struct ilog *log, bool *changed, char *err, size_t errlen)
{
	enum ilog_status st;
	int64_t version;

	/* Outside a transaction: data_version is per connection and cheap. */
	st = ilog_read_i64(log, ST_DATA_VERSION, NULL, &version, err, errlen);
	if (st != ILOG_OK)
		return st;
	*changed = !log->data_version_known || version != log->data_version;
	log->data_version_known = true;
	log->data_version = version;
	return ILOG_OK;
}

/* --- cursors --------------------------------------------------------------------------- */

enum ilog_status
ilog_cursor_get(struct ilog *log, const char *consumer, int64_t *event_id, char *err,
    size_t errlen)
{
	enum ilog_status st;

	if ((st = ilog_check_text(consumer, ILOG_CONSUMER_MAX, false, TEXT_LINE, "consumer",
	    err, errlen)) != ILOG_OK)
		return st;
	return ilog_read_i64(log, ST_CUR_GET, consumer, event_id, err, errlen);
}

struct cursor_args {
	const char *consumer;
	int64_t event_id;
};

static enum ilog_status
cursor_set_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct cursor_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_CUR_SET, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->consumer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, a->event_id);
	sqlite3_bind_int64(s, 3, ilog_now(log));
	return ilog_exec(log, s, "cannot store a cursor", err, errlen);
}

enum ilog_status
ilog_cursor_set(struct ilog *log, const char *consumer, int64_t event_id, char *err,
    size_t errlen)
{
	struct cursor_args a = { consumer, event_id };
	enum ilog_status st;

	if ((st = ilog_check_text(consumer, ILOG_CONSUMER_MAX, false, TEXT_LINE, "consumer",
	    err, errlen)) != ILOG_OK)
		return st;
	if (event_id < 0) {
		errbuf_set(err, errlen, "cursor %lld is invalid", (long long)event_id);
		return ILOG_ERR_ARG;
	}
	return ilog_call(log, ILOG_WRITE, cursor_set_body, &a, err, errlen);
}

/* --- retention --------------------------------------------------------------------------- */

struct prune_args {
	int64_t before;
	int phase;      /* 0 incidents, 1 events without incident, 2 outbox,
	                   3 maintenances, 4 subscribers */
	size_t removed; /* rows of this batch */
	size_t events;  /* events of this batch's incidents */
};

static enum ilog_status
prune_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	static const enum stmt_id del[] = { 0, ST_PRUNE_DEL_EV, ST_PRUNE_DEL_OB,
		ST_PRUNE_DEL_MAINT, ST_PRUNE_DEL_SUB };
	struct prune_args *a = arg;
	int64_t ids[ILOG_PRUNE_BATCH], v;
	enum ilog_status st;
	sqlite3_stmt *s;
	size_t n = 0, i;
	int rc = SQLITE_DONE;

	a->removed = a->events = 0;
	if (a->phase != 0) {
		if ((st = ilog_prep(log, del[a->phase], &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->before);
		sqlite3_bind_int64(s, 2, ILOG_PRUNE_BATCH);
		if ((st = ilog_exec(log, s, "cannot prune", err, errlen)) != ILOG_OK)
			return st;
		a->removed = (size_t)sqlite3_changes(log->db);
		return ILOG_OK;
	}
	if ((st = ilog_prep(log, ST_PRUNE_SELECT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->before);
	sqlite3_bind_int64(s, 2, ILOG_PRUNE_BATCH);
	while (n < ILOG_PRUNE_BATCH && (rc = sqlite3_step(s)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(s, 0);
	if (n < ILOG_PRUNE_BATCH && rc != SQLITE_DONE)
		return ilog_db_fail(log, rc, "cannot prune", err, errlen);
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		if ((st = ilog_prep(log, ST_PRUNE_COUNT_EV, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, ids[i]);
		if ((st = ilog_query_i64(log, s, 0, &v, "cannot prune", err, errlen)) !=
		    ILOG_OK)
			return st;
		a->events += (size_t)v;
		if ((st = ilog_prep(log, ST_PRUNE_DEL_INC, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, ids[i]);
		if ((st = ilog_exec(log, s, "cannot prune", err, errlen)) != ILOG_OK)
			return st;
	}
	a->removed = n;
	return ILOG_OK;
}

enum ilog_status
ilog_prune(struct ilog *log, int64_t before, struct ilog_prune_result *res, char *err,
    size_t errlen)
{
	struct prune_args a = { .before = before };
	struct ilog_prune_result total = { 0 };
	enum ilog_status st = ILOG_OK;

	for (a.phase = 0; a.phase < 5; a.phase++) {
		do {
			st = ilog_call(log, ILOG_WRITE, prune_body, &a, err, errlen);
			if (st != ILOG_OK)
				break;
			if (a.phase == 0) {
				total.incidents += a.removed;
				total.events += a.events;
			} else if (a.phase == 1) {
				total.events += a.removed;
			} else if (a.phase == 2) {
				total.outbox += a.removed;
			} else if (a.phase == 3) {
				total.maintenances += a.removed;
			} else {
				total.subscribers += a.removed;
			}
		} while (a.removed > 0);
		if (st != ILOG_OK)
			break;
	}
	if (res != NULL)
		*res = total;
	return st;
}

/* --- export -------------------------------------------------------------------------------- */

struct export_args {
	int64_t since;
	ilog_line_fn write;
	void *arg;
	size_t written;
};

static enum ilog_status
export_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct export_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;
	char when[UTC_TEXT_MAX], *line;
	json_t *o, *body;
	json_error_t jerr;
	const unsigned char *text;
	int rc;

	if ((st = ilog_prep(log, ST_EV_EXPORT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		utc_format_ms(sqlite3_column_int64(s, 1), when, sizeof(when));
		text = sqlite3_column_text(s, 5);
		body = text != NULL ? json_loads((const char *)text, 0, &jerr) : NULL;
		if (body == NULL) /* a body edited by hand into non-JSON: keep it as text */
			body = json_string(text != NULL ? (const char *)text : "");
		o = json_pack("{s:I, s:I, s:s, s:o, s:s, s:s, s:o}",
		    "id", (json_int_t)sqlite3_column_int64(s, 0),
		    "at", (json_int_t)sqlite3_column_int64(s, 1),
		    "time", when,
		    "incident", sqlite3_column_type(s, 2) == SQLITE_NULL ? json_null() :
			json_integer(sqlite3_column_int64(s, 2)),
		    "actor", col_text(s, 3),
		    "type", col_text(s, 4),
		    "body", body);
		line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (line == NULL) {
			errbuf_set(err, errlen, "out of memory exporting");
			return ILOG_ERR_DB;
		}
		rc = a->write(a->arg, line, strlen(line));
		free(line);
		if (rc != 0) {
			errbuf_set(err, errlen, "export stopped by its writer");
			return ILOG_ERR_DB;
		}
		a->written++;
	}
	if (rc != SQLITE_DONE) {
		/* Lines already went out: a retry would repeat them. */
		if (a->written > 0 && is_busy(rc)) {
			errbuf_set(err, errlen, "export interrupted: %s",
			    sqlite3_errmsg(log->db));
			return ILOG_ERR_DB;
		}
		return ilog_db_fail(log, rc, "cannot export", err, errlen);
	}
	return ILOG_OK;
}

enum ilog_status
ilog_export(struct ilog *log, int64_t since, ilog_line_fn write, void *arg, char *err,
    size_t errlen)
{
	struct export_args a = { since, write, arg, 0 };

	return ilog_call(log, ILOG_READ, export_body, &a, err, errlen);
}
