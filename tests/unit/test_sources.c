/* Unit tests of cache/sources on a fake clock: the prefixes of an address (IPv4 /32
 * and /24, IPv6 /64, IPv4-mapped IPv6 as IPv4), the gauges through login and close,
 * a gauge whose record was evicted, the per-source limits and the listing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "cache/sources.h"

#define T0 1000000 /* ms */

static const struct source_limits no_limits = { 0, 0 };

static struct sockaddr_storage
v4(const char *a, socklen_t *len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
	*len = sizeof(*in);
	return ss;
}

static struct sockaddr_storage
v6(const char *a, socklen_t *len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &in->sin6_addr), 1);
	*len = sizeof(*in);
	return ss;
}

static void
prefixes(const struct sockaddr_storage *ss, socklen_t len, int want, const char *first,
    const char *second)
{
	uint8_t keys[SOURCES_PER_CONN][SOURCE_KEY_LEN];
	char buf[SOURCE_PREFIX_MAX];

	assert_int_equal(source_keys((const struct sockaddr *)ss, len, keys), want);
	source_key_format(keys[0], buf, sizeof(buf));
	assert_string_equal(buf, first);
	assert_true(source_key_is_address(keys[0]));
	if (second != NULL) {
		source_key_format(keys[1], buf, sizeof(buf));
		assert_string_equal(buf, second);
		assert_false(source_key_is_address(keys[1]));
	}
}

static void
an_address_gives_its_prefixes(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	(void)state;

	ss = v4("10.1.2.3", &len);
	prefixes(&ss, len, 2, "10.1.2.3/32", "10.1.2.0/24");
	ss = v6("2001:db8:1:2:aaaa:bbbb:cccc:dddd", &len);
	prefixes(&ss, len, 1, "2001:db8:1:2::/64", NULL);
	/* A dual-stack listener's IPv4 client is an IPv4 source. */
	ss = v6("::ffff:10.1.2.3", &len);
	prefixes(&ss, len, 2, "10.1.2.3/32", "10.1.2.0/24");
	/* Another family is not counted. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	{
		uint8_t keys[SOURCES_PER_CONN][SOURCE_KEY_LEN];
		assert_int_equal(source_keys((struct sockaddr *)&ss, sizeof(ss), keys), 0);
	}
}

/* The record of a prefix as sources_list shows it (fails if it is not listed). */
static struct source_view
view_of(struct sources *s, const char *prefix, int64_t now)
{
	static struct source_view v[64];
	struct source_totals tot;
	char buf[SOURCE_PREFIX_MAX];
	size_t n = sources_list(s, now, v, 64, &tot);

	for (size_t i = 0; i < n; i++) {
		source_key_format(v[i].key, buf, sizeof(buf));
		if (strcmp(buf, prefix) == 0)
			return v[i];
	}
	fail_msg("%s is not listed", prefix);
	return v[0];
}

static void
gauges_follow_login_and_close(void **state)
{
	struct sources s;
	struct sockaddr_storage ss;
	struct source_ref a, b;
	struct source_view v;
	socklen_t len;
	(void)state;

	assert_int_equal(sources_init(&s, 16, 1), 0);
	ss = v4("10.1.2.3", &len);
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&ss, len, T0, &no_limits, true, &a),
	    SOURCE_ADMIT);
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&ss, len, T0, &no_limits, true, &b),
	    SOURCE_ADMIT);
	v = view_of(&s, "10.1.2.0/24", T0);
	assert_int_equal(v.rec.curr, 2);
	assert_int_equal(v.rec.unauth, 2);
	sources_login(&s, &a, false);
	sources_login(&s, &a, true);
	v = view_of(&s, "10.1.2.3/32", T0);
	assert_int_equal(v.rec.unauth, 1);
	assert_int_equal(v.rec.auth_ok, 1);
	assert_int_equal(v.rec.auth_failed, 1);
	sources_closed(&s, &a, 1, true);
	sources_closed(&s, &b, 0, false); /* never logged in: its unauth place goes too */
	v = view_of(&s, "10.1.2.3/32", T0);
	assert_int_equal(v.rec.curr, 0);
	assert_int_equal(v.rec.unauth, 0);
	assert_int_equal(v.rec.conn_reqs[0], 1);
	assert_int_equal(v.new_conns, 2);
	sources_closed(&s, &a, 1, true); /* a second close of an emptied ref: nothing */
	assert_int_equal(view_of(&s, "10.1.2.3/32", T0).rec.conn_reqs[0], 1);
	sources_release(&s);
}

