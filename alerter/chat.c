/*
 * chat — see chat.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat.h"
#include "chat_remedy.h"
#include "command.h"
#include "confirm.h"
#include "ilog_maintenance.h"
#include "daemon.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "utctime.h"

struct refusal {
	char jid[JID_MAX + 1];
	int64_t last_reply;
};

struct chat {
	struct alerter *a;
	struct refusal refused[CHAT_REFUSED_MAX];
	size_t nrefused;
	struct confirm confirm;     /* remedies waiting for their sender's "yes" */
	struct chat_remedy *remedy; /* the one running off the loop, if any */
};

struct chat *
chat_new(struct alerter *a)
{
	struct chat *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->a = a;
	if ((c->remedy = chat_remedy_new()) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
chat_free(struct chat *c)
{
	if (c == NULL)
		return;
	chat_remedy_free(c->remedy);
	free(c);
}

void
chat_poll(struct chat *c, bool wait)
{
	if (c != NULL)
		chat_remedy_poll(c->a, c->remedy, &c->confirm, wait);
}

bool
chat_busy(const struct chat *c)
{
	return c != NULL && chat_remedy_busy(c->remedy);
}

static bool
refuse(struct chat *c, const char *bare, int64_t now)
{
	struct refusal *r = NULL;
	size_t i, oldest = 0;

	for (i = 0; i < c->nrefused; i++) {
		if (jid_equal(c->refused[i].jid, bare)) {
			r = &c->refused[i];
			break;
		}
		if (c->refused[i].last_reply < c->refused[oldest].last_reply)
			oldest = i;
	}
	if (r == NULL) {
		log_warn("refused a command from %s: not an authorized JID (further attempts from "
			 "it are not logged)", bare);
		r = c->nrefused < CHAT_REFUSED_MAX ? &c->refused[c->nrefused++] : &c->refused[oldest];
		snprintf(r->jid, sizeof(r->jid), "%s", bare);
		r->last_reply = 0;
	}
	if (r->last_reply != 0 && now - r->last_reply < CHAT_REFUSAL_PERIOD_MS)
		return false;
	r->last_reply = now;
	return true;
}

/* The reply when a change waits for the log: the incident, what, and what follows. */
#define KEPT_REPLY "#%" PRId64 ": the incident log is busy (another process holds it); " \
		   "your %s is kept and recorded as soon as it is free%s."

/* A change to incident id by actor (type: an event's; text: its body or message),
 * through the daemon, which keeps it while the log is busy. */
static enum ilog_status
write_change(struct alerter *a, enum log_write_kind kind, int64_t id, const char *actor,
    const char *type, const char *text, bool *queued, char *err, size_t errlen)
{
	struct log_write w = { .kind = kind, .incident_id = id };

	snprintf(w.actor, sizeof(w.actor), "%s", actor);
	snprintf(w.type, sizeof(w.type), "%s", type != NULL ? type : "");
	snprintf(w.text, sizeof(w.text), "%s", text);
	return alerter_write(a, &w, queued, err, errlen);
}

/* The incident of the sender's latest page among the unresolved ones, or 0. */
static int64_t
latest_page_for(struct alerter *a, const char *bare)
{
	struct ilog_pages pages = { 0 };
	char err[ILOG_ERR_LEN];
	int64_t best_at = 0, best = 0;
	size_t i, j;

	for (i = 0; i < alerter_tracked_count(a); i++) {
		if (ilog_page_list(alerter_log(a), alerter_tracked_id(a, i), &pages, err,
		    sizeof(err)) != ILOG_OK)
			continue;
		for (j = 0; j < pages.n; j++) {
			if (jid_equal(pages.v[j].target, bare) && pages.v[j].sent_at >= best_at) {
				best_at = pages.v[j].sent_at;
				best = pages.v[j].incident_id;
			}
		}
	}
	ilog_pages_release(&pages);
	return best;
}

static void
command_ack(struct alerter *a, const char *from, const char *actor, const struct command *c,
    char *out, size_t len)
{
	const struct alerter_settings *set = alerter_config(a);
	char err[ILOG_ERR_LEN], bare[JID_MAX + 1], d[MESSAGE_DURATION_MAX], body[COMMAND_TEXT_MAX + 32];
	struct snap s;
	int64_t id = c->id;
	enum ilog_status st;
	bool queued = false;

	jid_bare(from, bare, sizeof(bare));
	if (id == 0 && (id = latest_page_for(a, bare)) == 0) {
		snprintf(out, len, "You have no unresolved page. Say \"ack N\" for incident N.");
		return;
	}
	st = alerter_snap_load(a, id, &s, err, sizeof(err));
	if (st == ILOG_ERR_NOT_FOUND) {
		snprintf(out, len, "There is no incident #%" PRId64 ".", id);
	} else if (st != ILOG_OK) {
		snprintf(out, len, "Sorry, the incident log cannot be read: %s", err);
	} else if (s.inc.state == ILOG_STATE_RESOLVED) {
		snprintf(out, len, "#%" PRId64 " is already resolved (by %s).", id,
		    message_who(s.inc.resolved_by));
	} else if (s.inc.state == ILOG_STATE_OPEN) {
		st = write_change(a, LOG_WRITE_ACK, id, actor, NULL, c->message, &queued, err,
		    sizeof(err));
		if (queued) {
			snprintf(out, len, KEPT_REPLY, id, "acknowledgement", "; paging stops then");
			log_info("#%" PRId64 ": the acknowledgement by %s waits for the busy log", id,
			    actor);
		} else if (st != ILOG_OK) {
			snprintf(out, len, "#%" PRId64 " could not be acknowledged: %s", id, err);
		} else {
			message_duration(set->policy.ack_timeout_ms, d, sizeof(d));
			if (set->policy.ack_timeout_ms > 0)
				snprintf(out, len, "#%" PRId64 " acknowledged: paging stopped. If it is still "
				    "open in %s, it is paged again.", id, d);
			else
				snprintf(out, len, "#%" PRId64 " acknowledged: paging stopped.", id);
			log_info("#%" PRId64 " acknowledged by %s", id, actor);
		}
	} else if (s.view.has_page && s.view.last.event > s.view.ack_event) {
		/* Paged again after its ack timeout: this acknowledgement renews it. */
		json_t *j = json_object();
		char *text;
		if (j != NULL && c->message[0] != '\0')
			json_object_set_new(j, "message", json_string(c->message));
		text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		snprintf(body, sizeof(body), "%s", text != NULL ? text : "{}");
		free(text);
		st = write_change(a, LOG_WRITE_EVENT, id, actor, ALERTER_EV_ACK_RENEWED, body, &queued,
		    err, sizeof(err));
		if (queued)
			snprintf(out, len, KEPT_REPLY, id, "acknowledgement", "; paging stops then");
		else if (st != ILOG_OK)
			snprintf(out, len, "#%" PRId64 " could not be acknowledged: %s", id, err);
		else
			snprintf(out, len, "#%" PRId64 " acknowledged again: paging stopped.", id);
		log_info("#%" PRId64 " acknowledged again by %s", id, actor);
	} else {
		snprintf(out, len, "#%" PRId64 " is already acknowledged by %s.", id,
		    message_who(s.inc.acked_by));
	}
	if (st != ILOG_ERR_NOT_FOUND)
		alerter_snap_release(&s);
	alerter_mark_dirty(a, id);
}

static void
command_resolve(struct alerter *a, const char *actor, const struct command *c, char *out,
    size_t len)
{
	struct ilog_incident inc;
	char err[ILOG_ERR_LEN];
	enum ilog_status st = ilog_incident_get(alerter_log(a), c->id, &inc, err, sizeof(err));
	bool queued = false;

	if (st == ILOG_ERR_NOT_FOUND) {
		snprintf(out, len, "There is no incident #%" PRId64 ".", c->id);
		return;
	}
	if (st == ILOG_OK && inc.state == ILOG_STATE_RESOLVED) {
		snprintf(out, len, "#%" PRId64 " is already resolved (by %s).", c->id,
		    message_who(inc.resolved_by));
		return;
	}
	if (st == ILOG_OK)
		st = write_change(a, LOG_WRITE_RESOLVE, c->id, actor, NULL, c->message, &queued, err,
		    sizeof(err));
	if (queued) {
		snprintf(out, len, KEPT_REPLY, c->id, "resolution", "");
		log_info("#%" PRId64 ": the resolution by %s waits for the busy log", c->id, actor);
		return;
	}
	if (st != ILOG_OK) {
		snprintf(out, len, "#%" PRId64 " could not be resolved: %s", c->id, err);
		return;
	}
	snprintf(out, len, "#%" PRId64 " resolved.", c->id);
	log_info("#%" PRId64 " resolved by %s", c->id, actor);
	alerter_mark_dirty(a, c->id);
}

/*
 * silence C D [reason], maintenance C D [title]: a window of the cluster from now
 * (lib/ilog_maintenance.h), which holds its pages; a maintenance is published too.
 * Only clusters of the configuration: a typo would otherwise silence nothing.
 */
static void
command_hold(struct alerter *a, const char *actor, const struct command *c, int64_t now,
    char *out, size_t len)
{
	const struct cluster *cl = clusters_find(&alerter_config(a)->clusters, c->cluster);
	bool silence = c->verb == COMMAND_SILENCE;
	char err[ILOG_ERR_LEN], title[ILOG_MAINT_TITLE_MAX + 1], until[UTC_TEXT_MAX],
	    d[MESSAGE_DURATION_MAX];
	enum ilog_status st;
	int64_t id = 0;

	if (cl == NULL) {
		snprintf(out, len, "There is no cluster \"%s\" in mcalert's configuration.",
		    c->cluster);
		return;
	}
	if (strlen(c->message) > ILOG_MAINT_TITLE_MAX) {
		snprintf(out, len, "That title is longer than %d bytes.", ILOG_MAINT_TITLE_MAX);
		return;
	}
	if (c->message[0] != '\0')
		memcpy(title, c->message, strlen(c->message) + 1);
	else if (silence)
		title[0] = '\0';
	else
		snprintf(title, sizeof(title), "Maintenance of %s",
		    cl->title[0] != '\0' ? cl->title : cl->name);
	st = ilog_maint_schedule(alerter_log(a), silence ? ILOG_MAINT_SILENCE : ILOG_MAINT_PUBLIC,
	    c->cluster, now, now + c->duration_ms, title, NULL, actor, &id, err, sizeof(err));
	alerter_mark_wrote(a);
	if (st != ILOG_OK) {
		snprintf(out, len, "Could not %s %s: %s", silence ? "silence" : "schedule a "
		    "maintenance of", c->cluster, err);
		return;
	}
	utc_format(now + c->duration_ms, until, sizeof(until));
	message_duration(c->duration_ms, d, sizeof(d));
	if (silence)
		snprintf(out, len, "Silenced %s for %s, until %s: its pages are held (silence "
		    "%" PRId64 ").", c->cluster, d, until, id);
	else
		snprintf(out, len, "Maintenance %" PRId64 " of %s for %s, until %s: \"%s\", "
		    "published on the status page; its pages are held.", id, c->cluster, d, until,
		    title);
	log_info("%s %s for %s by %s (%" PRId64 ")", silence ? "silence of" : "maintenance of",
	    c->cluster, d, actor, id);
}

/* Appends to out[len] at *used, cutting what does not fit. */
static void __attribute__((format(printf, 4, 5)))
add(char *out, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used + 1 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

static void
command_status(struct alerter *a, int64_t now, char *out, size_t len)
{
	const struct alerter_settings *set = alerter_config(a);
	char when[UTC_TEXT_MAX], d[MESSAGE_DURATION_MAX];
	struct oncall now_oc, next_oc;
	size_t used = 0, i, open = 0, acked = 0;

	if (alerter_online(a))
		add(out, len, &used, "mcalert: online (session %" PRIu64 ")\n",
		    alerter_session(a));
	for (i = 0; i < set->rotations.n; i++) {
		const struct rotation *r = &set->rotations.v[i];
		rotation_oncall(r, alerter_overrides(a), now, &now_oc);
		rotation_oncall(r, alerter_overrides(a), now_oc.end, &next_oc);
		utc_format(now_oc.end, when, sizeof(when));
		add(out, len, &used, "On call (%s): %s%s until %s, then %s\n", r->name, now_oc.jid,
		    now_oc.override_id != 0 ? " (override)" : "", when, next_oc.jid);
	}
	for (i = 0; i < alerter_tracked_count(a); i++) {
		struct ilog_incident inc;
		char err[ILOG_ERR_LEN];
		if (ilog_incident_get(alerter_log(a), alerter_tracked_id(a, i), &inc, err,
		    sizeof(err)) != ILOG_OK)
			continue;
		if (inc.state == ILOG_STATE_OPEN)
			open++;
		else if (inc.state == ILOG_STATE_ACKNOWLEDGED)
			acked++;
	}
	add(out, len, &used, "Incidents: %zu open, %zu acknowledged", open, acked);
	message_duration(set->policy.ack_timeout_ms, d, sizeof(d));
	if (set->policy.ack_timeout_ms > 0)
		add(out, len, &used, " (ack timeout %s)", d);
}

static void
command_incidents(struct alerter *a, int64_t now, char *out, size_t len)
{
	struct ilog_query q = { 0 };
	struct ilog_incidents list = { 0 };
	struct ilog_pages pages = { 0 };
	char err[ILOG_ERR_LEN], d[MESSAGE_DURATION_MAX];
	size_t used = 0, i;

	q.limit = CHAT_LIST_SHOWN;
	if (ilog_incident_list(alerter_log(a), &q, &list, err, sizeof(err)) != ILOG_OK) {
		snprintf(out, len, "Sorry, the incident log cannot be read: %s", err);
		return;
	}
	if (list.n == 0)
		add(out, len, &used, "No unresolved incidents.");
	for (i = 0; i < list.n; i++) {
		const struct ilog_incident *inc = &list.v[i];
		add(out, len, &used, "%s#%" PRId64 " %s %s: %s", i > 0 ? "\n" : "", inc->id,
		    ilog_severity_name(inc->severity), ilog_state_name(inc->state), inc->title);
		if (inc->cluster[0] != '\0')
			add(out, len, &used, " [%s]", inc->cluster);
		if (ilog_page_list(alerter_log(a), inc->id, &pages, err, sizeof(err)) == ILOG_OK &&
		    pages.n > 0) {
			const struct ilog_page *p = &pages.v[pages.n - 1];
			add(out, len, &used, " - step %d -> %s", p->step, p->target);
			if (p->next_deadline > now) {
				message_duration(p->next_deadline - now, d, sizeof(d));
				add(out, len, &used, ", next in %s", d);
			}
		}
	}
	if (list.truncated)
		add(out, len, &used, "\n(more: see mctl incidents)");
	ilog_pages_release(&pages);
	ilog_incidents_release(&list);
}

void
chat_message(struct chat *ch, const char *from, const char *body)
{
	struct alerter *a = ch->a;
	char bare[JID_MAX + 1], actor[ILOG_ACTOR_MAX + 1], out[CHAT_REPLY_MAX];
	int64_t now = ilog_now(alerter_log(a));
	struct command c;

	if (jid_bare(from, bare, sizeof(bare)) != 0)
		return;
	if (!settings_authorized(alerter_config(a), bare)) {
		if (refuse(ch, bare, now))
			alerter_reply(a, from, "Sorry, you are not allowed to give mcalert commands. "
				       "Ask the on-call team to add your address.");
		return;
	}
	command_parse(body, &c);
	if (alerter_actor(bare, actor, sizeof(actor)) != 0) {
		alerter_reply(a, from, "Your address is too long for the incident log; use mctl.");
		return;
	}
	out[0] = '\0';
	switch (c.verb) {
	case COMMAND_ACK:
		command_ack(a, from, actor, &c, out, sizeof(out));
		break;
	case COMMAND_RESOLVE:
		command_resolve(a, actor, &c, out, sizeof(out));
		break;
	case COMMAND_STATUS:
		command_status(a, now, out, sizeof(out));
		break;
	case COMMAND_INCIDENTS:
		command_incidents(a, now, out, sizeof(out));
		break;
	case COMMAND_HELP:
		snprintf(out, sizeof(out), "%s", command_help());
		break;
	case COMMAND_RUN:
		chat_remedy_run(a, ch->remedy, &ch->confirm, from, bare,
		    c.id != 0 ? c.id : latest_page_for(a, bare), c.number, now, out, sizeof(out));
		break;
	case COMMAND_YES:
		chat_remedy_yes(a, ch->remedy, &ch->confirm, from, bare, actor, now, out,
		    sizeof(out));
		break;
	case COMMAND_SILENCE:
	case COMMAND_MAINTENANCE:
		command_hold(a, actor, &c, now, out, sizeof(out));
		break;
	case COMMAND_EMPTY:
		return;
	case COMMAND_BAD:
		snprintf(out, sizeof(out), "%s. Say \"help\" for the commands.", c.error);
		break;
	case COMMAND_TOO_LONG:
		snprintf(out, sizeof(out), "That message is too long for a command.");
		break;
	case COMMAND_UNKNOWN:
		snprintf(out, sizeof(out), "Unknown command \"%s\". Say \"help\" for the commands.",
		    c.word);
		break;
	}
	if (out[0] != '\0') /* "" : a remedy answers when its nodes have */
		alerter_reply(a, from, out);
}
