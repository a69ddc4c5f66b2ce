/*
 * Unit tests of alerter/escalation: the policy from [escalation] and [maintenance]
 * sections, and every transition of the decision core with a fake clock — first
 * page, timeouts, failures, repeats and the final step, exhaustion, acknowledgement
 * and the ack timeout, restarts, maintenance windows, rotation hand-offs and
 * overrides. A tiny simulated log (struct sim) applies each decision the way the
 * daemon records it, so the walks below are the ones the daemon takes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alerter/escalation.h"
#include "kinds.h"

#define S 1000LL
#define M (60 * S)
#define H (60 * M)
#define D (24 * H)
/* 2024-01-01T09:00:00Z */
#define T0 1704099600000LL

static const char config_text[] =
    "[oncall]\n"
    "members = alice@x.org, bob@x.org\n"
    "shift = 1d\n"
    "handoff = 2024-01-01 09:00\n"
    "[escalation]\n"
    "step1 = oncall\n"
    "wait1 = 5m\n"
    "step2 = carol@x.org\n"
    "wait = 10m\n"
    "repeat = 1\n"
    "final = room:ops@conference.x.org\n"
    "min_severity = major\n"
    "[maintenance deploy]\n"
    "start = 2024-01-01 12:00\n"
    "duration = 1h\n"
    "clusters = c1\n"
    "[maintenance nightly]\n"
    "start = 2024-01-01 02:00\n"
    "end = 2024-01-01 02:30\n"
    "every = 1d\n"
    "clusters = c9\n";

struct world {
	struct config cfg;
	struct rotations rot;
	struct rotation_overrides ov;
	struct esc_policy policy;
};

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct config_errors errs = { 0 };

	if (config_load_string(&w->cfg, "t.conf", config_text, &errs) != 0 ||
	    rotations_load(&w->rot, &w->cfg, &errs) != 0 ||
	    esc_policy_load(&w->policy, &w->cfg, &w->rot, &errs) != 0) {
		size_t i;
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		return -1;
	}
	w->policy.ack_timeout_ms = 30 * M;
	config_errors_release(&errs);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	rotations_release(&w->rot);
	rotation_overrides_release(&w->ov);
	config_release(&w->cfg);
	free(w);
	return 0;
}

/* An incident as the log would show it, with event ids handed out in order. */
struct sim {
	struct esc_view v;
	int64_t next_event;
	int pages;
	struct esc_decision d;
};

static void
sim_open(struct sim *s, const char *cluster, enum ilog_severity sev)
{
	memset(s, 0, sizeof(*s));
	s->next_event = 1;
	s->v.state = ILOG_STATE_OPEN;
	s->v.severity = sev;
	snprintf(s->v.cluster, sizeof(s->v.cluster), "%s", cluster);
	s->v.trigger = ESC_TRIGGER_OPENED;
	s->v.trigger_event = s->next_event++;
}

/* A severity event: the incident now stands at sev. */
static void
sim_rise(struct sim *s, enum ilog_severity sev)
{
	s->v.severity = sev;
	s->v.trigger = ESC_TRIGGER_SEVERITY;
	s->v.trigger_event = s->next_event++;
}

static void
decide(struct world *w, struct sim *s, int64_t now)
{
	esc_decide(&w->policy, &w->rot, &w->ov, &s->v, now, &s->d);
}

/* Records the decided page as the daemon does. */
static void
sim_page(struct sim *s, int64_t now)
{
	int prev_position = s->v.last.position;

	assert_int_equal(s->d.action, ESC_PAGE);
	s->v.has_page = true;
	s->v.last.page_id = ++s->pages;
	s->v.last.event = s->next_event++;
	s->v.last.position = s->d.position;
	s->v.last.sent_at = now;
	s->v.last.deadline = s->d.deadline;
	s->v.last.failed_at = 0;
	s->v.last.suppressed = s->d.suppressed;
	s->v.last.kept_clock = s->d.reason == ESC_REASON_SEVERITY && s->pages > 1 &&
			       s->d.position == prev_position;
}

