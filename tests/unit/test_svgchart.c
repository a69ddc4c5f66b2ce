/*
 * Unit tests of cli/svgchart: the documents parse as XML (expat), labels are escaped
 * and cleaned, unknown samples break the line, each known point is one pair, and an
 * empty chart still draws its axes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <expat.h>

#include "cli/svgchart.h"

#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */
#define TEXT_MAX 4096

/* What the parser saw. */
struct seen {
	int polylines;
	int points;       /* pairs in every polyline's points */
	int series;
	int depth, max_depth;
	bool svg_root;
	char text[TEXT_MAX]; /* every text node, concatenated */
	size_t ntext;
	char series_name[TEXT_MAX];
};

static void
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct seen *s = arg;
	size_t i;

	if (s->depth++ == 0)
		s->svg_root = strcmp(name, "svg") == 0;
	for (i = 0; strcmp(name, "polyline") == 0 && attrs[i] != NULL; i += 2) {
		if (strcmp(attrs[i], "points") == 0) {
			const char *p = attrs[i + 1];
			s->polylines++;
			s->points++;
			for (; *p != '\0'; p++)
				s->points += *p == ' ';
		}
	}
	for (i = 0; strcmp(name, "g") == 0 && attrs[i] != NULL; i += 2) {
		if (strcmp(attrs[i], "data-series") == 0) {
			s->series++;
			snprintf(s->series_name, sizeof(s->series_name), "%s", attrs[i + 1]);
		}
	}
}

static void
on_end(void *arg, const XML_Char *name)
{
	struct seen *s = arg;

	(void)name;
	s->depth--;
}

static void
on_text(void *arg, const XML_Char *t, int len)
{
	struct seen *s = arg;

	if (s->ntext + (size_t)len + 1 < sizeof(s->text)) {
		memcpy(s->text + s->ntext, t, (size_t)len);
		s->ntext += (size_t)len;
		s->text[s->ntext] = '\0';
	}
}

/* Parses b; fails the test unless it is well-formed XML with an <svg> root. */
static void
parse(const struct textbuf *b, struct seen *s)
{
	XML_Parser p = XML_ParserCreate("UTF-8");

	memset(s, 0, sizeof(*s));
	XML_SetUserData(p, s);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	if (XML_Parse(p, b->data, (int)b->len, 1) != XML_STATUS_OK)
		fail_msg("not well-formed at line %lu: %s\n%s",
		    (unsigned long)XML_GetCurrentLineNumber(p),
		    XML_ErrorString(XML_GetErrorCode(p)), b->data);
	XML_ParserFree(p);
	assert_true(s->svg_root);
}

static void
each_known_point_is_one_pair_and_unknown_ones_break_the_line(void **state)
{
	struct svgchart_point v[] = { { T0, 0.1 }, { T0 + 10000, 0.2 }, { T0 + 20000, -1 },
		{ T0 + 30000, 0.05 }, { T0 + 40000, 0.3 }, { T0 + 50000, 0.0 } };
	struct svgchart_series s = { "n1", v, 6 };
	struct svgchart c = { .title = "Latency", .unit = "slow", .percent = true, .from = T0,
		.until = T0 + 60000, .opened_at = T0 + 15000, .resolved_at = T0 + 45000,
		.series = &s, .nseries = 1 };
	struct textbuf b = { 0 };
	struct seen seen;
	(void)state;

	assert_int_equal(svgchart_render(&c, &b), 0);
	parse(&b, &seen);
	assert_int_equal(seen.series, 1);
	assert_int_equal(seen.polylines, 2);
	assert_int_equal(seen.points, 5);
	assert_non_null(strstr(seen.text, "opened"));
	assert_non_null(strstr(seen.text, "resolved"));
	assert_non_null(strstr(seen.text, "time (UTC)"));
	assert_non_null(strstr(seen.text, "22:13:30")); /* a tick of the UTC axis */
	assert_null(strstr(b.data, "http://www.w3.org/1999/xlink"));
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "href"));
	textbuf_release(&b);
}

static void
labels_are_escaped_and_cleaned(void **state)
{
	static const char nasty[] = "<n1 & \"x\" 'y'>\x01</g>";
	struct svgchart_point v[] = { { T0, 3 } };
	struct svgchart_series s = { nasty, v, 1 };
	struct svgchart c = { .title = "a</title><script>alert(1)</script>", .unit = "&conns",
		.from = T0 - 1000, .until = T0 + 1000, .series = &s, .nseries = 1 };
	struct textbuf b = { 0 };
	struct seen seen;
	(void)state;

	assert_int_equal(svgchart_render(&c, &b), 0);
	parse(&b, &seen);
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "\x01"));
	assert_string_equal(seen.series_name, "<n1 & \"x\" 'y'> </g>");
	assert_non_null(strstr(seen.text, "a</title><script>alert(1)</script>"));
	assert_non_null(strstr(seen.text, "&conns"));
	textbuf_release(&b);
}

static void
an_empty_chart_draws_its_axes_and_says_so(void **state)
{
	struct svgchart c = { .title = "Connections", .unit = "connections", .from = T0,
		.until = T0 + 3600000 };
	struct svgchart_point v[] = { { T0 - 5000, 7 }, { T0 + 10, -1 } }; /* outside, unknown */
	struct svgchart_series s = { "n1", v, 2 };
	struct textbuf b = { 0 };
	struct seen seen;
	(void)state;

	assert_int_equal(svgchart_render(&c, &b), 0);
	parse(&b, &seen);
	assert_int_equal(seen.polylines, 0);
	assert_non_null(strstr(seen.text, "no data recorded"));
	textbuf_reset(&b);
	c.series = &s;
	c.nseries = 1;
	assert_int_equal(svgchart_render(&c, &b), 0);
	parse(&b, &seen);
	assert_int_equal(seen.polylines, 0);
	assert_int_equal(seen.series, 1);
	assert_non_null(strstr(seen.text, "no data recorded"));
	textbuf_release(&b);
}

static void
an_empty_time_range_is_refused(void **state)
{
	struct svgchart c = { .title = "x", .unit = "y", .from = T0, .until = T0 };
	struct textbuf b = { 0 };
	(void)state;

	assert_int_equal(svgchart_render(&c, &b), -1);
	textbuf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_known_point_is_one_pair_and_unknown_ones_break_the_line),
		cmocka_unit_test(labels_are_escaped_and_cleaned),
		cmocka_unit_test(an_empty_chart_draws_its_axes_and_says_so),
		cmocka_unit_test(an_empty_time_range_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
