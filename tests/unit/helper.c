/* The unit tests' shared helper: see helper.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper.h"

#define TEST_DIRS_MAX 32 /* temporary directories one test binary holds at once */
#define TEST_FTW_FDS 16  /* descriptors nftw() may hold open while it walks */

/*
 * Directories made and not yet removed. cmocka leaves a test function at its first
 * failed assertion, before the test's own clean-up: what is still listed here at exit
 * is removed then, so a failing test leaves nothing in /tmp either.
 */
static char made[TEST_DIRS_MAX][TEST_PATH_MAX];
static bool exit_hook;

static void
remove_leftovers(void)
{
	for (size_t i = 0; i < TEST_DIRS_MAX; i++)
		if (made[i][0] != '\0')
			(void)test_dir_remove(made[i]);
}

int
test_dir_make(char *dir, size_t len, const char *prefix)
{
	size_t i;
	int n;

	dir[0] = '\0';
	for (i = 0; i < TEST_DIRS_MAX && made[i][0] != '\0'; i++)
		;
	if (i == TEST_DIRS_MAX) {
		errno = EMFILE;
		return -1;
	}
	n = snprintf(dir, len, "/tmp/%s.XXXXXX", prefix);
	if (n < 0 || (size_t)n >= len || (size_t)n >= TEST_PATH_MAX) {
		dir[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	memcpy(made[i], dir, (size_t)n + 1);
	if (!exit_hook) {
		exit_hook = true;
		atexit(remove_leftovers);
	}
	return 0;
}

static int
remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int
test_dir_remove(const char *dir)
{
	int rc;

	if (dir == NULL || dir[0] == '\0')
		return 0;
	/* Depth first (children before their directory), without following links. */
	rc = nftw(dir, remove_entry, TEST_FTW_FDS, FTW_DEPTH | FTW_PHYS);
	if (rc != 0 && errno == ENOENT)
		rc = 0;
	for (size_t i = 0; i < TEST_DIRS_MAX; i++)
		if (strcmp(made[i], dir) == 0)
			made[i][0] = '\0';
	return rc == 0 ? 0 : -1;
}

char *
test_dir_file(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		fail_msg("path %s/%s is longer than its buffer (%zu bytes)", dir, name, len);
	return out;
}

size_t
test_dir_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		fail_msg("cannot read directory %s", dir);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

void
test_clock_init(struct test_clock *c, int64_t start_ms)
{
	memset(c, 0, sizeof(*c));
	c->now = start_ms;
}

int64_t
test_clock_now(void *clock)
{
	return ((struct test_clock *)clock)->now;
}

uint64_t
test_clock_random(void *clock)
{
	struct test_clock *c = clock;

	return c->next_random < c->nrandom ? c->randoms[c->next_random++] : 0;
}

int64_t
test_clock_start(void)
{
	return TEST_CLOCK_START_MS;
}

void
test_appendf(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	assert_true(*used < cap);
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, cap - *used, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < cap - *used);
	*used += (size_t)n;
}