/* Decides at now, expects a page to target for reason, records it. */
static void
expect_page(struct world *w, struct sim *s, int64_t now, const char *target,
    enum esc_reason reason, int position)
{
	decide(w, s, now);
	assert_int_equal(s->d.action, ESC_PAGE);
	assert_string_equal(s->d.target, target);
	assert_string_equal(esc_reason_name(s->d.reason), esc_reason_name(reason));
	assert_int_equal(s->d.position, position);
	sim_page(s, now);
}

static void
expect_wait(struct world *w, struct sim *s, int64_t now, int64_t until)
{
	decide(w, s, now);
	assert_int_equal(s->d.action, ESC_WAIT);
	assert_int_equal(s->d.deadline, until);
}

static void
expect_idle(struct world *w, struct sim *s, int64_t now)
{
	decide(w, s, now);
	assert_int_equal(s->d.action, ESC_IDLE);
	assert_int_equal(s->d.deadline, 0);
}

static void
policy_reads_steps_waits_repeat_final_and_windows(void **state)
{
	struct world *w = *state;
	const struct esc_target *t;
	char text[ESC_TARGET_TEXT_MAX + 1];
	int step, round;

	assert_int_equal(w->policy.nsteps, 2);
	assert_int_equal(w->policy.steps[0].target.kind, ESC_TARGET_ONCALL);
	assert_string_equal(w->policy.steps[0].target.name, "oncall");
	assert_int_equal(w->policy.steps[0].wait_ms, 5 * M);
	assert_int_equal(w->policy.steps[1].wait_ms, 10 * M); /* the default wait */
	assert_int_equal(w->policy.repeat, 1);
	assert_true(w->policy.has_final);
	assert_int_equal(w->policy.final.kind, ESC_TARGET_ROOM);
	assert_int_equal(w->policy.min_severity, ILOG_SEVERITY_MAJOR);
	assert_int_equal(w->policy.nwindows, 2);
	assert_int_equal(w->policy.windows[1].duration_ms, 30 * M);
	assert_int_equal(w->policy.windows[1].every_ms, D);
	assert_int_equal(esc_positions(&w->policy), 5);
	t = esc_position_target(&w->policy, 3, &step, &round);
	assert_non_null(t);
	assert_string_equal(t->name, "carol@x.org");
	assert_int_equal(step, 2);
	assert_int_equal(round, 2);
	t = esc_position_target(&w->policy, 4, &step, &round);
	esc_target_format(t, text, sizeof(text));
	assert_string_equal(text, "room:ops@conference.x.org");
	assert_int_equal(step, 0);
	assert_int_equal(esc_position_wait(&w->policy, 4), 0);
	assert_null(esc_position_target(&w->policy, 5, NULL, NULL));
	assert_null(esc_position_target(&w->policy, -1, NULL, NULL));
}

static void
policy_errors_name_the_line_and_are_all_reported(void **state)
{
	static const char bad[] =
	    "[oncall]\n"                        /* 1 */
	    "members = a@x\n"
	    "shift = 1d\n"
	    "handoff = 2024-01-01\n"
	    "[escalation]\n"                    /* 5 */
	    "step1 = oncall:nobody\n"           /* 6: no such rotation */
	    "step3 = a@x\n"                     /* 7: a gap */
	    "wait2 = 1m\n"                      /* 8: a wait without its step */
	    "wait1 = forever\n"                 /* 9 */
	    "repeat = 1000\n"                   /* 10 */
	    "final = room:not a room\n"         /* 11 */
	    "min_severity = huge\n"             /* 12 */
	    "[maintenance m]\n"                 /* 13: neither duration nor end */
	    "start = 2024-01-01 10:00\n"
	    "[maintenance n]\n"                 /* 15 */
	    "start = 2024-01-01 10:00\n"
	    "duration = 2h\n"
	    "every = 1h\n";                     /* 18: longer than its period */
	struct config cfg = { 0 };
	struct config_errors errs = { 0 };
	struct rotations rot = { 0 };
	struct esc_policy p;
	char all[8192] = "";
	size_t i;

	(void)state;
	assert_int_equal(config_load_string(&cfg, "t.conf", bad, &errs), 0);
	assert_int_equal(rotations_load(&rot, &cfg, &errs), 0);
	assert_int_equal(esc_policy_load(&p, &cfg, &rot, &errs), -1);
	for (i = 0; i < errs.n; i++) {
		strncat(all, errs.msgs[i], sizeof(all) - strlen(all) - 2);
		strncat(all, "\n", sizeof(all) - strlen(all) - 1);
	}
	assert_non_null(strstr(all, "t.conf:6: step1: there is no [oncall nobody] section"));
	assert_non_null(strstr(all, "t.conf:7: step3 without step2"));
	assert_non_null(strstr(all, "t.conf:8: wait2 without step2"));
	assert_non_null(strstr(all, "t.conf:9: wait1: 'forever'"));
	assert_non_null(strstr(all, "t.conf:10: repeat:"));
	assert_non_null(strstr(all, "t.conf:11: final: 'room:not a room' is not a room"));
	assert_non_null(strstr(all, "t.conf:12: min_severity: 'huge'"));
	assert_non_null(strstr(all, "t.conf:13: [maintenance m] needs either duration or end"));
	assert_non_null(strstr(all, "t.conf:18: every: the window lasts longer"));
	config_errors_release(&errs);
	rotations_release(&rot);
	config_release(&cfg);
}

