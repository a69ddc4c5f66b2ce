/*
 * utctime — UTC instants as the configuration and the operators write them, in
 * milliseconds since the Unix epoch.
 */
#ifndef MCOPS_UTCTIME_H
#define MCOPS_UTCTIME_H

#include <stddef.h>
#include <stdint.h>

#define UTC_TEXT_MAX 32 /* "2024-01-02T03:04:05.678Z" and the NUL, with room */

/*
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DDTHH:MM:SS[.fff]", each with an optional
 * trailing "Z"; always UTC. A date that does not exist (31 February) is refused.
 * Returns 0 with *out set, or -1 with *out untouched.
 */
int utc_parse(const char *s, int64_t *out);

/* "2024-01-02T03:04:05Z" (".678" before the Z when ms has a fraction); "-" for 0. */
void utc_format(int64_t ms, char *buf, size_t len);

#endif
