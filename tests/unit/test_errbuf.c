/* Unit tests of lib/errbuf: the caller's buffer is filled, cut, or left alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "errbuf.h"

static void
errbuf_formats_cuts_and_accepts_no_buffer(void **state)
{
	char err[8];
	(void)state;

	errbuf_set(err, sizeof(err), "%s %d", "port", 70000);
	assert_string_equal(err, "port 70");
	errbuf_set(err, sizeof(err), "ok");
	assert_string_equal(err, "ok");
	errbuf_set(NULL, 0, "nothing %d", 1);
	errbuf_set(err, 0, "untouched");
	assert_string_equal(err, "ok");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errbuf_formats_cuts_and_accepts_no_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
