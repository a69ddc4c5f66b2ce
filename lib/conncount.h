/*
 * conncount — the kernel's view of TCP connections, read without lsof.
 *
 * What it answers, cheaply enough to ask every second during a connection storm:
 *   - for one listener (a bound address and port): how many TCP sockets with that
 *     local address and port are in each state, how many completed connections wait
 *     in the accept queue, and the listen backlog;
 *   - for one process: the TCP sockets it holds, per state and per local port;
 *   - host-wide counters that explain storms (listen overflows and drops, current
 *     established connections, passive opens).
 *
 * Two methods, same numbers:
 *   netlink  sock_diag (NETLINK_SOCK_DIAG, inet_diag_req_v2). The kernel filters with a
 *            bytecode matching the listener's local address and port, and only the
 *            listener's address family is dumped: a listener bound to [::] holds its
 *            IPv4 clients as v4-mapped IPv6 sockets, so AF_INET6 is the only family
 *            to walk for it. Cost: one walk of that family's socket table (~1 ms
 *            floor), and a copy to user space of the matching sockets only.
 *   proc     /proc/net/tcp or /proc/net/tcp6 (the one of the listener's family),
 *            parsed line by line. Slower (every socket is formatted as text by the
 *            kernel), and it cannot show the listen backlog.
 * Both see the caller's network namespace only.
 *
 * Neither is a snapshot: the kernel hands the table out in pieces (a netlink message
 * of ~32 KiB, a /proc read of one page) and resumes each piece by its position in a
 * hash chain, while connections come and go. A socket can then be handed out twice —
 * counted once here: sockets are told apart by addresses, ports and inode over the
 * last 1,024 or more sockets, farther back than a resumed piece repeats — or, if it
 * moved, missed. /proc resumes every ~25 lines, so under churn it is the worse of the
 * two (seen here: 10,401 lines for 8,000 established connections).
 *
 * Matching a listener: a socket counts if it has the listener's address family,
 * its local port, and its local address — or any local address when the listener
 * is bound to the wildcard (0.0.0.0 or ::). So a client socket that happens to have
 * the listener's port number on another local address is not counted, and a
 * [::] listener's IPv4 clients are. States are those the kernel reports; it shows
 * pending handshakes (request sockets) as SYN_RECV, so NEW_SYN_RECV stays 0 in
 * practice; an orphaned FIN_WAIT2 socket is reported as FIN_WAIT2.
 *
 * Lifecycle: a struct conncount is caller-owned memory set up by conncount_open and
 * torn down by conncount_close. It keeps the netlink socket open and its buffers
 * between calls, so a long-running process (mcd, mcmon) pays for them once; a one-shot
 * command opens, reads once, closes. Not thread-safe: one struct per thread, or a lock.
 * Every call blocks until the kernel has answered (bounded by CONNCOUNT_TIMEOUT_MS);
 * mcd calls it from its admin path at most about once a second and serves the cached
 * result in between, so a stats storm cannot become a netlink storm.
 *
 * Errors: functions return 0 or -1; on -1 they write a one-line reason into the
 * caller's err[errlen] (CONNCOUNT_ERR_MAX is enough) — "no such process: 123",
 * "permission denied reading /proc/123/fd (...)", "netlink sock_diag unavailable:
 * ...". Nothing here logs or exits. Outputs are complete only on 0.
 *
 * Example (mcd's `stats kernel`, listener fd `lfd`):
 *
 *     struct conncount cc;       // in the server context, opened once
 *     conncount_open(&cc, CONNCOUNT_AUTO, err, sizeof(err));
 *     ...
 *     struct sockaddr_storage ss; socklen_t sl = sizeof(ss);
 *     getsockname(lfd, (struct sockaddr *)&ss, &sl);
 *     conncount_addr_from_sockaddr((struct sockaddr *)&ss, sl, &addr);
 *     if (conncount_read_listener(&cc, &addr, &l, err, sizeof(err)) == 0)
 *             conncount_format_listener(&l, "listener:client", buf, cap, &len);
 */
