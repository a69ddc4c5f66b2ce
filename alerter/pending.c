/*
 * pending — see pending.h.
 */
#include <stdlib.h>
#include <string.h>

#include "pending.h"

enum ilog_status
log_write_apply(struct ilog *log, const struct log_write *w, char *err, size_t errlen)
{
	const char *text = w->text[0] != '\0' ? w->text : NULL;

	switch (w->kind) {
	case LOG_WRITE_EVENT:
		return ilog_event_append(log, w->incident_id, w->actor, w->type, text, NULL, err,
		    errlen);
	case LOG_WRITE_ACK:
		return ilog_incident_ack(log, w->incident_id, w->actor, text, NULL, err, errlen);
	case LOG_WRITE_RESOLVE:
		return ilog_incident_resolve(log, w->incident_id, w->actor, text, NULL, err,
		    errlen);
	case LOG_WRITE_PAGE_MARK:
		return ilog_page_mark(log, w->page_id, w->mark, w->actor, text, NULL, err, errlen);
	}
	return ILOG_ERR_ARG;
}

int
pending_init(struct pending *p)
{
	memset(p, 0, sizeof(*p));
	p->v = calloc(PENDING_MAX, sizeof(*p->v));
	return p->v != NULL ? 0 : -1;
}

void
pending_release(struct pending *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static bool
same_write(const struct log_write *x, const struct log_write *y)
{
	return x->kind == y->kind && x->incident_id == y->incident_id &&
	       x->page_id == y->page_id && x->mark == y->mark && strcmp(x->actor, y->actor) == 0 &&
	       strcmp(x->type, y->type) == 0 && strcmp(x->text, y->text) == 0;
}

int
pending_add(struct pending *p, const struct log_write *w)
{
	size_t i;

	/* The loop tries the same write at every tick while the log is busy. */
	for (i = 0; i < p->n; i++)
		if (same_write(&p->v[i], w))
			return 0;
	if (p->n == PENDING_MAX) {
		p->dropped++;
		return -1;
	}
	p->v[p->n++] = *w;
	return 0;
}

enum ilog_status
pending_flush(struct pending *p, struct ilog *log,
    void (*done)(void *arg, const struct log_write *w),
    void (*dropped)(void *arg, const struct log_write *w, enum ilog_status st,
        const char *err),
    void *arg, char *err, size_t errlen)
{
	enum ilog_status st = ILOG_OK;
	size_t i;

	for (i = 0; i < p->n; i++) {
		st = log_write_apply(log, &p->v[i], err, errlen);
		if (st == ILOG_ERR_DB)
			break;
		if (st == ILOG_OK && done != NULL)
			done(arg, &p->v[i]);
		else if (st != ILOG_OK && dropped != NULL)
			dropped(arg, &p->v[i], st, err);
	}
	memmove(p->v, p->v + i, (p->n - i) * sizeof(*p->v));
	p->n -= i;
	return st == ILOG_ERR_DB ? st : ILOG_OK;
}
