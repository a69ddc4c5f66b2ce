/*
 * binproto — memcached's binary protocol (contract in binproto.h).
 *
 * Each opcode is a row of one table: what its header must carry (extras, key,
 * value), whether it is served before authentication, and its function. The
 * functions call the store and tenant API as exec.c does for the text protocol,
 * with the same capability checks and counters; values go out by reference.
 */
#include "binproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "binproxy.h"
#include "log.h"
#include "mcd.h"
#include "output.h"
#include "proxy.h"

#define STAT_TEXT_LINE_MAX 512        /* "stats KEY\r\n" as the text parser takes it */

enum key_rule { KEY_NONE, KEY_REQUIRED, KEY_OPTIONAL };
enum { EXT_FLUSH = -1 }; /* flush: no extras or a 4-byte delay */

struct bin_op {
	int8_t extlen;          /* extras it takes (EXT_FLUSH: 0 or 4) */
	uint8_t key;            /* enum key_rule */
	bool value;             /* may carry a value */
	bool storage;           /* its value is an item's: up to the item size */
	bool preauth;           /* served before authentication */
	bool (*fn)(struct conn *c, const struct bin_request *req);
	bool routed;            /* the proxy sends it to a backend (bin_proxy) */
};

/* --- framing ------------------------------------------------------------------- */

void
binproto_header(uint8_t out[BIN_HEADER_LEN], uint8_t opcode, uint8_t extlen,
    uint16_t keylen, uint16_t status, uint32_t bodylen, uint32_t opaque, uint64_t cas)
{
	out[0] = BIN_MAGIC_RES;
	out[1] = opcode;
	store_be16(out + 2, keylen);
	out[4] = extlen;
	out[5] = 0; /* raw bytes */
	store_be16(out + 6, status);
	store_be32(out + 8, bodylen);
	store_be32(out + 12, opaque);
	store_be64(out + 16, cas);
}

bool
binproto_quiet(uint8_t opcode)
{
	switch (opcode) {
	case BIN_GETQ: case BIN_GETKQ: case BIN_SETQ: case BIN_ADDQ: case BIN_REPLACEQ:
	case BIN_DELETEQ: case BIN_INCRQ: case BIN_DECRQ: case BIN_QUITQ: case BIN_FLUSHQ:
	case BIN_APPENDQ: case BIN_PREPENDQ: case BIN_GATQ: case BIN_GATKQ:
		return true;
	default:
		return false;
	}
}

static const struct bin_op ops[256];

static enum proto_status
parse_error(struct bin_request *req, uint16_t status, size_t len, size_t *consumed)
{
	req->error = status;
	req->fatal = true;
	*consumed = len;
	return PROTO_ERROR;
}

enum proto_status
binproto_parse(const char *buf, size_t len, const struct bin_limits *lim,
    struct bin_request *req, size_t *consumed)
{
	const uint8_t *h = (const uint8_t *)buf;
	const struct bin_op *op;
	size_t head, total;
	bool extok;

