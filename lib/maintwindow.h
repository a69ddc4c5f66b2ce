/*
 * maintwindow — the configuration's maintenance windows, [maintenance NAME]: times
 * when a cluster's pages are held (mcalert) and which the status page shows as
 * scheduled maintenance (mcstatus). Both read the sections with this module, so they
 * agree on what a window is and when it runs.
 *
 *     [maintenance nightly]
 *     start = 2026-01-01 02:00    ; UTC; the first occurrence
 *     duration = 30m              ; or end = 2026-01-01 02:30
 *     every = 1d                  ; optional: it recurs with this period
 *     clusters = c1 c2            ; optional: default every cluster
 *     title = Nightly upgrade     ; optional public title (default "Scheduled maintenance")
 *     public = yes                ; no: holds pages, never shown on the status page
 *
 * The section's NAME is internal (it names the window in the pager's messages and
 * `mctl show`); the page shows only the title. Pure: no I/O beyond the parsed
 * configuration, times passed in.
 */
#ifndef MCOPS_MAINTWINDOW_H
#define MCOPS_MAINTWINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ilog.h"
#include "ilog_maintenance.h"

#define MAINT_WINDOW_SECTION "maintenance"
#define MAINT_WINDOWS_MAX 32
#define MAINT_WINDOW_NAME_MAX 64
#define MAINT_WINDOW_CLUSTERS_MAX 16
#define MAINT_WINDOW_TITLE_MAX 200
#define MAINT_WINDOW_TITLE_DEFAULT "Scheduled maintenance"
/* A public window's occurrence becomes a row of the log (created_by this prefix and
 * the window's name) at most this long before it starts, or its period before if the
 * period is shorter: announced a week ahead, a daily window the day before. */
#define MAINT_WINDOW_SOURCE_PREFIX "config:"
#define MAINT_WINDOW_LEAD_MS (7LL * 24 * 3600 * 1000)

_Static_assert(MAINT_WINDOW_CLUSTERS_MAX <= ILOG_MAINT_CLUSTERS_MAX,
    "a window's clusters fit a row's");
_Static_assert(MAINT_WINDOW_TITLE_MAX <= ILOG_MAINT_TITLE_MAX, "a window's title fits a row's");
_Static_assert(sizeof(MAINT_WINDOW_SOURCE_PREFIX) - 1 + MAINT_WINDOW_NAME_MAX <= ILOG_ACTOR_MAX,
    "a window's source fits a row's created_by");

struct maint_window {
	char name[MAINT_WINDOW_NAME_MAX + 1];
	int64_t start_ms;
	int64_t duration_ms;
	int64_t every_ms;  /* 0: once; else it recurs with this period */
	char clusters[MAINT_WINDOW_CLUSTERS_MAX][ILOG_NAME_MAX + 1];
	size_t nclusters;  /* 0: every cluster */
	char title[MAINT_WINDOW_TITLE_MAX + 1]; /* public */
	bool public;       /* shown on the status page (default) */
};

/*
 * Every [maintenance NAME] of cfg into v[0..*n) (at most max), marking their keys
 * used. Problems go to errs as "file:line: message", all of them; returns 0, or -1 if
 * any (the windows read without problems are kept).
 */
int maint_windows_load(struct maint_window *v, size_t max, size_t *n, struct config *cfg,
    struct config_errors *errs);

/* Whether w applies to cluster (NULL or "": only a window of every cluster). */
bool maint_window_covers_cluster(const struct maint_window *w, const char *cluster);

/*
 * The occurrence of w in progress at now, else the next one: [*start, *end). false if
 * there is none (a one-off window that is over).
 */
bool maint_window_occurrence(const struct maint_window *w, int64_t now, int64_t *start,
    int64_t *end);

/*
 * The occurrence of a public window that its row in the log stands for (the one in
 * progress at now, else the next) into *o: source "config:NAME", the clusters
 * separated by one space, the title, the times, and o->record set when it starts
 * within the lead time (see MAINT_WINDOW_LEAD_MS; one in progress is within it).
 * false for a window that is not public or has no occurrence left.
 */
bool maint_window_as_row(const struct maint_window *w, int64_t now,
    struct ilog_maint_occurrence *o);

#endif
