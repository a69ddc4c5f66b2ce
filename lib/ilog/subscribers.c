/*
 * ilog subscribers: the status page's subscribers and their double opt-in. See
 * lib/ilog_subscribers.h for the contract, ilog_int.h for the shape.
 */
#include <stdlib.h>
#include <string.h>

#include "ilog_int.h"
#include "ilog_subscribers.h"

static const char *const kind_names[] = { "email", "webhook" };
static const char *const state_names[] = { "pending", "confirmed", "unsubscribed", "dropped" };

const char *
ilog_sub_kind_name(enum ilog_sub_kind k)
{
	return (unsigned)k < 2 ? kind_names[k] : "?";
}

const char *
ilog_sub_state_name(enum ilog_sub_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "?";
}

static int
word_index(const char *w, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(w, names[i]) == 0)
			return i;
	return 0;
}

static int
read_subscriber(sqlite3_stmt *s, void *elem)
{
	struct ilog_subscriber *sub = elem;

	memset(sub, 0, sizeof(*sub));
	sub->id = sqlite3_column_int64(s, 0);
	sub->kind = (enum ilog_sub_kind)word_index(col_text(s, 1), kind_names, 2);
	copy_col(s, 2, sub->address, sizeof(sub->address));
	copy_col(s, 3, sub->components, sizeof(sub->components));
	sub->state = (enum ilog_sub_state)word_index(col_text(s, 4), state_names, 4);
	sub->nonce = (uint64_t)sqlite3_column_int64(s, 5);
	sub->created_at = sqlite3_column_int64(s, 6);
	sub->confirmed_at = sqlite3_column_int64(s, 7);
	sub->requested_at = sqlite3_column_int64(s, 8);
	sub->failures = (unsigned)sqlite3_column_int64(s, 9);
	return 0;
}

static const struct ilog_row_type subscriber_rows = { sizeof(struct ilog_subscriber),
	read_subscriber, "out of memory reading subscribers", "cannot read subscribers" };

