/*
 * output — a connection's replies (contract in output.h).
 */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "mcd.h"

#define OUT_IOV_MAX 64          /* pieces per sendmsg */
#define OUT_SEGS_INITIAL 16
#define OUT_SEGS_KEEP 4096      /* scratch pieces kept between events */

/* Room for one more scratch piece; false (and w->oom) without memory. */
static bool
segs_reserve(struct worker *w)
{
	struct out_seg *n;
	size_t cap;

	if (w->nosegs < w->osegcap)
		return true;
	cap = w->osegcap ? w->osegcap * 2 : OUT_SEGS_INITIAL;
	n = realloc(w->osegs, cap * sizeof(*n));
	if (n == NULL) {
		w->oom = true;
		return false;
	}
	w->osegs = n;
	w->osegcap = cap;
	return true;
}

void
out_append(struct worker *w, const void *p, size_t len)
{
	struct out_seg *last;

	if (len == 0 || w->oom)
		return;
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
	last = w->nosegs > 0 ? &w->osegs[w->nosegs - 1] : NULL;
	if (last != NULL && last->ref == NULL && last->off + last->len == w->olen &&
	    (uint64_t)last->len + len <= UINT32_MAX) {
		last->len += (uint32_t)len;
	} else {
		if (!segs_reserve(w))
			return;
		w->osegs[w->nosegs++] = (struct out_seg){ NULL, w->olen, (uint32_t)len, NULL };
	}
	memcpy(w->obuf + w->olen, p, len);
	w->olen += len;
	w->oqueued += len;
}

void
out_ref(struct worker *w, struct store *s, struct store_ref *ref, const char *value,
    size_t len)
{
	if (ref == NULL || len == 0) {
		out_append(w, value, len);
		store_ref_release(s, ref);
		return;
	}
	if (w->oom || !segs_reserve(w)) {
		store_ref_release(s, ref);
		return;
	}
	w->osegs[w->nosegs++] = (struct out_seg){ value, 0, (uint32_t)len, ref };
	w->oqueued += len;
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

size_t
out_queued(const struct worker *w)
{
	return w->oqueued;
}

void
out_mark(const struct worker *w, struct out_mark *m)
{
	m->olen = w->olen;
	m->nsegs = w->nosegs;
	m->queued = w->oqueued;
}

void
out_rewind(struct worker *w, const struct out_mark *m, struct store *s)
{
	size_t i;

	for (i = m->nsegs; i < w->nosegs; i++)
		store_ref_release(s, w->osegs[i].ref);
	w->nosegs = m->nsegs;
	w->olen = m->olen;
	w->oqueued = m->queued;
	/* Text appended since m may have extended the last piece. */
	if (w->nosegs > 0) {
		struct out_seg *last = &w->osegs[w->nosegs - 1];
		if (last->ref == NULL && last->off + last->len > w->olen)
			last->len = (uint32_t)(w->olen - last->off);
	}
}

/* Empties the scratch (its references already released or moved) and gives back
 * what an unusually large event made it grow to. */
static void
scratch_reset(struct worker *w)
{
	w->olen = 0;
	w->nosegs = 0;
	w->oqueued = 0;
	if (w->ocap > MCD_SCRATCH_KEEP) {
		free(w->obuf);
		w->obuf = NULL;
		w->ocap = 0;
	}
	if (w->osegcap > OUT_SEGS_KEEP) {
		free(w->osegs);
		w->osegs = NULL;
		w->osegcap = 0;
	}
}

void
output_discard(struct worker *w, struct store *s)
{
	static const struct out_mark start;

	out_rewind(w, &start, s);
	scratch_reset(w);
}

/* Counts delta bytes of unsent output kept by c (worker and tenant gauges). */
static void
queue_count(struct conn *c, int64_t delta)
{
	STAT_ADD(c->w->stats.reply_bytes_queued, (uint64_t)delta);
	if (c->tenant != NULL)
		atomic_fetch_add_explicit(&c->tenant->counters.reply_bytes_queued, (uint64_t)delta,
		    memory_order_relaxed);
}

static struct store *
conn_store(const struct conn *c)
{
	return c->tenant != NULL ? c->tenant->store : NULL;
}

/* Writes p[0..len) through TLS; bytes written, 0 if it would block, -1 on error. */
static ssize_t
tls_write(struct conn *c, const char *p, size_t len)
{
	int r = SSL_write(c->ssl, p, (int)(len > INT32_MAX ? INT32_MAX : len));

	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		return 0;
	default:
		return -1;
	}
}

/*
 * Writes segs[*i..n) from byte *off of segs[*i] on, until all is sent or the socket
 * would block; base resolves scratch text (NULL: pieces hold pointers). Each piece
 * sent whole has its reference released. Advances *i and *off, adds the bytes
 * written to *sent. 0, or -1 on a socket error.
 */
