/*
 * heavy — the heaviest keys of an unbounded stream in fixed memory: the
 * space-saving algorithm (Metwally, Agrawal and El Abbadi, 2005) with a fixed
 * number of counters, a hash index on the keys and a min-heap on the counts.
 *
 * Every offered key is counted. A key that has a counter adds one to it; a new key
 * takes a free counter, or, when all are taken, the counter with the smallest
 * count: the evicted key's count c is inherited (the new key's count becomes c+1)
 * and recorded as the new key's `error`. Hence, with N offers in all and C
 * counters:
 *   - a key's count overestimates its true count by at most its error, and error
 *     <= N / C;
 *   - every key whose true count exceeds N / C holds a counter (is listed).
 *
 * Why space-saving and not count-min: count-min answers "how many for this key?"
 * but cannot list the heavy keys without a second structure (a heap of candidates,
 * i.e. space-saving again), and its error is only probabilistic. Space-saving lists
 * its keys, bounds each estimate's error deterministically, and its counter slots
 * can carry the caller's own per-key data (gauges, limits): see `gen`.
 *
 * Slots and generations: the counters are slots 0..capacity-1, which the caller
 * may mirror with an array of its own data. A slot's generation changes every time
 * the slot changes hands, so a (slot, generation) pair names one key's tenure of a
 * slot: something remembered about a key (a connection's entry) can tell whether
 * the slot still belongs to that key.
 *
 * Memory is fixed at heavy_init (heavy_memory), whatever the number of distinct
 * keys. Operations are O(log C). Not thread-safe: the caller serialises. Keys are
 * key_len bytes (at most HEAVY_KEY_MAX), compared bytewise; the index hashes them
 * with a seed the caller draws at random, so that chosen keys cannot collide on
 * purpose.
 */
#ifndef MCOPS_HEAVY_H
#define MCOPS_HEAVY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAVY_KEY_MAX 20
#define HEAVY_CAPACITY_MAX (1u << 20)
#define HEAVY_NONE UINT32_MAX

struct heavy_counter {
	uint8_t key[HEAVY_KEY_MAX];
	uint64_t count;  /* estimate: true count + at most error */
	uint64_t error;  /* the count inherited from the evicted key */
	uint32_t gen;    /* changes each time the slot changes hands */
	uint32_t heap_at;/* position in the heap */
};

struct heavy {
	struct heavy_counter *counters; /* [capacity], owned */
	uint32_t *heap;                 /* slots, a min-heap on count; [used] */
	uint32_t *index;                /* open addressing: slot + 1, 0 = empty */
	size_t capacity, used, key_len;
	size_t index_mask;              /* index size - 1 (a power of two >= 2 capacity) */
	uint64_t seed;
	uint64_t offers;                /* N: every key ever offered */
};

/* Allocates capacity counters (1..HEAVY_CAPACITY_MAX) for keys of key_len bytes
 * (1..HEAVY_KEY_MAX). 0, or -1 (bad argument or out of memory; h left empty). */
int heavy_init(struct heavy *h, size_t capacity, size_t key_len, uint64_t seed);
void heavy_release(struct heavy *h);

/*
 * Counts one occurrence of key. Returns its slot; *taken (may be NULL) is set to
 * true when the slot was free or has just been taken from another key (its
 * generation changed): the caller then resets its own data for the slot.
 */
uint32_t heavy_offer(struct heavy *h, const void *key, bool *taken);

/* The slot of key, or HEAVY_NONE if it holds none. */
uint32_t heavy_find(const struct heavy *h, const void *key);

/* The counter of a slot (slot < capacity; unused slots have count 0). */
static inline const struct heavy_counter *
heavy_counter(const struct heavy *h, uint32_t slot)
{
	return &h->counters[slot];
}

/* True if slot still belongs to the tenure gen names. */
static inline bool
heavy_holds(const struct heavy *h, uint32_t slot, uint32_t gen)
{
	return slot < h->capacity && h->counters[slot].gen == gen && h->counters[slot].count > 0;
}

/* Bytes the structure holds (fixed from heavy_init on). */
size_t heavy_memory(const struct heavy *h);

#endif
