/*
 * promtext — see promtext.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

#define INITIAL_CAP 16384
#define NUMBER_MAX 40 /* "-1.2345678901234567e+308" */

static int
fail(struct promtext *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct promtext *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->failed) {
		va_start(ap, fmt);
		vsnprintf(w->error, sizeof(w->error), fmt, ap);
		va_end(ap);
		w->failed = true;
	}
	return -1;
}

void
promtext_init(struct promtext *w)
{
	memset(w, 0, sizeof(*w));
}

void
promtext_release(struct promtext *w)
{
	free(w->buf);
	free(w->begun);
	memset(w, 0, sizeof(*w));
}

static int
append(struct promtext *w, const char *s, size_t n)
{
	size_t cap;
	char *nb;

	if (w->failed)
		return -1;
	if (w->len + n + 1 > PROMTEXT_MAX)
		return fail(w, "the page would be larger than %d bytes", PROMTEXT_MAX);
	if (w->len + n + 1 > w->cap) {
		cap = w->cap == 0 ? INITIAL_CAP : w->cap;
		while (cap < w->len + n + 1)
			cap *= 2;
		if (cap > PROMTEXT_MAX)
			cap = PROMTEXT_MAX;
		if ((nb = realloc(w->buf, cap)) == NULL)
			return fail(w, "out of memory");
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
	return 0;
}

static int
append_str(struct promtext *w, const char *s)
{
	return append(w, s, strlen(s));
}

static bool
name_valid(const char *s, bool label)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > PROMTEXT_NAME_MAX)
		return false;
	if (label && n >= 2 && s[0] == '_' && s[1] == '_')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		    (!label && c == ':');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Escapes into the page: \ always, " in label values, newline as \n. */
static int
append_escaped(struct promtext *w, const char *s, bool quote)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc = NULL;
		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (quote && *s == '"')
			esc = "\\\"";
		if (esc == NULL)
			continue;
		if (append(w, run, (size_t)(s - run)) < 0 || append_str(w, esc) < 0)
			return -1;
		run = s + 1;
	}
	return append(w, run, (size_t)(s - run));
}

static const char *
type_name(enum promtext_type type)
{
	switch (type) {
	case PROMTEXT_COUNTER: return "counter";
	case PROMTEXT_GAUGE: return "gauge";
	case PROMTEXT_HISTOGRAM: return "histogram";
	}
	return "untyped";
}

int
promtext_family(struct promtext *w, const char *name, enum promtext_type type,
    const char *help)
{
	size_t i;

	if (w->failed)
		return -1;
	if (!name_valid(name, false))
		return fail(w, "invalid metric name '%.*s'", PROMTEXT_NAME_MAX, name);
	if (type == PROMTEXT_COUNTER && !ends_with(name, "_total"))
		return fail(w, "counter %s does not end in _total", name);
	if (type == PROMTEXT_HISTOGRAM &&
	    (ends_with(name, "_bucket") || ends_with(name, "_sum") || ends_with(name, "_count")))
		return fail(w, "histogram %s ends in a reserved suffix", name);
	for (i = 0; i < w->nbegun; i++) {
		if (strcmp(w->begun[i], name) == 0)
			return fail(w, "family %s begun twice", name);
	}
	if (w->nbegun == PROMTEXT_FAMILIES_MAX)
		return fail(w, "more than %d families", PROMTEXT_FAMILIES_MAX);
	if (w->begun == NULL &&
	    (w->begun = calloc(PROMTEXT_FAMILIES_MAX, sizeof(*w->begun))) == NULL)
		return fail(w, "out of memory");
	snprintf(w->begun[w->nbegun++], sizeof(w->begun[0]), "%s", name);
	snprintf(w->family, sizeof(w->family), "%s", name);
	w->type = type;
	if (append_str(w, "# HELP ") < 0 || append_str(w, name) < 0 || append_str(w, " ") < 0 ||
	    append_escaped(w, help, false) < 0 || append_str(w, "\n# TYPE ") < 0 ||
	    append_str(w, name) < 0 || append_str(w, " ") < 0 ||
	    append_str(w, type_name(type)) < 0 || append_str(w, "\n") < 0)
		return -1;
	return 0;
}

