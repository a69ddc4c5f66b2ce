/*
 * ilog_int.h — private to lib/ilog/: the connection, its statement table, the one
 * transaction runner and the helpers the parts share. Only the files of lib/ilog/ include it;
 * the contracts are lib/ilog.h (incidents, events), lib/ilog_pages.h (the pager's
 * state) and lib/ilog_outbox.h (the publisher's pushes).
 *
 * The parts: schema.c (migrations, the text of every statement), core.c (open, close,
 * transactions, busy handling, shared helpers), incidents.c, events.c (with cursors,
 * prune and export), pages.c, outbox.c, heartbeat.c (lib/ilog_heartbeat.h),
 * maintenance.c (lib/ilog_maintenance.h), history.c (lib/ilog_history.h).
 *
 * Shape of the code: every public call checks its arguments, packs them into a small
 * struct and hands a "body" function to ilog_call(), which wraps it in BEGIN IMMEDIATE
 * (writes) or BEGIN (reads) and COMMIT, and runs the whole body again if SQLite
 * reports the database busy at any point. Bodies therefore write their results only
 * into their argument struct (or a list they empty first), and must start from a clean
 * slate each time they run. Statements are prepared once per connection, lazily, and
 * reset before each use and at the end of every transaction.
 */
#ifndef MCOPS_ILOG_INT_H
#define MCOPS_ILOG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <sqlite3.h>

#include "errbuf.h"
#include "ilog.h"

#define ILOG_APPLICATION_ID 1296256848 /* 0x4d434f50, "MCOP": marks our files */

/* Internal only: the body met SQLITE_BUSY/LOCKED; ilog_call() rolls back and retries. */
#define ILOG_RETRY ((enum ilog_status)-100)

/* Every statement of every part, prepared on first use (text in schema.c). */
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
	ST_PRUNE_DEL_MAINT,
	ST_PRUNE_DEL_SUB,
	ST_PAGE_CLEAR_OTHERS,
	ST_EV_OF_TYPE,
	ST_HB_WRITE,
	ST_HB_LIST,
	/* maintenance.c: maintenances and silences (lib/ilog_maintenance.h) */
	ST_MAINT_INSERT,
	ST_MAINT_BY_ID,
	ST_MAINT_SET,
	ST_MAINT_LIST_CURRENT,
	ST_MAINT_LIST_ALL,
	ST_MAINT_UNANNOUNCED,
	ST_MAINT_SOURCED,
	/* history.c: mcmon's recorded history (lib/ilog_history.h) */
	ST_HIST_INSERT,
	ST_HIST_READ,
	ST_HIST_PRUNE,
	/* remedies suggested from the page (lib/ilog_remedy.h, remedy.c) */
	ST_REM_CURRENT_EVIDENCE,
	ST_REM_SUPERSEDE,
	ST_REM_INSERT,
	ST_REM_LIST,
	ST_REM_GET,
	ST_REM_BY_ID,
	ST_REM_CLAIM,
	ST_REM_DONE,
	/* subscribers (lib/ilog/subscribers.c, lib/ilog_subscribers.h) */
	ST_SUB_BY_ADDRESS,
	ST_SUB_BY_ID,
	ST_SUB_LIVE_COUNT,
	ST_SUB_INSERT,
	ST_SUB_RENEW,
	ST_SUB_REQUESTED,
	ST_SUB_STATE,
	ST_SUB_FAILURES,
	ST_SUB_CONFIRMED,
	ST_SUB_COUNT,
	ST_SUB_DUE,
	ST_COUNT
};

extern const char *const ilog_stmt_sql[ST_COUNT];
/* ilog_migrations[v] takes a database from schema version v to v + 1. */
extern const char *const ilog_migrations[ILOG_SCHEMA_VERSION];

struct ilog {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	struct ilog_clock clock;
	uint64_t rng;            /* default random generator's state (xorshift64*) */
	bool readonly;
	int busy_retry_ms;       /* ilog_call gives up on a busy database after this */
	bool data_version_known;
	int64_t data_version;
	char path[512];          /* for messages only; cut if longer */
};

/* --- the call runner --------------------------------------------------------------- */

typedef enum ilog_status (*ilog_body_fn)(struct ilog *log, void *arg, char *err,
    size_t errlen);

enum ilog_mode {
	ILOG_READ,  /* BEGIN */
	ILOG_WRITE, /* BEGIN IMMEDIATE; refused on a read-only log */
};

/*
 * Runs body(log, arg) inside one transaction and commits it. While SQLite reports the
 * database busy, after its own busy timeout, the whole transaction is rolled back and
 * run again, for up to log->busy_retry_ms; then ILOG_ERR_DB ("stayed busy"). Every
 * public call goes through here: it is the one place of the retry policy.
 */
enum ilog_status ilog_call(struct ilog *log, enum ilog_mode mode, ilog_body_fn body,
    void *arg, char *err, size_t errlen);

/*
 * A read call of one integer: statement which (text bound to ?1 when not NULL), its
 * first column into *out; 0 when it returns no row or NULL.
 */
