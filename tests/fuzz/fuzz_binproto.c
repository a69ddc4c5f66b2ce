/*
 * Fuzz target: mcd's binary protocol — a request stream of one binary connection
 * through cache/binproto.h's framing and opcodes into the tenants' stores, the way
 * conn_serve() in cache/server.c drives them, without sockets or threads (one
 * worker; replies go to its scratch output, checked and emptied after each request).
 *
 * The first byte picks the connection: 0 the client port before SASL, 1 a client
 * logged in as "alice" (read, write, flush), 2 one as "reader" (read only), 3 a
 * server without a tenants file. The second advances the clock (seconds); the rest
 * is the stream. The server lives across inputs, as a real one does. A first byte
 * of 4 instead feeds the rest to binproxy_reply as a backend's meta reply to the
 * opcode in the second byte: the proxy's side of the protocol.
 *
 * Beyond "does not crash", it checks: every reply is a whole sequence of response
 * packets (magic 0x81, body lengths that add up, the request's opcode and opaque),
 * within the largest reply; the framing always makes progress; a closed connection
 * stays closed; no reply is built out of memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/binproto.h"
#include "cache/binproxy.h"
#include "cache/mcd.h"
#include "cache/output.h"
#include "log.h"
#include "tests/fuzz/check.h"

#define FUZZ_ITEM_MAX 4096
#define FUZZ_TENANT_LIMIT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum fuzz_conn { FUZZ_PREAUTH, FUZZ_ALICE, FUZZ_READER, FUZZ_OPEN, FUZZ_META, FUZZ_CONNS };

static struct mcd *
server_new(bool auth)
{
	struct mcd *m = calloc(1, sizeof(*m));
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];

	CHECK(m != NULL);
	m->set.item_max = FUZZ_ITEM_MAX;
	m->set.threads = 1;
	m->workers[0].mcd = m;
	m->started_mono_ms = mcd_now();
	m->started_unix = 1700000000;
	m->workers[0].now = m->started_mono_ms;
	m->listeners[0].kind = LISTENER_CLIENT;
	m->listeners[0].auth = auth;
	m->listeners[0].mcd = m;
	m->nlisteners = 1;
	if (!auth) {
		CHECK(tenant_registry_init_default(&m->tenants, FUZZ_TENANT_LIMIT) == 0);
		return m;
	}
	pthread_rwlock_init(&m->tenants.lock, NULL);
	CHECK(tenants_add(&tf, "alice", "alice-pw", FUZZ_TENANT_LIMIT, TENANT_CAPS_DEFAULT, err,
	    sizeof(err)) == 0);
	CHECK(tenants_add(&tf, "reader", "reader-pw", FUZZ_TENANT_LIMIT, TENANT_CAP_READ, err,
	    sizeof(err)) == 0);
	CHECK(tenant_registry_apply(&m->tenants, &tf, m->started_mono_ms, NULL) == 0);
	tenants_release(&tf);
	return m;
}

/* binproxy_reply: one whole packet of the asked opcode, within the input's size. */
static void
fuzz_meta_reply(uint8_t opcode, const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *out = NULL;
	size_t outlen = 0;
	const uint8_t *h;

	if (text == NULL)
		return;
	memcpy(text, data, size);
	CHECK(binproxy_reply(opcode, 7, text, size, &out, &outlen) == 0);
	if (out != NULL) {
		h = (const uint8_t *)out;
		CHECK(outlen >= BIN_HEADER_LEN && h[0] == BIN_MAGIC_RES && h[1] == opcode);
		CHECK(outlen == BIN_HEADER_LEN + ((size_t)h[8] << 24 | (size_t)h[9] << 16 |
		    (size_t)h[10] << 8 | h[11]));
		CHECK(outlen <= BIN_HEADER_LEN + 4 + PROTO_KEY_MAX + size);
	} else {
		CHECK(outlen == 0);
	}
	free(out);
	free(text);
}