#ifndef MCOPS_CONNCOUNT_H
#define MCOPS_CONNCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define CONNCOUNT_ERR_MAX 256        /* enough for every error text written here */
#define CONNCOUNT_BUF_SIZE 65536     /* one netlink receive or /proc read, bytes */
#define CONNCOUNT_LINE_MAX 512       /* longest /proc/net/tcp* line accepted */
#define CONNCOUNT_FDS_MAX (1u << 22) /* most socket fds of one process examined */
#define CONNCOUNT_LISTENERS_MAX 32   /* listeners conncount_find_listeners reports */
#define CONNCOUNT_BYTECODE_MAX 64    /* longest filter conncount_bytecode_build writes */
#define CONNCOUNT_ADDR_TEXT_MAX 64   /* "[v6 address]:65535" and NUL */
#define CONNCOUNT_TIMEOUT_MS 5000    /* longest wait for one netlink reply */

enum conncount_method {
	CONNCOUNT_AUTO = 0, /* netlink, or /proc when netlink is unavailable */
	CONNCOUNT_NETLINK,
	CONNCOUNT_PROC,
};

/* TCP states, numbered as the kernel numbers them (include/net/tcp_states.h). */
enum conncount_state {
	CONNCOUNT_ESTABLISHED = 1,
	CONNCOUNT_SYN_SENT = 2,
	CONNCOUNT_SYN_RECV = 3,
	CONNCOUNT_FIN_WAIT1 = 4,
	CONNCOUNT_FIN_WAIT2 = 5,
	CONNCOUNT_TIME_WAIT = 6,
	CONNCOUNT_CLOSE = 7,
	CONNCOUNT_CLOSE_WAIT = 8,
	CONNCOUNT_LAST_ACK = 9,
	CONNCOUNT_LISTEN = 10,
	CONNCOUNT_CLOSING = 11,
	CONNCOUNT_NEW_SYN_RECV = 12,
};
#define CONNCOUNT_STATE_FIRST CONNCOUNT_ESTABLISHED
#define CONNCOUNT_STATE_LAST CONNCOUNT_NEW_SYN_RECV
#define CONNCOUNT_STATES 13 /* size of a per-state array; index 0 is unused */

/*
 * A local address and port. addr is in network byte order (the first 4 bytes for
 * AF_INET); all zero is the wildcard. A v4-mapped IPv6 address (::ffff:a.b.c.d)
 * stays AF_INET6: it names the IPv6 view of an IPv4 peer of a [::] listener.
 */
struct conncount_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port; /* host byte order */
};

/* One listener's view. Every count covers the sockets matched as described above. */
struct conncount_listener {
	struct conncount_addr addr;      /* what was counted */
	enum conncount_method method;    /* which method produced the numbers */
	uint64_t states[CONNCOUNT_STATES]; /* sockets per state, indexed by enum conncount_state */
	uint64_t total;                  /* sum of states[] */
	uint32_t listen_sockets;         /* LISTEN sockets there: 0 none, >1 with SO_REUSEPORT */
	uint64_t accept_queue;           /* handshakes completed, not yet accept()ed (summed) */
	uint64_t backlog;                /* listen() backlog as the kernel capped it (summed) */
	bool backlog_known;              /* false with the proc method: /proc does not show it */
};

/* Host-wide (network namespace) counters, as the kernel keeps them since boot. */
struct conncount_host {
	uint64_t listen_overflows; /* TcpExt ListenOverflows: accept queue was full */
	uint64_t listen_drops;     /* TcpExt ListenDrops: SYNs/ACKs dropped by listeners */
	uint64_t curr_estab;       /* Tcp CurrEstab: ESTABLISHED + CLOSE_WAIT now */
	uint64_t passive_opens;    /* Tcp PassiveOpens: connections accepted by the kernel */
};

/* A process's TCP sockets on one local port (both address families together). */
struct conncount_port {
	uint16_t port;
	uint64_t total;
	uint64_t states[CONNCOUNT_STATES];
};

