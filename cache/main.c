/*
 * mcd — the mcops cache server. Options follow memcached's where they exist; see
 * usage() and docs/mcd.md.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "mcd.h"
#include "parse.h"
#include "sdnotify.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mcd [options]\n"
	    "\n"
	    "A memcache server with tenants, authentication, TLS and an admin port.\n"
	    "Without a tenants file it serves without authentication, like memcached.\n"
	    "\n"
	    "memcached's options:\n"
	    "  -p, --port PORT          client TCP port (default 11211)\n"
	    "  -l, --listen ADDR        client address (default 127.0.0.1)\n"
	    "  -t, --threads N          worker threads (default 4)\n"
	    "  -m, --memory-limit MB    memory for items in MB (default 64); the limit of\n"
	    "                           the default tenant when there is no tenants file\n"
	    "  -c, --conn-limit N       max simultaneous connections (default 1024)\n"
	    "  -I, --max-item-size SIZE largest item (default 1m; e.g. 512k, 2m)\n"
	    "  -b, --listen-backlog N   TCP backlog (default 1024)\n"
	    "  -U, --udp-port 0         accepted for compatibility; UDP is not served\n"
	    "  -u, --user USER          run as USER after binding (when started as root)\n"
	    "  -v                       verbose (-vv: debug)\n"
	    "  -A, --enable-shutdown    allow the `shutdown` command (admin port only)\n"
	    "  -V, --version            print the version and exit\n"
	    "mcops options:\n"
	    "  -f, --config FILE        read [mcd] (and [node NAME]) from FILE\n"
	    "      --node NAME          listen where [node NAME] of the config says\n"
	    "      --tenants FILE       tenants file: turns authentication on\n"
	    "      --auth-timeout DUR   close connections not authenticated within DUR\n"
	    "                           (default 5s)\n"
	    "      --admin-port PORT    admin listener (stats, flush, shed, drain)\n"
	    "      --admin-listen ADDR  admin address (default 127.0.0.1; beyond loopback\n"
	    "                           only with a tenants file)\n"
	    "      --admin-conn-limit N max simultaneous admin connections (default 32),\n"
	    "                           apart from the clients' -c\n"
	    "      --tls-port PORT      TLS listener (needs --tls-cert and --tls-key)\n"
	    "      --tls-listen ADDR    TLS address (default: the client address)\n"
	    "      --tls-cert FILE      certificate chain (PEM)\n"
	    "      --tls-key FILE       private key (PEM)\n"
	    "      --source-max-unauth N  max unauthenticated connections from one source\n"
	    "                           address (IPv4 /32, IPv6 /64); 0 = no limit (default 0)\n"
	    "      --source-conn-rate R max new connections per second from one source\n"
	    "                           address (burst R); 0 = no limit (default 0)\n"
	    "      --conn-accounting on|off  connections by tenant and source (default on;\n"
	    "                           off also turns the source limits off)\n"
	    "      --proxy FILE         run as a proxy in front of the backends FILE lists\n"
	    "                           (docs/proxy.md); the client side is the same\n"
	    "  -n                       check the configuration and exit\n"
	    "  -d                       debug logging\n"
	    "  -h, --help               this help\n"
	    "\n"
	    "Signals: SIGHUP re-reads the tenants file (and the proxy file); SIGTERM/SIGINT\n"
	    "stop gracefully.\n");
}

enum {
	OPT_NODE = 256, OPT_TENANTS, OPT_AUTH_TIMEOUT, OPT_ADMIN_PORT, OPT_ADMIN_LISTEN,
	OPT_TLS_PORT, OPT_TLS_LISTEN, OPT_TLS_CERT, OPT_TLS_KEY, OPT_ADMIN_CONN_LIMIT, OPT_PROXY,
	OPT_SOURCE_MAX_UNAUTH, OPT_SOURCE_CONN_RATE, OPT_CONN_ACCOUNTING,
};

static const struct option long_options[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "listen", required_argument, NULL, 'l' },
	{ "threads", required_argument, NULL, 't' },
	{ "memory-limit", required_argument, NULL, 'm' },
	{ "conn-limit", required_argument, NULL, 'c' },
	{ "max-item-size", required_argument, NULL, 'I' },
	{ "listen-backlog", required_argument, NULL, 'b' },
	{ "udp-port", required_argument, NULL, 'U' },
	{ "user", required_argument, NULL, 'u' },
	{ "version", no_argument, NULL, 'V' },
	{ "enable-shutdown", no_argument, NULL, 'A' },
	{ "config", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "tenants", required_argument, NULL, OPT_TENANTS },
	{ "auth-timeout", required_argument, NULL, OPT_AUTH_TIMEOUT },
	{ "admin-port", required_argument, NULL, OPT_ADMIN_PORT },
	{ "admin-listen", required_argument, NULL, OPT_ADMIN_LISTEN },
	{ "admin-conn-limit", required_argument, NULL, OPT_ADMIN_CONN_LIMIT },
	{ "proxy", required_argument, NULL, OPT_PROXY },
	{ "source-max-unauth", required_argument, NULL, OPT_SOURCE_MAX_UNAUTH },
	{ "source-conn-rate", required_argument, NULL, OPT_SOURCE_CONN_RATE },
	{ "conn-accounting", required_argument, NULL, OPT_CONN_ACCOUNTING },
	{ "tls-port", required_argument, NULL, OPT_TLS_PORT },
	{ "tls-listen", required_argument, NULL, OPT_TLS_LISTEN },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ NULL, 0, NULL, 0 },
};
static const char short_options[] = "p:l:t:m:c:I:b:U:u:vVf:hndA";

static void
defaults(struct mcd_settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->listen, sizeof(s->listen), "127.0.0.1");
	snprintf(s->admin_listen, sizeof(s->admin_listen), "127.0.0.1");
	s->port = 11211;
	s->threads = 4;
	s->memory = 64ULL << 20;
	s->max_connections = 1024;
	s->admin_max_connections = MCD_ADMIN_CONNS_DEFAULT;
	s->item_max = 1ULL << 20;
	s->backlog = 1024;
	s->auth_timeout_ms = 5000;
	s->conn_accounting = true;
}

static int
copy_str(char *dst, size_t len, const char *src, const char *what, char *err, size_t errlen)
{
	if (strlen(src) >= len) {
		snprintf(err, errlen, "%s is too long", what);
		return -1;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* Splits "host:port" into the settings' address and port fields. */
