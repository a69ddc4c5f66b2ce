/*
 * ilog outbox: the publisher's pushes to remote sinks, with their retry policy. See
 * lib/ilog_outbox.h for the contract, ilog_int.h for the shape.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ilog_int.h"
#include "ilog_outbox.h"

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
		if ((st = ilog_prep(log, ST_EV_EXISTS, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->event_id);
		if ((st = ilog_query_i64(log, s, 0, &v, "cannot read events", err, errlen)) !=
		    ILOG_OK)
			return st;
		if (v == 0) {
			errbuf_set(err, errlen, "no event %lld", (long long)a->event_id);
			return ILOG_ERR_NOT_FOUND;
		}
		if ((st = ilog_prep(log, ST_OB_FIND, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, a->event_id);
		if ((st = ilog_query_i64(log, s, 0, &v, "cannot read the outbox", err,
		    errlen)) != ILOG_OK)
			return st;
		if (v != 0) {
			a->item_id = v;
			return ILOG_OK;
		}
	}
	if ((st = ilog_prep(log, ST_OB_COUNT_SINK, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_TRANSIENT);
	if ((st = ilog_query_i64(log, s, 0, &v, "cannot read the outbox", err, errlen)) !=
	    ILOG_OK)
		return st;
	if (v >= ILOG_OUTBOX_MAX) {
		errbuf_set(err, errlen, "the outbox of sink '%s' is full (%d unfinished items)",
		    a->sink, ILOG_OUTBOX_MAX);
		return ILOG_ERR_FULL;
	}
	if ((st = ilog_prep(log, ST_OB_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_TRANSIENT);
	bind_opt_i64(s, 2, a->event_id);
	sqlite3_bind_text(s, 3, a->payload, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, ilog_now(log));
	if ((st = ilog_exec(log, s, "cannot enqueue", err, errlen)) != ILOG_OK)
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

	if ((st = ilog_check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink", err,
	    errlen)) != ILOG_OK)
		return st;
	if (event_id < 0) {
		errbuf_set(err, errlen, "no event %lld", (long long)event_id);
		return ILOG_ERR_NOT_FOUND;
	}
	if (payload_json == NULL) {
		errbuf_set(err, errlen, "payload is missing");
		return ILOG_ERR_ARG;
	}
	if ((j = ilog_parse_json(payload_json, false, "payload", err, errlen)) == NULL)
		return ILOG_ERR_ARG;
	text = ilog_dump_json(j, "payload", err, errlen);
	json_decref(j);
	if (text == NULL)
		return ILOG_ERR_ARG;
	a.payload = text;
	st = ilog_call(log, ILOG_WRITE, enqueue_body, &a, err, errlen);
	free(text);
	if (st == ILOG_OK) {
		if (item_id != NULL)
			*item_id = a.item_id;
		if (created != NULL)
			*created = a.created;
	}
	return st;
}

struct batch_args {
	const char *const *sinks;
	size_t n;
	struct enqueue_args one;
	size_t created, full;
};

static enum ilog_status
batch_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct batch_args *a = arg;
	enum ilog_status st;
	size_t i;

	a->created = a->full = 0; /* a retried body starts again */
	for (i = 0; i < a->n; i++) {
		a->one.sink = a->sinks[i];
		st = enqueue_body(log, &a->one, err, errlen);
		if (st == ILOG_ERR_FULL)
			a->full++;
		else if (st != ILOG_OK)
			return st;
		else if (a->one.created)
			a->created++;
	}
	return ILOG_OK;
}

