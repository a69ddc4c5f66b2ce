/*
 * svgchart — a small line chart as a standalone SVG document: axes with UTC time
 * labels, one polyline per series (a node, a cluster) in a fixed palette with a legend,
 * and two instants marked by vertical lines (an incident's opening and resolution).
 * No script, no external resource (fonts, styles and colours are inline), every text
 * escaped and cleaned of what XML forbids; so a chart can be opened from a file, put
 * beside Markdown, or published.
 *
 * Pure: renders into a caller's buffer (lib/statussite's textbuf) from the caller's
 * data; the same input gives the same bytes. A value below 0 is "unknown": the series'
 * line breaks there (a new polyline), so a missing sample is never drawn as a zero.
 * Each known point is exactly one "x,y" pair of one polyline's points attribute.
 */
#ifndef MCOPS_CLI_SVGCHART_H
#define MCOPS_CLI_SVGCHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statussite/statussite.h"

#define SVGCHART_LABEL_MAX 200  /* titles, axis labels and series names, bytes */
#define SVGCHART_SERIES_MAX 64  /* series drawn; more are left out (and say so) */
#define SVGCHART_WIDTH 760
#define SVGCHART_HEIGHT 320

struct svgchart_point {
	int64_t at;     /* UTC ms */
	double value;   /* < 0: unknown */
};

struct svgchart_series {
	const char *name;                  /* borrowed */
	const struct svgchart_point *v;    /* borrowed, by time */
	size_t n;
};

struct svgchart {
	const char *title;                 /* borrowed */
	const char *unit;                  /* the y axis' label */
	bool percent;                      /* values are fractions, shown as % */
	int64_t from, until;               /* the x axis (UTC ms); until > from */
	int64_t opened_at, resolved_at;    /* marked when inside [from, until]; 0: none */
	const struct svgchart_series *series;
	size_t nseries;
};

/*
 * Appends the chart as an SVG document to out. Points outside [from, until] are left
 * out. With no known point at all the axes are drawn with "no data recorded". Returns
 * 0, or -1 if out failed (no memory, TEXTBUF_MAX) or the chart is invalid (until <=
 * from).
 */
int svgchart_render(const struct svgchart *c, struct textbuf *out);

#endif
