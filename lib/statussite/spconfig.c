/*
 * spconfig — see statussite.h.
 */
#include <stdio.h>
#include <string.h>

#include "ilog_heartbeat.h"
#include "paths.h"
#include "statussite.h"

#define SECTION "statuspage"

bool
spconfig_owns(const char *section)
{
	return strcmp(section, SECTION) == 0 ||
	       config_section_name(section, "component") != NULL;
}

static bool
name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ILOG_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* One-line public text: valid UTF-8 (JSON needs it) without control characters (they
 * would break the HTML and the feed). Values longer than any field are refused anyway. */
static bool
text_valid(const char *s)
{
	char clean[SP_URL_MAX * 3 + 1];
	size_t n = strlen(s);

	if (n > SP_URL_MAX || strchr(s, '\n') != NULL)
		return false;
	model_clean_text(s, clean, sizeof(clean));
	return strcmp(clean, s) == 0;
}

static int
cluster_title(struct config *cfg, const char *cluster, char *buf, size_t len,
    struct config_errors *errs)
{
	char section[ILOG_NAME_MAX + 16];
	struct config_entry *e;

	snprintf(section, sizeof(section), "cluster %s", cluster);
	snprintf(buf, len, "%s", cluster);
	if ((e = config_find(cfg, section, "title")) == NULL)
		return 0;
	if (strlen(e->value) >= len || !text_valid(e->value)) {
		config_error(errs, cfg, e->line, "title: not a one-line name of at most %zu bytes",
		    len - 1);
		return -1;
	}
	snprintf(buf, len, "%s", e->value);
	return 0;
}

static int
load_component(struct config *cfg, const char *section, int line, struct sp_config *out,
    struct config_errors *errs)
{
	const char *name = config_section_name(section, "component");
	struct sp_component *c;
	struct config_entry *e;
	int rc = 0;

	if (!name_valid(name)) {
		config_error(errs, cfg, line, "[%s]: a component's name is 1..%d of "
		    "[A-Za-z0-9_.-]", section, ILOG_NAME_MAX);
		return -1;
	}
	if (out->ncomps == SP_COMPONENTS_MAX) {
		config_error(errs, cfg, line, "more than %d components", SP_COMPONENTS_MAX);
		return -1;
	}
	c = &out->comps[out->ncomps];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", name);
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (config_copy_str(cfg, section, "title", c->name, sizeof(c->name), errs) < 0 ||
	    config_copy_str(cfg, section, "description", c->description, sizeof(c->description),
		errs) < 0)
		rc = -1;
	if (config_copy_str(cfg, section, "group", c->group, sizeof(c->group), errs) < 0)
		rc = -1;
	if (!text_valid(c->name) || !text_valid(c->description) || !text_valid(c->group)) {
		config_error(errs, cfg, line, "[%s]: title, description and group are one line",
		    section);
		rc = -1;
	}
	if ((e = config_find(cfg, section, "clusters")) != NULL) {
		const char *p = e->value;
		size_t n;

		for (;;) {
			p += strspn(p, " \t,");
			if (*p == '\0')
				break;
			n = strcspn(p, " \t,");
			if (n > ILOG_NAME_MAX || c->nclusters == SP_CLUSTERS_PER_COMPONENT) {
				config_error(errs, cfg, e->line, "clusters: at most %d names of at "
				    "most %d bytes", SP_CLUSTERS_PER_COMPONENT, ILOG_NAME_MAX);
				return -1;
			}
			memcpy(c->clusters[c->nclusters], p, n);
			c->clusters[c->nclusters][n] = '\0';
			if (!name_valid(c->clusters[c->nclusters])) {
				config_error(errs, cfg, e->line, "clusters: '%s' is not a cluster name",
				    c->clusters[c->nclusters]);
				return -1;
			}
			c->nclusters++;
			p += n;
		}
		if (c->nclusters == 0) {
			config_error(errs, cfg, e->line, "clusters: empty");
			return -1;
		}
	} else {
		snprintf(c->clusters[0], sizeof(c->clusters[0]), "%s", name);
		c->nclusters = 1;
	}
	if (rc == 0)
		out->ncomps++;
	return rc;
}

