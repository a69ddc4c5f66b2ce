/*
 * output — a connection's replies (contract in output.h).
 */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mcd.h"

void
out_append(struct worker *w, const void *p, size_t len)
{
	if (w->olen + len > w->ocap) {
		size_t cap = w->ocap ? w->ocap : 16384;
		char *nb;
		while (cap < w->olen + len)
			cap *= 2;
		nb = realloc(w->obuf, cap);
		if (nb == NULL) {
			w->oom = true;
			return;
		}
		w->obuf = nb;
		w->ocap = cap;
	}
	memcpy(w->obuf + w->olen, p, len);
	w->olen += len;
}

void
out_str(struct worker *w, const char *s)
{
	out_append(w, s, strlen(s));
	out_append(w, "\r\n", 2);
}

size_t
out_u64(struct worker *w, uint64_t v)
{
	char buf[24];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	out_append(w, buf + i, sizeof(buf) - i);
	return sizeof(buf) - i;
}

void
out_i64(struct worker *w, int64_t v)
{
	if (v < 0) {
		out_append(w, "-", 1);
		out_u64(w, (uint64_t)(-(v + 1)) + 1);
	} else {
		out_u64(w, (uint64_t)v);
	}
}

/* Writes p[0..len) to c's socket (or TLS); returns bytes written (0 if the socket
 * would block), or -1 on error. */
static ssize_t
conn_write(struct conn *c, const char *p, size_t len)
{
	for (;;) {
		ssize_t n;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, (int)len);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					return 0;
				return -1;
			}
			n = r;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				if (errno == EINTR)
					continue;
				return -1;
			}
		}
		STAT_ADD(c->w->stats.bytes_written, (uint64_t)n);
		return n;
	}
}

int
output_flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = conn_write(c, c->out + c->outoff, c->outlen - c->outoff);
		if (n < 0)
			return -1;
		if (n == 0)
			return 1;
		c->outoff += (uint32_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = c->outcap = 0;
	return 0;
}

int
output_send(struct conn *c)
{
	struct worker *w = c->w;
	size_t off = 0;
	int rc = 0;

	while (off < w->olen) {
		ssize_t n = conn_write(c, w->obuf + off, w->olen - off);
		if (n < 0) {
			rc = -1;
			goto out_reset;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (off < w->olen) {
		size_t left = w->olen - off;
		c->out = malloc(left);
		if (c->out == NULL) {
			rc = -1;
			goto out_reset;
		}
		memcpy(c->out, w->obuf + off, left);
		c->outlen = c->outcap = (uint32_t)left;
		c->outoff = 0;
		rc = 1;
	}
out_reset:
	w->olen = 0;
	if (w->ocap > MCD_SCRATCH_KEEP) {
		free(w->obuf);
		w->obuf = NULL;
		w->ocap = 0;
	}
	return rc;
}
