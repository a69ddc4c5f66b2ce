/*
 * ilog — see ilog.h for the contract.
 *
 * Shape of the code: every public call packs its arguments into a small struct and
 * hands a "body" function to run_txn(), which wraps it in BEGIN IMMEDIATE (writes) or
 * BEGIN (reads) and COMMIT, and runs the whole body again if SQLite reports the
 * database busy at any point. Bodies therefore write their results only into their
 * argument struct, and must start from a clean slate each time they run. Statements
 * are prepared once per connection, lazily, and reset before each use and at the end
 * of every transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "ilog.h"
#include "utf8.h"

#define ILOG_APPLICATION_ID 1296256848 /* 0x4d434f50, "MCOP": marks our files */
#define ILOG_PRUNE_BATCH 200           /* incidents or rows removed per transaction */
#define ILOG_RETRY_SLEEP_MS 10         /* pause between retries of a busy transaction */

/* Internal only: the body met SQLITE_BUSY/LOCKED; run_txn() rolls back and retries. */
#define ILOG_RETRY ((enum ilog_status)-100)

/* --- schema ------------------------------------------------------------------------- */

/*
 * migrations[v] takes a database from version v to v + 1. Never edit a released step:
 * add a new one and bump ILOG_SCHEMA_VERSION. Each step sets user_version itself.
 */
static const char *const migrations[ILOG_SCHEMA_VERSION] = {
	/* 0 -> 1: the first layout. */
	"PRAGMA application_id = 1296256848;"
	"CREATE TABLE incidents ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  fingerprint TEXT,"
	"  kind TEXT NOT NULL,"
	"  cluster TEXT,"
	"  node TEXT,"
	"  severity INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 3),"
	"  state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),"
	"  title TEXT NOT NULL,"
	"  opened_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  acked_at INTEGER,"
	"  acked_by TEXT,"
	"  resolved_at INTEGER,"
	"  resolved_by TEXT,"
	"  public_status TEXT"
	");"
	"CREATE UNIQUE INDEX incidents_unresolved_fingerprint ON incidents(fingerprint)"
	"  WHERE state != 'resolved';"
	"CREATE INDEX incidents_resolved_at ON incidents(resolved_at) WHERE state = 'resolved';"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  incident_id INTEGER REFERENCES incidents(id) ON DELETE CASCADE,"
	"  actor TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  body_json TEXT NOT NULL DEFAULT '{}'"
	");"
	"CREATE INDEX events_incident ON events(incident_id, id);"
	"CREATE INDEX events_at ON events(at);"
	"CREATE TABLE pages ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  step INTEGER NOT NULL,"
	"  target TEXT NOT NULL,"
	"  sent_at INTEGER NOT NULL,"
	"  delivered_at INTEGER,"
	"  displayed_at INTEGER,"
	"  failed_at INTEGER,"
	"  acked_at INTEGER,"
	"  next_deadline INTEGER,"
	"  detail TEXT"
	");"
	"CREATE INDEX pages_incident ON pages(incident_id, id);"
	"CREATE INDEX pages_deadline ON pages(next_deadline) WHERE next_deadline IS NOT NULL;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  sink TEXT NOT NULL,"
	"  event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,"
	"  payload_json TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  next_attempt_at INTEGER NOT NULL,"
	"  done_at INTEGER,"
	"  gave_up_at INTEGER,"
	"  last_error TEXT"
	");"
	"CREATE UNIQUE INDEX outbox_sink_event ON outbox(sink, event_id)"
	"  WHERE event_id IS NOT NULL;"
	"CREATE INDEX outbox_due ON outbox(next_attempt_at)"
	"  WHERE done_at IS NULL AND gave_up_at IS NULL;"
	"CREATE INDEX outbox_sink_due ON outbox(sink, next_attempt_at)"
	"  WHERE done_at IS NULL AND gave_up_at IS NULL;"
	"CREATE INDEX outbox_event ON outbox(event_id);"
	"CREATE TABLE cursors ("
	"  consumer TEXT PRIMARY KEY,"
	"  event_id INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"
	"PRAGMA user_version = 1;",

	/*
	 * 1 -> 2: public updates get their own table, so the status publisher reads an
	 * incident's public narrative without scanning its internal events. Version 1
	 * kept them only as "public_update" events: copy those over.
	 */
	"CREATE TABLE public_updates ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  message TEXT NOT NULL"
	");"
	"CREATE INDEX public_updates_incident ON public_updates(incident_id, id);"
	"CREATE INDEX public_updates_event ON public_updates(event_id);"
	"INSERT INTO public_updates (incident_id, event_id, at, status, actor, message)"
	"  SELECT incident_id, id, at, json_extract(body_json, '$.status'), actor,"
	"         coalesce(json_extract(body_json, '$.message'), '')"
	"  FROM events"
	"  WHERE type = 'public_update' AND incident_id IS NOT NULL"
	"    AND json_valid(body_json)"
	"    AND json_extract(body_json, '$.status') IN"
	"        ('investigating', 'identified', 'monitoring', 'resolved')"
	"  ORDER BY id;"
	"PRAGMA user_version = 2;",
};

/* --- statements -------------------------------------------------------------------- */

#define INCIDENT_COLS                                                                \
	"id, fingerprint, kind, cluster, node, severity, state, title, opened_at, "  \
	"updated_at, acked_at, acked_by, resolved_at, resolved_by, public_status"
#define EVENT_COLS "id, at, incident_id, actor, type, body_json"
#define PAGE_COLS                                                                    \
	"p.id, p.incident_id, p.step, p.target, p.sent_at, p.delivered_at, "         \
	"p.displayed_at, p.failed_at, p.acked_at, p.next_deadline, p.detail"
#define OUTBOX_COLS                                                                  \
	"id, sink, event_id, payload_json, attempts, created_at, next_attempt_at, "  \
	"done_at, gave_up_at, last_error"
#define UNFINISHED "done_at IS NULL AND gave_up_at IS NULL"

enum stmt_id {
	ST_BEGIN_IMMEDIATE,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_META,
	ST_DATA_VERSION,
	ST_INC_BY_ID,
	ST_INC_BY_FP,
	ST_INC_INSERT,
	ST_INC_SEVERITY,
	ST_INC_ACK,
	ST_INC_RESOLVE,
	ST_INC_REOPEN,
	ST_INC_PUBLIC,
	ST_INC_TOUCH,
	ST_INC_LIST,
	ST_PAGES_ACK,
	ST_EV_INSERT,
	ST_EV_TIMELINE,
	ST_EV_TAIL,
	ST_EV_EXPORT,
	ST_EV_MAX,
	ST_EV_EXISTS,
	ST_CUR_GET,
	ST_CUR_SET,
	ST_PUB_INSERT,
	ST_PUB_SET_EVENT,
	ST_PUB_LIST,
	ST_PAGE_INSERT,
	ST_PAGE_BY_ID,
	ST_PAGE_DELIVERED,
	ST_PAGE_DISPLAYED,
	ST_PAGE_FAILED,
	ST_PAGE_DEADLINE,
	ST_PAGE_LIST,
	ST_PAGE_DUE,
	ST_PAGE_NEXT,
	ST_OB_FIND,
	ST_OB_COUNT_SINK,
	ST_OB_INSERT,
	ST_OB_DUE,
	ST_OB_CLAIM,
	ST_OB_GET,
	ST_OB_DONE,
	ST_OB_RETRY,
	ST_OB_GIVE_UP,
	ST_OB_PENDING,
	ST_OB_HEAD,
	ST_OB_STATS,
	ST_PRUNE_SELECT,
	ST_PRUNE_COUNT_EV,
	ST_PRUNE_DEL_INC,
	ST_PRUNE_DEL_EV,
	ST_PRUNE_DEL_OB,
	ST_PAGE_CLEAR_OTHERS,
	ST_EV_OF_TYPE,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_META] = "SELECT (SELECT application_id FROM pragma_application_id),"
		    " (SELECT user_version FROM pragma_user_version),"
		    " (SELECT count(*) FROM sqlite_master)",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_INC_BY_ID] = "SELECT " INCIDENT_COLS " FROM incidents WHERE id = ?1",
	[ST_INC_BY_FP] = "SELECT " INCIDENT_COLS " FROM incidents"
			 " WHERE fingerprint = ?1 AND state != 'resolved'",
	[ST_INC_INSERT] = "INSERT INTO incidents (fingerprint, kind, cluster, node, severity,"
			  " state, title, opened_at, updated_at)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?7)",
	[ST_INC_SEVERITY] = "UPDATE incidents SET severity = ?2, updated_at = ?3 WHERE id = ?1",
	[ST_INC_ACK] = "UPDATE incidents SET state = 'acknowledged', acked_at = ?2,"
		       " acked_by = ?3, updated_at = ?2 WHERE id = ?1",
	[ST_INC_RESOLVE] = "UPDATE incidents SET state = 'resolved', resolved_at = ?2,"
			   " resolved_by = ?3, updated_at = ?2 WHERE id = ?1",
	[ST_INC_REOPEN] = "UPDATE incidents SET state = 'open', acked_at = NULL,"
			  " acked_by = NULL, resolved_at = NULL, resolved_by = NULL,"
			  " updated_at = ?2 WHERE id = ?1",
	[ST_INC_PUBLIC] = "UPDATE incidents SET public_status = ?2, updated_at = ?3"
			  " WHERE id = ?1",
	[ST_INC_TOUCH] = "UPDATE incidents SET updated_at = max(updated_at, ?2) WHERE id = ?1",
	[ST_INC_LIST] = "SELECT " INCIDENT_COLS " FROM incidents"
			" WHERE (CASE state WHEN 'open' THEN 1 WHEN 'acknowledged' THEN 2"
			"        ELSE 4 END & ?1) != 0"
			"   AND (?2 IS NULL OR cluster = ?2) AND (?3 IS NULL OR kind = ?3)"
			"   AND updated_at >= ?4"
			" ORDER BY id DESC LIMIT ?5",
	[ST_PAGES_ACK] = "UPDATE pages SET acked_at = ?2 WHERE incident_id = ?1"
			 " AND acked_at IS NULL",
	[ST_EV_INSERT] = "INSERT INTO events (at, incident_id, actor, type, body_json)"
			 " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_EV_TIMELINE] = "SELECT " EVENT_COLS " FROM events WHERE incident_id = ?1"
			   " ORDER BY id LIMIT ?2",
	[ST_EV_TAIL] = "SELECT " EVENT_COLS " FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
	[ST_EV_EXPORT] = "SELECT " EVENT_COLS " FROM events WHERE at >= ?1 ORDER BY id",
	[ST_EV_MAX] = "SELECT max(id) FROM events",
	[ST_EV_EXISTS] = "SELECT 1 FROM events WHERE id = ?1",
	[ST_CUR_GET] = "SELECT event_id FROM cursors WHERE consumer = ?1",
	[ST_CUR_SET] = "INSERT INTO cursors (consumer, event_id, updated_at) VALUES (?1, ?2, ?3)"
		       " ON CONFLICT (consumer) DO UPDATE SET event_id = excluded.event_id,"
		       " updated_at = excluded.updated_at",
	[ST_PUB_INSERT] = "INSERT INTO public_updates (incident_id, at, status, actor, message)"
			  " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_PUB_SET_EVENT] = "UPDATE public_updates SET event_id = ?2 WHERE id = ?1",
	[ST_PUB_LIST] = "SELECT id, incident_id, event_id, at, status, actor, message"
			" FROM public_updates WHERE incident_id = ?1 ORDER BY id",
	[ST_PAGE_INSERT] = "INSERT INTO pages (incident_id, step, target, sent_at, next_deadline)"
			   " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_PAGE_BY_ID] = "SELECT " PAGE_COLS " FROM pages p WHERE p.id = ?1",
	[ST_PAGE_DELIVERED] = "UPDATE pages SET delivered_at = ?2 WHERE id = ?1",
	[ST_PAGE_DISPLAYED] = "UPDATE pages SET displayed_at = ?2 WHERE id = ?1",
	[ST_PAGE_FAILED] = "UPDATE pages SET failed_at = ?2, detail = ?3 WHERE id = ?1",
	[ST_PAGE_DEADLINE] = "UPDATE pages SET next_deadline = ?2 WHERE id = ?1",
	[ST_PAGE_LIST] = "SELECT " PAGE_COLS " FROM pages p WHERE p.incident_id = ?1"
			 " ORDER BY p.id LIMIT ?2",
	[ST_PAGE_DUE] = "SELECT " PAGE_COLS " FROM pages p JOIN incidents i"
			" ON i.id = p.incident_id"
			" WHERE p.next_deadline IS NOT NULL AND p.next_deadline <= ?1"
			"   AND i.state != 'resolved'"
			" ORDER BY p.next_deadline, p.id LIMIT ?2",
	[ST_PAGE_NEXT] = "SELECT min(p.next_deadline) FROM pages p JOIN incidents i"
			 " ON i.id = p.incident_id"
			 " WHERE p.next_deadline IS NOT NULL AND i.state != 'resolved'",
	[ST_OB_FIND] = "SELECT id FROM outbox WHERE sink = ?1 AND event_id = ?2",
	[ST_OB_COUNT_SINK] = "SELECT count(*) FROM outbox WHERE sink = ?1 AND " UNFINISHED,
	[ST_OB_INSERT] = "INSERT INTO outbox (sink, event_id, payload_json, attempts,"
			 " created_at, next_attempt_at) VALUES (?1, ?2, ?3, 0, ?4, ?4)",
	[ST_OB_DUE] = "SELECT id FROM outbox WHERE " UNFINISHED " AND next_attempt_at <= ?1"
		      " AND (?2 IS NULL OR sink = ?2) ORDER BY next_attempt_at, id LIMIT ?3",
	[ST_OB_CLAIM] = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2"
			" WHERE id = ?1",
	[ST_OB_GET] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?1",
	[ST_OB_DONE] = "UPDATE outbox SET done_at = ?2 WHERE id = ?1",
	[ST_OB_RETRY] = "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
	[ST_OB_GIVE_UP] = "UPDATE outbox SET gave_up_at = ?2, last_error = ?3 WHERE id = ?1",
	[ST_OB_PENDING] = "SELECT count(*), min(next_attempt_at) FROM outbox WHERE " UNFINISHED
			  " AND (?1 IS NULL OR sink = ?1)",
	[ST_OB_HEAD] = "SELECT id, next_attempt_at FROM outbox WHERE sink = ?1 AND " UNFINISHED
		       " ORDER BY id LIMIT 1",
	[ST_OB_STATS] = "SELECT count(*) FILTER (WHERE " UNFINISHED "),"
			" count(*) FILTER (WHERE done_at IS NOT NULL),"
			" count(*) FILTER (WHERE gave_up_at IS NOT NULL),"
			" max(done_at), max(gave_up_at) FROM outbox WHERE sink = ?1",
	[ST_PRUNE_SELECT] = "SELECT id FROM incidents WHERE state = 'resolved'"
			    " AND resolved_at < ?1 ORDER BY id LIMIT ?2",
	[ST_PRUNE_COUNT_EV] = "SELECT count(*) FROM events WHERE incident_id = ?1",
	[ST_PRUNE_DEL_INC] = "DELETE FROM incidents WHERE id = ?1",
	[ST_PRUNE_DEL_EV] = "DELETE FROM events WHERE id IN (SELECT id FROM events"
			    " WHERE incident_id IS NULL AND at < ?1 ORDER BY id LIMIT ?2)",
	[ST_PRUNE_DEL_OB] = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
			    " WHERE (done_at IS NOT NULL AND done_at < ?1)"
			    "    OR (gave_up_at IS NOT NULL AND gave_up_at < ?1) LIMIT ?2)",
	[ST_PAGE_CLEAR_OTHERS] = "UPDATE pages SET next_deadline = NULL WHERE incident_id = ?1"
				 " AND id != ?2 AND next_deadline IS NOT NULL",
	[ST_EV_OF_TYPE] = "SELECT " EVENT_COLS " FROM events WHERE type = ?1"
			  " AND incident_id IS NULL ORDER BY id DESC LIMIT ?2",
};

