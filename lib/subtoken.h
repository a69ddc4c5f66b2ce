/*
 * subtoken — the signed links of the status page's subscribers: a confirmation link
 * that expires, and an unsubscribe link that does not. A token is
 *
 *     ID.NONCE.EXPIRES.SIG
 *
 * ID the subscriber's id (decimal), NONCE its current nonce (16 hex digits: a new one
 * at each subscription, lib/ilog_subscribers.h), EXPIRES the second it stops working
 * (decimal Unix time; 0 = never), SIG the HMAC-SHA-256 (lib/sha256.h) under the
 * page's subscriber secret of "PURPOSE\nID\nNONCE\nEXPIRES" as 64 lowercase hex
 * digits. The purpose is signed, so an unsubscribe token never confirms and the other
 * way round; the nonce is signed, so a token outlives neither a new subscription of
 * the address nor the row it names. Only URL-safe characters: no escaping needed.
 *
 * Pure: no clock, no log; the caller passes now and looks the subscriber up.
 */
#ifndef MCOPS_SUBTOKEN_H
#define MCOPS_SUBTOKEN_H

#include <stddef.h>
#include <stdint.h>

#define SUBTOKEN_MAX 128 /* bytes of a token with its NUL (20+1+16+1+20+1+64+1) */

enum subtoken_purpose { SUBTOKEN_CONFIRM, SUBTOKEN_UNSUBSCRIBE };

enum subtoken_result {
	SUBTOKEN_OK = 0,
	SUBTOKEN_INVALID = -1, /* malformed, or the signature does not match */
	SUBTOKEN_EXPIRED = -2, /* well signed, but EXPIRES is past */
};

/* The token into out (SUBTOKEN_MAX bytes). secret: secretlen bytes (non-empty).
 * expires_s: 0 for never. */
void subtoken_make(enum subtoken_purpose purpose, const void *secret, size_t secretlen,
    int64_t id, uint64_t nonce, int64_t expires_s, char out[SUBTOKEN_MAX]);

/*
 * Checks token (any text, e.g. a query's value, at most SUBTOKEN_MAX-1 bytes) for
 * purpose at now_s. OK: *id and *nonce are what it names. The signature is compared
 * in constant time and checked before the expiry, so a forged token is INVALID
 * whatever its EXPIRES says.
 */
enum subtoken_result subtoken_check(enum subtoken_purpose purpose, const void *secret,
    size_t secretlen, const char *token, int64_t now_s, int64_t *id, uint64_t *nonce);

#endif
