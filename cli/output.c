/*
 * How mctl prints a --json result (declared in mctl.h).
 */
#include <stdio.h>

#include <jansson.h>

#include "mctl.h"

int
mctl_print_json(json_t *doc, size_t flags)
{
	int rc;

	if (doc == NULL) {
		mctl_error("out of memory");
		return MCTL_EXIT_FAIL;
	}
	rc = json_dumpf(doc, stdout, flags);
	json_decref(doc);
	if (rc < 0 || fputc('\n', stdout) == EOF) {
		mctl_error("cannot write the result");
		return MCTL_EXIT_FAIL;
	}
	return MCTL_EXIT_OK;
}

json_t *
mctl_time_json(int64_t ms)
{
	char buf[MCTL_TIME_MAX];

	if (ms <= 0)
		return json_null();
	mctl_format_time(ms, buf, sizeof(buf));
	return json_string(buf);
}
