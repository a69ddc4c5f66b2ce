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
 * fits, is made of [A-Za-z0-9_.-] only and is not "." or "..".
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
	/* Not smaller than a 64-bit integer's text: sink_answer_id() cuts a numeric id
	 * to fit (a string one that does not fit is refused); see tests/fuzz/crashes/. */
	static const size_t sizes[] = { 21, 22, SINK_REMOTE_ID_MAX };
	char out[SINK_REMOTE_ID_MAX];
	size_t i, n;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(out, 'x', sizeof(out));
		if (sink_answer_id(body, out, sizes[i]) != 0)
			continue;
		n = strnlen(out, sizes[i]);
		CHECK(n > 0 && n < sizes[i]);
		CHECK(strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789_.-") == n);
		CHECK(strcmp(out, ".") != 0 && strcmp(out, "..") != 0);
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
