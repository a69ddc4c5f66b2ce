/*
 * ilog — the incident log: one SQLite database that every mcops daemon appends to
 * and tails with its own cursor. No daemon calls another; they meet here.
 *
 * What it holds (times are UTC milliseconds since the Unix epoch everywhere):
 *   incidents      one row per incident; state open -> acknowledged -> resolved, and
 *                  resolved -> open again by a reopen. At most one unresolved incident
 *                  per fingerprint, ever (a partial unique index enforces it), so a
 *                  condition that persists updates its incident instead of opening more.
 *   events         append-only, ids strictly increasing and never reused (even after a
 *                  prune). Every state change below writes its event in the same
 *                  transaction as the change, so the two can never disagree.
 *   public_updates the customer-facing narrative of an incident (status + message),
 *                  kept apart from internal notes; each also appears as an event.
 *   cursors        how far each tailing consumer has processed the events.
 *   pages          the pager's state: who was paged at which step, delivery, display,
 *                  failure, acknowledgement, the next escalation deadline. Its calls
 *                  are in lib/ilog_pages.h, for mcalert (and `mctl show`).
 *   outbox         pushes to remote sinks waiting to be made, with retry state. Its
 *                  calls are in lib/ilog_outbox.h, for mcstatus (and `mctl statuspage`).
 *   heartbeats     one row per daemon, renewed every few seconds: who is alive. Its
 *                  calls are in lib/ilog_heartbeat.h.
 * This header holds what every daemon shares: opening the log, incidents, events,
 * cursors, public updates, retention and export.
 *
 * Concurrency: any number of processes may open the same file. WAL mode, a busy
 * timeout, and every write is one short BEGIN IMMEDIATE transaction that is retried
 * whole while the database is busy (up to ILOG_BUSY_RETRY_MS), so "database is
 * locked" never reaches a caller in normal operation. Writes are serialised by SQLite,
 * so event ids are assigned in commit order: a consumer that reads "events after id
 * X" never skips one that commits later. A process killed at any point leaves a
 * database that opens cleanly with every committed transaction in it.
 *
 * Durability: synchronous=NORMAL by default (survives any process crash; a power loss
 * may drop the last transactions but never corrupts). opts.sync_full makes every
 * commit wait for the disk.
 *
 * Threads: a struct ilog is one connection; use it from one thread at a time. Open one
 * per thread or process. Several connections to one file in one process each see the
 * commits of every other connection and process (ilog never opens the database file
 * outside SQLite: closing such a descriptor would drop the locks of the process's
 * connections, and with them the -wal file they read).
 *
 * Errors: functions return enum ilog_status (ILOG_OK = 0, every failure < 0) and, on
 * failure, put a one-line English message in the caller's err[errlen] (err may be
 * NULL). Messages name the subject: "incident 7 is resolved; reopen it first",
 * "no incident 42", "event type 'Bad Type' is invalid". A failed call changes nothing
 * in the database (except ilog_prune, which works in batches: see there). Output
 * structs are only valid when ILOG_OK is returned.
 *
 * Schema: versioned with PRAGMA user_version and forward migrations applied by
 * ilog_open() in one transaction. A database newer than ILOG_SCHEMA_VERSION is refused
 * ("schema version N is newer than this mcops supports (M)"), never modified.
 */
#ifndef MCOPS_ILOG_H
#define MCOPS_ILOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ILOG_SCHEMA_VERSION 7

#define ILOG_ERR_LEN 256          /* a good size for callers' err buffers */
#define ILOG_FINGERPRINT_MAX 200  /* bytes, without the NUL */
#define ILOG_KIND_MAX 32          /* [a-z0-9_-]+: also names docs/runbooks/<kind>.md */
#define ILOG_NAME_MAX 64          /* cluster and node names */
#define ILOG_TITLE_MAX 200
#define ILOG_ACTOR_MAX 95         /* "mcmon", "mcalert", "mctl:<user>", "xmpp:<jid>" */
#define ILOG_TYPE_MAX 32          /* event types: [a-z][a-z0-9_]* */
#define ILOG_MESSAGE_MAX 4096     /* notes, public update messages, resolve messages */
#define ILOG_BODY_MAX 65536       /* an event body or outbox payload, JSON text bytes */
#define ILOG_CONSUMER_MAX 64      /* cursor names */
#define ILOG_LIST_MAX 1000        /* incidents returned by one list call */
#define ILOG_TAIL_MAX 1000        /* events returned by one tail call */
#define ILOG_TIMELINE_MAX 10000   /* events of one incident returned by a timeline */
#define ILOG_BUSY_TIMEOUT_MS 5000 /* default SQLite busy timeout */
#define ILOG_BUSY_RETRY_MS 60000  /* give up retrying a busy transaction after this */

