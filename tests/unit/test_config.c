/* Unit tests of lib/config: entries with lines, typed getters, file:line errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

static const char sample[] =
    "# comment\n"
    "[mcd]\n"
    "port = 11211\n"
    "memory = 64M\n"
    "\n"
    "[cluster c1]\n"
    "interval = 2s\n"
    "verbose = yes\n"
    "ratio = 2.5\n";

static void
getters_read_typed_values(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	uint64_t port, mem;
	int64_t iv;
	bool b;
	double r;
	(void)state;

	assert_int_equal(config_load_string(&cfg, "t.conf", sample, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(config_get_u64(&cfg, "mcd", "port", 1, 65535, 1, &port, &errs), 0);
	assert_int_equal(port, 11211);
	assert_int_equal(config_get_size(&cfg, "mcd", "memory", 0, &mem, &errs), 0);
	assert_true(mem == 64ULL << 20);
	assert_int_equal(config_get_duration_ms(&cfg, "cluster c1", "interval", 0, &iv, &errs), 0);
	assert_int_equal(iv, 2000);
	assert_int_equal(config_get_bool(&cfg, "cluster c1", "verbose", false, &b, &errs), 0);
	assert_true(b);
	assert_int_equal(config_get_double(&cfg, "cluster c1", "ratio", 0, 10, 1, &r, &errs), 0);
	assert_true(r == 2.5);
	assert_int_equal(config_get_u64(&cfg, "mcd", "absent", 0, 9, 4, &port, &errs), 0);
	assert_int_equal(port, 4);
	assert_string_equal(config_section_name("cluster c1", "cluster"), "c1");
	assert_null(config_section_name("clusterc1", "cluster"));
	assert_int_equal(errs.n, 0);
	config_release(&cfg);
}

static void
every_error_is_reported_with_file_and_line(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	uint64_t v;
	int64_t d;
	(void)state;

	assert_int_equal(config_load_string(&cfg, "bad.conf",
	    "[mcd]\nport = 99999\nmemory = lots\ntypo = 1\n[other]\nx = 1\n", &errs), 0);
	config_get_u64(&cfg, "mcd", "port", 1, 65535, 11211, &v, &errs);
	assert_int_equal(v, 11211); /* default kept on error */
	config_get_duration_ms(&cfg, "mcd", "memory", 0, &d, &errs);
	config_check_unknown(&cfg, NULL, &errs);
	assert_int_equal(errs.n, 4);
	assert_non_null(strstr(errs.msgs[0], "bad.conf:2: port"));
	assert_non_null(strstr(errs.msgs[1], "bad.conf:3: memory"));
	assert_non_null(strstr(errs.msgs[2], "bad.conf:4: unknown key 'typo' in [mcd]"));
	assert_non_null(strstr(errs.msgs[3], "bad.conf:6: unknown key 'x' in [other]"));
	config_errors_release(&errs);
	config_release(&cfg);
}

static void
syntax_error_names_its_line(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	(void)state;

	config_load_string(&cfg, "s.conf", "[mcd]\nport = 1\nthis line is wrong\n", &errs);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "s.conf:3: syntax error"));
	config_errors_release(&errs);
	config_release(&cfg);
}

static void
sections_are_recorded_with_their_header_line_even_without_keys(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	(void)state;

	assert_int_equal(config_load_string(&cfg, "s.conf",
	    "# top\n[cluster c1]\n\n  [node n1]\ncluster = c1\n[empty]\n", &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(cfg.nsections, 3);
	assert_string_equal(cfg.sections[0], "cluster c1");
	assert_int_equal(cfg.section_lines[0], 2);
	assert_string_equal(cfg.sections[1], "node n1");
	assert_int_equal(cfg.section_lines[1], 4);
	assert_string_equal(cfg.sections[2], "empty");
	assert_int_equal(cfg.section_lines[2], 6);
	config_release(&cfg);
}

static void
missing_file_is_an_error(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	(void)state;

	assert_int_equal(config_load(&cfg, "/nonexistent/mcops.conf", &errs), -1);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "/nonexistent/mcops.conf"));
	config_errors_release(&errs);
	config_release(&cfg);
}

/* "[cluster   c1]" names cluster c1: its keys are found under "cluster c1" (a title
 * under extra blanks was lost to every lookup but config_section_name's). */
static void
blanks_between_a_sections_kind_and_name_are_one_space(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	const char *v = NULL;
	(void)state;

	assert_int_equal(config_load_string(&cfg, "t.conf",
			     "[cluster   c1]\ntitle = US East\n[node  n1]\nport = 1\n", &errs),
	    0);
	assert_string_equal(cfg.sections[0], "cluster c1");
	assert_int_equal(config_get_str(&cfg, "cluster c1", "title", NULL, &v, &errs), 0);
	assert_non_null(v);
	assert_string_equal(v, "US East");
	assert_string_equal(config_section_name(cfg.sections[0], "cluster"), "c1");
	config_errors_release(&errs);
	config_release(&cfg);
}

/* A string copied into a fixed buffer: absent leaves the buffer alone, one that fills it
 * exactly fits, one byte more is an error at its line and leaves the buffer alone. */
static void
copy_str_fits_or_reports_the_line(void **state)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	char buf[6];
	(void)state;

	assert_int_equal(config_load_string(&cfg, "t.conf",
			     "[s]\nfits = abcde\nlong = abcdef\n", &errs),
	    0);
	memcpy(buf, "keep", 5);
	assert_int_equal(config_copy_str(&cfg, "s", "absent", buf, sizeof(buf), &errs), 0);
	assert_string_equal(buf, "keep");
	assert_int_equal(config_copy_str(&cfg, "s", "fits", buf, sizeof(buf), &errs), 0);
	assert_string_equal(buf, "abcde");
	assert_int_equal(config_copy_str(&cfg, "s", "long", buf, sizeof(buf), &errs), -1);
	assert_string_equal(buf, "abcde");
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0], "t.conf:3: long: longer than 5 bytes");
	config_errors_release(&errs);
	config_release(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(getters_read_typed_values),
		cmocka_unit_test(every_error_is_reported_with_file_and_line),
		cmocka_unit_test(syntax_error_names_its_line),
		cmocka_unit_test(sections_are_recorded_with_their_header_line_even_without_keys),
		cmocka_unit_test(missing_file_is_an_error),
		cmocka_unit_test(copy_str_fits_or_reports_the_line),
		cmocka_unit_test(blanks_between_a_sections_kind_and_name_are_one_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
