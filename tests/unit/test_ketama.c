/*
 * Unit tests of lib/ketama: placements equal to nutcracker's ketama/md5, points per
 * server and weights, wrap-around, the share of keys that moves when a server comes
 * or goes, and the inputs it refuses.
 *
 * The expected tables were computed once, when this test was written, by a separate
 * implementation in Python (hashlib's MD5, the single-precision steps emulated with
 * struct 'f' round trips, a stable sort), written from twemproxy's nc_ketama.c and
 * nc_conf.c. tests/integration/test_ketama.py checks the same placements against a
 * running nutcracker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ketama.h"

#define ERR_LEN 256
#define MOVE_KEYS 10000 /* keys placed by the movement tests */
#define NODES_MAX 32    /* servers in one movement-test cluster */

static const char *const KEYS[] = {
	"foo",
	"bar",
	"baz",
	"user:1",
	"user:2",
	"user:3",
	"session:abcdef",
	"a",
	"0",
	"key-with-a-longer-name-than-most:0042",
	"\xff" /* then a NUL, see KEY_BINARY_LEN */,
	"",
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))
#define KEY_BINARY 10 /* KEYS[10] is the 8 bytes "\xff\0binary" */
static const char KEY_BINARY_BYTES[] = "\xff\0binary";

static size_t
key_len(size_t i, const void **data)
{
	if (i == KEY_BINARY) {
		*data = KEY_BINARY_BYTES;
		return sizeof(KEY_BINARY_BYTES) - 1;
	}
	*data = KEYS[i];
	return strlen(KEYS[i]);
}

struct expected {
	const char *what;
	const struct ketama_server *servers;
	size_t nservers;
	size_t points_per_server[25];
	uint32_t first_value, last_value;
	int placement[NKEYS]; /* of KEYS, in order */
};

/* Three servers listed without names on ports 11212..11214: named "host:port". */
static const struct ketama_server THREE[] = {
	{"127.0.0.1:11212", 1},
	{"127.0.0.1:11213", 1},
	{"127.0.0.1:11214", 1},
};
/* Named servers with weights 1:2:3:4. */
static const struct ketama_server WEIGHTED[] = {
	{"alpha", 1},
	{"beta", 2},
	{"gamma", 3},
	{"delta", 4},
};
static struct ketama_server TWENTY_FIVE[25];

static const struct expected TABLE[] = {
	{"three unnamed", THREE, 3, {160, 160, 160}, 0x00f35431, 0xffb38146,
	    {2, 0, 0, 2, 1, 2, 1, 0, 1, 2, 2, 0}},
	{"weighted named", WEIGHTED, 4, {64, 128, 192, 256}, 0x0031b809, 0xfff49125,
	    {2, 3, 0, 2, 0, 2, 2, 3, 3, 2, 2, 3}},
	/* 25 equal servers: nutcracker's float arithmetic gives 39 hashes, not 40. */
	{"twenty-five", TWENTY_FIVE, 25,
	    {156, 156, 156, 156, 156, 156, 156, 156, 156, 156, 156, 156, 156, 156, 156, 156, 156,
		156, 156, 156, 156, 156, 156, 156, 156},
	    0x002d17d6, 0xffd7cf52, {5, 17, 22, 21, 4, 0, 9, 19, 1, 9, 9, 23}},
};

static char twenty_five_names[25][16];

static int
setup_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < 25; i++) {
		snprintf(twenty_five_names[i], sizeof(twenty_five_names[i]), "node-%02u", (unsigned)i);
		TWENTY_FIVE[i].name = twenty_five_names[i];
		TWENTY_FIVE[i].weight = 1;
	}
	return 0;
}

static void
build(struct ketama *k, const struct ketama_server *servers, size_t n)
{
	char err[ERR_LEN] = "";

	if (ketama_init(k, servers, n, err, sizeof(err)) != 0)
		fail_msg("ketama_init: %s", err);
}

