/*
 * maintwindow — see maintwindow.h.
 */
#include <stdio.h>
#include <string.h>

#include "maintwindow.h"
#include "parse.h"
#include "utctime.h"

/* "c1, c2" into w->clusters. */
static int
load_clusters(struct maint_window *w, struct config *cfg, const struct config_entry *e,
    struct config_errors *errs)
{
	const char *p = e->value;
	size_t len;

	w->nclusters = 0;
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		len = strcspn(p, ", \t");
		if (len > ILOG_NAME_MAX) {
			config_error(errs, cfg, e->line, "clusters: a name is longer than %d bytes",
			    ILOG_NAME_MAX);
			return -1;
		}
		if (w->nclusters == MAINT_WINDOW_CLUSTERS_MAX) {
			config_error(errs, cfg, e->line, "clusters: more than %d",
			    MAINT_WINDOW_CLUSTERS_MAX);
			return -1;
		}
		memcpy(w->clusters[w->nclusters], p, len);
		w->clusters[w->nclusters++][len] = '\0';
		p += len;
	}
}

/* The public texts: a one-line title, and whether the page shows the window. */
static int
load_public(struct maint_window *w, const char *section, struct config *cfg,
    struct config_errors *errs)
{
	struct config_entry *e;
	int rc = 0;
	size_t i;

	snprintf(w->title, sizeof(w->title), "%s", MAINT_WINDOW_TITLE_DEFAULT);
	if ((e = config_find(cfg, section, "title")) != NULL) {
		bool ok = e->value[0] != '\0' && strlen(e->value) <= MAINT_WINDOW_TITLE_MAX;

		for (i = 0; ok && e->value[i] != '\0'; i++)
			if ((unsigned char)e->value[i] < 0x20 || e->value[i] == 0x7f)
				ok = false;
		if (!ok) {
			config_error(errs, cfg, e->line,
			    "title: not a one-line text of 1..%d bytes", MAINT_WINDOW_TITLE_MAX);
			rc = -1;
		} else {
			snprintf(w->title, sizeof(w->title), "%s", e->value);
		}
	}
	w->public = true;
	if ((e = config_find(cfg, section, "public")) != NULL &&
	    parse_bool(e->value, &w->public) != 0) {
		config_error(errs, cfg, e->line, "public: '%s' is not yes or no", e->value);
		rc = -1;
	}
	return rc;
}

static int
load_window(struct maint_window *w, const char *section, const char *name, int line,
    struct config *cfg, struct config_errors *errs)
{
	struct config_entry *e, *end;
	int64_t end_ms;
	int rc = 0;

	memset(w, 0, sizeof(*w));
	if (strlen(name) > MAINT_WINDOW_NAME_MAX) {
		config_error(errs, cfg, line, "[%s]: the name is longer than %d bytes", section,
		    MAINT_WINDOW_NAME_MAX);
		return -1;
	}
	snprintf(w->name, sizeof(w->name), "%s", name);
	if ((e = config_find(cfg, section, "start")) == NULL) {
		config_error(errs, cfg, line, "[%s] needs start (UTC, YYYY-MM-DD HH:MM)", section);
		rc = -1;
	} else if (utc_parse(e->value, &w->start_ms) != 0) {
		config_error(errs, cfg, e->line, "start: '%s' is not a UTC date and time",
		    e->value);
		rc = -1;
	}
	e = config_find(cfg, section, "duration");
	end = config_find(cfg, section, "end");
	if ((e == NULL) == (end == NULL)) {
		config_error(errs, cfg, line, "[%s] needs either duration or end", section);
		rc = -1;
	} else if (e != NULL) {
		if (parse_duration_ms(e->value, &w->duration_ms) != 0 || w->duration_ms <= 0) {
			config_error(errs, cfg, e->line, "duration: '%s' is not a duration",
			    e->value);
			rc = -1;
		}
	} else if (utc_parse(end->value, &end_ms) != 0) {
		config_error(errs, cfg, end->line, "end: '%s' is not a UTC date and time",
		    end->value);
		rc = -1;
	} else if (rc == 0 && end_ms <= w->start_ms) {
		config_error(errs, cfg, end->line, "end: the window ends before it starts");
		rc = -1;
	} else {
		w->duration_ms = end_ms - w->start_ms;
	}
	if ((e = config_find(cfg, section, "every")) != NULL) {
		if (parse_duration_ms(e->value, &w->every_ms) != 0 || w->every_ms <= 0) {
			config_error(errs, cfg, e->line, "every: '%s' is not a duration", e->value);
			rc = -1;
		} else if (rc == 0 && w->duration_ms > w->every_ms) {
			config_error(errs, cfg, e->line,
			    "every: the window lasts longer than its period");
			rc = -1;
		}
	}
	if ((e = config_find(cfg, section, "clusters")) != NULL &&
	    load_clusters(w, cfg, e, errs) != 0)
		rc = -1;
	if (load_public(w, section, cfg, errs) != 0)
		rc = -1;
	return rc;
}

int
maint_windows_load(struct maint_window *v, size_t max, size_t *n, struct config *cfg,
    struct config_errors *errs)
{
	const char *name;
	size_t i;
	int rc = 0;

	*n = 0;
	for (i = 0; i < cfg->nsections; i++) {
		if ((name = config_section_name(cfg->sections[i], MAINT_WINDOW_SECTION)) == NULL)
			continue;
		if (*n == max) {
			config_error(errs, cfg, cfg->section_lines[i],
			    "more than %zu maintenance windows", max);
			rc = -1;
			break;
		}
		if (load_window(&v[*n], cfg->sections[i], name, cfg->section_lines[i], cfg,
		    errs) != 0)
			rc = -1;
		(*n)++;
	}
	return rc;
}

bool
maint_window_covers_cluster(const struct maint_window *w, const char *cluster)
{
	size_t i;

	if (w->nclusters == 0)
		return true;
	for (i = 0; i < w->nclusters; i++)
		if (cluster != NULL && strcmp(w->clusters[i], cluster) == 0)
			return true;
	return false;
}

bool
maint_window_occurrence(const struct maint_window *w, int64_t now, int64_t *start,
    int64_t *end)
{
	int64_t s = w->start_ms;

	if (w->duration_ms <= 0)
		return false;
	if (now >= s && w->every_ms > 0) {
		s += (now - w->start_ms) / w->every_ms * w->every_ms;
		if (now >= s + w->duration_ms)
			s += w->every_ms; /* between two: the next one */
	}
	if (now >= s + w->duration_ms)
		return false;
	*start = s;
	*end = s + w->duration_ms;
	return true;
}

bool
maint_window_as_row(const struct maint_window *w, int64_t now, struct ilog_maint_occurrence *o)
{
	int64_t start, end, lead = MAINT_WINDOW_LEAD_MS;
	size_t i, used = 0;

	if (!w->public || !maint_window_occurrence(w, now, &start, &end))
		return false;
	memset(o, 0, sizeof(*o));
	snprintf(o->source, sizeof(o->source), "%s%s", MAINT_WINDOW_SOURCE_PREFIX, w->name);
	for (i = 0; i < w->nclusters; i++) /* fits: see the assertions in the header */
		used += (size_t)snprintf(o->cluster + used, sizeof(o->cluster) - used, "%s%s",
		    i > 0 ? " " : "", w->clusters[i]);
	snprintf(o->title, sizeof(o->title), "%s", w->title);
	o->starts_at = start;
	o->ends_at = end;
	if (w->every_ms > 0 && w->every_ms < lead)
		lead = w->every_ms;
	o->record = start - now <= lead;
	return true;
}
