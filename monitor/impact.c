/*
 * impact — see impact.h.
 */
#include <string.h>

#include "impact.h"

/* The distinct tenants of one side, by name. */
struct tenant_set {
	const char *names[IMPACT_TENANTS_MAX];
	size_t n;
	bool full;
};

static void
set_add(struct tenant_set *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return;
	if (s->n == IMPACT_TENANTS_MAX) {
		s->full = true;
		return;
	}
	s->names[s->n++] = name;
}

/* Whether node's view is whole: tenants answered and none left out with connections. */
static bool
view_complete(const struct nodestats *st)
{
	return st != NULL && st->has_tenants && st->tenants_other_curr == 0;
}

static bool
ignored(const char *name, const char *const *ignore, size_t nignore)
{
	size_t i;

	for (i = 0; i < nignore; i++)
		if (ignore[i] != NULL && strcmp(ignore[i], name) == 0)
			return true;
	return false;
}

void
impact_compute(const struct impact_node *nodes, size_t n, const char *const *ignore,
    size_t nignore, struct impact *out)
{
	struct tenant_set all = { .n = 0 }, hit = { .n = 0 };
	size_t i, t;
	bool any_affected = false;

	memset(out, 0, sizeof(*out));
	out->percent = -1;
	for (i = 0; i < n; i++) {
		const struct impact_node *nd = &nodes[i];

		if (!nd->takes_clients) {
			if (nd->affected)
				return; /* a backend behind proxies: every tenant's keys are there */
			continue;
		}
		if (!view_complete(nd->stats))
			return;
		any_affected = any_affected || nd->affected;
		for (t = 0; t < nd->stats->ntenants; t++) {
			const struct connstats_entry *e = &nd->stats->tenants[t];

			if (e->v[CONNSTATS_CURR_CONNECTIONS] == 0 ||
			    ignored(e->key, ignore, nignore))
				continue;
			set_add(&all, e->key);
			if (nd->affected)
				set_add(&hit, e->key);
		}
	}
	if (!any_affected || all.n == 0 || all.full)
		return;
	out->known = true;
	out->tenants = hit.n;
	out->of = all.n;
	out->percent = (int)((hit.n * 200 + all.n) / (2 * all.n));
}
