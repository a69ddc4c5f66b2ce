/* Unit tests of lib/sdnotify: what reaches $NOTIFY_SOCKET, a path or an abstract name,
 * and that nothing is sent (and nothing fails) without one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "sdnotify.h"
#include "tests/unit/helper.h"

/* Binds a datagram socket at sa (length salen) and returns it; fails the test if it
 * cannot. */
static int
bind_receiver(const struct sockaddr_un *sa, socklen_t salen)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (const struct sockaddr *)sa, salen), 0);
	return fd;
}

/* The next datagram on fd, without waiting: the send is synchronous on AF_UNIX. */
static void
assert_received(int fd, const char *want)
{
	char buf[SDNOTIFY_MESSAGE_MAX + 1];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
ready_stopping_reach_a_path_socket(void **state)
{
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX], buf[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	(void)state;

	assert_int_equal(test_dir_make(dir, sizeof(dir), "sdnotify"), 0);
	test_dir_file(path, sizeof(path), dir, "notify");
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = bind_receiver(&sa, sizeof(sa));
	setenv("NOTIFY_SOCKET", path, 1);

	assert_int_equal(sdnotify_ready(), 1);
	assert_received(fd, "READY=1");
	assert_int_equal(sdnotify_stopping(), 1);
	assert_received(fd, "STOPPING=1");
	assert_int_equal(sdnotify_reloading(), 1);
	assert_true(recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT) > 0);
	assert_memory_equal(buf, "RELOADING=1\nMONOTONIC_USEC=", 27);

	unsetenv("NOTIFY_SOCKET");
	close(fd);
	test_dir_remove(dir);
}

static void
an_at_sign_names_the_abstract_namespace(void **state)
{
	char name[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;
	(void)state;

	len = (size_t)snprintf(name, sizeof(name), "@mcops-test-notify-%ld", (long)getpid());
	memcpy(sa.sun_path + 1, name + 1, len - 1); /* sun_path[0] stays NUL */
	fd = bind_receiver(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	setenv("NOTIFY_SOCKET", name, 1);

	assert_int_equal(sdnotify_ready(), 1);
	assert_received(fd, "READY=1");

	unsetenv("NOTIFY_SOCKET");
	close(fd);
}

static void
without_notify_socket_nothing_is_sent_and_nothing_fails(void **state)
{
	(void)state;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_ready(), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sdnotify_stopping(), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void
a_bad_socket_name_fails_and_says_why(void **state)
{
	char err[128], longname[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	(void)state;

	setenv("NOTIFY_SOCKET", "run/notify", 1);
	assert_int_equal(sdnotify_send("READY=1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "neither an absolute path"));

	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	assert_int_equal(sdnotify_send("READY=1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));

	/* Nobody listens there: the send fails, the daemon goes on. */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_int_equal(sdnotify_send("READY=1", err, sizeof(err)), -1);
	assert_int_equal(sdnotify_ready(), -1);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ready_stopping_reach_a_path_socket),
		cmocka_unit_test(an_at_sign_names_the_abstract_namespace),
		cmocka_unit_test(without_notify_socket_nothing_is_sent_and_nothing_fails),
		cmocka_unit_test(a_bad_socket_name_fails_and_says_why),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
