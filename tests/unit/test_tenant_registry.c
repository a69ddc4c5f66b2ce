/* Unit tests of cache/tenant: authentication against the registry, reload keeping
 * stores, removal, and the default tenant of a server without authentication. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache/tenant.h"

static void
file_with(struct tenant_file *tf, const char *const *names, size_t n)
{
	char err[TENANTS_ERR_LEN];

	memset(tf, 0, sizeof(*tf));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tenants_add(tf, names[i], "secret-password-0123456789",
		    1 << 20, TENANT_CAPS_DEFAULT, err, sizeof(err)), 0);
}

static void
authenticate_checks_name_and_password(void **state)
{
	struct tenant_registry r;
	struct tenant_file tf;
	const char *names[] = { "acme", "beta" };
	struct tenant *t;
	(void)state;

	memset(&r, 0, sizeof(r));
	pthread_rwlock_init(&r.lock, NULL);
	file_with(&tf, names, 2);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000000, NULL), 0);
	t = tenant_authenticate(&r, "acme", 4, "secret-password-0123456789", 26, NULL);
	assert_non_null(t);
	assert_string_equal(t->name, "acme");
	tenant_put(t);
	assert_null(tenant_authenticate(&r, "acme", 4, "secret-password-012345678", 25, NULL));
	assert_null(tenant_authenticate(&r, "acm", 3, "secret-password-0123456789", 26, NULL));
	assert_null(tenant_authenticate(&r, "nobody", 6, "secret-password-0123456789", 26, NULL));
	assert_null(tenant_default(&r)); /* authentication on: no default tenant */
	tenants_release(&tf);
	tenant_registry_release(&r);
}

static void
reload_keeps_stores_and_marks_removed_tenants(void **state)
{
	struct tenant_registry r;
	struct tenant_file tf;
	const char *both[] = { "acme", "beta" };
	struct store_set_opts o = { .mode = STORE_SET };
	struct tenant *acme, *beta;
	size_t removed = 99;
	(void)state;

	memset(&r, 0, sizeof(r));
	pthread_rwlock_init(&r.lock, NULL);
	file_with(&tf, both, 2);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000000, &removed), 0);
	tenants_release(&tf);
	acme = tenant_find(&r, "acme", 4);
	beta = tenant_find(&r, "beta", 4); /* a connection's reference */
	assert_int_equal(store_set(acme->store, "k", 1, "v", 1, 1000000, &o, NULL), STORE_OK);

	/* The same file without beta (acme's credentials unchanged). */
	file_with(&tf, both, 2);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000000, &removed), 0);
	assert_int_equal(removed, 2); /* file_with salts afresh: two new passwords */
	{
		char err[TENANTS_ERR_LEN];
		assert_int_equal(tenants_remove(&tf, "beta", err, sizeof(err)), 0);
	}
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000001, &removed), 0);
	tenants_release(&tf);
	assert_int_equal(removed, 1);
	assert_true(atomic_load(&beta->removed));
	assert_false(atomic_load(&acme->removed));
	assert_null(tenant_find(&r, "beta", 4));
	{
		struct tenant *again = tenant_find(&r, "acme", 4);
		assert_ptr_equal(again, acme); /* same tenant, same store */
		assert_int_equal(store_get(again->store, "k", 1, 1000002, NULL, NULL, NULL),
		    STORE_OK);
		tenant_put(again);
	}
	tenant_put(beta); /* the last reference frees it */
	tenant_put(acme);
	tenant_registry_release(&r);
}

/* A password change ends the sessions of the old password: the tenant's credential
 * generation moves on, and the reload reports it like a removal. Unchanged
 * credentials keep theirs. */
static void
reload_with_a_new_password_moves_the_credential_generation(void **state)
{
	struct tenant_registry r;
	struct tenant_file tf;
	const char *names[] = { "acme", "beta" };
	char err[TENANTS_ERR_LEN];
	uint64_t gen_acme = 0, gen_beta = 0, gen;
	size_t revoked = 99;
	struct tenant *t;
	(void)state;

	memset(&r, 0, sizeof(r));
	pthread_rwlock_init(&r.lock, NULL);
	file_with(&tf, names, 2);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000000, &revoked), 0);
	assert_int_equal(revoked, 0);
	t = tenant_authenticate(&r, "acme", 4, "secret-password-0123456789", 26, &gen_acme);
	assert_non_null(t);
	tenant_put(t);
	t = tenant_authenticate(&r, "beta", 4, "secret-password-0123456789", 26, &gen_beta);
	assert_non_null(t);
	assert_int_equal(gen_beta, atomic_load(&t->cred_gen));

	assert_int_equal(tenants_set_password(&tf, "acme", "another-password-0123456789", err,
	    sizeof(err)), 0);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000001, &revoked), 0);
	assert_int_equal(revoked, 1);
	assert_int_equal(atomic_load(&t->cred_gen), gen_beta); /* beta's sessions stay */
	tenant_put(t);
	t = tenant_find(&r, "acme", 4);
	assert_true(atomic_load(&t->cred_gen) != gen_acme); /* acme's old ones end */
	tenant_put(t);
	assert_null(tenant_authenticate(&r, "acme", 4, "secret-password-0123456789", 26, NULL));
	t = tenant_authenticate(&r, "acme", 4, "another-password-0123456789", 27, &gen);
	assert_non_null(t);
	assert_int_equal(gen, atomic_load(&t->cred_gen));
	tenant_put(t);
	/* The same file again: nothing changes, nothing is revoked. */
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000002, &revoked), 0);
	assert_int_equal(revoked, 0);
	tenants_release(&tf);
	tenant_registry_release(&r);
}

