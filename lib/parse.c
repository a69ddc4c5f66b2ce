#include "parse.h"

#include <string.h>
#include <strings.h>

int
parse_u64_n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9)
			return -1;
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return parse_u64_n(s, strlen(s), min, max, out);
}

int
parse_i64_n(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	uint64_t mag;
	int64_t v;

	if (len > 0 && s[0] == '-') {
		if (parse_u64_n(s + 1, len - 1, 0, (uint64_t)INT64_MAX + 1, &mag) < 0)
			return -1;
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (parse_u64_n(s, len, 0, INT64_MAX, &mag) < 0)
			return -1;
		v = (int64_t)mag;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	return parse_i64_n(s, strlen(s), min, max, out);
}

/* Leading decimal digits of s: their value and count (0 if none or overflow). */
static size_t
leading_u64(const char *s, uint64_t *out)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || parse_u64_n(s, n, 0, UINT64_MAX, out) < 0)
		return 0;
	return n;
}

int
parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mult = 1;
	size_t n = leading_u64(s, &v);
	const char *u = s + n;

	if (n == 0)
		return -1;
	switch (*u) {
	case 'k': case 'K': mult = 1ULL << 10; u++; break;
	case 'm': case 'M': mult = 1ULL << 20; u++; break;
	case 'g': case 'G': mult = 1ULL << 30; u++; break;
	case 't': case 'T': mult = 1ULL << 40; u++; break;
	default: break;
	}
	if (mult > 1 && (strcmp(u, "iB") == 0 || strcmp(u, "B") == 0))
		u += strlen(u);
	else if (mult == 1 && strcmp(u, "B") == 0)
		u++;
	if (*u != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int
parse_duration_ms(const char *s, int64_t *out)
{
	int64_t total = 0;
	uint64_t v, mult;
	size_t n;
	const char *p = s;

	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		n = leading_u64(p, &v);
		if (n == 0)
			return -1;
		p += n;
		if (strncmp(p, "ms", 2) == 0) {
			mult = 1;
			p += 2;
		} else if (*p == 's') {
			mult = 1000;
			p++;
		} else if (*p == 'm') {
			mult = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			mult = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			mult = 86400 * 1000;
			p++;
		} else if (*p == '\0' && p - n == s) {
			mult = 1000; /* a bare number is seconds */
		} else {
			return -1;
		}
		if (v > (uint64_t)INT64_MAX / mult || (int64_t)(v * mult) > INT64_MAX - total)
			return -1;
		total += (int64_t)(v * mult);
	}
	*out = total;
	return 0;
}

int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}
