/* Unit tests of lib/tenants: names, caps, hashing, the file parser, add/remove, save. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper.h"
#include "tenants.h"

/* A known vector, computed independently: SHA-256(00 01 .. 0f || password). */
#define VECTOR_SALT "000102030405060708090a0b0c0d0e0f"
#define VECTOR_HASH "3d3ecd0750760383a5cd6a31d4d8294add1829ac0d7be0647083f73847dd325e"
#define VECTOR_PASSWORD "correct horse battery staple"
#define VECTOR_LINE "acme:sha256$" VECTOR_SALT "$" VECTOR_HASH ":67108864:read,write,flush"

/* A syntactically valid hash field, for lines whose other fields are under test. */
#define HASHF "sha256$" VECTOR_SALT "$" VECTOR_HASH

static int
parse(struct tenant_file *tf, const char *text, char *err, size_t errlen)
{
	return tenants_parse_buffer(tf, "t", text, strlen(text), err, errlen);
}

static void
name_valid_accepts_charset_and_bounds(void **state)
{
	char longest[TENANT_NAME_MAX + 1];
	(void)state;
	memset(longest, 'x', TENANT_NAME_MAX);
	assert_true(tenant_name_valid("acme", 4));
	assert_true(tenant_name_valid("A-z_0.9", 7));
	assert_true(tenant_name_valid(longest, TENANT_NAME_MAX));
}

static void
name_valid_rejects_empty_long_and_foreign_bytes(void **state)
{
	char toolong[TENANT_NAME_MAX + 1];
	const char *bad[] = { "a b", "a:b", "a/b", "a\tb", "caf\xc3\xa9", "a\nb", "a$b", "a,b" };
	(void)state;
	memset(toolong, 'x', sizeof(toolong));
	assert_false(tenant_name_valid("", 0));
	assert_false(tenant_name_valid(toolong, sizeof(toolong)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(tenant_name_valid(bad[i], strlen(bad[i])));
	assert_false(tenant_name_valid("a\0b", 3)); /* an embedded NUL is not a name byte */
}

static void
caps_parse_and_format_round_trip(void **state)
{
	unsigned caps = 99;
	char buf[64];
	(void)state;
	assert_int_equal(tenant_caps_parse("read,write,flush", &caps), 0);
	assert_int_equal(caps, TENANT_CAPS_DEFAULT);
	assert_int_equal(tenant_caps_parse("flush,read", &caps), 0);
	assert_int_equal(caps, TENANT_CAP_FLUSH | TENANT_CAP_READ);
	tenant_caps_format(caps, buf, sizeof(buf));
	assert_string_equal(buf, "read,flush"); /* canonical order */
	assert_int_equal(tenant_caps_parse("", &caps), 0);
	assert_int_equal(caps, 0);
	tenant_caps_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	tenant_caps_format(TENANT_CAP_READ | TENANT_CAP_WRITE | TENANT_CAP_FLUSH | TENANT_CAP_ADMIN,
	    buf, sizeof(buf));
	assert_string_equal(buf, "read,write,flush,admin");
}

static void
caps_parse_rejects_unknown_empty_and_spaced_words(void **state)
{
	const char *bad[] = { "root", "read,", ",read", "read,,write", "read, write", " read",
		"READ", "rea", "readx" };
	unsigned caps = 77;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tenant_caps_parse(bad[i], &caps), -1);
	assert_int_equal(caps, 77);
}

static void
caps_format_cuts_at_a_word_boundary(void **state)
{
	char buf[12];
	(void)state;
	tenant_caps_format(TENANT_CAPS_DEFAULT, buf, sizeof(buf));
	assert_string_equal(buf, "read,write");
}

static void
generated_passwords_are_32_alphanumerics_and_differ(void **state)
{
	char a[TENANT_PASSWORD_LEN + 1], b[TENANT_PASSWORD_LEN + 1];
	(void)state;
	assert_int_equal(tenant_generate_password(a, sizeof(a)), 0);
	assert_int_equal(tenant_generate_password(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), TENANT_PASSWORD_LEN);
	for (size_t i = 0; i < TENANT_PASSWORD_LEN; i++)
		assert_true((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' && a[i] <= 'Z') ||
		    (a[i] >= '0' && a[i] <= '9'));
	assert_string_not_equal(a, b);
}

static void
generate_password_refuses_a_short_buffer(void **state)
{
	char small[TENANT_PASSWORD_LEN];
	(void)state;
	assert_int_equal(tenant_generate_password(small, sizeof(small)), -1);
}

static void
verify_matches_an_independent_sha256_vector(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];
	const char *pw = VECTOR_PASSWORD;
	(void)state;
	assert_int_equal(parse(&tf, VECTOR_LINE "\n", err, sizeof(err)), 0);
	assert_int_equal(tf.n, 1);
	assert_true(tenant_verify(&tf.entries[0], pw, strlen(pw)));
	tenants_release(&tf);
}

static void
verify_rejects_wrong_prefix_longer_empty_and_oversized(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN], huge[TENANT_PASSWORD_MAX + 2];
	const char *pw = VECTOR_PASSWORD;
	const struct tenant_entry *t;
	(void)state;
	assert_int_equal(parse(&tf, VECTOR_LINE "\n", err, sizeof(err)), 0);
	t = &tf.entries[0];
	assert_false(tenant_verify(t, "correct horse battery stapl", strlen(pw) - 1));
	assert_false(tenant_verify(t, "correct horse battery staplE", strlen(pw)));
	assert_false(tenant_verify(t, "correct horse battery staple!", strlen(pw) + 1));
	assert_false(tenant_verify(t, "", 0));
	memset(huge, 'x', sizeof(huge));
	assert_false(tenant_verify(t, huge, sizeof(huge)));
	tenants_release(&tf);
}