enum ilog_status {
	ILOG_OK = 0,
	ILOG_ERR_DB = -1,        /* the database failed (unreadable, full, corrupt, busy
	                            for ILOG_BUSY_RETRY_MS, out of memory) */
	ILOG_ERR_NOT_FOUND = -2, /* no such incident / page / outbox item */
	ILOG_ERR_STATE = -3,     /* not allowed in the current state (an invalid
	                            transition, a reopen that would clash) */
	ILOG_ERR_ARG = -4,       /* an argument is invalid (too long, bad word, not JSON) */
	ILOG_ERR_FULL = -5,      /* a named maximum was reached (ILOG_OUTBOX_MAX,
	                            lib/ilog_outbox.h) */
};

enum ilog_state {
	ILOG_STATE_OPEN = 0,
	ILOG_STATE_ACKNOWLEDGED = 1,
	ILOG_STATE_RESOLVED = 2,
};
/* Bits for struct ilog_query.states. */
#define ILOG_STATES_UNRESOLVED ((1u << ILOG_STATE_OPEN) | (1u << ILOG_STATE_ACKNOWLEDGED))
#define ILOG_STATES_ALL (ILOG_STATES_UNRESOLVED | (1u << ILOG_STATE_RESOLVED))

/* Ordered: a higher value is more severe. Maps one to one onto Statuspage impact. */
enum ilog_severity {
	ILOG_SEVERITY_MINOR = 1,
	ILOG_SEVERITY_MAJOR = 2,
	ILOG_SEVERITY_CRITICAL = 3,
};

/* The public status of an incident (Statuspage's incident status words). */
enum ilog_public_status {
	ILOG_PUBLIC_NONE = 0, /* no public update yet */
	ILOG_PUBLIC_INVESTIGATING = 1,
	ILOG_PUBLIC_IDENTIFIED = 2,
	ILOG_PUBLIC_MONITORING = 3,
	ILOG_PUBLIC_RESOLVED = 4,
};

/*
 * Event types written by this header's calls, with their bodies (JSON objects). The
 * page calls write theirs (paged, delivered, ...: lib/ilog_pages.h). Other types
 * (evidence, escalated, flush, rebalance, drain, ...) are appended by their owners
 * with ilog_event_append() and any JSON object body.
 *   opened        {"fingerprint"?, "kind", "cluster"?, "node"?, "severity", "title",
 *                  "evidence"?: <the caller's body>}
 *   severity      {"from": "minor", "to": "major", "evidence"?: ...}   (a raise)
 *   acked         {"message"?}
 *   resolved      {"message"?}
 *   reopened      {"message"?}
 *   note          {"message"}
 *   public_update {"status": "identified", "message", "public_update_id"}
 */
#define ILOG_EV_OPENED "opened"
#define ILOG_EV_SEVERITY "severity"
#define ILOG_EV_EVIDENCE "evidence"
#define ILOG_EV_ACKED "acked"
#define ILOG_EV_RESOLVED "resolved"
#define ILOG_EV_REOPENED "reopened"
#define ILOG_EV_NOTE "note"
#define ILOG_EV_PUBLIC_UPDATE "public_update"
#define ILOG_EV_ESCALATED "escalated"
#define ILOG_EV_FLUSH "flush"
#define ILOG_EV_REBALANCE "rebalance"
#define ILOG_EV_DRAIN "drain"
#define ILOG_EV_CONNLIMIT "connlimit"

struct ilog; /* opaque: one connection, its prepared statements, its clock */

/*
 * The clock and the randomness, injectable for tests. now_ms returns UTC ms;
 * random returns uniformly distributed 64-bit values (used for outbox jitter only).
 * Either may be NULL for the default (CLOCK_REALTIME; a generator seeded from
 * getrandom()). arg is passed to both and borrowed for the life of the log.
 */
struct ilog_clock {
	int64_t (*now_ms)(void *arg);
	uint64_t (*random)(void *arg);
	void *arg;
};

struct ilog_options {
	int busy_timeout_ms; /* 0: ILOG_BUSY_TIMEOUT_MS */
	int busy_retry_ms;   /* how long one call retries a busy transaction; 0:
	                        ILOG_BUSY_RETRY_MS. A daemon whose event loop must not
	                        stall sets it short and retries the work later itself.
	                        Opening (migrations) always waits ILOG_BUSY_RETRY_MS. */
	bool readonly;       /* no writes, no creation, no migration: an older schema is
	                        an error ("run any write command to migrate") */
	bool sync_full;      /* synchronous=FULL instead of NORMAL */
};

