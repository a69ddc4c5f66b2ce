/*
 * cluster — see cluster.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "errbuf.h"
#include "parse.h"

#define ERR_LEN 256

/* "<what> '<s>'", s cut to CLUSTER_ADDR_TEXT_MAX bytes. */
static void
address_error(char *err, size_t errlen, const char *what, const char *s)
{
	errbuf_set(err, errlen, "%s '%.*s'", what, CLUSTER_ADDR_TEXT_MAX, s);
}

bool
cluster_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= CLUSTER_NAME_MAX)
			return false;
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	}
	return true;
}

static bool
hostname_valid(const char *h, size_t len)
{
	size_t i;

	if (len == 0 || len > CLUSTER_HOST_MAX || h[0] == '.' || h[0] == '-')
		return false;
	/* All digits and dots is a malformed IPv4 literal, not a name ("127.000.0.1"). */
	if (strspn(h, "0123456789.") >= len)
		return false;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-')
			return false;
		if (h[i] == '.' && i + 1 < len && h[i + 1] == '.')
			return false;
	}
	return true;
}

int
cluster_addr_parse(const char *s, struct cluster_addr *out, char *err, size_t errlen)
{
	const char *host, *colon;
	size_t hlen;
	uint64_t port;
	bool v6 = false;
	unsigned char bin[16];
	char tmp[CLUSTER_HOST_MAX + 1];

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			address_error(err, errlen, "bad address (want [v6]:port)", s);
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
		v6 = true;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			address_error(err, errlen,
			    "bad address (want host:port or [v6]:port)", s);
			return -1;
		}
		host = s;
		hlen = (size_t)(colon - s);
		if (memchr(host, ':', hlen) != NULL) {
			address_error(err, errlen,
			    "bad address (an IPv6 address needs brackets: [v6]:port)", s);
			return -1;
		}
	}
	if (parse_u64(colon + 1, 1, 65535, &port) != 0) {
		address_error(err, errlen, "bad port in address", s);
		return -1;
	}
	if (hlen == 0 || hlen >= sizeof(tmp)) {
		address_error(err, errlen, "bad host in address", s);
		return -1;
	}
	memcpy(tmp, host, hlen);
	tmp[hlen] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, tmp, bin) != 1) {
			address_error(err, errlen, "bad IPv6 address in", s);
			return -1;
		}
		inet_ntop(AF_INET6, bin, out->host, sizeof(out->host));
	} else if (inet_pton(AF_INET, tmp, bin) == 1) {
		inet_ntop(AF_INET, bin, out->host, sizeof(out->host));
	} else {
		size_t i;
		if (!hostname_valid(tmp, hlen)) {
			address_error(err, errlen, "bad host in address", s);
			return -1;
		}
		/* DNS names compare without case. */
		for (i = 0; i <= hlen; i++)
			out->host[i] = (char)tolower((unsigned char)tmp[i]);
	}
	out->port = (uint16_t)port;
	snprintf(out->text, sizeof(out->text), v6 ? "[%s]:%u" : "%s:%u", out->host,
	    (unsigned)out->port);
	return 0;
}

bool
clusters_owns(const char *section)
{
	return config_section_name(section, "cluster") != NULL ||
	       config_section_name(section, "node") != NULL ||
	       config_section_name(section, "proxy") != NULL;
}

void
clusters_release(struct clusters *cl)
{
	size_t i;

	for (i = 0; i < cl->n; i++) {
		/* A plain memset of memory about to be freed may be optimised away. */
		explicit_bzero(cl->v[i].admin.password, sizeof(cl->v[i].admin.password));
		explicit_bzero(cl->v[i].probe.password, sizeof(cl->v[i].probe.password));
	}
	free(cl->v);
	free(cl->nodes);
	memset(cl, 0, sizeof(*cl));
}

const struct cluster *
clusters_find(const struct clusters *cl, const char *name)
{
	size_t i;

	for (i = 0; i < cl->n; i++) {
		if (strcmp(cl->v[i].name, name) == 0)
			return &cl->v[i];
	}
	return NULL;
}

