/*
 * sdnotify — systemd's notify protocol without libsystemd (sdnotify.h).
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"

/* Fills *sa from $NOTIFY_SOCKET's value and returns the address length to pass to
 * sendto(), or 0 with err filled. */
static socklen_t
notify_address(const char *name, struct sockaddr_un *sa, char *err, size_t errlen)
{
	size_t len = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (name[0] != '/' && name[0] != '@') {
		errbuf_set(err, errlen, "NOTIFY_SOCKET '%s' is neither an absolute path nor "
		    "an abstract name ('@...')", name);
		return 0;
	}
	/* A path needs its NUL inside sun_path; an abstract name has none but its
	 * leading NUL takes the '@''s place, and its length is what the address says. */
	if (len >= sizeof(sa->sun_path) + (name[0] == '@')) {
		errbuf_set(err, errlen, "NOTIFY_SOCKET is too long (%zu bytes)", len);
		return 0;
	}
	memcpy(sa->sun_path, name, len);
	if (name[0] == '@') {
		sa->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int
sdnotify_send(const char *state, char *err, size_t errlen)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len = strlen(state);
	socklen_t salen;
	ssize_t n;
	int fd, saved;

	if (name == NULL || name[0] == '\0')
		return 0;
	if (len > SDNOTIFY_MESSAGE_MAX) {
		errbuf_set(err, errlen, "notify message too long (%zu bytes)", len);
		return -1;
	}
	if ((salen = notify_address(name, &sa, err, errlen)) == 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		errbuf_set(err, errlen, "notify socket: %s", strerror(errno));
		return -1;
	}
	n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	saved = errno;
	close(fd);
	if (n < 0 || (size_t)n != len) {
		errbuf_set(err, errlen, "notify %s: %s", name,
		    n < 0 ? strerror(saved) : "short write");
		return -1;
	}
	return 1;
}

int
sdnotify_ready(void)
{
	return sdnotify_send("READY=1", NULL, 0);
}

int
sdnotify_reloading(void)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)(clock_now_ns(CLOCK_MONOTONIC) / 1000));
	return sdnotify_send(msg, NULL, 0);
}

int
sdnotify_stopping(void)
{
	return sdnotify_send("STOPPING=1", NULL, 0);
}
