/*
 * kind_churn — connection churn (lib/kinds.h "connection_churn", an advisory: never
 * paged): a tenant whose connections serve at most two requests each, at a sustained
 * rate of new connections. Each node that takes clients judges its tenants at every
 * poll from the differences who.h keeps (the tenant's new connections over the
 * interval, and of its connections that closed, those that served one or two requests);
 * the cluster's episode is one incident naming the tenants, their rates and the cost.
 *
 * Per tenant on a node: a poll where its rate is at least churn_rate and at least
 * churn_share of its closed connections served at most two requests continues its
 * streak (one where none closed leaves the streak as it is); any other poll, or the
 * tenant leaving the node's top N, breaks it. A streak of churn_sustain fires the node;
 * it recovers when no tenant is in a streak, and is clear after churn_clear of that.
 */
#include <stdio.h>
#include <string.h>

#include "kind.h"

#define NAME "connection_churn"
#define CHURN_SHORT_REQUESTS 2  /* "at most two requests" */
#define CHURN_COST_FACTOR 4     /* a set-up and a login per request: about 4x one get
                                   (docs/runbooks/connection_churn.md) */
#define CHURN_SHOWN_MAX 3       /* tenants named in the title and the finding */
#define TITLE_NAMES_MAX 160

/* One tenant's streak on one node, and its figures at the latest poll of the streak. */
struct churn_tenant {
	char name[CONNSTATS_KEY_MAX + 1];
	int64_t since_ms;   /* start of its streak; 0: not churning */
	int64_t last_ms;    /* latest poll of the streak */
	bool sustained;     /* the streak reached churn_sustain */
	double rate;        /* new connections per second */
	double auth_rate;   /* logins per second */
	uint64_t short_closed, closed; /* of the latest poll with closed connections */
};

struct churn_node {
	struct detect_status status;
	struct churn_tenant t[WHO_KEYS_MAX];
	size_t n;
	int64_t quiet_since_ms; /* no tenant in a streak since; 0 while one is */
	bool latched;
};

static struct churn_node *
node_of(const struct watch_node *n, size_t k)
{
	return n->kind_state[k];
}

static const struct detect_status *
churn_status(const void *state)
{
	return &((const struct churn_node *)state)->status;
}

static struct churn_tenant *
tenant_of(struct churn_node *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->t[i].name, name) == 0)
			return &c->t[i];
	for (i = 0; i < c->n; i++) /* a slot whose tenant is not churning */
		if (c->t[i].since_ms == 0)
			break;
	if (i == c->n) {
		if (c->n == WHO_KEYS_MAX)
			return NULL;
		c->n++;
	}
	memset(&c->t[i], 0, sizeof(c->t[i]));
	snprintf(c->t[i].name, sizeof(c->t[i].name), "%s", name);
	return &c->t[i];
}

static void
set_state(struct churn_node *c, enum detect_state st, int64_t now_ms)
{
	if (c->status.state == st)
		return;
	c->status.state = st;
	c->status.since_ms = now_ms;
	if (st == DETECT_FIRING && c->status.opened_ms == 0) {
		c->status.opened_ms = now_ms;
		c->latched = true;
	}
	if (st == DETECT_FIRING || st == DETECT_RECOVERING)
		c->status.severity = DETECT_SEVERITY_MINOR;
	if (st == DETECT_OK || st == DETECT_PENDING) {
		c->status.severity = DETECT_SEVERITY_NONE;
		c->status.opened_ms = 0;
	}
}