static void
set_password_uses_a_fresh_salt_each_time(void **state)
{
	struct tenant_entry a = { 0 }, b = { 0 };
	(void)state;
	assert_int_equal(tenant_set_password(&a, "samesamesamesame", 16), 0);
	assert_int_equal(tenant_set_password(&b, "samesamesamesame", 16), 0);
	assert_memory_not_equal(a.salt, b.salt, TENANT_SALT_LEN);
	assert_memory_not_equal(a.hash, b.hash, TENANT_HASH_LEN);
	assert_true(tenant_verify(&a, "samesamesamesame", 16));
	assert_true(tenant_verify(&b, "samesamesamesame", 16));
}

static void
set_password_refuses_empty_and_oversized_and_keeps_the_old(void **state)
{
	struct tenant_entry a = { 0 };
	char huge[TENANT_PASSWORD_MAX + 1];
	(void)state;
	memset(huge, 'y', sizeof(huge));
	assert_int_equal(tenant_set_password(&a, "original-password", 17), 0);
	assert_int_equal(tenant_set_password(&a, "", 0), -1);
	assert_int_equal(tenant_set_password(&a, huge, sizeof(huge)), -1);
	assert_true(tenant_verify(&a, "original-password", 17));
	assert_int_equal(tenant_set_password(&a, huge, TENANT_PASSWORD_MAX), 0);
	assert_true(tenant_verify(&a, huge, TENANT_PASSWORD_MAX));
}

static void
parse_reads_entries_sorted_and_skips_comments_blanks_crlf(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];
	const char *text = "# tenants\n"
			   "\n"
			   "   \t\n"
			   "zeta:" HASHF ":1024:read\r\n"
			   "  # indented comment\n"
			   "\tacme:" HASHF ":67108864:read,write,flush  \n"
			   "ops:" HASHF ":0:admin\n"
			   "mute:" HASHF ":1099511627776:"; /* no final newline, no caps */
	(void)state;
	assert_int_equal(parse(&tf, text, err, sizeof(err)), 0);
	assert_int_equal(tf.n, 4);
	assert_string_equal(tf.entries[0].name, "acme");
	assert_string_equal(tf.entries[1].name, "mute");
	assert_string_equal(tf.entries[2].name, "ops");
	assert_string_equal(tf.entries[3].name, "zeta");
	assert_true(tf.entries[0].limit == 64ULL << 20);
	assert_int_equal(tf.entries[0].caps, TENANT_CAPS_DEFAULT);
	assert_true(tf.entries[1].limit == TENANT_LIMIT_MAX);
	assert_int_equal(tf.entries[1].caps, 0);
	assert_int_equal(tf.entries[2].caps, TENANT_CAP_ADMIN);
	assert_int_equal(tf.entries[3].caps, TENANT_CAP_READ);
	assert_true(tf.entries[3].limit == 1024);
	tenants_release(&tf);
}

