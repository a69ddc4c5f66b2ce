/*
 * mctl conns — fast connection counts for a listener or a process, read from the
 * kernel (lib/conncount.h) instead of lsof. Output formats: docs/conns.md.
 *
 * Without --addr every listener on the port is shown, each counted at its own bound
 * address; with none, the sockets with that local port are still counted (in both
 * families, at the wildcard) because what lingers after a server died (CLOSE_WAIT,
 * TIME_WAIT) is what an operator wants to see then — but the exit status is 1.
 *
 * With a node's name or --cluster C it asks the nodes' admin ports instead (they may
 * be on other hosts): per proxy its client connections and its connections to the
 * backends, per backend its connections (from the proxies, in a cluster that has
 * them), and whether each accepts new clients (drain). With --by tenant|source it asks
 * the nodes that take clients for their busiest tenants or source prefixes instead
 * (`stats tenants|sources top MCTL_KEYS_FETCH`), sums each over the nodes, and shows
 * the top N and one "other" row for the rest.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "admin.h"
#include "clock.h"
#include "conncount.h"
#include "mctl.h"
#include "parse.h"
#include "utctime.h"

#define WATCH_MIN_MS 100
#define WATCH_MAX_MS (3600 * 1000)
#define COUNT_MAX 1000000
#define PID_MAX 4194304       /* the kernel's PID_MAX_LIMIT */
#define PORT_ROWS_MAX 20      /* ports listed in the human table for --pid */
#define HINT_MAX 512          /* "listeners on port P: a, b, ..." */
#define ADMIN_TIMEOUT_MS 5000 /* per node, connect to reply */
#define ADMIN_TIMEOUT_MAX_MS 600000
#define ADMIN_ERR_MAX 512
#define CELL_MAX 32
#define BY_TOP_DEFAULT 10
#define BY_TOP_MAX 1000
#define BY_MERGE_MAX 4096 /* distinct keys summed over a cluster's nodes */

/* Set by SIGINT/SIGTERM while watching: finish the current sample and stop. */
static volatile sig_atomic_t stop_requested;

