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

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "cluster.h"
#include "log.h"
#include "serve.h"

#define SERVE_PATH_MAX 1024
#define SERVE_HEADERS_MAX 8192
#define SERVE_PAUSE_MS 250       /* accepting pauses this long when full */

struct serve {
	struct evhttp *http;
	struct evconnlistener *listener; /* owned by http */
	struct event *resume;
	const char *dir;
	/* Accept no more connections while the lowest free descriptor is at or above it:
	 * visitors never take the descriptors the site writer, the log and the sinks need,
	 * and never more than about SERVE_CONNECTIONS_MAX. */
	int fd_ceiling;
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

static void
plain(struct evhttp_request *req, int code, const char *reason)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	if (b != NULL)
		evbuffer_add_printf(b, "%d %s\n", code, reason);
	evhttp_send_reply(req, code, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct serve *s = arg;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *inm;
	char full[SERVE_PATH_MAX * 2], etag[64];
	struct evbuffer *body;
	struct stat st;
	size_t n;
	int fd;

	if (path == NULL || path[0] != '/' || strlen(path) >= SERVE_PATH_MAX ||
	    strstr(path, "..") != NULL || strchr(path, '%') != NULL || strstr(path, "//")) {
		plain(req, HTTP_BADREQUEST, "Bad Request");
		return;
	}
	n = strlen(path);
	snprintf(full, sizeof(full), "%s%s%s", s->dir, path,
	    path[n - 1] == '/' ? "index.html" : "");
	if ((fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		plain(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SERVE_FILE_MAX) {
		close(fd);
		plain(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	/* The site writer replaces files by rename, so inode + size + mtime change together. */
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
	    (unsigned long long)st.st_size, (unsigned long long)st.st_mtim.tv_nsec ^
	    (unsigned long long)st.st_mtim.tv_sec);
	evhttp_add_header(h, "Content-Type", content_type(full));
	evhttp_add_header(h, "ETag", etag);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
	    "frame-ancestors 'none'");
	inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		close(fd);
		evhttp_send_reply(req, HTTP_NOTMODIFIED, "Not Modified", NULL);
		return;
	}
	if ((body = evbuffer_new()) == NULL) {
		close(fd);
		plain(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	/* evbuffer_add_file takes the descriptor; libevent's HEAD handling drops the body. */
	if (st.st_size == 0)
		close(fd);
	else if (evbuffer_add_file(body, fd, 0, st.st_size) < 0) {
		evbuffer_free(body);
		plain(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* The lowest descriptor free now (-1 if none is). */
static int
lowest_free_fd(const struct serve *s)
{
	int fd = fcntl(evconnlistener_get_fd(s->listener), F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void
pause_accepting(struct serve *s)
{
	struct timeval tv = { 0, SERVE_PAUSE_MS * 1000 };

	evconnlistener_disable(s->listener);
	event_add(s->resume, &tv);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(s->listener);
}

/* Called by evhttp for each accepted connection, before it reads: when this one
 * fills the budget, stop accepting for a while (the kernel's backlog holds the rest).
 * NULL: evhttp makes its usual bufferevent. */
static struct bufferevent *
on_connection(struct event_base *base, void *arg)
{
	struct serve *s = arg;
	int fd = lowest_free_fd(s);

	(void)base;
	if (fd < 0 || fd >= s->fd_ceiling) {
		LOG_LIMITED(LOG_LEVEL_WARN, "serve: %s, accepting again in %d ms",
		    fd < 0 ? "no descriptor left" : "at the connection limit", SERVE_PAUSE_MS);
		pause_accepting(s);
	}
	return NULL;
}

/* accept() failed with something other than "try again" (out of descriptors, of
 * memory): libevent would call it again at once, forever, so pause instead. */
static void
on_accept_error(struct evconnlistener *listener, void *arg)
{
	struct serve *s = arg;

	(void)listener;
	LOG_LIMITED(LOG_LEVEL_WARN, "serve: cannot accept a connection: %s; accepting again in "
	    "%d ms", strerror(errno), SERVE_PAUSE_MS);
	pause_accepting(s);
}

static int
fd_ceiling(int lowest_free)
{
	struct rlimit rl;
	rlim_t limit = 1024;
	int ceiling;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		limit = rl.rlim_cur; /* RLIM_INFINITY is the largest value: cut below */
	if (limit > (rlim_t)(1 << 20))
		limit = 1 << 20;
	ceiling = (int)limit - SERVE_FD_RESERVE;
	if (ceiling > lowest_free + SERVE_CONNECTIONS_MAX)
		ceiling = lowest_free + SERVE_CONNECTIONS_MAX;
	if (ceiling < lowest_free + 4) /* a tiny limit: still serve a few */
		ceiling = lowest_free + 4;
	return ceiling;
}

struct serve *
serve_start(struct event_base *base, const char *listen, const char *dir, char *err,
    size_t errlen)
{
	struct evhttp_bound_socket *bound;
	struct cluster_addr addr;
	struct serve *s;

	if (cluster_addr_parse(listen, &addr, err, errlen) < 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->http = evhttp_new(base)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->dir = dir;
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(s->http, SERVE_HEADERS_MAX);
	evhttp_set_max_body_size(s->http, 0);
	evhttp_set_timeout(s->http, SERVE_TIMEOUT_S);
	evhttp_set_gencb(s->http, on_request, s);
	if ((s->resume = evtimer_new(base, on_resume, s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		evhttp_free(s->http);
		free(s);
		return NULL;
	}
	if ((bound = evhttp_bind_socket_with_handle(s->http, addr.host, addr.port)) == NULL) {
		snprintf(err, errlen, "listen %s: cannot listen (in use, or not an address of "
		    "this host)", addr.text);
		event_free(s->resume);
		evhttp_free(s->http);
		free(s);
		return NULL;
	}
	s->listener = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(s->listener, on_accept_error);
	s->fd_ceiling = fd_ceiling(lowest_free_fd(s));
	evhttp_set_bevcb(s->http, on_connection, s);
	return s;
}

void
serve_stop(struct serve *s)
{
	if (s == NULL)
		return;
	evhttp_free(s->http);
	event_free(s->resume);
	free(s);
}
