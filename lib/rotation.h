/*
 * rotation — who is on call: rotations from the configuration, their schedule, and
 * the overrides operators record in the incident log (mctl oncall override). Used by
 * the pager (whom to page) and by mctl (who is on call now and next).
 *
 *     [oncall]                          ; the rotation named "oncall"
 *     members = alice@example.com, bob@example.com, carol@example.com
 *     shift = 7d                        ; one member's turn, 1m .. 366d
 *     handoff = 2024-01-01 09:00        ; a hand-off instant, UTC: members[0]'s turn
 *                                       ; starts here; the others follow in order
 *     [oncall db]                       ; another rotation, named "db"
 *
 * The schedule is periodic both ways: member k (0-based, of n) is on call during
 * [handoff + (k + i*n) * shift, + shift) for every integer i, before the hand-off
 * instant too.
 *
 * Overrides are events about no incident (actor: who set them):
 *     oncall_override            {"rotation": "oncall", "jid": "dave@example.com",
 *                                 "from": <ms>, "until": <ms>}
 *     oncall_override_cancelled  {"override": <the override's event id>}
 * Of the overrides of a rotation that cover an instant, the newest (highest event id)
 * wins; outside them the schedule applies.
 *
 * Errors of the configuration are "file:line: message" in a struct config_errors,
 * all of them in one run; everything else returns 0 / -1 with an error text.
 */
#ifndef MCOPS_ROTATION_H
#define MCOPS_ROTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ilog.h"
#include "jid.h"

#define ROTATION_NAME_MAX 64
#define ROTATION_MEMBERS_MAX 64
#define ROTATIONS_MAX 16
#define ROTATION_OVERRIDES_MAX 1000 /* overrides kept: the newest that still matter */
#define ROTATION_SHIFT_MIN_MS 60000LL
#define ROTATION_SHIFT_MAX_MS (366LL * 86400000)
#define ROTATION_DEFAULT "oncall"   /* the rotation of the [oncall] section */

#define ROTATION_EV_OVERRIDE "oncall_override"
#define ROTATION_EV_CANCEL "oncall_override_cancelled"

struct rotation {
	char name[ROTATION_NAME_MAX + 1];
	char members[ROTATION_MEMBERS_MAX][JID_MAX + 1];
	size_t nmembers;                  /* >= 1 */
	int64_t shift_ms;
	int64_t handoff_ms;
	int line;                         /* of the section header */
};

/* Caller-owned; zero it before the first load. */
struct rotations {
	struct rotation *v;
	size_t n;
};

struct rotation_override {
	int64_t id;                       /* the event's id */
	char rotation[ROTATION_NAME_MAX + 1];
	char jid[JID_MAX + 1];
	int64_t from, until;              /* [from, until) */
	int64_t created_at;
	char actor[ILOG_ACTOR_MAX + 1];
};

/* Newest first. Caller-owned; zero it, free with rotation_overrides_release(). */
struct rotation_overrides {
	struct rotation_override *v;
	size_t n, cap;
};

/* Who is on call over [start, end): a scheduled turn or an override. */
struct oncall {
	char jid[JID_MAX + 1];
	int64_t start, end;               /* end: when the answer changes next */
	int64_t override_id;              /* 0: the schedule */
	size_t member;                    /* the scheduled member's index */
};

/*
 * Reads [oncall] and every [oncall NAME] (released first), marking their keys used.
 * Returns 0, or -1 with messages in errs and r empty. Errors: a missing or invalid
 * members list (not bare JIDs, more than ROTATION_MEMBERS_MAX), shift out of range,
 * a missing or malformed handoff, a bad name, more than ROTATIONS_MAX rotations.
 */
int rotations_load(struct rotations *r, struct config *cfg, struct config_errors *errs);
void rotations_release(struct rotations *r);
/* True for "oncall" and "oncall NAME". */
bool rotations_owns(const char *section);
/* By name, or NULL. */
const struct rotation *rotations_find(const struct rotations *r, const char *name);
/* True if s may name a rotation: 1..ROTATION_NAME_MAX of [A-Za-z0-9_.-]. */
bool rotation_name_valid(const char *s);

/* The scheduled turn at t, overrides aside. */
void rotation_scheduled(const struct rotation *r, int64_t t, struct oncall *out);
/*
 * Who is on call at t with the overrides (any rotation's; only r's count) applied.
 * out->start is when this answer began (as far as the schedule and the overrides
 * tell) and out->end when it changes next: the turn's end, the override's end, or
 * the start of a newer override, whichever comes first.
 */
void rotation_oncall(const struct rotation *r, const struct rotation_overrides *ov,
    int64_t t, struct oncall *out);

/*
 * Applies one event to the list: an override is added (unless it already ended
 * before `after`, or is already there), a cancellation removes its override. Other
 * event types are ignored. Returns 1 if the event was an override or a
 * cancellation, 0 if it was another type, -1 (err set) if it was malformed or the
 * list is full (ROTATION_OVERRIDES_MAX). For a daemon that tails the log.
 */
int rotation_overrides_apply(struct rotation_overrides *ov, const struct ilog_event *ev,
    int64_t after, char *err, size_t errlen);
/*
 * Reads every override from the log that ends after `after` and is not cancelled
 * (replaces ov's content). 0, or -1 with err set.
 */
int rotation_overrides_read(struct ilog *log, int64_t after, struct rotation_overrides *ov,
    char *err, size_t errlen);
void rotation_overrides_release(struct rotation_overrides *ov);

/*
 * Records an override ([from, until), until > from, jid a bare JID, rotation a valid
 * name) as an event by actor; *id (may be NULL) gets its event id. The caller checks
 * that the rotation exists. 0, or -1 with err set.
 */
int rotation_override_record(struct ilog *log, const char *rotation, const char *jid,
    int64_t from, int64_t until, const char *actor, int64_t *id, char *err, size_t errlen);
/* Records the cancellation of override id (which must be one). 0, or -1. */
int rotation_override_cancel(struct ilog *log, int64_t id, const char *actor, char *err,
    size_t errlen);

#endif
