#include "tenant.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static struct tenant *
tenant_new(const char *name, uint64_t limit)
{
	struct tenant *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if ((t->store = store_new(limit)) == NULL) {
		free(t);
		return NULL;
	}
	atomic_store(&t->refs, 1);
	pthread_mutex_init(&t->conn_lock, NULL);
	return t;
}

void
tenant_get(struct tenant *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void
tenant_put(struct tenant *t)
{
	if (t == NULL)
		return;
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		store_free(t->store);
		pthread_mutex_destroy(&t->conn_lock);
		free(t);
	}
}

int
tenant_registry_init_default(struct tenant_registry *r, uint64_t limit)
{
	memset(r, 0, sizeof(*r));
	pthread_rwlock_init(&r->lock, NULL);
	r->default_limit = limit;
	r->tenants = calloc(1, sizeof(*r->tenants));
	if (r->tenants == NULL)
		return -1;
	if ((r->tenants[0] = tenant_new("", limit)) == NULL) {
		free(r->tenants);
		return -1;
	}
	atomic_store(&r->tenants[0]->caps, TENANT_CAPS_DEFAULT);
	r->n = 1;
	r->auth = false;
	return 0;
}

static int
cmp_tenant(const void *a, const void *b)
{
	const struct tenant *x = *(struct tenant *const *)a;
	const struct tenant *y = *(struct tenant *const *)b;

	return strcmp(x->name, y->name);
}

/* Index of name in the sorted array, or -1. Caller holds the lock. */
static ssize_t
find_locked(const struct tenant_registry *r, const char *name, size_t len)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *mn = r->tenants[mid]->name;
		size_t ml = strlen(mn);
		int c = memcmp(mn, name, ml < len ? ml : len);
		if (c == 0)
			c = ml < len ? -1 : ml > len ? 1 : 0;
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The decoy's credentials: a random salt and the hash of a random password, which
 * no login can match (and which is never known). 0 or -1 (no randomness). */
static int
decoy_init(struct tenant_entry *d)
{
	char pw[TENANT_PASSWORD_LEN + 1];
	int rc;

	memset(d, 0, sizeof(*d));
	if (tenant_generate_password(pw, sizeof(pw)) < 0)
		return -1;
	rc = tenant_set_password(d, pw, strlen(pw));
	explicit_bzero(pw, sizeof(pw));
	return rc;
}

int
tenant_registry_apply(struct tenant_registry *r, const struct tenant_file *tf, int64_t now,
    size_t *revoked)
{
	struct tenant_entry decoy;
	struct tenant **next;
	bool *kept;
	size_t i, gone = 0;

	if (!r->decoy_ready && decoy_init(&decoy) < 0)
		return -1;

	next = calloc(tf->n ? tf->n : 1, sizeof(*next));
	kept = calloc(r->n ? r->n : 1, sizeof(*kept));
	if (next == NULL || kept == NULL) {
		free(next);
		free(kept);
		return -1;
	}
	pthread_rwlock_wrlock(&r->lock);
	/* First find or create every tenant of the file, without changing anything
	 * visible, so that a failure leaves the registry as it was. */
	for (i = 0; i < tf->n; i++) {
		const struct tenant_entry *e = &tf->entries[i];
		ssize_t at = r->auth ? find_locked(r, e->name, strlen(e->name)) : -1;
		if (at >= 0) {
			next[i] = r->tenants[at];
			kept[at] = true;
		} else if ((next[i] = tenant_new(e->name, e->limit)) != NULL) {
			next[i]->counted = true;
		} else {
			while (i-- > 0) {
				ssize_t k = r->auth ? find_locked(r, next[i]->name,
				    strlen(next[i]->name)) : -1;
				if (k < 0 || r->tenants[k] != next[i])
					tenant_put(next[i]);
			}
			pthread_rwlock_unlock(&r->lock);
			free(next);
			free(kept);
			return -1;
		}
	}
	/* Commit. */
	if (!r->decoy_ready) {
		r->decoy = decoy;
		r->decoy_ready = true;
	}
	for (i = 0; i < tf->n; i++) {
		const struct tenant_entry *e = &tf->entries[i];
		/* A new tenant starts at generation 1; a kept one whose salt or hash
		 * changed moves on, which ends the sessions of its old password. */
		bool is_new = atomic_load(&next[i]->cred_gen) == 0;
		bool changed = !is_new && (memcmp(next[i]->salt, e->salt, sizeof(e->salt)) != 0 ||
		    memcmp(next[i]->hash, e->hash, sizeof(e->hash)) != 0);
		if (is_new || changed)
			atomic_fetch_add(&next[i]->cred_gen, 1);
		if (changed)
			gone++;
		memcpy(next[i]->salt, e->salt, sizeof(e->salt));
		memcpy(next[i]->hash, e->hash, sizeof(e->hash));
		atomic_store(&next[i]->caps, e->caps);
		store_set_limit(next[i]->store, e->limit, now);
		atomic_store(&next[i]->max_conns, e->max_conns);
		atomic_store(&next[i]->conn_rate, e->conn_rate);
	}
	for (i = 0; i < r->n; i++) {
		if (!kept[i]) {
			atomic_store(&r->tenants[i]->removed, true);
			tenant_put(r->tenants[i]);
			if (r->auth)
				gone++;
		}
	}
	free(r->tenants);
	r->tenants = next;
	r->n = tf->n;
	r->auth = true;
	qsort(r->tenants, r->n, sizeof(*r->tenants), cmp_tenant);
	pthread_rwlock_unlock(&r->lock);
	free(kept);
	if (revoked != NULL)
		*revoked = gone;
	return 0;
}

