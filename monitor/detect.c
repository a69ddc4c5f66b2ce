#include "detect.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

#define CHECK_MSG_MAX 160 /* one relation check's message */

const char *
detect_state_name(enum detect_state state)
{
	switch (state) {
	case DETECT_OK: return "ok";
	case DETECT_PENDING: return "pending";
	case DETECT_FIRING: return "firing";
	case DETECT_RECOVERING: return "recovering";
	}
	return "unknown";
}

const char *
detect_severity_name(enum detect_severity severity)
{
	switch (severity) {
	case DETECT_SEVERITY_NONE: return "none";
	case DETECT_SEVERITY_MINOR: return "minor";
	case DETECT_SEVERITY_MAJOR: return "major";
	case DETECT_SEVERITY_CRITICAL: return "critical";
	}
	return "unknown";
}

const char *
detect_event_name(enum detect_event event)
{
	switch (event) {
	case DETECT_EVENT_NONE: return "none";
	case DETECT_EVENT_OPENED: return "opened";
	case DETECT_EVENT_WORSENED: return "worsened";
	case DETECT_EVENT_CLEARED: return "cleared";
	}
	return "unknown";
}

bool
detect_status_open(const struct detect_status *status)
{
	return status->state == DETECT_FIRING || status->state == DETECT_RECOVERING;
}

static void
status_set(struct detect_status *status, enum detect_state state, int64_t now_ms)
{
	if (status->state != state)
		status->since_ms = now_ms;
	status->state = state;
}

static enum detect_event
status_open(struct detect_status *status, enum detect_severity severity, int64_t now_ms)
{
	status_set(status, DETECT_FIRING, now_ms);
	status->opened_ms = now_ms;
	status->severity = severity;
	return DETECT_EVENT_OPENED;
}

static enum detect_event
status_clear(struct detect_status *status, int64_t now_ms)
{
	status_set(status, DETECT_OK, now_ms);
	status->opened_ms = 0;
	status->severity = DETECT_SEVERITY_NONE;
	return DETECT_EVENT_CLEARED;
}

/* Severity only rises within an incident: a dip is not news, a rise is. */
static enum detect_event
status_raise(struct detect_status *status, enum detect_severity severity)
{
	if (severity <= status->severity)
		return DETECT_EVENT_NONE;
	status->severity = severity;
	return DETECT_EVENT_WORSENED;
}

static enum detect_severity
severity_of(const struct detect_config *cfg, double excess)
{
	if (excess >= cfg->severity_critical)
		return DETECT_SEVERITY_CRITICAL;
	if (excess >= cfg->severity_major)
		return DETECT_SEVERITY_MAJOR;
	return DETECT_SEVERITY_MINOR;
}

/* --- configuration ------------------------------------------------------------------ */

void
detect_defaults(struct detect_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->storm_k = 4;
	cfg->storm_ratio = 3;
	cfg->storm_floor = 200;
	cfg->storm_rate_floor = 100;
	cfg->storm_accept_queue = 128;
	cfg->storm_overflow_rate = 1;
	cfg->storm_enter = 2;
	cfg->storm_exit = 5;
	cfg->storm_clear_fraction = 0.7;
	cfg->storm_halflife_ms = 5 * 60 * 1000;
	cfg->storm_warmup = 30;
	cfg->storm_restart_grace_ms = 30 * 1000;
	cfg->storm_max_freeze_ms = 60 * 60 * 1000;
	cfg->cluster_grace_ms = 60 * 1000;
	cfg->tail_threshold_us = 5000;
	cfg->tail_fraction = 0.05;
	cfg->tail_clear_fraction = 0.025;
	cfg->tail_baseline_k = 6;
	cfg->tail_baseline_ratio = 2;
	cfg->tail_baseline_max = 0.05;
	cfg->tail_baseline_halflife_ms = 10 * 60 * 1000;
	cfg->tail_warmup_ms = 60 * 1000;
	cfg->tail_short_window_ms = 10 * 1000;
	cfg->tail_long_window_ms = 20 * 1000;
	cfg->tail_slot_ms = 1000;
	cfg->tail_min_samples = 50;
	cfg->tail_long_min_samples = 150;
	cfg->tail_clear_hold_ms = 30 * 1000;
	cfg->down_failures = 3;
	cfg->down_silence_ms = 2000;
	cfg->down_recoveries = 3;
	cfg->down_critical_ms = 5 * 60 * 1000;
	cfg->churn_rate = 2;
	cfg->churn_share = 0.9;
	cfg->churn_sustain_ms = 2 * 60 * 1000;
	cfg->churn_clear_ms = 2 * 60 * 1000;
	cfg->severity_major = 2;
	cfg->severity_critical = 4;
}

typedef void (*check_report)(void *ctx, const char *key, const char *msg);

/*
 * The relations between keys; each broken one is reported with the key to blame.
 * Returns how many were broken.
 */
