/*
 * ilog core: opening, migrating and closing the log, the transaction runner with the
 * busy/retry policy, and the helpers every part uses. See ilog_int.h for the shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ilog_int.h"
#include "utf8.h"

#define ILOG_RETRY_SLEEP_MS 10 /* pause between retries of a busy transaction */

/* --- small helpers --------------------------------------------------------------- */

enum ilog_status
ilog_db_fail(struct ilog *log, int rc, const char *what, char *err, size_t errlen)
{
	if (is_busy(rc))
		return ILOG_RETRY;
	errbuf_set(err, errlen, "%s: %s", what, sqlite3_errmsg(log->db));
	return ILOG_ERR_DB;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = clock_ms_timespec(ms);

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

uint64_t
ilog_random(struct ilog *log)
{
	if (log->clock.random != NULL)
		return log->clock.random(log->clock.arg);
	return default_random(log);
}

int64_t
ilog_now(struct ilog *log)
{
	if (log->clock.now_ms != NULL)
		return log->clock.now_ms(log->clock.arg);
	return clock_wall_ms();
}

void
ilog_set_clock(struct ilog *log, const struct ilog_clock *clock)
{
	log->clock = *clock;
}

enum ilog_status
ilog_check_text(const char *s, size_t max, bool optional, enum text_rule rule, const char *what,
    char *err, size_t errlen)
{
	const unsigned char *p;
	size_t len, n;

	if (s == NULL || s[0] == '\0') {
		if (optional)
			return ILOG_OK;
		errbuf_set(err, errlen, "%s is empty", what);
		return ILOG_ERR_ARG;
	}
	len = strnlen(s, max + 1);
	if (len > max) {
		errbuf_set(err, errlen, "%s is longer than %zu bytes", what, max);
		return ILOG_ERR_ARG;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		if (*p < 0x20 || *p == 0x7f) {
			if (rule == TEXT_MULTILINE && (*p == '\n' || *p == '\t' || *p == '\r')) {
				n = 1;
				continue;
			}
			errbuf_set(err, errlen, "%s contains a control character", what);
			return ILOG_ERR_ARG;
		}
		if ((n = utf8_decode(p, NULL)) == 0) {
			errbuf_set(err, errlen, "%s is not valid UTF-8", what);
			return ILOG_ERR_ARG;
		}
	}
	return ILOG_OK;
}

enum ilog_status
ilog_check_actor(const char *actor, char *err, size_t errlen)
{
	return ilog_check_text(actor, ILOG_ACTOR_MAX, false, TEXT_LINE, "actor", err, errlen);
}

json_t *
ilog_parse_json(const char *text, bool want_object, const char *what, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	size_t len = strnlen(text, ILOG_BODY_MAX + 1);

	if (len > ILOG_BODY_MAX) {
		errbuf_set(err, errlen, "%s is longer than %d bytes", what, ILOG_BODY_MAX);
		return NULL;
	}
	j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		errbuf_set(err, errlen, "%s is not valid JSON: %s (at byte %d)", what,
		    jerr.text, jerr.position);
		return NULL;
	}
	if (want_object && !json_is_object(j)) {
		errbuf_set(err, errlen, "%s is not a JSON object", what);
		json_decref(j);
		return NULL;
	}
	return j;
}

char *
ilog_dump_json(const json_t *j, const char *what, char *err, size_t errlen)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s == NULL) {
		errbuf_set(err, errlen, "%s: out of memory", what);
		return NULL;
	}
	if (strlen(s) > ILOG_BODY_MAX) {
		errbuf_set(err, errlen, "%s is longer than %d bytes", what, ILOG_BODY_MAX);
		free(s);
		return NULL;
	}
	return s;
}