struct ilog {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	struct ilog_clock clock;
	uint64_t rng;            /* default random generator's state (xorshift64*) */
	bool readonly;
	int busy_retry_ms;       /* run_txn gives up on a busy database after this */
	bool data_version_known;
	int64_t data_version;
	char path[512];          /* for messages only; cut if longer */
};

/* --- small helpers --------------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool
is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* A failed SQLite call: busy means "retry the transaction", anything else is final. */
static enum ilog_status
db_fail(struct ilog *log, int rc, const char *what, char *err, size_t errlen)
{
	if (is_busy(rc))
		return ILOG_RETRY;
	seterr(err, errlen, "%s: %s", what, sqlite3_errmsg(log->db));
	return ILOG_ERR_DB;
}

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static uint64_t
default_random(struct ilog *log)
{
	/* xorshift64*: enough for spreading retries; not for secrets. */
	uint64_t x = log->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	log->rng = x;
	return x * 2685821657736338717ULL;
}

static uint64_t
log_random(struct ilog *log)
{
	if (log->clock.random != NULL)
		return log->clock.random(log->clock.arg);
	return default_random(log);
}

int64_t
ilog_now(struct ilog *log)
{
	struct timespec ts;

	if (log->clock.now_ms != NULL)
		return log->clock.now_ms(log->clock.arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ilog_set_clock(struct ilog *log, const struct ilog_clock *clock)
{
	log->clock = *clock;
}

enum text_rule {
	TEXT_LINE,      /* one line: no control characters */
	TEXT_MULTILINE, /* newlines and tabs allowed */
};

/*
 * Checks a text argument: present (unless optional), at most max bytes, valid UTF-8,
 * no control characters beyond what the rule allows. NULL and "" count as absent.
 */
static enum ilog_status
check_text(const char *s, size_t max, bool optional, enum text_rule rule, const char *what,
    char *err, size_t errlen)
{
	const unsigned char *p;
	size_t len, n;

	if (s == NULL || s[0] == '\0') {
		if (optional)
			return ILOG_OK;
		seterr(err, errlen, "%s is empty", what);
		return ILOG_ERR_ARG;
	}
	len = strnlen(s, max + 1);
	if (len > max) {
		seterr(err, errlen, "%s is longer than %zu bytes", what, max);
		return ILOG_ERR_ARG;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		if (*p < 0x20 || *p == 0x7f) {
			if (rule == TEXT_MULTILINE && (*p == '\n' || *p == '\t' || *p == '\r')) {
				n = 1;
				continue;
			}
			seterr(err, errlen, "%s contains a control character", what);
			return ILOG_ERR_ARG;
		}
		if ((n = utf8_decode(p, NULL)) == 0) {
			seterr(err, errlen, "%s is not valid UTF-8", what);
			return ILOG_ERR_ARG;
		}
	}
	return ILOG_OK;
}

static enum ilog_status
check_actor(const char *actor, char *err, size_t errlen)
{
	return check_text(actor, ILOG_ACTOR_MAX, false, TEXT_LINE, "actor", err, errlen);
}

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

/*
 * Parses JSON text of at most ILOG_BODY_MAX bytes. want_object: it must be an object.
 * Returns a new reference, or NULL with err set.
 */
static json_t *
parse_json(const char *text, bool want_object, const char *what, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	size_t len = strnlen(text, ILOG_BODY_MAX + 1);

	if (len > ILOG_BODY_MAX) {
		seterr(err, errlen, "%s is longer than %d bytes", what, ILOG_BODY_MAX);
		return NULL;
	}
	j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		seterr(err, errlen, "%s is not valid JSON: %s (at byte %d)", what, jerr.text,
		    jerr.position);
		return NULL;
	}
	if (want_object && !json_is_object(j)) {
		seterr(err, errlen, "%s is not a JSON object", what);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Compact JSON text of j (malloc'd), or NULL with err set if too large or no memory. */
static char *
dump_json(const json_t *j, const char *what, char *err, size_t errlen)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s == NULL) {
		seterr(err, errlen, "%s: out of memory", what);
		return NULL;
	}
	if (strlen(s) > ILOG_BODY_MAX) {
		seterr(err, errlen, "%s is longer than %d bytes", what, ILOG_BODY_MAX);
		free(s);
		return NULL;
	}
	return s;
}

static void
copy_col(sqlite3_stmt *s, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	/* Inputs were checked against the same maxima, so a cut only meets a file that
	 * was edited by hand; it must not overflow either way. */
	snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
}

/* A text column, "" for NULL. */
static const char *
col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL ? (const char *)t : "";
}

static int
bind_opt_text(sqlite3_stmt *s, int idx, const char *t)
{
	if (t == NULL || t[0] == '\0')
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, t, -1, SQLITE_TRANSIENT);
}

static int
bind_opt_i64(sqlite3_stmt *s, int idx, int64_t v)
{
	if (v == 0)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_int64(s, idx, v);
}

/* Gets statement id, prepared and reset, into *out. */
static enum ilog_status
prep(struct ilog *log, enum stmt_id id, sqlite3_stmt **out, char *err, size_t errlen)
{
	int rc;

	if (log->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(log->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		    &log->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			log->stmt[id] = NULL;
			return db_fail(log, rc, "cannot prepare a query", err, errlen);
		}
	} else {
		sqlite3_reset(log->stmt[id]);
		sqlite3_clear_bindings(log->stmt[id]);
	}
	*out = log->stmt[id];
	return ILOG_OK;
}

static void
reset_all(struct ilog *log)
{
	int i;

	for (i = 0; i < ST_COUNT; i++) {
		if (log->stmt[i] != NULL)
			sqlite3_reset(log->stmt[i]);
	}
}

/* Runs a statement that returns no rows (bindings done). */
static enum ilog_status
exec_done(struct ilog *log, sqlite3_stmt *s, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(log, rc, what, err, errlen);
	return ILOG_OK;
}

/*
 * Steps a query expected to give one row: ILOG_OK with the row ready (caller reads
 * columns), ILOG_ERR_NOT_FOUND if none (err untouched), or an error.
 */
static enum ilog_status
step_row(struct ilog *log, sqlite3_stmt *s, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return ILOG_OK;
	if (rc == SQLITE_DONE)
		return ILOG_ERR_NOT_FOUND;
	return db_fail(log, rc, what, err, errlen);
}