static void
targets_parse_people_rotations_and_rooms_and_refuse_the_rest(void **state)
{
	struct esc_target t;
	char err[256];

	(void)state;
	assert_int_equal(esc_target_parse("oncall", &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, ESC_TARGET_ONCALL);
	assert_int_equal(esc_target_parse("oncall:db", &t, err, sizeof(err)), 0);
	assert_string_equal(t.name, "db");
	assert_int_equal(esc_target_parse("room:ops@conference.x", &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, ESC_TARGET_ROOM);
	assert_int_equal(esc_target_parse("bob@x.org", &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, ESC_TARGET_JID);
	assert_int_equal(esc_target_parse("oncall:", &t, err, sizeof(err)), -1);
	assert_int_equal(esc_target_parse("oncall:a b", &t, err, sizeof(err)), -1);
	assert_int_equal(esc_target_parse("room:", &t, err, sizeof(err)), -1);
	assert_int_equal(esc_target_parse("bob", &t, err, sizeof(err)), -1);
	assert_int_equal(esc_target_parse("bob@x.org/phone", &t, err, sizeof(err)), -1);
	assert_int_equal(esc_target_parse("", &t, err, sizeof(err)), -1);
}

static void
a_new_incident_pages_the_oncall_then_each_step_when_its_wait_runs_out(void **state)
{
	struct world *w = *state;
	struct sim s;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + S, "alice@x.org", ESC_REASON_OPENED, 0);
	assert_string_equal(s.d.via, "oncall:oncall");
	assert_int_equal(s.d.step, 1);
	assert_int_equal(s.d.round, 1);
	assert_int_equal(s.d.deadline, T0 + S + 5 * M);
	assert_false(s.d.suppressed);
	/* Deciding again before the deadline pages nobody: it waits for it. */
	expect_wait(w, &s, T0 + S + 1, T0 + S + 5 * M);
	expect_wait(w, &s, T0 + S + 5 * M - 1, T0 + S + 5 * M);
	expect_page(w, &s, T0 + S + 5 * M, "carol@x.org", ESC_REASON_TIMEOUT, 1);
	assert_string_equal(s.d.via, "");
	assert_int_equal(s.d.deadline, T0 + S + 15 * M);
}

static void
repeats_run_the_steps_again_then_the_final_room_then_stop(void **state)
{
	struct world *w = *state;
	struct sim s;
	int64_t t = T0 + S;

	sim_open(&s, "c1", ILOG_SEVERITY_CRITICAL);
	expect_page(w, &s, t, "alice@x.org", ESC_REASON_OPENED, 0);
	t += 5 * M;
	expect_page(w, &s, t, "carol@x.org", ESC_REASON_TIMEOUT, 1);
	t += 10 * M;
	expect_page(w, &s, t, "alice@x.org", ESC_REASON_TIMEOUT, 2);
	assert_int_equal(s.d.step, 1);
	assert_int_equal(s.d.round, 2);
	t += 5 * M;
	expect_page(w, &s, t, "carol@x.org", ESC_REASON_TIMEOUT, 3);
	t += 10 * M;
	expect_page(w, &s, t, "room:ops@conference.x.org", ESC_REASON_TIMEOUT, 4);
	assert_int_equal(s.d.step, 0);
	assert_int_equal(s.d.deadline, 0); /* nothing follows the final step */
	/* Exhausted: nothing more, however long it stays open. */
	expect_idle(w, &s, t + 1);
	expect_idle(w, &s, t + 30 * D);
}

static void
a_failed_page_moves_to_the_next_step_at_once(void **state)
{
	struct world *w = *state;
	struct sim s;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + S, "alice@x.org", ESC_REASON_OPENED, 0);
	s.v.last.failed_at = T0 + 2 * S; /* alice is offline: a bounce */
	expect_page(w, &s, T0 + 2 * S, "carol@x.org", ESC_REASON_FAILED, 1);
	assert_int_equal(s.d.deadline, T0 + 2 * S + 10 * M);
	/* The final step failing ends the walk like a timeout would. */
	s.v.last.position = 4;
	s.v.last.failed_at = T0 + 3 * S;
	expect_idle(w, &s, T0 + 3 * S);
}

static void
an_acknowledgement_pauses_and_the_ack_timeout_pages_again_from_step_one(void **state)
{
	struct world *w = *state;
	struct sim s;
	int64_t t = T0 + S;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, t, "alice@x.org", ESC_REASON_OPENED, 0);
	/* Acknowledged a minute later. */
	s.v.state = ILOG_STATE_ACKNOWLEDGED;
	s.v.ack_event = s.next_event++;
	s.v.ack_at = t + M;
	/* The step's deadline no longer counts; the ack timeout does. */
	expect_wait(w, &s, t + 5 * M, t + M + 30 * M);
	expect_page(w, &s, t + 31 * M, "alice@x.org", ESC_REASON_ACK_TIMEOUT, 0);
	assert_int_equal(s.d.deadline, t + 31 * M + 5 * M);
	/* Still acknowledged but nobody answered the new page: it escalates again. */
	expect_page(w, &s, t + 36 * M, "carol@x.org", ESC_REASON_TIMEOUT, 1);
	/* Acknowledged again (a renewal): paused again, a new ack timeout. */
	s.v.ack_event = s.next_event++;
	s.v.ack_at = t + 37 * M;
	expect_wait(w, &s, t + 40 * M, t + 67 * M);
	/* Without an ack timeout an acknowledgement stops paging for good. */
	w->policy.ack_timeout_ms = 0;
	expect_idle(w, &s, t + 10 * D);
}

