/*
 * ilog maintenances and silences: scheduling, the explicit transitions, the lists and
 * the announcement of changes that happen by time. See lib/ilog_maintenance.h for the
 * contract, ilog_int.h for the shape.
 */
#include <stdlib.h>
#include <string.h>

#include "ilog_int.h"
#include "ilog_maintenance.h"

_Static_assert(ILOG_MAINT_TITLE_MAX <= ILOG_TITLE_MAX, "a title fits an incident's");

const char *
ilog_maint_state_name(enum ilog_maint_state s)
{
	switch (s) {
	case ILOG_MAINT_SCHEDULED:
		return "scheduled";
	case ILOG_MAINT_IN_PROGRESS:
		return "in_progress";
	case ILOG_MAINT_COMPLETED:
		return "completed";
	case ILOG_MAINT_CANCELLED:
		return "cancelled";
	}
	return "scheduled";
}

const char *
ilog_maint_kind_name(enum ilog_maint_kind k)
{
	return k == ILOG_MAINT_SILENCE ? "silence" : "public";
}

enum ilog_maint_state
ilog_maint_state_at(const struct ilog_maintenance *m, int64_t now)
{
	if (m->cancelled_at != 0)
		return ILOG_MAINT_CANCELLED;
	if (m->completed_at != 0 || m->ends_at <= now)
		return ILOG_MAINT_COMPLETED;
	if (m->started_at != 0 || m->starts_at <= now)
		return ILOG_MAINT_IN_PROGRESS;
	return ILOG_MAINT_SCHEDULED;
}

int64_t
ilog_maint_effective_start(const struct ilog_maintenance *m)
{
	return m->started_at != 0 && m->started_at < m->starts_at ? m->started_at
								   : m->starts_at;
}

int64_t
ilog_maint_effective_end(const struct ilog_maintenance *m)
{
	int64_t end = m->ends_at;

	if (m->completed_at != 0 && m->completed_at < end)
		end = m->completed_at;
	if (m->cancelled_at != 0 && m->cancelled_at < end)
		end = m->cancelled_at;
	return end;
}

bool
ilog_maint_lists_cluster(const char *list, const char *cluster)
{
	size_t len = cluster != NULL ? strlen(cluster) : 0;
	const char *p = list;

	if (len == 0)
		return false;
	while (*p != '\0') {
		size_t w = strcspn(p, " ");

		if (w == len && memcmp(p, cluster, len) == 0)
			return true;
		p += w;
		p += strspn(p, " ");
	}
	return false;
}

const struct ilog_maintenance *
ilog_maint_covering(const struct ilog_maintenance *list, size_t n, const char *cluster,
    int64_t now)
{
	const struct ilog_maintenance *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct ilog_maintenance *m = &list[i];

		if (ilog_maint_state_at(m, now) != ILOG_MAINT_IN_PROGRESS)
			continue;
		if (m->cluster[0] != '\0' && !ilog_maint_lists_cluster(m->cluster, cluster))
			continue;
		if (best == NULL || ilog_maint_effective_end(m) > ilog_maint_effective_end(best))
			best = m;
	}
	return best;
}

bool
ilog_maint_covers(const struct ilog_maintenance *list, size_t n, const char *cluster,
    int64_t now, int64_t *until)
{
	const struct ilog_maintenance *m = ilog_maint_covering(list, n, cluster, now);

	if (m != NULL && until != NULL)
		*until = ilog_maint_effective_end(m);
	return m != NULL;
}

/* --- rows ------------------------------------------------------------------------------ */

static int
read_maintenance(sqlite3_stmt *s, void *elem)
{
	struct ilog_maintenance *m = elem;
	int announced;

	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(s, 0);
	m->kind = strcmp(col_text(s, 1), "silence") == 0 ? ILOG_MAINT_SILENCE
							  : ILOG_MAINT_PUBLIC;
	copy_col(s, 2, m->cluster, sizeof(m->cluster));
	copy_col(s, 3, m->title, sizeof(m->title));
	copy_col(s, 4, m->message, sizeof(m->message));
	m->starts_at = sqlite3_column_int64(s, 5);
	m->ends_at = sqlite3_column_int64(s, 6);
	m->started_at = sqlite3_column_int64(s, 7);
	m->completed_at = sqlite3_column_int64(s, 8);
	m->cancelled_at = sqlite3_column_int64(s, 9);
	m->created_at = sqlite3_column_int64(s, 10);
	copy_col(s, 11, m->created_by, sizeof(m->created_by));
	announced = sqlite3_column_int(s, 12);
	m->announced = announced >= 0 && announced <= ILOG_MAINT_CANCELLED
	    ? (enum ilog_maint_state)announced : ILOG_MAINT_SCHEDULED;
	return 0;
}