static size_t
points_of(const struct ketama *k, size_t server)
{
	size_t i, n = 0;

	for (i = 0; i < k->npoints; i++)
		n += k->points[i].server == server;
	return n;
}

static void
key_hash_is_the_md5_prefix_little_endian(void **state)
{
	struct ketama k;
	uint32_t h;

	(void)state;
	build(&k, THREE, 3);
	/* MD5("foo") = acbd18db 4cc2f85c ... */
	assert_int_equal(ketama_hash(&k, "foo", 3, &h), 0);
	assert_int_equal(h, 0xdb18bdac);
	assert_int_equal(ketama_hash(&k, "bar", 3, &h), 0);
	assert_int_equal(h, 0x191db537);
	assert_int_equal(ketama_hash(&k, KEY_BINARY_BYTES, 8, &h), 0);
	assert_int_equal(h, 0x08197719);
	/* nutcracker hashes an empty key to 0, not to MD5(""). */
	assert_int_equal(ketama_hash(&k, "", 0, &h), 0);
	assert_int_equal(h, 0);
	ketama_release(&k);
}

static void
placements_match_the_reference_tables(void **state)
{
	struct ketama k;
	const void *key;
	size_t t, i, len;

	(void)state;
	for (t = 0; t < sizeof(TABLE) / sizeof(TABLE[0]); t++) {
		const struct expected *e = &TABLE[t];
		size_t total = 0;

		build(&k, e->servers, e->nservers);
		for (i = 0; i < e->nservers; i++) {
			if (points_of(&k, i) != e->points_per_server[i])
				fail_msg("%s: server %zu has %zu points, want %zu", e->what, i,
				    points_of(&k, i), e->points_per_server[i]);
			total += e->points_per_server[i];
		}
		assert_int_equal(k.npoints, total);
		assert_int_equal(k.points[0].value, e->first_value);
		assert_int_equal(k.points[k.npoints - 1].value, e->last_value);
		for (i = 0; i + 1 < k.npoints; i++)
			assert_true(k.points[i].value <= k.points[i + 1].value);
		for (i = 0; i < NKEYS; i++) {
			len = key_len(i, &key);
			if (ketama_lookup(&k, key, len) != e->placement[i])
				fail_msg("%s: key %zu goes to %d, want %d", e->what, i,
				    ketama_lookup(&k, key, len), e->placement[i]);
		}
		ketama_release(&k);
	}
}

static void
hash_past_the_last_point_wraps_to_the_first(void **state)
{
	struct ketama k;
	uint32_t h;

	(void)state;
	build(&k, WEIGHTED, 4);
	/* First and last points belong to different servers here, so a lookup that
	 * forgot to wrap would answer the last point's server. */
	assert_int_equal(k.points[0].server, 3);
	assert_int_equal(k.points[k.npoints - 1].server, 2);
	assert_int_equal(ketama_hash(&k, "wrap-2391", 9, &h), 0);
	assert_true(h > k.points[k.npoints - 1].value);
	assert_int_equal(ketama_lookup(&k, "wrap-2391", 9), 3);
	assert_int_equal(ketama_lookup_hash(&k, UINT32_MAX), 3);
	/* A hash equal to a point belongs to that point; one above, to the next. */
	assert_int_equal(ketama_lookup_hash(&k, k.points[5].value), (int)k.points[5].server);
	if (k.points[6].value > k.points[5].value)
		assert_int_equal(ketama_lookup_hash(&k, k.points[5].value + 1),
		    (int)k.points[6].server);
	assert_int_equal(ketama_lookup_hash(&k, 0), (int)k.points[0].server);
	ketama_release(&k);
}

static void
one_server_takes_every_key(void **state)
{
	const struct ketama_server one = {"solo", 7};
	struct ketama k;

	(void)state;
	build(&k, &one, 1);
	assert_int_equal(k.npoints, KETAMA_POINTS_PER_SERVER);
	assert_int_equal(ketama_lookup(&k, "foo", 3), 0);
	assert_int_equal(ketama_lookup(&k, "", 0), 0);
	ketama_release(&k);
}