/* A cluster's `group` is its component's on the default page. */
static void
cluster_group(struct config *cfg, const char *section, struct sp_component *c,
    struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, section, "group");

	if (e == NULL)
		return;
	if (strlen(e->value) >= sizeof(c->group) || !text_valid(e->value)) {
		config_error(errs, cfg, e->line, "group: not a one-line name of at most %zu bytes",
		    sizeof(c->group) - 1);
		return;
	}
	snprintf(c->group, sizeof(c->group), "%s", e->value);
}

/* Every cluster's public name, for the texts that name one cluster (an incident's
 * impact), whatever the components are. by_default: the components are the clusters
 * (their names are the titles, read and checked already). */
static void
load_cluster_titles(struct config *cfg, struct sp_config *out, bool by_default,
    struct config_errors *errs)
{
	const char *s;
	size_t i, j;

	for (i = 0; i < cfg->nsections; i++) {
		struct sp_cluster *cl;

		if ((s = config_section_name(cfg->sections[i], "cluster")) == NULL ||
		    !name_valid(s) || out->nclusters == SP_CLUSTERS_MAX)
			continue;
		cl = &out->clusters[out->nclusters++];
		snprintf(cl->id, sizeof(cl->id), "%s", s);
		snprintf(cl->title, sizeof(cl->title), "%s", s);
		if (!by_default) {
			cluster_title(cfg, s, cl->title, sizeof(cl->title), errs);
			continue;
		}
		for (j = 0; j < out->ncomps; j++)
			if (strcmp(out->comps[j].id, s) == 0)
				snprintf(cl->title, sizeof(cl->title), "%s", out->comps[j].name);
	}
}

/* The cap, and ids that name one thing each (JSON readers key by id). */
static void
check_groups(struct config *cfg, const struct sp_config *out, struct config_errors *errs)
{
	const char *names[SP_GROUPS_MAX + 1];
	char id[SP_GROUP_ID_MAX + 1], other[SP_GROUP_ID_MAX + 1];
	size_t n = spconfig_groups(out, names, SP_GROUPS_MAX + 1), i, j;

	if (n > SP_GROUPS_MAX) {
		config_error(errs, cfg, 0, "more than %d component groups on one page (group = "
		    "'%s')", SP_GROUPS_MAX, names[SP_GROUPS_MAX]);
		return;
	}
	for (i = 0; i < n; i++) {
		spconfig_group_id(names[i], id, sizeof(id));
		if (strcmp(id, "group-") == 0) {
			config_error(errs, cfg, 0, "group '%s': needs a letter or digit", names[i]);
			continue;
		}
		for (j = 0; j < out->ncomps; j++)
			if (strcmp(out->comps[j].id, id) == 0)
				config_error(errs, cfg, 0, "group '%s': its id %s is a component's",
				    names[i], id);
		for (j = 0; j < i; j++) {
			spconfig_group_id(names[j], other, sizeof(other));
			if (strcmp(id, other) == 0)
				config_error(errs, cfg, 0, "groups '%s' and '%s' have one id (%s): "
				    "name them apart by letters or digits", names[j], names[i], id);
		}
	}
}

/* The public part of [subscribers]: where the form and the links point, and whether
 * the form offers webhooks. The section's presence turns subscriptions on. */