/* A single-integer query; *out = def when it returns no row or NULL. */
static enum ilog_status
query_i64(struct ilog *log, sqlite3_stmt *s, int64_t def, int64_t *out, const char *what,
    char *err, size_t errlen)
{
	enum ilog_status st = step_row(log, s, what, err, errlen);

	if (st == ILOG_ERR_NOT_FOUND) {
		*out = def;
		st = ILOG_OK;
	} else if (st == ILOG_OK) {
		*out = sqlite3_column_type(s, 0) == SQLITE_NULL ? def : sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return st;
}

typedef enum ilog_status (*txn_fn)(struct ilog *log, void *arg, char *err, size_t errlen);

/*
 * Runs fn inside one transaction (BEGIN IMMEDIATE when writing: the write lock is
 * taken up front, so two writers never deadlock on a lock upgrade) and commits it.
 * While SQLite reports busy, after its own busy timeout, the whole transaction is
 * rolled back and run again, for up to log->busy_retry_ms.
 */
static enum ilog_status
run_txn(struct ilog *log, bool write, txn_fn fn, void *arg, char *err, size_t errlen)
{
	int64_t deadline = monotonic_ms() + log->busy_retry_ms;
	enum ilog_status st;
	sqlite3_stmt *s;

	if (write && log->readonly) {
		seterr(err, errlen, "%s: the incident log was opened read-only", log->path);
		return ILOG_ERR_DB;
	}
	for (;;) {
		st = prep(log, write ? ST_BEGIN_IMMEDIATE : ST_BEGIN, &s, err, errlen);
		if (st == ILOG_OK)
			st = exec_done(log, s, "cannot start a transaction", err, errlen);
		if (st == ILOG_OK) {
			st = fn(log, arg, err, errlen);
			reset_all(log);
			if (st == ILOG_OK && (st = prep(log, ST_COMMIT, &s, err, errlen)) == ILOG_OK)
				st = exec_done(log, s, "cannot commit", err, errlen);
			if (st != ILOG_OK && !sqlite3_get_autocommit(log->db)) {
				if (prep(log, ST_ROLLBACK, &s, NULL, 0) == ILOG_OK)
					(void)exec_done(log, s, "rollback", NULL, 0);
			}
		}
		if (st != ILOG_RETRY)
			return st;
		if (monotonic_ms() >= deadline) {
			seterr(err, errlen, "%s: the database stayed busy for %.1f s (another process "
			    "holds its write lock)", log->path, log->busy_retry_ms / 1000.0);
			return ILOG_ERR_DB;
		}
		sleep_ms(ILOG_RETRY_SLEEP_MS + (int)(default_random(log) % ILOG_RETRY_SLEEP_MS));
	}
}

/* --- names ------------------------------------------------------------------------- */

static const char *const state_names[] = { "open", "acknowledged", "resolved" };
static const char *const severity_names[] = { "?", "minor", "major", "critical" };
static const char *const public_names[] = { "none", "investigating", "identified",
	"monitoring", "resolved" };

const char *
ilog_state_name(enum ilog_state s)
{
	return (unsigned)s <= ILOG_STATE_RESOLVED ? state_names[s] : "?";
}

int
ilog_state_parse(const char *s, enum ilog_state *out)
{
	int i;

	for (i = 0; i <= ILOG_STATE_RESOLVED; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum ilog_state)i;
			return 0;
		}
	}
	return -1;
}

const char *
ilog_severity_name(enum ilog_severity s)
{
	return s >= ILOG_SEVERITY_MINOR && s <= ILOG_SEVERITY_CRITICAL ? severity_names[s] : "?";
}

int
ilog_severity_parse(const char *s, enum ilog_severity *out)
{
	int i;

	for (i = ILOG_SEVERITY_MINOR; i <= ILOG_SEVERITY_CRITICAL; i++) {
		if (strcmp(s, severity_names[i]) == 0) {
			*out = (enum ilog_severity)i;
			return 0;
		}
	}
	return -1;
}

const char *
ilog_public_status_name(enum ilog_public_status s)
{
	return (unsigned)s <= ILOG_PUBLIC_RESOLVED ? public_names[s] : "?";
}

int
ilog_public_status_parse(const char *s, enum ilog_public_status *out)
{
	int i;

	for (i = ILOG_PUBLIC_INVESTIGATING; i <= ILOG_PUBLIC_RESOLVED; i++) {
		if (strcmp(s, public_names[i]) == 0) {
			*out = (enum ilog_public_status)i;
			return 0;
		}
	}
	return -1;
}

static bool
severity_valid(enum ilog_severity s)
{
	return s >= ILOG_SEVERITY_MINOR && s <= ILOG_SEVERITY_CRITICAL;
}

/* --- open, migrate, close ----------------------------------------------------------- */

struct meta {
	int64_t application_id, user_version, objects;
};

static enum ilog_status
read_meta(struct ilog *log, struct meta *m, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;

	if ((st = prep(log, ST_META, &s, err, errlen)) != ILOG_OK)
		return st;
	st = step_row(log, s, "cannot read the schema version", err, errlen);
	if (st == ILOG_OK) {
		m->application_id = sqlite3_column_int64(s, 0);
		m->user_version = sqlite3_column_int64(s, 1);
		m->objects = sqlite3_column_int64(s, 2);
	} else if (st == ILOG_ERR_NOT_FOUND) {
		seterr(err, errlen, "cannot read the schema version");
		st = ILOG_ERR_DB;
	}
	sqlite3_reset(s);
	return st;
}

static enum ilog_status
check_meta(struct ilog *log, const struct meta *m, char *err, size_t errlen)
{
	if (m->application_id != ILOG_APPLICATION_ID &&
	    !(m->application_id == 0 && m->user_version == 0 && m->objects == 0)) {
		seterr(err, errlen, "%s is not an mcops incident log", log->path);
		return ILOG_ERR_DB;
	}
	if (m->user_version > ILOG_SCHEMA_VERSION) {
		seterr(err, errlen, "%s: schema version %lld is newer than this mcops supports "
		    "(%d); use a newer mcops", log->path, (long long)m->user_version,
		    ILOG_SCHEMA_VERSION);
		return ILOG_ERR_DB;
	}
	return ILOG_OK;
}

static enum ilog_status
migrate_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct meta m;
	enum ilog_status st;
	char *emsg = NULL;
	int64_t v;
	int rc;
	(void)arg;

	if ((st = read_meta(log, &m, err, errlen)) != ILOG_OK)
		return st;
	if ((st = check_meta(log, &m, err, errlen)) != ILOG_OK)
		return st;
	for (v = m.user_version; v < ILOG_SCHEMA_VERSION; v++) {
		rc = sqlite3_exec(log->db, migrations[v], NULL, NULL, &emsg);
		if (rc != SQLITE_OK) {
			if (is_busy(rc)) {
				sqlite3_free(emsg);
				return ILOG_RETRY;
			}
			seterr(err, errlen, "%s: migration to schema version %lld failed: %s",
			    log->path, (long long)v + 1, emsg != NULL ? emsg : sqlite3_errstr(rc));
			sqlite3_free(emsg);
			return ILOG_ERR_DB;
		}
	}
	return ILOG_OK;
}

static enum ilog_status
check_version_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct meta m;
	enum ilog_status st;
	(void)arg;

	if ((st = read_meta(log, &m, err, errlen)) != ILOG_OK)
		return st;
	if ((st = check_meta(log, &m, err, errlen)) != ILOG_OK)
		return st;
	if (m.user_version < ILOG_SCHEMA_VERSION) {
		seterr(err, errlen, "%s: schema version %lld needs migrating to %d; open it "
		    "read-write once (any write command) first", log->path,
		    (long long)m.user_version, ILOG_SCHEMA_VERSION);
		return ILOG_ERR_DB;
	}
	return ILOG_OK;
}

/* A PRAGMA that may have to wait for a lock (journal_mode), retried while busy. */
static enum ilog_status
exec_pragma(struct ilog *log, const char *sql, const char *expect, char *err, size_t errlen)
{
	int64_t deadline = monotonic_ms() + ILOG_BUSY_RETRY_MS;
	sqlite3_stmt *s;
	int rc;

	for (;;) {
		rc = sqlite3_prepare_v2(log->db, sql, -1, &s, NULL);
		if (rc == SQLITE_OK) {
			while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				const unsigned char *t = sqlite3_column_text(s, 0);
				if (expect != NULL && (t == NULL ||
					strcasecmp((const char *)t, expect) != 0)) {
					seterr(err, errlen, "%s: %s gave '%s', not '%s'", log->path,
					    sql, t != NULL ? (const char *)t : "", expect);
					sqlite3_finalize(s);
					return ILOG_ERR_DB;
				}
			}
			sqlite3_finalize(s);
			if (rc == SQLITE_DONE)
				return ILOG_OK;
		}
		if (!is_busy(rc) || monotonic_ms() >= deadline) {
			seterr(err, errlen, "%s: %s", log->path, sqlite3_errmsg(log->db));
			return ILOG_ERR_DB;
		}
		sleep_ms(ILOG_RETRY_SLEEP_MS);
	}
}

/*
 * Creates path, empty, mode 0600 (SQLite would use 0644, and the -wal and -shm files
 * copy the database's mode). Returns 0, also if path exists by then, or -1 with errno.
 *
 * Never by opening path itself. Closing any descriptor of a file drops every POSIX
 * lock this process holds on it, those of this process's SQLite connections to the
 * file included (SQLite's locks belong to the process; it keeps its own descriptors
 * open until the file's last connection closes for that reason). A connection that
 * has lost its shared lock lets another process, closing what it then takes for the
 * last connection, checkpoint and delete the -wal and -shm files under it: from then
 * on that connection reads an old snapshot and other processes never see its
 * commits. So the file is made under a name nobody else opens, closed, and only then
 * linked into place. link() never replaces a file: a racing creator's file is kept.
 * (A crash between mkstemp() and unlink() leaves that empty temporary file behind:
 * the path followed by a dot and six random characters.)
 */
static int
create_new_file(const char *path)
{
	char tmp[PATH_MAX];
	int fd, rc, link_errno;

	/* mkstemp() replaces the six X with random characters. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0) /* mode 0600 */
		return -1;
	close(fd);
	rc = link(tmp, path);
	link_errno = errno;
	unlink(tmp);
	if (rc == 0 || link_errno == EEXIST)
		return 0;
	if (link_errno != EPERM && link_errno != ENOTSUP && link_errno != ENOSYS) {
		errno = link_errno;
		return -1;
	}
	/* A file system without hard links: create path itself. It did not exist an
	 * instant ago, so no connection of this process can have it open. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

/* Makes sure the database file exists, private if this call creates it. */
static enum ilog_status
create_private(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) == 0 || (errno == ENOENT && create_new_file(path) == 0))
		return ILOG_OK;
	seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
	return ILOG_ERR_DB;
}

