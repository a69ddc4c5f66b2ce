/*
 * proxy — mcd's proxy role: the client side is mcd's own (listeners, connections,
 * parser, authentication, TLS, limits, admin port); requests that touch keys go to
 * backend mcd nodes instead of a local store.
 *
 * Placement is ketama (lib/ketama: key for key as twemproxy's nutcracker). Each
 * worker thread keeps a few persistent connections to every backend and pipelines
 * its clients' requests over them, so the number of backend connections is
 * workers x backends x `connections`, whatever the number of clients.
 *
 * Order: a client's replies leave in the order of its requests. Each request that
 * waits for backends is a struct preq in its connection's queue; replies the proxy
 * makes itself (version, errors, mn) while earlier requests wait become a finished
 * preq in the same queue. The head of the queue is sent as soon as it is finished.
 *
 * One reply per backend request: the proxy never sends `noreply` or the meta `q`
 * flag to a backend; it asks for every reply and drops the ones its client asked
 * not to see. So a backend connection's replies match its queue of requests one to
 * one, and a request that fails (deadline, closed connection) cannot make the next
 * reply be taken for its own.
 *
 * Tenants: with --tenants the proxy logs in to each backend as the internal account
 * of the proxy file (capability `proxy`, lib/tenants.h) and sends `proxy_as TENANT`
 * before a request whenever the connection last acted for another tenant. See
 * docs/proxy.md ("Tenants") for why no tenant can reach that ability.
 *
 * Failure: see backend.h.
 */
#ifndef MCOPS_PROXY_H
#define MCOPS_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct conn;
struct worker;
struct mcd;
struct preq;

#define PROXY_CONN_PENDING_MAX 128 /* a client's requests waiting for backends; beyond,
                                      the proxy stops reading that client until they
                                      are answered */

/* c may send no more requests for now: as many wait at the backends as a client may
 * have, or its finished replies waiting to be sent hold more than MCD_OUT_CONN_MAX
 * bytes (a client that does not read). What a client can make the proxy hold is then
 * its replies in flight: PROXY_CONN_PENDING_MAX, each at most a reply's size. */
bool proxy_conn_full(const struct conn *c);

/* exec.c hands these commands to proxy_request in the proxy role. */
bool proxy_routes(enum proto_cmd cmd);
/* Routes one parsed request of c; false to close c. */
bool proxy_request(struct conn *c, struct proto_request *req);

/* A set too large for the cache drops the key's old value (memcached's behaviour):
 * on a proxy, a delete to its backend whose reply nobody sees. */
bool proxy_forget(struct conn *c, const struct proto_request *req);

/*
 * The server marks the worker's scratch output before executing each request of c
 * (out_mark) and calls this after it: a reply the proxy made itself is moved out of
 * the scratch into c's queue when earlier requests of c still wait for backends.
 */
struct out_mark;
void proxy_keep(struct conn *c, const struct out_mark *before);

/* After serving c: sends finished replies at the head of c's queue. */
void proxy_conn_flush(struct conn *c);
/* c is closing: its waiting requests are orphaned (their replies are dropped). */
void proxy_conn_closed(struct conn *c);
/* c has requests waiting for backends. */
bool proxy_conn_waiting(const struct conn *c);

/* Worker life: per-worker state (backend connections), 0 or -1 with err. */
int proxy_worker_init(struct worker *w, char *err, size_t errlen);
void proxy_worker_release(struct worker *w);
/* The worker's timer (TICK): deadlines, retries of down backends. */
void proxy_worker_tick(struct worker *w);
/* The worker switches to the proxy's current pool (after a reload). */
void proxy_worker_reload(struct worker *w);

/* Process life: reads the proxy file (m->set.proxy_path); 0 or -1 with err. */
int proxy_setup(struct mcd *m, char *err, size_t errlen);
void proxy_teardown(struct mcd *m);
/* Re-reads the proxy file: on success the workers move to the new backends. */
int proxy_reload(struct mcd *m, char *err, size_t errlen);

/* Admin port: `stats proxy`, `stats backends`. */
void proxy_stats_write(struct conn *c);
void proxy_stats_backends_write(struct conn *c);

#endif
