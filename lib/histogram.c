#include "histogram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HALF_COUNT (1u << (HISTOGRAM_SUB_BITS - 1)) /* 128 buckets per power of two */
#define UNIT_COUNT (1u << HISTOGRAM_SUB_BITS)       /* 0..255 µs at 1 µs each */

/* The latency ladder every exporter starts from (µs). */
static const uint64_t export_ladder[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

size_t
histogram_fine_index(uint64_t value_us)
{
	unsigned shift;

	if (value_us > HISTOGRAM_MAX_US)
		value_us = HISTOGRAM_MAX_US;
	if (value_us < UNIT_COUNT)
		return (size_t)value_us;
	/* value in [2^e, 2^(e+1)), e >= 8: 128 buckets of width 2^(e-7). */
	shift = (unsigned)(63 - __builtin_clzll(value_us)) - (HISTOGRAM_SUB_BITS - 1);
	return (size_t)shift * HALF_COUNT + (size_t)(value_us >> shift);
}

uint64_t
histogram_fine_lowest(size_t index)
{
	size_t shift;

	if (index < UNIT_COUNT)
		return index;
	shift = index / HALF_COUNT - 1;
	return (uint64_t)(index - shift * HALF_COUNT) << shift;
}

uint64_t
histogram_fine_highest(size_t index)
{
	if (index < UNIT_COUNT)
		return index;
	return histogram_fine_lowest(index) + (UINT64_C(1) << (index / HALF_COUNT - 1)) - 1;
}

bool
histogram_fine_exact(uint64_t value_us)
{
	/* At the top, clamped values share the last bucket with real ones. */
	if (value_us >= HISTOGRAM_MAX_US)
		return false;
	return histogram_fine_highest(histogram_fine_index(value_us)) == value_us;
}

static int
check_bounds(const uint64_t *bounds, size_t nbounds, char *err, size_t errlen)
{
	size_t i;

	if (nbounds > HISTOGRAM_BOUNDS_MAX) {
		snprintf(err, errlen, "%zu histogram bounds (at most %d)", nbounds,
		    HISTOGRAM_BOUNDS_MAX);
		return -1;
	}
	for (i = 1; i < nbounds; i++) {
		if (bounds[i] <= bounds[i - 1]) {
			snprintf(err, errlen,
			    "histogram bounds not strictly increasing at %llu us",
			    (unsigned long long)bounds[i]);
			return -1;
		}
	}
	return 0;
}

int
histogram_init(struct histogram *h, const uint64_t *bounds, size_t nbounds, char *err,
    size_t errlen)
{
	if (check_bounds(bounds, nbounds, err, errlen) < 0)
		return -1;
	memset(h, 0, sizeof(*h));
	if (nbounds > 0)
		memcpy(h->bounds, bounds, nbounds * sizeof(bounds[0]));
	h->nbounds = nbounds;
	return 0;
}

void
histogram_reset(struct histogram *h)
{
	if (h->fine_hi > h->fine_lo && h->fine_hi <= HISTOGRAM_FINE_MAX)
		memset(&h->fine[h->fine_lo], 0, (h->fine_hi - h->fine_lo) * sizeof(h->fine[0]));
	else if (h->fine_hi != h->fine_lo)
		memset(h->fine, 0, sizeof(h->fine)); /* a range out of step: clear it all */
	h->fine_lo = h->fine_hi = 0;
	memset(h->bound_counts, 0, sizeof(h->bound_counts));
	h->count = 0;
	h->sum_us = 0;
	h->saturated = 0;
}

/* Widens the in-use range of fine[] to cover [lo, hi). */
static void
fine_widen(struct histogram *h, uint32_t lo, uint32_t hi)
{
	if (h->fine_lo == h->fine_hi) {
		h->fine_lo = lo;
		h->fine_hi = hi;
		return;
	}
	if (lo < h->fine_lo)
		h->fine_lo = lo;
	if (hi > h->fine_hi)
		h->fine_hi = hi;
}

/* Index of the first bound >= value, or nbounds: the interval the value falls in. */
static size_t
bound_interval(const struct histogram *h, uint64_t value_us)
{
	size_t lo = 0, hi = h->nbounds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->bounds[mid] < value_us)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t
add_saturating(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void
histogram_record_n(struct histogram *h, uint64_t value_us, uint64_t count)
{
	uint64_t product;
	size_t idx;

	if (count == 0)
		return;
	idx = histogram_fine_index(value_us);
	h->fine[idx] += count;
	fine_widen(h, (uint32_t)idx, (uint32_t)idx + 1);
	h->bound_counts[bound_interval(h, value_us)] += count;
	h->count += count;
	if (value_us > HISTOGRAM_MAX_US)
		h->saturated += count;
	product = value_us != 0 && count > UINT64_MAX / value_us ? UINT64_MAX : value_us * count;
	h->sum_us = add_saturating(h->sum_us, product);
}

void
histogram_record(struct histogram *h, uint64_t value_us)
{
	histogram_record_n(h, value_us, 1);
}

static bool
same_bounds(const struct histogram *a, const struct histogram *b)
{
	return a->nbounds == b->nbounds &&
	    (a->nbounds == 0 || memcmp(a->bounds, b->bounds, a->nbounds * sizeof(a->bounds[0])) == 0);
}

int
histogram_merge(struct histogram *dst, const struct histogram *src, char *err, size_t errlen)
{
	size_t i;

	if (!same_bounds(dst, src)) {
		snprintf(err, errlen, "cannot merge histograms with different bounds");
		return -1;
	}
	for (i = src->fine_lo; i < src->fine_hi && i < HISTOGRAM_FINE_MAX; i++)
		dst->fine[i] += src->fine[i];
	if (src->fine_hi > src->fine_lo)
		fine_widen(dst, src->fine_lo, src->fine_hi);
	for (i = 0; i <= src->nbounds; i++)
		dst->bound_counts[i] += src->bound_counts[i];
	dst->count += src->count;
	dst->saturated += src->saturated;
	dst->sum_us = add_saturating(dst->sum_us, src->sum_us);
	return 0;
}

uint64_t
histogram_percentile(const struct histogram *h, double p)
{
	uint64_t rank, seen = 0;
	double r;
	size_t i;

	if (h->count == 0)
		return 0;
	if (!(p > 0)) /* also NaN */
		p = 0;
	if (p > 100)
		p = 100;
	r = ceil(p / 100.0 * (double)h->count);
	rank = r < 1 ? 1 : r >= (double)h->count ? h->count : (uint64_t)r;
	for (i = h->fine_lo; i < h->fine_hi && i < HISTOGRAM_FINE_MAX; i++) {
		seen += h->fine[i];
		if (seen >= rank)
			return histogram_fine_highest(i);
	}
	return histogram_fine_highest(HISTOGRAM_FINE_MAX - 1); /* counts out of step: top */
}

uint64_t
histogram_min(const struct histogram *h)
{
	size_t i;

	for (i = h->fine_lo; i < h->fine_hi && i < HISTOGRAM_FINE_MAX; i++)
		if (h->fine[i] != 0)
			return histogram_fine_lowest(i);
	return 0;
}

uint64_t
histogram_max(const struct histogram *h)
{
	size_t i;

	for (i = h->fine_hi < HISTOGRAM_FINE_MAX ? h->fine_hi : HISTOGRAM_FINE_MAX; i > h->fine_lo;
	     i--)
		if (h->fine[i - 1] != 0)
			return histogram_fine_highest(i - 1);
	return 0;
}

double
histogram_mean(const struct histogram *h)
{
	return h->count == 0 ? 0.0 : (double)h->sum_us / (double)h->count;
}

bool
histogram_has_bound(const struct histogram *h, uint64_t value_us)
{
	size_t i = bound_interval(h, value_us);

	return i < h->nbounds && h->bounds[i] == value_us;
}

uint64_t
histogram_count_at_most(const struct histogram *h, uint64_t value_us)
{
	uint64_t n = 0;
	size_t i, last;

	i = bound_interval(h, value_us);
	if (i < h->nbounds && h->bounds[i] == value_us) {
		size_t j;
		for (j = 0; j <= i; j++)
			n += h->bound_counts[j];
		return n;
	}
	if (value_us >= HISTOGRAM_MAX_US) /* the clamped ones are counted as slower */
		return h->count - h->saturated;
	/* Whole fine buckets at or below value_us; a straddling bucket is left out. */
	last = histogram_fine_index(value_us);
	if (histogram_fine_highest(last) != value_us) {
		if (last == 0)
			return 0;
		last--;
	}
	for (i = h->fine_lo; i <= last && i < h->fine_hi; i++)
		n += h->fine[i];
	return n;
}

uint64_t
histogram_count_above(const struct histogram *h, uint64_t value_us)
{
	return h->count - histogram_count_at_most(h, value_us);
}

double
histogram_fraction_above(const struct histogram *h, uint64_t value_us)
{
	if (h->count == 0)
		return 0.0;
	return (double)histogram_count_above(h, value_us) / (double)h->count;
}

static int
compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
histogram_export_bounds(const uint64_t *thresholds, size_t nthresholds, uint64_t *out,
    size_t outmax, size_t *nout, char *err, size_t errlen)
{
	uint64_t all[sizeof(export_ladder) / sizeof(export_ladder[0]) + HISTOGRAM_BOUNDS_MAX];
	size_t nladder = sizeof(export_ladder) / sizeof(export_ladder[0]);
	size_t n = 0, i, limit = outmax < HISTOGRAM_BOUNDS_MAX ? outmax : HISTOGRAM_BOUNDS_MAX;

	if (nthresholds > HISTOGRAM_BOUNDS_MAX) {
		snprintf(err, errlen, "%zu thresholds (at most %d)", nthresholds,
		    HISTOGRAM_BOUNDS_MAX);
		return -1;
	}
	memcpy(all, export_ladder, sizeof(export_ladder));
	for (i = 0; i < nthresholds; i++) {
		if (thresholds[i] == 0) {
			snprintf(err, errlen, "a latency threshold of 0 us");
			return -1;
		}
		all[nladder + i] = thresholds[i];
	}
	qsort(all, nladder + nthresholds, sizeof(all[0]), compare_u64);
	for (i = 0; i < nladder + nthresholds; i++) {
		if (n > 0 && out[n - 1] == all[i])
			continue;
		if (n == limit) {
			snprintf(err, errlen, "more than %zu histogram bounds with the thresholds",
			    limit);
			return -1;
		}
		out[n++] = all[i];
	}
	*nout = n;
	return 0;
}

/* --- the sliding window ---------------------------------------------------------- */

/* floor(t / slot_ms), also for negative times. */
static int64_t
slot_number(int64_t t, int64_t slot_ms)
{
	int64_t q = t / slot_ms;

	if (t % slot_ms < 0)
		q--;
	return q;
}

static size_t
slot_position(const struct histogram_window *w, int64_t number)
{
	int64_t n = (int64_t)w->nslots, r = number % n;

	return (size_t)(r < 0 ? r + n : r);
}

int
histogram_window_init(struct histogram_window *w, int64_t slot_ms, size_t nslots,
    const uint64_t *bounds, size_t nbounds, char *err, size_t errlen)
{
	size_t i;

	memset(w, 0, sizeof(*w));
	if (slot_ms <= 0) {
		snprintf(err, errlen, "histogram window slot of %lld ms", (long long)slot_ms);
		return -1;
	}
	if (nslots == 0 || nslots > HISTOGRAM_WINDOW_SLOTS_MAX) {
		snprintf(err, errlen, "histogram window of %zu slots (1 to %d)", nslots,
		    HISTOGRAM_WINDOW_SLOTS_MAX);
		return -1;
	}
	if (check_bounds(bounds, nbounds, err, errlen) < 0)
		return -1;
	w->slots = calloc(nslots, sizeof(*w->slots));
	w->slot_numbers = calloc(nslots, sizeof(*w->slot_numbers));
	if (w->slots == NULL || w->slot_numbers == NULL) {
		snprintf(err, errlen, "out of memory for a histogram window of %zu slots", nslots);
		goto out_free;
	}
	for (i = 0; i < nslots; i++) {
		/* Bounds were checked above: this cannot fail. */
		histogram_init(&w->slots[i], bounds, nbounds, err, errlen);
		w->slot_numbers[i] = INT64_MIN;
	}
	w->nslots = nslots;
	w->slot_ms = slot_ms;
	return 0;
out_free:
	free(w->slots);
	free(w->slot_numbers);
	memset(w, 0, sizeof(*w));
	return -1;
}

void
histogram_window_release(struct histogram_window *w)
{
	free(w->slots);
	free(w->slot_numbers);
	memset(w, 0, sizeof(*w));
}

void
histogram_window_reset(struct histogram_window *w)
{
	size_t i;

	for (i = 0; i < w->nslots; i++) {
		histogram_reset(&w->slots[i]);
		w->slot_numbers[i] = INT64_MIN;
	}
	w->started = false;
	w->current = 0;
}

/*
 * Only `current` moves: a slot whose number is not among the last nslots is stale
 * and ignored by every query, and emptied when a record reuses its position. So a
 * jump of any length costs O(1) here.
 */
void
histogram_window_advance(struct histogram_window *w, int64_t now_ms)
{
	int64_t n = slot_number(now_ms, w->slot_ms);

	if (!w->started || n > w->current) {
		w->current = n;
		w->started = true;
	}
}

void
histogram_window_record(struct histogram_window *w, int64_t now_ms, uint64_t value_us)
{
	histogram_window_record_n(w, now_ms, value_us, 1);
}

void
histogram_window_record_n(struct histogram_window *w, int64_t now_ms, uint64_t value_us,
    uint64_t count)
{
	size_t pos;

	histogram_window_advance(w, now_ms);
	pos = slot_position(w, w->current);
	if (w->slot_numbers[pos] != w->current) {
		histogram_reset(&w->slots[pos]);
		w->slot_numbers[pos] = w->current;
	}
	histogram_record_n(&w->slots[pos], value_us, count);
}

/* Slots in the last span_ms, at least 1 and at most the ring. */
static int64_t
span_slots(const struct histogram_window *w, int64_t span_ms)
{
	int64_t k;

	if (span_ms <= w->slot_ms)
		return 1;
	k = span_ms / w->slot_ms + (span_ms % w->slot_ms != 0);
	return k > (int64_t)w->nslots ? (int64_t)w->nslots : k;
}

static bool
slot_live(const struct histogram_window *w, size_t pos, int64_t k)
{
	int64_t number = w->slot_numbers[pos];

	return number != INT64_MIN && number <= w->current && number > w->current - k;
}

int
histogram_window_sum(struct histogram_window *w, int64_t now_ms, int64_t span_ms,
    struct histogram *out, char *err, size_t errlen)
{
	int64_t k;
	size_t i;

	if (w->nslots == 0 || !same_bounds(out, &w->slots[0])) {
		snprintf(err, errlen, "histogram window sum into a histogram of other bounds");
		return -1;
	}
	histogram_reset(out);
	histogram_window_advance(w, now_ms);
	k = span_slots(w, span_ms);
	for (i = 0; i < w->nslots; i++)
		if (slot_live(w, i, k))
			histogram_merge(out, &w->slots[i], err, errlen);
	return 0;
}

void
histogram_window_count(struct histogram_window *w, int64_t now_ms, int64_t span_ms,
    uint64_t threshold_us, uint64_t *total, uint64_t *above)
{
	int64_t k;
	size_t i;

	*total = 0;
	*above = 0;
	if (w->nslots == 0)
		return;
	histogram_window_advance(w, now_ms);
	k = span_slots(w, span_ms);
	for (i = 0; i < w->nslots; i++) {
		if (!slot_live(w, i, k) || w->slots[i].count == 0)
			continue;
		*total += w->slots[i].count;
		*above += histogram_count_above(&w->slots[i], threshold_us);
	}
}
