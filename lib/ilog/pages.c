/*
 * ilog pages: the pager's state. See lib/ilog_pages.h for the contract, ilog_int.h for
 * the shape.
 */
#include <stdlib.h>
#include <string.h>

#include "ilog_int.h"
#include "ilog_pages.h"

static int
read_page(sqlite3_stmt *s, void *elem)
{
	struct ilog_page *p = elem;

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
	return 0;
}

static const struct ilog_row_type page_rows = { sizeof(struct ilog_page), read_page,
	"out of memory reading pages", "cannot read pages" };

void
ilog_pages_release(struct ilog_pages *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

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
	if ((st = ilog_load_incident(log, a->incident_id, &inc, err, errlen)) != ILOG_OK)
		return st;
	if (inc.state == ILOG_STATE_RESOLVED) {
		errbuf_set(err, errlen, "incident %lld is resolved; nobody is paged for it",
		    (long long)inc.id);
		return ILOG_ERR_STATE;
	}
	if ((st = ilog_prep(log, ST_PAGE_INSERT, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->incident_id);
	sqlite3_bind_int(s, 2, a->step);
	sqlite3_bind_text(s, 3, a->target, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	bind_opt_i64(s, 5, a->deadline);
	if ((st = ilog_exec(log, s, "cannot record a page", err, errlen)) != ILOG_OK)
		return st;
	a->page_id = sqlite3_last_insert_rowid(log->db);
	if (a->clear_others) {
		if ((st = ilog_prep(log, ST_PAGE_CLEAR_OTHERS, &s, err, errlen)) != ILOG_OK)
			return st;
		sqlite3_bind_int64(s, 1, a->incident_id);
		sqlite3_bind_int64(s, 2, a->page_id);
		if ((st = ilog_exec(log, s, "cannot stop the previous deadline", err,
		    errlen)) != ILOG_OK)
			return st;
	}
	/* The extra members first, so that they can never replace the page's own. */
	body = a->extra != NULL ? json_deep_copy(a->extra) : json_object();
	if (body == NULL || json_object_set_new(body, "page_id", json_integer(a->page_id)) != 0 ||
	    json_object_set_new(body, "step", json_integer(a->step)) != 0 ||
	    json_object_set_new(body, "target", json_string(a->target)) != 0) {
		json_decref(body);
		errbuf_set(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = ilog_insert_event(log, now, a->incident_id, a->actor, ILOG_EV_PAGED, body,
	    &a->event_id, err, errlen);
	json_decref(body);
	return st;
}

/*
 * Records a page: ilog_page_insert() (clear_others false) and ilog_page_escalate()
 * (true, with extra members for the "paged" event).
 */
static enum ilog_status
record_page(struct ilog *log, struct page_insert_args *a, const char *extra_json, char *err,
    size_t errlen)
{
	enum ilog_status st;
	json_t *extra = NULL;

	if ((st = ilog_check_actor(a->actor, err, errlen)) != ILOG_OK ||
	    (st = ilog_check_text(a->target, ILOG_TARGET_MAX, false, TEXT_LINE, "page target",
	    err, errlen)) != ILOG_OK)
		return st;
	if (a->deadline < 0) {
		errbuf_set(err, errlen, "deadline %lld is invalid", (long long)a->deadline);
		return ILOG_ERR_ARG;
	}
	if (extra_json != NULL &&
	    (extra = ilog_parse_json(extra_json, true, "page body", err, errlen)) == NULL)
		return ILOG_ERR_ARG;
	a->extra = extra;
	st = ilog_call(log, ILOG_WRITE, page_insert_body, a, err, errlen);
	json_decref(extra);
	return st;
}

enum ilog_status
ilog_page_insert(struct ilog *log, int64_t incident_id, int step, const char *target,
    int64_t next_deadline, const char *actor, int64_t *page_id, char *err, size_t errlen)
{
	struct page_insert_args a = { incident_id, step, target, next_deadline, actor, 0, NULL,
		false, 0 };
	enum ilog_status st = record_page(log, &a, NULL, err, errlen);

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
	enum ilog_status st = record_page(log, &a, extra_json, err, errlen);

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

	if ((st = ilog_prep(log, ST_PAGE_BY_ID, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, id);
	st = ilog_step_row(log, s, "cannot read a page", err, errlen);
	if (st == ILOG_OK)
		read_page(s, p);
	else if (st == ILOG_ERR_NOT_FOUND)
		errbuf_set(err, errlen, "no page %lld", (long long)id);
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
	if ((st = ilog_prep(log, update[a->mark], &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->page_id);
	sqlite3_bind_int64(s, 2, now);
	if (a->mark == ILOG_PAGE_FAILED)
		bind_opt_text(s, 3, a->detail);
	if ((st = ilog_exec(log, s, "cannot mark a page", err, errlen)) != ILOG_OK)
		return st;
	body = json_pack("{s:I, s:s}", "page_id", (json_int_t)p.id, "target", p.target);
	if (body != NULL && a->detail != NULL && a->detail[0] != '\0')
		json_object_set_new(body, "detail", json_string(a->detail));
	if (body == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return ILOG_ERR_DB;
	}
	st = ilog_insert_event(log, now, p.incident_id, a->actor, type[a->mark], body,
	    &a->event_id, err, errlen);
	json_decref(body);
	return st;
}

enum ilog_status
ilog_page_mark(struct ilog *log, int64_t page_id, enum ilog_page_mark mark,
    const char *actor, const char *detail, int64_t *event_id, char *err, size_t errlen)
{
	struct page_mark_args a = { page_id, mark, actor, detail, 0 };
	enum ilog_status st;

	if ((st = ilog_check_actor(actor, err, errlen)) != ILOG_OK ||
	    (st = ilog_check_text(detail, ILOG_MESSAGE_MAX, true, TEXT_MULTILINE, "detail", err,
	    errlen)) != ILOG_OK)
		return st;
	if ((unsigned)mark > ILOG_PAGE_FAILED) {
		errbuf_set(err, errlen, "page mark %d is invalid", (int)mark);
		return ILOG_ERR_ARG;
	}
	st = ilog_call(log, ILOG_WRITE, page_mark_body, &a, err, errlen);
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

	if ((st = ilog_prep(log, ST_PAGE_DEADLINE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->page_id);
	bind_opt_i64(s, 2, a->deadline);
	if ((st = ilog_exec(log, s, "cannot set a deadline", err, errlen)) != ILOG_OK)
		return st;
	if (sqlite3_changes(log->db) == 0) {
		errbuf_set(err, errlen, "no page %lld", (long long)a->page_id);
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
		errbuf_set(err, errlen, "deadline %lld is invalid", (long long)deadline);
		return ILOG_ERR_ARG;
	}
	return ilog_call(log, ILOG_WRITE, page_deadline_body, &a, err, errlen);
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
	if ((st = ilog_prep(log, a->which, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, a->key);
	sqlite3_bind_int64(s, 2, ILOG_PAGES_MAX + 1);
	return ilog_collect(log, s, &page_rows, ILOG_PAGES_MAX, (void **)&a->out->v, &a->out->n,
	    &a->out->truncated, err, errlen);
}

static enum ilog_status
read_pages(struct ilog *log, struct pages_args *a, char *err, size_t errlen)
{
	enum ilog_status st = ilog_call(log, ILOG_READ, pages_body, a, err, errlen);

	if (st != ILOG_OK)
		ilog_pages_release(a->out);
	return st;
}

enum ilog_status
ilog_page_list(struct ilog *log, int64_t incident_id, struct ilog_pages *out, char *err,
    size_t errlen)
{
	struct pages_args a = { ST_PAGE_LIST, incident_id, out };

	return read_pages(log, &a, err, errlen);
}

enum ilog_status
ilog_page_due(struct ilog *log, int64_t until, struct ilog_pages *out, char *err,
    size_t errlen)
{
	struct pages_args a = { ST_PAGE_DUE, until, out };

	return read_pages(log, &a, err, errlen);
}

enum ilog_status
ilog_page_next_deadline(struct ilog *log, int64_t *deadline, char *err, size_t errlen)
{
	return ilog_read_i64(log, ST_PAGE_NEXT, NULL, deadline, err, errlen);
}
