/*
 * alerter — see alerter.h.
 *
 * The loop (alerter_run): one round every ALERTER_TICK_MS at most —
 *   xclient_run()     libstrophe reads and writes; callbacks mark incidents dirty,
 *                     record receipts and failures, answer chat commands
 *   intake            the Alertmanager listener's pending requests
 *   pending           writes the log refused while busy, in order (pending.h)
 *   tail              new events of the log (anyone's): incidents to look at again,
 *                     notices to send, overrides, test pages
 *   reconcile         every incident that is dirty or whose deadline came: decide
 *                     (escalation.h), record, send
 *   sweep             every ALERTER_SWEEP_MS all unresolved incidents are looked at
 *                     again, whatever the events said
 *
 * This file holds the lifecycle and the log's side of the loop; pages are decided and
 * sent in alerter_page.c, the XMPP session is handled in alerter_session.c, and
 * struct alerter is in alerter_int.h, which only these three files include.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "alerter_int.h"
#include "chat.h"
#include "log.h"
#include "sdnotify.h"

uint64_t
alerter_session(const struct alerter *a)
{
	return a->session_base + xclient_session(a->xc);
}

void
alerter_mark_wrote(struct alerter *a)
{
	a->wrote = true;
}

/* --- writing to a log that may be busy ------------------------------------------- */

/* The log refused a write (err): no more tries this round; reported once per spell. */
void
log_refused(struct alerter *a, const char *err)
{
	a->round_busy = true;
	a->health.log_busy++;
	if (a->health.log_busy_since != 0)
		return;
	a->health.log_busy_since = ilog_now(a->log);
	log_warn("the incident log refuses writes: %s (another process holds it?); paging, "
		 "pings and timers go on, and the writes are retried at every tick", err);
}

/* A write went through: a busy spell, if any, is over. */
void
log_accepted(struct alerter *a)
{
	if (a->health.log_busy_since == 0)
		return;
	log_info("the incident log takes writes again after %" PRId64 " ms (%" PRIu64
		 " refused writes; %zu still waiting)", ilog_now(a->log) - a->health.log_busy_since,
	    a->health.log_busy, a->pending.n);
	a->health.log_busy_since = 0;
}

/* Whether a write may be tried now: none refused this round, none waiting before it. */
bool
log_ready(const struct alerter *a)
{
	return !a->round_busy && a->pending.n == 0;
}

enum ilog_status
alerter_write(struct alerter *a, const struct log_write *w, bool *queued, char *err,
    size_t errlen)
{
	enum ilog_status st;

	*queued = false;
	if (log_ready(a)) {
		st = log_write_apply(a->log, w, err, errlen);
		if (st == ILOG_ERR_DB) {
			log_refused(a, err);
		} else {
			log_accepted(a);
			alerter_mark_wrote(a);
			return st;
		}
	} else {
		snprintf(err, errlen, "the incident log is busy");
	}
	if (pending_add(&a->pending, w) != 0) {
		LOG_LIMITED(LOG_LEVEL_ERR, "more than %d writes wait for the incident log: a %s "
		    "write is lost (%" PRIu64 " so far)", PENDING_MAX,
		    w->kind == LOG_WRITE_EVENT ? w->type : "page or incident", a->pending.dropped);
		return ILOG_ERR_DB;
	}
	a->health.log_waiting = a->pending.n;
	*queued = true;
	return ILOG_ERR_DB;
}

static void
pending_done(void *arg, const struct log_write *w)
{
	struct alerter *a = arg;

	alerter_mark_dirty(a, w->incident_id);
	if (w->kind == LOG_WRITE_ACK || w->kind == LOG_WRITE_RESOLVE)
		log_info("#%" PRId64 " %s by %s (recorded once the log was free)", w->incident_id,
		    w->kind == LOG_WRITE_ACK ? "acknowledged" : "resolved", w->actor);
}

static void
pending_dropped(void *arg, const struct log_write *w, enum ilog_status st, const char *err)
{
	struct alerter *a = arg;

	alerter_mark_dirty(a, w->incident_id);
	LOG_LIMITED(LOG_LEVEL_WARN, "a write that waited for the log was refused: %s", err);
}