/*
 * Opens (creating it, mode 0600, if missing and not readonly) the database at path,
 * switches it to WAL, and migrates it to ILOG_SCHEMA_VERSION. The parent directory
 * must exist. opts may be NULL. Returns the log, or NULL with err set: unreadable
 * file, "is not an mcops incident log", a newer schema, a failed migration (which
 * leaves the file as it was).
 */
struct ilog *ilog_open(const char *path, const struct ilog_options *opts, char *err,
    size_t errlen);
/* Finalises the statements and closes the connection. NULL is a no-op. */
void ilog_close(struct ilog *log);

/* Replaces the clock (copied). Tests call it right after ilog_open(). */
void ilog_set_clock(struct ilog *log, const struct ilog_clock *clock);
/* The log's current time (its clock's now_ms). */
int64_t ilog_now(struct ilog *log);

/* Names <-> values. *_name never returns NULL ("?" for an invalid value); *_parse
 * returns 0, or -1 for an unknown word (case-sensitive, the lowercase names). */
const char *ilog_state_name(enum ilog_state s);
int ilog_state_parse(const char *s, enum ilog_state *out);
const char *ilog_severity_name(enum ilog_severity s);
int ilog_severity_parse(const char *s, enum ilog_severity *out);
const char *ilog_public_status_name(enum ilog_public_status s); /* NONE: "none" */
int ilog_public_status_parse(const char *s, enum ilog_public_status *out); /* not "none" */
/* True if s is a valid incident kind (safe as a file name: [a-z0-9_-], 1..MAX). */
bool ilog_kind_valid(const char *s);

/* --- incidents ------------------------------------------------------------------- */

struct ilog_incident {
	int64_t id;
	char fingerprint[ILOG_FINGERPRINT_MAX + 1]; /* "" for none (manual incidents) */
	char kind[ILOG_KIND_MAX + 1];
	char cluster[ILOG_NAME_MAX + 1];            /* "" for none */
	char node[ILOG_NAME_MAX + 1];               /* "" for none */
	enum ilog_severity severity;
	enum ilog_state state;
	char title[ILOG_TITLE_MAX + 1];
	int64_t opened_at;
	int64_t updated_at;                         /* last change of any kind */
	int64_t acked_at;                           /* 0 unless acknowledged */
	char acked_by[ILOG_ACTOR_MAX + 1];
	int64_t resolved_at;                        /* 0 unless resolved */
	char resolved_by[ILOG_ACTOR_MAX + 1];
	enum ilog_public_status public_status;
};

/* What ilog_incident_upsert() is asked to record. Strings are borrowed. */
struct ilog_incident_spec {
	const char *fingerprint; /* NULL: always open a new incident (manual ones) */
	const char *kind;        /* required, ilog_kind_valid() */
	const char *cluster;     /* NULL or "" for none */
	const char *node;        /* NULL or "" for none */
	enum ilog_severity severity;
	const char *title;       /* required, 1..ILOG_TITLE_MAX bytes */
	const char *evidence_json; /* NULL, or a JSON object kept in the event's body */
};

struct ilog_upsert_result {
	int64_t id;                /* the incident */
	bool created;              /* true: opened now ("opened" event) */
	bool raised;               /* true: severity raised now ("severity" event) */
	enum ilog_severity previous; /* severity before this call (== new if created) */
	int64_t event_id;          /* the event written, 0 if none */
};

/*
 * Open-or-update by fingerprint, atomically and idempotently: if an unresolved
 * incident has spec->fingerprint, it is returned (created = false) and, if
 * spec->severity is higher than its severity, the severity is raised with a
 * "severity" event. A lower or equal severity changes nothing and writes nothing, so
 * a condition that persists may call this every interval without growing the log.
 * Title, kind, cluster and node are set at creation and never changed by later calls.
 * Otherwise a new incident is opened in state open with an "opened" event. Racing
 * processes with the same fingerprint end up with one incident between them.
 */
enum ilog_status ilog_incident_upsert(struct ilog *log, const struct ilog_incident_spec *spec,
    const char *actor, struct ilog_upsert_result *res, char *err, size_t errlen);