struct conns_opts {
	bool have_port, have_addr, have_pid, watch;
	const char *node;    /* NAME: that node's admin port */
	const char *cluster; /* --cluster C: every node of C */
	int64_t timeout_ms;  /* per node, with a name or --cluster */
	uint16_t port;
	const char *addr_text;
	struct conncount_addr addr;
	pid_t pid;
	enum conncount_method method;
	int64_t interval_ms;
	uint64_t count; /* samples; 0 = until interrupted */
	bool by;        /* --by tenant|source */
	enum connstats_group by_group;
	uint64_t top;   /* --top N */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mctl conns --port P [--addr A] [OPTIONS]\n"
	    "       mctl conns --pid N [OPTIONS]\n"
	    "       mctl conns --cluster C | NAME [--timeout D] [OPTIONS]\n"
	    "       mctl conns --cluster C | NAME --by tenant|source [--top N] [OPTIONS]\n"
	    "\n"
	    "Counts TCP sockets per state from the kernel (netlink sock_diag or /proc), at the\n"
	    "cost of a few milliseconds where lsof takes seconds (docs/conns.md). With\n"
	    "--cluster or a proxy's or node's name: the connections each one's admin port\n"
	    "reports, per proxy its clients and its backend connections.\n"
	    "\n"
	    "  --cluster C       every proxy and backend of cluster C (the configuration)\n"
	    "  NAME              one proxy or node\n"
	    "  --timeout D       per node, with --cluster or NAME (default 5s)\n"
	    "  --by tenant|source  with --cluster or NAME: connections by tenant or by source\n"
	    "                    prefix, summed over the nodes that take clients\n"
	    "  --top N           with --by: the N busiest (default 10), then one 'other' row\n"
	    "  --port P          a listener's port; without --addr, every listener on it\n"
	    "  --addr A          the listener's bound address: 127.0.0.1, ::1, [::], 0.0.0.0\n"
	    "  --pid N           the TCP sockets that process N holds, per state and port\n"
	    "  --method M        auto (default: netlink, else /proc), netlink or proc\n"
	    "  --json            one JSON object per sample\n"
	    "  --watch INTERVAL  sample every INTERVAL (2, 2s, 500ms; 100ms..1h) until Ctrl-C\n"
	    "  --count N         with --watch: stop after N samples\n"
	    "  -h, --help        this help\n"
	    "\n"
	    "Exit status: 0 ok; 1 no listener on the port/address, no such process,\n"
	    "permission denied, or the kernel could not be read; 2 usage error.\n");
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int
parse_opts(int argc, char **argv, struct conns_opts *o)
{
	uint64_t v;
	bool have_top = false;
	int i;

	memset(o, 0, sizeof(*o));
	o->method = CONNCOUNT_AUTO;
	o->timeout_ms = ADMIN_TIMEOUT_MS;
	o->top = BY_TOP_DEFAULT;
	for (i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		if (opt[0] != '-') {
			if (o->node != NULL) {
				mctl_error("conns: one name at a time ('%s' and '%s'); use --cluster "
					   "for all of a cluster", o->node, opt);
				return -1;
			}
			o->node = opt;
			continue;
		}
		if (val == NULL) {
			mctl_error("conns: unknown option or missing value: '%s' (see mctl conns "
				   "--help)", opt);
			return -1;
		}
		i++;
		if (strcmp(opt, "--port") == 0) {
			if (parse_u64(val, 1, 65535, &v) < 0) {
				mctl_error("conns: --port: not a port (1-65535): '%s'", val);
				return -1;
			}
			o->port = (uint16_t)v;
			o->have_port = true;
		} else if (strcmp(opt, "--addr") == 0) {
			o->addr_text = val;
			o->have_addr = true;
		} else if (strcmp(opt, "--pid") == 0) {
			if (parse_u64(val, 1, PID_MAX, &v) < 0) {
				mctl_error("conns: --pid: not a process id (1-%d): '%s'", PID_MAX, val);
				return -1;
			}
			o->pid = (pid_t)v;
			o->have_pid = true;
		} else if (strcmp(opt, "--cluster") == 0) {
			o->cluster = val;
		} else if (strcmp(opt, "--by") == 0) {
			if (strcmp(val, "tenant") == 0) {
				o->by_group = CONNSTATS_TENANT;
			} else if (strcmp(val, "source") == 0) {
				o->by_group = CONNSTATS_SOURCE;
			} else {
				mctl_error("conns: --by: expected tenant or source: '%s'", val);
				return -1;
			}
			o->by = true;
		} else if (strcmp(opt, "--top") == 0) {
			if (parse_u64(val, 1, BY_TOP_MAX, &o->top) < 0) {
				mctl_error("conns: --top: expected 1-%d: '%s'", BY_TOP_MAX, val);
				return -1;
			}
			have_top = true;
		} else if (strcmp(opt, "--timeout") == 0) {
			if (parse_duration_ms(val, &o->timeout_ms) < 0 || o->timeout_ms < 1 ||
			    o->timeout_ms > ADMIN_TIMEOUT_MAX_MS) {
				mctl_error("conns: --timeout: not a duration of 1ms..10m: '%s'", val);
				return -1;
			}
		} else if (strcmp(opt, "--method") == 0) {
			if (strcmp(val, "auto") == 0)
				o->method = CONNCOUNT_AUTO;
			else if (strcmp(val, "netlink") == 0)
				o->method = CONNCOUNT_NETLINK;
			else if (strcmp(val, "proc") == 0)
				o->method = CONNCOUNT_PROC;
			else {
				mctl_error("conns: --method: expected auto, netlink or proc: '%s'", val);
				return -1;
			}
		} else if (strcmp(opt, "--watch") == 0) {
			if (parse_duration_ms(val, &o->interval_ms) < 0 ||
			    o->interval_ms < WATCH_MIN_MS || o->interval_ms > WATCH_MAX_MS) {
				mctl_error("conns: --watch: expected an interval from 100ms to 1h "
					   "(2, 2s, 500ms): '%s'", val);
				return -1;
			}
			o->watch = true;
		} else if (strcmp(opt, "--count") == 0) {
			if (parse_u64(val, 1, COUNT_MAX, &o->count) < 0) {
				mctl_error("conns: --count: expected 1-%d: '%s'", COUNT_MAX, val);
				return -1;
			}
		} else {
			mctl_error("conns: unknown option '%s' (see mctl conns --help)", opt);
			return -1;
		}
	}
	if ((int)o->have_pid + (int)o->have_port + (o->node != NULL) + (o->cluster != NULL) != 1) {
		mctl_error("conns: give one of --port, --pid, --cluster or a name (see mctl conns "
			   "--help)");
		return -1;
	}
	if (o->by && o->node == NULL && o->cluster == NULL) {
		mctl_error("conns: --by needs --cluster C or a node's name (it asks admin ports)");
		return -1;
	}
	if (have_top && !o->by) {
		mctl_error("conns: --top needs --by");
		return -1;
	}
	if (o->have_addr && !o->have_port) {
		mctl_error("conns: --addr needs --port");
		return -1;
	}
	if (o->count != 0 && !o->watch) {
		mctl_error("conns: --count needs --watch");
		return -1;
	}
	if (o->have_addr && conncount_addr_parse(o->addr_text, o->port, &o->addr) < 0) {
		mctl_error("conns: --addr: not a numeric IPv4 or IPv6 address: '%s'", o->addr_text);
		return -1;
	}
	return 0;
}

