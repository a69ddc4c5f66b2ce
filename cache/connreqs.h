/*
 * connreqs — the requests-per-connection distribution: how many requests a
 * connection served after its login, counted once when it closes, in a few
 * buckets. The pattern it shows is a client opening a connection per request
 * (bucket 1), which pays a connection set-up and an authentication each time.
 */
#ifndef MCOPS_CONNREQS_H
#define MCOPS_CONNREQS_H

#include <stdint.h>

#define CONNREQS_BUCKETS 5

/* The stats field of bucket i: 1, 2, 3-10, 11-100, 101 and more requests. */
static inline const char *
connreqs_name(int i)
{
	static const char *const names[CONNREQS_BUCKETS] = {
		"conn_reqs_1", "conn_reqs_2", "conn_reqs_3_10", "conn_reqs_11_100",
		"conn_reqs_101_plus",
	};
	return names[i];
}

/* The bucket of a connection that served n requests, or -1 for none (n == 0: it
 * closed without a request, which no bucket counts). */
static inline int
connreqs_bucket(uint64_t n)
{
	return n == 0 ? -1 : n == 1 ? 0 : n == 2 ? 1 : n <= 10 ? 2 : n <= 100 ? 3 : 4;
}

#endif