/*
 * Transitions, each writing its event (body {"message": message} when message is
 * non-NULL and non-empty). Allowed:
 *   ack      open -> acknowledged; also stamps acked_at on the incident's pages that
 *            have none (an acknowledgement stops escalation)
 *   resolve  open | acknowledged -> resolved
 *   reopen   resolved -> open (acked_at/by and resolved_at/by cleared); refused with
 *            ILOG_ERR_STATE if another unresolved incident now has its fingerprint
 * Anything else is ILOG_ERR_STATE with a message such as "incident 7 is resolved;
 * reopen it first", "incident 7 is already acknowledged by mctl:ann". An unknown id is
 * ILOG_ERR_NOT_FOUND ("no incident 7"). *event_id (may be NULL) gets the event's id.
 */
enum ilog_status ilog_incident_ack(struct ilog *log, int64_t id, const char *actor,
    const char *message, int64_t *event_id, char *err, size_t errlen);
enum ilog_status ilog_incident_resolve(struct ilog *log, int64_t id, const char *actor,
    const char *message, int64_t *event_id, char *err, size_t errlen);
enum ilog_status ilog_incident_reopen(struct ilog *log, int64_t id, const char *actor,
    const char *message, int64_t *event_id, char *err, size_t errlen);

/* An internal note (any state, also resolved: postmortem notes). message 1..MAX. */
enum ilog_status ilog_incident_note(struct ilog *log, int64_t id, const char *actor,
    const char *message, int64_t *event_id, char *err, size_t errlen);

/*
 * A public update: sets the incident's public_status, stores (status, message) in
 * public_updates and writes a "public_update" event. Allowed in any state; it does
 * not change the internal state (a public "resolved" is not a resolve). status must
 * not be ILOG_PUBLIC_NONE; message 1..ILOG_MESSAGE_MAX bytes.
 */
enum ilog_status ilog_public_update(struct ilog *log, int64_t id, const char *actor,
    enum ilog_public_status status, const char *message, int64_t *event_id, char *err,
    size_t errlen);

/* One incident by id, or ILOG_ERR_NOT_FOUND. */
enum ilog_status ilog_incident_get(struct ilog *log, int64_t id, struct ilog_incident *out,
    char *err, size_t errlen);
/* The unresolved incident with this fingerprint, or ILOG_ERR_NOT_FOUND. */
enum ilog_status ilog_incident_find(struct ilog *log, const char *fingerprint,
    struct ilog_incident *out, char *err, size_t errlen);

/* A filter for ilog_incident_list(). Zero-initialised = every unresolved incident. */
struct ilog_query {
	unsigned states;     /* bits 1u << enum ilog_state; 0 = ILOG_STATES_UNRESOLVED */
	const char *cluster; /* NULL = any */
	const char *kind;    /* NULL = any */
	int64_t since;       /* only incidents updated at or after this; 0 = any */
	size_t limit;        /* 0 or more than ILOG_LIST_MAX = ILOG_LIST_MAX */
};

/* A list the caller owns: zero-initialise, then free with ilog_incidents_release(). */
struct ilog_incidents {
	struct ilog_incident *v;
	size_t n;
	bool truncated; /* more matched than the limit */
};
/* Matching incidents, newest (highest id) first. Replaces out's previous content. */
enum ilog_status ilog_incident_list(struct ilog *log, const struct ilog_query *q,
    struct ilog_incidents *out, char *err, size_t errlen);
void ilog_incidents_release(struct ilog_incidents *list);

/* --- events ---------------------------------------------------------------------- */

struct ilog_event {
	int64_t id;
	int64_t at;
	int64_t incident_id; /* 0 for none */
	char actor[ILOG_ACTOR_MAX + 1];
	char type[ILOG_TYPE_MAX + 1];
	char *body_json;     /* a JSON object, owned by the list holding the event */
};

/* A list the caller owns: zero-initialise, then free with ilog_events_release(). */
struct ilog_events {
	struct ilog_event *v;
	size_t n;
	bool truncated; /* more events were there than returned */
};
void ilog_events_release(struct ilog_events *list);

/*
 * Appends an event. incident_id 0 = not about an incident (must exist otherwise:
 * ILOG_ERR_NOT_FOUND). type: [a-z][a-z0-9_]*, at most ILOG_TYPE_MAX. body_json: NULL
 * ("{}") or a JSON object of at most ILOG_BODY_MAX bytes (ILOG_ERR_ARG otherwise);
 * stored in compact form. Appending does not change the incident's state; it bumps
 * its updated_at. *event_id (may be NULL) gets the new id.
 */
enum ilog_status ilog_event_append(struct ilog *log, int64_t incident_id, const char *actor,
    const char *type, const char *body_json, int64_t *event_id, char *err, size_t errlen);

/* Every event of an incident in order (at most ILOG_TIMELINE_MAX, the first ones). */
enum ilog_status ilog_timeline(struct ilog *log, int64_t incident_id, struct ilog_events *out,
    char *err, size_t errlen);

