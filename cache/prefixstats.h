/*
 * prefixstats — memcached's `stats detail`: for each key prefix (a key up to its first
 * ':'), how many gets, hits, sets and deletes, in fixed memory. A key without ':'
 * has no prefix and is not counted, as in memcached.
 *
 * memcached's table grows with every new prefix; here it holds PREFIXSTATS_MAX
 * prefixes of at most PREFIXSTATS_PREFIX_MAX bytes, in the order first seen, and
 * whatever does not fit (a longer prefix, or one more once the table is full) is
 * summed in `other`, so a client writing random prefixes cannot grow the server.
 *
 * Pure: no locking (the store records under its own lock), no time.
 */
#ifndef MCOPS_PREFIXSTATS_H
#define MCOPS_PREFIXSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREFIXSTATS_MAX 64
#define PREFIXSTATS_PREFIX_MAX 48
#define PREFIXSTATS_DELIMITER ':'
/* The name `stats detail dump` gives the entry of what did not fit. */
#define PREFIXSTATS_OTHER "*other*"

enum prefixstats_op { PREFIXSTATS_GET, PREFIXSTATS_SET, PREFIXSTATS_DEL };

struct prefixstats_entry {
	char prefix[PREFIXSTATS_PREFIX_MAX + 1];
	size_t len;
	uint64_t get, hit, set, del;
};

struct prefixstats {
	struct prefixstats_entry e[PREFIXSTATS_MAX];
	size_t n;
	struct prefixstats_entry other; /* prefix PREFIXSTATS_OTHER */
	bool overflow;                  /* other has counted something */
};

/* Counts one operation on key[0..klen) (hit: a get that found the item). */
void prefixstats_record(struct prefixstats *p, const char *key, size_t klen,
    enum prefixstats_op op, bool hit);

/* Forgets every prefix (`stats reset`). */
void prefixstats_clear(struct prefixstats *p);

#endif
