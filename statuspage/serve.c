/*
 * serve — see serve.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <event2/buffer.h>

#include "cluster.h"
#include "httpd.h"
#include "serve.h"
#include "subscribe.h"

#define SERVE_PATH_MAX 1024
#define SERVE_HEADERS_MAX 8192
#define SERVE_BODY_MAX 1024      /* a small body is read so that a PUT gets its 405 */
#define SERVE_PAUSE_MS 250       /* accept() failed (no descriptor left): pause */

struct serve {
	struct httpd *httpd; /* owned */
	const char *dir;     /* borrowed */
	struct subs *subs;   /* borrowed; NULL: GET and HEAD only */
	void (*queued)(void *arg);
	void *queued_arg;
};

static const char *
content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot == NULL)
		return "application/octet-stream";
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".json") == 0)
		return "application/json";
	if (strcmp(dot, ".atom") == 0)
		return "application/atom+xml";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	return "application/octet-stream";
}

/* One path component at a time from dirfd, refusing a symlink at any depth: the
 * kernel has no openat2 (before Linux 5.6). The path has no "..", "//" or "%". */
static int
open_walking(int dirfd, const char *rel)
{
	char part[SERVE_PATH_MAX];
	const char *slash;
	size_t n;
	int fd = dirfd, next;

	for (;;) {
		slash = strchr(rel, '/');
		if (slash == NULL)
			return openat(fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		n = (size_t)(slash - rel);
		if (n == 0 || n >= sizeof(part)) {
			errno = ENOENT;
			next = -1;
		} else {
			memcpy(part, rel, n);
			part[n] = '\0';
			next = openat(fd, part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY);
		}
		if (fd != dirfd)
			close(fd);
		if (next < 0)
			return -1;
		fd = next;
		rel = slash + 1;
	}
}

/*
 * Opens rel (relative, no leading '/') beneath the directory root for reading, with
 * no symlink at any depth: a symlinked directory inside the site must not serve what
 * it points at (O_NOFOLLOW alone guards only the last component). openat2's
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it, else a walk.
 */
static int
open_beneath(const char *root, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int dirfd, fd, e;

	if ((dirfd = open(root, O_RDONLY | O_CLOEXEC | O_DIRECTORY)) < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = open_walking(dirfd, rel);
	e = errno;
	close(dirfd);
	errno = e;
	return fd;
}

static void
plain(struct httpd_response *res, int code, const char *text)
{
	httpd_reply(res, code, "text/plain; charset=utf-8", text, strlen(text));
}

static void
on_request(void *arg, const struct httpd_request *req, struct httpd_response *res)
{
	struct serve *s = arg;
	const char *path = req->path;
	const char *inm;
	char full[SERVE_PATH_MAX * 2], etag[64];
	struct stat st;
	size_t n;
	int fd;
	bool queued = false;

	if (subs_handle(s->subs, req, res, &queued)) {
		if (queued && s->queued != NULL)
			s->queued(s->queued_arg);
		return;
	}
	if (!req->head && strcmp(req->method, "GET") != 0) {
		httpd_header(res, "Allow", "GET, HEAD");
		plain(res, 405, "405 Method Not Allowed\n");
		return;
	}
	if (path[0] != '/' || strlen(path) >= SERVE_PATH_MAX ||
	    strstr(path, "..") != NULL || strchr(path, '%') != NULL || strstr(path, "//")) {
		plain(res, 400, "400 Bad Request\n");
		return;
	}
	n = strlen(path);
	snprintf(full, sizeof(full), "%s%s", path + 1, path[n - 1] == '/' ? "index.html" : "");
	if ((fd = open_beneath(s->dir, full)) < 0) {
		plain(res, 404, "404 Not Found\n");
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SERVE_FILE_MAX) {
		close(fd);
		plain(res, 404, "404 Not Found\n");
		return;
	}
	/* The site writer replaces files by rename, so inode + size + mtime change together. */
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
	    (unsigned long long)st.st_size, (unsigned long long)st.st_mtim.tv_nsec ^
	    (unsigned long long)st.st_mtim.tv_sec);
	httpd_header(res, "ETag", etag);
	httpd_header(res, "Cache-Control", "no-cache");
	httpd_header(res, "X-Content-Type-Options", "nosniff");
	httpd_header(res, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
	    "frame-ancestors 'none'");
	inm = httpd_request_header(req, "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		close(fd);
		httpd_reply(res, 304, NULL, NULL, 0);
		return;
	}
	httpd_reply(res, 200, content_type(full), NULL, 0);
	/* evbuffer_add_file takes the descriptor; the listener drops the body for HEAD. */
	if (st.st_size == 0)
		close(fd);
	else if (evbuffer_add_file(httpd_body(res), fd, 0, st.st_size) < 0)
		plain(res, 500, "500 Internal Server Error\n");
}

/* The lowest descriptor free now (-1 if none is). */
static int
lowest_free_fd(void)
{
	int fd = open("/", O_RDONLY | O_CLOEXEC | O_DIRECTORY);

	if (fd >= 0)
		close(fd);
	return fd;
}

/*
 * Visitors never take the descriptors the site writer, the log and the sinks need,
 * and never more than SERVE_CONNECTIONS_MAX: the cap is what the descriptor limit
 * leaves above the lowest free one, less SERVE_FD_RESERVE.
 */
static size_t
connections_cap(void)
{
	struct rlimit rl;
	rlim_t limit = 1024;
	int lowest = lowest_free_fd(), ceiling;

	if (lowest < 0)
		lowest = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		limit = rl.rlim_cur; /* RLIM_INFINITY is the largest value: cut below */
	if (limit > (rlim_t)(1 << 20))
		limit = 1 << 20;
	ceiling = (int)limit - SERVE_FD_RESERVE;
	if (ceiling > lowest + SERVE_CONNECTIONS_MAX)
		ceiling = lowest + SERVE_CONNECTIONS_MAX;
	if (ceiling < lowest + 4) /* a tiny limit: still serve a few */
		ceiling = lowest + 4;
	return (size_t)(ceiling - lowest);
}

struct serve *
serve_start(struct event_base *base, const char *listen, const char *dir,
    struct subs *subs, void (*queued)(void *arg), void *queued_arg, char *err, size_t errlen)
{
	struct httpd_limits limits = {
		.connections_max = connections_cap(),
		.timeout_ms = SERVE_TIMEOUT_MS,
		.headers_max = SERVE_HEADERS_MAX,
		.body_max = subs != NULL ? SUBS_BODY_MAX : SERVE_BODY_MAX,
		.accept_retry_ms = SERVE_PAUSE_MS,
	};
	struct cluster_addr addr;
	struct serve *s;
	char why[256];

	if (cluster_addr_parse(listen, &addr, err, errlen) < 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->dir = dir;
	s->subs = subs;
	s->queued = queued;
	s->queued_arg = queued_arg;
	if ((s->httpd = httpd_start(base, addr.host, addr.port, &limits, on_request, s, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "listen %s: %s", addr.text, why);
		free(s);
		return NULL;
	}
	return s;
}

void
serve_stop(struct serve *s)
{
	if (s == NULL)
		return;
	httpd_stop(s->httpd);
	free(s);
}

int
serve_accept_news(struct serve *s, char *msg, size_t len)
{
	return httpd_accept_news(s->httpd, msg, len);
}