const struct cluster_node *
clusters_find_node(const struct clusters *cl, const char *name)
{
	size_t i;

	for (i = 0; i < cl->nnodes; i++) {
		if (strcmp(cl->nodes[i].name, name) == 0)
			return &cl->nodes[i];
	}
	return NULL;
}

/* A string value of at most max bytes; -1 (error added) if longer. */
static int
get_text(struct config *cfg, const char *section, const char *key, size_t max,
    const char **out, int *line, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);

	*out = NULL;
	*line = 0;
	if (e == NULL)
		return 0;
	*line = e->line;
	if (strlen(e->value) > max) {
		config_error(errs, cfg, e->line, "%s is longer than %zu bytes", key, max);
		return -1;
	}
	if (e->value[0] == '\0') {
		config_error(errs, cfg, e->line, "%s is empty", key);
		return -1;
	}
	*out = e->value;
	return 0;
}

/* The user/password_file pair of an account. */
static void
load_account(struct config *cfg, const char *section, const char *which,
    struct cluster_account *acct, struct config_errors *errs)
{
	char ukey[32], fkey[48], err[ERR_LEN];
	const char *user, *file;
	int uline, fline;

	snprintf(ukey, sizeof(ukey), "%s_user", which);
	snprintf(fkey, sizeof(fkey), "%s_password_file", which);
	if (get_text(cfg, section, ukey, CLUSTER_USER_MAX, &user, &uline, errs) != 0 ||
	    get_text(cfg, section, fkey, 4096, &file, &fline, errs) != 0)
		return;
	if (user == NULL && file == NULL)
		return;
	if (user == NULL) {
		config_error(errs, cfg, fline, "%s without %s", fkey, ukey);
		return;
	}
	if (file == NULL) {
		config_error(errs, cfg, uline, "%s without %s", ukey, fkey);
		return;
	}
	if (config_read_secret(file, acct->password, sizeof(acct->password), err,
	    sizeof(err)) != 0) {
		config_error(errs, cfg, fline, "%s: %s", fkey, err);
		return;
	}
	snprintf(acct->user, sizeof(acct->user), "%s", user);
	acct->set = true;
}

/* A listener address of a node (out->port == 0 if absent or invalid). Returns the
 * line of its key, or the section's if absent. */
static int
load_addr(struct config *cfg, const char *section, const char *key, bool required,
    int section_line, const char *node, struct cluster_addr *out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, key);
	char err[ERR_LEN];

	memset(out, 0, sizeof(*out));
	if (e == NULL) {
		if (required)
			config_error(errs, cfg, section_line, "node %s has no %s address", node, key);
		return section_line;
	}
	if (cluster_addr_parse(e->value, out, err, sizeof(err)) != 0)
		config_error(errs, cfg, e->line, "%s: %s", key, err);
	return e->line;
}

/* Whether a and b are the same [cluster NAME], [node NAME] or [proxy NAME]: by kind and
 * name, since config_section_name() skips any run of spaces between them and
 * "[node  n1]" is node n1 too (a raw comparison let it in as a second n1). */
static bool
same_section(const char *a, const char *b)
{
	static const char *const kinds[] = { "cluster", "node", "proxy" };
	const char *na, *nb;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		na = config_section_name(a, kinds[i]);
		nb = config_section_name(b, kinds[i]);
		if (na != NULL || nb != NULL)
			return na != NULL && nb != NULL && strcmp(na, nb) == 0;
	}
	return false;
}

/* Reports a second section of the same kind and name. */
static void
check_duplicate_sections(struct config *cfg, struct config_errors *errs)
{
	size_t i, j;

	for (i = 0; i < cfg->nsections; i++) {
		if (!clusters_owns(cfg->sections[i]))
			continue;
		for (j = 0; j < i; j++) {
			if (same_section(cfg->sections[i], cfg->sections[j])) {
				config_error(errs, cfg, cfg->section_lines[i],
				    "duplicate section [%s] (first at line %d)", cfg->sections[i],
				    cfg->section_lines[j]);
				break;
			}
		}
	}
}

/* Whether the section at index i is the first with its name (duplicates are errors
 * already; they are loaded once). */
