/*
 * settings — see settings.h.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "ilog_heartbeat.h"
#include "parse.h"
#include "settings.h"
#include "suggest.h"
#include "tenants.h"

#define SECTION "alerter"

bool
settings_owns(const char *section)
{
	return strcmp(section, SECTION) == 0 || rotations_owns(section) ||
	       esc_policy_owns(section);
}

bool
settings_authorized(const struct alerter_settings *s, const char *jid)
{
	size_t i;

	for (i = 0; i < s->nauthorized; i++)
		if (jid_equal(s->authorized[i], jid))
			return true;
	return false;
}

static void
add_authorized(struct alerter_settings *s, const char *jid)
{
	if (s->nauthorized < SETTINGS_AUTHORIZED_MAX && !settings_authorized(s, jid))
		snprintf(s->authorized[s->nauthorized++], sizeof(s->authorized[0]), "%s", jid);
}

static int
load_authorized(struct alerter_settings *s, struct config *cfg, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, SECTION, "authorized");
	char jid[JID_MAX + 1];
	const char *p;
	size_t i, j, len;
	int rc = 0;

	if (e == NULL) {
		/* Everyone the policy may page may also answer it. */
		for (i = 0; i < s->rotations.n; i++)
			for (j = 0; j < s->rotations.v[i].nmembers; j++)
				add_authorized(s, s->rotations.v[i].members[j]);
		for (i = 0; i < s->policy.nsteps; i++)
			if (s->policy.steps[i].target.kind == ESC_TARGET_JID)
				add_authorized(s, s->policy.steps[i].target.name);
		if (s->policy.has_final && s->policy.final.kind == ESC_TARGET_JID)
			add_authorized(s, s->policy.final.name);
		return 0;
	}
	for (p = e->value;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, ", \t");
		if (len > JID_MAX) {
			config_error(errs, cfg, e->line, "authorized: an entry is too long");
			return -1;
		}
		memcpy(jid, p, len);
		jid[len] = '\0';
		p += len;
		if (!jid_bare_valid(jid)) {
			config_error(errs, cfg, e->line, "authorized: '%s' is not a JID", jid);
			rc = -1;
		} else if (s->nauthorized == SETTINGS_AUTHORIZED_MAX) {
			config_error(errs, cfg, e->line, "authorized: more than %d JIDs",
			    SETTINGS_AUTHORIZED_MAX);
			return -1;
		} else {
			add_authorized(s, jid);
		}
	}
	return rc;
}

/* A duration key of [alerter] in [min, max]. */
static int
get_duration(struct config *cfg, const char *key, int64_t def, int64_t min, int64_t max,
    int64_t *out, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, SECTION, key);

	*out = def;
	if (e == NULL)
		return 0;
	if (parse_duration_ms(e->value, out) != 0 || *out < min || *out > max) {
		config_error(errs, cfg, e->line, "%s: '%s' is not a duration from %lldms to %llds",
		    key, e->value, (long long)min, (long long)(max / 1000));
		*out = def;
		return -1;
	}
	return 0;
}

static int
load_server(struct alerter_settings *s, struct config *cfg, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, SECTION, "server");
	struct cluster_addr addr;
	char err[CONFIG_ERR_MAX];

	if (e == NULL)
		return 0;
	if (cluster_addr_parse(e->value, &addr, err, sizeof(err)) != 0) {
		config_error(errs, cfg, e->line, "server: %s", err);
		return -1;
	}
	snprintf(s->server_host, sizeof(s->server_host), "%s", addr.host);
	s->server_port = addr.port;
	return 0;
}

static int
load_secret(struct config *cfg, const char *key, bool required, char *buf, size_t len,
    bool *have, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, SECTION, key);
	char err[CONFIG_ERR_MAX];

	if (have != NULL)
		*have = false;
	if (e == NULL) {
		if (required)
			config_error(errs, cfg, 0, "[alerter] needs %s", key);
		return required ? -1 : 0;
	}
	if (config_read_secret(e->value, buf, len, err, sizeof(err)) != 0) {
		config_error(errs, cfg, e->line, "%s: %s", key, err);
		return -1;
	}
	if (have != NULL)
		*have = true;
	return 0;
}

/* True for a numeric loopback address: 127.0.0.0/8, ::1, ::ffff:127.x.y.z. A name
 * ("localhost") is not taken on trust: it resolves to whatever the resolver says. */
