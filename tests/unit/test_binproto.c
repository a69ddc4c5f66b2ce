/* Unit tests of cache/binproto: framing (whole, partial and malformed headers), each
 * opcode's reply header, quiet semantics, SASL PLAIN and the refusals before it, on a
 * server without sockets or threads (one worker whose scratch output is read back). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cache/binproto.h"
#include "cache/binproxy.h"
#include "cache/mcd.h"
#include "cache/output.h"
#include "log.h"

#define ITEM_MAX 4096
#define LIMIT (1024 * 1024)

static const struct bin_limits lim = { .item_max = ITEM_MAX };

/* --- requests and replies ----------------------------------------------------------- */

static size_t
req(uint8_t *out, uint8_t op, const char *key, const void *extras, uint8_t extlen,
    const char *value, uint32_t opaque, uint64_t cas)
{
	size_t klen = key != NULL ? strlen(key) : 0, vlen = value != NULL ? strlen(value) : 0;
	uint32_t body = (uint32_t)(extlen + klen + vlen);

	/* a request header is a response header with the other magic */
	binproto_header(out, op, extlen, (uint16_t)klen, 0, body, opaque, cas);
	out[0] = BIN_MAGIC_REQ;
	if (extlen > 0)
		memcpy(out + BIN_HEADER_LEN, extras, extlen);
	if (klen > 0)
		memcpy(out + BIN_HEADER_LEN + extlen, key, klen);
	if (vlen > 0)
		memcpy(out + BIN_HEADER_LEN + extlen + klen, value, vlen);
	return BIN_HEADER_LEN + body;
}

struct reply {
	uint8_t op, extlen;
	uint16_t keylen, status;
	uint32_t bodylen, opaque;
	uint64_t cas;
	const uint8_t *body;
};

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static struct reply
reply_at(const uint8_t *p)
{
	struct reply r;

	assert_int_equal(p[0], BIN_MAGIC_RES);
	r.op = p[1];
	r.keylen = (uint16_t)be(p + 2, 2);
	r.extlen = p[4];
	r.status = (uint16_t)be(p + 6, 2);
	r.bodylen = (uint32_t)be(p + 8, 4);
	r.opaque = (uint32_t)be(p + 12, 4);
	r.cas = be(p + 16, 8);
	r.body = p + BIN_HEADER_LEN;
	return r;
}

/* --- a server ------------------------------------------------------------------------ */

struct fixture {
	struct mcd *m;
	struct conn c;
	uint8_t out[65536];   /* the replies of the last run, flattened */
	size_t outlen;
	bool open;            /* the connection stayed open (plain) */
};

static struct mcd *
server(bool auth)
{
	struct mcd *m = calloc(1, sizeof(*m));
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];

	assert_non_null(m);
	m->set.item_max = ITEM_MAX;
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
		assert_int_equal(tenant_registry_init_default(&m->tenants, LIMIT), 0);
		return m;
	}
	pthread_rwlock_init(&m->tenants.lock, NULL);
	assert_int_equal(tenants_add(&tf, "acme", "acme-pw", LIMIT, TENANT_CAPS_DEFAULT, err,
	    sizeof(err)), 0);
	assert_int_equal(tenants_add(&tf, "reader", "reader-pw", LIMIT, TENANT_CAP_READ, err,
	    sizeof(err)), 0);
	assert_int_equal(tenant_registry_apply(&m->tenants, &tf, m->started_mono_ms, NULL), 0);
	tenants_release(&tf);
	return m;
}

static int
setup(void **state, bool auth)
{
	struct fixture *f = calloc(1, sizeof(*f));

	log_set_level(LOG_LEVEL_ERR);
	f->m = server(auth);
	f->c.fd = -1;
	f->c.w = &f->m->workers[0];
	f->c.listener = &f->m->listeners[0];
	f->c.binary = f->c.proto_known = true;
	if (!auth)
		f->c.tenant = tenant_default(&f->m->tenants);
	*state = f;
	return 0;
}

static int
setup_open(void **state)
{
	return setup(state, false);
}

