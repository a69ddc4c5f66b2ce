/*
 * history — see history.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "ilog_history.h"
#include "log.h"

void
mon_history_init(struct mon_history *h)
{
	memset(h, 0, sizeof(*h));
}

void
mon_history_release(struct mon_history *h)
{
	free(h->nodes);
	memset(h, 0, sizeof(*h));
}

/* A reload replaces the watch's nodes: what was remembered of the old ones is dropped
 * (one row without a rate). -1 on no memory. */
static int
follow_nodes(struct mon_history *h, const struct watch *w)
{
	struct mon_history_node *v;

	if (h->seen == w->nodes && h->nnodes == w->nnodes)
		return 0;
	v = calloc(w->nnodes + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	free(h->nodes);
	h->nodes = v;
	h->nnodes = w->nnodes;
	h->seen = w->nodes;
	return 0;
}

static void
probe_figures(const struct histogram *probes, uint64_t threshold_us,
    struct ilog_history_row *r)
{
	r->probes = (int64_t)probes->count;
	r->slow = (int64_t)histogram_count_above(probes, threshold_us);
	if (r->slow > r->probes)
		r->slow = r->probes;
	r->p50_us = probes->count > 0 ? (int64_t)histogram_percentile(probes, 50) : -1;
	r->p99_us = probes->count > 0 ? (int64_t)histogram_percentile(probes, 99) : -1;
}

/* Connections and the rate of new ones, from the latest good poll. */
static void
connection_figures(struct mon_history_node *hn, const struct watch_node *n, int64_t now,
    struct ilog_history_row *r)
{
	r->connections = -1;
	r->new_per_second = -1;
	if (!n->has_admin || !n->polled || !n->poll_ok) {
		hn->have_total = false;
		return;
	}
	r->connections = (int64_t)n->stats.curr_connections;
	if (hn->have_total && n->stats.total_connections >= hn->total_connections &&
	    now > hn->at)
		r->new_per_second = (double)(n->stats.total_connections - hn->total_connections) *
		    1000.0 / (double)(now - hn->at);
	hn->have_total = true;
	hn->total_connections = n->stats.total_connections;
	hn->at = now;
}

static void
set_names(struct ilog_history_row *r, const char *cluster, const char *node, int64_t now)
{
	r->at = now;
	snprintf(r->cluster, sizeof(r->cluster), "%s", cluster);
	snprintf(r->node, sizeof(r->node), "%s", node);
}

/* Fills rows (w->nnodes + w->nclusters of them) and resets the nodes' recent probes. */
static size_t
build_rows(struct mon_history *h, struct watch *w, int64_t now, struct histogram *merged,
    struct ilog_history_row *rows)
{
	uint64_t threshold = w->cfg->detect.tail_threshold_us;
	char why[ILOG_ERR_LEN];
	size_t i, j, n = 0;

	for (i = 0; i < w->nnodes; i++) {
		struct watch_node *node = &w->nodes[i];
		struct ilog_history_row *r = &rows[n++];

		set_names(r, node->cluster_name, node->name, now);
		probe_figures(&node->recent, threshold, r);
		connection_figures(&h->nodes[i], node, now, r);
	}
	for (i = 0; i < w->nclusters; i++) {
		const struct watch_cluster *c = &w->clusters[i];
		struct ilog_history_row *r = &rows[n++];
		bool known = false;
		double rate = 0;
		int64_t conns = 0;

		set_names(r, c->name, "", now);
		histogram_reset(merged);
		for (j = 0; j < c->nnodes; j++) {
			const struct watch_node *node = c->nodes[j];
			const struct ilog_history_row *nr = &rows[node - w->nodes];

			/* Never fails: every node's bounds are w->export_bounds too. */
			(void)histogram_merge(merged, &node->recent, why, sizeof(why));
			if (!node->takes_clients || nr->connections < 0)
				continue;
			known = true;
			conns += nr->connections;
			rate += nr->new_per_second > 0 ? nr->new_per_second : 0;
		}
		probe_figures(merged, threshold, r);
		r->connections = known ? conns : -1;
		r->new_per_second = known ? rate : -1;
	}
	for (i = 0; i < w->nnodes; i++)
		histogram_reset(&w->nodes[i].recent);
	return n;
}

static void
write_round(struct mon_history *h, struct watch *w, struct ilog *log, int64_t now)
{
	size_t count = w->nnodes + w->nclusters, n;
	struct ilog_history_row *rows = NULL;
	struct histogram *merged = NULL;
	char err[ILOG_ERR_LEN];

	if (count == 0)
		return;
	if (count > ILOG_HISTORY_APPEND_MAX) {
		LOG_LIMITED(LOG_LEVEL_WARN, "history: %zu nodes and clusters, recording the first %d",
		    count, ILOG_HISTORY_APPEND_MAX);
	}
	if (follow_nodes(h, w) < 0 || (rows = calloc(count, sizeof(*rows))) == NULL ||
	    (merged = malloc(sizeof(*merged))) == NULL ||
	    histogram_init(merged, w->export_bounds, w->nexport, err, sizeof(err)) < 0) {
		h->rounds_failed++;
		LOG_LIMITED(LOG_LEVEL_WARN, "history: out of memory; a round is not recorded");
		goto out;
	}
	n = build_rows(h, w, now, merged, rows);
	if (n > ILOG_HISTORY_APPEND_MAX)
		n = ILOG_HISTORY_APPEND_MAX;
	if (ilog_history_append(log, rows, n, err, sizeof(err)) != ILOG_OK) {
		h->rounds_failed++;
		if (!h->failing)
			log_warn("history not recorded (a round is dropped each time it fails): %s",
			    err);
		h->failing = true;
		goto out;
	}
	if (h->failing)
		log_info("history recorded again (%llu rounds dropped since start)",
		    (unsigned long long)h->rounds_failed);
	h->failing = false;
	h->rows_written += n;
out:
	free(merged);
	free(rows);
}

void
mon_history_tick(struct mon_history *h, struct watch *w, struct ilog *log, int64_t now)
{
	const struct monconfig_settings *set = &w->cfg->set;
	char err[ILOG_ERR_LEN];
	size_t deleted = 0;
	size_t i;

	if (set->history_interval_ms > 0 && now >= h->next_row_at) {
		if (h->next_row_at != 0)
			write_round(h, w, log, now);
		else /* the first tick: the probes so far cover an unknown span */
			for (i = 0; i < w->nnodes; i++)
				histogram_reset(&w->nodes[i].recent);
		if (h->next_row_at == 0 && follow_nodes(h, w) == 0) {
			/* Remember the counters so that the first row has a rate. */
			struct ilog_history_row r;

			for (i = 0; i < w->nnodes; i++)
				connection_figures(&h->nodes[i], &w->nodes[i], now, &r);
		}
		/* From now, not from the due time: after a stall, no burst of rows. */
		h->next_row_at = now + set->history_interval_ms;
	}
	if (now < h->next_prune_at)
		return;
	h->next_prune_at = now + MON_HISTORY_PRUNE_EVERY_MS;
	if (ilog_history_prune(log, set->history_retention_ms, &deleted, err, sizeof(err)) !=
	    ILOG_OK) {
		LOG_LIMITED(LOG_LEVEL_WARN, "history: cannot prune (tried again in an hour): %s",
		    err);
		return;
	}
	h->rows_pruned += deleted;
	if (deleted == ILOG_HISTORY_PRUNE_BATCH) /* more to go: soon, in another transaction */
		h->next_prune_at = now + (set->history_interval_ms > 0 ?
		    set->history_interval_ms : 1000);
}
