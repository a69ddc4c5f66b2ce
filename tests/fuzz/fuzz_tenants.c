/*
 * Fuzz target: the tenants file parser (lib/tenants.h, tenants_parse_buffer) and
 * mcd's reload of an accepted file (cache/tenant.h tenant_registry_apply).
 *
 * Beyond "does not crash", it checks the contract: a failure leaves the file empty
 * with a "name:line: message" error; a success yields entries sorted by valid,
 * distinct names with limits and caps in range, and writing them out with
 * tenant_entry_format parses back to the same entries. A reload onto a running
 * registry keeps the tenants that stay (same struct), finds every tenant of the
 * file with its capabilities, counts those that left, and a password check with
 * arbitrary bytes never lets anyone in under a wrong name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/tenant.h"
#include "tenants.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_entries(const struct tenant_file *tf)
{
	size_t i;

	if (tf->n > TENANTS_MAX || (tf->n > 0 && tf->entries == NULL))
		abort();
	for (i = 0; i < tf->n; i++) {
		const struct tenant_entry *e = &tf->entries[i];
		size_t len = strnlen(e->name, sizeof(e->name));

		if (len == sizeof(e->name) || !tenant_name_valid(e->name, len))
			abort();
		if (e->limit > TENANT_LIMIT_MAX || e->max_conns > TENANT_CONN_LIMIT_MAX ||
		    e->conn_rate > TENANT_CONN_LIMIT_MAX)
			abort();
		if (e->caps & ~(unsigned)(TENANT_CAP_READ | TENANT_CAP_WRITE | TENANT_CAP_FLUSH |
				       TENANT_CAP_ADMIN | TENANT_CAP_PROXY))
			abort();
		if (i > 0 && strcmp(tf->entries[i - 1].name, e->name) >= 0)
			abort(); /* sorted, no duplicates */
		if (tenants_find(tf, e->name, len) != e)
			abort();
	}
}

static void
check_round_trip(const struct tenant_file *tf)
{
	struct tenant_file back = { 0 };
	char err[TENANTS_ERR_LEN];
	size_t i, used = 0;
	char *text = malloc(tf->n * (TENANT_LINE_LEN + 1) + 1);
	int n;

	if (text == NULL)
		return;
	for (i = 0; i < tf->n; i++) {
		n = tenant_entry_format(&tf->entries[i], text + used, TENANT_LINE_LEN);
		if (n < 0)
			abort(); /* TENANT_LINE_LEN is documented to be enough */
		used += (size_t)n;
		text[used++] = '\n';
	}
	if (tenants_parse_buffer(&back, "again", text, used, err, sizeof(err)) < 0)
		abort();
	if (back.n != tf->n)
		abort();
	for (i = 0; i < tf->n; i++) {
		const struct tenant_entry *a = &tf->entries[i], *b = &back.entries[i];
		if (strcmp(a->name, b->name) != 0 || memcmp(a->salt, b->salt, sizeof(a->salt)) != 0 ||
		    memcmp(a->hash, b->hash, sizeof(a->hash)) != 0 || a->limit != b->limit ||
		    a->caps != b->caps || a->max_conns != b->max_conns ||
		    a->conn_rate != b->conn_rate)
			abort();
	}
	tenants_release(&back);
	free(text);
}

/* The registry of a running server, started from a file of two tenants. */
static struct tenant_registry *
running_registry(void)
{
	static struct tenant_registry r;
	static int ready;
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];

	if (!ready) {
		if (tenants_add(&tf, "alice", "alice-pw", 1 << 20, TENANT_CAP_READ, err,
			sizeof(err)) < 0 ||
		    tenants_add(&tf, "ops", "ops-pw", 0, TENANT_CAP_ADMIN, err, sizeof(err)) < 0 ||
		    tenant_registry_apply(&r, &tf, 1000, NULL) < 0)
			abort();
		tenants_release(&tf);
		ready = 1;
	}
	return &r;
}

/* Whether reloading tf ends the sessions of running tenant name: gone, or a new salt
 * or hash. */
