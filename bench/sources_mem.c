/*
 * sources_mem — mcd's per-source table (cache/sources.h) under a flood of distinct
 * addresses: its memory, which must not grow with the number of sources, and
 * whether the heavy sources planted in the flood are still its top entries.
 *
 *   sources_mem [--sources N] [--heavy K] [--per-heavy C] [--top T]
 *
 * Feeds N distinct source addresses (half IPv4 spread over 10.0.0.0/8, half IPv6
 * spread over 2001:db8::/32 /64s), each connecting once, and interleaves K heavy
 * IPv4 addresses with C connections each and one heavy /24 (C * 3 connections from
 * 250 addresses of 192.0.2.0/24, none of them heavy on its own). Then lists the top
 * T prefixes as `stats sources top T` would.
 *
 * Output, one line: "sources=1000000 offers=... capacity=4096 memory_bytes=...
 * recall=11/11 max_error=... error_bound=... ns_per_accept=..." (recall: planted
 * prefixes found in the top T; error_bound: N offers / capacity). Used by
 * bench/bench_sources.sh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/sources.h"
#include "clock.h"
#include "parse.h"

#define PLANTED_MAX 64

/* A deterministic spread of 32 bits (the splitmix64 finaliser). */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
accept_v4(struct sources *s, uint32_t addr, int64_t now)
{
	static const struct source_limits none = { 0, 0 };
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct source_ref ref;

	in.sin_addr.s_addr = htonl(addr);
	sources_accept(s, (struct sockaddr *)&in, sizeof(in), now, &none, true, &ref);
	sources_closed(s, &ref, 1, true);
}

static void
accept_v6(struct sources *s, uint64_t net, int64_t now)
{
	static const struct source_limits none = { 0, 0 };
	struct sockaddr_in6 in = { .sin6_family = AF_INET6 };
	struct source_ref ref;

	in.sin6_addr.s6_addr[0] = 0x20;
	in.sin6_addr.s6_addr[1] = 0x01;
	in.sin6_addr.s6_addr[2] = 0x0d;
	in.sin6_addr.s6_addr[3] = 0xb8;
	memcpy(in.sin6_addr.s6_addr + 4, &net, 4); /* a distinct /64 each */
	in.sin6_addr.s6_addr[15] = 1;
	sources_accept(s, (struct sockaddr *)&in, sizeof(in), now, &none, true, &ref);
	sources_closed(s, &ref, 1, true);
}

static int
arg_u64(int argc, char **argv, int *i, const char *name, uint64_t max, uint64_t *out)
{
	if (strcmp(argv[*i], name) != 0)
		return 0;
	if (*i + 1 >= argc || parse_u64(argv[*i + 1], 1, max, out) < 0) {
		fprintf(stderr, "%s: a number from 1 to %llu\n", name, (unsigned long long)max);
		exit(2);
	}
	(*i)++;
	return 1;
}

int
main(int argc, char **argv)
{
	uint64_t n = 1000000, heavy = 10, per_heavy = 1000, top = 20, i;
	char planted[PLANTED_MAX + 1][SOURCE_PREFIX_MAX], buf[SOURCE_PREFIX_MAX];
	struct source_view *views;
	struct source_totals tot;
	struct sources s;
	uint64_t every, max_error = 0, found = 0, t0, t1, offers;
	size_t listed, k;
	int a;

	for (a = 1; a < argc; a++) {
		if (!arg_u64(argc, argv, &a, "--sources", 100000000, &n) &&
		    !arg_u64(argc, argv, &a, "--heavy", PLANTED_MAX, &heavy) &&
		    !arg_u64(argc, argv, &a, "--per-heavy", 1000000, &per_heavy) &&
		    !arg_u64(argc, argv, &a, "--top", 100000, &top)) {
			fprintf(stderr, "usage: sources_mem [--sources N] [--heavy K] "
			    "[--per-heavy C] [--top T]\n");
			return 2;
		}
	}
	if (sources_init(&s, SOURCES_CAPACITY, 12345) < 0) {
		fprintf(stderr, "sources_mem: out of memory\n");
		return 1;
	}
	for (i = 0; i < heavy; i++)
		snprintf(planted[i], sizeof(planted[i]), "172.16.%u.%u/32",
		    (unsigned)(i / 200), (unsigned)(i % 200 + 1));
	snprintf(planted[heavy], sizeof(planted[heavy]), "192.0.2.0/24");
	/* The planted connections are spread evenly through the flood. */
	every = n / (heavy * per_heavy + per_heavy * 3) + 1;
	t0 = (uint64_t)clock_now_ns(CLOCK_MONOTONIC);
	{
		uint64_t h = 0, bot = 0;
		for (i = 0; i < n; i++) {
			int64_t now = 1000000 + (int64_t)(i / 1000); /* 1000 connections per ms */
			if (i % 2 == 0)
				accept_v4(&s, 0x0a000000u | (uint32_t)(mix(i) & 0x00ffffffu), now);
			else
				accept_v6(&s, mix(i), now);
			if (i % every == 0) {
				if (h < heavy * per_heavy) {
					uint64_t which = h++ % heavy;
					accept_v4(&s, 0xac100000u | (uint32_t)(which / 200) << 8 |
					    (uint32_t)(which % 200 + 1), now);
				}
				for (int b = 0; b < 3 && bot < per_heavy * 3; b++, bot++)
					accept_v4(&s, 0xc0000200u | (uint32_t)(bot % 250 + 1), now);
			}
		}
	}
	t1 = (uint64_t)clock_now_ns(CLOCK_MONOTONIC);
	views = malloc(SOURCES_CAPACITY * sizeof(*views));
	if (views == NULL)
		return 1;
	listed = sources_list(&s, 1000000 + (int64_t)(n / 1000), views, SOURCES_CAPACITY, &tot);
	/* The list is by rate (the last 10 s), then count: rank by count here, which is
	 * what the flood's evenly spread heavy sources have most of. */
	for (k = 0; k < listed; k++) {
		if (views[k].count_error > max_error)
			max_error = views[k].count_error;
	}
	for (i = 0; i <= heavy; i++) {
		uint64_t rank = 0, count = 0;
		for (k = 0; k < listed; k++) {
			source_key_format(views[k].key, buf, sizeof(buf));
			if (strcmp(buf, planted[i]) == 0)
				count = views[k].new_conns;
		}
		if (count == 0)
			continue;
		for (k = 0; k < listed; k++) {
			if (views[k].new_conns > count)
				rank++;
		}
		if (rank < top)
			found++;
	}
	offers = s.heavy.offers;
	printf("sources=%llu offers=%llu capacity=%zu memory_bytes=%zu recall=%llu/%llu "
	    "max_error=%llu error_bound=%llu ns_per_accept=%llu\n", (unsigned long long)n,
	    (unsigned long long)offers, tot.capacity, tot.memory, (unsigned long long)found,
	    (unsigned long long)(heavy + 1), (unsigned long long)max_error,
	    (unsigned long long)(offers / tot.capacity),
	    (unsigned long long)((t1 - t0) / (tot.new_conns ? tot.new_conns : 1)));
	free(views);
	sources_release(&s);
	return 0;
}
