/*
 * Fuzz target: mcd's data path past the parser — a whole request stream of one
 * connection through cache/proto.h's parser, cache/exec.c's executor and the
 * tenants' stores, the way conn_serve() in cache/server.c drives them, without
 * sockets or threads (one worker, no event loop; replies go to the worker's scratch
 * buffer, which is checked and emptied after each request).
 *
 * The first byte picks the connection: 0 the client port, not yet authenticated; 1
 * the admin port, not yet authenticated; 2 a client authenticated as "alice" (read,
 * write, flush); 3 one authenticated as "reader" (read only); 4 the client port of
 * a server without a tenants file (the default tenant). The second byte advances
 * the server clock (in seconds) before the stream; the rest is the stream. The
 * server (tenants, stores, counters) lives across inputs, as a real one does.
 *
 * Beyond "does not crash", it checks: every request's reply is empty (noreply) or
 * whole lines ending in "\r\n", within the largest reply; the parser always makes
 * progress; a closed connection stays closed; no reply is ever built out of memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cache/mcd.h"
#include "cache/output.h"
#include "cache/proto.h"
#include "cache/tenant.h"
#include "log.h"
#include "tests/fuzz/check.h"

#define FUZZ_ITEM_MAX 4096
#define FUZZ_TENANT_LIMIT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum fuzz_conn { FUZZ_CLIENT, FUZZ_ADMIN, FUZZ_ALICE, FUZZ_READER, FUZZ_OPEN, FUZZ_CONNS };

struct server {
	struct mcd *m;        /* with a tenants file: auth on both ports */
	struct mcd *open;     /* without: the default tenant */
	struct listener *client, *admin, *open_client;
};

/* A tenants file in a memfd, so that the admin "reload" reads it again. */
static void
write_tenants(struct mcd *m, struct tenant_file *tf)
{
	static const struct {
		const char *name, *password;
		unsigned caps;
	} accounts[] = {
		{ "alice", "alice-pw", TENANT_CAP_READ | TENANT_CAP_WRITE | TENANT_CAP_FLUSH },
		{ "reader", "reader-pw", TENANT_CAP_READ },
		{ "ops", "ops-pw", TENANT_CAP_ADMIN },
	};
	char err[TENANTS_ERR_LEN], line[TENANT_LINE_LEN + 2];
	size_t i;
	int fd, n;

	for (i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++)
		CHECK(tenants_add(tf, accounts[i].name, accounts[i].password, FUZZ_TENANT_LIMIT,
		    accounts[i].caps, err, sizeof(err)) == 0);
	CHECK((fd = memfd_create("tenants", 0)) >= 0);
	for (i = 0; i < tf->n; i++) {
		CHECK((n = tenant_entry_format(&tf->entries[i], line, TENANT_LINE_LEN)) > 0);
		line[n++] = '\n';
		CHECK(write(fd, line, (size_t)n) == n);
	}
	snprintf(m->set.tenants_path, sizeof(m->set.tenants_path), "/proc/self/fd/%d", fd);
}

static struct mcd *
server_new(void)
{
	struct mcd *m = calloc(1, sizeof(*m));

	CHECK(m != NULL);
	m->set.item_max = FUZZ_ITEM_MAX;
	m->set.memory = FUZZ_TENANT_LIMIT;
	m->set.threads = 1;
	m->nworkers = 0; /* nothing to broadcast to: workers[0] serves without a thread */
	m->workers[0].mcd = m;
	m->started_mono_ms = mcd_now();
	m->started_unix = 1700000000;
	m->workers[0].now = m->started_mono_ms;
	pthread_mutex_init(&m->reload_lock, NULL);
	pthread_mutex_init(&m->kernel_lock, NULL);
	for (int i = 0; i < MCD_LISTENERS_MAX; i++)
		m->listeners[i].fd = -1;
	return m;
}

