/*
 * serve — a small read-only HTTP server for the site directory, so a deployment
 * without a web server (the demo) can show the page. GET and HEAD only; paths with
 * "..", "%" or a NUL are refused; "/" and directories serve their index.html; ETag and
 * If-None-Match for cheap polling; strict security headers (no script runs, nothing
 * loads from elsewhere). The listener is lib/httpd.h: connections are capped
 * (SERVE_CONNECTIONS_MAX, and never the last SERVE_FD_RESERVE descriptors) and a new
 * one evicts the oldest incomplete request (503 when all are being answered); each
 * connection lives at most SERVE_TIMEOUT_MS (408 if its request is not in by then);
 * headers over 8 KiB get 431, a body over 1 KiB 413 (SUBS_BODY_MAX, 8 KiB, when the
 * subscription endpoints are served: a form post). In production a real web server
 * (or the put sink's second origin) serves the same files.
 *
 * With subscriptions on (subscribe.h), POST /subscribe, GET /confirm and GET/POST
 * /unsubscribe are subscribe.c's; every other path is the files.
 */
#ifndef MCSTATUS_SERVE_H
#define MCSTATUS_SERVE_H

#include <stddef.h>

struct event_base;
struct serve;

#define SERVE_FILE_MAX (16u << 20)
#define SERVE_TIMEOUT_MS 10000 /* a connection's whole life, from its accept */
#define SERVE_CONNECTIONS_MAX 256 /* open at once, about (counted in descriptors) */
#define SERVE_FD_RESERVE 32       /* descriptors visitors never take: the site writer, the
				     log, the sinks' connections need them */

/* Listens on listen ("host:port", "[v6]:port") and serves dir (borrowed: it must live
 * as long as the server) and, if subs is not NULL (borrowed), the subscription
 * endpoints; queued(queued_arg) is called when one queued a message. NULL with err
 * set if it cannot. */
struct subs;
struct serve *serve_start(struct event_base *base, const char *listen, const char *dir,
    struct subs *subs, void (*queued)(void *arg), void *queued_arg, char *err,
    size_t errlen);
void serve_stop(struct serve *s);
/* httpd_accept_news() of the listener (lib/httpd.h): for the daemon's timer to log. */
int serve_accept_news(struct serve *s, char *msg, size_t len);

#endif
