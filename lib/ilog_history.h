/*
 * ilog_history — mcmon's recorded figures over time, in the incident log: per node and
 * per cluster, a row every history interval (10 s by default) with the probes and the
 * slow probes since the previous row (the latency share is slow / probes, slow meaning
 * above the tail threshold, as the latency_tail detector counts them), the probes'
 * p50 and p99 over that interval, the current connections and the new connections
 * per second. Written by mcmon (monitor/history.h), read by `mctl postmortem`
 * (cli/cmd_postmortem.c) to chart an incident. /metrics and the view file are the
 * present only; this is the past.
 *
 * A row is (at, cluster, node, probes, slow, p50_us, p99_us, connections,
 * new_per_second); node "" is the cluster's own row (its nodes summed, its
 * percentiles over all its probes). A figure that was not known (no admin port, a
 * failed poll, no probe in the interval) is stored as NULL and read back as -1.
 *
 * Rows write no event (they would wake every tailing consumer for nothing) and belong
 * to no incident: they are kept for the retention mcmon is configured with
 * (history_retention) and pruned by time in bounded batches, independently of
 * ilog_prune(). Size: about 100 bytes a row with its indexes (measured: 8,640 rows a
 * day), so at one row every 10 s about 0.9 MB per node-day, and as much per cluster-day.
 */
#ifndef MCOPS_ILOG_HISTORY_H
#define MCOPS_ILOG_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define ILOG_HISTORY_APPEND_MAX 4096   /* rows in one append (one transaction) */
#define ILOG_HISTORY_READ_MAX 200000   /* rows returned by one read */
#define ILOG_HISTORY_PRUNE_BATCH 5000  /* rows deleted by one prune transaction */

struct ilog_history_row {
	int64_t at;                        /* UTC ms */
	char cluster[ILOG_NAME_MAX + 1];
	char node[ILOG_NAME_MAX + 1];      /* "" = the cluster's row */
	int64_t probes;                    /* probes counted since the previous row */
	int64_t slow;                      /* of those, slower than the tail threshold */
	int64_t p50_us, p99_us;            /* -1 = no probe */
	int64_t connections;               /* -1 = unknown */
	double new_per_second;             /* -1 = unknown */
};

struct ilog_history_rows {
	struct ilog_history_row *v;        /* oldest first, then by node */
	size_t n;
	bool truncated;                    /* more rows than ILOG_HISTORY_READ_MAX */
};
void ilog_history_rows_release(struct ilog_history_rows *list);

/* The latency share of a row: slow / probes, or -1 without probes. Pure. */
double ilog_history_share(const struct ilog_history_row *r);

/*
 * Appends n rows (at most ILOG_HISTORY_APPEND_MAX) in one transaction. Names must be
 * valid cluster/node names (one line, at most ILOG_NAME_MAX; cluster not empty).
 * Read-only logs refuse it. No event is written.
 */
enum ilog_status ilog_history_append(struct ilog *log, const struct ilog_history_row *rows,
    size_t n, char *err, size_t errlen);
/*
 * The rows of cluster (node rows and the cluster's row) with from <= at <= until,
 * oldest first, into *out (emptied first). At most ILOG_HISTORY_READ_MAX.
 */
enum ilog_status ilog_history_read(struct ilog *log, const char *cluster, int64_t from,
    int64_t until, struct ilog_history_rows *out, char *err, size_t errlen);
/*
 * Deletes rows older than the log's now - retention_ms, at most
 * ILOG_HISTORY_PRUNE_BATCH in one call (a short transaction: the log is shared);
 * *deleted (may be NULL) gets the count. A caller that got a full batch calls again
 * later. retention_ms > 0.
 */
enum ilog_status ilog_history_prune(struct ilog *log, int64_t retention_ms, size_t *deleted,
    char *err, size_t errlen);

#endif
