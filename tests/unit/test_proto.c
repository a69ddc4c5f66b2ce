/* Unit tests of cache/proto: framing and parsing of every command, and every
 * malformed form next to the well-formed one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cache/proto.h"

static const struct proto_limits lim = { .item_max = 1024 * 1024 };

static enum proto_status
parse(const char *s, struct proto_request *req, size_t *used)
{
	return proto_parse(s, strlen(s), &lim, req, used);
}

static void
tok_eq(struct proto_token t, const char *want)
{
	assert_int_equal(t.len, strlen(want));
	assert_memory_equal(t.p, want, t.len);
}

static void
get_with_many_keys_iterates_them(void **state)
{
	struct proto_request req;
	struct proto_token k;
	size_t used, cur = 0;
	(void)state;

	assert_int_equal(parse("get a  bb ccc\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_GET);
	assert_int_equal(used, 15);
	assert_true(proto_next_key(&req, &cur, &k));
	tok_eq(k, "a");
	assert_true(proto_next_key(&req, &cur, &k));
	tok_eq(k, "bb");
	assert_true(proto_next_key(&req, &cur, &k));
	tok_eq(k, "ccc");
	assert_false(proto_next_key(&req, &cur, &k));
}

static void
get_without_key_or_with_long_key_is_an_error(void **state)
{
	struct proto_request req;
	size_t used;
	char line[300];
	(void)state;

	assert_int_equal(parse("get\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "ERROR");
	memset(line, 'k', sizeof(line));
	memcpy(line, "get ", 4);
	memcpy(line + 4 + 251, "\r\n", 3);
	assert_int_equal(parse(line, &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR bad command line format");
}

static void
line_without_newline_is_incomplete_until_too_long(void **state)
{
	struct proto_request req;
	size_t used;
	char buf[3000];
	(void)state;

	assert_int_equal(parse("set a 0 0 1", &req, &used), PROTO_INCOMPLETE);
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "set ", 4);
	assert_int_equal(proto_parse(buf, 2048, &lim, &req, &used), PROTO_INCOMPLETE);
	assert_int_equal(proto_parse(buf, 2049, &lim, &req, &used), PROTO_CLOSE);
	memcpy(buf, "get ", 4);
	assert_int_equal(proto_parse(buf, sizeof(buf), &lim, &req, &used), PROTO_INCOMPLETE);
}

/* Every proper prefix of a well-formed request is incomplete, never an error or a
 * close: a request split across reads at any byte is served as if whole. */
static void
every_prefix_of_a_valid_request_is_incomplete(void **state)
{
	static char longest[2048 + 2 + 1 + 2 + 1];
	static char longest_get[PROTO_GET_LINE_MAX + 2 + 1];
	const char *reqs[] = {
		"set k 0 0 5\r\nhello\r\n",
		"get a bb ccc\r\n",
		"ms k 3 T0 F7 c k O42\r\nabc\r\n",
		"mg k v f k O1 s t\r\n",
		"incr n 18446744073709551615 noreply\r\n",
		longest,
		longest_get,
	};
	struct proto_request req;
	size_t used;
	(void)state;

	/* A command line of exactly PROTO_LINE_MAX bytes before its "\r\n". */
	memset(longest, ' ', 2048);
	memcpy(longest, "set k 0 0 1", 11);
	memcpy(longest + 2048, "\r\nx\r\n", 6);
	memset(longest_get, 'k', PROTO_GET_LINE_MAX);
	memcpy(longest_get, "get ", 4);
	for (size_t i = 4; i < PROTO_GET_LINE_MAX; i += 200)
		longest_get[i] = ' ';
	memcpy(longest_get + PROTO_GET_LINE_MAX, "\r\n", 3);
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		size_t len = strlen(reqs[r]);
		/* the whole get line is long: check its tail, where the limit is */
		size_t from = len > 4096 ? len - 4096 : 1;

		assert_int_equal(proto_parse(reqs[r], len, &lim, &req, &used), PROTO_OK);
		assert_int_equal(used, len);
		for (size_t n = from; n < len; n++) {
			enum proto_status st = proto_parse(reqs[r], n, &lim, &req, &used);
			if (st != PROTO_INCOMPLETE)
				fail_msg("request %zu cut after %zu of %zu bytes: status %d", r, n,
				    len, (int)st);
		}
	}
}

