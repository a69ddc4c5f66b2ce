/*
 * store — one tenant's key space: a hash table of items with an LRU list, a memory
 * limit enforced by evicting least recently used items, lazy expiry, CAS, and
 * flush_all (immediate or delayed).
 *
 * Every tenant of a node has its own struct store, so keys of different tenants
 * never meet and one tenant's writes never evict another's items. A store is
 * thread-safe: each call takes the store's mutex for the duration of the call, so
 * the callbacks below run under it and must only copy what they need (no I/O, no
 * call back into the store).
 *
 * Time: every call takes `now`, in milliseconds on the server's clock (monotonic
 * since an arbitrary origin, supplied by the caller; tests pass a fake one).
 * Expiry times are absolute on that clock; 0 means never. The protocol layer turns
 * memcached exptimes (relative seconds, Unix times, negatives) into these.
 *
 * Memory: an item is charged STORE_ITEM_OVERHEAD + key + value bytes. After a
 * successful store, the charged total is at most the limit: expired items and
 * then least recently used ones are dropped (counted as evictions when still live).
 * An item that alone exceeds the limit gets STORE_TOO_LARGE and changes nothing.
 *
 * The hash table grows incrementally (a few buckets moved per operation), so no
 * single call pays for rehashing a large table.
 *
 * LRU: a write puts the item at the head. A hit (get, touch, add on a hit) moves
 * the item to the head only if it was last moved STORE_BUMP_INTERVAL_MS ago or
 * more, as memcached does, to keep hot items from costing list updates on every
 * read; a more recent hit marks it active instead, and eviction gives an active
 * item at the tail one more trip to the head instead of dropping it.
 *
 * Keys: a key of length 0 or above STORE_KEY_MAX is never stored (reads, touch,
 * delete and arith answer STORE_NOT_FOUND, store_set STORE_NOT_STORED); the
 * protocol layer rejects such keys before they get here.
 */
#ifndef MCOPS_STORE_H
#define MCOPS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_MAX 250
#define STORE_ITEM_OVERHEAD 64 /* bytes charged per item besides key and value */
#define STORE_VALUE_MAX UINT32_MAX /* longer values (or appends) get STORE_TOO_LARGE */
#define STORE_BUMP_INTERVAL_MS 60000 /* a hit moves an item to the LRU head at most this often */

enum store_status {
	STORE_OK = 0,       /* found / stored / deleted / touched */
	STORE_NOT_FOUND,    /* no live item (get miss; replace/cas/delete/incr on a miss) */
	STORE_NOT_STORED,   /* add on a hit, replace/append/prepend on a miss */
	STORE_EXISTS,       /* CAS mismatch */
	STORE_NON_NUMERIC,  /* incr/decr on a value that is not a decimal u64 */
	STORE_TOO_LARGE,    /* item larger than the whole limit */
	STORE_NOMEM,        /* allocation failed */
};

/* What a read hands to its callback; pointers are valid only during the call,
 * unless the callback takes a reference (store_ref_take). */
struct store_item_info {
	const char *key;
	size_t klen;
	const char *value;
	size_t vlen;
	void *item;              /* for store_ref_take; NULL for a vivified placeholder */
	uint32_t flags;          /* client flags */
	uint64_t cas;
	int64_t exptime;         /* absolute ms, 0 = never */
	int64_t last_access;     /* ms, before this access */
	bool fetched;            /* fetched before this access */
	bool stale;              /* marked stale by an invalidation (meta I flag) */
	bool win;                /* this caller won the right to recache (meta W) */
	bool win_sent;           /* another caller already won (meta Z) */
};

typedef void (*store_item_fn)(void *arg, const struct store_item_info *info);

/* Options of a read (get/gets/gat/gats/mg). Zero = a plain get. */
struct store_get_opts {
	bool touch;              /* set exptime (gat, mg T) */
	int64_t exptime;         /* new absolute expiry if touch (0 = never) */
	bool vivify;             /* mg N: on a miss, create an empty item, stale-free, */
	int64_t vivify_exptime;  /*   with this expiry, and report win = true */
	bool recache;            /* mg R: if the remaining TTL is below recache_below, */
	int64_t recache_below;   /*   the first caller gets win = true, later win_sent */
	bool no_bump;            /* do not update LRU position, last access, fetched */
};

