/*
 * Unit tests of lib/mcreply: the framing of every reply kind (table-driven, malformed
 * beside good), its caps, and the STAT line iterator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcreply.h"

#define M MCREPLY_MALFORMED
#define MORE MCREPLY_MORE
#define OK MCREPLY_COMPLETE

static void
frames_complete_partial_and_malformed_replies(void **state)
{
	static const struct {
		const char *text;
		enum mcreply_kind kind;
		enum mcreply_status rc;
		size_t len;      /* when complete */
		size_t last_off; /* when complete */
		bool error;
	} cases[] = {
		/* one line */
		{ "STORED\r\n", MCREPLY_LINE, OK, 8, 0, false },
		{ "STORED\r\nEXTRA", MCREPLY_LINE, OK, 8, 0, false },
		{ "STOR", MCREPLY_LINE, MORE, 0, 0, false },
		{ "", MCREPLY_LINE, MORE, 0, 0, false },
		{ "ERROR\r\n", MCREPLY_LINE, OK, 7, 0, true },
		{ "ERRORS\r\n", MCREPLY_LINE, OK, 8, 0, false },
		{ "SERVER_ERROR oom\n", MCREPLY_LINE, OK, 17, 0, true },
		/* stats */
		{ "ERROR Too many open connections\r\n", MCREPLY_STATS, OK, 33, 0, true },
		{ "STAT a 1\r\nSTAT b two words\r\nEND\r\n", MCREPLY_STATS, OK, 33, 28, false },
		{ "STAT a 1\r\nSTAT b 2\r\nEN", MCREPLY_STATS, MORE, 0, 0, false },
		{ "STAT a 1\r\nEND\r\nSTAT x 1\r\nEND\r\n", MCREPLY_STATS, OK, 15, 10, false },
		{ "END\r\n", MCREPLY_STATS, OK, 5, 0, false },
		{ "STAT a 1\r\nSERVER_ERROR busy\r\n", MCREPLY_STATS, OK, 29, 10, true },
		{ "STAT a 1\r\nVALUE x\r\n", MCREPLY_STATS, M, 0, 0, false },
		{ "STATa 1\r\n", MCREPLY_STATS, M, 0, 0, false },
		/* meta: one line, or VA and its data block */
		{ "HD\r\n", MCREPLY_META, OK, 4, 0, false },
		{ "EN kfoo O12\r\nHD\r\n", MCREPLY_META, OK, 13, 0, false },
		{ "VA 2 f0\r\nhi\r\nHD\r\n", MCREPLY_META, OK, 13, 0, false },
		{ "VA 2\r\nEN\r\nHD\r\n", MCREPLY_META, OK, 10, 0, false },
		{ "VA 5\r\nhi", MCREPLY_META, MORE, 0, 0, false },
		{ "VA 2\r\nhiXX", MCREPLY_META, M, 0, 0, false },
		{ "VA x\r\nhi\r\n", MCREPLY_META, M, 0, 0, false },
		{ "VA\r\n", MCREPLY_META, OK, 4, 0, false },
		{ "SERVER_ERROR busy\r\n", MCREPLY_META, OK, 19, 0, true },
		/* get */
		{ "CLIENT_ERROR bad\r\n", MCREPLY_GET, OK, 18, 0, true },
		{ "END\r\n", MCREPLY_GET, OK, 5, 0, false },
		{ "VALUE k 0 2\r\nhi\r\nEND\r\n", MCREPLY_GET, OK, 22, 17, false },
		{ "VALUE k 0 5 99\r\nEND\r\n\r\nEND\r\n", MCREPLY_GET, OK, 28, 23, false },
		{ "VALUE k 0 2\r\nhi\r\nVALUE j 1 0\r\n\r\nEND\r\n", MCREPLY_GET, OK, 37, 32, false },
		{ "VALUE k 0 4\r\nhi", MCREPLY_GET, MORE, 0, 0, false },
		{ "VALUE k 0 2\r\nhiXXEND\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "VALUE k 0 -2\r\nhi\r\nEND\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "VALUE k x 2\r\nhi\r\nEND\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "VALUE k 4294967296 2\r\nhi\r\nEND\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "VALUE k 0\r\nEND\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "VALUE  0 2\r\nhi\r\nEND\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "VALUE k 0 99999999999\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "VALUE k 0 1048576\r\n", MCREPLY_GET, M, 0, 0, false },
		{ "HELLO\r\n", MCREPLY_GET, M, 0, 0, false },
		/* any classic command */
		{ "VERSION 1.6.18\r\n", MCREPLY_ANY, OK, 16, 0, false },
		{ "18446744073709551615\r\n", MCREPLY_ANY, OK, 22, 0, false },
		{ "184467440737095516150\r\n", MCREPLY_ANY, MORE, 0, 0, false },
		{ "STAT a 1\r\nITEM k [1 b; 0 s]\r\nEND\r\n", MCREPLY_ANY, OK, 34, 29, false },
		{ "VALUE k 0 5\r\nEND\r\n\r\nEND\r\n", MCREPLY_ANY, OK, 25, 20, false },
		{ "VALUE k 0 5\r\nEN", MCREPLY_ANY, MORE, 0, 0, false },
		{ "VALUE k 0 2\r\nhiXXEND\r\n", MCREPLY_ANY, M, 0, 0, false },
		{ "RESET\r\n", MCREPLY_ANY, OK, 7, 0, false },
		{ "OK\r\n", MCREPLY_ANY, OK, 4, 0, false },
		{ "NOT_FOUND\r\n", MCREPLY_ANY, OK, 11, 0, false },
		{ "CLIENT_ERROR no such tenant\r\n", MCREPLY_ANY, OK, 29, 0, true },
		{ "OKAY\r\n", MCREPLY_ANY, MORE, 0, 0, false },
	};
	struct mcreply_frame f;
	enum mcreply_status rc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = mcreply_frame(cases[i].text, strlen(cases[i].text), cases[i].kind, &f);
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, expected %d", i, cases[i].text, rc,
			    cases[i].rc);
		if (rc == OK && (f.len != cases[i].len || f.last_off != cases[i].last_off ||
		    f.error != cases[i].error))
			fail_msg("case %zu (%s): len %zu last %zu error %d, expected %zu %zu %d", i,
			    cases[i].text, f.len, f.last_off, f.error, cases[i].len,
			    cases[i].last_off, cases[i].error);
		if (rc == M && f.why[0] == '\0')
			fail_msg("case %zu (%s): malformed without a reason", i, cases[i].text);
		if (rc != M && f.why[0] != '\0')
			fail_msg("case %zu (%s): a reason when not malformed", i, cases[i].text);
	}
}

