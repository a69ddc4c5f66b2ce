/*
 * Fuzzes the protocol parser the way a connection drives it: parse requests one
 * after another from the input, honouring consumed and swallow, and check that
 * nothing points outside the buffer and that progress is always made.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_token(const struct proto_token *t, const char *buf, size_t len,
    const struct proto_request *req)
{
	if (t->len == 0)
		return;
	/* Inside the input, or inside the request's decoded-key buffer. */
	if (t->p >= buf && t->p + t->len <= buf + len)
		return;
	if (t->p >= req->key_decoded && t->p + t->len <= req->key_decoded + PROTO_KEY_MAX)
		return;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy, so that reads past the end are caught by ASan. */
	char *buf = malloc(size ? size : 1);
	struct proto_limits lim = { .item_max = 4096 };
	struct proto_request req;
	size_t off = 0, used, i;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	while (off < size) {
		enum proto_status st = proto_parse(buf + off, size - off, &lim, &req, &used);
		if (st == PROTO_INCOMPLETE || st == PROTO_CLOSE)
			break;
		if (used == 0 || used > size - off)
			abort();
		if (st == PROTO_OK) {
			check_token(&req.key, buf + off, size - off, &req);
			check_token(&req.keys, buf + off, size - off, &req);
			for (i = 0; i < req.ntokens; i++)
				check_token(&req.tokens[i], buf + off, size - off, &req);
			for (i = 0; i < req.nmflags; i++)
				check_token(&req.mflags[i].tok, buf + off, size - off, &req);
			if (req.data != NULL && (req.data < buf + off ||
			    req.data + req.dlen > buf + size))
				abort();
			if (req.key.len > PROTO_KEY_MAX)
				abort();
			if (req.cmd == CMD_GET || req.cmd == CMD_GETS) {
				struct proto_token k;
				size_t cur = 0;
				while (proto_next_key(&req, &cur, &k))
					check_token(&k, buf + off, size - off, &req);
			}
		} else if (req.error == NULL) {
			abort();
		}
		off += used;
		if (st == PROTO_SWALLOW)
			off += req.swallow < size - off ? req.swallow : size - off;
	}
	free(buf);
	return 0;
}
