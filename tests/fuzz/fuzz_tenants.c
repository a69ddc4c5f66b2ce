/*
 * Fuzz target: the tenants file parser (lib/tenants.h, tenants_parse_buffer).
 *
 * Beyond "does not crash", it checks the contract: a failure leaves the file empty
 * with a "name:line: message" error; a success yields entries sorted by valid,
 * distinct names with limits and caps in range, and writing them out with
 * tenant_entry_format parses back to the same entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
		if (e->limit > TENANT_LIMIT_MAX)
			abort();
		if (e->caps & ~(unsigned)(TENANT_CAP_READ | TENANT_CAP_WRITE | TENANT_CAP_FLUSH |
				       TENANT_CAP_ADMIN))
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
		    a->caps != b->caps)
			abort();
	}
	tenants_release(&back);
	free(text);
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
	/* Lookups with arbitrary bytes as the name must only ever miss or hit exactly. */
	if (size > 0) {
		struct tenant_entry *e = tenants_find(&tf, (const char *)data, size);
		if (e != NULL && (strlen(e->name) != size || memcmp(e->name, data, size) != 0))
			abort();
	}
	tenants_release(&tf);
	return 0;
}
