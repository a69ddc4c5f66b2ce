/*
 * probe_floor — the CPU that the monitor's traffic costs any client on this machine:
 * the same round trips as mcmon at its defaults (per node, `probe_rate` canary
 * gets a second on one persistent connection and one `stats` + `stats kernel` a
 * second on another), made by the plainest possible client: blocking sockets, one
 * round of every node at a time, nothing parsed, nothing timed. bench_mcmon.py runs
 * it against the same nodes as mcmon, in the same run, so that the monitor's own
 * share of its CPU is what it costs above this floor.
 *
 *   probe_floor --seconds S --rate R --user U --password-file F
 *               [--admin-user U --admin-password-file F]  CLIENT:ADMIN ...
 *
 * Ports are loopback (127.0.0.1). Prints one line: rounds, requests, CPU seconds and
 * percent of one core. Exit 0, or 1 on a connection or protocol failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "parse.h"

#define NODES_MAX 500
#define REPLY_MAX 65536
#define SECONDS_MAX 3600

struct node {
	int probe, admin;
};

static int
open_conn(uint16_t port, const char *user, const char *password)
{
	struct sockaddr_in a;
	char line[CONFIG_SECRET_MAX + 128], reply[256];
	int fd, one = 1, n;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "probe_floor: 127.0.0.1:%u: %s\n", port, strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	n = snprintf(line, sizeof(line), "set %s 0 0 %zu\r\n%s\r\n", user, strlen(password),
	    password);
	if (write(fd, line, (size_t)n) != n || read(fd, reply, sizeof(reply)) < 8 ||
	    memcmp(reply, "STORED\r\n", 8) != 0) {
		fprintf(stderr, "probe_floor: 127.0.0.1:%u: authentication failed\n", port);
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends a request and reads until the reply ends with "\r\n" and, for stats, until
 * the second END: just enough to keep the stream in step. */
static int
round_trip(int fd, const char *req, const char *end, int ends)
{
	char buf[REPLY_MAX];
	size_t have = 0;
	ssize_t n;
	int seen = 0;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	while (seen < ends) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		seen = 0;
		for (char *p = buf; (p = strstr(p, end)) != NULL; p += strlen(end))
			seen++;
		if (have >= sizeof(buf) - 1)
			return -1;
	}
	return 0;
}

static double
now_s(clockid_t clk)
{
	return (double)clock_now_ns(clk) / 1e9;
}

int
main(int argc, char **argv)
{
	static struct node nodes[NODES_MAX];
	char password[CONFIG_SECRET_MAX], admin_password[CONFIG_SECRET_MAX], err[256];
	const char *user = NULL, *pwfile = NULL, *admin_user = NULL, *admin_pwfile = NULL;
	uint64_t seconds = 10, rate = 10, v;
	size_t n = 0, i;
	double start, next, cpu;
	long rounds = 0, requests = 0;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc &&
		    parse_u64(argv[a + 1], 1, SECONDS_MAX, &seconds) == 0) {
			a++;
		} else if (strcmp(argv[a], "--rate") == 0 && a + 1 < argc &&
		    parse_u64(argv[a + 1], 1, 1000, &rate) == 0) {
			a++;
		} else if (strcmp(argv[a], "--user") == 0 && a + 1 < argc) {
			user = argv[++a];
		} else if (strcmp(argv[a], "--password-file") == 0 && a + 1 < argc) {
			pwfile = argv[++a];
		} else if (strcmp(argv[a], "--admin-user") == 0 && a + 1 < argc) {
			admin_user = argv[++a];
		} else if (strcmp(argv[a], "--admin-password-file") == 0 && a + 1 < argc) {
			admin_pwfile = argv[++a];
		} else {
			char *colon = strchr(argv[a], ':');
			uint64_t admin;
			if (colon == NULL || n == NODES_MAX ||
			    parse_u64_n(argv[a], (size_t)(colon - argv[a]), 1, 65535, &v) < 0 ||
			    parse_u64(colon + 1, 1, 65535, &admin) < 0) {
				fprintf(stderr, "usage: probe_floor --seconds S --rate R --user U "
						"--password-file F CLIENT:ADMIN ...\n");
				return 2;
			}
			nodes[n].probe = (int)v;
			nodes[n].admin = (int)admin;
			n++;
		}
	}
	if (user == NULL || pwfile == NULL || n == 0 ||
	    config_read_secret(pwfile, password, sizeof(password), err, sizeof(err)) < 0) {
		fprintf(stderr, "probe_floor: need --user, a readable --password-file and nodes\n");
		return 2;
	}
	/* Without an admin account, the probe account polls too (fake nodes take any). */
	if (admin_user == NULL) {
		admin_user = user;
		snprintf(admin_password, sizeof(admin_password), "%s", password);
	} else if (admin_pwfile == NULL || config_read_secret(admin_pwfile, admin_password,
	    sizeof(admin_password), err, sizeof(err)) < 0) {
		fprintf(stderr, "probe_floor: --admin-user needs a readable --admin-password-file\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		nodes[i].probe = open_conn((uint16_t)nodes[i].probe, user, password);
		nodes[i].admin = open_conn((uint16_t)nodes[i].admin, admin_user, admin_password);
		if (nodes[i].probe < 0 || nodes[i].admin < 0)
			return 1;
	}
	start = now_s(CLOCK_MONOTONIC);
	next = start;
	cpu = now_s(CLOCK_PROCESS_CPUTIME_ID);
	while (now_s(CLOCK_MONOTONIC) - start < (double)seconds) {
		for (i = 0; i < n; i++) {
			if (round_trip(nodes[i].probe, "get mcmon:canary\r\n", "END\r\n", 1) < 0)
				return 1;
			requests++;
			if (rounds % (long)rate == 0) {
				if (round_trip(nodes[i].admin, "stats\r\nstats kernel\r\n", "END\r\n",
				    2) < 0)
					return 1;
				requests++;
			}
		}
		rounds++;
		next += 1.0 / (double)rate;
		{
			double d = next - now_s(CLOCK_MONOTONIC);
			if (d > 0) {
				struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
				nanosleep(&ts, NULL);
			}
		}
	}
	cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	printf("probe_floor: rounds=%ld requests=%ld cpu_seconds=%.3f cpu_percent=%.2f\n", rounds,
	    requests, cpu, 100.0 * cpu / (now_s(CLOCK_MONOTONIC) - start));
	explicit_bzero(password, sizeof(password));
	explicit_bzero(admin_password, sizeof(admin_password));
	return 0;
}
