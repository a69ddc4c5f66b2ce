#include "heavy.h"

#include <stdlib.h>
#include <string.h>

/* A seeded 64-bit hash of the key (FNV-1a mixed with the seed, then finalised as
 * splitmix64 does): fast for 20 bytes and, with a secret seed, not steerable. */
static uint64_t
key_hash(const struct heavy *h, const uint8_t *key)
{
	uint64_t x = 0xcbf29ce484222325ULL ^ h->seed;
	size_t i;

	for (i = 0; i < h->key_len; i++) {
		x ^= key[i];
		x *= 0x100000001b3ULL;
	}
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

int
heavy_init(struct heavy *h, size_t capacity, size_t key_len, uint64_t seed)
{
	size_t isize = 2;

	memset(h, 0, sizeof(*h));
	if (capacity == 0 || capacity > HEAVY_CAPACITY_MAX || key_len == 0 ||
	    key_len > HEAVY_KEY_MAX)
		return -1;
	while (isize < 2 * capacity)
		isize *= 2;
	h->counters = calloc(capacity, sizeof(*h->counters));
	h->heap = calloc(capacity, sizeof(*h->heap));
	h->index = calloc(isize, sizeof(*h->index));
	if (h->counters == NULL || h->heap == NULL || h->index == NULL) {
		heavy_release(h);
		return -1;
	}
	h->capacity = capacity;
	h->key_len = key_len;
	h->index_mask = isize - 1;
	h->seed = seed;
	return 0;
}

void
heavy_release(struct heavy *h)
{
	free(h->counters);
	free(h->heap);
	free(h->index);
	memset(h, 0, sizeof(*h));
}

size_t
heavy_memory(const struct heavy *h)
{
	return sizeof(*h) + h->capacity * (sizeof(*h->counters) + sizeof(*h->heap)) +
	    (h->index_mask + 1) * sizeof(*h->index);
}

/* Index position of key: where it is, or the empty cell where it would go. */
static size_t
index_probe(const struct heavy *h, const uint8_t *key)
{
	size_t i = (size_t)key_hash(h, key) & h->index_mask;

	while (h->index[i] != 0 &&
	    memcmp(h->counters[h->index[i] - 1].key, key, h->key_len) != 0)
		i = (i + 1) & h->index_mask;
	return i;
}

/* Empties cell i, moving later cells of the same probe run back (linear probing
 * without tombstones, so probes stay short whatever the churn). */
static void
index_delete(struct heavy *h, size_t i)
{
	size_t j = i;

	h->index[i] = 0;
	for (;;) {
		size_t home;
		j = (j + 1) & h->index_mask;
		if (h->index[j] == 0)
			return;
		home = (size_t)key_hash(h, h->counters[h->index[j] - 1].key) & h->index_mask;
		/* Cell j's entry may move to i if its home is not in (i, j]. */
		if (((j - home) & h->index_mask) >= ((j - i) & h->index_mask)) {
			h->index[i] = h->index[j];
			h->index[j] = 0;
			i = j;
		}
	}
}

static void
heap_swap(struct heavy *h, size_t a, size_t b)
{
	uint32_t t = h->heap[a];

	h->heap[a] = h->heap[b];
	h->heap[b] = t;
	h->counters[h->heap[a]].heap_at = (uint32_t)a;
	h->counters[h->heap[b]].heap_at = (uint32_t)b;
}

static uint64_t
heap_count(const struct heavy *h, size_t at)
{
	return h->counters[h->heap[at]].count;
}

static void
heap_up(struct heavy *h, size_t at)
{
	while (at > 0 && heap_count(h, (at - 1) / 2) > heap_count(h, at)) {
		heap_swap(h, at, (at - 1) / 2);
		at = (at - 1) / 2;
	}
}

static void
heap_down(struct heavy *h, size_t at)
{
	for (;;) {
		size_t l = 2 * at + 1, r = l + 1, min = at;
		if (l < h->used && heap_count(h, l) < heap_count(h, min))
			min = l;
		if (r < h->used && heap_count(h, r) < heap_count(h, min))
			min = r;
		if (min == at)
			return;
		heap_swap(h, at, min);
		at = min;
	}
}

uint32_t
heavy_find(const struct heavy *h, const void *key)
{
	size_t i;

	if (h->capacity == 0)
		return HEAVY_NONE;
	i = index_probe(h, key);
	return h->index[i] != 0 ? h->index[i] - 1 : HEAVY_NONE;
}

uint32_t
heavy_offer(struct heavy *h, const void *key, bool *taken)
{
	size_t i = index_probe(h, key);
	struct heavy_counter *c;
	uint32_t slot;

	h->offers++;
	if (h->index[i] != 0) {
		slot = h->index[i] - 1;
		c = &h->counters[slot];
		c->count++;
		heap_down(h, c->heap_at);
		if (taken != NULL)
			*taken = false;
		return slot;
	}
	if (h->used < h->capacity) {
		slot = (uint32_t)h->used;
		c = &h->counters[slot];
		c->count = 1;
		c->error = 0;
		c->heap_at = (uint32_t)h->used;
		h->heap[h->used++] = slot;
		memcpy(c->key, key, h->key_len);
		c->gen++;
		h->index[i] = slot + 1;
		heap_up(h, c->heap_at);
	} else {
		/* The smallest count gives its slot up; the newcomer inherits it. */
		slot = h->heap[0];
		c = &h->counters[slot];
		index_delete(h, index_probe(h, c->key));
		memcpy(c->key, key, h->key_len);
		c->error = c->count;
		c->count++;
		c->gen++;
		h->index[index_probe(h, key)] = slot + 1;
		heap_down(h, 0);
	}
	if (taken != NULL)
		*taken = true;
	return slot;
}