static int
check_relations(const struct detect_config *cfg, check_report report, void *ctx)
{
	char msg[CHECK_MSG_MAX];
	int bad = 0;

	if (!(cfg->tail_clear_fraction < cfg->tail_fraction)) {
		snprintf(msg, sizeof(msg), "must be below tail_fraction (%g)", cfg->tail_fraction);
		report(ctx, "tail_clear_fraction", msg);
		bad++;
	}
	if (cfg->tail_slot_ms <= 0) {
		report(ctx, "tail_slot", "must be at least 1ms");
		return bad + 1; /* the window checks below divide by it */
	}
	if (cfg->tail_short_window_ms <= 0 || cfg->tail_short_window_ms % cfg->tail_slot_ms != 0) {
		snprintf(msg, sizeof(msg), "must be a positive whole number of tail_slot (%lld ms)",
		    (long long)cfg->tail_slot_ms);
		report(ctx, "tail_short_window", msg);
		bad++;
	}
	if (cfg->tail_long_window_ms <= 0 || cfg->tail_long_window_ms % cfg->tail_slot_ms != 0) {
		snprintf(msg, sizeof(msg), "must be a positive whole number of tail_slot (%lld ms)",
		    (long long)cfg->tail_slot_ms);
		report(ctx, "tail_long_window", msg);
		bad++;
	} else if (cfg->tail_long_window_ms / cfg->tail_slot_ms > HISTOGRAM_WINDOW_SLOTS_MAX) {
		snprintf(msg, sizeof(msg), "is more than %d slots of tail_slot",
		    HISTOGRAM_WINDOW_SLOTS_MAX);
		report(ctx, "tail_long_window", msg);
		bad++;
	}
	if (cfg->tail_short_window_ms > cfg->tail_long_window_ms) {
		report(ctx, "tail_short_window", "must not be longer than tail_long_window");
		bad++;
	}
	if (cfg->tail_threshold_us == 0 || cfg->tail_threshold_us > HISTOGRAM_MAX_US) {
		report(ctx, "tail_threshold", "must be from 1us to 16s");
		bad++;
	}
	if (!(cfg->tail_fraction > 0 && cfg->tail_fraction <= 1)) {
		report(ctx, "tail_fraction", "must be above 0 and at most 1");
		bad++;
	}
	if (cfg->tail_min_samples == 0) {
		report(ctx, "tail_min_samples", "must be at least 1");
		bad++;
	}
	/* The long window is what keeps a few stray slow probes from opening an
	 * incident; it can only do so with at least as many samples as the short. */
	if (cfg->tail_long_min_samples < cfg->tail_min_samples) {
		snprintf(msg, sizeof(msg), "must be at least tail_min_samples (%llu)",
		    (unsigned long long)cfg->tail_min_samples);
		report(ctx, "tail_long_min_samples", msg);
		bad++;
	}
	if (!(cfg->tail_baseline_ratio >= 1)) {
		report(ctx, "tail_baseline_ratio", "must be at least 1");
		bad++;
	}
	if (!(cfg->tail_baseline_max > 0 && cfg->tail_baseline_max <= 1)) {
		report(ctx, "tail_baseline_max", "must be above 0 and at most 1");
		bad++;
	}
	if (!(cfg->tail_baseline_k >= 0)) {
		report(ctx, "tail_baseline_k", "must not be negative");
		bad++;
	}
	if (cfg->tail_baseline_halflife_ms <= 0) {
		report(ctx, "tail_baseline_halflife", "must be positive");
		bad++;
	}
	if (cfg->tail_warmup_ms < 0) {
		report(ctx, "tail_warmup", "must not be negative");
		bad++;
	}
	if (!(cfg->storm_clear_fraction > 0 && cfg->storm_clear_fraction <= 1)) {
		report(ctx, "storm_clear_fraction", "must be above 0 and at most 1");
		bad++;
	}
	if (!(cfg->storm_ratio >= 1)) {
		report(ctx, "storm_ratio", "must be at least 1");
		bad++;
	}
	if (!(cfg->storm_k >= 0)) {
		report(ctx, "storm_k", "must not be negative");
		bad++;
	}
	if (cfg->storm_halflife_ms <= 0) {
		report(ctx, "storm_halflife", "must be positive");
		bad++;
	}
	if (cfg->storm_enter == 0 || cfg->storm_exit == 0) {
		report(ctx, cfg->storm_enter == 0 ? "storm_enter" : "storm_exit",
		    "must be at least 1");
		bad++;
	}
	if (cfg->down_failures == 0 || cfg->down_recoveries == 0) {
		report(ctx, cfg->down_failures == 0 ? "down_failures" : "down_recoveries",
		    "must be at least 1");
		bad++;
	}
	if (!(cfg->severity_major >= 1)) {
		report(ctx, "severity_major", "must be at least 1");
		bad++;
	}
	if (!(cfg->severity_critical >= cfg->severity_major)) {
		snprintf(msg, sizeof(msg), "must be at least severity_major (%g)",
		    cfg->severity_major);
		report(ctx, "severity_critical", msg);
		bad++;
	}
	return bad;
}

struct first_problem {
	char *err;
	size_t errlen;
	bool found;
};