static struct server *
the_server(void)
{
	static struct server s;
	struct tenant_file tf = { 0 };

	if (s.m != NULL)
		return &s;
	s.m = server_new();
	write_tenants(s.m, &tf);
	CHECK(tenant_registry_apply(&s.m->tenants, &tf, s.m->started_mono_ms, NULL) == 0);
	tenants_release(&tf);
	s.m->nlisteners = 2;
	s.client = &s.m->listeners[0];
	s.client->kind = LISTENER_CLIENT;
	s.client->auth = true;
	s.client->mcd = s.m;
	s.admin = &s.m->listeners[1];
	s.admin->kind = LISTENER_ADMIN;
	s.admin->auth = true;
	s.admin->mcd = s.m;

	s.open = server_new();
	CHECK(tenant_registry_init_default(&s.open->tenants, FUZZ_TENANT_LIMIT) == 0);
	s.open->nlisteners = 1;
	s.open_client = &s.open->listeners[0];
	s.open_client->kind = LISTENER_CLIENT;
	s.open_client->mcd = s.open;
	return &s;
}

/* Sets up c as connection kind k; the tenant's reference is c's. */
static void
conn_open(struct server *s, struct conn *c, enum fuzz_conn k)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	switch (k) {
	case FUZZ_CLIENT:
	case FUZZ_ALICE:
	case FUZZ_READER:
		c->w = &s->m->workers[0];
		c->listener = s->client;
		if (k == FUZZ_ALICE)
			c->tenant = tenant_authenticate(&s->m->tenants, "alice", 5, "alice-pw", 8,
			    &c->cred_gen);
		else if (k == FUZZ_READER)
			c->tenant = tenant_authenticate(&s->m->tenants, "reader", 6, "reader-pw", 9,
			    &c->cred_gen);
		CHECK(k == FUZZ_CLIENT || c->tenant != NULL);
		break;
	case FUZZ_ADMIN:
		c->w = &s->m->workers[0];
		c->listener = s->admin;
		break;
	default:
		c->w = &s->open->workers[0];
		c->listener = s->open_client;
		c->tenant = tenant_default(&s->open->tenants);
		CHECK(c->tenant != NULL);
		break;
	}
}

static void
conn_close(struct conn *c)
{
	if (c->tenant != NULL)
		tenant_put(c->tenant);
}

/* The reply to one request: nothing, or lines that each end in "\r\n". */
static void
check_reply(const char *p, size_t len)
{
	CHECK(len <= MCD_OUT_REQUEST_MAX + 4096);
	if (len == 0)
		return;
	CHECK(len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n');
}

/* What conn_serve() does with the bytes of one read, all of them available. */
static void
serve(struct conn *c, const char *data, size_t len)
{
	struct worker *w = c->w;
	struct proto_limits lim = { .item_max = w->mcd->set.item_max };
	struct proto_request req;
	enum proto_status st;
	size_t used;
	bool keep_open = true;

	while (len > 0 && keep_open) {
		if (c->swallow > 0) {
			size_t k = c->swallow < len ? (size_t)c->swallow : len;
			data += k;
			len -= k;
			c->swallow -= k;
			continue;
		}
		st = proto_parse(data, len, &lim, &req, &used);
		if (st == PROTO_INCOMPLETE || st == PROTO_CLOSE)
			break;
		CHECK(used > 0 && used <= len);
		keep_open = exec_request(c, &req, st);
		CHECK(!w->oom);
		check_reply(w->obuf, w->olen);
		/* As output_send() does once sent: the pieces and the values' references go
		 * (resetting olen alone kept both, and the server's memory grew without end). */
		output_discard(w, c->tenant != NULL ? c->tenant->store : NULL);
		data += used;
		len -= used;
		if (st == PROTO_SWALLOW)
			c->swallow = req.swallow;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server *s = the_server();
	struct conn c;
	char *buf;

	if (size < 2)
		return 0;
	/* Admin commands log each use: not at this rate ("verbosity" raises it again). */
	log_set_level(LOG_LEVEL_ERR);
	conn_open(s, &c, (enum fuzz_conn)(data[0] % FUZZ_CONNS));
	c.w->now += (int64_t)data[1] * 1000;
	/* A private copy, so that reads past the end are caught. */
	if ((buf = malloc(size - 2 + 1)) == NULL) {
		conn_close(&c);
		return 0;
	}
	memcpy(buf, data + 2, size - 2);
	serve(&c, buf, size - 2);
	free(buf);
	conn_close(&c);
	return 0;
}