static int
setup_auth(void **state)
{
	return setup(state, true);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->c.tenant != NULL)
		tenant_put(f->c.tenant);
	tenant_registry_release(&f->m->tenants);
	free(f->m->workers[0].obuf);
	free(f->m->workers[0].osegs);
	free(f->m);
	free(f);
	return 0;
}

/* Serves buf[0..len) as conn_serve does; the replies land in f->out. Returns
 * whether the connection stays open. */
static bool
serve(struct fixture *f, const uint8_t *buf, size_t len)
{
	struct worker *w = f->c.w;
	struct bin_limits l = { .item_max = ITEM_MAX, .small = f->c.tenant == NULL };
	struct bin_request r;
	enum proto_status st;
	bool open = true;
	size_t used;

	while (len > 0 && open) {
		st = binproto_parse((const char *)buf, len, &l, &r, &used);
		assert_int_not_equal(st, PROTO_INCOMPLETE);
		open = binproto_exec(&f->c, &r, st);
		l.small = f->c.tenant == NULL;
		buf += used;
		len -= used;
		if (st == PROTO_SWALLOW)
			len -= r.swallow < len ? r.swallow : len, buf += r.swallow;
	}
	f->outlen = 0;
	for (size_t i = 0; i < w->nosegs; i++) {
		const struct out_seg *s = &w->osegs[i];
		const char *p = s->ref != NULL ? s->p : w->obuf + s->off;
		assert_true(f->outlen + s->len <= sizeof(f->out));
		memcpy(f->out + f->outlen, p, s->len);
		f->outlen += s->len;
	}
	output_discard(w, f->c.tenant != NULL ? f->c.tenant->store : NULL);
	return open;
}

/* One request, exactly one reply: returned. */
static struct reply
call(struct fixture *f, uint8_t op, const char *key, const void *extras, uint8_t extlen,
    const char *value, uint64_t cas)
{
	uint8_t buf[2048];
	struct reply r;

	serve(f, buf, req(buf, op, key, extras, extlen, value, 0xabcd, cas));
	assert_true(f->outlen >= BIN_HEADER_LEN);
	r = reply_at(f->out);
	assert_int_equal(f->outlen, BIN_HEADER_LEN + r.bodylen);
	assert_int_equal(r.op, op);
	assert_int_equal(r.opaque, 0xabcd);
	return r;
}

static const uint8_t set_extras[8] = { 0, 0, 0, 42, 0, 0, 0, 0 }; /* flags 42, no expiry */

/* --- framing -------------------------------------------------------------------------- */

static void
a_request_is_incomplete_until_its_whole_body_is_in(void **state)
{
	uint8_t buf[128];
	struct bin_request r;
	size_t n = req(buf, BIN_SET, "key", set_extras, 8, "value", 7, 99), used;
	(void)state;

	assert_int_equal(binproto_parse((char *)buf, 10, &lim, &r, &used), PROTO_INCOMPLETE);
	assert_int_equal(used, BIN_HEADER_LEN);
	assert_int_equal(binproto_parse((char *)buf, n - 1, &lim, &r, &used), PROTO_INCOMPLETE);
	assert_int_equal(used, n);
	assert_int_equal(binproto_parse((char *)buf, n, &lim, &r, &used), PROTO_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.opcode, BIN_SET);
	assert_int_equal(r.opaque, 7);
	assert_int_equal(r.cas, 99);
	assert_int_equal(r.keylen, 3);
	assert_memory_equal(r.key, "key", 3);
	assert_int_equal(r.vlen, 5);
	assert_memory_equal(r.value, "value", 5);
}