static const struct ilog_row_type maint_rows = { sizeof(struct ilog_maintenance),
	read_maintenance, "out of memory reading maintenances", "cannot read maintenances" };

static enum ilog_status
load(struct ilog *log, int64_t id, struct ilog_maintenance *m, char *err, size_t errlen)
{
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_MAINT_BY_ID, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = ilog_step_row(log, s, "cannot read a maintenance", err, errlen);
	if (st == ILOG_ERR_NOT_FOUND) {
		errbuf_set(err, errlen, "no maintenance %lld", (long long)id);
		return st;
	}
	if (st == ILOG_OK)
		read_maintenance(s, m);
	return st;
}

/* The event of one change of m, as actor, at now. */
static enum ilog_status
write_event(struct ilog *log, const struct ilog_maintenance *m, const char *type,
    const char *actor, int64_t now, char *err, size_t errlen)
{
	enum ilog_status st;
	json_t *body = json_pack("{s:I, s:s, s:s, s:I, s:I, s:s}", "maintenance",
	    (json_int_t)m->id, "kind", ilog_maint_kind_name(m->kind), "cluster", m->cluster,
	    "starts_at", (json_int_t)m->starts_at, "ends_at", (json_int_t)m->ends_at, "title",
	    m->title);

	if (body == NULL) {
		errbuf_set(err, errlen, "out of memory writing a maintenance event");
		return ILOG_ERR_DB;
	}
	if (m->message[0] != '\0')
		json_object_set_new(body, "message", json_string(m->message));
	st = ilog_insert_event(log, now, 0, actor, type, body, NULL, err, errlen);
	json_decref(body);
	return st;
}

static enum ilog_status
store(struct ilog *log, const struct ilog_maintenance *m, char *err, size_t errlen)
{
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_MAINT_SET, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, m->id);
	bind_opt_i64(s, 2, m->started_at);
	bind_opt_i64(s, 3, m->completed_at);
	bind_opt_i64(s, 4, m->cancelled_at);
	sqlite3_bind_int(s, 5, (int)m->announced);
	return ilog_exec(log, s, "cannot update a maintenance", err, errlen);
}

/*
 * Writes the events of m's moves from what was announced up to its state at now
 * (started, then completed), records them in m->announced and stores the row. Only
 * PUBLIC windows announce starts and ends: a silence's edges are nobody's news.
 */
static enum ilog_status
announce_up_to_now(struct ilog *log, struct ilog_maintenance *m, const char *actor,
    int64_t now, size_t *written, char *err, size_t errlen)
{
	enum ilog_maint_state at = ilog_maint_state_at(m, now);
	enum ilog_status st;

	if (m->kind == ILOG_MAINT_PUBLIC && at != ILOG_MAINT_CANCELLED) {
		if (m->announced < ILOG_MAINT_IN_PROGRESS && at >= ILOG_MAINT_IN_PROGRESS) {
			if ((st = write_event(log, m, ILOG_EV_MAINT_STARTED, actor, now, err,
			    errlen)) != ILOG_OK)
				return st;
			m->announced = ILOG_MAINT_IN_PROGRESS;
			(*written)++;
		}
		if (m->announced < ILOG_MAINT_COMPLETED && at >= ILOG_MAINT_COMPLETED) {
			if ((st = write_event(log, m, ILOG_EV_MAINT_COMPLETED, actor, now, err,
			    errlen)) != ILOG_OK)
				return st;
			m->announced = ILOG_MAINT_COMPLETED;
			(*written)++;
		}
	}
	return store(log, m, err, errlen);
}

