/*
 * store — one tenant's key space (contract in store.h).
 *
 * An item is one allocation: struct item, then the key, then the value. Every
 * item is in exactly one hash chain and in the LRU list, from store_set until it
 * is freed; both are intrusive, so a lookup touches only the bucket and the items
 * of its chain.
 *
 * Flush: every item carries the store's sequence number of the call that linked
 * it. A flush takes the next number as a watermark; an item below it is dead.
 * Only calls, not milliseconds, order items, so an item stored in the same
 * millisecond as an immediate flush still dies if it was stored before it.
 *
 * Dead items (expired or flushed) are freed lazily: a lookup that finds one frees
 * it, eviction looks for them near the LRU tail first, and while flushed items
 * remain every call frees a few from the tail. Flushed items always form the tail
 * of the LRU: they were all there at the flush, later items go to the head, and a
 * dead item is never moved (a hit on it frees it).
 *
 * Locking: one mutex per store, taken for the whole of each public call; the key
 * is hashed before taking it. The work under it is bounded by the length of one
 * hash chain, a few rehash steps and the evictions one store needs, except for
 * store_set_limit, which evicts down to a smaller limit at once.
 */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "parse.h"

#define STORE_HASH_INITIAL_POWER 4 /* 16 buckets: an idle tenant costs little */
#define STORE_HASH_MAX_POWER 40	   /* beyond any memory this will run with */
#define STORE_REHASH_STEP 4	   /* buckets moved per call while expanding */
#define STORE_REHASH_EMPTY_VISITS 40 /* empty buckets skipped per call at most */
#define STORE_RECLAIM_STEP 16	   /* flushed items freed from the tail per call */
#define STORE_EVICT_SEARCH 5	   /* tail items searched for a dead one per eviction */
#define STORE_REQUEUE_MAX 64	   /* active tail items given another trip per call */
#define STORE_DIGITS_MAX 20	   /* decimal digits of UINT64_MAX */

enum item_bit {
	ITEM_FETCHED = 1 << 0,	  /* read since stored (stats: *_unfetched) */
	ITEM_ACTIVE = 1 << 1,	  /* hit since its last move to the head */
	ITEM_STALE = 1 << 2,	  /* invalidated (meta I) */
	ITEM_TOKEN_SENT = 1 << 3, /* a caller has won the right to recache */
};

struct item {
	struct item *hnext; /* hash chain */
	struct item *lru_prev, *lru_next;
	uint64_t hash;
	uint64_t cas;
	uint64_t seq;	      /* the store's sequence number when linked */
	int64_t exptime;      /* absolute ms, 0 = never */
	int64_t last_access;  /* ms */
	int64_t bumped_at;    /* ms of the last move to the LRU head */
	uint32_t vlen;
	uint32_t flags;
	_Atomic uint32_t refs; /* the store's (while linked) + each store_ref */
	uint8_t klen;
	uint8_t bits;	      /* enum item_bit */
	char data[];	      /* key, then value (neither NUL-terminated) */
};

/* A power-of-two table of chains; buckets == NULL when unused. */
struct table {
	struct item **buckets;
	uint64_t mask;
};

/* Per-store secret of the key hash: keys chosen by a tenant cannot be made to
 * collide without knowing it. */
struct hash_secret {
	uint64_t k0, k1;
};

enum liveness {
	ITEM_LIVE,
	ITEM_EXPIRED,
	ITEM_FLUSHED,
};

struct store {
	pthread_mutex_t lock;
	struct store_allocator alloc;
	struct hash_secret secret;

	/* tables[0] is the table; while expanding, its buckets below rehash_pos have
	 * moved to tables[1], where new items go, and lookups search both. */
	struct table tables[2];
	uint64_t rehash_pos;
	bool expanding;
	uint64_t table_items; /* every linked item, live or dead */

	struct item *lru_head, *lru_tail;

	uint64_t limit;
	uint64_t bytes;
	uint64_t live_items;	/* linked and not flushed */
	uint64_t flushed_items; /* linked and below flush_seq: the LRU tail */
	uint64_t next_seq;
	uint64_t flush_seq;
	bool flush_pending;
	int64_t flush_at;
	uint64_t last_cas;

	/* Counters; limit, bytes, curr_items and the hash fields are filled on copy. */
	struct store_stats stats;
};

/* --- key hash ------------------------------------------------------------------- */

/*
 * A multiply-fold hash: each 16-byte block is folded into the state through a
 * 64x64->128 multiplication whose halves are xored, with the per-store secret
 * mixed into both factors so that a factor cannot be steered to zero by the key.
 */