static void
report_first(void *ctx, const char *key, const char *msg)
{
	struct first_problem *fp = ctx;

	if (fp->found)
		return;
	snprintf(fp->err, fp->errlen, "%s: %s", key, msg);
	fp->found = true;
}

int
detect_config_check(const struct detect_config *cfg, char *err, size_t errlen)
{
	struct first_problem fp = { err, errlen, false };

	return check_relations(cfg, report_first, &fp) == 0 ? 0 : -1;
}

int
detect_config_check_probe_rate(const struct detect_config *cfg, double probes_per_second,
    char *err, size_t errlen)
{
	const struct {
		const char *name;
		int64_t window_ms;
		uint64_t min;
	} windows[] = {
		{ "tail_short_window", cfg->tail_short_window_ms, cfg->tail_min_samples },
		{ "tail_long_window", cfg->tail_long_window_ms, cfg->tail_long_min_samples },
	};
	size_t i;

	for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		double held = (double)(windows[i].window_ms - cfg->tail_slot_ms) / 1000.0;
		if (!(probes_per_second * held >= (double)windows[i].min)) {
			snprintf(err, errlen,
			    "%s: %g probes a second fill it with about %.0f probes, under its "
			    "minimum of %llu",
			    windows[i].name, probes_per_second, probes_per_second * held,
			    (unsigned long long)windows[i].min);
			return -1;
		}
	}
	return 0;
}

struct read_ctx {
	struct config *file;
	const char *section;
	struct config_errors *errs;
};

static int
line_of(struct read_ctx *rc, const char *key)
{
	struct config_entry *e = config_find(rc->file, rc->section, key);

	return e != NULL ? e->line : 0;
}

static void
report_config(void *ctx, const char *key, const char *msg)
{
	struct read_ctx *rc = ctx;

	config_error(rc->errs, rc->file, line_of(rc, key), "%s: %s", key, msg);
}

static void
read_u32(struct read_ctx *rc, const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	config_get_u64(rc->file, rc->section, key, min, max, *out, &v, rc->errs);
	*out = (uint32_t)v;
}

static void
read_double(struct read_ctx *rc, const char *key, double min, double max, double *out)
{
	config_get_double(rc->file, rc->section, key, min, max, *out, out, rc->errs);
}

static void
read_duration(struct read_ctx *rc, const char *key, int64_t min_ms, int64_t max_ms,
    int64_t *out)
{
	int64_t v, def = *out;

	if (config_get_duration_ms(rc->file, rc->section, key, def, &v, rc->errs) < 0)
		return;
	if (v < min_ms || v > max_ms) {
		config_error(rc->errs, rc->file, line_of(rc, key),
		    "%s: %lld ms is out of range (%lld ms to %lld ms)", key, (long long)v,
		    (long long)min_ms, (long long)max_ms);
		return;
	}
	*out = v;
}

/* A latency: "500us", or a duration ("5ms", "1s"). The histogram's range bounds it. */
static void
read_latency_us(struct read_ctx *rc, const char *key, uint64_t *out)
{
	struct config_entry *e = config_find(rc->file, rc->section, key);
	size_t len;
	uint64_t us;
	int64_t ms;

	if (e == NULL)
		return;
	len = strlen(e->value);
	if (len > 2 && strcmp(e->value + len - 2, "us") == 0) {
		if (parse_u64_n(e->value, len - 2, 1, HISTOGRAM_MAX_US, &us) == 0) {
			*out = us;
			return;
		}
	} else if (parse_duration_ms(e->value, &ms) == 0 && ms >= 1 &&
	    (uint64_t)ms <= HISTOGRAM_MAX_US / 1000) {
		*out = (uint64_t)ms * 1000;
		return;
	}
	config_error(rc->errs, rc->file, e->line,
	    "%s: '%s' is not a latency from 1us to %llus (e.g. 500us, 5ms)", key, e->value,
	    (unsigned long long)(HISTOGRAM_MAX_US / 1000000));
}

int
detect_config_read(struct detect_config *cfg, struct config *file, const char *section,
    struct config_errors *errs)
{
	struct read_ctx rc = { file, section, errs };
	size_t before = errs->n + errs->dropped;
	const int64_t day = 24LL * 3600 * 1000;

