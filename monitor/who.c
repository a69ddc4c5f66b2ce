/*
 * who — see who.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "who.h"

#define PERCENT_MAX 16 /* "100%" */

void
who_node_init(struct who_node *w)
{
	memset(w, 0, sizeof(*w));
}

/* A cumulative counter's growth; one that went back started again from 0. */
static uint64_t
growth(uint64_t now, uint64_t last)
{
	return now >= last ? now - last : now;
}

static struct who_key *
key_find(struct who_key *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

/* Room for a new key: a free slot, or the unlisted key with the fewest new connections
 * in the episode; NULL when every kept key is listed now. */
static struct who_key *
key_room(struct who_key *v, size_t *n)
{
	struct who_key *victim = NULL;
	size_t i;

	if (*n < WHO_KEYS_MAX) {
		memset(&v[*n], 0, sizeof(v[*n]));
		return &v[(*n)++];
	}
	for (i = 0; i < *n; i++)
		if (!v[i].listed && (victim == NULL || v[i].episode_new < victim->episode_new))
			victim = &v[i];
	if (victim != NULL)
		memset(victim, 0, sizeof(*victim));
	return victim;
}

static void
key_update(struct who_key *v, size_t *n, const struct connstats_entry *e,
    enum connstats_group g, bool node_had_last, int64_t elapsed_ms)
{
	uint64_t now_new = e->v[g == CONNSTATS_TENANT ? CONNSTATS_TOTAL_CONNECTIONS :
	    CONNSTATS_NEW_CONNS];
	uint64_t now_short = connstats_short(e), now_closed = connstats_closed(e);
	uint64_t now_auth = e->v[CONNSTATS_AUTH_OK];
	uint64_t rate = e->v[CONNSTATS_NEW_CONNS_PER_SEC];
	struct who_key *k = key_find(v, *n, e->key);

	if (k == NULL) {
		if ((k = key_room(v, n)) == NULL)
			return;
		snprintf(k->key, sizeof(k->key), "%s", e->key);
	}
	if (k->has_last) {
		k->d_new = growth(now_new, k->last_new);
		k->d_short = growth(now_short, k->last_short);
		k->d_closed = growth(now_closed, k->last_closed);
		k->d_auth = growth(now_auth, k->last_auth);
	} else if (node_had_last && elapsed_ms > 0) {
		/* New to us: its rate over the interval, at most its counter. */
		double est = (double)rate * (double)elapsed_ms / 1000.0;
		k->d_new = est >= (double)now_new ? now_new : (uint64_t)est;
	}
	k->has_last = true;
	k->listed = true;
	k->last_new = now_new;
	k->last_short = now_short;
	k->last_closed = now_closed;
	k->last_auth = now_auth;
	k->rate = rate;
	k->curr = e->v[CONNSTATS_CURR_CONNECTIONS];
	k->unauth = e->v[CONNSTATS_UNAUTH_CONNECTIONS];
	k->episode_new += k->d_new;
}

static void
keys_unlist(struct who_key *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		v[i].listed = false;
		v[i].d_new = v[i].d_short = v[i].d_closed = v[i].d_auth = 0;
	}
}

void
who_node_poll(struct who_node *w, const struct nodestats *st, int64_t now_ms)
{
	int64_t elapsed = w->has_last ? now_ms - w->last_ms : 0;
	size_t i;

	w->interval_ms = elapsed > 0 ? elapsed : 0;
	w->d_total = w->has_last ? growth(st->total_connections, w->last_total) : 0;
	w->episode_total += w->d_total;
	w->last_total = st->total_connections;
	w->curr_connections = st->curr_connections;
	w->d_tenants_other = w->has_last && st->has_tenants ?
	    growth(st->tenants_other_total, w->last_tenants_other) : 0;
	w->last_tenants_other = st->tenants_other_total;
	w->d_sources_other = w->has_last && st->has_sources ?
	    growth(st->sources_other_new, w->last_sources_other) : 0;
	w->last_sources_other = st->sources_other_new;
	w->reported = st->has_tenants || st->has_sources;
	keys_unlist(w->tenants, w->ntenants);
	keys_unlist(w->sources, w->nsources);
	for (i = 0; i < st->ntenants; i++)
		key_update(w->tenants, &w->ntenants, &st->tenants[i], CONNSTATS_TENANT, w->has_last,
		    elapsed);
	for (i = 0; i < st->nsources; i++)
		key_update(w->sources, &w->nsources, &st->sources[i], CONNSTATS_SOURCE, w->has_last,
		    elapsed);
	w->has_last = true;
	w->last_ms = now_ms;
}

void
who_node_restart(struct who_node *w)
{
	size_t i;

	w->episode_total = 0;
	for (i = 0; i < w->ntenants; i++)
		w->tenants[i].episode_new = 0;
	for (i = 0; i < w->nsources; i++)
		w->sources[i].episode_new = 0;
}

