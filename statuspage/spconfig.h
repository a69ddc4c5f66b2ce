/*
 * spconfig — what mcstatus reads from the configuration: the [statuspage] section,
 * the components the page shows, and the public names of the clusters.
 *
 *     [statuspage]
 *     dir = var/www/status        ; the site directory (required)
 *     name = Example Cache        ; the page's name (default "mcops status")
 *     url = https://status.example.com/   ; where readers find the page (links, feed)
 *     id = mcops                  ; the page id in the JSON (default "mcops")
 *     listen = 127.0.0.1:8080     ; optional: serve dir over HTTP on this address
 *     poll = 100ms                ; how often the log is checked for changes
 *     rerender = 60s              ; periodic re-render (uptime bars, "last updated")
 *
 *     [component api]             ; optional; without any, one component per cluster
 *     title = Cache API           ; public name (default: the section's name)
 *     description = ...           ; optional, one line
 *     clusters = c1 c2            ; incidents of these clusters affect it (default: NAME)
 *
 * A cluster's public name is its [cluster NAME] title (default: the name). mcstatus
 * reads nothing else of [cluster] (not the password files: it needs no secrets but
 * its sinks'). Every problem is reported as "file:line: message".
 */
#ifndef MCSTATUS_SPCONFIG_H
#define MCSTATUS_SPCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ilog.h"

#define SP_COMPONENTS_MAX 64    /* a bit per component in an incident's mask */
#define SP_CLUSTERS_PER_COMPONENT 16
#define SP_NAME_MAX 128         /* page and component names */
#define SP_DESCRIPTION_MAX 256
#define SP_URL_MAX 512
#define SP_PATH_MAX 1024
#define SP_ID_MAX 64
#define SP_LISTEN_MAX 270

struct sp_component {
	char id[ILOG_NAME_MAX + 1];   /* the section's (or cluster's) name */
	char name[SP_NAME_MAX + 1];   /* public */
	char description[SP_DESCRIPTION_MAX + 1];
	char clusters[SP_CLUSTERS_PER_COMPONENT][ILOG_NAME_MAX + 1];
	size_t nclusters;
};

struct sp_config {
	char db_path[SP_PATH_MAX];    /* [log] path, default var/mcops.db */
	char dir[SP_PATH_MAX];
	char name[SP_NAME_MAX + 1];
	char id[SP_ID_MAX + 1];
	char url[SP_URL_MAX];         /* always ends in "/" ("" if none configured) */
	char listen[SP_LISTEN_MAX];   /* "" = do not serve */
	int64_t poll_ms;
	int64_t rerender_ms;
	int64_t heartbeat_interval_ms; /* mcstatus's row in the log's heartbeats */
	struct sp_component comps[SP_COMPONENTS_MAX];
	size_t ncomps;
};

/* True for the sections spconfig reads and checks: [statuspage], [component NAME]. */
bool spconfig_owns(const char *section);

/*
 * Fills out from cfg (defaults for what is absent). Problems go to errs; returns 0,
 * or -1 if any was found. require_dir: false for `mctl statuspage render DIR`, which
 * names the directory itself.
 */
int spconfig_load(struct config *cfg, struct sp_config *out, bool require_dir,
    struct config_errors *errs);

/* The components an incident of cluster affects, as a bit mask (bit i = comps[i]).
 * An incident without a cluster affects none. */
uint64_t spconfig_affected(const struct sp_config *c, const char *cluster);

#endif