	detect_defaults(cfg);
	read_double(&rc, "storm_k", 0, 100, &cfg->storm_k);
	read_double(&rc, "storm_ratio", 1, 1000, &cfg->storm_ratio);
	read_double(&rc, "storm_floor", 0, 1e9, &cfg->storm_floor);
	read_double(&rc, "storm_rate_floor", 0, 1e9, &cfg->storm_rate_floor);
	config_get_u64(file, section, "storm_accept_queue", 0, 1000000000, cfg->storm_accept_queue,
	    &cfg->storm_accept_queue, errs);
	read_double(&rc, "storm_overflow_rate", 0, 1e9, &cfg->storm_overflow_rate);
	read_u32(&rc, "storm_enter", 1, 1000, &cfg->storm_enter);
	read_u32(&rc, "storm_exit", 1, 1000, &cfg->storm_exit);
	read_double(&rc, "storm_clear_fraction", 0.01, 1, &cfg->storm_clear_fraction);
	read_duration(&rc, "storm_halflife", 1000, 30 * day, &cfg->storm_halflife_ms);
	read_u32(&rc, "storm_warmup", 0, 1000000, &cfg->storm_warmup);
	read_duration(&rc, "storm_restart_grace", 0, day, &cfg->storm_restart_grace_ms);
	read_duration(&rc, "storm_max_freeze", 0, 30 * day, &cfg->storm_max_freeze_ms);
	read_duration(&rc, "cluster_grace", 0, day, &cfg->cluster_grace_ms);
	read_latency_us(&rc, "tail_threshold", &cfg->tail_threshold_us);
	read_double(&rc, "tail_fraction", 0.0001, 1, &cfg->tail_fraction);
	read_double(&rc, "tail_clear_fraction", 0, 1, &cfg->tail_clear_fraction);
	read_duration(&rc, "tail_short_window", 1, day, &cfg->tail_short_window_ms);
	read_duration(&rc, "tail_long_window", 1, day, &cfg->tail_long_window_ms);
	read_duration(&rc, "tail_slot", 1, 3600 * 1000, &cfg->tail_slot_ms);
	config_get_u64(file, section, "tail_min_samples", 1, 1000000000, cfg->tail_min_samples,
	    &cfg->tail_min_samples, errs);
	config_get_u64(file, section, "tail_long_min_samples", 1, 1000000000,
	    cfg->tail_long_min_samples, &cfg->tail_long_min_samples, errs);
	read_duration(&rc, "tail_clear_hold", 0, day, &cfg->tail_clear_hold_ms);
	read_double(&rc, "tail_baseline_k", 0, 100, &cfg->tail_baseline_k);
	read_double(&rc, "tail_baseline_ratio", 1, 1000, &cfg->tail_baseline_ratio);
	read_double(&rc, "tail_baseline_max", 0.0001, 1, &cfg->tail_baseline_max);
	read_duration(&rc, "tail_baseline_halflife", 1000, 30 * day,
	    &cfg->tail_baseline_halflife_ms);
	read_duration(&rc, "tail_warmup", 0, day, &cfg->tail_warmup_ms);
	read_u32(&rc, "down_failures", 1, 1000, &cfg->down_failures);
	read_duration(&rc, "down_silence", 0, day, &cfg->down_silence_ms);
	read_u32(&rc, "down_recoveries", 1, 1000, &cfg->down_recoveries);
	read_duration(&rc, "down_critical", 0, 30 * day, &cfg->down_critical_ms);
	read_double(&rc, "churn_rate", 0.01, 1e9, &cfg->churn_rate);
	read_double(&rc, "churn_share", 0.01, 1, &cfg->churn_share);
	read_duration(&rc, "churn_sustain", 0, day, &cfg->churn_sustain_ms);
	read_duration(&rc, "churn_clear", 0, day, &cfg->churn_clear_ms);
	read_double(&rc, "severity_major", 1, 1000, &cfg->severity_major);
	read_double(&rc, "severity_critical", 1, 1000, &cfg->severity_critical);
	/* Relations only between valid values: a bad key already said why. */
	if (errs->n + errs->dropped == before)
		check_relations(cfg, report_config, &rc);
	return errs->n + errs->dropped == before ? 0 : -1;
}

/* --- connection storm ---------------------------------------------------------------- */

static void
baseline_learn(struct detect_baseline *b, double x, double dt_s, int64_t halflife_ms)
{
	double alpha, diff, incr;

	if (b->n == 0) {
		b->mean = x;
		b->var = 0;
		b->n = 1;
		return;
	}
	/* A time-based EWMA (the poll interval may vary), but never slower than the
	 * plain mean of the samples so far: a young baseline is the average, not the
	 * first sample dragged along. */
	alpha = 1.0 - exp(-dt_s * log(2.0) / ((double)halflife_ms / 1000.0));
	if (alpha < 1.0 / (double)(b->n + 1))
		alpha = 1.0 / (double)(b->n + 1);
	diff = x - b->mean;
	incr = alpha * diff;
	b->mean += incr;
	b->var = (1.0 - alpha) * (b->var + diff * incr);
	b->n++;
}

static double
baseline_sigma(const struct detect_baseline *b)
{
	return b->var > 0 ? sqrt(b->var) : 0.0;
}

/* The level a signal must exceed: above k sigma, the ratio and the floor at once. */
static double
trip_level(const struct detect_config *cfg, const struct detect_baseline *b, double floor)
{
	double t = b->mean + cfg->storm_k * baseline_sigma(b);

	if (cfg->storm_ratio * b->mean > t)
		t = cfg->storm_ratio * b->mean;
	return floor > t ? floor : t;
}

void
detect_storm_init(struct detect_storm *storm)
{
	memset(storm, 0, sizeof(*storm));
}

bool
detect_storm_active(const struct detect_storm *storm)
{
	return detect_status_open(&storm->status);
}