static void
parse_accepts_an_empty_file(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];
	(void)state;
	assert_int_equal(tenants_parse_buffer(&tf, "t", "", 0, err, sizeof(err)), 0);
	assert_int_equal(tf.n, 0);
	assert_int_equal(parse(&tf, "# only a comment\n\n", err, sizeof(err)), 0);
	assert_int_equal(tf.n, 0);
}

static void
parse_reports_each_kind_of_bad_line_with_its_number(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
		{ "# c\nbad name:" HASHF ":1:read\n", "t:2: invalid tenant name 'bad name'" },
		{ "a:sha256$" VECTOR_SALT "$" VECTOR_HASH "00:1:read\n", "t:1: bad password hash for 'a'" },
		{ "a:sha1$" VECTOR_SALT "$" VECTOR_HASH ":1:read\n", "t:1: bad password hash for 'a'" },
		{ "a:sha256$000102030405060708090A0B0C0D0E0F$" VECTOR_HASH ":1:read\n",
		    "t:1: bad password hash for 'a'" },
		{ "a:sha256$" VECTOR_SALT "x" VECTOR_HASH ":1:read\n", "t:1: bad password hash for 'a'" },
		{ "a:" HASHF ":64M:read\n", "t:1: bad limit '64M' for 'a'" },
		{ "a:" HASHF ":-1:read\n", "t:1: bad limit '-1' for 'a'" },
		{ "a:" HASHF ":1099511627777:read\n", "t:1: bad limit '1099511627777' for 'a'" },
		{ "a:" HASHF "::read\n", "t:1: bad limit '' for 'a'" },
		{ "\n\na:" HASHF ":1:read,root\n", "t:3: unknown capability 'root' for 'a'" },
		{ "a:" HASHF ":1:read,\n", "t:1: unknown capability '' for 'a'" },
		{ "a:" HASHF ":1\n", "t:1: expected NAME:sha256$SALT$HASH:LIMIT:CAPS" },
		{ "a:" HASHF ":1:read:extra\n", "t:1: expected NAME:sha256$SALT$HASH:LIMIT:CAPS" },
		{ "a:" HASHF ":1:read:1:2:3\n", "t:1: expected NAME:sha256$SALT$HASH:LIMIT:CAPS" },
		{ "a:" HASHF ":1:read:10:x\n", "t:1: bad connection limits '10:x' for 'a'" },
		{ "a:" HASHF ":1:read::5\n", "t:1: bad connection limits ':5' for 'a'" },
		{ "a:" HASHF ":1:read:10000001:0\n", "t:1: bad connection limits" },
		{ "a:" HASHF ":1:read\nb:" HASHF ":1:read\na:" HASHF ":2:read\n",
		    "t:3: duplicate tenant 'a' (first on line 1)" },
	};
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(&tf, cases[i].text, err, sizeof(err)), -1);
		if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
			fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, err, cases[i].err);
		assert_int_equal(tf.n, 0);
		assert_null(tf.entries);
	}
}

