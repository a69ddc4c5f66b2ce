/*
 * svgchart — see svgchart.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "svgchart.h"
#include "utctime.h"

/* The plot area inside the document. */
#define LEFT 64
#define RIGHT 170 /* room for the legend */
#define TOP 36
#define BOTTOM 48
#define PLOT_W (SVGCHART_WIDTH - LEFT - RIGHT)
#define PLOT_H (SVGCHART_HEIGHT - TOP - BOTTOM)
#define X_TICKS_MAX 7
#define Y_TICKS 5
#define TICK_TEXT_MAX 32

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
	"#9467bd", "#8c564b", "#e377c2", "#17becf" };
#define PALETTE_N (sizeof(palette) / sizeof(palette[0]))

/* Text as XML takes it: cleaned of control characters and invalid UTF-8, escaped. */
static void
put_text(struct textbuf *out, const char *s)
{
	char clean[SVGCHART_LABEL_MAX + 1];

	model_clean_text(s != NULL ? s : "", clean, sizeof(clean));
	textbuf_escape(out, clean);
}

static double
x_of(const struct svgchart *c, int64_t at)
{
	return LEFT + (double)(at - c->from) * PLOT_W / (double)(c->until - c->from);
}

static double
y_of(double value, double top)
{
	return TOP + PLOT_H - value * PLOT_H / top;
}

/* The y axis' top: the largest value rounded up to 1, 2 or 5 x a power of ten. */
static double
nice_top(double max, bool percent)
{
	double p, m;

	if (max <= 0)
		return percent ? 0.1 : 1;
	p = pow(10, floor(log10(max)));
	m = max / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* The x axis' step: the shortest of these giving at most X_TICKS_MAX ticks. */
static int64_t
x_step(int64_t span)
{
	static const int64_t steps[] = { 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000,
		300000, 600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000, 43200000,
		86400000 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / steps[i] < X_TICKS_MAX)
			return steps[i];
	return span / (X_TICKS_MAX - 1) + 1;
}

/* A tick's label, cut from the one UTC formatter's "2024-01-02T03:04:05.678Z". */
static void
time_label(int64_t ms, int64_t step, char *buf, size_t len)
{
	char t[UTC_TEXT_MAX];

	utc_format_ms(ms, t, sizeof(t));
	if (strlen(t) < 19) /* "?" */
		snprintf(buf, len, "%s", t);
	else if (step >= 86400000)
		snprintf(buf, len, "%.5s", t + 5);  /* 01-02 */
	else if (step >= 60000)
		snprintf(buf, len, "%.5s", t + 11); /* 03:04 */
	else
		snprintf(buf, len, "%.8s", t + 11); /* 03:04:05 */
}

static void
value_label(double v, bool percent, char *buf, size_t len)
{
	if (percent)
		snprintf(buf, len, "%g%%", v * 100);
	else
		snprintf(buf, len, "%g", v);
}

static void
axes(const struct svgchart *c, double top, struct textbuf *out)
{
	char text[TICK_TEXT_MAX];
	int64_t step = x_step(c->until - c->from), t;
	int i;

	textbuf_printf(out, "<g stroke=\"#999\" stroke-width=\"1\">"
	    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
	    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/></g>\n",
	    LEFT, TOP, LEFT, TOP + PLOT_H, LEFT, TOP + PLOT_H, LEFT + PLOT_W, TOP + PLOT_H);
	textbuf_puts(out, "<g class=\"x-axis\" font-size=\"11\" text-anchor=\"middle\">\n");
	for (t = (c->from + step - 1) / step * step; t <= c->until; t += step) {
		double x = x_of(c, t);
		time_label(t, step, text, sizeof(text));
		textbuf_printf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		    "stroke=\"#999\"/><text x=\"%.1f\" y=\"%d\">", x, TOP + PLOT_H, x,
		    TOP + PLOT_H + 4, x, TOP + PLOT_H + 17);
		put_text(out, text);
		textbuf_puts(out, "</text>\n");
	}
	textbuf_printf(out, "<text x=\"%d\" y=\"%d\">time (UTC)</text></g>\n", LEFT + PLOT_W / 2,
	    TOP + PLOT_H + 36);
	textbuf_puts(out, "<g class=\"y-axis\" font-size=\"11\" text-anchor=\"end\">\n");
	for (i = 0; i <= Y_TICKS; i++) {
		double v = top * i / Y_TICKS, y = y_of(v, top);
		value_label(v, c->percent, text, sizeof(text));
		textbuf_printf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		    "stroke=\"#eee\"/><text x=\"%d\" y=\"%.1f\">", LEFT, y, LEFT + PLOT_W, y,
		    LEFT - 6, y + 4);
		put_text(out, text);
		textbuf_puts(out, "</text>\n");
	}
	textbuf_printf(out, "<text transform=\"translate(14 %d) rotate(-90)\" "
	    "text-anchor=\"middle\">", TOP + PLOT_H / 2);
	put_text(out, c->unit);
	textbuf_puts(out, "</text></g>\n");
}