/* --- schedule -------------------------------------------------------------------------- */

struct schedule_args {
	const struct ilog_maintenance *m;
	const char *actor;
	int64_t id;
};

/* Inserts m (its kind, cluster, texts and times) as created_by at now, with its
 * scheduled (or silence_set) event as actor; m->id gets the row's id. */
static enum ilog_status
insert_row(struct ilog *log, struct ilog_maintenance *m, const char *created_by,
    const char *actor, int64_t now, char *err, size_t errlen)
{
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_MAINT_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, ilog_maint_kind_name(m->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, m->cluster, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, m->title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, m->message, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, m->starts_at);
	sqlite3_bind_int64(s, 6, m->ends_at);
	sqlite3_bind_int64(s, 7, now);
	sqlite3_bind_text(s, 8, created_by, -1, SQLITE_TRANSIENT);
	if ((st = ilog_exec(log, s, "cannot schedule a maintenance", err, errlen)) != ILOG_OK)
		return st;
	m->id = sqlite3_last_insert_rowid(log->db);
	m->created_at = now;
	snprintf(m->created_by, sizeof(m->created_by), "%s", created_by);
	return write_event(log, m,
	    m->kind == ILOG_MAINT_SILENCE ? ILOG_EV_SILENCE_SET : ILOG_EV_MAINT_SCHEDULED,
	    actor, now, err, errlen);
}

static enum ilog_status
schedule_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct schedule_args *a = arg;
	struct ilog_maintenance m = *a->m;
	int64_t now = ilog_now(log);
	enum ilog_status st;

	if (m.ends_at <= now) {
		errbuf_set(err, errlen, "the window would be over already (it ends before now)");
		return ILOG_ERR_ARG;
	}
	if (m.starts_at > now + ILOG_MAINT_AHEAD_MAX) {
		errbuf_set(err, errlen, "the window starts more than %lld days ahead",
		    (long long)(ILOG_MAINT_AHEAD_MAX / 86400000));
		return ILOG_ERR_ARG;
	}
	st = insert_row(log, &m, a->actor, a->actor, now, err, errlen);
	a->id = m.id;
	return st;
}

/* A cluster name: a word of the configuration's alphabet. */
static bool
cluster_name_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.'))
			return false;
	}
	return i <= ILOG_NAME_MAX;
}

/*
 * A configured window's clusters: names separated by one space, at most
 * ILOG_MAINT_CLUSTERS_MAX of them ("" = every cluster).
 */
static bool
cluster_list_valid(const char *s)
{
	char name[ILOG_NAME_MAX + 2];
	size_t count = 0, w;

	while (*s != '\0') {
		w = strcspn(s, " ");
		if (w == 0 || w > ILOG_NAME_MAX || ++count > ILOG_MAINT_CLUSTERS_MAX)
			return false;
		memcpy(name, s, w);
		name[w] = '\0';
		if (!cluster_name_valid(name))
			return false;
		s += w;
		if (*s == ' ' && *++s == '\0')
			return false; /* a trailing space */
	}
	return true;
}

static enum ilog_status
check_times(int64_t starts_at, int64_t ends_at, char *err, size_t errlen)
{
	if (starts_at <= 0 || ends_at <= starts_at) {
		errbuf_set(err, errlen, "the window must end after it starts");
		return ILOG_ERR_ARG;
	}
	if (ends_at - starts_at > ILOG_MAINT_LENGTH_MAX) {
		errbuf_set(err, errlen, "the window is longer than %lld days",
		    (long long)(ILOG_MAINT_LENGTH_MAX / 86400000));
		return ILOG_ERR_ARG;
	}
	return ILOG_OK;
}

