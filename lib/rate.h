/*
 * rate — events per second: a sliding count over the last RATE_WINDOW_SECONDS and a
 * token bucket that admits at most a given rate.
 *
 * Both are plain structs of a few words with no lock of their own: the caller
 * serialises (mcd keeps them under a tenant's or the sources' lock) and passes the
 * time in, so that tests drive them with a fake clock (`now` in ms on any clock
 * that never goes back; mcd's server clock). A zeroed struct is a valid empty one.
 */
#ifndef MCOPS_RATE_H
#define MCOPS_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define RATE_WINDOW_SECONDS 10

/*
 * One-second buckets of the last RATE_WINDOW_SECONDS seconds. A window of seconds
 * rather than an exponential average: "new connections per second over the last
 * 10 s" is then exact to the bucket, and the same figure on every node.
 */
struct rate_window {
	uint32_t counts[RATE_WINDOW_SECONDS]; /* counts[s % N]: events of second s */
	int64_t last;                         /* the newest second with a bucket, ms / 1000 */
};

/* Counts n events at now (ms). A now before the newest bucket counts in it. */
void rate_window_add(struct rate_window *r, int64_t now, uint32_t n);
/* Events of the last RATE_WINDOW_SECONDS whole or current seconds at now. */
uint64_t rate_window_sum(const struct rate_window *r, int64_t now);
/* rate_window_sum / RATE_WINDOW_SECONDS, rounded down. */
uint64_t rate_window_per_sec(const struct rate_window *r, int64_t now);

/*
 * A token bucket of `rate` tokens per second holding at most `burst` tokens; it
 * starts full. Tokens are kept in thousandths, so that rates of 1/s and ms clocks
 * lose nothing to rounding.
 */
struct token_bucket {
	int64_t milli;  /* tokens × 1000 */
	int64_t at;     /* when milli was last brought up to date (ms); 0 = full */
};

/* Takes one token at now: true if there was one. rate 0 means no limit (true). */
bool token_bucket_take(struct token_bucket *b, uint32_t rate, uint32_t burst, int64_t now);

#endif