/* --- merging ------------------------------------------------------------------------ */

struct merged {
	struct who_share v[WHO_MERGE_MAX];
	size_t n;
};

static void
merge_add(struct merged *m, const char *key, uint64_t count)
{
	size_t i;

	if (count == 0)
		return;
	for (i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].key, key) == 0) {
			m->v[i].new_connections += count;
			return;
		}
	}
	if (m->n == WHO_MERGE_MAX)
		return; /* past the cap: the smallest keys of a long tail */
	snprintf(m->v[m->n].key, sizeof(m->v[m->n].key), "%s", key);
	m->v[m->n].new_connections = count;
	m->n++;
}

/* A prefix's length ("10.1.2.0/24": 24); 0 when it has none. */
static unsigned
prefix_len(const char *key)
{
	const char *slash = strrchr(key, '/');
	unsigned v = 0;

	if (slash == NULL)
		return 0;
	for (slash++; *slash >= '0' && *slash <= '9' && v < 1000; slash++)
		v = v * 10 + (unsigned)(*slash - '0');
	return v;
}

/* Whether a prefix names one address's own counter (/32, or an IPv6 /64): the
 * prefixes whose counts add up to the node's new connections. */
static bool
prefix_is_finest(const char *key)
{
	unsigned l = prefix_len(key);

	return l == 32 || l == 64;
}