enum ilog_status
ilog_maint_schedule(struct ilog *log, enum ilog_maint_kind kind, const char *cluster,
    int64_t starts_at, int64_t ends_at, const char *title, const char *message,
    const char *actor, int64_t *id_out, char *err, size_t errlen)
{
	struct ilog_maintenance m;
	struct schedule_args a = { .m = &m, .actor = actor };
	enum ilog_status st;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (kind != ILOG_MAINT_PUBLIC && kind != ILOG_MAINT_SILENCE) {
		errbuf_set(err, errlen, "unknown maintenance kind %d", (int)kind);
		return ILOG_ERR_ARG;
	}
	if (cluster == NULL)
		cluster = "";
	if (!cluster_name_valid(cluster)) {
		errbuf_set(err, errlen,
		    "cluster name '%.*s' is invalid (at most %d of A-Z a-z 0-9 . _ -)",
		    ILOG_NAME_MAX, cluster, ILOG_NAME_MAX);
		return ILOG_ERR_ARG;
	}
	if ((st = ilog_check_text(title, ILOG_MAINT_TITLE_MAX, kind == ILOG_MAINT_SILENCE,
	    TEXT_LINE, "title", err, errlen)) != ILOG_OK)
		return st;
	if ((st = ilog_check_text(message, ILOG_MAINT_MESSAGE_MAX, true, TEXT_MULTILINE,
	    "message", err, errlen)) != ILOG_OK)
		return st;
	if ((st = check_times(starts_at, ends_at, err, errlen)) != ILOG_OK)
		return st;
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	snprintf(m.cluster, sizeof(m.cluster), "%s", cluster);
	snprintf(m.title, sizeof(m.title), "%s", title != NULL ? title : "");
	snprintf(m.message, sizeof(m.message), "%s", message != NULL ? message : "");
	m.starts_at = starts_at;
	m.ends_at = ends_at;
	st = ilog_call(log, ILOG_WRITE, schedule_body, &a, err, errlen);
	if (st == ILOG_OK && id_out != NULL)
		*id_out = a.id;
	return st;
}

/* --- transitions ----------------------------------------------------------------------- */

enum transition { T_START, T_COMPLETE, T_CANCEL };

struct transition_args {
	int64_t id;
	enum transition t;
	const char *actor;
};

static enum ilog_status
refuse(char *err, size_t errlen, const struct ilog_maintenance *m, enum ilog_maint_state at,
    const char *why)
{
	errbuf_set(err, errlen, "%s %lld is %s: %s",
	    m->kind == ILOG_MAINT_SILENCE ? "silence" : "maintenance", (long long)m->id,
	    ilog_maint_state_name(at), why);
	return ILOG_ERR_STATE;
}

static enum ilog_status
transition_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct transition_args *a = arg;
	struct ilog_maintenance m;
	int64_t now = ilog_now(log);
	enum ilog_maint_state at;
	enum ilog_status st;
	size_t written = 0;

	if ((st = load(log, a->id, &m, err, errlen)) != ILOG_OK)
		return st;
	at = ilog_maint_state_at(&m, now);
	switch (a->t) {
	case T_START:
		if (m.kind == ILOG_MAINT_SILENCE)
			return refuse(err, errlen, &m, at, "a silence holds pages from its start");
		if (at != ILOG_MAINT_SCHEDULED)
			return refuse(err, errlen, &m, at, "only a scheduled one can be started");
		m.started_at = now;
		break;
	case T_COMPLETE:
		if (m.kind == ILOG_MAINT_SILENCE)
			return refuse(err, errlen, &m, at, "cancel a silence instead");
		if (at != ILOG_MAINT_IN_PROGRESS)
			return refuse(err, errlen, &m, at,
			    "only one in progress can be completed");
		m.completed_at = now;
		break;
	case T_CANCEL:
		if (m.kind == ILOG_MAINT_PUBLIC && at == ILOG_MAINT_IN_PROGRESS)
			return refuse(err, errlen, &m, at, "complete it instead");
		if (at != ILOG_MAINT_SCHEDULED && at != ILOG_MAINT_IN_PROGRESS)
			return refuse(err, errlen, &m, at, "it is over");
		/* Its start's announcement, if one was owed, is no longer news. */
		m.cancelled_at = now;
		m.announced = ILOG_MAINT_CANCELLED;
		if ((st = store(log, &m, err, errlen)) != ILOG_OK)
			return st;
		return write_event(log, &m,
		    m.kind == ILOG_MAINT_SILENCE ? ILOG_EV_SILENCE_CANCELLED
						 : ILOG_EV_MAINT_CANCELLED,
		    a->actor, now, err, errlen);
	}
	return announce_up_to_now(log, &m, a->actor, now, &written, err, errlen);
}