/* Fills the evidence from a sample; returns the seconds since the previous one. */
static double
storm_measure(struct detect_storm *storm, const struct detect_config *cfg,
    const struct detect_storm_sample *s, int64_t now_ms)
{
	struct detect_storm_evidence *ev = &storm->evidence;
	double dt = storm->have_previous ? (double)(now_ms - storm->previous_ms) / 1000.0 : 0.0;

	ev->level = (double)s->curr_connections;
	ev->counter_reset = false;
	ev->rate_known = false;
	ev->rate = 0;
	if (storm->have_previous && s->total_connections < storm->previous_total) {
		/* The node restarted: its counters began again from zero. */
		ev->counter_reset = true;
		storm->restarted = true;
		storm->restart_ms = now_ms;
	} else if (storm->have_previous) {
		ev->rate = (double)(s->total_connections - storm->previous_total) / dt;
		ev->rate_known = true;
	}
	ev->accept_queue = s->has_kernel ? s->accept_queue : 0;
	ev->overflow_rate = 0;
	if (s->has_kernel && storm->have_previous && storm->previous_has_kernel &&
	    s->listen_overflows >= storm->previous_overflows)
		ev->overflow_rate = (double)(s->listen_overflows - storm->previous_overflows) / dt;

	storm->have_previous = true;
	storm->previous_ms = now_ms;
	storm->previous_total = s->total_connections;
	storm->previous_has_kernel = s->has_kernel;
	storm->previous_overflows = s->listen_overflows;

	ev->level_baseline = storm->level.mean;
	ev->level_sigma = baseline_sigma(&storm->level);
	ev->level_trip = trip_level(cfg, &storm->level, cfg->storm_floor);
	ev->rate_baseline = storm->rate.mean;
	ev->rate_sigma = baseline_sigma(&storm->rate);
	ev->rate_trip = trip_level(cfg, &storm->rate, cfg->storm_rate_floor);
	return dt;
}

enum detect_event
detect_storm_update(struct detect_storm *storm, const struct detect_config *cfg,
    const struct detect_storm_sample *sample, int64_t now_ms)
{
	struct detect_storm_evidence *ev = &storm->evidence;
	struct detect_status *st = &storm->status;
	enum detect_event event = DETECT_EVENT_NONE;
	double dt, c = cfg->storm_clear_fraction, aq_trip = (double)cfg->storm_accept_queue;
	bool warm, in_grace, quiet, frozen;

	if (storm->have_previous && now_ms <= storm->previous_ms)
		return DETECT_EVENT_NONE; /* no time passed: nothing to measure a rate over */
	dt = storm_measure(storm, cfg, sample, now_ms);
	warm = storm->level.n >= cfg->storm_warmup;
	in_grace = storm->restarted && now_ms - storm->restart_ms < cfg->storm_restart_grace_ms;

	ev->tripped = 0;
	ev->excess = 0;
	if (warm && ev->level > ev->level_trip) {
		ev->tripped |= DETECT_STORM_LEVEL;
		ev->excess = fmax(ev->excess, ev->level / ev->level_trip);
	}
	if (warm && ev->rate_known && !in_grace && storm->rate.n > 0 && ev->rate > ev->rate_trip) {
		ev->tripped |= DETECT_STORM_RATE;
		ev->excess = fmax(ev->excess, ev->rate / ev->rate_trip);
	}
	if (cfg->storm_accept_queue > 0 && ev->accept_queue >= cfg->storm_accept_queue) {
		ev->tripped |= DETECT_STORM_ACCEPT_QUEUE;
		ev->excess = fmax(ev->excess, (double)ev->accept_queue / aq_trip);
	}
	if (cfg->storm_overflow_rate > 0 && ev->overflow_rate >= cfg->storm_overflow_rate) {
		ev->tripped |= DETECT_STORM_OVERFLOWS;
		ev->excess = fmax(ev->excess, ev->overflow_rate / cfg->storm_overflow_rate);
	}
	/* Quiet: every signal well under its trip level (the exit hysteresis). */
	quiet = ev->level < c * ev->level_trip &&
	    (!ev->rate_known || in_grace || ev->rate < c * ev->rate_trip) &&
	    (cfg->storm_accept_queue == 0 || (double)ev->accept_queue < c * aq_trip) &&
	    (cfg->storm_overflow_rate == 0 || ev->overflow_rate < c * cfg->storm_overflow_rate);

	switch (st->state) {
	case DETECT_OK:
	case DETECT_PENDING:
		if (ev->tripped == 0) {
			storm->tripped_run = 0;
			status_set(st, DETECT_OK, now_ms);
			break;
		}
		if (++storm->tripped_run < cfg->storm_enter) {
			status_set(st, DETECT_PENDING, now_ms);
			break;
		}
		storm->quiet_run = 0;
		event = status_open(st, severity_of(cfg, ev->excess), now_ms);
		break;
	case DETECT_FIRING:
	case DETECT_RECOVERING:
		if (!quiet) {
			storm->quiet_run = 0;
			status_set(st, DETECT_FIRING, now_ms);
			if (ev->tripped != 0)
				event = status_raise(st, severity_of(cfg, ev->excess));
			break;
		}
		if (++storm->quiet_run < cfg->storm_exit) {
			status_set(st, DETECT_RECOVERING, now_ms);
			break;
		}
		storm->tripped_run = 0;
		event = status_clear(st, now_ms);
		break;
	}

	/* Learning. Frozen while a storm is open, or it would become the new normal;
	 * past storm_max_freeze it is taken to be the new normal after all. Outside a
	 * storm, a sample that tripped anything is not learnt either. During warm-up
	 * everything is learnt; after a restart nothing is, for a while: the reconnect
	 * surge and the empty node are both the restart, not the clients. */
	if (in_grace || ev->counter_reset)
		return event;
	frozen = detect_status_open(st) &&
	    !(cfg->storm_max_freeze_ms > 0 && now_ms - st->opened_ms >= cfg->storm_max_freeze_ms);
	if (warm && (frozen || (!detect_status_open(st) && ev->tripped != 0)))
		return event;
	baseline_learn(&storm->level, ev->level, dt, cfg->storm_halflife_ms);
	if (ev->rate_known)
		baseline_learn(&storm->rate, ev->rate, dt, cfg->storm_halflife_ms);
	return event;
}