static bool
is_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6) ||
		       (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
	return false;
}

/*
 * The intake opens and resolves incidents, and so pages people: it needs a token,
 * unless the operator wrote that it is open and it listens on loopback only.
 */
static int
check_intake(struct alerter_settings *s, struct config *cfg, struct config_errors *errs)
{
	struct config_entry *e = config_find(cfg, SECTION, "intake");
	struct config_entry *o = config_find(cfg, SECTION, "intake_open");
	int line = e != NULL ? e->line : 0;

	if (!s->has_intake) {
		if (s->has_intake_token || s->intake_open) {
			config_error(errs, cfg, o != NULL ? o->line : 0,
			    "[alerter] intake_token_file and intake_open need intake");
			return -1;
		}
		return 0;
	}
	if (s->intake_open && s->has_intake_token) {
		config_error(errs, cfg, o->line, "intake_open: the intake has a token "
		    "(intake_token_file); say one or the other");
		return -1;
	}
	if (s->intake_open && !is_loopback(s->intake.host)) {
		config_error(errs, cfg, o->line, "intake_open: '%s' is not a loopback address "
		    "(127.0.0.1, ::1): anyone who reaches an open intake can open and resolve "
		    "incidents; set intake_token_file", s->intake.host);
		return -1;
	}
	/* A token file that could not be read is reported where it is named. */
	if (!s->intake_open && config_find(cfg, SECTION, "intake_token_file") == NULL) {
		config_error(errs, cfg, line, "intake: needs intake_token_file (the bearer token "
		    "Alertmanager sends; see docs/alerter.md), or intake_open = yes on a "
		    "loopback address");
		return -1;
	}
	return 0;
}

