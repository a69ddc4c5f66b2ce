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

/*
 * The formatters write at most len bytes with the NUL (UTC_TEXT_MAX is always enough),
 * and "?" if the instant cannot be represented. Each is the one form some output needs;
 * tests and readers compare their bytes, so a change here changes those outputs.
 */
/* "2024-01-02T03:04:05Z" (".678" before the Z when ms has a fraction); "-" for ms <= 0.
 * What people read and write back: the pager's messages and chat. */
void utc_format(int64_t ms, char *buf, size_t len);
/* "2024-01-02T03:04:05.678Z", always with the milliseconds (RFC 3339, the form of the
 * Statuspage JSON, the Atom feed, log lines, exports and mctl). Any ms, including 0 and
 * instants before 1970 ("1969-12-31T23:59:59.999Z" for -1). */
void utc_format_ms(int64_t ms, char *buf, size_t len);
/* "2024-01-02": the UTC date of ms (any ms, as utc_format_ms). */
void utc_format_date(int64_t ms, char *buf, size_t len);

#endif
