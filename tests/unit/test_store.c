/*
 * Unit tests of cache/store: every write mode on hit and miss, CAS, expiry, touch,
 * delete, incr/decr, flush (immediate and delayed), LRU eviction and the limit,
 * meta semantics (vivify, win tokens, stale, recache), incremental rehash,
 * statistics, allocation failure and concurrent use. Time is a fake `now` in ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cache/store.h"

#define VALUE_CAP 4096

/* What a read callback saw, copied out (the store's pointers die with the call). */
struct seen {
	int calls;
	char key[STORE_KEY_MAX + 1];
	char value[VALUE_CAP];
	size_t vlen;
	struct store_item_info info;
};

static void
capture(void *arg, const struct store_item_info *info)
{
	struct seen *g = arg;
	size_t n = info->vlen < VALUE_CAP - 1 ? info->vlen : VALUE_CAP - 1;

	g->calls++;
	g->info = *info;
	g->info.key = NULL;
	g->info.value = NULL;
	memcpy(g->key, info->key, info->klen);
	g->key[info->klen] = '\0';
	memcpy(g->value, info->value, n);
	g->value[n] = '\0';
	g->vlen = info->vlen;
}

static enum store_status
put_full(struct store *s, const char *key, const char *value, int64_t now,
    const struct store_set_opts *o, struct store_result *res)
{
	return store_set(s, key, strlen(key), value, strlen(value), now, o, res);
}

static enum store_status
put_mode(struct store *s, const char *key, const char *value, int64_t now, enum store_mode mode)
{
	struct store_set_opts o = { .mode = mode };

	return put_full(s, key, value, now, &o, NULL);
}

static enum store_status
put(struct store *s, const char *key, const char *value, int64_t now)
{
	return put_mode(s, key, value, now, STORE_SET);
}

static enum store_status
get_opts(struct store *s, const char *key, int64_t now, const struct store_get_opts *o,
    struct seen *g)
{
	memset(g, 0, sizeof(*g));
	return store_get(s, key, strlen(key), now, o, capture, g);
}

static enum store_status
get(struct store *s, const char *key, int64_t now, struct seen *g)
{
	return get_opts(s, key, now, NULL, g);
}

/* A read that changes nothing (no LRU move, no fetched): for checking state. */
static bool
present(struct store *s, const char *key, int64_t now)
{
	struct store_get_opts o = { .no_bump = true };
	struct seen g;

	return get_opts(s, key, now, &o, &g) == STORE_OK;
}

static void
assert_value(struct store *s, const char *key, int64_t now, const char *want)
{
	struct store_get_opts o = { .no_bump = true };
	struct seen g;

	assert_int_equal(get_opts(s, key, now, &o, &g), STORE_OK);
	assert_int_equal(g.vlen, strlen(want));
	assert_string_equal(g.value, want);
}

static uint64_t
cas_of(struct store *s, const char *key, int64_t now)
{
	struct store_get_opts o = { .no_bump = true };
	struct seen g;

	assert_int_equal(get_opts(s, key, now, &o, &g), STORE_OK);
	return g.info.cas;
}

static struct store_stats
stats(struct store *s)
{
	struct store_stats st;

	store_get_stats(s, &st);
	return st;
}

static uint64_t
charge(const char *key, size_t vlen)
{
	return STORE_ITEM_OVERHEAD + strlen(key) + vlen;
}

/* --- storage modes ---------------------------------------------------------------- */

struct mode_case {
	enum store_mode mode;
	bool exists;
	enum store_status want;
	const char *after; /* value afterwards, NULL = no item */
};

static void
set_modes_on_hit_and_miss(void **state)
{
	static const struct mode_case cases[] = {
		{ STORE_SET, false, STORE_OK, "new" },
		{ STORE_SET, true, STORE_OK, "new" },
		{ STORE_ADD, false, STORE_OK, "new" },
		{ STORE_ADD, true, STORE_NOT_STORED, "old" },
		{ STORE_REPLACE, false, STORE_NOT_STORED, NULL },
		{ STORE_REPLACE, true, STORE_OK, "new" },
		{ STORE_APPEND, false, STORE_NOT_STORED, NULL },
		{ STORE_APPEND, true, STORE_OK, "oldnew" },
		{ STORE_PREPEND, false, STORE_NOT_STORED, NULL },
		{ STORE_PREPEND, true, STORE_OK, "newold" },
		{ STORE_CAS, false, STORE_NOT_FOUND, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mode_case *c = &cases[i];
		struct store *s = store_new(1 << 20);

		assert_non_null(s);
		if (c->exists)
			assert_int_equal(put(s, "k", "old", 0), STORE_OK);
		assert_int_equal(put_mode(s, "k", "new", 1, c->mode), c->want);
		if (c->after != NULL)
			assert_value(s, "k", 2, c->after);
		else
			assert_false(present(s, "k", 2));
		assert_int_equal(stats(s).curr_items, c->after != NULL ? 1 : 0);
		store_free(s);
	}
}

static void
bad_key_lengths_are_never_stored(void **state)
{
	struct store *s = store_new(1 << 20);
	char longkey[STORE_KEY_MAX + 2];
	struct seen g;

	(void)state;
	memset(longkey, 'x', sizeof(longkey));
	assert_int_equal(store_set(s, "", 0, "v", 1, 0, NULL, NULL), STORE_NOT_STORED);
	assert_int_equal(store_set(s, longkey, STORE_KEY_MAX + 1, "v", 1, 0, NULL, NULL),
	    STORE_NOT_STORED);
	assert_int_equal(store_set(s, longkey, STORE_KEY_MAX, "v", 1, 0, NULL, NULL), STORE_OK);
	assert_int_equal(store_get(s, longkey, STORE_KEY_MAX + 1, 0, NULL, capture, &g),
	    STORE_NOT_FOUND);
	assert_int_equal(store_delete(s, "", 0, 0, NULL), STORE_NOT_FOUND);
	assert_int_equal(store_touch(s, "", 0, 0, 0), STORE_NOT_FOUND);
	assert_int_equal(store_arith(s, "", 0, 0, NULL, NULL), STORE_NOT_FOUND);
	assert_int_equal(stats(s).curr_items, 1);
	store_free(s);
}

/* --- CAS ---------------------------------------------------------------------------- */

static void
cas_hit_mismatch_and_miss(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_CAS };
	struct store_result res;
	uint64_t c1, c2;

	(void)state;
	assert_int_equal(put_full(s, "k", "v1", 0, NULL, &res), STORE_OK);
	c1 = cas_of(s, "k", 0);
	assert_true(c1 != 0);
	assert_true(res.cas == c1);

	o.cas = c1;
	assert_int_equal(put_full(s, "k", "v2", 1, &o, &res), STORE_OK);
	c2 = cas_of(s, "k", 1);
	assert_true(c2 != c1);
	assert_true(res.cas == c2);
	assert_value(s, "k", 1, "v2");

	/* abuse: the old cas again, and a zero cas, both fail and change nothing */
	assert_int_equal(put_full(s, "k", "v3", 2, &o, &res), STORE_EXISTS);
	assert_true(res.cas == c2); /* reports the item it ran into */
	o.cas = 0;
	assert_int_equal(put_full(s, "k", "v3", 2, &o, NULL), STORE_EXISTS);
	assert_value(s, "k", 2, "v2");
	assert_true(cas_of(s, "k", 2) == c2);

	o.cas = c2;
	assert_int_equal(put_full(s, "missing", "v", 3, &o, NULL), STORE_NOT_FOUND);
	assert_false(present(s, "missing", 3));

	struct store_stats st = stats(s);
	assert_int_equal(st.cas_hits, 1);
	assert_int_equal(st.cas_badval, 2);
	assert_int_equal(st.cas_misses, 1);
	store_free(s);
}