/* name{labels[,extra]} with a leading space before the value left to the caller. */
static int
append_series(struct promtext *w, const char *suffix, const struct promtext_label *labels,
    size_t nlabels, const struct promtext_label *extra)
{
	size_t i, total = nlabels + (extra != NULL ? 1 : 0);

	if (total > PROMTEXT_LABELS_MAX)
		return fail(w, "%s: more than %d labels", w->family, PROMTEXT_LABELS_MAX);
	if (append_str(w, w->family) < 0 || append_str(w, suffix) < 0)
		return -1;
	if (total == 0)
		return 0;
	if (append_str(w, "{") < 0)
		return -1;
	for (i = 0; i < total; i++) {
		const struct promtext_label *l = i < nlabels ? &labels[i] : extra;
		size_t j;
		if (l->name == NULL || l->value == NULL || !name_valid(l->name, true))
			return fail(w, "%s: invalid label name", w->family);
		for (j = 0; j < i; j++) {
			const struct promtext_label *o = j < nlabels ? &labels[j] : extra;
			if (strcmp(o->name, l->name) == 0)
				return fail(w, "%s: label %s given twice", w->family, l->name);
		}
		if ((i > 0 && append_str(w, ",") < 0) || append_str(w, l->name) < 0 ||
		    append_str(w, "=\"") < 0 || append_escaped(w, l->value, true) < 0 ||
		    append_str(w, "\"") < 0)
			return -1;
	}
	return append_str(w, "}");
}

static void
format_double(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.15g", v);
}

static int
check_simple(struct promtext *w)
{
	if (w->failed)
		return -1;
	if (w->family[0] == '\0')
		return fail(w, "a sample before any family");
	if (w->type == PROMTEXT_HISTOGRAM)
		return fail(w, "%s is a histogram: use promtext_histogram_us", w->family);
	return 0;
}

static int
finish_line(struct promtext *w, const char *number)
{
	if (append_str(w, " ") < 0 || append_str(w, number) < 0 || append_str(w, "\n") < 0)
		return -1;
	return 0;
}

int
promtext_sample(struct promtext *w, const struct promtext_label *labels, size_t nlabels,
    double value)
{
	char num[NUMBER_MAX];

	if (check_simple(w) < 0)
		return -1;
	if (w->type == PROMTEXT_COUNTER && !(value >= 0))
		return fail(w, "%s: a counter of %g", w->family, value);
	format_double(value, num, sizeof(num));
	if (append_series(w, "", labels, nlabels, NULL) < 0)
		return -1;
	return finish_line(w, num);
}

int
promtext_sample_u64(struct promtext *w, const struct promtext_label *labels, size_t nlabels,
    uint64_t value)
{
	char num[NUMBER_MAX];

	if (check_simple(w) < 0)
		return -1;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	if (append_series(w, "", labels, nlabels, NULL) < 0)
		return -1;
	return finish_line(w, num);
}

void
promtext_format_us(uint64_t us, char *buf, size_t len)
{
	char frac[8];
	size_t n;

	snprintf(frac, sizeof(frac), "%06llu", (unsigned long long)(us % 1000000));
	n = strlen(frac);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	if (n == 0)
		snprintf(buf, len, "%llu", (unsigned long long)(us / 1000000));
	else
		snprintf(buf, len, "%llu.%s", (unsigned long long)(us / 1000000), frac);
}

int
promtext_histogram_us(struct promtext *w, const struct promtext_label *labels,
    size_t nlabels, const uint64_t *bounds_us, const uint64_t *cumulative, size_t nbounds,
    uint64_t count, double sum_seconds)
{
	struct promtext_label le = { "le", NULL };
	char num[NUMBER_MAX], bound[NUMBER_MAX];
	size_t i;

	if (w->failed)
		return -1;
	if (w->family[0] == '\0' || w->type != PROMTEXT_HISTOGRAM)
		return fail(w, "a histogram outside a histogram family");
	if (nbounds > PROMTEXT_BUCKETS_MAX)
		return fail(w, "%s: more than %d buckets", w->family, PROMTEXT_BUCKETS_MAX);
	for (i = 0; i < nbounds; i++) {
		if (i > 0 && !(bounds_us[i] > bounds_us[i - 1]))
			return fail(w, "%s: bucket bounds not increasing", w->family);
		if ((i > 0 && cumulative[i] < cumulative[i - 1]) || cumulative[i] > count)
			return fail(w, "%s: bucket counts not cumulative", w->family);
	}
	if (!(sum_seconds >= 0) || isinf(sum_seconds))
		return fail(w, "%s: a sum of %g", w->family, sum_seconds);
	for (i = 0; i <= nbounds; i++) {
		if (i < nbounds)
			promtext_format_us(bounds_us[i], bound, sizeof(bound));
		else
			snprintf(bound, sizeof(bound), "+Inf");
		le.value = bound;
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)(i < nbounds ? cumulative[i] : count));
		if (append_series(w, "_bucket", labels, nlabels, &le) < 0 || finish_line(w, num) < 0)
			return -1;
	}
	format_double(sum_seconds, num, sizeof(num));
	if (append_series(w, "_sum", labels, nlabels, NULL) < 0 || finish_line(w, num) < 0)
		return -1;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)count);
	if (append_series(w, "_count", labels, nlabels, NULL) < 0 || finish_line(w, num) < 0)
		return -1;
	return 0;
}
