/*
 * sha256 — SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), and a comparison that
 * takes the same time wherever two buffers differ.
 *
 * Why not libcrypto: mctl is typed on machines that are in trouble, and it links
 * only what it uses (the Makefile's PKGS_mctl), which without this file would include
 * libcrypto. Measured with libcrypto's EVP SHA-256 and CRYPTO_memcmp in its place
 * (hyperfine, 200-300 runs each, on the shared development VM, December 2026):
 * `mctl --help` went from 7.2 to 10.7 ms of CPU (19.0 to 24.6 ms wall, mean; 6.0 to
 * 7.7 ms fastest), because mapping and relocating libcrypto's ~17,000 relocations
 * costs every start; `mctl tenant add` went from 8.0 to 15.9 ms of CPU (29 to 63 ms
 * wall), as OpenSSL 3 also loads its configuration and default provider at the first
 * digest. The bar for our own crypto was 1 ms; `make bench B=mctl_start` keeps
 * measuring it (start_peer against start_peer_crypto).
 *
 * mcops hashes tenant passwords (salt || password, see tenants.h) and signs webhook
 * bodies; neither needs more than this file. Tests check it against the FIPS and
 * RFC 4231 vectors and against libcrypto on random inputs (tests/unit/test_sha256.c).
 *
 * Streaming use:
 *
 *     struct sha256 c;
 *     uint8_t digest[SHA256_LEN];
 *     sha256_init(&c);
 *     sha256_update(&c, salt, saltlen);
 *     sha256_update(&c, password, len);
 *     sha256_final(&c, digest);       // c is wiped
 */
#ifndef MCOPS_SHA256_H
#define MCOPS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32   /* bytes of a digest */
#define SHA256_BLOCK 64 /* bytes of a block */

struct sha256 {
	uint32_t h[8];
	uint64_t length; /* bytes hashed so far */
	uint8_t block[SHA256_BLOCK];
	size_t used; /* bytes of block[] filled */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Writes the digest and wipes c (init it again to reuse it). */
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);
/* The digest of one buffer. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* HMAC-SHA-256 of data under key (any length). */
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    uint8_t out[SHA256_LEN]);
/* Writes in[0..len) as 2*len lowercase hex digits and a NUL into out. */
void hex_encode(const void *in, size_t len, char *out);
/* 0 if a and b hold the same len bytes; the time taken depends on len only. */
int timingsafe_compare(const void *a, const void *b, size_t len);

#endif
