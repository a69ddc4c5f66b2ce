/*
 * ilog_writer — drives lib/ilog from a separate process, for the concurrency and
 * crash tests and the benchmark.
 *
 *   ilog_writer write --db PATH --writer W --events N [--fingerprints F]
 *                     [--transitions] [--print-commits] [--interval-us U] [--sync-full]
 *                     [--plain]
 *       For i in 0..N-1: open-or-update the incident of fingerprint "fp-(i % F)"
 *       (severity rising with i, so raises happen), append a "tick" event
 *       {"writer": W, "seq": i} to it, and with --transitions every fourth step try
 *       an ack or a resolve of it, or a reopen of the incident this writer resolved
 *       last (refusals from racing writers are expected and counted). --print-commits prints "committed SEQ EVENT_ID MONO_NS" after
 *       each append returns. --plain: only the appends, to no incident (for
 *       throughput). Ends with one JSON line of counts. Exit 1 on any error
 *       other than an expected refusal (so a "database is locked" fails the run).
 *
 *   ilog_writer tail --db PATH --count N [--poll-us U] [--timeout-ms T]
 *       Polls for new events (ilog_changed, then ilog_tail) and prints
 *       "seen EVENT_ID MONO_NS" for each "tick" as soon as it is read, until N ticks
 *       were seen or T ms passed (exit 1 then).
 *
 * Every loop is bounded by its count and, for tail, by its timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ilog.h"
#include "parse.h"

#define EVENTS_MAX 10000000
#define TAIL_TIMEOUT_MAX_MS 600000

struct opts {
	const char *mode;
	const char *db;
	uint64_t writer, events, fingerprints, count, interval_us, poll_us, timeout_ms;
	bool transitions, print_commits, sync_full, plain;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ilog_writer write --db PATH --writer W --events N [--fingerprints F]\n"
	    "                   [--transitions] [--print-commits] [--interval-us U] [--sync-full]\n"
	    "                   [--plain]\n"
	    "       ilog_writer tail --db PATH --count N [--poll-us U] [--timeout-ms T]\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->fingerprints = 8;
	o->poll_us = 1000;
	o->timeout_ms = 60000;
	if (argc < 2)
		return -1;
	o->mode = argv[1];
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *num = NULL, lo = 0, hi = 0;

		if (strcmp(a, "--transitions") == 0) {
			o->transitions = true;
			continue;
		} else if (strcmp(a, "--print-commits") == 0) {
			o->print_commits = true;
			continue;
		} else if (strcmp(a, "--sync-full") == 0) {
			o->sync_full = true;
			continue;
		} else if (strcmp(a, "--plain") == 0) {
			o->plain = true;
			continue;
		}
		if (v == NULL)
			return -1;
		i++;
		if (strcmp(a, "--db") == 0) {
			o->db = v;
			continue;
		} else if (strcmp(a, "--writer") == 0) {
			num = &o->writer, hi = 1000000;
		} else if (strcmp(a, "--events") == 0) {
			num = &o->events, hi = EVENTS_MAX;
		} else if (strcmp(a, "--fingerprints") == 0) {
			num = &o->fingerprints, lo = 1, hi = 100000;
		} else if (strcmp(a, "--count") == 0) {
			num = &o->count, lo = 1, hi = EVENTS_MAX;
		} else if (strcmp(a, "--interval-us") == 0) {
			num = &o->interval_us, hi = 10000000;
		} else if (strcmp(a, "--poll-us") == 0) {
			num = &o->poll_us, lo = 1, hi = 10000000;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			num = &o->timeout_ms, lo = 1, hi = TAIL_TIMEOUT_MAX_MS;
		} else {
			return -1;
		}
		if (parse_u64(v, lo, hi, num) != 0) {
			fprintf(stderr, "ilog_writer: %s: bad number '%s'\n", a, v);
			return -1;
		}
	}
	return o->db != NULL ? 0 : -1;
}

/* An ilog call that must succeed. */
static int
must(enum ilog_status st, const char *what, const char *err)
{
	if (st == ILOG_OK)
		return 0;
	fprintf(stderr, "ilog_writer: %s: %s\n", what, err);
	return -1;
}

