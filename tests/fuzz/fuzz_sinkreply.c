/*
 * Fuzz target: what a remote answers to a push of the status publisher
 * (statuspage/sink.h): the verdict on an answer's status, Retry-After header and
 * body (sink_judge), and the remote id taken from a body (sink_answer_id).
 *
 * The input is text: the status on the first line (digits; anything else is "no
 * answer"), the Retry-After header on the second ("-" or no second line: none), and
 * the body after it (none if absent). Beyond "does not crash", it checks the
 * contracts: the verdict follows the status as documented, a wish to wait is
 * between 0 and a day, the reason is one non-empty line; a remote id is non-empty,
 * fits, is made of [A-Za-z0-9_.-] only and is not "." or ".."; a refused one (too
 * long for the buffer included: never cut) leaves the buffer untouched and says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statuspage/sink.h"
#include "tests/fuzz/check.h"

#define DAY_MS (24LL * 3600 * 1000)
#define NOW_MS 1700000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum sink_verdict
expected(long status)
{
	if (status >= 200 && status < 300)
		return SINK_DONE;
	if (status == 0 || status == 408 || status == 420 || status == 425 || status == 429 ||
	    status >= 500 || status == 401 || status == 403)
		return SINK_RETRY;
	return SINK_GIVE_UP;
}

static void
check_id(const char *body)
{
	/* Small sizes too, in increasing order: an id that does not fit, numeric or not,
	 * is refused whole, so once one is taken every larger buffer takes the same. */
	static const size_t sizes[] = { 1, 2, 8, 20, 21, 22, SINK_REMOTE_ID_MAX };
	char out[SINK_REMOTE_ID_MAX], first[SINK_REMOTE_ID_MAX], why[256];
	size_t i, n;

	first[0] = '\0';
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(out, 'x', sizeof(out));
		why[0] = '\0';
		if (sink_answer_id(body, out, sizes[i], why, sizeof(why)) != 0) {
			CHECK(first[0] == '\0');
			CHECK(why[0] != '\0' && strchr(why, '\n') == NULL);
			for (n = 0; n < sizeof(out); n++)
				CHECK(out[n] == 'x');
			continue;
		}
		n = strnlen(out, sizes[i]);
		CHECK(n > 0 && n < sizes[i]);
		CHECK(strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789_.-") == n);
		CHECK(strcmp(out, ".") != 0 && strcmp(out, "..") != 0);
		if (first[0] == '\0')
			memcpy(first, out, n + 1);
		CHECK(strcmp(out, first) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *retry_after = NULL, *body = NULL, *nl, why[256];
	int64_t wait_ms = -1;
	enum sink_verdict v;
	long status = 0;
	size_t i;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if ((nl = strchr(text, '\n')) != NULL) {
		*nl = '\0';
		retry_after = nl + 1;
		if ((nl = strchr(retry_after, '\n')) != NULL) {
			*nl = '\0';
			body = nl + 1;
		}
		if (strcmp(retry_after, "-") == 0)
			retry_after = NULL;
	}
	for (i = 0; text[i] >= '0' && text[i] <= '9' && i < 4; i++)
		status = status * 10 + (text[i] - '0');
	v = sink_judge(status, retry_after, body, NOW_MS, &wait_ms, why, sizeof(why));
	CHECK(v == expected(status));
	CHECK(wait_ms >= 0 && wait_ms <= DAY_MS);
	CHECK(why[0] != '\0' && strchr(why, '\n') == NULL);
	check_id(body);
	check_id(text);
	free(text);
	return 0;
}