static void
a_malformed_header_is_a_fatal_invalid_arguments(void **state)
{
	uint8_t buf[512];
	struct bin_request r;
	size_t used;
	char key[252];
	(void)state;

	req(buf, BIN_NOOP, NULL, NULL, 0, NULL, 0, 0);
	buf[0] = 0x42; /* bad magic */
	assert_int_equal(binproto_parse((char *)buf, 24, &lim, &r, &used), PROTO_ERROR);
	assert_true(r.fatal);
	assert_int_equal(r.error, BIN_EINVAL);
	memset(key, 'k', 251);
	key[251] = '\0';
	req(buf, BIN_GET, key, NULL, 0, NULL, 0, 0); /* key over 250 */
	assert_int_equal(binproto_parse((char *)buf, 24 + 251, &lim, &r, &used), PROTO_ERROR);
	assert_true(r.fatal);
	req(buf, BIN_SET, "k", set_extras, 4, "v", 0, 0); /* set takes 8 bytes of extras */
	assert_int_equal(binproto_parse((char *)buf, 30, &lim, &r, &used), PROTO_ERROR);
	assert_true(r.fatal);
	req(buf, BIN_GET, "k", NULL, 0, "v", 0, 0); /* get takes no value */
	assert_int_equal(binproto_parse((char *)buf, 26, &lim, &r, &used), PROTO_ERROR);
	assert_true(r.fatal);
	req(buf, BIN_GET, "kkkk", NULL, 0, NULL, 0, 0);
	buf[11] = 2; /* body shorter than the key: memcached's "unknown command" */
	assert_int_equal(binproto_parse((char *)buf, 28, &lim, &r, &used), PROTO_ERROR);
	assert_true(r.fatal);
	assert_int_equal(r.error, BIN_UNKNOWN_COMMAND);
	req(buf, BIN_NOOP, "k", NULL, 0, NULL, 0, 0); /* noop takes no key */
	assert_int_equal(binproto_parse((char *)buf, 25, &lim, &r, &used), PROTO_ERROR);
	assert_true(r.fatal);
}

static void
an_unknown_opcode_skips_its_body(void **state)
{
	uint8_t buf[64];
	struct bin_request r;
	size_t used;
	(void)state;

	req(buf, 0x7f, NULL, NULL, 0, "abcdef", 0, 0);
	assert_int_equal(binproto_parse((char *)buf, 24, &lim, &r, &used), PROTO_SWALLOW);
	assert_int_equal(used, 24);
	assert_int_equal(r.swallow, 6);
	assert_int_equal(r.error, BIN_UNKNOWN_COMMAND);
	assert_false(r.fatal);
}

static void
a_value_over_the_item_size_is_swallowed_not_held(void **state)
{
	uint8_t buf[64];
	struct bin_request r;
	size_t used;
	(void)state;

	req(buf, BIN_SET, "k", set_extras, 8, NULL, 0, 0);
	buf[8] = 0x10; /* a value of 256 MiB */
	assert_int_equal(binproto_parse((char *)buf, 33, &lim, &r, &used), PROTO_SWALLOW);
	assert_int_equal(used, 33);
	assert_int_equal(r.error, BIN_E2BIG);
	assert_int_equal(r.swallow, 1u << 28);
}

static void
before_authentication_a_body_is_small(void **state)
{
	const struct bin_limits small = { .item_max = ITEM_MAX, .small = true };
	uint8_t buf[64];
	struct bin_request r;
	size_t used;
	(void)state;

	req(buf, BIN_SET, "k", set_extras, 8, NULL, 0, 0);
	buf[10] = 0x10; /* 4 KiB */
	assert_int_equal(binproto_parse((char *)buf, 33, &small, &r, &used), PROTO_ERROR);
	assert_true(r.fatal);
	assert_int_equal(r.error, BIN_E2BIG);
	assert_int_equal(binproto_parse((char *)buf, 33, &lim, &r, &used), PROTO_INCOMPLETE);
}

/* --- opcodes ---------------------------------------------------------------------------- */