/* Weights scale points, rounded down to a multiple of 4 in nutcracker's float
 * arithmetic: 1:2 gives 26 and 53 hashes, not 26.67 and 53.33. */
static void
weights_scale_points_and_key_shares(void **state)
{
	const struct ketama_server two[] = {{"a", 1}, {"b", 2}};
	const struct ketama_server five[] = {{"127.0.0.1:11212", 3}, {"127.0.0.1:11213", 1},
	    {"127.0.0.1:11214", 1}, {"127.0.0.1:11215", 1}, {"127.0.0.1:11216", 1}};
	size_t counts[5] = {0}, i, n = 70000, others;
	char key[32];
	struct ketama k;
	int len, s;

	(void)state;
	build(&k, two, 2);
	assert_int_equal(points_of(&k, 0), 104);
	assert_int_equal(points_of(&k, 1), 212);
	ketama_release(&k);

	build(&k, five, 5);
	assert_int_equal(points_of(&k, 0), 340);
	for (i = 1; i < 5; i++)
		assert_int_equal(points_of(&k, i), 112);
	/*
	 * Server 0 has 3/7 of the weight; each other 1/7. The ring itself is uneven
	 * (ketama with ~112 points per unit of weight: arcs of 11.5% to 15.3% where
	 * 14.3% is fair, here), so each share is allowed 25% either way of its weight's
	 * share, and server 0 must hold 2.5 to 3.5 times the others' mean. Measured:
	 * 30686, 7982, 10712, 10375, 10245 of 70000.
	 */
	for (i = 0; i < n; i++) {
		len = snprintf(key, sizeof(key), "weight:%zu", i);
		s = ketama_lookup(&k, key, (size_t)len);
		assert_in_range(s, 0, 4);
		counts[s]++;
	}
	assert_in_range(counts[0], n * 3 / 7 * 3 / 4, n * 3 / 7 * 5 / 4);
	for (i = 1; i < 5; i++)
		assert_in_range(counts[i], n / 7 * 3 / 4, n / 7 * 5 / 4);
	others = counts[1] + counts[2] + counts[3] + counts[4];
	assert_in_range(counts[0] * 4 * 10, others * 25, others * 35);
	ketama_release(&k);
}

static void
list_order_does_not_change_who_holds_a_key(void **state)
{
	const struct ketama_server reversed[] = {
	    {"delta", 4}, {"gamma", 3}, {"beta", 2}, {"alpha", 1}};
	struct ketama a, b;
	char key[32];
	int i, len;

	(void)state;
	build(&a, WEIGHTED, 4);
	build(&b, reversed, 4);
	for (i = 0; i < 2000; i++) {
		len = snprintf(key, sizeof(key), "order:%d", i);
		assert_int_equal(ketama_lookup(&a, key, (size_t)len),
		    3 - ketama_lookup(&b, key, (size_t)len));
	}
	ketama_release(&a);
	ketama_release(&b);
}

/* Servers node-0 .. node-(n-1), weight 1; names[i] must outlive the use. */
static void
nodes(struct ketama_server *s, char names[][16], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(names[i], 16, "node-%u", (unsigned)i);
		s[i].name = names[i];
		s[i].weight = 1;
	}
}

/* The name of the server holding each of MOVE_KEYS keys. */
static void
place_all(const struct ketama_server *s, size_t n, const char **holder)
{
	struct ketama k;
	char key[32];
	int i, len, at;

	build(&k, s, n);
	for (i = 0; i < MOVE_KEYS; i++) {
		len = snprintf(key, sizeof(key), "key:%d", i);
		at = ketama_lookup(&k, key, (size_t)len);
		assert_in_range(at, 0, n - 1);
		holder[i] = s[at].name;
	}
	ketama_release(&k);
}

