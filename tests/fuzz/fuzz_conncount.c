/*
 * Fuzz target of lib/conncount's text parsers. The first byte picks the input kind
 * ('0' /proc/net/tcp, '1' /proc/net/tcp6, anything else /proc/net/netstat or snmp);
 * the rest is the file's text, copied to a buffer of exactly its size (not
 * NUL-terminated) so that any read past the end is caught. After counting, the
 * listener's numbers must be consistent with each other and with a line-by-line parse.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conncount.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_listener(const struct conncount_listener *l)
{
	uint64_t sum = 0;
	int s;

	for (s = CONNCOUNT_STATE_FIRST; s <= CONNCOUNT_STATE_LAST; s++)
		sum += l->states[s];
	CHECK(sum == l->total);
	CHECK(l->states[0] == 0);
	CHECK(l->listen_sockets == l->states[CONNCOUNT_LISTEN]);
}

static void
fuzz_tcp(struct conncount *cc, const char *text, size_t len, int family)
{
	static const char *const hosts[] = { "0.0.0.0", "127.0.0.1", "::", "::1",
		"::ffff:127.0.0.1" };
	struct conncount_listener l, wild;
	struct conncount_socket s;
	struct conncount_addr a;
	const char *p, *end = text + len, *nl;
	uint64_t lines_parsed = 0;
	char err[CONNCOUNT_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		CHECK(conncount_addr_parse(hosts[i], 11211, &a) == 0);
		CHECK(conncount_count_text(cc, text, len, family, &a, &l, err, sizeof(err)) == 0);
		check_listener(&l);
	}
	/* Every line that parses is in range; a wildcard on its port counts it, at most
	 * once (a repeated line is the same socket). */
	for (p = text; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (conncount_proc_parse_line(p, (size_t)(nl - p), family, &s) != 0)
			continue;
		CHECK(s.state >= CONNCOUNT_STATE_FIRST && s.state <= CONNCOUNT_STATE_LAST);
		CHECK(s.family == family);
		memset(&a, 0, sizeof(a));
		a.family = family;
		a.port = s.local_port;
		CHECK(conncount_socket_matches(&a, &s));
		if (s.local_port == 11211)
			lines_parsed++;
	}
	memset(&a, 0, sizeof(a));
	a.family = family;
	a.port = 11211;
	CHECK(conncount_count_text(cc, text, len, family, &a, &wild, err, sizeof(err)) == 0);
	CHECK(wild.total <= lines_parsed);
	CHECK(lines_parsed == 0 || wild.total > 0);
}

static void
fuzz_snmp(const char *text, size_t len)
{
	static const char *const keys[][2] = { { "TcpExt", "ListenOverflows" },
		{ "TcpExt", "ListenDrops" }, { "Tcp", "CurrEstab" }, { "Tcp", "PassiveOpens" },
		{ "Tcp", "" }, { "", "x" } };
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		(void)conncount_snmp_value(text, len, keys[i][0], keys[i][1], &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conncount cc; /* opened once: the buffers are reused, as in mcd */
	static bool opened;
	char err[CONNCOUNT_ERR_MAX];
	char *text;
	size_t len;

	if (size == 0)
		return 0;
	if (!opened) {
		CHECK(conncount_open(&cc, CONNCOUNT_PROC, err, sizeof(err)) == 0);
		opened = true;
	}
	len = size - 1;
	text = malloc(len > 0 ? len : 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, len);
	if (data[0] == '0')
		fuzz_tcp(&cc, text, len, AF_INET);
	else if (data[0] == '1')
		fuzz_tcp(&cc, text, len, AF_INET6);
	else
		fuzz_snmp(text, len);
	free(text);
	return 0;
}
