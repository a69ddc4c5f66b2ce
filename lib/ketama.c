#include "ketama.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define MD5_LEN 16
/* "<name>-<h>": h < KETAMA_POINTS_PER_SERVER / KETAMA_POINTS_PER_HASH * KETAMA_SERVERS_MAX,
 * at most 5 digits; nutcracker's own buffer for this text is 86 bytes, which
 * KETAMA_NAME_MAX keeps us (and it) inside. */
#define POINT_TEXT_MAX (KETAMA_NAME_MAX + 1 + 5 + 1)

static int
md5(const struct ketama *k, const void *data, size_t len, unsigned char out[MD5_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, k->md, NULL) != 1 || n != MD5_LEN)
		return -1;
	return 0;
}

static uint32_t
load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Hashes (multiple of 4 points) for a server, in nutcracker's single-precision
 * arithmetic step by step: a float share, times 160, over 4, times the server
 * count, plus 1e-10 in double, back to float, floored. Doing this in double or in
 * another order changes the count for some weights and moves keys.
 */
static uint32_t
hashes_for(uint32_t weight, uint32_t total_weight, size_t nservers)
{
	float share = (float)weight / (float)total_weight;
	float scaled = share * KETAMA_POINTS_PER_SERVER / KETAMA_POINTS_PER_HASH * (float)nservers;

	return (uint32_t)floorf((float)(scaled + 0.0000000001));
}

/* Order by value; equal values keep list order (server, then point), which is how
 * a stable sort of the points in the order they were made leaves them. */
static int
point_compare(const void *a, const void *b)
{
	const struct ketama_point *pa = a, *pb = b;

	if (pa->value != pb->value)
		return pa->value < pb->value ? -1 : 1;
	if (pa->server != pb->server)
		return pa->server < pb->server ? -1 : 1;
	/* Same server, same value: the points are interchangeable. */
	return 0;
}

static int
check_servers(const struct ketama_server *servers, size_t nservers, char *err, size_t errlen)
{
	size_t i, j;

	if (nservers == 0) {
		snprintf(err, errlen, "no servers");
		return -1;
	}
	if (nservers > KETAMA_SERVERS_MAX) {
		snprintf(err, errlen, "%zu servers, more than %d", nservers, KETAMA_SERVERS_MAX);
		return -1;
	}
	for (i = 0; i < nservers; i++) {
		const char *name = servers[i].name;
		size_t len;

		if (name == NULL) {
			snprintf(err, errlen, "server %zu has no name", i);
			return -1;
		}
		len = strnlen(name, KETAMA_NAME_MAX + 1);
		if (len == 0) {
			snprintf(err, errlen, "server %zu has an empty name", i);
			return -1;
		}
		if (len > KETAMA_NAME_MAX) {
			snprintf(err, errlen, "server %zu: name '%.*s...' longer than %d bytes", i, 16,
			    name, KETAMA_NAME_MAX);
			return -1;
		}
		if (servers[i].weight == 0 || servers[i].weight > KETAMA_WEIGHT_MAX) {
			snprintf(err, errlen, "server '%s': weight %u not in 1..%d", name,
			    (unsigned)servers[i].weight, KETAMA_WEIGHT_MAX);
			return -1;
		}
		/* Same name, same points: one of the two would never get a key. */
		for (j = 0; j < i; j++) {
			if (strcmp(servers[j].name, name) == 0) {
				snprintf(err, errlen, "servers %zu and %zu are both named '%s'", j, i,
				    name);
				return -1;
			}
		}
	}
	return 0;
}