enum store_mode {
	STORE_SET,
	STORE_ADD,
	STORE_REPLACE,
	STORE_APPEND,
	STORE_PREPEND,
	STORE_CAS, /* set only if the item exists and its cas equals opts.cas */
};

struct store_set_opts {
	enum store_mode mode;
	uint32_t flags;          /* client flags (ignored by append/prepend) */
	int64_t exptime;         /* absolute ms, 0 = never (ignored by append/prepend) */
	uint64_t cas;            /* for any mode: if non-zero, the item must exist with
	                            this cas (meta C); STORE_CAS requires it */
	uint64_t new_cas;        /* meta E: cas to give the stored item (0 = next one) */
	bool invalidate;         /* meta I: a cas older than the item's marks the
	                            stored item stale instead of failing */
	bool vivify;             /* append/prepend on a miss create the item (meta N) */
	int64_t vivify_exptime;
	uint64_t value_max;      /* largest value append/prepend may make (the server's
	                            item size, -I); beyond it they store nothing and
	                            answer STORE_NOT_STORED, as memcached does. 0 = no
	                            cap but STORE_VALUE_MAX */
};

struct store_delete_opts {
	uint64_t cas;            /* non-zero: delete only if the cas matches */
	bool invalidate;         /* meta I: mark stale (keep value) instead of removing */
	bool touch;              /* with invalidate: new expiry */
	int64_t exptime;
};

struct store_arith_opts {
	bool decr;               /* decr floors at 0; incr wraps at 2^64 */
	uint64_t delta;
	uint64_t cas;            /* non-zero: must match */
	bool vivify;             /* ma N: on a miss create with `initial` */
	uint64_t initial;
	int64_t vivify_exptime;
	bool touch;              /* ma T */
	int64_t exptime;
};

/* What a write reports back (meta return flags c, t, ...). */
struct store_result {
	uint64_t cas;
	int64_t exptime;
	uint32_t flags;
	uint64_t value;          /* arith: the new value */
	bool created;            /* vivified by this call */
};

/*
 * Counters. curr_items counts items not flushed, including expired ones not yet
 * reclaimed (as memcached does); an immediate flush drops it to 0 at once, a
 * delayed one at the first call at or after its time. bytes counts every item
 * still allocated, flushed ones included, until they are freed: flushed items sit
 * at the LRU tail and every call frees a few of them, and a store that needs
 * room frees them first.
 */
struct store_stats {
	uint64_t limit;          /* limit_maxbytes */
	uint64_t bytes;          /* charged bytes of live + not yet reclaimed items */
	uint64_t curr_items;
	uint64_t total_items;    /* successful stores */
	uint64_t evictions;      /* live items dropped for room */
	uint64_t evicted_unfetched;
	uint64_t expired_unfetched;
	uint64_t reclaimed;      /* expired/flushed items freed */
	uint64_t get_hits, get_misses, get_expired, get_flushed;
	uint64_t touch_hits, touch_misses;
	uint64_t delete_hits, delete_misses;
	uint64_t incr_hits, incr_misses, decr_hits, decr_misses;
	uint64_t cas_hits, cas_misses, cas_badval;
	uint64_t hash_buckets;
	bool hash_expanding;
	int64_t oldest_access;   /* last access (ms) of the LRU tail's item, the next
	                            to be evicted; 0 when the store is empty */
};

struct store;

/* A new empty store with the given limit in bytes; NULL on allocation failure. */
struct store *store_new(uint64_t limit);

/*
 * Where a store gets its memory (the store, its hash table and every item).
 * alloc returns NULL on failure; the store then answers STORE_NOMEM and stays
 * consistent. Tests use it to fail each allocation in turn.
 */
struct store_allocator {
	void *(*alloc)(void *ctx, size_t size);
	void (*release)(void *ctx, void *ptr);
	void *ctx;
};
/* store_new with a given allocator (copied; NULL = malloc/free). */
struct store *store_new_with_allocator(uint64_t limit, const struct store_allocator *alloc);
/* Frees the store and every item. */
void store_free(struct store *s);

/* Changes the limit; evicts down to it at once if it shrank. */
void store_set_limit(struct store *s, uint64_t limit, int64_t now);

