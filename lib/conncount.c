/*
 * conncount — see conncount.h for the contract. Layout of this file: the pure parts
 * (names, addresses, bytecode, /proc line and snmp parsing, stats formatting), then
 * the two readers (netlink dump, /proc scan), then the public queries built on them.
 */
#include "clock.h"
#include "conncount.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "errbuf.h"
#include "parse.h"

/* Every state the kernel reports (bits 1..12). TCP_BOUND_INACTIVE (13) is left out:
 * bound-only sockets are neither connections nor in /proc/net/tcp. */
#define STATES_ALL 0x1ffeu
#define STATE_BIT(s) (1u << (s))
/* TIME_WAIT sockets belong to no process: a process query need not copy them. */
#define STATES_HELD (STATES_ALL & ~STATE_BIT(CONNCOUNT_TIME_WAIT))

#define PREFIX_MAX 64 /* longest stats name prefix */
#define PROC_PATH_MAX 64
#define FD_LINK_MAX 64 /* "socket:[18446744073709551615]" fits */

/*
 * What a TCP table says of one of a process's socket inodes (cc->inodes[i] is
 * cc->matches[i]'s): state 0 until the socket is found. Indexing by inode makes a
 * socket that a torn dump hands out twice count once.
 */
struct conncount_match {
	uint16_t port;
	uint8_t state;
};

static const char *const state_names[CONNCOUNT_STATES] = {
	NULL, "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
	"close", "close_wait", "last_ack", "listen", "closing", "new_syn_recv",
};

const char *
conncount_state_name(int state)
{
	if (state < CONNCOUNT_STATE_FIRST || state > CONNCOUNT_STATE_LAST)
		return NULL;
	return state_names[state];
}

const char *
conncount_method_name(enum conncount_method method)
{
	switch (method) {
	case CONNCOUNT_NETLINK:
		return "netlink";
	case CONNCOUNT_PROC:
		return "proc";
	case CONNCOUNT_AUTO:
		break;
	}
	return "auto";
}

/* --- addresses ------------------------------------------------------------------ */

static size_t
addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

bool
conncount_addr_is_wildcard(const struct conncount_addr *a)
{
	size_t i, n = addr_len(a->family);

	for (i = 0; i < n; i++) {
		if (a->addr[i] != 0)
			return false;
	}
	return true;
}

int
conncount_addr_parse(const char *host, uint16_t port, struct conncount_addr *out)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t n = strlen(host);
	struct conncount_addr a;

	memset(&a, 0, sizeof(a));
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, host, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, a.addr) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, a.addr) == 1)
		a.family = AF_INET6;
	else
		return -1;
	a.port = port;
	*out = a;
	return 0;
}

int
conncount_addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen,
    struct conncount_addr *out)
{
	struct conncount_addr a;

	memset(&a, 0, sizeof(a));
	if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		a.family = AF_INET;
		memcpy(a.addr, &in->sin_addr, 4);
		a.port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		a.family = AF_INET6;
		memcpy(a.addr, &in6->sin6_addr, 16);
		a.port = ntohs(in6->sin6_port);
	} else {
		return -1;
	}
	*out = a;
	return 0;
}

void
conncount_addr_host(const struct conncount_addr *a, char *buf, size_t cap)
{
	char tmp[INET6_ADDRSTRLEN];

	if (cap == 0)
		return;
	if (inet_ntop(a->family, a->addr, tmp, sizeof(tmp)) == NULL)
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, cap, "%s", tmp);
}

void
conncount_addr_format(const struct conncount_addr *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];

	conncount_addr_host(a, host, sizeof(host));
	if (a->family == AF_INET6)
		snprintf(buf, cap, "[%s]:%u", host, (unsigned)a->port);
	else
		snprintf(buf, cap, "%s:%u", host, (unsigned)a->port);
}

bool
conncount_socket_matches(const struct conncount_addr *a, const struct conncount_socket *s)
{
	if (s->family != a->family || s->local_port != a->port)
		return false;
	if (conncount_addr_is_wildcard(a))
		return true;
	return memcmp(s->local, a->addr, addr_len(a->family)) == 0;
}

/* --- bytecode ------------------------------------------------------------------- */

/*
 * The kernel runs the filter as a chain of forward jumps: a true condition jumps by
 * `yes`, a false one by `no`; landing exactly on the end accepts, landing 4 bytes
 * past it rejects. It audits every jump (multiple of 4, at least the op's length,
 * at most len + 4), so both targets below are the end or end + 4.
 */
