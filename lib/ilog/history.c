/*
 * ilog history: mcmon's recorded figures. See lib/ilog_history.h for the contract,
 * ilog_int.h for the shape.
 */
#include <stdlib.h>
#include <string.h>

#include "ilog_history.h"
#include "ilog_int.h"

void
ilog_history_rows_release(struct ilog_history_rows *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

double
ilog_history_share(const struct ilog_history_row *r)
{
	return r->probes > 0 ? (double)r->slow / (double)r->probes : -1.0;
}

static int
bind_known_i64(sqlite3_stmt *s, int idx, int64_t v)
{
	return v < 0 ? sqlite3_bind_null(s, idx) : sqlite3_bind_int64(s, idx, v);
}

struct append_args {
	const struct ilog_history_row *rows;
	size_t n;
};

static enum ilog_status
append_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	const struct append_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;
	size_t i;

	for (i = 0; i < a->n; i++) {
		const struct ilog_history_row *r = &a->rows[i];

		if ((st = ilog_prep(log, ST_HIST_INSERT, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, r->at);
		sqlite3_bind_text(s, 2, r->cluster, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, r->node, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 4, r->probes);
		sqlite3_bind_int64(s, 5, r->slow);
		bind_known_i64(s, 6, r->p50_us);
		bind_known_i64(s, 7, r->p99_us);
		bind_known_i64(s, 8, r->connections);
		if (r->new_per_second < 0)
			sqlite3_bind_null(s, 9);
		else
			sqlite3_bind_double(s, 9, r->new_per_second);
		if ((st = ilog_exec(log, s, "cannot record history", err, errlen)) != ILOG_OK)
			return st;
	}
	return ILOG_OK;
}

enum ilog_status
ilog_history_append(struct ilog *log, const struct ilog_history_row *rows, size_t n,
    char *err, size_t errlen)
{
	struct append_args a = { rows, n };
	enum ilog_status st;
	size_t i;

	if (n > ILOG_HISTORY_APPEND_MAX) {
		errbuf_set(err, errlen, "%zu history rows in one append (at most %d)", n,
		    ILOG_HISTORY_APPEND_MAX);
		return ILOG_ERR_ARG;
	}
	for (i = 0; i < n; i++) {
		if ((st = ilog_check_text(rows[i].cluster, ILOG_NAME_MAX, false, TEXT_LINE,
		    "history cluster", err, errlen)) != ILOG_OK ||
		    (st = ilog_check_text(rows[i].node, ILOG_NAME_MAX, true, TEXT_LINE,
		    "history node", err, errlen)) != ILOG_OK)
			return st;
		if (rows[i].probes < 0 || rows[i].slow < 0 || rows[i].slow > rows[i].probes) {
			errbuf_set(err, errlen, "history row of %s: %lld slow of %lld probes",
			    rows[i].cluster, (long long)rows[i].slow, (long long)rows[i].probes);
			return ILOG_ERR_ARG;
		}
	}
	if (n == 0)
		return ILOG_OK;
	return ilog_call(log, ILOG_WRITE, append_body, &a, err, errlen);
}

static int64_t
col_known_i64(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, col);
}

static int
read_row(sqlite3_stmt *s, void *elem)
{
	struct ilog_history_row *r = elem;

	memset(r, 0, sizeof(*r));
	r->at = sqlite3_column_int64(s, 0);
	copy_col(s, 1, r->cluster, sizeof(r->cluster));
	copy_col(s, 2, r->node, sizeof(r->node));
	r->probes = sqlite3_column_int64(s, 3);
	r->slow = sqlite3_column_int64(s, 4);
	r->p50_us = col_known_i64(s, 5);
	r->p99_us = col_known_i64(s, 6);
	r->connections = col_known_i64(s, 7);
	r->new_per_second = sqlite3_column_type(s, 8) == SQLITE_NULL ? -1.0 :
	    sqlite3_column_double(s, 8);
	return 0;
}

static const struct ilog_row_type history_rows = { sizeof(struct ilog_history_row), read_row,
	"out of memory reading history", "cannot read history" };

struct read_args {
	const char *cluster;
	int64_t from, until;
	struct ilog_history_rows *out;
};

static enum ilog_status
read_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct read_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	ilog_history_rows_release(a->out); /* a retried body starts again */
	if ((st = ilog_prep(log, ST_HIST_READ, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->cluster, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, a->from);
	sqlite3_bind_int64(s, 3, a->until);
	sqlite3_bind_int64(s, 4, (int64_t)ILOG_HISTORY_READ_MAX + 1);
	return ilog_collect(log, s, &history_rows, ILOG_HISTORY_READ_MAX, (void **)&a->out->v,
	    &a->out->n, &a->out->truncated, err, errlen);
}

enum ilog_status
ilog_history_read(struct ilog *log, const char *cluster, int64_t from, int64_t until,
    struct ilog_history_rows *out, char *err, size_t errlen)
{
	struct read_args a = { cluster, from, until, out };
	enum ilog_status st;

	memset(out, 0, sizeof(*out));
	if ((st = ilog_check_text(cluster, ILOG_NAME_MAX, false, TEXT_LINE, "history cluster",
	    err, errlen)) != ILOG_OK)
		return st;
	st = ilog_call(log, ILOG_READ, read_body, &a, err, errlen);
	if (st != ILOG_OK)
		ilog_history_rows_release(out);
	return st;
}

struct prune_args {
	int64_t before;
	size_t deleted;
};

static enum ilog_status
prune_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct prune_args *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	a->deleted = 0;
	if ((st = ilog_prep(log, ST_HIST_PRUNE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->before);
	sqlite3_bind_int64(s, 2, ILOG_HISTORY_PRUNE_BATCH);
	if ((st = ilog_exec(log, s, "cannot prune history", err, errlen)) != ILOG_OK)
		return st;
	a->deleted = (size_t)sqlite3_changes(sqlite3_db_handle(s));
	return ILOG_OK;
}

enum ilog_status
ilog_history_prune(struct ilog *log, int64_t retention_ms, size_t *deleted, char *err,
    size_t errlen)
{
	struct prune_args a = { 0, 0 };
	enum ilog_status st;

	if (retention_ms <= 0) {
		errbuf_set(err, errlen, "history retention %lld ms is not positive",
		    (long long)retention_ms);
		return ILOG_ERR_ARG;
	}
	a.before = ilog_now(log) - retention_ms;
	st = ilog_call(log, ILOG_WRITE, prune_body, &a, err, errlen);
	if (deleted != NULL)
		*deleted = st == ILOG_OK ? a.deleted : 0;
	return st;
}