static void
meta_cas_on_set_replace_add_and_new_cas(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_SET };
	struct store_result res;
	uint64_t c;

	(void)state;
	assert_int_equal(put(s, "k", "v1", 0), STORE_OK);
	c = cas_of(s, "k", 0);

	/* a cas on set makes it a cas: mismatch fails, miss is NOT_FOUND */
	o.cas = c + 100;
	assert_int_equal(put_full(s, "k", "x", 1, &o, NULL), STORE_EXISTS);
	assert_int_equal(put_full(s, "nokey", "x", 1, &o, NULL), STORE_NOT_FOUND);
	o.mode = STORE_REPLACE;
	assert_int_equal(put_full(s, "k", "x", 1, &o, NULL), STORE_EXISTS);
	o.cas = c;
	assert_int_equal(put_full(s, "k", "v2", 1, &o, NULL), STORE_OK);
	assert_value(s, "k", 1, "v2");

	/* add ignores the cas: stores on a miss, NOT_STORED on a hit */
	o.mode = STORE_ADD;
	o.cas = 12345;
	assert_int_equal(put_full(s, "fresh", "a", 2, &o, NULL), STORE_OK);
	assert_int_equal(put_full(s, "fresh", "b", 2, &o, NULL), STORE_NOT_STORED);
	assert_value(s, "fresh", 2, "a");

	/* meta E: the stored item takes the given cas */
	o = (struct store_set_opts){ .mode = STORE_SET, .new_cas = 777777 };
	assert_int_equal(put_full(s, "e", "v", 3, &o, &res), STORE_OK);
	assert_true(res.cas == 777777);
	assert_true(cas_of(s, "e", 3) == 777777);
	store_free(s);
}

/* --- append / prepend ------------------------------------------------------------------- */

static void
append_prepend_keep_flags_and_exptime(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_SET, .flags = 42, .exptime = 10000 };
	struct store_result res;
	struct seen g;
	uint64_t c0;

	(void)state;
	assert_int_equal(put_full(s, "k", "mid", 0, &o, NULL), STORE_OK);
	c0 = cas_of(s, "k", 0);
	o = (struct store_set_opts){ .mode = STORE_APPEND, .flags = 7, .exptime = 0 };
	assert_int_equal(put_full(s, "k", "-end", 1, &o, &res), STORE_OK);
	assert_int_equal(res.flags, 42);
	assert_int_equal(res.exptime, 10000);
	o.mode = STORE_PREPEND;
	assert_int_equal(put_full(s, "k", "start-", 2, &o, NULL), STORE_OK);
	assert_int_equal(get(s, "k", 3, &g), STORE_OK);
	assert_string_equal(g.value, "start-mid-end");
	assert_int_equal(g.info.flags, 42);
	assert_int_equal(g.info.exptime, 10000);
	assert_true(g.info.cas != c0);
	/* the kept expiry still applies */
	assert_int_equal(get(s, "k", 10000, &g), STORE_NOT_FOUND);

	/* abuse: a mismatched cas on append fails and changes nothing */
	assert_int_equal(put(s, "c", "x", 0), STORE_OK);
	o = (struct store_set_opts){ .mode = STORE_APPEND, .cas = cas_of(s, "c", 0) + 1 };
	assert_int_equal(put_full(s, "c", "y", 1, &o, NULL), STORE_EXISTS);
	assert_value(s, "c", 1, "x");
	o.cas = cas_of(s, "c", 1);
	assert_int_equal(put_full(s, "c", "y", 1, &o, NULL), STORE_OK);
	assert_value(s, "c", 1, "xy");
	store_free(s);
}

/* memcached's item size caps what append/prepend may build: beyond it they answer
 * NOT_STORED and the item stays as it was (a 1 MB item must not grow to 4 MB). */
static void
append_prepend_stop_at_the_item_size(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_APPEND, .value_max = 6 };
	struct store_stats st;

	(void)state;
	assert_int_equal(put(s, "k", "abcd", 0), STORE_OK);
	assert_int_equal(put_full(s, "k", "ef", 1, &o, NULL), STORE_OK); /* exactly 6 */
	assert_value(s, "k", 1, "abcdef");
	assert_int_equal(put_full(s, "k", "g", 2, &o, NULL), STORE_NOT_STORED);
	o.mode = STORE_PREPEND;
	assert_int_equal(put_full(s, "k", "g", 3, &o, NULL), STORE_NOT_STORED);
	assert_value(s, "k", 4, "abcdef");
	store_get_stats(s, &st);
	assert_int_equal(st.bytes, STORE_ITEM_OVERHEAD + 1 + 6);
	/* 0: no cap but the store's limit */
	o.value_max = 0;
	assert_int_equal(put_full(s, "k", "g", 5, &o, NULL), STORE_OK);
	assert_value(s, "k", 6, "gabcdef");
	store_free(s);
}

struct ref_catch {
	struct store_ref *ref;
	const char *value;
	size_t vlen;
};

static void
take_ref(void *arg, const struct store_item_info *info)
{
	struct ref_catch *rc = arg;

	rc->ref = store_ref_take(info);
	rc->value = info->value;
	rc->vlen = info->vlen;
}

/* A reply holds a value by reference: it stays valid and unchanged while the key is
 * overwritten, incremented or deleted, and leaves the store's accounting at once. */
static void
a_reference_keeps_the_value_it_was_taken_on(void **state)
{
	struct store *s = store_new(1 << 20);
	struct ref_catch a, b;
	struct store_stats st;

	(void)state;
	assert_int_equal(put(s, "k", "12", 0), STORE_OK);
	assert_int_equal(store_get(s, "k", 1, 1, NULL, take_ref, &a), STORE_OK);
	assert_non_null(a.ref);
	/* incr of the same length would rewrite in place: not while referenced */
	assert_int_equal(store_arith(s, "k", 1, 2, &(struct store_arith_opts){ .delta = 1 },
	    NULL), STORE_OK);
	assert_value(s, "k", 3, "13");
	assert_memory_equal(a.value, "12", 2);
	assert_int_equal(store_get(s, "k", 1, 4, NULL, take_ref, &b), STORE_OK);
	assert_int_equal(put(s, "k", "other", 5), STORE_OK);
	assert_int_equal(store_delete(s, "k", 1, 6, NULL), STORE_OK);
	assert_memory_equal(a.value, "12", 2);
	assert_memory_equal(b.value, "13", 2);
	store_get_stats(s, &st);
	assert_int_equal(st.bytes, 0); /* held only by references: not the store's */
	store_ref_release(s, a.ref);
	store_ref_release(s, b.ref);
	store_free(s);
}

