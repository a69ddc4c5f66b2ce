/*
 * output — a connection's replies: building them and sending them.
 *
 * Replies of one event go to the worker's scratch output: text is copied into the
 * worker's buffer (w->obuf), and values are added by reference (out_ref: a
 * store_ref to the item, sent from the item's memory, never copied). So an idle
 * connection owns no output memory, and a get of a large value costs its header.
 *
 * After the event, output_send writes the scratch to the socket. What the socket
 * does not take stays with the connection: the text copied into one buffer of its
 * own, the references moved over. output_flush sends that when the socket is
 * writable again, releasing each reference once its bytes are sent. A connection
 * with unsent output is not read (the server waits for writability), and the server
 * stops serving its requests once the scratch holds MCD_OUT_CONN_MAX bytes, so what
 * a connection keeps is bounded by that cap plus the reply of one request
 * (MCD_OUT_REQUEST_MAX), counting referenced values at their full size.
 *
 * Unsent bytes (copied and referenced) are counted while a connection keeps them:
 * in the worker's reply_bytes_queued and in its tenant's.
 *
 * Appends never fail visibly: an allocation failure sets w->oom, and the caller
 * (the server, after the event) discards the scratch and closes the connection
 * instead of sending a partial reply.
 */
#ifndef MCOPS_OUTPUT_H
#define MCOPS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

struct worker;
struct conn;
struct store;
struct store_ref;

/* One piece of output: copied text or a referenced value. */
struct out_seg {
	const char *p;            /* the bytes (kept output; referenced values) */
	size_t off;               /* scratch text: offset in w->obuf (it may move) */
	uint32_t len;
	struct store_ref *ref;    /* a value's reference (owned), or NULL for text */
};

/* Appends p[0..len) to the worker's scratch output (copied). */
void out_append(struct worker *w, const void *p, size_t len);
/* Appends s and "\r\n". */
void out_str(struct worker *w, const char *s);
/* Appends the decimal form of v; returns the number of digits. */
size_t out_u64(struct worker *w, uint64_t v);
/* Appends the decimal form of v, with a '-' if negative. */
void out_i64(struct worker *w, int64_t v);
/*
 * Appends value[0..len), which ref (taken with store_ref_take from store s) keeps
 * alive: the scratch takes ownership of ref. If ref is NULL the value is copied.
 * On failure (w->oom) the reference is released.
 */
void out_ref(struct worker *w, struct store *s, struct store_ref *ref, const char *value,
    size_t len);

/* Bytes in the scratch output, copied and referenced. */
size_t out_queued(const struct worker *w);

/* A point in the scratch output to go back to (out_rewind). */
struct out_mark {
	size_t olen, nsegs, queued;
};
void out_mark(const struct worker *w, struct out_mark *m);
/* Drops what was appended since m; references are released to s. */
void out_rewind(struct worker *w, const struct out_mark *m, struct store *s);
/* Drops all the scratch output (references released to s; s may be NULL when the
 * scratch holds none). */
void output_discard(struct worker *w, struct store *s);

/*
 * Sends the worker's scratch output on c and empties the scratch. What the socket
 * does not take is kept by c (see the top). Returns 0 if all was sent, 1 if some is
 * kept (the caller waits for writability and calls output_flush), -1 on a send
 * error or allocation failure (close c; what was not sent is released).
 */
int output_send(struct conn *c);

/* Sends what it can of c's kept output; 0 all sent (and freed), 1 more to send,
 * -1 error. */
int output_flush(struct conn *c);

/* Frees c's kept output and releases its references (closing c). */
void output_release(struct conn *c);

/* True if c has output it has not sent yet. */
#define output_pending(c) ((c)->segi < (c)->nsegs)

#endif