/* A vertical line at an instant; the opening's label to its left, the resolution's to
 * its right, so that the two stay readable when close together. */
static void
mark(const struct svgchart *c, int64_t at, const char *label, const char *colour,
    bool label_left, struct textbuf *out)
{
	double x;

	if (at <= 0 || at < c->from || at > c->until)
		return;
	x = x_of(c, at);
	textbuf_printf(out, "<g class=\"mark\"><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
	    "stroke=\"%s\" stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
	    "fill=\"%s\" text-anchor=\"%s\">", x, TOP, x, TOP + PLOT_H, colour,
	    label_left ? x - 3 : x + 3, TOP - 4, colour, label_left ? "end" : "start");
	put_text(out, label);
	textbuf_puts(out, "</text></g>\n");
}

/* One series: a polyline per run of known points. */
static void
series(const struct svgchart *c, const struct svgchart_series *s, size_t index, double top,
    struct textbuf *out)
{
	const char *colour = palette[index % PALETTE_N];
	bool open = false;
	size_t i;

	textbuf_puts(out, "<g class=\"series\" data-series=\"");
	put_text(out, s->name);
	textbuf_printf(out, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"><title>", colour);
	put_text(out, s->name);
	textbuf_puts(out, "</title>\n");
	for (i = 0; i < s->n; i++) {
		const struct svgchart_point *p = &s->v[i];
		if (p->at < c->from || p->at > c->until)
			continue;
		if (!(p->value >= 0)) { /* unknown (NaN too): the line breaks */
			if (open)
				textbuf_puts(out, "\"/>\n");
			open = false;
			continue;
		}
		textbuf_printf(out, "%s%.1f,%.1f", open ? " " : "<polyline points=\"",
		    x_of(c, p->at), y_of(p->value > top ? top : p->value, top));
		open = true;
	}
	if (open)
		textbuf_puts(out, "\"/>\n");
	textbuf_puts(out, "</g>\n");
	textbuf_printf(out, "<g class=\"legend\" font-size=\"11\"><line x1=\"%d\" y1=\"%zu\" "
	    "x2=\"%d\" y2=\"%zu\" stroke=\"%s\" stroke-width=\"3\"/><text x=\"%d\" y=\"%zu\">",
	    LEFT + PLOT_W + 12, TOP + 6 + index * 16, LEFT + PLOT_W + 28, TOP + 6 + index * 16,
	    colour, LEFT + PLOT_W + 32, TOP + 10 + index * 16);
	put_text(out, s->name);
	textbuf_puts(out, "</text></g>\n");
}

int
svgchart_render(const struct svgchart *c, struct textbuf *out)
{
	size_t i, j, n = c->nseries < SVGCHART_SERIES_MAX ? c->nseries : SVGCHART_SERIES_MAX;
	double max = 0, top;
	bool any = false;

	if (c->until <= c->from)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < c->series[i].n; j++) {
			const struct svgchart_point *p = &c->series[i].v[j];
			if (p->at < c->from || p->at > c->until || !(p->value >= 0))
				continue;
			any = true;
			if (p->value > max)
				max = p->value;
		}
	}
	top = nice_top(max, c->percent);
	if (c->percent && top > 1)
		top = 1;
	textbuf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
	    SVGCHART_WIDTH, SVGCHART_HEIGHT, SVGCHART_WIDTH, SVGCHART_HEIGHT);
	textbuf_puts(out, "<title>");
	put_text(out, c->title);
	textbuf_printf(out, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
	    "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", SVGCHART_WIDTH,
	    SVGCHART_HEIGHT, LEFT);
	put_text(out, c->title);
	textbuf_puts(out, "</text>\n");
	axes(c, top, out);
	if (!any)
		textbuf_printf(out, "<text class=\"empty\" x=\"%d\" y=\"%d\" font-size=\"13\" "
		    "text-anchor=\"middle\" fill=\"#666\">no data recorded</text>\n",
		    LEFT + PLOT_W / 2, TOP + PLOT_H / 2);
	for (i = 0; i < n; i++)
		series(c, &c->series[i], i, top, out);
	if (c->nseries > n)
		textbuf_printf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">(%zu more not "
		    "shown)</text>\n", LEFT + PLOT_W + 12, TOP + PLOT_H, c->nseries - n);
	mark(c, c->opened_at, "opened", "#b00", true, out);
	mark(c, c->resolved_at, "resolved", "#070", false, out);
	textbuf_puts(out, "</svg>\n");
	return textbuf_failed(out) ? -1 : 0;
}