static void
set_waits_for_its_whole_data_block(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("set k 7 100 5\r\nhel", &req, &used), PROTO_INCOMPLETE);
	assert_int_equal(used, 15 + 5 + 2);
	assert_int_equal(parse("set k 7 100 5\r\nhello\r\nget k\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_SET);
	assert_int_equal(used, 22);
	tok_eq(req.key, "k");
	assert_int_equal(req.flags, 7);
	assert_int_equal(req.exptime, 100);
	assert_int_equal(req.dlen, 5);
	assert_memory_equal(req.data, "hello", 5);
	assert_false(req.noreply);
}

static void
storage_errors_match_memcached(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("set k 0 0\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "ERROR");
	assert_int_equal(parse("set k x 0 1\r\n", &req, &used), PROTO_SWALLOW);
	assert_string_equal(req.error, "CLIENT_ERROR bad command line format");
	assert_int_equal(parse("set k 4294967296 0 1\r\n", &req, &used), PROTO_SWALLOW);
	assert_int_equal(parse("set k 0 0 -1\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR bad command line format");
	assert_int_equal(parse("set k 0 0 3\r\nabcd\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR bad data chunk");
	assert_int_equal(used, 13 + 3 + 2);
	assert_int_equal(parse("set k 0 0 1048577\r\n", &req, &used), PROTO_SWALLOW);
	assert_string_equal(req.error, "SERVER_ERROR object too large for cache");
	assert_true(req.too_large);
	assert_int_equal(req.swallow, 1048577 + 2);
	assert_int_equal(used, 19);
}

/* A refused storage command's data block is discarded whenever its length is known,
 * never parsed as commands (a value "flush_all" must not flush). */
static void
refused_storage_commands_discard_their_data_block(void **state)
{
	static const char *const refused[] = {
		"set k 4294967296 0 9\r\n",        /* flags above 32 bits */
		"set k x 0 9\r\n",                 /* flags not a number */
		"set k 0 x 9\r\n",                 /* bad exptime */
		"set k 0 99999999999999999999 9\r\n",
		"cas k 0 0 9 x\r\n",               /* bad cas */
		"cas k 0 0 9\r\n",                 /* cas without its unique */
		"set k 0 0 9 noreply extra\r\n",   /* too many tokens */
		"append k 0 0 9 a b c d e f g h i j k l m n o p q r s t\r\n", /* far too many */
	};
	char line[400];
	struct proto_request req;
	size_t used, i;
	(void)state;

	memset(line, 'k', sizeof(line));
	memcpy(line, "set ", 4);
	memcpy(line + 4 + 251, " 0 0 9\r\n", 9); /* key too long */
	assert_int_equal(parse(line, &req, &used), PROTO_SWALLOW);
	assert_int_equal(req.swallow, 11);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%sflush_all\r\n", refused[i]);
		assert_int_equal(parse(buf, &req, &used), PROTO_SWALLOW);
		assert_int_equal(used, strlen(refused[i]));
		assert_int_equal(req.swallow, strlen("flush_all\r\n"));
		assert_non_null(req.error);
	}
	/* No length to trust: memcached's reply, and the next line is a command. */
	assert_int_equal(parse("set k 0 0 -1\r\nflush_all\r\n", &req, &used), PROTO_ERROR);
	assert_int_equal(used, strlen("set k 0 0 -1\r\n"));
	assert_int_equal(parse("set k 0 0 2147483645\r\n", &req, &used), PROTO_SWALLOW);
	assert_true(req.too_large);
	assert_int_equal(parse("set k 0 0 2147483646\r\n", &req, &used), PROTO_ERROR);
	assert_int_equal(parse("set k 0 0\r\n", &req, &used), PROTO_ERROR);
}

static void
noreply_and_cas(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("cas k 1 2 1 99 noreply\r\nx\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_CAS);
	assert_int_equal(req.cas, 99);
	assert_true(req.noreply);
	assert_int_equal(parse("cas k 1 2 1\r\n", &req, &used), PROTO_SWALLOW);
	assert_string_equal(req.error, "ERROR");
	assert_int_equal(parse("set k 0 0 1 extra\r\nx\r\n", &req, &used), PROTO_OK);
	assert_false(req.noreply); /* memcached ignores a stray last token */
}

static void
delete_incr_touch_forms(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("delete k\r\n", &req, &used), PROTO_OK);
	assert_int_equal(parse("delete k 0\r\n", &req, &used), PROTO_OK);
	assert_int_equal(parse("delete k noreply\r\n", &req, &used), PROTO_OK);
	assert_true(req.noreply);
	assert_int_equal(parse("delete k 5\r\n", &req, &used), PROTO_ERROR);
	assert_non_null(strstr(req.error, "Usage: delete <key> [noreply]"));
	/* A refused delete that asked for no reply gets none (memcached's t/issue_3.t): the
	 * error is marked noreply, which the executor honours for classic commands. */
	assert_int_equal(parse("delete k 10 noreply\r\n", &req, &used), PROTO_ERROR);
	assert_true(req.noreply);
	assert_int_equal(parse("delete k 10 x\r\n", &req, &used), PROTO_ERROR);
	assert_false(req.noreply);
	assert_int_equal(parse("delete k 0 noreply\r\n", &req, &used), PROTO_OK);
	assert_true(req.noreply);
	assert_int_equal(parse("incr k 18446744073709551615\r\n", &req, &used), PROTO_OK);
	assert_true(req.delta == UINT64_MAX);
	assert_int_equal(parse("incr k -1\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR invalid numeric delta argument");
	assert_int_equal(parse("touch k -5\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.exptime, -5);
	assert_int_equal(parse("touch k soon\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR invalid exptime argument");
	assert_int_equal(parse("gat 10 a b\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_GAT);
	assert_int_equal(req.exptime, 10);
}

static void
flush_verbosity_version_quit(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("flush_all\r\n", &req, &used), PROTO_OK);
	assert_false(req.has_arg);
	assert_int_equal(parse("flush_all 30 noreply\r\n", &req, &used), PROTO_OK);
	assert_true(req.has_arg && req.arg == 30 && req.noreply);
	assert_int_equal(parse("flush_all soon\r\n", &req, &used), PROTO_ERROR);
	/* memcached refuses a level that is no number; with noreply it says nothing */
	assert_int_equal(parse("verbosity noreply\r\n", &req, &used), PROTO_ERROR);
	assert_true(req.noreply);
	assert_int_equal(parse("verbosity x\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR bad command line format");
	assert_int_equal(parse("verbosity 99 noreply\r\n", &req, &used), PROTO_OK);
	assert_true(req.has_arg && req.arg == 10 && req.noreply); /* memcached's maximum */
	assert_int_equal(parse("verbosity\r\n", &req, &used), PROTO_ERROR);
	assert_int_equal(parse("version foo\r\n", &req, &used), PROTO_OK);
	assert_int_equal(parse("quit\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_QUIT);
	assert_int_equal(parse("QUIT\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_OTHER); /* case-sensitive */
	assert_int_equal(parse("\r\n", &req, &used), PROTO_ERROR);
	assert_int_equal(parse("stats settings\n", &req, &used), PROTO_OK); /* bare \n */
	assert_int_equal(req.ntokens, 1);
	tok_eq(req.tokens[0], "settings");
}

static void
meta_flags_parse_in_order_and_validate(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("mg key v t c Oabc T30\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_MG);
	assert_int_equal(req.nmflags, 5);
	assert_int_equal(req.mflags[0].flag, 'v');
	tok_eq(proto_meta_flag(&req, 'O')->tok, "abc");
	tok_eq(proto_meta_flag(&req, 'T')->tok, "30");
	assert_null(proto_meta_flag(&req, 'k'));
	assert_int_equal(parse("mg key v v\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR duplicate flag");
	assert_int_equal(parse("mg key Q\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR invalid flag");
	assert_int_equal(parse("mg key Tx\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR bad token in command line format");
	assert_int_equal(parse("mg key MEE\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR incorrect length for M token");
	assert_int_equal(parse("mg key q\r\n", &req, &used), PROTO_OK);
	assert_true(req.noreply);
}

static void
meta_set_swallows_data_after_a_flag_error(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("ms key 2 T60\r\nhi\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.dlen, 2);
	assert_int_equal(used, 18);
	assert_int_equal(parse("ms key 2 Z\r\nhi\r\n", &req, &used), PROTO_SWALLOW);
	assert_string_equal(req.error, "CLIENT_ERROR invalid flag");
	assert_int_equal(used, 12);
	assert_int_equal(req.swallow, 4);
	assert_int_equal(parse("ms key x\r\n", &req, &used), PROTO_ERROR);
	/* More tokens than a line may hold: the data block is not run as commands. */
	assert_int_equal(parse("ms key 9 T1 T2 T3 T4 T5 T6 T7 T8 T9 T10 T11 T12 T13 T14 T15 "
	    "T16 T17 T18 T19 T20 T21 T22 T23 T24 T25\r\nflush_all\r\n", &req, &used),
	    PROTO_SWALLOW);
	assert_string_equal(req.error, "CLIENT_ERROR options flags are too long");
	assert_int_equal(req.swallow, 11);
	assert_int_equal(parse("mn\r\n", &req, &used), PROTO_OK);
	assert_int_equal(req.cmd, CMD_MN);
}

static void
meta_base64_key_is_decoded(void **state)
{
	struct proto_request req;
	size_t used;
	(void)state;

	assert_int_equal(parse("mg Zm9vYmFy b v\r\n", &req, &used), PROTO_OK);
	assert_true(req.key_binary);
	tok_eq(req.key, "foobar");
	assert_int_equal(parse("mg Zm9v!mFy b v\r\n", &req, &used), PROTO_ERROR);
	assert_string_equal(req.error, "CLIENT_ERROR error decoding key");
}

static void
base64_round_trips(void **state)
{
	const char *in[] = { "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *out[] = { "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char enc[16];
	unsigned char dec[16];
	(void)state;

	for (size_t i = 0; i < 6; i++) {
		size_t n = proto_base64_encode((const unsigned char *)in[i], strlen(in[i]), enc,
		    sizeof(enc));
		assert_int_equal(n, strlen(out[i]));
		assert_memory_equal(enc, out[i], n);
		n = proto_base64_decode(out[i], strlen(out[i]), dec, sizeof(dec));
		assert_int_equal(n, strlen(in[i]));
		assert_memory_equal(dec, in[i], n);
	}
	assert_int_equal(proto_base64_decode("Zm9", 3, dec, sizeof(dec)), 0);
	assert_int_equal(proto_base64_decode("Z=9v", 4, dec, sizeof(dec)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_with_many_keys_iterates_them),
		cmocka_unit_test(get_without_key_or_with_long_key_is_an_error),
		cmocka_unit_test(line_without_newline_is_incomplete_until_too_long),
		cmocka_unit_test(every_prefix_of_a_valid_request_is_incomplete),
		cmocka_unit_test(set_waits_for_its_whole_data_block),
		cmocka_unit_test(storage_errors_match_memcached),
		cmocka_unit_test(refused_storage_commands_discard_their_data_block),
		cmocka_unit_test(noreply_and_cas),
		cmocka_unit_test(delete_incr_touch_forms),
		cmocka_unit_test(flush_verbosity_version_quit),
		cmocka_unit_test(meta_flags_parse_in_order_and_validate),
		cmocka_unit_test(meta_set_swallows_data_after_a_flag_error),
		cmocka_unit_test(meta_base64_key_is_decoded),
		cmocka_unit_test(base64_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