enum ilog_status
ilog_prep(struct ilog *log, enum stmt_id id, sqlite3_stmt **out, char *err, size_t errlen)
{
	int rc;

	if (log->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(log->db, ilog_stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &log->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			log->stmt[id] = NULL;
			return ilog_db_fail(log, rc, "cannot prepare a query", err, errlen);
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

enum ilog_status
ilog_exec(struct ilog *log, sqlite3_stmt *s, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return ilog_db_fail(log, rc, what, err, errlen);
	return ILOG_OK;
}

enum ilog_status
ilog_step_row(struct ilog *log, sqlite3_stmt *s, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return ILOG_OK;
	if (rc == SQLITE_DONE)
		return ILOG_ERR_NOT_FOUND;
	return ilog_db_fail(log, rc, what, err, errlen);
}

enum ilog_status
ilog_query_i64(struct ilog *log, sqlite3_stmt *s, int64_t def, int64_t *out, const char *what,
    char *err, size_t errlen)
{
	enum ilog_status st = ilog_step_row(log, s, what, err, errlen);

	if (st == ILOG_ERR_NOT_FOUND) {
		*out = def;
		st = ILOG_OK;
	} else if (st == ILOG_OK) {
		*out = sqlite3_column_type(s, 0) == SQLITE_NULL ? def : sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return st;
}

/* --- the call runner ------------------------------------------------------------------ */

/*
 * Every public call is a typed wrapper (check the arguments, pack them into a struct,
 * call this, copy the results out on success) around a body that does its SQL. One
 * function taking the body and a void * rather than a macro that stamps out the
 * wrappers: the bodies share nothing but the transaction around them, the wrappers
 * keep real prototypes a debugger and the compiler can see, and what a macro would
 * save per call is the two lines that pack and unpack its struct.
 *
 * BEGIN IMMEDIATE when writing: the write lock is taken up front, so two writers never
 * deadlock on a lock upgrade.
 */
enum ilog_status
ilog_call(struct ilog *log, enum ilog_mode mode, ilog_body_fn body, void *arg, char *err,
    size_t errlen)
{
	int64_t deadline = clock_monotonic_ms() + log->busy_retry_ms;
	bool write = mode == ILOG_WRITE;
	enum ilog_status st;
	sqlite3_stmt *s;

	if (write && log->readonly) {
		errbuf_set(err, errlen, "%s: the incident log was opened read-only", log->path);
		return ILOG_ERR_DB;
	}
	for (;;) {
		st = ilog_prep(log, write ? ST_BEGIN_IMMEDIATE : ST_BEGIN, &s, err, errlen);
		if (st == ILOG_OK)
			st = ilog_exec(log, s, "cannot start a transaction", err, errlen);
		if (st == ILOG_OK) {
			st = body(log, arg, err, errlen);
			reset_all(log);
			if (st == ILOG_OK &&
			    (st = ilog_prep(log, ST_COMMIT, &s, err, errlen)) == ILOG_OK)
				st = ilog_exec(log, s, "cannot commit", err, errlen);
			if (st != ILOG_OK && !sqlite3_get_autocommit(log->db)) {
				if (ilog_prep(log, ST_ROLLBACK, &s, NULL, 0) == ILOG_OK)
					(void)ilog_exec(log, s, "rollback", NULL, 0);
			}
		}
		if (st != ILOG_RETRY)
			return st;
		if (clock_monotonic_ms() >= deadline) {
			errbuf_set(err, errlen,
			    "%s: the database stayed busy for %.1f s (another process "
			    "holds its write lock)", log->path, log->busy_retry_ms / 1000.0);
			return ILOG_ERR_DB;
		}
		sleep_ms(ILOG_RETRY_SLEEP_MS + (int)(default_random(log) % ILOG_RETRY_SLEEP_MS));
	}
}

struct i64_args {
	enum stmt_id which;
	const char *text; /* bound to ?1 if set */
	int64_t value;
};

static enum ilog_status
i64_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct i64_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, a->which, &s, err, errlen)) != ILOG_OK)
		return st;
	if (a->text != NULL)
		sqlite3_bind_text(s, 1, a->text, -1, SQLITE_TRANSIENT);
	return ilog_query_i64(log, s, 0, &a->value, "cannot read the incident log", err,
	    errlen);
}

enum ilog_status
ilog_read_i64(struct ilog *log, enum stmt_id which, const char *text, int64_t *out, char *err,
    size_t errlen)
{
	struct i64_args a = { which, text, 0 };
	enum ilog_status st = ilog_call(log, ILOG_READ, i64_body, &a, err, errlen);

	if (st == ILOG_OK)
		*out = a.value;
	return st;
}

int
ilog_grow(void **v, size_t *cap, size_t n, size_t size)
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

