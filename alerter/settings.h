/*
 * settings — mcalert's configuration: [alerter], the rotations ([oncall], [oncall
 * NAME]) and the escalation policy ([escalation], [maintenance NAME]), read in one
 * pass that reports every error as "file:line: message" (docs/alerter.md has every
 * key). The [log] path is read too when [alerter] names no database, so mcalert and
 * mctl find the same log.
 *
 *     [alerter]
 *     jid = mcalert@example.com         ; required: the pager's account
 *     password_file = etc/secrets/mcalert.pw   ; required: its password, first line
 *     server = xmpp.example.com:5222    ; default: the JID's domain (DNS SRV)
 *     tls = on                          ; on (required) | off (plain: loopback tests)
 *     tls_ca = /etc/ssl/certs/ours.pem  ; trust this CA instead of the system's
 *     tls_insecure = no                 ; yes: accept any certificate (never in use)
 *     resource = mcalert                ; nick = mcalert (name in rooms)
 *     db = var/mcops.db                 ; default: [log] path, else var/mcops.db
 *     authorized = alice@x, bob@x       ; who may send commands; default: everyone
 *                                       ; named by the rotations and the steps
 *     ack_timeout = 30m                 ; 0: an acknowledgement stops paging for good
 *     late_after = 10s                  ; a page sent this long after it was decided
 *                                       ; is marked late
 *     intake = 127.0.0.1:9095           ; Alertmanager webhook listener (off if absent)
 *     intake_token_file = ...           ; required with intake: the token requests carry
 *                                       ; as "Authorization: Bearer <token>"
 *     intake_open = no                  ; yes: no token (only on a loopback address)
 *     fallback_url = https://hooks.example.com/page   ; webhook when XMPP is down
 *     fallback_after = 5m               ; ... for this long
 *     fallback_timeout = 5s
 *     reconnect_min = 1s                ; reconnect backoff: from, with jitter
 *     reconnect_max = 60s               ; ... up to
 *     ping_interval = 60s               ; XEP-0199 keepalive to the server
 *     ping_timeout = 20s                ; no answer: the connection is dead
 *     runbook_base = docs/runbooks/     ; pages link <runbook_base><kind>.md
 *     heartbeat_interval = 5s           ; mcalert's own row in the log's heartbeats
 *     heartbeat_stale = 30s             ; page when mcmon's or mcstatus's row is this
 *                                       ; old (0: watch nobody); see watchdog.h
 *     heartbeat_url = https://hc.example.com/ping/...   ; dead man's switch (off if absent)
 *     heartbeat_url_interval = 1m       ; ... pinged this often
 *     heartbeat_url_timeout = 5s        ; ... each ping given up after this
 *     suggest_connrate = 20             ; new connections a second a page's "limit
 *                                       ; tenant T" suggestion offers (suggest.h)
 *     remedy_timeout = 3s               ; each node's admin exchange of a remedy run
 *                                       ; from chat (100ms..60s; chat_remedy.h)
 *
 * The file's [cluster NAME] and [node NAME] sections are read too (lib/cluster.h):
 * the remedies engineers run from chat act on those nodes through their admin ports,
 * as mctl does; and [mcd] tenants, the tenants file a "limit tenant" run from chat
 * edits (default MCOPS_TENANTS_PATH, as mctl tenant).
 */
#ifndef MCOPS_ALERTER_SETTINGS_H
#define MCOPS_ALERTER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "config.h"
#include "paths.h"
#include "escalation.h"
#include "jid.h"
#include "rotation.h"

#define SETTINGS_PATH_MAX 1024
#define SETTINGS_URL_MAX 2048
#define SETTINGS_RESOURCE_MAX 64
#define SETTINGS_AUTHORIZED_MAX 256
#define SETTINGS_DEFAULT_DB MCOPS_DB_PATH
/* Each node's admin exchange of a remedy run from chat ([alerter] remedy_timeout). */
#define SETTINGS_REMEDY_TIMEOUT_MS 3000
#define SETTINGS_REMEDY_TIMEOUT_MIN_MS 100
#define SETTINGS_REMEDY_TIMEOUT_MAX_MS 60000

struct alerter_settings {
	char jid[JID_MAX + 1];
	char password[CONFIG_SECRET_MAX];
	char resource[SETTINGS_RESOURCE_MAX + 1];
	char nick[SETTINGS_RESOURCE_MAX + 1];
	char server_host[CLUSTER_HOST_MAX + 1]; /* "" = the JID's domain, by SRV */
	uint16_t server_port;                   /* 0 = default */
	bool tls;
	bool tls_insecure;
	char tls_ca[SETTINGS_PATH_MAX];
	char db_path[SETTINGS_PATH_MAX];
	char authorized[SETTINGS_AUTHORIZED_MAX][JID_MAX + 1];
	size_t nauthorized;
	int64_t late_after_ms;
	bool has_intake;
	struct cluster_addr intake;
	bool has_intake_token;
	char intake_token[CONFIG_SECRET_MAX];
	bool intake_open;                       /* no token, said so; loopback only */
	char fallback_url[SETTINGS_URL_MAX];    /* "" = no fallback */
	int64_t fallback_after_ms;
	int64_t fallback_timeout_ms;
	int64_t reconnect_min_ms, reconnect_max_ms;
	int64_t ping_interval_ms, ping_timeout_ms;
	char runbook_base[SETTINGS_PATH_MAX];
	int64_t heartbeat_interval_ms;
	int64_t heartbeat_stale_ms;             /* 0 = watch nobody */
	bool watch_monitor, watch_statuspage;   /* the file has [cluster ...], [statuspage] */
	char heartbeat_url[SETTINGS_URL_MAX];   /* "" = no dead man's switch */
	int64_t heartbeat_url_interval_ms, heartbeat_url_timeout_ms;
	struct rotations rotations;
	struct esc_policy policy;                /* with ack_timeout_ms from [alerter] */
	struct clusters clusters;                /* the topology, for remedies from chat */
	uint64_t suggest_connrate;               /* 1..TENANT_CONN_LIMIT_MAX */
	int64_t remedy_timeout_ms;               /* each node's exchange, from chat */
	char tenants_path[SETTINGS_PATH_MAX];    /* [mcd] tenants */
};

/*
 * Loads path into s (caller-owned, zeroed or released; large: allocate it). Returns
 * 0, or -1 with every problem in errs ("file:line: message"); s is then released.
 * Unknown keys in the sections mcalert owns are errors.
 */
int settings_load(struct alerter_settings *s, const char *path, struct config_errors *errs);
/* Frees what s holds and wipes the secrets. */
void settings_release(struct alerter_settings *s);
/* True if jid (bare) may send commands. */
bool settings_authorized(const struct alerter_settings *s, const char *jid);
/* True for the sections whose keys mcalert checks: alerter, oncall..., escalation,
 * maintenance NAME. */
bool settings_owns(const char *section);

#endif