void
tenant_registry_release(struct tenant_registry *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		tenant_put(r->tenants[i]);
	free(r->tenants);
	pthread_rwlock_destroy(&r->lock);
	memset(r, 0, sizeof(*r));
}

struct tenant *
tenant_authenticate(struct tenant_registry *r, const char *name, size_t namelen,
    const char *password, size_t pwlen, uint64_t *cred_gen)
{
	struct tenant_entry probe;
	struct tenant *t = NULL;
	ssize_t at = -1;
	bool ok;

	pthread_rwlock_rdlock(&r->lock);
	if (!r->auth || !r->decoy_ready) {
		pthread_rwlock_unlock(&r->lock);
		return NULL; /* no tenants at all: nothing to hide */
	}
	if (namelen <= TENANT_NAME_MAX)
		at = find_locked(r, name, namelen);
	/* Known or not, one hash: the unknown name is checked against the decoy. */
	if (at >= 0) {
		memcpy(probe.salt, r->tenants[at]->salt, sizeof(probe.salt));
		memcpy(probe.hash, r->tenants[at]->hash, sizeof(probe.hash));
	} else {
		memcpy(probe.salt, r->decoy.salt, sizeof(probe.salt));
		memcpy(probe.hash, r->decoy.hash, sizeof(probe.hash));
	}
	/* An overlong password is hashed as far as the longest valid one, then refused. */
	ok = tenant_verify(&probe, password, pwlen <= TENANT_PASSWORD_MAX ? pwlen :
	    TENANT_PASSWORD_MAX) && pwlen <= TENANT_PASSWORD_MAX;
	atomic_fetch_add_explicit(&r->verifications, 1, memory_order_relaxed);
	if (ok && at >= 0) {
		t = r->tenants[at];
		tenant_get(t);
		if (cred_gen != NULL)
			*cred_gen = atomic_load(&t->cred_gen);
	}
	pthread_rwlock_unlock(&r->lock);
	return t;
}

struct tenant *
tenant_default(struct tenant_registry *r)
{
	struct tenant *t = NULL;

	pthread_rwlock_rdlock(&r->lock);
	if (!r->auth && r->n == 1) {
		t = r->tenants[0];
		tenant_get(t);
	}
	pthread_rwlock_unlock(&r->lock);
	return t;
}

struct tenant *
tenant_find(struct tenant_registry *r, const char *name, size_t len)
{
	struct tenant *t = NULL;
	ssize_t at;

	pthread_rwlock_rdlock(&r->lock);
	at = find_locked(r, name, len);
	if (at >= 0) {
		t = r->tenants[at];
		tenant_get(t);
	}
	pthread_rwlock_unlock(&r->lock);
	return t;
}

void
tenant_registry_foreach(struct tenant_registry *r, void (*fn)(void *arg, struct tenant *t),
    void *arg)
{
	size_t i;

	pthread_rwlock_rdlock(&r->lock);
	for (i = 0; i < r->n; i++)
		fn(arg, r->tenants[i]);
	pthread_rwlock_unlock(&r->lock);
}

enum tenant_admission
tenant_admit(struct tenant *t, int64_t now, bool account)
{
	struct tenant_counters *k = &t->counters;
	uint32_t max = atomic_load_explicit(&t->max_conns, memory_order_relaxed);
	uint32_t rate = atomic_load_explicit(&t->conn_rate, memory_order_relaxed);
	bool ok = true;

	/* Taken first, then checked: two workers logging in at once cannot both take
	 * the last place. */
	if (atomic_fetch_add_explicit(&k->curr_connections, 1, memory_order_relaxed) >= max &&
	    max > 0) {
		atomic_fetch_sub_explicit(&k->curr_connections, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&k->rejected, 1, memory_order_relaxed);
		return TENANT_REFUSE_MAX_CONNS;
	}
	if (rate > 0 || account) {
		pthread_mutex_lock(&t->conn_lock);
		ok = token_bucket_take(&t->conn_bucket, rate, rate, now);
		if (ok && account)
			rate_window_add(&t->new_conns, now, 1);
		pthread_mutex_unlock(&t->conn_lock);
	}
	if (!ok) {
		atomic_fetch_sub_explicit(&k->curr_connections, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&k->rejected, 1, memory_order_relaxed);
		return TENANT_REFUSE_CONN_RATE;
	}
	atomic_fetch_add_explicit(&k->total_connections, 1, memory_order_relaxed);
	return TENANT_ADMIT;
}

void
tenant_conn_closed(struct tenant *t, uint64_t reqs, bool account)
{
	int b = connreqs_bucket(reqs);

	atomic_fetch_sub_explicit(&t->counters.curr_connections, 1, memory_order_relaxed);
	if (account && b >= 0)
		atomic_fetch_add_explicit(&t->counters.conn_reqs[b], 1, memory_order_relaxed);
}

uint64_t
tenant_new_conns_per_sec(struct tenant *t, int64_t now)
{
	uint64_t v;

	pthread_mutex_lock(&t->conn_lock);
	v = rate_window_per_sec(&t->new_conns, now);
	pthread_mutex_unlock(&t->conn_lock);
	return v;
}