static json_t *
states_json(const uint64_t *states)
{
	json_t *o = json_object();
	int s;

	for (s = CONNCOUNT_STATE_FIRST; s <= CONNCOUNT_STATE_LAST; s++)
		json_object_set_new(o, conncount_state_name(s), json_integer((json_int_t)states[s]));
	return o;
}

/* The state rows of a human table: every state that is not zero, and ESTABLISHED always. */
static void
print_state_rows(const uint64_t *states, uint64_t total)
{
	int s;

	printf("  %-14s %10s\n", "state", "sockets");
	for (s = CONNCOUNT_STATE_FIRST; s <= CONNCOUNT_STATE_LAST; s++) {
		if (states[s] != 0 || s == CONNCOUNT_ESTABLISHED)
			printf("  %-14s %10llu\n", conncount_state_name(s),
			    (unsigned long long)states[s]);
	}
	printf("  %-14s %10llu\n", "total", (unsigned long long)total);
}

static void
print_listener(const struct conncount_listener *l)
{
	char where[CONNCOUNT_ADDR_TEXT_MAX];

	conncount_addr_format(&l->addr, where, sizeof(where));
	if (l->listen_sockets == 0)
		printf("%s  no listener\n", where);
	else if (l->backlog_known)
		printf("%s  listening (%u socket%s), accept queue %llu of backlog %llu\n", where,
		    l->listen_sockets, l->listen_sockets == 1 ? "" : "s",
		    (unsigned long long)l->accept_queue, (unsigned long long)l->backlog);
	else
		printf("%s  listening (%u socket%s), accept queue %llu (backlog not shown by "
		       "/proc)\n",
		    where, l->listen_sockets, l->listen_sockets == 1 ? "" : "s",
		    (unsigned long long)l->accept_queue);
	print_state_rows(l->states, l->total);
}

static json_t *
listener_json(const struct conncount_listener *l)
{
	char host[CONNCOUNT_ADDR_TEXT_MAX];
	json_t *o = json_object();

	conncount_addr_host(&l->addr, host, sizeof(host));
	json_object_set_new(o, "address", json_string(host));
	json_object_set_new(o, "port", json_integer(l->addr.port));
	json_object_set_new(o, "family", json_string(l->addr.family == AF_INET ? "ipv4" : "ipv6"));
	json_object_set_new(o, "listening", json_boolean(l->listen_sockets > 0));
	json_object_set_new(o, "listen_sockets", json_integer(l->listen_sockets));
	json_object_set_new(o, "accept_queue", json_integer((json_int_t)l->accept_queue));
	json_object_set_new(o, "backlog",
	    l->backlog_known ? json_integer((json_int_t)l->backlog) : json_null());
	json_object_set_new(o, "total", json_integer((json_int_t)l->total));
	json_object_set_new(o, "states", states_json(l->states));
	return o;
}

static json_t *
host_json(const struct conncount_host *h)
{
	json_t *o = json_object();

	json_object_set_new(o, "listen_overflows", json_integer((json_int_t)h->listen_overflows));
	json_object_set_new(o, "listen_drops", json_integer((json_int_t)h->listen_drops));
	json_object_set_new(o, "curr_estab", json_integer((json_int_t)h->curr_estab));
	json_object_set_new(o, "passive_opens", json_integer((json_int_t)h->passive_opens));
	return o;
}

/* "; listeners on port P: [::]:P, ..." when some listener holds the port elsewhere. */
static void
listeners_hint(struct conncount *cc, uint16_t port, char *buf, size_t cap)
{
	struct conncount_addr found[CONNCOUNT_LISTENERS_MAX];
	char where[CONNCOUNT_ADDR_TEXT_MAX], err[CONNCOUNT_ERR_MAX];
	size_t n, i, len;

	buf[0] = '\0';
	if (conncount_find_listeners(cc, port, found, CONNCOUNT_LISTENERS_MAX, &n, err,
		sizeof(err)) < 0 ||
	    n == 0)
		return;
	snprintf(buf, cap, "; listening on port %u:", (unsigned)port);
	for (i = 0; i < n && i < CONNCOUNT_LISTENERS_MAX; i++) {
		len = strlen(buf);
		conncount_addr_format(&found[i], where, sizeof(where));
		snprintf(buf + len, cap - len, "%s %s", i == 0 ? "" : ",", where);
	}
}

/*
 * One sample for --port. Returns MCTL_EXIT_OK, MCTL_EXIT_FAIL with counts printed (no
 * listener; *warned keeps the message to once per change while watching), or -1 when
 * the kernel could not be read (message printed).
 */