static void
terminal_line_length_excludes_its_line_end(void **state)
{
	struct mcreply_frame f;

	(void)state;
	assert_int_equal(mcreply_frame("STAT a 1\r\nEND\r\n", 15, MCREPLY_STATS, &f), OK);
	assert_int_equal(f.last_len, 3);
	assert_int_equal(mcreply_frame("SERVER_ERROR oom\n", 17, MCREPLY_LINE, &f), OK);
	assert_int_equal(f.last_len, 16);
}

static void
frames_refuse_lines_and_replies_over_their_caps(void **state)
{
	size_t n = MCREPLY_LINE_MAX + 10, off = 0;
	char *buf = malloc(MCREPLY_MAX + 100);
	struct mcreply_frame f;
	enum mcreply_kind k;

	(void)state;
	assert_non_null(buf);
	/* A line without a newline: more is needed until the line cap, then malformed. */
	memset(buf, 'a', n);
	for (k = MCREPLY_LINE; k <= MCREPLY_ANY; k++) {
		assert_int_equal(mcreply_frame(buf, MCREPLY_LINE_MAX - 1, k, &f), MORE);
		assert_int_equal(mcreply_frame(buf, n, k, &f), M);
		assert_non_null(strstr(f.why, "line longer than"));
	}
	/* Endless STAT lines: malformed past MCREPLY_MAX, as stats and as any reply. */
	while (off + 16 < MCREPLY_MAX + 50) {
		memcpy(buf + off, "STAT aaaa 1234\r\n", 16);
		off += 16;
	}
	assert_int_equal(mcreply_frame(buf, off, MCREPLY_STATS, &f), M);
	assert_non_null(strstr(f.why, "reply larger than"));
	assert_int_equal(mcreply_frame(buf, off, MCREPLY_ANY, &f), M);
	free(buf);
}

/* --- STAT lines ---------------------------------------------------------------------- */

static void
stats_iterate_pairs_with_spaces_in_values(void **state)
{
	static const char text[] = "STAT pid 42\r\nSTAT version 1.6.18 mcops\nSTAT empty \r\n"
				   "END\r\nSTAT after 1\r\n";
	struct mcreply_stats_iter it;
	struct mcreply_stat s;

	(void)state;
	mcreply_stats_begin(&it, text, sizeof(text) - 1);
	assert_int_equal(mcreply_stats_next(&it, &s), 1);
	assert_int_equal(s.name_len, 3);
	assert_memory_equal(s.name, "pid", 3);
	assert_int_equal(s.value_len, 2);
	assert_memory_equal(s.value, "42", 2);
	assert_int_equal(mcreply_stats_next(&it, &s), 1);
	assert_int_equal(s.value_len, 12);
	assert_memory_equal(s.value, "1.6.18 mcops", 12);
	assert_int_equal(mcreply_stats_next(&it, &s), 1);
	assert_int_equal(s.value_len, 0);
	/* END ends it; what follows is another reply's. */
	assert_int_equal(mcreply_stats_next(&it, &s), 0);
	assert_int_equal(mcreply_stats_next(&it, &s), 0);
	/* The final END may come without its line end. */
	mcreply_stats_begin(&it, "STAT a 1\r\nEND", 13);
	assert_int_equal(mcreply_stats_next(&it, &s), 1);
	assert_int_equal(mcreply_stats_next(&it, &s), 0);
}