static int
write_segs(struct conn *c, struct out_seg *segs, size_t n, const char *base, size_t *i,
    size_t *off, uint64_t *sent)
{
	struct store *s = conn_store(c);

	while (*i < n) {
		struct iovec iov[OUT_IOV_MAX];
		size_t k = 0, j, o, left;
		ssize_t w;

		for (j = *i, o = *off; j < n && k < OUT_IOV_MAX; j++, o = 0) {
			const char *p = segs[j].ref != NULL || base == NULL ? segs[j].p :
			    base + segs[j].off;
			iov[k].iov_base = (char *)p + o;
			iov[k].iov_len = segs[j].len - o;
			k++;
			if (c->ssl != NULL)
				break; /* TLS: one piece per write, retried as it was */
		}
		if (c->ssl != NULL) {
			w = tls_write(c, iov[0].iov_base, iov[0].iov_len);
		} else {
			struct msghdr msg = { .msg_iov = iov, .msg_iovlen = k };
			w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				w = 0;
			else if (w < 0 && errno == EINTR)
				continue;
		}
		if (w < 0)
			return -1;
		if (w == 0)
			return 0;
		STAT_ADD(c->w->stats.bytes_written, (uint64_t)w);
		*sent += (uint64_t)w;
		for (left = (size_t)w; left > 0;) {
			struct out_seg *sg = &segs[*i];
			size_t rem = sg->len - *off;
			if (left < rem) {
				*off += left;
				break;
			}
			left -= rem;
			store_ref_release(s, sg->ref);
			sg->ref = NULL;
			(*i)++;
			*off = 0;
		}
	}
	return 0;
}

/* Moves segs[i..) of the scratch, from byte off of segs[i], to c: text copied into
 * one buffer, references moved. -1 without memory (nothing moved). */
static int
keep_rest(struct conn *c, size_t i, size_t off)
{
	struct worker *w = c->w;
	size_t n = w->nosegs - i, text = 0, pos = 0, j, k;
	uint64_t queued = 0;

	for (j = i; j < w->nosegs; j++)
		if (w->osegs[j].ref == NULL)
			text += w->osegs[j].len - (j == i ? off : 0);
	c->segs = malloc(n * sizeof(*c->segs));
	c->out = text > 0 ? malloc(text) : NULL;
	if (c->segs == NULL || (text > 0 && c->out == NULL)) {
		free(c->segs);
		free(c->out);
		c->segs = NULL;
		c->out = NULL;
		return -1;
	}
	for (j = i, k = 0; j < w->nosegs; j++, k++) {
		struct out_seg sg = w->osegs[j];
		size_t o = j == i ? off : 0;
		if (sg.ref != NULL) {
			sg.p += o;
		} else {
			memcpy(c->out + pos, w->obuf + sg.off + o, sg.len - o);
			sg.p = c->out + pos;
			pos += sg.len - o;
		}
		sg.len -= (uint32_t)o;
		sg.off = 0;
		c->segs[k] = sg;
		queued += sg.len;
		w->osegs[j].ref = NULL; /* moved */
	}
	c->nsegs = (uint32_t)n;
	c->segi = 0;
	c->segoff = 0;
	c->queued = queued;
	queue_count(c, (int64_t)queued);
	return 0;
}

int
output_send(struct conn *c)
{
	struct worker *w = c->w;
	size_t i = 0, off = 0;
	uint64_t sent = 0;
	int rc = 0;

	if (output_pending(c)) {
		rc = -1; /* broken invariant: a connection with kept output is not served */
		goto out_discard;
	}
	if (write_segs(c, w->osegs, w->nosegs, w->obuf, &i, &off, &sent) < 0) {
		rc = -1;
		goto out_discard;
	}
	if (i < w->nosegs) {
		if (keep_rest(c, i, off) < 0) {
			rc = -1;
			goto out_discard;
		}
		rc = 1;
	}
	scratch_reset(w);
	return rc;
out_discard:
	output_discard(w, conn_store(c));
	return rc;
}

int
output_flush(struct conn *c)
{
	size_t i = c->segi, off = c->segoff;
	uint64_t sent = 0;
	int r;

	r = write_segs(c, c->segs, c->nsegs, NULL, &i, &off, &sent);
	c->segi = (uint32_t)i;
	c->segoff = (uint32_t)off;
	c->queued -= sent;
	queue_count(c, -(int64_t)sent);
	if (r < 0)
		return -1;
	if (output_pending(c))
		return 1;
	output_release(c);
	return 0;
}

void
output_release(struct conn *c)
{
	struct store *s = conn_store(c);
	uint32_t i;

	for (i = c->segi; i < c->nsegs; i++)
		store_ref_release(s, c->segs[i].ref);
	if (c->queued > 0)
		queue_count(c, -(int64_t)c->queued);
	free(c->segs);
	free(c->out);
	c->segs = NULL;
	c->out = NULL;
	c->nsegs = c->segi = c->segoff = 0;
	c->queued = 0;
}