static int
sample_port(struct conncount *cc, const struct conns_opts *o, bool json, bool *warned)
{
	struct conncount_addr addrs[CONNCOUNT_LISTENERS_MAX];
	struct conncount_listener ls[CONNCOUNT_LISTENERS_MAX];
	struct conncount_host host;
	char err[CONNCOUNT_ERR_MAX], when[UTC_TEXT_MAX], where[CONNCOUNT_ADDR_TEXT_MAX];
	char hint[HINT_MAX];
	size_t n, found, i;
	bool listening;

	if (o->have_addr) {
		addrs[0] = o->addr;
		n = 1;
	} else {
		if (conncount_find_listeners(cc, o->port, addrs, CONNCOUNT_LISTENERS_MAX, &found,
			err, sizeof(err)) < 0) {
			mctl_error("conns: %s", err);
			return -1;
		}
		n = found < CONNCOUNT_LISTENERS_MAX ? found : CONNCOUNT_LISTENERS_MAX;
		if (n == 0) {
			/* Nothing listens: count what is left on the port in both families. */
			conncount_addr_parse("0.0.0.0", o->port, &addrs[0]);
			conncount_addr_parse("::", o->port, &addrs[1]);
			n = 2;
		}
	}
	listening = false;
	for (i = 0; i < n; i++) {
		if (conncount_read_listener(cc, &addrs[i], &ls[i], err, sizeof(err)) < 0) {
			mctl_error("conns: %s", err);
			return -1;
		}
		if (ls[i].listen_sockets > 0)
			listening = true;
	}
	if (conncount_read_host(cc, &host, err, sizeof(err)) < 0) {
		mctl_error("conns: %s", err);
		return -1;
	}

	if (!listening && !*warned) {
		if (o->have_addr) {
			conncount_addr_format(&o->addr, where, sizeof(where));
			listeners_hint(cc, o->port, hint, sizeof(hint));
			mctl_error("conns: no listener on %s%s", where, hint);
		} else {
			mctl_error("conns: no listener on port %u; counting every socket with that "
				   "local port", (unsigned)o->port);
		}
	}
	*warned = !listening;

	utc_format_ms(clock_wall_ms(), when, sizeof(when));
	if (json) {
		json_t *doc = json_object(), *arr = json_array();
		json_object_set_new(doc, "time", json_string(when));
		json_object_set_new(doc, "method",
		    json_string(conncount_method_name(conncount_method(cc))));
		json_object_set_new(doc, "port", json_integer(o->port));
		json_object_set_new(doc, "listening", json_boolean(listening));
		for (i = 0; i < n; i++)
			json_array_append_new(arr, listener_json(&ls[i]));
		json_object_set_new(doc, "listeners", arr);
		json_object_set_new(doc, "host", host_json(&host));
		if (mctl_print_json(doc, JSON_COMPACT) != MCTL_EXIT_OK)
			return -1;
	} else {
		if (o->watch)
			printf("%s\n", when);
		for (i = 0; i < n; i++)
			print_listener(&ls[i]);
		printf("host: listen_overflows %llu, listen_drops %llu, curr_estab %llu, "
		       "passive_opens %llu (%s)\n",
		    (unsigned long long)host.listen_overflows,
		    (unsigned long long)host.listen_drops, (unsigned long long)host.curr_estab,
		    (unsigned long long)host.passive_opens,
		    conncount_method_name(conncount_method(cc)));
	}
	fflush(stdout);
	return listening ? MCTL_EXIT_OK : MCTL_EXIT_FAIL;
}