	memset(req, 0, sizeof(*req));
	if (len < BIN_HEADER_LEN) {
		*consumed = BIN_HEADER_LEN;
		return PROTO_INCOMPLETE;
	}
	req->opcode = h[1];
	req->keylen = load_be16(h + 2);
	req->extlen = h[4];
	req->bodylen = load_be32(h + 8);
	req->opaque = load_be32(h + 12);
	req->cas = load_be64(h + 16);
	op = &ops[req->opcode];
	/* memcached's answers: a body too short for its key is an unknown command. */
	if ((size_t)req->extlen + req->keylen > req->bodylen)
		return parse_error(req, BIN_UNKNOWN_COMMAND, len, consumed);
	if (h[0] != BIN_MAGIC_REQ || req->keylen > PROTO_KEY_MAX)
		return parse_error(req, BIN_EINVAL, len, consumed);
	/* Before authentication, and for anything but an item, a body is small. */
	if ((lim->small || !op->storage) && req->bodylen > BIN_SMALL_BODY_MAX)
		return parse_error(req, BIN_E2BIG, len, consumed);
	head = BIN_HEADER_LEN + req->extlen + req->keylen;
	req->vlen = req->bodylen - req->extlen - req->keylen;
	if (op->fn == NULL) {
		req->error = BIN_UNKNOWN_COMMAND;
		req->swallow = req->bodylen;
		*consumed = BIN_HEADER_LEN;
		return PROTO_SWALLOW;
	}
	extok = op->extlen == EXT_FLUSH ? req->extlen == 0 || req->extlen == 4 :
	    req->extlen == op->extlen;
	if (!extok || (op->key == KEY_REQUIRED && req->keylen == 0) ||
	    (op->key == KEY_NONE && req->keylen != 0) || (!op->value && req->vlen != 0))
		return parse_error(req, BIN_EINVAL, len, consumed);
	if (len < head) {
		*consumed = head;
		return PROTO_INCOMPLETE;
	}
	req->extras = h + BIN_HEADER_LEN;
	req->key = buf + BIN_HEADER_LEN + req->extlen;
	if (op->storage && req->vlen > lim->item_max) {
		req->error = BIN_E2BIG;
		req->swallow = req->vlen;
		*consumed = head;
		return PROTO_SWALLOW;
	}
	total = head + req->vlen;
	if (len < total) {
		*consumed = total;
		return PROTO_INCOMPLETE;
	}
	req->value = buf + head;
	*consumed = total;
	return PROTO_OK;
}

/* --- replies ------------------------------------------------------------------- */

static void
reply_header(struct worker *w, const struct bin_request *req, uint16_t status,
    uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint64_t cas)
{
	uint8_t h[BIN_HEADER_LEN];

	binproto_header(h, req->opcode, extlen, keylen, status, bodylen, req->opaque, cas);
	out_append(w, h, sizeof(h));
}

/* An error with msg as its body; errors are sent even for quiet opcodes. */
static void
reply_error_msg(struct worker *w, const struct bin_request *req, uint16_t status,
    const char *msg)
{
	size_t n = strlen(msg);

	reply_header(w, req, status, 0, 0, (uint32_t)n, 0);
	out_append(w, msg, n);
}

static void
reply_error(struct worker *w, const struct bin_request *req, uint16_t status)
{
	const char *msg;

	/* memcached's words, which clients show. */
	switch (status) {
	case BIN_KEY_ENOENT: msg = "Not found"; break;
	case BIN_KEY_EEXISTS: msg = "Data exists for key."; break;
	case BIN_E2BIG: msg = "Too large."; break;
	case BIN_EINVAL: msg = "Invalid arguments"; break;
	case BIN_NOT_STORED: msg = "Not stored."; break;
	case BIN_DELTA_BADVAL: msg = "Non-numeric server-side value for incr or decr"; break;
	case BIN_AUTH_ERROR: msg = "Auth failure."; break;
	case BIN_UNKNOWN_COMMAND: msg = "Unknown command"; break;
	case BIN_ENOMEM: msg = "Out of memory"; break;
	default: msg = ""; break;
	}
	reply_error_msg(w, req, status, msg);
}

/* Success without a body, unless the opcode is quiet. */
static void
reply_ok(struct worker *w, const struct bin_request *req, uint64_t cas)
{
	if (!binproto_quiet(req->opcode))
		reply_header(w, req, BIN_OK, 0, 0, 0, cas);
}

/* A capability the tenant lacks: said even for quiet opcodes, counted as the text
 * protocol counts it. */
static bool
denied(struct conn *c, const struct bin_request *req, const char *why)
{
	TENANT_COUNT_N(conn_tenant(c), denied, 1);
	reply_error_msg(c->w, req, BIN_AUTH_ERROR, why);
	return true;
}

#define NO_READ "permission denied: tenant may not read"
#define NO_WRITE "permission denied: tenant may not write"
#define NO_FLUSH "permission denied: tenant may not flush"

/* --- retrieval ------------------------------------------------------------------ */

struct hit_ctx {
	struct conn *c;
	const struct bin_request *req;
	bool key, value;
};