/* Writes what waited for the log, first thing in a round, so nothing overtakes it. */
static void
flush_pending(struct alerter *a)
{
	char err[ILOG_ERR_LEN];

	if (a->pending.n == 0)
		return;
	if (pending_flush(&a->pending, a->log, pending_done, pending_dropped, a, err,
	    sizeof(err)) != ILOG_OK)
		log_refused(a, err);
	else
		log_accepted(a);
	a->health.log_waiting = a->pending.n;
	alerter_mark_wrote(a);
}

/* The cursor, when it moved and the log takes writes. */
static void
save_cursor(struct alerter *a)
{
	char err[ILOG_ERR_LEN];

	if (a->cursor == a->cursor_saved || !log_ready(a))
		return;
	if (ilog_cursor_set(a->log, ALERTER_CONSUMER, a->cursor, err, sizeof(err)) != ILOG_OK) {
		log_refused(a, err);
		return;
	}
	log_accepted(a);
	a->cursor_saved = a->cursor;
}

struct ilog *
alerter_log(struct alerter *a)
{
	return a->log;
}

const struct alerter_settings *
alerter_config(const struct alerter *a)
{
	return a->set;
}

const struct rotation_overrides *
alerter_overrides(const struct alerter *a)
{
	return &a->ov;
}

bool
alerter_online(const struct alerter *a)
{
	return xclient_state(a->xc) == XCLIENT_ONLINE;
}

void
alerter_reply(struct alerter *a, const char *to, const char *text)
{
	char id[ALERTER_ID_MAX];

	snprintf(id, sizeof(id), "mcalert-r%" PRIu64, ++a->msg_seq);
	xclient_send(a->xc, to, false, id, text, false);
}

size_t
alerter_tracked_count(const struct alerter *a)
{
	return a->ntracked;
}

int64_t
alerter_tracked_id(const struct alerter *a, size_t i)
{
	return a->tracked[i].id;
}

int
alerter_actor(const char *bare, char *buf, size_t len)
{
	size_t n = strlen(bare);

	if (n + 6 > len)
		return -1;
	memcpy(buf, "xmpp:", 5);
	memcpy(buf + 5, bare, n + 1);
	return 0;
}

/* --- tracked incidents ------------------------------------------------------------- */

static struct tracked *
track(struct alerter *a, int64_t id)
{
	size_t i;

	for (i = 0; i < a->ntracked; i++) {
		if (a->tracked[i].id == id) {
			a->tracked[i].dirty = true;
			return &a->tracked[i];
		}
	}
	if (a->ntracked == ALERTER_TRACKED_MAX) {
		LOG_LIMITED(LOG_LEVEL_ERR, "more than %d unresolved incidents: #%" PRId64
		    " waits for the next sweep", ALERTER_TRACKED_MAX, id);
		return NULL;
	}
	a->tracked[a->ntracked] = (struct tracked){ id, 0, true };
	return &a->tracked[a->ntracked++];
}

void
untrack(struct alerter *a, size_t i)
{
	a->tracked[i] = a->tracked[--a->ntracked];
}

void
mark_all_dirty(struct alerter *a)
{
	size_t i;

	for (i = 0; i < a->ntracked; i++)
		a->tracked[i].dirty = true;
}

void
alerter_mark_dirty(struct alerter *a, int64_t id)
{
	if (id > 0)
		track(a, id);
}

/* --- the log's events ---------------------------------------------------------------- */


/*
 * The log's maintenances and silences, which hold pages (lib/ilog_maintenance.h),
 * read again; every incident is decided again, since one may have started, ended
 * early or been cancelled. Starts and ends by time need no reading: the decisions
 * compare the times with now.
 */
static void
read_maintenances(struct alerter *a, int64_t now)
{
	char err[ILOG_ERR_LEN];
	size_t n = 0;

	if (ilog_maint_list(a->log, now, false, a->maints, ILOG_MAINT_LIST_MAX, &n, err,
	    sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "cannot read the maintenances: %s", err);
		return; /* the previous list stands */
	}
	a->nmaints = n;
	mark_all_dirty(a);
}

static bool
is_maintenance_event(const char *type)
{
	static const char *const types[] = { ILOG_EV_MAINT_SCHEDULED, ILOG_EV_MAINT_STARTED,
		ILOG_EV_MAINT_COMPLETED, ILOG_EV_MAINT_CANCELLED, ILOG_EV_SILENCE_SET,
		ILOG_EV_SILENCE_CANCELLED };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return true;
	return false;
}

