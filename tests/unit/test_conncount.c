/*
 * Unit tests of lib/conncount: the /proc/net/tcp* parser on fixed samples (IPv4, IPv6,
 * v4-mapped, every kind of line, a client that has the listener's port number on
 * another address), the sock_diag bytecode (checked against the kernel's audit rules
 * and run by a model of the kernel's interpreter), the snmp parser, the STAT lines,
 * and, on this machine's kernel, both methods against a listener the test owns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conncount.h"

/* --- /proc/net/tcp samples (the kernel's exact layout) ---------------------------- */

static const char TCP4_HEADER[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode";
/* 127.0.0.1:11211 listening, 3 waiting in its accept queue. */
static const char TCP4_LISTEN[] =
    "   0: 0100007F:2BCB 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000"
    "        0 299474 1 0000000035064b19 100 0 0 10 0";
static const char TCP4_ESTAB[] =
    "   1: 0100007F:2BCB 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000"
    "        0 301234 1 00000000aa64b19 20 4 30 10 -1";
static const char TCP4_CLOSE_WAIT[] =
    "   2: 0100007F:2BCB 0100007F:D432 08 00000000:00000001 00:00000000 00000000  1000"
    "        0 301235 1 00000000ab64b19 20 4 30 10 -1";
/* TIME_WAIT: a timewait socket, inode 0. */
static const char TCP4_TIME_WAIT[] =
    "   3: 0100007F:2BCB 0100007F:D433 06 00000000:00000000 03:00000C2A 00000000     0"
    "        0 0 3 000000004f64ba8f";
/* A pending handshake (request socket) is printed as SYN_RECV. */
static const char TCP4_SYN_RECV[] =
    "   4: 0100007F:2BCB 0100007F:D434 03 00000000:00000000 01:00000064 00000000     0"
    "        0 0 1 000000004f64ba90";
/* A client on 127.0.0.2 whose local port is also 11211: not the listener's. */
static const char TCP4_OTHER_ADDR[] =
    "   5: 0200007F:2BCB 0300007F:9C40 01 00000000:00000000 00:00000000 00000000  1000"
    "        0 301299 1 00000000ac64b19 20 4 30 10 -1";
/* A client of the listener: the port is its remote port. */
static const char TCP4_CLIENT[] =
    "   6: 0100007F:D431 0100007F:2BCB 01 00000000:00000000 00:00000000 00000000  1000"
    "        0 301233 1 00000000ad64b19 20 4 30 10 -1";

/* [::] listening on 11211 (dual stack), a v4-mapped IPv4 client, a native ::1 client. */
static const char TCP6_LISTEN_ANY[] =
    "   0: 00000000000000000000000000000000:2BCB 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000  1000        0 400001 1 0000000060b152d4 100 0 0 "
    "10 0";
static const char TCP6_MAPPED_ESTAB[] =
    "   1: 0000000000000000FFFF00000100007F:2BCB 0000000000000000FFFF00000100007F:8C16 01 "
    "00000000:00000000 00:00000000 00000000  1000        0 400002 1 0000000060b152d5 20 4 "
    "30 10 -1";
static const char TCP6_LOOPBACK_ESTAB[] =
    "   2: 00000000000000000000000001000000:2BCB 00000000000000000000000001000000:B337 01 "
    "00000000:00000000 00:00000000 00000000  1000        0 400003 1 0000000060b152d6 20 4 "
    "30 10 -1";

static struct conncount_addr
addr_of(const char *host, uint16_t port)
{
	struct conncount_addr a;

	assert_int_equal(conncount_addr_parse(host, port, &a), 0);
	return a;
}

static void
proc_line_ipv4_fields_are_decoded(void **state)
{
	struct conncount_socket s;
	uint8_t lo[4] = { 127, 0, 0, 1 };
	(void)state;

	assert_int_equal(conncount_proc_parse_line(TCP4_LISTEN, strlen(TCP4_LISTEN), AF_INET, &s), 0);
	assert_int_equal(s.family, AF_INET);
	assert_memory_equal(s.local, lo, 4);
	assert_int_equal(s.local_port, 11211);
	assert_int_equal(s.state, CONNCOUNT_LISTEN);
	assert_int_equal(s.rx_queue, 3);
	assert_int_equal(s.tx_queue, 0);
	assert_int_equal(s.inode, 299474);

	assert_int_equal(conncount_proc_parse_line(TCP4_TIME_WAIT, strlen(TCP4_TIME_WAIT), AF_INET,
			     &s), 0);
	assert_int_equal(s.state, CONNCOUNT_TIME_WAIT);
	assert_int_equal(s.inode, 0);
	assert_int_equal(conncount_proc_parse_line(TCP4_SYN_RECV, strlen(TCP4_SYN_RECV), AF_INET,
			     &s), 0);
	assert_int_equal(s.state, CONNCOUNT_SYN_RECV);
}

static void
proc_line_ipv6_and_v4_mapped_are_decoded(void **state)
{
	struct conncount_socket s;
	struct conncount_addr mapped = addr_of("::ffff:127.0.0.1", 11211);
	struct conncount_addr lo6 = addr_of("::1", 11211);
	(void)state;

	assert_int_equal(conncount_proc_parse_line(TCP6_MAPPED_ESTAB, strlen(TCP6_MAPPED_ESTAB),
			     AF_INET6, &s), 0);
	assert_int_equal(s.family, AF_INET6);
	assert_memory_equal(s.local, mapped.addr, 16);
	assert_int_equal(s.local_port, 11211);
	assert_int_equal(s.state, CONNCOUNT_ESTABLISHED);
	assert_int_equal(s.inode, 400002);
	assert_memory_equal(s.remote, mapped.addr, 16);
	assert_int_equal(s.remote_port, 0x8c16);
	assert_int_equal(conncount_proc_parse_line(TCP6_LOOPBACK_ESTAB,
			     strlen(TCP6_LOOPBACK_ESTAB), AF_INET6, &s), 0);
	assert_memory_equal(s.local, lo6.addr, 16);
}

static void
proc_line_rejects_header_and_malformed_lines(void **state)
{
	struct conncount_socket s;
	char buf[512];
	const char *bad[] = {
		"",
		"   0:",
		"   0: 0100007F:2BCB",
		/* short address, bad hex, no colon in the slot, state 00 and 0D */
		"   0: 100007F:2BCB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
		"   0: 0100007G:2BCB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
		"   0 0100007F:2BCB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
		"   0: 0100007F:2BCB 00000000:0000 00 00000000:00000000 00:00000000 00000000 0 0 1",
		"   0: 0100007F:2BCB 00000000:0000 0D 00000000:00000000 00:00000000 00000000 0 0 1",
		/* queue field without its colon, inode not decimal */
		"   0: 0100007F:2BCB 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1",
		"   0: 0100007F:2BCB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x1",
	};
	size_t i;
	(void)state;

	assert_int_equal(conncount_proc_parse_line(TCP4_HEADER, strlen(TCP4_HEADER), AF_INET, &s),
	    -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(conncount_proc_parse_line(bad[i], strlen(bad[i]), AF_INET, &s), -1);
	/* An IPv6 line read as IPv4, and the reverse, and an unknown family. */
	assert_int_equal(conncount_proc_parse_line(TCP6_MAPPED_ESTAB, strlen(TCP6_MAPPED_ESTAB),
			     AF_INET, &s), -1);
	assert_int_equal(conncount_proc_parse_line(TCP4_LISTEN, strlen(TCP4_LISTEN), AF_INET6, &s),
	    -1);
	assert_int_equal(conncount_proc_parse_line(TCP4_LISTEN, strlen(TCP4_LISTEN), AF_UNIX, &s),
	    -1);
	/* The length is respected: a line cut before its inode does not parse. */
	snprintf(buf, sizeof(buf), "%s", TCP4_LISTEN);
	assert_int_equal(conncount_proc_parse_line(buf, 70, AF_INET, &s), -1);
}

/* Counts the listener at host:port in text with a counter of its own. */
static struct conncount_listener
count_text(const char *text, int family, const char *host, uint16_t port)
{
	struct conncount cc;
	struct conncount_listener l;
	struct conncount_addr a = addr_of(host, port);
	char err[CONNCOUNT_ERR_MAX];

	assert_int_equal(conncount_open(&cc, CONNCOUNT_PROC, err, sizeof(err)), 0);
	assert_int_equal(conncount_count_text(&cc, text, strlen(text), family, &a, &l, err,
			     sizeof(err)), 0);
	assert_int_equal(l.method, CONNCOUNT_PROC);
	assert_memory_equal(&l.addr, &a, sizeof(a));
	conncount_close(&cc);
	return l;
}

static void
proc_text_counts_only_the_listener_address_and_port(void **state)
{
	char text[4096];
	struct conncount_listener l;
	(void)state;

	snprintf(text, sizeof(text), "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s", TCP4_HEADER, TCP4_LISTEN,
	    TCP4_ESTAB, TCP4_CLOSE_WAIT, TCP4_TIME_WAIT, TCP4_SYN_RECV, TCP4_OTHER_ADDR,
	    TCP4_CLIENT);
	l = count_text(text, AF_INET, "127.0.0.1", 11211);
	assert_int_equal(l.states[CONNCOUNT_LISTEN], 1);
	assert_int_equal(l.states[CONNCOUNT_ESTABLISHED], 1); /* not 127.0.0.2's, not the client */
	assert_int_equal(l.states[CONNCOUNT_CLOSE_WAIT], 1);
	assert_int_equal(l.states[CONNCOUNT_TIME_WAIT], 1);
	assert_int_equal(l.states[CONNCOUNT_SYN_RECV], 1);
	assert_int_equal(l.total, 5);
	assert_int_equal(l.listen_sockets, 1);
	assert_int_equal(l.accept_queue, 3);

	/* A wildcard listener on the port takes every local address of its family... */
	l = count_text(text, AF_INET, "0.0.0.0", 11211);
	assert_int_equal(l.states[CONNCOUNT_ESTABLISHED], 2);
	/* ...and 127.0.0.2 has no listener: just the one client socket. */
	l = count_text(text, AF_INET, "127.0.0.2", 11211);
	assert_int_equal(l.total, 1);
	assert_int_equal(l.listen_sockets, 0);
}

static void
proc_text_dual_stack_listener_sees_ipv4_clients_as_mapped(void **state)
{
	char text[4096];
	struct conncount_listener l;
	(void)state;

	snprintf(text, sizeof(text), "%s\n%s\n%s\n", TCP6_LISTEN_ANY, TCP6_MAPPED_ESTAB,
	    TCP6_LOOPBACK_ESTAB);
	l = count_text(text, AF_INET6, "[::]", 11211);
	assert_int_equal(l.states[CONNCOUNT_ESTABLISHED], 2);
	assert_int_equal(l.listen_sockets, 1);
	l = count_text(text, AF_INET6, "::ffff:127.0.0.1", 11211);
	assert_int_equal(l.total, 1);
	/* An AF_INET address never matches the IPv6 table's sockets. */
	l = count_text(text, AF_INET6, "127.0.0.1", 11211);
	assert_int_equal(l.total, 0);
}

/* A second listener of an SO_REUSEPORT group: same addresses, its own inode. */
static const char TCP4_LISTEN_REUSEPORT[] =
    "   7: 0100007F:2BCB 00000000:0000 0A 00000000:00000002 00:00000000 00000000  1000"
    "        0 299475 1 0000000035064b1a 100 0 0 10 0";

static void
proc_text_socket_listed_twice_is_counted_once(void **state)
{
	char text[4096];
	struct conncount_listener l;
	(void)state;

	/* What a /proc read resumed at a shifted position produces: repeated lines. */
	snprintf(text, sizeof(text), "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n", TCP4_LISTEN,
	    TCP4_ESTAB, TCP4_TIME_WAIT, TCP4_LISTEN_REUSEPORT, TCP4_ESTAB, TCP4_TIME_WAIT,
	    TCP4_LISTEN, TCP4_CLOSE_WAIT);
	l = count_text(text, AF_INET, "127.0.0.1", 11211);
	assert_int_equal(l.states[CONNCOUNT_ESTABLISHED], 1);
	assert_int_equal(l.states[CONNCOUNT_TIME_WAIT], 1);
	assert_int_equal(l.states[CONNCOUNT_CLOSE_WAIT], 1);
	assert_int_equal(l.listen_sockets, 2); /* two listeners, one of them listed twice */
	assert_int_equal(l.accept_queue, 3 + 2);
	assert_int_equal(l.total, 5);
}

static void
proc_text_repeats_within_1000_sockets_of_10000_count_once_and_a_reused_counter_starts_afresh(
    void **state)
{
	struct conncount cc;
	struct conncount_listener l;
	struct conncount_addr a = addr_of("127.0.0.1", 11211);
	char err[CONNCOUNT_ERR_MAX], line[256];
	char *text;
	size_t cap = 20000 * 200, len = 0;
	int i, copy, pass;
	(void)state;

	/* 10,000 TIME_WAIT sockets (inode 0, distinct peer ports); after socket i comes
	 * socket i - 1000 again: a repeat 1,000 sockets after the first copy, farther than
	 * any resumed netlink message or /proc read reaches back. */
	text = malloc(cap);
	assert_non_null(text);
	for (i = 0; i < 10000; i++) {
		for (copy = 0; copy < (i >= 1000 ? 2 : 1); copy++) {
			int peer = 1024 + (copy == 0 ? i : i - 1000);
			int n = snprintf(line, sizeof(line),
			    "%5d: 0100007F:2BCB 0100007F:%04X 06 00000000:00000000 03:00000C2A "
			    "00000000     0        0 0 3 000000004f64ba8f\n", i, peer);
			assert_true(n > 0 && len + (size_t)n <= cap);
			memcpy(text + len, line, (size_t)n);
			len += (size_t)n;
		}
	}
	assert_int_equal(conncount_open(&cc, CONNCOUNT_PROC, err, sizeof(err)), 0);
	for (pass = 0; pass < 2; pass++) {
		assert_int_equal(conncount_count_text(&cc, text, len, AF_INET, &a, &l, err,
				     sizeof(err)), 0);
		assert_int_equal(l.states[CONNCOUNT_TIME_WAIT], 10000);
		assert_int_equal(l.total, 10000);
	}
	conncount_close(&cc);
	free(text);
}

/* --- bytecode --------------------------------------------------------------------- */

/* The kernel's inet_diag_bc_audit rules for every op (net/ipv4/inet_diag.c). */
static void
assert_audit_passes(const unsigned char *bc, int len)
{
	int off = 0;

	while (off < len) {
		struct inet_diag_bc_op op;
		memcpy(&op, bc + off, sizeof(op));
		assert_true(op.yes >= 8 && op.yes % 4 == 0 && op.yes <= len - off + 4);
		assert_true(op.no >= 8 && op.no % 4 == 0 && op.no <= len - off + 4);
		off += op.yes;
	}
	assert_int_equal(off, len);
}

struct entry {
	int family;
	uint8_t saddr[16];
	int sport;
};

/* A model of the kernel's inet_diag_bc_run for the two ops the builder uses. */
static bool
bc_run(const unsigned char *bc, int len, const struct entry *e)
{
	int off = 0;

	while (off < len) {
		struct inet_diag_bc_op op, arg;
		struct inet_diag_hostcond cond;
		bool yes = true;
		memcpy(&op, bc + off, sizeof(op));
		if (op.code == INET_DIAG_BC_S_EQ) {
			memcpy(&arg, bc + off + 4, sizeof(arg));
			yes = e->sport == arg.no;
		} else if (op.code == INET_DIAG_BC_S_COND) {
			const uint8_t *addr = bc + off + 4 + sizeof(cond);
			memcpy(&cond, bc + off + 4, sizeof(cond));
			if (cond.port != -1 && cond.port != e->sport)
				yes = false;
			else if (cond.family != e->family)
				yes = e->family == AF_INET6 && cond.family == AF_INET &&
				    memcmp(e->saddr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 &&
				    memcmp(e->saddr + 12, addr, cond.prefix_len / 8) == 0;
			else
				yes = memcmp(e->saddr, addr, cond.prefix_len / 8) == 0;
		} else {
			fail_msg("unexpected op %d", op.code);
		}
		off += yes ? op.yes : op.no;
	}
	return off == len;
}

static struct entry
entry_of(const char *host, int port)
{
	struct conncount_addr a = addr_of(host, (uint16_t)port);
	struct entry e;

	memset(&e, 0, sizeof(e));
	e.family = a.family;
	memcpy(e.saddr, a.addr, 16);
	e.sport = port;
	return e;
}

static void
bytecode_wildcard_is_one_port_test(void **state)
{
	unsigned char bc[CONNCOUNT_BYTECODE_MAX];
	struct conncount_addr a = addr_of("::", 11211);
	struct inet_diag_bc_op op, arg;
	struct entry e;
	int len;
	(void)state;

	len = conncount_bytecode_build(&a, bc, sizeof(bc));
	assert_int_equal(len, 8);
	memcpy(&op, bc, 4);
	memcpy(&arg, bc + 4, 4);
	assert_int_equal(op.code, INET_DIAG_BC_S_EQ);
	assert_int_equal(op.yes, 8);
	assert_int_equal(op.no, 12);
	assert_int_equal(arg.no, 11211);
	assert_audit_passes(bc, len);
	e = entry_of("::ffff:127.0.0.1", 11211);
	assert_true(bc_run(bc, len, &e));
	e = entry_of("::1", 11212);
	assert_false(bc_run(bc, len, &e));
}

static void
bytecode_address_is_a_full_prefix_host_condition(void **state)
{
	unsigned char bc[CONNCOUNT_BYTECODE_MAX];
	struct conncount_addr v4 = addr_of("127.0.0.1", 11211);
	struct conncount_addr v6 = addr_of("::1", 443);
	struct inet_diag_bc_op op;
	struct inet_diag_hostcond cond;
	struct entry e;
	int len;
	(void)state;

	len = conncount_bytecode_build(&v4, bc, sizeof(bc));
	assert_int_equal(len, 16);
	memcpy(&op, bc, 4);
	memcpy(&cond, bc + 4, sizeof(cond));
	assert_int_equal(op.code, INET_DIAG_BC_S_COND);
	assert_int_equal(op.yes, 16);
	assert_int_equal(op.no, 20);
	assert_int_equal(cond.family, AF_INET);
	assert_int_equal(cond.prefix_len, 32);
	assert_int_equal(cond.port, 11211);
	assert_memory_equal(bc + 4 + sizeof(cond), v4.addr, 4);
	assert_audit_passes(bc, len);
	e = entry_of("127.0.0.1", 11211);
	assert_true(bc_run(bc, len, &e));
	e = entry_of("127.0.0.2", 11211); /* the same port on another address */
	assert_false(bc_run(bc, len, &e));
	e = entry_of("127.0.0.1", 11212);
	assert_false(bc_run(bc, len, &e));

	len = conncount_bytecode_build(&v6, bc, sizeof(bc));
	assert_int_equal(len, 28);
	memcpy(&cond, bc + 4, sizeof(cond));
	assert_int_equal(cond.family, AF_INET6);
	assert_int_equal(cond.prefix_len, 128);
	assert_memory_equal(bc + 4 + sizeof(cond), v6.addr, 16);
	assert_audit_passes(bc, len);
	e = entry_of("::1", 443);
	assert_true(bc_run(bc, len, &e));
	e = entry_of("::2", 443);
	assert_false(bc_run(bc, len, &e));
}

static void
bytecode_refuses_small_buffers_and_unknown_families(void **state)
{
	unsigned char bc[CONNCOUNT_BYTECODE_MAX];
	struct conncount_addr a = addr_of("::1", 1);
	(void)state;

	memset(bc, 0xaa, sizeof(bc));
	assert_int_equal(conncount_bytecode_build(&a, bc, 27), -1);
	assert_int_equal(bc[0], 0xaa); /* nothing written */
	a = addr_of("0.0.0.0", 1);
	assert_int_equal(conncount_bytecode_build(&a, bc, 7), -1);
	a.family = AF_UNIX;
	assert_int_equal(conncount_bytecode_build(&a, bc, sizeof(bc)), -1);
}

/* --- snmp ------------------------------------------------------------------------- */

static const char NETSTAT[] =
    "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits\n"
    "TcpExt: 0 24 31 12345678901\n"
    "IpExt: InNoRoutes InOctets\n"
    "IpExt: 0 99\n"
    "MPTcpExt: ListenOverflows\n"
    "MPTcpExt: 7\n";
static const char SNMP[] =
    "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens CurrEstab\n"
    "Tcp: 1 200 120000 -1 112570 108999 42\n"
    "Udp: InDatagrams NoPorts\n"
    "Udp: 5 6";

static void
snmp_values_are_found_by_section_and_name(void **state)
{
	uint64_t v = 0;
	(void)state;

	assert_int_equal(conncount_snmp_value(NETSTAT, strlen(NETSTAT), "TcpExt", "ListenOverflows",
			     &v), 0);
	assert_int_equal(v, 24);
	assert_int_equal(conncount_snmp_value(NETSTAT, strlen(NETSTAT), "TcpExt", "ListenDrops", &v),
	    0);
	assert_int_equal(v, 31);
	assert_int_equal(conncount_snmp_value(NETSTAT, strlen(NETSTAT), "MPTcpExt",
			     "ListenOverflows", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(conncount_snmp_value(SNMP, strlen(SNMP), "Tcp", "CurrEstab", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(conncount_snmp_value(SNMP, strlen(SNMP), "Tcp", "PassiveOpens", &v), 0);
	assert_int_equal(v, 108999);
	assert_int_equal(conncount_snmp_value(SNMP, strlen(SNMP), "Udp", "NoPorts", &v), 0);
	assert_int_equal(v, 6);
}

static void
snmp_absent_short_or_negative_values_fail(void **state)
{
	const char *no_values = "TcpExt: ListenOverflows ListenDrops\nIpExt: a\nIpExt: 1\n";
	const char *short_values = "TcpExt: ListenOverflows ListenDrops\nTcpExt: 5\n";
	const char *header_last = "TcpExt: ListenOverflows";
	uint64_t v = 77;
	(void)state;

	assert_int_equal(conncount_snmp_value(NETSTAT, strlen(NETSTAT), "TcpExt", "Nope", &v), -1);
	assert_int_equal(conncount_snmp_value(NETSTAT, strlen(NETSTAT), "Tcp", "ListenDrops", &v),
	    -1);
	assert_int_equal(conncount_snmp_value(SNMP, strlen(SNMP), "Tcp", "MaxConn", &v), -1);
	assert_int_equal(conncount_snmp_value(no_values, strlen(no_values), "TcpExt", "ListenDrops",
			     &v), -1);
	assert_int_equal(conncount_snmp_value(short_values, strlen(short_values), "TcpExt",
			     "ListenDrops", &v), -1);
	assert_int_equal(conncount_snmp_value(header_last, strlen(header_last), "TcpExt",
			     "ListenOverflows", &v), -1);
	assert_int_equal(v, 77);
}

/* --- STAT lines ------------------------------------------------------------------- */

static struct conncount_listener
sample_listener(void)
{
	struct conncount_listener l;

	memset(&l, 0, sizeof(l));
	l.states[CONNCOUNT_ESTABLISHED] = 10;
	l.states[CONNCOUNT_TIME_WAIT] = 2;
	l.states[CONNCOUNT_LISTEN] = 1;
	l.total = 13;
	l.listen_sockets = 1;
	l.accept_queue = 0;
	l.backlog = 1024;
	l.backlog_known = true;
	return l;
}

static void
stat_lines_for_a_listener_have_every_state(void **state)
{
	struct conncount_listener l = sample_listener();
	char buf[2048] = "STAT pid 1\r\n";
	size_t len = strlen(buf);
	const char *want =
	    "STAT pid 1\r\n"
	    "STAT listener:client:established 10\r\n"
	    "STAT listener:client:syn_sent 0\r\n"
	    "STAT listener:client:syn_recv 0\r\n"
	    "STAT listener:client:fin_wait1 0\r\n"
	    "STAT listener:client:fin_wait2 0\r\n"
	    "STAT listener:client:time_wait 2\r\n"
	    "STAT listener:client:close 0\r\n"
	    "STAT listener:client:close_wait 0\r\n"
	    "STAT listener:client:last_ack 0\r\n"
	    "STAT listener:client:listen 1\r\n"
	    "STAT listener:client:closing 0\r\n"
	    "STAT listener:client:new_syn_recv 0\r\n"
	    "STAT listener:client:accept_queue 0\r\n"
	    "STAT listener:client:backlog 1024\r\n";
	(void)state;

	assert_int_equal(conncount_format_listener(&l, "listener:client", buf, sizeof(buf), &len),
	    0);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
	/* Without a known backlog (the proc method) the line is left out. */
	l.backlog_known = false;
	len = 0;
	assert_int_equal(conncount_format_listener(&l, "l", buf, sizeof(buf), &len), 0);
	assert_null(strstr(buf, "backlog"));
	assert_non_null(strstr(buf, "STAT l:accept_queue 0\r\n"));
}

static void
stat_lines_refuse_bad_prefixes_and_leave_a_full_buffer_as_it_was(void **state)
{
	struct conncount_listener l = sample_listener();
	char buf[256] = "STAT pid 1\r\n", before[256];
	char long_prefix[80];
	size_t len = strlen(buf);
	const char *bad[] = { "", "has space", "new\nline", "stat\r", "semi;colon" };
	size_t i;
	(void)state;

	memcpy(before, buf, sizeof(buf));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(conncount_format_listener(&l, bad[i], buf, sizeof(buf), &len), -1);
	memset(long_prefix, 'p', sizeof(long_prefix) - 1);
	long_prefix[sizeof(long_prefix) - 1] = '\0';
	assert_int_equal(conncount_format_listener(&l, long_prefix, buf, sizeof(buf), &len), -1);
	/* 256 bytes hold a few lines but not all 14: nothing is left behind. */
	assert_int_equal(conncount_format_listener(&l, "listener:client", buf, sizeof(buf), &len),
	    -1);
	assert_int_equal(len, strlen("STAT pid 1\r\n"));
	assert_string_equal(buf, before);
	/* A length at or past the capacity is refused too. */
	len = sizeof(buf);
	assert_int_equal(conncount_format_listener(&l, "x", buf, sizeof(buf), &len), -1);
}

static void
stat_lines_for_the_host(void **state)
{
	struct conncount_host h = { 5, 6, 7, 8 };
	char buf[512], tiny[40] = "";
	size_t len = 0;
	(void)state;

	assert_int_equal(conncount_format_host(&h, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "STAT host:listen_overflows 5\r\n"
				 "STAT host:listen_drops 6\r\n"
				 "STAT host:curr_estab 7\r\n"
				 "STAT host:passive_opens 8\r\n");
	len = 0;
	assert_int_equal(conncount_format_host(&h, tiny, sizeof(tiny), &len), -1);
	assert_int_equal(len, 0);
	assert_string_equal(tiny, "");
}

/* --- addresses, names ------------------------------------------------------------- */

static void
addresses_parse_and_format(void **state)
{
	struct conncount_addr a;
	struct sockaddr_in6 sin6;
	char text[CONNCOUNT_ADDR_TEXT_MAX];
	(void)state;

	a = addr_of("[::]", 11211);
	assert_int_equal(a.family, AF_INET6);
	assert_true(conncount_addr_is_wildcard(&a));
	conncount_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "[::]:11211");
	a = addr_of("127.0.0.1", 80);
	assert_false(conncount_addr_is_wildcard(&a));
	conncount_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "127.0.0.1:80");
	a = addr_of("0.0.0.0", 80);
	assert_true(conncount_addr_is_wildcard(&a));
	a = addr_of("::ffff:127.0.0.1", 80);
	assert_int_equal(a.family, AF_INET6); /* stays IPv6: the mapped view */
	conncount_addr_host(&a, text, sizeof(text));
	assert_string_equal(text, "::ffff:127.0.0.1");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	sin6.sin6_addr = in6addr_loopback;
	assert_int_equal(conncount_addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &a), 0);
	conncount_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "[::1]:443");
}

static void
addresses_that_are_not_numeric_are_refused(void **state)
{
	struct conncount_addr a;
	struct sockaddr_in6 sin6;
	const char *bad[] = { "", "localhost", "[", "[]", "1.2.3", "::1]", "[::1", "1.2.3.4:80",
		" 127.0.0.1", "127.0.0.1 " };
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(conncount_addr_parse(bad[i], 1, &a), -1);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(conncount_addr_from_sockaddr((struct sockaddr *)&sin6,
			     sizeof(struct sockaddr_in), &a), -1);
	sin6.sin6_family = AF_UNIX;
	assert_int_equal(conncount_addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &a),
	    -1);
}

static void
state_and_method_names(void **state)
{
	(void)state;
	assert_string_equal(conncount_state_name(CONNCOUNT_ESTABLISHED), "established");
	assert_string_equal(conncount_state_name(CONNCOUNT_CLOSE_WAIT), "close_wait");
	assert_string_equal(conncount_state_name(CONNCOUNT_NEW_SYN_RECV), "new_syn_recv");
	assert_null(conncount_state_name(0));
	assert_null(conncount_state_name(13));
	assert_null(conncount_state_name(-1));
	assert_string_equal(conncount_method_name(CONNCOUNT_NETLINK), "netlink");
	assert_string_equal(conncount_method_name(CONNCOUNT_PROC), "proc");
}

/* --- this kernel ------------------------------------------------------------------- */

/* A listener with `backlog` and `n` connections waiting in its accept queue. */
static int
make_listener(int backlog, int n, int *clients, struct conncount_addr *out)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int l, i;

	l = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, backlog), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &sl), 0);
	for (i = 0; i < n; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(clients[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	assert_int_equal(conncount_addr_from_sockaddr((struct sockaddr *)&sin, sl, out), 0);
	return l;
}

static void
both_methods_count_a_live_listener(void **state)
{
	enum conncount_method methods[] = { CONNCOUNT_NETLINK, CONNCOUNT_PROC };
	struct conncount cc;
	struct conncount_listener l;
	struct conncount_addr a, found[CONNCOUNT_LISTENERS_MAX];
	struct conncount_host h;
	char err[CONNCOUNT_ERR_MAX];
	int clients[3], lfd, i;
	size_t m, n;
	(void)state;

	lfd = make_listener(7, 3, clients, &a);
	for (m = 0; m < 2; m++) {
		assert_int_equal(conncount_open(&cc, methods[m], err, sizeof(err)), 0);
		assert_int_equal(conncount_method(&cc), methods[m]);
		/* Twice: buffers and the socket are reused. */
		for (i = 0; i < 2; i++) {
			assert_int_equal(conncount_read_listener(&cc, &a, &l, err, sizeof(err)), 0);
			assert_int_equal(l.listen_sockets, 1);
			assert_int_equal(l.states[CONNCOUNT_ESTABLISHED], 3);
			assert_int_equal(l.accept_queue, 3);
			assert_int_equal(l.backlog_known, methods[m] == CONNCOUNT_NETLINK);
			assert_int_equal(l.backlog, methods[m] == CONNCOUNT_NETLINK ? 7 : 0);
		}
		assert_int_equal(conncount_find_listeners(&cc, a.port, found,
				     CONNCOUNT_LISTENERS_MAX, &n, err, sizeof(err)), 0);
		assert_int_equal(n, 1);
		assert_memory_equal(found[0].addr, a.addr, 4);
		/* Too small an array still says how many there are. */
		assert_int_equal(conncount_find_listeners(&cc, a.port, found, 0, &n, err,
				     sizeof(err)), 0);
		assert_int_equal(n, 1);
		assert_int_equal(conncount_read_host(&cc, &h, err, sizeof(err)), 0);
		conncount_close(&cc);
		conncount_close(&cc); /* closing twice is harmless */
	}
	for (i = 0; i < 3; i++)
		close(clients[i]);
	close(lfd);
}

static void
process_view_finds_own_sockets_and_refuses_missing_pids(void **state)
{
	struct conncount cc;
	struct conncount_process p;
	struct conncount_addr a;
	char err[CONNCOUNT_ERR_MAX];
	int clients[2], lfd, i, dup_fd;
	size_t k;
	bool found = false;
	pid_t child;
	(void)state;

	lfd = make_listener(4, 2, clients, &a);
	dup_fd = dup(lfd); /* one socket, two fds */
	assert_int_equal(conncount_open(&cc, CONNCOUNT_AUTO, err, sizeof(err)), 0);
	assert_int_equal(conncount_read_process(&cc, getpid(), &p, err, sizeof(err)), 0);
	/* The listener (twice), two clients, and the counter's own netlink socket; the
	 * accepted ends still wait in the queue, held by nobody. */
	assert_int_equal(p.socket_fds, conncount_method(&cc) == CONNCOUNT_NETLINK ? 5 : 4);
	assert_int_equal(p.tcp_sockets, 3);
	assert_int_equal(p.states[CONNCOUNT_LISTEN], 1);
	assert_int_equal(p.states[CONNCOUNT_ESTABLISHED], 2);
	for (k = 0; k < p.nports; k++) {
		if (p.ports[k].port == a.port) {
			found = true;
			assert_int_equal(p.ports[k].states[CONNCOUNT_LISTEN], 1);
		}
		if (k > 0)
			assert_true(p.ports[k - 1].port < p.ports[k].port);
	}
	assert_true(found);

	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(conncount_read_process(&cc, child, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such process"));
	assert_int_equal(conncount_read_process(&cc, -1, &p, err, sizeof(err)), -1);
	conncount_close(&cc);
	for (i = 0; i < 2; i++)
		close(clients[i]);
	close(dup_fd);
	close(lfd);
}

static void
unopened_counter_refuses_work(void **state)
{
	struct conncount cc;
	struct conncount_listener l;
	struct conncount_host h;
	struct conncount_addr a = addr_of("127.0.0.1", 1);
	char err[CONNCOUNT_ERR_MAX], text[1024];
	(void)state;

	memset(&cc, 0, sizeof(cc));
	cc.nl_fd = -1;
	assert_int_equal(conncount_read_listener(&cc, &a, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "connection counter is not open");
	assert_int_equal(conncount_read_host(&cc, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not open"));
	/* And after conncount_close. */
	snprintf(text, sizeof(text), "%s\n", TCP4_ESTAB);
	assert_int_equal(conncount_open(&cc, CONNCOUNT_PROC, err, sizeof(err)), 0);
	conncount_close(&cc);
	assert_int_equal(conncount_count_text(&cc, text, strlen(text), AF_INET, &a, &l, err,
			     sizeof(err)), -1);
	assert_string_equal(err, "connection counter is not open");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(proc_line_ipv4_fields_are_decoded),
		cmocka_unit_test(proc_line_ipv6_and_v4_mapped_are_decoded),
		cmocka_unit_test(proc_line_rejects_header_and_malformed_lines),
		cmocka_unit_test(proc_text_counts_only_the_listener_address_and_port),
		cmocka_unit_test(proc_text_dual_stack_listener_sees_ipv4_clients_as_mapped),
		cmocka_unit_test(proc_text_socket_listed_twice_is_counted_once),
		cmocka_unit_test(
		    proc_text_repeats_within_1000_sockets_of_10000_count_once_and_a_reused_counter_starts_afresh),
		cmocka_unit_test(bytecode_wildcard_is_one_port_test),
		cmocka_unit_test(bytecode_address_is_a_full_prefix_host_condition),
		cmocka_unit_test(bytecode_refuses_small_buffers_and_unknown_families),
		cmocka_unit_test(snmp_values_are_found_by_section_and_name),
		cmocka_unit_test(snmp_absent_short_or_negative_values_fail),
		cmocka_unit_test(stat_lines_for_a_listener_have_every_state),
		cmocka_unit_test(stat_lines_refuse_bad_prefixes_and_leave_a_full_buffer_as_it_was),
		cmocka_unit_test(stat_lines_for_the_host),
		cmocka_unit_test(addresses_parse_and_format),
		cmocka_unit_test(addresses_that_are_not_numeric_are_refused),
		cmocka_unit_test(state_and_method_names),
		cmocka_unit_test(both_methods_count_a_live_listener),
		cmocka_unit_test(process_view_finds_own_sockets_and_refuses_missing_pids),
		cmocka_unit_test(unopened_counter_refuses_work),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