static void
an_incident_acknowledged_before_any_page_is_never_paged_until_its_ack_timeout(void **state)
{
	struct world *w = *state;
	struct sim s;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	s.v.state = ILOG_STATE_ACKNOWLEDGED;
	s.v.ack_event = s.next_event++;
	s.v.ack_at = T0;
	expect_wait(w, &s, T0 + S, T0 + 30 * M);
	expect_page(w, &s, T0 + 30 * M, "alice@x.org", ESC_REASON_ACK_TIMEOUT, 0);
}

static void
a_severity_rise_repages_the_current_step_and_keeps_its_deadline(void **state)
{
	struct world *w = *state;
	struct sim s;
	int64_t t = T0 + S;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, t, "alice@x.org", ESC_REASON_OPENED, 0);
	/* A rise during step 1's wait: step 1 hears it, step 2 is still due at t + 5m. */
	sim_rise(&s, ILOG_SEVERITY_CRITICAL);
	expect_page(w, &s, t + 4 * M, "alice@x.org", ESC_REASON_SEVERITY, 0);
	assert_int_equal(s.d.deadline, t + 5 * M);
	/* Seen again (a replayed event) it does not page twice, and the clock held. */
	expect_wait(w, &s, t + 4 * M + 1, t + 5 * M);
	expect_page(w, &s, t + 5 * M, "carol@x.org", ESC_REASON_TIMEOUT, 1);
	/* A rise during step 2's wait goes to step 2, due as before at t + 15m. */
	sim_rise(&s, ILOG_SEVERITY_CRITICAL);
	expect_page(w, &s, t + 14 * M, "carol@x.org", ESC_REASON_SEVERITY, 1);
	expect_wait(w, &s, t + 14 * M + 1, t + 15 * M);
	/* Two rises in a row keep the same deadline. */
	sim_rise(&s, ILOG_SEVERITY_CRITICAL);
	expect_page(w, &s, t + 14 * M + 30 * S, "carol@x.org", ESC_REASON_SEVERITY, 1);
	expect_wait(w, &s, t + 14 * M + 31 * S, t + 15 * M);
	expect_page(w, &s, t + 15 * M, "alice@x.org", ESC_REASON_TIMEOUT, 2);
}