static int
run_write(const struct opts *o)
{
	struct ilog_options lo = { .sync_full = o->sync_full };
	struct ilog_incident_spec spec = { .kind = "storm", .cluster = "c1",
		.title = "Concurrent test incident" };
	struct ilog_upsert_result res;
	char err[ILOG_ERR_LEN], fp[32], body[96], actor[32];
	uint64_t i, opened = 0, raised = 0, acked = 0, resolved = 0, reopened = 0, refused = 0;
	int64_t t0 = clock_now_ns(CLOCK_MONOTONIC), ev, last_resolved = 0;
	enum ilog_status st;
	struct ilog *log;

	log = ilog_open(o->db, &lo, err, sizeof(err));
	if (log == NULL) {
		fprintf(stderr, "ilog_writer: %s\n", err);
		return 1;
	}
	snprintf(actor, sizeof(actor), "writer:%llu", (unsigned long long)o->writer);
	for (i = 0; i < o->events; i++) {
		res.id = 0;
		if (!o->plain) {
			snprintf(fp, sizeof(fp), "fp-%llu",
			    (unsigned long long)(i % o->fingerprints));
			spec.fingerprint = fp;
			spec.severity = (enum ilog_severity)(1 + (i / o->fingerprints) % 3);
			if (must(ilog_incident_upsert(log, &spec, actor, &res, err, sizeof(err)),
			    "upsert", err) != 0)
				goto out_close;
			opened += res.created;
			raised += res.raised;
		}
		snprintf(body, sizeof(body), "{\"writer\":%llu,\"seq\":%llu}",
		    (unsigned long long)o->writer, (unsigned long long)i);
		if (must(ilog_event_append(log, res.id, actor, "tick", body, &ev, err, sizeof(err)),
		    "append", err) != 0)
			goto out_close;
		if (o->print_commits) {
			printf("committed %llu %lld %lld\n", (unsigned long long)i, (long long)ev,
			    (long long)clock_now_ns(CLOCK_MONOTONIC));
			fflush(stdout);
		}
		if (o->transitions && !o->plain && i % 4 == 3) {
			switch ((i / 4) % 3) {
			case 0:
				st = ilog_incident_ack(log, res.id, actor, NULL, NULL, err, sizeof(err));
				acked += st == ILOG_OK;
				break;
			case 1:
				st = ilog_incident_resolve(log, res.id, actor, NULL, NULL, err,
				    sizeof(err));
				resolved += st == ILOG_OK;
				if (st == ILOG_OK)
					last_resolved = res.id;
				break;
			default:
				/* The one this writer resolved last: it comes back unless its
				 * condition already has a newer incident. */
				st = ilog_incident_reopen(log, last_resolved != 0 ? last_resolved : res.id,
				    actor, NULL, NULL, err, sizeof(err));
				reopened += st == ILOG_OK;
				break;
			}
			/* Another writer may have moved the incident on first: a refusal. */
			if (st == ILOG_ERR_STATE)
				refused++;
			else if (must(st, "transition", err) != 0)
				goto out_close;
		}
		if (o->interval_us > 0)
			usleep((useconds_t)o->interval_us);
	}
	ilog_close(log);
	printf("{\"writer\":%llu,\"appended\":%llu,\"opened\":%llu,\"raised\":%llu,"
	       "\"acked\":%llu,\"resolved\":%llu,\"reopened\":%llu,\"refused\":%llu,"
	       "\"elapsed_ms\":%.3f}\n",
	    (unsigned long long)o->writer, (unsigned long long)o->events,
	    (unsigned long long)opened, (unsigned long long)raised, (unsigned long long)acked,
	    (unsigned long long)resolved, (unsigned long long)reopened,
	    (unsigned long long)refused, (double)(clock_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	return 0;
out_close:
	ilog_close(log);
	return 1;
}

static int
run_tail(const struct opts *o)
{
	struct ilog_events evs = { 0 };
	struct ilog_options lo = { 0 };
	char err[ILOG_ERR_LEN];
	int64_t deadline = clock_now_ns(CLOCK_MONOTONIC) + (int64_t)o->timeout_ms * 1000000;
	int64_t last = 0, now;
	uint64_t seen = 0;
	struct ilog *log;
	bool changed;
	size_t i;

	log = ilog_open(o->db, &lo, err, sizeof(err));
	if (log == NULL) {
		fprintf(stderr, "ilog_writer: %s\n", err);
		return 1;
	}
	/* Start from what is there now: only what commits from here on is timed. */
	if (must(ilog_last_event_id(log, &last, err, sizeof(err)), "last id", err) != 0)
		goto out_close;
	printf("ready %lld\n", (long long)last);
	fflush(stdout);
	while (seen < o->count) {
		if (clock_now_ns(CLOCK_MONOTONIC) > deadline) {
			fprintf(stderr, "ilog_writer: tail: saw %llu of %llu ticks in %llu ms\n",
			    (unsigned long long)seen, (unsigned long long)o->count,
			    (unsigned long long)o->timeout_ms);
			goto out_close;
		}
		if (must(ilog_changed(log, &changed, err, sizeof(err)), "changed", err) != 0)
			goto out_close;
		if (!changed) {
			usleep((useconds_t)o->poll_us);
			continue;
		}
		do {
			if (must(ilog_tail(log, last, 0, &evs, err, sizeof(err)), "tail", err) != 0)
				goto out_close;
			now = clock_now_ns(CLOCK_MONOTONIC);
			for (i = 0; i < evs.n; i++) {
				if (strcmp(evs.v[i].type, "tick") == 0) {
					printf("seen %lld %lld\n", (long long)evs.v[i].id, (long long)now);
					seen++;
				}
				last = evs.v[i].id;
			}
		} while (evs.truncated);
		fflush(stdout);
	}
	ilog_events_release(&evs);
	ilog_close(log);
	return 0;
out_close:
	ilog_events_release(&evs);
	ilog_close(log);
	return 1;
}

int
main(int argc, char **argv)
{
	struct opts o;

	if (parse_opts(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	if (strcmp(o.mode, "write") == 0 && o.events > 0)
		return run_write(&o);
	if (strcmp(o.mode, "tail") == 0 && o.count > 0)
		return run_tail(&o);
	usage();
	return 2;
}
