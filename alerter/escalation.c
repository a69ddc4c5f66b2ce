/*
 * escalation — see escalation.h.
 */
#include <stdio.h>
#include <string.h>

#include "errbuf.h"
#include "escalation.h"
#include "parse.h"
#include "utctime.h"

#define SECTION "escalation"

int
esc_target_parse(const char *s, struct esc_target *out, char *err, size_t errlen)
{
	size_t plen;

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "oncall") == 0) {
		out->kind = ESC_TARGET_ONCALL;
		snprintf(out->name, sizeof(out->name), "%s", ROTATION_DEFAULT);
		return 0;
	}
	plen = strlen(ESC_ONCALL_PREFIX);
	if (strncmp(s, ESC_ONCALL_PREFIX, plen) == 0) {
		if (!rotation_name_valid(s + plen)) {
			errbuf_set(err, errlen, "'%s' does not name a rotation", s);
			return -1;
		}
		out->kind = ESC_TARGET_ONCALL;
		snprintf(out->name, sizeof(out->name), "%s", s + plen);
		return 0;
	}
	plen = strlen(ESC_ROOM_PREFIX);
	if (strncmp(s, ESC_ROOM_PREFIX, plen) == 0) {
		if (!jid_bare_valid(s + plen)) {
			errbuf_set(err, errlen, "'%s' is not a room (room:NAME@SERVICE)", s);
			return -1;
		}
		out->kind = ESC_TARGET_ROOM;
		snprintf(out->name, sizeof(out->name), "%s", s + plen);
		return 0;
	}
	if (!jid_bare_valid(s)) {
		errbuf_set(err, errlen,
		    "'%s' is not a target (a JID, oncall, oncall:NAME or room:NAME@SERVICE)", s);
		return -1;
	}
	out->kind = ESC_TARGET_JID;
	snprintf(out->name, sizeof(out->name), "%s", s);
	return 0;
}

void
esc_target_format(const struct esc_target *t, char *buf, size_t len)
{
	switch (t->kind) {
	case ESC_TARGET_ONCALL:
		snprintf(buf, len, "%s%s", ESC_ONCALL_PREFIX, t->name);
		return;
	case ESC_TARGET_ROOM:
		snprintf(buf, len, "%s%s", ESC_ROOM_PREFIX, t->name);
		return;
	case ESC_TARGET_JID:
		break;
	}
	snprintf(buf, len, "%s", t->name);
}

bool
esc_policy_owns(const char *section)
{
	return strcmp(section, SECTION) == 0 ||
	       config_section_name(section, MAINT_WINDOW_SECTION) != NULL;
}

/* A target from the configuration, checked against the rotations. */
static int
load_target(struct config *cfg, const struct config_entry *e, const struct rotations *rot,
    struct esc_target *out, struct config_errors *errs)
{
	char err[CONFIG_ERR_MAX];

	if (esc_target_parse(e->value, out, err, sizeof(err)) != 0) {
		config_error(errs, cfg, e->line, "%s: %s", e->key, err);
		return -1;
	}
	if (out->kind == ESC_TARGET_ONCALL && rotations_find(rot, out->name) == NULL) {
		if (strcmp(out->name, ROTATION_DEFAULT) == 0)
			config_error(errs, cfg, e->line, "%s: there is no [oncall] section", e->key);
		else
			config_error(errs, cfg, e->line, "%s: there is no [oncall %s] section",
			    e->key, out->name);
		return -1;
	}
	return 0;
}

static int
load_wait(struct config *cfg, const char *key, int64_t def, int64_t *out,
    struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, SECTION, key);

	*out = def;
	if (e == NULL)
		return 0;
	if (parse_duration_ms(e->value, out) != 0 || *out > ESC_WAIT_MAX_MS) {
		config_error(errs, cfg, e->line, "%s: '%s' is not a duration up to 7d", key,
		    e->value);
		*out = def;
		return -1;
	}
	return 0;
}

static int
load_steps(struct esc_policy *p, struct config *cfg, const struct rotations *rot,
    struct config_errors *errs)
{
	struct config_entry *e;
	char key[16];
	int64_t wait_default;
	size_t i, gap = 0;
	int rc = 0;

	if (load_wait(cfg, "wait", ESC_WAIT_DEFAULT_MS, &wait_default, errs) != 0)
		rc = -1;
	p->nsteps = 0;
	for (i = 1; i <= ESC_STEPS_MAX; i++) {
		snprintf(key, sizeof(key), "step%zu", i);
		if ((e = config_find(cfg, SECTION, key)) == NULL) {
			if (gap == 0)
				gap = i;
			snprintf(key, sizeof(key), "wait%zu", i);
			if ((e = config_find(cfg, SECTION, key)) != NULL) {
				config_error(errs, cfg, e->line, "%s without step%zu", key, i);
				rc = -1;
			}
			continue;
		}
		if (gap != 0) {
			config_error(errs, cfg, e->line, "step%zu without step%zu", i, gap);
			rc = -1;
			continue;
		}
		if (load_target(cfg, e, rot, &p->steps[p->nsteps].target, errs) != 0)
			rc = -1;
		snprintf(key, sizeof(key), "wait%zu", i);
		if (load_wait(cfg, key, wait_default, &p->steps[p->nsteps].wait_ms, errs) != 0)
			rc = -1;
		p->nsteps++;
	}
	if (p->nsteps == 0 && gap == 1 && rc == 0) {
		config_error(errs, cfg, 0, "[escalation] needs step1 (whom to page first)");
		rc = -1;
	}
	return rc;
}