int
ketama_init(struct ketama *k, const struct ketama_server *servers, size_t nservers,
    char *err, size_t errlen)
{
	uint32_t total_weight = 0, hashes, h, x;
	size_t i, total_hashes = 0, n = 0;
	unsigned char digest[MD5_LEN];
	char text[POINT_TEXT_MAX];
	int len;

	memset(k, 0, sizeof(*k));
	if (check_servers(servers, nservers, err, errlen) < 0)
		return -1;
	/* At most KETAMA_SERVERS_MAX * KETAMA_WEIGHT_MAX: no overflow. */
	for (i = 0; i < nservers; i++)
		total_weight += servers[i].weight;
	for (i = 0; i < nservers; i++) {
		hashes = hashes_for(servers[i].weight, total_weight, nservers);
		if (hashes == 0) {
			snprintf(err, errlen,
			    "server '%s': weight %u of %u total is too small to get any point",
			    servers[i].name, (unsigned)servers[i].weight, (unsigned)total_weight);
			return -1;
		}
		total_hashes += hashes;
	}
	k->md = EVP_MD_fetch(NULL, "MD5", NULL);
	if (k->md == NULL) {
		snprintf(err, errlen, "libcrypto offers no MD5 (FIPS mode?)");
		return -1;
	}
	k->points = calloc(total_hashes * KETAMA_POINTS_PER_HASH, sizeof(*k->points));
	if (k->points == NULL) {
		snprintf(err, errlen, "out of memory for %zu points",
		    total_hashes * KETAMA_POINTS_PER_HASH);
		goto out_release;
	}
	for (i = 0; i < nservers; i++) {
		hashes = hashes_for(servers[i].weight, total_weight, nservers);
		for (h = 0; h < hashes; h++) {
			len = snprintf(text, sizeof(text), "%s-%u", servers[i].name, (unsigned)h);
			if (len < 0 || (size_t)len >= sizeof(text) ||
			    md5(k, text, (size_t)len, digest) < 0) {
				snprintf(err, errlen, "cannot hash point '%s-%u'", servers[i].name,
				    (unsigned)h);
				goto out_release;
			}
			for (x = 0; x < KETAMA_POINTS_PER_HASH; x++) {
				k->points[n].value = load_le32(digest + 4 * x);
				k->points[n].server = (uint32_t)i;
				n++;
			}
		}
	}
	k->npoints = n;
	k->nservers = nservers;
	qsort(k->points, k->npoints, sizeof(*k->points), point_compare);
	return 0;

out_release:
	ketama_release(k);
	return -1;
}

void
ketama_release(struct ketama *k)
{
	free(k->points);
	EVP_MD_free(k->md);
	memset(k, 0, sizeof(*k));
}

int
ketama_hash(const struct ketama *k, const void *key, size_t keylen, uint32_t *hash)
{
	unsigned char digest[MD5_LEN];

	if (keylen == 0) {
		*hash = 0;
		return 0;
	}
	if (md5(k, key, keylen, digest) < 0)
		return -1;
	*hash = load_le32(digest);
	return 0;
}

size_t
ketama_point_index(const struct ketama *k, uint32_t hash)
{
	size_t lo = 0, hi = k->npoints, mid;

	/* The first point >= hash; none: wrap to the first point. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (k->points[mid].value < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == k->npoints ? 0 : lo;
}

int
ketama_lookup_hash(const struct ketama *k, uint32_t hash)
{
	return (int)k->points[ketama_point_index(k, hash)].server;
}

int
ketama_lookup(const struct ketama *k, const void *key, size_t keylen)
{
	uint32_t hash;

	if (k->nservers == 1)
		return 0;
	if (ketama_hash(k, key, keylen, &hash) < 0)
		return -1;
	return ketama_lookup_hash(k, hash);
}

int
ketama_default_name(char *out, size_t outlen, const char *host, uint16_t port, char *err,
    size_t errlen)
{
	size_t cap = outlen < KETAMA_NAME_MAX + 1 ? outlen : KETAMA_NAME_MAX + 1;
	int len;

	if (host == NULL || host[0] == '\0') {
		snprintf(err, errlen, "empty host");
		return -1;
	}
	if (port == KETAMA_DEFAULT_PORT)
		len = snprintf(out, outlen, "%s", host);
	else
		len = snprintf(out, outlen, "%s:%u", host, (unsigned)port);
	if (len < 0 || (size_t)len >= cap) {
		if (outlen > 0)
			out[0] = '\0';
		snprintf(err, errlen, "server name for '%.*s' port %u longer than %zu bytes", 32,
		    host, (unsigned)port, cap == 0 ? 0 : cap - 1);
		return -1;
	}
	return 0;
}