static bool
first_of_its_name(const struct config *cfg, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++) {
		if (same_section(cfg->sections[i], cfg->sections[j]))
			return false;
	}
	return true;
}

static void
load_clusters(struct clusters *cl, struct config *cfg, struct config_errors *errs)
{
	const char *name, *title;
	struct cluster *c;
	int line;
	size_t i;

	for (i = 0; i < cfg->nsections; i++) {
		name = config_section_name(cfg->sections[i], "cluster");
		if (name == NULL || !first_of_its_name(cfg, i))
			continue;
		if (!cluster_name_valid(name)) {
			config_error(errs, cfg, cfg->section_lines[i], "invalid cluster name '%.*s'",
			    CLUSTER_NAME_MAX + 1, name);
			continue;
		}
		if (cl->n == CLUSTERS_MAX) {
			config_error(errs, cfg, cfg->section_lines[i], "more than %d clusters",
			    CLUSTERS_MAX);
			return;
		}
		c = &cl->v[cl->n++];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->line = cfg->section_lines[i];
		if (get_text(cfg, cfg->sections[i], "title", CLUSTER_TITLE_MAX, &title, &line,
		    errs) == 0)
			snprintf(c->title, sizeof(c->title), "%s", title != NULL ? title : name);
		/* The status page's group; read here so that every reader accepts the key. */
		if (get_text(cfg, cfg->sections[i], "group", CLUSTER_TITLE_MAX, &title, &line,
		    errs) == 0 && title != NULL)
			snprintf(c->group, sizeof(c->group), "%s", title);
		load_account(cfg, cfg->sections[i], "admin", &c->admin, errs);
		load_account(cfg, cfg->sections[i], "probe", &c->probe, errs);
	}
}

/* Reports addr if a listener of an earlier node has it, or if n's admin address is
 * its own client address. */
static void
check_address_unique(struct clusters *cl, struct config *cfg, const struct cluster_node *n,
    const struct cluster_addr *addr, const char *which, int line, struct config_errors *errs)
{
	const struct cluster_node *o;
	size_t i;

	if (addr->port == 0)
		return;
	if (addr == &n->admin && n->client.port == addr->port &&
	    strcmp(n->client.host, addr->host) == 0) {
		config_error(errs, cfg, line, "node %s: admin address %s is its client "
		    "address too", n->name, addr->text);
		return;
	}
	for (i = 0; i < cl->nnodes; i++) {
		o = &cl->nodes[i];
		if (o->client.port == addr->port && strcmp(o->client.host, addr->host) == 0) {
			config_error(errs, cfg, line, "%s %s: %s address %s is already used by "
			    "%s %s (client)", cluster_role_word(n->role), n->name, which, addr->text,
			    cluster_role_word(o->role), o->name);
			return;
		}
		if (o->admin.port == addr->port && strcmp(o->admin.host, addr->host) == 0) {
			config_error(errs, cfg, line, "%s %s: %s address %s is already used by "
			    "%s %s (admin)", cluster_role_word(n->role), n->name, which, addr->text,
			    cluster_role_word(o->role), o->name);
			return;
		}
	}
}

/* A node's section: "node NAME" (a backend) or "proxy NAME"; the kind's word. */
static const char *
node_section(const char *section, enum cluster_role *role)
{
	const char *name;

	if ((name = config_section_name(section, "node")) != NULL) {
		*role = CLUSTER_BACKEND;
		return name;
	}
	if ((name = config_section_name(section, "proxy")) != NULL) {
		*role = CLUSTER_PROXY;
		return name;
	}
	return NULL;
}

