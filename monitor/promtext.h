/*
 * promtext — a writer of the Prometheus text exposition format (version 0.0.4) that
 * cannot produce an invalid page:
 *   - a family is begun once, with its # HELP and # TYPE, and its samples follow
 *     before the next family begins (beginning a name a second time fails, so two
 *     families can never interleave);
 *   - metric and label names are checked ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without
 *     ':' and not starting with "__"); a counter's name ends in _total;
 *   - label values are escaped (\\, \", \n), HELP text too (\\, \n);
 *   - a histogram is written whole by one call: cumulative _bucket lines in
 *     increasing `le` order ending with le="+Inf" equal to _count, then _sum and
 *     _count (non-cumulative or unordered input is refused);
 *   - numbers print as Prometheus reads them (integers exactly, NaN, +Inf, -Inf).
 * The page grows in a buffer capped at PROMTEXT_MAX bytes. The first failure (a
 * broken rule, the cap, no memory) is kept in `error`, and every later call fails
 * too, so the caller checks once at the end. Nothing here logs.
 */
#ifndef MCOPS_PROMTEXT_H
#define MCOPS_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROMTEXT_MAX (16 * 1024 * 1024) /* bytes of one page */
#define PROMTEXT_FAMILIES_MAX 256
#define PROMTEXT_NAME_MAX 128
#define PROMTEXT_LABELS_MAX 8  /* per sample, `le` included */
#define PROMTEXT_BUCKETS_MAX 64
#define PROMTEXT_ERROR_MAX 200

enum promtext_type {
	PROMTEXT_COUNTER,
	PROMTEXT_GAUGE,
	PROMTEXT_HISTOGRAM,
};

struct promtext_label {
	const char *name;
	const char *value;
};

/* Caller-owned: promtext_init, write, take buf/len, promtext_release. */
struct promtext {
	char *buf; /* owned, NUL-terminated */
	size_t len, cap;
	bool failed;
	char error[PROMTEXT_ERROR_MAX];
	char family[PROMTEXT_NAME_MAX + 1]; /* the family being written, "" before the first */
	enum promtext_type type;
	char (*begun)[PROMTEXT_NAME_MAX + 1]; /* owned: every family begun */
	size_t nbegun;
};

void promtext_init(struct promtext *w);
void promtext_release(struct promtext *w);

/* Begins a family: "# HELP name help" and "# TYPE name type". 0 or -1. */
int promtext_family(struct promtext *w, const char *name, enum promtext_type type,
    const char *help);

/* A sample of the current counter or gauge family. labels may be NULL if nlabels is 0. */
int promtext_sample(struct promtext *w, const struct promtext_label *labels, size_t nlabels,
    double value);
/* The same with an integer value, printed exactly. */
int promtext_sample_u64(struct promtext *w, const struct promtext_label *labels,
    size_t nlabels, uint64_t value);

/*
 * One histogram of the current histogram family: bounds_us[0..nbounds) strictly
 * increasing (printed as `le` in seconds, exactly: 5000 -> "0.005"), cumulative[i]
 * the number of values <= bounds_us[i] (non-decreasing, at most count), then +Inf
 * = count, _sum (seconds) and _count.
 */
int promtext_histogram_us(struct promtext *w, const struct promtext_label *labels,
    size_t nlabels, const uint64_t *bounds_us, const uint64_t *cumulative, size_t nbounds,
    uint64_t count, double sum_seconds);

/* Seconds as Prometheus `le` text from microseconds, exact: 5000 -> "0.005". */
void promtext_format_us(uint64_t us, char *buf, size_t len);

#endif
