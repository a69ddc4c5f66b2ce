/*
 * adminport — a client of a cache node's admin port as the operator's tools use it
 * (mctl, and mcalert for remedies run from chat): connect and log in as the cluster's
 * admin account, and read how many clients a node holds whatever its role.
 *
 * Blocking, each call bounded by its timeout; never logs (errors into err).
 */
#ifndef MCOPS_ADMINPORT_H
#define MCOPS_ADMINPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

struct mcclient;

/*
 * Connects to n's admin port (within timeout_ms) and logs in as c's admin account
 * when one is configured. 0 with mc open (the caller closes it), or -1 with err set
 * (no admin address, refused, login failed) and nothing open.
 */
int adminport_connect(const struct cluster *c, const struct cluster_node *n,
    int64_t timeout_ms, struct mcclient *mc, char *err, size_t errlen);

/* What a node's admin port says about its connections. */
struct adminport_conns {
	uint64_t clients;          /* client connections, admin ones not counted */
	bool accepting;            /* false while drained */
	/* A proxy's side towards its backends (`stats proxy`); zero on a backend. */
	uint64_t backend_connections;
	uint64_t backends;
	uint64_t backends_up;
};

/*
 * Reads n's connections through its admin port: on a backend `stats`
 * (curr_connections less this admin connection), on a proxy `stats proxy` too
 * (client_connections, which counts no admin connection, and its backends).
 * 0, or -1 with err set.
 */
int adminport_conns(const struct cluster *c, const struct cluster_node *n,
    int64_t timeout_ms, struct adminport_conns *out, char *err, size_t errlen);

#endif
