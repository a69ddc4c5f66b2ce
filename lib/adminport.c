/*
 * adminport — see adminport.h.
 */
#include <stdio.h>
#include <string.h>

#include "adminport.h"
#include "mcclient.h"
#include "parse.h"

int
adminport_connect(const struct cluster *c, const struct cluster_node *n, int64_t timeout_ms,
    struct mcclient *mc, char *err, size_t errlen)
{
	if (n->admin.port == 0) {
		snprintf(err, errlen, "%s %s has no admin address in the configuration",
		    cluster_role_word(n->role), n->name);
		return -1;
	}
	if (mcclient_connect(mc, n->admin.host, n->admin.port, (int)timeout_ms, err, errlen) !=
	    MCCLIENT_OK)
		return -1;
	if (c->admin.set &&
	    mcclient_auth(mc, c->admin.user, c->admin.password, err, errlen) != MCCLIENT_OK) {
		mcclient_close(mc);
		return -1;
	}
	return 0;
}

/* A counter of a stats reply into *out. 0, or -1 with err naming it. */
static int
stat_u64(const struct mcclient *mc, const struct mcclient_stats *st, const char *args,
    const char *name, uint64_t *out, char *err, size_t errlen)
{
	const char *v = mcclient_stats_get(st, name);

	if (v == NULL || parse_u64(v, 0, UINT64_MAX, out) != 0) {
		snprintf(err, errlen, "%s: no %s in 'stats%s%s'", mc->addr, name,
		    args != NULL ? " " : "", args != NULL ? args : "");
		return -1;
	}
	return 0;
}

int
adminport_conns(const struct cluster *c, const struct cluster_node *n, int64_t timeout_ms,
    struct adminport_conns *out, char *err, size_t errlen)
{
	struct mcclient_stats st = { 0 };
	struct mcclient mc;
	uint64_t curr, accepting;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (adminport_connect(c, n, timeout_ms, &mc, err, errlen) < 0)
		return -1;
	if (mcclient_stats(&mc, NULL, &st, err, errlen) != MCCLIENT_OK ||
	    stat_u64(&mc, &st, NULL, "curr_connections", &curr, err, errlen) < 0 ||
	    stat_u64(&mc, &st, NULL, "accepting_conns", &accepting, err, errlen) < 0)
		goto out;
	out->accepting = accepting != 0;
	/* curr_connections counts this admin connection too. */
	out->clients = curr > 0 ? curr - 1 : 0;
	if (n->role == CLUSTER_PROXY) {
		if (mcclient_stats(&mc, "proxy", &st, err, errlen) != MCCLIENT_OK ||
		    stat_u64(&mc, &st, "proxy", "client_connections", &out->clients, err,
		    errlen) < 0 ||
		    stat_u64(&mc, &st, "proxy", "backend_connections", &out->backend_connections,
		    err, errlen) < 0 ||
		    stat_u64(&mc, &st, "proxy", "backends", &out->backends, err, errlen) < 0 ||
		    stat_u64(&mc, &st, "proxy", "backends_up", &out->backends_up, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	mcclient_stats_release(&st);
	mcclient_close(&mc);
	return rc;
}
