#include "rate.h"

/* Moves the window to second sec, emptying the buckets of the seconds it skips. */
static void
advance(struct rate_window *r, int64_t sec)
{
	int64_t s;

	if (sec <= r->last)
		return;
	if (sec - r->last >= RATE_WINDOW_SECONDS) {
		for (s = 0; s < RATE_WINDOW_SECONDS; s++)
			r->counts[s] = 0;
	} else {
		for (s = r->last + 1; s <= sec; s++)
			r->counts[s % RATE_WINDOW_SECONDS] = 0;
	}
	r->last = sec;
}

void
rate_window_add(struct rate_window *r, int64_t now, uint32_t n)
{
	int64_t sec = now / 1000;
	uint32_t *c;

	advance(r, sec);
	c = &r->counts[r->last % RATE_WINDOW_SECONDS];
	*c = *c > UINT32_MAX - n ? UINT32_MAX : *c + n;
}

uint64_t
rate_window_sum(const struct rate_window *r, int64_t now)
{
	int64_t sec = now / 1000, s;
	uint64_t sum = 0;

	/* Buckets hold seconds (last - N, last]; of those, the ones still in the
	 * window at sec count. */
	for (s = r->last; s > r->last - RATE_WINDOW_SECONDS; s--) {
		if (s > sec - RATE_WINDOW_SECONDS && s >= 0)
			sum += r->counts[s % RATE_WINDOW_SECONDS];
	}
	return sum;
}

uint64_t
rate_window_per_sec(const struct rate_window *r, int64_t now)
{
	return rate_window_sum(r, now) / RATE_WINDOW_SECONDS;
}

bool
token_bucket_take(struct token_bucket *b, uint32_t rate, uint32_t burst, int64_t now)
{
	int64_t full = (int64_t)(burst > 0 ? burst : 1) * 1000;

	if (rate == 0)
		return true;
	if (b->at == 0 || now - b->at >= full / rate + 1) {
		b->milli = full; /* long enough to have refilled (and no overflow below) */
	} else if (now > b->at) {
		b->milli += (now - b->at) * (int64_t)rate;
		if (b->milli > full)
			b->milli = full;
	}
	if (now > b->at || b->at == 0)
		b->at = now;
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}