static int
port_by_total(const void *a, const void *b)
{
	const struct conncount_port *x = *(const struct conncount_port *const *)a;
	const struct conncount_port *y = *(const struct conncount_port *const *)b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static void
print_process(const struct conncount_process *p, struct conncount *cc)
{
	const struct conncount_port **order;
	size_t i, rows;

	printf("pid %ld: %llu fds, %llu sockets, %llu TCP (%s)\n", (long)p->pid,
	    (unsigned long long)p->fds, (unsigned long long)p->socket_fds,
	    (unsigned long long)p->tcp_sockets, conncount_method_name(conncount_method(cc)));
	print_state_rows(p->states, p->tcp_sockets);
	if (p->nports == 0)
		return;
	order = malloc(p->nports * sizeof(*order));
	if (order == NULL) {
		printf("  (%zu local ports; out of memory for their table)\n", p->nports);
		return;
	}
	for (i = 0; i < p->nports; i++)
		order[i] = &p->ports[i];
	qsort(order, p->nports, sizeof(*order), port_by_total);
	printf("  %-10s %8s %12s %8s %11s %8s\n", "local port", "total", "established", "listen",
	    "close_wait", "other");
	rows = p->nports < PORT_ROWS_MAX ? p->nports : PORT_ROWS_MAX;
	for (i = 0; i < rows; i++) {
		const struct conncount_port *pt = order[i];
		uint64_t other = pt->total - pt->states[CONNCOUNT_ESTABLISHED] -
		    pt->states[CONNCOUNT_LISTEN] - pt->states[CONNCOUNT_CLOSE_WAIT];
		printf("  %-10u %8llu %12llu %8llu %11llu %8llu\n", (unsigned)pt->port,
		    (unsigned long long)pt->total,
		    (unsigned long long)pt->states[CONNCOUNT_ESTABLISHED],
		    (unsigned long long)pt->states[CONNCOUNT_LISTEN],
		    (unsigned long long)pt->states[CONNCOUNT_CLOSE_WAIT],
		    (unsigned long long)other);
	}
	if (p->nports > rows)
		printf("  (%zu more ports; --json lists them all)\n", p->nports - rows);
	free(order);
}

static int
sample_pid(struct conncount *cc, const struct conns_opts *o, bool json)
{
	struct conncount_process p;
	char err[CONNCOUNT_ERR_MAX], when[UTC_TEXT_MAX];
	size_t i;

	if (conncount_read_process(cc, o->pid, &p, err, sizeof(err)) < 0) {
		mctl_error("conns: %s", err);
		return -1;
	}
	utc_format_ms(clock_wall_ms(), when, sizeof(when));
	if (json) {
		json_t *doc = json_object(), *ports = json_array();
		json_object_set_new(doc, "time", json_string(when));
		json_object_set_new(doc, "method",
		    json_string(conncount_method_name(conncount_method(cc))));
		json_object_set_new(doc, "pid", json_integer(p.pid));
		json_object_set_new(doc, "fds", json_integer((json_int_t)p.fds));
		json_object_set_new(doc, "socket_fds", json_integer((json_int_t)p.socket_fds));
		json_object_set_new(doc, "tcp_sockets", json_integer((json_int_t)p.tcp_sockets));
		json_object_set_new(doc, "states", states_json(p.states));
		for (i = 0; i < p.nports; i++) {
			json_t *po = json_object();
			json_object_set_new(po, "port", json_integer(p.ports[i].port));
			json_object_set_new(po, "total", json_integer((json_int_t)p.ports[i].total));
			json_object_set_new(po, "states", states_json(p.ports[i].states));
			json_array_append_new(ports, po);
		}
		json_object_set_new(doc, "ports", ports);
		if (mctl_print_json(doc, JSON_COMPACT) != MCTL_EXIT_OK)
			return -1;
	} else {
		if (o->watch)
			printf("%s\n", when);
		print_process(&p, cc);
	}
	fflush(stdout);
	return MCTL_EXIT_OK;
}

/* One node's row, as asked through its admin port. */
struct admin_row {
	const struct cluster_node *node;
	bool ok;
	struct adminport_conns conns;
	char error[ADMIN_ERR_MAX];
};

static json_t *
admin_row_json(const struct admin_row *r, const struct cluster *c)
{
	const struct cluster_node *n = r->node;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", n->name, "cluster", c->name,
	    "role", n->role == CLUSTER_PROXY ? "proxy" : "backend", "admin",
	    n->admin.port != 0 ? n->admin.text : "", "ok", r->ok);

	if (o == NULL)
		return NULL;
	if (!r->ok) {
		json_object_set_new(o, "error", json_string(r->error));
		return o;
	}
	json_object_set_new(o, "clients", json_integer((json_int_t)r->conns.clients));
	json_object_set_new(o, "accepting", json_boolean(r->conns.accepting));
	if (n->role == CLUSTER_PROXY) {
		json_object_set_new(o, "backend_connections",
		    json_integer((json_int_t)r->conns.backend_connections));
		json_object_set_new(o, "backends", json_integer((json_int_t)r->conns.backends));
		json_object_set_new(o, "backends_up", json_integer((json_int_t)r->conns.backends_up));
	}
	return o;
}

static void
print_admin_row(const struct admin_row *r)
{
	char clients[CELL_MAX] = "-", bconns[CELL_MAX] = "-", up[CELL_MAX] = "-";
	const struct cluster_node *n = r->node;

	if (r->ok) {
		snprintf(clients, sizeof(clients), "%llu", (unsigned long long)r->conns.clients);
		if (n->role == CLUSTER_PROXY) {
			snprintf(bconns, sizeof(bconns), "%llu",
			    (unsigned long long)r->conns.backend_connections);
			snprintf(up, sizeof(up), "%llu/%llu",
			    (unsigned long long)r->conns.backends_up,
			    (unsigned long long)r->conns.backends);
		}
	}
	printf("  %-12s %-8s %-22s %8s %-9s %14s %11s", n->name,
	    n->role == CLUSTER_PROXY ? "proxy" : "backend",
	    n->admin.port != 0 ? n->admin.text : "(none)", clients,
	    !r->ok ? "-" : r->conns.accepting ? "yes" : "DRAINED", bconns, up);
	if (!r->ok)
		printf("  FAILED: %s", r->error);
	fputc('\n', stdout);
}

/*
 * The cluster a sample with a name or --cluster asks, and the node named (*one, NULL
 * with --cluster). NULL (printed) for an unknown name or cluster.
 */