static int
set_hostport(const char *v, char *addr, size_t addrlen, int *port, char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	uint64_t p;

	if (colon == NULL || parse_u64(colon + 1, 1, 65535, &p) < 0) {
		snprintf(err, errlen, "'%s' is not host:port", v);
		return -1;
	}
	if ((size_t)(colon - v) >= addrlen) {
		snprintf(err, errlen, "address too long: '%s'", v);
		return -1;
	}
	memcpy(addr, v, (size_t)(colon - v));
	addr[colon - v] = '\0';
	*port = (int)p;
	return 0;
}

static bool
owns_section(const char *section)
{
	return strcmp(section, "mcd") == 0;
}

/* Reads [mcd] and, with a node name, [node NAME]'s addresses. */
static int
load_config(struct mcd_settings *s, const char *path, const char *node)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	char section[128], err[256];
	const char *v;
	uint64_t u;
	int64_t d;
	size_t i;
	int rc = 0;

	if (config_load(&cfg, path, &errs) == 0) {
		if (config_get_str(&cfg, "mcd", "listen", NULL, &v, &errs), v != NULL)
			if (copy_str(s->listen, sizeof(s->listen), v, "listen", err, sizeof(err)) < 0)
				config_error(&errs, &cfg, config_find(&cfg, "mcd", "listen")->line, "%s", err);
		if (config_get_u64(&cfg, "mcd", "port", 1, 65535, (uint64_t)s->port, &u, &errs) == 0)
			s->port = (int)u;
		if (config_get_u64(&cfg, "mcd", "threads", 1, MCD_THREADS_MAX, (uint64_t)s->threads, &u, &errs) == 0)
			s->threads = (int)u;
		config_get_size(&cfg, "mcd", "memory", s->memory, &s->memory, &errs);
		if (config_get_u64(&cfg, "mcd", "max_connections", 1, 1000000,
		    (uint64_t)s->max_connections, &u, &errs) == 0)
			s->max_connections = (int)u;
		/* The same bounds as -I: the input buffers are sized from it. */
		if (config_get_size(&cfg, "mcd", "item_size_max", s->item_max, &u, &errs) == 0) {
			if (u < MCD_ITEM_SIZE_MIN || u > MCD_ITEM_SIZE_MAX)
				config_error(&errs, &cfg, config_find(&cfg, "mcd", "item_size_max")->line,
				    "item_size_max: '%s' is not a size from 1k to 1g",
				    config_find(&cfg, "mcd", "item_size_max")->value);
			else
				s->item_max = u;
		}
		if (config_get_u64(&cfg, "mcd", "backlog", 1, 65535, (uint64_t)s->backlog, &u, &errs) == 0)
			s->backlog = (int)u;
		if (config_get_duration_ms(&cfg, "mcd", "auth_timeout", s->auth_timeout_ms, &d, &errs) == 0)
			s->auth_timeout_ms = d;
		config_get_str(&cfg, "mcd", "tenants", NULL, &v, &errs);
		if (v != NULL)
			copy_str(s->tenants_path, sizeof(s->tenants_path), v, "tenants", err, sizeof(err));
		config_get_str(&cfg, "mcd", "admin_listen", NULL, &v, &errs);
		if (v != NULL)
			copy_str(s->admin_listen, sizeof(s->admin_listen), v, "admin_listen", err, sizeof(err));
		if (config_get_u64(&cfg, "mcd", "admin_max_connections", 1, MCD_ADMIN_CONNS_MAX,
		    (uint64_t)s->admin_max_connections, &u, &errs) == 0)
			s->admin_max_connections = (int)u;
		if (config_get_u64(&cfg, "mcd", "admin_port", 0, 65535, (uint64_t)s->admin_port, &u, &errs) == 0)
			s->admin_port = (int)u;
		if (config_get_u64(&cfg, "mcd", "tls_port", 0, 65535, (uint64_t)s->tls_port, &u, &errs) == 0)
			s->tls_port = (int)u;
		config_get_str(&cfg, "mcd", "tls_cert", NULL, &v, &errs);
		if (v != NULL)
			copy_str(s->tls_cert, sizeof(s->tls_cert), v, "tls_cert", err, sizeof(err));
		config_get_str(&cfg, "mcd", "tls_key", NULL, &v, &errs);
		if (v != NULL)
			copy_str(s->tls_key, sizeof(s->tls_key), v, "tls_key", err, sizeof(err));
		if (config_get_u64(&cfg, "mcd", "source_max_unauth", 0, MCD_SOURCE_LIMIT_MAX,
		    s->source_max_unauth, &u, &errs) == 0)
			s->source_max_unauth = (uint32_t)u;
		if (config_get_u64(&cfg, "mcd", "source_conn_rate", 0, MCD_SOURCE_LIMIT_MAX,
		    s->source_conn_rate, &u, &errs) == 0)
			s->source_conn_rate = (uint32_t)u;
		config_get_bool(&cfg, "mcd", "conn_accounting", s->conn_accounting,
		    &s->conn_accounting, &errs);
		config_get_str(&cfg, "mcd", "user", NULL, &v, &errs);
		if (v != NULL)
			copy_str(s->user, sizeof(s->user), v, "user", err, sizeof(err));
		if (node != NULL) {
			struct config_entry *e;
			snprintf(section, sizeof(section), "node %s", node);
			if ((e = config_find(&cfg, section, "client")) == NULL) {
				config_error(&errs, &cfg, 0, "no [node %s] with a client address", node);
			} else if (set_hostport(e->value, s->listen, sizeof(s->listen), &s->port,
			    err, sizeof(err)) < 0) {
				config_error(&errs, &cfg, e->line, "client: %s", err);
			}
			if ((e = config_find(&cfg, section, "admin")) != NULL &&
			    set_hostport(e->value, s->admin_listen, sizeof(s->admin_listen),
			    &s->admin_port, err, sizeof(err)) < 0)
				config_error(&errs, &cfg, e->line, "admin: %s", err);
			if ((e = config_find(&cfg, section, "tls")) != NULL &&
			    set_hostport(e->value, s->tls_listen, sizeof(s->tls_listen),
			    &s->tls_port, err, sizeof(err)) < 0)
				config_error(&errs, &cfg, e->line, "tls: %s", err);
		}
		config_check_unknown(&cfg, owns_section, &errs);
	}
	for (i = 0; i < errs.n; i++)
		log_err("%s", errs.msgs[i]);
	if (errs.dropped > 0)
		log_err("... and %zu more errors", errs.dropped);
	if (errs.n > 0)
		rc = -1;
	config_errors_release(&errs);
	config_release(&cfg);
	return rc;
}

