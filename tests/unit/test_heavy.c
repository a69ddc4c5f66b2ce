/* Unit tests of lib/heavy: the space-saving counters (exact while they fit, eviction
 * of the smallest, the error bound, heavy keys always kept), slot generations and the
 * index under churn. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heavy.h"

#define KEY_LEN 8

static void
key_of(uint64_t v, uint8_t *key)
{
	memcpy(key, &v, KEY_LEN);
}

static uint64_t
count_of(const struct heavy *h, uint64_t v)
{
	uint8_t key[KEY_LEN];
	uint32_t slot;

	key_of(v, key);
	slot = heavy_find(h, key);
	return slot == HEAVY_NONE ? 0 : heavy_counter(h, slot)->count;
}

static uint32_t
offer(struct heavy *h, uint64_t v, bool *taken)
{
	uint8_t key[KEY_LEN];

	key_of(v, key);
	return heavy_offer(h, key, taken);
}

static void
counts_are_exact_while_the_keys_fit(void **state)
{
	struct heavy h;
	bool taken;
	uint64_t v;
	(void)state;

	assert_int_equal(heavy_init(&h, 16, KEY_LEN, 42), 0);
	for (v = 0; v < 16; v++) {
		for (uint64_t i = 0; i <= v; i++) {
			offer(&h, v, &taken);
			assert_true(taken == (i == 0));
		}
	}
	for (v = 0; v < 16; v++) {
		uint8_t key[KEY_LEN];
		key_of(v, key);
		assert_int_equal(count_of(&h, v), v + 1);
		assert_int_equal(heavy_counter(&h, heavy_find(&h, key))->error, 0);
	}
	assert_int_equal(count_of(&h, 99), 0);
	heavy_release(&h);
}

static void
a_new_key_evicts_the_smallest_and_inherits_its_count(void **state)
{
	struct heavy h;
	uint8_t key[KEY_LEN];
	uint32_t slot, gen;
	bool taken;
	(void)state;

	assert_int_equal(heavy_init(&h, 3, KEY_LEN, 1), 0);
	for (int i = 0; i < 5; i++)
		offer(&h, 1, NULL);
	for (int i = 0; i < 2; i++)
		offer(&h, 2, NULL);
	slot = offer(&h, 3, NULL); /* count 1: the smallest */
	gen = heavy_counter(&h, slot)->gen;
	assert_int_equal(offer(&h, 4, &taken), slot);
	assert_true(taken);
	assert_int_equal(count_of(&h, 3), 0);  /* gone */
	assert_int_equal(count_of(&h, 4), 2);  /* 1 inherited + its own */
	key_of(4, key);
	assert_int_equal(heavy_counter(&h, heavy_find(&h, key))->error, 1);
	assert_false(heavy_holds(&h, slot, gen)); /* 3's tenure of the slot ended */
	assert_true(heavy_holds(&h, slot, heavy_counter(&h, slot)->gen));
	assert_int_equal(count_of(&h, 1), 5);
	assert_int_equal(count_of(&h, 2), 2);
	heavy_release(&h);
}

/* A stream of many distinct keys with a few heavy ones: every heavy key is kept,
 * and every estimate is within [true, true + error] with error <= N / capacity. */
static void
heavy_keys_survive_a_flood_within_the_error_bound(void **state)
{
	enum { CAP = 64, HEAVY = 4, PER_HEAVY = 2000, DISTINCT = 20000 };
	struct heavy h;
	uint64_t n = 0, light = 1000;
	(void)state;

	assert_int_equal(heavy_init(&h, CAP, KEY_LEN, 7), 0);
	for (int round = 0; round < PER_HEAVY; round++) {
		for (uint64_t k = 0; k < HEAVY; k++, n++)
			offer(&h, k, NULL);
		for (int j = 0; j < DISTINCT / PER_HEAVY; j++, n++)
			offer(&h, light++, NULL);
	}
	assert_int_equal(h.offers, n);
	for (uint64_t k = 0; k < HEAVY; k++) {
		uint8_t key[KEY_LEN];
		uint32_t slot;
		key_of(k, key);
		slot = heavy_find(&h, key);
		assert_int_not_equal(slot, HEAVY_NONE);
		assert_true(heavy_counter(&h, slot)->count >= PER_HEAVY);
		assert_true(heavy_counter(&h, slot)->count - heavy_counter(&h, slot)->error <=
		    PER_HEAVY);
	}
	for (uint32_t s = 0; s < CAP; s++)
		assert_true(heavy_counter(&h, s)->error <= n / CAP);
	heavy_release(&h);
}

/* Eviction removes keys from the index while others keep probing past them: after
 * heavy churn every key the counters hold is found at its own slot, and no other. */
static void
the_index_stays_consistent_under_churn(void **state)
{
	enum { CAP = 32 };
	struct heavy h;
	(void)state;

	assert_int_equal(heavy_init(&h, CAP, KEY_LEN, 3), 0);
	for (uint64_t v = 0; v < 50000; v++)
		offer(&h, (v * 2654435761u) % 997, NULL);
	assert_int_equal(h.used, CAP);
	for (uint32_t s = 0; s < CAP; s++)
		assert_int_equal(heavy_find(&h, heavy_counter(&h, s)->key), s);
	for (uint64_t v = 0; v < 997; v++) {
		uint8_t key[KEY_LEN];
		uint32_t slot;
		key_of(v, key);
		slot = heavy_find(&h, key);
		if (slot != HEAVY_NONE)
			assert_memory_equal(heavy_counter(&h, slot)->key, key, KEY_LEN);
	}
	heavy_release(&h);
}

static void
memory_is_fixed_and_arguments_are_checked(void **state)
{
	struct heavy h;
	size_t before;
	(void)state;

	assert_int_equal(heavy_init(&h, 0, KEY_LEN, 0), -1);
	assert_int_equal(heavy_init(&h, 4, HEAVY_KEY_MAX + 1, 0), -1);
	assert_int_equal(heavy_init(&h, 100, KEY_LEN, 0), 0);
	before = heavy_memory(&h);
	for (uint64_t v = 0; v < 10000; v++)
		offer(&h, v, NULL);
	assert_int_equal(heavy_memory(&h), before);
	heavy_release(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_are_exact_while_the_keys_fit),
		cmocka_unit_test(a_new_key_evicts_the_smallest_and_inherits_its_count),
		cmocka_unit_test(heavy_keys_survive_a_flood_within_the_error_bound),
		cmocka_unit_test(the_index_stays_consistent_under_churn),
		cmocka_unit_test(memory_is_fixed_and_arguments_are_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