void
ilog_subscribers_release(struct ilog_subscribers *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* One row by statement which (bound: ?1 id, or ?1 kind ?2 address) into out. */
static enum ilog_status
load_row(struct ilog *log, sqlite3_stmt *s, struct ilog_subscriber *out, char *err,
    size_t errlen)
{
	enum ilog_status st;

	if ((st = ilog_step_row(log, s, "cannot read a subscriber", err, errlen)) != ILOG_OK)
		return st;
	read_subscriber(s, out);
	return ILOG_OK;
}

static enum ilog_status
load_by_id(struct ilog *log, int64_t id, struct ilog_subscriber *out, char *err,
    size_t errlen)
{
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_SUB_BY_ID, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = load_row(log, s, out, err, errlen);
	if (st == ILOG_ERR_NOT_FOUND)
		errbuf_set(err, errlen, "no subscriber %lld", (long long)id);
	return st;
}

struct request_arg {
	enum ilog_sub_kind kind;
	const char *address, *components;
	uint64_t total_max;
	int64_t window_ms, pending_ms;
	uint64_t nonce;
	enum ilog_sub_request_result result;
	struct ilog_subscriber row;
};

static enum ilog_status
request_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct request_arg *a = arg;
	int64_t now = ilog_now(log), live = 0, id = 0;
	enum ilog_status st;
	sqlite3_stmt *s;
	bool found;

	if ((st = ilog_prep(log, ST_SUB_LIVE_COUNT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, now - a->pending_ms);
	if ((st = ilog_query_i64(log, s, 0, &live, "cannot count subscribers", err, errlen)) !=
	    ILOG_OK)
		return st;
	if ((uint64_t)live >= a->total_max) {
		errbuf_set(err, errlen, "subscriptions are full (%llu)",
		    (unsigned long long)a->total_max);
		return ILOG_ERR_FULL;
	}
	if ((st = ilog_prep(log, ST_SUB_BY_ADDRESS, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, kind_names[a->kind], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, a->address, -1, SQLITE_TRANSIENT);
	st = load_row(log, s, &a->row, err, errlen);
	if (st != ILOG_OK && st != ILOG_ERR_NOT_FOUND)
		return st;
	found = st == ILOG_OK;
	if (found && now - a->row.requested_at < a->window_ms) {
		errbuf_set(err, errlen, "this address was asked for less than %lld s ago",
		    (long long)(a->window_ms / 1000));
		return ILOG_ERR_STATE;
	}
	a->result = ILOG_SUB_ASKED;
	if (!found) {
		if ((st = ilog_prep(log, ST_SUB_INSERT, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_text(s, 1, kind_names[a->kind], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, a->address, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, a->components, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 4, (int64_t)a->nonce);
		sqlite3_bind_int64(s, 5, now);
		if ((st = ilog_exec(log, s, "cannot add a subscriber", err, errlen)) != ILOG_OK)
			return st;
		id = sqlite3_last_insert_rowid(log->db);
	} else if (a->row.state == ILOG_SUB_UNSUBSCRIBED || a->row.state == ILOG_SUB_DROPPED) {
		id = a->row.id;
		if ((st = ilog_prep(log, ST_SUB_RENEW, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, a->components, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, (int64_t)a->nonce);
		sqlite3_bind_int64(s, 4, now);
		if ((st = ilog_exec(log, s, "cannot renew a subscriber", err, errlen)) != ILOG_OK)
			return st;
	} else {
		/* Pending: the latest request's components win (the confirmation is for
		 * them). Confirmed: a stranger must not change them. */
		id = a->row.id;
		if (a->row.state == ILOG_SUB_CONFIRMED)
			a->result = ILOG_SUB_NOTHING;
		if ((st = ilog_prep(log, ST_SUB_REQUESTED, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, now);
		if (a->row.state == ILOG_SUB_PENDING)
			sqlite3_bind_text(s, 3, a->components, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, 3);
		if ((st = ilog_exec(log, s, "cannot update a subscriber", err, errlen)) != ILOG_OK)
			return st;
	}
	return load_by_id(log, id, &a->row, err, errlen);
}

enum ilog_status
ilog_sub_request(struct ilog *log, enum ilog_sub_kind kind, const char *address,
    const char *components, uint64_t total_max, int64_t window_ms, int64_t pending_ms,
    enum ilog_sub_request_result *result, struct ilog_subscriber *out, char *err,
    size_t errlen)
{
	struct request_arg a = { .kind = kind, .address = address,
		.components = components != NULL ? components : "", .total_max = total_max,
		.window_ms = window_ms, .pending_ms = pending_ms };
	enum ilog_status st;

	if ((unsigned)kind > ILOG_SUB_WEBHOOK) {
		errbuf_set(err, errlen, "subscriber kind %d is invalid", (int)kind);
		return ILOG_ERR_ARG;
	}
	if ((st = ilog_check_text(address, ILOG_SUB_ADDRESS_MAX, false, TEXT_LINE, "address",
	    err, errlen)) != ILOG_OK ||
	    (st = ilog_check_text(a.components, ILOG_SUB_COMPONENTS_MAX, true, TEXT_LINE,
		"components", err, errlen)) != ILOG_OK)
		return st;
	if (window_ms < 0 || pending_ms < 0) {
		errbuf_set(err, errlen, "window of %lld ms is invalid",
		    (long long)(window_ms < 0 ? window_ms : pending_ms));
		return ILOG_ERR_ARG;
	}
	/* Drawn outside the body: a retried body keeps the same nonce. Never 0, so that a
	 * zeroed token field never matches (a test clock's generator may give 0). */
	if ((a.nonce = ilog_random(log)) == 0)
		a.nonce = 1;
	if ((st = ilog_call(log, ILOG_WRITE, request_body, &a, err, errlen)) != ILOG_OK)
		return st;
	*result = a.result;
	*out = a.row;
	return ILOG_OK;
}

struct get_arg {
	int64_t id;
	struct ilog_subscriber row;
};

static enum ilog_status
get_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct get_arg *a = arg;

	return load_by_id(log, a->id, &a->row, err, errlen);
}

enum ilog_status
ilog_sub_get(struct ilog *log, int64_t id, struct ilog_subscriber *out, char *err,
    size_t errlen)
{
	struct get_arg a = { .id = id };
	enum ilog_status st;

	if ((st = ilog_call(log, ILOG_READ, get_body, &a, err, errlen)) == ILOG_OK)
		*out = a.row;
	return st;
}

/* Sets state (and confirmed_at if at != 0) of id. */
static enum ilog_status
set_state(struct ilog *log, int64_t id, enum ilog_sub_state state, int64_t at, char *err,
    size_t errlen)
{
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_SUB_STATE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, state_names[state], -1, SQLITE_STATIC);
	if (at != 0)
		sqlite3_bind_int64(s, 3, at);
	else
		sqlite3_bind_null(s, 3);
	return ilog_exec(log, s, "cannot change a subscriber", err, errlen);
}

struct link_arg {
	int64_t id;
	uint64_t nonce;
	bool confirm; /* else unsubscribe */
	struct ilog_subscriber row;
};

static enum ilog_status
link_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct link_arg *a = arg;
	enum ilog_status st;

	if ((st = load_by_id(log, a->id, &a->row, err, errlen)) != ILOG_OK)
		return st;
	if (a->row.nonce != a->nonce) {
		errbuf_set(err, errlen, "the link is not this subscription's");
		return ILOG_ERR_STATE;
	}
	if (a->confirm) {
		if (a->row.state == ILOG_SUB_CONFIRMED)
			return ILOG_OK;
		if (a->row.state != ILOG_SUB_PENDING) {
			errbuf_set(err, errlen, "the subscription is %s",
			    state_names[a->row.state]);
			return ILOG_ERR_STATE;
		}
		a->row.state = ILOG_SUB_CONFIRMED;
		a->row.confirmed_at = ilog_now(log);
		return set_state(log, a->id, ILOG_SUB_CONFIRMED, a->row.confirmed_at, err, errlen);
	}
	if (a->row.state == ILOG_SUB_UNSUBSCRIBED)
		return ILOG_OK;
	if (a->row.state == ILOG_SUB_DROPPED) {
		errbuf_set(err, errlen, "the subscription is dropped");
		return ILOG_ERR_STATE;
	}
	a->row.state = ILOG_SUB_UNSUBSCRIBED;
	return set_state(log, a->id, ILOG_SUB_UNSUBSCRIBED, 0, err, errlen);
}

enum ilog_status
ilog_sub_confirm(struct ilog *log, int64_t id, uint64_t nonce, struct ilog_subscriber *out,
    char *err, size_t errlen)
{
	struct link_arg a = { .id = id, .nonce = nonce, .confirm = true };
	enum ilog_status st;

	if ((st = ilog_call(log, ILOG_WRITE, link_body, &a, err, errlen)) == ILOG_OK &&
	    out != NULL)
		*out = a.row;
	return st;
}

enum ilog_status
ilog_sub_unsubscribe(struct ilog *log, int64_t id, uint64_t nonce, char *err, size_t errlen)
{
	struct link_arg a = { .id = id, .nonce = nonce, .confirm = false };

	return ilog_call(log, ILOG_WRITE, link_body, &a, err, errlen);
}

struct outcome_arg {
	int64_t id;
	unsigned limit; /* 0: delivered */
	bool dropped;
};

static enum ilog_status
outcome_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct outcome_arg *a = arg;
	struct ilog_subscriber row;
	enum ilog_status st;
	sqlite3_stmt *s;
	unsigned failures;

	a->dropped = false;
	if ((st = load_by_id(log, a->id, &row, err, errlen)) != ILOG_OK)
		return st;
	failures = a->limit == 0 ? 0 : row.failures + 1;
	if ((st = ilog_prep(log, ST_SUB_FAILURES, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, failures);
	if ((st = ilog_exec(log, s, "cannot count a delivery", err, errlen)) != ILOG_OK)
		return st;
	if (a->limit > 0 && failures >= a->limit &&
	    (row.state == ILOG_SUB_PENDING || row.state == ILOG_SUB_CONFIRMED)) {
		a->dropped = true;
		return set_state(log, a->id, ILOG_SUB_DROPPED, 0, err, errlen);
	}
	return ILOG_OK;
}

enum ilog_status
ilog_sub_delivered(struct ilog *log, int64_t id, char *err, size_t errlen)
{
	struct outcome_arg a = { .id = id };

	return ilog_call(log, ILOG_WRITE, outcome_body, &a, err, errlen);
}

enum ilog_status
ilog_sub_bounced(struct ilog *log, int64_t id, unsigned limit, bool *dropped, char *err,
    size_t errlen)
{
	struct outcome_arg a = { .id = id, .limit = limit };
	enum ilog_status st;

	if (limit == 0) {
		errbuf_set(err, errlen, "bounce limit 0 is invalid");
		return ILOG_ERR_ARG;
	}
	st = ilog_call(log, ILOG_WRITE, outcome_body, &a, err, errlen);
	if (st == ILOG_OK && dropped != NULL)
		*dropped = a.dropped;
	return st;
}

struct list_arg {
	int64_t after;
	size_t max;
	struct ilog_subscribers *out;
};

static enum ilog_status
list_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct list_arg *a = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	ilog_subscribers_release(a->out); /* a retried body starts again */
	if ((st = ilog_prep(log, ST_SUB_CONFIRMED, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->after);
	sqlite3_bind_int64(s, 2, (int64_t)a->max + 1);
	return ilog_collect(log, s, &subscriber_rows, a->max, (void **)&a->out->v, &a->out->n,
	    &a->out->truncated, err, errlen);
}

enum ilog_status
ilog_sub_list_confirmed(struct ilog *log, int64_t after_id, size_t max,
    struct ilog_subscribers *out, char *err, size_t errlen)
{
	struct list_arg a = { .after = after_id, .max = max, .out = out };
	enum ilog_status st;

	memset(out, 0, sizeof(*out));
	if (max == 0 || max > ILOG_SUB_LIST_MAX) {
		errbuf_set(err, errlen, "list of %zu subscribers is invalid (1-%d)", max,
		    ILOG_SUB_LIST_MAX);
		return ILOG_ERR_ARG;
	}
	if ((st = ilog_call(log, ILOG_READ, list_body, &a, err, errlen)) != ILOG_OK)
		ilog_subscribers_release(out);
	return st;
}

static enum ilog_status
count_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	uint64_t *out = arg;
	enum ilog_status st;
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, 4 * sizeof(*out));
	if ((st = ilog_prep(log, ST_SUB_COUNT, &s, err, errlen)) != ILOG_OK)
		return st;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		out[word_index(col_text(s, 0), state_names, 4)] =
		    (uint64_t)sqlite3_column_int64(s, 1);
	if (rc != SQLITE_DONE)
		return ilog_db_fail(log, rc, "cannot count subscribers", err, errlen);
	return ILOG_OK;
}

enum ilog_status
ilog_sub_count(struct ilog *log, uint64_t out[4], char *err, size_t errlen)
{
	return ilog_call(log, ILOG_READ, count_body, out, err, errlen);
}

struct due_arg {
	size_t max, n;
	int64_t *ids;
};

static enum ilog_status
due_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct due_arg *a = arg;
	const size_t plen = strlen(ILOG_SUB_SINK_PREFIX);
	enum ilog_status st;
	sqlite3_stmt *s;
	int rc;

	a->n = 0;
	if ((st = ilog_prep(log, ST_SUB_DUE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, ilog_now(log));
	sqlite3_bind_int64(s, 2, (int64_t)a->max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && a->n < a->max) {
		const char *sink = col_text(s, 0), *end;
		long long id;

		if (strncmp(sink, ILOG_SUB_SINK_PREFIX, plen) != 0)
			continue;
		id = strtoll(sink + plen, (char **)&end, 10);
		if (id > 0 && *end == '\0')
			a->ids[a->n++] = id;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return ilog_db_fail(log, rc, "cannot read the subscribers' queues", err, errlen);
	return ILOG_OK;
}

enum ilog_status
ilog_sub_due(struct ilog *log, size_t max, int64_t *ids, size_t *n, char *err, size_t errlen)
{
	struct due_arg a = { .max = max, .ids = ids };
	enum ilog_status st;

	*n = 0;
	if ((st = ilog_call(log, ILOG_READ, due_body, &a, err, errlen)) == ILOG_OK)
		*n = a.n;
	return st;
}
