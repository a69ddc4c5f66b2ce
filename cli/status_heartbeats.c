/*
 * status_heartbeats — see status_heartbeats.h.
 */
#include <stdio.h>
#include <string.h>

#include "mctl.h"
#include "status_heartbeats.h"

/* The daemons that beat, shown even without a row ("never"). */
static const char *const expected[] = { "mcmon", "mcalert", "mcstatus" };
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

static bool
is_expected(const char *daemon)
{
	size_t i;

	for (i = 0; i < NEXPECTED; i++)
		if (strcmp(expected[i], daemon) == 0)
			return true;
	return false;
}

static const char *
state_word(const struct ilog_heartbeat *hb, int64_t now)
{
	if (hb == NULL)
		return "never";
	return ilog_heartbeat_up(hb, now) ? "up" : "stale";
}

/*
 * Calls fn for each daemon in display order: the expected ones (hb NULL when it has no
 * row), then the rows of any other name.
 */
static void
each_daemon(const struct ilog_heartbeats *rows,
    void (*fn)(void *arg, const char *daemon, const struct ilog_heartbeat *hb), void *arg)
{
	size_t i;

	for (i = 0; i < NEXPECTED; i++)
		fn(arg, expected[i], ilog_heartbeat_find(rows, expected[i]));
	for (i = 0; i < rows->n; i++)
		if (!is_expected(rows->v[i].daemon))
			fn(arg, rows->v[i].daemon, &rows->v[i]);
}

static void
print_one(void *arg, const char *daemon, const struct ilog_heartbeat *hb)
{
	int64_t now = *(const int64_t *)arg;
	char started[MCTL_TIME_MAX];

	if (hb == NULL) {
		printf("  %-10s never\n", daemon);
		return;
	}
	mctl_format_time(hb->started_at, started, sizeof(started));
	printf("  %-10s %-5s %6.1f s ago  pid %lld on %s, every %.1f s, started %s\n", daemon,
	    ilog_heartbeat_up(hb, now) ? "up" : "STALE",
	    (double)ilog_heartbeat_age_ms(hb, now) / 1000.0, (long long)hb->pid,
	    hb->host[0] != '\0' ? hb->host : "?", (double)hb->interval_ms / 1000.0, started);
}

void
status_heartbeats_print(const struct ilog_heartbeats *rows, bool known, int64_t now)
{
	if (!known) {
		printf("heartbeats: unknown (the incident log cannot be read)\n");
		return;
	}
	printf("heartbeats:\n");
	each_daemon(rows, print_one, &now);
}

struct json_list {
	json_t *array;
	int64_t now;
	bool failed;
};

static void
json_one(void *arg, const char *daemon, const struct ilog_heartbeat *hb)
{
	struct json_list *l = arg;
	json_t *o;

	if (hb == NULL)
		o = json_pack("{s:s, s:s, s:n, s:n, s:n, s:n, s:n, s:n}", "daemon", daemon, "state",
		    "never", "age_ms", "pid", "host", "interval_ms", "beat_at", "started_at");
	else
		o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:I}", "daemon", daemon,
		    "state", state_word(hb, l->now), "age_ms",
		    (json_int_t)ilog_heartbeat_age_ms(hb, l->now), "pid", (json_int_t)hb->pid,
		    "host", hb->host, "interval_ms", (json_int_t)hb->interval_ms, "beat_at",
		    (json_int_t)hb->beat_at, "started_at", (json_int_t)hb->started_at);
	if (o == NULL || json_array_append_new(l->array, o) != 0)
		l->failed = true;
}

json_t *
status_heartbeats_json(const struct ilog_heartbeats *rows, bool known, int64_t now)
{
	struct json_list l = { json_array(), now, false };

	if (!known) {
		json_decref(l.array);
		return json_null();
	}
	if (l.array == NULL)
		return NULL;
	each_daemon(rows, json_one, &l);
	if (l.failed) {
		json_decref(l.array);
		return NULL;
	}
	return l.array;
}