static void
append_vivify_creates_on_miss(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_APPEND, .vivify = true, .vivify_exptime = 500,
		.flags = 9 };
	struct store_result res;
	struct seen g;

	(void)state;
	assert_int_equal(put_full(s, "k", "abc", 0, &o, &res), STORE_OK);
	assert_true(res.created);
	assert_int_equal(get(s, "k", 1, &g), STORE_OK);
	assert_string_equal(g.value, "abc");
	assert_int_equal(g.info.flags, 9);
	assert_int_equal(g.info.exptime, 500);
	assert_int_equal(put_full(s, "k", "def", 2, &o, &res), STORE_OK);
	assert_false(res.created);
	assert_value(s, "k", 2, "abcdef");
	store_free(s);
}

/* --- expiry, touch, delete --------------------------------------------------------------- */

static void
expiry_is_absolute_on_the_callers_clock(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_SET, .exptime = 6000 };
	struct seen g;

	(void)state;
	assert_int_equal(put_full(s, "k", "v", 1000, &o, NULL), STORE_OK);
	assert_int_equal(put(s, "forever", "v", 1000), STORE_OK);
	assert_int_equal(get(s, "k", 5999, &g), STORE_OK);
	assert_int_equal(g.info.exptime, 6000);
	assert_int_equal(get(s, "k", 6000, &g), STORE_NOT_FOUND);
	assert_int_equal(g.calls, 0);
	assert_int_equal(get(s, "forever", INT64_MAX / 2, &g), STORE_OK);

	/* abuse: an expiry already in the past stores an item nobody can read */
	o.exptime = 10;
	assert_int_equal(put_full(s, "past", "v", 1000, &o, NULL), STORE_OK);
	assert_int_equal(get(s, "past", 1000, &g), STORE_NOT_FOUND);

	struct store_stats st = stats(s);
	assert_int_equal(st.get_expired, 2);
	assert_int_equal(st.reclaimed, 2);
	assert_int_equal(st.expired_unfetched, 1); /* "k" had been read before */
	assert_int_equal(st.curr_items, 1);
	assert_int_equal(st.bytes, charge("forever", 1));
	store_free(s);
}

static void
touch_sets_expiry_and_keeps_cas(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_SET, .exptime = 1000 };
	struct store_get_opts gat = { .touch = true, .exptime = 9000 };
	uint64_t c;
	struct seen g;

	(void)state;
	assert_int_equal(put_full(s, "k", "v", 0, &o, NULL), STORE_OK);
	c = cas_of(s, "k", 0);
	assert_int_equal(store_touch(s, "k", 1, 500, 5000), STORE_OK);
	assert_true(cas_of(s, "k", 999) == c);
	assert_int_equal(get(s, "k", 4999, &g), STORE_OK);
	assert_int_equal(g.info.exptime, 5000);

	/* gat: the read reports the new expiry */
	assert_int_equal(get_opts(s, "k", 4999, &gat, &g), STORE_OK);
	assert_int_equal(g.info.exptime, 9000);
	assert_true(g.info.cas == c);
	assert_true(present(s, "k", 8999));
	assert_false(present(s, "k", 9000));

	/* abuse: touching what is missing or expired */
	assert_int_equal(store_touch(s, "k", 1, 9000, 20000), STORE_NOT_FOUND);
	assert_int_equal(store_touch(s, "nokey", 5, 9000, 20000), STORE_NOT_FOUND);
	assert_int_equal(get_opts(s, "nokey", 9000, &gat, &g), STORE_NOT_FOUND);

	struct store_stats st = stats(s);
	assert_int_equal(st.touch_hits, 2);
	assert_int_equal(st.touch_misses, 3);
	store_free(s);
}

static void
delete_with_and_without_cas(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_delete_opts d = { 0 };

	(void)state;
	assert_int_equal(put(s, "a", "1", 0), STORE_OK);
	assert_int_equal(store_delete(s, "a", 1, 1, NULL), STORE_OK);
	assert_false(present(s, "a", 1));
	assert_int_equal(store_delete(s, "a", 1, 1, NULL), STORE_NOT_FOUND);

	assert_int_equal(put(s, "b", "2", 0), STORE_OK);
	d.cas = cas_of(s, "b", 0) + 1;
	assert_int_equal(store_delete(s, "b", 1, 1, &d), STORE_EXISTS);
	assert_value(s, "b", 1, "2");
	d.cas = cas_of(s, "b", 0);
	assert_int_equal(store_delete(s, "b", 1, 1, &d), STORE_OK);
	assert_false(present(s, "b", 1));

	struct store_stats st = stats(s);
	assert_int_equal(st.delete_hits, 2);
	assert_int_equal(st.delete_misses, 1);
	assert_int_equal(st.curr_items, 0);
	assert_int_equal(st.bytes, 0);
	store_free(s);
}

/* --- incr / decr ----------------------------------------------------------------------- */

struct arith_case {
	const char *start;
	bool decr;
	uint64_t delta;
	enum store_status want;
	const char *after;
	uint64_t value;
};