static void
stats_refuse_malformed_lines_with_their_line_number(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		int lineno;
		const char *why;
	} bad[] = {
		{ "STAT a 1\r\n", 10, 1, "has no END" },
		{ "", 0, 0, "has no END" },
		{ "STAT a 1\r\nSTAT a\r\nEND\r\n", 23, 2, "has no name and value" },
		{ "STAT  1\r\nEND\r\n", 14, 1, "has no name and value" },
		{ "VALUE a 0 1\r\nx\r\nEND\r\n", 21, 1, "is not a STAT line" },
		{ "STAT a\tb 1\r\nEND\r\n", 17, 1, "holds control characters" },
		{ "STAT \0a 1\r\nEND\r\n", 16, 1, "holds control characters" },
		{ "STAT a 1\x7f\r\nEND\r\n", 17, 1, "holds control characters" },
	};
	struct mcreply_stats_iter it;
	struct mcreply_stat s;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mcreply_stats_begin(&it, bad[i].text, bad[i].len);
		while ((rc = mcreply_stats_next(&it, &s)) == 1)
			;
		if (rc != -1 || it.lineno != bad[i].lineno || strcmp(it.why, bad[i].why) != 0)
			fail_msg("case %zu: rc %d line %d why '%s'", i, rc, it.lineno, it.why);
		assert_int_equal(mcreply_stats_next(&it, &s), -1);
	}
}

static void
stats_skip_goes_on_after_a_malformed_line_but_not_past_the_end(void **state)
{
	static const char text[] = "STAT a\r\nSTAT b\x01 2\r\nSTAT c 3\r\nEND\r\n";
	struct mcreply_stats_iter it;
	struct mcreply_stat s;

	(void)state;
	mcreply_stats_begin(&it, text, sizeof(text) - 1);
	assert_false(mcreply_stats_skip(&it)); /* nothing to skip yet */
	assert_int_equal(mcreply_stats_next(&it, &s), -1);
	assert_string_equal(it.why, "has no name and value");
	assert_true(mcreply_stats_skip(&it));
	assert_int_equal(mcreply_stats_next(&it, &s), -1);
	assert_int_equal(it.lineno, 2);
	assert_true(mcreply_stats_skip(&it));
	assert_int_equal(mcreply_stats_next(&it, &s), 1);
	assert_memory_equal(s.name, "c", 1);
	assert_int_equal(mcreply_stats_next(&it, &s), 0);
	assert_false(mcreply_stats_skip(&it)); /* at END: the iteration is over */
	assert_int_equal(mcreply_stats_next(&it, &s), 0);

	/* A text without END fails for good. */
	mcreply_stats_begin(&it, "STAT a\r\n", 8);
	assert_int_equal(mcreply_stats_next(&it, &s), -1);
	assert_true(mcreply_stats_skip(&it));
	assert_int_equal(mcreply_stats_next(&it, &s), -1);
	assert_string_equal(it.why, "has no END");
	assert_false(mcreply_stats_skip(&it));
	assert_int_equal(mcreply_stats_next(&it, &s), -1);
}

/* A proxy frames replies larger than MCREPLY_MAX (a multi-get of large values) with a
 * cap of its own; the default cap still refuses them. */
static void
frame_max_takes_a_larger_cap(void **state)
{
	size_t vlen = MCREPLY_MAX + 10, n = 0;
	char *buf = malloc(vlen + 64);
	struct mcreply_frame f;
	int k;

	(void)state;
	assert_non_null(buf);
	k = snprintf(buf, 64, "VALUE big 0 %zu\r\n", vlen);
	n = (size_t)k;
	memset(buf + n, 'x', vlen);
	n += vlen;
	memcpy(buf + n, "\r\nEND\r\n", 7);
	n += 7;
	assert_int_equal(mcreply_frame(buf, n, MCREPLY_GET, &f), MCREPLY_MALFORMED);
	assert_int_equal(mcreply_frame_max(buf, n, MCREPLY_GET, 2 * MCREPLY_MAX, &f),
	    MCREPLY_COMPLETE);
	assert_int_equal(f.len, n);
	assert_int_equal(f.last_off, n - 5);
	assert_int_equal(mcreply_frame_max(buf, n, MCREPLY_GET, MCREPLY_MAX + 5, &f),
	    MCREPLY_MALFORMED);
	assert_string_not_equal(f.why, "");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frames_complete_partial_and_malformed_replies),
		cmocka_unit_test(terminal_line_length_excludes_its_line_end),
		cmocka_unit_test(frames_refuse_lines_and_replies_over_their_caps),
		cmocka_unit_test(frame_max_takes_a_larger_cap),
		cmocka_unit_test(stats_iterate_pairs_with_spaces_in_values),
		cmocka_unit_test(stats_refuse_malformed_lines_with_their_line_number),
		cmocka_unit_test(stats_skip_goes_on_after_a_malformed_line_but_not_past_the_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