static void
a_severity_rise_after_the_last_step_tells_the_last_target_again(void **state)
{
	struct world *w = *state;
	struct sim s;
	int64_t t = T0 + S;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, t, "alice@x.org", ESC_REASON_OPENED, 0);
	expect_page(w, &s, t + 5 * M, "carol@x.org", ESC_REASON_TIMEOUT, 1);
	expect_page(w, &s, t + 15 * M, "alice@x.org", ESC_REASON_TIMEOUT, 2);
	expect_page(w, &s, t + 20 * M, "carol@x.org", ESC_REASON_TIMEOUT, 3);
	expect_page(w, &s, t + 30 * M, "room:ops@conference.x.org", ESC_REASON_TIMEOUT, 4);
	assert_int_equal(s.d.deadline, 0);
	expect_idle(w, &s, t + 40 * M);
	sim_rise(&s, ILOG_SEVERITY_CRITICAL);
	expect_page(w, &s, t + 41 * M, "room:ops@conference.x.org", ESC_REASON_SEVERITY, 4);
	assert_int_equal(s.d.deadline, 0);
	expect_idle(w, &s, t + 42 * M);
}

static void
a_severity_rise_after_a_failed_page_moves_on_at_once(void **state)
{
	struct world *w = *state;
	struct sim s;
	int64_t t = T0 + S;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, t, "alice@x.org", ESC_REASON_OPENED, 0);
	s.v.last.failed_at = t + S; /* alice is offline */
	sim_rise(&s, ILOG_SEVERITY_CRITICAL);
	expect_page(w, &s, t + 2 * S, "carol@x.org", ESC_REASON_FAILED, 1);
}

static void
a_reopen_restarts_at_step_one_and_a_rise_while_acknowledged_pages_nobody(void **state)
{
	struct world *w = *state;
	struct sim s;
	int64_t t = T0 + S;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, t, "alice@x.org", ESC_REASON_OPENED, 0);
	expect_page(w, &s, t + 5 * M, "carol@x.org", ESC_REASON_TIMEOUT, 1);
	/* Acknowledged, then the severity rises: the person on it keeps it. */
	s.v.state = ILOG_STATE_ACKNOWLEDGED;
	s.v.ack_event = s.next_event++;
	s.v.ack_at = t + 7 * M;
	sim_rise(&s, ILOG_SEVERITY_CRITICAL);
	expect_wait(w, &s, t + 8 * M, t + 37 * M);
	/* Resolved, then reopened: a new escalation. */
	s.v.state = ILOG_STATE_RESOLVED;
	expect_idle(w, &s, t + 9 * M);
	s.v.state = ILOG_STATE_OPEN;
	s.v.ack_event = 0;
	s.v.trigger = ESC_TRIGGER_REOPENED;
	s.v.trigger_event = s.next_event++;
	expect_page(w, &s, t + 10 * M, "alice@x.org", ESC_REASON_REOPENED, 0);
}

static void
resolved_and_minor_incidents_page_nobody(void **state)
{
	struct world *w = *state;
	struct sim s;

	sim_open(&s, "c1", ILOG_SEVERITY_MINOR); /* below min_severity = major */
	expect_idle(w, &s, T0);
	sim_rise(&s, ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + S, "alice@x.org", ESC_REASON_SEVERITY, 0);
	s.v.state = ILOG_STATE_RESOLVED;
	expect_idle(w, &s, T0 + 10 * M);
}