static void
incr_decr_wrap_floor_and_non_numeric(void **state)
{
	static const struct arith_case cases[] = {
		{ "5", false, 3, STORE_OK, "8", 8 },
		{ "99", false, 1, STORE_OK, "100", 100 },		  /* grows */
		{ "10", true, 3, STORE_OK, "7", 7 },			  /* shrinks: exact */
		{ "3", true, 5, STORE_OK, "0", 0 },			  /* floors at 0 */
		{ "18446744073709551615", false, 1, STORE_OK, "0", 0 }, /* wraps */
		{ "18446744073709551615", false, 2, STORE_OK, "1", 1 },
		{ "18446744073709551614", true, 0, STORE_OK, "18446744073709551614",
		    18446744073709551614ULL },
		{ "007", false, 1, STORE_OK, "8", 8 },
		{ "0", false, 18446744073709551615ULL, STORE_OK, "18446744073709551615",
		    18446744073709551615ULL },
		/* abuse: anything but 1..20 digits that fit in 64 bits */
		{ "", false, 1, STORE_NON_NUMERIC, "", 0 },
		{ "abc", false, 1, STORE_NON_NUMERIC, "abc", 0 },
		{ "12a", false, 1, STORE_NON_NUMERIC, "12a", 0 },
		{ "-1", true, 1, STORE_NON_NUMERIC, "-1", 0 },
		{ " 1", false, 1, STORE_NON_NUMERIC, " 1", 0 },
		{ "1 ", false, 1, STORE_NON_NUMERIC, "1 ", 0 },
		{ "18446744073709551616", false, 1, STORE_NON_NUMERIC, "18446744073709551616", 0 },
		{ "000000000000000000001", false, 1, STORE_NON_NUMERIC, "000000000000000000001",
		    0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct arith_case *c = &cases[i];
		struct store *s = store_new(1 << 20);
		struct store_set_opts so = { .mode = STORE_SET, .flags = 33, .exptime = 1000 };
		struct store_arith_opts ao = { .decr = c->decr, .delta = c->delta };
		struct store_result res;
		uint64_t c0;
		struct seen g;

		assert_int_equal(put_full(s, "n", c->start, 0, &so, NULL), STORE_OK);
		c0 = cas_of(s, "n", 0);
		assert_int_equal(store_arith(s, "n", 1, 1, &ao, &res), c->want);
		assert_int_equal(get(s, "n", 2, &g), STORE_OK);
		assert_string_equal(g.value, c->after);
		assert_int_equal(g.info.flags, 33);
		assert_int_equal(g.info.exptime, 1000);
		if (c->want == STORE_OK) {
			assert_true(res.value == c->value);
			assert_true(res.cas == g.info.cas);
			assert_true(g.info.cas != c0);
		} else {
			assert_true(g.info.cas == c0);
		}
		assert_int_equal(stats(s).bytes, charge("n", strlen(c->after)));
		store_free(s);
	}
}

static void
arith_miss_cas_vivify_and_touch(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_arith_opts ao = { .delta = 1 };
	struct store_result res;
	struct seen g;

	(void)state;
	assert_int_equal(store_arith(s, "n", 1, 0, &ao, &res), STORE_NOT_FOUND);
	ao.decr = true;
	assert_int_equal(store_arith(s, "n", 1, 0, &ao, &res), STORE_NOT_FOUND);
	assert_false(present(s, "n", 0));

	ao = (struct store_arith_opts){ .delta = 1, .vivify = true, .initial = 40,
		.vivify_exptime = 7000 };
	assert_int_equal(store_arith(s, "n", 1, 0, &ao, &res), STORE_OK);
	assert_true(res.created);
	assert_int_equal(res.value, 40);
	assert_int_equal(get(s, "n", 0, &g), STORE_OK);
	assert_string_equal(g.value, "40");
	assert_int_equal(g.info.exptime, 7000);
	assert_int_equal(store_arith(s, "n", 1, 1, &ao, &res), STORE_OK);
	assert_false(res.created);
	assert_int_equal(res.value, 41);

	/* cas must match; touch sets the expiry */
	ao = (struct store_arith_opts){ .delta = 1, .cas = res.cas + 5 };
	assert_int_equal(store_arith(s, "n", 1, 2, &ao, &res), STORE_EXISTS);
	assert_value(s, "n", 2, "41");
	ao.cas = cas_of(s, "n", 2);
	ao.touch = true;
	ao.exptime = 99000;
	assert_int_equal(store_arith(s, "n", 1, 2, &ao, &res), STORE_OK);
	assert_int_equal(res.exptime, 99000);
	assert_true(present(s, "n", 98999));

	struct store_stats st = stats(s);
	assert_int_equal(st.incr_misses, 2);
	assert_int_equal(st.decr_misses, 1);
	assert_int_equal(st.incr_hits, 2);
	store_free(s);
}

/* --- flush --------------------------------------------------------------------------- */

static void
flush_immediate_kills_items_of_the_same_millisecond(void **state)
{
	struct store *s = store_new(1 << 20);
	struct seen g;

	(void)state;
	assert_int_equal(put(s, "before", "1", 100), STORE_OK);
	assert_int_equal(put(s, "before2", "1", 100), STORE_OK);
	store_flush(s, 100, 100);
	assert_int_equal(stats(s).curr_items, 0);
	assert_int_equal(put(s, "after", "2", 100), STORE_OK);
	assert_int_equal(get(s, "before", 100, &g), STORE_NOT_FOUND);
	assert_int_equal(get(s, "after", 100, &g), STORE_OK);

	/* abuse: add and replace see the flushed item as absent */
	assert_int_equal(put_mode(s, "before2", "x", 100, STORE_REPLACE), STORE_NOT_STORED);
	assert_int_equal(put_mode(s, "before2", "y", 100, STORE_ADD), STORE_OK);
	assert_value(s, "before2", 100, "y");

	struct store_stats st = stats(s);
	assert_int_equal(st.curr_items, 2);
	assert_int_equal(st.bytes, charge("after", 1) + charge("before2", 1));
	store_free(s);
}

static void
flush_memory_is_reclaimed_within_a_few_calls(void **state)
{
	struct store *s = store_new(1 << 20);
	char key[32];
	struct seen g;

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put(s, key, "value", 0), STORE_OK);
	}
	store_flush(s, 1, 0);
	struct store_stats st = stats(s);
	assert_int_equal(st.curr_items, 0);
	assert_true(st.bytes > 0); /* still allocated: freed lazily */
	/* a read of a flushed item not yet reclaimed counts as get_flushed */
	assert_int_equal(get(s, "k99", 2, &g), STORE_NOT_FOUND);
	assert_int_equal(stats(s).get_flushed, 1);
	assert_int_equal(stats(s).get_misses, 1);
	for (int i = 0; i < 10; i++)
		(void)get(s, "unrelated", 2, &g);
	st = stats(s);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.reclaimed, 100);
	assert_int_equal(st.evictions, 0);
	store_free(s);
}

static void
flush_delayed_kills_items_stored_during_the_delay(void **state)
{
	struct store *s = store_new(1 << 20);
	struct seen g;

	(void)state;
	assert_int_equal(put(s, "old", "1", 0), STORE_OK);
	store_flush(s, 0, 5000);
	assert_int_equal(put(s, "during", "2", 1000), STORE_OK);
	assert_int_equal(get(s, "old", 4999, &g), STORE_OK);
	assert_int_equal(get(s, "during", 4999, &g), STORE_OK);
	assert_int_equal(stats(s).curr_items, 2);
	assert_int_equal(get(s, "old", 5000, &g), STORE_NOT_FOUND);
	assert_int_equal(get(s, "during", 5000, &g), STORE_NOT_FOUND);
	assert_int_equal(stats(s).curr_items, 0);
	assert_int_equal(put(s, "later", "3", 5000), STORE_OK);
	assert_int_equal(get(s, "later", 6000, &g), STORE_OK);

	/* a later flush replaces a pending one: the immediate flush here kills
	 * "a", and the earlier delay never fires on "b" */
	assert_int_equal(put(s, "a", "1", 7000), STORE_OK);
	store_flush(s, 7000, 9000);
	store_flush(s, 7001, 7001);
	assert_int_equal(put(s, "b", "2", 7002), STORE_OK);
	assert_false(present(s, "a", 7002));
	assert_true(present(s, "b", 20000));
	store_free(s);
}

/* --- eviction and the limit ---------------------------------------------------------- */