static void
set_get_getk_and_their_reply_headers(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	uint64_t cas;

	r = call(f, BIN_SET, "k", set_extras, 8, "value", 0);
	assert_int_equal(r.status, BIN_OK);
	assert_int_equal(r.bodylen, 0);
	assert_int_not_equal(r.cas, 0);
	cas = r.cas;
	r = call(f, BIN_GET, "k", NULL, 0, NULL, 0);
	assert_int_equal(r.status, BIN_OK);
	assert_int_equal(r.extlen, 4);
	assert_int_equal(r.keylen, 0);
	assert_int_equal(be(r.body, 4), 42);
	assert_int_equal(r.bodylen, 4 + 5);
	assert_memory_equal(r.body + 4, "value", 5);
	assert_int_equal(r.cas, cas);
	r = call(f, BIN_GETK, "k", NULL, 0, NULL, 0);
	assert_int_equal(r.keylen, 1);
	assert_memory_equal(r.body + 4, "kvalue", 6);
	r = call(f, BIN_GET, "none", NULL, 0, NULL, 0);
	assert_int_equal(r.status, BIN_KEY_ENOENT);
	assert_memory_equal(r.body, "Not found", r.bodylen);
	r = call(f, BIN_GETK, "none", NULL, 0, NULL, 0);
	assert_int_equal(r.status, BIN_KEY_ENOENT);
	assert_int_equal(r.keylen, 4);
	/* cas: a stale one fails, the right one stores */
	r = call(f, BIN_SET, "k", set_extras, 8, "x", cas + 1000);
	assert_int_equal(r.status, BIN_KEY_EEXISTS);
	r = call(f, BIN_SET, "k", set_extras, 8, "x", cas);
	assert_int_equal(r.status, BIN_OK);
}

static void
add_replace_append_prepend_answer_as_memcached(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(call(f, BIN_ADD, "a", set_extras, 8, "1", 0).status, BIN_OK);
	assert_int_equal(call(f, BIN_ADD, "a", set_extras, 8, "1", 0).status, BIN_KEY_EEXISTS);
	assert_int_equal(call(f, BIN_REPLACE, "b", set_extras, 8, "1", 0).status,
	    BIN_KEY_ENOENT);
	assert_int_equal(call(f, BIN_APPEND, "b", NULL, 0, "1", 0).status, BIN_NOT_STORED);
	assert_int_equal(call(f, BIN_APPEND, "a", NULL, 0, "2", 0).status, BIN_OK);
	assert_int_equal(call(f, BIN_PREPEND, "a", NULL, 0, "0", 0).status, BIN_OK);
	assert_memory_equal(call(f, BIN_GET, "a", NULL, 0, NULL, 0).body + 4, "012", 3);
}

static void
incr_decr_create_count_and_refuse_non_numbers(void **state)
{
	struct fixture *f = *state;
	uint8_t ext[20] = { 0 };
	struct reply r;

	ext[7] = 5;          /* delta 5 */
	ext[15] = 10;        /* initial 10 */
	r = call(f, BIN_INCR, "n", ext, 20, NULL, 0);
	assert_int_equal(r.status, BIN_OK);
	assert_int_equal(r.bodylen, 8);
	assert_int_equal(be(r.body, 8), 10);  /* created with the initial value */
	r = call(f, BIN_INCR, "n", ext, 20, NULL, 0);
	assert_int_equal(be(r.body, 8), 15);
	r = call(f, BIN_DECR, "n", ext, 20, NULL, 0);
	assert_int_equal(be(r.body, 8), 10);
	memset(ext + 16, 0xff, 4); /* do not create */
	assert_int_equal(call(f, BIN_INCR, "m", ext, 20, NULL, 0).status, BIN_KEY_ENOENT);
	call(f, BIN_SET, "s", set_extras, 8, "abc", 0);
	assert_int_equal(call(f, BIN_INCR, "s", ext, 20, NULL, 0).status, BIN_DELTA_BADVAL);
}

