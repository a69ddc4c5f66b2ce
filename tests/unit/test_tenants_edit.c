/*
 * Unit tests of lib/tenants_edit: a tenant's connection limits changed in a real file
 * in a temporary directory, as mctl tenant connlimit and mcalert's "limit tenant" do:
 * only that tenant's line changes, the other lines stay byte for byte; whatever is
 * refused (a bad name, an unknown tenant, an admin account, a value out of range, a
 * lock held by another writer) leaves the file as it was.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "helper.h"
#include "tenants.h"
#include "tenants_edit.h"

#define FILE_TEXT_MAX 8192

struct fixture {
	char dir[TEST_PATH_MAX];
	char path[TEST_PATH_MAX];
	char before[FILE_TEXT_MAX];
};

static void
read_text(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/* The line of the file that starts with "name:", copied into out. */
static void
line_of(const char *text, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			size_t n = strcspn(p, "\n");
			snprintf(out, len, "%.*s", (int)n, p);
			return;
		}
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	fail_msg("no line for %s", name);
}

/* text without name's line. */
static void
without(const char *text, const char *name, char *out, size_t len)
{
	char line[TENANTS_LINE_MAX + 1];
	const char *at;

	line_of(text, name, line, sizeof(line));
	at = strstr(text, line);
	snprintf(out, len, "%.*s%s", (int)(at - text), text, at + strlen(line) + 1);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];

	assert_non_null(f);
	assert_int_equal(test_dir_make(f->dir, sizeof(f->dir), "tenants_edit"), 0);
	test_dir_file(f->path, sizeof(f->path), f->dir, "tenants");
	assert_int_equal(tenants_add(&tf, "acme", "secret-acme-0123456789", 64 << 20,
	    TENANT_CAPS_DEFAULT, err, sizeof(err)), 0);
	assert_int_equal(tenants_add(&tf, "beta", "secret-beta-0123456789", 1 << 20,
	    TENANT_CAP_READ, err, sizeof(err)), 0);
	assert_int_equal(tenants_set_connlimit(&tf, "beta", 5, 7, err, sizeof(err)), 0);
	assert_int_equal(tenants_add(&tf, "ops", "secret-ops-0123456789", 0, TENANT_CAP_ADMIN,
	    err, sizeof(err)), 0);
	assert_int_equal(tenants_save(&tf, f->path, err, sizeof(err)), 0);
	tenants_release(&tf);
	read_text(f->path, f->before, sizeof(f->before));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static void
a_rate_changes_that_tenants_line_only_and_keeps_its_maximum(void **state)
{
	struct fixture *f = *state;
	struct tenants_connlimit change = { .set_conn_rate = true, .conn_rate = 20 };
	struct tenants_connlimit_result res;
	char err[TENANTS_ERR_LEN], after[FILE_TEXT_MAX], line[TENANTS_LINE_MAX + 1],
	    old_line[TENANTS_LINE_MAX + 1], rest_before[FILE_TEXT_MAX], rest_after[FILE_TEXT_MAX];
	size_t n;

	assert_int_equal(tenants_edit_connlimit(f->path, "acme", &change, &res, err, sizeof(err)),
	    TENANTS_EDIT_OK);
	assert_int_equal(res.conn_rate_before, 0);
	assert_int_equal(res.max_conns_before, 0);
	assert_int_equal(res.conn_rate, 20);
	assert_int_equal(res.max_conns, 0);
	read_text(f->path, after, sizeof(after));
	line_of(f->before, "acme", old_line, sizeof(old_line));
	line_of(after, "acme", line, sizeof(line));
	/* The old line plus ":MAXCONN:CONNRATE", nothing else about acme changed. */
	n = strlen(old_line);
	assert_memory_equal(line, old_line, n);
	assert_string_equal(line + n, ":0:20");
	without(f->before, "acme", rest_before, sizeof(rest_before));
	without(after, "acme", rest_after, sizeof(rest_after));
	assert_string_equal(rest_after, rest_before);

	/* beta's maximum is kept when only its rate is given, and reported before/after. */
	change.conn_rate = 3;
	assert_int_equal(tenants_edit_connlimit(f->path, "beta", &change, &res, err, sizeof(err)),
	    TENANTS_EDIT_OK);
	assert_int_equal(res.max_conns_before, 5);
	assert_int_equal(res.conn_rate_before, 7);
	assert_int_equal(res.max_conns, 5);
	assert_int_equal(res.conn_rate, 3);
	read_text(f->path, after, sizeof(after));
	line_of(after, "beta", line, sizeof(line));
	assert_non_null(strstr(line, ":5:3"));
}

static void
refusals_leave_the_file_byte_for_byte(void **state)
{
	static const char *const bad_names[] = { "", "ac me", "acme\nevil:x", "../etc",
		"acme;flush_all", "a/b" };
	struct fixture *f = *state;
	struct tenants_connlimit change = { .set_conn_rate = true, .conn_rate = 20 };
	struct tenants_connlimit_result res;
	char err[TENANTS_ERR_LEN], after[FILE_TEXT_MAX], dir_lock[TEST_PATH_MAX];
	size_t i;
	int fd;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(tenants_edit_connlimit(f->path, bad_names[i], &change, &res, err,
		    sizeof(err)), TENANTS_EDIT_REFUSED);
		assert_non_null(strstr(err, "invalid tenant name"));
	}
	assert_int_equal(tenants_edit_connlimit(f->path, "nobody", &change, &res, err,
	    sizeof(err)), TENANTS_EDIT_REFUSED);
	assert_non_null(strstr(err, "no tenant 'nobody' in "));
	assert_int_equal(tenants_edit_connlimit(f->path, "ops", &change, &res, err, sizeof(err)),
	    TENANTS_EDIT_REFUSED);
	assert_string_equal(err, "'ops' is an admin account: connection limits are for tenants");
	change.conn_rate = TENANT_CONN_LIMIT_MAX + 1ULL;
	assert_int_equal(tenants_edit_connlimit(f->path, "acme", &change, &res, err, sizeof(err)),
	    TENANTS_EDIT_REFUSED);
	change.conn_rate = 20;
	/* Another writer holds the directory's lock: given up after the wait. */
	snprintf(dir_lock, sizeof(dir_lock), "%s", f->dir);
	fd = open(dir_lock, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(tenants_edit_connlimit(f->path, "acme", &change, &res, err, sizeof(err)),
	    TENANTS_EDIT_LOCK);
	assert_non_null(strstr(err, "is being changed by another"));
	close(fd);
	read_text(f->path, after, sizeof(after));
	assert_string_equal(after, f->before);
	/* A missing file is not created by a limit. */
	test_dir_file(dir_lock, sizeof(dir_lock), f->dir, "missing");
	assert_int_equal(tenants_edit_connlimit(dir_lock, "acme", &change, &res, err, sizeof(err)),
	    TENANTS_EDIT_FILE);
	assert_int_equal(access(dir_lock, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    a_rate_changes_that_tenants_line_only_and_keeps_its_maximum, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals_leave_the_file_byte_for_byte, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
