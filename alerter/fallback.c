/*
 * fallback — see fallback.h.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "fallback.h"

struct reply {
	size_t kept;
};

/* Reads the reply and drops it: only the status matters, and its size is not ours. */
static size_t
drop_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	(void)data;
	if (r->kept < FALLBACK_REPLY_MAX)
		r->kept += len < FALLBACK_REPLY_MAX - r->kept ? len : FALLBACK_REPLY_MAX - r->kept;
	return len;
}

int
fallback_init(struct fallback *f, const char *url, int64_t timeout_ms, char *err,
    size_t errlen)
{
	memset(f, 0, sizeof(*f));
	if (strlen(url) >= sizeof(f->url)) {
		snprintf(err, errlen, "the fallback URL is too long");
		return -1;
	}
	snprintf(f->url, sizeof(f->url), "%s", url);
	f->timeout_ms = (long)timeout_ms;
	if ((f->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	return 0;
}

void
fallback_release(struct fallback *f)
{
	if (f->curl != NULL)
		curl_easy_cleanup(f->curl);
	f->curl = NULL;
}

int
fallback_post(struct fallback *f, const char *payload, long *status, char *err, size_t errlen)
{
	struct curl_slist *headers = NULL;
	struct reply r = { 0 };
	CURL *c = f->curl;
	CURLcode rc;
	long code = 0;

	if (status != NULL)
		*status = 0;
	if (c == NULL) {
		snprintf(err, errlen, "no fallback configured");
		return -1;
	}
	curl_easy_reset(c);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, f->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, f->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, f->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mcalert");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	rc = curl_easy_perform(c);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (status != NULL)
		*status = code;
	if (code < 200 || code > 299) {
		snprintf(err, errlen, "HTTP %ld", code);
		return -1;
	}
	return 0;
}