enum ilog_status
ilog_outbox_enqueue_batch(struct ilog *log, const char *const *sinks, size_t n,
    int64_t event_id, const char *payload_json, size_t *created, size_t *full, char *err,
    size_t errlen)
{
	struct batch_args a = { .sinks = sinks, .n = n, .one = { .event_id = event_id } };
	enum ilog_status st;
	json_t *j;
	char *text;
	size_t i;

	if (n > ILOG_OUTBOX_BATCH_MAX) {
		errbuf_set(err, errlen, "batch of %zu items is invalid (at most %d)", n,
		    ILOG_OUTBOX_BATCH_MAX);
		return ILOG_ERR_ARG;
	}
	for (i = 0; i < n; i++)
		if ((st = ilog_check_text(sinks[i], ILOG_SINK_MAX, false, TEXT_LINE, "sink", err,
		    errlen)) != ILOG_OK)
			return st;
	if (event_id <= 0) {
		errbuf_set(err, errlen, "no event %lld", (long long)event_id);
		return ILOG_ERR_NOT_FOUND;
	}
	if (payload_json == NULL ||
	    (j = ilog_parse_json(payload_json, false, "payload", err, errlen)) == NULL) {
		if (payload_json == NULL)
			errbuf_set(err, errlen, "payload is missing");
		return ILOG_ERR_ARG;
	}
	text = ilog_dump_json(j, "payload", err, errlen);
	json_decref(j);
	if (text == NULL)
		return ILOG_ERR_ARG;
	a.one.payload = text;
	st = ilog_call(log, ILOG_WRITE, batch_body, &a, err, errlen);
	free(text);
	if (st == ILOG_OK) {
		if (created != NULL)
			*created = a.created;
		if (full != NULL)
			*full = a.full;
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

	if ((st = ilog_prep(log, ST_OB_GET, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = ilog_step_row(log, s, "cannot read the outbox", err, errlen);
	if (st == ILOG_OK && read_outbox(s, it) != 0) {
		errbuf_set(err, errlen, "out of memory reading the outbox");
		st = ILOG_ERR_DB;
	} else if (st == ILOG_ERR_NOT_FOUND) {
		errbuf_set(err, errlen, "no outbox item %lld", (long long)id);
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
	if ((st = ilog_prep(log, ST_OB_DUE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, now);
	bind_opt_text(s, 2, a->sink);
	sqlite3_bind_int64(s, 3, (int64_t)a->max);
	while (n < a->max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(s, 0);
	if (n < a->max && rc != SQLITE_DONE)
		return ilog_db_fail(log, rc, "cannot read the outbox", err, errlen);
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		if ((st = ilog_prep(log, ST_OB_CLAIM, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, now + a->lease_ms);
		if ((st = ilog_exec(log, s, "cannot claim", err, errlen)) != ILOG_OK)
			return st;
		if (ilog_grow((void **)&a->out->v, &cap, a->out->n, sizeof(*a->out->v)) != 0) {
			errbuf_set(err, errlen, "out of memory reading the outbox");
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

	if (sink != NULL && (st = ilog_check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink",
	    err, errlen)) != ILOG_OK)
		return st;
	if (max == 0 || max > ILOG_OUTBOX_CLAIM_MAX) {
		errbuf_set(err, errlen, "claim of %zu items is invalid (1-%d)", max,
		    ILOG_OUTBOX_CLAIM_MAX);
		return ILOG_ERR_ARG;
	}
	if (lease_ms <= 0) {
		errbuf_set(err, errlen, "lease of %lld ms is invalid", (long long)lease_ms);
		return ILOG_ERR_ARG;
	}
	st = ilog_call(log, ILOG_WRITE, claim_body, &a, err, errlen);
	if (st != ILOG_OK)
		ilog_outbox_items_release(out);
	return st;
}

/* ILOG_OK if the item is unfinished; else ILOG_ERR_STATE with the reason. */
static enum ilog_status
outbox_unfinished(const struct ilog_outbox_item *it, char *err, size_t errlen)
{
	if (it->done_at != 0) {
		errbuf_set(err, errlen, "outbox item %lld is already done", (long long)it->id);
		return ILOG_ERR_STATE;
	}
	if (it->gave_up_at != 0) {
		errbuf_set(err, errlen, "outbox item %lld was given up", (long long)it->id);
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

/* The delay before the attempt after the n-th failure (see ilog_outbox.h). */
static int64_t
backoff_delay(struct ilog *log, const struct ilog_backoff *p, unsigned n)
{
	int64_t d = p->base_ms;
	unsigned i;

	for (i = 1; i < n && d < p->max_ms; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	if (d > p->max_ms)
		d = p->max_ms;
	return d / 2 + (int64_t)(ilog_random(log) % (uint64_t)(d / 2 + 1));
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
		if ((st = ilog_prep(log, ST_OB_DONE, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		return ilog_exec(log, s, "cannot complete", err, errlen);
	}
	n = it.attempts > 0 ? it.attempts : 1;
	if (a->policy->max_attempts != 0 && n >= a->policy->max_attempts) {
		snprintf(text, sizeof(text), "gave up after %u attempts: %s", n, a->error_text);
		if ((st = ilog_prep(log, ST_OB_GIVE_UP, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_int64(s, 2, now);
		sqlite3_bind_text(s, 3, text, -1, SQLITE_TRANSIENT);
		a->gave_up = true;
		return ilog_exec(log, s, "cannot give up", err, errlen);
	}
	delay = backoff_delay(log, a->policy, n);
	if (a->retry_after_ms > delay)
		delay = a->retry_after_ms;
	a->next_at = now + delay;
	snprintf(text, sizeof(text), "%s", a->error_text);
	if ((st = ilog_prep(log, ST_OB_RETRY, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, a->next_at);
	sqlite3_bind_text(s, 3, text, -1, SQLITE_TRANSIENT);
	return ilog_exec(log, s, "cannot reschedule", err, errlen);
}

enum ilog_status
ilog_outbox_complete(struct ilog *log, int64_t item_id, char *err, size_t errlen)
{
	struct finish_args a = { .id = item_id };

	return ilog_call(log, ILOG_WRITE, finish_body, &a, err, errlen);
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
		errbuf_set(err, errlen,
		    "backoff policy is invalid (need 0 < base_ms <= max_ms)");
		return ILOG_ERR_ARG;
	}
	if (error_text == NULL)
		a.error_text = "failed";
	if (retry_after_ms < 0)
		a.retry_after_ms = 0;
	st = ilog_call(log, ILOG_WRITE, finish_body, &a, err, errlen);
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
	return ilog_call(log, ILOG_READ, outbox_get_body, &a, err, errlen);
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

	if ((st = ilog_prep(log, ST_OB_PENDING, &s, err, errlen)) != ILOG_OK)
		return st;
	bind_opt_text(s, 1, a->sink);
	st = ilog_step_row(log, s, "cannot read the outbox", err, errlen);
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
	enum ilog_status st = ilog_call(log, ILOG_READ, pending_body, &a, err, errlen);

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
	if ((st = ilog_prep(log, ST_OB_HEAD, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_STATIC);
	st = ilog_step_row(log, s, "cannot read the outbox", err, errlen);
	if (st != ILOG_OK) {
		sqlite3_reset(s);
		return st == ILOG_ERR_NOT_FOUND ? ILOG_OK : st;
	}
	id = sqlite3_column_int64(s, 0);
	a->next_due = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (a->next_due > now)
		return ILOG_OK;
	if ((st = ilog_prep(log, ST_OB_CLAIM, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now + a->lease_ms);
	if ((st = ilog_exec(log, s, "cannot claim", err, errlen)) != ILOG_OK)
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
	if ((st = ilog_check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink", err,
	    errlen)) != ILOG_OK)
		return st;
	if (lease_ms <= 0) {
		errbuf_set(err, errlen, "lease of %lld ms is invalid", (long long)lease_ms);
		return ILOG_ERR_ARG;
	}
	if ((st = ilog_call(log, ILOG_WRITE, claim_head_body, &a, err, errlen)) != ILOG_OK)
		return st;
	if (next_due != NULL)
		*next_due = a.next_due;
	if (!a.claimed) {
		errbuf_set(err, errlen, a.next_due ? "the head of sink '%s' is not due yet" :
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
	if ((st = ilog_prep(log, ST_OB_STATS, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_STATIC);
	st = ilog_step_row(log, s, "cannot read the outbox", err, errlen);
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
	if ((st = ilog_prep(log, ST_OB_HEAD, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, a->sink, -1, SQLITE_STATIC);
	st = ilog_step_row(log, s, "cannot read the outbox", err, errlen);
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
	if ((st = ilog_check_text(sink, ILOG_SINK_MAX, false, TEXT_LINE, "sink", err,
	    errlen)) != ILOG_OK)
		return st;
	st = ilog_call(log, ILOG_READ, outbox_stats_body, &a, err, errlen);
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

