/*
 * mcclient — see mcclient.h.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "mcclient.h"
#include "mcreply.h"

#define MCCLIENT_READ_CHUNK 16384

/* Waits for events on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - clock_monotonic_ms();
		if (left <= 0)
			return 0;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

void
mcclient_close(struct mcclient *c)
{
	if (c->connected)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
connect_one(const struct addrinfo *ai, int64_t deadline, int *out_errno)
{
	int fd, rc, soerr = 0, one = 1;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd < 0) {
		*out_errno = errno;
		return -1;
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc == 0) {
			*out_errno = ETIMEDOUT;
			close(fd);
			return -1;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
			*out_errno = errno;
			close(fd);
			return -1;
		}
		if (soerr != 0) {
			*out_errno = soerr;
			close(fd);
			return -1;
		}
	} else if (rc < 0) {
		*out_errno = errno;
		close(fd);
		return -1;
	}
	/* One command, one reply: do not wait for more bytes before sending. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

enum mcclient_status
mcclient_connect(struct mcclient *c, const char *host, uint16_t port, int timeout_ms,
    char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char portstr[8];
	int64_t deadline;
	int rc, last_errno = 0;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	snprintf(c->addr, sizeof(c->addr), strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    host, (unsigned)port);
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	deadline = clock_monotonic_ms() + c->timeout_ms;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		errbuf_set(err, errlen, "%s: cannot resolve: %s", c->addr, gai_strerror(rc));
		return MCCLIENT_ERR_IO;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = connect_one(ai, deadline, &last_errno);
		if (c->fd >= 0)
			break;
	}
	freeaddrinfo(res);
	c->connected = c->fd >= 0;
	if (c->fd < 0) {
		if (last_errno == ETIMEDOUT)
			errbuf_set(err, errlen, "%s: connect: no answer within %d ms", c->addr,
			    c->timeout_ms);
		else
			errbuf_set(err, errlen, "%s: connect: %s", c->addr,
			    strerror(last_errno));
		return MCCLIENT_ERR_IO;
	}
	return MCCLIENT_OK;
}

static enum mcclient_status
send_all(struct mcclient *c, const char *p, size_t n, int64_t deadline, char *err,
    size_t errlen)
{
	ssize_t w;
	int rc;

	while (n > 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(c->fd, POLLOUT, deadline);
			if (rc == 0) {
				errbuf_set(err, errlen, "%s: send: timed out after %d ms",
				    c->addr, c->timeout_ms);
				return MCCLIENT_ERR_IO;
			}
			if (rc > 0)
				continue;
		}
		errbuf_set(err, errlen, "%s: send: %s", c->addr, strerror(errno));
		return MCCLIENT_ERR_IO;
	}
	return MCCLIENT_OK;
}

/*
 * Reads until a complete reply of kind is in buf: sets c->reply_len and *f. The reply
 * is NUL-terminated in place of its final line end.
 */
static enum mcclient_status
read_reply(struct mcclient *c, enum mcreply_kind kind, int64_t deadline,
    struct mcreply_frame *f, char *err, size_t errlen)
{
	enum mcreply_status fs;
	ssize_t r;
	char *nb;
	int rc;

