/*
 * connstats — see connstats.h.
 */
#include <string.h>

#include "connstats.h"
#include "parse.h"

static const char *const field_names[CONNSTATS_FIELDS] = {
	"curr_connections", "total_connections", "new_conns", "count_error",
	"new_conns_per_sec", "unauth_connections", "auth_ok", "auth_failed", "rejected",
	"conn_reqs_1", "conn_reqs_2", "conn_reqs_3_10", "conn_reqs_11_100",
	"conn_reqs_101_plus",
};

/* A tenant's refusals are "rejected_connections" (as the global stat), a source's
 * "rejected" (SPEC17). */
#define TENANT_REJECTED "rejected_connections"

static const char *const group_names[CONNSTATS_GROUPS] = { "tenant", "source" };

const char *
connstats_field_name(enum connstats_group g, enum connstats_field f)
{
	if ((size_t)f >= CONNSTATS_FIELDS)
		return "unknown";
	if (g == CONNSTATS_TENANT && f == CONNSTATS_REJECTED)
		return TENANT_REJECTED;
	return field_names[f];
}

const char *
connstats_group_name(enum connstats_group g)
{
	return (size_t)g < CONNSTATS_GROUPS ? group_names[g] : "unknown";
}

static bool
token_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(p, word, n) == 0;
}

bool
connstats_line(const char *name, size_t nlen, const char *value, size_t vlen,
    enum connstats_group *g, const char **key, size_t *klen, enum connstats_field *f,
    uint64_t *v)
{
	const char *first, *last = NULL, *field;
	size_t i, flen, gi, fi;

	first = memchr(name, ':', nlen);
	if (first == NULL)
		return false;
	for (gi = 0; gi < CONNSTATS_GROUPS; gi++)
		if (token_is(name, (size_t)(first - name), group_names[gi]))
			break;
	if (gi == CONNSTATS_GROUPS)
		return false;
	for (i = nlen; i > 0; i--) {
		if (name[i - 1] == ':') {
			last = name + i - 1;
			break;
		}
	}
	if (last - first - 1 <= 0 || (size_t)(last - first - 1) > CONNSTATS_KEY_MAX)
		return false;
	field = last + 1;
	flen = nlen - (size_t)(field - name);
	for (fi = 0; fi < CONNSTATS_FIELDS; fi++)
		if (token_is(field, flen, connstats_field_name((enum connstats_group)gi,
		    (enum connstats_field)fi)))
			break;
	if (fi == CONNSTATS_FIELDS || parse_u64_n(value, vlen, 0, UINT64_MAX, v) != 0)
		return false;
	*g = (enum connstats_group)gi;
	*key = first + 1;
	*klen = (size_t)(last - first - 1);
	*f = (enum connstats_field)fi;
	return true;
}

struct connstats_entry *
connstats_entry(struct connstats_entry *v, size_t *n, size_t max, const char *key,
    size_t klen)
{
	size_t i;

	if (klen == 0 || klen > CONNSTATS_KEY_MAX)
		return NULL;
	/* mcd lists a key's lines together: the last entry is the usual answer. */
	for (i = *n; i > 0; i--)
		if (token_is(key, klen, v[i - 1].key))
			return &v[i - 1];
	if (*n >= max)
		return NULL;
	memset(&v[*n], 0, sizeof(v[*n]));
	memcpy(v[*n].key, key, klen);
	v[*n].key[klen] = '\0';
	return &v[(*n)++];
}

uint64_t
connstats_closed(const struct connstats_entry *e)
{
	return e->v[CONNSTATS_CONN_REQS_1] + e->v[CONNSTATS_CONN_REQS_2] +
	    e->v[CONNSTATS_CONN_REQS_3_10] + e->v[CONNSTATS_CONN_REQS_11_100] +
	    e->v[CONNSTATS_CONN_REQS_101_PLUS];
}

uint64_t
connstats_short(const struct connstats_entry *e)
{
	return e->v[CONNSTATS_CONN_REQS_1] + e->v[CONNSTATS_CONN_REQS_2];
}