static void
subscribe_form(struct config *cfg, struct sp_config *out, struct config_errors *errs)
{
	struct config_entry *e;
	const char *w;
	size_t i;
	bool on = false;

	for (i = 0; i < cfg->nsections; i++)
		if (strcmp(cfg->sections[i], "subscribers") == 0)
			on = true;
	if (!on)
		return;
	if ((e = config_find(cfg, "subscribers", "link_url")) != NULL) {
		size_t n = strlen(e->value);

		if ((strncmp(e->value, "http://", 7) != 0 && strncmp(e->value, "https://", 8) != 0) ||
		    n + 2 > sizeof(out->link_url) || !text_valid(e->value) ||
		    strpbrk(e->value, " \"<>'?#") != NULL)
			config_error(errs, cfg, e->line, "link_url: an http:// or https:// URL");
		else
			snprintf(out->link_url, sizeof(out->link_url), "%s%s", e->value,
			    e->value[n - 1] == '/' ? "" : "/");
	} else if (out->url[0] != '\0') {
		snprintf(out->link_url, sizeof(out->link_url), "%s", out->url);
	} else {
		config_error(errs, cfg, 0, "[subscribers]: the links in messages need link_url "
					   "or [statuspage] url");
	}
	config_get_str(cfg, "subscribers", "webhooks", "no", &w, errs);
	if (strcmp(w, "no") == 0)
		out->subscribe_webhooks = SP_WEBHOOKS_NO;
	else if (strcmp(w, "https") == 0)
		out->subscribe_webhooks = SP_WEBHOOKS_HTTPS;
	else if (strcmp(w, "any") == 0)
		out->subscribe_webhooks = SP_WEBHOOKS_ANY;
	else
		config_error(errs, cfg, 0, "[subscribers] webhooks: no, https or any");
}

int
spconfig_load(struct config *cfg, struct sp_config *out, bool require_dir,
    struct config_errors *errs)
{
	size_t before = errs->n + errs->dropped, i;
	struct config_entry *e;
	bool by_default;
	const char *s;

	memset(out, 0, sizeof(*out));
	snprintf(out->db_path, sizeof(out->db_path), "%s", MCOPS_DB_PATH);
	snprintf(out->name, sizeof(out->name), "mcops status");
	snprintf(out->id, sizeof(out->id), "mcops");
	if ((e = config_find(cfg, "log", "path")) != NULL) {
		if (strlen(e->value) >= sizeof(out->db_path) || e->value[0] == '\0')
			config_error(errs, cfg, e->line, "path: empty or too long");
		else
			snprintf(out->db_path, sizeof(out->db_path), "%s", e->value);
	}
	config_copy_str(cfg, SECTION, "dir", out->dir, sizeof(out->dir), errs);
	if (require_dir && out->dir[0] == '\0')
		config_error(errs, cfg, 0, "[statuspage] dir: required (the site directory)");
	config_copy_str(cfg, SECTION, "name", out->name, sizeof(out->name), errs);
	if (!text_valid(out->name) || out->name[0] == '\0')
		config_error(errs, cfg, 0, "[statuspage] name: one line, not empty");
	if ((e = config_find(cfg, SECTION, "id")) != NULL) {
		if (!name_valid(e->value))
			config_error(errs, cfg, e->line, "id: 1..%d of [A-Za-z0-9_.-]", ILOG_NAME_MAX);
		else
			snprintf(out->id, sizeof(out->id), "%s", e->value);
	}
	if ((e = config_find(cfg, SECTION, "url")) != NULL) {
		size_t n = strlen(e->value);

		if ((strncmp(e->value, "http://", 7) != 0 && strncmp(e->value, "https://", 8) != 0) ||
		    n + 2 > sizeof(out->url) || !text_valid(e->value) ||
		    strpbrk(e->value, " \"<>'") != NULL)
			config_error(errs, cfg, e->line, "url: an http:// or https:// URL");
		else
			snprintf(out->url, sizeof(out->url), "%s%s", e->value,
			    e->value[n - 1] == '/' ? "" : "/");
	}
	config_copy_str(cfg, SECTION, "listen", out->listen, sizeof(out->listen), errs);
	config_get_duration_ms(cfg, SECTION, "poll", 100, &out->poll_ms, errs);
	if (out->poll_ms < 10 || out->poll_ms > 10000)
		config_error(errs, cfg, 0, "[statuspage] poll: between 10ms and 10s");
	config_get_duration_ms(cfg, SECTION, "rerender", 60000, &out->rerender_ms, errs);
	config_get_duration_ms(cfg, SECTION, "heartbeat_interval", ILOG_HEARTBEAT_INTERVAL_MS,
	    &out->heartbeat_interval_ms, errs);
	if (out->heartbeat_interval_ms < ILOG_HEARTBEAT_INTERVAL_MIN_MS ||
	    out->heartbeat_interval_ms > ILOG_HEARTBEAT_INTERVAL_MAX_MS)
		config_error(errs, cfg, 0, "[statuspage] heartbeat_interval: between 100ms and 1h");
	if (out->rerender_ms < 1000 || out->rerender_ms > 3600000)
		config_error(errs, cfg, 0, "[statuspage] rerender: between 1s and 1h");

