/*
 * conncount_cost — the cost of one lib/conncount listener count in a long-running
 * process (what mcd's `stats kernel` pays): the counter is opened once, then read
 * RUNS times; prints the median wall and CPU time per read and the count seen.
 *
 *   conncount_cost --port P [--addr A] [--method netlink|proc] [--runs N]
 *
 * Output, one line: "method=netlink runs=50 established=10000 wall_us=7200 cpu_us=7100"
 * (median wall microseconds; CPU is the process's user+system time over all runs,
 * divided by the runs, since per-call CPU is below the clock's resolution).
 * Used by bench/bench_conns.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "clock.h"
#include "conncount.h"
#include "parse.h"

#define RUNS_MAX 10000

static double
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
usage(void)
{
	fprintf(stderr, "usage: conncount_cost --port P [--addr A] [--method netlink|proc] "
			"[--runs N]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *addr_text = "127.0.0.1";
	enum conncount_method method = CONNCOUNT_NETLINK;
	uint64_t port = 0, runs = 50, i;
	struct conncount cc;
	struct conncount_addr addr;
	struct conncount_listener l;
	char err[CONNCOUNT_ERR_MAX];
	double *wall, cpu0, t0;
	int a;

	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--port") == 0) {
			if (parse_u64(argv[a + 1], 1, 65535, &port) < 0)
				return usage();
		} else if (strcmp(argv[a], "--addr") == 0) {
			addr_text = argv[a + 1];
		} else if (strcmp(argv[a], "--runs") == 0) {
			if (parse_u64(argv[a + 1], 1, RUNS_MAX, &runs) < 0)
				return usage();
		} else if (strcmp(argv[a], "--method") == 0) {
			if (strcmp(argv[a + 1], "netlink") == 0)
				method = CONNCOUNT_NETLINK;
			else if (strcmp(argv[a + 1], "proc") == 0)
				method = CONNCOUNT_PROC;
			else
				return usage();
		} else {
			return usage();
		}
	}
	if (a != argc || port == 0 || conncount_addr_parse(addr_text, (uint16_t)port, &addr) < 0)
		return usage();
	if (conncount_open(&cc, method, err, sizeof(err)) < 0) {
		fprintf(stderr, "conncount_cost: %s\n", err);
		return 1;
	}
	wall = calloc(runs, sizeof(*wall));
	if (wall == NULL) {
		fprintf(stderr, "conncount_cost: out of memory\n");
		conncount_close(&cc);
		return 1;
	}
	cpu0 = cpu_us();
	for (i = 0; i < runs; i++) {
		t0 = (double)clock_now_ns(CLOCK_MONOTONIC) / 1e3;
		if (conncount_read_listener(&cc, &addr, &l, err, sizeof(err)) < 0) {
			fprintf(stderr, "conncount_cost: %s\n", err);
			free(wall);
			conncount_close(&cc);
			return 1;
		}
		wall[i] = (double)clock_now_ns(CLOCK_MONOTONIC) / 1e3 - t0;
	}
	qsort(wall, runs, sizeof(*wall), compare_double);
	printf("method=%s runs=%llu established=%llu wall_us=%.0f cpu_us=%.0f\n",
	    conncount_method_name(method), (unsigned long long)runs,
	    (unsigned long long)l.states[CONNCOUNT_ESTABLISHED], wall[runs / 2],
	    (cpu_us() - cpu0) / (double)runs);
	free(wall);
	conncount_close(&cc);
	return 0;
}