/* --- cluster correlation ------------------------------------------------------------- */

int
detect_cluster_init(struct detect_cluster *cluster, size_t nnodes, char *err, size_t errlen)
{
	if (nnodes == 0 || nnodes > DETECT_CLUSTER_NODES_MAX) {
		snprintf(err, errlen, "a cluster of %zu nodes (1 to %d)", nnodes,
		    DETECT_CLUSTER_NODES_MAX);
		return -1;
	}
	memset(cluster, 0, sizeof(*cluster));
	cluster->nnodes = nnodes;
	cluster->evidence.nodes = nnodes;
	return 0;
}

enum detect_event
detect_cluster_update(struct detect_cluster *cluster, int64_t grace_ms,
    const struct detect_status *nodes, int64_t now_ms)
{
	struct detect_cluster_evidence *ev = &cluster->evidence;
	struct detect_status *st = &cluster->status;
	enum detect_severity severity = DETECT_SEVERITY_NONE;
	enum detect_event event = DETECT_EVENT_NONE;
	bool joined = false;
	size_t i;

	ev->in_storm = 0;
	for (i = 0; i < cluster->nnodes; i++) {
		if (!detect_status_open(&nodes[i]))
			continue;
		ev->in_storm++;
		if (nodes[i].severity > severity)
			severity = nodes[i].severity;
		if (cluster->involved[i] && cluster->last_seen_ms[i] < cluster->prev_update_ms)
			ev->returns++; /* it had left the episode, and is back */
		cluster->last_seen_ms[i] = now_ms;
		if (!cluster->involved[i]) {
			cluster->involved[i] = true;
			cluster->joined_ms[i] = now_ms;
			ev->involved++;
			ev->last_joined = i;
			joined = true;
		}
	}
	cluster->prev_update_ms = now_ms;
	if (ev->in_storm > 0)
		cluster->last_storm_ms = now_ms;
	if (ev->in_storm > ev->peak_in_storm)
		ev->peak_in_storm = ev->in_storm;
	/* Several nodes at once, or one after another, point at the clients. */
	if (severity < DETECT_SEVERITY_MINOR)
		severity = DETECT_SEVERITY_MINOR;
	if (ev->involved >= 2 && severity < DETECT_SEVERITY_MAJOR)
		severity = DETECT_SEVERITY_MAJOR;
	if (ev->in_storm >= 2 && 2 * ev->in_storm >= cluster->nnodes)
		severity = DETECT_SEVERITY_CRITICAL;

	switch (st->state) {
	case DETECT_OK:
	case DETECT_PENDING:
		if (ev->in_storm > 0)
			event = status_open(st, severity, now_ms);
		break;
	case DETECT_FIRING:
	case DETECT_RECOVERING:
		if (ev->in_storm > 0) {
			status_set(st, DETECT_FIRING, now_ms);
			event = status_raise(st, severity);
			if (joined)
				event = DETECT_EVENT_WORSENED;
			break;
		}
		if (now_ms - cluster->last_storm_ms < grace_ms) {
			status_set(st, DETECT_RECOVERING, now_ms);
			break;
		}
		event = status_clear(st, now_ms);
		memset(cluster->involved, 0, sizeof(cluster->involved));
		memset(cluster->joined_ms, 0, sizeof(cluster->joined_ms));
		memset(cluster->last_seen_ms, 0, sizeof(cluster->last_seen_ms));
		ev->involved = 0;
		ev->peak_in_storm = 0;
		ev->last_joined = 0;
		ev->returns = 0;
		break;
	}
	return event;
}

/* --- latency tail -------------------------------------------------------------------- */