static enum ilog_status
transition(struct ilog *log, int64_t id, enum transition t, const char *actor, char *err,
    size_t errlen)
{
	struct transition_args a = { .id = id, .t = t, .actor = actor };
	enum ilog_status st;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (id <= 0) {
		errbuf_set(err, errlen, "no maintenance %lld", (long long)id);
		return ILOG_ERR_NOT_FOUND;
	}
	return ilog_call(log, ILOG_WRITE, transition_body, &a, err, errlen);
}

enum ilog_status
ilog_maint_start(struct ilog *log, int64_t id, const char *actor, char *err, size_t errlen)
{
	return transition(log, id, T_START, actor, err, errlen);
}

enum ilog_status
ilog_maint_complete(struct ilog *log, int64_t id, const char *actor, char *err,
    size_t errlen)
{
	return transition(log, id, T_COMPLETE, actor, err, errlen);
}

enum ilog_status
ilog_maint_cancel(struct ilog *log, int64_t id, const char *actor, char *err, size_t errlen)
{
	return transition(log, id, T_CANCEL, actor, err, errlen);
}

/* --- reading --------------------------------------------------------------------------- */

struct get_args {
	int64_t id;
	struct ilog_maintenance *out;
};

static enum ilog_status
get_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct get_args *a = arg;

	return load(log, a->id, a->out, err, errlen);
}

enum ilog_status
ilog_maint_get(struct ilog *log, int64_t id, struct ilog_maintenance *out, char *err,
    size_t errlen)
{
	struct get_args a = { .id = id, .out = out };

	return ilog_call(log, ILOG_READ, get_body, &a, err, errlen);
}

struct list_args {
	int64_t now;
	bool all;
	size_t max;
	struct ilog_maintenance *v; /* collected, copied to out by the caller */
	size_t n;
	bool truncated;             /* more than max: the first max are kept */
};

