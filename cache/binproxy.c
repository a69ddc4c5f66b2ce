/*
 * binproxy — the binary protocol through the proxy (contract in binproxy.h).
 */
#include "binproxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "mcd.h"
#include "parse.h"
#include "proxy.h"

#define META_ARENA 160 /* the numbers of one meta request's flags */

struct meta_build {
	struct proto_request *t;
	char arena[META_ARENA];
	size_t used;
};

static void
meta_flag(struct meta_build *b, char flag, const char *p, size_t len)
{
	struct proto_meta_flag *f = &b->t->mflags[b->t->nmflags++];

	f->flag = flag;
	f->tok.p = p;
	f->tok.len = len;
}

static void
meta_flag_u64(struct meta_build *b, char flag, uint64_t v)
{
	int n = snprintf(b->arena + b->used, sizeof(b->arena) - b->used, "%llu",
	    (unsigned long long)v);

	meta_flag(b, flag, b->arena + b->used, (size_t)n);
	b->used += (size_t)n;
}

/* A key the text protocol cannot carry as it is (spaces, control bytes). */
static bool
key_needs_base64(const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)key[i];
		if (ch <= ' ' || ch == 0x7f)
			return true;
	}
	return false;
}

bool
binproxy_route(struct conn *c, const struct bin_request *req)
{
	struct proto_request t;
	struct meta_build b = { .t = &t };
	char enc[(PROTO_KEY_MAX + 2) / 3 * 4 + 4];
	uint8_t op = req->opcode;
	uint32_t exp;

	memset(&t, 0, sizeof(t));
	c->bin_op = op;
	c->bin_opaque = req->opaque;
	t.noreply = binproto_quiet(op);
	if (op == BIN_FLUSH || op == BIN_FLUSHQ) {
		t.cmd = CMD_FLUSH_ALL;
		t.has_arg = req->extlen == 4;
		t.arg = t.has_arg ? load_be32(req->extras) : 0;
		return proxy_request(c, &t);
	}
	t.key.p = t.key_raw.p = req->key;
	t.key.len = t.key_raw.len = req->keylen;
	if (key_needs_base64(req->key, req->keylen)) {
		t.key_raw.p = enc;
		t.key_raw.len = proto_base64_encode((const unsigned char *)req->key, req->keylen,
		    enc, sizeof(enc));
		t.key_binary = true;
		meta_flag(&b, 'b', "", 0);
	}
	switch (op) {
	case BIN_SET: case BIN_SETQ: case BIN_ADD: case BIN_ADDQ: case BIN_REPLACE:
	case BIN_REPLACEQ: case BIN_APPEND: case BIN_APPENDQ: case BIN_PREPEND: case BIN_PREPENDQ:
		t.cmd = CMD_MS;
		t.name.p = "ms";
		t.data = req->value;
		t.dlen = req->vlen;
		meta_flag(&b, 'M', op == BIN_SET || op == BIN_SETQ ? "S" : op == BIN_ADD ||
		    op == BIN_ADDQ ? "E" : op == BIN_REPLACE || op == BIN_REPLACEQ ? "R" :
		    op == BIN_APPEND || op == BIN_APPENDQ ? "A" : "P", 1);
		if (req->extlen == 8) {
			meta_flag_u64(&b, 'F', load_be32(req->extras));
			meta_flag_u64(&b, 'T', load_be32(req->extras + 4));
		}
		break;
	case BIN_DELETE: case BIN_DELETEQ:
		t.cmd = CMD_MD;
		t.name.p = "md";
		break;
	case BIN_INCR: case BIN_INCRQ: case BIN_DECR: case BIN_DECRQ:
		t.cmd = CMD_MA;
		t.name.p = "ma";
		meta_flag(&b, 'M', op == BIN_INCR || op == BIN_INCRQ ? "I" : "D", 1);
		meta_flag_u64(&b, 'D', load_be64(req->extras));
		if ((exp = load_be32(req->extras + 16)) != BIN_INCR_NO_CREATE) {
			meta_flag_u64(&b, 'N', exp);
			meta_flag_u64(&b, 'J', load_be64(req->extras + 8));
		}
		if (!t.noreply)
			meta_flag(&b, 'v', "", 0);
		break;
	default: /* the reads: get, getk, gat, gatk, touch and their quiet forms */
		t.cmd = CMD_MG;
		t.name.p = "mg";
		if (op != BIN_TOUCH)
			meta_flag(&b, 'v', "", 0);
		meta_flag(&b, 'f', "", 0);
		if (req->extlen == 4)
			meta_flag_u64(&b, 'T', load_be32(req->extras));
		if (op == BIN_GETK || op == BIN_GETKQ || op == BIN_GATK || op == BIN_GATKQ)
			meta_flag(&b, 'k', "", 0);
		break;
	}
	t.name.len = 2;
	if (req->cas != 0 && t.cmd != CMD_MG)
		meta_flag_u64(&b, 'C', req->cas);
	meta_flag(&b, 'c', "", 0);
	return proxy_request(c, &t);
}

