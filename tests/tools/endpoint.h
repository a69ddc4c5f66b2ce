/*
 * endpoint — a loopback "host:port" for the test tools and benchmarks (tests/tools/,
 * bench/), and the authentication `set` they send.
 *
 * The tools generate storms and faults, so they refuse to aim at anything but the
 * loopback ranges (127.0.0.0/8, ::1): a mistyped address must not turn a test into
 * an attack on a real host. Hosts are numeric ("127.0.0.1", "[::1]") or "localhost"
 * (taken as 127.0.0.1); no name resolution happens.
 *
 * Each tool is one .c file linked with libmcops.a only, so what they share lives
 * here as static inline functions.
 */
#ifndef MCOPS_TOOLS_ENDPOINT_H
#define MCOPS_TOOLS_ENDPOINT_H

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "parse.h"

#define ENDPOINT_HOST_MAX 64 /* longest host part, brackets excluded */
#define ENDPOINT_TEXT_MAX 80 /* "[v6 address]:65535" and NUL */

struct endpoint {
	struct sockaddr_storage addr;
	socklen_t len;
	char text[ENDPOINT_TEXT_MAX]; /* canonical "127.0.0.1:11211" or "[::1]:11211" */
};

static inline bool
endpoint_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

static inline int
endpoint_port(const struct endpoint *ep)
{
	if (ep->addr.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&ep->addr)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&ep->addr)->sin6_port);
}

/* Sets ep->text from ep->addr. */
static inline void
endpoint_format(struct endpoint *ep)
{
	char host[INET6_ADDRSTRLEN];
	const void *a;

	if (ep->addr.ss_family == AF_INET)
		a = &((const struct sockaddr_in *)&ep->addr)->sin_addr;
	else
		a = &((const struct sockaddr_in6 *)&ep->addr)->sin6_addr;
	if (inet_ntop(ep->addr.ss_family, a, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	if (ep->addr.ss_family == AF_INET6)
		snprintf(ep->text, sizeof(ep->text), "[%s]:%d", host, endpoint_port(ep));
	else
		snprintf(ep->text, sizeof(ep->text), "%s:%d", host, endpoint_port(ep));
}

/*
 * Fills ep from "host:port" or "[v6]:port". Port 0 is accepted (a listener that lets
 * the kernel choose); a client should refuse it itself. Returns 0, or -1 with err
 * quoting s.
 */
static inline int
endpoint_parse(struct endpoint *ep, const char *s, char *err, size_t errlen)
{
	char host[ENDPOINT_HOST_MAX + 1];
	const char *hstart, *port;
	size_t hlen;
	uint64_t p;
	struct addrinfo hints, *res;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "'%s': expected [address]:port", s);
			return -1;
		}
		hstart = s + 1;
		hlen = (size_t)(close - hstart);
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL) {
			snprintf(err, errlen, "'%s': expected host:port (IPv6 as [address]:port)", s);
			return -1;
		}
		hstart = s;
		hlen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (hlen == 0 || hlen > ENDPOINT_HOST_MAX) {
		snprintf(err, errlen, "'%s': bad host part", s);
		return -1;
	}
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (parse_u64(port, 0, 65535, &p) < 0) {
		snprintf(err, errlen, "'%s': bad port '%s'", s, port);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		snprintf(err, errlen, "'%s': '%s' is not a numeric address", s, host);
		return -1;
	}
	memset(ep, 0, sizeof(*ep));
	memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
	ep->len = res->ai_addrlen;
	freeaddrinfo(res);
	if (ep->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&ep->addr)->sin_port = htons((uint16_t)p);
	else
		((struct sockaddr_in6 *)&ep->addr)->sin6_port = htons((uint16_t)p);
	if (!endpoint_addr_is_loopback((const struct sockaddr *)&ep->addr)) {
		snprintf(err, errlen,
		    "'%s' is not a loopback address (the test tools talk only to "
		    "127.0.0.0/8 and ::1)",
		    s);
		return -1;
	}
	endpoint_format(ep);
	return 0;
}

/* Refreshes ep (address and text) from the socket's local name: a listener bound to port 0. */
static inline int
endpoint_from_socket(struct endpoint *ep, int fd)
{
	ep->len = sizeof(ep->addr);
	if (getsockname(fd, (struct sockaddr *)&ep->addr, &ep->len) < 0)
		return -1;
	endpoint_format(ep);
	return 0;
}

/*
 * The authentication `set`. AUTH_MCOPS is the hosted provider's scheme (key = user,
 * value = password); AUTH_MEMCACHED is memcached's -Y form (any key, value
 * "user password"), which mcd accepts too.
 */
enum auth_style {
	AUTH_NONE = 0,
	AUTH_MCOPS,
	AUTH_MEMCACHED,
};

#define AUTH_USER_MAX 250     /* a memcache key */
#define AUTH_REQUEST_MAX 1024 /* the whole request: line, value, CRLFs */

/* "none", "mcops", "memcached" -> style; 0 or -1. */
static inline int
auth_style_parse(const char *s, enum auth_style *out)
{
	if (strcmp(s, "none") == 0)
		*out = AUTH_NONE;
	else if (strcmp(s, "mcops") == 0)
		*out = AUTH_MCOPS;
	else if (strcmp(s, "memcached") == 0)
		*out = AUTH_MEMCACHED;
	else
		return -1;
	return 0;
}

static inline const char *
auth_style_name(enum auth_style style)
{
	return style == AUTH_MCOPS ? "mcops" : style == AUTH_MEMCACHED ? "memcached" : "none";
}

/*
 * Writes the auth request for user/password into buf. Returns its length (0 for
 * AUTH_NONE), or -1 if it does not fit or the user is not a valid key (empty, too
 * long, containing space or control bytes).
 */
static inline int
auth_request_format(char *buf, size_t buflen, enum auth_style style, const char *user,
    const char *password)
{
	size_t ulen = strlen(user), plen = strlen(password);
	int n;

	if (style == AUTH_NONE)
		return 0;
	if (ulen == 0 || ulen > AUTH_USER_MAX)
		return -1;
	for (size_t i = 0; i < ulen; i++)
		if ((unsigned char)user[i] <= ' ' || user[i] == 0x7f)
			return -1;
	if (style == AUTH_MCOPS)
		n = snprintf(buf, buflen, "set %s 0 0 %zu\r\n%s\r\n", user, plen, password);
	else
		n = snprintf(buf, buflen, "set auth 0 0 %zu\r\n%s %s\r\n", ulen + 1 + plen, user,
		    password);
	if (n < 0 || (size_t)n >= buflen)
		return -1;
	return n;
}

#endif
