/*
 * Fuzz target of cache/store: the input is a program of store calls on a small
 * store (a few KiB, 16 keys plus one of the longest length), with failing
 * allocations and a clock that jumps. After every call it checks the store's
 * invariants (charged bytes within the limit, item count within the key space)
 * and against a shadow of what was written: any value a read returns must be the
 * last value written under that key, since eviction, expiry and flush may only
 * take items away, never change them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/store.h"
#include "parse.h"
#include "tests/fuzz/check.h"

#define FUZZ_KEYS 17 /* "k0".."k15" and one STORE_KEY_MAX long */
#define FUZZ_LIMIT_MAX 8192
#define FUZZ_VALUE_MAX 512
#define FUZZ_SHADOW_MAX (FUZZ_LIMIT_MAX + FUZZ_VALUE_MAX)

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t
take(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

/* What the store may hold under a key: the last value written, if any. */
struct shadow {
	bool possible;
	size_t len;
	char value[FUZZ_SHADOW_MAX];
};

struct fuzz_alloc {
	bool fail_next;
};

static void *
fuzz_alloc(void *ctx, size_t size)
{
	struct fuzz_alloc *f = ctx;

	if (f->fail_next) {
		f->fail_next = false;
		return NULL;
	}
	return malloc(size);
}

static void
fuzz_release(void *ctx, void *ptr)
{
	(void)ctx;
	free(ptr);
}

struct read_check {
	const struct shadow *sh;
	bool called;
	uint64_t cas;
	bool win;
	size_t vlen;
};

static void
check_read(void *arg, const struct store_item_info *info)
{
	struct read_check *rc = arg;

	rc->called = true;
	rc->cas = info->cas;
	rc->win = info->win;
	rc->vlen = info->vlen;
	CHECK(!(info->win && info->win_sent));
	if (info->vlen == 0 && info->win)
		return; /* a placeholder made by this very read (vivify) */
	CHECK(rc->sh->possible);
	CHECK(info->vlen == rc->sh->len);
	CHECK(memcmp(info->value, rc->sh->value, info->vlen) == 0);
}

struct fuzz {
	struct store *s;
	struct fuzz_alloc alloc;
	struct shadow shadow[FUZZ_KEYS];
	uint64_t last_cas[FUZZ_KEYS];
	char keys[FUZZ_KEYS][STORE_KEY_MAX + 1];
	size_t klen[FUZZ_KEYS];
	uint64_t limit;
	int64_t now;
};

static void
shadow_set(struct shadow *sh, const char *a, size_t alen, const char *b, size_t blen)
{
	char tmp[FUZZ_SHADOW_MAX];

	CHECK(alen + blen <= FUZZ_SHADOW_MAX);
	memcpy(tmp, a, alen);
	memcpy(tmp + alen, b, blen);
	memcpy(sh->value, tmp, alen + blen);
	sh->len = alen + blen;
	sh->possible = true;
}

static int64_t
pick_exptime(struct fuzz *f, uint8_t b)
{
	switch (b & 3) {
	case 0:
		return 0;
	case 1:
		return f->now + (b >> 2) * 10; /* may be now: expired at once */
	case 2:
		return f->now + 100000;
	default:
		return f->now - 1;
	}
}

static uint64_t
pick_cas(struct fuzz *f, int k, uint8_t b)
{
	switch (b & 3) {
	case 0:
		return 0;
	case 1:
		return f->last_cas[k];
	case 2:
		return f->last_cas[k] > 0 ? f->last_cas[k] - 1 : 0;
	default:
		return b;
	}
}

static void
op_set(struct fuzz *f, struct input *in, int k)
{
	uint8_t m = take(in), e = take(in), c = take(in), lenb = take(in);
	struct store_set_opts o = {
		.mode = (enum store_mode)(m % 6),
		.flags = m,
		.exptime = pick_exptime(f, e),
		.cas = pick_cas(f, k, c),
		.new_cas = (c & 0x80) ? (uint64_t)c * 1000 : 0,
		.invalidate = (c & 0x40) != 0,
		.vivify = (c & 0x20) != 0,
		.vivify_exptime = pick_exptime(f, (uint8_t)(e >> 2)),
	};
	char value[FUZZ_VALUE_MAX];
	size_t vlen = (size_t)lenb * 2;
	struct store_result res;
	struct shadow *sh = &f->shadow[k];
	enum store_status st;

	for (size_t i = 0; i < vlen; i++)
		value[i] = (m & 0x40) ? (char)('0' + (i + c) % 10) : (char)take(in);
	if ((m & 0x40) && vlen > 20)
		vlen = 1 + c % 20; /* digits for arith */
	st = store_set(f->s, f->keys[k], f->klen[k], value, vlen, f->now, &o, &res);
	if (st != STORE_OK)
		return;
	f->last_cas[k] = res.cas;
	CHECK(res.cas != 0);
	if (o.new_cas != 0)
		CHECK(res.cas == o.new_cas);
	if (o.mode == STORE_APPEND || o.mode == STORE_PREPEND) {
		if (res.created) {
			shadow_set(sh, value, vlen, "", 0);
		} else if (o.mode == STORE_APPEND) {
			CHECK(sh->possible);
			shadow_set(sh, sh->value, sh->len, value, vlen);
		} else {
			CHECK(sh->possible);
			shadow_set(sh, value, vlen, sh->value, sh->len);
		}
		return;
	}
	CHECK(!res.created);
	shadow_set(sh, value, vlen, "", 0);
}

static void
op_get(struct fuzz *f, struct input *in, int k)
{
	uint8_t b = take(in), e = take(in);
	struct store_get_opts o = {
		.touch = (b & 1) != 0,
		.exptime = pick_exptime(f, e),
		.vivify = (b & 2) != 0,
		.vivify_exptime = pick_exptime(f, (uint8_t)(e >> 1)),
		.recache = (b & 4) != 0,
		.recache_below = (b >> 3) * 100,
		.no_bump = (b & 0x80) != 0,
	};
	struct read_check rc = { .sh = &f->shadow[k] };
	enum store_status st;

	st = store_get(f->s, f->keys[k], f->klen[k], f->now, &o, check_read, &rc);
	if (st == STORE_OK) {
		CHECK(rc.called);
		f->last_cas[k] = rc.cas;
	} else if (st == STORE_NOT_FOUND) {
		if (rc.called) {
			/* vivified: an empty item this caller won */
			CHECK(o.vivify && rc.win && rc.vlen == 0);
			shadow_set(&f->shadow[k], "", 0, "", 0);
			f->last_cas[k] = rc.cas;
		}
	} else {
		CHECK(st == STORE_NOMEM && o.vivify && !rc.called);
	}
}

static void
op_delete(struct fuzz *f, struct input *in, int k)
{
	uint8_t b = take(in), e = take(in);
	struct store_delete_opts o = {
		.cas = pick_cas(f, k, b),
		.invalidate = (b & 4) != 0,
		.touch = (b & 8) != 0,
		.exptime = pick_exptime(f, e),
	};
	enum store_status st = store_delete(f->s, f->keys[k], f->klen[k], f->now, &o);

	CHECK(st == STORE_OK || st == STORE_NOT_FOUND || st == STORE_EXISTS);
	if (st == STORE_OK && !o.invalidate)
		f->shadow[k].possible = false;
}

static void
op_arith(struct fuzz *f, struct input *in, int k)
{
	uint8_t b = take(in), d = take(in), e = take(in);
	struct store_arith_opts o = {
		.decr = (b & 1) != 0,
		.delta = (b & 2) ? UINT64_MAX - d : d,
		.cas = pick_cas(f, k, (uint8_t)(b >> 2)),
		.vivify = (b & 0x10) != 0,
		.initial = (uint64_t)d * 1000003,
		.vivify_exptime = pick_exptime(f, e),
		.touch = (b & 0x20) != 0,
		.exptime = pick_exptime(f, (uint8_t)(e >> 2)),
	};
	struct shadow *sh = &f->shadow[k];
	struct store_result res;
	enum store_status st;
	char digits[24];
	uint64_t before = 0, want;
	bool numeric = sh->possible && parse_u64_n(sh->value, sh->len, 0, UINT64_MAX, &before) == 0;

	st = store_arith(f->s, f->keys[k], f->klen[k], f->now, &o, &res);
	if (st == STORE_NON_NUMERIC)
		CHECK(sh->possible && !numeric);
	if (st != STORE_OK)
		return;
	if (res.created) {
		want = o.initial;
	} else {
		CHECK(numeric);
		want = o.decr ? (o.delta > before ? 0 : before - o.delta) : before + o.delta;
	}
	CHECK(res.value == want);
	f->last_cas[k] = res.cas;
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)want);
	shadow_set(sh, digits, (size_t)n, "", 0);
}

