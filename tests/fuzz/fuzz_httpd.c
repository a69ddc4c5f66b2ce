/*
 * Fuzz target: the HTTP request head parser of lib/httpd.h (httpd_parse_head), which
 * reads what any client of /metrics, the status site and the Alertmanager intake
 * sends.
 *
 * Beyond "does not crash", it checks the contract: the answer is 0 or one of the
 * refusals the header names; an accepted head has a method of token characters, at
 * most HTTPD_HEADERS_COUNT headers with non-empty names, strings that lie inside the
 * head, and a body length within the cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

#define BODY_MAX 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(const char *p, const char *buf, size_t size)
{
	return p >= buf && p <= buf + size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpd_header hdrs[HTTPD_HEADERS_COUNT];
	struct httpd_request req;
	size_t body_len, i;
	char *head = malloc(size + 1);
	int rc;

	if (head == NULL)
		return 0;
	memcpy(head, data, size);
	head[size] = '\0';
	rc = httpd_parse_head(head, BODY_MAX, &req, hdrs, &body_len);
	if (rc != 0 && rc != 400 && rc != 411 && rc != 413 && rc != 431)
		abort();
	if (rc == 0) {
		if (req.method[0] == '\0' || strpbrk(req.method, " \r\n") != NULL ||
		    !inside(req.method, head, size) ||
		    (!inside(req.query, head, size) && req.query[0] != '\0') ||
		    (!inside(req.path, head, size) && strcmp(req.path, "/") != 0))
			abort();
		if (req.nheaders > HTTPD_HEADERS_COUNT || body_len > BODY_MAX)
			abort();
		for (i = 0; i < req.nheaders; i++) {
			if (hdrs[i].name[0] == '\0' || !inside(hdrs[i].name, head, size) ||
			    !inside(hdrs[i].value, head, size))
				abort();
		}
	}
	free(head);
	return 0;
}