static void
churn_poll(struct watch *w, struct watch_node *n, size_t k, const struct nodestats *st,
    int64_t now_ms)
{
	const struct detect_config *cfg = &w->cfg->detect;
	struct churn_node *c = node_of(n, k);
	const struct who_node *who = &n->who;
	bool streak = false, sustained = false;
	size_t i;

	(void)st;
	if (!n->takes_clients || who->interval_ms <= 0)
		return;
	for (i = 0; i < who->ntenants; i++) {
		const struct who_key *key = &who->tenants[i];
		double rate = (double)key->d_new * 1000.0 / (double)who->interval_ms;
		struct churn_tenant *t;
		bool churning;

		if (!key->listed)
			continue;
		churning = rate >= cfg->churn_rate &&
		    (key->d_closed == 0 ||
		    (double)key->d_short >= cfg->churn_share * (double)key->d_closed);
		t = tenant_of(c, key->key);
		if (t == NULL)
			continue;
		if (!churning || (key->d_closed == 0 && t->since_ms == 0)) {
			/* A streak starts at a poll that saw its connections close. */
			t->since_ms = 0;
			t->sustained = false;
			continue;
		}
		if (t->since_ms == 0)
			t->since_ms = now_ms;
		t->last_ms = now_ms;
		t->rate = rate;
		t->auth_rate = (double)key->d_auth * 1000.0 / (double)who->interval_ms;
		if (key->d_closed > 0) {
			t->short_closed = key->d_short;
			t->closed = key->d_closed;
		}
		if (now_ms - t->since_ms >= cfg->churn_sustain_ms)
			t->sustained = true;
	}
	for (i = 0; i < c->n; i++) {
		/* Listed tenants were just judged; the others have no streak now. */
		if (c->t[i].last_ms != now_ms) {
			c->t[i].since_ms = 0;
			c->t[i].sustained = false;
		}
		streak = streak || c->t[i].since_ms != 0;
		sustained = sustained || c->t[i].sustained;
	}
	if (sustained) {
		c->quiet_since_ms = 0;
		set_state(c, DETECT_FIRING, now_ms);
	} else if (c->status.state == DETECT_FIRING || c->status.state == DETECT_RECOVERING) {
		if (streak) {
			c->quiet_since_ms = 0;
			return;
		}
		if (c->quiet_since_ms == 0)
			c->quiet_since_ms = now_ms;
		set_state(c, now_ms - c->quiet_since_ms >= cfg->churn_clear_ms ? DETECT_OK :
		    DETECT_RECOVERING, now_ms);
	} else {
		set_state(c, streak ? DETECT_PENDING : DETECT_OK, now_ms);
	}
}

static struct detect_status
churn_episode_member(struct watch *w, struct watch_node *n, size_t k)
{
	struct churn_node *c = node_of(n, k);
	struct detect_status st = c->status;

	(void)w;
	if (c->latched && !detect_status_open(&st)) {
		st.state = DETECT_FIRING;
		st.severity = DETECT_SEVERITY_MINOR;
	}
	c->latched = false;
	return st;
}

static int64_t
churn_episode_grace_ms(const struct monconfig *cfg)
{
	return cfg->detect.churn_clear_ms;
}

/* A churning tenant over the cluster's nodes: rates summed, closed connections too. */
struct churn_sum {
	char name[CONNSTATS_KEY_MAX + 1];
	double rate, auth_rate;
	uint64_t short_closed, closed;
};

/* The tenants in a sustained streak on some node of the cluster, by rate, largest
 * first; returns how many (at most max). */