struct conncount_process {
	pid_t pid;
	enum conncount_method method;
	uint64_t fds;         /* open file descriptors */
	uint64_t socket_fds;  /* of which refer to a socket of any kind */
	uint64_t tcp_sockets; /* distinct TCP sockets among those (a dup()ed fd counts once) */
	uint64_t states[CONNCOUNT_STATES];
	/*
	 * Per local port, sorted by port. Borrowed from the struct conncount: valid until
	 * the next call on it or conncount_close.
	 */
	const struct conncount_port *ports;
	size_t nports;
};

/* One line of /proc/net/tcp or tcp6: what is needed to count it. */
struct conncount_socket {
	int family;
	uint8_t local[16]; /* network byte order */
	uint16_t local_port;
	uint8_t remote[16];
	uint16_t remote_port;
	int state;
	uint32_t tx_queue;
	uint32_t rx_queue; /* for a LISTEN socket: the accept-queue length */
	uint64_t inode;    /* 0 for TIME_WAIT and request sockets: nobody holds them */
};

struct conncount_match; /* private to conncount.c */

/* Caller-owned; the fields are private to conncount.c. */
struct conncount {
	enum conncount_method requested;
	enum conncount_method method; /* NETLINK or PROC once open */
	int nl_fd;                    /* -1 when closed or to be reopened */
	uint32_t seq;
	char *buf;                    /* CONNCOUNT_BUF_SIZE bytes */
	uint64_t *inodes;             /* a process's socket inodes, sorted */
	size_t ninodes, inodes_cap;
	struct conncount_match *matches; /* per socket inode: its port and state once found */
	size_t nmatches, matches_cap;
	uint64_t *seen;               /* keys of the latest sockets counted: two generations */
	size_t nseen;                 /* in the current generation */
	unsigned seen_gen;            /* which of the two is current */
	struct conncount_port *ports;
	size_t nports, ports_cap;
};

/*
 * Allocates the buffers and, for AUTO and NETLINK, opens a sock_diag socket and checks
 * with a one-listener query that the kernel answers. AUTO falls back to /proc when it
 * does not; NETLINK fails instead ("netlink sock_diag unavailable: ..."). On -1 nothing
 * needs closing. AUTO also falls back later if netlink stops answering.
 */
int conncount_open(struct conncount *cc, enum conncount_method method, char *err,
    size_t errlen);
/* Closes the socket and frees the buffers. Safe on a zeroed or already closed struct. */
void conncount_close(struct conncount *cc);
/* The method calls will use now: CONNCOUNT_NETLINK or CONNCOUNT_PROC. */
enum conncount_method conncount_method(const struct conncount *cc);

/*
 * Counts the sockets of the listener bound at *addr (pass the listener's own bound
 * address, e.g. from getsockname). *out is overwritten. A missing listener is not an
 * error: out->listen_sockets is 0 and the other sockets on that address are counted.
 */
int conncount_read_listener(struct conncount *cc, const struct conncount_addr *addr,
    struct conncount_listener *out, char *err, size_t errlen);

/*
 * The distinct bound addresses of LISTEN sockets on `port`, both families, IPv4 first,
 * each in ascending byte order. Stores up to `max` in out[]; *found is how many exist
 * (may exceed max). Only the listening tables are walked: cheap.
 */
int conncount_find_listeners(struct conncount *cc, uint16_t port, struct conncount_addr *out,
    size_t max, size_t *found, char *err, size_t errlen);

/*
 * The TCP sockets held by process `pid`: its /proc/PID/fd socket inodes joined with
 * the TCP tables (both families). Errors: "no such process: PID", "permission denied
 * reading /proc/PID/fd (...)", more than CONNCOUNT_FDS_MAX socket fds. Sockets in
 * another network namespace, and non-TCP sockets, count in socket_fds only.
 */
int conncount_read_process(struct conncount *cc, pid_t pid, struct conncount_process *out,
    char *err, size_t errlen);

/* Reads /proc/net/netstat and /proc/net/snmp. */
int conncount_read_host(struct conncount *cc, struct conncount_host *out, char *err,
    size_t errlen);

