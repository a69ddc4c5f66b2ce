/*
 * Fuzz target: the parsers of what a memcache node sends back and of node addresses
 * (lib/mcclient.h mcclient_parse_stats, over lib/mcreply.h's STAT iterator; lib/cluster.h
 * cluster_addr_parse).
 *
 * Beyond "does not crash", it checks the contracts: parsed stats have bounded,
 * NUL-terminated names without spaces; a failure leaves no stats; an accepted
 * address has a port in 1..65535 and its canonical text parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "mcclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_stats(const uint8_t *data, size_t size)
{
	struct mcclient_stats st = { 0 };
	char err[256];
	size_t i;

	if (mcclient_parse_stats((const char *)data, size, &st, err, sizeof(err)) != MCCLIENT_OK) {
		if (st.n != 0 || st.v != NULL)
			abort();
		return;
	}
	for (i = 0; i < st.n; i++) {
		size_t n = strnlen(st.v[i].name, sizeof(st.v[i].name));
		if (n == 0 || n > MCCLIENT_STAT_NAME_MAX || strchr(st.v[i].name, ' ') != NULL)
			abort();
		if (strnlen(st.v[i].value, sizeof(st.v[i].value)) > MCCLIENT_STAT_VALUE_MAX)
			abort();
		if (mcclient_stats_get(&st, st.v[i].name) == NULL)
			abort();
	}
	mcclient_stats_release(&st);
}

static void
check_addr(const uint8_t *data, size_t size)
{
	struct cluster_addr a, b;
	char text[CLUSTER_ADDR_TEXT_MAX + 64], err[256];

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cluster_addr_parse(text, &a, err, sizeof(err)) != 0)
		return;
	if (a.port == 0 || a.host[0] == '\0')
		abort();
	if (cluster_addr_parse(a.text, &b, err, sizeof(err)) != 0 || strcmp(a.text, b.text) != 0 ||
	    a.port != b.port)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_stats(data, size);
	check_addr(data, size);
	return 0;
}