int
conncount_bytecode_build(const struct conncount_addr *a, void *buf, size_t cap)
{
	struct inet_diag_bc_op op, arg;
	struct inet_diag_hostcond cond;
	size_t alen, len;
	unsigned char *p = buf;

	if (a->family != AF_INET && a->family != AF_INET6)
		return -1;
	if (conncount_addr_is_wildcard(a)) {
		/* S_EQ takes its port in the `no` field of a second op. */
		len = 2 * sizeof(op);
		if (cap < len)
			return -1;
		memset(&op, 0, sizeof(op));
		op.code = INET_DIAG_BC_S_EQ;
		op.yes = (unsigned char)len;
		op.no = (unsigned short)(len + 4);
		memset(&arg, 0, sizeof(arg));
		arg.no = a->port;
		memcpy(p, &op, sizeof(op));
		memcpy(p + sizeof(op), &arg, sizeof(arg));
		return (int)len;
	}
	alen = addr_len(a->family);
	len = sizeof(op) + sizeof(cond) + alen;
	if (cap < len)
		return -1;
	memset(&op, 0, sizeof(op));
	op.code = INET_DIAG_BC_S_COND;
	op.yes = (unsigned char)len;
	op.no = (unsigned short)(len + 4);
	memset(&cond, 0, sizeof(cond));
	cond.family = (unsigned char)a->family;
	cond.prefix_len = (unsigned char)(alen * 8);
	cond.port = a->port;
	memcpy(p, &op, sizeof(op));
	memcpy(p + sizeof(op), &cond, sizeof(cond));
	memcpy(p + sizeof(op) + sizeof(cond), a->addr, alen);
	return (int)len;
}