static void
parse_reports_the_first_bad_line_duplicate_or_syntax(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];
	const char *dup_first = "a:" HASHF ":1:read\n"
				"a:" HASHF ":1:read\n"
				"b:" HASHF ":1:bogus\n";
	const char *syntax_first = "a:" HASHF ":1:bogus\n"
				   "b:" HASHF ":1:read\n"
				   "b:" HASHF ":1:read\n";
	const char *third_copy = "c:" HASHF ":1:read\n"
				 "x:" HASHF ":1:read\n"
				 "c:" HASHF ":1:read\n"
				 "x:" HASHF ":1:read\n"
				 "c:" HASHF ":1:read\n";
	(void)state;
	assert_int_equal(parse(&tf, dup_first, err, sizeof(err)), -1);
	assert_string_equal(err, "t:2: duplicate tenant 'a' (first on line 1)");
	assert_int_equal(parse(&tf, syntax_first, err, sizeof(err)), -1);
	assert_string_equal(err, "t:1: unknown capability 'bogus' for 'a' (read, write, flush, admin, proxy)");
	assert_int_equal(parse(&tf, third_copy, err, sizeof(err)), -1);
	assert_string_equal(err, "t:3: duplicate tenant 'c' (first on line 1)");
}

static void
parse_bounds_line_length_and_quotes_hostile_bytes(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN], *text;
	size_t len = TENANTS_LINE_MAX + 2;
	(void)state;
	text = malloc(len + 1);
	assert_non_null(text);
	memset(text, '#', len); /* even a comment is bounded */
	text[len] = '\0';
	assert_int_equal(parse(&tf, text, err, sizeof(err)), -1);
	assert_string_equal(err, "t:1: line too long (over 1024 bytes)");
	free(text);

	assert_int_equal(tenants_parse_buffer(&tf, "t", "a\x1b[31m\0:x:1:read", 16, err,
			     sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "invalid tenant name 'a?[31m?'"));
	assert_null(strchr(err, '\x1b'));
}

static void
parse_stops_at_too_many_tenants(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN], line[TENANT_LINE_LEN];
	size_t cap = (TENANTS_MAX + 1) * sizeof(line), len = 0;
	char *text = malloc(cap);
	(void)state;
	assert_non_null(text);
	for (int i = 0; i <= TENANTS_MAX; i++) {
		int n = snprintf(line, sizeof(line), "t%d:" HASHF ":1:read\n", i);
		memcpy(text + len, line, (size_t)n);
		len += (size_t)n;
	}
	/* Exactly the maximum loads. */
	assert_int_equal(tenants_parse_buffer(&tf, "t", text, len - strlen(line), err, sizeof(err)),
	    0);
	assert_int_equal(tf.n, TENANTS_MAX);
	assert_non_null(tenants_find(&tf, "t9999", 5));
	/* One more does not, and leaves tf empty even though it held entries. */
	assert_int_equal(tenants_parse_buffer(&tf, "t", text, len, err, sizeof(err)), -1);
	assert_string_equal(err, "t:10001: too many tenants (at most 10000)");
	assert_int_equal(tf.n, 0);
	free(text);
}

static void
find_uses_exact_length_names(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];
	(void)state;
	assert_int_equal(parse(&tf, "ab:" HASHF ":1:read\nabc:" HASHF ":1:read\n", err, sizeof(err)),
	    0);
	assert_string_equal(tenants_find(&tf, "abcdef", 3)->name, "abc");
	assert_string_equal(tenants_find(&tf, "abcdef", 2)->name, "ab");
	assert_null(tenants_find(&tf, "abcdef", 1));
	assert_null(tenants_find(&tf, "abcd", 4));
	assert_null(tenants_find(&tf, "", 0));
	assert_null(tenants_find(&tf, "ab\0", 3));
	tenants_release(&tf);
}