static void
delete_touch_gat_flush_noop_version(void **state)
{
	struct fixture *f = *state;
	uint8_t exp[4] = { 0, 0, 0, 100 };
	struct reply r;

	call(f, BIN_SET, "k", set_extras, 8, "v", 0);
	r = call(f, BIN_TOUCH, "k", exp, 4, NULL, 0);
	assert_int_equal(r.status, BIN_OK);
	assert_int_equal(r.extlen, 4);
	assert_int_equal(r.bodylen, 4); /* flags, no value */
	r = call(f, BIN_GAT, "k", exp, 4, NULL, 0);
	assert_int_equal(r.bodylen, 5);
	assert_int_equal(call(f, BIN_DELETE, "k", NULL, 0, NULL, 0).status, BIN_OK);
	assert_int_equal(call(f, BIN_DELETE, "k", NULL, 0, NULL, 0).status, BIN_KEY_ENOENT);
	assert_int_equal(call(f, BIN_TOUCH, "k", exp, 4, NULL, 0).status, BIN_KEY_ENOENT);
	call(f, BIN_SET, "k", set_extras, 8, "v", 0);
	assert_int_equal(call(f, BIN_FLUSH, NULL, NULL, 0, NULL, 0).status, BIN_OK);
	assert_int_equal(call(f, BIN_GET, "k", NULL, 0, NULL, 0).status, BIN_KEY_ENOENT);
	assert_int_equal(call(f, BIN_NOOP, NULL, NULL, 0, NULL, 0).bodylen, 0);
	r = call(f, BIN_VERSION, NULL, NULL, 0, NULL, 0);
	assert_memory_equal(r.body, MCD_VERSION, r.bodylen);
	assert_int_equal(call(f, BIN_VERBOSITY, NULL, exp, 4, NULL, 0).status, BIN_OK);
}

static void
quiet_opcodes_hide_only_what_memcached_hides(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[512], ext[20] = { 0 };
	size_t n = 0;

	ext[7] = 1;
	n += req(buf + n, BIN_SETQ, "q", set_extras, 8, "v", 1, 0);     /* hidden */
	n += req(buf + n, BIN_ADDQ, "q", set_extras, 8, "v", 2, 0);     /* exists: said */
	n += req(buf + n, BIN_GETQ, "none", NULL, 0, NULL, 3, 0);       /* miss: hidden */
	n += req(buf + n, BIN_GETKQ, "q", NULL, 0, NULL, 4, 0);         /* hit: said */
	n += req(buf + n, BIN_DELETEQ, "none", NULL, 0, NULL, 5, 0);    /* miss: said */
	n += req(buf + n, BIN_INCRQ, "c", ext, 20, NULL, 6, 0);         /* hidden */
	n += req(buf + n, BIN_FLUSHQ, NULL, NULL, 0, NULL, 7, 0);       /* hidden */
	n += req(buf + n, BIN_NOOP, NULL, NULL, 0, NULL, 8, 0);
	assert_true(serve(f, buf, n));
	{
		static const uint32_t want_opaque[] = { 2, 4, 5, 8 };
		static const uint16_t want_status[] = { BIN_KEY_EEXISTS, BIN_OK, BIN_KEY_ENOENT,
			BIN_OK };
		size_t off = 0;
		for (size_t i = 0; i < 4; i++) {
			struct reply r = reply_at(f->out + off);
			assert_int_equal(r.opaque, want_opaque[i]);
			assert_int_equal(r.status, want_status[i]);
			off += BIN_HEADER_LEN + r.bodylen;
		}
		assert_int_equal(off, f->outlen);
	}
	n = req(buf, BIN_QUITQ, NULL, NULL, 0, NULL, 9, 0);
	assert_false(serve(f, buf, n));
	assert_int_equal(f->outlen, 0);
}

static void
stat_packets_end_with_an_empty_one(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	size_t off = 0, n = 0;
	struct reply r;

	serve(f, buf, req(buf, BIN_STAT, NULL, NULL, 0, NULL, 5, 0));
	do {
		r = reply_at(f->out + off);
		assert_int_equal(r.status, BIN_OK);
		assert_int_equal(r.opaque, 5);
		off += BIN_HEADER_LEN + r.bodylen;
		n++;
	} while (r.keylen != 0);
	assert_int_equal(off, f->outlen);
	assert_true(n > 10);
	assert_int_equal(call(f, BIN_STAT, "nonsense", NULL, 0, NULL, 0).status, BIN_KEY_ENOENT);
}

static void
without_a_tenants_file_there_is_no_sasl(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(call(f, BIN_SASL_LIST, NULL, NULL, 0, NULL, 0).status,
	    BIN_UNKNOWN_COMMAND);
}

/* --- SASL --------------------------------------------------------------------------------- */

