/* Unit tests of lib/log: levels, and rate limits that count what they drop and say
 * so, even when the storm ends within a period. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

static char captured[16384];

/* Runs fn with stderr sent to a temporary file; the file's text goes to captured. */
static void
capture(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(captured, 1, sizeof(captured) - 1, tmp);
	captured[n] = '\0';
	fclose(tmp);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * lib/log reads the monotonic clock itself, so the periods here are chosen to make
 * each outcome independent of how fast the machine is: a period no run outlasts where
 * a test needs "still inside the period", and a short one followed by a sleep several
 * times longer where it needs "the period has ended" (a sleep overshoots, it never
 * ends early).
 */
#define LONG_PERIOD_MS 3600000
#define SHORT_PERIOD_MS 100
#define BURST 1000

static struct log_limit storm = LOG_LIMIT_INIT(LONG_PERIOD_MS);
static struct log_limit brief_storm = LOG_LIMIT_INIT(SHORT_PERIOD_MS);

static void
burst(void)
{
	for (int i = 0; i < BURST; i++)
		log_limited(&storm, LOG_LEVEL_WARN, "bad client %d", i);
}

static void
brief_burst(void)
{
	for (int i = 0; i < BURST; i++)
		log_limited(&brief_storm, LOG_LEVEL_WARN, "bad client %d", i);
}

/* The number in the last "bad client N" of captured; -1 if there is none. */
static long
last_client(void)
{
	const char *p = captured, *last = NULL;
	char *end;
	long n;

	while ((p = strstr(p, "bad client ")) != NULL) {
		last = p;
		p++;
	}
	if (last == NULL)
		return -1;
	n = strtol(last + strlen("bad client "), &end, 10);
	return end == last + strlen("bad client ") ? -1 : n;
}

static void
flush(void)
{
	log_flush_suppressed();
}

static void
a_burst_prints_one_line_then_counts(void **state)
{
	uint64_t before = log_suppressed_total();
	(void)state;

	log_init("test", 1, LOG_LEVEL_INFO);
	capture(burst);
	assert_int_equal(count_lines(captured), 1);
	assert_non_null(strstr(captured, "warning: bad client 0"));
	assert_int_equal(log_suppressed_total() - before, 999);
}

static void
suppressed_lines_are_reported_after_the_period_without_a_new_message(void **state)
{
	char expect[96];
	long k;
	(void)state;

	capture(flush); /* storm's period has not ended: nothing yet */
	assert_int_equal(count_lines(captured), 0);
	/* Within one period (the usual case) this prints "bad client 0" alone. A burst the
	 * scheduler stretched over more periods prints one line in each; either way the
	 * flush below reports what was dropped after the last printed line, k. */
	capture(brief_burst);
	assert_true(count_lines(captured) >= 1);
	k = last_client();
	assert_true(k >= 0 && k < BURST);
	usleep(3 * SHORT_PERIOD_MS * 1000);
	capture(flush);
	if (k < BURST - 1) {
		assert_int_equal(count_lines(captured), 1);
		snprintf(expect, sizeof(expect), "bad client %ld (%ld more suppressed)", k,
		    BURST - 1 - k);
		assert_non_null(strstr(captured, expect));
	} else {
		assert_int_equal(count_lines(captured), 0); /* the last one was printed */
	}
	capture(flush); /* reported once */
	assert_int_equal(count_lines(captured), 0);
}

static void
info_and_warning(void)
{
	log_info("an info line");
	log_warn("a warning line");
}

static void
messages_above_the_level_are_dropped(void **state)
{
	(void)state;

	log_set_level(LOG_LEVEL_WARN);
	capture(info_and_warning);
	log_set_level(LOG_LEVEL_INFO);
	assert_int_equal(count_lines(captured), 1);
	assert_null(strstr(captured, "an info line"));
	assert_non_null(strstr(captured, "warning: a warning line"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_burst_prints_one_line_then_counts),
		cmocka_unit_test(suppressed_lines_are_reported_after_the_period_without_a_new_message),
		cmocka_unit_test(messages_above_the_level_are_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