/*
 * Adding a server to n-1 moves about 1/n of the keys, all of them to the new
 * server; removing one of n moves about 1/n, all of them its own. Band: 0.5/n to
 * 1.5/n of MOVE_KEYS. Measured (key:0 .. key:9999): n=3 adds 3276 / removes 3116;
 * n=5: 1915 / 2008; n=10: 1078 / 839.
 */
static void
adding_or_removing_one_of_n_moves_about_one_nth(void **state)
{
	static const size_t sizes[] = {3, 5, 10};
	static const char *before[MOVE_KEYS], *after[MOVE_KEYS];
	struct ketama_server all[NODES_MAX], fewer[NODES_MAX];
	char names[NODES_MAX][16];
	size_t t, n, i, j, moved, gone;

	(void)state;
	for (t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		n = sizes[t];
		nodes(all, names, n);

		/* Add node-(n-1) to node-0 .. node-(n-2). */
		place_all(all, n - 1, before);
		place_all(all, n, after);
		for (moved = 0, i = 0; i < MOVE_KEYS; i++) {
			if (before[i] == after[i])
				continue;
			moved++;
			assert_ptr_equal(after[i], all[n - 1].name);
		}
		if (moved * n * 2 < MOVE_KEYS || moved * n * 2 > MOVE_KEYS * 3)
			fail_msg("adding 1 to %zu: %zu of %d keys moved", n - 1, moved, MOVE_KEYS);

		/* Remove the middle one of n. */
		gone = n / 2;
		for (i = 0, j = 0; i < n; i++)
			if (i != gone)
				fewer[j++] = all[i];
		place_all(fewer, n - 1, before);
		for (moved = 0, i = 0; i < MOVE_KEYS; i++) {
			if (before[i] == after[i])
				continue;
			moved++;
			assert_ptr_equal(after[i], all[gone].name);
		}
		if (moved * n * 2 < MOVE_KEYS || moved * n * 2 > MOVE_KEYS * 3)
			fail_msg("removing 1 of %zu: %zu of %d keys moved", n, moved, MOVE_KEYS);
	}
}

static void
init_refuses_bad_server_lists(void **state)
{
	char longest[KETAMA_NAME_MAX + 1], too_long[KETAMA_NAME_MAX + 2];
	struct ketama_server s[2], *many;
	char err[ERR_LEN];
	struct ketama k;
	size_t i;

	(void)state;
	memset(longest, 'n', KETAMA_NAME_MAX);
	longest[KETAMA_NAME_MAX] = '\0';
	memset(too_long, 'n', KETAMA_NAME_MAX + 1);
	too_long[KETAMA_NAME_MAX + 1] = '\0';

#define REFUSED(list, n, needle)                                                           \
	do {                                                                               \
		err[0] = '\0';                                                             \
		assert_int_equal(ketama_init(&k, (list), (n), err, sizeof(err)), -1);      \
		assert_non_null(strstr(err, (needle)));                                    \
		assert_null(k.points);                                                     \
		assert_int_equal(k.npoints, 0);                                            \
		ketama_release(&k);                                                        \
	} while (0)

	s[0] = (struct ketama_server){"a", 1};
	s[1] = (struct ketama_server){"b", 1};
	REFUSED(s, 0, "no servers");
	REFUSED(NULL, 0, "no servers");
	s[1].weight = 0;
	REFUSED(s, 2, "weight 0");
	s[1].weight = KETAMA_WEIGHT_MAX + 1;
	REFUSED(s, 2, "not in 1..");
	s[1].weight = 1;
	s[1].name = NULL;
	REFUSED(s, 2, "no name");
	s[1].name = "";
	REFUSED(s, 2, "empty name");
	s[1].name = too_long;
	REFUSED(s, 2, "longer than");
	s[1].name = "a";
	REFUSED(s, 2, "both named 'a'");
	/* Weight 1 beside KETAMA_WEIGHT_MAX: 1/10001 of 80 hashes rounds to none. */
	s[1] = (struct ketama_server){"b", KETAMA_WEIGHT_MAX};
	REFUSED(s, 2, "too small to get any point");

	/* The bounds themselves are accepted. */
	s[0] = (struct ketama_server){longest, KETAMA_WEIGHT_MAX};
	s[1] = (struct ketama_server){"b", KETAMA_WEIGHT_MAX};
	assert_int_equal(ketama_init(&k, s, 2, err, sizeof(err)), 0);
	ketama_release(&k);

	many = calloc(KETAMA_SERVERS_MAX + 1, sizeof(*many));
	char(*names)[16] = calloc(KETAMA_SERVERS_MAX + 1, 16);
	assert_non_null(many);
	assert_non_null(names);
	for (i = 0; i <= KETAMA_SERVERS_MAX; i++) {
		snprintf(names[i], 16, "s%u", (unsigned)i);
		many[i] = (struct ketama_server){names[i], 1};
	}
	REFUSED(many, KETAMA_SERVERS_MAX + 1, "more than");
	assert_int_equal(ketama_init(&k, many, KETAMA_SERVERS_MAX, err, sizeof(err)), 0);
	assert_int_equal(k.npoints, KETAMA_SERVERS_MAX * KETAMA_POINTS_PER_SERVER);
	ketama_release(&k);
	free(names);
	free(many);
#undef REFUSED
}