static struct reply
plain(struct fixture *f, const char *user, const char *pw)
{
	uint8_t buf[256];
	char v[128];
	size_t n, vlen = (size_t)snprintf(v, sizeof(v), "x%sx%s", user, pw);
	struct reply r;

	v[0] = '\0';
	v[1 + strlen(user)] = '\0';
	n = req(buf, BIN_SASL_AUTH, "PLAIN", NULL, 0, NULL, 1, 0);
	/* the value holds NULs: put it in by hand */
	memcpy(buf + n, v, vlen);
	buf[8] = buf[9] = buf[10] = 0;
	buf[11] = (uint8_t)(5 + vlen);
	f->open = serve(f, buf, n + vlen);
	r = reply_at(f->out);
	assert_int_equal(r.op, BIN_SASL_AUTH);
	return r;
}

static void
before_sasl_only_sasl_version_and_quit_are_served(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	r = call(f, BIN_GET, "k", NULL, 0, NULL, 0);
	assert_int_equal(r.status, BIN_AUTH_ERROR);
	assert_int_equal(call(f, BIN_NOOP, NULL, NULL, 0, NULL, 0).status, BIN_AUTH_ERROR);
	assert_int_equal(call(f, BIN_SET, "k", set_extras, 8, "v", 0).status, BIN_AUTH_ERROR);
	assert_int_equal(call(f, BIN_VERSION, NULL, NULL, 0, NULL, 0).status, BIN_OK);
	r = call(f, BIN_SASL_LIST, NULL, NULL, 0, NULL, 0);
	assert_int_equal(r.status, BIN_OK);
	assert_memory_equal(r.body, "PLAIN", r.bodylen);
	assert_int_equal(call(f, BIN_SASL_STEP, "PLAIN", NULL, 0, "x", 0).status,
	    BIN_AUTH_ERROR);
	assert_int_equal(call(f, BIN_SASL_AUTH, "CRAM-MD5", NULL, 0, "x", 0).status,
	    BIN_AUTH_ERROR);
	assert_null(f->c.tenant);
}

static void
plain_logs_in_as_the_text_login_does(void **state)
{
	struct fixture *f = *state;
	struct tenant *t;

	assert_int_equal(plain(f, "acme", "wrong").status, BIN_AUTH_ERROR);
	assert_null(f->c.tenant);
	t = tenant_find(&f->m->tenants, "acme", 4);
	assert_int_equal(atomic_load(&t->counters.auth_failed), 1);
	assert_int_equal(plain(f, "acme", "acme-pw").status, BIN_OK);
	assert_ptr_equal(f->c.tenant, t);
	assert_int_equal(atomic_load(&t->counters.auth_ok), 1);
	assert_int_equal(atomic_load(&t->counters.curr_connections), 1);
	assert_int_equal(STAT_GET(f->m->workers[0].stats.auth_cmds), 2);
	assert_int_equal(STAT_GET(f->m->workers[0].stats.auth_errors), 1);
	assert_int_equal(call(f, BIN_SET, "k", set_extras, 8, "v", 0).status, BIN_OK);
	tenant_put(t);
}

static void
three_failures_close_the_connection(void **state)
{
	struct fixture *f = *state;

	plain(f, "acme", "a");
	assert_true(f->open);
	plain(f, "nobody", "b");
	assert_true(f->open);
	assert_int_equal(plain(f, "acme", "c").status, BIN_AUTH_ERROR);
	assert_false(f->open);
}

static void
a_tenant_without_write_is_refused_with_auth_error(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	assert_int_equal(plain(f, "reader", "reader-pw").status, BIN_OK);
	r = call(f, BIN_SETQ, "k", set_extras, 8, "v", 0);
	assert_int_equal(r.status, BIN_AUTH_ERROR); /* said even though quiet */
	assert_non_null(memmem(r.body, r.bodylen, "may not write", 13));
	assert_int_equal(call(f, BIN_GET, "k", NULL, 0, NULL, 0).status, BIN_KEY_ENOENT);
	assert_int_equal(call(f, BIN_FLUSH, NULL, NULL, 0, NULL, 0).status, BIN_AUTH_ERROR);
}

/* --- through the proxy: meta replies made binary ------------------------------------- */

