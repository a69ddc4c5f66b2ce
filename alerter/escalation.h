/*
 * escalation — the pager's policy and its decision core: given what the incident log
 * says about one incident (a struct esc_view) and the time, whom to page now, or
 * until when to wait. Pure: no I/O, no clock of its own, so every transition is
 * tested with a fake clock; alerter.c reads the log into views and carries out the
 * decisions.
 *
 * The policy ([escalation] and [maintenance NAME] in the configuration):
 *     step1 = oncall                 ; the on-call of the [oncall] rotation
 *     wait1 = 5m                     ; how long step 1 waits for an acknowledgement
 *     step2 = oncall:db              ; the on-call of [oncall db]
 *     step3 = bob@example.com        ; a person
 *     wait = 10m                     ; the wait of steps without their own
 *     repeat = 2                     ; then run the steps 2 more times
 *     final = room:ops@conference.example.com   ; then the team room, once
 *     min_severity = minor           ; incidents below it are recorded, never paged
 * and ack_timeout (from [alerter]): an acknowledged incident still unresolved this
 * long after its (latest) acknowledgement is paged again from step 1.
 *
 * Positions: an escalation walks positions 0, 1, 2, ...: position p is step
 * (p mod nsteps) + 1 of round p / nsteps + 1, for nsteps * (repeat + 1) positions,
 * then the final target (if any) is the last position. The page's "step" in the log is
 * its position + 1, so steps in `mctl show` count 1, 2, 3, ... through the rounds.
 *
 * The rules (esc_decide):
 *  - A resolved incident, one below min_severity, or one of an advisory kind
 *    (lib/kinds.h: connection_churn) needs nothing.
 *  - An incident whose latest trigger (opened, reopened) came after its latest page
 *    starts again at position 0.
 *  - A severity rise after the latest page pages that page's position again (reason
 *    SEVERITY: whoever has the incident now hears it got worse) and keeps its deadline,
 *    so a worsening incident escalates as soon as a steady one would; restarting at
 *    position 0 on every rise would hold the next step back by up to a wait per rise.
 *    A rise before any page pages position 0; after a failed or held page it changes
 *    nothing below (the failed page's next position is paged at once, the held one
 *    when its window ends, each with the new severity).
 *  - A page that failed (a bounce, an offline target) moves to the next position at
 *    once; otherwise the next position is paged when the last page's wait is over.
 *    After the last position nothing more is paged: the escalation is exhausted.
 *  - An acknowledgement after the latest page pauses the escalation: with an ack
 *    timeout, position 0 is paged again (reason ACK_TIMEOUT) that long after the
 *    acknowledgement, and the escalation continues from there until acknowledged
 *    again; without one, nothing more is paged.
 *  - During a maintenance window, or a maintenance or silence of the log, that covers
 *    the incident's cluster a page is still decided and recorded, but marked
 *    suppressed (not sent), with the window's end as its deadline; when the window is
 *    over (or ended early) the same position is paged for real.
 */
#ifndef MCOPS_ESCALATION_H
#define MCOPS_ESCALATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ilog.h"
#include "ilog_pages.h"
#include "ilog_maintenance.h"
#include "jid.h"
#include "maintwindow.h"
#include "rotation.h"

#define ESC_STEPS_MAX 16
#define ESC_REPEAT_MAX 100
#define ESC_WINDOWS_MAX MAINT_WINDOWS_MAX
#define ESC_WAIT_DEFAULT_MS (5 * 60 * 1000)
#define ESC_WAIT_MAX_MS (7LL * 86400000)
#define ESC_ROOM_PREFIX "room:"
#define ESC_ONCALL_PREFIX "oncall:"
#define ESC_TARGET_TEXT_MAX (JID_MAX + 8) /* "room:" + JID, "oncall:" + name */

enum esc_target_kind {
	ESC_TARGET_JID,    /* name: a bare JID */
	ESC_TARGET_ONCALL, /* name: a rotation */
	ESC_TARGET_ROOM,   /* name: the room's bare JID */
};

struct esc_target {
	enum esc_target_kind kind;
	char name[JID_MAX + 1];
};

struct esc_step {
	struct esc_target target;
	int64_t wait_ms;
};

struct esc_policy {
	struct esc_step steps[ESC_STEPS_MAX];
	size_t nsteps;                    /* >= 1 */
	unsigned repeat;
	bool has_final;
	struct esc_target final;
	int64_t ack_timeout_ms;           /* 0: an acknowledgement stops paging for good */
	enum ilog_severity min_severity;
	struct maint_window windows[ESC_WINDOWS_MAX]; /* lib/maintwindow.h */
	size_t nwindows;
	/* The incident log's maintenances and silences (lib/ilog_maintenance.h), which
	 * hold pages as the windows do: borrowed, set by the alerter from its copy of the
	 * list before deciding; none in a loaded policy. */
	const struct ilog_maintenance *held;
	size_t nheld;
};