/*
 * memcached-style stats lines, appended at buf + *len (cap counts the whole buffer,
 * which stays NUL-terminated):
 *   STAT <prefix>:<state> N\r\n   for every state, established .. new_syn_recv
 *   STAT <prefix>:accept_queue N\r\n
 *   STAT <prefix>:backlog N\r\n   (left out when !backlog_known)
 * prefix is 1..64 bytes of [A-Za-z0-9_.:-] ("listener:client"). Returns 0 and advances
 * *len, or -1 (bad prefix, or no room) with buf and *len as they were.
 */
int conncount_format_listener(const struct conncount_listener *l, const char *prefix,
    char *buf, size_t cap, size_t *len);
/* The same for host:listen_overflows, host:listen_drops, host:curr_estab, host:passive_opens. */
int conncount_format_host(const struct conncount_host *h, char *buf, size_t cap, size_t *len);

/* "established", "syn_sent", ... "new_syn_recv"; NULL outside the states. */
const char *conncount_state_name(int state);
/* "auto", "netlink", "proc". */
const char *conncount_method_name(enum conncount_method method);

/*
 * A numeric host: "127.0.0.1", "::1", "[::1]", "0.0.0.0", "::". No name resolution.
 * Returns -1 for anything else.
 */
int conncount_addr_parse(const char *host, uint16_t port, struct conncount_addr *out);
/* From a bound sockaddr (AF_INET or AF_INET6); -1 for other families or short lengths. */
int conncount_addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen,
    struct conncount_addr *out);
/* "127.0.0.1:11211", "[::]:11211" into buf[cap] (CONNCOUNT_ADDR_TEXT_MAX is enough). */
void conncount_addr_format(const struct conncount_addr *a, char *buf, size_t cap);
/* The address alone, without brackets or port: "127.0.0.1", "::". */
void conncount_addr_host(const struct conncount_addr *a, char *buf, size_t cap);
/* True for 0.0.0.0 and ::. */
bool conncount_addr_is_wildcard(const struct conncount_addr *a);

/*
 * Building blocks, pure functions of their input (used by the above; exposed so that
 * tests can pin them).
 */

/*
 * The INET_DIAG_REQ_BYTECODE filter that matches *a: for the wildcard one
 * INET_DIAG_BC_S_EQ on the port; otherwise one INET_DIAG_BC_S_COND on the address
 * (full prefix) and port. Writes at most CONNCOUNT_BYTECODE_MAX bytes into buf[cap];
 * returns the length, or -1 if cap is too small or the family unknown.
 */
int conncount_bytecode_build(const struct conncount_addr *a, void *buf, size_t cap);

/*
 * Parses one line (without '\n') of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6).
 * Returns 0, or -1 for the header line and anything malformed.
 */
int conncount_proc_parse_line(const char *line, size_t len, int family,
    struct conncount_socket *out);

/* True if socket *s is counted for the listener at *a (the rule described above). */
bool conncount_socket_matches(const struct conncount_addr *a, const struct conncount_socket *s);

/*
 * Counts the listener at *a in text[len] (whole lines of /proc/net/tcp for AF_INET or
 * tcp6 for AF_INET6, header allowed) exactly as conncount_read_listener does with the
 * proc method: malformed lines skipped, a socket listed again within the last 1,024
 * sockets counted once. Uses cc's buffers (any method). -1 only when cc is not open.
 */
int conncount_count_text(struct conncount *cc, const char *text, size_t len, int family,
    const struct conncount_addr *a, struct conncount_listener *out, char *err,
    size_t errlen);

/*
 * In the text of /proc/net/netstat or /proc/net/snmp (pairs of lines "Sec: names..." then
 * "Sec: values..."), the value of `name` in section `section` ("TcpExt", "Tcp").
 * Returns -1 when absent, malformed, or negative.
 */
int conncount_snmp_value(const char *text, size_t len, const char *section, const char *name,
    uint64_t *out);

#endif