static struct reply
from_meta(uint8_t op, const char *text, char **buf)
{
	size_t n;
	struct reply r;

	assert_int_equal(binproxy_reply(op, 77, text, strlen(text), buf, &n), 0);
	assert_non_null(*buf);
	r = reply_at((const uint8_t *)*buf);
	assert_int_equal(n, BIN_HEADER_LEN + r.bodylen);
	assert_int_equal(r.op, op);
	assert_int_equal(r.opaque, 77);
	return r;
}

static void
meta_replies_become_the_binary_replies_memcached_gives(void **state)
{
	char *b;
	struct reply r;
	(void)state;

	r = from_meta(BIN_GETK, "VA 3 f7 c99 kkey\r\nabc\r\n", &b);
	assert_int_equal(r.status, BIN_OK);
	assert_int_equal(r.cas, 99);
	assert_int_equal(r.extlen, 4);
	assert_int_equal(be(r.body, 4), 7);
	assert_int_equal(r.keylen, 3);
	assert_memory_equal(r.body + 4, "keyabc", 6);
	free(b);
	r = from_meta(BIN_GETK, "EN kYSBi b\r\n", &b); /* base64 of "a b" */
	assert_int_equal(r.status, BIN_KEY_ENOENT);
	assert_int_equal(r.keylen, 3);
	assert_memory_equal(r.body, "a b", 3);
	free(b);
	r = from_meta(BIN_SET, "HD c12\r\n", &b);
	assert_int_equal(r.status, BIN_OK);
	assert_int_equal(r.cas, 12);
	free(b);
	assert_int_equal(from_meta(BIN_ADD, "NS\r\n", &b).status, BIN_KEY_EEXISTS);
	free(b);
	assert_int_equal(from_meta(BIN_REPLACE, "NS\r\n", &b).status, BIN_KEY_ENOENT);
	free(b);
	assert_int_equal(from_meta(BIN_APPEND, "NS\r\n", &b).status, BIN_NOT_STORED);
	free(b);
	r = from_meta(BIN_INCR, "VA 2 c5\r\n42\r\n", &b);
	assert_int_equal(r.bodylen, 8);
	assert_int_equal(be(r.body, 8), 42);
	free(b);
	assert_int_equal(from_meta(BIN_INCR, "CLIENT_ERROR cannot increment or decrement "
	    "non-numeric value\r\n", &b).status, BIN_DELTA_BADVAL);
	free(b);
	r = from_meta(BIN_SET, "SERVER_ERROR backend unavailable\r\n", &b);
	assert_int_equal(r.status, BIN_EINTERNAL);
	assert_memory_equal(r.body, "backend unavailable", r.bodylen);
	free(b);
	r = from_meta(BIN_TOUCH, "HD f3 c8\r\n", &b);
	assert_int_equal(r.extlen, 4);
	assert_int_equal(r.bodylen, 4);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_request_is_incomplete_until_its_whole_body_is_in),
		cmocka_unit_test(a_malformed_header_is_a_fatal_invalid_arguments),
		cmocka_unit_test(an_unknown_opcode_skips_its_body),
		cmocka_unit_test(a_value_over_the_item_size_is_swallowed_not_held),
		cmocka_unit_test(before_authentication_a_body_is_small),
		cmocka_unit_test(meta_replies_become_the_binary_replies_memcached_gives),
		cmocka_unit_test_setup_teardown(set_get_getk_and_their_reply_headers, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(add_replace_append_prepend_answer_as_memcached,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(incr_decr_create_count_and_refuse_non_numbers,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(delete_touch_gat_flush_noop_version, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(quiet_opcodes_hide_only_what_memcached_hides,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(stat_packets_end_with_an_empty_one, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(without_a_tenants_file_there_is_no_sasl, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(before_sasl_only_sasl_version_and_quit_are_served,
		    setup_auth, teardown),
		cmocka_unit_test_setup_teardown(plain_logs_in_as_the_text_login_does, setup_auth,
		    teardown),
		cmocka_unit_test_setup_teardown(three_failures_close_the_connection, setup_auth,
		    teardown),
		cmocka_unit_test_setup_teardown(a_tenant_without_write_is_refused_with_auth_error,
		    setup_auth, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