	subscribe_form(cfg, out, errs);

	for (i = 0; i < cfg->nsections; i++)
		if (config_section_name(cfg->sections[i], "component") != NULL)
			load_component(cfg, cfg->sections[i], cfg->section_lines[i], out, errs);
	by_default = out->ncomps == 0;
	if (by_default) {
		/* By default one component per cluster, named by the cluster's title. */
		for (i = 0; i < cfg->nsections; i++) {
			struct sp_component *c;

			if ((s = config_section_name(cfg->sections[i], "cluster")) == NULL ||
			    !name_valid(s))
				continue;
			if (out->ncomps == SP_COMPONENTS_MAX) {
				config_error(errs, cfg, cfg->section_lines[i],
				    "more than %d clusters for one page", SP_COMPONENTS_MAX);
				break;
			}
			c = &out->comps[out->ncomps++];
			memset(c, 0, sizeof(*c));
			snprintf(c->id, sizeof(c->id), "%s", s);
			cluster_title(cfg, s, c->name, sizeof(c->name), errs);
			cluster_group(cfg, cfg->sections[i], c, errs);
			snprintf(c->clusters[0], sizeof(c->clusters[0]), "%s", s);
			c->nclusters = 1;
		}
	}
	load_cluster_titles(cfg, out, by_default, errs);
	check_groups(cfg, out, errs);
	/* As mcalert reads them: a window's problems are the configuration's either way. */
	maint_windows_load(out->windows, MAINT_WINDOWS_MAX, &out->nwindows, cfg, errs);
	return errs->n + errs->dropped > before ? -1 : 0;
}

uint64_t
spconfig_affected(const struct sp_config *c, const char *cluster)
{
	uint64_t mask = 0;
	size_t i, j;

	if (cluster == NULL || cluster[0] == '\0')
		return 0;
	/* A configured window's maintenance names several (lib/ilog_maintenance.h). */
	for (i = 0; i < c->ncomps; i++)
		for (j = 0; j < c->comps[i].nclusters; j++)
			if (ilog_maint_lists_cluster(cluster, c->comps[i].clusters[j]))
				mask |= (uint64_t)1 << i;
	return mask;
}

size_t
spconfig_groups(const struct sp_config *c, const char **names, size_t max)
{
	size_t n = 0, i, j;

	for (i = 0; i < c->ncomps && n < max; i++) {
		if (c->comps[i].group[0] == '\0')
			continue;
		for (j = 0; j < n && strcmp(names[j], c->comps[i].group) != 0; j++)
			;
		if (j == n)
			names[n++] = c->comps[i].group;
	}
	return n;
}

void
spconfig_group_id(const char *name, char *buf, size_t len)
{
	size_t o;
	bool gap = false;

	if (len == 0)
		return;
	o = (size_t)snprintf(buf, len, "group-");
	for (; *name != '\0' && o + 1 < len; name++) {
		char ch = *name;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			if (gap && buf[o - 1] != '-' && o + 2 < len)
				buf[o++] = '-';
			gap = false;
			buf[o++] = ch;
		} else {
			gap = true;
		}
	}
	buf[o < len ? o : len - 1] = '\0';
}

const char *
spconfig_cluster_title(const struct sp_config *c, const char *cluster)
{
	size_t i;

	for (i = 0; i < c->nclusters; i++)
		if (strcmp(c->clusters[i].id, cluster) == 0)
			return c->clusters[i].title;
	return cluster;
}
