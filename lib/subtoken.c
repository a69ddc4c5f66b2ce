/*
 * subtoken — see subtoken.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sha256.h"
#include "subtoken.h"

static const char *const purposes[] = { "confirm", "unsubscribe" };

static void
sign(enum subtoken_purpose purpose, const void *secret, size_t secretlen, int64_t id,
    uint64_t nonce, int64_t expires_s, char hex[2 * SHA256_LEN + 1])
{
	uint8_t mac[SHA256_LEN];
	char text[96];
	int n;

	n = snprintf(text, sizeof(text), "%s\n%lld\n%016llx\n%lld", purposes[purpose],
	    (long long)id, (unsigned long long)nonce, (long long)expires_s);
	hmac_sha256(secret, secretlen, text, (size_t)n, mac);
	hex_encode(mac, sizeof(mac), hex);
}

void
subtoken_make(enum subtoken_purpose purpose, const void *secret, size_t secretlen,
    int64_t id, uint64_t nonce, int64_t expires_s, char out[SUBTOKEN_MAX])
{
	char hex[2 * SHA256_LEN + 1];

	sign(purpose, secret, secretlen, id, nonce, expires_s, hex);
	snprintf(out, SUBTOKEN_MAX, "%lld.%016llx.%lld.%s", (long long)id,
	    (unsigned long long)nonce, (long long)expires_s, hex);
}

/* Digits of [s, s+n) as an unsigned value, base 10 or 16, at most max digits; false
 * if empty, too long, or not all digits. */
static bool
field(const char *s, size_t n, int base, size_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		int d;

		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*out = v;
	return true;
}

enum subtoken_result
subtoken_check(enum subtoken_purpose purpose, const void *secret, size_t secretlen,
    const char *token, int64_t now_s, int64_t *id, uint64_t *nonce)
{
	const char *p[4];
	size_t len[4], i, n = strnlen(token, SUBTOKEN_MAX);
	char hex[2 * SHA256_LEN + 1];
	uint64_t vid, vnonce, vexp;
	const char *s = token;

	if (n >= SUBTOKEN_MAX)
		return SUBTOKEN_INVALID;
	for (i = 0; i < 4; i++) {
		const char *dot = i < 3 ? strchr(s, '.') : s + strlen(s);

		if (dot == NULL)
			return SUBTOKEN_INVALID;
		p[i] = s;
		len[i] = (size_t)(dot - s);
		s = dot + (i < 3);
	}
	/* The exact shapes subtoken_make writes, so that one token has one spelling:
	 * decimal without leading zeros (but "0"), 16 hex digits, 64 hex digits. */
	if (!field(p[0], len[0], 10, 19, &vid) || vid == 0 || p[0][0] == '0' ||
	    !field(p[1], len[1], 16, 16, &vnonce) || len[1] != 16 ||
	    !field(p[2], len[2], 10, 18, &vexp) || (len[2] > 1 && p[2][0] == '0') ||
	    len[3] != 2 * SHA256_LEN || vid > INT64_MAX)
		return SUBTOKEN_INVALID;
	sign(purpose, secret, secretlen, (int64_t)vid, vnonce, (int64_t)vexp, hex);
	if (timingsafe_compare(hex, p[3], 2 * SHA256_LEN) != 0)
		return SUBTOKEN_INVALID;
	if (vexp != 0 && (int64_t)vexp <= now_s)
		return SUBTOKEN_EXPIRED;
	*id = (int64_t)vid;
	*nonce = vnonce;
	return SUBTOKEN_OK;
}