static void
release_is_safe_twice_and_on_zeroed(void **state)
{
	struct ketama k;

	(void)state;
	memset(&k, 0, sizeof(k));
	ketama_release(&k);
	build(&k, THREE, 3);
	ketama_release(&k);
	ketama_release(&k);
	assert_null(k.points);
}

static void
default_name_leaves_out_port_11211(void **state)
{
	char out[KETAMA_NAME_MAX + 1], err[ERR_LEN], host[KETAMA_NAME_MAX + 1];

	(void)state;
	assert_int_equal(ketama_default_name(out, sizeof(out), "127.0.0.1", 11212, err,
			     sizeof(err)),
	    0);
	assert_string_equal(out, "127.0.0.1:11212");
	assert_int_equal(ketama_default_name(out, sizeof(out), "cache-1.example", 11211, err,
			     sizeof(err)),
	    0);
	assert_string_equal(out, "cache-1.example");

	assert_int_equal(ketama_default_name(out, sizeof(out), "", 11212, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty host"));
	assert_int_equal(ketama_default_name(out, sizeof(out), NULL, 11212, err, sizeof(err)),
	    -1);
	/* 60 + ":11212" is 66 bytes, beyond KETAMA_NAME_MAX; 64 alone with 11211 fits. */
	memset(host, 'h', 60);
	host[60] = '\0';
	assert_int_equal(ketama_default_name(out, sizeof(out), host, 11212, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "longer than"));
	assert_string_equal(out, "");
	memset(host, 'h', KETAMA_NAME_MAX);
	host[KETAMA_NAME_MAX] = '\0';
	assert_int_equal(ketama_default_name(out, sizeof(out), host, 11211, err, sizeof(err)), 0);
	assert_string_equal(out, host);
	/* A small output buffer is refused, not overrun. */
	assert_int_equal(ketama_default_name(out, 8, "127.0.0.1", 11212, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_hash_is_the_md5_prefix_little_endian),
		cmocka_unit_test(placements_match_the_reference_tables),
		cmocka_unit_test(hash_past_the_last_point_wraps_to_the_first),
		cmocka_unit_test(one_server_takes_every_key),
		cmocka_unit_test(weights_scale_points_and_key_shares),
		cmocka_unit_test(list_order_does_not_change_who_holds_a_key),
		cmocka_unit_test(adding_or_removing_one_of_n_moves_about_one_nth),
		cmocka_unit_test(init_refuses_bad_server_lists),
		cmocka_unit_test(release_is_safe_twice_and_on_zeroed),
		cmocka_unit_test(default_name_leaves_out_port_11211),
	};
	return cmocka_run_group_tests(tests, setup_names, NULL);
}
