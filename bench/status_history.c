/*
 * status_history — fills an incident log with DAYS days of history for CLUSTERS
 * clusters (c1..cN), as the status page benchmark needs: on about one day in three per
 * cluster an incident of a random kind and severity, lasting 10 to 300 minutes, with
 * one or two public updates, then resolved. Deterministic (a fixed seed).
 *
 *   status_history DB CLUSTERS DAYS
 */
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "ilog.h"
#include "parse.h"

#define MIN_MS (60LL * 1000)
#define DAY_MS (1440 * MIN_MS)

struct fake {
	int64_t now;
	uint64_t seed;
};

static int64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->now;
}

static uint64_t
fake_random(void *arg)
{
	struct fake *f = arg;

	f->seed = f->seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return f->seed >> 11;
}

int
main(int argc, char **argv)
{
	static const char *const kinds[] = { "latency_tail", "connection_storm", "node_down" };
	static const char *const texts[] = { "We found the cause and are fixing it.",
		"A fix is in place; we are watching the results." };
	struct fake f = { 0, 42 };
	struct ilog_clock clock = { fake_now, fake_random, &f };
	char err[ILOG_ERR_LEN], cluster[16], title[64], fp[64];
	uint64_t nclusters, days, c, d;
	struct ilog *log;
	int64_t start, t;

	if (argc != 4 || parse_u64(argv[2], 1, 64, &nclusters) < 0 ||
	    parse_u64(argv[3], 1, 365, &days) < 0) {
		fprintf(stderr, "usage: status_history DB CLUSTERS(1..64) DAYS(1..365)\n");
		return 2;
	}
	if ((log = ilog_open(argv[1], NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "status_history: %s\n", err);
		return 1;
	}
	ilog_set_clock(log, &clock);
	start = (clock_wall_ms() / DAY_MS - (int64_t)days) * DAY_MS;
	f.now = start;
	if (ilog_event_append(log, 0, "bench", "statuspage_started", NULL, NULL, err,
		sizeof(err)) != ILOG_OK)
		goto fail;
	for (d = 0; d < days; d++)
		for (c = 1; c <= nclusters; c++) {
			struct ilog_incident_spec spec = { 0 };
			struct ilog_upsert_result res;
			uint64_t r = fake_random(&f);

			if (r % 3 != 0)
				continue;
			snprintf(cluster, sizeof(cluster), "c%llu", (unsigned long long)c);
			snprintf(fp, sizeof(fp), "%s:%s", kinds[r / 3 % 3], cluster);
			snprintf(title, sizeof(title), "%s on %s", kinds[r / 3 % 3], cluster);
			spec.fingerprint = fp;
			spec.kind = kinds[r / 3 % 3];
			spec.cluster = cluster;
			spec.severity = (enum ilog_severity)(1 + r / 9 % 3);
			spec.title = title;
			t = start + (int64_t)d * DAY_MS + (int64_t)(r / 27 % 1200) * MIN_MS;
			f.now = t;
			if (ilog_incident_upsert(log, &spec, "mcmon", &res, err, sizeof(err)) !=
			    ILOG_OK)
				goto fail;
			f.now += 5 * MIN_MS;
			if (ilog_public_update(log, res.id, "bench", ILOG_PUBLIC_IDENTIFIED, texts[0],
				NULL, err, sizeof(err)) != ILOG_OK)
				goto fail;
			if (r % 2) {
				f.now += 5 * MIN_MS;
				if (ilog_public_update(log, res.id, "bench", ILOG_PUBLIC_MONITORING,
					texts[1], NULL, err, sizeof(err)) != ILOG_OK)
					goto fail;
			}
			f.now = t + (int64_t)(10 + r / 32400 % 290) * MIN_MS;
			if (ilog_incident_resolve(log, res.id, "bench", NULL, NULL, err,
				sizeof(err)) != ILOG_OK)
				goto fail;
		}
	ilog_close(log);
	return 0;
fail:
	fprintf(stderr, "status_history: %s\n", err);
	ilog_close(log);
	return 1;
}
