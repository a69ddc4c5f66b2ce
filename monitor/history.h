/*
 * history — mcmon's part in the recorded history (lib/ilog_history.h): every
 * history_interval it writes one row per node and one per cluster, in one transaction,
 * with what it saw since the previous row: the probes and the slow ones (slower than
 * tail_threshold, as the latency_tail detector counts them), their p50 and p99, the
 * current connections of the latest good poll, and the new connections per second
 * between the two rows' polls. A cluster's row sums the connections of the nodes
 * that take its clients (its proxies, or every node without proxies: a backend's
 * connections from the proxies are not counted twice) and merges every node's probes.
 *
 * The writes go through mcmon's own connection to the log, whose busy retry is short
 * (mcmon.c): a round that finds the log locked is dropped (counted, logged once per
 * failing stretch), never queued or retried in a loop, so the poll loop stands still at
 * most a quarter of a second. Rows older than history_retention are pruned every
 * MON_HISTORY_PRUNE_EVERY_MS in batches (ILOG_HISTORY_PRUNE_BATCH rows a transaction);
 * a full batch brings the next one forward to the next row's time.
 *
 * Time is the log's clock (UTC ms), passed in: tests drive it with a fake one.
 */
#ifndef MCOPS_MONITOR_HISTORY_H
#define MCOPS_MONITOR_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"
#include "watch.h"

#define MON_HISTORY_PRUNE_EVERY_MS (60LL * 60 * 1000) /* an hour */

/* What the recorder remembers of a node between rows (its counters are cumulative). */
struct mon_history_node {
	bool have_total;
	uint64_t total_connections;
	int64_t at; /* the row that saw it */
};

struct mon_history {
	int64_t next_row_at, next_prune_at; /* log clock; 0: at the first tick */
	struct mon_history_node *nodes;     /* owned, by watch node index */
	size_t nnodes;
	const struct watch_node *seen;      /* the watch's node array they belong to */
	bool failing;                       /* the last write failed */
	uint64_t rows_written, rounds_failed, rows_pruned;
};

void mon_history_init(struct mon_history *h);
void mon_history_release(struct mon_history *h);

/*
 * Writes a round of rows if one is due at now (log clock), and prunes if that is due,
 * with the intervals of w's configuration (history_interval 0: nothing is recorded,
 * but pruning goes on). Resets each node's recent probes (watch_node.recent) once they
 * are written or dropped. Logs a failed round and the recovery once each.
 */
void mon_history_tick(struct mon_history *h, struct watch *w, struct ilog *log, int64_t now);

#endif