/* A sequence of whole response packets to the request with this opcode and opaque. */
static void
check_reply(const struct worker *w, uint8_t opcode, uint32_t opaque)
{
	uint8_t h[BIN_HEADER_LEN];
	size_t total = 0, want = 0, i;

	CHECK(out_queued(w) <= MCD_OUT_REQUEST_MAX + 4096);
	/* Headers are copied text: walk the copied pieces' bytes in order. */
	for (i = 0; i < w->nosegs; i++)
		total += w->osegs[i].len;
	CHECK(total == out_queued(w));
	if (w->nosegs == 0)
		return;
	CHECK(w->osegs[0].ref == NULL && w->osegs[0].len >= BIN_HEADER_LEN);
	memcpy(h, w->obuf + w->osegs[0].off, BIN_HEADER_LEN);
	CHECK(h[0] == BIN_MAGIC_RES && h[1] == opcode);
	CHECK(((uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15]) ==
	    opaque);
	want = BIN_HEADER_LEN + ((size_t)h[8] << 24 | (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11]);
	CHECK(want <= total);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mcd *with_tenants, *open;
	struct bin_limits lim = { .item_max = FUZZ_ITEM_MAX };
	struct bin_request req;
	struct conn c;
	struct worker *w;
	enum proto_status st;
	const char *p;
	char *buf;
	size_t len, used;
	bool keep_open = true;

	if (size < 2)
		return 0;
	log_set_level(LOG_LEVEL_ERR);
	if (with_tenants == NULL) {
		with_tenants = server_new(true);
		open = server_new(false);
	}
	if (data[0] % FUZZ_CONNS == FUZZ_META) {
		fuzz_meta_reply(data[1], data + 2, size - 2);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.binary = c.proto_known = true;
	switch (data[0] % FUZZ_CONNS) {
	case FUZZ_ALICE:
		c.tenant = tenant_authenticate(&with_tenants->tenants, "alice", 5, "alice-pw", 8, NULL);
		break;
	case FUZZ_READER:
		c.tenant = tenant_authenticate(&with_tenants->tenants, "reader", 6, "reader-pw", 9,
		    NULL);
		break;
	case FUZZ_OPEN:
		c.tenant = tenant_default(&open->tenants);
		break;
	default:
		break;
	}
	c.w = &(data[0] % FUZZ_CONNS == FUZZ_OPEN ? open : with_tenants)->workers[0];
	c.listener = &c.w->mcd->listeners[0];
	w = c.w;
	w->now += (int64_t)data[1] * 1000;
	/* A private copy, so that reads past the end are caught. */
	if ((buf = malloc(size - 2 + 1)) == NULL)
		goto out;
	memcpy(buf, data + 2, size - 2);
	p = buf;
	len = size - 2;
	while (len > 0 && keep_open) {
		if (c.swallow > 0) {
			size_t k = c.swallow < len ? (size_t)c.swallow : len;
			p += k;
			len -= k;
			c.swallow -= k;
			continue;
		}
		lim.small = c.tenant == NULL;
		st = binproto_parse(p, len, &lim, &req, &used);
		if (st == PROTO_INCOMPLETE) {
			CHECK(used > len);
			break;
		}
		CHECK(used > 0 && used <= len);
		keep_open = binproto_exec(&c, &req, st);
		CHECK(!w->oom);
		check_reply(w, (uint8_t)p[1], req.opaque);
		output_discard(w, c.tenant != NULL ? c.tenant->store : NULL);
		p += used;
		len -= used;
		if (st == PROTO_SWALLOW)
			c.swallow = req.swallow;
	}
	free(buf);
out:
	if (c.tenant != NULL) {
		/* A SASL login counted a connection: close it as conn_close does. */
		if (data[0] % FUZZ_CONNS == FUZZ_PREAUTH)
			tenant_conn_closed(c.tenant, 0, false);
		tenant_put(c.tenant);
	}
	return 0;
}