static int
opt_u64(const char *name, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	if (parse_u64(v, min, max, out) < 0) {
		log_err("%s: '%s' is not a number from %llu to %llu", name, v,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

/* Applies the command line over the configuration. */
static int
apply_options(struct mcd_settings *s, int argc, char **argv)
{
	char err[256];
	uint64_t u;
	int64_t d;
	int ch, bad = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		switch (ch) {
		case 'p': if (opt_u64("-p", optarg, 1, 65535, &u) == 0) s->port = (int)u; else bad = 1; break;
		case 'l':
			if (copy_str(s->listen, sizeof(s->listen), optarg, "-l", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case 't':
			if (opt_u64("-t", optarg, 1, MCD_THREADS_MAX, &u) == 0) s->threads = (int)u; else bad = 1;
			break;
		case 'm':
			if (opt_u64("-m", optarg, 1, 1 << 24, &u) == 0) s->memory = u << 20; else bad = 1;
			break;
		case 'c':
			if (opt_u64("-c", optarg, 1, 1000000, &u) == 0) s->max_connections = (int)u; else bad = 1;
			break;
		case 'I':
			if (parse_size(optarg, &u) < 0 || u < MCD_ITEM_SIZE_MIN || u > MCD_ITEM_SIZE_MAX) {
				log_err("-I: '%s' is not a size from 1k to 1g", optarg);
				bad = 1;
			} else {
				s->item_max = u;
			}
			break;
		case 'b':
			if (opt_u64("-b", optarg, 1, 65535, &u) == 0) s->backlog = (int)u; else bad = 1;
			break;
		case 'U':
			if (strcmp(optarg, "0") != 0) {
				log_err("-U %s: UDP is not supported (use -U 0)", optarg);
				bad = 1;
			}
			break;
		case 'u':
			if (copy_str(s->user, sizeof(s->user), optarg, "-u", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case 'v': s->verbose++; break;
		case 'A': s->enable_shutdown = true; break;
		case 'd': s->verbose = 2; break;
		case OPT_TENANTS:
			if (copy_str(s->tenants_path, sizeof(s->tenants_path), optarg, "--tenants", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case OPT_PROXY:
			if (copy_str(s->proxy_path, sizeof(s->proxy_path), optarg, "--proxy", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case OPT_AUTH_TIMEOUT:
			if (parse_duration_ms(optarg, &d) < 0 || d < 100) {
				log_err("--auth-timeout: '%s' is not a duration of at least 100ms", optarg);
				bad = 1;
			} else {
				s->auth_timeout_ms = d;
			}
			break;
		case OPT_ADMIN_PORT:
			if (opt_u64("--admin-port", optarg, 0, 65535, &u) == 0) s->admin_port = (int)u; else bad = 1;
			break;
		case OPT_ADMIN_LISTEN:
			if (copy_str(s->admin_listen, sizeof(s->admin_listen), optarg, "--admin-listen", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case OPT_ADMIN_CONN_LIMIT:
			if (opt_u64("--admin-conn-limit", optarg, 1, MCD_ADMIN_CONNS_MAX, &u) == 0)
				s->admin_max_connections = (int)u;
			else
				bad = 1;
			break;
		case OPT_TLS_PORT:
			if (opt_u64("--tls-port", optarg, 0, 65535, &u) == 0) s->tls_port = (int)u; else bad = 1;
			break;
		case OPT_TLS_LISTEN:
			if (copy_str(s->tls_listen, sizeof(s->tls_listen), optarg, "--tls-listen", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case OPT_TLS_CERT:
			if (copy_str(s->tls_cert, sizeof(s->tls_cert), optarg, "--tls-cert", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case OPT_TLS_KEY:
			if (copy_str(s->tls_key, sizeof(s->tls_key), optarg, "--tls-key", err, sizeof(err)) < 0) {
				log_err("%s", err);
				bad = 1;
			}
			break;
		case OPT_SOURCE_MAX_UNAUTH:
			if (opt_u64("--source-max-unauth", optarg, 0, MCD_SOURCE_LIMIT_MAX, &u) == 0)
				s->source_max_unauth = (uint32_t)u;
			else
				bad = 1;
			break;
		case OPT_SOURCE_CONN_RATE:
			if (opt_u64("--source-conn-rate", optarg, 0, MCD_SOURCE_LIMIT_MAX, &u) == 0)
				s->source_conn_rate = (uint32_t)u;
			else
				bad = 1;
			break;
		case OPT_CONN_ACCOUNTING:
			if (strcmp(optarg, "on") == 0) {
				s->conn_accounting = true;
			} else if (strcmp(optarg, "off") == 0) {
				s->conn_accounting = false;
			} else {
				log_err("--conn-accounting: '%s' is not on or off", optarg);
				bad = 1;
			}
			break;
		case 'f': case 'h': case 'n': case 'V': case OPT_NODE:
			break; /* handled in main */
		default:
			bad = 1;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s' (see mcd -h)", argv[optind]);
		bad = 1;
	}
	if (!s->conn_accounting && (s->source_max_unauth != 0 || s->source_conn_rate != 0)) {
		log_err("the source limits need --conn-accounting on");
		bad = 1;
	}
	if (s->tls_port != 0 && (s->tls_cert[0] == '\0' || s->tls_key[0] == '\0')) {
		log_err("the TLS port needs --tls-cert and --tls-key");
		bad = 1;
	}
	return bad ? -1 : 0;
}

static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (user[0] == '\0') {
		log_warn("running as root; use -u USER to drop privileges after binding");
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		log_err("-u %s: no such user", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_err("cannot switch to user %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct mcd m;
	const char *config_path = NULL, *node = NULL;
	bool check_only = false;
	char err[512];
	int ch, rc;

	log_init("mcd", 1, LOG_LEVEL_INFO);
	defaults(&m.set);
	opterr = 1;
	while ((ch = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout); return 0;
		case 'V': printf("mcd %s\n", MCD_VERSION); return 0;
		case 'f': config_path = optarg; break;
		case 'n': check_only = true; break;
		case OPT_NODE: node = optarg; break;
		case '?': fprintf(stderr, "see mcd -h\n"); return 2;
		default: break;
		}
	}
	if (node != NULL && config_path == NULL) {
		log_err("--node needs a configuration file (-f)");
		return 2;
	}
	opterr = 0;
	if (config_path != NULL && load_config(&m.set, config_path, node) < 0)
		return 2;
	if (apply_options(&m.set, argc, argv) < 0)
		return 2;
	if (m.set.tenants_path[0] != '\0') {
		struct tenant_file tf = { 0 };
		if (tenants_load(&tf, m.set.tenants_path, err, sizeof(err)) < 0) {
			log_err("%s", err);
			return 2;
		}
		tenants_release(&tf);
	}
	if (m.set.proxy_path[0] != '\0') {
		struct proxy_conf pc;
		struct config_errors errs = { 0 };
		size_t i;
		if (proxy_conf_load(&pc, m.set.proxy_path, m.set.tenants_path[0] != '\0',
		    &errs) < 0) {
			for (i = 0; i < errs.n; i++)
				log_err("%s", errs.msgs[i]);
			config_errors_release(&errs);
			return 2;
		}
		proxy_conf_release(&pc);
		config_errors_release(&errs);
	}
	if (mcd_check_settings(&m.set, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 2;
	}
	if (check_only) {
		printf("configuration ok\n");
		return 0;
	}
	log_set_level(m.set.verbose >= 2 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (mcd_setup(&m, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	if (drop_privileges(m.set.user) < 0)
		return 1;
	sdnotify_ready(); /* listening, privileges dropped: the unit is started */
	rc = mcd_run(&m);
	mcd_teardown(&m);
	log_info("stopped");
	return rc;
}