int
esc_policy_load(struct esc_policy *p, struct config *cfg, const struct rotations *rot,
    struct config_errors *errs)
{
	struct config_entry *e;
	uint64_t repeat;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	if (load_steps(p, cfg, rot, errs) != 0)
		rc = -1;
	if (config_get_u64(cfg, SECTION, "repeat", 0, ESC_REPEAT_MAX, 0, &repeat, errs) != 0)
		rc = -1;
	p->repeat = (unsigned)repeat;
	if ((e = config_find(cfg, SECTION, "final")) != NULL) {
		if (load_target(cfg, e, rot, &p->final, errs) != 0)
			rc = -1;
		else
			p->has_final = true;
	}
	p->min_severity = ILOG_SEVERITY_MINOR;
	if ((e = config_find(cfg, SECTION, "min_severity")) != NULL &&
	    ilog_severity_parse(e->value, &p->min_severity) != 0) {
		config_error(errs, cfg, e->line,
		    "min_severity: '%s' is not minor, major or critical", e->value);
		rc = -1;
	}
	if (maint_windows_load(p->windows, ESC_WINDOWS_MAX, &p->nwindows, cfg, errs) != 0)
		rc = -1;
	return rc;
}

int
esc_positions(const struct esc_policy *p)
{
	return (int)(p->nsteps * (p->repeat + 1)) + (p->has_final ? 1 : 0);
}

const struct esc_target *
esc_position_target(const struct esc_policy *p, int position, int *step, int *round)
{
	int stepped = (int)(p->nsteps * (p->repeat + 1));

	if (step != NULL)
		*step = 0;
	if (round != NULL)
		*round = 0;
	if (position < 0 || position >= esc_positions(p) || p->nsteps == 0)
		return NULL;
	if (position == stepped)
		return &p->final;
	if (step != NULL)
		*step = position % (int)p->nsteps + 1;
	if (round != NULL)
		*round = position / (int)p->nsteps + 1;
	return &p->steps[position % (int)p->nsteps].target;
}

int64_t
esc_position_wait(const struct esc_policy *p, int position)
{
	if (p->nsteps == 0 || position < 0 || position >= (int)(p->nsteps * (p->repeat + 1)))
		return 0;
	return p->steps[position % (int)p->nsteps].wait_ms;
}

bool
esc_maintenance(const struct esc_policy *p, const char *cluster, int64_t now, int64_t *until,
    char *name, size_t namelen)
{
	const struct ilog_maintenance *held;
	int64_t best = 0, start, end;
	const char *best_name = NULL;
	size_t i;

	for (i = 0; i < p->nwindows; i++) {
		const struct maint_window *w = &p->windows[i];

		if (!maint_window_covers_cluster(w, cluster) ||
		    !maint_window_occurrence(w, now, &start, &end) || now < start)
			continue;
		/* Of overlapping windows the one that lasts longest holds the pages. */
		if (end > best) {
			best = end;
			best_name = w->name;
		}
	}
	held = ilog_maint_covering(p->held, p->nheld, cluster, now);
	if (held != NULL && ilog_maint_effective_end(held) > best) {
		*until = ilog_maint_effective_end(held);
		if (name != NULL)
			snprintf(name, namelen, "%s #%lld",
			    held->kind == ILOG_MAINT_SILENCE ? "silence" : "maintenance",
			    (long long)held->id);
		return true;
	}
	if (best_name == NULL)
		return false;
	*until = best;
	if (name != NULL)
		snprintf(name, namelen, "%s", best_name);
	return true;
}

const char *
esc_reason_name(enum esc_reason r)
{
	switch (r) {
	case ESC_REASON_OPENED: return "opened";
	case ESC_REASON_REOPENED: return "reopened";
	case ESC_REASON_SEVERITY: return "severity";
	case ESC_REASON_TIMEOUT: return "timeout";
	case ESC_REASON_FAILED: return "failed";
	case ESC_REASON_ACK_TIMEOUT: return "ack_timeout";
	case ESC_REASON_MAINTENANCE_OVER: return "maintenance_over";
	}
	return "?";
}

static void
decide_idle(struct esc_decision *out)
{
	out->action = ESC_IDLE;
	out->deadline = 0;
}