#define HASH_C0 0x9e3779b97f4a7c15ULL
#define HASH_C1 0xbf58476d1ce4e5b9ULL
#define HASH_C2 0x94d049bb133111ebULL

static inline uint64_t
fold_mul(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t
load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t
load32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
key_hash(const struct hash_secret *sec, const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t h = sec->k0 ^ fold_mul((uint64_t)len ^ HASH_C0, sec->k1 ^ HASH_C1);
	uint64_t a, b;
	size_t n = len;

	while (n > 16) {
		h = fold_mul(load64(p) ^ sec->k0, load64(p + 8) ^ sec->k1 ^ h);
		p += 16;
		n -= 16;
	}
	/* 1..16 bytes left (or none for an empty key): read them as two words
	 * that may overlap; the length is already in h. */
	if (n >= 8) {
		a = load64(p);
		b = load64(p + n - 8);
	} else if (n >= 4) {
		a = load32(p);
		b = load32(p + n - 4);
	} else if (n > 0) {
		a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
		b = 0;
	} else {
		a = 0;
		b = 0;
	}
	h = fold_mul(a ^ sec->k1 ^ HASH_C1, b ^ sec->k0 ^ h);
	return fold_mul(h ^ HASH_C2, sec->k1 ^ HASH_C0);
}

static void
hash_secret_init(struct hash_secret *sec, const void *salt)
{
	struct timespec ts;

	if (getrandom(sec, sizeof(*sec), GRND_NONBLOCK) == (ssize_t)sizeof(*sec))
		return;
	/* No entropy yet (early boot): the clock and an address still differ
	 * between runs and between stores. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sec->k0 = fold_mul((uint64_t)ts.tv_nsec ^ HASH_C0, (uint64_t)(uintptr_t)salt ^ HASH_C1);
	sec->k1 = fold_mul((uint64_t)ts.tv_sec ^ sec->k0, HASH_C2);
}

/* --- items ------------------------------------------------------------------------ */

static inline char *
item_key(struct item *it)
{
	return it->data;
}

static inline char *
item_value(struct item *it)
{
	return it->data + it->klen;
}

static inline uint64_t
charge_of(size_t klen, uint64_t vlen)
{
	return STORE_ITEM_OVERHEAD + (uint64_t)klen + vlen;
}

static inline uint64_t
item_charge(const struct item *it)
{
	return charge_of(it->klen, it->vlen);
}

static inline bool
key_ok(size_t klen)
{
	return klen >= 1 && klen <= STORE_KEY_MAX;
}

static enum liveness
item_liveness(const struct store *s, const struct item *it, int64_t now)
{
	if (it->seq < s->flush_seq)
		return ITEM_FLUSHED;
	if (it->exptime != 0 && it->exptime <= now)
		return ITEM_EXPIRED;
	return ITEM_LIVE;
}

static uint64_t
next_cas(struct store *s)
{
	if (++s->last_cas == 0) /* 0 means "no cas" in every API */
		s->last_cas = 1;
	return s->last_cas;
}

/* A new unlinked item holding the key; the caller fills value and metadata. */
static struct item *
item_new(struct store *s, uint64_t hv, const char *key, size_t klen, size_t vlen)
{
	struct item *it = s->alloc.alloc(s->alloc.ctx, sizeof(*it) + klen + vlen);

	if (it == NULL)
		return NULL;
	memset(it, 0, sizeof(*it));
	atomic_init(&it->refs, 1);
	it->hash = hv;
	it->klen = (uint8_t)klen;
	it->vlen = (uint32_t)vlen;
	memcpy(it->data, key, klen);
	return it;
}

/* --- hash table ------------------------------------------------------------------ */

static struct item **
buckets_new(struct store *s, uint64_t n)
{
	struct item **b;

	if (n > SIZE_MAX / sizeof(*b))
		return NULL;
	b = s->alloc.alloc(s->alloc.ctx, (size_t)n * sizeof(*b));
	if (b != NULL)
		memset(b, 0, (size_t)n * sizeof(*b));
	return b;
}

static struct item *
table_find(const struct store *s, uint64_t hv, const char *key, size_t klen)
{
	for (int t = 0; t < 2; t++) {
		const struct table *tb = &s->tables[t];
		struct item *it;

		if (tb->buckets == NULL)
			break;
		for (it = tb->buckets[hv & tb->mask]; it != NULL; it = it->hnext)
			if (it->hash == hv && it->klen == klen && memcmp(it->data, key, klen) == 0)
				return it;
	}
	return NULL;
}

/* Starts moving to a table twice as large; without memory, the table stays as it
 * is (chains grow longer) and the next insert tries again. */
static void
table_start_expand(struct store *s)
{
	uint64_t size = (s->tables[0].mask + 1) * 2;
	struct item **b;

	if (size > (1ULL << STORE_HASH_MAX_POWER))
		return;
	b = buckets_new(s, size);
	if (b == NULL)
		return;
	s->tables[1].buckets = b;
	s->tables[1].mask = size - 1;
	s->rehash_pos = 0;
	s->expanding = true;
}

static void
table_insert(struct store *s, struct item *it)
{
	struct table *tb = &s->tables[s->expanding ? 1 : 0];
	struct item **b = &tb->buckets[it->hash & tb->mask];

	it->hnext = *b;
	*b = it;
	s->table_items++;
	if (!s->expanding && s->table_items > tb->mask + 1)
		table_start_expand(s);
}

static void
table_remove(struct store *s, struct item *it)
{
	for (int t = 0; t < 2; t++) {
		struct table *tb = &s->tables[t];
		struct item **pp;

		if (tb->buckets == NULL)
			break;
		for (pp = &tb->buckets[it->hash & tb->mask]; *pp != NULL; pp = &(*pp)->hnext) {
			if (*pp == it) {
				*pp = it->hnext;
				it->hnext = NULL;
				s->table_items--;
				return;
			}
		}
	}
}

/* Moves a few buckets of the old table to the new one, as redis does, so that no
 * call pays for the whole table; swaps the tables when the old one is empty. */
static void
rehash_step(struct store *s)
{
	struct table *from = &s->tables[0], *to = &s->tables[1];
	unsigned moved = 0, empty = 0;

	while (moved < STORE_REHASH_STEP && s->rehash_pos <= from->mask) {
		struct item *it = from->buckets[s->rehash_pos];

		if (it == NULL) {
			s->rehash_pos++;
			if (++empty >= STORE_REHASH_EMPTY_VISITS)
				break;
			continue;
		}
		while (it != NULL) {
			struct item *next = it->hnext;
			struct item **b = &to->buckets[it->hash & to->mask];

			it->hnext = *b;
			*b = it;
			it = next;
		}
		from->buckets[s->rehash_pos++] = NULL;
		moved++;
	}
	if (s->rehash_pos > from->mask) {
		s->alloc.release(s->alloc.ctx, from->buckets);
		*from = *to;
		to->buckets = NULL;
		to->mask = 0;
		s->rehash_pos = 0;
		s->expanding = false;
	}
}

/* --- LRU --------------------------------------------------------------------------- */

static void
lru_unlink(struct store *s, struct item *it)
{
	if (it->lru_prev != NULL)
		it->lru_prev->lru_next = it->lru_next;
	else
		s->lru_head = it->lru_next;
	if (it->lru_next != NULL)
		it->lru_next->lru_prev = it->lru_prev;
	else
		s->lru_tail = it->lru_prev;
	it->lru_prev = it->lru_next = NULL;
}

static void
lru_push_head(struct store *s, struct item *it)
{
	it->lru_prev = NULL;
	it->lru_next = s->lru_head;
	if (s->lru_head != NULL)
		s->lru_head->lru_prev = it;
	else
		s->lru_tail = it;
	s->lru_head = it;
}

static void
lru_move_to_head(struct store *s, struct item *it, int64_t now)
{
	if (s->lru_head != it) {
		lru_unlink(s, it);
		lru_push_head(s, it);
	}
	it->bumped_at = now;
	it->bits &= (uint8_t)~ITEM_ACTIVE;
}

/* A hit: recorded as an access; the list moves at most once per interval. */
static void
item_bump(struct store *s, struct item *it, int64_t now)
{
	int64_t since;

	it->last_access = now;
	if (!__builtin_sub_overflow(now, it->bumped_at, &since) && since >= STORE_BUMP_INTERVAL_MS)
		lru_move_to_head(s, it, now);
	else
		it->bits |= ITEM_ACTIVE;
}

/* --- linking, freeing, eviction ------------------------------------------------------ */

/* Takes ownership of it (value, flags, exptime, cas and bits set by the caller). */
static void
item_link(struct store *s, struct item *it, int64_t now)
{
	it->seq = s->next_seq++;
	it->last_access = now;
	it->bumped_at = now;
	table_insert(s, it);
	lru_push_head(s, it);
	s->bytes += item_charge(it);
	s->live_items++;
	s->stats.total_items++;
}

/* Drops one reference; the last one frees the item. */
static void
item_unref(struct store *s, struct item *it)
{
	if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1)
		s->alloc.release(s->alloc.ctx, it);
}

/* Takes it out of the store (and its accounting); its memory goes with the last
 * reference, which is the store's unless a reply still holds one. */
static void
item_free(struct store *s, struct item *it)
{
	table_remove(s, it);
	lru_unlink(s, it);
	s->bytes -= item_charge(it);
	if (it->seq < s->flush_seq)
		s->flushed_items--;
	else
		s->live_items--;
	item_unref(s, it);
}

static void
item_reclaim(struct store *s, struct item *it, enum liveness l)
{
	s->stats.reclaimed++;
	if (l == ITEM_EXPIRED && !(it->bits & ITEM_FETCHED))
		s->stats.expired_unfetched++;
	item_free(s, it);
}

static void
item_evict(struct store *s, struct item *it)
{
	s->stats.evictions++;
	if (!(it->bits & ITEM_FETCHED))
		s->stats.evicted_unfetched++;
	item_free(s, it);
}

/* Frees dead items, then evicts from the tail, until `need` more bytes fit. The
 * caller has checked need <= limit, so emptying the store always suffices. */
static void
make_room(struct store *s, uint64_t need, int64_t now)
{
	unsigned requeued = 0;

	while (s->bytes + need > s->limit && s->lru_tail != NULL) {
		struct item *it = s->lru_tail;
		bool freed = false;

		for (unsigned i = 0; it != NULL && i < STORE_EVICT_SEARCH; i++) {
			enum liveness l = item_liveness(s, it, now);

			if (l != ITEM_LIVE) {
				item_reclaim(s, it, l);
				freed = true;
				break;
			}
			it = it->lru_prev;
		}
		if (freed)
			continue;
		it = s->lru_tail;
		if ((it->bits & ITEM_ACTIVE) && requeued < STORE_REQUEUE_MAX) {
			lru_move_to_head(s, it, now);
			requeued++;
			continue;
		}
		item_evict(s, it);
	}
}

/* Puts a new item in place of old (if any): the old one goes first so that its
 * bytes count as room for the new one. */
static void
item_store(struct store *s, struct item *old, struct item *it, uint64_t new_cas, int64_t now,
    struct store_result *res)
{
	if (old != NULL)
		item_free(s, old);
	make_room(s, item_charge(it), now);
	it->cas = new_cas != 0 ? new_cas : next_cas(s);
	item_link(s, it, now);
	res->cas = it->cas;
	res->exptime = it->exptime;
	res->flags = it->flags;
}

/* The live item under key, or NULL; a dead one found on the way is freed and
 * reported in *dead (if given). */
static struct item *
lookup(struct store *s, uint64_t hv, const char *key, size_t klen, int64_t now,
    enum liveness *dead)
{
	struct item *it = table_find(s, hv, key, klen);
	enum liveness l;

	if (dead != NULL)
		*dead = ITEM_LIVE;
	if (it == NULL)
		return NULL;
	l = item_liveness(s, it, now);
	if (l == ITEM_LIVE)
		return it;
	if (dead != NULL)
		*dead = l;
	item_reclaim(s, it, l);
	return NULL;
}

static void
flush_apply(struct store *s)
{
	s->flush_seq = s->next_seq;
	s->flushed_items += s->live_items;
	s->live_items = 0;
	s->flush_pending = false;
}

/* Takes the lock and does the store's bounded housekeeping for this call. */
static void
store_enter(struct store *s, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	if (s->flush_pending && now >= s->flush_at)
		flush_apply(s);
	if (s->expanding)
		rehash_step(s);
	for (unsigned i = 0; i < STORE_RECLAIM_STEP && s->flushed_items > 0; i++) {
		struct item *it = s->lru_tail;
		enum liveness l;

		if (it == NULL || (l = item_liveness(s, it, now)) == ITEM_LIVE)
			break;
		item_reclaim(s, it, l);
	}
}

static void
store_leave(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* --- lifecycle ---------------------------------------------------------------------- */

static void *
default_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

static void
default_release(void *ctx, void *ptr)
{
	(void)ctx;
	free(ptr);
}

struct store *
store_new_with_allocator(uint64_t limit, const struct store_allocator *alloc)
{
	static const struct store_allocator libc = { default_alloc, default_release, NULL };
	pthread_mutexattr_t attr;
	struct store *s;
	int rc;

	if (alloc == NULL)
		alloc = &libc;
	s = alloc->alloc(alloc->ctx, sizeof(*s));
	if (s == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->alloc = *alloc;
	s->limit = limit;
	s->next_seq = 1;
	s->tables[0].buckets = buckets_new(s, 1ULL << STORE_HASH_INITIAL_POWER);
	if (s->tables[0].buckets == NULL)
		goto out_release_store;
	s->tables[0].mask = (1ULL << STORE_HASH_INITIAL_POWER) - 1;
	hash_secret_init(&s->secret, s);

	/* Adaptive: the lock is held for short work, so a brief spin beats
	 * sleeping in the kernel when worker threads meet on a hot tenant. */
	if (pthread_mutexattr_init(&attr) != 0)
		goto out_release_buckets;
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	rc = pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0)
		goto out_release_buckets;
	return s;

out_release_buckets:
	alloc->release(alloc->ctx, s->tables[0].buckets);
out_release_store:
	alloc->release(alloc->ctx, s);
	return NULL;
}

struct store *
store_new(uint64_t limit)
{
	return store_new_with_allocator(limit, NULL);
}

void
store_free(struct store *s)
{
	struct item *it, *next;

	if (s == NULL)
		return;
	for (it = s->lru_head; it != NULL; it = next) {
		next = it->lru_next;
		s->alloc.release(s->alloc.ctx, it);
	}
	for (int t = 0; t < 2; t++)
		if (s->tables[t].buckets != NULL)
			s->alloc.release(s->alloc.ctx, s->tables[t].buckets);
	pthread_mutex_destroy(&s->lock);
	s->alloc.release(s->alloc.ctx, s);
}

void
store_set_limit(struct store *s, uint64_t limit, int64_t now)
{
	store_enter(s, now);
	s->limit = limit;
	make_room(s, 0, now);
	store_leave(s);
}

/* --- reads -------------------------------------------------------------------------- */

/* mg N on a miss: an empty placeholder whose creator wins the right to fill it. */
static enum store_status
get_vivify(struct store *s, uint64_t hv, const char *key, size_t klen, int64_t now,
    const struct store_get_opts *opts, store_item_fn fn, void *arg)
{
	struct store_result res;
	struct item *it;

	if (charge_of(klen, 0) > s->limit)
		return STORE_NOT_FOUND;
	it = item_new(s, hv, key, klen, 0);
	if (it == NULL)
		return STORE_NOMEM;
	it->exptime = opts->vivify_exptime;
	it->bits = ITEM_TOKEN_SENT;
	item_store(s, NULL, it, 0, now, &res);
	if (fn != NULL) {
		struct store_item_info info = {
			.key = item_key(it),
			.klen = it->klen,
			.value = item_value(it),
			.vlen = 0,
			.flags = 0,
			.cas = it->cas,
			.exptime = it->exptime,
			.last_access = now,
			.win = true,
		};
		fn(arg, &info);
	}
	return STORE_NOT_FOUND;
}

enum store_status
store_get(struct store *s, const char *key, size_t klen, int64_t now,
    const struct store_get_opts *opts, store_item_fn fn, void *arg)
{
	static const struct store_get_opts plain;
	enum store_status st = STORE_OK;
	enum liveness dead;
	struct item *it;
	uint64_t hv;

	if (opts == NULL)
		opts = &plain;
	if (!key_ok(klen))
		return STORE_NOT_FOUND;
	hv = key_hash(&s->secret, key, klen);
	store_enter(s, now);
	it = lookup(s, hv, key, klen, now, &dead);
	if (dead == ITEM_EXPIRED)
		s->stats.get_expired++;
	else if (dead == ITEM_FLUSHED)
		s->stats.get_flushed++;
	if (it == NULL) {
		if (opts->touch)
			s->stats.touch_misses++;
		else
			s->stats.get_misses++;
		st = STORE_NOT_FOUND;
		if (opts->vivify)
			st = get_vivify(s, hv, key, klen, now, opts, fn, arg);
		store_leave(s);
		return st;
	}

	if (opts->touch)
		s->stats.touch_hits++;
	else
		s->stats.get_hits++;
	struct store_item_info info = {
		.key = item_key(it),
		.klen = it->klen,
		.value = item_value(it),
		.vlen = it->vlen,
		.item = it,
		.flags = it->flags,
		.cas = it->cas,
		.last_access = it->last_access,
		.fetched = (it->bits & ITEM_FETCHED) != 0,
		.stale = (it->bits & ITEM_STALE) != 0,
	};
	int64_t left;
	bool due = info.stale || (opts->recache && it->exptime != 0 &&
	    !__builtin_sub_overflow(it->exptime, now, &left) && left < opts->recache_below);
	if (it->bits & ITEM_TOKEN_SENT) {
		info.win_sent = true;
	} else if (due) {
		info.win = true;
		it->bits |= ITEM_TOKEN_SENT;
	}
	if (opts->touch)
		it->exptime = opts->exptime;
	info.exptime = it->exptime;
	if (!opts->no_bump) {
		it->bits |= ITEM_FETCHED;
		item_bump(s, it, now);
	}
	if (fn != NULL)
		fn(arg, &info);
	store_leave(s);
	return st;
}

/* --- writes ------------------------------------------------------------------------- */

static void
result_from_item(struct store_result *res, const struct item *it)
{
	res->cas = it->cas;
	res->exptime = it->exptime;
	res->flags = it->flags;
}

/* set/replace/cas carrying a cas (STORE_CAS semantics). */
static enum store_status
set_cas(struct store *s, struct item *old, uint64_t hv, const char *key, size_t klen,
    const char *value, size_t vlen, int64_t now, const struct store_set_opts *opts,
    struct store_result *res)
{
	bool stale = false;
	struct item *it;

	if (old == NULL) {
		s->stats.cas_misses++;
		return STORE_NOT_FOUND;
	}
	if (old->cas != opts->cas) {
		/* meta I: a writer holding an older cas still stores, but its value
		 * is marked stale so that readers know to refresh it. */
		if (!(opts->invalidate && opts->cas < old->cas)) {
			s->stats.cas_badval++;
			result_from_item(res, old);
			return STORE_EXISTS;
		}
		stale = true;
	}
	it = item_new(s, hv, key, klen, vlen);
	if (it == NULL)
		return STORE_NOMEM;
	memcpy(item_value(it), value, vlen);
	it->flags = opts->flags;
	it->exptime = opts->exptime;
	if (stale) {
		it->exptime = old->exptime;
		it->bits = ITEM_STALE | (old->bits & ITEM_TOKEN_SENT);
	}
	s->stats.cas_hits++;
	item_store(s, old, it, opts->new_cas, now, res);
	return STORE_OK;
}

static enum store_status
set_concat(struct store *s, struct item *old, uint64_t hv, const char *key, size_t klen,
    const char *value, size_t vlen, int64_t now, const struct store_set_opts *opts,
    struct store_result *res)
{
	bool append = opts->mode == STORE_APPEND;
	struct item *it;
	uint64_t total;

	if (old == NULL) {
		if (!opts->vivify)
			return STORE_NOT_STORED;
		if (charge_of(klen, vlen) > s->limit)
			return STORE_TOO_LARGE;
		it = item_new(s, hv, key, klen, vlen);
		if (it == NULL)
			return STORE_NOMEM;
		memcpy(item_value(it), value, vlen);
		it->flags = opts->flags;
		it->exptime = opts->vivify_exptime;
		item_store(s, NULL, it, opts->new_cas, now, res);
		res->created = true;
		return STORE_OK;
	}
	if (opts->cas != 0 && opts->cas != old->cas) {
		result_from_item(res, old);
		return STORE_EXISTS;
	}
	total = (uint64_t)old->vlen + vlen;
	if (opts->value_max != 0 && total > opts->value_max)
		return STORE_NOT_STORED;
	if (total > STORE_VALUE_MAX || charge_of(klen, total) > s->limit)
		return STORE_TOO_LARGE;
	it = item_new(s, hv, key, klen, (size_t)total);
	if (it == NULL)
		return STORE_NOMEM;
	if (append) {
		memcpy(item_value(it), item_value(old), old->vlen);
		memcpy(item_value(it) + old->vlen, value, vlen);
	} else {
		memcpy(item_value(it), value, vlen);
		memcpy(item_value(it) + vlen, item_value(old), old->vlen);
	}
	/* append/prepend change the data only: flags and expiry stay. */
	it->flags = old->flags;
	it->exptime = old->exptime;
	item_store(s, old, it, opts->new_cas, now, res);
	return STORE_OK;
}

static enum store_status
set_locked(struct store *s, uint64_t hv, const char *key, size_t klen, const char *value,
    size_t vlen, int64_t now, const struct store_set_opts *opts, struct store_result *res)
{
	enum store_mode mode = opts->mode;
	struct item *old, *it;

	if (mode != STORE_APPEND && mode != STORE_PREPEND && charge_of(klen, vlen) > s->limit)
		return STORE_TOO_LARGE;
	old = lookup(s, hv, key, klen, now, NULL);
	switch (mode) {
	case STORE_APPEND:
	case STORE_PREPEND:
		return set_concat(s, old, hv, key, klen, value, vlen, now, opts, res);
	case STORE_CAS:
		return set_cas(s, old, hv, key, klen, value, vlen, now, opts, res);
	case STORE_SET:
	case STORE_REPLACE:
		if (opts->cas != 0)
			return set_cas(s, old, hv, key, klen, value, vlen, now, opts, res);
		if (mode == STORE_REPLACE && old == NULL)
			return STORE_NOT_STORED;
		break;
	case STORE_ADD:
		if (old != NULL) {
			/* memcached bumps the item an add ran into: it is in demand */
			item_bump(s, old, now);
			result_from_item(res, old);
			return STORE_NOT_STORED;
		}
		break;
	default:
		return STORE_NOT_STORED;
	}
	it = item_new(s, hv, key, klen, vlen);
	if (it == NULL)
		return STORE_NOMEM;
	memcpy(item_value(it), value, vlen);
	it->flags = opts->flags;
	it->exptime = opts->exptime;
	item_store(s, old, it, opts->new_cas, now, res);
	return STORE_OK;
}

enum store_status
store_set(struct store *s, const char *key, size_t klen, const char *value, size_t vlen,
    int64_t now, const struct store_set_opts *opts, struct store_result *res)
{
	static const struct store_set_opts plain = { .mode = STORE_SET };
	struct store_result scratch;
	enum store_status st;
	uint64_t hv;

	if (opts == NULL)
		opts = &plain;
	if (res == NULL)
		res = &scratch;
	memset(res, 0, sizeof(*res));
	if (!key_ok(klen))
		return STORE_NOT_STORED;
	if (vlen > STORE_VALUE_MAX)
		return STORE_TOO_LARGE;
	hv = key_hash(&s->secret, key, klen);
	store_enter(s, now);
	st = set_locked(s, hv, key, klen, value, vlen, now, opts, res);
	store_leave(s);
	return st;
}

enum store_status
store_delete(struct store *s, const char *key, size_t klen, int64_t now,
    const struct store_delete_opts *opts)
{
	static const struct store_delete_opts plain;
	enum store_status st = STORE_OK;
	struct item *it;
	uint64_t hv;

	if (opts == NULL)
		opts = &plain;
	if (!key_ok(klen))
		return STORE_NOT_FOUND;
	hv = key_hash(&s->secret, key, klen);
	store_enter(s, now);
	it = lookup(s, hv, key, klen, now, NULL);
	if (it == NULL) {
		s->stats.delete_misses++;
		st = STORE_NOT_FOUND;
	} else if (opts->cas != 0 && opts->cas != it->cas) {
		st = STORE_EXISTS;
	} else if (opts->invalidate) {
		/* The value stays for readers, marked stale, with a new cas so a
		 * writer still holding the old one stores stale; the win token is
		 * reset so that the next reader wins the refresh. */
		it->bits = (uint8_t)((it->bits | ITEM_STALE) & ~ITEM_TOKEN_SENT);
		it->cas = next_cas(s);
		if (opts->touch)
			it->exptime = opts->exptime;
		s->stats.delete_hits++;
	} else {
		item_free(s, it);
		s->stats.delete_hits++;
	}
	store_leave(s);
	return st;
}

/* Decimal digits of v into buf (no NUL); returns their count. */
static size_t
u64_to_decimal(uint64_t v, char buf[STORE_DIGITS_MAX])
{
	char tmp[STORE_DIGITS_MAX];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static enum store_status
arith_locked(struct store *s, uint64_t hv, const char *key, size_t klen, int64_t now,
    const struct store_arith_opts *opts, struct store_result *res)
{
	char digits[STORE_DIGITS_MAX];
	struct item *it, *n;
	uint64_t v;
	size_t len;

	it = lookup(s, hv, key, klen, now, NULL);
	if (it == NULL) {
		if (opts->decr)
			s->stats.decr_misses++;
		else
			s->stats.incr_misses++;
		if (!opts->vivify)
			return STORE_NOT_FOUND;
		len = u64_to_decimal(opts->initial, digits);
		if (charge_of(klen, len) > s->limit)
			return STORE_TOO_LARGE;
		n = item_new(s, hv, key, klen, len);
		if (n == NULL)
			return STORE_NOMEM;
		memcpy(item_value(n), digits, len);
		n->exptime = opts->vivify_exptime;
		item_store(s, NULL, n, 0, now, res);
		res->value = opts->initial;
		res->created = true;
		return STORE_OK;
	}
	if (opts->cas != 0 && opts->cas != it->cas) {
		result_from_item(res, it);
		return STORE_EXISTS;
	}
	if (parse_u64_n(item_value(it), it->vlen, 0, UINT64_MAX, &v) < 0)
		return STORE_NON_NUMERIC;
	if (opts->decr)
		v = opts->delta > v ? 0 : v - opts->delta;
	else
		v += opts->delta; /* unsigned: wraps at 2^64 as memcached's incr does */
	len = u64_to_decimal(v, digits);

	/* The exact decimal is stored (memcached pads a shorter result with
	 * spaces in place); same length is rewritten in place, unless a reply still
	 * holds the value (a store_ref sees it unchanged). */
	if (len == it->vlen && atomic_load_explicit(&it->refs, memory_order_acquire) == 1) {
		memcpy(item_value(it), digits, len);
		it->cas = next_cas(s);
		if (opts->touch)
			it->exptime = opts->exptime;
		it->bits = (uint8_t)((it->bits | ITEM_FETCHED) & ~(ITEM_STALE | ITEM_TOKEN_SENT));
		it->last_access = now;
		lru_move_to_head(s, it, now);
		result_from_item(res, it);
	} else {
		if (charge_of(klen, len) > s->limit)
			return STORE_TOO_LARGE;
		n = item_new(s, hv, key, klen, len);
		if (n == NULL)
			return STORE_NOMEM;
		memcpy(item_value(n), digits, len);
		n->flags = it->flags;
		n->exptime = opts->touch ? opts->exptime : it->exptime;
		n->bits = ITEM_FETCHED;
		item_store(s, it, n, 0, now, res);
	}
	if (opts->decr)
		s->stats.decr_hits++;
	else
		s->stats.incr_hits++;
	res->value = v;
	return STORE_OK;
}

enum store_status
store_arith(struct store *s, const char *key, size_t klen, int64_t now,
    const struct store_arith_opts *opts, struct store_result *res)
{
	static const struct store_arith_opts plain;
	struct store_result scratch;
	enum store_status st;
	uint64_t hv;

	if (opts == NULL)
		opts = &plain;
	if (res == NULL)
		res = &scratch;
	memset(res, 0, sizeof(*res));
	if (!key_ok(klen))
		return STORE_NOT_FOUND;
	hv = key_hash(&s->secret, key, klen);
	store_enter(s, now);
	st = arith_locked(s, hv, key, klen, now, opts, res);
	store_leave(s);
	return st;
}

enum store_status
store_touch(struct store *s, const char *key, size_t klen, int64_t now, int64_t exptime)
{
	enum store_status st = STORE_OK;
	struct item *it;
	uint64_t hv;

	if (!key_ok(klen))
		return STORE_NOT_FOUND;
	hv = key_hash(&s->secret, key, klen);
	store_enter(s, now);
	it = lookup(s, hv, key, klen, now, NULL);
	if (it == NULL) {
		s->stats.touch_misses++;
		st = STORE_NOT_FOUND;
	} else {
		it->exptime = exptime;
		it->bits |= ITEM_FETCHED;
		item_bump(s, it, now);
		s->stats.touch_hits++;
	}
	store_leave(s);
	return st;
}

void
store_flush(struct store *s, int64_t now, int64_t at)
{
	store_enter(s, now);
	if (at <= now) {
		flush_apply(s);
	} else {
		s->flush_pending = true;
		s->flush_at = at;
	}
	store_leave(s);
}

struct store_ref *
store_ref_take(const struct store_item_info *info)
{
	struct item *it = info->item;

	if (it == NULL)
		return NULL;
	atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
	return (struct store_ref *)it;
}

void
store_ref_release(struct store *s, struct store_ref *ref)
{
	if (ref != NULL)
		item_unref(s, (struct item *)ref);
}

void
store_get_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	out->limit = s->limit;
	out->bytes = s->bytes;
	out->curr_items = s->live_items;
	out->hash_buckets = s->tables[s->expanding ? 1 : 0].mask + 1;
	out->hash_expanding = s->expanding;
	out->oldest_access = s->lru_tail != NULL ? s->lru_tail->last_access : 0;
	pthread_mutex_unlock(&s->lock);
}

void
store_reset_stats(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	memset(&s->stats, 0, sizeof(s->stats));
	pthread_mutex_unlock(&s->lock);
}