/* Runs under the store's lock: the value goes out by reference, not copied. */
static void
emit_hit(void *arg, const struct store_item_info *it)
{
	struct hit_ctx *g = arg;
	struct worker *w = g->c->w;
	size_t klen = g->key ? it->klen : 0, vlen = g->value ? it->vlen : 0;
	uint8_t flags[4];

	reply_header(w, g->req, BIN_OK, 4, (uint16_t)klen, (uint32_t)(4 + klen + vlen), it->cas);
	store_be32(flags, it->flags);
	out_append(w, flags, 4);
	out_append(w, it->key, klen);
	if (vlen > 0)
		out_ref(w, conn_tenant(g->c)->store, store_ref_take(it), it->value, vlen);
}

/* get, getq, getk, getkq, touch, gat, gatq, gatk, gatkq. */
static bool
bin_get(struct conn *c, const struct bin_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_get_opts opts = { 0 };
	uint8_t op = req->opcode;
	bool touch = req->extlen == 4, read = op != BIN_TOUCH;
	struct hit_ctx g = { c, req, op == BIN_GETK || op == BIN_GETKQ || op == BIN_GATK ||
	    op == BIN_GATKQ, read };

	if (read && !tenant_has_cap(t, TENANT_CAP_READ))
		return denied(c, req, NO_READ);
	if (touch && !tenant_has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, NO_WRITE);
	if (touch) {
		opts.touch = true;
		opts.exptime = mcd_exptime(w->mcd, load_be32(req->extras), w->now);
		STAT_INC(w->stats.cmd_touch);
		TENANT_COUNT_N(t, cmd_touch, 1);
	}
	if (read) {
		STAT_INC(w->stats.cmd_get);
		TENANT_COUNT_N(t, cmd_get, 1);
	}
	if (store_get(t->store, req->key, req->keylen, w->now, touch ? &opts : NULL, emit_hit,
	    &g) == STORE_OK)
		return true;
	if (binproto_quiet(op))
		return true; /* a quiet read hides its miss */
	if (g.key) {
		/* getk/gatk: the miss names its key. */
		reply_header(w, req, BIN_KEY_ENOENT, 0, req->keylen, req->keylen, 0);
		out_append(w, req->key, req->keylen);
	} else {
		reply_error(w, req, BIN_KEY_ENOENT);
	}
	return true;
}

/* --- storage -------------------------------------------------------------------- */

/* set, add, replace, append, prepend and their quiet forms. */
static bool
bin_store(struct conn *c, const struct bin_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_set_opts o = { 0 };
	struct store_result res = { 0 };
	enum store_status st;

	if (!tenant_has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, NO_WRITE);
	switch (req->opcode) {
	case BIN_SET: case BIN_SETQ: o.mode = STORE_SET; break;
	case BIN_ADD: case BIN_ADDQ: o.mode = STORE_ADD; break;
	case BIN_REPLACE: case BIN_REPLACEQ: o.mode = STORE_REPLACE; break;
	case BIN_APPEND: case BIN_APPENDQ: o.mode = STORE_APPEND; break;
	default: o.mode = STORE_PREPEND; break;
	}
	if (req->extlen == 8) {
		o.flags = load_be32(req->extras);
		o.exptime = mcd_exptime(w->mcd, load_be32(req->extras + 4), w->now);
	}
	o.cas = req->cas;
	/* memcached: a cas on set, add or replace makes it a cas. */
	if (req->cas != 0 && (o.mode == STORE_SET || o.mode == STORE_ADD ||
	    o.mode == STORE_REPLACE))
		o.mode = STORE_CAS;
	o.value_max = w->mcd->set.item_max;
	st = store_set(t->store, req->key, req->keylen, req->value, req->vlen, w->now, &o, &res);
	STAT_INC(w->stats.cmd_set);
	TENANT_COUNT_N(t, cmd_set, 1);
	switch (st) {
	case STORE_OK: reply_ok(w, req, res.cas); break;
	case STORE_EXISTS: reply_error(w, req, BIN_KEY_EEXISTS); break;
	case STORE_NOT_FOUND: reply_error(w, req, BIN_KEY_ENOENT); break;
	case STORE_NOT_STORED:
		/* memcached: add finds the key, replace does not, append/prepend neither. */
		reply_error(w, req, o.mode == STORE_ADD ? BIN_KEY_EEXISTS :
		    o.mode == STORE_REPLACE ? BIN_KEY_ENOENT : BIN_NOT_STORED);
		break;
	case STORE_TOO_LARGE: reply_error(w, req, BIN_E2BIG); break;
	default: reply_error(w, req, BIN_ENOMEM); break;
	}
	return true;
}

