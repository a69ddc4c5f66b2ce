/*
 * monstate — the monitor's latest view of every node, as a small JSON file that
 * mcmon rewrites atomically (a temporary file in the same directory, then rename)
 * after every evaluation, and that `mctl status` reads without calling the daemon:
 * no daemon calls another, and a reader never sees half a file.
 *
 * The file (version 1):
 *   {"version":1, "written_at":<UTC ms>, "pid":<mcmon's pid>,
 *    "interval_ms":<how often it is rewritten>, "tail_threshold_us":<slow above>,
 *    "clusters":[{"name","title", and for each cluster's kind of lib/kinds.h (in its
 *                 order) "<label>","<label>_severity","in_<label>","<label>_involved",
 *                 and while its incident is open, optionally, "<label>_finding" and
 *                 "<label>_remedy": the evidence's sentences for people ("78% of new
 *                 connections: tenant acme, from 10.1.2.0/24"; the remedy that fits)}],
 *    "nodes":[{"name","cluster","up","polled","poll_ok","poll_error",
 *              "connections","rate_known","new_connections_per_second",
 *              "probes","p50_us","p99_us","slow_fraction",
 *              for each kind "<label>","<label>_severity",
 *              "last_probe_ok_at",
 *              and since the proxy tier (absent from older writers: a backend, no
 *              proxy figures): "role" ("node": a backend, or "proxy"); a proxy's
 *              "proxy":{"backends","backends_up","client_connections","requests",
 *              "fast_failures","timeouts","queue_refusals"} (its latest `stats proxy`;
 *              requests and the failures are cumulative since it started); a backend
 *              behind proxies, "via_proxies":{"replies","slow_fraction",
 *              "proxies_down"} (the replies the proxies timed in the short tail window,
 *              the fraction slower than their tail_ms, how many proxies report it
 *              down)}]}
 * which, with today's kinds, is exactly the file the first writers wrote:
 *    clusters: "storm","storm_severity","in_storm","involved" (the storm's
 *              "<label>_involved" is "involved": the name it had first),
 *              "tail","tail_severity","in_tail","tail_involved"
 *    nodes:    "storm","storm_severity","tail","tail_severity","down","down_severity"
 * Detector states are the words "ok", "pending", "firing", "recovering"; severities
 * "none", "minor", "major", "critical". A reader calls the view stale when
 * written_at is more than a few intervals old (the monitor is not running). A kind's
 * fields that every version-1 writer wrote (the cluster's storm; the node's storm, tail
 * and down) are required; those of a kind added later (the cluster's tail was the
 * first) may be absent, from a writer older than the kind, and then read as "ok",
 * "none", 0, 0.
 *
 * Errors: 0 / -1 with a one-line message in the caller's err. Nothing here logs.
 */
#ifndef MCOPS_MONSTATE_H
#define MCOPS_MONSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kinds.h"

#define MONSTATE_VERSION 1
#define MONSTATE_FILE_MAX (8 * 1024 * 1024) /* bytes a reader accepts */
#define MONSTATE_NAME_MAX 64                /* cluster and node names */
#define MONSTATE_TITLE_MAX 128
#define MONSTATE_WORD_MAX 15                /* a state or severity word */
#define MONSTATE_ERROR_MAX 160              /* a poll's error text */
#define MONSTATE_CLUSTERS_MAX 64
#define MONSTATE_NODES_MAX 1024
#define MONSTATE_PATH_MAX 4096
#define MONSTATE_KEY_MAX 48                 /* a kind's field name: "<label>_severity" */
#define MONSTATE_SENTENCE_MAX 320           /* a finding or remedy ("" when none) */

/* A detector's word pair: state and severity. */
struct monstate_detector {
	char state[MONSTATE_WORD_MAX + 1];
	char severity[MONSTATE_WORD_MAX + 1];
};

/* A cluster's episode of one of the cluster's kinds (lib/kinds.h). */
struct monstate_episode {
	struct monstate_detector detector;
	uint64_t in;       /* nodes taking part now ("in_storm") */
	uint64_t involved; /* nodes that took part in this episode */
	char finding[MONSTATE_SENTENCE_MAX + 1]; /* "" when none */
	char remedy[MONSTATE_SENTENCE_MAX + 1];
};