static void
decide_wait(struct esc_decision *out, int64_t deadline)
{
	out->action = ESC_WAIT;
	out->deadline = deadline;
}

/* Fills out for a page at position; IDLE if there is no such position. */
static void
decide_page(const struct esc_policy *p, const struct rotations *rot,
    const struct rotation_overrides *ov, const struct esc_view *v, int position,
    enum esc_reason reason, int64_t now, struct esc_decision *out)
{
	const struct esc_target *t = esc_position_target(p, position, &out->step, &out->round);
	const struct rotation *r;
	struct oncall oc;
	int64_t until;

	if (t == NULL) {
		decide_idle(out);
		return;
	}
	out->action = ESC_PAGE;
	out->reason = reason;
	out->position = position;
	switch (t->kind) {
	case ESC_TARGET_ONCALL:
		esc_target_format(t, out->via, sizeof(out->via));
		if ((r = rotations_find(rot, t->name)) != NULL) {
			rotation_oncall(r, ov, now, &oc);
			snprintf(out->target, sizeof(out->target), "%s", oc.jid);
		} else {
			/* The configuration was checked; this is a rotation removed by a
			 * reload while an escalation stood at it. The page must still go
			 * somewhere visible: it fails at once and the next step follows. */
			snprintf(out->target, sizeof(out->target), "%s", out->via);
		}
		break;
	case ESC_TARGET_ROOM:
	case ESC_TARGET_JID:
		esc_target_format(t, out->target, sizeof(out->target));
		break;
	}
	if (esc_maintenance(p, v->cluster, now, &until, out->window, sizeof(out->window))) {
		out->suppressed = true;
		out->deadline = until;
		return;
	}
	out->deadline = position + 1 < esc_positions(p) ? now + esc_position_wait(p, position) : 0;
}

static enum esc_reason
trigger_reason(enum esc_trigger t)
{
	switch (t) {
	case ESC_TRIGGER_REOPENED: return ESC_REASON_REOPENED;
	case ESC_TRIGGER_SEVERITY: return ESC_REASON_SEVERITY;
	case ESC_TRIGGER_OPENED: break;
	}
	return ESC_REASON_OPENED;
}

/* When the position after the newest page is due (without an acknowledgement). */
static int64_t
next_due(const struct esc_policy *p, const struct esc_view *v)
{
	if (v->last.kept_clock)
		return v->last.deadline;
	return v->last.sent_at + esc_position_wait(p, v->last.position);
}

void
esc_decide(const struct esc_policy *p, const struct rotations *rot,
    const struct rotation_overrides *ov, const struct esc_view *v, int64_t now,
    struct esc_decision *out)
{
	int64_t due, until;
	bool paused;
	int next;

	memset(out, 0, sizeof(*out));
	if (v->state == ILOG_STATE_RESOLVED || v->severity < p->min_severity || v->advisory) {
		decide_idle(out);
		return;
	}
	paused = v->state == ILOG_STATE_ACKNOWLEDGED &&
		 v->ack_event > (v->has_page ? v->last.event : 0);
	if (paused) {
		if (p->ack_timeout_ms <= 0) {
			decide_idle(out);
			return;
		}
		due = v->ack_at + p->ack_timeout_ms;
		if (now < due)
			decide_wait(out, due);
		else
			decide_page(p, rot, ov, v, 0, ESC_REASON_ACK_TIMEOUT, now, out);
		return;
	}
	if (v->has_page && v->last.event < v->trigger_event && v->trigger == ESC_TRIGGER_SEVERITY &&
	    !v->last.suppressed && v->last.failed_at == 0) {
		due = next_due(p, v);
		decide_page(p, rot, ov, v, v->last.position, ESC_REASON_SEVERITY, now, out);
		if (out->action == ESC_PAGE && !out->suppressed)
			out->deadline = v->last.position + 1 < esc_positions(p) ? due : 0;
		return;
	}
	if (!v->has_page ||
	    (v->last.event < v->trigger_event && v->trigger != ESC_TRIGGER_SEVERITY)) {
		decide_page(p, rot, ov, v, 0, trigger_reason(v->trigger), now, out);
		return;
	}
	if (v->last.suppressed) {
		if (esc_maintenance(p, v->cluster, now, &until, NULL, 0))
			decide_wait(out, until);
		else
			decide_page(p, rot, ov, v, v->last.position, ESC_REASON_MAINTENANCE_OVER, now,
			    out);
		return;
	}
	next = v->last.position + 1;
	if (next >= esc_positions(p)) {
		decide_idle(out); /* exhausted: the last position was paged */
		return;
	}
	if (v->last.failed_at != 0) {
		decide_page(p, rot, ov, v, next, ESC_REASON_FAILED, now, out);
		return;
	}
	due = next_due(p, v);
	if (now < due)
		decide_wait(out, due);
	else
		decide_page(p, rot, ov, v, next, ESC_REASON_TIMEOUT, now, out);
}