static size_t
churning_tenants(const struct kind_subject *s, struct churn_sum *v, size_t max)
{
	const struct watch_cluster *cl = s->cluster;
	size_t i, j, m, n = 0;

	for (i = 0; i < cl->nnodes; i++) {
		const struct churn_node *c = node_of(cl->nodes[i], s->kind);
		for (j = 0; j < c->n; j++) {
			const struct churn_tenant *t = &c->t[j];
			if (!t->sustained)
				continue;
			for (m = 0; m < n && strcmp(v[m].name, t->name) != 0; m++)
				;
			if (m == n) {
				if (n == max)
					continue;
				memset(&v[n], 0, sizeof(v[n]));
				snprintf(v[n].name, sizeof(v[n].name), "%s", t->name);
				n++;
			}
			v[m].rate += t->rate;
			v[m].auth_rate += t->auth_rate;
			v[m].short_closed += t->short_closed;
			v[m].closed += t->closed;
		}
	}
	for (i = 1; i < n; i++) { /* insertion sort: a handful */
		struct churn_sum x = v[i];
		for (j = i; j > 0 && v[j - 1].rate < x.rate; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return n;
}

static void
churn_title(const struct kind_subject *s, char *buf, size_t len)
{
	struct churn_sum v[CHURN_SHOWN_MAX];
	char names[TITLE_NAMES_MAX] = "";
	size_t i, n = churning_tenants(s, v, CHURN_SHOWN_MAX), used = 0;

	for (i = 0; i < n && used < sizeof(names); i++) {
		int w = snprintf(names + used, sizeof(names) - used, "%s%s", i > 0 ? ", " : "",
		    v[i].name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (n > 0)
		snprintf(buf, len, "Connection churn in cluster %s: tenant%s %s", s->cluster->name,
		    n > 1 ? "s" : "", names);
	else
		snprintf(buf, len, "Connection churn in cluster %s", s->cluster->name);
}

static json_t *
churn_node_json(const struct watch_node *n, size_t k, bool involved)
{
	const struct churn_node *c = node_of(n, k);
	json_t *tenants;
	size_t i;

	if (!involved && !detect_status_open(&c->status))
		return NULL;
	tenants = json_array();
	for (i = 0; i < c->n; i++)
		if (c->t[i].since_ms != 0)
			json_array_append_new(tenants, json_string(c->t[i].name));
	return json_pack("{s:o}", "churning", tenants);
}

static json_t *
churn_evidence(const struct kind_subject *s)
{
	struct churn_sum v[WHO_KEYS_MAX];
	size_t i, n = churning_tenants(s, v, WHO_KEYS_MAX);
	json_t *o = kind_episode_evidence(s, churn_node_json), *list;
	char finding[WHO_TEXT_MAX], remedy[WHO_TEXT_MAX];
	double share;

	if (o == NULL)
		return NULL;
	list = json_array();
	for (i = 0; i < n; i++) {
		share = v[i].closed > 0 ? (double)v[i].short_closed / (double)v[i].closed : 0.0;
		json_array_append_new(list, json_pack("{s:s, s:o, s:o, s:o, s:i}", "name", v[i].name,
		    "new_connections_per_second", kind_json_real(v[i].rate),
		    "logins_per_second", kind_json_real(v[i].auth_rate),
		    "short_share", kind_json_real(share), "cost_factor", CHURN_COST_FACTOR));
	}
	if (n > 0) {
		share = v[0].closed > 0 ? (double)v[0].short_closed / (double)v[0].closed : 0.0;
		snprintf(finding, sizeof(finding), "tenant %s opens %.1f new connections/s and %.0f%% "
		    "of them serve at most %d requests: each request pays a connection set-up and "
		    "a login, about %dx the time of one get, and the servers %.1f logins/s%s",
		    v[0].name, v[0].rate, share * 100.0, CHURN_SHORT_REQUESTS, CHURN_COST_FACTOR,
		    v[0].auth_rate, n > 1 ? " (and other tenants: see the list)" : "");
		snprintf(remedy, sizeof(remedy), "tell tenant %s's owner to keep connections open "
		    "across requests (a persistent connection or a pool; Django: the backend in "
		    "clients/python): docs/runbooks/connection_churn.md", v[0].name);
	} else {
		snprintf(finding, sizeof(finding), "no tenant churns now");
		snprintf(remedy, sizeof(remedy), "nothing to do while no tenant churns");
	}
	json_object_set_new(o, "tenants", list);
	json_object_set_new(o, "finding", json_string(finding));
	json_object_set_new(o, "remedy", json_string(remedy));
	return o;
}

static void
churn_summary(const struct kind_subject *s, const struct watch_incident *inc, char *buf,
    size_t len)
{
	(void)inc;
	snprintf(buf, len, "cleared: no tenant of %s churns connections any more",
	    s->cluster->name);
}

/* A streak long enough to fire again. */
static int64_t
churn_adoption_extra_ms(const struct monconfig *cfg)
{
	return cfg->detect.churn_sustain_ms + 2 * cfg->set.poll_interval_ms;
}

const struct kind_ops kind_churn_ops = {
	.name = NAME,
	.node_size = sizeof(struct churn_node),
	.status = churn_status,
	.poll = churn_poll,
	.episode_member = churn_episode_member,
	.episode_grace_ms = churn_episode_grace_ms,
	.title = churn_title,
	.evidence = churn_evidence,
	.summary = churn_summary,
	.adoption_extra_ms = churn_adoption_extra_ms,
};