struct monstate_cluster {
	char name[MONSTATE_NAME_MAX + 1];
	char title[MONSTATE_TITLE_MAX + 1];
	/* By kinds.h index; only the cluster's kinds (KIND_SCOPE_CLUSTER) are used. */
	struct monstate_episode kinds[KINDS_MAX];
};

struct monstate_node {
	char name[MONSTATE_NAME_MAX + 1];
	char cluster[MONSTATE_NAME_MAX + 1];
	bool up;      /* the node-down detector has no incident open */
	bool polled;  /* an admin poll has succeeded at least once */
	bool poll_ok; /* the latest admin poll succeeded */
	char poll_error[MONSTATE_ERROR_MAX + 1]; /* "" unless the latest poll failed */
	uint64_t connections;                    /* curr_connections, latest good poll */
	bool rate_known;
	double new_connections_per_second;
	uint64_t probes;                         /* probes in the short tail window */
	uint64_t p50_us, p99_us;                 /* of the short window */
	double slow_fraction;                    /* short window, above tail_threshold_us */
	struct monstate_detector kinds[KINDS_MAX]; /* by kinds.h index: every kind */
	int64_t last_probe_ok_at;                /* UTC ms; 0 if never */
	bool proxy_role;                         /* "role": "proxy" (else "node") */
	bool has_proxy;                          /* "proxy" figures present */
	struct {
		uint64_t backends, backends_up, client_connections;
		uint64_t requests, fast_failures, timeouts, queue_refusals; /* cumulative */
	} proxy;
	bool has_via_proxies;                    /* "via_proxies" present */
	struct {
		uint64_t replies;
		double slow_fraction;
		uint64_t proxies_down;
	} via_proxies;
};

/* The names of a kind's fields in the file (above); `mctl status --json` uses them too. */
struct monstate_keys {
	char state[MONSTATE_KEY_MAX], severity[MONSTATE_KEY_MAX], in[MONSTATE_KEY_MAX],
	    involved[MONSTATE_KEY_MAX], /* in, involved: a cluster's kind only */
	    finding[MONSTATE_KEY_MAX], remedy[MONSTATE_KEY_MAX]; /* optional, ditto */
};

void monstate_keys(const struct kind *k, struct monstate_keys *keys);

/* Caller-owned. Zero it before the first read; free with monstate_release(). */
struct monstate {
	int64_t written_at; /* UTC ms */
	int64_t pid;
	int64_t interval_ms;
	uint64_t tail_threshold_us;
	struct monstate_cluster *clusters; /* owned */
	size_t nclusters;
	struct monstate_node *nodes; /* owned */
	size_t nnodes;
};

/*
 * Allocates room for nclusters and nnodes (zeroed), replacing st's arrays. For the
 * writer, which then fills them. -1 with err if over a maximum or out of memory.
 */
int monstate_alloc(struct monstate *st, size_t nclusters, size_t nnodes, char *err,
    size_t errlen);
void monstate_release(struct monstate *st);

/* The JSON text of st, NUL-terminated, malloc'd (the caller frees it); NULL on no memory. */
char *monstate_format(const struct monstate *st);

/*
 * Writes st to path atomically: path.tmp in the same directory (mode 0644), fsync
 * not needed (a view, not a record), then rename. -1 with err on failure, in which
 * case path is unchanged and the temporary file removed.
 */
int monstate_write(const char *path, const struct monstate *st, char *err, size_t errlen);

/*
 * Parses text[0..len) into st (released first). Unknown fields are ignored, so a
 * newer writer's additions do not break an older reader; a missing or mistyped
 * known field, a string too long for its buffer, an unknown version or more than a
 * maximum is an error ("nodes[3].name: expected a string of at most 64 bytes").
 * On failure st is left empty.
 */
int monstate_parse(const char *text, size_t len, struct monstate *st, char *err,
    size_t errlen);

/* Reads path (at most MONSTATE_FILE_MAX bytes) and parses it. */
int monstate_read(const char *path, struct monstate *st, char *err, size_t errlen);

#endif