/* An unknown name costs the same as a known one: one password hash each (against
 * a decoy), so the time a login takes does not tell whether the name exists. */
static void
unknown_names_are_hashed_like_known_ones(void **state)
{
	struct tenant_registry r;
	struct tenant_file tf;
	const char *names[] = { "acme" };
	char longname[TENANT_NAME_MAX + 2];
	uint64_t before;
	(void)state;

	memset(&r, 0, sizeof(r));
	pthread_rwlock_init(&r.lock, NULL);
	file_with(&tf, names, 1);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000000, NULL), 0);
	tenants_release(&tf);

	before = atomic_load(&r.verifications);
	assert_null(tenant_authenticate(&r, "acme", 4, "wrong", 5, NULL));
	assert_int_equal(atomic_load(&r.verifications), before + 1);
	assert_null(tenant_authenticate(&r, "nobody", 6, "wrong", 5, NULL));
	assert_int_equal(atomic_load(&r.verifications), before + 2);
	memset(longname, 'n', sizeof(longname));
	assert_null(tenant_authenticate(&r, longname, sizeof(longname), "wrong", 5, NULL));
	assert_int_equal(atomic_load(&r.verifications), before + 3);
	/* The decoy matches no password, not even an empty one. */
	assert_null(tenant_authenticate(&r, "nobody", 6, "", 0, NULL));
	assert_true(r.decoy_ready);
	tenant_registry_release(&r);
}

static void
default_registry_serves_without_authentication(void **state)
{
	struct tenant_registry r;
	struct tenant *t;
	(void)state;

	assert_int_equal(tenant_registry_init_default(&r, 64 << 20), 0);
	t = tenant_default(&r);
	assert_non_null(t);
	assert_int_equal(atomic_load(&t->caps), TENANT_CAPS_DEFAULT);
	assert_null(tenant_authenticate(&r, "", 0, "", 0, NULL));
	tenant_put(t);
	tenant_registry_release(&r);
}

/* A tenant's plan limits at login, on a fake clock: max connections counts what is
 * open, the rate refills with time, a refusal is counted and leaves no connection. */
static void
admission_applies_the_plan_limits(void **state)
{
	struct tenant_registry r;
	struct tenant_file tf;
	const char *names[] = { "acme", "beta" };
	char err[TENANTS_ERR_LEN];
	struct tenant *acme, *beta;
	const int64_t t0 = 1000000;
	(void)state;

	memset(&r, 0, sizeof(r));
	pthread_rwlock_init(&r.lock, NULL);
	file_with(&tf, names, 2);
	assert_int_equal(tenants_set_connlimit(&tf, "acme", 2, 3, err, sizeof(err)), 0);
	assert_int_equal(tenant_registry_apply(&r, &tf, t0, NULL), 0);
	acme = tenant_find(&r, "acme", 4);
	beta = tenant_find(&r, "beta", 4);
	assert_int_equal(tenant_admit(acme, t0, true), TENANT_ADMIT);
	assert_int_equal(tenant_admit(acme, t0, true), TENANT_ADMIT);
	assert_int_equal(tenant_admit(acme, t0, true), TENANT_REFUSE_MAX_CONNS);
	for (int i = 0; i < 10; i++)
		assert_int_equal(tenant_admit(beta, t0, true), TENANT_ADMIT); /* no limits */
	tenant_conn_closed(acme, 1, true);
	/* A place is free, but the 3 tokens of the burst are gone. */
	assert_int_equal(tenant_admit(acme, t0, true), TENANT_ADMIT);
	tenant_conn_closed(acme, 2, true);
	assert_int_equal(tenant_admit(acme, t0 + 100, true), TENANT_REFUSE_CONN_RATE);
	assert_int_equal(tenant_admit(acme, t0 + 334, true), TENANT_ADMIT);
	assert_int_equal(atomic_load(&acme->counters.curr_connections), 2);
	assert_int_equal(atomic_load(&acme->counters.total_connections), 4);
	assert_int_equal(atomic_load(&acme->counters.rejected), 2);
	assert_int_equal(atomic_load(&acme->counters.conn_reqs[0]), 1);
	assert_int_equal(atomic_load(&acme->counters.conn_reqs[1]), 1);
	assert_int_equal(tenant_new_conns_per_sec(acme, t0 + 334), 0); /* 4 in 10 s */
	assert_int_equal(tenant_new_conns_per_sec(beta, t0), 1);
	/* A reload lifts the limits in place. */
	assert_int_equal(tenants_set_connlimit(&tf, "acme", 0, 0, err, sizeof(err)), 0);
	assert_int_equal(tenant_registry_apply(&r, &tf, t0, NULL), 0);
	assert_int_equal(tenant_admit(acme, t0 + 334, true), TENANT_ADMIT);
	tenant_put(acme);
	tenant_put(beta);
	tenants_release(&tf);
	tenant_registry_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(authenticate_checks_name_and_password),
		cmocka_unit_test(reload_keeps_stores_and_marks_removed_tenants),
		cmocka_unit_test(reload_with_a_new_password_moves_the_credential_generation),
		cmocka_unit_test(unknown_names_are_hashed_like_known_ones),
		cmocka_unit_test(default_registry_serves_without_authentication),
		cmocka_unit_test(admission_applies_the_plan_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
