/*
 * ilog_maintenance — scheduled maintenances and silences in the incident log.
 *
 * Two kinds share one table and one lifecycle:
 *   PUBLIC   a scheduled maintenance of a cluster: published (the status page, the
 *            Statuspage JSON, the sinks) and it holds the cluster's pages while it runs.
 *   SILENCE  holds the cluster's pages only; never published (chat's `silence C 30m`).
 *
 * The state is a pure function of the row and now (ilog_maint_state_at()): cancelled,
 * completed (explicitly, or its end has passed), in progress (started explicitly, or
 * its start has passed), else scheduled. Explicit transitions (start early, complete
 * early, cancel) are stored as times; nothing has to run at the window's edges for the
 * state to be right.
 *
 * Events (incident_id NULL), written in the same transaction as the change:
 *   maintenance_scheduled | maintenance_started | maintenance_completed |
 *   maintenance_cancelled (PUBLIC), silence_set | silence_cancelled (SILENCE), body
 *   {"maintenance": id, "kind": "public"|"silence", "cluster", "starts_at",
 *    "ends_at", "title", "message"?}   (times in UTC ms).
 * A start or completion that happens by time has no command to write its event:
 * ilog_maint_advance() writes it, once, whoever calls it (mcstatus on its tick). Each
 * row remembers the last state announced (`announced`), updated in the same
 * transaction as the event, so two callers or a restart never write it twice and a
 * window that started and ended while nobody was watching gets both, in order.
 * Explicit start/complete announce themselves the same way.
 *
 * The configuration's public windows (lib/maintwindow.h) become rows too, so that they
 * are announced and held exactly as scheduled ones: ilog_maint_sync() records each
 * occurrence once (its source, "config:NAME", is its created_by) and cancels or
 * completes the rows of occurrences the configuration no longer has. Such a row's
 * cluster may name several clusters, separated by one space.
 */
#ifndef MCOPS_ILOG_MAINTENANCE_H
#define MCOPS_ILOG_MAINTENANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define ILOG_MAINT_TITLE_MAX 200      /* bytes; required for PUBLIC, one line */
#define ILOG_MAINT_MESSAGE_MAX 2000   /* bytes; optional public text, lines allowed */
/* A window is at most this long (a silence or maintenance forgotten for weeks would
 * hide every page of its cluster). */
#define ILOG_MAINT_LENGTH_MAX (14LL * 24 * 3600 * 1000)
/* ...and starts at most this far ahead. */
#define ILOG_MAINT_AHEAD_MAX (366LL * 24 * 3600 * 1000)
/* ilog_maint_list(all = false) keeps the ones that ended less than this ago. */
#define ILOG_MAINT_RECENT_MS (7LL * 24 * 3600 * 1000)
#define ILOG_MAINT_LIST_MAX 200       /* rows one list returns at most */
/* Clusters one row names at most (a configured window's; scheduled ones name one). */
#define ILOG_MAINT_CLUSTERS_MAX 16
#define ILOG_MAINT_CLUSTER_MAX (ILOG_MAINT_CLUSTERS_MAX * (ILOG_NAME_MAX + 1) - 1)

#define ILOG_EV_MAINT_SCHEDULED "maintenance_scheduled"
#define ILOG_EV_MAINT_STARTED "maintenance_started"
#define ILOG_EV_MAINT_COMPLETED "maintenance_completed"
#define ILOG_EV_MAINT_CANCELLED "maintenance_cancelled"
#define ILOG_EV_SILENCE_SET "silence_set"
#define ILOG_EV_SILENCE_CANCELLED "silence_cancelled"

enum ilog_maint_kind { ILOG_MAINT_PUBLIC = 0, ILOG_MAINT_SILENCE = 1 };

/* Ordered: a window only moves forward. */
enum ilog_maint_state {
	ILOG_MAINT_SCHEDULED = 0,
	ILOG_MAINT_IN_PROGRESS = 1,
	ILOG_MAINT_COMPLETED = 2,
	ILOG_MAINT_CANCELLED = 3,
};