/* A connection whose record was evicted (a flood of other addresses took its slot)
 * closes without touching the slot's new owner. */
static void
a_closed_connection_spares_the_new_owner_of_its_slot(void **state)
{
	struct sources s;
	struct sockaddr_storage ss;
	struct source_ref old, other;
	struct source_totals tot;
	struct source_view v[4];
	char addr[32];
	socklen_t len;
	(void)state;

	assert_int_equal(sources_init(&s, 4, 1), 0);
	ss = v6("2001:db8::1", &len);
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&ss, len, T0, &no_limits, true,
	    &old), SOURCE_ADMIT);
	/* Other /64s, each seen twice, push 2001:db8::/64 (count 1) out. */
	for (int i = 1; i <= 4; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%d::1", i);
		ss = v6(addr, &len);
		for (int k = 0; k < 2; k++) {
			assert_int_equal(sources_accept(&s, (struct sockaddr *)&ss, len, T0,
			    &no_limits, true, &other), SOURCE_ADMIT);
		}
	}
	assert_int_equal(sources_list(&s, T0, v, 4, &tot), 4);
	for (int i = 0; i < 4; i++) {
		char buf[SOURCE_PREFIX_MAX];
		source_key_format(v[i].key, buf, sizeof(buf));
		assert_string_not_equal(buf, "2001:db8::/64");
	}
	sources_closed(&s, &old, 3, true);
	assert_int_equal(sources_list(&s, T0, v, 4, &tot), 4);
	for (int i = 0; i < 4; i++) {
		assert_true(v[i].rec.curr >= 1); /* none lost a connection it still has */
		assert_int_equal(v[i].rec.conn_reqs[2], 0);
	}
	assert_int_equal(tot.new_conns, 9);
	assert_int_equal(tot.tracked, 4);
	sources_release(&s);
}

static void
the_unauthenticated_limit_refuses_that_address_only(void **state)
{
	const struct source_limits lim = { 2, 0 };
	struct sources s;
	struct sockaddr_storage a, b;
	struct source_ref r[3], refused, other;
	socklen_t la, lb;
	(void)state;

	assert_int_equal(sources_init(&s, 16, 1), 0);
	a = v4("10.0.0.1", &la);
	b = v4("10.0.0.2", &lb); /* same /24, another address */
	for (int i = 0; i < 2; i++)
		assert_int_equal(sources_accept(&s, (struct sockaddr *)&a, la, T0, &lim, true, &r[i]),
		    SOURCE_ADMIT);
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&a, la, T0, &lim, true, &refused),
	    SOURCE_REFUSE_UNAUTH);
	assert_int_equal(refused.n, 0);
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&b, lb, T0, &lim, true, &other),
	    SOURCE_ADMIT);
	/* A listener without authentication has no unauthenticated connections. */
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&a, la, T0, &lim, false, &r[2]),
	    SOURCE_ADMIT);
	/* A login makes room. */
	sources_login(&s, &r[0], true);
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&a, la, T0, &lim, true, &r[2]),
	    SOURCE_ADMIT);
	assert_int_equal(view_of(&s, "10.0.0.1/32", T0).rec.rejected, 1);
	assert_int_equal(view_of(&s, "10.0.0.2/32", T0).rec.rejected, 0);
	assert_int_equal(view_of(&s, "10.0.0.0/24", T0).rec.rejected, 1);
	sources_release(&s);
}