static void
load_nodes(struct clusters *cl, struct config *cfg, struct config_errors *errs)
{
	const char *name, *cname;
	struct cluster_node *n;
	const struct cluster *c;
	enum cluster_role role = CLUSTER_BACKEND;
	int cline, aline;
	size_t i, j;

	for (i = 0; i < cfg->nsections; i++) {
		name = node_section(cfg->sections[i], &role);
		if (name == NULL || !first_of_its_name(cfg, i))
			continue;
		/* Proxies and backends share one name space: tools name either. */
		for (j = 0; j < cl->nnodes; j++)
			if (strcmp(cl->nodes[j].name, name) == 0)
				break;
		if (j < cl->nnodes) {
			config_error(errs, cfg, cfg->section_lines[i], "%s %s: the name is taken by "
			    "%s %s (line %d)", cluster_role_word(role), name,
			    cluster_role_word(cl->nodes[j].role), name, cl->nodes[j].line);
			continue;
		}
		if (!cluster_name_valid(name)) {
			config_error(errs, cfg, cfg->section_lines[i], "invalid node name '%.*s'",
			    CLUSTER_NAME_MAX + 1, name);
			continue;
		}
		if (cl->nnodes == CLUSTER_NODES_MAX) {
			config_error(errs, cfg, cfg->section_lines[i], "more than %d nodes",
			    CLUSTER_NODES_MAX);
			return;
		}
		n = &cl->nodes[cl->nnodes];
		memset(n, 0, sizeof(*n));
		snprintf(n->name, sizeof(n->name), "%s", name);
		n->role = role;
		n->line = cfg->section_lines[i];
		if (get_text(cfg, cfg->sections[i], "cluster", CLUSTER_NAME_MAX, &cname, &cline,
		    errs) != 0)
			continue;
		if (cname == NULL) {
			config_error(errs, cfg, n->line, "node %s has no cluster", name);
			continue;
		}
		if ((c = clusters_find(cl, cname)) == NULL) {
			config_error(errs, cfg, cline, "node %s: unknown cluster '%s'", name, cname);
			continue;
		}
		n->cluster = (size_t)(c - cl->v);
		cline = load_addr(cfg, cfg->sections[i], "client", true, n->line, name, &n->client,
		    errs);
		check_address_unique(cl, cfg, n, &n->client, "client", cline, errs);
		aline = load_addr(cfg, cfg->sections[i], "admin", false, n->line, name, &n->admin,
		    errs);
		check_address_unique(cl, cfg, n, &n->admin, "admin", aline, errs);
		cl->v[n->cluster].nnodes++;
		if (role == CLUSTER_PROXY)
			cl->v[n->cluster].nproxies++;
		cl->nnodes++;
	}
}

const char *
cluster_role_word(enum cluster_role role)
{
	return role == CLUSTER_PROXY ? "proxy" : "node";
}

bool
cluster_takes_clients(const struct clusters *cl, const struct cluster_node *n)
{
	return n->role == CLUSTER_PROXY || cl->v[n->cluster].nproxies == 0;
}

int
clusters_load(struct clusters *cl, struct config *cfg, struct config_errors *errs)
{
	size_t before = errs->n + errs->dropped, i, nc = 0, nn = 0;

	clusters_release(cl);
	/* Room for every section (at most the maxima), so the arrays never move. */
	for (i = 0; i < cfg->nsections; i++) {
		enum cluster_role role;
		if (config_section_name(cfg->sections[i], "cluster") != NULL)
			nc++;
		else if (node_section(cfg->sections[i], &role) != NULL)
			nn++;
	}
	cl->v = calloc(nc < CLUSTERS_MAX ? nc + 1 : CLUSTERS_MAX, sizeof(*cl->v));
	cl->nodes = calloc(nn < CLUSTER_NODES_MAX ? nn + 1 : CLUSTER_NODES_MAX,
	    sizeof(*cl->nodes));
	if (cl->v == NULL || cl->nodes == NULL) {
		config_error(errs, cfg, 0, "out of memory loading the clusters");
		clusters_release(cl);
		return -1;
	}
	check_duplicate_sections(cfg, errs);
	load_clusters(cl, cfg, errs);
	load_nodes(cl, cfg, errs);
	for (i = 0; i < cl->n; i++) {
		if (cl->v[i].nnodes == cl->v[i].nproxies)
			config_error(errs, cfg, cl->v[i].line, "cluster %s has no nodes%s",
			    cl->v[i].name, cl->v[i].nproxies > 0 ? " (backends) behind its proxies" :
			    "");
	}
	if (errs->n + errs->dropped != before) {
		clusters_release(cl);
		return -1;
	}
	return 0;
}