static void
eviction_follows_lru_and_bumped_items_survive(void **state)
{
	/* room for exactly three items of a 1-byte key and 10-byte value */
	struct store *s = store_new(3 * charge("a", 10));
	const int64_t later = STORE_BUMP_INTERVAL_MS;
	struct seen g;

	(void)state;
	assert_int_equal(put(s, "a", "0123456789", 0), STORE_OK);
	assert_int_equal(put(s, "b", "0123456789", 0), STORE_OK);
	assert_int_equal(put(s, "c", "0123456789", 0), STORE_OK);
	assert_int_equal(put(s, "d", "0123456789", 1), STORE_OK);
	assert_false(present(s, "a", 1)); /* least recently used */
	assert_true(present(s, "b", 1));

	/* a hit an interval after its last move takes b to the head: c goes next */
	assert_int_equal(get(s, "b", later, &g), STORE_OK);
	assert_int_equal(put(s, "e", "0123456789", later), STORE_OK);
	assert_false(present(s, "c", later));
	assert_true(present(s, "b", later));
	assert_true(present(s, "d", later));
	assert_int_equal(put(s, "f", "0123456789", later + 1), STORE_OK);
	assert_false(present(s, "d", later + 1)); /* now b is the tail */

	/* a hit within the interval marks b active: at the tail it gets another
	 * trip to the head instead of being evicted, and e goes instead */
	assert_int_equal(get(s, "b", later + 2, &g), STORE_OK);
	assert_int_equal(put(s, "g", "0123456789", later + 3), STORE_OK);
	assert_true(present(s, "b", later + 3));
	assert_false(present(s, "e", later + 3));

	/* abuse: a no_bump read does not protect the tail item */
	struct store_get_opts nb = { .no_bump = true };
	assert_int_equal(get_opts(s, "f", later + 4, &nb, &g), STORE_OK);
	assert_int_equal(put(s, "h", "0123456789", later + 5), STORE_OK);
	assert_false(present(s, "f", later + 5));
	assert_true(present(s, "b", later + 5));

	struct store_stats st = stats(s);
	assert_int_equal(st.evictions, 5);
	assert_int_equal(st.evicted_unfetched, 5); /* a, c, d, e, f: none was read */
	assert_int_equal(st.curr_items, 3);
	assert_true(st.bytes <= st.limit);
	store_free(s);
}

static void
hits_after_the_interval_order_the_lru_by_time_of_hit(void **state)
{
	struct store *s = store_new(4 * charge("a", 10));
	const int64_t later = STORE_BUMP_INTERVAL_MS;
	struct seen g;

	(void)state;
	assert_int_equal(put(s, "a", "0123456789", 0), STORE_OK);
	assert_int_equal(put(s, "b", "0123456789", 0), STORE_OK);
	assert_int_equal(put(s, "c", "0123456789", 0), STORE_OK);
	assert_int_equal(put(s, "d", "0123456789", 0), STORE_OK);
	/* b is hit before a, so b is the older of the two */
	assert_int_equal(get(s, "b", later, &g), STORE_OK);
	assert_int_equal(get(s, "a", later + 1, &g), STORE_OK);
	assert_int_equal(put(s, "e", "0123456789", later + 2), STORE_OK);
	assert_int_equal(put(s, "f", "0123456789", later + 3), STORE_OK);
	assert_false(present(s, "c", later + 3));
	assert_false(present(s, "d", later + 3));
	assert_int_equal(put(s, "g", "0123456789", later + 4), STORE_OK);
	assert_false(present(s, "b", later + 4));
	assert_true(present(s, "a", later + 4));
	store_free(s);
}

static void
eviction_prefers_expired_items_near_the_tail(void **state)
{
	struct store *s = store_new(3 * charge("a", 10));
	struct store_set_opts shortlived = { .mode = STORE_SET, .exptime = 100 };

	(void)state;
	assert_int_equal(put(s, "a", "0123456789", 0), STORE_OK);
	assert_int_equal(put_full(s, "b", "0123456789", 0, &shortlived, NULL), STORE_OK);
	assert_int_equal(put(s, "c", "0123456789", 0), STORE_OK);
	assert_int_equal(put(s, "d", "0123456789", 200), STORE_OK);
	assert_true(present(s, "a", 200)); /* the tail, but live */
	assert_true(present(s, "c", 200));
	struct store_stats st = stats(s);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.reclaimed, 1);
	assert_int_equal(st.expired_unfetched, 1);
	store_free(s);
}

static void
charged_bytes_never_exceed_the_limit(void **state)
{
	const uint64_t limit = 4096;
	struct store *s = store_new(limit);
	char key[32], value[1200];
	uint64_t x = 88172645463325252ULL;

	(void)state;
	memset(value, 'v', sizeof(value));
	for (int i = 0; i < 5000; i++) {
		size_t vlen;
		enum store_status st;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		snprintf(key, sizeof(key), "key%u", (unsigned)(x % 300));
		vlen = (size_t)(x >> 20) % sizeof(value);
		st = store_set(s, key, strlen(key), value, vlen, i, NULL, NULL);
		assert_int_equal(st, STORE_OK);
		assert_true(stats(s).bytes <= limit);
		assert_true(present(s, key, i));
	}
	struct store_stats st = stats(s);
	assert_true(st.evictions > 0);
	assert_true(st.curr_items > 0);
	assert_int_equal(st.total_items, 5000);
	store_free(s);
}

static void
too_large_changes_nothing(void **state)
{
	const uint64_t limit = 1000;
	struct store *s = store_new(limit);
	char big[1000];
	struct store_set_opts app = { .mode = STORE_APPEND };

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(put(s, "k", "small", 0), STORE_OK);
	struct store_stats before = stats(s);

	/* exactly the limit fits; one byte more does not */
	size_t fits = (size_t)(limit - STORE_ITEM_OVERHEAD - 1);
	assert_int_equal(store_set(s, "k", 1, big, fits + 1, 1, NULL, NULL), STORE_TOO_LARGE);
	assert_int_equal(store_set(s, "k", 1, big, fits + 1, 1, &app, NULL), STORE_TOO_LARGE);
	assert_int_equal(store_set(s, "z", 1, big, fits + 1, 1, NULL, NULL), STORE_TOO_LARGE);
	assert_value(s, "k", 1, "small");
	assert_false(present(s, "z", 1));
	struct store_stats after = stats(s);
	assert_int_equal(after.bytes, before.bytes);
	assert_int_equal(after.total_items, before.total_items);
	assert_int_equal(after.evictions, 0);

	/* an append that would outgrow the limit fails too */
	assert_int_equal(store_set(s, "k", 1, big, fits - 4, 1, &app, NULL), STORE_TOO_LARGE);
	assert_value(s, "k", 1, "small");
	assert_int_equal(store_set(s, "k", 1, big, fits, 1, NULL, NULL), STORE_OK);
	assert_int_equal(stats(s).bytes, limit);
	store_free(s);
}

