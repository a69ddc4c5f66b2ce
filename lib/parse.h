/*
 * parse — checked parsing of numbers, sizes, durations and booleans.
 *
 * Every function parses the whole input (no trailing bytes, no leading space, no
 * sign where none is allowed), checks the range, and returns 0 with *out set, or -1
 * with *out untouched. Never atoi/sscanf on input.
 */
#ifndef MCOPS_PARSE_H
#define MCOPS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal unsigned integer in [min, max]. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* The same over s[0..len) (need not be NUL-terminated): for protocol tokens. */
int parse_u64_n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out);
/* Decimal signed integer in [min, max], optional leading '-'. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int parse_i64_n(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/*
 * A size in bytes: digits with an optional suffix k/K, m/M, g/G (powers of 1024),
 * optionally followed by "B" or "iB" ("64M", "512k", "1GiB", "1048576").
 */
int parse_size(const char *s, uint64_t *out);

/*
 * A duration in milliseconds: digits with a unit ms, s, m, h, d ("250ms", "5s",
 * "90d"). A bare number is seconds. Several parts may follow each other ("1h30m").
 */
int parse_duration_ms(const char *s, int64_t *out);

/* yes/no, true/false, on/off, 1/0 (case-insensitive). */
int parse_bool(const char *s, bool *out);

#endif
