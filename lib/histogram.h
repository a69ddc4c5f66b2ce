/*
 * histogram — log-linear (HdrHistogram-style) latency histograms in microseconds,
 * and a sliding window of them.
 *
 * Fine buckets: values 0..255 µs have a bucket each; above that, every power of
 * two [2^(e), 2^(e+1)) is split into 128 equal buckets, so a bucket is never wider
 * than 1/128 of its values (two significant digits, like HdrHistogram with
 * significant figures = 2). Range 1 µs to HISTOGRAM_MAX_US (16.7 s) in
 * HISTOGRAM_FINE_MAX counters (18 KiB); a larger value is counted in the top
 * bucket (and in `saturated`), so a very slow request is never lost from a count.
 * Recording is O(1); histograms of the same bounds merge by adding.
 *
 * Exact bounds: a histogram also carries a short, strictly increasing list of
 * "bounds" chosen at init (every latency threshold a detector uses, and the `le`
 * values a Prometheus exporter prints), with an exact count of values in each
 * interval (b[i-1], b[i]], kept at record time. So "how many values are <= T" and
 * "what fraction is slower than T" are exact for every declared T, whatever the
 * fine resolution around T. For any other T they are computed from the fine
 * buckets: exact when T+1 starts a fine bucket (histogram_fine_exact()), otherwise
 * short by at most the one fine bucket that straddles T (< 1% of T wide).
 *
 * A struct histogram is caller-owned memory that holds no pointers: it needs no
 * release and may be copied by assignment. Only the window allocates (its ring);
 * nothing here logs.
 */
#ifndef MCOPS_HISTOGRAM_H
#define MCOPS_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_SUB_BITS 8 /* 256 sub-buckets: 2 significant digits */
#define HISTOGRAM_MAX_US ((UINT64_C(1) << 24) - 1) /* 16.7 s, highest distinct value */
#define HISTOGRAM_FINE_MAX 2304 /* fine counters for 0..HISTOGRAM_MAX_US */
#define HISTOGRAM_BOUNDS_MAX 32 /* exact bounds per histogram */
#define HISTOGRAM_WINDOW_SLOTS_MAX 3600 /* slots in one sliding window */

struct histogram {
	uint64_t fine[HISTOGRAM_FINE_MAX];
	uint64_t bounds[HISTOGRAM_BOUNDS_MAX]; /* strictly increasing, µs */
	size_t nbounds;
	/* bound_counts[i]: values in (bounds[i-1], bounds[i]]; [nbounds]: above all. */
	uint64_t bound_counts[HISTOGRAM_BOUNDS_MAX + 1];
	uint64_t count;
	uint64_t sum_us;    /* of the values as recorded (not clamped); saturates */
	uint64_t saturated; /* values above HISTOGRAM_MAX_US */
	/* fine[i] is non-zero only for fine_lo <= i < fine_hi (equal: none). Latencies
	 * cluster in a few buckets, so resets, merges and scans touch those, not all
	 * HISTOGRAM_FINE_MAX (a monitor merges window slots every evaluation). Zeroed
	 * memory is an empty range. */
	uint32_t fine_lo, fine_hi;
};

/*
 * Empties h and sets its exact bounds (µs, strictly increasing, at most
 * HISTOGRAM_BOUNDS_MAX; nbounds may be 0). Returns -1 with err filled and h
 * untouched if the list is not valid.
 */
int histogram_init(struct histogram *h, const uint64_t *bounds, size_t nbounds, char *err,
    size_t errlen);

/* Empties every count; keeps the bounds. */
void histogram_reset(struct histogram *h);

/* Counts one value (µs). O(1). */
void histogram_record(struct histogram *h, uint64_t value_us);
/* Counts `count` values equal to value_us. */
void histogram_record_n(struct histogram *h, uint64_t value_us, uint64_t count);

/*
 * Adds src's counts into dst. The two must have the same bounds; otherwise
 * returns -1 with err filled and dst untouched.
 */
int histogram_merge(struct histogram *dst, const struct histogram *src, char *err,
    size_t errlen);

/*
 * The value at percentile p (0..100; out of range or NaN is clamped, NaN as 0):
 * the highest value of the fine bucket holding the ceil(p% * count)-th value,
 * so it never understates. 0 when the histogram is empty.
 */
uint64_t histogram_percentile(const struct histogram *h, double p);