static void
handle_event(struct alerter *a, const struct ilog_event *ev, int64_t now)
{
	char err[ILOG_ERR_LEN];
	int rc;

	if (ev->incident_id != 0)
		alerter_mark_dirty(a, ev->incident_id);
	if (ev->incident_id != 0 && now - ev->at < ALERTER_NOTICE_MAX_AGE_MS) {
		if (strcmp(ev->type, ILOG_EV_ACKED) == 0)
			notify(a, ev, "acknowledged");
		else if (strcmp(ev->type, ILOG_EV_RESOLVED) == 0)
			notify(a, ev, "resolved");
		return;
	}
	if (ev->incident_id != 0)
		return;
	if (strcmp(ev->type, ALERTER_EV_TEST) == 0) {
		if (now - ev->at < ALERTER_TEST_MAX_AGE_MS)
			queue_test(a, ev);
		return;
	}
	if (is_maintenance_event(ev->type)) {
		read_maintenances(a, now);
		return;
	}
	rc = rotation_overrides_apply(&a->ov, ev, now, err, sizeof(err));
	if (rc < 0)
		LOG_LIMITED(LOG_LEVEL_WARN, "on-call override ignored: %s", err);
	if (rc > 0) {
		log_info("on-call override %s (event %" PRId64 " by %s)",
		    strcmp(ev->type, ROTATION_EV_CANCEL) == 0 ? "cancelled" : "recorded", ev->id,
		    ev->actor);
		update_contacts(a);
	}
}

static void
tail(struct alerter *a, int64_t now)
{
	struct ilog_events evs = { 0 };
	char err[ILOG_ERR_LEN];
	int batches;
	size_t i;

	for (batches = 0; batches < 10; batches++) {
		if (ilog_tail(a->log, a->cursor, 0, &evs, err, sizeof(err)) != ILOG_OK) {
			LOG_LIMITED(LOG_LEVEL_ERR, "cannot read the log: %s", err);
			break;
		}
		for (i = 0; i < evs.n; i++)
			handle_event(a, &evs.v[i], now);
		if (evs.n > 0)
			a->cursor = evs.v[evs.n - 1].id;
		if (!evs.truncated)
			break;
	}
	ilog_events_release(&evs);
	save_cursor(a);
}

/* Every unresolved incident of the log, tracked and dirty. */
static void
sweep(struct alerter *a)
{
	struct ilog_query q = { 0 };
	struct ilog_incidents list = { 0 };
	char err[ILOG_ERR_LEN];
	size_t i;

	if (ilog_incident_list(a->log, &q, &list, err, sizeof(err)) != ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_ERR, "cannot list incidents: %s", err);
		return;
	}
	for (i = 0; i < list.n; i++)
		track(a, list.v[i].id);
	mark_all_dirty(a);
	ilog_incidents_release(&list);
}


/* --- setup and the loop --------------------------------------------------------------- */

static int
start_intake(struct alerter *a, char *err, size_t errlen)
{
	if (!a->set->has_intake)
		return 0;
	a->intake = intake_start(a->base, &a->set->intake,
	    a->set->has_intake_token ? a->set->intake_token : NULL, a->log, err, errlen);
	if (a->intake == NULL)
		return -1;
	intake_set_health(a->intake, &a->health);
	return 0;
}

static int
start_fallback(struct alerter *a, char *err, size_t errlen)
{
	a->has_fallback = false;
	if (a->set->fallback_url[0] == '\0')
		return 0;
	if (fallback_init(&a->fb, a->set->fallback_url, a->set->fallback_timeout_ms, err,
	    errlen) != 0)
		return -1;
	a->has_fallback = true;
	return 0;
}

