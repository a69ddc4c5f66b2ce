/*
 * binproto — memcached's binary protocol in mcd: framing of one request, the table
 * of opcodes, and one function per opcode against the connection's tenant store,
 * with SASL (PLAIN) authentication against the tenants file.
 *
 * A connection speaks binary when its first byte is 0x80 (the server decides, as
 * memcached does); it then never speaks text. Framing follows memcached 1.6:
 *  - A request is a 24-byte header (magic 0x80, opcode, key length, extras length,
 *    data type, vbucket, total body length, opaque, cas; big-endian), then extras,
 *    key and value. Replies carry magic 0x81, the request's opcode and opaque.
 *  - A header that cannot be trusted (bad magic, a key over PROTO_KEY_MAX, extras or
 *    key lengths an opcode does not take) is answered "Invalid arguments" (0x04), and
 *    extras + key longer than the body "Unknown command" (0x81), as memcached does;
 *    then the connection closes: nothing after it can be framed.
 *  - An unknown opcode is answered 0x81 and its body skipped; the connection goes on.
 *  - A storage request whose value is over the item size (-I) is answered "Too
 *    large." (0x03) and its value skipped without being held (a set also drops the
 *    key's old value, as memcached does).
 *  - Before authentication (bin_limits.small) no body may exceed what a SASL PLAIN
 *    exchange needs (BIN_SMALL_BODY_MAX): a larger one is answered and closes.
 *
 * Quiet opcodes hide only what memcached hides: getq/getkq/gatq/gatkq a miss, the
 * other quiet forms a success; every error is always sent.
 */
#ifndef MCOPS_BINPROTO_H
#define MCOPS_BINPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define BIN_HEADER_LEN 24
#define BIN_MAGIC_REQ 0x80
#define BIN_MAGIC_RES 0x81
#define BIN_SMALL_BODY_MAX (PROTO_KEY_MAX + 1024) /* a body before authentication:
                                                     a mechanism name and its data */
#define BIN_SASL_MECHS "PLAIN"
#define BIN_INCR_NO_CREATE 0xffffffffu /* incr/decr expiry: do not create a missing key */

enum bin_opcode {
	BIN_GET = 0x00, BIN_SET = 0x01, BIN_ADD = 0x02, BIN_REPLACE = 0x03,
	BIN_DELETE = 0x04, BIN_INCR = 0x05, BIN_DECR = 0x06, BIN_QUIT = 0x07,
	BIN_FLUSH = 0x08, BIN_GETQ = 0x09, BIN_NOOP = 0x0a, BIN_VERSION = 0x0b,
	BIN_GETK = 0x0c, BIN_GETKQ = 0x0d, BIN_APPEND = 0x0e, BIN_PREPEND = 0x0f,
	BIN_STAT = 0x10, BIN_SETQ = 0x11, BIN_ADDQ = 0x12, BIN_REPLACEQ = 0x13,
	BIN_DELETEQ = 0x14, BIN_INCRQ = 0x15, BIN_DECRQ = 0x16, BIN_QUITQ = 0x17,
	BIN_FLUSHQ = 0x18, BIN_APPENDQ = 0x19, BIN_PREPENDQ = 0x1a, BIN_VERBOSITY = 0x1b,
	BIN_TOUCH = 0x1c, BIN_GAT = 0x1d, BIN_GATQ = 0x1e,
	BIN_SASL_LIST = 0x20, BIN_SASL_AUTH = 0x21, BIN_SASL_STEP = 0x22,
	BIN_GATK = 0x23, BIN_GATKQ = 0x24,
};

enum bin_status {
	BIN_OK = 0x00,
	BIN_KEY_ENOENT = 0x01,
	BIN_KEY_EEXISTS = 0x02,
	BIN_E2BIG = 0x03,
	BIN_EINVAL = 0x04,
	BIN_NOT_STORED = 0x05,
	BIN_DELTA_BADVAL = 0x06,
	BIN_AUTH_ERROR = 0x20,
	BIN_AUTH_CONTINUE = 0x21,
	BIN_UNKNOWN_COMMAND = 0x81,
	BIN_ENOMEM = 0x82,
	BIN_NOT_SUPPORTED = 0x83,
	BIN_EINTERNAL = 0x84,
	BIN_EBUSY = 0x85,
	BIN_ETMPFAIL = 0x86,
};

struct bin_request {
	uint8_t opcode;
	uint8_t extlen;
	uint16_t keylen;
	uint32_t bodylen;
	uint32_t opaque;
	uint64_t cas;
	const uint8_t *extras;      /* pointers into the caller's buffer */
	const char *key;
	const char *value;
	size_t vlen;
	/* PROTO_ERROR / PROTO_SWALLOW: the status to answer; fatal: then close */
	uint16_t error;
	bool fatal;
	size_t swallow;             /* PROTO_SWALLOW: value bytes to discard */
};

struct bin_limits {
	size_t item_max;            /* largest value of a storage request (-I) */
	bool small;                 /* before authentication: BIN_SMALL_BODY_MAX */
};

/*
 * Frames one request from buf[0..len): PROTO_OK (a whole request, *consumed bytes),
 * PROTO_INCOMPLETE (*consumed: the bytes needed), PROTO_ERROR (answer req->error;
 * skip *consumed; close if req->fatal) or PROTO_SWALLOW (answer req->error, skip
 * *consumed then req->swallow more). Never reads past buf + len.
 */
enum proto_status binproto_parse(const char *buf, size_t len, const struct bin_limits *lim,
    struct bin_request *req, size_t *consumed);

/* True if an opcode is quiet (its reply may be hidden). */
bool binproto_quiet(uint8_t opcode);

/* Writes a response header into out. */
void binproto_header(uint8_t out[BIN_HEADER_LEN], uint8_t opcode, uint8_t extlen,
    uint16_t keylen, uint16_t status, uint32_t bodylen, uint32_t opaque, uint64_t cas);

struct conn;
/* Executes one framed request of c (what binproto_parse returned); false to close c. */
bool binproto_exec(struct conn *c, struct bin_request *req, enum proto_status st);

#endif