static enum ilog_status
list_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct list_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	free(a->v); /* a retried body starts again */
	a->v = NULL;
	a->n = 0;
	if (a->all) {
		if ((st = ilog_prep(log, ST_MAINT_LIST_ALL, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, (int64_t)a->max);
	} else {
		if ((st = ilog_prep(log, ST_MAINT_LIST_CURRENT, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->now - ILOG_MAINT_RECENT_MS);
		sqlite3_bind_int64(s, 2, (int64_t)a->max);
	}
	return ilog_collect(log, s, &maint_rows, a->max, (void **)&a->v, &a->n, &a->truncated,
	    err, errlen);
}

enum ilog_status
ilog_maint_list(struct ilog *log, int64_t now, bool all, struct ilog_maintenance *out,
    size_t max, size_t *n, char *err, size_t errlen)
{
	struct list_args a = { .now = now, .all = all };
	enum ilog_status st;

	*n = 0;
	if (max > ILOG_MAINT_LIST_MAX)
		max = ILOG_MAINT_LIST_MAX;
	if (max == 0)
		return ILOG_OK;
	a.max = max;
	st = ilog_call(log, ILOG_READ, list_body, &a, err, errlen);
	if (st == ILOG_OK && a.n > 0) { /* a.v is NULL for none */
		memcpy(out, a.v, a.n * sizeof(*out));
		*n = a.n;
	}
	free(a.v);
	return st;
}

/* --- announcements by time ------------------------------------------------------------- */

struct advance_args {
	const char *actor;
	size_t written;
};

static enum ilog_status
advance_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct advance_args *a = arg;
	struct ilog_maintenance *v = NULL;
	int64_t now = ilog_now(log);
	enum ilog_status st;
	sqlite3_stmt *s;
	size_t n = 0, i;
	bool truncated = false;

	a->written = 0;
	if ((st = ilog_prep(log, ST_MAINT_UNANNOUNCED, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, ILOG_MAINT_LIST_MAX);
	/* At most a list's worth per call; the rest at the next one. */
	if ((st = ilog_collect(log, s, &maint_rows, ILOG_MAINT_LIST_MAX, (void **)&v, &n,
	    &truncated, err, errlen)) != ILOG_OK) {
		free(v);
		return st;
	}
	for (i = 0; i < n && st == ILOG_OK; i++)
		st = announce_up_to_now(log, &v[i], a->actor, now, &a->written, err, errlen);
	free(v);
	return st;
}

static enum ilog_status
due_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	bool *due = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_MAINT_UNANNOUNCED, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, ilog_now(log));
	sqlite3_bind_int64(s, 2, 1);
	st = ilog_step_row(log, s, "cannot read maintenances", err, errlen);
	*due = st == ILOG_OK;
	return st == ILOG_ERR_NOT_FOUND ? ILOG_OK : st;
}

enum ilog_status
ilog_maint_advance(struct ilog *log, const char *actor, size_t *written, char *err,
    size_t errlen)
{
	struct advance_args a = { .actor = actor };
	enum ilog_status st;
	bool due = false;

	if (written != NULL)
		*written = 0;
	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	/* Called every poll: a read finds out whether there is anything to write, so an
	 * idle log is never locked for writing. */
	if ((st = ilog_call(log, ILOG_READ, due_body, &due, err, errlen)) != ILOG_OK || !due)
		return st;
	st = ilog_call(log, ILOG_WRITE, advance_body, &a, err, errlen);
	if (written != NULL)
		*written = st == ILOG_OK ? a.written : 0;
	return st;
}

/* --- the configuration's windows ------------------------------------------------------- */

struct sync_args {
	const char *prefix;
	const struct ilog_maint_occurrence *v;
	size_t n;
	const char *actor;
	bool dry;          /* only find out whether anything would change */
	bool changes;      /* dry: something would */
	struct ilog_maint_sync_result res;
};

/* Whether row r is occurrence o: the same source and start. */
static bool
same_occurrence(const struct ilog_maintenance *r, const struct ilog_maint_occurrence *o)
{
	return strcmp(r->created_by, o->source) == 0 && r->starts_at == o->starts_at;
}

/* ...and says what o says (its end, clusters and title). */
static bool
same_content(const struct ilog_maintenance *r, const struct ilog_maint_occurrence *o)
{
	return same_occurrence(r, o) && r->ends_at == o->ends_at &&
	       strcmp(r->cluster, o->cluster) == 0 && strcmp(r->title, o->title) == 0;
}

/* Whether o can be a row; if not, why. */
static bool
occurrence_valid(const struct ilog_maint_occurrence *o, char *why, size_t whylen)
{
	if (ilog_check_actor(o->source, why, whylen) != ILOG_OK ||
	    ilog_check_text(o->title, ILOG_MAINT_TITLE_MAX, false, TEXT_LINE, "title", why,
		whylen) != ILOG_OK ||
	    check_times(o->starts_at, o->ends_at, why, whylen) != ILOG_OK)
		return false;
	if (!cluster_list_valid(o->cluster)) {
		errbuf_set(why, whylen, "a cluster name of '%.80s' is invalid (A-Z a-z 0-9 . _ -)",
		    o->cluster);
		return false;
	}
	return true;
}

/* The rows v[0..n) hold for o: whether it must not be recorded (again). */
static bool
has_row(const struct ilog_maintenance *v, size_t n, const struct ilog_maint_occurrence *o)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].cancelled_at == 0 ? same_occurrence(&v[i], o) : same_content(&v[i], o))
			return true;
	return false;
}

/*
 * Whether row r is one the configuration no longer has, and then what ends it: a
 * scheduled one differing from every occurrence is cancelled, one in progress whose
 * occurrence is gone is completed. Over rows are left as they are.
 */
static bool
row_stale(const struct ilog_maintenance *r, const struct sync_args *a, int64_t now,
    enum transition *t)
{
	enum ilog_maint_state at = ilog_maint_state_at(r, now);
	size_t i;

	if (at != ILOG_MAINT_SCHEDULED && at != ILOG_MAINT_IN_PROGRESS)
		return false;
	for (i = 0; i < a->n; i++)
		if (at == ILOG_MAINT_SCHEDULED ? same_content(r, &a->v[i])
					       : same_occurrence(r, &a->v[i]))
			return false;
	*t = at == ILOG_MAINT_SCHEDULED ? T_CANCEL : T_COMPLETE;
	return true;
}