static void
check_invariants(struct fuzz *f)
{
	struct store_stats st;

	store_get_stats(f->s, &st);
	CHECK(st.limit == f->limit);
	CHECK(st.bytes <= st.limit);
	CHECK(st.curr_items <= FUZZ_KEYS);
	CHECK(st.bytes >= st.curr_items * (STORE_ITEM_OVERHEAD + 2));
	CHECK(st.curr_items == 0 || st.bytes > 0);
	CHECK(st.hash_buckets > 0 && (st.hash_buckets & (st.hash_buckets - 1)) == 0);
}

/* Runs the program in `in` on a fresh store held by f. */
static void
run(struct fuzz *f, struct input *in)
{
	struct store_allocator a = { fuzz_alloc, fuzz_release, &f->alloc };

	f->limit = 256 + (uint64_t)take(in) * 31; /* up to FUZZ_LIMIT_MAX */
	f->now = 1000;
	for (int k = 0; k < FUZZ_KEYS - 1; k++)
		f->klen[k] = (size_t)snprintf(f->keys[k], sizeof(f->keys[k]), "k%d", k);
	memset(f->keys[FUZZ_KEYS - 1], 'L', STORE_KEY_MAX);
	f->klen[FUZZ_KEYS - 1] = STORE_KEY_MAX;
	f->s = store_new_with_allocator(f->limit, &a);
	CHECK(f->s != NULL);

	while (in->left > 0) {
		uint8_t op = take(in);
		int k = take(in) % FUZZ_KEYS;

		switch (op % 10) {
		case 0:
		case 1:
			op_set(f, in, k);
			break;
		case 2:
			op_get(f, in, k);
			break;
		case 3:
			op_delete(f, in, k);
			break;
		case 4:
			op_arith(f, in, k);
			break;
		case 5: {
			enum store_status st = store_touch(f->s, f->keys[k], f->klen[k], f->now,
			    pick_exptime(f, take(in)));
			CHECK(st == STORE_OK || st == STORE_NOT_FOUND);
			break;
		}
		case 6: {
			uint8_t b = take(in);
			store_flush(f->s, f->now, (b & 1) ? f->now + (b >> 1) * 10 : f->now - (b >> 1));
			break;
		}
		case 7:
			f->limit = (uint64_t)take(in) * 32;
			store_set_limit(f->s, f->limit, f->now);
			break;
		case 8: {
			uint8_t b = take(in);
			f->now += (b & 0x80) ? (int64_t)(b & 0x7f) * 1000 : b;
			break;
		}
		default:
			f->alloc.fail_next = true;
			break;
		}
		check_invariants(f);
	}
	store_free(f->s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Forgets the previous program: no key may hold anything, nothing is to fail. The
 * shadows' values are left as they are: a value is only read while `possible`. */
static void
reset(struct fuzz *f)
{
	for (int k = 0; k < FUZZ_KEYS; k++) {
		f->shadow[k].possible = false;
		f->shadow[k].len = 0;
	}
	memset(f->last_cas, 0, sizeof(f->last_cas));
	f->alloc.fail_next = false;
	f->s = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Allocated once: clearing a fresh 150 KiB struct per input (a large allocation
	 * under ASan, mapped and unmapped each time) cost more than the program run. */
	static struct fuzz *f;
	struct input in = { data, size };

	if (f == NULL)
		CHECK((f = calloc(1, sizeof(*f))) != NULL);
	reset(f);
	run(f, &in);
	return 0;
}