	c->len = 0;
	c->reply_len = 0;
	for (;;) {
		fs = c->len > 0 ? mcreply_frame(c->buf, c->len, kind, f) : MCREPLY_MORE;
		if (fs == MCREPLY_MALFORMED) {
			errbuf_set(err, errlen, "%s: %s", c->addr, f->why);
			return MCCLIENT_ERR_PROTO;
		}
		if (fs == MCREPLY_COMPLETE) {
			if (f->len != c->len) {
				errbuf_set(err, errlen, "%s: unexpected bytes after the reply",
				    c->addr);
				return MCCLIENT_ERR_PROTO;
			}
			c->buf[f->last_off + f->last_len] = '\0';
			c->reply_len = f->last_off + f->last_len;
			return MCCLIENT_OK;
		}
		if (c->len == MCCLIENT_REPLY_MAX) {
			errbuf_set(err, errlen, "%s: reply larger than %d bytes", c->addr,
			    MCCLIENT_REPLY_MAX);
			return MCCLIENT_ERR_PROTO;
		}
		if (c->cap - c->len < 2) { /* room for a byte and the NUL */
			size_t ncap = c->cap == 0 ? MCCLIENT_READ_CHUNK : c->cap * 2;
			if (ncap > MCCLIENT_REPLY_MAX + 1)
				ncap = MCCLIENT_REPLY_MAX + 1;
			if ((nb = realloc(c->buf, ncap)) == NULL) {
				errbuf_set(err, errlen, "%s: out of memory", c->addr);
				return MCCLIENT_ERR_IO;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		r = recv(c->fd, c->buf + c->len, c->cap - 1 - c->len, 0);
		if (r > 0) {
			c->len += (size_t)r;
			continue;
		}
		if (r == 0) {
			errbuf_set(err, errlen, "%s: connection closed by the server%s",
			    c->addr, c->len > 0 ? " in the middle of a reply" : "");
			return MCCLIENT_ERR_IO;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			errbuf_set(err, errlen, "%s: receive: %s", c->addr, strerror(errno));
			return MCCLIENT_ERR_IO;
		}
		rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc == 0) {
			errbuf_set(err, errlen, "%s: no reply within %d ms", c->addr,
			    c->timeout_ms);
			return MCCLIENT_ERR_IO;
		}
		if (rc < 0) {
			errbuf_set(err, errlen, "%s: receive: %s", c->addr, strerror(errno));
			return MCCLIENT_ERR_IO;
		}
	}
}

static enum mcclient_status
exchange(struct mcclient *c, const char *line, const void *data, size_t dlen, bool has_data,
    enum mcreply_kind kind, const char **reply, const char **last, char *err, size_t errlen)
{
	int64_t deadline = clock_monotonic_ms() + c->timeout_ms;
	enum mcclient_status st;
	struct mcreply_frame f;
	size_t n = strnlen(line, MCCLIENT_LINE_MAX + 1);

	if (!c->connected) {
		errbuf_set(err, errlen, "not connected");
		return MCCLIENT_ERR_IO;
	}
	if (n > MCCLIENT_LINE_MAX || strpbrk(line, "\r\n") != NULL) {
		errbuf_set(err, errlen, "command line is longer than %d bytes or holds CR/LF",
		    MCCLIENT_LINE_MAX);
		return MCCLIENT_ERR_ARG;
	}
	if ((st = send_all(c, line, n, deadline, err, errlen)) != MCCLIENT_OK ||
	    (st = send_all(c, "\r\n", 2, deadline, err, errlen)) != MCCLIENT_OK)
		return st;
	if (has_data && ((st = send_all(c, data, dlen, deadline, err, errlen)) != MCCLIENT_OK ||
	    (st = send_all(c, "\r\n", 2, deadline, err, errlen)) != MCCLIENT_OK))
		return st;
	if ((st = read_reply(c, kind, deadline, &f, err, errlen)) != MCCLIENT_OK)
		return st;
	if (reply != NULL)
		*reply = c->buf;
	if (last != NULL)
		*last = c->buf + f.last_off;
	if (f.error) {
		errbuf_set(err, errlen, "%s: %s", c->addr, c->buf + f.last_off);
		return MCCLIENT_ERR_REPLY;
	}
	return MCCLIENT_OK;
}

enum mcclient_status
mcclient_command(struct mcclient *c, const char *line, const char **reply, const char **last,
    char *err, size_t errlen)
{
	return exchange(c, line, NULL, 0, false, MCREPLY_ANY, reply, last, err, errlen);
}

enum mcclient_status
mcclient_command_data(struct mcclient *c, const char *line, const void *data, size_t len,
    const char **reply, const char **last, char *err, size_t errlen)
{
	return exchange(c, line, data, len, true, MCREPLY_ANY, reply, last, err, errlen);
}

enum mcclient_status
mcclient_auth(struct mcclient *c, const char *user, const char *password, char *err,
    size_t errlen)
{
	char line[MCCLIENT_LINE_MAX + 1];
	size_t plen = strlen(password);
	const char *last;
	enum mcclient_status st;
	int n;

	if (user[0] == '\0' || strpbrk(user, " \r\n\t") != NULL ||
	    strpbrk(password, "\r\n") != NULL) {
		errbuf_set(err, errlen, "%s: invalid user name or password", c->addr);
		return MCCLIENT_ERR_ARG;
	}
	n = snprintf(line, sizeof(line), "set %s 0 0 %zu", user, plen);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errbuf_set(err, errlen, "%s: user name too long", c->addr);
		return MCCLIENT_ERR_ARG;
	}
	st = exchange(c, line, password, plen, true, MCREPLY_LINE, NULL, &last, err, errlen);
	if (st == MCCLIENT_ERR_REPLY) {
		errbuf_set(err, errlen, "%s: authentication as '%s' failed: %s", c->addr, user,
		    last);
		return st;
	}
	if (st != MCCLIENT_OK)
		return st;
	if (strcmp(last, "STORED") != 0) {
		errbuf_set(err, errlen, "%s: authentication as '%s' failed: %s", c->addr, user,
		    last);
		return MCCLIENT_ERR_REPLY;
	}
	return MCCLIENT_OK;
}