static enum ilog_status
sync_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct sync_args *a = arg;
	struct ilog_maintenance *v = NULL;
	int64_t now = ilog_now(log);
	enum ilog_status st;
	sqlite3_stmt *s;
	char why[ILOG_ERR_LEN];
	size_t nrows = 0, i, j;
	bool truncated = false;

	memset(&a->res, 0, sizeof(a->res));
	a->changes = false;
	if ((st = ilog_prep(log, ST_MAINT_SOURCED, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, ILOG_MAINT_LIST_MAX);
	if ((st = ilog_collect(log, s, &maint_rows, ILOG_MAINT_LIST_MAX, (void **)&v, &nrows,
	    &truncated, err, errlen)) != ILOG_OK)
		goto out;
	for (i = 0; i < nrows && st == ILOG_OK; i++) {
		struct ilog_maintenance *r = &v[i];
		enum transition t;
		size_t written = 0;

		if (!row_stale(r, a, now, &t))
			continue;
		a->changes = true;
		if (a->dry)
			continue;
		if (t == T_CANCEL) {
			r->cancelled_at = now;
			r->announced = ILOG_MAINT_CANCELLED;
			if ((st = store(log, r, err, errlen)) == ILOG_OK)
				st = write_event(log, r, ILOG_EV_MAINT_CANCELLED, a->actor, now, err,
				    errlen);
			a->res.cancelled++;
		} else {
			r->completed_at = now;
			st = announce_up_to_now(log, r, a->actor, now, &written, err, errlen);
			a->res.completed++;
		}
	}
	/* Rows beyond a list's worth could hold an occurrence: record nothing rather than
	 * twice. */
	for (i = 0; i < a->n && st == ILOG_OK && !truncated; i++) {
		const struct ilog_maint_occurrence *o = &a->v[i];
		struct ilog_maintenance m;

		if (!o->record || has_row(v, nrows, o))
			continue;
		for (j = 0; j < i; j++) /* two windows of one name: the first one's */
			if (strcmp(a->v[j].source, o->source) == 0 &&
			    a->v[j].starts_at == o->starts_at)
				break;
		if (j < i)
			continue;
		if (!occurrence_valid(o, why, sizeof(why))) {
			if (a->res.refused++ == 0)
				snprintf(a->res.why, sizeof(a->res.why), "%.95s: %.150s", o->source, why);
			continue;
		}
		a->changes = true;
		if (a->dry)
			continue;
		memset(&m, 0, sizeof(m));
		m.kind = ILOG_MAINT_PUBLIC;
		snprintf(m.cluster, sizeof(m.cluster), "%s", o->cluster);
		snprintf(m.title, sizeof(m.title), "%s", o->title);
		m.starts_at = o->starts_at;
		m.ends_at = o->ends_at;
		if ((st = insert_row(log, &m, o->source, a->actor, now, err, errlen)) == ILOG_OK)
			a->res.recorded++;
	}
out:
	free(v);
	return st;
}

enum ilog_status
ilog_maint_sync(struct ilog *log, const char *prefix, const struct ilog_maint_occurrence *v,
    size_t n, const char *actor, struct ilog_maint_sync_result *out, char *err,
    size_t errlen)
{
	struct sync_args a = { .prefix = prefix, .v = v, .n = n, .actor = actor, .dry = true };
	enum ilog_status st;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (prefix == NULL || prefix[0] == '\0') {
		errbuf_set(err, errlen, "the configured windows' rows need a prefix");
		return ILOG_ERR_ARG;
	}
	/* Called every poll: a read finds out whether anything has to change, so an idle
	 * log is never locked for writing. */
	if ((st = ilog_call(log, ILOG_READ, sync_body, &a, err, errlen)) != ILOG_OK)
		return st;
	if (a.changes) {
		a.dry = false;
		st = ilog_call(log, ILOG_WRITE, sync_body, &a, err, errlen);
	}
	if (out != NULL)
		*out = a.res; /* refusals are found by the read too */
	return st;
}