static int
load_alerter(struct alerter_settings *s, struct config *cfg, struct config_errors *errs)
{
	struct config_entry *e;
	char err[CONFIG_ERR_MAX];
	int rc = 0;

	if ((e = config_find(cfg, SECTION, "jid")) == NULL) {
		config_error(errs, cfg, 0, "[alerter] needs jid (the pager's account)");
		rc = -1;
	} else if (!jid_bare_valid(e->value)) {
		config_error(errs, cfg, e->line, "jid: '%s' is not a JID (user@domain)", e->value);
		rc = -1;
	} else {
		snprintf(s->jid, sizeof(s->jid), "%s", e->value);
	}
	if (load_secret(cfg, "password_file", true, s->password, sizeof(s->password), NULL,
	    errs) != 0)
		rc = -1;
	snprintf(s->resource, sizeof(s->resource), "mcalert");
	snprintf(s->nick, sizeof(s->nick), "mcalert");
	if (config_copy_str(cfg, SECTION, "resource", s->resource, sizeof(s->resource),
		errs) != 0 ||
	    config_copy_str(cfg, SECTION, "nick", s->nick, sizeof(s->nick), errs) != 0)
		rc = -1;
	if (strchr(s->resource, '/') != NULL || s->resource[0] == '\0' || s->nick[0] == '\0') {
		config_error(errs, cfg, 0, "[alerter] resource and nick must be non-empty, no '/'");
		rc = -1;
	}
	if (load_server(s, cfg, errs) != 0)
		rc = -1;
	if (config_get_bool(cfg, SECTION, "tls", true, &s->tls, errs) != 0 ||
	    config_get_bool(cfg, SECTION, "tls_insecure", false, &s->tls_insecure, errs) != 0 ||
	    config_copy_str(cfg, SECTION, "tls_ca", s->tls_ca, sizeof(s->tls_ca), errs) != 0)
		rc = -1;
	if (!s->tls && (s->tls_ca[0] != '\0' || s->tls_insecure)) {
		config_error(errs, cfg, 0, "[alerter] tls_ca and tls_insecure need tls = on");
		rc = -1;
	}
	if (config_copy_str(cfg, SECTION, "db", s->db_path, sizeof(s->db_path), errs) != 0)
		rc = -1;
	if (s->db_path[0] == '\0' && (e = config_find(cfg, "log", "path")) != NULL &&
	    e->value[0] != '\0') {
		if (strlen(e->value) >= sizeof(s->db_path)) {
			config_error(errs, cfg, e->line, "path: too long");
			rc = -1;
		} else {
			snprintf(s->db_path, sizeof(s->db_path), "%s", e->value);
		}
	}
	if (s->db_path[0] == '\0')
		snprintf(s->db_path, sizeof(s->db_path), "%s", SETTINGS_DEFAULT_DB);
	if (get_duration(cfg, "ack_timeout", 30 * 60000, 0, 7LL * 86400000,
	    &s->policy.ack_timeout_ms, errs) != 0 ||
	    get_duration(cfg, "late_after", 10000, 0, 3600000, &s->late_after_ms, errs) != 0 ||
	    get_duration(cfg, "fallback_after", 5 * 60000, 0, 86400000, &s->fallback_after_ms,
	    errs) != 0 ||
	    get_duration(cfg, "fallback_timeout", 5000, 100, 60000, &s->fallback_timeout_ms,
	    errs) != 0 ||
	    get_duration(cfg, "reconnect_min", 1000, 10, 3600000, &s->reconnect_min_ms, errs) !=
	    0 ||
	    get_duration(cfg, "reconnect_max", 60000, 10, 3600000, &s->reconnect_max_ms, errs) !=
	    0 ||
	    get_duration(cfg, "ping_interval", 60000, 100, 3600000, &s->ping_interval_ms, errs) !=
	    0 ||
	    get_duration(cfg, "ping_timeout", 20000, 100, 600000, &s->ping_timeout_ms, errs) !=
	    0)
		rc = -1;
	if (s->reconnect_max_ms < s->reconnect_min_ms) {
		config_error(errs, cfg, 0, "[alerter] reconnect_max is less than reconnect_min");
		rc = -1;
	}
	if ((e = config_find(cfg, SECTION, "intake")) != NULL) {
		if (cluster_addr_parse(e->value, &s->intake, err, sizeof(err)) != 0) {
			config_error(errs, cfg, e->line, "intake: %s", err);
			rc = -1;
		} else {
			s->has_intake = true;
		}
	}
	if (load_secret(cfg, "intake_token_file", false, s->intake_token,
	    sizeof(s->intake_token), &s->has_intake_token, errs) != 0)
		rc = -1;
	if (config_get_bool(cfg, SECTION, "intake_open", false, &s->intake_open, errs) != 0)
		rc = -1;
	if (check_intake(s, cfg, errs) != 0)
		rc = -1;
	if (config_copy_str(cfg, SECTION, "fallback_url", s->fallback_url,
	    sizeof(s->fallback_url), errs) != 0)
		rc = -1;
	if (s->fallback_url[0] != '\0' && strncmp(s->fallback_url, "http://", 7) != 0 &&
	    strncmp(s->fallback_url, "https://", 8) != 0) {
		config_error(errs, cfg, config_find(cfg, SECTION, "fallback_url")->line,
		    "fallback_url: only http:// and https:// URLs");
		rc = -1;
	}
	snprintf(s->runbook_base, sizeof(s->runbook_base), "docs/runbooks/");
	if (config_copy_str(cfg, SECTION, "runbook_base", s->runbook_base,
		sizeof(s->runbook_base), errs) != 0)
		rc = -1;
	return rc;
}

/*
 * What a "limit tenant" suggestion offers and edits: [alerter] suggest_connrate, and the
 * tenants file mctl edits too ([mcd] tenants, else the default path), which the nodes
 * mcalert reloads read.
 */
static int
load_remedies(struct alerter_settings *s, struct config *cfg, struct config_errors *errs)
{
	struct config_entry *e;

	if (config_get_u64(cfg, SECTION, "suggest_connrate", 1, TENANT_CONN_LIMIT_MAX,
	    SUGGEST_CONNRATE_DEFAULT, &s->suggest_connrate, errs) != 0)
		return -1;
	if (config_get_duration_ms(cfg, SECTION, "remedy_timeout", SETTINGS_REMEDY_TIMEOUT_MS,
	    &s->remedy_timeout_ms, errs) != 0)
		return -1;
	if (s->remedy_timeout_ms < SETTINGS_REMEDY_TIMEOUT_MIN_MS ||
	    s->remedy_timeout_ms > SETTINGS_REMEDY_TIMEOUT_MAX_MS) {
		e = config_find(cfg, SECTION, "remedy_timeout");
		config_error(errs, cfg, e != NULL ? e->line : 0,
		    "remedy_timeout: must be between 100ms and 60s");
		return -1;
	}
	snprintf(s->tenants_path, sizeof(s->tenants_path), "%s", MCOPS_TENANTS_PATH);
	if ((e = config_find(cfg, "mcd", "tenants")) != NULL && e->value[0] != '\0') {
		if (strlen(e->value) >= sizeof(s->tenants_path)) {
			config_error(errs, cfg, e->line, "tenants: too long");
			return -1;
		}
		snprintf(s->tenants_path, sizeof(s->tenants_path), "%s", e->value);
	}
	return 0;
}