void
mcclient_stats_release(struct mcclient_stats *st)
{
	free(st->v);
	st->v = NULL;
	st->n = 0;
}

enum mcclient_status
mcclient_parse_stats(const char *text, size_t len, struct mcclient_stats *st, char *err,
    size_t errlen)
{
	struct mcreply_stats_iter it;
	struct mcreply_stat one;
	struct mcclient_stat *nv;
	size_t cap = 0;
	int rc;

	mcclient_stats_release(st);
	mcreply_stats_begin(&it, text, len);
	while ((rc = mcreply_stats_next(&it, &one)) == 1) {
		if (one.name_len > MCCLIENT_STAT_NAME_MAX || one.value_len > MCCLIENT_STAT_VALUE_MAX) {
			errbuf_set(err, errlen, "stats line %d is too long", it.lineno);
			goto out_release_stats;
		}
		if (st->n == MCCLIENT_STATS_MAX) {
			errbuf_set(err, errlen, "more than %d stats", MCCLIENT_STATS_MAX);
			goto out_release_stats;
		}
		if (st->n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(st->v, cap * sizeof(*nv))) == NULL) {
				errbuf_set(err, errlen, "out of memory");
				goto out_release_stats;
			}
			st->v = nv;
		}
		memcpy(st->v[st->n].name, one.name, one.name_len);
		st->v[st->n].name[one.name_len] = '\0';
		memcpy(st->v[st->n].value, one.value, one.value_len);
		st->v[st->n].value[one.value_len] = '\0';
		st->n++;
	}
	if (rc == 0)
		return MCCLIENT_OK;
	if (strcmp(it.why, "has no END") == 0)
		errbuf_set(err, errlen, "stats reply has no END");
	else
		errbuf_set(err, errlen, "stats line %d %s", it.lineno, it.why);
out_release_stats:
	mcclient_stats_release(st);
	return MCCLIENT_ERR_PROTO;
}

enum mcclient_status
mcclient_stats(struct mcclient *c, const char *args, struct mcclient_stats *st, char *err,
    size_t errlen)
{
	char line[MCCLIENT_LINE_MAX + 1];
	const char *reply;
	enum mcclient_status rc;
	int n;

	if (args != NULL && args[0] != '\0')
		n = snprintf(line, sizeof(line), "stats %s", args);
	else
		n = snprintf(line, sizeof(line), "stats");
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errbuf_set(err, errlen, "stats arguments too long");
		return MCCLIENT_ERR_ARG;
	}
	if ((rc = exchange(c, line, NULL, 0, false, MCREPLY_STATS, &reply, NULL, err,
	    errlen)) != MCCLIENT_OK)
		return rc;
	/* The reply's final "END" lost its CRLF to the NUL; the parser takes that. */
	rc = mcclient_parse_stats(reply, c->reply_len, st, err, errlen);
	if (rc != MCCLIENT_OK) {
		char why[200];
		snprintf(why, sizeof(why), "%s", err != NULL ? err : "");
		errbuf_set(err, errlen, "%s: %s", c->addr, why);
	}
	return rc;
}

const char *
mcclient_stats_get(const struct mcclient_stats *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		if (strcmp(st->v[i].name, name) == 0)
			return st->v[i].value;
	}
	return NULL;
}