static void
shrinking_the_limit_evicts_at_once(void **state)
{
	struct store *s = store_new(1 << 20);
	char key[32];

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		assert_int_equal(put(s, key, "0123456789", i), STORE_OK);
	}
	store_set_limit(s, 10 * charge("k000", 10), 200);
	struct store_stats st = stats(s);
	assert_int_equal(st.limit, 10 * charge("k000", 10));
	assert_int_equal(st.curr_items, 10);
	assert_int_equal(st.evictions, 90);
	assert_true(present(s, "k099", 200));
	assert_false(present(s, "k089", 200));

	/* abuse: a limit of zero empties the store and refuses every item */
	store_set_limit(s, 0, 201);
	assert_int_equal(stats(s).bytes, 0);
	assert_int_equal(put(s, "x", "", 202), STORE_TOO_LARGE);

	/* and a large one works as well */
	store_set_limit(s, 64ULL << 30, 203);
	assert_int_equal(put(s, "x", "", 203), STORE_OK);
	store_free(s);
}

/* --- meta: vivify, win tokens, stale, recache ---------------------------------------- */

static void
vivify_gives_one_win_then_win_sent_until_replaced(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_get_opts viv = { .vivify = true, .vivify_exptime = 30000 };
	struct seen g;

	(void)state;
	assert_int_equal(get_opts(s, "k", 0, &viv, &g), STORE_NOT_FOUND);
	assert_int_equal(g.calls, 1);
	assert_true(g.info.win);
	assert_false(g.info.win_sent);
	assert_int_equal(g.vlen, 0);
	assert_int_equal(g.info.exptime, 30000);

	for (int i = 0; i < 3; i++) {
		assert_int_equal(get_opts(s, "k", 1 + i, &viv, &g), STORE_OK);
		assert_false(g.info.win);
		assert_true(g.info.win_sent);
	}
	assert_int_equal(put(s, "k", "fresh", 10), STORE_OK);
	assert_int_equal(get_opts(s, "k", 11, &viv, &g), STORE_OK);
	assert_false(g.info.win);
	assert_false(g.info.win_sent);
	assert_string_equal(g.value, "fresh");

	/* abuse: a plain get of a missing key creates nothing */
	assert_int_equal(get(s, "other", 12, &g), STORE_NOT_FOUND);
	assert_int_equal(g.calls, 0);
	assert_int_equal(stats(s).get_misses, 2);
	assert_false(present(s, "other", 12));
	store_free(s);
}

static void
invalidated_item_is_stale_and_first_reader_wins(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_delete_opts inv = { .invalidate = true, .touch = true, .exptime = 50000 };
	struct store_set_opts ms = { .mode = STORE_SET, .invalidate = true };
	uint64_t c_old, c_inv;
	struct seen g;

	(void)state;
	assert_int_equal(put(s, "k", "v1", 0), STORE_OK);
	c_old = cas_of(s, "k", 0);
	assert_int_equal(store_delete(s, "k", 1, 1, &inv), STORE_OK);
	assert_int_equal(get(s, "k", 2, &g), STORE_OK);
	assert_true(g.info.stale);
	assert_true(g.info.win);
	assert_string_equal(g.value, "v1");
	assert_int_equal(g.info.exptime, 50000);
	c_inv = g.info.cas;
	assert_true(c_inv != c_old);
	assert_int_equal(get(s, "k", 3, &g), STORE_OK);
	assert_true(g.info.stale);
	assert_false(g.info.win);
	assert_true(g.info.win_sent);

	/* a writer with the pre-invalidation cas stores, but stale, keeping the
	 * expiry and the sent token */
	ms.cas = c_old;
	assert_int_equal(put_full(s, "k", "v2", 4, &ms, NULL), STORE_OK);
	assert_int_equal(get(s, "k", 5, &g), STORE_OK);
	assert_string_equal(g.value, "v2");
	assert_true(g.info.stale);
	assert_true(g.info.win_sent);
	assert_int_equal(g.info.exptime, 50000);

	/* abuse: without invalidate an old cas is a plain mismatch */
	ms.invalidate = false;
	assert_int_equal(put_full(s, "k", "v3", 6, &ms, NULL), STORE_EXISTS);

	/* the winner stores with the current cas: fresh again */
	ms.cas = g.info.cas;
	assert_int_equal(put_full(s, "k", "v4", 7, &ms, NULL), STORE_OK);
	assert_int_equal(get(s, "k", 8, &g), STORE_OK);
	assert_false(g.info.stale);
	assert_false(g.info.win);
	assert_false(g.info.win_sent);

	/* invalidating again resets the token: the next reader wins */
	assert_int_equal(store_delete(s, "k", 1, 9, &inv), STORE_OK);
	assert_int_equal(get(s, "k", 10, &g), STORE_OK);
	assert_true(g.info.win);
	store_free(s);
}

static void
recache_wins_once_when_ttl_runs_low(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_set_opts o = { .mode = STORE_SET, .exptime = 10000 };
	struct store_get_opts rc = { .recache = true, .recache_below = 5000 };
	struct seen g;

	(void)state;
	assert_int_equal(put_full(s, "k", "v", 0, &o, NULL), STORE_OK);
	assert_int_equal(put(s, "forever", "v", 0), STORE_OK);
	assert_int_equal(get_opts(s, "k", 5000, &rc, &g), STORE_OK); /* 5000 left */
	assert_false(g.info.win);
	assert_false(g.info.win_sent);
	assert_int_equal(get_opts(s, "k", 5001, &rc, &g), STORE_OK);
	assert_true(g.info.win);
	assert_int_equal(get_opts(s, "k", 5002, &rc, &g), STORE_OK);
	assert_false(g.info.win);
	assert_true(g.info.win_sent);
	/* a plain get still sees the token as sent */
	assert_int_equal(get(s, "k", 5003, &g), STORE_OK);
	assert_true(g.info.win_sent);

	/* abuse: an item without expiry never needs recaching */
	assert_int_equal(get_opts(s, "forever", 5000, &rc, &g), STORE_OK);
	assert_false(g.info.win);
	assert_false(g.info.win_sent);
	store_free(s);
}

static void
fetched_and_last_access_report_the_previous_access(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_get_opts nb = { .no_bump = true };
	struct seen g;

	(void)state;
	assert_int_equal(put(s, "k", "v", 100), STORE_OK);
	assert_int_equal(get_opts(s, "k", 150, &nb, &g), STORE_OK);
	assert_false(g.info.fetched);
	assert_int_equal(g.info.last_access, 100);
	assert_int_equal(get(s, "k", 200, &g), STORE_OK);
	assert_false(g.info.fetched); /* no_bump did not count */
	assert_int_equal(g.info.last_access, 100);
	assert_int_equal(get(s, "k", 300, &g), STORE_OK);
	assert_true(g.info.fetched);
	assert_int_equal(g.info.last_access, 200);
	store_free(s);
}

/* --- hash table ---------------------------------------------------------------------- */