static void
an_advisory_kind_pages_nobody_whatever_its_severity(void **state)
{
	struct world *w = *state;
	struct sim s;

	/* connection_churn is an advisory in lib/kinds.c: mcalert sets the view's flag
	 * from the table (alerter_page.c), never from the kind's name. */
	assert_false(kinds_pages("connection_churn"));
	sim_open(&s, "c1", ILOG_SEVERITY_CRITICAL);
	s.v.advisory = true;
	expect_idle(w, &s, T0);
	sim_rise(&s, ILOG_SEVERITY_CRITICAL);
	expect_idle(w, &s, T0 + 10 * M);
	/* The same incident of a paging kind pages at once. */
	assert_true(kinds_pages("connection_storm"));
	s.v.advisory = false;
	expect_page(w, &s, T0 + 11 * M, "alice@x.org", ESC_REASON_SEVERITY, 0);
}

static void
maintenance_records_a_suppressed_page_and_pages_for_real_when_it_ends(void **state)
{
	struct world *w = *state;
	struct sim s, other;
	int64_t noon = T0 + 3 * H; /* 12:00, the deploy window on c1 */

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, noon + M, "alice@x.org", ESC_REASON_OPENED, 0);
	assert_true(s.d.suppressed);
	assert_string_equal(s.d.window, "deploy");
	assert_int_equal(s.d.deadline, noon + H);
	expect_wait(w, &s, noon + 30 * M, noon + H);
	expect_page(w, &s, noon + H, "alice@x.org", ESC_REASON_MAINTENANCE_OVER, 0);
	assert_false(s.d.suppressed);
	assert_int_equal(s.d.deadline, noon + H + 5 * M);
	/* Another cluster is not in the window. */
	sim_open(&other, "c2", ILOG_SEVERITY_MAJOR);
	expect_page(w, &other, noon + M, "alice@x.org", ESC_REASON_OPENED, 0);
	assert_false(other.d.suppressed);
	/* A window that recurs daily holds pages every night, not in between. */
	sim_open(&other, "c9", ILOG_SEVERITY_MAJOR);
	decide(w, &other, T0 + 2 * D - 7 * H + 10 * M); /* 02:10, two days later */
	assert_true(other.d.suppressed);
	assert_string_equal(other.d.window, "nightly");
	assert_int_equal(other.d.deadline, T0 + 2 * D - 7 * H + 30 * M);
	decide(w, &other, T0 + 2 * D - 7 * H + 30 * M); /* 02:30: over */
	assert_false(other.d.suppressed);
	decide(w, &other, T0 - 7 * H - D + 10 * M); /* before the first occurrence */
	assert_false(other.d.suppressed);
}

static void
a_maintenance_of_the_log_holds_pages_and_names_itself_until_it_ends_early(void **state)
{
	struct world *w = *state;
	struct ilog_maintenance held[2] = {
		{ .id = 3, .kind = ILOG_MAINT_PUBLIC, .cluster = "c2", .starts_at = T0 + H,
		    .ends_at = T0 + 3 * H },
		{ .id = 4, .kind = ILOG_MAINT_SILENCE, .cluster = "c3", .starts_at = T0,
		    .ends_at = T0 + H, .cancelled_at = T0 + 10 * M },
	};
	struct sim s, silenced;

	w->policy.held = held;
	w->policy.nheld = 2;
	sim_open(&s, "c2", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + H + M, "alice@x.org", ESC_REASON_OPENED, 0);
	assert_true(s.d.suppressed);
	assert_string_equal(s.d.window, "maintenance #3");
	assert_int_equal(s.d.deadline, T0 + 3 * H);
	/* Completed early: the held page goes out at the next decision. */
	held[0].completed_at = T0 + 2 * H;
	expect_page(w, &s, T0 + 2 * H, "alice@x.org", ESC_REASON_MAINTENANCE_OVER, 0);
	assert_false(s.d.suppressed);
	/* A cancelled silence holds nothing. */
	sim_open(&silenced, "c3", ILOG_SEVERITY_MAJOR);
	expect_page(w, &silenced, T0 + 20 * M, "alice@x.org", ESC_REASON_OPENED, 0);
	assert_false(silenced.d.suppressed);
	w->policy.held = NULL;
	w->policy.nheld = 0;
}