/*
 * Reads key. On a hit calls fn(arg, info) and returns STORE_OK. On a miss returns
 * STORE_NOT_FOUND without calling fn, unless opts->vivify created an item, in which
 * case fn is called (empty value, win = true, created) and STORE_NOT_FOUND is still
 * returned (meta answers EN W). opts may be NULL.
 *
 * Win tokens (meta W/Z): a hit on a stale item, or with opts->recache on an item
 * whose remaining TTL is below recache_below, gives win = true to the first caller;
 * from then on every hit reports win_sent until the item is replaced (any store,
 * append, incr/decr) or invalidated again. If vivify cannot allocate the item the
 * result is STORE_NOMEM. gat (opts->touch) counts touch_hits/misses, not get_*.
 */
enum store_status store_get(struct store *s, const char *key, size_t klen, int64_t now,
    const struct store_get_opts *opts, store_item_fn fn, void *arg);

/*
 * Stores value under key per opts->mode; *res (may be NULL) gets the new cas etc.
 * As memcached's meta set: a cas with STORE_SET or STORE_REPLACE makes it a
 * STORE_CAS; STORE_ADD ignores the cas (it stores only on a miss); append/prepend
 * with a cas fail with STORE_EXISTS on a mismatch. With opts->invalidate, a cas
 * below the item's stores the value marked stale, keeping the old expiry (and
 * win_sent). On STORE_EXISTS and on add's STORE_NOT_STORED, *res describes the
 * item found; on other failures it is zeroed. opts may be NULL (a plain set).
 */
enum store_status store_set(struct store *s, const char *key, size_t klen,
    const char *value, size_t vlen, int64_t now, const struct store_set_opts *opts,
    struct store_result *res);

/* STORE_OK, STORE_NOT_FOUND, or STORE_EXISTS on a cas mismatch; opts may be NULL. */
enum store_status store_delete(struct store *s, const char *key, size_t klen, int64_t now,
    const struct store_delete_opts *opts);

/*
 * incr/decr of a decimal value (ASCII, up to 20 digits, no sign). The new value
 * is written back as decimal (length may change). STORE_NON_NUMERIC otherwise.
 * A cas mismatch is STORE_EXISTS. On a miss with opts->vivify the item is created
 * with `initial` (res->created, STORE_OK). The cas changes; flags are kept.
 */
enum store_status store_arith(struct store *s, const char *key, size_t klen, int64_t now,
    const struct store_arith_opts *opts, struct store_result *res);

/* Sets a new expiry (touch). STORE_OK or STORE_NOT_FOUND. The cas is kept. */
enum store_status store_touch(struct store *s, const char *key, size_t klen, int64_t now,
    int64_t exptime);

/*
 * flush_all: every item stored before `at` is invalid from `at` on (at <= now:
 * at once). Items stored after the call but before a future `at` are invalid
 * too, as in memcached. Memory of flushed items is reclaimed lazily. A later
 * call replaces a pending delayed flush. "Before" is the order of calls on the
 * store, not only their millisecond: an item stored in the same millisecond
 * before an immediate flush is gone, one stored after it survives.
 */
void store_flush(struct store *s, int64_t now, int64_t at);

/* Copies the counters. */
void store_get_stats(struct store *s, struct store_stats *out);

/* `stats reset`: zeroes the counters (total_items, evictions, reclaimed, the
 * *_unfetched and the command hits and misses); the gauges (limit, bytes,
 * curr_items, the hash table) and the items are unchanged. */
void store_reset_stats(struct store *s);

/*
 * References, so that a reply can send a value without copying it. Called in a
 * store_item_fn callback, store_ref_take returns a reference to the item reported
 * (NULL if there is none to take: info->item is NULL); info->value[0..vlen) then
 * stays valid and unchanged until store_ref_release, whatever happens to the key
 * meanwhile (a replaced, deleted, evicted or flushed item leaves the store's
 * accounting at once, and its memory goes with its last reference). Release takes
 * the store the reference came from, from any thread, without its lock; every
 * reference must be released before store_free.
 */
struct store_ref;
struct store_ref *store_ref_take(const struct store_item_info *info);
void store_ref_release(struct store *s, struct store_ref *ref);

#endif
