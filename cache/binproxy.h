/*
 * binproxy — the binary protocol through the proxy (mcd --proxy).
 *
 * The proxy routes text requests. A binary client's data request (the get, gat,
 * touch, storage, delete, incr/decr and flush opcodes) becomes the meta request that
 * means the same (mg, ms, md, ma; flush_all to every backend), routed as a text
 * client's: a key the text protocol cannot carry (spaces, control bytes) goes in
 * base64 with `b`. Quiet opcodes become noreply, for which the proxy hides EN (mg)
 * and HD (the others): what memcached's quiet opcodes hide. The proxy remembers the
 * opcode and opaque with the request (conn->bin_op, bin_opaque) and, when the
 * backend's reply is final, makes it binary with binproxy_reply. Everything else
 * (SASL, version, noop, stat, verbosity) is the proxy's own, as for text clients.
 */
#ifndef MCOPS_BINPROXY_H
#define MCOPS_BINPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binproto.h"

struct conn;

/* Routes one routed opcode of c through the proxy (proxy_request); false to close c. */
bool binproxy_route(struct conn *c, const struct bin_request *req);

/*
 * The backend's reply r[0..n) to the meta request made for opcode op (one meta
 * reply or error line, with its value block) as the binary reply. *out is malloc'd
 * (NULL with *outlen 0 when r holds no line); -1 without memory.
 */
int binproxy_reply(uint8_t op, uint32_t opaque, const char *r, size_t n, char **out,
    size_t *outlen);

#endif
