/*
 * kinds — see kinds.h. The table below is the only list of the kinds mcmon raises.
 */
#include <string.h>

#include "kinds.h"

static const struct kind table[] = {
	{
	    .name = "connection_storm",
	    .scope = KIND_SCOPE_CLUSTER,
	    .label = "storm",
	    .involvement = "in storm",
	    .public_title = "Connection errors in %s",
	    .public_first = "We are investigating connection errors and timeouts in %s.",
	    .runbook = "docs/runbooks/connection_storm.md",
	},
	{
	    .name = "latency_tail",
	    .scope = KIND_SCOPE_CLUSTER,
	    .label = "tail",
	    .involvement = "with a tail",
	    .public_title = "Elevated latency in %s",
	    .public_first = "We are investigating elevated latency in %s.",
	    .runbook = "docs/runbooks/latency_tail.md",
	},
	{
	    .name = "node_down",
	    .scope = KIND_SCOPE_NODE,
	    .label = "down",
	    .involvement = NULL,
	    .public_title = "Degraded availability in %s",
	    .public_first = "We are investigating degraded availability in %s. Some requests "
			    "may fail or miss the cache.",
	    .runbook = "docs/runbooks/node_down.md",
	},
	{
	    /* The proxies report a backend down while it answers mcmon: the path between
	     * them, or a backend too slow for the proxies' timeout. */
	    .name = "backend_ejected",
	    .scope = KIND_SCOPE_NODE,
	    .label = "ejected",
	    .involvement = NULL,
	    .public_title = "Reduced cache capacity in %s",
	    .public_first = "We are investigating reduced cache capacity in %s. Some requests "
			    "may miss the cache or be slower.",
	    .runbook = "docs/runbooks/backend_ejected.md",
	},
	{
	    /* A tenant opening a connection per request or two: it pays a set-up and a
	     * login each time, and the servers the logins. A customer's setting to
	     * change, not an outage: nobody is paged. */
	    .name = "connection_churn",
	    .scope = KIND_SCOPE_CLUSTER,
	    .label = "churn",
	    .involvement = "with churn",
	    .public_title = "Increased connection set-ups in %s",
	    .public_first = "We are looking at an increase in connection set-ups in %s. The "
			    "service is not affected.",
	    .runbook = "docs/runbooks/connection_churn.md",
	    .advisory = true,
	},
};

#define NKINDS (sizeof(table) / sizeof(table[0]))

_Static_assert(NKINDS <= KINDS_MAX, "more kinds than KINDS_MAX: raise it");

/* What the status page says of an incident of any other kind. */
#define OTHER_PUBLIC_TITLE "Service disruption in %s"
#define OTHER_PUBLIC_FIRST "We are investigating an issue affecting %s."

size_t
kinds_count(void)
{
	return NKINDS;
}

const struct kind *
kinds_at(size_t i)
{
	return i < NKINDS ? &table[i] : NULL;
}

int
kinds_index(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NKINDS; i++) {
		if (strcmp(table[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

const struct kind *
kinds_find(const char *name)
{
	int i = kinds_index(name);

	return i >= 0 ? &table[i] : NULL;
}

const char *
kinds_public_title(const char *name)
{
	const struct kind *k = kinds_find(name);

	return k != NULL ? k->public_title : OTHER_PUBLIC_TITLE;
}

bool
kinds_pages(const char *name)
{
	const struct kind *k = kinds_find(name);

	return k == NULL || !k->advisory;
}

bool
kinds_public(const char *name)
{
	return kinds_pages(name);
}

const char *
kinds_public_first(const char *name)
{
	const struct kind *k = kinds_find(name);

	return k != NULL ? k->public_first : OTHER_PUBLIC_FIRST;
}