/* The value of meta return flag `flag` in line[0..len) (after the code), or NULL. */
static const char *
meta_ret(const char *line, size_t len, char flag, size_t *vlen)
{
	const char *p = line, *end = line + len, *sp;

	while (p < end) {
		sp = memchr(p, ' ', (size_t)(end - p));
		if (sp == NULL)
			sp = end;
		if (sp > p && p[0] == flag) {
			*vlen = (size_t)(sp - p - 1);
			return p + 1;
		}
		p = sp + 1;
	}
	return NULL;
}

static uint64_t
meta_ret_u64(const char *line, size_t len, char flag)
{
	size_t n;
	const char *v = meta_ret(line, len, flag, &n);
	uint64_t x = 0;

	if (v != NULL)
		parse_u64_n(v, n, 0, UINT64_MAX, &x);
	return x;
}

static char *
put_packet(char *o, uint8_t op, uint32_t opaque, uint16_t status, uint64_t cas,
    const void *extras, uint8_t extlen, const char *key, size_t klen, const char *value,
    size_t vlen)
{
	binproto_header((uint8_t *)o, op, extlen, (uint16_t)klen, status,
	    (uint32_t)(extlen + klen + vlen), opaque, cas);
	o += BIN_HEADER_LEN;
	/* memcpy of nothing still wants valid pointers: the absent parts are NULL */
	if (extlen > 0)
		memcpy(o, extras, extlen);
	o += extlen;
	if (klen > 0)
		memcpy(o, key, klen);
	o += klen;
	if (vlen > 0)
		memcpy(o, value, vlen);
	return o + vlen;
}

static uint16_t
text_error_status(const char *line, size_t len, const char **msg, size_t *mlen)
{
	*msg = line;
	*mlen = len;
	if (len >= 13 && (memcmp(line, "SERVER_ERROR ", 13) == 0 ||
	    memcmp(line, "CLIENT_ERROR ", 13) == 0)) {
		*msg = line + 13;
		*mlen = len - 13;
	}
	if (memmem(line, len, "non-numeric", 11) != NULL)
		return BIN_DELTA_BADVAL;
	if (memmem(line, len, "too large", 9) != NULL)
		return BIN_E2BIG;
	if (memmem(line, len, "out of memory", 13) != NULL)
		return BIN_ENOMEM;
	if (memmem(line, len, "permission denied", 17) != NULL)
		return BIN_AUTH_ERROR;
	if (len >= 13 && memcmp(line, "CLIENT_ERROR ", 13) == 0)
		return BIN_EINVAL;
	if (len == 5 && memcmp(line, "ERROR", 5) == 0)
		return BIN_UNKNOWN_COMMAND;
	return BIN_EINTERNAL;
}

