/*
 * helper — what the unit tests share, written once (as memcached's
 * t/lib/MemcachedTest.pm and OpenSSH's regress/unittests/test_helper do): temporary
 * directories, a fake clock, and an incident log in a temporary directory.
 *
 * Linked into every unit-test binary (see the Makefile's unit-test rule); it uses
 * cmocka, so only cmocka tests include it. Functions meant for setup() return -1
 * instead of failing, so that a setup can report its own failure; the others fail
 * the running test on a broken premise (a path that does not fit, say).
 */
#ifndef MCOPS_TEST_HELPER_H
#define MCOPS_TEST_HELPER_H

#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define TEST_PATH_MAX 256 /* a good size for a temporary directory's path or a file's in it */

/* --- text -------------------------------------------------------------------------- */

/* Appends a printf text to buf[*used..cap) and advances *used; fails the test if it
 * does not fit (a fixture's reply text, built in pieces). */
void test_appendf(char *buf, size_t cap, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* --- temporary directories --------------------------------------------------------- */

/*
 * Makes a new, empty, private directory /tmp/<prefix>.XXXXXX and writes its path into
 * dir[len]. It is removed with everything in it by test_dir_remove(), or at the
 * process's exit if a test failed before it could remove it. Returns 0, or -1 (errno
 * set; dir is then "").
 */
int test_dir_make(char *dir, size_t len, const char *prefix);

/* Removes dir and everything under it (symbolic links are not followed). Returns 0,
 * or -1 if something could not be removed. A NULL or "" dir is a no-op. */
int test_dir_remove(const char *dir);

/* Writes "<dir>/<name>" into out[len] and returns out; fails the test if it does not
 * fit. */
char *test_dir_file(char *out, size_t len, const char *dir, const char *name);

/* Entries of dir whose names do not start with '.'; fails the test if dir cannot be
 * read. */
size_t test_dir_count(const char *dir);

/* --- a fake clock ----------------------------------------------------------------- */

/* 2023-11-14T22:13:20Z: where fake clocks start. Not 0, which several modules read as
 * "never". */
#define TEST_CLOCK_START_MS 1700000000000LL
#define TEST_CLOCK_RANDOM_MAX 8

/*
 * Time stands still until a test moves `now` (UTC ms); random values come from
 * randoms[0..nrandom), then 0. The callbacks take the clock as their void * argument,
 * as struct ilog_clock's do:
 *     struct ilog_clock c = { test_clock_now, test_clock_random, &fx->clock };
 */
struct test_clock {
	int64_t now;
	uint64_t randoms[TEST_CLOCK_RANDOM_MAX];
	size_t nrandom, next_random;
};

/* Sets the clock to start_ms, with no random values. */
void test_clock_init(struct test_clock *c, int64_t start_ms);
int64_t test_clock_now(void *clock);
uint64_t test_clock_random(void *clock);
/* TEST_CLOCK_START_MS, for hooks that take no argument (struct watch's wall_ms). */
int64_t test_clock_start(void);

/* --- an incident log in a temporary directory --------------------------------------- */

struct test_ilog {
	char dir[TEST_PATH_MAX];  /* its own temporary directory */
	char path[TEST_PATH_MAX]; /* <dir>/log.db */
	struct ilog *log;
	struct test_clock fake;   /* the log's clock after test_ilog_setup(); tests move
	                             fake.now and fill fake.randoms */
	char err[ILOG_ERR_LEN];   /* for the test's own calls too */
};

/*
 * Makes a temporary directory (prefix as test_dir_make) and opens a new incident log
 * in it with default options and the real clock; a test that wants the fake one sets
 * it with ilog_set_clock(). Returns 0, or -1 with the reason in t->err and nothing
 * left behind.
 */
int test_ilog_open(struct test_ilog *t, const char *prefix);

/* Closes the log and removes its directory (the database, -wal, -shm and whatever
 * else the test made there). Safe after a failed test_ilog_open(). */
void test_ilog_close(struct test_ilog *t);

/*
 * The fixture of lib/ilog's own tests (test_ilog*.c), for cmocka's setup and teardown:
 * test_ilog_setup() allocates a struct test_ilog into *state, opens its log (prefix
 * "test_ilog") and puts it on t->fake, started at TEST_CLOCK_START_MS with no random
 * values; test_ilog_teardown() closes, removes and frees it.
 */
int test_ilog_setup(void **state);
int test_ilog_teardown(void **state);
/* A cmocka test run with that fixture. */
#define TEST_ILOG_CASE(f) \
	cmocka_unit_test_setup_teardown(f, test_ilog_setup, test_ilog_teardown)

/* Opens (or updates) a "storm" incident on cluster c1, node n1 with that fingerprint
 * and severity, as mcmon; fails the test if the log refuses. Returns its id. */
int64_t test_ilog_incident(struct test_ilog *t, const char *fingerprint,
    enum ilog_severity sev);

/* The incidents of kind (NULL: any) in states (ILOG_STATES_*); fails the test if the
 * log cannot be read. */
size_t test_ilog_count(struct ilog *log, const char *kind, unsigned states);

/* The incident with fingerprint fp into *inc and the body of its last "evidence"
 * event into body ("" without one); returns its id, or 0 when there is none. */
int64_t test_ilog_last_evidence(struct ilog *log, const char *fp, struct ilog_incident *inc,
    char *body, size_t cap);

#endif