int
detect_tail_init(struct detect_tail *tail, const struct detect_config *cfg, char *err,
    size_t errlen)
{
	uint64_t bound = cfg->tail_threshold_us;

	memset(tail, 0, sizeof(*tail));
	if (detect_config_check(cfg, err, errlen) < 0)
		return -1;
	if (histogram_window_init(&tail->window, cfg->tail_slot_ms,
	    (size_t)(cfg->tail_long_window_ms / cfg->tail_slot_ms), &bound, 1, err, errlen) < 0)
		return -1;
	histogram_init(&tail->scratch, &bound, 1, err, errlen);
	tail->evidence.threshold_us = bound;
	return 0;
}

void
detect_tail_release(struct detect_tail *tail)
{
	histogram_window_release(&tail->window);
}

void
detect_tail_record(struct detect_tail *tail, int64_t now_ms, uint64_t latency_us)
{
	histogram_window_record(&tail->window, now_ms, latency_us);
}

void
detect_tail_record_n(struct detect_tail *tail, int64_t now_ms, uint64_t latency_us,
    uint64_t count)
{
	if (count > 0)
		histogram_window_record_n(&tail->window, now_ms, latency_us, count);
}

static double
fraction(uint64_t part, uint64_t whole)
{
	return whole == 0 ? 0.0 : (double)part / (double)whole;
}

/*
 * The fraction a window must exceed, from its baseline b at n probes: k sigma above
 * it (sigma at least a binomial's, so a baseline learnt from a spotless node still
 * expects the odd slow probe) and ratio x above it, capped at ratio x the most a
 * baseline may be so that a tail that size is always seen, and never under
 * tail_fraction.
 */
static double
tail_trip(const struct detect_config *cfg, const struct detect_baseline *b, uint64_t n)
{
	double p = b->mean, sigma = baseline_sigma(b), binomial, t;
	double cap = cfg->tail_baseline_ratio * fmax(cfg->tail_fraction, cfg->tail_baseline_max);

	binomial = n > 0 ? sqrt(p * (1.0 - p) / (double)n) : 0.0;
	if (binomial > sigma)
		sigma = binomial;
	t = p + cfg->tail_baseline_k * sigma;
	if (cfg->tail_baseline_ratio * p > t)
		t = cfg->tail_baseline_ratio * p;
	if (t > cap)
		t = cap;
	return t > cfg->tail_fraction ? t : cfg->tail_fraction;
}

/* A node slower than tail_baseline_max all the time is in a tail, not in its normal:
 * what is learnt is capped there, so a monitor started during a tail still sees it. */
static void
tail_learn(struct detect_baseline *b, double fraction, double dt_s,
    const struct detect_config *cfg)
{
	baseline_learn(b, fmin(fraction, cfg->tail_baseline_max), dt_s,
	    cfg->tail_baseline_halflife_ms);
}

enum detect_event
detect_tail_evaluate(struct detect_tail *tail, const struct detect_config *cfg, int64_t now_ms)
{
	struct detect_tail_evidence *ev = &tail->evidence;
	struct detect_status *st = &tail->status;
	enum detect_event event = DETECT_EVENT_NONE;
	uint64_t thr = ev->threshold_us;
	bool short_enough, long_enough, short_hot, hot, quiet, learn;
	double clear_share, dt;
	char err[CHECK_MSG_MAX];

	histogram_window_count(&tail->window, now_ms, cfg->tail_short_window_ms, thr,
	    &ev->short_count, &ev->short_slow);
	histogram_window_count(&tail->window, now_ms, cfg->tail_long_window_ms, thr,
	    &ev->long_count, &ev->long_slow);
	ev->short_fraction = fraction(ev->short_slow, ev->short_count);
	ev->long_fraction = fraction(ev->long_slow, ev->long_count);
	ev->excess = fmin(ev->short_fraction, ev->long_fraction) / cfg->tail_fraction;
	/* The scratch histogram was made with the window's bounds: the sum cannot fail. */
	histogram_window_sum(&tail->window, now_ms, cfg->tail_short_window_ms, &tail->scratch,
	    err, sizeof(err));
	ev->p50_us = histogram_percentile(&tail->scratch, 50);
	ev->p90_us = histogram_percentile(&tail->scratch, 90);
	ev->p99_us = histogram_percentile(&tail->scratch, 99);

	ev->baseline = tail->short_baseline.mean;
	ev->short_trip = tail_trip(cfg, &tail->short_baseline, ev->short_count);
	ev->long_trip = tail_trip(cfg, &tail->long_baseline, ev->long_count);
	clear_share = cfg->tail_clear_fraction / cfg->tail_fraction;
	ev->clear_level = ev->baseline + clear_share * (ev->short_trip - ev->baseline);
	if (ev->clear_level < cfg->tail_clear_fraction)
		ev->clear_level = cfg->tail_clear_fraction;
	ev->warm = cfg->tail_warmup_ms == 0 ||
	    (tail->warm_from_ms != 0 && now_ms - tail->warm_from_ms >= cfg->tail_warmup_ms);

	short_enough = ev->short_count >= cfg->tail_min_samples;
	long_enough = ev->long_count >= cfg->tail_long_min_samples;
	short_hot = short_enough && ev->short_fraction > ev->short_trip;
	hot = ev->warm && short_hot && long_enough && ev->long_fraction > ev->long_trip;
	quiet = short_enough && ev->short_fraction < ev->clear_level;

	/* Learn from this evaluation: every one with enough samples while warming up,
	 * then only a node in no tail at all (the baseline is frozen while one is open
	 * or pending, or the tail would become its own normal). */
	learn = short_enough && long_enough && now_ms > tail->learnt_ms &&
	    (!ev->warm || (st->state == DETECT_OK && !short_hot));
	if (learn) {
		dt = tail->learnt_ms != 0 ? (double)(now_ms - tail->learnt_ms) / 1000.0 : 0.0;
		tail_learn(&tail->short_baseline, ev->short_fraction, dt, cfg);
		tail_learn(&tail->long_baseline, ev->long_fraction, dt, cfg);
		tail->learnt_ms = now_ms;
		if (tail->warm_from_ms == 0)
			tail->warm_from_ms = now_ms;
	}

	switch (st->state) {
	case DETECT_OK:
	case DETECT_PENDING:
		if (hot)
			event = status_open(st, severity_of(cfg, ev->excess), now_ms);
		else
			status_set(st, short_hot ? DETECT_PENDING : DETECT_OK, now_ms);
		break;
	case DETECT_FIRING:
	case DETECT_RECOVERING:
		if (!quiet) {
			status_set(st, DETECT_FIRING, now_ms);
			if (hot)
				event = status_raise(st, severity_of(cfg, ev->excess));
			break;
		}
		if (st->state == DETECT_FIRING) {
			status_set(st, DETECT_RECOVERING, now_ms);
			tail->quiet_since_ms = now_ms;
		}
		if (now_ms - tail->quiet_since_ms >= cfg->tail_clear_hold_ms)
			event = status_clear(st, now_ms);
		break;
	}
	return event;
}

