/* Unit tests of lib/sha256: the FIPS 180-4 and RFC 4231 vectors, every way of feeding
 * the same bytes, libcrypto's answers on random inputs, the constant-time compare. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sha256.h"

static void
hex(const uint8_t *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void
assert_digest(const void *data, size_t len, const char *want)
{
	uint8_t d[SHA256_LEN];
	char got[2 * SHA256_LEN + 1];

	sha256(data, len, d);
	hex(d, sizeof(d), got);
	assert_string_equal(got, want);
}

static void
digests_match_the_fips_vectors(void **state)
{
	struct sha256 c;
	uint8_t d[SHA256_LEN], chunk[1000];
	char got[2 * SHA256_LEN + 1];
	int i;

	(void)state;
	assert_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
		      "qklmnopqrlmnopqrsmnopqrstnopqrstu",
	    112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	/* One million 'a', fed in pieces of 1,000. */
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	for (i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final(&c, d);
	hex(d, sizeof(d), got);
	assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every split of the same bytes into two updates, across block and padding edges,
 * gives the digest of the whole. */
static void
any_split_gives_the_same_digest(void **state)
{
	uint8_t msg[200], whole[SHA256_LEN], parts[SHA256_LEN];
	struct sha256 c;
	size_t len, cut;

	(void)state;
	for (len = 0; len < sizeof(msg); len++)
		msg[len] = (uint8_t)(len * 7 + 3);
	for (len = 0; len <= sizeof(msg); len += 1) {
		sha256(msg, len, whole);
		for (cut = 0; cut <= len; cut += (len > 130 ? 13 : 1)) {
			sha256_init(&c);
			sha256_update(&c, msg, cut);
			sha256_update(&c, NULL, 0);
			sha256_update(&c, msg + cut, len - cut);
			sha256_final(&c, parts);
			assert_memory_equal(whole, parts, SHA256_LEN);
		}
	}
}

static void
assert_hmac(const void *key, size_t keylen, const void *data, size_t len, const char *want)
{
	uint8_t d[SHA256_LEN];
	char got[2 * SHA256_LEN + 1];

	hmac_sha256(key, keylen, data, len, d);
	hex(d, sizeof(d), got);
	assert_string_equal(got, want);
}

static void
hmacs_match_the_rfc4231_vectors(void **state)
{
	uint8_t key[131], data[50];

	(void)state;
	memset(key, 0x0b, 20); /* case 1 */
	assert_hmac(key, 20, "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_hmac("Jefe", 4, "what do ya want for nothing?", 28, /* case 2 */
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, 20); /* case 3 */
	memset(data, 0xdd, 50);
	assert_hmac(key, 20, data, 50,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	memset(key, 0xaa, sizeof(key)); /* case 6: a key longer than a block */
	assert_hmac(key, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* Random lengths and contents agree with libcrypto, digest and HMAC. */
static void
agrees_with_libcrypto_on_random_inputs(void **state)
{
	uint8_t buf[5000], key[100], ours[SHA256_LEN], theirs[EVP_MAX_MD_SIZE];
	unsigned int n;
	int i;
	size_t len, klen, j;

	(void)state;
	srand(12345);
	for (i = 0; i < 300; i++) {
		len = (size_t)rand() % sizeof(buf);
		klen = (size_t)rand() % sizeof(key);
		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)rand();
		for (j = 0; j < klen; j++)
			key[j] = (uint8_t)rand();
		sha256(buf, len, ours);
		assert_int_equal(EVP_Digest(buf, len, theirs, &n, EVP_sha256(), NULL), 1);
		assert_int_equal(n, SHA256_LEN);
		assert_memory_equal(ours, theirs, SHA256_LEN);
		hmac_sha256(key, klen, buf, len, ours);
		assert_non_null(HMAC(EVP_sha256(), key, (int)klen, buf, len, theirs, &n));
		assert_memory_equal(ours, theirs, SHA256_LEN);
	}
}

static void
compare_tells_equal_from_different(void **state)
{
	uint8_t a[32], b[32];
	size_t i;

	(void)state;
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_int_equal(timingsafe_compare(a, b, sizeof(a)), 0);
	assert_int_equal(timingsafe_compare(a, b, 0), 0);
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x01;
		assert_int_not_equal(timingsafe_compare(a, b, sizeof(a)), 0);
		b[i] ^= 0x81;
		assert_int_not_equal(timingsafe_compare(a, b, sizeof(a)), 0);
		b[i] = a[i];
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(digests_match_the_fips_vectors),
		cmocka_unit_test(any_split_gives_the_same_digest),
		cmocka_unit_test(hmacs_match_the_rfc4231_vectors),
		cmocka_unit_test(agrees_with_libcrypto_on_random_inputs),
		cmocka_unit_test(compare_tells_equal_from_different),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