static void
rehash_is_incremental_and_keys_stay_found(void **state)
{
	enum { N = 100000 };
	struct store *s = store_new(1ULL << 32);
	uint64_t expanding_calls = 0, longest_run = 0, run = 0;
	char key[32];
	struct seen g;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		assert_int_equal(put(s, key, "v", 0), STORE_OK);
		struct store_stats st = stats(s);
		if (!st.hash_expanding) {
			run = 0;
			continue;
		}
		expanding_calls++;
		if (++run > longest_run)
			longest_run = run;
		/* while the table is split in two, earlier keys are still found */
		for (int j = 0; j < 4; j++) {
			int k = (int)(((uint64_t)i * 2654435761u + (uint64_t)j * 40503u) % (uint64_t)(i + 1));
			snprintf(key, sizeof(key), "key:%d", k);
			assert_int_equal(store_get(s, key, strlen(key), 0, NULL, NULL, NULL), STORE_OK);
		}
	}
	/* growth from 64k to 128k buckets took thousands of calls, not one */
	assert_true(longest_run > 1000);
	assert_true(expanding_calls > 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		assert_int_equal(get(s, key, 0, &g), STORE_OK);
		assert_string_equal(g.key, key);
	}
	struct store_stats st = stats(s);
	assert_int_equal(st.curr_items, N);
	assert_true(st.hash_buckets >= 65536);
	/* abuse: keys never stored are not found among them */
	assert_int_equal(get(s, "key:100000", 0, &g), STORE_NOT_FOUND);
	assert_int_equal(get(s, "key:-1", 0, &g), STORE_NOT_FOUND);
	store_free(s);
}

/* --- statistics ----------------------------------------------------------------------- */

/* `stats items`' age: the LRU tail's last access, the item to go next. */
static void
oldest_access_is_the_lru_tail_s_last_access(void **state)
{
	struct store *s = store_new(1 << 20);
	struct seen g;
	(void)state;

	assert_int_equal(stats(s).oldest_access, 0); /* empty */
	assert_int_equal(put(s, "a", "1", 1000), STORE_OK);
	assert_int_equal(put(s, "b", "2", 2000), STORE_OK);
	assert_int_equal(stats(s).oldest_access, 1000);
	/* A hit long enough after the last move takes "a" to the head: "b" is next. */
	assert_int_equal(get(s, "a", 1000 + STORE_BUMP_INTERVAL_MS, &g), STORE_OK);
	assert_int_equal(stats(s).oldest_access, 2000);
	assert_int_equal(store_delete(s, "b", 1, 70000, NULL), STORE_OK);
	assert_int_equal(stats(s).oldest_access, 1000 + STORE_BUMP_INTERVAL_MS);
	store_free(s);
}

/* `stats reset`: the counters start again; the items and the gauges stay. */
static void
reset_stats_zeroes_counters_and_keeps_items_and_gauges(void **state)
{
	struct store *s = store_new(1 << 20);
	struct store_stats st;
	struct seen g;
	(void)state;

	assert_int_equal(put(s, "a", "1", 1000), STORE_OK);
	assert_int_equal(get(s, "a", 1000, &g), STORE_OK);
	assert_int_equal(get(s, "nope", 1000, &g), STORE_NOT_FOUND);
	assert_int_equal(store_delete(s, "nope", 4, 1000, NULL), STORE_NOT_FOUND);
	store_reset_stats(s);
	st = stats(s);
	assert_int_equal(st.get_hits + st.get_misses + st.delete_misses + st.total_items, 0);
	assert_int_equal(st.curr_items, 1);
	assert_int_equal(st.bytes, charge("a", 1));
	assert_int_equal(st.limit, 1 << 20);
	assert_value(s, "a", 1000, "1");
	assert_int_equal(stats(s).get_hits, 1); /* counting again */
	store_free(s);
}

static void
stats_count_every_outcome(void **state)
{
	struct store *s = store_new(12345);
	struct seen g;

	(void)state;
	struct store_stats st = stats(s);
	assert_int_equal(st.limit, 12345);
	assert_int_equal(st.curr_items, 0);
	assert_int_equal(st.bytes, 0);
	assert_true(st.hash_buckets > 0);
	assert_false(st.hash_expanding);

	assert_int_equal(put(s, "a", "1", 0), STORE_OK);
	assert_int_equal(put(s, "b", "22", 0), STORE_OK);
	assert_int_equal(put(s, "a", "333", 0), STORE_OK);
	assert_int_equal(put_mode(s, "a", "x", 0, STORE_ADD), STORE_NOT_STORED);
	assert_int_equal(get(s, "a", 0, &g), STORE_OK);
	assert_int_equal(get(s, "b", 0, &g), STORE_OK);
	assert_int_equal(get(s, "c", 0, &g), STORE_NOT_FOUND);
	assert_int_equal(store_delete(s, "b", 1, 0, NULL), STORE_OK);

	st = stats(s);
	assert_int_equal(st.total_items, 3);
	assert_int_equal(st.curr_items, 1);
	assert_int_equal(st.bytes, charge("a", 3));
	assert_int_equal(st.get_hits, 2);
	assert_int_equal(st.get_misses, 1);
	assert_int_equal(st.delete_hits, 1);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.reclaimed, 0);
	store_free(s);
}

/* --- allocation failure ---------------------------------------------------------------- */

struct failing_alloc {
	long calls;   /* allocations attempted */
	long fail_at; /* this one (0-based) returns NULL; -1 = none */
	long live;    /* allocated and not yet released */
};

static void *
failing_alloc(void *ctx, size_t size)
{
	struct failing_alloc *f = ctx;
	void *p;

	if (f->calls++ == f->fail_at)
		return NULL;
	p = test_malloc(size);
	if (p != NULL)
		f->live++;
	return p;
}

static void
failing_release(void *ctx, void *ptr)
{
	struct failing_alloc *f = ctx;

	if (ptr == NULL)
		return;
	f->live--;
	test_free(ptr);
}

/* Runs writes of every kind; each either succeeds or is STORE_NOMEM and then
 * leaves the key as it was. Returns the allocations made. */
static long
run_with_failing_allocation(long fail_at)
{
	struct failing_alloc f = { .fail_at = fail_at };
	struct store_allocator a = { failing_alloc, failing_release, &f };
	struct store *s = store_new_with_allocator(1 << 20, &a);
	char key[32], expect[40][16];
	struct store_set_opts app = { .mode = STORE_APPEND };
	struct store_arith_opts inc = { .delta = 1 };
	struct store_get_opts viv = { .vivify = true };
	struct seen g;
	enum store_status st;

	if (s == NULL) {
		assert_true(fail_at <= 1); /* the store or its first table */
		assert_int_equal(f.live, 0);
		return f.calls;
	}
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		st = put(s, key, "9", i);
		if (st == STORE_OK) {
			snprintf(expect[i], sizeof(expect[i]), "9");
		} else {
			assert_int_equal(st, STORE_NOMEM);
			expect[i][0] = '\0';
		}
	}
	st = put_full(s, "k0", "9", 50, &app, NULL);
	if (st == STORE_OK)
		snprintf(expect[0], sizeof(expect[0]), "99");
	else
		assert_int_equal(st, expect[0][0] ? STORE_NOMEM : STORE_NOT_STORED);
	st = store_arith(s, "k1", 2, 51, &inc, NULL); /* 9 -> 10: a longer value */
	if (st == STORE_OK)
		snprintf(expect[1], sizeof(expect[1]), "10");
	else
		assert_int_equal(st, expect[1][0] ? STORE_NOMEM : STORE_NOT_FOUND);
	st = get_opts(s, "viv", 52, &viv, &g);
	assert_true(st == STORE_NOT_FOUND || st == STORE_NOMEM);
	assert_int_equal(g.calls, st == STORE_NOT_FOUND ? 1 : 0);

	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (expect[i][0] != '\0')
			assert_value(s, key, 60, expect[i]);
		else
			assert_false(present(s, key, 60));
	}
	struct store_stats sst = stats(s);
	assert_true(sst.bytes <= sst.limit);
	store_free(s);
	assert_int_equal(f.live, 0); /* everything given back */
	return f.calls;
}

