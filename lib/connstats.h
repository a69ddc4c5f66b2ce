/*
 * connstats — the per-tenant and per-source connection lines of mcd's `stats tenants`
 * and `stats sources` (admin port; docs/mcd.md, docs/conns.md), read one STAT line at a
 * time. The one place that knows their names, for both readers (mcmon's nodestats and
 * `mctl conns --by`).
 *
 *   STAT tenant:NAME:FIELD VALUE     STAT tenants_other:FIELD VALUE
 *   STAT source:PREFIX:FIELD VALUE   STAT sources_other:new_conns VALUE
 *   STAT sources_tracked|sources_capacity|sources_memory_bytes VALUE
 * The key (NAME, PREFIX) is everything between the first ':' and the LAST one: an IPv6
 * prefix ("2001:db8:1:2::/64") holds colons, a field name never does.
 *
 * Pure: no I/O, nothing logged, nothing allocated. Fields it does not know, and values
 * that are not numbers, are not an error: the line is simply not one of ours.
 */
#ifndef MCOPS_CONNSTATS_H
#define MCOPS_CONNSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONNSTATS_KEY_MAX 64 /* a tenant's name (TENANT_NAME_MAX) or a prefix ("x/64") */

enum connstats_group {
	CONNSTATS_TENANT, /* tenant:NAME:FIELD */
	CONNSTATS_SOURCE, /* source:PREFIX:FIELD */
	CONNSTATS_GROUPS,
};

/* The numbers of one tenant or source. A tenant's rejected_connections and a source's
 * rejected are both CONNSTATS_REJECTED; new_conns and count_error are a source's only. */
enum connstats_field {
	CONNSTATS_CURR_CONNECTIONS,
	CONNSTATS_TOTAL_CONNECTIONS, /* a tenant: authenticated connections ever */
	CONNSTATS_NEW_CONNS,         /* a source: its new connections (an estimate) */
	CONNSTATS_COUNT_ERROR,       /* a source: the estimate's overestimate bound */
	CONNSTATS_NEW_CONNS_PER_SEC, /* last 10 s, rounded down */
	CONNSTATS_UNAUTH_CONNECTIONS,
	CONNSTATS_AUTH_OK,
	CONNSTATS_AUTH_FAILED,
	CONNSTATS_REJECTED,
	CONNSTATS_CONN_REQS_1, /* closed connections that served that many requests */
	CONNSTATS_CONN_REQS_2,
	CONNSTATS_CONN_REQS_3_10,
	CONNSTATS_CONN_REQS_11_100,
	CONNSTATS_CONN_REQS_101_PLUS,
	CONNSTATS_FIELDS,
};

/* One tenant's or source's numbers (absent ones are 0). */
struct connstats_entry {
	char key[CONNSTATS_KEY_MAX + 1];
	uint64_t v[CONNSTATS_FIELDS];
};

/* The field's name as mcd writes it for group g ("rejected_connections" for a tenant). */
const char *connstats_field_name(enum connstats_group g, enum connstats_field f);

/* The group's word in the reply ("tenant", "source") and in mctl ("tenant", "source"). */
const char *connstats_group_name(enum connstats_group g);

/*
 * A per-key line: name[0..nlen) is "tenant:KEY:FIELD" or "source:KEY:FIELD" with a known
 * FIELD, KEY 1..CONNSTATS_KEY_MAX bytes, and value[0..vlen) a number. Returns true and
 * fills *g, *key and *klen (pointing into name), *f and *v; false for any other line.
 */
bool connstats_line(const char *name, size_t nlen, const char *value, size_t vlen,
    enum connstats_group *g, const char **key, size_t *klen, enum connstats_field *f,
    uint64_t *v);

/*
 * The entry of key[0..klen) in v[0..*n): found by name, or appended (zeroed) when
 * *n < max. NULL when the table is full or the key too long: a bounded reader skips
 * what does not fit.
 */
struct connstats_entry *connstats_entry(struct connstats_entry *v, size_t *n, size_t max,
    const char *key, size_t klen);

/* A closed connection's requests: the sum of the five conn_reqs buckets. */
uint64_t connstats_closed(const struct connstats_entry *e);
/* Those that served at most two requests (conn_reqs_1 + conn_reqs_2). */
uint64_t connstats_short(const struct connstats_entry *e);

#endif