/* --- node down ----------------------------------------------------------------------- */

void
detect_down_init(struct detect_down *down)
{
	memset(down, 0, sizeof(*down));
}

/* Starts watching, and forgives silence that was our own (a gap between calls). */
static void
down_observe(struct detect_down *down, const struct detect_config *cfg, int64_t now_ms)
{
	if (!down->watching) {
		down->watching = true;
		down->silence_from_ms = now_ms;
		down->last_call_ms = now_ms;
		return;
	}
	if (cfg->down_silence_ms > 0 && now_ms - down->last_call_ms > cfg->down_silence_ms)
		down->silence_from_ms = now_ms;
	if (now_ms > down->last_call_ms)
		down->last_call_ms = now_ms;
}

static enum detect_event
down_decide(struct detect_down *down, const struct detect_config *cfg, int64_t now_ms)
{
	struct detect_down_evidence *ev = &down->evidence;
	struct detect_status *st = &down->status;
	bool silent, failing;

	ev->silent_ms = now_ms > down->silence_from_ms ? now_ms - down->silence_from_ms : 0;
	silent = cfg->down_silence_ms > 0 && ev->silent_ms >= cfg->down_silence_ms;
	failing = ev->failures >= cfg->down_failures || silent;

	switch (st->state) {
	case DETECT_OK:
	case DETECT_PENDING:
		if (failing) {
			ev->by_silence = ev->failures < cfg->down_failures;
			return status_open(st, DETECT_SEVERITY_MAJOR, now_ms);
		}
		status_set(st, ev->failures > 0 ? DETECT_PENDING : DETECT_OK, now_ms);
		return DETECT_EVENT_NONE;
	case DETECT_FIRING:
	case DETECT_RECOVERING:
		if (ev->successes >= cfg->down_recoveries)
			return status_clear(st, now_ms);
		if (ev->successes > 0 && !silent) {
			status_set(st, DETECT_RECOVERING, now_ms);
			return DETECT_EVENT_NONE;
		}
		status_set(st, DETECT_FIRING, now_ms);
		if (cfg->down_critical_ms > 0 && now_ms - st->opened_ms >= cfg->down_critical_ms)
			return status_raise(st, DETECT_SEVERITY_CRITICAL);
		return DETECT_EVENT_NONE;
	}
	return DETECT_EVENT_NONE;
}

enum detect_event
detect_down_probe(struct detect_down *down, const struct detect_config *cfg, bool ok,
    int64_t now_ms)
{
	struct detect_down_evidence *ev = &down->evidence;

	down_observe(down, cfg, now_ms);
	if (ok) {
		if (ev->successes < UINT32_MAX)
			ev->successes++;
		ev->failures = 0;
		ev->last_success_ms = now_ms;
		down->silence_from_ms = now_ms;
	} else {
		if (ev->failures < UINT32_MAX)
			ev->failures++;
		ev->successes = 0;
	}
	return down_decide(down, cfg, now_ms);
}

enum detect_event
detect_down_tick(struct detect_down *down, const struct detect_config *cfg, int64_t now_ms)
{
	down_observe(down, cfg, now_ms);
	return down_decide(down, cfg, now_ms);
}