/* Lowest and highest values seen, to the fine resolution; 0 when empty. */
uint64_t histogram_min(const struct histogram *h);
uint64_t histogram_max(const struct histogram *h);
/* Mean of the recorded values in µs; 0 when empty (never NaN). */
double histogram_mean(const struct histogram *h);

/*
 * Number of values <= value_us, and number > value_us ("slower than T"). Exact
 * when value_us is one of h's bounds or histogram_fine_exact(value_us); see the
 * top of this file for the error otherwise.
 */
uint64_t histogram_count_at_most(const struct histogram *h, uint64_t value_us);
uint64_t histogram_count_above(const struct histogram *h, uint64_t value_us);
/* count_above / count, or 0 when empty. */
double histogram_fraction_above(const struct histogram *h, uint64_t value_us);

/* Whether value_us is one of h's bounds. */
bool histogram_has_bound(const struct histogram *h, uint64_t value_us);
/* Whether "<= value_us" falls exactly between two fine buckets. */
bool histogram_fine_exact(uint64_t value_us);

/* The fine bucket of a value, and that bucket's lowest and highest values. */
size_t histogram_fine_index(uint64_t value_us);
uint64_t histogram_fine_lowest(size_t index);
uint64_t histogram_fine_highest(size_t index);

/*
 * The `le` list for an exporter: a standard latency ladder (100 µs .. 10 s, in
 * 1-2.5-5 steps) merged with the given thresholds, sorted and deduplicated, into
 * out[0..*nout). Fails (-1, err) if a threshold is 0 or the result would not fit
 * in min(outmax, HISTOGRAM_BOUNDS_MAX).
 */
int histogram_export_bounds(const uint64_t *thresholds, size_t nthresholds, uint64_t *out,
    size_t outmax, size_t *nout, char *err, size_t errlen);

/*
 * A sliding window: a ring of per-slot histograms, each covering slot_ms of time
 * (slot n holds values recorded at times [n*slot_ms, (n+1)*slot_ms)). A query for
 * span S at time `now` sums the slots whose time falls in the last
 * ceil(S/slot_ms) slots, the current (partial) one included: between S - slot_ms
 * and S of data. Times are caller-supplied milliseconds (a monotonic clock, or a
 * fake one in tests); a time earlier than the latest seen counts as the latest, and
 * a jump forward of a whole ring or more empties it in O(slots).
 */
struct histogram_window {
	struct histogram *slots; /* owned: nslots histograms */
	int64_t *slot_numbers;   /* owned: the slot number each holds, or INT64_MIN */
	size_t nslots;
	int64_t slot_ms;
	int64_t current; /* the latest slot number seen */
	bool started;
};

/*
 * Allocates nslots (1..HISTOGRAM_WINDOW_SLOTS_MAX) histograms with the given
 * bounds. Returns -1 with err filled and w zeroed on failure.
 */
int histogram_window_init(struct histogram_window *w, int64_t slot_ms, size_t nslots,
    const uint64_t *bounds, size_t nbounds, char *err, size_t errlen);
/* Frees what init allocated; w is zeroed and may be init'ed again. */
void histogram_window_release(struct histogram_window *w);
/* Empties every slot. */
void histogram_window_reset(struct histogram_window *w);

/* Moves the window to now, emptying slots that fell out of it. */
void histogram_window_advance(struct histogram_window *w, int64_t now_ms);
/* Counts a value at time now (advancing first). */
void histogram_window_record(struct histogram_window *w, int64_t now_ms, uint64_t value_us);
/* Counts `count` values at time now (advancing first; 0 only advances). */
void histogram_window_record_n(struct histogram_window *w, int64_t now_ms, uint64_t value_us,
    uint64_t count);

/*
 * Sums the last span_ms (see above; clamped to the ring) into out, which is reset
 * first and must have been init'ed with the window's bounds (-1 and err if not).
 */
int histogram_window_sum(struct histogram_window *w, int64_t now_ms, int64_t span_ms,
    struct histogram *out, char *err, size_t errlen);

/*
 * Over the last span_ms: the number of values and how many were > threshold_us,
 * without building a sum (O(slots x bounds) when threshold_us is a bound).
 */
void histogram_window_count(struct histogram_window *w, int64_t now_ms, int64_t span_ms,
    uint64_t threshold_us, uint64_t *total, uint64_t *above);

#endif
