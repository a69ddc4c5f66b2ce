/*
 * utctime — see utctime.h.
 */
#include <stdio.h>
#include <time.h>

#include "utctime.h"

/* Reads exactly n digits at *p into *out, advancing *p. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int
utc_parse(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	time_t t;

	if (s == NULL || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.') {
				p++;
				if (digits(&p, 3, &ms))
					return -1;
			}
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: refuse what did not round-trip. */
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*out = (int64_t)t * 1000 + ms;
	return 0;
}

void
utc_format(int64_t ms, char *buf, size_t len)
{
	time_t t;
	struct tm tm;
	size_t n;

	if (len == 0)
		return;
	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL || (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (ms % 1000 != 0)
		snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
	else
		snprintf(buf + n, len - n, "Z");
}

/* ms as a broken-down UTC time and the milliseconds within its second; instants before
 * 1970 count back (-1 is 23:59:59.999 the day before). 0, or -1 if gmtime_r fails. */
static int
split(int64_t ms, struct tm *tm, int *frac)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);

	*frac = (int)(ms - (int64_t)t * 1000);
	return gmtime_r(&t, tm) != NULL ? 0 : -1;
}

void
utc_format_ms(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	int frac;
	size_t n;

	if (len == 0)
		return;
	if (split(ms, &tm, &frac) < 0 ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf + n, len - n, ".%03dZ", frac);
}

void
utc_format_date(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	int frac;

	if (len == 0)
		return;
	if (split(ms, &tm, &frac) < 0 || strftime(buf, len, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, len, "?");
}