/*
 * Tail: events with id > after_id in id order, at most max (0 or more than
 * ILOG_TAIL_MAX = ILOG_TAIL_MAX); truncated says more are waiting. Replaces out's
 * content.
 */
enum ilog_status ilog_tail(struct ilog *log, int64_t after_id, size_t max,
    struct ilog_events *out, char *err, size_t errlen);

/*
 * Events of one type about no incident, newest first, at most max (0 or more than
 * ILOG_TAIL_MAX = ILOG_TAIL_MAX); truncated says older ones were left out. For the
 * few records that belong to no incident (on-call overrides, test pages). Scans the
 * events table: for commands and start-up, not for every poll. Replaces out's content.
 */
enum ilog_status ilog_events_of_type(struct ilog *log, const char *type, size_t max,
    struct ilog_events *out, char *err, size_t errlen);

/* The highest event id (0 for an empty log). Cheap: one index lookup. */
enum ilog_status ilog_last_event_id(struct ilog *log, int64_t *id, char *err, size_t errlen);

/*
 * Cheap "anything new?" (PRAGMA data_version): *changed is true if another
 * connection committed since this connection's previous call (and on the first
 * call). This connection's own writes do not count. Poll it, and tail when true.
 */
enum ilog_status ilog_changed(struct ilog *log, bool *changed, char *err, size_t errlen);

/*
 * Cursors: the last event id a consumer has processed; 0 if it never stored one.
 * A consumer stores its cursor after it has handled a batch, so after a crash it sees
 * the batch again (at least once): handlers must be idempotent. Setting is a plain
 * overwrite (moving back is allowed, to replay).
 */
enum ilog_status ilog_cursor_get(struct ilog *log, const char *consumer, int64_t *event_id,
    char *err, size_t errlen);
enum ilog_status ilog_cursor_set(struct ilog *log, const char *consumer, int64_t event_id,
    char *err, size_t errlen);

/* --- public updates ---------------------------------------------------------------- */

struct ilog_public_entry {
	int64_t id;
	int64_t incident_id;
	int64_t event_id;
	int64_t at;
	enum ilog_public_status status;
	char actor[ILOG_ACTOR_MAX + 1];
	char message[ILOG_MESSAGE_MAX + 1];
};
struct ilog_public_entries {
	struct ilog_public_entry *v;
	size_t n;
};
/* An incident's public updates, oldest first. Replaces out's content. */
enum ilog_status ilog_public_list(struct ilog *log, int64_t incident_id,
    struct ilog_public_entries *out, char *err, size_t errlen);
void ilog_public_entries_release(struct ilog_public_entries *list);

/* --- retention and export ---------------------------------------------------------- */

struct ilog_prune_result {
	size_t incidents;  /* resolved incidents removed, with their events, pages, updates */
	size_t events;     /* events removed in all */
	size_t outbox;     /* finished outbox items removed */
	size_t maintenances; /* maintenances and silences over before `before` */
	size_t subscribers;  /* unsubscribed, dropped or unconfirmed, asked before `before` */
};
/*
 * Removes incidents resolved before `before` with everything attached to them, events
 * about no incident older than `before`, outbox items finished (done or given up)
 * before `before`, maintenances and silences over before `before` (cancelled,
 * completed, or past their end), and subscribers nobody receives at (unsubscribed,
 * dropped, or never confirmed) whose last request was before `before`. Unresolved
 * incidents and confirmed subscribers are never touched. Works in short batches so
 * other writers are not held up; a failure part-way leaves whole batches removed and
 * the rest intact. Event ids are never reused, so cursors stay valid.
 */
enum ilog_status ilog_prune(struct ilog *log, int64_t before, struct ilog_prune_result *res,
    char *err, size_t errlen);

/*
 * Export as JSON lines: one compact JSON object per event with at >= since, in id
 * order, each passed to write(arg, line, len) without a newline:
 *   {"id":12,"at":1700000000123,"time":"2023-11-14T22:13:20.123Z","incident":3,
 *    "actor":"mctl:ann","type":"note","body":{...}}
 * ("incident" is null for events about no incident). write returns 0 to go on;
 * anything else stops the export, which then returns ILOG_ERR_DB with "export stopped
 * by its writer". The export reads one consistent snapshot.
 */
typedef int (*ilog_line_fn)(void *arg, const char *line, size_t len);
enum ilog_status ilog_export(struct ilog *log, int64_t since, ilog_line_fn write, void *arg,
    char *err, size_t errlen);

#endif