static void
the_oncall_target_follows_the_rotation_across_a_hand_off(void **state)
{
	struct world *w = *state;
	struct sim s;

	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + D - 2 * M, "alice@x.org", ESC_REASON_OPENED, 0);
	/* Acknowledged by alice; her shift ends; the ack timeout reaches bob. */
	s.v.state = ILOG_STATE_ACKNOWLEDGED;
	s.v.ack_event = s.next_event++;
	s.v.ack_at = T0 + D - M;
	expect_page(w, &s, T0 + D + 29 * M, "bob@x.org", ESC_REASON_ACK_TIMEOUT, 0);
}

static void
an_override_takes_the_oncall_pages_while_it_lasts(void **state)
{
	struct world *w = *state;
	struct ilog_event ev;
	char body[256], err[128];
	struct sim s;

	snprintf(body, sizeof(body),
	    "{\"rotation\":\"oncall\",\"jid\":\"dave@x.org\",\"from\":%lld,\"until\":%lld}",
	    (long long)(T0 + H), (long long)(T0 + 2 * H));
	memset(&ev, 0, sizeof(ev));
	ev.id = 77;
	snprintf(ev.type, sizeof(ev.type), "%s", ROTATION_EV_OVERRIDE);
	ev.body_json = body;
	assert_int_equal(rotation_overrides_apply(&w->ov, &ev, T0, err, sizeof(err)), 1);
	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + H + M, "dave@x.org", ESC_REASON_OPENED, 0);
	assert_string_equal(s.d.via, "oncall:oncall");
	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + 2 * H, "alice@x.org", ESC_REASON_OPENED, 0);
	/* An override of another rotation changes nothing here. */
	snprintf(body, sizeof(body),
	    "{\"rotation\":\"db\",\"jid\":\"erin@x.org\",\"from\":%lld,\"until\":%lld}",
	    (long long)T0, (long long)(T0 + D));
	ev.id = 78;
	assert_int_equal(rotation_overrides_apply(&w->ov, &ev, T0, err, sizeof(err)), 1);
	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + 3 * H, "alice@x.org", ESC_REASON_OPENED, 0);
}

static void
a_wait_of_zero_pages_the_next_step_right_away(void **state)
{
	struct world *w = *state;
	struct sim s;

	w->policy.steps[0].wait_ms = 0;
	sim_open(&s, "c1", ILOG_SEVERITY_MAJOR);
	expect_page(w, &s, T0 + S, "alice@x.org", ESC_REASON_OPENED, 0);
	assert_int_equal(s.d.deadline, T0 + S);
	expect_page(w, &s, T0 + S, "carol@x.org", ESC_REASON_TIMEOUT, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(policy_reads_steps_waits_repeat_final_and_windows,
		    setup, teardown),
		cmocka_unit_test(policy_errors_name_the_line_and_are_all_reported),
		cmocka_unit_test(targets_parse_people_rotations_and_rooms_and_refuse_the_rest),
		cmocka_unit_test_setup_teardown(an_advisory_kind_pages_nobody_whatever_its_severity,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_new_incident_pages_the_oncall_then_each_step_when_its_wait_runs_out, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    repeats_run_the_steps_again_then_the_final_room_then_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_page_moves_to_the_next_step_at_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    an_acknowledgement_pauses_and_the_ack_timeout_pages_again_from_step_one, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    an_incident_acknowledged_before_any_page_is_never_paged_until_its_ack_timeout,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_severity_rise_repages_the_current_step_and_keeps_its_deadline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_severity_rise_after_the_last_step_tells_the_last_target_again, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(a_severity_rise_after_a_failed_page_moves_on_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_reopen_restarts_at_step_one_and_a_rise_while_acknowledged_pages_nobody, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(resolved_and_minor_incidents_page_nobody, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    maintenance_records_a_suppressed_page_and_pages_for_real_when_it_ends,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_maintenance_of_the_log_holds_pages_and_names_itself_until_it_ends_early, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    the_oncall_target_follows_the_rotation_across_a_hand_off, setup, teardown),
		cmocka_unit_test_setup_teardown(an_override_takes_the_oncall_pages_while_it_lasts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(a_wait_of_zero_pages_the_next_step_right_away,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