static bool
bin_delete(struct conn *c, const struct bin_request *req)
{
	struct tenant *t = conn_tenant(c);
	struct store_delete_opts o = { .cas = req->cas };

	if (!tenant_has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, NO_WRITE);
	switch (store_delete(t->store, req->key, req->keylen, c->w->now, &o)) {
	case STORE_OK: reply_ok(c->w, req, 0); break;
	case STORE_EXISTS: reply_error(c->w, req, BIN_KEY_EEXISTS); break;
	default: reply_error(c->w, req, BIN_KEY_ENOENT); break;
	}
	return true;
}

/* incr, decr (and quiet): extras are delta, initial value and expiry; an expiry
 * of 0xffffffff does not create a missing key. */
static bool
bin_arith(struct conn *c, const struct bin_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	struct store_arith_opts o = { 0 };
	struct store_result res = { 0 };
	uint32_t exp = load_be32(req->extras + 16);
	uint8_t v[8];

	if (!tenant_has_cap(t, TENANT_CAP_WRITE))
		return denied(c, req, NO_WRITE);
	o.decr = req->opcode == BIN_DECR || req->opcode == BIN_DECRQ;
	o.delta = load_be64(req->extras);
	o.cas = req->cas;
	if (exp != BIN_INCR_NO_CREATE) {
		o.vivify = true;
		o.initial = load_be64(req->extras + 8);
		o.vivify_exptime = mcd_exptime(w->mcd, exp, w->now);
	}
	switch (store_arith(t->store, req->key, req->keylen, w->now, &o, &res)) {
	case STORE_OK:
		if (binproto_quiet(req->opcode))
			break;
		reply_header(w, req, BIN_OK, 0, 0, 8, res.cas);
		store_be64(v, res.value);
		out_append(w, v, 8);
		break;
	case STORE_NOT_FOUND: reply_error(w, req, BIN_KEY_ENOENT); break;
	case STORE_EXISTS: reply_error(w, req, BIN_KEY_EEXISTS); break;
	case STORE_NON_NUMERIC: reply_error(w, req, BIN_DELTA_BADVAL); break;
	default: reply_error(w, req, BIN_ENOMEM); break;
	}
	return true;
}

static bool
bin_flush(struct conn *c, const struct bin_request *req)
{
	struct worker *w = c->w;
	struct tenant *t = conn_tenant(c);
	uint32_t delay = req->extlen == 4 ? load_be32(req->extras) : 0;

	if (!tenant_has_cap(t, TENANT_CAP_FLUSH))
		return denied(c, req, NO_FLUSH);
	store_flush(t->store, w->now, delay == 0 ? w->now : mcd_exptime(w->mcd, delay, w->now));
	STAT_INC(w->stats.cmd_flush);
	TENANT_COUNT_N(t, cmd_flush, 1);
	reply_ok(w, req, 0);
	return true;
}

/* --- the rest -------------------------------------------------------------------- */

static bool
bin_noop(struct conn *c, const struct bin_request *req)
{
	reply_header(c->w, req, BIN_OK, 0, 0, 0, 0);
	return true;
}

static bool
bin_version(struct conn *c, const struct bin_request *req)
{
	reply_header(c->w, req, BIN_OK, 0, 0, sizeof(MCD_VERSION) - 1, 0);
	out_append(c->w, MCD_VERSION, sizeof(MCD_VERSION) - 1);
	return true;
}

static bool
bin_quit(struct conn *c, const struct bin_request *req)
{
	reply_ok(c->w, req, 0);
	return false;
}

/* The text command's rules (only an operator changes the server's logging). */
static bool
bin_verbosity(struct conn *c, const struct bin_request *req)
{
	struct proto_request text = { .cmd = CMD_VERBOSITY, .noreply = true, .has_arg = true };

	text.arg = load_be32(req->extras);
	exec_request(c, &text, PROTO_OK);
	reply_header(c->w, req, BIN_OK, 0, 0, 0, 0);
	return true;
}