enum ilog_status ilog_read_i64(struct ilog *log, enum stmt_id which, const char *text,
    int64_t *out, char *err, size_t errlen);

/* --- statements, inside a body ---------------------------------------------------------- */

/* Gets statement id, prepared and reset, into *out. */
enum ilog_status ilog_prep(struct ilog *log, enum stmt_id id, sqlite3_stmt **out, char *err,
    size_t errlen);
/* Runs a statement that returns no rows (bindings done). */
enum ilog_status ilog_exec(struct ilog *log, sqlite3_stmt *s, const char *what, char *err,
    size_t errlen);
/*
 * Steps a query expected to give one row: ILOG_OK with the row ready (caller reads
 * columns), ILOG_ERR_NOT_FOUND if none (err untouched), or an error.
 */
enum ilog_status ilog_step_row(struct ilog *log, sqlite3_stmt *s, const char *what, char *err,
    size_t errlen);
/* A single-integer query; *out = def when it returns no row or NULL. */
enum ilog_status ilog_query_i64(struct ilog *log, sqlite3_stmt *s, int64_t def, int64_t *out,
    const char *what, char *err, size_t errlen);
/* A failed SQLite call: busy means "retry the transaction", anything else is final. */
enum ilog_status ilog_db_fail(struct ilog *log, int rc, const char *what, char *err,
    size_t errlen);

/*
 * How to read one kind of row into one element of a caller's list (struct ilog_events,
 * ilog_pages, ...: each an array v of n elements).
 */
struct ilog_row_type {
	size_t size;                               /* of one element */
	int (*read)(sqlite3_stmt *s, void *elem);  /* 0, or -1 on no memory */
	const char *oom;                           /* "out of memory reading events" */
	const char *fail;                          /* "cannot read events" */
};
/*
 * Steps s, appending each row to the array *v of *n elements, at most max rows: one
 * more sets *truncated (which may be NULL when max is SIZE_MAX). *v must be empty.
 */
enum ilog_status ilog_collect(struct ilog *log, sqlite3_stmt *s, const struct ilog_row_type *t,
    size_t max, void **v, size_t *n, bool *truncated, char *err, size_t errlen);

/* --- arguments ----------------------------------------------------------------------- */

enum text_rule {
	TEXT_LINE,      /* one line: no control characters */
	TEXT_MULTILINE, /* newlines and tabs allowed */
};
/*
 * Checks a text argument: present (unless optional), at most max bytes, valid UTF-8,
 * no control characters beyond what the rule allows. NULL and "" count as absent.
 */
enum ilog_status ilog_check_text(const char *s, size_t max, bool optional,
    enum text_rule rule, const char *what, char *err, size_t errlen);
enum ilog_status ilog_check_actor(const char *actor, char *err, size_t errlen);
/*
 * Parses JSON text of at most ILOG_BODY_MAX bytes. want_object: it must be an object.
 * Returns a new reference, or NULL with err set.
 */
json_t *ilog_parse_json(const char *text, bool want_object, const char *what, char *err,
    size_t errlen);
/* Compact JSON text of j (malloc'd), or NULL with err set if too large or no memory. */
char *ilog_dump_json(const json_t *j, const char *what, char *err, size_t errlen);

/* Grows *v (elements of size) to hold n + 1; -1 on no memory. */
int ilog_grow(void **v, size_t *cap, size_t n, size_t size);

/* The log's random generator (its clock's, or the default): outbox jitter. */
uint64_t ilog_random(struct ilog *log);

/* --- shared between the parts ---------------------------------------------------------- */

/* incidents.c: incident id into *inc, or ILOG_ERR_NOT_FOUND ("no incident 7"). */
enum ilog_status ilog_load_incident(struct ilog *log, int64_t id, struct ilog_incident *inc,
    char *err, size_t errlen);
/*
 * events.c: appends an event (inside a transaction) with body, a borrowed JSON object,
 * and bumps the incident's updated_at. *id (may be NULL) gets the event id.
 */
enum ilog_status ilog_insert_event(struct ilog *log, int64_t now, int64_t incident_id,
    const char *actor, const char *type, const json_t *body, int64_t *id, char *err,
    size_t errlen);

/* --- small helpers --------------------------------------------------------------------- */

static inline bool
is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static inline void
copy_col(sqlite3_stmt *s, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	/* Inputs were checked against the same maxima, so a cut only meets a file that
	 * was edited by hand; it must not overflow either way. */
	snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
}

/* A text column, "" for NULL. */
static inline const char *
col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL ? (const char *)t : "";
}

static inline int
bind_opt_text(sqlite3_stmt *s, int idx, const char *t)
{
	if (t == NULL || t[0] == '\0')
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, t, -1, SQLITE_TRANSIENT);
}

static inline int
bind_opt_i64(sqlite3_stmt *s, int idx, int64_t v)
{
	if (v == 0)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_int64(s, idx, v);
}

#endif
