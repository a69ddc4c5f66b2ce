#include "sources.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sources_init(struct sources *s, size_t capacity, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	if (heavy_init(&s->heavy, capacity, SOURCE_KEY_LEN, seed) < 0)
		return -1;
	s->records = calloc(capacity, sizeof(*s->records));
	if (s->records == NULL) {
		heavy_release(&s->heavy);
		return -1;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->ready = true;
	return 0;
}

void
sources_release(struct sources *s)
{
	if (!s->ready)
		return;
	heavy_release(&s->heavy);
	free(s->records);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}

/* key = family (4 or 6), prefix length, the address with the bits past it zeroed. */
static void
make_key(uint8_t *key, uint8_t family, uint8_t bits, const uint8_t *addr, size_t addrlen)
{
	size_t i;

	memset(key, 0, SOURCE_KEY_LEN);
	key[0] = family;
	key[1] = bits;
	memcpy(key + 2, addr, addrlen);
	for (i = 0; i < 16; i++) {
		size_t bit = i * 8;
		if (bit >= bits)
			key[2 + i] = 0;
		else if (bit + 8 > bits)
			key[2 + i] &= (uint8_t)(0xff << (8 - (bits - bit)));
	}
}

int
source_keys(const struct sockaddr *sa, socklen_t salen,
    uint8_t keys[SOURCES_PER_CONN][SOURCE_KEY_LEN])
{
	const uint8_t *v4 = NULL;

	if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		v4 = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		/* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: they are
		 * IPv4 sources, whose /64 would lump every IPv4 client together. */
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			v4 = a->s6_addr + 12;
		} else {
			make_key(keys[0], 6, SOURCE_V6_NET, a->s6_addr, 16);
			return 1;
		}
	} else {
		return 0;
	}
	make_key(keys[0], 4, SOURCE_V4_HOST, v4, 4);
	make_key(keys[1], 4, SOURCE_V4_NET, v4, 4);
	return 2;
}

void
source_key_format(const uint8_t *key, char *buf, size_t buflen)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(key[0] == 4 ? AF_INET : AF_INET6, key + 2, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, buflen, "%s/%u", a, (unsigned)key[1]);
}

bool
source_key_is_address(const uint8_t *key)
{
	return (key[0] == 4 && key[1] == SOURCE_V4_HOST) || (key[0] == 6 && key[1] == SOURCE_V6_NET);
}

/* The record ref's entry i still names, or NULL if its slot changed hands. Lock held. */
static struct source_record *
held(struct sources *s, const struct source_ref *ref, int i)
{
	if (!heavy_holds(&s->heavy, ref->slot[i], ref->gen[i]))
		return NULL;
	return &s->records[ref->slot[i]];
}

enum source_verdict
sources_accept(struct sources *s, const struct sockaddr *sa, socklen_t salen, int64_t now,
    const struct source_limits *lim, bool unauth, struct source_ref *ref)
{
	uint8_t keys[SOURCES_PER_CONN][SOURCE_KEY_LEN];
	struct source_record *first;
	enum source_verdict v = SOURCE_ADMIT;
	int n = source_keys(sa, salen, keys), i;

	memset(ref, 0, sizeof(*ref));
	if (n == 0)
		return SOURCE_ADMIT;
	pthread_mutex_lock(&s->lock);
	s->new_conns++;
	for (i = 0; i < n; i++) {
		bool taken;
		uint32_t slot = heavy_offer(&s->heavy, keys[i], &taken);
		if (taken)
			memset(&s->records[slot], 0, sizeof(s->records[slot]));
		rate_window_add(&s->records[slot].rate, now, 1);
		ref->slot[i] = slot;
		ref->gen[i] = heavy_counter(&s->heavy, slot)->gen;
	}
	ref->n = (uint8_t)n;
	/* The /24 just offered may have evicted the /32 (both were the smallest). */
	first = held(s, ref, 0);
	if (first != NULL) {
		if (lim->max_unauth > 0 && unauth && first->unauth >= lim->max_unauth)
			v = SOURCE_REFUSE_UNAUTH;
		else if (!token_bucket_take(&first->bucket, lim->conn_rate, lim->conn_rate, now))
			v = SOURCE_REFUSE_RATE;
	}
	for (i = 0; i < n; i++) {
		struct source_record *r = held(s, ref, i);
		if (r == NULL)
			continue;
		if (v != SOURCE_ADMIT) {
			r->rejected++;
			continue;
		}
		r->curr++;
		if (unauth)
			r->unauth++;
	}
	pthread_mutex_unlock(&s->lock);
	if (v != SOURCE_ADMIT)
		memset(ref, 0, sizeof(*ref));
	else
		ref->unauth = unauth;
	return v;
}

void
sources_login(struct sources *s, struct source_ref *ref, bool ok)
{
	int i;

	if (ref->n == 0)
		return;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < ref->n; i++) {
		struct source_record *r = held(s, ref, i);
		if (r == NULL)
			continue;
		if (!ok) {
			r->auth_failed++;
			continue;
		}
		r->auth_ok++;
		if (ref->unauth && r->unauth > 0)
			r->unauth--;
	}
	pthread_mutex_unlock(&s->lock);
	if (ok)
		ref->unauth = false;
}

void
sources_rejected(struct sources *s, const struct source_ref *ref)
{
	int i;

	if (ref->n == 0)
		return;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < ref->n; i++) {
		struct source_record *r = held(s, ref, i);
		if (r != NULL)
			r->rejected++;
	}
	pthread_mutex_unlock(&s->lock);
}

void
sources_closed(struct sources *s, struct source_ref *ref, uint64_t reqs, bool logged_in)
{
	int b = logged_in ? connreqs_bucket(reqs) : -1, i;

	if (ref->n == 0)
		return;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < ref->n; i++) {
		struct source_record *r = held(s, ref, i);
		if (r == NULL)
			continue;
		if (r->curr > 0)
			r->curr--;
		if (ref->unauth && r->unauth > 0)
			r->unauth--;
		if (b >= 0)
			r->conn_reqs[b]++;
	}
	pthread_mutex_unlock(&s->lock);
	memset(ref, 0, sizeof(*ref));
}

static int
view_cmp(const void *a, const void *b)
{
	const struct source_view *x = a, *y = b;

	if (x->per_sec != y->per_sec)
		return x->per_sec < y->per_sec ? 1 : -1;
	if (x->new_conns != y->new_conns)
		return x->new_conns < y->new_conns ? 1 : -1;
	return memcmp(x->key, y->key, SOURCE_KEY_LEN);
}

size_t
sources_list(struct sources *s, int64_t now, struct source_view *out, size_t max,
    struct source_totals *tot)
{
	size_t n = 0, slot;

	memset(tot, 0, sizeof(*tot));
	if (!s->ready)
		return 0;
	pthread_mutex_lock(&s->lock);
	for (slot = 0; slot < s->heavy.used && n < max; slot++) {
		const struct heavy_counter *c = heavy_counter(&s->heavy, (uint32_t)slot);
		struct source_view *v = &out[n++];
		memcpy(v->key, c->key, SOURCE_KEY_LEN);
		v->new_conns = c->count;
		v->count_error = c->error;
		v->rec = s->records[slot];
		v->per_sec = rate_window_per_sec(&v->rec.rate, now);
	}
	tot->tracked = s->heavy.used;
	tot->capacity = s->heavy.capacity;
	tot->memory = heavy_memory(&s->heavy) + s->heavy.capacity * sizeof(*s->records);
	tot->new_conns = s->new_conns;
	pthread_mutex_unlock(&s->lock);
	qsort(out, n, sizeof(*out), view_cmp);
	return n;
}