/* An http:// or https:// URL key, "" when absent. */
static int
load_url(struct config *cfg, const char *key, char *buf, size_t len, struct config_errors *errs)
{
	if (config_copy_str(cfg, SECTION, key, buf, len, errs) != 0)
		return -1;
	if (buf[0] != '\0' && strncmp(buf, "http://", 7) != 0 && strncmp(buf, "https://", 8) != 0) {
		config_error(errs, cfg, config_find(cfg, SECTION, key)->line,
		    "%s: only http:// and https:// URLs", key);
		return -1;
	}
	return 0;
}

/*
 * The heartbeat keys (watchdog.h), and which daemons the file says should be running:
 * mcmon when it names a cluster to watch, mcstatus when it has [statuspage].
 */
static int
load_heartbeat(struct alerter_settings *s, struct config *cfg, struct config_errors *errs)
{
	size_t i;
	int rc = 0;

	if (get_duration(cfg, "heartbeat_interval", ILOG_HEARTBEAT_INTERVAL_MS,
	    ILOG_HEARTBEAT_INTERVAL_MIN_MS, ILOG_HEARTBEAT_INTERVAL_MAX_MS,
	    &s->heartbeat_interval_ms, errs) != 0 ||
	    get_duration(cfg, "heartbeat_stale", 30000, 0, 86400000, &s->heartbeat_stale_ms,
	    errs) != 0 ||
	    get_duration(cfg, "heartbeat_url_interval", 60000, 1000, 86400000,
	    &s->heartbeat_url_interval_ms, errs) != 0 ||
	    get_duration(cfg, "heartbeat_url_timeout", 5000, 100, 60000,
	    &s->heartbeat_url_timeout_ms, errs) != 0 ||
	    load_url(cfg, "heartbeat_url", s->heartbeat_url, sizeof(s->heartbeat_url), errs) != 0)
		rc = -1;
	for (i = 0; i < cfg->nsections; i++) {
		if (config_section_name(cfg->sections[i], "cluster") != NULL)
			s->watch_monitor = true;
		if (strcmp(cfg->sections[i], "statuspage") == 0)
			s->watch_statuspage = true;
	}
	return rc;
}

int
settings_load(struct alerter_settings *s, const char *path, struct config_errors *errs)
{
	struct config cfg;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(&cfg, path, errs) != 0) {
		config_release(&cfg);
		return -1;
	}
	if (errs->n > 0)
		rc = -1;
	if (rotations_load(&s->rotations, &cfg, errs) != 0)
		rc = -1;
	/* The policy is loaded first: load_alerter() sets its ack timeout. */
	if (esc_policy_load(&s->policy, &cfg, &s->rotations, errs) != 0)
		rc = -1;
	if (load_alerter(s, &cfg, errs) != 0)
		rc = -1;
	if (load_authorized(s, &cfg, errs) != 0)
		rc = -1;
	if (load_heartbeat(s, &cfg, errs) != 0)
		rc = -1;
	if (load_remedies(s, &cfg, errs) != 0)
		rc = -1;
	if (clusters_load(&s->clusters, &cfg, errs) != 0)
		rc = -1;
	config_check_unknown(&cfg, settings_owns, errs);
	if (errs->n > 0 || errs->dropped > 0)
		rc = -1;
	config_release(&cfg);
	if (rc != 0)
		settings_release(s);
	return rc;
}

void
settings_release(struct alerter_settings *s)
{
	rotations_release(&s->rotations);
	clusters_release(&s->clusters); /* wipes the admin passwords */
	/* volatile: the wipe must not be optimised away as a dead store. */
	{
		volatile char *p = s->password;
		size_t i;
		for (i = 0; i < sizeof(s->password); i++)
			p[i] = 0;
		p = s->intake_token;
		for (i = 0; i < sizeof(s->intake_token); i++)
			p[i] = 0;
	}
}