struct alerter *
alerter_new(struct alerter_settings *set, bool debug, char *err, size_t errlen)
{
	struct alerter *a = calloc(1, sizeof(*a));
	struct ilog_options log_opts = { .busy_timeout_ms = ALERTER_LOG_BUSY_TIMEOUT_MS,
		.busy_retry_ms = ALERTER_LOG_BUSY_RETRY_MS };
	char lerr[ILOG_ERR_LEN];

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		settings_release(set);
		free(set);
		return NULL;
	}
	a->set = set;
	a->debug = debug;
	a->tracked = calloc(ALERTER_TRACKED_MAX, sizeof(*a->tracked));
	a->sent = calloc(ALERTER_SENT_MAX, sizeof(*a->sent));
	a->notices = calloc(ALERTER_NOTICES_MAX, sizeof(*a->notices));
	a->maints = calloc(ILOG_MAINT_LIST_MAX, sizeof(*a->maints));
	a->chat = chat_new(a);
	if (a->tracked == NULL || a->sent == NULL || a->notices == NULL || a->chat == NULL ||
	    a->maints == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (pending_init(&a->pending) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((a->log = ilog_open(set->db_path, &log_opts, lerr, sizeof(lerr))) == NULL) {
		snprintf(err, errlen, "cannot open the incident log %s: %s", set->db_path, lerr);
		goto fail;
	}
	if ((a->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "cannot create an event base");
		goto fail;
	}
	if (start_intake(a, err, errlen) != 0 || start_fallback(a, err, errlen) != 0)
		goto fail;
	if ((a->watchdog = watchdog_new(set, ilog_now(a->log), err, errlen)) == NULL)
		goto fail;
	if ((a->xc = make_client(a, err, errlen)) == NULL)
		goto fail;
	return a;
fail:
	alerter_free(a);
	return NULL;
}

void
alerter_free(struct alerter *a)
{
	if (a == NULL)
		return;
	xclient_free(a->xc);
	intake_stop(a->intake);
	if (a->base != NULL)
		event_base_free(a->base);
	if (a->has_fallback)
		fallback_release(&a->fb);
	watchdog_free(a->watchdog);
	ilog_close(a->log);
	pending_release(&a->pending);
	rotation_overrides_release(&a->ov);
	if (a->set != NULL) {
		settings_release(a->set);
		free(a->set);
	}
	free(a->tracked);
	free(a->sent);
	free(a->notices);
	free(a->maints);
	chat_free(a->chat);
	free(a);
}

/* The connection settings differ: the client must be made again. */
static bool
connection_changed(const struct alerter_settings *x, const struct alerter_settings *y)
{
	return strcmp(x->jid, y->jid) != 0 || strcmp(x->password, y->password) != 0 ||
	       strcmp(x->resource, y->resource) != 0 || strcmp(x->nick, y->nick) != 0 ||
	       strcmp(x->server_host, y->server_host) != 0 || x->server_port != y->server_port ||
	       x->tls != y->tls || x->tls_insecure != y->tls_insecure ||
	       strcmp(x->tls_ca, y->tls_ca) != 0 || x->reconnect_min_ms != y->reconnect_min_ms ||
	       x->reconnect_max_ms != y->reconnect_max_ms ||
	       x->ping_interval_ms != y->ping_interval_ms ||
	       x->ping_timeout_ms != y->ping_timeout_ms;
}

static void
reload(struct alerter *a, const char *path)
{
	struct alerter_settings *n = calloc(1, sizeof(*n)), *old = a->set;
	struct config_errors errs = { 0 };
	char err[256];
	size_t i;

	if (n == NULL) {
		log_err("reload: out of memory; the running configuration stays");
		return;
	}
	if (settings_load(n, path, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			log_err("%s", errs.msgs[i]);
		log_err("reload: %s has errors; the running configuration stays", path);
		config_errors_release(&errs);
		free(n);
		return;
	}
	config_errors_release(&errs);
	if (strcmp(n->db_path, old->db_path) != 0 || n->has_intake != old->has_intake ||
	    strcmp(n->intake.text, old->intake.text) != 0)
		log_warn("reload: a new database or intake address takes a restart; "
			 "the running ones stay");
	snprintf(n->db_path, sizeof(n->db_path), "%s", old->db_path);
	n->has_intake = old->has_intake;
	n->intake = old->intake;
	if (connection_changed(old, n)) {
		struct xclient *fresh;
		a->set = n;
		if ((fresh = make_client(a, err, sizeof(err))) == NULL) {
			a->set = old;
			log_err("reload: %s; the running configuration stays", err);
			settings_release(n);
			free(n);
			return;
		}
		a->session_base += xclient_session(a->xc);
		xclient_free(a->xc);
		a->xc = fresh;
	}
	a->set = n;
	if (a->has_fallback)
		fallback_release(&a->fb);
	if (start_fallback(a, err, sizeof(err)) != 0)
		log_err("reload: fallback: %s", err);
	a->fallback_retry_at = 0;
	if (watchdog_configure(a->watchdog, n, ilog_now(a->log), err, sizeof(err)) != 0)
		log_err("reload: heartbeat_url: %s", err);
	/* The intake listener borrows the token: it now lives in n. */
	if (a->intake != NULL) {
		intake_stop(a->intake);
		a->intake = NULL;
		if (start_intake(a, err, sizeof(err)) != 0)
			log_err("reload: intake: %s", err);
	}
	settings_release(old);
	free(old);
	update_contacts(a);
	mark_all_dirty(a);
	log_info("configuration reloaded");
}

int
alerter_run(struct alerter *a, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload_flag,
    const char *config_path)
{
	char err[ILOG_ERR_LEN];
	bool changed;
	int64_t now, last_id, wake = 0;
	int timeout;

	if (ilog_cursor_get(a->log, ALERTER_CONSUMER, &a->cursor, err, sizeof(err)) != ILOG_OK) {
		log_err("cannot read the cursor: %s", err);
		return 1;
	}
	if (a->cursor == 0) {
		/* First start: the history is not news. Unresolved incidents are found by
		 * the sweep below; old acknowledgements need no notices. */
		if (ilog_last_event_id(a->log, &last_id, err, sizeof(err)) != ILOG_OK) {
			log_err("cannot start the cursor: %s", err);
			return 1;
		}
		a->cursor = last_id;
	} else {
		a->cursor_saved = a->cursor;
	}
	/* A first start's cursor is stored by the first round (save_cursor), which also
	 * waits out a log that another process holds. */
	now = ilog_now(a->log);
	if (rotation_overrides_read(a->log, now, &a->ov, err, sizeof(err)) != 0)
		log_err("cannot read the on-call overrides: %s", err);
	update_contacts(a);
	sweep(a);
	read_maintenances(a, now);
	a->next_sweep = now + ALERTER_SWEEP_MS;
	log_info("started: %zu unresolved incidents, cursor at event %" PRId64, a->ntracked,
	    a->cursor);
	while (!*stop) {
		/* A remedy off the loop borrows the configuration: reload after it. */
		if (*reload_flag && !chat_busy(a->chat)) {
			*reload_flag = 0;
			sdnotify_reloading();
			reload(a, config_path);
			sdnotify_ready();
		}
		/* Sleep a tick at most, less when a deadline falls inside it. */
		timeout = ALERTER_TICK_MS;
		if (wake != 0) {
			int64_t left = wake - ilog_now(a->log);
			timeout = left < 1 ? 1 : left < ALERTER_TICK_MS ? (int)left : ALERTER_TICK_MS;
		}
		xclient_run(a->xc, timeout);
		event_base_loop(a->base, EVLOOP_NONBLOCK);
		chat_poll(a->chat, false);
		a->round_busy = false;
		flush_pending(a);
		now = ilog_now(a->log);
		changed = false;
		if (ilog_changed(a->log, &changed, err, sizeof(err)) != ILOG_OK)
			LOG_LIMITED(LOG_LEVEL_ERR, "cannot poll the log: %s", err);
		if (changed || a->wrote || now >= a->next_tail) {
			a->wrote = false;
			a->next_tail = now + ALERTER_TAIL_POLL_MS;
			tail(a, now);
		}
		if (now >= a->next_sweep) {
			a->next_sweep = now + ALERTER_SWEEP_MS;
			sweep(a);
		}
		if (!a->fallback_armed && a->has_fallback &&
		    xclient_down_ms(a->xc) >= a->set->fallback_after_ms) {
			a->fallback_armed = true;
			log_warn("the chat server has been unreachable for %" PRId64 " ms: pages go "
				 "to the fallback webhook", xclient_down_ms(a->xc));
			mark_all_dirty(a);
		}
		if (a->settle_until != 0 && now >= a->settle_until) {
			a->settle_until = 0;
			mark_all_dirty(a);
		}
		wake = reconcile_due(a, now);
		flush_notices(a);
		run_tests(a, now);
		if (a->intake != NULL && intake_accept_news(a->intake, err, sizeof(err)))
			LOG_LIMITED(LOG_LEVEL_WARN, "intake: %s", err);
		log_flush_suppressed();
		if (watchdog_run(a->watchdog, a->set, now))
			alerter_mark_wrote(a);
	}
	log_info("stopping");
	sdnotify_stopping();
	/* A remedy that ran is recorded before mcalert goes (its nodes bound the wait). */
	chat_poll(a->chat, true);
	return 0;
}