/*
 * "oncall" (the rotation ROTATION_DEFAULT), "oncall:NAME", "room:ROOM@SERVICE", or a
 * person's bare JID. 0, or -1 with err set.
 */
int esc_target_parse(const char *s, struct esc_target *out, char *err, size_t errlen);
/* The text form, as esc_target_parse() reads it. */
void esc_target_format(const struct esc_target *t, char *buf, size_t len);

/*
 * Reads [escalation] and every [maintenance NAME] into p (ack_timeout_ms is left 0:
 * it belongs to [alerter]). Rotation targets must name a rotation of rot. Returns 0,
 * or -1 with "file:line: message" errors in errs (all of them).
 */
int esc_policy_load(struct esc_policy *p, struct config *cfg, const struct rotations *rot,
    struct config_errors *errs);
/* True for "escalation" and "maintenance NAME". */
bool esc_policy_owns(const char *section);

/* The number of positions of an escalation (steps * rounds, plus the final). */
int esc_positions(const struct esc_policy *p);
/*
 * The target at a position; *step (1-based index into the steps, 0 for the final),
 * *round (1-based; 0 for the final) may be NULL. NULL past the last position.
 */
const struct esc_target *esc_position_target(const struct esc_policy *p, int position,
    int *step, int *round);
/* The wait after a page at a position (0 for the final). */
int64_t esc_position_wait(const struct esc_policy *p, int position);

/*
 * Whether a maintenance window or a maintenance or silence of the log (p->held)
 * covers an incident of cluster ("" for none) at now; if so *until is its end (of
 * several, the one ending last) and name[0..namelen) (name may be NULL) names it: the
 * window's name, or "maintenance #3", "silence #4".
 */
bool esc_maintenance(const struct esc_policy *p, const char *cluster, int64_t now,
    int64_t *until, char *name, size_t namelen);

enum esc_trigger {
	ESC_TRIGGER_OPENED,
	ESC_TRIGGER_REOPENED,
	ESC_TRIGGER_SEVERITY,
};

/* What the log says about one incident, as esc_decide() needs it. */
struct esc_view {
	enum ilog_state state;
	enum ilog_severity severity;
	bool advisory;            /* its kind is never paged (lib/kinds.h): recorded only */
	char cluster[ILOG_NAME_MAX + 1];
	int64_t trigger_event;    /* id of the latest opened/reopened/severity event */
	enum esc_trigger trigger;
	int64_t ack_event;        /* id of the latest acknowledgement (acked, ack_renewed)
	                             while acknowledged; 0 otherwise */
	int64_t ack_at;
	bool has_page;
	struct {                  /* the incident's newest page, if has_page */
		int64_t page_id;
		int64_t event;    /* its "paged" event's id */
		int position;
		int64_t sent_at;
		int64_t deadline;
		int64_t failed_at;
		bool suppressed;
		bool kept_clock;  /* a severity re-page of the position before it: its
		                     deadline, not sent_at + wait, is when the next is due */
	} last;
};

enum esc_action {
	ESC_IDLE,  /* nothing to do and nothing pending: deadline 0 */
	ESC_WAIT,  /* nothing to do before deadline: the newest page's deadline */
	ESC_PAGE,  /* page now */
};

enum esc_reason {
	ESC_REASON_OPENED,
	ESC_REASON_REOPENED,
	ESC_REASON_SEVERITY,
	ESC_REASON_TIMEOUT,          /* the previous step's wait ran out */
	ESC_REASON_FAILED,           /* the previous page bounced or its target was offline */
	ESC_REASON_ACK_TIMEOUT,      /* acknowledged, and still unresolved after ack_timeout */
	ESC_REASON_MAINTENANCE_OVER, /* the page was held by a maintenance window */
};

struct esc_decision {
	enum esc_action action;
	int64_t deadline;     /* IDLE: 0; WAIT: when to decide again; PAGE: the new page's
	                         deadline (0 if nothing follows it) */
	/* The rest only for ESC_PAGE. */
	enum esc_reason reason;
	int position;
	int step, round;      /* as esc_position_target() */
	char target[ILOG_TARGET_MAX + 1]; /* resolved: "a@b" or "room:r@c" */
	char via[ESC_TARGET_TEXT_MAX + 1]; /* "oncall:db" if it came from a rotation, else "" */
	bool suppressed;      /* held by a maintenance window: record, do not send */
	char window[MAINT_WINDOW_NAME_MAX + 1];
};

/* The decision for one incident at now (see the rules above). ov may be NULL. */
void esc_decide(const struct esc_policy *p, const struct rotations *rot,
    const struct rotation_overrides *ov, const struct esc_view *v, int64_t now,
    struct esc_decision *out);

/* "opened", "timeout", ... (never NULL). */
const char *esc_reason_name(enum esc_reason r);

#endif