/*
 * One text "STAT name value" line as a stat packet. The name ends at the first
 * space; the value is the rest.
 */
static void
stat_packet(struct worker *w, const struct bin_request *req, const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	size_t klen = sp != NULL ? (size_t)(sp - line) : len;
	size_t vlen = sp != NULL ? len - klen - 1 : 0;

	if (klen > UINT16_MAX)
		return;
	reply_header(w, req, BIN_OK, 0, (uint16_t)klen, (uint32_t)(klen + vlen), 0);
	out_append(w, line, klen);
	out_append(w, sp != NULL ? sp + 1 : "", vlen);
}

/*
 * stat [group]: the text `stats [group]` of this connection, its lines made stat
 * packets and its END an empty one, so both protocols show the same figures and a
 * group the text protocol learns is the binary protocol's too. Lines that are not
 * STAT lines (`stats detail dump`) go in one packet named "detailed", as memcached
 * sends its dump. A group the text protocol refuses is "Not found", as memcached
 * answers.
 */
static bool
bin_stat(struct conn *c, const struct bin_request *req)
{
	struct worker *w = c->w;
	char line[STAT_TEXT_LINE_MAX];
	struct proto_request text;
	struct proto_limits lim = { 0 };
	struct out_mark m;
	size_t used, n, len, dlen = 0;
	char *copy, *detail;
	const char *p, *end, *nl;
	bool ok = false;

	n = (size_t)snprintf(line, sizeof(line), "stats%s%.*s\r\n", req->keylen ? " " : "",
	    (int)req->keylen, req->key);
	if (memchr(req->key, '\n', req->keylen) != NULL ||
	    memchr(req->key, '\r', req->keylen) != NULL ||
	    proto_parse(line, n, &lim, &text, &used) != PROTO_OK || text.cmd != CMD_STATS) {
		reply_error(w, req, BIN_KEY_ENOENT);
		return true;
	}
	out_mark(w, &m);
	exec_request(c, &text, PROTO_OK);
	if (w->oom)
		return true;
	len = w->olen - m.olen;
	/* the text, then room for its detail lines each ending in "\r\n" (at most
	 * twice the text, were every line a bare "\n") */
	copy = malloc(3 * len + 2);
	if (copy == NULL) {
		out_rewind(w, &m, NULL);
		reply_error(w, req, BIN_ENOMEM);
		return true;
	}
	if (len > 0)
		memcpy(copy, w->obuf + m.olen, len);
	out_rewind(w, &m, NULL);
	detail = copy + len + 1;
	for (p = copy, end = copy + len; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;
	    p = nl + 1) {
		size_t ll = (size_t)(nl - p);

		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll > 5 && memcmp(p, "STAT ", 5) == 0) {
			stat_packet(w, req, p + 5, ll - 5);
		} else if ((ll == 3 && memcmp(p, "END", 3) == 0) ||
		    (ll == 5 && memcmp(p, "RESET", 5) == 0) || (ll == 2 && memcmp(p, "OK", 2) == 0)) {
			ok = true;
			break;
		} else if (ll >= 5 && (memcmp(p, "ERROR", 5) == 0 ||
		    (ll > 13 && memcmp(p, "CLIENT_ERROR ", 13) == 0) ||
		    (ll > 13 && memcmp(p, "SERVER_ERROR ", 13) == 0))) {
			break;
		} else {
			memcpy(detail + dlen, p, ll);
			memcpy(detail + dlen + ll, "\r\n", 2);
			dlen += ll + 2;
		}
	}
	if (ok && dlen > 0) {
		reply_header(w, req, BIN_OK, 0, 8, (uint32_t)(8 + dlen), 0);
		out_append(w, "detailed", 8);
		out_append(w, detail, dlen);
	}
	free(copy);
	if (ok) {
		reply_header(w, req, BIN_OK, 0, 0, 0, 0);
	} else {
		out_rewind(w, &m, NULL);
		reply_error(w, req, BIN_KEY_ENOENT);
	}
	return true;
}

/* --- SASL -------------------------------------------------------------------------- */

