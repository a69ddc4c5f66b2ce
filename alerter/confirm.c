/*
 * confirm — see confirm.h.
 */
#include <stdio.h>
#include <string.h>

#include "confirm.h"

void
confirm_init(struct confirm *c)
{
	memset(c, 0, sizeof(*c));
}

static struct confirm_wait *
find(struct confirm *c, const char *jid)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (jid_equal(c->v[i].jid, jid))
			return &c->v[i];
	return NULL;
}

void
confirm_ask(struct confirm *c, const char *jid, const struct confirm_wait *w)
{
	struct confirm_wait *slot = find(c, jid);
	size_t i, oldest = 0;

	if (slot == NULL && c->n < CONFIRM_SENDERS_MAX)
		slot = &c->v[c->n++];
	if (slot == NULL) {
		for (i = 1; i < c->n; i++)
			if (c->v[i].asked_at < c->v[oldest].asked_at)
				oldest = i;
		slot = &c->v[oldest];
	}
	*slot = *w;
	snprintf(slot->jid, sizeof(slot->jid), "%s", jid);
}

enum confirm_answer
confirm_take(struct confirm *c, const char *jid, int64_t now, struct confirm_wait *out)
{
	struct confirm_wait *w = find(c, jid);

	if (w == NULL)
		return CONFIRM_NOTHING;
	*out = *w;
	*w = c->v[--c->n];
	if (now - out->asked_at > CONFIRM_WINDOW_MS || now < out->asked_at)
		return CONFIRM_LATE;
	return CONFIRM_GO;
}

enum confirm_verdict
confirm_judge(const struct ilog_remedy *r, bool resolved, int64_t latest_evidence,
    int64_t now)
{
	if (r->run_at != 0)
		return CONFIRM_ALREADY_RUN;
	if (resolved)
		return CONFIRM_RESOLVED;
	if (r->superseded_at != 0 || (latest_evidence != 0 && latest_evidence != r->evidence_event))
		return CONFIRM_SUPERSEDED;
	if (now - r->created_at > CONFIRM_LIFETIME_MS)
		return CONFIRM_EXPIRED;
	return CONFIRM_RUNNABLE;
}
