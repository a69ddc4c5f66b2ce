/*
 * ketama_place — prints where lib/ketama places keys, for tests that compare it
 * with nutcracker.
 *
 *     ketama_place SERVER... < keys
 *
 * Each SERVER is a server line as nutcracker's YAML lists it:
 * "host:port:weight" or "host:port:weight name". The point name is `name` when
 * given, else what ketama_default_name() makes of host and port ("host:port", or
 * "host" on port 11211) — nutcracker's rule. Keys come on stdin, one per line
 * (a trailing '\r' is kept as part of the key: keys have no whitespace); for each
 * the tool prints "key index", index counting SERVER arguments from 0.
 *
 * Exit status: 0 when every key was placed, 1 on a bad server list, an over-long
 * key line or a failed lookup, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ketama.h"
#include "parse.h"

#define KEY_LINE_MAX 4096 /* bytes of one key line, newline included */
#define SERVER_ARG_MAX 512 /* bytes of one SERVER argument */
#define ERR_LEN 256

struct server_arg {
	char text[SERVER_ARG_MAX]; /* the argument, cut into host, port, weight, name */
	char name[KETAMA_NAME_MAX + 1];
};

/* Cuts "host:port:weight[ name]" (nutcracker's format) into s->name and *weight. */
static int
parse_server(const char *arg, struct server_arg *s, uint32_t *weight, char *err, size_t errlen)
{
	char *space, *colon, *host, *name = NULL;
	uint64_t port, w;
	size_t len = strlen(arg);

	if (len >= sizeof(s->text)) {
		snprintf(err, errlen, "server '%.32s...' too long", arg);
		return -1;
	}
	memcpy(s->text, arg, len + 1);
	space = strrchr(s->text, ' ');
	if (space != NULL) {
		*space = '\0';
		name = space + 1;
	}
	colon = strrchr(s->text, ':');
	if (colon == NULL || parse_u64(colon + 1, 1, KETAMA_WEIGHT_MAX, &w) < 0) {
		snprintf(err, errlen, "server '%s': no weight in 1..%d", arg, KETAMA_WEIGHT_MAX);
		return -1;
	}
	*colon = '\0';
	colon = strrchr(s->text, ':');
	if (colon == NULL || parse_u64(colon + 1, 1, 65535, &port) < 0) {
		snprintf(err, errlen, "server '%s': no port", arg);
		return -1;
	}
	*colon = '\0';
	host = s->text;
	*weight = (uint32_t)w;
	if (name != NULL) {
		if (strlen(name) >= sizeof(s->name)) {
			snprintf(err, errlen, "server '%s': name too long", arg);
			return -1;
		}
		memcpy(s->name, name, strlen(name) + 1);
		return 0;
	}
	return ketama_default_name(s->name, sizeof(s->name), host, (uint16_t)port, err, errlen);
}

int
main(int argc, char **argv)
{
	struct ketama_server servers[KETAMA_SERVERS_MAX];
	static struct server_arg args[KETAMA_SERVERS_MAX];
	char line[KEY_LINE_MAX], err[ERR_LEN];
	struct ketama k;
	size_t n, len;
	int i, at, rc = 0;

	if (argc < 2 || argc - 1 > KETAMA_SERVERS_MAX) {
		fprintf(stderr, "usage: ketama_place host:port:weight[ name]... < keys\n");
		return 2;
	}
	n = (size_t)(argc - 1);
	for (i = 0; i < argc - 1; i++) {
		if (parse_server(argv[i + 1], &args[i], &servers[i].weight, err, sizeof(err)) < 0) {
			fprintf(stderr, "ketama_place: %s\n", err);
			return 1;
		}
		servers[i].name = args[i].name;
	}
	if (ketama_init(&k, servers, n, err, sizeof(err)) < 0) {
		fprintf(stderr, "ketama_place: %s\n", err);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
		} else if (!feof(stdin)) {
			fprintf(stderr, "ketama_place: key line longer than %d bytes\n",
			    KEY_LINE_MAX - 2);
			rc = 1;
			break;
		}
		at = ketama_lookup(&k, line, len);
		if (at < 0) {
			fprintf(stderr, "ketama_place: cannot hash '%s'\n", line);
			rc = 1;
			break;
		}
		printf("%s %d\n", line, at);
	}
	ketama_release(&k);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