static const struct cluster *
target_cluster(const struct clusters *cl, const struct conns_opts *o,
    const struct cluster_node **one)
{
	const struct cluster *c;

	*one = NULL;
	if (o->node != NULL && (*one = clusters_find_node(cl, o->node)) == NULL) {
		mctl_error("conns: no node '%s' (backend or proxy) in the configuration", o->node);
		return NULL;
	}
	c = *one != NULL ? &cl->v[(*one)->cluster] : clusters_find(cl, o->cluster);
	if (c == NULL)
		mctl_error("conns: no cluster '%s' in the configuration", o->cluster);
	return c;
}

/*
 * One sample with a name or --cluster: every selected node's admin port, proxies
 * first. MCTL_EXIT_OK, MCTL_EXIT_FAIL if any node could not be asked (its row says
 * why), or -1 (printed) when nothing could be shown.
 */
static int
sample_admin(const struct mctl_topology *t, const struct conns_opts *o, bool json)
{
	static const enum cluster_role order[] = { CLUSTER_PROXY, CLUSTER_BACKEND };
	const struct clusters *cl = &t->cl;
	const struct cluster_node *one = NULL;
	const struct cluster *c;
	struct admin_row r;
	char when[UTC_TEXT_MAX];
	json_t *doc = NULL, *rows = NULL;
	size_t i, k, failed = 0;

	if ((c = target_cluster(cl, o, &one)) == NULL)
		return -1;
	utc_format_ms(clock_wall_ms(), when, sizeof(when));
	if (json) {
		doc = json_pack("{s:s, s:s}", "time", when, "cluster", c->name);
		rows = json_array();
	} else {
		if (o->watch)
			printf("%s\n", when);
		printf("cluster %s (%s): %zu prox%s, %zu backend%s\n", c->name, c->title,
		    c->nproxies, c->nproxies == 1 ? "y" : "ies", c->nnodes - c->nproxies,
		    c->nnodes - c->nproxies == 1 ? "" : "s");
		printf("  %-12s %-8s %-22s %8s %-9s %14s %11s\n", "name", "role", "admin",
		    "clients", "accepting", "backend conns", "backends up");
	}
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (i = 0; i < cl->nnodes; i++) {
			const struct cluster_node *n = &cl->nodes[i];
			if (&cl->v[n->cluster] != c || n->role != order[k] ||
			    (one != NULL && n != one))
				continue;
			memset(&r, 0, sizeof(r));
			r.node = n;
			r.ok = adminport_conns(c, n, o->timeout_ms, &r.conns, r.error,
			    sizeof(r.error)) == 0;
			if (!r.ok)
				failed++;
			if (json)
				json_array_append_new(rows, admin_row_json(&r, c));
			else
				print_admin_row(&r);
		}
	}
	if (json) {
		if (doc != NULL)
			json_object_set_new(doc, "nodes", rows);
		else
			json_decref(rows);
		if (mctl_print_json(doc, JSON_COMPACT) != MCTL_EXIT_OK)
			return -1;
	}
	fflush(stdout);
	return failed > 0 ? MCTL_EXIT_FAIL : MCTL_EXIT_OK;
}

/* --- --by tenant|source ------------------------------------------------------------ */

/* The keys summed over a cluster's nodes that take clients, and the rest. */
struct by_sum {
	struct connstats_entry *v; /* owned, BY_MERGE_MAX */
	size_t n;
	struct connstats_entry other; /* key "other": the nodes' own sums over the keys
	                                 they did not list, and the keys past --top */
};

/* A key's new connections: a tenant's (authenticated) total, a source's estimate. */
static enum connstats_field
by_new_field(enum connstats_group g)
{
	return g == CONNSTATS_TENANT ? CONNSTATS_TOTAL_CONNECTIONS : CONNSTATS_NEW_CONNS;
}

static void
add_entry(struct connstats_entry *to, const struct connstats_entry *from)
{
	size_t f;

	for (f = 0; f < CONNSTATS_FIELDS; f++)
		to->v[f] += from->v[f];
}

static void
by_add(struct by_sum *s, const struct mctl_node_keys *k, enum connstats_group g)
{
	struct connstats_entry *e;
	size_t i;

	for (i = 0; i < k->n; i++) {
		e = connstats_entry(s->v, &s->n, BY_MERGE_MAX, k->v[i].key, strlen(k->v[i].key));
		add_entry(e != NULL ? e : &s->other, &k->v[i]);
	}
	s->other.v[CONNSTATS_CURR_CONNECTIONS] += k->other_curr;
	s->other.v[by_new_field(g)] += k->other_new;
}