static void
allocation_failure_is_nomem_and_changes_nothing(void **state)
{
	long total;

	(void)state;
	total = run_with_failing_allocation(-1);
	assert_true(total > 40);
	for (long k = 0; k < total; k++)
		run_with_failing_allocation(k);
}

/* --- threads --------------------------------------------------------------------------- */

enum { THREADS = 4, THREAD_OPS = 20000, RACE_KEYS = 64, SHARED_KEYS = 256 };

struct worker {
	struct store *s;
	int id;
	uint64_t gets;
	uint64_t incrs;
	uint64_t errors; /* checked by the main thread: cmocka asserts are not thread-safe */
	int add_won[RACE_KEYS];
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct store_set_opts add = { .mode = STORE_ADD };
	struct store_arith_opts inc = { .delta = 1 };
	char key[32], value[64];

	for (int i = 0; i < RACE_KEYS; i++) {
		snprintf(key, sizeof(key), "race%d", i);
		if (put_full(w->s, key, "w", i, &add, NULL) == STORE_OK)
			w->add_won[i]++;
	}
	for (int i = 0; i < THREAD_OPS; i++) {
		int k = (i * 7 + w->id * 13) % SHARED_KEYS;

		snprintf(key, sizeof(key), "shared%d", k);
		switch (i % 8) {
		case 0:
		case 1:
			snprintf(value, sizeof(value), "t%d-i%d", w->id, i);
			(void)put(w->s, key, value, i);
			break;
		case 2:
			(void)store_delete(w->s, key, strlen(key), i, NULL);
			break;
		case 3:
			if (store_arith(w->s, "counter", 7, i, &inc, NULL) == STORE_OK)
				w->incrs++;
			else
				w->errors++;
			break;
		default:
			(void)store_get(w->s, key, strlen(key), i, NULL, NULL, NULL);
			w->gets++;
			break;
		}
	}
	return NULL;
}

static void
concurrent_threads_leave_a_consistent_store(void **state)
{
	struct store *s = store_new(1 << 20);
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	uint64_t gets = 0, incrs = 0;
	char want[32];

	(void)state;
	assert_int_equal(put(s, "counter", "0", 0), STORE_OK);
	memset(w, 0, sizeof(w));
	for (int t = 0; t < THREADS; t++) {
		w[t].s = s;
		w[t].id = t;
		assert_int_equal(pthread_create(&tid[t], NULL, worker_run, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(tid[t], NULL), 0);
	for (int t = 0; t < THREADS; t++) {
		gets += w[t].gets;
		incrs += w[t].incrs;
		assert_int_equal(w[t].errors, 0);
	}
	assert_int_equal(incrs, THREADS * (THREAD_OPS / 8));
	/* every add raced by all threads was won exactly once */
	for (int i = 0; i < RACE_KEYS; i++) {
		int won = 0;
		for (int t = 0; t < THREADS; t++)
			won += w[t].add_won[i];
		assert_int_equal(won, 1);
	}
	/* no increment was lost */
	snprintf(want, sizeof(want), "%llu", (unsigned long long)incrs);
	assert_value(s, "counter", 0, want);

	struct store_stats st = stats(s);
	assert_int_equal(st.get_hits + st.get_misses, gets + 1); /* + assert_value's read */
	assert_int_equal(st.incr_hits, incrs);
	assert_true(st.bytes <= st.limit);
	/* curr_items matches what a walk over the key space finds */
	uint64_t found = 0;
	for (int k = 0; k < SHARED_KEYS; k++) {
		snprintf(want, sizeof(want), "shared%d", k);
		found += present(s, want, 0);
	}
	assert_int_equal(st.curr_items, found + RACE_KEYS + 1);
	store_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_modes_on_hit_and_miss),
		cmocka_unit_test(bad_key_lengths_are_never_stored),
		cmocka_unit_test(cas_hit_mismatch_and_miss),
		cmocka_unit_test(meta_cas_on_set_replace_add_and_new_cas),
		cmocka_unit_test(append_prepend_keep_flags_and_exptime),
		cmocka_unit_test(append_prepend_stop_at_the_item_size),
		cmocka_unit_test(a_reference_keeps_the_value_it_was_taken_on),
		cmocka_unit_test(append_vivify_creates_on_miss),
		cmocka_unit_test(expiry_is_absolute_on_the_callers_clock),
		cmocka_unit_test(touch_sets_expiry_and_keeps_cas),
		cmocka_unit_test(delete_with_and_without_cas),
		cmocka_unit_test(incr_decr_wrap_floor_and_non_numeric),
		cmocka_unit_test(arith_miss_cas_vivify_and_touch),
		cmocka_unit_test(flush_immediate_kills_items_of_the_same_millisecond),
		cmocka_unit_test(flush_memory_is_reclaimed_within_a_few_calls),
		cmocka_unit_test(flush_delayed_kills_items_stored_during_the_delay),
		cmocka_unit_test(eviction_follows_lru_and_bumped_items_survive),
		cmocka_unit_test(hits_after_the_interval_order_the_lru_by_time_of_hit),
		cmocka_unit_test(eviction_prefers_expired_items_near_the_tail),
		cmocka_unit_test(charged_bytes_never_exceed_the_limit),
		cmocka_unit_test(too_large_changes_nothing),
		cmocka_unit_test(shrinking_the_limit_evicts_at_once),
		cmocka_unit_test(vivify_gives_one_win_then_win_sent_until_replaced),
		cmocka_unit_test(invalidated_item_is_stale_and_first_reader_wins),
		cmocka_unit_test(recache_wins_once_when_ttl_runs_low),
		cmocka_unit_test(fetched_and_last_access_report_the_previous_access),
		cmocka_unit_test(rehash_is_incremental_and_keys_stay_found),
		cmocka_unit_test(stats_count_every_outcome),
		cmocka_unit_test(oldest_access_is_the_lru_tail_s_last_access),
		cmocka_unit_test(reset_stats_zeroes_counters_and_keeps_items_and_gauges),
		cmocka_unit_test(allocation_failure_is_nomem_and_changes_nothing),
		cmocka_unit_test(concurrent_threads_leave_a_consistent_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
