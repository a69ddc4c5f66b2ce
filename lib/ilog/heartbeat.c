/*
 * ilog heartbeats: the daemons' liveness rows and the beater that renews them. See
 * lib/ilog_heartbeat.h for the contract, ilog_int.h for the shape.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ilog_heartbeat.h"
#include "ilog_int.h"

/* The names share the kinds' alphabet and length (file-name safe, one word). */
_Static_assert(ILOG_DAEMON_MAX == ILOG_KIND_MAX, "daemon names are checked as kinds");

static int
read_heartbeat(sqlite3_stmt *s, void *elem)
{
	struct ilog_heartbeat *h = elem;

	memset(h, 0, sizeof(*h));
	copy_col(s, 0, h->daemon, sizeof(h->daemon));
	h->pid = sqlite3_column_int64(s, 1);
	copy_col(s, 2, h->host, sizeof(h->host));
	h->beat_at = sqlite3_column_int64(s, 3);
	h->interval_ms = sqlite3_column_int64(s, 4);
	h->started_at = sqlite3_column_int64(s, 5);
	return 0;
}

static const struct ilog_row_type heartbeat_rows = { sizeof(struct ilog_heartbeat),
	read_heartbeat, "out of memory reading heartbeats", "cannot read heartbeats" };

void
ilog_heartbeats_release(struct ilog_heartbeats *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

static enum ilog_status
write_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	const struct ilog_heartbeat *hb = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	if ((st = ilog_prep(log, ST_HB_WRITE, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_text(s, 1, hb->daemon, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, hb->pid);
	sqlite3_bind_text(s, 3, hb->host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, ilog_now(log));
	sqlite3_bind_int64(s, 5, hb->interval_ms);
	sqlite3_bind_int64(s, 6, hb->started_at);
	return ilog_exec(log, s, "cannot record a heartbeat", err, errlen);
}

enum ilog_status
ilog_heartbeat_write(struct ilog *log, const struct ilog_heartbeat *hb, char *err,
    size_t errlen)
{
	enum ilog_status st;

	if (!ilog_kind_valid(hb->daemon)) {
		errbuf_set(err, errlen, "daemon name '%.*s' is invalid (1-%d of a-z 0-9 _ -)",
		    ILOG_DAEMON_MAX, hb->daemon, ILOG_DAEMON_MAX);
		return ILOG_ERR_ARG;
	}
	if ((st = ilog_check_text(hb->host, ILOG_HOST_MAX, true, TEXT_LINE, "host name", err,
	    errlen)) != ILOG_OK)
		return st;
	if (hb->interval_ms <= 0) {
		errbuf_set(err, errlen, "heartbeat interval %lld ms is not positive",
		    (long long)hb->interval_ms);
		return ILOG_ERR_ARG;
	}
	return ilog_call(log, ILOG_WRITE, write_body, (void *)hb, err, errlen);
}

static enum ilog_status
list_body(struct ilog *log, void *arg, char *err, size_t errlen)
{
	struct ilog_heartbeats *out = arg;
	enum ilog_status st;
	sqlite3_stmt *s;

	ilog_heartbeats_release(out); /* a retried body starts again */
	if ((st = ilog_prep(log, ST_HB_LIST, &s, err, errlen)) != ILOG_OK)
		return st;
	sqlite3_bind_int64(s, 1, (int64_t)ILOG_HEARTBEATS_MAX + 1);
	return ilog_collect(log, s, &heartbeat_rows, ILOG_HEARTBEATS_MAX, (void **)&out->v,
	    &out->n, &out->truncated, err, errlen);
}

enum ilog_status
ilog_heartbeat_list(struct ilog *log, struct ilog_heartbeats *out, char *err, size_t errlen)
{
	enum ilog_status st;

	memset(out, 0, sizeof(*out));
	st = ilog_call(log, ILOG_READ, list_body, out, err, errlen);
	if (st != ILOG_OK)
		ilog_heartbeats_release(out);
	return st;
}

const struct ilog_heartbeat *
ilog_heartbeat_find(const struct ilog_heartbeats *list, const char *daemon)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->v[i].daemon, daemon) == 0)
			return &list->v[i];
	return NULL;
}

int64_t
ilog_heartbeat_age_ms(const struct ilog_heartbeat *hb, int64_t now)
{
	return now > hb->beat_at ? now - hb->beat_at : 0;
}

bool
ilog_heartbeat_up(const struct ilog_heartbeat *hb, int64_t now)
{
	return ilog_heartbeat_age_ms(hb, now) <= ILOG_HEARTBEAT_MISSED_MAX * hb->interval_ms;
}

bool
ilog_heartbeat_stale(const struct ilog_heartbeat *hb, int64_t watcher_started,
    int64_t stale_after_ms, int64_t now)
{
	int64_t since = watcher_started;

	if (hb != NULL && hb->beat_at > since)
		since = hb->beat_at;
	return now - since > stale_after_ms;
}

/* --- the beater ---------------------------------------------------------------------- */

void
ilog_beater_init(struct ilog_beater *b, const char *daemon, int64_t interval_ms, int64_t now)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->hb.daemon, sizeof(b->hb.daemon), "%s", daemon);
	b->hb.pid = (int64_t)getpid();
	if (gethostname(b->hb.host, sizeof(b->hb.host)) != 0)
		b->hb.host[0] = '\0';
	b->hb.host[sizeof(b->hb.host) - 1] = '\0'; /* a cut name is not terminated */
	b->hb.interval_ms = interval_ms;
	b->hb.started_at = now;
	b->next_at = now;
}

enum ilog_beat_result
ilog_beater_tick(struct ilog_beater *b, struct ilog *log, int64_t now, char *err,
    size_t errlen)
{
	bool was_failing = b->failing;
	char why[ILOG_ERR_LEN];

	if (now < b->next_at)
		return ILOG_BEAT_IDLE;
	/* From now, not from next_at: after a stall the beats do not come in a burst. */
	b->next_at = now + b->hb.interval_ms;
	if (ilog_heartbeat_write(log, &b->hb, why, sizeof(why)) != ILOG_OK) {
		b->failures++;
		b->failing = true;
		errbuf_set(err, errlen, "heartbeat not written (tried again every %lld ms): %s",
		    (long long)b->hb.interval_ms, why);
		return was_failing ? ILOG_BEAT_STILL_FAILING : ILOG_BEAT_FAILED;
	}
	b->beats++;
	b->failing = false;
	if (!was_failing)
		return ILOG_BEAT_OK;
	errbuf_set(err, errlen, "heartbeat written again after %llu failed beats",
	    (unsigned long long)b->failures);
	return ILOG_BEAT_RECOVERED;
}