/* Largest first; ties: the narrower prefix, then by name. */
static int
share_order(const void *a, const void *b)
{
	const struct who_share *x = a, *y = b;
	unsigned lx, ly;

	if (x->new_connections != y->new_connections)
		return x->new_connections > y->new_connections ? -1 : 1;
	lx = prefix_len(x->key);
	ly = prefix_len(y->key);
	if (lx != ly)
		return lx > ly ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void
percent(double share, char *buf, size_t len)
{
	snprintf(buf, len, "%.0f%%", share * 100.0);
}

/* The shown list of m, and the dominant one (-1: none). For sources the dominant one is
 * the narrowest prefix that holds the share (a /32 rather than its /24), shown even if
 * wider prefixes of as many connections fill the list. */
static int
pick(struct merged *m, uint64_t total, bool narrowest, struct who_share *shown, size_t *nshown)
{
	size_t i, best = m->n;

	qsort(m->v, m->n, sizeof(m->v[0]), share_order);
	for (i = 0; i < m->n; i++) {
		m->v[i].share = total > 0 ? (double)m->v[i].new_connections / (double)total : 0.0;
		if (m->v[i].share > 1.0)
			m->v[i].share = 1.0;
		if (m->v[i].share >= WHO_DOMINANT_SHARE &&
		    (best == m->n || (narrowest && prefix_len(m->v[i].key) >
		    prefix_len(m->v[best].key))))
			best = i;
	}
	*nshown = m->n < WHO_SHOWN_MAX ? m->n : WHO_SHOWN_MAX;
	memcpy(shown, m->v, *nshown * sizeof(shown[0]));
	if (best == m->n)
		return -1;
	if (best >= *nshown) {
		shown[*nshown - 1] = m->v[best];
		return (int)*nshown - 1;
	}
	return (int)best;
}

static void
texts(struct who_verdict *out)
{
	char ts[PERCENT_MAX], ss[PERCENT_MAX];
	const struct who_share *t = out->dominant_tenant >= 0 ? &out->tenants[out->dominant_tenant] :
	    NULL;
	const struct who_share *s = out->dominant_source >= 0 ? &out->sources[out->dominant_source] :
	    NULL;

	if (t != NULL)
		percent(t->share, ts, sizeof(ts));
	if (s != NULL)
		percent(s->share, ss, sizeof(ss));
	if (!out->known) {
		snprintf(out->finding, sizeof(out->finding), "who is connecting is not known: the "
		    "nodes that take clients report no tenants or sources");
	} else if (out->new_connections == 0) {
		snprintf(out->finding, sizeof(out->finding),
		    "no new connections counted by tenant or source yet");
	} else if (t != NULL && s != NULL) {
		if (strcmp(ts, ss) == 0)
			snprintf(out->finding, sizeof(out->finding),
			    "%s of new connections: tenant %s, from %s", ts, t->key, s->key);
		else
			snprintf(out->finding, sizeof(out->finding),
			    "%s of new connections: tenant %s, from %s (%s)", ts, t->key, s->key, ss);
	} else if (t != NULL) {
		snprintf(out->finding, sizeof(out->finding),
		    "%s of new connections: tenant %s, from no dominant source", ts, t->key);
	} else if (s != NULL) {
		snprintf(out->finding, sizeof(out->finding),
		    "%s of new connections: from %s (no dominant tenant)", ss, s->key);
	} else {
		snprintf(out->finding, sizeof(out->finding), "no dominant tenant or source");
	}

	switch (out->remedy) {
	case WHO_REMEDY_LIMIT_TENANT:
		snprintf(out->remedy_text, sizeof(out->remedy_text),
		    "limit the tenant: mctl tenant connlimit %s --new-per-second R (R: what its "
		    "plan allows)", t->key);
		break;
	case WHO_REMEDY_LIMIT_SOURCE:
		snprintf(out->remedy_text, sizeof(out->remedy_text),
		    "limit the source: mcd --source-conn-rate R and --source-max-unauth N shed "
		    "%s's new connections; block it at the network if it is no customer's", s->key);
		break;
	case WHO_REMEDY_REBALANCE:
		percent(out->busiest_share, ts, sizeof(ts));
		snprintf(out->remedy_text, sizeof(out->remedy_text),
		    "rebalance: %s holds %s of the cluster's connections: mctl rebalance %s "
		    "--shed N", out->busiest, ts, out->busiest);
		break;
	case WHO_REMEDY_NETWORK:
		snprintf(out->remedy_text, sizeof(out->remedy_text),
		    "look at the network: no tenant or source stands out, as when clients "
		    "everywhere reconnect at once (a network event, a load balancer, a failover)");
		break;
	case WHO_REMEDY_NONE:
		snprintf(out->remedy_text, sizeof(out->remedy_text),
		    "see the runbook: without the nodes' accounting the cause cannot be named");
		break;
	}
}

void
who_merge(const struct who_node *const *nodes, const char *const *names, size_t n,
    struct who_verdict *out)
{
	struct merged tenants, sources; /* 2 x 11 KiB */
	uint64_t total = 0, tenant_sum = 0, finest_sum = 0, curr_sum = 0, curr_max = 0;
	size_t i, j, takers = 0;

	memset(out, 0, sizeof(*out));
	tenants.n = sources.n = 0;
	out->dominant_tenant = out->dominant_source = -1;
	for (i = 0; i < n; i++) {
		const struct who_node *w = nodes[i];
		if (w == NULL)
			continue;
		takers++;
		out->known = out->known || w->reported;
		total += w->episode_total;
		curr_sum += w->curr_connections;
		if (w->curr_connections > curr_max || out->busiest[0] == '\0') {
			curr_max = w->curr_connections;
			snprintf(out->busiest, sizeof(out->busiest), "%s", names[i]);
		}
		for (j = 0; j < w->ntenants; j++) {
			merge_add(&tenants, w->tenants[j].key, w->tenants[j].episode_new);
			tenant_sum += w->tenants[j].episode_new;
		}
		for (j = 0; j < w->nsources; j++) {
			merge_add(&sources, w->sources[j].key, w->sources[j].episode_new);
			if (prefix_is_finest(w->sources[j].key))
				finest_sum += w->sources[j].episode_new;
		}
	}
	/* Estimates (a key new to a node, a source's count) may run ahead of the node's
	 * own counter: the whole is never less than its parts. */
	if (tenant_sum > total)
		total = tenant_sum;
	if (finest_sum > total)
		total = finest_sum;
	out->new_connections = total;
	out->dominant_tenant = pick(&tenants, total, false, out->tenants, &out->ntenants);
	out->dominant_source = pick(&sources, total, true, out->sources, &out->nsources);
	out->dominant = out->dominant_tenant >= 0 || out->dominant_source >= 0;
	if (takers >= 2 && curr_sum > 0) {
		out->busiest_share = (double)curr_max / (double)curr_sum;
	} else {
		out->busiest[0] = '\0';
	}
	if (!out->known)
		out->remedy = WHO_REMEDY_NONE;
	else if (out->dominant_tenant >= 0)
		out->remedy = WHO_REMEDY_LIMIT_TENANT;
	else if (out->dominant_source >= 0)
		out->remedy = WHO_REMEDY_LIMIT_SOURCE;
	else if (out->busiest[0] != '\0' && out->busiest_share >= WHO_REBALANCE_SHARE)
		out->remedy = WHO_REMEDY_REBALANCE;
	else
		out->remedy = WHO_REMEDY_NETWORK;
	texts(out);
}

const char *
who_remedy_name(enum who_remedy r)
{
	switch (r) {
	case WHO_REMEDY_LIMIT_TENANT:
		return "limit_tenant";
	case WHO_REMEDY_LIMIT_SOURCE:
		return "limit_source";
	case WHO_REMEDY_REBALANCE:
		return "rebalance";
	case WHO_REMEDY_NETWORK:
		return "network";
	case WHO_REMEDY_NONE:
		break;
	}
	return "none";
}