static void
add_keeps_order_and_rejects_duplicates_bad_names_and_limits(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN], huge[TENANT_PASSWORD_MAX + 2];
	(void)state;
	assert_int_equal(tenants_add(&tf, "m", "pw-m-0123456789", 100, TENANT_CAP_READ, err,
			     sizeof(err)),
	    0);
	assert_int_equal(tenants_add(&tf, "z", "pw-z-0123456789", 100, 0, err, sizeof(err)), 0);
	assert_int_equal(tenants_add(&tf, "a", "pw-a-0123456789", 100, 0, err, sizeof(err)), 0);
	assert_int_equal(tf.n, 3);
	assert_string_equal(tf.entries[0].name, "a");
	assert_string_equal(tf.entries[1].name, "m");
	assert_string_equal(tf.entries[2].name, "z");
	assert_true(tenant_verify(tenants_find(&tf, "m", 1), "pw-m-0123456789", 15));

	assert_int_equal(tenants_add(&tf, "m", "other", 1, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "tenant 'm' already exists");
	assert_int_equal(tenants_add(&tf, "no good", "pw", 1, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid tenant name 'no good'");
	assert_int_equal(tenants_add(&tf, "b", "", 1, 0, err, sizeof(err)), -1);
	memset(huge, 'p', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(tenants_add(&tf, "b", huge, 1, 0, err, sizeof(err)), -1);
	assert_int_equal(tenants_add(&tf, "b", "pw", TENANT_LIMIT_MAX + 1, 0, err, sizeof(err)), -1);
	assert_int_equal(tenants_add(&tf, "b", "pw", 1, 1u << 7, err, sizeof(err)), -1);
	assert_int_equal(tf.n, 3);
	assert_true(tenant_verify(tenants_find(&tf, "m", 1), "pw-m-0123456789", 15));
	tenants_release(&tf);
	assert_null(tf.entries);
}

static void
remove_and_set_password_need_an_existing_tenant(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];
	struct tenant_entry before;
	(void)state;
	assert_int_equal(tenants_add(&tf, "a", "first-password-1", 1, 0, err, sizeof(err)), 0);
	assert_int_equal(tenants_add(&tf, "b", "first-password-2", 1, 0, err, sizeof(err)), 0);
	before = *tenants_find(&tf, "a", 1);
	assert_int_equal(tenants_set_password(&tf, "a", "second-password", err, sizeof(err)), 0);
	assert_memory_not_equal(before.hash, tenants_find(&tf, "a", 1)->hash, TENANT_HASH_LEN);
	assert_false(tenant_verify(tenants_find(&tf, "a", 1), "first-password-1", 16));
	assert_true(tenant_verify(tenants_find(&tf, "a", 1), "second-password", 15));
	assert_int_equal(tenants_set_password(&tf, "nobody", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "no tenant 'nobody'");

	assert_int_equal(tenants_remove(&tf, "a", err, sizeof(err)), 0);
	assert_int_equal(tf.n, 1);
	assert_null(tenants_find(&tf, "a", 1));
	assert_non_null(tenants_find(&tf, "b", 1));
	assert_int_equal(tenants_remove(&tf, "a", err, sizeof(err)), -1);
	assert_string_equal(err, "no tenant 'a'");
	assert_int_equal(tf.n, 1);
	tenants_release(&tf);
}

static void
entry_format_is_the_file_line_and_refuses_a_short_buffer(void **state)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN], line[TENANT_LINE_LEN];
	(void)state;
	assert_int_equal(parse(&tf, VECTOR_LINE, err, sizeof(err)), 0);
	assert_int_equal(tenant_entry_format(&tf.entries[0], line, sizeof(line)),
	    (int)strlen(VECTOR_LINE));
	assert_string_equal(line, VECTOR_LINE);
	assert_int_equal(tenant_entry_format(&tf.entries[0], line, strlen(VECTOR_LINE)), -1);
	tenants_release(&tf);
}

static void
save_then_load_round_trips_with_mode_0600(void **state)
{
	struct tenant_file tf = { 0 }, back = { 0 };
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX], err[TENANTS_ERR_LEN];
	struct stat st1, st2;
	mode_t old_umask = umask(0); /* a permissive umask must not loosen the mode */
	(void)state;
	assert_int_equal(test_dir_make(dir, sizeof(dir), "test_tenants"), 0);
	test_dir_file(path, sizeof(path), dir, "tenants");
	assert_int_equal(tenants_add(&tf, "b", "password-b-0123", 1 << 20, TENANT_CAPS_DEFAULT, err,
			     sizeof(err)),
	    0);
	assert_int_equal(tenants_add(&tf, "a", "password-a-0123", 0, TENANT_CAP_ADMIN, err,
			     sizeof(err)),
	    0);
	assert_int_equal(tenants_save(&tf, path, err, sizeof(err)), 0);
	umask(old_umask);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0600);
	assert_int_equal(test_dir_count(dir), 1); /* no temporary file left behind */

	assert_int_equal(tenants_load(&back, path, err, sizeof(err)), 0);
	assert_int_equal(back.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(back.entries[i].name, tf.entries[i].name);
		assert_memory_equal(back.entries[i].salt, tf.entries[i].salt, TENANT_SALT_LEN);
		assert_memory_equal(back.entries[i].hash, tf.entries[i].hash, TENANT_HASH_LEN);
		assert_true(back.entries[i].limit == tf.entries[i].limit);
		assert_int_equal(back.entries[i].caps, tf.entries[i].caps);
	}
	assert_true(tenant_verify(tenants_find(&back, "b", 1), "password-b-0123", 15));

	/* A second save replaces the file by rename (a new inode), never in place. */
	assert_int_equal(tenants_remove(&tf, "a", err, sizeof(err)), 0);
	assert_int_equal(tenants_save(&tf, path, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	assert_int_equal(tenants_load(&back, path, err, sizeof(err)), 0);
	assert_int_equal(back.n, 1);

	tenants_release(&tf);
	tenants_release(&back);
	assert_int_equal(test_dir_remove(dir), 0);
}

/* The optional MAXCONN:CONNRATE fields: read when present, written only when one is
 * set, so that a file of four-field lines is saved byte for byte as it was. */
static void
connection_limits_are_optional_and_old_files_stay_identical(void **state)
{
	struct tenant_file tf = { 0 };
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX], err[TENANTS_ERR_LEN], line[TENANT_LINE_LEN];
	char first[4096], second[4096];
	ssize_t n1, n2;
	int fd;
	(void)state;

	assert_int_equal(parse(&tf, "a:" HASHF ":1:read:5:20\nb:" HASHF ":1:read\n", err,
	    sizeof(err)), 0);
	assert_int_equal(tf.entries[0].max_conns, 5);
	assert_int_equal(tf.entries[0].conn_rate, 20);
	assert_int_equal(tf.entries[1].max_conns, 0);
	assert_int_equal(tf.entries[1].conn_rate, 0);
	assert_true(tenant_entry_format(&tf.entries[0], line, sizeof(line)) > 0);
	assert_string_equal(line + strlen(line) - 10, ":read:5:20");
	assert_true(tenant_entry_format(&tf.entries[1], line, sizeof(line)) > 0);
	assert_string_equal(line + strlen(line) - 5, ":read");
	assert_int_equal(tenants_set_connlimit(&tf, "b", 0, 7, err, sizeof(err)), 0);
	assert_true(tenant_entry_format(&tf.entries[1], line, sizeof(line)) > 0);
	assert_string_equal(line + strlen(line) - 9, ":read:0:7");
	assert_int_equal(tenants_set_connlimit(&tf, "c", 1, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "no tenant 'c'");
	assert_int_equal(tenants_set_connlimit(&tf, "a", TENANT_CONN_LIMIT_MAX + 1ULL, 0, err,
	    sizeof(err)), -1);
	assert_int_equal(tf.entries[0].max_conns, 5); /* unchanged */

	/* A file without the fields: load, save, load, save gives the same bytes. */
	assert_int_equal(parse(&tf, "a:" HASHF ":1:read\nb:" HASHF ":2:admin\n", err,
	    sizeof(err)), 0);
	assert_int_equal(test_dir_make(dir, sizeof(dir), "test_tenants"), 0);
	test_dir_file(path, sizeof(path), dir, "tenants");
	assert_int_equal(tenants_save(&tf, path, err, sizeof(err)), 0);
	fd = open(path, O_RDONLY);
	n1 = read(fd, first, sizeof(first));
	close(fd);
	assert_int_equal(tenants_load(&tf, path, err, sizeof(err)), 0);
	assert_int_equal(tenants_save(&tf, path, err, sizeof(err)), 0);
	fd = open(path, O_RDONLY);
	n2 = read(fd, second, sizeof(second));
	close(fd);
	assert_true(n1 > 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(first, second, (size_t)n1);
	first[n1] = '\0';
	assert_null(strstr(first, ":0:0"));
	tenants_release(&tf);
	assert_int_equal(test_dir_remove(dir), 0);
}

static void
save_fails_cleanly_in_a_missing_directory(void **state)
{
	struct tenant_file tf = { 0 };
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX], err[TENANTS_ERR_LEN];
	(void)state;
	assert_int_equal(test_dir_make(dir, sizeof(dir), "test_tenants"), 0);
	test_dir_file(path, sizeof(path), dir, "missing/tenants");
	assert_int_equal(tenants_save(&tf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot create a temporary file"));
	assert_int_equal(tenants_save(&tf, "", err, sizeof(err)), -1);
	test_dir_file(path, sizeof(path), dir, "");
	assert_int_equal(tenants_save(&tf, path, err, sizeof(err)), -1);
	assert_int_equal(test_dir_count(dir), 0);
	assert_int_equal(test_dir_remove(dir), 0);
}

static void
load_reports_missing_directory_and_oversized_files(void **state)
{
	struct tenant_file tf = { 0 };
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX], err[TENANTS_ERR_LEN];
	int fd;
	(void)state;
	assert_int_equal(test_dir_make(dir, sizeof(dir), "test_tenants"), 0);
	test_dir_file(path, sizeof(path), dir, "none");
	assert_int_equal(tenants_load(&tf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open: No such file or directory"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);

	assert_int_equal(tenants_load(&tf, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));

	/* A sparse file one byte over the maximum: refused without parsing. */
	test_dir_file(path, sizeof(path), dir, "big");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)TENANTS_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(tenants_load(&tf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "file too large"));
	assert_int_equal(tf.n, 0);
	assert_int_equal(test_dir_remove(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_valid_accepts_charset_and_bounds),
		cmocka_unit_test(name_valid_rejects_empty_long_and_foreign_bytes),
		cmocka_unit_test(caps_parse_and_format_round_trip),
		cmocka_unit_test(caps_parse_rejects_unknown_empty_and_spaced_words),
		cmocka_unit_test(caps_format_cuts_at_a_word_boundary),
		cmocka_unit_test(generated_passwords_are_32_alphanumerics_and_differ),
		cmocka_unit_test(generate_password_refuses_a_short_buffer),
		cmocka_unit_test(verify_matches_an_independent_sha256_vector),
		cmocka_unit_test(verify_rejects_wrong_prefix_longer_empty_and_oversized),
		cmocka_unit_test(set_password_uses_a_fresh_salt_each_time),
		cmocka_unit_test(set_password_refuses_empty_and_oversized_and_keeps_the_old),
		cmocka_unit_test(parse_reads_entries_sorted_and_skips_comments_blanks_crlf),
		cmocka_unit_test(parse_accepts_an_empty_file),
		cmocka_unit_test(parse_reports_each_kind_of_bad_line_with_its_number),
		cmocka_unit_test(parse_reports_the_first_bad_line_duplicate_or_syntax),
		cmocka_unit_test(parse_bounds_line_length_and_quotes_hostile_bytes),
		cmocka_unit_test(parse_stops_at_too_many_tenants),
		cmocka_unit_test(find_uses_exact_length_names),
		cmocka_unit_test(add_keeps_order_and_rejects_duplicates_bad_names_and_limits),
		cmocka_unit_test(remove_and_set_password_need_an_existing_tenant),
		cmocka_unit_test(entry_format_is_the_file_line_and_refuses_a_short_buffer),
		cmocka_unit_test(save_then_load_round_trips_with_mode_0600),
		cmocka_unit_test(connection_limits_are_optional_and_old_files_stay_identical),
		cmocka_unit_test(save_fails_cleanly_in_a_missing_directory),
		cmocka_unit_test(load_reports_missing_directory_and_oversized_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
