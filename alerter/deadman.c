/*
 * deadman — see deadman.h.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "deadman.h"

static size_t
drop_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n; /* the service's reply says nothing we act on */
}

int
deadman_init(struct deadman *d, const char *url, int64_t interval_ms, int64_t timeout_ms,
    int64_t now, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (strlen(url) >= sizeof(d->url)) {
		snprintf(err, errlen, "heartbeat_url is longer than %zu bytes", sizeof(d->url) - 1);
		return -1;
	}
	snprintf(d->url, sizeof(d->url), "%s", url);
	d->interval_ms = interval_ms;
	d->timeout_ms = timeout_ms;
	d->next_at = now;
	if ((d->multi = curl_multi_init()) == NULL || (d->easy = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot start libcurl");
		deadman_release(d);
		return -1;
	}
	return 0;
}

void
deadman_release(struct deadman *d)
{
	if (d->in_flight)
		curl_multi_remove_handle(d->multi, d->easy);
	if (d->easy != NULL)
		curl_easy_cleanup(d->easy);
	if (d->multi != NULL)
		curl_multi_cleanup(d->multi);
	d->easy = d->multi = NULL;
	d->in_flight = false;
}

static int
start(struct deadman *d, char *err, size_t errlen)
{
	CURL *c = d->easy;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, DEADMAN_BODY);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)d->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mcalert");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_body);
	if (curl_multi_add_handle(d->multi, c) != CURLM_OK) {
		snprintf(err, errlen, "cannot start a request");
		return -1;
	}
	d->in_flight = true;
	return 0;
}

/* The ping that ended: 0 for a 2xx reply, or -1 with err. */
static int
finish(struct deadman *d, CURLcode rc, char *err, size_t errlen)
{
	long code = 0;

	curl_multi_remove_handle(d->multi, d->easy);
	d->in_flight = false;
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(err, errlen, "HTTP %ld", code);
		return -1;
	}
	return 0;
}

static enum deadman_result
outcome(struct deadman *d, int rc)
{
	bool was_failing = d->failing;

	d->sent++;
	d->failing = rc != 0;
	if (rc != 0) {
		d->failed++;
		return was_failing ? DEADMAN_STILL_FAILING : DEADMAN_FAILED;
	}
	return was_failing ? DEADMAN_RECOVERED : DEADMAN_OK;
}

enum deadman_result
deadman_run(struct deadman *d, int64_t now, char *err, size_t errlen)
{
	CURLMsg *msg;
	int running = 0, left;

	if (!d->in_flight) {
		if (now < d->next_at)
			return DEADMAN_IDLE;
		d->next_at = now + d->interval_ms;
		if (start(d, err, errlen) != 0)
			return outcome(d, -1);
	}
	/* Non-blocking: does what the sockets allow now, and returns. */
	if (curl_multi_perform(d->multi, &running) != CURLM_OK) {
		curl_multi_remove_handle(d->multi, d->easy);
		d->in_flight = false;
		snprintf(err, errlen, "the request failed in libcurl");
		return outcome(d, -1);
	}
	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == d->easy)
			return outcome(d, finish(d, msg->data.result, err, errlen));
	return DEADMAN_IDLE;
}