/* Without a tenants file there is no SASL, as memcached without -S. */
static bool
sasl_served(struct conn *c, const struct bin_request *req)
{
	if (c->listener->auth)
		return true;
	reply_error(c->w, req, BIN_UNKNOWN_COMMAND);
	return false;
}

static bool
bin_sasl_list(struct conn *c, const struct bin_request *req)
{
	if (!sasl_served(c, req))
		return true;
	reply_header(c->w, req, BIN_OK, 0, 0, sizeof(BIN_SASL_MECHS) - 1, 0);
	out_append(c->w, BIN_SASL_MECHS, sizeof(BIN_SASL_MECHS) - 1);
	return true;
}

/*
 * PLAIN (RFC 4616): [authzid] NUL authcid NUL password, checked against the tenants
 * file exactly as the text login (exec_login): the same counters, admission limits
 * and failures allowed. An authzid other than the authcid is not honoured.
 */
static bool
bin_sasl_auth(struct conn *c, const struct bin_request *req)
{
	struct worker *w = c->w;
	const char *v = req->value, *n1, *n2, *refusal = NULL;
	const char *user = "", *pw = "";
	size_t ulen = 0, pwlen = 0;
	struct tenant *t = NULL;

	if (!sasl_served(c, req))
		return true;
	if (c->tenant != NULL) {
		reply_error_msg(w, req, BIN_AUTH_ERROR, "already authenticated");
		return true;
	}
	if (req->keylen != 5 || memcmp(req->key, "PLAIN", 5) != 0) {
		reply_error_msg(w, req, BIN_AUTH_ERROR, "unsupported mechanism: use PLAIN");
		return true;
	}
	if ((n1 = memchr(v, '\0', req->vlen)) != NULL &&
	    (n2 = memchr(n1 + 1, '\0', req->vlen - (size_t)(n1 + 1 - v))) != NULL) {
		user = n1 + 1;
		ulen = (size_t)(n2 - user);
		pw = n2 + 1;
		pwlen = req->vlen - (size_t)(pw - v);
		if (n1 == v || ((size_t)(n1 - v) == ulen && memcmp(v, user, ulen) == 0))
			t = tenant_authenticate(&w->mcd->tenants, user, ulen, pw, pwlen,
			    &c->cred_gen);
	}
	switch (exec_login(c, t, user, ulen, NULL, 0, &refusal)) {
	case EXEC_LOGIN_OK:
		reply_header(w, req, BIN_OK, 0, 0, 13, 0);
		out_append(w, "Authenticated", 13);
		return true;
	case EXEC_LOGIN_FAILED:
		reply_error(w, req, BIN_AUTH_ERROR);
		return true;
	case EXEC_LOGIN_FAILED_CLOSE:
		reply_error(w, req, BIN_AUTH_ERROR);
		return false;
	default:
		/* The tenant's connection limits: a temporary failure, said, then closed. */
		reply_error_msg(w, req, BIN_ETMPFAIL, strncmp(refusal, "SERVER_ERROR ", 13) == 0 ?
		    refusal + 13 : refusal);
		return false;
	}
}

static bool
bin_sasl_step(struct conn *c, const struct bin_request *req)
{
	if (!sasl_served(c, req))
		return true;
	reply_error_msg(c->w, req, BIN_AUTH_ERROR, "PLAIN has no step: send SASL auth");
	return true;
}

/* --- the table and the entry --------------------------------------------------------- */

#define GET_OP { 0, KEY_REQUIRED, false, false, false, bin_get, true }
#define GAT_OP { 4, KEY_REQUIRED, false, false, false, bin_get, true }
#define SET_OP { 8, KEY_REQUIRED, true, true, false, bin_store, true }
#define CAT_OP { 0, KEY_REQUIRED, true, true, false, bin_store, true }
#define DEL_OP { 0, KEY_REQUIRED, false, false, false, bin_delete, true }
#define ARITH_OP { 20, KEY_REQUIRED, false, false, false, bin_arith, true }
#define FLUSH_OP { EXT_FLUSH, KEY_NONE, false, false, false, bin_flush, true }
#define QUIT_OP { 0, KEY_NONE, false, false, true, bin_quit }