/* Busiest first: new connections per second, then new connections, then current ones. */
static int
by_order(const void *a, const void *b)
{
	static const enum connstats_field keys[] = { CONNSTATS_NEW_CONNS_PER_SEC,
		CONNSTATS_TOTAL_CONNECTIONS, CONNSTATS_NEW_CONNS, CONNSTATS_CURR_CONNECTIONS };
	const struct connstats_entry *x = a, *y = b;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (x->v[keys[i]] != y->v[keys[i]])
			return x->v[keys[i]] > y->v[keys[i]] ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* "97%" of closed connections that served at most two requests; "-" when none closed. */
static void
short_cell(const struct connstats_entry *e, char *buf, size_t len)
{
	uint64_t closed = connstats_closed(e);

	if (closed == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f%%", 100.0 * (double)connstats_short(e) / (double)closed);
}

static json_t *
by_row_json(const struct connstats_entry *e, enum connstats_group g)
{
	uint64_t closed = connstats_closed(e);
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    connstats_group_name(g), e->key,
	    "connections", (json_int_t)e->v[CONNSTATS_CURR_CONNECTIONS],
	    "new_connections_per_second", (json_int_t)e->v[CONNSTATS_NEW_CONNS_PER_SEC],
	    "new_connections", (json_int_t)e->v[by_new_field(g)],
	    "auth_ok", (json_int_t)e->v[CONNSTATS_AUTH_OK],
	    "auth_failed", (json_int_t)e->v[CONNSTATS_AUTH_FAILED],
	    "rejected", (json_int_t)e->v[CONNSTATS_REJECTED],
	    "closed", (json_int_t)closed);

	if (o == NULL)
		return NULL;
	if (g == CONNSTATS_SOURCE)
		json_object_set_new(o, "unauth_connections",
		    json_integer((json_int_t)e->v[CONNSTATS_UNAUTH_CONNECTIONS]));
	json_object_set_new(o, "short_share", closed > 0 ?
	    json_real((double)connstats_short(e) / (double)closed) : json_null());
	return o;
}

static void
by_row_print(const struct connstats_entry *e, enum connstats_group g)
{
	char cell[CELL_MAX];

	short_cell(e, cell, sizeof(cell));
	printf("  %-24s %8llu %7llu %10llu %9llu %9llu %9llu", e->key,
	    (unsigned long long)e->v[CONNSTATS_CURR_CONNECTIONS],
	    (unsigned long long)e->v[CONNSTATS_NEW_CONNS_PER_SEC],
	    (unsigned long long)e->v[by_new_field(g)],
	    (unsigned long long)e->v[CONNSTATS_AUTH_OK],
	    (unsigned long long)e->v[CONNSTATS_AUTH_FAILED],
	    (unsigned long long)e->v[CONNSTATS_REJECTED]);
	if (g == CONNSTATS_SOURCE)
		printf(" %8llu", (unsigned long long)e->v[CONNSTATS_UNAUTH_CONNECTIONS]);
	printf(" %7s\n", cell);
}

/*
 * One sample of --by: the nodes that take the clients of the cluster (or the one named)
 * asked for their busiest keys, summed. MCTL_EXIT_OK, MCTL_EXIT_FAIL if a node could not
 * be asked (said on stderr), or -1 (printed) when nothing could be shown.
 */
static int
sample_by(const struct mctl_topology *t, const struct conns_opts *o, bool json)
{
	const struct clusters *cl = &t->cl;
	const struct cluster_node *one = NULL;
	const struct cluster *c;
	enum connstats_group g = o->by_group;
	struct mctl_node_keys *keys = NULL;
	struct by_sum sum;
	char when[UTC_TEXT_MAX], names[HINT_MAX], err[ADMIN_ERR_MAX];
	json_t *doc, *rows, *asked, *failed;
	size_t i, shown, nasked = 0, nfailed = 0;
	int rc = -1;

	memset(&sum, 0, sizeof(sum));
	snprintf(sum.other.key, sizeof(sum.other.key), "other");
	if ((c = target_cluster(cl, o, &one)) == NULL)
		return -1;
	if (one != NULL && !cluster_takes_clients(cl, one)) {
		mctl_role_names(cl, c, CLUSTER_PROXY, names, sizeof(names));
		mctl_error("conns: --by counts where clients connect: %s takes no clients; name a "
			   "proxy (%s) or use --cluster %s", one->name, names, c->name);
		return -1;
	}
	sum.v = calloc(BY_MERGE_MAX, sizeof(*sum.v));
	keys = malloc(sizeof(*keys));
	doc = json_object();
	rows = json_array();
	asked = json_array();
	failed = json_array();
	if (sum.v == NULL || keys == NULL || doc == NULL || rows == NULL || asked == NULL ||
	    failed == NULL) {
		mctl_error("conns: out of memory");
		goto out;
	}
	for (i = 0; i < cl->nnodes; i++) {
		const struct cluster_node *n = &cl->nodes[i];
		if (&cl->v[n->cluster] != c || !cluster_takes_clients(cl, n) ||
		    (one != NULL && n != one))
			continue;
		nasked++;
		json_array_append_new(asked, json_string(n->name));
		if (mctl_admin_keys(c, n, g, o->timeout_ms, keys, err, sizeof(err)) < 0) {
			nfailed++;
			json_array_append_new(failed, json_pack("{s:s, s:s}", "node", n->name,
			    "error", err));
			if (!json)
				mctl_error("conns: %s %s: %s", cluster_role_word(n->role), n->name,
				    err);
			continue;
		}
		by_add(&sum, keys, g);
	}
	qsort(sum.v, sum.n, sizeof(sum.v[0]), by_order);
	shown = sum.n < o->top ? sum.n : (size_t)o->top;
	for (i = shown; i < sum.n; i++)
		add_entry(&sum.other, &sum.v[i]);
	utc_format_ms(clock_wall_ms(), when, sizeof(when));
	if (json) {
		for (i = 0; i < shown; i++)
			json_array_append_new(rows, by_row_json(&sum.v[i], g));
		json_object_set_new(doc, "time", json_string(when));
		json_object_set_new(doc, "cluster", json_string(c->name));
		json_object_set_new(doc, "by", json_string(connstats_group_name(g)));
		json_object_set_new(doc, "top", json_integer((json_int_t)o->top));
		json_object_set_new(doc, "nodes", asked);
		json_object_set_new(doc, "failed", failed);
		json_object_set_new(doc, "rows", rows);
		json_object_set_new(doc, "other", by_row_json(&sum.other, g));
		asked = failed = rows = NULL;
		rc = mctl_print_json(doc, JSON_COMPACT) == MCTL_EXIT_OK ? 0 : -1;
		doc = NULL;
		if (rc < 0)
			goto out;
	} else {
		if (o->watch)
			printf("%s\n", when);
		printf("cluster %s (%s): connections by %s, summed over %zu node%s that take "
		       "clients\n", c->name, c->title, connstats_group_name(g), nasked,
		    nasked == 1 ? "" : "s");
		printf("  %-24s %8s %7s %10s %9s %9s %9s", connstats_group_name(g), "conns", "new/s",
		    "new total", "auth ok", "auth fail", "rejected");
		if (g == CONNSTATS_SOURCE)
			printf(" %8s", "unauth");
		printf(" %7s\n", "<=2 req");
		for (i = 0; i < shown; i++)
			by_row_print(&sum.v[i], g);
		by_row_print(&sum.other, g);
	}
	fflush(stdout);
	rc = nfailed > 0 ? MCTL_EXIT_FAIL : MCTL_EXIT_OK;
out:
	json_decref(doc);
	json_decref(rows);
	json_decref(asked);
	json_decref(failed);
	free(keys);
	free(sum.v);
	return rc;
}

/* Sleeps ms, returning early once a stop was requested. */
static void
sleep_interruptible(int64_t ms)
{
	struct timespec ts = clock_ms_timespec(ms);

	while (!stop_requested && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
cmd_conns(struct mctl *ctx, int argc, char **argv)
{
	struct conns_opts o;
	struct mctl_topology topo;
	struct conncount cc;
	struct sigaction sa, old_int, old_term;
	char err[CONNCOUNT_ERR_MAX];
	uint64_t done = 0;
	bool warned = false;
	int rc, status = MCTL_EXIT_OK;

	rc = parse_opts(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? MCTL_EXIT_OK : MCTL_EXIT_USAGE;
	if (o.node != NULL || o.cluster != NULL) {
		if (mctl_topology_load(ctx, &topo) != 0)
			return MCTL_EXIT_CONFIG;
	} else if (conncount_open(&cc, o.method, err, sizeof(err)) < 0) {
		mctl_error("conns: %s", err);
		return MCTL_EXIT_FAIL;
	}
	if (o.watch) {
		/* No SA_RESTART: Ctrl-C must cut the sleep between samples short. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
	}
	for (;;) {
		if (o.by)
			rc = sample_by(&topo, &o, ctx->json);
		else if (o.node != NULL || o.cluster != NULL)
			rc = sample_admin(&topo, &o, ctx->json);
		else if (o.have_pid)
			rc = sample_pid(&cc, &o, ctx->json);
		else
			rc = sample_port(&cc, &o, ctx->json, &warned);
		if (rc < 0) {
			status = MCTL_EXIT_FAIL;
			break;
		}
		status = rc;
		done++;
		if (!o.watch || stop_requested || (o.count != 0 && done >= o.count))
			break;
		sleep_interruptible(o.interval_ms);
		if (stop_requested)
			break;
		if (!ctx->json)
			printf("\n");
	}
	if (o.watch) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	if (o.node != NULL || o.cluster != NULL)
		mctl_topology_release(&topo);
	else
		conncount_close(&cc);
	return status;
}