struct ilog_maintenance {
	int64_t id;
	enum ilog_maint_kind kind;
	char cluster[ILOG_MAINT_CLUSTER_MAX + 1];   /* "" = every cluster; else names,
						       one space between (see above) */
	char title[ILOG_MAINT_TITLE_MAX + 1];       /* public (PUBLIC) */
	char message[ILOG_MAINT_MESSAGE_MAX + 1];   /* public (PUBLIC), may be "" */
	int64_t starts_at, ends_at;                 /* UTC ms, as scheduled */
	int64_t started_at, completed_at, cancelled_at; /* explicit; 0 = not */
	int64_t created_at;
	char created_by[ILOG_ACTOR_MAX + 1];
	enum ilog_maint_state announced;            /* last state whose event is written */
};

/* "scheduled", "in_progress", "completed", "cancelled" (Statuspage's words). */
const char *ilog_maint_state_name(enum ilog_maint_state s);
/* "public", "silence". */
const char *ilog_maint_kind_name(enum ilog_maint_kind k);

/* The state at now (see above). Pure. */
enum ilog_maint_state ilog_maint_state_at(const struct ilog_maintenance *m, int64_t now);

/*
 * When the window starts and ends in effect: started_at if it was started early, the
 * schedule otherwise; completed_at or cancelled_at if earlier than ends_at. Pure.
 */
int64_t ilog_maint_effective_start(const struct ilog_maintenance *m);
int64_t ilog_maint_effective_end(const struct ilog_maintenance *m);

/*
 * Schedules a window on cluster ("" or NULL: every cluster; else a name of at most
 * ILOG_NAME_MAX bytes, one word) from starts_at to ends_at (UTC ms): ends after it
 * starts and after now, at most ILOG_MAINT_LENGTH_MAX long, starting at most
 * ILOG_MAINT_AHEAD_MAX ahead. title: required for PUBLIC (one line, at most
 * ILOG_MAINT_TITLE_MAX), optional for SILENCE (its reason). message optional. Writes
 * maintenance_scheduled or silence_set. *id_out (may be NULL) gets the id.
 * ILOG_ERR_ARG with a sentence in err on bad input, which changes nothing.
 */
enum ilog_status ilog_maint_schedule(struct ilog *log, enum ilog_maint_kind kind,
    const char *cluster, int64_t starts_at, int64_t ends_at, const char *title,
    const char *message, const char *actor, int64_t *id_out, char *err, size_t errlen);

/*
 * Explicit transitions, at the log's now, each with its event:
 *   start     a scheduled PUBLIC window starts now (ILOG_ERR_STATE otherwise; a silence
 *             is in effect from its start, it cannot be started).
 *   complete  an in-progress PUBLIC window ends now (ILOG_ERR_STATE otherwise).
 *   cancel    a scheduled PUBLIC window, or a silence not yet over (ILOG_ERR_STATE
 *             otherwise: an in-progress maintenance is completed, not cancelled).
 * ILOG_ERR_NOT_FOUND for an unknown id. A refused call changes nothing.
 */
enum ilog_status ilog_maint_start(struct ilog *log, int64_t id, const char *actor, char *err,
    size_t errlen);
enum ilog_status ilog_maint_complete(struct ilog *log, int64_t id, const char *actor,
    char *err, size_t errlen);
enum ilog_status ilog_maint_cancel(struct ilog *log, int64_t id, const char *actor,
    char *err, size_t errlen);

/* One window by id into *out (ILOG_ERR_NOT_FOUND). */
enum ilog_status ilog_maint_get(struct ilog *log, int64_t id, struct ilog_maintenance *out,
    char *err, size_t errlen);

/*
 * Windows into out[0..max) (max at most ILOG_MAINT_LIST_MAX), *n their number.
 * all = false: those not over at now, plus those that ended (by time, completion or
 * cancellation) less than ILOG_MAINT_RECENT_MS ago, ordered by start. all = true:
 * every one, newest first. Both kinds: callers that publish skip SILENCE.
 */