static const struct bin_op ops[256] = {
	[BIN_GET] = GET_OP, [BIN_GETQ] = GET_OP, [BIN_GETK] = GET_OP, [BIN_GETKQ] = GET_OP,
	[BIN_TOUCH] = GAT_OP, [BIN_GAT] = GAT_OP, [BIN_GATQ] = GAT_OP, [BIN_GATK] = GAT_OP,
	[BIN_GATKQ] = GAT_OP,
	[BIN_SET] = SET_OP, [BIN_SETQ] = SET_OP, [BIN_ADD] = SET_OP, [BIN_ADDQ] = SET_OP,
	[BIN_REPLACE] = SET_OP, [BIN_REPLACEQ] = SET_OP,
	[BIN_APPEND] = CAT_OP, [BIN_APPENDQ] = CAT_OP, [BIN_PREPEND] = CAT_OP,
	[BIN_PREPENDQ] = CAT_OP,
	[BIN_DELETE] = DEL_OP, [BIN_DELETEQ] = DEL_OP,
	[BIN_INCR] = ARITH_OP, [BIN_INCRQ] = ARITH_OP, [BIN_DECR] = ARITH_OP,
	[BIN_DECRQ] = ARITH_OP,
	[BIN_FLUSH] = FLUSH_OP, [BIN_FLUSHQ] = FLUSH_OP,
	[BIN_QUIT] = QUIT_OP, [BIN_QUITQ] = QUIT_OP,
	[BIN_NOOP] = { 0, KEY_NONE, false, false, false, bin_noop },
	[BIN_VERSION] = { 0, KEY_NONE, false, false, true, bin_version },
	[BIN_VERBOSITY] = { 4, KEY_NONE, false, false, false, bin_verbosity },
	[BIN_STAT] = { 0, KEY_OPTIONAL, false, false, false, bin_stat },
	[BIN_SASL_LIST] = { 0, KEY_NONE, false, false, true, bin_sasl_list },
	[BIN_SASL_AUTH] = { 0, KEY_REQUIRED, true, false, true, bin_sasl_auth },
	[BIN_SASL_STEP] = { 0, KEY_REQUIRED, true, false, true, bin_sasl_step },
};

bool
binproto_exec(struct conn *c, struct bin_request *req, enum proto_status st)
{
	struct worker *w = c->w;
	bool preauth = c->listener->auth && c->tenant == NULL;

	if (st == PROTO_ERROR || st == PROTO_SWALLOW) {
		STAT_INC(w->stats.protocol_errors);
		if (req->fatal && preauth && req->error == BIN_E2BIG) {
			/* More than any authentication needs: said once, then closed. */
			STAT_INC(w->stats.auth_errors);
			LOG_LIMITED(LOG_LEVEL_INFO, "closed a binary connection: request larger "
			    "than %d bytes before authentication", BIN_SMALL_BODY_MAX);
		}
		reply_error(w, req, req->error);
		/* A set too large for the cache drops the key's old value, as memcached does. */
		if (req->error == BIN_E2BIG && !req->fatal && !preauth && c->tenant != NULL &&
		    (req->opcode == BIN_SET || req->opcode == BIN_SETQ)) {
			if (w->mcd->proxy != NULL) {
				struct proto_request text = { .cmd = CMD_SET };
				text.key.p = req->key;
				text.key.len = req->keylen;
				c->bin_op = req->opcode;
				c->bin_opaque = req->opaque;
				return proxy_forget(c, &text);
			}
			if (tenant_has_cap(conn_tenant(c), TENANT_CAP_WRITE))
				store_delete(conn_tenant(c)->store, req->key, req->keylen, w->now, NULL);
		}
		return !req->fatal;
	}
	if (c->listener->kind == LISTENER_ADMIN) {
		reply_error_msg(w, req, BIN_NOT_SUPPORTED,
		    "the admin port speaks the text protocol only");
		return false;
	}
	if (preauth && !ops[req->opcode].preauth) {
		STAT_INC(w->stats.protocol_errors);
		reply_error(w, req, BIN_AUTH_ERROR);
		return true;
	}
	if (w->mcd->proxy != NULL && ops[req->opcode].routed)
		return binproxy_route(c, req);
	return ops[req->opcode].fn(c, req);
}