static size_t
credentials_replaced(struct tenant_registry *r, const struct tenant_file *tf, const char *name)
{
	const struct tenant_entry *e = tenants_find(tf, name, strlen(name));
	struct tenant *t = tenant_find(r, name, strlen(name));
	size_t replaced;

	if (t == NULL)
		abort();
	replaced = e == NULL || memcmp(e->salt, t->salt, sizeof(e->salt)) != 0 ||
	    memcmp(e->hash, t->hash, sizeof(e->hash)) != 0;
	tenant_put(t);
	return replaced;
}

/* Reloads tf onto the running registry, checks it, and restores the registry. */
static void
check_reload(const struct tenant_file *tf, const uint8_t *data, size_t size)
{
	static int64_t now = 2000;
	struct tenant_registry *r = running_registry();
	struct tenant_file back = { 0 };
	struct tenant *alice = tenant_find(r, "alice", 5), *t; /* a reference each */
	char err[TENANTS_ERR_LEN];
	size_t i, removed = 0, left = 0;

	if (alice == NULL)
		abort();
	/* Revoked: each running tenant the file removes or gives another salt or hash. */
	left += credentials_replaced(r, tf, "alice");
	left += credentials_replaced(r, tf, "ops");
	if (tenant_registry_apply(r, tf, now++, &removed) < 0)
		goto out; /* out of memory: the registry is as it was */
	if (r->n != tf->n || removed != left)
		abort();
	for (i = 0; i < tf->n; i++) {
		const struct tenant_entry *e = &tf->entries[i];
		t = tenant_find(r, e->name, strlen(e->name));
		if (t == NULL || atomic_load(&t->caps) != e->caps || atomic_load(&t->removed))
			abort();
		if (strcmp(e->name, "alice") == 0 && t != alice)
			abort(); /* a tenant that stays keeps its struct, and its store */
		tenant_put(t);
	}
	if (tenants_find(tf, "alice", 5) == NULL && !atomic_load(&alice->removed))
		abort();
	/* The input as a password: only a tenant whose hash it matches is let in. */
	for (i = 0; i < tf->n; i++) {
		const struct tenant_entry *e = &tf->entries[i];
		bool ok = tenant_verify(e, (const char *)data, size);
		t = tenant_authenticate(r, e->name, strlen(e->name), (const char *)data, size,
		    NULL);
		if ((t != NULL) != ok)
			abort();
		if (t != NULL)
			tenant_put(t);
	}
	if ((t = tenant_authenticate(r, (const char *)data, size, "alice-pw", 8, NULL)) !=
	    NULL) {
		if (strlen(t->name) != size || memcmp(t->name, data, size) != 0)
			abort();
		tenant_put(t);
	}
out:
	/* Back to the running file for the next input. */
	if (tenants_add(&back, "alice", "alice-pw", 1 << 20, TENANT_CAP_READ, err,
		sizeof(err)) < 0 ||
	    tenants_add(&back, "ops", "ops-pw", 0, TENANT_CAP_ADMIN, err, sizeof(err)) < 0 ||
	    tenant_registry_apply(r, &back, now++, NULL) < 0)
		abort();
	tenants_release(&back);
	tenant_put(alice);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tenant_file tf = { 0 };
	char err[TENANTS_ERR_LEN];

	if (tenants_parse_buffer(&tf, "fuzz", (const char *)data, size, err, sizeof(err)) < 0) {
		if (tf.n != 0 || tf.entries != NULL || strncmp(err, "fuzz:", 5) != 0)
			abort();
		return 0;
	}
	check_entries(&tf);
	check_round_trip(&tf);
	check_reload(&tf, data, size);
	/* Lookups with arbitrary bytes as the name must only ever miss or hit exactly. */
	if (size > 0) {
		struct tenant_entry *e = tenants_find(&tf, (const char *)data, size);
		if (e != NULL && (strlen(e->name) != size || memcmp(e->name, data, size) != 0))
			abort();
	}
	tenants_release(&tf);
	return 0;
}