/* --- /proc/net/tcp* lines ----------------------------------------------------------- */

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly n hex digits at s (n <= 8). */
static int
hex_u32(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int d = hex_value(s[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* The next whitespace-separated token of line[*pos..len). */
static int
next_token(const char *line, size_t len, size_t *pos, const char **tok, size_t *toklen)
{
	size_t i = *pos, start;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return -1;
	start = i;
	while (i < len && line[i] != ' ' && line[i] != '\t')
		i++;
	*tok = line + start;
	*toklen = i - start;
	*pos = i;
	return 0;
}

/*
 * The kernel prints each 32-bit word of the address with %08X of its in-memory
 * (network order) value read as a host integer; storing the parsed integer back in
 * host order restores the original bytes on either endianness.
 */
static int
parse_proc_address(const char *tok, size_t toklen, int family, uint8_t *addr, uint16_t *port)
{
	size_t words = family == AF_INET ? 1 : 4, i;
	uint32_t v;

	if (toklen != words * 8 + 1 + 4 || tok[words * 8] != ':')
		return -1;
	for (i = 0; i < words; i++) {
		if (hex_u32(tok + i * 8, 8, &v) < 0)
			return -1;
		memcpy(addr + i * 4, &v, 4);
	}
	if (hex_u32(tok + words * 8 + 1, 4, &v) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
conncount_proc_parse_line(const char *line, size_t len, int family,
    struct conncount_socket *out)
{
	struct conncount_socket s;
	const char *tok;
	size_t toklen, pos = 0;
	uint32_t v;
	uint64_t inode;
	int field;

	if (family != AF_INET && family != AF_INET6)
		return -1;
	memset(&s, 0, sizeof(s));
	s.family = family;
	/* "  12: local remote st tx:rx tr:when retrnsmt uid timeout inode ..." */
	for (field = 0; field <= 9; field++) {
		if (next_token(line, len, &pos, &tok, &toklen) < 0)
			return -1;
		switch (field) {
		case 0: /* slot number and ':' — the header line ("sl") fails here */
			if (toklen < 2 || tok[toklen - 1] != ':' ||
			    parse_u64_n(tok, toklen - 1, 0, UINT32_MAX, &inode) < 0)
				return -1;
			break;
		case 1:
			if (parse_proc_address(tok, toklen, family, s.local, &s.local_port) < 0)
				return -1;
			break;
		case 2:
			if (parse_proc_address(tok, toklen, family, s.remote, &s.remote_port) < 0)
				return -1;
			break;
		case 3:
			if (toklen != 2 || hex_u32(tok, 2, &v) < 0 || v < CONNCOUNT_STATE_FIRST ||
			    v > CONNCOUNT_STATE_LAST)
				return -1;
			s.state = (int)v;
			break;
		case 4:
			if (toklen != 17 || tok[8] != ':' || hex_u32(tok, 8, &s.tx_queue) < 0 ||
			    hex_u32(tok + 9, 8, &s.rx_queue) < 0)
				return -1;
			break;
		case 9:
			if (parse_u64_n(tok, toklen, 0, UINT64_MAX, &inode) < 0)
				return -1;
			s.inode = inode;
			break;
		default: /* timer, retransmits, uid, timeout: not needed */
			break;
		}
	}
	*out = s;
	return 0;
}

static void
listener_add(struct conncount_listener *l, const struct conncount_socket *s)
{
	l->states[s->state]++;
	l->total++;
	if (s->state == CONNCOUNT_LISTEN) {
		l->listen_sockets++;
		l->accept_queue += s->rx_queue;
		l->backlog += s->tx_queue;
	}
}

/* --- telling sockets apart ----------------------------------------------------- */

/*
 * Repeats are told apart over a window, not the whole table. Both readers walk the
 * kernel's hash tables bucket by bucket and resume each piece (a netlink message of
 * at most 32 KiB, ~270 sockets; a /proc read of one page) at a bucket and an offset
 * in its chain. A socket is handed out again only when its bucket's chain changed
 * under that resume point, so its first copy was in the piece just before, a few
 * hundred sockets back at most. Two generations of SEEN_GENERATION sockets each
 * remember at least the last SEEN_GENERATION, whatever the table's size, in 32 KiB
 * that stay in cache. (A set of every socket cost a 32,768-slot table and ~250 page
 * faults per count at 10,000 connections: a page fault is ~11 us on this kind of VM.)
 *
 * A socket is its key: a 64-bit hash of family, addresses, ports and inode (the
 * inode separates the listeners of an SO_REUSEPORT group, which share the rest;
 * TIME_WAIT and request sockets have inode 0 but a 4-tuple of their own). A new
 * socket is taken for one of the window's 2,048 with odds of about 2^-53.
 */
#define SEEN_GENERATION 1024u             /* sockets one generation holds */
#define SEEN_SLOTS (2u * SEEN_GENERATION) /* per generation: at most half full */

/* A 64-bit finaliser (splitmix64's): cheap, and every input bit reaches every output bit. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Never 0, which marks an empty slot. */
static uint64_t
socket_key(const struct conncount_socket *s)
{
	uint64_t w[4], h;

	memcpy(w, s->local, 16);
	memcpy(w + 2, s->remote, 16);
	h = mix64(w[0] ^ ((uint64_t)s->family << 32 | (uint64_t)s->local_port << 16 |
			     s->remote_port));
	h = mix64(h ^ w[1]);
	h = mix64(h ^ w[2]);
	h = mix64(h ^ w[3]);
	h = mix64(h ^ s->inode);
	return h == 0 ? 1 : h;
}

static void
seen_reset(struct conncount *cc)
{
	memset(cc->seen, 0, 2 * SEEN_SLOTS * sizeof(*cc->seen));
	cc->seen_gen = 0;
	cc->nseen = 0;
}

/* The slot of key in generation gen, or the empty slot where it would go. */
static uint64_t *
seen_find(struct conncount *cc, unsigned gen, uint64_t key)
{
	uint64_t *t = cc->seen + (size_t)gen * SEEN_SLOTS;
	size_t i = (size_t)key & (SEEN_SLOTS - 1);

	while (t[i] != 0 && t[i] != key)
		i = (i + 1) & (SEEN_SLOTS - 1);
	return &t[i];
}

/* 1: not among the sockets of the window; 0: a repeat. */
static int
seen_insert(struct conncount *cc, const struct conncount_socket *s)
{
	uint64_t key = socket_key(s), *slot;

	if (*seen_find(cc, cc->seen_gen ^ 1, key) != 0)
		return 0;
	slot = seen_find(cc, cc->seen_gen, key);
	if (*slot != 0)
		return 0;
	if (cc->nseen == SEEN_GENERATION) {
		/* The older generation goes; the current one becomes the older. */
		cc->seen_gen ^= 1;
		memset(cc->seen + (size_t)cc->seen_gen * SEEN_SLOTS, 0,
		    SEEN_SLOTS * sizeof(*cc->seen));
		cc->nseen = 0;
		slot = seen_find(cc, cc->seen_gen, key);
	}
	*slot = key;
	cc->nseen++;
	return 1;
}

struct listener_scan {
	struct conncount *cc;
	const struct conncount_addr *addr;
	struct conncount_listener *out;
};

static void
listener_socket(void *arg, const struct conncount_socket *s)
{
	struct listener_scan *ls = arg;

	/* The kernel filtered already; checking again keeps both methods one rule. */
	if (conncount_socket_matches(ls->addr, s) && seen_insert(ls->cc, s) == 1)
		listener_add(ls->out, s);
}

/* -1 (and err) when cc was never opened or is closed. */
static int
listener_scan_begin(struct conncount *cc, const struct conncount_addr *a,
    struct conncount_listener *l, struct listener_scan *ls, char *err, size_t errlen)
{
	if (cc->seen == NULL) {
		errbuf_set(err, errlen, "connection counter is not open");
		return -1;
	}
	memset(l, 0, sizeof(*l));
	l->addr = *a;
	seen_reset(cc);
	ls->cc = cc;
	ls->addr = a;
	ls->out = l;
	return 0;
}

int
conncount_count_text(struct conncount *cc, const char *text, size_t len, int family,
    const struct conncount_addr *a, struct conncount_listener *out, char *err,
    size_t errlen)
{
	struct conncount_listener l;
	struct listener_scan ls;
	struct conncount_socket s;
	const char *p = text, *end = text + len, *nl;

	if (listener_scan_begin(cc, a, &l, &ls, err, errlen) < 0)
		return -1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (conncount_proc_parse_line(p, (size_t)(nl - p), family, &s) == 0)
			listener_socket(&ls, &s);
		p = nl + 1;
	}
	l.method = CONNCOUNT_PROC;
	*out = l;
	return 0;
}

/* --- /proc/net/netstat, /proc/net/snmp -------------------------------------------- */

/* Index of `name` among the space-separated tokens of line[len], or -1. */
static int
token_index(const char *line, size_t len, const char *name)
{
	size_t pos = 0, toklen, nlen = strlen(name);
	const char *tok;
	int i = 0;

	while (next_token(line, len, &pos, &tok, &toklen) == 0) {
		if (toklen == nlen && memcmp(tok, name, nlen) == 0)
			return i;
		i++;
	}
	return -1;
}

static bool
line_has_section(const char *line, size_t len, const char *section, size_t slen)
{
	return len > slen && memcmp(line, section, slen) == 0 && line[slen] == ':';
}

int
conncount_snmp_value(const char *text, size_t len, const char *section, const char *name,
    uint64_t *out)
{
	const char *p = text, *end = text + len, *nl, *vline, *vend, *tok;
	size_t slen = strlen(section), pos, toklen;
	int idx, i;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (!line_has_section(p, (size_t)(nl - p), section, slen) || nl == end) {
			p = nl + 1;
			continue;
		}
		/* A header line: its values are on the next line, same section. */
		vline = nl + 1;
		vend = memchr(vline, '\n', (size_t)(end - vline));
		if (vend == NULL)
			vend = end;
		if (!line_has_section(vline, (size_t)(vend - vline), section, slen))
			return -1;
		idx = token_index(p, (size_t)(nl - p), name);
		if (idx >= 0) {
			pos = 0;
			for (i = 0; i <= idx; i++) {
				if (next_token(vline, (size_t)(vend - vline), &pos, &tok, &toklen) < 0)
					return -1;
			}
			return parse_u64_n(tok, toklen, 0, UINT64_MAX, out);
		}
		p = vend + 1;
	}
	return -1;
}

/* --- stats lines ----------------------------------------------------------------- */

static bool
prefix_valid(const char *prefix)
{
	size_t i, n = strlen(prefix);

	if (n == 0 || n > PREFIX_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = prefix[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '.' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* Appends one line; on no room leaves *len alone (the caller restores the NUL). */
static int
append_stat(char *buf, size_t cap, size_t *len, const char *prefix, const char *name,
    uint64_t v)
{
	int n;

	if (*len >= cap)
		return -1;
	n = snprintf(buf + *len, cap - *len, "STAT %s:%s %llu\r\n", prefix, name,
	    (unsigned long long)v);
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

int
conncount_format_listener(const struct conncount_listener *l, const char *prefix,
    char *buf, size_t cap, size_t *len)
{
	size_t at = *len;
	int s;

	if (!prefix_valid(prefix) || at >= cap)
		return -1;
	for (s = CONNCOUNT_STATE_FIRST; s <= CONNCOUNT_STATE_LAST; s++) {
		if (append_stat(buf, cap, &at, prefix, state_names[s], l->states[s]) < 0)
			goto out_restore;
	}
	if (append_stat(buf, cap, &at, prefix, "accept_queue", l->accept_queue) < 0)
		goto out_restore;
	if (l->backlog_known && append_stat(buf, cap, &at, prefix, "backlog", l->backlog) < 0)
		goto out_restore;
	*len = at;
	return 0;
out_restore:
	buf[*len] = '\0';
	return -1;
}

int
conncount_format_host(const struct conncount_host *h, char *buf, size_t cap, size_t *len)
{
	size_t at = *len;

	if (at >= cap)
		return -1;
	if (append_stat(buf, cap, &at, "host", "listen_overflows", h->listen_overflows) < 0 ||
	    append_stat(buf, cap, &at, "host", "listen_drops", h->listen_drops) < 0 ||
	    append_stat(buf, cap, &at, "host", "curr_estab", h->curr_estab) < 0 ||
	    append_stat(buf, cap, &at, "host", "passive_opens", h->passive_opens) < 0) {
		buf[*len] = '\0';
		return -1;
	}
	*len = at;
	return 0;
}

/* --- netlink sock_diag ------------------------------------------------------------ */

typedef void (*socket_fn)(void *arg, const struct conncount_socket *s);

static int
netlink_connect(struct conncount *cc, char *err, size_t errlen)
{
	struct timeval tv = clock_ms_timeval(CONNCOUNT_TIMEOUT_MS);
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		errbuf_set(err, errlen, "netlink sock_diag unavailable: %s", strerror(errno));
		return -1;
	}
	/* Bounds every wait for the kernel: a dump never legitimately takes this long. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		errbuf_set(err, errlen, "netlink sock_diag: setting a receive timeout: %s",
		    strerror(errno));
		close(fd);
		return -1;
	}
	cc->nl_fd = fd;
	return 0;
}

/* After a failure mid-dump the socket may still hold part of it: start afresh. */
static void
netlink_drop(struct conncount *cc)
{
	if (cc->nl_fd >= 0) {
		close(cc->nl_fd);
		cc->nl_fd = -1;
	}
}

static int
netlink_send(struct conncount *cc, int family, uint32_t states, const struct conncount_addr *match,
    char *err, size_t errlen)
{
	unsigned char msg[NLMSG_SPACE(sizeof(struct inet_diag_req_v2)) + NLA_HDRLEN +
	    CONNCOUNT_BYTECODE_MAX];
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
	struct nlattr nla;
	struct sockaddr_nl kernel;
	size_t len = NLMSG_SPACE(sizeof(req));
	int bclen = 0;
	ssize_t n;

	memset(msg, 0, sizeof(msg));
	memset(&req, 0, sizeof(req));
	req.sdiag_family = (uint8_t)family;
	req.sdiag_protocol = IPPROTO_TCP;
	req.idiag_states = states;
	if (match != NULL) {
		/* The port alone is also a cheap pre-filter the kernel applies before the
		 * bytecode; the bytecode adds the address. */
		req.id.idiag_sport = htons(match->port);
		bclen = conncount_bytecode_build(match, msg + len + NLA_HDRLEN,
		    CONNCOUNT_BYTECODE_MAX);
		if (bclen < 0) {
			errbuf_set(err, errlen, "netlink sock_diag: cannot build a filter");
			return -1;
		}
		memset(&nla, 0, sizeof(nla));
		nla.nla_type = INET_DIAG_REQ_BYTECODE;
		nla.nla_len = (uint16_t)(NLA_HDRLEN + (size_t)bclen);
		memcpy(msg + len, &nla, sizeof(nla));
		len += NLA_ALIGN(NLA_HDRLEN + (size_t)bclen);
	}
	memset(&nlh, 0, sizeof(nlh));
	nlh.nlmsg_len = (uint32_t)len;
	nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh.nlmsg_seq = ++cc->seq;
	memcpy(msg, &nlh, sizeof(nlh));
	memcpy(msg + NLMSG_HDRLEN, &req, sizeof(req));

	memset(&kernel, 0, sizeof(kernel));
	kernel.nl_family = AF_NETLINK;
	do {
		n = sendto(cc->nl_fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		errbuf_set(err, errlen, "netlink sock_diag: sending the request: %s",
		    n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static void
socket_from_diag(const struct inet_diag_msg *m, struct conncount_socket *s)
{
	memset(s, 0, sizeof(*s));
	s->family = m->idiag_family;
	memcpy(s->local, m->id.idiag_src, sizeof(s->local));
	s->local_port = ntohs(m->id.idiag_sport);
	memcpy(s->remote, m->id.idiag_dst, sizeof(s->remote));
	s->remote_port = ntohs(m->id.idiag_dport);
	s->state = m->idiag_state;
	s->rx_queue = m->idiag_rqueue;
	s->tx_queue = m->idiag_wqueue;
	s->inode = m->idiag_inode;
}

/* Reads one dump to its end, handing every socket to fn. */
static int
netlink_receive(struct conncount *cc, socket_fn fn, void *arg, char *err, size_t errlen)
{
	struct conncount_socket s;
	struct nlmsghdr *h;
	ssize_t n;
	int left;

	for (;;) {
		do {
			n = recv(cc->nl_fd, cc->buf, CONNCOUNT_BUF_SIZE, 0);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errbuf_set(err, errlen,
				    "netlink sock_diag: no answer within %d ms",
				    CONNCOUNT_TIMEOUT_MS);
			else
				errbuf_set(err, errlen, "netlink sock_diag: receiving: %s",
				    strerror(errno));
			return -1;
		}
		if (n == 0) {
			errbuf_set(err, errlen,
			    "netlink sock_diag: socket closed during a dump");
			return -1;
		}
		left = (int)n;
		for (h = (struct nlmsghdr *)cc->buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_seq != cc->seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
					errbuf_set(err, errlen,
					    "netlink sock_diag: truncated error");
					return -1;
				}
				if (e->error == 0)
					continue;
				errno = -e->error;
				errbuf_set(err, errlen, "netlink sock_diag unavailable: %s",
				    strerror(-e->error));
				return -1;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				continue;
			socket_from_diag(NLMSG_DATA(h), &s);
			if (s.state >= CONNCOUNT_STATE_FIRST && s.state <= CONNCOUNT_STATE_LAST &&
			    (s.family == AF_INET || s.family == AF_INET6))
				fn(arg, &s);
		}
	}
}

/*
 * One sock_diag dump of `family` in `states`, filtered by the kernel to the sockets that
 * match *match (NULL: all). Reconnects if an earlier failure dropped the socket.
 */
static int
netlink_dump(struct conncount *cc, int family, uint32_t states,
    const struct conncount_addr *match, socket_fn fn, void *arg, char *err, size_t errlen)
{
	if (cc->nl_fd < 0 && netlink_connect(cc, err, errlen) < 0)
		return -1;
	if (netlink_send(cc, family, states, match, err, errlen) < 0 ||
	    netlink_receive(cc, fn, arg, err, errlen) < 0) {
		netlink_drop(cc);
		return -1;
	}
	return 0;
}

/* --- /proc readers ---------------------------------------------------------------- */

/* Hands every parsed line of a /proc/net/tcp* file to fn. */
static int
proc_scan(struct conncount *cc, int family, socket_fn fn, void *arg, char *err, size_t errlen)
{
	const char *path = family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
	struct conncount_socket s;
	size_t have = 0, rest;
	char *p, *end, *nl;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* A kernel without IPv6 has no tcp6: it holds no such socket either. */
		if (errno == ENOENT && family == AF_INET6)
			return 0;
		errbuf_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, cc->buf + have, CONNCOUNT_BUF_SIZE - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errbuf_set(err, errlen, "reading %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		p = cc->buf;
		end = cc->buf + have;
		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			if (conncount_proc_parse_line(p, (size_t)(nl - p), family, &s) == 0)
				fn(arg, &s);
			p = nl + 1;
		}
		rest = (size_t)(end - p);
		if (rest > CONNCOUNT_LINE_MAX) {
			errbuf_set(err, errlen, "reading %s: a line longer than %d bytes", path,
			    CONNCOUNT_LINE_MAX);
			close(fd);
			return -1;
		}
		memmove(cc->buf, p, rest);
		have = rest;
	}
	close(fd);
	if (have > 0 && conncount_proc_parse_line(cc->buf, have, family, &s) == 0)
		fn(arg, &s);
	return 0;
}

/* Reads a small /proc file whole into cc->buf, NUL-terminated; returns its length. */
static int
read_small_file(struct conncount *cc, const char *path, size_t *len, char *err, size_t errlen)
{
	size_t have = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errbuf_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (have == CONNCOUNT_BUF_SIZE - 1) {
			errbuf_set(err, errlen,
			    "%s is larger than %d bytes", path, CONNCOUNT_BUF_SIZE - 1);
			close(fd);
			return -1;
		}
		n = read(fd, cc->buf + have, CONNCOUNT_BUF_SIZE - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errbuf_set(err, errlen, "reading %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	cc->buf[have] = '\0';
	*len = have;
	return 0;
}

/* --- lifecycle ------------------------------------------------------------------- */

static void
ignore_socket(void *arg, const struct conncount_socket *s)
{
	(void)arg;
	(void)s;
}

int
conncount_open(struct conncount *cc, enum conncount_method method, char *err, size_t errlen)
{
	struct conncount_addr none;

	memset(cc, 0, sizeof(*cc));
	cc->nl_fd = -1;
	cc->requested = method;
	cc->buf = malloc(CONNCOUNT_BUF_SIZE);
	cc->seen = malloc(2 * SEEN_SLOTS * sizeof(*cc->seen));
	if (cc->buf == NULL || cc->seen == NULL) {
		free(cc->buf);
		free(cc->seen);
		cc->buf = NULL;
		cc->seen = NULL;
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	cc->method = CONNCOUNT_PROC;
	if (method == CONNCOUNT_PROC)
		return 0;
	/* Port 0 never has a listener: the probe walks the listening table, returns nothing,
	 * and proves that the kernel answers sock_diag for TCP. */
	memset(&none, 0, sizeof(none));
	none.family = AF_INET;
	if (netlink_dump(cc, AF_INET, STATE_BIT(CONNCOUNT_LISTEN), &none, ignore_socket, NULL,
		err, errlen) == 0) {
		cc->method = CONNCOUNT_NETLINK;
		return 0;
	}
	if (method == CONNCOUNT_AUTO)
		return 0;
	conncount_close(cc);
	return -1;
}

void
conncount_close(struct conncount *cc)
{
	netlink_drop(cc);
	free(cc->buf);
	free(cc->inodes);
	free(cc->matches);
	free(cc->seen);
	free(cc->ports);
	memset(cc, 0, sizeof(*cc));
	cc->nl_fd = -1;
}

enum conncount_method
conncount_method(const struct conncount *cc)
{
	return cc->method;
}

/*
 * Runs one scan with the current method. In AUTO, a netlink socket that can no
 * longer even be created means netlink went away: fall back to /proc for good.
 */
static int
scan(struct conncount *cc, int family, uint32_t states, const struct conncount_addr *match,
    socket_fn fn, void *arg, char *err, size_t errlen)
{
	if (cc->buf == NULL) {
		errbuf_set(err, errlen, "connection counter is not open");
		return -1;
	}
	if (cc->method == CONNCOUNT_NETLINK) {
		if (cc->nl_fd < 0 && cc->requested == CONNCOUNT_AUTO &&
		    netlink_connect(cc, err, errlen) < 0)
			cc->method = CONNCOUNT_PROC;
		else
			return netlink_dump(cc, family, states, match, fn, arg, err, errlen);
	}
	return proc_scan(cc, family, fn, arg, err, errlen);
}

/* --- queries ---------------------------------------------------------------------- */

int
conncount_read_listener(struct conncount *cc, const struct conncount_addr *addr,
    struct conncount_listener *out, char *err, size_t errlen)
{
	struct conncount_listener l;
	struct listener_scan ls;

	if (addr->family != AF_INET && addr->family != AF_INET6) {
		errbuf_set(err, errlen, "not an IPv4 or IPv6 address");
		return -1;
	}
	if (listener_scan_begin(cc, addr, &l, &ls, err, errlen) < 0 ||
	    scan(cc, addr->family, STATES_ALL, addr, listener_socket, &ls, err, errlen) < 0)
		return -1;
	l.method = cc->method;
	l.backlog_known = cc->method == CONNCOUNT_NETLINK;
	if (!l.backlog_known)
		l.backlog = 0;
	*out = l;
	return 0;
}

struct listeners_scan {
	uint16_t port;
	struct conncount_addr *out;
	size_t max, stored, found;
};

static int
addr_compare(const struct conncount_addr *a, const struct conncount_addr *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static void
listeners_socket(void *arg, const struct conncount_socket *s)
{
	struct listeners_scan *ls = arg;
	struct conncount_addr a;
	size_t i;

	if (s->state != CONNCOUNT_LISTEN || s->local_port != ls->port)
		return;
	memset(&a, 0, sizeof(a));
	a.family = s->family;
	memcpy(a.addr, s->local, addr_len(s->family));
	a.port = s->local_port;
	for (i = 0; i < ls->stored; i++) {
		if (addr_compare(&ls->out[i], &a) == 0)
			return; /* another socket of an SO_REUSEPORT group */
	}
	ls->found++;
	if (ls->stored == ls->max)
		return;
	/* Insertion keeps out[] sorted. */
	for (i = ls->stored; i > 0 && addr_compare(&ls->out[i - 1], &a) > 0; i--)
		ls->out[i] = ls->out[i - 1];
	ls->out[i] = a;
	ls->stored++;
}

int
conncount_find_listeners(struct conncount *cc, uint16_t port, struct conncount_addr *out,
    size_t max, size_t *found, char *err, size_t errlen)
{
	struct listeners_scan ls = { port, out, max, 0, 0 };
	struct conncount_addr any;
	int family;

	for (family = AF_INET; family != -1; family = family == AF_INET ? AF_INET6 : -1) {
		memset(&any, 0, sizeof(any));
		any.family = family;
		any.port = port;
		if (scan(cc, family, STATE_BIT(CONNCOUNT_LISTEN), &any, listeners_socket, &ls, err,
			errlen) < 0)
			return -1;
	}
	*found = ls.found;
	return 0;
}

/* Grows *p (of *cap elements of size elem) to hold need elements, at most max. */
static int
grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	ncap = *cap == 0 ? 256 : *cap;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	np = realloc(*p, ncap * elem);
	if (np == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static int
u64_compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
match_by_port(const void *a, const void *b)
{
	const struct conncount_match *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

/* The socket inodes behind /proc/PID/fd, sorted and without duplicates. */
static int
collect_inodes(struct conncount *cc, pid_t pid, struct conncount_process *out, char *err,
    size_t errlen)
{
	char path[PROC_PATH_MAX], link[FD_LINK_MAX];
	struct dirent *de;
	struct stat st;
	uint64_t inode;
	size_t i, j;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			errbuf_set(err, errlen, "no such process: %ld", (long)pid);
		else
			errbuf_set(err, errlen, "cannot examine %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (d == NULL) {
		if (errno == ENOENT)
			errbuf_set(err, errlen, "no such process: %ld", (long)pid);
		else if (errno == EACCES || errno == EPERM)
			errbuf_set(err, errlen,
			    "permission denied reading %s (the process belongs "
			    "to another user: run as that user or root)", path);
		else
			errbuf_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	cc->ninodes = 0;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		out->fds++;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue; /* closed since readdir: it no longer counts */
		if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
			continue;
		if (parse_u64_n(link + 8, (size_t)n - 9, 1, UINT64_MAX, &inode) < 0)
			continue;
		out->socket_fds++;
		if (grow((void **)&cc->inodes, &cc->inodes_cap, cc->ninodes + 1, sizeof(uint64_t),
			CONNCOUNT_FDS_MAX) < 0) {
			errbuf_set(err, errlen,
			    "process %ld holds more than %u sockets, or out of memory",
			    (long)pid, (unsigned)CONNCOUNT_FDS_MAX);
			closedir(d);
			return -1;
		}
		cc->inodes[cc->ninodes++] = inode;
	}
	if (errno != 0) {
		errbuf_set(err, errlen, "reading %s: %s", path, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	qsort(cc->inodes, cc->ninodes, sizeof(uint64_t), u64_compare);
	for (i = 0, j = 0; i < cc->ninodes; i++) {
		if (j == 0 || cc->inodes[j - 1] != cc->inodes[i])
			cc->inodes[j++] = cc->inodes[i];
	}
	cc->ninodes = j;
	return 0;
}

static void
process_socket(void *arg, const struct conncount_socket *s)
{
	struct conncount *cc = arg;
	const uint64_t *found;
	struct conncount_match *m;

	if (s->inode == 0)
		return;
	found = bsearch(&s->inode, cc->inodes, cc->ninodes, sizeof(uint64_t), u64_compare);
	if (found == NULL)
		return;
	m = &cc->matches[found - cc->inodes];
	if (m->state == 0) {
		m->port = s->local_port;
		m->state = (uint8_t)s->state;
	}
}

int
conncount_read_process(struct conncount *cc, pid_t pid, struct conncount_process *out,
    char *err, size_t errlen)
{
	struct conncount_process p;
	struct conncount_match *m;
	struct conncount_port *port;
	size_t i, j;

	if (pid <= 0) {
		errbuf_set(err, errlen, "no such process: %ld", (long)pid);
		return -1;
	}
	if (cc->buf == NULL) {
		errbuf_set(err, errlen, "connection counter is not open");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.pid = pid;
	if (collect_inodes(cc, pid, &p, err, errlen) < 0)
		return -1;
	/* One match slot per inode, and at most as many ports. */
	if (grow((void **)&cc->matches, &cc->matches_cap, cc->ninodes, sizeof(*cc->matches),
		CONNCOUNT_FDS_MAX) < 0 ||
	    grow((void **)&cc->ports, &cc->ports_cap, cc->ninodes, sizeof(*cc->ports),
		CONNCOUNT_FDS_MAX) < 0) {
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	if (cc->ninodes > 0)
		memset(cc->matches, 0, cc->ninodes * sizeof(*cc->matches));
	if (cc->ninodes > 0) {
		if (scan(cc, AF_INET, STATES_HELD, NULL, process_socket, cc, err, errlen) < 0 ||
		    scan(cc, AF_INET6, STATES_HELD, NULL, process_socket, cc, err, errlen) < 0)
			return -1;
	}
	p.method = cc->method;

	/* The found ones, grouped by port. */
	for (i = 0, j = 0; i < cc->ninodes; i++) {
		if (cc->matches[i].state != 0)
			cc->matches[j++] = cc->matches[i];
	}
	cc->nmatches = j;
	qsort(cc->matches, cc->nmatches, sizeof(*cc->matches), match_by_port);
	cc->nports = 0;
	for (i = 0; i < cc->nmatches; i++) {
		m = &cc->matches[i];
		if (cc->nports == 0 || cc->ports[cc->nports - 1].port != m->port) {
			port = &cc->ports[cc->nports++];
			memset(port, 0, sizeof(*port));
			port->port = m->port;
		}
		port = &cc->ports[cc->nports - 1];
		port->states[m->state]++;
		port->total++;
		p.states[m->state]++;
		p.tcp_sockets++;
	}
	p.ports = cc->ports;
	p.nports = cc->nports;
	*out = p;
	return 0;
}

int
conncount_read_host(struct conncount *cc, struct conncount_host *out, char *err,
    size_t errlen)
{
	struct conncount_host h;
	size_t len;

	if (cc->buf == NULL) {
		errbuf_set(err, errlen, "connection counter is not open");
		return -1;
	}
	memset(&h, 0, sizeof(h));
	if (read_small_file(cc, "/proc/net/netstat", &len, err, errlen) < 0)
		return -1;
	if (conncount_snmp_value(cc->buf, len, "TcpExt", "ListenOverflows",
		&h.listen_overflows) < 0 ||
	    conncount_snmp_value(cc->buf, len, "TcpExt", "ListenDrops", &h.listen_drops) < 0) {
		errbuf_set(err, errlen,
		    "/proc/net/netstat has no TcpExt ListenOverflows/ListenDrops");
		return -1;
	}
	if (read_small_file(cc, "/proc/net/snmp", &len, err, errlen) < 0)
		return -1;
	if (conncount_snmp_value(cc->buf, len, "Tcp", "CurrEstab", &h.curr_estab) < 0 ||
	    conncount_snmp_value(cc->buf, len, "Tcp", "PassiveOpens", &h.passive_opens) < 0) {
		errbuf_set(err, errlen, "/proc/net/snmp has no Tcp CurrEstab/PassiveOpens");
		return -1;
	}
	*out = h;
	return 0;
}