enum ilog_status ilog_maint_list(struct ilog *log, int64_t now, bool all,
    struct ilog_maintenance *out, size_t max, size_t *n, char *err, size_t errlen);

/*
 * Writes the started/completed events of PUBLIC windows whose state at the log's now
 * has moved past what was announced (by time, with nobody's command), as actor; each
 * at most once ever (see above). *written (may be NULL) gets how many events.
 */
enum ilog_status ilog_maint_advance(struct ilog *log, const char *actor, size_t *written,
    char *err, size_t errlen);

/*
 * One occurrence of a configured window as ilog_maint_sync() wants it
 * (maint_window_as_row() in lib/maintwindow.h fills it). Two occurrences are the same
 * one if their source and start are the same.
 */
struct ilog_maint_occurrence {
	char source[ILOG_ACTOR_MAX + 1];          /* the row's created_by: "config:NAME" */
	char cluster[ILOG_MAINT_CLUSTER_MAX + 1]; /* as a row's */
	char title[ILOG_MAINT_TITLE_MAX + 1];
	int64_t starts_at, ends_at;
	bool record;  /* within its lead time: record it now if it has no row */
};

struct ilog_maint_sync_result {
	size_t recorded;   /* rows written (each with maintenance_scheduled) */
	size_t cancelled;  /* scheduled rows the configuration no longer has */
	size_t completed;  /* rows in progress whose occurrence the configuration dropped */
	size_t refused;    /* occurrences a row cannot hold (why: the first one's reason) */
	char why[ILOG_ERR_LEN];
};

/*
 * Makes the log's rows of the configured windows (created_by starting with prefix)
 * agree with v[0..n), the windows' current or next occurrences, at the log's now, in
 * one write transaction (so two callers or a restart never record one twice):
 *   - an occurrence with record set is recorded as a PUBLIC row (created_by its
 *     source, no message) with its maintenance_scheduled event, unless a row of it
 *     exists: one not cancelled with its source and start, or a cancelled one with
 *     the same times, clusters and title (a cancelled occurrence is not recorded
 *     again: `mctl maintenance cancel` of one sticks, and two processes reading two
 *     configurations settle instead of flapping);
 *   - a scheduled row of prefix that no occurrence of v matches exactly (times,
 *     clusters, title) is cancelled (maintenance_cancelled): the window was removed,
 *     made private or edited before it started; an edited one is recorded anew;
 *   - a row in progress whose source and start no occurrence of v has is completed
 *     now (maintenance_completed, after its start's if that was owed): the window
 *     was removed or made private while it ran, so its pages are no longer held.
 * An occurrence a row cannot hold (longer than ILOG_MAINT_LENGTH_MAX, a cluster name
 * outside the alphabet, a bad title or source) is counted in out->refused and left
 * alone. Nothing is written when nothing has to change (a read finds out first).
 * actor writes the events. out may be NULL.
 */
enum ilog_status ilog_maint_sync(struct ilog *log, const char *prefix,
    const struct ilog_maint_occurrence *v, size_t n, const char *actor,
    struct ilog_maint_sync_result *out, char *err, size_t errlen);

/* Whether the names of a row's cluster (see above) include cluster. Pure. */
bool ilog_maint_lists_cluster(const char *list, const char *cluster);

/*
 * The window of list[0..n) (either kind) in progress at now that covers cluster (its
 * own or every cluster), the one ending last if several; NULL if none. Pure.
 */
const struct ilog_maintenance *ilog_maint_covering(const struct ilog_maintenance *list,
    size_t n, const char *cluster, int64_t now);
/* Whether one covers cluster at now; *until (may be NULL) gets its effective end. */
bool ilog_maint_covers(const struct ilog_maintenance *list, size_t n, const char *cluster,
    int64_t now, int64_t *until);

#endif