struct ilog *
ilog_open(const char *path, const struct ilog_options *opts, char *err, size_t errlen)
{
	struct ilog_options defaults = { 0 };
	struct ilog *log;
	int flags, rc;

	if (opts == NULL)
		opts = &defaults;
	log = calloc(1, sizeof(*log));
	if (log == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(log->path, sizeof(log->path), "%s", path);
	log->readonly = opts->readonly;
	if (getrandom(&log->rng, sizeof(log->rng), GRND_NONBLOCK) != sizeof(log->rng))
		log->rng = (uint64_t)monotonic_ms() ^ ((uint64_t)getpid() << 32);
	log->rng |= 1; /* xorshift must not start at zero */

	if (!opts->readonly) {
		if (create_private(path, err, errlen) != ILOG_OK)
			goto out_free;
		flags = SQLITE_OPEN_READWRITE;
	} else {
		flags = SQLITE_OPEN_READONLY;
	}
	rc = sqlite3_open_v2(path, &log->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		seterr(err, errlen, "cannot open %s: %s", path,
		    log->db != NULL ? sqlite3_errmsg(log->db) : sqlite3_errstr(rc));
		goto out_close;
	}
	sqlite3_extended_result_codes(log->db, 1);
	sqlite3_busy_timeout(log->db,
	    opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : ILOG_BUSY_TIMEOUT_MS);
	log->busy_retry_ms = ILOG_BUSY_RETRY_MS; /* opening waits as long as it must */
	if (exec_pragma(log, "PRAGMA foreign_keys = ON", NULL, err, errlen) != ILOG_OK)
		goto out_close;
	if (!opts->readonly) {
		if (exec_pragma(log, "PRAGMA journal_mode = WAL", "wal", err, errlen) != ILOG_OK)
			goto out_close;
		if (exec_pragma(log, opts->sync_full ? "PRAGMA synchronous = FULL" :
			"PRAGMA synchronous = NORMAL", NULL, err, errlen) != ILOG_OK)
			goto out_close;
		if (run_txn(log, true, migrate_body, NULL, err, errlen) != ILOG_OK)
			goto out_close;
	} else {
		if (run_txn(log, false, check_version_body, NULL, err, errlen) != ILOG_OK)
			goto out_close;
	}
	if (opts->busy_retry_ms > 0)
		log->busy_retry_ms = opts->busy_retry_ms;
	return log;

out_close:
	ilog_close(log);
	return NULL;
out_free:
	free(log);
	return NULL;
}

void
ilog_close(struct ilog *log)
{
	int i;

	if (log == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(log->stmt[i]);
	sqlite3_close(log->db);
	free(log);
}

/* --- row readers --------------------------------------------------------------------- */

static void
read_incident(sqlite3_stmt *s, struct ilog_incident *inc)
{
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
}

/* Reads the current row into ev; body_json is strdup'd. -1 on no memory. */
static int
read_event(sqlite3_stmt *s, struct ilog_event *ev)
{
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

static void
read_page(sqlite3_stmt *s, struct ilog_page *p)
{
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(s, 0);
	p->incident_id = sqlite3_column_int64(s, 1);
	p->step = sqlite3_column_int(s, 2);
	copy_col(s, 3, p->target, sizeof(p->target));
	p->sent_at = sqlite3_column_int64(s, 4);
	p->delivered_at = sqlite3_column_int64(s, 5);
	p->displayed_at = sqlite3_column_int64(s, 6);
	p->failed_at = sqlite3_column_int64(s, 7);
	p->acked_at = sqlite3_column_int64(s, 8);
	p->next_deadline = sqlite3_column_int64(s, 9);
	copy_col(s, 10, p->detail, sizeof(p->detail));
}

static int
read_outbox(sqlite3_stmt *s, struct ilog_outbox_item *it)
{
	const unsigned char *payload = sqlite3_column_text(s, 3);

	memset(it, 0, sizeof(*it));
	it->id = sqlite3_column_int64(s, 0);
	copy_col(s, 1, it->sink, sizeof(it->sink));
	it->event_id = sqlite3_column_int64(s, 2);
	it->attempts = (unsigned)sqlite3_column_int64(s, 4);
	it->created_at = sqlite3_column_int64(s, 5);
	it->next_attempt_at = sqlite3_column_int64(s, 6);
	it->done_at = sqlite3_column_int64(s, 7);
	it->gave_up_at = sqlite3_column_int64(s, 8);
	copy_col(s, 9, it->last_error, sizeof(it->last_error));
	it->payload_json = strdup(payload != NULL ? (const char *)payload : "null");
	return it->payload_json != NULL ? 0 : -1;
}

/* Grows *v (elements of size) to hold n + 1; -1 on no memory. */
static int
grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	nv = realloc(*v, ncap * size);
	if (nv == NULL)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

void
ilog_events_release(struct ilog_events *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		free(list->v[i].body_json);
	free(list->v);
	memset(list, 0, sizeof(*list));
}

void
ilog_incidents_release(struct ilog_incidents *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

void
ilog_pages_release(struct ilog_pages *list)
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

void
ilog_outbox_item_release(struct ilog_outbox_item *item)
{
	free(item->payload_json);
	item->payload_json = NULL;
}

void
ilog_outbox_items_release(struct ilog_outbox_items *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		free(list->v[i].payload_json);
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* Steps s, appending each event row to out, at most max rows (one more sets
 * truncated). out must be empty. */
static enum ilog_status
collect_events(struct ilog *log, sqlite3_stmt *s, size_t max, struct ilog_events *out,
    char *err, size_t errlen)
{
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (out->n == max) {
			out->truncated = true;
			break;
		}
		if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0 ||
		    read_event(s, &out->v[out->n]) != 0) {
			seterr(err, errlen, "out of memory reading events");
			return ILOG_ERR_DB;
		}
		out->n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(log, rc, "cannot read events", err, errlen);
	return ILOG_OK;
}

static enum ilog_status
collect_pages(struct ilog *log, sqlite3_stmt *s, size_t max, struct ilog_pages *out,
    char *err, size_t errlen)
{
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (out->n == max) {
			out->truncated = true;
			break;
		}
		if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0) {
			seterr(err, errlen, "out of memory reading pages");
			return ILOG_ERR_DB;
		}
		read_page(s, &out->v[out->n++]);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(log, rc, "cannot read pages", err, errlen);
	return ILOG_OK;
}

/* --- incident access inside a transaction -------------------------------------------- */

static enum ilog_status
load_incident(struct ilog *log, int64_t id, struct ilog_incident *inc, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;

	if ((st = prep(log, ST_INC_BY_ID, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = step_row(log, s, "cannot read an incident", err, errlen);
	if (st == ILOG_OK)
		read_incident(s, inc);
	else if (st == ILOG_ERR_NOT_FOUND)
		seterr(err, errlen, "no incident %lld", (long long)id);
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

	if ((st = prep(log, ST_INC_BY_FP, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_TRANSIENT);
	st = step_row(log, s, "cannot read an incident", err, errlen);
	if (st == ILOG_OK)
		read_incident(s, inc);
	sqlite3_reset(s);
	return st;
}

/*
 * Appends an event (inside a transaction) with body, a borrowed JSON object, and
 * bumps the incident's updated_at. *id (may be NULL) gets the event id.
 */
static enum ilog_status
insert_event(struct ilog *log, int64_t now, int64_t incident_id, const char *actor,
    const char *type, const json_t *body, int64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;
	char *text;

	if ((text = dump_json(body, "event body", err, errlen)) == NULL)
		return ILOG_ERR_ARG;
	if ((st = prep(log, ST_EV_INSERT, &s, err, errlen)) != ILOG_OK) {
		free(text);
		return st;
	}
	sqlite3_bind_int64(s, 1, now);
	bind_opt_i64(s, 2, incident_id);
	sqlite3_bind_text(s, 3, actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, text, -1, SQLITE_TRANSIENT);
	st = exec_done(log, s, "cannot append an event", err, errlen);
	free(text);
	if (st != ILOG_OK)
		return st;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(log->db);
	if (incident_id != 0) {
		if ((st = prep(log, ST_INC_TOUCH, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, incident_id);
		sqlite3_bind_int64(s, 2, now);
		st = exec_done(log, s, "cannot update an incident", err, errlen);
	}
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
			if ((st = prep(log, ST_INC_SEVERITY, &s, err, errlen)) != ILOG_OK)
				return st;
			sqlite3_bind_int64(s, 1, inc.id);
			sqlite3_bind_int(s, 2, sp->severity);
			sqlite3_bind_int64(s, 3, now);
			if ((st = exec_done(log, s, "cannot raise a severity", err, errlen)) != ILOG_OK)
				return st;
			body = json_pack("{s:s, s:s}", "from", ilog_severity_name(inc.severity),
			    "to", ilog_severity_name(sp->severity));
			if (body != NULL && a->evidence != NULL)
				json_object_set(body, "evidence", a->evidence);
			if (body == NULL) {
				seterr(err, errlen, "out of memory");
				return ILOG_ERR_DB;
			}
			st = insert_event(log, now, inc.id, a->actor, ILOG_EV_SEVERITY, body,
			    &a->res.event_id, err, errlen);
			json_decref(body);
			a->res.raised = st == ILOG_OK;
			return st;
		}
	}
	if ((st = prep(log, ST_INC_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	bind_opt_text(s, 1, sp->fingerprint);
	sqlite3_bind_text(s, 2, sp->kind, -1, SQLITE_TRANSIENT);
	bind_opt_text(s, 3, sp->cluster);
	bind_opt_text(s, 4, sp->node);
	sqlite3_bind_int(s, 5, sp->severity);
	sqlite3_bind_text(s, 6, sp->title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 7, now);
	if ((st = exec_done(log, s, "cannot open an incident", err, errlen)) != ILOG_OK)
		return st;
	a->res.id = sqlite3_last_insert_rowid(log->db);
	a->res.created = true;
	a->res.previous = sp->severity;
	body = json_object();
	if (body == NULL) {
		seterr(err, errlen, "out of memory");
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
	st = insert_event(log, now, a->res.id, a->actor, ILOG_EV_OPENED, body, &a->res.event_id,
	    err, errlen);
	json_decref(body);
	return st;
}

enum ilog_status
ilog_incident_upsert(struct ilog *log, const struct ilog_incident_spec *spec,
    const char *actor, struct ilog_upsert_result *res, char *err, size_t errlen)
{
	struct upsert_args a = { .spec = spec, .actor = actor };
	enum ilog_status st;

	if ((st = check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (spec->fingerprint != NULL && (st = check_text(spec->fingerprint,
	    ILOG_FINGERPRINT_MAX, false, TEXT_LINE, "fingerprint", err, errlen)) != ILOG_OK)
		return st;
	if (!ilog_kind_valid(spec->kind)) {
		seterr(err, errlen, "incident kind '%.*s' is invalid (1-%d of a-z 0-9 _ -)",
		    ILOG_KIND_MAX, spec->kind != NULL ? spec->kind : "", ILOG_KIND_MAX);
		return ILOG_ERR_ARG;
	}
	if ((st = check_text(spec->cluster, ILOG_NAME_MAX, true, TEXT_LINE, "cluster", err,
	    errlen)) != ILOG_OK ||
	    (st = check_text(spec->node, ILOG_NAME_MAX, true, TEXT_LINE, "node", err,
	    errlen)) != ILOG_OK ||
	    (st = check_text(spec->title, ILOG_TITLE_MAX, false, TEXT_LINE, "title", err,
	    errlen)) != ILOG_OK)
		return st;
	if (!severity_valid(spec->severity)) {
		seterr(err, errlen, "severity %d is invalid", (int)spec->severity);
		return ILOG_ERR_ARG;
	}
	if (spec->evidence_json != NULL) {
		a.evidence = parse_json(spec->evidence_json, true, "evidence", err, errlen);
		if (a.evidence == NULL)
			return ILOG_ERR_ARG;
	}
	st = run_txn(log, true, upsert_body, &a, err, errlen);
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
			seterr(err, errlen, "incident %lld is resolved; reopen it first", id);
			return ILOG_ERR_STATE;
		}
		if (inc->state == ILOG_STATE_ACKNOWLEDGED) {
			seterr(err, errlen, "incident %lld is already acknowledged by %s", id,
			    inc->acked_by);
			return ILOG_ERR_STATE;
		}
		return ILOG_OK;
	case TR_RESOLVE:
		if (inc->state == ILOG_STATE_RESOLVED) {
			seterr(err, errlen, "incident %lld is already resolved", id);
			return ILOG_ERR_STATE;
		}
		return ILOG_OK;
	case TR_REOPEN:
		if (inc->state != ILOG_STATE_RESOLVED) {
			seterr(err, errlen, "incident %lld is not resolved (it is %s)", id,
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
		seterr(err, errlen, "incident %lld cannot be reopened: incident %lld is "
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
	if ((st = load_incident(log, a->id, &inc, err, errlen)) != ILOG_OK)
		return st;
	if ((st = transition_allowed(log, a->tr, &inc, err, errlen)) != ILOG_OK)
		return st;
	if (a->tr != TR_NOTE) {
		if ((st = prep(log, update[a->tr], &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		if (a->tr != TR_REOPEN)
			sqlite3_bind_text(s, 3, a->actor, -1, SQLITE_TRANSIENT);
		if ((st = exec_done(log, s, "cannot change an incident", err, errlen)) != ILOG_OK)
			return st;
	}
	if (a->tr == TR_ACK) {
		if ((st = prep(log, ST_PAGES_ACK, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		if ((st = exec_done(log, s, "cannot update pages", err, errlen)) != ILOG_OK)
			return st;
	}
	if ((body = message_body(a->message)) == NULL) {
		seterr(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = insert_event(log, now, a->id, a->actor, type[a->tr], body, &a->event_id, err,
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

	if ((st = check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if ((st = check_text(message, ILOG_MESSAGE_MAX, tr != TR_NOTE, TEXT_MULTILINE,
	    tr == TR_NOTE ? "note" : "message", err, errlen)) != ILOG_OK)
		return st;
	if (id <= 0) {
		seterr(err, errlen, "no incident %lld", (long long)id);
		return ILOG_ERR_NOT_FOUND;
	}
	st = run_txn(log, true, transition_body, &a, err, errlen);
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
	if ((st = load_incident(log, a->id, &inc, err, errlen)) != ILOG_OK)
		return st;
	if ((st = prep(log, ST_PUB_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_text(s, 3, word, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, a->actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, a->message, -1, SQLITE_TRANSIENT);
	if ((st = exec_done(log, s, "cannot store a public update", err, errlen)) != ILOG_OK)
		return st;
	update_id = sqlite3_last_insert_rowid(log->db);
	if ((st = prep(log, ST_INC_PUBLIC, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_text(s, 2, word, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if ((st = exec_done(log, s, "cannot update an incident", err, errlen)) != ILOG_OK)
		return st;
	body = json_pack("{s:s, s:s, s:I}", "status", word, "message", a->message,
	    "public_update_id", (json_int_t)update_id);
	if (body == NULL) {
		seterr(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = insert_event(log, now, a->id, a->actor, ILOG_EV_PUBLIC_UPDATE, body, &a->event_id,
	    err, errlen);
	json_decref(body);
	if (st != ILOG_OK)
		return st;
	if ((st = prep(log, ST_PUB_SET_EVENT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, update_id);
	sqlite3_bind_int64(s, 2, a->event_id);
	return exec_done(log, s, "cannot store a public update", err, errlen);
}

enum ilog_status
ilog_public_update(struct ilog *log, int64_t id, const char *actor,
    enum ilog_public_status status, const char *message, int64_t *event_id, char *err,
    size_t errlen)
{
	struct public_args a = { .id = id, .actor = actor, .status = status,
		.message = message };
	enum ilog_status st;

	if ((st = check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (status < ILOG_PUBLIC_INVESTIGATING || status > ILOG_PUBLIC_RESOLVED) {
		seterr(err, errlen, "public status %d is invalid (investigating, identified, "
		    "monitoring or resolved)", (int)status);
		return ILOG_ERR_ARG;
	}
	if ((st = check_text(message, ILOG_MESSAGE_MAX, false, TEXT_MULTILINE, "message", err,
	    errlen)) != ILOG_OK)
		return st;
	st = run_txn(log, true, public_body, &a, err, errlen);
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
	struct ilog_public_entry *e;
	enum ilog_public_status ps;
	sqlite3_stmt *s;
	enum ilog_status st;
	size_t cap = 0;
	int rc;

	ilog_public_entries_release(a->out);
	if ((st = prep(log, ST_PUB_LIST, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (grow((void **)&a->out->v, &cap, a->out->n, sizeof(*a->out->v)) != 0) {
			seterr(err, errlen, "out of memory reading public updates");
			return ILOG_ERR_DB;
		}
		e = &a->out->v[a->out->n++];
		memset(e, 0, sizeof(*e));
		e->id = sqlite3_column_int64(s, 0);
		e->incident_id = sqlite3_column_int64(s, 1);
		e->event_id = sqlite3_column_int64(s, 2);
		e->at = sqlite3_column_int64(s, 3);
		ps = ILOG_PUBLIC_NONE;
		if (sqlite3_column_text(s, 4) != NULL)
			(void)ilog_public_status_parse((const char *)sqlite3_column_text(s, 4), &ps);
		e->status = ps;
		copy_col(s, 5, e->actor, sizeof(e->actor));
		copy_col(s, 6, e->message, sizeof(e->message));
	}
	if (rc != SQLITE_DONE)
		return db_fail(log, rc, "cannot read public updates", err, errlen);
	return ILOG_OK;
}

enum ilog_status
ilog_public_list(struct ilog *log, int64_t incident_id, struct ilog_public_entries *out,
    char *err, size_t errlen)
{
	struct public_list_args a = { .id = incident_id, .out = out };
	enum ilog_status st = run_txn(log, false, public_list_body, &a, err, errlen);

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
		return load_incident(log, a->id, a->out, err, errlen);
	st = load_by_fingerprint(log, a->fingerprint, a->out, err, errlen);
	if (st == ILOG_ERR_NOT_FOUND)
		seterr(err, errlen, "no unresolved incident has fingerprint '%s'", a->fingerprint);
	return st;
}

enum ilog_status
ilog_incident_get(struct ilog *log, int64_t id, struct ilog_incident *out, char *err,
    size_t errlen)
{
	struct get_args a = { .id = id, .out = out };

	return run_txn(log, false, get_body, &a, err, errlen);
}

enum ilog_status
ilog_incident_find(struct ilog *log, const char *fingerprint, struct ilog_incident *out,
    char *err, size_t errlen)
{
	struct get_args a = { .fingerprint = fingerprint, .out = out };
	enum ilog_status st;

	if ((st = check_text(fingerprint, ILOG_FINGERPRINT_MAX, false, TEXT_LINE,
	    "fingerprint", err, errlen)) != ILOG_OK)
		return st;
	return run_txn(log, false, get_body, &a, err, errlen);
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
	size_t cap = 0;
	int rc;

	ilog_incidents_release(a->out);
	if ((st = prep(log, ST_INC_LIST, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int(s, 1, (int)states);
	bind_opt_text(s, 2, q->cluster);
	bind_opt_text(s, 3, q->kind);
	sqlite3_bind_int64(s, 4, q->since);
	sqlite3_bind_int64(s, 5, (int64_t)limit + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (a->out->n == limit) {
			a->out->truncated = true;
			break;
		}
		if (grow((void **)&a->out->v, &cap, a->out->n, sizeof(*a->out->v)) != 0) {
			seterr(err, errlen, "out of memory reading incidents");
			return ILOG_ERR_DB;
		}
		read_incident(s, &a->out->v[a->out->n++]);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(log, rc, "cannot list incidents", err, errlen);
	return ILOG_OK;
}

enum ilog_status
ilog_incident_list(struct ilog *log, const struct ilog_query *q, struct ilog_incidents *out,
    char *err, size_t errlen)
{
	struct ilog_query all = { 0 };
	struct list_args a = { .q = q != NULL ? q : &all, .out = out };
	enum ilog_status st;

	if (a.q->states & ~ILOG_STATES_ALL) {
		seterr(err, errlen, "state filter %#x is invalid", a.q->states);
		return ILOG_ERR_ARG;
	}
	st = run_txn(log, false, list_body, &a, err, errlen);
	if (st != ILOG_OK)
		ilog_incidents_release(out);
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
	    (st = load_incident(log, a->incident_id, &inc, err, errlen)) != ILOG_OK)
		return st;
	return insert_event(log, ilog_now(log), a->incident_id, a->actor, a->type, a->body,
	    &a->event_id, err, errlen);
}

enum ilog_status
ilog_event_append(struct ilog *log, int64_t incident_id, const char *actor, const char *type,
    const char *body_json, int64_t *event_id, char *err, size_t errlen)
{
	struct append_args a = { .incident_id = incident_id, .actor = actor, .type = type };
	enum ilog_status st;
	json_t *body;

	if ((st = check_actor(actor, err, errlen)) != ILOG_OK)
		return st;
	if (!event_type_valid(type)) {
		seterr(err, errlen, "event type '%.*s' is invalid ([a-z][a-z0-9_]*, at most %d)",
		    ILOG_TYPE_MAX + 1, type != NULL ? type : "", ILOG_TYPE_MAX);
		return ILOG_ERR_ARG;
	}
	if (incident_id < 0) {
		seterr(err, errlen, "no incident %lld", (long long)incident_id);
		return ILOG_ERR_NOT_FOUND;
	}
	body = body_json != NULL ? parse_json(body_json, true, "event body", err, errlen)
				 : json_object();
	if (body == NULL)
		return ILOG_ERR_ARG;
	a.body = body;
	st = run_txn(log, true, append_body, &a, err, errlen);
	json_decref(body);
	if (st == ILOG_OK && event_id != NULL)
		*event_id = a.event_id;
	return st;
}

struct events_args {
	enum stmt_id which;
	int64_t key;  /* incident id or after_id */
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
	if ((st = prep(log, a->which, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->key);
	sqlite3_bind_int64(s, 2, (int64_t)a->max + 1);
	return collect_events(log, s, a->max, a->out, err, errlen);
}

enum ilog_status
ilog_timeline(struct ilog *log, int64_t incident_id, struct ilog_events *out, char *err,
    size_t errlen)
{
	struct events_args a = { ST_EV_TIMELINE, incident_id, ILOG_TIMELINE_MAX, out };
	enum ilog_status st = run_txn(log, false, events_body, &a, err, errlen);

	if (st != ILOG_OK)
		ilog_events_release(out);
	return st;
}

enum ilog_status
ilog_tail(struct ilog *log, int64_t after_id, size_t max, struct ilog_events *out,
    char *err, size_t errlen)
{
	struct events_args a = { ST_EV_TAIL, after_id,
		max == 0 || max > ILOG_TAIL_MAX ? ILOG_TAIL_MAX : max, out };
	enum ilog_status st = run_txn(log, false, events_body, &a, err, errlen);

	if (st != ILOG_OK)
		ilog_events_release(out);
	return st;
}

struct type_args {
	const char *type;
	size_t max;
	struct ilog_events *out;
};

static enum ilog_status
of_type_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct type_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	ilog_events_release(a->out);
	if ((st = prep(log, ST_EV_OF_TYPE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, (int64_t)a->max + 1);
	return collect_events(log, s, a->max, a->out, err, errlen);
}

enum ilog_status
ilog_events_of_type(struct ilog *log, const char *type, size_t max, struct ilog_events *out,
    char *err, size_t errlen)
{
	struct type_args a = { type, max == 0 || max > ILOG_TAIL_MAX ? ILOG_TAIL_MAX : max,
		out };
	enum ilog_status st;

	if (!event_type_valid(type)) {
		ilog_events_release(out);
		seterr(err, errlen, "event type '%s' is invalid", type != NULL ? type : "");
		return ILOG_ERR_ARG;
	}
	st = run_txn(log, false, of_type_body, &a, err, errlen);
	if (st != ILOG_OK)
		ilog_events_release(out);
	return st;
}

struct i64_args {
	enum stmt_id which;
	const char *text;  /* bound to ?1 if set */
	int64_t value;
};

static enum ilog_status
i64_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct i64_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = prep(log, a->which, &s, err, errlen)) != ILOG_OK)
		return st;
	if (a->text != NULL)
		sqlite3_bind_text(s, 1, a->text, -1, SQLITE_TRANSIENT);
	return query_i64(log, s, 0, &a->value, "cannot read the incident log", err, errlen);
}

enum ilog_status
ilog_last_event_id(struct ilog *log, int64_t *id, char *err, size_t errlen)
{
	struct i64_args a = { .which = ST_EV_MAX };
	enum ilog_status st = run_txn(log, false, i64_body, &a, err, errlen);

	if (st == ILOG_OK)
		*id = a.value;
	return st;
}

enum ilog_status
ilog_changed(struct ilog *log, bool *changed, char *err, size_t errlen)
{
	struct i64_args a = { .which = ST_DATA_VERSION };
	enum ilog_status st;

	/* Outside a transaction: data_version is per connection and cheap. */
	st = run_txn(log, false, i64_body, &a, err, errlen);
	if (st != ILOG_OK)
		return st;
	*changed = !log->data_version_known || a.value != log->data_version;
	log->data_version_known = true;
	log->data_version = a.value;
	return ILOG_OK;
}

/* --- cursors --------------------------------------------------------------------------- */

enum ilog_status
ilog_cursor_get(struct ilog *log, const char *consumer, int64_t *event_id, char *err,
    size_t errlen)
{
	struct i64_args a = { .which = ST_CUR_GET, .text = consumer };
	enum ilog_status st;

	if ((st = check_text(consumer, ILOG_CONSUMER_MAX, false, TEXT_LINE, "consumer", err,
	    errlen)) != ILOG_OK)
		return st;
	st = run_txn(log, false, i64_body, &a, err, errlen);
	if (st == ILOG_OK)
		*event_id = a.value;
	return st;
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

	if ((st = prep(log, ST_CUR_SET, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->consumer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, a->event_id);
	sqlite3_bind_int64(s, 3, ilog_now(log));
	return exec_done(log, s, "cannot store a cursor", err, errlen);
}

enum ilog_status
ilog_cursor_set(struct ilog *log, const char *consumer, int64_t event_id, char *err,
    size_t errlen)
{
	struct cursor_args a = { consumer, event_id };
	enum ilog_status st;

	if ((st = check_text(consumer, ILOG_CONSUMER_MAX, false, TEXT_LINE, "consumer", err,
	    errlen)) != ILOG_OK)
		return st;
	if (event_id < 0) {
		seterr(err, errlen, "cursor %lld is invalid", (long long)event_id);
		return ILOG_ERR_ARG;
	}
	return run_txn(log, true, cursor_set_body, &a, err, errlen);
}

/* --- pages ------------------------------------------------------------------------------- */

struct page_insert_args {
	int64_t incident_id;
	int step;
	const char *target;
	int64_t deadline;
	const char *actor;
	int64_t page_id;
	const json_t *extra;  /* ilog_page_escalate(): members added to the event body */
	bool clear_others;    /* ilog_page_escalate(): stop the incident's other deadlines */
	int64_t event_id;
};

static enum ilog_status
page_insert_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct page_insert_args *a = arg;
	struct ilog_incident inc;
	enum ilog_status st;
	sqlite3_stmt *s;
	int64_t now = ilog_now(log);
	json_t *body;

	a->page_id = 0;
	if ((st = load_incident(log, a->incident_id, &inc, err, errlen)) != ILOG_OK)
		return st;
	if (inc.state == ILOG_STATE_RESOLVED) {
		seterr(err, errlen, "incident %lld is resolved; nobody is paged for it",
		    (long long)inc.id);
		return ILOG_ERR_STATE;
	}
	if ((st = prep(log, ST_PAGE_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->incident_id);
	sqlite3_bind_int(s, 2, a->step);
	sqlite3_bind_text(s, 3, a->target, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	bind_opt_i64(s, 5, a->deadline);
	if ((st = exec_done(log, s, "cannot record a page", err, errlen)) != ILOG_OK)
		return st;
	a->page_id = sqlite3_last_insert_rowid(log->db);
	if (a->clear_others) {
		if ((st = prep(log, ST_PAGE_CLEAR_OTHERS, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->incident_id);
		sqlite3_bind_int64(s, 2, a->page_id);
		if ((st = exec_done(log, s, "cannot stop the previous deadline", err, errlen)) !=
		    ILOG_OK)
			return st;
	}
	/* The extra members first, so that they can never replace the page's own. */
	body = a->extra != NULL ? json_deep_copy(a->extra) : json_object();
	if (body == NULL || json_object_set_new(body, "page_id", json_integer(a->page_id)) != 0 ||
	    json_object_set_new(body, "step", json_integer(a->step)) != 0 ||
	    json_object_set_new(body, "target", json_string(a->target)) != 0) {
		json_decref(body);
		seterr(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = insert_event(log, now, a->incident_id, a->actor, ILOG_EV_PAGED, body, &a->event_id,
	    err, errlen);
	json_decref(body);
	return st;
}

enum ilog_status
ilog_page_insert(struct ilog *log, int64_t incident_id, int step, const char *target,
    int64_t next_deadline, const char *actor, int64_t *page_id, char *err, size_t errlen)
{
	struct page_insert_args a = { incident_id, step, target, next_deadline, actor, 0, NULL,
		false, 0 };
	enum ilog_status st;

	if ((st = check_actor(actor, err, errlen)) != ILOG_OK ||
	    (st = check_text(target, ILOG_TARGET_MAX, false, TEXT_LINE, "page target", err,
	    errlen)) != ILOG_OK)
		return st;
	if (next_deadline < 0) {
		seterr(err, errlen, "deadline %lld is invalid", (long long)next_deadline);
		return ILOG_ERR_ARG;
	}
	st = run_txn(log, true, page_insert_body, &a, err, errlen);
	if (st == ILOG_OK && page_id != NULL)
		*page_id = a.page_id;
	return st;
}

enum ilog_status
ilog_page_escalate(struct ilog *log, int64_t incident_id, int step, const char *target,
    int64_t next_deadline, const char *extra_json, const char *actor, int64_t *page_id,
    int64_t *event_id, char *err, size_t errlen)
{
	struct page_insert_args a = { incident_id, step, target, next_deadline, actor, 0, NULL,
		true, 0 };
	enum ilog_status st;
	json_t *extra = NULL;

	if ((st = check_actor(actor, err, errlen)) != ILOG_OK ||
	    (st = check_text(target, ILOG_TARGET_MAX, false, TEXT_LINE, "page target", err,
	    errlen)) != ILOG_OK)
		return st;
	if (next_deadline < 0) {
		seterr(err, errlen, "deadline %lld is invalid", (long long)next_deadline);
		return ILOG_ERR_ARG;
	}
	if (extra_json != NULL &&
	    (extra = parse_json(extra_json, true, "page body", err, errlen)) == NULL)
		return ILOG_ERR_ARG;
	a.extra = extra;
	st = run_txn(log, true, page_insert_body, &a, err, errlen);
	json_decref(extra);
	if (st == ILOG_OK) {
		if (page_id != NULL)
			*page_id = a.page_id;
		if (event_id != NULL)
			*event_id = a.event_id;
	}
	return st;
}

struct page_mark_args {
	int64_t page_id;
	enum ilog_page_mark mark;
	const char *actor;
	const char *detail;
	int64_t event_id;
};

static enum ilog_status
load_page(struct ilog *log, int64_t id, struct ilog_page *p, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;

	if ((st = prep(log, ST_PAGE_BY_ID, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = step_row(log, s, "cannot read a page", err, errlen);
	if (st == ILOG_OK)
		read_page(s, p);
	else if (st == ILOG_ERR_NOT_FOUND)
		seterr(err, errlen, "no page %lld", (long long)id);
	sqlite3_reset(s);
	return st;
}

static enum ilog_status
page_mark_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	static const enum stmt_id update[] = { [ILOG_PAGE_DELIVERED] = ST_PAGE_DELIVERED,
		[ILOG_PAGE_DISPLAYED] = ST_PAGE_DISPLAYED, [ILOG_PAGE_FAILED] = ST_PAGE_FAILED };
	static const char *const type[] = { [ILOG_PAGE_DELIVERED] = ILOG_EV_DELIVERED,
		[ILOG_PAGE_DISPLAYED] = ILOG_EV_DISPLAYED,
		[ILOG_PAGE_FAILED] = ILOG_EV_PAGE_FAILED };
	struct page_mark_args *a = arg;
	struct ilog_page p;
	enum ilog_status st;
	sqlite3_stmt *s;
	int64_t now = ilog_now(log), already;
	json_t *body;

	a->event_id = 0;
	if ((st = load_page(log, a->page_id, &p, err, errlen)) != ILOG_OK)
		return st;
	already = a->mark == ILOG_PAGE_DELIVERED ? p.delivered_at :
		  a->mark == ILOG_PAGE_DISPLAYED ? p.displayed_at : p.failed_at;
	if (already != 0)
		return ILOG_OK;
	if ((st = prep(log, update[a->mark], &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->page_id);
	sqlite3_bind_int64(s, 2, now);
	if (a->mark == ILOG_PAGE_FAILED)
		bind_opt_text(s, 3, a->detail);
	if ((st = exec_done(log, s, "cannot mark a page", err, errlen)) != ILOG_OK)
		return st;
	body = json_pack("{s:I, s:s}", "page_id", (json_int_t)p.id, "target", p.target);
	if (body != NULL && a->detail != NULL && a->detail[0] != '\0')
		json_object_set_new(body, "detail", json_string(a->detail));
	if (body == NULL) {
		seterr(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = insert_event(log, now, p.incident_id, a->actor, type[a->mark], body, &a->event_id,
	    err, errlen);
	json_decref(body);
	return st;
}

enum ilog_status
ilog_page_mark(struct ilog *log, int64_t page_id, enum ilog_page_mark mark,
    const char *actor, const char *detail, int64_t *event_id, char *err, size_t errlen)
{
	struct page_mark_args a = { page_id, mark, actor, detail, 0 };
	enum ilog_status st;

	if ((st = check_actor(actor, err, errlen)) != ILOG_OK ||
	    (st = check_text(detail, ILOG_MESSAGE_MAX, true, TEXT_MULTILINE, "detail", err,
	    errlen)) != ILOG_OK)
		return st;
	if ((unsigned)mark > ILOG_PAGE_FAILED) {
		seterr(err, errlen, "page mark %d is invalid", (int)mark);
		return ILOG_ERR_ARG;
	}
	st = run_txn(log, true, page_mark_body, &a, err, errlen);
	if (st == ILOG_OK && event_id != NULL)
		*event_id = a.event_id;
	return st;
}

struct page_deadline_args {
	int64_t page_id;
	int64_t deadline;
};

static enum ilog_status
page_deadline_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct page_deadline_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = prep(log, ST_PAGE_DEADLINE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->page_id);
	bind_opt_i64(s, 2, a->deadline);
	if ((st = exec_done(log, s, "cannot set a deadline", err, errlen)) != ILOG_OK)
		return st;
	if (sqlite3_changes(log->db) == 0) {
		seterr(err, errlen, "no page %lld", (long long)a->page_id);
		return ILOG_ERR_NOT_FOUND;
	}
	return ILOG_OK;
}

enum ilog_status
ilog_page_set_deadline(struct ilog *log, int64_t page_id, int64_t deadline, char *err,
    size_t errlen)
{
	struct page_deadline_args a = { page_id, deadline };

	if (deadline < 0) {
		seterr(err, errlen, "deadline %lld is invalid", (long long)deadline);
		return ILOG_ERR_ARG;
	}
	return run_txn(log, true, page_deadline_body, &a, err, errlen);
}

struct pages_args {
	enum stmt_id which;
	int64_t key; /* incident id or "until" */
	struct ilog_pages *out;
};

static enum ilog_status
pages_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct pages_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	ilog_pages_release(a->out);
	if ((st = prep(log, a->which, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->key);
	sqlite3_bind_int64(s, 2, ILOG_PAGES_MAX + 1);
	return collect_pages(log, s, ILOG_PAGES_MAX, a->out, err, errlen);
}

enum ilog_status
ilog_page_list(struct ilog *log, int64_t incident_id, struct ilog_pages *out, char *err,
    size_t errlen)
{
	struct pages_args a = { ST_PAGE_LIST, incident_id, out };
	enum ilog_status st = run_txn(log, false, pages_body, &a, err, errlen);

	if (st != ILOG_OK)
		ilog_pages_release(out);
	return st;
}

enum ilog_status
ilog_page_due(struct ilog *log, int64_t until, struct ilog_pages *out, char *err,
    size_t errlen)
{
	struct pages_args a = { ST_PAGE_DUE, until, out };
	enum ilog_status st = run_txn(log, false, pages_body, &a, err, errlen);

	if (st != ILOG_OK)
		ilog_pages_release(out);
	return st;
}

enum ilog_status
ilog_page_next_deadline(struct ilog *log, int64_t *deadline, char *err, size_t errlen)
{
	struct i64_args a = { .which = ST_PAGE_NEXT };
	enum ilog_status st = run_txn(log, false, i64_body, &a, err, errlen);

	if (st == ILOG_OK)
		*deadline = a.value;
	return st;
}

/* --- outbox ------------------------------------------------------------------------------ */

struct enqueue_args {
	const char *sink;
	int64_t event_id;
	const char *payload;  /* compact JSON */
	int64_t item_id;
	bool created;
};

static enum ilog_status
enqueue_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct enqueue_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;
	int64_t v;

	a->item_id = 0;
	a->created = false;
	if (a->event_id != 0) {
		if ((st = prep(log, ST_EV_EXISTS, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->event_id);
		if ((st = query_i64(log, s, 0, &v, "cannot read events", err, errlen)) != ILOG_OK)
			return st;
		if (v == 0) {
			seterr(err, errlen, "no event %lld", (long long)a->event_id);
			return ILOG_ERR_NOT_FOUND;
		}
		if ((st = prep(log, ST_OB_FIND, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, a->event_id);
		if ((st = query_i64(log, s, 0, &v, "cannot read the outbox", err, errlen)) != ILOG_OK)
			return st;
		if (v != 0) {
			a->item_id = v;
			return ILOG_OK;
		}
	}
	if ((st = prep(log, ST_OB_COUNT_SINK, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_TRANSIENT);
	if ((st = query_i64(log, s, 0, &v, "cannot read the outbox", err, errlen)) != ILOG_OK)
		return st;
	if (v >= ILOG_OUTBOX_MAX) {
		seterr(err, errlen, "the outbox of sink '%s' is full (%d unfinished items)",
		    a->sink, ILOG_OUTBOX_MAX);
		return ILOG_ERR_FULL;
	}
	if ((st = prep(log, ST_OB_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_TRANSIENT);
	bind_opt_i64(s, 2, a->event_id);
	sqlite3_bind_text(s, 3, a->payload, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, ilog_now(log));
	if ((st = exec_done(log, s, "cannot enqueue", err, errlen)) != ILOG_OK)
		return st;
	a->item_id = sqlite3_last_insert_rowid(log->db);
	a->created = true;
	return ILOG_OK;
}

enum ilog_status
ilog_outbox_enqueue(struct ilog *log, const char *sink, int64_t event_id,
    const char *payload_json, int64_t *item_id, bool *created, char *err, size_t errlen)
{
	struct enqueue_args a = { .sink = sink, .event_id = event_id };
	enum ilog_status st;
	json_t *j;
	char *text;

	if ((st = check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink", err, errlen)) !=
	    ILOG_OK)
		return st;
	if (event_id < 0) {
		seterr(err, errlen, "no event %lld", (long long)event_id);
		return ILOG_ERR_NOT_FOUND;
	}
	if (payload_json == NULL) {
		seterr(err, errlen, "payload is missing");
		return ILOG_ERR_ARG;
	}
	if ((j = parse_json(payload_json, false, "payload", err, errlen)) == NULL)
		return ILOG_ERR_ARG;
	text = dump_json(j, "payload", err, errlen);
	json_decref(j);
	if (text == NULL)
		return ILOG_ERR_ARG;
	a.payload = text;
	st = run_txn(log, true, enqueue_body, &a, err, errlen);
	free(text);
	if (st == ILOG_OK) {
		if (item_id != NULL)
			*item_id = a.item_id;
		if (created != NULL)
			*created = a.created;
	}
	return st;
}

struct claim_args {
	const char *sink;
	size_t max;
	int64_t lease_ms;
	struct ilog_outbox_items *out;
};

static enum ilog_status
load_outbox(struct ilog *log, int64_t id, struct ilog_outbox_item *it, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;
	enum ilog_status st;

	if ((st = prep(log, ST_OB_GET, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = step_row(log, s, "cannot read the outbox", err, errlen);
	if (st == ILOG_OK && read_outbox(s, it) != 0) {
		seterr(err, errlen, "out of memory reading the outbox");
		st = ILOG_ERR_DB;
	} else if (st == ILOG_ERR_NOT_FOUND) {
		seterr(err, errlen, "no outbox item %lld", (long long)id);
	}
	sqlite3_reset(s);
	return st;
}

static enum ilog_status
claim_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct claim_args *a = arg;
	int64_t ids[ILOG_OUTBOX_CLAIM_MAX];
	int64_t now = ilog_now(log);
	size_t n = 0, i, cap = 0;
	enum ilog_status st;
	sqlite3_stmt *s;
	int rc = SQLITE_DONE;

	ilog_outbox_items_release(a->out);
	if ((st = prep(log, ST_OB_DUE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, now);
	bind_opt_text(s, 2, a->sink);
	sqlite3_bind_int64(s, 3, (int64_t)a->max);
	while (n < a->max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(s, 0);
	if (n < a->max && rc != SQLITE_DONE)
		return db_fail(log, rc, "cannot read the outbox", err, errlen);
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		if ((st = prep(log, ST_OB_CLAIM, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, now + a->lease_ms);
		if ((st = exec_done(log, s, "cannot claim", err, errlen)) != ILOG_OK)
			return st;
		if (grow((void **)&a->out->v, &cap, a->out->n, sizeof(*a->out->v)) != 0) {
			seterr(err, errlen, "out of memory reading the outbox");
			return ILOG_ERR_DB;
		}
		if ((st = load_outbox(log, ids[i], &a->out->v[a->out->n], err, errlen)) != ILOG_OK)
			return st;
		a->out->n++;
	}
	return ILOG_OK;
}

enum ilog_status
ilog_outbox_claim(struct ilog *log, const char *sink, size_t max, int64_t lease_ms,
    struct ilog_outbox_items *out, char *err, size_t errlen)
{
	struct claim_args a = { sink, max, lease_ms, out };
	enum ilog_status st;

	if (sink != NULL && (st = check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink",
	    err, errlen)) != ILOG_OK)
		return st;
	if (max == 0 || max > ILOG_OUTBOX_CLAIM_MAX) {
		seterr(err, errlen, "claim of %zu items is invalid (1-%d)", max,
		    ILOG_OUTBOX_CLAIM_MAX);
		return ILOG_ERR_ARG;
	}
	if (lease_ms <= 0) {
		seterr(err, errlen, "lease of %lld ms is invalid", (long long)lease_ms);
		return ILOG_ERR_ARG;
	}
	st = run_txn(log, true, claim_body, &a, err, errlen);
	if (st != ILOG_OK)
		ilog_outbox_items_release(out);
	return st;
}

/* ILOG_OK if the item is unfinished; else ILOG_ERR_STATE with the reason. */
static enum ilog_status
outbox_unfinished(const struct ilog_outbox_item *it, char *err, size_t errlen)
{
	if (it->done_at != 0) {
		seterr(err, errlen, "outbox item %lld is already done", (long long)it->id);
		return ILOG_ERR_STATE;
	}
	if (it->gave_up_at != 0) {
		seterr(err, errlen, "outbox item %lld was given up", (long long)it->id);
		return ILOG_ERR_STATE;
	}
	return ILOG_OK;
}

struct finish_args {
	int64_t id;
	const char *error_text;          /* NULL: complete */
	const struct ilog_backoff *policy;
	int64_t retry_after_ms;
	bool gave_up;
	int64_t next_at;
};

/* The delay before the attempt after the n-th failure (see ilog.h). */
static int64_t
backoff_delay(struct ilog *log, const struct ilog_backoff *p, unsigned n)
{
	int64_t d = p->base_ms;
	unsigned i;

	for (i = 1; i < n && d < p->max_ms; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	if (d > p->max_ms)
		d = p->max_ms;
	return d / 2 + (int64_t)(log_random(log) % (uint64_t)(d / 2 + 1));
}

static enum ilog_status
finish_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct finish_args *a = arg;
	struct ilog_outbox_item it;
	char text[ILOG_ERR_LEN];
	int64_t now = ilog_now(log), delay;
	enum ilog_status st;
	sqlite3_stmt *s;
	unsigned n;

	a->gave_up = false;
	a->next_at = 0;
	if ((st = load_outbox(log, a->id, &it, err, errlen)) != ILOG_OK)
		return st;
	ilog_outbox_item_release(&it);
	if ((st = outbox_unfinished(&it, err, errlen)) != ILOG_OK)
		return st;
	if (a->error_text == NULL) {
		if ((st = prep(log, ST_OB_DONE, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		return exec_done(log, s, "cannot complete", err, errlen);
	}
	n = it.attempts > 0 ? it.attempts : 1;
	if (a->policy->max_attempts != 0 && n >= a->policy->max_attempts) {
		snprintf(text, sizeof(text), "gave up after %u attempts: %s", n, a->error_text);
		if ((st = prep(log, ST_OB_GIVE_UP, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		sqlite3_bind_text(s, 3, text, -1, SQLITE_TRANSIENT);
		a->gave_up = true;
		return exec_done(log, s, "cannot give up", err, errlen);
	}
	delay = backoff_delay(log, a->policy, n);
	if (a->retry_after_ms > delay)
		delay = a->retry_after_ms;
	a->next_at = now + delay;
	snprintf(text, sizeof(text), "%s", a->error_text);
	if ((st = prep(log, ST_OB_RETRY, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, a->next_at);
	sqlite3_bind_text(s, 3, text, -1, SQLITE_TRANSIENT);
	return exec_done(log, s, "cannot reschedule", err, errlen);
}

enum ilog_status
ilog_outbox_complete(struct ilog *log, int64_t item_id, char *err, size_t errlen)
{
	struct finish_args a = { .id = item_id };

	return run_txn(log, true, finish_body, &a, err, errlen);
}

enum ilog_status
ilog_outbox_fail(struct ilog *log, int64_t item_id, const char *error_text,
    const struct ilog_backoff *policy, int64_t retry_after_ms, bool *gave_up,
    int64_t *next_at, char *err, size_t errlen)
{
	struct finish_args a = { .id = item_id, .error_text = error_text, .policy = policy,
		.retry_after_ms = retry_after_ms };
	enum ilog_status st;

	if (policy == NULL || policy->base_ms <= 0 || policy->max_ms < policy->base_ms) {
		seterr(err, errlen, "backoff policy is invalid (need 0 < base_ms <= max_ms)");
		return ILOG_ERR_ARG;
	}
	if (error_text == NULL)
		a.error_text = "failed";
	if (retry_after_ms < 0)
		a.retry_after_ms = 0;
	st = run_txn(log, true, finish_body, &a, err, errlen);
	if (st == ILOG_OK) {
		if (gave_up != NULL)
			*gave_up = a.gave_up;
		if (next_at != NULL)
			*next_at = a.next_at;
	}
	return st;
}

struct outbox_get_args {
	int64_t id;
	struct ilog_outbox_item *out;
};

static enum ilog_status
outbox_get_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct outbox_get_args *a = arg;

	ilog_outbox_item_release(a->out);
	return load_outbox(log, a->id, a->out, err, errlen);
}

enum ilog_status
ilog_outbox_get(struct ilog *log, int64_t item_id, struct ilog_outbox_item *out, char *err,
    size_t errlen)
{
	struct outbox_get_args a = { item_id, out };

	out->payload_json = NULL;
	return run_txn(log, false, outbox_get_body, &a, err, errlen);
}

struct pending_args {
	const char *sink;
	int64_t count, next_due;
};

static enum ilog_status
pending_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct pending_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = prep(log, ST_OB_PENDING, &s, err, errlen)) != ILOG_OK)
		return st;
	bind_opt_text(s, 1, a->sink);
	st = step_row(log, s, "cannot read the outbox", err, errlen);
	if (st == ILOG_OK) {
		a->count = sqlite3_column_int64(s, 0);
		a->next_due = sqlite3_column_int64(s, 1);
	} else if (st == ILOG_ERR_NOT_FOUND) {
		a->count = a->next_due = 0;
		st = ILOG_OK;
	}
	sqlite3_reset(s);
	return st;
}

enum ilog_status
ilog_outbox_pending(struct ilog *log, const char *sink, size_t *count, int64_t *next_due,
    char *err, size_t errlen)
{
	struct pending_args a = { sink, 0, 0 };
	enum ilog_status st = run_txn(log, false, pending_body, &a, err, errlen);

	if (st == ILOG_OK) {
		if (count != NULL)
			*count = (size_t)a.count;
		if (next_due != NULL)
			*next_due = a.next_due;
	}
	return st;
}

struct head_args {
	const char *sink;
	int64_t lease_ms;
	struct ilog_outbox_item *out;
	int64_t next_due;
	bool claimed;
};

static enum ilog_status
claim_head_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct head_args *a = arg;
	int64_t now = ilog_now(log), id;
	enum ilog_status st;
	sqlite3_stmt *s;

	a->claimed = false;
	a->next_due = 0;
	if ((st = prep(log, ST_OB_HEAD, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_STATIC);
	st = step_row(log, s, "cannot read the outbox", err, errlen);
	if (st != ILOG_OK) {
		sqlite3_reset(s);
		return st == ILOG_ERR_NOT_FOUND ? ILOG_OK : st;
	}
	id = sqlite3_column_int64(s, 0);
	a->next_due = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (a->next_due > now)
		return ILOG_OK;
	if ((st = prep(log, ST_OB_CLAIM, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now + a->lease_ms);
	if ((st = exec_done(log, s, "cannot claim", err, errlen)) != ILOG_OK)
		return st;
	ilog_outbox_item_release(a->out);
	if ((st = load_outbox(log, id, a->out, err, errlen)) != ILOG_OK)
		return st;
	a->claimed = true;
	return ILOG_OK;
}

enum ilog_status
ilog_outbox_claim_head(struct ilog *log, const char *sink, int64_t lease_ms,
    struct ilog_outbox_item *out, int64_t *next_due, char *err, size_t errlen)
{
	struct head_args a = { sink, lease_ms, out, 0, false };
	enum ilog_status st;

	out->payload_json = NULL;
	if (next_due != NULL)
		*next_due = 0;
	if ((st = check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink", err, errlen)) !=
	    ILOG_OK)
		return st;
	if (lease_ms <= 0) {
		seterr(err, errlen, "lease of %lld ms is invalid", (long long)lease_ms);
		return ILOG_ERR_ARG;
	}
	if ((st = run_txn(log, true, claim_head_body, &a, err, errlen)) != ILOG_OK)
		return st;
	if (next_due != NULL)
		*next_due = a.next_due;
	if (!a.claimed) {
		seterr(err, errlen, a.next_due ? "the head of sink '%s' is not due yet" :
		    "sink '%s' has nothing to push", sink);
		return ILOG_ERR_NOT_FOUND;
	}
	if (next_due != NULL)
		*next_due = 0;
	return ILOG_OK;
}

struct stats_args {
	const char *sink;
	struct ilog_outbox_stats *out;
};

static enum ilog_status
outbox_stats_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct stats_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;
	int64_t id;

	memset(a->out, 0, sizeof(*a->out));
	if ((st = prep(log, ST_OB_STATS, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_STATIC);
	st = step_row(log, s, "cannot read the outbox", err, errlen);
	if (st == ILOG_OK) {
		a->out->pending = (size_t)sqlite3_column_int64(s, 0);
		a->out->done = (size_t)sqlite3_column_int64(s, 1);
		a->out->gave_up = (size_t)sqlite3_column_int64(s, 2);
		a->out->last_done_at = sqlite3_column_int64(s, 3);
		a->out->last_gave_up_at = sqlite3_column_int64(s, 4);
	}
	sqlite3_reset(s);
	if (st != ILOG_OK)
		return st;
	if ((st = prep(log, ST_OB_HEAD, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_STATIC);
	st = step_row(log, s, "cannot read the outbox", err, errlen);
	if (st != ILOG_OK) {
		sqlite3_reset(s);
		return st == ILOG_ERR_NOT_FOUND ? ILOG_OK : st;
	}
	id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if ((st = load_outbox(log, id, &a->out->head, err, errlen)) != ILOG_OK)
		return st;
	a->out->has_head = true;
	return ILOG_OK;
}

enum ilog_status
ilog_outbox_stats(struct ilog *log, const char *sink, struct ilog_outbox_stats *out,
    char *err, size_t errlen)
{
	struct stats_args a = { sink, out };
	enum ilog_status st;

	memset(out, 0, sizeof(*out));
	if ((st = check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink", err, errlen)) !=
	    ILOG_OK)
		return st;
	st = run_txn(log, false, outbox_stats_body, &a, err, errlen);
	if (st != ILOG_OK)
		ilog_outbox_stats_release(out);
	return st;
}

void
ilog_outbox_stats_release(struct ilog_outbox_stats *s)
{
	ilog_outbox_item_release(&s->head);
	s->has_head = false;
}

/* --- retention --------------------------------------------------------------------------- */

struct prune_args {
	int64_t before;
	int phase;      /* 0 incidents, 1 events without incident, 2 outbox */
	size_t removed; /* rows of this batch */
	size_t events;  /* events of this batch's incidents */
};

static enum ilog_status
prune_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	static const enum stmt_id del[] = { 0, ST_PRUNE_DEL_EV, ST_PRUNE_DEL_OB };
	struct prune_args *a = arg;
	int64_t ids[ILOG_PRUNE_BATCH], v;
	enum ilog_status st;
	sqlite3_stmt *s;
	size_t n = 0, i;
	int rc = SQLITE_DONE;

	a->removed = a->events = 0;
	if (a->phase != 0) {
		if ((st = prep(log, del[a->phase], &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->before);
		sqlite3_bind_int64(s, 2, ILOG_PRUNE_BATCH);
		if ((st = exec_done(log, s, "cannot prune", err, errlen)) != ILOG_OK)
			return st;
		a->removed = (size_t)sqlite3_changes(log->db);
		return ILOG_OK;
	}
	if ((st = prep(log, ST_PRUNE_SELECT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->before);
	sqlite3_bind_int64(s, 2, ILOG_PRUNE_BATCH);
	while (n < ILOG_PRUNE_BATCH && (rc = sqlite3_step(s)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(s, 0);
	if (n < ILOG_PRUNE_BATCH && rc != SQLITE_DONE)
		return db_fail(log, rc, "cannot prune", err, errlen);
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		if ((st = prep(log, ST_PRUNE_COUNT_EV, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, ids[i]);
		if ((st = query_i64(log, s, 0, &v, "cannot prune", err, errlen)) != ILOG_OK)
			return st;
		a->events += (size_t)v;
		if ((st = prep(log, ST_PRUNE_DEL_INC, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, ids[i]);
		if ((st = exec_done(log, s, "cannot prune", err, errlen)) != ILOG_OK)
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

	for (a.phase = 0; a.phase < 3; a.phase++) {
		do {
			st = run_txn(log, true, prune_body, &a, err, errlen);
			if (st != ILOG_OK)
				break;
			if (a.phase == 0) {
				total.incidents += a.removed;
				total.events += a.events;
			} else if (a.phase == 1) {
				total.events += a.removed;
			} else {
				total.outbox += a.removed;
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

/* "2023-11-14T22:13:20.123Z" */
static void
format_utc(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;
	size_t n;

	if (gmtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf + n, len - n, ".%03dZ", frac % 1000);
}

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
	char when[40], *line;
	json_t *o, *body;
	json_error_t jerr;
	const unsigned char *text;
	int rc;

	if ((st = prep(log, ST_EV_EXPORT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		format_utc(sqlite3_column_int64(s, 1), when, sizeof(when));
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
			seterr(err, errlen, "out of memory exporting");
			return ILOG_ERR_DB;
		}
		rc = a->write(a->arg, line, strlen(line));
		free(line);
		if (rc != 0) {
			seterr(err, errlen, "export stopped by its writer");
			return ILOG_ERR_DB;
		}
		a->written++;
	}
	if (rc != SQLITE_DONE) {
		/* Lines already went out: a retry would repeat them. */
		if (a->written > 0 && is_busy(rc)) {
			seterr(err, errlen, "export interrupted: %s", sqlite3_errmsg(log->db));
			return ILOG_ERR_DB;
		}
		return db_fail(log, rc, "cannot export", err, errlen);
	}
	return ILOG_OK;
}

enum ilog_status
ilog_export(struct ilog *log, int64_t since, ilog_line_fn write, void *arg, char *err,
    size_t errlen)
{
	struct export_args a = { since, write, arg, 0 };

	return run_txn(log, false, export_body, &a, err, errlen);
}
