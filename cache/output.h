/*
 * output — a connection's replies: building them and sending them.
 *
 * Replies of one event are appended to the worker's scratch buffer (w->obuf), so
 * that an idle connection owns no output memory. After the event, output_send
 * writes the scratch to the socket and keeps only what the socket did not take in
 * the connection's own buffer (c->out); output_flush sends that when the socket is
 * writable again.
 *
 * Appends never fail visibly: an allocation failure sets w->oom, and the caller
 * (the server, after the event) closes the connection instead of sending a
 * partial reply.
 */
#ifndef MCOPS_OUTPUT_H
#define MCOPS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

struct worker;
struct conn;

/* Appends p[0..len) to the worker's scratch output. */
void out_append(struct worker *w, const void *p, size_t len);
/* Appends s and "\r\n". */
void out_str(struct worker *w, const char *s);
/* Appends the decimal form of v; returns the number of digits. */
size_t out_u64(struct worker *w, uint64_t v);
/* Appends the decimal form of v, with a '-' if negative. */
void out_i64(struct worker *w, int64_t v);

/*
 * Sends the worker's scratch output on c and empties the scratch. What the socket
 * does not take is copied to c's own buffer. Returns 0 if all was sent, 1 if some
 * is kept (the caller waits for writability and calls output_flush), -1 on a send
 * error or allocation failure (close c).
 */
int output_send(struct conn *c);

/* Sends what it can of c's kept output; 0 all sent (buffer freed), 1 more to send,
 * -1 error. */
int output_flush(struct conn *c);

/* True if c has output it has not sent yet. */
#define output_pending(c) ((c)->outlen > (c)->outoff)

#endif