int
binproxy_reply(uint8_t op, uint32_t opaque, const char *r, size_t n, char **out,
    size_t *outlen)
{
	const char *nl = memchr(r, '\n', n), *kv, *msg;
	size_t ll, klen = 0, mlen;
	char *buf, *o, key[PROTO_KEY_MAX];
	uint8_t flags[4], num[8];
	uint16_t status = BIN_OK;
	uint64_t cas;
	bool read = op == BIN_GET || op == BIN_GETQ || op == BIN_GETK || op == BIN_GETKQ ||
	    op == BIN_GAT || op == BIN_GATQ || op == BIN_GATK || op == BIN_GATKQ || op == BIN_TOUCH;
	bool withkey = op == BIN_GETK || op == BIN_GETKQ || op == BIN_GATK || op == BIN_GATKQ;

	*out = NULL;
	*outlen = 0;
	if (nl == NULL)
		return 0;
	ll = (size_t)(nl - r);
	if (ll > 0 && r[ll - 1] == '\r')
		ll--;
	if ((buf = malloc(BIN_HEADER_LEN + 4 + PROTO_KEY_MAX + n)) == NULL)
		return -1;
	o = buf;
	cas = ll > 3 ? meta_ret_u64(r + 3, ll - 3, 'c') : 0;
	if (withkey && ll > 3 && (kv = meta_ret(r + 3, ll - 3, 'k', &klen)) != NULL) {
		size_t blen;
		if (meta_ret(r + 3, ll - 3, 'b', &blen) != NULL)
			klen = proto_base64_decode(kv, klen, (unsigned char *)key, sizeof(key));
		else if (klen <= sizeof(key))
			memcpy(key, kv, klen);
		else
			klen = 0;
	}
	if (ll >= 2 && memcmp(r, "VA", 2) == 0) {
		const char *sp = memchr(r + 3, ' ', ll > 3 ? ll - 3 : 0);
		const char *data = nl + 1;
		uint64_t dlen = 0;
		parse_u64_n(r + 3, sp != NULL ? (size_t)(sp - r - 3) : ll - 3, 0, n, &dlen);
		if (dlen > (uint64_t)(r + n - data))
			dlen = 0;
		if (read) {
			store_be32(flags, (uint32_t)meta_ret_u64(sp != NULL ? sp : r, sp != NULL ?
			    (size_t)(r + ll - sp) : 0, 'f'));
			o = put_packet(o, op, opaque, BIN_OK, cas, flags, 4, key, klen, data, dlen);
		} else {
			uint64_t v = 0;
			parse_u64_n(data, dlen, 0, UINT64_MAX, &v);
			store_be64(num, v);
			o = put_packet(o, op, opaque, BIN_OK, cas, NULL, 0, NULL, 0, (char *)num, 8);
		}
	} else if ((ll == 2 || (ll > 2 && r[2] == ' ')) && (memcmp(r, "HD", 2) == 0 ||
	    memcmp(r, "OK", 2) == 0)) {
		if (read) { /* touch */
			store_be32(flags, (uint32_t)(ll > 3 ? meta_ret_u64(r + 3, ll - 3, 'f') : 0));
			o = put_packet(o, op, opaque, BIN_OK, cas, flags, 4, NULL, 0, NULL, 0);
		} else {
			o = put_packet(o, op, opaque, BIN_OK, cas, NULL, 0, NULL, 0, NULL, 0);
		}
	} else if (ll >= 2 && (memcmp(r, "EN", 2) == 0 || memcmp(r, "NF", 2) == 0 ||
	    memcmp(r, "EX", 2) == 0 || memcmp(r, "NS", 2) == 0) && (ll == 2 || r[2] == ' ')) {
		if (r[0] == 'E' && r[1] == 'X')
			status = BIN_KEY_EEXISTS;
		else if (r[0] == 'N' && r[1] == 'S')
			status = op == BIN_ADD || op == BIN_ADDQ ? BIN_KEY_EEXISTS :
			    op == BIN_REPLACE || op == BIN_REPLACEQ ? BIN_KEY_ENOENT : BIN_NOT_STORED;
		else
			status = BIN_KEY_ENOENT;
		if (withkey)
			o = put_packet(o, op, opaque, status, 0, NULL, 0, key, klen, key, klen);
		else
			o = put_packet(o, op, opaque, status, 0, NULL, 0, NULL, 0,
			    status == BIN_KEY_ENOENT ? "Not found" : status == BIN_KEY_EEXISTS ?
			    "Data exists for key." : "Not stored.", status == BIN_KEY_ENOENT ? 9 :
			    status == BIN_KEY_EEXISTS ? 20 : 11);
	} else {
		status = text_error_status(r, ll, &msg, &mlen);
		o = put_packet(o, op, opaque, status, 0, NULL, 0, NULL, 0, msg, mlen);
	}
	*out = buf;
	*outlen = (size_t)(o - buf);
	return 0;
}