static void
the_rate_limit_refuses_that_address_until_it_slows_down(void **state)
{
	const struct source_limits lim = { 0, 2 };
	struct sources s;
	struct sockaddr_storage a, b;
	struct source_ref r;
	socklen_t la, lb;
	int admitted = 0;
	(void)state;

	assert_int_equal(sources_init(&s, 16, 1), 0);
	a = v4("192.0.2.7", &la);
	b = v6("2001:db8::7", &lb);
	for (int i = 0; i < 10; i++) {
		enum source_verdict v = sources_accept(&s, (struct sockaddr *)&a, la, T0, &lim,
		    false, &r);
		admitted += v == SOURCE_ADMIT;
		if (v != SOURCE_ADMIT)
			assert_int_equal(v, SOURCE_REFUSE_RATE);
	}
	assert_int_equal(admitted, 2); /* the burst is the rate */
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&b, lb, T0, &lim, false, &r),
	    SOURCE_ADMIT);
	assert_int_equal(sources_accept(&s, (struct sockaddr *)&a, la, T0 + 500, &lim, false, &r),
	    SOURCE_ADMIT);
	assert_int_equal(view_of(&s, "192.0.2.7/32", T0 + 500).new_conns, 11);
	assert_int_equal(view_of(&s, "192.0.2.7/32", T0 + 500).per_sec, 1); /* 11 / 10 s */
	sources_release(&s);
}

static void
the_list_is_ordered_by_rate_then_count(void **state)
{
	struct sources s;
	struct sockaddr_storage a;
	struct source_ref r;
	struct source_view v[8];
	struct source_totals tot;
	char buf[SOURCE_PREFIX_MAX];
	socklen_t la;
	(void)state;

	assert_int_equal(sources_init(&s, 8, 1), 0);
	a = v4("10.9.9.9", &la);
	for (int i = 0; i < 3; i++) /* long ago: many, but no rate now */
		sources_accept(&s, (struct sockaddr *)&a, la, T0, &no_limits, false, &r);
	a = v4("10.8.8.8", &la);
	for (int i = 0; i < 20; i++)
		sources_accept(&s, (struct sockaddr *)&a, la, T0 + 60000, &no_limits, false, &r);
	assert_int_equal(sources_list(&s, T0 + 60000, v, 8, &tot), 4);
	source_key_format(v[0].key, buf, sizeof(buf));
	assert_string_equal(buf, "10.8.8.0/24"); /* ties: the key, /24 before /32 */
	source_key_format(v[2].key, buf, sizeof(buf));
	assert_string_equal(buf, "10.9.9.0/24");
	assert_int_equal(v[0].per_sec, 2);
	assert_int_equal(tot.capacity, 8);
	assert_true(tot.memory > 8 * sizeof(struct source_record));
	sources_release(&s);
}

static void
requests_per_connection_buckets_have_these_bounds(void **state)
{
	static const struct {
		uint64_t n;
		int bucket;
	} cases[] = { { 0, -1 }, { 1, 0 }, { 2, 1 }, { 3, 2 }, { 10, 2 }, { 11, 3 }, { 100, 3 },
		{ 101, 4 }, { UINT64_MAX, 4 } };
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(connreqs_bucket(cases[i].n), cases[i].bucket);
	assert_string_equal(connreqs_name(0), "conn_reqs_1");
	assert_string_equal(connreqs_name(CONNREQS_BUCKETS - 1), "conn_reqs_101_plus");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_address_gives_its_prefixes),
		cmocka_unit_test(gauges_follow_login_and_close),
		cmocka_unit_test(a_closed_connection_spares_the_new_owner_of_its_slot),
		cmocka_unit_test(the_unauthenticated_limit_refuses_that_address_only),
		cmocka_unit_test(the_rate_limit_refuses_that_address_until_it_slows_down),
		cmocka_unit_test(the_list_is_ordered_by_rate_then_count),
		cmocka_unit_test(requests_per_connection_buckets_have_these_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
