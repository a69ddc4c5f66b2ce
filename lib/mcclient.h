/*
 * mcclient — a small blocking client of the memcache text protocol, for operator
 * commands (mctl flush, status) and tests: connect with a timeout, authenticate with
 * the provider's `set` scheme, send one command line, read its whole reply within a
 * deadline and a size cap, and parse `STAT name value` lines.
 *
 * The monitor does not use it: it has its own non-blocking prober.
 *
 * Replies are framed by lib/mcreply.h: a command's reply as MCREPLY_ANY (complete at
 * its terminal line: END, OK, STORED, NOT_STORED, EXISTS, NOT_FOUND, DELETED, TOUCHED,
 * an error line, VERSION ..., or a number), the authentication's as one line, stats as
 * STAT lines up to END; a line longer than MCREPLY_LINE_MAX is malformed. Bytes after
 * the reply are a protocol error. Meta commands (mg, ms, ...) are not supported.
 *
 * Errors: 0 / enum mcclient_status < 0 with a message in the caller's err:
 * "127.0.0.1:11311: connect: Connection refused", "...: no reply within 2000 ms",
 * "...: CLIENT_ERROR no such tenant". Passwords never appear in messages.
 */
#ifndef MCOPS_MCCLIENT_H
#define MCOPS_MCCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcreply.h"

#define MCCLIENT_REPLY_MAX MCREPLY_MAX   /* bytes of one reply */
#define MCCLIENT_LINE_MAX 2048           /* bytes of one command line, without CRLF */
#define MCCLIENT_STATS_MAX 4096          /* STAT lines kept from one reply */
#define MCCLIENT_STAT_NAME_MAX 128
#define MCCLIENT_STAT_VALUE_MAX 256
#define MCCLIENT_ADDR_MAX 300            /* "[host]:port" for messages */

enum mcclient_status {
	MCCLIENT_OK = 0,
	MCCLIENT_ERR_IO = -1,    /* resolve, connect, send, receive, timeout, closed */
	MCCLIENT_ERR_REPLY = -2, /* the server answered ERROR / CLIENT_ERROR / SERVER_ERROR
	                            (or not what the call expects); err has its line */
	MCCLIENT_ERR_PROTO = -3, /* a reply too large or malformed */
	MCCLIENT_ERR_ARG = -4,   /* a command line too long or containing CR/LF */
};

/* A connection. Caller-owned; valid between mcclient_connect and mcclient_close. */
struct mcclient {
	bool connected;
	int fd;
	int timeout_ms;                 /* for each call's whole exchange */
	char addr[MCCLIENT_ADDR_MAX];   /* for messages */
	char *buf;                      /* received bytes (owned) */
	size_t len, cap;
	size_t reply_len;               /* bytes of the last reply at the start of buf */
};

/*
 * Connects to host:port (a name, an IPv4 or an IPv6 literal; every address the name
 * resolves to is tried in turn) within timeout_ms, which also bounds each later
 * call. On failure c holds nothing and needs no close.
 */
enum mcclient_status mcclient_connect(struct mcclient *c, const char *host, uint16_t port,
    int timeout_ms, char *err, size_t errlen);

/* Closes the connection and frees its buffer. Safe on a zeroed struct. */
void mcclient_close(struct mcclient *c);

/*
 * Authenticates: `set <user> 0 0 <len>` with the password as value; STORED is
 * success, anything else MCCLIENT_ERR_REPLY ("authentication failed: <reply>").
 */
enum mcclient_status mcclient_auth(struct mcclient *c, const char *user, const char *password,
    char *err, size_t errlen);

/*
 * Sends one command line (CRLF added) and reads its reply. *reply (may be NULL)
 * points at the whole reply text, NUL-terminated, owned by c and valid until the
 * next call; *last (may be NULL) at its terminal line, without CRLF. A reply whose
 * terminal line is ERROR, CLIENT_ERROR or SERVER_ERROR returns MCCLIENT_ERR_REPLY
 * with that line in err (reply and last are still set).
 */
enum mcclient_status mcclient_command(struct mcclient *c, const char *line,
    const char **reply, const char **last, char *err, size_t errlen);

/* The same with a data block: "<line>\r\n<data>\r\n" (storage commands). */
enum mcclient_status mcclient_command_data(struct mcclient *c, const char *line,
    const void *data, size_t len, const char **reply, const char **last, char *err,
    size_t errlen);

struct mcclient_stat {
	char name[MCCLIENT_STAT_NAME_MAX + 1];
	char value[MCCLIENT_STAT_VALUE_MAX + 1];
};

/* Parsed stats. Caller-owned: zero it, then free with mcclient_stats_release(). */
struct mcclient_stats {
	struct mcclient_stat *v;
	size_t n;
};
void mcclient_stats_release(struct mcclient_stats *st);

/*
 * Parses a stats reply: "STAT name value\r\n" lines (value is the rest of the line
 * and may hold spaces) up to "END". Replaces st's content. MCCLIENT_ERR_PROTO for any
 * other line, a name or value longer than its maximum, more than MCCLIENT_STATS_MAX
 * lines, or a missing END.
 */
enum mcclient_status mcclient_parse_stats(const char *text, size_t len,
    struct mcclient_stats *st, char *err, size_t errlen);

/* Sends "stats" or "stats <args>" and parses the reply into st. */
enum mcclient_status mcclient_stats(struct mcclient *c, const char *args,
    struct mcclient_stats *st, char *err, size_t errlen);

/* The value of a stat, or NULL. */
const char *mcclient_stats_get(const struct mcclient_stats *st, const char *name);

#endif
