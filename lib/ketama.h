/*
 * ketama — consistent hashing of keys onto weighted servers, placing every key
 * exactly where twemproxy (nutcracker) places it with `distribution: ketama` and
 * `hash: md5`, so that every proxy of a cluster, ours or nutcracker, agrees on
 * which backend holds a key.
 *
 * The continuum (the "ring"): server i of n, with weight w_i of a total W, gets
 *
 *     hashes_i = floorf((float)(w_i / W) * 160 / 4 * n + 1e-10)      (float arithmetic)
 *
 * and for each h in 0 .. hashes_i - 1 the MD5 digest of the text "<name>-<h>" gives
 * four points: its bytes 0-3, 4-7, 8-11 and 12-15, each read little-endian as a
 * 32-bit value. So equal weights give 160 points per server; weights scale that
 * number (rounded down to a multiple of 4, in nutcracker's single-precision
 * arithmetic, reproduced here operation by operation). The points are sorted by
 * value; points of equal value keep server order (as nutcracker's qsort, glibc's
 * stable merge sort, leaves them).
 *
 * A key's hash is the first four bytes of its MD5 digest, little-endian (an empty
 * key hashes to 0, as in nutcracker). The key goes to the server of the first point
 * whose value is >= the hash; past the last point it wraps to the first. A
 * continuum of one server answers 0 without hashing.
 *
 * The name is what nutcracker hashes for a server: the `name` of a
 * `host:port:weight name` line, else "host:port" — or just "host" when the port is
 * 11211 (nutcracker keeps libmemcached's rule); ketama_default_name() builds that.
 * Hence adding or removing one of n equal servers moves about 1/n of the keys, and
 * renaming a server moves all of its keys.
 *
 * Stricter than nutcracker (which accepts these and then misplaces or never uses a
 * server): at most KETAMA_SERVERS_MAX servers, weights 1..KETAMA_WEIGHT_MAX, names
 * 1..KETAMA_NAME_MAX bytes and distinct, and no server whose weight is so small
 * that it would get no point at all.
 *
 * MD5 comes from libcrypto (EVP): whoever links this file links libcrypto. A
 * struct ketama is caller-owned; ketama_init() allocates its points and
 * ketama_release() frees them. Once built it is only read: lookups from several
 * threads at once are safe. Nothing here logs.
 */
#ifndef MCOPS_KETAMA_H
#define MCOPS_KETAMA_H

#include <stddef.h>
#include <stdint.h>

#define KETAMA_SERVERS_MAX 1024      /* servers in one continuum */
#define KETAMA_WEIGHT_MAX 10000      /* a weight is relative: 1..this */
#define KETAMA_NAME_MAX 64           /* bytes of a server name, without the NUL */
#define KETAMA_POINTS_PER_SERVER 160 /* points of a server of average weight */
#define KETAMA_POINTS_PER_HASH 4     /* points cut from one MD5 digest */
#define KETAMA_DEFAULT_PORT 11211    /* the port nutcracker leaves out of a name */

struct evp_md_st; /* libcrypto's EVP_MD, kept opaque here */

/* One server as configured: borrowed by ketama_init(), not kept. */
struct ketama_server {
	const char *name; /* NUL-terminated; see the header comment for what it is */
	uint32_t weight;
};

struct ketama_point {
	uint32_t value;
	uint32_t server; /* index into the list given to ketama_init() */
};

struct ketama {
	struct ketama_point *points; /* npoints, sorted by value */
	size_t npoints;
	size_t nservers;
	struct evp_md_st *md; /* libcrypto's MD5 (an EVP_MD), fetched once */
};

/*
 * Builds the continuum of servers[0 .. nservers-1] into k (whose previous contents
 * are ignored). Returns 0, or -1 with err filled and k empty (releasing it is
 * harmless) when the list breaks a bound above, a name is NULL or repeated, a
 * server would get no point, or libcrypto cannot give MD5 or memory runs out.
 */
int ketama_init(struct ketama *k, const struct ketama_server *servers, size_t nservers,
    char *err, size_t errlen);

/* Frees k's points; k is left empty. Safe on an empty or zeroed k. */
void ketama_release(struct ketama *k);

/*
 * The server (an index into the list given to ketama_init()) that holds key, or -1
 * when libcrypto could not hash it (out of memory). k must be built: a lookup on
 * an empty continuum is a caller's bug.
 */
int ketama_lookup(const struct ketama *k, const void *key, size_t keylen);

/* The index in k->points of the point a key hash maps to: the first point at or
 * above it, wrapping to 0 (a caller may walk on from it, around the ring). */
size_t ketama_point_index(const struct ketama *k, uint32_t hash);

/* The server for a key hash computed by ketama_hash(). */
int ketama_lookup_hash(const struct ketama *k, uint32_t hash);

/* A key's hash (see the header comment) into *hash. Returns 0, or -1 when
 * libcrypto failed (out of memory). */
int ketama_hash(const struct ketama *k, const void *key, size_t keylen, uint32_t *hash);

/*
 * The name nutcracker hashes for a server listed without one: "host:port", or
 * "host" when port is KETAMA_DEFAULT_PORT. Writes it NUL-terminated into out.
 * Returns 0, or -1 with err filled when host is empty or the name would exceed
 * KETAMA_NAME_MAX or outlen.
 */
int ketama_default_name(char *out, size_t outlen, const char *host, uint16_t port, char *err,
    size_t errlen);

#endif