enum ilog_status
ilog_collect(struct ilog *log, sqlite3_stmt *s, const struct ilog_row_type *t, size_t max,
    void **v, size_t *n, bool *truncated, char *err, size_t errlen)
{
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == max) {
			*truncated = true;
			break;
		}
		if (ilog_grow(v, &cap, *n, t->size) != 0 ||
		    t->read(s, (char *)*v + *n * t->size) != 0) {
			errbuf_set(err, errlen, "%s", t->oom);
			return ILOG_ERR_DB;
		}
		(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ilog_db_fail(log, rc, t->fail, err, errlen);
	return ILOG_OK;
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

	if ((st = ilog_prep(log, ST_META, &s, err, errlen)) != ILOG_OK)
		return st;
	st = ilog_step_row(log, s, "cannot read the schema version", err, errlen);
	if (st == ILOG_OK) {
		m->application_id = sqlite3_column_int64(s, 0);
		m->user_version = sqlite3_column_int64(s, 1);
		m->objects = sqlite3_column_int64(s, 2);
	} else if (st == ILOG_ERR_NOT_FOUND) {
		errbuf_set(err, errlen, "cannot read the schema version");
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
		errbuf_set(err, errlen, "%s is not an mcops incident log", log->path);
		return ILOG_ERR_DB;
	}
	if (m->user_version > ILOG_SCHEMA_VERSION) {
		errbuf_set(err, errlen,
		    "%s: schema version %lld is newer than this mcops supports "
		    "(%d); use a newer mcops", log->path, (long long)m->user_version,
		    ILOG_SCHEMA_VERSION);
		return ILOG_ERR_DB;
	}
	return ILOG_OK;
}

/*
 * Brings the schema to ILOG_SCHEMA_VERSION, or on a read-only log (which must never
 * write) only checks that it is there.
 */
static enum ilog_status
schema_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct meta m;
	enum ilog_status st;
	char *emsg = NULL;
	int64_t v;
	int rc;

	if ((st = read_meta(log, &m, err, errlen)) != ILOG_OK)
		return st;
	if ((st = check_meta(log, &m, err, errlen)) != ILOG_OK)
		return st;
	if (log->readonly && m.user_version < ILOG_SCHEMA_VERSION) {
		errbuf_set(err, errlen,
		    "%s: schema version %lld needs migrating to %d; open it "
		    "read-write once (any write command) first", log->path,
		    (long long)m.user_version, ILOG_SCHEMA_VERSION);
		return ILOG_ERR_DB;
	}
	for (v = m.user_version; !log->readonly && v < ILOG_SCHEMA_VERSION; v++) {
		rc = sqlite3_exec(log->db, ilog_migrations[v], NULL, NULL, &emsg);
		if (rc != SQLITE_OK) {
			if (is_busy(rc)) {
				sqlite3_free(emsg);
				return ILOG_RETRY;
			}
			errbuf_set(err, errlen,
			    "%s: migration to schema version %lld failed: %s", log->path,
			    (long long)v + 1, emsg != NULL ? emsg : sqlite3_errstr(rc));
			sqlite3_free(emsg);
			return ILOG_ERR_DB;
		}
	}
	return ILOG_OK;
}

/* A PRAGMA that may have to wait for a lock (journal_mode), retried while busy. */
static enum ilog_status
exec_pragma(struct ilog *log, const char *sql, const char *expect, char *err, size_t errlen)
{
	int64_t deadline = clock_monotonic_ms() + ILOG_BUSY_RETRY_MS;
	sqlite3_stmt *s;
	int rc;

	for (;;) {
		rc = sqlite3_prepare_v2(log->db, sql, -1, &s, NULL);
		if (rc == SQLITE_OK) {
			while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				const unsigned char *t = sqlite3_column_text(s, 0);
				if (expect != NULL && (t == NULL ||
					strcasecmp((const char *)t, expect) != 0)) {
					errbuf_set(err, errlen, "%s: %s gave '%s', not '%s'",
					    log->path, sql, t != NULL ? (const char *)t : "",
					    expect);
					sqlite3_finalize(s);
					return ILOG_ERR_DB;
				}
			}
			sqlite3_finalize(s);
			if (rc == SQLITE_DONE)
				return ILOG_OK;
		}
		if (!is_busy(rc) || clock_monotonic_ms() >= deadline) {
			errbuf_set(err, errlen, "%s: %s", log->path, sqlite3_errmsg(log->db));
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
	errbuf_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
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
		errbuf_set(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(log->path, sizeof(log->path), "%s", path);
	log->readonly = opts->readonly;
	if (getrandom(&log->rng, sizeof(log->rng), GRND_NONBLOCK) != sizeof(log->rng))
		log->rng = (uint64_t)clock_monotonic_ms() ^ ((uint64_t)getpid() << 32);
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
		errbuf_set(err, errlen, "cannot open %s: %s", path,
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
	}
	if (ilog_call(log, opts->readonly ? ILOG_READ : ILOG_WRITE, schema_body, NULL, err,
	    errlen) != ILOG_OK)
		goto out_close;
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
