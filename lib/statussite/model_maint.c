/*
 * model_maint — scheduled maintenances in the status model: the log's public ones and
 * the configuration's windows, and what they do to components and the indicator. See
 * statussite.h ("model_add_maintenances").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "statussite.h"

/* Every component: a maintenance of every cluster. */
static uint64_t
all_components(const struct sp_config *cfg)
{
	return cfg->ncomps >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << cfg->ncomps) - 1;
}

static void
set_texts(struct model_maintenance *mm, const char *title, const char *message)
{
	model_clean_text(title, mm->name, sizeof(mm->name));
	model_clean_text(message != NULL && message[0] != '\0' ? message : title, mm->body,
	    sizeof(mm->body));
}

/* Fills the times that follow from status (started, completed, updated). */
static void
set_status(struct model_maintenance *mm, enum ilog_maint_state st, int64_t start, int64_t end)
{
	mm->status = st;
	mm->started_at = st >= ILOG_MAINT_IN_PROGRESS ? start : 0;
	mm->completed_at = st == ILOG_MAINT_COMPLETED ? end : 0;
	mm->updated_at = mm->completed_at ? mm->completed_at :
	    mm->started_at                ? mm->started_at : mm->created_at;
}

static void
from_log(struct model_maintenance *mm, const struct sp_config *cfg,
    const struct ilog_maintenance *lm, int64_t now)
{
	memset(mm, 0, sizeof(*mm));
	snprintf(mm->id, sizeof(mm->id), "m%lld", (long long)lm->id);
	mm->log_id = lm->id;
	set_texts(mm, lm->title, lm->message);
	mm->components = lm->cluster[0] != '\0' ? spconfig_affected(cfg, lm->cluster) :
						  all_components(cfg);
	mm->created_at = lm->created_at;
	mm->scheduled_for = lm->starts_at;
	mm->scheduled_until = lm->ends_at;
	set_status(mm, ilog_maint_state_at(lm, now), ilog_maint_effective_start(lm),
	    ilog_maint_effective_end(lm));
}

/*
 * The current or next occurrence of window i; false if it has none, is not public, or
 * has a row among v[0..n) (mcstatus recorded it: the row is shown, or, cancelled,
 * nothing).
 */
static bool
from_window(struct model_maintenance *mm, const struct model *m, size_t i,
    const struct ilog_maintenance *v, size_t n)
{
	const struct maint_window *w = &m->cfg->windows[i];
	struct ilog_maint_occurrence o;
	int64_t start, end;
	size_t c;

	if (!maint_window_as_row(w, m->now, &o))
		return false;
	for (c = 0; c < n; c++)
		if (v[c].starts_at == o.starts_at && strcmp(v[c].created_by, o.source) == 0)
			return false;
	start = o.starts_at;
	end = o.ends_at;
	memset(mm, 0, sizeof(*mm));
	/* The index and the start, never the section's name: names are internal. */
	snprintf(mm->id, sizeof(mm->id), "w%zu-%lld", i + 1, (long long)(start / 1000));
	set_texts(mm, w->title, NULL);
	if (w->nclusters == 0)
		mm->components = all_components(m->cfg);
	for (c = 0; c < w->nclusters; c++)
		mm->components |= spconfig_affected(m->cfg, w->clusters[c]);
	/* Announced as soon as the previous occurrence ended (or the page's data begins
	 * for a one-off): a time that does not move between renders. */
	mm->created_at = w->every_ms > 0 ? start - w->every_ms + w->duration_ms :
	    m->data_start != 0 && m->data_start < start ? m->data_start : start;
	mm->scheduled_for = start;
	mm->scheduled_until = end;
	set_status(mm, m->now >= start ? ILOG_MAINT_IN_PROGRESS : ILOG_MAINT_SCHEDULED, start,
	    end);
	return true;
}

static int
cmp_maint(const void *a, const void *b)
{
	const struct model_maintenance *x = a, *y = b;

	if (x->scheduled_for != y->scheduled_for)
		return x->scheduled_for < y->scheduled_for ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void
note_edge(struct model *m, int64_t at)
{
	if (at > m->now && (m->next_change == 0 || at < m->next_change))
		m->next_change = at;
}

int
model_add_maintenances(struct model *m, const struct ilog_maintenance *v, size_t n,
    char *err, size_t errlen)
{
	size_t cap = n + m->cfg->nwindows, i, c, k = 0;
	struct model_maintenance *all;
	bool incident_active = false;

	if (cap == 0)
		return 0;
	if ((all = calloc(cap, sizeof(*all))) == NULL) {
		model_release(m);
		snprintf(err, errlen, "out of memory building the status model");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (v[i].kind == ILOG_MAINT_PUBLIC &&
		    ilog_maint_state_at(&v[i], m->now) != ILOG_MAINT_CANCELLED)
			from_log(&all[k++], m->cfg, &v[i], m->now);
	for (i = 0; i < m->cfg->nwindows; i++)
		if (from_window(&all[k], m, i, v, n))
			k++;
	qsort(all, k, sizeof(*all), cmp_maint);
	if (k > MODEL_MAINTENANCES_MAX) { /* keep the latest */
		memmove(all, all + (k - MODEL_MAINTENANCES_MAX),
		    MODEL_MAINTENANCES_MAX * sizeof(*all));
		k = MODEL_MAINTENANCES_MAX;
	}
	m->maints = all;
	m->nmaints = k;

	for (i = 0; i < m->nincidents; i++)
		if (m->incidents[i].active)
			incident_active = true;
	for (i = 0; i < k; i++) {
		const struct model_maintenance *mm = &all[i];

		if (mm->status == ILOG_MAINT_SCHEDULED)
			note_edge(m, mm->scheduled_for);
		if (mm->status != ILOG_MAINT_COMPLETED)
			note_edge(m, mm->scheduled_until);
		if (mm->status != ILOG_MAINT_IN_PROGRESS)
			continue;
		for (c = 0; c < m->cfg->ncomps; c++)
			if ((mm->components & ((uint64_t)1 << c)) &&
			    m->comps[c].status == MODEL_OPERATIONAL) {
				m->comps[c].status = MODEL_UNDER_MAINTENANCE;
				if (mm->started_at > m->comps[c].updated_at)
					m->comps[c].updated_at = mm->started_at;
			}
		if (!incident_active)
			m->indicator = MODEL_INDICATOR_MAINTENANCE;
	}
	for (i = 0; i < k; i++)
		if (all[i].updated_at > m->updated_at && all[i].updated_at <= m->now)
			m->updated_at = all[i].updated_at;
	return 0;
}

const struct model_maintenance *
model_find_maintenance(const struct model *m, int64_t log_id)
{
	size_t i;

	for (i = 0; i < m->nmaints; i++)
		if (m->maints[i].log_id == log_id && log_id != 0)
			return &m->maints[i];
	return NULL;
}

int
model_load_maintenances(struct model *m, struct ilog *log, char *err, size_t errlen)
{
	struct ilog_maintenance *v = calloc(ILOG_MAINT_LIST_MAX, sizeof(*v));
	size_t n = 0;
	int rc;

	if (v == NULL) {
		model_release(m);
		snprintf(err, errlen, "out of memory reading maintenances");
		return -1;
	}
	if (ilog_maint_list(log, m->now, false, v, ILOG_MAINT_LIST_MAX, &n, err, errlen) !=
	    ILOG_OK) {
		model_release(m);
		free(v);
		return -1;
	}
	rc = model_add_maintenances(m, v, n, err, errlen);
	free(v);
	return rc;
}
